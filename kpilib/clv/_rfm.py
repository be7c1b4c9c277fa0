"""Orders in, one row per customer out: the CDNOW data, RFM summaries and the
calibration/holdout split, each one Ibis aggregation pushed down to the engine."""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd
import pyarrow as pa

from kpilib.clv._units import TimeUnit
from kpilib.data import DataError, as_table, integer_ids, memtable, text_array
from kpilib.deprecation import renamed_arguments
from kpilib.periods import TimeLike, default_cutoff, to_utc

_DAY_SECONDS = 86_400

#: Published CDNOW results (2,357 customers of the 1/10th sample, weekly units, 39-week
#: calibration 1997-01-01..1997-09-30, holdout to 1998-06-30).
CDNOW_PUBLISHED: dict[str, Any] = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "v": 15.44},
    "customers": 2357,
    "repeat_buyers": 946,
    "calibration_end": "1997-09-30",  # inclusive (the split point)
    "observation_end": "1998-06-30",  # the last day observed, inclusive
    "period": "D",
    "period_multiplier": 7,
    "source": "Fader, Hardie & Lee (2005) Marketing Science 24(2), table 1; "
    "Fader & Hardie (2013) note 025 (Gamma–Gamma)",
}


def load_cdnow(kind: Literal["sample", "master"] = "sample") -> pd.DataFrame:
    """The CDNOW transactions shipped inside lifetimes, as an orders table.

    Read with :mod:`importlib.resources` (``lifetimes.datasets`` needs ``pkg_resources``).

    Parameters
    ----------
    kind : {"sample", "master"}
        ``"sample"``: the 1/10th sample of 2,357 customers (6,919 transactions) the papers
        fit; ``"master"``: all 23,570 customers of the cohort.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (text, ``"0001"`` …), ``ts`` (midnight UTC of the day), ``amount``
        (dollars) and ``cds`` (number of CDs). Several rows of one customer on one day are
        kept as they are (223 in the sample); the summaries merge them.

    Examples
    --------
    >>> cdnow = load_cdnow()
    >>> len(cdnow), cdnow.customer_id.nunique(), str(cdnow.ts.min().date())
    (6919, 2357, '1997-01-01')
    """
    files = {"sample": ("CDNOW_sample.txt", ["master_id", "customer_id", "date", "cds", "amount"], 0),
             "master": ("CDNOW_master.txt", ["customer_id", "date", "cds", "amount"], 1)}  # (file, columns, header lines)
    if kind not in files:
        raise ValueError(f"kind must be 'sample' or 'master', got {kind!r}")
    name, columns, header_lines = files[kind]
    path = importlib.resources.files("lifetimes") / "datasets" / name
    with path.open("r") as handle:
        raw = pd.read_csv(handle, sep=r"\s+", header=None, names=columns, skiprows=header_lines,
                          dtype={"customer_id": str, "date": str, "master_id": str})
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"],
            "ts": pd.to_datetime(raw["date"], format="%Y%m%d").dt.tz_localize("UTC"),
            "amount": raw["amount"].astype(float),
            "cds": raw["cds"].astype("int64"),
        }
    )


def _number_from_seconds(seconds: Any, period: str) -> Any:
    """Period number of epoch ``seconds`` (floor division; weeks run Monday–Sunday as
    pandas' ``"W"``: 1970-01-01 was a Thursday, so day + 3 counts from the Monday before)."""
    if period == "h":
        return seconds // 3600
    day = seconds // _DAY_SECONDS
    return day if period == "D" else (day + 3) // 7


