"""A source folder's kpilib.toml: mapping its own names onto the contract, and its errors."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from kpilib.data import TABLE_NAMES, DataError, load_dataset

# Every table under another file name, every contract column under another name (one as
# an expression), and the funnel's event names as a CRM would spell them.
RENAMED = {
    "customers": ("crm_accounts.csv", {"customer_id": "account_ref", "signup_at": "created", "channel": "origin"}),
    "events": ("tracking.parquet", {"customer_id": "anon_id", "ts": "event_time", "event": "action"}),
    "orders": ("shop_orders.csv", {"customer_id": "buyer", "ts": "order_purchase_timestamp"}),
    "subscriptions": ("billing.parquet", {"customer_id": "account", "start_at": "began", "end_at": "ended",
                                          "mrr": "monthly_fee"}),
    "email": ("esp_export.csv", {"campaign": "campaign_name", "customer_id": "recipient", "sent_at": "sent",
                                 "bounce": "bounce_type", "opened_at": "first_open", "clicked_at": "first_click",
                                 "unsubscribed_at": "unsub", "complained_at": "spam"}),
    "surveys": ("answers.csv", {"customer_id": "respondent", "ts": "answered", "survey": "form", "score": "answer"}),
    "spend": ("ad_costs.csv", {"date": "day", "channel": "source", "cost": "spend_eur"}),
}
EVENT_NAMES = {"lead": "first_contact", "mql": "marketing_qualified", "purchase": "won"}

SETTINGS = """\
[tables.customers]
file = "crm_accounts.csv"
[tables.customers.columns]
customer_id = "account_ref"
signup_at = "created"
channel = "origin"

[tables.events]
file = "tracking.parquet"
[tables.events.columns]
customer_id = "anon_id"
ts = "event_time"
event = "action"

[tables.orders]
file = "shop_orders.csv"
[tables.orders.columns]
customer_id = "buyer"
ts = "order_purchase_timestamp"
amount = "amount_cents / 100"

[tables.subscriptions]
file = "billing.parquet"
[tables.subscriptions.columns]
customer_id = "account"
start_at = "began"
end_at = "ended"
mrr = "monthly_fee"

[tables.email]
file = "esp_export.csv"
[tables.email.columns]
campaign = "campaign_name"
customer_id = "recipient"
sent_at = "sent"
bounce = "bounce_type"
opened_at = "first_open"
clicked_at = "first_click"
unsubscribed_at = "unsub"
complained_at = "spam"

[tables.surveys]
file = "answers.csv"
[tables.surveys.columns]
customer_id = "respondent"
ts = "answered"
survey = "form"
score = "answer"

[tables.spend]
file = "ad_costs.csv"
[tables.spend.columns]
date = "day"
channel = "source"
cost = "spend_eur"

[events]
first_contact = "lead"
marketing_qualified = "mql"
won = "purchase"
"""


def write_renamed(original: Path, target: Path) -> None:
    """``original``'s tables under the names of RENAMED, with SETTINGS mapping them back."""
    target.mkdir()
    for name, (filename, columns) in RENAMED.items():
        frame = pd.read_parquet(original / f"{name}.parquet").rename(columns=columns)
        if name == "orders":  # amounts in cents, mapped back by an expression
            frame["amount_cents"] = (frame.pop("amount") * 100).round().astype("int64")
        if name == "events":
            frame["action"] = frame["action"].replace(EVENT_NAMES)
        if filename.endswith(".csv"):
            frame.to_csv(target / filename, index=False)
        else:
            frame.to_parquet(target / filename, index=False)
    (target / "kpilib.toml").write_text(SETTINGS, encoding="utf-8")


