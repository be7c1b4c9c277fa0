"""Figures of customer value: model checks, CLV distributions and tiers (:mod:`kpilib.clv`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from kpilib.deprecation import renamed_arguments
from kpilib.plots._style import (
    _ACTUAL,
    _MODEL,
    _OTHER_COLOUR,
    _axes,
    _draw_intervals,
    _is_other,
    _percent_axis,
    _require,
    _top_n,
    _with_missing_label,
    _with_note,
)

__all__ = [
    "plot_clv_distribution",
    "plot_conditional_expectations",
    "plot_frequency_recency_matrix",
    "plot_holdout_scorecard",
    "plot_parameter_recovery",
    "plot_period_transactions",
    "plot_tracking",
    "plot_value_by_channel",
    "plot_value_tiers",
]


def _side_by_side(frame: pd.DataFrame, x: str, ax: Axes) -> None:
    long = frame.melt(id_vars=[x], value_vars=["actual", "expected"], var_name="series", value_name="value")
    long["series"] = long["series"].map({"actual": "actual", "expected": "model"})
    sns.barplot(data=long, x=x, y="value", hue="series", palette=[_ACTUAL, _MODEL], ax=ax)


def plot_period_transactions(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Customers by number of repeat purchases, actual beside the model, with the χ² test.

    Parameters
    ----------
    table : pandas.DataFrame
        The result of :func:`kpilib.clv.period_transactions`.
    """
    _require(table, {"frequency", "actual", "expected"}, "plot_period_transactions")
    ax = _axes(ax)
    _side_by_side(table, "frequency", ax)
    chi2, dof, p = (table.attrs.get(k, np.nan) for k in ("chi2", "dof", "p_value"))
    ax.set(xlabel="repeat purchases in the calibration period", ylabel="customers",
           title=f"Repeat purchases per customer: actual vs model (χ² = {chi2:.1f}, dof {dof}, p = {p:.3g})")
    ax.legend(title=None)
    return ax


def plot_tracking(track: pd.DataFrame, *, cumulative: bool = True, ax: Axes | None = None) -> Axes:
    """Repeat purchases over time, actual against the model, the holdout shaded.

    Parameters
    ----------
    track : pandas.DataFrame
        The result of :func:`kpilib.clv.purchase_tracking`.
    cumulative : bool, default True
        Cumulative totals (the tracking plot) or purchases per bucket (incremental).
    """
    _require(track, {"date", "actual", "expected", "cumulative_actual", "cumulative_expected", "holdout"},
             "plot_tracking", dates=["date"])
    track = track.dropna(subset=["date"])
    ax = _axes(ax, (9, 4.5))
    prefix = "cumulative_" if cumulative else ""
    ax.plot(track["date"], track[f"{prefix}actual"], color=_ACTUAL, label="actual")
    ax.plot(track["date"], track[f"{prefix}expected"], color=_MODEL, linestyle="--", label="model")
    if track["holdout"].any():
        start = track.loc[track["holdout"], "date"].iloc[0]
        ax.axvspan(start, track["date"].iloc[-1], color="0.9", zorder=0, label="holdout")
    kind = "Cumulative" if cumulative else "Incremental"
    ax.set(xlabel="", ylabel="repeat purchases", title=f"{kind} repeat purchases: actual vs model")
    ax.legend()
    return ax


