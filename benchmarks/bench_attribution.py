"""Time ``kpilib.marketing.attribute`` (every model) on real-shaped data and print a table.

The run is the report's attribution cell: ``marketing_touchpoints(events, email)``, the
orders as conversions, every model of ``ATTRIBUTION_MODELS``, a 30-day lookback, a 7-day
half-life, the twelve months to 2026-10. Each size runs in a child process, so its peak
resident memory is its own; a time is the best of ``--repeat`` runs (the machine may be
shared).

On the sizes given to ``--check`` (e6 by default) the result is asserted equal (1e-9
relative) to the implementation it replaced, kept below as :func:`reference_attribute`:
journeys executed into pandas, weights per touch in pandas, Markov paths in pandas. That
reference joins conversions to touches with an OR in the condition, which DuckDB runs
as a nested loop (every conversion against every touch): 67 s at 10^7 events, and it did
not finish at 10^8. ``--reference`` also times it where it is checked.

Usage::

    python benchmarks/bench_attribution.py                  # e6 (checked) and e7
    python benchmarks/bench_attribution.py --large          # also e8 (10^8 events)
    python benchmarks/bench_attribution.py --check e6 e7 --reference --repeat 1
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

import kpilib
from kpilib import marketing
from kpilib.data import as_table
from kpilib.marketing._attribution import _numbered_conversions, _touchpoints
from kpilib.periods import duration_seconds, time_filter, to_utc

ROOT = Path("/tmp/bench")
#: The report's attribution cell for 2026-10 with its default parameters.
CELL = {"lookback": "30D", "half_life": "7D", "start": "2025-11", "end": "2026-11"}
_DAY = 86_400.0


# --------------------------------------------------------------------------------------
# The reference: attribute as it was before the engine did the weights and the counts
# --------------------------------------------------------------------------------------


def _reference_journeys(touchpoints, conversions, *, lookback, start, end) -> ibis.Table:
    seconds = duration_seconds(lookback, "lookback")
    conv = time_filter(_numbered_conversions(conversions), "ts", to_utc(start), to_utc(end))
    touch = _touchpoints(touchpoints).rename(t_customer_id="customer_id", touch_at="ts")
    joined = conv.left_join(touch, [
        conv.customer_id == touch.t_customer_id,
        touch.touch_at <= conv.ts,
        touch.touch_at > conv.ts - ibis.interval(seconds=int(seconds)),
        conv.previous_at.isnull() | (touch.touch_at > conv.previous_at),
    ])
    joined = joined.select("conversion_id", "customer_id", converted_at=joined.ts, amount=joined.amount,
                           touch_at=joined.touch_at, channel=joined.channel)
    journey = ibis.window(group_by=joined.conversion_id, order_by=[joined.touch_at, joined.channel])
    return joined.mutate(
        position=ibis.row_number().over(journey) + 1,
        touches=joined.channel.count().over(group_by=joined.conversion_id),
        days_before=(joined.converted_at.epoch_seconds() - joined.touch_at.epoch_seconds()).cast("float64") / _DAY,
    )


def _reference_idle(touchpoints, conversions, *, lookback, start, end) -> ibis.Table:
    seconds = duration_seconds(lookback, "lookback")
    conv = as_table(conversions, "orders")
    last = conv.group_by("customer_id").agg(last_conversion_at=conv.ts.max()).rename(l_customer_id="customer_id")
    touch = _touchpoints(touchpoints).rename(touch_at="ts")
    after = touch.left_join(last, touch.customer_id == last.l_customer_id)
    after = after.filter(after.last_conversion_at.isnull() | (after.touch_at > after.last_conversion_at))
    after = after.mutate(path_end=after.touch_at.max().over(group_by=after.customer_id))
    after = after.filter(after.touch_at > after.path_end - ibis.interval(seconds=int(seconds)))
    after = time_filter(after, "path_end", to_utc(start), to_utc(end))
    after = after.select("customer_id", "touch_at", "channel")
    return after.mutate(position=ibis.row_number().over(group_by=after.customer_id,
                                                        order_by=[after.touch_at, after.channel]) + 1)


def _reference_weights(journeys: pd.DataFrame, model: str, half_life, direct_channels) -> np.ndarray:
    n = journeys["touches"].to_numpy(dtype=float)
    k = journeys["position"].to_numpy(dtype=float)
    if model == "first_touch":
        return (k == 1).astype(float)
    if model == "last_touch":
        return (k == n).astype(float)
    if model == "linear":
        return 1.0 / n
    if model == "position_based":
        ends = (k == 1) | (k == n)
        return np.select([n == 1, n == 2, ends], [1.0, 0.5, 0.4], default=0.2 / np.maximum(n - 2, 1))
    if model == "time_decay":
        days = duration_seconds(half_life, "half_life") / _DAY
        raw = np.power(0.5, journeys["days_before"].to_numpy(dtype=float) / days)
        total = pd.Series(raw).groupby(journeys["conversion_id"].to_numpy()).transform("sum").to_numpy()
        return raw / total
    frame = pd.DataFrame({"id": journeys["conversion_id"].to_numpy(), "k": k,
                          "eligible": ~journeys["channel"].isin(list(direct_channels)).to_numpy()})
    any_eligible = frame.groupby("id")["eligible"].transform("any")
    last = frame["k"].where(frame["eligible"] | ~any_eligible).groupby(frame["id"]).transform("max")
    return (frame["k"] == last).to_numpy(dtype=float)


def _reference_removal_shares(paths: pd.DataFrame) -> pd.Series:
    paths = paths.sort_values(["path", "position"])
    previous = paths.groupby("path")["channel"].shift(1).fillna("(start)")
    steps = pd.DataFrame({"from": previous.to_numpy(), "to": paths["channel"].to_numpy()})
    ends = paths.groupby("path").agg(last=("channel", "last"), converted=("converted", "first"))
    finals = pd.DataFrame({"from": ends["last"].to_numpy(),
                           "to": np.where(ends["converted"], "(conversion)", "(null)")})
    counts = pd.concat([steps, finals]).value_counts(["from", "to"])
    channels = sorted(paths["channel"].unique())
    transient = ["(start)", *channels]
    index = {s: i for i, s in enumerate(transient)}

    def probability(removed: str | None) -> float:
        q = np.zeros((len(transient), len(transient)))
        to_conversion, out_total = np.zeros(len(transient)), np.zeros(len(transient))
        for (source, target), count in counts.items():
            out_total[index[source]] += count
            if target == "(conversion)":
                to_conversion[index[source]] += count
            elif target != "(null)":
                q[index[source], index[target]] += count
        q = np.divide(q, out_total[:, None], out=np.zeros_like(q), where=out_total[:, None] > 0)
        r = np.divide(to_conversion, out_total, out=np.zeros_like(to_conversion), where=out_total > 0)
        if removed is not None:
            q[index[removed], :], r[index[removed]] = 0.0, 0.0
        return float(np.linalg.solve(np.eye(len(transient)) - q, r)[0])

    base = probability(None) if channels else 0.0
    effect = [1 - probability(c) / base if base > 0 else 0.0 for c in channels]
    return pd.Series([e / sum(effect) if sum(effect) > 0 else np.nan for e in effect], index=channels)


def reference_attribute(touchpoints, conversions, models: Sequence[str], *, lookback="30D", half_life="7D",
                        direct_channels=("direct",), start=None, end=None) -> pd.DataFrame:
    """``kpilib.marketing.attribute`` as it was (commit e0391f9), the pandas implementation."""
    window = {"lookback": lookback, "start": start, "end": end}
    journeys = _reference_journeys(touchpoints, conversions, **window).order_by(["conversion_id", "position"]).execute()
    touched, untouched = journeys[journeys["touches"] > 0], journeys[journeys["touches"] == 0]
    channels = sorted(touched["channel"].astype(str).unique())
    total_conversions = journeys["conversion_id"].nunique()
    total_revenue = float(journeys.drop_duplicates("conversion_id")["amount"].sum())
    amounts = touched["amount"].to_numpy(dtype=float)
    frames = []
    for name in models:
        if name == "markov":
            idle = _reference_idle(touchpoints, conversions, **window).order_by(["customer_id", "position"]).execute()
            paths = pd.concat([
                pd.DataFrame({"path": "c" + touched["conversion_id"].astype(str), "position": touched["position"],
                              "channel": touched["channel"].astype(str), "converted": True}),
                pd.DataFrame({"path": "n" + idle["customer_id"].astype(str), "position": idle["position"],
                              "channel": idle["channel"].astype(str), "converted": False}),
            ], ignore_index=True)
            shares = _reference_removal_shares(paths).reindex(channels).fillna(0.0)
            revenue = float(touched.drop_duplicates("conversion_id")["amount"].sum())
            credit = pd.DataFrame({"conversions": shares * touched["conversion_id"].nunique(),
                                   "revenue": shares * revenue}, index=pd.Index(channels, name="channel"))
        else:
            weights = _reference_weights(touched, name, half_life, direct_channels)
            credit = pd.DataFrame({"channel": touched["channel"].astype(str).to_numpy(), "conversions": weights,
                                   "revenue": weights * amounts}).groupby("channel").sum()
            credit = credit.reindex(channels, fill_value=0.0)
        credit = credit.reset_index()
        if len(untouched):
            credit = pd.concat([credit, pd.DataFrame({"channel": [marketing.NO_TOUCH],
                                                      "conversions": [float(len(untouched))],
                                                      "revenue": [float(untouched["amount"].sum())]})])
        credit.insert(0, "model", name)
        frames.append(credit)
    out = pd.concat(frames, ignore_index=True).reindex(columns=["model", "channel", "conversions", "revenue"])
    out["conversions"] = out["conversions"].astype(float)
    out["revenue"] = out["revenue"].astype(float)
    out["conversion_share"] = out["conversions"] / total_conversions if total_conversions else np.nan
    out["revenue_share"] = out["revenue"] / total_revenue if total_revenue > 0 else np.nan
    return out


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


def best_of(repeat: int, call):
    """The smallest wall time of ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - began)
    return min(times), result


