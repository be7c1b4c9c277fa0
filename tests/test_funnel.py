"""Funnel and nurture metrics against hand computations, a brute-force reference and the
generator's ground truth."""

from __future__ import annotations

from collections import Counter

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpilib import DataError
from kpilib import funnel as F
from kpilib.stats import compare_proportions, wilson_interval

# order="strict" changed meaning in this release and warns once per call; these tests mean the new rule
pytestmark = pytest.mark.filterwarnings("ignore:order='strict' now means:FutureWarning")

DAY0 = pd.Timestamp("2026-01-01", tz="UTC")
SALES = ["visit", "signup", "purchase"]


def events_from(rows, **extras) -> pd.DataFrame:
    """Events from ``(customer, day, event)`` tuples; ``day`` may be fractional."""
    frame = pd.DataFrame(rows, columns=["customer_id", "day", "event"])
    frame["ts"] = DAY0 + pd.to_timedelta(frame.pop("day"), unit="D")
    for name, values in extras.items():
        frame[name] = values
    return frame


def users_at(table: pd.DataFrame, **where) -> list[int]:
    for column, value in where.items():
        table = table[table[column] == value]
    return table.sort_values("step_index").users.tolist()


# --- entry and window ------------------------------------------------------------------


def test_window_runs_from_the_first_entry_and_is_not_restarted():
    events = events_from([
        ("a", 0, "visit"), ("a", 20, "visit"), ("a", 21, "signup"),   # signup after a's window
        ("b", 0, "visit"), ("b", 13.9, "signup"),                       # inside the window
        ("c", 0, "visit"), ("c", 14, "signup"),                         # window is [entry, entry+14D)
        ("z", 60, "share"),                                             # data run to day 60
    ])
    table = F.funnel(events, ["visit", "signup"], window="14D")
    assert users_at(table) == [3, 1]
    assert table.conversion.tolist() == pytest.approx([1.0, 1 / 3])
    low, high = wilson_interval(1, 3)
    assert table.ci_low[1] == pytest.approx(low) and table.ci_high[1] == pytest.approx(high)
    assert table.small_sample.all() and table.window_complete.all()


def test_start_and_end_select_the_entry_period():
    events = events_from([
        ("a", 0, "visit"), ("a", 20, "visit"), ("a", 21, "signup"),
        ("b", 25, "visit"),
        ("z", 60, "share"),
    ])
    table = F.funnel(events, ["visit", "signup"], start=DAY0 + pd.Timedelta(days=10),
                     end=DAY0 + pd.Timedelta(days=25))
    # a enters at day 20 (its first visit in the period) and converts; b enters at day 25 = end
    assert users_at(table) == [1, 1]
    everyone = F.funnel(events, ["visit", "signup"], start="2026-01-01")
    assert users_at(everyone) == [2, 0]


def test_open_windows_are_counted_and_flagged():
    events = events_from([
        ("a", 0, "visit"), ("a", 1, "signup"),
        ("b", 50, "visit"), ("b", 51, "signup"),   # window still open on day 55
        ("c", 54, "visit"),
        ("z", 55, "share"),
    ])
    table = F.funnel(events, ["visit", "signup"], window="14D")
    assert users_at(table) == [3, 2]
    assert table.users_window_open.tolist() == [2, 1]
    assert table.window_complete.tolist() == [False, False]
    closed = F.funnel(events, ["visit", "signup"], window="14D", complete_only=True)
    assert users_at(closed) == [1, 1]
    assert closed.window_complete.all()
    # as_of moves the end of the data: on day 52, c has not yet entered and b's signup is unseen
    early = F.funnel(events, ["visit", "signup"], window="14D", as_of=DAY0 + pd.Timedelta(days=52))
    assert users_at(early) == [2, 2]
    assert early.users_window_open.tolist() == [1, 1]


def test_breakdown_takes_the_value_at_entry():
    events = events_from(
        [("a", 0, "visit"), ("a", 3, "visit"), ("a", 4, "signup"), ("b", 1, "visit")],
        channel=["social", "email", None, "email"],
    )
    table = F.funnel(events, ["visit", "signup"], by="channel")
    assert users_at(table, channel="social") == [1, 1]
    assert users_at(table, channel="email") == [1, 0]
    assert set(table.channel) == {"email", "social"}


# --- ordering, ties, repeats -----------------------------------------------------------


def test_steps_must_be_in_order_and_ties_count_as_in_order():
    events = events_from([
        ("a", 0, "visit"), ("a", 0, "signup"), ("a", 0, "purchase"),   # all at one instant
        ("b", 0, "visit"), ("b", 2, "purchase"), ("b", 3, "signup"),    # purchase before signup
        ("c", 1, "signup"), ("c", 2, "visit"),                          # signup before entry
    ])
    table = F.funnel(events, SALES)
    assert users_at(table) == [3, 2, 1]


def test_a_repeated_step_needs_two_distinct_events():
    steps = ["visit", "page_view", "page_view", "signup"]
    events = events_from([
        ("a", 0, "visit"), ("a", 1, "page_view"), ("a", 2, "signup"),                       # one view
        ("b", 0, "visit"), ("b", 1, "page_view"), ("b", 1, "page_view"), ("b", 1, "signup"),  # tie
        ("c", 0, "visit"), ("c", 1, "page_view"), ("c", 2, "signup"), ("c", 3, "page_view"),
    ])
    table = F.funnel(events, steps)
    assert users_at(table) == [3, 3, 2, 1]  # c views twice, but signs up in between
    # any order: k of the 4 listed steps (page_view counts up to twice): a has 3, b and c all 4
    assert users_at(F.funnel(events, steps, order="any")) == [3, 3, 3, 2]


