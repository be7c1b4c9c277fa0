"""Marketing economics and attribution: hand-computed examples, identities and the generator's truth."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

import kpilib
from kpilib import funnel
from kpilib import marketing as mk
from kpilib.data import DataError
from kpilib.metrics import all_metrics, get

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sample():
    return kpilib.load_dataset(None)


@pytest.fixture(scope="module")
def truth():
    return json.loads((kpilib.data.SAMPLE_DIR / "truth.json").read_text())


@pytest.fixture(scope="module")
def small():
    tables, truth = kpilib.synth.generate_sample(customers=400, seed=5)
    return tables, truth


def _spend(rows):
    return pd.DataFrame(rows, columns=["date", "channel", "cost"])


def _customers(rows):
    return pd.DataFrame(rows, columns=["customer_id", "signup_at", "channel"])


def _orders(rows):
    return pd.DataFrame(rows, columns=["customer_id", "ts", "amount"])


def _touches(rows):
    return pd.DataFrame(rows, columns=["customer_id", "ts", "channel"])


# --------------------------------------------------------------------------- the registry


def test_metrics_are_registered_once_and_tied_to_code():
    names = [m.name for m in all_metrics()]
    ours = ["cac", "cost_per_acquisition", "roas", "marketing_roi", "payback_months", "clv_to_cac",
            "marketing_influenced_revenue", "traffic_to_lead_ratio", "attribution_first_touch",
            "attribution_last_touch", "attribution_linear", "attribution_time_decay",
            "attribution_position_based", "attribution_markov"]
    for name in ours:
        assert names.count(name) == 1
        assert any(path.startswith("kpilib.marketing.") for path in get(name).computed_by)
    # cost per MQL stays the funnel's; it is reused, not registered again
    assert get("cost_per_mql").computed_by == ["kpilib.funnel.cost_per_mql"]


# --------------------------------------------------------------------------- CAC, CPA, cost per MQL


def test_cac_by_channel_and_month_by_hand():
    spend = _spend([("2026-09-30", "paid", 100.0), ("2026-10-01", "paid", 200.0), ("2026-10-02", "paid", 100.0),
                    ("2026-10-05", "social", 80.0)])
    customers = _customers([("a", "2026-09-30 23:00", "paid"), ("b", "2026-10-01", "paid"),
                            ("c", "2026-10-20", "paid"), ("d", "2026-10-03", "organic")])
    c = mk.acquisition_costs(spend, customers).set_index(["period", "channel"])
    assert c.loc[("2026-09", "paid"), "cac"] == 100.0
    assert c.loc[("2026-10", "paid"), "cac"] == 150.0  # 300 / 2
    assert c.loc[("2026-10", "organic"), "cac"] == 0.0  # free customers cost nothing: defined, zero
    assert c.loc[("2026-10", "all"), "cac"] == pytest.approx(380 / 3)  # blended includes free channels
    assert c.loc[("2026-10", "all"), "spend"] == 380.0
    assert c.loc[("2026-09", "all"), "new_customers"] == 1


def test_cac_of_a_channel_with_spend_and_no_customers_is_undefined_not_infinite_or_zero():
    spend = _spend([("2026-10-01", "social", 500.0), ("2026-10-01", "paid", 100.0)])
    customers = _customers([("a", "2026-10-02", "paid")])
    c = mk.acquisition_costs(spend, customers, period=None).set_index("channel")
    social = c.loc["social"]
    assert np.isnan(social.cac) and not np.isinf(social.cac)
    assert social.new_customers == 0 and social.spend == 500.0
    assert "CAC undefined: spend but no new customers" in social.note
    assert c.loc["paid", "note"] == ""
    assert c.loc["all", "cac"] == 600.0  # blended: all spend / all new customers


def test_cpa_counts_the_chosen_conversion_event_per_acquisition_channel():
    spend = _spend([("2026-10-01", "paid", 300.0), ("2026-10-01", "email", 40.0)])
    customers = _customers([("a", "2026-10-01", "paid"), ("b", "2026-10-01", "paid"), ("c", "2026-10-01", "email")])
    events = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "x"],
                           "ts": ["2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-05"],
                           "event": ["lead", "purchase", "lead", "visit", "lead"]})
    c = mk.acquisition_costs(spend, customers, events=events, conversion_event="lead", period=None)
    c = c.set_index("channel")
    assert c.loc["paid", "conversions"] == 2 and c.loc["paid", "cpa"] == 150.0
    assert np.isnan(c.loc["email", "cpa"]) and "CPA undefined" in c.loc["email", "note"]
    assert c.loc["all", "conversions"] == 2  # "x" is not a customer: no acquisition channel


def test_without_events_a_conversion_is_a_first_order():
    spend = _spend([("2026-10-01", "paid", 300.0)])
    customers = _customers([("a", "2026-10-01", "paid"), ("b", "2026-10-01", "paid")])
    orders = _orders([("a", "2026-10-02", 10.0), ("a", "2026-10-09", 10.0), ("b", "2026-11-02", 10.0)])
    c = mk.acquisition_costs(spend, customers, orders).set_index(["period", "channel"])
    assert c.loc[("2026-10", "paid"), "conversions"] == 1  # a's second order is not a new conversion
    assert c.loc[("2026-10", "paid"), "cpa"] == 300.0
    assert c.loc[("2026-11", "paid"), "conversions"] == 1


def test_cost_per_mql_is_the_funnels_per_channel():
    spend = _spend([("2026-10-01", "paid", 300.0), ("2026-10-01", "email", 40.0), ("2026-09-01", "email", 10.0)])
    customers = _customers([("a", "2026-09-01", "paid"), ("b", "2026-10-01", "paid"), ("c", "2026-10-01", "email")])
    events = pd.DataFrame({"customer_id": ["a", "b", "c", "a"],
                           "ts": ["2026-10-02", "2026-10-04", "2026-10-05", "2026-09-05"],
                           "event": ["mql", "mql", "mql", "visit"]})
    c = mk.acquisition_costs(spend, customers, events=events).set_index(["period", "channel"])
    assert c.loc[("2026-10", "paid"), "mqls"] == 2 and c.loc[("2026-10", "paid"), "cost_per_mql"] == 150.0
    assert c.loc[("2026-10", "email"), "cost_per_mql"] == 40.0
    assert np.isnan(c.loc[("2026-09", "email"), "cost_per_mql"])
    blended = mk.acquisition_costs(spend, customers, events=events, by=None).set_index("period")
    reference = funnel.cost_per_mql(events, spend).set_index("month")
    for month in ("2026-09", "2026-10"):
        assert blended.loc[month, "mqls"] == reference.loc[month, "mql_count"]
        assert blended.loc[month, "cost_per_mql"] == pytest.approx(reference.loc[month, "cost_per_mql"],
                                                                   nan_ok=True)


def test_mql_options_object_and_the_old_dict_give_the_same_mqls():
    spend = _spend([("2026-10-01", "paid", 120.0)])
    customers = _customers([("a", "2026-10-01", "paid"), ("b", "2026-10-01", "paid"), ("c", "2026-10-01", "paid")])
    # no mql events: MQLs come from the score. By hand with 10 points a visit, threshold 20:
    # a (lead + 2 visits) crosses in October, b (lead + 1 visit) does not, c is never a lead
    events = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b", "c", "c"],
                           "ts": ["2026-10-02", "2026-10-03", "2026-10-04", "2026-10-02", "2026-10-03",
                                  "2026-10-02", "2026-10-03"],
                           "event": ["lead", "visit", "visit", "lead", "visit", "visit", "visit"]})
    options = funnel.MQLOptions(method="score", behaviour_points={"visit": 10}, threshold=20)
    new = mk.acquisition_costs(spend, customers, events=events, period=None).set_index("channel")
    assert new.loc["paid", "mqls"] == 0  # the default points (1 a visit, 40 to qualify) make none
    new = mk.acquisition_costs(spend, customers, events=events, period=None, mql=options).set_index("channel")
    assert new.loc["paid", "mqls"] == 1 and new.loc["paid", "cost_per_mql"] == 120.0
    old_keywords = {"method": "score", "behaviour_points": {"visit": 10}, "threshold": 20}
    with pytest.warns(FutureWarning, match=r"acquisition_costs\(mql_options=...\) is deprecated.*use mql="):
        old = mk.acquisition_costs(spend, customers, events=events, period=None,
                                   mql_options=old_keywords).set_index("channel")
    pd.testing.assert_frame_equal(old, new)
    with pytest.raises(TypeError, match="both"):
        mk.acquisition_costs(spend, customers, events=events, mql=options, mql_options=old_keywords)


def test_the_mql_keyword_passes_no_deprecated_funnel_keywords(recwarn):
    spend = _spend([("2026-10-01", "paid", 10.0)])
    customers = _customers([("a", "2026-10-01", "paid")])
    events = pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-02"], "event": ["mql"]})
    mk.acquisition_costs(spend, customers, events=events, mql=funnel.MQLOptions(threshold=30))
    mk.acquisition_costs(spend, customers, events=events)
    assert not [w for w in recwarn if issubclass(w.category, FutureWarning)]


# --------------------------------------------------------------------------- revenue, ROAS, ROI, payback


def test_cohort_revenue_roas_roi_and_payback_by_hand():
    spend = _spend([("2026-01-01", "paid", 400.0)])
    customers = _customers([("a", "2026-01-01", "paid"), ("b", "2026-01-01", "paid")])
    # a: 100 + 200 inside 2 months of sign-up; 900 after the horizon is not counted
    orders = _orders([("a", "2026-01-05", 100.0), ("a", "2026-02-20", 200.0), ("a", "2026-05-01", 900.0),
                      ("b", "2026-01-10", 60.0)])
    c = mk.acquisition_costs(spend, customers, orders, period=None, revenue_months=2, gross_margin=0.5,
                             as_of="2026-12-31").set_index("channel")
    paid = c.loc["paid"]
    assert paid.revenue == 360.0
    assert paid.roas == pytest.approx(0.9)
    assert paid.roi == pytest.approx((360 - 400) / 400)
    assert paid.customer_months == pytest.approx(4.0)  # 2 customers × 2 months, all observed
    assert paid.revenue_per_customer_month == pytest.approx(90.0)
    assert paid.payback_months == pytest.approx(200 / (0.5 * 90))  # CAC 200 over 45 of margin a month
    assert bool(paid.revenue_complete)


def test_recent_cohorts_are_flagged_incomplete_and_exposure_stops_at_as_of():
    spend = _spend([("2026-10-01", "paid", 100.0)])
    customers = _customers([("a", "2026-10-01", "paid")])
    orders = _orders([("a", "2026-10-02", 50.0)])
    c = mk.acquisition_costs(spend, customers, orders, period=None, revenue_months=12,
                             as_of="2026-10-31").set_index("channel")
    assert not bool(c.loc["paid", "revenue_complete"])
    # calendar months: 30 of October's 31 days (1 October to the cut-off, 31 October 00:00)
    assert c.loc["paid", "customer_months"] == pytest.approx(30 / 31)


def test_the_revenue_horizon_and_exposure_are_calendar_months_at_a_leap_month_end():
    """A customer from 2024-01-31 with a one-month horizon: it ends on 2024-02-29 (exclusive),
    as months_between counts tenure; 30.4375 days would have run to 1 March 10:30."""
    spend = _spend([("2024-01-31", "paid", 100.0)])
    customers = _customers([("a", "2024-01-31", "paid")])
    orders = _orders([("a", "2024-02-28 23:59:59", 30.0), ("a", "2024-02-29", 500.0), ("a", "2024-03-01", 700.0)])
    late = mk.acquisition_costs(spend, customers, orders, period=None, by=None, revenue_months=1,
                                as_of="2024-06-01").iloc[0]
    assert late.revenue == 30.0  # the order on the anniversary is outside the horizon
    assert late.customer_months == 1.0 and bool(late.revenue_complete)
    assert late.revenue_per_customer_month == 30.0
    # to 15 February: 15 of the 29 days from 31 January to 29 February
    early = mk.acquisition_costs(spend, customers, orders, period=None, by=None, revenue_months=1,
                                 as_of="2024-02-15").iloc[0]
    assert early.customer_months == pytest.approx(15 / 29) and not bool(early.revenue_complete)
    on_the_day = mk.acquisition_costs(spend, customers, orders, period=None, by=None, revenue_months=1,
                                      as_of="2024-02-29").iloc[0]
    assert on_the_day.customer_months == 1.0 and bool(on_the_day.revenue_complete)
    # period basis: January holds 1 of the 29 days of the customer's first month, February the other 28
    months = mk.acquisition_costs(spend, customers, orders, period="M", by=None, revenue_months=1,
                                  revenue_basis="period", start="2024-01-01", end="2024-04-01",
                                  as_of="2024-06-01").set_index("period")
    assert months.customer_months.tolist() == pytest.approx([1 / 29, 28 / 29, 0.0])
    assert months.revenue.tolist() == [0.0, 30.0, 0.0]


def test_period_basis_counts_orders_of_the_period_from_recent_customers():
    spend = _spend([("2026-10-01", "paid", 100.0)])
    customers = _customers([("old", "2024-01-01", "paid"), ("a", "2026-08-01", "paid"), ("b", "2026-10-01", "paid")])
    orders = _orders([("old", "2026-10-03", 1000.0), ("a", "2026-10-03", 30.0), ("b", "2026-10-05", 20.0),
                      ("a", "2026-09-03", 99.0)])
    c = mk.acquisition_costs(spend, customers, orders, by=None, revenue_basis="period", revenue_months=12,
                             start="2026-10-01", end="2026-11-01", as_of="2026-11-01")
    row = c.iloc[0]
    assert row.revenue == 50.0  # "old" is past the 12-month horizon, September is another period
    assert row.roas == 0.5
    # exposure in October: a the whole month, b from Oct 1 too: 2 whole calendar months
    assert row.customer_months == pytest.approx(2.0)
    assert bool(row.revenue_complete)


def test_roas_and_roi_without_spend_are_undefined():
    customers = _customers([("a", "2026-10-01", "organic")])
    orders = _orders([("a", "2026-10-02", 50.0)])
    spend = _spend([("2026-10-01", "organic", 0.0)])
    row = mk.acquisition_costs(spend, customers, orders, period=None, by=None).iloc[0]
    assert np.isnan(row.roas) and np.isnan(row.roi)
    assert row.cac == 0.0 and row.payback_months == 0.0
    assert "ROAS and ROI undefined: no spend" in row.note


def test_clv_to_cac_counts_customers_without_a_prediction_as_zero():
    spend = _spend([("2026-10-01", "paid", 90.0), ("2026-10-01", "organic", 0.0)])
    customers = _customers([("a", "2026-10-01", "paid"), ("b", "2026-10-01", "paid"), ("c", "2026-10-01", "paid"),
                            ("d", "2026-10-01", "organic")])
    clv = pd.DataFrame({"customer_id": ["a", "b", "d"], "value": [120.0, 60.0, 40.0]})
    c = mk.acquisition_costs(spend, customers, clv=clv, clv_column="value", period=None).set_index("channel")
    assert c.loc["paid", "clv_per_customer"] == pytest.approx(60.0)  # (120 + 60 + 0) / 3
    assert c.loc["paid", "clv_to_cac"] == pytest.approx(2.0)  # CAC 30
    assert np.isnan(c.loc["organic", "clv_to_cac"])  # CAC 0: the ratio is undefined
    assert "CLV:CAC undefined: CAC is 0" in c.loc["organic", "note"]
    with pytest.raises(DataError, match="clv"):
        mk.acquisition_costs(spend, customers, clv=clv, period=None)


def test_quarters_years_and_bad_arguments():
    spend = _spend([("2026-02-01", "paid", 10.0), ("2026-05-01", "paid", 20.0)])
    customers = _customers([("a", "2026-03-01", "paid"), ("b", "2026-04-01", "paid")])
    q = mk.acquisition_costs(spend, customers, period="Q", by=None)
    assert q.period.tolist() == ["2026Q1", "2026Q2"] and q.cac.tolist() == [10.0, 20.0]
    assert mk.acquisition_costs(spend, customers, period="Y", by=None).period.tolist() == ["2026"]
    with pytest.raises(DataError, match="campaign"):
        mk.acquisition_costs(spend, customers, by="campaign")
    with pytest.raises(ValueError, match="period"):
        mk.acquisition_costs(spend, customers, period="W")
    with pytest.raises(ValueError, match="gross_margin"):
        mk.acquisition_costs(spend, customers, gross_margin=70)


def test_generator_cac_is_recovered_from_the_sample(sample, truth):
    costs = mk.acquisition_costs(sample.spend, sample.customers, period=None).set_index("channel")
    # the generator scales each channel's total spend to cac × customers acquired through it
    assert truth["marketing"]["cac_definition"].startswith("total spend of the channel")
    for channel, cac in truth["marketing"]["cac"].items():
        assert costs.loc[channel, "cac"] == pytest.approx(cac, abs=0.01)
        assert costs.loc[channel, "new_customers"] == truth["realized"]["customers_by_channel"][channel]
    monthly = mk.acquisition_costs(sample.spend, sample.customers).query("channel != 'all'")
    median = monthly.groupby("channel")["cac"].median()
    for channel, cac in truth["marketing"]["cac"].items():
        assert median[channel] == pytest.approx(cac, rel=0.2)


def test_generator_cac_is_recovered_on_a_generated_sample(small):
    tables, truth = small
    costs = mk.acquisition_costs(tables["spend"], tables["customers"], period=None).set_index("channel")
    for channel, cac in truth["marketing"]["cac"].items():
        assert costs.loc[channel, "cac"] == pytest.approx(cac, abs=0.01)


# --------------------------------------------------------------------------- traffic and influence


def test_traffic_to_lead_by_hand():
    events = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "c", "d", "d"],
        "ts": ["2026-10-01", "2026-10-03", "2026-10-10", "2026-10-02", "2026-11-20", "2026-10-30", "2026-09-01",
               "2026-10-05"],
        "event": ["visit", "visit", "lead", "visit", "lead", "visit", "visit", "visit"],
        "channel": ["social", "email", None, "social", None, "email", "email", "social"],
    })
    r = mk.traffic_to_lead(events, window="30D").set_index(["period", "channel"])
    # October: new visitors a (social, lead after 9 days), b (social, lead after 49 days), c (email)
    assert r.loc[("2026-10", "social"), ["numerator", "denominator"]].tolist() == [1, 2]
    assert r.loc[("2026-10", "social"), "visits"] == 3  # a, b and d's second visit
    assert r.loc[("2026-10", "email"), ["numerator", "denominator"]].tolist() == [0, 1]
    assert r.loc[("2026-09", "email"), "denominator"] == 1  # d entered in September
    assert r.loc[("2026-10", "all"), "denominator"] == 3
    assert r.loc[("2026-10", "all"), "visitors_window_open"] == 1  # c's window runs past the last event
    low, high = r.loc[("2026-10", "social"), ["ci_low", "ci_high"]]
    assert low < 0.5 < high and bool(r.loc[("2026-10", "social"), "small_sample"])


def test_traffic_to_lead_recovers_the_generator_funnel(sample, truth):
    # new visitors far enough from the end of the data to have had their whole window
    rates = mk.traffic_to_lead(sample.events, None, end="2026-09-01").set_index("channel")
    steps = truth["funnel"]["step_probability"]
    for channel, p in steps.items():
        expected = p["signup"] * p["lead"]
        row = rates.loc[channel]
        se = np.sqrt(expected * (1 - expected) / row.denominator)
        assert abs(row.rate - expected) < 4 * se, channel


def test_marketing_influenced_revenue_by_hand():
    orders = _orders([("a", "2026-10-10", 100.0), ("b", "2026-10-20", 50.0), ("c", "2026-10-25", 30.0),
                      ("d", "2026-11-02", 20.0)])
    events = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d"],
        "ts": ["2026-09-15", "2026-09-01", "2026-10-24", "2026-11-02"],
        "event": ["visit"] * 4,
        "channel": ["social", "paid_search", "organic", "email"],
    })
    m = mk.marketing_influenced_revenue(orders, events, window="30D").set_index("period")
    oct_ = m.loc["2026-10"]
    # a's social visit is 25 days before (in), b's paid visit 49 days before (out), c's is organic (not marketing)
    assert oct_.revenue == 180.0 and oct_.influenced_revenue == 100.0
    assert oct_.influenced_revenue_share == pytest.approx(100 / 180)
    assert (oct_.numerator, oct_.denominator) == (1, 3)
    assert m.loc["2026-11", "influenced_revenue_share"] == 1.0  # a touch at the order instant counts
    wider = mk.marketing_influenced_revenue(orders, events, window="60D").set_index("period")
    assert wider.loc["2026-10", "influenced_revenue"] == 150.0


# --------------------------------------------------------------------------- attribution


_LENGTHS = (1, 2, 3, 5)


def _journey(n: int, days_before: list[int]):
    converted = pd.Timestamp("2026-10-31")
    touches = _touches([("u", converted - pd.Timedelta(days=d), f"p{k + 1}") for k, d in enumerate(days_before)])
    return touches, _orders([("u", converted, 100.0)])


@pytest.mark.parametrize("n", _LENGTHS)
def test_position_based_weights_by_hand(n):
    expected = {1: [1.0], 2: [0.5, 0.5], 3: [0.4, 0.2, 0.4], 5: [0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.4]}[n]
    touches, orders = _journey(n, list(range(n, 0, -1)))
    credit = mk.attribute(touches, orders, "position_based").set_index("channel")
    for k, weight in enumerate(expected, start=1):
        assert credit.loc[f"p{k}", "conversions"] == pytest.approx(weight)
        assert credit.loc[f"p{k}", "revenue"] == pytest.approx(100 * weight)


@pytest.mark.parametrize("n", _LENGTHS)
def test_time_decay_weights_by_hand(n):
    # touches 7 days apart with a 7-day half-life: weights 1, 1/2, 1/4 … from the last touch backwards
    expected = {1: [Fraction(1)], 2: [Fraction(1, 3), Fraction(2, 3)],
                3: [Fraction(1, 7), Fraction(2, 7), Fraction(4, 7)],
                5: [Fraction(k, 31) for k in (1, 2, 4, 8, 16)]}[n]
    touches, orders = _journey(n, [7 * (n - 1 - k) for k in range(n)])
    credit = mk.attribute(touches, orders, "time_decay", half_life="7D").set_index("channel")
    for k, weight in enumerate(expected, start=1):
        assert credit.loc[f"p{k}", "conversions"] == pytest.approx(float(weight))
    halved = mk.attribute(touches, orders, "time_decay", half_life="14D").set_index("channel")
    if n == 2:  # a 14-day half-life: 7 days back weighs 2^-1/2
        assert halved.loc["p1", "conversions"] == pytest.approx(2**-0.5 / (1 + 2**-0.5))


def test_touch_weights_rules_directly():
    j = pd.DataFrame({"conversion_id": [1, 1, 1, 2], "position": [1, 2, 3, 1], "touches": [3, 3, 3, 1],
                      "channel": ["social", "email", "direct", "direct"], "days_before": [2.0, 1.0, 0.0, 0.0]})
    assert mk.touch_weights(j, "first_touch").tolist() == [1, 0, 0, 1]
    assert mk.touch_weights(j, "last_touch").tolist() == [0, 0, 1, 1]
    assert mk.touch_weights(j, "last_non_direct").tolist() == [0, 1, 0, 1]  # only direct: it keeps the credit
    assert mk.touch_weights(j, "linear") == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1])


def test_markov_removal_effect_of_a_three_channel_example_by_hand():
    # paths: A→B→conv, A→null, B→C→conv, C→null
    paths = pd.DataFrame({
        "path": [1, 1, 2, 3, 3, 4],
        "position": [1, 2, 1, 1, 2, 1],
        "channel": ["A", "B", "A", "B", "C", "C"],
        "converted": [True, True, False, True, True, False],
    })
    # transitions: start→A 1/2, start→B 1/4, start→C 1/4; A→B 1/2, A→null 1/2;
    # B→conv 1/2, B→C 1/2; C→conv 1/2, C→null 1/2.
    # P(conv|C) = 1/2, P(conv|B) = 1/2 + 1/2·1/2 = 3/4, P(conv|A) = 1/2·3/4 = 3/8,
    # P(conv) = 1/2·3/8 + 1/4·3/4 + 1/4·1/2 = 1/2.
    # Without A: 1/4·3/4 + 1/4·1/2 = 5/16 → RE 3/8. Without B: P(A) = 0, 1/4·1/2 = 1/8 → RE 3/4.
    # Without C: P(B) = 1/2, P(A) = 1/4, 1/2·1/4 + 1/4·1/2 = 1/4 → RE 1/2. Shares 3/13, 6/13, 4/13.
    effects = mk.markov_removal_effects(paths).set_index("channel")
    assert effects.attrs["conversion_probability"] == pytest.approx(0.5)
    assert effects["conversion_probability_without"].tolist() == pytest.approx([5 / 16, 1 / 8, 1 / 4])
    assert effects["removal_effect"].tolist() == pytest.approx([3 / 8, 3 / 4, 1 / 2])
    assert effects["share"].tolist() == pytest.approx([3 / 13, 6 / 13, 4 / 13])

    # the same journeys as data: two conversions, two customers who never convert
    touches = _touches([("u1", "2026-10-01", "A"), ("u1", "2026-10-02", "B"), ("u2", "2026-10-01", "A"),
                        ("u3", "2026-10-01", "B"), ("u3", "2026-10-02", "C"), ("u4", "2026-10-03", "C")])
    orders = _orders([("u1", "2026-10-03", 130.0), ("u3", "2026-10-04", 0.0)])
    credit = mk.attribute(touches, orders, "markov").set_index("channel")
    assert credit["conversions"].tolist() == pytest.approx([6 / 13, 12 / 13, 8 / 13])
    assert credit["revenue"].tolist() == pytest.approx([30.0, 60.0, 40.0])


def test_markov_self_loops_do_not_change_removal_effects():
    base = pd.DataFrame({"path": [1, 1, 2], "position": [1, 2, 1], "channel": ["A", "B", "B"],
                         "converted": [True, True, False]})
    looped = pd.DataFrame({"path": [1, 1, 1, 2], "position": [1, 2, 3, 1], "channel": ["A", "A", "B", "B"],
                           "converted": [True, True, True, False]})
    assert mk.markov_removal_effects(base)["share"].tolist() == pytest.approx(
        mk.markov_removal_effects(looped)["share"].tolist())


def test_journeys_respect_the_lookback_and_the_previous_conversion():
    touches = _touches([("a", "2026-08-01", "social"), ("a", "2026-09-20", "email"), ("a", "2026-10-05", "paid"),
                        ("a", "2026-10-20", "email"), ("b", "2026-10-01", "social")])
    orders = _orders([("a", "2026-10-01", 10.0), ("a", "2026-10-25", 20.0), ("c", "2026-10-25", 5.0)])
    j = mk.attribution_journeys(touches, orders, lookback="30D").execute().sort_values(["conversion_id", "position"])
    first = j[j.converted_at == pd.Timestamp("2026-10-01", tz="UTC")]
    assert first[first.customer_id == "a"].channel.tolist() == ["email"]  # social is 61 days back
    second = j[(j.customer_id == "a") & (j.converted_at == pd.Timestamp("2026-10-25", tz="UTC"))]
    assert second.channel.tolist() == ["paid", "email"]  # the September email belongs to the first order
    assert second.touches.tolist() == [2, 2] and second.days_before.tolist() == [20.0, 5.0]
    idle = mk.non_converting_journeys(touches, orders).execute()
    assert idle.customer_id.tolist() == ["b"]  # a converted after their last touch
    credit = mk.attribute(touches, orders, "last_touch").set_index("channel")
    assert credit.loc[mk.NO_TOUCH, "conversions"] == 1.0 and credit.loc[mk.NO_TOUCH, "revenue"] == 5.0
    assert credit.loc["email", "conversions"] == 2.0


def test_every_model_credits_exactly_the_conversions_and_their_revenue(small):
    tables, _ = small
    touches = mk.marketing_touchpoints(tables["events"], tables["email"])
    for conversions in (tables["orders"], mk.first_orders(tables["orders"])):
        n = int(conversions.count().execute()) if hasattr(conversions, "execute") else len(conversions)
        revenue = float(conversions.amount.sum().execute()) if hasattr(conversions, "execute") else \
            float(conversions.amount.sum())
        credit = mk.attribute(touches, conversions, list(mk.ATTRIBUTION_MODELS), lookback="30D")
        totals = credit.groupby("model")[["conversions", "revenue"]].sum()
        assert list(credit.model.unique()) == list(mk.ATTRIBUTION_MODELS)
        assert totals["conversions"].to_numpy() == pytest.approx(np.full(len(totals), n))
        assert totals["revenue"].to_numpy() == pytest.approx(np.full(len(totals), revenue))
        assert (credit["conversions"] >= -1e-12).all()
        shares = credit.groupby("model")["conversion_share"].sum()
        assert shares.to_numpy() == pytest.approx(np.ones(len(shares)))


def test_last_touch_over_credits_the_closing_channel():
    # everyone discovers through social and closes through email; half of the social visitors never return
    rows, orders = [], []
    for i in range(10):
        rows.append((f"u{i}", "2026-10-01", "social"))
        if i < 5:
            rows.append((f"u{i}", "2026-10-05", "email"))
            orders.append((f"u{i}", "2026-10-06", 10.0))
    credit = mk.attribute(_touches(rows), _orders(orders), ["last_touch", "markov"])
    table = credit.pivot(index="channel", columns="model", values="conversions")
    assert table.loc["email", "last_touch"] == 5.0 and table.loc["social", "last_touch"] == 0.0
    # both channels are on every converting path: removing either loses everything
    assert table.loc["social", "markov"] == pytest.approx(2.5)


def test_attribution_arguments_are_checked():
    touches = _touches([("a", "2026-10-01", "social")])
    orders = _orders([("a", "2026-10-02", 1.0)])
    with pytest.raises(ValueError, match="unknown attribution model"):
        mk.attribute(touches, orders, "u_shaped")
    with pytest.raises(DataError, match="channel"):
        mk.attribute(touches.drop(columns="channel"), orders)
    with pytest.raises(ValueError, match="lookback"):
        mk.attribute(touches, orders, lookback="soon")


def test_attributed_return_by_model():
    touches = _touches([("a", "2026-10-01", "social"), ("a", "2026-10-05", "email")])
    orders = _orders([("a", "2026-10-06", 300.0)])
    credit = mk.attribute(touches, orders, ["first_touch", "last_touch"])
    spend = _spend([("2026-10-01", "social", 100.0), ("2026-10-01", "email", 100.0)])
    r = mk.attributed_return(credit, spend).set_index(["model", "channel"])
    assert r.loc[("first_touch", "social"), "roas"] == 3.0
    assert r.loc[("first_touch", "email"), "roi"] == -1.0
    assert r.loc[("last_touch", "email"), "cost_per_conversion"] == 100.0
    assert np.isnan(r.loc[("last_touch", "social"), "cost_per_conversion"])


# The sample's credit for the report's attribution cell (orders, 30-day lookback, 7-day
# half-life, 2025-11 to 2026-10), as the pandas implementation computed it before the
# weights and the Markov counts moved into the engine (channels in the output's order).
_SAMPLE_CHANNELS = ["email", "organic", "paid_search", "referral", "social", mk.NO_TOUCH]
_SAMPLE_CONVERSIONS = {
    "first_touch": (128.0, 149.0, 94.0, 153.0, 34.0, 1109.0),
    "last_touch": (124.0, 141.0, 106.0, 120.0, 67.0, 1109.0),
    "last_non_direct": (124.0, 141.0, 106.0, 120.0, 67.0, 1109.0),
    "linear": (128.73333333333332, 145.86666666666667, 100.11666666666666, 135.11666666666667, 48.166666666666664,
               1109.0),
    "time_decay": (127.27786186483608, 144.43281102894898, 102.2475236654538, 132.1731096203174, 51.86869382044373,
                   1109.0),
    "position_based": (127.46666666666667, 145.6, 100.16666666666667, 135.56666666666666, 49.2, 1109.0),
    "markov": (117.11346999561567, 140.4921615583389, 114.30103437633376, 111.93702707155774, 74.15630699815392,
               1109.0),
}
_SAMPLE_REVENUE = {
    "first_touch": (13470.64, 15018.33, 9005.62, 12939.47, 3941.91, 103879.36),
    "last_touch": (13786.19, 14126.97, 8945.61, 10353.45, 7163.75, 103879.36),
    "last_non_direct": (13786.19, 14126.97, 8945.61, 10353.45, 7163.75, 103879.36),
    "linear": (13749.342666666667, 14585.536333333333, 9107.7955, 11572.254666666666, 5361.0408333333335,
               103879.36),
    "time_decay": (13780.841807270019, 14354.824303886156, 9156.703818974422, 11336.130172644587, 5747.469897224817,
                   103879.36),
    "position_based": (13693.903666666667, 14580.514, 9058.296666666667, 11592.138666666666, 5451.117, 103879.36),
    "markov": (11412.470485801969, 13690.676634644065, 11138.404330137086, 10908.036605613283, 7226.381943803599,
               103879.36),
}


def test_attribution_of_the_sample_is_what_the_pandas_implementation_gave(sample):
    touches = mk.marketing_touchpoints(sample.events, sample.email)
    credit = mk.attribute(touches, sample.orders, list(mk.ATTRIBUTION_MODELS), start="2025-11", end="2026-11")
    assert credit["model"].tolist() == [m for m in mk.ATTRIBUTION_MODELS for _ in _SAMPLE_CHANNELS]
    assert credit["channel"].tolist() == _SAMPLE_CHANNELS * len(mk.ATTRIBUTION_MODELS)
    for name, group in credit.groupby("model", sort=False):
        np.testing.assert_allclose(group["conversions"], _SAMPLE_CONVERSIONS[name], rtol=1e-9, atol=0)
        np.testing.assert_allclose(group["revenue"], _SAMPLE_REVENUE[name], rtol=1e-9, atol=0)
        np.testing.assert_allclose(group["conversion_share"], np.array(_SAMPLE_CONVERSIONS[name]) / 1667, rtol=1e-9)
    again = mk.attribute(touches, sample.orders, list(mk.ATTRIBUTION_MODELS), start="2025-11", end="2026-11")
    pd.testing.assert_frame_equal(credit, again, check_exact=True)  # the same bits in every run


def test_attribution_of_tied_repeated_and_missing_touches_by_hand():
    day = pd.Timedelta(days=1)
    t0 = pd.Timestamp("2026-10-20 12:00")
    touches = _touches([
        # u1: two touches at the same instant; ties go in channel order, so email is first
        ("u1", t0 - 2 * day, "social"), ("u1", t0 - 2 * day, "email"),
        # u2: social, email, social, social (the last at the conversion instant), one day apart
        ("u2", t0 - 3 * day, "social"), ("u2", t0 - 2 * day, "email"), ("u2", t0 - day, "social"),
        ("u2", t0, "social"),
        # u3: one touch; u4: a touch 31 days back, outside the lookback; u5: only direct touches
        ("u3", t0 - day, "paid"), ("u4", t0 - 31 * day, "paid"), ("u5", t0 - 2 * day, "direct"),
        ("u5", t0 - day, "direct"),
    ])
    orders = _orders([("u1", t0, 10.0), ("u2", t0, 20.0), ("u3", t0, 30.0), ("u4", t0, 40.0), ("u5", t0, 50.0)])
    credit = mk.attribute(touches, orders, list(mk.ATTRIBUTION_MODELS), lookback="30D", half_life="1D")
    table = credit.pivot(index="channel", columns="model", values="conversions")
    revenue = credit.pivot(index="channel", columns="model", values="revenue")
    assert table.index.tolist() == sorted(["direct", "email", "paid", "social", mk.NO_TOUCH])
    # u1 email|social, u2 social email social social, u3 paid, u4 none, u5 direct direct
    expected = {
        "first_touch": {"direct": 1, "email": 1, "paid": 1, "social": 1},
        "last_touch": {"direct": 1, "email": 0, "paid": 1, "social": 2},
        "last_non_direct": {"direct": 1, "email": 0, "paid": 1, "social": 2},  # u5 has only direct: it keeps it
        "linear": {"direct": 1, "email": 0.5 + 0.25, "paid": 1, "social": 0.5 + 0.75},
        # u1's touches are equally old; u2's weigh 1/8, 1/4, 1/2, 1 (of 15/8) with a 1-day half-life
        "time_decay": {"direct": 1, "email": 0.5 + 2 / 15, "paid": 1, "social": 0.5 + 13 / 15},
        "position_based": {"direct": 1, "email": 0.5 + 0.1, "paid": 1, "social": 0.5 + 0.9},
    }
    amounts = {"u1": 10.0, "u2": 20.0}
    for name, channels in expected.items():
        for channel, share in channels.items():
            assert table.loc[channel, name] == pytest.approx(share, abs=1e-12), (name, channel)
        assert table.loc[mk.NO_TOUCH, name] == 1.0 and revenue.loc[mk.NO_TOUCH, name] == 40.0
    assert revenue.loc["email", "time_decay"] == pytest.approx(0.5 * amounts["u1"] + 2 / 15 * amounts["u2"])
    assert revenue.loc["social", "position_based"] == pytest.approx(0.5 * amounts["u1"] + 0.9 * amounts["u2"])
    # the u2 journey with social counted as direct: its last non-social touch is email
    skip_social = mk.attribute(touches, orders, "last_non_direct", direct_channels=("social",)).set_index("channel")
    assert skip_social.loc["email", "conversions"] == 2.0  # u1 (email|social) and u2
    # a conversion whose only touch is outside the lookback goes to "(no touch)" under Markov too
    markov = credit[credit.model == "markov"].set_index("channel")
    assert markov.loc[mk.NO_TOUCH, "conversions"] == 1.0
    assert markov["conversions"].sum() == pytest.approx(5.0)


def _attribution_by_hand(touches, orders, *, lookback_days, half_life_days, direct, start=None, end=None):
    """Rule-based credit per (model, channel) and the Markov paths, with plain Python loops
    over the definitions (journeys, weights, non-converting paths)."""
    look, start, end = pd.Timedelta(days=lookback_days), pd.Timestamp(start or "1900"), pd.Timestamp(end or "2100")
    touches = touches.assign(ts=pd.to_datetime(touches.ts))
    orders = orders.assign(ts=pd.to_datetime(orders.ts)).sort_values(["customer_id", "ts", "amount"])
    credit, paths = {}, []
    previous = {}
    for customer, ts, amount in orders.itertuples(index=False):
        before, previous[customer] = previous.get(customer), ts
        if not start <= ts < end:
            continue
        journey = sorted((t, c) for cu, t, c in touches.itertuples(index=False)
                         if cu == customer and ts - look < t <= ts and (before is None or t > before))
        n = len(journey)
        if n == 0:
            for model in ("first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based"):
                credit.setdefault((model, mk.NO_TOUCH), [0.0, 0.0])
                credit[(model, mk.NO_TOUCH)][0] += 1
                credit[(model, mk.NO_TOUCH)][1] += amount
            continue
        paths.append(([c for _, c in journey], True))
        raw = [0.5 ** ((ts - t) / pd.Timedelta(days=half_life_days)) for t, _ in journey]
        eligible = [k for k, (_, c) in enumerate(journey, 1) if c not in direct]
        last_eligible = eligible[-1] if eligible else n
        for k, (_, channel) in enumerate(journey, 1):
            weights = {
                "first_touch": float(k == 1), "last_touch": float(k == n), "linear": 1 / n,
                "last_non_direct": float(k == last_eligible), "time_decay": raw[k - 1] / sum(raw),
                "position_based": 1.0 if n == 1 else 0.5 if n == 2 else 0.4 if k in (1, n) else 0.2 / (n - 2),
            }
            for model, w in weights.items():
                credit.setdefault((model, channel), [0.0, 0.0])
                credit[(model, channel)][0] += w
                credit[(model, channel)][1] += w * amount
    last_conversion = orders.groupby("customer_id").ts.max()
    for customer, rows in touches.groupby("customer_id"):
        after = rows[rows.ts > last_conversion[customer]] if customer in last_conversion.index else rows
        if len(after) and start <= after.ts.max() < end:
            after = after[after.ts > after.ts.max() - look].sort_values(["ts", "channel"])
            paths.append((after.channel.tolist(), False))
    return credit, paths


def _removal_shares_by_iteration(paths):
    """Markov removal-effect shares: transitions counted in a dict, absorption
    probabilities by iterating b = r + Q b (not by solving the system)."""
    counts = {}
    for channels, converted in paths:
        steps = zip(["(start)", *channels], [*channels, "(conversion)" if converted else "(null)"], strict=True)
        for source, target in steps:
            counts[(source, target)] = counts.get((source, target), 0) + 1
    states = sorted({c for channels, _ in paths for c in channels})

    def p_conversion(removed=None):
        out = {s: sum(v for (a, _), v in counts.items() if a == s) for s in ["(start)", *states]}
        b = dict.fromkeys(states, 0.0)
        for _ in range(2000):
            b = {s: 0.0 if s == removed else sum(v / out[s] * (1.0 if t == "(conversion)" else b.get(t, 0.0))
                                                  for (a, t), v in counts.items() if a == s) for s in states}
        return sum(v / out["(start)"] * b[t] for (a, t), v in counts.items() if a == "(start)")

    base = p_conversion()
    effects = {c: 1 - p_conversion(c) / base for c in states}
    return {c: e / sum(effects.values()) for c, e in effects.items()}


@pytest.mark.parametrize("window", [{}, {"start": "2026-10-10", "end": "2026-10-25"}])
def test_attribution_matches_a_loop_over_the_definitions(window):
    rng = np.random.default_rng(11)
    channels = ["direct", "email", "paid", "social"]
    base = pd.Timestamp("2026-09-01")
    # whole hours over two months: ties between touches, and touches at an order's instant
    touches = _touches([(f"c{rng.integers(25)}", base + pd.Timedelta(hours=int(rng.integers(24 * 60))),
                         channels[rng.integers(4)]) for _ in range(400)])
    touches = pd.concat([touches, touches.iloc[:20]], ignore_index=True)  # repeated identical touches
    orders = _orders([(f"c{rng.integers(30)}", base + pd.Timedelta(hours=int(rng.integers(24 * 60))),
                       float(rng.integers(1, 500)) / 4) for _ in range(60)])
    models = list(mk.ATTRIBUTION_MODELS)
    credit = mk.attribute(touches, orders, models, lookback="10D", half_life="3D", **window)
    expected, paths = _attribution_by_hand(touches, orders, lookback_days=10, half_life_days=3, direct={"direct"},
                                           **window)
    got = credit.set_index(["model", "channel"])
    rules = got.drop(index="markov", level="model")
    assert sorted(rules.index) == sorted(expected)
    for key, (conversions, revenue) in expected.items():
        assert rules.loc[key, "conversions"] == pytest.approx(conversions, rel=1e-12, abs=1e-12), key
        assert rules.loc[key, "revenue"] == pytest.approx(revenue, rel=1e-12, abs=1e-12), key
    shares = _removal_shares_by_iteration(paths)
    touched = sum(converted for _, converted in paths)
    markov = got.loc["markov"].drop(index=mk.NO_TOUCH, errors="ignore")
    for channel, row in markov.iterrows():
        assert row["conversions"] == pytest.approx(shares.get(channel, 0.0) * touched, rel=1e-9), channel


def test_touch_weights_match_the_engine_sums_row_by_row():
    j = pd.DataFrame({"conversion_id": [7, 7, 7, 7, 3], "position": [1, 2, 3, 4, 1], "touches": [4, 4, 4, 4, 1],
                      "channel": ["social", "email", "social", "direct", "direct"],
                      "days_before": [3.0, 2.0, 1.0, 0.0, 5.0]}).iloc[[3, 0, 4, 2, 1]]  # rows in any order
    assert mk.touch_weights(j, "time_decay", half_life="1D") == pytest.approx([8 / 15, 1 / 15, 1.0, 4 / 15, 2 / 15])
    assert mk.touch_weights(j, "last_non_direct").tolist() == [0, 0, 1, 1, 0]
    assert mk.touch_weights(j, "position_based") == pytest.approx([0.4, 0.4, 1.0, 0.1, 0.1])
    with pytest.raises(ValueError, match="rule-based"):
        mk.touch_weights(j, "markov")
    with pytest.raises(ValueError, match="days_before"):
        mk.touch_weights(j.drop(columns="days_before"), "time_decay")


def test_attribution_without_conversions_is_an_empty_table():
    touches = _touches([("a", "2026-10-01", "social")])
    orders = _orders([("a", "2026-10-02", 5.0)])
    credit = mk.attribute(touches, orders, list(mk.ATTRIBUTION_MODELS), start="2027-01", end="2027-02")
    assert credit.empty
    assert credit.columns.tolist() == ["model", "channel", "conversions", "revenue", "conversion_share",
                                       "revenue_share"]
    assert credit.dtypes.astype(str).tolist() == ["object", "object"] + ["float64"] * 4


# --------------------------------------------------------------------------- headline


def test_headline_metrics_match_acquisition_costs(sample):
    h = mk.headline_metrics(sample.spend, sample.customers, sample.orders, "2026-10")
    assert set(h.metric) == {"cac", "roas", "marketing_roi", "payback_months"}
    assert h.groupby("metric").month.apply(list).map(sorted).map(tuple).unique().tolist() == [("2026-09", "2026-10")]
    costs = mk.acquisition_costs(sample.spend, sample.customers, by=None, start="2026-10-01", end="2026-11-01")
    cac = h[(h.metric == "cac") & (h.month == "2026-10")].iloc[0]
    assert cac.value == pytest.approx(costs.cac.iloc[0])
    assert cac.numerator / cac.denominator == pytest.approx(cac.value)
    roi = h.set_index(["metric", "month"]).value
    assert roi[("marketing_roi", "2026-10")] == pytest.approx(roi[("roas", "2026-10")] - 1)
    assert h[["ci_low", "ci_high"]].isna().all().all()
    record = kpilib.report.compare_months(h, "2026-10")
    assert record.significant.isna().all()  # money ratios are never "significant"


def test_headline_metrics_with_clv():
    spend = _spend([("2026-09-01", "paid", 100.0), ("2026-10-01", "paid", 100.0)])
    customers = _customers([("a", "2026-09-02", "paid"), ("b", "2026-10-02", "paid")])
    orders = _orders([("a", "2026-09-03", 50.0), ("b", "2026-10-03", 80.0)])
    clv = pd.DataFrame({"customer_id": ["a", "b"], "clv": [300.0, 150.0]})
    h = mk.headline_metrics(spend, customers, orders, "2026-10", clv=clv).set_index(["metric", "month"])
    assert h.loc[("clv_to_cac", "2026-09"), "value"] == 3.0
    assert h.loc[("clv_to_cac", "2026-10"), "value"] == 1.5
    assert h.loc[("roas", "2026-10"), "value"] == 0.8


# --------------------------------------------------------------------------- the CLV verdict travels


def _degenerate_shop(orders: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The ``degenerate_orders`` fixture (~1 % repeat buyers) as a shop: sign-up at the
    first order, two paid channels."""
    first = orders.groupby("customer_id", as_index=False)["ts"].min().rename(columns={"ts": "signup_at"})
    first["channel"] = np.where(np.arange(len(first)) % 2 == 0, "paid", "social")
    days = pd.date_range("2026-09-01", "2026-10-31", freq="D").strftime("%Y-%m-%d")
    spend = _spend([(d, c, 20.0) for d in days for c in ("paid", "social")])
    return spend, first, orders


