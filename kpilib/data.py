"""Sources, schemas and loading: the data contract, enforced in one place.

A *source* is a folder of ``<table>.parquet`` / ``<table>.csv`` files (read in place by
DuckDB, never loaded whole into pandas), a database URL or Spark source
(:mod:`kpilib.sources`), a ``dict`` of pandas DataFrames, or an Ibis backend connection
holding tables of the contract's names. :func:`load_dataset` turns any
of them into a :class:`Dataset` of Ibis tables, each coerced to its schema and checked
row by row *inside the engine* (one aggregate query per table). A violation raises
:class:`DataError`, which names the table, the column, how many rows fail, a few example
values and what to do about it.

The contract itself (tables, columns, rules, :class:`DataError`) is defined once in
:mod:`kpilib.contract`, a folder's ``kpilib.toml`` is read by :mod:`kpilib.source_settings`;
both are re-exported here. ``data/README.md`` is rendered from them (``python -m kpilib docs``).
"""

from __future__ import annotations

import codecs
import difflib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import pandas as pd
import pyarrow as pa

from kpilib import contract, source_settings, sources, validations
from kpilib.bundle import sample_dir
from kpilib.contract import (
    _EXACT_FLOAT,
    _KIND_NOUN,
    _KIND_TYPE,
    ACTIVITY_COLUMNS,
    NULL_LIKE_IDS,
    SCHEMAS,
    TABLE_NAMES,
    UTC,
    Column,
    ContractOptions,
    DataError,
    RowRule,
    TableSchema,
)
from kpilib.periods import duration_text, month_bounds
from kpilib.source_settings import (
    SETTINGS_FILE,
    FunnelSettings,
    SourceSettings,
    TableMapping,
    apply_mapping,
    read_settings,
    table_file,
)

__all__ = [
    "ACTIVITY_COLUMNS",
    "MISSING_LABEL",
    "SAMPLE_DIR",
    "SCHEMAS",
    "SETTINGS_FILE",
    "SourceSettings",
    "Column",
    "ContractOptions",
    "DataError",
    "Dataset",
    "FunnelSettings",
    "NULL_LIKE_IDS",
    "RowRule",
    "TableMapping",
    "TableSchema",
    "EXACT_MONEY",
    "as_table",
    "exact_sum",
    "load_dataset",
    "memtable",
]

#: How a breakdown value that is null (a customer without a plan, an event without a
#: channel) is labelled wherever kpilib groups by it: results, tables and figures alike.
MISSING_LABEL = "(none)"

#: The committed sample data, used when no source is given (see :mod:`kpilib.bundle`).
SAMPLE_DIR = sample_dir()


