"""Time kpilib's CLV summary and fits against hand-written DuckDB SQL and lifetimes', side by side, and print a table.

1. ``kpilib.clv.rfm_summary`` (the whole call: one Ibis aggregation, DuckDB via a memtable
   for a pandas input, validation included) against the same aggregation hand-written in
   DuckDB SQL (:data:`HAND_WRITTEN_SQL`: no validation, no Ibis) — the reference row the
   summary should stay within 1.3× of — and against
   ``lifetimes.utils.summary_data_from_transaction_data``. For both kinds of ids (integer
   ids with times at midnight, text ids with times to the second), from a pandas
   DataFrame and from Parquet (read by ``kpilib.load_dataset``, validated on load, not
   timed; the SQL reads the file itself), in days without a cut-off and in calendar weeks
   with one. The three results are checked equal (frequency, recency and T exactly, the
   hand SQL's monetary value too; lifetimes' to 1e-12).
   ``--parquet`` adds the orders of data folders such as ``/tmp/bench/e7`` (text ids).
2. ``kpilib.clv.calibration_holdout_summary`` against
   ``lifetimes.utils.calibration_and_holdout_data`` (first 18 months calibration, the rest
   holdout), likewise checked equal.
3. BG/NBD fitted on the unique (frequency, recency, T) rows with weights
   (``kpilib.clv.fit_bgnbd``) against lifetimes' plain fit on one row per customer, on the
   summary in days and in weeks; the parameters are checked equal. The speed-up follows
   the compression: two years in days leave many distinct rows, in weeks few.

Orders are simulated from a BG/NBD model over two years (about 2.7 orders per customer),
times to the second, amounts Gamma distributed. Each timing is the best of ``--repeat`` runs
(kpilib's and the SQL's runs alternate; the machine may be shared, so the process CPU
times are printed too: ``cpu_ratio`` is kpilib's over the SQL's).

Usage::

    python benchmarks/bench_clv.py              # 10^5 and 10^6 customers
    python benchmarks/bench_clv.py --sizes 100000 --repeat 1 --parquet /tmp/bench/e7
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter
from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

import kpilib
from kpilib import clv

#: The RFM summary in plain DuckDB SQL (what ``rfm_summary`` computes): orders of one
#: customer in one period are one transaction worth their sum (exact decimals), frequency
#: the periods after the first, recency and T in periods from the first, T to the last
#: period observed (the latest order's, or the one before the cut-off), monetary value
#: the mean of the periods after the first. ``{source}`` is a DataFrame's name or
#: ``read_parquet(…)``, ``{where}`` the cut-off filter, ``{end}`` the last period observed.
HAND_WRITTEN_SQL = """
WITH periods AS (
    SELECT customer_id, {period} AS period, SUM(CAST(amount AS DECIMAL(18, 6))) AS amount
    FROM {source} {where}
    GROUP BY customer_id, period
), customers AS (
    SELECT customer_id, MIN(period) AS first, MAX(period) AS last, COUNT(*) AS periods,
           SUM(amount) AS total, ARG_MIN(amount, period) AS first_amount
    FROM periods GROUP BY customer_id
)
SELECT customer_id, CAST(periods - 1 AS DOUBLE) AS frequency, CAST(last - first AS DOUBLE) AS recency,
       CAST({end} - first AS DOUBLE) AS T,
       CASE WHEN periods > 1
            THEN (CAST(total AS DOUBLE) - CAST(first_amount AS DOUBLE)) / (periods - 1) ELSE 0.0 END
           AS monetary_value
