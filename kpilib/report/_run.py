"""Running a report: papermill in a kernel per notebook, month by month.

:func:`run_report` builds one month, :func:`run_history` a range. Each month is built in a
staging folder and swapped in whole (:mod:`kpilib.report._folders`); SIGINT and SIGTERM
remove what was being built. The kernel is ipykernel started with this process's
interpreter, with :func:`~kpilib.report.use_report_tables` on. A progress bar shows the
notebooks as they run.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import kpilib
from kpilib import sections as _sections
from kpilib import sources, validations
from kpilib.data import ENGINE_MEMORY_VARIABLE, ENGINE_SPILL_VARIABLE
from kpilib.periods import month_range, validate_month
from kpilib.report._checks import (
    ReportArgumentError,
    _Plan,
    _plan,
    _summarise_source,
    notebook_title,
)
from kpilib.report._folders import _remove_leftovers, _remove_tree, _swap_in, _temp_prefix
from kpilib.report._html import MATHJAX_DIR, _copy_mathjax
from kpilib.report._pages import _NotebookPages, _render_month_index, write_history_index
from kpilib.report._pdf import print_pdf
from kpilib.report._results import (
    MANIFEST_NAME,
    NotebookStatus,
    ReportResult,
    _built_months,
    _is_up_to_date,
    _now,
    _read_headline,
    _read_skipped_sections,
    load_report,
)
from kpilib.sections import NotebookSkipped

logger = logging.getLogger(__name__)

#: Folder of ``out`` that keeps the executed notebooks reused across months.
CACHE_DIR = ".cache"

#: The kernel every notebook runs in (started with the caller's interpreter).
KERNEL_NAME = "python3"


class _Terminated(SystemExit):
    """SIGTERM during a report run, raised so that the run's cleanup runs (exit 143)."""