def _fmt(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    return value


def _suggest_fix_for_missing(schema: TableSchema, column: str, have: list[str]) -> str:
    close = difflib.get_close_matches(column, have, n=1, cutoff=0.5)
    if close:
        return (f"Rename '{close[0]}' to '{column}', e.g. df.rename(columns={{'{close[0]}': '{column}'}}), "
                f"or map it in {SETTINGS_FILE}: [tables.{schema.name}.columns] {column} = \"{close[0]}\"")
    return (f"Add a '{column}' column, or map one of the table's columns onto it in {SETTINGS_FILE} "
            f"([tables.{schema.name}.columns] {column} = \"their_column\"); the contract for "
            f"'{schema.name}' is in data/README.md")


def _coerce_column(column: Column, raw: Any) -> Any:
    """``raw`` cast to ``column``'s kind; a value that cannot be cast becomes null."""
    target = _KIND_TYPE[column.kind]
    current = raw.type()
    if current == target:
        return raw
    if current.is_null():
        return ibis.null(target)
    if column.kind == "timestamp" and current.is_timestamp():
        return raw.cast(UTC)
    if column.kind == "date" and current.is_timestamp():
        return raw.date()
    if column.kind == "id" and current.is_floating():
        # A float id is a whole number or nothing: 12.0 is the id "12" (as in the other
        # tables, where it is an integer), 12.5 or a float past 2**53 cannot be trusted.
        exact = (raw == raw.round()) & (raw.abs() < _EXACT_FLOAT)
        return ibis.ifelse(exact, raw.cast(dt.int64), ibis.null(dt.int64)).cast(dt.string)
    if column.kind in ("id", "string"):
        return raw.cast(dt.string)
    if column.kind == "integer":
        # Through a float and back, so 7.5 is refused instead of rounded to 8.
        number = raw if current.is_floating() else raw.try_cast(dt.float64)
        whole = (number == number.round()) & (number.abs() < _EXACT_FLOAT)
        return ibis.ifelse(whole, number.cast(dt.int64), ibis.null(dt.int64))
    return raw.try_cast(target)


def _cast_may_fail(column: Column, current: dt.DataType) -> bool:
    """Whether :func:`_coerce_column` can turn a value of type ``current`` into null: text
    that is no timestamp or number, a fraction where a whole number is due. A timestamp
    is always a timestamp (and a date), any number a float."""
    if current.is_null() or current == _KIND_TYPE[column.kind]:
        return False
    if column.kind in ("timestamp", "date"):
        return not current.is_timestamp()
    return not (column.kind == "number" and current.is_numeric())


def integer_ids(table: ibis.Table, column: str = "customer_id") -> ibis.Table | None:
    """``table`` with ``__integer_id``, the integers its text ``column`` was made from, or
    ``None`` when the column is not the contract's text of an integer column.

    :func:`load_dataset` turns integer ids into text (the contract's ids); grouping and
    joining 5 M text ids costs the engine about a third more than their integers. An
    aggregation that gives the ids back as text may group on the integers instead: they
    are the same customers (the text of an integer is its canonical decimal).

    Parameters
    ----------
    table : ibis.Table
        A table as :func:`load_dataset` or :func:`as_table` gives it.
    column : str
        The id column.

    Returns
    -------
    ibis.Table or None

    Examples
    --------
    >>> import pandas as pd
    >>> orders = as_table(pd.DataFrame({"customer_id": [7, 12], "ts": ["2026-10-01"] * 2,
    ...                                 "amount": [1.0, 2.0]}), "orders")
    >>> integer_ids(orders).select("customer_id", "__integer_id").to_pandas()
      customer_id  __integer_id
    0           7             7
    1          12            12
    >>> integer_ids(orders.mutate(customer_id=orders.customer_id + "x")) is None
    True
    """
    op = table.op()
    if not isinstance(op, ops.Project):
        return None
    value = op.values.get(column)
    if not (isinstance(value, ops.Cast) and value.to.is_string() and value.arg.dtype.is_integer()):
        return None
    return ops.Project(op.parent, {**op.values, "__integer_id": value.arg}).to_expr()


def _coerced_columns(schema: TableSchema, raw: ibis.Table) -> dict[str, Any]:
    """Column expressions over ``raw``: contract columns cast to their kinds (a failed
    cast gives null), extra columns as they are."""
    have = list(raw.columns)
    for col in schema.required:
        if col not in have:
            raise DataError(
                f"required column '{col}' is missing (the table has: {', '.join(have)})",
                table=schema.name,
                column=col,
                fix=_suggest_fix_for_missing(schema, col, have),
            )
    columns = {c.name: c for c in schema.columns}
    return {
        name: _coerce_column(columns[name], raw[name]) if name in columns else raw[name]
        for name in have
    }


def _coerce(schema: TableSchema, raw: ibis.Table) -> ibis.Table:
    """``raw`` with its contract columns coerced to their types; extras kept."""
    return raw.select(**_coerced_columns(schema, raw))


@dataclass(frozen=True)
class _Check:
    """One counted condition of a table: a rule that refuses rows, or a note about them."""

    column: str
    bad: Any
    message: str
    fix: str
    refuse: bool = True


def _column_checks(column: Column, value: Any, original: Any, options: ContractOptions) -> list[_Check]:
    """The row checks of one contract column, in the order they are reported."""
    checks = []
    name = column.name
    if not column.nullable:
        noun = "have no id" if column.kind == "id" else "are empty"
        checks.append(_Check(name, original.isnull(), noun,
                             f"Drop or fill those rows; df[df['{name}'].isna()] lists them"))
    if column.kind == "id" and original.type().is_floating():
        checks.append(_Check(
            name, original.notnull() & value.isnull(),
            "are fractional or too large for a float to hold exactly (above 2**53)",
            f"Store '{name}' as text (or integers) in the source; a float id has lost digits",
        ))
    elif column.kind in _KIND_NOUN and _cast_may_fail(column, original.type()):
        convert = "datetime" if column.kind in ("timestamp", "date") else "numeric"
        checks.append(_Check(
            name, original.notnull() & value.isnull(),
            f"cannot be read as {_KIND_NOUN[column.kind]}",
            f"Fix or remove them; pd.to_{convert}(df['{name}'], errors='coerce') shows which",
        ))
    if column.kind == "id" and not original.type().is_integer():
        # One pass over the text (a string scan dominates the cost of validating a big
        # table): empty, a null-like word in any case, or spaces around the id — which
        # would silently keep it from matching the same id elsewhere. (An integer id
        # written as text is none of these: no scan for it.) Only an id as short as the
        # longest word is lowered: lowering every id costs more than the rest together.
        longest_word = max(map(len, NULL_LIKE_IDS))
        null_like = ibis.ifelse(value.length() <= longest_word, value.lower().isin(["", *NULL_LIKE_IDS]), False)
        checks.append(_Check(
            name,
            value.notnull() & (null_like | value.startswith(" ") | value.endswith(" ")),
            f"have a blank id, spaces around it or a null-like word as id ({', '.join(NULL_LIKE_IDS)})",
            f"Strip the ids (df['{name}'].str.strip()) and drop or fill the missing ones: pandas writes a "
            "missing value as 'nan' when it turns a column into text. Rename a real customer whose id "
            "is such a word",
        ))
    if column.kind == "number":
        checks.append(_Check(
            name, value.notnull() & (value.isnan() | value.isinf()), "are not finite (NaN or infinity)",
            f"Give '{name}' a real value or drop the rows; np.isfinite(df['{name}']) shows which",
        ))
    if column.kind in ("timestamp", "date") and not column.may_be_future:
        limit = options.future_limit()
        bound = ibis.literal(limit.date()) if column.kind == "date" else ibis.literal(limit, type=UTC)
        checks.append(_Check(
            name, value.notnull() & (value > bound),
            f"are in the future (after {limit:%Y-%m-%d %H:%M} UTC: the data's as-of time "
            f"plus {duration_text(options.future_tolerance)})",
            "Fix the times (a wrong year or time zone?); to keep them, set allow_future = true "
            "(or a larger future_tolerance) under [contract] in kpilib.toml, or pass "
            "allow_future=True to load_dataset",
            refuse=not options.allow_future,
        ))
    if column.minimum is not None:
        checks.append(_Check(
            name, value.notnull() & (value < column.minimum),
            "are negative" if column.minimum == 0 else f"are below {column.minimum:g}",
            f"'{name}' must be ≥ {column.minimum:g}; record refunds or credits in a separate table",
        ))
    if column.allowed is not None:
        checks.append(_Check(
            name, value.notnull() & ~value.isin(list(column.allowed)),
            f"have a value outside {{{', '.join(column.allowed)}}}",
            f"Map the values onto {', '.join(column.allowed)}",
        ))
    return checks


def _validate(schema: TableSchema, raw: ibis.Table, options: ContractOptions | None = None
              ) -> tuple[ibis.Table, list[str]]:
    """Coerce ``raw`` to ``schema``, check every rule in one aggregate query.

    Returns the coerced table and the notes (rows kept but worth knowing about).
    """
    options = options or ContractOptions()
    coerced = _coerced_columns(schema, raw)
    # Raw and coerced values side by side in one projection, so a failed cast can be
    # told from a null and every rule is counted in a single aggregate query.
    paired = raw.select(
        **{f"__raw_{c.name}": raw[c.name] for c in schema.columns if c.name in raw.columns},
        **coerced,
    )
    checks: list[_Check] = []
    for column in schema.columns:
        if column.name in coerced:
            checks.extend(_column_checks(column, paired[column.name], paired[f"__raw_{column.name}"], options))
    checks.extend(_Check(rule.column, rule.bad(paired), rule.message, rule.fix) for rule in schema.rules)
    checks.extend(_Check(note.column, note.bad(paired), note.message, note.fix, refuse=False)
                  for note in schema.notes)
    unique = [c.name for c in schema.columns if c.unique and c.name in coerced]

    counts = paired.aggregate(
        __rows=paired.count(),
        **{f"c{i}": check.bad.sum() for i, check in enumerate(checks)},
        **{f"u{i}": paired[name].nunique() for i, name in enumerate(unique)},
        **{f"n{i}": paired[name].count() for i, name in enumerate(unique)},
    ).to_pyarrow().to_pylist()[0]  # one row: no pandas conversion needed
    total = int(counts["__rows"])
    notes = []
    for i, check in enumerate(checks):
        n_bad = int(counts[f"c{i}"] or 0)  # a sum over no rows is null
        if not n_bad:
            continue
        if not check.refuse:
            notes.append(f"{schema.name}.{check.column}: {n_bad:,} of {total:,} rows {check.message}")
            continue
        source_col = f"__raw_{check.column}" if f"__raw_{check.column}" in paired.columns else check.column
        examples = paired.filter(check.bad).select(source_col).limit(5).execute()[source_col]
        raise DataError(
            f"{n_bad:,} of {total:,} rows {check.message}",
            table=schema.name,
            column=check.column,
            rows=n_bad,
            examples=[_fmt(v) for v in examples],
            fix=check.fix,
        )
    for i, name in enumerate(unique):
        repeats = int(counts[f"n{i}"]) - int(counts[f"u{i}"])
        if repeats:
            dupes = (paired.group_by(name).aggregate(__n=paired.count()).filter(lambda t: t.__n > 1)
                     .order_by(name).limit(5).execute()[name])
            raise DataError(
                f"{repeats:,} of {total:,} rows repeat an id already listed (each {name} must "
                "appear once)",
                table=schema.name,
                column=name,
                rows=repeats,
                examples=[_fmt(v) for v in dupes],
                fix=f"Keep one row per {name}, e.g. df.drop_duplicates('{name}', keep='first') after "
                "sorting by signup time; df[df.duplicated('{name}', keep=False)] lists them".replace(
                    "{name}", name),
            )
    return raw.select(**coerced), notes


@dataclass
class Dataset:
    """The seven tables of the contract as Ibis tables (``None`` where absent).

    Build one with :func:`load_dataset`. Aggregations run where the tables live (DuckDB
    for files and DataFrames, the warehouse for a backend connection). ``notes`` lists
    what validation accepted but a reader should know (e.g. clicks counted as opens,
    future times kept by ``allow_future``), one line each. ``funnel`` is the funnel the
    source declares in its ``kpilib.toml`` (:class:`FunnelSettings`; all ``None`` without
    one), which the funnel notebook and ``check`` use unless given steps explicitly;
    ``timezone`` the report time zone it declares (``None``: UTC). ``kind`` says where
    the tables come from, for what a message tells to add: ``"files"`` (a folder),
    ``"database"`` (a connection's schema or catalog) or ``"frames"`` (given in Python).
    """

    customers: ibis.Table | None = None
    events: ibis.Table | None = None
    orders: ibis.Table | None = None
    subscriptions: ibis.Table | None = None
    email: ibis.Table | None = None
    surveys: ibis.Table | None = None
    spend: ibis.Table | None = None
    source: str = field(default="", compare=False)
    kind: str = field(default="", compare=False)
    notes: list[str] = field(default_factory=list, compare=False)
    funnel: FunnelSettings = field(default_factory=lambda: FunnelSettings(), compare=False)
    timezone: str | None = field(default=None, compare=False)

    def tables(self) -> dict[str, ibis.Table]:
        """The tables present, by name."""
        return {name: getattr(self, name) for name in TABLE_NAMES if getattr(self, name) is not None}

    def has(self, name: str) -> bool:
        """Whether table ``name`` is present."""
        return getattr(self, name, None) is not None

    def require(self, name: str, purpose: str = "this analysis") -> ibis.Table:
        """Table ``name``, or a :class:`DataError` saying that ``purpose`` needs it."""
        table = getattr(self, name, None)
        if table is None:
            raise DataError(
                f"{purpose} needs this table, and the source has none",
                table=name,
                fix=f"Add {name}.parquet or {name}.csv to the source folder (see data/README.md)",
            )
        return table

    def time_spans(self) -> pd.DataFrame:
        """Each present table's first and last activity (UTC), computed in the engine.

        Activity is the table's own time column (:data:`ACTIVITY_COLUMNS`: sign-ups,
        events, orders, subscription starts, sends, answers, spend days).

        Returns
        -------
        pandas.DataFrame
            ``table``, ``column``, ``first``, ``last`` (NaT for a table with no dated row).

        Examples
        --------
        >>> import pandas as pd
        >>> ds = load_dataset({"orders": pd.DataFrame({"customer_id": ["a", "b"],
        ...     "ts": ["2026-09-30 23:00", "2026-10-02"], "amount": [10.0, 5.5]})})
        >>> ds.time_spans()
            table column                     first                      last
        0  orders     ts 2026-09-30 23:00:00+00:00 2026-10-02 00:00:00+00:00
        """
        rows = []
        for name, table in self.tables().items():
            column = table[ACTIVITY_COLUMNS[name]]
            if column.type().is_date():
                column = column.cast(UTC)
            bounds = table.aggregate(first=column.min(), last=column.max()).execute()
            rows.append({"table": name, "column": ACTIVITY_COLUMNS[name],
                         "first": bounds["first"].iloc[0], "last": bounds["last"].iloc[0]})
        frame = pd.DataFrame(rows, columns=["table", "column", "first", "last"])
        for col in ("first", "last"):
            frame[col] = pd.to_datetime(frame[col], utc=True)
        return frame

    def coverage_notes(self, month: str) -> list[str]:
        """What a reader of the report ``month`` must know about how far the data reach.

        One line when the data (all tables together) end before the month does (a *partial*
        month, with the days covered) or start after it begins; one line per table with no
        row in the month although the data reach into it (a *stale* table, e.g. orders
        exported three months before the events). A day counts as covered once any row falls
        on it (data are taken to cover whole days). An empty list when the month is whole.

        Examples
        --------
        >>> import pandas as pd
        >>> ds = load_dataset({"orders": pd.DataFrame({"customer_id": ["a", "b"],
        ...     "ts": ["2026-08-03", "2026-10-22 13:00"], "amount": [10.0, 5.5]}),
        ...     "customers": pd.DataFrame({"customer_id": ["a"], "signup_at": ["2026-07-01"],
        ...     "channel": ["web"]})})
        >>> for line in ds.coverage_notes("2026-10"):
        ...     print(line)
        The data end on 2026-10-22: 2026-10 is partial (22 of 31 days).
        customers: the last row is from 2026-07-01, before 2026-10: this table adds nothing to the month.
        """
        start, end = month_bounds(month)
        days = (end - start).days
        spans = self.time_spans()
        first, last = spans["first"].min(), spans["last"].max()
        if pd.isna(last):
            return ["The source holds no dated rows."]
        notes = []
        if last < start or first >= end:
            return [f"The data run from {first:%Y-%m-%d} to {last:%Y-%m-%d}: nothing falls in {month}."]
        if last.floor("D") < end - pd.Timedelta(days=1):
            covered = (last.floor("D") - start).days + 1
            notes.append(f"The data end on {last:%Y-%m-%d}: {month} is partial ({covered} of {days} days).")
        if first.floor("D") > start:
            covered = (end - first.floor("D")).days
            notes.append(f"The data start on {first:%Y-%m-%d}: {month} is partial ({covered} of {days} days).")
        for row in spans.itertuples():
            if pd.isna(row.last):
                notes.append(f"{row.table}: no dated rows.")
            elif row.last < start:
                notes.append(f"{row.table}: the last row is from {row.last:%Y-%m-%d}, before {month}: "
                             "this table adds nothing to the month.")
        return notes

    def time_span(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The earliest and latest activity in the source, as UTC timestamps.

        ``(None, None)`` when no table holds a time (see :meth:`time_spans`).

        Examples
        --------
        >>> import pandas as pd
        >>> ds = load_dataset({"orders": pd.DataFrame({"customer_id": ["a", "b"],
        ...     "ts": ["2026-09-30 23:00", "2026-10-02"], "amount": [10.0, 5.5]})})
        >>> ds.time_span()
        (Timestamp('2026-09-30 23:00:00+0000', tz='UTC'), Timestamp('2026-10-02 00:00:00+0000', tz='UTC'))
        """
        spans = self.time_spans()
        first, last = spans["first"].min(), spans["last"].max()
        return (None if pd.isna(first) else first, None if pd.isna(last) else last)

    def row_counts(self) -> pd.DataFrame:
        """Rows per table (0 for an absent table), computed in the engine."""
        rows = []
        for name in TABLE_NAMES:
            table = getattr(self, name)
            rows.append({"table": name, "present": table is not None,
                         "rows": int(table.count().execute()) if table is not None else 0})
        return pd.DataFrame(rows)


#: Rows per Arrow record batch of an in-memory table. DuckDB hands an Arrow table to its
#: threads one batch at a time, and a conversion from pandas gives a single batch: cut
#: into batches of DuckDB's row-group size, a table is scanned by every core (a grouped
#: aggregation over five million rows runs about 1.5× faster on two cores).
ARROW_BATCH_ROWS = 122_880


def memtable(data: pd.DataFrame | pa.Table) -> ibis.Table:
    """An in-memory table the engine reads in parallel.

    A pandas DataFrame is converted to Arrow once (an object column mixing types, e.g.
    numbers and text, is handed over as text for the engine to cast); the Arrow table
    is cut, without copying, into record batches of :data:`ARROW_BATCH_ROWS` rows.

    Parameters
    ----------
    data : pandas.DataFrame or pyarrow.Table
        The rows (a DataFrame's index is dropped).

    Returns
    -------
    ibis.Table

    Examples
    --------
    >>> import pandas as pd
    >>> memtable(pd.DataFrame({"id": [1, "b"], "x": [0.5, 1.5]})).schema()
    ibis.Schema {
      id  string
      x   float64
    }
    """
    if isinstance(data, pd.DataFrame):
        data = _arrow_table(data)
    return ibis.memtable(pa.Table.from_batches(data.to_batches(max_chunksize=ARROW_BATCH_ROWS), schema=data.schema))


def _arrow_table(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as Arrow: its text columns by :func:`text_array`, the rest by pyarrow (an
    object column mixing types as text)."""
    texts: dict[Any, pa.ChunkedArray] = {}
    if frame.columns.is_unique:
        for name in frame.columns:
            if (array := text_array(frame[name])) is not None:
                texts[name] = array
    rest = [name for name in frame.columns if name not in texts]
    try:
        table = pa.Table.from_pandas(frame, columns=rest, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        fixed = frame[rest].copy()
        for col in fixed.select_dtypes(include="object").columns:
            fixed[col] = fixed[col].map(lambda v: None if pd.isna(v) else str(v))
        table = pa.Table.from_pandas(fixed, preserve_index=False)
    if not texts:
        return table
    arrays = [texts[name] if name in texts else table.column(str(name)) for name in frame.columns]
    return pa.table(arrays, names=[str(name) for name in frame.columns])


#: From how many values :func:`text_array` hands a text column to DuckDB (below, pyarrow's
#: conversion is as fast).
TEXT_BY_ENGINE_ROWS = 100_000

_converter: duckdb.DuckDBPyConnection | None = None


def text_array(values: pd.Series) -> pa.ChunkedArray | None:
    """A large column of Python strings as Arrow text, or ``None`` for the general path.

    An object column of :data:`TEXT_BY_ENGINE_ROWS` values or more, every one a ``str``
    (missing ones ``None`` or NaN, which become nulls), is read by DuckDB's scanner of
    pandas frames, which copies the strings in C++ — about twice as fast as pyarrow's
    conversion value by value (0.10 against 0.25 s for 5 M ids). A smaller column, any
    other column, or text DuckDB refuses (a lone surrogate) gives ``None``: the caller
    converts it its own way.

    Parameters
    ----------
    values : pandas.Series

    Returns
    -------
    pyarrow.ChunkedArray or None
        The same values, in order, as Arrow ``string``.

    Examples
    --------
    >>> import pandas as pd
    >>> ids = pd.Series(["a", None, "b"] * 40_000)
    >>> text_array(ids).to_pylist()[:4]
    ['a', None, 'b', 'a']
    >>> text_array(pd.Series(["a", 1] * 60_000)) is None
    True
    """
    global _converter
    if (len(values) < TEXT_BY_ENGINE_ROWS or not pd.api.types.is_object_dtype(values.dtype)
            or pd.api.types.infer_dtype(values, skipna=True) != "string"):
        return None
    frame = pd.DataFrame({"text": values.to_numpy()}, copy=False)
    try:
        if _converter is None:  # a database of its own: nothing of the caller's is touched
            _converter = duckdb.connect()
        with _converter.cursor() as con:  # a cursor per call: safe from several threads
            column = duckdb.from_df(frame, connection=con).to_arrow_table().column(0)
    except duckdb.Error:
        _converter = None  # a fatal error closes the database: the next call opens another
        return None
    return column if column.type == pa.string() else column.cast(pa.string())


#: Money is summed as exact decimals with six places (a millionth of the currency unit):
#: a parallel engine adds floats in a varying order, so a float sum can differ in its last
#: digit from run to run — and a total of 367,235.5 then shows as 367,235 in one report and
#: 367,236 in the next.
EXACT_MONEY = dt.Decimal(18, 6)


def exact_sum(column: Any) -> Any:
    """The sum of a money column computed exactly (:data:`EXACT_MONEY`), as a float.

    The same rows give the same bits whatever the engine's summation order.

    Examples
    --------
    >>> import pandas as pd
    >>> t = memtable(pd.DataFrame({"x": [0.1] * 10 + [1e9, -1e9]}))
    >>> float(exact_sum(t.x).execute())
    1.0
    """
    return column.cast(EXACT_MONEY).sum().cast(dt.float64)


def _from_pandas(frame: pd.DataFrame, name: str) -> ibis.Table:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame or an Ibis table, got {type(frame).__name__}",
            table=name,
            fix="Pass a DataFrame, an Ibis table, or a folder of files to load_dataset",
        )
    return memtable(frame)


def as_table(obj: ibis.Table | pd.DataFrame, name: str, *, validate: bool | None = None) -> ibis.Table:
    """One table of the contract as a typed Ibis table.

    Every public kpilib function calls this on its inputs, so it accepts a pandas
    DataFrame as well as an Ibis table.

    Parameters
    ----------
    obj : ibis.Table or pandas.DataFrame
        The table.
    name : str
        Which table of the contract it is (``"events"``, ``"orders"`` …).
    validate : bool, optional
        Run the row checks. By default DataFrames are checked (cheap) and Ibis tables
        are only coerced, since :func:`load_dataset` already checked them on load.

    Returns
    -------
    ibis.Table
        Required columns coerced to their types (timestamps in UTC), extras kept.

    Raises
    ------
    DataError
        When a required column is missing or a row breaks a rule.

    Examples
    --------
    >>> import pandas as pd
    >>> t = as_table(pd.DataFrame({"customer_id": [1], "ts": ["2026-10-01 12:00"],
    ...                            "amount": [9.5]}), "orders")
    >>> t.schema()["ts"]
    Timestamp(timezone='UTC', scale=None, nullable=True)
    >>> as_table(pd.DataFrame({"customer_id": [1], "ts": ["2026-10-01"], "amount": [-2.0]}),
    ...          "orders")
    Traceback (most recent call last):
    ...
    kpilib.contract.DataError: table 'orders', column 'amount': 1 of 1 rows are negative (examples: -2.0). 'amount' must be ≥ 0; record refunds or credits in a separate table
    """
    if name not in SCHEMAS:
        raise DataError(
            f"unknown table '{name}'",
            table=name,
            fix=f"The contract's tables are {', '.join(TABLE_NAMES)}",
        )
    schema = SCHEMAS[name]
    is_frame = not isinstance(obj, ibis.Table)
    raw = _from_pandas(obj, name) if is_frame else obj
    if validate is None:
        validate = is_frame
    if validate:
        return _validate(schema, raw)[0]
    return _coerce(schema, raw)


def _glob_literal(path: Path) -> str:
    """``path`` as DuckDB reads it literally: its glob characters in brackets.

    DuckDB expands ``*``, ``?`` and ``[…]`` in every file path, so a folder named
    ``data*`` or ``src[12]`` would silently read its siblings' files.
    """
    return "".join(f"[{c}]" if c in "*?[" else c for c in str(path))


def _file_error(path: Path, name: str, problem: str, fix: str) -> DataError:
    return DataError(f"the file {path} {problem}", table=name, fix=fix)


def _check_text(path: Path, name: str) -> None:
    """Refuse a CSV file that is empty or not UTF-8, saying which encoding it seems to be."""
    with path.open("rb") as handle:
        head = handle.read(1 << 20)
    if not head.strip():
        raise _file_error(path, name, "is empty", "Write the table with a header line "
                          f"({', '.join(SCHEMAS[name].required)}) and its rows, or remove the file")
    convert = ("Convert it to UTF-8, e.g. iconv -f {enc} -t UTF-8 {file} > fixed.csv, or in pandas "
               "pd.read_csv(path, encoding='{py}').to_csv(new_path, index=False)")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4096]:
        raise _file_error(path, name, "is UTF-16 encoded, not UTF-8",
                          convert.format(enc="UTF-16", file=path.name, py="utf-16"))
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < (1 << 20))
    except UnicodeDecodeError as exc:
        # Bytes 0x80-0x9f are control codes in Latin-1 but letters and signs (€, ’, …) in
        # Windows-1252, the usual encoding of spreadsheets saved on Windows.
        cp1252 = any(0x80 <= b <= 0x9F for b in head)
        enc, py = ("WINDOWS-1252", "cp1252") if cp1252 else ("LATIN1", "latin-1")
        raise _file_error(
            path, name,
            f"is not UTF-8 (byte {head[exc.start]:#04x} at offset {exc.start:,}); it looks like {enc}",
            convert.format(enc=enc, file=path.name, py=py),
        ) from None


def _read_file(con: Any, path: Path, name: str, text_columns: Sequence[str] = ()) -> ibis.Table:
    """One table file read in place, literally (no glob, no Hive partitions from folder
    names), its contract columns (and ``text_columns``, the columns a mapping renames to
    them) as text for the contract's own casts, so long numeric ids stay exact; an
    unreadable file gives a :class:`DataError` naming it."""
    literal = _glob_literal(path)
    try:
        if path.stat().st_size == 0:
            raise _file_error(path, name, "is empty (0 bytes)", "Write the table into it or remove the file")
        if path.suffix == ".csv":
            _check_text(path, name)
            header = con.con.execute(
                "DESCRIBE SELECT * FROM read_csv(?, hive_partitioning = false)", [literal]
            ).fetchall()
            text = {c.name for c in SCHEMAS[name].columns} | set(text_columns)
            types = {row[0]: "VARCHAR" for row in header if row[0] in text}
            return con.read_csv(literal, table_name=f"raw_{name}", types=types, hive_partitioning=False)
        return con.read_parquet(literal, table_name=f"raw_{name}", hive_partitioning=False)
    except duckdb.Error as exc:
        kind = "Parquet" if path.suffix == ".parquet" else "CSV"
        reason = str(exc).strip().splitlines()[0]
        raise _file_error(
            path, name, f"cannot be read as {kind} ({reason})",
            "Re-export the file" + (" (pyarrow.parquet.read_table shows what is wrong)"
                                    if kind == "Parquet" else " as UTF-8 CSV with a header line"),
        ) from None


def _read_file_spark(con: ibis.BaseBackend, path: Path, name: str) -> ibis.Table:
    """One table file read by Spark: Parquet as written, CSV with a header line and every
    column as text (the contract's casts type the contract's columns)."""
    try:
        if path.stat().st_size == 0:
            raise _file_error(path, name, "is empty (0 bytes)", "Write the table into it or remove the file")
        if path.suffix == ".csv":
            _check_text(path, name)
            return con.read_csv(str(path), table_name=f"raw_{name}", header=True, inferSchema=False)
        return con.read_parquet(str(path), table_name=f"raw_{name}")
    except DataError:
        raise
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fix = ("Write its times in microseconds, which Spark reads (pandas: df.to_parquet(path, "
               "coerce_timestamps='us'); pyarrow: pq.write_table(t, path, coerce_timestamps='us'))"
               if "NANOS" in reason else "Re-export the file")
        raise _file_error(path, name, f"cannot be read by Spark ({reason})", fix) from None



def _load_table(raw: ibis.Table, name: str, validate: bool, options: ContractOptions,
                notes: list[str], where: Path | None = None) -> ibis.Table:
    schema = SCHEMAS[name]
    if not validate:
        return _coerce(schema, raw)
    try:
        table, table_notes = _validate(schema, raw, options)
    except duckdb.Error as exc:  # a row the reader chokes on, past what the sniffer saw
        reason = str(exc).strip().splitlines()[0]
        raise DataError(
            f"{'the file ' + str(where) if where else 'the table'} cannot be read to the end ({reason})",
            table=name,
            fix="Re-export the table (UTF-8 CSV with a header line, or Parquet)",
        ) from None
    notes.extend(table_notes)
    return table


#: Environment variables bounding the embedded engine (DuckDB) of a folder source: its
#: worker threads, its memory (e.g. ``"3GB"``; past it DuckDB spills to disk) and the
#: folder it spills to (DuckDB's default is ``.tmp`` in the working folder). The report
#: sets the memory for its kernels when notebooks run at once (``--jobs``) and the spill
#: folder to one inside the month it builds, removed with it.
ENGINE_THREADS_VARIABLE = "KPILIB_ENGINE_THREADS"
ENGINE_MEMORY_VARIABLE = "KPILIB_ENGINE_MEMORY"
ENGINE_SPILL_VARIABLE = "KPILIB_ENGINE_SPILL"


def engine_settings() -> dict[str, Any]:
    """The DuckDB settings of a folder source's connection, from the environment
    (:data:`ENGINE_THREADS_VARIABLE`, :data:`ENGINE_MEMORY_VARIABLE`,
    :data:`ENGINE_SPILL_VARIABLE`); empty when unset, which leaves DuckDB's defaults
    (every core, 80 % of the memory, ``.tmp`` in the working folder).

    Examples
    --------
    >>> import os
    >>> [os.environ.pop(v, None) for v in (ENGINE_THREADS_VARIABLE, ENGINE_MEMORY_VARIABLE, ENGINE_SPILL_VARIABLE)]
    [None, None, None]
    >>> engine_settings()
    {}
    """
    settings: dict[str, Any] = {}
    threads = os.environ.get(ENGINE_THREADS_VARIABLE, "").strip()
    if threads:
        if not threads.isdigit() or int(threads) < 1:
            raise DataError(f"{ENGINE_THREADS_VARIABLE}={threads!r} is not a number of threads",
                            fix="Set it to a whole number of 1 or more, or unset it")
        settings["threads"] = int(threads)
    memory = os.environ.get(ENGINE_MEMORY_VARIABLE, "").strip()
    if memory:
        if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", memory, re.IGNORECASE):
            raise DataError(f"{ENGINE_MEMORY_VARIABLE}={memory!r} is not an amount of memory",
                            fix="Write it like 3GB or 500MB, or unset it")
        settings["memory_limit"] = memory
    spill = os.environ.get(ENGINE_SPILL_VARIABLE, "").strip()
    if spill:
        settings["temp_directory"] = spill
    return settings


#: What a remembered validation also depends on: the rules themselves (their modules' files).
_RULES_STAMP = tuple((path.stat().st_size, path.stat().st_mtime_ns)
                     for path in (Path(__file__), Path(contract.__file__), Path(source_settings.__file__)))


def _read_folder(folder: Path, validate: bool, settings: SourceSettings | None, given: Mapping[str, Any],
                 con: ibis.BaseBackend | None = None, label: str | None = None) -> Dataset:
    """A folder's table files, read in place by DuckDB (or by ``con``, a Spark session)."""
    options = replace(settings.contract if settings else ContractOptions(), **given)
    con = ibis.duckdb.connect(**engine_settings()) if con is None else con
    tables: dict[str, ibis.Table] = {}
    notes: list[str] = []
    for name in TABLE_NAMES:
        path = table_file(folder, name, settings)
        if path is None:
            continue
        mapping = settings.tables.get(name) if settings else None
        renamed = [source for source in mapping.columns.values()] if mapping else []
        raw = _read_file(con, path, name, renamed) if con.name == "duckdb" else _read_file_spark(con, path, name)
        if settings is not None:
            raw = apply_mapping(raw, name, settings)
        key = (validations.file_key(path, name, settings, options, _RULES_STAMP, con.name)
               if validate else None)
        remembered = validations.recall(key)
        if remembered is not None:  # checked before, file and rules unchanged: no new scan
            tables[name] = _coerce(SCHEMAS[name], raw)
            notes.extend(remembered)
            continue
        before = len(notes)
        tables[name] = _load_table(raw, name, validate, options, notes, path)
        validations.remember(key, notes[before:])
    if not tables:
        raise DataError(
            f"no table files found in {folder}",
            fix=f"A source folder holds files named like {', '.join(n + '.parquet' for n in TABLE_NAMES[:3])} …; "
            "python -m kpilib sample-data --out DIR writes an example",
        )
    return Dataset(**tables, source=label or str(folder), kind="files", notes=notes,
                   funnel=settings.funnel if settings else FunnelSettings(),
                   timezone=settings.timezone if settings else None)


def _read_connection(backend: ibis.BaseBackend, namespace: str | None, validate: bool,
                     options: ContractOptions, label: str) -> Dataset:
    """The contract's tables of a database or Spark catalog (``namespace``: its schema or
    database, ``None`` for the connection's default)."""
    where = {} if namespace is None else {"database": namespace}
    try:
        present = set(backend.list_tables(**where))
    except Exception as exc:  # a schema that does not exist, no permission …
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot list the tables of {label}" + (f" in {namespace!r}" if namespace else "")
                        + f": {reason}", fix="Check the schema/database name and your permissions") from None
    notes: list[str] = []
    tables = {
        name: _load_table(backend.table(name, **where), name, validate, options, notes)
        for name in TABLE_NAMES
        if name in present
    }
    if not tables:
        raise DataError(
            f"{label} holds none of the contract's tables ({', '.join(TABLE_NAMES)})"
            + (f" in {namespace!r}" if namespace else ""),
            fix="Create views with those names over your tables (see data/README.md), or name the "
            "schema (?schema=…) or Spark database (?database=…) that holds them",
        )
    return Dataset(**tables, source=label, kind="database", notes=notes)


