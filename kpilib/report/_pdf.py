"""A month's report as one PDF, printed by headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from kpilib.report._folders import _temp_prefix
from kpilib.report._results import PDF_NAME, load_report

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

