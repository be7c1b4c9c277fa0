"""Funnel trends and the report time zone.

The time-zone bucketing is checked against pandas' ``tz_convert`` of every instant (the
IANA database through an independent path) around daylight-saving changes; the trend
counts against small logs worked out by hand.
"""

from __future__ import annotations

import ibis
import matplotlib
import numpy as np
import pandas as pd
import pytest

from kpilib.funnel._trends import funnel_trends, period_counts
from kpilib.periods import (
    check_timezone,
    local_day_index,
    local_period_bounds,
    period_index,
    period_start_of_index,
    utc_offsets,
)
from kpilib.plots._funnel import plot_funnel_trends
from kpilib.stats import wilson_interval

matplotlib.use("Agg")

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
#: Daylight-saving changes of 2026 (UTC) and a few ordinary instants, per zone.
CHANGES = {
    "Europe/Berlin": ["2026-03-29 01:00", "2026-10-25 01:00"],
    "America/New_York": ["2026-03-08 07:00", "2026-11-01 06:00"],
    "Australia/Lord_Howe": ["2026-04-04 15:00", "2026-10-03 15:30"],  # 30-minute DST at 02:00 local
    "Asia/Kathmandu": ["2026-06-15 18:15"],  # +5:45 all year: local midnight
}


def _instants(zone: str) -> pd.Series:
    """Instants around each change and around the local midnights next to it, to the second."""
    centres = [pd.Timestamp(c, tz="UTC") for c in CHANGES[zone]]
    for c in list(centres):  # the local midnights of the change's day and the next ones
        local = c.tz_convert(zone).normalize().tz_localize(None)
        for days in (0, 1, 2):
            centres.append((local + pd.Timedelta(days=days)).tz_localize(
                zone, ambiguous=True, nonexistent="shift_forward").tz_convert("UTC"))
    offsets = pd.to_timedelta(
        [-7200, -3600, -1800, -61, -1, 0, 1, 59, 1799, 1800, 3599, 3600, 5400, 7200], unit="s")
    stamps = sorted({c + o for c in centres for o in offsets})
    stamps += [pd.Timestamp("2026-01-01 00:00:00.000001", tz="UTC"), pd.Timestamp("2026-12-31 23:59:59", tz="UTC")]
    return pd.Series(sorted(stamps), dtype="datetime64[us, UTC]")


def _pandas_period(ts: pd.Series, zone: str, period: str) -> np.ndarray:
    """The reference: the local wall clock by pandas, its period counted from 1970."""
    local = ts.dt.tz_convert(zone).dt.tz_localize(None)
    days = ((local.dt.normalize() - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1)).to_numpy()
    if period == "D":
        return days
    freq = {"W": "W-SUN", "M": "M"}[period]
    origin = pd.Period({"W": "1970-01-05", "M": "1970-01"}[period], freq)
    return np.array([(p - origin).n for p in local.dt.to_period(freq)])


@pytest.mark.parametrize("portable", [False, True])
@pytest.mark.parametrize("zone", ZONES)
def test_local_periods_match_pandas_tz_convert_around_dst(zone, portable):
    ts = _instants(zone)
    t = ibis.memtable(pd.DataFrame({"ts": ts, "row": np.arange(len(ts))}))
    day = local_day_index(t.ts, zone, ts.min(), ts.max(), portable=portable)
    got = t.select("row", **{p: period_index(day, p) for p in "DWM"}).order_by("row").to_pandas()
    for p in "DWM":
        want = _pandas_period(ts, zone, p)
        bad = np.flatnonzero(got[p].to_numpy() != want)
        assert bad.size == 0, (zone, p, ts.iloc[bad[:5]].tolist(), got[p].to_numpy()[bad[:5]], want[bad[:5]])


