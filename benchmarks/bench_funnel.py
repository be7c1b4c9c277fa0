"""Scale run: load + validate a folder source and compute the funnel, at growing sizes.

Prints a table of seconds and peak memory per stage. Not a test: timings on a shared
machine are noisy, so they are read, not asserted.

    python benchmarks/bench_funnel.py            # 10^4 and 10^5 customers
    python benchmarks/bench_funnel.py --large    # also 10^6 (about 100 M events)
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import kpilib
from kpilib.funnel import funnel
from kpilib.synth import write_sample

STEPS = ["visit", "signup", "lead", "mql", "sql", "purchase"]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(customers: int, folder: Path) -> dict:
    """Time the stages at one size; returns a row of the table."""
    t0 = time.perf_counter()
    write_sample(folder, customers=customers, seed=1)
    t1 = time.perf_counter()
    dataset = kpilib.load_dataset(folder)
    t2 = time.perf_counter()
    events = int(dataset.events.count().execute())
    result = funnel(dataset.events, STEPS, window="14D", by="channel")
    t3 = time.perf_counter()
    return {
        "customers": customers,
        "events": events,
        "generate s": t1 - t0,
        "load+validate s": t2 - t1,
        "funnel by channel s": t3 - t2,
        "result rows": len(result),
        "peak RSS MB": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also run 10^6 customers")
    args = parser.parse_args()
    sizes = [10_000, 100_000] + ([1_000_000] if args.large else [])
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            rows.append(run(size, Path(folder)))
    header = list(rows[0])
    print(" | ".join(f"{h:>20}" for h in header))
    for row in rows:
        print(" | ".join(f"{row[h]:>20,.2f}" if isinstance(row[h], float) else f"{row[h]:>20,}" for h in header))


if __name__ == "__main__":
    main()
