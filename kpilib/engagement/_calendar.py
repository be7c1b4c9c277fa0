"""Calendar periods of the engagement series, in one place.

Days, weeks (Monday to Sunday) and months are UTC calendar periods, and a series labels
each by its first instant (a naive UTC timestamp). The engine numbers the period of a
time with :func:`_period_number` (:func:`kpilib.periods.period_index`: integer arithmetic
on the epoch, no time-zone conversion per row) — the only place engagement does that —,
groups by the number, and pandas turns the few numbers that come back into the periods'
first days (:func:`_period_dates`) and lays out the calendar a series is reindexed on
(:func:`_period_starts`), so periods without activity are rows of 0. Arguments are
checked with :func:`kpilib.periods.check_period`.
"""

from __future__ import annotations

import ibis
import pandas as pd

from kpilib.periods import PANDAS_FREQ, period_index, period_start_of_index

#: pandas frequency of the first days of consecutive periods (weeks start on Monday).
_STARTS = {"D": "D", "W": "W-MON", "M": "MS"}


def _naive(stamp: pd.Timestamp | None) -> pd.Timestamp | None:
    """A UTC timestamp without its time zone (the labels of the returned series)."""
    return None if stamp is None else stamp.tz_convert("UTC").tz_localize(None)


def _period_number(value: ibis.Value, period: str) -> ibis.Value:
    """The number of the UTC day, week or month holding the Ibis time ``value`` (a
    timestamp, a date or a day number), as :func:`kpilib.periods.period_index`."""
    return period_index(value, period)


def _period_dates(numbers: pd.Series, period: str) -> pd.Series:
    """The first days of the periods numbered by :func:`_period_number`, as the engine's
    dates read into pandas (``datetime64[s]``), index kept."""
    return period_start_of_index(numbers, period).astype("datetime64[s]").set_axis(numbers.index)


def _period_starts(period: str, first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    """Period starts (naive UTC) from the period containing ``first`` to the one containing ``last``."""
    lo = pd.Timestamp(first).to_period(PANDAS_FREQ.get(period, period)).start_time
    return pd.date_range(lo, pd.Timestamp(last), freq=_STARTS[period], name="period")


def _period_bounds(frame_periods: pd.Series, start: pd.Timestamp | None, end: pd.Timestamp | None,
                   data_start: pd.Timestamp | None = None) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last instants the output calendar must cover (naive).

    A series starts where the data start: with ``start`` before the first activity
    (``data_start``), the calendar begins at the first activity's period — the periods
    before it were not observed, so they are no rows rather than rows of zeros.
    """
    if start is not None:
        first = None if data_start is None else max(_naive(start), data_start)
    else:
        first = frame_periods.min() if len(frame_periods) else None
    last = (_naive(end) - pd.Timedelta(microseconds=1)) if end is not None else (
        frame_periods.max() if len(frame_periods) else None)
    if first is None or last is None or pd.isna(first) or pd.isna(last) or first > last:
        return None
    return pd.Timestamp(first), pd.Timestamp(last)
