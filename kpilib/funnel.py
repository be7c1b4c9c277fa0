"""Funnel conversion and lead nurture.

The acquisition funnel (visit → signup → lead → … → purchase) and the nurture stage
(new leads, reopened leads, MQLs, lead score, sales-cycle length), computed on the
``events`` table of the data contract.

Every aggregation over raw events is **one Ibis expression** that runs in the engine
(DuckDB for files and DataFrames, the warehouse for a connection); only the small,
per-step or per-month result comes back as pandas, where the rates get their
numerator, denominator and Wilson interval (:func:`kpilib.stats.rate_frame`).

How a user moves through a funnel
---------------------------------
``steps`` is a list of event names, e.g. ``["visit", "signup", "purchase"]``.

* **Entry.** A user enters at their *first* step-1 event whose time is in
  ``[start, end)``. The conversion window runs from that event for ``window``
  (``[entry, entry + window)``); later step-1 events do not restart it.
* **Matching (``order="ordered"``, the default).** Steps are matched greedily, earliest
  first: the step-*k* event is the earliest event named ``steps[k-1]`` that is inside
  the window, not earlier than the step-*k-1* event (equal timestamps count as in
  order) and not already matched to an earlier step (a step listed twice needs two
  distinct events). A user reaches step *k* when steps 1..k are all matched. This greedy
  rule finds a match whenever *any* assignment of distinct, time-ordered events exists
  (events of one name at one instant are interchangeable, so taking the earliest never
  hurts a later step), and it gives each step the earliest possible time.
* **``order="strict"``** uses the same greedy match and additionally requires that no
  other funnel-step event (an event whose name is one of ``steps``) lies *strictly*
  between the matched events of consecutive steps. Events tied in time with a matched
  event are not "between". A repeated step-1 event (a second visit before signing up)
  therefore breaks a strict funnel.
* **``order="any"``**: a user reaches step *k* when each event name of steps 1..k occurs
  inside the window at least as often as it is listed among steps 1..k (the entry event
  counts for step 1); their order does not matter.
* **Open windows.** A user whose window has not closed by the end of the data
  (``as_of``, exclusive; by default :func:`kpilib.periods.default_cutoff` of the latest
  event — the whole last day is data) is counted and flagged in ``users_window_open``;
  pass ``complete_only=True`` to count only users whose window has closed.
* **Breakdowns** (``by``) take the value of the entry event (e.g. the traffic channel
  of the first visit).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from kpilib.data import DataError, as_table, column_list, exact_sum, require_columns
from kpilib.metrics import Metric, computes, register
from kpilib.periods import (
    default_cutoff,
    duration_seconds,
    duration_text,
    month_bounds,
    previous_month,
    time_filter,
    to_utc,
)
from kpilib.stats import SMALL_DENOMINATOR, compare_proportions, rate_frame

__all__ = [
    "DEFAULT_BEHAVIOUR_POINTS",
    "DEFAULT_MQL_THRESHOLD",
    "TimeToConvert",
    "ab_comparison",
    "conversion_rate",
    "cost_per_mql",
    "describe_funnel",
    "drop_off",
    "funnel",
    "funnel_users",
    "headline_metrics",
    "landing_page_conversion",
    "lead_score",
    "mql_count",
    "new_lead_score_profile",
    "new_leads",
    "nurture_summary",
    "reopened_leads",
    "sales_cycle_length",
    "time_to_convert",
]

Order = Literal["ordered", "strict", "any"]
WindowLike = str | pd.Timedelta | int
TimeLike = str | pd.Timestamp | None

#: Behaviour points of the default lead score, per event. Transparent on purpose: the
#: score of a lead is the sum of these over their events plus their profile points.
DEFAULT_BEHAVIOUR_POINTS: dict[str, float] = {
    "visit": 1,
    "page_view": 1,
    "signup": 10,
    "lead": 10,
    "feature_use": 3,
    "share": 5,
}

#: A lead whose score reaches this is a marketing-qualified lead (when the data has no
#: explicit ``mql`` event).
DEFAULT_MQL_THRESHOLD = 40

_UTC = dt.Timestamp(timezone="UTC")
_DAY_SECONDS = 86_400.0
_QUANTILES = {"p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.9}

# ---------------------------------------------------------------------------------------
# The metric records (written once; the glossary and the report read them)
# ---------------------------------------------------------------------------------------

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
        formula=r"\#\{u \text{ lead} : \exists e,\ t_e \in \text{month},\ t_e - t_{\text{prev}(e)} \ge N \text{ days}\}",
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
        '>>> from kpilib.funnel import lead_score\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "a", "a"],\n'
        '...     "ts": ["2026-10-01", "2026-10-02", "2026-10-03"],\n'
        '...     "event": ["visit", "signup", "visit"]})\n'
        '>>> lead_score(events, behaviour_points={"visit": 1, "signup": 10}).to_pandas()[["customer_id", "score"]]\n'
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
        r"\min\{t : \text{mql event, or } \text{score}_u(t) \ge \theta \text{ after the lead event}\}",
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
        '>>> from kpilib.funnel import new_lead_score_profile\n'
        '>>> events = pd.DataFrame({"customer_id": ["a", "a", "b"],\n'
        '...     "ts": ["2026-10-01", "2026-10-05", "2026-10-09"],\n'
        '...     "event": ["lead", "visit", "lead"]})\n'
        '>>> p = new_lead_score_profile(events, behaviour_points={"lead": 10, "visit": 1}, threshold=11)\n'
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
        formula=r"\operatorname{median}_u \left(t_{u,\text{first purchase}} - t_{u,\text{first touch}}\right)",
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
        formula=r"\hat p_B - \hat p_A \text{ with Newcombe's interval and the pooled two-proportion } z\text{-test}",
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


# ---------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------


def _check_steps(steps: Sequence[str]) -> list[str]:
    if isinstance(steps, str):
        raise ValueError(f"steps must be a list of event names, got the string {steps!r}; try [{steps!r}, ...]")
    steps = list(steps)
    if not steps:
        raise ValueError("steps is empty; give at least one event name, e.g. ['visit', 'signup']")
    bad = [s for s in steps if not isinstance(s, str) or not s]
    if bad:
        raise ValueError(f"every step must be a non-empty event name (str); got {bad!r}")
    return steps


def _check_order(order: str) -> str:
    if order not in ("ordered", "strict", "any"):
        raise ValueError(f"order must be 'ordered', 'strict' or 'any', got {order!r}")
    return order


def _step_index(reference: int | str, steps: list[str], what: str) -> int:
    """1-based index of a step given by position (1-based, negative from the end) or name."""
    if isinstance(reference, str):
        if reference not in steps:
            raise ValueError(f"{what} {reference!r} is not one of the steps {steps}")
        return steps.index(reference) + 1
    index = int(reference)
    if index < 0:
        index = len(steps) + 1 + index
    if not 1 <= index <= len(steps):
        raise ValueError(f"{what} must be a step name or a position 1..{len(steps)}, got {reference!r}")
    return index


def _month_label(column: ibis.Value) -> ibis.Value:
    return column.strftime("%Y-%m")


def _complete_months(frame: pd.DataFrame, columns: Sequence[str], start: pd.Timestamp | None,
                     end: pd.Timestamp | None) -> pd.DataFrame:
    """Months without a row get zeros, from ``start`` (or the first month) to ``end``."""
    if frame.empty and (start is None or end is None):
        return frame.reindex(columns=["month", *columns])
    first = pd.Period(start.tz_localize(None), "M") if start is not None else pd.Period(frame.month.min(), "M")
    if end is not None:
        last = pd.Period((end - pd.Timedelta(microseconds=1)).tz_localize(None), "M")
    else:
        last = pd.Period(frame.month.max(), "M")
    months = [str(p) for p in pd.period_range(first, last, freq="M")]
    out = frame.set_index("month").reindex(months).rename_axis("month").reset_index()
    out[list(columns)] = out[list(columns)].fillna(0).astype("int64")
    return out


# ---------------------------------------------------------------------------------------
# The funnel: one expression per question
# ---------------------------------------------------------------------------------------


def _step_column(k: int) -> str:
    return f"step_{k}_at"


def _reached_column(k: int) -> str:
    return f"reached_{k}"


def funnel_users(
    events: ibis.Table | pd.DataFrame,
    steps: Sequence[str],
    *,
    window: WindowLike = "14D",
    order: Order = "ordered",
    by: str | Sequence[str] | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    customers: ibis.Table | pd.DataFrame | None = None,
) -> ibis.Table:
    """One row per user who entered the funnel, with the matched time of each step.

    The building block of :func:`funnel`, :func:`time_to_convert` and the rest; it is
    a lazy Ibis expression (nothing runs until you call ``.to_pandas()`` or aggregate).
    The matching rules are in the module documentation (:mod:`kpilib.funnel`).

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table of the data contract.
    steps : list of str
        Event names, in funnel order; a name may repeat.
    window : str, pandas.Timedelta or int, default "14D"
        Conversion window from the entry event (an int is days).
    order : {"ordered", "strict", "any"}, default "ordered"
        How steps must follow each other.
    by : str or list of str, optional
        Columns of ``events`` whose value at the entry event is kept; a column the events
        lack is taken from ``customers`` (the person's attribute) when it has it.
    start, end : str or pandas.Timestamp, optional
        Users enter at their first step-1 event in ``[start, end)`` (UTC). Later steps may
        fall after ``end``, inside the window.
    as_of : str or pandas.Timestamp, optional
        The end of the data (exclusive): events at or after it are ignored and windows
        ending after it are open. Default: :func:`kpilib.periods.default_cutoff` of the
        latest event, the start of the day after it.
    customers : ibis.Table or pandas.DataFrame, optional
        The customers table, for ``by`` columns that are customer attributes (a CRM export
        records the acquisition channel on the lead, not on its events); people without a
        customers row get a null group.

    Returns
    -------
    ibis.Table
        ``customer_id``, the ``by`` columns, ``window_end``, ``window_open``, and for each
        step *k* ``reached_k`` (bool) and, unless ``order="any"``, ``step_k_at`` (the matched
        event time; null when not reached).

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "a"],
    ...     "ts": ["2026-10-01", "2026-10-03", "2026-10-04"],
    ...     "event": ["visit", "visit", "signup"]})
    >>> users = funnel_users(events, ["visit", "signup"], window="7D").to_pandas()
    >>> users[["customer_id", "step_1_at", "step_2_at", "reached_2"]]
      customer_id                 step_1_at                 step_2_at  reached_2
    0           a 2026-10-01 00:00:00+00:00 2026-10-04 00:00:00+00:00       True
    """
    events = as_table(events, "events")
    steps = _check_steps(steps)
    order = _check_order(order)
    by_all = column_list(by)
    people = as_table(customers, "customers") if customers is not None else None
    from_customers = [c for c in by_all if c not in events.columns and people is not None and c in people.columns]
    by = [c for c in by_all if c not in from_customers]
    require_columns(events, by, "events", "the breakdown" if people is None else "the breakdown (events or customers)")
    window_seconds = int(duration_seconds(window))
    start, end, as_of = to_utc(start), to_utc(end), to_utc(as_of)

    columns = ["customer_id", "ts", "event", *[c for c in by if c not in ("customer_id", "ts", "event")]]
    named = events.select(*columns)
    if as_of is not None:
        named = named.filter(named.ts < as_of)
        data_end = ibis.literal(as_of, type=_UTC)
    else:
        data_end = default_cutoff(events.ts.max()).as_scalar()

    # Entry: the first step-1 event in [start, end); ties broken by the breakdown values.
    candidates = time_filter(named.filter(named.event == steps[0]), "ts", start, end)
    rank = ibis.row_number().over(
        group_by=candidates.customer_id, order_by=[candidates.ts, *[candidates[c] for c in by]]
    )
    candidates = candidates.mutate(entry_rank=rank)
    entries = candidates.filter(candidates.entry_rank == 0)
    users = entries.select(
        "customer_id",
        *by,
        **{_step_column(1): entries.ts},
        window_end=entries.ts + ibis.interval(seconds=window_seconds),
    )
    if from_customers:
        attributes = people.select(a_customer_id=people.customer_id, **{c: people[c] for c in from_customers})
        joined = users.left_join(attributes, users.customer_id == attributes.a_customer_id)
        users = joined.select("customer_id", *by_all, _step_column(1), "window_end")
    users = users.mutate(window_open=users.window_end > data_end)

    # Events that can match a step, with their multiplicity per (user, name, instant):
    # events of one name at one instant are interchangeable, so a count replaces ids.
    step_events = (
        named.filter(named.event.isin(sorted(set(steps))))
        .group_by(["customer_id", "event", "ts"])
        .agg(n=ibis._.count())
        .rename(e_customer_id="customer_id", e_event="event", e_ts="ts", e_n="n")
    )

    if order == "any":
        return _match_any_order(users, step_events, steps)
    return _match_in_order(users, step_events, steps, strict=order == "strict")


def _match_in_order(users: ibis.Table, step_events: ibis.Table, steps: list[str], strict: bool) -> ibis.Table:
    """Greedy earliest match of steps 2..n, one join + aggregate per step."""
    users = users.mutate(**{_reached_column(1): ibis.literal(True)})
    for k in range(2, len(steps) + 1):
        name, previous = steps[k - 1], _step_column(k - 1)
        same_name_before = [j for j in range(1, k) if steps[j - 1] == name]
        left = users.filter(users[previous].notnull()).select(
            "customer_id", "window_end", *{previous, *[_step_column(j) for j in same_name_before]}
        )
        right = step_events if strict else step_events.filter(step_events.e_event == name)
        joined = left.join(
            right,
            [
                left.customer_id == right.e_customer_id,
                right.e_ts >= left[previous],
                right.e_ts < left.window_end,
            ],
        )
        # Events of this name at exactly the previous step's instant that earlier steps
        # already used; later instants cannot have been used (matches are time-ordered).
        used_here = sum(
            (joined[_step_column(j)] == joined[previous]).cast("int64") for j in same_name_before
        ) if same_name_before else ibis.literal(0)
        eligible = (joined.e_event == name) & ((joined.e_ts > joined[previous]) | (joined.e_n > used_here))
        matched = joined.group_by(joined.customer_id).agg(
            hit=joined.e_ts.min(where=eligible),
            next_step_event=joined.e_ts.min(where=joined.e_ts > joined[previous]),
        )
        hit = matched.hit
        if strict:
            hit = ibis.ifelse(matched.next_step_event < matched.hit, ibis.null(_UTC), matched.hit)
        matched = matched.select(m_customer_id=matched.customer_id, m_hit=hit)
        users = users.left_join(matched, users.customer_id == matched.m_customer_id)
        users = users.select(
            *[c for c in users.columns if c not in ("m_customer_id", "m_hit")],
            **{_step_column(k): users.m_hit, _reached_column(k): users.m_hit.notnull()},
        )
    return users


def _match_any_order(users: ibis.Table, step_events: ibis.Table, steps: list[str]) -> ibis.Table:
    """Per-name event counts inside the window; step k needs each name as often as listed."""
    names = sorted(set(steps))
    joined = users.join(
        step_events,
        [
            users.customer_id == step_events.e_customer_id,
            step_events.e_ts >= users[_step_column(1)],
            step_events.e_ts < users.window_end,
        ],
    )
    counts = joined.group_by(joined.customer_id).agg(
        **{f"n_{i}": joined.e_n.sum(where=joined.e_event == name) for i, name in enumerate(names)}
    )
    counts = counts.rename(c_customer_id="customer_id")
    users = users.left_join(counts, users.customer_id == counts.c_customer_id)
    reached = {}
    for k in range(1, len(steps) + 1):
        needed = Counter(steps[:k])
        condition = ibis.literal(True)
        for i, name in enumerate(names):
            if needed[name]:
                condition &= users[f"n_{i}"].fill_null(0) >= needed[name]
        reached[_reached_column(k)] = condition
    keep = [c for c in users.columns if c != "c_customer_id" and not c.startswith("n_")]
    return users.select(*keep, **reached)


def _funnel_counts(users: ibis.Table, n_steps: int, by: list[str], complete_only: bool) -> pd.DataFrame:
    """Users reaching each step, and those of them with an open window, per group."""
    if complete_only:
        users = users.filter(~users.window_open)
    aggregates = {}
    for k in range(1, n_steps + 1):
        reached = users[_reached_column(k)]
        aggregates[f"users_{k}"] = reached.cast("int64").sum()
        aggregates[f"open_{k}"] = (reached & users.window_open).cast("int64").sum()
    summary = users.group_by(by).agg(**aggregates) if by else users.aggregate(**aggregates)
    counts = summary.to_pandas()
    value_columns = [c for c in counts.columns if c not in by]
    counts[value_columns] = counts[value_columns].astype("float64").fillna(0).astype("int64")
    if by:
        counts = counts.sort_values(by, na_position="last", ignore_index=True)
    return counts


def _long_funnel(counts: pd.DataFrame, steps: list[str], by: list[str]) -> pd.DataFrame:
    rows = []
    for _, group in counts.iterrows():
        for k, name in enumerate(steps, start=1):
            rows.append(
                {
                    **{c: group[c] for c in by},
                    "step_index": k,
                    "step": name,
                    "users": int(group[f"users_{k}"]),
                    "previous_users": int(group[f"users_{k - 1}"]) if k > 1 else int(group["users_1"]),
                    "entered": int(group["users_1"]),
                    "users_window_open": int(group[f"open_{k}"]),
                }
            )
    long = pd.DataFrame(
        rows, columns=[*by, "step_index", "step", "users", "previous_users", "entered", "users_window_open"]
    )
    overall = rate_frame(long["users"], long["entered"])
    step = rate_frame(long["users"], long["previous_users"])
    return pd.DataFrame(
        {
            **{c: long[c] for c in by},
            "step_index": long["step_index"].astype("int64"),
            "step": long["step"],
            "users": long["users"].astype("int64"),
            "conversion": overall["rate"].to_numpy(),
            "step_conversion": step["rate"].to_numpy(),
            "ci_low": overall["ci_low"].to_numpy(),
            "ci_high": overall["ci_high"].to_numpy(),
            "step_ci_low": step["ci_low"].to_numpy(),
            "step_ci_high": step["ci_high"].to_numpy(),
            "entered": long["entered"].astype("int64"),
            "small_sample": overall["small_sample"].to_numpy(),
            "users_window_open": long["users_window_open"].astype("int64"),
            "window_complete": (long["users_window_open"] == 0).to_numpy(),
        }
    )


@computes("conversion_rate", "step_conversion_rate")
def funnel(
    events: ibis.Table | pd.DataFrame,
    steps: Sequence[str],
    *,
    window: WindowLike = "14D",
    order: Order = "ordered",
    by: str | Sequence[str] | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    complete_only: bool = False,
    customers: ibis.Table | pd.DataFrame | None = None,
) -> pd.DataFrame:
    r"""Conversion through an ordered list of steps, with intervals, per step.

    A user enters at their first ``steps[0]`` event in ``[start, end)``; the window runs
    ``window`` from that event and later step-1 events do not restart it. Step *k* is
    reached when events matching steps 1..k occur in that order inside the window, each
    not earlier than the previous one (equal timestamps count as in order) and each a
    distinct event (a step listed twice needs two events). Matching is greedy, earliest
    first, which finds a match whenever one exists. ``order="strict"`` also forbids any
    other funnel-step event strictly between consecutive matched events;
    ``order="any"`` only needs the events inside the window in any order. Details in
    the module documentation. The counting is one Ibis expression run in the engine.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table (``customer_id``, ``ts``, ``event`` and any extras).
    steps : list of str
        Event names in funnel order, e.g. ``["visit", "signup", "purchase"]``.
    window : str, pandas.Timedelta or int, default "14D"
        Conversion window from the entry event (an int is days).
    order : {"ordered", "strict", "any"}, default "ordered"
        How steps must follow each other.
    by : str or list of str, optional
        Breakdown columns of ``events``, valued at the entry event.
    start, end : str or pandas.Timestamp, optional
        Entry period ``[start, end)``, UTC. Default: all entries.
    as_of : str or pandas.Timestamp, optional
        End of the data, exclusive (default: the day after the latest event's day);
        windows ending later are open.
    complete_only : bool, default False
        Count only users whose window has closed by ``as_of``.
    customers : ibis.Table or pandas.DataFrame, optional
        For ``by`` columns the events lack (see :func:`funnel_users`).

    Returns
    -------
    pandas.DataFrame
        One row per step (and ``by`` group): the ``by`` columns, ``step_index`` (1-based),
        ``step``, ``users`` (reaching the step), ``conversion`` (from step 1),
        ``step_conversion`` (from the previous step), ``ci_low``/``ci_high`` (95% Wilson on
        ``conversion``), ``step_ci_low``/``step_ci_high`` (on ``step_conversion``),
        ``entered`` (the denominator of ``conversion``), ``small_sample`` (entered < 30),
        ``users_window_open`` (of ``users``, how many still have an open window) and
        ``window_complete`` (no open window in the row).

    Raises
    ------
    DataError
        When ``events`` lacks a required column or a ``by`` column.

    Notes
    -----
    With :math:`E` the entering users and :math:`R_k` those reaching step :math:`k`,

    .. math::

        \text{conversion}_k = \frac{|R_k|}{|E|}, \qquad
        \text{step conversion}_k = \frac{|R_k|}{|R_{k-1}|}, \qquad R_1 = E .

    Conversion never increases along the steps. Recent entrants whose window is still
    open pull conversion down; read ``users_window_open`` or use ``complete_only``.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "b", "c"],
    ...     "ts": ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-01", "2026-10-20",
    ...            "2026-10-10"],
    ...     "event": ["visit", "signup", "purchase", "visit", "signup", "visit"]})
    >>> f = funnel(events, ["visit", "signup", "purchase"], window="14D")

    ``b`` signed up after the window; ``c``'s window (from 10-10) is still open at the end
    of the data (10-20):

    >>> f[["step", "users", "conversion", "step_conversion", "users_window_open"]]
           step  users  conversion  step_conversion  users_window_open
    0     visit      3    1.000000         1.000000                  1
    1    signup      1    0.333333         0.333333                  0
    2  purchase      1    0.333333         1.000000                  0
    """
    steps = _check_steps(steps)
    by_columns = column_list(by)
    users = funnel_users(events, steps, window=window, order=order, by=by_columns, start=start, end=end,
                         as_of=as_of, customers=customers)
    counts = _funnel_counts(users, len(steps), by_columns, complete_only)
    return _long_funnel(counts, steps, by_columns)


def describe_funnel(steps: Sequence[str], *, window: WindowLike = "14D", order: Order = "ordered") -> str:
    """How people enter and move through the funnel, in Markdown, from its parameters.

    The notebook's prose about the funnel comes from here, so it names the steps and the
    window actually used.

    Examples
    --------
    >>> print(describe_funnel(["mql", "sql", "won"], window="30D"))
    People enter at their **first** `mql` of the month; from that moment they have 30 days (the conversion window) to take each next step — `sql`, then `won` — in that order (other events may come in between).
    >>> print(describe_funnel(["visit"], window="36h"))
    People enter at their **first** `visit` of the month; a one-step funnel counts the entrants only.
    """
    steps = _check_steps(steps)
    order = _check_order(order)
    duration_seconds(window)  # a window that is no duration is refused by name
    entry = f"People enter at their **first** `{steps[0]}` of the month"
    if len(steps) == 1:
        return f"{entry}; a one-step funnel counts the entrants only."
    rest = [f"`{s}`" for s in steps[1:]]
    how = {
        "ordered": "in that order (other events may come in between)",
        "strict": "in that order, with no other step event in between",
        "any": "in any order",
    }[order]
    listed = rest[0] if len(rest) == 1 else ", ".join(rest[:-1]) + f", then {rest[-1]}"
    next_steps = f"the next step, {listed}," if len(rest) == 1 else f"each next step — {listed} —"
    return (f"{entry}; from that moment they have {duration_text(window, 'window')} (the conversion window) to take "
            f"{next_steps} {how}.")


@computes("conversion_rate")
def conversion_rate(
    events: ibis.Table | pd.DataFrame,
    steps: Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    to_step: int | str = -1,
    window: WindowLike = "14D",
    order: Order = "ordered",
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    complete_only: bool = False,
    customers: ibis.Table | pd.DataFrame | None = None,
) -> pd.DataFrame:
    r"""Conversion from the first step to ``to_step`` (default the last), per group.

    Same rules as :func:`funnel`, reported as one rate per ``by`` group.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    steps : list of str
        Funnel steps.
    by : str or list of str, optional
        Breakdown columns of ``events`` (value at entry), or of ``customers``.
    to_step : int or str, default -1
        The step converted to: a 1-based position, a negative position from the end, or
        a step name.
    window, order, start, end, as_of, complete_only, customers
        As in :func:`funnel`.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``numerator`` (users reaching ``to_step``), ``denominator``
        (entering users), ``rate``, ``ci_low``, ``ci_high``, ``small_sample`` (denominator
        under 30) and ``users_window_open`` (entrants whose window is still open).

    Notes
    -----
    .. math::

        \text{conversion} = \frac{|R_{\text{to}}|}{|E|}

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "ts": ["2026-10-01", "2026-10-02", "2026-10-01"],
    ...     "event": ["visit", "signup", "visit"], "channel": ["social", None, "email"]})
    >>> conversion_rate(events, ["visit", "signup"], by="channel")[["channel", "numerator", "denominator", "rate"]]
      channel  numerator  denominator  rate
    0   email          0            1   0.0
    1  social          1            1   1.0
    """
    steps = _check_steps(steps)
    target = _step_index(to_step, steps, "to_step")
    by_columns = column_list(by)
    table = funnel(events, steps, window=window, order=order, by=by_columns, start=start, end=end,
                   as_of=as_of, complete_only=complete_only, customers=customers)
    entered = table[table.step_index == 1].reset_index(drop=True)
    reached = table[table.step_index == target].reset_index(drop=True)
    rates = rate_frame(reached["users"], entered["users"])
    out = pd.concat([reached[by_columns], rates], axis=1)
    out["users_window_open"] = entered["users_window_open"].to_numpy()
    return out


@computes("drop_off_rate")
def drop_off(funnel_table: pd.DataFrame) -> pd.DataFrame:
    r"""Drop-off between consecutive steps of a :func:`funnel` result.

    Parameters
    ----------
    funnel_table : pandas.DataFrame
        The result of :func:`funnel` (any ``by`` columns are kept).

    Returns
    -------
    pandas.DataFrame
        One row per step transition: the ``by`` columns, ``from_step``, ``to_step``,
        ``users_from``, ``users_to``, ``dropped``, ``drop_off_rate`` with its Wilson
        interval ``ci_low``/``ci_high`` and ``small_sample`` (``users_from`` under 30).

    Notes
    -----
    .. math::

        \text{drop-off}_k = \frac{|R_{k-1}| - |R_k|}{|R_{k-1}|}

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"step_index": [1, 2, 3], "step": ["visit", "signup", "buy"],
    ...                       "users": [100, 40, 10]})
    >>> drop_off(table)[["from_step", "to_step", "dropped", "drop_off_rate"]]
      from_step to_step  dropped  drop_off_rate
    0     visit  signup       60           0.60
    1    signup     buy       30           0.75
    """
    required = {"step_index", "step", "users"}
    missing = required - set(funnel_table.columns)
    if missing:
        raise ValueError(f"drop_off needs the result of funnel(); missing columns {sorted(missing)}")
    known = {"step_index", "step", "users", "conversion", "step_conversion", "ci_low", "ci_high",
             "step_ci_low", "step_ci_high", "entered", "small_sample", "users_window_open",
             "window_complete"}
    by = [c for c in funnel_table.columns if c not in known]
    ordered = funnel_table.sort_values([*by, "step_index"], na_position="last")
    groups = ordered.groupby(by, sort=False, dropna=False) if by else [((), ordered)]
    rows = []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        group = group.reset_index(drop=True)
        for i in range(1, len(group)):
            rows.append(
                {
                    **dict(zip(by, key, strict=True)),
                    "from_step": group.step[i - 1],
                    "to_step": group.step[i],
                    "users_from": int(group.users[i - 1]),
                    "users_to": int(group.users[i]),
                }
            )
    out = pd.DataFrame(rows, columns=[*by, "from_step", "to_step", "users_from", "users_to"])
    out["dropped"] = out.users_from - out.users_to
    rates = rate_frame(out["dropped"], out["users_from"])
    out["drop_off_rate"] = rates["rate"].to_numpy()
    out["ci_low"] = rates["ci_low"].to_numpy()
    out["ci_high"] = rates["ci_high"].to_numpy()
    out["small_sample"] = rates["small_sample"].to_numpy()
    return out


@dataclass
class TimeToConvert:
    """Result of :func:`time_to_convert`.

    Attributes
    ----------
    summary : pandas.DataFrame
        Per ``by`` group: ``converters``, ``mean_days``, ``p25_days``, ``median_days``,
        ``p75_days``, ``p90_days``.
    histogram : pandas.DataFrame
        Per ``by`` group and bin: ``bin_start_days``, ``bin_end_days``, ``users``.
    from_step, to_step : str
        The two steps, labelled ``"1. visit"`` etc.
    """

    summary: pd.DataFrame
    histogram: pd.DataFrame
    from_step: str
    to_step: str

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()


@computes("time_to_convert")
def time_to_convert(
    events: ibis.Table | pd.DataFrame,
    steps: Sequence[str],
    *,
    from_step: int | str = 1,
    to_step: int | str = -1,
    window: WindowLike = "14D",
    order: Literal["ordered", "strict"] = "ordered",
    by: str | Sequence[str] | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    complete_only: bool = False,
    bins: int = 28,
) -> TimeToConvert:
    r"""Time between two funnel steps for the users who reach both.

    Uses the greedy earliest match of :func:`funnel`; the durations, their quantiles and
    the histogram are computed in the engine.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    steps : list of str
        Funnel steps.
    from_step, to_step : int or str, default 1 and -1
        1-based positions (negative from the end) or step names.
    window, order, by, start, end, as_of, complete_only
        As in :func:`funnel` (``order="any"`` has no step times and is refused).
    bins : int, default 28
        Histogram bins of equal width spanning the window.

    Returns
    -------
    TimeToConvert
        ``summary`` and ``histogram`` frames (days).

    Notes
    -----
    For each converter :math:`u`, :math:`d_u = t_{u,\text{to}} - t_{u,\text{from}}` in days;
    the summary reports the mean and the 25th, 50th, 75th and 90th percentiles
    (linear interpolation, like ``numpy.quantile``).

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b", "b"],
    ...     "ts": ["2026-10-01", "2026-10-02", "2026-10-01", "2026-10-04"],
    ...     "event": ["visit", "signup", "visit", "signup"]})
    >>> result = time_to_convert(events, ["visit", "signup"], window="7D", bins=7)
    >>> result.summary[["converters", "mean_days", "median_days"]]
       converters  mean_days  median_days
    0           2        2.0          2.0
    >>> result.histogram.users.tolist()
    [0, 1, 0, 1, 0, 0, 0]
    """
    steps = _check_steps(steps)
    if order == "any":
        raise ValueError("time_to_convert needs ordered steps; use order='ordered' or 'strict'")
    first, last = _step_index(from_step, steps, "from_step"), _step_index(to_step, steps, "to_step")
    if last <= first:
        raise ValueError(f"to_step ({to_step!r}) must come after from_step ({from_step!r})")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    by_columns = column_list(by)
    users = funnel_users(events, steps, window=window, order=order, by=by_columns, start=start, end=end,
                         as_of=as_of)
    if complete_only:
        users = users.filter(~users.window_open)
    users = users.filter(users[_reached_column(last)])
    seconds = (
        users[_step_column(last)].epoch_seconds().cast("float64")
        - users[_step_column(first)].epoch_seconds().cast("float64")
    )
    durations = users.select(*by_columns, days=seconds / _DAY_SECONDS)

    quantiles = {f"{name}_days": durations.days.quantile(q) for name, q in _QUANTILES.items()}
    aggregates = {"converters": durations.count(), "mean_days": durations.days.mean(), **quantiles}
    summary = (durations.group_by(by_columns).agg(**aggregates) if by_columns
               else durations.aggregate(**aggregates)).to_pandas()
    summary["converters"] = summary["converters"].astype("int64")
    summary = summary[[*by_columns, "converters", "mean_days", "p25_days", "median_days", "p75_days", "p90_days"]]

    width = int(duration_seconds(window)) / _DAY_SECONDS / bins
    binned = durations.mutate(bin=(durations.days / width).floor().cast("int64").clip(0, bins - 1))
    counts = binned.group_by([*by_columns, "bin"]).agg(users=binned.count()).to_pandas()
    if by_columns:
        summary = summary.sort_values(by_columns, ignore_index=True)
        groups = summary[by_columns].drop_duplicates()
    else:
        groups = pd.DataFrame(index=[0])
    grid = groups.merge(pd.DataFrame({"bin": range(bins)}), how="cross")
    histogram = grid.merge(counts, on=[*by_columns, "bin"], how="left")
    histogram["users"] = histogram["users"].fillna(0).astype("int64")
    histogram["bin_start_days"] = histogram["bin"] * width
    histogram["bin_end_days"] = (histogram["bin"] + 1) * width
    histogram = histogram[[*by_columns, "bin_start_days", "bin_end_days", "users"]]
    return TimeToConvert(summary, histogram, f"{first}. {steps[first - 1]}", f"{last}. {steps[last - 1]}")


@computes("landing_page_conversion_rate")
def landing_page_conversion(
    events: ibis.Table | pd.DataFrame,
    goal: str = "signup",
    *,
    entry_event: str = "visit",
    page_column: str = "page",
    window: WindowLike = "14D",
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    complete_only: bool = False,
) -> pd.DataFrame:
    r"""Conversion of each landing page: visitors who reach ``goal`` within the window.

    The landing page of a person is the ``page_column`` value of their first
    ``entry_event`` in ``[start, end)``; it is the two-step funnel
    ``[entry_event, goal]`` broken down by that page.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table, with a page column on visit events.
    goal : str, default "signup"
        The event that counts as converting.
    entry_event : str, default "visit"
        The event that carries the landing page.
    page_column : str, default "page"
        Column of ``events`` with the page.
    window, start, end, as_of, complete_only
        As in :func:`funnel`.

    Returns
    -------
    pandas.DataFrame
        ``page_column``, ``numerator`` (converting visitors), ``denominator`` (visitors),
        ``rate``, ``ci_low``, ``ci_high``, ``small_sample``, ``users_window_open``; the
        busiest pages first.

    Notes
    -----
    .. math::

        \text{LPCR}_p = \frac{|\{u : \text{page}(u) = p,\ u \text{ reaches goal}\}|}{|\{u : \text{page}(u) = p\}|}

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b", "c"],
    ...     "ts": ["2026-10-01", "2026-10-02", "2026-10-01", "2026-10-01"],
    ...     "event": ["visit", "signup", "visit", "visit"],
    ...     "page": ["/pricing", None, "/pricing", "/blog"]})
    >>> landing_page_conversion(events)[["page", "numerator", "denominator", "rate"]]
           page  numerator  denominator  rate
    0  /pricing          1            2   0.5
    1     /blog          0            1   0.0
    """
    rates = conversion_rate(events, [entry_event, goal], by=page_column, window=window, start=start,
                            end=end, as_of=as_of, complete_only=complete_only)
    return rates.sort_values(["denominator", page_column], ascending=[False, True],
                             ignore_index=True)


@computes("ab_difference")
def ab_comparison(
    events: ibis.Table | pd.DataFrame,
    steps: Sequence[str],
    *,
    by: str,
    a: object,
    b: object,
    to_step: int | str = -1,
    window: WindowLike = "14D",
    order: Order = "ordered",
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    complete_only: bool = False,
    confidence: float = 0.95,
    customers: ibis.Table | pd.DataFrame | None = None,
) -> pd.DataFrame:
    r"""Compare the conversion of two groups (variants, channels): B minus A.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    steps : list of str
        Funnel steps; the rate compared is step 1 → ``to_step``.
    by : str
        Column of ``events`` holding the groups (value at entry), e.g. ``"variant"``.
    a, b : object
        The two values of ``by`` to compare; ``a`` is the reference (control).
    to_step, window, order, start, end, as_of, complete_only, customers
        As in :func:`conversion_rate` (``by`` may be a column of ``customers``).
    confidence : float, default 0.95
        Level of the interval; ``significant`` means ``p_value < 1 - confidence``.

    Returns
    -------
    pandas.DataFrame
        One row: ``by``, ``a``, ``b``, ``converted_a``, ``entered_a``, ``rate_a``,
        ``converted_b``, ``entered_b``, ``rate_b``, ``difference`` (B − A), ``ci_low``,
        ``ci_high`` (Newcombe), ``p_value`` (pooled z-test), ``significant``,
        ``small_sample`` (either group under 30) and ``statement`` (one sentence).

    Notes
    -----
    .. math::

        \Delta = \hat p_B - \hat p_A, \qquad
        z = \frac{\Delta}{\sqrt{\bar p (1-\bar p)(1/n_A + 1/n_B)}}

    See :func:`kpilib.stats.compare_proportions`.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": list("abcd") * 2,
    ...     "ts": ["2026-10-01"] * 4 + ["2026-10-02"] * 4,
    ...     "event": ["visit"] * 4 + ["signup", "signup", "signup", "share"],
    ...     "variant": ["A", "A", "B", "B"] + [None] * 4})
    >>> r = ab_comparison(events, ["visit", "signup"], by="variant", a="A", b="B")
    >>> r[["converted_a", "entered_a", "converted_b", "entered_b", "difference"]]
       converted_a  entered_a  converted_b  entered_b  difference
    0            2          2            1          2        -0.5
    """
    rates = conversion_rate(events, steps, by=by, to_step=to_step, window=window, order=order,
                            start=start, end=end, as_of=as_of, complete_only=complete_only,
                            customers=customers)
    present = rates[by].tolist()
    for label, value in (("a", a), ("b", b)):
        if value not in present:
            raise ValueError(
                f"no user entered with {by} == {value!r} (group {label}); values present: {present}"
            )
    row_a = rates[rates[by] == a].iloc[0]
    row_b = rates[rates[by] == b].iloc[0]
    test = compare_proportions(row_b.numerator, row_b.denominator, row_a.numerator, row_a.denominator,
                               confidence=confidence).iloc[0]
    level = f"{confidence:.0%}"
    if np.isnan(test.difference):
        statement = "Not comparable: one group has no entrants."
    else:
        direction = "higher" if test.difference > 0 else "lower" if test.difference < 0 else "the same"
        verdict = "a significant difference" if test.significant else "no significant difference"
        statement = (
            f"{b} converts {abs(test.difference) * 100:.1f} percentage points {direction} than {a} "
            f"({test.p1:.1%} vs {test.p2:.1%}; {level} interval of the difference "
            f"{test.ci_low * 100:+.1f} to {test.ci_high * 100:+.1f} pp, p = {test.p_value:.3g}): {verdict}."
        )
    return pd.DataFrame(
        [
            {
                "by": by,
                "a": a,
                "b": b,
                "converted_a": int(row_a.numerator),
                "entered_a": int(row_a.denominator),
                "rate_a": float(row_a.rate),
                "converted_b": int(row_b.numerator),
                "entered_b": int(row_b.denominator),
                "rate_b": float(row_b.rate),
                "difference": float(test.difference),
                "ci_low": float(test.ci_low),
                "ci_high": float(test.ci_high),
                "p_value": float(test.p_value),
                "significant": bool(test.significant),
                "small_sample": bool(min(row_a.denominator, row_b.denominator) < SMALL_DENOMINATOR),
                "statement": statement,
            }
        ]
    )


# ---------------------------------------------------------------------------------------
# Nurture: leads, MQLs, lead score, sales cycle
# ---------------------------------------------------------------------------------------


def _first_event(events: ibis.Table, name: str, column: str) -> ibis.Table:
    """``customer_id`` and the time of each person's first ``name`` event."""
    named = events.filter(events.event == name)
    return named.group_by("customer_id").agg(**{column: named.ts.min()})


