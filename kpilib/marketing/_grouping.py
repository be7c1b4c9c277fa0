"""How marketing rows are grouped: calendar-period labels computed in the engine, the
period labels of a span, the breakdown column and the blended label; the seconds of a day
(attribution's time decay is in days). Months of revenue are calendar months
(:func:`kpilib.periods.months_between`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import pandas as pd

from kpilib.data import require_columns
from kpilib.periods import period_grid

__all__ = ["WindowLike"]

#: A duration: a pandas offset string ("30D", "36h"), a Timedelta or an int meaning days.
WindowLike = str | pd.Timedelta | int

#: The periods marketing groups by (``None``: the whole span, one row labelled ``"all"``).
_PERIODS = ("M", "Q", "Y")
_DAY_SECONDS = 86_400.0
#: The label of the blended rows (all channels) and of the whole span (no period).
_ALL = "all"


def _period_label(column: ibis.Value, period: str | None) -> ibis.Value:
    """The period of a date or timestamp, labelled as pandas labels a Period."""
    if period is None:
        return ibis.literal(_ALL)
    if period == "M":
        return column.strftime("%Y-%m")
    if period == "Q":  # strftime, not EXTRACT: engines disagree on EXTRACT from zoned timestamps
        quarter = (column.strftime("%m").cast("int64") + 2) // 3
        return column.strftime("%Y") + "Q" + quarter.cast("string")
    return column.strftime("%Y")


def _period_labels(first: pd.Timestamp, last: pd.Timestamp, period: str | None) -> list[str]:
    """Labels of the calendar periods from the one holding ``first`` to the one holding
    ``last`` (both included), as :func:`_period_label` writes them; ``["all"]`` without a
    period."""
    if period is None:
        return [_ALL]
    return period_grid(first, last + pd.Timedelta(1, "ns"), period, complete=False)["period"].tolist()


def _breakdown(by: str | None, tables: Mapping[str, ibis.Table]) -> list[str]:
    """The breakdown as a list of one column (none for ``None``), checked in every table."""
    if by is None:
        return []
    if not isinstance(by, str):
        raise ValueError(f"by must be one column name (e.g. 'channel') or None, got {by!r}")
    for name, table in tables.items():
        require_columns(table, [by], name, "the breakdown")
    return [by]


def _sum_by(table: ibis.Table, keys: list[str], **aggs: Any) -> pd.DataFrame:
    """``table`` grouped by ``keys`` and aggregated in the engine, executed."""
    return table.group_by(keys).agg(**aggs).execute()
