"""The arguments every profile checks and the head of every ``truth.json``."""

from __future__ import annotations

from kpilib.synth._draws import iso, seconds

#: Version of the ``truth.json`` layout.
VERSION = 1


def period(customers: int, start: str, end: str) -> tuple[int, int]:
    """Check the arguments; return the first and last second of the data (UTC)."""
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers!r}")
    start_s = seconds(start)
    end_s = seconds(end, end_of_day=True)
    if end_s <= start_s:
        raise ValueError(f"end ({end}) must not be before start ({start})")
    return start_s, end_s


def header(
    profile: str,
    tables: tuple[str, ...],
    *,
    customers: int,
    seed: int,
    start: str,
    end: str,
    chunk_persons: int,
) -> dict:
    """``version``, ``profile``, ``tables`` (those written) and ``generator`` (the call)."""
    start_s, end_s = period(customers, start, end)
    return {
        "version": VERSION,
        "profile": profile,
        "tables": list(tables),
        "generator": {
            "module": "kpilib.synth",
            "customers_target": customers,
            "seed": seed,
            "start": start,
            "end": end,
            "start_at": iso(start_s),
            "end_at": iso(end_s),
            "chunk_persons": chunk_persons,
        },
    }
