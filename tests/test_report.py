"""Tests for kpilib.report: headline comparison, the papermill runner, HTML and the index."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import kpilib
from kpilib import metrics
from kpilib import report as kr
from kpilib.report import _checks, _folders, _headline, _html, _months, _pages, _pdf, _results, _run

SCRIPT = "<script>alert(1)</script>"
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
MONTH = "2026-10"

# Test-only metrics, registered in the kernel by the test notebooks and, in this
# process, through the ``test_metrics`` fixture (which removes them afterwards).
METRIC_ARGS = {
    "test_rate": dict(unit="rate", higher_is_better=True, title="Test conversion rate"),
    "test_count": dict(unit="count", higher_is_better=None, title="Test sign-ups"),
}


def _metric(name: str) -> metrics.Metric:
    return metrics.Metric(
        name=name, stage="acquisition", formula="x", definition="d", pitfalls="p",
        example=">>> 1\n1", **METRIC_ARGS[name],
    )  # fmt: skip


@pytest.fixture
def test_metrics(monkeypatch):
    for name in METRIC_ARGS:
        monkeypatch.setitem(metrics._REGISTRY, name, _metric(name))


def kpi_frame() -> pd.DataFrame:
    """Newcombe's 56/70 vs 48/80 as a rate, and a count without a test."""
    return pd.DataFrame(
        {
            "metric": ["test_rate", "test_rate", "test_count", "test_count"],
            "month": [MONTH, "2026-09", MONTH, "2026-09"],
            "value": [56 / 70, 48 / 80, 1500, 1400],
            "numerator": [56, 48, np.nan, np.nan],
            "denominator": [70, 80, np.nan, np.nan],
            "ci_low": [0.6920, 0.4904, np.nan, np.nan],
            "ci_high": [0.8760, 0.7036, np.nan, np.nan],
        }
    )


# --------------------------------------------------------------------------- notebooks

REGISTER_CELL = "\n".join(
    f"metrics.register(metrics.Metric(name={name!r}, stage='acquisition', formula='x', "
    f"definition='d', pitfalls='p', example='>>> 1\\n1', **{args!r}))"
    for name, args in METRIC_ARGS.items()
)

PARAMETERS_CELL = (
    'month: str = "2026-01"  # report month, YYYY-MM\n'
    "source = None  # folder with the data\n"
    'label: str = "default"  # an extra parameter\n'
)


def _notebook(title: str, *code: str) -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(f"# {title}\n\nSome *narrative*."),
        new_code_cell(PARAMETERS_CELL, metadata={"tags": ["parameters"]}),
        *(new_code_cell(c) for c in code),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


GOOD = _notebook(
    "Good notebook",
    "# SECRET_SOURCE_MARKER\nimport json, os, shutil, sys\nimport pandas as pd\n"
    "from kpilib import metrics, report\n" + REGISTER_CELL,
    "print(json.dumps({'month': month, 'source': source, 'label': label, 'cwd': os.getcwd(),\n"
    "                  'notebook': os.environ.get('KPILIB_REPORT_NOTEBOOK')}))\n"
    "print(json.dumps({'engine_memory': os.environ.get('KPILIB_ENGINE_MEMORY')}))",
    f"pd.DataFrame({{'campaign': [{SCRIPT!r}, 'spring'], 'sends': [10, 20]}})",
    f"pd.DataFrame({{'campaign': [{SCRIPT!r}], 'sends': [10]}}).style.highlight_max(subset=['sends'])",
    "kpis = pd.DataFrame({\n"
    "    'metric': ['test_rate', 'test_rate', 'test_count', 'test_count'],\n"
    "    'month': [month, report.previous_month(month)] * 2,\n"
    "    'value': [56 / 70, 48 / 80, 1500, 1400],\n"
    "    'numerator': [56, 48, None, None], 'denominator': [70, 80, None, None],\n"
    "    'ci_low': [0.692, 0.4904, None, None], 'ci_high': [0.876, 0.7036, None, None],\n"
    "})\n"
    "report.record_headline(kpis, month=month)",
)
FAILING = _notebook(
    "Failing notebook",
    "print('before the error')",
    "raise ValueError('broken on purpose <script>alert(2)</script>')",
    "print('never reached')",
)
PLAIN = _notebook("Plain notebook", "print('plain', month)")


def write_notebooks(folder: Path, **notebooks: nbformat.NotebookNode) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, nb in notebooks.items():
        nbformat.write(nb, folder / f"{stem}.ipynb")
    return folder


def stream_text(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    return "".join(
        o.get("text", "")
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.output_type == "stream"
    )


@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    """One real run over three notebooks (one failing); shared by several tests."""
    root = tmp_path_factory.mktemp("report")
    notebooks = write_notebooks(
        root / "notebooks", **{"01_good": GOOD, "02_failing": FAILING, "03_plain": PLAIN}
    )
    data = root / "data"
    data.mkdir()
    result = kr.run_report(
        MONTH,
        source=data,
        out=root / "reports",
        notebooks_dir=notebooks,
        parameters={"label": "from-test"},
        progress=False,
        check_data=False,  # an empty source: these notebooks do not read it
    )
    return result, root


# --------------------------------------------------------------------------- months, parameters


def test_previous_month():
    assert kr.previous_month("2026-01") == "2025-12"
    assert kr.previous_month("2026-10") == "2026-09"
    assert kr.previous_month("2000-03") == "2000-02"


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-10", "2026/10", "", "2026-00", None])
def test_month_is_validated(bad, tmp_path):
    with pytest.raises(ValueError, match="YYYY-MM"):
        kr.validate_month(bad)
    with pytest.raises(ValueError, match="YYYY-MM"):
        kr.run_report(bad, out=tmp_path, notebooks_dir=tmp_path, progress=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n=30", ("n", 30)),
        ("rate=0.25", ("rate", 0.25)),
        ("flag=True", ("flag", True)),
        ("nothing=None", ("nothing", None)),
        ("channels=['email', 'paid']", ("channels", ["email", "paid"])),
        ("channel=email", ("channel", "email")),
        ("quoted='01'", ("quoted", "01")),
        ("expr=1 + ", ("expr", "1 + ")),
        ("url=https://x.org/?a=b", ("url", "https://x.org/?a=b")),
        ("empty=", ("empty", "")),
    ],
)
def test_parse_parameter(text, expected):
    assert kr.parse_parameter(text) == expected


@pytest.mark.parametrize("bad", ["novalue", "=3", "two words=1", "1abc=2"])
def test_parse_parameter_rejects(bad):
    with pytest.raises(ValueError, match="NAME=VALUE"):
        kr.parse_parameter(bad)


# --------------------------------------------------------------------------- compare_months


def test_compare_months_matches_hand_computation(test_metrics):
    out = kr.compare_months(kpi_frame()).set_index("metric")
    rate = out.loc["test_rate"]
    # by hand: p1 = 0.8, p2 = 0.6, pooled p = 104/150
    pooled = 104 / 150
    z = 0.2 / math.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 80))
    assert rate["change"] == pytest.approx(0.2)
    assert rate["p_value"] == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert rate["change_ci_low"] == pytest.approx(0.0524, abs=5e-5)  # Newcombe (1998), method 10
    assert rate["change_ci_high"] == pytest.approx(0.3339, abs=5e-5)
    assert rate["significant"] is True
    assert (rate["title"], rate["unit"], rate["higher_is_better"]) == (
        "Test conversion rate",
        "rate",
        True,
    )
    assert (rate["numerator"], rate["denominator"]) == (56, 70)
    assert (rate["previous_numerator"], rate["previous_denominator"]) == (48, 80)
    assert (rate["month"], rate["previous_month"]) == (MONTH, "2026-09")

    count = out.loc["test_count"]
    assert count["change"] == 100
    assert count["significant"] is None  # never claimed without a test
    assert np.isnan(count["p_value"]) and np.isnan(count["change_ci_low"])
    assert count["higher_is_better"] is None
    assert list(out.index) == ["test_rate", "test_count"]


def test_compare_months_not_significant_and_small_sample(test_metrics):
    kpis = kpi_frame()
    kpis.loc[0, ["value", "numerator", "denominator"]] = [11 / 20, 11, 20]
    out = kr.compare_months(kpis).set_index("metric")
    assert out.loc["test_rate", "significant"] is False
    assert out.loc["test_rate", "small_sample"]
    assert not out.loc["test_count", "small_sample"]


def test_compare_months_picks_report_month_and_handles_missing_previous(test_metrics):
    kpis = kpi_frame()
    older = kpis.iloc[:1].assign(month="2026-08", value=0.1)
    only_current = kpis[kpis["month"] == MONTH]
    out = kr.compare_months(pd.concat([kpis, older]), month=MONTH).set_index("metric")
    assert out.loc["test_rate", "previous_value"] == pytest.approx(0.6)
    alone = kr.compare_months(only_current).set_index("metric")
    assert np.isnan(alone.loc["test_rate", "change"])
    assert alone.loc["test_rate", "significant"] is None
    periods = kpis.assign(month=pd.PeriodIndex(kpis["month"], freq="M"))
    pd.testing.assert_frame_equal(kr.compare_months(periods), kr.compare_months(kpis))


def test_compare_months_validation(test_metrics):
    with pytest.raises(ValueError, match=r"missing column\(s\) 'ci_low', 'ci_high'"):
        kr.compare_months(kpi_frame().drop(columns=["ci_low", "ci_high"]))
    with pytest.raises(ValueError, match="more than one row for: test_rate 2026-10"):
        kr.compare_months(pd.concat([kpi_frame(), kpi_frame().iloc[:1]]))
    with pytest.raises(ValueError, match="YYYY-MM"):
        kr.compare_months(kpi_frame().assign(month="October"))
    with pytest.raises(ValueError, match="no rows"):
        kr.compare_months(kpi_frame().iloc[:0])
    with pytest.raises(KeyError, match="no metric named 'not_a_metric'"):
        kr.compare_months(kpi_frame().assign(metric="not_a_metric").iloc[:1])


def test_headline_mimebundle(test_metrics):
    headline = kr.record_headline(kpi_frame())
    bundle = headline._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", kr.HEADLINE_MIMETYPE}
    data = bundle[kr.HEADLINE_MIMETYPE]
    json.dumps(data, allow_nan=False)  # strictly JSON-able: no NaN, no numpy scalars
    assert data["month"] == MONTH
    assert [m["metric"] for m in data["metrics"]] == ["test_rate", "test_count"]
    assert data["metrics"][1]["numerator"] is None and data["metrics"][1]["significant"] is None
    html = bundle["text/html"]
    assert "Test conversion rate" in html and "80.0%" in html and "+20.0 pp" in html
    assert "1,500" in html and "1,400" in html and "+100" in html
    assert "Test conversion rate" in bundle["text/plain"] and "yes" in bundle["text/plain"]


def test_headline_html_is_escaped(monkeypatch):
    monkeypatch.setitem(
        metrics._REGISTRY,
        "test_rate",
        metrics.Metric(**{**_metric("test_rate").__dict__, "title": SCRIPT}),
    )
    html = kr.record_headline(kpi_frame().iloc[:2]).to_html()
    assert SCRIPT not in html and SCRIPT_ESCAPED in html


def test_formatting_by_unit():
    assert kr.format_value(0.1234, "rate") == "12.3%"
    assert kr.format_value(1234567, "count") == "1,234,567"
    assert kr.format_value(float("nan"), "rate") == "—"
    assert kr.format_change(-0.012, "rate") == "−1.2 pp"
    assert kr.format_change(2500, "count") == "+2,500"


