"""Churn and retention: each definition on hand-built histories, outside references
(lifelines, the sBG paper), and recovery of the sample generator's churn."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln

from kpilib import churn
from kpilib.data import MISSING_LABEL, SAMPLE_DIR, DataError, load_dataset
from kpilib.metrics import get


def subs(rows, extra=None):
    """Subscriptions from (customer, start, end or None, mrr) tuples."""
    frame = pd.DataFrame(rows, columns=["customer_id", "start_at", "end_at", "mrr"])
    if extra:
        for name, values in extra.items():
            frame[name] = values
    return frame


def month(frame, label):
    return frame.set_index("period").loc[label]


def calendar_months(start, end) -> float:
    """Reference tenure in calendar months, outside the engine: whole months by pandas'
    DateOffset (dateutil's rule: 2024-02-29 + 12 months = 2025-02-28), then the share of
    the next month elapsed."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    m = (end.year - start.year) * 12 + end.month - start.month
    while start + pd.DateOffset(months=m) > end:
        m -= 1
    low, high = start + pd.DateOffset(months=m), start + pd.DateOffset(months=m + 1)
    return m + (end - low) / (high - low)


# --------------------------------------------------------------------------- churn_rate


def test_join_and_churn_inside_a_period_is_reported_apart_not_in_the_denominator():
    s = subs([
        ("a", "2026-01-10", None, 10.0),          # active throughout
        ("b", "2026-01-15", "2026-02-20", 10.0),  # churns in February
        ("c", "2026-02-03", "2026-02-25", 10.0),  # joins and churns in February
        ("d", "2026-02-05", None, 10.0),          # new in February
    ])
    feb = month(churn.churn_rate(s, as_of="2026-03-01"), "2026-02")
    assert (feb.active_at_start, feb.churned, feb.joined_and_churned, feb.new) == (2, 1, 1, 2)
    assert feb.churn_rate == pytest.approx(0.5)
    assert feb.retention_rate == pytest.approx(0.5)
    assert feb.active_at_end == 2
    from kpilib.stats import wilson_interval

    low, high = wilson_interval(1, 2)
    assert (feb.ci_low, feb.ci_high) == pytest.approx((low, high))


def test_a_customer_with_several_subscriptions_churns_only_when_the_last_ends():
    s = subs([
        ("a", "2026-01-05", "2026-02-10", 10.0),  # add-on ends in February …
        ("a", "2026-01-20", "2026-03-15", 20.0),  # … main plan ends in March
        ("b", "2026-01-06", "2026-02-01", 10.0),  # plan change at the same instant:
        ("b", "2026-02-01", None, 30.0),          # not churn
    ])
    out = churn.churn_rate(s, as_of="2026-04-01").set_index("period")
    assert out.loc["2026-02", "churned"] == 0
    assert out.loc["2026-02", "active_at_start"] == 2
    assert out.loc["2026-03", "churned"] == 1
    assert out.loc["2026-03", "active_at_start"] == 2


def test_a_later_new_subscription_is_a_reactivation_not_a_new_customer():
    s = subs([
        ("a", "2026-01-05", "2026-02-10", 10.0),
        ("a", "2026-04-02", None, 10.0),
    ])
    out = churn.churn_rate(s, as_of="2026-05-01").set_index("period")
    assert out.loc["2026-02", "churned"] == 1
    assert out.loc["2026-04", ["new", "reactivated"]].tolist() == [1, 1]
    assert out.loc["2026-03", "active_at_start"] == 0 and np.isnan(out.loc["2026-03", "churn_rate"])
    spells = churn.customer_spells(s, as_of="2026-05-01")
    assert spells["spell"].tolist() == [1, 2]


def test_boundaries_a_spell_ending_at_the_first_instant_churns_in_that_period():
    s = subs([("a", "2026-01-10", "2026-03-01 00:00", 10.0), ("b", "2026-03-01 00:00", None, 10.0)])
    out = churn.churn_rate(s, as_of="2026-04-01").set_index("period")
    assert out.loc["2026-03", ["active_at_start", "churned", "new"]].tolist() == [1, 1, 1]
    assert out.loc["2026-02", "churned"] == 0


def test_only_elapsed_periods_are_reported_and_future_ends_are_not_churn():
    s = subs([("a", "2026-01-10", "2026-03-20", 10.0), ("b", "2026-01-12", None, 10.0)])
    out = churn.churn_rate(s, as_of="2026-03-15")
    assert out["period"].tolist() == ["2026-01", "2026-02"]
    spells = churn.customer_spells(s, as_of="2026-03-15")
    assert spells["end_at"].isna().all()


def test_annualised_churn_compounds_and_breakdowns_count_customers_once():
    s = subs(
        [("a", "2026-01-10", None, 10.0), ("b", "2026-01-11", "2026-02-11", 10.0),
         ("b", "2026-02-11", "2026-02-20", 50.0), ("c", "2026-01-12", None, 10.0)],
        {"plan": ["basic", "basic", "pro", "pro"]},
    )
    out = churn.churn_rate(s, by="plan", as_of="2026-03-01")
    feb = out[out["period"] == "2026-02"].set_index("plan")
    # b's first plan is basic, so b's churn counts there although it left on pro
    assert feb.loc["basic", ["active_at_start", "churned"]].tolist() == [2, 1]
    assert feb.loc["pro", ["active_at_start", "churned"]].tolist() == [1, 0]
    assert feb.loc["basic", "annualised_churn"] == pytest.approx(1 - 0.5**12)
    assert churn.annualised_rate(0.05, "Q") == pytest.approx(1 - 0.95**4)


def test_channel_breakdown_comes_from_customers_and_unknown_columns_say_how_to_fix():
    s = subs([("a", "2026-01-10", None, 10.0), ("b", "2026-01-11", "2026-02-11", 10.0)])
    customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": ["2026-01-01"] * 2,
                              "channel": ["email", "social"]})
    out = churn.churn_rate(s, by="channel", customers=customers, as_of="2026-03-01")
    assert set(out["channel"]) == {"email", "social"}
    with pytest.raises(DataError, match="customers=ds.customers"):
        churn.churn_rate(s, by="channel", as_of="2026-03-01")
    with pytest.raises(ValueError, match=r"period must be 'W' \(week\), 'M' \(month\), 'Q' \(quarter\) or 'Y' \(year\)"):
        churn.churn_rate(s, period="fortnight")


# --------------------------------------------------------------------------- revenue


def test_revenue_movements_expansion_contraction_churn_reactivation_and_new():
    s = subs([
        ("a", "2026-01-05", "2026-02-10", 100.0), ("a", "2026-02-10", None, 150.0),  # expands 50
        ("b", "2026-01-05", "2026-02-12", 100.0), ("b", "2026-02-12", None, 60.0),   # contracts 40
        ("c", "2026-01-05", "2026-02-15", 100.0),                                    # churns 100
        ("d", "2025-11-05", "2025-12-15", 80.0), ("d", "2026-02-20", None, 80.0),    # reactivates
        ("e", "2026-02-22", None, 30.0),                                              # new
        ("f", "2026-02-02", "2026-02-25", 500.0),                                     # in and out
    ])
    feb = month(churn.revenue_retention(s, as_of="2026-03-01"), "2026-02")
    assert feb.starting_mrr == 300
    assert (feb.churned_mrr, feb.contraction_mrr, feb.expansion_mrr) == (100, 40, 50)
    assert (feb.reactivation_mrr, feb.new_mrr) == (80, 30)
    assert feb.ending_mrr == 300 - 100 - 40 + 50 + 80 + 30
    assert feb.gross_mrr_churn == pytest.approx(140 / 300)
    assert feb.net_mrr_churn == pytest.approx(90 / 300)
    assert feb.grr == pytest.approx(160 / 300)
    assert feb.nrr == pytest.approx(210 / 300)  # the starting cohort only: a, b, c
    assert (feb.churned_customers, feb.contracted_customers, feb.expanded_customers,
            feb.reactivated_customers, feb.new_customers) == (1, 1, 1, 1, 1)
    assert feb.grr_ci_low <= feb.grr <= feb.grr_ci_high <= 1


