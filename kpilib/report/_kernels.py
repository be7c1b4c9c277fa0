"""The report's kernels: ipykernel with this process's interpreter, one per notebook.

Each worker of a run (:func:`kpilib.report._run._in_order`) takes the notebook it runs
next when its current notebook is half way through its cells, and starts that notebook's
kernel (:func:`start_ahead`), which then boots — the interpreter, kpilib, pandas, the
engine, matplotlib — while the current notebook runs. When the next notebook starts,
papermill's client is handed that kernel (:func:`kernel_manager_class`) instead of
starting one and waiting for it. A notebook still gets a kernel of its own, started for
it, with its own environment: nothing of one notebook reaches another. A kernel started
ahead that is not used (the notebook was skipped, reused or the run stopped) is shut down.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: The kernel every notebook runs in (started with the caller's interpreter).
KERNEL_NAME = "python3"

#: Set in each kernel's environment to the stem of the notebook it runs (for monitoring).
NOTEBOOK_VARIABLE = "KPILIB_REPORT_NOTEBOOK"

#: Environment added to every kernel started by this process (the run's validations,
#: engine memory, the source's secret; see kpilib.report._run).
KERNEL_ENV: dict[str, str] = {}

#: Run in every report kernel before the notebook: DataFrames display as
#: :func:`format_table` formats them; matplotlib's pyplot is imported with the inline
#: backend the notebooks draw with (the slowest import of their first cell), so that a
#: kernel started ahead has it ready.
KERNEL_SETUP = "__import__('kpilib.report').report.use_report_tables(); __import__('matplotlib.pyplot')"

#: As nbclient starts its kernels: no history file written by a report's kernels.
_HISTORY = "--HistoryManager.hist_file=:memory:"

#: The notebook each worker thread is running (its kernel is told, see NOTEBOOK_VARIABLE).
RUNNING = threading.local()

#: Per worker thread: ``kernel``, the (notebook stem, kernel manager) started ahead.
_AHEAD = threading.local()

#: The kernel processes started by this process: pid -> the worker thread's id.
_PIDS: dict[int, int] = {}


def kill_kernels() -> None:
    """Kill every kernel still running (an interrupted run)."""
    for pid in list(_PIDS):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def forget_thread() -> None:
    """The calling worker is done: its kernel started ahead is shut down and its kernels
    are no longer tracked."""
    discard_ahead()
    me = threading.get_ident()
    for pid, thread in list(_PIDS.items()):
        if thread == me:
            _PIDS.pop(pid, None)


async def start_ahead(stem: str, cwd: Path) -> None:
    """Start the kernel of notebook ``stem``, this worker's next, in the folder ``cwd``
    (called in the worker's event loop while its current notebook runs). It
    does not wait for the kernel to be ready; a kernel that fails to start is left to the
    notebook, which then starts its own."""
    await _shut_down(_pop_ahead())
    manager = _caller_kernel_manager()(kernel_name=KERNEL_NAME)
    try:
        await manager.start_kernel(extra_arguments=[_HISTORY], cwd=str(cwd), notebook=stem)
    except Exception:  # the notebook starts its own kernel (and reports what fails)
        logger.debug("the kernel of %s could not be started ahead", stem, exc_info=True)
        return
    _AHEAD.kernel = (stem, manager)


def discard_ahead(stem: str | None = None) -> None:
    """Shut down the kernel this worker started ahead (only if it is for notebook
    ``stem``, when given: a notebook that ended without using it)."""
    manager = _pop_ahead(stem)
    if manager is not None:
        from jupyter_core.utils import run_sync

        run_sync(_shut_down)(manager)


def _pop_ahead(stem: str | None = None) -> Any:
    """The manager of the kernel started ahead (for ``stem``, when given), no longer this
    worker's; or None."""
    ahead = getattr(_AHEAD, "kernel", None)
    if ahead is None or (stem is not None and ahead[0] != stem):
        return None
    _AHEAD.kernel = None
    return ahead[1]


async def _shut_down(manager: Any) -> None:
    if manager is not None:
        with contextlib.suppress(Exception):  # the run goes on whatever became of it
            await manager.shutdown_kernel(now=True)


@functools.cache
def kernel_manager_class() -> type:
    """The kernel manager class handed to papermill: constructing it gives the kernel
    started ahead for the worker's current notebook (:data:`RUNNING`) when there is one,
    else a new :func:`_caller_kernel_manager` whose kernel papermill starts."""
    base = _caller_kernel_manager()

    class AheadOrNewKernelManager(base):
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            ahead = getattr(_AHEAD, "kernel", None)
            if ahead is not None and ahead[0] == getattr(RUNNING, "stem", None):
                _AHEAD.kernel = None
                return ahead[1]  # a started manager: not an instance of cls, so not initialised again
            return super().__new__(cls, *args, **kwargs)

    return AheadOrNewKernelManager


@functools.cache
def _caller_kernel_manager() -> type:
    """A kernel manager that starts ipykernel with ``sys.executable``.

    The ``python3`` kernel spec that jupyter_client finds first may belong to another
    interpreter (a user-level spec, ``JUPYTER_PATH``), and ``python`` on ``PATH`` may not
    be this one when the venv is not activated. This manager ignores installed specs for
    ``python3``, launches ``sys.executable -m ipykernel_launcher``, and puts the
    interpreter's folder first on the kernel's ``PATH`` (for ``!pip`` or subprocesses).
    It also drops an inherited ``MPLBACKEND`` so that figures are shown inline, and runs
    :data:`KERNEL_SETUP` at start-up (nothing is added to the notebook). ``start_kernel``
    takes ``notebook``, the stem its kernel is for (default: the worker's current one).
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
                    f"--IPKernelApp.exec_lines={[KERNEL_SETUP]!r}",
                ]
                return self.kernel_spec_class(resource_dir=RESOURCES, **spec)
            return super().get_kernel_spec(kernel_name)

    class CallerKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _default_kernel_spec_manager(self):
            return CallerKernelSpecManager(data_dir=self.data_dir)

        async def start_kernel(self, **kw: Any) -> None:
            stem = kw.pop("notebook", None) or getattr(RUNNING, "stem", None)
            env = dict(kw.pop("env", None) or os.environ)
            bindir = os.path.dirname(sys.executable)
            parts = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != bindir]
            env["PATH"] = os.pathsep.join([bindir, *parts])
            # ipykernel picks the inline backend only when MPLBACKEND is unset; an
            # inherited "Agg" (headless servers, test runs) would drop every figure.
            env.pop("MPLBACKEND", None)
            env.update(KERNEL_ENV)
            if stem is not None:
                env[NOTEBOOK_VARIABLE] = stem
            await super().start_kernel(env=env, **kw)
            pid = getattr(self.provisioner, "pid", None)
            if pid is not None:
                _PIDS[pid] = threading.get_ident()

    return CallerKernelManager
