"""Engagement: hand-built definitions, recovery of the generator's truth, independent references."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from scipy import stats

import kpilib
from kpilib import engagement as E
from kpilib.data import SAMPLE_DIR, DataError
from kpilib.report import compare_months
from kpilib.stats import wilson_interval

Z95 = stats.norm.ppf(0.975)


@pytest.fixture(scope="module")
def sample():
    return kpilib.load_dataset(None)


@pytest.fixture(scope="module")
def truth():
    return json.loads((SAMPLE_DIR / "truth.json").read_text())


def _mail(rows):
    """Email rows from (campaign, customer, bounce, opened, clicked, unsubscribed, complained)."""
    frame = pd.DataFrame(rows, columns=["campaign", "customer_id", "bounce", "opened_at", "clicked_at",
                                        "unsubscribed_at", "complained_at"])
    frame["sent_at"] = "2026-10-06 15:00"
    return frame


def _events(rows, event="page_view"):
    return pd.DataFrame({"customer_id": [r[0] for r in rows], "ts": [r[1] for r in rows], "event": event})


# ---------------------------------------------------------------------------------- email


def test_email_definitions_on_a_hand_built_table():
    t = "2026-10-06 16:00"
    email = _mail([
        ("a", "c1", "none", t, t, None, None),
        ("a", "c2", "none", t, None, None, None),
        ("a", "c3", "none", None, t, None, None),  # a click without a pixel open is an open
        ("a", "c4", "none", None, None, t, t),
        ("a", "c5", "soft", None, None, None, None),
        ("a", "c6", "hard", None, None, None, None),
        ("all_bounced", "c1", "hard", None, None, None, None),
        ("all_bounced", "c2", "soft", None, None, None, None),
    ])
    m = E.email_metrics(email).set_index("campaign")
    a = m.loc["a"]
    assert (a.sent, a.bounces, a.hard_bounces, a.soft_bounces, a.delivered) == (6, 2, 1, 1, 4)
    assert (a.unique_opens, a.unique_clicks, a.unsubscribes, a.complaints) == (3, 2, 1, 1)
    assert a.bounce_rate == pytest.approx(2 / 6)
    assert a.hard_bounce_rate == pytest.approx(1 / 6)
    assert a.open_rate == pytest.approx(3 / 4)
    assert a.click_rate == pytest.approx(2 / 4)
    assert a.click_to_open_rate == pytest.approx(2 / 3)
    assert a.unsubscribe_rate == pytest.approx(1 / 4) and a.complaint_rate == pytest.approx(1 / 4)
    low, high = wilson_interval(3, 4)
    assert (a.open_rate_ci_low, a.open_rate_ci_high) == pytest.approx((low, high))
    assert a.small_sample
    # every mail bounced: nothing delivered, so the delivery-based rates are undefined, not 0
    b = m.loc["all_bounced"]
    assert b.delivered == 0 and b.bounce_rate == 1.0
    for rate in ("open_rate", "click_rate", "click_to_open_rate", "unsubscribe_rate", "complaint_rate"):
        assert np.isnan(b[rate]) and np.isnan(b[f"{rate}_ci_low"])


def test_email_grouping_options_and_errors():
    t = "2026-10-06 16:00"
    email = _mail([("a", "c1", "none", t, None, None, None), ("b", "c2", "none", None, None, None, None)])
    overall = E.email_metrics(email, by=None)
    assert len(overall) == 1 and overall.sent.iloc[0] == 2 and overall.open_rate.iloc[0] == 0.5
    by_month = E.email_metrics(email, by="month")
    assert by_month.month.tolist() == ["2026-10"]
    assert E.email_metrics(email, start="2026-11-01").empty
    with pytest.raises(DataError, match="segment"):
        E.email_metrics(email, by="segment")
    with pytest.raises(DataError, match="bounce"):
        E.email_metrics(email.drop(columns="bounce"))


def test_email_rates_recover_the_generator_probabilities(sample, truth):
    """Each rate estimates the generator's probability under its stated conditioning."""
    conditioning = truth["email"]["conditioning"]
    estimate = {  # generator outcome -> (our rate, the denominator it is conditioned on)
        "hard_bounce": ("hard_bounce_rate", "sent"),
        "open": ("open_rate", "delivered"),
        "click": ("click_to_open_rate", "opened"),
        "unsubscribe": ("unsubscribe_rate", "delivered"),
        "complaint": ("complaint_rate", "delivered"),
    }
    for outcome, (_, given) in estimate.items():
        assert conditioning[outcome] == given
    m = E.email_metrics(sample.email).set_index("campaign")
    campaigns = {c["campaign"]: c["probability"] for c in truth["email"]["campaigns"]}
    assert set(m.index) == set(campaigns)
    p = pd.DataFrame(campaigns).T.loc[m.index]
    denominators = {"sent": m.sent, "delivered": m.delivered, "opened": m.unique_opens}
    for outcome, (rate, given) in estimate.items():
        covered = (m[f"{rate}_ci_low"] <= p[outcome]) & (p[outcome] <= m[f"{rate}_ci_high"])
        assert covered.mean() >= 0.85, f"{rate}: only {covered.mean():.0%} of campaign intervals cover the truth"
        # pooled over campaigns: expected count Σ p_c n_c against the pooled Wilson interval
        n = denominators[given]
        x = (m[rate] * n).round().sum()
        low, high = wilson_interval(x, n.sum(), confidence=0.999)
        assert low <= (p[outcome] * n).sum() / n.sum() <= high, rate
    soft = m.soft_bounces.sum() / m.sent.sum()
    assert soft == pytest.approx((p["soft_bounce"] * m.sent).sum() / m.sent.sum(), rel=0.1)


# ---------------------------------------------------------------------------------- activity


def test_active_users_with_a_month_without_activity():
    events = _events([("a", "2026-08-03"), ("b", "2026-08-04"), ("a", "2026-10-01")])
    mau = E.active_users(events, "M")
    assert mau.period.dt.strftime("%Y-%m").tolist() == ["2026-08", "2026-09", "2026-10"]
    assert mau.active_users.tolist() == [2, 0, 1]
    sticky = E.stickiness(events, "2026-08-01", "2026-11-01")
    assert sticky.mau.tolist() == [2, 0, 1] and sticky.days.tolist() == [31, 30, 31]
    assert sticky.stickiness.iloc[0] == pytest.approx(2 / 31 / 2)
    assert np.isnan(sticky.stickiness.iloc[1])
    hist = E.stickiness_histogram(events, "2026-09")
    assert len(hist) == 30 and hist.customers.sum() == 0
    flows = E.lifecycle(events)
    sep = flows.set_index(flows.period.dt.strftime("%Y-%m")).loc["2026-09"]
    assert (sep.new, sep.returning, sep.resurrecting, sep.dormant, sep.active) == (0, 0, 0, -2, 0)
    # non-activity events (a marketing visit) do not make anyone active
    visit = pd.concat([events, _events([("z", "2026-09-10")], event="visit")])
    assert E.active_users(visit, "M").active_users.tolist() == [2, 0, 1]
    assert E.active_users(visit, "M", activity_events=None).active_users.tolist() == [2, 1, 1]