def test_the_entry_event_is_not_reused_for_a_later_step_of_the_same_name():
    steps = ["visit", "signup", "visit"]
    events = events_from([
        ("a", 0, "visit"), ("a", 1, "signup"),                        # no second visit
        ("b", 0, "visit"), ("b", 1, "signup"), ("b", 1, "visit"),     # second visit tied
        ("c", 0, "visit"), ("c", 0, "visit"), ("c", 0, "signup"),     # all tied, two visits
    ])
    assert users_at(F.funnel(events, steps)) == [3, 3, 2]


def test_strict_steps_order_forbids_other_step_events_in_between():
    events = events_from([
        ("a", 0, "visit"), ("a", 1, "signup"), ("a", 2, "purchase"),                    # clean
        ("b", 0, "visit"), ("b", 1, "purchase"), ("b", 2, "signup"), ("b", 3, "purchase"),
        ("c", 0, "visit"), ("c", 1, "visit"), ("c", 2, "signup"),                       # revisit
        ("d", 0, "visit"), ("d", 1, "signup"), ("d", 1, "visit"), ("d", 2, "purchase"),  # tie
        ("e", 0, "visit"), ("e", 1, "signup"), ("e", 1.5, "page_view"), ("e", 2, "purchase"),
    ])
    ordered = F.funnel(events, SALES)
    strict = F.funnel(events, SALES, order="strict_steps")
    assert users_at(ordered) == [5, 5, 4]
    # b: a purchase lies between visit and signup; c: a second visit before signup;
    # d: the visit tied with the signup is not "between"; e: page_view is no funnel step
    assert users_at(strict) == [5, 3, 3]
    # the tools' strict order: any event in between breaks it, so e's page_view does too
    assert users_at(F.funnel(events, SALES, order="strict", semantics="posthog", window_end="exclusive",
                             reentry="first", date_range="entry")) == [5, 3, 2]


def test_any_order_counts_events_inside_the_window_only():
    events = events_from([
        ("a", 0, "visit"), ("a", 1, "purchase"), ("a", 2, "signup"),
        ("b", 0, "signup"), ("b", 1, "visit"), ("b", 2, "purchase"),   # signup before entry
        ("c", 0, "visit"), ("c", 20, "signup"), ("c", 21, "purchase"),  # outside the window
    ])
    assert users_at(F.funnel(events, SALES)) == [3, 1, 0]
    # any order: b enters on its signup (any step's event); c's later steps are outside the window
    assert users_at(F.funnel(events, SALES, order="any")) == [3, 2, 2]


def test_matched_step_times_follow_the_greedy_earliest_rule():
    events = events_from([
        ("a", 0, "visit"), ("a", 2, "signup"), ("a", 3, "signup"), ("a", 1, "purchase"),
        ("a", 4, "purchase"), ("a", 5, "purchase"),
    ])
    users = F.funnel_users(events, SALES).to_pandas()
    assert users.step_2_at[0] == DAY0 + pd.Timedelta(days=2)
    assert users.step_3_at[0] == DAY0 + pd.Timedelta(days=4)


# --- a brute-force reference, on random small tables ------------------------------------

NAMES = ["a", "b", "c"]


def longest_chain(events, steps, k, previous, used) -> int:
    """Most steps reachable with distinct events, each not earlier than the previous."""
    if k == len(steps):
        return k
    best = k
    for i, (day, name) in enumerate(events):
        if i not in used and name == steps[k] and day >= previous:
            best = max(best, longest_chain(events, steps, k + 1, day, used | {i}))
    return best


def reference_reach(rows, steps, window_days, order):
    """Steps reached per user, computed the slow and obvious way."""
    reach = {}
    for user in sorted({r[0] for r in rows}):
        mine = sorted((day, name) for u, day, name in rows if u == user)
        entries = [day for day, name in mine if name == steps[0] or (order == "any" and name in steps)]
        if not entries:
            continue
        t0 = min(entries)
        end = t0 + window_days
        events = [(day, name) for day, name in mine if t0 <= day < end]
        if order == "any":  # k of the listed steps: each name counts up to as often as listed
            have = Counter(name for _, name in events)
            k = sum(min(have[n], c) for n, c in Counter(steps).items())
            reach[user] = k
            continue
        entry = events.index((t0, steps[0]))
        if order == "ordered":  # exhaustive search over distinct, time-ordered events
            k = longest_chain(events, steps, 1, t0, frozenset({entry}))
        else:  # strict: greedy earliest match, no other (step) event strictly in between
            used, previous, k = {entry}, t0, 1
            while k < len(steps):
                options = [i for i, (day, name) in enumerate(events)
                           if i not in used and name == steps[k] and day >= previous]
                if not options:
                    break
                pick = min(options, key=lambda i: events[i][0])
                day = events[pick][0]
                if any(previous < d < day and (n in steps or order == "strict") for d, n in events):
                    break
                used.add(pick)
                previous, k = day, k + 1
        reach[user] = k
    return [sum(r >= k for r in reach.values()) for k in range(1, len(steps) + 1)]


event_rows = st.lists(
    st.tuples(st.sampled_from(["u1", "u2", "u3", "u4"]), st.integers(0, 8), st.sampled_from(NAMES)),
    min_size=1, max_size=14,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=event_rows,
    steps=st.lists(st.sampled_from(NAMES), min_size=1, max_size=4),
    window=st.integers(1, 6),
    order=st.sampled_from(["ordered", "strict", "strict_steps", "any"]),
)
def test_funnel_matches_the_brute_force_reference(rows, steps, window, order):
    events = events_from(rows)
    table = F.funnel(events, steps, window=f"{window}D", order=order)
    expected = reference_reach(rows, steps, window, order)
    if not expected:  # nobody entered
        expected = [0] * len(steps)
    assert users_at(table) == expected
    conversion = table.conversion.dropna().to_numpy()
    assert np.all(np.diff(conversion) <= 1e-12), "conversion never increases along the steps"
    assert (table.users.diff().dropna() <= 0).all()


