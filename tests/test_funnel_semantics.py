"""The funnel rules of the product-analytics tools (issue #16): exclusions, strict and any
order, re-entry, first-time entry, windows, breakdown attribution, presets.

Each rule has small hand-built event logs whose per-step counts are worked out by hand
from the rule as the tools document it (the page is cited beside the test), and the new
rules are checked against a plain-Python reference on random small logs.
"""

from __future__ import annotations

import warnings
from collections import Counter

import ibis
import numpy as np
import pandas as pd
import pytest

from kpilib import funnel as F
from kpilib.funnel import Exclusion

DAY0 = pd.Timestamp("2026-01-01", tz="UTC")
SALES = ["visit", "signup", "purchase"]

# The pages the expected counts are worked out from.
POSTHOG_EXCLUSIONS = "https://github.com/PostHog/posthog/issues/5553"  # "dropped from the funnel altogether"
POSTHOG_API = "https://posthog.com/docs/api/funnel"  # funnel_window_interval default 14 (days)
POSTHOG_MODES = ("https://raw.githubusercontent.com/PostHog/skills/main/skills/omnibus/"
                 "modeling-conversion-metrics/references/conversion-metric-definitions.md")
POSTHOG_QUERY = "https://github.com/PostHog/posthog/blob/master/posthog/queries/funnels/base.py"  # latest_i <= latest_0 + INTERVAL
POSTHOG_DATE_RANGE = "https://github.com/PostHog/posthog/blob/master/ee/clickhouse/sql/funnels/funnel.py"
MIXPANEL_CONVERSION = "https://help.mixpanel.com/hc/en-us/articles/360029190092-Conversion-Details-in-Funnels"
MIXPANEL_DEEP_DIVE = "https://help.mixpanel.com/hc/en-us/articles/115004561926-Funnels-Deep-Dive"
AMPLITUDE_CONVERSIONS = ("https://amplitude.com/docs/analytics/charts/funnel-analysis/"
                         "funnel-analysis-how-amplitude-computes-conversions")
AMPLITUDE_SIMULTANEOUS = ("https://amplitude.com/docs/analytics/charts/funnel-analysis/"
                          "funnel-analysis-how-amplitude-handles-simultaneous-events")
AMPLITUDE_FAQ = "https://amplitude-docs.vercel.app/docs/faq/funnel-analysis"


def events_from(rows, **extras) -> pd.DataFrame:
    """Events from ``(customer, day, event)`` tuples; ``day`` may be fractional."""
    frame = pd.DataFrame(rows, columns=["customer_id", "day", "event"])
    frame["ts"] = DAY0 + pd.to_timedelta(frame.pop("day"), unit="D")
    for name, values in extras.items():
        frame[name] = values
    return frame


def counts(table: pd.DataFrame, **where) -> list[int]:
    for column, value in where.items():
        table = table[table[column].isna()] if value is None else table[table[column] == value]
    return table.sort_values("step_index").users.tolist()


# --- exclusions ------------------------------------------------------------------------

EXCLUSION_LOG = events_from([
    ("a", 0, "visit"), ("a", 1, "signup"), ("a", 2, "purchase"),                       # clean
    ("b", 0, "visit"), ("b", 0.5, "refund"), ("b", 1, "signup"),                       # refund after the visit
    ("c", 0, "visit"), ("c", 1, "signup"), ("c", 2, "purchase"), ("c", 3, "refund"),    # after the last step
    ("d", 0, "visit"), ("d", 1, "signup"), ("d", 5, "refund"),                         # no purchase: to window end
    ("e", 0, "visit"), ("e", 0, "refund"), ("e", 1, "signup"),                         # tied with the visit
    ("f", 0, "visit"), ("f", 20, "refund"),                                            # after the window
    ("g", 1, "refund"), ("g", 2, "visit"),                                             # before the entry
    ("z", 40, "share"),
])


