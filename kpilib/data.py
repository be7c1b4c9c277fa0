"""Sources, schemas and loading: the data contract, enforced in one place.

A *source* is a folder of ``<table>.parquet`` / ``<table>.csv`` files (read in place by
DuckDB, never loaded whole into pandas), a ``dict`` of pandas DataFrames, or an Ibis
backend connection holding tables of the contract's names. :func:`load_dataset` turns any
of them into a :class:`Dataset` of Ibis tables, each coerced to its schema and checked
row by row *inside the engine* (one aggregate query per table). A violation raises
:class:`DataError`, which names the table, the column, how many rows fail, a few example
values and what to do about it.

The schemas below are the only definition of the contract; ``data/README.md`` is
rendered from them (``python -m kpilib docs``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pandas as pd
import pyarrow as pa

__all__ = [
    "ACTIVITY_COLUMNS",
    "SAMPLE_DIR",
    "SCHEMAS",
    "Column",
    "DataError",
    "Dataset",
    "RowRule",
    "TableSchema",
    "as_table",
    "load_dataset",
    "memtable",
]

#: The committed sample data, used when no source is given.
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"

UTC = dt.Timestamp(timezone="UTC")

# Ibis type each column kind is coerced to, and how a failed coercion is described.
_KIND_TYPE: dict[str, dt.DataType] = {
    "id": dt.string,
    "string": dt.string,
    "timestamp": UTC,
    "date": dt.date,
    "number": dt.float64,
    "integer": dt.int64,
}
_KIND_NOUN = {
    "timestamp": "a timestamp (ISO 8601, e.g. 2026-10-01 12:00:00, read as UTC)",
    "date": "a date (YYYY-MM-DD)",
    "number": "a number",
    "integer": "a whole number",
}


class DataError(ValueError):
    """An input that breaks the data contract.

    The message says which table and column, how many rows fail, up to five example
    values, and what to do. The same facts are kept as attributes for programs.

    Attributes
    ----------
    table, column : str or None
        Where the problem is.
    rows : int or None
        How many rows fail the rule (None when the problem is not row-wise).
    examples : list
        Up to five offending values.
    fix : str
        What to do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        rows: int | None = None,
        examples: list | None = None,
        fix: str = "",
    ) -> None:
        self.table = table
        self.column = column
        self.rows = rows
        self.examples = list(examples or [])
        self.fix = fix
        where = f"table '{table}'" if table else "data"
        if column:
            where += f", column '{column}'"
        text = f"{where}: {message}"
        if self.examples:
            text += f" (examples: {', '.join(repr(e) for e in self.examples)})"
        if fix:
            text += f". {fix}"
        super().__init__(text)


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    ``kind`` is one of ``id``, ``string``, ``timestamp``, ``date``, ``number``,
    ``integer``. Ids and non-nullable columns must not be null; ``minimum`` and
    ``allowed`` restrict values; values that cannot be coerced to the kind are errors.
    """

    name: str
    kind: str
    meaning: str
    nullable: bool = False
    minimum: float | None = None
    allowed: tuple[str, ...] | None = None
    required: bool = True


@dataclass(frozen=True)
class RowRule:
    """A rule across columns of one row; ``bad(t)`` marks the offending rows."""

    column: str
    message: str
    bad: Callable[[ibis.Table], Any]
    fix: str


@dataclass(frozen=True)
class TableSchema:
    """A table of the contract: its columns, cross-column rules and a short example."""

    name: str
    meaning: str
    columns: tuple[Column, ...]
    rules: tuple[RowRule, ...] = ()
    example: str = ""
    used_by: str = ""

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _survey_out_of_scale(t: ibis.Table):
    scale_max = t.survey.cases(("nps", 10), ("csat", 5), ("ces", 7), else_=None)
    scale_min = t.survey.cases(("nps", 0), else_=1)
    return t.score.notnull() & ((t.score < scale_min) | (t.score > scale_max))


SCHEMAS: dict[str, TableSchema] = {
    s.name: s
    for s in (
        TableSchema(
            "customers",
            "One row per customer (a person who signed up).",
            (
                Column("customer_id", "id", "Unique customer identifier."),
                Column("signup_at", "timestamp", "When the customer signed up (UTC)."),
                Column("channel", "string", "Acquisition channel (email, paid_search, social, organic, referral …)."),
            ),
            example="customer_id,signup_at,channel,plan\nC0000001,2025-01-03 09:12:00,paid_search,pro",
            used_by="every notebook (breakdowns)",
        ),
        TableSchema(
            "events",
            "Behavioural events of people, visitors included (funnel steps and product usage).",
            (
                Column("customer_id", "id", "Person identifier; visitors who never sign up have one too."),
                Column("ts", "timestamp", "When it happened (UTC)."),
                Column("event", "string", "Event name: visit, signup, lead, mql, sql, purchase, page_view, feature_use, share …"),
            ),
            example="customer_id,ts,event,channel,page\nC0000001,2025-01-03 09:01:00,visit,paid_search,/pricing",
            used_by="funnel, engagement",
        ),
        TableSchema(
            "orders",
            "One row per order.",
            (
                Column("customer_id", "id", "Who ordered."),
                Column("ts", "timestamp", "When (UTC)."),
                Column("amount", "number", "Order value, ≥ 0, in the reporting currency.", minimum=0),
            ),
            example="customer_id,ts,amount\nC0000001,2025-01-05 14:30:00,49.90",
            used_by="CLV, revenue, ROI",
        ),
        TableSchema(
            "subscriptions",
            "One row per subscription period; a plan change ends one row and starts another.",
            (
                Column("customer_id", "id", "Subscriber."),
                Column("start_at", "timestamp", "Start (UTC)."),
                Column("end_at", "timestamp", "End (UTC); empty while the subscription is active.", nullable=True),
                Column("mrr", "number", "Monthly recurring revenue of the subscription, ≥ 0.", minimum=0),
            ),
            rules=(
                RowRule(
                    "end_at",
                    "end before they start",
                    lambda t: t.end_at.notnull() & (t.end_at < t.start_at),
                    "Check for swapped start_at/end_at columns or a time-zone shift",
                ),
            ),
            example="customer_id,start_at,end_at,mrr,plan\nC0000001,2025-01-05 14:30:00,,49.0,pro",
            used_by="churn, GRR/NRR",
        ),
        TableSchema(
            "email",
            "One row per email sent to one customer in one campaign.",
            (
                Column("campaign", "string", "Campaign name."),
                Column("customer_id", "id", "Recipient."),
                Column("sent_at", "timestamp", "When it was sent (UTC)."),
                Column("bounce", "string", "none, soft or hard.", allowed=("none", "soft", "hard")),
                Column("opened_at", "timestamp", "First open (UTC), empty if never opened.", nullable=True),
                Column("clicked_at", "timestamp", "First click (UTC), empty if never clicked.", nullable=True),
                Column("unsubscribed_at", "timestamp", "Unsubscribe (UTC), empty if none.", nullable=True),
                Column("complained_at", "timestamp", "Spam complaint (UTC), empty if none.", nullable=True),
            ),
            rules=(
                RowRule(
                    "opened_at",
                    "are bounced but marked as opened",
                    lambda t: (t.bounce != "none") & t.opened_at.notnull(),
                    "A bounced mail cannot be opened: check the bounce column",
                ),
            ),
            example=(
                "campaign,customer_id,sent_at,bounce,opened_at,clicked_at,unsubscribed_at,complained_at\n"
                "2026-10 newsletter,C0000001,2026-10-02 08:00:00,none,2026-10-02 09:15:00,,,"
            ),
            used_by="engagement",
        ),
        TableSchema(
            "surveys",
            "One row per survey answer.",
            (
                Column("customer_id", "id", "Respondent."),
                Column("ts", "timestamp", "When answered (UTC)."),
                Column("survey", "string", "nps (0–10), csat (1–5) or ces (1–7).", allowed=("nps", "csat", "ces")),
                Column("score", "integer", "The answer on the survey's scale."),
            ),
            rules=(
                RowRule(
                    "score",
                    "are outside their survey's scale (nps 0–10, csat 1–5, ces 1–7)",
                    _survey_out_of_scale,
                    "Rescale the answers or fix the survey column",
                ),
            ),
            example="customer_id,ts,survey,score\nC0000001,2026-10-12 10:00:00,nps,9",
            used_by="engagement",
        ),
        TableSchema(
            "spend",
            "Marketing cost per day and channel (optionally per campaign).",
            (
                Column("date", "date", "Day of the spend."),
                Column("channel", "string", "Channel, as in customers.channel."),
                Column("cost", "number", "Cost, ≥ 0.", minimum=0),
                Column("campaign", "string", "Campaign, optional.", nullable=True, required=False),
            ),
            example="date,channel,cost,campaign\n2026-10-01,paid_search,412.50,brand",
            used_by="CAC, CPA, cost per MQL, ROI",
        ),
    )
}

TABLE_NAMES: tuple[str, ...] = tuple(SCHEMAS)

#: Each table's own time column: when its rows happened (used for the data's span).
ACTIVITY_COLUMNS: dict[str, str] = {
    "customers": "signup_at", "events": "ts", "orders": "ts", "subscriptions": "start_at",
    "email": "sent_at", "surveys": "ts", "spend": "date",
}


def _fmt(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    return value


def _suggest_fix_for_missing(schema: TableSchema, column: str, have: list[str]) -> str:
    close = difflib.get_close_matches(column, have, n=1, cutoff=0.5)
    if close:
        return f"Rename '{close[0]}' to '{column}', e.g. df.rename(columns={{'{close[0]}': '{column}'}})"
    return f"Add a '{column}' column; the contract for '{schema.name}' is in data/README.md"


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
    selections = {}
    for name in have:
        column = next((c for c in schema.columns if c.name == name), None)
        if column is None:
            selections[name] = raw[name]
            continue
        target = _KIND_TYPE[column.kind]
        current = raw[name].type()
        if current == target:
            selections[name] = raw[name]
        elif column.kind == "timestamp" and current.is_timestamp():
            selections[name] = raw[name].cast(UTC)
        elif column.kind in ("id", "string"):
            selections[name] = raw[name].cast(dt.string)
        elif column.kind == "date" and current.is_timestamp():
            selections[name] = raw[name].date()
        elif current.is_null():
            selections[name] = ibis.null(target)
        else:
            selections[name] = raw[name].try_cast(target)
    return selections


def _coerce(schema: TableSchema, raw: ibis.Table) -> ibis.Table:
    """``raw`` with its contract columns coerced to their types; extras kept."""
    return raw.select(**_coerced_columns(schema, raw))


def _validate(schema: TableSchema, raw: ibis.Table) -> ibis.Table:
    """Coerce ``raw`` to ``schema`` and check every rule in one aggregate query."""
    coerced = _coerced_columns(schema, raw)
    # Raw and coerced values side by side in one projection, so a failed cast can be
    # told from a null and every rule is counted in a single aggregate query.
    paired = raw.select(
        **{f"__raw_{c.name}": raw[c.name] for c in schema.columns if c.name in raw.columns},
        **coerced,
    )
    checks = []
    for column in schema.columns:
        if column.name not in coerced:
            continue
        value = paired[column.name]
        original = paired[f"__raw_{column.name}"] if f"__raw_{column.name}" in paired.columns else value
        if column.kind in _KIND_NOUN and not original.type().is_null():
            convert = "datetime" if column.kind in ("timestamp", "date") else "numeric"
            checks.append(
                (
                    column.name,
                    original.notnull() & value.isnull(),
                    f"cannot be read as {_KIND_NOUN[column.kind]}",
                    f"Fix or remove them; pd.to_{convert}(df['{column.name}'], errors='coerce') shows which",
                )
            )
        if not column.nullable:
            noun = "have no id" if column.kind == "id" else "are empty"
            checks.append(
                (
                    column.name,
                    original.isnull(),
                    noun,
                    f"Drop or fill those rows; df[df['{column.name}'].isna()] lists them",
                )
            )
        if column.minimum is not None:
            checks.append(
                (
                    column.name,
                    value.notnull() & (value < column.minimum),
                    "are negative" if column.minimum == 0 else f"are below {column.minimum:g}",
                    f"'{column.name}' must be ≥ {column.minimum:g}; record refunds or credits in a separate table",
                )
            )
        if column.allowed is not None:
            checks.append(
                (
                    column.name,
                    value.notnull() & ~value.isin(list(column.allowed)),
                    f"have a value outside {{{', '.join(column.allowed)}}}",
                    f"Map the values onto {', '.join(column.allowed)}",
                )
            )
    for rule in schema.rules:
        checks.append((rule.column, rule.bad(paired), rule.message, rule.fix))

    counts = paired.aggregate(
        __rows=paired.count(),
        **{f"c{i}": check[1].cast("int64").sum() for i, check in enumerate(checks)},
    ).execute()
    total = int(counts["__rows"].iloc[0])
    for i, (column, bad, message, fix) in enumerate(checks):
        n_bad = counts[f"c{i}"].iloc[0]
        n_bad = 0 if pd.isna(n_bad) else int(n_bad)
        if n_bad:
            source_col = f"__raw_{column}" if f"__raw_{column}" in paired.columns else column
            examples = paired.filter(bad).select(source_col).limit(5).execute()[source_col]
            raise DataError(
                f"{n_bad:,} of {total:,} rows {message}",
                table=schema.name,
                column=column,
                rows=n_bad,
                examples=[_fmt(v) for v in examples],
                fix=fix,
            )
    return raw.select(**coerced)


@dataclass
class Dataset:
    """The seven tables of the contract as Ibis tables (``None`` where absent).

    Build one with :func:`load_dataset`. Aggregations run where the tables live (DuckDB
    for files and DataFrames, the warehouse for a backend connection).
    """

    customers: ibis.Table | None = None
    events: ibis.Table | None = None
    orders: ibis.Table | None = None
    subscriptions: ibis.Table | None = None
    email: ibis.Table | None = None
    surveys: ibis.Table | None = None
    spend: ibis.Table | None = None
    source: str = field(default="", compare=False)

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

    def time_span(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The earliest and latest activity in the source, as UTC timestamps.

        Activity is every table's own time column (:data:`ACTIVITY_COLUMNS`: sign-ups,
        events, orders, subscription starts, sends, answers, spend days), computed in the
        engine. ``(None, None)`` when no table holds a time.

        Examples
        --------
        >>> import pandas as pd
        >>> ds = load_dataset({"orders": pd.DataFrame({"customer_id": ["a", "b"],
        ...     "ts": ["2026-09-30 23:00", "2026-10-02"], "amount": [10.0, 5.5]})})
        >>> ds.time_span()
        (Timestamp('2026-09-30 23:00:00+0000', tz='UTC'), Timestamp('2026-10-02 00:00:00+0000', tz='UTC'))
        """
        lows, highs = [], []
        for name, table in self.tables().items():
            column = table[ACTIVITY_COLUMNS[name]]
            if column.type().is_date():
                column = column.cast(UTC)
            bounds = table.aggregate(low=column.min(), high=column.max()).execute()
            for value, into in ((bounds["low"].iloc[0], lows), (bounds["high"].iloc[0], highs)):
                if not pd.isna(value):
                    into.append(pd.Timestamp(value).tz_localize("UTC") if pd.Timestamp(value).tzinfo is None
                                else pd.Timestamp(value).tz_convert("UTC"))
        return (min(lows) if lows else None, max(highs) if highs else None)

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
        try:
            data = pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            fixed = data.copy()
            for col in fixed.select_dtypes(include="object").columns:
                fixed[col] = fixed[col].map(lambda v: None if pd.isna(v) else str(v))
            data = pa.Table.from_pandas(fixed, preserve_index=False)
    return ibis.memtable(pa.Table.from_batches(data.to_batches(max_chunksize=ARROW_BATCH_ROWS), schema=data.schema))


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
    kpilib.data.DataError: table 'orders', column 'amount': 1 of 1 rows are negative (examples: -2.0). 'amount' must be ≥ 0; record refunds or credits in a separate table
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
        return _validate(schema, raw)
    return _coerce(schema, raw)