def test_grr_never_exceeds_100_percent_even_when_everyone_expands():
    s = subs([("a", "2026-01-05", "2026-02-10", 10.0), ("a", "2026-02-10", None, 90.0),
              ("b", "2026-01-05", "2026-02-10", 10.0), ("b", "2026-02-10", None, 40.0)])
    feb = month(churn.revenue_retention(s, as_of="2026-03-01"), "2026-02")
    assert feb.grr == pytest.approx(1.0) and feb.grr_ci_high <= 1.0
    assert feb.nrr == pytest.approx(6.5)
    assert feb.net_mrr_churn == pytest.approx(-5.5)


def test_revenue_on_the_sample_balances_and_grr_is_bounded():
    ds = load_dataset(SAMPLE_DIR)
    rev = churn.revenue_retention(ds.subscriptions, as_of="2026-11-01")
    balance = (rev.starting_mrr - rev.churned_mrr - rev.contraction_mrr + rev.expansion_mrr
               + rev.reactivation_mrr + rev.new_mrr)
    np.testing.assert_allclose(balance, rev.ending_mrr)
    np.testing.assert_allclose(rev.ending_mrr.iloc[:-1].to_numpy(), rev.starting_mrr.iloc[1:].to_numpy())
    assert (rev.grr.dropna() <= 1).all() and (rev.grr.dropna() <= rev.nrr.dropna()).all()
    annual = churn.revenue_retention(ds.subscriptions, period="Y", as_of="2026-01-01")
    assert annual["period"].tolist() == ["2025"]


# --------------------------------------------------------------------------- survival


def test_kaplan_meier_equals_lifelines_own_fit_on_censored_data():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(5)
    n = 60
    start = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 200, n), "D")
    life = pd.to_timedelta(rng.exponential(300, n).round(), "D") + pd.Timedelta(days=1)
    end = start + life
    as_of = pd.Timestamp("2026-01-01", tz="UTC")
    s = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "start_at": start,
                      "end_at": end.where(end < as_of), "mrr": 10.0,
                      "plan": np.where(np.arange(n) % 2 == 0, "basic", "pro")})
    assert s["end_at"].isna().sum() > 5  # censored customers are present
    res = churn.survival(s, as_of=as_of)
    duration = pd.Series([calendar_months(a, b) for a, b in zip(s.start_at, s.end_at.fillna(as_of), strict=True)])
    kmf = KaplanMeierFitter().fit(duration, event_observed=s.end_at.notna())
    np.testing.assert_allclose(res.curves["survival"], kmf.survival_function_.iloc[:, 0])
    np.testing.assert_allclose(res.curves["ci_low"], kmf.confidence_interval_.iloc[:, 0])
    assert res.summary.loc[0, "censored"] == s.end_at.isna().sum()
    median = res.summary.loc[0, "median_lifetime"]
    assert median == pytest.approx(kmf.median_survival_time_)

    from lifelines.statistics import logrank_test

    by = churn.survival(s, by="plan", as_of=as_of)
    a, b = s.plan == "basic", s.plan == "pro"
    ref = logrank_test(duration[a], duration[b], s.end_at.notna()[a], s.end_at.notna()[b])
    assert by.logrank.loc[0, "p_value"] == pytest.approx(ref.p_value)
    assert set(by.summary["plan"]) == {"basic", "pro"}


def test_active_customers_are_censored_not_churned_and_median_may_be_not_reached():
    s = subs([("a", "2026-01-01", "2026-02-01", 1.0), ("b", "2026-01-01", None, 1.0),
              ("c", "2026-01-01", None, 1.0)])
    res = churn.survival(s, as_of="2026-07-01")
    assert res.summary.loc[0, "churned"] == 1 and res.summary.loc[0, "censored"] == 2
    assert not res.summary.loc[0, "median_reached"] and np.isnan(res.summary.loc[0, "median_lifetime"])
    assert res.curves["survival"].min() == pytest.approx(2 / 3)


# --------------------------------------------------------------------------- cohorts


def orders(rows):
    return pd.DataFrame(rows, columns=["customer_id", "ts"]).assign(amount=1.0)


def test_retention_matrix_of_an_open_cohort_has_missing_not_zero_future_cells():
    o = orders([("a", "2026-01-05"), ("a", "2026-02-07"), ("b", "2026-01-08"),
                ("c", "2026-03-03"), ("c", "2026-03-04")])
    r = churn.cohort_retention(o, as_of="2026-04-01")
    m = churn.retention_matrix(r, average=None)
    assert m.loc["2026-01"].tolist() == [1.0, 0.5, 0.0]  # a real zero: month 2 elapsed
    assert m.loc["2026-03", 0] == 1.0
    assert np.isnan(m.loc["2026-03", 1]) and np.isnan(m.loc["2026-03", 2])
    future = r[(r.cohort == "2026-03") & (r.offset > 0)]
    assert not future["complete"].any() and future["retained"].isna().all()
    # the still-running month is not a cohort cell yet
    r2 = churn.cohort_retention(o, as_of="2026-03-15")
    assert r2[r2.cohort == "2026-03"]["rate"].isna().all()


def test_on_versus_on_or_after():
    o = orders([("a", "2026-01-05"), ("a", "2026-03-07"), ("b", "2026-01-08"), ("b", "2026-02-01")])
    on = churn.retention_matrix(churn.cohort_retention(o, mode="on", as_of="2026-04-01"), average=None)
    after = churn.retention_matrix(churn.cohort_retention(o, mode="on_or_after", as_of="2026-04-01"),
                                   average=None)
    assert on.loc["2026-01"].tolist() == [1.0, 0.5, 0.5]
    assert after.loc["2026-01"].tolist() == [1.0, 1.0, 0.5]
    assert (np.diff(after.loc["2026-01"].to_numpy()) <= 0).all()


def test_pooled_and_simple_averages_differ_and_say_which_they_are():
    r = pd.DataFrame({
        "cohort": ["2026-01", "2026-01", "2026-02", "2026-02"], "offset": [0, 1, 0, 1],
        "cohort_size": [1000, 1000, 500, 500], "retained": [1000, 500, 500, 400],
        "rate": [1.0, 0.5, 1.0, 0.8], "complete": True,
    })
    pooled = churn.retention_average(r, "pooled").set_index("offset")
    simple = churn.retention_average(r, "simple").set_index("offset")
    assert pooled.loc[1, "rate"] == pytest.approx(0.60)
    assert (pooled.loc[1, "retained"], pooled.loc[1, "eligible"]) == (900, 1500)
    assert simple.loc[1, "rate"] == pytest.approx(0.65)
    assert set(pooled["average"]) == {"pooled"} and set(simple["average"]) == {"simple"}
    assert churn.retention_matrix(r, average="simple").index[-1] == "simple average"