@computes("new_leads")
def new_leads(
    events: ibis.Table | pd.DataFrame,
    *,
    lead_event: str = "lead",
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""New leads per month: people whose first lead event falls in the month.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    lead_event : str, default "lead"
        The event that makes a person a lead.
    start, end : str or pandas.Timestamp, optional
        Only first-lead times in ``[start, end)``; months in between without leads
        show 0.

    Returns
    -------
    pandas.DataFrame
        ``month`` ("YYYY-MM") and ``new_leads``.

    Notes
    -----
    .. math::

        \text{new leads}_m = |\{u : \min_{e \in L_u} t_e \in m\}|

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2026-08-03", "2026-10-01"],
    ...                        "event": ["lead", "lead"]})
    >>> new_leads(events)
         month  new_leads
    0  2026-08          1
    1  2026-09          0
    2  2026-10          1
    """
    events = as_table(events, "events")
    start, end = to_utc(start), to_utc(end)
    leads = time_filter(_first_event(events, lead_event, "lead_at"), "lead_at", start, end)
    monthly = leads.group_by(month=_month_label(leads.lead_at)).agg(new_leads=leads.count())
    frame = monthly.to_pandas().sort_values("month", ignore_index=True)
    return _complete_months(frame, ["new_leads"], start, end)


@computes("reopened_leads")
def reopened_leads(
    events: ibis.Table | pd.DataFrame,
    *,
    inactive_days: float = 30,
    lead_event: str = "lead",
    purchase_event: str = "purchase",
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Leads who come back after at least ``inactive_days`` without any event.

    A re-engagement is an event of a lead, after their first lead event and not after
    their first purchase, whose previous event (of any kind) is ``inactive_days`` or
    more earlier. Each lead counts once per month in which they re-engage.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    inactive_days : float, default 30
        Minimum gap, in days, that makes a lead inactive.
    lead_event, purchase_event : str
        Events that make a person a lead, and a customer (no longer a lead).
    start, end : str or pandas.Timestamp, optional
        Only re-engagements in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``month`` and ``reopened_leads``.

    Notes
    -----
    .. math::

        \text{reopened}_m = |\{u : \exists e \in m,\ t_{L_u} < t_e \le t_{P_u},\
        t_e - t_{e^-} \ge N\}|

    where :math:`e^-` is the event of :math:`u` before :math:`e`, :math:`t_{L_u}` the first
    lead event and :math:`t_{P_u}` the first purchase (:math:`\infty` if none).

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "a", "a"],
    ...     "ts": ["2026-07-01", "2026-07-02", "2026-09-15", "2026-09-20"],
    ...     "event": ["lead", "visit", "visit", "visit"]})
    >>> reopened_leads(events, inactive_days=60)
         month  reopened_leads
    0  2026-09               1
    """
    events = as_table(events, "events")
    if inactive_days <= 0:
        raise ValueError(f"inactive_days must be positive, got {inactive_days!r}")
    start, end = to_utc(start), to_utc(end)
    leads = _first_event(events, lead_event, "lead_at")
    purchases = _first_event(events, purchase_event, "purchase_at").rename(p_customer_id="customer_id")
    history = events.select("customer_id", "ts")
    history = history.mutate(
        previous_ts=history.ts.lag().over(group_by=history.customer_id, order_by=history.ts)
    )
    history = history.join(leads, "customer_id")
    history = history.left_join(purchases, history.customer_id == purchases.p_customer_id)
    gap = history.ts.epoch_seconds().cast("float64") - history.previous_ts.epoch_seconds().cast("float64")
    returns = history.filter(
        history.ts > history.lead_at,
        history.purchase_at.isnull() | (history.ts <= history.purchase_at),
        gap >= float(inactive_days) * _DAY_SECONDS,
    )
    returns = time_filter(returns, "ts", start, end)
    monthly = returns.group_by(month=_month_label(returns.ts)).agg(
        reopened_leads=returns.customer_id.nunique()
    )
    frame = monthly.to_pandas().sort_values("month", ignore_index=True)
    return _complete_months(frame, ["reopened_leads"], start, end)


