"""Funnel conversion and lead nurture.

The acquisition funnel (visit → signup → lead → … → purchase) and the nurture stage
(new leads, reopened leads, MQLs, lead score, sales-cycle length), computed on the
``events`` table of the data contract.

Every aggregation over raw events is **one Ibis expression** that runs in the engine
(DuckDB for files and DataFrames, the warehouse for a connection); only the small,
per-step or per-month result comes back as pandas, where the rates get their
numerator, denominator and Wilson interval (:func:`kpilib.stats.rate_frame`).

How an MQL is recognised (event or lead score, the score's points and threshold) is one
:class:`MQLOptions` object, passed as ``mql=`` to every function that needs it.

Where things are
----------------
* ``_steps`` — :func:`funnel_users`, :func:`funnel`,
  :func:`conversion_rate`, :func:`drop_off`, :func:`time_to_convert`,
  :func:`landing_page_conversion`, :func:`describe_funnel`
* ``_matching`` — the plan behind :func:`funnel_users`: entries, the step events read
  once, matching in order (step k among the users who reached k-1) or in any order,
  exclusions, the best attempt, breakdown attribution and limit
* ``_semantics`` — :class:`Exclusion`, the window spans (``"1M"``), the presets
  (:data:`PRESETS`) and the resolution of every rule
* ``_ab`` — :func:`ab_comparison`
* ``_options`` — :class:`MQLOptions` and the default lead-score points
* ``_settings`` — :func:`funnel_settings`: the steps, window and order to use (given,
  else the source's ``kpilib.toml`` ``[funnel]``, else :data:`DEFAULT_STEPS` …);
  :func:`landing_goal`, the landing pages' default goal
* ``_leads`` — :func:`new_leads`, :func:`reopened_leads`, :func:`lead_score`,
  :func:`mql_count`, :func:`cost_per_mql`, :func:`new_lead_score_profile`,
  :func:`sales_cycle_length`, :func:`nurture_summary`
* ``_headline`` — :func:`headline_metrics` for the report index
* ``_definitions`` — the metric records (:mod:`kpilib.metrics`)

How a user moves through a funnel
---------------------------------
``steps`` is a list of event names, e.g. ``["visit", "signup", "purchase"]``. A source
declares its own once, under ``[funnel]`` in its ``kpilib.toml`` (``steps``, and optionally
``window`` and ``order``); :func:`funnel_settings` picks what to use. Every rule below is a
keyword of :func:`funnel` (and :func:`funnel_users`, :func:`conversion_rate`,
:func:`time_to_convert`); ``semantics=`` sets them all at once to a tool's defaults (the
table at the end), and a keyword given explicitly overrides the preset.

* **Entry** (``reentry="first"``, the default). A user enters at their *first* step-1
  event whose time is in ``[start, end)``. The conversion window runs from that event for
  ``window`` (``[entry, entry + window)``); later step-1 events do not restart it.
  ``reentry="best"`` tries *every* step-1 event in ``[start, end)`` as an entry (each with
  its own window) and keeps the attempt that reaches the most steps; ties: the earliest.
  ``first_time=True``: only the user's first step-1 event *ever* (over all data before
  ``as_of``, not only the period) can be the entry — a user whose first one lies before
  ``start`` does not enter.
* **Windows.** ``window`` is ``"14D"``, ``"2W"``, ``"12h"``, ``"90min"``, a Timedelta, an int
  (days) or ``"1M"``: calendar months, added as the engine adds them (DuckDB, PostgreSQL
  and Spark agree: Jan 31 + 1M = Feb 28, or Feb 29 in a leap year, same time of day — the
  last day of the shorter month; kpilib's DuckDB session runs in UTC, a warehouse session
  should too). ``window_end="exclusive"`` (default) keeps an event at exactly
  ``entry + window`` out, ``"inclusive"`` keeps it in (PostHog compares ``<=``).
  ``step_windows=[w2, …, wn]``: step *k* must also follow step *k - 1* within ``w_k``.
  ``date_range="entry"`` (default): ``start``/``end`` restrict the entry only, later steps
  may fall after ``end`` inside the window; ``"all_steps"``: every matched step must be
  before ``end`` too.
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

# The records first: the functions below are decorated with @computes.
from kpilib.funnel import _definitions  # noqa: F401, I001
from kpilib.funnel._ab import ab_comparison
from kpilib.funnel._headline import headline_metrics
from kpilib.funnel._leads import (
    cost_per_mql,
    lead_score,
    mql_count,
    new_lead_score_profile,
    new_leads,
    nurture_summary,
    reopened_leads,
    sales_cycle_length,
)
from kpilib.funnel._options import DEFAULT_BEHAVIOUR_POINTS, DEFAULT_MQL_THRESHOLD, MQLOptions
from kpilib.funnel._semantics import PRESETS, Exclusion
from kpilib.funnel._settings import DEFAULT_ORDER, DEFAULT_STEPS, DEFAULT_WINDOW, funnel_settings, landing_goal
from kpilib.funnel._steps import Order, WindowLike  # noqa: F401  (type aliases, importable as before)
from kpilib.funnel._steps import (
    TimeToConvert,
    conversion_rate,
    describe_funnel,
    drop_off,
    funnel,
    funnel_users,
    landing_page_conversion,
    time_to_convert,
)
from kpilib.funnel._trends import describe_trends, funnel_trends
from kpilib.periods import TimeLike  # noqa: F401  (importable from here as before)

__all__ = [
    "DEFAULT_BEHAVIOUR_POINTS",
    "DEFAULT_MQL_THRESHOLD",
    "DEFAULT_ORDER",
    "DEFAULT_STEPS",
    "DEFAULT_WINDOW",
    "Exclusion",
    "MQLOptions",
    "PRESETS",
    "TimeToConvert",
    "ab_comparison",
    "conversion_rate",
    "cost_per_mql",
    "describe_funnel",
    "describe_trends",
    "drop_off",
    "funnel",
    "funnel_settings",
    "funnel_trends",
    "funnel_users",
    "headline_metrics",
    "landing_goal",
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