def test_daily_and_rolling_active_users_match_a_brute_force_count():
    rng = np.random.default_rng(3)
    days = pd.Timestamp("2026-08-01") + pd.to_timedelta(rng.integers(0, 90, 400), unit="D")
    events = pd.DataFrame({"customer_id": rng.choice(list("abcdefghijklmnop"), 400),
                           "ts": days + pd.to_timedelta(rng.integers(0, 86_400, 400), unit="s"),
                           "event": "page_view"})
    got = E.active_users(events, "D", start="2026-09-01", end="2026-10-15").set_index("period")
    assert got.index[0] == pd.Timestamp("2026-09-01") and got.index[-1] == pd.Timestamp("2026-10-14")
    day = events.ts.dt.normalize()
    for d in got.index:
        for n, column in ((1, "active_users"), (7, "active_users_7d"), (30, "active_users_30d")):
            inside = (day > d - pd.Timedelta(days=n)) & (day <= d)
            assert got.loc[d, column] == events.customer_id[inside].nunique(), (d, column)
    weeks = E.active_users(events, "W", start="2026-09-01", end="2026-10-15")
    assert (weeks.period.dt.dayofweek == 0).all()
    w0 = weeks.period.iloc[1]
    inside = (day >= w0) & (day < w0 + pd.Timedelta(days=7))
    assert weeks.active_users.iloc[1] == events.customer_id[inside].nunique()


def test_stickiness_identities_on_the_sample(sample):
    sticky = E.stickiness(sample.events, "2026-10-01", "2026-11-01").iloc[0]
    daily = E.active_users(sample.events, "D", "2026-10-01", "2026-11-01")
    mau = E.active_users(sample.events, "M", "2026-10-01", "2026-11-01").active_users.iloc[0]
    assert sticky.mau == mau and sticky.days == 31
    assert sticky.stickiness == pytest.approx(daily.active_users.mean() / mau)
    hist = E.stickiness_histogram(sample.events, "2026-10")
    assert hist.customers.sum() == mau and hist.at_least.iloc[0] == mau
    assert (hist.active_days * hist.customers).sum() / 31 / mau == pytest.approx(sticky.stickiness)
    assert hist.share_at_least.is_monotonic_decreasing


def test_lifecycle_counts_all_four_states_on_a_hand_made_history():
    events = _events([
        ("a", "2026-01-10"), ("a", "2026-01-20"), ("a", "2026-02-03"), ("a", "2026-04-01"),
        ("b", "2026-02-14"), ("b", "2026-03-01"),
        ("c", "2026-04-30"),
    ])
    flows = E.lifecycle(events).assign(period=lambda f: f.period.dt.strftime("%Y-%m")).set_index("period")
    expected = {  # new, returning, resurrecting, dormant
        "2026-01": (1, 0, 0, 0),
        "2026-02": (1, 1, 0, 0),   # b new, a returning
        "2026-03": (0, 1, 0, -1),  # b returning, a dormant
        "2026-04": (1, 0, 1, -1),  # c new, a resurrecting, b dormant
    }
    for month, counts in expected.items():
        assert tuple(flows.loc[month, ["new", "returning", "resurrecting", "dormant"]]) == counts, month
    assert flows.loc["2026-04", "quick_ratio"] == 2.0
    assert np.isnan(flows.loc["2026-02", "quick_ratio"])
    active = flows.active.to_numpy()
    assert (active[1:] == active[:-1] + (flows.new + flows.resurrecting + flows.dormant).to_numpy()[1:]).all()
    # a later start keeps the classification: "new" means first ever, not first in the window
    late = E.lifecycle(events, start="2026-04-01").set_index("period")
    assert late.loc[pd.Timestamp("2026-04-01"), ["new", "resurrecting", "dormant"]].tolist() == [1, 1, -1]
    weekly = E.lifecycle(events, "W")
    assert (weekly.period.dt.dayofweek == 0).all() and weekly.new.sum() == 3


# ---------------------------------------------------------------------------------- usage


def test_feature_adoption_sessions_and_usage_by_hand():
    events = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "b"],
        "ts": ["2026-10-01 09:00", "2026-10-01 09:30", "2026-10-01 10:01", "2026-10-01 10:05",
               "2026-10-02 08:00", "2026-10-02 08:00"],
        "event": ["page_view", "feature_use", "page_view", "share", "page_view", "feature_use"],
        "feature": [None, "api", None, None, None, "reports"],
    })
    adoption = E.feature_adoption(events).set_index("feature")
    assert adoption.loc["api", ["numerator", "denominator", "uses"]].tolist() == [1, 2, 1]
    assert adoption.loc["reports", "rate"] == 0.5
    s = E.sessions(events).to_pandas()
    # 09:00 → 09:30 is exactly 30 minutes (same session); 09:30 → 10:01 is 31 (a new one)
    assert s.groupby("customer_id").size().to_dict() == {"a": 2, "b": 1}
    assert s.duration_seconds.tolist() == [1800, 240, 0]
    assert s.page_views.tolist() == [1, 1, 1] and s.shares.tolist() == [0, 1, 0]
    usage = E.usage_per_user(events).iloc[0]
    assert (usage.active_users, usage.sessions, usage.page_views, usage.shares) == (2, 3, 3, 1)
    assert usage.time_on_site_minutes == pytest.approx((30 + 4) / 2)
    assert usage.one_event_sessions == 0
    assert E.usage_per_user(events, gap_minutes=60).sessions.iloc[0] == 2
    with pytest.raises(DataError, match="feature"):
        E.feature_adoption(events.drop(columns="feature"))


def test_feature_adoption_recovers_the_generator_ordering(sample, truth):
    adoption = E.feature_adoption(sample.events, start="2026-01-01", end="2026-11-01")
    pooled = adoption.groupby("feature")[["numerator", "denominator"]].sum()
    share = (pooled.numerator / pooled.denominator).sort_values()
    assert share.index.tolist() == sorted(truth["engagement"]["feature_adoption"],
                                          key=truth["engagement"]["feature_adoption"].get)


def test_time_to_value_censoring_and_curve_against_lifelines():
    customers = pd.DataFrame({"customer_id": list("abcde"), "channel": "email",
                              "signup_at": ["2026-09-01", "2026-09-01", "2026-09-02", "2026-10-25", "2026-09-05"]})
    events = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "e"],
        "ts": ["2026-09-03", "2026-09-20", "2026-08-30", "2026-10-26", "2026-09-06", "2026-10-31"],
        "event": ["feature_use", "feature_use", "feature_use", "feature_use", "page_view", "page_view"],
    })
    ttv = E.time_to_value(events, customers, within_days=[7, 30])
    sep = ttv.summary[ttv.summary.cohort == pd.Timestamp("2026-09-01")].set_index("within_days")
    # c used the feature only before signing up: not activated; the data run through the whole of
    # 2026-10-31 (the default cut-off is 2026-11-01), so everyone in Sept is observed 30 days
    assert sep.loc[7, ["numerator", "denominator"]].tolist() == [1, 4]
    assert sep.loc[30, ["numerator", "denominator"]].tolist() == [2, 4]
    oct_ = ttv.summary[ttv.summary.cohort == pd.Timestamp("2026-10-01")].set_index("within_days")
    # d signed up on 25 October: 25 … 31 October are 7 whole days observed; activated after 1
    assert oct_.loc[7, ["numerator", "denominator"]].tolist() == [1, 1]
    assert oct_.loc[30, "denominator"] == 0 and np.isnan(oct_.loc[30, "rate"])
    assert sep.loc[7, "median_days"] == pytest.approx(10.5)
    # the curve is the Kaplan–Meier estimate on whole days (lifelines as the reference)
    as_of = pd.Timestamp("2026-11-01")
    signup = pd.to_datetime(customers.signup_at)
    act = pd.to_datetime(pd.Series({"a": "2026-09-03", "b": "2026-09-20", "d": "2026-10-26"})).reindex(customers.customer_id)
    observed = act.notna().to_numpy()
    durations = np.floor(np.where(observed, (act.to_numpy() - signup.to_numpy()) / pd.Timedelta(days=1),
                                  (as_of - signup) / pd.Timedelta(days=1)))
    kmf = KaplanMeierFitter().fit(durations, observed)
    for d in (0, 1, 2, 19, 30, 60):
        expected = 1 - kmf.survival_function_at_times(d).iloc[0]
        assert ttv.curve.set_index("days").loc[d, "share_activated"] == pytest.approx(expected), d