def _points_expression(event: ibis.Value, behaviour_points: Mapping[str, float]) -> ibis.Value:
    branches = [(event == name, float(points)) for name, points in behaviour_points.items()]
    return ibis.cases(*branches, else_=0.0) if branches else ibis.literal(0.0)


def _profile_points(customers: ibis.Table | pd.DataFrame | None,
                    profile_points: Mapping[str, Mapping[str, float]]) -> ibis.Table | None:
    """``customer_id`` and ``profile_points`` (sum of the matching attribute points)."""
    if not profile_points:
        return None
    if customers is None:
        raise DataError(
            "profile points need the customers table, and none was given",
            table="customers",
            fix="Pass customers=..., or set profile_points to {} to score behaviour only",
        )
    customers = as_table(customers, "customers")
    require_columns(customers, list(profile_points), "customers", "the lead score's profile points")
    total = ibis.literal(0.0)
    for column, values in profile_points.items():
        branches = [(customers[column] == value, float(points)) for value, points in values.items()]
        if branches:
            total = total + ibis.cases(*branches, else_=0.0)
    return customers.select(pp_customer_id=customers.customer_id, profile_points=total)


def _add_profile(scores: ibis.Table, profile: ibis.Table | None) -> ibis.Table:
    """Add ``profile_points`` (0 without a profile) and ``score`` to a table of behaviour points."""
    if profile is None:
        scores = scores.mutate(profile_points=ibis.literal(0.0))
    else:
        joined = scores.left_join(profile, scores.customer_id == profile.pp_customer_id)
        scores = joined.select(
            *[c for c in joined.columns if c not in ("pp_customer_id", "profile_points")],
            profile_points=joined.profile_points.fill_null(0.0),
        )
    return scores.mutate(score=scores.behaviour_points + scores.profile_points)


