"""Time the whole monthly report at 10^6, 10^7 (and 10^8) events and print where it goes.

For each size the script makes (or reuses) a source folder of Parquet files with the
sample generator (``python -m kpilib sample-data``, which writes in chunks, so even 10^8
events fit in memory; 13 000 customers make about 10^6 events), counts its events with
DuckDB, runs ``python -m kpilib report --month M --source DIR --quiet`` in a subprocess and
prints, per size:

* the wall time of the whole command (interpreter start to exit), each notebook's time
  and share of the wall time (papermill's ``metadata.papermill.duration``; with
  ``--jobs`` notebooks overlap, so the shares add up to more than 100 %), each notebook's
  slowest cell with its first source line, and the slowest cells of the whole report;
* the peak RSS of the runner (the ``python -m kpilib`` process and any non-kernel helper
  process it starts) and of each notebook's kernel (a kernel with its own children), and
  the peak of the whole process tree at one instant: a thread samples the tree with
  psutil every ``--interval`` seconds. As a cross-check, the runner's own
  ``getrusage(RUSAGE_SELF).ru_maxrss`` and ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the
  largest kernel it waited for) are written by the runner when it exits (the runner is
  ``kpilib.__main__.main`` called from a three-line ``python -c`` shim, so these are its
  own figures, not mixed with the generator's or another size's).

Which kernel ran which notebook: a kernel whose environment has ``KPILIB_REPORT_NOTEBOOK``
(should the runner set it) is taken at its word; otherwise kernels are matched to notebooks
by time. papermill stamps each notebook's ``start_time`` before it starts the kernel and its
``end_time`` after the kernel is shut down, so a kernel's life (first to last sample) lies
inside its notebook's; kernels are assigned to notebooks with the least total gap between
the two starts and the two ends (``scipy.optimize.linear_sum_assignment``) among the
notebooks whose span contains the kernel's, which stays unambiguous when ``--jobs`` runs
several at once (notebooks that start together end at different times). The largest gap of
the chosen assignment is printed.

Notebooks that do not read the data (the glossary) are reused by the runner from
``<out>/.cache/`` as long as nothing they depend on changes, as happens month after month.
So by default they run once beforehand, unmeasured, and every measured run starts with
that cache (its tables say "reused"); ``--cold`` runs them in every measured run instead.

Then a summary across sizes: events, wall time, the overhead (the wall time during which no
cell ran — the sum of the cells' times would count cells of notebooks run at once twice:
interpreter and kernel start-up, imports outside cells, the runner's validation of the
source, HTML rendering, the index), the cost per million events with and
without the fixed cost, the marginal cost per million events between consecutive sizes,
the peaks of RSS, and the issue's goals with whether each is met. The fixed cost is the
wall time of the report on the bundled 5 000-customer sample (``--source`` omitted), run
first (``--no-fixed`` skips it); since the sample has some 4·10^5 events, subtracting it
overstates the fixed part (much at 10^6 events, little at 10^8). The tables are Markdown, to paste into the README.

Usage::

    python benchmarks/bench_report.py                       # the sample, 10^6 and 10^7
    python benchmarks/bench_report.py --sizes 1e8 --no-fixed --reuse /tmp/bench
    python benchmarks/bench_report.py --jobs 2 --repeat 3 --json bench.json

Sources are cached in ``--data-dir`` (default ``$TMPDIR/kpilib-bench-data``) as
``saas-<customers>c-seed<seed>/`` with a ``<folder>.json`` beside it (the generator's
parameters, the event count and how long it took); a folder there or directly in a
``--reuse`` folder whose ``truth.json`` has the same generator parameters is used as is
(``--reuse`` folders are only read). Times on a shared machine are inflated: ``--repeat N``
keeps the fastest of N runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Customers the generator needs for about a million events (saas profile, 2025-01 … 2026-10).
CUSTOMERS_PER_MILLION_EVENTS = 13_000
#: The runner's folder (in ``--out``) of reusable notebook runs.
CACHE_DIR = ".cache"
#: The environment variable a kernel may carry to say which notebook it runs.
NOTEBOOK_ENV = "KPILIB_REPORT_NOTEBOOK"
#: The issue's goals per size: wall seconds and peak RSS of the whole process tree, bytes.
GOALS = {10**7: (60.0, 4 * 2**30), 10**8: (600.0, 8 * 2**30)}
#: The fixed cost of a report (the sample run), at most, seconds.
FIXED_GOAL_S = 30.0
#: Linear growth: the marginal cost per million events between the two largest sizes may
#: exceed that of the span below by this factor at most. (The span from the sample's
#: 0.4 M events to 10⁶ is short — a second of noise moves it by half —, so the row means
#: most with three sizes: 10⁶→10⁷ against 10⁷→10⁸.)
LINEAR_TOLERANCE = 1.25
GB = 2**30
MB = 2**20

#: Runs the report in this interpreter and, at exit, writes the runner's own peak RSS and
#: that of the largest child it waited for (its kernels) to the file named by argv[1].
_RUNNER = """\
import json, resource, sys
from kpilib.__main__ import main
try:
    code = main(sys.argv[2:])