# --- the plan against a straightforward greedy match, on generated data -------------------


def greedy_times(events, steps, strict, any_event=False):
    """Matched days of steps 1..k for one user's in-window ``(day, name, channel)`` events,
    the entry first: each step the earliest unused event of its name not before the
    previous one (strict: no other step event strictly in between)."""
    entry = min(range(len(events)), key=lambda i: events[i][:2])
    used, times = {entry}, [events[entry][0]]
    for name in steps[1:]:
        options = [i for i, (day, n, _) in enumerate(events) if i not in used and n == name and day >= times[-1]]
        if not options:
            break
        pick = min(options, key=lambda i: events[i][0])
        day = events[pick][0]
        if strict and any(times[-1] < d < day and (n in steps or any_event) for d, n, _ in events):
            break
        used.add(pick)
        times.append(day)
    return times


def reference_users(rows, steps, window_days, order, start=None, end=None):
    """Per user: entry channel (ties at entry: smallest channel, None last), matched days
    (ordered/strict) or steps reached (any), and whether the window is still open."""
    data_end = np.floor(max(day for _, day, _, _ in rows)) + 1  # the day after the latest event
    out = {}
    for user in sorted({r[0] for r in rows}):
        mine = [(day, name, channel) for u, day, name, channel in rows if u == user]
        entries = [e for e in mine if (e[1] == steps[0] or (order == "any" and e[1] in steps))
                   and (start is None or e[0] >= start) and (end is None or e[0] < end)]
        if not entries:
            continue
        t0 = min(day for day, _, _ in entries)
        channel = min((e[2] for e in entries if e[0] == t0), key=lambda c: (c is None, c or ""))
        if order == "any":  # the value at the entry: the smallest among the step events at that instant
            channel = min((e[2] for e in mine if e[0] == t0 and e[1] in steps), key=lambda c: (c is None, c or ""))
        inside = [e for e in mine if t0 <= e[0] < t0 + window_days]
        inside.sort(key=lambda e: (e[0], e[1] != steps[0]))  # the entry event first among ties
        if order == "any":  # step k: when k of the listed steps were done (a name counts as often as listed)
            listed, seen, times = Counter(steps), Counter(), []
            for day, name, _ in sorted(inside, key=lambda e: e[0]):
                if seen[name] < listed[name]:
                    seen[name] += 1
                    times.append(day)
        else:
            times = greedy_times(inside, steps, strict=order in ("strict", "strict_steps"),
                                 any_event=order == "strict")
        out[user] = {"channel": channel, "times": times, "open": t0 + window_days > data_end}
    return out


