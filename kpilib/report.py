"""The monthly report: headline metrics, papermill runs, HTML pages and the index.

Two halves meet here.

* **Inside a notebook** one call, :func:`record_headline`, turns a tidy frame of the
  month's headline KPIs into a :class:`Headline`. Displayed, it is a small table for the
  reader, and it also carries the numbers as JSON under the mimetype
  :data:`HEADLINE_MIMETYPE`. Nothing is written to disk from the kernel, so the same call
  works unchanged in JupyterLab.
* **Outside**, :func:`run_report` executes every notebook with papermill for one month,
  renders each to HTML without code, reads the headline back from the executed notebook's
  outputs, writes ``<notebook>.json`` and an ``index.html`` comparing the month with the
  one before, and swaps the finished month folder in atomically.

Everything data-derived is HTML-escaped: the index and the headline tables are jinja2
templates with autoescaping, and the HTML outputs of notebook cells go through nbconvert's
bleach sanitiser, so an unescaped :class:`pandas.io.formats.style.Styler` cannot smuggle
markup (``<script>``) into a page.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import json
import logging
import math
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from kpilib import metrics as _metrics
from kpilib import stats as _stats

__all__ = [
    "HEADLINE_MIMETYPE",
    "KPI_COLUMNS",
    "Headline",
    "NotebookStatus",
    "ReportResult",
    "compare_months",
    "default_notebooks_dir",
    "format_change",
    "format_value",
    "parse_parameter",
    "previous_month",
    "record_headline",
    "render_index",
    "run_report",
    "select_notebooks",
    "validate_month",
]

logger = logging.getLogger(__name__)

#: The output mimetype that carries a notebook's headline metrics as JSON.
HEADLINE_MIMETYPE = "application/vnd.kpilib.headline+json"

#: Columns :func:`record_headline` and :func:`compare_months` expect, in order.
KPI_COLUMNS = ("metric", "month", "value", "numerator", "denominator", "ci_low", "ci_high")

#: The kernel every notebook runs in (started with the caller's interpreter).
KERNEL_NAME = "python3"

_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_MISSING = "—"


# --------------------------------------------------------------------------- months


def validate_month(month: str) -> str:
    """Check that ``month`` is a ``"YYYY-MM"`` string and return it.

    Raises
    ------
    ValueError
        When it is not, saying what was expected.

    Examples
    --------
    >>> validate_month("2026-10")
    '2026-10'
    >>> validate_month("2026-13")
    Traceback (most recent call last):
    ...
    ValueError: month must look like 'YYYY-MM' (e.g. '2026-10'), got '2026-13'
    """
    if not isinstance(month, str) or not _MONTH_RE.match(month):
        raise ValueError(f"month must look like 'YYYY-MM' (e.g. '2026-10'), got {month!r}")
    return month


def previous_month(month: str) -> str:
    """The month before ``month``, both as ``"YYYY-MM"``.

    Examples
    --------
    >>> previous_month("2026-01")
    '2025-12'
    >>> previous_month("2026-10")
    '2026-09'
    """
    year, mon = (int(part) for part in validate_month(month).split("-"))
    year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return f"{year:04d}-{mon:02d}"


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
        ``ci_high``, which may be NaN for metrics that are not rates. One row per metric
        and month; other months are ignored.
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
        ``significant`` and ``small_sample`` (a denominator below
        :data:`kpilib.stats.SMALL_DENOMINATOR` in either month).

    Notes
    -----
    Only rates (unit ``"rate"`` with numerator and denominator in both months) are
    tested: the interval on the change is Newcombe's hybrid score interval and the p-value
    the pooled two-proportion z-test, both from :func:`kpilib.stats.compare_proportions`.
    For every other metric ``change_ci_*`` and ``p_value`` are NaN and ``significant`` is
    ``None`` — a change is never called significant without a test.

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
        Tidy frame, columns :data:`KPI_COLUMNS`, with rows for the report month and the
        month before (see :func:`compare_months`).
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
    direction = ""
    if significant and hib is not None and change:
        direction = "better" if (change > 0) == hib else "worse"
    return {
        "metric": record["metric"],
        "title": record.get("title") or record["metric"],
        "value": format_value(record.get("value"), unit),
        "interval": _format_interval(
            record.get("ci_low"), record.get("ci_high"), lambda v: format_value(v, unit)
        ),
        "previous_value": format_value(record.get("previous_value"), unit),
        "change": format_change(change, unit),
        "change_interval": _format_interval(
            record.get("change_ci_low"),
            record.get("change_ci_high"),
            lambda v: format_change(v, unit),
        ),
        "significant": {True: "yes", False: "no"}.get(significant, _MISSING),
        "tested": significant is not None,
        "direction": direction,
        "small_sample": bool(record.get("small_sample")),
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
<td style="text-align: right;">{{ r.value }}{% if r.interval != "—" %}<br><small>{{ r.interval }}</small>{% endif %}</td>
<td style="text-align: right;">{{ r.previous_value }}</td>
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
        ``"ok"`` or ``"failed"``.
    error : str or None
        The error, for a failed notebook.
    metrics : list of dict
        The headline records (see :func:`compare_months`), possibly empty.
    seconds : float
        Execution time.
    """

    notebook: str
    title: str
    status: str
    error: str | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the notebook ran without error."""
        return self.status == "ok"

    def to_json(self, month: str) -> dict[str, Any]:
        """The content of ``<notebook>.json``."""
        return {
            "notebook": self.notebook,
            "title": self.title,
            "month": month,
            "status": self.status,
            "error": self.error,
            "seconds": round(self.seconds, 2),
            "metrics": self.metrics,
        }


@dataclass
class ReportResult:
    """The outcome of :func:`run_report`.

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
    """

    month: str
    path: Path
    notebooks: list[NotebookStatus]
    failed: list[str]

    @property
    def ok(self) -> bool:
        """True when every notebook ran."""
        return not self.failed

    @property
    def index(self) -> Path:
        """The report's ``index.html``."""
        return self.path / "index.html"


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


