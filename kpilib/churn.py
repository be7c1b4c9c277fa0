"""Churn and retention: churn rates, cohort retention, survival curves, revenue retention
and a shifted-beta-geometric (sBG) projection.

Contractual measures work on the ``subscriptions`` table, cohort retention on an activity
table (``events`` or ``orders``). Everything that scans raw rows is one Ibis expression
run in the engine; only per-period (or per-customer, for survival curves) results come
back as pandas, where rates get their numerator, denominator and Wilson interval.

Customers, spells and instants
------------------------------
* **Spells.** Churn is about *customers*, not subscription rows. A customer's rows are
  merged into *spells* of continuous subscription: rows that overlap or touch (a plan
  change that ends one row and starts the next at the same instant) belong to one spell,
  so a customer with several subscriptions churns only when the last one ends. A row
  that starts after every earlier row of the customer has ended opens a new spell: a
  **reactivation**. ``end_at`` empty means active; an end after ``as_of`` is treated as
  not yet happened.
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

References
----------
.. [1] Fader, P. S. & Hardie, B. G. S. (2007). "How to project customer retention."
   Journal of Interactive Marketing 21(1), 76-90.
.. [2] Fader, P. S. & Hardie, B. G. S. (2010). "Customer-base valuation in a contractual
   setting: the perils of ignoring heterogeneity." Marketing Science 29(1), 85-93.
.. [3] Kaplan, E. L. & Meier, P. (1958). "Nonparametric estimation from incomplete
   observations." JASA 53(282), 457-481.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd
from scipy import optimize as _opt
from scipy import special as _sp
from scipy import stats as _sps

from kpilib.data import EXACT_MONEY, DataError, as_table, column_list, memtable
from kpilib.metrics import Metric, computes, register
from kpilib.periods import (
    PANDAS_FREQ,
    PERIOD_ORIGIN,
    default_cutoff,
    month_bounds,
    months_between,
    period_index,
    period_index_of,
    previous_month,
    to_utc,
    validate_month,
)
from kpilib.spells import subscription_spells
from kpilib.stats import SMALL_DENOMINATOR, rate_frame, wilson_interval

__all__ = [
    "MIN_COHORTS",
    "MONTH_DAYS",
    "PERIODS_PER_YEAR",
    "SAAS_MONTHLY_CHURN_BENCHMARK",
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
    "retention_matrix",
    "revenue_retention",
    "sbg_projection",
    "snapshot_note",
    "survival",
    "tenure_survivors",
]

#: Days in an average Gregorian month (365.25 / 12), for reading a count of days as months.
#: Tenure and lifetimes are not counted in it but in calendar months
#: (:func:`kpilib.periods.months_between`).
MONTH_DAYS = 365.25 / 12

#: Fewest cohorts an offset of an average retention curve may rest on without being flagged
#: (``few_cohorts`` in :func:`retention_average`).
MIN_COHORTS = 3

#: A churn series looks like a snapshot (:func:`snapshot_note`) when at least this many of
#: its first periods with customers at risk — or all of them before the latest period —
#: show exactly zero churn and a period with churn follows …
SNAPSHOT_ZERO_PERIODS = 3
#: … and, even at the low end of the 95 % interval of the churn rate seen from that period
#: on, that many customer-periods without a single churn would have a chance below this.
SNAPSHOT_CHANCE = 0.001

#: Periods per year, for annualising a per-period rate.
PERIODS_PER_YEAR: dict[str, float] = {"W": 365.25 / 7, "M": 12.0, "Q": 4.0, "Y": 1.0}

#: Commonly quoted monthly customer churn of SaaS companies (ProfitWell/Paddle): context
#: for a chart, not a target or a judgement — it varies with price point and segment.
SAAS_MONTHLY_CHURN_BENCHMARK = (0.03, 0.08)

_UTC = dt.Timestamp(timezone="UTC")
#: A customer's MRR at an instant: the exact sum (:data:`kpilib.data.EXACT_MONEY`) of their
#: running rows, kept as a wide decimal so that the squares and products of the interval
#: sums (twelve decimal places) are exact too and nothing depends on the summation order.
_MRR = dt.Decimal(38, 6)
_FAR_FUTURE = pd.Timestamp("2999-01-01", tz="UTC")
_DAY_NS = 86_400 * 10**9

Mode = Literal["on", "on_or_after"]

# ---------------------------------------------------------------------------------------
# The metric records
# ---------------------------------------------------------------------------------------

_EXAMPLE_SUBS = (
    '>>> import pandas as pd\n'
    '>>> subs = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],\n'
    '...     "start_at": ["2026-01-10", "2026-01-20", "2026-02-03", "2026-01-05"],\n'
    '...     "end_at": ["2026-02-14", None, None, "2026-03-02"],\n'
    '...     "mrr": [10.0, 20.0, 30.0, 40.0]})\n'
)

register(
    Metric(
        name="customer_churn_rate",
        title="Customer churn rate",
        stage="retention",
        formula=r"\text{churn}_p = \frac{\#\{\text{customers active at the start of } p "
        r"\text{ whose last subscription ends during } p\}}{\#\{\text{customers active at the start of } p\}}",
        definition=(
            "Share of the customers subscribed at the start of the period who are no longer "
            "subscribed at its end. A customer churns when their last running subscription "
            "ends; a plan change (one row ends as the next starts) is not churn, and a later "
            "new subscription is a reactivation. Customers who join and leave within the "
            "period are not in the denominator and are reported apart. Retention rate = "
            "1 − churn rate; the annual equivalent of a monthly rate m is 1 − (1 − m)^12."
        ),
        pitfalls=(
            "Depends on the period: monthly churn ×12 is not annual churn (compound it). "
            "A growing base lowers the rate of any cohort-mixed month because new customers "
            "churn more than old ones; compare cohorts or survival curves for that. "
            "Counting subscription rows instead of customers turns every plan change into "
            "churn. The often quoted 3–8 % monthly for SaaS is context, not a target."
        ),
        unit="rate",
        higher_is_better=False,
        example=_EXAMPLE_SUBS
        + '>>> from kpilib.churn import churn_rate\n'
        '>>> churn_rate(subs, as_of="2026-04-01")[["period", "active_at_start", "churned", "churn_rate"]]\n'
        '    period  active_at_start  churned  churn_rate\n'
        '0  2026-01                0        0         NaN\n'
        '1  2026-02                3        1    0.333333\n'
        '2  2026-03                3        1    0.333333',
        reference="Skok, D., SaaS Metrics 2.0 (2013); ProfitWell/Paddle SaaS churn benchmarks.",
    )
)

register(
    Metric(
        name="customer_retention_rate",
        title="Customer retention rate",
        stage="retention",
        formula=r"\text{retention}_p = 1 - \text{churn}_p",
        definition=(
            "Share of the customers subscribed at the start of the period who are still "
            "subscribed at its end (the complement of the customer churn rate)."
        ),
        pitfalls="Same as the churn rate; new customers of the period neither help nor hurt it.",
        unit="rate",
        higher_is_better=True,
        example=_EXAMPLE_SUBS
        + '>>> from kpilib.churn import churn_rate\n'
        '>>> churn_rate(subs, as_of="2026-04-01")["retention_rate"].round(4).tolist()\n'
        '[nan, 0.6667, 0.6667]',
    )
)

register(
    Metric(
        name="annualised_churn_rate",
        title="Annualised churn rate",
        stage="retention",
        formula=r"\text{annual churn} = 1 - (1 - \text{churn}_p)^{k}, \quad k = 12 \text{ (months)}, 4 \text{ (quarters)}, 52.18 \text{ (weeks)}",
        definition=(
            "The share of customers lost over a year if the period's churn rate held all "
            "year, compounding over the k periods of a year."
        ),
        pitfalls=(
            "Assumes a constant churn rate; real cohorts churn less as they age, so "
            "annualising a young base's monthly churn overstates the annual loss. Never "
            "multiply the monthly rate by 12."
        ),
        unit="rate",
        higher_is_better=False,
        example='>>> from kpilib.churn import annualised_rate\n'
        '>>> round(annualised_rate(0.05, "M"), 4)\n'
        '0.4596',
    )
)

register(
    Metric(
        name="gross_mrr_churn_rate",
        title="Gross MRR churn (revenue churn)",
        stage="retention",
        formula=r"\text{gross MRR churn}_p = \frac{\text{churned MRR} + \text{contraction MRR}}{\text{MRR at the start of } p}",
        definition=(
            "Share of the recurring revenue at the start of the period lost during it to "
            "customers who left (churned MRR) or paid less (contraction). Expansion, new "
            "and reactivated revenue do not offset it."
        ),
        pitfalls=(
            "A few large accounts dominate it: one lost enterprise customer can outweigh "
            "dozens of small ones, so read it beside customer churn. The interval treats "
            "customers as the sampling unit (ratio estimator, delta method)."
        ),
        unit="rate",
        higher_is_better=False,
        example=_EXAMPLE_SUBS
        + '>>> from kpilib.churn import revenue_retention\n'
        '>>> revenue_retention(subs, as_of="2026-04-01")[["period", "starting_mrr", "churned_mrr", "gross_mrr_churn"]]\n'
        '    period  starting_mrr  churned_mrr  gross_mrr_churn\n'
        '0  2026-01           0.0          0.0              NaN\n'
        '1  2026-02          70.0         10.0         0.142857\n'
        '2  2026-03          90.0         40.0         0.444444',
        reference="Skok, D., SaaS Metrics 2.0 (2013).",
    )
)

register(
    Metric(
        name="net_mrr_churn_rate",
        title="Net MRR churn",
        stage="retention",
        formula=r"\text{net MRR churn}_p = \frac{\text{churned} + \text{contraction} - \text{expansion MRR}}{\text{MRR at the start of } p}",
        definition=(
            "Revenue lost from the customers of the start of the period, net of what the "
            "remaining ones expanded. Negative net churn means the existing base grows "
            "on its own. Equals 1 − NRR."
        ),
        pitfalls=(
            "Can hide heavy customer churn behind a few expansions; reactivated and new "
            "customers are not included (they were not in the starting base)."
        ),
        unit="rate",
        higher_is_better=False,
        example=_EXAMPLE_SUBS
        + '>>> from kpilib.churn import revenue_retention\n'
        '>>> revenue_retention(subs, as_of="2026-04-01")["net_mrr_churn"].round(4).tolist()\n'
        '[nan, 0.1429, 0.4444]',
    )
)

register(
    Metric(
        name="gross_revenue_retention",
        title="Gross revenue retention (GRR)",
        stage="retention",
        formula=r"\text{GRR}_p = \frac{\sum_{c \in C_p} \min(\text{MRR}_{c,\text{end}}, \text{MRR}_{c,\text{start}})}{\sum_{c \in C_p} \text{MRR}_{c,\text{start}}}",
        definition=(
            "Of the recurring revenue of the customers active at the start of the period "
            "(the fixed starting cohort C_p), the share still billed at its end, counting "
            "no customer above their starting MRR — so it never exceeds 100 %. Equals "
            "1 − gross MRR churn."
        ),
        pitfalls=(
            "Ignores expansion by design; the monthly value compounds (12 months of 98 % "
            "is 78 %). Compare the same period length across companies."
        ),
        unit="rate",
        higher_is_better=True,
        example=_EXAMPLE_SUBS
        + '>>> from kpilib.churn import revenue_retention\n'
        '>>> revenue_retention(subs, as_of="2026-04-01")["grr"].round(4).tolist()\n'
        '[nan, 0.8571, 0.5556]',
        reference="KeyBanc/SaaS Capital SaaS surveys; Skok, SaaS Metrics 2.0.",
    )
)

register(
    Metric(
        name="net_revenue_retention",
        title="Net revenue retention (NRR)",
        stage="retention",
        formula=r"\text{NRR}_p = \frac{\sum_{c \in C_p} \text{MRR}_{c,\text{end}}}{\sum_{c \in C_p} \text{MRR}_{c,\text{start}}}",
        definition=(
            "Recurring revenue at the end of the period from the customers active at its "
            "start (the fixed starting cohort), divided by their revenue at the start: "
            "churn and contraction lower it, expansion raises it, new and reactivated "
            "customers are left out. Above 100 % the base grows without new sales."
        ),
        pitfalls=(
            "Computing it as ending MRR over starting MRR of the whole business counts "
            "new customers and overstates it. Dominated by large accounts; a monthly NRR "
            "is not comparable with the usual annual (12-month cohort) figure."
        ),
        unit="rate",
        higher_is_better=True,
        example=_EXAMPLE_SUBS
        + '>>> from kpilib.churn import revenue_retention\n'
        '>>> revenue_retention(subs, as_of="2026-04-01")["nrr"].round(4).tolist()\n'
        '[nan, 0.8571, 0.5556]',
    )
)

_EXAMPLE_ACTIVITY = (
    '>>> import pandas as pd\n'
    '>>> orders = pd.DataFrame({"customer_id": ["a", "b", "a", "b", "c"],\n'
    '...     "ts": ["2026-01-05", "2026-01-09", "2026-02-11", "2026-03-02", "2026-02-20"],\n'
    '...     "amount": [10.0, 10.0, 10.0, 10.0, 10.0]})\n'
)

register(
    Metric(
        name="cohort_retention_rate",
        title="Cohort retention rate",
        stage="retention",
        formula=r"\text{retention}_{c,k} = \frac{\#\{i \in c \text{ active in period } c+k\}}{|c|}"
        r"\quad\text{(“on”; “on or after”: active in } c+k \text{ or later)}",
        definition=(
            "Of the customers whose first activity (the cohort) fell in period c, the share "
            "active k periods later. 'On' counts activity in exactly period k; 'on or "
            "after' counts activity in period k or any later one (an unbounded, monotone "
            "curve). A cell exists only once period c+k has fully elapsed."
        ),
        pitfalls=(
            "Future cells are missing, not zero: an open cohort has not failed yet. An "
            "average over cohorts must say whether it is pooled (Σ retained / Σ eligible, "
            "weighted by size) or simple (mean of cohort rates) — they differ when cohorts "
            "differ in size — and later offsets are averaged over older cohorts only."
        ),
        unit="rate",
        higher_is_better=True,
        example=_EXAMPLE_ACTIVITY
        + '>>> from kpilib.churn import cohort_retention\n'
        '>>> r = cohort_retention(orders, as_of="2026-04-01")\n'
        '>>> r[r.cohort == "2026-01"][["cohort", "offset", "cohort_size", "retained", "rate"]]\n'
        '    cohort  offset  cohort_size  retained  rate\n'
        '0  2026-01       0            2         2   1.0\n'
        '1  2026-01       1            2         1   0.5\n'
        '2  2026-01       2            2         1   0.5',
        reference="Croll & Yoskovitz, Lean Analytics (2013), ch. 9.",
    )
)

register(
    Metric(
        name="month_one_retention",
        title="Month-1 retention",
        stage="retention",
        formula=r"\text{retention}_{c,1} \text{ for the cohort } c = \text{the month before the report month}",
        definition=(
            "Share of last month's new cohort (first activity last month) who were active "
            "again in the report month: the cohort-retention cell at offset 1 that completed "
            "in the report month."
        ),
        pitfalls=(
            "A single cohort, so it moves with that cohort's size and mix of channels; "
            "customers who started late in their first month had less time to settle in."
        ),
        unit="rate",
        higher_is_better=True,
        example=_EXAMPLE_ACTIVITY
        + '>>> from kpilib.churn import cohort_retention\n'
        '>>> r = cohort_retention(orders, as_of="2026-04-01")\n'
        '>>> r[(r.cohort == "2026-02") & (r.offset == 1)][["cohort", "offset", "retained", "rate"]]\n'
        '    cohort  offset  retained  rate\n'
        '4  2026-02       1         0   0.0',
    )
)

register(
    Metric(
        name="median_customer_lifetime",
        title="Median customer lifetime",
        stage="retention",
        formula=r"\min\{t : \hat S(t) \le 0.5\}, \quad \hat S(t) = \prod_{t_i \le t} \left(1 - \frac{d_i}{n_i}\right)",
        definition=(
            "The subscription tenure (in calendar months: a year is 12 months, leap day or "
            "not) by which half the customers have churned, read off the Kaplan–Meier "
            "curve, in which customers still "
            "subscribed are censored (they count while observed, never as churned). "
            "'Not reached' when more than half are still subscribed at the longest tenure "
            "observed."
        ),
        pitfalls=(
            "Averaging the tenure of churned customers, or treating active ones as churned "
            "today, biases lifetimes down. Curves far right rest on few customers (see the "
            "at-risk counts); the median says nothing about the long tail that drives CLV."
        ),
        unit="months",
        higher_is_better=True,
        example=_EXAMPLE_SUBS
        + '>>> from kpilib.churn import survival\n'
        '>>> res = survival(subs, as_of="2026-04-01")\n'
        '>>> res.summary[["subscribers", "churned", "censored", "median_reached"]]\n'
        '   subscribers  churned  censored  median_reached\n'
        '0            4        2         2            True\n'
        '>>> round(float(res.summary["median_lifetime"].iloc[0]), 2)  # d: 1 month to 5 Feb, then 25 of 28 days\n'
        '1.89',
        reference="Kaplan & Meier (1958); lifelines.KaplanMeierFitter.",
    )
)

register(
    Metric(
        name="sbg_projected_retention",
        title="Projected retention (sBG)",
        stage="retention",
        formula=r"S(t) = \frac{B(\alpha, \beta + t)}{B(\alpha, \beta)}, \quad r_t = \frac{\beta + t - 1}{\alpha + \beta + t - 1}",
        definition=(
            "Share of a cohort expected to be still subscribed after t periods under the "
            "shifted-beta-geometric model: each customer churns with a constant probability "
            "θ per period, and θ varies across customers as Beta(α, β). Retention rises with "
            "tenure because the customers who churn easily leave first."
        ),
        pitfalls=(
            "A projection, not a measurement: it assumes the cohort's mix and the product "
            "stay as they were during calibration. Fitting a curve of time (exponential, "
            "polynomial) to retention instead projects nonsense; when α ≤ 1 the undiscounted "
            "expected lifetime is infinite, so use a discounted one."
        ),
        unit="rate",
        higher_is_better=True,
        example='>>> from kpilib.churn import fit_sbg\n'
        '>>> fit = fit_sbg([1000, 869, 743, 653, 593, 551, 517, 491])\n'
        '>>> round(fit.alpha_, 3), round(fit.beta_, 3)\n'
        '(0.668, 3.806)\n'
        '>>> round(float(fit.survival(12)), 3)\n'
        '0.378',
        reference="Fader & Hardie (2007), How to project customer retention, JIM 21(1).",
    )
)


# ---------------------------------------------------------------------------------------
# Shared helpers: periods, as_of, breakdowns, spells
# ---------------------------------------------------------------------------------------


def _check_period(period: str) -> str:
    key = str(period).upper()
    if key not in PANDAS_FREQ:
        raise ValueError(
            f"period must be one of {', '.join(map(repr, PANDAS_FREQ))} (week, month, quarter, "
            f"year), got {period!r}"
        )
    return key


def annualised_rate(rate, period: str = "M"):
    r"""The annual equivalent of a per-period churn (or loss) rate, by compounding.

    .. math:: 1 - (1 - \text{rate})^{k}

    with :math:`k` the periods per year (:data:`PERIODS_PER_YEAR`: 12 months, 4 quarters,
    52.18 weeks). Works on scalars and arrays; applied to interval bounds it gives the
    interval of the annual rate (the map is monotone).

    Examples
    --------
    >>> round(annualised_rate(0.03, "M"), 4), round(annualised_rate(0.08, "M"), 4)
    (0.3062, 0.6323)
    """
    k = PERIODS_PER_YEAR[_check_period(period)]
    return 1 - (1 - np.asarray(rate, dtype=float)) ** k if np.ndim(rate) else 1 - (1 - float(rate)) ** k


def _resolve_as_of(as_of: Any, latest: Any) -> pd.Timestamp:
    """``as_of``, or the default cut-off after ``latest`` (the whole last day included)."""
    if as_of is not None:
        return to_utc(as_of)
    cutoff = default_cutoff(latest)
    if cutoff is None:
        raise DataError("the table is empty, so there is nothing to measure", fix="Pass data with rows")
    return cutoff


def _period_grid(first: pd.Timestamp, as_of: pd.Timestamp, period: str) -> pd.DataFrame:
    """Calendar periods from the one holding ``first`` to the last one complete by ``as_of``."""
    freq = PANDAS_FREQ[period]
    lo = pd.Period(first.tz_convert(None), freq)
    hi = pd.Period((as_of - pd.Timedelta(1, "ns")).tz_convert(None), freq)
    periods = pd.period_range(lo, hi, freq=freq) if lo <= hi else pd.PeriodIndex([], freq=freq)
    starts = periods.start_time.tz_localize("UTC")
    ends = (periods + 1).start_time.tz_localize("UTC")
    grid = pd.DataFrame({"period": [str(p) for p in periods], "period_start": starts, "period_end": ends})
    return grid[grid["period_end"] <= as_of].reset_index(drop=True)


def _attributes(
    table: ibis.Table, order_col: str, by: list[str], customers: Any, what: str
) -> ibis.Table | None:
    """One row per customer with the ``by`` columns: from ``customers`` when it has them,
    else from the customer's first row of ``table``."""
    if not by:
        return None
    cust = as_table(customers, "customers") if customers is not None else None
    parts: list[ibis.Table] = []
    from_cust = [c for c in by if cust is not None and c in cust.columns and c != "customer_id"]
    from_table = [c for c in by if c not in from_cust]
    for col in from_table:
        if col not in table.columns or col == "customer_id":
            where = f"{what}" + (" or customers" if cust is not None else "")
            raise DataError(
                f"breakdown column '{col}' is in neither {where}",
                table=what,
                column=col,
                fix=(
                    "Pass customers=ds.customers for customer attributes such as channel, or "
                    f"choose one of: {', '.join(c for c in table.columns if c != 'customer_id')}"
                ),
            )
    if from_table:
        parts.append(
            table.group_by("customer_id").aggregate(
                **{c: table[c].argmin(table[order_col]) for c in from_table}
            )
        )
    if from_cust:
        parts.append(cust.select("customer_id", *from_cust).distinct(on="customer_id"))
    out = parts[0]
    for extra in parts[1:]:
        out = out.left_join(extra, "customer_id").drop("customer_id_right")
    return out.mutate(**{c: out[c].cast("string").fill_null("(missing)") for c in by})