@pytest.mark.parametrize("zone", ZONES)
def test_offsets_change_exactly_when_pandas_says(zone):
    changes = utc_offsets(zone, "2026-01-01", "2027-01-01")
    expected = {pd.Timestamp(c, tz="UTC") for c in CHANGES[zone] if zone != "Asia/Kathmandu"}
    found = {pd.Timestamp(s, unit="s", tz="UTC") for s in changes.since.iloc[1:]}
    assert found == expected
    for row in changes.itertuples():
        at = pd.Timestamp(row.since, unit="s", tz="UTC")
        assert at.tz_convert(zone).utcoffset().total_seconds() == row.offset_seconds
    for before in changes.since.iloc[1:]:
        previous = pd.Timestamp(before - 1, unit="s", tz="UTC").tz_convert(zone).utcoffset().total_seconds()
        assert previous == changes.offset_seconds[changes.since < before].iloc[-1]
    assert utc_offsets("Asia/Kathmandu", "2026-01-01", "2027-01-01").offset_seconds.tolist() == [5 * 3600 + 45 * 60]


@pytest.mark.parametrize("zone", [*ZONES, None])
def test_period_bounds_are_the_first_instants_of_the_local_periods(zone):
    for period in "DWM":
        numbers = np.arange({"D": 20_520, "W": 2_925, "M": 672}[period], {"D": 20_900, "W": 2_980, "M": 686}[period])
        bounds = local_period_bounds(numbers, period, zone)
        assert (bounds.period_start == period_start_of_index(numbers, period)).all()
        for col in ("start_utc", "end_utc"):
            stamps = bounds[col]
            local = stamps.dt.tz_convert(zone or "UTC").dt.tz_localize(None)
            before = (stamps - pd.Timedelta(1, "us")).dt.tz_convert(zone or "UTC").dt.tz_localize(None)
            first_day = bounds.period_start if col == "start_utc" else period_start_of_index(numbers + 1, period)
            assert (local.dt.normalize() == first_day.to_numpy()).all(), (zone, period, col)
            assert (before < first_day.to_numpy()).all(), (zone, period, col)


def test_the_time_zone_case_compiles_for_other_engines():
    t = ibis.table({"ts": "timestamp('UTC')"}, name="events")
    for dialect in ("postgres", "pyspark"):
        sql = ibis.to_sql(t.select(d=local_day_index(t.ts, "Europe/Berlin", "2026-01-01", "2026-12-31",
                                                     portable=True)), dialect=dialect).lower()
        assert "case" in sql and "at time zone" not in sql and "from_utc_timestamp" not in sql


@pytest.mark.parametrize("dialect", ["postgres", "pyspark"])
def test_the_trend_counts_are_one_portable_expression(dialect):
    users = ibis.table({"customer_id": "string", "step_1_at": "timestamp('UTC')", "window_open": "boolean",
                        "reached_1": "boolean", "reached_2": "boolean", "channel": "string"}, name="users")
    expr = period_counts(users, [2], ["channel"], "M", "America/New_York", pd.Timestamp("2026-01-01", tz="UTC"),
                         pd.Timestamp("2026-12-31", tz="UTC"), portable=True)
    sql = ibis.to_sql(expr, dialect=dialect).lower()
    assert sql.count("group by") == 1 and "case" in sql
    assert "at time zone" not in sql and "from_utc_timestamp" not in sql and "timezone(" not in sql


def test_time_zone_names_are_checked():
    assert check_timezone(None) is None and check_timezone("") is None and check_timezone("UTC") is None
    with pytest.raises(ValueError, match="IANA time-zone name"):
        check_timezone("Mars/Olympus")
    with pytest.raises(ValueError, match="IANA time-zone name"):
        funnel_trends(pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-01"], "event": ["visit"]}),
                      ["visit"], timezone="CEST")


# ---------------------------------------------------------------------------------------
# Trends worked by hand
# ---------------------------------------------------------------------------------------

def _log(rows):
    return pd.DataFrame(rows, columns=["customer_id", "ts", "event"])


