"""The monthly report: headline metrics, papermill runs, HTML pages, history and PDF.

Two halves meet here.

* **Inside a notebook** one call, :func:`record_headline`, turns a tidy frame of the
  month's headline KPIs into a :class:`Headline`. Displayed, it is a small table for the
  reader, and it also carries the numbers as JSON under the mimetype
  :data:`HEADLINE_MIMETYPE`. Nothing is written to disk from the kernel, so the same call
  works unchanged in JupyterLab. :func:`format_table` turns any DataFrame into a formatted
  :class:`pandas.io.formats.style.Styler` (percentages, thousands separators, escaped
  text); in report runs every displayed DataFrame goes through it.
* **Outside**, :func:`run_report` executes every notebook with papermill for one month,
  renders each to HTML without code (with a header: month, data source and row counts,
  kpilib version, run date), reads the headline back from the executed notebook's
  outputs, writes ``<notebook>.json``, ``index.json`` and an ``index.html`` of KPI cards
  comparing the month with the one before, and swaps the finished month folder in
  atomically. :func:`run_history` does that for a range of months, and
  :func:`write_history_index` keeps ``<out>/index.html`` (every month, a trend line per
  headline KPI) and the months' previous/next links up to date. :func:`print_pdf` prints
  a month to ``report.pdf`` with headless Chromium.

The pages work offline: no CDN, no require.js; formulas are typeset by a local copy of
MathJax (from the ``jupyter-server-mathjax`` package) in the month folder's ``_static/``.

Everything data-derived is HTML-escaped: the index and the headline tables are jinja2
templates with autoescaping, and every cell of a notebook page (its rendered Markdown and
every output) goes through an allow-list sanitiser after rendering, so neither an
unescaped :class:`pandas.io.formats.style.Styler` nor a Markdown link can smuggle markup
(``<script>``, event handlers, ``javascript:`` URLs) into a page.

A notebook that cannot run on the source is *skipped*, not failed: its sections and what
they need are listed once in :mod:`kpilib.sections`; the notebook calls
:func:`sections` after loading the data and asks ``plan.runs(name)`` per section. A section
whose table or optional column is missing shows one line saying what to add and is
recorded (under :data:`SECTION_MIMETYPE`, read back like the headline), which makes the
notebook *partial*; a notebook none of whose sections can run raises
:class:`NotebookSkipped` (or is not started at all when the checked source already says
so) and shows grey on the index with its reason. Only failures make the command exit 1.

A run is checked before any notebook runs: the arguments (a :class:`ReportArgumentError`),
the data (loaded and validated once, a :class:`kpilib.DataError`) and the months (a month
with no data at all is refused). A run that is interrupted or terminated (SIGINT, SIGTERM)
removes what it was building and leaves the previous report in place.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import datetime as dt
import functools
import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from kpilib import metrics as _metrics
from kpilib import stats as _stats
from kpilib.periods import MONTH_PATTERN, month_range, next_month, previous_month, validate_month
from kpilib.sections import SECTION_MIMETYPE, NotebookPlan, NotebookSkipped, sections

__all__ = [
    "CHROMIUM_FLAGS",
    "HEADLINE_MIMETYPE",
    "KPI_COLUMNS",
    "NOTE_COLUMN",
    "Headline",
    "NotebookPlan",
    "NotebookSkipped",
    "NotebookStatus",
    "ReportArgumentError",
    "ReportResult",
    "SECTION_MIMETYPE",
    "compare_months",
    "default_notebooks_dir",
    "find_chromium",
    "format_change",
    "format_table",
    "format_value",
    "load_report",
    "month_range",
    "next_month",
    "parse_parameter",
    "previous_month",
    "print_pdf",
    "record_headline",
    "render_history_index",
    "render_index",
    "run_history",
    "run_report",
    "sections",
    "select_notebooks",
    "use_report_tables",
    "validate_month",
    "write_history_index",
]

logger = logging.getLogger(__name__)

#: The output mimetype that carries a notebook's headline metrics as JSON.
HEADLINE_MIMETYPE = "application/vnd.kpilib.headline+json"

#: Columns :func:`record_headline` and :func:`compare_months` expect, in order.
KPI_COLUMNS = ("metric", "month", "value", "numerator", "denominator", "ci_low", "ci_high")

#: Optional column of :func:`record_headline`'s input: why a value is not to be trusted
#: (``"unreliable: …"``, from a fitted model's verdict); empty or NaN means reliable. An
#: unreliable value is marked on its card and never called a significant change.
NOTE_COLUMN = "note"

#: The kernel every notebook runs in (started with the caller's interpreter).
KERNEL_NAME = "python3"

_MISSING = "—"

#: How a headline metric without a value (no data in the month) is shown: never as 0.
NO_DATA = "no data"


# --------------------------------------------------------------------------- months


def _month_title(month: str) -> str:
    """``"2026-10"`` → ``"October 2026"``."""
    return dt.date(int(month[:4]), int(month[5:]), 1).strftime("%B %Y")


def _month_label(value: object) -> str:
    """A ``"YYYY-MM"`` label from a string, a monthly Period, a Timestamp or a date."""
    if isinstance(value, pd.Period):
        return value.strftime("%Y-%m")
    if isinstance(value, dt.date):  # datetime and pandas.Timestamp are dates too
        return value.strftime("%Y-%m")
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).strftime("%Y-%m")
    return validate_month(value)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- headline


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
        return (
            _environment()
            .from_string(_HEADLINE_TEMPLATE)
            .render(rows=rows, month=self.month, previous=previous_month(self.month))
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


# --------------------------------------------------------------------------- formatting


def format_value(value: float | None, unit: str) -> str:
    """Format a metric value by its unit for the report.

    Rates as percentages, counts with thousands separators; a missing value is a dash.

    Examples
    --------
    >>> format_value(0.1234, "rate"), format_value(12345, "count"), format_value(None, "count")
    ('12.3%', '12,345', '—')
    >>> format_value(1234.5, "currency"), format_value(3.25, "days")
    ('1,234.50', '3.2 days')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _MISSING
    v = float(value)
    if unit == "rate":
        return f"{v:.1%}"
    if unit == "count":
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.1f}"
    if unit == "currency":
        return f"{v:,.2f}"
    if unit == "days":
        return f"{v:,.1f} days"
    if unit == "months":
        return f"{v:,.1f} months"
    if unit == "points":
        return f"{v:,.1f} pts"
    if unit == "ratio":
        return f"{v:,.2f}"
    return f"{v:,.1f}"


def format_change(change: float | None, unit: str) -> str:
    """Format a month-over-month change with its sign; rates in percentage points.

    Examples
    --------
    >>> format_change(0.012, "rate"), format_change(-250, "count"), format_change(0, "days")
    ('+1.2 pp', '−250', '±0.0 days')
    """
    if change is None or (isinstance(change, float) and math.isnan(change)):
        return _MISSING
    c = float(change)
    sign = "+" if c > 0 else "−" if c < 0 else "±"
    if unit == "rate":
        return f"{sign}{abs(c) * 100:.1f} pp"
    return sign + format_value(abs(c), unit)


#: Column names formatted as percentages by :func:`format_table` (the last part of the
#: name, after an underscore): rates and shares are fractions in kpilib's frames.
_PERCENT_NAME = re.compile(
    r"(^|_)(rate|share|conversion|churn|retention|stickiness|adoption|grr|nrr|roi|survival(_\d+m)?)$"
)
_INTERVAL_NAME = re.compile(r"^(?:(?P<base>.+)_)?ci_(?:low|high)$")
_P_VALUE_NAME = re.compile(r"(^|_)p_value$")


def _label(column: object) -> str:
    """A column's name as text (the last level of a MultiIndex label)."""
    return str(column[-1] if isinstance(column, tuple) else column)


