"""Cohort retention on an activity table (events or orders): the cohort × offset cells,
their pooled or simple average over cohorts and the heatmap matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd

from kpilib.churn import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.churn._inputs import _attributes, _resolve_as_of
from kpilib.data import MISSING_LABEL, DataError, as_table, column_list
from kpilib.metrics import computes
from kpilib.periods import (
    PANDAS_FREQ,
    PERIOD_ORIGIN,
    check_period,
    period_index,
    period_index_of,
    to_utc,
)
from kpilib.stats import rate_frame, t_interval

__all__ = ["MIN_COHORTS", "Mode", "cohort_retention", "retention_average", "retention_matrix"]

#: Fewest cohorts an offset of an average retention curve may rest on without being flagged
#: (``few_cohorts`` in :func:`retention_average`).
MIN_COHORTS = 3

#: How a cohort cell counts a customer: active in exactly period k (``"on"``) or in k or
#: any later period (``"on_or_after"``).
Mode = Literal["on", "on_or_after"]


def _activity_table(activity: Any) -> ibis.Table:
    columns = activity.columns if isinstance(activity, ibis.Table) else list(getattr(activity, "columns", []))
    if "event" in columns:
        return as_table(activity, "events")
    if "amount" in columns:
        return as_table(activity, "orders")
    raise DataError(
        "cohort retention needs an activity table: events (customer_id, ts, event) or "
        f"orders (customer_id, ts, amount); the table has: {', '.join(map(str, columns))}",
        table="activity",
        fix="Pass ds.events or ds.orders",
    )


def _period_labels(index: np.ndarray, period: str) -> list[str]:
    origin = PERIOD_ORIGIN[period]
    return [str(origin + int(i)) for i in index]


def _period_end(index: np.ndarray, period: str) -> np.ndarray:
    origin = PERIOD_ORIGIN[period]
    return np.array([(origin + int(i) + 1).start_time.tz_localize("UTC") for i in index])


def _with_attributes(table: ibis.Table, attrs: ibis.Table | None, by: list[str]) -> ibis.Table:
    """``table`` (one row per customer, or per customer and period) with the ``by`` columns
    of :func:`kpilib.churn._inputs._attributes`; a customer without them is :data:`MISSING_LABEL`."""
    if attrs is None:
        return table
    table = table.left_join(attrs, "customer_id").drop("customer_id_right")
    return table.mutate(**{c: table[c].fill_null(MISSING_LABEL) for c in by})


@computes("cohort_retention_rate")
def cohort_retention(
    activity: Any,
    period: str = "M",
    mode: Mode = "on",
    cohort_by: str = "first_activity",
    *,
    by: str | Sequence[str] | None = None,
    customers: Any = None,
    events: Sequence[str] | None = None,
    as_of: Any = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    r"""Cohort retention: of each cohort, the share active k periods later.

    Parameters
    ----------
    activity : DataFrame or ibis.Table
        ``events`` (``customer_id``, ``ts``, ``event``) or ``orders`` (``customer_id``,
        ``ts``, ``amount``): any row is activity of its customer at ``ts``.
    period : {"M", "Q", "Y", "W"}, default "M"
    mode : {"on", "on_or_after"}, default "on"
        ``"on"``: active in exactly period k after the cohort's. ``"on_or_after"``: active
        in period k or any later period (the customer has not gone for good by k).
    cohort_by : {"first_activity", "signup"}, default "first_activity"
        Cohort of a customer: the period of their first activity, or of
        ``customers.signup_at`` (then ``customers`` is required and customers with no
        activity count in their cohort as not retained; activity before signup is
        ignored).
    by : str or list of str, optional
        Breakdown, e.g. ``"channel"`` (acquisition channel, from ``customers``).
    customers : DataFrame or ibis.Table, optional
    events : list of str, optional
        For an events table, the event names that count as activity (e.g. product usage
        only, leaving out anonymous visits). Default: every event.
    as_of : date-like, optional
        Data complete up to here (default: :func:`kpilib.periods.default_cutoff` of the
        latest activity — its whole day included). A cell is computed only if its period
        has fully elapsed by then.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row per cohort (and group) and ``offset`` 0, 1, … up to the oldest cohort's
        longest elapsed offset: ``cohort`` (e.g. ``"2026-01"``), ``offset``,
        ``cohort_size``, ``retained`` (nullable integer), ``rate``, ``ci_low``,
        ``ci_high``, ``complete`` and ``small_sample``. A cell is complete when its
        period has fully elapsed and does not lie before the first activity of the data
        (signup cohorts can be older than the activity log); other cells have
        ``complete=False`` and missing ``retained``/``rate`` — never 0. The heatmap matrix
        is ``retention_matrix(result)`` (or one ``pivot``). ``attrs`` records what was
        computed: ``period``, ``mode``, ``cohort_by``, ``events`` (a tuple or None),
        ``as_of`` and ``by``.

    Notes
    -----
    A customer's cohort :math:`c` is the period of their first activity (or sign-up).
    "On or after" uses all activity up to ``as_of``, so a complete cell can still rise
    when a customer comes back later; "on" cells are final once complete. See
    :func:`retention_average` for the average row (pooled or simple).

    Examples
    --------
    >>> orders = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c"],
    ...     "ts": ["2026-01-03", "2026-03-09", "2026-01-20", "2026-02-02", "2026-02-05"],
    ...     "amount": [5.0, 5.0, 5.0, 5.0, 5.0]})
    >>> on = cohort_retention(orders, mode="on", as_of="2026-04-01")
    >>> on.pivot(index="cohort", columns="offset", values="rate")
    offset    0    1    2
    cohort
    2026-01  1.0  0.0  0.5
    2026-02  1.0  0.0  NaN
    >>> after = cohort_retention(orders, mode="on_or_after", as_of="2026-04-01")
    >>> after.pivot(index="cohort", columns="offset", values="rate")
    offset    0    1    2
    cohort
    2026-01  1.0  0.5  0.5
    2026-02  1.0  0.0  NaN

    The February cohort's month 2 (April) has not elapsed: missing, not 0.
    """
    key = check_period(period, tuple(PANDAS_FREQ))
    if mode not in ("on", "on_or_after"):
        raise ValueError(f"mode must be 'on' or 'on_or_after', got {mode!r}")
    if cohort_by not in ("first_activity", "signup"):
        raise ValueError(f"cohort_by must be 'first_activity' or 'signup', got {cohort_by!r}")
    by_cols = column_list(by)
    t = _activity_table(activity)
    if events is not None:
        if "event" not in t.columns:
            raise ValueError("events= filters an events table; this activity table has no 'event' column")
        t = t.filter(t.event.isin(list(events)))
    signup = cohort_by == "signup"
    if signup and customers is None:
        raise DataError("cohort_by='signup' needs the customers table", table="customers",
                        fix="Pass customers=ds.customers")
    span = None
    if as_of is None or signup:  # the latest activity (for as_of), the first (for signup cohorts)
        span = t.aggregate(first=t.ts.min(), last=t.ts.max()).execute().iloc[0]
    as_of_ts = _resolve_as_of(as_of, None if span is None else span["last"])
    t = t.filter(t.ts < as_of_ts)
    p = t.mutate(p=period_index(t.ts, key)).select("customer_id", "p").distinct()
    attrs = _attributes(t, "ts", by_cols, customers, "activity")
    if signup:
        cust = as_table(customers, "customers")
        cust = cust.filter(cust.signup_at < as_of_ts)
        cohorts = cust.group_by("customer_id").aggregate(cohort=period_index(cust.signup_at, key).min())
        cohorts = _with_attributes(cohorts, attrs, by_cols)
        sizes = cohorts.group_by(["cohort", *by_cols]).aggregate(cohort_size=cohorts.count()).execute()
        j = p.join(cohorts, "customer_id")
        j = j.mutate(offset=j.p - j.cohort).filter(lambda s: s.offset >= 0)
        if mode == "on":
            counts = j.group_by(["cohort", *by_cols, "offset"]).aggregate(retained=j.count()).execute()
        else:
            last = j.group_by(["customer_id", "cohort", *by_cols]).aggregate(last=j.offset.max())
            counts = last.group_by(["cohort", *by_cols, "last"]).aggregate(n=last.count()).execute()
    else:
        # one scan: a customer's cohort is their first active period, every cohort member is
        # active at offset 0, so the cohort sizes are read off the counts
        if mode == "on":
            j = p.mutate(cohort=p.p.min().over(ibis.window(group_by="customer_id")))
            j = _with_attributes(j.mutate(offset=j.p - j.cohort), attrs, by_cols)
            counts = j.group_by(["cohort", *by_cols, "offset"]).aggregate(retained=j.count()).execute()
            sizes = counts[counts["offset"] == 0].rename(columns={"retained": "cohort_size"})
        else:
            last = p.group_by("customer_id").aggregate(cohort=p.p.min(), last=p.p.max() - p.p.min())
            last = _with_attributes(last, attrs, by_cols)
            counts = last.group_by(["cohort", *by_cols, "last"]).aggregate(n=last.count()).execute()
            sizes = counts.groupby(["cohort", *by_cols], as_index=False, sort=True)["n"].sum()
            sizes = sizes.rename(columns={"n": "cohort_size"})
        sizes = sizes[["cohort", *by_cols, "cohort_size"]]
    columns = ["cohort", *by_cols, "offset", "cohort_size", "retained", "rate", "ci_low", "ci_high",
               "complete", "small_sample"]
    made = {"period": key, "mode": mode, "cohort_by": cohort_by, "events": None if events is None else tuple(events),
            "as_of": as_of_ts, "by": tuple(by_cols)}
    if sizes.empty:
        empty = pd.DataFrame(columns=columns)
        empty.attrs.update(made)
        return empty
    # the grid: every cohort × offset 0 … the oldest cohort's last elapsed offset
    cohort_idx = np.sort(sizes["cohort"].unique().astype("int64"))
    now_idx = int(period_index_of(as_of_ts - pd.Timedelta(1, "ns"), key))
    last_complete = now_idx if _period_end(np.array([now_idx]), key)[0] <= as_of_ts else now_idx - 1
    max_offset = max(int(last_complete - cohort_idx.min()), 0)
    grid = sizes.merge(pd.DataFrame({"offset": np.arange(max_offset + 1, dtype="int64")}), how="cross")
    grid["cohort"] = grid["cohort"].astype("int64")
    # a period before the first activity of the data was not observed: missing, not 0
    if not signup:
        data_start = int(cohort_idx.min())  # the first cohort is the first active period
    else:
        data_start = period_index_of(to_utc(span["first"]), key) if not pd.isna(span["first"]) else 0
    at = grid["cohort"] + grid["offset"]
    grid["complete"] = (at <= last_complete) & (at >= data_start)
    if mode == "on":
        counts["cohort"] = counts["cohort"].astype("int64")
        counts["offset"] = counts["offset"].astype("int64")
        grid = grid.merge(counts, on=["cohort", *by_cols, "offset"], how="left")
    else:
        counts["cohort"] = counts["cohort"].astype("int64")
        counts["last"] = counts["last"].astype("int64")
        merged = grid.merge(counts, on=["cohort", *by_cols], how="left")
        merged["retained"] = np.where(merged["last"] >= merged["offset"], merged["n"], 0)
        merged["retained"] = merged["retained"].fillna(0)
        grid = merged.groupby(["cohort", *by_cols, "offset", "cohort_size", "complete"],
                              as_index=False, dropna=False)["retained"].sum()
    grid["retained"] = grid["retained"].fillna(0).astype("int64")
    rates = rate_frame(grid["retained"], grid["cohort_size"], confidence)
    grid["rate"] = rates["rate"].to_numpy()
    grid["ci_low"] = rates["ci_low"].to_numpy()
    grid["ci_high"] = rates["ci_high"].to_numpy()
    grid["small_sample"] = rates["small_sample"].to_numpy()
    grid["retained"] = grid["retained"].astype("Int64")
    grid.loc[~grid["complete"], ["rate", "ci_low", "ci_high"]] = np.nan
    grid.loc[~grid["complete"], "retained"] = pd.NA
    grid["cohort_size"] = grid["cohort_size"].astype("int64")
    grid = grid.sort_values(["cohort", *by_cols, "offset"]).reset_index(drop=True)
    grid["cohort"] = _period_labels(grid["cohort"].to_numpy(), key)
    grid = grid[columns]
    grid.attrs.update(made)
    return grid


def retention_average(
    retention: pd.DataFrame,
    how: Literal["pooled", "simple"] = "pooled",
    confidence: float = 0.95,
    *,
    min_cohorts: int = MIN_COHORTS,
) -> pd.DataFrame:
    r"""The average retention curve over cohorts, pooled or simple — and labelled so.

    Only complete cells enter: at offset k the average is over the cohorts old enough to
    have a complete cell k, so later offsets rest on fewer, older cohorts — and a curve
    that "climbs" at late offsets often only shows that the oldest cohort was a better
    one. Offsets averaged over fewer than ``min_cohorts`` cohorts are flagged
    ``few_cohorts``: show them apart (or not at all).

    Parameters
    ----------
    retention : pandas.DataFrame
        Output of :func:`cohort_retention` (with or without a breakdown).
    how : {"pooled", "simple"}, default "pooled"
        ``"pooled"``: :math:`\sum_c \text{retained}_{c,k} / \sum_c |c|` — every customer
        weighs the same (big cohorts weigh more), with a Wilson interval on the sums.
        ``"simple"``: the unweighted mean of the cohort rates — every cohort weighs the
        same, with a t interval over cohorts (NaN with fewer than two).
    confidence : float, default 0.95
    min_cohorts : int, default :data:`MIN_COHORTS` (3)
        Fewest cohorts an offset's average may rest on without the ``few_cohorts`` flag.

    Returns
    -------
    pandas.DataFrame
        Per offset (and group): ``offset``, ``cohorts`` (how many cohorts the average
        rests on), ``few_cohorts`` (``cohorts < min_cohorts``), ``eligible`` (Σ cohort
        sizes), ``retained``, ``rate``, ``ci_low``, ``ci_high`` and ``average``
        (``"pooled"`` or ``"simple"``).

    Examples
    --------
    Cohorts of 1000 and 500 retaining 500 and 400 at month 1: pooled 900 / 1500 = 60 %,
    simple (50 % + 80 %) / 2 = 65 %.

    >>> r = pd.DataFrame({"cohort": ["2026-01", "2026-02"], "offset": [1, 1],
    ...     "cohort_size": [1000, 500], "retained": [500, 400], "rate": [0.5, 0.8],
    ...     "complete": [True, True]})
    >>> retention_average(r, "pooled")[["offset", "eligible", "retained", "rate", "average"]]
       offset  eligible  retained  rate average
    0       1      1500       900   0.6  pooled
    >>> float(retention_average(r, "simple")["rate"].iloc[0])
    0.65

    Two cohorts are fewer than three: the offset is flagged.

    >>> retention_average(r)[["offset", "cohorts", "few_cohorts"]]
       offset  cohorts  few_cohorts
    0       1        2         True
    """
    if how not in ("pooled", "simple"):
        raise ValueError(f"how must be 'pooled' or 'simple', got {how!r}")
    if int(min_cohorts) != min_cohorts or min_cohorts < 1:
        raise ValueError(f"min_cohorts must be a positive whole number, got {min_cohorts!r}")
    known = {"cohort", "offset", "cohort_size", "retained", "rate", "ci_low", "ci_high",
             "complete", "small_sample"}
    by_cols = [c for c in retention.columns if c not in known]
    cells = retention[retention["complete"].astype(bool)].copy()
    cells["retained"] = cells["retained"].astype("int64")
    grouped = cells.groupby([*by_cols, "offset"], sort=True)
    out = grouped.agg(cohorts=("cohort", "nunique"), eligible=("cohort_size", "sum"),
                      retained=("retained", "sum"), mean_rate=("rate", "mean"),
                      sd_rate=("rate", "std")).reset_index()
    if how == "pooled":
        rates = rate_frame(out["retained"], out["eligible"], confidence)
        out["rate"], out["ci_low"], out["ci_high"] = rates["rate"], rates["ci_low"], rates["ci_high"]
    else:
        out["rate"] = out["mean_rate"]
        low, high = t_interval(out["rate"].to_numpy(dtype=float), out["sd_rate"].to_numpy(dtype=float),
                               out["cohorts"].to_numpy(dtype=float), confidence)
        out["ci_low"] = np.clip(low, 0, 1)
        out["ci_high"] = np.clip(high, 0, 1)
    out["average"] = how
    out["few_cohorts"] = out["cohorts"] < min_cohorts
    return out[[*by_cols, "offset", "cohorts", "few_cohorts", "eligible", "retained", "rate", "ci_low",
                "ci_high", "average"]]


def retention_matrix(
    retention: pd.DataFrame, value: str = "rate", average: Literal["pooled", "simple"] | None = "pooled"
) -> pd.DataFrame:
    """The cohort × offset matrix of a :func:`cohort_retention` result, for a heatmap.

    Incomplete cells stay NaN. With ``average``, a last row labelled
    ``"pooled average"`` or ``"simple average"`` (see :func:`retention_average`) is added.
    A breakdown must be filtered to one group first.

    Examples
    --------
    >>> r = pd.DataFrame({"cohort": ["2026-01", "2026-01", "2026-02", "2026-02"],
    ...     "offset": [0, 1, 0, 1], "cohort_size": [10, 10, 5, 5], "retained": [10, 4, 5, None],
    ...     "rate": [1.0, 0.4, 1.0, None], "complete": [True, True, True, False]})
    >>> retention_matrix(r)
    offset            0    1
    cohort
    2026-01         1.0  0.4
    2026-02         1.0  NaN
    pooled average  1.0  0.4
    """
    matrix = retention.pivot(index="cohort", columns="offset", values=value)
    if average is not None and value == "rate":
        avg = retention_average(retention, average).set_index("offset")["rate"]
        matrix.loc[f"{average} average"] = avg.reindex(matrix.columns)
    return matrix


def retention_averages(
    retention: pd.DataFrame,
    max_offset: int | None = None,
    confidence: float = 0.95,
    *,
    min_cohorts: int = MIN_COHORTS,
) -> pd.DataFrame:
    """The pooled and the simple average retention side by side, one row per offset.

    Parameters
    ----------
    retention : pandas.DataFrame
        Output of :func:`cohort_retention` without a breakdown.
    max_offset : int, optional
        The last offset kept (default: every offset with a complete cell).
    confidence : float, default 0.95
    min_cohorts : int, default :data:`MIN_COHORTS`
        As in :func:`retention_average`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``offset``: ``pooled`` and ``simple`` (the two averages' rates, see
        :func:`retention_average`), ``cohorts`` (how many cohorts they rest on) and
        ``few_cohorts``.

    Raises
    ------
    ValueError
        When ``retention`` has a breakdown (filter it to one group first).

    Examples
    --------
    >>> r = pd.DataFrame({"cohort": ["2026-01", "2026-02", "2026-01"], "offset": [1, 1, 2],
    ...     "cohort_size": [1000, 500, 1000], "retained": [500, 400, 300], "rate": [0.5, 0.8, 0.3],
    ...     "complete": [True, True, True]})
    >>> retention_averages(r, min_cohorts=2)
            pooled  simple  cohorts  few_cohorts
    offset
    1          0.6    0.65        2        False
    2          0.3    0.30        1         True
    """
    known = {"cohort", "offset", "cohort_size", "retained", "rate", "ci_low", "ci_high", "complete", "small_sample"}
    groups = [c for c in retention.columns if c not in known]
    if groups:
        raise ValueError(f"retention has a breakdown ({', '.join(map(str, groups))}); filter it to one group "
                         "first, or use retention_curves for one curve per group")
    pooled = retention_average(retention, "pooled", confidence, min_cohorts=min_cohorts).set_index("offset")
    simple = retention_average(retention, "simple", confidence, min_cohorts=min_cohorts).set_index("offset")
    table = pd.DataFrame({"pooled": pooled["rate"], "simple": simple["rate"], "cohorts": pooled["cohorts"],
                          "few_cohorts": pooled["few_cohorts"]})
    if max_offset is not None:
        table = table[table.index <= max_offset]
    return table


def retention_curves(
    retention: pd.DataFrame,
    by: str,
    how: Literal["pooled", "simple"] = "pooled",
    max_offset: int | None = None,
    *,
    min_cohorts: int = MIN_COHORTS,
) -> pd.DataFrame:
    """One average retention curve per group of a breakdown, leaving out the offsets that
    rest on too few cohorts.

    Parameters
    ----------
    retention : pandas.DataFrame
        Output of :func:`cohort_retention` with ``by=by``.
    by : str
        The breakdown column (e.g. ``"channel"``).
    how : {"pooled", "simple"}, default "pooled"
        The average (see :func:`retention_average`).
    max_offset : int, optional
        The last offset kept.
    min_cohorts : int, default :data:`MIN_COHORTS`
        An offset of a group averaged over fewer cohorts is left out (NaN), not drawn.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``offset``, one column per group (sorted), the average rate; only the
        offsets where some group has a rate. Empty when none has.

    Examples
    --------
    >>> r = pd.DataFrame({"cohort": ["2026-01", "2026-02", "2026-01", "2026-01"],
    ...     "channel": ["ads", "ads", "seo", "ads"], "offset": [1, 1, 1, 2],
    ...     "cohort_size": [10, 10, 5, 10], "retained": [5, 3, 4, 2], "rate": [0.5, 0.3, 0.8, 0.2],
    ...     "complete": [True, True, True, True]})
    >>> retention_curves(r, "channel", min_cohorts=2)
    channel  ads
    offset
    1        0.4
    """
    if by not in retention.columns:
        raise ValueError(f"retention has no column {by!r}; compute it with cohort_retention(..., by={by!r})")
    curves = retention_average(retention, how, min_cohorts=min_cohorts)
    keep = ~curves["few_cohorts"] & curves["rate"].notna()
    if max_offset is not None:
        keep &= curves["offset"] <= max_offset
    curves = curves[keep]
    return curves.pivot(index="offset", columns=by, values="rate")
