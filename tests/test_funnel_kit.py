"""The funnel rules across the kit (issue #16): the notebook's settings, the headline, the
A/B comparison, the landing pages and the prose all follow the same rules as
:func:`kpilib.funnel.funnel` — the preset (``semantics``), exclusions, re-entry, windows —
and the month of the funnel is read on the report's time zone.

Every expected count is worked out by hand beside the test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kpilib import funnel as F
from kpilib.data import FunnelSettings
from kpilib.metrics import get
from kpilib.periods import local_month_bounds

TWO = ["visit", "signup"]
# A last event far after everything else: every window below has closed by the end of the data.
END_OF_DATA = ("zz", "2026-11-30 12:00", "share")


def log(*rows, **extras) -> pd.DataFrame:
    """Events from ``(customer, "YYYY-MM-DD HH:MM" UTC, event)`` rows, plus the end-of-data row."""
    rows = [*rows, END_OF_DATA]
    frame = pd.DataFrame(rows, columns=["customer_id", "ts", "event"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    for name, values in extras.items():
        frame[name] = [*values, None]
    return frame


def conversion(headline: pd.DataFrame, month: str) -> tuple[float, float]:
    """(converted, entered) of the headline's conversion row for ``month``."""
    row = headline.set_index(["metric", "month"]).loc[("conversion_rate", month)]
    return row["numerator"], row["denominator"]


# --- funnel_settings: a preset's own window and order ----------------------------------


def test_funnel_settings_leave_window_and_order_to_a_vendor_preset():
    assert F.funnel_settings(semantics="mixpanel").window is None
    assert F.funnel_settings(semantics="mixpanel").order is None
    shop = FunnelSettings(steps=("visit", "add_to_cart", "purchase"), window="7D")
    chosen = F.funnel_settings(shop, semantics="posthog")
    assert (chosen.window, chosen.order) == ("7D", None)        # the source's window still wins
    chosen = F.funnel_settings(shop, order="strict_steps", semantics="amplitude")
    assert (chosen.window, chosen.order) == ("7D", "strict_steps")
    # kpilib's own preset, or none: kpilib's defaults, filled in
    for semantics in (None, "", "kpilib"):
        chosen = F.funnel_settings(semantics=semantics)
        assert (chosen.window, chosen.order) == ("14D", "ordered")
    with pytest.raises(ValueError, match="semantics must be one of"):
        F.funnel_settings(semantics="heap")


# --- headline_metrics: the notebook's funnel, whatever the rules ---------------------------


def test_a_presets_window_reaches_the_headline():
    # a signs up 19 days after the visit: outside kpilib's 14 days, inside Mixpanel's 30
    # (Mixpanel "Conversion Details": 30-day default window).
    events = log(("a", "2026-10-01 09:00", "visit"), ("a", "2026-10-20 09:00", "signup"))
    chosen = F.funnel_settings(semantics="mixpanel")
    mixpanel = F.headline_metrics(events, "2026-10", TWO, chosen.window, order=chosen.order, semantics="mixpanel")
    assert conversion(mixpanel, "2026-10") == (1, 1)
    kpilib = F.headline_metrics(events, "2026-10", TWO)
    assert conversion(kpilib, "2026-10") == (0, 1)
    # and the funnel of the month says the same
    table = F.funnel(events, TWO, semantics="mixpanel", start="2026-10-01", end="2026-11-01")
    assert table.users.tolist() == [1, 1]


def test_headline_counts_each_months_funnel_on_its_own():
    # c visits in September (no signup within 7 days) and again on 3 October, then signs up on
    # 4 October: September's funnel has c as a non-converter, October's as a converter.
    events = log(("c", "2026-09-05 10:00", "visit"), ("c", "2026-10-03 10:00", "visit"),
                 ("c", "2026-10-04 10:00", "signup"))
    headline = F.headline_metrics(events, "2026-10", TWO, "7D")
    assert conversion(headline, "2026-09") == (0, 1)
    assert conversion(headline, "2026-10") == (1, 1)
    october = F.funnel(events, TWO, window="7D", start="2026-10-01", end="2026-11-01")
    assert october.users.tolist() == [1, 1]
    ttc = headline.set_index(["metric", "month"]).loc[("time_to_convert", "2026-10"), "value"]
    assert ttc == pytest.approx(1.0)


