"""The command line: sample data, validation, docs; exit codes say what happened, misuse is
one line on stderr and exit code 2, a killed run leaves nothing behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from kpilib.__main__ import build_parser, main


def test_sample_data_writes_every_table_and_the_truth(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["sample-data", "--out", str(out), "--customers", "150", "--seed", "3",
                 "--start", "2026-01-01", "--end", "2026-06-30"]) == 0
    names = {p.name for p in out.iterdir()}
    for table in ("customers", "events", "orders", "subscriptions", "email", "surveys", "spend"):
        assert f"{table}.parquet" in names
    truth = json.loads((out / "truth.json").read_text())
    assert truth
    events = pd.read_parquet(out / "events.parquet")
    assert events.ts.min() >= pd.Timestamp("2026-01-01", tz="UTC")
    assert events.ts.max() < pd.Timestamp("2026-07-01", tz="UTC")
    assert "written" in capsys.readouterr().out


def test_check_reports_counts_and_refuses_bad_data(tmp_path, capsys):
    good = tmp_path / "good"
    good.mkdir()
    pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-01"], "amount": [3.0]}).to_csv(
        good / "orders.csv", index=False)
    assert main(["check", "--source", str(good)]) == 0
    assert "orders" in capsys.readouterr().out
    bad = tmp_path / "bad"
    bad.mkdir()
    pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-01"], "amount": [-3.0]}).to_csv(
        bad / "orders.csv", index=False)
    assert main(["check", "--source", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "table 'orders', column 'amount'" in err and "negative" in err


def test_docs_writes_the_generated_documents(tmp_path):
    assert main(["docs", "--root", str(tmp_path)]) == 0
    assert (tmp_path / "docs" / "metrics.md").exists()
    assert (tmp_path / "notebooks" / "00_glossary.ipynb").exists()


def test_report_arguments_parse():
    args = build_parser().parse_args(
        ["report", "--month", "2026-10", "--only", "funnel,glossary", "-p", "window=\"30D\""])
    assert args.month == "2026-10" and args.only == ["funnel,glossary"]
    assert args.parameter == ['window="30D"']


# --------------------------------------------------------------------------- misuse

#: Every misuse ends with one line on stderr and exit code 2; ``{file}`` is a file,
#: ``{nope}`` a missing path, ``{data}`` a source with data from 2025-01-01 to 2026-10-31.
MISUSE = [
    (["report", "--month", "2026-10", "--out", "{file}"],
     "error: out '{file}' is a file: it must be a folder"),
    (["report", "--month", "2026-10", "--out", "{file}/sub"],
     "error: out '{file}/sub' is below a file ('{file}'): it must be a folder"),
    (["report", "--month", "2026-10", "--out", ""],
     "error: out is empty: pass the folder that holds the month folders"),
    (["report", "--month", "2026-10", "--source", "{nope}"],
     "error: source '{nope}' does not exist (resolved to '{nope}')"),
    (["report", "--month", "2026-10", "--source", "{file}"],
     "error: source '{file}' is not a folder: pass the folder that holds the table files"),
    (["report", "--month", "2026-10", "--source", ""],
     "error: source is empty: pass a folder of the data, or nothing for the bundled sample"),
    (["report", "--month", "2026-10", "-p", "novalue"],
     "error: -p: a parameter must look like NAME=VALUE with NAME a Python identifier, got 'novalue'"),
    (["report", "--month", "2026-10", "-p", "1abc=2"],
     "error: -p: a parameter must look like NAME=VALUE with NAME a Python identifier, got '1abc=2'"),
    (["report", "--month", "2026-10", "-p", "two words=1"],
     "error: -p: a parameter must look like NAME=VALUE with NAME a Python identifier, got 'two words=1'"),
    (["report", "--month", "2026-10", "-p", "=3"],
     "error: -p: a parameter must look like NAME=VALUE with NAME a Python identifier, got '=3'"),
    (["report", "--month", "2026-10", "-p", "month=2026-09"], "error: -p month=...: give the month with --month"),
    # literals papermill would pass into the notebook as text
    (["report", "--month", "2026-10", "-p", "steps=('visit', 'signup')"],
     "error: -p: steps: a tuple cannot reach a notebook (papermill would pass the text \"('visit', 'signup')\"); "
     "write a list instead: ['visit', 'signup']"),
    (["report", "--month", "2026-10", "-p", "channels={{'paid', 'email'}}"],
     "error: -p: channels: a set cannot reach a notebook (papermill would pass the text \"{{'email', 'paid'}}\"); "
     "write a list instead: ['email', 'paid']"),
    (["report", "--month", "2026-10", "-p", "source_tag=b'x'"],
     "error: -p: source_tag: a bytes cannot reach a notebook (papermill would pass the text \"b'x'\"); "
     "write a string, a number, a list or a dict instead"),
    (["check", "-p", "steps=['visit', ('a', 'b')]"],
     "error: -p: steps: a tuple cannot reach a notebook (papermill would pass the text \"('a', 'b')\"); "
     "write a list instead: ['a', 'b']"),
    (["report", "--month", "2026-10", "-p", "source=/tmp"], "error: -p source=...: give the source with --source"),
    (["report", "--month", "2026-10\n"],
     "error: month must look like 'YYYY-MM' (e.g. '2026-10'), got '2026-10\\n'"),
    (["report", "--month", "2026-13"], "error: month must look like 'YYYY-MM' (e.g. '2026-10'), got '2026-13'"),
    (["report", "--month", "２０２６-10"], "error: month must look like 'YYYY-MM' (e.g. '2026-10'), got '２０２６-10'"),
    (["report", "--month", "../../tmp/x"],
     "error: month must look like 'YYYY-MM' (e.g. '2026-10'), got '../../tmp/x'"),
    (["report", "--month", "2026-10; rm -rf /"],
     "error: month must look like 'YYYY-MM' (e.g. '2026-10'), got '2026-10; rm -rf /'"),
    (["report", "--from", "2026-10", "--to", "2026-09"],
     "error: the last month (2026-09) comes before the first (2026-10)"),
    (["report", "--from", "2026-10", "--to", "2026-13"],
     "error: month must look like 'YYYY-MM' (e.g. '2026-10'), got '2026-13'"),
    (["report", "--from", "2026-10\n"], "error: month must look like 'YYYY-MM' (e.g. '2026-10'), got '2026-10\\n'"),
    (["report", "--month", "2026-10", "--to", "2026-11"],
     "error: --to and --force go with --from (--month always rebuilds)"),
    (["report", "--month", "2026-10", "--force"], "error: --to and --force go with --from (--month always rebuilds)"),
    (["report", "--month", "2026-10", "--only", "nope"],
     "error: no notebook named 'nope'; available: {notebooks}"),
    (["report", "--month", "2026-10", "--only", "../../etc/passwd"],
     "error: no notebook named '../../etc/passwd'; available: {notebooks}"),
    (["report", "--month", "2026-10", "--only", ""], "error: --only needs notebook names, e.g. --only funnel"),
    (["report", "--month", "2026-10", "--only", ",,"], "error: --only needs notebook names, e.g. --only funnel"),
    (["report", "--month", "2030-01", "--source", "{data}"],
     "error: no data for 2030-01: the source's data run from 2025-01-01 to 2026-10-31"),
    (["report", "--month", "2024-12", "--source", "{data}"],
     "error: no data for 2024-12: the source's data run from 2025-01-01 to 2026-10-31"),
    (["report", "--month", "0000-01", "--source", "{data}"],
     "error: no data for 0000-01: the source's data run from 2025-01-01 to 2026-10-31"),
    (["report", "--from", "2024-11", "--to", "2027-01", "--source", "{data}"],
     "error: no data for 2024-11 to 2024-12 and 2026-11 to 2027-01: the source's data run from 2025-01-01 to 2026-10-31"),
    (["report"], "error: one of the arguments --month --from is required; see python -m kpilib report --help"),
    (["report", "--month"], "error: argument --month: expected one argument; see python -m kpilib report --help"),
    (["report", "--month", "2026-10", "--bogus"], "error: unrecognized arguments: --bogus; see python -m kpilib --help"),
    (["frob"], "error: argument command: invalid choice: 'frob' (choose from 'report', 'sample-data', 'docs', "
               "'check'); see python -m kpilib --help"),
    ([], "error: the following arguments are required: command; see python -m kpilib --help"),
    (["sample-data", "--out", "{file}"], "error: --out '{file}' is a file, not a folder"),
    (["sample-data", "--out", "{file}/x"], "error: --out '{file}/x' is below a file ('{file}')"),
    (["report", "--month", "2026-10", "--jobs", "0"],
     "error: argument --jobs: must be at least 1, got '0'; see python -m kpilib report --help"),
    (["sample-data", "--out", "{nope}", "--customers", "0"],
     "error: argument --customers: must be at least 1, got '0'; see python -m kpilib sample-data --help"),
    (["sample-data", "--out", "{nope}", "--customers", "many"],
     "error: argument --customers: must be a whole number, got 'many'; see python -m kpilib sample-data --help"),
    (["sample-data", "--out", "{nope}", "--seed", "-1"],
     "error: argument --seed: must not be negative, got '-1'; see python -m kpilib sample-data --help"),
    (["sample-data", "--out", "{nope}", "--start", "banana"], "error: --start must be a date, YYYY-MM-DD, got 'banana'"),
    (["sample-data", "--out", "{nope}", "--start", "2026-01-01", "--end", "2025-01-01"],
     "error: --end (2025-01-01) comes before --start (2026-01-01)"),
    (["docs", "--root", "{file}"], "error: --root '{file}' is a file, not a folder"),
    (["docs", "--root", "{nope}"], "error: --root '{nope}' does not exist"),
    (["check", "--source", "{file}"], "error: --source '{file}' is a file, not a folder"),
    (["check", "--source", "{nope}"], "error: --source '{nope}' does not exist"),
    (["check", "--source", ""], "error: --source is empty: give a folder"),
]


@pytest.fixture(scope="module")
def misuse_paths(tmp_path_factory):
    """A file, a missing path and a tiny source with data from 2025-01-01 to 2026-10-31."""
    from kpilib.report import default_notebooks_dir

    root = tmp_path_factory.mktemp("misuse")
    (root / "file").write_text("not a folder")
    data = root / "data"
    data.mkdir()
    pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2025-01-01", "2026-10-31 12:00"],
                  "amount": [3.0, 4.0]}).to_csv(data / "orders.csv", index=False)
    notebooks = ", ".join(sorted(p.stem for p in default_notebooks_dir().glob("*.ipynb")))
    return {"file": str(root / "file"), "nope": str(root / "nope"), "data": str(data), "notebooks": notebooks}


@pytest.mark.parametrize(("argv", "message"), MISUSE, ids=[" ".join(a) or "(nothing)" for a, _ in MISUSE])
def test_misuse_is_one_line_and_exit_code_2(argv, message, misuse_paths, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the default --out, reports/, would be made here
    argv = [a.format(**misuse_paths) for a in argv]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == message.format(**misuse_paths) + "\n"
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert not Path(misuse_paths["nope"]).exists()


def test_no_chromium_for_pdf_is_a_misuse(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KPILIB_CHROMIUM", str(tmp_path / "no-browser"))
    assert main(["report", "--month", "2026-10", "--pdf", "--only", "funnel"]) == 2
    assert capsys.readouterr().err == (
        f"error: KPILIB_CHROMIUM='{tmp_path / 'no-browser'}' is not an executable; point it at Chromium\n"
    )
    assert list(tmp_path.iterdir()) == []


def _bad_source(folder: Path) -> Path:
    folder.mkdir()
    pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-01"], "amount": [-3.0]}).to_csv(
        folder / "orders.csv", index=False)
    return folder


@pytest.mark.parametrize("command", [["report", "--month", "2026-10"], ["report", "--from", "2026-09", "--to", "2026-10"],
                                     ["check"]])
def test_data_breaking_the_contract_is_one_line_and_exit_code_1(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    bad = _bad_source(tmp_path / "bad")
    assert main([*command, "--source", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("DataError: table 'orders', column 'amount': ")
    assert "negative" in captured.err and captured.err.count("\n") == 1 and captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]  # no reports/ folder


def test_help_documents_exit_codes(capsys):
    assert main(["report", "--help"]) == 0
    text = capsys.readouterr().out
    for line in ("exit codes:", "  0    done", "  1    report: a notebook failed", "  2    the command was misused",
                 "  130  interrupted (Ctrl-C); 143 terminated (SIGTERM)"):
        assert line in text
    assert main(["--help"]) == 0 and "exit codes:" in capsys.readouterr().out


def test_module_entry_point_exit_code_and_stderr(tmp_path):
    """The real command: one line on stderr, no traceback, exit code 2."""
    done = subprocess.run([sys.executable, "-m", "kpilib", "report", "--month", "2026-10\n", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "error: month must look like 'YYYY-MM' (e.g. '2026-10'), got '2026-10\\n'\n"
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- SIGTERM

#: Runs the command line on the notebooks of folder argv[1] (the CLI has no option for it).
_CLI_ON_NOTEBOOKS = """
import sys
from pathlib import Path
import kpilib.report._checks
kpilib.report._checks.default_notebooks_dir = lambda: Path(sys.argv[1])
from kpilib.__main__ import main
sys.exit(main(sys.argv[2:]))
"""


def _slow_notebooks(folder: Path, started: Path, kernel_pid: Path) -> Path:
    from nbformat.v4 import new_code_cell, new_notebook

    folder.mkdir()
    params = new_code_cell("month = '2026-01'\nsource = None", metadata={"tags": ["parameters"]})
    slow = (f"import os, time, pathlib\npathlib.Path({str(kernel_pid)!r}).write_text(str(os.getpid()))\n"
            f"pathlib.Path({str(started)!r}).write_text('started')\ntime.sleep(120)")
    for stem, code in (("01_slow", slow), ("02_never", "print('never')")):
        nb = new_notebook(cells=[new_code_cell("# title"), params, new_code_cell(code)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / f"{stem}.ipynb")
    return folder


def test_a_report_command_does_not_load_what_it_never_uses(tmp_path, misuse_paths):
    """``rfc3987_syntax`` (jsonschema's IRI grammar, 1.7 s to import, loaded through
    nbformat) stays out of a report run; the executed notebook is valid nbformat all the
    same."""
    from nbformat.v4 import new_code_cell, new_notebook

    folder = tmp_path / "nb"
    folder.mkdir()
    params = new_code_cell("month = '2026-01'\nsource = None", metadata={"tags": ["parameters"]})
    nb = new_notebook(cells=[new_code_cell("# title"), params, new_code_cell("print(month)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "01_quick.ipynb")
    script = _CLI_ON_NOTEBOOKS.replace("sys.exit(main(sys.argv[2:]))",
                                       "code = main(sys.argv[2:])\nprint(repr(sys.modules.get('rfc3987_syntax', 'absent')))\n"
                                       "import rfc3987_syntax  # the package is there: only this process does without it\n"
                                       "sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", script, str(folder), "report", "--month", "2026-10", "--source",
                           misuse_paths["data"], "--out", str(tmp_path / "out"), "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert "None" in done.stdout.splitlines(), done.stdout + done.stderr
    assert "ModuleNotFoundError: import of rfc3987_syntax halted" in done.stderr  # marked absent, not missing
    nbformat.validate(nbformat.read(tmp_path / "out" / "2026-10" / "01_quick.ipynb", as_version=4))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(("signum", "code", "message", "jobs"), [
    (signal.SIGTERM, 143, "error: terminated (SIGTERM); the month being built was discarded", 1),
    (signal.SIGINT, 130, "error: interrupted; the month being built was discarded", 1),
    (signal.SIGINT, 130, "error: interrupted; the month being built was discarded", 2),
], ids=["SIGTERM", "SIGINT", "SIGINT-jobs2"])
def test_a_killed_run_leaves_nothing_behind(signum, code, message, jobs, tmp_path, misuse_paths):
    """A real ``python -m kpilib report`` killed mid-notebook: the previous month stays as
    it was, no staging or aside folder is left, the kernel is shut down (also with
    notebooks running at once)."""
    started, kernel_pid = tmp_path / "started", tmp_path / "kernel.pid"
    notebooks = _slow_notebooks(tmp_path / "nb", started, kernel_pid)
    out = tmp_path / "reports"
    previous = out / "2026-10"
    previous.mkdir(parents=True)
    (previous / "index.html").write_text("the previous report")
    mark = f"KPILIB_TEST_RUN={tmp_path}"  # in the environment of the run and of every kernel it starts
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLI_ON_NOTEBOOKS, str(notebooks), "report", "--month", "2026-10",
         "--source", misuse_paths["data"], "--out", str(out), "--quiet", "--jobs", str(jobs)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "KPILIB_TEST_RUN": str(tmp_path)},
        # as in a terminal: a shell without job control starts background jobs with SIGINT
        # ignored, and a process that starts so never sees Ctrl-C
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 180
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert started.exists(), proc.communicate(timeout=60)
        staging = [p for p in out.iterdir() if p.name.startswith(".2026-10.tmp-")]
        assert len(staging) == 1 and f"-{proc.pid}-" in staging[0].name  # named by the run's pid
        assert (staging[0] / "01_slow.ipynb").is_file()  # papermill writes as it goes
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stderr
    assert stderr.splitlines()[-1] == message and "Traceback" not in stderr
    assert stdout == ""
    assert sorted(p.name for p in out.iterdir()) == ["2026-10"]  # no .tmp-* or .old-* left
    assert [p.name for p in previous.iterdir()] == ["index.html"]
    assert (previous / "index.html").read_text() == "the previous report"
    pid = int(kernel_pid.read_text())
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid), "the kernel outlived the run"
    # nor did any other kernel of the run (the next notebook's, started while the first ran)
    deadline = time.monotonic() + 30
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _marked(mark) == [], "a kernel started ahead outlived the run"


def _marked(mark: str) -> list[int]:
    """The live processes whose environment holds ``mark`` (``NAME=value``)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if mark.encode() in environ.read_bytes().split(b"\0") and _alive(int(environ.parent.name)):
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