def random_events(seed: int, users: int = 120) -> list[tuple]:
    """``(customer, day, event, channel)`` rows: whole and half days (many ties), a few names
    (steps repeat), a channel per event (some null)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        for _ in range(rng.integers(1, 12)):
            rows.append((f"u{u:03d}", float(rng.integers(0, 40)) / 2, str(rng.choice(["a", "b", "c", "d"])),
                         [None, "x", "y"][rng.integers(0, 3)]))
    return rows


GENERATED_FUNNELS = [
    (["a", "b", "c"], 4, None, None),
    (["a", "b", "a", "c", "b"], 6, None, None),   # repeated steps
    (["a", "a", "a"], 3, 2.0, 12.0),              # one name only, an entry period
    (["b", "d", "b", "d"], 5, 0.5, None),
    (["c"], 2, None, 10.0),                        # a one-step funnel
]


@pytest.mark.parametrize("order", ["ordered", "strict", "strict_steps", "any"])
@pytest.mark.parametrize("seed", [1, 2])
def test_the_plan_matches_a_greedy_reference_on_generated_data(seed, order):
    rows = random_events(seed)
    events = pd.DataFrame(rows, columns=["customer_id", "day", "event", "channel"])
    events["ts"] = DAY0 + pd.to_timedelta(events.pop("day"), unit="D")
    for steps, window, start, end in GENERATED_FUNNELS:
        bounds = {"start": DAY0 + pd.Timedelta(days=start) if start is not None else None,
                  "end": DAY0 + pd.Timedelta(days=end) if end is not None else None}
        expected = reference_users(rows, steps, window, order, start, end)
        users = F.funnel_users(events, steps, window=f"{window}D", order=order, by="channel", **bounds).to_pandas()
        users = users.sort_values("customer_id", ignore_index=True)
        assert users.customer_id.tolist() == list(expected), (steps, "entrants")
        for row in users.itertuples(index=False):
            want = expected[row.customer_id]
            context = (steps, order, row.customer_id, want)
            assert (row.channel if isinstance(row.channel, str) else None) == want["channel"], context
            assert bool(row.window_open) == want["open"], context
            reached = [bool(getattr(row, f"reached_{k}")) for k in range(1, len(steps) + 1)]
            assert reached == [k <= len(want["times"]) for k in range(1, len(steps) + 1)], context
            # every order has step times (any order: when k of the steps were done)
            times = [getattr(row, f"step_{k}_at") for k in range(1, len(want["times"]) + 1)]
            assert [(t - DAY0) / pd.Timedelta(days=1) for t in times] == want["times"], context
            assert all(pd.isna(getattr(row, f"step_{k}_at")) for k in range(len(want["times"]) + 1,
                                                                            len(steps) + 1)), context
        # the counts of funnel() are those users, per channel (nulls a group of their own)
        table = F.funnel(events, steps, window=f"{window}D", order=order, by="channel", **bounds)
        for channel in ["x", "y", None]:
            mine = [u for u in expected.values() if u["channel"] == channel]
            rows_of = table[table.channel.isna()] if channel is None else table[table.channel == channel]
            assert rows_of.sort_values("step_index").users.tolist() == [
                sum(len(u["times"]) >= k for u in mine) for k in range(1, len(steps) + 1)] or not mine
            assert rows_of.users_window_open.tolist() == [
                sum(len(u["times"]) >= k and u["open"] for u in mine) for k in range(1, len(steps) + 1)] or not mine


def test_the_plan_reads_the_events_once_and_grows_linearly_with_the_steps():
    events = ibis.memtable(events_from([("a", 0, "visit")]))
    source = f'"{events.op().name}"'
    for n in range(2, 8):
        steps = ["visit", "signup", "lead", "mql", "sql", "purchase", "visit"][:n]
        for order in ["ordered", "strict_steps"]:
            sql = ibis.to_sql(F.funnel_users(events, steps, order=order, as_of="2026-02-01"), dialect="duckdb")
            assert sql.count(source) == 1, "the raw events are read once"
            assert sql.count(" JOIN ") == n, f"{n} steps: a join per step, and one for the step times"
            assert sql.count("UNION ALL") == n - 2, "the step times of steps 2..n stacked once"


@pytest.mark.parametrize("dialect", ["postgres", "pyspark"])
@pytest.mark.parametrize("order", ["ordered", "strict", "strict_steps", "any"])
def test_the_plan_compiles_for_other_backends(dialect, order):
    events = ibis.memtable(events_from([("a", 0, "visit")], channel=["x"]))
    users = F.funnel_users(events, ["visit", "signup", "visit"], order=order, by="channel")
    sql = ibis.to_sql(users.aggregate(n=users.reached_3.cast("int64").sum()), dialect=dialect)
    assert "ASOF" not in sql.upper()


# --- errors ------------------------------------------------------------------------------


def test_missing_columns_and_unknown_breakdowns_raise_data_errors():
    events = events_from([("a", 0, "visit")])
    with pytest.raises(DataError, match="event"):
        F.funnel(events.drop(columns="event"), SALES)
    with pytest.raises(DataError, match="colour"):
        F.funnel(events, SALES, by="colour")
    with pytest.raises(DataError):
        F.time_to_convert(events, SALES, by=["channel"])
    with pytest.raises(ValueError, match="order"):
        F.funnel(events, SALES, order="sometimes")
    with pytest.raises(ValueError, match="window"):
        F.funnel(events, SALES, window="soon")
    with pytest.raises(ValueError, match="list of event names"):
        F.funnel(events, "visit")


# --- derived tables ----------------------------------------------------------------------


def test_conversion_rate_drop_off_and_landing_pages():
    events = events_from(
        [("a", 0, "visit"), ("a", 1, "signup"), ("a", 2, "purchase"),
         ("b", 0, "visit"), ("b", 1, "signup"), ("c", 0, "visit"), ("d", 0, "visit")],
        page=["/pricing", None, None, "/pricing", None, "/blog", "/pricing"],
    )
    rates = F.conversion_rate(events, SALES)
    assert rates[["numerator", "denominator"]].iloc[0].tolist() == [1, 4]
    assert F.conversion_rate(events, SALES, to_step="signup").numerator[0] == 2
    drops = F.drop_off(F.funnel(events, SALES))
    assert drops.dropped.tolist() == [2, 1]
    assert drops.drop_off_rate.tolist() == pytest.approx([0.5, 0.5])
    pages = F.landing_page_conversion(events, "signup")
    assert pages.page.tolist() == ["/pricing", "/blog"]
    assert pages.numerator.tolist() == [2, 0] and pages.denominator.tolist() == [3, 1]
    assert pages.small_sample.all()


def test_time_to_convert_matches_numpy():
    days = [0.5, 1, 2, 4, 7]
    rows = []
    for i, d in enumerate(days):
        rows += [(f"u{i}", 0, "visit"), (f"u{i}", d / 2, "signup"), (f"u{i}", d, "purchase")]
    rows += [("slow", 0, "visit"), ("slow", 20, "purchase")]
    result = F.time_to_convert(rows and events_from(rows), SALES, window="10D", bins=10)
    summary = result.summary.iloc[0]
    assert summary.converters == 5
    assert summary.median_days == pytest.approx(np.median(days))
    assert summary.p90_days == pytest.approx(np.quantile(days, 0.9))
    assert summary.mean_days == pytest.approx(np.mean(days))
    assert result.histogram.users.sum() == 5
    # bins adapt to the data: the longest is 7 days, so ten whole-day bins (half days would need 15)
    assert result.histogram.users.tolist() == [1, 1, 1, 0, 1, 0, 0, 1, 0, 0]
    assert result.histogram.bin_end_days.tolist()[-1] == 10.0
    between = F.time_to_convert(events_from(rows), SALES, from_step="signup", to_step=3, window="10D")
    assert between.summary.median_days[0] == pytest.approx(np.median(days) / 2)
    with pytest.raises(ValueError, match="after"):
        F.time_to_convert(events_from(rows), SALES, from_step=3, to_step=2)


def test_ab_comparison_is_compare_proportions_of_the_two_groups():
    rows, variants = [], []
    for i in range(40):
        rows.append((f"a{i}", 0, "visit")), variants.append("A")
        rows.append((f"b{i}", 0, "visit")), variants.append("B")
        if i < 10:
            rows.append((f"a{i}", 1, "signup")), variants.append(None)
        if i < 22:
            rows.append((f"b{i}", 1, "signup")), variants.append(None)
    events = events_from(rows, variant=variants)
    result = F.ab_comparison(events, ["visit", "signup"], by="variant", a="A", b="B").iloc[0]
    expected = compare_proportions(22, 40, 10, 40).iloc[0]
    assert (result.converted_a, result.entered_a, result.converted_b, result.entered_b) == (10, 40, 22, 40)
    assert result.difference == pytest.approx(0.3)
    assert result.ci_low == pytest.approx(expected.ci_low)
    assert result.p_value == pytest.approx(expected.p_value)
    assert result.significant and not result.small_sample
    assert "B converts 30.0 percentage points higher than A" in result.statement
    with pytest.raises(ValueError, match="values present"):
        F.ab_comparison(events, ["visit", "signup"], by="variant", a="A", b="C")


def test_ab_statement_of_equal_or_nearly_equal_groups():
    def events(converted_a: int, entered_a: int, converted_b: int, entered_b: int) -> pd.DataFrame:
        rows, variants = [], []
        for group, converted, entered in (("A", converted_a, entered_a), ("B", converted_b, entered_b)):
            for i in range(entered):
                rows.append((f"{group}{i}", 0, "visit")), variants.append(group)
                if i < converted:
                    rows.append((f"{group}{i}", 1, "signup")), variants.append(None)
        return events_from(rows, variant=variants)

    same = F.ab_comparison(events(10, 40, 10, 40), ["visit", "signup"], by="variant", a="A", b="B").iloc[0]
    assert same.statement.startswith("B converts at the same rate as A (25.0% vs 25.0%")
    # 100/4000 vs 100/4001: by hand 2.5% − 2.49938% = 0.00062 points, not "0.0 points lower"
    close = F.ab_comparison(events(100, 4000, 100, 4001), ["visit", "signup"], by="variant",
                            a="A", b="B").iloc[0]
    assert close.statement.startswith("B converts 0.00062 percentage points lower than A")


# --- nurture -----------------------------------------------------------------------------


def test_new_and_reopened_leads_per_month():
    events = events_from([
        ("a", 0, "lead"), ("a", 40, "lead"),                         # January lead, once
        ("b", 35, "visit"), ("b", 36, "lead"), ("b", 70, "visit"),   # 34-day gap in March
        ("c", 31, "lead"), ("c", 40, "purchase"), ("c", 80, "visit"),  # bought: no longer a lead
        ("d", 1, "visit"), ("d", 50, "lead"),                        # gap before becoming a lead
        ("e", 2, "lead"), ("e", 32, "visit"),                        # gap of exactly 30 days
    ])
    leads = F.new_leads(events)
    assert leads.month.tolist() == ["2026-01", "2026-02"]
    assert leads.new_leads.tolist() == [2, 3]
    reopened = F.reopened_leads(events, inactive_days=30)
    assert dict(zip(reopened.month, reopened.reopened_leads, strict=True)) == {
        "2026-02": 2, "2026-03": 1,  # a (day 40) and e (day 32); b (day 70)
    }
    quiet = F.reopened_leads(events, inactive_days=30, start="2026-03-01", end="2026-05-01")
    assert quiet.reopened_leads.tolist() == [1, 0]


def reference_reopened(frame, inactive_days, start=None, end=None):
    """reopened_leads by hand: each lead's events in time order, the gap to the one before."""
    counts = Counter()
    for _, rows in frame.groupby("customer_id"):
        rows = rows.sort_values("ts", kind="stable")
        leads, purchases = rows.ts[rows.event == "lead"], rows.ts[rows.event == "purchase"]
        if leads.empty:
            continue
        lead_at, purchase_at = leads.min(), purchases.min() if len(purchases) else None
        times = rows.ts.tolist()
        months = set()
        for previous, ts in zip(times, times[1:], strict=False):
            if ts <= lead_at or (purchase_at is not None and ts > purchase_at):
                continue
            if (start is not None and ts < pd.Timestamp(start, tz="UTC")) or (
                    end is not None and ts >= pd.Timestamp(end, tz="UTC")):
                continue
            if (ts - previous).total_seconds() >= inactive_days * 86_400:
                months.add(ts.strftime("%Y-%m"))
        counts.update(months)
    return dict(sorted(counts.items()))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reopened_leads_match_a_reference_on_generated_data(seed):
    # half-day steps: ties, repeated leads, purchases before and after the lead, gaps of
    # exactly the threshold, events before the lead; months across years
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(150):
        day = float(rng.integers(-900, 0))
        for _ in range(int(rng.integers(1, 12))):
            day += float(rng.choice([0.0, 0.5, 1.0, 10.0, 29.5, 30.0, 45.0, 200.0]))
            if day < 300:
                rows.append((f"u{user}", day, str(rng.choice(["visit", "visit", "lead", "purchase", "share"]))))
    events = events_from(rows)
    for days, start, end in [(30, None, None), (30, "2025-03-01", "2026-02-01"), (10.25, None, "2026-01-01")]:
        got = F.reopened_leads(events, inactive_days=days, start=start, end=end)
        got = {m: n for m, n in zip(got.month, got.reopened_leads, strict=True) if n}
        expected = reference_reopened(events, days, start, end)
        assert expected and got == expected


