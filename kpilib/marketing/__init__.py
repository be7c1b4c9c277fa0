"""Marketing economics and attribution: what customers cost, what they bring, and who gets the credit.

Acquisition economics per channel and period (:func:`acquisition_costs`): CAC, CPA, cost
per MQL (from :func:`kpilib.funnel.cost_per_mql`), revenue, ROAS, marketing ROI, payback
period and CLV:CAC, blended over all channels (``channel == "all"``) and per channel.
Around them: the share of revenue that marketing touched (:func:`marketing_influenced_revenue`),
the visit-to-lead ratio per channel (:func:`traffic_to_lead`) and multi-touch attribution
(:func:`attribute`) with six rules side by side — first touch, last touch (or last
non-direct touch), linear, time decay, position based and the first-order Markov-chain
removal effect.

Every aggregation over raw rows (spend, customers, orders, events) is one Ibis
expression run in the engine; only per-period, per-channel results come back to pandas —
for attribution, the credit per model and channel and the Markov transition counts (the
journeys themselves stay in the engine).

Conventions
-----------
* **New customers** are the ``customers`` rows (sign-ups) of a channel whose
  ``signup_at`` falls in the period; the channel is ``customers.channel`` (the
  acquisition channel). Spend is summed over the days of the period.
* **Undefined is not zero.** A channel with spend and no new customers has no CAC: the
  value is NaN and the ``note`` column says why — never infinity, never 0. The same holds
  for CPA without conversions, ROAS and ROI without spend, and CLV:CAC or payback where
  CAC is undefined.
* **Revenue** is the order amounts (the ``orders`` table). ``revenue_basis="cohort"``
  credits a period with what *its* new customers spent in their first
  ``revenue_months`` months (recent cohorts are still incomplete: ``revenue_complete``);
  ``revenue_basis="period"`` with the orders placed *in* the period by customers acquired
  less than ``revenue_months`` months before the order (complete at period end, so months
  compare fairly; in a steady state both give the same ROAS). Months of revenue
  (the horizon, ``customer_months``, payback) are calendar months, counted as tenure is
  everywhere (:func:`kpilib.periods.months_between`): 2024-01-31 → 2024-02-29 is one month.
* **Attribution paths.** A conversion's journey is the customer's touchpoints in the
  ``lookback`` window before it (a touch at the conversion instant counts) and after the
  customer's previous conversion, so a touch is credited once. Conversions without any
  touch in the window are credited to ``"(no touch)"``, so the credits of every model add
  up to the number of conversions and to their revenue. A customer's touches after their
  last conversion (within ``lookback`` of the last of them) form a non-converting path,
  which only the Markov model uses.

Where things are
----------------
Import everything from ``kpilib.marketing``; the private modules are the layout:

* ``_definitions`` — the metric records (formula, meaning, pitfalls, example);
* ``_grouping`` — period labels, the breakdown column, the blended ``"all"`` label, durations;
* ``_costs`` — :func:`acquisition_costs` (spend, CAC, CPA, cost per MQL, payback, and the
  ratios of revenue to spend);
* ``_returns`` — the revenue behind ROAS, ROI and CLV:CAC, :func:`attributed_return`,
  :func:`marketing_influenced_revenue`;
* ``_traffic`` — :func:`traffic_to_lead`;
* ``_attribution`` — touchpoints, journeys, :func:`touch_weights`,
  :func:`markov_removal_effects` and :func:`attribute` (the six models);
* ``_headline`` — :func:`headline_metrics` for the monthly report.
"""

from kpilib.marketing import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.marketing._attribution import (
    ATTRIBUTION_MODELS,
    NO_TOUCH,
    attribute,
    attribution_journeys,
    first_orders,
    marketing_touchpoints,
    markov_removal_effects,
    non_converting_journeys,
    touch_weights,
)
from kpilib.marketing._costs import CLV_UNRELIABLE, acquisition_costs
from kpilib.marketing._grouping import WindowLike as WindowLike
from kpilib.marketing._headline import headline_metrics
from kpilib.marketing._returns import attributed_return, marketing_influenced_revenue
from kpilib.marketing._traffic import traffic_to_lead

# Kept at their old paths (kpilib.marketing.MONTH_DAYS, .TimeLike); defined in kpilib.periods.
from kpilib.periods import MONTH_DAYS as MONTH_DAYS
from kpilib.periods import TimeLike as TimeLike

__all__ = [
    "ATTRIBUTION_MODELS",
    "CLV_UNRELIABLE",
    "NO_TOUCH",
    "acquisition_costs",
    "attribute",
    "attributed_return",
    "attribution_journeys",
    "first_orders",
    "headline_metrics",
    "marketing_influenced_revenue",
    "marketing_touchpoints",
    "markov_removal_effects",
    "non_converting_journeys",
    "touch_weights",
    "traffic_to_lead",
]
