"""The pure helpers of ``benchmarks/bench_report.py``: sizes, notebook timings, kernel
matching and tables (no report is run, nothing is timed)."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "benchmarks" / "bench_report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_parse_sizes(bench):
    assert bench.parse_sizes("1e6,1e7") == [1_000_000, 10_000_000]
    assert bench.parse_sizes(" 1e8 , 2500000,") == [100_000_000, 2_500_000]
    for bad in ("", "1e6,x", "0", "-1e6", "1.5", "inf", "nan"):
        with pytest.raises(ValueError):
            bench.parse_sizes(bad)


def test_size_label_and_customers(bench):
    assert [bench.size_label(n) for n in (10**6, 3 * 10**7, 10**8, 2_500_000, 1000, 999)] == [
        "1e6", "3e7", "1e8", "2500000", "1e3", "999"]
    assert bench.customers_for(10**6) == 13_000
    assert bench.customers_for(10**7) == 130_000
    assert bench.customers_for(10**8) == 1_300_000
    assert bench.customers_for(1) == 1


def test_first_line(bench):
    assert bench.first_line(["\n", "  \n", "x = 1\n", "y = 2"]) == "x = 1"
    assert bench.first_line("") == ""
    # a line that only sets a name to a constant is passed over, unless it is all there is
    cell = 'monthly = None\nactive = False\n\nif plan.runs("usage"):\n    monthly = 1\n'
    assert bench.first_line(cell) == 'if plan.runs("usage"):'
    assert bench.first_line("x = None\ny = 3") == "x = None"
    assert bench.first_line("x = f(None)") == "x = f(None)"
    long = "a" * 100
    assert bench.first_line(long, width=10) == "a" * 9 + "…"
    assert len(bench.first_line(long, width=10)) == 10


def _cell(kind, source, duration, count=None):
    return {"cell_type": kind, "source": source, "execution_count": count,
            "metadata": {"papermill": {"duration": duration}}}


def test_notebook_timing_reads_code_cells_and_papermill_stamps(bench):
    notebook = {
        "metadata": {"papermill": {"duration": 12.5, "start_time": "2026-12-06T10:42:09+00:00",
                                   "end_time": "2026-12-06T10:42:21.500000+00:00"}},
        "cells": [
            _cell("markdown", "# Title", 0.01),
            _cell("code", ["import x\n", "x.go()"], 1.25, count=1),
            _cell("code", "", None, count=None),  # not executed: no duration
            _cell("code", "\nslow()\n", 7.0, count=3),
        ],
    }
    notebook["cells"][3]["metadata"]["papermill"].update(
        start_time="2026-12-06T10:42:12+00:00", end_time="2026-12-06T10:42:19+00:00")
    timing = bench.notebook_timing("03_churn", notebook)
    assert timing.seconds == 12.5
    assert timing.end - timing.start == pytest.approx(12.5)
    assert [(c.number, c.seconds, c.first_line) for c in timing.cells] == [(1, 1.25, "import x"), (3, 7.0, "slow()")]
    assert timing.slowest.first_line == "slow()"
    assert timing.slowest.end - timing.slowest.start == 7.0
    assert timing.slowest.start - timing.start == 3.0
    assert timing.cells[0].start is None
    assert bench.notebook_timing("empty", {}).slowest is None


def test_read_month_statuses_and_reused(bench, tmp_path):
    (tmp_path / "index.json").write_text(json.dumps({"notebooks": ["00_glossary", "01_funnel", "02_x"]}))
    (tmp_path / "00_glossary.json").write_text(json.dumps({"status": "ok", "reused": True, "seconds": 0.4}))
    # a reused notebook's .ipynb is an earlier run's copy: its cells must not count
    (tmp_path / "00_glossary.ipynb").write_text(json.dumps({"cells": [_cell("code", "a", 50.0, 1)]}))
    (tmp_path / "01_funnel.json").write_text(json.dumps({"status": "partial"}))
    (tmp_path / "01_funnel.ipynb").write_text(json.dumps({"cells": [_cell("code", "b", 2.0, 1)]}))
    (tmp_path / "02_x.json").write_text(json.dumps({"status": "skipped"}))
    glossary, funnel, skipped = bench.read_month(tmp_path)
    assert (glossary.status, glossary.seconds, glossary.cells) == ("reused", 0.4, [])
    assert (funnel.status, [c.seconds for c in funnel.cells]) == ("partial", [2.0])
    assert (skipped.status, skipped.seconds, skipped.cells) == ("skipped", None, [])


def test_match_kernels_contained_least_gap(bench):
    # two notebooks start together (jobs=2) and end at different times; a third follows
    notebooks = [(0.0, 30.0), (0.0, 10.0), (10.2, 20.0)]
    kernels = [(0.3, 9.8), (0.4, 29.7), (10.6, 19.9)]
    pairs, gap = bench.match_kernels(kernels, notebooks)
    assert pairs == {0: 1, 1: 0, 2: 2}
    assert gap == pytest.approx(0.7)  # the largest: kernel 1, |0.4 - 0| + |29.7 - 30|
    # a kernel outside every notebook's span stays unmatched
    pairs, gap = bench.match_kernels([(50.0, 60.0)], notebooks)
    assert pairs == {} and math.isnan(gap)
    assert bench.match_kernels([], notebooks)[0] == {}


def test_assign_kernels_prefers_the_environment(bench):
    timings = [bench.NotebookTiming("a", "ok", 10.0, start=0.0, end=10.0),
               bench.NotebookTiming("b", "ok", 10.0, start=0.0, end=10.0),
               bench.NotebookTiming("c", "ok", 5.0, start=10.5, end=15.5)]
    kernels = [bench.KernelTrack(pid=1, start=0.2, last_seen=9.9, peak_rss=100, notebook="b"),
               bench.KernelTrack(pid=2, start=0.1, last_seen=9.9, peak_rss=200),
               bench.KernelTrack(pid=3, start=10.7, last_seen=15.4, peak_rss=300)]
    how = bench.assign_kernels(timings, kernels)
    assert [(t.name, t.kernel_pid, t.kernel_peak_rss) for t in timings] == [
        ("a", 2, 200), ("b", 1, 100), ("c", 3, 300)]
    assert how.startswith("1 by $KPILIB_REPORT_NOTEBOOK; 2 of 2 by time")


def test_markdown_table(bench):
    text = bench.markdown_table(["name", "s"], [["a|b", 1.5], ["long name", 10]])
    assert text.splitlines() == [
        "| name      |   s |",
        "|:----------|----:|",
        "| a\\|b      | 1.5 |",
        "| long name |  10 |",
    ]


def test_human_bytes_and_per_million(bench):
    assert bench.human_bytes(None) == "–"
    assert bench.human_bytes(300 * 2**20) == "300 MB"
    assert bench.human_bytes(3 * 2**29) == "1.50 GB"
    assert bench.per_million(30.0, 10_000_000) == 3.0
    assert math.isnan(bench.per_million(1.0, 0))


def _run(bench, label, events, wall, exit_code=0, tree=2**30):
    cells = [bench.Cell("n", 1, wall / 2, "x")]
    return bench.Run(label=label, events=events, source="s", jobs=None, exit_code=exit_code, wall_s=wall,
                     notebooks=[bench.NotebookTiming("n", "ok", wall / 2, cells=cells, kernel_peak_rss=tree // 2)],
                     runner_peak_rss=tree // 4, tree_peak_rss=tree, kernel_mapping="", ru_maxrss_self=None,
                     ru_maxrss_children=None, samples=1)


def test_summary_and_goals(bench):
    fixed = _run(bench, "sample", 400_000, 10.0)
    e6 = _run(bench, "1e6", 1_000_000, 14.0)
    e7 = _run(bench, "1e7", 10_000_000, 55.0, tree=5 * 2**30)
    rows = bench.summary_rows([fixed, e6, e7], fixed.wall_s)
    assert rows[0][:7] == ["sample", "400,000", "10.0", "5.0", "25.00", "–", "–"]
    assert rows[1][4:7] == ["14.00", "4.00", "–"]
    assert rows[2][4:7] == ["5.50", "4.50", "4.56"]  # marginal: (55 - 14) / 9
    goals = {row[0]: row for row in bench.goal_rows([e6, e7], fixed)}
    assert goals["fixed cost (sample report)"][3] == "yes"
    assert goals["1e7 events: wall"][2:] == ["55.0 s", "yes"]
    assert goals["1e7 events: peak RSS (tree)"][2:] == ["5.00 GB", "**no**"]
    assert goals["1e8 events: wall"][2:] == ["not run", "–"]
    assert goals["linear in events"][1:] == [  # marginal: (14 - 10) / 0.6 before, (55 - 14) / 9 after
        "marginal s/M 1e6→1e7 ≤ 1.25× sample→1e6's", "4.56 vs 6.67 s/M (×0.68)", "yes"]
    e8 = _run(bench, "1e8", 100_000_000, 700.0)
    goals = {row[0]: row for row in bench.goal_rows([e6, e7, e8], fixed)}
    assert goals["linear in events"][1:] == [  # (700 - 55) / 90 against 4.56
        "marginal s/M 1e7→1e8 ≤ 1.25× 1e6→1e7's", "7.17 vs 4.56 s/M (×1.57)", "**no**"]
    assert "linear in events" not in {row[0] for row in bench.goal_rows([e7], fixed)}, "one span: nothing to compare"
    # a failed run meets no goal, however fast
    e7.exit_code = 1
    goals = {row[0]: row for row in bench.goal_rows([e6, e7], fixed)}
    assert goals["1e7 events: wall"][3] == "**no**"


def test_find_source_matches_truth_parameters(bench, tmp_path):
    wanted = bench.generator_parameters(13_000, 7)
    good = tmp_path / "e6"
    good.mkdir()
    truth = {"profile": "saas", "generator": {"customers_target": 13_000, "seed": 7,
                                              "start": "2025-01-01", "end": "2026-10-31"}}
    (good / "truth.json").write_text(json.dumps(truth))
    assert bench.find_source([tmp_path], wanted) is None  # no events yet: incomplete
    (good / "events.parquet").write_bytes(b"")
    assert bench.find_source([tmp_path / "missing", tmp_path], wanted) == good
    assert bench.find_source([tmp_path], bench.generator_parameters(13_000, 8)) is None
    assert bench.find_source([tmp_path], bench.generator_parameters(130_000, 7)) is None


def test_busy_seconds_is_the_union_of_intervals(bench):
    assert bench.busy_seconds([]) == 0.0
    assert bench.busy_seconds([(0.0, 2.0), (5.0, 6.0)]) == 3.0
    # overlapping (two notebooks at once), nested and touching intervals
    assert bench.busy_seconds([(1.0, 4.0), (0.0, 2.0), (2.5, 3.0), (4.0, 5.0)]) == 5.0


def test_a_kernel_sampled_before_its_exec_is_still_counted_as_a_kernel(bench):
    # the child first runs with the runner's command line (as between fork and exec),
    # then becomes a process whose command line names ipykernel_launcher
    child = ("import os, sys, time; time.sleep(0.6); "  # the marker is joined only in the child
             "os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(1.0)', 'ipykernel' + '_launcher'])")
    runner = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"])
    sampler = bench.TreeSampler(runner.pid, interval=0.05)
    sampler.start()
    runner.wait()
    sampler.stop()
    assert len(sampler.kernels) == 1, "the process became a kernel after it was first seen"
    assert next(iter(sampler.kernels.values())).peak_rss > 0
