"""What a notebook calls: its headline KPIs for the month, and tables as the report shows them.

:func:`record_headline` turns a tidy frame of the month's headline KPIs into a
:class:`Headline`. Displayed, it is a small table for the reader, and it also carries the
numbers as JSON under the mimetype :data:`HEADLINE_MIMETYPE`; nothing is written to disk
from the kernel, so the same call works unchanged in JupyterLab. :func:`compare_months`
is the one place where a month-over-month change, its interval and its significance are
computed. :func:`use_report_tables` is the display hook that shows every DataFrame as
:func:`kpilib.report.format_table` formats it.

This module does not import the runner: a kernel needs only these.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kpilib import metrics as _metrics
from kpilib import stats as _stats
from kpilib.periods import previous_month, validate_month
from kpilib.report import _templates
from kpilib.report._format import (
    _MISSING,
    NO_DATA,
    _finite_or_none,
    format_change,
    format_table,
    format_value,
)
from kpilib.report._months import _month_label

logger = logging.getLogger(__name__)

#: The output mimetype that carries a notebook's headline metrics as JSON.
HEADLINE_MIMETYPE = "application/vnd.kpilib.headline+json"

#: Columns :func:`record_headline` and :func:`compare_months` expect, in order.
KPI_COLUMNS = ("metric", "month", "value", "numerator", "denominator", "ci_low", "ci_high")

#: Optional column of :func:`record_headline`'s input: why a value is not to be trusted
#: (``"unreliable: …"``, from a fitted model's verdict); empty or NaN means reliable. An
#: unreliable value is marked on its card and never called a significant change.
NOTE_COLUMN = "note"


def compare_months(kpis: pd.DataFrame, month: str | None = None) -> pd.DataFrame:
    """Compare each headline metric with the month before.

    The single place where a month-over-month change, its interval and its significance
    are computed; :class:`Headline`, the per-notebook JSON and the index all use it.

    Parameters
    ----------
    kpis : pandas.DataFrame
        Tidy frame with columns :data:`KPI_COLUMNS`: ``metric`` (a registered metric
        name, see :func:`kpilib.metrics.get`), ``month`` (``"YYYY-MM"``, or a monthly
        Period/Timestamp), ``value``, and ``numerator``, ``denominator``, ``ci_low``,
        ``ci_high``, which may be NaN for metrics that are not rates; optionally ``note``
        (:data:`NOTE_COLUMN`, text such as ``"unreliable: …"``; NaN or empty = reliable).
        One row per metric and month; other months are ignored.
    month : str, optional
        The report month. Defaults to the latest month in ``kpis``.

    Returns
    -------
    pandas.DataFrame
        One row per metric, in order of first appearance, with columns ``metric``,
        ``title``, ``unit``, ``higher_is_better`` (from the registry); ``month``,
        ``value``, ``numerator``, ``denominator``, ``ci_low``, ``ci_high`` for the report
        month and the same prefixed ``previous_`` for the month before; ``change``
        (value minus previous value), ``change_ci_low``, ``change_ci_high``, ``p_value``,
        ``significant``, ``small_sample`` (a denominator below
        :data:`kpilib.stats.SMALL_DENOMINATOR` in either month), and ``note`` and
        ``previous_note`` (the optional :data:`NOTE_COLUMN` of each month, None when the
        value is reliable).

    Notes
    -----
    Only rates (unit ``"rate"`` with numerator and denominator in both months) are
    tested: the interval on the change is Newcombe's hybrid score interval and the p-value
    the pooled two-proportion z-test, both from :func:`kpilib.stats.compare_proportions`.
    For every other metric ``change_ci_*`` and ``p_value`` are NaN and ``significant`` is
    ``None`` — a change is never called significant without a test, nor when either
    month's value carries a note (an unreliable fit, see :data:`NOTE_COLUMN`).

    Raises
    ------
    ValueError
        When columns are missing, a month label is malformed or a metric has two rows
        for the same month.
    KeyError
        When a metric is not in the registry.
    """
    frame = _validated_kpis(kpis)
    month = validate_month(month) if month is not None else max(frame["month"])
    before = previous_month(month)
    current = frame[frame["month"] == month].set_index("metric")
    previous = frame[frame["month"] == before].set_index("metric")
    names = [m for m in dict.fromkeys(frame["metric"]) if m in current.index or m in previous.index]
    if not names:
        raise ValueError(f"kpis has no rows for {month} or {before}")

    values = ["value", "numerator", "denominator", "ci_low", "ci_high"]
    cur = current.reindex(names)[values].astype(float)
    prev = previous.reindex(names)[values].astype(float).add_prefix("previous_")
    records = [_metrics.get(name) for name in names]
    out = pd.DataFrame(
        {
            "metric": names,
            "title": [r.title for r in records],
            "unit": [r.unit for r in records],
            "higher_is_better": pd.Series([r.higher_is_better for r in records], dtype=object),
            "month": month,
        }
    )
    out = pd.concat([out, cur.reset_index(drop=True)], axis=1)
    out.insert(out.columns.get_loc("ci_high") + 1, "previous_month", before)
    out = pd.concat([out, prev.reset_index(drop=True)], axis=1)
    out["change"] = out["value"] - out["previous_value"]

    x1, n1 = out["numerator"].to_numpy(), out["denominator"].to_numpy()
    x2, n2 = out["previous_numerator"].to_numpy(), out["previous_denominator"].to_numpy()
    with np.errstate(invalid="ignore"):
        testable = (
            (out["unit"] == "rate").to_numpy()
            & np.isfinite(x1)
            & np.isfinite(n1)
            & np.isfinite(x2)
            & np.isfinite(n2)
            & (n1 > 0)
            & (n2 > 0)
            & (x1 >= 0)
            & (x2 >= 0)
            & (x1 <= n1)
            & (x2 <= n2)
        )
    out["change_ci_low"] = np.nan
    out["change_ci_high"] = np.nan
    out["p_value"] = np.nan
    out["significant"] = pd.Series([None] * len(out), dtype=object)
    if testable.any():
        test = _stats.compare_proportions(x1[testable], n1[testable], x2[testable], n2[testable])
        out.loc[testable, "change_ci_low"] = test["ci_low"].to_numpy()
        out.loc[testable, "change_ci_high"] = test["ci_high"].to_numpy()
        out.loc[testable, "p_value"] = test["p_value"].to_numpy()
        out.loc[testable, "significant"] = [bool(s) for s in test["significant"]]
    small = np.zeros(len(out), dtype=bool)
    for n in (n1, n2):
        with np.errstate(invalid="ignore"):
            small |= np.isfinite(n) & (n < _stats.SMALL_DENOMINATOR)
    out["small_sample"] = small
    out[NOTE_COLUMN] = pd.Series(
        [_note_text(n) for n in current.reindex(names)[NOTE_COLUMN]], dtype=object
    )
    out[f"previous_{NOTE_COLUMN}"] = pd.Series(
        [_note_text(n) for n in previous.reindex(names)[NOTE_COLUMN]], dtype=object
    )
    # a change involving an unreliable value is never called significant (nor not)
    unreliable = (out[NOTE_COLUMN].notna() | out[f"previous_{NOTE_COLUMN}"].notna()).to_numpy()
    out.loc[unreliable, "significant"] = None
    return out


def _validated_kpis(kpis: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(kpis, pd.DataFrame):
        raise TypeError(f"kpis must be a pandas DataFrame, got {type(kpis).__name__}")
    missing = [c for c in KPI_COLUMNS if c not in kpis.columns]
    if missing:
        raise ValueError(
            f"kpis is missing column(s) {', '.join(map(repr, missing))}. Expected "
            f"{', '.join(KPI_COLUMNS)}; use NaN for numerator, denominator, ci_low and "
            "ci_high of metrics that are not rates."
        )
    if kpis.empty:
        raise ValueError("kpis has no rows; pass one row per metric for this and last month")
    frame = kpis.loc[:, list(KPI_COLUMNS)].copy()
    # optional: why a value is not to be trusted ("unreliable: …"); empty/NaN = reliable
    notes = kpis[NOTE_COLUMN] if NOTE_COLUMN in kpis.columns else [None] * len(kpis)
    frame[NOTE_COLUMN] = [_note_text(n) for n in notes]
    frame["metric"] = frame["metric"].astype(str)
    frame["month"] = [_month_label(m) for m in frame["month"]]
    for column in KPI_COLUMNS[2:]:
        try:
            frame[column] = pd.to_numeric(frame[column]).astype(float)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"kpis column {column!r} must be numeric (NaN allowed): {exc}"
            ) from None
    dupes = frame[frame.duplicated(["metric", "month"], keep=False)]
    if not dupes.empty:
        pairs = sorted({f"{m} {mo}" for m, mo in zip(dupes["metric"], dupes["month"], strict=True)})
        raise ValueError(f"kpis has more than one row for: {', '.join(pairs)}")
    return frame


def _note_text(value: Any) -> str | None:
    """A record's ``note`` as text, or None when there is none (None, NaN, blank)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _json_value(value: Any) -> Any:
    """A JSON-able scalar: NaN/NA become None, numpy scalars become Python ones."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(comparison: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {key: _json_value(val) for key, val in row.items()}
        for row in comparison.to_dict(orient="records")
    ]


@dataclass(frozen=True, eq=False)
class Headline:
    """A notebook's headline metrics for the month, ready to display and to collect.

    Made by :func:`record_headline`. In a notebook it shows as a small table; its
    :meth:`_repr_mimebundle_` also carries the data under :data:`HEADLINE_MIMETYPE`,
    which :func:`run_report` reads back from the executed notebook.

    Attributes
    ----------
    comparison : pandas.DataFrame
        The output of :func:`compare_months`.
    """

    comparison: pd.DataFrame

    @property
    def month(self) -> str:
        """The report month."""
        return str(self.comparison["month"].iloc[0])

    def to_records(self) -> list[dict[str, Any]]:
        """The comparison as JSON-able dicts (NaN becomes None)."""
        return _records(self.comparison)

    def to_html(self) -> str:
        """A small HTML table: metric, this month, last month, change, interval, significant."""
        rows = [_display_row(r) for r in self.to_records()]
        return _templates.render(
            "headline.html.j2", rows=rows, month=self.month, previous=previous_month(self.month)
        )

    def to_text(self) -> str:
        """A plain-text table of the same content as :meth:`to_html`."""
        rows = [_display_row(r) for r in self.to_records()]
        table = pd.DataFrame(
            {
                "metric": [r["title"] for r in rows],
                self.month: [r["value"] for r in rows],
                previous_month(self.month): [r["previous_value"] for r in rows],
                "change": [r["change"] for r in rows],
                "95% CI of change": [r["change_interval"] for r in rows],
                "significant": [r["significant"] for r in rows],
            }
        )
        if any(r["note"] or r["previous_note"] for r in rows):
            before = previous_month(self.month)
            table["note"] = [
                r["note"] or (f"{before}: {r['previous_note']}" if r["previous_note"] else "")
                for r in rows
            ]
        return f"Headline KPIs, {self.month}\n{table.to_string(index=False)}"

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_mimebundle_(
        self, include: Sequence[str] | None = None, exclude: Sequence[str] | None = None
    ) -> dict[str, Any]:
        return {
            "text/plain": self.to_text(),
            "text/html": self.to_html(),
            HEADLINE_MIMETYPE: {"month": self.month, "metrics": self.to_records()},
        }


def record_headline(kpis: pd.DataFrame, *, month: str | None = None) -> Headline:
    """Record a notebook's headline KPIs for the monthly report.

    Call it once, as the last line of a cell, in each report notebook. The returned
    object displays as a table; the report runner reads the numbers back from the
    executed notebook (nothing is written from the kernel).

    Parameters
    ----------
    kpis : pandas.DataFrame
        Tidy frame, columns :data:`KPI_COLUMNS` (and optionally :data:`NOTE_COLUMN`,
        ``"unreliable: …"`` for a value from a failing fit), with rows for the report
        month and the month before (see :func:`compare_months`).
    month : str, optional
        The report month (``"YYYY-MM"``); by default the latest month in ``kpis``.

    Returns
    -------
    Headline

    Examples
    --------
    >>> kpis = pd.DataFrame({
    ...     "metric": ["conversion_rate", "conversion_rate"],
    ...     "month": ["2026-10", "2026-09"],
    ...     "value": [0.12, 0.10],
    ...     "numerator": [120, 100], "denominator": [1000, 1000],
    ...     "ci_low": [0.101, 0.083], "ci_high": [0.142, 0.120],
    ... })
    >>> headline = record_headline(kpis)  # doctest: +SKIP
    >>> headline                          # doctest: +SKIP
    """
    return Headline(compare_months(kpis, month=month))


def _dataframe_html(frame: pd.DataFrame) -> str:
    """The report's HTML for a displayed DataFrame (pandas' own if the Styler fails)."""
    try:
        return format_table(frame).to_html()
    except Exception:  # a display hook must never break a notebook: fall back to pandas
        logger.debug("format_table failed; showing the DataFrame unformatted", exc_info=True)
        return frame._repr_html_()


def use_report_tables(enable: bool = True) -> None:
    """Show every DataFrame in this IPython kernel as :func:`format_table` formats it.

    The report runner turns this on in the kernels it starts; call it in JupyterLab to
    see tables as the report shows them (``use_report_tables(False)`` turns it off).

    Raises
    ------
    RuntimeError
        Outside IPython (a plain Python script has no display hooks).
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("use_report_tables works in an IPython kernel (JupyterLab, papermill)")
    html = shell.display_formatter.formatters["text/html"]
    if enable:
        html.for_type(pd.DataFrame, _dataframe_html)
    else:
        html.type_printers.pop(pd.DataFrame, None)


