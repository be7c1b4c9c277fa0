"""A report run checked before anything runs: its arguments, its notebooks and its data.

:func:`_plan` turns the arguments of :func:`~kpilib.report.run_report` and
:func:`~kpilib.report.run_history` into a :class:`_Plan`, or raises
:class:`ReportArgumentError` (a malformed month, an unknown notebook, a bad parameter, a
source that is not a folder, an output folder that cannot be made, a month without data)
or :class:`kpilib.DataError` (the source breaks the contract; it is loaded and validated
once, here). Nothing is written before the plan is made.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kpilib import bundle
from kpilib.data import SAMPLE_DIR, load_dataset
from kpilib.report._months import _month_runs, _months_without_data
from kpilib.report._pdf import _require_chromium
from kpilib.sources import conceal, is_url, source_label


def parse_parameter(text: str) -> tuple[str, object]:
    """Parse a ``NAME=VALUE`` command-line parameter.

    The value is read as a Python literal (numbers, booleans, None, lists, dicts, quoted
    strings); anything else is kept as the raw string. A literal papermill cannot carry
    into a notebook (a tuple, set, bytes or complex number — it would arrive as text) is
    refused with a ``ValueError`` saying what to write instead.

    Examples
    --------
    >>> parse_parameter("min_customers=30")
    ('min_customers', 30)
    >>> parse_parameter("channel=email")
    ('channel', 'email')
    >>> parse_parameter("channels=['email', 'paid']")
    ('channels', ['email', 'paid'])
    >>> parse_parameter("steps=('visit', 'signup')")
    Traceback (most recent call last):
    ...
    ValueError: steps: a tuple cannot reach a notebook (papermill would pass the text "('visit', 'signup')"); write a list instead: ['visit', 'signup']
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise ValueError(
            f"a parameter must look like NAME=VALUE with NAME a Python identifier, got {text!r}"
        )
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = raw
    check_parameter_value(name, value)
    return name, value


#: What a notebook parameter can be: the types papermill writes back as Python literals.
_CARRIED = (type(None), bool, int, float, str)


def check_parameter_value(name: str, value: object) -> None:
    """Refuse a parameter value papermill cannot carry into a notebook.

    papermill writes parameters into the notebook as Python source; it knows None,
    booleans, numbers, strings, lists and dicts of those, and writes anything else (a
    tuple, a set, bytes, a complex number, an object) as its ``str`` — a notebook expecting
    a sequence would then iterate over characters.

    Raises
    ------
    ValueError
        Naming the parameter, what papermill would have passed and what to write instead.
    """
    if isinstance(value, _CARRIED):
        return
    if isinstance(value, list):
        for item in value:
            check_parameter_value(name, item)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            check_parameter_value(name, key)
            check_parameter_value(name, item)
        return
    kind = type(value).__name__
    text = str(value)
    if isinstance(value, (tuple, set, frozenset)):
        items = list(value)
        if not isinstance(value, tuple):  # a set's order is arbitrary: show it sorted
            items = sorted(value, key=repr)
            text = "{" + ", ".join(map(repr, items)) + "}"
        hint = f"write a list instead: {items!r}"
    else:
        hint = "write a string, a number, a list or a dict instead"
    raise ValueError(f"{name}: a {kind} cannot reach a notebook (papermill would pass the text {text!r}); {hint}")


class ReportArgumentError(ValueError):
    """A report asked for with arguments that cannot work, raised before any notebook runs.

    A malformed month or range, an unknown notebook, a bad parameter, a source that is not
    a folder, an output folder that cannot be made, or a month for which the source holds
    no data at all. The command line shows its message on one line and exits with code 2.
    """


def default_notebooks_dir() -> Path:
    """The notebooks a report runs: the checkout's ``notebooks/`` folder, or the copy an
    installed kpilib carries (:func:`kpilib.bundle.notebooks_dir`)."""
    return bundle.notebooks_dir()


