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

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import Formatter, MaxNLocator

if TYPE_CHECKING:
    from kpilib.churn import SBGFit, SBGProjection, SurvivalResult

__all__ = [
    "MISSING_LABEL",
    "label_missing",
    "plot_ab_comparison",
    "plot_active_users",
    "plot_attribution",
    "plot_cac",
    "plot_churn_rate",
    "plot_clv_cac",
    "plot_clv_distribution",
    "plot_conditional_expectations",
    "plot_conversion_by",
    "plot_drop_off",
    "plot_email_campaigns",
    "plot_feature_adoption",
    "plot_frequency_recency_matrix",
    "plot_funnel",
    "plot_health_distribution",
    "plot_health_lift",
    "plot_holdout_scorecard",
    "plot_influenced_revenue",
    "plot_lead_score_profile",
    "plot_lifecycle",
    "plot_mrr_movements",
    "plot_nurture",
    "plot_parameter_recovery",
    "plot_period_transactions",
    "plot_retention_heatmap",
    "plot_return_on_spend",
    "plot_revenue_retention",
    "plot_roc",
    "plot_sbg_projection",
    "plot_sbg_projections",
    "plot_spend",
    "plot_stickiness",
    "plot_stickiness_histogram",
    "plot_survey_trend",
    "plot_survival",
    "plot_time_to_convert",
    "plot_time_to_value",
    "plot_tracking",
    "plot_value_by_channel",
    "plot_value_tiers",
]

#: Colour of cells flagged for a small denominator.
SMALL_SAMPLE_COLOUR = "0.6"

#: The one label of a missing category (null, NaN, None or an empty string) in every
#: figure; tables should use it too (see :func:`label_missing`).
MISSING_LABEL = "(none)"

#: Neutral colour of the cohort heatmap's offset-0 cells (100 % by definition, off the scale).
_OFFSET_ZERO_COLOUR = "0.88"

#: Label stem of the bar that aggregates the categories beyond the top N.
_OTHER = "other"

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
    return frame[list(columns)].apply(label_missing).astype(str).agg(" / ".join, axis=1)


def _draw_intervals(ax: Axes, at: Any, low: Any, high: Any, *, horizontal: bool = False, **style: Any) -> Any:
    """Whiskers from ``low`` to ``high`` at positions ``at`` (vertical, or along x when
    ``horizontal``), with caps.

    Each interval is drawn as the segment it is, whether or not it contains its point
    estimate (a bootstrap percentile interval need not, nor an interval on another scale),
    so error bars are never negative. An interval with a missing or infinite bound is not
    drawn. The caller draws the point estimates. Returns the ``ErrorbarContainer``, or
    None when no interval was drawn.
    """
    at = np.asarray(at, dtype=float)
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    lo, hi = np.minimum(low, high), np.maximum(low, high)
    shown = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(at)
    if not shown.any():
        return None
    centre, half = (lo[shown] + hi[shown]) / 2, (hi[shown] - lo[shown]) / 2
    if horizontal:
        return ax.errorbar(centre, at[shown], xerr=half, fmt="none", **style)
    return ax.errorbar(at[shown], centre, yerr=half, fmt="none", **style)


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str, dates: Iterable[str] = ()) -> None:
    """Raise a ValueError naming the missing ``columns``, or "nothing to plot: …" for an
    empty frame or date columns ``dates`` without a single date."""
    missing = set(columns) - set(frame.columns)
    if missing:
        raise ValueError(f"{what} needs the columns {sorted(missing)}; pass the result of the matching kpilib function")
    _require_rows(frame, what, dates)


