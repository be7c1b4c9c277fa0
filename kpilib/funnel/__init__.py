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
* ``_settings`` — :func:`funnel_settings`: the steps, window, order and preset to use
  (given, else the source's ``kpilib.toml`` ``[funnel]``, else :data:`DEFAULT_STEPS` … or,
  under a vendor preset, the preset's window and order); :func:`landing_goal`, the landing
  pages' default goal
* ``_leads`` — :func:`new_leads`, :func:`reopened_leads`, :func:`lead_score`,
  :func:`mql_count`, :func:`cost_per_mql`, :func:`new_lead_score_profile`,
  :func:`sales_cycle_length`, :func:`nurture_summary`
* ``_headline`` — :func:`headline_metrics` for the report index (the funnel of each month
  under the notebook's rules and time zone)
* ``_trends`` — :func:`funnel_trends`, :func:`describe_trends`: conversion by entry day,
  week or month on the report clock
* ``_definitions`` — the metric records (:mod:`kpilib.metrics`)

How a user moves through a funnel
---------------------------------
``steps`` is a list of event names, e.g. ``["visit", "signup", "purchase"]``. A source
declares its own once, under ``[funnel]`` in its ``kpilib.toml`` (``steps``, and optionally
``window``, ``order`` and ``semantics``); :func:`funnel_settings` picks what to use. Every
rule below is a keyword of :func:`funnel` (and :func:`funnel_users`, :func:`conversion_rate`,
:func:`time_to_convert`, :func:`funnel_trends`, :func:`ab_comparison`,
:func:`headline_metrics`; :func:`landing_page_conversion` takes those of a two-step funnel);
``semantics=`` sets them all at once to a tool's defaults (the table at the end), and a
keyword given explicitly overrides the preset. :func:`describe_funnel` puts the rules in
use into words for the notebook.

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
* **``order="strict"``** — the tools' strict order (PostHog "strict", Amplitude "exact
  order"): the same greedy match, and *no event at all* of the user (of any name, funnel
  step or not) may lie strictly between the matched events of consecutive steps. Events
  tied in time with a matched event are not "between". **Changed in this release:**
  ``"strict"`` used to mean what is now ``order="strict_steps"``; an explicit
  ``order="strict"`` warns (:class:`FutureWarning`) for one release.
* **``order="strict_steps"``** (kpilib's former ``"strict"``): only another *funnel-step*
  event strictly between consecutive matched events breaks the funnel. A repeated step-1
  event (a second visit before signing up) breaks it; a page view does not.
* **``order="any"``**: a user enters on the earliest event of *any* step in
  ``[start, end)``; the window starts there. An event of the window counts when it is
  among the first *c* events of its name, *c* being how often the name is listed; the user
  has "completed *k* of the *n* steps" (``reached_k``) when at least *k* events count, and
  ``step_k_at`` is the time of the *k*-th counted event (the entry is the first). So step
  *k* of an any-order funnel is "*k* steps done", not the *k*-th listed step.
* **Exclusions** (``exclusions=``): :class:`Exclusion` ``(event, from_step=1,
  to_step=None)``, a plain name (between step 1 and the last step) or a tuple ``(event,
  from_step, to_step)``. A user with an excluded event *strictly* after their matched
  ``from_step`` event and strictly before their matched ``to_step`` event — or, when they
  did not reach ``to_step``, before the end of their window (inside the window's rules) —
  is dropped from the *whole* funnel, every step included (as PostHog does). With
  ``reentry="best"`` the kept attempt is judged; no exclusion applies before the user
  reaches ``from_step``. In an any-order funnel the steps are the "*k* done" times.
* **Open windows.** A user whose window has not closed by the end of the data
  (``as_of``, exclusive; by default :func:`kpilib.periods.default_cutoff` of the latest
  event — the whole last day is data) is counted and flagged in ``users_window_open``;
  pass ``complete_only=True`` to count only users whose window has closed.
* **Breakdowns** (``by``, one column or several) take their value per ``attribution``:
  step *k* (``1`` by default — the entry event, e.g. the traffic channel of the first
  visit — or ``"step:k"``): the value on the event matched to step *k* (null when not
  reached); ``"first_touch"`` / ``"last_touch"``: the first / last non-null value among the
  user's step events of the window; ``"all"``: the user counts once in each distinct value
  among those events. Ties at one instant take the smallest value. ``breakdown_limit=N``
  keeps the *N* groups with the most entrants (ties: smaller values first, null last) and
  pools the rest as ``"other"``.
* **The entry time** of every order is ``step_1_at``, also returned as ``entered_at``
  (ordered and strict: the step-1 event; any order: the earliest step event).
* **Time to convert** uses the step times (any order included) and bins that adapt to the
  data (:func:`time_to_convert`).
* **Time zone.** The data stay UTC; ``start``/``end`` are instants. A report on a local
  clock passes its month's local bounds (:func:`kpilib.periods.local_month_bounds`: October
  2026 in Berlin is ``[2026-09-30 22:00, 2026-10-31 23:00)`` UTC), as the funnel notebook
  does with its ``timezone`` parameter or the source's top-level ``timezone``;
  :func:`headline_metrics` and :func:`funnel_trends` take ``timezone=`` themselves.

Presets (``semantics=``)
------------------------
Each preset sets every rule to that tool's documented default; explicit keywords win.

=================  ===============  ======================  =====================  ========================
rule               ``"kpilib"``     ``"posthog"``           ``"mixpanel"``         ``"amplitude"``
=================  ===============  ======================  =====================  ========================
window             14 days          14 days                 30 days                1 day
entry / re-entry   first step-1     best attempt            first step-1           best attempt (earliest,
                                                                                   most complete)
order              ordered          ordered                 ordered ("loose")       ordered ("this order")
strict means       any event        any event               (no strict mode)       any event ("exact
                                                                                   order")
attribution        step 1 (entry)   first touch             step 1                 step 1 (how they entered)
window end         exclusive        inclusive (``<=``)      exclusive              exclusive
date range         entry            all steps               entry                  entry
=================  ===============  ======================  =====================  ========================

Where each comes from (the tests cite the pages): PostHog — the funnel API's
``funnel_window_interval`` defaults to 14 days; its query keeps a step when ``latest_i <=
latest_0 + INTERVAL``; every event, entry or completion, must lie in the date range; the
actor's best attempt is kept and breakdown attribution defaults to ``first_touch``;
exclusions drop the user from the whole funnel. Mixpanel (classic "Funnels Deep Dive" and
"Conversion Details"): "Only the first time the first event is performed by the user in the
date range is counted", a 30-day default window from the first step-1 event not restarted
by later ones, the date range applies to the first step only, loose order (newer Mixpanel
docs show a 7-day default and an "optimized re-entry"; pass ``window="7D"`` for those).
Amplitude: "the earliest and most complete conversion" per user, users grouped by how they
entered the funnel, the first step in the date range and the rest within the conversion
window; its default window of one day is not in the pages the tests cite.

Known differences that remain (a reconciliation should expect them): PostHog takes first /
last touch over all of the user's step events in the date range, kpilib over the kept
attempt's window (the same unless a user has step events before that attempt); PostHog's
``all_events`` runs the funnel once per value on that value's events, kpilib counts the
user's steps in each of their values; PostHog's sliding any-order window is kpilib's
``order="any", reentry="best"`` (the PostHog preset sets both when you pass
``order="any"``). Mixpanel's newer "First Step Defined" attribution is ``"first_touch"``
and its "optimized re-entry" (the most recent step-1 event before step 2) has no
equivalent. Events at the same instant: kpilib counts them as in order (never
"between"); Amplitude rounds to the second and does the same within a second.

Why kpilib's defaults are what they are: the **first** entry and the **step-1 value** make
every number a property of the person's first arrival (the marketing question "of the
people who came via X this month, how many converted"), stable when a user re-enters and
independent of later behaviour; the best attempt of PostHog/Amplitude flatters conversion
(a user gets as many tries as they have step-1 events). A **14-day exclusive** window is
PostHog's length with the half-open intervals used everywhere in kpilib (``[start, end)``,
``as_of`` exclusive), so adjacent windows never share an instant. The **entry** date range
lets recent entrants finish inside their window (flagged as open) instead of being cut at
the period's end, which would make the last days of every period look worse.
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