@pytest.fixture(scope="module")
def degenerate(degenerate_orders):
    import warnings

    from kpilib import clv

    spend, customers, orders = _degenerate_shop(degenerate_orders)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the penalised fit warns as well
        value = clv.customer_value(orders, as_of="2026-11-01")
    return spend, customers, orders, value


def test_customer_value_carries_the_verdict_of_its_fit(degenerate):
    *_, value = degenerate
    note = value.attrs["note"]
    # 30 repeat buyers of 3,030 customers by construction: 0.99 % < the 2 % needed
    assert note.startswith("unreliable: 30 repeat buyers, 1.0% of customers (< 2% needed)")
    assert int((value["frequency"] > 0).sum()) == 30 and len(value) == 3030


def test_the_clv_verdict_is_the_clv_headlines(degenerate):
    """Same rule as the CLV page: every reason on customer_value's note is on the CLV
    headline's model figures of the same month (whose note may add holdout reasons)."""
    import warnings

    from kpilib import clv

    _, _, orders, value = degenerate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        kpis = clv.headline_metrics(orders, "2026-10", holdout_months=3)
    headline = kpis.set_index(["metric", "month"]).loc[("clv_total", "2026-10"), "note"]
    reasons = value.attrs["note"].removeprefix("unreliable: ").split("; ")
    assert len(reasons) == 2 and all(r in headline for r in reasons)


