"""Figures of the funnel and lead nurture (:mod:`kpilib.funnel`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D

from kpilib.deprecation import renamed_arguments
from kpilib.periods import PERIOD_NAMES
from kpilib.plots._style import (
    _OTHER_COLOUR,
    SMALL_SAMPLE_COLOUR,
    _axes,
    _draw_intervals,
    _group_labels,
    _height,
    _is_other,
    _nothing_to_plot,
    _percent_axis,
    _percent_labels,
    _require,
    _require_rows,
    _top_n,
    _with_note,
)

__all__ = [
    "plot_ab_comparison",
    "plot_conversion_by",
    "plot_drop_off",
    "plot_funnel",
    "plot_funnel_trends",
    "plot_lead_score_profile",
    "plot_nurture",
    "plot_time_to_convert",
]


_RATE_COLUMNS = {
    "numerator", "denominator", "rate", "ci_low", "ci_high", "small_sample", "users_window_open",
}
_FUNNEL_COLUMNS = {
    "step_index", "step", "users", "conversion", "step_conversion", "ci_low", "ci_high", "step_ci_low",
    "step_ci_high", "entered", "small_sample", "users_window_open", "window_complete",
}


@renamed_arguments(top="top_n")
def plot_funnel(table: pd.DataFrame, ax: Axes | None = None, *, top_n: int | None = 10) -> Axes:
    """Bars of conversion from the first step, with 95% interval whiskers.

    Bar labels carry as many decimals as the smallest non-zero conversion needs for two
    significant digits (0.42 %, 3.1 %, 45 %), so a small conversion never reads "0 %".

    Parameters
    ----------
    table : pandas.DataFrame
        The result of :func:`kpilib.funnel.funnel`; any breakdown columns become the hue
        (a missing value drawn as :data:`MISSING_LABEL`).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    top_n : int or None, default 10
        With a breakdown: draw the ``top_n`` groups with the most people entering the
        funnel; the rest are one grey ``"other (k more)"`` group whose conversion and
        interval at each step are recomputed from their summed users and entrants (never
        averaged); without an ``entered`` column they are left out and the legend title
        says so. None draws every group.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per step (and group), labelled with the conversion and the users.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> table = pd.DataFrame({"step_index": [1, 2], "step": ["visit", "buy"], "users": [5000, 21],
    ...     "conversion": [1.0, 0.0042], "ci_low": [0.999, 0.0027], "ci_high": [1.0, 0.0064]})
    >>> [t.get_text() for t in plot_funnel(table).texts]
    ['100.00%\\n5,000', '0.42%\\n21']
    """
    _require(table, {"step_index", "step", "users", "conversion", "ci_low", "ci_high"}, "plot_funnel")
    ax = _axes(ax)
    by = [c for c in table.columns if c not in _FUNNEL_COLUMNS]
    note = ""
    if by:
        table = table.assign(_group=_group_labels(table, by).to_numpy())
        size = "entered" if "entered" in table.columns else "users"
        table, note = _top_n(table, "_group", top_n, size=size, within=["step_index", "step"],
                             rates={"conversion": ("users", "entered", "ci_low", "ci_high")},
                             drawn=["conversion", "ci_low", "ci_high", "users"], noun="groups",
                             measure="people entering")
        table = table.assign(_other=table["_group"].map(_is_other)).sort_values(
            ["_other", "_group", "step_index"]).reset_index(drop=True)
        groups = table["_group"]
    else:
        table = table.sort_values("step_index").reset_index(drop=True)
        groups = _group_labels(table, by)
    levels = list(dict.fromkeys(groups))
    steps = table.drop_duplicates("step_index").sort_values("step_index")
    labels = [f"{i}. {s}" for i, s in zip(steps.step_index, steps.step, strict=True)]
    width = 0.8 / len(levels)
    palette = sns.color_palette(n_colors=max(len(levels), 1))
    fmt = _percent_labels(table["conversion"], least=1 if len(levels) == 1 else 0)
    for g, level in enumerate(levels):
        rows = table[groups == level]
        x = rows.step_index.to_numpy() - 1 - 0.4 + width * (g + 0.5)
        y = rows.conversion.to_numpy(dtype=float)
        colour = _OTHER_COLOUR if _is_other(level) else palette[g]
        ax.bar(x, y, width=width * 0.95, color=colour, label=level if by else None)
        _draw_intervals(ax, x, rows.ci_low, rows.ci_high, ecolor="0.2", capsize=3, lw=1)
        for xi, yi, users in zip(x, y, rows.users, strict=True):
            if not np.isfinite(yi):
                continue
            if len(levels) == 1:
                ax.annotate(f"{yi:{fmt}}\n{int(users):,}", (xi, yi), xytext=(0, 4), textcoords="offset points",
                            ha="center", va="bottom", fontsize=9)
            elif yi < 1:  # the first step is 100% for every group; label the rest, upright
                ax.annotate(f"{yi:{fmt}}", (xi, yi), xytext=(0, 4), textcoords="offset points",
                            ha="center", va="bottom", fontsize=7, rotation=90)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylim(0, 1.15)
    _percent_axis(ax.yaxis)
    ax.set_ylabel("conversion from the first step")
    ax.set_xlabel("")
    ax.set_title("Funnel conversion (95% Wilson intervals)")
    if by:
        ax.legend(title=" / ".join(by) + (f" ({note})" if note else ""), fontsize=8,
                  ncols=2 if len(levels) > 6 else 1)
    sns.despine(ax=ax)
    return ax


_TREND_COLUMNS = {
    "period", "period_start", "step_index", "step", "numerator", "denominator", "rate", "ci_low", "ci_high",
    "small_sample", "users_window_open", "period_complete", "complete",
}


def plot_funnel_trends(result: pd.DataFrame, ax: Axes | None = None, *, top_n: int | None = 6) -> Axes:
    """Conversion by entry period: a line with its 95% interval band; unsettled periods hollow.

    A period is drawn hollow, on a dashed stretch of line, while it is not ``complete``
    (the period has not ended, or some of its entrants' windows are still open: its rate
    may still rise); a period with fewer than 30 entrants gets a grey marker. A period
    without entrants is a gap in the line, not a zero.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of :func:`kpilib.funnel.funnel_trends`: one line per step (with
        ``each_step``) and per breakdown group.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    top_n : int or None, default 6
        With a breakdown: draw the ``top_n`` groups with the most entrants; the rest are
        one grey ``"other (k more)"`` line recomputed from their summed counts. None draws
        every group.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        "nothing to plot: …" when no period has an entrant (one line saying why, never an
        empty chart).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> result = pd.DataFrame({"period_start": pd.to_datetime(["2026-10-05", "2026-10-12"]),
    ...     "step_index": 2, "step": "signup", "numerator": [12, 3], "denominator": [40, 20],
    ...     "rate": [0.3, 0.15], "ci_low": [0.18, 0.05], "ci_high": [0.46, 0.36],
    ...     "small_sample": [False, True], "complete": [True, False]})
    >>> [t.get_text() for t in plot_funnel_trends(result).get_legend().get_texts()]
    ['signup', 'not settled: period or windows still open', 'fewer than 30 entrants']
    """
    _require(result, {"period_start", "step_index", "step", "numerator", "denominator", "rate", "ci_low",
                      "ci_high", "complete"}, "plot_funnel_trends", dates=["period_start"])
    _require_rows(result, "plot_funnel_trends", dates=["period_start"])
    if not (result["denominator"] > 0).any():
        raise _nothing_to_plot("plot_funnel_trends", "no entrants in any period")
    ax = _axes(ax)
    by = [c for c in result.columns if c not in _TREND_COLUMNS]
    note = ""
    frame = result.assign(_group=_group_labels(result, by).to_numpy())
    if by:
        within = ["period_start", "step_index", "step", *[c for c in ["period_complete"] if c in frame]]
        settled = (lambda f: (f["users_window_open"] == 0) & f["period_complete"].astype(bool)) \
            if "period_complete" in frame else (lambda f: f["users_window_open"] == 0)
        frame, note = _top_n(frame, "_group", top_n, size="denominator", within=within,
                             additive=["users_window_open"],
                             rates={"rate": ("numerator", "denominator", "ci_low", "ci_high")},
                             derived={"complete": settled}, drawn=["rate", "ci_low", "ci_high", "complete"],
                             noun="groups", measure="entrants")
    several_steps = frame["step_index"].nunique() > 1
    frame = frame.assign(_line=[f"{g} · {s}" if by and several_steps else (g if by else s)
                                for g, s in zip(frame["_group"], frame["step"], strict=True)])
    frame = frame.sort_values(["step_index", "period_start"], kind="stable")
    lines = list(dict.fromkeys(frame.assign(_o=frame["_group"].map(_is_other))
                               .sort_values(["_o", "step_index"], kind="stable")["_line"]))
    palette = sns.color_palette(n_colors=max(len(lines), 1))
    small = frame["small_sample"] if "small_sample" in frame else frame["denominator"] < 30
    frame = frame.assign(_small=small.astype(bool).to_numpy(), _settled=frame["complete"].astype(bool).to_numpy())
    for i, name in enumerate(lines):
        rows = frame[frame["_line"] == name]
        colour = _OTHER_COLOUR if _is_other(rows["_group"].iloc[0]) else palette[i]
        x = pd.to_datetime(rows["period_start"]).to_numpy()
        y = rows["rate"].to_numpy(dtype=float)
        settled = rows["_settled"].to_numpy()
        ax.fill_between(x, rows["ci_low"].to_numpy(dtype=float), rows["ci_high"].to_numpy(dtype=float),
                        color=colour, alpha=0.18, lw=0)
        firm = np.where(settled, y, np.nan)
        ax.plot(x, firm, color=colour, lw=1.8, label=name)
        if not settled.all():  # the unsettled stretch, joined to the last settled point
            start = max(int(np.flatnonzero(~settled)[0]) - 1, 0)
            ax.plot(x[start:], np.where(np.arange(len(y)) >= start, y, np.nan)[start:], color=colour, lw=1.4,
                    ls="--")
        faces = np.array([to_rgba("white") if not s else to_rgba(SMALL_SAMPLE_COLOUR if m else colour)
                          for s, m in zip(settled, rows["_small"], strict=True)])
        edges = [SMALL_SAMPLE_COLOUR if m else colour for m in rows["_small"]]
        ax.scatter(x, y, s=28, facecolors=faces, edgecolors=edges, linewidths=1.3, zorder=3)
    handles, labels = ax.get_legend_handles_labels()
    if not frame["_settled"].all():
        handles.append(Line2D([], [], color="0.3", ls="--", marker="o", markerfacecolor="white"))
        labels.append("not settled: period or windows still open")
    if frame["_small"].any():
        handles.append(Line2D([], [], ls="", marker="o", color=SMALL_SAMPLE_COLOUR))
        labels.append("fewer than 30 entrants")
    ax.legend(handles, labels, fontsize=8, title=note or None, title_fontsize=8)
    period = result.attrs.get("period")
    zone = result.attrs.get("timezone")
    unit = PERIOD_NAMES.get(period, "period") if period else "period"
    ax.set_xlabel(f"{unit} of entry ({zone or 'UTC'})")
    steps = result.attrs.get("steps")
    target = "each step" if several_steps else str(frame["step"].iloc[0])
    ax.set_ylabel(f"conversion to {target}" + (f" (from {steps[0]})" if steps else ""))
    ax.set_ylim(0, min(1.0, float(np.nanmax(frame["ci_high"].to_numpy(dtype=float), initial=0)) * 1.15 or 1.0))
    _percent_axis(ax.yaxis)
    ax.set_title(f"Funnel conversion by {unit} of entry (95% Wilson intervals)")
    ax.figure.autofmt_xdate()
    sns.despine(ax=ax)
    return ax


@renamed_arguments(top="top_n")
def plot_conversion_by(rates: pd.DataFrame, ax: Axes | None = None, *, top_n: int | None = 10) -> Axes:
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
    top_n : int or None, default 10
        Draw the ``top_n`` groups with the most people in the denominator; the rest become one
        ``"other (k more)"`` bar at the bottom, its rate and interval recomputed from their
        summed numerators and denominators (without a ``numerator`` column the rest are
        left out and the title says "top 10 of 495 …"). None draws every group.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per group, highest rate on top ("other" at the bottom).
    """
    _require(rates, {"denominator", "rate", "ci_low", "ci_high"}, "plot_conversion_by")
    ax = _axes(ax)
    by = [c for c in rates.columns if c not in _RATE_COLUMNS]
    rates = rates.assign(_label=_group_labels(rates, by).to_numpy())
    rates, note = _top_n(rates, "_label", top_n, size="denominator", additive=["users_window_open"],
                         rates={"rate": ("numerator", "denominator", "ci_low", "ci_high")},
                         drawn=["rate", "ci_low", "ci_high", "denominator"],
                         noun=f"{' / '.join(by) or 'group'}s", measure="denominator (n)")
    rates = rates.assign(_other=rates["_label"].map(_is_other)).sort_values(
        ["_other", "rate"], ascending=[False, True], na_position="first").reset_index(drop=True)
    labels = rates["_label"]
    rates = rates.drop(columns=["_label", "_other"])
    small = rates["small_sample"] if "small_sample" in rates else rates["denominator"] < 30
    y = np.arange(len(rates))
    colour = sns.color_palette()[0]
    colours = [SMALL_SAMPLE_COLOUR if s else colour for s in small]
    bars = ax.barh(y, rates.rate.fillna(0), color=colours, height=0.7)
    for bar, is_small in zip(bars, small, strict=True):
        if is_small:
            bar.set_hatch("//")
    _draw_intervals(ax, y, rates.ci_low, rates.ci_high, horizontal=True, ecolor="0.2", capsize=3, lw=1)
    ticks = [f"{label}  (n={n:,}{', small' if s else ''})"
             for label, n, s in zip(labels, rates.denominator, small, strict=True)]
    ax.set_yticks(y, ticks)
    _percent_axis(ax.xaxis)
    ax.set_xlabel("rate (95% Wilson interval)")
    ax.set_ylabel(" / ".join(by))
    ax.set_xlim(0, min(1.0, float(np.nanmax(rates.ci_high.to_numpy(), initial=0)) * 1.15 or 1.0))
    ax.set_title(_with_note("Conversion by " + (" / ".join(by) if by else "group"), note))
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
    _draw_intervals(ax, x, drops.ci_low, drops.ci_high, ecolor="0.2", capsize=3, lw=1)
    ax.set_xticks(x, [f"{a} → {b}" for a, b in zip(drops.from_step, drops.to_step, strict=True)])
    ax.set_ylim(0, 1.05)
    _percent_axis(ax.yaxis)
    ax.set_ylabel("drop-off (95% Wilson interval)")
    ax.set_title("Where people leave the funnel")
    sns.despine(ax=ax)
    return ax


