"""Charts fed hundreds of categories (400 plans, features, campaigns, channels): at most
N + 1 drawn, the rest as "other (k more)" with its rate recomputed from summed counts
(checked against a hand computation), a missing category shown as "(none)", labels
that never read "0 %" for a small non-zero rate, and no figure taller than a screen."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from kpilib import churn, plots  # noqa: E402
from kpilib.stats import rate_frame  # noqa: E402

N = 400
TOP = 10
OTHER = f"other ({N - TOP} more)"


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _wilson(k: float, n: float, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval by its closed form (Wilson 1927)."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def _zero_percent(text: str) -> bool:
    """A label that reads as zero percent ("0%", "0.0%", "0.00 %" …)."""
    number = text.split("\n")[0].replace("%", "").strip()
    try:
        return float(number) == 0
    except ValueError:
        return False


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


# ------------------------------------------------------------------ churn by group


def _churn_by_plan() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for i in range(N):
        plan = None if i == 3 else f"plan{i:03d}"  # one missing plan, among the largest
        for period in ("2026-01", "2026-02"):
            active = 5000 - 10 * i
            rows.append({"period": period, "plan": plan, "active_at_start": active,
                         "churned": int(rng.integers(0, active // 20))})
    counts = pd.DataFrame(rows)
    rates = rate_frame(counts["churned"], counts["active_at_start"])
    return counts.assign(churn_rate=rates["rate"], ci_low=rates["ci_low"], ci_high=rates["ci_high"])


def test_churn_by_400_plans_draws_10_and_other_from_summed_counts():
    frame = _churn_by_plan()
    ax = plots.plot_churn_rate(frame, group="plan", benchmark=False)
    lines = {line.get_label(): line for line in ax.lines}
    assert len(lines) == TOP + 1
    assert OTHER in lines and plots.MISSING_LABEL in lines
    assert not any(label in ("None", "nan") for label in lines)
    rest = frame[frame["plan"].isin([f"plan{i:03d}" for i in range(TOP, N)])]
    for x, period in enumerate(("2026-01", "2026-02")):
        part = rest[rest["period"] == period]
        assert lines[OTHER].get_ydata()[x] == pytest.approx(part["churned"].sum() / part["active_at_start"].sum())
    band = ax.collections[-1].get_paths()[0].vertices[:, 1]  # the other band: low … high
    part = rest[rest["period"] == "2026-01"]
    low, high = _wilson(part["churned"].sum(), part["active_at_start"].sum())
    assert np.isclose(band, low).any() and np.isclose(band, high).any()
    assert len(plots.plot_churn_rate(frame, group="plan", top_n=None, benchmark=False).lines) == N


# ------------------------------------------------------------------ survival


@pytest.fixture(scope="module")
def many_plans():
    rng = np.random.default_rng(7)
    rows = []
    for i in range(60):  # 60 plans, 3–25 customers each; plan 0 missing
        for j in range(3 + (60 - i) // 3):
            start = pd.Timestamp("2025-01-01") + pd.Timedelta(days=int(rng.integers(0, 60)))
            end = start + pd.Timedelta(days=int(rng.integers(20, 400))) if rng.random() < 0.6 else None
            rows.append({"customer_id": f"c{i}-{j}", "start_at": start, "end_at": end, "mrr": 10.0,
                         "plan": None if i == 0 else f"p{i:02d}"})
    subs = pd.DataFrame(rows)
    return subs, churn.survival(subs, by="plan", as_of="2026-03-01")


def _kaplan_meier(durations: np.ndarray, events: np.ndarray, at: float) -> float:
    """S(at) = Π over event times t ≤ at of (1 − d_t / n_t), by hand."""
    survival = 1.0
    for t in np.unique(durations[events & (durations <= at)]):
        at_risk = (durations >= t).sum()
        deaths = (events & (durations == t)).sum()
        survival *= 1 - deaths / at_risk
    return survival


def test_survival_by_60_plans_draws_10_and_the_pooled_kaplan_meier_of_the_rest(many_plans):
    _, result = many_plans
    ax = plots.plot_survival(result, top_n=TOP)
    labels = _legend(ax)
    assert len(labels) == TOP + 1 and "other (50 more)" in labels
    assert plots.MISSING_LABEL in labels and "None" not in labels and "nan" not in labels
    # lifetimes are counted rows: one per (group, duration, outcome) with its weight
    life = result.lifetimes.loc[result.lifetimes.index.repeat(result.lifetimes["weight"])]
    sizes = life["group"].value_counts()
    rest = sorted(sizes.index, key=lambda g: (-sizes[g], g))[TOP:]
    life = life[life["group"].isin(rest)]
    durations, events = life["duration"].to_numpy(float), life["churned"].to_numpy(bool)
    other = next(line for line in ax.lines if line.get_label() == "other (50 more)")
    x, y = other.get_xdata(), other.get_ydata()
    for at in (3.0, 6.0, 9.0):
        drawn = y[np.searchsorted(x, at, side="right") - 1]
        assert drawn == pytest.approx(_kaplan_meier(durations, events, at))


def test_survival_without_lifetimes_leaves_the_rest_out_and_says_how_many(many_plans):
    _, result = many_plans
    bare = type("Bare", (), {"curves": result.curves, "logrank": result.logrank})()
    ax = plots.plot_survival(bare, top_n=TOP)
    assert len(_legend(ax)) == TOP
    assert ax.get_legend().get_title().get_text() == "top 10 of 60 groups by customers; 50 not drawn"


# ------------------------------------------------------------------ feature adoption


def _adoption() -> pd.DataFrame:
    rows = []
    for i in range(N):
        for period in ("2026-01-01", "2026-02-01", "2026-03-01"):
            users = 40 - i // 10  # 0.1 % … 1 % of 4 000 active users
            rows.append({"period": period, "feature": None if i == 2 else f"f{i:03d}", "numerator": max(users, 4),
                         "denominator": 4000})
    frame = pd.DataFrame(rows)
    return pd.concat([frame, rate_frame(frame["numerator"], frame["denominator"]).drop(
        columns=["numerator", "denominator"])], axis=1)


def test_400_features_draw_the_top_10_by_users_with_a_readable_scale():
    frame = _adoption()
    ax = plots.plot_feature_adoption(frame)
    features = [t.get_text() for t in ax.get_yticklabels()]
    assert len(features) == TOP and plots.MISSING_LABEL in features
    assert "top 10 of 400 features by users" in ax.get_title()
    mesh = ax.collections[0]
    assert mesh.norm.vmax == pytest.approx(0.01)  # the largest adoption drawn, not 100 %
    texts = [t.get_text() for t in ax.texts]
    assert texts and "1.0%" in texts and not any(_zero_percent(t) for t in texts)
    assert ax.figure.get_size_inches()[1] <= 10
    everything = plots.plot_feature_adoption(frame, top_n=None)
    assert everything.figure.get_size_inches()[1] <= 10  # 400 rows: still about a screen


# ------------------------------------------------------------------ email campaigns


def _campaigns() -> pd.DataFrame:
    i = np.arange(N)
    frame = pd.DataFrame({"campaign": [None if k == 5 else f"c{k:03d}" for k in i], "sent": 2000 - 3 * i})
    frame["delivered"] = frame["sent"] - 10
    frame["unique_opens"] = (frame["delivered"] * (0.1 + 0.1 * (i // 100))).round().astype(int)
    frame["unique_clicks"] = (frame["delivered"] * 0.004).round().astype(int)  # 0.4 %
    for rate, numerator in (("open_rate", "unique_opens"), ("click_rate", "unique_clicks")):
        r = rate_frame(frame[numerator], frame["delivered"])
        frame[rate], frame[f"{rate}_ci_low"], frame[f"{rate}_ci_high"] = r["rate"], r["ci_low"], r["ci_high"]
    return frame


def test_400_campaigns_draw_10_and_other_from_summed_mails():
    frame = _campaigns()
    ax = plots.plot_email_campaigns(frame)
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert len(ticks) == TOP + 1 and ticks[-1] == OTHER and plots.MISSING_LABEL in ticks
    rest = frame.iloc[TOP:]
    other_points = [line for line in ax.lines if line.get_marker() == "D"]
    opens, clicks = (float(line.get_ydata()[0]) for line in other_points)
    assert opens == pytest.approx(rest["unique_opens"].sum() / rest["delivered"].sum())
    assert clicks == pytest.approx(rest["unique_clicks"].sum() / rest["delivered"].sum())
    whiskers = ax.collections[0].get_segments()[-1][:, 1]  # the open-rate whisker of "other"
    assert sorted(whiskers) == pytest.approx(_wilson(rest["unique_opens"].sum(), rest["delivered"].sum()))
    assert "Email performance by campaign" == ax.get_title()


def test_a_time_breakdown_of_mails_is_never_cut():
    frame = _campaigns().rename(columns={"campaign": "month"}).iloc[:24]
    frame["month"] = [f"{2024 + k // 12}-{k % 12 + 1:02d}" for k in range(24)]
    assert len(plots.plot_email_campaigns(frame).get_xticklabels()) == 24


# ------------------------------------------------------------------ CLV by channel


def _value_by_channel() -> pd.DataFrame:
    i = np.arange(N)
    frame = pd.DataFrame({"channel": [None if k == 1 else f"ch{k:03d}" for k in i], "new_customers": 1000 - 2 * i,
                          "clv_total": 20_000.0 + 37 * i, "spend": 1_000.0 + 50 * i})
    frame["clv_per_customer"] = frame["clv_total"] / frame["new_customers"]
    frame["cac"] = frame["spend"] / frame["new_customers"]
    frame["clv_to_cac"] = frame["clv_per_customer"] / frame["cac"]
    return frame


def test_value_by_400_channels_draws_10_and_other_from_summed_value_and_spend():
    frame = _value_by_channel()
    ax = plots.plot_value_by_channel(frame)
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert len(ax.patches) == len(ticks) == TOP + 1 and ticks[-1] == OTHER and plots.MISSING_LABEL in ticks
    rest = frame.iloc[TOP:]
    assert ax.patches[-1].get_height() == pytest.approx(rest["clv_total"].sum() / rest["spend"].sum())


def test_clv_cac_bubbles_of_400_channels_keep_blended_top_10_and_other():
    frame = _value_by_channel().drop(columns=["clv_total"])
    blended = pd.DataFrame([{"channel": "all", "new_customers": frame["new_customers"].sum(),
                             "spend": frame["spend"].sum()}])
    costs = pd.concat([blended, frame], ignore_index=True).assign(period="all")
    costs = costs[["period", *[c for c in costs.columns if c != "period"]]]
    ax = plots.plot_clv_cac(costs)
    labels = [t.get_text().split("\n")[0] for t in ax.texts]
    assert len(ax.collections[0].get_offsets()) == TOP + 1  # no blended bubble: its CLV is not given
    assert OTHER in labels and plots.MISSING_LABEL in labels
    rest = frame.iloc[TOP:]
    other = ax.texts[labels.index(OTHER)]
    x, y = other.xy
    assert x == pytest.approx(rest["spend"].sum() / rest["new_customers"].sum())
    assert y == pytest.approx((rest["clv_per_customer"] * rest["new_customers"]).sum() / rest["new_customers"].sum())
    ratio = y / x
    assert other.get_text().endswith(f"{ratio:.1f}:1")


# ------------------------------------------------------------------ funnel


def test_funnel_labels_keep_small_conversions_off_zero():
    table = pd.DataFrame({"step_index": [1, 2, 3], "step": ["visit", "cart", "buy"], "users": [100_000, 2_300, 400],
                          "conversion": [1.0, 0.023, 0.004], "ci_low": [0.99, 0.02, 0.003],
                          "ci_high": [1.0, 0.025, 0.005]})
    texts = [t.get_text().split("\n")[0] for t in plots.plot_funnel(table).texts]
    assert texts == ["100.00%", "2.30%", "0.40%"]


def test_funnel_by_400_channels_draws_10_groups_and_other_from_summed_users():
    rows = []
    for i in range(N):
        entered = 3000 - 5 * i
        for step, share in ((1, 1.0), (2, 0.05), (3, 0.004)):
            rows.append({"channel": None if i == 4 else f"ch{i:03d}", "step_index": step, "step": f"s{step}",
                         "users": round(entered * share * (1 + (i % 5) / 10)) if step > 1 else entered,
                         "entered": entered})
    table = pd.DataFrame(rows)
    rates = rate_frame(table["users"], table["entered"])
    table = table.assign(conversion=rates["rate"], ci_low=rates["ci_low"], ci_high=rates["ci_high"])
    ax = plots.plot_funnel(table)
    legend = _legend(ax)
    assert len(legend) == TOP + 1 and legend[-1] == OTHER and plots.MISSING_LABEL in legend
    assert len(ax.patches) == 3 * (TOP + 1)
    rest = table[table["channel"].isin([f"ch{i:03d}" for i in range(TOP, N)])]
    expected = rest.groupby("step_index")["users"].sum() / rest.groupby("step_index")["entered"].sum()
    other_bars = sorted(ax.patches, key=lambda p: p.get_x())[TOP::TOP + 1]
    assert [p.get_height() for p in other_bars] == pytest.approx(expected.to_list())
    texts = [t.get_text() for t in ax.texts]
    assert texts and not any(_zero_percent(t) for t in texts)


# ------------------------------------------------------------------ surveys, sBG


def test_csat_by_400_segments_pools_the_rest_and_nps_leaves_it_out():
    rows = [{"segment": f"s{i:03d}", "period": pd.Timestamp(p), "numerator": 30 + i % 7, "denominator": 60 + i % 11,
             "n": 60 + i % 11} for i in range(N) for p in ("2026-01-01", "2026-02-01")]
    frame = pd.DataFrame(rows)
    r = rate_frame(frame["numerator"], frame["denominator"])
    csat = frame.assign(rate=r["rate"], ci_low=r["ci_low"], ci_high=r["ci_high"])
    ax = plots.plot_survey_trend(csat.drop(columns="n"))
    lines = {line.get_label(): line for line in ax.lines}
    assert len(lines) == TOP + 1 and OTHER in lines
    ranked = frame.groupby("segment")["denominator"].sum()
    rest = sorted(ranked.index, key=lambda s: (-ranked[s], s))[TOP:]
    part = frame[frame["segment"].isin(rest) & (frame["period"] == "2026-01-01")]
    assert lines[OTHER].get_ydata()[0] == pytest.approx(part["numerator"].sum() / part["denominator"].sum())
    nps = frame.drop(columns=["numerator", "denominator"]).assign(nps=10.0, ci_low=0.0, ci_high=20.0)
    ax = plots.plot_survey_trend(nps)
    assert len(_legend(ax)) == TOP and OTHER not in _legend(ax)
    assert ax.get_legend().get_title().get_text() == "top 10 of 400 segments by answers"


# ------------------------------------------------------------------ heights and the old name


def test_retention_heatmap_of_200_cohorts_stays_about_a_screen_tall():
    rows = [{"cohort": f"c{c:03d}", "offset": o, "cohort_size": 100, "retained": 10, "rate": 1.0 if o == 0 else 0.1,
             "complete": True} for c in range(200) for o in range(3)]
    ax = plots.plot_retention_heatmap(pd.DataFrame(rows), average=None)
    assert ax.figure.get_size_inches()[1] <= 10
    assert not ax.texts  # too many rows to label every cell


def test_top_is_the_old_name_of_top_n():
    frame = _campaigns()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = plots.plot_email_campaigns(frame, top=5)
    assert any(issubclass(w.category, FutureWarning) and "top_n" in str(w.message) for w in caught)
    new = plots.plot_email_campaigns(frame, top_n=5)
    assert [t.get_text() for t in old.get_xticklabels()] == [t.get_text() for t in new.get_xticklabels()]
    assert [t.get_text() for t in new.get_xticklabels()][-1] == f"other ({N - 5} more)"