# --------------------------------------------------------------------------- notebook selection


def test_select_notebooks(tmp_path):
    folder = write_notebooks(
        tmp_path, **{"01_funnel": PLAIN, "00_glossary": PLAIN, "02_churn": PLAIN}
    )
    assert [p.stem for p in kr.select_notebooks(folder)] == ["00_glossary", "01_funnel", "02_churn"]
    assert [p.stem for p in kr.select_notebooks(folder, ["funnel"])] == ["01_funnel"]
    assert [p.stem for p in kr.select_notebooks(folder, ["02_churn", "glossary"])] == [
        "00_glossary",
        "02_churn",
    ]
    assert [p.stem for p in kr.select_notebooks(folder, "funnel")] == ["01_funnel"]
    with pytest.raises(ValueError, match="no notebook named 'clv'; available: 00_glossary"):
        kr.select_notebooks(folder, ["clv"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no notebooks"):
        kr.select_notebooks(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        kr.select_notebooks(tmp_path / "missing")


def test_bad_arguments_fail_before_running(tmp_path, monkeypatch):
    folder = write_notebooks(tmp_path / "nb", **{"01_plain": PLAIN})
    monkeypatch.setattr(_run, "_run_notebook", _fake_run("never"))
    (tmp_path / "file").write_text("not a folder")
    nope, file = tmp_path / "nope", tmp_path / "file"
    cases = [
        (dict(source=nope), f"source '{nope}' does not exist (resolved to '{nope}')"),
        (dict(source=file), f"source '{file}' is not a folder: pass the folder that holds the table files"),
        (dict(source=""), "source is empty: pass a folder of the data, or nothing for the bundled sample"),
        (dict(parameters={"month": "x"}), "pass 'month' as the month= argument, not in parameters"),
        (dict(parameters={"a b": 1}), "parameter name 'a b' is not a Python identifier"),
        (dict(only=["nope"]), "no notebook named 'nope'; available: 01_plain"),
        (dict(out=file), f"out '{file}' is a file: it must be a folder"),
        (dict(out=file / "below"), f"out '{file / 'below'}' is below a file ('{file}'): it must be a folder"),
        (dict(notebooks_dir=nope), f"notebooks folder '{nope}' does not exist"),
    ]
    for kwargs, message in cases:
        options = {"out": tmp_path / "r", "notebooks_dir": folder, "progress": False, **kwargs}
        with pytest.raises(kr.ReportArgumentError) as caught:
            kr.run_report(MONTH, **options)
        assert str(caught.value) == message
        with pytest.raises(kr.ReportArgumentError) as caught:
            kr.run_history(MONTH, MONTH, **options)
        assert str(caught.value) == message
    with pytest.raises(kr.ReportArgumentError) as caught:
        kr.run_report("2026-10\n", out=tmp_path / "r", notebooks_dir=folder)
    assert str(caught.value) == "month must look like 'YYYY-MM' (e.g. '2026-10'), got '2026-10\\n'"
    with pytest.raises(kr.ReportArgumentError, match=r"^the last month \(2026-09\) comes before the first \(2026-10\)$"):
        kr.run_history("2026-10", "2026-09", out=tmp_path / "r", notebooks_dir=folder)
    assert not (tmp_path / "r").exists()
    assert issubclass(kr.ReportArgumentError, ValueError)


def _tiny_source(folder: Path, times: list[str], amounts: list[float] | None = None) -> Path:
    """A source with one table: an order per time."""
    folder.mkdir(parents=True)
    pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(len(times))], "ts": times,
        "amount": amounts or [10.0] * len(times),
    }).to_csv(folder / "orders.csv", index=False)  # fmt: skip
    return folder


def test_months_without_data_are_refused_before_anything_runs(tmp_path, monkeypatch):
    folder = write_notebooks(tmp_path / "nb", **{"01_plain": PLAIN})
    calls: list[str] = []
    monkeypatch.setattr(_run, "_run_notebook", _fake_run("run", calls=calls))
    data = _tiny_source(tmp_path / "data", ["2026-10-15 08:00", "2026-12-02 23:30"])
    options = {"source": data, "out": tmp_path / "r", "notebooks_dir": folder, "progress": False}
    span = "the source's data run from 2026-10-15 to 2026-12-02"
    with pytest.raises(kr.ReportArgumentError) as caught:
        kr.run_report("2030-01", **options)
    assert str(caught.value) == f"no data for 2030-01: {span}"
    with pytest.raises(kr.ReportArgumentError) as caught:
        kr.run_report("2026-09", **options)
    assert str(caught.value) == f"no data for 2026-09: {span}"
    with pytest.raises(kr.ReportArgumentError) as caught:  # the whole range is refused
        kr.run_history("2026-08", "2027-02", **options)
    assert str(caught.value) == f"no data for 2026-08 to 2026-09 and 2027-01 to 2027-02: {span}"
    assert calls == [] and not (tmp_path / "r").exists()
    # a month partly covered runs (the data start mid-October, end early December)
    results = kr.run_history("2026-10", "2026-12", **options)
    assert [r.month for r in results] == ["2026-10", "2026-11", "2026-12"] and len(calls) == 3
    assert results[0].row_counts == {"orders": 2} and results[0].source == str(data.resolve())
    # a source without any dated row has no month
    empty = _tiny_source(tmp_path / "empty", [])
    with pytest.raises(kr.ReportArgumentError) as caught:
        kr.run_report(MONTH, **{**options, "source": empty})
    assert str(caught.value) == "no data for 2026-10: the source holds no dated rows"
    # a URL source is checked up front like a folder; check_data=False skips the check
    with pytest.raises(kpilib.DataError, match="the DuckDB database /nowhere.db does not exist"):
        _checks._check_data("duckdb:///nowhere.db", ["2030-01"])
    assert kr.run_report("2030-01", **options, check_data=False).ok


def test_data_breaking_the_contract_fail_before_anything_runs(tmp_path, monkeypatch):
    from kpilib.data import DataError

    folder = write_notebooks(tmp_path / "nb", **{"01_plain": PLAIN})
    calls: list[str] = []
    monkeypatch.setattr(_run, "_run_notebook", _fake_run("run", calls=calls))
    bad = _tiny_source(tmp_path / "bad", ["2026-10-01"], amounts=[-3.0])
    for run in (lambda **kw: kr.run_report(MONTH, **kw), lambda **kw: kr.run_history(MONTH, MONTH, **kw)):
        with pytest.raises(DataError, match=r"^table 'orders', column 'amount': .*negative"):
            run(source=bad, out=tmp_path / "r", notebooks_dir=folder, progress=False)
    assert calls == [] and not (tmp_path / "r").exists()


def test_month_runs():
    assert _months._month_runs(["2026-10"]) == "2026-10"
    assert _months._month_runs(["2026-09", "2026-10"]) == "2026-09 to 2026-10"
    assert _months._month_runs(["2025-12", "2026-01", "2026-05", "2026-07", "2026-08"]) == (
        "2025-12 to 2026-01, 2026-05 and 2026-07 to 2026-08"
    )


# --------------------------------------------------------------------------- a real run


def test_files_written_per_notebook(report_run):
    result, root = report_run
    folder = root / "reports" / MONTH
    assert result.path == folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{stem}.{ext}"
        for stem in ("01_good", "02_failing", "03_plain")
        for ext in ("ipynb", "html", "json")
    ) + ["index.html", "index.json"]
    assert [s.notebook for s in result.notebooks] == ["01_good", "02_failing", "03_plain"]
    assert [s.title for s in result.notebooks] == [
        "Good notebook",
        "Failing notebook",
        "Plain notebook",
    ]
    # no temp or aside folders left behind; the overview of all months beside the month
    assert sorted(p.name for p in (root / "reports").iterdir()) == [MONTH, "index.html"]
    manifest = json.loads((folder / "index.json").read_text())
    assert manifest["month"] == MONTH
    assert manifest["notebooks"] == ["01_good", "02_failing", "03_plain"]
    assert manifest["failed"] == ["02_failing"]
    assert manifest["kpilib_version"] == kpilib.__version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", manifest["run_at"])


def test_parameters_injected_and_cwd(report_run):
    result, root = report_run
    printed = json.loads(stream_text(root / "reports" / MONTH / "01_good.ipynb").splitlines()[0])
    assert printed == {
        "month": MONTH,
        "source": str((root / "data").resolve()),
        "label": "from-test",
        "cwd": str((root / "notebooks").resolve()),
        "notebook": "01_good",
    }
    assert f"plain {MONTH}" in stream_text(root / "reports" / MONTH / "03_plain.ipynb")


def test_html_has_no_code(report_run):
    _, root = report_run
    html = (root / "reports" / MONTH / "01_good.html").read_text()
    assert "Some <em>narrative</em>" in html  # markdown stays
    assert "SECRET_SOURCE_MARKER" not in html
    assert "record_headline" not in html and "highlight_max" not in html
    assert 'class="jp-InputPrompt' not in html and 'class="jp-OutputPrompt' not in html
    assert 'class="jp-CodeMirrorEditor' not in html and 'class="highlight' not in html
    # the only input areas left hold rendered Markdown
    inner = re.findall(r'<div class="jp-InputArea[^"]*">\s*<div class="([^"]*)"', html)
    assert inner and all("jp-MarkdownOutput" in c for c in inner)
    assert "Headline KPIs, 2026-10" in html and "Test conversion rate" in html


def test_json_has_headline_metrics(report_run):
    _, root = report_run
    data = json.loads((root / "reports" / MONTH / "01_good.json").read_text())
    assert {k: data[k] for k in ("notebook", "month", "status", "error")} == {
        "notebook": "01_good", "month": MONTH, "status": "ok", "error": None,
    }  # fmt: skip
    rate, count = data["metrics"]
    assert rate["metric"] == "test_rate" and count["metric"] == "test_count"
    assert (rate["value"], rate["numerator"], rate["denominator"]) == (pytest.approx(0.8), 56, 70)
    assert (rate["ci_low"], rate["ci_high"]) == (0.692, 0.876)
    assert (rate["previous_value"], rate["previous_numerator"], rate["previous_denominator"]) == (
        pytest.approx(0.6), 48, 80,
    )  # fmt: skip
    assert (rate["previous_ci_low"], rate["previous_ci_high"]) == (0.4904, 0.7036)
    assert rate["change_ci_low"] == pytest.approx(0.0524, abs=5e-5)
    assert rate["significant"] is True
    assert (count["value"], count["previous_value"], count["change"]) == (1500, 1400, 100)
    assert count["numerator"] is None and count["significant"] is None
    plain = json.loads((root / "reports" / MONTH / "03_plain.json").read_text())
    assert plain["status"] == "ok" and plain["metrics"] == []


def test_failing_notebook_is_reported_and_others_run(report_run):
    result, root = report_run
    folder = root / "reports" / MONTH
    assert result.failed == ["02_failing"] and not result.ok
    failing = json.loads((folder / "02_failing.json").read_text())
    assert failing["status"] == "failed"
    assert failing["error"].startswith("ValueError: broken on purpose")
    html = (folder / "02_failing.html").read_text()
    assert "broken on purpose" in html and "ValueError" in html
    assert "before the error" in html and "never reached" not in html
    assert "before the error" in stream_text(folder / "02_failing.ipynb")  # executed copy kept
    assert [s.status for s in result.notebooks] == ["ok", "failed", "ok"]
    index = (folder / "index.html").read_text()
    assert re.search(r'<li class="failed"><a href="02_failing.html">Failing notebook</a>\s*'
                     r'<span class="status failed">FAILED</span>', index)  # fmt: skip
    assert "1 of 3 notebook(s) failed" in index
    assert index.count('class="status ok"') == 2


