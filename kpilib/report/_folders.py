"""Staging folders and atomic writes: a report is replaced whole or not at all.

A month is built in ``<out>/.<month>.tmp-<pid>-<host>-*`` and swapped in by two renames
(:func:`_swap_in`); a page or a PDF is written beside its target and renamed over it
(:func:`_write_atomically`). What a killed run leaves behind is removed by the next one
once its process is gone (:func:`_remove_leftovers`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import shutil
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from kpilib.report._results import _built_months

logger = logging.getLogger(__name__)

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


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(_temp_prefix(path.name) + uuid.uuid4().hex[:8])
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise

