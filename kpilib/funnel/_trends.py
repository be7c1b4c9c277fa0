"""Funnel trends: conversion by the day, week or month people entered, on a report clock.

:func:`funnel_trends` groups the per-user table of :func:`kpilib.funnel.funnel_users` by
the calendar period of each user's entry — one Ibis expression, run in the engine — and
gives every period its numerator, denominator and Wilson interval
(:func:`kpilib.stats.rate_frame`). Periods are read on the report's time zone
(:func:`kpilib.periods.local_day_index`: the data stay UTC, the day boundaries move).

A period is **complete** when it has ended by the end of the data and every entrant's
conversion window has closed; until then its conversion is provisional (people who
entered recently may still convert) and the figure draws it hollow. Periods with fewer
than 30 entrants are flagged ``small_sample``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import pandas as pd

from kpilib.data import as_table, column_list
from kpilib.funnel import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.funnel._matching import _reached_column
from kpilib.funnel._steps import _check_steps, funnel_users
from kpilib.metrics import computes
from kpilib.periods import (
    PANDAS_FREQ,
    PERIOD_NAMES,
    TimeLike,
    check_period,
    check_timezone,
    default_cutoff,
    local_day_index,
    local_period_bounds,
    period_index,
    period_index_of,
    to_utc,
)
from kpilib.stats import rate_frame

__all__ = ["describe_trends", "funnel_trends"]

#: The periods a trend can be read by.
TREND_PERIODS = ("D", "W", "M")
_FREQ = {"D": "D", **PANDAS_FREQ}


def _local_period(stamp: pd.Timestamp, zone: str | None, period: str) -> int:
    """:func:`kpilib.periods.period_index_of` of an instant's local wall clock."""
    wall = stamp.tz_convert(zone).tz_localize(None) if zone else stamp.tz_convert(None)
    return period_index_of(wall.tz_localize("UTC"), period)


def _data_range(events: ibis.Table, steps: list[str], start: pd.Timestamp | None, end: pd.Timestamp | None,
                as_of: pd.Timestamp | None) -> dict[str, pd.Timestamp | None]:
    """One query: the first and last step event inside the bounds (``first``, ``last``: the
    range the time-zone offsets must cover), the first and last step-1 event (``entry_first``,
    ``entry_last``: the periods shown) and the end of the data (``cutoff``)."""
    inside = ibis.literal(True)
    if start is not None:
        inside &= events.ts >= start
    if end is not None:
        inside &= events.ts < end
    if as_of is not None:
        inside &= events.ts < as_of
    named = inside & events.event.isin(sorted(set(steps)))
    entry = inside & (events.event == steps[0])
    row = events.aggregate(first=events.ts.min(where=named), last=events.ts.max(where=named),
                           entry_first=events.ts.min(where=entry), entry_last=events.ts.max(where=entry),
                           latest=events.ts.max()).to_pandas().iloc[0]
    found = {k: to_utc(row[k]) if pd.notna(row[k]) else None for k in row.index}
    found["cutoff"] = as_of if as_of is not None else default_cutoff(found.pop("latest"))
    return found


