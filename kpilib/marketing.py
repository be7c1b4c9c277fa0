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
expression run in the engine; only per-period, per-channel results — and, for
attribution, the touchpoints of each conversion's lookback window — come back to pandas.

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
  compare fairly; in a steady state both give the same ROAS).
* **Attribution paths.** A conversion's journey is the customer's touchpoints in the
  ``lookback`` window before it (a touch at the conversion instant counts) and after the
  customer's previous conversion, so a touch is credited once. Conversions without any
  touch in the window are credited to ``"(no touch)"``, so the credits of every model add
  up to the number of conversions and to their revenue. A customer's touches after their
  last conversion (within ``lookback`` of the last of them) form a non-converting path,
  which only the Markov model uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd

from kpilib import funnel
from kpilib.data import DataError, as_table, exact_sum, memtable, require_columns
from kpilib.metrics import Metric, computes, register
from kpilib.periods import (
    default_cutoff,
    duration_seconds,
    month_bounds,
    previous_month,
    time_filter,
    to_utc,
)
from kpilib.stats import rate_frame

__all__ = [
    "ATTRIBUTION_MODELS",
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

#: The attribution rules :func:`attribute` knows, in the order it reports them.
ATTRIBUTION_MODELS = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "markov",
)

#: Channel label of conversions with no touchpoint in their lookback window.
NO_TOUCH = "(no touch)"

#: Days per month, as in the sample generator and the churn module.
MONTH_DAYS = 30.4375

_DAY_SECONDS = 86_400.0
_MONTH_SECONDS = MONTH_DAYS * _DAY_SECONDS
_ALL = "all"

WindowLike = str | pd.Timedelta | int
TimeLike = str | pd.Timestamp | None

# ---------------------------------------------------------------------------------------
# The metric records
# ---------------------------------------------------------------------------------------

_EXAMPLE_ECONOMICS = (
    '>>> import pandas as pd\n'
    '>>> from kpilib.marketing import acquisition_costs\n'
    '>>> spend = pd.DataFrame({"date": ["2026-10-01", "2026-10-02", "2026-10-01"],\n'
    '...     "channel": ["social", "social", "email"], "cost": [300.0, 100.0, 50.0]})\n'
    '>>> customers = pd.DataFrame({"customer_id": ["a", "b"],\n'
    '...     "signup_at": ["2026-10-01", "2026-10-03"], "channel": ["social", "social"]})\n'
    '>>> orders = pd.DataFrame({"customer_id": ["a", "b", "a"],\n'
    '...     "ts": ["2026-10-02", "2026-10-04", "2026-10-20"], "amount": [200.0, 100.0, 300.0]})\n'
    '>>> costs = acquisition_costs(spend, customers, orders, as_of="2026-10-31")\n'
)

register(
    Metric(
        name="cac",
        title="Customer acquisition cost (CAC)",
        stage="economics",
        formula=r"\mathrm{CAC}_{c,p} = \frac{\text{spend}_{c,p}}{\text{new customers}_{c,p}}",
        definition=(
            "Marketing spend of a channel in a period divided by the customers it acquired "
            "in that period (sign-ups whose acquisition channel it is). Blended CAC divides "
            "all spend by all new customers, free channels included."
        ),
        pitfalls=(
            "Undefined — not infinite, not zero — when a channel spent and acquired nobody. "
            "Spend and the customers it brings do not fall in the same month when the "
            "journey is long; blended CAC hides expensive paid channels behind free organic "
            "ones; whether a customer is a sign-up or a payer changes the number several-fold."
        ),
        unit="currency",
        higher_is_better=False,
        example=_EXAMPLE_ECONOMICS
        + '>>> costs[["channel", "spend", "new_customers", "cac"]]\n'
        '  channel  spend  new_customers    cac\n'
        '0     all  450.0              2  225.0\n'
        '1   email   50.0              0    NaN\n'
        '2  social  400.0              2  200.0\n'
        '>>> costs.note[1]\n'
        "'CAC undefined: spend but no new customers; CPA undefined: no conversions'",
        reference="Kutz, Marketing analytics KPIs; Skok, 'SaaS metrics 2.0' (forEntrepreneurs, 2013).",
    )
)

register(
    Metric(
        name="cost_per_acquisition",
        title="Cost per acquisition (CPA)",
        stage="economics",
        formula=r"\mathrm{CPA}_{c,p} = \frac{\text{spend}_{c,p}}{\text{conversions}_{c,p}}",
        definition=(
            "Spend divided by the conversions of a chosen event (a purchase by default; a "
            "lead, a trial …) in the period, credited to the converting customer's "
            "acquisition channel."
        ),
        pitfalls=(
            "Only as meaningful as the conversion event: a cheap CPA on sign-ups can hide an "
            "expensive CPA on purchases. Undefined without conversions."
        ),
        unit="currency",
        higher_is_better=False,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.marketing import acquisition_costs\n'
        '>>> spend = pd.DataFrame({"date": ["2026-10-01"], "channel": ["social"], "cost": [300.0]})\n'
        '>>> customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "signup_at": ["2026-10-01"] * 3,\n'
        '...     "channel": ["social"] * 3})\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2026-10-02", "2026-10-05"],\n'
        '...     "event": ["purchase", "purchase"]})\n'
        '>>> c = acquisition_costs(spend, customers, events=events, by=None)\n'
        '>>> c[["spend", "conversions", "cpa"]]\n'
        '   spend  conversions    cpa\n'
        '0  300.0            2  150.0',
    )
)

register(
    Metric(
        name="roas",
        title="Return on ad spend (ROAS)",
        stage="economics",
        formula=r"\mathrm{ROAS}_{c,p} = \frac{\text{revenue}_{c,p}}{\text{spend}_{c,p}}",
        definition=(
            "Revenue credited to a channel per unit of its spend: by default what the "
            "period's new customers of the channel spent in their first months (cohort "
            "basis), or the revenue an attribution model credits to it."
        ),
        pitfalls=(
            "Revenue, not profit: a ROAS of 1 loses money once costs of goods are counted. "
            "Cohort ROAS of recent periods is incomplete (revenue still to come); the "
            "credited revenue depends on the attribution rule. Undefined without spend."
        ),
        unit="ratio",
        higher_is_better=True,
        example=_EXAMPLE_ECONOMICS
        + '>>> costs[["channel", "revenue", "roas"]]\n'
        '  channel  revenue      roas\n'
        '0     all    600.0  1.333333\n'
        '1   email      0.0  0.000000\n'
        '2  social    600.0  1.500000',
    )
)

register(
    Metric(
        name="marketing_roi",
        title="Marketing ROI",
        stage="economics",
        formula=r"\mathrm{ROI}_{c,p} = \frac{\text{attributed revenue}_{c,p} - \text{spend}_{c,p}}{\text{spend}_{c,p}}",
        definition=(
            "What a unit of spend returned beyond itself: attributed revenue minus spend, "
            "over spend. 0 is break-even on revenue; ROAS − 1."
        ),
        pitfalls=(
            "Measured on revenue, as marketers usually quote it — on gross margin the bar "
            "is higher. Inherits every choice behind 'attributed revenue' (the model, the "
            "lookback, the revenue horizon). Undefined without spend."
        ),
        unit="ratio",
        higher_is_better=True,
        example=_EXAMPLE_ECONOMICS
        + '>>> costs[["channel", "spend", "revenue", "roi"]]\n'
        '  channel  spend  revenue       roi\n'
        '0     all  450.0    600.0  0.333333\n'
        '1   email   50.0      0.0 -1.000000\n'
        '2  social  400.0    600.0  0.500000',
    )
)

register(
    Metric(
        name="payback_months",
        title="CAC payback period",
        stage="economics",
        formula=r"\text{payback} = \frac{\mathrm{CAC}}{m \cdot \overline{\text{revenue per customer-month}}}",
        definition=(
            "Months of gross margin (margin m of the revenue per customer per month "
            "observed in the customers' first months) it takes to earn back the CAC."
        ),
        pitfalls=(
            "Assumes revenue per month stays at its observed average: first orders make "
            "the first months look rich, churn makes later months poorer. The margin is an "
            "assumption (a parameter). Undefined where CAC is undefined or nothing was earned."
        ),
        unit="months",
        higher_is_better=False,
        example=_EXAMPLE_ECONOMICS.replace('as_of="2026-10-31")', 'as_of="2026-10-31", gross_margin=0.5)')
        + '>>> costs[["channel", "customer_months", "revenue_per_customer_month", "payback_months"]].round(2)\n'
        '  channel  customer_months  revenue_per_customer_month  payback_months\n'
        '0     all             1.91                      314.87            1.43\n'
        '1   email             0.00                         NaN             NaN\n'
        '2  social             1.91                      314.87            1.27',
        reference="Skok, 'SaaS metrics 2.0' (forEntrepreneurs, 2013): months to recover CAC.",
    )
)

register(
    Metric(
        name="clv_to_cac",
        title="CLV:CAC ratio",
        stage="economics",
        formula=r"\frac{\overline{\mathrm{CLV}}_{c,p}}{\mathrm{CAC}_{c,p}}, \quad "
        r"\overline{\mathrm{CLV}}_{c,p} = \frac{\sum_{i \in \text{new customers}_{c,p}} \mathrm{CLV}_i}{\text{new customers}_{c,p}}",
        definition=(
            "Predicted customer lifetime value per new customer of a channel and period, "
            "divided by its CAC. New customers without a prediction (no order yet) count "
            "as 0. The often-quoted healthy level is about 3."
        ),
        pitfalls=(
            "The 3:1 rule of thumb assumes a margin-based CLV; kpilib.clv predicts revenue, "
            "so scale by the margin before comparing. Predicted CLV is a model output with "
            "its own error; recent cohorts have few orders yet. Undefined where CAC is "
            "undefined or zero."
        ),
        unit="ratio",
        higher_is_better=True,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.marketing import acquisition_costs\n'
        '>>> spend = pd.DataFrame({"date": ["2026-10-01"], "channel": ["email"], "cost": [50.0]})\n'
        '>>> customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": ["2026-10-01"] * 2,\n'
        '...     "channel": ["email"] * 2})\n'
        '>>> clv = pd.DataFrame({"customer_id": ["a"], "clv": [120.0]})\n'
        '>>> acquisition_costs(spend, customers, clv=clv, by=None)[["cac", "clv_per_customer", "clv_to_cac"]]\n'
        '    cac  clv_per_customer  clv_to_cac\n'
        '0  25.0              60.0         2.4',
    )
)

