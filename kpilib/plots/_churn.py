"""Figures of churn and retention (:mod:`kpilib.churn`)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from kpilib.churn import (
    SAAS_MONTHLY_CHURN_BENCHMARK,
    SBGFit,
    SBGProjection,
    SurvivalResult,
    retention_matrix,
)
from kpilib.deprecation import renamed_arguments
from kpilib.plots._style import (
    _OTHER,
    _OTHER_COLOUR,
    _axes,
    _height,
    _is_other,
    _nothing_to_plot,
    _percent_axis,
    _PercentTicks,
    _require,
    _require_rows,
    _significant_decimals,
    _top_n,
    _with_missing_label,
    label_missing,
)

__all__ = [
    "plot_churn_rate",
    "plot_mrr_movements",
    "plot_retention_heatmap",
    "plot_revenue_retention",
    "plot_sbg_projection",
    "plot_sbg_projections",
    "plot_survival",
]


#: Neutral colour of the cohort heatmap's offset-0 cells (100 % by definition, off the scale).
_OFFSET_ZERO_COLOUR = "0.88"


@renamed_arguments(top="top_n")
def plot_churn_rate(
    churn: pd.DataFrame, ax: Axes | None = None, *, group: str | None = None,
    benchmark: bool = True, top_n: int | None = 10,
) -> Axes:
    """Churn rate per period with its Wilson interval (one line per group).

    Parameters
    ----------
    churn : pandas.DataFrame
        Output of :func:`kpilib.churn.churn_rate`.
    ax : matplotlib Axes, optional
    group : str, optional
        The breakdown column to draw one line per value of; a missing value is drawn as
        :data:`MISSING_LABEL`.
    benchmark : bool, default True
        Shade the commonly quoted 3–8 % monthly SaaS range, as context (monthly data only).
    top_n : int or None, default 10
        With ``group``: draw the ``top_n`` groups with the most customers at risk
        (``active_at_start`` summed over the periods); the rest are one grey
        ``"other (k more)"`` line whose churn rate and interval are recomputed per period
        from their summed churners and customers at risk (never averaged). Without those
        two columns the rest are left out and the legend title says so. None draws every
        group.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from kpilib.stats import rate_frame
    >>> counts = pd.DataFrame({"period": ["2026-01"] * 3, "plan": ["a", "b", "c"],
    ...     "active_at_start": [100, 50, 50], "churned": [5, 1, 3]})
    >>> rates = rate_frame(counts["churned"], counts["active_at_start"])
    >>> frame = counts.assign(churn_rate=rates["rate"], ci_low=rates["ci_low"], ci_high=rates["ci_high"])
    >>> ax = plot_churn_rate(frame, group="plan", top_n=1, benchmark=False)
    >>> [(line.get_label(), float(line.get_ydata()[0])) for line in ax.lines]
    [('a', 0.05), ('other (2 more)', 0.04)]
    """
    _require(churn, ["period", "churn_rate", "ci_low", "ci_high"], "plot_churn_rate")
    ax = _axes(ax)
    note = ""
    periods = list(dict.fromkeys(churn.sort_values("period_start")["period"] if "period_start" in churn
                                 else churn["period"]))
    position = {p: i for i, p in enumerate(periods)}
    if group is None:
        groups = [(None, churn)]
    else:
        churn = _with_missing_label(churn, [group])
        size = "active_at_start" if "active_at_start" in churn.columns else "churn_rate"
        churn, note = _top_n(
            churn, group, top_n, size=size, within=["period"], additive=[c for c in ("new", "active_at_end") if c in churn],
            rates={"churn_rate": ("churned", "active_at_start", "ci_low", "ci_high")},
            drawn=["churn_rate", "ci_low", "ci_high"], noun=f"{group} values",
            measure="customers at risk" if size == "active_at_start" else None)
        names = sorted(set(churn[group]), key=lambda v: (_is_other(v), str(v)))
        groups = [(name, churn[churn[group] == name]) for name in names]
    palette = sns.color_palette(n_colors=max(len(groups), 1))
    for color, (name, part) in zip(palette, groups, strict=False):
        color = _OTHER_COLOUR if _is_other(name) else color
        x = part["period"].map(position).to_numpy(dtype=float)
        ax.plot(x, part["churn_rate"], marker="o", color=color, label=name or "churn rate")
        ax.fill_between(x, part["ci_low"], part["ci_high"], color=color, alpha=0.2, linewidth=0)
    ax.set_xticks(np.arange(len(periods)))
    ax.set_xticklabels(periods, rotation=45, ha="right")
    if benchmark:
        lo, hi = SAAS_MONTHLY_CHURN_BENCHMARK
        ax.axhspan(lo, hi, color="grey", alpha=0.08, label="3–8 % monthly, often quoted for SaaS (context)")
    _percent_axis(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("period")
    ax.set_ylabel("customer churn (95% CI)")
    ax.legend(loc="upper left", fontsize="small", title=note or None, title_fontsize="small")
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
    _require(retention, {"cohort", "offset", "rate"}, "plot_retention_heatmap")
    matrix = retention_matrix(retention, "rate", average)
    if matrix.isna().all(axis=None):
        raise _nothing_to_plot("plot_retention_heatmap", "no retention rate (every cell incomplete)")
    ax = _axes(ax, (min(max(6, 0.5 * matrix.shape[1] + 2), 16), _height(matrix.shape[0], 0.35, 1, 4)))
    offset_zero = np.asarray([c == 0 for c in matrix.columns])
    later = matrix.loc[:, ~offset_zero].to_numpy(dtype=float)
    top = float(np.nanmax(later)) if np.isfinite(later).any() else 1.0
    top = top if top > 0 else 1.0
    decimals = _significant_decimals(later[np.isfinite(later)] if np.isfinite(later).any() else matrix)
    annotate = matrix.shape[1] <= 14 and matrix.shape[0] <= 26
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


def _survival_labels(result: SurvivalResult) -> dict[str, str]:
    """Group → label, with a missing breakdown value shown as :data:`MISSING_LABEL`
    (the result names such a group "None" or "nan")."""
    by = list(getattr(result, "by", []) or [])
    summary = getattr(result, "summary", None)
    if not by or summary is None or "group" not in summary.columns or not set(by) <= set(summary.columns):
        return {}
    labels = summary[by].apply(label_missing).astype(str).agg(" · ".join, axis=1)
    return dict(zip(summary["group"].astype(str), labels, strict=True))


def _pooled_curve(result: SurvivalResult, groups: list[str], label: str) -> pd.DataFrame | None:
    """The Kaplan–Meier curve of the customers of ``groups`` pooled, fitted like
    :func:`kpilib.churn.survival` fits each group (same confidence level), from the
    result's ``lifetimes`` (counted: rows weighted by their ``weight``); None without them."""
    life = getattr(result, "lifetimes", None)
    if life is None or not {"group", "duration", "churned"} <= set(life.columns):
        return None
    part = life[life["group"].astype(str).isin(groups)]
    if part.empty:
        return None
    fitters = getattr(result, "fitters", None) or {}
    alpha = float(next(iter(fitters.values())).alpha) if fitters else 0.05
    weights = part["weight"] if "weight" in part.columns else None
    from lifelines import KaplanMeierFitter  # as kpilib.churn.survival: only where curves are drawn

    kmf = KaplanMeierFitter(alpha=alpha, label=label).fit(part["duration"], event_observed=part["churned"],
                                                          weights=weights)
    ci = kmf.confidence_interval_survival_function_
    return pd.DataFrame({"group": label, "tenure": kmf.survival_function_.index.to_numpy(),
                         "survival": kmf.survival_function_.iloc[:, 0].to_numpy(),
                         "ci_low": ci.iloc[:, 0].to_numpy(), "ci_high": ci.iloc[:, 1].to_numpy()})