def test_signup_cohorts_channel_breakdown_and_event_filter():
    events = pd.DataFrame({
        "customer_id": ["a", "a", "b", "v"], "event": ["page_view", "page_view", "visit", "visit"],
        "ts": ["2026-01-05", "2026-02-03", "2026-01-09", "2026-01-02"]})
    customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": ["2026-01-02", "2026-01-03"],
                              "channel": ["email", "social"]})
    r = churn.cohort_retention(events, cohort_by="signup", customers=customers, by="channel",
                               events=["page_view"], as_of="2026-03-01")
    cells = r.set_index(["channel", "offset"])
    assert cells.loc[("email", 1), "rate"] == 1.0
    assert cells.loc[("social", 0), "rate"] == 0.0  # signed up, never used the product
    assert cells.loc[("social", 0), "cohort_size"] == 1
    with pytest.raises(DataError, match="customers"):
        churn.cohort_retention(events, cohort_by="signup")


# --------------------------------------------------------------------------- sBG


REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]


@pytest.mark.parametrize(
    ("alive", "alpha", "beta"),
    [(REGULAR, 0.704, 1.182), (HIGH_END, 0.668, 3.806)],
    ids=["regular", "high_end"],
)
def test_sbg_reproduces_fader_hardie_2007_published_estimates(alive, alpha, beta):
    """Fader & Hardie (2007), "How to project customer retention", fit the sBG on years
    1–7 (survivors of 1000 at years 0..7) and publish regular α=0.704, β=1.182 and high
    end α=0.668, β=3.806. Fitting the first 8 values (years 0..7) of the paper's series
    reproduces both to 3 decimals. Note: the regular series is 1000, 631, 468, 382, 326,
    289, 262, 241 (…, 223, 207, 194, 183, 173 for years 8–12); the variant with 285, 253,
    232 for years 5–7 gives α≈0.753, β≈1.275 instead, so it is not the paper's data."""
    fit = churn.fit_sbg(alive[:8])
    assert fit.converged_ and fit.verdict_ == "converged" and fit.note_ == ""
    assert round(fit.alpha_, 3) == alpha and round(fit.beta_, 3) == beta
    assert fit.n_periods_ == 7
    # projection: retention rates rise with tenure, survival matches r_t products
    t = np.arange(1, 13)
    assert np.all(np.diff(fit.retention_rate(t)) > 0)
    np.testing.assert_allclose(fit.survival(t), np.cumprod(fit.retention_rate(t)))
    # the holdout years 8–12 stay within 4 points of the 7-year projection
    proj = fit.projection(12, alive)
    assert (proj.loc[8:, "expected"] - proj.loc[8:, "actual"]).abs().max() < 40


def test_sbg_brief_variant_of_the_regular_series_does_not_give_the_published_values():
    fit = churn.fit_sbg([1000, 631, 468, 382, 326, 285, 253, 232])
    assert round(fit.alpha_, 3) != 0.704
    assert fit.alpha_ == pytest.approx(0.753, abs=2e-3) and fit.beta_ == pytest.approx(1.275, abs=2e-3)


def test_sbg_likelihood_derl_and_remaining_lifetime():
    fit = churn.fit_sbg(HIGH_END[:8])
    assert fit.log_likelihood_ == pytest.approx(-1611.158, abs=1e-3)
    # DERL(d = 10 %, after 7 renewals) = 7.530, the value the Fader & Hardie (2010) DERL
    # formula gives at these estimates (as quoted by reference implementations)
    assert fit.discounted_expected_residual_lifetime(7, 0.10) == pytest.approx(7.530, abs=1e-3)
    assert fit.discounted_expected_residual_lifetime(7, 0.10) == pytest.approx(
        1.10 * fit.expected_remaining_lifetime(7, 0.10))
    assert fit.expected_remaining_lifetime(0) == np.inf  # α < 1: heavy tail
    # brute-force sum of survival ratios
    k = np.arange(1, 4000)
    brute = np.sum(fit.survival(7 + k) / fit.survival(7) / 1.1**k)
    assert fit.expected_remaining_lifetime(7, 0.10) == pytest.approx(brute, rel=1e-8)
    heavy = churn.SBGFit(2.0, 6.0, 0.0, np.array([1.0, 0.5]), 1, {})
    assert heavy.expected_remaining_lifetime(3) == pytest.approx((6 + 3) / (2 - 1))


def test_sbg_refuses_bad_input():
    with pytest.raises(ValueError, match="must not increase"):
        churn.fit_sbg([100, 90, 95])
    with pytest.raises(ValueError, match="no customer churned"):
        churn.fit_sbg([100, 100, 100])
    with pytest.raises(ValueError, match="at least two"):
        churn.fit_sbg([100])


def _sbg_loglik_by_hand(alive, a, b):
    """LL = Σ lost_t ln P(T = t) + n_n ln S(n) with the beta functions of Fader & Hardie (2007)."""
    alive = np.asarray(alive, dtype=float)
    t = np.arange(1, len(alive))
    base = betaln(a, b)
    return float(np.sum((alive[:-1] - alive[1:]) * (betaln(a + 1, b + t - 1) - base))
                 + alive[-1] * (betaln(a, b + t[-1]) - base))


def test_sbg_likelihood_and_standard_errors_agree_with_the_beta_function_form():
    """The fit's log-likelihood equals the paper's beta-function formula at its estimates,
    its gradient there is zero and its covariance is the inverse of the formula's
    finite-difference Hessian."""
    fit = churn.fit_sbg(HIGH_END[:8])
    a, b = fit.alpha_, fit.beta_
    assert fit.log_likelihood_ == pytest.approx(_sbg_loglik_by_hand(HIGH_END[:8], a, b), abs=1e-8)
    h = 1e-4 * np.array([a, b])
    e = np.eye(2)

    def ll(p):
        return _sbg_loglik_by_hand(HIGH_END[:8], *p)

    p0 = np.array([a, b])
    grad = [(ll(p0 + h[i] * e[i]) - ll(p0 - h[i] * e[i])) / (2 * h[i]) for i in range(2)]
    assert np.abs(grad).max() < 1e-4
    hess = np.array([[(ll(p0 + h[i] * e[i] + h[j] * e[j]) - ll(p0 + h[i] * e[i] - h[j] * e[j])
                       - ll(p0 - h[i] * e[i] + h[j] * e[j]) + ll(p0 - h[i] * e[i] - h[j] * e[j]))
                      / (4 * h[i] * h[j]) for j in range(2)] for i in range(2)])
    np.testing.assert_allclose(fit.covariance_, np.linalg.inv(-hess), rtol=1e-4)
    assert fit.standard_errors_["alpha"] == pytest.approx(np.sqrt(fit.covariance_[0, 0]))


HOMOGENEOUS = np.round(10_000 * 0.9 ** np.arange(10))


def _geometric_by_hand(alive):
    """Constant churn p: LL = lost ln p + (exposure - lost) ln(1 - p), p = lost / exposure."""
    alive = np.asarray(alive, dtype=float)
    lost, exposure = alive[0] - alive[-1], alive[:-1].sum()
    p = lost / exposure
    return p, lost * np.log(p) + (exposure - lost) * np.log(1 - p), exposure


