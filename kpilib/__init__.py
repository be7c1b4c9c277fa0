"""kpilib — customer-journey KPIs with their definitions, intervals and a monthly report.

Foundations, imported by everything above them:

- :mod:`kpilib.periods` — calendar periods, cut-offs and UTC timestamps
- :mod:`kpilib.stats` — every interval and test
- :mod:`kpilib.metrics` — the registry of metric definitions
- :mod:`kpilib.deprecation` — old argument names kept for one release
- :mod:`kpilib.bundle` — where the bundled notebooks and sample live

Data: :mod:`kpilib.data` (sources, the contract, mapping, loading, :class:`DataError`) and
:mod:`kpilib.spells` (subscription spells shared by churn and engagement).

Domains, each a package of private modules behind one public namespace:

- :mod:`kpilib.funnel` — funnel conversion and lead nurture
- :mod:`kpilib.engagement` — email, active users, usage, NPS/CSAT/CES, health score
- :mod:`kpilib.churn` — churn, revenue retention, cohorts, survival, sBG projection
- :mod:`kpilib.clv` — RFM, BG/NBD family, Gamma–Gamma, customer value
- :mod:`kpilib.marketing` — spend, CAC, ROAS/ROI, payback, attribution

Presentation and running: :mod:`kpilib.plots` (every figure), :mod:`kpilib.glossary`
(docs from the registry), :mod:`kpilib.sections` (what each notebook section needs),
:mod:`kpilib.report` (the monthly report), :mod:`kpilib.synth` (the sample generator).
See ``docs/architecture.md``.
"""

import importlib

from kpilib import metrics as _metrics
from kpilib.data import DataError, Dataset, load_dataset

__version__ = "0.1.0"

__all__ = ["DataError", "Dataset", "__version__", "load_dataset"]

#: The domains, in journey order; each registers its metric records when imported.
DOMAINS = ("funnel", "engagement", "churn", "clv", "marketing")


_metrics.add_domains(*(f"kpilib.{name}" for name in DOMAINS))

_SUBMODULES = {
    "bundle", "churn", "clv", "data", "deprecation", "engagement", "funnel", "glossary", "marketing",
    "metrics", "periods", "plots", "report", "sections", "spells", "stats", "synth",
}


def __getattr__(name: str):
    """Import submodules on first use, so ``kpilib.funnel.funnel(...)`` works after
    ``import kpilib`` without paying for every module at import time."""
    if name in _SUBMODULES:
        return importlib.import_module(f"kpilib.{name}")
    raise AttributeError(f"module 'kpilib' has no attribute {name!r}")
