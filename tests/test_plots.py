"""Each figure returns an Axes with the expected bars, lines and labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from kpilib import funnel as F  # noqa: E402
from kpilib import plots  # noqa: E402

DAY0 = pd.Timestamp("2026-01-01", tz="UTC")
STEPS = ["visit", "signup", "purchase"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(120):
        channel = ["email", "social", "referral"][i % 3] if i < 110 else "tiny"
        start = DAY0 + pd.Timedelta(days=int(rng.integers(0, 200)))
        rows.append((f"u{i}", start, "visit", channel, ["/", "/pricing"][i % 2]))
        if rng.random() < 0.5:
            rows.append((f"u{i}", start + pd.Timedelta(hours=int(rng.integers(1, 100))), "signup", None, None))
            rows.append((f"u{i}", start + pd.Timedelta(days=2), "lead", None, None))
            if rng.random() < 0.5:
                rows.append((f"u{i}", start + pd.Timedelta(days=5), "purchase", None, None))
    return pd.DataFrame(rows, columns=["customer_id", "ts", "event", "channel", "page"])


def bar_patches(ax: Axes) -> list:
    return [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle)]


def test_plot_funnel_draws_a_labelled_bar_per_step(events):
    ax = plots.plot_funnel(F.funnel(events, STEPS))
    assert isinstance(ax, Axes)
    assert len(bar_patches(ax)) == 3
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1. visit", "2. signup", "3. purchase"]
    assert any(t.get_text().startswith("100.0%") for t in ax.texts)
    assert len(ax.collections) >= 1  # interval whiskers


def test_plot_funnel_uses_hue_for_the_breakdown(events):
    table = F.funnel(events, STEPS, by="channel")
    ax = plots.plot_funnel(table)
    assert len(bar_patches(ax)) == 3 * 4
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["email", "referral", "social", "tiny"]


def test_plot_conversion_by_flags_small_groups(events):
    rates = F.conversion_rate(events, STEPS, by="channel")
    fig, ax = plt.subplots()
    assert plots.plot_conversion_by(rates, ax=ax) is ax
    bars = bar_patches(ax)
    assert len(bars) == 4
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sum("small" in label for label in labels) == 1
    assert any(label.startswith("tiny") and "small" in label for label in labels)
    assert sum(bool(b.get_hatch()) for b in bars) == 1


def test_plot_time_to_convert_marks_the_median(events):
    result = F.time_to_convert(events, STEPS, bins=14)
    ax = plots.plot_time_to_convert(result)
    assert len(bar_patches(ax)) == 14
    assert any("median" in t.get_text() for t in ax.get_legend().get_texts())
    by_channel = plots.plot_time_to_convert(F.time_to_convert(events, STEPS, by="channel"))
    assert len(by_channel.get_legend().get_texts()) == 4


def test_plot_drop_off_has_a_bar_per_transition(events):
    ax = plots.plot_drop_off(F.drop_off(F.funnel(events, STEPS)))
    assert len(bar_patches(ax)) == 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["visit → signup", "signup → purchase"]


def test_plot_nurture_and_lead_score_profile(events):
    summary = F.nurture_summary(events)
    ax = plots.plot_nurture(summary)
    assert len(ax.get_legend().get_texts()) == 3
    assert len(ax.get_lines()) >= 3
    profile = F.new_lead_score_profile(events, mql=F.MQLOptions(behaviour_points={"lead": 10, "signup": 5}))
    ax = plots.plot_lead_score_profile(profile, threshold=12)
    assert len(ax.get_lines()) == 3  # median, mean, threshold
    assert len(ax.collections) == 1  # the interquartile band
    assert ax.get_lines()[0].get_xdata().size == len(profile)


def test_plot_ab_comparison_puts_the_difference_against_zero(events):
    result = F.ab_comparison(events, STEPS, by="channel", a="email", b="social")
    ax = plots.plot_ab_comparison(result)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["social − email"]
    assert any(np.allclose(line.get_xdata(), 0) for line in ax.get_lines())


def test_a_figure_refuses_the_wrong_input():
    with pytest.raises(ValueError, match="plot_funnel needs"):
        plots.plot_funnel(pd.DataFrame({"x": [1]}))
