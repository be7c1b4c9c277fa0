"""The registry of metric definitions: one record per metric, written once.

Every metric kpilib computes has exactly one :class:`Metric` record — its formula, what
it means, how it misleads, its unit, whether higher is better, a reference and a tiny
worked example that runs as a doctest. Each domain registers its records beside the
functions that compute them and ties the two with :func:`computes`, which also writes the
record's formula into the function's docstring — the formula is typed once, in the record.
The glossary notebook (``notebooks/00_glossary.ipynb``) and ``docs/metrics.md`` are
rendered from the registry, and the report index takes titles, units and directions from it.

This module sits below the domains and imports none of them: the package
(:mod:`kpilib`) tells it which modules hold records, in the order the glossary presents
them, with :func:`add_domains`, so :func:`all_metrics` and :func:`get` see every domain's
records in the same order whichever module a program happened to import first.
"""

from __future__ import annotations

import difflib
import importlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import pandas as pd

__all__ = [
    "STAGES",
    "UNITS",
    "add_domains",
    "Metric",
    "all_metrics",
    "computes",
    "get",
    "metrics_table",
    "register",
]

#: Stages of the customer journey, in the order the glossary presents them.
STAGES: dict[str, str] = {
    "acquisition": "Acquisition — turning visitors into leads and customers",
    "nurture": "Nurture — leads on their way to a sale",
    "engagement": "Engagement — email, product usage and the voice of the customer",
    "retention": "Retention and churn — who stays",
    "value": "Customer value — what customers are worth over time",
    "economics": "Marketing economics — what it costs to win them",
}

#: Units a metric can be expressed in; the report formats values by unit.
UNITS = ("rate", "count", "currency", "days", "points", "ratio", "score", "months", "minutes")



@dataclass(frozen=True)
class Metric:
    """The definition of one metric.

    Parameters
    ----------
    name : str
        Identifier, ``snake_case``; what reports and JSON files use.
    title : str
        Human title, e.g. ``"Conversion rate"``.
    stage : str
        A key of :data:`STAGES`.
    formula : str
        The formula in LaTeX (without surrounding ``$``).
    definition : str
        What the number means, in plain language.
    pitfalls : str
        How it misleads and what to watch for.
    unit : str
        One of :data:`UNITS`.
    higher_is_better : bool or None
        Direction used to colour changes; ``None`` when neither direction is good.
    example : str
        A worked example in doctest form (``>>>`` lines and their output). It is run by
        the test suite and shown in the glossary.
    reference : str, optional
        Where the definition comes from.
    """

    name: str
    title: str
    stage: str
    formula: str
    definition: str
    pitfalls: str
    unit: str
    higher_is_better: bool | None
    example: str
    reference: str = ""
    computed_by: list[str] = field(default_factory=list, compare=False)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"metric {self.name!r}: unknown stage {self.stage!r}; use one of {list(STAGES)}")
        if self.unit not in UNITS:
            raise ValueError(f"metric {self.name!r}: unknown unit {self.unit!r}; use one of {UNITS}")
        if ">>>" not in self.example:
            raise ValueError(f"metric {self.name!r}: the example must be a doctest (>>> lines)")


_REGISTRY: dict[str, Metric] = {}
#: Modules holding records, in presentation order (see :func:`add_domains`).
_DOMAINS: list[str] = []
#: The module that registered each record.
_REGISTERED_BY: dict[str, str] = {}

F = TypeVar("F", bound=Callable)


def add_domains(*modules: str) -> None:
    """Tell the registry which modules hold metric records, in the order the glossary and
    docs present them within a journey stage. :mod:`kpilib` adds its five domains; a
    plug-in package adds its own module. The modules are imported before
    :func:`all_metrics` answers and when :func:`get` misses a name.

    Examples
    --------
    >>> add_domains("kpilib.funnel")  # already known: nothing changes
    >>> "kpilib.funnel" in _DOMAINS
    True
    """
    for module in modules:
        if module not in _DOMAINS:
            _DOMAINS.append(module)


def _load() -> None:
    for module in list(_DOMAINS):
        importlib.import_module(module)


def _domain_rank(name: str) -> int:
    """Position of the module that registered ``name`` among the domains (others last)."""
    module = _REGISTERED_BY.get(name, "")
    for rank, domain in enumerate(_DOMAINS):
        if module == domain or module.startswith(domain + "."):
            return rank
    return len(_DOMAINS)