def test_sbg_on_homogeneous_churn_reports_no_heterogeneity_but_the_right_mean():
    """Constant 10 % churn: the sBG's maximum is its geometric limit (α, β → ∞ with
    α/(α+β) = p). The verdict says so, the mean churn is the geometric p = lost / exposure
    by hand, and the interval is the geometric model's Wald interval."""
    fit = churn.fit_sbg(HOMOGENEOUS)
    assert not fit.converged_
    assert fit.verdict_ == "no heterogeneity" and "constant churn" in fit.note_
    p, ll_geo, exposure = _geometric_by_hand(HOMOGENEOUS)
    assert p == pytest.approx(0.1, abs=2e-3)
    assert fit.mean_churn_ == pytest.approx(p, rel=1e-9)
    assert fit.log_likelihood_ == pytest.approx(ll_geo, abs=1e-3)
    half = 1.959964 * np.sqrt(p * (1 - p) / exposure)
    np.testing.assert_allclose(fit.mean_churn_interval(), (p - half, p + half), rtol=1e-6)
    assert fit.standard_errors_ == {"alpha": np.inf, "beta": np.inf}
    np.testing.assert_allclose(fit.survival([1, 5, 9]), (1 - p) ** np.array([1, 5, 9]), rtol=1e-4)


@pytest.mark.parametrize("alpha", [73.65, 104.0, 178.8, 2900.5])
def test_sbg_no_heterogeneity_verdict_does_not_depend_on_where_the_ridge_stop_is(alpha):
    """Stops on the flat ridge that different BLAS kernels gave on the homogeneous series
    (α 73.65, 104, 178.8, 2900.5, β at the same ratio): every one is judged the same."""
    p, _, _ = _geometric_by_hand(HOMOGENEOUS)
    beta = alpha * (1 - p) / p
    data = churn._SBGData(HOMOGENEOUS.astype(float))
    verdict, note = churn._sbg_verdict(np.log([alpha, beta]), data)
    assert verdict == "no heterogeneity", note


def _stop_at(x, success):
    """An L-BFGS-B stand-in that stops at ``x`` with the given flag."""
    def minimize(fun, x0, **kwargs):
        return SimpleNamespace(x=np.asarray(x, dtype=float), fun=fun(np.asarray(x, dtype=float))[0],
                               success=success, message="ABNORMAL_TERMINATION_IN_LNSRCH")
    return minimize


def test_sbg_verdict_ignores_the_optimisers_flag(monkeypatch):
    """The two failures of the issue, by hand: a line-search stop (success False) next to
    the published high-end optimum is a converged fit at α 0.668, β 3.806, and a 'successful'
    stop on the homogeneous series' ridge (α 104, β 932) is still no heterogeneity."""
    near = np.log([0.668 * (1 + 3e-5), 3.806 * (1 - 2e-5)])
    monkeypatch.setattr(churn._opt, "minimize", _stop_at(near, success=False))
    fit = churn.fit_sbg(HIGH_END[:8])
    assert fit.converged_ and (round(fit.alpha_, 3), round(fit.beta_, 3)) == (0.668, 3.806)
    assert fit.log_likelihood_ == pytest.approx(-1611.158, abs=1e-3)
    monkeypatch.setattr(churn._opt, "minimize", _stop_at(np.log([104.0, 932.0]), success=True))
    fit = churn.fit_sbg(HOMOGENEOUS)
    assert not fit.converged_ and fit.verdict_ == "no heterogeneity"
    assert fit.mean_churn_ == pytest.approx(_geometric_by_hand(HOMOGENEOUS)[0], rel=1e-9)


def test_sbg_verdict_reads_the_gradient_with_a_tolerance():
    """At the published high-end estimates rounded to 3 decimals the gradient is clearly
    not zero (not converged); a relative error of 1e-9 is within tolerance."""
    data = churn._SBGData(np.asarray(HIGH_END[:8], dtype=float))
    fit = churn.fit_sbg(HIGH_END[:8])
    assert churn._sbg_verdict(np.log([fit.alpha_, fit.beta_]) + 1e-9, data) == ("converged", "")
    verdict, note = churn._sbg_verdict(np.log([0.668, 3.806]) + 0.01, data)
    assert verdict == "not converged" and "gradient" in note


def test_sbg_at_a_lower_bound_is_not_converged():
    """60 of 100 leave after the first period and nobody after: the likelihood grows as
    α, β → 0 with α/(α+β) = 0.6 (a mix of 'leave at once' and 'never leave'); the
    geometric model (LL -114.6) does not reach it (sup 60 ln 0.6 + 40 ln 0.4 = -67.3)."""
    fit = churn.fit_sbg([100, 40, 40, 40])
    assert not fit.converged_ and fit.verdict_ == "at bound" and "lower bound" in fit.note_
    assert fit.mean_churn_ == pytest.approx(0.6, abs=1e-3)
    assert fit.log_likelihood_ == pytest.approx(60 * np.log(0.6) + 40 * np.log(0.4), abs=1e-2)


# --------------------------------------------------------------------------- the generator


@pytest.fixture(scope="module")
def sample():
    truth = json.loads((SAMPLE_DIR / "truth.json").read_text())
    return load_dataset(SAMPLE_DIR), truth


def test_generator_per_plan_churn_is_recovered_within_intervals(sample):
    """The sample draws each subscriber's monthly churn θ ~ Beta(α, β) of their first plan
    (truth.json churn.sbg). The month-1 churn of new subscribers estimates E[θ] =
    α / (α + β) = mean_monthly_churn; its Wilson interval covers the truth for every plan,
    and the sBG fitted on the first 12 tenure months agrees within its own interval."""
    ds, truth = sample
    m1 = churn.month_one_churn(ds.subscriptions, by="plan").set_index("plan")
    assert set(m1.index) == set(truth["churn"]["sbg"])
    for plan, params in truth["churn"]["sbg"].items():
        target = params["mean_monthly_churn"]
        assert m1.loc[plan, "ci_low"] <= target <= m1.loc[plan, "ci_high"], plan
    alive = churn.tenure_survivors(ds.subscriptions, 12, by="plan")
    for plan, part in alive.groupby("plan"):
        fit = churn.fit_sbg(part["alive"].to_numpy())
        low, high = fit.mean_churn_interval()
        assert low <= truth["churn"]["sbg"][plan]["mean_monthly_churn"] <= high, plan


def test_headline_metrics_are_registered_rates_for_the_month_and_the_one_before(sample):
    ds, _ = sample
    kpis = churn.headline_metrics(ds.subscriptions, ds.events, "2026-10",
                                  events=["page_view", "feature_use", "share"])
    names = ["customer_churn_rate", "gross_mrr_churn_rate", "net_revenue_retention",
             "gross_revenue_retention", "month_one_retention"]
    assert list(dict.fromkeys(kpis["metric"])) == names
    assert set(kpis["month"]) == {"2026-10", "2026-09"} and len(kpis) == 10
    for name in names:
        assert get(name).unit == "rate"
    counted = kpis[kpis.metric.isin(["customer_churn_rate", "month_one_retention"])]
    assert counted[["numerator", "denominator"]].notna().all().all()
    assert (kpis["ci_low"] <= kpis["value"]).all() and (kpis["value"] <= kpis["ci_high"]).all()
    from kpilib.report import record_headline

    assert record_headline(kpis, month="2026-10").comparison["metric"].tolist() == names