def _period_of(stamp: pd.Timestamp, period: str) -> int:
    """Number of the ``period`` (``"h"``, ``"D"``, ``"W"``) holding ``stamp``."""
    return int(_number_from_seconds(stamp.value // 1_000_000_000, period))


def _period_start(number: int, period: str) -> pd.Timestamp:
    """First instant (UTC) of the period numbered ``number`` (as :func:`_period_of`)."""
    if period == "h":
        seconds = number * 3600
    elif period == "D":
        seconds = number * _DAY_SECONDS
    else:
        seconds = (number * 7 - 3) * _DAY_SECONDS
    return pd.Timestamp(seconds, unit="s", tz="UTC")


@ibis.udf.scalar.builtin(name="epoch_us")
def _duckdb_epoch_us(ts: dt.Timestamp(timezone="UTC")) -> dt.int64:  # type: ignore[empty-body]
    """DuckDB's microseconds since the epoch of a TIMESTAMPTZ: no time-zone arithmetic,
    about ten times faster than a cast to DATE or TIMESTAMP (which go through ICU)."""


@ibis.udf.agg.builtin(name="arg_min")
def _duckdb_arg_min(arg: dt.float64, key: dt.int64) -> dt.float64:  # type: ignore[empty-body]
    """DuckDB's arg_min (Ibis' ``argmin`` compiles to an ordered FIRST, which sorts)."""


def _is_duckdb(expr: ibis.Expr) -> bool:
    return ibis.get_backend(expr).name == "duckdb"


def _period_expr(ts: ibis.Value, period: str) -> ibis.Value:
    """The number of the ``period`` holding ``ts``, in the engine (as :func:`_period_of`)."""
    if _is_duckdb(ts):
        seconds = _duckdb_epoch_us(ts) / 1_000_000
    else:
        seconds = ts.epoch_seconds()
    if period == "h":
        return (seconds / 3600).floor()
    day = (seconds / _DAY_SECONDS).floor()
    # 32-bit day and week numbers hash faster in the grouping (they reach 2**31 in year 5.8 million)
    return (day if period == "D" else ((day + 3) / 7).floor()).cast("int32")


@dataclass(frozen=True)
class _Orders:
    # Columns customer_id, ts, amount (0.0 without a monetary column) [, row], checked.
    # customer_id is the text the contract makes of an id, except for integer ids: a
    # pandas input's integers themselves (the same customers, grouped and sorted as
    # numbers — faster than their text, and lifetimes' order), and the integers under a
    # table's text ids (``text_ids``).
    table: ibis.Table
    id_name: str
    # A pandas input's customer ids of a type the engine does not give back as it is
    # (categories, pandas strings, floats …); the table's ``row`` column then holds each
    # order's position in it, so a per-customer result takes its ids from here by
    # position. None otherwise.
    ids: pd.Index | None
    # Whether customer_id holds the integers of a table's text ids (kpilib.data.integer_ids):
    # grouped as integers, given back as the contract's text, in text order.
    text_ids: bool = False


def _orders(
    orders: ibis.Table | pd.DataFrame,
    customer_id_col: str,
    datetime_col: str,
    monetary_value_col: str | None,
) -> _Orders:
    """The orders as the contract's (customer_id, ts, amount), validated if a DataFrame."""
    wanted = [customer_id_col, datetime_col] + ([monetary_value_col] if monetary_value_col else [])
    is_frame = isinstance(orders, pd.DataFrame)
    have = list(orders.columns)
    for role, col in zip(("customer_id_col", "datetime_col", "monetary_value_col"), wanted, strict=False):
        if col not in have:
            raise DataError(
                f"{role}={col!r} is not a column (the table has: {', '.join(map(str, have))})",
                table="orders",
                column=col,
                fix=f"Pass {role} naming one of the table's columns",
            )
    ids, keyed = None, None
    if is_frame:
        raw = _memtable(orders, {"customer_id": customer_id_col, "ts": datetime_col,
                                 **({"amount": monetary_value_col} if monetary_value_col else {})})
        if "row" in raw.columns:
            ids = pd.Index(orders[customer_id_col], copy=False)
    else:
        keyed = integer_ids(orders, customer_id_col)
        source = orders if keyed is None else keyed
        raw = source.select(
            customer_id=source[customer_id_col],
            ts=source[datetime_col],
            **({"amount": source[monetary_value_col]} if monetary_value_col else {}),
            **({"key": keyed["__integer_id"]} if keyed is not None else {}),
        )
    if not monetary_value_col:
        raw = raw.mutate(amount=ibis.literal(0.0))
    table = as_table(raw, "orders", validate=is_frame)
    if "key" in table.columns:  # the integer ids, checked as text by as_table
        table = table.drop("customer_id").rename(customer_id="key")
    return _Orders(table, customer_id_col, ids, text_ids=keyed is not None)


def _memtable(orders: pd.DataFrame, columns: dict[str, str]) -> ibis.Table:
    """The orders' columns as an Ibis memtable named by the contract (``columns`` maps a
    contract name to the frame's column).

    Clean columns (text or integer ids, datetimes, float amounts) go straight into Arrow
    (text ids by :func:`kpilib.data.text_array`) without a pandas copy, with times made
    UTC there, so the engine has no time-zone conversion left to do. Integer ids come twice, as
    ``customer_id`` (which the contract checks as text) and as ``key`` (the same Arrow
    buffer) to group on. Anything else goes through pandas, is coerced and checked by
    ``as_table``, and gets ``row``, each order's position in the frame, to find its id by.
    """
    ids, ts = orders[columns["customer_id"]], orders[columns["ts"]]
    amount = orders[columns["amount"]] if "amount" in columns else None
    id_array = None
    if pd.api.types.is_datetime64_any_dtype(ts) and (amount is None or pd.api.types.is_float_dtype(amount)):
        if isinstance(ids.dtype, np.dtype) and ids.dtype.kind in "iu":
            id_array = pa.array(ids.to_numpy())
        else:
            id_array = text_array(ids)  # None when not all text: the pandas way
    if id_array is None:
        frame = orders[list(columns.values())].set_axis(list(columns), axis=1)
        return memtable(frame.assign(row=np.arange(len(orders), dtype="int64")))
    naive = ts.dt.tz_convert("UTC").dt.tz_localize(None) if ts.dt.tz is not None else ts
    stamps = pa.array(naive.to_numpy(), from_pandas=True)  # NaT as null
    arrays = {"customer_id": id_array, "ts": stamps.view(pa.timestamp(stamps.type.unit, tz="UTC"))}
    if amount is not None:
        arrays["amount"] = pa.array(amount.to_numpy(), type=pa.float64())
    if pa.types.is_integer(id_array.type):
        arrays["key"] = id_array
    return memtable(pa.table(arrays))


def _per_customer(expr: ibis.Table, orders: _Orders) -> tuple[pd.Index, dict[str, np.ndarray]]:
    """Run a query with one row per customer (columns ``customer_id`` [, ``row``] and
    numbers): its ids as the index lifetimes gives (sorted, named like the input's column,
    the input's dtype) and its other columns as arrays in the same order."""
    if orders.text_ids:
        expr = expr.mutate(customer_id=expr.customer_id.cast("string"))
    result = expr.order_by("customer_id").to_pyarrow()
    values = {name: result.column(name).to_numpy() for name in result.column_names
              if name not in ("customer_id", "row")}
    if orders.ids is None:
        ids = result.column("customer_id").to_numpy(zero_copy_only=False)
        return pd.Index(ids, name=orders.id_name), values
    index = orders.ids.take(result.column("row").to_numpy())
    if index.dtype.kind in "iuf":  # the engine sorted their text; lifetimes sorts the numbers
        order = np.argsort(index.to_numpy(), kind="stable")
        index = index.take(order)
        values = {name: column[order] for name, column in values.items()}
    return index.rename(orders.id_name), values


# ---------------------------------------------------------------------------------------
# RFM summaries
# ---------------------------------------------------------------------------------------


#: Order values are summed as exact decimals with six places (a millionth of the currency
#: unit): a parallel engine adds floats in a varying order, and last-digit differences
#: would move the fitted parameters from run to run.
_EXACT = dt.Decimal(18, 6)

#: The finest time step kpilib's engines store (DuckDB, PostgreSQL and Spark keep
#: microseconds): the last instant before a cut-off is ``as_of - _STEP``.
_STEP = pd.Timedelta(1, "us")



@dataclass(frozen=True)
class _InclusiveEnd:
    """An end given by the deprecated name ``observation_period_end``: lifetimes' meaning,
    the last instant observed (inclusive). Each function turns it into the exclusive
    cut-off that gives the same numbers as before (see :func:`_cutoff`)."""

    value: Any


def _cutoff(as_of: Any, period: str, *, floored: bool) -> pd.Timestamp | None:
    """``as_of`` as an exclusive UTC cut-off (None: not given).

    An inclusive end ``E`` (:class:`_InclusiveEnd`) becomes the cut-off that keeps exactly
    the same orders: with ``floored`` (the summaries, where lifetimes floors the end to
    its period and keeps every order of that period) the first instant of the period after
    ``E``'s; otherwise (an end compared with the exact order times, as the holdout's) the
    next instant the engines store, ``E`` + 1 µs. Either way the last period observed,
    :func:`_last_period`, is ``E``'s period, as before.
    """
    if isinstance(as_of, _InclusiveEnd):
        end = to_utc(as_of.value, "observation_period_end")
        if end is None:
            return None
        return _period_start(_period_of(end, period) + 1, period) if floored else end + _STEP
    return to_utc(as_of, "as_of")


def _last_period(cutoff: pd.Timestamp, period: str) -> int:
    """Number of the last period observed before the exclusive ``cutoff``: the one holding
    its last instant. T and the holdout's duration are measured to it."""
    return _period_of(cutoff - _STEP, period)


def _default_cutoff(latest: Any, period: str) -> pd.Timestamp:
    """The default cut-off after the latest order: :func:`kpilib.periods.default_cutoff`
    (the next midnight) for days and weeks; for hours the next hour, so that T runs to the
    latest order's hour as in lifetimes."""
    latest = to_utc(latest, "latest")
    if period == "h":
        return _period_start(_period_of(latest, "h") + 1, "h")
    return default_cutoff(latest)


def _customer_periods(table: ibis.Table, period: str, cutoff: pd.Timestamp | None) -> ibis.Table:
    """One row per customer and period with an order, the period's order values summed
    (and the first ``row`` kept when the orders have one); orders at or after ``cutoff``
    are left out."""
    if cutoff is not None:
        table = table.filter(table.ts < cutoff)
    periods = table.mutate(period=_period_expr(table.ts, period))
    rows = {"row": periods.row.min()} if "row" in periods.columns else {}
    return periods.group_by(["customer_id", "period"]).aggregate(amount=periods.amount.cast(_EXACT).sum(), **rows)


def _summary_expr(table: ibis.Table, period: str, cutoff: pd.Timestamp | None) -> ibis.Table:
    """First and last period, number of periods, total value and first-period value per
    customer: two grouped aggregations, no window, one query."""
    per = _customer_periods(table, period, cutoff)
    amount, number = per.amount.cast("float64"), per.period.cast("int64")
    first_amount = _duckdb_arg_min(amount, number) if _is_duckdb(per) else amount.argmin(number)
    rows = {"row": per.row.min()} if "row" in per.columns else {}
    return per.group_by("customer_id").aggregate(
        first=per.period.min(), last=per.period.max(), periods=per.count(),
        total=per.amount.sum().cast("float64"), first_amount=first_amount, **rows,
    )


def _summary_frame(index: pd.Index, raw: Mapping[str, np.ndarray], unit: TimeUnit, end_period: int | None,
                   include_first: bool, monetary: bool, suffix: str = "") -> pd.DataFrame:
    """The summary's columns from the per-customer numbers of :func:`_summary_expr`,
    written into one float block (no per-column copies when the frame is built). T runs
    to ``end_period`` (default: the latest period with an order)."""
    names = ["frequency", "recency", "T"] + (["monetary_value"] if monetary else [])
    block = np.empty((len(names), len(index)))
    first, last, periods = raw["first"], raw["last"], raw["periods"]
    if end_period is None:
        end_period = int(last.max()) if len(last) else 0
    np.subtract(periods, 0 if include_first else 1, out=block[0], casting="unsafe")
    np.divide(np.subtract(last, first, dtype="int64"), unit.period_multiplier, out=block[1])
    np.divide(np.subtract(end_period, first, dtype="int64"), unit.period_multiplier, out=block[2])
    if monetary:
        total = raw["total"]
        if include_first:
            np.divide(total, periods, out=block[3])
        else:
            repeat = total - raw["first_amount"]
            with np.errstate(invalid="ignore", divide="ignore"):
                block[3] = np.where(periods > 1, repeat / (periods - 1), 0.0)
    return pd.DataFrame(block.T, index=index, columns=[f"{name}{suffix}" for name in names], copy=False)


@renamed_arguments(observation_period_end=("as_of", _InclusiveEnd), freq="period",
                   freq_multiplier="period_multiplier")
def rfm_summary(
    orders: ibis.Table | pd.DataFrame,
    *,
    customer_id_col: str = "customer_id",
    datetime_col: str = "ts",
    monetary_value_col: str | None = None,
    as_of: TimeLike = None,
    period: str = "D",
    period_multiplier: int = 1,
    include_first_transaction: bool = False,
) -> pd.DataFrame:
    r"""Frequency, recency, T (and monetary value) per customer, computed in the engine.

    Returns what ``lifetimes.utils.summary_data_from_transaction_data`` returns (same
    index, columns and values), as one Ibis aggregation: orders are grouped into
    ``period`` periods (several orders of a customer in one period are one transaction
    whose value is their sum), and per customer

    .. math::

        x = n_{\text{periods}} - 1, \qquad t_x = \frac{p_{\text{last}} - p_{\text{first}}}{m},
        \qquad T = \frac{p_{\text{end}} - p_{\text{first}}}{m}, \qquad
        \bar z = \operatorname{mean}(\text{values of the periods after the first})

    with :math:`p` period numbers, :math:`p_{\text{end}}` the last period observed (the
    one holding the last instant before ``as_of``) and :math:`m` = ``period_multiplier``.
    lifetimes' ``observation_period_end=E`` (inclusive, floored to its period) is
    ``as_of`` = the first instant of the period after ``E``'s, e.g. the next midnight.

    Parameters
    ----------
    orders : ibis.Table or pandas.DataFrame
        One row per order.
    customer_id_col, datetime_col : str
        Columns of the customer and of the order time (read as UTC).
    monetary_value_col : str, optional
        Column of the order value; adds ``monetary_value`` (0 for customers without a
        repeat period).
    as_of : date or timestamp, optional
        Exclusive data cut-off: orders with ``ts < as_of`` count. Default
        :func:`kpilib.periods.default_cutoff` of the latest order (every order counts) —
        T then runs to the latest order's period (for hours: the latest order's hour, as
        lifetimes). Was ``observation_period_end`` (inclusive), accepted for one release
        and converted to the cut-off giving the same summary.
    period : {"D", "W", "h"}, default "D"
        Period length: days, calendar weeks (Monday–Sunday) or hours. Was ``freq``.
    period_multiplier : int, default 1
        Divides recency and T: ``period="D", period_multiplier=7`` gives exact weeks
        counted from the day of the first order (the CDNOW papers' unit). Was
        ``freq_multiplier``.
    include_first_transaction : bool, default False
        Count the first period in ``frequency`` and ``monetary_value`` (not for fitting).

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (named ``customer_id_col``, sorted), float columns
        ``frequency``, ``recency``, ``T`` [, ``monetary_value``]. ``summary.attrs`` records
        ``period``, ``period_multiplier``, ``time_unit`` and (when given) ``as_of``; read
        the unit with :func:`~kpilib.clv.time_unit`.

    Raises
    ------
    DataError
        For a missing column or rows breaking the orders contract (negative amounts,
        unreadable times).

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...     "ts": ["2026-01-01", "2026-01-01 18:00", "2026-01-11", "2026-01-05"],
    ...     "amount": [10.0, 5.0, 30.0, 8.0]})
    >>> rfm_summary(orders, monetary_value_col="amount", as_of="2026-02-01")
                 frequency  recency     T  monetary_value
    customer_id
    a                  1.0     10.0  30.0            30.0
    b                  0.0      0.0  26.0             0.0
    """
    unit = _time_unit(period, period_multiplier)
    data = _orders(orders, customer_id_col, datetime_col, monetary_value_col)
    cutoff = _cutoff(as_of, unit.period, floored=True)
    end_period = None if cutoff is None else _last_period(cutoff, unit.period)
    index, raw = _per_customer(_summary_expr(data.table, unit.period, cutoff), data)
    summary = _summary_frame(index, raw, unit, end_period, include_first_transaction, bool(monetary_value_col))
    summary.attrs.update(unit.to_attrs())
    if cutoff is not None:
        summary.attrs["as_of"] = str(cutoff)
    return summary


def _time_unit(period: str, period_multiplier: int) -> TimeUnit:
    """The summary's unit, ``period`` checked by :func:`kpilib.periods.check_period`."""
    return TimeUnit(period, period_multiplier)


@renamed_arguments(observation_period_end=("as_of", _InclusiveEnd), freq="period",
                   freq_multiplier="period_multiplier")
def calibration_holdout_summary(
    orders: ibis.Table | pd.DataFrame,
    calibration_period_end: TimeLike,
    *,
    customer_id_col: str = "customer_id",
    datetime_col: str = "ts",
    monetary_value_col: str | None = None,
    as_of: TimeLike = None,
    period: str = "D",
    period_multiplier: int = 1,
    include_first_transaction: bool = False,
    calibration_period_start: TimeLike = None,
) -> pd.DataFrame:
    """Calibration summary and holdout purchases per customer, computed in the engine.

    Returns what ``lifetimes.utils.calibration_and_holdout_data`` returns: the
    :func:`rfm_summary` of the orders up to ``calibration_period_end`` (inclusive, compared
    to the exact order time: the split point) with suffix ``_cal``; then, for those
    customers, the number of ``period`` periods with an order after it and before
    ``as_of`` (``frequency_holdout``), the mean order value there
    (``monetary_value_holdout``, per order, not per period — as lifetimes) and the
    holdout length in time units (``duration_holdout``, to the period holding the last
    instant before ``as_of``). Customers first seen in the holdout are left out.

    Parameters
    ----------
    orders : ibis.Table or pandas.DataFrame
        One row per order.
    calibration_period_end : date or timestamp
        Last instant of the calibration period (inclusive).
    as_of : date or timestamp, optional
        Exclusive end of the holdout: orders with ``ts < as_of`` count. Default: after the
        latest order (:func:`kpilib.periods.default_cutoff`; for hours the next hour).
        Was ``observation_period_end`` (inclusive, compared to exact times), accepted for
        one release as ``as_of`` = that instant + 1 µs.
    calibration_period_start : date or timestamp, optional
        Ignore orders before it (a kpilib addition, for a calibration window shorter than
        the whole history; default: all history).
    customer_id_col, datetime_col, monetary_value_col, period, period_multiplier, include_first_transaction
        As in :func:`rfm_summary`.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id; columns ``frequency_cal``, ``recency_cal``, ``T_cal``
        [, ``monetary_value_cal``], ``frequency_holdout`` [, ``monetary_value_holdout``],
        ``duration_holdout`` (all float). ``attrs`` as in :func:`rfm_summary` plus
        ``calibration_period_end`` and ``as_of``.

    Raises
    ------
    DataError
        When there is no order in the holdout period, or for bad input.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "c"],
    ...     "ts": ["2026-01-01", "2026-01-11", "2026-02-10", "2026-01-05", "2026-02-01"]})
    >>> calibration_holdout_summary(orders, "2026-01-31", as_of="2026-03-01").to_dict("index")
    {'a': {'frequency_cal': 1.0, 'recency_cal': 10.0, 'T_cal': 30.0, 'frequency_holdout': 1.0, 'duration_holdout': 28.0},
     'b': {'frequency_cal': 0.0, 'recency_cal': 0.0, 'T_cal': 26.0, 'frequency_holdout': 0.0, 'duration_holdout': 28.0}}
    """
    unit = _time_unit(period, period_multiplier)
    period = unit.period
    data = _orders(orders, customer_id_col, datetime_col, monetary_value_col)
    table = data.table
    cal_end = to_utc(calibration_period_end, "calibration_period_end")
    if calibration_period_start is not None:
        table = table.filter(table.ts >= to_utc(calibration_period_start, "calibration_period_start"))
    cutoff = _cutoff(as_of, period, floored=False)

    holdout = table.filter(table.ts > cal_end)
    if cutoff is not None:
        holdout = holdout.filter(holdout.ts < cutoff)
    seen = holdout.aggregate(orders=holdout.count(), last_ts=holdout.ts.max()).to_pyarrow()
    if seen["orders"][0].as_py() == 0:
        raise DataError(
            f"there is no order after the calibration end {cal_end} "
            f"{'before ' + str(cutoff) if cutoff is not None else ''}".rstrip(),
            table="orders",
            column=datetime_col,
            fix="Check calibration_period_end and as_of against the order dates",
        )
    if cutoff is None:
        cutoff = _default_cutoff(seen["last_ts"][0].as_py(), period)

    calibration = _summary_expr(table.filter(table.ts <= cal_end), period, None)
    holdout = holdout.mutate(period=_period_expr(holdout.ts, period))
    later = holdout.group_by("customer_id").aggregate(
        frequency_holdout=holdout.period.nunique(),
        monetary_value_holdout=holdout.amount.cast(_EXACT).mean().cast("float64"),
    )
    # customers first seen in the holdout are left out, as in lifetimes
    joined = calibration.left_join(later, "customer_id")
    expr = joined.select(
        *calibration.columns,
        frequency_holdout=joined.frequency_holdout.fill_null(0).cast("float64"),
        monetary_value_holdout=joined.monetary_value_holdout.fill_null(0.0),
    )
    index, raw = _per_customer(expr, data)
    cal_period = _period_of(cal_end, period)
    out = _summary_frame(index, raw, unit, cal_period, include_first_transaction, bool(monetary_value_col), "_cal")
    out["frequency_holdout"] = raw["frequency_holdout"]
    if monetary_value_col:
        out["monetary_value_holdout"] = raw["monetary_value_holdout"]
    out["duration_holdout"] = float(_last_period(cutoff, period) - cal_period) / unit.period_multiplier
    out.attrs.update(unit.to_attrs())
    out.attrs.update(calibration_period_end=str(cal_end), as_of=str(cutoff))
    return out


def _rfm(frame: pd.DataFrame) -> pd.DataFrame:
    """frequency, recency, T (and monetary_value) of a summary or of the calibration part
    of a calibration/holdout frame, under the plain names."""
    suffix = "_cal" if "frequency_cal" in frame.columns else ""
    names = ["frequency", "recency", "T", "monetary_value"]
    present = [n for n in names if f"{n}{suffix}" in frame.columns]
    missing = [n for n in names[:3] if n not in present]
    if missing:
        raise DataError(
            f"the summary has no column(s) {', '.join(missing)}",
            column=missing[0],
            fix="Pass the result of kpilib.clv.rfm_summary or calibration_holdout_summary",
        )
    out = frame[[f"{n}{suffix}" for n in present]].copy()
    out.columns = present
    out.attrs = dict(frame.attrs)
    return out


def compress_rfm(summary: pd.DataFrame, columns: tuple[str, ...] = ("frequency", "recency", "T")) -> pd.DataFrame:
    """The unique rows of ``columns`` with their number of customers in ``weight``.

    The BG/NBD-family likelihood depends on a customer only through (x, t_x, T), so the
    fit on these rows with ``weights`` is the fit on all customers.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"frequency": [0.0, 0.0, 1.0], "recency": [0.0, 0.0, 3.0], "T": [5.0, 5.0, 5.0]})
    >>> compress_rfm(s)
       frequency  recency    T  weight
    0        0.0      0.0  5.0       2
    1        1.0      3.0  5.0       1
    """
    rfm = _rfm(summary)
    cols = list(columns)
    return rfm.groupby(cols, sort=True).size().rename("weight").reset_index()
