"""A corpus of bad, odd and hostile sources: each gets a named DataError or loads unchanged.

Every case starts from the same small copy of the committed sample (80 customers, as CSV
files, since text is where reading goes wrong), changes one thing, and asserts the exact
outcome: which table and column the :class:`kpilib.DataError` names, how many rows it
counts and what it says — or, for inputs that used to be read wrong without a word, that
the numbers are the untouched copy's.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kpilib.data import SAMPLE_DIR, DataError, load_dataset

N_CUSTOMERS = 80


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """The first 80 customers of the committed sample and their rows, as CSV files."""
    out = tmp_path_factory.mktemp("base")
    customers = pd.read_parquet(SAMPLE_DIR / "customers.parquet").sort_values("customer_id")
    keep = set(customers.customer_id.iloc[:N_CUSTOMERS])
    for path in sorted(SAMPLE_DIR.glob("*.parquet")):
        frame = pd.read_parquet(path)
        if "customer_id" in frame.columns:
            frame = frame[frame.customer_id.isin(keep)]
        frame.to_csv(out / f"{path.stem}.csv", index=False)
    return out


def read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def write(folder: Path, name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(folder / f"{name}.csv", index=False)


def edit(name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    """A defect: ``change`` applied to table ``name`` (read as text, written back as CSV)."""

    def apply(folder: Path) -> None:
        write(folder, name, change(read(folder, name)))

    return apply


def set_cells(name: str, column: str, values: list[str]) -> Callable[[Path], None]:
    """A defect: the first ``len(values)`` rows of ``name.column`` replaced by ``values``."""

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        frame.loc[frame.index[: len(values)], column] = values
        return frame

    return edit(name, change)


def to_parquet(name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    """A defect written as Parquet (exact strings such as '' survive, unlike in CSV)."""

    def apply(folder: Path) -> None:
        frame = change(read(folder, name))
        (folder / f"{name}.csv").unlink()
        frame.to_parquet(folder / f"{name}.parquet", index=False)

    return apply


def raw_file(filename: str, content: bytes) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        stem = filename.split(".")[0]
        for old in folder.glob(f"{stem}.*"):
            old.unlink()
        (folder / filename).write_bytes(content)

    return apply


def reencode(name: str, encoding: str, marker: str) -> Callable[[Path], None]:
    """Table ``name`` written in another encoding, with ``marker`` in its first channel."""

    def apply(folder: Path) -> None:
        frame = read(folder, name)
        frame.loc[frame.index[0], "channel"] = marker
        (folder / f"{name}.csv").write_bytes(frame.to_csv(index=False).encode(encoding))

    return apply


def settings(text: str) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        (folder / "kpilib.toml").write_text(text, encoding="utf-8")

    return apply


def future(days: float) -> str:
    return str((pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=days)).floor("s").tz_localize(None))


@dataclass
class Refused:
    """The expected DataError: where, how many rows, and words its message must hold."""

    table: str | None
    column: str | None
    rows: int | None
    says: str


def drop_column(name: str, column: str) -> Callable[[Path], None]:
    return edit(name, lambda f: f.drop(columns=[column]))


def rename_column(name: str, old: str, new: str) -> Callable[[Path], None]:
    return edit(name, lambda f: f.rename(columns={old: new}))


def duplicate_rows(name: str, n: int) -> Callable[[Path], None]:
    return edit(name, lambda f: pd.concat([f, f.iloc[:n]], ignore_index=True))


def ragged_tail(name: str) -> Callable[[Path], None]:
    """A well-formed file whose last row, far past what the sniffer samples, has extra fields."""

    def apply(folder: Path) -> None:
        frame = read(folder, name)
        rows = pd.concat([frame] * (40_000 // len(frame) + 1), ignore_index=True)
        text = rows.to_csv(index=False) + ",".join(["x"] * (len(frame.columns) + 3)) + "\n"
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")

    return apply


def truncate_parquet(name: str) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        frame = read(folder, name)
        (folder / f"{name}.csv").unlink()
        target = folder / f"{name}.parquet"
        frame.to_parquet(target, index=False)
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])

    return apply


def first_click_without_open(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    rows = frame.index[(frame.bounce == "none") & (frame.opened_at != "") & (frame.clicked_at == "")][:3]
    frame.loc[rows, "clicked_at"] = frame.loc[rows, "opened_at"]
    frame.loc[rows, "opened_at"] = ""
    return frame


def opened_before_sent(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    rows = frame.index[frame.opened_at != ""][:2]
    frame.loc[rows, "opened_at"] = "2020-01-01 00:00:00"
    return frame


def clicked_before_sent(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    rows = frame.index[frame.clicked_at != ""][:4]
    frame.loc[rows, "clicked_at"] = "2020-01-01 00:00:00"
    return frame


def bounced_clicked(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    rows = frame.index[frame.bounce == "hard"][:1]
    frame.loc[rows, "clicked_at"] = frame.loc[rows, "sent_at"]
    return frame


def end_before_start(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[frame.index[:2], "end_at"] = "2020-01-01 00:00:00"
    return frame


def scheduled_end(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[frame.index[frame.end_at == ""][:2], "end_at"] = future(200)
    return frame


def fractional_scores(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    nps = frame.index[frame.survey == "nps"][:2]
    frame.loc[nps, "score"] = ["7.5", "9.5"]
    return frame


def nps_of(score: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        frame.loc[frame.index[frame.survey == "nps"][:1], "score"] = score
        return frame

    return change


# (id, defect, expected): the defect turns a copy of the base folder into the bad source.
CASES: list[tuple[str, Callable[[Path], None], Refused]] = [
    # --- files that cannot be read
    ("zero-byte csv", raw_file("orders.csv", b""), Refused("orders", None, None, "is empty (0 bytes)")),
    ("whitespace-only csv", raw_file("orders.csv", b"\n \n"), Refused("orders", None, None, "is empty")),
    ("zero-byte parquet", raw_file("orders.parquet", b""), Refused("orders", None, None, "is empty (0 bytes)")),
    ("garbage parquet", raw_file("events.parquet", b"PAR1 this is not parquet PAR1"),
     Refused("events", None, None, "cannot be read as Parquet")),
    ("truncated parquet", truncate_parquet("orders"), Refused("orders", None, None, "cannot be read as Parquet")),
    ("utf-16 csv", reencode("customers", "utf-16", "réseau"), Refused("customers", None, None, "is UTF-16 encoded")),
    ("latin-1 csv", reencode("customers", "latin-1", "réseau"),
     Refused("customers", None, None, "it looks like LATIN1")),
    ("windows-1252 csv", reencode("customers", "cp1252", "l’équipe"),
     Refused("customers", None, None, "it looks like WINDOWS-1252")),
    ("ragged row past the sniffer", ragged_tail("orders"),
     Refused("orders", None, None, "cannot be read to the end")),
    ("csv and parquet of one table", lambda folder: read(folder, "spend").to_parquet(folder / "spend.parquet"),
     Refused("spend", None, None, "both spend.parquet and spend.csv")),
    ("kpilib.toml not toml", settings("[contract\nallow_future = yes"), Refused(None, None, None, "is not valid TOML")),
    ("kpilib.toml unknown key", settings("[contract]\nallow_futur = true\n"),
     Refused(None, None, None, "unknown setting(s) allow_futur")),
    ("kpilib.toml bad tolerance", settings("[contract]\nfuture_tolerance = \"soon\"\n"),
     Refused(None, None, None, "a [contract] setting is invalid")),
    # --- columns
    ("required column missing", drop_column("orders", "amount"),
     Refused("orders", "amount", None, "required column 'amount' is missing")),
    ("required column misnamed", rename_column("orders", "amount", "amt"),
     Refused("orders", "amount", None, "Rename 'amt' to 'amount'")),
    # --- ids
    ("missing id", to_parquet("orders", lambda f: f.assign(customer_id=[None] + list(f.customer_id[1:]))),
     Refused("orders", "customer_id", 1, "have no id")),
    ("empty-string id", to_parquet("orders", lambda f: f.assign(customer_id=["", ""] + list(f.customer_id[2:]))),
     Refused("orders", "customer_id", 2, "have a blank id")),
    ("blank id", to_parquet("events", lambda f: f.assign(customer_id=["   "] + list(f.customer_id[1:]))),
     Refused("events", "customer_id", 1, "have a blank id")),
    ("id with a trailing space", set_cells("orders", "customer_id", ["C0000001 ", " C0000002"]),
     Refused("orders", "customer_id", 2, "spaces around it")),
    ("padded null-like id", to_parquet("orders", lambda f: f.assign(customer_id=[" nan "] + list(f.customer_id[1:]))),
     Refused("orders", "customer_id", 1, "null-like word as id")),
    ("id 'nan'", set_cells("orders", "customer_id", ["nan", "nan", "nan"]),
     Refused("orders", "customer_id", 3, "null-like word as id")),
    ("id 'None'", set_cells("events", "customer_id", ["None"]), Refused("events", "customer_id", 1, "null-like word as id")),
    ("id 'UnDefined'", set_cells("events", "customer_id", ["UnDefined", "undefined"]),  # the longest word
     Refused("events", "customer_id", 2, "null-like word as id")),
    ("id 'NaN'", set_cells("surveys", "customer_id", ["NaN", "NaN"]), Refused("surveys", "customer_id", 2, "null-like word as id")),
    ("id '<NA>'", set_cells("email", "customer_id", ["<NA>"]), Refused("email", "customer_id", 1, "null-like word as id")),
    ("id 'null'", set_cells("subscriptions", "customer_id", ["NULL"]),
     Refused("subscriptions", "customer_id", 1, "null-like word as id")),
    ("duplicate customers", duplicate_rows("customers", 4),
     Refused("customers", "customer_id", 4, "repeat an id already listed")),
    # --- numbers
    ("amount NaN", set_cells("orders", "amount", ["nan"]), Refused("orders", "amount", 1, "are not finite")),
    ("amount +inf", set_cells("orders", "amount", ["inf", "Infinity"]), Refused("orders", "amount", 2, "are not finite")),
    ("amount -inf", set_cells("orders", "amount", ["-inf"]), Refused("orders", "amount", 1, "are not finite")),
    ("amount negative", set_cells("orders", "amount", ["-5"]), Refused("orders", "amount", 1, "are negative")),
    ("amount text", set_cells("orders", "amount", ["12,50", "abc"]),
     Refused("orders", "amount", 2, "cannot be read as a number")),
    ("mrr infinite", set_cells("subscriptions", "mrr", ["inf"]), Refused("subscriptions", "mrr", 1, "are not finite")),
    ("cost NaN", set_cells("spend", "cost", ["NaN"]), Refused("spend", "cost", 1, "are not finite")),
    # --- surveys
    ("fractional scores", edit("surveys", fractional_scores),
     Refused("surveys", "score", 2, "cannot be read as a whole number")),
    ("nps above its scale", edit("surveys", nps_of("11")), Refused("surveys", "score", 1, "outside their survey's scale")),
    ("unknown survey", set_cells("surveys", "survey", ["nps2"]), Refused("surveys", "survey", 1, "have a value outside")),
    # --- times
    ("order in 2099", set_cells("orders", "ts", ["2099-01-01 00:00:00"]), Refused("orders", "ts", 1, "are in the future")),
    ("order in year 3000", set_cells("orders", "ts", ["3000-06-01 00:00:00", "3000-06-02 00:00:00"]),
     Refused("orders", "ts", 2, "are in the future")),
    ("event two days ahead", set_cells("events", "ts", [future(2)]), Refused("events", "ts", 1, "are in the future")),
    ("spend dated next year", set_cells("spend", "date", [future(400)[:10]]), Refused("spend", "date", 1, "are in the future")),
    ("signup not a time", set_cells("customers", "signup_at", ["yesterday"]),
     Refused("customers", "signup_at", 1, "cannot be read as a timestamp")),
    ("subscription ends before it starts", edit("subscriptions", end_before_start),
     Refused("subscriptions", "end_at", 2, "end before they start")),
    # --- email
    ("opened before sent", edit("email", opened_before_sent),
     Refused("email", "opened_at", 2, "are before the mail was sent")),
    ("clicked before sent", edit("email", clicked_before_sent),
     Refused("email", "clicked_at", 4, "are before the mail was sent")),
    ("bounced but clicked", edit("email", bounced_clicked),
     Refused("email", "clicked_at", 1, "are bounced but marked as clicked")),
    ("bounce value unknown", set_cells("email", "bounce", ["maybe"]), Refused("email", "bounce", 1, "have a value outside")),
]


@pytest.mark.parametrize(("defect", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused(base, tmp_path, defect, expected):
    folder = tmp_path / "source"
    shutil.copytree(base, folder)
    defect(folder)
    with pytest.raises(DataError) as info:
        load_dataset(folder)
    error = info.value
    assert (error.table, error.column, error.rows) == (expected.table, expected.column, expected.rows), str(error)
    assert expected.says in str(error)
    if expected.rows is not None:
        assert error.examples, "a row rule shows example values"
    assert error.fix, "every DataError says what to do"


# --- inputs that used to be read wrong without a word: they load, and the numbers are right


def counts(folder: Path) -> dict[str, int]:
    ds = load_dataset(folder)
    return {name: int(table.count().execute()) for name, table in ds.tables().items()}


def test_long_numeric_ids_stay_exact(base, tmp_path):
    folder = tmp_path / "ids"
    shutil.copytree(base, folder)
    ids = {old: str(10**19 + i) for i, old in enumerate(read(base, "customers").customer_id)}
    for name in ("customers", "orders", "events"):
        write(folder, name, read(folder, name).assign(customer_id=lambda f: f.customer_id.map(ids)))
    ds = load_dataset(folder)
    got = set(ds.customers.customer_id.execute())
    assert got == set(ids.values())
    assert ds.orders.customer_id.nunique().execute() == read(base, "orders").customer_id.nunique()
    # every order still finds its customer
    joined = ds.orders.join(ds.customers, "customer_id").count().execute()
    assert joined == len(read(base, "orders"))


@pytest.mark.parametrize(("name", "sibling"), [("data*", "datax"), ("src[12]", "src1"), ("a?b", "axb"),
                                               ("it's", "its"), ("sp ace", "space")])
def test_folder_names_are_literal(base, tmp_path, name, sibling):
    mine, other = tmp_path / name, tmp_path / sibling
    shutil.copytree(base, mine)
    shutil.copytree(base, other)
    write(other, "orders", pd.concat([read(other, "orders")] * 2))  # the sibling has twice the orders
    assert counts(mine) == counts(base)


@pytest.mark.parametrize(("folder_name", "column"), [("date=2026-10-01", "date"), ("channel=web", "channel")])
def test_partition_like_folder_names_do_not_overwrite_columns(base, tmp_path, folder_name, column):
    folder = tmp_path / folder_name
    shutil.copytree(base, folder)
    spend = load_dataset(folder).spend.execute()
    expected = pd.read_csv(base / "spend.csv")
    assert spend[column].nunique() == expected[column].nunique() > 1


def test_a_click_without_an_open_is_kept_and_noted(base, tmp_path):
    folder = tmp_path / "clicks"
    shutil.copytree(base, folder)
    edit("email", first_click_without_open)(folder)
    ds = load_dataset(folder)
    total = len(read(folder, "email"))
    assert ds.notes == [f"email.clicked_at: 3 of {total:,} rows are clicked with no recorded open; "
                        "they count as opened"]
    # and the engagement metrics count those mails as opened, as the note says
    from kpilib.engagement import email_metrics

    before = email_metrics(load_dataset(base).email)
    after = email_metrics(ds.email)
    assert after["unique_opens"].sum() == before["unique_opens"].sum()
    assert after["unique_clicks"].sum() == before["unique_clicks"].sum() + 3


def test_future_times_can_be_allowed_and_are_then_noted(base, tmp_path):
    folder = tmp_path / "future"
    shutil.copytree(base, folder)
    set_cells("orders", "ts", ["2099-01-01 00:00:00", "3000-06-01 00:00:00"])(folder)
    settings("[contract]\nallow_future = true\n")(folder)
    ds = load_dataset(folder)
    assert len(ds.notes) == 1 and ds.notes[0].startswith(f"orders.ts: 2 of {len(read(folder, 'orders')):,} rows are in the future")
    # an argument wins over the file
    with pytest.raises(DataError, match="are in the future"):
        load_dataset(folder, allow_future=False)


def test_future_tolerance_and_as_of(base, tmp_path):
    folder = tmp_path / "tolerance"
    shutil.copytree(base, folder)
    set_cells("events", "ts", [future(2)])(folder)
    settings('[contract]\nfuture_tolerance = "3D"\n')(folder)
    assert load_dataset(folder).notes == []
    # judged against an earlier extraction time, the last months of the sample are "future"
    with pytest.raises(DataError, match=r"after 2026-01-02 00:00 UTC") as info:
        load_dataset(base, as_of="2026-01-01", future_tolerance="1D")
    assert info.value.table == "events"  # the first 80 customers all signed up before 2026


def test_a_scheduled_subscription_end_may_lie_ahead(base, tmp_path):
    folder = tmp_path / "scheduled"
    shutil.copytree(base, folder)
    edit("subscriptions", scheduled_end)(folder)
    assert counts(folder) == counts(base)


def test_float_ids_from_pandas(base):
    orders = pd.read_csv(base / "orders.csv").head(3)
    whole = orders.assign(customer_id=[1.0, 2.0, 12.0])
    assert load_dataset({"orders": whole}).orders.customer_id.execute().tolist() == ["1", "2", "12"]
    with pytest.raises(DataError) as info:
        load_dataset({"orders": orders.assign(customer_id=[1.0, 2.5, 2.0**60])})
    assert (info.value.column, info.value.rows) == ("customer_id", 2)
    assert "fractional or too large" in str(info.value)


def test_pandas_nan_amount_and_inf(base):
    orders = pd.read_csv(base / "orders.csv").head(4)
    with pytest.raises(DataError, match="1 of 4 rows are empty"):
        load_dataset({"orders": orders.assign(amount=[1.0, np.nan, 2.0, 3.0])})
    with pytest.raises(DataError, match="2 of 4 rows are not finite"):
        load_dataset({"orders": orders.assign(amount=[1.0, np.inf, -np.inf, 3.0])})


@pytest.mark.parametrize(
    ("source", "says"),
    [("does/not/exist", "does not exist"), ("file", "is a file, not a folder"), ("empty", "no table files found")],
)
def test_source_paths(tmp_path, source, says):
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=says):
        load_dataset(tmp_path / source)

