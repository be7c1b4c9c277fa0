"""Figures of engagement: email, active users, usage, surveys, health (:mod:`kpilib.engagement`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from kpilib.deprecation import renamed_arguments
from kpilib.engagement import EMAIL_RATES
from kpilib.plots._style import (
    _OTHER_COLOUR,
    _axes,
    _draw_intervals,
    _height,
    _is_other,
    _nothing_to_plot,
    _percent_axis,
    _percent_labels,
    _PercentTicks,
    _require,
    _top_n,
    _with_missing_label,
    _with_note,
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


#: Label columns of :func:`kpilib.engagement.email_metrics` that are a time axis (never cut to a top N).
_TIME_LABELS = {"month", "period", "week", "day", "date"}


@renamed_arguments(top="top_n")
def plot_email_campaigns(result: pd.DataFrame, rates=("open_rate", "click_rate"), ax: Axes | None = None, *,
                         top_n: int | None = 10) -> Axes:
    """Email rates per campaign (in send order) with their 95 % Wilson intervals.

    Parameters
    ----------
    result : pandas.DataFrame
        Output of :func:`kpilib.engagement.email_metrics` (``by="campaign"`` or ``"month"``).
        A missing campaign is drawn as :data:`MISSING_LABEL`.
    rates : sequence of str
        Rate columns to draw.
    ax : matplotlib.axes.Axes, optional
    top_n : int or None, default 10
        Draw the ``top_n`` campaigns with the most mails sent (in send order); the rest are
        one grey ``"other (k more)"`` group at the end, each rate and interval recomputed
        from their summed counts (:data:`kpilib.engagement.EMAIL_RATES`: opens over
        delivered …, never an average of rates). Without the counts the rest are left out
        and the title says so. A time breakdown (``by="month"``) is never cut. None draws
        every campaign.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from kpilib.stats import rate_frame
    >>> counts = pd.DataFrame({"campaign": ["a", "b", "c"], "sent": [100, 60, 40],
    ...     "delivered": [100, 50, 50], "unique_opens": [40, 10, 30]})
    >>> r = rate_frame(counts["unique_opens"], counts["delivered"])
    >>> frame = counts.assign(open_rate=r["rate"], open_rate_ci_low=r["ci_low"], open_rate_ci_high=r["ci_high"])
    >>> ax = plot_email_campaigns(frame, rates=["open_rate"], top_n=1)
    >>> [t.get_text() for t in ax.get_xticklabels()], [float(line.get_ydata()[0]) for line in ax.lines[-2:]]
    (['a', 'other (2 more)'], [0.4, 0.4])
    """
    rates = list(rates)
    _require(result, [*rates, *[f"{r}_ci_low" for r in rates]], "plot_email_campaigns")
    label_col = result.columns[0] if result.columns[0] != "first_sent_at" else None
    note = ""
    if label_col is None:
        result = result.assign(_label=[str(i) for i in range(len(result))])
    else:
        result = _with_missing_label(result, [label_col]).assign(_label=lambda f: f[label_col].astype(str))
        timed = label_col in _TIME_LABELS or pd.api.types.is_datetime64_any_dtype(result[label_col])
        if not timed:
            size = "sent" if "sent" in result.columns else "delivered" if "delivered" in result.columns else None
            if size is None:
                result = result.assign(_size=1.0)
                size = "_size"
            pooled = {r: (*EMAIL_RATES[r], f"{r}_ci_low", f"{r}_ci_high") for r in rates if r in EMAIL_RATES}
            counts = [c for c in ("sent", "delivered") if c in result.columns]
            result, note = _top_n(result, "_label", top_n, size=size, additive=counts, rates=pooled,
                                  drawn=[*rates, *[f"{r}_ci_{e}" for r in rates for e in ("low", "high")]],
                                  noun="campaigns", measure="mails sent" if size == "sent" else "rows")
    ax = _axes(ax, (10, 4))
    labels = result["_label"].tolist()
    other = result["_label"].map(_is_other).to_numpy()
    x = np.arange(len(result))
    palette = sns.color_palette(n_colors=len(rates))
    for i, (rate, colour) in enumerate(zip(rates, palette, strict=True)):
        shift = (i - (len(rates) - 1) / 2) * 0.15
        values = result[rate].to_numpy(dtype=float)
        _draw_intervals(ax, x + shift, result[f"{rate}_ci_low"], result[f"{rate}_ci_high"], ecolor=colour,
                        capsize=2)
        ax.plot(x[~other] + shift, values[~other], "o", ms=4, color=colour, label=_RATE_LABELS.get(rate, rate))
        if other.any():
            ax.plot(x[other] + shift, values[other], "D", ms=5, color=colour, markeredgecolor=_OTHER_COLOUR)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=90, fontsize=8)
    _percent_axis(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(label_col or "")
    ax.set_ylabel("share of mails (95 % interval)")
    ax.set_title(_with_note("Email performance by campaign", note))
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


@renamed_arguments(top="top_n")
def plot_feature_adoption(result: pd.DataFrame, ax: Axes | None = None, *, top_n: int | None = 10) -> Axes:
    """Heatmap of feature adoption (share of active users) by period.

    The colour scale runs from 0 to the largest adoption drawn (not to 100 %), and the
    cell labels carry as many decimals as the smallest non-zero adoption needs for two
    significant digits, so adoption of 0.1–1 % stays legible (0.14 %, not "0 %").

    Parameters
    ----------
    result : pandas.DataFrame
        Output of :func:`kpilib.engagement.feature_adoption`. A missing feature is drawn
        as :data:`MISSING_LABEL`.
    ax : matplotlib.axes.Axes, optional
    top_n : int or None, default 10
        Draw the ``top_n`` features with the most users (adopters summed over the
        periods). The rest are left out — not pooled: one customer may use several
        features, so their adoption cannot be recomputed from per-feature counts — and
        the title says "top 10 of 400 features by users". None draws every feature.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"period": ["2026-01-01"] * 3, "feature": ["a", "b", "c"],
    ...     "numerator": [9, 3, 1], "denominator": [1000] * 3, "rate": [0.009, 0.003, 0.001]})
    >>> ax = plot_feature_adoption(frame, top_n=2)
    >>> [t.get_text() for t in ax.texts], ax.get_title()
    (['0.90%', '0.30%'], 'Feature adoption (top 2 of 3 features by users)')
    """
    _require(result, ["period", "feature", "rate"], "plot_feature_adoption", dates=["period"])
    result = _with_missing_label(result, ["feature"])
    size = "numerator" if "numerator" in result.columns else "rate"
    result, note = _top_n(result, "feature", top_n, size=size, pool=False,
                          noun="features", measure="users" if size == "numerator" else "adoption")
    grid = result.assign(period=pd.to_datetime(result["period"]).dt.strftime("%Y-%m")).pivot_table(
        index="feature", columns="period", values="rate", aggfunc="first")
    totals = result.groupby("feature")[size].sum()
    grid = grid.reindex(sorted(grid.index, key=lambda f: (-float(totals.get(f, 0)), str(f))))
    ax = _axes(ax, (11, _height(len(grid), 0.35, 1.5, 3.5)))
    values = grid.to_numpy(dtype=float)
    top = float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
    sns.heatmap(grid, ax=ax, cmap="Blues", vmin=0, vmax=top if top > 0 else 1.0,
                annot=grid.shape[1] <= 12 and grid.shape[0] <= 30, fmt=_percent_labels(values),
                cbar_kws={"label": "share of active users", "format": _PercentTicks()})
    ax.set_xlabel("")
    ax.set_ylabel("feature")
    ax.set_title(_with_note("Feature adoption", note))
    return ax


def _survey_columns(result: pd.DataFrame) -> tuple[str, str, str, str]:
    if "nps" in result.columns:
        return "nps", "ci_low", "ci_high", "NPS (points)"
    if "mean_ci_low" in result.columns:
        return "mean", "mean_ci_low", "mean_ci_high", "mean CES (1–7)"
    if "rate" in result.columns:
        return "rate", "ci_low", "ci_high", "CSAT (share satisfied)"
    raise ValueError("plot_survey_trend needs the result of nps_by, csat_by or ces_by")


@renamed_arguments(top="top_n")
def plot_survey_trend(result: pd.DataFrame, ax: Axes | None = None, *, top_n: int | None = 10) -> Axes:
    """NPS, CSAT or CES per period with its 95 % interval as a band.

    Parameters
    ----------
    result : pandas.DataFrame
        Output of :func:`kpilib.engagement.nps_by`, ``csat_by`` or ``ces_by`` (with
        ``period``); a ``by`` breakdown gives one line per segment (a missing segment
        drawn as :data:`MISSING_LABEL`).
    ax : matplotlib.axes.Axes, optional
    top_n : int or None, default 10
        With a breakdown: draw the ``top_n`` segments with the most answers; for CSAT
        the rest are one grey ``"other (k more)"`` line recomputed from their summed
        satisfied and answering counts; for NPS and CES (whose intervals need the
        answers themselves) the rest are left out and the legend title says so. None
        draws every segment.

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
    note = ""
    if extra:
        size = "denominator" if "denominator" in result.columns else "n" if "n" in result.columns else value
        result, note = _top_n(result, extra[0], top_n, size=size, within=["period"],
                              rates={"rate": ("numerator", "denominator", "ci_low", "ci_high")},
                              drawn=[value, low, high], pool=value == "rate", noun="segments", measure="answers")
    names = sorted(set(result[extra[0]]), key=lambda v: (_is_other(v), str(v))) if extra else [None]
    groups = [(name, result[result[extra[0]] == name] if extra else result) for name in names]
    for name, part in groups:
        colour = _OTHER_COLOUR if _is_other(name) else None
        line = ax.plot(part["period"], part[value], marker="o", color=colour,
                       label=name if name is not None else label)[0]
        ax.fill_between(part["period"], part[low].astype(float), part[high].astype(float),
                        color=line.get_color(), alpha=0.2)
    if value == "rate":
        _percent_axis(ax.yaxis)
    if value == "nps":
        ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel(label)
    ax.set_title(f"{label.split(' (')[0]} by period (95 % interval)")
    ax.legend(loc="best", title=note or None, title_fontsize="small")
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
