"""Entry and step matching: the plan behind :func:`kpilib.funnel.funnel_users`.

The rules are in the package documentation (:mod:`kpilib.funnel`); this module is the
plan that computes them, one concern per function, each an Ibis expression that any
backend runs (no ASOF join, no engine-specific SQL):

* :func:`entries` — each user's entry, their first step-1 event;
* :func:`step_events` — the events that can match a step;
* :func:`match_in_order` — the greedy earliest match of ``order="ordered"`` and
  ``"strict"``, one step at a time (:func:`_match_step`, :func:`_eligible`), the step
  times then joined onto the entrants once (:func:`_step_times`);
* :func:`match_any_order` — per-name counts inside the window, for ``order="any"``.

Why the plan has this shape (it decides the speed on large data):

* **The events are read once.** :func:`kpilib.funnel.funnel_users` filters the raw events
  to the step names once; the entry and every step read that table through a view of
  their own (``Table.view()``), which Ibis writes as one CTE that the engine reads once
  (without the views Ibis inlines the table, and DuckDB scans the file again per step).
* **Linear in the steps.** Step *k* joins only the users who reached step *k - 1* (fewer
  at every step) with the step events, then groups back to one row per user; each step's
  table is referenced by the next step and by :func:`_step_times` and is kept one CTE.
  The step times are stacked (``UNION ALL``) and grouped back to one row per entrant, so
  the SQL of an *n*-step funnel holds *n* joins. (The earlier plan joined each step's
  matches back onto the whole users table and used that as the next step's input; Ibis
  flattened the joins, and the SQL doubled with every step.)
* **No work that the steps do not need.** Events are counted per ``(user, name,
  instant)`` only when a name repeats in the steps; a step whose name is new needs no
  eligibility test (and its matches no null filter); a step's table keeps only the
  columns later steps read (:func:`_carried`); the entry is a plain minimum when there is
  no breakdown. On small data the plan's size, not the engine, sets the time (Ibis builds
  and compiles it in a few tens of milliseconds), so every node saved counts.

A new matching rule (an exclusion event, say) is a condition in :func:`_match_step` /
:func:`_eligible` or a filter of :func:`entries`, not a new pass over the events.
"""

from __future__ import annotations

from collections import Counter

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from kpilib.periods import time_filter

_UTC = dt.Timestamp(timezone="UTC")


def _step_column(k: int) -> str:
    return f"step_{k}_at"


def _reached_column(k: int) -> str:
    return f"reached_{k}"


def entries(events: ibis.Table, entry_event: str | list[str], by: list[str], start: pd.Timestamp | None,
            end: pd.Timestamp | None, *, first_time: bool = False, attempts: bool = False) -> ibis.Table:
    """Each user's entry: their first ``entry_event`` in ``[start, end)``.

    Returns ``customer_id``, the ``by`` columns (their values at the entry event; events
    tied at the entry instant are ordered by those values, ascending — nulls last on
    DuckDB) and ``step_1_at``.
    Without a breakdown the entry is a plain minimum per user; with one, a row number per
    user picks the entry event.

    ``entry_event`` may be a list (any-order funnels enter on any step's event).
    ``first_time``: only the user's first such event ever (before ``as_of``) can be the
    entry, so a user whose first one lies before ``start`` does not enter. ``attempts``:
    every distinct instant of such an event in ``[start, end)`` is an entry of its own
    (re-entry ``"best"``); ``by`` must then be empty.
    """
    names = [entry_event] if isinstance(entry_event, str) else list(entry_event)
    candidates = events.filter(events.event == names[0] if len(names) == 1 else events.event.isin(names))
    if first_time:
        firsts = candidates.group_by("customer_id").agg(ts=candidates.ts.min())
        firsts = time_filter(firsts, "ts", start, end)
        return firsts.select("customer_id", **{_step_column(1): firsts.ts})
    candidates = time_filter(candidates, "ts", start, end)
    if attempts:
        return candidates.select("customer_id", **{_step_column(1): candidates.ts}).distinct()
    if not by:
        return candidates.group_by("customer_id").agg(**{_step_column(1): candidates.ts.min()})
    rank = ibis.row_number().over(
        group_by=candidates.customer_id, order_by=[candidates.ts, *[candidates[c] for c in by]]
    )
    candidates = candidates.mutate(entry_rank=rank)
    first = candidates.filter(candidates.entry_rank == 0)
    return first.select("customer_id", *by, **{_step_column(1): first.ts})


