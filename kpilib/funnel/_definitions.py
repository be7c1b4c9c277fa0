"""The funnel's metric records (written once; the glossary, the docs and the report read them).

Each record is tied to the function that computes it with :func:`kpilib.metrics.computes`,
which also writes the record's formula into that function's docstring. This module is
imported first by :mod:`kpilib.funnel`, so the records exist before the functions are
decorated.
"""

from __future__ import annotations

from kpilib.metrics import Metric, register

__all__: list[str] = []

_EXAMPLE_EVENTS = (
    '>>> import pandas as pd\n'
    '>>> events = pd.DataFrame({"customer_id": ["a", "a", "b", "c"],\n'
    '...     "ts": ["2026-10-01 09:00", "2026-10-02 10:00", "2026-10-01 12:00", "2026-10-03 08:00"],\n'
    '...     "event": ["visit", "signup", "visit", "visit"]})\n'
)

register(
    Metric(
        name="conversion_rate",
        title="Funnel conversion rate",
        stage="acquisition",
        formula=r"\text{conversion}_k = \frac{\#\{\text{users who reach step } k \text{ within the window}\}}"
        r"{\#\{\text{users who enter at step } 1\}}",
        definition=(
            "Share of the people who entered the funnel (their first step-1 event in the "
            "period) who went on to reach a later step — by default the last one — within "
            "the conversion window that starts at their entry. Steps must happen in order "
            "(ties in time count as in order); a step listed twice needs two events."
        ),
        pitfalls=(
            "Recent entrants have not had their full window yet, so the latest period looks "
            "worse than it is: compare only complete windows (users_window_open shows how "
            "many are still open). The rate depends on the window length and on the entry "
            "definition; a user who re-enters later is counted once, from the first entry."
        ),
        unit="rate",
        higher_is_better=True,
        example=_EXAMPLE_EVENTS
        + '>>> from kpilib.funnel import conversion_rate\n'
        '>>> conversion_rate(events, ["visit", "signup"])[["numerator", "denominator", "rate"]]\n'
        '   numerator  denominator      rate\n'
        '0          1            3  0.333333',
        reference="Croll & Yoskovitz, Lean Analytics (2013), ch. 5; Amplitude funnel analysis docs.",
    )
)

register(
    Metric(
        name="step_conversion_rate",
        title="Step conversion rate",
        stage="acquisition",
        formula=r"\text{step conversion}_k = \frac{\text{users reaching step } k}{\text{users reaching step } k-1}",
        definition=(
            "Of the people who reached the previous step, the share who also reached this "
            "one (within the same window from their entry)."
        ),
        pitfalls=(
            "Step rates multiply to the overall conversion only for the same entry cohort "
            "and window; a step rate can rise simply because the previous step became more "
            "selective. Its denominator shrinks along the funnel, so late steps get wide "
            "intervals."
        ),
        unit="rate",
        higher_is_better=True,
        example=_EXAMPLE_EVENTS
        + '>>> from kpilib.funnel import funnel\n'
        '>>> funnel(events, ["visit", "signup"])[["step", "users", "step_conversion"]]\n'
        '     step  users  step_conversion\n'
        '0   visit      3         1.000000\n'
        '1  signup      1         0.333333',
    )
)

register(
    Metric(
        name="drop_off_rate",
        title="Drop-off rate",
        stage="acquisition",
        formula=r"\text{drop-off}_k = 1 - \frac{\text{users}_k}{\text{users}_{k-1}}",
        definition="Share of the people at a step who do not reach the next step within the window.",
        pitfalls=(
            "The complement of the step conversion rate, with the same caveats; the biggest "
            "drop-off is not necessarily the cheapest one to fix."
        ),
        unit="rate",
        higher_is_better=False,
        example=_EXAMPLE_EVENTS
        + '>>> from kpilib.funnel import drop_off, funnel\n'
        '>>> drop_off(funnel(events, ["visit", "signup"]))[["from_step", "to_step", "dropped", "drop_off_rate"]]\n'
        '  from_step to_step  dropped  drop_off_rate\n'
        '0     visit  signup        2       0.666667',
    )
)