@computes("funnel_trend", "funnel_exclusion", "breakdown_attribution")
def funnel_trends(
    events: ibis.Table | pd.DataFrame,
    steps: Sequence[str],
    *,
    period: str = "W",
    timezone: str | None = None,
    each_step: bool = False,
    by: str | Sequence[str] | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    complete_only: bool = False,
    customers: ibis.Table | pd.DataFrame | None = None,
    **options: Any,
) -> pd.DataFrame:
    r"""Conversion by the day, week or month people entered the funnel, with intervals.

    Each entrant of :func:`kpilib.funnel.funnel_users` (same rules: entry, window,
    order …) is put in the calendar period of their entry, on the ``timezone`` clock; the
    rate of a period is the share of its entrants who reached the last step (or, with
    ``each_step``, each step) within their window. The grouping is one Ibis expression;
    the offsets of the time zone are computed in Python for the data's range
    (:func:`kpilib.periods.local_day_index`).

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    steps : list of str
        Funnel steps, in order.
    period : {"W", "D", "M"}, default "W"
        Entry day, week (Monday–Sunday) or month.
    timezone : str, optional
        IANA name of the report clock (e.g. ``"Europe/Berlin"``) for the period
        boundaries, daylight saving included; None (the default) is UTC. Data stay UTC.
    each_step : bool, default False
        One row per period and step 2..n (conversion from the entry to that step) instead
        of the last step only.
    by : str or list of str, optional
        Breakdown columns, as in :func:`kpilib.funnel.funnel` (one trend per group).
    start, end : str or pandas.Timestamp, optional
        Entries in ``[start, end)``; naive values are read on the ``timezone`` clock
        (``"2026-10-01"`` is local midnight), aware ones keep their zone.
    as_of : str or pandas.Timestamp, optional
        End of the data, exclusive (UTC; default: the day after the latest event's day).
    complete_only : bool, default False
        Count only entrants whose window has closed.
    customers : ibis.Table or pandas.DataFrame, optional
        For ``by`` columns the events lack.
    **options
        Any other keyword of :func:`kpilib.funnel.funnel_users` (``window``, ``order``,
        and the funnel's other rules), passed on unchanged; what is not given keeps that
        function's default.

    Returns
    -------
    pandas.DataFrame
        One row per ``by`` group, period (every period from the first to the last entry,
        empty ones included) and step: the ``by`` columns, ``period`` (label, e.g.
        ``2026-10``, ``2026-10-05/2026-10-11``), ``period_start`` (local first day),
        ``step_index``, ``step``, ``numerator`` (entrants reaching the step),
        ``denominator`` (entrants), ``rate``, ``ci_low``, ``ci_high`` (95% Wilson),
        ``small_sample`` (under 30 entrants), ``users_window_open`` (entrants whose window
        is still open), ``period_complete`` (the period ended by the end of the data) and
        ``complete`` (that, and no open window: a settled number). ``attrs`` holds
        ``period``, ``timezone``, ``steps`` and ``as_of``.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c"],
    ...     "ts": ["2026-10-01 09:00", "2026-10-02 10:00", "2026-10-01 23:30",
    ...            "2026-10-09 08:00", "2026-10-09 09:00"],
    ...     "event": ["visit", "signup", "visit", "visit", "signup"]})
    >>> t = funnel_trends(events, ["visit", "signup"], period="D", timezone="Europe/Berlin", window="7D")
    >>> t[["period", "numerator", "denominator", "rate", "complete"]]
           period  numerator  denominator  rate  complete
    0  2026-10-01          1            1   1.0      True
    1  2026-10-02          0            1   0.0      True
    2  2026-10-03          0            0   NaN      True
    3  2026-10-04          0            0   NaN      True
    4  2026-10-05          0            0   NaN      True
    5  2026-10-06          0            0   NaN      True
    6  2026-10-07          0            0   NaN      True
    7  2026-10-08          0            0   NaN      True
    8  2026-10-09          1            1   1.0     False

    ``b``'s visit at 23:30 UTC is 01:30 on 2 October in Berlin; ``c``'s window is still
    open at the end of the data (10-10).
    """
    steps = _check_steps(steps)
    period = check_period(period, TREND_PERIODS)
    zone = check_timezone(timezone)
    by_columns = column_list(by)
    table = as_table(events, "events")
    start_utc, end_utc = to_utc(start, "start", zone), to_utc(end, "end", zone)
    as_of_utc = to_utc(as_of, "as_of")

    users = funnel_users(table, steps, by=by_columns, start=start_utc, end=end_utc, as_of=as_of_utc,
                         customers=customers, **options)
    bounds = _data_range(table, steps, start_utc, end_utc, as_of_utc)
    targets = list(range(2, len(steps) + 1)) if each_step and len(steps) > 1 else [len(steps)]

    counts = period_counts(users, targets, by_columns, period, zone, bounds["first"], bounds["last"],
                           complete_only=complete_only).to_pandas()
    return _trend_frame(counts, steps, targets, by_columns, period, zone, bounds, end_utc)


def period_counts(users: ibis.Table, targets: list[int], by: list[str], period: str, zone: str | None,
                  first: pd.Timestamp | None, last: pd.Timestamp | None, *, complete_only: bool = False,
                  portable: bool = False) -> ibis.Table:
    """Entrants, entrants with an open window and users reaching each ``targets`` step, per
    ``by`` group and entry period: the one expression of :func:`funnel_trends`.

    ``users`` is :func:`kpilib.funnel.funnel_users`; the entry is ``entered_at`` (else
    ``step_1_at``), read on the ``zone`` clock with the offsets of ``[first, last]``;
    ``portable`` as in :func:`kpilib.periods.epoch_seconds`.
    """
    entry = users["entered_at"] if "entered_at" in users.columns else users["step_1_at"]
    users = users.mutate(period_number=period_index(local_day_index(entry, zone, first, last, portable=portable), period))
    if complete_only:
        users = users.filter(~users.window_open)
    aggregates = {"entered": users.count(), "users_window_open": users.window_open.sum(),
                  **{f"users_{k}": users[_reached_column(k)].sum() for k in targets}}
    return users.group_by([*by, "period_number"]).agg(**aggregates)


