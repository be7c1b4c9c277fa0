"""The same numbers on every engine: the sample loaded into PostgreSQL and into Spark (local
mode) gives every domain's main tables and every notebook's headline metrics equal to
DuckDB's (exact for counts, 1e-9 relative for floats), and the monthly report run with
``--source`` on either engine writes the same headline files — every notebook's headline
metrics — as the DuckDB run (on the small generated sample, to keep the suite quick).

The engines are real: a PostgreSQL server from the machine's binaries, started in a
temporary folder for the session and stopped after it (or the one named by
``KPILIB_TEST_POSTGRES_URL``), and an in-process Spark session (the JVM is on the machine).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

import kpilib
from kpilib import churn, clv, engagement, funnel, marketing
from kpilib.data import SAMPLE_DIR, DataError
from kpilib.sources import SPARK_LOCAL, connect, parse_source

ROOT = Path(__file__).resolve().parents[1]
MONTH = "2026-10"
START, END = "2026-10-01", "2026-11-01"
POSTGRES_URL_VARIABLE = "KPILIB_TEST_POSTGRES_URL"


# --------------------------------------------------------------------------- engines


def _postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent  # /usr/local/bin may link only some of them
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return versions[0].parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database for the session: ``KPILIB_TEST_POSTGRES_URL``, or a server
    started from the machine's binaries in a temporary folder (stopped afterwards)."""
    given = os.environ.get(POSTGRES_URL_VARIABLE)
    if given:
        yield given
        return
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.fail(f"no PostgreSQL server binaries (pg_ctl) on this machine: install Debian's postgresql "
                    f"package, or set {POSTGRES_URL_VARIABLE} to a database the tests may fill")
    # (not below pytest's temporary folder: as root, that is closed to the postgres user)
    folder = Path(tempfile.mkdtemp(prefix="kpilib-postgres-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: run it as the postgres user
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()

    def run(*command: str) -> None:
        done = subprocess.run([*as_user, *command], capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(command)}: {done.stdout}{done.stderr}"

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "kpilib", "--auth=trust", "-E", "UTF8", "--no-locale")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
    try:
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "kpilib", "kpilib")
        yield f"postgres://kpilib@127.0.0.1:{port}/kpilib"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def duckdb_dataset() -> kpilib.Dataset:
    return kpilib.load_dataset(SAMPLE_DIR)


def _copy_tables(target: ibis.BaseBackend, dataset: kpilib.Dataset, **where) -> None:
    for name, table in dataset.tables().items():
        target.create_table(name, table.to_pyarrow(), overwrite=True, **where)
    if target.name == "postgres":
        target.raw_sql("ANALYZE").close()  # a warehouse's tables have statistics


@pytest.fixture(scope="session")
def postgres_dataset(postgres_url, duckdb_dataset) -> kpilib.Dataset:
    """The sample's tables in the PostgreSQL schema ``shop`` (so the ``?schema=`` part is
    used), loaded back through a URL with a password the server does not need."""
    con = ibis.connect(postgres_url)
    con.raw_sql("CREATE SCHEMA IF NOT EXISTS shop").close()
    _copy_tables(con, duckdb_dataset, database="shop")
    dataset = kpilib.load_dataset(postgres_url.replace("kpilib@", "kpilib:not-shown@") + "?schema=shop")
    assert "not-shown" not in dataset.source and dataset.source.endswith("/kpilib?schema=shop")
    return dataset


@pytest.fixture(scope="module")
def spark_dataset(duckdb_dataset) -> Iterator[kpilib.Dataset]:
    """The sample's tables written into the Spark session's catalog (they come back as
    plain ``timestamp``; loading makes them UTC again); the session (a JVM) is stopped
    after this module."""
    from pyspark.sql import SparkSession

    connect(parse_source(SPARK_LOCAL))  # kpilib's session (UTC), which load_dataset finds again
    session = SparkSession.getActiveSession()
    for name, table in duckdb_dataset.tables().items():  # session views: nothing left on disk
        session.createDataFrame(table.to_pyarrow()).createOrReplaceTempView(name)
    yield kpilib.load_dataset(SPARK_LOCAL)
    session.stop()


@pytest.fixture(params=["postgres", "spark"], scope="module")
def engine_dataset(request) -> kpilib.Dataset:
    return request.getfixturevalue(f"{request.param}_dataset")


# --------------------------------------------------------------------------- comparing