register(
    Metric(
        name="marketing_influenced_revenue",
        title="Marketing-influenced revenue share",
        stage="economics",
        formula=r"\frac{\sum_{o : \exists\, \text{touch } t,\ t_o - w \le t \le t_o} \text{amount}_o}{\sum_o \text{amount}_o}",
        definition=(
            "Share of revenue from orders whose customer had at least one marketing touch "
            "(an email click, a paid-search or social visit …) in the window before the "
            "order. The share of orders influenced comes with a Wilson interval."
        ),
        pitfalls=(
            "Influence is not causation: loyal customers open emails and would have bought "
            "anyway. The share grows with the window and with the list of channels counted "
            "as marketing; a longer window is not a better one."
        ),
        unit="rate",
        higher_is_better=None,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.marketing import marketing_influenced_revenue\n'
        '>>> orders = pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2026-10-10", "2026-10-12"],\n'
        '...     "amount": [300.0, 100.0]})\n'
        '>>> events = pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-01"], "event": ["visit"],\n'
        '...     "channel": ["social"]})\n'
        '>>> m = marketing_influenced_revenue(orders, events, window="30D")\n'
        '>>> m[["period", "revenue", "influenced_revenue", "influenced_revenue_share"]]\n'
        '    period  revenue  influenced_revenue  influenced_revenue_share\n'
        '0  2026-10    400.0               300.0                      0.75\n'
        '>>> m[["numerator", "denominator", "rate"]]  # orders influenced\n'
        '   numerator  denominator  rate\n'
        '0          1            2   0.5',
    )
)

register(
    Metric(
        name="traffic_to_lead_ratio",
        title="Traffic-to-lead ratio",
        stage="acquisition",
        formula=r"\frac{\#\{\text{new visitors of channel } c \text{ in } p \text{ who become a lead within } w\}}"
        r"{\#\{\text{new visitors of channel } c \text{ in } p\}}",
        definition=(
            "Of the people whose first visit fell in the period (channel of that visit), the "
            "share who became a lead within the window; total visits are shown beside it."
        ),
        pitfalls=(
            "Visitors of the last days of the data have not had their full window "
            "(visitors_window_open). Counting visits instead of people makes heavy browsers "
            "look like traffic; channels differ in intent, so the ratio ranks traffic "
            "quality, not channel effect."
        ),
        unit="rate",
        higher_is_better=True,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.marketing import traffic_to_lead\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "a", "b", "c"],\n'
        '...     "ts": ["2026-10-01", "2026-10-03", "2026-10-02", "2026-10-04"],\n'
        '...     "event": ["visit", "lead", "visit", "visit"], "channel": ["social", None, "social", "email"]})\n'
        '>>> traffic_to_lead(events, window="14D")[["period", "channel", "visits", "numerator", "denominator", "rate"]]\n'
        '    period channel  visits  numerator  denominator      rate\n'
        '0  2026-10     all       3          1            3  0.333333\n'
        '1  2026-10   email       1          0            1  0.000000\n'
        '2  2026-10  social       2          1            2  0.500000',
    )
)

_EXAMPLE_JOURNEY = (
    '>>> import pandas as pd\n'
    '>>> from kpilib.marketing import attribute\n'
    '>>> touches = pd.DataFrame({"customer_id": ["a", "a", "a"],\n'
    '...     "ts": ["2026-10-01", "2026-10-08", "2026-10-14"], "channel": ["social", "email", "paid_search"]})\n'
    '>>> orders = pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-15"], "amount": [100.0]})\n'
)


def _attribution_metric(name: str, title: str, formula: str, definition: str, pitfalls: str,
                        output: str, reference: str = "") -> None:
    register(
        Metric(
            name=f"attribution_{name}",
            title=title,
            stage="economics",
            formula=formula,
            definition=definition,
            pitfalls=pitfalls,
            unit="count",
            higher_is_better=None,
            example=_EXAMPLE_JOURNEY
            + f'>>> attribute(touches, orders, model="{name}")[["model", "channel", "conversions", "revenue"]]\n'
            + output,
            reference=reference,
        )
    )


_attribution_metric(
    "first_touch",
    "First-touch attribution",
    r"\text{credit}_c = \sum_{j} [c_{j,1} = c]",
    "Each conversion is credited entirely to the first touchpoint of its journey (within the lookback).",
    "Ignores everything that happened after discovery; favours awareness channels (social, display).",
    '         model      channel  conversions  revenue\n'
    '0  first_touch        email          0.0      0.0\n'
    '1  first_touch  paid_search          0.0      0.0\n'
    '2  first_touch       social          1.0    100.0',
)
_attribution_metric(
    "last_touch",
    "Last-touch attribution",
    r"\text{credit}_c = \sum_{j} [c_{j,n_j} = c]",
    (
        "Each conversion is credited entirely to the last touchpoint before it. The "
        "last-non-direct variant (model 'last_non_direct') skips direct touches when "
        "another touch exists."
    ),
    (
        "Over-credits closing channels (branded search, retargeting, email) that catch "
        "people already decided, and starves the channels that created the demand."
    ),
    '        model      channel  conversions  revenue\n'
    '0  last_touch        email          0.0      0.0\n'
    '1  last_touch  paid_search          1.0    100.0\n'
    '2  last_touch       social          0.0      0.0',
)
_attribution_metric(
    "linear",
    "Linear attribution",
    r"\text{credit}_c = \sum_{j} \frac{\#\{k : c_{j,k} = c\}}{n_j}",
    "Each of the n touchpoints of a journey gets 1/n of the conversion.",
    "Treats a passing impression like the decisive demo; long journeys spread credit thin.",
    '    model      channel  conversions     revenue\n'
    '0  linear        email     0.333333   33.333333\n'
    '1  linear  paid_search     0.333333   33.333333\n'
    '2  linear       social     0.333333   33.333333',
)
_attribution_metric(
    "time_decay",
    "Time-decay attribution",
    r"w_{j,k} = \frac{0.5^{\Delta t_{j,k}/h}}{\sum_{l} 0.5^{\Delta t_{j,l}/h}}, \quad "
    r"\Delta t_{j,k} = t_j - t_{j,k}",
    "Touchpoints closer to the conversion get more credit; the weight halves every half-life h (default 7 days).",
    "The half-life is a judgement, not a fit; short half-lives behave like last touch.",
    '        model      channel  conversions    revenue\n'
    '0  time_decay        email     0.301983  30.198276\n'
    '1  time_decay  paid_search     0.547026  54.702586\n'
    '2  time_decay       social     0.150991  15.099138',
    reference="Google Analytics 360 attribution models (time decay, 7-day half-life).",
)
_attribution_metric(
    "position_based",
    "Position-based (U-shaped) attribution",
    r"w = \begin{cases} 1 & n = 1 \\ \tfrac12, \tfrac12 & n = 2 \\ "
    r"0.4,\ \tfrac{0.2}{n-2}, \dots,\ 0.4 & n \ge 3 \end{cases}",
    "40 % to the first touch, 40 % to the last, the remaining 20 % shared by the touches in between.",
    "The 40/20/40 split is a convention; it rewards the two ends whatever happened in the middle.",
    '            model      channel  conversions  revenue\n'
    '0  position_based        email          0.2     20.0\n'
    '1  position_based  paid_search          0.4     40.0\n'
    '2  position_based       social          0.4     40.0',
)
_attribution_metric(
    "markov",
    "Markov-chain attribution (removal effect)",
    r"\text{credit}_c = C \cdot \frac{\mathrm{RE}_c}{\sum_{d} \mathrm{RE}_d}, \quad "
    r"\mathrm{RE}_c = 1 - \frac{P(\text{conversion} \mid c \text{ removed})}{P(\text{conversion})}",
    (
        "A first-order Markov chain over start → channels → conversion / no conversion is "
        "estimated from all journeys, converting and not. A channel's removal effect is the "
        "share of conversions lost when its state leads nowhere; the conversions (and revenue) "
        "are shared out in proportion. Computed exactly from the absorbing chain, not simulated."
    ),
    (
        "Needs the non-converting journeys, else every channel looks indispensable. A first-"
        "order chain forgets how a visitor got to a channel; removal effects reflect "
        "correlation in the paths, not a controlled experiment."
    ),
    '    model      channel  conversions  revenue\n'
    '0  markov        email     0.333333  33.333333\n'
    '1  markov  paid_search     0.333333  33.333333\n'
    '2  markov       social     0.333333  33.333333',
    reference="Anderl, Becker, von Wangenheim & Schumann (2016), Int. J. Research in Marketing 33(3).",
)


# ---------------------------------------------------------------------------------------
# Argument checks and small helpers
# ---------------------------------------------------------------------------------------


def _check_period(period: str | None) -> str | None:
    if period is None:
        return None
    key = str(period).upper()
    if key not in ("M", "Q", "Y"):
        raise ValueError(f"period must be 'M' (month), 'Q' (quarter), 'Y' (year) or None (all), got {period!r}")
    return key


def _period_label(column: ibis.Value, period: str | None) -> ibis.Value:
    """The period of a date or timestamp, labelled as pandas labels a Period."""
    if period is None:
        return ibis.literal(_ALL)
    if period == "M":
        return column.strftime("%Y-%m")
    if period == "Q":  # strftime, not EXTRACT: engines disagree on EXTRACT from zoned timestamps
        quarter = (column.strftime("%m").cast("int64") + 2) // 3
        return column.strftime("%Y") + "Q" + quarter.cast("string")
    return column.strftime("%Y")


