"""Tests of the sample-data generator: determinism, the data contract, and its truth."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow
import pytest

from kpilib import synth
from kpilib.synth import _saas as saas

UTC = "datetime64[ns, UTC]"
CONTRACT = {
    "customers": {
        "customer_id": object,
        "signup_at": UTC,
        "channel": object,
        "plan": object,
        "segment": object,
        "country": object,
    },
    "events": {
        "customer_id": object,
        "ts": UTC,
        "event": object,
        "channel": object,
        "campaign": object,
        "page": object,
        "feature": object,
    },
    "orders": {"order_id": object, "customer_id": object, "ts": UTC, "amount": "float64"},
    "subscriptions": {
        "customer_id": object,
        "start_at": UTC,
        "end_at": UTC,
        "mrr": "float64",
        "plan": object,
    },
    "email": {
        "campaign": object,
        "customer_id": object,
        "sent_at": UTC,
        "bounce": object,
        "opened_at": UTC,
        "clicked_at": UTC,
        "unsubscribed_at": UTC,
        "complained_at": UTC,
    },
    "surveys": {"customer_id": object, "ts": UTC, "survey": object, "score": "int64"},
    "spend": {"date": object, "channel": object, "cost": "float64", "campaign": object},
}
Z999 = 3.2905  # two-sided 99.9 % normal quantile


@pytest.fixture(scope="module")
def sample():
    return synth.generate_sample(customers=3000, seed=11)


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_write_is_byte_identical_and_seed_dependent(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    synth.write_sample(a, customers=300, seed=1)
    synth.write_sample(b, customers=300, seed=1)
    synth.write_sample(c, customers=300, seed=2)
    files_a, files_b, files_c = _files(a), _files(b), _files(c)
    assert sorted(files_a) == sorted([f"{t}.parquet" for t in synth.TABLES] + ["truth.json"])
    assert files_a == files_b
    for name in files_a:
        assert files_a[name] != files_c[name], name


#: ``write_sample(out, customers=300, seed=3)`` as written before profiles existed (commit
#: e116f20, pyarrow 26.0.1): file sha256 and a pandas content hash of each file. The file
#: bytes also depend on the pyarrow version; the content hash does not.
SAAS_300_3_PYARROW = "26.0.1"
SAAS_300_3 = {
    "customers.parquet": ("b6517664428cb56274c2da2cf4aae760a08ed87f6835899c038237e07bde1cce", "7782f658e79814903bc2ce1200928b96e34f0ec911b0a8f12bc1ab40cfacc0b6"),
    "email.parquet": ("14e6ab199eed0ab6c5f6b82071c5bf4957746b8421a9ccbde44b37a5f91f0928", "2cca58bacd250eafd61fb789492e462ca030b49f8e2890250a6721a0d8701dad"),
    "events.parquet": ("0e1e5c31b1e2a3489ef77c3457e7889b881eb64488a49f6b50170b45d606e96a", "d68a063d295f373e9a9df94132eb835084c3f0db624be22cf850f1a7586f9965"),
    "orders.parquet": ("5fc45ee62a5999d058cff00fcf72225a8c5a9d27d737012329565564a5602350", "dd41598031dbc0075970aa6e1b8734437f4adb5e1db0ed8e01d870e31454b7a3"),
    "spend.parquet": ("654b54d7b7d8f16f921f87f25c5fd5abafd37ac6e0fa370ee560a7c1526dcb47", "bc6058cfdfaa57ef7fa69c4b2b8166dd14d38096e333a34902f9ac5abd3410e7"),
    "subscriptions.parquet": ("c3c58bad95216c125b5c3ae7a99688d72e842e79c489534bfaff999d925496ba", "00e0a27f7bdfd63eb7f6fecf35ea9403cbed47396e3b4bd528d6faf598497dba"),
    "surveys.parquet": ("a378d1a6b6281aa6c1d843a426d58c3facbf3a4e7455fb63b8a4989ac7e9a540", "a1463ef126b523d7d6e3c94ddb340c51c0525b136a1f880dd67e7818f504ef84"),
}
#: sha256 of that truth.json, which had no ``profile`` and ``tables`` keys yet.
SAAS_300_3_TRUTH = "ef8edfd769cdc82a2fd8ede0cafe607ab14dfdaafa5ea51dea9308c20eb7b258"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _in_nanoseconds(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its times in nanoseconds (the generator's unit in memory; its files hold
    microseconds, which every engine reads)."""
    return frame.assign(**{c: frame[c].astype("datetime64[ns, UTC]") for c in frame.columns
                           if str(frame[c].dtype).startswith("datetime64")})


