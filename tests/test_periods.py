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


# --- calendar parts in the engine: integer arithmetic on the epoch, against pandas ---

from kpilib.periods import (  # noqa: E402
    day_index,
    epoch_seconds,
    period_index,
    period_index_of,
    period_start_of_index,
)

_SPECIAL = [
    "1900-01-01 00:00", "1900-02-28 23:59:59.999999", "1900-03-01 00:00",  # 1900: no leap day
    "1969-12-31 23:59:59.999999", "1969-12-31 23:59:59.5", "1969-12-29 00:00", "1970-01-01 00:00",
    "1970-01-04 23:59:59.999999", "1970-01-05 00:00",  # the first Monday: week 0 starts
    "1999-12-31 23:59:59.999999", "2000-02-29 00:00", "2000-02-29 23:59:59.999999", "2000-03-01 00:00",
    "2024-02-29 12:00", "2024-12-31 23:59:59.999999", "2025-01-01 00:00", "2026-03-31 23:59:59.999999",
    "2026-06-30 23:59:59", "2026-09-28 00:00", "2026-10-04 23:59:59.999999", "2026-10-05 00:00",
    "2099-12-31 23:59:59.999999", "2100-02-28 23:59:59.999999", "2100-03-01 00:00", "2100-12-31 23:59:59.999999",
]


def _instants() -> pd.Series:
    """Random UTC instants 1900–2100 to the microsecond, month ends, Mondays and the special
    days above (leap days, a microsecond before midnight, before 1970)."""
    rng = np.random.default_rng(14)
    lo, hi = pd.Timestamp("1900-01-01", tz="UTC").value // 1000, pd.Timestamp("2101-01-01", tz="UTC").value // 1000
    random = pd.to_datetime(rng.integers(lo, hi, 20_000), unit="us", utc=True)
    month_ends = pd.date_range("1900-01-31", "2100-12-31", freq="ME", tz="UTC")
    before_midnight = month_ends + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    mondays = pd.date_range("1960-01-04", "2080-12-31", freq="W-MON", tz="UTC")
    sundays_late = mondays - pd.Timedelta(microseconds=1)
    special = pd.to_datetime(_SPECIAL, utc=True, format="ISO8601")
    stamps = [random, month_ends, before_midnight, mondays[::7], sundays_late[::7], special]
    return pd.Series(np.concatenate([s.tz_convert(None).as_unit("us").to_numpy() for s in stamps])).dt.tz_localize("UTC")


def _pandas_index(ts: pd.Series, period: str) -> np.ndarray:
    """The reference: pandas' own calendar periods, numbered from January 1970 / Monday 1970-01-05."""
    naive = ts.dt.tz_convert(None)
    if period == "D":
        return ((naive.dt.normalize() - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1)).to_numpy()
    freq = {"W": "W-SUN", "M": "M", "Q": "Q-DEC", "Y": "Y-DEC"}[period]
    origin = pd.Period({"W": "1970-01-05", "M": "1970-01", "Q": "1970Q1", "Y": "1970"}[period], freq)
    return np.array([(p - origin).n for p in naive.dt.to_period(freq)])


@pytest.mark.parametrize("portable", [False, True])
def test_period_index_matches_pandas_from_1900_to_2100(portable):
    import ibis

    ts = _instants()
    t = ibis.memtable(pd.DataFrame({"ts": ts, "row": np.arange(len(ts))}))
    got = t.select("row", **{p: period_index(t.ts, p, portable=portable) for p in "DWMQY"}) \
        .order_by("row").to_pandas()
    for p in "DWMQY":
        want = _pandas_index(ts, p)
        bad = np.flatnonzero(got[p].to_numpy() != want)
        assert bad.size == 0, (p, ts.iloc[bad[:5]].tolist(), got[p].to_numpy()[bad[:5]], want[bad[:5]])
    # a day number is the period index of "D"; weeks start on Monday
    assert (got["D"] == t.select(d=day_index(t.ts, portable=portable), row=t.row).order_by("row")
            .to_pandas()["d"]).all()
    assert period_start_of_index(got["W"], "W").dt.dayofweek.eq(0).all()