def _period_grid(first: pd.Timestamp, last: pd.Timestamp, period: str | None) -> list[str]:
    if period is None:
        return [_ALL]
    freq = {"M": "M", "Q": "Q", "Y": "Y"}[period]
    naive = [t.tz_convert("UTC").tz_localize(None) if t.tzinfo else t for t in (first, last)]
    return [str(p) for p in pd.period_range(pd.Period(naive[0], freq), pd.Period(naive[1], freq), freq=freq)]


def _breakdown(by: str | None, tables: Mapping[str, ibis.Table]) -> list[str]:
    if by is None:
        return []
    if not isinstance(by, str):
        raise ValueError(f"by must be one column name (e.g. 'channel') or None, got {by!r}")
    for name, table in tables.items():
        require_columns(table, [by], name, "the breakdown")
    return [by]


def _scalar(expr: ibis.Value) -> Any:
    value = expr.execute()
    return None if value is None or pd.isna(value) else value


def _note(*parts: tuple[pd.Series, str]) -> pd.Series:
    """Join the messages whose condition holds, row by row ("" when none does)."""
    index = parts[0][0].index
    out = pd.Series([""] * len(index), index=index, dtype=object)
    for condition, message in parts:
        hit = condition.fillna(False).astype(bool)
        out[hit] = [f"{n}; {message}" if n else message for n in out[hit]]
    return out


# ---------------------------------------------------------------------------------------
# Acquisition economics
# ---------------------------------------------------------------------------------------


def _clv_table(clv: pd.DataFrame | ibis.Table, column: str) -> ibis.Table:
    table = clv if isinstance(clv, ibis.Table) else memtable(pd.DataFrame(clv))
    for needed in ("customer_id", column):
        if needed not in table.columns:
            raise DataError(
                f"the CLV frame needs columns 'customer_id' and '{column}' (it has: {', '.join(table.columns)})",
                column=needed,
                fix="Pass kpilib.clv.customer_value(...) output, or set clv_column to its value column",
            )
    return table.select(v_customer_id=table.customer_id.cast("string"), v_clv=table[column].cast("float64"))


def _sum_by(table: ibis.Table, keys: list[str], **aggs: Any) -> pd.DataFrame:
    return table.group_by(keys).agg(**aggs).execute()


def _cohort_revenue(cohort: ibis.Table, orders: ibis.Table, keys: list[str], horizon: float,
                    as_of: pd.Timestamp) -> pd.DataFrame:
    """Revenue of each cohort's customers in their first ``horizon`` seconds, and their exposure."""
    o = orders.select(o_customer_id=orders.customer_id, o_ts=orders.ts, o_amount=orders.amount)
    joined = cohort.join(o, [cohort.customer_id == o.o_customer_id, o.o_ts >= cohort.signup_at,
                             o.o_ts < cohort.signup_at + ibis.interval(seconds=int(horizon)), o.o_ts < as_of])
    revenue = _sum_by(joined, keys, revenue=exact_sum(joined.o_amount))
    observed = (ibis.least(ibis.literal(as_of), cohort.signup_at + ibis.interval(seconds=int(horizon)))
                .epoch_seconds() - cohort.signup_at.epoch_seconds()).cast("float64")
    exposed = cohort.mutate(months=ibis.greatest(observed, 0.0) / _MONTH_SECONDS)
    exposure = _sum_by(exposed, keys, customer_months=exposed.months.sum(),
                       last_signup=exposed.signup_at.max())
    exposure["revenue_complete"] = (
        pd.to_datetime(exposure.pop("last_signup"), utc=True) + pd.Timedelta(seconds=horizon) <= as_of
    )
    return revenue.merge(exposure, on=keys, how="outer")


def _period_revenue(customers: ibis.Table, orders: ibis.Table, keys: list[str], by: list[str], period: str | None,
                    start: pd.Timestamp, end: pd.Timestamp, horizon: float, as_of: pd.Timestamp) -> pd.DataFrame:
    """Revenue placed in each period by customers acquired less than ``horizon`` before, and their exposure."""
    span = ibis.interval(seconds=int(horizon))
    eligible = customers.filter(customers.signup_at < end, customers.signup_at + span > start)
    eligible = eligible.select("customer_id", "signup_at", *by)
    o = time_filter(orders, "ts", start, end)
    o = o.select(o_customer_id=o.customer_id, o_ts=o.ts, o_amount=o.amount)
    joined = eligible.join(o, [eligible.customer_id == o.o_customer_id, o.o_ts >= eligible.signup_at,
                               o.o_ts < eligible.signup_at + span, o.o_ts < as_of])
    joined = joined.mutate(period=_period_label(joined.o_ts, period))
    revenue = _sum_by(joined, keys, revenue=exact_sum(joined.o_amount))

    labels = _period_grid(start, end - pd.Timedelta(microseconds=1), period)
    if period is None:
        bounds = pd.DataFrame({"period": labels, "p_start": [start], "p_end": [end]})
    else:
        periods = [pd.Period(label, period) for label in labels]
        bounds = pd.DataFrame({
            "period": labels,
            "p_start": [max(p.start_time.tz_localize("UTC"), start) for p in periods],
            "p_end": [min((p + 1).start_time.tz_localize("UTC"), end) for p in periods],
        })
    grid = memtable(bounds)
    cross = eligible.cross_join(grid)
    stop = ibis.least(cross.p_end, cross.signup_at + span, ibis.literal(as_of))
    begin = ibis.greatest(cross.p_start, cross.signup_at)
    cross = cross.mutate(months=(stop.epoch_seconds() - begin.epoch_seconds()).cast("float64") / _MONTH_SECONDS)
    cross = cross.filter(cross.months > 0)
    exposure = _sum_by(cross, keys, customer_months=cross.months.sum())
    exposure["revenue_complete"] = exposure["period"].map(
        dict(zip(bounds.period, bounds.p_end <= as_of, strict=True))
    )
    return revenue.merge(exposure, on=keys, how="outer")


def _mql_costs(events: ibis.Table, spend: ibis.Table, customers: ibis.Table, by: list[str],
               period: str | None, start: pd.Timestamp | None, end: pd.Timestamp | None,
               mql_options: Mapping[str, Any]) -> pd.DataFrame:
    """MQLs per period (and channel) from :func:`kpilib.funnel.cost_per_mql`.

    With a breakdown it is called once per channel (the events of the channel's customers,
    the channel's spend); the blended rows then add the channels up.
    """
    groups: list[tuple[Any, ibis.Table, ibis.Table]] = [] if by else [(_ALL, events, spend)]
    if by:
        col = by[0]
        values = customers.select(col).distinct().execute()[col].dropna().tolist()
        for value in values:
            members = customers.filter(customers[col] == value).select("customer_id")
            groups.append((value, events.semi_join(members, "customer_id"), spend.filter(spend[col] == value)))
    frames = []
    for value, group_events, group_spend in groups:
        monthly = funnel.cost_per_mql(group_events, group_spend, customers, start=start, end=end, **mql_options)
        if period is None:
            monthly["period"] = _ALL
        else:
            monthly["period"] = [str(pd.Period(m, "M").asfreq(period)) for m in monthly["month"]]
        frame = monthly.groupby("period", as_index=False).agg(mqls=("mql_count", "sum"))
        frame[by[0] if by else "channel"] = value
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _with_owner(table: ibis.Table, customers: ibis.Table, by: list[str]) -> ibis.Table:
    """``table`` (with ``customer_id``) joined to its customer's breakdown columns; unknown people drop out."""
    owners = customers.select(c_customer_id=customers.customer_id, **{f"c_{c}": customers[c] for c in by})
    joined = table.join(owners, table.customer_id == owners.c_customer_id)
    return joined.select(*table.columns, **{c: joined[f"c_{c}"] for c in by})