def test_an_unreliable_clv_marks_clv_to_cac_everywhere(degenerate):
    import matplotlib.pyplot as plt

    from kpilib import plots
    from kpilib.report import record_headline

    spend, customers, orders, value = degenerate
    note = value.attrs["note"]
    h = mk.headline_metrics(spend, customers, orders, "2026-10", clv=value)
    ratio = h[h.metric == "clv_to_cac"]
    assert len(ratio) == 2 and ratio["value"].gt(0).all()
    assert (ratio["note"] == note).all()  # both months rest on the same fit
    assert h[h.metric != "clv_to_cac"]["note"].isna().all()  # CAC, ROAS … do not use the CLV
    record = {r["metric"]: r for r in record_headline(h, month="2026-10").to_records()}
    assert record["clv_to_cac"]["note"] == note and record["clv_to_cac"]["significant"] is None
    assert not record["cac"]["note"]

    costs = mk.acquisition_costs(spend, customers, None, None, clv=value, start="2026-09-01", end="2026-11-01")
    assert costs.attrs["clv_note"] == note
    assert costs["clv_to_cac"].notna().all() and costs["note"].str.contains(mk.CLV_UNRELIABLE, regex=False).all()
    ax = plots.plot_clv_cac(costs)
    assert "CLV unreliable: 30 repeat buyers" in ax.get_title().replace("\n", " ")
    assert all(c.get_hatch() for c in ax.collections if len(c.get_offsets()) == 3)  # the three bubbles
    plt.close(ax.figure)


