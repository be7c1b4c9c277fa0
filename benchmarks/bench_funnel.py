"""Funnel matching against hand-written DuckDB SQL of the same semantics, at growing sizes.

For each data size and variant (the whole funnel, and broken down by ``channel``) it
times :func:`kpilib.funnel.funnel` and the reference query below on the same DuckDB
connection, asserts that both give the same counts (users and open windows per step and
group), and prints a table: events, seconds of each, their ratio, kpilib seconds per
million events and the peak memory of the run. Each size runs in a child process of its
own (so the peak memory is that size's), each query three times alternately, best kept.
Not a test: timings on a shared machine are noisy, so they are read, not asserted.

    python benchmarks/bench_funnel.py                 # /tmp/bench/e6 and e7
    python benchmarks/bench_funnel.py --large         # also e8 (about 10^8 events)
    python benchmarks/bench_funnel.py --data DIR      # DIR/e6 … instead of /tmp/bench

A missing folder is generated first with :func:`kpilib.synth.write_sample`
(13 000, 130 000 or 1.3 M customers) into a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import kpilib
from kpilib.funnel import funnel
from kpilib.synth import write_sample

#: The issue's funnel: five ordered steps, a 30-day window.
STEPS = ["visit", "signup", "lead", "mql", "sql"]
WINDOW_DAYS = 30
SIZES = {"e6": 13_000, "e7": 130_000, "e8": 1_300_000}
VARIANTS = {"ordered": None, "by channel": "channel"}
REPEATS = 3


def hand_sql(path: Path, steps: list[str], window_days: int, by: str | None) -> str:
    """The reference: entry by a row number, then one ASOF join per step.

    Same semantics as ``funnel(events, steps, window=f"{window_days}D", by=by)`` for
    steps with distinct names (a repeated name would need the distinct-event rule): a user
    enters at their first step-1 event (ties ordered by ``by``, nulls last); step *k* is
    the earliest step-*k* event at or after step *k - 1*, inside ``[entry, entry +
    window)``; a window is open when it ends after the day after the latest event.
    """
    if len(set(steps)) < len(steps):
        raise ValueError("the reference query handles steps with distinct names only")
    source = f"read_parquet('{path / 'events.parquet'}')"
    names = ", ".join(f"'{s}'" for s in sorted(set(steps)))
    carried = f", {by}" if by else ""
    ranked = f"ts, {by}" if by else "ts"
    sql = [
        f"""WITH cutoff AS (
  SELECT CAST(date_trunc('day', CAST(max(ts) AS TIMESTAMP)) + INTERVAL 1 DAY AS TIMESTAMPTZ) AS as_of
  FROM {source}
),
ev AS (
  SELECT customer_id, ts, event{carried} FROM {source} WHERE event IN ({names})
),
s1 AS (
  SELECT customer_id{carried}, ts AS t1, ts + INTERVAL {window_days} DAY AS window_end
  FROM ev WHERE event = '{steps[0]}'
  QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY {ranked}) = 1
)"""
    ]
    for k in range(2, len(steps) + 1):
        sql.append(
            f""",
s{k} AS (
  SELECT p.*, CASE WHEN x.ts < p.window_end THEN x.ts END AS t{k}
  FROM s{k - 1} AS p
  ASOF LEFT JOIN (SELECT customer_id, ts FROM ev WHERE event = '{steps[k - 1]}') AS x
    ON p.customer_id = x.customer_id AND x.ts >= p.t{k - 1}
)"""
        )
    counts = []
    for k in range(1, len(steps) + 1):
        counts.append(f"count(t{k}) AS users_{k}")
        counts.append(f"count(t{k}) FILTER (WHERE window_end > (SELECT as_of FROM cutoff)) AS open_{k}")
    group = f" GROUP BY {by}" if by else ""
    sql.append(f"\nSELECT {by + ', ' if by else ''}{', '.join(counts)} FROM s{len(steps)}{group}")
    return "".join(sql)


def long_counts(wide: pd.DataFrame, steps: list[str], by: str | None) -> pd.DataFrame:
    """The reference's wide counts as funnel()'s rows: by, step_index, users, users_window_open."""
    keys = [by] if by else []
    rows = [
        {**{c: row[c] for c in keys}, "step_index": k, "users": int(row[f"users_{k}"]),
         "users_window_open": int(row[f"open_{k}"])}
        for _, row in wide.iterrows() for k in range(1, len(steps) + 1)
    ]
    return pd.DataFrame(rows).sort_values([*keys, "step_index"], na_position="last", ignore_index=True)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(folder: Path) -> list[dict]:
    """Time both queries on one folder, every variant; the rows of the table."""
    dataset = kpilib.load_dataset(folder)
    connection = dataset.events._find_backend().con
    events = int(dataset.events.count().execute())
    rows = []
    for variant, by in VARIANTS.items():
        reference = hand_sql(folder, STEPS, WINDOW_DAYS, by)
        ours, theirs = [], []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            result = funnel(dataset.events, STEPS, window=f"{WINDOW_DAYS}D", by=by)
            t1 = time.perf_counter()
            wide = connection.sql(reference).df()
            t2 = time.perf_counter()
            ours.append(t1 - t0)
            theirs.append(t2 - t1)
        keys = [by] if by else []
        got = result[[*keys, "step_index", "users", "users_window_open"]].sort_values(
            [*keys, "step_index"], na_position="last", ignore_index=True)
        pd.testing.assert_frame_equal(got, long_counts(wide, STEPS, by), check_dtype=False)
        rows.append({
            "data": folder.name,
            "variant": variant,
            "events": events,
            "kpilib s": min(ours),
            "hand SQL s": min(theirs),
            "ratio": min(ours) / min(theirs),
            "kpilib s / M events": min(ours) / events * 1e6,
            "peak RSS MB": peak_rss_mb(),
        })
    return rows


def run_size(name: str, data: Path) -> list[dict]:
    """Measure one size in a child process (its own peak memory), generating it if missing."""
    folder = data / name
    with tempfile.TemporaryDirectory() as scratch:
        if not (folder / "events.parquet").exists():
            folder = Path(scratch) / name
            write_sample(folder, customers=SIZES[name], seed=1)
        child = subprocess.run([sys.executable, __file__, "--one", str(folder)], check=True,
                               capture_output=True, text=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also run e8 (about 10^8 events)")
    parser.add_argument("--data", type=Path, default=Path("/tmp/bench"), help="folder holding e6, e7, e8")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # the child: one folder, JSON out
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    header = None
    for name in ["e6", "e7"] + (["e8"] if args.large else []):
        for row in run_size(name, args.data):  # each size's rows as soon as they are measured
            if header is None:
                header = list(row)
                print(" | ".join(f"{h:>19}" for h in header), flush=True)
            print(" | ".join(f"{row[h]:>19,.2f}" if isinstance(row[h], float) else f"{row[h]:>19,}"
                             if isinstance(row[h], int) else f"{row[h]:>19}" for h in header), flush=True)


if __name__ == "__main__":
    main()