def _finite(values: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return numbers[np.isfinite(numbers)]


def _is_percent(frame: pd.DataFrame, column: object, percent: set[str]) -> bool:
    """Whether ``column`` holds fractions to show as percentages (see :func:`format_table`)."""
    name = _label(column)
    if name in percent:
        return True
    values = _finite(frame[column])
    if _PERCENT_NAME.search(name):
        return bool(np.all(np.abs(values) <= 10))  # fractions, not percentages already
    if _INTERVAL_NAME.match(name) is None:
        return False
    base = _interval_base(frame, column)
    if base is not None:
        return _is_percent(frame, base, percent)
    numeric = {_label(c) for c in _numeric_columns(frame)}
    has_rates = any(_PERCENT_NAME.search(n) or n in percent for n in numeric - {name})
    return has_rates and bool(np.all((values >= 0) & (values <= 1)))


def _numeric_columns(frame: pd.DataFrame) -> list[object]:
    return [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


def _interval_base(frame: pd.DataFrame, column: object) -> object | None:
    """The column an interval column belongs to: ``x_ci_low`` → ``x_rate`` or ``x``."""
    match = _INTERVAL_NAME.match(_label(column))
    base = match.group("base") if match else None
    if not base:
        return None
    by_name = {_label(c): c for c in _numeric_columns(frame)}
    for candidate in (f"{base}_rate", base):
        if candidate in by_name:
            return by_name[candidate]
    return None


def _percent_text(value: float) -> str:
    return f"{value:.1%}"


def _p_value_text(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _breakable(label: object) -> str:
    """An (already escaped) column label that may wrap after its underscores."""
    return str(label).replace("_", "_<wbr>")


def _yes_no(value: object) -> str:
    return "yes" if value else "no"


def _datetime_formatter(values: pd.Series):
    stamps = pd.to_datetime(values.dropna())
    midnight = bool(((stamps - stamps.dt.normalize()) == pd.Timedelta(0)).all())
    pattern = "%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M"
    return lambda value: value.strftime(pattern)


def _column_formatter(frame: pd.DataFrame, column: object, percent: set[str]):
    """The formatter :func:`format_table` uses for one column (None: Styler's default)."""
    values = frame[column]
    if pd.api.types.is_bool_dtype(values):
        return _yes_no
    if pd.api.types.is_datetime64_any_dtype(values):
        return _datetime_formatter(values)
    if not pd.api.types.is_numeric_dtype(values):
        return None
    if _P_VALUE_NAME.search(_label(column)):
        return _p_value_text
    if _is_percent(frame, column, percent):
        return _percent_text
    if _INTERVAL_NAME.match(_label(column)):  # the bounds look like the value they bound
        base = _interval_base(frame, column)
        return _column_formatter(frame, base, percent) if base is not None else "{:,.2f}"
    numbers = _finite(values)
    if pd.api.types.is_integer_dtype(values) or np.all(numbers == np.round(numbers)):
        return "{:,.0f}"
    return "{:,.2f}"


def format_table(
    frame: pd.DataFrame,
    *,
    percent: Sequence[str] = (),
    formats: Mapping[str, Any] | None = None,
    max_rows: int | None = None,
) -> Any:
    """A DataFrame as a formatted, escaped table for reading (a pandas ``Styler``).

    Rates and shares show as percentages, counts with thousands separators, other numbers
    with two decimals, p-values with three, booleans as yes/no, dates without a midnight
    time, and missing values as a dash; an unnamed integer index (row positions) is
    hidden. Every text — cells, column and index labels — is HTML-escaped. In report runs every DataFrame a notebook displays goes through this
    function (see :func:`use_report_tables`); call it yourself to choose formats.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table. Not modified.
    percent : sequence of str, optional
        Further columns to show as percentages. By default a numeric column is one when
        its name ends in ``rate``, ``share``, ``conversion``, ``churn``, ``retention``,
        ``stickiness``, ``adoption``, ``grr``, ``nrr``, ``roi`` or ``survival``, and an interval
        column (``ci_low``, ``<name>_ci_high`` …) follows the column it belongs to.
    formats : mapping, optional
        Column name → format string (``"{:,.1f}"``) or callable, overriding the above.
    max_rows : int, optional
        Show at most this many rows (the first ones), with a caption saying how many
        there are; default pandas' ``display.max_rows``.

    Returns
    -------
    pandas.io.formats.style.Styler

    Examples
    --------
    >>> table = pd.DataFrame({"channel": ["<b>email</b>", "paid"], "users": [12500, 300],
    ...                       "rate": [0.1234, 0.05], "ci_low": [0.11, 0.03]})
    >>> html = format_table(table).to_html()
    >>> "12,500" in html, "12.3%" in html, "11.0%" in html, "&lt;b&gt;email" in html
    (True, True, True, True)
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"format_table needs a pandas DataFrame, got {type(frame).__name__}")
    limit = max_rows if max_rows is not None else pd.get_option("display.max_rows")
    shown = frame.head(limit) if limit and len(frame) > limit else frame
    wanted = set(percent)
    styler = shown.style
    for column in shown.columns:
        formatter = (formats or {}).get(_label(column)) or _column_formatter(shown, column, wanted)
        styler = styler.format(formatter, subset=[column], na_rep=_MISSING, escape="html")
    styler = styler.format_index(escape="html", axis=0).format_index(
        _breakable, escape="html", axis=1
    )
    if shown.index.name is None and pd.api.types.is_integer_dtype(shown.index):
        styler = styler.hide(axis="index")  # row positions, not information
    if len(shown) < len(frame):
        styler = styler.set_caption(f"First {len(shown):,} of {len(frame):,} rows")
    return styler.set_table_attributes('class="dataframe kpilib-table"').set_table_styles(
        [
            {"selector": "td", "props": "text-align: right;"},
        ]
    )


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


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)


_HEADLINE_TEMPLATE = """\
<table class="kpilib-headline" style="border-collapse: collapse;">
<caption style="text-align: left; font-weight: bold;">Headline KPIs, {{ month }}</caption>
<thead><tr>
<th style="text-align: left;">Metric</th><th>{{ month }}</th><th>{{ previous }}</th>
<th>Change</th><th>95% CI of change</th><th>Significant</th>
</tr></thead>
<tbody>
{% for r in rows %}
<tr>
<td style="text-align: left;">{{ r.title }}{% if r.small_sample %} <small>(small n)</small>{% endif %}</td>
<td style="text-align: right;">{{ r.value }}{% if r.interval != "—" %}<br><small>{{ r.interval }}</small>{% endif %}{% if r.note %}<br><small style="color: #9a6700; font-weight: 600;">{{ r.note }}</small>{% endif %}</td>
<td style="text-align: right;">{{ r.previous_value }}{% if r.previous_note %}<br><small style="color: #9a6700; font-weight: 600;">{{ r.previous_note }}</small>{% endif %}</td>
<td style="text-align: right;">{{ r.change }}</td>
<td style="text-align: right;">{{ r.change_interval }}</td>
<td style="text-align: center;">{{ r.significant }}</td>
</tr>
{% endfor %}
</tbody>
</table>
"""


# --------------------------------------------------------------------------- parameters


def parse_parameter(text: str) -> tuple[str, object]:
    """Parse a ``NAME=VALUE`` command-line parameter.

    The value is read as a Python literal (numbers, booleans, None, lists, quoted
    strings); anything else is kept as the raw string.

    Examples
    --------
    >>> parse_parameter("min_customers=30")
    ('min_customers', 30)
    >>> parse_parameter("channel=email")
    ('channel', 'email')
    >>> parse_parameter("channels=['email', 'paid']")
    ('channels', ['email', 'paid'])
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise ValueError(
            f"a parameter must look like NAME=VALUE with NAME a Python identifier, got {text!r}"
        )
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = raw
    return name, value


# --------------------------------------------------------------------------- running


@dataclass
class NotebookStatus:
    """What happened to one notebook in a report run.

    Attributes
    ----------
    notebook : str
        The notebook's stem, e.g. ``"01_funnel"``; its files in the month folder are
        ``<notebook>.ipynb``, ``.html`` and ``.json``.
    title : str
        Its first Markdown heading (or the stem).
    status : str
        ``"ok"``; ``"partial"`` (it ran, some sections were skipped: see
        ``skipped_sections``); ``"skipped"`` (the source lacks what it needs: see
        ``reason``; nothing ran); or ``"failed"``.
    error : str or None
        The error, for a failed notebook.
    metrics : list of dict
        The headline records (see :func:`compare_months`), possibly empty.
    seconds : float
        Execution time.
    reason : str or None
        Why a skipped notebook did not run (which table to add), one line.
    skipped_sections : list of dict
        The sections that did not run, in page order: ``section``, ``title`` and
        ``reason`` (recorded by :meth:`kpilib.sections.NotebookPlan.runs`).
    """

    notebook: str
    title: str
    status: str
    error: str | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    reason: str | None = None
    skipped_sections: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the notebook did not fail (it ran, in full or in part, or was skipped)."""
        return self.status != "failed"

    def to_json(self, month: str) -> dict[str, Any]:
        """The content of ``<notebook>.json``."""
        return {
            "notebook": self.notebook,
            "title": self.title,
            "month": month,
            "status": self.status,
            "error": self.error,
            "reason": self.reason,
            "skipped_sections": self.skipped_sections,
            "seconds": round(self.seconds, 2),
            "metrics": self.metrics,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NotebookStatus:
        """The status back from the content of ``<notebook>.json``."""
        return cls(
            notebook=data["notebook"],
            title=data.get("title") or data["notebook"],
            status=data.get("status", "failed"),
            error=data.get("error"),
            metrics=list(data.get("metrics") or []),
            seconds=float(data.get("seconds") or 0.0),
            reason=data.get("reason"),
            skipped_sections=list(data.get("skipped_sections") or []),
        )


@dataclass
class ReportResult:
    """One month's report: the outcome of :func:`run_report`, or one read back from disk.

    Attributes
    ----------
    month : str
        The report month.
    path : pathlib.Path
        The month folder, ``<out>/<month>``.
    notebooks : list of NotebookStatus
        One per notebook run, in run order.
    failed : list of str
        Stems of the notebooks that failed.
    source : str
        The data source as the pages name it (a folder, or a URL without its password).
    row_counts : dict of str to int
        Rows per table present in the source, when they could be counted.
    kpilib_version : str
        The kpilib that built the report.
    run_at : str
        When it was built, ``"YYYY-MM-DD HH:MM UTC"``.
    skipped : bool
        True when :func:`run_history` found the month up to date and did not rebuild it.
    data_notes : list of str
        What the pages announce at the top about the data: a partial month, a stale table,
        rows the contract kept but noted (future times allowed, clicks without an open).
    """

    month: str
    path: Path
    notebooks: list[NotebookStatus]
    failed: list[str]
    source: str = ""
    row_counts: dict[str, int] = field(default_factory=dict)
    kpilib_version: str = ""
    run_at: str = ""
    skipped: bool = False
    data_notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no notebook failed (skipped and partial notebooks are not failures)."""
        return not self.failed

    @property
    def index(self) -> Path:
        """The report's ``index.html``."""
        return self.path / "index.html"

    @property
    def pdf(self) -> Path | None:
        """The month's ``report.pdf``, when one has been printed."""
        path = self.path / PDF_NAME
        return path if path.is_file() else None

    def to_json(self) -> dict[str, Any]:
        """The content of the month's ``index.json``."""
        return {
            "month": self.month,
            "source": self.source,
            "row_counts": self.row_counts,
            "kpilib_version": self.kpilib_version,
            "run_at": self.run_at,
            "notebooks": [s.notebook for s in self.notebooks],
            "failed": self.failed,
            "data_notes": self.data_notes,
        }


#: The month folder's summary of a run (beside ``index.html``).
MANIFEST_NAME = "index.json"
#: The month's printed report.
PDF_NAME = "report.pdf"


def load_report(folder: str | Path) -> ReportResult:
    """Read a month's report back from its folder (``index.json`` and ``<notebook>.json``).

    Raises
    ------
    FileNotFoundError
        When the folder holds no report.
    """
    path = Path(folder)
    manifest_path = path / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text("utf-8")) if manifest_path.is_file() else {}
    if manifest.get("notebooks") is not None:
        files = [path / f"{stem}.json" for stem in manifest["notebooks"]]
    else:  # a month built before index.json existed
        files = sorted(p for p in path.glob("*.json") if p.name != MANIFEST_NAME)
    if not (path / "index.html").is_file() and not files:
        raise FileNotFoundError(f"no report in {str(path)!r}")
    notebooks = [
        NotebookStatus.from_json(json.loads(f.read_text("utf-8"))) for f in files if f.is_file()
    ]
    return ReportResult(
        month=manifest.get("month") or validate_month(path.name),
        path=path,
        notebooks=notebooks,
        failed=[s.notebook for s in notebooks if not s.ok],
        source=manifest.get("source", ""),
        row_counts=dict(manifest.get("row_counts") or {}),
        kpilib_version=manifest.get("kpilib_version", ""),
        run_at=manifest.get("run_at", ""),
        data_notes=list(manifest.get("data_notes") or []),
    )


def _built_months(out_dir: Path) -> list[str]:
    """The month folders in ``out_dir`` that hold a report, oldest first."""
    if not out_dir.is_dir():
        return []
    return sorted(
        p.name
        for p in out_dir.iterdir()
        if MONTH_PATTERN.fullmatch(p.name) and (p / "index.html").is_file()
    )


def default_notebooks_dir() -> Path:
    """The repository's ``notebooks/`` folder (next to the ``kpilib`` package)."""
    import kpilib

    return Path(kpilib.__file__).resolve().parents[1] / "notebooks"


def _short_name(stem: str) -> str:
    """``"01_funnel"`` → ``"funnel"``."""
    return re.sub(r"^\d+[_-]", "", stem)


def select_notebooks(notebooks_dir: str | Path, only: Sequence[str] | None = None) -> list[Path]:
    """The notebooks a report runs, in name order.

    Parameters
    ----------
    notebooks_dir : str or Path
        Folder with ``*.ipynb`` files.
    only : sequence of str, optional
        Stems to keep; ``"01_funnel"`` and ``"funnel"`` both select ``01_funnel.ipynb``.

    Raises
    ------
    FileNotFoundError
        When the folder does not exist or holds no notebooks.
    ValueError
        When a name in ``only`` matches no notebook.
    """
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"notebooks folder {str(folder)!r} does not exist")
    paths = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if not paths:
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {str(folder)!r}")
    if only is None:
        return paths
    wanted = [only] if isinstance(only, str) else list(only)
    unknown = [w for w in wanted if not any(w in (p.stem, _short_name(p.stem)) for p in paths)]
    if unknown:
        known = ", ".join(p.stem for p in paths)
        raise ValueError(f"no notebook named {', '.join(map(repr, unknown))}; available: {known}")
    return [p for p in paths if p.stem in wanted or _short_name(p.stem) in wanted]


class ReportArgumentError(ValueError):
    """A report asked for with arguments that cannot work, raised before any notebook runs.

    A malformed month or range, an unknown notebook, a bad parameter, a source that is not
    a folder, an output folder that cannot be made, or a month for which the source holds
    no data at all. The command line shows its message on one line and exits with code 2.
    """


def _report_parameters(
    month: str, source: str | Path | None, parameters: Mapping[str, object] | None
) -> dict[str, object]:
    params: dict[str, object] = {"month": month}
    if source is not None:
        text = str(source)
        if "://" in text:  # a database URL is passed through untouched
            params["source"] = text
        elif not text.strip():
            raise ReportArgumentError(
                "source is empty: pass a folder of the data, or nothing for the bundled sample"
            )
        else:
            try:
                path = Path(source).expanduser().resolve()
                exists, is_dir = path.exists(), path.is_dir()
            except (OSError, RuntimeError) as exc:  # unreadable, a symlink loop
                raise ReportArgumentError(f"source {text!r} cannot be read: {exc}") from None
            if not exists:
                raise ReportArgumentError(
                    f"source {text!r} does not exist (resolved to {str(path)!r})"
                )
            if not is_dir:
                raise ReportArgumentError(
                    f"source {text!r} is not a folder: pass the folder that holds the table files"
                )
            params["source"] = str(path)
    for name, value in (parameters or {}).items():
        if name in ("month", "source"):
            raise ReportArgumentError(f"pass {name!r} as the {name}= argument, not in parameters")
        if not str(name).isidentifier():
            raise ReportArgumentError(f"parameter name {name!r} is not a Python identifier")
        params[name] = value
    return params


def _output_dir(out: str | Path) -> Path:
    """``out`` resolved, after checking that month folders can be made in it (nothing is
    created here)."""
    text = str(out)
    if not text.strip():
        raise ReportArgumentError("out is empty: pass the folder that holds the month folders")
    try:
        path = Path(out).expanduser().resolve()
        existing = next(p for p in (path, *path.parents) if p.exists())
        is_dir = existing.is_dir()
    except (OSError, RuntimeError) as exc:  # unreadable, a symlink loop
        raise ReportArgumentError(f"out {text!r} cannot be used: {exc}") from None
    if not is_dir:
        where = "is a file" if existing == path else f"is below a file ({str(existing)!r})"
        raise ReportArgumentError(f"out {text!r} {where}: it must be a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ReportArgumentError(f"out {text!r} cannot be written ({str(existing)!r} is read-only)")
    return path


def _source_label(source: str | None) -> str:
    """How the pages name the data: a folder, the bundled sample, a URL without password."""
    from kpilib.data import SAMPLE_DIR

    if source is not None and "://" in source:
        return re.sub(r"(://[^/:@]+):[^/@]*@", r"\1:***@", source)
    return source if source is not None else f"bundled sample ({SAMPLE_DIR})"


def _present_rows(counts: pd.DataFrame) -> dict[str, int]:
    present = counts[counts["present"]]
    return {str(t): int(n) for t, n in zip(present["table"], present["rows"], strict=True)}


def _summarise_source(source: str | None) -> tuple[str, dict[str, int], str | None]:
    """How the pages name the data, its rows per table, and why they could not be counted.

    Used when the data were not checked before the run (``check_data=False``); this only
    counts rows (without validation) for the page headers, so a problem here never stops
    the report.
    """
    from kpilib.data import load_dataset

    label = _source_label(source)
    if source is not None and "://" in source:
        return label, {}, None  # leave the querying to the notebooks
    try:
        counts = load_dataset(source, validate=False).row_counts()
    except Exception as exc:  # the notebooks report the problem in full
        return label, {}, f"{type(exc).__name__}: {exc}"
    return label, _present_rows(counts), None


def _month_runs(months: Sequence[str]) -> str:
    """Months as consecutive runs: ``"2024-11 to 2024-12 and 2026-11"``."""
    runs: list[list[str]] = []
    for month in months:
        if runs and next_month(runs[-1][-1]) == month:
            runs[-1].append(month)
        else:
            runs.append([month])
    parts = [run[0] if len(run) == 1 else f"{run[0]} to {run[-1]}" for run in runs]
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


def _months_without_data(
    months: Sequence[str], span: tuple[pd.Timestamp | None, pd.Timestamp | None]
) -> list[str]:
    """The months of ``months`` wholly outside ``span`` (earliest, latest activity)."""
    from kpilib.periods import month_bounds

    low, high = span
    if low is None or high is None:
        return list(months)
    outside = []
    for month in months:
        try:
            start, end = month_bounds(month)
        except (ValueError, OverflowError):  # beyond pandas' timestamps: no data there either
            outside.append(month)
            continue
        if end <= low or start > high:
            outside.append(month)
    return outside


def _check_data(source: str | None, months: Sequence[str]) -> _SourceSummary | None:
    """Load and validate the source once, and refuse months it holds no data for.

    Returns the pages' name of the source, its rows per table and the loaded dataset (for
    its notes); ``None`` for a URL, which the notebooks load themselves.

    Raises
    ------
    kpilib.DataError
        When the data break the contract.
    ReportArgumentError
        When a month lies wholly outside the source's earliest and latest activity
        (:meth:`kpilib.data.Dataset.time_span`); a month partly covered is allowed.
    """
    from kpilib.data import load_dataset

    if source is not None and "://" in source:
        return None
    dataset = load_dataset(source)
    span = dataset.time_span()
    outside = _months_without_data(months, span)
    if outside:
        low, high = span
        where = (
            f"the source's data run from {low:%Y-%m-%d} to {high:%Y-%m-%d}"
            if low is not None and high is not None
            else "the source holds no dated rows"
        )
        raise ReportArgumentError(f"no data for {_month_runs(outside)}: {where}")
    return _SourceSummary(_source_label(source), _present_rows(dataset.row_counts()), dataset)


@dataclass
class _SourceSummary:
    """The checked source of a run: its label, rows per table, and the dataset."""

    label: str
    row_counts: dict[str, int]
    dataset: Any

    def notes(self, month: str) -> list[str]:
        """What the pages of ``month`` announce at the top: how far the data reach
        (:meth:`kpilib.data.Dataset.coverage_notes`) and the rows the contract kept but
        noted (:attr:`kpilib.data.Dataset.notes`)."""
        return [*self.dataset.coverage_notes(month), *self.dataset.notes]


@dataclass
class _Plan:
    """A checked report run: what building each of its months needs."""

    notebooks: list[Path]
    notebooks_dir: Path
    params: dict[str, object]
    out_dir: Path
    chromium: str | None
    summary: _SourceSummary | None


def _plan(
    months: Sequence[str],
    *,
    source: str | Path | None,
    out: str | Path,
    only: Sequence[str] | None,
    parameters: Mapping[str, object] | None,
    notebooks_dir: str | Path | None,
    pdf: bool,
    check_data: bool,
) -> _Plan:
    """Check a run before anything runs or is written (see :func:`run_report`)."""
    try:
        folder = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
        folder = folder.resolve()
        paths = select_notebooks(folder, only)
    except (ValueError, OSError) as exc:  # an unknown notebook, no notebooks folder
        raise ReportArgumentError(str(exc)) from None
    params = _report_parameters(months[0], source, parameters)
    out_dir = _output_dir(out)
    chromium = _require_chromium() if pdf else None
    summary = _check_data(params.get("source"), months) if check_data else None  # type: ignore[arg-type]
    return _Plan(paths, folder, params, out_dir, chromium, summary)


# --------------------------------------------------------------------------- interruptions


class _Terminated(SystemExit):
    """SIGTERM during a report run, raised so that the run's cleanup runs (exit 143)."""


@contextlib.contextmanager
def _sigterm_as_exception() -> Iterator[None]:
    """While a run is in progress, SIGTERM raises :class:`_Terminated` (a ``SystemExit``
    with code 143) instead of killing the process, so the run removes its staging folder
    and shuts its kernel down, as it does for SIGINT.

    The first signal raises; later ones are ignored while the cleanup runs. The previous
    handler is restored afterwards. Nothing is installed outside the main thread, or when
    the program already handles or ignores SIGTERM itself (its handler stays in charge).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return
    raised = False

    def terminate(signum: int, frame: Any) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise _Terminated(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


#: Leftovers of killed runs whose owner cannot be checked (another host, a name without
#: a process id) are removed once they are this old (seconds).
LEFTOVER_AGE = 24 * 3600

#: Temporary names a run writes beside its targets: ``.<name>.tmp-<pid>-<host>-<random>``
#: (a month being built, a page being replaced) and ``.<name>.old-<pid>-<host>-<random>``
#: (the previous month, renamed aside during the swap). Older runs wrote no pid and host.
_LEFTOVER = re.compile(
    r"\.(?P<name>.+)\.(?:tmp|old)-(?:(?P<pid>[0-9]+)-(?P<host>[0-9a-f]{8})-)?[a-z0-9_]+"
)


@functools.cache
def _host_tag() -> str:
    import hashlib

    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _temp_prefix(name: str, kind: str = "tmp") -> str:
    """``.<name>.<kind>-<pid>-<host>-``: a temporary name this process owns."""
    return f".{name}.{kind}-{os.getpid()}-{_host_tag()}-"


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (True when that cannot be told)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as another user
        return True
    return True


def _is_abandoned(path: Path, now: float) -> bool:
    match = _LEFTOVER.fullmatch(path.name)
    if match is None:
        return False
    if match["pid"] is not None and match["host"] == _host_tag():
        return not _pid_alive(int(match["pid"]))
    try:
        return now - path.lstat().st_mtime > LEFTOVER_AGE
    except OSError:
        return False


def _remove_leftovers(out_dir: Path) -> list[Path]:
    """Remove what killed runs left in ``out_dir`` and its month folders: staging and
    aside folders, partial pages and PDFs (see :data:`_LEFTOVER`).

    A leftover is removed when the process named in it is no longer alive on this host;
    one whose owner cannot be checked (another host, an older name without a process id)
    when it is older than :data:`LEFTOVER_AGE`. A live run's files are never touched.
    """
    if not out_dir.is_dir():
        return []
    now = time.time()
    folders = [out_dir, *(out_dir / m for m in _built_months(out_dir))]
    removed = []
    for folder in folders:
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for path in entries:
            if not path.name.startswith(".") or not _is_abandoned(path, now):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            logger.info("removed %s, left by a run that was killed", path)
            removed.append(path)
    return removed


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def run_report(
    month: str,
    *,
    source: str | Path | None = None,
    out: str | Path = "reports",
    only: Sequence[str] | None = None,
    parameters: Mapping[str, object] | None = None,
    notebooks_dir: str | Path | None = None,
    progress: bool = True,
    pdf: bool = False,
    check_data: bool = True,
) -> ReportResult:
    """Run the month's report: execute every notebook and write ``<out>/<month>/``.

    Parameters
    ----------
    month : str
        The report month, ``"YYYY-MM"``; injected into each notebook as ``month``.
    source : str or Path, optional
        The data; injected as ``source`` (an absolute path; a URL with ``://`` is passed
        as is). When omitted, each notebook uses its own default (the bundled sample).
    out : str or Path, default "reports"
        Folder that holds the month folders.
    only : sequence of str, optional
        Run only these notebooks (``"01_funnel"`` or ``"funnel"``).
    parameters : mapping, optional
        Further notebook parameters, e.g. from ``-p NAME=VALUE`` via
        :func:`parse_parameter`.
    notebooks_dir : str or Path, optional
        Where the notebooks are; by default the repository's ``notebooks/``. Notebooks
        run with that folder as working directory.
    progress : bool, default True
        Show a progress bar over notebooks (on stderr).
    pdf : bool, default False
        Also print the month to ``report.pdf`` (see :func:`print_pdf`); needs Chromium,
        checked before any notebook runs.
    check_data : bool, default True
        Before any notebook runs, load and validate the source once
        (:func:`kpilib.data.load_dataset`) and refuse a month that lies wholly outside
        its data (:meth:`kpilib.data.Dataset.time_span`); the row counts of the page
        headers come from that load. A source given as a URL is left to the notebooks.
        Turn off only for notebooks that do not read ``source``.

    Returns
    -------
    ReportResult
        ``failed`` lists the notebooks that raised; the command line exits 1 on those. A
        notebook skipped for want of its tables, or partial (some sections skipped), is
        not a failure.

    Raises
    ------
    ReportArgumentError
        Before anything runs or is written: a malformed month, an unknown notebook, a
        bad parameter, a source that is not a folder, an ``out`` that is (or is below) a
        file, or a month with no data in the source.
    kpilib.DataError
        Before anything runs or is written, when the source breaks the data contract.
    RuntimeError
        When ``pdf`` is asked for and no Chromium is found, or printing fails (the HTML
        report is in place by then).

    Notes
    -----
    For each notebook the month folder gets ``<stem>.ipynb`` (executed), ``<stem>.html``
    (no code, prompts hidden, every cell sanitised after rendering, a header naming the
    month, the data source and its row counts, the kpilib version and the run date) and
    ``<stem>.json`` (status, error and the headline metrics recorded with
    :func:`record_headline`), plus ``index.json`` (the run's summary), ``index.html``
    (KPI cards and the notebooks) and, when a page has formulas, ``_static/mathjax/`` (so
    the pages need no network). Displayed DataFrames are formatted by
    :func:`format_table`. A failing notebook is still rendered, with its traceback, and
    the others still run.

    The folder is built as ``<out>/.<month>.tmp-<pid>-<host>-*`` and swapped in only when
    complete (the old folder is renamed aside, the new renamed in, the old deleted), so a
    crash leaves the previous report intact and a rerun replaces it. An interrupted or
    terminated run (SIGINT; SIGTERM, which raises ``SystemExit(143)`` during the run)
    removes its staging folder; what a killed run (SIGKILL, a power cut) leaves behind is
    removed by the next run once its process is gone (see :func:`_remove_leftovers`).
    Then :func:`write_history_index` refreshes ``<out>/index.html`` and the previous/next
    links of every month.

    The kernel is ipykernel started with this process's interpreter (``sys.executable``)
    whatever ``python3`` kernel spec is installed, with its folder first on ``PATH`` and
    without an inherited ``MPLBACKEND`` (so figures render inline into the pages).
    """
    with _sigterm_as_exception():
        try:
            month = validate_month(month)
        except ValueError as exc:
            raise ReportArgumentError(str(exc)) from None
        plan = _plan(
            [month], source=source, out=out, only=only, parameters=parameters,
            notebooks_dir=notebooks_dir, pdf=pdf, check_data=check_data,
        )  # fmt: skip
        return _build_month(month, plan, progress=progress)


def _build_month(month: str, plan: _Plan, *, progress: bool) -> ReportResult:
    """Run the notebooks of ``plan`` for ``month`` and swap the month folder in."""
    out_dir = plan.out_dir
    _remove_leftovers(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {**plan.params, "month": month}
    final = out_dir / month
    staging = None
    try:
        staging = Path(tempfile.mkdtemp(prefix=_temp_prefix(month), dir=out_dir))
        staging.chmod(0o755)  # mkdtemp makes it private; a report is meant to be read
        import nbformat
        from tqdm.auto import tqdm

        import kpilib

        notes: list[str] = []
        if plan.summary is not None:
            label, row_counts, source_error = plan.summary.label, plan.summary.row_counts, None
            notes = plan.summary.notes(month)
        else:
            label, row_counts, source_error = _summarise_source(params.get("source"))  # type: ignore[arg-type]
        report = ReportResult(
            month=month, path=final, notebooks=[], failed=[], source=label,
            row_counts=row_counts, kpilib_version=kpilib.__version__, run_at=_now(),
            data_notes=notes,
        )  # fmt: skip
        pages = _NotebookPages(
            report,
            titles={p.stem: _notebook_title(nbformat.read(p, as_version=4), p.stem) for p in plan.notebooks},
            source_error=source_error,
        )
        bar = tqdm(
            plan.notebooks, desc=f"report {month}", unit="notebook", disable=not progress,
            file=sys.stderr,
        )  # fmt: skip
        for path in bar:
            bar.set_postfix_str(path.stem)
            dataset = plan.summary.dataset if plan.summary is not None else None
            reason = _skip_before_running(path, params, dataset)
            if reason is not None:  # the notebook would skip itself: no kernel for it
                status = _skip_notebook(path, staging, reason, pages)
            else:
                status = _run_notebook(path, staging, params, plan.notebooks_dir, pages)
            (staging / f"{path.stem}.json").write_text(
                json.dumps(status.to_json(month), indent=2, allow_nan=False) + "\n",
                encoding="utf-8",
            )
            report.notebooks.append(status)
        bar.close()
        report.failed = [s.notebook for s in report.notebooks if not s.ok]
        if pages.needs_math:
            _copy_mathjax(staging / MATHJAX_DIR)
        (staging / MANIFEST_NAME).write_text(
            json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8"
        )
        neighbours = sorted(set(_built_months(out_dir)) | {month})
        (staging / "index.html").write_text(
            _render_month_index(report, neighbours), encoding="utf-8"
        )
        _swap_in(staging, final)
    except BaseException:
        if staging is not None:
            _remove_tree(staging)
        raise
    try:
        if plan.chromium is not None:
            print_pdf(final, chromium=plan.chromium)
    finally:
        write_history_index(out_dir)
    return report


def _remove_tree(path: Path) -> None:
    """``shutil.rmtree`` that finishes even when a signal interrupts it once."""
    try:
        shutil.rmtree(path, ignore_errors=True)
    except BaseException:  # SIGINT or SIGTERM in the middle: finish, then go on failing
        shutil.rmtree(path, ignore_errors=True)
        raise


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (POSIX, main thread; elsewhere a
    no-op), so that a folder swap is never left half done."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _swap_in(staging: Path, final: Path) -> None:
    """Replace ``final`` with ``staging``: old aside, new in, old deleted.

    The two renames run with SIGINT and SIGTERM deferred; the old folder is deleted even
    when a signal arrives meanwhile.
    """
    aside = None
    try:
        with _signals_deferred():
            if final.exists():
                aside = final.with_name(_temp_prefix(final.name, "old") + uuid.uuid4().hex[:8])
                final.rename(aside)
            try:
                staging.rename(final)
            except BaseException:
                if aside is not None:
                    aside.rename(final)
                    aside = None
                raise
    finally:
        if aside is not None:
            _remove_tree(aside)


#: Notebook statuses of a month that needs no rebuild (a skipped notebook is done too).
_DONE = ("ok", "partial", "skipped")


def _is_up_to_date(folder: Path, stems: Sequence[str]) -> bool:
    """Whether ``folder`` holds a complete report in which no notebook of ``stems`` failed."""
    if not (folder / MANIFEST_NAME).is_file() or not (folder / "index.html").is_file():
        return False
    for stem in stems:
        path = folder / f"{stem}.json"
        if not path.is_file() or json.loads(path.read_text("utf-8")).get("status") not in _DONE:
            return False
    return True


def run_history(
    start_month: str,
    end_month: str,
    *,
    force: bool = False,
    pdf: bool = False,
    source: str | Path | None = None,
    out: str | Path = "reports",
    only: Sequence[str] | None = None,
    parameters: Mapping[str, object] | None = None,
    notebooks_dir: str | Path | None = None,
    progress: bool = True,
    check_data: bool = True,
) -> list[ReportResult]:
    """Build the report of every month from ``start_month`` to ``end_month``.

    A month already built is skipped unless ``force``: one is built when its folder has
    an ``index.json`` and every notebook to run has a ``<notebook>.json`` with status
    ``ok``, ``partial`` or ``skipped``, so a month with a failed or a missing notebook is
    built again. Each build
    (see :func:`run_report`) refreshes ``<out>/index.html``, the overview of every month
    with a trend line per headline KPI.

    Parameters
    ----------
    start_month, end_month : str
        The first and the last month, ``"YYYY-MM"``, both included.
    force : bool, default False
        Rebuild months that are up to date.
    pdf : bool, default False
        Make sure every month in the range has ``report.pdf`` (printing only, for a
        skipped month that has none).
    source, out, only, parameters, notebooks_dir, progress
        As for :func:`run_report`.
    check_data : bool, default True
        As for :func:`run_report`: the source is loaded and validated once for the whole
        range, and the range is refused when any of its months lies wholly outside the
        data (the message names those months).

    Returns
    -------
    list of ReportResult
        One per month, oldest first; ``skipped`` marks the months not rebuilt.

    Raises
    ------
    ReportArgumentError
        Before anything runs: a malformed month, ``end_month`` before ``start_month``,
        months with no data, or any other bad argument of :func:`run_report`.
    kpilib.DataError
        Before anything runs, when the source breaks the data contract.
    RuntimeError
        When ``pdf`` is asked for and no Chromium is found (before anything runs).
    """
    with _sigterm_as_exception():
        try:
            months = month_range(start_month, end_month)
        except ValueError as exc:
            raise ReportArgumentError(str(exc)) from None
        plan = _plan(
            months, source=source, out=out, only=only, parameters=parameters,
            notebooks_dir=notebooks_dir, pdf=pdf, check_data=check_data,
        )  # fmt: skip
        _remove_leftovers(plan.out_dir)
        stems = [p.stem for p in plan.notebooks]
        results: list[ReportResult] = []
        for month in months:
            existing = plan.out_dir / month
            if not force and _is_up_to_date(existing, stems):
                logger.info("report %s is up to date; skipped (force to rebuild)", month)
                report = load_report(existing)
                report.skipped = True
                if plan.chromium is not None and report.pdf is None:
                    print_pdf(existing, chromium=plan.chromium)
                    write_history_index(plan.out_dir)
                results.append(report)
                continue
            results.append(_build_month(month, plan, progress=progress))
        return results


def _notebook_title(nb: Any, default: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                match = re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
                if match:
                    return match.group(1)
    return default


def _read_headline(nb: Any) -> list[dict[str, Any]]:
    """The headline records displayed in an executed notebook (later ones win)."""
    found: dict[str, dict[str, Any]] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get(HEADLINE_MIMETYPE)
            if data is None:
                continue
            if isinstance(data, str):  # tolerate a JSON string
                data = json.loads(data)
            for record in json.loads(json.dumps(data)).get("metrics", []):
                found[record["metric"]] = record
    return list(found.values())


def _read_skipped_sections(nb: Any) -> list[dict[str, Any]]:
    """The sections an executed notebook skipped (see :data:`SECTION_MIMETYPE`), in page order."""
    found: dict[str, dict[str, Any]] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get(SECTION_MIMETYPE)
            if data is None:
                continue
            if isinstance(data, str):
                data = json.loads(data)
            record = {k: data.get(k) for k in ("section", "title", "reason")}
            found.setdefault(str(record["section"]), record)
    return list(found.values())


def _skip_before_running(path: Path, params: Mapping[str, object], dataset: Any) -> str | None:
    """Why notebook ``path`` would skip itself on ``dataset`` (its sections' plan with its
    default parameters and ``params``), or None: such a notebook is not started at all."""
    from kpilib import sections as _sections

    if dataset is None or path.stem not in _sections.NOTEBOOKS:
        return None
    try:
        values = {**_sections.notebook_parameters(path), **params}
        return _sections.skip_reason(_sections.evaluate(dataset, path.stem, values))
    except Exception:  # the notebook decides for itself when it runs
        logger.debug("no section plan for %s before running it", path.name, exc_info=True)
        return None


def _skipped_status(path: Path, title: str, reason: str, seconds: float = 0.0) -> NotebookStatus:
    logger.info("notebook %s skipped: %s", path.name, reason)
    return NotebookStatus(notebook=path.stem, title=title, status="skipped", reason=reason, seconds=seconds)


def _skip_notebook(path: Path, staging: Path, reason: str, pages: _NotebookPages) -> NotebookStatus:
    """A notebook not run at all: its page (introduction and reason) and its status."""
    import nbformat

    page = pages.render(path.stem, nbformat.read(path, as_version=4), error=None, run_at=_now(), skipped=reason)
    (staging / f"{path.stem}.html").write_text(page, encoding="utf-8")
    return _skipped_status(path, pages.titles[path.stem], reason)


def _run_notebook(
    path: Path, staging: Path, params: Mapping[str, object], cwd: Path, pages: _NotebookPages
) -> NotebookStatus:
    import nbformat
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    executed = staging / f"{path.stem}.ipynb"
    title = pages.titles[path.stem]
    error: str | None = None
    nb = None
    run_at = _now()
    reason = None
    start = time.perf_counter()
    try:
        nb = papermill.execute_notebook(
            str(path),
            str(executed),
            parameters=dict(params),
            kernel_name=KERNEL_NAME,
            cwd=str(cwd),
            progress_bar=False,
            kernel_manager_class=_kernel_manager_class(),
        )
    except PapermillExecutionError as exc:
        if exc.ename == NotebookSkipped.__name__:
            reason = exc.evalue
        else:
            error = f"{exc.ename}: {exc.evalue} (cell {exc.exec_count})"
    except (CellTimeoutError, DeadKernelError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    if nb is None and executed.exists():
        nb = nbformat.read(executed, as_version=4)

    html = pages.render(path.stem, nb, error=error, run_at=run_at, skipped=reason)
    (staging / f"{path.stem}.html").write_text(html, encoding="utf-8")
    if reason is not None:
        return _skipped_status(path, title, reason, seconds)
    if error is not None:
        logger.warning("notebook %s failed: %s", path.name, error)
    headline = _read_headline(nb) if nb is not None else []
    other_months = sorted({str(r.get("month")) for r in headline} - {str(params["month"])})
    if other_months:
        logger.warning(
            "notebook %s recorded headline metrics for %s instead of %s; "
            "call record_headline(kpis, month=month)",
            path.name,
            ", ".join(other_months),
            params["month"],
        )
    skipped_sections = _read_skipped_sections(nb) if nb is not None else []
    return NotebookStatus(
        notebook=path.stem,
        title=title,
        status="failed" if error is not None else ("partial" if skipped_sections else "ok"),
        error=error,
        metrics=headline,
        seconds=seconds,
        skipped_sections=skipped_sections,
    )


# --------------------------------------------------------------------------- kernel

#: Run in every report kernel before the notebook: DataFrames display as
#: :func:`format_table` formats them.
_KERNEL_SETUP = "__import__('kpilib.report').report.use_report_tables()"


@functools.cache
def _kernel_manager_class() -> type:
    """A kernel manager that starts ipykernel with ``sys.executable``.

    The ``python3`` kernel spec that jupyter_client finds first may belong to another
    interpreter (a user-level spec, ``JUPYTER_PATH``), and ``python`` on ``PATH`` may not
    be this one when the venv is not activated. This manager ignores installed specs for
    ``python3``, launches ``sys.executable -m ipykernel_launcher``, and puts the
    interpreter's folder first on the kernel's ``PATH`` (for ``!pip`` or subprocesses).
    It also drops an inherited ``MPLBACKEND`` so that figures are shown inline, and turns
    on :func:`use_report_tables` at start-up (nothing is added to the notebook).
    """
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager
    from traitlets import default

    class CallerKernelSpecManager(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str):
            if kernel_name == NATIVE_KERNEL_NAME:
                spec = get_kernel_dict()
                # The kernel's own log lines (the TCP notice, the interrupt at shutdown)
                # are noise on a report's console; cell errors arrive as outputs.
                spec["argv"] = [
                    *spec["argv"],
                    "--IPKernelApp.log_level=CRITICAL",
                    f"--IPKernelApp.exec_lines={[_KERNEL_SETUP]!r}",
                ]
                return self.kernel_spec_class(resource_dir=RESOURCES, **spec)
            return super().get_kernel_spec(kernel_name)

    class CallerKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _default_kernel_spec_manager(self):
            return CallerKernelSpecManager(data_dir=self.data_dir)

        async def start_kernel(self, **kw: Any) -> None:
            env = dict(kw.pop("env", None) or os.environ)
            bindir = os.path.dirname(sys.executable)
            parts = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != bindir]
            env["PATH"] = os.pathsep.join([bindir, *parts])
            # ipykernel picks the inline backend only when MPLBACKEND is unset; an
            # inherited "Agg" (headless servers, test runs) would drop every figure.
            env.pop("MPLBACKEND", None)
            await super().start_kernel(env=env, **kw)

    return CallerKernelManager


# --------------------------------------------------------------------------- HTML


#: Tags allowed in HTML cell outputs of the notebook pages; others are escaped.
_ALLOWED_TAGS = [
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "li",
    "ol", "p", "pre", "s", "small", "span", "strong", "style", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "wbr",
]  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "*": ["class", "id", "style", "title", "align"],
    "a": ["href", "title"],
    "table": ["border"],
    "td": ["colspan", "rowspan"],
    "th": ["colspan", "rowspan", "scope"],
}
_ALLOWED_CSS = [
    "background", "background-color", "border", "border-bottom", "border-collapse",
    "border-left", "border-right", "border-top", "color", "font-family", "font-size",
    "font-style", "font-weight", "margin", "max-width", "min-width", "padding", "text-align",
    "vertical-align", "white-space", "width",
]  # fmt: skip


@functools.cache
def _sanitizer_class() -> type:
    from nbconvert.preprocessors.sanitize import SanitizeHTML

    class OutputSanitizer(SanitizeHTML):
        """nbconvert's bleach sanitiser on code-cell outputs: it drops the outputs a page
        must not run (JavaScript, widgets, anything not in its list of safe mimetypes).

        The page sanitiser (:func:`_sanitise_cell`) then cleans the rendered HTML of every
        cell, Markdown included; this pass only keeps a JavaScript output from showing up
        as escaped source text.
        """

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type != "code":
                return cell, resources
            return super().preprocess_cell(cell, resources, index)

    return OutputSanitizer


#: Tags kept in the cells of a notebook page, after rendering; others are escaped (shown
#: as text). Outputs and Markdown (headings, lists, links, code, tables, images).
_CELL_TAGS = frozenset([*_ALLOWED_TAGS, "img", "kbd", "samp", "var", "mark", "q", "cite", "ins"])
#: Attributes kept in those cells (any tag, then per tag); ``on*`` handlers never are.
_CELL_ATTRIBUTES = {
    "*": {"class", "id", "style", "title", "align", "data-mime-type", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "table": {"border"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type"},
    "style": {"type"},
}
#: Link schemes kept in ``href``; ``src`` takes only embedded images (the figures).
_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_EMBEDDED_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[a-z0-9+/=]*", re.I)
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")
#: CSS that could fetch or run something (a style attribute or a ``<style>`` block).
_UNSAFE_CSS = re.compile(r"url\s*\(|@import|expression\s*\(|javascript:|behavior|binding|\\", re.I)
#: Ids that would shadow a global the page's own scripts read (DOM clobbering).
_RESERVED_IDS = re.compile(r"mathjax.*", re.I)


def _safe_url(value: str, *, image: bool) -> bool:
    """Whether ``value`` may stay in ``src`` (``image``) or ``href``."""
    url = re.sub(r"[\x00-\x20\x7f-\xa0]+", "", value).lower()  # as a browser reads it
    if image:
        return _EMBEDDED_IMAGE.fullmatch(url) is not None
    scheme = _SCHEME.match(url)
    return scheme is None or scheme.group(1) in _LINK_SCHEMES


def _cell_attribute(tag: str, name: str, value: str) -> bool:
    """bleach's attribute filter for the cells of a notebook page."""
    if name not in _CELL_ATTRIBUTES["*"] and name not in _CELL_ATTRIBUTES.get(tag, ()):
        return False
    if name in ("href", "src"):
        return _safe_url(value, image=name == "src")
    if name == "style":
        return _UNSAFE_CSS.search(value) is None
    if name == "id":
        return _RESERVED_IDS.fullmatch(value) is None
    return True


@functools.cache
def _cell_cleaner() -> Any:
    """The bleach cleaner of :func:`_sanitise_cell` (built once)."""
    import bleach
    from bleach.css_sanitizer import CSSSanitizer
    from bleach.html5lib_shim import Filter

    class StyleBlocksAndImages(Filter):
        """Empties a ``<style>`` block whose CSS could fetch or run something (bleach
        keeps the text of an allowed ``<style>`` as it is), and drops an image left
        without a source (its URL was refused): a broken image says nothing."""

        def __iter__(self):
            inside = False
            for token in Filter.__iter__(self):
                if token.get("name") == "style":
                    inside = token["type"] == "StartTag"
                elif inside and token["type"] in ("Characters", "SpaceCharacters"):
                    if _UNSAFE_CSS.search(token["data"]):
                        token = {"type": "Characters", "data": "/* removed by kpilib */"}
                elif token.get("name") == "img" and not any(
                    name == "src" for _, name in token.get("data", {})
                ):
                    continue
                yield token

    return bleach.Cleaner(
        tags=_CELL_TAGS,
        attributes=_cell_attribute,
        protocols=[*_LINK_SCHEMES, "data"],  # data: only gets past _safe_url as an image
        css_sanitizer=CSSSanitizer(allowed_css_properties=_ALLOWED_CSS),
        strip=False,
        strip_comments=True,
        filters=[StyleBlocksAndImages],
    )


def _sanitise_cell(html: str) -> str:
    """The rendered HTML of one notebook cell, cleaned by an allow-list.

    Runs on what nbconvert made of the cell — its Markdown rendered, every output in
    place — so no route into the page (a Markdown link or image in a cell or an output,
    an HTML output, a Styler) bypasses it. Tags outside :data:`_CELL_TAGS` are escaped
    (shown as text); ``on*`` handlers and attributes outside :data:`_CELL_ATTRIBUTES`
    are dropped; ``href`` keeps only relative, ``http(s)`` and ``mailto`` links, ``src``
    only embedded images (``data:image/png;base64,…``, the figures; an image without one
    is dropped); CSS that could fetch or run anything is removed. Formulas are text, so MathJax still typesets them.

    Examples
    --------
    >>> _sanitise_cell('<p><a href="javascript:alert(4)">click me</a><img src=x onerror=alert(1)></p>')
    '<p><a>click me</a></p>'
    """
    return _cell_cleaner().clean(html)


#: Where a month folder keeps its copy of MathJax.
MATHJAX_DIR = Path("_static") / "mathjax"

#: Markdown that MathJax would typeset: $…$, $$…$$, \(…\), \[…\] or an environment.
_MATH = re.compile(r"\$|\\\(|\\\[|\\begin\{")

# MathJax 2 from jupyter-server-mathjax (HTML-CSS output with its STIX-Web fonts). Its
# font test loads url('about:blank'), a request that fails in every browser; a local()
# source makes none and changes nothing else.
_MATHJAX_HEAD = r"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  tex2jax: {inlineMath: [["$", "$"], ["\\(", "\\)"]], displayMath: [["$$", "$$"], ["\\[", "\\]"]],
            processEscapes: true, processEnvironments: true},
  TeX: {equationNumbers: {autoNumber: "AMS", useLabelIds: true}},
  "HTML-CSS": {availableFonts: ["STIX-Web"], preferredFont: "STIX-Web", webFont: "STIX-Web",
               imageFont: null, linebreaks: {automatic: true},
               styles: {"@font-face": {"font-family": "MathJax_Blank", src: "local('MathJax_Blank')"}}},
  displayAlign: "center", messageStyle: "none", showMathMenu: false
});
MathJax.Hub.Register.StartupHook("End", function () {
  document.body.setAttribute("data-mathjax", "typeset");  // for tests and printing
});
</script>
<script src="_static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"></script>
"""


def _mathjax_source() -> Path | None:
    """The MathJax files of the ``jupyter-server-mathjax`` package, if it is installed."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    return static if (static / "MathJax.js").is_file() else None


