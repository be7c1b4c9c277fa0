"""Marketing's metric records (written once; the glossary, the docs and the report read them).

Each record is tied to the function that computes it with :func:`kpilib.metrics.computes`,
which also writes the record's formula into that function's docstring. This module is
imported first by :mod:`kpilib.marketing`, so the records exist before the functions are
decorated.
"""

from __future__ import annotations

from kpilib.metrics import Metric, register

__all__: list[str] = []

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
            "observed in the customers' first months) it takes to earn back the CAC. "
            "Months are calendar months from each sign-up (a customer since 1 October seen "
            "to 31 October has 30/31 of a month)."
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
        '0     all             1.87                      320.69            1.40\n'
        '1   email             0.00                         NaN             NaN\n'
        '2  social             1.87                      320.69            1.25',
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
            "its own error; recent cohorts have few orders yet, and a CLV fit kpilib marks "
            "unreliable (few repeat buyers, a penalised or failed fit) marks CLV:CAC too. "
            "Undefined where CAC is undefined or zero."
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
        formula=r"\text{share}_p = \frac{\sum_{o \in p} \text{amount}_o \, [\exists\, \text{touch } \tau "
        r"\text{ of } o\text{'s customer} : t_o - w \le \tau \le t_o]}{\sum_{o \in p} \text{amount}_o}",
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
        formula=r"r_{c,p} = \frac{\#\{\text{new visitors of channel } c \text{ in } p \text{ who become a lead within } w\}}"
        r"{\#\{\text{new visitors of channel } c \text{ in } p\}}"
        r" = \frac{\#\{u : t^{\text{visit}}_u \in p,\ c_u = c,\ t^{\text{visit}}_u \le t^{\text{lead}}_u "
        r"\le t^{\text{visit}}_u + w\}}{\#\{u : t^{\text{visit}}_u \in p,\ c_u = c\}}, \quad "
        r"t^{\text{visit}}_u, t^{\text{lead}}_u = u\text{'s first visit and first lead}",
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
