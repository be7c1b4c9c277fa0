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
  table is referenced by the next step and by :func:`_step_times` and is kept one CTE,
  so the SQL of an *n*-step funnel holds *2 (n - 1)* joins. (The earlier plan joined each
  step's matches back onto the whole users table and used that as the next step's input;
  Ibis flattened the joins, and the SQL doubled with every step.)
* **No work that the steps do not need.** Events are counted per ``(user, name,
  instant)`` only when a name repeats in the steps; a step whose name is new needs no
  eligibility test; the entry is a plain minimum when there is no breakdown.

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


def entries(events: ibis.Table, entry_event: str, by: list[str], start: pd.Timestamp | None,
            end: pd.Timestamp | None) -> ibis.Table:
    """Each user's entry: their first ``entry_event`` in ``[start, end)``.

    Returns ``customer_id``, the ``by`` columns (their values at the entry event; events
    tied at the entry instant are ordered by those values, ascending — nulls last on
    DuckDB) and ``step_1_at``.
    Without a breakdown the entry is a plain minimum per user; with one, a row number per
    user picks the entry event.
    """
    candidates = time_filter(events.filter(events.event == entry_event), "ts", start, end)
    if not by:
        return candidates.group_by("customer_id").agg(**{_step_column(1): candidates.ts.min()})
    rank = ibis.row_number().over(
        group_by=candidates.customer_id, order_by=[candidates.ts, *[candidates[c] for c in by]]
    )
    candidates = candidates.mutate(entry_rank=rank)
    first = candidates.filter(candidates.entry_rank == 0)
    return first.select("customer_id", *by, **{_step_column(1): first.ts})


def step_events(named: ibis.Table, steps: list[str]) -> ibis.Table:
    """The events that can match a step, as ``e_customer_id``, ``e_event``, ``e_ts``, ``e_n``.

    ``named`` holds the events whose name is one of ``steps`` (``customer_id``, ``ts``,
    ``event``).

    ``e_n`` is how many events of that name the user has at that instant. Events of one
    name at one instant are interchangeable, so when a name is listed more than once the
    rows are counted up per ``(user, name, instant)`` (a repeated step may need two of
    them); otherwise every event is its own row with ``e_n = 1`` and no aggregation runs.
    """
    if len(set(steps)) < len(steps):
        return named.group_by(e_customer_id=named.customer_id, e_event=named.event, e_ts=named.ts).agg(
            e_n=named.count())
    return named.select(e_customer_id=named.customer_id, e_event=named.event, e_ts=named.ts,
                        e_n=ibis.literal(1, type="int64"))


def match_in_order(users: ibis.Table, events: ibis.Table, steps: list[str], strict: bool) -> ibis.Table:
    """Greedy earliest match of steps 2..n, in order (``strict``: nothing in between).

    Step *k* is matched on the users who reached step *k - 1* only (:func:`_match_step`),
    so each step reads fewer rows than the one before; the entrants then get all the step
    times by one left join (:func:`_step_times`).

    Parameters
    ----------
    users : ibis.Table
        One row per entrant with ``customer_id``, ``step_1_at`` and ``window_end`` (and any
        other columns, carried along unchanged).
    events : ibis.Table
        :func:`step_events`.
    steps : list of str
        The funnel's steps.
    strict : bool
        Whether another step event strictly between two matched events breaks the funnel.

    Returns
    -------
    ibis.Table
        ``users`` with ``reached_1`` and, for each step *k* ≥ 2, ``step_k_at`` (null when
        not reached) and ``reached_k``.
    """
    columns = list(users.columns)
    flags = {_reached_column(1): ibis.literal(True)}
    reached = [users.select("customer_id", "window_end", _step_column(1))]
    for k in range(2, len(steps) + 1):
        reached.append(_match_step(reached[-1], events, steps, k, strict))
    if len(steps) > 1:
        times = _step_times(reached[1:])
        users = users.left_join(times, users.customer_id == times.reached_customer_id)
        for k in range(2, len(steps) + 1):
            flags[_step_column(k)] = users[_step_column(k)]
            flags[_reached_column(k)] = users[_step_column(k)].notnull()
    return users.select(*columns, **flags)