def _read_folder(folder: Path, validate: bool) -> Dataset:
    con = ibis.duckdb.connect()
    tables: dict[str, ibis.Table] = {}
    for name in TABLE_NAMES:
        parquet, csv = folder / f"{name}.parquet", folder / f"{name}.csv"
        if parquet.exists() and csv.exists():
            raise DataError(
                f"both {parquet.name} and {csv.name} are present in {folder}",
                table=name,
                fix="Keep one of the two files",
            )
        if parquet.exists():
            raw = con.read_parquet(parquet, table_name=name)
        elif csv.exists():
            raw = con.read_csv(csv, table_name=name)
        else:
            continue
        tables[name] = as_table(raw, name, validate=validate)
    if not tables:
        raise DataError(
            f"no table files found in {folder}",
            fix=f"A source folder holds files named like {', '.join(n + '.parquet' for n in TABLE_NAMES[:3])} …; "
            "python -m kpilib sample-data --out DIR writes an example",
        )
    return Dataset(**tables, source=str(folder))


def load_dataset(
    source: str | Path | Mapping[str, pd.DataFrame] | Dataset | Any | None = None,
    *,
    validate: bool = True,
) -> Dataset:
    """Load the contract's tables from a source, coerced and checked.

    Parameters
    ----------
    source : str, Path, dict of DataFrames, Ibis backend or None
        A folder of ``<table>.parquet`` / ``<table>.csv`` files (read in place by DuckDB),
        a ``dict`` mapping table names to pandas DataFrames, or an Ibis backend
        connection (DuckDB, Postgres, BigQuery …) holding tables with the contract's
        names. ``None`` or ``""`` loads the bundled sample (``data/sample``).
    validate : bool, default True
        Check every rule of the contract in the engine (one aggregate query per table).
        Turn off only for tables already known to be clean.

    Returns
    -------
    Dataset
        Tables absent from the source are ``None``.

    Raises
    ------
    DataError
        Naming the table, the column, how many rows fail, examples and the fix.

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
    if source is None or (isinstance(source, str) and not source.strip()):
        source = SAMPLE_DIR
    if isinstance(source, (str, Path)):
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise DataError(
                f"the source folder {folder} does not exist",
                fix="Pass a folder of <table>.parquet/.csv files, or nothing for the bundled sample",
            )
        return _read_folder(folder, validate)
    if isinstance(source, Mapping):
        unknown = sorted(set(source) - set(TABLE_NAMES))
        if unknown:
            raise DataError(
                f"unknown table name(s) {', '.join(unknown)}",
                fix=f"Use the contract's names: {', '.join(TABLE_NAMES)}",
            )
        tables = {name: as_table(frame, name, validate=validate) for name, frame in source.items()}
        return Dataset(**tables, source="DataFrames")
    if isinstance(source, ibis.BaseBackend):
        present = set(source.list_tables())
        tables = {
            name: as_table(source.table(name), name, validate=validate)
            for name in TABLE_NAMES
            if name in present
        }
        if not tables:
            raise DataError(
                f"the connection holds none of the contract's tables ({', '.join(TABLE_NAMES)})",
                fix="Create views with those names over your tables",
            )
        return Dataset(**tables, source=f"{source.name} connection")
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
