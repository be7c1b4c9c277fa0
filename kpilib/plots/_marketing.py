"""Figures of marketing economics: spend, CAC, return on spend, attribution (:mod:`kpilib.marketing`)."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from kpilib.deprecation import renamed_arguments
from kpilib.marketing import NO_TOUCH
from kpilib.plots._style import (
    _OTHER_COLOUR,
    _axes,
    _is_other,
    _percent_axis,
    _require,
    _top_n,
    _with_missing_label,
    _with_note,
)

__all__ = [
    "plot_attribution",
    "plot_cac",
    "plot_clv_cac",
    "plot_influenced_revenue",
    "plot_return_on_spend",
    "plot_spend",
]


_ALL = "all"


def _breakdown(frame: pd.DataFrame) -> str:
    """The breakdown column of an :func:`kpilib.marketing.acquisition_costs` frame (second column)."""
    return frame.columns[1]


@renamed_arguments(top="top_n")
def plot_spend(costs: pd.DataFrame, ax: Axes | None = None, *, top_n: int | None = 10) -> Axes:
    """Spend per period, stacked by channel.

    Parameters
    ----------
    costs : pandas.DataFrame
        Output of :func:`kpilib.marketing.acquisition_costs` (the blended ``"all"`` rows
        are left out).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    top_n : int or None, default 10
        The ``top_n`` channels with the most spend over all periods; the rest are summed into one "other (k more)" layer; None draws every channel.

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
    parts, _ = _top_n(parts, channel, top_n, size="spend", within=["period"], additive=["spend"], noun="channels")
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