def test_a_healthy_clv_marks_nothing(sample):
    import matplotlib.pyplot as plt

    from kpilib import clv, plots

    value = clv.customer_value(sample.orders, as_of="2026-11-01")
    assert value.attrs["note"] is None
    assert int((value["frequency"] > 0).sum()) >= 30  # the reason: enough repeat buyers
    h = mk.headline_metrics(sample.spend, sample.customers, sample.orders, "2026-10", clv=value)
    assert h[h.metric == "clv_to_cac"]["value"].notna().all() and h["note"].isna().all()
    costs = mk.acquisition_costs(sample.spend, sample.customers, None, None, clv=value, start="2025-11-01",
                                 end="2026-11-01")
    assert costs.attrs["clv_note"] is None
    assert not costs["note"].str.contains(mk.CLV_UNRELIABLE, regex=False).any()
    ax = plots.plot_clv_cac(costs)
    assert "unreliable" not in ax.get_title() and not any(c.get_hatch() for c in ax.collections)
    plt.close(ax.figure)


def test_a_clv_frame_without_a_verdict_has_no_note():
    spend = _spend([("2026-10-01", "paid", 90.0)])
    customers = _customers([("a", "2026-10-01", "paid")])
    clv = pd.DataFrame({"customer_id": ["a"], "clv": [120.0]})
    c = mk.acquisition_costs(spend, customers, clv=clv, period=None)
    assert c.attrs["clv_note"] is None and (c["note"] == "").all()
    clv.attrs["note"] = "unreliable: hand-made"
    c = mk.acquisition_costs(spend, customers, clv=clv, period=None)
    assert c.attrs["clv_note"] == "unreliable: hand-made" and (c["note"] == mk.CLV_UNRELIABLE).all()
    free = mk.acquisition_costs(_spend([("2026-10-01", "paid", 0.0)]), customers, clv=clv, period=None)
    assert free["note"].str.contains("CLV:CAC undefined: CAC is 0", regex=False).all()  # no ratio, but
    assert free["note"].str.contains(mk.CLV_UNRELIABLE, regex=False).all()  # its CLV per customer is marked