def step_events(named: ibis.Table, steps: list[str]) -> ibis.Table:
    """The events that can match a step, as ``e_customer_id``, ``e_event``, ``e_ts`` (and
    ``e_n`` when a name is listed more than once).

    ``named`` holds the events whose name is one of ``steps`` (``customer_id``, ``ts``,
    ``event``).

    ``e_n`` is how many events of that name the user has at that instant. Events of one
    name at one instant are interchangeable, so when a name is listed more than once the
    rows are counted up per ``(user, name, instant)`` (a repeated step may need two of
    them, :func:`_eligible`); otherwise every event is its own row and no aggregation runs.
    """
    if len(set(steps)) < len(steps):
        return named.group_by(e_customer_id=named.customer_id, e_event=named.event, e_ts=named.ts).agg(
            e_n=named.count())
    return named.select(e_customer_id=named.customer_id, e_event=named.event, e_ts=named.ts)


class Bounds:
    """The upper limits of a matched event after the entry: the window's end (exclusive or
    inclusive), the window of each step (from the step before), and the end of the date
    range when it applies to every step (``date_range="all_steps"``). ``Bounds()`` is the
    plain ``e_ts < window_end``."""

    def __init__(self, *, inclusive: bool = False, step_windows: tuple | None = None,
                 cap: pd.Timestamp | None = None) -> None:
        self.inclusive, self.step_windows, self.cap = inclusive, step_windows, cap

    def before(self, ts: ibis.Value, limit: ibis.Value) -> ibis.Value:
        return ts <= limit if self.inclusive else ts < limit

    def conditions(self, table: ibis.Table, ts: ibis.Value, k: int | None = None) -> list[ibis.Value]:
        """Conditions for an event at ``ts`` to be step *k* (``None``: any step)."""
        out = [self.before(ts, table.window_end)]
        if self.step_windows is not None and k is not None and k >= 2:
            out.append(self.before(ts, self.step_windows[k - 2].after(table[_step_column(k - 1)])))
        if self.cap is not None:
            out.append(ts < self.cap)
        return out


def match_in_order(users: ibis.Table, events: ibis.Table, steps: list[str], strict: bool, *,
                   keys: tuple[str, ...] = ("customer_id",), bounds: Bounds | None = None) -> ibis.Table:
    """Greedy earliest match of steps 2..n, in order (``strict``: nothing in between).

    Step *k* is matched on the users who reached step *k - 1* only (:func:`_match_step`),
    so each step reads fewer rows than the one before; the entrants then get all the step
    times by one left join (:func:`_step_times`).

    Parameters
    ----------
    users : ibis.Table
        One row per entrant (per ``keys``) with ``customer_id``, ``step_1_at`` and
        ``window_end`` (and any other columns, carried along unchanged).
    events : ibis.Table
        :func:`step_events`: the step events, or every event of the user for the tools'
        strict order (any event in between breaks the funnel).
    steps : list of str
        The funnel's steps.
    strict : bool
        Whether another event of ``events`` strictly between two matched events breaks the
        funnel.
    keys : tuple of str
        What identifies an entrant: the user, or the user and the entry time when every
        step-1 event is an attempt of its own (re-entry ``"best"``).
    bounds : Bounds, optional
        The window's limits (default: ``e_ts < window_end``).

    Returns
    -------
    ibis.Table
        ``users`` with ``reached_1`` and, for each step *k* ≥ 2, ``step_k_at`` (null when
        not reached) and ``reached_k``.
    """
    bounds = bounds or Bounds()
    keys = tuple(keys)
    columns = list(users.columns)
    flags = {_reached_column(1): ibis.literal(True)}
    base = ["customer_id", "window_end", _step_column(1)]
    reached = [users.select(*base, *[k for k in keys if k not in base])]
    for k in range(2, len(steps) + 1):
        carried = [c for c in reached[-1].columns if _carried(c, k, steps, keys)]
        reached.append(_match_step(reached[-1], events, steps, k, strict, bounds, carried))
    if len(steps) > 1:
        times = _step_times(reached[1:], keys)
        users = users.left_join(times, [users[key] == times[f"reached_{key}"] for key in keys])
        for k in range(2, len(steps) + 1):
            flags[_step_column(k)] = users[_step_column(k)]
            flags[_reached_column(k)] = users[_step_column(k)].notnull()
    return users.select(*columns, **flags)


