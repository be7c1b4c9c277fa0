"""Where the bundled notebooks and sample data live, in a checkout and in an installed wheel.

In a source checkout (and an editable install) they are the repository's ``notebooks/``
and ``data/sample/`` folders, next to the ``kpilib`` package. A wheel cannot reach outside
its package, so building one copies both into ``kpilib/_bundle/`` (``setup.py``'s
``build_py``); an installed kpilib reads them from there. The checkout's folders win when
both exist, so an edit to a notebook is what runs.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BUNDLE_DIR", "notebooks_dir", "sample_dir"]

_PACKAGE = Path(__file__).resolve().parent
#: The copies a built wheel carries (absent in a checkout).
BUNDLE_DIR = _PACKAGE / "_bundle"


def _first(*candidates: Path) -> Path:
    for path in candidates:
        if path.is_dir():
            return path
    return candidates[0]


def notebooks_dir() -> Path:
    """The report's notebooks: the checkout's ``notebooks/``, else the installed copy."""
    return _first(_PACKAGE.parent / "notebooks", BUNDLE_DIR / "notebooks")


def sample_dir() -> Path:
    """The committed sample data: the checkout's ``data/sample/``, else the installed copy."""
    return _first(_PACKAGE.parent / "data" / "sample", BUNDLE_DIR / "sample")