@renamed_arguments(top="top_n")
def plot_time_to_convert(result, ax: Axes | None = None, *, top_n: int | None = 10) -> Axes:
    """Histogram of time to convert, with the median and 90th percentile marked.

    Parameters
    ----------
    result : kpilib.funnel.TimeToConvert
        The result of :func:`kpilib.funnel.time_to_convert` (``histogram`` and
        ``summary``); with a breakdown, one step line per group.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    top_n : int or None, default 10
        With a breakdown: draw the ``top_n`` groups with the most converters; the rest
        are left out (a median of the pooled rest needs the individual times) and the
        legend title says so. None draws every group.

    Returns
    -------
    matplotlib.axes.Axes
        Bars (or step lines per group) and one dashed median line per group.
    """
    histogram, summary = result.histogram, result.summary
    _require_rows(histogram, "plot_time_to_convert")
    if not histogram["users"].sum() > 0:
        raise _nothing_to_plot("plot_time_to_convert", "no converters")
    ax = _axes(ax)
    by = [c for c in histogram.columns if c not in {"bin_start_days", "bin_end_days", "users"}]
    palette = sns.color_palette()
    note = ""
    if not by:
        ax.bar(histogram.bin_start_days, histogram.users, width=histogram.bin_end_days - histogram.bin_start_days,
               align="edge", color=palette[0], edgecolor="white")
        if len(summary) and summary.converters.iloc[0] > 0:
            median, p90 = summary.median_days.iloc[0], summary.p90_days.iloc[0]
            ax.axvline(median, color="0.2", ls="--", lw=1.2, label=f"median {median:.1f} days")
            ax.axvline(p90, color="0.5", ls=":", lw=1.2, label=f"90th percentile {p90:.1f} days")
    else:
        histogram = histogram.assign(_group=_group_labels(histogram, by).to_numpy())
        histogram, note = _top_n(histogram, "_group", top_n, size="users", pool=False, noun="groups",
                                 measure="converters")
        labels = histogram["_group"]
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
        ax.legend(fontsize=8, title=note or None, title_fontsize=8)
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
    ax = _axes(ax, size=(8, _height(len(result), 0.6, 1.2, 1.8)))
    y = np.arange(len(result))
    diff = result.difference.to_numpy(dtype=float) * 100
    lows, highs = result.ci_low.to_numpy(dtype=float) * 100, result.ci_high.to_numpy(dtype=float) * 100
    palette = sns.color_palette()
    colours = [palette[3] if s else "0.4" for s in result.significant]
    for yi, d, low, high, c in zip(y, diff, lows, highs, colours, strict=True):
        _draw_intervals(ax, [yi], [low], [high], horizontal=True, ecolor=c, capsize=4)
        ax.plot([d], [yi], "o", color=c)
    ax.axvline(0, color="0.2", lw=1)
    ax.margins(x=0.15)
    ax.set_yticks(y, [f"{b} − {a}" for a, b in zip(result.a, result.b, strict=True)])
    ax.set_ylim(-0.8, len(result) - 0.2)
    ax.set_xlabel("difference in conversion, percentage points (95% interval)")
    ax.set_title("A/B comparison")
    sns.despine(ax=ax, left=True)
    return ax