@pytest.fixture(scope="module")
def renamed(small_sample, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("renamed") / "export"
    write_renamed(small_sample, folder)
    return folder


def test_the_mapping_gives_back_every_table(small_sample, renamed):
    mapped, original = load_dataset(renamed), load_dataset(small_sample)
    for name in TABLE_NAMES:
        a, b = getattr(mapped, name), getattr(original, name)
        # renamed columns replace theirs; an expression's inputs stay as extra columns
        assert set(a.columns) - set(b.columns) == ({"amount_cents"} if name == "orders" else set()), name
        cols = list(b.columns)
        assert [a.schema()[c] for c in cols] == [b.schema()[c] for c in cols], name
        left = a.select(*cols).order_by(cols).execute()
        right = b.select(*cols).order_by(cols).execute()
        pd.testing.assert_frame_equal(left, right, check_exact=True, obj=name)


def test_the_report_numbers_are_the_same(small_sample_report, renamed, tmp_path):
    import kpilib.report as kr

    month, only = "2026-10", ["funnel", "clv", "marketing"]
    a = kr.run_report(month, source=renamed, out=tmp_path / "a", only=only, progress=False, jobs=2)
    b, original = small_sample_report  # the same notebooks on the small sample, as written
    assert a.ok and b.ok, [(s.notebook, s.error) for s in a.notebooks + b.notebooks if not s.ok]
    assert len(a.notebooks) == 3
    for status in a.notebooks:
        mine = json.loads((tmp_path / "a" / month / f"{status.notebook}.json").read_text())["metrics"]
        theirs = json.loads((original / f"{status.notebook}.json").read_text())["metrics"]
        assert theirs, status.notebook
        assert mine == theirs, status.notebook


def rewrite(folder: Path, old: str, new: str) -> None:
    path = folder / "kpilib.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ('buyer"', 'buyr"', "the file has no column 'buyr'"),
        ('amount = "amount_cents / 100"', 'amount = "amount_cents /"', "an expression cannot be evaluated"),
        ('amount = "amount_cents / 100"', 'amount = "amount_cent * 2"', "an expression cannot be evaluated"),
        ('ts = "order_purchase_timestamp"', 'timestamp = "order_purchase_timestamp"',
         "'timestamp' is not a column of the contract's orders"),
        ('file = "shop_orders.csv"', 'file = "shop_order.csv"', "there is no file shop_order.csv"),
        ('file = "shop_orders.csv"', 'file = "../shop_orders.csv"', "lies outside the source folder"),
        ('file = "shop_orders.csv"', 'file = "shop_orders.xlsx"', "must name a .csv or .parquet file"),
        ("[tables.spend]", "[tables.spends]", "unknown table 'spends'"),
        ('won = "purchase"', "won = 3", "an event maps onto one event name"),
        ("[events]", "[event_names]", "unknown section [event_names]"),
    ],
)
def test_errors_point_at_the_line(renamed, tmp_path, old, new, says):
    folder = tmp_path / "export"
    shutil.copytree(renamed, folder)
    rewrite(folder, old, new)
    line = next(i for i, text in enumerate((folder / "kpilib.toml").read_text(encoding="utf-8").splitlines(), 1) if new in text)
    with pytest.raises(DataError) as info:
        load_dataset(folder)
    text = str(info.value)
    assert says in text
    assert f"kpilib.toml, line {line} " in text