def _copy_mathjax(target: Path) -> None:
    """Copy what the pages use of MathJax (no translations, SVG fonts or a11y tools)."""
    source = _mathjax_source()
    if source is not None:
        shutil.copytree(
            source, target, ignore=shutil.ignore_patterns("localization", "SVG", "a11y")
        )


def _needs_math(nb: Any) -> bool:
    """Whether a notebook's Markdown (cells or outputs) holds formulas."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and _MATH.search(cell.source):
            return True
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if any(_MATH.search(str(data.get(m, ""))) for m in ("text/markdown", "text/latex")):
                return True
    return False


#: A Python warning as ``warnings`` prints it: ``path:line: Category: message``, then
#: (when the source is readable) the indented line that raised it.
_WARNING = re.compile(r"^[^\n]*?:\d+: (?P<kind>[A-Za-z]*Warning): (?P<message>[^\n]*)\n?(?:  [^\n]*\n?)?", re.M)


def _warning_notes(counts: Mapping[tuple[str, str], int]) -> str:
    r"""Warnings counted by (kind, message) as lines for a reader: the message without the
    file path and source line (a ``UserWarning`` — kpilib's own remarks — reads as a note),
    once, with how often it was raised.

    Examples
    --------
    >>> print(_warning_notes({("UserWarning", "few repeat buyers"): 1,
    ...                       ("RuntimeWarning", "divide by zero"): 1822}), end="")
    Note: few repeat buyers
    RuntimeWarning: divide by zero (1,822 times)
    """
    lines = []
    for (kind, message), n in counts.items():
        label = "Note" if kind == "UserWarning" else kind
        lines.append(f"{label}: {message}" + (f" ({n:,} times)" if n > 1 else "") + "\n")
    return "".join(lines)


def _reader_outputs(nb: Any) -> Any:
    r"""A copy of ``nb`` whose warnings are summarised per section for a reader.

    A section runs from one Markdown heading to the next. Its warnings are taken out of the
    stderr streams and shown once each, with a count, where the section's last warning was
    (see :func:`_warning_notes`): a fit that warns 1,822 times is one line, not a page. The
    executed notebook keeps every warning as it was.

    Examples
    --------
    >>> import nbformat.v4 as v4
    >>> warn = "/x/y.py:7: RuntimeWarning: divide by zero\n  r = a / b\n"
    >>> nb = v4.new_notebook(cells=[v4.new_markdown_cell("## A"),
    ...     v4.new_code_cell(outputs=[v4.new_output("stream", name="stderr", text=warn * 3 + "done\n")]),
    ...     v4.new_code_cell(outputs=[v4.new_output("stream", name="stderr", text=warn)])])
    >>> [o["text"] for c in _reader_outputs(nb).cells[1:] for o in c.outputs]
    ['done\n', 'RuntimeWarning: divide by zero (4 times)\n']
    """
    nb = copy.deepcopy(nb)
    counts: dict[tuple[str, str], int] = {}
    last: Any = None

    def flush() -> None:
        if counts and last is not None:
            last.outputs.append(_stderr_output(_warning_notes(counts)))
        counts.clear()

    for cell in nb.cells:
        if cell.cell_type == "markdown" and re.match(r"\s*#", cell.source or ""):
            flush()
            last = None
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = output["text"]
                for match in _WARNING.finditer(text):
                    key = (match["kind"], match["message"])
                    counts[key] = counts.get(key, 0) + 1
                    last = cell
                output["text"] = _WARNING.sub("", text)
                if not output["text"].strip():
                    continue
            kept.append(output)
        if "outputs" in cell:
            cell.outputs = kept
    flush()
    return nb


def _stderr_output(text: str) -> Any:
    """A stderr stream output holding ``text``."""
    import nbformat.v4

    return nbformat.v4.new_output("stream", name="stderr", text=text)


#: The notebook pages: nbconvert's lab template without code and without anything from
#: a CDN (require.js, widgets, mermaid), a local MathJax, and kpilib's header and footer.
#: Every cell, once rendered, goes through :func:`_sanitise_cell`; the page ends without
#: the widget state nbconvert would add from the notebook's metadata.
_PAGE_TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock html_head_js_requirejs %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block html_head_js_mathjax %}{{ resources.kpilib.mathjax }}{% endblock html_head_js_mathjax %}
{% block extra_css %}<style type="text/css">{{ resources.kpilib.css }}</style>{% endblock extra_css %}
{% block body_header %}{{ super() }}{{ resources.kpilib.header }}{% endblock body_header %}
{% block any_cell %}{% filter kpilib_sanitise %}{{ super() }}{% endfilter %}{% endblock any_cell %}
{% block body_footer %}{{ resources.kpilib.footer }}{{ super() }}{% endblock body_footer %}
{% block footer %}
</html>
{% endblock footer %}
"""


def _html_exporter() -> Any:
    """An in-process nbconvert HTML exporter: no code, no prompts, sanitised cells."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        extra_loaders=[jinja2.DictLoader({"kpilib-page.html.j2": _PAGE_TEMPLATE})],
        template_file="kpilib-page.html.j2",
        filters={"kpilib_sanitise": _sanitise_cell},
    )
    sanitizer = _sanitizer_class()(
        tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRIBUTES, styles=_ALLOWED_CSS, enabled=True
    )
    # Markdown outputs are rendered from their source and cleaned afterwards: escaping
    # their source first would mangle formulas ($a<b$) and miss Markdown links.
    sanitizer.safe_output_keys = {*sanitizer.safe_output_keys, "text/markdown"}
    sanitizer.sanitized_output_types = {"text/html"}
    exporter.register_preprocessor(sanitizer, enabled=True)
    return exporter


def _is_note(output: Mapping[str, Any]) -> bool:
    """Whether a cell output is a kpilib note (a skipped or an empty section)."""
    html = output.get("data", {}).get("text/html", "")
    html = "".join(html) if isinstance(html, list) else str(html)
    return html.startswith('<p class="kpilib-note')


_HEADING = re.compile(r"\A\s*(#{1,6})\s")


def _heading_level(cell: Any) -> int | None:
    """The level of the heading a Markdown cell starts with (None: it starts with prose)."""
    match = _HEADING.match(cell.source) if cell.cell_type == "markdown" else None
    return len(match.group(1)) if match else None


def _without_orphan_prose(nb: Any) -> Any:
    """A copy of ``nb`` without the prose around results the page does not show.

    * A heading whose part of the notebook (up to the next heading of its level or above)
      has code cells and none of them shows anything — a subsection of a section that was
      skipped — is dropped with everything in that part.
    * A Markdown cell that is not a heading ("**How to read this.** …") and follows a
      code cell whose outputs are only kpilib notes (the section was skipped, or had no
      rows in the period) or nothing at all is dropped; a heading with a note under it stays.
    """
    nb = copy.deepcopy(nb)
    cells = nb.cells
    drop: set[int] = set()
    for i, cell in enumerate(cells):
        level = _heading_level(cell)
        if level is None or level == 1 or i in drop:
            continue
        end = next((j for j in range(i + 1, len(cells))
                    if (_heading_level(cells[j]) or 7) <= level), len(cells))
        code = [c for c in cells[i + 1:end] if c.cell_type == "code"]
        if code and not any(c.get("outputs") for c in code):
            drop.update(range(i, end))
    kept, quiet = [], False
    for i, cell in enumerate(cells):
        if cell.cell_type == "code":
            tags = cell.metadata.get("tags", [])
            quiet = all(_is_note(o) for o in cell.get("outputs", [])) and not (
                {"parameters", "injected-parameters"} & set(tags))
        elif quiet and _heading_level(cell) is None:
            continue
        if i not in drop:
            kept.append(cell)
    nb.cells = kept
    return nb


def _introduction(nb: Any) -> Any:
    """A copy of ``nb`` with only the Markdown cells before its first code cell."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            break
        if cell.cell_type == "markdown" and "papermill-error-cell-tag" not in cell.metadata.get("tags", []):
            cells.append(cell)
    nb.cells = cells
    return nb


class _NotebookPages:
    """Renders the notebook pages of one month: nbconvert's HTML with kpilib's header.

    Parameters
    ----------
    report : ReportResult
        The month being built (month, source, row counts, version).
    titles : dict of str to str
        Notebook stem → title, in run order (for the previous/next links).
    source_error : str, optional
        Why the rows of the source could not be counted.
    """

    def __init__(
        self, report: ReportResult, titles: Mapping[str, str], source_error: str | None = None
    ) -> None:
        self.report = report
        self.titles = dict(titles)
        self.source_error = source_error
        self.needs_math = False
        self._exporter = _html_exporter()
        self._mathjax = _mathjax_source() is not None

    def _header(self, stem: str, *, error: str | None, run_at: str, footer: bool,
                skipped: str | None = None, skipped_sections: Sequence[Mapping[str, Any]] = ()) -> str:
        stems = list(self.titles)
        at = stems.index(stem)

        def link(i: int) -> dict[str, str] | None:
            return (
                {"stem": stems[i], "title": self.titles[stems[i]]} if 0 <= i < len(stems) else None
            )

        return (
            _environment()
            .from_string(_PAGE_FOOTER_TEMPLATE if footer else _PAGE_HEADER_TEMPLATE)
            .render(
                month=self.report.month,
                label=_month_title(self.report.month),
                title=self.titles[stem],
                previous=link(at - 1),
                next=link(at + 1),
                source=self.report.source,
                row_counts=[(t, f"{n:,}") for t, n in self.report.row_counts.items()],
                source_error=self.source_error,
                data_notes=self.report.data_notes,
                version=self.report.kpilib_version,
                run_at=run_at,
                error=error,
                skipped=skipped,
                skipped_sections=skipped_sections,
            )
        )

    def render(
        self, stem: str, nb: Any | None, *, error: str | None, run_at: str, skipped: str | None = None
    ) -> str:
        """The page of notebook ``stem``: executed ``nb`` (None if it never ran) and its error.

        A notebook ``skipped`` (the reason) shows its introduction (the Markdown before its
        first code cell) under a note saying why it did not run; a notebook that skipped
        sections lists them in its header.
        """
        if skipped is not None and nb is not None:
            nb = _introduction(nb)
        elif error is None and nb is not None:
            nb = _without_orphan_prose(nb)
        sections_skipped = _read_skipped_sections(nb) if nb is not None and skipped is None else []
        header = self._header(stem, error=error, run_at=run_at, footer=False, skipped=skipped,
                              skipped_sections=sections_skipped)
        footer = self._header(stem, error=None, run_at=run_at, footer=True)
        if nb is None:
            return (
                _environment()
                .from_string(_ERROR_PAGE_TEMPLATE)
                .render(title=self.titles[stem], header=header, footer=footer, error=error,
                        css=_CSS + _PAGE_CSS)
            )  # fmt: skip
        math = self._mathjax and _needs_math(nb)
        self.needs_math |= math
        resources = {
            "metadata": {"name": self.titles[stem]},
            "kpilib": {
                "header": header,
                "footer": footer,
                "css": _PAGE_CSS,
                "mathjax": _MATHJAX_HEAD if math else "",
            },
        }
        html, _ = self._exporter.from_notebook_node(_reader_outputs(nb), resources=resources)
        return html


def render_index(
    report: ReportResult, *, previous_report: str | None = None, next_report: str | None = None
) -> str:
    """The ``index.html`` of a month: KPI cards, the notebooks and a table of details.

    Parameters
    ----------
    report : ReportResult
        The month (its notebooks, their headline metrics, the data source).
    previous_report, next_report : str, optional
        The months built before and after, linked as ``../<month>/index.html``.

    Returns
    -------
    str
        A self-contained HTML page (inline CSS, no scripts, no external resources). Every
        string is escaped by jinja2's autoescaping.
    """
    groups = []
    for status in report.notebooks:
        rows = [_display_row(r) for r in status.metrics]
        groups.append({
            "status": status,
            "rows": rows,
            # a card for a metric with a value in one of the two months; one line for the rest
            "cards": [r for r in rows if r["has_value"] or r["has_previous"]],
            "no_data": [r["title"] for r in rows if not (r["has_value"] or r["has_previous"])],
        })
    return (
        _environment()
        .from_string(_INDEX_TEMPLATE)
        .render(
            month=report.month,
            label=_month_title(report.month),
            previous=previous_month(report.month),
            previous_report=previous_report,
            next_report=next_report,
            groups=groups,
            failed=[s for s in report.notebooks if not s.ok],
            source=report.source,
            row_counts=[(t, f"{n:,}") for t, n in report.row_counts.items()],
            data_notes=report.data_notes,
            version=report.kpilib_version,
            run_at=report.run_at,
            has_pdf=report.pdf is not None,
            small_n=_stats.SMALL_DENOMINATOR,
            css=_CSS,
        )
    )


def _render_month_index(report: ReportResult, months: Sequence[str]) -> str:
    """The month's index with links to its neighbours among ``months`` (those built)."""
    earlier = [m for m in months if m < report.month]
    later = [m for m in months if m > report.month]
    return render_index(
        report,
        previous_report=earlier[-1] if earlier else None,
        next_report=later[0] if later else None,
    )


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(_temp_prefix(path.name) + uuid.uuid4().hex[:8])
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_history_index(out: str | Path = "reports") -> Path:
    """Write ``<out>/index.html`` and refresh every month's previous/next links.

    Called by :func:`run_report` after each build; call it after deleting a month.

    Parameters
    ----------
    out : str or Path, default "reports"
        The folder of month folders.

    Returns
    -------
    pathlib.Path
        ``<out>/index.html``.
    """
    out_dir = Path(out).expanduser().resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    months = _built_months(out_dir)
    reports = [load_report(out_dir / month) for month in months]
    for report in reports:
        _write_atomically(report.index, _render_month_index(report, months))
    target = out_dir / "index.html"
    _write_atomically(target, render_history_index(reports))
    return target


def _month_number(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:]) - 1


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _sparkline(
    points: Sequence[tuple[str, float | None, float | None, float | None]],
    months: tuple[str, str],
    unit: str,
    *,
    width: int = 240,
    height: int = 56,
) -> dict[str, Any]:
    """The geometry of a small trend chart: a line, its 95% band, one dot per month.

    ``points`` are ``(month, value, ci_low, ci_high)``; ``months`` the first and last
    month on the x axis. The y axis spans the values and their intervals.
    """
    pad = 5.0
    first, last = (_month_number(m) for m in months)
    span = max(last - first, 1)
    known = [(m, v, lo, hi) for m, v, lo, hi in points if v is not None]
    levels = [x for _, v, lo, hi in known for x in (v, lo, hi) if x is not None]
    low, high = (min(levels), max(levels)) if levels else (0.0, 1.0)
    if high == low:
        low, high = low - 1.0, high + 1.0

    def x_of(month: str) -> float:
        offset = 0.5 if last == first else (_month_number(month) - first) / span
        return round(pad + offset * (width - 2 * pad), 1)

    def y_of(value: float) -> float:
        return round(pad + (high - value) / (high - low) * (height - 2 * pad), 1)

    banded = [(m, lo, hi) for m, _, lo, hi in known if lo is not None and hi is not None]
    band = ""
    if len(banded) > 1:
        upper = [f"{x_of(m)},{y_of(hi)}" for m, _, hi in banded]
        lower = [f"{x_of(m)},{y_of(lo)}" for m, lo, _ in reversed(banded)]
        band = " ".join(upper + lower)
    dots = [
        {
            "x": x_of(m),
            "y": y_of(v),
            "last": i == len(known) - 1,
            "label": f"{m}: {format_value(v, unit)}"
            + (
                f" [{format_value(lo, unit)}, {format_value(hi, unit)}]"
                if lo is not None and hi is not None
                else ""
            ),
        }
        for i, (m, v, lo, hi) in enumerate(known)
    ]
    return {
        "width": width,
        "height": height,
        "line": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "band": band,
        "dots": dots,
    }