def test_headline_drops_the_excluded_and_keeps_the_best_attempt():
    events = log(
        ("d", "2026-10-02 10:00", "visit"), ("d", "2026-10-03 10:00", "refund"), ("d", "2026-10-04 10:00", "signup"),
        ("e", "2026-10-02 10:00", "visit"), ("e", "2026-10-05 10:00", "signup"),
        # f: the first visit's window (7 days) passes without a signup; the visit of the 20th converts
        ("f", "2026-10-01 10:00", "visit"), ("f", "2026-10-20 10:00", "visit"), ("f", "2026-10-22 10:00", "signup"),
    )
    assert conversion(F.headline_metrics(events, "2026-10", TWO, "7D"), "2026-10") == (2, 3)
    # d did "refund" between visit and signup: out of the funnel altogether (PostHog's rule)
    assert conversion(F.headline_metrics(events, "2026-10", TWO, "7D", exclusions=["refund"]), "2026-10") == (1, 2)
    # the best attempt: f's second visit converts
    assert conversion(F.headline_metrics(events, "2026-10", TWO, "7D", reentry="best"), "2026-10") == (3, 3)
    # PostHog's preset: best attempt, every step inside the month — all three steps of f are
    posthog = F.headline_metrics(events, "2026-10", TWO, "7D", semantics="posthog", exclusions=["refund"])
    assert conversion(posthog, "2026-10") == (2, 2)


def test_headline_time_to_convert_of_an_any_order_funnel():
    # any order: g enters on the signup (1 Oct), the visit two days later completes 2 of 2 steps
    events = log(("g", "2026-10-01 00:00", "signup"), ("g", "2026-10-03 00:00", "visit"))
    headline = F.headline_metrics(events, "2026-10", TWO, "7D", order="any").set_index(["metric", "month"])
    assert headline.loc[("conversion_rate", "2026-10"), ["numerator", "denominator"]].tolist() == [1, 1]
    assert headline.loc[("time_to_convert", "2026-10"), "value"] == pytest.approx(2.0)


# --- the report time zone -----------------------------------------------------------------


def test_local_month_bounds_follow_the_clock_and_daylight_saving():
    # Berlin: October 2026 starts in summer time (UTC+2), ends in winter time (UTC+1 from 25 Oct)
    assert local_month_bounds("2026-10", "Europe/Berlin") == (
        pd.Timestamp("2026-09-30 22:00", tz="UTC"), pd.Timestamp("2026-10-31 23:00", tz="UTC"))
    # New York: March 2026 starts in EST (UTC-5), ends in EDT (UTC-4 from 8 March)
    assert local_month_bounds("2026-03", "America/New_York") == (
        pd.Timestamp("2026-03-01 05:00", tz="UTC"), pd.Timestamp("2026-04-01 04:00", tz="UTC"))
    # Kathmandu, +5:45 all year
    assert local_month_bounds("2026-01", "Asia/Kathmandu")[0] == pd.Timestamp("2025-12-31 18:15", tz="UTC")
    assert local_month_bounds("2026-10", None) == (pd.Timestamp("2026-10-01", tz="UTC"),
                                                   pd.Timestamp("2026-11-01", tz="UTC"))
    with pytest.raises(ValueError, match="IANA"):
        local_month_bounds("2026-10", "CEST")