# ---------------------------------------------------------------------------------- surveys


def test_nps_interval_matches_the_hand_computation():
    r = E.nps([10, 9, 9, 8, 7, 6, 3, 10, 9, 5])
    assert (r.promoters, r.passives, r.detractors, r.n) == (5, 2, 3, 10)
    p, d, n = 0.5, 0.3, 10
    var = 1e4 * (p + d - (p - d) ** 2) / n  # = 760
    assert var == pytest.approx(760)
    assert r.nps == pytest.approx(20.0) and r.se == pytest.approx(np.sqrt(760))
    assert (r.ci_low, r.ci_high) == pytest.approx((20 - Z95 * np.sqrt(760), 20 + Z95 * np.sqrt(760)))
    assert r.interval == "wald" and r.small_sample


def test_nps_of_all_passives_and_other_edge_cases():
    r = E.nps([7, 8] * 20)
    assert r.nps == 0 and r.promoters == 0 and r.detractors == 0 and r.n == 40
    # the Wald variance is 0; the adjusted-Wald interval (3/4 promoter and detractor, n + 3) is used
    pa = da = 0.75 / 43
    half = Z95 * np.sqrt(1e4 * (pa + da - (pa - da) ** 2) / 43)
    assert r.interval == "adjusted-wald"
    assert (r.ci_low, r.ci_high) == pytest.approx((-half, half))
    assert 0 < half < 20
    top = E.nps([10] * 12)
    assert top.nps == 100 and top.ci_high == 100 and top.ci_low < 100
    empty = E.nps([])
    assert empty.n == 0 and np.isnan(empty.nps) and np.isnan(empty.ci_low)
    assert E.nps([9, None, np.nan]).n == 1
    with pytest.raises(ValueError, match="0 to 10"):
        E.nps([11, 5])
    with pytest.raises(ValueError, match="0 to 10"):
        E.nps([7.5])


def test_nps_by_matches_nps_and_tests_the_change():
    s = pd.DataFrame({"customer_id": [f"c{i}" for i in range(60)],
                      "ts": ["2026-09-10"] * 30 + ["2026-10-10"] * 30, "survey": "nps",
                      "score": [10] * 10 + [8] * 10 + [3] * 10 + [10] * 20 + [8] * 5 + [3] * 5})
    by = E.nps_by(s).set_index("period")
    sep, oct_ = E.nps(s.score[:30]), E.nps(s.score[30:])
    assert by.loc[pd.Timestamp("2026-09-01"), "nps"] == pytest.approx(sep.nps)
    row = by.loc[pd.Timestamp("2026-10-01")]
    assert (row.nps, row.ci_low) == pytest.approx((oct_.nps, oct_.ci_low))
    diff, sd = oct_.nps - sep.nps, np.sqrt(oct_.se**2 + sep.se**2)
    assert row.change == pytest.approx(diff)
    assert row.change_p_value == pytest.approx(2 * stats.norm.sf(diff / sd))
    assert bool(row.change_significant) == (row.change_p_value < 0.05)
    assert np.isnan(by.loc[pd.Timestamp("2026-09-01"), "change"])


def test_csat_and_ces_definitions():
    r = E.csat([5, 4, 3, 2, 5, 4, 4, 1])
    assert (r.numerator, r.denominator, r.rate) == (5, 8, 0.625)
    assert (r.ci_low, r.ci_high) == pytest.approx(wilson_interval(5, 8))
    assert E.csat([5, 4, 3], satisfied_min=5).rate == pytest.approx(1 / 3)
    assert E.csat([9, 10, 2], scale=10, satisfied_min=9).numerator == 2
    with pytest.raises(ValueError, match="1 to 5"):
        E.csat([6])
    scores = [7, 6, 5, 5, 3, 2, 7, 4]
    c = E.ces(scores)
    low, high = stats.t.interval(0.95, len(scores) - 1, loc=np.mean(scores), scale=stats.sem(scores))
    assert c["mean"] == pytest.approx(np.mean(scores))
    assert (c.mean_ci_low, c.mean_ci_high) == pytest.approx((low, high))
    assert (c.agree, c.agree_rate) == (5, 5 / 8)
    s = pd.DataFrame({"customer_id": list("abcdefgh"), "ts": "2026-10-02", "survey": "ces", "score": scores})
    by = E.ces_by(s).iloc[0]
    assert (by["mean"], by.mean_ci_low, by.agree_rate) == pytest.approx((c["mean"], c.mean_ci_low, c.agree_rate))
    s2 = s.assign(survey="csat", score=[min(x, 5) for x in scores])
    assert E.csat_by(s2).rate.iloc[0] == E.csat(s2.score).rate


def test_survey_answers_recover_the_generator_probabilities(sample, truth):
    """Per survey and signup plan: the score distribution fits the generator's (chi-square),
    and NPS, CSAT and the CES mean computed from the truth lie in their intervals
    (Bonferroni over the 9 survey × plan cells)."""
    probabilities = truth["surveys"]["score_probability"]
    scale = truth["surveys"]["scale"]
    confidence = 1 - 0.05 / 9
    for survey in ("nps", "csat", "ces"):
        counts = E.score_counts(sample.surveys, survey, by="plan", period=None, customers=sample.customers)
        for plan, p in probabilities[survey].items():
            scores = np.arange(scale[survey][0], scale[survey][1] + 1)
            observed = counts[counts.plan == plan].set_index("score").responses.reindex(scores, fill_value=0)
            n = observed.sum()
            expected = np.asarray(p) * n
            keep = expected > 0
            chi2 = stats.chisquare(observed[keep], expected[keep] * n / expected[keep].sum())
            assert chi2.pvalue > 0.05 / 9, (survey, plan)
            answers = np.repeat(scores, observed.to_numpy())
            p = np.asarray(p)
            if survey == "nps":
                r = E.nps(answers, confidence=confidence)
                true = 100 * (p[9:].sum() - p[:7].sum())
                assert r.ci_low <= true <= r.ci_high, (plan, true, r.nps)
            elif survey == "csat":
                low, high = wilson_interval((answers >= 4).sum(), n, confidence)
                assert low <= p[3:].sum() <= high, plan
            else:
                r = E.ces(answers)
                true = (p * scores).sum()
                assert abs(r["mean"] - true) <= stats.norm.ppf(1 - 0.025 / 9) * r.mean_se, plan


# ---------------------------------------------------------------------------------- health


def test_subscription_spells_merge_plan_changes_but_not_reactivations():
    subs = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b"],
        "start_at": ["2026-01-01", "2026-03-01", "2026-06-01", "2026-02-01"],
        "end_at": ["2026-03-01", "2026-05-01", None, "2026-09-15"],
        "mrr": [29.0, 99.0, 99.0, 29.0],
    })
    from kpilib.spells import subscription_spells  # the one spell definition, shared

    spells = subscription_spells(subs).to_pandas().sort_values(["customer_id", "spell"])
    spells = spells.reset_index(drop=True)
    assert spells.groupby("customer_id").size().to_dict() == {"a": 2, "b": 1}
    first = spells.iloc[0]
    assert first.rows == 2 and first.end_at == pd.Timestamp("2026-05-01", tz="UTC")
    assert pd.isna(spells.iloc[1].end_at)