def test_saas_is_unchanged_by_profiles(tmp_path):
    default, explicit = tmp_path / "default", tmp_path / "explicit"
    truth = synth.write_sample(default, customers=300, seed=3)
    for name, (file_hash, content_hash) in SAAS_300_3.items():
        frame = _in_nanoseconds(pd.read_parquet(default / name))  # the files hold microseconds
        content = pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
        assert _sha256(content) == content_hash, name
        if pyarrow.__version__ == SAAS_300_3_PYARROW:
            assert _sha256((default / name).read_bytes()) == file_hash, name
    assert truth["profile"] == "saas" and truth["tables"] == list(synth.TABLES)
    before = {k: v for k, v in truth.items() if k not in ("profile", "tables")}
    assert _sha256((json.dumps(before, indent=2) + "\n").encode()) == SAAS_300_3_TRUTH
    assert synth.write_sample(explicit, profile="saas", customers=300, seed=3) == truth
    assert _files(explicit) == _files(default)


@pytest.mark.parametrize(
    ("profile", "customers", "chunk"),
    [("saas", 500, 700), ("ecommerce", 150, 1200), ("b2b-leads", 450, 200)],
)
def test_generate_equals_written_across_chunks(tmp_path, monkeypatch, profile, customers, chunk):
    monkeypatch.setattr(synth, "CHUNK_PERSONS", chunk)  # several chunks
    tables, truth = synth.generate_sample(customers=customers, seed=5, profile=profile)
    written = synth.write_sample(tmp_path, customers=customers, seed=5, profile=profile)
    assert truth == written
    assert json.loads((tmp_path / "truth.json").read_text()) == truth
    persons = truth.get("traffic", {}).get("visitors", truth["realized"]["customers"])
    assert persons > 2 * synth.CHUNK_PERSONS
    assert list(tables) == truth["tables"]
    for name, frame in tables.items():
        back = pd.read_parquet(tmp_path / f"{name}.parquet")
        assert all(str(t).startswith("datetime64[us") for t in back.dtypes if str(t).startswith("datetime"))
        pd.testing.assert_frame_equal(_in_nanoseconds(back), frame)
        assert len(frame) == truth["realized"]["rows"][name]


def test_columns_and_dtypes_follow_the_contract(sample):
    tables, _ = sample
    assert set(tables) == set(CONTRACT)
    for name, columns in CONTRACT.items():
        frame = tables[name]
        assert list(frame.columns) == list(columns), name
        for column, dtype in columns.items():
            assert str(frame[column].dtype) == str(np.dtype(dtype) if dtype is object else dtype), (
                name,
                column,
            )
        assert len(frame) > 0, name