finally:
    with open(sys.argv[1], "w") as f:
        json.dump({w: resource.getrusage(getattr(resource, "RUSAGE_" + w.upper())).ru_maxrss
                   for w in ("self", "children")}, f)
sys.exit(code)
"""


# --------------------------------------------------------------------------- sizes


def parse_sizes(text: str) -> list[int]:
    """``"1e6,1e7"`` (or ``"1000000, 3e6"``) as whole numbers of events, in the order given.

    Raises ``ValueError`` on a size that is not a positive whole number.
    """
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"a size is a number of events such as 1e6, got {part!r}") from None
        if not math.isfinite(value) or value < 1 or value != int(value):
            raise ValueError(f"a size is a positive whole number of events, got {part!r}")
        sizes.append(int(value))
    if not sizes:
        raise ValueError("give at least one size, e.g. --sizes 1e6,1e7")
    return sizes


def size_label(events: int) -> str:
    """``1000000`` → ``"1e6"``, ``3000000`` → ``"3e6"``; other numbers as they are."""
    digits = str(events)
    mantissa = digits.rstrip("0")
    zeros = len(digits) - len(mantissa)
    if zeros >= 3 and len(mantissa) == 1:
        return f"{mantissa}e{zeros}"
    return digits


def customers_for(events: int) -> int:
    """Customers to generate for about ``events`` events (at least 1)."""
    return max(1, round(events * CUSTOMERS_PER_MILLION_EVENTS / 1e6))


# --------------------------------------------------------------------------- sources


@dataclass
class Source:
    """A source folder the report runs on."""

    label: str
    path: Path | None  # None: the bundled sample
    events: int
    customers: int | None = None
    generated_s: float | None = None


def count_events(folder: Path) -> int:
    """Rows of ``events.parquet`` (or ``events.csv``) in ``folder``, counted by DuckDB."""
    import duckdb

    parquet, csv = folder / "events.parquet", folder / "events.csv"
    if parquet.exists():
        query = "SELECT count(*) FROM read_parquet(?)"
        target = parquet
    elif csv.exists():
        query = "SELECT count(*) FROM read_csv_auto(?)"
        target = csv
    else:
        raise FileNotFoundError(f"no events.parquet or events.csv in {folder}")
    with duckdb.connect() as con:
        return int(con.execute(query, [str(target)]).fetchone()[0])


def generator_parameters(customers: int, seed: int) -> dict[str, object]:
    """The generator parameters that make a source reusable (as ``truth.json`` has them)."""
    return {"profile": "saas", "customers_target": customers, "seed": seed,
            "start": "2025-01-01", "end": "2026-10-31"}


def matches(truth: Mapping[str, object], wanted: Mapping[str, object]) -> bool:
    """Whether a source's ``truth.json`` was written with the ``wanted`` parameters."""
    generator = truth.get("generator") or {}
    found = {"profile": truth.get("profile"), **generator}  # type: ignore[dict-item]
    return all(found.get(key) == value for key, value in wanted.items())