def _trends(reports: Sequence[ReportResult]) -> list[dict[str, Any]]:
    """Per notebook, per headline metric: its values over the months, as sparklines."""
    series: dict[tuple[str, str], dict[str, Any]] = {}
    notebooks: dict[str, str] = {}
    for report in reports:
        for status in report.notebooks:
            notebooks[status.notebook] = status.title
            for record in status.metrics:
                entry = series.setdefault(
                    (status.notebook, record["metric"]), {"metric": record["metric"], "points": []}
                )
                entry["title"] = record.get("title") or record["metric"]
                entry["unit"] = record.get("unit") or ""
                entry["points"].append(
                    (
                        report.month,
                        _finite_or_none(record.get("value")),
                        _finite_or_none(record.get("ci_low")),
                        _finite_or_none(record.get("ci_high")),
                    )
                )
    if not series:
        return []
    span = (reports[0].month, reports[-1].month)
    groups = []
    for stem, title in sorted(notebooks.items()):
        trends = []
        for (owner, _), entry in series.items():
            if owner != stem:
                continue
            values = [(m, v) for m, v, _, _ in entry["points"] if v is not None]
            unit = entry["unit"]
            trends.append(
                {
                    "metric": entry["metric"],
                    "title": entry["title"],
                    "latest": format_value(values[-1][1], unit) if values else _MISSING,
                    "latest_month": values[-1][0] if values else "",
                    "low": format_value(min(v for _, v in values), unit) if values else _MISSING,
                    "high": format_value(max(v for _, v in values), unit) if values else _MISSING,
                    "months": len(values),
                    "chart": _sparkline(entry["points"], span, unit),
                }
            )
        if trends:
            groups.append({"notebook": stem, "title": title, "trends": trends})
    return groups