def test_every_public_function_ties_to_a_registered_metric():
    for fn in (churn.churn_rate, churn.revenue_retention, churn.survival, churn.cohort_retention,
               churn.fit_sbg):
        assert fn.metrics, fn.__name__


# --------------------------------------------------------------------------- issue 11: cut-off


def last_day_churns(churn_time="00:00:00"):
    """A date-only export (a telecom's): every churn is dated on the last day of the data."""
    end = f"2026-09-30 {churn_time}"
    return subs([
        ("m1", "2025-09-30", end, 10.0),   # exactly 12 months
        ("m2", "2025-09-30", None, 10.0),  # censored at 12 months and 1 day of 30
        ("m3", "2026-03-30", end, 10.0),   # 6 months
        ("m4", "2025-06-30", None, 10.0),
        ("y1", "2025-01-15", end, 20.0),   # 20 months and 15 of 30 days
        ("y2", "2025-02-01", None, 20.0),
    ], {"plan": ["monthly"] * 4 + ["yearly"] * 2})


@pytest.mark.parametrize("churn_time", ["00:00:00", "23:59:59"])
def test_default_cutoff_counts_churns_on_the_last_day_of_date_only_data(churn_time):
    s = last_day_churns(churn_time)
    sep = month(churn.churn_rate(s), "2026-09")  # no as_of: the default cut-off
    assert (sep.active_at_start, sep.churned) == (6, 3) and sep.churn_rate == 0.5
    assert churn.churn_rate(s)["period"].iloc[-1] == "2026-09"  # the last month is complete
    assert month(churn.revenue_retention(s), "2026-09").churned_mrr == 40.0
    # Kaplan–Meier by hand. monthly: m3 leaves at 6 of 4 at risk, m1 at 12 of 3 (m1, m2, m4)
    # — or, leaving at 23:59:59 of its anniversary day, just after 12 months
    res = churn.survival(s, by="plan").summary.set_index("plan")
    by_12 = 3 / 4 * 2 / 3 if churn_time == "00:00:00" else 3 / 4
    assert res.loc["monthly", "survival_12m"] == pytest.approx(by_12)
    assert res.loc["yearly", "survival_12m"] == 1.0  # both lasted more than 20 months
    assert (res["churned"].sum(), res["censored"].sum()) == (3, 3)
    spells = churn.customer_spells(s).set_index("customer_id")
    assert spells["end_at"].notna().sum() == 3
    if churn_time == "00:00:00":
        assert spells.loc["m1", "tenure_months"] == 12.0 and spells.loc["m3", "tenure_months"] == 6.0
        assert spells.loc["y1", "tenure_months"] == pytest.approx(20.5)
    assert spells.loc["m2", "tenure_months"] == pytest.approx(12 + 1 / 30)  # to 1 October


def test_default_cutoff_keeps_the_last_day_of_activity_in_cohort_retention():
    o = orders([("a", "2026-08-03"), ("b", "2026-08-20"), ("a", "2026-09-30")])
    r = churn.cohort_retention(o)  # September is complete: the data run through 30 September
    cell = r[(r.cohort == "2026-08") & (r.offset == 1)].iloc[0]
    assert cell.complete and (cell.retained, cell.rate) == (1, 0.5)


# --------------------------------------------------------------------------- issue 11: calendar months


def calendar_history():
    """Lifetimes of whole calendar months across leap years and month ends, one open."""
    rows = [
        ("a", "2024-02-29", "2025-02-28"),  # 12 months (leap day to the last of February)
        ("b", "2023-03-15", "2024-03-15"),  # 12 months of 366 days (12.02 months of 30.44)
        ("c", "2024-01-31", "2024-02-29"),  # 1 month
        ("d", "2024-05-31", "2025-05-30"),  # 11 months to 30 April, then 30 of 31 days
        ("e", "2024-06-10", None),          # censored at exactly 12 months
        ("f", "2024-04-01", "2025-01-01"),  # 9 months
    ]
    return subs([(c, s, e, 10.0) for c, s, e in rows]), pd.Timestamp("2025-06-10", tz="UTC")


def test_survival_in_calendar_months_equals_lifelines_on_the_same_durations():
    from lifelines import KaplanMeierFitter

    s, as_of = calendar_history()
    res = churn.survival(s, as_of=as_of)
    duration = [calendar_months(a, b) for a, b in zip(pd.to_datetime(s.start_at, utc=True),
                                                       pd.to_datetime(s.end_at, utc=True).fillna(as_of),
                                                       strict=True)]
    assert duration == [12, 12, 1, pytest.approx(11 + 30 / 31), 12, 9]
    # the fit's input is counted: one row per duration and outcome (e censored at 12, a and b churned)
    life = res.lifetimes
    np.testing.assert_allclose(np.repeat(life["duration"], life["weight"]), sorted(duration), rtol=0, atol=1e-12)
    assert life["weight"].tolist() == [1, 1, 1, 1, 2] and life["churned"].tolist() == [True] * 3 + [False, True]
    kmf = KaplanMeierFitter().fit(duration, event_observed=s.end_at.notna())
    np.testing.assert_allclose(res.curves["survival"], kmf.survival_function_.iloc[:, 0])
    np.testing.assert_allclose(res.curves["tenure"], kmf.survival_function_.index)
    # by hand: 5/6 after c, 4/6 after f, 3/6 after d, then a and b leave of 3 at risk
    # (e, censored at 12, is still at risk at 12): S(12) = 1/6, not S(11) = 1/2
    assert res.summary.loc[0, "survival_12m"] == pytest.approx(1 / 6)
    assert float(kmf.predict(12.0)) == pytest.approx(1 / 6)
    assert res.summary.loc[0, "median_lifetime"] == pytest.approx(12.0)


def test_tenure_survivors_count_calendar_months():
    s, as_of = calendar_history()
    alive = churn.tenure_survivors(s, 12, as_of=as_of)
    # alive at k: still subscribed beyond start + k calendar months (e is open)
    tenure = np.array([12, 12, 1, 11 + 30 / 31, 12, 9])
    expected = [6] + [int(((tenure > k) | (np.arange(6) == 4)).sum()) for k in range(1, 13)]
    assert alive["alive"].tolist() == expected
    assert expected[11:] == [4, 1]  # a, b and d alive at 11; only e at 12
    # a fixed length in days is still possible: 365 days is past b's 12 months of 366
    by_days = churn.tenure_survivors(s, 12, as_of=as_of, period_days=365 / 12)
    assert by_days["alive"].iloc[-1] == 2
    m1 = churn.month_one_churn(s, as_of=as_of).iloc[0]
    assert (m1.subscribers, m1.churned) == (6, 1)  # c leaves at exactly one month


# --------------------------------------------------------------------------- issue 11: exact money


def test_mrr_sums_are_exact_and_the_same_bits_in_any_row_order():
    rows = [("a", "2026-01-05", None, 0.1), ("a", "2026-01-06", None, 0.2), ("a", "2026-01-07", None, 0.3),
            ("b", "2026-01-08", "2026-02-10", 122411.7), ("c", "2026-01-09", None, 122411.6),
            ("d", "2026-01-10", None, 122411.6)]
    # the values are order-sensitive in floating point
    interleaved = [rows[3], rows[0], rows[4], rows[1], rows[5], rows[2]]
    assert sum(v for *_, v in rows) != sum(v for *_, v in interleaved)
    s = subs(rows)
    reference = churn.revenue_retention(s, as_of="2026-03-01")
    feb = month(reference, "2026-02")
    assert feb.starting_mrr == 367235.5  # exactly, so it shows as 367,236 every time
    assert feb.churned_mrr == 122411.7 and feb.ending_mrr == 367235.5 - 122411.7
    rng = np.random.default_rng(0)
    for _ in range(4):
        shuffled = s.iloc[rng.permutation(len(s))].reset_index(drop=True)
        pd.testing.assert_frame_equal(churn.revenue_retention(shuffled, as_of="2026-03-01"), reference,
                                      check_exact=True)