def _subs_and_as_of(subscriptions: Any, as_of: Any) -> tuple[ibis.Table, pd.Timestamp]:
    subs = as_table(subscriptions, "subscriptions")
    latest = subs.aggregate(a=subs.start_at.max(), b=subs.end_at.max()).execute()
    stamps = [v for v in latest.iloc[0].tolist() if v is not None and not pd.isna(v)]
    as_of = _resolve_as_of(as_of, max(stamps) if stamps else None)
    # ends after as_of have not happened yet; starts after it are not seen
    subs = subs.filter(subs.start_at < as_of)
    subs = subs.mutate(end_at=ibis.ifelse(subs.end_at >= as_of, ibis.null(_UTC), subs.end_at))
    return subs, as_of


def _spells_with_tenure(
    subscriptions: Any, as_of: Any, by: list[str], customers: Any
) -> tuple[ibis.Table, pd.Timestamp]:
    """Customer spells as seen at ``as_of`` (lazy), with ``tenure_months`` (calendar
    months to the end, or to ``as_of`` while open) and the ``by`` columns; and ``as_of``."""
    subs, as_of = _subs_and_as_of(subscriptions, as_of)
    spells = subscription_spells(subs)
    end = ibis.coalesce(spells.end_at, ibis.literal(as_of, type=_UTC))
    spells = months_between(spells, "start_at", end, name="tenure_months")
    attrs = _attributes(subs, "start_at", by, customers, "subscriptions")
    if attrs is not None:
        spells = spells.left_join(attrs, "customer_id").drop("customer_id_right")
    return spells, as_of


def _grid_table(grid: pd.DataFrame) -> ibis.Table:
    return memtable(grid.assign(period_idx=np.arange(len(grid), dtype="int64")))


def customer_spells(
    subscriptions: Any, *, as_of: Any = None, by: str | Sequence[str] | None = None,
    customers: Any = None,
) -> pd.DataFrame:
    """Customer spells of continuous subscription, one row each.

    Parameters
    ----------
    subscriptions : DataFrame or ibis.Table
        The ``subscriptions`` table.
    as_of : date-like, optional
        The data are complete up to here; later ends count as not yet happened (open).
    by, customers :
        Breakdown columns (see the module notes).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``spell`` (1, 2, … per customer; 2 and up are reactivations),
        ``start_at``, ``end_at`` (NaT while active), ``rows`` (subscription rows merged),
        ``mrr_at_start``, ``tenure_months`` (calendar months from the start to the end, or
        to ``as_of`` while active; see :func:`kpilib.periods.months_between`) and the
        ``by`` columns.

    Examples
    --------
    A plan change at the same instant is one spell; a later new row is a second one:

    >>> subs = pd.DataFrame({"customer_id": ["a", "a", "a"],
    ...     "start_at": ["2026-01-01", "2026-02-01", "2026-05-01"],
    ...     "end_at": ["2026-02-01", "2026-03-10", None], "mrr": [10.0, 20.0, 20.0]})
    >>> spells = customer_spells(subs, as_of="2026-06-01")
    >>> spells[["spell", "start_at", "end_at", "rows"]]
       spell                  start_at                    end_at  rows
    0      1 2026-01-01 00:00:00+00:00 2026-03-10 00:00:00+00:00     2
    1      2 2026-05-01 00:00:00+00:00                       NaT     1

    Tenure: two months to 1 March and 9 of March's 31 days; one month to ``as_of``:

    >>> spells["tenure_months"].round(4).tolist()
    [2.2903, 1.0]
    """
    spells, _ = _spells_with_tenure(subscriptions, as_of, column_list(by), customers)
    out = spells.order_by(["customer_id", "spell"]).execute()
    out["spell"] = out["spell"].astype("int64")
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Contractual churn
# ---------------------------------------------------------------------------------------