register(
    Metric(
        name="time_to_convert",
        title="Time to convert",
        stage="acquisition",
        formula=r"\operatorname{median}_{u \in \text{converters}} \left(t_{u,\text{to}} - t_{u,\text{from}}\right)",
        definition=(
            "For the people who reached both steps, the time between their matched "
            "'from' and 'to' events (greedy earliest match), summarised by median and "
            "percentiles, in days."
        ),
        pitfalls=(
            "Only converters are measured, and only within the window: a longer window "
            "admits slower converters and raises the median. Distributions are skewed; "
            "prefer the median and the 90th percentile to the mean."
        ),
        unit="days",
        higher_is_better=False,
        example=_EXAMPLE_EVENTS
        + '>>> from kpilib.funnel import time_to_convert\n'
        '>>> time_to_convert(events, ["visit", "signup"]).summary[["converters", "median_days"]]\n'
        '   converters  median_days\n'
        '0           1     1.041667',
    )
)

register(
    Metric(
        name="landing_page_conversion_rate",
        title="Landing-page conversion rate",
        stage="acquisition",
        formula=r"\frac{\#\{\text{first visits landing on page } p \text{ followed by the goal within the window}\}}"
        r"{\#\{\text{first visits landing on page } p\}}",
        definition=(
            "For each landing page (the page of a person's first visit in the period), the "
            "share of its visitors who reach the goal event (e.g. signup) within the window."
        ),
        pitfalls=(
            "Pages receive different traffic (channels, intent), so differences are not "
            "caused by the page alone; pages with few visitors have wide intervals and are "
            "flagged."
        ),
        unit="rate",
        higher_is_better=True,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.funnel import landing_page_conversion\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "a", "b"],\n'
        '...     "ts": ["2026-10-01 09:00", "2026-10-01 09:05", "2026-10-01 10:00"],\n'
        '...     "event": ["visit", "signup", "visit"], "page": ["/pricing", None, "/blog"]})\n'
        '>>> landing_page_conversion(events, "signup")[["page", "numerator", "denominator", "rate"]]\n'
        '       page  numerator  denominator  rate\n'
        '0     /blog          0            1   0.0\n'
        '1  /pricing          1            1   1.0',
    )
)

register(
    Metric(
        name="new_leads",
        title="New leads",
        stage="nurture",
        formula=r"\#\{u : \min_{e \in \text{lead events of } u} t_e \in \text{month}\}",
        definition="People whose first lead event falls in the month.",
        pitfalls=(
            "Counts volume, not quality — follow it together with the new-lead score "
            "profile and the MQL count. A change in lead capture (a new form) shifts it "
            "without any change in demand."
        ),
        unit="count",
        higher_is_better=True,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.funnel import new_leads\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "a", "b"],\n'
        '...     "ts": ["2026-09-30 09:00", "2026-10-02 10:00", "2026-10-05 12:00"],\n'
        '...     "event": ["lead", "lead", "lead"]})\n'
        '>>> new_leads(events)\n'
        '     month  new_leads\n'
        '0  2026-09          1\n'
        '1  2026-10          1',
    )
)

register(
    Metric(
        name="reopened_leads",
        title="Reopened leads",
        stage="nurture",
        formula=r"\#\{u : \exists e \text{ of } u,\ t_e \in \text{month},\ "
        r"t_{u,\text{first lead}} < t_e \le t_{u,\text{first purchase}},\ "
        r"t_e - t_{\text{prev}(e)} \ge N \text{ days}\}",
        definition=(
            "Leads (people with a lead event, not yet purchased) who had been inactive for "
            "at least N days and engaged again in the month: an event after their first "
            "lead event whose previous event of any kind is N or more days earlier."
        ),
        pitfalls=(
            "Depends on N and on which events count as engagement; tracking gaps (lost "
            "cookies, an outage) create false 'reopenings'."
        ),
        unit="count",
        higher_is_better=True,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.funnel import reopened_leads\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "a", "a"],\n'
        '...     "ts": ["2026-08-01", "2026-08-03", "2026-10-10"],\n'
        '...     "event": ["lead", "page_view", "visit"]})\n'
        '>>> reopened_leads(events, inactive_days=30)\n'
        '     month  reopened_leads\n'
        '0  2026-10               1',
    )
)