def _short_name(stem: str) -> str:
    """``"01_funnel"`` → ``"funnel"``."""
    return re.sub(r"^\d+[_-]", "", stem)


def select_notebooks(notebooks_dir: str | Path, only: Sequence[str] | None = None) -> list[Path]:
    """The notebooks a report runs, in name order.

    Parameters
    ----------
    notebooks_dir : str or Path
        Folder with ``*.ipynb`` files.
    only : sequence of str, optional
        Stems to keep; ``"01_funnel"`` and ``"funnel"`` both select ``01_funnel.ipynb``.

    Raises
    ------
    FileNotFoundError
        When the folder does not exist or holds no notebooks.
    ValueError
        When a name in ``only`` matches no notebook.
    """
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"notebooks folder {str(folder)!r} does not exist")
    paths = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if not paths:
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {str(folder)!r}")
    if only is None:
        return paths
    wanted = [only] if isinstance(only, str) else list(only)
    unknown = [w for w in wanted if not any(w in (p.stem, _short_name(p.stem)) for p in paths)]
    if unknown:
        known = ", ".join(p.stem for p in paths)
        raise ValueError(f"no notebook named {', '.join(map(repr, unknown))}; available: {known}")
    return [p for p in paths if p.stem in wanted or _short_name(p.stem) in wanted]


def notebook_title(nb: Any, default: str) -> str:
    """A notebook's title: its first Markdown heading, or ``default``.

    Examples
    --------
    >>> import nbformat.v4 as v4
    >>> notebook_title(v4.new_notebook(cells=[v4.new_markdown_cell("# Funnel ##")]), "01_funnel")
    'Funnel'
    >>> notebook_title(v4.new_notebook(), "01_funnel")
    '01_funnel'
    """
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                match = re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
                if match:
                    return match.group(1)
    return default


def _report_parameters(
    month: str, source: str | Path | None, parameters: Mapping[str, object] | None
) -> dict[str, object]:
    params: dict[str, object] = {"month": month}
    if source is not None:
        text = str(source)
        if is_url(text):  # a database URL or Spark source: written down without its secrets
            params["source"] = conceal(text.strip())
        elif not text.strip():
            raise ReportArgumentError(
                "source is empty: pass a folder of the data, or nothing for the bundled sample"
            )
        else:
            try:
                path = Path(source).expanduser().resolve()
                exists, is_dir = path.exists(), path.is_dir()
            except (OSError, RuntimeError) as exc:  # unreadable, a symlink loop
                raise ReportArgumentError(f"source {text!r} cannot be read: {exc}") from None
            if not exists:
                raise ReportArgumentError(
                    f"source {text!r} does not exist (resolved to {str(path)!r})"
                )
            if not is_dir:
                raise ReportArgumentError(
                    f"source {text!r} is not a folder: pass the folder that holds the table files"
                )
            params["source"] = str(path)
    for name, value in (parameters or {}).items():
        if name in ("month", "source"):
            raise ReportArgumentError(f"pass {name!r} as the {name}= argument, not in parameters")
        if not str(name).isidentifier():
            raise ReportArgumentError(f"parameter name {name!r} is not a Python identifier")
        try:
            check_parameter_value(name, value)
        except ValueError as exc:
            raise ReportArgumentError(f"parameter {exc}") from None
        params[name] = value
    return params