def render_history_index(reports: Sequence[ReportResult]) -> str:
    """The top-level ``index.html``: every month built, and a trend per headline KPI.

    Parameters
    ----------
    reports : sequence of ReportResult
        The months, oldest first (see :func:`load_report`).

    Returns
    -------
    str
        A self-contained page: inline CSS and inline SVG charts, no scripts.
    """
    ordered = sorted(reports, key=lambda r: r.month)
    months = [
        {
            "month": r.month,
            "label": _month_title(r.month),
            "ok": sum(s.status == "ok" for s in r.notebooks),
            "partial": sum(s.status == "partial" for s in r.notebooks),
            "skipped": sum(s.status == "skipped" for s in r.notebooks),
            "failed": len(r.failed),
            "metrics": sum(len(s.metrics) for s in r.notebooks),
            "run_at": r.run_at,
            "has_pdf": r.pdf is not None,
        }
        for r in reversed(ordered)
    ]
    return (
        _environment()
        .from_string(_HISTORY_TEMPLATE)
        .render(months=months, groups=_trends(ordered), updated=_now(), css=_CSS)
    )


# --------------------------------------------------------------------------- PDF

#: Flags for headless Chromium: no sandbox (root in containers), and no background
#: traffic (updates, sync, field trials) — the pages need no network.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)  # fmt: skip