def test_an_excluded_event_between_the_steps_drops_the_user_from_the_whole_funnel():
    # PostHog: a user who performs the excluded event between the steps is "dropped from the
    # funnel altogether" (POSTHOG_EXCLUSIONS); strictly between, and to the window's end when
    # the later step is not reached.
    anywhere = F.funnel(EXCLUSION_LOG, SALES, exclusions=["refund"])
    assert counts(anywhere) == [5, 3, 2]          # b and d are gone, from step 1 too
    after_signup = F.funnel(EXCLUSION_LOG, SALES, exclusions=[Exclusion("refund", from_step=2)])
    assert counts(after_signup) == [6, 4, 2]      # only d: b's refund came before its signup
    before_signup = F.funnel(EXCLUSION_LOG, SALES, exclusions=[("refund", 1, 2)])
    assert counts(before_signup) == [6, 4, 2]     # only b: d's refund came after its signup
    by_name = F.funnel(EXCLUSION_LOG, SALES, exclusions=[("refund", "visit", "signup")])
    assert counts(by_name) == counts(before_signup)
    # an exclusion whose event never happens changes nothing
    assert counts(F.funnel(EXCLUSION_LOG, SALES, exclusions="cancel")) == counts(F.funnel(EXCLUSION_LOG, SALES))


def test_an_exclusion_at_the_window_end_follows_the_window_end_rule():
    log = events_from([("h", 0, "visit"), ("h", 14, "refund"), ("z", 40, "share")])
    assert counts(F.funnel(log, SALES, exclusions="refund")) == [1, 0, 0]
    assert counts(F.funnel(log, SALES, exclusions="refund", window_end="inclusive")) == [0, 0, 0]


def test_exclusions_are_checked():
    with pytest.raises(ValueError, match="before to_step"):
        F.funnel(EXCLUSION_LOG, SALES, exclusions=[Exclusion("refund", from_step=3, to_step=2)])
    with pytest.raises(ValueError, match="not one of the steps"):
        F.funnel(EXCLUSION_LOG, SALES, exclusions=[("refund", "cart", 3)])


# --- strict order ----------------------------------------------------------------------

STRICT_LOG = events_from([
    ("a", 0, "visit"), ("a", 1, "signup"), ("a", 2, "purchase"),                        # clean
    ("b", 0, "visit"), ("b", 0.5, "page_view"), ("b", 1, "signup"), ("b", 2, "purchase"),
    ("c", 0, "visit"), ("c", 1, "signup"), ("c", 1, "page_view"), ("c", 2, "purchase"),  # tied: not between
    ("d", 0, "visit"), ("d", 1, "visit"), ("d", 2, "signup"),                            # a second visit
    ("e", 0, "visit"), ("e", 1, "signup"), ("e", 1.5, "page_view"), ("e", 2, "purchase"),
])


def test_strict_order_is_broken_by_any_event_in_between():
    # PostHog strict: "no other tracked event may occur between two steps" (POSTHOG_MODES);
    # Amplitude exact order: an event at the same instant does not break it (AMPLITUDE_SIMULTANEOUS).
    with pytest.warns(FutureWarning, match="strict_steps"):
        strict = F.funnel(STRICT_LOG, SALES, order="strict")
    assert counts(strict) == [5, 3, 2]   # b and d break at step 2, e at step 3
    # the former rule, renamed: only other funnel-step events break it (d's second visit)
    assert counts(F.funnel(STRICT_LOG, SALES, order="strict_steps")) == [5, 4, 4]
    # presets set the tools' meaning without the warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        assert counts(F.funnel(STRICT_LOG, SALES, order="strict", semantics="amplitude", window="14D",
                               reentry="first")) == [5, 3, 2]


# --- any order -------------------------------------------------------------------------

ANY_LOG = events_from([
    ("a", 0, "purchase"), ("a", 1, "signup"), ("a", 2, "visit"),    # entered on its purchase: all 3
    ("b", 0, "signup"), ("b", 1, "signup"),                         # one step, listed once
    ("c", 0, "purchase"), ("c", 20, "visit"),                       # the visit is outside the window
    ("d", 0, "visit"), ("d", 3, "purchase"),                        # 2 of 3
    ("z", 40, "share"),
])


def test_any_order_counts_completed_steps_from_the_earliest_step_event():
    # PostHog unordered: "Completed N steps", the steps in any sequence within the window
    # (POSTHOG_MODES); the window starts at the earliest step event.
    table = F.funnel(ANY_LOG, SALES, order="any")
    assert counts(table) == [4, 2, 1]
    users = F.funnel_users(ANY_LOG, SALES, order="any").to_pandas().set_index("customer_id")
    assert (users.entered_at == users.step_1_at).all()
    assert users.step_1_at["a"] == DAY0 and users.step_3_at["a"] == DAY0 + pd.Timedelta(days=2)
    assert users.step_2_at["d"] == DAY0 + pd.Timedelta(days=3) and pd.isna(users.step_3_at["d"])
    # time to convert from the entry to the event completing the 3 steps (a: 2 days) or 2 (a: 1, d: 3)
    assert F.time_to_convert(ANY_LOG, SALES, order="any").summary.median_days[0] == pytest.approx(2.0)
    assert F.time_to_convert(ANY_LOG, SALES, order="any", to_step=2).summary.mean_days[0] == pytest.approx(2.0)


