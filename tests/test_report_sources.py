"""The monthly report end to end on real-shaped sources (issue #11).

The two other sample profiles (a shop, a B2B CRM export) and the saas sample with tables
removed go through the whole report — every domain notebook, in a kernel — and nothing
fails: notebooks whose tables are absent are skipped with their reason, the others run in
full or in part with the list of what they skipped, and no figure is drawn from empty data
(every ``kpilib.plots`` function is wrapped in the kernels to refuse an empty input). The
rest of the removal matrix runs at section level in ``tests/test_sections.py``.

About 2 minutes on two cores (two notebooks at once), most of it kernels starting and the CLV fits.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from kpilib import report as kr
from kpilib.synth import write_sample

MONTH = "2026-10"
DOMAIN = ["funnel", "engagement", "churn", "clv", "marketing"]  # the glossary reads no data

#: Run in every kernel before the notebook (IPython's startup folder): each plot function
#: refuses an empty frame (no rows, or only zero counts) with an AssertionError, which
#: would make the notebook fail.
GUARD = textwrap.dedent('''
    import functools, os
    import pandas as pd
    import kpilib.plots as _plots

    _COUNTS = {"users", "entered", "active_users", "customers", "converters", "denominator", "orders", "n"}

    def _empty(value):
        frames = [value] + [getattr(value, a, None) for a in ("summary", "histogram", "table", "curve")]
        for frame in frames:
            if isinstance(frame, pd.DataFrame):
                counts = [c for c in frame.columns if c in _COUNTS]
                if frame.empty or (counts and not frame[counts].fillna(0).to_numpy().any()):
                    return True
        return False

    def _guard(name, plot):
        @functools.wraps(plot)
        def guarded(*args, **kwargs):
            if args and _empty(args[0]):
                raise AssertionError(f"{name} was called with empty data")
            return plot(*args, **kwargs)
        return guarded

    for _name in [n for n in dir(_plots) if n.startswith("plot_")]:
        setattr(_plots, _name, _guard(_name, getattr(_plots, _name)))
    with open(os.environ["KPILIB_TEST_GUARD_LOG"], "a") as _log:
        _log.write("guarded\\n")
''')


@pytest.fixture(scope="module")
def guarded_kernels(tmp_path_factory):
    """IPYTHONDIR with the startup guard, for every kernel the report starts."""
    root = tmp_path_factory.mktemp("ipython")
    startup = root / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-refuse-empty-figures.py").write_text(GUARD)
    log = root / "guard.log"
    log.touch()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IPYTHONDIR", str(root))
        patch.setenv("KPILIB_TEST_GUARD_LOG", str(log))
        yield log


@pytest.fixture(scope="module")
def profiles(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("profiles")
    out = {}
    for profile in ("ecommerce", "b2b-leads"):
        write_sample(root / profile, profile=profile, customers=300)
        out[profile] = root / profile
    return out


def _copy(source: Path, target: Path, keep: set[str]) -> Path:
    target.mkdir(parents=True)
    for path in source.glob("*.parquet"):
        if path.stem in keep:
            shutil.copy(path, target / path.name)
    return target


def _run(source: Path, out: Path, **parameters) -> kr.ReportResult:
    return kr.run_report(MONTH, source=source, out=out, only=DOMAIN, progress=False, jobs=2,
                         parameters={"bootstrap_replicates": 0, **parameters})


def _check(result: kr.ReportResult) -> dict[str, str]:
    """What every run must satisfy; returns notebook → status."""
    assert result.ok and not result.failed, [(s.notebook, s.error) for s in result.notebooks]
    index = result.index.read_text()
    for status in result.notebooks:
        record = json.loads((result.path / f"{status.notebook}.json").read_text())
        assert record["status"] == status.status != "failed"
        page = (result.path / f"{status.notebook}.html").read_text()
        if status.status == "skipped":
            assert status.reason and "\n" not in status.reason and "add" in status.reason
            assert f"Not run: this notebook {status.reason}." in index
            assert f"this notebook {status.reason}." in page
        else:
            assert status.reason is None
            assert (status.status == "partial") == bool(status.skipped_sections)
            for skipped in status.skipped_sections:
                assert skipped["title"] and skipped["reason"] and "\n" not in skipped["reason"]
                assert f"<li>{skipped['title']}: {skipped['reason']}</li>" in index
            assert "Traceback" not in page
    return {s.notebook: s.status for s in result.notebooks}


def _skipped(result: kr.ReportResult, notebook: str) -> set[str]:
    status = next(s for s in result.notebooks if s.notebook == notebook)
    return {k["section"] for k in status.skipped_sections}


#: CLV sections a model that cannot be fitted on a small shop may skip (the fits are
#: another module's business; the report must only stay whole).
MODEL_SECTIONS = {"model_checks", "predicted_value", "uncertainty", "tiers", "value_by_channel", "clv_cac"}


def test_the_shop_profile(profiles, guarded_kernels, tmp_path):
    result = _run(profiles["ecommerce"], tmp_path / "r")
    statuses = _check(result)
    assert statuses == {"01_funnel": "partial", "02_engagement": "partial", "03_churn": "partial",
                        "04_clv": statuses["04_clv"], "05_marketing": "partial"}
    # the shop declares its funnel in kpilib.toml (visit → add_to_cart → purchase, 30 days):
    # only the sections about leads have nothing to show
    assert _skipped(result, "01_funnel") == {"lead_nurture", "lead_score"}
    assert _skipped(result, "02_engagement") == {"feature_adoption", "time_to_value", "nps_by_plan",
                                                 "health_validation"}
    assert _skipped(result, "03_churn") == {"churn_rate", "churn_by_segment", "revenue_retention",
                                            "survival_by_plan", "survival_by_channel", "sbg"}
    assert _skipped(result, "04_clv") <= MODEL_SECTIONS
    assert _skipped(result, "05_marketing") - MODEL_SECTIONS == {"traffic_to_leads"}
    funnel = next(s for s in result.notebooks if s.notebook == "01_funnel")
    values = {m["metric"]: m["value"] for m in funnel.metrics}
    assert values["new_leads"] is None  # no lead events: no data, not 0
    # October's conversion counts only entrants whose 30-day window closed by the data's
    # end (the first days of the month): a small denominator, and its own numerator
    conversion = next(m for m in funnel.metrics if m["metric"] == "conversion_rate")
    assert 0 < conversion["denominator"] < 100
    assert conversion["value"] == pytest.approx(conversion["numerator"] / conversion["denominator"])
    page = (result.path / "01_funnel.html").read_text()
    assert "first</strong> <code>visit</code>" in page and "<code>add_to_cart</code>" in page
    index = result.index.read_text()
    assert "New leads" in index.split("No data in")[1].split("</p>")[0]
    assert int(guarded_kernels.read_text().count("guarded")) >= 5  # the guard ran in every kernel


def test_the_crm_profile_with_its_own_steps(profiles, guarded_kernels, tmp_path):
    result = _run(profiles["b2b-leads"], tmp_path / "r")  # steps from the profile's kpilib.toml
    statuses = _check(result)
    assert statuses == {"01_funnel": "partial", "02_engagement": "skipped", "03_churn": "skipped",
                        "04_clv": "skipped", "05_marketing": "partial"}
    assert _skipped(result, "01_funnel") == {"landing_pages", "sales_cycle"}  # channel from customers
    page = (result.path / "01_funnel.html").read_text()
    assert "People enter at their <strong>first</strong> <code>lead</code> of the month" in page
    assert "first</strong> <code>visit</code>" not in page
    clv = next(s for s in result.notebooks if s.notebook == "04_clv")
    assert clv.reason == "needs the orders table: add orders.parquet or orders.csv to the source"
    assert not (result.path / "04_clv.ipynb").exists()  # a skipped notebook is not started
    engagement = next(s for s in result.notebooks if s.notebook == "02_engagement")
    assert engagement.reason.startswith("has no section that can run on this source: ")


@pytest.mark.parametrize(
    ("keep", "expected"),
    [
        pytest.param({"customers", "orders", "subscriptions", "email", "surveys", "spend"},
                     {"01_funnel": "skipped", "02_engagement": "partial", "03_churn": "partial",
                      "04_clv": "ok", "05_marketing": "partial"}, id="no-events"),
        pytest.param({"customers", "events", "subscriptions", "email", "surveys", "spend"},
                     {"01_funnel": "ok", "02_engagement": "ok", "03_churn": "ok", "04_clv": "skipped",
                      "05_marketing": "partial"}, id="no-orders"),
        pytest.param({"orders"}, {"01_funnel": "skipped", "02_engagement": "skipped", "03_churn": "skipped",
                                  "04_clv": "partial", "05_marketing": "skipped"}, id="only-orders"),
        pytest.param({"customers", "subscriptions"},
                     {"01_funnel": "skipped", "02_engagement": "skipped", "03_churn": "partial",
                      "04_clv": "skipped", "05_marketing": "skipped"}, id="customers-and-subscriptions"),
    ],
)
def test_the_saas_sample_with_tables_removed(small_sample, guarded_kernels, tmp_path, keep, expected):
    source = _copy(small_sample, tmp_path / "data", keep)
    result = _run(source, tmp_path / "r")
    assert _check(result) == expected
    absent = sorted({"customers", "events", "orders", "subscriptions", "email", "surveys", "spend"} - keep)
    for status in result.notebooks:
        for skipped in status.skipped_sections:
            assert any(f"the {table} table" in skipped["reason"] for table in absent) or (
                skipped["section"] in MODEL_SECTIONS), skipped
        if status.status == "skipped":
            assert any(table in status.reason for table in absent)


def test_the_guard_refuses_an_empty_figure(guarded_kernels, tmp_path):
    """The control: with the guard, a notebook that draws an empty frame fails."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[
        new_code_cell('month: str = "2026-10"  # m', metadata={"tags": ["parameters"]}),
        new_code_cell("import pandas as pd\nfrom kpilib import plots\n"
                      "plots.plot_funnel(pd.DataFrame(columns=['step', 'users']))"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    folder = tmp_path / "nb"
    folder.mkdir()
    nbformat.write(nb, folder / "01_empty.ipynb")
    result = kr.run_report(MONTH, out=tmp_path / "r", notebooks_dir=folder, progress=False, check_data=False)
    assert result.failed == ["01_empty"]
    assert "plot_funnel was called with empty data" in result.notebooks[0].error


def test_copy_keeps_only_the_listed_tables(small_sample, tmp_path):
    source = _copy(small_sample, tmp_path / "d", {"orders"})
    assert [p.name for p in source.iterdir()] == ["orders.parquet"]
    assert len(pd.read_parquet(source / "orders.parquet")) > 0


def test_three_weeks_of_data(guarded_kernels, tmp_path):
    """A source that starts this month and ends on its 20th: the month is announced as
    partial, CLV (which needs a calibration and a holdout period) is skipped with the reason,
    and the churn page's channel curves, with no offset resting on enough cohorts, say so in a
    sentence instead of plotting nothing."""
    source = tmp_path / "short"
    write_sample(source, customers=150, seed=5, start="2026-10-01", end="2026-10-20")
    result = kr.run_report("2026-10", source=source, out=tmp_path / "r", only=["churn", "clv"],
                           progress=False, parameters={"bootstrap_replicates": 0})
    assert result.ok, [(s.notebook, s.error) for s in result.notebooks]
    statuses = {s.notebook: s for s in result.notebooks}
    assert statuses["04_clv"].status == "skipped"
    assert "less than two months of history" in statuses["04_clv"].reason
    assert statuses["03_churn"].status in ("ok", "partial")
    last = pd.read_parquet(source / "events.parquet").ts.max()
    assert f"The data end on {last:%Y-%m-%d}: 2026-10 is partial ({last.day} of 31 days)." in result.data_notes
    page = (result.path / "03_churn.html").read_text()
    assert "No retention offsets resting on 3 or more cohorts in 2026-10." in page
