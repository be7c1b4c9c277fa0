"""Time kpilib's CLV summary and fits against lifetimes', side by side, and print a table.

1. ``kpilib.clv.rfm_summary`` (one Ibis aggregation, DuckDB via a memtable for a pandas
   input, validation included — the whole call) against
   ``lifetimes.utils.summary_data_from_transaction_data`` on the same pandas DataFrame of
   orders, with monetary values; the two results are checked equal.
   For reference, the same aggregation hand-written in DuckDB SQL over the DataFrame (no
   validation, no Ibis) is timed beside them.
2. ``kpilib.clv.calibration_holdout_summary`` against
   ``lifetimes.utils.calibration_and_holdout_data`` (first 18 months calibration, the rest
   holdout), likewise checked equal.
3. BG/NBD fitted on the unique (frequency, recency, T) rows with weights
   (``kpilib.clv.fit_bgnbd``) against lifetimes' plain fit on one row per customer, on the
   summary in days and in weeks; the parameters are checked equal. The speed-up follows
   the compression: two years in days leave many distinct rows, in weeks few.

Orders are simulated from a BG/NBD model over two years (about 2.7 orders per customer),
times to the second, amounts Gamma distributed. Each timing is the best of ``--repeat`` runs
(the machine may be shared).

Usage::

    python benchmarks/bench_clv.py              # 10^5 and 10^6 customers
    python benchmarks/bench_clv.py --sizes 100000 --repeat 1
"""

from __future__ import annotations

import argparse
import time
import warnings

import duckdb
import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter
from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

from kpilib import clv

#: The RFM summary in plain DuckDB SQL over a DataFrame named ``orders`` (naive UTC times,
#: days): the reference point for what the Ibis expression and its checks cost on top.
HAND_WRITTEN_SQL = """
WITH periods AS (
    SELECT customer_id, CAST(epoch_us(ts) // 86400000000 AS INTEGER) AS period,
           SUM(CAST(amount AS DECIMAL(18, 6))) AS amount
    FROM orders GROUP BY customer_id, period
), customers AS (
    SELECT customer_id, MIN(period) AS first, MAX(period) AS last, COUNT(*) AS periods,
           SUM(amount) AS total, ARG_MIN(amount, period) AS first_amount
    FROM periods GROUP BY customer_id
)
SELECT customer_id, periods - 1.0 AS frequency, CAST(last - first AS DOUBLE) AS recency,
       CAST((SELECT MAX(last) FROM customers) - first AS DOUBLE) AS T,
       CASE WHEN periods > 1 THEN CAST((total - first_amount) / (periods - 1) AS DOUBLE) ELSE 0.0 END
           AS monetary_value
FROM customers ORDER BY customer_id
"""


def hand_written(orders: pd.DataFrame) -> pd.DataFrame:
    con = duckdb.connect()
    con.register("orders", orders)
    return con.sql(HAND_WRITTEN_SQL).df().set_index("customer_id")


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


def best_of(repeat: int, call):
    """The smallest wall time of ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - began)
    return min(times), result


def measure(customers: int, repeat: int) -> list[dict]:
    orders = make_orders(customers)
    clv.rfm_summary(orders.head(1000), monetary_value_col="amount")  # connect and import outside the timing
    ours_s, ours = best_of(repeat, lambda: clv.rfm_summary(orders, monetary_value_col="amount"))
    theirs_s, theirs = best_of(repeat, lambda: summary_data_from_transaction_data(
        orders, "customer_id", "ts", monetary_value_col="amount"))
    pd.testing.assert_frame_equal(ours, theirs, check_exact=False, rtol=1e-12)
    sql_s, by_hand = best_of(repeat, lambda: hand_written(orders))
    pd.testing.assert_frame_equal(by_hand, theirs, check_exact=False, rtol=1e-12)

    cal_end = "2025-06-30"
    split_s, split = best_of(repeat, lambda: clv.calibration_holdout_summary(orders, cal_end, monetary_value_col="amount"))
    their_split_s, their_split = best_of(repeat, lambda: calibration_and_holdout_data(
        orders, "customer_id", "ts", cal_end, monetary_value_col="amount"))
    pd.testing.assert_frame_equal(split, their_split, check_exact=False, rtol=1e-12)

    fits = []
    for unit, summary in (("days", ours), ("weeks", clv.rfm_summary(orders, period="W"))):
        weighted_s, weighted = best_of(repeat, lambda summary=summary: clv.fit_bgnbd(summary))
        plain_s, plain = best_of(repeat, lambda summary=summary: BetaGeoFitter().fit(
            summary["frequency"], summary["recency"], summary["T"]))
        same = np.allclose(weighted.params_.to_numpy(), plain.params_.to_numpy(), rtol=1e-4)
        unique = len(clv.compress_rfm(summary))
        fits.append(
            {"customers": customers, "orders": len(orders), "task": f"BG/NBD fit, {unit}",
             "kpilib_s": weighted_s, "lifetimes_s": plain_s, "speed_up": plain_s / weighted_s, "equal": bool(same),
             "note": f"{unique:,} unique (x, t_x, T) rows with weights"})
    return [
        {"customers": customers, "orders": len(orders), "task": "RFM summary",
         "kpilib_s": ours_s, "lifetimes_s": theirs_s, "speed_up": theirs_s / ours_s, "equal": True,
         "note": "Ibis→DuckDB, whole call incl. validation"},
        {"customers": customers, "orders": len(orders), "task": "RFM summary, hand-written SQL",
         "kpilib_s": sql_s, "lifetimes_s": theirs_s, "speed_up": theirs_s / sql_s, "equal": True,
         "note": "reference: DuckDB SQL on the DataFrame, no checks"},
        {"customers": customers, "orders": len(orders), "task": "calibration/holdout",
         "kpilib_s": split_s, "lifetimes_s": their_split_s, "speed_up": their_split_s / split_s, "equal": True,
         "note": f"calibration to {cal_end}, holdout after"},
    ] + fits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="customers")
    parser.add_argument("--repeat", type=int, default=2, help="runs per timing; the best is kept")
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    rows = [row for size in args.sizes for row in measure(size, args.repeat)]
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.to_string(index=False, formatters={
            "customers": "{:,}".format, "orders": "{:,}".format, "kpilib_s": "{:.2f}".format,
            "lifetimes_s": "{:.2f}".format, "speed_up": "{:.1f}×".format}))


if __name__ == "__main__":
    main()