#: Entries around the start of daylight saving in Berlin (2026-03-29 01:00 UTC, +1 → +2).
DST_LOG = _log([
    ("a", "2026-03-27 10:00", "visit"), ("a", "2026-03-27 11:00", "signup"),   # UTC 27, Berlin 27: converts
    ("b", "2026-03-27 23:30", "visit"),                                          # UTC 27, Berlin 28 (00:30)
    ("c", "2026-03-28 22:59", "visit"), ("c", "2026-03-30 09:00", "signup"),   # UTC 28, Berlin 28 (23:59)
    ("d", "2026-03-28 23:30", "visit"), ("d", "2026-03-29 08:00", "signup"),   # UTC 28, Berlin 29 (00:30, +1)
    ("e", "2026-03-29 22:30", "visit"),                                          # UTC 29, Berlin 30 (00:30, +2)
    ("f", "2026-03-29 21:59", "visit"), ("f", "2026-03-31 09:00", "signup"),   # UTC 29, Berlin 29 (23:59)
    ("z", "2026-04-20 12:00", "page_view"),                                      # the end of the data
])


def test_daily_counts_in_utc_and_in_berlin_by_hand():
    utc = funnel_trends(DST_LOG, ["visit", "signup"], period="D", window="7D")
    assert utc.attrs["timezone"] is None
    assert utc.period.tolist() == ["2026-03-27", "2026-03-28", "2026-03-29"]
    assert utc.denominator.tolist() == [2, 2, 2]
    assert utc.numerator.tolist() == [1, 2, 1]
    berlin = funnel_trends(DST_LOG, ["visit", "signup"], period="D", window="7D", timezone="Europe/Berlin")
    assert berlin.attrs["timezone"] == "Europe/Berlin"
    assert berlin.period.tolist() == ["2026-03-27", "2026-03-28", "2026-03-29", "2026-03-30"]
    assert berlin.denominator.tolist() == [1, 2, 2, 1]  # a | b, c | d, f | e
    assert berlin.numerator.tolist() == [1, 1, 2, 0]
    assert berlin.complete.all() and berlin.small_sample.all()


def test_weeks_and_months_on_the_local_clock_by_hand():
    log = _log([
        ("a", "2026-03-29 22:30", "visit"),   # Sunday in UTC, Monday 30 March 00:30 in Berlin
        ("b", "2026-03-31 22:30", "visit"),   # 31 March UTC, 1 April in Berlin
        ("b", "2026-04-01 08:00", "signup"),
        ("z", "2026-05-10", "page_view"),
    ])
    weeks_utc = funnel_trends(log, ["visit", "signup"], period="W")
    assert weeks_utc.period.tolist() == ["2026-03-23/2026-03-29", "2026-03-30/2026-04-05"]
    assert weeks_utc.denominator.tolist() == [1, 1]
    weeks = funnel_trends(log, ["visit", "signup"], period="W", timezone="Europe/Berlin")
    assert weeks.period.tolist() == ["2026-03-30/2026-04-05"] and weeks.denominator.tolist() == [2]
    months = funnel_trends(log, ["visit", "signup"], period="M", timezone="Europe/Berlin")
    assert months.period.tolist() == ["2026-03", "2026-04"]
    assert months.numerator.tolist() == [0, 1] and months.denominator.tolist() == [1, 1]
    assert pd.Timestamp(months.period_start[1]) == pd.Timestamp("2026-04-01")


def test_naive_bounds_are_read_on_the_report_clock():
    # a's visit at 2026-03-31 22:30 UTC is April in Berlin: in the April trend, not in March's
    log = _log([("a", "2026-03-31 22:30", "visit"), ("b", "2026-03-31 21:30", "visit"), ("z", "2026-05-10", "x")])
    april = funnel_trends(log, ["visit"], period="M", timezone="Europe/Berlin", start="2026-04-01", end="2026-05-01")
    assert april.period.tolist() == ["2026-04"] and april.denominator.tolist() == [1]
    march = funnel_trends(log, ["visit"], period="M", timezone="Europe/Berlin", start="2026-03-01", end="2026-04-01")
    assert march.period.tolist() == ["2026-03"] and march.denominator.tolist() == [1]