def test_a_plan_change_that_adds_up_in_decimals_is_neither_contraction_nor_expansion():
    s = subs([("a", "2026-01-05", "2026-02-10", 10.1), ("a", "2026-01-05", "2026-02-10", 20.2),
              ("a", "2026-02-10", None, 30.3), ("b", "2026-01-05", None, 5.0)])
    feb = month(churn.revenue_retention(s, as_of="2026-03-01"), "2026-02")
    assert (feb.contraction_mrr, feb.expansion_mrr) == (0.0, 0.0)
    assert (feb.contracted_customers, feb.expanded_customers) == (0, 0)
    assert feb.nrr == 1.0 and feb.grr == 1.0


# --------------------------------------------------------------------------- issue 11: snapshots


def snapshot_history(leavers_before=0):
    """Customers on the books at 2026-09-01, plus everyone who left in September — the
    earlier leavers are missing (``leavers_before`` of them are kept)."""
    rng = np.random.default_rng(7)
    n = 300
    start = pd.Series(pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 600, n), "D"))
    end = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
    end.iloc[:80] = pd.Timestamp("2026-09-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 29, 80), "D")
    end.iloc[80:80 + leavers_before] = start.iloc[80:80 + leavers_before] + pd.Timedelta(days=40)
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "start_at": start, "end_at": end,
                          "mrr": 10.0, "plan": np.where(np.arange(n) % 3 == 0, "pro", "basic")})
    return frame[frame.start_at < pd.Timestamp("2026-09-01", tz="UTC")]


def test_a_snapshot_is_named_at_the_top_with_the_month_the_leavers_start():
    s = snapshot_history()
    rates = churn.churn_rate(s, as_of="2026-10-01")
    assert (rates["churned"].iloc[:-1] == 0).all() and rates["churned"].iloc[-1] > 0
    note = churn.snapshot_note(rates)
    assert note.startswith("Looks like a snapshot:") and "Leavers before 2026-09 are probably missing" in note
    assert "2025-02 to 2026-08" in note  # the zero months with customers at risk
    # a breakdown is added up per period; the note is the same
    by_plan = churn.churn_rate(s, by="plan", as_of="2026-10-01")
    assert churn.snapshot_note(by_plan) == note


def test_real_churn_and_a_few_quiet_months_of_a_small_base_are_not_snapshots():
    assert churn.snapshot_note(churn.churn_rate(snapshot_history(leavers_before=30), as_of="2026-10-01")) is None
    quiet = pd.DataFrame({"period": ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"],
                          "active_at_start": [0, 4, 5, 6, 7], "churned": [0, 0, 0, 0, 1]})
    assert churn.snapshot_note(quiet) is None
    # two zero months are fewer than three, unless the churn only starts in the latest one
    short = pd.DataFrame({"period": ["2026-01", "2026-02", "2026-03", "2026-04"],
                          "active_at_start": [500] * 4, "churned": [0, 0, 90, 80]})
    assert churn.snapshot_note(short) is None
    assert churn.snapshot_note(short.assign(churned=[0, 0, 0, 80])) is not None
    assert churn.snapshot_note(short.iloc[1:].assign(churned=[0, 0, 80])) is not None
    assert churn.snapshot_note(short.assign(churned=0)) is None  # no churn at all: nothing to compare
    ds = load_dataset(SAMPLE_DIR)
    assert churn.snapshot_note(churn.churn_rate(ds.subscriptions)) is None


# --------------------------------------------------------------------------- issue 11: cohort averages


def test_offsets_that_rest_on_few_cohorts_are_flagged():
    o = orders([("a", "2026-01-05"), ("a", "2026-04-02"), ("b", "2026-01-06"), ("c", "2026-02-01"),
                ("c", "2026-04-20"), ("d", "2026-03-03"), ("d", "2026-04-03"), ("e", "2026-04-09")])
    r = churn.cohort_retention(o, as_of="2026-05-01")
    for how in ("pooled", "simple"):
        avg = churn.retention_average(r, how).set_index("offset")
        assert avg["cohorts"].tolist() == [4, 3, 2, 1]
        assert avg["few_cohorts"].tolist() == [False, False, True, True]
    assert churn.retention_average(r, min_cohorts=1)["few_cohorts"].sum() == 0
    with pytest.raises(ValueError, match="min_cohorts"):
        churn.retention_average(r, min_cohorts=0)


def test_signup_cohorts_older_than_the_activity_log_are_missing_there_not_zero():
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"],
                              "signup_at": ["2025-11-10", "2025-12-02", "2026-01-04"], "channel": "email"})
    log = pd.DataFrame({"customer_id": ["a", "c", "c"], "event": "rating",
                        "ts": ["2026-01-15", "2026-01-20", "2026-02-11"]})  # the log starts in January
    r = churn.cohort_retention(log, cohort_by="signup", customers=customers, as_of="2026-03-01")
    cells = r.set_index(["cohort", "offset"])
    for cell in [("2025-11", 0), ("2025-11", 1), ("2025-12", 0)]:  # before the data start
        assert not cells.loc[cell, "complete"] and np.isnan(cells.loc[cell, "rate"]), cell
    assert cells.loc[("2025-11", 2), "rate"] == 1.0 and cells.loc[("2025-12", 1), "rate"] == 0.0
    assert cells.loc[("2026-01", 0), "rate"] == 1.0 and cells.loc[("2026-01", 1), "rate"] == 1.0
    avg = churn.retention_average(r).set_index("offset")
    assert avg.loc[0, "cohorts"] == 1  # only January's offset 0 was observed


# --------------------------------------------------------------------------- issue 11: sBG verdict


def test_sbg_on_the_sample_is_not_marked_and_beats_the_constant_churn_baseline(sample):
    """The saas sample's pooled cohort (281 customers, 6 calibration months, 77 churners):
    a healthy fit. Its holdout error beats the naive constant-churn model, computed here
    by hand from the survivor counts, and nothing marks it."""
    ds, _ = sample
    as_of = pd.Timestamp("2026-11-01", tz="UTC")
    projection = churn.sbg_projection(ds.subscriptions, 12, 6, by=None, as_of=as_of)
    row = projection.summary.iloc[0]
    alive = projection.alive.sort_values("tenure")["alive"].to_numpy(dtype=float)
    p = (alive[0] - alive[6]) / alive[:6].sum()
    hand = np.mean([abs(alive[0] * (1 - p) ** t / alive[t] - 1) for t in range(7, 13)])
    assert row["baseline_mape"] == pytest.approx(hand, rel=1e-12)
    assert row["holdout_mape"] < hand
    assert bool(row["reliable"]) and row["note"] == ""
    assert churn.sbg_reliability(projection.fits["all"], alive) is None
    assert projection.unreliable.empty