def label_missing(values: Any) -> pd.Series:
    """Category values with every missing one (null, NaN, None, NaT, empty or blank
    string) replaced by :data:`MISSING_LABEL`.

    The same rule for every figure and table, so a missing channel reads the same
    everywhere.

    Parameters
    ----------
    values : array_like or pandas.Series
        Category values.

    Returns
    -------
    pandas.Series
        The values (object dtype), missing ones as :data:`MISSING_LABEL`; a Series keeps
        its index.

    Examples
    --------
    >>> label_missing(["email", None, float("nan"), "", " "]).tolist()
    ['email', '(none)', '(none)', '(none)', '(none)']
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    series = series.astype(object)
    blank = series.map(lambda v: isinstance(v, str) and not v.strip())
    return series.where(~(series.isna() | blank), MISSING_LABEL)


def _with_missing_label(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """``frame`` with its category ``columns`` passed through :func:`label_missing`."""
    columns = [c for c in columns if c in frame.columns]
    if not columns:
        return frame
    return frame.assign(**{c: label_missing(frame[c]) for c in columns})


def _top_n(
    frame: pd.DataFrame, key: str, top: int | None, *, size: str, within: Sequence[str] = (),
    additive: Sequence[str] = (), rates: dict[str, tuple[str, str, str | None, str | None]] | None = None,
    derived: dict[str, Any] | None = None, drawn: Sequence[str] = (), fixed: Sequence[Any] = (),
    noun: str = "categories", measure: str | None = None,
) -> tuple[pd.DataFrame, str]:
    """The ``top`` values of ``key`` with the largest total ``size``; the rest as one
    ``"other (k more)"`` category, or dropped.

    The rest are aggregated (per combination of the ``within`` columns, e.g. period or
    model) only when every ``drawn`` column can be: ``additive`` columns are summed,
    ``rates`` (``{rate: (numerator, denominator, ci_low, ci_high)}``) are recomputed from
    the summed numerators and denominators with their Wilson interval
    (:func:`kpilib.stats.rate_frame`), ``derived`` (``{column: function of the summed
    frame}``) likewise — a rate is never averaged. Otherwise the rest are dropped and the
    returned note says so ("top 10 of 495 pages by visitors"); the note is empty when
    nothing was cut or the rest are drawn as "other". Values in ``fixed`` (e.g. the
    blended ``"all"`` rows) are always kept and neither ranked nor counted.
    """
    rates, derived = rates or {}, derived or {}
    ranked = frame[~frame[key].isin(list(fixed))]
    totals = ranked.groupby(key, sort=False, dropna=False)[size].sum(min_count=1).fillna(0)
    if top is None or len(totals) <= top:
        return frame, ""
    order = sorted(totals.index, key=lambda k: (-float(totals[k]), str(k)))
    rest = order[top:]
    label = f"{_OTHER} ({len(rest)} more)"
    covered = set(additive) | set(rates) | set(derived) | set(within) | {key}
    for spec in rates.values():
        covered |= {c for c in spec if c}
    summable = list(dict.fromkeys([*additive, *(c for spec in rates.values() for c in spec[:2])]))
    sources = set(summable)
    keep = frame[~frame[key].isin(rest)]
    if set(drawn) <= covered and sources <= set(frame.columns):
        others = frame[frame[key].isin(rest)]
        summed = (others.groupby(list(within), sort=False, dropna=False)[summable].sum().reset_index()
                  if within else others[summable].sum().to_frame().T)
        for rate, (numerator, denominator, low, high) in rates.items():
            from kpilib.stats import rate_frame

            recomputed = rate_frame(summed[numerator].round(), summed[denominator].round())
            summed[rate] = recomputed["rate"].to_numpy()
            if low:
                summed[low] = recomputed["ci_low"].to_numpy()
            if high:
                summed[high] = recomputed["ci_high"].to_numpy()
            if "small_sample" in frame.columns:
                summed["small_sample"] = recomputed["small_sample"].to_numpy()
        for column, function in derived.items():
            with np.errstate(divide="ignore", invalid="ignore"):
                summed[column] = function(summed)
        summed[key] = label
        return pd.concat([keep, summed.reindex(columns=frame.columns)], ignore_index=True), ""
    return keep.reset_index(drop=True), f"top {top} of {len(totals)} {noun} by {measure or size.replace('_', ' ')}"


def _with_note(title: str, note: str) -> str:
    return f"{title} ({note})" if note else title


def _is_other(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(f"{_OTHER} (") and value.endswith(" more)")


def _nothing_to_plot(what: str, reason: str) -> ValueError:
    return ValueError(f"nothing to plot: {what} got {reason}; check for data before plotting")


def _require_rows(frame: pd.DataFrame, what: str, dates: Iterable[str] = ()) -> None:
    """Raise ``ValueError("nothing to plot: …")`` for an empty frame, or one whose date
    columns ``dates`` hold no date at all (a time axis would start in 1970)."""
    if len(frame) == 0:
        raise _nothing_to_plot(what, "an empty frame")
    for column in dates:
        if column in frame.columns and frame[column].isna().all():
            raise _nothing_to_plot(what, f"no {column!r} values (all missing)")


def _significant_decimals(values: Any, digits: int = 2, most: int = 4) -> int:
    """Decimals of a percentage (value × 100) so the smallest non-zero ``values`` shows
    at least ``digits`` significant digits (0.0027 → 2: "0.27%", 0.013 → 1: "1.3%",
    0.45 → 0: "45%"), at most ``most``."""
    v = np.abs(np.asarray(values, dtype=float).ravel()) * 100
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return 0
    return int(np.clip(digits - 1 - np.floor(np.log10(v.min())), 0, most))


class _PercentTicks(Formatter):
    """Percent tick labels (fraction × 100) with as many decimals as the ticks need to
    be exact: 0.1 %, 0.25 %, 45 % — never "0 %" at every tick of a small-rate axis."""

    def __init__(self, most: int = 4) -> None:
        self.most = most
        self.decimals = 0

    def set_locs(self, locs: Any) -> None:
        super().set_locs(locs)
        scaled = np.asarray(locs, dtype=float) * 100
        scaled = scaled[np.isfinite(scaled)]
        for decimals in range(self.most + 1):
            if np.allclose(np.round(scaled, decimals), scaled, rtol=0, atol=1e-9 * max(1.0, float(np.abs(scaled).max(initial=0)))):
                break
        self.decimals = decimals

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x * 100:.{self.decimals}f}%"


def _percent_axis(axis: Any) -> None:
    """Percent tick labels with adaptive precision on a matplotlib axis (``ax.yaxis``…)."""
    axis.set_major_formatter(_PercentTicks())


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
        ax.bar(x, y, width=width * 0.95, color=palette[g], label=level if by else None)
        _draw_intervals(ax, x, rows.ci_low, rows.ci_high, ecolor="0.2", capsize=3, lw=1)
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
    _percent_axis(ax.yaxis)
    ax.set_ylabel("conversion from the first step")
    ax.set_xlabel("")
    ax.set_title("Funnel conversion (95% Wilson intervals)")
    if by:
        ax.legend(title=" / ".join(by), fontsize=8)
    sns.despine(ax=ax)
    return ax


def plot_conversion_by(rates: pd.DataFrame, ax: Axes | None = None, *, top: int | None = 10) -> Axes:
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
    top : int or None, default 10
        Draw the ``top`` groups with the most people in the denominator; the rest become one
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
    rates, note = _top_n(rates, "_label", top, size="denominator", additive=["users_window_open"],
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
    _require_rows(histogram, "plot_time_to_convert")
    if not histogram["users"].sum() > 0:
        raise _nothing_to_plot("plot_time_to_convert", "no converters")
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


# ----------------------------------------------------------------- churn and retention


def plot_churn_rate(
    churn: pd.DataFrame, ax: Axes | None = None, *, group: str | None = None,
    benchmark: bool = True,
) -> Axes:
    """Churn rate per period with its Wilson interval (one line per group).

    Parameters
    ----------
    churn : pandas.DataFrame
        Output of :func:`kpilib.churn.churn_rate`.
    ax : matplotlib Axes, optional
    group : str, optional
        The breakdown column to draw one line per value of.
    benchmark : bool, default True
        Shade the commonly quoted 3–8 % monthly SaaS range, as context (monthly data only).
    """
    _require(churn, ["period", "churn_rate", "ci_low", "ci_high"], "plot_churn_rate")
    ax = _axes(ax)
    groups = [(None, churn)] if group is None else list(churn.groupby(group, sort=True))
    palette = sns.color_palette(n_colors=max(len(groups), 1))
    for color, (name, part) in zip(palette, groups, strict=False):
        x = np.arange(len(part))
        ax.plot(x, part["churn_rate"], marker="o", color=color, label=name or "churn rate")
        ax.fill_between(x, part["ci_low"], part["ci_high"], color=color, alpha=0.2, linewidth=0)
    labels = list(groups[0][1]["period"]) if groups else []
    ax.set_xticks(np.arange(len(labels)))
    ax.set_xticklabels(labels, rotation=45, ha="right")
    if benchmark:
        from kpilib.churn import SAAS_MONTHLY_CHURN_BENCHMARK

        lo, hi = SAAS_MONTHLY_CHURN_BENCHMARK
        ax.axhspan(lo, hi, color="grey", alpha=0.08, label="3–8 % monthly, often quoted for SaaS (context)")
    _percent_axis(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("period")
    ax.set_ylabel("customer churn (95% CI)")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_revenue_retention(revenue: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """GRR and NRR per period with their intervals, and the 100 % line."""
    _require(revenue, ["period", "grr", "nrr", "grr_ci_low", "nrr_ci_low"], "plot_revenue_retention")
    ax = _axes(ax)
    data = revenue.dropna(subset=["grr"])
    x = np.arange(len(data))
    for name, color in (("grr", "C0"), ("nrr", "C2")):
        ax.plot(x, data[name], marker="o", color=color, label=name.upper())
        ax.fill_between(x, data[f"{name}_ci_low"], data[f"{name}_ci_high"], color=color, alpha=0.2, linewidth=0)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xticks(x)
    ax.set_xticklabels(data["period"], rotation=45, ha="right")
    _percent_axis(ax.yaxis)
    ax.set_ylabel("revenue retention of the starting cohort")
    ax.legend(loc="lower left", fontsize="small")
    return ax


def plot_mrr_movements(revenue: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """MRR movements per period: gains above zero, losses below."""
    parts = {"new_mrr": "new", "reactivation_mrr": "reactivation", "expansion_mrr": "expansion",
             "contraction_mrr": "contraction", "churned_mrr": "churned"}
    _require(revenue, ["period", *parts], "plot_mrr_movements")
    ax = _axes(ax)
    x = np.arange(len(revenue))
    colors = dict(zip(parts.values(), ["C2", "C9", "C0", "C1", "C3"], strict=True))
    up = np.zeros(len(revenue))
    down = np.zeros(len(revenue))
    for column, label in parts.items():
        values = revenue[column].to_numpy(dtype=float)
        if label in ("contraction", "churned"):
            ax.bar(x, -values, bottom=down, color=colors[label], label=label)
            down -= values
        else:
            ax.bar(x, values, bottom=up, color=colors[label], label=label)
            up += values
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels(revenue["period"], rotation=45, ha="right")
    ax.set_ylabel("MRR movement")
    ax.legend(loc="upper left", fontsize="small", ncol=3)
    return ax


def plot_retention_heatmap(
    retention: pd.DataFrame, ax: Axes | None = None, *, average: str | None = "pooled",
    title: str | None = None,
) -> Axes:
    """Cohort × offset heatmap; incomplete cells are left blank, the average row labelled.

    Offset 0 is 100 % by definition: its cells are drawn in a neutral grey and kept off
    the colour scale, which spans 0 to the largest retention at offsets ≥ 1, so
    e-commerce levels (0.1–1 %) are not flattened. Cell labels and the colour bar use
    as many decimals as the smallest non-zero rate needs for two significant digits
    (0.27 %, 1.3 %, 45 %).

    Parameters
    ----------
    retention : pandas.DataFrame
        Output of :func:`kpilib.churn.cohort_retention` (one group).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    average : {"pooled", "simple"} or None
        The average row to append (labelled with its kind).
    title : str, optional
        The title.

    Returns
    -------
    matplotlib.axes.Axes
        The heatmap (``ax.collections[0]``, offset 0 masked) with its colour bar.

    Raises
    ------
    ValueError
        "nothing to plot: …" for an empty result.
    """
    from kpilib.churn import retention_matrix

    _require(retention, {"cohort", "offset", "rate"}, "plot_retention_heatmap")
    matrix = retention_matrix(retention, "rate", average)
    if matrix.isna().all(axis=None):
        raise _nothing_to_plot("plot_retention_heatmap", "no retention rate (every cell incomplete)")
    ax = _axes(ax, (max(6, 0.5 * matrix.shape[1] + 2), max(4, 0.35 * matrix.shape[0] + 1)))
    offset_zero = np.asarray([c == 0 for c in matrix.columns])
    later = matrix.loc[:, ~offset_zero].to_numpy(dtype=float)
    top = float(np.nanmax(later)) if np.isfinite(later).any() else 1.0
    top = top if top > 0 else 1.0
    decimals = _significant_decimals(later[np.isfinite(later)] if np.isfinite(later).any() else matrix)
    annotate = matrix.shape[1] <= 14
    mask = matrix.isna() | offset_zero[np.newaxis, :]
    sns.heatmap(matrix, ax=ax, mask=mask, annot=annotate, fmt=f".{decimals}%", cmap="crest", vmin=0, vmax=top,
                cbar_kws={"format": _PercentTicks(), "label": "retained (offsets ≥ 1)"},
                annot_kws={"fontsize": 7})
    for row, value in enumerate(matrix.loc[:, offset_zero].iloc[:, 0] if offset_zero.any() else []):
        if pd.isna(value):
            continue
        column = int(np.flatnonzero(offset_zero)[0])
        ax.add_patch(plt.Rectangle((column, row), 1, 1, facecolor=_OFFSET_ZERO_COLOUR, edgecolor="none"))
        if annotate:
            ax.text(column + 0.5, row + 0.5, f"{value:.0%}", ha="center", va="center", fontsize=7, color="0.3")
    ax.grid(False)
    if average is not None:
        ax.axhline(len(matrix) - 1, color="white", linewidth=2)
    ax.set_xlabel("periods since the cohort's first period (0: 100 % by definition, grey)")
    ax.set_ylabel("cohort")
    if title:
        ax.set_title(title)
    return ax


def plot_survival(result: SurvivalResult, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Kaplan–Meier curves with their bands, and the log-rank p-value in the title."""
    curves = result.curves
    _require_rows(curves, "plot_survival")
    curves = _with_missing_label(curves, ["group"])
    ax = _axes(ax)
    for color, (name, part) in zip(sns.color_palette(n_colors=curves["group"].nunique()),
                                   curves.groupby("group", sort=True), strict=False):
        ax.step(part["tenure"], part["survival"], where="post", color=color, label=str(name))
        ax.fill_between(part["tenure"], part["ci_low"], part["ci_high"], step="post", color=color,
                        alpha=0.15, linewidth=0)
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    ax.set_ylim(0, 1.02)
    _percent_axis(ax.yaxis)
    ax.set_xlabel("tenure (months)")
    ax.set_ylabel("still subscribed (Kaplan–Meier, 95% CI)")
    text = title or ""
    if result.logrank is not None:
        p = float(result.logrank["p_value"].iloc[0])
        text = (text + " — " if text else "") + f"log-rank p = {p:.3g}"
    ax.set_title(text)
    ax.legend(loc="lower left", fontsize="small")
    return ax


