"""Calendar periods and timestamps, the same way in every domain.

All timestamps in kpilib are UTC. A report month is a string ``"YYYY-MM"`` covering
``[first instant of the month, first instant of the next month)``.
"""

from __future__ import annotations

import re
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

__all__ = ["MONTH_PATTERN", "PANDAS_FREQ", "PERIOD_ORIGIN", "duration_seconds", "month_bounds", "month_range",
           "next_month", "period_index", "period_index_of", "previous_month", "time_filter", "to_utc",
           "validate_month"]

#: A report month: ``"YYYY-MM"`` in ASCII digits, nothing before or after. Anchored with
#: ``\A`` and ``\Z`` (``$`` would also match before a trailing newline), so ``match``,
#: ``search`` and ``fullmatch`` agree; use ``fullmatch``.
MONTH_PATTERN = re.compile(r"\A([0-9]{4})-(0[1-9]|1[0-2])\Z")


#: pandas frequency of each calendar period kpilib counts in (weeks run Monday–Sunday).
PANDAS_FREQ = {"W": "W-SUN", "M": "M", "Q": "Q-DEC", "Y": "Y-DEC"}
#: Period number 0 of each frequency: the week of Monday 1970-01-05, January 1970 …
PERIOD_ORIGIN = {
    "W": pd.Period("1970-01-05", "W-SUN"),
    "M": pd.Period("1970-01", "M"),
    "Q": pd.Period("1970Q1", "Q-DEC"),
    "Y": pd.Period("1970", "Y-DEC"),
}


def to_utc(value: Any, name: str = "timestamp") -> pd.Timestamp | None:
    """``value`` as a UTC :class:`pandas.Timestamp`; naive values are read as UTC.

    ``None`` and blank strings give ``None``; anything unreadable raises a
    ``ValueError`` naming ``name``.

    Examples
    --------
    >>> to_utc("2026-10-01 12:00")
    Timestamp('2026-10-01 12:00:00+0000', tz='UTC')
    >>> to_utc("2026-10-01 14:00+02:00")
    Timestamp('2026-10-01 12:00:00+0000', tz='UTC')
    >>> to_utc("") is None
    True
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a date or timestamp, got {value!r}") from exc
    if pd.isna(stamp):
        raise ValueError(f"{name} must be a date or timestamp, got {value!r}")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def validate_month(month: str) -> str:
    """Check that ``month`` is a ``"YYYY-MM"`` string and return it.

    Raises
    ------
    ValueError
        When it is not, saying what was expected.

    Examples
    --------
    >>> validate_month("2026-10")
    '2026-10'
    >>> validate_month("2026-13")
    Traceback (most recent call last):
    ...
    ValueError: month must look like 'YYYY-MM' (e.g. '2026-10'), got '2026-13'
    >>> validate_month("2026-10\\n")
    Traceback (most recent call last):
    ...
    ValueError: month must look like 'YYYY-MM' (e.g. '2026-10'), got '2026-10\\n'
    """
    if not isinstance(month, str) or not MONTH_PATTERN.fullmatch(month):
        raise ValueError(f"month must look like 'YYYY-MM' (e.g. '2026-10'), got {month!r}")
    return month


def _shift_month(month: str, months: int) -> str:
    """``month`` moved by ``months`` calendar months, as ``"YYYY-MM"``."""
    year, mon = (int(part) for part in validate_month(month).split("-"))
    index = year * 12 + mon - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def previous_month(month: str) -> str:
    """The month before ``month``, both as ``"YYYY-MM"``.

    Examples
    --------
    >>> previous_month("2026-01")
    '2025-12'
    >>> previous_month("2026-10")
    '2026-09'
    """
    return _shift_month(month, -1)


def next_month(month: str) -> str:
    """The month after ``month``, both as ``"YYYY-MM"``.

    Examples
    --------
    >>> next_month("2026-12")
    '2027-01'
    >>> next_month("2026-09")
    '2026-10'
    """
    return _shift_month(month, 1)


def month_range(start: str, end: str) -> list[str]:
    """Every month from ``start`` to ``end``, both included.

    Raises
    ------
    ValueError
        When a month is malformed or ``end`` comes before ``start``.

    Examples
    --------
    >>> month_range("2025-11", "2026-02")
    ['2025-11', '2025-12', '2026-01', '2026-02']
    """
    first, last = validate_month(start), validate_month(end)
    if last < first:
        raise ValueError(f"the last month ({last}) comes before the first ({first})")
    months = [first]
    while months[-1] != last:
        months.append(next_month(months[-1]))
    return months


def month_bounds(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first instant of ``month`` and of the month after it, in UTC.

    Examples
    --------
    >>> month_bounds("2026-12")
    (Timestamp('2026-12-01 00:00:00+0000', tz='UTC'), Timestamp('2027-01-01 00:00:00+0000', tz='UTC'))
    """
    return (pd.Timestamp(f"{validate_month(month)}-01", tz="UTC"),
            pd.Timestamp(f"{next_month(month)}-01", tz="UTC"))


def time_filter(
    table: ibis.Table,
    column: str,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    *,
    date: bool = False,
) -> ibis.Table:
    """Rows of ``table`` with ``start <= table[column] < end`` (either bound optional);
    ``date=True`` compares a date column with the bounds' dates."""
    if start is not None:
        table = table.filter(table[column] >= (start.date() if date else start))
    if end is not None:
        table = table.filter(table[column] < (end.date() if date else end))
    return table


def duration_seconds(value: Any, name: str = "window") -> float:
    """A positive duration in seconds: a pandas offset string (``"14D"``, ``"36h"``), a
    ``Timedelta``, or an int meaning days.

    Examples
    --------
    >>> duration_seconds("14D"), duration_seconds(2), duration_seconds("90min")
    (1209600.0, 172800.0, 5400.0)
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        delta = pd.Timedelta(days=int(value))
    else:
        try:
            delta = pd.Timedelta(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name} must be a duration like '14D' or '36h', got {value!r}") from exc
    seconds = delta.total_seconds()
    if not seconds > 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return seconds


def period_index(ts: Any, period: str) -> Any:
    """Integer number of the calendar period (``W``, ``M``, ``Q``, ``Y``) holding the Ibis
    timestamp ``ts``, counted from :data:`PERIOD_ORIGIN`; consecutive periods differ by 1.

    Calendar parts are read from the UTC wall clock (kpilib's engines run in UTC; some
    backends refuse to extract fields from a zoned timestamp).
    """
    if period != "W":
        ts = ts.cast(dt.Timestamp())
    if period == "M":
        return (ts.year() - 1970) * 12 + ts.month() - 1
    if period == "Q":
        return (ts.year() - 1970) * 4 + ts.quarter() - 1
    if period == "Y":
        return ts.year() - 1970
    # weeks from Monday 1970-01-05
    return ((ts.epoch_seconds() - 4 * 86_400) / (7 * 86_400)).floor().cast("int64")


def period_index_of(stamp: pd.Timestamp, period: str) -> int:
    """:func:`period_index` of one timestamp, in pandas.

    Examples
    --------
    >>> period_index_of(pd.Timestamp("1971-02-10", tz="UTC"), "M"), period_index_of(pd.Timestamp("1970-01-12", tz="UTC"), "W")
    (13, 1)
    """
    stamp = to_utc(stamp).tz_convert(None)
    return (pd.Period(stamp, PANDAS_FREQ[period]) - PERIOD_ORIGIN[period]).n
