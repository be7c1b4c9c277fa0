"""Where the data live: a folder, a database URL or a Spark session, named without secrets.

A *source* given as text is one of

* a folder of ``<table>.parquet`` / ``<table>.csv`` files (read in place by DuckDB);
* ``duckdb:///path/to/file.db`` — tables of a DuckDB database file (opened read-only, so
  the report's kernels can read it side by side);
* ``postgres://user@host:port/database`` (or ``postgresql://``) — tables of a PostgreSQL
  database; the schema as a last path part (``/database/schema``) or ``?schema=name``;
* ``spark-local`` — an in-process Spark session (``local[*]``), or ``sc://host:port`` — a
  Spark Connect server; the tables from the session's catalog (``?database=name`` for
  another database than the current one), or from a folder of files that Spark reads
  (``?path=/folder``, the folder laid out as for DuckDB, its ``kpilib.toml`` applied).

Credentials come from the URL or the environment (PostgreSQL's own ``PGPASSWORD``,
``PGUSER``, ``PGHOST`` …, read by its client library), and are never shown:
:func:`source_label` is how pages, logs and errors name a source — without the password
or token. Every connection works in UTC (DuckDB's and PostgreSQL's session time zone,
Spark's ``spark.sql.session.timeZone``), so a time without a zone is read as UTC, as the
contract says.

The engine does the aggregation wherever the tables live; only per-month, per-step or
per-customer results travel back to the notebook.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit

import ibis
import ibis.expr.operations as ops

__all__ = [
    "SECRET_VARIABLE", "SPARK_LOCAL", "SourceError", "SourceURL", "conceal", "connect", "engine_of", "is_url",
    "parse_source", "reveal", "source_label",
]

#: The source text for an in-process Spark session.
SPARK_LOCAL = "spark-local"

Engine = Literal["duckdb", "postgres", "pyspark"]

_SCHEMES: Mapping[str, Engine] = {
    "duckdb": "duckdb", "postgres": "postgres", "postgresql": "postgres", "sc": "pyspark",
    SPARK_LOCAL: "pyspark",
}
#: The query parameters kpilib reads itself, per engine.
_OPTIONS: Mapping[Engine, frozenset[str]] = {
    "duckdb": frozenset({"schema"}),
    "postgres": frozenset({"schema"}),
    "pyspark": frozenset({"database", "path"}),
}
#: Which Python package each engine needs, and the extra that installs it.
_PACKAGES: Mapping[Engine, tuple[str, str]] = {
    "duckdb": ("duckdb", ""),
    "postgres": ("psycopg", "postgres"),
    "pyspark": ("pyspark", "spark"),
}


class SourceError(ValueError):
    """A source that cannot be used; :func:`kpilib.load_dataset` raises it as a
    :class:`kpilib.DataError` with the same message and ``fix``."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True)
class SourceURL:
    """A database or Spark source, parsed.

    Attributes
    ----------
    engine : {"duckdb", "postgres", "pyspark"}
        The Ibis backend that runs the queries.
    url : str
        The connection URL without kpilib's own query parameters (``spark-local`` for an
        in-process Spark session).
    namespace : str or None
        The schema (DuckDB, PostgreSQL) or database (Spark) that holds the tables; ``None``
        for the connection's default.
    path : str or None
        Spark only: a folder of table files that Spark reads instead of catalog tables.
    label : str
        The source as pages show it: the URL without password or token.
    """

    engine: Engine
    url: str
    namespace: str | None
    path: str | None
    label: str


def is_url(source: Any) -> bool:
    """Whether ``source`` is a connection URL or a Spark source rather than a folder.

    Examples
    --------
    >>> is_url("postgres://me@db/shop"), is_url("spark-local"), is_url("data/sample")
    (True, True, False)
    """
    if not isinstance(source, str):
        return False
    text = source.strip()
    return "://" in text or text == SPARK_LOCAL or text.startswith(SPARK_LOCAL + "?")


def source_label(source: Any) -> str:
    """How a source is named on pages and in messages: a URL loses its password and token.

    Examples
    --------
    >>> source_label("postgres://analyst:s3cret@db.example.com:5432/shop")
    'postgres://analyst@db.example.com:5432/shop'
    >>> source_label("sc://spark.example.com:15002/;token=abc;user_id=me")
    'sc://spark.example.com:15002/;user_id=me'
    >>> source_label("data/sample")
    'data/sample'
    """
    text = str(source)
    if not is_url(text):
        return text
    text = re.sub(r"(://[^/@]*?):[^/@]*@", r"\1@", text)  # user:password@ → user@
    text = re.sub(r";token=[^;/?]*", "", text, flags=re.IGNORECASE)
    return re.sub(r"([?&](password|token)=)[^&]*", r"\1***", text, flags=re.IGNORECASE)


