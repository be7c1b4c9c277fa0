"""Arrow columns from the integer codes and epoch seconds the simulations work in."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

NS = 1_000_000_000
UTC = pa.timestamp("ns", tz="UTC")


def strings(vocab: tuple[str, ...] | list[str], codes: np.ndarray) -> pa.Array:
    """Arrow string array of ``vocab[codes]``; negative codes become null."""
    codes = np.asarray(codes, dtype=np.int64)
    mask = codes < 0
    indices = pa.array(np.where(mask, 0, codes), mask=mask if mask.any() else None)
    return pa.array(list(vocab), type=pa.string()).take(indices)


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Arrow string array of ids such as ``C0000001`` (``prefix`` + zero-padded number)."""
    if len(numbers) == 0:
        return pa.array([], type=pa.string())
    return pa.array(
        np.char.add(prefix, np.char.zfill(numbers.astype("U"), width)), type=pa.string()
    )


def timestamps(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Arrow UTC timestamps (ns) from epoch seconds; ``valid`` False becomes null."""
    values = np.asarray(seconds, dtype=np.int64) * NS
    mask = None if valid is None or valid.all() else ~valid
    return pa.array(values, type=UTC, mask=mask)


SPEND_SCHEMA = pa.schema(
    [("date", pa.date32()), ("channel", pa.string()), ("cost", pa.float64()), ("campaign", pa.string())]
)


def spend_table(first_day: int, keys: list[tuple[str, str | None]], cost: np.ndarray) -> pa.Table:
    """The ``spend`` table of a (days × keys) cost grid; a key is (channel, campaign or None)
    and ``first_day`` is the epoch day of the grid's first row. Every day has a row per key."""
    n_days = cost.shape[0]
    days = np.repeat(np.arange(n_days) + first_day, len(keys))
    key = np.tile(np.arange(len(keys)), n_days)
    return pa.Table.from_arrays(
        [
            pa.array(days.astype(np.int32), type=pa.date32()),
            pa.array([keys[k][0] for k in key], type=pa.string()),
            pa.array(np.maximum(np.round(cost.reshape(-1), 2), 0.0), type=pa.float64()),
            pa.array([keys[k][1] for k in key], type=pa.string()),
        ],
        schema=SPEND_SCHEMA,
    )