@computes("customer_churn_rate", "customer_retention_rate", "annualised_churn_rate")
def churn_rate(
    subscriptions: Any,
    period: str = "M",
    by: str | Sequence[str] | None = None,
    *,
    customers: Any = None,
    as_of: Any = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    r"""Customer churn per period, counted on customer spells.

    Parameters
    ----------
    subscriptions : DataFrame or ibis.Table
        The ``subscriptions`` table (``customer_id``, ``start_at``, ``end_at``, ``mrr``).
    period : {"M", "Q", "Y", "W"}, default "M"
        Calendar period (UTC); weeks start on Monday.
    by : str or list of str, optional
        Breakdown columns: of ``customers`` (e.g. ``"channel"``) or of ``subscriptions``
        (e.g. ``"plan"``, the customer's first plan).
    customers : DataFrame or ibis.Table, optional
        The ``customers`` table, for customer attributes in ``by``.
    as_of : date-like, optional
        Data complete up to here (default: end of the day of the latest timestamp).
        Only periods that have fully elapsed are reported.
    confidence : float, default 0.95
        Level of the Wilson interval.

    Returns
    -------
    pandas.DataFrame
        One row per period (and group): ``period`` (e.g. ``"2026-10"``), ``period_start``,
        the ``by`` columns, ``active_at_start`` (the denominator), ``churned`` (the
        numerator), ``churn_rate``, ``ci_low``, ``ci_high``, ``retention_rate``,
        ``annualised_churn`` (and its interval ``annualised_ci_low``/``_high``),
        ``new`` (spells started in the period: first subscriptions and reactivations),
        ``reactivated`` (of which reactivations), ``joined_and_churned`` (started and
        ended inside the period — in neither numerator nor denominator),
        ``active_at_end`` and ``small_sample``.

    Notes
    -----
    .. math::

        \text{churn}_p = \frac{\#\{\text{spells with } s < p_0 \le e < p_1\}}
                              {\#\{\text{spells with } s < p_0 \le e\}},
        \qquad \text{annualised} = 1 - (1 - \text{churn}_p)^{k}

    for period :math:`[p_0, p_1)`, spell :math:`[s, e)` (:math:`e = \infty` while active)
    and :math:`k` periods per year. Because spells merge a customer's rows, a customer
    counts once however many subscriptions they hold.

    Examples
    --------
    >>> subs = pd.DataFrame({"customer_id": ["a", "b", "b", "c"],
    ...     "start_at": ["2026-01-05", "2026-01-10", "2026-02-10", "2026-02-03"],
    ...     "end_at": ["2026-02-14", "2026-02-10", None, "2026-02-20"],
    ...     "mrr": [10.0, 20.0, 30.0, 5.0]})
    >>> churn_rate(subs, as_of="2026-03-01")[["period", "active_at_start", "churned",
    ...     "churn_rate", "joined_and_churned"]]
        period  active_at_start  churned  churn_rate  joined_and_churned
    0  2026-01                0        0         NaN                   0
    1  2026-02                2        1         0.5                   1
    """
    key = _check_period(period)
    by_cols = column_list(by)
    subs, as_of = _subs_and_as_of(subscriptions, as_of)
    first = subs.start_at.min().execute()
    columns = ["period", "period_start", *by_cols, "active_at_start", "churned", "churn_rate",
               "ci_low", "ci_high", "retention_rate", "annualised_churn", "annualised_ci_low",
               "annualised_ci_high", "new", "reactivated", "joined_and_churned",
               "active_at_end", "small_sample"]
    if first is None or pd.isna(first):
        return pd.DataFrame(columns=columns)
    grid = _period_grid(to_utc(first), as_of, key)
    if grid.empty:
        return pd.DataFrame(columns=columns)
    spells = subscription_spells(subs)
    attrs = _attributes(subs, "start_at", by_cols, customers, "subscriptions")
    if attrs is not None:
        spells = spells.left_join(attrs, "customer_id").drop("customer_id_right")
    periods = _grid_table(grid)
    j = spells.cross_join(periods)
    j = j.filter((j.start_at < j.period_end) & (j.end_at.isnull() | (j.end_at >= j.period_start)))
    ended = j.end_at.notnull()
    active = (j.start_at < j.period_start) & (~ended | (j.end_at >= j.period_start))
    gone = ended & (j.end_at < j.period_end)
    new = j.start_at >= j.period_start

    def count(cond):
        return cond.cast("int64").sum()

    counts = j.group_by(["period_idx", *by_cols]).aggregate(
        active_at_start=count(active),
        churned=count(active & gone),
        new=count(new),
        reactivated=count(new & (j.spell > 1)),
        joined_and_churned=count(new & gone),
        active_at_end=count(~gone),
    ).execute()
    # every period × group appears, with zeros where nothing happened
    if by_cols:
        groups = counts[by_cols].drop_duplicates()
        full = grid.reset_index(names="period_idx").merge(groups, how="cross")
    else:
        full = grid.reset_index(names="period_idx")
    out = full.merge(counts, on=["period_idx", *by_cols], how="left")
    count_cols = ["active_at_start", "churned", "new", "reactivated", "joined_and_churned", "active_at_end"]
    out[count_cols] = out[count_cols].fillna(0).astype("int64")
    rates = rate_frame(out["churned"], out["active_at_start"], confidence)
    out["churn_rate"] = rates["rate"].to_numpy()
    out["ci_low"] = rates["ci_low"].to_numpy()
    out["ci_high"] = rates["ci_high"].to_numpy()
    out["retention_rate"] = 1 - out["churn_rate"]
    out["annualised_churn"] = annualised_rate(out["churn_rate"].to_numpy(), key)
    out["annualised_ci_low"] = annualised_rate(out["ci_low"].to_numpy(), key)
    out["annualised_ci_high"] = annualised_rate(out["ci_high"].to_numpy(), key)
    out["small_sample"] = out["active_at_start"] < SMALL_DENOMINATOR
    out = out.sort_values(["period_idx", *by_cols]).reset_index(drop=True)
    return out[columns]


def _period_word(label: str) -> str:
    """``"month"``, ``"quarter"``, ``"year"`` or ``"week"`` from a period label."""
    if len(label) == 7 and label[4] == "-":
        return "month"
    if "Q" in label:
        return "quarter"
    return "year" if len(label) == 4 else "week"


def snapshot_note(
    rates: pd.DataFrame,
    *,
    min_zero_periods: int = SNAPSHOT_ZERO_PERIODS,
    chance: float = SNAPSHOT_CHANCE,
) -> str | None:
    r"""A warning when a churn series looks like a snapshot, else None.

    An extract of the customers on the books at a recent date holds no one who left
    before it: its churn is exactly zero for month after month and then jumps, and the
    jump is an artefact, not news. The series is judged a snapshot when

    * its first periods with customers at risk show no churn at all — at least
      ``min_zero_periods`` of them (:data:`SNAPSHOT_ZERO_PERIODS`, 3), or every one
      before the latest period — and a period with churn follows, and
    * so long a run of zeros is implausible at the churn rate seen from the first churn
      on: with :math:`n_0` customer-periods at risk in the zero run and :math:`r_{low}`
      the low end of the 95 % Wilson interval of the later periods' rate (churned / at
      risk), the chance of no churn at all,

      .. math:: P = (1 - r_{low})^{n_0},

      is below ``chance`` (:data:`SNAPSHOT_CHANCE`, 0.001). A young business with a
      handful of customers and a few quiet months is not flagged.

    Parameters
    ----------
    rates : pandas.DataFrame
        Output of :func:`churn_rate` — all periods, not only the last few shown (with a
        breakdown, the groups are added up per period).
    min_zero_periods : int, default 3
    chance : float, default 0.001

    Returns
    -------
    str or None
        One paragraph for the top of the churn section, or None.

    Examples
    --------
    Eleven months without a single churn among 400 customers, then 106 leave (26.5 %):

    >>> rates = pd.DataFrame({"period": [f"2025-{m:02d}" for m in range(1, 13)],
    ...     "active_at_start": [400] * 12, "churned": [0] * 11 + [106]})
    >>> print(snapshot_note(rates))
    Looks like a snapshot: no customer churned in the 11 months 2025-01 to 2025-11
    (4,400 customer-months at risk), then 26.5% churned in 2025-12; even at 22.4%, the low
    end of its 95% interval, so long a run of zeros has a chance below 1 in 1,000. Leavers
    before 2025-12 are probably
    missing from the data (an extract of the customers on the books at a recent date looks
    like this): churn before 2025-12 is understated, not zero, and the jump is not a real
    change.

    Three customers and a quiet year are no evidence of anything:
    >>> snapshot_note(rates.assign(active_at_start=[3] * 12, churned=[0] * 11 + [1])) is None
    True
    """
    if int(min_zero_periods) != min_zero_periods or min_zero_periods < 1:
        raise ValueError(f"min_zero_periods must be a positive whole number, got {min_zero_periods!r}")
    if not 0 < chance < 1:
        raise ValueError(f"chance must be between 0 and 1, got {chance!r}")
    missing = {"period", "active_at_start", "churned"} - set(rates.columns)
    if missing:
        raise ValueError(f"rates must be a churn_rate() result; it lacks {sorted(missing)}")
    per = rates.groupby("period", sort=False)[["active_at_start", "churned"]].sum()
    if "period_start" in rates.columns:
        per = per.loc[rates.groupby("period", sort=False)["period_start"].first().sort_values().index]
    latest = per.index[-1] if len(per) else None
    per = per[per["active_at_start"] > 0]
    churned = per["churned"].to_numpy() > 0
    if not churned.any():
        return None
    first = int(np.argmax(churned))
    zeros, after = per.iloc[:first], per.iloc[first:]
    if first == 0 or (first < min_zero_periods and per.index[first] != latest):
        return None
    lost, exposed = int(after["churned"].sum()), int(after["active_at_start"].sum())
    rate, low = lost / exposed, float(wilson_interval(lost, exposed)[0])
    at_risk = int(zeros["active_at_start"].sum())
    if (1 - low) ** at_risk >= chance:
        return None
    word = _period_word(str(per.index[0]))
    jump = str(per.index[first])
    run = f"the {first} {word}s {zeros.index[0]} to {zeros.index[-1]}" if first > 1 else f"{zeros.index[0]}"
    when = f"in {jump}" if len(after) == 1 else f"from {jump} on"
    return (f"Looks like a snapshot: no customer churned in {run} ({at_risk:,} customer-{word}s at risk), "
            f"then {rate:.1%} churned {when}; even at {low:.1%}, the low end of its 95% interval, so "
            f"long a run of zeros has a chance below 1 in {1 / chance:,.0f}. Leavers before {jump} are probably missing from the data (an extract "
            f"of the customers on the books at a recent date looks like this): churn before {jump} is "
            f"understated, not zero, and the jump is not a real change.")


@dataclass
class _RatioStats:
    """Sums over customers for a ratio estimator Σy/Σx with a delta-method interval."""

    n: np.ndarray
    sx: np.ndarray
    sy: np.ndarray
    sxx: np.ndarray
    syy: np.ndarray
    sxy: np.ndarray

    def interval(self, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(self.sx > 0, self.sy / self.sx, np.nan)
            resid = self.syy - 2 * ratio * self.sxy + ratio**2 * self.sxx
            var = np.where(self.n > 1, resid / (self.n - 1), np.nan) * self.n / self.sx**2
            half = _sps.norm.ppf(0.5 + confidence / 2) * np.sqrt(np.clip(var, 0, None))
        return ratio, ratio - half, ratio + half


@computes("gross_mrr_churn_rate", "net_mrr_churn_rate", "gross_revenue_retention", "net_revenue_retention")
def revenue_retention(
    subscriptions: Any,
    period: str = "M",
    by: str | Sequence[str] | None = None,
    *,
    customers: Any = None,
    as_of: Any = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    r"""MRR movements per period, gross and net MRR churn, GRR and NRR.

    Each customer's MRR is the sum of the ``mrr`` of their subscriptions running at an
    instant (see the module notes); the period compares the instant it starts with the
    instant it ends.

    Parameters
    ----------
    subscriptions : DataFrame or ibis.Table
        The ``subscriptions`` table.
    period : {"M", "Q", "Y", "W"}, default "M"
        Calendar period (UTC). ``"Y"`` gives the usual annual GRR/NRR of a calendar year.
    by, customers :
        Breakdown columns, customer-level (see :func:`churn_rate`).
    as_of : date-like, optional
        Data complete up to here; only periods that have fully elapsed are reported.
    confidence : float, default 0.95
        Level of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per period (and group): ``period``, ``period_start``, the ``by`` columns,
        ``customers_at_start``, ``starting_mrr``, ``churned_mrr``, ``contraction_mrr``,
        ``expansion_mrr``, ``reactivation_mrr``, ``new_mrr``, ``ending_mrr`` and the
        customer counts ``churned_customers``, ``contracted_customers``,
        ``expanded_customers``, ``reactivated_customers``, ``new_customers``; then
        ``gross_mrr_churn``, ``net_mrr_churn``, ``grr``, ``nrr`` with their intervals
        (``grr_ci_low`` …; gross/net churn intervals are 1 − those of GRR/NRR).

    Notes
    -----
    With :math:`x_c` and :math:`y_c` customer *c*'s MRR at the start and the end of the
    period and :math:`C = \{c : x_c > 0\}` the fixed starting cohort:

    * churned :math:`= \sum_{C,\,y_c=0} x_c`, contraction :math:`= \sum_{C,\,0<y_c<x_c} (x_c - y_c)`,
      expansion :math:`= \sum_{C,\,y_c>x_c} (y_c - x_c)`;
    * reactivation :math:`= \sum y_c` over customers with :math:`x_c = 0` who had been
      subscribed before the period; new :math:`= \sum y_c` over first-time subscribers;
    * gross MRR churn = (churned + contraction) / Σx, net MRR churn =
      (churned + contraction − expansion) / Σx;
    * :math:`\text{GRR} = \sum_C \min(x_c, y_c) / \sum_C x_c \le 1`,
      :math:`\text{NRR} = \sum_C y_c / \sum_C x_c`.

    Ending MRR = starting − churned − contraction + expansion + reactivation + new.
    Customers who start and leave inside the period carry no MRR at either instant and
    do not appear. Every sum of money — the MRR of a customer's running rows, the
    movements and the sums of squares and products behind the intervals — is computed as
    an exact decimal in the engine (:data:`kpilib.data.EXACT_MONEY`), so the same rows
    give the same bits in any order, and a plan change of 10.1 + 20.2 to 30.3 is neither
    contraction nor expansion. The intervals treat the starting customers as the sampling unit: a
    ratio estimator with a delta-method (linearisation) standard error
    :math:`\sqrt{\sum_C (y_c - R x_c)^2 / (n-1) \cdot n} / \sum_C x_c`; GRR's is clipped
    to [0, 1].

    Examples
    --------
    One customer expands from 10 to 30, one churns its 20:

    >>> subs = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "start_at": ["2026-01-05", "2026-02-10", "2026-01-07"],
    ...     "end_at": ["2026-02-10", None, "2026-02-20"], "mrr": [10.0, 30.0, 20.0]})
    >>> revenue_retention(subs, as_of="2026-03-01").iloc[1][["starting_mrr", "churned_mrr",
    ...     "expansion_mrr", "ending_mrr", "grr", "nrr"]].astype(float).round(4).tolist()
    [30.0, 20.0, 20.0, 30.0, 0.3333, 1.0]
    """
    key = _check_period(period)
    by_cols = column_list(by)
    subs, as_of = _subs_and_as_of(subscriptions, as_of)
    first = subs.start_at.min().execute()
    money = ["starting_mrr", "churned_mrr", "contraction_mrr", "expansion_mrr",
             "reactivation_mrr", "new_mrr", "ending_mrr"]
    people = ["churned_customers", "contracted_customers", "expanded_customers",
              "reactivated_customers", "new_customers"]
    rates = ["gross_mrr_churn", "gross_mrr_churn_ci_low", "gross_mrr_churn_ci_high",
             "net_mrr_churn", "net_mrr_churn_ci_low", "net_mrr_churn_ci_high",
             "grr", "grr_ci_low", "grr_ci_high", "nrr", "nrr_ci_low", "nrr_ci_high"]
    columns = ["period", "period_start", *by_cols, "customers_at_start", *money, *people, *rates]
    if first is None or pd.isna(first):
        return pd.DataFrame(columns=columns)
    grid = _period_grid(to_utc(first), as_of, key)
    if grid.empty:
        return pd.DataFrame(columns=columns)
    # MRR of every customer at every period boundary (instants b = 0 … n)
    bounds = pd.DataFrame({"b": np.arange(len(grid) + 1, dtype="int64"),
                           "at": list(grid["period_start"]) + [grid["period_end"].iloc[-1]]})
    bt = memtable(bounds)
    j = subs.select("customer_id", "start_at", "end_at", "mrr").cross_join(bt)
    j = j.filter((j.start_at < j.at) & (j.end_at.isnull() | (j.end_at >= j.at)))
    snap = j.group_by(["customer_id", "b"]).aggregate(mrr=j.mrr.cast(EXACT_MONEY).sum().cast(_MRR))
    x = snap.rename(x="mrr").mutate(period_idx=snap.b)
    y = snap.rename(y="mrr").mutate(period_idx=snap.b - 1)
    xy = x.outer_join(y, ["customer_id", "period_idx"])
    no_mrr = ibis.literal(0, type=_MRR)
    xy = xy.select(
        customer_id=ibis.coalesce(xy.customer_id, xy.customer_id_right),
        period_idx=ibis.coalesce(xy.period_idx, xy.period_idx_right),
        x=xy.x.fill_null(no_mrr), y=xy.y.fill_null(no_mrr),
    )
    xy = xy.filter((xy.period_idx >= 0) & (xy.period_idx < len(grid)))
    first_start = subs.group_by("customer_id").aggregate(first_start=subs.start_at.min())
    xy = xy.left_join(first_start, "customer_id").drop("customer_id_right")
    xy = xy.left_join(_grid_table(grid).select("period_idx", "period_start"), "period_idx")
    xy = xy.drop("period_idx_right")
    attrs = _attributes(subs, "start_at", by_cols, customers, "subscriptions")
    if attrs is not None:
        xy = xy.left_join(attrs, "customer_id").drop("customer_id_right")
    inc = xy.x > 0

    def total(cond, value):  # exact in the engine, then a float
        return ibis.ifelse(cond, value, no_mrr).sum().cast(dt.float64)

    def count(cond):
        return cond.cast("int64").sum()

    returning = ~inc & (xy.y > 0) & (xy.first_start < xy.period_start)
    fresh = ~inc & (xy.y > 0) & (xy.first_start >= xy.period_start)
    kept = ibis.least(xy.x, xy.y)
    agg = xy.group_by(["period_idx", *by_cols]).aggregate(
        customers_at_start=count(inc),
        starting_mrr=total(inc, xy.x),
        churned_mrr=total(inc & (xy.y == 0), xy.x),
        contraction_mrr=total(inc & (xy.y > 0) & (xy.y < xy.x), xy.x - xy.y),
        expansion_mrr=total(inc & (xy.y > xy.x), xy.y - xy.x),
        reactivation_mrr=total(returning, xy.y),
        new_mrr=total(fresh, xy.y),
        ending_mrr=xy.y.sum().cast(dt.float64),
        churned_customers=count(inc & (xy.y == 0)),
        contracted_customers=count(inc & (xy.y > 0) & (xy.y < xy.x)),
        expanded_customers=count(inc & (xy.y > xy.x)),
        reactivated_customers=count(returning),
        new_customers=count(fresh),
        _sxx=total(inc, xy.x * xy.x),
        _sgy=total(inc, kept), _sgg=total(inc, kept * kept), _sxg=total(inc, xy.x * kept),
        _sny=total(inc, xy.y), _snn=total(inc, xy.y * xy.y), _sxn=total(inc, xy.x * xy.y),
    ).execute()
    if by_cols:
        groups = agg[by_cols].drop_duplicates()
        full = grid.reset_index(names="period_idx").merge(groups, how="cross")
    else:
        full = grid.reset_index(names="period_idx")
    out = full.merge(agg, on=["period_idx", *by_cols], how="left")
    sums = [c for c in agg.columns if c.startswith("_")]
    out[money + sums] = out[money + sums].fillna(0.0).astype(float)
    out[["customers_at_start", *people]] = out[["customers_at_start", *people]].fillna(0).astype("int64")
    n = out["customers_at_start"].to_numpy(dtype=float)
    sx = out["starting_mrr"].to_numpy()
    grr = _RatioStats(n, sx, out["_sgy"].to_numpy(), out["_sxx"].to_numpy(),
                      out["_sgg"].to_numpy(), out["_sxg"].to_numpy()).interval(confidence)
    nrr = _RatioStats(n, sx, out["_sny"].to_numpy(), out["_sxx"].to_numpy(),
                      out["_snn"].to_numpy(), out["_sxn"].to_numpy()).interval(confidence)
    out["grr"], out["nrr"] = grr[0], nrr[0]
    out["grr_ci_low"], out["grr_ci_high"] = np.clip(grr[1], 0, 1), np.clip(grr[2], 0, 1)
    out["nrr_ci_low"], out["nrr_ci_high"] = np.clip(nrr[1], 0, None), nrr[2]
    out["gross_mrr_churn"] = 1 - out["grr"]
    out["gross_mrr_churn_ci_low"], out["gross_mrr_churn_ci_high"] = 1 - out["grr_ci_high"], 1 - out["grr_ci_low"]
    out["net_mrr_churn"] = 1 - out["nrr"]
    out["net_mrr_churn_ci_low"], out["net_mrr_churn_ci_high"] = 1 - out["nrr_ci_high"], 1 - out["nrr_ci_low"]
    out = out.sort_values(["period_idx", *by_cols]).reset_index(drop=True)
    return out[columns]


# ---------------------------------------------------------------------------------------
# Survival (Kaplan–Meier, lifelines)
# ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class SurvivalResult:
    """Kaplan–Meier curves of customer lifetime, made by :func:`survival`.

    Attributes
    ----------
    curves : pandas.DataFrame
        Tidy: ``group`` (``"all"`` without a breakdown), ``tenure`` (calendar months),
        ``survival``, ``ci_low``, ``ci_high``, ``at_risk``, ``churned``, ``censored``.
    summary : pandas.DataFrame
        One row per group: ``subscribers``, ``churned``, ``censored``,
        ``median_lifetime`` (months; NaN when not reached), ``median_ci_low``,
        ``median_ci_high``, ``median_reached``, ``max_tenure`` and
        ``survival_12m`` (the curve at 12 calendar months, churns at exactly 12 included;
        NaN beyond the data).
    logrank : pandas.DataFrame or None
        The log-rank test across groups (``test_statistic``, ``p_value``,
        ``degrees_of_freedom``, ``groups``); None without a breakdown.
    lifetimes : pandas.DataFrame
        The input of the fit, one row per customer: ``duration`` (calendar months), ``churned``
        and the breakdown columns.
    fitters : dict
        The fitted :class:`lifelines.KaplanMeierFitter` per group.
    by : list of str
        The breakdown columns.
    """

    curves: pd.DataFrame
    summary: pd.DataFrame
    logrank: pd.DataFrame | None
    lifetimes: pd.DataFrame
    fitters: dict[str, Any] = field(repr=False)
    by: list[str] = field(default_factory=list)


def _group_labels(frame: pd.DataFrame, by: list[str]) -> pd.Series:
    if not by:
        return pd.Series("all", index=frame.index)
    return frame[by].astype(str).agg(" · ".join, axis=1)


@computes("median_customer_lifetime")
def survival(
    subscriptions: Any,
    by: str | Sequence[str] | None = None,
    *,
    customers: Any = None,
    as_of: Any = None,
    spells: Literal["first", "all"] = "first",
    confidence: float = 0.95,
) -> SurvivalResult:
    r"""Kaplan–Meier survival of customer lifetimes, by segment, with a log-rank test.

    Parameters
    ----------
    subscriptions : DataFrame or ibis.Table
        The ``subscriptions`` table.
    by : str or list of str, optional
        Segments (e.g. ``"plan"``, or ``"channel"`` with ``customers``).
    customers : DataFrame or ibis.Table, optional
        For customer attributes in ``by``.
    as_of : date-like, optional
        End of observation; customers still subscribed then are censored there.
    spells : {"first", "all"}, default "first"
        ``"first"``: each customer's first spell (their acquisition lifetime, one
        independent observation per customer). ``"all"`` adds reactivated spells as
        further lifetimes (not independent of the first; use with care).
    confidence : float, default 0.95
        Level of the pointwise bands (lifelines' exponential Greenwood intervals).

    Returns
    -------
    SurvivalResult

    Notes
    -----
    A lifetime is the spell's length in calendar months (``tenure_months`` of
    :func:`customer_spells`: a customer of exactly one year lasted 12 months, leap day or
    not). Customers still subscribed at ``as_of`` are *censored* at their tenure so far —
    they are known to have lasted at least that long — never counted as churned. The
    estimator is

    .. math:: \hat S(t) = \prod_{t_i \le t} \left(1 - \frac{d_i}{n_i}\right)

    with :math:`d_i` churns at :math:`t_i` and :math:`n_i` customers at risk. Segments are
    compared with lifelines' multivariate log-rank test (the two-group test when there are
    two segments).

    Examples
    --------
    >>> subs = pd.DataFrame({"customer_id": ["a", "b", "c"],
    ...     "start_at": ["2026-01-01", "2026-01-01", "2026-01-01"],
    ...     "end_at": ["2026-02-01", None, "2026-04-01"], "mrr": [1.0, 1.0, 1.0]})
    >>> res = survival(subs, as_of="2026-07-01")
    >>> res.summary[["subscribers", "churned", "censored", "median_reached"]]
       subscribers  churned  censored  median_reached
    0            3        2         1            True
    """
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test
    from lifelines.utils import median_survival_times

    if spells not in ("first", "all"):
        raise ValueError(f"spells must be 'first' or 'all', got {spells!r}")
    by_cols = column_list(by)
    frame = customer_spells(subscriptions, as_of=as_of, by=by_cols, customers=customers)
    if spells == "first":
        frame = frame[frame["spell"] == 1]
    if frame.empty:
        raise DataError("no subscriptions to estimate lifetimes from", table="subscriptions",
                        fix="Check the table and as_of")
    life = pd.DataFrame({
        "customer_id": frame["customer_id"].to_numpy(),
        "spell": frame["spell"].to_numpy(),
        "duration": frame["tenure_months"].to_numpy(dtype=float),
        "churned": frame["end_at"].notna().to_numpy(),
    })
    for col in by_cols:
        life[col] = frame[col].to_numpy()
    life["group"] = _group_labels(life, by_cols).to_numpy()
    alpha = 1 - confidence
    curves, rows, fitters = [], [], {}
    for group, part in life.groupby("group", sort=True):
        kmf = KaplanMeierFitter(alpha=alpha, label=str(group))
        kmf.fit(part["duration"], event_observed=part["churned"])
        fitters[str(group)] = kmf
        ci = kmf.confidence_interval_survival_function_
        table = kmf.event_table
        curve = pd.DataFrame({
            "group": str(group),
            "tenure": kmf.survival_function_.index.to_numpy(),
            "survival": kmf.survival_function_.iloc[:, 0].to_numpy(),
            "ci_low": ci.iloc[:, 0].to_numpy(),
            "ci_high": ci.iloc[:, 1].to_numpy(),
            "at_risk": table["at_risk"].reindex(kmf.survival_function_.index).to_numpy(),
            "churned": table["observed"].reindex(kmf.survival_function_.index).to_numpy(),
            "censored": table["censored"].reindex(kmf.survival_function_.index).to_numpy(),
        })
        curves.append(curve)
        median = float(kmf.median_survival_time_)
        med_ci = median_survival_times(kmf.confidence_interval_survival_function_)
        lo, hi = (float(v) for v in med_ci.iloc[0])
        max_t = float(part["duration"].max())
        rows.append({
            "group": str(group),
            **{c: part[c].iloc[0] for c in by_cols},
            "subscribers": len(part),
            "churned": int(part["churned"].sum()),
            "censored": int((~part["churned"]).sum()),
            "median_lifetime": median if np.isfinite(median) else np.nan,
            "median_ci_low": lo if np.isfinite(lo) else np.nan,
            "median_ci_high": hi if np.isfinite(hi) else np.nan,
            "median_reached": bool(np.isfinite(median)),
            "max_tenure": max_t,
            "survival_12m": float(kmf.predict(12.0)) if max_t >= 12 else np.nan,
        })
    summary = pd.DataFrame(rows)
    if not by_cols:
        summary = summary.drop(columns="group")
    logrank = None
    if by_cols and life["group"].nunique() > 1:
        test = multivariate_logrank_test(life["duration"], life["group"], life["churned"])
        logrank = pd.DataFrame([{
            "test_statistic": float(test.test_statistic),
            "p_value": float(test.p_value),
            "degrees_of_freedom": int(test.degrees_of_freedom),
            "groups": int(life["group"].nunique()),
            "test": "log-rank (lifelines.statistics.multivariate_logrank_test)",
        }])
    return SurvivalResult(
        curves=pd.concat(curves, ignore_index=True),
        summary=summary,
        logrank=logrank,
        lifetimes=life,
        fitters=fitters,
        by=by_cols,
    )


# ---------------------------------------------------------------------------------------
# Tenure-based survivors (input of the sBG) and month-1 churn
# ---------------------------------------------------------------------------------------


def tenure_survivors(
    subscriptions: Any,
    periods: int = 12,
    by: str | Sequence[str] | None = None,
    *,
    customers: Any = None,
    as_of: Any = None,
    period_days: float | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    r"""Customers still subscribed after 0, 1, …, ``periods`` tenure periods.

    The "alive" counts of one pooled cohort: every customer whose first spell started at
    least ``periods`` tenure periods before ``as_of`` (so their whole window is observed),
    counted alive at tenure *k* while the spell lasts beyond the *k*-th period: beyond
    ``start`` + *k* calendar months (same day of the month, see
    :func:`kpilib.periods.months_between`), or beyond ``start + k · period_days``.
    This is the input of :func:`fit_sbg`.

    Parameters
    ----------
    subscriptions : DataFrame or ibis.Table
    periods : int, default 12
        Tenure periods to follow.
    by, customers :
        Segments (customer-level; ``plan`` is the first plan).
    as_of : date-like, optional
        End of observation.
    period_days : float, optional
        Length of a tenure period in days; by default a calendar month.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        Per group and ``tenure`` 0 … ``periods``: ``cohort_size``, ``alive``,
        ``survival`` (alive / cohort size) with ``ci_low``/``ci_high`` (Wilson),
        ``churned`` (lost during period *k*), ``retention`` (alive_k / alive_{k-1}, the
        period-to-period retention rate) and the ``by`` columns.

    Examples
    --------
    >>> subs = pd.DataFrame({"customer_id": ["a", "b", "c"],
    ...     "start_at": ["2026-01-01", "2026-01-01", "2026-01-01"],
    ...     "end_at": ["2026-01-20", "2026-03-01", None], "mrr": [1.0, 1.0, 1.0]})
    >>> tenure_survivors(subs, periods=2, as_of="2026-04-01")[["tenure", "alive", "survival"]]
       tenure  alive  survival
    0       0      3  1.000000
    1       1      2  0.666667
    2       2      1  0.333333
    """
    if int(periods) != periods or periods < 1:
        raise ValueError(f"periods must be a positive whole number, got {periods!r}")
    periods = int(periods)
    if period_days is not None and not period_days > 0:
        raise ValueError(f"period_days must be positive, got {period_days!r}")
    by_cols = column_list(by)
    spells, as_of_ts = _spells_with_tenure(subscriptions, as_of, by_cols, customers)
    cutoff = ibis.literal(as_of_ts, type=_UTC)
    if period_days is None:  # tenure and observed time in calendar months
        spells = months_between(spells, "start_at", cutoff, name="observed")
    else:
        span = 86_400.0 * period_days
        end = ibis.coalesce(spells.end_at, cutoff)
        spells = spells.mutate(
            tenure_months=(end.epoch_seconds() - spells.start_at.epoch_seconds()).cast("float64") / span,
            observed=(cutoff.epoch_seconds() - spells.start_at.epoch_seconds()).cast("float64") / span,
        )
    first = spells.filter((spells.spell == 1) & (spells.observed >= periods))
    first = first.select(*by_cols, "end_at", "tenure_months").execute()
    rows = []
    groups = first.groupby(by_cols, sort=True) if by_cols else [((), first)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        tenure = part["tenure_months"].to_numpy(dtype=float)
        open_ = part["end_at"].isna().to_numpy()
        alive = [int(len(part))] + [int((open_ | (tenure > k)).sum()) for k in range(1, periods + 1)]
        for k, n_alive in enumerate(alive):
            rows.append({**dict(zip(by_cols, key, strict=True)), "tenure": k,
                         "cohort_size": alive[0], "alive": n_alive,
                         "churned": 0 if k == 0 else alive[k - 1] - n_alive,
                         "retention": np.nan if k == 0 or alive[k - 1] == 0 else n_alive / alive[k - 1]})
    out = pd.DataFrame(rows, columns=[*by_cols, "tenure", "cohort_size", "alive", "churned", "retention"])
    if out.empty:
        return out.assign(survival=[], ci_low=[], ci_high=[])
    rates = rate_frame(out["alive"], out["cohort_size"], confidence)
    out["survival"] = rates["rate"].to_numpy()
    out["ci_low"] = rates["ci_low"].to_numpy()
    out["ci_high"] = rates["ci_high"].to_numpy()
    return out[[*by_cols, "tenure", "cohort_size", "alive", "survival", "ci_low", "ci_high",
                "churned", "retention"]]


def month_one_churn(
    subscriptions: Any,
    by: str | Sequence[str] | None = None,
    *,
    customers: Any = None,
    as_of: Any = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Share of new subscribers who churn within their first month of tenure.

    The churn of the first tenure month (one calendar month from the start, see
    :func:`tenure_survivors`) among customers whose first month has fully elapsed — under the sBG model this estimates the mean churn
    probability :math:`E[\\theta] = \\alpha / (\\alpha + \\beta)` of new customers, which is
    higher than a calendar month's churn of the whole (older, more loyal) base.

    Returns
    -------
    pandas.DataFrame
        Per group: ``subscribers`` (denominator), ``churned`` (numerator), ``churn_rate``,
        ``ci_low``, ``ci_high``, ``small_sample``.

    Examples
    --------
    >>> subs = pd.DataFrame({"customer_id": ["a", "b"], "start_at": ["2026-01-01", "2026-01-01"],
    ...     "end_at": ["2026-01-20", None], "mrr": [1.0, 1.0]})
    >>> month_one_churn(subs, as_of="2026-03-01")[["subscribers", "churned", "churn_rate"]]
       subscribers  churned  churn_rate
    0            2        1         0.5
    """
    by_cols = column_list(by)
    t = tenure_survivors(subscriptions, 1, by_cols, customers=customers, as_of=as_of)
    t = t[t["tenure"] == 1].reset_index(drop=True)
    rates = rate_frame(t["churned"], t["cohort_size"], confidence)
    out = t[by_cols].copy()
    out["subscribers"] = t["cohort_size"].to_numpy()
    out["churned"] = t["churned"].to_numpy()
    out["churn_rate"] = rates["rate"].to_numpy()
    out["ci_low"] = rates["ci_low"].to_numpy()
    out["ci_high"] = rates["ci_high"].to_numpy()
    out["small_sample"] = rates["small_sample"].to_numpy()
    return out


# ---------------------------------------------------------------------------------------
# Cohort retention (events or orders)
# ---------------------------------------------------------------------------------------


def _activity_table(activity: Any) -> ibis.Table:
    columns = activity.columns if isinstance(activity, ibis.Table) else list(getattr(activity, "columns", []))
    if "event" in columns:
        return as_table(activity, "events")
    if "amount" in columns:
        return as_table(activity, "orders")
    raise DataError(
        "cohort retention needs an activity table: events (customer_id, ts, event) or "
        f"orders (customer_id, ts, amount); the table has: {', '.join(map(str, columns))}",
        table="activity",
        fix="Pass ds.events or ds.orders",
    )


def _period_labels(index: np.ndarray, period: str) -> list[str]:
    origin = PERIOD_ORIGIN[period]
    return [str(origin + int(i)) for i in index]


def _period_end(index: np.ndarray, period: str) -> np.ndarray:
    origin = PERIOD_ORIGIN[period]
    return np.array([(origin + int(i) + 1).start_time.tz_localize("UTC") for i in index])


@computes("cohort_retention_rate")
def cohort_retention(
    activity: Any,
    period: str = "M",
    mode: Mode = "on",
    cohort_by: str = "first_activity",
    *,
    by: str | Sequence[str] | None = None,
    customers: Any = None,
    events: Sequence[str] | None = None,
    as_of: Any = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    r"""Cohort retention: of each cohort, the share active k periods later.

    Parameters
    ----------
    activity : DataFrame or ibis.Table
        ``events`` (``customer_id``, ``ts``, ``event``) or ``orders`` (``customer_id``,
        ``ts``, ``amount``): any row is activity of its customer at ``ts``.
    period : {"M", "Q", "Y", "W"}, default "M"
    mode : {"on", "on_or_after"}, default "on"
        ``"on"``: active in exactly period k after the cohort's. ``"on_or_after"``: active
        in period k or any later period (the customer has not gone for good by k).
    cohort_by : {"first_activity", "signup"}, default "first_activity"
        Cohort of a customer: the period of their first activity, or of
        ``customers.signup_at`` (then ``customers`` is required and customers with no
        activity count in their cohort as not retained; activity before signup is
        ignored).
    by : str or list of str, optional
        Breakdown, e.g. ``"channel"`` (acquisition channel, from ``customers``).
    customers : DataFrame or ibis.Table, optional
    events : list of str, optional
        For an events table, the event names that count as activity (e.g. product usage
        only, leaving out anonymous visits). Default: every event.
    as_of : date-like, optional
        Data complete up to here (default: :func:`kpilib.periods.default_cutoff` of the
        latest activity — its whole day included). A cell is computed only if its period
        has fully elapsed by then.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row per cohort (and group) and ``offset`` 0, 1, … up to the oldest cohort's
        longest elapsed offset: ``cohort`` (e.g. ``"2026-01"``), ``offset``,
        ``cohort_size``, ``retained`` (nullable integer), ``rate``, ``ci_low``,
        ``ci_high``, ``complete`` and ``small_sample``. A cell is complete when its
        period has fully elapsed and does not lie before the first activity of the data
        (signup cohorts can be older than the activity log); other cells have
        ``complete=False`` and missing ``retained``/``rate`` — never 0. The heatmap matrix
        is ``retention_matrix(result)`` (or one ``pivot``).

    Notes
    -----
    With :math:`A_i` the set of periods in which customer *i* was active and :math:`c_i`
    their cohort,

    .. math::

        \text{on}: \frac{\#\{i \in c : c + k \in A_i\}}{|c|}, \qquad
        \text{on or after}: \frac{\#\{i \in c : \max A_i \ge c + k\}}{|c|}.

    "On or after" uses all activity up to ``as_of``, so a complete cell can still rise
    when a customer comes back later; "on" cells are final once complete. See
    :func:`retention_average` for the average row (pooled or simple).

    Examples
    --------
    >>> orders = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c"],
    ...     "ts": ["2026-01-03", "2026-03-09", "2026-01-20", "2026-02-02", "2026-02-05"],
    ...     "amount": [5.0, 5.0, 5.0, 5.0, 5.0]})
    >>> on = cohort_retention(orders, mode="on", as_of="2026-04-01")
    >>> on.pivot(index="cohort", columns="offset", values="rate")
    offset    0    1    2
    cohort
    2026-01  1.0  0.0  0.5
    2026-02  1.0  0.0  NaN
    >>> after = cohort_retention(orders, mode="on_or_after", as_of="2026-04-01")
    >>> after.pivot(index="cohort", columns="offset", values="rate")
    offset    0    1    2
    cohort
    2026-01  1.0  0.5  0.5
    2026-02  1.0  0.0  NaN

    The February cohort's month 2 (April) has not elapsed: missing, not 0.
    """
    key = _check_period(period)
    if mode not in ("on", "on_or_after"):
        raise ValueError(f"mode must be 'on' or 'on_or_after', got {mode!r}")
    if cohort_by not in ("first_activity", "signup"):
        raise ValueError(f"cohort_by must be 'first_activity' or 'signup', got {cohort_by!r}")
    by_cols = column_list(by)
    t = _activity_table(activity)
    if events is not None:
        if "event" not in t.columns:
            raise ValueError("events= filters an events table; this activity table has no 'event' column")
        t = t.filter(t.event.isin(list(events)))
    span = t.aggregate(first=t.ts.min(), last=t.ts.max()).execute().iloc[0]
    as_of_ts = _resolve_as_of(as_of, span["last"])
    t = t.filter(t.ts < as_of_ts)
    p = t.mutate(p=period_index(t.ts, key)).select("customer_id", "p").distinct()
    if cohort_by == "signup":
        if customers is None:
            raise DataError("cohort_by='signup' needs the customers table", table="customers",
                            fix="Pass customers=ds.customers")
        cust = as_table(customers, "customers")
        cust = cust.filter(cust.signup_at < as_of_ts)
        cohorts = cust.select("customer_id", cohort=period_index(cust.signup_at, key)).distinct(on="customer_id")
    else:
        cohorts = p.group_by("customer_id").aggregate(cohort=p.p.min())
    attrs = _attributes(t, "ts", by_cols, customers, "activity")
    if attrs is not None:
        cohorts = cohorts.left_join(attrs, "customer_id").drop("customer_id_right")
        cohorts = cohorts.mutate(**{c: cohorts[c].fill_null("(missing)") for c in by_cols})
    sizes = cohorts.group_by(["cohort", *by_cols]).aggregate(cohort_size=cohorts.count()).execute()
    j = p.join(cohorts, "customer_id")
    j = j.mutate(offset=j.p - j.cohort).filter(lambda s: s.offset >= 0)
    if mode == "on":
        counts = j.group_by(["cohort", *by_cols, "offset"]).aggregate(retained=j.customer_id.nunique()).execute()
    else:
        last = j.group_by(["customer_id", "cohort", *by_cols]).aggregate(last=j.offset.max())
        counts = last.group_by(["cohort", *by_cols, "last"]).aggregate(n=last.count()).execute()
    columns = ["cohort", *by_cols, "offset", "cohort_size", "retained", "rate", "ci_low", "ci_high",
               "complete", "small_sample"]
    if sizes.empty:
        return pd.DataFrame(columns=columns)
    # the grid: every cohort × offset 0 … the oldest cohort's last elapsed offset
    cohort_idx = np.sort(sizes["cohort"].unique().astype("int64"))
    now_idx = int(period_index_of(as_of_ts - pd.Timedelta(1, "ns"), key))
    last_complete = now_idx if _period_end(np.array([now_idx]), key)[0] <= as_of_ts else now_idx - 1
    max_offset = max(int(last_complete - cohort_idx.min()), 0)
    grid = sizes.merge(pd.DataFrame({"offset": np.arange(max_offset + 1, dtype="int64")}), how="cross")
    grid["cohort"] = grid["cohort"].astype("int64")
    # a period before the first activity of the data was not observed: missing, not 0
    data_start = period_index_of(to_utc(span["first"]), key) if not pd.isna(span["first"]) else 0
    at = grid["cohort"] + grid["offset"]
    grid["complete"] = (at <= last_complete) & (at >= data_start)
    if mode == "on":
        counts["cohort"] = counts["cohort"].astype("int64")
        counts["offset"] = counts["offset"].astype("int64")
        grid = grid.merge(counts, on=["cohort", *by_cols, "offset"], how="left")
    else:
        counts["cohort"] = counts["cohort"].astype("int64")
        counts["last"] = counts["last"].astype("int64")
        merged = grid.merge(counts, on=["cohort", *by_cols], how="left")
        merged["retained"] = np.where(merged["last"] >= merged["offset"], merged["n"], 0)
        merged["retained"] = merged["retained"].fillna(0)
        grid = merged.groupby(["cohort", *by_cols, "offset", "cohort_size", "complete"],
                              as_index=False, dropna=False)["retained"].sum()
    grid["retained"] = grid["retained"].fillna(0).astype("int64")
    rates = rate_frame(grid["retained"], grid["cohort_size"], confidence)
    grid["rate"] = rates["rate"].to_numpy()
    grid["ci_low"] = rates["ci_low"].to_numpy()
    grid["ci_high"] = rates["ci_high"].to_numpy()
    grid["small_sample"] = rates["small_sample"].to_numpy()
    grid["retained"] = grid["retained"].astype("Int64")
    grid.loc[~grid["complete"], ["rate", "ci_low", "ci_high"]] = np.nan
    grid.loc[~grid["complete"], "retained"] = pd.NA
    grid["cohort_size"] = grid["cohort_size"].astype("int64")
    grid = grid.sort_values(["cohort", *by_cols, "offset"]).reset_index(drop=True)
    grid["cohort"] = _period_labels(grid["cohort"].to_numpy(), key)
    return grid[columns]


def retention_average(
    retention: pd.DataFrame,
    how: Literal["pooled", "simple"] = "pooled",
    confidence: float = 0.95,
    *,
    min_cohorts: int = MIN_COHORTS,
) -> pd.DataFrame:
    r"""The average retention curve over cohorts, pooled or simple — and labelled so.

    Only complete cells enter: at offset k the average is over the cohorts old enough to
    have a complete cell k, so later offsets rest on fewer, older cohorts — and a curve
    that "climbs" at late offsets often only shows that the oldest cohort was a better
    one. Offsets averaged over fewer than ``min_cohorts`` cohorts are flagged
    ``few_cohorts``: show them apart (or not at all).

    Parameters
    ----------
    retention : pandas.DataFrame
        Output of :func:`cohort_retention` (with or without a breakdown).
    how : {"pooled", "simple"}, default "pooled"
        ``"pooled"``: :math:`\sum_c \text{retained}_{c,k} / \sum_c |c|` — every customer
        weighs the same (big cohorts weigh more), with a Wilson interval on the sums.
        ``"simple"``: the unweighted mean of the cohort rates — every cohort weighs the
        same, with a t interval over cohorts (NaN with fewer than two).
    confidence : float, default 0.95
    min_cohorts : int, default :data:`MIN_COHORTS` (3)
        Fewest cohorts an offset's average may rest on without the ``few_cohorts`` flag.

    Returns
    -------
    pandas.DataFrame
        Per offset (and group): ``offset``, ``cohorts`` (how many cohorts the average
        rests on), ``few_cohorts`` (``cohorts < min_cohorts``), ``eligible`` (Σ cohort
        sizes), ``retained``, ``rate``, ``ci_low``, ``ci_high`` and ``average``
        (``"pooled"`` or ``"simple"``).

    Examples
    --------
    Cohorts of 1000 and 500 retaining 500 and 400 at month 1: pooled 900 / 1500 = 60 %,
    simple (50 % + 80 %) / 2 = 65 %.

    >>> r = pd.DataFrame({"cohort": ["2026-01", "2026-02"], "offset": [1, 1],
    ...     "cohort_size": [1000, 500], "retained": [500, 400], "rate": [0.5, 0.8],
    ...     "complete": [True, True]})
    >>> retention_average(r, "pooled")[["offset", "eligible", "retained", "rate", "average"]]
       offset  eligible  retained  rate average
    0       1      1500       900   0.6  pooled
    >>> float(retention_average(r, "simple")["rate"].iloc[0])
    0.65

    Two cohorts are fewer than three: the offset is flagged.

    >>> retention_average(r)[["offset", "cohorts", "few_cohorts"]]
       offset  cohorts  few_cohorts
    0       1        2         True
    """
    if how not in ("pooled", "simple"):
        raise ValueError(f"how must be 'pooled' or 'simple', got {how!r}")
    if int(min_cohorts) != min_cohorts or min_cohorts < 1:
        raise ValueError(f"min_cohorts must be a positive whole number, got {min_cohorts!r}")
    known = {"cohort", "offset", "cohort_size", "retained", "rate", "ci_low", "ci_high",
             "complete", "small_sample"}
    by_cols = [c for c in retention.columns if c not in known]
    cells = retention[retention["complete"].astype(bool)].copy()
    cells["retained"] = cells["retained"].astype("int64")
    grouped = cells.groupby([*by_cols, "offset"], sort=True)
    out = grouped.agg(cohorts=("cohort", "nunique"), eligible=("cohort_size", "sum"),
                      retained=("retained", "sum"), mean_rate=("rate", "mean"),
                      sd_rate=("rate", "std")).reset_index()
    if how == "pooled":
        rates = rate_frame(out["retained"], out["eligible"], confidence)
        out["rate"], out["ci_low"], out["ci_high"] = rates["rate"], rates["ci_low"], rates["ci_high"]
    else:
        out["rate"] = out["mean_rate"]
        with np.errstate(invalid="ignore", divide="ignore"):
            k = out["cohorts"].to_numpy(dtype=float)
            tq = np.where(k > 1, _sps.t.ppf(0.5 + confidence / 2, np.maximum(k - 1, 1)), np.nan)
            half = tq * out["sd_rate"].to_numpy() / np.sqrt(k)
        out["ci_low"] = np.clip(out["rate"] - half, 0, 1)
        out["ci_high"] = np.clip(out["rate"] + half, 0, 1)
    out["average"] = how
    out["few_cohorts"] = out["cohorts"] < min_cohorts
    return out[[*by_cols, "offset", "cohorts", "few_cohorts", "eligible", "retained", "rate", "ci_low",
                "ci_high", "average"]]


def retention_matrix(
    retention: pd.DataFrame, value: str = "rate", average: Literal["pooled", "simple"] | None = "pooled"
) -> pd.DataFrame:
    """The cohort × offset matrix of a :func:`cohort_retention` result, for a heatmap.

    Incomplete cells stay NaN. With ``average``, a last row labelled
    ``"pooled average"`` or ``"simple average"`` (see :func:`retention_average`) is added.
    A breakdown must be filtered to one group first.

    Examples
    --------
    >>> r = pd.DataFrame({"cohort": ["2026-01", "2026-01", "2026-02", "2026-02"],
    ...     "offset": [0, 1, 0, 1], "cohort_size": [10, 10, 5, 5], "retained": [10, 4, 5, None],
    ...     "rate": [1.0, 0.4, 1.0, None], "complete": [True, True, True, False]})
    >>> retention_matrix(r)
    offset            0    1
    cohort
    2026-01         1.0  0.4
    2026-02         1.0  NaN
    pooled average  1.0  0.4
    """
    matrix = retention.pivot(index="cohort", columns="offset", values=value)
    if average is not None and value == "rate":
        avg = retention_average(retention, average).set_index("offset")["rate"]
        matrix.loc[f"{average} average"] = avg.reindex(matrix.columns)
    return matrix


# ---------------------------------------------------------------------------------------
# Projection: the shifted-beta-geometric model
# ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class SBGFit:
    r"""A fitted shifted-beta-geometric (sBG) model of one cohort; see :func:`fit_sbg`.

    Each customer churns at the end of every period with probability θ, and θ ~ Beta(α, β)
    across customers. Then, for :math:`t = 1, 2, \dots`

    .. math::

        P(T = t) = \frac{B(\alpha + 1, \beta + t - 1)}{B(\alpha, \beta)}, \quad
        S(t) = \frac{B(\alpha, \beta + t)}{B(\alpha, \beta)}, \quad
        r_t = \frac{S(t)}{S(t-1)} = \frac{\beta + t - 1}{\alpha + \beta + t - 1}.

    Attributes
    ----------
    alpha_, beta_ : float
        Maximum-likelihood estimates.
    log_likelihood_ : float
        Log-likelihood at the estimates.
    alive_ : numpy.ndarray
        The calibration data (alive at periods 0 … n).
    n_periods_ : int
        Calibration periods *n*.
    standard_errors_ : dict
        Asymptotic standard errors of α and β (inverse observed information); infinite
        when the data show no heterogeneity (α and β are then not identified, only their
        ratio), NaN when the observed information is not positive definite.
    covariance_ : numpy.ndarray
        Their 2×2 covariance matrix. With no heterogeneity it is the covariance along the
        boundary at the reported α + β, which gives :meth:`mean_churn_interval` the
        geometric model's variance p(1 − p) / exposure.
    converged_ : bool
        True when the fit is an interior maximum: the gradient is zero within tolerance,
        the observed information is positive definite and no parameter is at its bound.
        Decided from the fit itself, never from the optimiser's flag (see
        :attr:`verdict_`). False typically because the data show no heterogeneity (a
        plain geometric model fits); :attr:`mean_churn_` is still well estimated then.
    verdict_ : str
        ``"converged"``; ``"no heterogeneity"`` (the geometric model with a constant churn
        p = lost / exposure reaches the sBG's log-likelihood within 0.001: the maximum is
        the limit α, β → ∞ with α/(α+β) = p, and α, β are reported at their bound with
        that ratio); ``"at bound"`` (another parameter ran to its bound); or ``"not
        converged"`` (gradient not zero, or no positive-definite information).
    note_ : str
        Why, in a sentence, when the verdict is not ``"converged"``.
    """

    alpha_: float
    beta_: float
    log_likelihood_: float
    alive_: np.ndarray
    n_periods_: int
    standard_errors_: dict[str, float]
    covariance_: np.ndarray = field(repr=False, default_factory=lambda: np.full((2, 2), np.nan))
    converged_: bool = True
    verdict_: str = "converged"
    note_: str = ""

    def mean_churn_interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Delta-method interval of :attr:`mean_churn_` (clipped to [0, 1])."""
        a, b = self.alpha_, self.beta_
        grad = np.array([b, -a]) / (a + b) ** 2
        se = float(np.sqrt(max(grad @ self.covariance_ @ grad, 0.0)))
        z = _sps.norm.ppf(0.5 + confidence / 2)
        m = self.mean_churn_
        return float(max(m - z * se, 0.0)), float(min(m + z * se, 1.0))

    @property
    def mean_churn_(self) -> float:
        """α / (α + β): expected churn probability of a new customer (period-1 churn)."""
        return self.alpha_ / (self.alpha_ + self.beta_)

    def survival(self, t):
        """S(t): probability a customer is still active after t periods (t ≥ 0)."""
        t = np.asarray(t, dtype=float)
        return np.exp(_sp.betaln(self.alpha_, self.beta_ + t) - _sp.betaln(self.alpha_, self.beta_))

    def churn_probability(self, t):
        """P(T = t): probability a customer churns in period t (t ≥ 1)."""
        t = np.asarray(t, dtype=float)
        return np.exp(_sp.betaln(self.alpha_ + 1, self.beta_ + t - 1) - _sp.betaln(self.alpha_, self.beta_))

    def retention_rate(self, t):
        """r_t = S(t) / S(t-1): share of those active after t-1 periods still active after t."""
        t = np.asarray(t, dtype=float)
        return (self.beta_ + t - 1) / (self.alpha_ + self.beta_ + t - 1)

    def expected_alive(self, t):
        """Expected customers still active after t periods, of the cohort's initial size."""
        return float(self.alive_[0]) * self.survival(t)

    def expected_remaining_lifetime(self, n: int = 0, discount: float = 0.0) -> float:
        r"""Expected further periods of a customer active after ``n`` periods.

        .. math::

            \sum_{k \ge 1} \frac{S(n+k)}{S(n)} (1+d)^{-k}
            = {}_2F_1\!\left(1, \beta+n; \alpha+\beta+n; \tfrac{1}{1+d}\right) - 1

        Undiscounted (``discount=0``) it is :math:`(\beta+n)/(\alpha-1)` when α > 1 and
        infinite when α ≤ 1 (heavy-tailed lifetimes) — then use a discount rate.
        """
        if discount < 0:
            raise ValueError("discount must be ≥ 0")
        b = self.beta_ + n
        if discount == 0:
            return (b / (self.alpha_ - 1)) if self.alpha_ > 1 else float("inf")
        return float(_sp.hyp2f1(1.0, b, self.alpha_ + b, 1.0 / (1.0 + discount)) - 1.0)

    def discounted_expected_residual_lifetime(self, renewals: int, discount: float) -> float:
        r"""DERL (Fader & Hardie 2010): expected discounted number of further payments of
        a customer who has made ``renewals`` renewals (is active after that many periods),
        the next payment counted undiscounted.

        .. math::

            \text{DERL}(d \mid n) = \frac{\beta + n - 1}{\alpha + \beta + n - 1}\,
            {}_2F_1\!\left(1, \beta + n; \alpha + \beta + n; \tfrac{1}{1+d}\right),
            \qquad n = \text{renewals} + 1,

        which equals ``(1 + d) * expected_remaining_lifetime(renewals, d)``. Multiply by
        the margin per period for the residual lifetime value.
        """
        if discount <= 0:
            raise ValueError("DERL needs a positive discount rate (undiscounted, it may be infinite)")
        a, b, n = self.alpha_, self.beta_, renewals + 1
        return float((b + n - 1) / (a + b + n - 1) * _sp.hyp2f1(1.0, b + n, a + b + n, 1.0 / (1.0 + discount)))

    def projection(self, periods: int, actual: Sequence[float] | None = None) -> pd.DataFrame:
        """Projected survivors for periods 0 … ``periods`` beside the actual counts.

        Parameters
        ----------
        periods : int
            Last period to project.
        actual : sequence of float, optional
            Actual alive counts for periods 0 …, e.g. including holdout periods;
            defaults to the calibration data.

        Returns
        -------
        pandas.DataFrame
            ``period``, ``actual`` (NaN where unknown), ``expected``, ``survival``,
            ``retention_rate`` (NaN at 0), ``actual_retention``, ``calibration``
            (True for the periods the model was fitted on).
        """
        t = np.arange(periods + 1)
        act = np.full(periods + 1, np.nan)
        given = np.asarray(self.alive_ if actual is None else actual, dtype=float)[: periods + 1]
        act[: len(given)] = given
        with np.errstate(divide="ignore", invalid="ignore"):
            act_ret = np.concatenate([[np.nan], act[1:] / act[:-1]])
        return pd.DataFrame({
            "period": t,
            "actual": act,
            "expected": self.expected_alive(t),
            "survival": self.survival(t),
            "retention_rate": np.where(t > 0, self.retention_rate(np.maximum(t, 1)), np.nan),
            "actual_retention": act_ret,
            "calibration": t <= self.n_periods_,
        })


@dataclass(frozen=True)
class _SBGData:
    """One cohort's survivors in the form the sBG likelihood uses: period k = 0 … n-1
    has ``at_risk[k]`` customers entering it, ``lost[k]`` churn at its end and
    ``stayed[k]`` renew."""

    alive: np.ndarray

    @property
    def at_risk(self) -> np.ndarray:
        return self.alive[:-1]

    @property
    def stayed(self) -> np.ndarray:
        return self.alive[1:]

    @property
    def lost(self) -> np.ndarray:
        return self.alive[:-1] - self.alive[1:]

    @property
    def k(self) -> np.ndarray:
        return np.arange(len(self.alive) - 1, dtype=float)

    def geometric(self) -> tuple[float, float, float]:
        """The nested no-heterogeneity model: a constant churn p per period. Returns the
        maximum-likelihood p = lost / exposure, its log-likelihood and its variance."""
        churned, exposure = float(np.sum(self.lost)), float(np.sum(self.at_risk))
        p = churned / exposure
        ll = churned * np.log(p) + ((exposure - churned) * np.log1p(-p) if p < 1 else 0.0)
        return p, float(ll), p * (1 - p) / exposure


def _sbg_terms(a: float, b: float, d: _SBGData) -> tuple[float, np.ndarray, np.ndarray]:
    r"""Log-likelihood, gradient and Hessian of the sBG in (α, β).

    Written with the hazards :math:`\alpha / (\alpha + \beta + k)` of period k + 1, so no
    difference of large log-gamma values is taken, and with plain element-wise sums (no
    BLAS call): the value does not depend on the BLAS kernel numpy uses.
    """
    k, at_risk, stayed, lost = d.k, d.at_risk, d.stayed, d.lost
    s = a + b + k
    ll = np.sum(lost) * np.log(a) - np.sum(at_risk * np.log(s)) + np.sum(stayed * np.log(b + k))
    risk_s, risk_s2 = np.sum(at_risk / s), np.sum(at_risk / s**2)
    grad = np.array([np.sum(lost) / a - risk_s, np.sum(stayed / (b + k)) - risk_s])
    hess = np.array([[risk_s2 - np.sum(lost) / a**2, risk_s2],
                     [risk_s2, risk_s2 - np.sum(stayed / (b + k) ** 2)]])
    return float(ll), grad, hess


def _sbg_log_terms(x: np.ndarray, d: _SBGData) -> tuple[float, np.ndarray, np.ndarray]:
    """:func:`_sbg_terms` in (ln α, ln β), the scale the optimiser works on."""
    ab = np.exp(x)
    ll, grad, hess = _sbg_terms(ab[0], ab[1], d)
    hess_log = hess * np.outer(ab, ab) + np.diag(grad * ab)
    return ll, grad * ab, hess_log


def _solve_pd(info: np.ndarray, g: np.ndarray) -> np.ndarray | None:
    """``info⁻¹ g`` for a 2×2 positive-definite ``info`` by hand (no LAPACK); None if it is not."""
    det = info[0, 0] * info[1, 1] - info[0, 1] * info[1, 0]
    if not (np.isfinite(det) and info[0, 0] > 0 and det > 1e-12 * abs(info[0, 0] * info[1, 1])):
        return None
    return np.array([info[1, 1] * g[0] - info[0, 1] * g[1], info[0, 0] * g[1] - info[1, 0] * g[0]]) / det


def _sbg_polish(x: np.ndarray, d: _SBGData) -> np.ndarray:
    """Newton steps with step halving from an optimiser's stop, while the observed
    information is positive definite and the likelihood improves: where the optimiser
    stopped (a line-search stop, a BLAS kernel's rounding) no longer matters."""
    lo, hi = _LOG_BOUNDS
    ll, g, h = _sbg_log_terms(x, d)
    noise = 8 * np.finfo(float).eps * max(1.0, abs(ll))  # rounding of the log-likelihood
    for _ in range(100):
        step = _solve_pd(-h, g)
        if step is None or not np.all(np.isfinite(step)):
            break
        t = 1.0
        while t > 1e-10:
            trial = np.clip(x + t * step, lo, hi)
            trial_ll, trial_g, trial_h = _sbg_log_terms(trial, d)
            if np.isfinite(trial_ll) and trial_ll >= ll - noise:
                break
            t /= 2
        else:
            break
        x, ll, g, h = trial, trial_ll, trial_g, trial_h
        if np.max(np.abs(t * step)) <= 1e-13:
            break
    return x


def _sbg_verdict(x: np.ndarray, d: _SBGData) -> tuple[str, str]:
    """Judge a fit at (ln α, ln β) from the fit itself — the likelihood against the
    nested geometric model, the distance to the bounds, the gradient and the curvature —
    never from an optimiser's flag. Returns ``(verdict, note)`` with verdict one of
    ``"converged"``, ``"no heterogeneity"``, ``"at bound"``, ``"not converged"``."""
    ll, g, h = _sbg_log_terms(x, d)
    p, ll_geo, _ = d.geometric()
    if ll_geo >= ll - _SBG_LL_TOL:
        return "no heterogeneity", (
            f"no heterogeneity: a constant churn of {p:.2%} per period (the sBG's limit α, β → ∞) "
            f"fits as well (log-likelihood {ll_geo:.3f} against the sBG's {ll:.3f})")
    lo, hi = _LOG_BOUNDS
    for name, value, slope in zip(("α", "β"), x, g, strict=True):
        if value - lo < _SBG_BOUND_MARGIN and slope < 0 or hi - value < _SBG_BOUND_MARGIN and slope > 0:
            side = "lower" if value - lo < _SBG_BOUND_MARGIN else "upper"
            return "at bound", f"{name} ran to its {side} bound ({np.exp(value):.3g}): the maximum is not interior"
    step = _solve_pd(-h, g)
    if not np.all(np.isfinite(g)) or step is None:
        return "not converged", "the observed information is not positive definite: no finite covariance"
    decrement = float(np.sum(g * step)) / 2
    gnorm = float(np.sqrt(np.sum(g * g)))
    if gnorm > _SBG_GRAD_TOL * max(1.0, abs(ll)) or decrement > _SBG_DECREMENT_TOL:
        return "not converged", (
            f"the gradient is not zero at the stop (norm {gnorm:.2g}; one more Newton step would gain "
            f"{decrement:.2g} in log-likelihood)")
    return "converged", ""


@computes("sbg_projected_retention")
def fit_sbg(alive: Sequence[float]) -> SBGFit:
    r"""Fit the shifted-beta-geometric model of Fader & Hardie (2007) by maximum likelihood.

    Parameters
    ----------
    alive : sequence of numbers
        Customers of one cohort still active at periods 0, 1, …, n (the first value is the
        cohort size; non-increasing). Counts, not percentages — the likelihood, and so the
        standard errors, depend on the cohort size.

    Returns
    -------
    SBGFit

    Notes
    -----
    With :math:`n_t` alive at period *t*, the log-likelihood is

    .. math::

        LL(\alpha, \beta) = \sum_{t=1}^{n} (n_{t-1} - n_t) \ln P(T = t) + n_n \ln S(n),

    maximised over :math:`(\ln\alpha, \ln\beta)` with L-BFGS-B (analytic gradient),
    restarted from a grid of starting points, each stop polished by Newton steps; restarts
    whose log-likelihoods agree to rounding are one maximum. Standard errors come from
    the analytic Hessian (observed information).

    The verdict (:attr:`SBGFit.converged_`, :attr:`SBGFit.verdict_`) comes from the fit
    itself, with tolerances, never from an optimiser's success flag (which a line-search
    stop near the optimum flips, depending on the BLAS kernel): first the likelihood
    against the nested geometric model — the sBG tends to it as α, β → ∞ with α/(α+β)
    fixed, so if a constant churn p = lost / exposure reaches the sBG's log-likelihood
    within 0.001, the maximum is on that boundary (no heterogeneity), wherever on the
    flat ridge the optimiser stopped; then the distance to the parameter bounds; then the
    gradient (relative norm at most 1e-6 of the log-likelihood) and the curvature
    (positive-definite observed information, one more Newton step gaining under 1e-6).

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2007). How to project customer retention. Journal of
    Interactive Marketing 21(1), 76-90.

    Examples
    --------
    The paper's "high end" segment, years 1–7 (α = 0.668, β = 3.806 published):

    >>> fit = fit_sbg([1000, 869, 743, 653, 593, 551, 517, 491])
    >>> round(fit.alpha_, 3), round(fit.beta_, 3)
    (0.668, 3.806)
    >>> fit.projection(12).loc[8:, "expected"].round(0).tolist()
    [460.0, 436.0, 414.0, 395.0, 378.0]
    """
    n = np.asarray(alive, dtype=float)
    if n.ndim != 1 or len(n) < 2:
        raise ValueError("alive must list the customers active at periods 0, 1, …, n (at least two values)")
    if not np.all(np.isfinite(n)) or np.any(n < 0):
        raise ValueError("alive must be finite, non-negative counts")
    if np.any(np.diff(n) > 0):
        raise ValueError(
            "alive must not increase: it counts one cohort's survivors (new customers belong "
            "to another cohort)"
        )
    if n[0] <= 0:
        raise ValueError("the cohort is empty (alive[0] == 0)")
    if n[0] == n[-1]:
        raise ValueError("no customer churned, so the churn distribution cannot be estimated")
    d = _SBGData(n)
    lo, hi = _LOG_BOUNDS

    def nll(x):
        ll, grad, _ = _sbg_log_terms(x, d)
        return -ll, -grad

    candidates = []
    for start in ((0.0, 0.0), (-1.0, 1.0), (1.0, 3.0), (-2.0, -1.0), (2.0, 4.0), (4.0, 7.0)):
        res = _opt.minimize(nll, np.array(start), jac=True, method="L-BFGS-B", bounds=[_LOG_BOUNDS, _LOG_BOUNDS],
                            options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 2000})
        x = _sbg_polish(np.clip(res.x, lo, hi), d)
        candidates.append((_sbg_log_terms(x, d)[0], x))
    # Restarts within a rounding tolerance of the best reached one maximum: the first of
    # them (in start order) is taken, so a BLAS kernel's last digits cannot pick another.
    top = max(ll for ll, _ in candidates)
    x = next(x for ll, x in candidates if ll >= top - 1e-9 * max(1.0, abs(top)))
    verdict, note = _sbg_verdict(x, d)
    if verdict == "no heterogeneity":
        # The supremum is the geometric model: report the point of the flat ridge at the
        # bound with α/(α+β) = p, whichever point of it the optimiser stopped at.
        p, _, var_p = d.geometric()
        size = np.exp(hi)
        a, b = (float(np.clip(v, np.exp(lo), np.exp(hi))) for v in (p * size, (1 - p) * size))
        cov = (a + b) ** 2 * var_p * np.array([[1.0, -1.0], [-1.0, 1.0]])
        errors = {"alpha": np.inf, "beta": np.inf}
    else:
        a, b = (float(v) for v in np.exp(x))
        _, _, hess = _sbg_terms(a, b, d)
        info = -hess
        columns = [_solve_pd(info, e) for e in np.eye(2)]
        cov = np.full((2, 2), np.nan) if columns[0] is None else np.column_stack(columns)
        errors = {"alpha": float(np.sqrt(cov[0, 0])), "beta": float(np.sqrt(cov[1, 1]))}
    return SBGFit(
        alpha_=a, beta_=b, log_likelihood_=_sbg_terms(a, b, d)[0], alive_=n,
        n_periods_=len(n) - 1, standard_errors_=errors, covariance_=cov,
        converged_=verdict == "converged", verdict_=verdict, note_=note,
    )


#: Bounds of (ln α, ln β) for the optimiser.
_LOG_BOUNDS = (-10.0, 14.0)
#: Log-likelihood units within which the geometric model "reaches" the sBG: the maximum
#: is then on the no-heterogeneity boundary (a likelihood-ratio statistic of 0.002).
_SBG_LL_TOL = 1e-3
#: A converged fit gains at most this much log-likelihood from one more Newton step …
_SBG_DECREMENT_TOL = 1e-6
#: … and its gradient in (ln α, ln β) is at most this times max(1, |log-likelihood|).
_SBG_GRAD_TOL = 1e-6
#: A parameter within this distance (on the log scale) of a bound, pushing outwards, is at it.
_SBG_BOUND_MARGIN = 0.5


@dataclass(eq=False)
class SBGProjection:
    """sBG fits per segment on tenure survivors, made by :func:`sbg_projection`.

    Attributes
    ----------
    alive : pandas.DataFrame
        The :func:`tenure_survivors` frame the fits were made on.
    fits : dict
        :class:`SBGFit` per segment label (segments that could not be fitted are absent).
    summary : pandas.DataFrame
        Per segment: ``segment``, ``cohort_size``, ``alpha``, ``beta``, ``mean_churn``
        (E[θ], month-1 churn of a new customer) with ``mean_churn_ci_low``/``_high``,
        ``projected_survival`` and ``actual_survival`` at the last tenure,
        ``holdout_mape`` (mean absolute percentage error of the projected survivors over
        the holdout months), ``converged`` (:attr:`SBGFit.converged_`; False typically
        because α and β run to their bound: no heterogeneity in the data, a plain
        geometric fits) and ``note`` (why a segment was skipped, or
        :attr:`SBGFit.note_` of a fit that did not converge).
    calibration : int
        Tenure periods fitted on.
    """

    alive: pd.DataFrame
    fits: dict[str, SBGFit]
    summary: pd.DataFrame
    calibration: int


def sbg_projection(
    subscriptions: Any,
    periods: int = 12,
    calibration: int = 6,
    by: str | Sequence[str] | None = "plan",
    *,
    customers: Any = None,
    as_of: Any = None,
    min_customers: int = 20,
) -> SBGProjection:
    """Fit the sBG per segment on the first ``calibration`` tenure months and hold out
    the rest up to ``periods``.

    The cohort of a segment is every customer whose first spell started at least
    ``periods`` tenure months before ``as_of`` (see :func:`tenure_survivors`). Segments
    with fewer than ``min_customers`` customers, or without a churn in the calibration
    months, are listed with a note instead of a fit.

    Examples
    --------
    >>> subs = pd.DataFrame({"customer_id": list("abcdef"), "start_at": ["2025-01-01"] * 6,
    ...     "end_at": ["2025-02-15", "2025-03-20", "2025-05-02", None, None, "2025-09-10"],
    ...     "mrr": [1.0] * 6})
    >>> proj = sbg_projection(subs, periods=8, calibration=5, by=None, as_of="2025-12-01",
    ...                       min_customers=5)
    >>> proj.summary[["segment", "cohort_size", "actual_survival"]]
      segment  cohort_size  actual_survival
    0     all            6              0.5
    """
    if not 1 <= calibration <= periods:
        raise ValueError(f"calibration must be between 1 and periods ({periods}), got {calibration}")
    by_cols = column_list(by)
    alive = tenure_survivors(subscriptions, periods, by_cols, customers=customers, as_of=as_of)
    fits: dict[str, SBGFit] = {}
    rows = []
    groups = alive.groupby(by_cols, sort=True) if by_cols else [("all", alive)]
    for key, part in groups:
        label = " · ".join(map(str, key)) if isinstance(key, tuple) else str(key)
        counts = part.sort_values("tenure")["alive"].to_numpy(dtype=float)
        row: dict[str, Any] = {
            "segment": label, "cohort_size": int(counts[0]) if len(counts) else 0,
            "actual_survival": counts[-1] / counts[0] if len(counts) and counts[0] else np.nan,
        }
        if row["cohort_size"] < min_customers:
            rows.append({**row, "note": f"fewer than {min_customers} customers observed {periods} months"})
            continue
        if counts[calibration] == counts[0]:
            rows.append({**row, "note": "no churn in the calibration months"})
            continue
        fit = fit_sbg(counts[: calibration + 1])
        fits[label] = fit
        proj = fit.projection(periods, counts)
        hold = proj[~proj["calibration"]]
        low, high = fit.mean_churn_interval()
        rows.append({
            **row, "alpha": fit.alpha_, "beta": fit.beta_, "mean_churn": fit.mean_churn_,
            "mean_churn_ci_low": low, "mean_churn_ci_high": high,
            "projected_survival": float(fit.survival(periods)),
            "holdout_mape": float((hold["expected"] / hold["actual"] - 1).abs().mean()) if len(hold) else np.nan,
            "converged": fit.converged_, "note": fit.note_,
        })
    columns = ["segment", "cohort_size", "alpha", "beta", "mean_churn", "mean_churn_ci_low",
               "mean_churn_ci_high", "projected_survival", "actual_survival", "holdout_mape",
               "converged", "note"]
    summary = pd.DataFrame(rows).reindex(columns=columns)
    return SBGProjection(alive=alive, fits=fits, summary=summary, calibration=calibration)


# ---------------------------------------------------------------------------------------
# Headline metrics for the report
# ---------------------------------------------------------------------------------------


@computes("month_one_retention")
def headline_metrics(
    subscriptions: Any | None,
    activity: Any | None,
    month: str,
    *,
    mode: Mode = "on",
    events: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The churn notebook's headline KPIs for ``month`` and the month before.

    Parameters
    ----------
    subscriptions : DataFrame or ibis.Table or None
        For customer churn, gross MRR churn (revenue churn), GRR and NRR.
    activity : DataFrame or ibis.Table or None
        ``events`` or ``orders``, for month-1 retention (the cohort of the month before,
        active in ``month``).
    month : str
        ``"YYYY-MM"``; the data are taken as complete to the end of that month.
    mode, events :
        As in :func:`cohort_retention`.

    Returns
    -------
    pandas.DataFrame
        Columns ``metric``, ``month``, ``value``, ``numerator``, ``denominator``,
        ``ci_low``, ``ci_high`` — the input of :func:`kpilib.report.record_headline`.
        Metrics: ``customer_churn_rate``, ``gross_mrr_churn_rate``,
        ``net_revenue_retention``, ``gross_revenue_retention``, ``month_one_retention``.
        Revenue ratios carry their delta-method interval but no numerator/denominator
        (they are sums of money, not counts of trials), so no count-based test is made
        on their month-over-month change. A missing table skips its metrics.
    """
    month = validate_month(month)
    prev = previous_month(month)
    _, as_of = month_bounds(month)
    rows: list[dict[str, Any]] = []

    def add(metric, label, value, num, den, low, high):
        rows.append({"metric": metric, "month": label, "value": value, "numerator": num,
                     "denominator": den, "ci_low": low, "ci_high": high})

    if subscriptions is not None:
        churn = churn_rate(subscriptions, "M", as_of=as_of).set_index("period")
        rev = revenue_retention(subscriptions, "M", as_of=as_of).set_index("period")
        for label in (month, prev):
            if label in churn.index:
                r = churn.loc[label]
                add("customer_churn_rate", label, r.churn_rate, r.churned, r.active_at_start, r.ci_low, r.ci_high)
        for label in (month, prev):
            if label in rev.index:
                r = rev.loc[label]
                add("gross_mrr_churn_rate", label, r.gross_mrr_churn, np.nan, np.nan,
                    r.gross_mrr_churn_ci_low, r.gross_mrr_churn_ci_high)
                add("net_revenue_retention", label, r.nrr, np.nan, np.nan, r.nrr_ci_low, r.nrr_ci_high)
                add("gross_revenue_retention", label, r.grr, np.nan, np.nan, r.grr_ci_low, r.grr_ci_high)
    if activity is not None:
        ret = cohort_retention(activity, "M", mode, events=events, as_of=as_of)
        ret = ret[ret["offset"] == 1].set_index("cohort")
        for label in (month, prev):
            cohort = previous_month(label)
            if cohort in ret.index and bool(ret.loc[cohort, "complete"]):
                r = ret.loc[cohort]
                add("month_one_retention", label, r.rate, int(r.retained), int(r.cohort_size), r.ci_low, r.ci_high)
    out = pd.DataFrame(rows, columns=["metric", "month", "value", "numerator", "denominator", "ci_low", "ci_high"])
    order = {m: i for i, m in enumerate(["customer_churn_rate", "gross_mrr_churn_rate", "net_revenue_retention",
                                         "gross_revenue_retention", "month_one_retention"])}
    out = out.sort_values(["metric", "month"], key=lambda s: s.map(order) if s.name == "metric" else s,
                          ascending=[True, False])
    return out.reset_index(drop=True)
