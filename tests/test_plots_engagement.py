"""Engagement figures (Agg backend, set in conftest): each draws what its result holds and returns the Axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

from kpilib import engagement as E
from kpilib import plots as P


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def events():
    rng = np.random.default_rng(5)
    n = 600
    ts = pd.Timestamp("2026-07-01") + pd.to_timedelta(rng.integers(0, 120 * 86_400, n), unit="s")
    kind = rng.choice(["page_view", "feature_use", "share"], n, p=[0.7, 0.25, 0.05])
    return pd.DataFrame({"customer_id": rng.choice([f"c{i}" for i in range(40)], n), "ts": ts, "event": kind,
                         "feature": np.where(kind == "feature_use", rng.choice(["api", "reports"], n), None)})


def test_email_campaigns_draws_a_point_per_campaign_and_rate():
    email = pd.DataFrame({"campaign": ["a", "a", "b"], "customer_id": ["x", "y", "x"],
                          "sent_at": ["2026-10-01", "2026-10-01", "2026-10-02"], "bounce": "none",
                          "opened_at": ["2026-10-01 10:00", None, None], "clicked_at": None,
                          "unsubscribed_at": None, "complained_at": None})
    ax = P.plot_email_campaigns(E.email_metrics(email))
    assert isinstance(ax, Axes)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Open rate", "Click rate"]
    assert len(ax.lines) >= 2


def test_active_users_and_stickiness(events):
    ax = P.plot_active_users(E.active_users(events, "D"))
    assert len(ax.lines) == 3 and ax.get_ylabel() == "distinct active customers"
    ax = P.plot_active_users(E.active_users(events, "M"))
    assert len(ax.lines) == 1
    sticky = E.stickiness(events)
    ax = P.plot_stickiness(sticky)
    assert np.allclose(ax.lines[0].get_ydata(), sticky.stickiness)
    hist = E.stickiness_histogram(events, "2026-08")
    ax = P.plot_stickiness_histogram(hist)
    assert len(ax.patches) == 31 and np.allclose(ax.lines[0].get_ydata(), hist.share_at_least)


def test_lifecycle_bars_put_dormant_below_zero(events):
    flows = E.lifecycle(events)
    ax = P.plot_lifecycle(flows)
    assert len(ax.patches) == 4 * len(flows)
    heights = [p.get_height() for p in ax.patches]
    assert min(heights) == flows.dormant.min() < 0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["returning", "new", "resurrecting", "dormant"]


def test_feature_adoption_heatmap(events):
    ax = P.plot_feature_adoption(E.feature_adoption(events))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["api", "reports"]
    assert len(ax.get_xticklabels()) == 4


def test_survey_trends_for_nps_csat_and_ces():
    s = pd.DataFrame({"customer_id": [f"c{i}" for i in range(12)], "ts": ["2026-09-05"] * 6 + ["2026-10-05"] * 6,
                      "survey": ["nps", "nps", "csat", "csat", "ces", "ces"] * 2,
                      "score": [10, 3, 5, 2, 7, 4, 9, 9, 4, 4, 6, 6]})
    ax = P.plot_survey_trend(E.nps_by(s))
    assert ax.get_ylabel() == "NPS (points)" and len(ax.collections) == 1
    assert P.plot_survey_trend(E.csat_by(s)).get_ylabel() == "CSAT (share satisfied)"
    assert P.plot_survey_trend(E.ces_by(s)).get_ylabel() == "mean CES (1–7)"
    with pytest.raises(ValueError):
        P.plot_survey_trend(pd.DataFrame({"period": []}))


def test_time_to_value_curve(events):
    customers = pd.DataFrame({"customer_id": [f"c{i}" for i in range(40)], "signup_at": "2026-07-01",
                              "channel": "email"})
    ttv = E.time_to_value(events, customers, max_days=30)
    ax = P.plot_time_to_value(ttv)
    assert np.allclose(ax.lines[0].get_ydata(), ttv.curve.share_activated)


def test_health_figures():
    scores = pd.DataFrame({"customer_id": list("abcdef"), "month": "2026-09",
                           "score": [10.0, 35.0, 50.0, 60.0, 75.0, 90.0],
                           "band": ["at risk", "at risk", "watch", "watch", "healthy", "healthy"]})
    ax = P.plot_health_distribution(scores)
    assert sum(p.get_height() for p in ax.patches) == 6
    subs = pd.DataFrame({"customer_id": list("abcdef"), "start_at": "2026-01-01",
                         "end_at": ["2026-10-05", None, "2026-10-20", None, None, None], "mrr": 29.0})
    v = E.validate_health_score(scores, subs, groups=3)
    ax = P.plot_health_lift(v)
    assert len(ax.patches) == 3
    assert np.allclose([p.get_height() for p in ax.patches], v.lift.churn_rate)
    ax = P.plot_roc(v)
    assert "AUC" in ax.get_legend().get_texts()[0].get_text()
    assert np.allclose(ax.lines[0].get_xdata(), v.roc.false_positive_rate)


def test_a_wrong_result_is_refused():
    with pytest.raises(ValueError, match="plot_lifecycle"):
        P.plot_lifecycle(pd.DataFrame({"period": []}))