def plot_sbg_projection(
    fit: SBGFit, ax: Axes | None = None, *, actual: Any = None, periods: int | None = None,
    label: str = "",
) -> Axes:
    """Actual survivors against the sBG projection; the calibration end is marked."""
    n = len(actual) - 1 if actual is not None else fit.n_periods_
    proj = fit.projection(periods or max(n, fit.n_periods_), actual)
    ax = _axes(ax)
    line = ax.plot(proj["period"], proj["expected"] / proj["expected"].iloc[0], linestyle="--",
                   label=f"sBG projection {label}".strip())[0]
    cal = proj["calibration"]
    ax.plot(proj.loc[cal, "period"], proj.loc[cal, "actual"] / proj["actual"].iloc[0], "o",
            color=line.get_color(), label=f"actual, calibration {label}".strip())
    hold = ~cal & proj["actual"].notna()
    if hold.any():
        ax.plot(proj.loc[hold, "period"], proj.loc[hold, "actual"] / proj["actual"].iloc[0], "o",
                markerfacecolor="white", color=line.get_color(), label=f"actual, holdout {label}".strip())
    ax.axvline(fit.n_periods_, color="grey", linewidth=0.8, linestyle=":")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, 1.02)
    _percent_axis(ax.yaxis)
    ax.set_xlabel("tenure (periods)")
    ax.set_ylabel("share of the cohort still subscribed")
    ax.legend(loc="lower left", fontsize="small")
    return ax