def test_values_follow_the_contract(sample):
    tables, truth = sample
    customers, events, email = tables["customers"], tables["events"], tables["email"]
    subs, surveys = tables["subscriptions"], tables["surveys"]
    end = pd.Timestamp(truth["generator"]["end_at"])
    assert customers["customer_id"].is_unique
    assert customers["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert set(customers["channel"]) == set(saas.CHANNELS)
    assert set(customers["plan"]) <= set(saas.PLANS)
    assert set(customers["segment"]) <= set(saas.SEGMENTS)
    assert set(events["event"]) == set(saas.EVENTS)
    visit = events["event"] == "visit"
    assert events.loc[visit, "channel"].notna().all()
    assert events.loc[~visit, "channel"].isna().all()
    paid = events["channel"].isin(["email", "paid_search", "social"])
    assert events.loc[paid, "campaign"].notna().all()
    assert events.loc[~paid, "campaign"].isna().all()
    assert events["feature"].notna().eq(events["event"] == "feature_use").all()
    for frame, column in [(events, "ts"), (email, "sent_at"), (tables["orders"], "ts")]:
        assert frame[column].max() <= end
    assert (subs["end_at"].isna() | (subs["end_at"] >= subs["start_at"])).all()
    assert (subs["end_at"].isna() | (subs["end_at"] <= end)).all()
    assert (subs["mrr"] >= 0).all()
    assert (tables["orders"]["amount"] >= 0).all()
    assert tables["orders"]["order_id"].is_unique
    assert (tables["spend"]["cost"] >= 0).all()
    assert set(email["bounce"]) == {"none", "soft", "hard"}
    bounced = email["bounce"] != "none"
    for column in ["opened_at", "clicked_at", "unsubscribed_at", "complained_at"]:
        assert email.loc[bounced, column].isna().all(), column
    assert (email["clicked_at"].isna() | (email["clicked_at"] > email["opened_at"])).all()
    scale = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
    for survey, (lo, hi) in scale.items():
        scores = surveys.loc[surveys["survey"] == survey, "score"]
        assert len(scores) > 0
        assert scores.between(lo, hi).all(), survey


def test_customers_match_their_funnel_events(sample):
    tables, _ = sample
    customers, events = tables["customers"], tables["events"]
    visits = events[events["event"] == "visit"].sort_values(["customer_id", "ts"], kind="stable")
    first = visits.drop_duplicates("customer_id").set_index("customer_id")["channel"]
    assert (
        customers.set_index("customer_id")["channel"]
        == first.loc[customers["customer_id"]].to_numpy()
    ).all()
    signups = events[events["event"] == "signup"].set_index("customer_id")["ts"]
    assert signups.index.is_unique
    assert set(signups.index) == set(customers["customer_id"])
    assert (
        signups.loc[customers["customer_id"]].to_numpy() == customers["signup_at"].to_numpy()
    ).all()
    # every purchase event opens a subscription and is the customer's first order
    purchase = events[events["event"] == "purchase"].set_index("customer_id")["ts"].sort_index()
    subs_start = tables["subscriptions"].groupby("customer_id")["start_at"].min().sort_index()
    first_order = tables["orders"].groupby("customer_id")["ts"].min().sort_index()
    pd.testing.assert_series_equal(purchase, subs_start, check_names=False)
    pd.testing.assert_series_equal(purchase, first_order, check_names=False)


def test_product_activity_stops_after_churn(sample):
    tables, _ = sample
    subs, events = tables["subscriptions"], tables["events"]
    last = subs.groupby("customer_id")["end_at"].agg(
        lambda s: s.max() if s.notna().all() else pd.NaT
    )
    churned = last.dropna()
    usage = events[events["event"].isin(["page_view", "feature_use", "share"])]
    usage = usage[usage["customer_id"].isin(churned.index)]
    assert len(usage) > 0
    assert (usage["ts"].to_numpy() <= churned.loc[usage["customer_id"]].to_numpy()).all()


def _usage_ratio(events: pd.DataFrame, close: pd.Series) -> tuple[float, float]:
    """Usage events in the 60 days before each customer's ``close`` over those in the 60
    days before that, pooled over customers, with its cluster-robust (delta-method) SE."""
    usage = events[events["event"].isin(["page_view", "feature_use", "share"])
                   & events["customer_id"].isin(close.index)]
    before = close.loc[usage["customer_id"]].to_numpy() - usage["ts"].to_numpy()
    days = pd.to_timedelta(before).days.to_numpy()
    late = pd.Series(days < 60, index=usage["customer_id"]).groupby(level=0).sum().reindex(close.index, fill_value=0)
    early = pd.Series((days >= 60) & (days < 120), index=usage["customer_id"]).groupby(level=0).sum()
    early = early.reindex(close.index, fill_value=0)
    ratio = late.sum() / early.sum()
    se = np.sqrt(((late - ratio * early) ** 2).sum()) / early.sum()
    return ratio, se


def test_usage_fades_before_churn_as_the_truth_says(sample):
    tables, truth = sample
    subs, events = tables["subscriptions"], tables["events"]
    fade = truth["engagement"]["pre_churn_fade"]
    assert fade["days"] == 60
    # subscribers with one spell of at least 120 days: churned ones, and ones still active
    spells = subs.groupby("customer_id").agg(rows=("start_at", "size"), start=("start_at", "min"),
                                             end=("end_at", "max"), open=("end_at", lambda e: e.isna().any()))
    single = spells[spells.rows == 1]
    end_of_data = pd.Timestamp(truth["generator"]["end_at"])
    churned = single[~single.open & (single.end - single.start >= pd.Timedelta(days=120))]["end"]
    active = single[single.open & (end_of_data - single.start >= pd.Timedelta(days=120))]
    kept = (1 + fade["floor"]) / 2  # mean of a linear fall from 1 to the floor
    ratio, se = _usage_ratio(events, churned)
    assert len(churned) > 30 and abs(ratio - kept) < 4 * se, (ratio, se, kept)
    ratio, se = _usage_ratio(events, pd.Series(end_of_data, index=active.index))
    assert len(active) > 50 and abs(ratio - 1) < 4 * se, (ratio, se)  # no fade at the end of the data


def test_signup_rate_per_channel_matches_truth(sample):
    tables, truth = sample
    events = tables["events"]
    cutoff = pd.Timestamp(truth["generator"]["end_at"]) - pd.Timedelta(
        days=truth["funnel"]["delay_cap_days"]
    )
    visits = events[events["event"] == "visit"].sort_values(["customer_id", "ts"], kind="stable")
    first = visits.drop_duplicates("customer_id")
    first = first[first["ts"] < cutoff]
    signed = first["customer_id"].isin(tables["customers"]["customer_id"])
    assert truth["traffic"]["visitors"] == visits["customer_id"].nunique()
    for channel, steps in truth["funnel"]["step_probability"].items():
        converted = signed[first["channel"] == channel]
        p, n = steps["signup"], len(converted)
        assert n > 500
        assert abs(converted.mean() - p) <= Z999 * np.sqrt(p * (1 - p) / n), channel


def test_spend_gives_the_true_cac(sample):
    tables, truth = sample
    spend = tables["spend"].groupby("channel")["cost"].sum()
    acquired = tables["customers"]["channel"].value_counts()
    for channel, cac in truth["marketing"]["cac"].items():
        assert spend[channel] / acquired[channel] == pytest.approx(cac, rel=1e-9)
    paid = tables["spend"]["channel"].isin(["paid_search", "social"])
    assert tables["spend"].loc[paid, "campaign"].notna().all()
    assert tables["spend"].loc[~paid, "campaign"].isna().all()


def test_email_open_rate_matches_campaign_truth(sample):
    tables, truth = sample
    email = tables["email"]
    end = pd.Timestamp(truth["generator"]["end_at"]) - pd.Timedelta(days=7)
    delivered = email[(email["bounce"] == "none") & (email["sent_at"] < end)]
    p = delivered["campaign"].map(
        {c["campaign"]: c["probability"]["open"] for c in truth["email"]["campaigns"]}
    )
    opened = delivered["opened_at"].notna()
    assert abs(opened.sum() - p.sum()) <= Z999 * np.sqrt((p * (1 - p)).sum())
    clicks = email["clicked_at"].notna().sum()
    email_visits = tables["events"].query("event == 'visit' and channel == 'email'")
    assert len(email_visits) >= clicks


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="customers"):
        synth.generate_sample(customers=0)
    with pytest.raises(ValueError, match="end"):
        synth.generate_sample(customers=10, start="2025-02-01", end="2025-01-01")


