"""Every figure that draws intervals from low/high values draws any interval it is given:
one that does not contain its point estimate is the segment from low to high (a
bootstrap percentile interval need not contain the estimate), and one with a missing
bound draws no whisker — never a ValueError, never a zero-length whisker."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from kpilib import plots  # noqa: E402
from kpilib.plots import _style  # noqa: E402

NAN = float("nan")
# per row: estimate, low, high — inside, above the estimate (not containing it), a missing low bound
ESTIMATE = [0.50, 0.20, 0.10]
LOW = [0.40, 0.25, NAN]
HIGH = [0.60, 0.35, 0.15]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def whiskers(ax) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Every whisker segment drawn, as ((x0, y0), (x1, y1)) rounded to 9 decimals."""
    return sorted(tuple(tuple(round(float(v), 9) for v in point) for point in seg)
                  for c in ax.collections if isinstance(c, LineCollection) for seg in c.get_segments())


def vertical(at, low, high):
    return sorted(((round(a, 9), round(lo, 9)), (round(a, 9), round(hi, 9)))
                  for a, lo, hi in zip(at, low, high, strict=True) if np.isfinite(lo) and np.isfinite(hi))


def horizontal(at, low, high):
    return sorted(((round(lo, 9), round(a, 9)), (round(hi, 9), round(a, 9)))
                  for a, lo, hi in zip(at, low, high, strict=True) if np.isfinite(lo) and np.isfinite(hi))


def points(ax) -> set[tuple[float, float]]:
    return {(round(float(x), 9), round(float(y), 9)) for line in ax.get_lines() if line.get_marker() == "o"
            for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)}


def test_the_helper_draws_the_segment_and_skips_a_missing_bound():
    _, ax = plt.subplots()
    _style._draw_intervals(ax, [0, 1, 2, 3], [0.4, 0.25, NAN, 0.7], [0.6, 0.35, 0.15, np.inf])
    assert whiskers(ax) == [((0.0, 0.4), (0.0, 0.6)), ((1.0, 0.25), (1.0, 0.35))]
    _, ax = plt.subplots()
    assert _style._draw_intervals(ax, [0], [NAN], [NAN]) is None and not ax.collections


def test_funnel_bars():
    table = pd.DataFrame({"step_index": [1, 2, 3], "step": ["a", "b", "c"], "users": [100, 20, 10],
                          "conversion": ESTIMATE, "ci_low": LOW, "ci_high": HIGH})
    ax = plots.plot_funnel(table)
    assert whiskers(ax) == vertical([0.0, 1.0, 2.0], LOW, HIGH)


def test_conversion_by_group():
    rates = pd.DataFrame({"channel": ["x", "y", "z"], "numerator": [50, 20, 10], "denominator": [100] * 3,
                          "rate": ESTIMATE, "ci_low": LOW, "ci_high": HIGH})
    ax = plots.plot_conversion_by(rates)
    # sorted by rate, lowest at the bottom: z (0.10) at 0, y (0.20) at 1, x (0.50) at 2
    assert whiskers(ax) == horizontal([2.0, 1.0, 0.0], LOW, HIGH)


def test_drop_off():
    drops = pd.DataFrame({"from_step": ["a", "b", "c"], "to_step": ["b", "c", "d"], "drop_off_rate": ESTIMATE,
                          "ci_low": LOW, "ci_high": HIGH})
    ax = plots.plot_drop_off(drops)
    assert whiskers(ax) == vertical([0.0, 1.0, 2.0], LOW, HIGH)


def test_ab_comparison_point_outside_its_interval():
    result = pd.DataFrame({"a": ["p", "p", "p"], "b": ["q", "r", "s"], "difference": ESTIMATE, "ci_low": LOW,
                           "ci_high": HIGH, "significant": [True, True, False]})
    ax = plots.plot_ab_comparison(result)
    pp = [100 * v for v in ESTIMATE]
    assert whiskers(ax) == horizontal([0.0, 1.0, 2.0], [100 * v for v in LOW], [100 * v for v in HIGH])
    assert points(ax) == {(round(d, 9), float(i)) for i, d in enumerate(pp)}  # every estimate, bar or not


def test_email_campaigns():
    result = pd.DataFrame({"campaign": ["a", "b", "c"], "open_rate": ESTIMATE, "open_rate_ci_low": LOW,
                           "open_rate_ci_high": HIGH})
    ax = plots.plot_email_campaigns(result, rates=("open_rate",))
    assert whiskers(ax) == vertical([0.0, 1.0, 2.0], LOW, HIGH)
    assert points(ax) == {(float(i), v) for i, v in enumerate(ESTIMATE)}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Open rate"]


def test_health_lift():
    lift = pd.DataFrame({"group": [1, 2, 3], "churn_rate": ESTIMATE, "ci_low": LOW, "ci_high": HIGH,
                         "score_min": [0, 40, 70], "score_max": [39, 69, 100]})
    validation = SimpleNamespace(lift=lift, churned=3, stayed=7, month="2026-10")
    ax = plots.plot_health_lift(validation)
    assert whiskers(ax) == vertical([0.0, 1.0, 2.0], LOW, HIGH)