FROM customers ORDER BY customer_id
"""

#: Day and week (Monday–Sunday: 1970-01-01 was a Thursday) numbers of ``ts``; the data
#: start after 1970, so integer division (which truncates) floors.
PERIOD_SQL = {"D": "CAST(epoch_us(ts) // 86400000000 AS INTEGER)",
              "W": "CAST((epoch_us(ts) // 86400000000 + 3) // 7 AS INTEGER)"}

#: The summaries timed: (period, exclusive cut-off or None). 2025-10-06 is a Monday.
CASES = [("D", None), ("W", "2025-10-06")]


def hand_written(source: pd.DataFrame | Path, period: str = "D", as_of: str | None = None) -> pd.DataFrame:
    """:data:`HAND_WRITTEN_SQL` over a DataFrame (naive UTC times) or a Parquet file."""
    con = duckdb.connect()
    if isinstance(source, pd.DataFrame):
        con.register("orders", source)
        relation, stamp = "orders", "TIMESTAMP"
    else:
        relation, stamp = f"read_parquet('{source}')", "TIMESTAMPTZ"
    where, end = "", "(SELECT MAX(last) FROM customers)"
    if as_of is not None:
        cutoff = pd.Timestamp(as_of)
        where = f"WHERE ts < {stamp} '{cutoff}'"
        last_day = (cutoff.value // 1000 - 1) // 86_400_000_000  # the day of the last instant before it
        end = str(last_day if period == "D" else (last_day + 3) // 7)
    sql = HAND_WRITTEN_SQL.format(period=PERIOD_SQL[period], source=relation, where=where, end=end)
    return con.sql(sql).df().set_index("customer_id")


def make_orders(customers: int, seed: int = 0) -> pd.DataFrame:
    """BG/NBD orders (r 0.6, α 40 days, a 0.8, b 4) over 2024–2025: first orders spread over
    the first year, string ids, naive UTC times to the second, Gamma amounts."""
    rng = np.random.default_rng(seed)
    horizon = 730 * 86_400
    rate = rng.gamma(0.6, 1 / 40.0, customers) / 86_400  # per second
    dropout = rng.beta(0.8, 4.0, customers)
    alive = np.arange(customers)
    t = rng.integers(0, 365 * 86_400, customers).astype(float)
    ids, times = [alive], [t]
    while len(alive):
        t = t + rng.exponential(1 / rate[alive])
        inside = t < horizon
        alive, t = alive[inside], t[inside]
        ids.append(alive)
        times.append(t)
        stays = rng.random(len(alive)) >= dropout[alive]
        alive, t = alive[stays], t[stays]
    ids, seconds = np.concatenate(ids), np.concatenate(times).astype("int64")
    return pd.DataFrame({
        "customer_id": pd.Series(ids).map("C{:09d}".format),
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(seconds, unit="s"),
        "amount": rng.gamma(2.0, 20.0, len(ids)).round(2),
    })


def integer_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """The same orders with integer ids and their times at midnight (dates)."""
    return pd.DataFrame({"customer_id": orders["customer_id"].str[1:].astype("int64"),
                         "ts": orders["ts"].dt.floor("D"), "amount": orders["amount"]})


def timed(call):
    """Wall and process CPU seconds of one call (CPU adds every engine thread), and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def best_of(repeat: int, *calls):
    """For each call: the smallest wall and CPU time of ``repeat`` runs, and the last result.
    The calls' runs alternate, so a load that comes and goes falls on all of them."""
    best = [[np.inf, np.inf, None] for _ in calls]
    for _ in range(repeat):
        for slot, call in zip(best, calls, strict=True):
            wall, cpu, slot[2] = timed(call)
            slot[0], slot[1] = min(slot[0], wall), min(slot[1], cpu)
    return best


def assert_same(ours: pd.DataFrame, other: pd.DataFrame, rtol: float = 0.0) -> None:
    """Equal index and columns; frequency, recency and T exactly, monetary value to ``rtol``.
    Integer ids read from a file are text in kpilib (the contract's ids): the SQL's
    integers are compared as text, in text order."""
    if ours.index.dtype == object and other.index.dtype.kind in "iu":
        other = other.set_axis(other.index.astype(str), axis=0).sort_index()
    pd.testing.assert_index_equal(ours.index, other.index)
    exact = ["frequency", "recency", "T"]
    pd.testing.assert_frame_equal(ours[exact], other[exact], check_exact=True)
    pd.testing.assert_frame_equal(ours, other, check_exact=rtol == 0.0, rtol=rtol or 1e-5, atol=0.0)


