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
