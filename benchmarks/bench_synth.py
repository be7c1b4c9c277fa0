"""Time :func:`kpilib.synth.write_sample` at growing sizes and print a table.

Each size runs in a fresh subprocess so that its peak RSS is its own.

Usage::

    python benchmarks/bench_synth.py            # 10^4 and 10^5 customers
    python benchmarks/bench_synth.py --large    # also 10^6
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from kpilib.synth import TABLES

_CHILD = """
import json, resource, sys, time
from kpilib.synth import write_sample
began = time.perf_counter()
truth = write_sample(sys.argv[1], customers=int(sys.argv[2]))
seconds = time.perf_counter() - began
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "rows": truth["realized"]["rows"]}))
"""


def measure(customers: int) -> dict:
    """Run one generation in a subprocess and return its timings, rows and size."""
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, folder, str(customers)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(done.stdout)
        result["mb_on_disk"] = sum(p.stat().st_size for p in Path(folder).iterdir()) / 2**20
    result["customers"] = customers
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also run 1,000,000 customers")
    args = parser.parse_args(argv)
    sizes = [10_000, 100_000] + ([1_000_000] if args.large else [])
    header = ["customers", "seconds", "peak_MB", "disk_MB", *TABLES]
    print(" ".join(f"{h:>13}" for h in header))
    for size in sizes:
        r = measure(size)
        cells = [
            r["customers"],
            f"{r['seconds']:.1f}",
            f"{r['peak_mb']:.0f}",
            f"{r['mb_on_disk']:.1f}",
        ]
        cells += [r["rows"][t] for t in TABLES]
        print(" ".join(f"{c:>13}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