@computes("cac", "cost_per_acquisition", "roas", "marketing_roi", "payback_months", "clv_to_cac")
def acquisition_costs(
    spend: ibis.Table | pd.DataFrame,
    customers: ibis.Table | pd.DataFrame,
    orders: ibis.Table | pd.DataFrame | None = None,
    period: str | None = "M",
    by: str | None = "channel",
    *,
    events: ibis.Table | pd.DataFrame | None = None,
    conversion_event: str = "purchase",
    clv: pd.DataFrame | ibis.Table | None = None,
    clv_column: str = "clv",
    gross_margin: float = 0.7,
    revenue_months: float = 12,
    revenue_basis: Literal["cohort", "period"] = "cohort",
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    mql_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    r"""Acquisition economics per period and channel: CAC, CPA, cost per MQL, ROAS, ROI, payback, CLV:CAC.

    Parameters
    ----------
    spend : ibis.Table or pandas.DataFrame
        The spend table (``date``, ``channel``, ``cost``).
    customers : ibis.Table or pandas.DataFrame
        The customers table (``customer_id``, ``signup_at``, ``channel``): the new customers.
    orders : ibis.Table or pandas.DataFrame, optional
        The orders table, for revenue, ROAS, ROI and payback (NaN without it).
    period : {"M", "Q", "Y"} or None, default "M"
        Period of spend and sign-ups; ``None`` for one row per channel over the whole span.
    by : str or None, default "channel"
        Column of both ``spend`` and ``customers`` to break down by; ``None`` gives the
        blended rows only. Blended rows have ``"all"`` in the breakdown column.
    events : ibis.Table or pandas.DataFrame, optional
        The events table: conversions for CPA are its ``conversion_event`` events, and
        MQLs for the cost per MQL come from :func:`kpilib.funnel.cost_per_mql`. Without
        it, a conversion is a customer's first order and the MQL columns are absent.
    conversion_event : str, default "purchase"
        The event CPA counts (each event is a conversion, credited to the customer's
        acquisition channel).
    clv : pandas.DataFrame or ibis.Table, optional
        Predicted CLV per customer (``customer_id`` and ``clv_column``), e.g. from
        :func:`kpilib.clv.customer_value`. New customers without a row count as 0.
    clv_column : str, default "clv"
        The value column of ``clv``.
    gross_margin : float, default 0.7
        Share of revenue kept as gross margin, for the payback period.
    revenue_months : float, default 12
        Revenue horizon after a customer's sign-up, in months of 30.4375 days.
    revenue_basis : {"cohort", "period"}, default "cohort"
        ``"cohort"``: revenue of the period's new customers in their first
        ``revenue_months``; ``"period"``: revenue of orders placed in the period by
        customers of the channel acquired less than ``revenue_months`` before the order.
    start, end : str or pandas.Timestamp, optional
        Sign-ups, spend days (and, for the period basis, orders) in ``[start, end)``.
    as_of : str or pandas.Timestamp, optional
        End of the data (exclusive), for revenue exposure: orders before it count.
        Default: :func:`kpilib.periods.default_cutoff` of the latest sign-up or order —
        the start of the day after it, so the whole last day is data.
    mql_options : dict, optional
        Keyword arguments for :func:`kpilib.funnel.cost_per_mql` (``method``,
        ``behaviour_points``, ``threshold`` …).

    Returns
    -------
    pandas.DataFrame
        One row per period and channel (blended first): ``period``, the breakdown column,
        ``spend``, ``new_customers``, ``cac``, ``conversions``, ``cpa``, [``mqls``,
        ``cost_per_mql``], ``revenue``, ``roas``, ``roi``, ``customer_months`` (months of
        revenue observed), ``revenue_per_customer_month``, ``payback_months``,
        ``revenue_complete`` (the revenue horizon has passed for every customer counted),
        [``clv_per_customer``, ``clv_to_cac``] and ``note`` (why a figure is undefined).

    Notes
    -----
    .. math::

        \mathrm{CAC} = \frac{S}{N}, \quad \mathrm{CPA} = \frac{S}{K}, \quad
        \mathrm{ROAS} = \frac{R}{S}, \quad \mathrm{ROI} = \frac{R - S}{S}, \quad
        \text{payback} = \frac{\mathrm{CAC}}{m \, R / E}, \quad
        \mathrm{CLV{:}CAC} = \frac{\sum_i \mathrm{CLV}_i / N}{\mathrm{CAC}}

    with spend *S*, new customers *N*, conversions *K*, revenue *R*, customer-months of
    revenue observed *E* and gross margin *m*. A ratio whose denominator is 0 is NaN and
    ``note`` says why (CAC of a channel with spend and no new customers is undefined, not
    infinite). Blended rows add up spend, customers, conversions, revenue and exposure
    over the channels, so they include free channels.

    Examples
    --------
    >>> import pandas as pd
    >>> spend = pd.DataFrame({"date": ["2026-09-15", "2026-10-01", "2026-10-01"],
    ...     "channel": ["social", "social", "email"], "cost": [90.0, 300.0, 50.0]})
    >>> customers = pd.DataFrame({"customer_id": ["a", "b", "c"],
    ...     "signup_at": ["2026-09-20", "2026-10-01", "2026-10-03"], "channel": ["social"] * 3})
    >>> acquisition_costs(spend, customers)[["period", "channel", "spend", "new_customers", "cac"]]
        period channel  spend  new_customers    cac
    0  2026-09     all   90.0              1   90.0
    1  2026-09   email    0.0              0    NaN
    2  2026-09  social   90.0              1   90.0
    3  2026-10     all  350.0              2  175.0
    4  2026-10   email   50.0              0    NaN
    5  2026-10  social  300.0              2  150.0
    """
    spend = as_table(spend, "spend")
    customers = as_table(customers, "customers")
    orders = as_table(orders, "orders") if orders is not None else None
    events = as_table(events, "events") if events is not None else None
    period = _check_period(period)
    by = _breakdown(by, {"spend": spend, "customers": customers})
    if revenue_basis not in ("cohort", "period"):
        raise ValueError(f"revenue_basis must be 'cohort' or 'period', got {revenue_basis!r}")
    if not 0 < gross_margin <= 1:
        raise ValueError(f"gross_margin must be in (0, 1], got {gross_margin!r}")
    if revenue_months <= 0:
        raise ValueError(f"revenue_months must be positive, got {revenue_months!r}")
    start, end, as_of = to_utc(start), to_utc(end), to_utc(as_of)
    column = by[0] if by else "channel"
    keys = ["period", *by]

    costs = time_filter(spend, "date", start, end, date=True)
    costs = costs.mutate(period=_period_label(costs.date, period))
    frame = _sum_by(costs, keys, spend=exact_sum(costs.cost))
    cohort = time_filter(customers, "signup_at", start, end)
    cohort = cohort.mutate(period=_period_label(cohort.signup_at, period))
    frame = frame.merge(_sum_by(cohort, keys, new_customers=cohort.count()), on=keys, how="outer")

    if events is not None:
        converted = events.filter(events.event == conversion_event).select("customer_id", "ts")
    else:
        converted = first_orders(orders).select("customer_id", "ts") if orders is not None else None
    if converted is not None:
        converted = _with_owner(time_filter(converted, "ts", start, end), customers, by)
        converted = converted.mutate(period=_period_label(converted.ts, period))
        frame = frame.merge(_sum_by(converted, keys, conversions=converted.count()), on=keys, how="outer")
    if events is not None:
        mqls = _mql_costs(events, spend, customers, by, period, start, end, mql_options or {})
        frame = frame.merge(mqls if by else mqls.drop(columns="channel"), on=keys, how="outer")

    if orders is not None:
        if as_of is None:
            latest = [to_utc(t) for t in (_scalar(customers.signup_at.max()), _scalar(orders.ts.max()))
                      if t is not None and not pd.isna(t)]
            as_of = default_cutoff(max(latest)) if latest else (end or pd.Timestamp.now(tz="UTC"))
        horizon = revenue_months * _MONTH_SECONDS
        if revenue_basis == "cohort":
            revenue = _cohort_revenue(cohort, orders, keys, horizon, as_of)
        else:
            first = start if start is not None else pd.Timestamp(_scalar(spend.date.min()), tz="UTC")
            last = end if end is not None else as_of
            revenue = _period_revenue(customers, orders, keys, by, period, first, last, horizon, as_of)
        frame = frame.merge(revenue, on=keys, how="outer")

    if clv is not None:
        values = _clv_table(clv, clv_column)
        valued = cohort.left_join(values, cohort.customer_id == values.v_customer_id)
        frame = frame.merge(_sum_by(valued, keys, clv_total=exact_sum(valued.v_clv)), on=keys, how="outer")

    return _economics(frame, by, column, period, start, end, gross_margin, orders is not None, clv is not None)


def _economics(frame: pd.DataFrame, by: list[str], column: str, period: str | None, start, end,
               gross_margin: float, has_orders: bool, has_clv: bool) -> pd.DataFrame:
    """Fill the grid, add blended rows and turn sums into ratios (with the notes on undefined ones)."""
    if not by:
        frame[column] = _ALL
    additive = [c for c in ("spend", "new_customers", "conversions", "mqls", "revenue", "customer_months",
                            "clv_total") if c in frame.columns]
    if not frame.empty and period is not None:
        first = start or pd.Period(frame.period.min(), period).start_time
        last = (end - pd.Timedelta(microseconds=1)) if end is not None else pd.Period(frame.period.max(),
                                                                                        period).start_time
        labels = _period_grid(pd.Timestamp(first), pd.Timestamp(last), period)
    else:
        labels = [_ALL] if period is None else []
    complete = frame.pop("revenue_complete") if "revenue_complete" in frame.columns else None
    channels = sorted(frame[column].dropna().astype(str).unique()) if by else [_ALL]
    index = pd.MultiIndex.from_product([labels, channels], names=["period", column])
    frame = frame.set_index(["period", column])
    sums = frame[additive].groupby(level=["period", column]).sum(min_count=1).reindex(index).fillna(0.0)
    sums = sums.reset_index()
    if by:
        blended = sums.groupby("period", as_index=False)[additive].sum()
        blended[column] = _ALL
        sums = pd.concat([blended, sums], ignore_index=True)
        sums["_rank"] = sums[column].ne(_ALL)
        sums = sums.sort_values(["period", "_rank", column], ignore_index=True).drop(columns="_rank")
    if complete is not None:
        flags = pd.Series(complete.to_numpy(), index=frame.index.get_level_values("period"), dtype="boolean")
        flags = flags.fillna(True).astype(bool).groupby(level=0).all()
        sums["revenue_complete"] = sums["period"].map(flags).fillna(True).astype(bool)

    out = sums[["period", column]].copy()
    out["spend"] = sums["spend"].astype(float)
    out["new_customers"] = sums["new_customers"].astype("int64")
    spend, customers = out["spend"], out["new_customers"]
    out["cac"] = spend / customers.where(customers > 0)
    notes = [(customers.eq(0) & spend.gt(0), "CAC undefined: spend but no new customers"),
             (customers.eq(0) & spend.eq(0), "CAC undefined: no spend and no new customers")]
    if "conversions" in sums:
        out["conversions"] = sums["conversions"].astype("int64")
        out["cpa"] = spend / out["conversions"].where(out["conversions"] > 0)
        notes.append((out["conversions"].eq(0) & spend.gt(0), "CPA undefined: no conversions"))
    if "mqls" in sums:
        out["mqls"] = sums["mqls"].astype("int64")
        out["cost_per_mql"] = spend / out["mqls"].where(out["mqls"] > 0)
    if has_orders:
        out["revenue"] = sums["revenue"].astype(float)
        paid = spend.where(spend > 0)
        out["roas"] = out["revenue"] / paid
        out["roi"] = (out["revenue"] - spend) / paid
        notes.append((spend.eq(0), "ROAS and ROI undefined: no spend"))
        out["customer_months"] = sums["customer_months"].astype(float)
        out["revenue_per_customer_month"] = out["revenue"] / out["customer_months"].where(out["customer_months"] > 0)
        earning = gross_margin * out["revenue_per_customer_month"]
        out["payback_months"] = out["cac"] / earning.where(earning > 0)
        notes.append((out["cac"].notna() & out["cac"].gt(0) & ~earning.gt(0), "payback undefined: no revenue yet"))
        out["revenue_complete"] = sums["revenue_complete"] if "revenue_complete" in sums else True
    if has_clv:
        out["clv_per_customer"] = sums["clv_total"] / customers.where(customers > 0)
        out["clv_to_cac"] = out["clv_per_customer"] / out["cac"].where(out["cac"] > 0)
        notes.append((out["cac"].eq(0), "CLV:CAC undefined: CAC is 0"))
    out["note"] = _note(*notes) if len(out) else pd.Series(dtype=object)
    return out.reset_index(drop=True)


@computes("roas", "marketing_roi")
def attributed_return(
    attribution: pd.DataFrame,
    spend: ibis.Table | pd.DataFrame,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""ROAS and marketing ROI per channel under each attribution model.

    Parameters
    ----------
    attribution : pandas.DataFrame
        Output of :func:`attribute` (``model``, ``channel``, ``conversions``, ``revenue``).
    spend : ibis.Table or pandas.DataFrame
        The spend table; spend per channel is summed over ``[start, end)`` — use the same
        span as the conversions that were attributed.
    start, end : str or pandas.Timestamp, optional
        Spend days in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``channel``, ``conversions``, ``revenue``, ``spend``, ``roas``, ``roi``
        (NaN where the channel has no spend), ``cost_per_conversion``.

    Notes
    -----
    .. math::

        \mathrm{ROAS}_{m,c} = \frac{R_{m,c}}{S_c}, \qquad \mathrm{ROI}_{m,c} = \frac{R_{m,c} - S_c}{S_c}

    with :math:`R_{m,c}` the revenue model *m* credits to channel *c*.

    Examples
    --------
    >>> import pandas as pd
    >>> credit = pd.DataFrame({"model": ["linear", "linear"], "channel": ["email", "social"],
    ...     "conversions": [1.5, 0.5], "revenue": [150.0, 50.0]})
    >>> spend = pd.DataFrame({"date": ["2026-10-01"] * 2, "channel": ["email", "social"], "cost": [50.0, 100.0]})
    >>> attributed_return(credit, spend)[["model", "channel", "spend", "roas", "roi"]]
        model channel  spend  roas  roi
    0  linear   email   50.0   3.0  2.0
    1  linear  social  100.0   0.5 -0.5
    """
    missing = {"model", "channel", "conversions", "revenue"} - set(attribution.columns)
    if missing:
        raise ValueError(f"attribution needs the columns {sorted(missing)}; pass the output of attribute()")
    costs = time_filter(as_table(spend, "spend"), "date", to_utc(start), to_utc(end), date=True)
    by_channel = costs.group_by("channel").agg(spend=exact_sum(costs.cost)).execute()
    out = attribution[["model", "channel", "conversions", "revenue"]].merge(by_channel, on="channel", how="left")
    out["spend"] = out["spend"].fillna(0.0)
    paid = out["spend"].where(out["spend"] > 0)
    out["roas"] = out["revenue"] / paid
    out["roi"] = (out["revenue"] - out["spend"]) / paid
    out["cost_per_conversion"] = paid / out["conversions"].where(out["conversions"] > 0)
    return out


# ---------------------------------------------------------------------------------------
# Traffic, leads and influence
# ---------------------------------------------------------------------------------------


@computes("traffic_to_lead_ratio")
def traffic_to_lead(
    events: ibis.Table | pd.DataFrame,
    period: str | None = "M",
    *,
    window: WindowLike = "30D",
    visit_event: str = "visit",
    lead_event: str = "lead",
    by: str = "channel",
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Visits per channel and the share of new visitors who become leads, with intervals.

    A *new visitor* of a period is a person whose first ``visit_event`` ever falls in it
    (channel of that visit); they convert when their first ``lead_event`` follows within
    ``window``. People who were leads before their first recorded visit are not counted
    as converting.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table, with the ``by`` column on visits.
    period : {"M", "Q", "Y"} or None, default "M"
        Period of the first visit; ``None`` for the whole span.
    window : str, pandas.Timedelta or int, default "30D"
        Time allowed from the first visit to the lead (an int is days).
    visit_event, lead_event : str
        Event names.
    by : str, default "channel"
        Column of the visit events to break down by.
    start, end : str or pandas.Timestamp, optional
        First visits (and visits counted) in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``by``, ``visits`` (all visit events), ``numerator`` (new visitors who
        became leads), ``denominator`` (new visitors), ``rate``, ``ci_low``, ``ci_high``,
        ``small_sample`` and ``visitors_window_open`` (new visitors whose window runs past
        the end of the data, the day after the latest event's day). Blended rows have ``"all"``.

    Notes
    -----
    .. math::

        r_{c,p} = \frac{\#\{u : t^{\text{visit}}_u \in p,\ c_u = c,\
        t^{\text{visit}}_u \le t^{\text{lead}}_u \le t^{\text{visit}}_u + w\}}{\#\{u : t^{\text{visit}}_u \in p,\ c_u = c\}}

    with the 95% Wilson interval of :func:`kpilib.stats.rate_frame`.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b"], "ts": ["2026-10-01", "2026-10-02", "2026-10-05"],
    ...     "event": ["visit", "lead", "visit"], "channel": ["email", None, "email"]})
    >>> traffic_to_lead(events, None, by="channel")[["channel", "numerator", "denominator", "rate"]]
      channel  numerator  denominator  rate
    0     all          1            2   0.5
    1   email          1            2   0.5
    """
    events = as_table(events, "events")
    period = _check_period(period)
    _breakdown(by, {"events": events})
    seconds = duration_seconds(window, "window")
    start, end = to_utc(start), to_utc(end)
    visits = events.filter(events.event == visit_event)
    ranked = visits.mutate(rank=ibis.row_number().over(group_by=visits.customer_id,
                                                       order_by=[visits.ts, visits[by]]))
    firsts = ranked.filter(ranked["rank"] == 0).select("customer_id", first_at=ranked.ts, group=ranked[by])
    firsts = time_filter(firsts, "first_at", start, end)
    leads = events.filter(events.event == lead_event).group_by("customer_id").agg(lead_at=ibis._.ts.min())
    leads = leads.rename(l_customer_id="customer_id")
    joined = firsts.left_join(leads, firsts.customer_id == leads.l_customer_id)
    data_end = default_cutoff(events.ts.max()).as_scalar()  # the whole last day is data
    span = ibis.interval(seconds=int(seconds))
    joined = joined.mutate(
        period=_period_label(joined.first_at, period),
        converted=(joined.lead_at.notnull() & (joined.lead_at >= joined.first_at)
                   & (joined.lead_at <= joined.first_at + span)).cast("int64"),
        open=(joined.first_at + span > data_end).cast("int64"),
    )
    people = joined.group_by(["period", "group"]).agg(denominator=joined.count(), numerator=joined.converted.sum(),
                                                       visitors_window_open=joined.open.sum()).execute()
    counted = time_filter(visits, "ts", start, end)
    counted = counted.mutate(period=_period_label(counted.ts, period), group=counted[by])
    volume = counted.group_by(["period", "group"]).agg(visits=counted.count()).execute()
    frame = volume.merge(people, on=["period", "group"], how="outer").fillna(0)
    frame = frame[frame["group"].notna()]
    blended = frame.groupby("period", as_index=False)[["visits", "numerator", "denominator",
                                                        "visitors_window_open"]].sum()
    blended["group"] = _ALL
    frame = pd.concat([blended, frame], ignore_index=True)
    frame["order"] = frame["group"].ne(_ALL)
    frame = frame.sort_values(["period", "order", "group"], ignore_index=True)
    rates = rate_frame(frame["numerator"], frame["denominator"])
    out = pd.concat([frame[["period", "group"]].rename(columns={"group": by}),
                     frame[["visits"]].astype("int64"), rates,
                     frame[["visitors_window_open"]].astype("int64")], axis=1)
    return out


def marketing_touchpoints(
    events: ibis.Table | pd.DataFrame | None,
    email: ibis.Table | pd.DataFrame | None = None,
    *,
    visit_event: str = "visit",
    channels: Sequence[str] | None = None,
    email_channel: str = "email",
) -> ibis.Table:
    """Channel-tagged touchpoints: visits with a channel, and email clicks.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame or None
        The events table; its ``visit_event`` rows with a ``channel`` are touchpoints. With
        ``email`` given it may be None or lack ``channel``: the clicks are then the only
        touchpoints.
    email : ibis.Table or pandas.DataFrame, optional
        The email table; each click (``clicked_at``) is a touchpoint of ``email_channel``.
    visit_event : str, default "visit"
        Event name of a visit.
    channels : list of str, optional
        Keep only these channels (e.g. the paid and owned ones); default all.
    email_channel : str, default "email"
        Channel label of email clicks.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``ts``, ``channel`` (lazy).

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a"], "ts": ["2026-10-01", "2026-10-02"],
    ...     "event": ["visit", "page_view"], "channel": ["social", None]})
    >>> marketing_touchpoints(events).to_pandas()
      customer_id                        ts channel
    0           a 2026-10-01 00:00:00+00:00  social
    """
    events = as_table(events, "events") if events is not None else None
    if email is None and (events is None or "channel" not in events.columns):
        raise DataError(
            "touchpoints need a 'channel' column on visit events, which the table does not have"
            if events is not None else "touchpoints need visit events with a channel, or email clicks",
            table="events",
            column="channel",
            fix="Add the traffic channel of each visit (utm_source or similar) as a 'channel' column, "
            "or pass the email table (its clicks are touchpoints)",
        )
    parts = []
    if events is not None and "channel" in events.columns:
        visits = events.filter(events.event == visit_event, events.channel.notnull())
        parts.append(visits.select("customer_id", "ts", channel=visits.channel.cast("string")))
    if email is not None:
        mail = as_table(email, "email")
        clicks = mail.filter(mail.clicked_at.notnull())
        parts.append(clicks.select("customer_id", ts=clicks.clicked_at,
                                   channel=ibis.literal(email_channel)))
    touches = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    if channels is not None:
        touches = touches.filter(touches.channel.isin(list(channels)))
    return touches.order_by(["customer_id", "ts", "channel"])


def first_orders(orders: ibis.Table | pd.DataFrame) -> ibis.Table:
    """Each customer's first order (a first purchase), as an orders-like table.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "ts": ["2026-10-05", "2026-10-01", "2026-10-02"], "amount": [5.0, 10.0, 7.0]})
    >>> first_orders(orders).order_by("customer_id").to_pandas()[["customer_id", "amount"]]
      customer_id  amount
    0           a    10.0
    1           b     7.0
    """
    orders = as_table(orders, "orders")
    ranked = orders.mutate(rank=ibis.row_number().over(group_by=orders.customer_id,
                                                       order_by=[orders.ts, orders.amount]))
    return ranked.filter(ranked["rank"] == 0).select("customer_id", "ts", "amount")


@computes("marketing_influenced_revenue")
def marketing_influenced_revenue(
    orders: ibis.Table | pd.DataFrame,
    events: ibis.Table | pd.DataFrame | None = None,
    email: ibis.Table | pd.DataFrame | None = None,
    period: str | None = "M",
    *,
    window: WindowLike = "30D",
    channels: Sequence[str] = ("paid_search", "social", "email"),
    touchpoints: ibis.Table | pd.DataFrame | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Share of revenue from orders with a marketing touch in the window before them.

    Parameters
    ----------
    orders : ibis.Table or pandas.DataFrame
        The orders table.
    events : ibis.Table or pandas.DataFrame, optional
        The events table: visits whose ``channel`` is one of ``channels`` are touches
        (without a ``channel`` column it adds none; the email clicks still count).
    email : ibis.Table or pandas.DataFrame, optional
        The email table: every click is a touch.
    period : {"M", "Q", "Y"} or None, default "M"
        Period of the order.
    window : str, pandas.Timedelta or int, default "30D"
        Lookback before the order (an int is days); a touch at the order instant counts.
    channels : list of str, default ("paid_search", "social", "email")
        Visit channels that count as marketing.
    touchpoints : ibis.Table or pandas.DataFrame, optional
        Touches given directly (``customer_id``, ``ts``, ``channel``) instead of
        ``events`` and ``email``.
    start, end : str or pandas.Timestamp, optional
        Orders in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``orders``, ``revenue``, ``influenced_revenue``,
        ``influenced_revenue_share``, and the share of *orders* influenced as a rate with
        interval (``numerator``, ``denominator``, ``rate``, ``ci_low``, ``ci_high``,
        ``small_sample``).

    Notes
    -----
    .. math::

        \text{share}_p = \frac{\sum_{o \in p} a_o \, [\exists\, \tau \in T_{u(o)} : t_o - w \le \tau \le t_o]}
        {\sum_{o \in p} a_o}

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2026-10-10", "2026-10-12"],
    ...     "amount": [30.0, 10.0]})
    >>> email = pd.DataFrame({"campaign": ["n"], "customer_id": ["b"], "sent_at": ["2026-10-01"],
    ...     "bounce": ["none"], "opened_at": ["2026-10-02"], "clicked_at": ["2026-10-02"],
    ...     "unsubscribed_at": [None], "complained_at": [None]})
    >>> marketing_influenced_revenue(orders, email=email)[["period", "revenue", "influenced_revenue"]]
        period  revenue  influenced_revenue
    0  2026-10     40.0                10.0
    """
    orders = as_table(orders, "orders")
    period = _check_period(period)
    seconds = duration_seconds(window, "window")
    start, end = to_utc(start), to_utc(end)
    if touchpoints is not None:
        touches = _touchpoints(touchpoints)
    elif events is None and email is None:
        raise ValueError("give events (visits with a channel), email (clicks) or touchpoints")
    else:
        parts = []
        if events is not None and ("channel" in as_table(events, "events").columns or email is None):
            parts.append(marketing_touchpoints(events, channels=channels))
        if email is not None:
            mail = as_table(email, "email")
            clicks = mail.filter(mail.clicked_at.notnull())
            parts.append(clicks.select("customer_id", ts=clicks.clicked_at, channel=ibis.literal("email")))
        touches = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    touches = touches.select(t_customer_id=touches.customer_id, t_ts=touches.ts)
    placed = time_filter(orders, "ts", start, end).select("customer_id", "ts", "amount")
    placed = placed.mutate(period=_period_label(placed.ts, period))
    influenced = placed.semi_join(touches, [placed.customer_id == touches.t_customer_id, touches.t_ts <= placed.ts,
                                            touches.t_ts >= placed.ts - ibis.interval(seconds=int(seconds))])
    everything = placed.group_by("period").agg(orders=placed.count(), revenue=exact_sum(placed.amount)).execute()
    touched = influenced.group_by("period").agg(influenced_orders=influenced.count(),
                                                influenced_revenue=exact_sum(influenced.amount)).execute()
    frame = everything.merge(touched, on="period", how="left").fillna(0).sort_values("period", ignore_index=True)
    frame["influenced_revenue_share"] = frame["influenced_revenue"] / frame["revenue"].where(frame["revenue"] > 0)
    rates = rate_frame(frame["influenced_orders"], frame["orders"])
    return pd.concat([frame[["period", "orders", "revenue", "influenced_revenue", "influenced_revenue_share"]]
                      .astype({"orders": "int64"}), rates], axis=1)


# ---------------------------------------------------------------------------------------
# Attribution
# ---------------------------------------------------------------------------------------


def _touchpoints(touchpoints: ibis.Table | pd.DataFrame) -> ibis.Table:
    """Touchpoints checked like events (ids, UTC timestamps), with a string channel."""
    if isinstance(touchpoints, ibis.Table):
        table = touchpoints if "event" in touchpoints.columns else touchpoints.mutate(event=ibis.literal("touch"))
    elif isinstance(touchpoints, pd.DataFrame):
        table = touchpoints if "event" in touchpoints.columns else touchpoints.assign(event="touch")
    else:
        raise DataError(f"touchpoints must be a DataFrame or an Ibis table, got {type(touchpoints).__name__}",
                        table="touchpoints", fix="Pass customer_id, ts and channel columns")
    if "channel" not in table.columns:
        raise DataError(
            f"touchpoints need a 'channel' column (they have: {', '.join(table.columns)})",
            table="touchpoints",
            column="channel",
            fix="Use marketing_touchpoints(events) or add the channel of each touch",
        )
    table = as_table(table, "events")
    table = table.filter(table.channel.notnull())
    return table.select("customer_id", "ts", channel=table.channel.cast("string"))


def _numbered_conversions(conversions: ibis.Table | pd.DataFrame) -> ibis.Table:
    conv = as_table(conversions, "orders").select("customer_id", "ts", "amount")
    by_customer = ibis.window(group_by=conv.customer_id, order_by=[conv.ts, conv.amount])
    return conv.mutate(
        conversion_id=ibis.row_number().over(order_by=[conv.customer_id, conv.ts, conv.amount]),
        previous_at=conv.ts.lag().over(by_customer),
    )


def attribution_journeys(
    touchpoints: ibis.Table | pd.DataFrame,
    conversions: ibis.Table | pd.DataFrame,
    *,
    lookback: WindowLike = "30D",
    start: TimeLike = None,
    end: TimeLike = None,
) -> ibis.Table:
    """The touchpoints of each conversion's lookback window, one row per touch (lazy).

    A conversion's journey is its customer's touches in ``(t − lookback, t]`` that come
    after the customer's previous conversion. A conversion with no touch has one row with
    a null ``channel`` and ``touches == 0``.

    Parameters
    ----------
    touchpoints : ibis.Table or pandas.DataFrame
        ``customer_id``, ``ts``, ``channel`` (e.g. :func:`marketing_touchpoints`).
    conversions : ibis.Table or pandas.DataFrame
        ``customer_id``, ``ts``, ``amount`` (the orders table, or :func:`first_orders`).
    lookback : str, pandas.Timedelta or int, default "30D"
        How far back a touch can be (an int is days).
    start, end : str or pandas.Timestamp, optional
        Only conversions in ``[start, end)`` (their touches may be earlier).

    Returns
    -------
    ibis.Table
        ``conversion_id``, ``customer_id``, ``converted_at``, ``amount``, ``touch_at``,
        ``channel``, ``position`` (1 = first touch), ``touches`` (journey length),
        ``days_before`` (conversion time − touch time, in days).

    Examples
    --------
    >>> import pandas as pd
    >>> touches = pd.DataFrame({"customer_id": ["a", "a"], "ts": ["2026-09-01", "2026-10-08"],
    ...     "channel": ["social", "email"]})
    >>> orders = pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-10"], "amount": [50.0]})
    >>> attribution_journeys(touches, orders).to_pandas()[["channel", "position", "touches", "days_before"]]
      channel  position  touches  days_before
    0   email         1        1          2.0
    """
    seconds = duration_seconds(lookback, "lookback")
    conv = time_filter(_numbered_conversions(conversions), "ts", to_utc(start), to_utc(end))
    touch = _touchpoints(touchpoints).rename(t_customer_id="customer_id", touch_at="ts")
    joined = conv.left_join(touch, [
        conv.customer_id == touch.t_customer_id,
        touch.touch_at <= conv.ts,
        touch.touch_at > conv.ts - ibis.interval(seconds=int(seconds)),
        conv.previous_at.isnull() | (touch.touch_at > conv.previous_at),
    ])
    joined = joined.select("conversion_id", "customer_id", converted_at=joined.ts, amount=joined.amount,
                           touch_at=joined.touch_at, channel=joined.channel)
    journey = ibis.window(group_by=joined.conversion_id, order_by=[joined.touch_at, joined.channel])
    return joined.mutate(
        position=ibis.row_number().over(journey) + 1,
        touches=joined.channel.count().over(group_by=joined.conversion_id),
        days_before=(joined.converted_at.epoch_seconds() - joined.touch_at.epoch_seconds()).cast("float64")
        / _DAY_SECONDS,
    )


def non_converting_journeys(
    touchpoints: ibis.Table | pd.DataFrame,
    conversions: ibis.Table | pd.DataFrame,
    *,
    lookback: WindowLike = "30D",
    start: TimeLike = None,
    end: TimeLike = None,
) -> ibis.Table:
    """Each customer's touches after their last conversion (or all, if none), as one path (lazy).

    Only touches within ``lookback`` of the path's last touch are kept, so converting and
    non-converting paths span the same time; ``start`` and ``end`` keep the paths whose
    last touch is in ``[start, end)``. The Markov model needs these paths: without them
    every channel would seem to lead to a conversion.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``touch_at``, ``channel``, ``position``.

    Examples
    --------
    >>> import pandas as pd
    >>> touches = pd.DataFrame({"customer_id": ["a", "a", "b"], "ts": ["2026-10-01", "2026-10-12", "2026-10-02"],
    ...     "channel": ["social", "email", "social"]})
    >>> orders = pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-10"], "amount": [50.0]})
    >>> non_converting_journeys(touches, orders).order_by("customer_id").to_pandas()[["customer_id", "channel"]]
      customer_id channel
    0           a   email
    1           b  social
    """
    seconds = duration_seconds(lookback, "lookback")
    conv = as_table(conversions, "orders")
    last = conv.group_by("customer_id").agg(last_conversion_at=conv.ts.max()).rename(l_customer_id="customer_id")
    touch = _touchpoints(touchpoints).rename(touch_at="ts")
    after = touch.left_join(last, touch.customer_id == last.l_customer_id)
    after = after.filter(after.last_conversion_at.isnull() | (after.touch_at > after.last_conversion_at))
    after = after.mutate(path_end=after.touch_at.max().over(group_by=after.customer_id))
    after = after.filter(after.touch_at > after.path_end - ibis.interval(seconds=int(seconds)))
    after = time_filter(after, "path_end", to_utc(start), to_utc(end))
    after = after.select("customer_id", "touch_at", "channel")
    return after.mutate(position=ibis.row_number().over(group_by=after.customer_id,
                                                        order_by=[after.touch_at, after.channel]) + 1)


def _check_models(model: str | Sequence[str]) -> list[str]:
    models = [model] if isinstance(model, str) else list(model)
    if not models:
        raise ValueError(f"give at least one attribution model, from {list(ATTRIBUTION_MODELS)}")
    unknown = [m for m in models if m not in ATTRIBUTION_MODELS]
    if unknown:
        raise ValueError(f"unknown attribution model(s) {unknown}; use {list(ATTRIBUTION_MODELS)}")
    return list(dict.fromkeys(models))


def touch_weights(
    journeys: pd.DataFrame,
    model: str,
    *,
    half_life: WindowLike = "7D",
    direct_channels: Sequence[str] = ("direct",),
) -> np.ndarray:
    r"""The share of its conversion each touch gets under a rule-based model.

    Parameters
    ----------
    journeys : pandas.DataFrame
        Touches with ``conversion_id``, ``position`` (1-based), ``touches`` (journey
        length) and, for ``time_decay``, ``days_before``; for ``last_non_direct``,
        ``channel``.
    model : {"first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based"}
        The rule.
    half_life : str, pandas.Timedelta or int, default "7D"
        Time-decay half-life (an int is days).
    direct_channels : list of str, default ("direct",)
        Channels ``last_non_direct`` skips when the journey has another touch.

    Returns
    -------
    numpy.ndarray
        One weight per row; the weights of each conversion add up to 1.

    Notes
    -----
    Time decay: :math:`w_k \propto 0.5^{\Delta t_k / h}`. Position based: one touch gets
    1; two get ½ each; *n* ≥ 3 give 0.4 to the first and the last and
    :math:`0.2/(n-2)` to each touch in between.

    Examples
    --------
    >>> import pandas as pd
    >>> j = pd.DataFrame({"conversion_id": [1] * 4, "position": [1, 2, 3, 4], "touches": [4] * 4})
    >>> touch_weights(j, "position_based")
    array([0.4, 0.1, 0.1, 0.4])
    """
    n = journeys["touches"].to_numpy(dtype=float)
    k = journeys["position"].to_numpy(dtype=float)
    if model == "first_touch":
        return (k == 1).astype(float)
    if model == "last_touch":
        return (k == n).astype(float)
    if model == "linear":
        return 1.0 / n
    if model == "position_based":
        ends = (k == 1) | (k == n)
        return np.select([n == 1, n == 2, ends], [1.0, 0.5, 0.4], default=0.2 / np.maximum(n - 2, 1))
    if model == "time_decay":
        days = duration_seconds(half_life, "half_life") / _DAY_SECONDS
        raw = np.power(0.5, journeys["days_before"].to_numpy(dtype=float) / days)
        total = pd.Series(raw).groupby(journeys["conversion_id"].to_numpy()).transform("sum").to_numpy()
        return raw / total
    if model == "last_non_direct":
        frame = pd.DataFrame({"id": journeys["conversion_id"].to_numpy(), "k": k,
                              "eligible": ~journeys["channel"].isin(list(direct_channels)).to_numpy()})
        ids = frame["id"]
        any_eligible = frame.groupby("id")["eligible"].transform("any")
        candidate = frame["eligible"] | ~any_eligible
        last = frame["k"].where(candidate).groupby(ids).transform("max")
        return (frame["k"] == last).to_numpy(dtype=float)
    raise ValueError(f"touch_weights covers the rule-based models, not {model!r}")


def _transition_counts(paths: pd.DataFrame) -> pd.Series:
    """Transitions start → … → conversion/null counted over paths (``path``, ``position``, ``channel``, ``converted``)."""
    paths = paths.sort_values(["path", "position"])
    previous = paths.groupby("path")["channel"].shift(1).fillna("(start)")
    steps = pd.DataFrame({"from": previous.to_numpy(), "to": paths["channel"].to_numpy()})
    ends = paths.groupby("path").agg(last=("channel", "last"), converted=("converted", "first"))
    finals = pd.DataFrame({"from": ends["last"].to_numpy(),
                           "to": np.where(ends["converted"], "(conversion)", "(null)")})
    return pd.concat([steps, finals]).value_counts(["from", "to"])


def _conversion_probability(counts: pd.Series, channels: list[str], removed: str | None = None) -> float:
    """P(reach conversion from start) of the absorbing chain; a removed channel leads to null."""
    transient = ["(start)", *channels]
    index = {s: i for i, s in enumerate(transient)}
    q = np.zeros((len(transient), len(transient)))
    to_conversion = np.zeros(len(transient))
    out_total = np.zeros(len(transient))
    for (source, target), count in counts.items():
        i = index[source]
        out_total[i] += count
        if target == "(conversion)":
            to_conversion[i] += count
        elif target != "(null)":
            q[i, index[target]] += count
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.divide(q, out_total[:, None], out=np.zeros_like(q), where=out_total[:, None] > 0)
        r = np.divide(to_conversion, out_total, out=np.zeros_like(to_conversion), where=out_total > 0)
    if removed is not None:
        q[index[removed], :] = 0.0
        r[index[removed]] = 0.0
    absorbed = np.linalg.solve(np.eye(len(transient)) - q, r)
    return float(absorbed[0])


def markov_removal_effects(paths: pd.DataFrame) -> pd.DataFrame:
    r"""Removal effects of a first-order Markov chain over journeys, computed exactly.

    Parameters
    ----------
    paths : pandas.DataFrame
        One row per touch: ``path`` (journey id), ``position`` (order within the path),
        ``channel`` and ``converted`` (whether the path ends in a conversion; include the
        non-converting paths).

    Returns
    -------
    pandas.DataFrame
        ``channel``, ``conversion_probability_without`` (P(conversion) with the channel
        removed), ``removal_effect`` and ``share`` (removal effects normalised to 1).
        ``attrs["conversion_probability"]`` is P(conversion) of the full chain.

    Notes
    -----
    States are ``(start)``, the channels, and the absorbing ``(conversion)`` and
    ``(null)``; transition probabilities are the observed transition counts normalised
    per state. With :math:`Q` the transitions among transient states and :math:`r` the
    one-step probabilities of converting, the absorption probabilities are
    :math:`b = (I - Q)^{-1} r` and :math:`P(\text{conversion}) = b_{\text{start}}`.
    Removing channel *c* makes its state lead to ``(null)`` (row *c* of :math:`Q` and
    :math:`r` set to 0):

    .. math::

        \mathrm{RE}_c = 1 - \frac{P_{-c}(\text{conversion})}{P(\text{conversion})}

    References
    ----------
    Anderl, E., Becker, I., von Wangenheim, F. & Schumann, J. H. (2016). Mapping the
    customer journey: lessons learned from graph-based online attribution modeling.
    International Journal of Research in Marketing 33(3), 457-474.

    Examples
    --------
    >>> import pandas as pd
    >>> paths = pd.DataFrame({"path": [1, 1, 2], "position": [1, 2, 1],
    ...     "channel": ["social", "email", "social"], "converted": [True, True, False]})
    >>> markov_removal_effects(paths)[["channel", "removal_effect", "share"]]
      channel  removal_effect  share
    0   email             1.0    0.5
    1  social             1.0    0.5
    """
    missing = {"path", "position", "channel", "converted"} - set(paths.columns)
    if missing:
        raise ValueError(f"paths need the columns {sorted(missing)}")
    paths = paths.dropna(subset=["channel"])
    channels = sorted(paths["channel"].astype(str).unique())
    counts = _transition_counts(paths.assign(channel=paths["channel"].astype(str)))
    base = _conversion_probability(counts, channels) if channels else 0.0
    without = [_conversion_probability(counts, channels, removed=c) for c in channels]
    effect = [1 - w / base if base > 0 else 0.0 for w in without]
    total = sum(effect)
    out = pd.DataFrame({
        "channel": channels,
        "conversion_probability_without": without,
        "removal_effect": effect,
        "share": [e / total if total > 0 else np.nan for e in effect],
    })
    out.attrs["conversion_probability"] = base
    return out


@computes("attribution_first_touch", "attribution_last_touch", "attribution_linear", "attribution_time_decay",
          "attribution_position_based", "attribution_markov")
def attribute(
    touchpoints: ibis.Table | pd.DataFrame,
    conversions: ibis.Table | pd.DataFrame,
    model: str | Sequence[str] = "linear",
    *,
    lookback: WindowLike = "30D",
    half_life: WindowLike = "7D",
    direct_channels: Sequence[str] = ("direct",),
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Credit conversions and their revenue to channels under one or several attribution models.

    Parameters
    ----------
    touchpoints : ibis.Table or pandas.DataFrame
        Channel-tagged touches: ``customer_id``, ``ts``, ``channel`` (e.g.
        :func:`marketing_touchpoints`).
    conversions : ibis.Table or pandas.DataFrame
        ``customer_id``, ``ts``, ``amount``: the orders table, or :func:`first_orders`.
    model : str or list of str, default "linear"
        One or more of :data:`ATTRIBUTION_MODELS`: ``first_touch``, ``last_touch``,
        ``last_non_direct``, ``linear``, ``time_decay``, ``position_based``, ``markov``.
    lookback : str, pandas.Timedelta or int, default "30D"
        How far before a conversion a touch can be (an int is days).
    half_life : str, pandas.Timedelta or int, default "7D"
        Half-life of the time-decay weights.
    direct_channels : list of str, default ("direct",)
        Channels that ``last_non_direct`` passes over.
    start, end : str or pandas.Timestamp, optional
        Only conversions in ``[start, end)`` are credited (and, for Markov, only
        non-converting paths ending in it are used).

    Returns
    -------
    pandas.DataFrame
        Per model and channel (models in the order given, channels sorted, ``"(no touch)"``
        last): ``model``, ``channel``, ``conversions`` (credited), ``revenue`` (credited),
        ``conversion_share``, ``revenue_share``. For every model the credited conversions
        add up to the number of conversions, and the revenue to their amount.

    Notes
    -----
    Journeys are built in the engine (:func:`attribution_journeys`); the weights are then
    applied per touch (:func:`touch_weights`):

    .. math::

        \text{credit}_c = \sum_j \sum_{k : c_{j,k} = c} w_{j,k}, \qquad
        \text{revenue}_c = \sum_j a_j \sum_{k : c_{j,k} = c} w_{j,k}

    The Markov model shares the touched conversions :math:`C` (and their revenue) out in
    proportion to the removal effects (:func:`markov_removal_effects`), estimated on the
    converting and the non-converting journeys (:func:`non_converting_journeys`).

    Examples
    --------
    >>> import pandas as pd
    >>> touches = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "ts": ["2026-10-01", "2026-10-05", "2026-10-03"], "channel": ["social", "email", "email"]})
    >>> orders = pd.DataFrame({"customer_id": ["a", "b", "c"], "ts": ["2026-10-06", "2026-10-04", "2026-10-04"],
    ...     "amount": [100.0, 50.0, 10.0]})
    >>> attribute(touches, orders, ["first_touch", "linear"])[["model", "channel", "conversions", "revenue"]]
             model     channel  conversions  revenue
    0  first_touch       email          1.0     50.0
    1  first_touch      social          1.0    100.0
    2  first_touch  (no touch)          1.0     10.0
    3       linear       email          1.5    100.0
    4       linear      social          0.5     50.0
    5       linear  (no touch)          1.0     10.0
    """
    models = _check_models(model)
    window = {"lookback": lookback, "start": start, "end": end}
    # a fixed row order: the money sums below come out the same bits in every run
    journeys = attribution_journeys(touchpoints, conversions, **window).order_by(["conversion_id", "position"]).execute()
    touched = journeys[journeys["touches"] > 0]
    untouched = journeys[journeys["touches"] == 0]
    channels = sorted(touched["channel"].astype(str).unique())
    total_conversions = journeys["conversion_id"].nunique()
    total_revenue = float(journeys.drop_duplicates("conversion_id")["amount"].sum())
    amounts = touched["amount"].to_numpy(dtype=float)
    frames = []
    for name in models:
        if name == "markov":
            idle = non_converting_journeys(touchpoints, conversions, **window).order_by(["customer_id", "position"])
            credit = _markov_credit(touched, idle.execute(), channels)
        else:
            weights = touch_weights(touched, name, half_life=half_life, direct_channels=direct_channels)
            credit = pd.DataFrame({"channel": touched["channel"].astype(str).to_numpy(), "conversions": weights,
                                   "revenue": weights * amounts}).groupby("channel").sum()
            credit = credit.reindex(channels, fill_value=0.0)
        credit = credit.reset_index()
        if len(untouched):
            credit = pd.concat([credit, pd.DataFrame({"channel": [NO_TOUCH], "conversions": [float(len(untouched))],
                                                      "revenue": [float(untouched["amount"].sum())]})])
        credit.insert(0, "model", name)
        frames.append(credit)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    columns = ["model", "channel", "conversions", "revenue"]
    out = out.reindex(columns=columns)
    out["conversions"] = out["conversions"].astype(float)
    out["revenue"] = out["revenue"].astype(float)
    out["conversion_share"] = out["conversions"] / total_conversions if total_conversions else np.nan
    out["revenue_share"] = out["revenue"] / total_revenue if total_revenue > 0 else np.nan
    return out


def _markov_credit(touched: pd.DataFrame, idle: pd.DataFrame, channels: list[str]) -> pd.DataFrame:
    paths = pd.concat([
        pd.DataFrame({"path": "c" + touched["conversion_id"].astype(str), "position": touched["position"],
                      "channel": touched["channel"].astype(str), "converted": True}),
        pd.DataFrame({"path": "n" + idle["customer_id"].astype(str), "position": idle["position"],
                      "channel": idle["channel"].astype(str), "converted": False}),
    ], ignore_index=True)
    effects = markov_removal_effects(paths).set_index("channel")["share"].reindex(channels).fillna(0.0)
    n_conversions = touched["conversion_id"].nunique()
    revenue = float(touched.drop_duplicates("conversion_id")["amount"].sum())
    return pd.DataFrame({"conversions": effects * n_conversions, "revenue": effects * revenue},
                        index=pd.Index(channels, name="channel"))


# ---------------------------------------------------------------------------------------
# The report index
# ---------------------------------------------------------------------------------------


def headline_metrics(
    spend: ibis.Table | pd.DataFrame,
    customers: ibis.Table | pd.DataFrame,
    orders: ibis.Table | pd.DataFrame | None,
    month: str,
    *,
    clv: pd.DataFrame | ibis.Table | None = None,
    clv_column: str = "clv",
    gross_margin: float = 0.7,
    revenue_months: float = 12,
) -> pd.DataFrame:
    """The marketing notebook's headline numbers for ``month`` and the month before (blended).

    * ``cac`` — spend ÷ new customers of the month (numerator spend, denominator customers);
    * ``roas`` and ``marketing_roi`` — revenue of the month from customers acquired in the
      ``revenue_months`` before each order, over the month's spend (period basis, so a
      month is complete at its end and months compare fairly);
    * ``payback_months`` — CAC over the monthly gross margin per customer of that revenue;
    * ``clv_to_cac`` — when ``clv`` is given: predicted CLV per new customer of the month ÷ CAC.

    Without orders only ``cac`` is reported. No interval: none of these is a proportion.

    Returns
    -------
    pandas.DataFrame
        ``metric``, ``month``, ``value``, ``numerator``, ``denominator``, ``ci_low``,
        ``ci_high``.

    Examples
    --------
    >>> import pandas as pd
    >>> spend = pd.DataFrame({"date": ["2026-09-01", "2026-10-01"], "channel": ["social"] * 2,
    ...     "cost": [100.0, 300.0]})
    >>> customers = pd.DataFrame({"customer_id": ["a", "b", "c"],
    ...     "signup_at": ["2026-09-02", "2026-10-01", "2026-10-03"], "channel": ["social"] * 3})
    >>> h = headline_metrics(spend, customers, None, "2026-10")
    >>> h[["metric", "month", "value", "numerator", "denominator"]]
      metric    month  value  numerator  denominator
    0    cac  2026-09  100.0      100.0          1.0
    1    cac  2026-10  150.0      300.0          2.0
    """
    start, end = month_bounds(month)
    previous_start, _ = month_bounds(previous_month(month))
    costs = acquisition_costs(spend, customers, orders, "M", None, clv=clv, clv_column=clv_column,
                              gross_margin=gross_margin, revenue_months=revenue_months, revenue_basis="period",
                              start=previous_start, end=end, as_of=end if orders is not None else None)
    costs = costs.set_index("period")
    labels = [str(pd.Period(month, freq="M") - 1), str(pd.Period(month, freq="M"))]
    rows = []

    def add(metric: str, value_column: str, numerator: str | None = None, denominator: str | None = None) -> None:
        for label in labels:
            row = costs.loc[label] if label in costs.index else pd.Series(dtype=float)
            values = [float(row.get(c, np.nan)) if c is not None else np.nan
                      for c in (value_column, numerator, denominator)]
            rows.append({"metric": metric, "month": label, "value": values[0], "numerator": values[1],
                         "denominator": values[2], "ci_low": np.nan, "ci_high": np.nan})

    add("cac", "cac", "spend", "new_customers")
    if orders is not None:
        costs["net"] = costs["revenue"] - costs["spend"]
        add("roas", "roas", "revenue", "spend")
        add("marketing_roi", "roi", "net", "spend")
        add("payback_months", "payback_months")
    if clv is not None:
        add("clv_to_cac", "clv_to_cac", "clv_per_customer", "cac")
    frame = pd.DataFrame(rows, columns=["metric", "month", "value", "numerator", "denominator", "ci_low", "ci_high"])
    return frame.astype({c: float for c in ["value", "numerator", "denominator", "ci_low", "ci_high"]})
