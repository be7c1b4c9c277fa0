"""What customers are worth: P(alive) and expected purchases under a fitted model, the
Gamma–Gamma expected order value and the discounted CLV per customer, then value tiers
and CLV:CAC by acquisition channel."""

from __future__ import annotations

import math
import warnings
from typing import Any

import ibis
import numpy as np
import pandas as pd
from scipy import stats as _sps

from kpilib.clv import _definitions  # noqa: F401  (the records customer_value computes)
from kpilib.clv._models import (
    _MODEL_TITLES,
    CLVFit,
    ModelName,
    _model_and_summary,
    _spend_rows,
    fit_clv,
)
from kpilib.clv._rfm import _InclusiveEnd, _rfm, rfm_summary
from kpilib.clv._units import (
    DAYS_PER_MONTH,
    HORIZON_UNITS,
    TimeUnit,
    _check_same_unit,
    _horizon_in_units,
)
from kpilib.data import DataError, as_table
from kpilib.deprecation import renamed_arguments
from kpilib.marketing import acquisition_costs
from kpilib.metrics import computes
from kpilib.periods import TimeLike, to_utc
from kpilib.stats import correlation_interval

#: Frequency–monetary correlation (among repeat buyers) above which :func:`customer_value`
#: warns that Gamma–Gamma's independence assumption looks violated.
INDEPENDENCE_WARNING = 0.3

#: Thresholds of the CLV verdict (see :func:`kpilib.clv.headline_metrics`): a CLV figure is
#: marked "unreliable" when the fit has fewer repeat buyers (customers with frequency > 0)
#: than ``min_repeat_buyers`` or than ``min_repeat_share`` of the customers, when the model
#: clearly loses to the best naive baseline in the holdout (MAE ratio above
#: ``max_mae_ratio``), or when a bootstrap interval's high/low ratio exceeds
#: ``max_interval_ratio``. The MAE ratio allows some slack: a per-customer MAE favours the
#: all-zero baseline (most customers buy nothing in a holdout), so even the textbook CDNOW
#: fit scores 1.02–1.06 with a 6-month holdout (1.17–1.33 with 3 months). The first two
#: (and the fit's own verdicts) are the fit's: :func:`customer_value` carries them in
#: ``attrs["note"]``, so every figure derived from its CLV (CLV:CAC) is marked as well.
RELIABILITY_THRESHOLDS: dict[str, float] = {
    "min_repeat_buyers": 30,
    "min_repeat_share": 0.02,
    "max_mae_ratio": 1.5,
    "max_interval_ratio": 10.0,
}


def _fit_reasons(fit: CLVFit) -> list[str]:
    """Why a fit is not to be trusted: too few repeat buyers, a boundary/penalised fit."""
    reasons = []
    frequency = fit.summary["frequency"]
    repeat, n = int((frequency > 0).sum()), len(frequency)
    need, share = RELIABILITY_THRESHOLDS["min_repeat_buyers"], RELIABILITY_THRESHOLDS["min_repeat_share"]
    if repeat < need:
        reasons.append(f"{repeat} repeat buyers (< {need:g} needed)")
    elif n and repeat / n < share:
        reasons.append(f"{repeat} repeat buyers, {repeat / n:.1%} of customers (< {share:.0%} needed)")
    transactions = fit.transactions
    title = _MODEL_TITLES.get(fit.model, fit.model)
    verdict = getattr(transactions, "verdict_", "converged")
    if verdict != "converged":
        reasons.append(f"{title} {verdict} ({getattr(transactions, 'note_', '')})")
    elif getattr(transactions, "penalizer_coef", 0) > 0 and getattr(transactions, "note_", ""):
        reasons.append(f"{title} needed a penalizer to stay finite ({transactions.note_})")
    spend = fit.spend
    if spend is not None and getattr(spend, "verdict_", "converged") != "converged":
        reasons.append(f"Gamma–Gamma {spend.verdict_} ({spend.note_})")
    return reasons