def test_tiny_sample_keeps_every_table(tmp_path):
    tables, truth = synth.generate_sample(customers=2, seed=3, start="2026-10-01")
    synth.write_sample(tmp_path, customers=2, seed=3, start="2026-10-01")
    for name, columns in CONTRACT.items():
        assert list(tables[name].columns) == list(columns)
        back = pd.read_parquet(tmp_path / f"{name}.parquet")
        assert list(back.columns) == list(columns)
        assert len(back) == len(tables[name]) == truth["realized"]["rows"][name]


def test_funnel_steps_are_ordered_and_capped(sample):
    tables, truth = sample
    events = tables["events"]
    steps = ["visit", *truth["funnel"]["steps"]]
    first = (
        events[events["event"].isin(steps)]
        .sort_values(["customer_id", "ts"], kind="stable")
        .drop_duplicates(["customer_id", "event"])
        .pivot(index="customer_id", columns="event", values="ts")[steps]
    )
    cap = pd.Timedelta(days=truth["funnel"]["delay_cap_days"])
    for before, after in zip(steps, steps[1:], strict=False):
        reached = first[after].notna()
        assert first.loc[reached, before].notna().all(), after
        delay = first.loc[reached, after] - first.loc[reached, before]
        assert (delay > pd.Timedelta(0)).all() and (delay <= cap).all(), after