@renamed_arguments(top="top_n")
def plot_survival(
    result: SurvivalResult, ax: Axes | None = None, *, title: str | None = None, top_n: int | None = 10,
) -> Axes:
    """Kaplan–Meier curves with their bands, and the log-rank p-value in the title.

    Parameters
    ----------
    result : kpilib.churn.SurvivalResult
        Output of :func:`kpilib.churn.survival`; a missing breakdown value is drawn as
        :data:`MISSING_LABEL`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    title : str, optional
        The title (the log-rank p-value, over every group, is appended).
    top_n : int or None, default 10
        Draw the ``top_n`` groups with the most customers; the rest are one grey
        ``"other (k more)"`` curve, the Kaplan–Meier estimate of their customers pooled
        (fitted from the result's ``lifetimes``, never an average of
        curves). Without ``lifetimes`` the rest are left out and the legend title says
        how many. None draws every group.

    Returns
    -------
    matplotlib.axes.Axes
        One step curve and band per group drawn.
    """
    curves = result.curves
    _require_rows(curves, "plot_survival")
    curves = curves.assign(group=curves["group"].astype(str))
    first = curves.sort_values("tenure").groupby("group", sort=False)["at_risk"].first() \
        if "at_risk" in curves.columns else curves.groupby("group", sort=False).size()
    sizes = first.astype(float)
    life = getattr(result, "lifetimes", None)
    if life is not None and {"group"} <= set(life.columns):
        weight = life["weight"] if "weight" in life.columns else pd.Series(1, index=life.index)
        sizes = weight.groupby(life["group"].astype(str)).sum().reindex(sizes.index).fillna(sizes).astype(float)
    note = ""
    if top_n is not None and len(sizes) > top_n:
        order = sorted(sizes.index, key=lambda g: (-sizes[g], g))
        rest = order[top_n:]
        label = f"{_OTHER} ({len(rest)} more)"
        pooled = _pooled_curve(result, rest, label)
        curves = curves[curves["group"].isin(order[:top_n])]
        if pooled is not None:
            curves = pd.concat([curves, pooled], ignore_index=True)
        else:
            note = f"top {top_n} of {len(sizes)} groups by customers; {len(rest)} not drawn"
    labels = _survival_labels(result)
    curves = curves.assign(group=curves["group"].map(lambda g: labels.get(g, g)))
    curves = _with_missing_label(curves, ["group"])
    ax = _axes(ax)
    names = sorted(set(curves["group"]), key=lambda v: (_is_other(v), str(v)))
    for color, name in zip(sns.color_palette(n_colors=max(len(names), 1)), names, strict=False):
        color = _OTHER_COLOUR if _is_other(name) else color
        part = curves[curves["group"] == name].sort_values("tenure")
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
    ax.legend(loc="lower left", fontsize="small", title=note or None, title_fontsize="small")
    return ax