def find_source(folders: Sequence[Path], wanted: Mapping[str, object]) -> Path | None:
    """The first folder directly in one of ``folders`` (sorted by name) holding a complete
    source generated with ``wanted`` (its ``truth.json`` says so, and events are there)."""
    for folder in folders:
        if not folder.is_dir():
            continue
        for candidate in sorted(p for p in folder.iterdir() if p.is_dir()):
            if candidate.name.startswith("."):
                continue
            truth_file = candidate / "truth.json"
            if not truth_file.exists():
                continue
            try:
                truth = json.loads(truth_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if matches(truth, wanted) and (candidate / "events.parquet").exists():
                return candidate
    return None


def prepare_source(events: int, data_dir: Path, reuse: Sequence[Path], seed: int) -> Source:
    """Reuse or generate the source for about ``events`` events and count them."""
    customers = customers_for(events)
    wanted = generator_parameters(customers, seed)
    folder = find_source([data_dir, *reuse], wanted)
    generated_s = None
    if folder is None:
        folder = data_dir / f"saas-{customers}c-seed{seed}"
        staging = data_dir / f".{folder.name}.tmp-{os.getpid()}"
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        print(f"generating {customers:,} customers (≈ {size_label(events)} events) into {folder} …",
              file=sys.stderr, flush=True)
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "kpilib", "sample-data", "--out", str(staging),
             "--customers", str(customers), "--seed", str(seed),
             "--start", str(wanted["start"]), "--end", str(wanted["end"])],
            check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        generated_s = time.perf_counter() - began
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    counted = count_events(folder)
    record = {**wanted, "folder": str(folder), "events": counted}
    if generated_s is not None:
        record["generated_s"] = round(generated_s, 1)
    sidecar = folder.with_name(folder.name + ".json")
    if folder.parent == data_dir:  # never write into a --reuse folder
        previous = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else {}
        sidecar.write_text(json.dumps({**previous, **record}, indent=2) + "\n", encoding="utf-8")
    return Source(label=size_label(events), path=folder, events=counted, customers=customers,
                  generated_s=generated_s)


def sample_source() -> Source:
    """The bundled sample (the report's default source), with its event count."""
    from kpilib.bundle import sample_dir

    return Source(label="sample", path=None, events=count_events(Path(sample_dir())))


# --------------------------------------------------------------------------- notebooks


@dataclass
class Cell:
    """One executed code cell."""

    notebook: str
    number: int  # the execution count, as In [n] shows it (else the cell's index)
    seconds: float
    first_line: str
    start: float | None = None  # epoch seconds
    end: float | None = None


def busy_seconds(intervals: Sequence[tuple[float, float]]) -> float:
    """Length of the union of ``(start, end)`` intervals: the time during which at least
    one of them was running (cells of notebooks run at once overlap)."""
    total, reach = 0.0, -math.inf
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


@dataclass
class NotebookTiming:
    """One notebook of a run: status, papermill's times and its code cells."""

    name: str
    status: str
    seconds: float | None = None
    start: float | None = None  # epoch seconds
    end: float | None = None
    cells: list[Cell] = field(default_factory=list)
    kernel_peak_rss: int | None = None
    kernel_pid: int | None = None

    @property
    def slowest(self) -> Cell | None:
        return max(self.cells, key=lambda c: c.seconds, default=None)


#: A line that only sets a name to a constant (``monthly = None``): it says nothing of the cell.
_TRIVIAL = re.compile(r"[A-Za-z_]\w*\s*=\s*(None|True|False|-?\d+(\.\d*)?|''|\"\"|\[\]|\{\}|\(\))")


def first_line(source: str | Sequence[str], width: int = 60) -> str:
    """The first non-blank line of a cell's source that does more than set a name to a
    constant (``monthly = None``), else the first non-blank line; cut to ``width``."""
    text = source if isinstance(source, str) else "".join(source)
    lines = [s.strip() for s in text.splitlines() if s.strip()]
    line = next((s for s in lines if not _TRIVIAL.fullmatch(s)), lines[0] if lines else "")
    return line if len(line) <= width else line[: width - 1] + "…"


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def notebook_timing(name: str, notebook: Mapping, status: str = "ok") -> NotebookTiming:
    """Times of an executed notebook (its JSON as a dict) from papermill's metadata."""
    meta = notebook.get("metadata", {}).get("papermill", {})
    cells = []
    for index, cell in enumerate(notebook.get("cells", [])):
        seconds = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if cell.get("cell_type") != "code" or seconds is None:
            continue
        number = cell.get("execution_count") or index
        stamps = cell["metadata"]["papermill"]
        cells.append(Cell(name, number, float(seconds), first_line(cell.get("source", "")),
                          _epoch(stamps.get("start_time")), _epoch(stamps.get("end_time"))))
    duration = meta.get("duration")
    return NotebookTiming(
        name=name, status=status, seconds=None if duration is None else float(duration),
        start=_epoch(meta.get("start_time")), end=_epoch(meta.get("end_time")), cells=cells,
    )  # fmt: skip


def read_month(folder: Path) -> list[NotebookTiming]:
    """Every notebook of a built month folder (``index.json`` order) with its times."""
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    timings = []
    for name in index["notebooks"]:
        status_file, executed = folder / f"{name}.json", folder / f"{name}.ipynb"
        recorded = {}
        if status_file.exists():
            recorded = json.loads(status_file.read_text(encoding="utf-8"))
        status = recorded.get("status", "?")
        if recorded.get("reused"):  # an earlier run's copy: its cells did not run now
            timings.append(NotebookTiming(name=name, status="reused",
                                          seconds=float(recorded.get("seconds") or 0.0)))
        elif executed.exists():
            notebook = json.loads(executed.read_text(encoding="utf-8"))
            timings.append(notebook_timing(name, notebook, status))
        else:
            timings.append(NotebookTiming(name=name, status=status))
    return timings