def assert_same(got: pd.DataFrame, want: pd.DataFrame, what: str) -> None:
    """Equal frames up to row order: counts exactly, floats to 1e-9 relative."""
    assert list(got.columns) == list(want.columns), what
    assert len(got) == len(want), what
    keys = [c for c in want.columns if not pd.api.types.is_float_dtype(want[c])]
    if keys:
        got = got.sort_values(keys, key=lambda s: s.astype(str)).reset_index(drop=True)
        want = want.sort_values(keys, key=lambda s: s.astype(str)).reset_index(drop=True)
    for column in want.columns:
        a, b = got[column], want[column]
        if pd.api.types.is_float_dtype(b) or pd.api.types.is_float_dtype(a):
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-9, atol=1e-12,
                                       equal_nan=True, err_msg=f"{what}: {column}")
        elif pd.api.types.is_datetime64_any_dtype(b):
            assert (pd.to_datetime(a, utc=True) == pd.to_datetime(b, utc=True)).all(), f"{what}: {column}"
        else:
            assert [None if pd.isna(v) else v for v in a] == [None if pd.isna(v) else v for v in b], \
                f"{what}: {column}"


def _table(value) -> pd.DataFrame:
    if isinstance(value, ibis.Table):
        return value.to_pandas()
    if isinstance(value, pd.DataFrame):
        return value
    frames = {k: v for k, v in vars(value).items() if isinstance(v, pd.DataFrame)}
    return pd.concat(frames, names=["part"]).reset_index(level=0) if frames else pd.DataFrame()


#: The main result tables of each domain, as the notebooks compute them.
RESULTS: dict[str, Callable[[kpilib.Dataset], object]] = {
    "funnel": lambda ds: funnel.funnel(ds.events, funnel.DEFAULT_STEPS, window="14D", start=START, end=END),
    "funnel by channel": lambda ds: funnel.funnel(ds.events, funnel.DEFAULT_STEPS, window="14D", by="channel",
                                                  start=START, end=END, customers=ds.customers),
    "active users": lambda ds: engagement.active_users(ds.events, "D", start="2026-09-01", end=END),
    "lifecycle": lambda ds: engagement.lifecycle(ds.events, "M"),
    "email": lambda ds: engagement.email_metrics(ds.email),
    "nps": lambda ds: engagement.nps_by(ds.surveys),
    "usage": lambda ds: engagement.usage_per_user(ds.events, "M", start="2026-08-01", end=END),
    "churn": lambda ds: churn.churn_rate(ds.subscriptions, "M", by="plan"),
    "cohorts": lambda ds: churn.cohort_retention(ds.events, "M"),
    "revenue retention": lambda ds: churn.revenue_retention(ds.subscriptions, "M"),
    "survival": lambda ds: churn.survival(ds.subscriptions, by="plan"),
    "rfm": lambda ds: clv.rfm_summary(ds.orders, monetary_value_col="amount"),
    "acquisition costs": lambda ds: marketing.acquisition_costs(ds.spend, ds.customers, ds.orders, "M"),
    "attribution": lambda ds: marketing.attribute(marketing.marketing_touchpoints(ds.events, ds.email),
                                                  marketing.first_orders(ds.orders),
                                                  ["first_touch", "last_touch", "linear", "markov"]),
    "traffic to lead": lambda ds: marketing.traffic_to_lead(ds.events, "M"),
}

@pytest.mark.parametrize("name", RESULTS)
def test_main_results_equal_duckdb(engine_dataset, duckdb_dataset, name):
    want = _table(RESULTS[name](duckdb_dataset))
    assert len(want), f"{name}: the sample gives no rows; the comparison would prove nothing"
    assert_same(_table(RESULTS[name](engine_dataset)), want, name)


def test_timestamps_are_utc_on_every_engine(engine_dataset):
    for name, table in engine_dataset.tables().items():
        for column, kind in table.schema().items():
            if kind.is_timestamp():
                assert kind.timezone == "UTC", (name, column)
    first = engine_dataset.events.ts.min().execute()
    assert pd.Timestamp(first).tz is not None and str(pd.Timestamp(first).tz) == "UTC"


# --------------------------------------------------------------------------- sources


def test_postgres_errors_name_the_source_without_its_password(postgres_url):
    bad = postgres_url.replace("kpilib@", "kpilib:secret@").rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(DataError) as info:
        kpilib.load_dataset(bad)
    assert "secret" not in str(info.value) and "no_such_db" in str(info.value)
    with pytest.raises(DataError, match="none of the contract's tables"):
        kpilib.load_dataset(postgres_url + "?schema=public")