def _step_times(reached: list[ibis.Table]) -> ibis.Table:
    """``reached_customer_id`` and ``step_2_at`` … ``step_n_at`` of the users reaching step 2.

    ``reached`` holds the :func:`_match_step` tables of steps 2..n; the users reaching a
    step are among those reaching the one before, so the later tables are joined onto the
    (smaller) step-2 table rather than each onto all entrants. Each table is read through
    a projection of its own, which keeps it one CTE for the engine (read by the next step
    and here) instead of a copy in each place.
    """
    times = [
        table.select(**{f"customer_id_{k}": table.customer_id, _step_column(k): table[_step_column(k)]})
        for k, table in enumerate(reached, start=2)
    ]
    first, *later = times
    joined = first
    for k, table in enumerate(later, start=3):
        joined = joined.left_join(table, first.customer_id_2 == table[f"customer_id_{k}"])
    return joined.select(
        reached_customer_id=first.customer_id_2,
        **{_step_column(k): table[_step_column(k)] for k, table in enumerate(times, start=2)},
    )


def _match_step(reached: ibis.Table, events: ibis.Table, steps: list[str], k: int, strict: bool) -> ibis.Table:
    """The users who reach step *k*, with the times of steps 1..k.

    ``reached`` holds the users who reached step *k - 1* (``customer_id``, ``window_end``,
    ``step_1_at`` … ``step_{k-1}_at``). Step *k* is the earliest eligible event of the
    window at or after ``step_{k-1}_at``: one join with the step events, one row per user
    again.
    """
    name, previous, current = steps[k - 1], _step_column(k - 1), _step_column(k)
    events = events.view()  # a reference of its own per step: the engine reads the step events once (a CTE)
    condition = [
        reached.customer_id == events.e_customer_id,
        events.e_ts >= reached[previous],
        events.e_ts < reached.window_end,
    ]
    if not strict:  # strict mode also looks at the other step events, for "in between"
        condition.append(events.e_event == name)
    joined = reached.join(events, condition)
    eligible = _eligible(joined, steps, k) if strict or name in steps[: k - 1] else None
    hit = joined.e_ts.min(where=eligible)
    if strict:  # no match when another step event comes first (ties are not "between")
        next_step_event = joined.e_ts.min(where=joined.e_ts > joined[previous])
        hit = ibis.ifelse(next_step_event < hit, ibis.null(_UTC), hit)
    matched = joined.group_by(list(reached.columns)).agg(**{current: hit})
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
    used_here = sum((joined[_step_column(j)] == previous).cast("int64") for j in same_name_before)
    return (joined.e_event == name) & ((joined.e_ts > previous) | (joined.e_n > used_here))


def match_any_order(users: ibis.Table, events: ibis.Table, steps: list[str]) -> ibis.Table:
    """Per-name event counts inside the window; step *k* needs each name as often as listed.

    Returns ``users`` with ``reached_k`` for every step (no step times: the order of the
    events does not matter).
    """
    names = sorted(set(steps))
    columns = list(users.columns)
    joined = users.left_join(
        events,
        [
            users.customer_id == events.e_customer_id,
            events.e_ts >= users[_step_column(1)],
            events.e_ts < users.window_end,
        ],
    )
    counts = joined.group_by(columns).agg(
        **{f"n_{i}": joined.e_n.sum(where=joined.e_event == name) for i, name in enumerate(names)}
    )
    reached = {}
    for k in range(1, len(steps) + 1):
        needed = Counter(steps[:k])
        condition = ibis.literal(True)
        for i, name in enumerate(names):
            if needed[name]:
                condition &= counts[f"n_{i}"].fill_null(0) >= needed[name]
        reached[_reached_column(k)] = condition
    return counts.select(*columns, **reached)
