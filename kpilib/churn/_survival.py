"""Customer lifetimes: spells with their tenure, Kaplan–Meier survival by segment with a
log-rank test, tenure survivors (the sBG's input) and month-1 churn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd

from kpilib.churn import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.churn._inputs import _UTC, _spells_with_tenure
from kpilib.data import DataError, column_list
from kpilib.metrics import computes
from kpilib.periods import epoch_seconds, months_between
from kpilib.stats import rate_frame

__all__ = ["SurvivalResult", "customer_spells", "month_one_churn", "survival", "tenure_survivors"]


def customer_spells(
    subscriptions: Any, *, as_of: Any = None, by: str | Sequence[str] | None = None,
    customers: Any = None,
) -> pd.DataFrame:
    """Customer spells of continuous subscription, one row each.

    Parameters
    ----------
    subscriptions : DataFrame or ibis.Table
        The ``subscriptions`` table.
    as_of : date-like, optional
        The data are complete up to here; later ends count as not yet happened (open).
    by, customers :
        Breakdown columns (see :mod:`kpilib.churn`).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``spell`` (1, 2, … per customer; 2 and up are reactivations),
        ``start_at``, ``end_at`` (NaT while active), ``rows`` (subscription rows merged),
        ``mrr_at_start``, ``tenure_months`` (calendar months from the start to the end, or
        to ``as_of`` while active; see :func:`kpilib.periods.months_between`) and the
        ``by`` columns.

    Examples
    --------
    A plan change at the same instant is one spell; a later new row is a second one:

    >>> subs = pd.DataFrame({"customer_id": ["a", "a", "a"],
    ...     "start_at": ["2026-01-01", "2026-02-01", "2026-05-01"],
    ...     "end_at": ["2026-02-01", "2026-03-10", None], "mrr": [10.0, 20.0, 20.0]})
    >>> spells = customer_spells(subs, as_of="2026-06-01")
    >>> spells[["spell", "start_at", "end_at", "rows"]]
       spell                  start_at                    end_at  rows
    0      1 2026-01-01 00:00:00+00:00 2026-03-10 00:00:00+00:00     2
    1      2 2026-05-01 00:00:00+00:00                       NaT     1

    Tenure: two months to 1 March and 9 of March's 31 days; one month to ``as_of``:

    >>> spells["tenure_months"].round(4).tolist()
    [2.2903, 1.0]
    """
    spells, _ = _spells_with_tenure(subscriptions, as_of, column_list(by), customers)
    out = spells.order_by(["customer_id", "spell"]).execute()
    out["spell"] = out["spell"].astype("int64")
    return out.reset_index(drop=True)



@dataclass(eq=False)
class SurvivalResult:
    """Kaplan–Meier curves of customer lifetime, made by :func:`survival`.

    Attributes
    ----------
    curves : pandas.DataFrame
        Tidy: ``group`` (``"all"`` without a breakdown), ``tenure`` (calendar months),
        ``survival``, ``ci_low``, ``ci_high``, ``at_risk``, ``churned``, ``censored``.
    summary : pandas.DataFrame
        One row per group: ``subscribers``, ``churned``, ``censored``,
        ``median_lifetime`` (months; NaN when not reached), ``median_ci_low``,
        ``median_ci_high``, ``median_reached``, ``max_tenure`` and
        ``survival_12m`` (the curve at 12 calendar months, churns at exactly 12 included;
        NaN beyond the data).
    logrank : pandas.DataFrame or None
        The log-rank test across groups (``test_statistic``, ``p_value``,
        ``degrees_of_freedom``, ``groups``); None without a breakdown.
    lifetimes : pandas.DataFrame
        The input of the fit, counted: one row per breakdown ``group``, ``duration``
        (calendar months) and ``churned`` (False: censored), with ``weight``, how many
        lifetimes (customers, or spells with ``spells="all"``) ended so, and the breakdown
        columns. Ordered by the breakdown, the duration and ``churned``.
    fitters : dict
        The fitted :class:`lifelines.KaplanMeierFitter` per group.
    by : list of str
        The breakdown columns.
    """

    curves: pd.DataFrame
    summary: pd.DataFrame
    logrank: pd.DataFrame | None
    lifetimes: pd.DataFrame
    fitters: dict[str, Any] = field(repr=False)
    by: list[str] = field(default_factory=list)


def _lifetime_counts(
    subscriptions: Any, as_of: Any, by: list[str], customers: Any, spells: str
) -> pd.DataFrame:
    """How many lifetimes (first spells, or all) end at each duration, churned or
    censored, per ``by`` group — counted in the engine, one row per (group, ``duration``,
    ``churned``) with its ``weight``, ordered, and labelled ``group``."""
    frame, _ = _spells_with_tenure(subscriptions, as_of, by, customers)
    if spells == "first":
        frame = frame.filter(frame.spell == 1)
    frame = frame.select(*by, duration=frame.tenure_months.cast("float64"), churned=frame.end_at.notnull())
    keys = [*by, "duration", "churned"]
    counts = frame.group_by(keys).aggregate(weight=frame.count()).order_by(keys).execute()
    life = pd.DataFrame({
        **{c: counts[c].to_numpy() for c in by},
        "duration": counts["duration"].to_numpy(dtype=float),
        "churned": counts["churned"].to_numpy(dtype=bool),
        "weight": counts["weight"].to_numpy(dtype="int64"),
    })
    if by:
        labels = life[by[0]].astype(str)
        for col in by[1:]:
            labels = labels + " · " + life[col].astype(str)
    else:
        labels = pd.Series("all", index=life.index)
    life.insert(len(by), "group", labels.to_numpy())
    return life


@computes("median_customer_lifetime")
def survival(
    subscriptions: Any,
    by: str | Sequence[str] | None = None,
    *,
    customers: Any = None,
    as_of: Any = None,
    spells: Literal["first", "all"] = "first",
    confidence: float = 0.95,
) -> SurvivalResult:
    r"""Kaplan–Meier survival of customer lifetimes, by segment, with a log-rank test.

    Parameters
    ----------
    subscriptions : DataFrame or ibis.Table
        The ``subscriptions`` table.
    by : str or list of str, optional
        Segments (e.g. ``"plan"``, or ``"channel"`` with ``customers``).
    customers : DataFrame or ibis.Table, optional
        For customer attributes in ``by``.
    as_of : date-like, optional
        End of observation; customers still subscribed then are censored there.
    spells : {"first", "all"}, default "first"
        ``"first"``: each customer's first spell (their acquisition lifetime, one
        independent observation per customer). ``"all"`` adds reactivated spells as
        further lifetimes (not independent of the first; use with care).
    confidence : float, default 0.95
        Level of the pointwise bands (lifelines' exponential Greenwood intervals).

    Returns
    -------
    SurvivalResult

    Notes
    -----
    A lifetime is the spell's length in calendar months (``tenure_months`` of
    :func:`customer_spells`: a customer of exactly one year lasted 12 months, leap day or
    not). Customers still subscribed at ``as_of`` are *censored* at their tenure so far —
    they are known to have lasted at least that long — never counted as churned. In the
    Kaplan–Meier estimator :math:`\hat S(t)` above, :math:`d_i` are the churns at tenure
    :math:`t_i` and :math:`n_i` the customers at risk then. Segments are
    compared with lifelines' multivariate log-rank test (the two-group test when there are
    two segments).

    Examples
    --------
    >>> subs = pd.DataFrame({"customer_id": ["a", "b", "c"],
    ...     "start_at": ["2026-01-01", "2026-01-01", "2026-01-01"],
    ...     "end_at": ["2026-02-01", None, "2026-04-01"], "mrr": [1.0, 1.0, 1.0]})
    >>> res = survival(subs, as_of="2026-07-01")
    >>> res.summary[["subscribers", "churned", "censored", "median_reached"]]
       subscribers  churned  censored  median_reached
    0            3        2         1            True
    """
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test
    from lifelines.utils import median_survival_times

    if spells not in ("first", "all"):
        raise ValueError(f"spells must be 'first' or 'all', got {spells!r}")
    by_cols = column_list(by)
    life = _lifetime_counts(subscriptions, as_of, by_cols, customers, spells)
    if life.empty:
        raise DataError("no subscriptions to estimate lifetimes from", table="subscriptions",
                        fix="Check the table and as_of")
    alpha = 1 - confidence
    curves, rows, fitters = [], [], {}
    for group, part in life.groupby("group", sort=True):
        kmf = KaplanMeierFitter(alpha=alpha, label=str(group))
        kmf.fit(part["duration"], event_observed=part["churned"], weights=part["weight"])
        fitters[str(group)] = kmf
        ci = kmf.confidence_interval_survival_function_
        table = kmf.event_table
        curve = pd.DataFrame({
            "group": str(group),
            "tenure": kmf.survival_function_.index.to_numpy(),
            "survival": kmf.survival_function_.iloc[:, 0].to_numpy(),
            "ci_low": ci.iloc[:, 0].to_numpy(),
            "ci_high": ci.iloc[:, 1].to_numpy(),
            "at_risk": table["at_risk"].reindex(kmf.survival_function_.index).to_numpy(),
            "churned": table["observed"].reindex(kmf.survival_function_.index).to_numpy(),
            "censored": table["censored"].reindex(kmf.survival_function_.index).to_numpy(),
        })
        curves.append(curve)
        median = float(kmf.median_survival_time_)
        med_ci = median_survival_times(kmf.confidence_interval_survival_function_)
        lo, hi = (float(v) for v in med_ci.iloc[0])
        max_t = float(part["duration"].max())
        churned = int(part.loc[part["churned"], "weight"].sum())
        subscribers = int(part["weight"].sum())
        rows.append({
            "group": str(group),
            **{c: part[c].iloc[0] for c in by_cols},
            "subscribers": subscribers,
            "churned": churned,
            "censored": subscribers - churned,
            "median_lifetime": median if np.isfinite(median) else np.nan,
            "median_ci_low": lo if np.isfinite(lo) else np.nan,
            "median_ci_high": hi if np.isfinite(hi) else np.nan,
            "median_reached": bool(np.isfinite(median)),
            "max_tenure": max_t,
            "survival_12m": float(kmf.predict(12.0)) if max_t >= 12 else np.nan,
        })
    summary = pd.DataFrame(rows)
    if not by_cols:
        summary = summary.drop(columns="group")
    logrank = None
    groups = life["group"].nunique()
    if by_cols and groups > 1:
        test = multivariate_logrank_test(life["duration"], life["group"], life["churned"],
                                         weights=life["weight"])
        logrank = pd.DataFrame([{
            "test_statistic": float(test.test_statistic),
            "p_value": float(test.p_value),
            "degrees_of_freedom": int(test.degrees_of_freedom),
            "groups": int(groups),
            "test": "log-rank (lifelines.statistics.multivariate_logrank_test)",
        }])
    return SurvivalResult(
        curves=pd.concat(curves, ignore_index=True),
        summary=summary,
        logrank=logrank,
        lifetimes=life,
        fitters=fitters,
        by=by_cols,
    )


def tenure_survivors(
    subscriptions: Any,
    periods: int = 12,
    by: str | Sequence[str] | None = None,
    *,
    customers: Any = None,
    as_of: Any = None,
    period_days: float | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    r"""Customers still subscribed after 0, 1, …, ``periods`` tenure periods.

    The "alive" counts of one pooled cohort: every customer whose first spell started at
    least ``periods`` tenure periods before ``as_of`` (so their whole window is observed),
    counted alive at tenure *k* while the spell lasts beyond the *k*-th period: beyond
    ``start`` + *k* calendar months (same day of the month, see
    :func:`kpilib.periods.months_between`), or beyond ``start + k · period_days``.
    This is the input of :func:`fit_sbg`.

    Parameters
    ----------
    subscriptions : DataFrame or ibis.Table
    periods : int, default 12
        Tenure periods to follow.
    by, customers :
        Segments (customer-level; ``plan`` is the first plan).
    as_of : date-like, optional
        End of observation.
    period_days : float, optional
        Length of a tenure period in days; by default a calendar month.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        Per group and ``tenure`` 0 … ``periods``: ``cohort_size``, ``alive``,
        ``survival`` (alive / cohort size) with ``ci_low``/``ci_high`` (Wilson),
        ``churned`` (lost during period *k*), ``retention`` (alive_k / alive_{k-1}, the
        period-to-period retention rate) and the ``by`` columns.

    Examples
    --------
    >>> subs = pd.DataFrame({"customer_id": ["a", "b", "c"],
    ...     "start_at": ["2026-01-01", "2026-01-01", "2026-01-01"],
    ...     "end_at": ["2026-01-20", "2026-03-01", None], "mrr": [1.0, 1.0, 1.0]})
    >>> tenure_survivors(subs, periods=2, as_of="2026-04-01")[["tenure", "alive", "survival"]]
       tenure  alive  survival
    0       0      3  1.000000
    1       1      2  0.666667
    2       2      1  0.333333
    """
    if int(periods) != periods or periods < 1:
        raise ValueError(f"periods must be a positive whole number, got {periods!r}")
    periods = int(periods)
    if period_days is not None and not period_days > 0:
        raise ValueError(f"period_days must be positive, got {period_days!r}")
    by_cols = column_list(by)
    spells, as_of_ts = _spells_with_tenure(subscriptions, as_of, by_cols, customers)
    cutoff = ibis.literal(as_of_ts, type=_UTC)
    if period_days is None:  # tenure and observed time in calendar months
        spells = months_between(spells, "start_at", cutoff, name="observed")
    else:
        span = 86_400.0 * period_days
        end = ibis.coalesce(spells.end_at, cutoff)
        spells = spells.mutate(
            tenure_months=(epoch_seconds(end) - epoch_seconds(spells.start_at)).cast("float64") / span,
            observed=(epoch_seconds(cutoff) - epoch_seconds(spells.start_at)).cast("float64") / span,
        )
    first = spells.filter((spells.spell == 1) & (spells.observed >= periods))
    first = first.select(*by_cols, "end_at", "tenure_months").execute()
    rows = []
    groups = first.groupby(by_cols, sort=True) if by_cols else [((), first)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        tenure = part["tenure_months"].to_numpy(dtype=float)
        open_ = part["end_at"].isna().to_numpy()
        alive = [int(len(part))] + [int((open_ | (tenure > k)).sum()) for k in range(1, periods + 1)]
        for k, n_alive in enumerate(alive):
            rows.append({**dict(zip(by_cols, key, strict=True)), "tenure": k,
                         "cohort_size": alive[0], "alive": n_alive,
                         "churned": 0 if k == 0 else alive[k - 1] - n_alive,
                         "retention": np.nan if k == 0 or alive[k - 1] == 0 else n_alive / alive[k - 1]})
    out = pd.DataFrame(rows, columns=[*by_cols, "tenure", "cohort_size", "alive", "churned", "retention"])
    if out.empty:
        return out.assign(survival=[], ci_low=[], ci_high=[])
    rates = rate_frame(out["alive"], out["cohort_size"], confidence)
    out["survival"] = rates["rate"].to_numpy()
    out["ci_low"] = rates["ci_low"].to_numpy()
    out["ci_high"] = rates["ci_high"].to_numpy()
    return out[[*by_cols, "tenure", "cohort_size", "alive", "survival", "ci_low", "ci_high",
                "churned", "retention"]]


def month_one_churn(
    subscriptions: Any,
    by: str | Sequence[str] | None = None,
    *,
    customers: Any = None,
    as_of: Any = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Share of new subscribers who churn within their first month of tenure.

    The churn of the first tenure month (one calendar month from the start, see
    :func:`tenure_survivors`) among customers whose first month has fully elapsed — under the sBG model this estimates the mean churn
    probability :math:`E[\\theta] = \\alpha / (\\alpha + \\beta)` of new customers, which is
    higher than a calendar month's churn of the whole (older, more loyal) base.

    Returns
    -------
    pandas.DataFrame
        Per group: ``subscribers`` (denominator), ``churned`` (numerator), ``churn_rate``,
        ``ci_low``, ``ci_high``, ``small_sample``.

    Examples
    --------
    >>> subs = pd.DataFrame({"customer_id": ["a", "b"], "start_at": ["2026-01-01", "2026-01-01"],
    ...     "end_at": ["2026-01-20", None], "mrr": [1.0, 1.0]})
    >>> month_one_churn(subs, as_of="2026-03-01")[["subscribers", "churned", "churn_rate"]]
       subscribers  churned  churn_rate
    0            2        1         0.5
    """
    by_cols = column_list(by)
    t = tenure_survivors(subscriptions, 1, by_cols, customers=customers, as_of=as_of)
    t = t[t["tenure"] == 1].reset_index(drop=True)
    rates = rate_frame(t["churned"], t["cohort_size"], confidence)
    out = t[by_cols].copy()
    out["subscribers"] = t["cohort_size"].to_numpy()
    out["churned"] = t["churned"].to_numpy()
    out["churn_rate"] = rates["rate"].to_numpy()
    out["ci_low"] = rates["ci_low"].to_numpy()
    out["ci_high"] = rates["ci_high"].to_numpy()
    out["small_sample"] = rates["small_sample"].to_numpy()
    return out

