"""The data contract: loading from every kind of source, and a DataError per rule."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from kpilib import data
from kpilib.data import SCHEMAS, DataError, as_table, load_dataset


def good_tables() -> dict[str, pd.DataFrame]:
    """One small valid frame per table of the contract."""
    return {
        "customers": pd.DataFrame(
            {"customer_id": ["a", "b"], "signup_at": ["2026-10-01 10:00", "2026-10-02"],
             "channel": ["email", "organic"], "plan": ["pro", "basic"]}
        ),
        "events": pd.DataFrame(
            {"customer_id": ["a", "a", "b"],
             "ts": pd.to_datetime(["2026-10-01 09:00", "2026-10-01 10:00", "2026-10-02 00:00"]),
             "event": ["visit", "signup", "visit"], "channel": ["email", None, "organic"]}
        ),
        "orders": pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-03"], "amount": [12.5]}),
        "subscriptions": pd.DataFrame(
            {"customer_id": ["a", "b"], "start_at": ["2026-10-03", "2026-10-04"],
             "end_at": [None, "2026-10-20"], "mrr": [49.0, 19.0]}
        ),
        "email": pd.DataFrame(
            {"campaign": ["c1", "c1"], "customer_id": ["a", "b"],
             "sent_at": ["2026-10-05 08:00", "2026-10-05 08:00"], "bounce": ["none", "hard"],
             "opened_at": ["2026-10-05 09:00", None], "clicked_at": [pd.NaT, pd.NaT],
             "unsubscribed_at": [pd.NaT, pd.NaT], "complained_at": [pd.NaT, pd.NaT]}
        ),
        "surveys": pd.DataFrame(
            {"customer_id": ["a", "b", "a"], "ts": ["2026-10-10"] * 3,
             "survey": ["nps", "csat", "ces"], "score": [10, 5, 7]}
        ),
        "spend": pd.DataFrame({"date": ["2026-10-01"], "channel": ["email"], "cost": [100.0]}),
    }


def test_dict_source_types_and_utc():
    ds = load_dataset(good_tables())
    schema = ds.events.schema()
    assert schema["ts"] == ibis.expr.datatypes.Timestamp(timezone="UTC")
    assert schema["customer_id"].is_string()
    # an extra column is kept
    assert "channel" in ds.events.columns
    # naive timestamps are read as UTC, not shifted
    ts = ds.events.ts.min().execute()
    assert ts == pd.Timestamp("2026-10-01 09:00", tz="UTC")
    assert ds.subscriptions.end_at.isnull().sum().execute() == 1
    assert ds.spend.schema()["date"].is_date()
    counts = ds.row_counts().set_index("table")["rows"].to_dict()
    assert counts == {"customers": 2, "events": 3, "orders": 1, "subscriptions": 2,
                      "email": 2, "surveys": 3, "spend": 1}


def test_non_utc_timestamps_are_converted():
    frame = good_tables()["orders"].assign(
        ts=pd.to_datetime(["2026-10-03 12:00"]).tz_localize("Europe/Berlin")
    )
    t = as_table(frame, "orders")
    assert t.ts.execute().iloc[0] == pd.Timestamp("2026-10-03 10:00", tz="UTC")


def test_folder_csv_and_parquet_and_connection_agree(tmp_path):
    tables = good_tables()
    pq, csv = tmp_path / "pq", tmp_path / "csv"
    pq.mkdir()
    csv.mkdir()
    for name, frame in tables.items():
        frame.to_parquet(pq / f"{name}.parquet")
        frame.to_csv(csv / f"{name}.csv", index=False)
    con = ibis.duckdb.connect()
    for name, frame in tables.items():
        con.create_table(name, frame)
    sources = [tables, pq, str(csv), con]
    results = []
    for source in sources:
        ds = load_dataset(source)
        assert set(ds.tables()) == set(SCHEMAS)
        results.append(
            ds.orders.amount.sum().execute(),
        )
        frame = ds.subscriptions.order_by("customer_id").execute()
        assert frame["end_at"].isna().tolist() == [True, False]
    assert results == [12.5] * 4


def test_absent_tables_are_none_and_require_explains():
    ds = load_dataset({"orders": good_tables()["orders"]})
    assert ds.events is None and ds.has("orders") and not ds.has("spend")
    with pytest.raises(DataError, match="table 'events'.*funnel needs this table"):
        ds.require("events", "the funnel")


def test_default_source_is_the_bundled_sample():
    ds = load_dataset()
    assert ds.customers is not None and ds.events is not None
    assert "sample" in ds.source


def _error(tables: dict, name: str) -> DataError:
    with pytest.raises(DataError) as info:
        load_dataset({name: tables[name]})
    return info.value


@pytest.mark.parametrize(
    ("table", "column", "mutate", "rows"),
    [
        # required column missing (with a rename hint)
        ("events", "ts", lambda f: f.rename(columns={"ts": "time"}), None),
        ("customers", "channel", lambda f: f.drop(columns="channel"), None),
        # ids non-null
        ("orders", "customer_id", lambda f: f.assign(customer_id=[None]), 1),
        ("events", "customer_id", lambda f: f.assign(customer_id=["a", None, None]), 2),
        # types coercible
        ("orders", "amount", lambda f: f.assign(amount=["twelve"]), 1),
        ("surveys", "score", lambda f: f.assign(score=["9", "x", "7"]), 1),
        # timestamps parseable
        ("events", "ts", lambda f: f.assign(ts=["2026-10-01", "yesterday", "soon"]), 2),
        ("subscriptions", "start_at", lambda f: f.assign(start_at=["2026-13-45", "2026-10-04"]), 1),
        ("spend", "date", lambda f: f.assign(date=["not a date"]), 1),
        # amounts and costs non-negative
        ("orders", "amount", lambda f: f.assign(amount=[-1.0]), 1),
        ("spend", "cost", lambda f: f.assign(cost=[-5.0]), 1),
        ("subscriptions", "mrr", lambda f: f.assign(mrr=[-1.0, 2.0]), 1),
        # end not before start
        ("subscriptions", "end_at", lambda f: f.assign(end_at=["2026-10-01", "2026-10-20"]), 1),
        # scores inside their scale
        ("surveys", "score", lambda f: f.assign(score=[11, 5, 7]), 1),
        ("surveys", "score", lambda f: f.assign(score=[10, 0, 8]), 2),
        # categories
        ("surveys", "survey", lambda f: f.assign(survey=["nps", "csat", "sus"]), 1),
        ("email", "bounce", lambda f: f.assign(bounce=["none", "bounced"]), 1),
        ("email", "opened_at", lambda f: f.assign(bounce=["hard", "hard"]), 1),
        # a required non-id column empty
        ("customers", "signup_at", lambda f: f.assign(signup_at=[None, "2026-10-02"]), 1),
    ],
)
def test_every_rule_raises_a_dataerror_naming_table_and_column(table, column, mutate, rows):
    tables = good_tables()
    tables[table] = mutate(tables[table])
    err = _error(tables, table)
    assert err.table == table
    assert err.column == column
    assert err.rows == rows
    text = str(err)
    assert f"table '{table}'" in text and f"column '{column}'" in text
    assert err.fix and err.fix in text
    if rows is not None:
        assert f"{rows:,} of " in text
        assert 1 <= len(err.examples) <= 5


def test_missing_column_suggests_the_rename():
    tables = good_tables()
    tables["events"] = tables["events"].rename(columns={"ts": "ts_utc"})
    err = _error(tables, "events")
    assert "Rename 'ts_utc' to 'ts'" in str(err)


def test_examples_are_capped_at_five():
    frame = pd.DataFrame({"customer_id": list("abcdefgh"), "ts": ["2026-10-01"] * 8,
                          "amount": [-1.0] * 8})
    with pytest.raises(DataError) as info:
        as_table(frame, "orders")
    assert info.value.rows == 8 and len(info.value.examples) == 5


def test_folder_problems(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no table files"):
        load_dataset(tmp_path)
    frame = good_tables()["orders"]
    frame.to_csv(tmp_path / "orders.csv", index=False)
    frame.to_parquet(tmp_path / "orders.parquet")
    with pytest.raises(DataError, match="both orders.parquet and orders.csv"):
        load_dataset(tmp_path)


def test_unknown_names_and_types():
    with pytest.raises(DataError, match="unknown table name"):
        load_dataset({"order": good_tables()["orders"]})
    with pytest.raises(DataError, match="cannot load a source of type int"):
        load_dataset(42)
    with pytest.raises(DataError, match="expected a pandas DataFrame"):
        as_table([1, 2], "orders")
    assert issubclass(DataError, ValueError)


def test_folder_is_read_in_place_by_duckdb(tmp_path):
    """A folder source stays in the engine: the table is a DuckDB-backed expression,
    not a pandas memtable."""
    good_tables()["orders"].to_parquet(tmp_path / "orders.parquet")
    ds = load_dataset(tmp_path)
    assert ds.orders.get_backend().name == "duckdb"
    assert "read_parquet" in ds.orders.compile().lower() or "orders" in ds.orders.compile().lower()


def test_folder_dict_and_connection_give_identical_funnels(tmp_path):
    """The same generated data as Parquet files, as DataFrames and as tables in a DuckDB
    connection: one funnel, three sources, identical results."""
    from kpilib.funnel import funnel
    from kpilib.synth import generate_sample

    tables, _ = generate_sample(customers=300, seed=4, start="2026-01-01", end="2026-06-30")
    for name, frame in tables.items():
        frame.to_parquet(tmp_path / f"{name}.parquet")
    con = ibis.duckdb.connect()
    for name, frame in tables.items():
        con.create_table(name, frame)
    steps = ["visit", "signup", "lead", "purchase"]
    results = [
        funnel(load_dataset(source).events, steps, window="30D", by="channel")
        for source in (tmp_path, tables, con)
    ]
    assert results[0]["users"].sum() > 0
    for other in results[1:]:
        pd.testing.assert_frame_equal(results[0], other)


def test_the_sample_as_dataframes_gives_the_folders_numbers():
    """The sample's tables given as DataFrames (their text columns of 10^5 rows and more
    copied by the engine, text_array) give what the folder gives."""
    from kpilib.engagement import active_users
    from kpilib.funnel import funnel

    frames = {path.stem: pd.read_parquet(path) for path in data.SAMPLE_DIR.glob("*.parquet")}
    assert len(frames["events"]) >= data.TEXT_BY_ENGINE_ROWS and frames["events"]["event"].dtype == object
    folder, given = load_dataset(data.SAMPLE_DIR), load_dataset(frames)
    steps = ["visit", "signup", "lead", "purchase"]
    pd.testing.assert_frame_equal(funnel(given.events, steps, window="30D", by="channel"),
                                  funnel(folder.events, steps, window="30D", by="channel"))
    pd.testing.assert_frame_equal(active_users(given.events, "M"), active_users(folder.events, "M"))


def test_memtable_keeps_every_row_in_order_across_its_batches():
    rows = 2 * data.ARROW_BATCH_ROWS + 5
    frame = pd.DataFrame({
        "id": [f"c{i}" for i in range(rows)],
        "ts": pd.date_range("2026-01-01", periods=rows, freq="s", tz="UTC"),
        "x": np.arange(rows) / 7,
    })
    table = data.memtable(frame)
    back = table.to_pandas()
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert table.filter(table.x > 1).count().execute() == rows - 8


def test_large_text_columns_go_to_arrow_through_the_engine_unchanged():
    rows = data.TEXT_BY_ENGINE_ROWS + 70_000  # several of DuckDB's chunks
    rng = np.random.default_rng(3)
    words = np.array(["a", "", " spaced ", "日本語", "é" * 40, "ÅΩ😀"], dtype=object)
    text = pd.Series(words[rng.integers(0, len(words), rows)], dtype=object)
    text[rng.random(rows) < 0.1] = None
    text[rng.random(rows) < 0.05] = np.nan
    text[:3] = ["first", "second", "third"]
    expected = pa.array(text.to_numpy(), type=pa.string(), from_pandas=True)
    got = data.text_array(text)
    assert got.type == pa.string() and got.combine_chunks().equals(expected)
    frame = pd.DataFrame({"n": np.arange(rows), "id": text, "x": np.arange(rows) / 3})
    table = data._arrow_table(frame)
    assert table.column_names == ["n", "id", "x"]
    assert table.equals(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None))


@pytest.mark.parametrize("values", [
    ["a", "b"] * 100,                                     # small: pyarrow's own conversion
    ["a", 1] * data.TEXT_BY_ENGINE_ROWS,                  # mixed types
    [b"a", b"b"] * data.TEXT_BY_ENGINE_ROWS,              # bytes
    ["a", "\ud800"] * data.TEXT_BY_ENGINE_ROWS,           # a lone surrogate: not UTF-8
])
def test_text_array_leaves_everything_else_to_the_general_path(values):
    assert data.text_array(pd.Series(values, dtype=object)) is None
    assert data.text_array(pd.Series(["x"] * data.TEXT_BY_ENGINE_ROWS)).to_pylist()[-1] == "x", "still works after"


def test_a_large_mixed_column_is_still_handed_over_as_text():
    rows = data.TEXT_BY_ENGINE_ROWS
    frame = pd.DataFrame({"id": pd.Series(["a", 2] * rows, dtype=object), "word": ["w"] * (2 * rows)})
    table = data._arrow_table(frame)
    assert table.column("id").to_pylist()[:2] == ["a", "2"] and table.column("word").type == pa.string()


def test_integer_ids_are_read_as_text_and_a_missing_one_is_still_refused():
    orders = pd.DataFrame({"customer_id": pd.array([7, 12, 7], dtype="Int64"),
                           "ts": ["2026-10-01", "2026-10-02", "2026-10-03"], "amount": [1.0, 2.0, 3.0]})
    ds = load_dataset({"orders": orders})
    assert sorted(ds.orders.to_pandas()["customer_id"]) == ["12", "7", "7"]
    orders.loc[1, "customer_id"] = pd.NA
    with pytest.raises(DataError, match=r"column 'customer_id': 1 of 3 rows have no id"):
        load_dataset({"orders": orders})


def test_the_engine_of_a_folder_source_takes_its_bounds_from_the_environment(tmp_path, monkeypatch):
    pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-01"], "amount": [1.0]}).to_csv(
        tmp_path / "orders.csv", index=False)
    monkeypatch.setenv(data.ENGINE_THREADS_VARIABLE, "1")
    monkeypatch.setenv(data.ENGINE_MEMORY_VARIABLE, "512MB")
    con = load_dataset(tmp_path).orders._find_backend()
    threads, memory = con.raw_sql("select current_setting('threads'), current_setting('memory_limit')").fetchone()
    assert threads == 1 and memory.replace(" ", "") in {"488.2MiB", "512.0MB"}
    monkeypatch.setenv(data.ENGINE_SPILL_VARIABLE, str(tmp_path / "spill"))
    con = load_dataset(tmp_path).orders._find_backend()
    assert con.raw_sql("select current_setting('temp_directory')").fetchone()[0] == str(tmp_path / "spill")
    monkeypatch.delenv(data.ENGINE_SPILL_VARIABLE)
    for name, bad in ((data.ENGINE_THREADS_VARIABLE, "0"), (data.ENGINE_MEMORY_VARIABLE, "lots")):
        monkeypatch.setenv(name, bad)
        with pytest.raises(DataError, match=f"{name}={bad!r}"):
            load_dataset(tmp_path)
        monkeypatch.delenv(name)
    assert data.engine_settings() == {}


def test_only_casts_that_can_fail_are_counted():
    typed = ibis.memtable(pd.DataFrame({
        "customer_id": ["a"], "ts": pd.to_datetime(["2026-10-01"], utc=True), "amount": np.array([1], dtype="int32")}))
    text = ibis.memtable(pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-01"], "amount": ["1.5"]}))
    options = data.ContractOptions()

    def cast_checks(raw):
        coerced = data._coerced_columns(SCHEMAS["orders"], raw)
        return [c.column for col in SCHEMAS["orders"].columns if col.name in coerced
                for c in data._column_checks(col, coerced[col.name], raw[col.name], options)
                if c.message.startswith("cannot be read as")]

    assert cast_checks(typed) == [], "a timestamp is a timestamp, an integer a number"
    assert cast_checks(text) == ["ts", "amount"]
    scores = ibis.memtable(pd.DataFrame({"score": [7.5]}))
    score = next(c for c in SCHEMAS["surveys"].columns if c.name == "score")
    assert data._cast_may_fail(score, scores.score.type()), "a fraction is no whole number"