def _step_times(reached: list[ibis.Table], keys: tuple[str, ...] = ("customer_id",)) -> ibis.Table:
    """The ``keys`` (as ``reached_<key>``) and ``step_2_at`` … ``step_n_at`` of the entrants
    reaching step 2.

    ``reached`` holds the :func:`_match_step` tables of steps 2..n; their rows, one per
    entrant and step reached, are stacked and grouped back to one row per entrant.
    """
    stacked = ibis.union(*[
        table.select(**{f"reached_{key}": table[key] for key in keys}, s_step=ibis.literal(k, type="int8"),
                     s_at=table[_step_column(k)])
        for k, table in enumerate(reached, start=2)
    ], distinct=False)
    return stacked.group_by([f"reached_{key}" for key in keys]).agg(
        **{_step_column(k): stacked.s_at.max(where=stacked.s_step == k) for k in range(2, len(reached) + 2)})


def _carried(column: str, k: int, steps: list[str], keys: tuple[str, ...]) -> bool:
    """Whether the table of step *k* keeps ``column`` of the step before: the entrant's
    ``keys``, ``window_end``, and the time of an earlier step whose name comes again after
    step *k* (:func:`_eligible` compares it)."""
    if column in keys or column == "window_end":
        return True
    later = steps[k:]
    return any(column == _step_column(j) and steps[j - 1] in later for j in range(1, k))


def _match_step(reached: ibis.Table, events: ibis.Table, steps: list[str], k: int, strict: bool,
                bounds: Bounds, carried: list[str]) -> ibis.Table:
    """The users who reach step *k*: their ``carried`` columns and ``step_k_at``.

    ``reached`` holds the users who reached step *k - 1* (``customer_id``, ``window_end``,
    ``step_{k-1}_at`` and the earlier step times :func:`_carried` keeps). Step *k* is the
    earliest eligible event of the window at or after ``step_{k-1}_at``: one join with the
    step events, one row per user again (grouped by ``carried``: the entrant's keys and
    what later steps read).
    """
    name, previous, current = steps[k - 1], _step_column(k - 1), _step_column(k)
    events = events.view()  # a reference of its own per step: the engine reads the step events once (a CTE)
    condition = [
        reached.customer_id == events.e_customer_id,
        events.e_ts >= reached[previous],
        *bounds.conditions(reached, events.e_ts, k),
    ]
    if not strict:  # strict mode also looks at the other events, for "in between"
        condition.append(events.e_event == name)
    joined = reached.join(events, condition)
    eligible = _eligible(joined, steps, k) if strict or name in steps[: k - 1] else None
    hit = joined.e_ts.min(where=eligible)
    if strict:  # no match when another event comes first (ties are not "between")
        next_event = joined.e_ts.min(where=joined.e_ts > joined[previous])
        hit = ibis.ifelse(next_event < hit, ibis.null(_UTC), hit)
    matched = joined.group_by(carried).agg(**{current: hit})
    if eligible is None and not strict:  # every joined row is a match: the minimum is never null
        return matched
    return matched.filter(matched[current].notnull())


def _eligible(joined: ibis.Table, steps: list[str], k: int) -> ibis.Value:
    """Whether a joined event can be step *k*: its name, and not used by an earlier step.

    Of the events named like step *k* at exactly the previous step's instant, earlier steps
    of the same name may have used some (``e_n`` counts them); later instants cannot have
    been used, as matches are time-ordered.
    """
    name, previous = steps[k - 1], joined[_step_column(k - 1)]
    same_name_before = [j for j in range(1, k) if steps[j - 1] == name]
    if not same_name_before:
        return joined.e_event == name
    used_here = sum((joined[_step_column(j)] == previous).cast("int32") for j in same_name_before)
    return (joined.e_event == name) & ((joined.e_ts > previous) | (joined.e_n > used_here))


