"""Shared statistics against published tables and an outside implementation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chi2_contingency

from kpilib.stats import compare_proportions, rate_frame, wilson_interval


@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score)
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_matches_newcombe_table(x, n, low, high):
    lo, hi = wilson_interval(x, n)
    assert lo == pytest.approx(low, abs=5e-5)
    assert hi == pytest.approx(high, abs=5e-5)


def test_wilson_is_vectorised_and_undefined_for_zero_trials():
    lo, hi = wilson_interval(np.array([81, 0]), np.array([263, 0]))
    assert lo[0] == pytest.approx(0.2553, abs=5e-5) and np.isnan(lo[1]) and np.isnan(hi[1])


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError, match="exceed"):
        wilson_interval(5, 4)
    with pytest.raises(ValueError, match="non-negative"):
        wilson_interval(-1, 4)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 4, confidence=95)


@given(st.integers(0, 500), st.integers(1, 500))
def test_wilson_contains_the_estimate(x, n):
    x = min(x, n)
    lo, hi = wilson_interval(x, n)
    assert 0 <= lo <= x / n <= hi <= 1


def test_wider_confidence_gives_a_wider_interval():
    lo95, hi95 = wilson_interval(30, 100)
    lo99, hi99 = wilson_interval(30, 100, confidence=0.99)
    assert lo99 < lo95 and hi99 > hi95


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "low", "high"),
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10
    [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
    ],
)
def test_difference_interval_matches_newcombe_table(x1, n1, x2, n2, low, high):
    r = compare_proportions(x1, n1, x2, n2).iloc[0]
    assert r.ci_low == pytest.approx(low, abs=5e-5)
    assert r.ci_high == pytest.approx(high, abs=5e-5)
    assert r.difference == pytest.approx(x1 / n1 - x2 / n2)


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), [(56, 70, 48, 80), (120, 1000, 100, 1000), (3, 40, 9, 41)])
def test_p_value_equals_pearson_chi_square(x1, n1, x2, n2):
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    expected = chi2_contingency(table, correction=False)[1]
    r = compare_proportions(x1, n1, x2, n2).iloc[0]
    assert r.p_value == pytest.approx(expected, rel=1e-9)
    assert bool(r.significant) == (expected < 0.05)


def test_compare_with_an_empty_group_is_not_significant():
    r = compare_proportions(5, 10, 0, 0).iloc[0]
    assert np.isnan(r.difference) and not r.significant


def test_rate_frame_flags_small_denominators_and_never_divides_by_zero():
    f = rate_frame([3, 40, 0], [10, 100, 0])
    assert f.rate.iloc[1] == 0.4 and np.isnan(f.rate.iloc[2])
    assert f.small_sample.tolist() == [True, False, True]
    lo, hi = wilson_interval(40, 100)
    assert f.ci_low.iloc[1] == pytest.approx(lo) and f.ci_high.iloc[1] == pytest.approx(hi)


# --- the intervals and tests every domain shares (kpilib.stats), against outside values ---

from scipy import stats as sps  # noqa: E402

from kpilib.stats import (  # noqa: E402
    auc_interval,
    chi_square_test,
    compare_estimates,
    delta_interval,
    mean_interval,
    multinomial_difference,
    ratio_interval,
    t_interval,
    z_quantile,
)

RNG = np.random.default_rng(20261206)


def test_z_quantile_is_the_normal_quantile_and_refuses_a_percent():
    assert z_quantile(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_quantile(0.90) == pytest.approx(1.644854, abs=1e-6)
    with pytest.raises(ValueError, match="confidence"):
        z_quantile(95)


def test_t_interval_matches_scipy_on_raw_values():
    for n in (2, 5, 40):
        x = RNG.normal(3.0, 2.0, n)
        low, high = t_interval(x.mean(), x.std(ddof=1), n, 0.9)
        ref = sps.t.interval(0.9, n - 1, loc=x.mean(), scale=sps.sem(x))
        assert (low, high) == pytest.approx(ref, rel=1e-12)
    assert all(np.isnan(t_interval(1.0, 0.0, 1)))


def test_mean_interval_from_sums_matches_the_raw_values():
    groups = [RNG.integers(1, 8, n).astype(float) for n in (1, 2, 30, 500)]
    total = [g.sum() for g in groups]
    total_sq = [(g**2).sum() for g in groups]
    mean, se, low, high = mean_interval(total, total_sq, [len(g) for g in groups])
    for i, g in enumerate(groups):
        assert mean[i] == pytest.approx(g.mean())
        if len(g) < 2:
            assert np.isnan(se[i]) and np.isnan(low[i])
            continue
        assert se[i] == pytest.approx(sps.sem(g), rel=1e-9)
        ref = sps.t.interval(0.95, len(g) - 1, loc=g.mean(), scale=sps.sem(g))
        assert (low[i], high[i]) == pytest.approx(ref, rel=1e-9)


def test_ratio_interval_equals_the_residual_form_on_unit_data():
    x = RNG.gamma(2.0, 50.0, 300)
    y = x * RNG.uniform(0, 0.3, 300)
    r, lo, hi = ratio_interval(len(x), x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum())
    ratio = y.sum() / x.sum()
    # Cochran (1977) eq. 6.13 on the unit values: Var(R) = Σ(y − Rx)² / ((n − 1) · n · x̄²)
    var = ((y - ratio * x) ** 2).sum() / ((len(x) - 1) * len(x) * x.mean() ** 2)
    assert r == pytest.approx(ratio)
    assert (lo, hi) == pytest.approx((ratio - 1.959964 * var**0.5, ratio + 1.959964 * var**0.5), rel=1e-6)


def test_ratio_interval_coverage_is_close_to_nominal():
    pop_x = RNG.gamma(2.0, 50.0, 20_000)
    pop_y = pop_x * RNG.uniform(0, 0.3, 20_000)
    true = pop_y.sum() / pop_x.sum()
    hits = 0
    for _ in range(400):
        idx = RNG.integers(0, len(pop_x), 200)
        x, y = pop_x[idx], pop_y[idx]
        _, lo, hi = ratio_interval(200, x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum())
        hits += lo <= true <= hi
    assert 0.91 <= hits / 400 <= 0.98


def test_delta_interval_is_exact_for_a_linear_function():
    cov = np.array([[0.04, 0.01], [0.01, 0.09]])
    grad = np.array([2.0, -1.0])
    se = float(np.sqrt(grad @ cov @ grad))  # Var(2a − b) = 4·0.04 + 0.09 − 4·0.01
    assert se == pytest.approx(np.sqrt(0.21))
    lo, hi = delta_interval(1.0, grad, cov)
    assert (lo, hi) == pytest.approx((1 - 1.959964 * se, 1 + 1.959964 * se), rel=1e-6)
    assert delta_interval(0.01, grad, cov, bounds=(0, 1))[0] == 0


def test_multinomial_difference_equals_the_variance_of_the_per_answer_score():
    answers = RNG.choice([1, 0, -1], p=[0.5, 0.3, 0.2], size=250)  # promoter, passive, detractor
    a, b, n = (answers == 1).sum(), (answers == -1).sum(), len(answers)
    r = multinomial_difference(a, b, n)
    assert r["difference"][0] == pytest.approx(answers.mean())
    assert r["se"][0] == pytest.approx(answers.std(ddof=0) / np.sqrt(n))
    assert r["interval"][0] == "wald"


def test_multinomial_difference_all_in_one_category_uses_the_adjusted_interval():
    r = multinomial_difference(20, 0, 20)
    assert r["interval"][0] == "adjusted-wald"
    assert r["ci_low"][0] < 1 and r["ci_high"][0] == 1
    assert r["difference"][0] == 1


def test_compare_estimates_matches_welch_with_large_samples():
    # scipy's Welch test from summary statistics; with n = 10⁶ per group t is the z-test
    n = 1_000_000
    m1, m2, s1, s2 = 0.80, 0.34, 0.12 * n**0.5, 0.11 * n**0.5
    ref = sps.ttest_ind_from_stats(m1, s1, n, m2, s2, n, equal_var=False)
    r = compare_estimates(m1, 0.12, m2, 0.11)
    assert r["z"][0] == pytest.approx(ref.statistic, rel=1e-9)
    assert r["p_value"][0] == pytest.approx(ref.pvalue, rel=1e-4)
    assert bool(r["significant"][0])
    assert not bool(compare_estimates(np.nan, 0.1, 1.0, 0.1)["significant"][0])


def test_auc_interval_follows_hanley_mcneil_and_covers_the_rank_auc():
    pos = RNG.normal(1.0, 1.0, 80)
    neg = RNG.normal(0.0, 1.0, 120)
    u = sps.mannwhitneyu(pos, neg).statistic
    auc = u / (len(pos) * len(neg))
    lo, hi = auc_interval(auc, len(pos), len(neg))
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    se = np.sqrt((auc * (1 - auc) + 79 * (q1 - auc**2) + 119 * (q2 - auc**2)) / (80 * 120))
    assert (lo, hi) == pytest.approx((auc - 1.959964 * se, auc + 1.959964 * se), rel=1e-6)
    assert all(np.isnan(auc_interval(0.5, 0, 10)))


def test_chi_square_test_matches_scipy_chisquare():
    observed = np.array([30, 14, 34, 45, 57, 20])
    expected = np.full(6, observed.sum() / 6)
    for fitted in (0, 2):
        ref = sps.chisquare(observed, expected, ddof=fitted)
        chi2, dof, p = chi_square_test(observed, expected, fitted)
        assert chi2 == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)
        assert dof == 5 - fitted
    assert np.isnan(chi_square_test([1, 2], [1.5, 1.5], 1)[2])


def test_correlation_interval_matches_scipy_pearsonr():
    from kpilib.stats import correlation_interval

    x = RNG.normal(size=60)
    y = 0.4 * x + RNG.normal(size=60)
    result = sps.pearsonr(x, y)
    ref = result.confidence_interval(0.95)
    assert correlation_interval(result.statistic, 60) == pytest.approx((ref.low, ref.high), rel=1e-9)
    assert all(np.isnan(correlation_interval(0.3, 3)))