def _trend_frame(counts: pd.DataFrame, steps: list[str], targets: list[int], by: list[str], period: str,
                 zone: str | None, bounds: dict[str, pd.Timestamp | None], end: pd.Timestamp | None) -> pd.DataFrame:
    """Every period of the range for every group, labelled, with rates and flags (small, pandas)."""
    first, last, cutoff = bounds["entry_first"], bounds["entry_last"], bounds["cutoff"]
    columns = [*by, "period", "period_start", "step_index", "step", "numerator", "denominator", "rate",
               "ci_low", "ci_high", "small_sample", "users_window_open", "period_complete", "complete"]
    attrs = {"period": period, "timezone": zone, "steps": list(steps), "as_of": cutoff}
    if counts.empty:
        out = pd.DataFrame(columns=columns)
        out.attrs.update(attrs)
        return out
    numbers = counts["period_number"].astype("int64")
    lo, hi = int(numbers.min()), int(numbers.max())
    if first is not None and last is not None:  # the step-1 events' range, entrants or not
        lo, hi = min(lo, _local_period(first, zone, period)), max(hi, _local_period(last, zone, period))
    if end is not None and cutoff is not None:  # up to the end asked for, or of the data
        hi = max(hi, _local_period(min(end, cutoff) - pd.Timedelta(1, "us"), zone, period))
    grid = pd.DataFrame({"period_number": range(lo, hi + 1)})
    groups = counts[by].drop_duplicates() if by else pd.DataFrame(index=[0])
    grid = groups.merge(grid, how="cross")
    full = grid.merge(counts, on=[*by, "period_number"], how="left")
    value_columns = [c for c in counts.columns if c not in by and c != "period_number"]
    full[value_columns] = full[value_columns].astype("float64").fillna(0).astype("int64")
    if by:
        full = full.sort_values([*by, "period_number"], na_position="last", ignore_index=True)
    bounds = local_period_bounds(full["period_number"], period, zone)
    period_complete = (bounds["end_utc"] <= cutoff) if cutoff is not None else pd.Series(False, index=full.index)

    parts = []
    for k in targets:
        rates = rate_frame(full[f"users_{k}"], full["entered"])
        part = pd.DataFrame({
            **{c: full[c].to_numpy() for c in by},
            "period": [str(pd.Period(p, _FREQ[period])) for p in bounds["period_start"]],
            "period_start": bounds["period_start"].to_numpy(),
            "step_index": k,
            "step": steps[k - 1],
            "numerator": rates["numerator"].to_numpy(),
            "denominator": rates["denominator"].to_numpy(),
            "rate": rates["rate"].to_numpy(),
            "ci_low": rates["ci_low"].to_numpy(),
            "ci_high": rates["ci_high"].to_numpy(),
            "small_sample": rates["small_sample"].to_numpy(),
            "users_window_open": full["users_window_open"].to_numpy(),
            "period_complete": period_complete.to_numpy(),
        })
        part["complete"] = part["period_complete"] & (part["users_window_open"] == 0)
        part["_order"] = range(len(part))
        parts.append(part)
    out = pd.concat(parts, ignore_index=True).sort_values(["_order", "step_index"], kind="stable")
    out = out.drop(columns="_order").reset_index(drop=True)[columns]
    out["step_index"] = out["step_index"].astype("int64")
    out.attrs.update(attrs)
    return out


def describe_trends(period: str = "W", *, timezone: str | None = None) -> str:
    """How to read the funnel trend, in Markdown, from its parameters.

    The notebook's prose about the trend comes from here, so it names the period and the
    time zone actually used.

    Examples
    --------
    >>> print(describe_trends("W", timezone="Europe/Berlin"))
    Each point is the conversion of the people who entered the funnel in one week (Monday to Sunday, on Europe/Berlin time), with its 95% interval as a band. Hollow points on a dashed line are not settled: the week has not ended or some of its entrants' windows are still open, so their conversion may still rise. Grey points rest on fewer than 30 entrants; a gap is a week nobody entered.
    >>> print(describe_trends("M").split(",")[0])
    Each point is the conversion of the people who entered the funnel in one month (UTC)
    """
    period = check_period(period, TREND_PERIODS)
    zone = check_timezone(timezone)
    unit = PERIOD_NAMES[period]
    when = f"({'Monday to Sunday, on ' if period == 'W' else 'on '}{zone} time)" if zone else (
        "(Monday to Sunday, UTC)" if period == "W" else "(UTC)")
    return (f"Each point is the conversion of the people who entered the funnel in one {unit} {when}, with its "
            f"95% interval as a band. Hollow points on a dashed line are not settled: the {unit} has not ended "
            f"or some of its entrants' windows are still open, so their conversion may still rise. Grey points "
            f"rest on fewer than 30 entrants; a gap is a {unit} nobody entered.")
