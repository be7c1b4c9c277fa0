"""Figures of engagement: email, active users, usage, surveys, health (:mod:`kpilib.engagement`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from kpilib.plots._style import (
    _axes,
    _draw_intervals,
    _nothing_to_plot,
    _percent_axis,
    _PercentTicks,
    _require,
    _with_missing_label,
)

__all__ = [
    "plot_active_users",
    "plot_email_campaigns",
    "plot_feature_adoption",
    "plot_health_distribution",
    "plot_health_lift",
    "plot_lifecycle",
    "plot_roc",
    "plot_stickiness",
    "plot_stickiness_histogram",
    "plot_survey_trend",
    "plot_time_to_value",
]


_RATE_LABELS = {
    "bounce_rate": "Bounce rate",
    "hard_bounce_rate": "Hard-bounce rate",
    "open_rate": "Open rate",
    "click_rate": "Click rate",
    "click_to_open_rate": "Click-to-open rate",
    "unsubscribe_rate": "Unsubscribe rate",
    "complaint_rate": "Complaint rate",
}
_LIFECYCLE_COLOURS = {"new": "#4c9f70", "returning": "#3b75af", "resurrecting": "#9bc5e8", "dormant": "#d1605e"}


def plot_email_campaigns(result: pd.DataFrame, rates=("open_rate", "click_rate"), ax: Axes | None = None) -> Axes:
    """Email rates per campaign (in send order) with their 95 % Wilson intervals.

    Parameters
    ----------
    result : pandas.DataFrame
        Output of :func:`kpilib.engagement.email_metrics` (``by="campaign"`` or ``"month"``).
    rates : sequence of str
        Rate columns to draw.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    rates = list(rates)
    _require(result, [*rates, *[f"{r}_ci_low" for r in rates]], "plot_email_campaigns")
    ax = _axes(ax, (10, 4))
    label_col = result.columns[0] if result.columns[0] != "first_sent_at" else None
    labels = result[label_col].astype(str).tolist() if label_col else [str(i) for i in range(len(result))]
    x = np.arange(len(result))
    palette = sns.color_palette(n_colors=len(rates))
    for i, (rate, colour) in enumerate(zip(rates, palette, strict=True)):
        shift = (i - (len(rates) - 1) / 2) * 0.15
        values = result[rate].to_numpy(dtype=float)
        _draw_intervals(ax, x + shift, result[f"{rate}_ci_low"], result[f"{rate}_ci_high"], ecolor=colour,
                        capsize=2)
        ax.plot(x + shift, values, "o", ms=4, color=colour, label=_RATE_LABELS.get(rate, rate))
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=90, fontsize=8)
    _percent_axis(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(label_col or "")
    ax.set_ylabel("share of mails (95 % interval)")
    ax.set_title("Email performance by campaign")
    ax.legend(loc="best")
    return ax


def plot_active_users(result: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Active users over time: the per-period count and, for daily data, the rolling 7- and 30-day counts.

    Parameters
    ----------
    result : pandas.DataFrame
        Output of :func:`kpilib.engagement.active_users`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    _require(result, ["period", "active_users"], "plot_active_users", dates=["period"])
    result = result.dropna(subset=["period"])
    ax = _axes(ax)
    series = {"active_users": "per period (DAU/WAU/MAU)", "active_users_7d": "rolling 7 days (WAU)",
              "active_users_30d": "rolling 30 days (MAU)"}
    for column, label in series.items():
        if column in result.columns:
            ax.plot(result["period"], result[column], label=label, lw=1.5 if column == "active_users" else 2)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("")
    ax.set_ylabel("distinct active customers")
    ax.set_title("Active users")
    ax.legend(loc="best")
    return ax


def plot_stickiness(result: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Stickiness (mean DAU / MAU) per month.

    Parameters
    ----------
    result : pandas.DataFrame
        Output of :func:`kpilib.engagement.stickiness`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    _require(result, ["period", "stickiness"], "plot_stickiness", dates=["period"])
    result = result.dropna(subset=["period"])
    ax = _axes(ax)
    ax.plot(result["period"], result["stickiness"], marker="o", label="DAU / MAU")
    _percent_axis(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("mean DAU / MAU")
    ax.set_title("Stickiness")
    ax.legend(loc="best")
    return ax


def plot_stickiness_histogram(result: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Customers by active days in the month (bars) and the share active on at least k days (line).

    Parameters
    ----------
    result : pandas.DataFrame
        Output of :func:`kpilib.engagement.stickiness_histogram`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    _require(result, ["active_days", "share", "share_at_least"], "plot_stickiness_histogram")
    ax = _axes(ax)
    ax.bar(result["active_days"], result["share"], color=sns.color_palette()[0], label="active on exactly k days")
    ax.plot(result["active_days"], result["share_at_least"], color=sns.color_palette()[1], marker=".",
            label="active on at least k days")
    _percent_axis(ax.yaxis)
    ax.set_xlabel("active days in the month (k)")
    ax.set_ylabel("share of the month's active users")
    ax.set_title("Stickiness histogram")
    ax.legend(loc="best")
    return ax


def plot_lifecycle(result: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Lifecycle bars: new, returning and resurrecting stacked up, dormant down.

    Parameters
    ----------
    result : pandas.DataFrame
        Output of :func:`kpilib.engagement.lifecycle` (``dormant`` negative).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    _require(result, ["period", "new", "returning", "resurrecting", "dormant"], "plot_lifecycle", dates=["period"])
    result = result.dropna(subset=["period"])
    ax = _axes(ax)
    x = np.arange(len(result))
    bottom = np.zeros(len(result))
    for state in ("returning", "new", "resurrecting"):
        values = result[state].to_numpy(dtype=float)
        ax.bar(x, values, bottom=bottom, color=_LIFECYCLE_COLOURS[state], label=state)
        bottom += values
    ax.bar(x, result["dormant"].to_numpy(dtype=float), color=_LIFECYCLE_COLOURS["dormant"], label="dormant")
    ax.axhline(0, color="black", lw=0.8)
    step = max(1, len(result) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels(pd.to_datetime(result["period"]).dt.strftime("%Y-%m-%d").iloc[::step], rotation=45, ha="right")
    ax.set_ylabel("customers")
    ax.set_title("User lifecycle")
    ax.legend(loc="upper left", ncols=4)
    return ax


def plot_feature_adoption(result: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Heatmap of feature adoption (share of active users) by period.

    Parameters
    ----------
    result : pandas.DataFrame
        Output of :func:`kpilib.engagement.feature_adoption`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    _require(result, ["period", "feature", "rate"], "plot_feature_adoption", dates=["period"])
    ax = _axes(ax, (11, 3.5))
    grid = result.assign(period=pd.to_datetime(result["period"]).dt.strftime("%Y-%m")).pivot_table(
        index="feature", columns="period", values="rate", aggfunc="first")
    sns.heatmap(grid, ax=ax, cmap="Blues", vmin=0, vmax=1, annot=grid.shape[1] <= 12, fmt=".0%",
                cbar_kws={"label": "share of active users", "format": _PercentTicks()})
    ax.set_xlabel("")
    ax.set_ylabel("feature")
    ax.set_title("Feature adoption")
    return ax


def _survey_columns(result: pd.DataFrame) -> tuple[str, str, str, str]:
    if "nps" in result.columns:
        return "nps", "ci_low", "ci_high", "NPS (points)"
    if "mean_ci_low" in result.columns:
        return "mean", "mean_ci_low", "mean_ci_high", "mean CES (1–7)"
    if "rate" in result.columns:
        return "rate", "ci_low", "ci_high", "CSAT (share satisfied)"
    raise ValueError("plot_survey_trend needs the result of nps_by, csat_by or ces_by")


def plot_survey_trend(result: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """NPS, CSAT or CES per period with its 95 % interval as a band.

    Parameters
    ----------
    result : pandas.DataFrame
        Output of :func:`kpilib.engagement.nps_by`, ``csat_by`` or ``ces_by`` (with
        ``period``); a ``by`` breakdown gives one line per segment.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    value, low, high, label = _survey_columns(result)
    _require(result, ["period", value, low, high], "plot_survey_trend", dates=["period"])
    result = result.dropna(subset=["period"])
    ax = _axes(ax)
    extra = [c for c in result.columns if c not in ("period",) and result[c].dtype == object
             and c not in ("interval", "change_significant")]
    if result[value].isna().all():
        raise _nothing_to_plot("plot_survey_trend", f"no {value} value (every period without responses)")
    result = _with_missing_label(result, extra[:1])
    groups = result.groupby(extra[0]) if extra else [(None, result)]
    for name, part in groups:
        line = ax.plot(part["period"], part[value], marker="o", label=name if name is not None else label)[0]
        ax.fill_between(part["period"], part[low].astype(float), part[high].astype(float),
                        color=line.get_color(), alpha=0.2)
    if value == "rate":
        _percent_axis(ax.yaxis)
    if value == "nps":
        ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel(label)
    ax.set_title(f"{label.split(' (')[0]} by period (95 % interval)")
    ax.legend(loc="best")
    return ax


def plot_time_to_value(result, ax: Axes | None = None) -> Axes:
    """Share of customers activated within d days of signing up (Kaplan–Meier curve).

    Parameters
    ----------
    result : kpilib.engagement.TimeToValue
        Output of :func:`kpilib.engagement.time_to_value`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    curve = result.curve
    _require(curve, ["days", "share_activated"], "plot_time_to_value")
    ax = _axes(ax)
    ax.step(curve["days"], curve["share_activated"], where="post", label=f"activated ({result.activation})")
    _percent_axis(ax.yaxis)
    ax.set_ylim(0, 1)
    ax.set_xlabel("days since signup")
    ax.set_ylabel("share activated")
    ax.set_title("Time to value")
    ax.legend(loc="lower right")
    return ax


def plot_health_distribution(scores: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Histogram of health scores, coloured by band.

    Parameters
    ----------
    scores : pandas.DataFrame
        Output of :func:`kpilib.engagement.health_score`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    _require(scores, ["score", "band"], "plot_health_distribution")
    ax = _axes(ax)
    palette = {"at risk": "#d1605e", "watch": "#e5ae38", "healthy": "#4c9f70"}
    sns.histplot(scores, x="score", hue="band", hue_order=[b for b in palette if b in set(scores.band)],
                 palette=palette, bins=np.arange(0, 105, 5), multiple="stack", ax=ax)
    ax.set_xlim(0, 100)
    ax.set_xlabel("health score (0–100)")
    ax.set_ylabel("customers")
    ax.set_title("Customer health score")
    return ax


def plot_health_lift(validation, ax: Axes | None = None) -> Axes:
    """Churn rate per score group (lowest scores first) with intervals, against the overall rate.

    Parameters
    ----------
    validation : kpilib.engagement.HealthScoreValidation
        Output of :func:`kpilib.engagement.validate_health_score`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    lift = validation.lift
    _require(lift, ["group", "churn_rate", "ci_low", "ci_high"], "plot_health_lift")
    ax = _axes(ax)
    x = np.arange(len(lift))
    rate = lift["churn_rate"].to_numpy(dtype=float)
    ax.bar(x, rate, color=sns.color_palette()[3], alpha=0.8, label="churn rate of the group")
    _draw_intervals(ax, x, lift["ci_low"], lift["ci_high"], ecolor="black", capsize=3)
    overall = validation.churned / max(validation.churned + validation.stayed, 1)
    ax.axhline(overall, color="grey", ls="--", label="overall churn rate")
    ax.set_xticks(x)
    ax.set_xticklabels([f"{int(g)}\n{lo:.0f}–{hi:.0f}" for g, lo, hi in
                        zip(lift["group"], lift["score_min"], lift["score_max"], strict=True)])
    _percent_axis(ax.yaxis)
    ax.set_xlabel("score group (1 = lowest scores) and its score range")
    ax.set_ylabel(f"churned in {validation.month}")
    ax.set_title("Lift: churn by last month's health score")
    ax.legend(loc="best")
    return ax


def plot_roc(validation, ax: Axes | None = None) -> Axes:
    """ROC curve of last month's health score for this month's churn, with its AUC.

    Parameters
    ----------
    validation : kpilib.engagement.HealthScoreValidation
        Output of :func:`kpilib.engagement.validate_health_score`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    roc = validation.roc
    _require(roc, ["false_positive_rate", "true_positive_rate"], "plot_roc")
    ax = _axes(ax, (5, 5))
    ax.plot(roc["false_positive_rate"], roc["true_positive_rate"], drawstyle="steps-post",
            label=f"health score (AUC {validation.auc:.2f}, 95 % CI {validation.auc_ci_low:.2f}–{validation.auc_ci_high:.2f})")
    ax.plot([0, 1], [0, 1], color="grey", ls="--", label="coin toss (AUC 0.5)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("share of stayers flagged (false-positive rate)")
    ax.set_ylabel("share of churners flagged (true-positive rate)")
    ax.set_title(f"ROC: score vs churn in {validation.month}")
    ax.legend(loc="lower right", fontsize=8)
    return ax