def test_health_score_components_by_hand():
    events = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c"],
        "ts": ["2026-10-31 12:00", "2026-10-20", "2026-10-16", "2026-07-01"],
        "event": ["feature_use", "page_view", "feature_use", "page_view"],
        "feature": ["api", None, "reports", None],
    })
    subs = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                         "start_at": ["2026-04-01", "2025-01-01", "2026-10-01", "2026-01-01"],
                         "end_at": [None, None, None, "2026-10-15"], "mrr": [99.0, 29.0, 399.0, 29.0]})
    surveys = pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2026-09-01", "2026-08-01"], "survey": ["nps", "nps"],
                            "score": [8, 4]})
    weights = {"recency": 2, "breadth": 1, "nps": 1, "tenure": 1, "plan": 1}
    h = E.health_score(events, "2026-10", subscriptions=subs, surveys=surveys, weights=weights).set_index("customer_id")
    assert set(h.index) == {"a", "b", "c"}  # d churned before the end of October
    assert h.attrs["dropped_components"] == {} and h.attrs["note"] is None
    a, b, c = h.loc["a"], h.loc["b"], h.loc["c"]
    assert a.recency == pytest.approx(1 - 0.5 / 30) and b.recency == pytest.approx(1 - 16 / 30)
    assert c.recency == 0 and c.active_days == 0
    assert (a.breadth, b.breadth, c.breadth) == (0.5, 0.5, 0.0)
    assert a.nps == 0.8 and b.nps == 0.4 and np.isnan(c.nps)
    assert (a.plan, b.plan, c.plan) == (0.5, 0.0, 1.0)
    assert b.tenure == 1.0 and a.tenure == 7 / 12  # 1 April to 1 November: 7 calendar months exactly
    expected_a = 100 * (2 * a.recency + 0.5 + 0.8 + a.tenure + 0.5) / 6
    assert a.score == pytest.approx(round(expected_a, 1))
    expected_c = 100 * (0 + 0 + 1 / 12 + 1) / 5  # no NPS answer: the other weights rescale
    assert c.score == pytest.approx(round(expected_c, 1))
    assert E.health_score(events, "2026-10", subscriptions=subs).score.is_monotonic_increasing
    assert c.band == "at risk" and c.weakest == "recency"
    with pytest.raises(ValueError, match="unknown health-score component"):
        E.health_score(events, "2026-10", weights={"logins": 1})
    with pytest.raises(ValueError, match="sum to 0"):
        E.health_score(events, "2026-10", weights={"recency": 0})


def test_roc_auc_against_hand_computation_and_scipy():
    outcome = np.array([True, False, True, False, False, True])
    score = np.array([0.9, 0.1, 0.4, 0.4, 0.7, 0.8])
    pairs = [(i, j) for i in np.flatnonzero(outcome) for j in np.flatnonzero(~outcome)]
    hand = np.mean([1.0 if score[i] > score[j] else 0.5 if score[i] == score[j] else 0.0 for i, j in pairs])
    assert E.roc_auc(outcome, score) == pytest.approx(hand)
    u = stats.mannwhitneyu(score[outcome], score[~outcome]).statistic
    assert E.roc_auc(outcome, score) == pytest.approx(u / (outcome.sum() * (~outcome).sum()))
    assert np.isnan(E.roc_auc([True, True], [0.1, 0.2]))


def test_validate_health_score_counts_spell_churn_not_plan_changes():
    scores = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"], "month": "2026-09",
                           "score": [10.0, 20.0, 50.0, 70.0, 90.0]})
    subs = pd.DataFrame({
        "customer_id": ["a", "b", "b", "c", "d", "e"],
        "start_at": ["2026-01-01", "2026-01-01", "2026-10-10", "2026-01-01", "2026-01-01", "2026-01-01"],
        "end_at": ["2026-10-20", "2026-10-10", None, "2026-11-20", None, "2026-10-03"],
        "mrr": [29.0, 29.0, 99.0, 29.0, 29.0, 29.0],
    })
    v = E.validate_health_score(scores, subs, groups=5)
    # a and e churned in October; b changed plan at the same instant (not churn); c churns in November
    assert v.outcomes.set_index("customer_id").churned.to_dict() == {
        "a": True, "b": False, "c": False, "d": False, "e": True}
    assert (v.churned, v.stayed, v.month) == (2, 3, "2026-10")
    assert v.auc == pytest.approx(E.roc_auc([True, False, False, False, True], [-10, -20, -50, -70, -90]))
    assert v.auc == pytest.approx(0.5)  # a is the lowest score, e the highest
    assert v.lift.customers.sum() == 5 and v.lift.churned.sum() == 2
    assert v.lift.cumulative_churners_share.iloc[-1] == 1.0
    assert v.lift.lift.iloc[0] == pytest.approx(1.0 / 0.4)
    assert v.roc.true_positive_rate.iloc[-1] == 1.0 and v.roc.false_positive_rate.iloc[-1] == 1.0
    assert v.auc_ci_low <= v.auc <= v.auc_ci_high


def test_health_score_on_the_sample_is_validated_month_by_month(sample):
    scores = E.health_score(sample.events, "2026-09", subscriptions=sample.subscriptions, email=sample.email,
                            surveys=sample.surveys)
    assert scores.score.between(0, 100).all() and scores.customer_id.is_unique
    for k in E.DEFAULT_HEALTH_WEIGHTS:
        assert scores[k].dropna().between(0, 1).all(), k
    v = E.validate_health_score(scores, sample.subscriptions)
    assert v.churned + v.stayed == len(scores) and v.churned > 5
    assert 0 <= v.auc_ci_low <= v.auc <= v.auc_ci_high <= 1


# ---------------------------------------------------------------------------------- headline


def test_headline_metrics_feed_the_report(sample):
    h = E.headline_metrics(sample, "2026-10")
    assert list(h.columns) == ["metric", "month", "value", "numerator", "denominator", "ci_low", "ci_high", "note"]
    assert h["note"].isna().all()  # the sample's health score validates (the AUC's verdict below)
    assert set(h.metric) == {"open_rate", "click_rate", "mau", "stickiness", "nps", "csat", "health_score_auc"}
    for metric, rows in h.groupby("metric"):
        assert sorted(rows.month) == ["2026-09", "2026-10"], metric
    row = h.set_index(["metric", "month"])
    mail = E.email_metrics(sample.email, by="month", start="2026-10-01", end="2026-11-01").iloc[0]
    assert row.loc[("open_rate", "2026-10"), "value"] == pytest.approx(mail.open_rate)
    assert row.loc[("click_rate", "2026-10"), "denominator"] == mail.delivered
    events = sample.events.to_pandas()
    october = events[events.event.isin(E.DEFAULT_ACTIVITY_EVENTS)
                     & (events.ts >= pd.Timestamp("2026-10-01", tz="UTC")) & (events.ts < pd.Timestamp("2026-11-01", tz="UTC"))]
    assert row.loc[("mau", "2026-10"), "value"] == october.customer_id.nunique()  # counted by hand
    comparison = compare_months(h, "2026-10").set_index("metric")
    assert comparison.loc["open_rate", "p_value"] >= 0 and comparison.loc["mau", "significant"] is None


def test_headline_metrics_skip_missing_tables(sample):
    events = sample.events.filter(sample.events.ts >= pd.Timestamp("2026-08-01", tz="UTC")).to_pandas()
    h = E.headline_metrics({"events": events}, "2026-10")
    assert set(h.metric) == {"mau", "stickiness"}