#: The environment variable through which the report hands its kernels the full URL of a
#: source whose secrets the notebooks never see (see :func:`conceal`).
SECRET_VARIABLE = "KPILIB_SOURCE_URL"

#: Full URLs of the sources concealed in this process, by their label.
_CONCEALED: dict[str, str] = {}


def conceal(source: str) -> str:
    """``source`` as it may be written down (:func:`source_label`); its full URL is kept in
    this process for :func:`reveal`.

    The report injects the concealed source into its notebooks, so no password or token is
    written into an executed notebook, a page or a summary; the kernels get the full URL
    from :data:`SECRET_VARIABLE`.

    Examples
    --------
    >>> label = conceal("postgres://analyst:s3cret@db:5432/shop")
    >>> label, reveal(label)
    ('postgres://analyst@db:5432/shop', 'postgres://analyst:s3cret@db:5432/shop')
    """
    label = source_label(source)
    if label != source:
        _CONCEALED[label] = source
    return label


def reveal(source: str) -> str:
    """The full URL of a source concealed by :func:`conceal` in this process or handed over
    in :data:`SECRET_VARIABLE`; any other source unchanged."""
    if source in _CONCEALED:
        return _CONCEALED[source]
    given = os.environ.get(SECRET_VARIABLE, "")
    return given if given and source_label(given) == source else source


def parse_source(source: str) -> SourceURL:
    """Parse a database or Spark source text (see the module documentation).

    Raises
    ------
    SourceError
        For an unknown scheme or query parameter, or a URL without the part it needs.

    Examples
    --------
    >>> s = parse_source("postgres://analyst:pw@db:5432/shop?schema=marts")
    >>> s.engine, s.url, s.namespace, s.label
    ('postgres', 'postgres://analyst:pw@db:5432/shop', 'marts', 'postgres://analyst@db:5432/shop?schema=marts')
    >>> parse_source("spark-local?database=analytics").namespace
    'analytics'
    """
    text = source.strip()
    scheme = SPARK_LOCAL if text == SPARK_LOCAL or text.startswith(SPARK_LOCAL + "?") else text.split("://", 1)[0]
    engine = _SCHEMES.get(scheme.lower())
    if engine is None:
        raise SourceError(f"the source {source_label(text)!r} has an unknown scheme {scheme!r}",
                     "Use a folder, duckdb:///file.db, postgres://user@host/db, sc://host:port or spark-local")
    base, _, query = text.partition("?")
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(options) - _OPTIONS[engine])
    if unknown:
        raise SourceError(f"the source {source_label(text)!r} has unknown option(s) {', '.join(unknown)}",
                     f"A {engine} source takes {', '.join(sorted(_OPTIONS[engine]))}")
    namespace = options.get("schema") or options.get("database") or None
    path = options.get("path") or None
    if engine == "postgres":
        parts = urlsplit(base)
        database, _, schema = parts.path.lstrip("/").partition("/")
        if not database:
            raise SourceError(f"the source {source_label(text)!r} names no database",
                         "Write it as postgres://user@host:port/database")
        if schema:
            namespace = namespace or schema
            base = urlunsplit(parts._replace(path="/" + database))
    if engine == "duckdb" and not base.split("://", 1)[1]:
        raise SourceError(f"the source {source_label(text)!r} names no database file",
                     "Write it as duckdb:///path/to/file.db")
    return SourceURL(engine, base, namespace, path, source_label(text))


def _require(engine: Engine) -> None:
    package, extra = _PACKAGES[engine]
    try:
        __import__(package)
    except ImportError:
        raise SourceError(f"a {engine} source needs the Python package {package!r}, which is not installed",
                     f"pip install 'kpilib[{extra}]'" if extra else f"pip install {package}") from None