# --- re-entry and first-time entry -----------------------------------------------------


def test_reentry_first_is_mixpanel_and_best_is_posthog():
    # Mixpanel's own example (MIXPANEL_CONVERSION): steps A → B → C, a one-hour window; A at
    # 1pm, A again at 1:30pm, B at 1:45pm, C at 2:15pm: "they would not be counted as
    # completing the funnel as 1pm to 2:15pm is greater than one hour".
    hour = 1 / 24
    log = events_from([("u", 13 * hour, "A"), ("u", 13.5 * hour, "A"), ("u", 13.75 * hour, "B"),
                       ("u", 14.25 * hour, "C"), ("z", 3, "share")])
    assert counts(F.funnel(log, ["A", "B", "C"], window="1h")) == [1, 1, 0]
    assert counts(F.funnel(log, ["A", "B", "C"], window="1h", semantics="mixpanel")) == [1, 1, 0]
    # PostHog/Amplitude try the 1:30pm A too, and keep the furthest attempt: it completes
    best = F.funnel_users(log, ["A", "B", "C"], window="1h", reentry="best").to_pandas()
    assert best.reached_3.tolist() == [True]
    assert best.step_1_at[0] == DAY0 + pd.Timedelta(hours=13.5)


def test_reentry_best_ties_keep_the_earliest_attempt():
    log = events_from([("u", 0, "visit"), ("u", 1, "signup"), ("u", 2, "visit"), ("u", 3, "signup"),
                       ("z", 30, "share")])
    users = F.funnel_users(log, SALES, reentry="best").to_pandas()
    assert users.step_1_at.tolist() == [DAY0] and users.step_2_at.tolist() == [DAY0 + pd.Timedelta(days=1)]


def test_first_time_entry_needs_the_first_step_one_event_ever():
    log = events_from([("a", 1, "visit"), ("a", 12, "visit"), ("a", 13, "signup"),   # first visit before start
                       ("b", 12, "visit"), ("b", 13, "signup"), ("z", 40, "share")])
    period = {"start": DAY0 + pd.Timedelta(days=10), "end": DAY0 + pd.Timedelta(days=20)}
    assert counts(F.funnel(log, ["visit", "signup"], **period)) == [2, 2]
    assert counts(F.funnel(log, ["visit", "signup"], first_time=True, **period)) == [1, 1]


# --- windows ---------------------------------------------------------------------------


def test_a_month_window_is_calendar_months():
    # Jan 31 10:00 + 1M = Feb 28 10:00 (2026); in a leap year Feb 29
    def log(year):
        t0 = pd.Timestamp(f"{year}-01-31 10:00", tz="UTC")
        return pd.DataFrame({"customer_id": ["in", "in", "edge", "edge", "leap", "leap"],
                             "ts": [t0, t0 + pd.Timedelta(days=28, minutes=-1), t0, t0 + pd.Timedelta(days=28),
                                    t0, t0 + pd.Timedelta(days=29)],
                             "event": ["visit", "signup"] * 3})
    users = F.funnel_users(log(2026), ["visit", "signup"], window="1M", as_of="2026-04-01").to_pandas()
    reached = dict(zip(users.customer_id, users.reached_2, strict=True))
    assert reached == {"in": True, "edge": False, "leap": False}
    assert (users.window_end == pd.Timestamp("2026-02-28 10:00", tz="UTC")).all()
    inclusive = F.funnel_users(log(2026), ["visit", "signup"], window="1M", window_end="inclusive",
                               as_of="2026-04-01").to_pandas()
    assert dict(zip(inclusive.customer_id, inclusive.reached_2, strict=True))["edge"]
    leap = F.funnel_users(log(2024), ["visit", "signup"], window="1M", as_of="2024-04-01").to_pandas()
    assert dict(zip(leap.customer_id, leap.reached_2, strict=True)) == {"in": True, "edge": True, "leap": False}
    assert (leap.window_end == pd.Timestamp("2024-02-29 10:00", tz="UTC")).all()


