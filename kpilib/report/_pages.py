"""The pages of a report: each notebook's page, the month's index and the index of all months.

A notebook page is nbconvert's HTML (:mod:`kpilib.report._html`) with kpilib's header and
footer (``templates/page_header.html.j2``, ``page_footer.html.j2``). The month's
``index.html`` (:func:`render_index`, ``month_index.html.j2``) shows the headline KPIs as
cards against the month before; ``<out>/index.html`` (:func:`render_history_index`,
``history_index.html.j2``) lists every month built with a trend line per headline KPI.
All are jinja2 templates with autoescaping: nothing data-derived reaches a page unescaped.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kpilib import stats as _stats
from kpilib.periods import previous_month
from kpilib.report import _templates
from kpilib.report._folders import _write_atomically
from kpilib.report._format import _MISSING, _finite_or_none, format_value
from kpilib.report._headline import _display_row
from kpilib.report._html import (
    _html_exporter,
    _introduction,
    _mathjax_head,
    _mathjax_source,
    _needs_math,
    _reader_outputs,
    _without_orphan_prose,
)
from kpilib.report._months import _month_number, _month_title
from kpilib.report._results import (
    ReportResult,
    _built_months,
    _now,
    _read_skipped_sections,
    load_report,
)


def _report_css() -> str:
    """The CSS of the index pages and of a page that failed to render (``report.css``)."""
    return _templates.text("report.css")


def _page_css() -> str:
    """Extra CSS of the notebook pages (``notebook_page.css``; nbconvert styles the rest)."""
    return _templates.text("notebook_page.css")


#: Where a reused notebook's kept page takes this month's header and footer. Comments:
#: none survives in a cell (:func:`~kpilib.report._html._sanitise_cell` drops them).
_HEADER_MARK = "<!-- kpilib: page header -->"
_FOOTER_MARK = "<!-- kpilib: page footer -->"


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
        self._lock = threading.Lock()  # notebooks of a run may end at once (--jobs)
        self._mathjax = _mathjax_source() is not None

    def _header(self, stem: str, *, error: str | None, run_at: str, footer: bool,
                skipped: str | None = None, skipped_sections: Sequence[Mapping[str, Any]] = ()) -> str:
        stems = list(self.titles)
        at = stems.index(stem)

        def link(i: int) -> dict[str, str] | None:
            return (
                {"stem": stems[i], "title": self.titles[stems[i]]} if 0 <= i < len(stems) else None
            )

        return _templates.render(
            "page_footer.html.j2" if footer else "page_header.html.j2",
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

    def render(
        self, stem: str, nb: Any | None, *, error: str | None, run_at: str, skipped: str | None = None
    ) -> str:
        """The page of notebook ``stem``: executed ``nb`` (None if it never ran) and its error.

        A notebook ``skipped`` (the reason) shows its introduction (the Markdown before its
        first code cell) under a note saying why it did not run; a notebook that skipped
        sections lists them in its header. Safe to call from several threads at once.
        """
        with self._lock:
            return self._render(stem, nb, error=error, run_at=run_at, skipped=skipped)

    def render_reused(self, stem: str, nb: Any, *, run_at: str, body: Path) -> str:
        """The page of notebook ``stem`` reused from an earlier run (``nb``, executed and
        ok), from ``body``: its page as :meth:`_body` renders it, with :data:`_HEADER_MARK`
        and :data:`_FOOTER_MARK` where this month's header and footer go — all that
        changes month to month (nbconvert's export of a long notebook costs a second each
        run). ``body`` is written the first time. Safe to call from several threads at once."""
        with self._lock:
            nb = _without_orphan_prose(nb)
            if body.is_file():
                page = body.read_text(encoding="utf-8")
                self.needs_math |= self._mathjax and _needs_math(nb)
            else:
                page = self._body(stem, nb)
                _write_atomically(body, page)
            return _framed(page, *self._frame(stem, nb, error=None, run_at=run_at, skipped=None))

    def _render(self, stem: str, nb: Any | None, *, error: str | None, run_at: str, skipped: str | None) -> str:
        if skipped is not None and nb is not None:
            nb = _introduction(nb)
        elif error is None and nb is not None:
            nb = _without_orphan_prose(nb)
        header, footer = self._frame(stem, nb, error=error, run_at=run_at, skipped=skipped)
        if nb is None:
            return _templates.render(
                "error_page.html.j2", title=self.titles[stem], header=header, footer=footer,
                error=error, css=_report_css() + _page_css(),
            )  # fmt: skip
        return _framed(self._body(stem, nb), header, footer)

    def _frame(self, stem: str, nb: Any | None, *, error: str | None, run_at: str,
               skipped: str | None) -> tuple[str, str]:
        """The header (with the sections ``nb`` skipped) and the footer of a page."""
        sections_skipped = _read_skipped_sections(nb) if nb is not None and skipped is None else []
        header = self._header(stem, error=error, run_at=run_at, footer=False, skipped=skipped,
                              skipped_sections=sections_skipped)
        return header, self._header(stem, error=None, run_at=run_at, footer=True)

    def _body(self, stem: str, nb: Any) -> str:
        """nbconvert's page of ``nb`` with the header and footer marks (see :func:`_framed`)."""
        math = self._mathjax and _needs_math(nb)
        self.needs_math |= math
        resources = {
            "metadata": {"name": self.titles[stem]},
            "kpilib": {
                "header": _HEADER_MARK,
                "footer": _FOOTER_MARK,
                "css": _page_css(),
                "mathjax": _mathjax_head() if math else "",
            },
        }
        html, _ = self._exporter.from_notebook_node(_reader_outputs(nb), resources=resources)
        return html


def _framed(page: str, header: str, footer: str) -> str:
    """``page`` with ``header`` and ``footer`` in place of their marks."""
    before, _, after = page.rpartition(_FOOTER_MARK)
    return (before + footer + after).replace(_HEADER_MARK, header, 1)


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
    notes = _shared_notes([r for g in groups for r in g["rows"]])
    return _templates.render(
        "month_index.html.j2",
        notes=notes,
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
        css=_report_css(),
    )


def _shared_notes(rows: list[dict[str, Any]]) -> list[str]:
    """The notes that several cells of the detail table carry (one failing fit marks every
    figure it made, in both months, and the CLV:CAC of the marketing page too), numbered
    across the table: each such row gets ``note_ref`` and ``previous_note_ref`` (1-based;
    None for a note shown in full), and the table lists each note once, at its end,
    instead of repeating a paragraph in every cell."""
    texts = [r[key] for r in rows for key in ("note", "previous_note") if r[key]]
    shared = [note for note in dict.fromkeys(texts) if texts.count(note) > 1]
    for r in rows:
        for key in ("note", "previous_note"):
            r[f"{key}_ref"] = shared.index(r[key]) + 1 if r[key] in shared else None
    return shared


def _render_month_index(report: ReportResult, months: Sequence[str]) -> str:
    """The month's index with links to its neighbours among ``months`` (those built)."""
    earlier = [m for m in months if m < report.month]
    later = [m for m in months if m > report.month]
    return render_index(
        report,
        previous_report=earlier[-1] if earlier else None,
        next_report=later[0] if later else None,
    )


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
    return _templates.render(
        "history_index.html.j2", months=months, groups=_trends(ordered), updated=_now(),
        css=_report_css(),
    )  # fmt: skip

