"""The funnel: entry, step matching, conversion, drop-off, time to convert, landing pages.

Every count is one Ibis expression over the events table (:func:`funnel_users` is the
building block); only the per-step result comes back as pandas. The matching rules are in
the package documentation (:mod:`kpilib.funnel`); the plan that matches the steps, and why
it has its shape, is in :mod:`kpilib.funnel._matching`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from kpilib.data import as_table, column_list, require_columns
from kpilib.funnel import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.funnel._matching import (
    Bounds,
    _reached_column,
    _step_column,
    apply_exclusions,
    attribute,
    best_attempt,
    entries,
    limit_groups,
    match_any_order,
    match_in_order,
    step_events,
)
from kpilib.funnel._semantics import Exclusion, FunnelRules, Span, resolve_rules, step_position
from kpilib.metrics import computes
from kpilib.periods import (
    TimeLike,
    check_timezone,
    default_cutoff,
    duration_text,
    epoch_seconds,
    to_utc,
)
from kpilib.stats import rate_frame

__all__ = [
    "Exclusion",
    "Order",
    "Semantics",
    "TimeToConvert",
    "WindowLike",
    "conversion_rate",
    "describe_funnel",
    "drop_off",
    "funnel",
    "funnel_users",
    "landing_page_conversion",
    "time_to_convert",
]

#: How the steps must follow each other (see :mod:`kpilib.funnel`).
Order = Literal["ordered", "strict", "strict_steps", "any"]
#: A vendor preset for every funnel rule (see :mod:`kpilib.funnel`).
Semantics = Literal["kpilib", "posthog", "mixpanel", "amplitude"]
#: Exclusions: Exclusion objects, event names (anywhere) or (event, from_step, to_step) tuples.
ExclusionsLike = Sequence[Exclusion | str | tuple] | Exclusion | str | None
#: A conversion window: a duration string ("14D", "36h"), a Timedelta or a number of days.
WindowLike = str | pd.Timedelta | int

_UTC = dt.Timestamp(timezone="UTC")
_DAY_SECONDS = 86_400.0
_QUANTILES = {"p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.9}


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
    if order not in ("ordered", "strict", "strict_steps", "any"):
        raise ValueError(f"order must be 'ordered', 'strict', 'strict_steps' or 'any', got {order!r}")
    return order


# ---------------------------------------------------------------------------------------
# The funnel: one expression per question
# ---------------------------------------------------------------------------------------


def funnel_users(
    events: ibis.Table | pd.DataFrame,
    steps: Sequence[str],
    *,
    window: WindowLike | None = None,
    order: Order | None = None,
    by: str | Sequence[str] | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    customers: ibis.Table | pd.DataFrame | None = None,
    semantics: Semantics | None = None,
    exclusions: ExclusionsLike = None,
    attribution: int | str | None = None,
    breakdown_limit: int | None = None,
    reentry: Literal["first", "best"] | None = None,
    first_time: bool | None = None,
    window_end: Literal["exclusive", "inclusive"] | None = None,
    step_windows: Sequence[WindowLike] | None = None,
    date_range: Literal["entry", "all_steps"] | None = None,
) -> ibis.Table:
    """One row per user who entered the funnel, with the matched time of each step.

    The building block of :func:`funnel`, :func:`time_to_convert` and the rest; it is
    a lazy Ibis expression (nothing runs until you call ``.to_pandas()`` or aggregate).
    The matching rules, and what each ``semantics`` preset sets, are in the module
    documentation (:mod:`kpilib.funnel`).

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table of the data contract.
    steps : list of str
        Event names, in funnel order; a name may repeat.
    window : str, pandas.Timedelta or int, optional
        Conversion window from the entry event: ``"14D"``, ``"2W"``, ``"12h"``, ``"1M"``
        (calendar months), a Timedelta, or an int (days). Default: the preset's (14 days
        for kpilib).
    order : {"ordered", "strict", "strict_steps", "any"}, optional
        How steps must follow each other (default ``"ordered"``). ``"strict"``: no event
        at all of the user strictly between two matched steps (PostHog strict, Amplitude
        exact order; before this release it meant ``"strict_steps"``, and an explicit
        ``"strict"`` warns for one release); ``"strict_steps"``: no other funnel-step event
        in between; ``"any"``: steps in any order, entry on any step's event.
    by : str or list of str, optional
        Breakdown columns of ``events`` (valued per ``attribution``); a column the events
        lack is taken from ``customers`` (the person's attribute) when it has it.
    start, end : str or pandas.Timestamp, optional
        Users enter at a step-1 event in ``[start, end)`` (UTC). Later steps may fall after
        ``end``, inside the window, unless ``date_range="all_steps"``.
    as_of : str or pandas.Timestamp, optional
        The end of the data (exclusive): events at or after it are ignored and windows
        ending after it are open. Default: :func:`kpilib.periods.default_cutoff` of the
        latest event, the start of the day after it.
    customers : ibis.Table or pandas.DataFrame, optional
        The customers table, for ``by`` columns that are customer attributes; people
        without a customers row get a null group.
    semantics : {"kpilib", "posthog", "mixpanel", "amplitude"}, optional
        A preset for every rule below (the table in :mod:`kpilib.funnel`); keywords given
        explicitly override it.
    exclusions : list, optional
        Events that drop a user from the funnel: :class:`Exclusion` objects, event names
        (anywhere between step 1 and the last step) or ``(event, from_step, to_step)``.
    attribution : {"first_touch", "last_touch", "all"} or int or "step:k", optional
        Which matched event gives the ``by`` value (default: step 1, the entry).
    breakdown_limit : int, optional
        Keep the groups with the most entrants, the rest as ``"other"``.
    reentry : {"first", "best"}, optional
        ``"first"``: the first step-1 event is the entry; ``"best"``: every step-1 event in
        the period is tried, the attempt reaching the most steps is kept (ties: earliest).
    first_time : bool, optional
        Only the user's first step-1 event ever (before ``as_of``) can be the entry.
    window_end : {"exclusive", "inclusive"}, optional
        Whether an event exactly at the window's end is inside it.
    step_windows : list, optional
        One window per step after the first: step *k* must follow step *k - 1* within it
        (the overall window applies too).
    date_range : {"entry", "all_steps"}, optional
        Whether ``start``/``end`` restrict the entry only, or every matched step.

    Returns
    -------
    ibis.Table
        ``customer_id``, the ``by`` columns, ``window_end``, ``window_open``,
        ``entered_at`` (the entry time: the step-1 event of an ordered funnel, the
        earliest step event of an any-order one; the same value as ``step_1_at``), and for
        each step *k* ``reached_k`` (bool) and ``step_k_at`` (null when not reached). In an
        any-order funnel ``step_k_at`` is when the user had completed *k* of the steps.
        With ``attribution="all"`` a user has one row per value.

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
    rules = resolve_rules(steps, semantics=semantics, window=window, order=order, exclusions=exclusions,
                          attribution=attribution, breakdown_limit=breakdown_limit, reentry=reentry,
                          first_time=first_time, window_end=window_end, step_windows=step_windows,
                          date_range=date_range)
    return _funnel_users(events, steps, rules, by=by, start=start, end=end, as_of=as_of, customers=customers)


def _funnel_users(events: ibis.Table, steps: list[str], rules: FunnelRules, *, by: str | Sequence[str] | None,
                  start: TimeLike, end: TimeLike, as_of: TimeLike,
                  customers: ibis.Table | pd.DataFrame | None) -> ibis.Table:
    """:func:`funnel_users` with its rules resolved (one plan, each rule a piece of it)."""
    by_all = column_list(by)
    people = as_table(customers, "customers") if customers is not None else None
    from_customers = [c for c in by_all if c not in events.columns and people is not None and c in people.columns]
    by = [c for c in by_all if c not in from_customers]
    require_columns(events, by, "events", "the breakdown" if people is None else "the breakdown (events or customers)")
    start, end, as_of = to_utc(start), to_utc(end), to_utc(as_of)
    any_order, best = rules.order == "any", rules.reentry == "best"

    columns = ["customer_id", "ts", "event", *[c for c in by if c not in ("customer_id", "ts", "event")]]
    named = events.select(*columns)
    if as_of is not None:
        named = named.filter(named.ts < as_of)
        data_end = ibis.literal(as_of, type=_UTC)
    else:
        data_end = default_cutoff(named.ts.max()).as_scalar()

    # The events named like a step, read once by the entry and by the matching.
    funnel_events = named.filter(named.event.isin(sorted(set(steps))))
    at_entry = rules.attribution == 1 and not any_order and not best and not rules.first_time
    by_entry = by if at_entry else []
    users = entries(funnel_events.view(), steps if any_order else steps[0], by_entry, start, end,
                    first_time=rules.first_time, attempts=best)
    users = users.mutate(window_end=rules.window.after(users[_step_column(1)]))
    keys = ("customer_id", _step_column(1)) if best else ("customer_id",)
    bounds = Bounds(inclusive=rules.inclusive, step_windows=rules.step_windows,
                    cap=end if rules.date_range == "all_steps" else None)

    if any_order:
        raw = funnel_events.view()
        users = match_any_order(users, raw.select(e_customer_id=raw.customer_id, e_event=raw.event, e_ts=raw.ts),
                                steps, bounds=bounds)
    else:
        strict = rules.order in ("strict", "strict_steps")
        candidates = named.view() if rules.order == "strict" else funnel_events.view()
        users = match_in_order(users, step_events(candidates, steps), steps, strict, keys=keys, bounds=bounds)
    if best:  # the furthest attempt is kept first, then judged by the exclusions (as PostHog does)
        users = best_attempt(users, len(steps))
    if rules.exclusions:
        users = apply_exclusions(users, named.view(), rules.exclusions, len(steps), keys=keys, bounds=bounds)
    if by and not at_entry:
        users = attribute(users, funnel_events.view(), steps, by, rules.attribution, any_order, bounds)
    if from_customers:
        attributes = people.select(a_customer_id=people.customer_id, **{c: people[c] for c in from_customers})
        joined = users.left_join(attributes, users.customer_id == attributes.a_customer_id)
        users = joined.select(*[c for c in users.columns if c not in by_all], *by_all)
    if by_all and rules.breakdown_limit is not None:
        users = limit_groups(users, by_all, rules.breakdown_limit)
    step_columns = {}
    for k in range(1, len(steps) + 1):
        if k > 1:
            step_columns[_step_column(k)] = users[_step_column(k)]
        step_columns[_reached_column(k)] = users[_reached_column(k)]
    open_window = users.window_end >= data_end if rules.inclusive else users.window_end > data_end
    return users.select("customer_id", *by_all, _step_column(1), "window_end", window_open=open_window,
                        entered_at=users[_step_column(1)], **step_columns)


def _funnel_counts(users: ibis.Table, n_steps: int, by: list[str], complete_only: bool) -> pd.DataFrame:
    """Users reaching each step, and those of them with an open window, per group."""
    if complete_only:
        users = users.filter(~users.window_open)
    aggregates = {}
    for k in range(1, n_steps + 1):
        reached = users[_reached_column(k)]
        aggregates[f"users_{k}"] = reached.sum()
        aggregates[f"open_{k}"] = (reached & users.window_open).sum()
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


@computes("conversion_rate", "step_conversion_rate", "funnel_exclusion")
def funnel(
    events: ibis.Table | pd.DataFrame,
    steps: Sequence[str],
    *,
    window: WindowLike | None = None,
    order: Order | None = None,
    by: str | Sequence[str] | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    complete_only: bool = False,
    customers: ibis.Table | pd.DataFrame | None = None,
    semantics: Semantics | None = None,
    exclusions: ExclusionsLike = None,
    attribution: int | str | None = None,
    breakdown_limit: int | None = None,
    reentry: Literal["first", "best"] | None = None,
    first_time: bool | None = None,
    window_end: Literal["exclusive", "inclusive"] | None = None,
    step_windows: Sequence[WindowLike] | None = None,
    date_range: Literal["entry", "all_steps"] | None = None,
) -> pd.DataFrame:
    r"""Conversion through an ordered list of steps, with intervals, per step.

    A user enters at their first ``steps[0]`` event in ``[start, end)``; the window runs
    ``window`` from that event and later step-1 events do not restart it. Step *k* is
    reached when events matching steps 1..k occur in that order inside the window, each
    not earlier than the previous one (equal timestamps count as in order) and each a
    distinct event (a step listed twice needs two events). Matching is greedy, earliest
    first, which finds a match whenever one exists. ``order="strict"`` also forbids any
    other event at all strictly between consecutive matched events (``"strict_steps"``:
    any other funnel-step event); ``order="any"`` only needs the events inside the window
    in any order. These are kpilib's rules; ``semantics`` and the rule keywords change
    them (details in the module documentation). The counting is one Ibis expression run in the engine.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table (``customer_id``, ``ts``, ``event`` and any extras).
    steps : list of str
        Event names in funnel order, e.g. ``["visit", "signup", "purchase"]``.
    window : str, pandas.Timedelta or int, optional
        Conversion window from the entry event (``"14D"``, ``"2W"``, ``"12h"``, ``"1M"``
        calendar months; an int is days). Default: the preset's (kpilib: 14 days).
    order : {"ordered", "strict", "strict_steps", "any"}, optional
        How steps must follow each other (see :func:`funnel_users`; ``"strict"`` changed
        meaning in this release, the former rule is ``"strict_steps"``).
    by : str or list of str, optional
        Breakdown columns of ``events``, valued per ``attribution`` (default: at entry).
    start, end : str or pandas.Timestamp, optional
        Entry period ``[start, end)``, UTC. Default: all entries.
    as_of : str or pandas.Timestamp, optional
        End of the data, exclusive (default: the day after the latest event's day);
        windows ending later are open.
    complete_only : bool, default False
        Count only users whose window has closed by ``as_of``.
    customers : ibis.Table or pandas.DataFrame, optional
        For ``by`` columns the events lack (see :func:`funnel_users`).
    semantics, exclusions, attribution, breakdown_limit, reentry, first_time, window_end, step_windows, date_range
        The funnel's rules, as in :func:`funnel_users`; ``semantics`` presets them all
        like PostHog, Mixpanel or Amplitude (table in :mod:`kpilib.funnel`).

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
                         as_of=as_of, customers=customers, semantics=semantics, exclusions=exclusions,
                         attribution=attribution, breakdown_limit=breakdown_limit, reentry=reentry,
                         first_time=first_time, window_end=window_end, step_windows=step_windows,
                         date_range=date_range)
    counts = _funnel_counts(users, len(steps), by_columns, complete_only)
    return _long_funnel(counts, steps, by_columns)


_PRESET_NAMES = {"posthog": "PostHog", "mixpanel": "Mixpanel", "amplitude": "Amplitude"}


def _span_words(span: Span) -> str:
    if span.months:
        months = f"{span.months} calendar month{'s' if span.months != 1 else ''}"
        if not span.seconds:
            return months
        return f"{months} and {duration_text(pd.Timedelta(seconds=span.seconds), 'window')}"
    return duration_text(pd.Timedelta(seconds=span.seconds), "window")


def _listed(words: list[str], last: str = "and") -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" {last} {words[-1]}"


def describe_funnel(
    steps: Sequence[str],
    *,
    window: WindowLike | None = None,
    order: Order | None = None,
    semantics: Semantics | None = None,
    exclusions: ExclusionsLike = None,
    reentry: Literal["first", "best"] | None = None,
    first_time: bool | None = None,
    window_end: Literal["exclusive", "inclusive"] | None = None,
    step_windows: Sequence[WindowLike] | None = None,
    date_range: Literal["entry", "all_steps"] | None = None,
    timezone: str | None = None,
) -> str:
    """How people enter and move through the funnel, in Markdown, from its parameters.

    The notebook's prose about the funnel comes from here, so it names the steps, the
    window and every rule actually used: the preset (``semantics``), the entry and
    re-entry rule, a window end that is inclusive, per-step windows, a date range applied
    to every step, the exclusions, and the time zone of the month.

    Parameters
    ----------
    steps : list of str
        Funnel steps.
    window, order, semantics, exclusions, reentry, first_time, window_end, step_windows, date_range
        The funnel's rules, as in :func:`funnel_users` (``None``: the preset's, kpilib's
        by default).
    timezone : str, optional
        IANA name of the report clock the month is read on; None is UTC.

    Examples
    --------
    >>> print(describe_funnel(["mql", "sql", "won"], window="30D"))
    People enter at their **first** `mql` of the month; from that moment they have 30 days (the conversion window) to take each next step — `sql`, then `won` — in that order (other events may come in between).
    >>> print(describe_funnel(["visit"], window="36h"))
    People enter at their **first** `visit` of the month; a one-step funnel counts the entrants only.
    >>> print(describe_funnel(["visit", "signup"], semantics="posthog", exclusions=["refund"],
    ...                       timezone="Europe/Berlin"))
    These are PostHog's funnel rules (`semantics="posthog"`). Every `visit` of the month (Europe/Berlin time) starts an attempt and each person's **best** attempt counts (the one reaching the most steps; the earliest of equals); from that moment they have 14 days (the conversion window, an event at its very end included) to take the next step, `signup`, in that order (other events may come in between); every step must also happen within the month. People who do `refund` between `visit` (step 1) and `signup` (step 2) — or, if they never get that far, before their window ends — are left out of the funnel altogether.
    """
    steps = _check_steps(steps)
    if order is not None:
        _check_order(order)
    rules = resolve_rules(steps, semantics=semantics or None, window=window, order=order, exclusions=exclusions,
                          reentry=reentry, first_time=first_time, window_end=window_end,
                          step_windows=step_windows, date_range=date_range, warn_strict=False)
    zone = check_timezone(timezone)
    month = f"the month ({zone} time)" if zone else "the month"
    window_words = _span_words(rules.window)
    any_order, best = rules.order == "any", rules.reentry == "best"
    preset = ""
    if rules.semantics in _PRESET_NAMES:
        preset = (f"These are {_PRESET_NAMES[rules.semantics]}'s funnel rules "
                  f'(`semantics="{rules.semantics}"`). ')
    first = "of any step (`" + steps[0] + "`, …)" if any_order else f"`{steps[0]}`"
    if rules.first_time:
        entry = (f"People enter at their **first {'event ' if any_order else ''}{first} ever**, when it falls in "
                 f"{month} (people who had one before do not enter)")
    elif best:
        entry = (f"Every {'event ' if any_order else ''}{first} of {month} starts an attempt and each person's "
                 f"**best** attempt counts (the one reaching the most steps; the earliest of equals)")
    else:
        entry = f"People enter at their **first** {'event ' if any_order else ''}{first} of {month}"
    if len(steps) == 1:
        return f"{preset}{entry}; a one-step funnel counts the entrants only."
    conversion_window = "the conversion window" + (", an event at its very end included" if rules.inclusive else "")
    if any_order:
        take = (f"the other steps in any order (a user who took k of the {len(steps)} steps counts at step k)")
    else:
        rest = [f"`{s}`" for s in steps[1:]]
        how = {
            "ordered": "in that order (other events may come in between)",
            "strict": "in that order, with no other event at all in between",
            "strict_steps": "in that order, with no other step event in between",
        }[rules.order]
        listed = rest[0] if len(rest) == 1 else ", ".join(rest[:-1]) + f", then {rest[-1]}"
        next_steps = f"the next step, {listed}," if len(rest) == 1 else f"each next step — {listed} —"
        take = f"{next_steps} {how}"
    text = f"{preset}{entry}; from that moment they have {window_words} ({conversion_window}) to take {take}"
    extras = []
    if rules.step_windows:
        gaps = [f"{_span_words(span)} from `{steps[k]}` to `{steps[k + 1]}`"
                for k, span in enumerate(rules.step_windows)]
        extras.append(f"each step must also follow the one before within its own window: {_listed(gaps)}")
    if rules.date_range == "all_steps":
        extras.append("every step must also happen within the month")
    text += "".join(f"; {extra}" for extra in extras) + "."
    if rules.exclusions:
        def step_words(k: int) -> str:
            return f"completing {k} of the steps" if any_order else f"`{steps[k - 1]}` (step {k})"

        spans = [f"`{e.event}` between {step_words(e.from_step)} and {step_words(e.to_step)}"
                 for e in rules.exclusions]
        text += (f" People who do {_listed(spans, 'or')} — or, if they never get that far, before their window "
                 f"ends — are left out of the funnel altogether.")
    return text


@computes("conversion_rate", "breakdown_attribution")
def conversion_rate(
    events: ibis.Table | pd.DataFrame,
    steps: Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    to_step: int | str = -1,
    window: WindowLike | None = None,
    order: Order | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    complete_only: bool = False,
    customers: ibis.Table | pd.DataFrame | None = None,
    semantics: Semantics | None = None,
    exclusions: ExclusionsLike = None,
    attribution: int | str | None = None,
    breakdown_limit: int | None = None,
    reentry: Literal["first", "best"] | None = None,
    first_time: bool | None = None,
    window_end: Literal["exclusive", "inclusive"] | None = None,
    step_windows: Sequence[WindowLike] | None = None,
    date_range: Literal["entry", "all_steps"] | None = None,
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
    semantics, exclusions, attribution, breakdown_limit, reentry, first_time, window_end, step_windows, date_range
        The funnel's rules, as in :func:`funnel_users`.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``numerator`` (users reaching ``to_step``), ``denominator``
        (entering users), ``rate``, ``ci_low``, ``ci_high``, ``small_sample`` (denominator
        under 30) and ``users_window_open`` (entrants whose window is still open).

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
    target = step_position(to_step, steps, "to_step")
    by_columns = column_list(by)
    table = funnel(events, steps, window=window, order=order, by=by_columns, start=start, end=end,
                   as_of=as_of, complete_only=complete_only, customers=customers, semantics=semantics,
                   exclusions=exclusions, attribution=attribution, breakdown_limit=breakdown_limit,
                   reentry=reentry, first_time=first_time, window_end=window_end, step_windows=step_windows,
                   date_range=date_range)
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


#: Round bin widths for :func:`time_to_convert`, in seconds: the smallest that covers the
#: observed durations in at most ``bins`` bins is used.
_NICE_WIDTHS = (1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
                86_400, 2 * 86_400, 7 * 86_400, 14 * 86_400, 30 * 86_400, 91 * 86_400, 182 * 86_400,
                365 * 86_400)


def _bin_width_days(longest_days: float, bins: int) -> float:
    """The smallest round width (:data:`_NICE_WIDTHS`) whose bins, from 0, hold
    ``longest_days`` in at most ``bins`` bins; beyond a year, whole years.

    >>> _bin_width_days(3.0, 7), _bin_width_days(0.2, 10), _bin_width_days(40.0, 28)
    (0.5, 0.020833333333333332, 2.0)
    """
    longest = max(float(longest_days), 0.0) * _DAY_SECONDS
    for width in _NICE_WIDTHS:
        if math.floor(longest / width) + 1 <= bins:
            return width / _DAY_SECONDS
    years = math.ceil((math.floor(longest / (365 * 86_400)) + 1) / bins)
    return years * 365.0


@computes("time_to_convert")
def time_to_convert(
    events: ibis.Table | pd.DataFrame,
    steps: Sequence[str],
    *,
    from_step: int | str = 1,
    to_step: int | str = -1,
    window: WindowLike | None = None,
    order: Order | None = None,
    by: str | Sequence[str] | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    complete_only: bool = False,
    bins: int = 28,
    semantics: Semantics | None = None,
    exclusions: ExclusionsLike = None,
    attribution: int | str | None = None,
    breakdown_limit: int | None = None,
    reentry: Literal["first", "best"] | None = None,
    first_time: bool | None = None,
    window_end: Literal["exclusive", "inclusive"] | None = None,
    step_windows: Sequence[WindowLike] | None = None,
    date_range: Literal["entry", "all_steps"] | None = None,
) -> TimeToConvert:
    r"""Time between two funnel steps for the users who reach both.

    Uses the greedy earliest match of :func:`funnel`; the durations, their quantiles and
    the histogram are computed in the engine. In an any-order funnel step *k*'s time is
    when the user had completed *k* of the steps, so the time to convert is from the
    entry (the first step event) to the event completing ``to_step`` steps.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    steps : list of str
        Funnel steps.
    from_step, to_step : int or str, default 1 and -1
        1-based positions (negative from the end) or step names.
    window, order, by, start, end, as_of, complete_only
        As in :func:`funnel`.
    bins : int, default 28
        Histogram bins, from 0. Their width adapts to the data, not to the window: the
        smallest round width (1, 5, 10, 30 s; 1, 5, 10, 15, 30 min; 1, 2, 3, 6, 12 h;
        1, 2, 7, 14, 30, 91, 182, 365 days) whose ``bins`` bins hold the longest observed
        duration (the last bins may be empty).
    semantics, exclusions, attribution, breakdown_limit, reentry, first_time, window_end, step_windows, date_range
        The funnel's rules, as in :func:`funnel_users`.

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

    The longest duration is 3 days: seven half-day bins hold it.

    >>> result.histogram.bin_end_days.tolist()[-1], result.histogram.users.tolist()
    (3.5, [0, 0, 1, 0, 0, 0, 1])
    """
    steps = _check_steps(steps)
    first, last = step_position(from_step, steps, "from_step"), step_position(to_step, steps, "to_step")
    if last <= first:
        raise ValueError(f"to_step ({to_step!r}) must come after from_step ({from_step!r})")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    by_columns = column_list(by)
    users = funnel_users(events, steps, window=window, order=order, by=by_columns, start=start, end=end,
                         as_of=as_of, semantics=semantics, exclusions=exclusions, attribution=attribution,
                         breakdown_limit=breakdown_limit, reentry=reentry, first_time=first_time,
                         window_end=window_end, step_windows=step_windows, date_range=date_range)
    if complete_only:
        users = users.filter(~users.window_open)
    users = users.filter(users[_reached_column(last)])
    seconds = (
        epoch_seconds(users[_step_column(last)]).cast("float64")
        - epoch_seconds(users[_step_column(first)]).cast("float64")
    )
    durations = users.select(*by_columns, days=seconds / _DAY_SECONDS)

    quantiles = {f"{name}_days": durations.days.quantile(q) for name, q in _QUANTILES.items()}
    aggregates = {"converters": durations.count(), "mean_days": durations.days.mean(), **quantiles,
                  "max_days": durations.days.max()}
    summary = (durations.group_by(by_columns).agg(**aggregates) if by_columns
               else durations.aggregate(**aggregates)).to_pandas()
    summary["converters"] = summary["converters"].astype("int64")
    longest = summary["max_days"].max() if len(summary) and summary["converters"].sum() else 0.0
    summary = summary[[*by_columns, "converters", "mean_days", "p25_days", "median_days", "p75_days", "p90_days"]]

    width = _bin_width_days(0.0 if pd.isna(longest) else longest, bins)
    n_bins = bins
    binned = durations.mutate(bin=(durations.days / width).floor().cast("int64").clip(0, n_bins - 1))
    counts = binned.group_by([*by_columns, "bin"]).agg(users=binned.count()).to_pandas()
    if by_columns:
        summary = summary.sort_values(by_columns, ignore_index=True)
        groups = summary[by_columns].drop_duplicates()
    else:
        groups = pd.DataFrame(index=[0])
    grid = groups.merge(pd.DataFrame({"bin": range(n_bins)}), how="cross")
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
    window: WindowLike | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    complete_only: bool = False,
    semantics: Semantics | None = None,
    exclusions: ExclusionsLike = None,
    attribution: int | str | None = None,
    reentry: Literal["first", "best"] | None = None,
    first_time: bool | None = None,
    window_end: Literal["exclusive", "inclusive"] | None = None,
    date_range: Literal["entry", "all_steps"] | None = None,
) -> pd.DataFrame:
    r"""Conversion of each landing page: visitors who reach ``goal`` within the window.

    The landing page of a person is the ``page_column`` value of their first
    ``entry_event`` in ``[start, end)``; it is the two-step funnel
    ``[entry_event, goal]`` broken down by that page, under the same rules as any funnel
    (a preset's re-entry rule and attribution change which visit's page counts).

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
        As in :func:`funnel` (``window`` ``None``: the preset's, 14 days for kpilib).
    semantics, exclusions, attribution, reentry, first_time, window_end, date_range
        The funnel's rules, as in :func:`funnel_users`, for the two steps ``entry_event``
        (step 1) and ``goal`` (step 2); ``attribution`` picks the page (default: the
        entry's).

    Returns
    -------
    pandas.DataFrame
        ``page_column``, ``numerator`` (converting visitors), ``denominator`` (visitors),
        ``rate``, ``ci_low``, ``ci_high``, ``small_sample``, ``users_window_open``; the
        busiest pages first.

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
                            end=end, as_of=as_of, complete_only=complete_only, semantics=semantics,
                            exclusions=exclusions, attribution=attribution, reentry=reentry,
                            first_time=first_time, window_end=window_end, date_range=date_range)
    return rates.sort_values(["denominator", page_column], ascending=[False, True],
                             ignore_index=True)
