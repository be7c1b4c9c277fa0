"""Is the model any good? The period-transaction histogram with a χ² test, holdout
scorecard against naive baselines, conditional expectations, tracking over calendar time
and the frequency/recency matrices."""

from __future__ import annotations

import math
from typing import Any

import ibis
import numpy as np
import pandas as pd
from lifetimes import ParetoNBDFitter

from kpilib.clv._models import CLVFit, _model_and_summary
from kpilib.clv._rfm import (
    _customer_periods,
    _cutoff,
    _InclusiveEnd,
    _last_period,
    _orders,
    _period_of,
    _period_start,
    _rfm,
    _time_unit,
)
from kpilib.clv._units import UnitMismatchError, _check_same_unit, _horizon_in_units, time_unit
from kpilib.data import DataError
from kpilib.deprecation import renamed_arguments
from kpilib.periods import TimeLike, to_utc
from kpilib.stats import chi_square_test


def _probability_of_n(model: Any, t: float, n: int) -> float:
    """P(X(t) = n) for a new customer (no purchase history)."""
    if isinstance(model, ParetoNBDFitter):
        return float(model.conditional_probability_of_n_purchases_up_to_time(n, t, 0.0, 0.0, 0.0))
    return float(model.probability_of_n_purchases_up_to_time(t, n))


def period_transactions(fit_or_model: Any, summary: pd.DataFrame | None = None, *,
                        max_frequency: int = 7) -> pd.DataFrame:
    r"""Customers by number of repeat purchases: actual against the model, with a χ² test.

    The expected number of customers with *x* repeat purchases is
    :math:`\sum_i P(X(T_i) = x)` over the customers' own ages :math:`T_i`; the last class
    is ``max_frequency`` or more. The χ² goodness-of-fit statistic over the classes has
    *classes − 1 − parameters* degrees of freedom.

    Returns
    -------
    pandas.DataFrame
        Columns ``frequency`` (``"0"`` … ``"7+"``), ``actual``, ``expected``; ``attrs``
        hold ``chi2``, ``dof`` and ``p_value``.

    Examples
    --------
    >>> from kpilib.clv import fit_clv, load_cdnow, period_transactions, rfm_summary
    >>> cdnow = load_cdnow()
    >>> s = rfm_summary(cdnow[cdnow.ts <= "1997-09-30"], as_of="1997-10-01",
    ...                 period_multiplier=7)
    >>> table = period_transactions(fit_clv(s))
    >>> table.actual.tolist()
    [1411, 439, 214, 100, 62, 38, 29, 64]
    >>> table.attrs["dof"]
    3
    """
    model, rfm = _model_and_summary(fit_or_model, summary)
    ages = rfm.groupby("T").size()
    repeat = np.minimum(rfm["frequency"].to_numpy().astype(int), max_frequency)
    actual = np.bincount(repeat, minlength=max_frequency + 1)[: max_frequency + 1]
    expected = np.zeros(max_frequency + 1)
    for age, count in ages.items():
        probs = [_probability_of_n(model, float(age), n) for n in range(max_frequency)]
        expected[:max_frequency] += count * np.asarray(probs)
        expected[max_frequency] += count * (1 - sum(probs))
    labels = [str(n) for n in range(max_frequency)] + [f"{max_frequency}+"]
    out = pd.DataFrame({"frequency": labels, "actual": actual.astype(int), "expected": expected})
    chi2, dof, p_value = chi_square_test(actual, expected, fitted_parameters=len(model.params_))
    out.attrs.update(chi2=chi2, dof=dof, p_value=p_value)
    return out


