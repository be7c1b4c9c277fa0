"""Tests for kpilib.sections: what each notebook section needs, on every source shape.

The whole removal matrix runs here at section level — every single table removed, every
optional column removed — through the requirements table and the notebook helper, without
running a notebook (``tests/test_report_sources.py`` runs the report end to end on a few).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

import kpilib
from kpilib import sections as ks
from kpilib.data import SCHEMAS, TABLE_NAMES
from kpilib.report import default_notebooks_dir

NOTEBOOK_DIR = default_notebooks_dir()
OPTIONAL = [f"{table}.{c.name}" for table, schema in SCHEMAS.items() for c in schema.columns if not c.required]


@pytest.fixture(scope="module")
def full(small_sample) -> kpilib.Dataset:
    """The saas sample: every table and every optional column."""
    return kpilib.load_dataset(small_sample)


@pytest.fixture(scope="module")
def defaults() -> dict[str, dict]:
    return {nb: ks.notebook_parameters(NOTEBOOK_DIR / f"{nb}.ipynb") for nb in ks.NOTEBOOKS}


def without(ds: kpilib.Dataset, item: str) -> kpilib.Dataset:
    """``ds`` without a table (``"events"``) or an optional column (``"events.feature"``)."""
    table, _, column = item.partition(".")
    if not column:
        return replace(ds, **{table: None})
    return replace(ds, **{table: getattr(ds, table).drop(column)})


def outcome(ds: kpilib.Dataset, defaults: dict) -> dict[str, object]:
    """Per notebook: "skipped", or the names of its skipped sections."""
    out: dict[str, object] = {}
    for notebook in ks.NOTEBOOKS:
        plan = ks.evaluate(ds, notebook, defaults[notebook])
        out[notebook] = ("skipped" if ks.skip_reason(plan) else
                         {s.name for s in plan.values() if not s.runs})
    return out


#: What each removal from the full sample skips, with the notebooks' default parameters.
#: Notebooks not listed run in full.
EXPECTED: dict[str, dict[str, object]] = {
    "customers": {
        "02_engagement": {"nps_by_plan", "time_to_value"},
        "03_churn": {"retention_by_channel", "survival_by_channel"},
        "04_clv": {"value_by_channel"},
        "05_marketing": {"acquisition_costs", "clv_cac", "headline", "return_on_spend"},
    },
    "events": {
        "01_funnel": "skipped",
        "02_engagement": {"active_users", "feature_adoption", "health_score", "health_validation", "lifecycle",
                          "time_to_value", "usage"},
        "03_churn": {"cohort_retention", "retention_by_channel"},
        "05_marketing": {"traffic_to_leads"},
    },
    "orders": {
        "04_clv": "skipped",
        "05_marketing": {"attributed_return", "attribution", "clv_cac", "influenced_revenue", "return_on_spend"},
    },
    "subscriptions": {
        "02_engagement": {"health_validation"},
        "03_churn": {"churn_by_segment", "churn_rate", "revenue_retention", "sbg", "survival_by_channel",
                     "survival_by_plan"},
    },
    "email": {"02_engagement": {"email"}},
    "surveys": {"02_engagement": {"nps_by_plan", "surveys"}},
    "spend": {
        "01_funnel": {"cost_per_mql"},
        "05_marketing": {"acquisition_costs", "attributed_return", "clv_cac", "headline", "return_on_spend"},
    },
    "customers.plan": {"02_engagement": {"nps_by_plan"}},  # churn takes the plan from subscriptions
    "customers.segment": {},  # the default lead score has no profile points
    "customers.country": {},
    "events.channel": {"05_marketing": {"traffic_to_leads"}},  # the funnel takes customers.channel
    "events.campaign": {},
    "events.page": {"01_funnel": {"landing_pages"}},
    "events.feature": {"02_engagement": {"feature_adoption"}},  # health: breadth is left out
    "subscriptions.plan": {},  # churn by plan from customers.plan; the sBG pools one cohort
    "spend.campaign": {},
}


def test_the_matrix_covers_every_table_and_every_optional_column():
    assert set(EXPECTED) == set(TABLE_NAMES) | set(OPTIONAL)


def test_every_section_runs_on_the_full_sample(full, defaults):
    assert outcome(full, defaults) == {nb: set() for nb in ks.NOTEBOOKS}


@pytest.mark.parametrize("removed", list(EXPECTED))
def test_one_removal_skips_exactly_the_sections_that_need_it(full, defaults, removed):
    ds = without(full, removed)
    expected = {nb: EXPECTED[removed].get(nb, set()) for nb in ks.NOTEBOOKS}
    assert outcome(ds, defaults) == expected
    table, _, column = removed.partition(".")
    for notebook in ks.NOTEBOOKS:
        plan = ks.evaluate(ds, notebook, defaults[notebook])
        for status in plan.values():
            if status.runs:
                continue
            # one line that says what to add: the table's file or the column
            assert "\n" not in status.reason and "add" in status.reason
            if column:
                assert f"column {column} in the {table} table" in status.reason
            else:
                assert f"the {table} table" in status.reason
                assert f"{table}.parquet or {table}.csv" in status.reason or "one of them" in status.reason
        reason = ks.skip_reason(plan)
        if reason is not None:
            assert reason == f"needs the {table} table: add {table}.parquet or {table}.csv to the source"


@pytest.mark.parametrize("removed", list(EXPECTED))
def test_the_notebook_helper_notes_and_records_each_skip_once(full, defaults, removed):
    ds = without(full, removed)
    for notebook in ks.NOTEBOOKS:
        shown: list = []
        try:
            plan = ks.sections(ds, notebook, **defaults[notebook])
        except ks.NotebookSkipped as skipped:
            assert EXPECTED[removed].get(notebook) == "skipped"
            assert skipped.reason == ks.skip_reason(ks.evaluate(ds, notebook, defaults[notebook]))
            assert skipped._render_traceback_() == [f"NotebookSkipped: {skipped.reason}"]
            continue
        plan.display = shown.append
        runs = {name: plan.runs(name) for name in plan.statuses}
        again = {name: plan.runs(name) for name in plan.statuses}
        assert runs == again
        assert {n for n, r in runs.items() if not r} == EXPECTED[removed].get(notebook, set())
        records = [note._repr_mimebundle_().get(ks.SECTION_MIMETYPE) for note in shown]
        skipped = [r for r in records if r is not None]
        assert [r["section"] for r in skipped] == [n for n, r in runs.items() if not r]  # once each, in order
        for record in skipped:
            assert record == {"notebook": notebook, "section": record["section"],
                              "title": plan[record["section"]].title, "reason": plan[record["section"]].reason}


def test_a_section_running_without_an_optional_input_says_what_it_would_add(full, defaults):
    plan = ks.sections(without(full, "email"), "05_marketing")
    shown: list = []
    plan.display = shown.append
    assert plan.runs("attribution") and plan.runs("attribution")
    assert [n._repr_mimebundle_()["text/plain"] for n in shown] == [
        "Attribution runs without the email table: with it, email clicks count as touches too."]
    assert ks.SECTION_MIMETYPE not in shown[0]._repr_mimebundle_()  # a note, not a skip


def test_sections_follow_the_parameters(full, defaults):
    funnel = defaults["01_funnel"]
    crm = {**funnel, "steps": ["lead", "mql", "won"], "profile_points": {"segment": {"enterprise": 20}},
           "breakdown": "country"}
    ds = without(full, "customers.segment")
    plan = ks.evaluate(ds, "01_funnel", crm)
    assert plan["funnel"].reason == (
        "needs won events in the events table (it has feature_use, lead, mql, page_view, purchase, share, "
        "signup, sql …): set steps (or [funnel] steps in kpilib.toml) to event names it has, or map yours onto "
        "them in kpilib.toml [events]")
    assert plan["lead_score"].reason == "needs column segment in the customers table: add it to the source"
    assert not plan["by_group"].runs  # country is on customers, but the steps are not all there
    assert ks.evaluate(full, "01_funnel", {**crm, "steps": ["lead", "mql"]})["by_group"].runs
    engagement = defaults["02_engagement"]
    no_feature = without(full, "events.feature")
    assert ks.evaluate(no_feature, "02_engagement", engagement)["time_to_value"].runs
    assert ks.evaluate(no_feature, "02_engagement", {**engagement, "activation_feature": "api"}
                       )["time_to_value"].reason == "needs column feature in the events table: add it to the source"
    churn = ks.evaluate(without(full, "events"), "03_churn", {**defaults["03_churn"], "activity": "orders"})
    assert churn["cohort_retention"].runs  # orders define activity: no event names needed
    with pytest.raises(KeyError, match="breakdown"):  # steps default to the source's, breakdown does not
        ks.evaluate(full, "01_funnel", {})


def test_notebook_reasons_name_every_way_to_run(full):
    only_customers = replace(full, events=None, orders=None, subscriptions=None, email=None, surveys=None,
                             spend=None)
    reasons = {nb: ks.skip_reason(ks.evaluate(only_customers, nb, ks.notebook_parameters(
        NOTEBOOK_DIR / f"{nb}.ipynb"))) for nb in ks.NOTEBOOKS}
    assert reasons == {
        "01_funnel": "needs the events table: add events.parquet or events.csv to the source",
        "02_engagement": "needs the email, events or surveys table: add one of them to the source",
        "03_churn": "needs the events or subscriptions table: add one of them to the source",
        "04_clv": "needs the orders table: add orders.parquet or orders.csv to the source",
        "05_marketing": "needs the events or spend table, or the email and orders tables: add one of them to "
                        "the source",
    }


def test_what_to_add_is_said_in_the_sources_terms(full, tmp_path):
    """A folder is told the file names, a database the table or view to create, DataFrames
    the load_dataset argument — the kind each loader records on the dataset."""
    import ibis

    customers = full.customers.to_pandas()
    con = ibis.duckdb.connect()
    con.create_table("customers", customers)
    customers.to_parquet(tmp_path / "customers.parquet")
    loaded = {"files": kpilib.load_dataset(tmp_path), "database": kpilib.load_dataset(con),
              "frames": kpilib.load_dataset({"customers": customers})}
    assert {kind: ds.kind for kind, ds in loaded.items()} == {k: k for k in loaded}
    params = ks.notebook_parameters(NOTEBOOK_DIR / "04_clv.ipynb")
    reasons = {kind: ks.skip_reason(ks.evaluate(ds, "04_clv", params)) for kind, ds in loaded.items()}
    assert reasons == {
        "files": "needs the orders table: add orders.parquet or orders.csv to the source",
        "database": "needs the orders table: add a table or view named orders to the source",
        "frames": "needs the orders table: pass it to load_dataset (orders=…)",
    }
    funnel = ks.evaluate(loaded["database"], "01_funnel", {**ks.notebook_parameters(NOTEBOOK_DIR / "01_funnel.ipynb"),
                                                           "steps": ["visit", "signup"]})
    assert all("parquet" not in (s.reason or "") for s in funnel.values())
    assert ks._table_reason(["email", "orders"], "database") == (
        "needs the email and orders tables: add tables or views with those names to the source")
    assert ks._table_reason(["email", "orders"], "frames") == (
        "needs the email and orders tables: pass them to load_dataset (email=…, orders=…)")
    assert ks._table_reason(["email"]) == "needs the email table: add it to the source"


def test_a_notebook_with_only_its_headline_left_is_skipped(full, defaults):
    crm = replace(full, orders=None, subscriptions=None, email=None, surveys=None,
                  events=full.events.filter(full.events.event.isin(["lead", "mql"])).drop("feature"))
    reason = ks.skip_reason(ks.evaluate(crm, "02_engagement", defaults["02_engagement"]))
    assert reason.startswith("has no section that can run on this source: needs the email table")


def test_has_data_says_what_is_empty_and_when():
    shown: list = []
    plan = ks.NotebookPlan("02_engagement", {}, display=shown.append)
    assert plan.has_data(pd.DataFrame({"a": [1]}), "survey answers", "2018-03")
    assert plan.has_data(3, "answers")
    assert plan.has_data(np.int64(2), "answers") and plan.has_data(np.bool_(True), "answers")
    for empty in (pd.DataFrame(), 0, np.int64(0), float("nan"), np.float64("nan"), None, False, np.bool_(False),
                  []):
        assert not plan.has_data(empty, "survey answers", "2018-03")
    assert not plan.has_data(pd.DataFrame(), "NPS answers", "2025-11", "2026-10")
    texts = [n._repr_mimebundle_()["text/plain"] for n in shown]
    assert texts[0] == "No survey answers in 2018-03."
    assert texts[-1] == "No NPS answers from 2025-11 to 2026-10."
    assert all(ks.SECTION_MIMETYPE not in n._repr_mimebundle_() for n in shown)
    assert all('class="kpilib-note kpilib-empty"' in n._repr_mimebundle_()["text/html"] for n in shown)


def test_attempt_turns_a_model_that_cannot_fit_into_a_skip(full, defaults):
    from lifetimes.utils import ConvergenceError

    plan = ks.sections(full, "04_clv")
    shown: list = []
    plan.display = shown.append

    def diverge():
        raise ConvergenceError("the BG/NBD fit on 12 customers did not converge")

    assert plan.attempt("predicted_value", diverge) is None
    assert plan.attempt("model_checks", lambda x: x + 1, 1) == 2
    assert not plan.runs("tiers", after="predicted_value")
    assert plan.runs("rfm", after="model_checks")
    records = [n._repr_mimebundle_()[ks.SECTION_MIMETYPE] for n in shown]
    assert [(r["section"], r["reason"]) for r in records] == [
        ("predicted_value", "the BG/NBD fit on 12 customers did not converge"),
        ("tiers", "needs the result of “Predicted value per customer”, which did not run"),
    ]
    with pytest.raises(ZeroDivisionError):  # other errors are not hidden
        plan.attempt("uncertainty", lambda: 1 / 0)


def test_notes_are_escaped(full):
    note = ks.SectionNote("01_funnel", "x", "<b>Title</b>", "needs <script>", skipped=True)
    html = note._repr_mimebundle_()["text/html"]
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;Title" in html


def _code(notebook: str) -> str:
    nb = nbformat.read(NOTEBOOK_DIR / f"{notebook}.ipynb", as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("notebook", list(ks.NOTEBOOKS))
def test_each_notebook_asks_for_exactly_its_listed_sections(notebook, defaults):
    code = _code(notebook)
    names = set(re.findall(r"plan\.(?:runs|attempt)\(\s*\"(\w+)\"", code))
    names |= set(re.findall(r"after=\"(\w+)\"", code))
    if 'plan.runs(f"survival_by_{segment}")' in code:  # the churn notebook's loop over segments
        names |= {"survival_by_plan", "survival_by_channel"}
    assert names == {s.name for s in ks.NOTEBOOKS[notebook]}
    # the parameters the needs refer to are passed by the notebook itself
    needed = set()
    for section in ks.NOTEBOOKS[notebook]:
        for entry in (*section.needs, *section.needs_any, *section.events, *section.any_event, *section.uses):
            needed.update(re.findall(r"\{(\w+)\}", entry))
            needed.update(re.findall(r" if (\w+)$", entry))
    call = code[code.index(f'kpilib.report.sections(ds, "{notebook}"'):]
    call = call[: call.index(")") + 1]
    assert set(re.findall(r"(\w+)=\1\b", call)) == needed
    assert needed <= set(defaults[notebook])


def test_notebook_parameters_reads_the_defaults(tmp_path):
    cell = nbformat.v4.new_code_cell('month: str = "2026-10"  # m\nsteps: list = ["a", "b"]  # s\nx = f(1)  # skipped\n',
                                     metadata={"tags": ["parameters"]})
    path = tmp_path / "n.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    assert ks.notebook_parameters(path) == {"month": "2026-10", "steps": ["a", "b"]}


def test_check_prints_the_plan_of_a_source_without_events_feature(small_sample, tmp_path, capsys):
    import shutil

    from kpilib.__main__ import main

    source = tmp_path / "no_feature"
    shutil.copytree(small_sample, source)
    events = pd.read_parquet(source / "events.parquet").drop(columns="feature")
    events.to_parquet(source / "events.parquet")
    assert main(["check", "--source", str(source)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    start = lines.index("report sections (with the notebooks' default parameters; -p NAME=VALUE changes one):")
    engagement = next(i for i, line in enumerate(lines) if line.startswith("02_engagement"))
    assert start < engagement
    assert lines[engagement:engagement + 12] == [
        "02_engagement (Engagement: email, active users, product usage, the voice of the customer and health): "
        "partial, 1 of 11 sections skipped",
        "  runs     Email performance",
        "  runs     Active users and stickiness",
        "  runs     Lifecycle",
        "  skipped  Feature adoption: needs column feature in the events table: add it to the source",
        "  runs     Sessions and time on site",
        "  runs     Time to value",
        "  runs     NPS, CSAT and CES",
        "  runs     NPS by plan",
        "  runs     Customer health score",
        "  runs     Health score against churn",
        "  runs     Headline metrics",
    ]
    for notebook in ("01_funnel", "03_churn", "04_clv", "05_marketing"):
        assert any(line.startswith(f"{notebook} (") and line.endswith(": runs") for line in lines)
    # a parameter changes the plan: an activation feature needs the column too
    assert main(["check", "--source", str(source), "-p", "activation_feature='api'"]) == 0
    assert ("  skipped  Time to value: needs column feature in the events table: add it to the source"
            in capsys.readouterr().out.splitlines())


def test_sections_module_has_no_notebook_dependency():
    """kpilib.sections imports nothing heavy at module level (the kernel imports it)."""
    source = Path(ks.__file__).read_text()
    head = source[: source.index("__all__")]
    assert "import nbformat" not in head and "lifetimes" not in head


# --------------------------------------------------------------------------- the source's funnel


@pytest.fixture(scope="module", params=["ecommerce", "b2b-leads"])
def profile_sample(request, tmp_path_factory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp(request.param)
    kpilib.synth.write_sample(folder, profile=request.param, customers=300, seed=3)
    return request.param, folder


def test_a_profiles_funnel_sections_run_with_the_notebooks_defaults(profile_sample, defaults):
    profile, folder = profile_sample
    ds = kpilib.load_dataset(folder)
    truth = json.loads((folder / "truth.json").read_text())
    steps = [truth["funnel"]["entry"], *truth["funnel"]["steps"]]
    assert list(ds.funnel.steps) == steps  # the sample declares its own funnel
    params = defaults["01_funnel"]
    assert params["steps"] == [] and params["window"] == ""  # the notebook leaves them to the source
    plan = ks.evaluate(ds, "01_funnel", params)
    runs = {name for name, status in plan.items() if status.runs}
    assert {"funnel", "by_group", "ab_comparison", "time_to_convert"} <= runs, plan
    if profile == "ecommerce":
        assert plan["landing_pages"].runs  # goal: the funnel's second step, add_to_cart
    # the same steps the notebook computes with; without the settings, the built-in ones are missing
    assert ks.FROM_SOURCE["01_funnel"](ds, params)["steps"] == steps
    bare = replace(ds, funnel=kpilib.data.FunnelSettings())
    assert not ks.evaluate(bare, "01_funnel", params)["funnel"].runs
    # an explicit parameter still wins over the source's
    assert not ks.evaluate(ds, "01_funnel", {**params, "steps": ["visit", "signup"]})["funnel"].runs
    lines = ks.check_lines(ds, {"01_funnel": params})
    assert "  runs     The funnel of the month" in lines