def test_a_local_month_moves_an_entry_at_2330_utc_on_the_last_day_into_the_next_month():
    # b visits at 23:30 UTC on 30 September: 01:30 on 1 October in Berlin
    events = log(("b", "2026-09-30 23:30", "visit"), ("b", "2026-10-01 10:00", "signup"))
    utc = F.headline_metrics(events, "2026-10", TWO, "7D")
    assert conversion(utc, "2026-09") == (1, 1)
    assert conversion(utc, "2026-10") == (0, 0)
    berlin = F.headline_metrics(events, "2026-10", TWO, "7D", timezone="Europe/Berlin")
    assert conversion(berlin, "2026-09") == (0, 0)
    assert conversion(berlin, "2026-10") == (1, 1)
    assert np.isnan(berlin.set_index(["metric", "month"]).loc[("conversion_rate", "2026-09"), "value"])
    # the funnel of the month with the local bounds, as the notebook computes it
    start, end = local_month_bounds("2026-10", "Europe/Berlin")
    assert F.funnel(events, TWO, window="7D", start=start, end=end).users.tolist() == [1, 1]
    assert F.funnel(events, TWO, window="7D", start="2026-10-01", end="2026-11-01").users.tolist() == [0, 0]


# --- the A/B comparison and the landing pages take the rules --------------------------------


def test_ab_comparison_follows_the_exclusions():
    events = log(
        ("a1", "2026-10-01 10:00", "visit"), ("a1", "2026-10-02 10:00", "signup"),
        ("a2", "2026-10-01 10:00", "visit"), ("a2", "2026-10-01 12:00", "refund"), ("a2", "2026-10-02 10:00", "signup"),
        ("b1", "2026-10-01 10:00", "visit"), ("b1", "2026-10-02 10:00", "signup"),
        ("b2", "2026-10-01 10:00", "visit"),
        variant=["A", "A", "A", "A", "A", "B", "B", "B"],
    )
    plain = F.ab_comparison(events, TWO, by="variant", a="A", b="B")
    assert plain[["converted_a", "entered_a", "converted_b", "entered_b"]].iloc[0].tolist() == [2, 2, 1, 2]
    excluded = F.ab_comparison(events, TWO, by="variant", a="A", b="B", exclusions=["refund"])
    assert excluded[["converted_a", "entered_a", "converted_b", "entered_b"]].iloc[0].tolist() == [1, 1, 1, 2]
    assert excluded.difference[0] == pytest.approx(0.5 - 1.0)


def test_landing_pages_follow_the_window_and_the_reentry_rule():
    # g lands on /blog on 1 October, comes back on /pricing on 20 October and signs up the next day
    events = log(("g", "2026-10-01 10:00", "visit"), ("g", "2026-10-20 10:00", "visit"),
                 ("g", "2026-10-21 10:00", "signup"), page=["/blog", "/pricing", None])
    pages = lambda **rules: F.landing_page_conversion(events, "signup", window="7D", **rules)  # noqa: E731
    first = pages()
    assert first[["page", "numerator", "denominator"]].values.tolist() == [["/blog", 0, 1]]
    # best attempt: the visit that converts, and its page
    best = pages(reentry="best")
    assert best[["page", "numerator", "denominator"]].values.tolist() == [["/pricing", 1, 1]]
    # Mixpanel's 30 days from the first visit reach the signup 20 days later
    mixpanel = F.landing_page_conversion(events, "signup", semantics="mixpanel")
    assert mixpanel[["page", "numerator", "denominator"]].values.tolist() == [["/blog", 1, 1]]


# --- the prose ------------------------------------------------------------------------------