def test_window_units_and_their_checks():
    log = events_from([("a", 0, "visit"), ("a", 13.9, "signup"), ("z", 40, "share")])
    assert counts(F.funnel(log, ["visit", "signup"], window="2W")) == counts(F.funnel(log, ["visit", "signup"]))
    assert counts(F.funnel(log, ["visit", "signup"], window="12h")) == [1, 0]
    assert counts(F.funnel(log, ["visit", "signup"], window=14)) == [1, 1]
    for bad in ["0D", "soon", -3]:
        with pytest.raises(ValueError, match="window"):
            F.funnel(log, ["visit", "signup"], window=bad)


def test_step_windows_limit_each_step_after_the_one_before():
    log = events_from([
        ("a", 0, "visit"), ("a", 0.5, "signup"), ("a", 7, "purchase"),    # 0.5 ≤ 1, 6.5 ≤ 7
        ("b", 0, "visit"), ("b", 1.5, "signup"),                          # signup too late for 1 day
        ("c", 0, "visit"), ("c", 0.5, "signup"), ("c", 8, "purchase"),    # purchase 7.5 days after signup
        ("z", 40, "share"),
    ])
    assert counts(F.funnel(log, SALES)) == [3, 3, 2]
    assert counts(F.funnel(log, SALES, step_windows=["1D", "7D"])) == [3, 2, 1]
    with pytest.raises(ValueError, match="one window per step"):
        F.funnel(log, SALES, step_windows=["1D"])


def test_the_date_range_restricts_the_entry_or_every_step():
    log = events_from([("a", 9, "visit"), ("a", 9.5, "signup"), ("b", 9, "visit"), ("b", 11, "signup"),
                       ("z", 40, "share")])
    period = {"start": DAY0, "end": DAY0 + pd.Timedelta(days=10)}
    assert counts(F.funnel(log, ["visit", "signup"], **period)) == [2, 2]
    assert counts(F.funnel(log, ["visit", "signup"], date_range="all_steps", **period)) == [2, 1]


# --- time to convert -------------------------------------------------------------------


def test_time_to_convert_bins_adapt_to_the_data_not_the_window():
    minutes = [65, 125, 185]
    rows = []
    for i, m in enumerate(minutes):
        rows += [(f"u{i}", 0, "visit"), (f"u{i}", m / 1440, "signup")]
    result = F.time_to_convert(events_from(rows + [("z", 20, "share")]), ["visit", "signup"], window="14D")
    histogram = result.histogram
    # longest 185 min: 5-minute bins would need 38 > 28, 10-minute bins need 19 ≤ 28
    width = histogram.bin_end_days - histogram.bin_start_days
    assert np.allclose(width, 10 / 1440) and len(histogram) == 28   # 0 to 280 minutes
    assert histogram.users.sum() == 3
    assert histogram.users[[6, 12, 18]].tolist() == [1, 1, 1]   # the bins from 60, 120 and 180 minutes


# --- breakdown attribution and limit ---------------------------------------------------

TOUCH_LOG = events_from([
    ("u", 0, "visit"), ("u", 0.5, "visit"), ("u", 1, "signup"), ("u", 2, "purchase"),
    ("v", 0, "visit"),
    ("z", 40, "share"),
], channel=[None, "ads", "email", "seo", "ads", None])


def test_breakdown_attribution_first_last_step_and_all():
    # PostHog attribution (POSTHOG_MODES): first touch, last touch, a given step, all values;
    # Amplitude groups users by how they entered (AMPLITUDE_CONVERSIONS), kpilib's step 1.
    def groups(**kw):
        table = F.funnel(TOUCH_LOG, SALES, by="channel", **kw)
        return {(c if isinstance(c, str) else None): counts(table, channel=c)
                for c in table.channel.drop_duplicates()}
    assert groups() == {"ads": [1, 0, 0], None: [1, 1, 1]}                    # u's entry visit has none
    assert groups(attribution="first_touch") == {"ads": [2, 1, 1]}            # u: ads at 0.5
    assert groups(attribution="last_touch") == {"ads": [1, 0, 0], "seo": [1, 1, 1]}
    assert groups(attribution="step:2") == {"email": [1, 1, 1], None: [1, 0, 0]}  # v has no step 2
    assert groups(attribution=3) == groups(attribution="step:3") == {"seo": [1, 1, 1], None: [1, 0, 0]}
    # all: u counts once in each of its values, v once in ads
    assert groups(attribution="all") == {"ads": [2, 1, 1], "email": [1, 1, 1], "seo": [1, 1, 1]}
    with pytest.raises(ValueError, match="attribution"):
        F.funnel(TOUCH_LOG, SALES, by="channel", attribution="middle")