register(
    Metric(
        name="lead_score",
        title="Lead score",
        stage="nurture",
        formula=r"\text{score}_u = \sum_{a} w_a [\text{profile}_u(a)] + \sum_{e \in \text{events of } u} w_{\text{event}(e)}",
        definition=(
            "A transparent points score: points for profile attributes (e.g. segment = "
            "enterprise) plus points for each behaviour event (a visit, a signup, a feature "
            "used). The weights are a parameter and every component is shown."
        ),
        pitfalls=(
            "Weights are a judgement, not a fit: check them against later purchases. "
            "Uncapped behaviour points reward heavy browsing; a score without decay keeps "
            "old engagement forever."
        ),
        unit="points",
        higher_is_better=True,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.funnel import MQLOptions, lead_score\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "a", "a"],\n'
        '...     "ts": ["2026-10-01", "2026-10-02", "2026-10-03"],\n'
        '...     "event": ["visit", "signup", "visit"]})\n'
        '>>> points = MQLOptions(behaviour_points={"visit": 1, "signup": 10})\n'
        '>>> lead_score(events, mql=points).to_pandas()[["customer_id", "score"]]\n'
        '  customer_id  score\n'
        '0           a   12.0',
    )
)

register(
    Metric(
        name="mql_count",
        title="Marketing-qualified leads",
        stage="nurture",
        formula=r"\#\{u : t_{\text{MQL}}(u) \in \text{month}\}, \quad t_{\text{MQL}}(u) = "
        r"\min\{t : \text{mql event of } u \text{ at } t\} \text{ (event), or } "
        r"\min\{t \ge t_{u,\text{first lead}} : \text{score}_u(t) \ge \theta\} \text{ (score)}",
        definition=(
            "Leads who became marketing-qualified in the month: their first explicit mql "
            "event, or — when the data has no mql events — the first time their lead score "
            "reached the threshold, at or after their first lead event."
        ),
        pitfalls=(
            "The count moves with the threshold and the weights as much as with demand; "
            "state which definition was used (the mql_method column)."
        ),
        unit="count",
        higher_is_better=True,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.funnel import mql_count\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "b"],\n'
        '...     "ts": ["2026-10-01", "2026-10-02"], "event": ["mql", "lead"]})\n'
        '>>> mql_count(events)\n'
        '     month  mql_count mql_method\n'
        '0  2026-10          1      event',
    )
)

register(
    Metric(
        name="cost_per_mql",
        title="Cost per MQL",
        stage="nurture",
        formula=r"\text{cost per MQL} = \frac{\sum \text{spend in the month}}{\text{MQLs in the month}}",
        definition="Marketing spend of the month divided by the leads who became MQLs in that month.",
        pitfalls=(
            "Spend and the MQLs it causes do not fall in the same month when the sales "
            "cycle is long; a month with few MQLs gives an unstable ratio."
        ),
        unit="currency",
        higher_is_better=False,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.funnel import cost_per_mql\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "b"],\n'
        '...     "ts": ["2026-10-01", "2026-10-02"], "event": ["mql", "mql"]})\n'
        '>>> spend = pd.DataFrame({"date": ["2026-10-01"], "channel": ["social"], "cost": [300.0]})\n'
        '>>> cost_per_mql(events, spend)[["month", "cost", "mql_count", "cost_per_mql"]]\n'
        '     month   cost  mql_count  cost_per_mql\n'
        '0  2026-10  300.0          2         150.0',
    )
)

register(
    Metric(
        name="new_lead_score",
        title="New-lead score profile",
        stage="nurture",
        formula=r"\{\text{score}_u(\text{end of } m) : u \text{ first became a lead in month } m\}",
        definition=(
            "The distribution (median, quartiles, share at or above the MQL threshold) of "
            "the month-end lead scores of the leads created in each month, so that lead "
            "quality can be followed over time and not only lead volume."
        ),
        pitfalls=(
            "Leads created late in a month have had little time to collect behaviour "
            "points by month end; compare months with the same weights only."
        ),
        unit="points",
        higher_is_better=True,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.funnel import MQLOptions, new_lead_score_profile\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "a", "b"],\n'
        '...     "ts": ["2026-10-01", "2026-10-05", "2026-10-09"],\n'
        '...     "event": ["lead", "visit", "lead"]})\n'
        '>>> mql = MQLOptions(behaviour_points={"lead": 10, "visit": 1}, threshold=11)\n'
        '>>> p = new_lead_score_profile(events, mql=mql)\n'
        '>>> p[["month", "leads", "median_score", "numerator", "rate"]]\n'
        '     month  leads  median_score  numerator  rate\n'
        '0  2026-10      2          10.5          1   0.5',
    )
)

