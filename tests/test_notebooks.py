"""Every notebook: committed clean, documented parameters, runs under papermill."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PARAMETER_LINE = re.compile(r"^(\w+)\s*:\s*([\w\[\], |]+?)\s*=\s*(.+?)\s+#\s*(\S.*)$")
HEADLINE = "application/vnd.kpilib.headline+json"


def test_the_kit_has_its_notebooks():
    names = [p.stem for p in NOTEBOOKS]
    assert "00_glossary" in names and "01_funnel" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_with_documented_parameters(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip the outputs"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    lines = [ln for ln in tagged[0].source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for line in lines:
        assert PARAMETER_LINE.match(line), f"not 'name: type = value  # help': {line}"
    documented = pm.inspect_notebook(str(path))
    if path.stem == "00_glossary":  # depends on nothing, so a report reuses it across months
        assert not documented and "takes no parameters" in tagged[0].source
    else:
        assert "month" in documented and "source" in documented
    # papermill skips a line it cannot parse (e.g. a second '=' in the help text)
    assert sorted(documented) == sorted(PARAMETER_LINE.match(ln).group(1) for ln in lines)
    for name, info in documented.items():
        assert info["help"], f"parameter {name} has no help text"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    longest = max(len(c.source.splitlines()) for c in code)
    assert longest <= 25, "a long cell is logic that belongs in kpilib"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_under_papermill_on_a_small_sample(path, small_sample, tmp_path):
    out = tmp_path / path.name
    pm.execute_notebook(
        str(path), str(out), parameters={"month": "2026-10", "source": str(small_sample)},
        kernel_name="python3", cwd=str(path.parent), progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    headlines = [o for o in outputs if HEADLINE in o.get("data", {})]
    if path.stem != "00_glossary":
        assert len(headlines) == 1, "a domain notebook records its headline metrics once"
        payload = headlines[0]["data"][HEADLINE]
        payload = json.loads(payload) if isinstance(payload, str) else payload
        assert payload