def test_a_duckdb_database_file(tmp_path, duckdb_dataset):
    path = tmp_path / "shop.db"
    con = ibis.duckdb.connect(str(path))
    _copy_tables(con, duckdb_dataset)
    con.disconnect()
    dataset = kpilib.load_dataset(f"duckdb:///{path}")
    assert dataset.source == f"duckdb:///{path}"
    assert_same(clv.rfm_summary(dataset.orders), clv.rfm_summary(duckdb_dataset.orders), "rfm")


# --------------------------------------------------------------------------- the report


def _headlines(month_dir: Path) -> dict[str, pd.DataFrame]:
    """Each data notebook's headline metrics (its ``<notebook>.json``), all notebooks ok."""
    found = {}
    for path in sorted(month_dir.glob("0[1-9]_*.json")):
        status = json.loads(path.read_text())
        assert status["status"] == "ok", (path.name, status["error"])
        found[path.stem] = pd.DataFrame(status["metrics"])
    return found


PASSWORD = "pw-7x9q"


@pytest.fixture(scope="module")
def engine_reports(postgres_url, tmp_path_factory, small_sample) -> dict[str, Path]:
    """The report of the small sample (its data notebooks) run with ``--source`` at
    PostgreSQL (with a password) and at Spark (reading the sample's Parquet files), both at
    once (the Spark run waits on its JVMs more than on the cores): engine → month folder."""
    con = ibis.connect(postgres_url)
    con.raw_sql("CREATE SCHEMA IF NOT EXISTS small").close()
    _copy_tables(con, kpilib.load_dataset(small_sample), database="small")
    sources = {"postgres": postgres_url.replace("kpilib@", f"kpilib:{PASSWORD}@") + "?schema=small",
               "spark": f"{SPARK_LOCAL}?path={small_sample}"}
    root = tmp_path_factory.mktemp("engine-reports")
    domains = "funnel,engagement,churn,clv,marketing"  # (the glossary reads no source)
    runs = {engine: subprocess.Popen([sys.executable, "-m", "kpilib", "report", "--month", MONTH, "--source", source,
                                      "--out", str(root / engine), "--only", domains, "--quiet", "--jobs", "2"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
            for engine, source in sources.items()}
    errors = {}
    for engine, run in runs.items():
        try:
            _, stderr = run.communicate(timeout=1200)
        except subprocess.TimeoutExpired:
            run.kill()
            _, stderr = run.communicate()
        if run.returncode != 0:
            errors[engine] = stderr[-3000:]
    assert not errors, errors
    return {engine: root / engine / MONTH for engine in sources}


@pytest.mark.parametrize("engine", ["postgres", "spark"])
def test_report_on_the_engine_writes_duckdbs_headlines(engine, engine_reports, small_sample_report):
    """The report's data notebooks on the small generated sample (every headline metric) from
    PostgreSQL and from Spark equal the DuckDB run's (conftest's small_sample_report)."""
    month = engine_reports[engine]
    index = json.loads((month / "index.json").read_text())
    # the password reaches the kernels through the environment, never a written file
    written = [p for p in month.rglob("*") if p.is_file() and p.suffix in (".ipynb", ".html", ".json")]
    assert len(written) > 15 and not [p.name for p in written if PASSWORD in p.read_text()]
    assert not index.get("failed"), index.get("failed")
    want, got = _headlines(small_sample_report[1]), _headlines(month)
    assert set(got) == set(want) and len(want) == 5
    for name in want:
        assert len(want[name]) >= 2, name
        assert_same(got[name], want[name], name)


def test_spark_reads_a_folder_and_names_what_it_cannot_read(tmp_path, spark_dataset):
    orders = pd.DataFrame({"customer_id": ["a", "b"], "ts": pd.to_datetime(["2026-10-01 12:00", "2026-10-02 00:00"], utc=True),
                           "amount": [10.0, 5.5]})
    orders.to_parquet(tmp_path / "orders.parquet", coerce_timestamps="us")
    got = kpilib.load_dataset(f"{SPARK_LOCAL}?path={tmp_path}")
    assert got.source == f"{SPARK_LOCAL}?path={tmp_path}"
    assert got.orders.amount.sum().execute() == 15.5
    assert str(pd.Timestamp(got.orders.ts.min().execute())) == "2026-10-01 12:00:00+00:00"
    orders.to_parquet(tmp_path / "orders.parquet")  # pandas' default: nanoseconds, which Spark refuses
    with pytest.raises(DataError, match=r"orders.parquet cannot be read by Spark .*coerce_timestamps='us'"):
        kpilib.load_dataset(f"{SPARK_LOCAL}?path={tmp_path}")