def match_any_order(users: ibis.Table, events: ibis.Table, steps: list[str], *,
                    bounds: Bounds | None = None) -> ibis.Table:
    """Steps completed in any order: ``step_k_at`` is when the user completed *k* of the steps.

    ``users`` enter on any step's event (``step_1_at``, the window's start). An event of
    the window counts when it is among the first *c* events of its name in the window, *c*
    being how often that name is listed in ``steps``; ``step_k_at`` is the time of the
    *k*-th counted event (the entry is the first), null when fewer than *k* count.
    ``events`` has one row per event (``e_customer_id``, ``e_event``, ``e_ts``).
    """
    bounds = bounds or Bounds()
    listed = Counter(steps)
    columns = list(users.columns)
    joined = users.join(events, [users.customer_id == events.e_customer_id,
                                 events.e_ts >= users[_step_column(1)],
                                 *bounds.conditions(users, events.e_ts)])
    keys = [joined[c] for c in columns if c in ("customer_id", _step_column(1))]
    allowed = ibis.cases(*[(joined.e_event == name, count) for name, count in sorted(listed.items())],
                         else_=0)
    of_name = ibis.row_number().over(group_by=[*keys, joined.e_event], order_by=joined.e_ts)
    counted = joined.mutate(of_name=of_name, allowed=allowed)
    counted = counted.filter(counted.of_name < counted.allowed)
    nth = ibis.row_number().over(group_by=[counted[c] for c in columns if c in ("customer_id", _step_column(1))],
                                 order_by=counted.e_ts)
    counted = counted.mutate(nth=nth)
    times = counted.group_by(columns).agg(
        **{_step_column(k): counted.e_ts.min(where=counted.nth == k - 1) for k in range(2, len(steps) + 1)}
    )
    flags = {_reached_column(1): ibis.literal(True)}
    for k in range(2, len(steps) + 1):
        flags[_step_column(k)] = times[_step_column(k)]
        flags[_reached_column(k)] = times[_step_column(k)].notnull()
    return times.select(*columns, **flags)


def apply_exclusions(users: ibis.Table, events: ibis.Table, exclusions: tuple, n_steps: int, *,
                     keys: tuple[str, ...] = ("customer_id",), bounds: Bounds | None = None) -> ibis.Table:
    """``users`` less those with an excluded event strictly between the matched events of
    the exclusion's ``from_step`` and ``to_step`` (to the window's end when ``to_step`` is
    not reached; not at all when ``from_step`` is not). ``events``: ``customer_id``,
    ``ts``, ``event``."""
    bounds = bounds or Bounds()
    names = sorted({x.event for x in exclusions})
    excluded = events.filter(events.event.isin(names))
    excluded = excluded.select(x_customer_id=excluded.customer_id, x_ts=excluded.ts, x_event=excluded.event)
    joined = users.join(excluded, [users.customer_id == excluded.x_customer_id,
                                   excluded.x_ts > users[_step_column(1)]])
    hits = []
    for x in exclusions:
        lower, upper = joined[_step_column(x.from_step)], joined[_step_column(x.to_step)]
        inside_window = ibis.and_(*bounds.conditions(joined, joined.x_ts))
        before_upper = ibis.ifelse(upper.isnull(), inside_window, joined.x_ts < upper)
        hits.append((joined.x_event == x.event) & (joined.x_ts > lower) & before_upper)
    hit = ibis.or_(*hits).fill_null(False)
    gone = joined.filter(hit).select(*[joined[k].name(f"gone_{k}") for k in keys]).distinct()
    return users.anti_join(gone, [users[k] == gone[f"gone_{k}"] for k in keys])


def best_attempt(users: ibis.Table, n_steps: int) -> ibis.Table:
    """Per user, the attempt that reaches the most steps; ties: the earliest entry."""
    columns = list(users.columns)
    depth = sum(users[_reached_column(k)].cast("int32") for k in range(1, n_steps + 1))
    rank = ibis.row_number().over(group_by=users.customer_id, order_by=[depth.desc(), users[_step_column(1)]])
    ranked = users.mutate(attempt_rank=rank)
    return ranked.filter(ranked.attempt_rank == 0).select(*columns)