def test_monthly_series_are_labelled_by_the_utc_calendar_month():
    stamps = ["1969-12-31 23:59:59.999999", "1970-01-01", "2000-02-29 12:00", "2025-12-31 23:59:59.999999",
              "2026-01-01"]
    events = pd.DataFrame({"customer_id": list("abcde"), "ts": pd.to_datetime(stamps, utc=True, format="ISO8601"),
                           "event": ["lead"] * 5})
    leads = F.new_leads(events)
    counted = leads[leads.new_leads > 0]
    assert counted.month.tolist() == ["1969-12", "1970-01", "2000-02", "2025-12", "2026-01"]
    assert len(leads) == (2026 - 1970) * 12 + 2  # every month in between, with 0
    cycles = F.sales_cycle_length(pd.DataFrame({
        "customer_id": ["a", "a", "b", "b"], "event": ["visit", "purchase", "visit", "purchase"],
        "ts": pd.to_datetime(["1969-12-30", "1969-12-31 23:59:59.999999", "2025-12-31", "2026-01-01"], utc=True, format="ISO8601"),
    }))
    assert cycles.month.tolist() == ["1969-12", "2026-01"]
    assert cycles.median_days.tolist() == pytest.approx([2 - 1e-6 / 86_400, 1.0], rel=1e-12)