def _weights(behaviour_points: Mapping[str, float] | None) -> dict[str, float]:
    return dict(DEFAULT_BEHAVIOUR_POINTS if behaviour_points is None else behaviour_points)


@computes("lead_score")
def lead_score(
    events: ibis.Table | pd.DataFrame,
    customers: ibis.Table | pd.DataFrame | None = None,
    *,
    behaviour_points: Mapping[str, float] | None = None,
    profile_points: Mapping[str, Mapping[str, float]] | None = None,
    threshold: float = DEFAULT_MQL_THRESHOLD,
    as_of: TimeLike = None,
) -> ibis.Table:
    r"""A transparent points score per person: profile points plus behaviour points.

    Returned as a lazy Ibis table (one row per person, possibly millions): call
    ``.to_pandas()`` on it, filter it, or aggregate it in the engine.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    customers : ibis.Table or pandas.DataFrame, optional
        Needed when ``profile_points`` is given.
    behaviour_points : dict, optional
        Points per event name, e.g. ``{"visit": 1, "signup": 10}``; default
        :data:`DEFAULT_BEHAVIOUR_POINTS`. Negative points are allowed.
    profile_points : dict of dict, optional
        Points per customers column and value, e.g.
        ``{"segment": {"enterprise": 20, "smb": 5}}``.
    threshold : float, default :data:`DEFAULT_MQL_THRESHOLD`
        Score at which a lead is marketing-qualified (the ``is_mql`` column).
    as_of : str or pandas.Timestamp, optional
        Score events before this time only (default: all events).

    Returns
    -------
    ibis.Table
        ``customer_id``, ``points_<event>`` for each weighted event, ``behaviour_points``,
        ``profile_points``, ``score`` and ``is_mql``; people with at least one weighted
        event.

    Notes
    -----
    .. math::

        \text{score}_u = \sum_{c} \text{profile}_c(x_{u,c}) + \sum_{e} w_{\text{event}(e)}

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "ts": ["2026-10-01", "2026-10-02", "2026-10-01"], "event": ["visit", "signup", "visit"]})
    >>> customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": ["2026-10-02", "2026-10-01"],
    ...     "channel": ["email", "social"], "segment": ["smb", "enterprise"]})
    >>> scores = lead_score(events, customers, behaviour_points={"visit": 1, "signup": 10},
    ...                     profile_points={"segment": {"enterprise": 20}}, threshold=15)
    >>> scores.to_pandas().sort_values("customer_id")[["customer_id", "behaviour_points", "profile_points", "score", "is_mql"]]
      customer_id  behaviour_points  profile_points  score  is_mql
    0           a              11.0             0.0   11.0   False
    1           b               1.0            20.0   21.0    True
    """
    events = as_table(events, "events")
    weights = _weights(behaviour_points)
    profile = _profile_points(customers, profile_points or {})
    as_of = to_utc(as_of)
    scored = events.filter(events.event.isin(list(weights)))
    if as_of is not None:
        scored = scored.filter(scored.ts < as_of)
    scored = scored.mutate(points=_points_expression(scored.event, weights))
    per_event = {
        f"points_{name}": scored.points.sum(where=scored.event == name).fill_null(0.0) for name in weights
    }
    scores = scored.group_by("customer_id").agg(**per_event, behaviour_points=scored.points.sum())
    scores = _add_profile(scores, profile)
    scores = scores.mutate(is_mql=scores.score >= threshold)
    return scores.order_by("customer_id")