def holdout_scorecard(fit_or_model: Any, calibration_holdout: pd.DataFrame) -> pd.DataFrame:
    """How well the model predicts each customer's holdout purchases, against naive baselines.

    Predictors: ``model`` (expected purchases over ``duration_holdout`` given the
    calibration history), ``zero`` (nobody buys again) and ``past_rate`` (the customer's
    calibration repeat rate ``frequency_cal / T_cal`` carried over the holdout).

    .. math::

        \\mathrm{MAE} = \\frac1n\\sum_i |y_i - \\hat y_i|, \\quad
        \\mathrm{RMSE} = \\sqrt{\\frac1n\\sum_i (y_i - \\hat y_i)^2}

    Returns
    -------
    pandas.DataFrame
        One row per predictor: ``predictor``, ``customers``, ``mae``, ``rmse``,
        ``correlation`` (Pearson, NaN for a constant prediction), ``predicted`` and
        ``actual`` totals, and ``mae_vs_best_baseline`` (MAE over the better baseline's).

    Examples
    --------
    >>> from kpilib.clv import calibration_holdout_summary, fit_clv, holdout_scorecard, load_cdnow
    >>> ch = calibration_holdout_summary(load_cdnow(), "1997-09-30", period_multiplier=7)
    >>> card = holdout_scorecard(fit_clv(ch), ch)
    >>> card[["predictor", "mae", "actual"]].round(3)
       predictor    mae  actual
    0      model  0.785  1882.0
    1       zero  0.798  1882.0
    2  past_rate  1.024  1882.0
    """
    model = fit_or_model.transactions if isinstance(fit_or_model, CLVFit) else fit_or_model
    rfm = _rfm(calibration_holdout)
    _check_same_unit(model, rfm)
    if "frequency_holdout" not in calibration_holdout.columns:
        raise DataError("the frame has no frequency_holdout column", column="frequency_holdout",
                        fix="Pass the result of calibration_holdout_summary")
    actual = calibration_holdout["frequency_holdout"].to_numpy(dtype=float)
    duration = calibration_holdout["duration_holdout"].to_numpy(dtype=float)
    f, r, T = (rfm[c].to_numpy() for c in ("frequency", "recency", "T"))
    with np.errstate(divide="ignore", invalid="ignore"):
        past = np.where(T > 0, f / T, 0.0) * duration
    predictions = {
        "model": np.asarray(model.conditional_expected_number_of_purchases_up_to_time(duration, f, r, T), dtype=float),
        "zero": np.zeros_like(actual),
        "past_rate": past,
    }
    rows = []
    for name, predicted in predictions.items():
        err = actual - predicted
        corr = np.corrcoef(actual, predicted)[0, 1] if np.std(predicted) > 0 and np.std(actual) > 0 else np.nan
        rows.append({"predictor": name, "customers": len(actual), "mae": float(np.mean(np.abs(err))),
                     "rmse": float(np.sqrt(np.mean(err**2))), "correlation": float(corr),
                     "predicted": float(predicted.sum()), "actual": float(actual.sum())})
    out = pd.DataFrame(rows)
    best_baseline = out.loc[out["predictor"] != "model", "mae"].min()
    out["mae_vs_best_baseline"] = out["mae"] / best_baseline if best_baseline > 0 else np.nan
    return out


def conditional_expectations(fit_or_model: Any, calibration_holdout: pd.DataFrame, *,
                             max_frequency: int = 7) -> pd.DataFrame:
    """Mean holdout purchases by calibration frequency: actual against the model.

    Customers are grouped by their calibration repeat purchases (the last group is
    ``max_frequency`` or more); for each group the mean actual holdout purchases and the
    mean of the model's conditional expectations.

    Returns
    -------
    pandas.DataFrame
        ``frequency_cal`` (``"0"`` … ``"7+"``), ``customers``, ``actual``, ``expected``.

    Examples
    --------
    >>> from kpilib.clv import calibration_holdout_summary, conditional_expectations, fit_clv, load_cdnow
    >>> ch = calibration_holdout_summary(load_cdnow(), "1997-09-30", period_multiplier=7)
    >>> ce = conditional_expectations(fit_clv(ch), ch)
    >>> ce[["frequency_cal", "customers", "actual", "expected"]].head(2).round(3)
      frequency_cal  customers  actual  expected
    0             0       1411   0.237     0.225
    1             1        439   0.697     0.523
    """
    model = fit_or_model.transactions if isinstance(fit_or_model, CLVFit) else fit_or_model
    rfm = _rfm(calibration_holdout)
    _check_same_unit(model, rfm)
    f, r, T = (rfm[c].to_numpy() for c in ("frequency", "recency", "T"))
    expected = model.conditional_expected_number_of_purchases_up_to_time(
        calibration_holdout["duration_holdout"].to_numpy(dtype=float), f, r, T)
    group = np.minimum(f.astype(int), max_frequency)
    frame = pd.DataFrame({"group": group, "actual": calibration_holdout["frequency_holdout"].to_numpy(dtype=float),
                          "expected": np.asarray(expected, dtype=float)})
    out = frame.groupby("group").agg(customers=("actual", "size"), actual=("actual", "mean"),
                                     expected=("expected", "mean")).reset_index()
    out.insert(0, "frequency_cal", [f"{g}+" if g == max_frequency else str(g) for g in out.pop("group")])
    return out


