"""Regenerate the README screenshots: build a report, photograph two pages.

Usage (from the project root; needs Debian's ``chromium``)::

    python docs/screenshots.py [--month 2026-10]

Writes ``docs/report-index.png`` and ``docs/report-funnel.png``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from kpilib.report import run_report

ROOT = Path(__file__).resolve().parents[1]
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]


def screenshot(page: Path, png: Path, size: str) -> None:
    """Photograph ``page`` into ``png`` with headless Chromium at ``size`` (W,H)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
             f"--screenshot={png}", page.resolve().as_uri()],
            check=True, capture_output=True, timeout=120,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", default="2026-10")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        result = run_report(args.month, out=out, progress=False)
        folder = Path(result.path)
        screenshot(folder / "index.html", ROOT / "docs" / "report-index.png", "1280,1000")
        screenshot(folder / "01_funnel.html", ROOT / "docs" / "report-funnel.png", "1280,2400")


if __name__ == "__main__":
    main()
