"""Regenerate the README screenshots: build a report, photograph two of its pages.

Usage (from the project root; needs Debian's ``chromium``, or ``$KPILIB_CHROMIUM``)::

    python docs/screenshots.py [--month 2026-10] [--notebook 01_funnel]

Builds the month from the bundled sample in a temporary folder (nothing is written to
``reports/``), then writes ``docs/report-index.png`` (the month's index, KPI cards first)
and ``docs/report-<name>.png`` (the top of one notebook page: header, text and first
figures), with the same headless Chromium that prints the PDFs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from kpilib.report import CHROMIUM_FLAGS, find_chromium, run_report

ROOT = Path(__file__).resolve().parents[1]


def screenshot(browser: str, page: Path, png: Path, size: str) -> None:
    """Photograph ``page`` into ``png`` with headless Chromium at ``size`` (``"W,H"``)."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
             "--virtual-time-budget=30000", f"--screenshot={png}", page.resolve().as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", default="2026-10", help="the report month (default 2026-10)")
    parser.add_argument("--notebook", default="01_funnel", help="the page to show (default 01_funnel)")
    args = parser.parse_args()
    browser = find_chromium()
    if browser is None:
        sys.exit("chromium is not installed (apt-get install chromium, or set KPILIB_CHROMIUM)")
    with tempfile.TemporaryDirectory() as out:
        result = run_report(args.month, out=out, progress=True)
        if not result.ok:
            sys.exit(f"the report has failed notebooks: {', '.join(result.failed)}")
        name = args.notebook.split("_", 1)[-1]
        targets = {
            result.index: (ROOT / "docs" / "report-index.png", "1280,1400"),
            result.path / f"{args.notebook}.html": (ROOT / "docs" / f"report-{name}.png", "1280,2000"),
        }
        for page, (png, size) in targets.items():
            screenshot(browser, page, png, size)
            print(f"wrote {png.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