def test_intervals_are_kpilib_stats_wilson_and_small_periods_flagged():
    rows = []
    for i in range(40):  # week of 5 October: 40 entrants, 13 convert
        rows.append((f"u{i}", "2026-10-05 10:00", "visit"))
        if i < 13:
            rows.append((f"u{i}", "2026-10-06 10:00", "signup"))
    for i in range(7):  # week of 12 October: 7 entrants, 2 convert
        rows.append((f"v{i}", "2026-10-13 10:00", "visit"))
        if i < 2:
            rows.append((f"v{i}", "2026-10-14 10:00", "signup"))
    rows.append(("z", "2026-11-30", "page_view"))
    t = funnel_trends(_log(rows), ["visit", "signup"], period="W", window="7D")
    assert t.numerator.tolist() == [13, 2] and t.denominator.tolist() == [40, 7]
    low, high = wilson_interval(np.array([13, 2]), np.array([40, 7]))
    np.testing.assert_allclose(t.ci_low, low, rtol=0, atol=1e-12)
    np.testing.assert_allclose(t.ci_high, high, rtol=0, atol=1e-12)
    assert t.small_sample.tolist() == [False, True]


def test_open_windows_and_unfinished_periods_are_not_complete():
    log = _log([
        ("a", "2026-10-01 10:00", "visit"), ("a", "2026-10-02 10:00", "signup"),
        ("b", "2026-10-20 10:00", "visit"),                 # window to 10-27, data end 10-23: open
        ("c", "2026-10-22 10:00", "visit"), ("c", "2026-10-22 11:00", "signup"),  # converted, window open
    ])
    t = funnel_trends(log, ["visit", "signup"], period="W", window="7D")
    # weeks: 09-28 (a), 10-05 and 10-12 (nobody), 10-19 (b, c); the data end on 10-23 (exclusive)
    assert t.period.tolist() == ["2026-09-28/2026-10-04", "2026-10-05/2026-10-11",
                                 "2026-10-12/2026-10-18", "2026-10-19/2026-10-25"]
    assert t.denominator.tolist() == [1, 0, 0, 2] and t.numerator.tolist() == [1, 0, 0, 1]
    assert t.users_window_open.tolist() == [0, 0, 0, 2]
    assert t.period_complete.tolist() == [True, True, True, False]
    assert t.complete.tolist() == [True, True, True, False]
    assert np.isnan(t.rate[1])
    # the same week seen later, once every window has closed
    later = funnel_trends(log, ["visit", "signup"], period="W", window="7D", as_of="2026-11-01")
    assert later.complete.tolist() == [True] * 4
    closed = funnel_trends(log, ["visit", "signup"], period="W", window="7D", complete_only=True)
    assert closed.denominator.tolist() == [1, 0, 0, 0]


def test_each_step_and_breakdown_by_hand():
    log = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "c"],
        "ts": ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-01", "2026-10-02", "2026-10-10"],
        "event": ["visit", "signup", "purchase", "visit", "signup", "visit"],
        "channel": ["social", None, None, "email", None, "social"],
    })
    t = funnel_trends(log, ["visit", "signup", "purchase"], period="M", each_step=True, by="channel",
                      window="14D", as_of="2026-12-01")
    assert t[["channel", "period", "step", "numerator", "denominator"]].values.tolist() == [
        ["email", "2026-10", "signup", 1, 1],
        ["email", "2026-10", "purchase", 0, 1],
        ["social", "2026-10", "signup", 1, 2],
        ["social", "2026-10", "purchase", 1, 2],
    ]


def test_no_entrants_gives_an_empty_frame_and_no_chart():
    log = _log([("a", "2026-10-01", "page_view")])
    t = funnel_trends(log, ["visit", "signup"], period="W")
    assert t.empty and "rate" in t.columns
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_funnel_trends(t)