@renamed_arguments(top="top_n")
def plot_cac(costs: pd.DataFrame, ax: Axes | None = None, *, top_n: int | None = 10) -> Axes:
    """CAC per period, one line per channel and the blended CAC dashed.

    Periods where a channel's CAC is undefined (spend but no new customers) are gaps in
    its line, marked by an ``×`` on the time axis — never drawn as 0 or infinity.

    Parameters
    ----------
    costs : pandas.DataFrame
        Output of :func:`kpilib.marketing.acquisition_costs`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    top_n : int or None, default 10
        The ``top_n`` channels with the most spend over all periods (the blended line is always drawn); the rest are one "other (k more)" line whose CAC is their summed spend over their summed new customers; None draws every channel.
    """
    _require(costs, {"period", "cac", "spend", "new_customers"}, "plot_cac")
    ax = _axes(ax, (10, 4.5))
    channel = _breakdown(costs)
    costs = _with_missing_label(costs, [channel])
    costs, _ = _top_n(costs, channel, top_n, size="spend", within=["period"], additive=["spend", "new_customers"],
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


@renamed_arguments(top="top_n")
def plot_return_on_spend(costs: pd.DataFrame, ax: Axes | None = None, *, top_n: int | None = 10) -> Axes:
    """ROAS per channel as horizontal bars, labelled with ROI, and the break-even line.

    Parameters
    ----------
    costs : pandas.DataFrame
        One row per channel: :func:`kpilib.marketing.acquisition_costs` with
        ``period=None`` (or one period's rows), or :func:`kpilib.marketing.attributed_return`
        for one model. Channels without spend (undefined ROAS) are listed, without a bar.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    top_n : int or None, default 10
        The ``top_n`` channels with the most spend (the blended bar is always drawn); the rest are one "other (k more)" bar, its ROAS and ROI recomputed from their summed revenue and spend (without those columns they are left out and the title says so); None draws every channel.
    """
    _require(costs, {"roas", "roi"}, "plot_return_on_spend")
    ax = _axes(ax)
    channel = "channel" if "channel" in costs.columns else _breakdown(costs)
    costs = _with_missing_label(costs, [channel])
    note = ""
    if "spend" in costs.columns:
        costs, note = _top_n(
            costs, channel, top_n, size="spend", additive=["spend", "revenue"] if "revenue" in costs else [],
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


def _cac(frame: pd.DataFrame) -> pd.Series:
    return frame["spend"] / frame["new_customers"].where(frame["new_customers"] > 0)


def _clv_per_customer(frame: pd.DataFrame) -> pd.Series:
    return frame["_clv_total"] / frame["new_customers"].where(frame["new_customers"] > 0)


@renamed_arguments(top="top_n")
def plot_clv_cac(costs: pd.DataFrame, ax: Axes | None = None, *, top_n: int | None = 10) -> Axes:
    """Bubble chart: CAC (x) against predicted CLV per new customer (y), bubble size = new customers.

    The lines CLV = CAC and CLV = 3 × CAC frame the usual reading: below the first a
    channel loses money on every customer, above the second it is healthy.

    Parameters
    ----------
    costs : pandas.DataFrame
        :func:`kpilib.marketing.acquisition_costs` output with ``clv`` given (one row per
        channel, e.g. ``period=None``). Channels with an undefined CAC are left out; a
        missing channel is labelled :data:`MISSING_LABEL`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    top_n : int or None, default 10
        Draw the ``top_n`` channels with the most new customers (the blended bubble is
        always drawn); the rest are one grey ``"other (k more)"`` bubble whose CAC, CLV
        per customer and CLV:CAC are recomputed from their summed spend, new customers
        and predicted value (CLV per customer × new customers) — never averaged. None
        draws every channel.

    Notes
    -----
    When the CLV rests on a fit marked unreliable (``costs.attrs["clv_note"]``, set by
    :func:`kpilib.marketing.acquisition_costs` from :func:`kpilib.clv.customer_value`'s
    verdict), the bubbles are hatched and the title says "CLV unreliable: …" with the
    reasons: the ratios are drawn, but not as confident numbers.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> costs = pd.DataFrame({"period": "all", "channel": ["a", "b", "c"], "spend": [100.0, 20.0, 30.0],
    ...     "new_customers": [10, 4, 6], "cac": [10.0, 5.0, 5.0], "clv_per_customer": [30.0, 10.0, 15.0],
    ...     "clv_to_cac": [3.0, 2.0, 3.0]})
    >>> ax = plot_clv_cac(costs, top_n=1)
    >>> [t.get_text() for t in ax.texts]
    ['a\\n3.0:1', 'other (2 more)\\n2.6:1']
    """
    _require(costs, {"cac", "clv_per_customer", "new_customers", "clv_to_cac"}, "plot_clv_cac")
    unreliable = costs.attrs.get("clv_note")
    unreliable = unreliable if isinstance(unreliable, str) and unreliable.strip() else None
    channel = _breakdown(costs)
    costs = _with_missing_label(costs, [channel])
    note = ""
    if "spend" in costs.columns:
        costs = costs.assign(_clv_total=costs["clv_per_customer"] * costs["new_customers"])
        costs, note = _top_n(
            costs, channel, top_n, size="new_customers", within=["period"] if "period" in costs else (),
            additive=["spend", "new_customers", "_clv_total"],
            derived={"cac": _cac, "clv_per_customer": _clv_per_customer,
                     "clv_to_cac": lambda f: _clv_per_customer(f) / _cac(f).where(_cac(f) > 0)},
            drawn=["cac", "clv_per_customer", "clv_to_cac", "new_customers"], fixed=[_ALL], noun="channels",
            measure="new customers")
    ax = _axes(ax, (7, 5))
    data = costs[costs["cac"].notna() & costs["clv_per_customer"].notna()]
    sizes = data["new_customers"].to_numpy(dtype=float)
    scale = 1500 / max(float(sizes.max(initial=1)), 1.0)
    colours = ["0.3" if c == _ALL else _OTHER_COLOUR if _is_other(c) else f"C{i % 10}"
               for i, c in enumerate(data[channel])]
    ax.scatter(data["cac"], data["clv_per_customer"], s=np.maximum(sizes * scale, 20), c=colours, alpha=0.55,
               edgecolors="0.2", hatch="////" if unreliable else None)
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
    title = _with_note("CLV against CAC (bubble size: new customers)", note)
    if unreliable:
        title += "\n" + textwrap.fill(f"(CLV {unreliable}; bubbles hatched)", 90)
    ax.set_title(title, color="0.1" if not unreliable else "#8a5a00")
    ax.legend(fontsize="small", loc="upper left")
    sns.despine(ax=ax)
    return ax


@renamed_arguments(top="top_n")
def plot_attribution(credit: pd.DataFrame, ax: Axes | None = None, *, value: str = "conversions",
                     show_no_touch: bool = False, top_n: int | None = 10) -> Axes:
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
    top_n : int or None, default 10
        The ``top_n`` channels with the most credited ``value`` over all models; the rest are summed into one "other (k more)" group per model; None draws every channel.
    """
    _require(credit, {"model", "channel", value}, "plot_attribution")
    ax = _axes(ax, (10, 4.5))
    untouched = credit[credit["channel"] == NO_TOUCH]
    if not show_no_touch and len(untouched):
        total = float(untouched.groupby("model")[value].sum().iloc[0])
        ax.annotate(f"{NO_TOUCH}: {total:,.0f} {value} in every model (not drawn)", (0.99, 0.98),
                    xycoords="axes fraction", ha="right", va="top", fontsize=8, color="0.3")
        credit = credit[credit["channel"] != NO_TOUCH]
    credit = _with_missing_label(credit, ["channel"])
    credit, _ = _top_n(credit, "channel", top_n, size=value, within=["model"], additive=[value], fixed=[NO_TOUCH],
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