# --------------------------------------------------------------------------- processes


@dataclass
class KernelTrack:
    """A kernel seen by the sampler."""

    pid: int
    start: float  # the process's creation time, epoch seconds
    last_seen: float
    peak_rss: int = 0
    notebook: str | None = None  # from its environment, when the runner sets it


class TreeSampler(threading.Thread):
    """Samples the RSS of a process tree every ``interval`` seconds until stopped.

    A process whose command line runs ``ipykernel_launcher`` is a kernel; its
    descendants count with it. Every other process of the tree counts as the runner.
    """

    def __init__(self, pid: int, interval: float = 0.15) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.kernels: dict[tuple[int, float], KernelTrack] = {}
        self.runner_peak = 0
        self.tree_peak = 0
        self.samples = 0
        self._kinds: dict[tuple[int, float], bool] = {}
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop_event.is_set():
            try:
                self._sample(root)
            except psutil.NoSuchProcess:  # the runner has exited
                return
            self._stop_event.wait(self.interval)

    def _sample(self, root) -> None:
        import psutil

        now = time.time()
        processes = [root, *root.children(recursive=True)]
        rss, parent, key = {}, {}, {}
        for proc in processes:
            try:
                with proc.oneshot():
                    rss[proc.pid] = proc.memory_info().rss
                    parent[proc.pid] = proc.ppid()
                    key[proc.pid] = (proc.pid, proc.create_time())
                    if not self._kinds.get(key[proc.pid]):  # a kernel caught between fork and exec
                        self._kinds[key[proc.pid]] = self._classify(proc)  # still has the runner's command line
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                rss.pop(proc.pid, None)
        if root.pid not in rss:
            raise psutil.NoSuchProcess(root.pid)
        per_kernel: dict[int, int] = {}
        runner = 0
        for pid, size in rss.items():
            kernel = self._kernel_of(pid, parent, key)
            if kernel is None:
                runner += size
            else:
                per_kernel[kernel] = per_kernel.get(kernel, 0) + size
        for pid, size in per_kernel.items():
            track = self.kernels.get(key[pid])
            if track is None:
                track = KernelTrack(pid=pid, start=key[pid][1], last_seen=now,
                                    notebook=self._notebook_of(pid))
                self.kernels[key[pid]] = track
            track.last_seen = now
            track.peak_rss = max(track.peak_rss, size)
        self.runner_peak = max(self.runner_peak, runner)
        self.tree_peak = max(self.tree_peak, sum(rss.values()))
        self.samples += 1

    @staticmethod
    def _classify(proc) -> bool:
        return any("ipykernel_launcher" in part for part in proc.cmdline())

    def _kernel_of(self, pid: int, parent: dict, key: dict) -> int | None:
        """The kernel ``pid`` is or descends from, within this sample (None: the runner)."""
        while pid in key:
            if self._kinds.get(key[pid]):
                return pid
            pid = parent.get(pid, -1)
        return None

    @staticmethod
    def _notebook_of(pid: int) -> str | None:
        import psutil

        try:
            return psutil.Process(pid).environ().get(NOTEBOOK_ENV)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None


def match_kernels(
    kernels: Sequence[tuple[float, float]], notebooks: Sequence[tuple[float, float]], slack: float = 1.0
) -> tuple[dict[int, int], float]:
    """Assign kernels (first, last seen) to notebooks (papermill start, end) by time.

    A kernel may go to a notebook whose span contains its life, give or take ``slack``
    seconds (the sampling interval, clocks); among those, the assignment with the least
    sum of ``|kernel start - notebook start| + |kernel end - notebook end|`` is chosen.
    Returns ``{kernel index: notebook index}`` and the largest gap of a chosen pair
    (``nan`` when nothing was matched). A kernel that fits no notebook stays unmatched.
    """
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    if not kernels or not notebooks:
        return {}, math.nan
    big = 1e9
    cost = np.full((len(kernels), len(notebooks)), big)
    for i, (k_start, k_end) in enumerate(kernels):
        for j, (n_start, n_end) in enumerate(notebooks):
            if n_start - slack <= k_start and k_end <= n_end + slack:
                cost[i, j] = abs(k_start - n_start) + abs(k_end - n_end)
    rows, columns = linear_sum_assignment(cost)
    pairs = {int(i): int(j) for i, j in zip(rows, columns, strict=True) if cost[i, j] < big}
    gap = max((cost[i, j] for i, j in pairs.items()), default=math.nan)
    return pairs, float(gap)


