"""The CLV notebook's headline numbers for a month and the month before, each month's
fits with a verdict: figures resting on a fit not to be trusted are marked
"unreliable" with the reasons."""

from __future__ import annotations

import warnings

import ibis
import numpy as np
import pandas as pd
from lifetimes.utils import ConvergenceError

from kpilib.clv import _definitions  # noqa: F401  (the records headline_metrics computes)
from kpilib.clv._checks import holdout_scorecard
from kpilib.clv._models import _MODEL_TITLES, ModelName, _check_model, fit_clv
from kpilib.clv._rfm import _cutoff, _InclusiveEnd, calibration_holdout_summary, rfm_summary
from kpilib.clv._study import _month_end, _periods_for
from kpilib.clv._uncertainty import bootstrap
from kpilib.clv._value import (
    RELIABILITY_THRESHOLDS,
    _fit_reasons,
    _unreliable_note,
    customer_value,
    expected_purchases,
)
from kpilib.data import DataError
from kpilib.deprecation import renamed_arguments
from kpilib.metrics import computes
from kpilib.periods import previous_month, validate_month

#: The metrics the verdict applies to (the holdout metrics are the diagnostic itself).
_MODEL_METRICS = ("clv_active_customers", "clv_expected_purchases", "clv_total", "clv_median")


def _summary_cutoff(month: str, period: str) -> pd.Timestamp:
    """The cut-off of a month's summary: the first instant after the period holding the
    month's last instant — the month's end for days and hours; for weeks the end of the
    week holding it, as kpilib has always counted (lifetimes floors an end to its period)."""
    return _cutoff(_InclusiveEnd(_month_end(month)), period, floored=True)