@renamed_arguments(observation_period_end=("as_of", _InclusiveEnd), freq="period",
                   freq_multiplier="period_multiplier")
def purchase_tracking(
    orders: ibis.Table | pd.DataFrame,
    fit_or_model: Any,
    *,
    calibration_period_end: TimeLike,
    as_of: TimeLike = None,
    period: str = "D",
    period_multiplier: int = 1,
    step: float = 1.0,
    calibration_period_start: TimeLike = None,
) -> pd.DataFrame:
    r"""Repeat purchases over calendar time, actual against the model (tracking plot data).

    The model's expected cumulative repeat purchases at time :math:`t` are
    :math:`\sum_c n_c\, E[X(t - t_c)]`, with :math:`n_c` the customers whose first purchase
    was at :math:`t_c` (first purchases up to the calibration end: the cohort the model
    was fitted on). Actual repeat purchases are those customers' later purchase periods.

    Parameters
    ----------
    orders : ibis.Table or pandas.DataFrame
        Orders (``customer_id``, ``ts``).
    fit_or_model : CLVFit or fitted transaction model
        Fitted on the calibration period, in the unit ``period``/``period_multiplier``.
    calibration_period_end, calibration_period_start
        As in :func:`calibration_holdout_summary`.
    as_of, period, period_multiplier
        As in :func:`rfm_summary` (orders with ``ts < as_of``, grouped by period; the old
        names ``observation_period_end``, ``freq`` and ``freq_multiplier`` are accepted for
        one release). Default: every order, up to the cohort's latest order period.
    step : float, default 1
        Bucket width in model time units (e.g. 7 for weekly points of a daily model).

    Returns
    -------
    pandas.DataFrame
        ``t`` (end of the bucket, time units since the first order), ``date``, ``actual``
        and ``expected`` repeat purchases in the bucket, their cumulative sums
        ``cumulative_actual``, ``cumulative_expected``, and ``holdout`` (after the
        calibration end).

    Examples
    --------
    >>> from kpilib.clv import calibration_holdout_summary, fit_clv, load_cdnow, purchase_tracking
    >>> cdnow = load_cdnow()
    >>> fit = fit_clv(calibration_holdout_summary(cdnow, "1997-09-30", period_multiplier=7))
    >>> track = purchase_tracking(cdnow, fit, calibration_period_end="1997-09-30", period_multiplier=7)
    >>> int(track.cumulative_actual.iloc[-1]), round(track.cumulative_expected.iloc[-1])
    (4339, 4161)
    """
    model = fit_or_model.transactions if isinstance(fit_or_model, CLVFit) else fit_or_model
    unit = _time_unit(period, period_multiplier)
    period = unit.period
    if not math.isclose(time_unit(model).days, unit.days):
        raise UnitMismatchError(f"the model is in {time_unit(model).name}, the tracking in {unit.name}")
    data = _orders(orders, "customer_id", "ts", None)
    table = data.table
    if calibration_period_start is not None:
        table = table.filter(table.ts >= to_utc(calibration_period_start, "calibration_period_start"))
    cal_end = to_utc(calibration_period_end, "calibration_period_end")
    cutoff = _cutoff(as_of, period, floored=True)
    per = _customer_periods(table, period, cutoff)
    per = per.mutate(first_period=per.period.min().over(group_by=per.customer_id))
    per = per.filter(per.first_period <= _period_of(cal_end, period))
    counts = (per.group_by("period")
              .aggregate(new=(per.period == per.first_period).sum(),
                         repeat=(per.period != per.first_period).sum())
              .execute())
    if counts.empty:
        raise DataError("no orders up to the calibration end", table="orders", column="ts",
                        fix="Check calibration_period_end")
    counts = counts.astype("int64").sort_values("period")
    origin = int(counts["period"].min())
    last = _last_period(cutoff, period) if cutoff is not None else int(counts["period"].max())
    periods = counts.set_index("period").reindex(range(origin, last + 1), fill_value=0)
    t_units = (periods.index.to_numpy() - origin) / unit.period_multiplier
    cohort_t = t_units[periods["new"].to_numpy() > 0]
    cohort_n = periods["new"].to_numpy()[periods["new"].to_numpy() > 0]
    cal_t = (_period_of(cal_end, period) - origin) / unit.period_multiplier
    # buckets of `step` from the first order, split at the calibration end, closed at the last period
    edges = np.arange(step, t_units[-1] + step, step)
    edges = np.unique(np.concatenate([edges[edges < t_units[-1]], [min(cal_t, t_units[-1]), t_units[-1]]]))
    cumulative_expected = np.array([
        float(np.sum(cohort_n * np.asarray(model.expected_number_of_purchases_up_to_time(
            np.clip(edge - cohort_t, 0, None)), dtype=float))) for edge in edges
    ])
    # a repeat purchase in period p happens at time t(p); count it in the first bucket ending at or after it
    repeat_t = t_units
    bucket = np.searchsorted(edges, repeat_t - 1e-9)
    actual = np.bincount(bucket[bucket < len(edges)],
                         weights=periods["repeat"].to_numpy()[bucket < len(edges)], minlength=len(edges))
    day0 = _period_start(origin, period)
    return pd.DataFrame({
        "t": edges,
        "date": [day0 + pd.Timedelta(days=float(e) * unit.days) for e in edges],
        "actual": actual,
        "expected": np.diff(np.concatenate([[0.0], cumulative_expected])),
        "cumulative_actual": np.cumsum(actual),
        "cumulative_expected": cumulative_expected,
        "holdout": edges > cal_t + 1e-9,
    })