def _mql_times(
    events: ibis.Table,
    customers: ibis.Table | pd.DataFrame | None,
    *,
    method: str,
    mql_event: str,
    lead_event: str,
    behaviour_points: Mapping[str, float] | None,
    profile_points: Mapping[str, Mapping[str, float]] | None,
    threshold: float,
) -> tuple[ibis.Table, str]:
    """``customer_id, mql_at`` for every MQL, and the method used ("event" or "score")."""
    if method not in ("auto", "event", "score"):
        raise ValueError(f"method must be 'auto', 'event' or 'score', got {method!r}")
    if method == "auto":
        has_events = int(events.filter(events.event == mql_event).limit(1).count().to_pyarrow().as_py()) > 0
        method = "event" if has_events else "score"
    if method == "event":
        return _first_event(events, mql_event, "mql_at"), method

    weights = _weights(behaviour_points)
    leads = _first_event(events, lead_event, "lead_at").rename(l_customer_id="customer_id")
    scored = events.filter(events.event.isin(list(weights)))
    scored = scored.mutate(points=_points_expression(scored.event, weights))
    # One row per person and instant, so ties in time cannot split a crossing.
    instants = scored.group_by(["customer_id", "ts"]).agg(points=scored.points.sum())
    running = instants.mutate(
        behaviour_points=instants.points.sum().over(
            ibis.cumulative_window(group_by=instants.customer_id, order_by=instants.ts)
        )
    )
    running = _add_profile(running, _profile_points(customers, profile_points or {}))
    running = running.join(leads, running.customer_id == leads.l_customer_id)
    crossed = running.filter(running.ts >= running.lead_at, running.score >= threshold)
    return crossed.group_by("customer_id").agg(mql_at=crossed.ts.min()), method


