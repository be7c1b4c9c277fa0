"""Generated documents are in step with their sources, and the glossary reads well."""

from __future__ import annotations

from pathlib import Path

import nbformat

from kpilib.glossary import (
    contract_markdown,
    example_code,
    glossary_notebook,
    metrics_markdown,
    write_docs,
)
from kpilib.metrics import all_metrics

ROOT = Path(__file__).resolve().parents[1]


def test_committed_docs_are_up_to_date():
    """Run `python -m kpilib docs` when this fails."""
    assert (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8") == metrics_markdown()
    assert (ROOT / "data" / "README.md").read_text(encoding="utf-8") == contract_markdown()
    committed = nbformat.read(ROOT / "notebooks" / "00_glossary.ipynb", as_version=4)
    fresh = glossary_notebook()
    assert [c.source for c in committed.cells] == [c.source for c in fresh.cells]


def test_every_metric_appears_with_formula_and_runnable_example():
    text = metrics_markdown()
    nb = glossary_notebook()
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for metric in all_metrics():
        assert f"(`{metric.name}`)" in text
        assert metric.formula in text
        assert example_code(metric) in code
        assert ">>>" not in example_code(metric)


def test_contract_lists_every_column(tmp_path):
    from kpilib.data import SCHEMAS

    text = contract_markdown()
    for schema in SCHEMAS.values():
        assert f"## `{schema.name}`" in text
        for column in schema.columns:
            assert f"| `{column.name}` |" in text
    written = write_docs(tmp_path)
    assert {p.name for p in written} == {"metrics.md", "README.md", "00_glossary.ipynb"}
    assert all(p.exists() for p in written)