#: Virtual milliseconds Chromium gives a page (MathJax typesetting) before printing.
_PRINT_BUDGET_MS = 30_000


def find_chromium() -> str | None:
    """The Chromium (or Chrome) to print and test with: ``$KPILIB_CHROMIUM`` or on ``PATH``."""
    configured = os.environ.get("KPILIB_CHROMIUM")
    if configured:
        return shutil.which(configured)  # None when it names no executable
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _require_chromium() -> str:
    browser = find_chromium()
    if browser is None:
        configured = os.environ.get("KPILIB_CHROMIUM")
        raise RuntimeError(
            f"KPILIB_CHROMIUM={configured!r} is not an executable; point it at Chromium"
            if configured
            else "printing the report to PDF needs Chromium: install it (Debian/Ubuntu: "
            "apt-get install chromium) or set KPILIB_CHROMIUM to its path"
        )
    return browser


def _print_page(browser: str, page: Path, target: Path, profile: Path, timeout: float) -> None:
    command = [
        browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
        f"--virtual-time-budget={_PRINT_BUDGET_MS}", f"--print-to-pdf={target}",
        page.resolve().as_uri(),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"Chromium did not print {page.name} within {timeout:.0f} s") from None
    if not target.is_file() or target.stat().st_size == 0:
        raise RuntimeError(
            f"Chromium ({browser}) could not print {page.name} (exit code {done.returncode}): "
            f"{done.stderr.strip()[-800:]}"
        )