def plot_sbg_projection(
    fit: SBGFit, ax: Axes | None = None, *, actual: Any = None, periods: int | None = None,
    label: str = "", reliable: bool = True,
) -> Axes:
    """Actual survivors against the sBG projection; the calibration end is marked.

    Parameters
    ----------
    fit : kpilib.churn.SBGFit
        The fitted model.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    actual : sequence of float, optional
        Alive counts per period from 0, calibration and holdout (filled and open dots).
    periods : int, optional
        Periods projected; default the longer of ``actual`` and the calibration.
    label : str, default ""
        Appended to the legend entries (the segment).
    reliable : bool, default True
        False for a fit :func:`kpilib.churn.sbg_reliability` marks: the projection is
        dashed and its legend entry says "(unreliable)"; a reliable one is a solid line.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from kpilib.churn import fit_sbg
    >>> ax = plot_sbg_projection(fit_sbg([40, 36, 34]), label="basic", reliable=False)
    >>> ax.lines[0].get_label(), ax.lines[0].get_linestyle()
    ('sBG projection basic (unreliable)', '--')
    """
    n = len(actual) - 1 if actual is not None else fit.n_periods_
    proj = fit.projection(periods or max(n, fit.n_periods_), actual)
    ax = _axes(ax)
    name = f"sBG projection {label}".strip() + ("" if reliable else " (unreliable)")
    line = ax.plot(proj["period"], proj["expected"] / proj["expected"].iloc[0],
                   linestyle="-" if reliable else "--", label=name)[0]
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


@renamed_arguments(top="top_n")
def plot_sbg_projections(
    projection: SBGProjection, ax: Axes | None = None, *, extend: int = 6, top_n: int | None = 10,
) -> Axes:
    """Every segment of an :func:`kpilib.churn.sbg_projection`: actual (filled:
    calibration, open: holdout) against the projection, ``extend`` periods beyond.

    Parameters
    ----------
    projection : kpilib.churn.SBGProjection
        The fitted segments.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    extend : int, default 6
        Periods projected beyond the data.
    top_n : int or None, default 10
        Draw the ``top_n`` fitted segments with the largest cohorts; each fit is its own
        model, so the rest cannot be pooled: they are left out and the title says how
        many. None draws every segment.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    A segment whose fit :func:`kpilib.churn.sbg_reliability` marks (``reliable`` False in
    ``projection.summary``) is drawn dashed with "(unreliable)" in its legend entry; the
    reasons are in the summary's ``note``.
    """
    _require_rows(projection.alive, "plot_sbg_projections")
    if not projection.fits:
        raise _nothing_to_plot("plot_sbg_projections", "no fitted segment")
    ax = _axes(ax, (9, 5))
    by = [c for c in projection.alive.columns if c not in {
        "tenure", "cohort_size", "alive", "survival", "ci_low", "ci_high", "churned", "retention"}]
    groups = projection.alive.groupby(by, sort=True) if by else [("all", projection.alive)]
    parts = {}
    for key, part in groups:
        label = " · ".join(map(str, key)) if isinstance(key, tuple) else str(key)
        if label in projection.fits:
            parts[label] = part.sort_values("tenure")["alive"].to_numpy()
    order = sorted(parts, key=lambda k: (-float(parts[k][0]) if len(parts[k]) else 0.0, k))
    shown = order if top_n is None else order[:top_n]
    unreliable = {str(segment) for segment in projection.unreliable["segment"]}
    for label in sorted(shown):
        counts = parts[label]
        plot_sbg_projection(projection.fits[label], ax=ax, actual=counts,
                            periods=len(counts) - 1 + extend, label=label,
                            reliable=label not in unreliable)
    title = f"sBG fitted on tenure 0–{projection.calibration}, projected beyond"
    if len(shown) < len(order):
        title += f" (largest {len(shown)} of {len(order)} segments; {len(order) - len(shown)} not drawn)"
    ax.set_title(title)
    if unreliable & set(shown):
        ax.legend(loc="lower left", fontsize="small", title="dashed: unreliable fit (see the note)",
                  title_fontsize="small")
    return ax