def _report_parameters(
    month: str, source: str | Path | None, parameters: Mapping[str, object] | None
) -> dict[str, object]:
    params: dict[str, object] = {"month": month}
    if source is not None:
        text = str(source)
        if "://" in text:  # a database URL is passed through untouched
            params["source"] = text
        else:
            path = Path(source).expanduser().resolve()
            if not path.exists():
                raise FileNotFoundError(
                    f"source {text!r} does not exist (resolved to {str(path)!r})"
                )
            params["source"] = str(path)
    for name, value in (parameters or {}).items():
        if name in ("month", "source"):
            raise ValueError(f"pass {name!r} as the {name}= argument, not in parameters")
        if not str(name).isidentifier():
            raise ValueError(f"parameter name {name!r} is not a Python identifier")
        params[name] = value
    return params


def run_report(
    month: str,
    *,
    source: str | Path | None = None,
    out: str | Path = "reports",
    only: Sequence[str] | None = None,
    parameters: Mapping[str, object] | None = None,
    notebooks_dir: str | Path | None = None,
    progress: bool = True,
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

    Returns
    -------
    ReportResult
        ``failed`` lists the notebooks that raised; the command line exits 1 on those.

    Notes
    -----
    For each notebook the month folder gets ``<stem>.ipynb`` (executed), ``<stem>.html``
    (no code, prompts hidden, HTML outputs sanitised) and ``<stem>.json`` (status, error
    and the headline metrics recorded with :func:`record_headline`), plus ``index.html``.
    A failing notebook is still rendered, with its traceback, and the others still run.

    The folder is built as ``<out>/.<month>.tmp-*`` and swapped in only when complete
    (the old folder is renamed aside, the new renamed in, the old deleted), so a crash
    leaves the previous report intact and a rerun replaces it.

    The kernel is ipykernel started with this process's interpreter (``sys.executable``)
    whatever ``python3`` kernel spec is installed, with its folder first on ``PATH`` and
    without an inherited ``MPLBACKEND`` (so figures render inline into the pages).
    """
    month = validate_month(month)
    folder = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    folder = folder.resolve()
    paths = select_notebooks(folder, only)
    params = _report_parameters(month, source, parameters)

    out_dir = Path(out).expanduser().resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / month
    staging = Path(tempfile.mkdtemp(prefix=f".{month}.tmp-", dir=out_dir))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; a report is meant to be read
        from tqdm.auto import tqdm

        exporter = _html_exporter()
        statuses: list[NotebookStatus] = []
        bar = tqdm(
            paths, desc=f"report {month}", unit="notebook", disable=not progress, file=sys.stderr
        )
        for path in bar:
            bar.set_postfix_str(path.stem)
            status = _run_notebook(path, staging, params, folder, exporter)
            (staging / f"{path.stem}.json").write_text(
                json.dumps(status.to_json(month), indent=2, allow_nan=False) + "\n",
                encoding="utf-8",
            )
            statuses.append(status)
        bar.close()
        (staging / "index.html").write_text(
            render_index(
                month,
                statuses,
                has_previous=(out_dir / previous_month(month) / "index.html").exists(),
            ),
            encoding="utf-8",
        )
        _swap_in(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    failed = [s.notebook for s in statuses if not s.ok]
    return ReportResult(month=month, path=final, notebooks=statuses, failed=failed)


def _swap_in(staging: Path, final: Path) -> None:
    """Replace ``final`` with ``staging``: old aside, new in, old deleted."""
    aside = None
    if final.exists():
        aside = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        final.rename(aside)
    try:
        staging.rename(final)
    except BaseException:
        if aside is not None:
            aside.rename(final)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


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


def _run_notebook(
    path: Path, staging: Path, params: Mapping[str, object], cwd: Path, exporter: Any
) -> NotebookStatus:
    import nbformat
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    executed = staging / f"{path.stem}.ipynb"
    title = _notebook_title(nbformat.read(path, as_version=4), path.stem)
    error: str | None = None
    nb = None
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
        error = f"{exc.ename}: {exc.evalue} (cell {exc.exec_count})"
    except (CellTimeoutError, DeadKernelError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    if nb is None and executed.exists():
        nb = nbformat.read(executed, as_version=4)

    html_path = staging / f"{path.stem}.html"
    if nb is not None:
        html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    else:
        html = (
            _environment()
            .from_string(_ERROR_PAGE_TEMPLATE)
            .render(title=title, error=error, css=_CSS)
        )
    html_path.write_text(html, encoding="utf-8")
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
    return NotebookStatus(
        notebook=path.stem,
        title=title,
        status="failed" if error is not None else "ok",
        error=error,
        metrics=headline,
        seconds=seconds,
    )


# --------------------------------------------------------------------------- kernel


@functools.cache
def _kernel_manager_class() -> type:
    """A kernel manager that starts ipykernel with ``sys.executable``.

    The ``python3`` kernel spec that jupyter_client finds first may belong to another
    interpreter (a user-level spec, ``JUPYTER_PATH``), and ``python`` on ``PATH`` may not
    be this one when the venv is not activated. This manager ignores installed specs for
    ``python3``, launches ``sys.executable -m ipykernel_launcher``, and puts the
    interpreter's folder first on the kernel's ``PATH`` (for ``!pip`` or subprocesses).
    It also drops an inherited ``MPLBACKEND`` so that figures are shown inline.
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
                spec["argv"] = [*spec["argv"], "--IPKernelApp.log_level=CRITICAL"]
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
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
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
        """nbconvert's bleach sanitiser, on code-cell outputs only.

        Markdown is the notebook author's (with LaTeX that bleach would mangle); outputs
        are where data-derived strings arrive. The allow-list keeps pandas and Styler
        tables; ``<script>``, event handlers and JavaScript outputs do not survive.
        """

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type != "code":
                return cell, resources
            return super().preprocess_cell(cell, resources, index)

    return OutputSanitizer


def _html_exporter() -> Any:
    """An in-process nbconvert HTML exporter: no code, no prompts, sanitised outputs."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    exporter.register_preprocessor(
        _sanitizer_class()(
            tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRIBUTES, styles=_ALLOWED_CSS, enabled=True
        ),
        enabled=True,
    )
    return exporter


def render_index(
    month: str, notebooks: Sequence[NotebookStatus], *, has_previous: bool = False
) -> str:
    """The ``index.html`` of a month: notebooks with their status and the headline KPIs.

    Parameters
    ----------
    month : str
        The report month.
    notebooks : sequence of NotebookStatus
        The run's notebooks, in order.
    has_previous : bool, default False
        Link to ``../<previous month>/index.html``.

    Returns
    -------
    str
        A self-contained HTML page (inline CSS, no external resources). Every string is
        escaped by jinja2's autoescaping.
    """
    groups = [{"status": s, "rows": [_display_row(r) for r in s.metrics]} for s in notebooks]
    label = dt.date(int(month[:4]), int(month[5:]), 1).strftime("%B %Y")
    return (
        _environment()
        .from_string(_INDEX_TEMPLATE)
        .render(
            month=month,
            label=label,
            previous=previous_month(month),
            has_previous=has_previous,
            groups=groups,
            failed=[s for s in notebooks if not s.ok],
            generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            small_n=_stats.SMALL_DENOMINATOR,
            css=_CSS,
        )
    )


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 62rem; padding: 0 1rem; color: #1f2328; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } .muted { color: #656d76; font-size: 0.9rem; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { padding: 0.35rem 0.6rem; border-bottom: 1px solid #d0d7de; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f6f8fa; }
tbody.group th { text-align: left; background: #fbfbfc; font-weight: 600; }
.status { font-weight: 600; } .status.ok { color: #1a7f37; }
.status.failed { color: #fff; background: #cf222e; padding: 0.05rem 0.4rem; border-radius: 3px; }
li.failed { border-left: 4px solid #cf222e; padding-left: 0.5rem; }
.error { white-space: pre-wrap; color: #cf222e; font-family: monospace; font-size: 0.85rem; }
.banner { border: 1px solid #cf222e; background: #ffebe9; padding: 0.6rem 1rem; border-radius: 6px; }
.better { color: #1a7f37; font-weight: 600; } .worse { color: #cf222e; font-weight: 600; }
.small-n { color: #9a6700; font-size: 0.8rem; } small { color: #656d76; }
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
<h1>KPI report — {{ label }}</h1>
<p class="muted">Month {{ month }}, compared with {{ previous }}{% if has_previous %}
(<a href="../{{ previous }}/index.html">{{ previous }} report</a>){% endif %}. Generated {{ generated }}.</p>
{% if failed %}
<p class="banner"><strong>{{ failed | length }} of {{ groups | length }} notebook(s) failed</strong>:
{% for s in failed %}{{ s.title }}{% if not loop.last %}, {% endif %}{% endfor %}. Their pages show the error.</p>
{% endif %}
<h2>Notebooks</h2>
<ul class="notebooks">
{% for g in groups %}
{% set s = g.status %}
<li class="{{ s.status }}"><a href="{{ s.notebook }}.html">{{ s.title }}</a>
<span class="status {{ s.status }}">{{ "FAILED" if s.status == "failed" else "ok" }}</span>
<small>(<a href="{{ s.notebook }}.ipynb">notebook</a>, <a href="{{ s.notebook }}.json">metrics</a>, {{ "%.1f" | format(s.seconds) }} s)</small>
{% if s.error %}<div class="error">{{ s.error }}</div>{% endif %}
</li>
{% endfor %}
</ul>
<h2>Headline KPIs</h2>
<table>
<thead><tr><th>Metric</th><th>{{ month }}</th><th>{{ previous }}</th><th>Change</th>
<th>95% CI of change</th><th>Significant</th></tr></thead>
{% for g in groups if g.rows or g.status.status == "failed" %}
<tbody class="group"><tr><th colspan="6"><a href="{{ g.status.notebook }}.html">{{ g.status.title }}</a>
{% if g.status.status == "failed" %} <span class="status failed">FAILED</span>{% endif %}</th></tr></tbody>
<tbody>
{% for r in g.rows %}
<tr>
<td>{{ r.title }}{% if r.small_sample %} <span class="small-n" title="denominator under {{ small_n }}">small n</span>{% endif %}</td>
<td>{{ r.value }}{% if r.interval != "—" %}<br><small>{{ r.interval }}</small>{% endif %}</td>
<td>{{ r.previous_value }}</td>
<td{% if r.direction %} class="{{ r.direction }}"{% endif %}>{{ r.change }}</td>
<td>{{ r.change_interval }}</td>
<td{% if not r.tested %} title="not tested: no numerator and denominator"{% endif %}>{{ r.significant }}</td>
</tr>
{% else %}
<tr><td colspan="6" class="muted">No headline metrics recorded.</td></tr>
{% endfor %}
</tbody>
{% endfor %}
</table>
<p class="muted">Rates show their 95% Wilson interval under the value. Changes in rates are in
percentage points, with Newcombe's interval and a two-proportion z-test; "yes" means
significant at the 5% level, "no" not significant, "—" not tested (not a rate).
"small n" marks a denominator under {{ small_n }}.</p>
</body>
</html>
"""

_ERROR_PAGE_TEMPLATE = """\
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ title }} — failed</title><style>{{ css | safe }}</style></head>
<body>
<h1>{{ title }}</h1>
<p class="banner"><strong>This notebook failed before it could be rendered.</strong></p>
<div class="error">{{ error }}</div>
</body>
</html>
"""
