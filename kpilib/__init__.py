"""kpilib — customer-journey KPIs with their definitions, intervals and a monthly report.

The package is flat, one module per concern:

- :mod:`kpilib.data` — sources, the data contract, loading and :class:`DataError`
- :mod:`kpilib.periods` — calendar months and UTC timestamps
- :mod:`kpilib.stats` — intervals and tests shared by every domain
- :mod:`kpilib.metrics` — the registry of metric definitions
- :mod:`kpilib.glossary` — docs and the glossary notebook, rendered from the registry
- :mod:`kpilib.funnel` — funnel conversion and lead nurture
- :mod:`kpilib.engagement` — email, active users, usage, NPS/CSAT/CES, health score
- :mod:`kpilib.churn` — churn, revenue retention, cohorts, survival, sBG projection
- :mod:`kpilib.plots` — every figure
- :mod:`kpilib.report` — the monthly report (papermill + nbconvert)
- :mod:`kpilib.synth` — the sample-data generator and its ground truth
"""

import importlib

from kpilib import metrics as _metrics
from kpilib.data import DataError, Dataset, load_dataset

__version__ = "0.1.0"

__all__ = ["DataError", "Dataset", "__version__", "load_dataset"]

#: The domains, in journey order; each registers its metric records when imported.
DOMAINS = ("funnel", "engagement", "churn", "clv", "marketing")


def _import_domains() -> None:
    for name in DOMAINS:
        importlib.import_module(f"kpilib.{name}")


_metrics.add_loader(_import_domains)

_SUBMODULES = {
    "churn", "clv", "data", "engagement", "funnel", "glossary", "marketing", "metrics", "periods",
    "plots", "report", "stats", "synth",
}


def __getattr__(name: str):
    """Import submodules on first use, so ``kpilib.funnel.funnel(...)`` works after
    ``import kpilib`` without paying for every module at import time."""
    if name in _SUBMODULES:
        return importlib.import_module(f"kpilib.{name}")
    raise AttributeError(f"module 'kpilib' has no attribute {name!r}")