def test_breakdown_limit_pools_the_smaller_groups_as_other():
    rows, channels = [], []
    for i, (channel, converts) in enumerate([("web", 1), ("web", 1), ("web", 0), ("ads", 1), ("ads", 0),
                                              ("app", 0), ("app", 1), ("tv", 1)]):
        rows += [(f"u{i}", 0, "visit")] + ([(f"u{i}", 1, "signup")] if converts else [])
        channels += [channel] * (1 + converts)
    log = events_from(rows + [("z", 40, "share")], channel=channels + ["web"])
    table = F.funnel(log, ["visit", "signup"], by="channel", breakdown_limit=2)
    # web 3 entrants; ads and app tie at 2: "ads" first; app and tv pooled
    assert sorted(table.channel.unique()) == ["ads", "other", "web"]
    assert counts(table, channel="web") == [3, 2]
    assert counts(table, channel="ads") == [2, 1]
    assert counts(table, channel="other") == [3, 2]
    # "all": a user with two pooled values is counted once in "other"
    both = events_from([("a", 0, "visit"), ("a", 1, "signup"), ("b", 0, "visit"), ("c", 0, "visit"),
                        ("z", 40, "share")], channel=["x", "y", "w", "w", None])
    pooled = F.funnel(both, ["visit", "signup"], by="channel", attribution="all", breakdown_limit=1)
    assert counts(pooled, channel="w") == [2, 0] and counts(pooled, channel="other") == [1, 1]


def test_several_breakdown_columns_at_once():
    log = events_from([("a", 0, "visit"), ("b", 0, "visit"), ("b", 1, "signup"), ("c", 0, "visit"),
                       ("z", 40, "share")], channel=["ads", "ads", "ads", "seo", None],
                      device=["mobile", "desktop", "mobile", "mobile", None])
    table = F.funnel(log, ["visit", "signup"], by=["channel", "device"], attribution="first_touch")
    got = {(r.channel, r.device): counts(table, channel=r.channel, device=r.device)
           for r in table.drop_duplicates(["channel", "device"]).itertuples()}
    assert got == {("ads", "desktop"): [1, 1], ("ads", "mobile"): [1, 0], ("seo", "mobile"): [1, 0]}
    limited = F.funnel(log, ["visit", "signup"], by=["channel", "device"], breakdown_limit=1)
    assert set(zip(limited.channel, limited.device, strict=True)) == {("ads", "desktop"), ("other", "other")}


# --- presets ---------------------------------------------------------------------------

PRESET_LOG = events_from([
    ("p1", 0, "visit"), ("p1", 1.5, "signup"),                         # after 1 day
    ("p2", 0, "visit"), ("p2", 40, "visit"), ("p2", 40.5, "signup"),   # converts on a second try
    ("p3", 0, "visit"), ("p3", 14, "signup"),                          # exactly 14 days later
    ("p4", 0, "visit"), ("p4", 0.5, "signup"),                         # within hours
    ("z", 60, "share"),
], channel=[None, "email", None, "ads", "email", None, None, "seo", None, None])


@pytest.mark.parametrize(("semantics", "expected"), [
    ("kpilib", [4, 2]),      # p1, p4: 14 days from the first visit, exclusive
    ("posthog", [4, 4]),     # best attempt (p2), 14 days inclusive (p3): POSTHOG_API, POSTHOG_QUERY
    ("mixpanel", [4, 3]),    # first visit, 30 days (MIXPANEL_CONVERSION): p1, p3, p4; p2's second try is not one
    ("amplitude", [4, 2]),   # earliest most complete conversion, one day: p2 (second try), p4 (AMPLITUDE_CONVERSIONS)
])
def test_each_preset_reproduces_its_tool(semantics, expected):
    assert counts(F.funnel(PRESET_LOG, ["visit", "signup"], semantics=semantics)) == expected


