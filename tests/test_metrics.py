"""The registry: one record per metric, each worked example runs, each tied to code."""

from __future__ import annotations

import doctest

import pytest

from kpilib import metrics
from kpilib.metrics import STAGES, UNITS, Metric, all_metrics, computes, get, register

ALL = all_metrics()


def test_the_registry_is_not_empty_and_names_are_unique():
    names = [m.name for m in ALL]
    assert len(names) >= 10
    assert len(names) == len(set(names))


@pytest.mark.parametrize("metric", ALL, ids=lambda m: m.name)
def test_worked_example_runs_as_a_doctest(metric):
    parser = doctest.DocTestParser()
    test = parser.get_doctest(metric.example, {}, f"metric {metric.name}", None, 0)
    runner = doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    )
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, "an example must check something"
    assert result.failed == 0, f"the worked example of {metric.name} fails"


@pytest.mark.parametrize("metric", ALL, ids=lambda m: m.name)
def test_every_metric_is_complete_and_computed_somewhere(metric):
    assert metric.stage in STAGES and metric.unit in UNITS
    assert metric.title and metric.formula and metric.definition and metric.pitfalls
    assert metric.computed_by, f"{metric.name} is registered but no function computes it"
    for path in metric.computed_by:
        module, _, name = path.rpartition(".")
        assert not any(part.startswith("_") for part in path.split(".")), (
            f"{metric.name} is computed by {path}, which is not a public path")
        fn = getattr(__import__(module, fromlist=[name]), name)
        assert metric in fn.metrics


def _toy(name: str, **changes) -> Metric:
    fields = dict(name=name, title="Toy", stage="acquisition", formula="x", definition="d",
                  pitfalls="p", unit="rate", higher_is_better=True, example=">>> 1 + 1\n2")
    fields.update(changes)
    return Metric(**fields)


def test_register_is_idempotent_but_refuses_a_second_definition(monkeypatch):
    monkeypatch.setattr(metrics, "_REGISTRY", dict(metrics._REGISTRY))
    first = register(_toy("toy_rate"))
    assert register(_toy("toy_rate")) is first
    with pytest.raises(ValueError, match="already registered"):
        register(_toy("toy_rate", formula="y"))


def test_computes_ties_a_function_to_its_records(monkeypatch):
    monkeypatch.setattr(metrics, "_REGISTRY", dict(metrics._REGISTRY))
    record = register(_toy("toy_share", computed_by=[]))

    @computes("toy_share")
    def toy_share():
        return 1

    assert toy_share.metrics == [record]
    assert record.computed_by == [f"{__name__}.test_computes_ties_a_function_to_its_records.<locals>.toy_share"]


def test_unknown_metric_suggests_close_names():
    name = ALL[0].name
    with pytest.raises(KeyError, match=f"Did you mean {name}"):
        get(name + "x")


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"stage": "awareness"}, "unknown stage"), ({"unit": "furlongs"}, "unknown unit"),
     ({"example": "1 + 1"}, "doctest")],
)
def test_malformed_records_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        _toy("bad", **changes)


# --- one source of truth: the formula is typed once, the registry sits below the domains ---

import ast  # noqa: E402
import importlib  # noqa: E402
import inspect  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

_MATH = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<inline>\S.*)?\n"
                   r"(?P<block>(?:[ \t]*\n|(?P=indent)[ \t]+\S.*\n)*)", re.M)
_INSERTED = re.compile(r"\(registered as ``(?P<name>[a-z0-9_]+)``\):\n\n[ \t]*\.\. math:: .*\n")


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _hand_formulas(doc: str) -> list[str]:
    """The ``.. math::`` formulas a docstring spells out itself (not inserted by computes)."""
    doc = _INSERTED.sub("", inspect.cleandoc(doc) + "\n")
    return [_squeeze((m.group("inline") or "") + m.group("block")) for m in _MATH.finditer(doc)]


def _function(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("metric", ALL, ids=lambda m: m.name)
def test_the_formula_is_typed_once_and_shown_where_it_is_computed(metric):
    for path in metric.computed_by:
        doc = _function(path).__doc__ or ""
        shown = [m.group("name") for m in _INSERTED.finditer(doc)]
        assert shown.count(metric.name) == 1, f"{path}'s docstring must show {metric.name}'s formula once"
        assert metric.formula in doc
        assert _squeeze(metric.formula) not in _hand_formulas(doc), (
            f"{path} restates {metric.name}'s formula by hand; the record's text is inserted by computes()")


def test_the_registry_imports_no_domain():
    tree = ast.parse(Path(metrics.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not [name for name in imported if name.startswith("kpilib")], imported
    code = (
        "import sys, kpilib.metrics as m\n"
        "domains = ['kpilib.' + d for d in ('funnel', 'engagement', 'churn', 'clv', 'marketing')]\n"
        "before = [d for d in domains if d in sys.modules]\n"
        "names = {x.name for x in m.all_metrics()}\n"
        "print(before, all(d in sys.modules for d in domains), 'stickiness' in names)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True True"


def test_the_order_does_not_depend_on_what_was_imported_first():
    code = ("import importlib, sys\n"
            "importlib.import_module(sys.argv[1])\n"
            "import kpilib.metrics as m\n"
            "print(' '.join(x.name for x in m.all_metrics()))\n")
    orders = {first: subprocess.run([sys.executable, "-c", code, first], capture_output=True, text=True,
                                    check=True).stdout.split()
              for first in ("kpilib.marketing", "kpilib.clv", "kpilib.funnel", "kpilib.glossary")}
    assert len({tuple(o) for o in orders.values()}) == 1, orders
    assert orders["kpilib.funnel"] == [m.name for m in ALL]


def test_every_domain_module_stays_short():
    root = Path(metrics.__file__).parent
    long = {str(p.relative_to(root)): n for p in root.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 1500}
    assert not long, f"modules over 1,500 lines: {long}"