def _spark_session(url: str, threads: int | None, memory: str | None) -> Any:
    from pyspark.sql import SparkSession

    if url == SPARK_LOCAL:
        builder = (SparkSession.builder.master(f"local[{threads or '*'}]")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.shuffle.partitions", str(2 * (threads or os.cpu_count() or 1))))
        # local mode runs in the driver: its heap is all the engine has (Spark's default, 1 GB,
        # is too small for the report's queries)
        builder = builder.config("spark.driver.memory", _jvm_memory(memory) if memory else "4g")
    else:
        builder = SparkSession.builder.remote(url)
    session = builder.config("spark.sql.session.timeZone", "UTC").getOrCreate()
    if url == SPARK_LOCAL:  # errors reach Python as exceptions; the log would land in notebooks
        session.sparkContext.setLogLevel("FATAL")
    return session


def _jvm_memory(amount: str) -> str:
    """An amount like ``"3GB"`` or ``"500 MiB"`` as the JVM writes it (``"3g"``, ``"500m"``).

    Examples
    --------
    >>> _jvm_memory("3GB"), _jvm_memory("500 MiB"), _jvm_memory("1.5GB")
    ('3g', '500m', '1536m')
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT])i?B\s*", amount, re.IGNORECASE)
    if match is None:
        raise SourceError(f"{amount!r} is not an amount of memory", "Write it like 3GB or 500MB")
    number, unit = float(match.group(1)), match.group(2).lower()
    if number.is_integer():
        return f"{int(number)}{unit}"
    scale = {"k": 1, "m": 1024, "g": 1024**2, "t": 1024**3}[unit]  # in KiB
    return f"{round(number * scale / 1024)}m"


def connect(source: SourceURL, *, threads: int | None = None, memory: str | None = None) -> ibis.BaseBackend:
    """An Ibis connection to ``source``, in UTC.

    Parameters
    ----------
    source : SourceURL
        From :func:`parse_source`.
    threads, memory : optional
        For DuckDB and the in-process Spark session: the engine's threads and memory
        (:func:`kpilib.data.engine_settings`); a server's own settings are left alone.

    Raises
    ------
    SourceError
        When the engine's package is missing (naming the extra that installs it) or the
        connection fails (with the source named without its password).
    """
    _require(source.engine)
    try:
        if source.engine == "duckdb":
            settings: dict[str, Any] = {}
            if threads:
                settings["threads"] = threads
            if memory:
                settings["memory_limit"] = memory
            database = source.url.split("://", 1)[1]
            if not Path(database).expanduser().is_file():
                raise SourceError(f"the DuckDB database {database} does not exist",
                             "Check the path: duckdb:///absolute/path.db or duckdb://relative/path.db")
            return ibis.duckdb.connect(str(Path(database).expanduser()), read_only=True, **settings)
        if source.engine == "postgres":
            backend = ibis.connect(source.url, **({"schema": source.namespace} if source.namespace else {}))
            # kpilib's queries scan and join unindexed rows through intermediate results whose
            # sizes PostgreSQL's planner cannot estimate (one row, for thousands): it then picks
            # nested loops that compare every pair — the sample's funnel took 56 s instead of
            # 0.4 s. This session (kpilib's own) joins by hash or merge instead, and compiles
            # no query to machine code: the long calendar expressions (months_between) took
            # the JIT 50 s to compile for a query that then ran in 0.2 s.
            backend.raw_sql("SET enable_nestloop = off; SET jit = off").close()
            return backend
        return ibis.pyspark.connect(_spark_session(source.url, threads, memory))
    except SourceError:
        raise
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(f"cannot connect to {source.label}: {reason}",
                     "Check the host, port, database and credentials (PostgreSQL reads PGPASSWORD, "
                     "PGUSER … from the environment); the URL's password is never shown") from None


def engine_of(expr: ibis.Expr) -> str | None:
    """The engine ``expr`` runs on: the backend of the database tables it reads (``"duckdb"``,
    ``"postgres"``, ``"pyspark"`` …), or ``None`` when it reads none (only in-memory tables
    and literals, which run wherever they are joined to database tables).

    A DuckDB-only fast path is taken only when this says ``"duckdb"``: an expression built
    from a literal or a DataFrame may end up inside a PostgreSQL or Spark query.

    Examples
    --------
    >>> import pandas as pd
    >>> con = ibis.duckdb.connect()
    >>> engine_of(con.create_table("t", pd.DataFrame({"a": [1]})).a), engine_of(ibis.literal(1))
    ('duckdb', None)
    """
    names = {table.source.name for table in expr.op().find(ops.DatabaseTable)}
    return names.pop() if len(names) == 1 else None
