"""Active users: DAU, WAU and MAU, stickiness and the lifecycle of active users.

Computed on the ``events`` table. A customer is *active* on a day when they have at least
one *activity event* (by default ``page_view``, ``feature_use`` and ``share``: product
usage, not marketing-site visits) that day. Days, weeks (Monday to Sunday) and months are
UTC calendar periods. Every series starts where the data start: periods before the first
activity were not observed and are no rows, while a later period without activity is a
row of 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import ibis
import numpy as np
import pandas as pd

from kpilib.data import as_table, column_list
from kpilib.deprecation import renamed_arguments
from kpilib.engagement._calendar import (
    _naive,
    _period_bounds,
    _period_dates,
    _period_number,
    _period_starts,
)
from kpilib.metrics import Metric, computes, register
from kpilib.periods import (
    TimeLike,
    check_period,
    day_index,
    month_bounds,
    period_index,
    period_index_of,
    period_start_of_index,
    time_filter,
    to_utc,
)

#: Events that make a customer *active* (product usage; marketing visits are not).
DEFAULT_ACTIVITY_EVENTS: tuple[str, ...] = ("page_view", "feature_use", "share")

_EXAMPLE_ACTIVITY = (
    ">>> import pandas as pd\n"
    ">>> events = pd.DataFrame({\"customer_id\": [\"a\", \"a\", \"b\", \"a\"],\n"
    "...     \"ts\": [\"2026-10-01 09:00\", \"2026-10-01 18:00\", \"2026-10-01 10:00\", \"2026-10-03 08:00\"],\n"
    "...     \"event\": [\"page_view\"] * 4})\n"
)


def _active_events(events: ibis.Table | pd.DataFrame, activity_events: Sequence[str] | None) -> ibis.Table:
    """The events that make a customer active (all events when ``activity_events`` is None)."""
    events = as_table(events, "events")
    if activity_events is None:
        return events
    names = column_list(activity_events)
    if not names:
        raise ValueError("activity_events is empty; give event names such as ['page_view'] or None for all")
    return events.filter(events.event.isin(names))


def _first_activity(events: ibis.Table | pd.DataFrame, activity_events: Sequence[str] | None,
                    since: pd.Timestamp) -> pd.Timestamp | None:
    """The first activity in the data (naive UTC), or ``since`` (naive) when an activity
    comes before it; None when there is none.

    A series starts at the later of its ``start`` and the first activity, so only whether
    an activity precedes ``start`` matters then: one such row answers it (the engine stops
    there) instead of the minimum of every activity.
    """
    acts = _active_events(events, activity_events)
    if len(acts.filter(acts.ts < since).select("ts").limit(1).execute()):
        return _naive(since)
    first = acts.ts.min().execute()
    return None if first is None or pd.isna(first) else _naive(to_utc(first))


def _active_days(events: ibis.Table | pd.DataFrame, activity_events: Sequence[str] | None,
                 start: pd.Timestamp | None, end: pd.Timestamp | None) -> ibis.Table:
    """Distinct (customer_id, day) pairs of activity in ``[start, end)``; ``day`` is the
    day number (:func:`kpilib.periods.day_index`)."""
    acts = time_filter(_active_events(events, activity_events), "ts", start, end)
    return acts.select(customer_id=acts.customer_id, day=day_index(acts.ts)).distinct()


def _rolling_counts(days: ibis.Table, windows: Sequence[int]) -> pd.DataFrame:
    """Per day number (``date``) and window length n: +1 where a customer's coverage starts,
    −1 where it stops.

    A customer active on day d is counted on days d … d+n−1; consecutive active days give
    touching, non-overlapping intervals [d, min(d + n, next active day)), so the running
    sum of the deltas is the distinct count of customers active in the trailing n days.
    """
    w = ibis.window(group_by="customer_id", order_by="day")
    marked = days.mutate(next_day=days.day.lead().over(w))
    parts = []
    for n in windows:
        reach = marked.day + n
        stop = ibis.least(reach, ibis.coalesce(marked.next_day, reach))
        parts.append(marked.select(date=marked.day, window=ibis.literal(n), delta=ibis.literal(1)))
        parts.append(marked.select(date=stop, window=ibis.literal(n), delta=ibis.literal(-1)))
    deltas = ibis.union(*parts, distinct=False)
    return deltas.group_by(["window", "date"]).agg(delta=deltas.delta.sum()).execute()


register(
    Metric(
        name="dau",
        title="Daily active users (DAU)",
        stage="engagement",
        formula=r"\text{DAU}(d) = \#\{u : u \text{ has an activity event on day } d\}, \quad "
        r"\text{AU}_n(d) = \#\{u : u \text{ has an activity event in } [d - n + 1,\ d + 1)\}",
        definition=(
            "Distinct customers with at least one activity event (product usage) on a UTC "
            "calendar day. The rolling 7- and 30-day variants count distinct customers "
            "active in the 7 or 30 days ending that day."
        ),
        pitfalls=(
            "Everything depends on which events count as activity: counting logins or "
            "marketing visits inflates it. Weekends and holidays make daily series saw-toothed; "
            "compare rolling values or the same weekday."
        ),
        unit="count",
        higher_is_better=True,
        example=_EXAMPLE_ACTIVITY
        + ">>> from kpilib.engagement import active_users\n"
        ">>> active_users(events, \"D\")[[\"period\", \"active_users\", \"active_users_7d\"]]\n"
        "      period  active_users  active_users_7d\n"
        "0 2026-10-01             2                2\n"
        "1 2026-10-02             0                2\n"
        "2 2026-10-03             1                2",
    )
)


register(
    Metric(
        name="wau",
        title="Weekly active users (WAU)",
        stage="engagement",
        formula=r"\text{WAU}(w) = \#\{u : u \text{ has an activity event in week } w\}",
        definition="Distinct customers active in a calendar week (Monday to Sunday, UTC).",
        pitfalls=(
            "A distinct count: WAU is not the sum of the DAUs of the week. Calendar weeks "
            "split months; for a month-end view use the rolling 7-day count."
        ),
        unit="count",
        higher_is_better=True,
        example=_EXAMPLE_ACTIVITY
        + ">>> from kpilib.engagement import active_users\n"
        ">>> active_users(events, \"W\")\n"
        "      period  active_users\n"
        "0 2026-09-28             2",
    )
)


register(
    Metric(
        name="mau",
        title="Monthly active users (MAU)",
        stage="engagement",
        formula=r"\text{MAU}(m) = \#\{u : u \text{ has an activity event in month } m\}",
        definition="Distinct customers active in a calendar month (UTC).",
        pitfalls=(
            "Months have 28–31 days, so MAU moves with the calendar; a customer active once "
            "counts as much as a daily user (see stickiness). Bots and internal accounts "
            "inflate it: exclude them upstream."
        ),
        unit="count",
        higher_is_better=True,
        example=_EXAMPLE_ACTIVITY
        + ">>> from kpilib.engagement import active_users\n"
        ">>> active_users(events, \"M\")\n"
        "      period  active_users\n"
        "0 2026-10-01             2",
    )
)


@computes("dau", "wau", "mau")
@renamed_arguments(freq="period")
def active_users(
    events: ibis.Table | pd.DataFrame,
    period: Literal["D", "W", "M"] = "D",
    start: TimeLike = None,
    end: TimeLike = None,
    activity_events: Sequence[str] | None = DEFAULT_ACTIVITY_EVENTS,
) -> pd.DataFrame:
    r"""Distinct active customers per calendar day (DAU), week (WAU) or month (MAU).

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    period : {"D", "W", "M"}, default "D"
        Calendar day, week (Monday to Sunday) or month, in UTC. (Formerly ``freq``,
        deprecated.)
    start, end : str or Timestamp, optional
        Report periods overlapping ``[start, end)``; by default from the first to the last
        activity. Periods without activity are rows with 0, not missing — except before
        the first activity of the data, which were not observed: the series starts there
        even when ``start`` is earlier.
    activity_events : list of str or None
        Events that make a customer active; ``None`` counts every event.

    Returns
    -------
    pandas.DataFrame
        ``period`` (start of the period, UTC, naive) and ``active_users``. With
        ``period="D"`` also ``active_users_7d`` and ``active_users_30d``: distinct customers
        active in the 7 and 30 days ending that day (the rolling WAU and MAU).

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "b", "a"],
    ...     "ts": ["2026-09-30 10:00", "2026-10-02 10:00", "2026-10-03 11:00"],
    ...     "event": ["page_view"] * 3})
    >>> active_users(events, "M")
          period  active_users
    0 2026-09-01             1
    1 2026-10-01             2
    """
    period = check_period(period, ("D", "W", "M"))
    start, end = to_utc(start), to_utc(end)
    acts = time_filter(_active_events(events, activity_events), "ts", start, end)
    # from a midnight start, the daily counts are the rolling 1-day counts of the query that
    # gives the 7- and 30-day ones (a customer active on day d covers d alone): one scan
    whole_days = period == "D" and (start is None or start == start.normalize())
    if period == "D":
        lookback = None if start is None else start - pd.Timedelta(days=29)
        deltas = _rolling_counts(_active_days(events, activity_events, lookback, end),
                                 (1, 7, 30) if whole_days else (7, 30))
        deltas["date"] = _period_dates(deltas["date"], "D")
        full = pd.date_range(deltas["date"].min(), deltas["date"].max()) if len(deltas) else None
        running = {n: deltas[deltas.window == n].groupby("date")["delta"].sum().reindex(full, fill_value=0).cumsum()
                   for n in (1, 7, 30)} if full is not None else {}
    if whole_days:
        daily = running[1] if running else pd.Series([], index=pd.DatetimeIndex([]), dtype="int64")
        daily = daily[(daily > 0) & ((daily.index >= _naive(start)) if start is not None else True)]
        counts = pd.DataFrame({"period": daily.index.astype("datetime64[s]"), "active_users": daily.to_numpy()})
    else:
        if period == "D":
            counts = _active_days(events, activity_events, start, end)
            counts = counts.group_by("day").agg(active_users=counts.count()).rename(period="day")
        else:
            acts = acts.mutate(period=_period_number(acts.ts, period))
            counts = acts.group_by("period").agg(active_users=acts.customer_id.nunique())
        counts = counts.execute()
        counts["period"] = _period_dates(counts["period"], period)
    columns = ["period", "active_users"] + (["active_users_7d", "active_users_30d"] if period == "D" else [])
    data_start = _first_activity(events, activity_events, start) if start is not None else None
    bounds = _period_bounds(counts["period"], start, end, data_start)
    if bounds is None:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "period" else "int64")
                             for c in columns})
    calendar = _period_starts(period, *bounds)
    out = counts.set_index("period").reindex(calendar).fillna(0).astype("int64").reset_index()
    if period == "D":
        for n in (7, 30):
            counted = running.get(n, pd.Series(dtype="int64"))
            out[f"active_users_{n}d"] = counted.reindex(calendar, fill_value=0).to_numpy().astype("int64")
    return out[columns]


register(
    Metric(
        name="stickiness",
        title="Stickiness (DAU/MAU)",
        stage="engagement",
        formula=r"\text{stickiness}(m) = \frac{\frac{1}{D_m}\sum_{d \in m} \text{DAU}(d)}{\text{MAU}(m)} = "
        r"\frac{\sum_{u} \text{active days}_u(m)}{D_m \cdot \text{MAU}(m)} = "
        r"\frac{\text{mean active days per monthly user}}{D_m}",
        definition=(
            "The average daily active users of the month divided by its monthly active "
            "users: the share of the month's days an average monthly user is active. 1 means "
            "every monthly user comes every day. The stickiness histogram shows the whole "
            "distribution: how many customers were active on exactly k days."
        ),
        pitfalls=(
            "A ratio: it rises when occasional users leave (MAU falls) even if nobody uses "
            "the product more. Products used weekly by design have a low DAU/MAU and are not "
            "failing. D_m counts the observed days of the month (a partial month at the end "
            "of the data is not diluted)."
        ),
        unit="ratio",
        higher_is_better=True,
        example=_EXAMPLE_ACTIVITY
        + ">>> from kpilib.engagement import stickiness\n"
        ">>> stickiness(events, start=\"2026-10-01\", end=\"2026-10-04\")[[\"mau\", \"customer_days\", \"days\", \"stickiness\"]]\n"
        "   mau  customer_days  days  stickiness\n"
        "0    2              3     3         0.5",
        reference="Croll & Yoskovitz, Lean Analytics (2013), ch. 16; a16z, '16 more startup metrics'.",
    )
)


@computes("stickiness")
def stickiness(
    events: ibis.Table | pd.DataFrame,
    start: TimeLike = None,
    end: TimeLike = None,
    activity_events: Sequence[str] | None = DEFAULT_ACTIVITY_EVENTS,
) -> pd.DataFrame:
    r"""Stickiness per calendar month: average DAU over MAU.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    start, end : str or Timestamp, optional
        The observed range ``[start, end)``; by default from the first activity day to the
        last. A ``start`` before the month of the first activity of the data moves to
        that month (earlier months were not observed, so they are no rows). A month cut
        by the range counts only its observed days.
    activity_events : list of str or None
        Events that make a customer active.

    Returns
    -------
    pandas.DataFrame
        Per month: ``period``, ``days`` (observed days :math:`D_m`), ``mau``,
        ``customer_days`` (the sum of the daily DAUs), ``mean_dau``, ``stickiness``,
        ``mean_active_days`` (active days per monthly user). A month without activity has
        ``mau`` 0 and a NaN stickiness. ``attrs`` hold ``start``, ``end`` (UTC) and
        ``activity_events`` (a tuple, or None), so that a reader of the frame
        (:func:`headline_metrics`) can check what it holds.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "ts": ["2026-10-01", "2026-10-02", "2026-10-02"], "event": ["page_view"] * 3})
    >>> stickiness(events, "2026-10-01", "2026-11-01")[["period", "days", "mau", "stickiness"]]
          period  days  mau  stickiness
    0 2026-10-01    31    2    0.048387
    """
    start, end = to_utc(start), to_utc(end)
    days = _active_days(events, activity_events, start, end)
    days = days.mutate(period=_period_number(days.day, "M"))
    monthly = days.group_by("period").agg(
        mau=days.customer_id.nunique(), customer_days=days.count(),
        first_day=days.day.min(), last_day=days.day.max(),
    ).execute()
    monthly["period"] = _period_dates(monthly["period"], "M")
    monthly["first_day"] = _period_dates(monthly["first_day"], "D")
    monthly["last_day"] = _period_dates(monthly["last_day"], "D")
    columns = ["period", "days", "mau", "customer_days", "mean_dau", "stickiness", "mean_active_days"]
    if start is not None:
        data_start = _first_activity(events, activity_events, start)
        first = None if data_start is None else max(_naive(start), data_start.to_period("M").start_time)
    else:
        first = pd.to_datetime(monthly.first_day).min() if len(monthly) else None
    last = (_naive(end) - pd.Timedelta(days=1)).normalize() if end is not None else (
        pd.to_datetime(monthly.last_day).max() if len(monthly) else None)
    settings = {"start": start, "end": end,
                "activity_events": None if activity_events is None else tuple(column_list(activity_events))}
    if first is None or last is None or last < first:
        out = pd.DataFrame(columns=columns)
        out.attrs.update(settings)
        return out
    calendar = _period_starts("M", first, last)
    out = (monthly.set_index("period")[["mau", "customer_days"]].reindex(calendar)
           .fillna(0).astype("int64").reset_index())
    lo = out.period.clip(lower=pd.Timestamp(first).normalize())
    hi = (out.period + pd.offsets.MonthBegin(1)).clip(upper=pd.Timestamp(last).normalize() + pd.Timedelta(days=1))
    out["days"] = ((hi - lo) / pd.Timedelta(days=1)).astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["mean_dau"] = out.customer_days / out.days
        out["stickiness"] = np.where(out.mau > 0, out.mean_dau / out.mau.where(out.mau > 0), np.nan)
        out["mean_active_days"] = np.where(out.mau > 0, out.customer_days / out.mau.where(out.mau > 0), np.nan)
    out = out[columns]
    out.attrs.update(settings)
    return out


@computes("stickiness")
def stickiness_histogram(
    events: ibis.Table | pd.DataFrame,
    month: str,
    activity_events: Sequence[str] | None = DEFAULT_ACTIVITY_EVENTS,
) -> pd.DataFrame:
    """How many customers were active on exactly k days of the month (and on at least k).

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    month : str
        ``"YYYY-MM"``.
    activity_events : list of str or None
        Events that make a customer active.

    Returns
    -------
    pandas.DataFrame
        One row for every k = 1 … days in the month: ``active_days`` (k), ``customers``
        (active on exactly k days), ``share`` (of the month's active users), ``at_least``
        (active on k days or more) and ``share_at_least``. The mean of k weighted by
        ``customers``, divided by the days of the month, is the month's stickiness.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "ts": ["2026-10-01", "2026-10-02", "2026-10-02"], "event": ["page_view"] * 3})
    >>> stickiness_histogram(events, "2026-10").head(3)
       active_days  customers  share  at_least  share_at_least
    0            1          1    0.5         2             1.0
    1            2          1    0.5         1             0.5
    2            3          0    0.0         0             0.0
    """
    lo, hi = month_bounds(month)
    days = _active_days(events, activity_events, lo, hi)
    per_customer = days.group_by("customer_id").agg(active_days=days.count())
    counts = per_customer.group_by("active_days").agg(customers=per_customer.count()).execute()
    n_days = (hi - lo).days
    out = (counts.set_index("active_days")["customers"].reindex(range(1, n_days + 1), fill_value=0)
           .astype("int64").rename_axis("active_days").reset_index())
    total = out.customers.sum()
    out["share"] = out.customers / total if total else np.nan
    out["at_least"] = out.customers[::-1].cumsum()[::-1].astype("int64")
    out["share_at_least"] = out.at_least / total if total else np.nan
    return out


register(
    Metric(
        name="user_quick_ratio",
        title="User quick ratio (lifecycle)",
        stage="engagement",
        formula=r"\text{quick ratio}(t) = \frac{\text{new}(t) + \text{resurrecting}(t)}{|\text{dormant}(t)|}, \quad "
        r"\text{active}(t) = \text{active}(t-1) + \text{new}(t) + \text{resurrecting}(t) - |\text{dormant}(t)|",
        definition=(
            "Growth accounting of active users. Each period a customer active in it is new "
            "(first period ever active), returning (active in the previous period too) or "
            "resurrecting (not in the previous period, but before); a customer active in the "
            "previous period and not in this one is dormant (shown negative). Above 1 the "
            "active base grows; active(t) = active(t−1) + new + resurrecting − dormant."
        ),
        pitfalls=(
            "The first period of the data calls everybody new (no history before it). Short "
            "periods (weeks) make more customers dormant and resurrecting than months do; a "
            "quick ratio near 1 with large flows hides heavy churn of users."
        ),
        unit="ratio",
        higher_is_better=True,
        example=">>> import pandas as pd\n"
        ">>> from kpilib.engagement import lifecycle\n"
        ">>> events = pd.DataFrame({\"customer_id\": [\"a\", \"a\", \"b\", \"a\"],\n"
        "...     \"ts\": [\"2026-07-05\", \"2026-08-05\", \"2026-08-09\", \"2026-10-01\"],\n"
        "...     \"event\": [\"page_view\"] * 4})\n"
        ">>> lifecycle(events)[[\"period\", \"new\", \"returning\", \"resurrecting\", \"dormant\", \"quick_ratio\"]]\n"
        "      period  new  returning  resurrecting  dormant  quick_ratio\n"
        "0 2026-07-01    1          0             0        0          NaN\n"
        "1 2026-08-01    1          1             0        0          NaN\n"
        "2 2026-09-01    0          0             0       -2          0.0\n"
        "3 2026-10-01    0          0             1        0          NaN",
        reference="Jonathan Hsu (Social Capital), 'Diligence at Social Capital' (2015): growth accounting.",
    )
)


@computes("user_quick_ratio")
@renamed_arguments(freq="period")
def lifecycle(
    events: ibis.Table | pd.DataFrame,
    period: Literal["W", "M"] = "M",
    start: TimeLike = None,
    end: TimeLike = None,
    activity_events: Sequence[str] | None = DEFAULT_ACTIVITY_EVENTS,
) -> pd.DataFrame:
    r"""Growth accounting of active users: new, returning, resurrecting and dormant.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table. The whole history is used to classify customers, whatever
        ``start`` is, so "new" really means first ever.
    period : {"W", "M"}, default "M"
        Calendar weeks (Monday to Sunday) or months, UTC. (Formerly ``freq``,
        deprecated.)
    start, end : str or Timestamp, optional
        Report the periods overlapping ``[start, end)``; by default from the first to the
        last period with activity. The series never starts before the first activity of
        the data (earlier periods were not observed).
    activity_events : list of str or None
        Events that make a customer active.

    Returns
    -------
    pandas.DataFrame
        Per period: ``period``, ``new`` (first period ever active), ``returning`` (active in
        this and the previous period), ``resurrecting`` (active now, not in the previous
        period, but before), ``dormant`` (active in the previous period, not now; a
        **negative** count for stacked bars), ``active`` (= new + returning +
        resurrecting) and ``quick_ratio`` = (new + resurrecting) / |dormant|.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "ts": ["2026-09-01", "2026-10-01", "2026-10-05"], "event": ["page_view"] * 3})
    >>> lifecycle(events)[["period", "new", "returning", "resurrecting", "dormant", "active"]]
          period  new  returning  resurrecting  dormant  active
    0 2026-09-01    1          0             0        0       1
    1 2026-10-01    1          1             0        0       2
    """
    period = check_period(period, ("W", "M"))
    start, end = to_utc(start), to_utc(end)
    acts = time_filter(_active_events(events, activity_events), "ts", None, end)
    per = acts.select(customer_id=acts.customer_id, idx=period_index(acts.ts, period)).distinct()
    w = ibis.window(group_by="customer_id", order_by="idx")
    per = per.mutate(prev=per.idx.lag().over(w), next=per.idx.lead().over(w))
    state = ibis.cases(
        (per.prev.isnull(), "new"),
        (per.prev == per.idx - 1, "returning"),
        else_="resurrecting",
    )
    active = per.select(idx=per.idx, state=state)
    gone = per.filter(per.next.isnull() | (per.next > per.idx + 1))
    dormant = gone.select(idx=gone.idx + 1, state=ibis.literal("dormant"))
    flows = ibis.union(active, dormant, distinct=False)
    counts = flows.group_by(["idx", "state"]).agg(customers=flows.count()).execute()
    states = ["new", "returning", "resurrecting", "dormant"]
    columns = ["period", *states, "active", "quick_ratio"]
    if counts.empty:
        return pd.DataFrame(columns=columns)
    wide = counts.pivot_table(index="idx", columns="state", values="customers", aggfunc="sum")
    wide = wide.reindex(columns=states).fillna(0).astype("int64").rename_axis(columns=None)
    last_active = counts.loc[counts.state != "dormant", "idx"].max() if len(counts) else None
    lo = max(period_index_of(start, period), wide.index.min()) if start is not None else wide.index.min()
    hi = period_index_of(end - pd.Timedelta(microseconds=1), period) if end is not None else last_active
    wide = wide.reindex(range(int(lo), int(hi) + 1), fill_value=0)
    out = wide.rename_axis("idx").reset_index()
    out.insert(0, "period", period_start_of_index(out.idx, period))
    out["dormant"] = -out["dormant"]
    out["active"] = out.new + out.returning + out.resurrecting
    with np.errstate(divide="ignore", invalid="ignore"):
        out["quick_ratio"] = np.where(out.dormant < 0, (out.new + out.resurrecting) / -out.dormant.where(out.dormant < 0), np.nan)
    return out[columns]
