"""What a report run leaves: each notebook's status, the month's summary, and reading them back.

A month folder holds ``<notebook>.json`` per notebook (:class:`NotebookStatus`) and
``index.json`` (:class:`ReportResult`); :func:`load_report` reads a month back from them.
The headline metrics and skipped sections of an executed notebook are read from its
outputs (:data:`~kpilib.report.HEADLINE_MIMETYPE`, :data:`kpilib.sections.SECTION_MIMETYPE`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpilib.periods import MONTH_PATTERN, validate_month
from kpilib.report._headline import HEADLINE_MIMETYPE
from kpilib.sections import SECTION_MIMETYPE

#: The month folder's summary of a run (beside ``index.html``).
MANIFEST_NAME = "index.json"
#: The month's printed report.
PDF_NAME = "report.pdf"

#: Notebook statuses of a month that needs no rebuild (a skipped notebook is done too).
_DONE = ("ok", "partial", "skipped")


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
    reused : bool
        The notebook does not read the data and its earlier run was reused (nothing ran).
    """

    notebook: str
    title: str
    status: str
    error: str | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    reason: str | None = None
    skipped_sections: list[dict[str, Any]] = field(default_factory=list)
    reused: bool = False

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
            "reused": self.reused,
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
            reused=bool(data.get("reused", False)),
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


def _is_up_to_date(folder: Path, stems: Sequence[str]) -> bool:
    """Whether ``folder`` holds a complete report in which no notebook of ``stems`` failed."""
    if not (folder / MANIFEST_NAME).is_file() or not (folder / "index.html").is_file():
        return False
    for stem in stems:
        path = folder / f"{stem}.json"
        if not path.is_file() or json.loads(path.read_text("utf-8")).get("status") not in _DONE:
            return False
    return True


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


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
