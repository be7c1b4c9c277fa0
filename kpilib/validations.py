"""Remembered validations: a table file checked once is not scanned again while unchanged.

Validating a table against the contract is one aggregate query over all of its rows: about
a second per 10⁷ events, and a report used to pay it once per notebook. A check that
passed is remembered under a key made of what decides its outcome — the file (resolved
path, size, modification time), the folder's mapping and contract options, and the
kpilib version — together with the notes it produced. :func:`kpilib.data.load_dataset`
consults the memory before it scans and adds to it after.

The memory lives in the process; :func:`export` writes it to a file and
:data:`ENVIRONMENT_VARIABLE` names such a file for child processes, which is how the
report's notebook kernels reuse the validation the runner did before starting them. A
table that failed is never remembered (it raises every time), nor is anything that is
not a file (DataFrames, database tables: their content has no cheap fingerprint).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

#: Names a JSON file of validations that child processes may reuse (see :func:`export`).
ENVIRONMENT_VARIABLE = "KPILIB_VALIDATED"

_lock = threading.Lock()
_passed: dict[str, list[str]] = {}
_imported: dict[str, dict[str, list[str]]] = {}


def file_key(path: Path, *context: object) -> str | None:
    """The key of a validation of the file at ``path`` under ``context`` (the mapping,
    the contract options, the kpilib version …: anything whose ``repr`` decides the
    outcome), or None when the file cannot be looked at.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "orders.csv").write_text("customer_id,ts,amount\\n")
    22
    >>> file_key(folder / "orders.csv", "v1") == file_key(folder / "orders.csv", "v1")
    True
    >>> file_key(folder / "orders.csv", "v1") == file_key(folder / "orders.csv", "v2")
    False
    """
    try:
        resolved = path.resolve()
        stat = resolved.stat()
    except OSError:
        return None
    text = repr((str(resolved), stat.st_size, stat.st_mtime_ns, *context))
    return hashlib.sha256(text.encode()).hexdigest()


def recall(key: str | None) -> list[str] | None:
    """The notes of a passed validation under ``key``, or None when none is remembered
    (in this process or in the file named by :data:`ENVIRONMENT_VARIABLE`)."""
    if key is None:
        return None
    with _lock:
        if key in _passed:
            return list(_passed[key])
        inherited = _inherited()
    notes = inherited.get(key)
    return list(notes) if notes is not None else None


def remember(key: str | None, notes: list[str]) -> None:
    """Remember that the validation under ``key`` passed with ``notes``."""
    if key is not None:
        with _lock:
            _passed[key] = list(notes)


def export(path: Path) -> Path:
    """Write what this process remembers to ``path`` (JSON) and return it; a process
    started with :data:`ENVIRONMENT_VARIABLE` set to it reuses those validations."""
    with _lock:
        payload = dict(_passed)
    path.write_text(json.dumps(payload, sort_keys=True), encoding="utf-8")
    return path


def forget() -> None:
    """Forget every remembered validation of this process."""
    with _lock:
        _passed.clear()
        _imported.clear()


def _inherited() -> dict[str, list[str]]:
    """The validations in the file named by the environment (read once per file)."""
    name = os.environ.get(ENVIRONMENT_VARIABLE)
    if not name:
        return {}
    if name not in _imported:
        try:
            payload = json.loads(Path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            payload = {}
        _imported[name] = {str(k): [str(n) for n in v] for k, v in payload.items()} if isinstance(payload, dict) else {}
    return _imported[name]