@pytest.mark.parametrize(("semantics", "expected"), [
    ("kpilib", {None: [3, 1], "seo": [1, 1]}),          # the entry visit's value
    ("posthog", {"email": [1, 1], "ads": [1, 1], "seo": [1, 1], None: [1, 1]}),  # first touch of the kept attempt
    ("mixpanel", {None: [3, 2], "seo": [1, 1]}),
    ("amplitude", {None: [2, 0], "ads": [1, 1], "seo": [1, 1]}),  # p2 entered again on its "ads" visit
])
def test_each_preset_attributes_breakdowns_like_its_tool(semantics, expected):
    table = F.funnel(PRESET_LOG, ["visit", "signup"], by="channel", semantics=semantics)
    got = {(c if isinstance(c, str) else None): counts(table, channel=c) for c in table.channel.drop_duplicates()}
    assert got == expected


@pytest.mark.parametrize(("semantics", "expected"), [
    ("kpilib", [2, 2]), ("posthog", [2, 1]), ("mixpanel", [2, 2]), ("amplitude", [2, 1]),
])
def test_each_preset_applies_its_date_range_rule(semantics, expected):
    # PostHog counts only events inside the date range (POSTHOG_DATE_RANGE); Mixpanel's date
    # range is "the date range your customer has to complete the first step" (MIXPANEL_DEEP_DIVE);
    # Amplitude: the first step in the range, the rest within the window (AMPLITUDE_FAQ) —
    # its one-day window drops b anyway.
    log = events_from([("a", 9, "visit"), ("a", 9.5, "signup"), ("b", 9, "visit"), ("b", 10.5, "signup"),
                       ("z", 40, "share")])
    table = F.funnel(log, ["visit", "signup"], semantics=semantics, start=DAY0, end=DAY0 + pd.Timedelta(days=10))
    assert counts(table) == expected


def test_explicit_keywords_override_the_preset():
    assert counts(F.funnel(PRESET_LOG, ["visit", "signup"], semantics="posthog", reentry="first")) == [4, 3]
    assert counts(F.funnel(PRESET_LOG, ["visit", "signup"], semantics="amplitude", window="14D")) == [4, 3]
    assert counts(F.funnel(PRESET_LOG, ["visit", "signup"], semantics="kpilib")) == counts(
        F.funnel(PRESET_LOG, ["visit", "signup"]))
    with pytest.raises(ValueError, match="semantics"):
        F.funnel(PRESET_LOG, ["visit", "signup"], semantics="heap")


# --- a plain-Python reference on random small logs --------------------------------------

NAMES = ["a", "b", "c", "x"]


def reference(rows, steps, window, order, reentry, exclusions, inclusive):
    """Steps reached and their days per user, the slow and obvious way."""
    out = {}
    listed = Counter(steps)
    for user in sorted({r[0] for r in rows}):
        mine = sorted((day, name) for u, day, name in rows if u == user)
        names = set(steps) if order == "any" else {steps[0]}
        starts = sorted({d for d, n in mine if n in names})
        if not starts:
            continue
        starts = starts[:1] if reentry == "first" else starts
        attempts = []
        for t0 in starts:
            inside = [(d, n) for d, n in mine if t0 <= d and (d <= t0 + window if inclusive else d < t0 + window)]
            if order == "any":
                seen, times = Counter(), []
                for d, n in inside:
                    if seen[n] < listed[n]:
                        seen[n] += 1
                        times.append(d)
            else:
                entry = inside.index((t0, steps[0]))
                used, times = {entry}, [t0]
                for name in steps[1:]:
                    options = [i for i, (d, n) in enumerate(inside) if i not in used and n == name and d >= times[-1]]
                    if not options:
                        break
                    pick = min(options, key=lambda i: inside[i][0])
                    day = inside[pick][0]
                    between = [n for d, n in inside if times[-1] < d < day]
                    if (order == "strict" and between) or (order == "strict_steps" and set(between) & set(steps)):
                        break
                    used.add(pick)
                    times.append(day)
            attempts.append((t0, times))
        t0, times = max(attempts, key=lambda a: (len(a[1]), -a[0]))
        end = t0 + window
        dropped = False
        for event, lo, hi in exclusions:
            if lo > len(times):
                continue
            upper = times[hi - 1] if hi <= len(times) else None
            for d, n in mine:
                inside_end = (d < upper) if upper is not None else (d <= end if inclusive else d < end)
                if n == event and d > times[lo - 1] and inside_end:
                    dropped = True
        if not dropped:
            out[user] = times
    return out