def test_a_month_before_any_subscriber_has_an_undefined_auc_not_an_error():
    events = pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-20"], "event": ["page_view"]})
    subs = pd.DataFrame({"customer_id": ["a"], "start_at": ["2026-10-01"], "end_at": [None], "mrr": [29.0]})
    out = E.health_score_backtest(events, subs, ["2026-09", "2026-11"])
    assert out["month"].tolist() == ["2026-09", "2026-11"]
    first = out.iloc[0]
    assert np.isnan(first.auc) and first.churned == 0 and first.stayed == 0
    with pytest.raises(ValueError, match="pass month="):
        E.validate_health_score(E.health_score(events, "2026-08", subscriptions=subs), subs)


# ---------------------------------------------------------------------------------- issue 11


def test_series_start_where_the_data_start_not_at_an_earlier_start():
    """A ratings log that starts in June, asked for from January: no zero months before it."""
    log = _events([("a", "2026-06-10"), ("b", "2026-06-20"), ("a", "2026-08-02"), ("c", "2026-08-30")],
                  event="rating")
    log["feature"] = [None, None, "stars", None]
    window = dict(start="2026-01-01", end="2026-09-01", activity_events=["rating", "feature_use"])
    months = ["2026-06", "2026-07", "2026-08"]

    def labels(frame):
        return frame.period.dt.strftime("%Y-%m").tolist()

    mau = E.active_users(log, "M", **window)
    assert labels(mau) == months and mau.active_users.tolist() == [2, 0, 2]  # July is a real zero
    daily = E.active_users(log, "D", **window)
    assert daily.period.iloc[0] == pd.Timestamp("2026-06-10") and daily.period.iloc[-1] == pd.Timestamp("2026-08-31")
    sticky = E.stickiness(log, **window)
    assert labels(sticky) == months and sticky.days.tolist() == [30, 31, 31]
    flows = E.lifecycle(log, "M", **window)
    assert labels(flows) == months and flows.new.tolist() == [2, 0, 1]
    usage = E.usage_per_user(log, "M", **window)
    assert labels(usage) == months and usage.sessions.tolist() == [2, 0, 2]
    adoption = E.feature_adoption(log.assign(event=np.where(log.feature.notna(), "feature_use", "rating")),
                                  "M", **window)
    assert labels(adoption) == months and adoption.denominator.tolist() == [2, 0, 2]
    # a start after the data start is kept, and no activity at all gives no rows
    assert labels(E.active_users(log, "M", start="2026-07-01", end="2026-09-01", activity_events=["rating"])) == months[1:]
    assert E.active_users(log, "M", start="2026-01-01", end="2026-09-01", activity_events=["login"]).empty


@pytest.mark.parametrize("clock", ["00:00", "23:59:59"])
def test_time_to_value_default_cutoff_keeps_the_whole_last_day(clock):
    customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": ["2026-09-23", "2026-09-23"],
                              "channel": "email"})
    events = _events([("a", f"2026-09-30 {clock}"), ("b", "2026-09-24")], event="feature_use")
    week = E.time_to_value(events, customers, within_days=[7]).summary.iloc[0]
    # signed up on the 23rd, the data run through the 30th: 7 whole days observed for both
    assert (week.numerator, week.denominator) == ((2, 2) if clock == "00:00" else (1, 2))


def test_health_score_tenure_counts_calendar_months():
    subs = pd.DataFrame({"customer_id": ["a", "b", "c"],
                         "start_at": ["2023-11-01", "2023-11-02", "2024-02-29"],
                         "end_at": None, "mrr": 10.0})
    events = _events([("a", "2024-10-05"), ("b", "2024-10-06"), ("c", "2024-10-07")])
    h = E.health_score(events, "2024-10", subscriptions=subs, weights={"tenure": 1}).set_index("customer_id")
    # 1 November 2023 to 1 November 2024 is 12 months though it holds the leap day (366 days)
    assert h.loc["a", "tenure_months"] == 12.0 and h.loc["a", "tenure"] == 1.0
    # 2 November: 11 months to 2 October, then 30 of the 31 days to 2 November
    assert h.loc["b", "tenure_months"] == pytest.approx(11 + 30 / 31)
    # 29 February: 8 months to 29 October, then 3 of the 31 days to 29 November
    assert h.loc["c", "tenure_months"] == pytest.approx(8 + 3 / 31)
    assert h.loc["c", "tenure"] == pytest.approx((8 + 3 / 31) / 12)


# ---------------------------------------------------------------------------------- issue 13


def _same(new, old):
    """Equal results: frames, or the frames a result object holds."""
    if isinstance(new, E.TimeToValue):
        pd.testing.assert_frame_equal(new.summary, old.summary)
        pd.testing.assert_frame_equal(new.curve, old.curve)
    else:
        pd.testing.assert_frame_equal(new, old)


def _renamed_calls():
    """(function, positional arguments, old keyword, new keyword, value) for every renamed argument."""
    events = pd.DataFrame({
        "customer_id": ["a", "a", "b", "b", "c"],
        "ts": ["2026-08-03 09:00", "2026-09-10 10:00", "2026-09-11 11:00", "2026-10-02 08:00", "2026-10-20 12:00"],
        "event": ["page_view", "feature_use", "feature_use", "share", "page_view"],
        "feature": [None, "api", "reports", None, None],
    })
    customers = pd.DataFrame({"customer_id": list("abc"), "channel": "email",
                              "signup_at": ["2026-08-01", "2026-09-05", "2026-10-01"]})
    surveys = pd.DataFrame({"customer_id": list("abcdef"), "survey": ["nps", "nps", "csat", "csat", "ces", "ces"],
                            "ts": ["2026-09-03", "2026-10-03"] * 3, "score": [10, 6, 5, 2, 7, 4]})
    return [
        (E.active_users, (events,), "freq", "period", "W"),
        (E.lifecycle, (events,), "freq", "period", "W"),
        (E.feature_adoption, (events,), "freq", "period", "W"),
        (E.usage_per_user, (events,), "freq", "period", "D"),
        (E.score_counts, (surveys, "nps"), "freq", "period", None),
        (E.nps_by, (surveys,), "freq", "period", "W"),
        (E.csat_by, (surveys,), "freq", "period", None),
        (E.ces_by, (surveys,), "freq", "period", "M"),
        (E.time_to_value, (events, customers), "cohort_freq", "cohort_period", "W"),
    ]


@pytest.mark.parametrize("fn, args, old, new, value", _renamed_calls(),
                         ids=[f"{c[0].__name__}-{c[2]}" for c in _renamed_calls()])
def test_old_argument_names_warn_and_give_the_same_numbers(fn, args, old, new, value):
    with pytest.warns(FutureWarning, match=rf"{fn.__name__}\({old}=\.\.\.\) is deprecated.*use {new}="):
        before = fn(*args, **{old: value})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        after = fn(*args, **{new: value})
    _same(after, before)
    with pytest.raises(TypeError, match=f"pass only {new}="):
        fn(*args, **{old: value, new: value})


def test_period_is_checked_with_the_shared_vocabulary():
    events = _events([("a", "2026-10-01"), ("b", "2026-10-09")])
    pd.testing.assert_frame_equal(E.active_users(events, "w"), E.active_users(events, "W"))
    with pytest.raises(ValueError, match=r"period must be 'W' \(week\) or 'M' \(month\), got 'D'"):
        E.lifecycle(events, "D")
    with pytest.raises(ValueError, match="period must be .*None \\(the whole span\\), got 'Q'"):
        E.nps_by(pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-01"], "survey": ["nps"], "score": [9]}),
                 period="Q")