register(
    Metric(
        name="sales_cycle_length",
        title="Sales-cycle length",
        stage="nurture",
        formula=r"\operatorname{median}_u c_u, \quad c_u = t_{u,\text{first purchase}} - "
        r"\min\{t_e : e \text{ a touch of } u,\ t_e \le t_{u,\text{first purchase}}\}",
        definition=(
            "For customers whose first purchase falls in the month, the days from their "
            "first recorded touch (first event) to that purchase."
        ),
        pitfalls=(
            "First touch is only as early as tracking reaches: unknown earlier touches make "
            "the cycle look short. Customers still in the cycle are not counted, so the "
            "median of recent months is biased low."
        ),
        unit="days",
        higher_is_better=False,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.funnel import sales_cycle_length\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "a"],\n'
        '...     "ts": ["2026-10-01", "2026-10-11"], "event": ["visit", "purchase"]})\n'
        '>>> sales_cycle_length(events)[["month", "customers", "median_days"]]\n'
        '     month  customers  median_days\n'
        '0  2026-10          1         10.0',
    )
)

register(
    Metric(
        name="ab_difference",
        title="A/B conversion difference",
        stage="acquisition",
        formula=r"\Delta = \hat p_B - \hat p_A \text{ (Newcombe's interval)}, \qquad "
        r"z = \frac{\Delta}{\sqrt{\bar p (1-\bar p)(1/n_A + 1/n_B)}} \text{ (pooled two-proportion test)}",
        definition=(
            "The conversion of group B minus that of group A (two variants, two channels), "
            "with a 95% interval on the difference and a two-sided p-value."
        ),
        pitfalls=(
            "Channels are not randomised: a difference between them is an observation, "
            "not an effect. Looking at many comparisons (or peeking daily) inflates false "
            "positives; an interval that includes 0 means 'no detectable difference', not "
            "'no difference'."
        ),
        unit="rate",
        higher_is_better=None,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.funnel import ab_comparison\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c"],\n'
        '...     "ts": ["2026-10-01", "2026-10-02", "2026-10-01", "2026-10-01", "2026-10-03"],\n'
        '...     "event": ["visit", "signup", "visit", "visit", "signup"],\n'
        '...     "variant": ["A", None, "A", "B", None]})\n'
        '>>> r = ab_comparison(events, ["visit", "signup"], by="variant", a="A", b="B")\n'
        '>>> float(r.rate_a[0]), float(r.rate_b[0]), float(r.difference[0])\n'
        '(0.5, 1.0, 0.5)',
        reference="Newcombe (1998), Statistics in Medicine 17, 873-890.",
    )
)

register(
    Metric(
        name="funnel_trend",
        title="Funnel conversion trend",
        stage="acquisition",
        formula=r"\text{conversion}_p = \frac{\#\{u : \text{entry}_u \in p,\ u \text{ reaches the last step within "
        r"the window}\}}{\#\{u : \text{entry}_u \in p\}}",
        definition=(
            "The funnel's conversion for the people who entered in each day, week or month "
            "p, with its 95% interval: whether the funnel converts better or worse over "
            "time. Periods are read on the report's time zone (UTC unless one is set); the "
            "people of a period are those whose entry falls in it, wherever their later "
            "steps fall."
        ),
        pitfalls=(
            "The latest periods are not settled: their entrants may still convert inside "
            "their window, so the line seems to drop at its end — read only complete "
            "periods. Short periods have few entrants and wide intervals (flagged under 30). "
            "A day or week boundary moves with the time zone, so a UTC trend and a local one "
            "disagree near midnight."
        ),
        unit="rate",
        higher_is_better=True,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.funnel import funnel_trends\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c"],\n'
        '...     "ts": ["2026-10-01 09:00", "2026-10-02 10:00", "2026-10-02 12:00",\n'
        '...            "2026-10-06 08:00", "2026-10-07 09:00"],\n'
        '...     "event": ["visit", "signup", "visit", "visit", "signup"]})\n'
        '>>> t = funnel_trends(events, ["visit", "signup"], period="W", window="7D", as_of="2026-11-01")\n'
        '>>> t[["period", "numerator", "denominator", "rate", "complete"]]\n'
        '                  period  numerator  denominator  rate  complete\n'
        '0  2026-09-28/2026-10-04          1            2   0.5      True\n'
        '1  2026-10-05/2026-10-11          1            1   1.0      True',
        reference="Amplitude, Mixpanel and PostHog funnel trends (conversion over time by entry date).",
    )
)

