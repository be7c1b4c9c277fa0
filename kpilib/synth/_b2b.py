"""The ``b2b-leads`` profile: a B2B software vendor's CRM export.

A few hundred leads a year come in through the website (organic, paid search, LinkedIn
ads as ``social``), trade shows and partner referrals. Marketing qualifies some (MQL),
sales accepts some of those (SQL) and wins a few deals after weeks to months. There is no
self-serve product, so no product usage; revenue sits in the deals, not in orders; the
marketing-automation tool's email and any surveys are not part of the export.

Tables: ``customers`` (one row per lead: ``signup_at`` is when the lead was created,
``channel`` its source; with ``segment`` and ``country`` — firmographics a CRM keeps),
``events`` (``lead``, ``mql``, ``sql``, ``won``; the ``won`` rows carry ``deal_value``)
and ``spend`` (trade-show rows carry the show as ``campaign``). No ``orders``,
``subscriptions``, ``email`` or ``surveys``. Lead ids start with ``L``.

Notes
-----
How the pieces are drawn (every number is in ``truth.json``):

* **Leads.** Exactly ``customers`` leads; the source follows ``leads.channel_mix``.
  Trade-show leads belong to one of the shows in ``leads.trade_shows`` (uniformly) and
  are created within ``leads.trade_show_capture_days`` after it; the others arrive on
  days weighted by a growth trend, a yearly season and a deep weekend dip.
* **Funnel.** Step *k* (``mql``, ``sql``, ``won``) succeeds with
  ``funnel.step_probability[channel][step]`` given the previous one, after a lognormal
  delay of median ``funnel.delay.median_days[step] × funnel.delay.segment_factor[segment]``
  and log-sd ``funnel.delay.sigma[step]``, clipped at ``funnel.delay.cap_days[step]``.
  Steps after the end of data are censored: leads created at least
  ``funnel.journey_max_days`` before the end have had their whole chance. The median
  lead-to-won time of won deals, ``funnel.sales_cycle_median_days``, is a Monte Carlo
  figure of these delays (segments are independent of the outcome, so won deals have the
  segment mix of leads).
* **Deals.** A won deal's ``deal_value`` is lognormal with median
  ``deals.median_value[segment]`` and log-sd ``deals.sigma``.
* **Spend.** Paid search, social and organic (content) cost a noisy daily amount scaled
  so that the channel's total spend over its leads is ``marketing.cost_per_lead``
  exactly; each trade show costs ``cost_per_lead.trade_show`` per lead it brought, on
  the show day; referral partners earn ``marketing.referral_fee_rate`` of the deal value
  on the day a referred deal is won.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kpilib.synth._columns import SPEND_SCHEMA, UTC, ids, strings, timestamps
from kpilib.synth._draws import DAY, GLOBAL_STREAM, day_weights, draw_from, iso
from kpilib.synth._truth import header, period

#: The tables this profile writes, in the order they are written.
TABLES = ("customers", "events", "spend")
#: Leads simulated when the caller does not say.
DEFAULT_CUSTOMERS = 500

CHANNELS = ("organic", "paid_search", "social", "trade_show", "referral")
STEPS = ("mql", "sql", "won")
EVENTS = ("lead", *STEPS)
SEGMENTS = ("smb", "mid_market", "enterprise")
#: Trade shows held every year: (month, day, name).
_SHOWS = ((3, 12, "spring expo"), (6, 4, "summer summit"), (9, 17, "autumn conference"),
          (11, 5, "winter forum"))
_SPEND_CHANNELS = ("paid_search", "social", "organic", "referral")
#: The ``kpilib.toml`` written beside the tables: the company's funnel, so the funnel
#: notebook and ``check`` use it without parameters. The window covers ~95 % of won deals
#: (lead to won: median ~2 months, enterprise deals up to half a year).
SETTINGS = f"""\
[funnel]
steps = [{", ".join(f'"{e}"' for e in EVENTS)}]
window = "180D"
"""
_MONTE_CARLO_JOURNEYS = 200_000

SCHEMAS = {
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("signup_at", UTC),
            ("channel", pa.string()),
            ("segment", pa.string()),
            ("country", pa.string()),
        ]
    ),
    "events": pa.schema(
        [
            ("customer_id", pa.string()),
            ("ts", UTC),
            ("event", pa.string()),
            ("deal_value", pa.float64()),
        ]
    ),
    "spend": SPEND_SCHEMA,
}


def _parameters() -> dict:
    """The vendor's fixed parameters (the part of the truth that does not vary)."""
    return {
        "leads": {
            "channel_mix": {
                "organic": 0.30,
                "paid_search": 0.25,
                "social": 0.15,
                "trade_show": 0.15,
                "referral": 0.15,
            },
            "segment_mix": {"smb": 0.55, "mid_market": 0.30, "enterprise": 0.15},
            "country_mix": {
                "US": 0.45,
                "GB": 0.12,
                "DE": 0.10,
                "CA": 0.08,
                "FR": 0.07,
                "NL": 0.06,
                "AU": 0.06,
                "SE": 0.06,
            },
            "growth_per_year": 0.20,
            "seasonality_amplitude": 0.15,
            "seasonality_peak_day_of_year": 280,
            "weekend_factor": 0.20,
            "trade_show_calendar": [
                {"month": m, "day": d, "name": name} for m, d, name in _SHOWS
            ],
            "trade_show_capture_days": 3.0,
            "segment_and_country": "independent of the channel and of each other",
        },
        "funnel": {
            "entry": "lead",
            "steps": list(STEPS),
            "step_probability": {
                "organic": {"mql": 0.45, "sql": 0.50, "won": 0.30},
                "paid_search": {"mql": 0.40, "sql": 0.45, "won": 0.25},
                "social": {"mql": 0.30, "sql": 0.40, "won": 0.22},
                "trade_show": {"mql": 0.35, "sql": 0.50, "won": 0.28},
                "referral": {"mql": 0.65, "sql": 0.60, "won": 0.40},
            },
            "delay": {
                "distribution": "lognormal; seconds rounded, plus one",
                "median_days": {"mql": 6.0, "sql": 12.0, "won": 40.0},
                "sigma": {"mql": 0.9, "sql": 0.8, "won": 0.6},
                "segment_factor": {"smb": 0.6, "mid_market": 1.0, "enterprise": 1.8},
                "cap_days": {"mql": 60.0, "sql": 90.0, "won": 240.0},
            },
            "journey_max_days": 390.0,
        },
        "deals": {
            "median_value": {"smb": 6000.0, "mid_market": 25000.0, "enterprise": 90000.0},
            "sigma": 0.5,
            "column": "events.deal_value on won rows",
        },
        "marketing": {
            "cost_per_lead": {
                "organic": 60.0,
                "paid_search": 180.0,
                "social": 250.0,
                "trade_show": 400.0,
            },
            "cost_per_lead_definition": "total spend of the channel / leads it brought",
            "cost_driver": {
                "organic": "flat daily content cost with noise",
                "paid_search": "daily budget following lead arrival days, with noise",
                "social": "daily budget following lead arrival days, with noise",
                "trade_show": "cost_per_lead.trade_show × the show's leads, on the show day",
                "referral": "referral_fee_rate × deal value, on the day a referred deal is won",
            },
            "daily_noise_sigma": 0.30,
            "referral_fee_rate": 0.10,
        },
    }