def _unreliable_note(reasons: list[str]) -> str | None:
    """The ``note`` of a figure resting on a fit with these reasons: None, or ``"unreliable: …"``."""
    return f"unreliable: {'; '.join(dict.fromkeys(reasons))}" if reasons else None


# ---------------------------------------------------------------------------------------
# Predictions and value
# ---------------------------------------------------------------------------------------


def probability_alive(fit_or_model: Any, summary: pd.DataFrame | None = None) -> pd.Series:
    """P(alive) of each customer of ``summary`` under a fitted transaction model.

    The formula is in the ``p_alive`` glossary entry; the three models differ (see their
    fitters). The summary must be in the model's time unit.

    Examples
    --------
    >>> import pandas as pd
    >>> from kpilib.clv import TimeUnit, model_from_params, probability_alive
    >>> bg = model_from_params("bgnbd", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    ...                        time_unit=TimeUnit("D", 7))
    >>> s = pd.DataFrame({"frequency": [2.0], "recency": [30.43], "T": [38.86]})
    >>> s.attrs.update(period="D", period_multiplier=7)
    >>> probability_alive(bg, s).round(3).tolist()
    [0.727]
    """
    model, rfm = _model_and_summary(fit_or_model, summary)
    _check_same_unit(model, rfm)
    values = model.conditional_probability_alive(rfm["frequency"].to_numpy(), rfm["recency"].to_numpy(),
                                                 rfm["T"].to_numpy())
    return pd.Series(np.asarray(values, dtype=float), index=rfm.index, name="p_alive")


def expected_purchases(
    fit_or_model: Any,
    summary: pd.DataFrame | None = None,
    *,
    horizon: float,
    horizon_unit: str,
) -> pd.Series:
    """Expected repeat purchases of each customer over the next ``horizon``.

    The horizon is converted to the model's time unit (months are 365.25/12 days); a
    summary in another unit than the model's is refused.

    Parameters
    ----------
    fit_or_model : CLVFit or fitted transaction model
    summary : pandas.DataFrame, optional
        Customers to predict for (default: the CLVFit's).
    horizon : float
        Length of the future period.
    horizon_unit : {"days", "weeks", "months", "years"}
        Its unit (required: there is no default unit).

    Raises
    ------
    UnitMismatchError
        Unknown unit, a model without a recorded unit, or a summary in another unit.

    Examples
    --------
    >>> import pandas as pd
    >>> from kpilib.clv import TimeUnit, expected_purchases, model_from_params
    >>> bg = model_from_params("bgnbd", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    ...                        time_unit=TimeUnit("D", 7))
    >>> s = pd.DataFrame({"frequency": [2.0], "recency": [30.43], "T": [38.86]})
    >>> weeks = expected_purchases(bg, s, horizon=39, horizon_unit="weeks")
    >>> days = expected_purchases(bg, s, horizon=273, horizon_unit="days")
    >>> round(float(weeks.iloc[0]), 3), bool(weeks.iloc[0] == days.iloc[0])
    (1.226, True)
    """
    model, rfm = _model_and_summary(fit_or_model, summary)
    unit = _check_same_unit(model, rfm)
    t = _horizon_in_units(horizon, horizon_unit, unit)
    values = model.conditional_expected_number_of_purchases_up_to_time(
        t, rfm["frequency"].to_numpy(), rfm["recency"].to_numpy(), rfm["T"].to_numpy()
    )
    return pd.Series(np.asarray(values, dtype=float), index=rfm.index, name="expected_purchases")


