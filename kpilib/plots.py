"""Every figure of the kit.

Each function takes a result computed elsewhere in kpilib (a tidy DataFrame or a result
object), draws it on ``ax`` (a new figure when ``None``) in seaborn's style and returns
the :class:`matplotlib.axes.Axes`. A figure never computes a metric: intervals, flags
and counts all come with the result.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> table = pd.DataFrame({"step_index": [1, 2], "step": ["visit", "signup"],
...     "users": [100, 20], "conversion": [1.0, 0.2], "ci_low": [0.96, 0.13],
...     "ci_high": [1.0, 0.29]})
>>> ax = plot_funnel(table)
>>> len(ax.patches)
2
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

__all__ = [
    "plot_ab_comparison",
    "plot_conversion_by",
    "plot_drop_off",
    "plot_funnel",
    "plot_lead_score_profile",
    "plot_nurture",
    "plot_time_to_convert",
]

#: Colour of cells flagged for a small denominator.
SMALL_SAMPLE_COLOUR = "0.6"

_RATE_COLUMNS = {
    "numerator", "denominator", "rate", "ci_low", "ci_high", "small_sample", "users_window_open",
}
_FUNNEL_COLUMNS = {
    "step_index", "step", "users", "conversion", "step_conversion", "ci_low", "ci_high", "step_ci_low",
    "step_ci_high", "entered", "small_sample", "users_window_open", "window_complete",
}


def _axes(ax: Axes | None, size: tuple[float, float] = (8, 4.5)) -> Axes:
    if ax is not None:
        return ax
    with sns.axes_style("whitegrid"):
        _, ax = plt.subplots(figsize=size)
    return ax


def _group_labels(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    if not columns or frame.empty:
        return pd.Series(["all"] * len(frame), index=frame.index, dtype=object)
    return frame[list(columns)].astype(str).agg(" / ".join, axis=1)


def _require(frame: pd.DataFrame, columns: set[str], what: str) -> None:
    missing = columns - set(frame.columns)
    if missing:
        raise ValueError(f"{what} needs the columns {sorted(missing)}; pass the result of the matching kpilib function")


def plot_funnel(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Bars of conversion from the first step, with 95% interval whiskers.

    Parameters
    ----------
    table : pandas.DataFrame
        The result of :func:`kpilib.funnel.funnel`; any breakdown columns become the hue.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per step (and group), labelled with the conversion and the users.
    """
    _require(table, {"step_index", "step", "users", "conversion", "ci_low", "ci_high"}, "plot_funnel")
    ax = _axes(ax)
    by = [c for c in table.columns if c not in _FUNNEL_COLUMNS]
    table = table.sort_values([*by, "step_index"]).reset_index(drop=True)
    groups = _group_labels(table, by)
    levels = list(dict.fromkeys(groups))
    steps = table.drop_duplicates("step_index").sort_values("step_index")
    labels = [f"{i}. {s}" for i, s in zip(steps.step_index, steps.step, strict=True)]
    width = 0.8 / len(levels)
    palette = sns.color_palette(n_colors=max(len(levels), 1))
    for g, level in enumerate(levels):
        rows = table[groups == level]
        x = rows.step_index.to_numpy() - 1 - 0.4 + width * (g + 0.5)
        y = rows.conversion.to_numpy()
        err = np.vstack([y - rows.ci_low.to_numpy(), rows.ci_high.to_numpy() - y])
        ax.bar(x, y, width=width * 0.95, color=palette[g], label=level if by else None)
        ax.errorbar(x, y, yerr=np.nan_to_num(err), fmt="none", ecolor="0.2", capsize=3, lw=1)
        for xi, yi, users in zip(x, y, rows.users, strict=True):
            if not np.isfinite(yi):
                continue
            if len(levels) == 1:
                ax.annotate(f"{yi:.1%}\n{users:,}", (xi, yi), xytext=(0, 4), textcoords="offset points",
                            ha="center", va="bottom", fontsize=9)
            elif yi < 1:  # the first step is 100% for every group; label the rest, upright
                ax.annotate(f"{yi:.0%}", (xi, yi), xytext=(0, 4), textcoords="offset points",
                            ha="center", va="bottom", fontsize=7, rotation=90)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylim(0, 1.15)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("conversion from the first step")
    ax.set_xlabel("")
    ax.set_title("Funnel conversion (95% Wilson intervals)")
    if by:
        ax.legend(title=" / ".join(by), fontsize=8)
    sns.despine(ax=ax)
    return ax


