"""Uncertainty of a fitted model: bootstrap replicates of the parameters and of total
CLV (customers resampled as multinomial weights of the unique histories, each replicate
refitted), and the parameter table beside reference values and intervals. The bootstrap
refits the models, so it lives here rather than in :mod:`kpilib.stats`."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from lifetimes import GammaGammaFitter
from lifetimes.utils import ConvergenceError

from kpilib.clv._models import CLVFit, _fit_spend, _fit_transactions
from kpilib.clv._units import HORIZON_UNITS, TimeUnit
from kpilib.clv._value import _discounted_purchases


@dataclass
class Bootstrap:
    """Bootstrap replicates of the parameters and of aggregate CLV.

    Attributes
    ----------
    replicates : pandas.DataFrame
        One row per replicate that converged: a column per parameter (``gamma_gamma``
        ones prefixed ``gg_``) and ``clv_total`` when a spend model was bootstrapped.
    intervals : pandas.DataFrame
        ``model``, ``parameter``, ``estimate`` (the fit on all customers), ``ci_low``,
        ``ci_high`` (percentile intervals), ``std_error``, ``replicates`` (converged).
    settings : dict
        The arguments, and ``failed``: replicates whose refit did not converge (left out;
        many failures mean the data are too thin for the intervals to mean much);
        ``penalized``: kept replicates whose transaction refit had its maximum on the
        boundary and was refitted with a small penalizer; ``spend_boundary``: kept
        replicates whose Gamma–Gamma refit had no interior maximum (see
        :func:`fit_gamma_gamma`). Verdicts come from the fits themselves (gradient,
        curvature, likelihood along the ridges to the limit models), not from an
        optimiser's flag.
    """

    replicates: pd.DataFrame
    intervals: pd.DataFrame
    confidence: float = 0.95
    settings: dict[str, Any] = field(default_factory=dict)


def bootstrap(
    fit: CLVFit,
    *,
    replicates: int = 100,
    seed: int = 0,
    confidence: float = 0.95,
    horizon: float = 12,
    horizon_unit: str = "months",
    annual_discount_rate: float = 0.10,
) -> Bootstrap:
    """Intervals on the fitted parameters and on total CLV by bootstrapping customers.

    Customers are resampled with replacement by drawing a multinomial re-weighting of the
    compressed rows (unique histories with their counts): replicate weights
    :math:`w^* \\sim \\mathrm{Multinomial}(n, c/n)` for row counts :math:`c`. Each replicate
    refits the transaction model (and Gamma–Gamma) with those weights; the total CLV of
    the observed customers is recomputed with the replicate's parameters, so its interval
    reflects parameter uncertainty. Percentile intervals.

    Parameters
    ----------
    fit : CLVFit
    replicates : int, default 100
    seed : int, default 0
    confidence : float, default 0.95
    horizon, horizon_unit, annual_discount_rate
        For the total CLV (as :func:`customer_value`).

    Returns
    -------
    Bootstrap

    Examples
    --------
    >>> from kpilib.clv import bootstrap, fit_clv, load_cdnow, rfm_summary
    >>> cdnow = load_cdnow()
    >>> s = rfm_summary(cdnow[cdnow.ts <= "1997-09-30"], as_of="1997-10-01",
    ...                 period_multiplier=7)
    >>> boot = bootstrap(fit_clv(s), replicates=5, seed=1)
    >>> r = boot.intervals.set_index("parameter").loc["r"]
    >>> round(float(r.estimate), 3), int(r.replicates), bool(r.ci_low < r.estimate < r.ci_high)
    (0.243, 5, True)
    """
    if replicates < 1:
        raise ValueError(f"replicates must be at least 1, got {replicates!r}")
    rng = np.random.default_rng(seed)
    rfm = fit.summary
    has_spend = fit.spend is not None
    columns = ["frequency", "recency", "T"] + (["monetary_value"] if has_spend else [])
    rows = rfm.groupby(columns, sort=True).size().rename("weight").reset_index()
    counts = rows["weight"].to_numpy()
    n = int(counts.sum())
    kind = fit.model
    unit = fit.time_unit
    records = []
    base_clv = None
    if has_spend:
        base_clv = _total_clv(fit.transactions, fit.spend, rows, unit, horizon, horizon_unit, annual_discount_rate)
    failed = penalized = spend_boundary = 0
    # Each replicate's search starts at the point fit (its maximum is near it); an
    # interior one only: a search started on a ridge to a limit model may stay on it.
    spend_start = fit.spend.params_ if has_spend and getattr(fit.spend, "verdict_", "") == "converged" else None
    for _ in range(replicates):
        w = rng.multinomial(n, counts / n)
        keep = w > 0
        sample = rows.loc[keep].assign(weight=w[keep])
        by_rfm = sample.groupby(["frequency", "recency", "T"], sort=False)["weight"].sum().reset_index()
        try:
            transactions = _fit_transactions(kind, by_rfm, 0.0, unit, weights=by_rfm, start=fit.transactions.params_)
        except ConvergenceError:
            failed += 1  # reported; a replicate that cannot be fitted says the data are thin
            continue
        record = transactions.params_.to_dict()
        if has_spend:
            spend_rows = sample[(sample["frequency"] > 0) & (sample["monetary_value"] > 0)]
            spend_rows = spend_rows.groupby(["frequency", "monetary_value"], sort=False)["weight"].sum().reset_index()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    spend = _fit_spend(spend_rows, 0.0, start=spend_start)
            except ConvergenceError:
                failed += 1
                continue
            spend_boundary += spend.verdict_ != "converged"
            record.update({f"gg_{k}": v for k, v in spend.params_.items()})
            record["clv_total"] = _total_clv(transactions, spend, rows, unit, horizon, horizon_unit,
                                             annual_discount_rate)
        penalized += transactions.penalizer_coef > 0
        records.append(record)
    if not records:
        raise ConvergenceError(f"none of the {replicates} bootstrap refits converged: the data are too thin")
    table = pd.DataFrame(records)
    alpha = (1 - confidence) / 2
    estimates = {(kind, k): v for k, v in fit.transactions.params_.items()}
    if has_spend:
        estimates.update({("gamma_gamma", k): v for k, v in fit.spend.params_.items()})
        estimates[("clv", "clv_total")] = base_clv
    intervals = []
    for (model, parameter), estimate in estimates.items():
        column = f"gg_{parameter}" if model == "gamma_gamma" else parameter
        values = table[column].to_numpy(dtype=float)
        intervals.append({"model": model, "parameter": parameter, "estimate": float(estimate),
                          "ci_low": float(np.quantile(values, alpha)),
                          "ci_high": float(np.quantile(values, 1 - alpha)),
                          "std_error": float(np.std(values, ddof=1)) if len(values) > 1 else np.nan,
                          "replicates": len(values)})
    return Bootstrap(table, pd.DataFrame(intervals), confidence,
                     {"replicates": replicates, "failed": failed, "penalized": penalized,
                      "spend_boundary": spend_boundary, "seed": seed, "horizon": horizon,
                      "horizon_unit": horizon_unit, "annual_discount_rate": annual_discount_rate})


def _total_clv(transactions: Any, spend: GammaGammaFitter, rows: pd.DataFrame, unit: TimeUnit,
               horizon: float, horizon_unit: str, annual_discount_rate: float) -> float:
    f = rows["frequency"].to_numpy()
    m = np.where(f > 0, rows["monetary_value"].to_numpy(), 0.0)
    value = np.asarray(spend.conditional_expected_average_profit(f, m), dtype=float)
    purchases = _discounted_purchases(transactions, rows, horizon * HORIZON_UNITS[horizon_unit], unit,
                                      annual_discount_rate)
    return float(np.sum(rows["weight"].to_numpy() * value * purchases))


def parameter_table(fit: CLVFit, *, reference: Mapping[str, Mapping[str, float]] | None = None,
                    intervals: Bootstrap | None = None) -> pd.DataFrame:
    """The fitted parameters beside reference values (published or true) and intervals.

    Parameters
    ----------
    fit : CLVFit
    reference : mapping, optional
        ``{"bgnbd": {"r": …}, "gamma_gamma": {"p": …, "q": …, "v" or "gamma": …}}`` —
        :data:`CDNOW_PUBLISHED`, or ``truth["clv"]`` of a generated sample.
    intervals : Bootstrap, optional
        Adds ``ci_low``, ``ci_high`` and ``reference_in_interval``.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``parameter``, ``estimate`` [, ``reference``, ``relative_error``]
        [, ``ci_low``, ``ci_high``, ``reference_in_interval``].

    Examples
    --------
    >>> from kpilib.clv import CDNOW_PUBLISHED, fit_clv, load_cdnow, parameter_table, rfm_summary
    >>> cdnow = load_cdnow()
    >>> s = rfm_summary(cdnow[cdnow.ts <= "1997-09-30"], monetary_value_col="amount",
    ...                 as_of="1997-10-01", period_multiplier=7)
    >>> t = parameter_table(fit_clv(s), reference=CDNOW_PUBLISHED)
    >>> bool((t.estimate.round(2) == t.reference.round(2)).all())
    True
    """
    rows = [{"model": fit.model, "parameter": k, "estimate": float(v)} for k, v in fit.transactions.params_.items()]
    if fit.spend is not None:
        rows += [{"model": "gamma_gamma", "parameter": k, "estimate": float(v)} for k, v in fit.spend.params_.items()]
    out = pd.DataFrame(rows)
    if reference is not None:
        def lookup(model: str, parameter: str) -> float:
            values = dict(reference.get(model, {}))
            if model == "gamma_gamma" and "gamma" in values:
                values["v"] = values["gamma"]
            return float(values.get(parameter, np.nan))

        out["reference"] = [lookup(m, p) for m, p in zip(out["model"], out["parameter"], strict=True)]
        out["relative_error"] = out["estimate"] / out["reference"] - 1
    if intervals is not None:
        bounds = intervals.intervals.set_index(["model", "parameter"])[["ci_low", "ci_high"]]
        out = out.join(bounds, on=["model", "parameter"])
        if "reference" in out.columns:
            out["reference_in_interval"] = (out["reference"] >= out["ci_low"]) & (out["reference"] <= out["ci_high"])
    return out
