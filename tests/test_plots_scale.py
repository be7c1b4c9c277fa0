"""Figures readable at real scales: adaptive percent precision, a colour scale without
offset 0, top N + "other", one label for missing categories, and no empty axes."""

from __future__ import annotations

import inspect
import os
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from kpilib import plots  # noqa: E402
from kpilib.plots import _style  # noqa: E402

SAVE = os.environ.get("KPILIB_SAVE_PLOTS")  # a folder to write the PNGs to, for a look


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _save(ax, name: str) -> None:
    if SAVE:
        ax.figure.savefig(os.path.join(SAVE, f"{name}.png"), dpi=90, bbox_inches="tight")


def _retention(rates: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for cohort, values in rates.items():
        for offset, rate in enumerate(values):
            size = 100_000
            rows.append({"cohort": cohort, "offset": offset, "cohort_size": size,
                         "retained": None if np.isnan(rate) else round(rate * size), "rate": rate,
                         "complete": not np.isnan(rate)})
    return pd.DataFrame(rows)


def test_percent_decimals_give_two_significant_digits():
    assert _style._significant_decimals([0.0027, 0.01]) == 2
    assert _style._significant_decimals([0.013, 0.2]) == 1
    assert _style._significant_decimals([0.45, 0.9]) == 0
    assert _style._significant_decimals([0.0, np.nan]) == 0
    formatter = _style._PercentTicks()
    formatter.set_locs([0.0, 0.0025, 0.005])
    assert [formatter(v) for v in (0.0, 0.0025, 0.005)] == ["0.00%", "0.25%", "0.50%"]
    formatter.set_locs([0.0, 0.2, 0.4])
    assert formatter(0.2) == "20%"


def test_heatmap_at_ecommerce_levels_labels_decimals_and_scales_without_offset_zero():
    nan = np.nan
    retention = _retention({
        "2026-01": [1.0, 0.0098, 0.0054, 0.0031],
        "2026-02": [1.0, 0.0087, 0.0027, nan],
        "2026-03": [1.0, 0.0102, nan, nan],
    })
    ax = plots.plot_retention_heatmap(retention, average=None)
    _save(ax, "heatmap_ecommerce")
    texts = [t.get_text() for t in ax.texts]
    assert "0.27%" in texts and "1.02%" in texts
    assert "0%" not in texts and "0.00%" not in texts
    mesh = ax.collections[0]
    assert mesh.norm.vmax == pytest.approx(0.0102)  # the largest rate at offsets >= 1, not month 0's 100 %
    assert mesh.norm.vmin == 0
    values = mesh.get_array()
    assert np.ma.count_masked(values) >= 3 + 3  # offset 0 and the incomplete cells are off the scale
    assert texts.count("100%") == 3  # offset 0 labelled on its neutral cells
    colourbar = ax.figure.axes[-1]
    ax.figure.canvas.draw()
    ticks = [t.get_text() for t in colourbar.get_yticklabels() if t.get_text()]
    assert len(set(ticks)) == len(ticks) and any(t.startswith("0.") for t in ticks)


def test_heatmap_keeps_whole_percent_at_saas_levels():
    ax = plots.plot_retention_heatmap(_retention({"2026-01": [1.0, 0.62, 0.45], "2026-02": [1.0, 0.58, 0.41]}),
                                      average=None)
    assert {"62%", "41%"} <= {t.get_text() for t in ax.texts}


def test_missing_categories_get_one_label():
    assert plots.MISSING_LABEL == "(none)"
    assert plots.label_missing(["a", None, np.nan, "", pd.NA]).tolist() == ["a"] + [plots.MISSING_LABEL] * 4
    rates = pd.DataFrame({"channel": ["email", None, np.nan, ""], "numerator": [5, 3, 2, 1],
                          "denominator": [50, 40, 30, 20]})
    rates = pd.concat([rates, _wilson(rates)], axis=1)
    ax = plots.plot_conversion_by(rates)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sum(label.startswith(plots.MISSING_LABEL) for label in labels) == 3
    assert not any(label.startswith(("None", "nan")) for label in labels)


def _wilson(frame: pd.DataFrame) -> pd.DataFrame:
    from kpilib.stats import rate_frame

    return rate_frame(frame["numerator"], frame["denominator"]).drop(columns=["numerator", "denominator"])


# ------------------------------------------------------------------ empty inputs

_COLUMNS = [
    "step_index", "step", "users", "conversion", "ci_low", "ci_high", "numerator", "denominator", "rate",
    "small_sample", "from_step", "to_step", "drop_off_rate", "month", "median_score", "p25_score", "p75_score",
    "mean_score", "a", "b", "difference", "significant", "period", "churn_rate", "grr", "nrr", "grr_ci_low",
    "grr_ci_high", "nrr_ci_low", "nrr_ci_high", "new_mrr", "reactivation_mrr", "expansion_mrr",
    "contraction_mrr", "churned_mrr", "cohort", "offset", "cohort_size", "retained", "complete",
    "open_rate", "click_rate", "open_rate_ci_low", "open_rate_ci_high", "click_rate_ci_low",
    "click_rate_ci_high", "active_users", "stickiness", "active_days", "share", "share_at_least", "new",
    "returning", "resurrecting", "dormant", "feature", "nps", "score", "band", "spend", "channel", "cac",
    "new_customers", "roas", "roi", "clv_per_customer", "clv_to_cac", "model", "conversions",
    "influenced_revenue_share", "frequency", "actual", "expected", "date", "cumulative_actual",
    "cumulative_expected", "holdout", "frequency_cal", "customers", "predictor", "mae", "rmse", "recency",
    "p_alive", "T", "clv", "tier", "customer_share", "value_share", "parameter", "estimate", "reference",
    "period_start",
]
_EMPTY = pd.DataFrame({c: pd.Series(dtype=object) for c in _COLUMNS})
_OBJECTS = {
    "plot_time_to_convert": SimpleNamespace(histogram=pd.DataFrame(columns=["bin_start_days", "bin_end_days", "users"]),
                                            summary=pd.DataFrame(), from_step="a", to_step="b"),
    "plot_time_to_value": SimpleNamespace(curve=pd.DataFrame(columns=["days", "share_activated"]), activation="x"),
    "plot_health_lift": SimpleNamespace(lift=pd.DataFrame(columns=["group", "churn_rate", "ci_low", "ci_high"]),
                                        churned=0, stayed=0, month="2026-01"),
    "plot_roc": SimpleNamespace(roc=pd.DataFrame(columns=["false_positive_rate", "true_positive_rate"]), auc=np.nan,
                                auc_ci_low=np.nan, auc_ci_high=np.nan, month="2026-01"),
    "plot_survival": SimpleNamespace(curves=pd.DataFrame(columns=["group", "tenure", "survival", "ci_low",
                                                                 "ci_high"]), logrank=None),
    "plot_sbg_projections": SimpleNamespace(alive=pd.DataFrame(columns=["tenure", "alive"]), fits={},
                                            calibration=6),
}
_NEEDS_A_FIT = {"plot_sbg_projection"}  # a fitted model is never empty


@pytest.mark.parametrize("name", [n for n in plots.__all__ if n.startswith("plot_") and n not in _NEEDS_A_FIT])
def test_an_empty_input_raises_nothing_to_plot(name):
    function = getattr(plots, name)
    assert inspect.isfunction(function)
    with pytest.raises(ValueError, match="nothing to plot"):
        function(_OBJECTS.get(name, _EMPTY))


@pytest.mark.parametrize("name", ["plot_active_users", "plot_stickiness", "plot_survey_trend"])
def test_dates_that_are_all_missing_raise_instead_of_a_1970_axis(name):
    frame = pd.DataFrame({"period": pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns]"), "active_users": [1, 2],
                          "stickiness": [0.1, 0.2], "nps": [10.0, 20.0], "ci_low": [0.0, 5.0],
                          "ci_high": [20.0, 30.0]})
    with pytest.raises(ValueError, match="nothing to plot"):
        getattr(plots, name)(frame)