def print_pdf(folder: str | Path, *, chromium: str | None = None, timeout: float = 120.0) -> Path:
    """Print a month's report to ``<folder>/report.pdf``: the index, then every notebook page.

    Each page is printed by headless Chromium (``--print-to-pdf``, after MathJax has
    typeset the formulas); the parts are merged with pypdf, one bookmark per page.

    Parameters
    ----------
    folder : str or Path
        A month folder written by :func:`run_report`.
    chromium : str, optional
        The browser; by default :func:`find_chromium`.
    timeout : float, default 120
        Seconds allowed per page.

    Returns
    -------
    pathlib.Path
        The PDF, replaced atomically.

    Raises
    ------
    RuntimeError
        When no Chromium is found or a page cannot be printed.
    """
    from pypdf import PdfWriter

    report = load_report(folder)
    browser = chromium or _require_chromium()
    pages = [(f"KPI report {report.month}", report.index)] + [
        (s.title, report.path / f"{s.notebook}.html") for s in report.notebooks
    ]
    target = report.path / PDF_NAME
    writer = PdfWriter()
    with tempfile.TemporaryDirectory(prefix="kpilib-pdf-") as tmp:
        for number, (title, page) in enumerate(pages):
            part = Path(tmp) / f"{number:03d}.pdf"
            _print_page(browser, page, part, Path(tmp) / "profile", timeout)
            writer.append(str(part), outline_item=title)
        writer.add_metadata({"/Title": f"KPI report {report.month}"})
        partial = target.with_name(_temp_prefix(PDF_NAME) + uuid.uuid4().hex[:8])
        try:
            with partial.open("wb") as handle:
                writer.write(handle)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return target