def test_sbg_fitted_on_two_periods_or_few_churners_is_marked():
    """Two calibration periods: the two parameters reproduce the data exactly, nothing
    tests the model; six churners in all. Both reasons appear; a healthy series (the
    paper's high-end segment) gives none."""
    note = churn.sbg_reliability(churn.fit_sbg([40, 36, 34]))
    assert note.startswith("unreliable: ")
    assert "fitted on 2 periods (< 3 needed)" in note and "6 customers churned" in note
    assert churn.sbg_reliability(churn.fit_sbg(HIGH_END[:8]), HIGH_END) is None


def test_sbg_at_a_bound_is_marked():
    note = churn.sbg_reliability(churn.fit_sbg([100, 40, 40, 40]))
    assert note.startswith("unreliable: the fit is at bound")


def test_sbg_that_loses_to_constant_churn_in_the_holdout_is_marked():
    """Churn falls fast in the calibration periods (the sBG reads strong heterogeneity)
    and then rises again: the constant-churn baseline (p = lost / exposure, by hand)
    projects the holdout better, by more than the thresholds."""
    alive = [1000, 800, 700, 650, 620, 600, 590, 520, 450, 380, 310, 240, 170]
    fit = churn.fit_sbg(alive[:7])
    assert fit.verdict_ == "converged"
    p = (1000 - 590) / sum(alive[:6])
    baseline = np.mean([abs(1000 * (1 - p) ** t / alive[t] - 1) for t in range(7, 13)])
    model = np.mean([abs(fit.expected_alive(t) / alive[t] - 1) for t in range(7, 13)])
    assert model > 1.5 * baseline and model - baseline > 0.02
    note = churn.sbg_reliability(fit, alive)
    assert note.startswith("unreliable: loses to a constant churn rate in the holdout")
    assert churn.sbg_reliability(fit) is None  # without the holdout there is nothing to lose


def test_sbg_projection_of_a_snapshot_cohort_is_marked():
    """A snapshot-like export: of 60 customers who started in January 2025, the leavers
    before the export are mostly missing, so only 3 churn in the 6 calibration months.
    The fit is made and shown, but its figures are marked with the reason."""
    ends = [None] * 52 + ["2025-03-10", "2025-05-03", "2025-06-20", "2025-09-02", "2025-10-11",
                          "2025-11-05", "2025-12-15", "2025-12-20"]
    frame = subs([(f"c{i}", "2025-01-01", end, 10.0) for i, end in enumerate(ends)])
    projection = churn.sbg_projection(frame, 12, 6, by=None, as_of="2026-02-01")
    row = projection.summary.iloc[0]
    assert row["cohort_size"] == 60 and not row["reliable"]
    assert row["note"].startswith("unreliable: ") and "3 customers churned" in row["note"]
    assert projection.unreliable.to_dict("records") == [{"segment": row["segment"], "note": row["note"]}]


def test_sbg_projection_of_three_weeks_has_no_fit_and_nothing_marked():
    frame = subs([(f"c{i}", "2026-10-01", "2026-10-15" if i % 3 == 0 else None, 10.0) for i in range(30)])
    projection = churn.sbg_projection(frame, 12, 6, by=None, as_of="2026-10-21")
    assert not projection.fits
    assert projection.unreliable.empty and list(projection.unreliable.columns) == ["segment", "note"]


# --------------------------------------------------------------------------- issue 14: counted in the engine


def segmented_history():
    """Ties in durations (churned and censored at 3 months), a censored-only segment, a
    one-customer segment, a customer with no plan (an empty segment value) and a second spell."""
    rows = [
        ("a1", "2026-01-01", "2026-04-01", "basic"), ("a2", "2026-01-01", "2026-04-01", "basic"),
        ("a3", "2026-02-01", "2026-05-01", "basic"), ("a4", "2026-03-01", None, "basic"),
        ("a5", "2026-06-01", "2026-09-01", "basic"), ("a5", "2026-09-20", None, "basic"),
        ("p1", "2026-01-15", None, "pro"), ("p2", "2026-04-10", None, "pro"),
        ("e1", "2026-02-03", "2026-02-20", "solo"),
        ("n1", "2026-01-10", "2026-07-10", None),
    ]
    s = subs([(c, start, end, 10.0) for c, start, end, _ in rows], extra={"plan": [r[3] for r in rows]})
    return s, pd.Timestamp("2026-06-01", tz="UTC")


@pytest.mark.parametrize("spells", ["first", "all"])
def test_survival_from_counts_equals_lifelines_on_one_row_per_customer(spells):
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test
    from lifelines.utils import median_survival_times

    s, as_of = segmented_history()
    as_of = as_of + pd.Timedelta(days=200)
    res = churn.survival(s, by="plan", as_of=as_of, spells=spells)
    # the straightforward computation: one row per lifetime, fitted without weights
    life = churn.customer_spells(s, as_of=as_of, by="plan")
    if spells == "first":
        life = life[life.spell == 1]
    life = life.assign(group=life["plan"].astype(str), churned=life["end_at"].notna())
    assert int(res.lifetimes["weight"].sum()) == len(life)
    assert res.summary["subscribers"].tolist() == life.groupby("group").size().tolist()
    for group, part in life.groupby("group"):
        kmf = KaplanMeierFitter().fit(part["tenure_months"], part["churned"])
        curve = res.curves[res.curves.group == group]
        np.testing.assert_allclose(curve["survival"], kmf.survival_function_.iloc[:, 0], rtol=1e-12)
        np.testing.assert_allclose(curve["ci_low"], kmf.confidence_interval_survival_function_.iloc[:, 0],
                                   rtol=1e-12, equal_nan=True)
        assert curve["at_risk"].tolist() == kmf.event_table["at_risk"].tolist()
        assert curve["censored"].tolist() == kmf.event_table["censored"].tolist()
        row = res.summary.set_index("group").loc[group]
        assert (row.churned, row.censored) == (int(part.churned.sum()), int((~part.churned).sum()))
        median = kmf.median_survival_time_
        assert (np.isnan(row.median_lifetime) and not np.isfinite(median)) or row.median_lifetime == median
        lo, _ = median_survival_times(kmf.confidence_interval_survival_function_).iloc[0]
        assert (np.isnan(row.median_ci_low) and not np.isfinite(lo)) or row.median_ci_low == lo
    test = multivariate_logrank_test(life["tenure_months"], life["group"], life["churned"])
    assert res.logrank.test_statistic[0] == pytest.approx(test.test_statistic, rel=1e-12)
    assert res.logrank.p_value[0] == pytest.approx(test.p_value, rel=1e-9)
    assert res.logrank.groups[0] == life["group"].nunique() == 4


def test_survival_counts_ties_censored_only_and_one_row_groups_by_hand():
    s, as_of = segmented_history()
    res = churn.survival(s, by="plan", as_of=as_of)
    life = res.lifetimes.set_index(["plan", "duration", "churned"])["weight"]
    assert life[("basic", 3.0, True)] == 3  # a1, a2, a3: churned at exactly 3 months
    assert life[("basic", 3.0, False)] == 1  # a4 censored at 3 months on 1 June
    summary = res.summary.set_index("plan")
    # basic: 3 churn at 3 of 4 at risk (the censored one is still at risk at 3): S(3) = 1/4
    basic = res.curves[res.curves.group == "basic"]
    assert basic["survival"].tolist() == [1.0, 0.25] and basic["at_risk"].tolist() == [4, 4]
    assert summary.loc["basic", "median_lifetime"] == 3.0
    # pro: censored only; solo: one customer, one churn; no plan: censored, its own group
    assert summary.loc["pro", "churned"] == 0 and not summary.loc["pro", "median_reached"]
    assert res.curves[res.curves.group == "pro"]["survival"].eq(1.0).all()
    assert (summary.loc["solo", "subscribers"], summary.loc["solo", "churned"]) == (1, 1)
    assert res.curves[res.curves.group == "solo"]["survival"].iloc[-1] == 0.0
    assert summary.loc[MISSING_LABEL, "censored"] == 1  # no plan: its own segment, censored