def frequency_monetary_correlation(summary: pd.DataFrame) -> pd.DataFrame:
    """Check Gamma–Gamma's assumption: order value independent of purchase frequency.

    Pearson correlation between ``frequency`` and ``monetary_value`` among repeat
    buyers, with its 95% interval (Fisher z) and p-value. Near zero is what the model
    needs; :func:`customer_value` warns above :data:`INDEPENDENCE_WARNING`.

    Returns
    -------
    pandas.DataFrame
        One row: ``customers``, ``correlation``, ``ci_low``, ``ci_high``, ``p_value``.

    Examples
    --------
    >>> from kpilib.clv import frequency_monetary_correlation, load_cdnow, rfm_summary
    >>> cdnow = load_cdnow()
    >>> s = rfm_summary(cdnow[cdnow.ts <= "1997-09-30"], monetary_value_col="amount",
    ...                 as_of="1997-10-01", period_multiplier=7)
    >>> frequency_monetary_correlation(s)[["customers", "correlation"]].round(2)
       customers  correlation
    0        946         0.11
    """
    rows = _spend_rows(summary)
    n = len(rows)
    if n < 3 or rows["frequency"].nunique() < 2 or rows["monetary_value"].nunique() < 2:
        r, p, low, high = (np.nan,) * 4
    else:
        r, p = _sps.pearsonr(rows["frequency"], rows["monetary_value"])
        low, high = correlation_interval(float(r), n) if n > 3 else (-1.0, 1.0)
    return pd.DataFrame({"customers": [n], "correlation": [float(r)], "ci_low": [low], "ci_high": [high],
                         "p_value": [float(p)]})


def _discounted_purchases(model: Any, rfm: pd.DataFrame, horizon_days: float, unit: TimeUnit,
                          annual_discount_rate: float) -> np.ndarray:
    """Σ_k (E[X(t_k)] − E[X(t_{k−1})]) (1 + d)^(−t_k/year), monthly steps t_k."""
    steps = max(1, math.ceil(horizon_days / DAYS_PER_MONTH - 1e-9))
    ends = np.minimum(np.arange(1, steps + 1) * DAYS_PER_MONTH, horizon_days)
    f, r, T = (rfm[c].to_numpy() for c in ("frequency", "recency", "T"))
    total = np.zeros(len(rfm))
    previous = np.zeros(len(rfm))
    for end in ends:
        cumulative = np.asarray(
            model.conditional_expected_number_of_purchases_up_to_time(end / unit.days, f, r, T), dtype=float
        )
        total += (cumulative - previous) / (1 + annual_discount_rate) ** (end / 365.25)
        previous = cumulative
    return total


@computes("p_alive", "expected_order_value", "predicted_clv")
@renamed_arguments(observation_period_end=("as_of", _InclusiveEnd), freq="period",
                   freq_multiplier="period_multiplier")