def _month_figures(orders: ibis.Table | pd.DataFrame, month: str, *, model: str, period: str,
                   period_multiplier: int, horizon_months: float, annual_discount_rate: float, holdout_months: int,
                   reasons: list[str] | None = None) -> list[dict]:
    """The headline figures of one month; a model that does not converge gives NaN values
    (and a warning) rather than no report. Why the fits are not to be trusted is appended
    to ``reasons`` (see :data:`RELIABILITY_THRESHOLDS`)."""
    reasons = [] if reasons is None else reasons
    _, cal_end, as_of = _periods_for(month, holdout_months, 0)
    nan = np.nan
    names = ["clv_active_customers", "clv_expected_purchases", "clv_total", "clv_median", "clv_holdout_mae",
             "clv_holdout_mae_vs_baseline"]
    figures = {name: {"metric": name, "value": nan} for name in names}
    summary = rfm_summary(orders, monetary_value_col="amount", as_of=_summary_cutoff(month, period), period=period,
                          period_multiplier=period_multiplier)
    try:
        fit = fit_clv(summary, model=model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the notebook shows the independence check
            value = customer_value(fit, horizon=horizon_months, horizon_unit="months",
                                   annual_discount_rate=annual_discount_rate)
    except (ConvergenceError, DataError) as exc:
        warnings.warn(f"{month}: no CLV figures ({exc})", UserWarning, stacklevel=3)
        reasons.append(f"the {_MODEL_TITLES.get(model, model)} fit failed, so there are no figures ({exc})")
    else:
        active = int((value["p_alive"] > 0.5).sum())
        figures["clv_active_customers"].update(value=active, numerator=active, denominator=len(value))
        figures["clv_expected_purchases"]["value"] = float(expected_purchases(fit, horizon=1, horizon_unit="months").sum())
        figures["clv_total"]["value"] = float(value["clv"].sum())
        figures["clv_median"]["value"] = float(value["clv"].median())
        reasons += _fit_reasons(fit)
    try:
        holdout = calibration_holdout_summary(orders, cal_end, as_of=as_of, period=period,
                                              period_multiplier=period_multiplier)
        card = holdout_scorecard(fit_clv(holdout, model=model, spend_model=False), holdout).set_index("predictor")
    except (ConvergenceError, DataError) as exc:
        warnings.warn(f"{month}: no holdout check ({exc})", UserWarning, stacklevel=3)
    else:
        figures["clv_holdout_mae"]["value"] = float(card.loc["model", "mae"])
        ratio = float(card.loc["model", "mae_vs_best_baseline"])
        figures["clv_holdout_mae_vs_baseline"]["value"] = ratio
        if ratio > RELIABILITY_THRESHOLDS["max_mae_ratio"]:
            reasons.append(f"loses to the naive baseline in the holdout (MAE ratio {ratio:.3g})")
    return list(figures.values())


@computes("clv_active_customers", "clv_expected_purchases", "clv_total", "clv_median", "clv_holdout_mae",
          "clv_holdout_mae_vs_baseline")
@renamed_arguments(freq="period", freq_multiplier="period_multiplier")
def headline_metrics(
    orders: ibis.Table | pd.DataFrame,
    month: str,
    *,
    model: ModelName = "bgnbd",
    horizon_months: float = 12,
    annual_discount_rate: float = 0.10,
    holdout_months: int = 6,
    period: str = "D",
    period_multiplier: int = 1,
    bootstrap_replicates: int = 0,
) -> pd.DataFrame:
    """The CLV notebook's headline numbers for ``month`` and the month before.

    For each of the two months, as of its last instant: the model and Gamma–Gamma are
    fitted on all orders so far, and

    * ``clv_active_customers`` — customers with P(alive) > 0.5 (numerator) of the
      customers with an order (denominator);
    * ``clv_expected_purchases`` — expected repeat purchases over the next month;
    * ``clv_total``, ``clv_median`` — total and median predicted CLV over
      ``horizon_months``, discounted at ``annual_discount_rate``; with
      ``bootstrap_replicates`` > 0 the total gets a bootstrap interval;
    * ``clv_holdout_mae`` and ``clv_holdout_mae_vs_baseline`` — the model refitted with
      the last ``holdout_months`` months held out, scored on them (see
      :func:`holdout_scorecard`).

    Each month's fits get a verdict (thresholds in :data:`RELIABILITY_THRESHOLDS`). The
    four model figures (not the holdout metrics, which are the diagnostic) carry a
    ``note`` ``"unreliable: …"`` naming every reason that applies:

    * fewer than 30 repeat buyers (customers with frequency > 0), or fewer than 2 % of
      the customers — too little repeat behaviour to separate purchase rate from dropout;
    * the transaction model's verdict is not "converged", or its maximum is on the
      boundary and a penalizer was needed to keep the parameters finite; Gamma–Gamma's
      verdict is not "converged";
    * the model clearly loses to the best naive baseline in the holdout (MAE ratio
      > 1.5; the slack because a per-customer MAE favours the all-zero baseline — the
      textbook CDNOW fit scores 1.06 with a 6-month holdout);
    * with ``bootstrap_replicates`` > 0, the 95 % interval of the total CLV spans more
      than a factor 10 (high / low), or its low end is not positive.

    A reliable month's note is None.

    Parameters
    ----------
    orders : ibis.Table or pandas.DataFrame
        The orders (``customer_id``, ``ts``, ``amount``).
    month : str
        ``YYYY-MM``; its figures use the orders before the first instant after it.
    model, horizon_months, annual_discount_rate, holdout_months, bootstrap_replicates
        As above.
    period, period_multiplier
        The model's time unit, as in :func:`~kpilib.clv.rfm_summary` (``freq`` and
        ``freq_multiplier`` are accepted for one release).

    Returns
    -------
    pandas.DataFrame
        ``metric``, ``month``, ``value``, ``numerator``, ``denominator``, ``ci_low``,
        ``ci_high`` (NaN where not applicable) and ``note`` (None, or
        ``"unreliable: …"``), two rows per metric.

    Examples
    --------
    >>> from kpilib.clv import headline_metrics, load_cdnow
    >>> kpis = headline_metrics(load_cdnow(), "1998-06", period_multiplier=7)
    >>> kpis.groupby("month").size().to_dict()
    {'1998-05': 6, '1998-06': 6}
    >>> bool(kpis["note"].isna().all())  # a healthy fit: no "unreliable" note
    True
    """
    validate_month(month)
    _check_model(model)
    rows = []
    for label in (month, previous_month(month)):
        reasons: list[str] = []
        figures = _month_figures(orders, label, model=model, period=period, period_multiplier=period_multiplier,
                                 horizon_months=horizon_months, annual_discount_rate=annual_discount_rate,
                                 holdout_months=holdout_months, reasons=reasons)
        if bootstrap_replicates:
            summary = rfm_summary(orders, monetary_value_col="amount", as_of=_summary_cutoff(label, period),
                                  period=period, period_multiplier=period_multiplier)
            boot = bootstrap(fit_clv(summary, model=model), replicates=bootstrap_replicates,
                             horizon=horizon_months, horizon_unit="months",
                             annual_discount_rate=annual_discount_rate)
            total = boot.intervals.set_index("parameter").loc["clv_total"]
            for row in figures:
                if row["metric"] == "clv_total":
                    row.update(ci_low=float(total["ci_low"]), ci_high=float(total["ci_high"]))
            low, high = float(total["ci_low"]), float(total["ci_high"])
            limit = RELIABILITY_THRESHOLDS["max_interval_ratio"]
            if np.isfinite(low) and np.isfinite(high) and not (low > 0 and high / low <= limit):
                span = f"spans a factor {high / low:.3g}" if low > 0 else f"runs from {low:.3g} to {high:.3g}"
                reasons.append(f"the 95% interval of total CLV {span} (> {limit:g})")
        note = _unreliable_note(reasons)
        rows += [{"month": label, **row, "note": note if row["metric"] in _MODEL_METRICS else None}
                 for row in figures]
    out = pd.DataFrame(rows)
    for column in ("numerator", "denominator", "ci_low", "ci_high"):
        if column not in out.columns:
            out[column] = np.nan
    columns = ["metric", "month", "value", "numerator", "denominator", "ci_low", "ci_high", "note"]
    return out[columns].astype(
        {"value": float, "numerator": float, "denominator": float, "ci_low": float, "ci_high": float,
         "note": object}
    )
