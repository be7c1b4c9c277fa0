"""Calendar periods and timestamps, the same way in every domain.

All timestamps in kpilib are UTC. A report month is a string ``"YYYY-MM"`` covering
``[first instant of the month, first instant of the next month)``.
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

__all__ = ["duration_seconds", "month_bounds", "time_filter", "to_utc"]


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


def month_bounds(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first instant of ``month`` and of the month after it, in UTC.

    Examples
    --------
    >>> month_bounds("2026-12")
    (Timestamp('2026-12-01 00:00:00+0000', tz='UTC'), Timestamp('2027-01-01 00:00:00+0000', tz='UTC'))
    """
    try:
        period = pd.Period(month, freq="M")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"month must look like 'YYYY-MM', got {month!r}") from exc
    return period.start_time.tz_localize("UTC"), (period + 1).start_time.tz_localize("UTC")


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
