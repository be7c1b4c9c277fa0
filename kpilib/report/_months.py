"""Month labels and runs of months for the report's pages and messages.

The calendar itself (validating ``"YYYY-MM"``, the month before and after, a range of
months, a month's bounds) is :mod:`kpilib.periods`; these are the report's ways of
writing months.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kpilib.periods import month_bounds, next_month, validate_month


def _month_title(month: str) -> str:
    """``"2026-10"`` → ``"October 2026"``."""
    return dt.date(int(month[:4]), int(month[5:]), 1).strftime("%B %Y")


def _month_label(value: object) -> str:
    """A ``"YYYY-MM"`` label from a string, a monthly Period, a Timestamp or a date."""
    if isinstance(value, pd.Period):
        return value.strftime("%Y-%m")
    if isinstance(value, dt.date):  # datetime and pandas.Timestamp are dates too
        return value.strftime("%Y-%m")
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).strftime("%Y-%m")
    return validate_month(value)  # type: ignore[arg-type]


def _month_number(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:]) - 1


def _month_runs(months: Sequence[str]) -> str:
    """Months as consecutive runs: ``"2024-11 to 2024-12 and 2026-11"``."""
    runs: list[list[str]] = []
    for month in months:
        if runs and next_month(runs[-1][-1]) == month:
            runs[-1].append(month)
        else:
            runs.append([month])
    parts = [run[0] if len(run) == 1 else f"{run[0]} to {run[-1]}" for run in runs]
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


def _months_without_data(
    months: Sequence[str], span: tuple[pd.Timestamp | None, pd.Timestamp | None]
) -> list[str]:
    """The months of ``months`` wholly outside ``span`` (earliest, latest activity)."""
    low, high = span
    if low is None or high is None:
        return list(months)
    outside = []
    for month in months:
        try:
            start, end = month_bounds(month)
        except (ValueError, OverflowError):  # beyond pandas' timestamps: no data there either
            outside.append(month)
            continue
        if end <= low or start > high:
            outside.append(month)
    return outside