def register(metric: Metric) -> Metric:
    """Add a metric to the registry; a name can be registered only once.

    Returns the metric, so a module can keep a handle on it.
    """
    existing = _REGISTRY.get(metric.name)
    if existing is not None and existing != metric:
        raise ValueError(f"metric {metric.name!r} is already registered with another definition")
    if metric.name not in _REGISTRY:
        _REGISTRY[metric.name] = metric
        _REGISTERED_BY[metric.name] = sys._getframe(1).f_globals.get("__name__", "")
    return _REGISTRY[metric.name]


def public_path(fn: Callable) -> str:
    """The import path users call a function by: a private module of a domain package
    (``kpilib.engagement._activity``) is re-exported by the package (``kpilib.engagement``).

    Examples
    --------
    >>> def stickiness(): ...
    >>> stickiness.__module__ = "kpilib.engagement._activity"
    >>> public_path(stickiness)
    'kpilib.engagement.stickiness'
    """
    parts = fn.__module__.split(".")
    while len(parts) > 1 and parts[-1].startswith("_"):
        parts.pop()
    return ".".join([*parts, fn.__qualname__])


_SECTION = re.compile(r"^(?P<indent>[ \t]*)(?P<title>[A-Z][A-Za-z ]+)\n(?P=indent)-{3,}[ \t]*$", re.M)


def formula_notes(records: list[Metric], doc: str | None) -> str:
    """``doc`` with the records' formulas in its ``Notes`` section (created before
    ``References`` or ``Examples`` when missing): the docstring shows the formula the
    registry holds, so it is typed once."""
    doc = doc or ""
    lines = [m.group("indent") for m in _SECTION.finditer(doc)]
    indent = lines[0] if lines else "    "
    block = "".join(
        f"\n{indent}{record.title} (registered as ``{record.name}``):\n\n"
        f"{indent}.. math:: {record.formula}\n"
        for record in records
    )
    sections = {m.group("title").strip(): m for m in _SECTION.finditer(doc)}
    if "Notes" in sections:
        at = sections["Notes"].end()
        return doc[:at] + block + doc[at:]
    for later in ("References", "Examples"):
        if later in sections:
            at = sections[later].start()
            return doc[:at] + f"{indent}Notes\n{indent}-----" + block + "\n" + doc[at:]
    return doc.rstrip() + f"\n\n{indent}Notes\n{indent}-----" + block + indent


def computes(*names: str) -> Callable[[F], F]:
    """Decorator tying a function to the metric records it computes.

    The function gets a ``metrics`` attribute with the records, its docstring gets their
    formulas (see :func:`formula_notes`), and each record lists the function's public
    path (:func:`public_path`) in ``computed_by``. The records must be registered first.
    """

    def decorate(fn: F) -> F:
        records = [get(n) for n in names]
        path = public_path(fn)
        for record in records:
            if path not in record.computed_by:
                record.computed_by.append(path)
        fn.metrics = records  # type: ignore[attr-defined]
        fn.__doc__ = formula_notes(records, fn.__doc__)
        return fn

    return decorate


def get(name: str) -> Metric:
    """The record of one metric, by name.

    Raises
    ------
    KeyError
        With the closest registered names, when ``name`` is unknown.
    """
    if name not in _REGISTRY:
        _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"no metric named {name!r} is registered.{hint}") from None


def all_metrics() -> list[Metric]:
    """Every registered metric, ordered by journey stage, then by domain (the order of
    :func:`add_domains`), then as its domain registers them — the same order whatever
    was imported first."""
    _load()
    order = {stage: i for i, stage in enumerate(STAGES)}
    position = {name: i for i, name in enumerate(_REGISTRY)}
    return sorted(_REGISTRY.values(),
                  key=lambda m: (order[m.stage], _domain_rank(m.name), position[m.name]))


def metrics_table() -> pd.DataFrame:
    """The registry as a DataFrame, one row per metric (for display and docs)."""
    return pd.DataFrame(
        [
            {
                "name": m.name,
                "title": m.title,
                "stage": m.stage,
                "unit": m.unit,
                "higher_is_better": m.higher_is_better,
                "formula": m.formula,
                "computed_by": ", ".join(m.computed_by),
            }
            for m in all_metrics()
        ]
    )