def attribute(users: ibis.Table, events: ibis.Table, steps: list[str], by: list[str], attribution: int | str,
              any_order: bool, bounds: Bounds | None = None) -> ibis.Table:
    """``users`` with their ``by`` values, per ``attribution``; ``events``: the step events.

    * step *k* (an int): the value of the event matched to step *k* (null when step *k*
      is not reached; several events of the step's name at that instant: the smallest
      value). In an any-order funnel, of the step events at ``step_k_at``.
    * ``"first_touch"`` / ``"last_touch"``: the first / last non-null value among the
      user's step events of the window (from the entry to the window's end, within
      ``bounds``), each ``by`` column on its own; ties at one instant: the smallest value.
    * ``"all"``: one row per distinct combination of values among those events (a user
      with no value at all keeps one row of nulls).
    """
    bounds = bounds or Bounds()
    columns = list(users.columns)
    ev = events.select("customer_id", "ts", "event", *by)
    ev = ev.rename(**{f"v_{c}": c for c in by}, v_customer_id="customer_id", v_ts="ts", v_event="event")
    if isinstance(attribution, int):
        key = users.select(k_customer_id=users.customer_id, k_at=users[_step_column(attribution)])
        name_ok = ev.v_event.isin(sorted(set(steps))) if any_order else ev.v_event == steps[attribution - 1]
        joined = key.join(ev, [key.k_customer_id == ev.v_customer_id, ev.v_ts == key.k_at, name_ok])
        values = joined.group_by(a_customer_id=joined.k_customer_id).agg(
            **{c: joined[f"v_{c}"].min() for c in by})
    else:
        key = users.select(k_customer_id=users.customer_id, window_end=users.window_end,
                           k_start=users[_step_column(1)])
        joined = key.join(ev, [key.k_customer_id == ev.v_customer_id, ev.v_ts >= key.k_start,
                               *bounds.conditions(key, ev.v_ts)])
        if attribution == "all":
            values = joined.select(a_customer_id=joined.k_customer_id,
                                   **{c: joined[f"v_{c}"] for c in by}).distinct()
            some = ibis.or_(*[values[c].notnull() for c in by])
            has_any = some.cast("int32").max().over(group_by=values.a_customer_id)
            values = values.filter(some | (has_any == 0)).select("a_customer_id", *by)
        else:
            when = joined.v_ts if attribution == "first_touch" else joined.v_ts.desc()
            ranks = {f"r_{c}": ibis.row_number().over(group_by=joined.k_customer_id,
                                                      order_by=[joined[f"v_{c}"].isnull(), when, joined[f"v_{c}"]])
                     for c in by}
            ranked = joined.mutate(**ranks)
            values = ranked.group_by(a_customer_id=ranked.k_customer_id).agg(
                **{c: ranked[f"v_{c}"].min(where=ranked[f"r_{c}"] == 0) for c in by})
    joined_users = users.left_join(values, users.customer_id == values.a_customer_id)
    return joined_users.select(*columns, *by)


def limit_groups(users: ibis.Table, by: list[str], limit: int, keys: tuple[str, ...] = ("customer_id",)) -> ibis.Table:
    """The ``limit`` groups with the most entrants keep their values, the rest become
    ``"other"`` (every ``by`` column, as a string). Ties in entrants: the smaller values
    first (nulls last). A user counted in several groups (attribution ``"all"``) is counted
    once in ``"other"``."""
    columns = list(users.columns)
    sizes = users.group_by(by).agg(g_entrants=users.customer_id.nunique())
    rank = ibis.row_number().over(order_by=[sizes.g_entrants.desc(),
                                            *[sizes[c].isnull() for c in by], *[sizes[c] for c in by]])
    top = sizes.mutate(g_rank=rank)
    top = top.filter(top.g_rank < limit).select(*[top[c].name(f"g_{c}") for c in by], g_top=ibis.literal(True))
    joined = users.left_join(top, [users[c].identical_to(top[f"g_{c}"]) for c in by])
    kept = joined.g_top.fill_null(False)
    mapped = {c: ibis.ifelse(kept, joined[c].cast("string"), ibis.literal("other")) for c in by}
    out = joined.select(*[c for c in columns if c not in by], **mapped).select(*columns)
    return out.distinct()
