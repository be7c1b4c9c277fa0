"""Calendar periods and timestamps, the same way in every domain.

All timestamps in kpilib are UTC. A report month is a string ``"YYYY-MM"`` covering
``[first instant of the month, first instant of the next month)``.

Report time zone
----------------
The data stay UTC. A report may still want its days, weeks and months on a local clock
(a Berlin team's "Monday" starts at 22:00 or 23:00 UTC on Sunday). Ibis has no portable
time-zone conversion, so :func:`utc_offsets` computes, in Python with :mod:`zoneinfo`,
the offsets in force over the data's range (daylight saving included), and
:func:`local_day_index` writes them into the expression as one small ``CASE`` on the
epoch seconds; :func:`period_index` of that day number is the local week or month, and
:func:`local_period_bounds` gives each period's first day and its UTC start and end;
:func:`local_month_bounds` is :func:`month_bounds` on the local clock (a report month's
first and last instant). ``timezone=None`` everywhere means UTC.

Cut-offs and tenure
-------------------
* **The default cut-off** (``as_of`` when none is given) is :func:`default_cutoff` of the
  latest timestamp: the first instant of the day *after* the latest activity's day. The
  data are taken to be complete through the whole of their last day, so an event at
  00:00 of that day (date-only exports) and one at 23:59:59 are both before the cut-off.
  Every cut-off is exclusive: a row counts when its time is ``< as_of``.
* **Tenure in months** is counted in calendar months by :func:`months_between`, the way
  ``dateutil.relativedelta`` and :class:`pandas.DateOffset` count them: 2024-03-15 →
  2025-03-15 and 2024-02-29 → 2025-02-28 are both exactly 12 months.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from kpilib.sources import engine_of

__all__ = ["MONTH_DAYS", "MONTH_PATTERN", "PANDAS_FREQ", "PERIOD_NAMES", "PERIOD_ORIGIN", "TimeLike",
           "check_period", "check_timezone", "day_index", "default_cutoff", "duration_seconds",
           "duration_text", "epoch_seconds", "local_day_index", "local_month_bounds", "local_period_bounds",
           "local_to_utc", "month_bounds", "month_range", "months_between", "next_month", "period_grid",
           "period_index", "period_index_of", "period_start_of_index", "previous_month", "time_filter",
           "to_utc", "utc_offsets", "validate_month"]

#: Anything kpilib accepts as a point in time: an ISO string, a Timestamp, or None for
#: "not given" (the default cut-off or the whole data).
TimeLike = str | pd.Timestamp | None

#: The mean length of a Gregorian month in days (365.25 / 12), for rates quoted per month
#: from a duration in days. Tenure itself is counted in calendar months
#: (:func:`months_between`), never with this constant.
MONTH_DAYS = 365.25 / 12

#: Every calendar period a kpilib function can be asked for, by its ``period`` code.
PERIOD_NAMES = {"h": "hour", "D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}

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


def to_utc(value: Any, name: str = "timestamp", timezone: str | None = None) -> pd.Timestamp | None:
    """``value`` as a UTC :class:`pandas.Timestamp`; naive values are read as UTC, or as
    wall-clock times of ``timezone`` (as :func:`local_to_utc` reads them).

    ``None`` and blank strings give ``None``; anything unreadable raises a
    ``ValueError`` naming ``name``.

    Examples
    --------
    >>> to_utc("2026-10-01 12:00")
    Timestamp('2026-10-01 12:00:00+0000', tz='UTC')
    >>> to_utc("2026-10-01 14:00+02:00")
    Timestamp('2026-10-01 12:00:00+0000', tz='UTC')
    >>> to_utc("2026-10-01 14:00", timezone="Europe/Berlin")
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
    if stamp.tzinfo is not None:
        return stamp.tz_convert("UTC")
    return local_to_utc(pd.DatetimeIndex([stamp]), timezone)[0]


