"""CLV figures: each draws the result it is given (bars, lines, labels) and returns the Axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from kpilib import clv, plots  # noqa: E402

CAL_END = "1997-09-30"


@pytest.fixture(scope="module")
def checked():
    cdnow = clv.load_cdnow()
    split = clv.calibration_holdout_summary(cdnow, CAL_END, monetary_value_col="amount", period_multiplier=7)
    return cdnow, split, clv.fit_clv(split)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_period_transactions(checked):
    _, _, fit = checked
    table = clv.period_transactions(fit)
    ax = plots.plot_period_transactions(table)
    assert len(ax.patches) >= 2 * len(table)  # actual and model bar per class (+ legend handles)
    assert "χ²" in ax.get_title() and ax.get_ylabel() == "customers"


def test_tracking_cumulative_and_incremental(checked):
    cdnow, _, fit = checked
    track = clv.purchase_tracking(cdnow, fit, calibration_period_end=CAL_END, period_multiplier=7)
    ax = plots.plot_tracking(track)
    assert [line.get_label() for line in ax.get_lines()] == ["actual", "model"]
    assert list(ax.get_lines()[0].get_ydata()) == list(track["cumulative_actual"])
    ax = plots.plot_tracking(track, cumulative=False)
    assert list(ax.get_lines()[1].get_ydata()) == list(track["expected"])
    assert ax.get_title().startswith("Incremental")


def test_conditional_expectations_and_scorecard(checked):
    _, split, fit = checked
    table = clv.conditional_expectations(fit, split)
    ax = plots.plot_conditional_expectations(table)
    assert len(ax.get_lines()) == 2 and len(ax.get_xticklabels()) == len(table)
    card = clv.holdout_scorecard(fit, split)
    ax = plots.plot_holdout_scorecard(card)
    assert len([p for p in ax.patches if p.get_height() > 0]) >= 2 * len(card) - 1  # zero's MAE bar > 0


def test_frequency_recency_matrix(checked):
    _, _, fit = checked
    grid = clv.frequency_recency_matrix(fit)
    ax = plots.plot_frequency_recency_matrix(grid)
    assert ax.images and ax.get_ylabel() == "repeat purchases"
    ax = plots.plot_frequency_recency_matrix(grid, value="expected_purchases")
    assert "Expected purchases" in ax.get_title()


def test_value_figures(checked):
    cdnow, _, _ = checked
    value = clv.customer_value(cdnow, period_multiplier=7)
    ax = plots.plot_clv_distribution(value)
    assert ax.get_xscale() == "log" and any("median" in t.get_text() for t in ax.get_legend().get_texts())
    ax = plots.plot_value_tiers(clv.value_tiers(value))
    assert len([p for p in ax.patches if p.get_height() > 0]) == 6


def test_value_by_channel_leaves_out_channels_without_cac():
    channels = pd.DataFrame({"channel": ["email", "social", "tv"], "clv_to_cac": [3.0, 0.6, float("nan")]})
    ax = plots.plot_value_by_channel(channels)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["email", "social"]
    assert ax.get_lines()[-1].get_ydata()[0] == 1.0


def test_parameter_recovery(checked):
    _, _, fit = checked
    table = clv.parameter_table(fit, reference={"bgnbd": clv.CDNOW_PUBLISHED["bgnbd"],
                                                "gamma_gamma": clv.CDNOW_PUBLISHED["gamma_gamma"]})
    ax = plots.plot_parameter_recovery(table)
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "bgnbd: r"
    with pytest.raises(ValueError, match="needs the columns"):
        plots.plot_parameter_recovery(table.drop(columns="reference"))


def test_parameter_recovery_draws_an_interval_that_misses_its_estimate():
    """A bootstrap percentile interval need not contain the full-data estimate (the small
    sample's 04_clv crashed on one with "'xerr' must not contain negative values"): the
    whisker runs from low to high over the reference, the point sits at the estimate, and
    a missing bound draws no whisker."""
    table = pd.DataFrame({"model": ["bgnbd"] * 3, "parameter": ["r", "alpha", "a"],
                          "estimate": [0.25, 4.0, 0.8], "reference": [0.25, 5.0, 1.0],
                          "ci_low": [0.2, 5.5, float("nan")], "ci_high": [0.3, 6.0, 1.2]})
    ax = plots.plot_parameter_recovery(table)
    segments = [seg for c in ax.collections for seg in c.get_segments()]
    np.testing.assert_allclose(segments, [[(0.8, 0.0), (1.2, 0.0)], [(1.1, 1.0), (1.2, 1.0)]], rtol=1e-12)
    estimate = next(line for line in ax.get_lines() if line.get_label() == "estimate")
    assert list(estimate.get_xdata()) == [1.0, 0.8, 0.8] and list(estimate.get_ydata()) == [0, 1, 2]
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["bootstrap interval", "estimate", "reference"]


def test_parameter_recovery_turns_logarithmic_when_one_ratio_runs_away():
    """One parameter 166,665× its reference (a degenerate fit) would pin every other point
    onto 1 on a linear axis; ratios within a factor of 20 stay linear."""
    table = pd.DataFrame({"model": ["bgnbd"] * 3, "parameter": ["r", "alpha", "b"],
                          "estimate": [0.25, 4.5, 166_665.0], "reference": [0.25, 5.0, 1.0]})
    ax = plots.plot_parameter_recovery(table)
    assert ax.get_xscale() == "log" and "log scale" in ax.get_xlabel()
    tame = table.assign(estimate=[0.25, 4.5, 2.0])
    assert plots.plot_parameter_recovery(tame).get_xscale() == "linear"
