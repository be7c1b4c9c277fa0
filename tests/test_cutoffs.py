"""Default cut-offs in every domain include the whole last day of the data (issue #11).

Most exports are date-only: every time is a midnight. The default ``as_of`` is
:func:`kpilib.periods.default_cutoff` of the latest timestamp — the first instant of the
next day — and cut-offs compare exclusively, so a row at 00:00 of the last day and one at
23:59:59 are both inside. Churn, cohort retention, time to value and the health score are
tested in their own modules; this file covers the funnel, marketing and CLV defaults.
"""

from __future__ import annotations

import pandas as pd
import pytest

from kpilib import clv, funnel, marketing
from kpilib.periods import default_cutoff

LAST_DAY = "2026-09-30"


def test_the_cutoff_is_the_start_of_the_next_day_for_both_ends_of_the_last_day():
    assert default_cutoff(f"{LAST_DAY} 00:00") == default_cutoff(f"{LAST_DAY} 23:59:59")
    assert default_cutoff(LAST_DAY) == pd.Timestamp("2026-10-01", tz="UTC")


def test_funnel_windows_that_end_inside_the_last_day_are_closed():
    """Date-only events running through 30 September: a 36-hour window from 29 September
    ends at noon on the 30th, which the data cover — closed, not open."""
    events = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c"],
        "ts": ["2026-09-29 00:00:00", f"{LAST_DAY} 00:00:00", "2026-09-29 00:00:00", f"{LAST_DAY} 00:00:00"],
        "event": ["visit", "signup", "visit", "visit"],
    })
    table = funnel.funnel(events, ["visit", "signup"], window="36h")
    assert table.users.tolist() == [3, 1]
    assert table.users_window_open.tolist() == [1, 0]  # only c, who entered on the last day
    closed = funnel.funnel(events, ["visit", "signup"], window="36h", complete_only=True)
    assert closed.users.tolist() == [2, 1]
    # an explicit as_of is exclusive too: the signup at exactly as_of is not data yet
    early = funnel.funnel(events, ["visit", "signup"], window="36h", as_of=f"{LAST_DAY} 00:00")
    assert early.users.tolist() == [2, 0]


def test_traffic_to_lead_windows_inside_the_last_day_are_closed():
    events = pd.DataFrame({"customer_id": ["a", "b", "b"],
                           "ts": ["2026-09-29 00:00:00", "2026-09-29 00:00:00", f"{LAST_DAY} 23:59:59"],
                           "event": ["visit", "visit", "lead"], "channel": ["email", "email", None]})
    out = marketing.traffic_to_lead(events, None, window="2D").set_index("channel")
    assert (out.loc["all", "numerator"], out.loc["all", "denominator"]) == (1, 2)
    assert out.loc["all", "visitors_window_open"] == 0  # windows end at 1 October 00:00


@pytest.mark.parametrize("clock", ["00:00:00", "23:59:59"])
def test_marketing_revenue_and_exposure_run_through_the_last_day(clock):
    spend = pd.DataFrame({"date": ["2026-09-01"], "channel": ["email"], "cost": [100.0]})
    customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": ["2026-09-01 00:00:00", f"{LAST_DAY} 00:00:00"],
                              "channel": ["email", "email"]})
    orders = pd.DataFrame({"customer_id": ["a", "b"], "ts": [f"{LAST_DAY} {clock}", f"{LAST_DAY} {clock}"],
                           "amount": [40.5, 59.5]})
    costs = marketing.acquisition_costs(spend, customers, orders, "M").set_index(["period", "channel"])
    row = costs.loc[("2026-09", "email")]
    assert row.revenue == 100.0
    # exposure through the end of 30 September, in calendar months: all of September for a,
    # one whole day of a 30-day month for b
    assert row.customer_months == pytest.approx(1 + 1 / 30)


@pytest.mark.parametrize("clock", ["00:00:00", "23:59:59"])
def test_clv_summaries_keep_orders_of_the_last_day(clock):
    """CLV follows lifetimes: the observation end is the latest order's day, inclusive."""
    orders = pd.DataFrame({"customer_id": ["a", "a", "a"],
                           "ts": ["2026-09-01 10:00:00", "2026-09-15 10:00:00", f"{LAST_DAY} {clock}"],
                           "amount": [10.0, 20.0, 30.5]})
    summary = clv.rfm_summary(orders, monetary_value_col="amount")
    assert summary.loc["a", ["frequency", "recency", "T"]].tolist() == [2.0, 29.0, 29.0]
    assert summary.loc["a", "monetary_value"] == pytest.approx(25.25)