def frequency_recency_matrix(fit_or_model: Any, summary: pd.DataFrame | None = None, *,
                             horizon: float = 1, horizon_unit: str = "months",
                             max_frequency: int | None = None, max_recency: float | None = None) -> pd.DataFrame:
    """P(alive) and expected purchases over a grid of frequency and recency, at T = max.

    For a customer observed for the longest age ``T`` of the summary: each cell is a
    (frequency, recency) history. Read with :func:`kpilib.plots.plot_frequency_recency_matrix`.

    Returns
    -------
    pandas.DataFrame
        Long: ``frequency``, ``recency``, ``T``, ``p_alive``, ``expected_purchases`` (over
        the horizon).

    Examples
    --------
    >>> from kpilib.clv import fit_clv, frequency_recency_matrix, load_cdnow, rfm_summary
    >>> s = rfm_summary(load_cdnow(), period_multiplier=7)
    >>> grid = frequency_recency_matrix(fit_clv(s))
    >>> bool(grid.p_alive.between(0, 1).all()), int(grid.frequency.max()), len(grid)
    (True, 43, 1760)
    """
    model, rfm = _model_and_summary(fit_or_model, summary)
    unit = _check_same_unit(model, rfm)
    t = _horizon_in_units(horizon, horizon_unit, unit)
    T = float(rfm["T"].max())
    max_frequency = int(rfm["frequency"].max()) if max_frequency is None else max_frequency
    max_recency = T if max_recency is None else max_recency
    recencies = np.linspace(0, max_recency, 40)
    f, r = np.meshgrid(np.arange(max_frequency + 1, dtype=float), recencies, indexing="ij")
    f, r = f.ravel(), r.ravel()
    Ts = np.full_like(f, T)
    return pd.DataFrame({
        "frequency": f.astype(int),
        "recency": r,
        "T": Ts,
        "p_alive": np.asarray(model.conditional_probability_alive(f, r, Ts), dtype=float),
        "expected_purchases": np.asarray(model.conditional_expected_number_of_purchases_up_to_time(t, f, r, Ts),
                                         dtype=float),
    })