def _read_url(text: str, validate: bool, given: Mapping[str, Any]) -> Dataset:
    """A source given as a URL or ``spark-local`` (:mod:`kpilib.sources`)."""
    settings = engine_settings()
    try:
        parsed = sources.parse_source(text)
        backend = sources.connect(parsed, threads=settings.get("threads"), memory=settings.get("memory_limit"))
    except sources.SourceError as exc:
        raise DataError(str(exc), fix=exc.fix) from None
    if parsed.path is not None:
        folder = Path(parsed.path).expanduser()
        if not folder.is_dir():
            raise DataError(f"the folder {folder} of {parsed.label} does not exist or is not a folder",
                            fix="Give ?path= the folder that holds the <table>.parquet/.csv files")
        return _read_folder(folder, validate, read_settings(folder), given, backend, parsed.label)
    return _read_connection(backend, parsed.namespace, validate, ContractOptions(**given), parsed.label)


def load_dataset(
    source: str | Path | Mapping[str, pd.DataFrame] | Dataset | Any | None = None,
    *,
    validate: bool = True,
    as_of: Any = None,
    future_tolerance: Any = None,
    allow_future: bool | None = None,
) -> Dataset:
    """Load the contract's tables from a source, coerced and checked.

    Parameters
    ----------
    source : str, Path, dict of DataFrames, Ibis backend or None
        A folder of ``<table>.parquet`` / ``<table>.csv`` files (read in place by DuckDB,
        the path taken literally: no glob patterns, no Hive partitions from folder names),
        a ``dict`` mapping table names to pandas DataFrames, or an Ibis backend
        connection (DuckDB, Postgres, BigQuery …) holding tables with the contract's
        names. ``None`` or ``""`` loads the bundled sample (``data/sample``).
    validate : bool, default True
        Check every rule of the contract in the engine (one aggregate query per table).
        Turn off only for tables already known to be clean.
    as_of, future_tolerance, allow_future : optional
        The rule against times in the future (see :class:`ContractOptions`): by default
        a time later than now plus one day refuses its table. A folder's ``kpilib.toml``
        may set them under ``[contract]``; arguments given here win.

    Notes
    -----
    A folder's ``kpilib.toml`` (:data:`SETTINGS_FILE`) may also map the folder's own
    file, column and event names onto the contract (:class:`SourceSettings`): the mapping
    is applied in the engine before validation, so every check and every number is the
    same as for files written with the contract's names.

    A file that passed validation is not scanned again while it, its mapping, the contract
    options and the rules are unchanged (:mod:`kpilib.validations`): loading the same
    folder twice costs the first load's check once. The report's kernels reuse the check
    the runner made before starting them.

    Returns
    -------
    Dataset
        Tables absent from the source are ``None``; ``notes`` lists rows kept but worth
        knowing about.

    Raises
    ------
    DataError
        Naming the table, the column, how many rows fail, examples and the fix; or the
        file that cannot be read and why.

    Examples
    --------
    >>> import pandas as pd
    >>> ds = load_dataset({"orders": pd.DataFrame({"customer_id": ["a", "b"],
    ...     "ts": ["2026-10-01", "2026-10-02"], "amount": [10.0, 5.5]})})
    >>> ds.orders.amount.sum().execute(), ds.events is None
    (15.5, True)
    """
    if isinstance(source, Dataset):
        return source
    given = {k: v for k, v in dict(as_of=as_of, future_tolerance=future_tolerance,
                                   allow_future=allow_future).items() if v is not None}
    if source is None or (isinstance(source, str) and not source.strip()):
        source = SAMPLE_DIR
    if sources.is_url(source):
        return _read_url(sources.reveal(str(source).strip()), validate, given)
    if isinstance(source, (str, Path)):
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise DataError(
                f"the source folder {folder} does not exist" if not folder.exists()
                else f"the source {folder} is a file, not a folder",
                fix="Pass a folder of <table>.parquet/.csv files, or nothing for the bundled sample",
            )
        return _read_folder(folder, validate, read_settings(folder), given)
    options = ContractOptions(**given)
    notes: list[str] = []
    if isinstance(source, Mapping):
        unknown = sorted(set(source) - set(TABLE_NAMES))
        if unknown:
            raise DataError(
                f"unknown table name(s) {', '.join(unknown)}",
                fix=f"Use the contract's names: {', '.join(TABLE_NAMES)}",
            )
        tables = {name: _load_table(_from_pandas(frame, name) if not isinstance(frame, ibis.Table) else frame,
                                    name, validate, options, notes)
                  for name, frame in source.items()}
        return Dataset(**tables, source="DataFrames", kind="frames", notes=notes)
    if isinstance(source, ibis.BaseBackend):
        return _read_connection(source, None, validate, options, f"{source.name} connection")
    raise DataError(
        f"cannot load a source of type {type(source).__name__}",
        fix="Pass a folder path, a dict of DataFrames or an Ibis backend connection",
    )


def column_list(columns: str | Sequence[str] | None) -> list[str]:
    """A ``by=`` argument as a list of column names (``None`` gives ``[]``).

    Examples
    --------
    >>> column_list("channel"), column_list(None), column_list(("plan", "channel"))
    (['channel'], [], ['plan', 'channel'])
    """
    if columns is None:
        return []
    return [columns] if isinstance(columns, str) else list(columns)


def require_columns(table: ibis.Table, columns: Sequence[str], table_name: str, purpose: str) -> None:
    """Raise a :class:`DataError` when ``table`` lacks one of ``columns`` that ``purpose`` needs."""
    for column in columns:
        if column not in table.columns:
            raise DataError(
                f"{purpose} needs column '{column}', which the table does not have "
                f"(it has: {', '.join(table.columns)})",
                table=table_name,
                column=column,
                fix=f"Choose one of the table's columns, or add '{column}' to the {table_name} table",
            )