def test_each_formula_is_written_once_in_the_record():
    """The functions that compute a registered metric show the record's formula (inserted by
    the registry) and restate no formula by hand; every public path imports."""
    import importlib

    computing = [getattr(E, name) for name in E.__all__ if hasattr(getattr(E, name), "metrics")]
    assert {f.__name__ for f in computing} >= {"email_metrics", "active_users", "stickiness", "lifecycle",
                                               "feature_adoption", "usage_per_user", "time_to_value", "nps",
                                               "csat", "ces", "health_score", "roc_auc", "validate_health_score"}
    for fn in computing:
        assert fn.__doc__.count(".. math::") == len(fn.metrics), fn.__name__
        for record in fn.metrics:
            assert fn.__doc__.count(record.formula) == 1, (fn.__name__, record.name)
    for record in kpilib.metrics.all_metrics():
        if record.stage != "engagement":
            continue
        for path in record.computed_by:
            module, name = path.rsplit(".", 1)
            assert module == "kpilib.engagement" and hasattr(importlib.import_module(module), name), path


# --------------------------------------------------------------------------- issue 11: health-score trust


def test_a_component_without_variation_is_left_out_of_the_score_and_said():
    """Three subscribers on one plan, all past 12 months of tenure, each sent two mails and
    opening none: email, plan and tenure are the same for everyone. Kept in, they add the
    same points to every score; they are left out, the weights of recency (.25) and
    frequency (.20) rescale, and the note says which and why. By hand: recency
    1 − days/30; frequency active days / 90th percentile of (3, 2, 1) = 2.8, capped at 1."""
    days = {"a": ["2026-10-31", "2026-10-30", "2026-10-29"], "b": ["2026-10-21", "2026-10-20"], "c": ["2026-10-11"]}
    events = pd.DataFrame([(cid, ts, "page_view") for cid, stamps in days.items() for ts in stamps],
                          columns=["customer_id", "ts", "event"])
    subs = pd.DataFrame({"customer_id": list("abc"), "start_at": ["2024-01-01"] * 3, "end_at": [None] * 3,
                         "mrr": [49.0] * 3})
    email = pd.DataFrame({"campaign": "news", "customer_id": [c for c in "abc" for _ in range(2)],
                          "sent_at": ["2026-10-05", "2026-10-19"] * 3, "bounce": "none", "opened_at": None,
                          "clicked_at": None, "unsubscribed_at": None, "complained_at": None})
    h = E.health_score(events, "2026-10", subscriptions=subs, email=email).set_index("customer_id")
    recency = {"a": 1 - 1 / 30, "b": 1 - 11 / 30, "c": 1 - 21 / 30}
    frequency = {"a": 1.0, "b": 2 / 2.8, "c": 1 / 2.8}
    for cid in "abc":
        hand = 100 * (0.25 * recency[cid] + 0.20 * frequency[cid]) / 0.45
        assert h.loc[cid, "score"] == pytest.approx(round(hand, 1)), cid
    assert set(h.attrs["dropped_components"]) == {"email", "plan", "tenure", "breadth"}
    assert h.attrs["dropped_components"]["email"] == "the same for every scored customer (0)"
    assert h.attrs["weights"] == pytest.approx({"recency": 0.25 / 0.45, "frequency": 0.20 / 0.45})
    assert h.attrs["note"].startswith("Left out of the score") and "email (the same for every" in h.attrs["note"]
    assert not {"email", "plan", "tenure"} & set(h.columns)
    # one customer opens a mail: email varies again and is kept
    email.loc[0, "opened_at"] = "2026-10-06"
    assert "email" in E.health_score(events, "2026-10", subscriptions=subs, email=email).columns


def test_the_samples_health_score_validates_and_a_one_signal_score_is_marked(sample):
    """On the saas sample the score of September against October's churn is not marked:
    22 churners (≥ 10), an interval above 0.5, seven varying components. Scored on
    recency alone it is one signal, not a health score: marked, with the reason."""
    options = dict(subscriptions=sample.subscriptions, email=sample.email, surveys=sample.surveys)
    v = E.validate_health_score(E.health_score(sample.events, "2026-09", **options), sample.subscriptions)
    assert v.churned == 22 and v.auc_ci_low > 0.5 and len(v.informative_components) == 7
    assert v.note is None and v.summary()["note"].isna().all()
    single = E.health_score(sample.events, "2026-09", weights={"recency": 1}, **options)
    marked = E.validate_health_score(single, sample.subscriptions)
    assert marked.note == "unreliable: 1 component vary (recency; < 2 needed)"


def test_an_auc_with_few_churners_or_an_interval_around_chance_is_marked():
    """12 churners among 100 scored subscribers, their scores spread like the others':
    the Hanley–McNeil interval (computed here from the AUC by hand) contains 0.5."""
    ids = [f"c{i:03d}" for i in range(100)]
    scores = pd.DataFrame({"customer_id": ids, "month": "2026-09", "score": np.arange(100.0),
                           "recency": np.linspace(0, 1, 100), "frequency": np.linspace(1, 0, 100)})
    churners = set(ids[4::8][:12])
    subs = pd.DataFrame({"customer_id": ids, "start_at": "2025-01-01",
                         "end_at": ["2026-10-10" if c in churners else None for c in ids], "mrr": 10.0})
    v = E.validate_health_score(scores, subs)
    q1, q2 = v.auc / (2 - v.auc), 2 * v.auc**2 / (1 + v.auc)
    se = np.sqrt((v.auc * (1 - v.auc) + 11 * (q1 - v.auc**2) + 87 * (q2 - v.auc**2)) / (12 * 88))
    assert v.auc - 1.96 * se < 0.5 < v.auc + 1.96 * se
    assert v.churned == 12 and v.note.startswith("unreliable: the AUC's 95% interval")
    assert "contains 0.5" in v.note and "component" not in v.note
    few = E.validate_health_score(scores, subs.assign(end_at=[None] * 99 + ["2026-10-10"]))
    assert few.note.startswith("unreliable: 1 subscriber churned (< 10 needed)")


def test_a_marked_health_auc_reaches_the_report_card(sample):
    h = E.headline_metrics(sample, "2026-10", health_weights={"recency": 1})
    auc = h[h.metric == "health_score_auc"]
    assert len(auc) == 2 and auc["note"].str.startswith("unreliable: 1 component vary").all()
    assert h[h.metric != "health_score_auc"]["note"].isna().all()
    from kpilib.report import record_headline

    row = record_headline(h, month="2026-10").comparison.set_index("metric").loc["health_score_auc"]
    assert row["note"].startswith("unreliable:") and row["significant"] is None


# --------------------------------------------------------------------------- issue 14: one scan for every month


def test_backtest_from_one_grouped_query_equals_scoring_each_month_alone():
    ds = kpilib.load_dataset()
    months = ["2026-07", "2026-08", "2026-09"]
    options = dict(email=ds.email, surveys=ds.surveys, weights={"recency": 1, "frequency": 1, "breadth": 1,
                                                                 "email": 1, "nps": 1, "plan": 1, "tenure": 1})
    backtest = E.health_score_backtest(ds.events, ds.subscriptions, months, **options)
    for month, row in zip(months, backtest.itertuples(), strict=True):
        previous = str(pd.Period(month, freq="M") - 1)
        alone = E.health_score(ds.events, previous, subscriptions=ds.subscriptions, **options)
        v = E.validate_health_score(alone, ds.subscriptions, month=previous)
        assert (row.month, row.churned, row.stayed) == (v.month, v.churned, v.stayed)
        assert row.auc == v.auc and row.auc_ci_low == v.auc_ci_low and row.note == v.note