def test_describe_funnel_names_every_rule_in_use():
    plain = F.describe_funnel(["visit", "signup", "purchase"])
    assert plain.startswith("People enter at their **first** `visit` of the month; from that moment they have "
                            "14 days (the conversion window)")
    for word in ("PostHog", "semantics", "best", "exclu", "zone", "included", "within the month"):
        assert word.lower() not in plain.lower()
    text = F.describe_funnel(["visit", "signup", "purchase"], semantics="posthog", exclusions=[("refund", 2, 3)],
                             timezone="Europe/Berlin")
    assert 'PostHog\'s funnel rules (`semantics="posthog"`)' in text
    assert "Every `visit` of the month (Europe/Berlin time) starts an attempt" in text
    assert "**best** attempt" in text
    assert "14 days (the conversion window, an event at its very end included)" in text
    assert "every step must also happen within the month" in text
    assert "`refund` between `signup` (step 2) and `purchase` (step 3)" in text
    assert "left out of the funnel altogether" in text
    # a preset's window, not kpilib's, when none is given
    assert "30 days" in F.describe_funnel(TWO, semantics="mixpanel")
    assert "1 day (the conversion window)" in F.describe_funnel(TWO, semantics="amplitude")
    first_ever = F.describe_funnel(TWO, first_time=True)
    assert "**first `visit` ever**" in first_ever
    gaps = F.describe_funnel(["visit", "signup", "purchase"], step_windows=["1D", "36h"], order="strict_steps")
    assert "1 day from `visit` to `signup` and 36 hours from `signup` to `purchase`" in gaps
    assert "no other step event in between" in gaps


# --- the registry ---------------------------------------------------------------------------


def test_the_new_records_name_the_functions_that_compute_them():
    assert "kpilib.funnel.funnel" in get("funnel_exclusion").computed_by
    assert "kpilib.funnel.conversion_rate" in get("breakdown_attribution").computed_by
    assert get("funnel_exclusion") in F.funnel.metrics
    assert get("breakdown_attribution") in F.conversion_rate.metrics


def test_funnel_settings_take_the_sources_preset_unless_one_is_given():
    declared = FunnelSettings(steps=("lead", "won"), semantics="mixpanel")
    chosen = F.funnel_settings(declared)
    assert (chosen.semantics, chosen.window, chosen.order) == ("mixpanel", None, None)
    chosen = F.funnel_settings(declared, semantics="kpilib")       # given wins: kpilib's own defaults
    assert (chosen.semantics, chosen.window, chosen.order) == ("kpilib", "14D", "ordered")
    assert F.funnel_settings(declared, semantics="").semantics == "mixpanel"   # empty is "not given"
    assert F.funnel_settings(FunnelSettings()).semantics is None


# --- the notebook passes the rules, the source's preset and time zone -----------------------


def test_the_funnel_notebook_follows_the_sources_preset_and_time_zone(small_sample, tmp_path):
    import shutil

    import nbformat
    import papermill as pm

    import kpilib
    from kpilib.report import default_notebooks_dir

    source = tmp_path / "source"
    shutil.copytree(small_sample, source)
    (source / "kpilib.toml").write_text('timezone = "Europe/Berlin"\n\n[funnel]\nsemantics = "mixpanel"\n')
    out = tmp_path / "01_funnel.ipynb"
    pm.execute_notebook(str(default_notebooks_dir() / "01_funnel.ipynb"), str(out),
                        parameters={"month": "2026-10", "source": str(source), "exclusions": ["page_view"]},
                        kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    prose = " ".join(o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {}))
    assert "Mixpanel's funnel rules" in prose and "(Europe/Berlin time)" in prose and "`page_view`" in prose
    assert "30 days (the conversion window)" in prose            # Mixpanel's window, not kpilib's 14 days
    [payload] = [o["data"]["application/vnd.kpilib.headline+json"] for o in outputs
                 if "application/vnd.kpilib.headline+json" in o.get("data", {})]
    recorded = {r["metric"]: r for r in payload["metrics"]}["conversion_rate"]
    ds = kpilib.load_dataset(source)
    expected = F.headline_metrics(ds.events, "2026-10", list(F.DEFAULT_STEPS), semantics="mixpanel",
                                  exclusions=["page_view"], timezone="Europe/Berlin").set_index(["metric", "month"])
    plain = F.headline_metrics(ds.events, "2026-10", list(F.DEFAULT_STEPS)).set_index(["metric", "month"])
    october = expected.loc[("conversion_rate", "2026-10")]
    assert recorded["numerator"] == october["numerator"] and recorded["denominator"] == october["denominator"]
    # the rules matter here: kpilib's own rules count other entrants
    assert plain.loc[("conversion_rate", "2026-10"), "denominator"] != october["denominator"]
