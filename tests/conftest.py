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