def random_rows(seed: int, users: int = 60) -> list[tuple]:
    rng = np.random.default_rng(seed)
    return [(f"u{u:02d}", float(rng.integers(0, 24)) / 2, str(rng.choice(NAMES)))
            for u in range(users) for _ in range(rng.integers(1, 9))]


CASES = [
    (["a", "b", "c"], "ordered", "first", [("x", 1, 3)], False),
    (["a", "b", "c"], "strict", "first", [], False),
    (["a", "b", "a"], "strict", "best", [], True),
    (["a", "b", "c"], "ordered", "best", [("x", 2, 3)], False),
    (["a", "b", "b", "c"], "strict_steps", "best", [("x", 1, 2)], True),
    (["a", "b", "c"], "any", "first", [("x", 1, 3)], False),
    (["a", "a", "b"], "any", "best", [], False),
    (["c", "a"], "ordered", "best", [("b", 1, 2), ("x", 1, 2)], True),
]


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.parametrize(("steps", "order", "reentry", "exclusions", "inclusive"), CASES)
def test_new_rules_match_a_plain_python_reference(seed, steps, order, reentry, exclusions, inclusive):
    rows = random_rows(seed)
    events = events_from(rows)
    window = 3
    expected = reference(rows, steps, window, order, reentry, exclusions, inclusive)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        users = F.funnel_users(events, steps, window=f"{window}D", order=order, reentry=reentry,
                               exclusions=exclusions, window_end="inclusive" if inclusive else "exclusive",
                               as_of="2026-02-01").to_pandas()
    users = users.sort_values("customer_id", ignore_index=True)
    assert users.customer_id.tolist() == list(expected)
    for row in users.itertuples(index=False):
        want = expected[row.customer_id]
        got = [(getattr(row, f"step_{k}_at") - DAY0) / pd.Timedelta(days=1) for k in range(1, len(steps) + 1)
               if getattr(row, f"reached_{k}")]
        assert got == want, (row.customer_id, want)


# --- portability -----------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgres", "pyspark"])
@pytest.mark.parametrize("rules", [
    {"exclusions": ["refund", ("x", 1, 2)]},
    {"order": "strict", "semantics": "posthog"},
    {"order": "any", "reentry": "best", "by": "channel", "attribution": "last_touch"},
    {"reentry": "best", "by": ["channel", "device"], "breakdown_limit": 2},
    {"first_time": True, "start": "2026-01-01"},
    {"window": "1M", "window_end": "inclusive", "step_windows": ["1D", "2h"], "date_range": "all_steps",
     "end": "2026-02-01"},
    {"by": "channel", "attribution": "all", "breakdown_limit": 1},
    {"by": "channel", "attribution": "step:2"},
])
def test_every_rule_compiles_for_other_backends(dialect, rules):
    events = ibis.memtable(events_from([("a", 0, "visit")], channel=["x"], device=["m"]))
    users = F.funnel_users(events, SALES, as_of="2026-03-01", **rules)
    sql = ibis.to_sql(users.aggregate(n=users.reached_3.cast("int64").sum()), dialect=dialect)
    assert "ASOF" not in sql.upper()


# --- the rules flow through every funnel function ----------------------------------------


def test_conversion_rate_drop_off_and_the_entry_column_follow_the_rules():
    rates = F.conversion_rate(EXCLUSION_LOG, SALES, exclusions=["refund"])
    assert (rates.numerator[0], rates.denominator[0]) == (2, 5)      # as the funnel above: [5, 3, 2]
    drops = F.drop_off(F.funnel(EXCLUSION_LOG, SALES, exclusions=["refund"]))
    assert drops.dropped.tolist() == [2, 1]
    users = F.funnel_users(EXCLUSION_LOG, SALES).to_pandas()
    assert (users.entered_at == users.step_1_at).all()              # ordered: the step-1 event
    # a breakdown column of the customers table is the person's, whatever the attribution
    people = pd.DataFrame({"customer_id": ["a", "c"], "segment": ["smb", "ent"], "channel": ["ads", "seo"],
                           "signup_at": [DAY0, DAY0]})
    table = F.funnel(EXCLUSION_LOG, SALES, by="segment", customers=people, attribution="last_touch",
                     exclusions=["refund"])
    assert counts(table, segment="smb") == [1, 1, 1] and counts(table, segment=None) == [3, 1, 0]