def customer_value(
    data: CLVFit | ibis.Table | pd.DataFrame,
    *,
    horizon: float = 12,
    horizon_unit: str = "months",
    annual_discount_rate: float = 0.10,
    model: ModelName = "bgnbd",
    as_of: TimeLike = None,
    period: str = "D",
    period_multiplier: int = 1,
) -> pd.DataFrame:
    r"""Per customer: P(alive), expected purchases, expected order value and discounted CLV.

    The CLV (formula below, registered as ``predicted_clv``) adds the transaction model's
    expected repeat purchases :math:`E(X_i(t))` of each monthly step (365.25/12 days; the
    last step may be shorter) given the customer's history, times the Gamma–Gamma
    expected order value :math:`E(M_i)`, discounted at the **annual** rate :math:`d` (a
    monthly step by :math:`(1+d)^{1/12}`).

    Parameters
    ----------
    data : CLVFit, ibis.Table or pandas.DataFrame
        A :class:`CLVFit` (from :func:`fit_clv`), or an orders table (``customer_id``,
        ``ts``, ``amount``): then the summary is built with ``as_of``, ``period`` and
        ``period_multiplier`` (as :func:`rfm_summary`; the old names
        ``observation_period_end``, ``freq`` and ``freq_multiplier`` are accepted for one
        release) and ``model`` plus Gamma–Gamma are fitted.
    horizon : float, default 12
        How far ahead, in ``horizon_unit``.
    horizon_unit : {"days", "weeks", "months", "years"}, default "months"
        Converted to the model's own time unit (which the fit records).
    annual_discount_rate : float, default 0.10
        Yearly rate; 0 for undiscounted value.
    model, as_of, period, period_multiplier
        Only used when ``data`` is an orders table.

    Returns
    -------
    pandas.DataFrame
        One row per customer with an order: the customer id column (named as the
        summary's index, ``customer_id`` by default), ``frequency``, ``recency``, ``T``,
        ``monetary_value``, ``p_alive``, ``expected_purchases`` (over the horizon,
        undiscounted), ``expected_order_value`` and ``clv``. ``attrs`` hold the horizon,
        its unit, the model's unit, the discount rate, the model names, the
        frequency–monetary correlation (``frequency_monetary_correlation``) and the fit's
        verdict, ``note``: None, or ``"unreliable: …"`` with the reasons — the rule of
        the CLV headline (:data:`RELIABILITY_THRESHOLDS`: too few repeat buyers, a
        transaction model on the boundary or needing a penalizer, a Gamma–Gamma fit that
        did not converge). Figures derived from this CLV carry it on
        (:func:`kpilib.marketing.acquisition_costs`, :func:`value_by_channel`,
        :func:`kpilib.marketing.headline_metrics`).

    Warns
    -----
    UserWarning
        When frequency and order value correlate above :data:`INDEPENDENCE_WARNING` among
        repeat buyers (Gamma–Gamma's independence assumption looks violated).

    Raises
    ------
    UnitMismatchError
        Unknown horizon unit or a model whose unit is unknown.
    DataError
        No monetary values (no spend model) or bad orders.

    Examples
    --------
    >>> from kpilib.clv import customer_value, load_cdnow
    >>> value = customer_value(load_cdnow(), period_multiplier=7, horizon=12, horizon_unit="months")
    >>> list(value.columns)  # doctest: +NORMALIZE_WHITESPACE
    ['customer_id', 'frequency', 'recency', 'T', 'monetary_value', 'p_alive',
     'expected_purchases', 'expected_order_value', 'clv']
    >>> value.attrs["time_unit"], round(float(value["clv"].mean()), 1)
    ('weeks', 29.2)
    >>> value.attrs["note"] is None  # CDNOW: a healthy fit
    True
    """
    if not isinstance(data, CLVFit):
        summary = rfm_summary(data, monetary_value_col="amount", as_of=as_of, period=period,
                              period_multiplier=period_multiplier)
        data = fit_clv(summary, model=model)
    if data.spend is None:
        raise DataError(
            "customer value needs order values, and this fit has no spend model",
            column="monetary_value",
            fix="Fit on a summary with monetary values: rfm_summary(..., monetary_value_col='amount')",
        )
    if annual_discount_rate <= -1:
        raise ValueError(f"annual_discount_rate must be above -1, got {annual_discount_rate!r}")
    model_obj, rfm = data.transactions, _rfm(data.summary)
    unit = _check_same_unit(model_obj, rfm)
    horizon_units = _horizon_in_units(horizon, horizon_unit, unit)
    correlation = frequency_monetary_correlation(rfm)
    r = float(correlation["correlation"].iloc[0])
    if np.isfinite(r) and abs(r) > INDEPENDENCE_WARNING:
        warnings.warn(
            f"order value and purchase frequency correlate (r = {r:.2f} over {int(correlation['customers'].iloc[0])} "
            "repeat buyers): Gamma–Gamma assumes they are independent, so expected order values "
            "and CLV are biased",
            UserWarning,
            stacklevel=2,
        )
    p = float(data.spend.params_["p"])
    q = float(data.spend.params_["q"])
    if q <= 1:
        raise DataError(
            f"the Gamma–Gamma fit has q = {q:.3g} ≤ 1, so the mean order value is infinite",
            column="monetary_value",
            fix="There are too few repeat buyers, or extreme order values; check the orders",
        )
    id_name = rfm.index.name or "customer_id"
    out = rfm.reset_index().rename(columns={rfm.index.name or "index": id_name})
    out["p_alive"] = probability_alive(model_obj, rfm).to_numpy()
    out["expected_purchases"] = expected_purchases(model_obj, rfm, horizon=horizon,
                                                   horizon_unit=horizon_unit).to_numpy()
    monetary = rfm["monetary_value"].to_numpy()
    frequency = rfm["frequency"].to_numpy()
    out["expected_order_value"] = np.asarray(
        data.spend.conditional_expected_average_profit(frequency, np.where(frequency > 0, monetary, 0.0)),
        dtype=float,
    )
    out["clv"] = out["expected_order_value"].to_numpy() * _discounted_purchases(
        model_obj, rfm, horizon * HORIZON_UNITS[horizon_unit], unit, annual_discount_rate
    )
    out.attrs = {
        "horizon": horizon,
        "horizon_unit": horizon_unit,
        "horizon_in_model_units": horizon_units,
        "time_unit": unit.name,
        "annual_discount_rate": annual_discount_rate,
        "model": data.model,
        "frequency_monetary_correlation": r,
        "gamma_gamma_p": p,
        "note": _unreliable_note(_fit_reasons(data)),
    }
    return out