def test_index_table(report_run):
    _, root = report_run
    index = (root / "reports" / MONTH / "index.html").read_text()
    for href in (
        "01_good.html",
        "02_failing.html",
        "03_plain.html",
        "01_good.json",
        "01_good.ipynb",
    ):
        assert f'href="{href}"' in index
    row = re.search(r"<td>Test conversion rate.*?</tr>", index, re.S).group(0)
    cells = [
        re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]
    assert cells[1][:1] == ["80.0%"] and cells[2] == ["60.0%"] and cells[3] == ["+20.0", "pp"]
    assert cells[4] == ["[+5.2", "pp,", "+33.4", "pp]"] and cells[5] == ["yes"]
    count_row = re.search(r"<td>Test sign-ups.*?</tr>", index, re.S).group(0)
    assert "1,500" in count_row and "1,400" in count_row and ">yes<" not in count_row
    assert "http://" not in index and "https://" not in index and "<script" not in index
    assert "<link" not in index


def test_nothing_data_derived_reaches_html_unescaped(report_run):
    _, root = report_run
    folder = root / "reports" / MONTH
    # the Styler's HTML output in the executed notebook is raw: the sanitiser must catch it
    executed = nbformat.read(folder / "01_good.ipynb", as_version=4)
    html_outputs = [
        o.data["text/html"]
        for c in executed.cells
        for o in c.get("outputs", [])
        if "text/html" in o.get("data", {})
    ]
    assert any(SCRIPT in h for h in html_outputs)
    good = (folder / "01_good.html").read_text()
    assert SCRIPT not in good
    assert good.count(SCRIPT_ESCAPED) == 2  # the DataFrame and the Styler
    failing = (folder / "02_failing.html").read_text()
    assert "<script>alert(2)</script>" not in failing and "&lt;script&gt;alert(2)" in failing
    index = (folder / "index.html").read_text()
    assert "<script>alert(2)</script>" not in index and "&lt;script&gt;alert(2)" in index


def test_index_escapes_everything():
    status = kr.NotebookStatus(
        notebook="01_x", title=SCRIPT, status="failed", error=SCRIPT,
        metrics=[{"metric": "m", "title": SCRIPT, "unit": "count", "value": 1.0}],
    )  # fmt: skip
    report = kr.ReportResult(
        month=MONTH, path=Path("nowhere"), notebooks=[status], failed=["01_x"], source=SCRIPT,
        row_counts={"events": 3},
    )  # fmt: skip
    html = kr.render_index(report, previous_report="2026-09")
    assert SCRIPT not in html and html.count(SCRIPT_ESCAPED) >= 5
    assert 'href="../2026-09/index.html"' in html and 'rel="next"' not in html


# --------------------------------------------------------------------------- kernel