def test_health_inputs_of_overlapping_windows_are_counted_in_each_month():
    # one event on 15 September lies in the 90-day lookback of September and October
    events = pd.DataFrame({"customer_id": ["a", "a", "b"], "ts": ["2026-09-15 10:00", "2026-10-20", "2026-10-21"],
                           "event": ["feature_use", "page_view", "feature_use"],
                           "feature": ["api", None, "export"]})
    for month, days, features in (("2026-09", {"a": 1}, {"a": 1}), ("2026-10", {"a": 1, "b": 1},
                                                                      {"a": 1, "b": 1})):
        h = E.health_score(events, month, weights={"recency": 1, "frequency": 1, "breadth": 1})
        assert h.set_index("customer_id")["active_days"].to_dict() == days
        assert h.set_index("customer_id")["features_used"].to_dict() == features
    both = E.health_score_backtest(events, pd.DataFrame({
        "customer_id": ["a", "b"], "start_at": ["2026-01-01"] * 2, "end_at": [None, "2026-11-05"],
        "mrr": [1.0, 1.0]}), ["2026-10", "2026-11"], weights={"recency": 1, "breadth": 1})
    assert both["month"].tolist() == ["2026-10", "2026-11"]
    assert both["churned"].tolist() == [0, 1] and both["stayed"].tolist() == [2, 1]


def test_events_at_the_same_instant_share_a_session_whatever_the_engine_order():
    # b's two events at 12:00 follow a gap of 3 hours: both start the second session
    events = pd.DataFrame({"customer_id": ["b"] * 4,
                           "ts": ["2026-10-01 09:00", "2026-10-01 12:00", "2026-10-01 12:00", "2026-10-01 12:10"],
                           "event": ["page_view", "share", "page_view", "page_view"]})
    for order in ([0, 1, 2, 3], [0, 2, 1, 3], [3, 2, 1, 0]):
        s = E.sessions(events.iloc[order]).to_pandas()
        assert s["events"].tolist() == [1, 3] and s["shares"].tolist() == [0, 1]
        assert s["duration_seconds"].tolist() == [0, 600]


# ---------------------------------------------------------------------- reuse and pruning


def test_headline_metrics_read_the_notebooks_stickiness_and_backtest(sample):
    weights = {"recency": 2, "frequency": 1, "breadth": 1}
    alone = E.headline_metrics(sample, "2026-10", health_weights=weights)
    sticky = E.stickiness(sample.events, "2026-01-01", "2026-11-01")
    backtest = E.health_score_backtest(sample.events, sample.subscriptions, ["2026-08", "2026-09", "2026-10"],
                                       email=sample.email, surveys=sample.surveys, weights=weights)
    reused = E.headline_metrics(sample, "2026-10", health_weights=weights, stickiness=sticky, backtest=backtest)
    pd.testing.assert_frame_equal(reused, alone)
    # the MAU read off stickiness is active_users by month, counted otherwise
    mau = E.active_users(sample.events, "M", "2026-09-01", "2026-11-01")
    assert (alone[alone.metric == "mau"].value.to_numpy() == mau.active_users.to_numpy()).all()


def test_headline_metrics_refuse_results_computed_otherwise(sample):
    sticky = E.stickiness(sample.events, "2026-01-01", "2026-11-01")
    with pytest.raises(ValueError, match="activity_events"):
        E.headline_metrics(sample, "2026-10", activity_events=["page_view"], stickiness=sticky)
    for start, end in (("2026-09-02", "2026-11-01"), ("2026-01-01", "2026-10-31")):
        with pytest.raises(ValueError, match="covers"):
            E.headline_metrics(sample, "2026-10", stickiness=E.stickiness(sample.events, start, end))
    backtest = E.health_score_backtest(sample.events, sample.subscriptions, ["2026-09", "2026-10"],
                                       email=sample.email, surveys=sample.surveys)
    with pytest.raises(ValueError, match="weights"):
        E.headline_metrics(sample, "2026-10", health_weights={"recency": 1}, backtest=backtest)
    with pytest.raises(ValueError, match="surveys"):
        E.headline_metrics({k: getattr(sample, k) for k in ("events", "subscriptions", "email")}, "2026-10",
                           backtest=backtest)
    with pytest.raises(ValueError, match="no row for 2026-09"):
        E.headline_metrics(sample, "2026-10", backtest=backtest[backtest.month == "2026-10"].copy())


def test_headline_metrics_with_a_stickiness_and_no_activity_in_its_window():
    events = pd.DataFrame({"customer_id": ["a"], "ts": ["2026-06-02"], "event": ["page_view"]})
    sticky = E.stickiness(events, "2026-09-01", "2026-11-01")  # activity, but none in the window
    reused = E.headline_metrics({"events": events}, "2026-10", stickiness=sticky)
    pd.testing.assert_frame_equal(reused, E.headline_metrics({"events": events}, "2026-10"))
    assert reused.metric.tolist() == ["mau", "mau", "stickiness", "stickiness"]
    assert reused.value.tolist()[:2] == [0.0, 0.0] and reused.value[2:].isna().all()  # no monthly user: NaN


def _session_frame(rows):
    return pd.DataFrame(rows, columns=["customer_id", "ts", "event"]).assign(
        ts=lambda f: pd.to_datetime(f.ts, utc=True, format="ISO8601"))


def _sessions_from(events, since, gap=30.0):
    """Sessions starting at or after ``since``: pruned plan, and the whole history's (no ``session`` number)."""
    from kpilib.engagement._usage import _sessions
    since = kpilib.periods.to_utc(since)
    cols = ["customer_id", "started_at", "ended_at", "events", "page_views", "shares", "duration_seconds"]
    pruned = _sessions(events, gap, E.DEFAULT_ACTIVITY_EVENTS, "page_view", "share", since=since).to_pandas()
    whole = E.sessions(events, gap).to_pandas()
    key = ["customer_id", "started_at"]
    return (pruned[pruned.started_at >= since][cols].sort_values(key).reset_index(drop=True),
            whole[whole.started_at >= since][cols].sort_values(key).reset_index(drop=True))


def test_sessions_pruned_before_start_equal_the_whole_historys():
    # a: a chain of 20-minute steps across the boundary (its session starts before 10:00: out of both);
    # b: a 30-minute gap (not more: same session) then 31 minutes across it; c: an event exactly at
    # start − gap, ties at the boundary; d: only events before; e: a session starting at the boundary
    rows = [("a", f"2026-10-01 {h:02d}:{m:02d}", "page_view") for h in (8, 9, 10) for m in (0, 20, 40)]
    rows += [("b", "2026-10-01 09:29", "page_view"), ("b", "2026-10-01 09:59", "share"),
             ("b", "2026-10-01 10:30", "page_view"), ("b", "2026-10-01 10:30", "share")]
    rows += [("c", "2026-10-01 09:30", "page_view"), ("c", "2026-10-01 10:00", "page_view"),
             ("c", "2026-10-01 10:00", "feature_use"), ("c", "2026-10-01 10:00:01", "page_view"),
             ("c", "2026-10-01 08:00", "page_view")]
    rows += [("d", "2026-10-01 07:00", "page_view"), ("d", "2026-10-01 09:59:59", "page_view")]
    rows += [("e", "2026-10-01 09:29:59", "page_view"), ("e", "2026-10-01 10:00", "page_view"),
             ("e", "2026-10-01 10:00", "signup"), ("e", "2026-10-01 10:29", "share")]
    events = _session_frame(rows)
    for since in ("2026-10-01 10:00", "2026-10-01 09:59:59", "2026-10-01 10:00:01", "2026-10-01 09:30",
                  "2026-10-01 08:00", "2026-10-02"):
        pruned, whole = _sessions_from(events, since)
        pd.testing.assert_frame_equal(pruned, whole, obj=since)
    pruned, _ = _sessions_from(events, "2026-10-01 10:00")
    # by hand: a's session began at 08:00 and d's at 07:00 (out); b's at 10:30; c's 09:30 one
    # runs on through 10:00:01 (out); e's 10:00 session (09:29:59 is 30 min 1 s earlier)
    assert pruned[["customer_id", "events"]].values.tolist() == [["b", 2], ["e", 2]]
    assert pruned.started_at.tolist() == [pd.Timestamp("2026-10-01 10:30", tz="UTC"),
                                          pd.Timestamp("2026-10-01 10:00", tz="UTC")]


