"""Report months are matched exactly: ``YYYY-MM`` in ASCII digits, nothing around it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kpilib.periods import MONTH_PATTERN, month_range, next_month, validate_month


@pytest.mark.parametrize("good", ["2026-10", "2026-01", "1999-12", "0001-01"])
def test_months_that_pass(good):
    assert validate_month(good) == good
    assert MONTH_PATTERN.fullmatch(good) and MONTH_PATTERN.match(good) and MONTH_PATTERN.search(good)


@pytest.mark.parametrize(
    "bad",
    [
        "2026-10\n",  # `$` would match before a trailing newline
        "2026-10\r\n",
        "\n2026-10",
        " 2026-10",
        "2026-10 ",
        "2026-10\x00",
        "２０２６-10",  # full-width digits are digits to `\d`
        "٢٠٢٦-10",  # Arabic-Indic digits too
        "2026-1０",
        "2026-13",
        "2026-00",
        "2026-1",
        "20261-10",
        "2026-10-01",
        "2026/10",
        "",
    ],
)
def test_months_that_do_not(bad):
    with pytest.raises(ValueError) as caught:
        validate_month(bad)
    assert str(caught.value) == f"month must look like 'YYYY-MM' (e.g. '2026-10'), got {bad!r}"
    # however the pattern is used, it does not match
    assert not MONTH_PATTERN.fullmatch(bad) and not MONTH_PATTERN.match(bad) and not MONTH_PATTERN.search(bad)


def test_ranges_and_shifts_validate_their_months():
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_range("2026-09", "2026-10\n")
    with pytest.raises(ValueError, match="YYYY-MM"):
        next_month("2026-10\n")
    assert month_range("2026-11", "2027-01") == ["2026-11", "2026-12", "2027-01"]


# --------------------------------------------------------------------------- cut-off, tenure


def test_default_cutoff_includes_the_whole_last_day():
    import ibis

    from kpilib.periods import default_cutoff

    next_day = pd.Timestamp("2026-10-01", tz="UTC")
    for latest in ("2026-09-30", "2026-09-30 00:00", "2026-09-30 23:59:59.999999",
                   pd.Timestamp("2026-09-30 12:00", tz="UTC"), pd.Timestamp("2026-09-30 14:00+02:00")):
        assert default_cutoff(latest) == next_day, latest
    assert default_cutoff(None) is None and default_cutoff(pd.NaT) is None
    # the engine version agrees and keeps date-only and timed rows of the last day inside
    t = ibis.memtable(pd.DataFrame({"ts": pd.to_datetime(["2026-09-01 00:00:00", "2026-09-30 00:00:00", "2026-09-30 23:59:59"],
                                                         utc=True)}))
    cutoff = default_cutoff(t.ts.max())
    assert pd.Timestamp(cutoff.execute()) == next_day
    assert t.filter(t.ts < cutoff).count().execute() == 3


def relativedelta_months(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """The reference: whole months by pandas' DateOffset (dateutil's rule), then the share
    of the next month elapsed."""
    m = (end.year - start.year) * 12 + end.month - start.month
    while start + pd.DateOffset(months=m) > end:
        m -= 1
    low, high = start + pd.DateOffset(months=m), start + pd.DateOffset(months=m + 1)
    return m + (end - low) / (high - low)


def test_months_between_counts_anniversaries_as_dateutil_does():
    import ibis
    from dateutil.relativedelta import relativedelta

    from kpilib.periods import months_between

    pairs = [("2024-02-29", "2025-02-28"), ("2024-03-15", "2025-03-15"), ("2024-01-31", "2024-02-29"),
             ("2024-01-31", "2024-02-28"), ("2023-01-31", "2023-02-28"), ("2024-02-29", "2025-03-01"),
             ("2024-12-31", "2025-01-30"), ("2024-05-10 18:00", "2024-06-10 17:59:59"),
             ("2024-05-10 18:00", "2024-06-10 18:00"), ("2025-01-01", "2025-01-01"),
             ("1999-12-31 23:00", "2030-06-15 01:02:03.5")]
    frame = pd.DataFrame(pairs, columns=["s", "e"]).apply(lambda c: pd.to_datetime(c, utc=True, format="ISO8601"))
    t = ibis.memtable(frame)
    got = months_between(t, "s", "e", name="m").to_pandas()["m"].to_numpy()
    want = [relativedelta_months(s, e) for s, e in zip(frame.s, frame.e, strict=True)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    # exactly 12 at the anniversaries of the issue, and whole months agree with dateutil
    assert got[0] == 12.0 and got[1] == 12.0 and got[2] == 1.0
    for (s, e), value in zip(pairs, got, strict=True):
        delta = relativedelta(pd.Timestamp(e).to_pydatetime(), pd.Timestamp(s).to_pydatetime())
        assert int(np.floor(value)) == delta.years * 12 + delta.months, (s, e)


def test_months_between_on_random_pairs_matches_the_reference():
    import ibis

    from kpilib.periods import months_between

    rng = np.random.default_rng(3)
    start = pd.Timestamp("2019-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 2500 * 86400, 400), "s")
    end = start + pd.to_timedelta(rng.integers(0, 900 * 86400, 400), "s")
    # many month-end starts and exact anniversaries
    start = start.where(np.arange(400) % 4 != 0, start.normalize() + pd.offsets.MonthEnd(0))
    end = end.where(np.arange(400) % 5 != 0, pd.DatetimeIndex([s + pd.DateOffset(months=int(k))
                                                              for s, k in zip(start, rng.integers(0, 30, 400),
                                                                              strict=True)]))
    frame = pd.DataFrame({"s": start, "e": end})
    t = ibis.memtable(frame)
    got = months_between(t, "s", "e", name="m").to_pandas()["m"].to_numpy()
    want = np.array([relativedelta_months(s, e) for s, e in zip(frame.s, frame.e, strict=True)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    anniversaries = np.arange(400) % 5 == 0
    assert (got[anniversaries] == np.round(got[anniversaries])).all()
    assert (np.diff(got[np.argsort(want)]) >= -1e-12).all()


# --- one vocabulary: the period argument and the period grid, shared by every domain ---

from kpilib.periods import check_period, period_grid  # noqa: E402


@pytest.mark.parametrize(("given", "allowed", "expected"), [
    ("m", ("W", "M"), "M"), ("W", ("W", "M"), "W"), ("h", ("D", "W", "h"), "h"), ("q", ("M", "Q", "Y"), "Q"),
])
def test_check_period_accepts_the_codes_a_function_supports(given, allowed, expected):
    assert check_period(given, allowed) == expected


def test_check_period_names_the_choices_when_it_refuses():
    with pytest.raises(ValueError, match=r"'M' \(month\), 'Q' \(quarter\), 'Y' \(year\) or None"):
        check_period("week", ("M", "Q", "Y"), none=True)
    assert check_period(None, ("M",), none=True) is None
    with pytest.raises(ValueError, match="got None"):
        check_period(None, ("M",))
    with pytest.raises(ValueError, match="got 'H'"):
        check_period("H", ("D", "h"))  # hours are lower case, as in pandas


def test_period_grid_matches_pandas_periods():
    first = pd.Timestamp("2025-11-20 13:00", tz="UTC")
    cutoff = pd.Timestamp("2026-03-01", tz="UTC")
    months = period_grid(first, cutoff, "M")
    assert months["period"].tolist() == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert (months["period_end"] <= cutoff).all()
    assert months["period_start"].iloc[0] == pd.Timestamp("2025-11-01", tz="UTC")
    quarters = period_grid(first, cutoff, "Q", complete=False)
    assert quarters["period"].tolist() == [str(p) for p in pd.period_range("2025Q4", "2026Q1", freq="Q")]
    assert period_grid(first, cutoff, "Q")["period"].tolist() == ["2025Q4"]
    weeks = period_grid(pd.Timestamp("2026-03-04", tz="UTC"), pd.Timestamp("2026-03-16", tz="UTC"), "W")
    assert weeks["period_start"].dt.day_name().eq("Monday").all()
    assert weeks["period"].tolist() == ["2026-03-02/2026-03-08", "2026-03-09/2026-03-15"]
    assert period_grid(cutoff, cutoff, "M").empty