def test_mql_count_uses_the_event_when_present_and_the_score_otherwise():
    scored = events_from([
        ("a", 0, "visit"), ("a", 1, "lead"), ("a", 40, "signup"),   # 21 points on day 40
        ("b", 0, "signup"), ("b", 0, "signup"), ("b", 5, "lead"),   # 30 points at the lead
        ("c", 1, "signup"), ("c", 2, "signup"), ("c", 3, "visit"),  # never a lead
    ])
    weights = {"visit": 1, "lead": 10, "signup": 10}
    options = F.MQLOptions(behaviour_points=weights, threshold=21)
    counts = F.mql_count(scored, mql=options)
    assert counts.mql_method.unique().tolist() == ["score"]
    assert dict(zip(counts.month, counts.mql_count, strict=True)) == {"2026-01": 1, "2026-02": 1}
    explicit = pd.concat([scored, events_from([("c", 4, "mql")])])
    counts = F.mql_count(explicit, mql=options)
    assert counts.mql_method.tolist() == ["event"] and counts.mql_count.tolist() == [1]
    spend = pd.DataFrame({"date": ["2026-01-05", "2026-02-01", "2026-03-01"], "channel": "social",
                          "cost": [100.0, 50.0, 30.0]})
    money = F.cost_per_mql(scored, spend, mql=options)
    assert money.cost.tolist() == [100.0, 50.0, 30.0]
    assert money.mql_count.tolist() == [1, 1, 0]
    assert money.cost_per_mql.tolist()[:2] == [100.0, 50.0] and np.isnan(money.cost_per_mql[2])


def test_lead_score_is_the_sum_of_its_shown_parts():
    events = events_from([("a", 0, "visit"), ("a", 1, "visit"), ("a", 2, "share"), ("b", 0, "visit"),
                          ("a", 30, "share")])
    customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": [DAY0, DAY0],
                              "channel": ["email", "social"], "segment": ["smb", "enterprise"],
                              "plan": ["pro", "basic"]})
    options = F.MQLOptions(behaviour_points={"visit": 2, "share": 5},
                           profile_points={"segment": {"enterprise": 20}, "plan": {"pro": 7}}, threshold=15)
    scores = F.lead_score(events, customers, mql=options, as_of=DAY0 + pd.Timedelta(days=10)).to_pandas()
    a, b = scores.set_index("customer_id").loc[["a", "b"]].itertuples()
    assert (a.points_visit, a.points_share, a.behaviour_points, a.profile_points, a.score) == (4, 5, 9, 7, 16)
    assert (b.points_visit, b.profile_points, b.score) == (2, 20, 22)
    assert a.is_mql and b.is_mql
    with pytest.raises(DataError, match="customers"):
        F.lead_score(events, mql=F.MQLOptions(profile_points={"segment": {"enterprise": 1}}))
    with pytest.raises(DataError, match="tier"):
        F.lead_score(events, customers, mql=F.MQLOptions(profile_points={"tier": {"gold": 1}}))


def test_new_lead_score_profile_scores_at_month_end():
    events = events_from([
        ("a", 30, "lead"), ("a", 30.5, "visit"), ("a", 31, "visit"),   # January lead, 1 visit in Jan
        ("b", 10, "lead"), ("b", 11, "share"),
        ("c", 40, "lead"),
    ])
    profile = F.new_lead_score_profile(
        events, mql=F.MQLOptions(behaviour_points={"lead": 10, "visit": 1, "share": 5}, threshold=12))
    jan, feb = profile.itertuples()
    assert (jan.month, jan.leads, jan.median_score, jan.mean_score) == ("2026-01", 2, 13.0, 13.0)
    assert (jan.numerator, jan.denominator, jan.rate) == (1, 2, 0.5)
    assert (feb.month, feb.leads, feb.median_score, feb.numerator) == ("2026-02", 1, 10.0, 0)


def test_sales_cycle_from_first_touch_to_first_purchase():
    events = events_from([
        ("a", 0, "visit"), ("a", 10, "purchase"), ("a", 12, "purchase"),
        ("b", 3, "page_view"), ("b", 5, "visit"), ("b", 9, "purchase"),
        ("c", 40, "visit"), ("c", 41, "purchase"),
    ])
    cycles = F.sales_cycle_length(events)
    assert cycles.month.tolist() == ["2026-01", "2026-02"]
    assert cycles.customers.tolist() == [2, 1]
    assert cycles.median_days.tolist() == pytest.approx([8.0, 1.0])
    visits_only = F.sales_cycle_length(events, first_touch_events=["visit"])
    assert visits_only.median_days.tolist() == pytest.approx([7.0, 1.0])


def test_headline_metrics_frame_for_the_report_index():
    events = events_from([
        ("a", 0, "visit"), ("a", 1, "lead"), ("a", 2, "signup"),
        ("b", 31, "visit"), ("b", 33, "lead"), ("c", 32, "visit"), ("c", 34, "signup"),
        ("d", 55, "visit"), ("d", 56, "signup"),      # window still open at the end of data
        ("z", 58, "share"),
    ])
    spend = pd.DataFrame({"date": ["2026-02-02"], "channel": ["email"], "cost": [90.0]})
    frame = F.headline_metrics(events, "2026-02", ["visit", "signup"], "7D", spend)
    assert list(frame.columns) == ["metric", "month", "value", "numerator", "denominator", "ci_low", "ci_high"]
    rows = frame.set_index(["metric", "month"])
    assert rows.loc[("conversion_rate", "2026-02"), ["numerator", "denominator"]].tolist() == [1, 2]
    assert rows.loc[("conversion_rate", "2026-01"), "value"] == 1.0
    assert rows.loc[("new_leads", "2026-02"), "value"] == 1
    assert rows.loc[("time_to_convert", "2026-02"), "value"] == pytest.approx(2.0)
    assert np.isnan(rows.loc[("new_leads", "2026-02"), "ci_low"])
    assert set(frame.month) == {"2026-01", "2026-02"}
    from kpilib.metrics import get

    for name in frame.metric.unique():
        get(name)  # every row is a registered metric