register(
    Metric(
        name="funnel_exclusion",
        title="Funnel conversion with exclusion steps",
        stage="acquisition",
        formula=r"\text{conversion}_k = \frac{\#\{u \in E : u \text{ reaches step } k\}}{\# E}, \quad "
        r"E = \{u \text{ entered} : \text{no excluded event of } u \text{ strictly between its matched steps } i "
        r"\text{ and } j\}",
        definition=(
            "The funnel's conversion after dropping everyone who did an excluded event (a "
            "support ticket, a refund, a competitor's page) between two of their matched "
            "steps — by default from the entry to the last step; for someone who never "
            "reaches the exclusion's end step, up to the end of their window. Excluded "
            "people leave the funnel entirely, entry step included, as PostHog and Mixpanel "
            "drop them."
        ),
        pitfalls=(
            "Dropping people changes the denominator: conversion with an exclusion is not "
            "comparable with conversion without it, and excluding an event that follows "
            "conversion (a refund after the purchase) removes exactly the converters it "
            "follows. The excluded are counted nowhere: say how many there were."
        ),
        unit="rate",
        higher_is_better=True,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.funnel import funnel\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "b", "c"],\n'
        '...     "ts": ["2026-10-01 09:00", "2026-10-02 10:00", "2026-10-01 12:00", "2026-10-01 13:00",\n'
        '...            "2026-10-03 08:00", "2026-10-03 09:00"],\n'
        '...     "event": ["visit", "signup", "visit", "support_ticket", "signup", "visit"]})\n'
        '>>> funnel(events, ["visit", "signup"], exclusions=["support_ticket"])[["step", "users", "conversion"]]\n'
        '     step  users  conversion\n'
        '0   visit      2         1.0\n'
        '1  signup      1         0.5',
        reference="PostHog docs, Funnels: exclusion steps; Mixpanel docs, Funnels: exclusion steps.",
    )
)

register(
    Metric(
        name="breakdown_attribution",
        title="Funnel conversion by an attributed breakdown",
        stage="acquisition",
        formula=r"\text{conversion}_g = \frac{\#\{u : g \in G(u),\ u \text{ converts}\}}{\#\{u : g \in G(u)\}}, "
        r"\quad G(u) = \{v(e_u)\} \text{ for the first (first touch), last (last touch) or step-}k"
        r"\text{ funnel event } e_u \text{ of } u \text{ with a value (all of them with all)}",
        definition=(
            "Conversion per value of a breakdown column (channel, campaign) when a person's "
            "funnel events carry different values: first touch takes the first non-empty "
            "value among their matched funnel events, last touch the last, step k the value "
            "at that step, and 'all' counts the person once under each value they had."
        ),
        pitfalls=(
            "The rule decides the answer: first touch credits the channels that bring "
            "people in, last touch those that close. With 'all' a person sits in several "
            "groups, so the groups' entrants add up to more than the funnel's. Values "
            "seen only after a person dropped out are never used. A breakdown limit pools "
            "the smallest groups as 'other'."
        ),
        unit="rate",
        higher_is_better=True,
        example='>>> import pandas as pd\n'
        '>>> from kpilib.funnel import conversion_rate\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c"],\n'
        '...     "ts": ["2026-10-01 09:00", "2026-10-02 10:00", "2026-10-01 12:00", "2026-10-02 12:00",\n'
        '...            "2026-10-01 08:00"],\n'
        '...     "event": ["visit", "signup", "visit", "signup", "visit"],\n'
        '...     "channel": ["social", "email", None, "email", "social"]})\n'
        '>>> last = conversion_rate(events, ["visit", "signup"], by="channel", attribution="last_touch")\n'
        '>>> last[["channel", "numerator", "denominator", "rate"]]\n'
        '  channel  numerator  denominator  rate\n'
        '0   email          2            2   1.0\n'
        '1  social          0            1   0.0\n'
        '>>> every = conversion_rate(events, ["visit", "signup"], by="channel", attribution="all")\n'
        '>>> every[["channel", "numerator", "denominator", "rate"]]\n'
        '  channel  numerator  denominator  rate\n'
        '0   email          2            2   1.0\n'
        '1  social          1            2   0.5',
        reference="Mixpanel docs, Funnels: attribution (first touch, last touch, any step); "
        "Amplitude docs, funnel breakdowns by first or last touch.",
    )
)