# ---------------------------------------------------------------------------------------
# Segments
# ---------------------------------------------------------------------------------------


def value_tiers(value: pd.DataFrame, *, cut_points: tuple[float, float] = (0.5, 0.8)) -> pd.DataFrame:
    """High / mid / low value tiers by predicted CLV, with their share of customers and value.

    Customers at or above the ``cut_points[1]`` quantile of predicted CLV are *high*,
    those at or above the ``cut_points[0]`` quantile *mid*, the rest *low* (default: the
    top 20 %, the next 30 %, the bottom 50 %).

    Parameters
    ----------
    value : pandas.DataFrame
        The result of :func:`customer_value`.
    cut_points : (float, float)
        Quantiles separating low|mid and mid|high.

    Returns
    -------
    pandas.DataFrame
        One row per tier (high, mid, low): ``tier``, ``customers``, ``customer_share``,
        ``clv_total``, ``value_share``, ``clv_mean``, ``clv_min`` (the tier's lowest CLV:
        its cut point), ``p_alive_mean``.

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({"customer_id": list("abcdefghij"), "p_alive": [1.0] * 10,
    ...                   "clv": [1, 1, 1, 1, 1, 2, 2, 2, 10, 20]})
    >>> value_tiers(v)[["tier", "customers", "value_share"]]
       tier  customers  value_share
    0  high          2     0.731707
    1   mid          3     0.146341
    2   low          5     0.121951
    """
    low, high = cut_points
    if not 0 < low < high < 1:
        raise ValueError(f"cut_points must be two quantiles with 0 < low < high < 1, got {cut_points!r}")
    clv = value["clv"].to_numpy(dtype=float)
    q_low, q_high = np.quantile(clv, [low, high])
    tier = np.where(clv >= q_high, "high", np.where(clv >= q_low, "mid", "low"))
    frame = pd.DataFrame({"tier": tier, "clv": clv, "p_alive": value["p_alive"].to_numpy(dtype=float)})
    out = (frame.groupby("tier").agg(customers=("clv", "size"), clv_total=("clv", "sum"),
                                     clv_mean=("clv", "mean"), clv_min=("clv", "min"),
                                     p_alive_mean=("p_alive", "mean"))
           .reindex(["high", "mid", "low"]).dropna(how="all").reset_index())
    out.insert(2, "customer_share", out["customers"] / len(frame))
    out.insert(4, "value_share", out["clv_total"] / clv.sum() if clv.sum() > 0 else np.nan)
    out["customers"] = out["customers"].astype(int)
    return out