# --- MQL options: one object, the old keywords for one release ----------------------------


def _nurture_data():
    events = events_from([
        ("a", 0, "visit"), ("a", 1, "lead"), ("a", 40, "signup"), ("a", 41, "share"),
        ("b", 0, "signup"), ("b", 0, "signup"), ("b", 5, "lead"), ("b", 50, "visit"),
        ("c", 33, "lead"), ("c", 34, "visit"), ("c", 35, "purchase"),
        ("d", 36, "visit"), ("d", 37, "signup"),
    ])
    customers = pd.DataFrame({"customer_id": list("abcd"), "signup_at": [DAY0] * 4,
                              "channel": ["email"] * 4, "segment": ["smb", "enterprise", "smb", "smb"]})
    spend = pd.DataFrame({"date": ["2026-01-05", "2026-02-01"], "channel": "email", "cost": [100.0, 50.0]})
    return events, customers, spend


_OLD = {"behaviour_points": {"visit": 1, "lead": 10, "signup": 10, "share": 4},
        "profile_points": {"segment": {"enterprise": 5}}, "threshold": 21}
_MQL_CALLS = {
    "lead_score": (lambda e, c, s, **k: F.lead_score(e, c, **k).to_pandas(), _OLD),
    "mql_count": (lambda e, c, s, **k: F.mql_count(e, c, **k),
                  {**_OLD, "method": "score", "mql_event": "mql", "lead_event": "lead"}),
    "cost_per_mql": (lambda e, c, s, **k: F.cost_per_mql(e, s, c, **k), {**_OLD, "method": "auto"}),
    "new_lead_score_profile": (lambda e, c, s, **k: F.new_lead_score_profile(e, c, **k),
                               {**_OLD, "lead_event": "lead"}),
    "nurture_summary": (lambda e, c, s, **k: F.nurture_summary(e, s, c, **k), {**_OLD, "method": "score"}),
    "headline_metrics": (lambda e, c, s, **k: F.headline_metrics(e, "2026-02", ["visit", "signup"], "7D", s,
                                                                 customers=c, **k),
                         {**_OLD, "mql_method": "score"}),
}


@pytest.mark.parametrize("name", list(_MQL_CALLS))
def test_old_mql_keywords_warn_and_give_the_same_numbers(name):
    call, old = _MQL_CALLS[name]
    events, customers, spend = _nurture_data()
    fields = {("method" if key == "mql_method" else key): value for key, value in old.items()}
    new = call(events, customers, spend, mql=F.MQLOptions(**fields))
    with pytest.warns(FutureWarning, match=rf"{name}\(.*\) is deprecated.*use mql=MQLOptions\("):
        legacy = call(events, customers, spend, **old)
    pd.testing.assert_frame_equal(legacy, new)
    assert len(new) > 0
    with pytest.raises(TypeError, match="both mql= and the deprecated"):
        call(events, customers, spend, mql=F.MQLOptions(), threshold=3)


def test_mql_options_drive_every_nurture_function():
    events, customers, spend = _nurture_data()
    mql = F.MQLOptions(behaviour_points={"visit": 1, "lead": 10, "signup": 10}, threshold=21)
    # a: 11 points at the lead, 21 with the signup on day 40; b: 30 at the lead on day 5
    counts = F.mql_count(events, mql=mql)
    assert dict(zip(counts.month, counts.mql_count, strict=True)) == {"2026-01": 1, "2026-02": 1}
    assert counts.mql_method.unique().tolist() == ["score"]
    assert F.mql_count(events, mql=F.MQLOptions(method="event")).empty
    money = F.cost_per_mql(events, spend, mql=mql)
    assert money.cost_per_mql.tolist() == [100.0, 50.0]
    scores = F.lead_score(events, customers, mql=F.MQLOptions(profile_points={"segment": {"enterprise": 5}},
                                                              threshold=25)).to_pandas()
    assert scores.set_index("customer_id").score.to_dict() == {"a": 26.0, "b": 36.0, "c": 11.0, "d": 11.0}
    assert scores.is_mql.tolist() == [True, True, False, False]
    # the lead event of the options counts the new leads of the summary and the headline
    enquiries = events.replace({"event": {"lead": "enquiry"}})
    summary = F.nurture_summary(enquiries, mql=F.MQLOptions(lead_event="enquiry", method="event"))
    assert summary.new_leads.tolist() == [2, 1] and summary.mql_count.tolist() == [0, 0]
    headline = F.headline_metrics(enquiries, "2026-02", ["visit", "signup"], "7D",
                                  mql=F.MQLOptions(lead_event="enquiry")).set_index(["metric", "month"])
    assert headline.loc[("new_leads", "2026-02"), "value"] == 1
    assert np.isnan(F.headline_metrics(enquiries, "2026-02", ["visit", "signup"], "7D")
                    .set_index(["metric", "month"]).loc[("new_leads", "2026-02"), "value"])