@contextlib.contextmanager
def _sigterm_as_exception() -> Iterator[None]:
    """While a run is in progress, SIGTERM raises :class:`_Terminated` (a ``SystemExit``
    with code 143) instead of killing the process, so the run removes its staging folder
    and shuts its kernel down, as it does for SIGINT.

    The first signal raises; later ones are ignored while the cleanup runs. The previous
    handler is restored afterwards. Nothing is installed outside the main thread, or when
    the program already handles or ignores SIGTERM itself (its handler stays in charge).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return
    raised = False

    def terminate(signum: int, frame: Any) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise _Terminated(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_report(
    month: str,
    *,
    source: str | Path | None = None,
    out: str | Path = "reports",
    only: Sequence[str] | None = None,
    parameters: Mapping[str, object] | None = None,
    notebooks_dir: str | Path | None = None,
    progress: bool = True,
    pdf: bool = False,
    check_data: bool = True,
    jobs: int = 1,
) -> ReportResult:
    """Run the month's report: execute every notebook and write ``<out>/<month>/``.

    Parameters
    ----------
    month : str
        The report month, ``"YYYY-MM"``; injected into each notebook as ``month``.
    source : str or Path, optional
        The data; injected as ``source`` (a folder as an absolute path; a database URL or
        Spark source, :mod:`kpilib.sources`, as is — pages show it without its password). When omitted, each notebook uses its own default (the bundled sample).
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
    pdf : bool, default False
        Also print the month to ``report.pdf`` (see :func:`print_pdf`); needs Chromium,
        checked before any notebook runs.
    check_data : bool, default True
        Before any notebook runs, load and validate the source once
        (:func:`kpilib.data.load_dataset`) and refuse a month that lies wholly outside
        its data (:meth:`kpilib.data.Dataset.time_span`); the row counts of the page
        headers come from that load.
        Turn off only for notebooks that do not read ``source``.
    jobs : int, default 1
        How many notebooks run at once, each in its own kernel. The notebooks do not
        depend on each other; every kernel holds its own engine and figures, so memory
        grows with ``jobs`` (see the README's Speed section for what a kernel takes); each
        kernel's engine is bounded to its share of 80 % of the memory (it spills past it)
        unless ``KPILIB_ENGINE_MEMORY`` is set.
        The pages, the progress bar and a failing notebook's isolation are the same.

    Returns
    -------
    ReportResult
        ``failed`` lists the notebooks that raised; the command line exits 1 on those. A
        notebook skipped for want of its tables, or partial (some sections skipped), is
        not a failure.

    Raises
    ------
    ReportArgumentError
        Before anything runs or is written: a malformed month, an unknown notebook, a
        bad parameter, a source that is not a folder, an ``out`` that is (or is below) a
        file, or a month with no data in the source.
    kpilib.DataError
        Before anything runs or is written, when the source breaks the data contract.
    RuntimeError
        When ``pdf`` is asked for and no Chromium is found, or printing fails (the HTML
        report is in place by then).

    Notes
    -----
    For each notebook the month folder gets ``<stem>.ipynb`` (executed), ``<stem>.html``
    (no code, prompts hidden, every cell sanitised after rendering, a header naming the
    month, the data source and its row counts, the kpilib version and the run date) and
    ``<stem>.json`` (status, error and the headline metrics recorded with
    :func:`record_headline`), plus ``index.json`` (the run's summary), ``index.html``
    (KPI cards and the notebooks) and, when a page has formulas, ``_static/mathjax/`` (so
    the pages need no network). Displayed DataFrames are formatted by
    :func:`format_table`. A failing notebook is still rendered, with its traceback, and
    the others still run.

    The folder is built as ``<out>/.<month>.tmp-<pid>-<host>-*`` and swapped in only when
    complete (the old folder is renamed aside, the new renamed in, the old deleted), so a
    crash leaves the previous report intact and a rerun replaces it. An interrupted or
    terminated run (SIGINT; SIGTERM, which raises ``SystemExit(143)`` during the run)
    removes its staging folder; what a killed run (SIGKILL, a power cut) leaves behind is
    removed by the next run once its process is gone (see :func:`_remove_leftovers`).
    Then :func:`write_history_index` refreshes ``<out>/index.html`` and the previous/next
    links of every month.

    The kernel is ipykernel started with this process's interpreter (``sys.executable``)
    whatever ``python3`` kernel spec is installed, with its folder first on ``PATH`` and
    without an inherited ``MPLBACKEND`` (so figures render inline into the pages).
    """
    with _sigterm_as_exception():
        try:
            month = validate_month(month)
        except ValueError as exc:
            raise ReportArgumentError(str(exc)) from None
        plan = _plan(
            [month], source=source, out=out, only=only, parameters=parameters,
            notebooks_dir=notebooks_dir, pdf=pdf, check_data=check_data, jobs=jobs,
        )  # fmt: skip
        return _build_month(month, plan, progress=progress)


def _build_month(month: str, plan: _Plan, *, progress: bool) -> ReportResult:
    """Run the notebooks of ``plan`` for ``month`` and swap the month folder in."""
    out_dir = plan.out_dir
    _remove_leftovers(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {**plan.params, "month": month}
    final = out_dir / month
    staging = None
    try:
        staging = Path(tempfile.mkdtemp(prefix=_temp_prefix(month), dir=out_dir))
        staging.chmod(0o755)  # mkdtemp makes it private; a report is meant to be read
        import nbformat
        from tqdm.auto import tqdm

        notes: list[str] = []
        if plan.summary is not None:
            label, row_counts, source_error = plan.summary.label, plan.summary.row_counts, None
            notes = plan.summary.notes(month)
        else:
            label, row_counts, source_error = _summarise_source(params.get("source"))  # type: ignore[arg-type]
        report = ReportResult(
            month=month, path=final, notebooks=[], failed=[], source=label,
            row_counts=row_counts, kpilib_version=kpilib.__version__, run_at=_now(),
            data_notes=notes,
        )  # fmt: skip
        pages = _NotebookPages(
            report,
            titles={p.stem: notebook_title(nbformat.read(p, as_version=4), p.stem) for p in plan.notebooks},
            source_error=source_error,
        )
        bar = tqdm(
            total=len(plan.notebooks), desc=f"report {month}", unit="notebook", disable=not progress,
            file=sys.stderr,
        )  # fmt: skip
        running: list[str] = []

        def task(path: Path) -> Callable[[], NotebookStatus]:
            def run() -> NotebookStatus:
                running.append(path.stem)
                bar.set_postfix_str(", ".join(running))
                try:
                    return _notebook_status(path, staging, params, plan, pages)
                finally:
                    running.remove(path.stem)

            return run

        with (_validations_for_kernels(staging), _engine_memory_shared(plan.jobs), _engine_spill_inside(staging),
              _source_secret_for_kernels(params.get("source"))):
            report.notebooks.extend(_in_order([task(p) for p in plan.notebooks], jobs=plan.jobs, done=bar.update,
                                              start_with=_longest_first(plan.notebooks, out_dir)
                                              if plan.jobs > 1 else None))
        bar.close()
        report.failed = [s.notebook for s in report.notebooks if not s.ok]
        if pages.needs_math:
            _copy_mathjax(staging / MATHJAX_DIR)
        (staging / MANIFEST_NAME).write_text(
            json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8"
        )
        neighbours = sorted(set(_built_months(out_dir)) | {month})
        (staging / "index.html").write_text(
            _render_month_index(report, neighbours), encoding="utf-8"
        )
        _swap_in(staging, final)
    except BaseException:
        if staging is not None:
            _remove_tree(staging)
        raise
    try:
        if plan.chromium is not None:
            print_pdf(final, chromium=plan.chromium)
    finally:
        write_history_index(out_dir)
    return report


def run_history(
    start_month: str,
    end_month: str,
    *,
    force: bool = False,
    pdf: bool = False,
    source: str | Path | None = None,
    out: str | Path = "reports",
    only: Sequence[str] | None = None,
    parameters: Mapping[str, object] | None = None,
    notebooks_dir: str | Path | None = None,
    progress: bool = True,
    check_data: bool = True,
    jobs: int = 1,
) -> list[ReportResult]:
    """Build the report of every month from ``start_month`` to ``end_month``.

    A month already built is skipped unless ``force``: one is built when its folder has
    an ``index.json`` and every notebook to run has a ``<notebook>.json`` with status
    ``ok``, ``partial`` or ``skipped``, so a month with a failed or a missing notebook is
    built again. Each build
    (see :func:`run_report`) refreshes ``<out>/index.html``, the overview of every month
    with a trend line per headline KPI.

    Parameters
    ----------
    start_month, end_month : str
        The first and the last month, ``"YYYY-MM"``, both included.
    force : bool, default False
        Rebuild months that are up to date.
    pdf : bool, default False
        Make sure every month in the range has ``report.pdf`` (printing only, for a
        skipped month that has none).
    source, out, only, parameters, notebooks_dir, progress, jobs
        As for :func:`run_report`.
    check_data : bool, default True
        As for :func:`run_report`: the source is loaded and validated once for the whole
        range, and the range is refused when any of its months lies wholly outside the
        data (the message names those months).

    Returns
    -------
    list of ReportResult
        One per month, oldest first; ``skipped`` marks the months not rebuilt.

    Raises
    ------
    ReportArgumentError
        Before anything runs: a malformed month, ``end_month`` before ``start_month``,
        months with no data, or any other bad argument of :func:`run_report`.
    kpilib.DataError
        Before anything runs, when the source breaks the data contract.
    RuntimeError
        When ``pdf`` is asked for and no Chromium is found (before anything runs).
    """
    with _sigterm_as_exception():
        try:
            months = month_range(start_month, end_month)
        except ValueError as exc:
            raise ReportArgumentError(str(exc)) from None
        plan = _plan(
            months, source=source, out=out, only=only, parameters=parameters,
            notebooks_dir=notebooks_dir, pdf=pdf, check_data=check_data, jobs=jobs,
        )  # fmt: skip
        _remove_leftovers(plan.out_dir)
        stems = [p.stem for p in plan.notebooks]
        results: list[ReportResult] = []
        for month in months:
            existing = plan.out_dir / month
            if not force and _is_up_to_date(existing, stems):
                logger.info("report %s is up to date; skipped (force to rebuild)", month)
                report = load_report(existing)
                report.skipped = True
                if plan.chromium is not None and report.pdf is None:
                    print_pdf(existing, chromium=plan.chromium)
                    write_history_index(plan.out_dir)
                results.append(report)
                continue
            results.append(_build_month(month, plan, progress=progress))
        return results


def _notebook_status(path: Path, staging: Path, params: Mapping[str, object], plan: _Plan,
                     pages: _NotebookPages) -> NotebookStatus:
    """Run (or skip, or reuse) one notebook into ``staging``; its status, also written
    as ``<stem>.json``."""
    _RUNNING.stem = path.stem
    dataset = plan.summary.dataset if plan.summary is not None else None
    reason = _skip_before_running(path, params, dataset)
    declared = _sections.notebook_parameters(path)
    own = {name: value for name, value in params.items() if name in declared}
    if reason is not None:  # the notebook would skip itself: no kernel for it
        status = _skip_notebook(path, staging, reason, pages)
    elif "source" in declared:
        status = _run_notebook(path, staging, own, plan.notebooks_dir, pages)
    else:
        status = _reusable_run(path, staging, own, plan, pages)
    (staging / f"{path.stem}.json").write_text(
        json.dumps(status.to_json(str(params["month"])), indent=2, allow_nan=False) + "\n",
        encoding="utf-8",
    )
    return status


def _reusable_run(path: Path, staging: Path, params: Mapping[str, object], plan: _Plan,
                  pages: _NotebookPages) -> NotebookStatus:
    """A notebook that does not read the data (no ``source`` parameter, e.g. the glossary):
    its executed copy is kept in ``<out>/.cache/`` and reused while the notebook, its
    parameters and kpilib are unchanged (:func:`_reuse_key`), so it costs a run once."""
    cached = plan.out_dir / CACHE_DIR / f"{path.stem}-{_reuse_key(path, params)}.ipynb"
    if cached.is_file():
        import nbformat

        start = time.perf_counter()
        shutil.copyfile(cached, staging / f"{path.stem}.ipynb")
        nb = nbformat.read(cached, as_version=4)
        html = pages.render_reused(path.stem, nb, run_at=_now(), body=cached.with_suffix(".html"))
        (staging / f"{path.stem}.html").write_text(html, encoding="utf-8")
        logger.info("notebook %s reused from %s", path.name, cached)
        return NotebookStatus(notebook=path.stem, title=pages.titles[path.stem], status="ok",
                              seconds=time.perf_counter() - start, reused=True)
    status = _run_notebook(path, staging, params, plan.notebooks_dir, pages)
    executed = staging / f"{path.stem}.ipynb"
    if status.status == "ok" and executed.is_file():
        cached.parent.mkdir(exist_ok=True)
        for old in (*cached.parent.glob(f"{path.stem}-*.ipynb"), *cached.parent.glob(f"{path.stem}-*.html")):
            old.unlink(missing_ok=True)
        partial = cached.with_name(f".{cached.name}.{os.getpid()}")
        shutil.copyfile(executed, partial)
        partial.replace(cached)
    return status


def _reuse_key(path: Path, params: Mapping[str, object]) -> str:
    """What a reused notebook's result depends on: the notebook, its parameters, kpilib's
    code (every file of the package) and the versions of the libraries that draw it."""
    from importlib import metadata

    digest = hashlib.sha256(path.read_bytes())
    digest.update(repr(sorted((k, repr(v)) for k, v in params.items())).encode())
    package = Path(kpilib.__file__).parent
    for file in sorted(package.rglob("*")):
        if file.is_file() and file.suffix in {".py", ".j2", ".css", ".toml", ".json"}:
            digest.update(str(file.relative_to(package)).encode())
            digest.update(file.read_bytes())
    for name in _REUSE_LIBRARIES:
        try:
            digest.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=none".encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


#: Libraries whose version changes what a reused notebook shows.
_REUSE_LIBRARIES = ("numpy", "pandas", "scipy", "matplotlib", "seaborn", "ibis-framework", "duckdb",
                    "lifetimes", "lifelines", "ipykernel", "nbformat", "papermill",
                    # and its kept page (_NotebookPages.render_reused)
                    "nbconvert", "bleach", "mistune", "jupyter-server-mathjax")


def _longest_first(notebooks: Sequence[Path], out_dir: Path) -> list[int]:
    """The order to start ``notebooks`` in: the longest first, by how long each took in
    the latest month built in ``out_dir`` (those it does not hold keep their place,
    first). With several jobs the run then ends sooner: a long notebook started last
    would run alone at the end."""
    months = _built_months(out_dir)
    seconds: dict[str, float] = {}
    if months:
        for path in notebooks:
            with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                seconds[path.stem] = float(json.loads(
                    (out_dir / months[-1] / f"{path.stem}.json").read_text(encoding="utf-8"))["seconds"])
    return sorted(range(len(notebooks)), key=lambda i: -seconds.get(notebooks[i].stem, float("inf")))


def _in_order(tasks: Sequence[Callable[[], NotebookStatus]], *, jobs: int,
              done: Callable[[], object], start_with: Sequence[int] | None = None) -> list[NotebookStatus]:
    """Run ``tasks`` on ``jobs`` worker threads (each drives its own kernel) and return
    their results in the tasks' order; ``done`` is called in this thread as each ends.
    ``start_with`` is the order in which they are handed out (default: theirs).

    The calling thread only waits, so Ctrl-C and SIGTERM reach it at once: it then stops
    handing out tasks, kills the kernels still running (their notebooks end with a dead
    kernel within about a second), waits for the workers and raises. An unexpected error
    in a task (not a notebook's own failure, which is a status) does the same and is
    raised here.
    """
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in (range(len(tasks)) if start_with is None else start_with):
        pending.put(i)
    finished: queue.SimpleQueue[tuple[int, NotebookStatus | None, BaseException | None]] = queue.SimpleQueue()
    stop = threading.Event()
    results: list[NotebookStatus | None] = [None] * len(tasks)

    def work() -> None:
        while not stop.is_set():
            try:
                i = pending.get_nowait()
            except queue.Empty:
                return
            try:
                finished.put((i, tasks[i](), None))
            except BaseException as exc:  # handed to the calling thread; no new task starts
                stop.set()
                finished.put((i, None, exc))
            finally:
                _KERNELS.pop(threading.get_ident(), None)

    workers = [threading.Thread(target=work, name=f"kpilib-report-{k}", daemon=True)
               for k in range(max(1, min(jobs, len(tasks))))]
    for worker in workers:
        worker.start()
    try:
        for _ in range(len(tasks)):
            while True:
                try:
                    i, status, error = finished.get(timeout=0.2)
                    break
                except queue.Empty:
                    continue
            if error is not None:
                raise error
            results[i] = status
            done()
    except BaseException:
        stop.set()
        _kill_kernels()
        for worker in workers:
            worker.join(timeout=_STOP_SECONDS)
        raise
    return [r for r in results if r is not None]


#: The notebook each worker thread is running (its kernel is told, see NOTEBOOK_VARIABLE).
_RUNNING = threading.local()

#: The threads of OpenBLAS (numpy's and scipy's BLAS) in a report kernel: 1 unless set.
BLAS_THREADS_VARIABLE = "OPENBLAS_NUM_THREADS"

#: Set in each kernel's environment to the stem of the notebook it runs (for monitoring).
NOTEBOOK_VARIABLE = "KPILIB_REPORT_NOTEBOOK"

#: Environment added to every kernel started by this process (see _validations_for_kernels).
_KERNEL_ENV: dict[str, str] = {}


@contextlib.contextmanager
def _for_kernels(name: str, value: str | None) -> Iterator[None]:
    """While the block runs, the kernels started get ``name=value`` in their environment
    (nothing when ``value`` is None)."""
    if value is not None:
        _KERNEL_ENV[name] = value
    try:
        yield
    finally:
        _KERNEL_ENV.pop(name, None)


@contextlib.contextmanager
def _validations_for_kernels(staging: Path) -> Iterator[None]:
    """While notebooks run, their kernels reuse the validations this process made (the
    source checked before the run; :mod:`kpilib.validations`) instead of scanning every
    table again per notebook. The file is written beside the staging folder's contents
    and removed with them."""
    memo = validations.export(staging / ".validated.json")
    try:
        with _for_kernels(validations.ENVIRONMENT_VARIABLE, str(memo)):
            yield
    finally:
        memo.unlink(missing_ok=True)


def _source_secret_for_kernels(source: object) -> contextlib.AbstractContextManager[None]:
    """The notebooks get a URL source without its password or token (it would be written
    into the executed notebooks); their kernels find the full URL in the environment
    (:func:`kpilib.sources.conceal`)."""
    full = sources.reveal(source) if isinstance(source, str) else source
    return _for_kernels(sources.SECRET_VARIABLE, full if isinstance(full, str) and full != source else None)


def _engine_memory_shared(jobs: int) -> contextlib.AbstractContextManager[None]:
    """With ``jobs`` kernels at once, each kernel's engine may use its share of 80 % of
    the machine's memory (DuckDB's own default for one process), past which it spills to
    disk, instead of each claiming 80 %. A bound the caller set
    (:data:`kpilib.data.ENGINE_MEMORY_VARIABLE`) is left alone."""
    shared = jobs > 1 and not os.environ.get(ENGINE_MEMORY_VARIABLE)
    return _for_kernels(ENGINE_MEMORY_VARIABLE, f"{_total_memory_mb() * 0.8 / jobs:.0f}MB" if shared else None)


@contextlib.contextmanager
def _engine_spill_inside(staging: Path) -> Iterator[None]:
    """The kernels' engines spill to a folder of the month being built, removed when its
    notebooks are done — also after a kernel was killed rather than shut down (see
    :func:`_run_notebook`), which leaves what DuckDB spilled behind. A folder the caller
    set (:data:`kpilib.data.ENGINE_SPILL_VARIABLE`) is left alone."""
    spill = None if os.environ.get(ENGINE_SPILL_VARIABLE) else staging / ".spill"
    try:
        with _for_kernels(ENGINE_SPILL_VARIABLE, None if spill is None else str(spill)):
            yield
    finally:
        if spill is not None:
            _remove_tree(spill)


def _total_memory_mb() -> float:
    """The machine's physical memory, in MB."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e6


#: How long an interrupted run waits for a notebook to notice its kernel is gone.
_STOP_SECONDS = 30.0

#: The kernel process of each worker thread running a notebook (thread id -> pid).
_KERNELS: dict[int, int] = {}


def _kill_kernels() -> None:
    """Kill the kernel of every notebook still running (an interrupted run)."""
    for pid in list(_KERNELS.values()):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _skip_before_running(path: Path, params: Mapping[str, object], dataset: Any) -> str | None:
    """Why notebook ``path`` would skip itself on ``dataset`` (its sections' plan with its
    default parameters and ``params``), or None: such a notebook is not started at all."""
    if dataset is None or path.stem not in _sections.NOTEBOOKS:
        return None
    try:
        values = {**_sections.notebook_parameters(path), **params}
        return _sections.skip_reason(_sections.evaluate(dataset, path.stem, values))
    except Exception:  # the notebook decides for itself when it runs
        logger.debug("no section plan for %s before running it", path.name, exc_info=True)
        return None


def _skipped_status(path: Path, title: str, reason: str, seconds: float = 0.0) -> NotebookStatus:
    logger.info("notebook %s skipped: %s", path.name, reason)
    return NotebookStatus(notebook=path.stem, title=title, status="skipped", reason=reason, seconds=seconds)


def _skip_notebook(path: Path, staging: Path, reason: str, pages: _NotebookPages) -> NotebookStatus:
    """A notebook not run at all: its page (introduction and reason) and its status."""
    import nbformat

    page = pages.render(path.stem, nbformat.read(path, as_version=4), error=None, run_at=_now(), skipped=reason)
    (staging / f"{path.stem}.html").write_text(page, encoding="utf-8")
    return _skipped_status(path, pages.titles[path.stem], reason)


def _run_notebook(
    path: Path, staging: Path, params: Mapping[str, object], cwd: Path, pages: _NotebookPages
) -> NotebookStatus:
    import nbformat
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    executed = staging / f"{path.stem}.ipynb"
    title = pages.titles[path.stem]
    error: str | None = None
    nb = None
    run_at = _now()
    reason = None
    start = time.perf_counter()
    try:
        nb = papermill.execute_notebook(
            str(path),
            str(executed),
            parameters=dict(params),
            kernel_name=KERNEL_NAME,
            # the kernel's working folder, given to the kernel: papermill's ``cwd`` would
            # change this whole process's folder, which notebooks running at once share
            resources={"metadata": {"path": str(cwd)}},
            progress_bar=False,
            engine_name=_engine_name(),
            kernel_manager_class=_kernel_manager_class(),
            # every output has arrived when the last cell is done: the kernel is killed
            # instead of asked to exit (0.6 s of CPU per notebook tearing down its modules)
            shutdown_kernel="immediate",
        )
    except PapermillExecutionError as exc:
        if exc.ename == NotebookSkipped.__name__:
            reason = exc.evalue
        else:
            error = f"{exc.ename}: {exc.evalue} (cell {exc.exec_count})"
    except (CellTimeoutError, DeadKernelError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    if nb is None and executed.exists():
        nb = nbformat.read(executed, as_version=4)

    html = pages.render(path.stem, nb, error=error, run_at=run_at, skipped=reason)
    (staging / f"{path.stem}.html").write_text(html, encoding="utf-8")
    if reason is not None:
        return _skipped_status(path, title, reason, seconds)
    if error is not None:
        logger.warning("notebook %s failed: %s", path.name, error)
    headline = _read_headline(nb) if nb is not None else []
    other_months = sorted({str(r.get("month")) for r in headline} - {str(params.get("month"))})
    if other_months:
        logger.warning(
            "notebook %s recorded headline metrics for %s instead of %s; "
            "call record_headline(kpis, month=month)",
            path.name,
            ", ".join(other_months),
            params.get("month"),
        )
    skipped_sections = _read_skipped_sections(nb) if nb is not None else []
    return NotebookStatus(
        notebook=path.stem,
        title=title,
        status="failed" if error is not None else ("partial" if skipped_sections else "ok"),
        error=error,
        metrics=headline,
        seconds=seconds,
        skipped_sections=skipped_sections,
    )


# --------------------------------------------------------------------------- kernel


@functools.cache
def _engine_name() -> str:
    """papermill's nbclient engine, writing the executed notebook once at the end.

    papermill writes the whole notebook (serialised and validated, figures included)
    before and after every cell so that a reader can watch a long run; nobody watches a
    staging folder, and those writes were the runner's largest cost after the pages. The
    notebook is still written when a cell fails, the kernel dies or a cell times out
    (papermill's ``notebook_complete``), so a failed notebook's page shows its cells.
    """
    from papermill.engines import NBClientEngine, papermill_engines

    class AtTheEnd(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            path, nb_man.output_path = nb_man.output_path, None
            try:
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
            finally:
                nb_man.output_path = path  # papermill's notebook_complete writes it next

    papermill_engines.register("kpilib", AtTheEnd)
    return "kpilib"


#: Run in every report kernel before the notebook: DataFrames display as
#: :func:`format_table` formats them.
_KERNEL_SETUP = "__import__('kpilib.report').report.use_report_tables()"


@functools.cache
def _kernel_manager_class() -> type:
    """A kernel manager that starts ipykernel with ``sys.executable``.

    The ``python3`` kernel spec that jupyter_client finds first may belong to another
    interpreter (a user-level spec, ``JUPYTER_PATH``), and ``python`` on ``PATH`` may not
    be this one when the venv is not activated. This manager ignores installed specs for
    ``python3``, launches ``sys.executable -m ipykernel_launcher``, and puts the
    interpreter's folder first on the kernel's ``PATH`` (for ``!pip`` or subprocesses).
    It also drops an inherited ``MPLBACKEND`` so that figures are shown inline, and turns
    on :func:`use_report_tables` at start-up (nothing is added to the notebook).
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
                    f"--IPKernelApp.exec_lines={[_KERNEL_SETUP]!r}",
                ]
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
            # OpenBLAS' worker threads spin between calls, taking the cores from the engine's
            # threads (and another kernel's): kpilib's matrices are small, one thread does
            # them (10⁷ events with two jobs: 9 s less CPU, 4 s less wall). A setting of the
            # caller's is kept.
            env.setdefault(BLAS_THREADS_VARIABLE, "1")
            env.update(_KERNEL_ENV)
            stem = getattr(_RUNNING, "stem", None)
            if stem is not None:
                env[NOTEBOOK_VARIABLE] = stem
            await super().start_kernel(env=env, **kw)
            pid = getattr(self.provisioner, "pid", None)
            if pid is not None:
                _KERNELS[threading.get_ident()] = pid

    return CallerKernelManager