def parquet_source(orders: pd.DataFrame | Path, folder: Path) -> tuple[Path, object]:
    """``orders`` as ``folder/orders.parquet`` (times as UTC) or a link to an existing file,
    and its table as ``kpilib.load_dataset`` gives it (validated on load)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "orders.parquet"
    if isinstance(orders, pd.DataFrame):
        orders.assign(ts=orders["ts"].dt.tz_localize("UTC")).to_parquet(path, index=False)
    else:
        path.symlink_to(orders)
    return path, kpilib.load_dataset(folder).orders


def summary_rows(ids: str, frame: pd.DataFrame | None, path: Path, table, repeat: int) -> list[dict]:
    """The RFM summary rows of one set of orders: kpilib, hand SQL and (for a DataFrame)
    lifetimes, each case of :data:`CASES`, results checked equal."""
    rows = []
    source = frame if frame is not None else table
    for period, as_of in CASES:
        (ours_s, ours_cpu, ours), (sql_s, sql_cpu, by_hand) = best_of(
            repeat,
            partial(clv.rfm_summary, source, monetary_value_col="amount", period=period, as_of=as_of),
            partial(hand_written, frame if frame is not None else path, period, as_of))
        assert_same(ours, by_hand)
        theirs_s = np.nan
        if frame is not None:
            end = None if as_of is None else str((pd.Timestamp(as_of) - pd.Timedelta(days=1)).date())
            theirs_s, _, theirs = best_of(repeat, partial(
                summary_data_from_transaction_data, frame, "customer_id", "ts", monetary_value_col="amount",
                freq=period, observation_period_end=end))[0]
            assert_same(ours, theirs, rtol=1e-12)
        rows.append({
            "customers": len(ours), "orders": None, "task": f"RFM summary, {period}"
            + (f" to {as_of}" if as_of else ""), "input": f"{'pandas' if frame is not None else 'Parquet'}, {ids}",
            "kpilib_s": ours_s, "sql_s": sql_s, "vs_sql": ours_s / sql_s, "cpu_vs_sql": ours_cpu / sql_cpu,
            "lifetimes_s": theirs_s, "speed_up": theirs_s / ours_s})
    return rows


def measure(customers: int, repeat: int, workdir: Path) -> list[dict]:
    orders = make_orders(customers)
    clv.rfm_summary(orders.head(1000), monetary_value_col="amount")  # connect and import outside the timing
    rows = []
    for ids, frame in (("integer ids, dates", integer_orders(orders)), ("text ids, seconds", orders)):
        path, table = parquet_source(frame, workdir / f"{customers}-{ids.split()[0]}")
        rows += summary_rows(ids, frame, path, None, repeat)
        rows += summary_rows(ids, None, path, table, repeat)

    cal_end = "2025-06-30"
    (split_s, _, split), (their_split_s, _, their_split) = best_of(
        repeat, lambda: clv.calibration_holdout_summary(orders, cal_end, monetary_value_col="amount"),
        lambda: calibration_and_holdout_data(orders, "customer_id", "ts", cal_end, monetary_value_col="amount"))
    pd.testing.assert_frame_equal(split, their_split, check_exact=False, rtol=1e-12)
    rows.append({"task": "calibration/holdout", "input": "pandas, text ids, seconds", "kpilib_s": split_s,
                 "lifetimes_s": their_split_s, "speed_up": their_split_s / split_s,
                 "note": f"calibration to {cal_end}, holdout after"})

    for unit, period in (("days", "D"), ("weeks", "W")):
        summary = clv.rfm_summary(orders, period=period)
        (weighted_s, _, weighted), (plain_s, _, plain) = best_of(
            repeat, lambda summary=summary: clv.fit_bgnbd(summary),
            lambda summary=summary: BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"]))
        same = np.allclose(weighted.params_.to_numpy(), plain.params_.to_numpy(), rtol=1e-4)
        rows.append({"task": f"BG/NBD fit, {unit}", "input": "summary", "kpilib_s": weighted_s,
                     "lifetimes_s": plain_s, "speed_up": plain_s / weighted_s,
                     "note": f"{len(clv.compress_rfm(summary)):,} unique (x, t_x, T) rows with weights"
                     + ("" if same else "; PARAMETERS DIFFER")})
    for row in rows:
        row["customers"] = row.get("customers") or customers
        row["orders"] = len(orders)
    return rows


def measure_folder(folder: Path, repeat: int, workdir: Path) -> list[dict]:
    """The summary rows of a data folder's ``orders.parquet`` (text ids)."""
    path, table = parquet_source(folder / "orders.parquet", workdir / folder.name)
    rows = summary_rows(f"text ids ({folder})", None, path, table, repeat)
    for row in rows:
        row["orders"] = int(table.count().execute())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="customers")
    parser.add_argument("--parquet", type=Path, nargs="*", default=[], help="data folders with orders.parquet")
    parser.add_argument("--repeat", type=int, default=2, help="runs per timing; the best is kept")
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    with tempfile.TemporaryDirectory() as workdir:
        rows = [row for size in args.sizes for row in measure(size, args.repeat, Path(workdir))]
        rows += [row for folder in args.parquet for row in measure_folder(folder, args.repeat, Path(workdir))]
    table = pd.DataFrame(rows).reindex(columns=[
        "customers", "orders", "task", "input", "kpilib_s", "sql_s", "vs_sql", "cpu_vs_sql", "lifetimes_s",
        "speed_up", "note"]).fillna({"note": ""})
    seconds = "{:.2f}".format
    times = "{:.2f}×".format
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60):
        print(table.to_string(index=False, na_rep="", formatters={
            "customers": "{:,}".format, "orders": "{:,}".format, "kpilib_s": seconds, "sql_s": seconds,
            "lifetimes_s": seconds, "vs_sql": times, "cpu_vs_sql": times, "speed_up": "{:.1f}×".format}))


if __name__ == "__main__":
    main()
