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