def test_an_unmapped_required_column_suggests_the_mapping(renamed, tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(renamed, folder)
    rewrite(folder, 'channel = "origin"\n', "")
    with pytest.raises(DataError) as info:
        load_dataset(folder)
    assert (info.value.table, info.value.column) == ("customers", "channel")
    assert '[tables.customers.columns] channel = "their_column"' in info.value.fix


def test_long_numeric_ids_under_another_name_stay_exact(tmp_path):
    folder = tmp_path / "ids"
    folder.mkdir()
    (folder / "export.csv").write_text(
        "buyer,when,value\n10000000000000000001,2026-01-01,5\n10000000000000000002,2026-01-02,7\n"
    )
    (folder / "kpilib.toml").write_text(
        '[tables.orders]\nfile = "export.csv"\n[tables.orders.columns]\n'
        'customer_id = "buyer"\nts = "when"\namount = "value"\n'
    )
    orders = load_dataset(folder).orders.execute()
    assert orders.customer_id.tolist() == ["10000000000000000001", "10000000000000000002"]
    assert orders.amount.tolist() == [5.0, 7.0]


# --------------------------------------------------------------------------- [funnel]

FUNNEL_EVENTS = "customer_id,ts,event\na,2026-01-01,lead\na,2026-01-05,won\n"


@pytest.mark.parametrize(
    ("funnel", "line", "says"),
    [
        ('steps = "lead"', 2, "steps must be a non-empty list of event names"),
        ("steps = []", 2, "steps must be a non-empty list of event names"),
        ('steps = ["lead", 3]', 2, "steps must be a non-empty list of event names"),
        ('steps = ["lead", "won"]\nwindow = "soon"', 3, "window must be a positive duration, got 'soon'"),
        ('steps = ["lead", "won"]\nwindow = "14"', 3, "window must be a positive duration"),
        ('steps = ["lead", "won"]\nwindow = "-2D"', 3, "window must be a positive duration"),
        ('steps = ["lead", "won"]\n\norder = "random"', 4, "order must be one of ordered, strict, strict_steps, any"),
        ('steps = ["lead", "won"]\nsemantics = "heap"', 3,
         "semantics must be one of kpilib, posthog, mixpanel, amplitude, got 'heap'"),
        ('stepz = ["lead", "won"]', 2, "unknown setting stepz under [funnel]"),
    ],
)
def test_funnel_settings_errors_name_the_line(tmp_path, funnel, line, says):
    (tmp_path / "events.csv").write_text(FUNNEL_EVENTS)
    (tmp_path / "kpilib.toml").write_text(f"[funnel]\n{funnel}\n")
    with pytest.raises(DataError) as info:
        load_dataset(tmp_path)
    assert says in str(info.value)
    assert f"kpilib.toml, line {line} ([funnel]" in str(info.value)


def test_funnel_settings_are_read_beside_the_mapping(tmp_path):
    (tmp_path / "crm.csv").write_text("lead_id,at,stage\na,2026-01-01,created\na,2026-01-05,closed_won\n")
    (tmp_path / "kpilib.toml").write_text(
        '[tables.events]\nfile = "crm.csv"\n[tables.events.columns]\ncustomer_id = "lead_id"\nts = "at"\n'
        'event = "stage"\n\n[events]\ncreated = "lead"\nclosed_won = "won"\n\n'
        '[funnel]\nsteps = ["lead", "won"]  # after the [events] mapping\nwindow = 30\n'
    )
    ds = load_dataset(tmp_path)
    assert (ds.funnel.steps, ds.funnel.window, ds.funnel.order) == (("lead", "won"), "30D", None)
    assert sorted(ds.events.execute().event) == ["lead", "won"]


def test_sources_without_settings_declare_no_funnel(small_sample):
    from kpilib.data import FunnelSettings

    assert load_dataset(small_sample).funnel == FunnelSettings()
    frames = load_dataset({"events": pd.read_csv(io.StringIO(FUNNEL_EVENTS))})
    assert frames.funnel.steps is None


def test_funnel_semantics_and_time_zone_are_declared_once(tmp_path):
    from kpilib.funnel import PRESETS
    from kpilib.source_settings import _FUNNEL_SEMANTICS

    assert sorted(_FUNNEL_SEMANTICS) == sorted(PRESETS)  # the settings accept exactly the presets
    (tmp_path / "events.csv").write_text(FUNNEL_EVENTS)
    (tmp_path / "kpilib.toml").write_text(
        'timezone = "Europe/Berlin"\n[funnel]\nsteps = ["lead", "won"]\norder = "strict_steps"\n'
        'semantics = "posthog"\n')
    ds = load_dataset(tmp_path)
    assert ds.timezone == "Europe/Berlin"
    assert (ds.funnel.semantics, ds.funnel.order) == ("posthog", "strict_steps")
    (tmp_path / "kpilib.toml").write_text('timezone = "UTC"\n')
    assert load_dataset(tmp_path).timezone is None  # UTC is the data's own clock
    (tmp_path / "kpilib.toml").write_text('\ntimezone = "CEST"\n[funnel]\nsteps = ["lead"]\n')
    with pytest.raises(DataError, match=r"kpilib.toml, line 2 \(timezone\): timezone must be an IANA"):
        load_dataset(tmp_path)