def measure(folder: Path, repeat: int, check: bool, reference: bool) -> dict:
    """One size, in this process: the row of the table."""
    ds = kpilib.load_dataset(folder)
    events = int(ds.events.count().execute())
    models = list(marketing.ATTRIBUTION_MODELS)

    def cell() -> pd.DataFrame:
        touches = marketing.marketing_touchpoints(ds.events, ds.email)
        return marketing.attribute(touches, ds.orders, models, **CELL)

    seconds, ours = best_of(repeat, cell)
    row = {"data": folder.name, "events": events, "seconds": seconds, "s per 10^6 events": seconds / events * 1e6,
           "peak RSS MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rows": len(ours)}
    if check:
        touches = marketing.marketing_touchpoints(ds.events, ds.email)
        before_s, before = best_of(1, lambda: reference_attribute(touches, ds.orders, models, **CELL))
        pd.testing.assert_frame_equal(ours, before, check_exact=False, rtol=1e-9, atol=0)
        row["equal to before"] = "yes"
        if reference:
            row["before s"] = before_s
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="folder holding e6, e7, e8 (default /tmp/bench)")
    parser.add_argument("--large", action="store_true", help="also e8 (10^8 events)")
    parser.add_argument("--check", nargs="*", default=["e6"], help="sizes checked against the reference (default e6)")
    parser.add_argument("--reference", action="store_true", help="also print the reference's time where checked")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:  # the child: one size, one JSON line
        print(json.dumps(measure(args.one, args.repeat, args.one.name in args.check, args.reference)))
        return
    rows = []
    for name in ["e6", "e7"] + (["e8"] if args.large else []):
        command = [sys.executable, __file__, "--one", str(args.root / name), "--repeat", str(args.repeat),
                   "--check", *args.check] + (["--reference"] if args.reference else [])
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    header = list(dict.fromkeys(h for row in rows for h in row))
    print(" | ".join(f"{h:>18}" for h in header))
    for row in rows:
        cells = [row.get(h, "") for h in header]
        print(" | ".join(f"{c:>18,.2f}" if isinstance(c, float) else f"{c:>18,}" if isinstance(c, int)
                         else f"{c:>18}" for c in cells))


if __name__ == "__main__":
    main()