def _output_dir(out: str | Path) -> Path:
    """``out`` resolved, after checking that month folders can be made in it (nothing is
    created here)."""
    text = str(out)
    if not text.strip():
        raise ReportArgumentError("out is empty: pass the folder that holds the month folders")
    try:
        path = Path(out).expanduser().resolve()
        existing = next(p for p in (path, *path.parents) if p.exists())
        is_dir = existing.is_dir()
    except (OSError, RuntimeError) as exc:  # unreadable, a symlink loop
        raise ReportArgumentError(f"out {text!r} cannot be used: {exc}") from None
    if not is_dir:
        where = "is a file" if existing == path else f"is below a file ({str(existing)!r})"
        raise ReportArgumentError(f"out {text!r} {where}: it must be a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ReportArgumentError(f"out {text!r} cannot be written ({str(existing)!r} is read-only)")
    return path


def _source_label(source: str | None) -> str:
    """How the pages name the data: a folder, the bundled sample, a URL without password."""
    return source_label(source) if source is not None else f"bundled sample ({SAMPLE_DIR})"


def _present_rows(counts: pd.DataFrame) -> dict[str, int]:
    present = counts[counts["present"]]
    return {str(t): int(n) for t, n in zip(present["table"], present["rows"], strict=True)}


def _summarise_source(source: str | None) -> tuple[str, dict[str, int], str | None]:
    """How the pages name the data, its rows per table, and why they could not be counted.

    Used when the data were not checked before the run (``check_data=False``); this only
    counts rows (without validation) for the page headers, so a problem here never stops
    the report.
    """
    label = _source_label(source)
    try:
        counts = load_dataset(source, validate=False).row_counts()
    except Exception as exc:  # the notebooks report the problem in full
        return label, {}, f"{type(exc).__name__}: {exc}"
    return label, _present_rows(counts), None


def _check_data(source: str | None, months: Sequence[str]) -> _SourceSummary | None:
    """Load and validate the source once, and refuse months it holds no data for.

    Returns the pages' name of the source (a URL without its password), its rows per
    table and the loaded dataset (for its notes).

    Raises
    ------
    kpilib.DataError
        When the data break the contract.
    ReportArgumentError
        When a month lies wholly outside the source's earliest and latest activity
        (:meth:`kpilib.data.Dataset.time_span`); a month partly covered is allowed.
    """
    dataset = load_dataset(source)
    span = dataset.time_span()
    outside = _months_without_data(months, span)
    if outside:
        low, high = span
        where = (
            f"the source's data run from {low:%Y-%m-%d} to {high:%Y-%m-%d}"
            if low is not None and high is not None
            else "the source holds no dated rows"
        )
        raise ReportArgumentError(f"no data for {_month_runs(outside)}: {where}")
    return _SourceSummary(_source_label(source), _present_rows(dataset.row_counts()), dataset)


@dataclass
class _SourceSummary:
    """The checked source of a run: its label, rows per table, and the dataset."""

    label: str
    row_counts: dict[str, int]
    dataset: Any

    def notes(self, month: str) -> list[str]:
        """What the pages of ``month`` announce at the top: how far the data reach
        (:meth:`kpilib.data.Dataset.coverage_notes`) and the rows the contract kept but
        noted (:attr:`kpilib.data.Dataset.notes`)."""
        return [*self.dataset.coverage_notes(month), *self.dataset.notes]


@dataclass
class _Plan:
    """A checked report run: what building each of its months needs."""

    notebooks: list[Path]
    notebooks_dir: Path
    params: dict[str, object]
    out_dir: Path
    chromium: str | None
    summary: _SourceSummary | None
    jobs: int = 1


def _plan(
    months: Sequence[str],
    *,
    source: str | Path | None,
    out: str | Path,
    only: Sequence[str] | None,
    parameters: Mapping[str, object] | None,
    notebooks_dir: str | Path | None,
    pdf: bool,
    check_data: bool,
    jobs: int = 1,
) -> _Plan:
    """Check a run before anything runs or is written (see :func:`run_report`)."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ReportArgumentError(f"jobs must be a whole number of notebooks at once, 1 or more; got {jobs!r}")
    try:
        folder = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
        folder = folder.resolve()
        paths = select_notebooks(folder, only)
    except (ValueError, OSError) as exc:  # an unknown notebook, no notebooks folder
        raise ReportArgumentError(str(exc)) from None
    params = _report_parameters(months[0], source, parameters)
    out_dir = _output_dir(out)
    chromium = _require_chromium() if pdf else None
    summary = _check_data(params.get("source"), months) if check_data else None  # type: ignore[arg-type]
    return _Plan(paths, folder, params, out_dir, chromium, summary, jobs)

