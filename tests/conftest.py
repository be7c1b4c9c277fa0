"""Shared fixtures: a small generated sample, so notebook and report runs stay quick."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory) -> Path:
    """A 400-customer sample over the default period, written once per test session."""
    from kpilib.synth import write_sample

    out = tmp_path_factory.mktemp("small_sample")
    write_sample(out, customers=400, seed=11)
    return out


@pytest.fixture(scope="session")
def small_sample_report(tmp_path_factory, small_sample):
    """The repository's notebooks on :func:`small_sample`, the whole report for 2026-10 (two
    jobs): the run's result and its month folder, shared by the report and engine tests."""
    from kpilib import report as kr

    out = tmp_path_factory.mktemp("small_sample_report")
    result = kr.run_report("2026-10", source=small_sample, out=out, progress=False, jobs=2)
    return result, out / "2026-10"


@pytest.fixture(scope="session")
def glossary_cache(small_sample_report):
    """The executed glossary that :func:`small_sample_report` kept for reuse
    (``<out>/.cache``): a report whose ``out`` holds a copy reuses it, as a monthly run
    does, instead of running the glossary (which reads no data) again."""
    cache = small_sample_report[1].parent / ".cache"
    assert any(cache.glob("00_glossary-*.ipynb")), "the shared report kept no glossary"
    return cache


@pytest.fixture(scope="session")
def degenerate_orders():
    """~1 % repeat buyers: 3,000 one-order customers and 30 with two or three orders over two
    years — the shape that fails or penalises every CLV fit (used by the CLV and marketing
    tests; read it, do not change it)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    start, span = pd.Timestamp("2024-11-01", tz="UTC"), 730
    rows = [(f"c{i}", start + pd.Timedelta(days=float(rng.uniform(0, span))), float(rng.gamma(4, 10)))
            for i in range(3000)]
    for i in range(30):
        first = rng.uniform(0, span - 60)
        rows += [(f"r{i}", start + pd.Timedelta(days=float(first + k * rng.uniform(5, 25))), float(rng.gamma(4, 10)))
                 for k in range(int(rng.integers(2, 4)))]
    return pd.DataFrame(rows, columns=["customer_id", "ts", "amount"])