@computes("mql_count")
def mql_count(
    events: ibis.Table | pd.DataFrame,
    customers: ibis.Table | pd.DataFrame | None = None,
    *,
    method: Literal["auto", "event", "score"] = "auto",
    mql_event: str = "mql",
    lead_event: str = "lead",
    behaviour_points: Mapping[str, float] | None = None,
    profile_points: Mapping[str, Mapping[str, float]] | None = None,
    threshold: float = DEFAULT_MQL_THRESHOLD,
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Leads who became marketing-qualified, per month.

    With ``method="event"`` a person's MQL time is their first ``mql_event``; with
    ``"score"`` it is the first time, at or after their first lead event, that their
    lead score (:func:`lead_score`, accumulated over their events) reaches ``threshold``.
    ``"auto"`` uses the event when the data has any, else the score.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    customers : ibis.Table or pandas.DataFrame, optional
        Needed for profile points.
    method : {"auto", "event", "score"}, default "auto"
        How MQLs are recognised.
    mql_event, lead_event : str
        Event names.
    behaviour_points, profile_points, threshold
        The lead score (see :func:`lead_score`).
    start, end : str or pandas.Timestamp, optional
        Only MQL times in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``mql_count`` and ``mql_method`` (``"event"`` or ``"score"``).

    Notes
    -----
    .. math::

        t_{\text{MQL}}(u) = \min\{t \ge t_{L_u} : \text{score}_u(t) \ge \theta\}

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...     "ts": ["2026-09-20", "2026-09-25", "2026-10-03", "2026-10-04"],
    ...     "event": ["lead", "visit", "signup", "lead"]})
    >>> mql_count(events, behaviour_points={"lead": 10, "visit": 1, "signup": 10}, threshold=20)
         month  mql_count mql_method
    0  2026-10          1      score
    """
    events = as_table(events, "events")
    start, end = to_utc(start), to_utc(end)
    mqls, used = _mql_times(events, customers, method=method, mql_event=mql_event, lead_event=lead_event,
                            behaviour_points=behaviour_points, profile_points=profile_points,
                            threshold=threshold)
    mqls = time_filter(mqls, "mql_at", start, end)
    monthly = mqls.group_by(month=_month_label(mqls.mql_at)).agg(mql_count=mqls.count())
    frame = _complete_months(monthly.to_pandas().sort_values("month", ignore_index=True), ["mql_count"],
                             start, end)
    frame["mql_method"] = used
    return frame


def _monthly_spend(spend: ibis.Table | pd.DataFrame, start: pd.Timestamp | None,
                   end: pd.Timestamp | None) -> pd.DataFrame:
    spend = time_filter(as_table(spend, "spend"), "date", start, end, date=True)
    return spend.group_by(month=spend.date.strftime("%Y-%m")).agg(cost=exact_sum(spend.cost)).to_pandas()


@computes("cost_per_mql")
def cost_per_mql(
    events: ibis.Table | pd.DataFrame,
    spend: ibis.Table | pd.DataFrame,
    customers: ibis.Table | pd.DataFrame | None = None,
    *,
    method: Literal["auto", "event", "score"] = "auto",
    mql_event: str = "mql",
    lead_event: str = "lead",
    behaviour_points: Mapping[str, float] | None = None,
    profile_points: Mapping[str, Mapping[str, float]] | None = None,
    threshold: float = DEFAULT_MQL_THRESHOLD,
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Marketing spend per new MQL, per month.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    spend : ibis.Table or pandas.DataFrame
        The spend table (``date``, ``channel``, ``cost``).
    customers, method, mql_event, lead_event, behaviour_points, profile_points, threshold
        How MQLs are recognised (see :func:`mql_count`).
    start, end : str or pandas.Timestamp, optional
        Months in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``cost``, ``mql_count``, ``cost_per_mql`` (NaN without MQLs) and
        ``mql_method``.

    Notes
    -----
    .. math::

        \text{CPMQL}_m = \frac{\sum_{d \in m} \text{cost}_d}{\text{MQL}_m}

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "b", "c"],
    ...     "ts": ["2026-09-02", "2026-10-01", "2026-10-09"], "event": ["mql"] * 3})
    >>> spend = pd.DataFrame({"date": ["2026-09-01", "2026-10-01", "2026-10-02"],
    ...     "channel": ["email"] * 3, "cost": [100.0, 150.0, 50.0]})
    >>> cost_per_mql(events, spend)[["month", "cost", "mql_count", "cost_per_mql"]]
         month   cost  mql_count  cost_per_mql
    0  2026-09  100.0          1         100.0
    1  2026-10  200.0          2         100.0
    """
    start, end = to_utc(start), to_utc(end)
    mqls = mql_count(events, customers, method=method, mql_event=mql_event, lead_event=lead_event,
                     behaviour_points=behaviour_points, profile_points=profile_points,
                     threshold=threshold, start=start, end=end)
    costs = _monthly_spend(spend, start, end)
    frame = costs.merge(mqls[["month", "mql_count"]], on="month", how="outer").sort_values(
        "month", ignore_index=True
    )
    frame["cost"] = frame["cost"].fillna(0.0).astype(float)
    frame["mql_count"] = frame["mql_count"].fillna(0).astype("int64")
    frame["cost_per_mql"] = frame["cost"] / frame["mql_count"].where(frame["mql_count"] > 0)
    frame["mql_method"] = mqls["mql_method"].iloc[0] if len(mqls) else method
    return frame[["month", "cost", "mql_count", "cost_per_mql", "mql_method"]]