def assign_kernels(timings: list[NotebookTiming], kernels: Sequence[KernelTrack]) -> str:
    """Set each notebook's kernel peak RSS; return how kernels were mapped (a phrase)."""
    by_name = {t.name: t for t in timings}
    named = [k for k in kernels if k.notebook in by_name]
    for kernel in named:
        timing = by_name[kernel.notebook]  # type: ignore[index]
        timing.kernel_peak_rss = max(timing.kernel_peak_rss or 0, kernel.peak_rss)
        timing.kernel_pid = kernel.pid
    rest = [k for k in kernels if k.notebook not in by_name]
    open_timings = [t for t in timings
                    if t.kernel_pid is None and t.start is not None and t.end is not None]
    pairs, gap = match_kernels(
        [(k.start, k.last_seen) for k in rest], [(t.start, t.end) for t in open_timings]  # type: ignore[misc]
    )
    for i, j in pairs.items():
        open_timings[j].kernel_peak_rss = rest[i].peak_rss
        open_timings[j].kernel_pid = rest[i].pid
    parts = []
    if named:
        parts.append(f"{len(named)} by ${NOTEBOOK_ENV}")
    if rest:
        text = f"{len(pairs)} of {len(rest)} by time"
        if pairs:
            text += f" (largest start+end gap {gap:.1f} s)"
        parts.append(text)
    return "; ".join(parts) or "no kernels seen"


# --------------------------------------------------------------------------- one run


@dataclass
class Run:
    """The measurements of one report run."""

    label: str
    events: int
    source: str
    jobs: int | None
    exit_code: int
    wall_s: float
    notebooks: list[NotebookTiming]
    runner_peak_rss: int
    tree_peak_rss: int
    kernel_mapping: str
    ru_maxrss_self: int | None  # bytes
    ru_maxrss_children: int | None
    samples: int
    walls_s: list[float] = field(default_factory=list)  # every repeat

    @property
    def cells_s(self) -> float:
        return sum(c.seconds for t in self.notebooks for c in t.cells)

    @property
    def busy_s(self) -> float:
        """Time during which some cell was running (with ``--jobs``, less than Σ cells)."""
        intervals = [(c.start, c.end) for t in self.notebooks for c in t.cells
                     if c.start is not None and c.end is not None]
        if len(intervals) < sum(len(t.cells) for t in self.notebooks):  # stamps missing
            return self.cells_s
        return busy_seconds(intervals)

    @property
    def overhead_s(self) -> float:
        """Wall time during which no cell ran: interpreter and kernel start-up, imports,
        validation of the source, rendering, the index."""
        return self.wall_s - self.busy_s

    @property
    def max_kernel_rss(self) -> int:
        return max((t.kernel_peak_rss or 0 for t in self.notebooks), default=0)


def data_free_notebooks() -> list[str]:
    """The report's notebooks that do not read the data (no ``source`` parameter): the
    runner reuses their earlier run from ``<out>/.cache/``."""
    from kpilib.report import default_notebooks_dir, select_notebooks
    from kpilib.sections import notebook_parameters

    paths = select_notebooks(default_notebooks_dir())
    return [p.stem for p in paths if "source" not in notebook_parameters(p)]