def test_the_chart_marks_open_periods_and_small_ones():
    log = _log([
        ("a", "2026-10-01 10:00", "visit"), ("a", "2026-10-02 10:00", "signup"),
        ("b", "2026-10-08 10:00", "visit"),
        ("c", "2026-10-20 10:00", "visit"),
    ])
    t = funnel_trends(log, ["visit", "signup"], period="W", window="7D")
    ax = plot_funnel_trends(t)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any("not settled" in label for label in labels)
    assert len(ax.collections) >= 1  # the interval band
    assert "week" in ax.get_xlabel()


@pytest.mark.parametrize(("zone", "period"), [(None, "W"), ("Europe/Berlin", "D"), ("America/New_York", "M"),
                                              ("Asia/Kathmandu", "W")])
def test_the_engine_grouping_matches_pandas_on_a_generated_sample(small_sample, zone, period):
    """The per-user table bucketed in pandas (tz_convert, to_period) gives the same counts."""
    import kpilib
    from kpilib.funnel._steps import funnel, funnel_users

    events = kpilib.load_dataset(small_sample).events
    steps = ["visit", "signup", "purchase"]
    got = funnel_trends(events, steps, period=period, timezone=zone, window="14D", each_step=True)
    users = funnel_users(events, steps, window="14D").to_pandas()
    local = users["step_1_at"].dt.tz_convert(zone or "UTC").dt.tz_localize(None)
    users["period"] = local.dt.to_period({"D": "D", "W": "W-SUN", "M": "M"}[period]).astype(str)
    want = users.groupby("period").agg(entered=("customer_id", "size"), r2=("reached_2", "sum"),
                                       r3=("reached_3", "sum"), open=("window_open", "sum"))
    seen = got[got.denominator > 0]
    for k, column in ((2, "r2"), (3, "r3")):
        rows = seen[seen.step_index == k].set_index("period")
        assert rows.index.tolist() == want.index.tolist()
        assert (rows.denominator == want.entered).all() and (rows.numerator == want[column]).all()
        assert (rows.users_window_open == want.open).all()
    # every period between the first and the last entry is listed, and the totals are the funnel's
    assert got[got.step_index == 3].period.is_unique
    whole = funnel(events, steps, window="14D")
    assert got[got.step_index == 3].numerator.sum() == whole.users.iloc[-1]
    assert got[got.step_index == 3].denominator.sum() == whole.entered.iloc[0]


def test_the_chart_draws_unsettled_periods_hollow_and_pools_the_smaller_groups():
    log = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c", "c", "d", "e", "e"],
        "ts": ["2026-10-01", "2026-10-02", "2026-10-01", "2026-10-01", "2026-10-03", "2026-10-01",
               "2026-10-20", "2026-10-21"],
        "event": ["visit", "signup", "visit", "visit", "signup", "visit", "visit", "signup"],
        "channel": ["social", None, "social", "email", None, "search", "social", None],
    })
    t = funnel_trends(log, ["visit", "signup"], period="W", by="channel", window="7D")
    # social: 2 entrants in week 09-28 (1 converts), 1 in week 10-19 (converts, window open)
    # email 1/1 and search 0/1 in week 09-28: pooled as "other (2 more)" = 1/2
    ax = plot_funnel_trends(t, top_n=1)
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert set(lines) == {"social", "other (2 more)"}
    other = lines["other (2 more)"].get_ydata()
    assert other[0] == pytest.approx(0.5)
    points = [c for c in ax.collections if c.get_offsets().shape[0] and c.get_facecolors().shape[0] > 1]
    social = [c for c in points if c.get_offsets().shape[0] == 4][0]  # weeks 09-28 … 10-19
    faces = social.get_facecolors()
    assert tuple(faces[-1][:3]) == (1.0, 1.0, 1.0)  # the open week is hollow
    assert tuple(faces[0][:3]) != (1.0, 1.0, 1.0)