def plot_sbg_projections(projection: SBGProjection, ax: Axes | None = None, *, extend: int = 6) -> Axes:
    """Every segment of an :func:`kpilib.churn.sbg_projection`: actual (filled:
    calibration, open: holdout) against the projection, ``extend`` periods beyond."""
    _require_rows(projection.alive, "plot_sbg_projections")
    if not projection.fits:
        raise _nothing_to_plot("plot_sbg_projections", "no fitted segment")
    ax = _axes(ax, (9, 5))
    by = [c for c in projection.alive.columns if c not in {
        "tenure", "cohort_size", "alive", "survival", "ci_low", "ci_high", "churned", "retention"}]
    groups = projection.alive.groupby(by, sort=True) if by else [("all", projection.alive)]
    for key, part in groups:
        label = " · ".join(map(str, key)) if isinstance(key, tuple) else str(key)
        if label in projection.fits:
            counts = part.sort_values("tenure")["alive"].to_numpy()
            plot_sbg_projection(projection.fits[label], ax=ax, actual=counts,
                                periods=len(counts) - 1 + extend, label=label)
    ax.set_title(f"sBG fitted on tenure 0–{projection.calibration}, projected beyond")
    return ax


# ------------------------------------------------------------------------- engagement


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
        ``freq``); a ``by`` breakdown gives one line per segment.
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


