"""Marketing figures: each draws on the Axes it is given, returns it, and shows what it should."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from kpilib import marketing as mk  # noqa: E402
from kpilib import plots as pmk  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def costs():
    spend = pd.DataFrame({"date": ["2026-09-01", "2026-09-01", "2026-10-01", "2026-10-01"],
                          "channel": ["paid", "social", "paid", "social"], "cost": [100.0, 50.0, 120.0, 60.0]})
    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                              "signup_at": ["2026-09-02", "2026-09-05", "2026-10-02", "2026-10-03"],
                              "channel": ["paid", "social", "paid", "organic"]})
    orders = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "ts": ["2026-09-03", "2026-09-06", "2026-10-04",
                                                                      "2026-10-05"],
                           "amount": [300.0, 20.0, 90.0, 40.0]})
    clv = pd.DataFrame({"customer_id": ["a", "b", "c"], "clv": [400.0, 30.0, 200.0]})
    monthly = mk.acquisition_costs(spend, customers, orders, clv=clv, as_of="2026-10-31")
    overall = mk.acquisition_costs(spend, customers, orders, None, clv=clv, as_of="2026-10-31")
    return monthly, overall


def test_spend_is_stacked_by_channel(costs):
    monthly, _ = costs
    fig, ax = plt.subplots()
    assert pmk.plot_spend(monthly, ax=ax) is ax
    assert len(ax.patches) == 2 * 3  # two periods × three channels (organic with zero spend)
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["organic", "paid", "social"]
    tops = {round(p.get_y() + p.get_height(), 6) for p in ax.patches}
    assert {150.0, 180.0} <= tops


def test_cac_lines_leave_undefined_points_as_marked_gaps(costs):
    monthly, _ = costs
    ax = pmk.plot_cac(monthly)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "blended" in labels and "CAC undefined (spend, no new customers)" in labels
    social = next(line for line in ax.lines if line.get_label() == "social")
    assert np.isnan(social.get_ydata()[1])  # October: spend 60, nobody acquired
    assert all(np.isfinite(v) or np.isnan(v) for line in ax.lines for v in line.get_ydata())


def test_return_on_spend_bars_and_break_even(costs):
    _, overall = costs
    ax = pmk.plot_return_on_spend(overall)
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("ROAS") for t in texts)
    assert "no spend: undefined" in texts  # organic
    assert any(line.get_label().startswith("break-even") for line in ax.lines)
    assert len(ax.patches) == len(overall)


def test_clv_cac_bubbles_and_reference_lines(costs):
    _, overall = costs
    ax = pmk.plot_clv_cac(overall)
    defined = overall["cac"].notna() & overall["clv_per_customer"].notna()
    assert len(ax.collections[0].get_offsets()) == int(defined.sum())
    assert [line.get_label() for line in ax.lines] == ["CLV = CAC", "CLV = 3 × CAC"]
    assert any(":1" in t.get_text() for t in ax.texts)


def test_attribution_bars_one_per_model_and_channel():
    touches = pd.DataFrame({"customer_id": ["a", "a"], "ts": ["2026-10-01", "2026-10-03"],
                            "channel": ["social", "email"]})
    orders = pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-04"], "amount": [10.0]})
    credit = mk.attribute(touches, orders, ["first_touch", "last_touch", "linear"])
    ax = pmk.plot_attribution(credit, value="revenue")
    assert len(ax.patches) == 3 * 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["email", "social"]
    assert ax.get_ylabel() == "credited revenue"
    orders = pd.concat([orders, pd.DataFrame({"customer_id": ["z"], "ts": ["2026-10-04"], "amount": [5.0]})])
    credit = mk.attribute(touches, orders, ["first_touch", "last_touch", "linear"])
    ax = pmk.plot_attribution(credit)
    assert len(ax.patches) == 3 * 2 and any("(no touch): 1 conversions" in t.get_text() for t in ax.texts)
    ax = pmk.plot_attribution(credit, show_no_touch=True)
    assert len(ax.patches) == 3 * 3
    with pytest.raises(ValueError, match="plot_attribution"):
        pmk.plot_attribution(credit.drop(columns="model"))


def test_influenced_revenue_lines_with_interval():
    orders = pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2026-09-10", "2026-10-12"], "amount": [30.0, 10.0]})
    events = pd.DataFrame({"customer_id": ["a"], "ts": ["2026-09-01"], "event": ["visit"], "channel": ["social"]})
    ax = pmk.plot_influenced_revenue(mk.marketing_influenced_revenue(orders, events))
    assert [line.get_label() for line in ax.lines] == ["share of revenue", "share of orders (95% CI)"]
    assert ax.lines[0].get_ydata().tolist() == [1.0, 0.0]
    assert len(ax.collections) == 1
