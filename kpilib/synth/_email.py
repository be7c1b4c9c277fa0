"""Email campaigns and their sends, shared by the profiles that write an ``email`` table."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from kpilib.synth._columns import UTC, strings, timestamps
from kpilib.synth._draws import GLOBAL_STREAM, iso

SCHEMA = pa.schema(
    [
        ("campaign", pa.string()),
        ("customer_id", pa.string()),
        ("sent_at", UTC),
        ("bounce", pa.string()),
        ("opened_at", UTC),
        ("clicked_at", UTC),
        ("unsubscribed_at", UTC),
        ("complained_at", UTC),
    ]
)


def email_campaigns(start: int, end: int, seed: int, params: dict) -> list[dict]:
    """The campaign calendar (``params["kinds"]`` each month) with each campaign's outcome
    probabilities, drawn around ``params["means"]`` with concentration
    ``params["campaign_concentration"]``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, GLOBAL_STREAM + 1]))
    means = params["means"]
    kappa = params["campaign_concentration"]
    first = np.datetime64(start, "s").astype("datetime64[M]")
    last = np.datetime64(end, "s").astype("datetime64[M]")
    campaigns = []
    for month in np.arange(first, last + 1):
        for spec in params["kinds"]:
            kind, day, hour = spec["kind"], spec["day_of_month"], spec["hour_utc"]
            sent = (month.astype("datetime64[D]") + (day - 1)).astype("datetime64[s]").astype(
                np.int64
            ) + hour * 3600
            if not start <= sent <= end - params["send_spread_seconds"]:
                continue
            probability = {
                k: round(float(rng.beta(m * kappa, (1 - m) * kappa)), 6) for k, m in means.items()
            }
            campaigns.append(
                {
                    "campaign": f"{month} {kind}",
                    "kind": kind,
                    "sent_at": iso(sent),
                    "sent_epoch": int(sent),
                    "probability": probability,
                }
            )
    return campaigns


def simulate_email(
    rng: np.random.Generator, campaigns: list[dict], end: int, params: dict, signup: np.ndarray
) -> dict[str, np.ndarray]:
    """Sends of every campaign to customers signed up before it and not suppressed (a hard
    bounce, an unsubscribe or a complaint stops later sends)."""
    delay = {k: v * 3600 for k, v in params["delay_mean_hours"].items()}
    n = len(signup)
    suppressed = np.full(n, np.iinfo(np.int64).max)
    parts: dict[str, list[np.ndarray]] = {
        k: []
        for k in (
            "campaign",
            "customer",
            "sent",
            "bounce",
            "opened",
            "clicked",
            "unsub",
            "complaint",
        )
    }
    for code, campaign in enumerate(campaigns):
        p = campaign["probability"]
        base = campaign["sent_epoch"]
        to = np.flatnonzero((signup < base) & (suppressed > base))
        m = len(to)
        sent = base + rng.integers(0, params["send_spread_seconds"], size=m)
        u = rng.random(m)
        bounce = np.where(
            u < p["hard_bounce"], 2, np.where(u < p["hard_bounce"] + p["soft_bounce"], 1, 0)
        )
        delivered = bounce == 0
        draws = rng.random((m, 4))
        waits = (
            np.round(
                rng.exponential(1.0, size=(m, 4))
                * [delay["open"], delay["click"], delay["unsubscribe"], delay["complaint"]]
            ).astype(np.int64)
            + 1
        )
        opened = sent + waits[:, 0]
        has_open = delivered & (draws[:, 0] < p["open"]) & (opened <= end)
        clicked = opened + waits[:, 1]
        has_click = has_open & (draws[:, 1] < p["click"]) & (clicked <= end)
        unsub = sent + waits[:, 2]
        has_unsub = delivered & (draws[:, 2] < p["unsubscribe"]) & (unsub <= end)
        complaint = sent + waits[:, 3]
        has_complaint = delivered & (draws[:, 3] < p["complaint"]) & (complaint <= end)
        stop = np.full(m, np.iinfo(np.int64).max)
        stop = np.where(bounce == 2, sent, stop)
        stop = np.minimum(stop, np.where(has_unsub, unsub, stop))
        stop = np.minimum(stop, np.where(has_complaint, complaint, stop))
        suppressed[to] = np.minimum(suppressed[to], stop)
        parts["campaign"].append(np.full(m, code))
        parts["customer"].append(to)
        parts["sent"].append(sent)
        parts["bounce"].append(bounce)
        parts["opened"].append(np.where(has_open, opened, -1))
        parts["clicked"].append(np.where(has_click, clicked, -1))
        parts["unsub"].append(np.where(has_unsub, unsub, -1))
        parts["complaint"].append(np.where(has_complaint, complaint, -1))
    empty = np.zeros(0, dtype=np.int64)
    return {k: np.concatenate(v) if v else empty for k, v in parts.items()}


def email_table(campaigns: list[dict], mail: dict[str, np.ndarray], cid: pa.Array) -> pa.Table:
    """The ``email`` table of one chunk's sends (``cid`` = the chunk's customer ids)."""
    return pa.Table.from_arrays(
        [
            strings([c["campaign"] for c in campaigns], mail["campaign"]),
            cid.take(pa.array(mail["customer"])),
            timestamps(mail["sent"]),
            strings(("none", "soft", "hard"), mail["bounce"]),
            timestamps(mail["opened"], mail["opened"] >= 0),
            timestamps(mail["clicked"], mail["clicked"] >= 0),
            timestamps(mail["unsub"], mail["unsub"] >= 0),
            timestamps(mail["complaint"], mail["complaint"] >= 0),
        ],
        schema=SCHEMA,
    )


def public_campaigns(campaigns: list[dict]) -> list[dict]:
    """The campaign calendar as written to ``truth.json`` (without the epoch seconds)."""
    return [{k: v for k, v in c.items() if k != "sent_epoch"} for c in campaigns]