def test_cohort_retention_equals_a_straightforward_count():
    rows = [("a", "2026-01-03"), ("a", "2026-01-04"), ("a", "2026-03-09"), ("b", "2026-01-20"),
            ("c", "2026-02-02"), ("c", "2026-02-05"), ("c", "2026-04-01"), ("d", "2026-02-28"),
            ("e", "2026-04-30")]
    o = orders(rows)
    as_of = pd.Timestamp("2026-05-01", tz="UTC")
    seen = pd.DataFrame(rows, columns=["customer_id", "ts"]).assign(
        p=lambda f: pd.to_datetime(f.ts).dt.to_period("M"))[["customer_id", "p"]].drop_duplicates()
    seen["cohort"] = seen.groupby("customer_id")["p"].transform("min")
    seen["offset"] = (seen.p - seen.cohort).map(lambda d: d.n)
    sizes = seen.groupby("cohort")["customer_id"].nunique()
    for mode in ("on", "on_or_after"):
        r = churn.cohort_retention(o, mode=mode, as_of=as_of)
        for _, cell in r.iterrows():
            cohort = pd.Period(cell.cohort, "M")
            members = seen[seen.cohort == cohort]
            k = cell.offset
            if cohort + k > pd.Period("2026-04", "M"):
                assert not cell.complete and pd.isna(cell.retained)
                continue
            hit = members[members.offset == k] if mode == "on" else members[members.offset >= k]
            assert cell.cohort_size == sizes[cohort]
            assert cell.retained == hit.customer_id.nunique(), (mode, cell.cohort, k)
    # a breakdown with a customer missing from customers (an empty segment value) and a
    # one-customer segment
    customers = pd.DataFrame({"customer_id": list("abde"), "signup_at": "2026-01-01",
                              "channel": ["ads", "ads", "seo", "ads"]})
    r = churn.cohort_retention(o, mode="on", by="channel", customers=customers, as_of=as_of)
    assert r.groupby(["cohort", "channel"])["cohort_size"].first().to_dict() == {
        ("2026-01", "ads"): 2, ("2026-02", MISSING_LABEL): 1, ("2026-02", "seo"): 1, ("2026-04", "ads"): 1,
    }
    c = r[(r.cohort == "2026-02") & (r.channel == MISSING_LABEL)].set_index("offset")["retained"]
    assert c.tolist()[:3] == [1, 0, 1]  # c: February, then April


# ----------------------------------------------- issue 14: the notebook's tables as functions


def test_retention_averages_sets_pooled_beside_simple_by_hand():
    # cohorts of 4 (Jan) and 2 (Feb); a by hand: month 1 retains 2 of 4 and 2 of 2 (a tie in
    # the activity of b: two orders the same day count once), month 2 only January: 1 of 4
    o = orders([("a", "2026-01-05"), ("a", "2026-02-02"), ("a", "2026-03-03"), ("b", "2026-01-06"),
                ("b", "2026-02-07"), ("b", "2026-02-07"), ("c", "2026-01-20"), ("d", "2026-01-21"),
                ("e", "2026-02-01"), ("e", "2026-03-01"), ("f", "2026-02-14"), ("f", "2026-03-30")])
    r = churn.cohort_retention(o, as_of="2026-04-01")
    table = churn.retention_averages(r, min_cohorts=2)
    assert table.index.tolist() == [0, 1, 2]
    assert table.loc[1, "pooled"] == pytest.approx(4 / 6) and table.loc[1, "simple"] == pytest.approx((0.5 + 1.0) / 2)
    assert table.loc[2, "pooled"] == pytest.approx(1 / 4) and table.loc[2, "simple"] == pytest.approx(1 / 4)
    assert table["cohorts"].tolist() == [2, 2, 1] and table["few_cohorts"].tolist() == [False, False, True]
    assert churn.retention_averages(r, max_offset=1).index.tolist() == [0, 1]
    # an empty retention (no activity) gives an empty table, a breakdown is refused
    assert churn.retention_averages(r[r["complete"] & False]).empty
    with pytest.raises(ValueError, match="breakdown"):
        churn.retention_averages(r.assign(channel="ads"))


def test_retention_curves_leave_out_offsets_on_few_cohorts_per_group():
    o = orders([("a", "2026-01-05"), ("a", "2026-02-02"), ("b", "2026-02-06"), ("b", "2026-03-07"),
                ("c", "2026-01-20"), ("d", "2026-02-21"), ("d", "2026-03-01")])
    customers = pd.DataFrame({"customer_id": list("abcd"), "signup_at": ["2025-12-01"] * 4,
                              "channel": ["ads", "ads", "seo", "seo"]})
    r = churn.cohort_retention(o, by="channel", customers=customers, as_of="2026-04-01")
    wide = churn.retention_curves(r, "channel", min_cohorts=2)
    # ads: cohorts Jan (a) and Feb (b) both retain at month 1 -> 2/2; month 2 rests on Jan alone
    # seo: Jan (c) does not, Feb (d) does -> 1/2
    assert wide.columns.tolist() == ["ads", "seo"] and wide.index.tolist() == [0, 1]
    assert wide.loc[1, "ads"] == 1.0 and wide.loc[1, "seo"] == 0.5
    assert churn.retention_curves(r, "channel", min_cohorts=2, max_offset=0).index.tolist() == [0]
    assert churn.retention_curves(r, "channel", min_cohorts=3).empty
    simple = churn.retention_curves(r, "channel", "simple", min_cohorts=1)
    # month 2 (March) of the January cohorts: neither a nor c came back
    assert simple.index.tolist() == [0, 1, 2] and simple.loc[2].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="no column 'plan'"):
        churn.retention_curves(r, "plan")


def test_headline_reads_month_one_retention_off_a_given_retention():
    ds = load_dataset(SAMPLE_DIR)
    ev = ["page_view", "feature_use", "share"]
    _, as_of = churn._headline.month_bounds("2026-10")
    computed = churn.headline_metrics(ds.subscriptions, ds.events, "2026-10", events=ev)
    given = churn.cohort_retention(ds.events, "M", "on", events=ev, as_of=as_of)
    reused = churn.headline_metrics(ds.subscriptions, None, "2026-10", events=ev, retention=given)
    pd.testing.assert_frame_equal(computed, reused)
    assert "month_one_retention" in set(reused["metric"])
    for wrong in (churn.cohort_retention(ds.events, "M", "on_or_after", events=ev, as_of=as_of),
                  churn.cohort_retention(ds.events, "M", "on", as_of=as_of),
                  churn.cohort_retention(ds.events, "M", "on", events=ev, as_of="2026-10-15")):
        with pytest.raises(ValueError, match="does not give the month-1 retention"):
            churn.headline_metrics(None, None, "2026-10", events=ev, retention=wrong)
