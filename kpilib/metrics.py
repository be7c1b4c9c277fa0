"""The registry of metric definitions: one record per metric, written once.

Every metric kpilib computes has exactly one :class:`Metric` record — its formula, what
it means, how it misleads, its unit, whether higher is better, a reference and a tiny
worked example that runs as a doctest. Domain modules register their records next to
the function that computes them and tie the two with :func:`computes`. The glossary
notebook (``notebooks/00_glossary.ipynb``) and ``docs/metrics.md`` are rendered from
the registry, and the report index takes titles, units and directions from it.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import pandas as pd

__all__ = [
    "DOMAIN_MODULES",
    "STAGES",
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

#: Modules that register metrics; :func:`all_metrics` imports them so the registry is whole.
DOMAIN_MODULES = (
    "kpilib.funnel",
    "kpilib.engagement",
    "kpilib.churn",
    "kpilib.clv",
    "kpilib.marketing",
)


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

F = TypeVar("F", bound=Callable)


def register(metric: Metric) -> Metric:
    """Add a metric to the registry; a name can be registered only once.

    Returns the metric, so a module can keep a handle on it.
    """
    existing = _REGISTRY.get(metric.name)
    if existing is not None and existing != metric:
        raise ValueError(f"metric {metric.name!r} is already registered with another definition")
    _REGISTRY.setdefault(metric.name, metric)
    return _REGISTRY[metric.name]


def computes(*names: str) -> Callable[[F], F]:
    """Decorator tying a function to the metric records it computes.

    The function gets a ``metrics`` attribute with the records, and each record lists the
    function in ``computed_by``.
    """

    def decorate(fn: F) -> F:
        records = [get(n) for n in names]
        for record in records:
            path = f"{fn.__module__}.{fn.__qualname__}"
            if path not in record.computed_by:
                record.computed_by.append(path)
        fn.metrics = records  # type: ignore[attr-defined]
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
        _import_domains()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"no metric named {name!r} is registered.{hint}") from None


def _import_domains() -> None:
    for module in DOMAIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def all_metrics() -> list[Metric]:
    """Every registered metric, ordered by journey stage and then by registration."""
    _import_domains()
    order = {stage: i for i, stage in enumerate(STAGES)}
    return sorted(_REGISTRY.values(), key=lambda m: order[m.stage])


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