def test_mql_options_object():
    defaults = F.MQLOptions()
    assert (defaults.method, defaults.mql_event, defaults.lead_event, defaults.threshold) == (
        "auto", "mql", "lead", F.DEFAULT_MQL_THRESHOLD)
    assert defaults.behaviour_points == F.DEFAULT_BEHAVIOUR_POINTS and defaults.profile_points == {}
    assert F.MQLOptions(behaviour_points=None, profile_points=None) == defaults
    points = {"visit": 2}
    options = F.MQLOptions(behaviour_points=points)
    points["visit"] = 99  # the options keep their own copy
    assert options.behaviour_points == {"visit": 2}
    assert hash(options) == hash(F.MQLOptions(behaviour_points={"visit": 5}))  # points take no part
    with pytest.raises(AttributeError):
        options.threshold = 3  # frozen
    with pytest.raises(ValueError, match="method must be 'auto', 'event' or 'score'"):
        F.MQLOptions(method="events")
    events, _, _ = _nurture_data()
    with pytest.raises(TypeError, match=r"mql must be a kpilib.funnel.MQLOptions, got dict.*MQLOptions\(\*\*"):
        F.mql_count(events, mql={"threshold": 3})


# --- the generator's ground truth ---------------------------------------------------------


@pytest.fixture(scope="module")
def generated():
    from kpilib.synth import generate_sample

    tables, truth = generate_sample(customers=20_000, seed=5)
    return tables, truth


def test_funnel_recovers_the_generators_step_probabilities(generated):
    tables, truth = generated
    steps = ["visit", *truth["funnel"]["steps"]]
    window = f"{truth['funnel']['journey_max_days'] + 1:g}D"
    table = F.funnel(tables["events"], steps, window=window, by="channel", complete_only=True)
    table["previous"] = table.groupby("channel").users.shift()
    table = table[table.step_index > 1]
    # 99.9% intervals: 25 comparisons, so a 95% interval would miss one about every other run
    low, high = wilson_interval(table.users, table.previous.astype(int), confidence=0.999)
    probability = truth["funnel"]["step_probability"]
    expected = np.array([probability[c][s] for c, s in zip(table.channel, table.step, strict=True)])
    assert len(table) == 25
    assert np.all((low <= expected) & (expected <= high)), table.assign(expected=expected)
    assert (table.users_window_open == 0).all()


# --- the source's funnel (kpilib.toml [funnel]) ------------------------------------------

CRM_SETTINGS = '[funnel]\nsteps = ["lead", "mql", "sql", "won"]\nwindow = "60D"\n'


def crm_source(folder, settings: str = CRM_SETTINGS):
    """A CRM export in a folder: five leads, by hand (days after 2026-01-01)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        ("a", 0, "lead"), ("a", 5, "mql"), ("a", 20, "sql"), ("a", 50, "won"),  # won on day 50: inside 60D
        ("b", 1, "lead"), ("b", 3, "mql"), ("b", 70, "sql"),  # sql after the 60-day window
        ("c", 2, "lead"), ("c", 4, "sql"), ("c", 6, "mql"), ("c", 8, "sql"),  # sql before mql is skipped
        ("d", 3, "lead"),
        ("e", 4, "mql"),  # never a lead: never enters
    ]
    events_from(rows).to_csv(folder / "events.csv", index=False)
    (folder / "kpilib.toml").write_text(settings, encoding="utf-8")
    return folder


def test_a_source_declares_its_funnel_and_gets_it(tmp_path):
    from kpilib import load_dataset

    ds = load_dataset(crm_source(tmp_path / "crm"))
    assert ds.funnel.steps == ("lead", "mql", "sql", "won") and ds.funnel.window == "60D"
    chosen = F.funnel_settings(ds)
    assert (chosen.steps, chosen.window, chosen.order) == (("lead", "mql", "sql", "won"), "60D", "ordered")
    table = F.funnel(ds.events, chosen.steps, window=chosen.window, order=chosen.order, as_of="2026-12-31")
    # by hand: 4 leads (a b c d); mql a b c; sql a (day 20) and c (day 8, after its mql); won a
    assert table.step.tolist() == ["lead", "mql", "sql", "won"]
    assert table.users.tolist() == [4, 3, 2, 1]
    # the built-in 14-day window would lose a's sql (day 20) and won (day 50)
    short = F.funnel(ds.events, chosen.steps, window=F.DEFAULT_WINDOW, as_of="2026-12-31")
    assert short.users.tolist() == [4, 3, 1, 0]
    # order from the settings too: strict breaks c (an sql before its mql lies between lead and mql)
    strict_ds = load_dataset(crm_source(tmp_path / "strict", CRM_SETTINGS + 'order = "strict"\n'))
    strict = F.funnel_settings(strict_ds)
    assert strict.order == "strict"
    assert F.funnel(strict_ds.events, strict.steps, window=strict.window, order=strict.order,
                    as_of="2026-12-31").users.tolist() == [4, 2, 1, 1]


def test_funnel_settings_given_then_the_sources_then_the_defaults():
    from kpilib.data import FunnelSettings

    declared = FunnelSettings(steps=("lead", "won"), window="90D", order="any")
    assert F.funnel_settings(declared, steps=["visit", "signup"]) == FunnelSettings(("visit", "signup"), "90D", "any")
    assert F.funnel_settings(declared, window="7D", order="strict") == FunnelSettings(("lead", "won"), "7D", "strict")
    assert F.funnel_settings(declared, steps=[], window="") == declared  # empty is "not given", as in a notebook
    assert F.funnel_settings(None) == FunnelSettings(F.DEFAULT_STEPS, "14D", "ordered")
    assert F.funnel_settings(FunnelSettings(window="30D")).steps == F.DEFAULT_STEPS
    assert F.landing_goal(("visit", "add_to_cart", "purchase")) == "add_to_cart"
    with pytest.raises(ValueError, match="list of event names"):
        F.funnel_settings(declared, steps="lead")