def test_a_failure_part_way_leaves_no_half_written_sample(tmp_path, monkeypatch):
    from kpilib import synth

    real = synth._simulate

    def failing(*args, **kwargs):
        for i, item in enumerate(real(*args, **kwargs)):
            if i == 3:
                raise RuntimeError("disk full")
            yield item

    monkeypatch.setattr(synth, "_simulate", failing)
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(RuntimeError, match="disk full"):
        synth.write_sample(tmp_path, customers=50, seed=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


# --- profiles ---------------------------------------------------------------------------

SMALL = {"saas": 300, "ecommerce": 300, "b2b-leads": 300}


@pytest.mark.parametrize("profile", synth.PROFILES)
def test_each_profile_is_deterministic_and_passes_the_contract(tmp_path, profile):
    from kpilib import load_dataset

    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    truth = synth.write_sample(a, profile=profile, customers=SMALL[profile], seed=1)
    synth.write_sample(b, profile=profile, customers=SMALL[profile], seed=1)
    synth.write_sample(c, profile=profile, customers=SMALL[profile], seed=2)
    files_a, files_c = _files(a), _files(c)
    assert files_a == _files(b)
    assert truth["profile"] == profile
    assert set(truth["tables"]) <= set(synth.TABLES)
    settings = ["kpilib.toml"] if synth.profile_settings(profile) else []
    assert sorted(files_a) == sorted([f"{t}.parquet" for t in truth["tables"]] + ["truth.json", *settings])
    for name in files_a:
        if name != "kpilib.toml":  # the settings are the profile's, not the seed's
            assert files_a[name] != files_c[name], name
    dataset = load_dataset(a)  # every rule of the contract, the default as-of (now) included
    counts = dataset.row_counts().set_index("table")
    for name in synth.TABLES:
        present = name in truth["tables"]
        assert counts.loc[name, "present"] == present, name
        assert (getattr(dataset, name) is not None) == present, name
        if present:
            assert counts.loc[name, "rows"] == truth["realized"]["rows"][name] > 0, name
    assert dataset.notes == []


def test_profile_tables_by_profile():
    expected = {
        "saas": list(synth.TABLES),
        "ecommerce": ["customers", "events", "orders", "email", "surveys", "spend"],
        "b2b-leads": ["customers", "events", "spend"],
    }
    assert synth.PROFILES == ("saas", "ecommerce", "b2b-leads")
    for profile, tables in expected.items():
        generated, truth = synth.generate_sample(customers=20, seed=1, profile=profile,
                                                 start="2026-09-01")
        assert list(generated) == truth["tables"] == tables
        assert set(truth.get("tables_left_out", {})) == set(synth.TABLES) - set(tables)


def test_unknown_profile_is_refused(tmp_path):
    with pytest.raises(ValueError, match="saas, ecommerce, b2b-leads"):
        synth.generate_sample(customers=10, profile="retail")
    with pytest.raises(ValueError, match="unknown profile"):
        synth.write_sample(tmp_path, profile="SaaS")
    assert list(tmp_path.iterdir()) == []


def test_a_profile_written_over_another_leaves_no_foreign_table(tmp_path):
    synth.write_sample(tmp_path, customers=50, seed=1)
    (tmp_path / "notes.txt").write_text("mine")
    truth = synth.write_sample(tmp_path, profile="ecommerce", customers=30, seed=1)
    assert not (tmp_path / "subscriptions.parquet").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert json.loads((tmp_path / "truth.json").read_text())["profile"] == "ecommerce"
    assert pd.read_parquet(tmp_path / "customers.parquet").shape[0] == truth["realized"]["customers"]


@pytest.mark.parametrize("profile", synth.PROFILES)
def test_a_profile_declares_the_funnel_its_truth_describes(tmp_path, profile):
    from kpilib import load_dataset

    truth = synth.write_sample(tmp_path, profile=profile, customers=30, seed=1)
    declared = load_dataset(tmp_path).funnel
    if profile == "saas":  # the built-in funnel is the saas one: nothing to declare
        assert not (tmp_path / "kpilib.toml").exists() and declared.steps is None
        from kpilib.funnel import DEFAULT_STEPS

        assert ["visit", *truth["funnel"]["steps"]] == list(DEFAULT_STEPS)
    else:
        assert list(declared.steps) == [truth["funnel"]["entry"], *truth["funnel"]["steps"]]
        assert declared.window is not None


def test_a_profile_without_settings_removes_only_the_settings_a_sample_wrote(tmp_path):
    synth.write_sample(tmp_path, profile="b2b-leads", customers=30, seed=1)
    assert (tmp_path / "kpilib.toml").read_text().startswith(synth.SETTINGS_MARKER)
    synth.write_sample(tmp_path, profile="saas", customers=30, seed=1)
    assert not (tmp_path / "kpilib.toml").exists()  # the leads' funnel is not this company's
    (tmp_path / "kpilib.toml").write_text('[contract]\nallow_future = true\n')
    synth.write_sample(tmp_path, profile="saas", customers=30, seed=1)
    assert (tmp_path / "kpilib.toml").read_text() == '[contract]\nallow_future = true\n'  # the user's own


# --- ecommerce ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop():
    return synth.generate_sample(customers=2000, seed=11, profile="ecommerce")


def test_shop_has_the_columns_a_shop_has(shop):
    tables, truth = shop
    assert "subscriptions" not in tables
    assert list(tables["customers"].columns) == ["customer_id", "signup_at", "channel", "country"]
    events = tables["events"]
    assert list(events.columns) == ["customer_id", "ts", "event", "channel", "campaign", "page"]
    assert set(events["event"]) == {"visit", "page_view", "add_to_cart", "purchase"}
    assert [truth["funnel"]["entry"], *truth["funnel"]["steps"]] == ["visit", "add_to_cart", "purchase"]
    visit = events["event"] == "visit"
    assert events.loc[visit, "channel"].notna().all() and events.loc[~visit, "channel"].isna().all()
    assert events.loc[events["event"] != "purchase", "page"].notna().all()
    assert events.loc[events["event"] == "purchase", "page"].isna().all()
    surveys = tables["surveys"]
    assert set(surveys["survey"]) == {"csat"} and surveys["score"].between(1, 5).all()
    assert set(tables["customers"]["channel"]) == set(truth["traffic"]["channel_mix"])
    assert truth["realized"]["customers"] == len(tables["customers"])
    assert abs(len(tables["customers"]) - 2000) < 0.1 * 2000  # a little less: journeys are cut


def test_every_order_is_a_purchase_and_the_first_makes_the_customer(shop):
    tables, _ = shop
    customers, events, orders = tables["customers"], tables["events"], tables["orders"]
    purchases = events.loc[events["event"] == "purchase", ["customer_id", "ts"]]
    key = ["customer_id", "ts"]
    pd.testing.assert_frame_equal(
        purchases.sort_values(key).reset_index(drop=True),
        orders[key].sort_values(key).reset_index(drop=True),
    )
    first = orders.groupby("customer_id")["ts"].min()
    signup = customers.set_index("customer_id")["signup_at"]
    assert (first.loc[signup.index] == signup).all()
    visits = events[events["event"] == "visit"].sort_values(["customer_id", "ts"], kind="stable")
    first_channel = visits.drop_duplicates("customer_id").set_index("customer_id")["channel"]
    assert (first_channel.loc[signup.index] == customers.set_index("customer_id")["channel"]).all()


def test_repeat_buying_is_sparse_and_follows_the_bgnbd_truth(shop):
    tables, truth = shop
    bgnbd = truth["clv"]["bgnbd"]
    end = pd.Timestamp(truth["generator"]["end_at"])
    orders = tables["orders"].groupby("customer_id").size()
    signup = tables["customers"].set_index("customer_id")["signup_at"]
    repeated = orders.reindex(signup.index, fill_value=0) > 1
    # P(a repeat within T days of the first order) = 1 - (alpha / (alpha + T))^r under BG/NBD
    exposure = (end - signup).dt.total_seconds() / 86_400
    p = 1 - (bgnbd["alpha"] / (bgnbd["alpha"] + exposure)) ** bgnbd["r"]
    assert 0.01 < repeated.mean() < 0.06  # "~3 % of buyers repeat"
    assert abs(repeated.sum() - p.sum()) <= Z999 * np.sqrt((p * (1 - p)).sum()), (
        repeated.sum(), p.sum())
    assert repeated.sum() == truth["realized"]["repeat_buyers"]


def test_pages_have_a_long_tail_as_the_truth_says(shop):
    tables, truth = shop
    events = tables["events"]
    views = events.loc[events["event"] == "page_view", "page"]
    landing = events.loc[events["event"] == "visit", "page"]
    assert views.nunique() >= 200 and landing.nunique() >= 200
    pages = truth["pages"]
    ranking = pages["ranking"]
    assert len(ranking) == len(set(ranking)) == pages["count"] >= 200
    weight = (np.arange(len(ranking)) + pages["zipf_offset"]) ** -pages["zipf_exponent"]
    weight = pd.Series(weight / weight.sum(), index=ranking)
    counts = views.value_counts()
    assert counts.index[0] == ranking[0]
    for top in (10, 100):
        share = weight.iloc[:top].sum()
        seen = counts.reindex(ranking[:top], fill_value=0).sum()
        n = len(views)
        assert abs(seen - n * share) <= Z999 * np.sqrt(n * share * (1 - share)), top
    beyond = 1 - counts.reindex(ranking[:100], fill_value=0).sum() / len(views)
    assert beyond > 0.2  # a real tail: the 500-odd pages outside the top 100 get a fifth of views


def test_first_session_cart_and_purchase_rates_match_truth(shop):
    tables, truth = shop
    events = tables["events"]
    funnel = truth["funnel"]
    end = pd.Timestamp(truth["generator"]["end_at"]) - pd.Timedelta(days=1)
    visits = events[events["event"] == "visit"].sort_values(["customer_id", "ts"], kind="stable")
    number = visits.groupby("customer_id").cumcount()
    first = visits[number == 0].set_index("customer_id")[["ts", "channel"]]
    second = visits[number == 1].set_index("customer_id")["ts"]
    first["next_visit"] = second.reindex(first.index).fillna(pd.Timestamp.max.tz_localize("UTC"))
    first = first[first["ts"] < end]
    for event, column in [("add_to_cart", "cart"), ("purchase", "buy")]:
        at = events[events["event"] == event].groupby("customer_id")["ts"].min()
        at = at.reindex(first.index)
        first[column] = at.notna() & (at < first["next_visit"])
    for channel, cart in funnel["cart_probability"].items():
        rows = first[first["channel"] == channel]
        n = len(rows)
        assert n > 1000, channel
        for column, p in [("cart", cart), ("buy", cart * funnel["purchase_given_cart"])]:
            assert abs(rows[column].mean() - p) <= Z999 * np.sqrt(p * (1 - p) / n), (channel, column)


def test_reviews_follow_the_truth(shop):
    tables, truth = shop
    reviews, orders = truth["reviews"], tables["orders"]
    surveys = tables["surveys"]
    assert len(surveys) <= len(orders)
    # customers with one order, early enough for any review delay (e^-12 of it is later)
    late = pd.Timestamp(truth["generator"]["end_at"]) - pd.Timedelta(
        days=reviews["delay_min_days"] + 12 * reviews["delay_mean_days"])
    single = orders.groupby("customer_id")["ts"].agg(["size", "max"])
    single = single[(single["size"] == 1) & (single["max"] < late)]
    n, p = len(single), reviews["probability"]
    mine = surveys["customer_id"].isin(single.index)
    assert abs(mine.sum() - n * p) <= Z999 * np.sqrt(n * p * (1 - p)), (mine.sum(), n * p)
    delay = surveys.loc[mine, "ts"].to_numpy() - single.loc[surveys.loc[mine, "customer_id"], "max"].to_numpy()
    assert (delay >= pd.Timedelta(days=reviews["delay_min_days"])).all()
    probability = np.array(reviews["score_probability"])
    scores = np.arange(1, 6)
    mean = (scores * probability).sum()
    sd = np.sqrt(((scores - mean) ** 2 * probability).sum())
    assert abs(surveys.loc[mine, "score"].mean() - mean) <= Z999 * sd / np.sqrt(mine.sum())


def test_shop_spend_follows_its_cost_drivers(shop):
    tables, truth = shop
    marketing = truth["marketing"]
    spend, events, email = tables["spend"], tables["events"], tables["email"]
    assert set(spend["channel"]) == {"paid_search", "social", "affiliate", "email"}
    assert not set(marketing["unpaid_channels"]) & set(spend["channel"])
    day = spend.assign(date=pd.to_datetime(spend["date"]).dt.tz_localize("UTC"))
    # affiliates: the commission on the first orders of the customers they brought
    customers = tables["customers"].set_index("customer_id")
    orders = tables["orders"].sort_values("ts").drop_duplicates("customer_id")
    orders = orders[orders["customer_id"].map(customers["channel"]) == "affiliate"]
    owed = orders.groupby(orders["ts"].dt.floor("D"))["amount"].sum()
    paid = day[day["channel"] == "affiliate"].set_index("date")["cost"]
    owed = (marketing["affiliate_commission_rate"] * owed).reindex(paid.index, fill_value=0.0)
    assert np.allclose(paid, owed, atol=0.006)
    # email: a fee per mail sent
    sent = email.groupby(email["sent_at"].dt.floor("D")).size()
    fee = day[day["channel"] == "email"].set_index("date")["cost"]
    assert np.allclose(fee, marketing["email_cost_per_send"] * sent.reindex(fee.index, fill_value=0),
                       atol=0.006)
    # paid campaigns: cpc per visit with mean-one daily noise
    sigma = marketing["daily_noise_sigma"]
    visits = events[(events["event"] == "visit") & events["campaign"].isin(marketing["cpc"])]
    per_day = visits.groupby([visits["ts"].dt.floor("D"), "campaign"]).size()
    for campaign, cpc in marketing["cpc"].items():
        v = per_day.xs(campaign, level="campaign")
        cost = day.loc[day["campaign"] == campaign, "cost"].sum()
        sd = cpc * np.sqrt((np.exp(sigma**2) - 1) * (v**2).sum())
        assert abs(cost - cpc * v.sum()) <= Z999 * sd + 0.01 * len(v), campaign


# --- b2b-leads ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def leads():
    return synth.generate_sample(customers=5000, seed=11, profile="b2b-leads")


def test_b2b_default_is_a_few_hundred_leads_with_the_columns_of_a_crm():
    tables, truth = synth.generate_sample(seed=2, profile="b2b-leads")
    customers, events = tables["customers"], tables["events"]
    assert len(customers) == truth["generator"]["customers_target"] == 500
    assert list(customers.columns) == ["customer_id", "signup_at", "channel", "segment", "country"]
    assert customers["customer_id"].str.fullmatch(r"L\d{7}").all()
    assert list(events.columns) == ["customer_id", "ts", "event", "deal_value"]
    assert set(events["event"]) == {"lead", "mql", "sql", "won"}
    won = events["event"] == "won"
    assert events["deal_value"].notna().eq(won).all() and (events.loc[won, "deal_value"] > 0).all()
    assert won.sum() == truth["realized"]["won_deals"] > 10
    lead = events[events["event"] == "lead"].set_index("customer_id")["ts"]
    assert lead.index.is_unique and len(lead) == len(customers)
    assert (lead.loc[customers["customer_id"]].to_numpy() == customers["signup_at"].to_numpy()).all()


def test_b2b_steps_are_ordered_and_convert_as_the_truth_says(leads):
    tables, truth = leads
    funnel = truth["funnel"]
    events, customers = tables["events"], tables["customers"].set_index("customer_id")
    steps = [funnel["entry"], *funnel["steps"]]
    assert steps == ["lead", "mql", "sql", "won"]
    at = events.pivot(index="customer_id", columns="event", values="ts")[steps]
    for before, after in zip(steps, steps[1:], strict=False):
        reached = at[after].notna()
        assert at.loc[reached, before].notna().all() and (at.loc[reached, after] > at.loc[reached, before]).all()
    cutoff = pd.Timestamp(truth["generator"]["end_at"]) - pd.Timedelta(days=funnel["journey_max_days"])
    old = at[at["lead"] < cutoff]
    channel = customers.loc[old.index, "channel"]
    assert len(old) > 1500
    for before, after in zip(steps, steps[1:], strict=False):
        at_before = old[before].notna()
        p = channel[at_before].map({c: s[after] for c, s in funnel["step_probability"].items()})
        converted = old.loc[at_before, after].notna().sum()
        assert abs(converted - p.sum()) <= Z999 * np.sqrt((p * (1 - p)).sum()), after


def test_b2b_sales_cycles_are_long_as_the_truth_says(leads):
    tables, truth = leads
    funnel = truth["funnel"]
    delay = funnel["delay"]
    events = tables["events"]
    segment = tables["customers"].set_index("customer_id")["segment"]
    at = events.pivot(index="customer_id", columns="event", values="ts")
    cutoff = pd.Timestamp(truth["generator"]["end_at"]) - pd.Timedelta(days=funnel["journey_max_days"])
    old = at[at["lead"] < cutoff]
    # the truth's Monte Carlo median, recomputed independently
    rng = np.random.default_rng(2024)
    mix = truth["leads"]["segment_mix"]
    who = rng.choice(list(mix), p=list(mix.values()), size=100_000)
    factor = pd.Series(who).map(delay["segment_factor"]).to_numpy()
    cycle = sum(
        np.minimum(rng.lognormal(np.log(delay["median_days"][s] * factor), delay["sigma"][s]),
                   delay["cap_days"][s])
        for s in ("mql", "sql", "won")
    )
    median = funnel["sales_cycle_median_days"]["all"]
    assert abs(np.median(cycle) - median) < 1.0
    assert median > 30  # weeks to months
    # half of the won deals close within the true median
    won = old.dropna(subset=["won"])
    days = (won["won"] - won["lead"]).dt.total_seconds() / 86_400
    n = len(days)
    assert n > 80
    assert abs((days <= median).sum() - n / 2) <= Z999 * np.sqrt(n) / 2, (days.median(), median)
    # lead -> mql: log-delay, net of the segment factor, centres on log(median)
    mql = old.dropna(subset=["mql"])
    log_days = np.log((mql["mql"] - mql["lead"]).dt.total_seconds() / 86_400
                      / segment.loc[mql.index].map(delay["segment_factor"]))
    sigma = delay["sigma"]["mql"]
    assert abs(log_days.mean() - np.log(delay["median_days"]["mql"])) <= Z999 * sigma / np.sqrt(len(mql))


def test_b2b_spend_gives_the_true_cost_per_lead_and_fees(leads):
    tables, truth = leads
    marketing = truth["marketing"]
    spend, customers, events = tables["spend"], tables["customers"], tables["events"]
    count = customers["channel"].value_counts()
    total = spend.groupby("channel")["cost"].sum()
    for channel, cost_per_lead in marketing["cost_per_lead"].items():
        assert total[channel] / count[channel] == pytest.approx(cost_per_lead, rel=1e-9), channel
    # one row per trade show, on its day, priced by the leads created in its capture window
    shows = spend[spend["channel"] == "trade_show"]
    capture = pd.Timedelta(days=truth["leads"]["trade_show_capture_days"])
    at_show = customers[customers["channel"] == "trade_show"]
    assert len(shows) == len(truth["leads"]["trade_shows"]) >= 6
    for show in truth["leads"]["trade_shows"]:
        opens = pd.Timestamp(show["opens_at"])
        row = shows[shows["campaign"] == show["campaign"]]
        assert len(row) == 1 and row["date"].iloc[0] == opens.date()
        caught = at_show["signup_at"].between(opens, opens + capture).sum()
        assert row["cost"].iloc[0] == pytest.approx(marketing["cost_per_lead"]["trade_show"] * caught)
    assert len(at_show) == shows["cost"].sum() / marketing["cost_per_lead"]["trade_show"]
    # referral partners: a fee on the deals they brought, on the day they are won
    won = events[events["event"] == "won"]
    won = won[won["customer_id"].map(customers.set_index("customer_id")["channel"]) == "referral"]
    owed = marketing["referral_fee_rate"] * won.groupby(won["ts"].dt.floor("D").dt.date)["deal_value"].sum()
    fees = spend[spend["channel"] == "referral"].set_index("date")["cost"]
    assert np.allclose(fees, owed.reindex(fees.index, fill_value=0.0), atol=0.006)
    assert owed.sum() > 0