# ------------------------------------------------------------------ marketing economics


_ALL = "all"


def _breakdown(frame: pd.DataFrame) -> str:
    """The breakdown column of an :func:`kpilib.marketing.acquisition_costs` frame (second column)."""
    return frame.columns[1]


def plot_spend(costs: pd.DataFrame, ax: Axes | None = None, *, top: int | None = 10) -> Axes:
    """Spend per period, stacked by channel.

    Parameters
    ----------
    costs : pandas.DataFrame
        Output of :func:`kpilib.marketing.acquisition_costs` (the blended ``"all"`` rows
        are left out).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    top : int or None, default 10
        The ``top`` channels with the most spend over all periods; the rest are summed into one "other (k more)" layer; None draws every channel.

    Returns
    -------
    matplotlib.axes.Axes
        One stacked bar per period, one colour per channel.
    """
    _require(costs, {"period", "spend"}, "plot_spend")
    ax = _axes(ax, (10, 4.5))
    channel = _breakdown(costs)
    parts = costs[costs[channel] != _ALL]
    if parts.empty:
        parts = costs
    parts = _with_missing_label(parts, [channel])
    parts, _ = _top_n(parts, channel, top, size="spend", within=["period"], additive=["spend"], noun="channels")
    wide = parts.pivot_table(index="period", columns=channel, values="spend", aggfunc="sum").fillna(0.0)
    x = np.arange(len(wide))
    bottom = np.zeros(len(wide))
    for colour, name in zip(sns.color_palette(n_colors=max(wide.shape[1], 1)), wide.columns, strict=False):
        ax.bar(x, wide[name].to_numpy(), bottom=bottom, color=colour, label=str(name), width=0.8)
        bottom += wide[name].to_numpy()
    ax.set_xticks(x, wide.index, rotation=45, ha="right")
    ax.set_ylabel("spend")
    ax.set_title("Marketing spend by channel")
    ax.legend(title=channel, fontsize="small", ncols=2)
    sns.despine(ax=ax)
    return ax


