"""Churn's metric records (written once; the glossary, the docs and the report read them).

Each record is tied to the function that computes it with :func:`kpilib.metrics.computes`,
which also writes the record's formula into that function's docstring. This module is
imported first by :mod:`kpilib.churn`, so the records exist before the functions are
decorated.
"""

from __future__ import annotations

from kpilib.metrics import Metric, register

__all__: list[str] = []

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
        r"\text{ whose last subscription ends during } p\}}{\#\{\text{customers active at the start of } p\}}"
        r" = \frac{\#\{\text{spells } [s, e) : s < p_0 \le e < p_1\}}{\#\{\text{spells } [s, e) : s < p_0 \le e\}},"
        r" \quad p = [p_0, p_1),\ e = \infty \text{ while active}",
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
        formula=r"\text{retention}_{c,k} = \frac{\#\{i \in c : c + k \in A_i\}}{|c|} \text{ (“on”)}, \qquad "
        r"\frac{\#\{i \in c : \max A_i \ge c + k\}}{|c|} \text{ (“on or after”)}, \qquad "
        r"A_i = \text{the periods in which customer } i \text{ was active}",
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