@computes("new_lead_score")
def new_lead_score_profile(
    events: ibis.Table | pd.DataFrame,
    customers: ibis.Table | pd.DataFrame | None = None,
    *,
    behaviour_points: Mapping[str, float] | None = None,
    profile_points: Mapping[str, Mapping[str, float]] | None = None,
    threshold: float = DEFAULT_MQL_THRESHOLD,
    lead_event: str = "lead",
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Month-end lead scores of the leads created in each month.

    For each month, the leads whose first lead event falls in it are scored with the
    events up to the end of that month; the frame summarises those scores, so lead
    quality can be followed over time next to lead volume.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    customers : ibis.Table or pandas.DataFrame, optional
        Needed for profile points.
    behaviour_points, profile_points, threshold
        The lead score (see :func:`lead_score`).
    lead_event : str, default "lead"
        The event that makes a person a lead.
    start, end : str or pandas.Timestamp, optional
        Lead-creation months in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``leads``, ``mean_score``, ``p25_score``, ``median_score``, ``p75_score``
        and the share of new leads at or above ``threshold`` by month end as a rate
        (``numerator``, ``denominator``, ``rate``, ``ci_low``, ``ci_high``,
        ``small_sample``).

    Notes
    -----
    .. math::

        S_m = \{\text{score}_u(\text{end of } m) : \min_{e \in L_u} t_e \in m\}

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...     "ts": ["2026-09-29", "2026-09-30", "2026-10-02", "2026-10-01"],
    ...     "event": ["lead", "visit", "visit", "lead"]})
    >>> profile = new_lead_score_profile(events, behaviour_points={"lead": 10, "visit": 1},
    ...                                  threshold=11)
    >>> profile[["month", "leads", "median_score", "numerator", "denominator"]]
         month  leads  median_score  numerator  denominator
    0  2026-09      1          11.0          1            1
    1  2026-10      1          10.0          0            1
    """
    events = as_table(events, "events")
    start, end = to_utc(start), to_utc(end)
    weights = _weights(behaviour_points)
    leads = time_filter(_first_event(events, lead_event, "lead_at"), "lead_at", start, end)
    leads = leads.mutate(
        month=_month_label(leads.lead_at),
        month_end=(leads.lead_at.truncate("M") + ibis.interval(months=1)).cast(_UTC),
    )
    scored = events.filter(events.event.isin(list(weights)))
    scored = scored.select(
        s_customer_id=scored.customer_id, s_ts=scored.ts, points=_points_expression(scored.event, weights)
    )
    joined = leads.left_join(
        scored, [leads.customer_id == scored.s_customer_id, scored.s_ts < leads.month_end]
    )
    scores = joined.group_by(["customer_id", "month"]).agg(
        behaviour_points=joined.points.sum().fill_null(0.0)
    )
    scores = _add_profile(scores, _profile_points(customers, profile_points or {}))
    summary = scores.group_by("month").agg(
        leads=scores.count(),
        mean_score=scores.score.mean(),
        p25_score=scores.score.quantile(0.25),
        median_score=scores.score.quantile(0.5),
        p75_score=scores.score.quantile(0.75),
        at_threshold=(scores.score >= threshold).cast("int64").sum(),
    )
    frame = summary.to_pandas().sort_values("month", ignore_index=True)
    frame["leads"] = frame["leads"].astype("int64")
    rates = rate_frame(frame["at_threshold"].fillna(0), frame["leads"])
    return pd.concat([frame.drop(columns="at_threshold"), rates], axis=1)


@computes("sales_cycle_length")
def sales_cycle_length(
    events: ibis.Table | pd.DataFrame,
    *,
    purchase_event: str = "purchase",
    first_touch_events: Sequence[str] | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Days from first touch to first purchase, per month of the first purchase.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    purchase_event : str, default "purchase"
        The event that closes the sale.
    first_touch_events : list of str, optional
        Events that count as a touch; default every event.
    start, end : str or pandas.Timestamp, optional
        First purchases in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``customers``, ``mean_days``, ``p25_days``, ``median_days``,
        ``p75_days``, ``p90_days``.

    Notes
    -----
    .. math::

        c_u = t_{u,\text{first purchase}} - \min_{e \in T_u,\ t_e \le t_{u,\text{first purchase}}} t_e

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b", "b"],
    ...     "ts": ["2026-09-21", "2026-10-01", "2026-10-01", "2026-10-05"],
    ...     "event": ["visit", "purchase", "visit", "purchase"]})
    >>> sales_cycle_length(events)[["month", "customers", "mean_days", "median_days"]]
         month  customers  mean_days  median_days
    0  2026-10          2        7.0          7.0
    """
    events = as_table(events, "events")
    start, end = to_utc(start), to_utc(end)
    purchases = time_filter(_first_event(events, purchase_event, "purchase_at"), "purchase_at", start, end)
    touches = events if first_touch_events is None else events.filter(events.event.isin(list(first_touch_events)))
    touches = touches.select(t_customer_id=touches.customer_id, t_ts=touches.ts)
    joined = purchases.join(
        touches, [purchases.customer_id == touches.t_customer_id, touches.t_ts <= purchases.purchase_at]
    )
    cycles = joined.group_by(["customer_id", "purchase_at"]).agg(first_touch=joined.t_ts.min())
    cycles = cycles.mutate(
        month=_month_label(cycles.purchase_at),
        days=(cycles.purchase_at.epoch_seconds().cast("float64")
              - cycles.first_touch.epoch_seconds().cast("float64")) / _DAY_SECONDS,
    )
    summary = cycles.group_by("month").agg(
        customers=cycles.count(),
        mean_days=cycles.days.mean(),
        **{f"{name}_days": cycles.days.quantile(q) for name, q in _QUANTILES.items()},
    )
    frame = summary.to_pandas().sort_values("month", ignore_index=True)
    frame["customers"] = frame["customers"].astype("int64")
    return frame[["month", "customers", "mean_days", "p25_days", "median_days", "p75_days", "p90_days"]]