def plot_cac(costs: pd.DataFrame, ax: Axes | None = None, *, top: int | None = 10) -> Axes:
    """CAC per period, one line per channel and the blended CAC dashed.

    Periods where a channel's CAC is undefined (spend but no new customers) are gaps in
    its line, marked by an ``×`` on the time axis — never drawn as 0 or infinity.

    Parameters
    ----------
    costs : pandas.DataFrame
        Output of :func:`kpilib.marketing.acquisition_costs`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    top : int or None, default 10
        The ``top`` channels with the most spend over all periods (the blended line is always drawn); the rest are one "other (k more)" line whose CAC is their summed spend over their summed new customers; None draws every channel.
    """
    _require(costs, {"period", "cac", "spend", "new_customers"}, "plot_cac")
    ax = _axes(ax, (10, 4.5))
    channel = _breakdown(costs)
    costs = _with_missing_label(costs, [channel])
    costs, _ = _top_n(costs, channel, top, size="spend", within=["period"], additive=["spend", "new_customers"],
                      derived={"cac": lambda f: (f["spend"] / f["new_customers"]).where(f["new_customers"] > 0)},
                      fixed=[_ALL], noun="channels")
    periods = list(dict.fromkeys(costs["period"]))
    position = {p: i for i, p in enumerate(periods)}
    names = list(dict.fromkeys(costs[channel]))
    palette = dict(zip([n for n in names if n != _ALL], sns.color_palette(n_colors=max(len(names), 1)),
                       strict=False))
    flagged = False
    for name in names:
        part = costs[costs[channel] == name]
        x = part["period"].map(position).to_numpy()
        blended = name == _ALL
        ax.plot(x, part["cac"].to_numpy(), marker="o", ms=3, color="0.2" if blended else palette[name],
                linestyle="--" if blended else "-", linewidth=2 if blended else 1.3,
                label="blended" if blended else str(name))
        undefined = part["cac"].isna() & (part["spend"] > 0)
        if undefined.any():
            ax.scatter(x[undefined.to_numpy()], np.zeros(int(undefined.sum())), marker="x", clip_on=False,
                       color="0.2" if blended else palette[name], zorder=3,
                       label="CAC undefined (spend, no new customers)" if not flagged else None)
            flagged = True
    ax.set_xticks(range(len(periods)), periods, rotation=45, ha="right")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("CAC (spend per new customer)")
    ax.set_title("Customer acquisition cost by channel")
    ax.legend(fontsize="small", ncols=2)
    sns.despine(ax=ax)
    return ax


