"""Churn and retention: churn rates, cohort retention, survival curves, revenue retention
and a shifted-beta-geometric (sBG) projection.

Contractual measures work on the ``subscriptions`` table, cohort retention on an activity
table (``events`` or ``orders``). Everything that scans raw rows is one Ibis expression
run in the engine; only per-period (or per-customer, for survival curves) results come
back as pandas, where rates get their numerator, denominator and Wilson interval.

Customers, spells and instants
------------------------------
* **Spells.** Churn is about *customers*, not subscription rows. A customer's rows are
  merged into *spells* of continuous subscription (:func:`kpilib.spells.subscription_spells`):
  rows that overlap or touch (a plan change that ends one row and starts the next at the
  same instant) belong to one spell, so a customer with several subscriptions churns only
  when the last one ends. A row that starts after every earlier row of the customer has
  ended opens a new spell: a **reactivation**. ``end_at`` empty means active; an end
  after ``as_of`` is treated as not yet happened.
* **Periods** are calendar periods in UTC (``"M"`` month, ``"Q"``, ``"Y"``, ``"W"`` ISO
  week from Monday), each the half-open interval ``[start, end)``. A customer is
  *active at the start* of a period when a spell started before it and had not ended
  before it (``start_at < period start <= end_at``); a spell ending exactly at the
  first instant of the period churns in that period, one starting exactly then is new
  in it. Monthly recurring revenue at an instant follows the same rule, so a plan change
  at an instant counts exactly one of its two rows.
* **as_of** is the instant up to which the data are complete (exclusive: a start or an
  end at ``as_of`` or later has not happened yet). By default it is
  :func:`kpilib.periods.default_cutoff` of the latest timestamp in the table — the first
  instant of the day after it, since the data cover their whole last day (with
  date-only data every time is a midnight, and ends dated on the last day are churn).
  Only periods that have fully elapsed by ``as_of`` are reported; a cohort cell whose
  period has not elapsed is missing (NaN), never 0.
* **Tenure** is counted in calendar months (:func:`kpilib.periods.months_between`):
  a customer from 2024-03-15 to 2025-03-15, or from 2024-02-29 to 2025-02-28, lasted
  exactly 12 months.
* **Money** (MRR) is summed as exact decimals (:data:`kpilib.data.EXACT_MONEY`), so the
  same rows give the same bits in any row order.
* **Breakdowns** (``by``) name columns of ``customers`` (when passed, e.g. ``channel``)
  or of the analysed table; a column of the analysed table takes the value of the
  customer's first row (for subscriptions: the first plan).

Where things are
----------------
Import everything from ``kpilib.churn``; the private modules are the layout:

* ``_definitions`` — the metric records (formula, meaning, pitfalls, example);
* ``_inputs`` — the cut-off, breakdown columns and spells as seen at ``as_of``;
* ``_rates`` — :func:`churn_rate`, :func:`revenue_retention` (MRR churn, GRR, NRR),
  :func:`annualised_rate`, :func:`snapshot_note`;
* ``_cohorts`` — :func:`cohort_retention`, :func:`retention_average`,
  :func:`retention_matrix`;
* ``_survival`` — :func:`customer_spells`, :func:`survival` (Kaplan–Meier, log-rank),
  :func:`tenure_survivors`, :func:`month_one_churn`;
* ``_sbg`` — :func:`fit_sbg`, :class:`SBGFit`, :func:`sbg_projection`, :func:`sbg_reliability`
  and its :data:`SBG_RELIABILITY_THRESHOLDS`;
* ``_headline`` — :func:`headline_metrics` for the monthly report.

References
----------
.. [1] Fader, P. S. & Hardie, B. G. S. (2007). "How to project customer retention."
   Journal of Interactive Marketing 21(1), 76-90.
.. [2] Fader, P. S. & Hardie, B. G. S. (2010). "Customer-base valuation in a contractual
   setting: the perils of ignoring heterogeneity." Marketing Science 29(1), 85-93.
.. [3] Kaplan, E. L. & Meier, P. (1958). "Nonparametric estimation from incomplete
   observations." JASA 53(282), 457-481.
"""

from kpilib.churn import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.churn._cohorts import (
    MIN_COHORTS,
    Mode,
    cohort_retention,
    retention_average,
    retention_averages,
    retention_curves,
    retention_matrix,
)
from kpilib.churn._headline import headline_metrics
from kpilib.churn._rates import (
    PERIODS_PER_YEAR,
    SAAS_MONTHLY_CHURN_BENCHMARK,
    SNAPSHOT_CHANCE,
    SNAPSHOT_ZERO_PERIODS,
    annualised_rate,
    churn_rate,
    revenue_retention,
    snapshot_note,
)

# The sBG's optimiser module and verdict, reachable here for tests that stand in for the
# optimiser (monkeypatch.setattr(kpilib.churn._opt, "minimize", ...)) or judge a stop.
from kpilib.churn._sbg import (
    SBG_RELIABILITY_THRESHOLDS,
    SBGFit,
    SBGProjection,
    fit_sbg,
    sbg_projection,
    sbg_reliability,
)
from kpilib.churn._sbg import _opt as _opt
from kpilib.churn._sbg import _sbg_verdict as _sbg_verdict
from kpilib.churn._sbg import _SBGData as _SBGData
from kpilib.churn._survival import (
    SurvivalResult,
    customer_spells,
    month_one_churn,
    survival,
    tenure_survivors,
)
from kpilib.periods import MONTH_DAYS
from kpilib.spells import subscription_spells

__all__ = [
    "MIN_COHORTS",
    "MONTH_DAYS",
    "Mode",
    "PERIODS_PER_YEAR",
    "SAAS_MONTHLY_CHURN_BENCHMARK",
    "SBG_RELIABILITY_THRESHOLDS",
    "SNAPSHOT_CHANCE",
    "SNAPSHOT_ZERO_PERIODS",
    "SBGFit",
    "SBGProjection",
    "SurvivalResult",
    "annualised_rate",
    "churn_rate",
    "cohort_retention",
    "customer_spells",
    "subscription_spells",
    "fit_sbg",
    "headline_metrics",
    "month_one_churn",
    "retention_average",
    "retention_averages",
    "retention_curves",
    "retention_matrix",
    "revenue_retention",
    "sbg_projection",
    "sbg_reliability",
    "snapshot_note",
    "survival",
    "tenure_survivors",
]