def value_by_channel(
    value: pd.DataFrame,
    customers: ibis.Table | pd.DataFrame,
    spend: ibis.Table | pd.DataFrame | None = None,
    *,
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """Predicted value and CLV:CAC by acquisition channel.

    CAC and CLV:CAC are the registered ``cac`` and ``clv_to_cac`` metrics, computed by
    :func:`kpilib.marketing.acquisition_costs` (their formulas are in its docstring and the
    glossary). New customers are the ``customers`` rows (sign-ups) of the channel with ``signup_at``
    in ``[start, end)``; spend is summed over the same dates. Predicted CLV per customer
    counts sign-ups without an order as 0 (the transaction models only cover buyers).

    Parameters
    ----------
    value : pandas.DataFrame
        :func:`customer_value` output (id column first).
    customers : ibis.Table or pandas.DataFrame
        The customers table (``customer_id``, ``signup_at``, ``channel``).
    spend : ibis.Table or pandas.DataFrame, optional
        The spend table; without it CAC and CLV:CAC are NaN.
    start, end : date, optional
        Sign-up (and spend) window; default all.

    Returns
    -------
    pandas.DataFrame
        ``channel``, ``new_customers``, ``buyers``, ``clv_total``, ``clv_per_customer``,
        ``spend``, ``cac``, ``clv_to_cac`` (NaN where CAC is undefined: no spend data or no
        new customers). CAC and the ratio come from :func:`kpilib.marketing.acquisition_costs`
        (the ``cac`` and ``clv_to_cac`` metrics), which also gives them per month.
        ``attrs["clv_note"]`` is the verdict of the fit behind ``value``
        (``value.attrs["note"]``: None, or ``"unreliable: …"``).

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({"customer_id": ["a", "b"], "clv": [120.0, 30.0]})
    >>> c = pd.DataFrame({"customer_id": ["a", "b", "c"], "signup_at": ["2026-01-01"] * 3,
    ...                   "channel": ["email", "email", "social"]})
    >>> s = pd.DataFrame({"date": ["2026-01-01", "2026-01-01"], "channel": ["email", "social"],
    ...                   "cost": [50.0, 80.0]})
    >>> value_by_channel(v, c, s)[["channel", "new_customers", "clv_per_customer", "cac", "clv_to_cac"]]
      channel  new_customers  clv_per_customer   cac  clv_to_cac
    0   email              2              75.0  25.0      3.0
    1  social              1               0.0  80.0      0.0
    """
    table = as_table(customers, "customers")
    if start is not None:
        table = table.filter(table.signup_at >= to_utc(start, "start"))
    if end is not None:
        table = table.filter(table.signup_at < to_utc(end, "end"))
    people = table.select("customer_id", "channel").execute()
    id_col = value.columns[0]
    clv = value.set_index(id_col)["clv"]
    clv.index = clv.index.astype(str)
    people["clv"] = people["customer_id"].map(clv)
    out = (people.groupby("channel").agg(new_customers=("customer_id", "size"), buyers=("clv", "count"),
                                         clv_total=("clv", "sum")).reset_index())
    out["clv_per_customer"] = out["clv_total"] / out["new_customers"]
    note = value.attrs.get("note")
    if spend is None:
        out = out.assign(spend=np.nan, cac=np.nan, clv_to_cac=np.nan).sort_values("channel").reset_index(drop=True)
        out.attrs["clv_note"] = note
        return out
    # CAC and CLV:CAC have one definition, in kpilib.marketing
    costs = acquisition_costs(spend, customers, period=None, by="channel", clv=value, start=start, end=end)
    costs = costs.loc[costs["channel"] != "all", ["channel", "spend", "cac", "clv_to_cac"]]
    out = out.merge(costs, on="channel", how="outer")
    out[["new_customers", "buyers"]] = out[["new_customers", "buyers"]].fillna(0).astype(int)
    out[["clv_total", "clv_per_customer"]] = out[["clv_total", "clv_per_customer"]].fillna(0.0)
    out = out.sort_values("channel").reset_index(drop=True)
    out.attrs["clv_note"] = note
    return out