def plot_conditional_expectations(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Mean holdout purchases by calibration frequency, actual against the model.

    Parameters
    ----------
    table : pandas.DataFrame
        The result of :func:`kpilib.clv.conditional_expectations`.
    """
    _require(table, {"frequency_cal", "customers", "actual", "expected"}, "plot_conditional_expectations")
    ax = _axes(ax)
    x = np.arange(len(table))
    ax.plot(x, table["actual"], marker="o", color=_ACTUAL, label="actual")
    ax.plot(x, table["expected"], marker="s", linestyle="--", color=_MODEL, label="model")
    ax.set_xticks(x, [f"{f}\n(n={n})" for f, n in zip(table["frequency_cal"], table["customers"], strict=True)])
    ax.set(xlabel="repeat purchases in the calibration period (customers)",
           ylabel="mean purchases in the holdout", title="Conditional expectations: holdout purchases")
    ax.legend()
    return ax


def plot_holdout_scorecard(card: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Holdout MAE and RMSE of the model and of the naive baselines.

    Parameters
    ----------
    card : pandas.DataFrame
        The result of :func:`kpilib.clv.holdout_scorecard`.
    """
    _require(card, {"predictor", "mae", "rmse"}, "plot_holdout_scorecard")
    ax = _axes(ax, (7, 4))
    long = card.melt(id_vars=["predictor"], value_vars=["mae", "rmse"], var_name="error", value_name="value")
    long["error"] = long["error"].str.upper()
    sns.barplot(data=long, x="predictor", y="value", hue="error", ax=ax)
    ax.set(xlabel="", ylabel="purchases per customer", title="Holdout error: model vs naive baselines (lower is better)")
    ax.legend(title=None)
    return ax


def plot_frequency_recency_matrix(grid: pd.DataFrame, *, value: str = "p_alive", ax: Axes | None = None) -> Axes:
    """Heat map of P(alive) (or expected purchases) by frequency and recency.

    Parameters
    ----------
    grid : pandas.DataFrame
        The result of :func:`kpilib.clv.frequency_recency_matrix`.
    value : {"p_alive", "expected_purchases"}
        Which quantity to colour by.
    """
    _require(grid, {"frequency", "recency", value}, "plot_frequency_recency_matrix")
    ax = _axes(ax, (8, 5.5))
    wide = grid.pivot_table(index="frequency", columns="recency", values=value).sort_index(ascending=False)
    image = ax.imshow(wide.to_numpy(), aspect="auto", cmap="viridis",
                      extent=[wide.columns.min(), wide.columns.max(), wide.index.min() - 0.5, wide.index.max() + 0.5],
                      vmin=0, vmax=1 if value == "p_alive" else None)
    ax.figure.colorbar(image, ax=ax, label="P(alive)" if value == "p_alive" else "expected purchases")
    title = "Probability alive" if value == "p_alive" else "Expected purchases"
    ax.set(xlabel="recency (time of the last purchase, model units)", ylabel="repeat purchases",
           title=f"{title} by frequency and recency (age T = {grid['T'].iloc[0]:g})")
    ax.grid(False)
    return ax


def plot_clv_distribution(value: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Histogram of predicted CLV per customer (log scale), the mean and median marked.

    Parameters
    ----------
    value : pandas.DataFrame
        The result of :func:`kpilib.clv.customer_value`.
    """
    _require(value, {"clv"}, "plot_clv_distribution")
    ax = _axes(ax)
    clv = value["clv"].to_numpy(dtype=float)
    positive = clv[clv > 0]
    bins = np.geomspace(positive.min(), positive.max(), 40) if len(positive) > 1 else 10
    ax.hist(positive, bins=bins, color=_ACTUAL, alpha=0.8)
    ax.set_xscale("log")
    for stat, label, style in ((np.median(clv), "median", "-"), (np.mean(clv), "mean", "--")):
        if stat > 0:
            ax.axvline(stat, color="0.2", linestyle=style, label=f"{label} {stat:,.2f}")
    horizon = value.attrs.get("horizon", "")
    unit = value.attrs.get("horizon_unit", "")
    ax.set(xlabel=f"predicted CLV over {horizon} {unit} (log scale)", ylabel="customers",
           title="Predicted customer lifetime value")
    ax.legend()
    return ax


def plot_value_tiers(tiers: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Share of customers beside share of predicted value, per value tier.

    Parameters
    ----------
    tiers : pandas.DataFrame
        The result of :func:`kpilib.clv.value_tiers`.
    """
    _require(tiers, {"tier", "customer_share", "value_share"}, "plot_value_tiers")
    ax = _axes(ax, (7, 4))
    long = tiers.melt(id_vars=["tier"], value_vars=["customer_share", "value_share"], var_name="share", value_name="value")
    long["share"] = long["share"].map({"customer_share": "customers", "value_share": "predicted value"})
    sns.barplot(data=long, x="tier", y="value", hue="share", ax=ax)
    _percent_axis(ax.yaxis)
    ax.set(xlabel="value tier", ylabel="share", title="Value tiers: share of customers vs share of predicted value")
    ax.legend(title=None)
    return ax


@renamed_arguments(top="top_n")
def plot_value_by_channel(channels: pd.DataFrame, ax: Axes | None = None, *, top_n: int | None = 10) -> Axes:
    """CLV:CAC by acquisition channel, with the break-even line at 1.

    Parameters
    ----------
    channels : pandas.DataFrame
        The result of :func:`kpilib.clv.value_by_channel`; channels without a CAC are left
        out, a missing channel is drawn as :data:`MISSING_LABEL`.
    top_n : int or None, default 10
        Draw the ``top_n`` channels with the most new customers; the rest are one grey
        ``"other (k more)"`` bar whose CLV:CAC is recomputed from their summed predicted
        value, spend and new customers (never an average of ratios). Without those
        columns the rest are left out and the title says so. None draws every channel.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> channels = pd.DataFrame({"channel": ["a", "b", "c"], "new_customers": [10, 4, 6],
    ...     "clv_total": [300.0, 40.0, 80.0], "spend": [100.0, 20.0, 30.0]}).assign(
    ...     clv_per_customer=lambda f: f.clv_total / f.new_customers, cac=lambda f: f.spend / f.new_customers,
    ...     clv_to_cac=lambda f: f.clv_per_customer / f.cac)
    >>> ax = plot_value_by_channel(channels, top_n=1)
    >>> [t.get_text() for t in ax.get_xticklabels()], [round(float(p.get_height()), 2) for p in ax.patches]
    (['a', 'other (2 more)'], [3.0, 2.4])
    """
    _require(channels, {"channel", "clv_to_cac"}, "plot_value_by_channel")
    channels = _with_missing_label(channels, ["channel"])
    note = ""
    if "new_customers" in channels.columns:
        channels, note = _top_n(
            channels, "channel", top_n, size="new_customers",
            additive=[c for c in ("new_customers", "buyers", "clv_total", "spend") if c in channels],
            derived={"clv_per_customer": _per_customer, "cac": _cac,
                     "clv_to_cac": lambda f: _per_customer(f) / _cac(f).where(_cac(f) > 0)},
            drawn=["clv_to_cac", "clv_total", "spend"], noun="channels", measure="new customers")
    elif top_n is not None and channels["channel"].nunique() > top_n:
        kept = list(dict.fromkeys(channels["channel"]))[:top_n]
        note = f"first {top_n} of {channels['channel'].nunique()} channels"
        channels = channels[channels["channel"].isin(kept)]
    shown = channels.dropna(subset=["clv_to_cac"]).reset_index(drop=True)
    ax = _axes(ax, (7, 4))
    colours = [_OTHER_COLOUR if _is_other(c) else _ACTUAL for c in shown["channel"]]
    ax.bar(np.arange(len(shown)), shown["clv_to_cac"].to_numpy(dtype=float), color=colours, width=0.7)
    ax.set_xticks(np.arange(len(shown)), shown["channel"].astype(str),
                  rotation=45 if len(shown) > 6 else 0, ha="right" if len(shown) > 6 else "center")
    ax.axhline(1.0, color="0.3", linestyle="--", label="break-even (1)")
    ax.set(xlabel="acquisition channel", ylabel="CLV : CAC",
           title=_with_note("Predicted value per acquired customer over acquisition cost", note))
    ax.legend()
    return ax


def _per_customer(frame: pd.DataFrame) -> pd.Series:
    return frame["clv_total"] / frame["new_customers"].where(frame["new_customers"] > 0)


def _cac(frame: pd.DataFrame) -> pd.Series:
    return frame["spend"] / frame["new_customers"].where(frame["new_customers"] > 0)


def plot_parameter_recovery(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Fitted parameters relative to the reference (published or true), with intervals.

    Each point is estimate / reference (1 = exact); whiskers are the bootstrap interval
    over the reference when the table has one, drawn from its low to its high end even
    when it does not contain the estimate (a percentile interval need not); a missing
    bound draws no whisker.

    Parameters
    ----------
    table : pandas.DataFrame
        The result of :func:`kpilib.clv.parameter_table` with a reference.
    """
    _require(table, {"model", "parameter", "estimate", "reference"}, "plot_parameter_recovery")
    ax = _axes(ax, (7, 4))
    shown = table.dropna(subset=["reference"]).reset_index(drop=True)
    ratio = shown["estimate"] / shown["reference"]
    y = np.arange(len(shown))
    if {"ci_low", "ci_high"} <= set(shown.columns):
        _draw_intervals(ax, y, shown["ci_low"] / shown["reference"], shown["ci_high"] / shown["reference"],
                        horizontal=True, ecolor=_ACTUAL, capsize=3, label="bootstrap interval")
    ax.plot(ratio, y, "o", color=_ACTUAL, label="estimate")
    ax.axvline(1.0, color="0.3", linestyle="--", label="reference")
    ax.set_yticks(y, [f"{m}: {p}" for m, p in zip(shown["model"], shown["parameter"], strict=True)])
    ax.set(xlabel="estimate / reference", ylabel="", title="Fitted parameters against the reference values")
    ends = [ratio]
    if {"ci_low", "ci_high"} <= set(shown.columns):
        ends += [shown["ci_low"] / shown["reference"], shown["ci_high"] / shown["reference"]]
    values = pd.concat(ends).replace([np.inf, -np.inf], np.nan).dropna()
    if len(values) and (values > 0).all() and values.max() / values.min() > _LOG_SPAN:
        # one runaway parameter (ratio 10⁵) would flatten every other point onto 1
        ax.set_xscale("log")
        ax.set_xlabel("estimate / reference (log scale)")
    ax.legend()
    return ax


#: Ratios spanning more than this factor are drawn on a log axis.
_LOG_SPAN = 20.0
