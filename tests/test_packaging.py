"""A normal (non-editable) install runs the report and the sample generator from anywhere.

The wheel is built from this checkout, installed with ``--no-deps`` into a brand-new virtual
environment whose only other path is the test environment's site-packages (the pinned
dependencies, not kpilib: the editable install's finder is not loaded there), and run from
a folder outside the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# The dependencies' data files (nbconvert's page templates) live under the test
# environment's share/jupyter, which a .pth line cannot reach: point Jupyter at them.
_ENV = {**os.environ, "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter")}


def _run(args: list, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            env=_ENV)
    assert result.returncode == 0, f"{args} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(python of a fresh venv with the kpilib wheel installed, a working folder outside the repo)."""
    tmp = tmp_path_factory.mktemp("packaging")
    # build from a copy without build leftovers (a stale build/lib would be packaged too)
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "*.egg-info", "_bundle", "reports", ".venv", "__pycache__", ".pytest_cache"))
    wheels = tmp / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
          "-w", wheels, src], cwd=tmp)
    wheel = next(wheels.glob("kpilib-*.whl"))
    env = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=tmp).stdout.strip())
    # the dependencies of the test environment, without its editable kpilib
    deps = [p for p in {sysconfig.get_paths()["purelib"], *site.getsitepackages()} if Path(p).is_dir()]
    (purelib / "_kpilib_test_dependencies.pth").write_text("\n".join(deps) + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--quiet", wheel], cwd=tmp)
    work = tmp / "elsewhere"
    work.mkdir()
    return python, work, wheel


def test_the_wheel_carries_the_notebooks_sample_and_templates(installed):
    _, _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"kpilib/_bundle/notebooks/{notebook.name}" in names
    for table in sorted((ROOT / "data" / "sample").iterdir()):
        assert f"kpilib/_bundle/sample/{table.name}" in names
    assert any(n.startswith("kpilib/report/templates/") for n in names)


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    python, work, _ = installed
    where = _run([python, "-c", "import kpilib, kpilib.bundle as b; print(kpilib.__file__); "
                  "print(b.sample_dir()); print(b.notebooks_dir())"], cwd=work).stdout.split()
    assert all(str(ROOT) not in line for line in where), where
    assert all("site-packages" in line for line in where)


def test_report_and_check_run_from_outside_the_repository(installed):
    python, work, _ = installed
    checked = _run([python, "-m", "kpilib", "check"], cwd=work).stdout
    assert "customers" in checked and "events" in checked
    _run([python, "-m", "kpilib", "report", "--month", "2026-10", "--only", "funnel,marketing",
          "--quiet", "--out", "reports"], cwd=work)
    month = work / "reports" / "2026-10"
    assert (month / "index.html").is_file()
    headline = json.loads((month / "01_funnel.json").read_text())
    assert headline, "the funnel page recorded no headline metric"
    assert "FAILED" not in (month / "index.html").read_text()


def test_sample_data_runs_from_outside_the_repository(installed):
    python, work, _ = installed
    _run([python, "-m", "kpilib", "sample-data", "--out", "mine", "--customers", "300"], cwd=work)
    written = {p.name for p in (work / "mine").iterdir()}
    assert {"customers.parquet", "events.parquet", "truth.json"} <= written
    checked = _run([python, "-m", "kpilib", "check", "--source", "mine"], cwd=work).stdout
    assert "customers" in checked