def _shows(start: int, end: int, capture: float) -> list[dict]:
    """The trade shows of the calendar that lie in the data with their capture window."""
    first = int(np.datetime64(start, "s").astype("datetime64[Y]").astype(np.int64)) + 1970
    last = int(np.datetime64(end, "s").astype("datetime64[Y]").astype(np.int64)) + 1970
    shows = []
    for year in range(first, last + 1):
        for month, day, name in _SHOWS:
            at = int(np.datetime64(f"{year}-{month:02d}-{day:02d}", "s").astype(np.int64))
            at += 9 * 3600  # doors open
            if start <= at and at + capture * DAY <= end:
                shows.append({"campaign": f"{year} {name}", "opens_at": iso(at), "epoch": at})
    return shows


def _cycle_medians(params: dict) -> dict:
    """Median lead-to-won days of won deals per segment and overall (Monte Carlo)."""
    delay = params["funnel"]["delay"]
    rng = np.random.default_rng(np.random.SeedSequence([0, GLOBAL_STREAM + 9]))
    n = _MONTE_CARLO_JOURNEYS
    out: dict = {"method": f"Monte Carlo, {n:,} journeys per segment, fixed seed; days"}
    pooled = []
    for segment, share in params["leads"]["segment_mix"].items():
        total = np.zeros(n)
        for step in STEPS:
            median = delay["median_days"][step] * delay["segment_factor"][segment]
            days = rng.lognormal(np.log(median), delay["sigma"][step], size=n)
            total += np.minimum(days, delay["cap_days"][step])
        out[segment] = round(float(np.median(total)), 1)
        pooled.append(rng.choice(total, size=round(share * n)))
    out["all"] = round(float(np.median(np.concatenate(pooled))), 1)
    return out


@dataclass
class _Context:
    seed: int
    start: int
    end: int
    n_days: int
    arrivals: np.ndarray  # lead creation second of every lead, sorted
    channel: np.ndarray  # its source (index into CHANNELS)
    id_width: int
    params: dict
    chunk_persons: int