def test_kernel_uses_callers_interpreter(tmp_path, monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager

    # A python3 kernel spec that points elsewhere takes precedence (JUPYTER_PATH) ...
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "wrong", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # ... and the venv is not on PATH, as when the venv's python is called by its path.
    monkeypatch.setenv("PATH", os.pathsep.join(["/usr/bin", "/bin"]))
    assert KernelSpecManager().get_kernel_spec("python3").argv[0] == "/nonexistent/python"
    # A headless MPLBACKEND would keep figures out of the report.
    monkeypatch.setenv("MPLBACKEND", "Agg")

    code = "import json, shutil, sys\nprint(json.dumps([sys.executable, shutil.which('python')]))"
    plot = "import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4]);"
    folder = write_notebooks(tmp_path / "nb", **{"01_which": _notebook("Which", code, plot)})
    result = kr.run_report(MONTH, out=tmp_path / "out", notebooks_dir=folder, progress=False)
    assert result.ok, result.notebooks
    executable, on_path = json.loads(stream_text(result.path / "01_which.ipynb"))
    assert executable == sys.executable
    assert os.path.dirname(on_path) == os.path.dirname(sys.executable)
    executed = nbformat.read(result.path / "01_which.ipynb", as_version=4)
    outputs = [o for c in executed.cells for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert re.search(r'<img [^>]*src="data:image/png', (result.path / "01_which.html").read_text())


def test_kernels_spill_inside_the_month_being_built_and_leave_nothing(tmp_path):
    """A notebook's engine spills to a folder of the month being built, not to ``.tmp``
    in the notebooks folder; its kernel is killed when its last cell is done (no exit of
    its own to clean up), and the folder goes with the run: nothing of it is left."""
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-01"], "amount": [1.0]}).to_csv(
        data / "orders.csv", index=False)
    spill = _notebook(
        "Spill",
        "import atexit, json, os, pathlib\nimport kpilib\n"
        f"atexit.register(pathlib.Path({str(tmp_path / 'exited')!r}).touch)\n"
        "con = kpilib.load_dataset(source).orders._find_backend().con\n"
        "con.execute(\"set memory_limit='100MB'; set threads=1\")\n"
        "folder = con.execute(\"select current_setting('temp_directory')\").fetchone()[0]\n"
        "rows = con.execute('select count(*), sum(r) from (select row_number() over (order by s) r "
        "from (select md5(i::varchar) s from range(3000000) t(i)))').fetchone()\n"
        "print(json.dumps({'folder': folder, 'rows': rows, 'spilled': os.listdir(folder)}))",
    )
    folder = write_notebooks(tmp_path / "nb", **{"01_spill": spill})
    result = kr.run_report(MONTH, source=data, out=tmp_path / "out", notebooks_dir=folder, progress=False)
    assert result.ok, result.notebooks
    seen = json.loads(stream_text(result.path / "01_spill.ipynb"))
    assert seen["rows"] == [3_000_000, 3_000_000 * 3_000_001 // 2] and seen["spilled"], seen  # it spilled, there
    where = Path(seen["folder"])
    assert where.name == ".spill" and where.parent.parent == tmp_path / "out"
    assert not where.exists()
    assert not list(tmp_path.rglob(".spill")) and not (folder / ".tmp").exists()
    assert not (tmp_path / "exited").exists()  # killed: its own exit never ran


def test_an_executed_notebook_is_written_once_at_the_end_and_also_when_its_kernel_dies(tmp_path, monkeypatch):
    """papermill writes the executed notebook before and after every cell (2 per cell);
    the report writes it when the notebook is done — and still when its kernel dies in a
    cell, so that the failed notebook's page shows the cells that ran."""
    import papermill.engines
    import papermill.execute

    writes: list[str] = []
    real = papermill.engines.write_ipynb

    def counted(nb, path):
        writes.append(Path(path).name)
        return real(nb, path)

    monkeypatch.setattr(papermill.engines, "write_ipynb", counted)
    monkeypatch.setattr(papermill.execute, "write_ipynb", counted)
    many = _notebook("Many cells", *(f"print({i})" for i in range(10)))
    dying = _notebook("Dying", "print('before the kernel died')", "import os\nos._exit(3)", "print('never')")
    folder = write_notebooks(tmp_path / "nb", **{"01_many": many, "02_dying": dying})
    result = kr.run_report(MONTH, out=tmp_path / "out", notebooks_dir=folder, progress=False, check_data=False)
    assert writes.count("01_many.ipynb") <= 3  # papermill alone: 2 + 2 × 12 cells
    assert stream_text(result.path / "01_many.ipynb").split() == [str(i) for i in range(10)]
    died = {s.notebook: s for s in result.notebooks}["02_dying"]
    assert died.status == "failed" and "DeadKernelError" in died.error
    assert "before the kernel died" in stream_text(result.path / "02_dying.ipynb")
    assert "before the kernel died" in (result.path / "02_dying.html").read_text()


def test_report_kernels_run_blas_on_one_thread_unless_told_otherwise(tmp_path, monkeypatch):
    """OpenBLAS' spinning workers only take the cores from the engine: a report kernel is
    started with one BLAS thread (OpenBLAS reads the variable when numpy loads it) unless
    the caller set its own number."""
    code = "import json, os\nprint(json.dumps(os.environ.get('OPENBLAS_NUM_THREADS')))"
    folder = write_notebooks(tmp_path / "nb", **{"01_blas": _notebook("BLAS", code)})
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    one = kr.run_report(MONTH, out=tmp_path / "a", notebooks_dir=folder, progress=False, check_data=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    two = kr.run_report(MONTH, out=tmp_path / "b", notebooks_dir=folder, progress=False, check_data=False)
    assert json.loads(stream_text(one.path / "01_blas.ipynb").splitlines()[0]) == "1"
    assert json.loads(stream_text(two.path / "01_blas.ipynb").splitlines()[0]) == "2"


# --------------------------------------------------------------------------- atomic replacement


def _fake_run(
    marker: str,
    fail_at: int | None = None,
    error: type[BaseException] = RuntimeError,
    calls: list[str] | None = None,
):
    """Replacement for ``_run_notebook`` that writes files without a kernel."""
    calls = [] if calls is None else calls

    def run(path, staging, params, cwd, exporter):
        calls.append(path.stem)
        if fail_at is not None and len(calls) == fail_at:
            raise error("crash midway")
        for ext in ("ipynb", "html"):
            (staging / f"{path.stem}.{ext}").write_text(marker)
        return kr.NotebookStatus(notebook=path.stem, title=path.stem, status="ok")

    return run


def test_rerun_replaces_month(tmp_path, monkeypatch, capsys):
    folder = write_notebooks(tmp_path / "nb", **{"01_a": PLAIN, "02_b": PLAIN})
    out = tmp_path / "reports"
    monkeypatch.setattr(_run, "_run_notebook", _fake_run("first"))
    kr.run_report(MONTH, out=out, notebooks_dir=folder, progress=True, check_data=False)
    assert "notebook" in capsys.readouterr().err  # the progress bar, on stderr
    (out / MONTH / "stale.txt").write_text("from an older run")

    monkeypatch.setattr(_run, "_run_notebook", _fake_run("second"))
    result = kr.run_report(MONTH, out=out, notebooks_dir=folder, only=["b"], progress=False,
                           check_data=False)
    assert result.path == out / MONTH
    assert sorted(p.name for p in (out / MONTH).iterdir()) == [
        "02_b.html",
        "02_b.ipynb",
        "02_b.json",
        "index.html",
        "index.json",
    ]
    assert (out / MONTH / "02_b.html").read_text() == "second"
    assert sorted(p.name for p in out.iterdir()) == [MONTH, "index.html"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_crash_midway_keeps_previous_month(tmp_path, monkeypatch, error):
    folder = write_notebooks(tmp_path / "nb", **{"01_a": PLAIN, "02_b": PLAIN, "03_c": PLAIN})
    out = tmp_path / "reports"
    monkeypatch.setattr(_run, "_run_notebook", _fake_run("first"))
    kr.run_report(MONTH, out=out, notebooks_dir=folder, progress=False, check_data=False)
    before = {p.name: p.read_bytes() for p in (out / MONTH).iterdir()}

    monkeypatch.setattr(_run, "_run_notebook", _fake_run("second", fail_at=2, error=error))
    with pytest.raises(error, match="crash midway"):
        kr.run_report(MONTH, out=out, notebooks_dir=folder, progress=False, check_data=False)
    assert {p.name: p.read_bytes() for p in (out / MONTH).iterdir()} == before
    assert sorted(p.name for p in out.iterdir()) == [MONTH, "index.html"]  # no .tmp-* left


def _month_folders(tmp_path: Path, old: str | None) -> tuple[Path, Path]:
    final, staging = tmp_path / MONTH, tmp_path / f".{MONTH}.tmp-x"
    staging.mkdir()
    (staging / "index.html").write_text("new")
    if old is not None:
        final.mkdir()
        (final / "index.html").write_text(old)
    return staging, final


def test_swap_in(tmp_path):
    staging, final = _month_folders(tmp_path, old=None)
    _folders._swap_in(staging, final)
    assert (final / "index.html").read_text() == "new"
    staging, final = _month_folders(tmp_path, old=None)  # the month folder exists already
    (staging / "index.html").write_text("newer")
    _folders._swap_in(staging, final)
    assert (final / "index.html").read_text() == "newer"
    assert [p.name for p in tmp_path.iterdir()] == [MONTH]


def test_failed_swap_restores_previous_month(tmp_path, monkeypatch):
    staging, final = _month_folders(tmp_path, old="old")
    rename = Path.rename

    def failing_rename(self, target):
        if self == staging:
            raise OSError("disk full")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing_rename)
    with pytest.raises(OSError, match="disk full"):
        _folders._swap_in(staging, final)
    assert (final / "index.html").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([MONTH, staging.name])


def _dead_pid() -> int:
    """The id of a process that has just exited (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_leftovers_of_killed_runs_are_removed_and_live_ones_kept(tmp_path, monkeypatch):
    folder = write_notebooks(tmp_path / "nb", **{"01_a": PLAIN})
    out = tmp_path / "reports"
    monkeypatch.setattr(_run, "_run_notebook", _fake_run("first"))
    kr.run_report(MONTH, out=out, notebooks_dir=folder, progress=False, check_data=False)
    host, dead, alive = _folders._host_tag(), _dead_pid(), os.getppid()
    other = "0" * 8 if host != "0" * 8 else "1" * 8
    old = 3 * 24 * 3600
    made = {
        f".{MONTH}.tmp-{dead}-{host}-abc123": (True, 0),        # a killed run's staging
        f".{MONTH}.old-{dead}-{host}-0f0f0f0f": (True, 0),      # its previous month, aside
        f".index.html.tmp-{dead}-{host}-a1b2c3d4": (True, 0),   # a partial overview
        f".{MONTH}.tmp-{alive}-{host}-live01": (False, 0),      # a run in progress
        f".{MONTH}.tmp-{dead}-{other}-remote": (False, 0),      # another host, recent
        f".{MONTH}.tmp-{dead}-{other}-stale01": (True, old),    # another host, days old
        f".{MONTH}.tmp-4ftq0f2g": (True, old),                  # an older run's name, days old
        f".{MONTH}.tmp-9xk2m1ab": (False, 0),                   # ... and a recent one
        ".hidden": (False, old),                                # not ours
    }
    now = time.time()
    for name, (_, age) in made.items():
        path = out / name
        if name.startswith((".index.html", ".hidden")):
            path.write_text("x")
        else:
            path.mkdir()
        os.utime(path, (now - age, now - age))
    (out / MONTH / f".report.pdf.tmp-{dead}-{host}-deadbeef").write_text("partial")
    (out / MONTH / f".report.pdf.tmp-{alive}-{host}-cafebabe").write_text("being printed")

    monkeypatch.setattr(_run, "_run_notebook", _fake_run("second"))
    kr.run_report(MONTH, out=out, notebooks_dir=folder, progress=False, check_data=False)
    kept = sorted(p.name for p in out.iterdir())
    assert kept == sorted([MONTH, "index.html", *(n for n, (gone, _) in made.items() if not gone)])
    # the month was rebuilt: only what a live run owns is left in it
    assert [p.name for p in (out / MONTH).glob(".*")] == []
    assert _folders._LEFTOVER.fullmatch(_folders._temp_prefix(MONTH) + "x1y2z3")["pid"] == str(os.getpid())


def test_sigterm_raises_during_a_run_and_the_handler_is_restored():
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with pytest.raises(SystemExit) as caught, _run._sigterm_as_exception():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100):  # the handler runs between bytecodes
            time.sleep(0.01)
    assert caught.value.code == 143
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    # a program's own handler stays in charge
    seen = []
    signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with _run._sigterm_as_exception():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_interrupted_swap_still_removes_the_old_month(tmp_path, monkeypatch):
    staging, final = _month_folders(tmp_path, old="old")
    rmtree, calls = _folders.shutil.rmtree, []

    def interrupted_once(path, *args, **kwargs):
        calls.append(Path(path).name)
        if len(calls) == 1:
            raise KeyboardInterrupt  # a signal in the middle of the deletion
        return rmtree(path, *args, **kwargs)

    monkeypatch.setattr(_folders.shutil, "rmtree", interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        _folders._swap_in(staging, final)
    assert (final / "index.html").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == [MONTH]  # no .old-* left
    assert len(calls) == 2 and calls[0].startswith(f".{MONTH}.old-{os.getpid()}-{_folders._host_tag()}-")


# --------------------------------------------------------------------------- the real notebooks


#: The last month of the generated sample (kpilib.synth.write_sample ends 2026-10-31).
REAL_MONTH = "2026-10"


def test_real_notebooks_end_to_end(small_sample_report):
    """The repository's notebooks on a small generated sample, through the whole report."""
    notebooks = sorted(kr.default_notebooks_dir().glob("*.ipynb"))
    assert {"00_glossary", "01_funnel"} <= {p.stem for p in notebooks}
    result, folder = small_sample_report  # kpilib.synth.write_sample, see conftest.py
    assert result.ok, [(s.notebook, s.error) for s in result.notebooks if not s.ok]
    assert (folder / "index.html").is_file()
    index = (folder / "index.html").read_text()
    for path in notebooks:
        for ext in ("ipynb", "html", "json"):
            assert (folder / f"{path.stem}.{ext}").is_file()
        assert f'href="{path.stem}.html"' in index
        assert json.loads((folder / f"{path.stem}.json").read_text())["status"] == "ok"
    funnel = json.loads((folder / "01_funnel.json").read_text())
    assert funnel["metrics"], "01_funnel should record its headline KPIs with record_headline"
    for record in funnel["metrics"]:
        assert record["month"] == REAL_MONTH and record["value"] is not None


SCRIPT = "<script>alert(1)</script>"


def test_cli_on_real_notebooks_escapes_campaigns_and_exits_non_zero_on_failure(
    tmp_path, small_sample, capsys
):
    """The command line end to end: a hostile campaign name in the data reaches the
    funnel page only escaped; a notebook that fails (a bad parameter) gives exit 1, an
    error page and a FAILED mark in the index, while the other notebook still renders."""
    import shutil

    from kpilib.__main__ import main

    data = tmp_path / "data"
    shutil.copytree(small_sample, data)
    events = pd.read_parquet(data / "events.parquet")
    campaigns = events["campaign"].dropna().unique()
    events["campaign"] = events["campaign"].replace({campaigns[0]: SCRIPT})
    events.to_parquet(data / "events.parquet")

    out = tmp_path / "reports"
    code = main(["report", "--month", REAL_MONTH, "--source", str(data), "--out", str(out),
                 "--only", "funnel", "-p", "breakdown=campaign", "--quiet"])
    assert code == 0, capsys.readouterr().err
    page = (out / REAL_MONTH / "01_funnel.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert SCRIPT not in page

    code = main(["report", "--month", REAL_MONTH, "--source", str(data), "--out", str(out),
                 "--only", "glossary,funnel", "-p", "window=banana", "--quiet", "--jobs", "2"])
    assert code == 1
    assert "failed: 01_funnel" in capsys.readouterr().err
    folder = out / REAL_MONTH
    assert json.loads((folder / "01_funnel.json").read_text())["status"] == "failed"
    assert "banana" in (folder / "01_funnel.html").read_text()
    assert json.loads((folder / "00_glossary.json").read_text())["status"] == "ok"
    assert "FAILED" in (folder / "index.html").read_text()


# --------------------------------------------------------------------------- month ranges


def test_next_month_and_month_range():
    assert kr.next_month("2026-12") == "2027-01"
    assert kr.month_range("2026-10", "2026-10") == ["2026-10"]
    assert kr.month_range("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    with pytest.raises(ValueError, match="comes before"):
        kr.month_range("2026-10", "2026-09")
    with pytest.raises(ValueError, match="YYYY-MM"):
        kr.month_range("2026-1", "2026-09")


# --------------------------------------------------------------------------- format_table


def _cells(html: str) -> list[str]:
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in cells]


def test_format_table_formats_by_column():
    frame = pd.DataFrame(
        {
            "channel": ["email", "paid"],
            "users": [12500, 300],
            "conversion": [0.1234, 0.05],
            "ci_low": [0.11, 0.03],
            "ci_high": [0.14, 0.07],
            "mean_days": [1234.5678, np.nan],
            "p_value": [0.0004, 0.25],
            "small_sample": [False, True],
            "first_sent_at": pd.to_datetime(["2026-10-01 15:30", "2026-10-02 00:00"]),
            "period": pd.to_datetime(["2026-10-01", "2026-11-01"]),
            "nps": [12.0, -3.5],
            "mrr_total": [99.0, 1500.0],
        }
    )
    cells = _cells(kr.format_table(frame).to_html())
    assert cells[:12] == [
        "email", "12,500", "12.3%", "11.0%", "14.0%", "1,234.57", "<0.001", "no",
        "2026-10-01 15:30", "2026-10-01", "12.00", "99",
    ]  # fmt: skip
    assert cells[12:] == [
        "paid", "300", "5.0%", "3.0%", "7.0%", "—", "0.250", "yes",
        "2026-10-02 00:00", "2026-11-01", "-3.50", "1,500",
    ]  # fmt: skip


def test_format_table_intervals_follow_their_column():
    frame = pd.DataFrame(
        {
            "nps": [20.5], "ci_low": [-5.0], "ci_high": [45.0],            # points, not %
            "agree": [3], "agree_rate": [0.5], "agree_ci_low": [0.2],      # the rate's interval
            "mean": [4.2], "mean_ci_low": [3.9],                           # a mean's interval
        }
    )  # fmt: skip
    assert _cells(kr.format_table(frame).to_html()) == [
        "20.50", "-5.00", "45.00", "3", "50.0%", "20.0%", "4.20", "3.90",
    ]  # fmt: skip
    forced = kr.format_table(frame, percent=["nps"], formats={"mean": "{:.3f}"}).to_html()
    assert _cells(forced)[0] == "2050.0%" and _cells(forced)[6] == "4.200"


def test_format_table_takes_units_from_the_registry(monkeypatch):
    """A column named after a registered metric is formatted by that metric's unit, whatever
    its name suggests; only ``rate``/``share`` suffixes of unregistered columns are read."""
    for name, unit in (("test_loyalty", "rate"), ("test_growth_rate", "ratio")):
        record = metrics.Metric(
            name=name, title=name, stage="retention", unit=unit, higher_is_better=True,
            formula="x", definition="d", pitfalls="p", example=">>> 1\n1",
        )  # fmt: skip
        monkeypatch.setitem(metrics._REGISTRY, name, record)
    frame = pd.DataFrame(
        {
            "test_loyalty": [0.25],           # a rate by the registry, not by its name
            "test_loyalty_ci_low": [0.2],     # its interval follows it
            "test_growth_rate": [1.25],       # "_rate", but registered as a ratio
            "conversion": [0.1],              # conversion_rate without its suffix: a rate
            "value_share": [0.5],             # not a metric: a share is a proportion
            "loyalty": [0.3],                 # neither: a plain number
        }
    )  # fmt: skip
    assert _cells(kr.format_table(frame).to_html()) == [
        "25.0%", "20.0%", "1.25", "10.0%", "50.0%", "0.30",
    ]  # fmt: skip
    unit = metrics.get("stickiness").unit  # stickiness is as its record says, not a percentage by name
    html = kr.format_table(pd.DataFrame({"stickiness": [0.234]})).to_html()
    assert _cells(html) == ["23.4%" if unit == "rate" else "0.23"]


def test_format_table_escapes_and_hides_row_positions():
    frame = pd.DataFrame({SCRIPT: ["ok", SCRIPT], "n": [1, 2]}).tail(1)
    html = kr.format_table(frame).to_html()
    assert SCRIPT not in html and html.count(SCRIPT_ESCAPED) == 2  # the label and the cell
    assert ">1<" not in html  # the positional index is hidden
    named = pd.DataFrame({"n": [5]}, index=pd.Index([SCRIPT], name="campaign"))
    html = kr.format_table(named).to_html()
    assert SCRIPT not in html and SCRIPT_ESCAPED in html and "campaign" in html
    assert 'class="dataframe kpilib-table"' in html


def test_format_table_truncates_long_frames():
    html = kr.format_table(pd.DataFrame({"n": range(1000)}), max_rows=5).to_html()
    assert len(_cells(html)) == 5 and "First 5 of 1,000 rows" in html
    with pytest.raises(TypeError, match="DataFrame"):
        kr.format_table([1, 2])


def test_use_report_tables_needs_ipython():
    with pytest.raises(RuntimeError, match="IPython kernel"):
        kr.use_report_tables()


# --------------------------------------------------------------------------- page details


def test_pages_have_header_formatted_tables_and_nothing_remote(report_run):
    result, root = report_run
    folder = root / "reports" / MONTH
    good = (folder / "01_good.html").read_text()
    header = re.search(r'<header class="kpilib-header">.*?</header>', good, re.S).group(0)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", header))
    assert "Good notebook, October 2026 (2026-10)" in text
    assert str((root / "data").resolve()) in text and "rows not counted" in text  # empty folder
    assert f"with kpilib {kpilib.__version__}" in text
    assert re.search(r"Run \d{4}-\d\d-\d\d \d\d:\d\d UTC", text)
    assert 'href="index.html"' in header and 'href="02_failing.html"' in header  # next page
    # the DataFrame output went through format_table in the kernel
    assert 'class="dataframe kpilib-table"' in good
    failing = (folder / "02_failing.html").read_text()
    assert "This notebook failed:</strong> ValueError: broken on purpose" in failing
    for page in folder.glob("*.html"):
        html = page.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), page.name
        assert "require.js" not in html and "MathJax.js" not in html  # no math here
    assert not (folder / "_static").exists()


def test_formulas_get_a_local_mathjax(tmp_path):
    report = kr.ReportResult(month=MONTH, path=tmp_path, notebooks=[], failed=[])
    pages = _pages._NotebookPages(report, titles={"01_math": "Math", "02_text": "Text"})
    math = new_notebook(cells=[new_markdown_cell("# Math\n\n$$ \\frac{a}{b} $$")])
    html = pages.render("01_math", math, error=None, run_at="now")
    assert pages.needs_math
    assert '<script src="_static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML' in html
    assert "cdnjs" not in html and "require" not in html
    text = _pages._NotebookPages(report, titles={"02_text": "Text"})
    assert "MathJax" not in text.render("02_text", PLAIN, error=None, run_at="now")
    assert not text.needs_math
    _html._copy_mathjax(tmp_path / "mathjax")
    assert (tmp_path / "mathjax" / "MathJax.js").is_file()
    assert (tmp_path / "mathjax" / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()
    assert not (tmp_path / "mathjax" / "localization").exists()


#: What a hostile parameter value or data string may carry into Markdown and HTML.
MARKDOWN_PAYLOAD = (
    "[click me](javascript:alert(4)) ![x](javascript:alert(5)) <img src=x onerror=alert(1)> "
    "[d](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) [v](vbscript:msgbox(1)) "
    "[tab](jav&#x09;ascript:alert(9)) <a href=' javascript:alert(10)'>sp</a> <svg onload=alert(2)></svg> "
    "<script>alert(3)</script> <div onclick=alert(7) style='background:url(https://evil.example/t.png)'>d</div> "
    "<style>@import url(https://evil.example/x.css);</style> <span id=MathJax>m</span> "
    "[ok](https://example.org/a?b=1) [anchor](#Sanitised) $a<b$"
)
#: A 1×1 PNG, as a figure output carries it.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


class _Elements(__import__("html.parser").parser.HTMLParser):
    """Every start tag of a page with its attributes (the browser's view, roughly)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}))


def _page_of(cells: list) -> str:
    report = kr.ReportResult(month=MONTH, path=Path("nowhere"), notebooks=[], failed=[])
    pages = _pages._NotebookPages(report, titles={"01_x": "Sanitised"})
    html = pages.render("01_x", new_notebook(cells=cells), error=None, run_at="now")
    assert pages.needs_math  # the formula in the payload
    return html


def test_sanitiser_cleans_rendered_markdown_and_every_output():
    """Markdown cells and Markdown, HTML, LaTeX, SVG and JavaScript outputs, after rendering:
    no script but MathJax's, no handler, no javascript:/data:/vbscript: URL but the figure."""
    outputs = [
        new_output("display_data", data={"text/markdown": MARKDOWN_PAYLOAD, "text/plain": "md"}),
        new_output("display_data", data={"text/html": MARKDOWN_PAYLOAD, "text/plain": "html"}),
        new_output("display_data", data={"text/latex": "$<script>alert(8)</script>$"}),
        new_output("display_data", data={"image/svg+xml": "<svg onload='alert(11)'></svg>", "text/plain": "svg"}),
        new_output("display_data", data={"application/javascript": "alert(12)", "text/plain": "js"}),
        new_output("display_data", data={"image/png": PNG, "text/plain": "figure"}),
    ]
    html = _page_of([new_markdown_cell("# Sanitised\n\n" + MARKDOWN_PAYLOAD), new_code_cell("x", outputs=outputs)])
    elements = _Elements(html).elements
    scripts = [attrs for tag, attrs in elements if tag == "script"]
    assert scripts == [{"type": "text/x-mathjax-config"},
                       {"src": "_static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"}]
    assert not [(t, a) for t, a in elements if any(name.startswith("on") for name in a)]
    urls = [(t, name, value) for t, a in elements for name, value in a.items() if name in ("href", "src")]
    bad = [u for u in urls if re.match(r"\s*(javascript|vbscript|data):", u[2], re.I)]
    assert bad == [("img", "src", f"data:image/png;base64,{PNG}")]  # the figure, nothing else
    assert ("a", "href", "https://example.org/a?b=1") in urls and ("a", "href", "#Sanitised") in urls
    main = html[html.index("<main>"):]
    assert "evil.example" not in main and "@import" not in main and "/* removed by kpilib */" in main
    assert 'id="MathJax"' not in main and "<svg" not in main  # as tags: both shown as text
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in main  # shown as text, not run
    assert "alert(12)" not in main and "alert(11)" not in main  # JS and SVG outputs dropped
    # the formula stays text for MathJax, in the Markdown cell and in the Markdown output
    assert main.count("$a&lt;b$") >= 2 and "&amp;lt;" not in main
    assert "<a>click me</a>" in main and "click me" in main


def test_sanitiser_keeps_what_reports_show():
    """The unit test of the allow-list: tables, Styler CSS, figures, links, ANSI colours."""
    table = ('<style type="text/css">#T_1 td { color: red; }</style><table id="T_1" class="dataframe" '
             'border="1"><thead><tr><th scope="col" colspan="2">a_<wbr>b</th></tr></thead><tbody><tr>'
             '<td rowspan="1" style="text-align: right;">1,500</td></tr></tbody></table>')
    assert _html._sanitise_cell(table) == table
    figure = f'<img src="data:image/png;base64,{PNG}\n" alt="figure">'
    assert _html._sanitise_cell(figure) == figure
    assert _html._sanitise_cell('<a href="https://x.org/?a=1&amp;b=2">x</a>') == '<a href="https://x.org/?a=1&amp;b=2">x</a>'
    assert _html._sanitise_cell('<span class="ansi-red-fg">Error</span>') == '<span class="ansi-red-fg">Error</span>'
    assert _html._sanitise_cell('<p><img src="data:image/svg+xml;base64,PHN2Zz4=" alt="x"></p>') == "<p></p>"
    assert _html._sanitise_cell('<a href="JaVaScRiPt:alert(1)">x</a>') == "<a>x</a>"
    assert _html._sanitise_cell('<p style="color: red; background: url(x.png)">p</p>') == "<p>p</p>"


def test_built_months_match_exactly(tmp_path):
    for name in (MONTH, f"{MONTH}\n", "２０２６-11", "2026-12 ", "x2026-09"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text("built")
    assert _results._built_months(tmp_path) == [MONTH]


def test_warnings_read_as_notes_on_the_page_and_stay_in_the_notebook(tmp_path):
    report = kr.ReportResult(month=MONTH, path=tmp_path, notebooks=[], failed=[])
    pages = _pages._NotebookPages(report, titles={"04_clv": "CLV"})
    raw = ("/venv/lib/kpilib/clv.py:1163: UserWarning: Gamma–Gamma did not converge on 41 repeat buyers\n"
           "  warnings.warn(\n")
    cell = new_code_cell("fit()", outputs=[new_output("stream", name="stderr", text=raw)])
    nb = new_notebook(cells=[cell])
    html = pages.render("04_clv", nb, error=None, run_at="now")
    assert "Note: Gamma–Gamma did not converge on 41 repeat buyers" in html
    assert "clv.py:1163" not in html and "warnings.warn(" not in html
    assert nb.cells[0].outputs[0]["text"] == raw  # the executed notebook keeps the original


def test_repeated_warnings_are_one_line_per_section_with_a_count(tmp_path):
    """1,822 numerical warnings in a section are one line with the count on the page; other
    stderr text stays; the next section gets its own summary."""
    report = kr.ReportResult(month=MONTH, path=tmp_path, notebooks=[], failed=[])
    pages = _pages._NotebookPages(report, titles={"04_clv": "CLV"})
    warn = "/venv/lib/numpy/x.py:12: RuntimeWarning: overflow encountered in exp\n  y = np.exp(x)\n"
    other = "/venv/lib/kpilib/clv.py:9: UserWarning: few repeat buyers\n  warnings.warn(\n"
    nb = new_notebook(cells=[
        new_markdown_cell("## Fit"),
        new_code_cell("a()", outputs=[new_output("stream", name="stderr", text=warn * 1000 + "progress 1/2\n")]),
        new_code_cell("b()", outputs=[new_output("stream", name="stderr", text=warn * 822 + other)]),
        new_markdown_cell("## Check"),
        new_code_cell("c()", outputs=[new_output("stream", name="stderr", text=warn)]),
    ])
    html = pages.render("04_clv", nb, error=None, run_at="now")
    assert html.count("overflow encountered in exp") == 2
    assert "RuntimeWarning: overflow encountered in exp (1,822 times)" in html
    assert "Note: few repeat buyers" in html and "progress 1/2" in html
    assert "np.exp(x)" not in html
    assert nb.cells[1].outputs[0]["text"].count("RuntimeWarning") == 1000  # the notebook keeps all


# --------------------------------------------------------------------------- history


def _fake_history_run(calls: list[str], fail: set[str] = frozenset()):
    """A ``_run_notebook`` without a kernel that records a test rate growing by month."""

    def run(path, staging, params, cwd, pages):
        month = params["month"]
        calls.append(f"{month} {path.stem}")
        for ext in ("ipynb", "html"):
            (staging / f"{path.stem}.{ext}").write_text(month)
        step = int(month[5:])
        kpis = pd.DataFrame(
            {
                "metric": ["test_rate", "test_rate"],
                "month": [month, kr.previous_month(month)],
                "value": [step / 100, (step - 1) / 100],
                "numerator": [step * 10, (step - 1) * 10],
                "denominator": [1000, 1000],
                "ci_low": [step / 100 - 0.01, (step - 1) / 100 - 0.01],
                "ci_high": [step / 100 + 0.01, (step - 1) / 100 + 0.01],
            }
        )
        failed = f"{month} {path.stem}" in fail
        return kr.NotebookStatus(
            notebook=path.stem,
            title=path.stem,
            status="failed" if failed else "ok",
            error="RuntimeError: boom" if failed else None,
            metrics=kr.record_headline(kpis, month=month).to_records(),
        )

    return run


def test_run_history_builds_skips_and_links_months(tmp_path, monkeypatch, test_metrics):
    folder = write_notebooks(tmp_path / "nb", **{"01_a": PLAIN})
    out = tmp_path / "reports"
    calls: list[str] = []
    monkeypatch.setattr(_run, "_run_notebook", _fake_history_run(calls, fail={"2026-09 01_a"}))
    results = kr.run_history("2026-08", "2026-10", out=out, notebooks_dir=folder, progress=False,
                             check_data=False)
    assert [r.month for r in results] == ["2026-08", "2026-09", "2026-10"]
    assert [r.skipped for r in results] == [False] * 3 and results[1].failed == ["01_a"]
    assert calls == ["2026-08 01_a", "2026-09 01_a", "2026-10 01_a"]

    # previous/next links among the months built
    august, september, october = ((out / m / "index.html").read_text() for m in kr.month_range("2026-08", "2026-10"))  # fmt: skip
    assert 'rel="prev"' not in august and 'href="../2026-09/index.html" rel="next"' in august
    assert 'href="../2026-08/index.html" rel="prev"' in september
    assert 'href="../2026-10/index.html" rel="next"' in september
    assert 'href="../2026-09/index.html" rel="prev"' in october and 'rel="next"' not in october
    assert all('href="../index.html"' in page for page in (august, september, october))

    # the overview: every month, and a trend with one dot per month
    overview = (out / "index.html").read_text()
    for month in ("2026-08", "2026-09", "2026-10"):
        assert f'href="{month}/index.html"' in overview
    assert "1 failed" in overview
    trend = re.search(r'<article class="card trend" data-metric="test_rate">.*?</article>', overview, re.S).group(0)  # fmt: skip
    assert trend.count("<circle") == 3 and "<polyline" in trend and "<polygon" in trend
    assert "2026-10: 10.0% [9.0%, 11.0%]" in trend and "from 8.0% to 10.0%" in trend

    # a second run skips the months that are complete and rebuilds the failed one
    calls.clear()
    monkeypatch.setattr(_run, "_run_notebook", _fake_history_run(calls))
    again = kr.run_history("2026-08", "2026-10", out=out, notebooks_dir=folder, progress=False,
                           check_data=False)
    assert calls == ["2026-09 01_a"]
    assert [r.skipped for r in again] == [True, False, True]
    assert again[0].notebooks[0].metrics == results[0].notebooks[0].metrics  # read back
    # a new notebook makes every month out of date; force rebuilds regardless
    write_notebooks(folder, **{"02_b": PLAIN})
    calls.clear()
    kr.run_history("2026-10", "2026-10", out=out, notebooks_dir=folder, progress=False, check_data=False)
    assert calls == ["2026-10 01_a", "2026-10 02_b"]
    calls.clear()
    kr.run_history("2026-10", "2026-10", out=out, notebooks_dir=folder, progress=False, force=True,
                   check_data=False)
    assert calls == ["2026-10 01_a", "2026-10 02_b"]


def test_month_index_cards(tmp_path, monkeypatch, test_metrics):
    folder = write_notebooks(tmp_path / "nb", **{"01_a": PLAIN})
    monkeypatch.setattr(_run, "_run_notebook", _fake_history_run([]))
    result = kr.run_report(MONTH, out=tmp_path / "r", notebooks_dir=folder, progress=False,
                           check_data=False)
    index = result.index.read_text()
    card = re.search(r'<article class="card kpi" data-metric="test_rate">.*?</article>', index, re.S).group(0)  # fmt: skip
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card))
    # 100/1000 vs 90/1000: +1.0 pp, not significant (p ≈ 0.45); higher is better: green up
    assert "Test conversion rate 10.0% 95% CI [9.0%, 11.0%] ▲ +1.0 pp vs 2026-09" in text
    assert '<p class="change good">' in card
    assert "not significant" in text and "badge significant" not in card


def _unreliable_kpis(month: str, note: object) -> pd.DataFrame:
    """100/1000 vs 50/1000: a significant rise, unless ``note`` marks this month unreliable."""
    return pd.DataFrame(
        {
            "metric": ["test_rate", "test_rate"],
            "month": [month, kr.previous_month(month)],
            "value": [0.10, 0.05],
            "numerator": [100, 50],
            "denominator": [1000, 1000],
            "ci_low": [0.083, 0.038],
            "ci_high": [0.12, 0.065],
            "note": [note, np.nan],
        }
    )


def test_unreliable_note_is_optional_and_suppresses_significance(test_metrics):
    reliable = kr.record_headline(_unreliable_kpis(MONTH, np.nan)).to_records()[0]
    assert reliable["note"] is None and reliable["significant"] is True
    assert kr.record_headline(kpi_frame()).to_records()[0]["note"] is None  # no note column
    note = "unreliable: 41 repeat buyers (< 30 needed)"
    headline = kr.record_headline(_unreliable_kpis(MONTH, note))
    record = headline.to_records()[0]
    assert record["note"] == note and record["previous_note"] is None
    assert record["significant"] is None  # not tested: the value is not to be trusted
    assert note.replace("<", "&lt;") in headline.to_html() and note in headline.to_text()
    assert json.loads(json.dumps(headline.to_records()))[0]["note"] == note
    assert _headline._display_row(record)["reliable"] is False


def test_unreliable_value_is_marked_on_its_index_card(tmp_path, monkeypatch, test_metrics):
    folder = write_notebooks(tmp_path / "nb", **{"01_a": PLAIN})
    note = "unreliable: 41 repeat buyers (< 30 needed); loses to the naive baseline in the holdout"

    def run(path, staging, params, cwd, pages):
        for ext in ("ipynb", "html"):
            (staging / f"{path.stem}.{ext}").write_text(params["month"])
        kpis = _unreliable_kpis(params["month"], note)
        return kr.NotebookStatus(notebook=path.stem, title=path.stem, status="ok",
                                 metrics=kr.record_headline(kpis).to_records())

    monkeypatch.setattr(_run, "_run_notebook", run)
    result = kr.run_report(MONTH, out=tmp_path / "r", notebooks_dir=folder, progress=False,
                           check_data=False)
    index = result.index.read_text()
    card = re.search(r'<article class="card kpi unreliable" data-metric="test_rate">.*?</article>', index, re.S).group(0)  # fmt: skip
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card))
    assert '<p class="value unreliable">10.0%</p>' in card
    assert f'<p class="note unreliable">{note.replace("<", "&lt;")}</p>' in card
    assert "unreliable: 41 repeat buyers" in text
    assert "badge" not in card and "significant" not in text
    assert json.loads((result.index.parent / "01_a.json").read_text())["metrics"][0]["note"] == note

    # the same numbers without a note: a plain card with the significant badge
    monkeypatch.setattr(_run, "_run_notebook", _fake_history_run([]))
    plain = kr.run_report(MONTH, out=tmp_path / "plain", notebooks_dir=folder, progress=False,
                          check_data=False).index.read_text()
    assert "unreliable" not in plain.split("</style>")[-1]


def test_pdf_needs_chromium_before_anything_runs(tmp_path, monkeypatch):
    folder = write_notebooks(tmp_path / "nb", **{"01_a": PLAIN})
    monkeypatch.setattr(_pdf, "find_chromium", lambda: None)
    monkeypatch.setattr(_run, "_run_notebook", _fake_run("never"))
    with pytest.raises(RuntimeError, match="apt-get install chromium"):
        kr.run_report(MONTH, out=tmp_path / "r", notebooks_dir=folder, pdf=True, progress=False)
    with pytest.raises(RuntimeError, match="KPILIB_CHROMIUM"):
        kr.run_history(MONTH, MONTH, out=tmp_path / "r", notebooks_dir=folder, pdf=True)
    assert not (tmp_path / "r" / MONTH).exists()


def test_pages_announce_a_partial_month_and_a_stale_table(tmp_path, small_sample, glossary_cache):
    """Data that end mid-month, and an orders table exported months before the rest: the
    index and every page say so at the top, in words a reader can act on."""
    import shutil

    folder = tmp_path / "data"
    shutil.copytree(small_sample, folder)
    cut = pd.Timestamp("2026-10-15", tz="UTC")
    for path in folder.glob("*.parquet"):
        frame = pd.read_parquet(path)
        column = {"customers": "signup_at", "subscriptions": "start_at", "email": "sent_at",
                  "spend": "date"}.get(path.stem, "ts")
        values = pd.to_datetime(frame[column], utc=True)
        keep = values < (pd.Timestamp("2026-07-01", tz="UTC") if path.stem == "orders" else cut)
        frame = frame[keep]
        if path.stem == "subscriptions":  # no end after the new end of the data
            frame = frame.assign(end_at=frame.end_at.where(frame.end_at < cut))
        frame.to_parquet(path, index=False)
    shutil.copytree(glossary_cache, tmp_path / "out" / ".cache")  # its page is rendered anew, with the notes
    result = kr.run_report("2026-10", source=folder, out=tmp_path / "out", only=["glossary"],
                           progress=False)
    assert [s.reused for s in result.notebooks] == [True]
    last_row = max(pd.to_datetime(pd.read_parquet(p)[c], utc=True).max() for p, c in (
        (folder / "events.parquet", "ts"), (folder / "customers.parquet", "signup_at")))
    days = last_row.day
    assert result.data_notes[0] == f"The data end on 2026-10-{days:02d}: 2026-10 is partial ({days} of 31 days)."
    last_order = pd.read_parquet(folder / "orders.parquet").ts.max()
    assert (f"orders: the last row is from {last_order:%Y-%m-%d}, before 2026-10: this table adds "
            "nothing to the month.") in result.data_notes
    index = (tmp_path / "out" / "2026-10" / "index.html").read_text()
    page = (tmp_path / "out" / "2026-10" / "00_glossary.html").read_text()
    for html in (index, page):
        assert "About the data:" in html
        assert f"2026-10 is partial ({days} of 31 days)" in html
    assert kr.load_report(tmp_path / "out" / "2026-10").data_notes == result.data_notes


# --------------------------------------------------------------------------- skipped and partial

FEATURE_REASON = "needs column feature in the events table: add it to the source"
ORDERS_REASON = "needs the orders table: add orders.parquet or orders.csv to the source"


def _fake_statuses(statuses: dict[str, dict]):
    """A ``_run_notebook`` without a kernel that returns the given status per stem."""

    def run(path, staging, params, cwd, pages):
        for ext in ("ipynb", "html"):
            (staging / f"{path.stem}.{ext}").write_text(path.stem)
        return kr.NotebookStatus(notebook=path.stem, title=path.stem.upper(), **statuses[path.stem])

    return run


def test_skipped_and_partial_notebooks_are_grey_with_their_reasons_and_no_failure(tmp_path, monkeypatch):
    folder = write_notebooks(tmp_path / "nb", **{"01_a": PLAIN, "02_b": PLAIN, "03_c": PLAIN})
    monkeypatch.setattr(_run, "_run_notebook", _fake_statuses({
        "01_a": {"status": "partial", "skipped_sections": [
            {"section": "feature_adoption", "title": "Feature adoption", "reason": FEATURE_REASON}]},
        "02_b": {"status": "skipped", "reason": ORDERS_REASON},
        "03_c": {"status": "ok"},
    }))
    out = tmp_path / "r"
    result = kr.run_report(MONTH, out=out, notebooks_dir=folder, progress=False, check_data=False)
    assert result.ok and result.failed == []
    assert [s.status for s in result.notebooks] == ["partial", "skipped", "ok"]
    index = result.index.read_text()
    assert "failed" not in index.split("</style>")[1].lower()
    items = dict(re.findall(r'<li class="(\w+)"><a href="(\w+)\.html">', index))
    assert items == {"partial": "01_a", "skipped": "02_b", "ok": "03_c"}
    skipped = re.search(r'<li class="skipped">.*?</li>', index, re.S).group(0)
    assert '<span class="status skipped">skipped</span>' in skipped
    assert f"Not run: this notebook {ORDERS_REASON}." in skipped
    assert "02_b.ipynb" not in skipped  # nothing ran: no executed notebook to link
    partial = re.search(r'<li class="partial">.*?</ul></div>', index, re.S).group(0)
    assert '<span class="status partial">partial</span>' in partial
    assert f"<li>Feature adoption: {FEATURE_REASON}</li>" in partial
    assert re.search(r"\.status\.skipped \{[^}]*background: #8c959f", index)  # grey
    assert re.search(r"li\.skipped \{[^}]*color: #656d76", index)
    assert json.loads((out / MONTH / "02_b.json").read_text())["reason"] == ORDERS_REASON
    assert json.loads((out / MONTH / "01_a.json").read_text())["skipped_sections"][0]["title"] == "Feature adoption"
    again = kr.load_report(out / MONTH)
    assert [(s.status, s.reason, s.skipped_sections) for s in again.notebooks] == [
        (s.status, s.reason, s.skipped_sections) for s in result.notebooks]
    assert _results._is_up_to_date(out / MONTH, ["01_a", "02_b", "03_c"])  # a skipped notebook is done
    history = (out / "index.html").read_text()
    assert "1 ok, 1 partial, " in history and '<span class="status skipped">1 skipped</span>' in history


def test_cli_exits_0_when_notebooks_are_skipped_or_partial(tmp_path, monkeypatch, capsys):
    from kpilib.__main__ import main

    folder = write_notebooks(tmp_path / "nb", **{"01_a": PLAIN, "02_b": PLAIN})
    monkeypatch.setattr(_checks, "default_notebooks_dir", lambda: folder)
    monkeypatch.setattr(_run, "_run_notebook", _fake_statuses({
        "01_a": {"status": "partial", "skipped_sections": [
            {"section": "feature_adoption", "title": "Feature adoption", "reason": FEATURE_REASON}]},
        "02_b": {"status": "skipped", "reason": ORDERS_REASON},
    }))
    source = tmp_path / "data"
    source.mkdir()
    pd.DataFrame({"customer_id": ["a"], "signup_at": ["2026-10-02"], "channel": ["web"]}).to_csv(
        source / "customers.csv", index=False)
    code = main(["report", "--month", MONTH, "--source", str(source), "--out", str(tmp_path / "r"), "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"{MONTH}: report written to" in captured.out and "failed" not in captured.err


INTRO = "# Lifetime value\n\nWhat the customers are worth."
SKIPS_ITSELF = new_notebook(cells=[
    new_markdown_cell(INTRO),
    new_code_cell(PARAMETERS_CELL, metadata={"tags": ["parameters"]}),
    new_code_cell("from kpilib.report import NotebookSkipped\n"
                  f"raise NotebookSkipped('01_skips', {ORDERS_REASON!r})"),
    new_markdown_cell("## A section\n\nProse that must not show."),
    new_code_cell("print('never reached')"),
], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
SKIPS_A_SECTION = new_notebook(cells=[
    new_markdown_cell("# Engagement"),
    new_code_cell(PARAMETERS_CELL, metadata={"tags": ["parameters"]}),
    new_code_cell("from kpilib.sections import NotebookPlan, SectionStatus\n"
                  "plan = NotebookPlan('02_x', {'feature_adoption': SectionStatus(\n"
                  f"    '02_x', 'feature_adoption', 'Feature adoption', False, {FEATURE_REASON!r})}})"),
    new_markdown_cell("## Feature adoption"),
    new_code_cell("if plan.runs('feature_adoption'):\n    print('drawn')"),
    new_markdown_cell("**How to read this.** Nothing to read."),
    new_markdown_cell("### A subsection of it"),
    new_code_cell("if plan.runs('feature_adoption'):\n    print('drawn again')"),
    new_markdown_cell("**How to read this either.**"),
    new_markdown_cell("## Next section"),
    new_code_cell("print('next ran')"),
    new_markdown_cell("**Still read.** The prose of a section that ran."),
], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
NEEDS_ORDERS = new_notebook(cells=[
    new_markdown_cell("# Customer lifetime value\n\nNot started without orders."),
    new_code_cell(PARAMETERS_CELL, metadata={"tags": ["parameters"]}),
    new_code_cell("raise RuntimeError('this notebook must not be started')"),
], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def test_notebooks_skip_themselves_or_their_sections_in_a_real_run(tmp_path):
    """In the kernel: NotebookSkipped makes the notebook skipped (not failed), a skipped
    section's note makes it partial; before the kernel: a notebook of kpilib.sections whose
    tables the checked source lacks is not started at all."""
    folder = write_notebooks(tmp_path / "nb", **{"01_skips": SKIPS_ITSELF, "02_x": SKIPS_A_SECTION,
                                                 "04_clv": NEEDS_ORDERS})
    source = tmp_path / "data"
    source.mkdir()
    pd.DataFrame({"customer_id": ["a"], "signup_at": ["2026-10-02"], "channel": ["web"]}).to_csv(
        source / "customers.csv", index=False)
    result = kr.run_report(MONTH, source=source, out=tmp_path / "r", notebooks_dir=folder, progress=False)
    by_stem = {s.notebook: s for s in result.notebooks}
    assert result.ok
    assert (by_stem["01_skips"].status, by_stem["01_skips"].reason, by_stem["01_skips"].error) == (
        "skipped", ORDERS_REASON, None)
    assert by_stem["02_x"].status == "partial"
    assert by_stem["02_x"].skipped_sections == [
        {"section": "feature_adoption", "title": "Feature adoption", "reason": FEATURE_REASON}]
    assert (by_stem["04_clv"].status, by_stem["04_clv"].reason) == ("skipped", ORDERS_REASON)
    assert not (result.path / "04_clv.ipynb").exists()  # never started
    for stem, intro in (("01_skips", "What the customers are worth."), ("04_clv", "Not started without orders.")):
        page = (result.path / f"{stem}.html").read_text()
        assert intro in page and f"this notebook {ORDERS_REASON}." in page
        assert "kpilib-banner" not in page.split("</header>")[0].split("<header")[1]  # not the red banner
        assert "Prose that must not show" not in page and "An Exception was encountered" not in page
        assert "Traceback" not in page
    page = (result.path / "02_x.html").read_text()
    assert "1 section skipped</strong>" in page and "Feature adoption" in page
    assert page.count(FEATURE_REASON) == 1  # the note, once
    assert "How to read this" not in page  # prose about a result that is not there
    assert "A subsection of it" not in page  # a subsection with nothing under it
    assert re.search(r'<h2 id="Feature-adoption">', page)  # the heading stays, the note under it
    assert "next ran" in page and "Still read." in page


def test_headline_values_without_data_read_no_data_never_0(test_metrics):
    kpis = pd.DataFrame({
        "metric": ["test_rate", "test_rate", "test_count", "test_count"],
        "month": [MONTH, "2026-09"] * 2,
        "value": [np.nan, 0.5, np.nan, np.nan],
        "numerator": [np.nan, 5, np.nan, np.nan], "denominator": [np.nan, 10, np.nan, np.nan],
        "ci_low": [np.nan, 0.2, np.nan, np.nan], "ci_high": [np.nan, 0.8, np.nan, np.nan],
    })
    headline = kr.record_headline(kpis, month=MONTH)
    text = headline.to_text()
    assert re.search(r"Test conversion rate\s+no data\s+50\.0%", text)
    assert re.search(r"Test sign-ups\s+no data\s+no data", text)
    status = kr.NotebookStatus("01_a", "A", "ok", metrics=headline.to_records())
    report = kr.ReportResult(MONTH, Path("x"), [status], [])
    index = kr.render_index(report)
    card = re.search(r'<article class="card kpi" data-metric="test_rate">.*?</article>', index, re.S).group(0)
    assert '<p class="value no-data">no data</p>' in card and "50.0% in 2026-09" in card
    assert 'data-metric="test_count"' not in index  # no card for a metric without any value
    assert f"No data in {MONTH} or 2026-09: Test sign-ups." in index
    assert not re.search(r'<p class="value[^"]*">\s*0', card)


def test_a_note_shared_across_notebooks_is_listed_once_in_the_detail_table(test_metrics):
    """One failing CLV fit marks the CLV page's figures and the marketing page's CLV:CAC:
    the detail table numbers the note once for the whole table; a note of one cell stays
    in full in its cell."""
    shared, single = "unreliable: 8 repeat buyers (< 30 needed)", "unreliable: one cell only"

    def status(notebook: str, notes: list) -> kr.NotebookStatus:
        kpis = pd.DataFrame({
            "metric": ["test_count", "test_count"], "month": [MONTH, "2026-09"], "value": [3.0, 4.0],
            "numerator": [np.nan] * 2, "denominator": [np.nan] * 2, "ci_low": [np.nan] * 2,
            "ci_high": [np.nan] * 2, "note": notes})
        return kr.NotebookStatus(notebook, notebook, "ok", metrics=kr.record_headline(kpis, month=MONTH).to_records())

    report = kr.ReportResult(MONTH, Path("x"), [status("04_a", [shared, shared]), status("05_b", [shared, single])], [])
    detail = kr.render_index(report).split('<table class="headline">')[1].split("</table>")[0]
    assert re.findall(r"<li>(unreliable: .*?)</li>", detail) == ["unreliable: 8 repeat buyers (&lt; 30 needed)"]
    cells = re.findall(r'<span class="note unreliable">(.*?)</span>', detail)
    assert cells == ["unreliable: note 1 below"] * 3 + [single]


# --------------------------------------------------------------------------- notebooks at once


def _timed_run(log: list[tuple[str, float, float]], seconds: float, fail: str | None = None):
    """A ``_run_notebook`` without a kernel that takes ``seconds`` and logs when it ran."""

    def run(path, staging, params, cwd, pages):
        start = time.monotonic()
        time.sleep(seconds)
        (staging / f"{path.stem}.html").write_text(path.stem)
        log.append((path.stem, start, time.monotonic()))
        status = "failed" if path.stem == fail else "ok"
        return kr.NotebookStatus(notebook=path.stem, title=path.stem, status=status,
                                 error="broken" if status == "failed" else None)

    return run


def _overlap(log: list[tuple[str, float, float]]) -> int:
    """The most runs of ``log`` in progress at one moment."""
    moments = sorted([(s, 1) for _, s, _ in log] + [(e, -1) for _, _, e in log])
    level = peak = 0
    for _, step in moments:
        level += step
        peak = max(peak, level)
    return peak


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_jobs_run_notebooks_at_once_and_keep_their_order_and_isolation(jobs, tmp_path, monkeypatch):
    folder = write_notebooks(tmp_path / "nb", **{f"0{i}_n{i}": PLAIN for i in range(1, 6)})
    log: list[tuple[str, float, float]] = []
    monkeypatch.setattr(_run, "_run_notebook", _timed_run(log, 0.3, fail="03_n3"))
    result = kr.run_report(MONTH, out=tmp_path / "out", notebooks_dir=folder, progress=False,
                           check_data=False, jobs=jobs)
    assert [s.notebook for s in result.notebooks] == [f"0{i}_n{i}" for i in range(1, 6)]  # plan order
    assert result.failed == ["03_n3"]  # the failure is a status; the others ran
    assert sorted(stem for stem, _, _ in log) == [s.notebook for s in result.notebooks]
    assert _overlap(log) == jobs  # never more kernels than asked, and as many as asked
    statuses = [json.loads((result.path / f"0{i}_n{i}.json").read_text())["status"] for i in range(1, 6)]
    assert statuses == ["ok", "ok", "failed", "ok", "ok"]


def test_jobs_must_be_a_positive_whole_number(tmp_path):
    folder = write_notebooks(tmp_path / "nb", **{"01_a": PLAIN})
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(kr.ReportArgumentError, match="jobs must be a whole number"):
            kr.run_report(MONTH, out=tmp_path / "out", notebooks_dir=folder, check_data=False, jobs=bad)
    assert not (tmp_path / "out").exists()


def test_an_unexpected_error_in_one_job_stops_the_run_and_discards_the_month(tmp_path, monkeypatch):
    folder = write_notebooks(tmp_path / "nb", **{f"0{i}_n{i}": PLAIN for i in range(1, 5)})
    calls: list[str] = []

    def run(path, staging, params, cwd, pages):
        calls.append(path.stem)
        if path.stem == "02_n2":
            raise RuntimeError("crash midway")
        time.sleep(0.5)  # 01_n1 is still running when 02_n2 fails
        return kr.NotebookStatus(notebook=path.stem, title=path.stem, status="ok")

    monkeypatch.setattr(_run, "_run_notebook", run)
    with pytest.raises(RuntimeError, match="crash midway"):
        kr.run_report(MONTH, out=tmp_path / "out", notebooks_dir=folder, progress=False,
                      check_data=False, jobs=2)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []  # nothing half-written
    assert sorted(calls) == ["01_n1", "02_n2"]  # no new notebook started after the error


def test_notebooks_at_once_give_the_same_report_as_one_at_a_time(tmp_path):
    """Real kernels: the pages and headline files of a run with two jobs equal a run with one
    (the run date and durations aside), and each kernel worked in the notebooks' folder."""
    folder = write_notebooks(tmp_path / "nb", **{"01_good": GOOD, "02_plain": PLAIN, "03_failing": FAILING})
    runs = {jobs: kr.run_report(MONTH, out=tmp_path / f"out{jobs}", notebooks_dir=folder, progress=False,
                                check_data=False, jobs=jobs) for jobs in (1, 2)}
    assert runs[1].failed == runs[2].failed == ["03_failing"]
    for stem in ("01_good", "02_plain", "03_failing"):
        one, two = (json.loads((r.path / f"{stem}.json").read_text()) for r in runs.values())
        one.pop("seconds"), two.pop("seconds")
        assert one == two
        # what a reader sees: the text, without the run date, cell ids and styler ids
        pages = [re.sub(r"<style.*?</style>|<[^>]+>|\d{4}-\d\d-\d\d \d\d:\d\d( UTC)?|T_\w+|engine_memory.*?}", "",
                        (r.path / f"{stem}.html").read_text(), flags=re.S)
                 for r in runs.values()]
        assert "notebook" in pages[0].lower()
        assert pages[0] == pages[1]
    lines = [stream_text(r.path / "01_good.ipynb").splitlines() for r in runs.values()]
    # two kernels at once: each engine bounded to half of DuckDB's usual 80 % of the memory
    assert json.loads(lines[0][1]) == {"engine_memory": None}
    two = float(json.loads(lines[1][1])["engine_memory"].removesuffix("MB"))
    assert two == pytest.approx(_run._total_memory_mb() * 0.4, abs=1)
    printed = json.loads(lines[1][0])
    assert printed["cwd"] == str(folder)
    assert printed["notebook"] == "01_good"  # each kernel knows its notebook (KPILIB_REPORT_NOTEBOOK)
    assert Path.cwd() != folder  # the runner's own folder is left alone


# --------------------------------------------------------------------------- reused notebooks

NO_DATA = _notebook("Definitions", "import kpilib\nprint('definitions', kpilib.__version__)")
NO_DATA.cells[1].source = "# no parameters: this notebook reads no data"


def _counting(calls: list[str]):
    real = _run._run_notebook

    def run(path, staging, params, cwd, pages):
        calls.append(path.stem)
        return real(path, staging, params, cwd, pages)

    return run


def test_a_notebook_that_reads_no_data_runs_once_and_is_reused_month_after_month(tmp_path, monkeypatch):
    folder = write_notebooks(tmp_path / "nb", **{"00_defs": NO_DATA, "01_plain": PLAIN})
    out = tmp_path / "out"
    calls: list[str] = []
    key = _run._reuse_key(folder / "00_defs.ipynb", {})
    monkeypatch.setattr(_run, "_run_notebook", _counting(calls))
    first = kr.run_report("2026-09", out=out, notebooks_dir=folder, progress=False, check_data=False)
    second = kr.run_report("2026-10", out=out, notebooks_dir=folder, progress=False, check_data=False)
    assert calls == ["00_defs", "01_plain", "01_plain"]  # the second month started no kernel for it
    assert [s.reused for s in first.notebooks] == [False, False]
    assert [s.reused for s in second.notebooks] == [True, False]
    assert json.loads((second.path / "00_defs.json").read_text())["reused"] is True
    assert (first.path / "00_defs.ipynb").read_bytes() == (second.path / "00_defs.ipynb").read_bytes()
    assert "definitions" in stream_text(second.path / "00_defs.ipynb")
    page = (second.path / "00_defs.html").read_text()
    assert "definitions" in page and "October 2026" in page  # its page names the month it is in
    # its page is kept too, with stand-ins for the month's header and footer
    assert sorted(p.name for p in (out / ".cache").iterdir()) == [f"00_defs-{key}.html", f"00_defs-{key}.ipynb"]
    assert kr.load_report(second.path).notebooks[0].reused
    third = kr.run_report("2026-11", out=out, notebooks_dir=folder, progress=False, check_data=False)
    assert calls == ["00_defs", "01_plain", "01_plain", "01_plain"]
    page = (third.path / "00_defs.html").read_text()
    assert "November 2026" in page and "October 2026" not in page and "kpilib: page" not in page

    # an edited notebook runs again, and replaces what was kept
    nb = nbformat.read(folder / "00_defs.ipynb", as_version=4)
    nb.cells.append(new_code_cell("print('more')"))
    nbformat.write(nb, folder / "00_defs.ipynb")
    kr.run_report("2026-10", out=out, notebooks_dir=folder, progress=False, check_data=False)
    assert calls[4:] == ["00_defs", "01_plain"]
    assert len(list((out / ".cache").iterdir())) == 1


def test_a_reused_notebooks_kept_page_is_the_page_rendered_anew(report_run, tmp_path):
    """The kept page with this month's header and footer put in is, to the byte, the page
    nbconvert renders for the notebook now — the first time (written) and after (read)."""
    result, _ = report_run
    report = kr.load_report(result.path)
    pages = _pages._NotebookPages(report, {s.notebook: s.title for s in report.notebooks})
    nb = nbformat.read(result.path / "01_good.ipynb", as_version=4)
    fresh = pages.render("01_good", nb, error=None, run_at="2026-11-02 08:00 UTC")
    body = tmp_path / "01_good-key.html"
    first = pages.render_reused("01_good", nb, run_at="2026-11-02 08:00 UTC", body=body)
    assert body.is_file() and "kpilib: page header" in body.read_text()
    again = pages.render_reused("01_good", nb, run_at="2026-11-02 08:00 UTC", body=body)
    assert fresh == first == again
    assert "2026-11-02 08:00 UTC" in again and "kpilib: page" not in again


def test_a_failed_notebook_without_data_is_not_kept_for_reuse(tmp_path, monkeypatch):
    broken = _notebook("Definitions", "raise ValueError('not yet')")
    broken.cells[1].source = "# no parameters"
    folder = write_notebooks(tmp_path / "nb", **{"00_defs": broken})
    calls: list[str] = []
    monkeypatch.setattr(_run, "_run_notebook", _counting(calls))
    for month in ("2026-09", "2026-10"):
        result = kr.run_report(month, out=tmp_path / "out", notebooks_dir=folder, progress=False,
                               check_data=False)
        assert result.failed == ["00_defs"]
    assert calls == ["00_defs", "00_defs"]
    assert not (tmp_path / "out" / ".cache").exists()


def test_the_reuse_key_follows_the_notebook_its_parameters_and_kpilib(tmp_path, monkeypatch):
    path = write_notebooks(tmp_path, **{"00_defs": NO_DATA}) / "00_defs.ipynb"
    key = _run._reuse_key(path, {})
    assert key == _run._reuse_key(path, {})
    assert key != _run._reuse_key(path, {"label": "x"})
    monkeypatch.setattr(_run, "_REUSE_LIBRARIES", (*_run._REUSE_LIBRARIES, "kpilib-not-installed"))
    assert key != _run._reuse_key(path, {})
    path.write_text(path.read_text().replace("definitions", "Definitions"))
    monkeypatch.undo()
    assert key != _run._reuse_key(path, {})


def test_with_jobs_the_notebooks_that_took_longest_last_month_start_first(tmp_path, monkeypatch):
    folder = write_notebooks(tmp_path / "nb", **{f"0{i}_n{i}": PLAIN for i in range(1, 5)})
    out = tmp_path / "out"
    previous = out / "2026-09"
    previous.mkdir(parents=True)
    (previous / "index.html").write_text("built")
    for stem, seconds in (("01_n1", 2.0), ("02_n2", 30.0), ("04_n4", 9.5)):  # 03_n3: not known
        status = kr.NotebookStatus(notebook=stem, title=stem, status="ok", seconds=seconds)
        (previous / f"{stem}.json").write_text(json.dumps(status.to_json("2026-09")))
    paths = sorted(folder.glob("*.ipynb"))
    assert [paths[i].stem for i in _run._longest_first(paths, out)] == ["03_n3", "02_n2", "04_n4", "01_n1"]
    log: list[tuple[str, float, float]] = []
    monkeypatch.setattr(_run, "_run_notebook", _timed_run(log, 0.05))
    result = kr.run_report(MONTH, out=out, notebooks_dir=folder, progress=False, check_data=False, jobs=2)
    started = [stem for stem, _, _ in sorted(log, key=lambda r: r[1])]
    assert set(started[:2]) == {"03_n3", "02_n2"} and set(started[2:]) == {"04_n4", "01_n1"}
    assert [s.notebook for s in result.notebooks] == ["01_n1", "02_n2", "03_n3", "04_n4"]  # pages in order
    assert _run._longest_first([folder / "01_n1.ipynb"], tmp_path / "nothing") == [0]
