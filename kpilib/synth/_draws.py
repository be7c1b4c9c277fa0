"""Calendar seconds and the random draws every profile shares."""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY = 86_400
#: Offset of the random streams that are not a chunk's; chunk indices stay below it.
GLOBAL_STREAM = 2**31


def seconds(value: str, *, end_of_day: bool = False) -> int:
    """Seconds since the epoch (UTC) of a date string, at 00:00:00 or 23:59:59."""
    day = np.datetime64(pd.Timestamp(value).date(), "D")
    return int(day.astype("datetime64[s]").astype(np.int64)) + (DAY - 1 if end_of_day else 0)


def iso(second: int) -> str:
    """ISO 8601 text (UTC) of an epoch second."""
    return pd.Timestamp(int(second), unit="s", tz="UTC").isoformat()


def day_weights(start: int, n_days: int, params: dict) -> np.ndarray:
    """Relative arrival intensity of each day (trend × season × weekday)."""
    days = np.arange(n_days)
    dates = np.datetime64(start, "s").astype("datetime64[D]") + days
    day_of_year = (dates - dates.astype("datetime64[Y]")).astype(np.int64)
    weekday = (dates.astype(np.int64) + 3) % 7  # 0 = Monday
    trend = 1 + params["growth_per_year"] * days / 365.25
    season = 1 + params["seasonality_amplitude"] * np.cos(
        2 * np.pi * (day_of_year - params["seasonality_peak_day_of_year"]) / 365.25
    )
    weekend = np.where(weekday >= 5, params["weekend_factor"], 1.0)
    weights = trend * season * weekend
    return weights / weights.sum()


def draw(rng: np.random.Generator, probabilities: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Categorical draws, one per row, from ``probabilities[rows]`` (rows of a 2-D table)."""
    cdf = np.cumsum(probabilities, axis=1)
    cdf[:, -1] = 1.0
    u = rng.random(len(rows))
    return (u[:, None] >= cdf[rows]).sum(axis=1)


def draw_from(rng: np.random.Generator, mix: dict, size: int) -> np.ndarray:
    """``size`` categorical draws from one ``{name: probability}`` mix (codes in its order)."""
    return draw(rng, np.array([list(mix.values())]), np.zeros(size, dtype=np.int64))