def _simulate_chunk(ctx: _Context, chunk: int) -> tuple[dict[str, pa.Table], np.ndarray]:
    """Tables of one chunk of leads and the referral fees per day (cents)."""
    rng = np.random.default_rng(np.random.SeedSequence([ctx.seed, chunk]))
    params = ctx.params
    lo = chunk * ctx.chunk_persons
    created = ctx.arrivals[lo : lo + ctx.chunk_persons]
    channel = ctx.channel[lo : lo + ctx.chunk_persons]
    n = len(created)
    lead_ids = ids("L", np.arange(lo + 1, lo + n + 1), ctx.id_width)
    leads = params["leads"]
    segment = draw_from(rng, leads["segment_mix"], n)
    country = draw_from(rng, leads["country_mix"], n)
    customers = pa.Table.from_arrays(
        [
            lead_ids,
            timestamps(created),
            strings(CHANNELS, channel),
            strings(SEGMENTS, segment),
            strings(tuple(leads["country_mix"]), country),
        ],
        schema=SCHEMAS["customers"],
    )

    funnel = params["funnel"]
    delay = funnel["delay"]
    probability = np.array([[funnel["step_probability"][c][s] for s in STEPS] for c in CHANNELS])
    success = rng.random((n, len(STEPS))) < probability[channel]
    factor = np.array([delay["segment_factor"][s] for s in SEGMENTS])[segment]
    median = np.array([delay["median_days"][s] for s in STEPS])[None, :] * factor[:, None]
    sigma = np.array([delay["sigma"][s] for s in STEPS])
    days = np.minimum(
        rng.lognormal(np.log(median), sigma, size=(n, len(STEPS))),
        np.array([delay["cap_days"][s] for s in STEPS]),
    )
    at = created[:, None] + np.cumsum(np.round(days * DAY).astype(np.int64) + 1, axis=1)
    reached = np.cumprod(success, axis=1).astype(bool) & (at <= ctx.end)
    deals = params["deals"]
    value = np.round(
        rng.lognormal(
            np.log(np.array([deals["median_value"][s] for s in SEGMENTS])[segment]),
            deals["sigma"],
        ),
        2,
    )

    lead, step = np.nonzero(reached)
    person = np.concatenate([np.arange(n), lead])
    ts = np.concatenate([created, at[lead, step]])
    event = np.concatenate([np.zeros(n, dtype=np.int64), 1 + step])
    won = event == EVENTS.index("won")
    order = np.lexsort((event, ts, person))
    events = pa.Table.from_arrays(
        [
            lead_ids.take(pa.array(person[order])),
            timestamps(ts[order]),
            strings(EVENTS, event[order]),
            pa.array(value[person[order]], type=pa.float64(), mask=~won[order]),
        ],
        schema=SCHEMAS["events"],
    )

    referred = reached[:, -1] & (channel == CHANNELS.index("referral"))
    fees = np.zeros(ctx.n_days, dtype=np.int64)
    np.add.at(
        fees,
        at[referred, -1] // DAY - ctx.start // DAY,
        np.round(value[referred] * 100).astype(np.int64),
    )
    return {"customers": customers, "events": events}, fees