def test_sessions_pruned_equal_the_whole_historys_on_random_chains():
    rng = np.random.default_rng(7)
    n = 3000
    # gaps around the 30-minute rule, so chains cross every boundary
    steps = rng.choice([0, 60, 1200, 1799, 1800, 1801, 3600, 86_400], size=n)
    customers = rng.choice(list("pqrstu"), size=n)
    ts = pd.Timestamp("2026-09-20", tz="UTC") + pd.to_timedelta(
        pd.Series(steps).groupby(customers).cumsum().to_numpy(), unit="s")
    events = pd.DataFrame({"customer_id": customers, "ts": ts,
                           "event": rng.choice(["page_view", "share", "feature_use", "signup"], size=n)})
    bounds = pd.Series(events.ts.sort_values().to_numpy()[::600])
    for since in [*bounds, *(bounds + pd.Timedelta(minutes=30)), *(bounds + pd.Timedelta(seconds=1))]:
        for gap in (30.0, 0.5):
            pruned, whole = _sessions_from(events, since, gap)
            assert len(whole) > 0
            pd.testing.assert_frame_equal(pruned, whole, obj=f"{since} gap {gap}")


def test_scored_populations_of_several_months_from_one_query_by_hand():
    from kpilib.engagement._health import _populations, _score_windows

    # a: a plan change on 1 May continues the spell (the MRR of the row open at the month's end);
    # b: ends exactly at the end of August (still open then, churned in September);
    # c: starts exactly at the end of August (scored in September only, stays through October)
    subs = pd.DataFrame({"customer_id": ["a", "a", "b", "c"],
                         "start_at": ["2026-01-15", "2026-05-01", "2026-03-01", "2026-09-01"],
                         "end_at": ["2026-05-01", None, "2026-09-01", "2026-11-01"],
                         "mrr": [10.0, 20.0, 5.0, 7.0]})
    got = _populations(subs, _score_windows(["2026-08", "2026-09"], 90, 30))
    assert got[["month", "customer_id", "mrr", "churned"]].values.tolist() == [
        ["2026-08", "a", 20.0, 0], ["2026-08", "b", 5.0, 1], ["2026-09", "a", 20.0, 0], ["2026-09", "c", 7.0, 0]]
    # whole months to the anniversary, then the share of the month to the next one
    assert got.tenure_months.tolist() == pytest.approx([7 + 17 / 31, 6.0, 8 + 16 / 30, 1.0], rel=1e-12)
    for month in ("2026-08", "2026-09"):  # each month's scores alone: the same subscribers and tenures
        alone = E.health_score(pd.DataFrame({"customer_id": ["a"], "ts": ["2026-08-20"], "event": ["page_view"]}),
                               month, subscriptions=subs, weights={"recency": 1, "tenure": 1})
        expected = got[got.month == month].set_index("customer_id")
        assert alone.set_index("customer_id").tenure_months.sort_index().tolist() == expected.tenure_months.tolist()


def _daily_by_hand(events, start, end):
    """DAU and the rolling 7/30-day distinct counts per calendar day, straight from the rows."""
    acts = events[events.event.isin(E.DEFAULT_ACTIVITY_EVENTS)]
    days = pd.DatetimeIndex(acts.ts.dt.tz_convert(None).dt.normalize())
    first = max(pd.Timestamp(start), days.min().normalize()) if start is not None else days.min()
    calendar = pd.date_range(first.normalize(), pd.Timestamp(end) - pd.Timedelta(microseconds=1), freq="D")
    lo = pd.Timestamp(start, tz="UTC") if start is not None else None
    rows = []
    for day in calendar:
        def distinct(since, until):
            return acts[(acts.ts >= since) & (acts.ts < until)].customer_id.nunique()
        d = pd.Timestamp(day, tz="UTC")
        rows.append((day, distinct(max(d, lo) if lo is not None else d, d + pd.Timedelta(days=1)),
                     distinct(d - pd.Timedelta(days=6), d + pd.Timedelta(days=1)),
                     distinct(d - pd.Timedelta(days=29), d + pd.Timedelta(days=1))))
    return pd.DataFrame(rows, columns=["period", "active_users", "active_users_7d", "active_users_30d"])


def test_daily_active_users_from_the_rolling_query_equal_counting_by_hand():
    rng = np.random.default_rng(11)
    n = 400
    events = pd.DataFrame({
        "customer_id": rng.choice(list("abcdefgh"), size=n),
        "ts": pd.Timestamp("2026-08-20", tz="UTC") + pd.to_timedelta(rng.integers(0, 70 * 86_400, size=n), unit="s"),
        "event": rng.choice(["page_view", "share", "signup"], size=n)})
    events = pd.concat([events, events.iloc[:20]])  # repeated events
    # midnight starts (one query) with activity before them and a start before the data; a
    # start at noon (its first day counts only from noon on, the rolling counts look back)
    for start, end in (("2026-09-15", "2026-10-20"), ("2026-08-01", "2026-09-01"), ("2026-09-15 12:00", "2026-10-01"),
                       ("2026-10-28", "2026-10-30")):
        got = E.active_users(events, "D", start, end)
        expected = _daily_by_hand(events, start, end)
        pd.testing.assert_frame_equal(got.astype({"period": "datetime64[ns]"}), expected, check_dtype=False,
                                      obj=f"{start}–{end}")
    assert E.active_users(events.assign(event="signup"), "D", "2026-09-01", "2026-10-01").empty


def test_first_activity_answers_from_one_row_before_start():
    from kpilib.engagement._activity import _first_activity

    events = pd.DataFrame({"customer_id": ["a", "b", "c"], "ts": ["2026-09-10", "2026-10-05", "2026-08-01"],
                           "event": ["page_view", "share", "signup"]})
    utc = kpilib.periods.to_utc
    # an activity before: the start itself; none: the first activity (the sign-up is no activity)
    assert _first_activity(events, E.DEFAULT_ACTIVITY_EVENTS, utc("2026-10-01")) == pd.Timestamp("2026-10-01")
    assert _first_activity(events, E.DEFAULT_ACTIVITY_EVENTS, utc("2026-09-10")) == pd.Timestamp("2026-09-10")
    assert _first_activity(events, E.DEFAULT_ACTIVITY_EVENTS, utc("2026-09-01")) == pd.Timestamp("2026-09-10")
    assert _first_activity(events, ["page_view"], utc("2026-12-01")) == pd.Timestamp("2026-12-01")
    assert _first_activity(events, ["login"], utc("2026-12-01")) is None