# ------------------------------------------------------------------ top N + other


def _landing_pages(n: int = 495) -> pd.DataFrame:
    from kpilib.stats import rate_frame

    denominators = 1000 - np.arange(n)  # page i has 1000 - i visitors: the top 10 are p0 … p9
    pages = pd.DataFrame({"page": [f"/p{i}" for i in range(n)]})
    return pd.concat([pages, rate_frame(np.full(n, 2), denominators)], axis=1).assign(users_window_open=0)


def test_495_landing_pages_show_the_top_10_and_other_from_summed_counts():
    ax = plots.plot_conversion_by(_landing_pages(), top_n=10)
    _save(ax, "landing_pages_top10")
    bars = [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle)]
    assert len(bars) == 11
    labels = [t.get_text() for t in ax.get_yticklabels()]
    other = [i for i, label in enumerate(labels) if label.startswith("other (485 more)")]
    assert other == [0]  # at the bottom
    # by hand: numerators 2 × 485 = 970; denominators sum(1000 - i, i = 10 … 494) = 362 780
    assert "n=362,780" in labels[0]
    assert bars[0].get_width() == pytest.approx(970 / 362_780)
    assert {f"/p{i}" for i in range(10)} == {label.split("  ")[0] for label in labels[1:]}


def test_without_numerators_the_rest_is_dropped_and_the_title_says_so():
    ax = plots.plot_conversion_by(_landing_pages().drop(columns="numerator"), top_n=10)
    assert len(ax.patches) == 10
    assert "top 10 of 495 pages" in ax.get_title()
    assert len(plots.plot_conversion_by(_landing_pages(30), top_n=None).patches) == 30


def test_spend_and_cac_sum_the_rest_of_the_channels():
    rows = [{"period": p, "channel": c, "spend": 100.0 * (i + 1), "new_customers": i + 1, "cac": 100.0}
            for p in ("2026-01", "2026-02") for i, c in enumerate(["a", "b", "c", "d", None])]
    costs = pd.DataFrame(rows)
    ax = plots.plot_spend(costs, top_n=2)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [plots.MISSING_LABEL, "d", "other (3 more)"] or sorted(legend) == sorted(
        [plots.MISSING_LABEL, "d", "other (3 more)"])
    assert sum(p.get_height() for p in ax.patches) == pytest.approx(costs["spend"].sum())
    ax = plots.plot_cac(costs, top_n=2)
    other = [line for line in ax.lines if line.get_label() == "other (3 more)"]
    assert other and np.allclose(other[0].get_ydata(), (100 + 200 + 300) / (1 + 2 + 3))