def local_to_utc(stamps: pd.DatetimeIndex, timezone: str | None) -> pd.DatetimeIndex:
    """Naive wall-clock times of ``timezone`` (None: UTC) as UTC instants.

    An hour the clock shows twice (summer time ending) is its first, summer-time one; a
    time the clock skips (summer time beginning) is the first that exists after the gap.

    Examples
    --------
    >>> local_to_utc(pd.DatetimeIndex(["2026-10-25 02:30", "2026-03-29 02:30"]), "Europe/Berlin")
    DatetimeIndex(['2026-10-25 00:30:00+00:00', '2026-03-29 01:00:00+00:00'], dtype='datetime64[ns, UTC]', freq=None)
    """
    zone = check_timezone(timezone)
    if zone is None:
        return stamps.tz_localize("UTC")
    zoned = stamps.tz_localize(ZoneInfo(zone), ambiguous=np.ones(len(stamps), dtype=bool), nonexistent="shift_forward")
    return zoned.tz_convert("UTC")


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
    seconds = _timedelta(value, name).total_seconds()
    if not seconds > 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return seconds


def _timedelta(value: Any, name: str) -> pd.Timedelta:
    """``value`` as a Timedelta: an offset string, a Timedelta, or an int meaning days."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return pd.Timedelta(days=int(value))
    try:
        delta = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a duration like '14D' or '36h', got {value!r}") from exc
    if pd.isna(delta):
        raise ValueError(f"{name} must be a duration like '14D' or '36h', got {value!r}")
    return delta


def duration_text(value: Any, name: str = "duration") -> str:
    """A duration in words, in its largest whole unit: what :func:`duration_seconds` reads
    (zero included).

    Examples
    --------
    >>> duration_text("14D"), duration_text("36h"), duration_text("90min"), duration_text(pd.Timedelta(0))
    ('14 days', '36 hours', '90 minutes', '0 seconds')
    >>> duration_text(1)
    '1 day'
    >>> duration_text("banana", "window")
    Traceback (most recent call last):
    ...
    ValueError: window must be a duration like '14D' or '36h', got 'banana'
    """
    seconds = _timedelta(value, name).total_seconds()
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute"), (1, "second")):
        if seconds and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"


@ibis.udf.scalar.builtin(name="epoch")
def _duckdb_epoch(ts: dt.Timestamp(timezone="UTC")) -> dt.int32:  # type: ignore[empty-body]
    """DuckDB's seconds since the epoch of a TIMESTAMPTZ, read straight off its microseconds
    (typed as Ibis types ``epoch_seconds``)."""


def _duckdb_zoned(ts: Any) -> bool:
    """Whether ``ts`` is a UTC-zoned timestamp that runs on DuckDB."""
    kind = ts.type()
    return kind.is_timestamp() and kind.timezone == "UTC" and engine_of(ts) == "duckdb"


def epoch_seconds(ts: Any, *, portable: bool = False) -> Any:
    """Seconds from 1970-01-01 00:00 UTC to the Ibis timestamp ``ts``.

    The same number as Ibis' ``ts.epoch_seconds()``, minus a cost: on DuckDB, Ibis first
    casts a zoned timestamp to a naive one, which converts every row through the ICU
    calendar (about 0.4 µs a row); a UTC-zoned timestamp on DuckDB is read here with
    DuckDB's ``epoch`` directly (the instant's microseconds, no time-zone work), the same
    value. Other engines and naive timestamps get ``ts.epoch_seconds()``.

    Parameters
    ----------
    ts : Ibis timestamp value
        UTC-zoned, as the data contract has them, or naive (read as UTC).
    portable : bool, default False
        Always use Ibis' ``epoch_seconds`` (the SQL every backend compiles; for tests and
        for SQL generated for another engine than the expression's).

    Returns
    -------
    Ibis numeric value
        Typed as Ibis types ``epoch_seconds`` (an integer); DuckDB and PostgreSQL keep the
        microseconds as a fraction, Spark drops them. Take whole units with ``//`` (a
        floor on every engine), never with a cast to an integer, which rounds on DuckDB.
    """
    if not portable and _duckdb_zoned(ts):
        return _duckdb_epoch(ts)
    return ts.epoch_seconds()


def day_index(value: Any, *, portable: bool = False) -> Any:
    """Integer number of the UTC calendar day holding ``value``: days since 1970-01-01.

    ``floor(epoch seconds / 86 400)`` — a floor, so times before 1970 fall in their own
    day, and a microsecond before midnight in the day it ends. Unlike ``.date()`` or
    ``.truncate("D")`` of a zoned timestamp it needs no time-zone conversion (see
    :func:`epoch_seconds`), and an integer groups and compares faster than a date.

    Parameters
    ----------
    value : Ibis timestamp, date or integer value
        A timestamp (UTC-zoned or naive), a date, or already a day number (returned as
        it is).
    portable : bool, default False
        See :func:`epoch_seconds`.

    Returns
    -------
    Ibis int64 value
        :func:`period_start_of_index` turns day numbers back into dates in pandas.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable(pd.DataFrame({"ts": pd.to_datetime(
    ...     ["1970-01-01", "1969-12-31 23:59:59.999999", "2000-02-29 12:00"], utc=True, format="ISO8601")}))
    >>> t.select(d=day_index(t.ts)).to_pandas()["d"].tolist()
    [0, -1, 11016]
    """
    if value.type().is_integer():
        return value
    if value.type().is_date():
        return value.delta(ibis.date(1970, 1, 1), unit="day").cast("int64")
    return epoch_seconds(value, portable=portable) // 86_400


def _month_of_day(days: Any) -> Any:
    """Months since January 1970 of the day numbered ``days``, by integer arithmetic only.

    Neri and Schneider's Gregorian calendar algorithm (the fast form of Hinnant's
    ``civil_from_days``) in a calendar whose years start on 1 March, so that the leap day
    ends the year: the century, the year of the century and the month counted from March
    give the month. ``//`` is a floor on every engine; ``%`` only sees non-negative
    numbers (every day from 0000-03-01 on), where every engine's remainder agrees; every
    number stays below 2^32. Each intermediate is used once, so the SQL repeats the day
    number three times, not a dozen.
    """
    n1 = 4 * days + (4 * 719_468 + 3)                    # 4 × days since 0000-03-01, + 3
    n2 = 4 * ((n1 % 146_097) // 4) + 3                   # 4 × day of the century, + 3
    month = (2_141 * ((n2 % 1_461) // 4) + 197_913) // 65_536   # 3 (March) … 14 (February)
    # March of year y is month 12·y + 2; January and February (13, 14) fall in year y + 1
    return (100 * (n1 // 146_097) + n2 // 1_461) * 12 + month - (1 + 1970 * 12)


def period_index(ts: Any, period: str, *, portable: bool = False) -> Any:
    """Integer number of the calendar period (``D``, ``W``, ``M``, ``Q``, ``Y``) holding the
    Ibis time ``ts``, counted from :data:`PERIOD_ORIGIN` (days from 1970-01-01);
    consecutive periods differ by 1.

    Calendar parts are read from the UTC wall clock, by integer arithmetic on the day
    number (:func:`day_index`): no time-zone conversion, and the same SQL on every engine
    (some backends refuse to extract fields from a zoned timestamp).

    Parameters
    ----------
    ts : Ibis timestamp, date or integer value
        A time (UTC-zoned or naive), a date, or a day number from :func:`day_index`.
    period : {"D", "W", "M", "Q", "Y"}
        Day, week (Monday to Sunday), month, quarter or year.
    portable : bool, default False
        See :func:`epoch_seconds`.

    Returns
    -------
    Ibis int64 value
        :func:`period_index_of` is the same number in pandas, :func:`period_start_of_index`
        the first day of a numbered period.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable(pd.DataFrame({"ts": pd.to_datetime(["1971-02-10 00:00", "1969-12-31 23:59"], utc=True)}))
    >>> [t.select(i=period_index(t.ts, p)).to_pandas()["i"].tolist() for p in "DWMQY"]
    [[405, -1], [57, -1], [13, -1], [4, -1], [1, -1]]
    """
    days = day_index(ts, portable=portable)
    if period == "D":
        return days
    if period == "W":  # weeks from Monday 1970-01-05 (day 4)
        return (days - 4) // 7
    month = _month_of_day(days)
    if period == "M":
        return month
    if period == "Q":
        return month // 3
    if period == "Y":
        return month // 12
    raise ValueError(f"period must be 'D', 'W', 'M', 'Q' or 'Y', got {period!r}")


def period_start_of_index(index: Any, period: str) -> pd.Series:
    """The first day (a naive UTC timestamp) of each period numbered by :func:`period_index`.

    Parameters
    ----------
    index : array-like of int
        Period numbers (e.g. a column an engine grouped by).
    period : {"D", "W", "M", "Q", "Y"}

    Returns
    -------
    pandas.Series
        ``datetime64[ns]``, aligned with ``index`` (its index when it is a Series).

    Examples
    --------
    >>> period_start_of_index([0, 11016, -1], "D").dt.strftime("%Y-%m-%d").tolist()
    ['1970-01-01', '2000-02-29', '1969-12-31']
    >>> period_start_of_index([57, 13, 4, -1], "M").dt.strftime("%Y-%m-%d").tolist()
    ['1974-10-01', '1971-02-01', '1970-05-01', '1969-12-01']
    """
    if period not in ("D", "W", "M", "Q", "Y"):
        raise ValueError(f"period must be 'D', 'W', 'M', 'Q' or 'Y', got {period!r}")
    numbers = pd.Series(index).astype("int64")
    if period in ("D", "W"):
        days = numbers * 7 + 4 if period == "W" else numbers
        return pd.Series(pd.Timestamp("1970-01-01") + pd.to_timedelta(days.to_numpy(), unit="D"),
                         index=numbers.index).astype("datetime64[ns]")
    months = numbers * {"M": 1, "Q": 3, "Y": 12}[period]
    return pd.to_datetime(pd.DataFrame({"year": months // 12 + 1970, "month": months % 12 + 1, "day": 1}))


def period_index_of(stamp: pd.Timestamp, period: str) -> int:
    """:func:`period_index` of one timestamp, in pandas (``period`` one of ``D``, ``W``, ``M``,
    ``Q``, ``Y``).

    Examples
    --------
    >>> period_index_of(pd.Timestamp("1971-02-10", tz="UTC"), "M"), period_index_of(pd.Timestamp("1970-01-12", tz="UTC"), "W")
    (13, 1)
    """
    stamp = to_utc(stamp).tz_convert(None)
    if period == "D":
        return (stamp.normalize() - pd.Timestamp("1970-01-01")).days
    return (pd.Period(stamp, PANDAS_FREQ[period]) - PERIOD_ORIGIN[period]).n


def default_cutoff(latest: Any) -> Any:
    """The default cut-off after the latest timestamp: the first instant (UTC) of the day
    after its day.

    The data are taken to be complete through the whole last day: with date-only data
    (every time at midnight) the latest activity's day is still inside the cut-off, and so
    is an event at 23:59:59 of that day. Compare exclusively, ``ts < cutoff``.

    Parameters
    ----------
    latest : str, pandas.Timestamp or an Ibis timestamp value
        The latest timestamp of the data; an Ibis scalar (e.g. ``events.ts.max()``) gives an
        Ibis expression, so the cut-off stays in the engine.

    Returns
    -------
    pandas.Timestamp or Ibis value or None
        The cut-off (UTC); None when ``latest`` is None or NaT (there is no data).

    Examples
    --------
    >>> default_cutoff("2026-09-30")
    Timestamp('2026-10-01 00:00:00+0000', tz='UTC')
    >>> default_cutoff("2026-09-30 23:59:59")
    Timestamp('2026-10-01 00:00:00+0000', tz='UTC')
    >>> default_cutoff(None) is None
    True
    """
    if isinstance(latest, ibis.Value):
        day = latest.cast(dt.Timestamp()).truncate("D")
        return (day + ibis.interval(days=1)).cast(dt.Timestamp(timezone="UTC"))
    if latest is None or (not isinstance(latest, str) and pd.isna(latest)):
        return None
    return to_utc(latest, "latest").normalize() + pd.Timedelta(days=1)


def _day_number(year: Any, month: Any) -> Any:
    """Days from 1970-01-01 to the first day of a month, by integer arithmetic (Hinnant's
    ``days_from_civil``) so every engine agrees; the year runs from March (``year``) and
    ``month`` counts from March = 0, so that the leap day ends the year."""
    return (365 * year + year // 4 - year // 100 + year // 400 + (153 * month + 2) // 5
            - 719_468)


@ibis.udf.scalar.builtin(name="unix_micros")
def _spark_unix_micros(ts: dt.Timestamp()) -> dt.int64:  # type: ignore[empty-body]
    """Spark's microseconds since the epoch (Ibis' PySpark compiler has no microsecond part)."""


def _seconds_of_day(ts: Any, engine: str | None) -> Any:
    """Seconds since midnight of ``ts`` (microseconds as a fraction) on ``engine``."""
    if engine == "pyspark":  # the only engine without a microsecond part; its clock is UTC
        return (_spark_unix_micros(ts) % (86_400 * 10**6)).cast("float64") / 1e6
    whole = ts.hour().cast("int64") * 3600 + ts.minute().cast("int64") * 60 + ts.second().cast("int64")
    return whole.cast("float64") + ts.microsecond().cast("float64") / 1e6


def months_between(table: ibis.Table, start: Any, end: Any, *, name: str = "months") -> ibis.Table:
    r"""``table`` with a column ``name``: the calendar months from ``start`` to ``end``.

    Whole months are counted as :class:`pandas.DateOffset` and ``dateutil.relativedelta``
    count them: month *m* is reached on its *anniversary* :math:`A_m` = ``start`` moved
    *m* calendar months on, same day of the month and time of day, the day clamped to the
    last day of a shorter month (2024-01-31 + 1 month = 2024-02-29). Between anniversaries
    the share of the month elapsed is added:

    .. math:: \text{months}(s, e) = m + \frac{e - A_m}{A_{m+1} - A_m}, \qquad A_m \le e < A_{m+1}

    so an anniversary gives a whole number exactly — 2024-03-15 → 2025-03-15 and
    2024-02-29 → 2025-02-28 are 12 — and the count rises continuously with ``end``.

    Parameters
    ----------
    table : ibis.Table
    start, end : str or Ibis timestamp value
        Columns of ``table`` (names or expressions on it) or literals, in UTC; calendar
        parts are read from the UTC wall clock.
    name : str, default "months"
        The new column (float64).

    Returns
    -------
    ibis.Table
        Not executed.

    Notes
    -----
    Computed in the engine from the year, month, day and time-of-day parts with integer
    day numbers — not with the engine's interval arithmetic, since engines differ on
    month-end days — in a few stacked projections that keep the SQL short.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable(pd.DataFrame({
    ...     "s": pd.to_datetime(["2024-02-29", "2024-03-15", "2024-01-31", "2024-01-31"], utc=True),
    ...     "e": pd.to_datetime(["2025-02-28", "2025-03-15", "2024-02-29", "2024-03-15"], utc=True)}))
    >>> months_between(t, "s", "e").to_pandas()["months"].round(4).tolist()
    [12.0, 12.0, 1.0, 1.4839]

    The last: one month to 29 February, then 15 of the 31 days to 31 March.
    """
    engine = engine_of(table)  # the table's: a literal start or end runs wherever the table does
    start = (table[start] if isinstance(start, str) else start).cast(dt.Timestamp())
    end = (table[end] if isinstance(end, str) else end).cast(dt.Timestamp())
    t = table.mutate(
        _cm_sk=start.year().cast("int64") * 12 + start.month().cast("int64") - 1,
        _cm_sd=start.day().cast("int64"),
        _cm_ek=end.year().cast("int64") * 12 + end.month().cast("int64") - 1,
        _cm_ed=end.day().cast("int64"),
        _cm_tod=_seconds_of_day(end, engine) - _seconds_of_day(start, engine),
    )
    # first days of the months before, of, after and two after end's month (years from March)
    t = t.mutate(**{f"_cm_y{i}": (t._cm_ek + (i - 3)) // 12 for i in range(4)},
                 **{f"_cm_p{i}": (t._cm_ek + (i - 3)) % 12 for i in range(4)})
    t = t.mutate(**{f"_cm_f{i}": _day_number(t[f"_cm_y{i}"], t[f"_cm_p{i}"]) for i in range(4)})
    # anniversaries (day numbers) in the month before end's, in end's month and the one after
    t = t.mutate(**{f"_cm_a{i}": t[f"_cm_f{i}"] + ibis.least(t._cm_sd, t[f"_cm_f{i + 1}"] - t[f"_cm_f{i}"]) - 1
                    for i in range(3)},
                 _cm_end=t._cm_f1 + t._cm_ed - 1)
    # before end's anniversary in its own month, end lies after the previous month's one
    t = t.mutate(_cm_before=((t._cm_end - t._cm_a1) * 86_400).cast("float64") + t._cm_tod < 0)
    low = ibis.ifelse(t._cm_before, t._cm_a0, t._cm_a1)
    high = ibis.ifelse(t._cm_before, t._cm_a1, t._cm_a2)
    t = t.mutate(_cm_m=t._cm_ek - t._cm_sk - t._cm_before.cast("int32"), _cm_low=low, _cm_len=high - low)
    elapsed = ((t._cm_end - t._cm_low) * 86_400).cast("float64") + t._cm_tod
    t = t.mutate(**{name: t._cm_m.cast("float64") + elapsed / (t._cm_len * 86_400).cast("float64")})
    return t.drop(*[c for c in t.columns if c.startswith("_cm_")])


def check_period(period: Any, allowed: Any, *, none: bool = False) -> Any:
    """Validate a ``period`` argument against the codes a function supports.

    Every function that groups by calendar period takes ``period`` (one of
    :data:`PERIOD_NAMES`: ``"D"`` day, ``"W"`` week Monday–Sunday, ``"M"`` month, ``"Q"``
    quarter, ``"Y"`` year, ``"h"`` hour); each accepts the subset that makes sense for it.

    Parameters
    ----------
    period : str or None
        The value given. Letters are matched case-insensitively except ``"h"``.
    allowed : sequence of str
        The codes this function supports.
    none : bool, default False
        Whether ``None`` (no grouping: the whole span) is allowed.

    Returns
    -------
    str or None
        The canonical code.

    Raises
    ------
    ValueError
        Naming the allowed codes and what they mean.

    Examples
    --------
    >>> check_period("m", ("W", "M"))
    'M'
    >>> check_period("Y", ("W", "M"))
    Traceback (most recent call last):
    ...
    ValueError: period must be 'W' (week) or 'M' (month), got 'Y'
    """
    if period is None and none:
        return None
    key = period if period == "h" else str(period).upper() if isinstance(period, str) else period
    if key not in allowed:
        names = [f"{code!r} ({PERIOD_NAMES.get(code, code)})" for code in allowed]
        if none:
            names.append("None (the whole span)")
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise ValueError(f"period must be {listed}, got {period!r}")
    return key


def period_grid(first: pd.Timestamp, cutoff: pd.Timestamp, period: str, *,
                complete: bool = True) -> pd.DataFrame:
    """The calendar periods from the one holding ``first`` to the one holding the last
    instant before ``cutoff``.

    Parameters
    ----------
    first : pandas.Timestamp
        The first time of the data (UTC).
    cutoff : pandas.Timestamp
        The exclusive end of the data (UTC), e.g. :func:`default_cutoff` of the latest time.
    period : {"W", "M", "Q", "Y"}
        Calendar period (weeks run Monday–Sunday).
    complete : bool, default True
        Keep only the periods that end by ``cutoff``; False also keeps the last, partial one.

    Returns
    -------
    pandas.DataFrame
        ``period`` (label as pandas prints a Period: ``2026-03``, ``2026Q1``, ``2026``,
        ``2026-03-02/2026-03-08``), ``period_start`` and ``period_end`` (exclusive, UTC).

    Examples
    --------
    >>> period_grid(pd.Timestamp("2026-01-15", tz="UTC"), pd.Timestamp("2026-03-10", tz="UTC"), "M")
        period              period_start                period_end
    0  2026-01 2026-01-01 00:00:00+00:00 2026-02-01 00:00:00+00:00
    1  2026-02 2026-02-01 00:00:00+00:00 2026-03-01 00:00:00+00:00
    """
    freq = PANDAS_FREQ[check_period(period, tuple(PANDAS_FREQ))]
    first, cutoff = to_utc(first, "first"), to_utc(cutoff, "cutoff")
    lo = pd.Period(first.tz_convert(None), freq)
    hi = pd.Period((cutoff - pd.Timedelta(1, "ns")).tz_convert(None), freq)
    periods = pd.period_range(lo, hi, freq=freq) if lo <= hi else pd.PeriodIndex([], freq=freq)
    grid = pd.DataFrame({
        "period": [str(p) for p in periods],
        "period_start": periods.start_time.tz_localize("UTC"),
        "period_end": (periods + 1).start_time.tz_localize("UTC"),
    })
    if complete:
        grid = grid[grid["period_end"] <= cutoff]
    return grid.reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Report time zone: calendar parts on a local clock, data kept in UTC
# ---------------------------------------------------------------------------------------


def check_timezone(timezone: Any, name: str = "timezone") -> str | None:
    """The IANA name of a report time zone, or None for UTC.

    ``None``, a blank string and ``"UTC"`` all mean UTC (the data's own clock).

    Raises
    ------
    ValueError
        When the name is not an IANA time zone, saying what is expected.

    Examples
    --------
    >>> check_timezone("Europe/Berlin"), check_timezone(None), check_timezone("UTC")
    ('Europe/Berlin', None, None)
    >>> check_timezone("CEST")
    Traceback (most recent call last):
    ...
    ValueError: timezone must be an IANA time-zone name such as 'Europe/Berlin' or 'America/New_York' (None means UTC), got 'CEST'
    """
    if timezone is None or (isinstance(timezone, str) and timezone.strip() in ("", "UTC", "Etc/UTC")):
        return None
    hint = (f"{name} must be an IANA time-zone name such as 'Europe/Berlin' or 'America/New_York' "
            f"(None means UTC), got {timezone!r}")
    if not isinstance(timezone, str):
        raise ValueError(hint)
    try:
        ZoneInfo(timezone.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(hint) from exc
    return timezone.strip()


def _offset_at(zone: ZoneInfo, second: int) -> int:
    """UTC offset of ``zone`` (seconds) at ``second`` seconds after the epoch."""
    moment = _dt.datetime.fromtimestamp(second, _dt.UTC).astimezone(zone)
    return int(moment.utcoffset().total_seconds())


def utc_offsets(timezone: Any, first: TimeLike, last: TimeLike) -> pd.DataFrame:
    """The UTC offsets a time zone uses from ``first`` to ``last``, and when each starts.

    Computed in Python with :mod:`zoneinfo` (the IANA database): offsets are sampled every
    hour across the range and each change is then found to the second by bisection, so
    daylight saving (Europe/Berlin, America/New_York), half-hour shifts (Australia/Lord_Howe)
    and odd offsets (Asia/Kathmandu, +5:45) are all exact.

    Parameters
    ----------
    timezone : str or None
        IANA name; None is UTC (one row, offset 0).
    first, last : str or pandas.Timestamp
        The range of instants to cover (UTC); None for either gives the offset at the
        other one (both None: at the epoch).

    Returns
    -------
    pandas.DataFrame
        ``since`` (epoch seconds from which the offset holds; the first row's is the start
        of the range) and ``offset_seconds`` (local minus UTC), in time order.

    Examples
    --------
    >>> utc_offsets("Europe/Berlin", "2026-03-01", "2026-04-01")
            since  offset_seconds
    0  1772323200            3600
    1  1774746000            7200
    >>> pd.Timestamp(1774746000, unit="s", tz="UTC")
    Timestamp('2026-03-29 01:00:00+0000', tz='UTC')
    """
    zone_name = check_timezone(timezone)
    first, last = to_utc(first, "first"), to_utc(last, "last")
    first = first if first is not None else last
    last = last if last is not None else first
    lo = int(first.timestamp() // 1) if first is not None else 0
    hi = max(int(last.timestamp() // 1) if last is not None else 0, lo)
    if zone_name is None:
        return pd.DataFrame({"since": [lo], "offset_seconds": [0]}, dtype="int64")
    zone = ZoneInfo(zone_name)
    samples = list(range(lo, hi, 3_600)) + [hi]
    offsets = [_offset_at(zone, s) for s in samples]
    since, values = [lo], [offsets[0]]
    for i in range(1, len(samples)):
        a, b, oa, ob = samples[i - 1], samples[i], offsets[i - 1], offsets[i]
        if oa == ob:
            continue
        while b - a > 1:  # the first second with the new offset lies in (a, b]
            middle = (a + b) // 2
            if _offset_at(zone, middle) == oa:
                a = middle
            else:
                b = middle
        since.append(b)
        values.append(ob)
    return pd.DataFrame({"since": since, "offset_seconds": values}, dtype="int64")


def local_day_index(ts: Any, timezone: Any, first: TimeLike, last: TimeLike, *, portable: bool = False) -> Any:
    r"""Day number of the *local* calendar day (in ``timezone``) holding the Ibis time ``ts``.

    The data stay UTC; only the day boundaries move. Ibis has no portable time-zone
    conversion, so the offsets in force between ``first`` and ``last`` are computed in
    Python (:func:`utc_offsets`) and written into the expression as one small ``CASE``
    on the epoch seconds (a branch per daylight-saving change in the range):

    .. math:: \text{day}(t) = \left\lfloor \frac{t + \text{offset}(t)}{86\,400} \right\rfloor

    Give it to :func:`period_index` for local weeks and months (it takes day numbers).
    Instants outside ``[first, last]`` get the offset of the nearest end of the range.

    Parameters
    ----------
    ts : Ibis timestamp value
        UTC-zoned or naive (read as UTC).
    timezone : str or None
        IANA name; None (or ``"UTC"``) is :func:`day_index`.
    first, last : str or pandas.Timestamp
        The range of ``ts`` to get exactly right (e.g. the data's first and last entry).
    portable : bool, default False
        See :func:`epoch_seconds`.

    Returns
    -------
    Ibis int64 value
        Days from 1970-01-01 of the local date; :func:`period_start_of_index` turns them
        into dates.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable(pd.DataFrame({"ts": pd.to_datetime(["2026-03-28 23:30", "2026-03-29 22:30"], utc=True)}))
    >>> days = t.select(d=local_day_index(t.ts, "Europe/Berlin", "2026-03-01", "2026-04-01")).to_pandas()["d"]
    >>> period_start_of_index(days, "D").dt.strftime("%Y-%m-%d").tolist()
    ['2026-03-29', '2026-03-30']
    """
    zone_name = check_timezone(timezone)
    if zone_name is None:
        return day_index(ts, portable=portable)
    changes = utc_offsets(zone_name, first, last)
    seconds = epoch_seconds(ts, portable=portable)
    offset = ibis.literal(int(changes.offset_seconds.iloc[0]), type="int64")
    if len(changes) > 1:
        latest_first = changes.iloc[:0:-1]  # every change but the range's start, latest first
        branches = [(seconds >= int(row.since), int(row.offset_seconds)) for row in latest_first.itertuples()]
        offset = ibis.cases(*branches, else_=offset)
    return ((seconds + offset) // 86_400).cast("int64")


def local_period_bounds(index: Any, period: str, timezone: Any) -> pd.DataFrame:
    """The first local day of each numbered period and its start and end as UTC instants.

    Parameters
    ----------
    index : array-like of int
        Period numbers of :func:`period_index` on local day numbers
        (:func:`local_day_index`).
    period : {"D", "W", "M", "Q", "Y"}
    timezone : str or None
        IANA name; None is UTC.

    Returns
    -------
    pandas.DataFrame
        ``period_start`` (the local first day, naive), ``start_utc`` and ``end_utc`` (the
        first instant of the period and of the next one, UTC). A day that begins in a
        daylight-saving gap begins at the first local time that exists.

    Examples
    --------
    >>> local_period_bounds([675], "M", "America/New_York")
      period_start                 start_utc                   end_utc
    0   2026-04-01 2026-04-01 04:00:00+00:00 2026-05-01 04:00:00+00:00
    """
    zone = check_timezone(timezone)
    numbers = pd.Series(index, dtype="int64").reset_index(drop=True)
    starts = period_start_of_index(numbers, period).reset_index(drop=True)
    ends = period_start_of_index(numbers + 1, period).reset_index(drop=True)

    return pd.DataFrame({"period_start": starts, "start_utc": pd.Series(local_to_utc(pd.DatetimeIndex(starts), zone)),
                         "end_utc": pd.Series(local_to_utc(pd.DatetimeIndex(ends), zone))})


def local_month_bounds(month: str, timezone: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first instant of ``month`` and of the month after it on the local clock of
    ``timezone``, as UTC instants: :func:`month_bounds` for a report time zone.

    Local midnight of the 1st, daylight saving included (a month may begin in summer time
    and end in winter time). A midnight that falls in a daylight-saving gap is the first
    local time that exists, as in :func:`local_period_bounds`.

    Parameters
    ----------
    month : str
        ``"YYYY-MM"``.
    timezone : str or None
        IANA name; None (or ``"UTC"``) is :func:`month_bounds`.

    Examples
    --------
    October 2026 in Berlin begins in summer time (UTC+2) and ends in winter time (UTC+1,
    from 25 October):

    >>> local_month_bounds("2026-10", "Europe/Berlin")
    (Timestamp('2026-09-30 22:00:00+0000', tz='UTC'), Timestamp('2026-10-31 23:00:00+0000', tz='UTC'))
    >>> local_month_bounds("2026-10", None) == month_bounds("2026-10")
    True
    """
    zone = check_timezone(timezone)
    first, after = month_bounds(month)
    if zone is None:
        return first, after
    start, end = local_to_utc(pd.DatetimeIndex([first.tz_localize(None), after.tz_localize(None)]), zone)
    return start, end