def _format_interval(low: float | None, high: float | None, fmt) -> str:
    if low is None or high is None:
        return _MISSING
    return f"[{fmt(low)}, {fmt(high)}]"


def _display_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """Formatted strings for one metric record (shared by the headline and the index)."""
    unit = record["unit"]
    significant = record.get("significant")
    change = record.get("change")
    hib = record.get("higher_is_better")
    moved = change is not None and not math.isnan(change) and change != 0
    # The arrow's colour says whether the move is good news (from the registry's
    # higher_is_better); "direction" also needs the test to call the move significant.
    tone = (
        "good"
        if moved and hib is not None and (change > 0) == hib
        else ("bad" if moved and hib is not None else "neutral")
    )
    note = _note_text(record.get(NOTE_COLUMN)) or ""
    previous_note = _note_text(record.get(f"previous_{NOTE_COLUMN}")) or ""
    if note or previous_note:
        significant = None  # an unreliable value's change is never called significant
    direction = {"good": "better", "bad": "worse"}.get(tone, "") if significant else ""
    if change is None or math.isnan(change):
        arrow = ""
    else:
        arrow = "▲" if change > 0 else "▼" if change < 0 else "▬"
    value, previous = record.get("value"), record.get("previous_value")
    return {
        "metric": record["metric"],
        "title": record.get("title") or record["metric"],
        "has_value": _finite_or_none(value) is not None,
        "has_previous": _finite_or_none(previous) is not None,
        "value": format_value(value, unit) if _finite_or_none(value) is not None else NO_DATA,
        "interval": _format_interval(
            record.get("ci_low"), record.get("ci_high"), lambda v: format_value(v, unit)
        ),
        "previous_value": format_value(previous, unit) if _finite_or_none(previous) is not None else NO_DATA,
        "change": format_change(change, unit),
        "change_interval": _format_interval(
            record.get("change_ci_low"),
            record.get("change_ci_high"),
            lambda v: format_change(v, unit),
        ),
        "significant": {True: "yes", False: "no"}.get(significant, _MISSING),
        "tested": significant is not None,
        "direction": direction,
        "tone": tone,
        "arrow": arrow,
        "small_sample": bool(record.get("small_sample")),
        "previous_month": record.get("previous_month") or "",
        # why this month's (or last month's) value is not to be trusted; "" = reliable
        "note": note,
        "previous_note": previous_note,
        "reliable": not (note or previous_note),
    }
