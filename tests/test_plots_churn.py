"""Churn figures: each draws on the Axes it is given, returns it, and shows what it should."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from kpilib import (
    churn,  # noqa: E402
    plots,  # noqa: E402
)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def subs():
    return pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "f"],
        "start_at": ["2026-01-03", "2026-01-05", "2026-01-20", "2026-02-02", "2026-02-10", "2026-03-01"],
        "end_at": ["2026-02-14", None, "2026-04-02", None, "2026-03-20", None],
        "mrr": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
        "plan": ["basic", "pro", "basic", "pro", "basic", "pro"],
    })


def test_churn_rate_plot_draws_a_line_per_group_and_the_context_band(subs):
    rates = churn.churn_rate(subs, by="plan", as_of="2026-05-01")
    fig, ax = plt.subplots()
    assert plots.plot_churn_rate(rates, ax=ax, group="plan") is ax
    assert len(ax.lines) == 2
    assert any("SaaS" in t.get_text() for t in ax.get_legend().get_texts())
    no_band = plots.plot_churn_rate(churn.churn_rate(subs, as_of="2026-05-01"), benchmark=False)
    assert not any("SaaS" in t.get_text() for t in no_band.get_legend().get_texts())


def test_revenue_plots(subs):
    rev = churn.revenue_retention(subs, as_of="2026-05-01")
    ax = plots.plot_revenue_retention(rev)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["GRR", "NRR"]
    ax = plots.plot_mrr_movements(rev)
    heights = [p.get_height() for p in ax.patches]
    assert min(heights) < 0 < max(heights)  # losses below zero, gains above


def test_heatmap_leaves_incomplete_cells_blank_and_labels_the_average(subs):
    orders = pd.DataFrame({"customer_id": ["a", "a", "b", "c"],
                           "ts": ["2026-01-05", "2026-02-07", "2026-01-08", "2026-03-03"], "amount": 1.0})
    r = churn.cohort_retention(orders, as_of="2026-04-01")
    ax = plots.plot_retention_heatmap(r, average="simple", title="t")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == "simple average"
    mesh = ax.collections[0]
    values = np.ma.getdata(mesh.get_array())
    assert np.ma.count_masked(mesh.get_array()) > 0 or np.isnan(values).any()


def test_survival_plot_shows_the_log_rank_p_value(subs):
    res = churn.survival(subs, by="plan", as_of="2026-05-01")
    ax = plots.plot_survival(res)
    assert "log-rank p" in ax.get_title()
    assert len(ax.lines) >= 2


def test_sbg_projection_plot_marks_calibration_and_holdout():
    alive = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]
    fit = churn.fit_sbg(alive[:8])
    ax = plots.plot_sbg_projection(fit, actual=alive, label="high end")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "actual, holdout high end" in texts and "sBG projection high end" in texts
    assert ax.lines[0].get_ydata()[0] == pytest.approx(1.0)


def test_a_frame_of_the_wrong_kind_is_refused():
    with pytest.raises(ValueError, match="plot_churn_rate needs the columns"):
        plots.plot_churn_rate(pd.DataFrame({"x": [1]}))


def _projection(segments: dict[str, list[float]], calibration: int) -> churn.SBGProjection:
    """An SBGProjection built by hand: one fit per segment on its first ``calibration``
    periods, its verdict from :func:`kpilib.churn.sbg_reliability` on the whole series."""
    alive = pd.concat([pd.DataFrame({"plan": name, "tenure": range(len(counts)), "alive": counts})
                       for name, counts in segments.items()], ignore_index=True)
    fits = {name: churn.fit_sbg(counts[: calibration + 1]) for name, counts in segments.items()}
    notes = {name: churn.sbg_reliability(fits[name], counts) for name, counts in segments.items()}
    summary = pd.DataFrame({"segment": list(segments), "reliable": [notes[n] is None for n in segments],
                            "note": [notes[n] for n in segments]})
    return churn.SBGProjection(alive=alive, fits=fits, summary=summary, calibration=calibration)


def test_sbg_projections_dash_and_label_the_unreliable_segments():
    # the paper's "high end" segment (a healthy fit) and a small cohort with few churners
    high_end = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]
    small = [40, 38, 37, 36, 35, 35, 34, 34, 33]
    projection = _projection({"high end": high_end, "small": small}, calibration=7)
    assert projection.summary["reliable"].tolist() == [True, False]  # the verdicts drawn below
    assert "churned in the calibration periods" in projection.summary["note"].iloc[1]
    ax = plots.plot_sbg_projections(projection)
    projected = {line.get_label(): line.get_linestyle() for line in ax.lines
                 if line.get_label().startswith("sBG projection")}
    assert projected == {"sBG projection high end": "-", "sBG projection small (unreliable)": "--"}
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "sBG projection small (unreliable)" in legend and "sBG projection high end" in legend
    assert "unreliable" in ax.get_legend().get_title().get_text()


def test_sbg_projections_all_reliable_have_no_unreliable_mark():
    high_end = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]
    projection = _projection({"high end": high_end}, calibration=7)
    ax = plots.plot_sbg_projections(projection)
    texts = [t.get_text() for t in ax.get_legend().get_texts()] + [ax.get_legend().get_title().get_text()]
    assert not any("unreliable" in t for t in texts)
    assert {line.get_linestyle() for line in ax.lines if line.get_label().startswith("sBG")} == {"-"}