def warm_cache(month: str, out: Path) -> Path | None:
    """Run the data-free notebooks once, unmeasured, into ``out``; the runner's cache
    folder it leaves (None when there is none, or the run failed)."""
    names = data_free_notebooks()
    if not names:
        return None
    print(f"warming the cache: {', '.join(names)} (not measured) …", file=sys.stderr, flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "kpilib", "report", "--month", month, "--out", str(out), "--quiet",
         "--only", ",".join(names)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    cache = out / CACHE_DIR
    if done.returncode != 0:
        print(f"warning: warming the cache failed (exit {done.returncode}); runs are cold:\n"
              f"{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return cache if cache.is_dir() else None


def run_report(source: Source, month: str, out: Path, jobs: int | None, interval: float,
               cache: Path | None = None) -> Run:
    """Run the report on ``source`` into ``out`` and measure it; ``cache`` (a warm
    ``.cache`` folder) is copied into ``out`` first."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / CACHE_DIR, ignore_errors=True)  # an earlier run's, when --out is reused
    if cache is not None:
        shutil.copytree(cache, out / CACHE_DIR, dirs_exist_ok=True)
    usage_file = out / "rusage.json"
    usage_file.unlink(missing_ok=True)
    command = [sys.executable, "-c", _RUNNER, str(usage_file), "report", "--month", month,
               "--out", str(out), "--quiet"]  # fmt: skip
    if source.path is not None:
        command += ["--source", str(source.path)]
    if jobs is not None:
        command += ["--jobs", str(jobs)]
    env = {k: v for k, v in os.environ.items() if k != NOTEBOOK_ENV}
    with open(out / "runner.log", "w", encoding="utf-8") as log:
        began = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        sampler = TreeSampler(process.pid, interval)
        sampler.start()
        code = process.wait()
        wall = time.perf_counter() - began
        sampler.stop()
    if code != 0:
        tail = (out / "runner.log").read_text(encoding="utf-8", errors="replace")[-2000:]
        print(f"warning: the report on {source.label} exited {code}:\n{tail}", file=sys.stderr)
    month_dir = out / month
    timings = read_month(month_dir) if (month_dir / "index.json").exists() else []
    mapping = assign_kernels(timings, list(sampler.kernels.values()))
    usage = json.loads(usage_file.read_text()) if usage_file.exists() else {}
    return Run(
        label=source.label, events=source.events,
        source=str(source.path) if source.path else "bundled sample", jobs=jobs, exit_code=code,
        wall_s=wall, notebooks=timings, runner_peak_rss=sampler.runner_peak,
        tree_peak_rss=sampler.tree_peak, kernel_mapping=mapping,
        ru_maxrss_self=usage["self"] * 1024 if "self" in usage else None,  # Linux: kB
        ru_maxrss_children=usage["children"] * 1024 if "children" in usage else None,
        samples=sampler.samples, walls_s=[wall],
    )  # fmt: skip


def best_of(source: Source, month: str, out: Path, jobs: int | None, interval: float,
            repeat: int, cache: Path | None = None) -> Run:
    """The fastest of ``repeat`` runs (every wall time kept in ``walls_s``)."""
    best: Run | None = None
    walls = []
    for attempt in range(repeat):
        folder = out / source.label / (f"run{attempt + 1}" if repeat > 1 else "")
        run = run_report(source, month, folder, jobs, interval, cache)
        walls.append(run.wall_s)
        print(f"  {source.label}: run {attempt + 1}/{repeat} {run.wall_s:.1f} s (exit {run.exit_code})",
              file=sys.stderr, flush=True)
        if best is None or (run.exit_code, run.wall_s) < (best.exit_code, best.wall_s):
            best = run
    assert best is not None
    best.walls_s = walls
    return best


# --------------------------------------------------------------------------- tables


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]],
                   align: str | None = None) -> str:
    """A Markdown table; ``align`` has one letter per column, ``l`` or ``r`` (default:
    the first column left, the others right). ``|`` in a cell is escaped."""
    align = align or "l" + "r" * (len(header) - 1)
    cells = [[str(c).replace("|", "\\|") for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        padded = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align, strict=True)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else (":" + "-" * (w + 1))
                          for w, a in zip(widths, align, strict=True)) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def human_bytes(value: int | None) -> str:
    """``1536 * MB`` → ``"1.50 GB"``, smaller ones in MB; ``None`` → ``"–"``."""
    if value is None or value == 0:
        return "–"
    return f"{value / GB:.2f} GB" if value >= GB else f"{value / MB:.0f} MB"


def per_million(seconds: float, events: int) -> float:
    """Seconds per million events."""
    return seconds / (events / 1e6) if events else math.nan


def size_table(run: Run, top: int = 8) -> str:
    """The per-size section: a line of totals, notebooks, then the slowest cells."""
    reused = [t.name for t in run.notebooks if t.status == "reused"]
    lines = [
        f"### {run.label}: {run.events:,} events ({run.source}), jobs {run.jobs or 'default'}",
        "",
        f"wall {run.wall_s:.1f} s (runs: {', '.join(f'{w:.1f}' for w in run.walls_s)}); "
        f"cells Σ {run.cells_s:.1f} s, some cell running {run.busy_s:.1f} s; "
        f"overhead (no cell running) {run.overhead_s:.1f} s; "
        f"exit {run.exit_code}" + ("" if run.exit_code == 0 else " — **the report failed**")
        + (f"; reused (not run): {', '.join(reused)}" if reused else ""),
        f"peak RSS: runner {human_bytes(run.runner_peak_rss)} (ru_maxrss "
        f"{human_bytes(run.ru_maxrss_self)}), largest kernel {human_bytes(run.max_kernel_rss)} "
        f"(runner's RUSAGE_CHILDREN ru_maxrss {human_bytes(run.ru_maxrss_children)}), "
        f"whole tree {human_bytes(run.tree_peak_rss)}; {run.samples} samples; "
        f"kernels mapped {run.kernel_mapping}",
        "",
    ]
    rows = []
    for t in run.notebooks:
        slow = t.slowest
        rows.append([
            t.name, t.status, "–" if t.seconds is None else f"{t.seconds:.1f}",
            "–" if t.seconds is None else f"{t.seconds / run.wall_s:.0%}",
            f"{slow.seconds:.1f}" if slow else "–",
            f"[{slow.number}] {slow.first_line}" if slow else "–",
            human_bytes(t.kernel_peak_rss),
        ])  # fmt: skip
    lines.append(markdown_table(
        ["notebook", "status", "s", "share", "slowest cell s", "slowest cell", "kernel peak RSS"],
        rows, "llrrrlr"))  # fmt: skip
    cells = sorted((c for t in run.notebooks for c in t.cells), key=lambda c: -c.seconds)[:top]
    if cells:
        lines += ["", f"slowest {len(cells)} cells:", ""]
        lines.append(markdown_table(
            ["notebook", "cell", "s", "first line"],
            [[c.notebook, c.number, f"{c.seconds:.1f}", c.first_line] for c in cells], "lrrl"))
    return "\n".join(lines)


def summary_rows(runs: Sequence[Run], fixed_s: float | None) -> list[list[str]]:
    """One row per run: events, wall, overhead, per-million costs and peaks of RSS."""
    rows, previous = [], None
    for run in runs:
        excl = per_million(run.wall_s - fixed_s, run.events) if fixed_s is not None else math.nan
        marginal = "–"
        if previous is not None and run.events > previous.events:
            marginal = f"{(run.wall_s - previous.wall_s) / ((run.events - previous.events) / 1e6):.2f}"
        rows.append([
            run.label, f"{run.events:,}", f"{run.wall_s:.1f}", f"{run.overhead_s:.1f}",
            f"{per_million(run.wall_s, run.events):.2f}",
            "–" if math.isnan(excl) or run.label == "sample" else f"{excl:.2f}", marginal,
            human_bytes(run.runner_peak_rss), human_bytes(run.max_kernel_rss),
            human_bytes(run.tree_peak_rss),
        ])  # fmt: skip
        if run.label != "sample":
            previous = run
    return rows


def goal_rows(runs: Sequence[Run], fixed: Run | None) -> list[list[str]]:
    """The issue's goals: target, what was measured, and whether it is met."""
    def verdict(ok: bool) -> str:
        return "yes" if ok else "**no**"

    rows = []
    if fixed is not None:
        rows.append(["fixed cost (sample report)", f"≤ {FIXED_GOAL_S:.0f} s", f"{fixed.wall_s:.1f} s",
                     verdict(fixed.wall_s <= FIXED_GOAL_S and fixed.exit_code == 0)])
    by_label = {run.label: run for run in runs}
    for size, (wall_goal, rss_goal) in GOALS.items():
        run = by_label.get(size_label(size))
        wall = f"{run.wall_s:.1f} s" if run else "not run"
        rss = human_bytes(run.tree_peak_rss) if run else "not run"
        failed = run is not None and run.exit_code != 0
        rows.append([f"{size_label(size)} events: wall", f"< {wall_goal:.0f} s", wall,
                     "–" if run is None else verdict(run.wall_s < wall_goal and not failed)])
        rows.append([f"{size_label(size)} events: peak RSS (tree)", f"< {rss_goal / GB:.0f} GB", rss,
                     "–" if run is None else verdict(run.tree_peak_rss < rss_goal and not failed)])
    points = sorted(([fixed] if fixed is not None else []) + [r for r in runs if r.label != "sample"],
                    key=lambda r: r.events)
    spans = [(a, b, (b.wall_s - a.wall_s) / ((b.events - a.events) / 1e6))
             for a, b in itertools.pairwise(points) if b.events > a.events]
    if len(spans) >= 2:
        (a, b, before), (c, d, last) = spans[-2], spans[-1]
        ratio = last / before if before > 0 else math.nan
        rows.append([
            "linear in events", f"marginal s/M {c.label}→{d.label} ≤ {LINEAR_TOLERANCE}× {a.label}→{b.label}'s",
            f"{last:.2f} vs {before:.2f} s/M (×{ratio:.2f})",
            verdict(ratio <= LINEAR_TOLERANCE),
        ])  # fmt: skip
    return rows


def summary_table(runs: Sequence[Run], fixed: Run | None) -> str:
    """The summary across sizes and the goals, as Markdown."""
    everything = ([fixed] if fixed is not None else []) + list(runs)
    header = ["size", "events", "wall s", "overhead s", "s/M events", "s/M excl. fixed",
              "marginal s/M", "runner RSS", "max kernel RSS", "tree peak RSS"]
    lines = ["### summary", "", markdown_table(header, summary_rows(everything, fixed.wall_s if fixed else None)),
             "", markdown_table(["goal", "target", "measured", "met"], goal_rows(runs, fixed), "llll")]
    return "\n".join(lines)


def describe(run: Run) -> dict:
    """A run as JSON-ready data (bytes and seconds)."""
    data = asdict(run)
    data.update(cells_s=run.cells_s, busy_s=run.busy_s, overhead_s=run.overhead_s, max_kernel_rss=run.max_kernel_rss)
    return data


def _git_commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True)
        return done.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _month(text: str) -> str:
    if not re.fullmatch(r"\d{4}-\d{2}", text):
        raise argparse.ArgumentTypeError(f"must be YYYY-MM, got {text!r}")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1e6,1e7",
                        help="event counts, comma-separated (default 1e6,1e7; 1e8 takes 10+ min)")
    parser.add_argument("--month", type=_month, default="2026-10", help="report month (default 2026-10)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="passed to the report as --jobs N (not passed when omitted)")
    parser.add_argument("--data-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "kpilib-bench-data",
                        help="where generated sources are cached (default $TMPDIR/kpilib-bench-data)")
    parser.add_argument("--reuse", type=Path, action="append", default=[], metavar="DIR",
                        help="also look for a matching source directly in DIR (read only; repeatable)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where the reports go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the reports (and say where)")
    parser.add_argument("--no-fixed", action="store_true",
                        help="skip the fixed-cost run on the bundled sample")
    parser.add_argument("--cold", action="store_true",
                        help="no warm cache: every run also runs the notebooks that do not read "
                        "the data (by default they run once beforehand, unmeasured, and are reused)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; the fastest is kept")
    parser.add_argument("--interval", type=float, default=0.15, help="RSS sampling interval, s")
    parser.add_argument("--top", type=int, default=8, help="slowest cells listed per size")
    parser.add_argument("--json", type=Path, default=None, help="also write the measurements here")
    args = parser.parse_args(argv)
    try:
        sizes = parse_sizes(args.sizes)
    except ValueError as exc:
        parser.error(str(exc))
    if args.repeat < 1 or (args.jobs is not None and args.jobs < 1):
        parser.error("--repeat and --jobs must be at least 1")

    out = args.out or Path(tempfile.mkdtemp(prefix="kpilib-bench-report-"))
    load = os.getloadavg()
    print(f"kpilib {_git_commit()}, month {args.month}, {os.cpu_count()} CPUs, "
          f"load average {load[0]:.1f} at start", flush=True)
    try:
        cache = None if args.cold else warm_cache(args.month, out / "warm-up")
        fixed = None
        if not args.no_fixed:
            fixed = best_of(sample_source(), args.month, out, args.jobs, args.interval, args.repeat, cache)
            print("\n" + size_table(fixed, args.top) + "\n", flush=True)
        runs = []
        for size in sizes:
            source = prepare_source(size, args.data_dir, args.reuse, args.seed)
            if source.generated_s is not None:
                print(f"generated {source.path} in {source.generated_s:.1f} s", flush=True)
            run = best_of(source, args.month, out, args.jobs, args.interval, args.repeat, cache)
            runs.append(run)
            print("\n" + size_table(run, args.top) + "\n", flush=True)
        print(summary_table(runs, fixed))
        print(f"\nload average {os.getloadavg()[0]:.1f} at the end "
              f"(a shared machine inflates the times)")
        if args.json is not None:
            data = {"commit": _git_commit(), "month": args.month, "jobs": args.jobs,
                    "cache": "cold" if cache is None else "warm",
                    "cpus": os.cpu_count(), "fixed": describe(fixed) if fixed else None,
                    "runs": [describe(r) for r in runs]}
            args.json.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    finally:
        if args.keep:
            print(f"reports kept in {out}")
        elif args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    return 0 if all(r.exit_code == 0 for r in runs + ([fixed] if fixed else [])) else 1


if __name__ == "__main__":
    sys.exit(main())
