"""The look shared by every figure: axes, percent formatting with significant decimals,
interval whiskers, the label of missing categories, the top N + "other" rule and the
input checks ("nothing to plot: …")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import Formatter

from kpilib.data import MISSING_LABEL
from kpilib.stats import rate_frame

__all__ = ["MISSING_LABEL", "SMALL_SAMPLE_COLOUR", "label_missing"]

#: Colour of cells flagged for a small denominator.
SMALL_SAMPLE_COLOUR = "0.6"



#: Colours of observed and model-expected series in the model checks.
_ACTUAL = "#4c72b0"
_MODEL = "#dd8452"

#: Label stem of the bar that aggregates the categories beyond the top N.
_OTHER = "other"

#: Colour of the "other (k more)" line, bar or bubble.
_OTHER_COLOUR = "0.55"

#: Tallest figure (inches) a chart grows to however many rows it gets: about a screen.
_MOST_HEIGHT = 10.0


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
    noun: str = "categories", measure: str | None = None, pool: bool = True,
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
    blended ``"all"`` rows) are always kept and neither ranked nor counted. ``pool=False``
    always drops the rest (for values that no per-category count can recombine, e.g.
    shares of distinct users who may sit in several categories).
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
    if pool and set(drawn) <= covered and sources <= set(frame.columns):
        others = frame[frame[key].isin(rest)]
        summed = (others.groupby(list(within), sort=False, dropna=False)[summable].sum().reset_index()
                  if within else others[summable].sum().to_frame().T)
        for rate, (numerator, denominator, low, high) in rates.items():
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
        summed = summed[[c for c in frame.columns if c in summed.columns]]
        return pd.concat([keep, summed], ignore_index=True).reindex(columns=frame.columns), ""
    return keep.reset_index(drop=True), f"top {top} of {len(totals)} {noun} by {measure or size.replace('_', ' ')}"


def _height(rows: int, per_row: float, base: float, least: float) -> float:
    """Figure height for ``rows`` rows: ``base + per_row × rows``, at least ``least`` and
    at most :data:`_MOST_HEIGHT` (about a screen) however many rows come in."""
    return float(np.clip(base + per_row * rows, least, _MOST_HEIGHT))


def _percent_labels(values: Any, least: int = 0) -> str:
    """The format spec (``".2%"``) of percent labels for ``values``: the adaptive decimals
    of :func:`_significant_decimals` (two significant digits on the smallest non-zero
    value), at least ``least`` — so 0.4 % never reads "0 %"."""
    return f".{max(least, _significant_decimals(values))}%"


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