def _spend(
    ctx: _Context, shows: list[dict], show_leads: np.ndarray, fee_cents: np.ndarray
) -> pa.Table:
    """A row per day for paid search, social, organic and referral; a row per trade show."""
    rng = np.random.default_rng(np.random.SeedSequence([ctx.seed, GLOBAL_STREAM + 2]))
    marketing = ctx.params["marketing"]
    sigma = marketing["daily_noise_sigma"]
    leads_of = np.bincount(ctx.channel, minlength=len(CHANNELS))
    weights = day_weights(ctx.start, ctx.n_days, ctx.params["leads"])
    cost = np.zeros((ctx.n_days, len(_SPEND_CHANNELS)))
    for k, channel in enumerate(_SPEND_CHANNELS):
        if channel == "referral":
            cost[:, k] = marketing["referral_fee_rate"] * fee_cents / 100
            continue
        base = np.ones(ctx.n_days) if channel == "organic" else weights
        raw = base * rng.lognormal(0.0, sigma, size=ctx.n_days)
        target = round(marketing["cost_per_lead"][channel] * leads_of[CHANNELS.index(channel)], 2)
        if target > 0 and raw.sum() > 0:
            cost[:, k] = np.round(raw * target / raw.sum(), 2)
            top = int(np.argmax(cost[:, k]))
            cost[top, k] = round(cost[top, k] + target - cost[:, k].sum(), 2)
    first_day = ctx.start // DAY
    day = np.repeat(np.arange(ctx.n_days) + first_day, len(_SPEND_CHANNELS))
    names = list(np.tile(_SPEND_CHANNELS, ctx.n_days))
    values = list(np.maximum(np.round(cost.reshape(-1), 2), 0.0))
    campaigns: list[str | None] = [None] * len(names)
    per_lead = marketing["cost_per_lead"]["trade_show"]
    for show, count in zip(shows, show_leads, strict=True):
        day = np.append(day, show["epoch"] // DAY)
        names.append("trade_show")
        values.append(round(per_lead * int(count), 2))
        campaigns.append(show["campaign"])
    order = np.argsort(day, kind="stable")
    return pa.Table.from_arrays(
        [
            pa.array(day[order].astype(np.int32), type=pa.date32()),
            pa.array([names[i] for i in order], type=pa.string()),
            pa.array([float(values[i]) for i in order], type=pa.float64()),
            pa.array([campaigns[i] for i in order], type=pa.string()),
        ],
        schema=SPEND_SCHEMA,
    )


def simulate(
    customers: int, seed: int, start: str, end: str, chunk_persons: int
) -> Iterator[tuple[str, pa.Table] | dict]:
    """Yield ``(table name, chunk)`` pairs, then finally the truth dict."""
    head = header(
        "b2b-leads", TABLES, customers=customers, seed=seed, start=start, end=end,
        chunk_persons=chunk_persons,
    )
    start_s, end_s = period(customers, start, end)
    params = _parameters()
    leads = params["leads"]
    n_days = (end_s + 1 - start_s) // DAY
    shows = _shows(start_s, end_s, leads["trade_show_capture_days"])
    mix = dict(leads["channel_mix"])
    if not shows:  # no show in the period: nobody comes from one
        del mix["trade_show"]
        mix = {c: w / sum(mix.values()) for c, w in mix.items()}
    rng = np.random.default_rng(np.random.SeedSequence([seed, GLOBAL_STREAM]))
    channel = np.array([CHANNELS.index(c) for c in mix])[draw_from(rng, mix, customers)]
    day = rng.choice(n_days, size=customers, p=day_weights(start_s, n_days, leads))
    created = start_s + day * DAY + rng.integers(0, DAY, size=customers)
    at_show = np.flatnonzero(channel == CHANNELS.index("trade_show"))
    show = rng.integers(0, max(len(shows), 1), size=len(at_show))
    if shows:
        opens = np.array([s["epoch"] for s in shows])
        capture = round(leads["trade_show_capture_days"] * DAY)
        created[at_show] = opens[show] + rng.integers(0, capture + 1, size=len(at_show))
    order = np.argsort(created, kind="stable")
    ctx = _Context(
        seed=seed,
        start=start_s,
        end=end_s,
        n_days=n_days,
        arrivals=created[order],
        channel=channel[order],
        id_width=max(7, len(str(customers))),
        params=params,
        chunk_persons=chunk_persons,
    )
    fee_cents = np.zeros(n_days, dtype=np.int64)
    rows = dict.fromkeys(TABLES, 0)
    won = 0
    for chunk in range(-(-customers // chunk_persons)):
        tables, fees = _simulate_chunk(ctx, chunk)
        fee_cents += fees
        won += tables["events"].num_rows - tables["events"]["deal_value"].null_count
        for name, table in tables.items():
            rows[name] += table.num_rows
            yield name, table
    show_leads = np.bincount(show, minlength=len(shows))[: len(shows)]
    spend = _spend(ctx, shows, show_leads, fee_cents)
    rows["spend"] = spend.num_rows
    yield "spend", spend

    truth = {**head, **params}
    truth["tables_left_out"] = {
        "orders": "revenue sits in the CRM's deals (events.deal_value), not in orders",
        "subscriptions": "contracts are not part of the export",
        "email": "the marketing-automation tool's email is not part of the export",
        "surveys": "no surveys are run on leads",
    }
    truth["leads"] = {
        **leads,
        "channel_mix_used": mix,
        "trade_shows": [
            {"campaign": s["campaign"], "opens_at": s["opens_at"], "leads": int(k)}
            for s, k in zip(shows, show_leads, strict=True)
        ],
    }
    funnel = params["funnel"]
    truth["funnel"]["sales_cycle_median_days"] = _cycle_medians(params)
    truth["funnel"]["expected_win_rate"] = round(
        sum(w * float(np.prod(list(funnel["step_probability"][c].values())))
            for c, w in mix.items()),
        6,
    )
    acquired = np.bincount(channel, minlength=len(CHANNELS))
    truth["realized"] = {
        "customers": customers,
        "customers_by_channel": {c: int(acquired[CHANNELS.index(c)]) for c in mix},
        "won_deals": won,
        "rows": rows,
    }
    yield truth