def nurture_summary(
    events: ibis.Table | pd.DataFrame,
    spend: ibis.Table | pd.DataFrame | None = None,
    customers: ibis.Table | pd.DataFrame | None = None,
    *,
    inactive_days: float = 30,
    method: Literal["auto", "event", "score"] = "auto",
    behaviour_points: Mapping[str, float] | None = None,
    profile_points: Mapping[str, Mapping[str, float]] | None = None,
    threshold: float = DEFAULT_MQL_THRESHOLD,
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    """The nurture stage per month: new leads, reopened leads, MQLs and cost per MQL.

    A convenience that joins :func:`new_leads`, :func:`reopened_leads`,
    :func:`mql_count` and (when ``spend`` is given) :func:`cost_per_mql` on ``month``.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    spend : ibis.Table or pandas.DataFrame, optional
        The spend table; without it the cost columns are left out.
    customers, method, behaviour_points, profile_points, threshold
        How MQLs are recognised (see :func:`mql_count`).
    inactive_days : float, default 30
        See :func:`reopened_leads`.
    start, end : str or pandas.Timestamp, optional
        Months in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``new_leads``, ``reopened_leads``, ``mql_count``, ``mql_method`` and,
        with spend, ``cost`` and ``cost_per_mql``.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a"], "ts": ["2026-10-01", "2026-10-02"],
    ...                        "event": ["lead", "mql"]})
    >>> nurture_summary(events)
         month  new_leads  reopened_leads  mql_count mql_method
    0  2026-10          1               0          1      event
    """
    events = as_table(events, "events")
    leads = new_leads(events, start=start, end=end)
    reopened = reopened_leads(events, inactive_days=inactive_days, start=start, end=end)
    mql_options = dict(method=method, behaviour_points=behaviour_points, profile_points=profile_points,
                       threshold=threshold, start=start, end=end)
    if spend is not None:
        mqls = cost_per_mql(events, spend, customers, **mql_options)
    else:
        mqls = mql_count(events, customers, **mql_options)
    frame = leads.merge(reopened, on="month", how="outer").merge(mqls, on="month", how="outer")
    counts = ["new_leads", "reopened_leads", "mql_count"]
    frame[counts] = frame[counts].fillna(0).astype("int64")
    frame["mql_method"] = mqls["mql_method"].iloc[0] if len(mqls) else method
    columns = ["month", *counts, "mql_method"] + (["cost", "cost_per_mql"] if spend is not None else [])
    return frame.sort_values("month", ignore_index=True)[columns]


# ---------------------------------------------------------------------------------------
# The report index
# ---------------------------------------------------------------------------------------


def headline_metrics(
    events: ibis.Table | pd.DataFrame,
    month: str,
    steps: Sequence[str],
    window: WindowLike = "14D",
    spend: ibis.Table | pd.DataFrame | None = None,
    *,
    customers: ibis.Table | pd.DataFrame | None = None,
    order: Order = "ordered",
    mql_method: Literal["auto", "event", "score"] = "auto",
    behaviour_points: Mapping[str, float] | None = None,
    profile_points: Mapping[str, Mapping[str, float]] | None = None,
    threshold: float = DEFAULT_MQL_THRESHOLD,
) -> pd.DataFrame:
    """The funnel notebook's headline numbers for ``month`` and the month before.

    Rows, for each of the two months:

    * ``conversion_rate`` — first step → last step, for users entering in the month
      **whose window has closed** by the end of the data, so a month still in progress
      is not biased low by conversions that have not happened yet (a rate: numerator,
      denominator, Wilson interval);
    * ``time_to_convert`` — median days first → last step of those converters;
    * ``new_leads``, ``mql_count`` — counts;
    * ``cost_per_mql`` — when ``spend`` is given (numerator = cost, denominator = MQLs,
      no interval);
    * ``sales_cycle_length`` — median days first touch → first purchase.

    A metric the data cannot give is NaN ("no data" on the report), not 0: the conversion
    and its time when a step never occurs in ``events``; leads, MQLs and their cost when
    there is no ``lead`` event at all.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    month : str
        The report month, ``"YYYY-MM"``.
    steps : list of str
        Funnel steps.
    window : str, pandas.Timedelta or int, default "14D"
        Conversion window.
    spend : ibis.Table or pandas.DataFrame, optional
        Spend table for the cost per MQL.
    customers, mql_method, behaviour_points, profile_points, threshold
        How MQLs are recognised (see :func:`mql_count`).
    order : {"ordered", "strict", "any"}, default "ordered"
        As in :func:`funnel` (the median time uses ``"ordered"`` when ``"any"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``metric`` (registry name), ``month`` ("YYYY-MM"), ``value``,
        ``numerator``, ``denominator``, ``ci_low``, ``ci_high``; NaN where a column does
        not apply (intervals exist only for rates).

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b", "z"],
    ...     "ts": ["2026-09-10", "2026-09-12", "2026-10-01", "2026-11-30"],
    ...     "event": ["visit", "signup", "visit", "visit"]})
    >>> h = headline_metrics(events, "2026-10", ["visit", "signup"], window="7D")
    >>> h[h.metric == "conversion_rate"][["metric", "month", "value", "numerator", "denominator"]]
                metric    month  value  numerator  denominator
    0  conversion_rate  2026-09    1.0        1.0          1.0
    1  conversion_rate  2026-10    0.0        0.0          1.0
    """
    events = as_table(events, "events")
    steps = _check_steps(steps)
    this_start, this_end = month_bounds(month)
    previous = previous_month(month)
    prev_start, _ = month_bounds(previous)
    months = [previous, month]
    rows: list[dict] = []

    def add(metric: str, label: str, value, numerator=np.nan, denominator=np.nan, low=np.nan, high=np.nan):
        rows.append({"metric": metric, "month": label, "value": float(value) if value is not None else np.nan,
                     "numerator": numerator, "denominator": denominator, "ci_low": low, "ci_high": high})

    users = funnel_users(events, steps, window=window, order=order, start=prev_start, end=this_end)
    users = users.filter(~users.window_open)
    users = users.mutate(month=_month_label(users[_step_column(1)]))
    last = len(steps)
    conversion = users.group_by("month").agg(
        entered=users.count(), converted=users[_reached_column(last)].cast("int64").sum()
    ).to_pandas().set_index("month")
    if order == "any" or last == 1:
        timed = None
    else:
        converters = users.filter(users[_reached_column(last)])
        converters = converters.mutate(
            days=(converters[_step_column(last)].epoch_seconds().cast("float64")
                  - converters[_step_column(1)].epoch_seconds().cast("float64")) / _DAY_SECONDS
        )
        timed = converters.group_by("month").agg(
            median=converters.days.quantile(0.5), n=converters.count()
        ).to_pandas().set_index("month")
    # A step no event of the data ever matches makes the funnel meaningless, not 0 %.
    seen = set(events.filter(events.event.isin(sorted(set(steps)))).select("event").distinct()
               .execute()["event"])
    complete = seen >= set(steps)
    for label in months:
        entered = int(conversion.entered.get(label, 0))
        converted = int(conversion.converted.get(label, 0) or 0)
        rate = rate_frame([converted], [entered]).iloc[0]
        if complete:
            add("conversion_rate", label, rate.rate, converted, entered, rate.ci_low, rate.ci_high)
        else:
            add("conversion_rate", label, np.nan)
    if timed is not None:
        for label in months:
            add("time_to_convert", label, timed["median"].get(label, np.nan) if complete else np.nan)

    # With no lead event anywhere in the data, leads and MQLs are not zero but unknown.
    has_leads = bool(events.filter(events.event == "lead").count().execute())
    leads = new_leads(events, start=prev_start, end=this_end).set_index("month")
    for label in months:
        add("new_leads", label, leads.new_leads.get(label, 0) if has_leads else np.nan)
    mql_options = dict(method=mql_method, behaviour_points=behaviour_points, profile_points=profile_points,
                       threshold=threshold, start=prev_start, end=this_end)
    if spend is not None:
        money = cost_per_mql(events, spend, customers, **mql_options).set_index("month")
        for label in months:
            add("mql_count", label, money.mql_count.get(label, 0) if has_leads else np.nan)
        for label in months:
            cost, mqls = float(money.cost.get(label, 0.0)), int(money.mql_count.get(label, 0))
            if has_leads:
                add("cost_per_mql", label, cost / mqls if mqls else np.nan, cost, mqls)
            else:
                add("cost_per_mql", label, np.nan)
    else:
        mqls = mql_count(events, customers, **mql_options).set_index("month")
        for label in months:
            add("mql_count", label, mqls.mql_count.get(label, 0) if has_leads else np.nan)
    cycles = sales_cycle_length(events, start=prev_start, end=this_end).set_index("month")
    for label in months:
        add("sales_cycle_length", label, cycles.median_days.get(label, np.nan))
    frame = pd.DataFrame(rows, columns=["metric", "month", "value", "numerator", "denominator", "ci_low",
                                        "ci_high"])
    return frame.astype({c: float for c in ["value", "numerator", "denominator", "ci_low", "ci_high"]})