def test_check_prints_each_tables_span_and_the_notes(tmp_path, capsys):
    folder = tmp_path / "mail"
    folder.mkdir()
    pd.DataFrame({
        "campaign": ["c"] * 3, "customer_id": ["a", "b", "c"], "sent_at": ["2026-10-01 08:00"] * 3,
        "bounce": ["none"] * 3, "opened_at": [None, "2026-10-01 09:00", None],
        "clicked_at": ["2026-10-01 10:00", None, "2026-10-02 10:00"],
        "unsubscribed_at": [None] * 3, "complained_at": [None] * 3,
    }).to_csv(folder / "email.csv", index=False)
    assert main(["check", "--source", str(folder)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"email\s+True\s+3\s+2026-10-01\s+2026-10-01", out)
    table_part = out.split("\n\nreport sections")[0]
    assert table_part.rstrip().endswith(
        "note: email.clicked_at: 2 of 3 rows are clicked with no recorded open; they count as opened")


@pytest.mark.parametrize(
    ("profile", "tables"),
    [("ecommerce", {"customers", "events", "orders", "email", "surveys", "spend"}),
     ("b2b-leads", {"customers", "events", "spend"})],
)
def test_sample_data_profiles(tmp_path, capsys, profile, tables):
    out = tmp_path / profile
    assert main(["sample-data", "--profile", profile, "--out", str(out), "--customers", "120",
                 "--start", "2026-01-01", "--end", "2026-03-31"]) == 0
    assert {p.stem for p in out.glob("*.parquet")} == tables
    truth = json.loads((out / "truth.json").read_text())
    assert truth["profile"] == profile and set(truth["tables"]) == tables
    assert main(["check", "--source", str(out)]) == 0