def plot_return_on_spend(costs: pd.DataFrame, ax: Axes | None = None, *, top: int | None = 10) -> Axes:
    """ROAS per channel as horizontal bars, labelled with ROI, and the break-even line.

    Parameters
    ----------
    costs : pandas.DataFrame
        One row per channel: :func:`kpilib.marketing.acquisition_costs` with
        ``period=None`` (or one period's rows), or :func:`kpilib.marketing.attributed_return`
        for one model. Channels without spend (undefined ROAS) are listed, without a bar.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    top : int or None, default 10
        The ``top`` channels with the most spend (the blended bar is always drawn); the rest are one "other (k more)" bar, its ROAS and ROI recomputed from their summed revenue and spend (without those columns they are left out and the title says so); None draws every channel.
    """
    _require(costs, {"roas", "roi"}, "plot_return_on_spend")
    ax = _axes(ax)
    channel = "channel" if "channel" in costs.columns else _breakdown(costs)
    costs = _with_missing_label(costs, [channel])
    note = ""
    if "spend" in costs.columns:
        costs, note = _top_n(
            costs, channel, top, size="spend", additive=["spend", "revenue"] if "revenue" in costs else [],
            derived={"roas": lambda f: (f["revenue"] / f["spend"]).where(f["spend"] > 0),
                     "roi": lambda f: ((f["revenue"] - f["spend"]) / f["spend"]).where(f["spend"] > 0)},
            drawn=["roas", "roi"] if "revenue" in costs else ["roas", "roi", "revenue"], fixed=[_ALL],
            noun="channels")
    data = costs.sort_values("roas", ascending=True, na_position="first").reset_index(drop=True)
    y = np.arange(len(data))
    colours = ["0.3" if name == _ALL else ("C2" if r >= 1 else "C3") for name, r in
               zip(data[channel], data["roas"].fillna(0), strict=True)]
    ax.barh(y, data["roas"].fillna(0).to_numpy(), color=colours, height=0.7)
    for yi, roas, roi in zip(y, data["roas"], data["roi"], strict=True):
        text = "no spend: undefined" if pd.isna(roas) else f"ROAS {roas:.2f} · ROI {roi:+.0%}"
        ax.annotate(text, (0 if pd.isna(roas) else roas, yi), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.axvline(1.0, color="0.3", linestyle="--", linewidth=1, label="break-even on revenue (ROAS 1)")
    ax.set_yticks(y, ["blended" if c == _ALL else str(c) for c in data[channel]])
    ax.set_xlim(0, max(1.2, float(np.nanmax(data["roas"].to_numpy(dtype=float), initial=0)) * 1.35))
    ax.set_xlabel("revenue per unit of spend (ROAS)")
    ax.set_title(_with_note("Return on spend by channel", note))
    ax.legend(fontsize="small", loc="lower right")
    sns.despine(ax=ax)
    return ax


def plot_clv_cac(costs: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Bubble chart: CAC (x) against predicted CLV per new customer (y), bubble size = new customers.

    The lines CLV = CAC and CLV = 3 × CAC frame the usual reading: below the first a
    channel loses money on every customer, above the second it is healthy.

    Parameters
    ----------
    costs : pandas.DataFrame
        :func:`kpilib.marketing.acquisition_costs` output with ``clv`` given (one row per
        channel, e.g. ``period=None``). Channels with an undefined CAC are left out.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    """
    _require(costs, {"cac", "clv_per_customer", "new_customers", "clv_to_cac"}, "plot_clv_cac")
    ax = _axes(ax, (7, 5))
    channel = _breakdown(costs)
    data = costs[costs["cac"].notna() & costs["clv_per_customer"].notna()]
    sizes = data["new_customers"].to_numpy(dtype=float)
    scale = 1500 / max(float(sizes.max(initial=1)), 1.0)
    colours = ["0.3" if c == _ALL else f"C{i % 10}" for i, c in enumerate(data[channel])]
    ax.scatter(data["cac"], data["clv_per_customer"], s=np.maximum(sizes * scale, 20), c=colours, alpha=0.55,
               edgecolors="0.2")
    for name, x, yv, ratio in zip(data[channel], data["cac"], data["clv_per_customer"], data["clv_to_cac"],
                                  strict=True):
        label = "blended" if name == _ALL else str(name)
        ax.annotate(f"{label}\n{ratio:.1f}:1" if pd.notna(ratio) else label, (x, yv), ha="center", va="center",
                    fontsize=8)
    top = float(np.nanmax(np.r_[data["cac"].to_numpy(dtype=float), 1.0])) * 1.2
    grid = np.linspace(0, top, 50)
    ax.plot(grid, grid, color="C3", linestyle="--", linewidth=1, label="CLV = CAC")
    ax.plot(grid, 3 * grid, color="C2", linestyle=":", linewidth=1, label="CLV = 3 × CAC")
    ax.set_xlim(0, top)
    ax.set_ylim(0, max(float(np.nanmax(np.r_[data["clv_per_customer"].to_numpy(dtype=float), 1.0])) * 1.25,
                       top))
    ax.set_xlabel("CAC")
    ax.set_ylabel("predicted CLV per new customer")
    ax.set_title("CLV against CAC (bubble size: new customers)")
    ax.legend(fontsize="small", loc="upper left")
    sns.despine(ax=ax)
    return ax


def plot_attribution(credit: pd.DataFrame, ax: Axes | None = None, *, value: str = "conversions",
                     show_no_touch: bool = False, top: int | None = 10) -> Axes:
    """Credited conversions (or revenue) per channel, one bar per attribution model.

    Conversions without a touch get the same credit under every model; by default they are
    left out of the bars (so they do not flatten the comparison) and their total is noted
    in the corner.

    Parameters
    ----------
    credit : pandas.DataFrame
        Output of :func:`kpilib.marketing.attribute` (``model``, ``channel`` and ``value``).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    value : {"conversions", "revenue"}, default "conversions"
        What to draw.
    show_no_touch : bool, default False
        Draw the ``"(no touch)"`` bars too.
    top : int or None, default 10
        The ``top`` channels with the most credited ``value`` over all models; the rest are summed into one "other (k more)" group per model; None draws every channel.
    """
    from kpilib.marketing import NO_TOUCH

    _require(credit, {"model", "channel", value}, "plot_attribution")
    ax = _axes(ax, (10, 4.5))
    untouched = credit[credit["channel"] == NO_TOUCH]
    if not show_no_touch and len(untouched):
        total = float(untouched.groupby("model")[value].sum().iloc[0])
        ax.annotate(f"{NO_TOUCH}: {total:,.0f} {value} in every model (not drawn)", (0.99, 0.98),
                    xycoords="axes fraction", ha="right", va="top", fontsize=8, color="0.3")
        credit = credit[credit["channel"] != NO_TOUCH]
    credit = _with_missing_label(credit, ["channel"])
    credit, _ = _top_n(credit, "channel", top, size=value, within=["model"], additive=[value], fixed=[NO_TOUCH],
                       noun="channels")
    models = list(dict.fromkeys(credit["model"]))
    channels = list(dict.fromkeys(credit["channel"]))
    wide = credit.pivot_table(index="channel", columns="model", values=value, aggfunc="sum").reindex(
        index=channels, columns=models).fillna(0.0)
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(channels))
    for i, (colour, model) in enumerate(zip(sns.color_palette(n_colors=max(len(models), 1)), models,
                                            strict=False)):
        ax.bar(x - 0.4 + width * (i + 0.5), wide[model].to_numpy(), width=width * 0.95, color=colour,
               label=model.replace("_", " "))
    ax.set_xticks(x, channels)
    ax.set_ylabel(f"credited {value}")
    ax.set_title(f"Credited {value} by channel under each attribution model")
    ax.legend(title="model", fontsize="small", ncols=2)
    sns.despine(ax=ax)
    return ax


def plot_influenced_revenue(influence: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Share of revenue (line) and of orders (with its 95% interval) that marketing touched, per period.

    Parameters
    ----------
    influence : pandas.DataFrame
        Output of :func:`kpilib.marketing.marketing_influenced_revenue`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    """
    _require(influence, {"period", "influenced_revenue_share", "rate", "ci_low", "ci_high"},
             "plot_influenced_revenue")
    ax = _axes(ax, (10, 4))
    x = np.arange(len(influence))
    ax.plot(x, influence["influenced_revenue_share"], marker="o", color="C0", label="share of revenue")
    ax.plot(x, influence["rate"], marker="s", ms=3, color="C1", label="share of orders (95% CI)")
    ax.fill_between(x, influence["ci_low"], influence["ci_high"], color="C1", alpha=0.2, linewidth=0)
    ax.set_xticks(x, influence["period"], rotation=45, ha="right")
    _percent_axis(ax.yaxis)
    ax.set_ylim(0, 1)
    ax.set_ylabel("influenced by a marketing touch")
    ax.set_title("Marketing-influenced revenue")
    ax.legend(fontsize="small")
    sns.despine(ax=ax)
    return ax


# ------------------------------------------------------------------------ customer value

#: Colours of observed and model-expected series in the model checks.
_ACTUAL = "#4c72b0"
_MODEL = "#dd8452"


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


def plot_value_by_channel(channels: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """CLV:CAC by acquisition channel, with the break-even line at 1.

    Parameters
    ----------
    channels : pandas.DataFrame
        The result of :func:`kpilib.clv.value_by_channel`; channels without a CAC are left out.
    """
    _require(channels, {"channel", "clv_to_cac"}, "plot_value_by_channel")
    ax = _axes(ax, (7, 4))
    shown = channels.dropna(subset=["clv_to_cac"])
    sns.barplot(data=shown, x="channel", y="clv_to_cac", color=_ACTUAL, ax=ax)
    ax.axhline(1.0, color="0.3", linestyle="--", label="break-even (1)")
    ax.set(xlabel="acquisition channel", ylabel="CLV : CAC",
           title="Predicted value per acquired customer over acquisition cost")
    ax.legend()
    return ax


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
    ax.legend()
    return ax