# --------------------------------------------------------------------------- templates

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 68rem; padding: 0 1rem; color: #1f2328; line-height: 1.45; }
h1 { margin: 0.4rem 0 0.2rem; } .muted { color: #656d76; font-size: 0.9rem; }
a { color: #0969da; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; font-variant-numeric: tabular-nums; }
th, td { padding: 0.35rem 0.6rem; border-bottom: 1px solid #d0d7de; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f6f8fa; }
tbody.group th { text-align: left; background: #fbfbfc; font-weight: 600; }
.status { font-weight: 600; } .status.ok { color: #1a7f37; }
.status.failed { color: #fff; background: #cf222e; padding: 0.05rem 0.4rem; border-radius: 3px; }
li.failed { border-left: 4px solid #cf222e; padding-left: 0.5rem; }
.status.skipped { color: #fff; background: #8c959f; padding: 0.05rem 0.4rem; border-radius: 3px; }
li.skipped { border-left: 4px solid #8c959f; padding-left: 0.5rem; color: #656d76; }
.status.partial { color: #424a53; background: #eaeef2; padding: 0.05rem 0.4rem; border-radius: 3px; }
li.partial { border-left: 4px solid #d0d7de; padding-left: 0.5rem; }
.reason { color: #656d76; font-size: 0.9rem; } .reason ul { margin: 0.1rem 0 0.3rem; padding-left: 1.2rem; }
.error { white-space: pre-wrap; color: #cf222e; font-family: monospace; font-size: 0.85rem; }
.banner { border: 1px solid #cf222e; background: #ffebe9; padding: 0.6rem 1rem; border-radius: 6px; }
.data-notes { border: 1px solid #d4a72c; background: #fff8c5; padding: 0.5rem 1rem; border-radius: 6px; margin: 0.6rem 0; }
.data-notes ul { margin: 0.2rem 0 0; padding-left: 1.2rem; }
.better { color: #1a7f37; font-weight: 600; } .worse { color: #cf222e; font-weight: 600; }
.small-n { color: #9a6700; font-size: 0.8rem; } small { color: #656d76; }
nav.months { display: flex; justify-content: space-between; gap: 1rem; font-size: 0.9rem; }
.meta { margin: 0.2rem 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: 0.75rem; }
.card { border: 1px solid #d0d7de; border-radius: 8px; padding: 0.7rem 0.9rem; background: #fff;
        break-inside: avoid; }
.card h4 { margin: 0; font-size: 0.9rem; font-weight: 600; color: #424a53; }
.card .value { font-size: 1.6rem; font-weight: 650; margin: 0.2rem 0 0; font-variant-numeric: tabular-nums; }
.card p { margin: 0.1rem 0; }
.card .interval { font-size: 0.8rem; color: #656d76; }
.card .value.no-data { font-size: 1.1rem; font-weight: 500; color: #656d76; font-style: italic; }
.card .change { font-size: 0.9rem; font-variant-numeric: tabular-nums; }
.good { color: #1a7f37; } .bad { color: #cf222e; } .neutral { color: #656d76; }
.badge { display: inline-block; font-size: 0.75rem; padding: 0.05rem 0.45rem; border-radius: 999px;
         border: 1px solid #d0d7de; color: #656d76; }
.badge.significant { border-color: #0969da; color: #0969da; font-weight: 600; }
.card.unreliable { border-color: #d4a72c; background: #fffbeb; }
.card .value.unreliable { color: #8c959f; font-weight: 500; }
.note.unreliable { color: #9a6700; font-size: 0.8rem; font-weight: 600; }
.trend svg { display: block; margin: 0.3rem 0; }
.trend .band { fill: #0969da; opacity: 0.12; }
.trend .line { fill: none; stroke: #0969da; stroke-width: 1.5; }
.trend circle { fill: #0969da; } .trend circle.last { fill: #cf222e; }
h3 { margin: 1.4rem 0 0.5rem; }
@media print { nav.months { display: none; } body { margin: 0 auto; } a { color: inherit; } }
"""

#: Extra CSS of the notebook pages (nbconvert's own styles the rest).
_PAGE_CSS = """
.kpilib-header, .kpilib-footer { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  font-size: 0.85rem; color: #1f2328; }
.kpilib-header { border-bottom: 1px solid #d0d7de; padding: 0.5rem 0 0.7rem; margin-bottom: 1rem; }
.kpilib-footer { border-top: 1px solid #d0d7de; padding: 0.7rem 0; margin-top: 2rem; }
.kpilib-nav { display: flex; justify-content: space-between; gap: 1rem; flex-wrap: wrap; }
.kpilib-nav a { color: #0969da; }
.kpilib-report { font-weight: 600; }
.kpilib-meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 0.9rem; margin: 0.6rem 0 0; }
.kpilib-meta dt { color: #656d76; } .kpilib-meta dd { margin: 0; }
.kpilib-warning { color: #9a6700; }
.kpilib-data-notes { color: #1f2328; border: 1px solid #d4a72c; background: #fff8c5; padding: 0.4rem 0.9rem;
  border-radius: 6px; margin: 0.7rem 0 0; }
.kpilib-data-notes ul { margin: 0.2rem 0 0; padding-left: 1.2rem; }
.kpilib-banner { border: 1px solid #cf222e; background: #ffebe9; padding: 0.6rem 1rem; border-radius: 6px;
  margin: 0.8rem 0 0; }
.jp-OutputArea-output img { max-width: 100%; height: auto; }
table.kpilib-table { font-variant-numeric: tabular-nums; }
.jp-OutputArea-output.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"] { background: #fff8c5;
  border-left: 4px solid #d4a72c; padding: 0.3rem 0.8rem; margin: 0.3rem 0; }
.jp-OutputArea-output.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"] pre { white-space: pre-wrap;
  word-break: normal; overflow-wrap: break-word; color: #4d2d00; font-size: 0.85rem;
  font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
table.kpilib-table caption { caption-side: bottom; text-align: left; color: #656d76; font-size: 0.85em; }
.kpilib-skipped-banner { color: #424a53; border: 1px solid #d0d7de; background: #f6f8fa; padding: 0.5rem 0.9rem;
  border-radius: 6px; margin: 0.8rem 0 0; }
.kpilib-skipped-banner ul { margin: 0.2rem 0 0; padding-left: 1.2rem; }
p.kpilib-note { color: #656d76; font-style: italic; margin: 0.3rem 0; }
p.kpilib-note.kpilib-skipped { border-left: 4px solid #d0d7de; padding-left: 0.6rem; }
@media print {
  .kpilib-nav, .kpilib-footer { display: none; }
  .jp-OutputArea-output img, table.kpilib-headline { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
}
"""

_PAGE_HEADER_TEMPLATE = """\
<header class="kpilib-header">
<nav class="kpilib-nav">
<span><a class="kpilib-report" href="index.html">KPI report — {{ label }}</a> › {{ title }}</span>
<span>{% if previous %}<a href="{{ previous.stem }}.html">← {{ previous.title }}</a>{% endif %}
{% if previous and next %} · {% endif %}{% if next %}<a href="{{ next.stem }}.html">{{ next.title }} →</a>{% endif %}</span>
</nav>
<dl class="kpilib-meta">
<dt>Report</dt><dd>{{ title }}, {{ label }} ({{ month }})</dd>
<dt>Data</dt><dd><code>{{ source }}</code>{% if row_counts %} — {% for table, rows in row_counts %}{{ table }} {{ rows }} rows{% if not loop.last %} · {% endif %}{% endfor %}{% endif %}
{% if source_error %}<span class="kpilib-warning">(rows not counted: {{ source_error }})</span>{% endif %}</dd>
<dt>Run</dt><dd>{{ run_at }} with kpilib {{ version }}</dd>
</dl>
{% if data_notes %}<div class="kpilib-warning kpilib-data-notes"><strong>About the data:</strong><ul>{% for note in data_notes %}<li>{{ note }}</li>{% endfor %}</ul></div>{% endif %}
{% if error %}<p class="kpilib-banner"><strong>This notebook failed:</strong> {{ error }}. The page shows its outputs up to the error.</p>{% endif %}
{% if skipped %}<p class="kpilib-skipped-banner"><strong>Skipped:</strong> this notebook {{ skipped }}.</p>{% endif %}
{% if skipped_sections %}<p class="kpilib-skipped-banner"><strong>{{ skipped_sections | length }} section{{ "s" if skipped_sections | length > 1 }} skipped</strong> (each says why below; the rest ran): {% for s in skipped_sections %}{{ s.title }}{% if not loop.last %} · {% endif %}{% endfor %}.</p>{% endif %}
</header>
"""

_PAGE_FOOTER_TEMPLATE = """\
<footer class="kpilib-footer">
<nav class="kpilib-nav">
<span><a href="index.html">↑ KPI report — {{ label }}</a></span>
<span>{% if previous %}<a href="{{ previous.stem }}.html">← {{ previous.title }}</a>{% endif %}
{% if previous and next %} · {% endif %}{% if next %}<a href="{{ next.stem }}.html">{{ next.title }} →</a>{% endif %}</span>
</nav>
</footer>
"""

_INDEX_TEMPLATE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>KPI report {{ month }}</title>
<style>{{ css | safe }}</style>
</head>
<body>
<nav class="months">
<span>{% if previous_report %}<a href="../{{ previous_report }}/index.html" rel="prev">← {{ previous_report }}</a>{% endif %}</span>
<span><a href="../index.html">All months</a></span>
<span>{% if next_report %}<a href="../{{ next_report }}/index.html" rel="next">{{ next_report }} →</a>{% endif %}</span>
</nav>
<h1>KPI report — {{ label }}</h1>
<p class="muted meta">Month {{ month }}, compared with {{ previous }}.{% if run_at %} Generated {{ run_at }}{% if version %} with kpilib {{ version }}{% endif %}.{% endif %}
{% if has_pdf %} <a href="report.pdf">Download as PDF</a>.{% endif %}</p>
{% if source %}
<p class="muted meta">Data: <code>{{ source }}</code>{% if row_counts %} — {% for table, rows in row_counts %}{{ table }} {{ rows }} rows{% if not loop.last %} · {% endif %}{% endfor %}{% endif %}</p>
{% endif %}
{% if data_notes %}
<div class="notes data-notes"><strong>About the data:</strong><ul>{% for note in data_notes %}<li>{{ note }}</li>{% endfor %}</ul></div>
{% endif %}
{% if failed %}
<p class="banner"><strong>{{ failed | length }} of {{ groups | length }} notebook(s) failed</strong>:
{% for s in failed %}{{ s.title }}{% if not loop.last %}, {% endif %}{% endfor %}. Their pages show the error.</p>
{% endif %}
<h2>Headline KPIs</h2>
{% for g in groups if g.rows %}
<section class="kpi-group">
<h3><a href="{{ g.status.notebook }}.html">{{ g.status.title }}</a></h3>
{% if g.cards %}
<div class="cards">
{% for r in g.cards %}
<article class="card kpi{% if r.note %} unreliable{% endif %}" data-metric="{{ r.metric }}">
<h4>{{ r.title }}</h4>
<p class="value{% if not r.has_value %} no-data{% endif %}{% if r.note %} unreliable{% endif %}">{{ r.value }}</p>
{% if r.note %}<p class="note unreliable">{{ r.note }}</p>{% endif %}
{% if r.previous_note %}<p class="note unreliable">{{ r.previous_month or previous }}: {{ r.previous_note }}</p>{% endif %}
<p class="interval">{% if r.interval != "—" %}95% CI {{ r.interval }}{% elif r.has_value %}no interval{% endif %}</p>
<p class="change {{ r.tone }}">{% if r.arrow %}<span class="arrow" aria-hidden="true">{{ r.arrow }}</span> {{ r.change }} vs {{ r.previous_month or previous }}{% elif r.has_value %}no value for {{ r.previous_month or previous }}{% else %}{{ r.previous_value }} in {{ r.previous_month or previous }}{% endif %}</p>
<p>{% if r.significant == "yes" %}<span class="badge significant" title="two-proportion test, 5% level">significant</span>{% elif r.significant == "no" %}<span class="badge">not significant</span>{% endif %}
{% if r.small_sample and r.has_value %}<span class="small-n" title="denominator under {{ small_n }}">small n</span>{% endif %}</p>
</article>
{% endfor %}
</div>
{% endif %}
{% if g.no_data %}<p class="muted no-data">No data in {{ month }} or {{ previous }}: {{ g.no_data | join(", ") }}.</p>{% endif %}
</section>
{% else %}
<p class="muted">No notebook recorded headline metrics.</p>
{% endfor %}
<h2>Notebooks</h2>
<ul class="notebooks">
{% for g in groups %}
{% set s = g.status %}
<li class="{{ s.status }}"><a href="{{ s.notebook }}.html">{{ s.title }}</a>
<span class="status {{ s.status }}">{{ {"failed": "FAILED", "skipped": "skipped", "partial": "partial"}.get(s.status, "ok") }}</span>
{% if s.status == "skipped" %}<small>(<a href="{{ s.notebook }}.json">status</a>)</small>
<div class="reason">Not run: this notebook {{ s.reason }}.</div>
{% else %}<small>(<a href="{{ s.notebook }}.ipynb">notebook</a>, <a href="{{ s.notebook }}.json">metrics</a>, {{ "%.1f" | format(s.seconds) }} s)</small>
{% endif %}
{% if s.skipped_sections %}<div class="reason">{{ s.skipped_sections | length }} section{{ "s" if s.skipped_sections | length > 1 }} skipped:
<ul class="skipped-sections">{% for k in s.skipped_sections %}<li>{{ k.title }}: {{ k.reason }}</li>{% endfor %}</ul></div>{% endif %}
{% if s.error %}<div class="error">{{ s.error }}</div>{% endif %}
</li>
{% endfor %}
</ul>
<h2>Headline KPIs in detail</h2>
<table class="headline">
<thead><tr><th>Metric</th><th>{{ month }}</th><th>{{ previous }}</th><th>Change</th>
<th>95% CI of change</th><th>Significant</th></tr></thead>
{% for g in groups if g.rows or g.status.status == "failed" %}
<tbody class="group"><tr><th colspan="6"><a href="{{ g.status.notebook }}.html">{{ g.status.title }}</a>
{% if g.status.status == "failed" %} <span class="status failed">FAILED</span>{% endif %}</th></tr></tbody>
<tbody>
{% for r in g.rows %}
<tr>
<td>{{ r.title }}{% if r.small_sample %} <span class="small-n" title="denominator under {{ small_n }}">small n</span>{% endif %}</td>
<td>{{ r.value }}{% if r.interval != "—" %}<br><small>{{ r.interval }}</small>{% endif %}{% if r.note %}<br><span class="note unreliable">{{ r.note }}</span>{% endif %}</td>
<td>{{ r.previous_value }}{% if r.previous_note %}<br><span class="note unreliable">{{ r.previous_note }}</span>{% endif %}</td>
<td{% if r.direction %} class="{{ r.direction }}"{% endif %}>{{ r.change }}</td>
<td>{{ r.change_interval }}</td>
<td{% if not r.reliable %} title="not tested: a value is unreliable"{% elif not r.tested %} title="not tested: no numerator and denominator"{% endif %}>{{ r.significant }}</td>
</tr>
{% else %}
<tr><td colspan="6" class="muted">No headline metrics recorded.</td></tr>
{% endfor %}
</tbody>
{% endfor %}
</table>
<p class="muted">Rates show their 95% Wilson interval. Changes in rates are in percentage
points, with Newcombe's interval and a two-proportion z-test; "significant" means
significant at the 5% level, "not significant" that the test cannot tell the months apart;
other metrics are not tested. The arrow is green when the metric moved the way that is
good for it, red when it moved the other way. "small n" marks a denominator under {{ small_n }}.</p>
</body>
</html>
"""

_HISTORY_TEMPLATE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>KPI reports</title>
<style>{{ css | safe }}</style>
</head>
<body>
<h1>KPI reports</h1>
{% if months %}
<p class="muted">{{ months | length }} month(s) built, {{ months[-1].month }} to {{ months[0].month }}. Updated {{ updated }}.</p>
{% else %}
<p class="muted">No report built yet: <code>python -m kpilib report --month YYYY-MM</code>.</p>
{% endif %}
<h2>Months</h2>
<table class="months">
<thead><tr><th>Month</th><th>Notebooks</th><th>Headline metrics</th><th>Built</th><th>PDF</th></tr></thead>
<tbody>
{% for m in months %}
<tr><td><a href="{{ m.month }}/index.html">{{ m.label }}</a></td>
<td>{{ m.ok }} ok{% if m.partial %}, {{ m.partial }} partial{% endif %}{% if m.skipped %}, <span class="status skipped">{{ m.skipped }} skipped</span>{% endif %}{% if m.failed %}, <span class="status failed">{{ m.failed }} failed</span>{% endif %}</td>
<td>{{ m.metrics }}</td><td>{{ m.run_at or "—" }}</td>
<td>{% if m.has_pdf %}<a href="{{ m.month }}/report.pdf">PDF</a>{% else %}—{% endif %}</td></tr>
{% endfor %}
</tbody>
</table>
{% if groups %}
<h2>Trends</h2>
<p class="muted">Each headline KPI over the months built: the line joins the monthly values, the
band is their 95% interval, the red dot is the latest month.</p>
{% for g in groups %}
<section class="trend-group">
<h3>{{ g.title }}</h3>
<div class="cards">
{% for t in g.trends %}
<article class="card trend" data-metric="{{ t.metric }}">
<h4>{{ t.title }}</h4>
<p class="value">{{ t.latest }} <small>{{ t.latest_month }}</small></p>
<svg viewBox="0 0 {{ t.chart.width }} {{ t.chart.height }}" width="{{ t.chart.width }}" height="{{ t.chart.height }}" role="img" aria-label="{{ t.title }} by month">
{% if t.chart.band %}<polygon class="band" points="{{ t.chart.band }}"/>{% endif %}
{% if t.chart.dots | length > 1 %}<polyline class="line" points="{{ t.chart.line }}"/>{% endif %}
{% for d in t.chart.dots %}<circle cx="{{ d.x }}" cy="{{ d.y }}" r="{{ 3.5 if d.last else 2.2 }}"{% if d.last %} class="last"{% endif %}><title>{{ d.label }}</title></circle>
{% endfor %}
</svg>
<p class="muted">{{ t.months }} month(s), from {{ t.low }} to {{ t.high }}</p>
</article>
{% endfor %}
</div>
</section>
{% endfor %}
{% endif %}
</body>
</html>
"""

_ERROR_PAGE_TEMPLATE = """\
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ title }} — failed</title><style>{{ css | safe }}</style></head>
<body>
{{ header | safe }}
<h1>{{ title }}</h1>
<p class="banner"><strong>This notebook failed before it could be rendered.</strong></p>
<div class="error">{{ error }}</div>
{{ footer | safe }}
</body>
</html>
"""