def test_period_index_of_naive_timestamps_dates_and_day_numbers_agree():
    import ibis
    import ibis.expr.datatypes as dt

    ts = _instants()
    t = ibis.memtable(pd.DataFrame({"ts": ts, "row": np.arange(len(ts))}))
    t = t.mutate(naive=t.ts.cast(dt.Timestamp()), day=t.ts.cast(dt.Timestamp()).date())
    t = t.mutate(number=day_index(t.ts))
    for p in "DWMQY":
        got = t.select("row", a=period_index(t.ts, p), b=period_index(t.naive, p), c=period_index(t.day, p),
                       d=period_index(t.number, p)).order_by("row").to_pandas()
        assert (got.a == got.b).all() and (got.a == got.c).all() and (got.a == got.d).all(), p
        # the pandas twin, one stamp at a time, on a few of them
        for stamp, value in list(zip(ts, got.a, strict=True))[-len(_SPECIAL):]:
            assert period_index_of(stamp, p) == value, (p, stamp)


def test_duckdb_epoch_is_ibis_epoch_seconds_without_the_zoned_cast():
    import ibis

    ts = _instants()
    frame = pd.DataFrame({"ts": ts, "row": np.arange(len(ts))})
    # an in-memory table or a literal may end up inside a PostgreSQL or Spark query: no
    # DuckDB function for them; a table of a DuckDB connection gets the fast path
    memory = ibis.memtable(frame)
    assert 'EPOCH("t0"."ts")' not in ibis.to_sql(memory.select(e=epoch_seconds(memory.ts)))
    stamp = ibis.literal(pd.Timestamp("2026-10-01", tz="UTC"))
    assert ibis.to_sql(epoch_seconds(stamp).name("e").as_table()) == ibis.to_sql(stamp.epoch_seconds().name("e").as_table())
    t = ibis.duckdb.connect().create_table("instants", frame)
    fast, portable = epoch_seconds(t.ts), epoch_seconds(t.ts, portable=True)
    assert fast.type() == portable.type() == t.ts.epoch_seconds().type()
    sql = ibis.to_sql(t.select(fast=fast, portable=portable))
    assert 'EPOCH("t0"."ts")' in sql and "AS TIMESTAMP)" in sql  # the portable one still casts
    got = t.select("row", fast=fast, portable=portable).order_by("row").to_pandas()
    assert (got.fast == got.portable).all()
    # whole seconds by a floor (before 1970 too); the fraction keeps the microseconds
    raw = t.select("row", s=fast // 1, frac=fast.cast("float64") - fast // 1).order_by("row").to_pandas()
    micros = ts.dt.tz_convert(None).to_numpy().astype("datetime64[us]").astype("int64")
    assert (raw.s.to_numpy() == np.floor_divide(micros, 1_000_000)).all()
    np.testing.assert_allclose(raw.frac.to_numpy(), np.mod(micros, 1_000_000) / 1e6, rtol=0, atol=1e-6)


def test_period_start_of_index_is_the_first_day_of_the_period():
    ts = _instants()
    for p, freq in {"D": "D", "W": "W-SUN", "M": "M", "Q": "Q-DEC", "Y": "Y-DEC"}.items():
        starts = period_start_of_index(_pandas_index(ts, p), p)
        want = ts.dt.tz_convert(None).dt.to_period(freq).dt.start_time
        assert (starts.to_numpy() == want.to_numpy()).all(), p
        assert str(starts.dtype) == "datetime64[ns]"
    with pytest.raises(ValueError, match="period must be"):
        period_start_of_index([1], "h")


@pytest.mark.parametrize("dialect", ["postgres", "pyspark"])
def test_the_portable_calendar_compiles_for_other_engines(dialect):
    import ibis
    import ibis.expr.datatypes as dt

    t = ibis.table({"ts": dt.Timestamp(timezone="UTC"), "d": dt.date}, name="events")
    for p in "DWMQY":
        sql = ibis.to_sql(t.select(i=period_index(t.ts, p, portable=True), j=period_index(t.d, p)), dialect=dialect)
        assert "epoch" in sql.lower() or "unix_timestamp" in sql.lower()
        assert "extract(year" not in sql.lower() and "date_trunc" not in sql.lower()