def plot_conversion_by(rates: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Rates per group as horizontal bars with 95% interval error bars.

    Groups with a denominator under 30 (``small_sample``) are drawn grey and hatched,
    and their label says so.

    Parameters
    ----------
    rates : pandas.DataFrame
        A rate frame with group columns, e.g. from :func:`kpilib.funnel.conversion_rate`
        or :func:`kpilib.funnel.landing_page_conversion` (``numerator``, ``denominator``,
        ``rate``, ``ci_low``, ``ci_high``, ``small_sample``).
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per group, highest rate on top.
    """
    _require(rates, {"denominator", "rate", "ci_low", "ci_high"}, "plot_conversion_by")
    ax = _axes(ax)
    by = [c for c in rates.columns if c not in _RATE_COLUMNS]
    rates = rates.sort_values("rate", ascending=True, na_position="first").reset_index(drop=True)
    labels = _group_labels(rates, by)
    small = rates["small_sample"] if "small_sample" in rates else rates["denominator"] < 30
    y = np.arange(len(rates))
    colour = sns.color_palette()[0]
    colours = [SMALL_SAMPLE_COLOUR if s else colour for s in small]
    bars = ax.barh(y, rates.rate.fillna(0), color=colours, height=0.7)
    for bar, is_small in zip(bars, small, strict=True):
        if is_small:
            bar.set_hatch("//")
    err = np.vstack([rates.rate - rates.ci_low, rates.ci_high - rates.rate])
    ax.errorbar(rates.rate, y, xerr=np.nan_to_num(err), fmt="none", ecolor="0.2", capsize=3, lw=1)
    ticks = [f"{label}  (n={n:,}{', small' if s else ''})"
             for label, n, s in zip(labels, rates.denominator, small, strict=True)]
    ax.set_yticks(y, ticks)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("rate (95% Wilson interval)")
    ax.set_ylabel(" / ".join(by))
    ax.set_xlim(0, min(1.0, float(np.nanmax(rates.ci_high.to_numpy(), initial=0)) * 1.15 or 1.0))
    ax.set_title("Conversion by " + (" / ".join(by) if by else "group"))
    sns.despine(ax=ax)
    return ax


def plot_drop_off(drops: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Drop-off rate of each step transition, with 95% interval error bars.

    Parameters
    ----------
    drops : pandas.DataFrame
        The result of :func:`kpilib.funnel.drop_off` (without breakdown columns, or
        filtered to one group).
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per transition.
    """
    _require(drops, {"from_step", "to_step", "drop_off_rate", "ci_low", "ci_high"}, "plot_drop_off")
    ax = _axes(ax)
    x = np.arange(len(drops))
    rate = drops.drop_off_rate.to_numpy()
    ax.bar(x, rate, color=sns.color_palette()[3], width=0.6)
    err = np.vstack([rate - drops.ci_low.to_numpy(), drops.ci_high.to_numpy() - rate])
    ax.errorbar(x, rate, yerr=np.nan_to_num(err), fmt="none", ecolor="0.2", capsize=3, lw=1)
    ax.set_xticks(x, [f"{a} → {b}" for a, b in zip(drops.from_step, drops.to_step, strict=True)])
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("drop-off (95% Wilson interval)")
    ax.set_title("Where people leave the funnel")
    sns.despine(ax=ax)
    return ax


def plot_time_to_convert(result, ax: Axes | None = None) -> Axes:
    """Histogram of time to convert, with the median and 90th percentile marked.

    Parameters
    ----------
    result : kpilib.funnel.TimeToConvert
        The result of :func:`kpilib.funnel.time_to_convert` (``histogram`` and
        ``summary``); with a breakdown, one step line per group.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
        Bars (or step lines per group) and one dashed median line per group.
    """
    histogram, summary = result.histogram, result.summary
    ax = _axes(ax)
    by = [c for c in histogram.columns if c not in {"bin_start_days", "bin_end_days", "users"}]
    palette = sns.color_palette()
    if not by:
        ax.bar(histogram.bin_start_days, histogram.users, width=histogram.bin_end_days - histogram.bin_start_days,
               align="edge", color=palette[0], edgecolor="white")
        if len(summary) and summary.converters.iloc[0] > 0:
            median, p90 = summary.median_days.iloc[0], summary.p90_days.iloc[0]
            ax.axvline(median, color="0.2", ls="--", lw=1.2, label=f"median {median:.1f} days")
            ax.axvline(p90, color="0.5", ls=":", lw=1.2, label=f"90th percentile {p90:.1f} days")
    else:
        labels = _group_labels(histogram, by)
        summary_labels = _group_labels(summary, by)
        for g, level in enumerate(dict.fromkeys(labels)):
            rows = histogram[labels == level]
            colour = palette[g % len(palette)]
            edges = np.append(rows.bin_start_days.to_numpy(), rows.bin_end_days.to_numpy()[-1])
            ax.stairs(rows.users.to_numpy(), edges, color=colour, lw=1.5, label=level)
            median = summary.median_days[summary_labels == level]
            if len(median) and np.isfinite(median.iloc[0]):
                ax.axvline(median.iloc[0], color=colour, ls="--", lw=1)
    ax.set_xlabel(f"days from {result.from_step} to {result.to_step}")
    ax.set_ylabel("converters")
    ax.set_title("Time to convert")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    sns.despine(ax=ax)
    return ax


def plot_nurture(summary: pd.DataFrame, ax: Axes | None = None,
                 columns: Sequence[str] = ("new_leads", "reopened_leads", "mql_count")) -> Axes:
    """Monthly nurture counts (new leads, reopened leads, MQLs) as lines.

    Parameters
    ----------
    summary : pandas.DataFrame
        The result of :func:`kpilib.funnel.nurture_summary` (a ``month`` column and
        count columns).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    columns : sequence of str
        The count columns to draw (those present are drawn).

    Returns
    -------
    matplotlib.axes.Axes
        One line per count.
    """
    _require(summary, {"month"}, "plot_nurture")
    ax = _axes(ax)
    present = [c for c in columns if c in summary.columns]
    long = summary.melt(id_vars="month", value_vars=present, var_name="measure", value_name="count")
    long["measure"] = long["measure"].str.replace("_", " ")
    sns.lineplot(data=long, x="month", y="count", hue="measure", marker="o", ax=ax)
    months = list(summary.month)
    step = max(1, len(months) // 12)
    ax.set_xticks(range(0, len(months), step), months[::step], rotation=45, ha="right")
    ax.set_xlabel("")
    ax.set_ylabel("people per month")
    ax.set_title("Lead nurture per month")
    sns.despine(ax=ax)
    return ax


def plot_lead_score_profile(profile: pd.DataFrame, ax: Axes | None = None,
                            threshold: float | None = None) -> Axes:
    """Month-end scores of each month's new leads: median line and interquartile band.

    Parameters
    ----------
    profile : pandas.DataFrame
        The result of :func:`kpilib.funnel.new_lead_score_profile`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    threshold : float, optional
        The MQL threshold, drawn as a horizontal line.

    Returns
    -------
    matplotlib.axes.Axes
        A median line, a mean line, the p25–p75 band and the threshold line.
    """
    _require(profile, {"month", "median_score", "p25_score", "p75_score", "mean_score"},
             "plot_lead_score_profile")
    ax = _axes(ax)
    x = np.arange(len(profile))
    colour = sns.color_palette()[2]
    ax.fill_between(x, profile.p25_score, profile.p75_score, color=colour, alpha=0.25,
                    label="middle half of new leads")
    ax.plot(x, profile.median_score, color=colour, marker="o", label="median score")
    ax.plot(x, profile.mean_score, color="0.4", ls="--", lw=1, label="mean score")
    if threshold is not None:
        ax.axhline(threshold, color="0.2", ls=":", lw=1.2, label=f"MQL threshold ({threshold:g})")
    months = list(profile.month)
    step = max(1, len(months) // 12)
    ax.set_xticks(x[::step], months[::step], rotation=45, ha="right")
    ax.set_ylabel("lead score at month end")
    ax.set_title("Score profile of each month's new leads")
    ax.legend(fontsize=8)
    sns.despine(ax=ax)
    return ax


def plot_ab_comparison(result: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """The difference B − A with its interval, against zero.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of :func:`kpilib.funnel.ab_comparison` (one or more rows).
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
        One point with an error bar per comparison and a vertical line at 0.
    """
    _require(result, {"a", "b", "difference", "ci_low", "ci_high", "significant"}, "plot_ab_comparison")
    ax = _axes(ax, size=(8, 1.2 + 0.6 * len(result)))
    y = np.arange(len(result))
    diff = result.difference.to_numpy() * 100
    err = np.vstack([diff - result.ci_low.to_numpy() * 100, result.ci_high.to_numpy() * 100 - diff])
    palette = sns.color_palette()
    colours = [palette[3] if s else "0.4" for s in result.significant]
    for yi, d, e_low, e_high, c in zip(y, diff, err[0], err[1], colours, strict=True):
        ax.errorbar(d, yi, xerr=[[e_low], [e_high]], fmt="o", color=c, capsize=4)
    ax.axvline(0, color="0.2", lw=1)
    ax.margins(x=0.15)
    ax.set_yticks(y, [f"{b} − {a}" for a, b in zip(result.a, result.b, strict=True)])
    ax.set_ylim(-0.8, len(result) - 0.2)
    ax.set_xlabel("difference in conversion, percentage points (95% interval)")
    ax.set_title("A/B comparison")
    sns.despine(ax=ax, left=True)
    return ax
