"""The ``saas`` profile: a SaaS product with a free tier, paid plans and add-on purchases.

Persons arrive through marketing channels, walk a funnel (visit → signup → lead → mql →
sql → purchase), use the product, pay a subscription, buy add-ons, get newsletters,
answer surveys, and cost money to acquire. All seven tables of the data contract are
written, with every optional column. This was the kit's only sample before profiles
existed; its output is unchanged (same arguments, byte-identical tables).

Notes
-----
How the pieces are drawn (every number is in ``truth.json``):

* **Traffic.** ``traffic.visitors`` persons arrive on days weighted by a linear growth
  trend, a yearly cosine season and a weekend dip; the first visit's channel follows
  ``traffic.channel_mix``. Persons make extra visits later (touchpoints, not entries).
* **Funnel.** Step *k* succeeds with ``funnel.step_probability[channel][step]``
  (conditional on reaching the previous step; ``channel`` is that of the first visit)
  after an exponential delay of mean ``funnel.delay_mean_days[step]`` clipped at
  ``funnel.delay_cap_days``. Steps falling after the end of data are censored, so use
  persons whose first visit is at least ``funnel.journey_max_days`` before the end when
  checking rates.
* **Subscriptions.** ``purchase`` starts a subscription on the customer's plan. Each
  subscriber's monthly churn probability is θ ~ Beta(α, β) of their first plan
  (shifted-beta-geometric, months of ``subscriptions.month_days`` days); θ is kept on
  a plan change and on reactivation.
* **Orders.** ``purchase`` is the first order; repeat (add-on) orders follow BG/NBD
  (λ ~ Gamma(r, α) per day, dropout p ~ Beta(a, b) after each repeat order) with
  Gamma–Gamma amounts, independently of the subscription.
* **Usage.** Sessions arrive at a Gamma-distributed daily rate per customer
  (``engagement.session_rate_per_day``) while they are active: free users for an
  exponential ``engagement.free_active_days_mean`` days, subscribers during their
  spells. Before a spell ends (a churn, not the end of the data) usage fades: over the
  last ``engagement.pre_churn_fade.days`` days the rate falls linearly to
  ``engagement.pre_churn_fade.floor`` of itself, which is what a health score can see
  coming. The fade has its own random stream, so the other tables do not depend on it.
* **Spend.** Daily cost per channel (and campaign) scaled so that total spend divided
  by the customers acquired through the channel equals ``marketing.cac[channel]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kpilib.synth._columns import ids as _ids
from kpilib.synth._columns import strings as _strings
from kpilib.synth._columns import timestamps as _timestamps
from kpilib.synth._draws import DAY as _DAY
from kpilib.synth._draws import GLOBAL_STREAM as _GLOBAL_STREAM
from kpilib.synth._draws import day_weights as _day_weights
from kpilib.synth._draws import draw as _draw
from kpilib.synth._email import SCHEMA as _EMAIL_SCHEMA
from kpilib.synth._email import email_campaigns, email_table, public_campaigns, simulate_email
from kpilib.synth._orders import bgnbd_orders
from kpilib.synth._truth import header, period

#: The tables this profile writes, in the order they are written: all seven.
TABLES = ("customers", "events", "orders", "subscriptions", "email", "surveys", "spend")
#: Customers simulated when the caller does not say.
DEFAULT_CUSTOMERS = 5000

CHANNELS = ("email", "paid_search", "social", "organic", "referral")
STEPS = ("signup", "lead", "mql", "sql", "purchase")
EVENTS = ("visit", *STEPS, "page_view", "feature_use", "share")
PLANS = ("basic", "pro", "business")
SEGMENTS = ("smb", "mid_market", "enterprise")
FEATURES = ("dashboards", "reports", "integrations", "alerts", "api")
LANDING_PAGES = ("/", "/pricing", "/features", "/blog", "/docs", "/integrations", "/customers")
APP_PAGES = (
    "/app/home",
    "/app/dashboards",
    "/app/reports",
    "/app/integrations",
    "/app/alerts",
    "/app/settings",
    "/app/team",
    "/app/billing",
)
_APP_PAGE_WEIGHTS = (0.30, 0.22, 0.16, 0.08, 0.08, 0.07, 0.05, 0.04)
_PAID_CAMPAIGNS = {
    "paid_search": {"search_brand": 0.40, "search_generic": 0.45, "search_competitor": 0.15},
    "social": {"social_prospecting": 0.70, "social_retargeting": 0.30},
}
_EMAIL_KINDS = (("newsletter", 6, 15), ("product update", 20, 16))  # (kind, day, hour UTC)

SCHEMAS = {
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("signup_at", pa.timestamp("ns", tz="UTC")),
            ("channel", pa.string()),
            ("plan", pa.string()),
            ("segment", pa.string()),
            ("country", pa.string()),
        ]
    ),
    "events": pa.schema(
        [
            ("customer_id", pa.string()),
            ("ts", pa.timestamp("ns", tz="UTC")),
            ("event", pa.string()),
            ("channel", pa.string()),
            ("campaign", pa.string()),
            ("page", pa.string()),
            ("feature", pa.string()),
        ]
    ),
    "orders": pa.schema(
        [
            ("order_id", pa.string()),
            ("customer_id", pa.string()),
            ("ts", pa.timestamp("ns", tz="UTC")),
            ("amount", pa.float64()),
        ]
    ),
    "subscriptions": pa.schema(
        [
            ("customer_id", pa.string()),
            ("start_at", pa.timestamp("ns", tz="UTC")),
            ("end_at", pa.timestamp("ns", tz="UTC")),
            ("mrr", pa.float64()),
            ("plan", pa.string()),
        ]
    ),
    "email": _EMAIL_SCHEMA,
    "surveys": pa.schema(
        [
            ("customer_id", pa.string()),
            ("ts", pa.timestamp("ns", tz="UTC")),
            ("survey", pa.string()),
            ("score", pa.int64()),
        ]
    ),
    "spend": pa.schema(
        [
            ("date", pa.date32()),
            ("channel", pa.string()),
            ("cost", pa.float64()),
            ("campaign", pa.string()),
        ]
    ),
}


def _parameters() -> dict:
    """The company's fixed parameters (the part of the truth that does not vary)."""
    return {
        "traffic": {
            "channel_mix": {
                "email": 0.10,
                "paid_search": 0.30,
                "social": 0.20,
                "organic": 0.28,
                "referral": 0.12,
            },
            "campaign_mix": _PAID_CAMPAIGNS,
            "email_visit_campaign": "latest email campaign sent before the visit",
            "growth_per_year": 0.35,
            "seasonality_amplitude": 0.12,
            "seasonality_peak_day_of_year": 300,
            "weekend_factor": 0.75,
            "extra_visits_mean": {"visitor": 0.4, "customer": 2.5},
            "extra_visit_delay_mean_days": 45.0,
        },
        "funnel": {
            "steps": list(STEPS),
            "step_probability": {
                "email": {"signup": 0.30, "lead": 0.70, "mql": 0.60, "sql": 0.60, "purchase": 0.65},
                "paid_search": {
                    "signup": 0.18,
                    "lead": 0.55,
                    "mql": 0.50,
                    "sql": 0.55,
                    "purchase": 0.55,
                },
                "social": {
                    "signup": 0.10,
                    "lead": 0.45,
                    "mql": 0.40,
                    "sql": 0.45,
                    "purchase": 0.45,
                },
                "organic": {
                    "signup": 0.22,
                    "lead": 0.60,
                    "mql": 0.55,
                    "sql": 0.55,
                    "purchase": 0.60,
                },
                "referral": {
                    "signup": 0.35,
                    "lead": 0.70,
                    "mql": 0.65,
                    "sql": 0.70,
                    "purchase": 0.70,
                },
            },
            "delay_mean_days": {
                "signup": 0.25,
                "lead": 1.0,
                "mql": 2.0,
                "sql": 3.0,
                "purchase": 3.0,
            },
            "delay_cap_days": 7.0,
            "journey_max_days": 35.0,
        },
        "customers": {
            "plan_mix": {"basic": 0.55, "pro": 0.35, "business": 0.10},
            "segment_mix": {
                "basic": {"smb": 0.85, "mid_market": 0.13, "enterprise": 0.02},
                "pro": {"smb": 0.55, "mid_market": 0.38, "enterprise": 0.07},
                "business": {"smb": 0.15, "mid_market": 0.45, "enterprise": 0.40},
            },
            "country_mix": {
                "US": 0.40,
                "GB": 0.12,
                "DE": 0.10,
                "IN": 0.08,
                "FR": 0.07,
                "CA": 0.07,
                "BR": 0.06,
                "AU": 0.05,
                "NL": 0.05,
            },
        },
        "subscriptions": {
            "mrr": {"basic": 29.0, "pro": 99.0, "business": 399.0},
            "month_days": 30.4375,
            "plan_change_monthly_probability": 0.02,
            "upgrade_share": 0.7,
            "max_plan_changes": 1,
            "reactivation_probability": 0.12,
            "reactivation_delay_min_days": 1.0,
            "reactivation_delay_mean_days": 90.0,  # of the exponential part after the minimum
        },
        "churn": {
            "model": "shifted-beta-geometric, theta ~ Beta(alpha, beta) per subscriber, by first plan",
            "sbg": {
                "basic": {"alpha": 1.0, "beta": 12.0},
                "pro": {"alpha": 1.0, "beta": 20.0},
                "business": {"alpha": 1.2, "beta": 40.0},
            },
        },
        "clv": {
            "bgnbd": {"r": 0.6, "alpha": 40.0, "a": 0.8, "b": 4.0, "time_unit": "days"},
            "gamma_gamma": {"p": 4.0, "q": 3.0, "gamma": 50.0},
            "first_order": "the funnel purchase; amount drawn like repeat orders",
        },
        "engagement": {
            "free_active_days_mean": 45.0,
            "session_rate_per_day": {
                "shape": 1.5,
                "mean_free": 0.35,
                "mean_paying": 0.30,
            },
            "page_views_per_session_mean": 3.5,
            "page_view_gap_mean_seconds": 90.0,
            "page_view_gap_cap_seconds": 1200.0,
            "session_gap_minutes": 30.0,
            "pages": dict(zip(APP_PAGES, _APP_PAGE_WEIGHTS, strict=True)),
            "feature_adoption": {
                "dashboards": 0.70,
                "reports": 0.50,
                "integrations": 0.30,
                "alerts": 0.25,
                "api": 0.10,
            },
            "feature_use_per_session": 0.25,
            "share_per_session": 0.05,
            "pre_churn_fade": {"days": 60.0, "floor": 0.15},
        },
        "email": {
            "kinds": [
                {"kind": kind, "day_of_month": day, "hour_utc": hour}
                for kind, day, hour in _EMAIL_KINDS
            ],
            "send_spread_seconds": 3600,
            "means": {
                "hard_bounce": 0.004,
                "soft_bounce": 0.015,
                "open": 0.35,
                "click": 0.12,
                "unsubscribe": 0.003,
                "complaint": 0.0005,
            },
            "conditioning": {
                "hard_bounce": "sent",
                "soft_bounce": "sent",
                "open": "delivered",
                "click": "opened",
                "unsubscribe": "delivered",
                "complaint": "delivered",
            },
            "campaign_concentration": 500.0,
            "delay_mean_hours": {"open": 8.0, "click": 0.1, "unsubscribe": 12.0, "complaint": 12.0},
            "suppressed_after": ["hard_bounce", "unsubscribe", "complaint"],
        },
        "surveys": {
            "monthly_share": 0.15,
            "survey_mix": {"nps": 0.5, "csat": 0.3, "ces": 0.2},
            "scale": {"nps": [0, 10], "csat": [1, 5], "ces": [1, 7]},
            "score_probability": {
                "nps": {
                    "basic": [0.02, 0.01, 0.02, 0.03, 0.03, 0.06, 0.08, 0.15, 0.22, 0.20, 0.18],
                    "pro": [0.01, 0.01, 0.01, 0.02, 0.02, 0.04, 0.06, 0.13, 0.22, 0.24, 0.24],
                    "business": [0.01, 0.00, 0.01, 0.01, 0.02, 0.03, 0.05, 0.12, 0.20, 0.25, 0.30],
                },
                "csat": {
                    "basic": [0.05, 0.08, 0.20, 0.40, 0.27],
                    "pro": [0.03, 0.06, 0.16, 0.40, 0.35],
                    "business": [0.02, 0.04, 0.14, 0.38, 0.42],
                },
                "ces": {
                    "basic": [0.04, 0.06, 0.10, 0.18, 0.25, 0.22, 0.15],
                    "pro": [0.03, 0.05, 0.08, 0.16, 0.26, 0.24, 0.18],
                    "business": [0.02, 0.04, 0.07, 0.15, 0.26, 0.26, 0.20],
                },
            },
            "plan": "the customer's signup plan",
        },
        "marketing": {
            "cac": {
                "email": 15.0,
                "paid_search": 60.0,
                "social": 45.0,
                "organic": 8.0,
                "referral": 25.0,
            },
            "cac_definition": "total spend of the channel / customers whose first visit came from it",
            "cost_driver": {
                "email": "flat daily platform cost",
                "paid_search": "first visits of the campaign that day",
                "social": "first visits of the campaign that day",
                "organic": "flat daily content cost",
                "referral": "bonus of cac.referral per referred customer on its signup day",
            },
            "daily_noise_sigma": 0.25,
        },
    }


@dataclass
class _Context:
    """Everything a chunk needs that is shared by all chunks."""

    seed: int
    start: int
    end: int
    n_days: int
    arrivals: np.ndarray  # first-visit second of every person, sorted
    id_width: int
    params: dict
    campaigns: list[dict]
    campaign_names: list[str]  # visit campaign vocabulary: paid ones then email ones
    spend_keys: list[tuple[str, str | None]]
    chunk_persons: int


@dataclass
class _Funnel:
    """Person-level funnel results of one chunk."""

    channel: np.ndarray
    campaign: np.ndarray
    step_at: np.ndarray  # (persons, steps) seconds, -1 where not reached by the end


def _visit_campaigns(
    ctx: _Context, rng: np.random.Generator, channel: np.ndarray, ts: np.ndarray
) -> np.ndarray:
    """Campaign code (index into ``ctx.campaign_names``) of visits; -1 when none."""
    codes = np.full(len(channel), -1, dtype=np.int64)
    offset = 0
    for name, mix in _PAID_CAMPAIGNS.items():
        rows = np.flatnonzero(channel == CHANNELS.index(name))
        probabilities = np.array([list(mix.values())])
        codes[rows] = offset + _draw(rng, probabilities, np.zeros(len(rows), dtype=np.int64))
        offset += len(mix)
    rows = np.flatnonzero(channel == CHANNELS.index("email"))
    if ctx.campaigns:
        sent = np.array([c["sent_epoch"] for c in ctx.campaigns])
        latest = np.maximum(np.searchsorted(sent, ts[rows], side="right") - 1, 0)
        codes[rows] = offset + latest
    return codes


def _simulate_funnel(ctx: _Context, rng: np.random.Generator, first_visit: np.ndarray) -> _Funnel:
    traffic = ctx.params["traffic"]
    funnel = ctx.params["funnel"]
    n = len(first_visit)
    mix = np.array([[traffic["channel_mix"][c] for c in CHANNELS]])
    channel = _draw(rng, mix, np.zeros(n, dtype=np.int64))
    campaign = _visit_campaigns(ctx, rng, channel, first_visit)
    probability = np.array([[funnel["step_probability"][c][s] for s in STEPS] for c in CHANNELS])
    delay_mean = np.array([funnel["delay_mean_days"][s] for s in STEPS]) * _DAY
    cap = funnel["delay_cap_days"] * _DAY
    success = rng.random((n, len(STEPS))) < probability[channel]
    reached = np.cumprod(success, axis=1).astype(bool)
    delays = np.round(rng.exponential(delay_mean, size=(n, len(STEPS)))).astype(np.int64) + 1
    at = first_visit[:, None] + np.cumsum(np.minimum(delays, round(cap)), axis=1)
    reached &= at <= ctx.end
    return _Funnel(channel, campaign, np.where(reached, at, -1))


@dataclass
class _Subscriptions:
    customer: np.ndarray  # local customer index per row
    start_at: np.ndarray
    end_at: np.ndarray  # may exceed the end of data (then null)
    plan: np.ndarray
    spell1_end: np.ndarray  # per paying customer
    spell2_start: np.ndarray  # -1 when no reactivation
    spell2_end: np.ndarray


def _simulate_subscriptions(
    ctx: _Context, rng: np.random.Generator, started: np.ndarray, plan: np.ndarray
) -> _Subscriptions:
    """Subscription rows of paying customers (``started`` = purchase second)."""
    params = ctx.params["subscriptions"]
    sbg = ctx.params["churn"]["sbg"]
    month = round(params["month_days"] * _DAY)
    n = len(started)
    alpha = np.array([sbg[p]["alpha"] for p in PLANS])[plan]
    beta = np.array([sbg[p]["beta"] for p in PLANS])[plan]
    theta = rng.beta(alpha, beta)
    months = np.minimum(rng.geometric(theta), 1200)
    churn = started + months * month
    change = np.minimum(rng.geometric(params["plan_change_monthly_probability"], size=n), 1200)
    change_at = started + change * month
    changes = (change < months) & (change_at <= ctx.end)
    up = rng.random(n) < params["upgrade_share"]
    step = np.where(plan == 0, 1, np.where(plan == len(PLANS) - 1, -1, np.where(up, 1, -1)))
    new_plan = np.where(changes, plan + step, plan)
    reactivates = (churn <= ctx.end) & (rng.random(n) < params["reactivation_probability"])
    gap = np.round(rng.exponential(params["reactivation_delay_mean_days"] * _DAY, size=n))
    restart = churn + round(params["reactivation_delay_min_days"] * _DAY) + gap.astype(np.int64)
    reactivates &= restart <= ctx.end
    restart_end = restart + np.minimum(rng.geometric(theta), 1200) * month

    idx = np.arange(n)
    first_end = np.where(changes, change_at, churn)
    customer = np.concatenate([idx, idx[changes], idx[reactivates]])
    start_at = np.concatenate([started, change_at[changes], restart[reactivates]])
    end_at = np.concatenate([first_end, churn[changes], restart_end[reactivates]])
    row_plan = np.concatenate([plan, new_plan[changes], new_plan[reactivates]])
    order = np.lexsort((start_at, customer))
    return _Subscriptions(
        customer=customer[order],
        start_at=start_at[order],
        end_at=end_at[order],
        plan=row_plan[order],
        spell1_end=np.minimum(churn, ctx.end),
        spell2_start=np.where(reactivates, restart, -1),
        spell2_end=np.where(reactivates, np.minimum(restart_end, ctx.end), -1),
    )


def _in_windows(ts: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Whether each ``ts`` lies in one of its row of ``windows`` (rows × (start, end) pairs)."""
    inside = np.zeros(len(ts), dtype=bool)
    for k in range(0, windows.shape[1], 2):
        inside |= (windows[:, k] <= ts) & (ts <= windows[:, k + 1])
    return inside


def _simulate_usage(
    ctx: _Context, rng: np.random.Generator, windows: np.ndarray, paying: np.ndarray,
    fade_rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Sessions of page views, feature uses and shares inside the active windows; in the
    last ``pre_churn_fade.days`` before a window closes early, sessions are kept with a
    probability falling linearly from 1 to ``pre_churn_fade.floor`` (drawn from ``fade_rng``)."""
    params = ctx.params["engagement"]
    n = len(paying)
    length1 = windows[:, 1] - windows[:, 0]
    length2 = np.maximum(windows[:, 3] - windows[:, 2], 0)
    rate = params["session_rate_per_day"]
    mean = np.where(paying, rate["mean_paying"], rate["mean_free"])
    daily = rng.gamma(rate["shape"], mean / rate["shape"])
    sessions = rng.poisson(daily * (length1 + length2) / _DAY)
    cust = np.repeat(np.arange(n), sessions)
    u = np.floor(rng.random(len(cust)) * (length1 + length2)[cust]).astype(np.int64)
    first = u < length1[cust]
    begin = np.where(first, windows[cust, 0] + u, windows[cust, 2] + u - length1[cust])
    closes = np.where(first, windows[cust, 1], windows[cust, 3])  # churn or end of data

    views = 1 + rng.poisson(params["page_views_per_session_mean"] - 1, size=len(cust))
    session_of_view = np.repeat(np.arange(len(cust)), views)
    gaps = np.minimum(
        rng.exponential(params["page_view_gap_mean_seconds"], size=len(session_of_view)),
        params["page_view_gap_cap_seconds"],
    )
    gaps = np.round(gaps).astype(np.int64) + 1
    gaps[np.cumsum(views) - views] = 0  # first view opens the session
    offset = np.cumsum(gaps)
    offset -= np.repeat(offset[np.cumsum(views) - views], views)
    view_ts = begin[session_of_view] + offset
    finish = view_ts[np.cumsum(views) - 1]  # views of a session are in time order
    share_lag = 60  # a share follows its session's last view within this many seconds

    # keep sessions that start more than the session gap after every earlier one ended
    order = np.lexsort((begin, cust))
    shift = cust[order] * (2 * (ctx.end + _DAY))  # makes the running max restart per customer
    running = np.maximum.accumulate(finish[order] + share_lag + shift) - shift
    previous = np.concatenate([[np.iinfo(np.int64).min // 2], running[:-1]])
    same = np.concatenate([[False], cust[order][1:] == cust[order][:-1]])
    clash = same & (begin[order] - previous <= params["session_gap_minutes"] * 60)
    keep = np.ones(len(cust), dtype=bool)
    keep[order[clash]] = False
    fade = params["pre_churn_fade"]
    left = (closes - begin) / (fade["days"] * _DAY)  # time left before the window closes, in fade lengths
    fading = (closes < ctx.end) & (left < 1)
    keep &= fade_rng.random(len(cust)) < np.where(fading, fade["floor"] + (1 - fade["floor"]) * left, 1.0)

    page_weights = np.array([[params["pages"][p] for p in APP_PAGES]])
    view_keep = keep[session_of_view] & (view_ts <= closes[session_of_view])
    view_page = _draw(rng, page_weights, np.zeros(len(view_ts), dtype=np.int64))

    adoption = np.array([params["feature_adoption"][f] for f in FEATURES])
    adopted = rng.random((n, len(FEATURES))) < adoption
    used = adopted[cust] & (
        rng.random((len(cust), len(FEATURES))) < params["feature_use_per_session"]
    )
    use_session, use_feature = np.nonzero(used)
    duration = finish - begin
    use_ts = begin[use_session] + np.floor(
        rng.random(len(use_session)) * (duration[use_session] + 1)
    ).astype(np.int64)
    shares = np.flatnonzero(rng.random(len(cust)) < params["share_per_session"])
    share_ts = finish[shares] + 1 + rng.integers(0, share_lag, size=len(shares))

    use_keep = keep[use_session] & (use_ts <= closes[use_session])
    share_keep = keep[shares] & (share_ts <= closes[shares])
    return {
        "customer": np.concatenate(
            [
                cust[session_of_view][view_keep],
                cust[use_session][use_keep],
                cust[shares][share_keep],
            ]
        ),
        "ts": np.concatenate([view_ts[view_keep], use_ts[use_keep], share_ts[share_keep]]),
        "event": np.concatenate(
            [
                np.full(view_keep.sum(), EVENTS.index("page_view")),
                np.full(use_keep.sum(), EVENTS.index("feature_use")),
                np.full(share_keep.sum(), EVENTS.index("share")),
            ]
        ),
        "page": np.concatenate(
            [
                len(LANDING_PAGES) + view_page[view_keep],
                np.full(use_keep.sum() + share_keep.sum(), -1),
            ]
        ),
        "feature": np.concatenate(
            [
                np.full(view_keep.sum(), -1),
                use_feature[use_keep],
                np.full(share_keep.sum(), -1),
            ]
        ),
    }


def _simulate_surveys(
    ctx: _Context, rng: np.random.Generator, windows: np.ndarray, plan: np.ndarray
) -> dict[str, np.ndarray]:
    """Monthly surveys of a share of the customers active at that moment."""
    params = ctx.params["surveys"]
    kinds = list(params["survey_mix"])
    mix = np.array([list(params["survey_mix"].values())])
    first = np.datetime64(ctx.start, "s").astype("datetime64[M]")
    last = np.datetime64(ctx.end, "s").astype("datetime64[M]")
    n = len(plan)
    customer, ts, survey, score = [], [], [], []
    for month in np.arange(first, last + 1):
        lo = max(int(month.astype("datetime64[s]").astype(np.int64)), ctx.start)
        hi = min(int((month + 1).astype("datetime64[s]").astype(np.int64)) - 1, ctx.end)
        at = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)
        chosen = (rng.random(n) < params["monthly_share"]) & _in_windows(at, windows)
        rows = np.flatnonzero(chosen)
        kind = _draw(rng, mix, np.zeros(len(rows), dtype=np.int64))
        value = np.zeros(len(rows), dtype=np.int64)
        for k, name in enumerate(kinds):
            sel = np.flatnonzero(kind == k)
            table = np.array([params["score_probability"][name][p] for p in PLANS])
            value[sel] = params["scale"][name][0] + _draw(rng, table, plan[rows[sel]])
        customer.append(rows)
        ts.append(at[rows])
        survey.append(kind)
        score.append(value)
    return {
        "customer": np.concatenate(customer),
        "ts": np.concatenate(ts),
        "survey": np.concatenate(survey),
        "score": np.concatenate(score),
    }


@dataclass
class _ChunkResult:
    tables: dict[str, pa.Table]
    first_visits: np.ndarray  # (days, spend keys) first visits per spend key
    signups: np.ndarray  # (days, channels) customers acquired
    paying: int


def _simulate_chunk(ctx: _Context, chunk: int, order_offset: int) -> _ChunkResult:
    rng = np.random.default_rng(np.random.SeedSequence([ctx.seed, chunk]))
    lo = chunk * ctx.chunk_persons
    first_visit = ctx.arrivals[lo : lo + ctx.chunk_persons]
    n_persons = len(first_visit)
    ids = _ids("C", np.arange(lo + 1, lo + n_persons + 1), ctx.id_width)
    params = ctx.params
    fun = _simulate_funnel(ctx, rng, first_visit)

    # customers
    signed = np.flatnonzero(fun.step_at[:, 0] >= 0)
    n = len(signed)
    signup = fun.step_at[signed, 0]
    cparams = params["customers"]
    plan = _draw(
        rng, np.array([[cparams["plan_mix"][p] for p in PLANS]]), np.zeros(n, dtype=np.int64)
    )
    segment_mix = np.array([[cparams["segment_mix"][p][s] for s in SEGMENTS] for p in PLANS])
    segment = _draw(rng, segment_mix, plan)
    countries = tuple(cparams["country_mix"])
    country = _draw(
        rng, np.array([list(cparams["country_mix"].values())]), np.zeros(n, dtype=np.int64)
    )
    cid = ids.take(pa.array(signed))
    customers = pa.Table.from_arrays(
        [
            cid,
            _timestamps(signup),
            _strings(CHANNELS, fun.channel[signed]),
            _strings(PLANS, plan),
            _strings(SEGMENTS, segment),
            _strings(countries, country),
        ],
        schema=SCHEMAS["customers"],
    )

    # subscriptions and orders of paying customers
    pay = np.flatnonzero(fun.step_at[signed, -1] >= 0)
    purchase = fun.step_at[signed[pay], -1]
    subs = _simulate_subscriptions(ctx, rng, purchase, plan[pay])
    mrr = np.array([params["subscriptions"]["mrr"][p] for p in PLANS])
    subscriptions = pa.Table.from_arrays(
        [
            cid.take(pa.array(pay[subs.customer])),
            _timestamps(subs.start_at),
            _timestamps(subs.end_at, subs.end_at <= ctx.end),
            pa.array(mrr[subs.plan], type=pa.float64()),
            _strings(PLANS, subs.plan),
        ],
        schema=SCHEMAS["subscriptions"],
    )
    o_customer, o_ts, o_amount = bgnbd_orders(
        rng, purchase, ctx.end, params["clv"]["bgnbd"], params["clv"]["gamma_gamma"]
    )
    orders = pa.Table.from_arrays(
        [
            _ids("O", np.arange(order_offset + 1, order_offset + len(o_ts) + 1), 9),
            cid.take(pa.array(pay[o_customer])),
            _timestamps(o_ts),
            pa.array(o_amount, type=pa.float64()),
        ],
        schema=SCHEMAS["orders"],
    )

    # active windows: free users for a while after signup; subscribers for their spells
    windows = np.full((n, 4), -1, dtype=np.int64)
    windows[:, 0] = signup
    free_days = rng.exponential(params["engagement"]["free_active_days_mean"] * _DAY, size=n)
    windows[:, 1] = np.minimum(signup + np.round(free_days).astype(np.int64), ctx.end)
    windows[pay, 1] = subs.spell1_end
    windows[pay, 2] = subs.spell2_start
    windows[pay, 3] = subs.spell2_end
    paying = np.zeros(n, dtype=bool)
    paying[pay] = True
    fade_rng = np.random.default_rng(np.random.SeedSequence([ctx.seed, chunk, 1]))
    usage = _simulate_usage(ctx, rng, windows, paying, fade_rng)
    mail = simulate_email(rng, ctx.campaigns, ctx.end, params["email"], signup)
    email = email_table(ctx.campaigns, mail, cid)
    surv = _simulate_surveys(ctx, rng, windows, plan)
    surveys = pa.Table.from_arrays(
        [
            cid.take(pa.array(surv["customer"])),
            _timestamps(surv["ts"]),
            _strings(tuple(params["surveys"]["survey_mix"]), surv["survey"]),
            pa.array(surv["score"], type=pa.int64()),
        ],
        schema=SCHEMAS["surveys"],
    )

    # events: first visits, funnel steps, extra visits, email clicks, product usage
    traffic = params["traffic"]
    extra_mean = np.full(n_persons, traffic["extra_visits_mean"]["visitor"])
    extra_mean[signed] = traffic["extra_visits_mean"]["customer"]
    extra_person = np.repeat(np.arange(n_persons), rng.poisson(extra_mean))
    extra_ts = (
        first_visit[extra_person]
        + 60
        + np.round(
            rng.exponential(traffic["extra_visit_delay_mean_days"] * _DAY, size=len(extra_person))
        ).astype(np.int64)
    )
    inside = extra_ts <= ctx.end
    extra_person, extra_ts = extra_person[inside], extra_ts[inside]
    mix = np.array([[traffic["channel_mix"][c] for c in CHANNELS]])
    extra_channel = _draw(rng, mix, np.zeros(len(extra_person), dtype=np.int64))
    extra_campaign = _visit_campaigns(ctx, rng, extra_channel, extra_ts)
    clicks = mail["clicked"] >= 0
    click_person = signed[mail["customer"][clicks]]
    n_visits = n_persons + len(extra_person) + len(click_person)
    landing = _draw(
        rng,
        np.full((1, len(LANDING_PAGES)), 1 / len(LANDING_PAGES)),
        np.zeros(n_visits, dtype=np.int64),
    )
    step_person, step_k = np.nonzero(fun.step_at >= 0)
    paid_offset = sum(len(v) for v in _PAID_CAMPAIGNS.values())
    n_steps = len(step_person)
    n_usage = len(usage["ts"])
    person = np.concatenate(
        [np.arange(n_persons), extra_person, click_person, step_person, signed[usage["customer"]]]
    )
    ts = np.concatenate(
        [
            first_visit,
            extra_ts,
            mail["clicked"][clicks],
            fun.step_at[step_person, step_k],
            usage["ts"],
        ]
    )
    event = np.concatenate([np.zeros(n_visits, dtype=np.int64), 1 + step_k, usage["event"]])
    none = np.full(n_steps + n_usage, -1)
    channel = np.concatenate(
        [fun.channel, extra_channel, np.full(len(click_person), CHANNELS.index("email")), none]
    )
    campaign = np.concatenate(
        [fun.campaign, extra_campaign, paid_offset + mail["campaign"][clicks], none]
    )
    page = np.concatenate([landing, np.full(n_steps, -1), usage["page"]])
    feature = np.concatenate([np.full(n_visits + n_steps, -1), usage["feature"]])
    order = np.lexsort((event, ts, person))
    events = pa.Table.from_arrays(
        [
            ids.take(pa.array(person[order])),
            _timestamps(ts[order]),
            _strings(EVENTS, event[order]),
            _strings(CHANNELS, channel[order]),
            _strings(ctx.campaign_names, campaign[order]),
            _strings(LANDING_PAGES + APP_PAGES, page[order]),
            _strings(FEATURES, feature[order]),
        ],
        schema=SCHEMAS["events"],
    )

    # aggregates the spend table needs
    day0 = ctx.start // _DAY
    key_of_channel = np.full(len(CHANNELS), -1)
    key_of_campaign = np.full(len(ctx.campaign_names), -1)
    for k, (channel_name, campaign_name) in enumerate(ctx.spend_keys):
        if campaign_name is None:
            key_of_channel[CHANNELS.index(channel_name)] = k
        else:
            key_of_campaign[ctx.campaign_names.index(campaign_name)] = k
    paid = key_of_channel[fun.channel] < 0
    spend_key = np.where(
        paid, key_of_campaign[np.maximum(fun.campaign, 0)], key_of_channel[fun.channel]
    )
    first_visits = np.zeros((ctx.n_days, len(ctx.spend_keys)), dtype=np.int64)
    np.add.at(first_visits, (first_visit // _DAY - day0, spend_key), 1)
    signups = np.zeros((ctx.n_days, len(CHANNELS)), dtype=np.int64)
    np.add.at(signups, (signup // _DAY - day0, fun.channel[signed]), 1)

    tables = {
        "customers": customers,
        "events": events,
        "orders": orders,
        "subscriptions": subscriptions,
        "email": email,
        "surveys": surveys,
    }
    return _ChunkResult(tables, first_visits, signups, len(pay))


def _spend_table(ctx: _Context, first_visits: np.ndarray, signups: np.ndarray) -> pa.Table:
    """Daily cost per channel/campaign whose channel totals give exactly the true CAC."""
    rng = np.random.default_rng(np.random.SeedSequence([ctx.seed, _GLOBAL_STREAM + 2]))
    marketing = ctx.params["marketing"]
    acquired = signups.sum(axis=0)
    noise = rng.lognormal(0.0, marketing["daily_noise_sigma"], size=first_visits.shape)
    cost = np.zeros(first_visits.shape)
    for k, (channel, _) in enumerate(ctx.spend_keys):
        c = CHANNELS.index(channel)
        if channel in _PAID_CAMPAIGNS:
            cost[:, k] = first_visits[:, k] * noise[:, k]
        elif channel == "referral":
            cost[:, k] = signups[:, c] * marketing["cac"]["referral"]
        else:
            cost[:, k] = noise[:, k]
    cost = np.round(cost, 2)
    for channel in CHANNELS:
        cols = [k for k, key in enumerate(ctx.spend_keys) if key[0] == channel]
        target = round(marketing["cac"][channel] * acquired[CHANNELS.index(channel)], 2)
        total = cost[:, cols].sum()
        if total > 0:
            cost[:, cols] = np.round(cost[:, cols] * target / total, 2)
            block = cost[:, cols]
            i, j = np.unravel_index(np.argmax(block), block.shape)
            cost[i, cols[j]] = round(cost[i, cols[j]] + target - block.sum(), 2)
        else:
            cost[:, cols] = 0.0
    days = np.repeat(np.arange(ctx.n_days) + ctx.start // _DAY, len(ctx.spend_keys))
    keys = np.tile(np.arange(len(ctx.spend_keys)), ctx.n_days)
    channels = [key[0] for key in ctx.spend_keys]
    campaigns = [key[1] for key in ctx.spend_keys]
    return pa.Table.from_arrays(
        [
            pa.array(days.astype(np.int32), type=pa.date32()),
            pa.array([channels[k] for k in keys], type=pa.string()),
            pa.array(np.maximum(cost.reshape(-1), 0.0), type=pa.float64()),
            pa.array([campaigns[k] for k in keys], type=pa.string()),
        ],
        schema=SCHEMAS["spend"],
    )


def simulate(
    customers: int, seed: int, start: str, end: str, chunk_persons: int
) -> Iterator[tuple[str, pa.Table] | dict]:
    """Yield ``(table name, chunk)`` pairs, then finally the truth dict."""
    head = header(
        "saas", TABLES, customers=customers, seed=seed, start=start, end=end,
        chunk_persons=chunk_persons,
    )
    start_s, end_s = period(customers, start, end)
    params = _parameters()
    mix = params["traffic"]["channel_mix"]
    signup_rate = sum(mix[c] * params["funnel"]["step_probability"][c]["signup"] for c in CHANNELS)
    visitors = max(1, round(customers / signup_rate))
    n_days = (end_s + 1 - start_s) // _DAY
    rng = np.random.default_rng(np.random.SeedSequence([seed, _GLOBAL_STREAM]))
    day = rng.choice(n_days, size=visitors, p=_day_weights(start_s, n_days, params["traffic"]))
    arrivals = np.sort(start_s + day * _DAY + rng.integers(0, _DAY, size=visitors))
    campaigns = email_campaigns(start_s, end_s, seed, params["email"])
    paid_names = [c for mix in _PAID_CAMPAIGNS.values() for c in mix]
    spend_keys: list[tuple[str, str | None]] = []
    for channel in CHANNELS:
        names = list(_PAID_CAMPAIGNS.get(channel, [None]))
        spend_keys.extend((channel, name) for name in names)
    ctx = _Context(
        seed=seed,
        start=start_s,
        end=end_s,
        n_days=n_days,
        arrivals=arrivals,
        id_width=max(7, len(str(visitors))),
        params=params,
        campaigns=campaigns,
        campaign_names=paid_names + [c["campaign"] for c in campaigns],
        spend_keys=spend_keys,
        chunk_persons=chunk_persons,
    )
    first_visits = np.zeros((n_days, len(spend_keys)), dtype=np.int64)
    signups = np.zeros((n_days, len(CHANNELS)), dtype=np.int64)
    rows = dict.fromkeys(TABLES, 0)
    paying = 0
    for chunk in range(-(-visitors // chunk_persons)):
        result = _simulate_chunk(ctx, chunk, rows["orders"])
        first_visits += result.first_visits
        signups += result.signups
        paying += result.paying
        for name, table in result.tables.items():
            rows[name] += table.num_rows
            yield name, table
    spend = _spend_table(ctx, first_visits, signups)
    rows["spend"] = spend.num_rows
    yield "spend", spend

    acquired = signups.sum(axis=0)
    truth = {**head, **params}
    truth["traffic"] = {"visitors": visitors, **params["traffic"]}
    truth["funnel"]["expected_signup_rate"] = round(signup_rate, 6)
    truth["churn"]["sbg"] = {
        plan: {**ab, "mean_monthly_churn": round(ab["alpha"] / (ab["alpha"] + ab["beta"]), 6)}
        for plan, ab in params["churn"]["sbg"].items()
    }
    gg = params["clv"]["gamma_gamma"]
    truth["clv"]["mean_order_value"] = gg["p"] * gg["gamma"] / (gg["q"] - 1)
    truth["email"]["campaigns"] = public_campaigns(campaigns)
    truth["realized"] = {
        "visitors": visitors,
        "customers": int(acquired.sum()),
        "customers_by_channel": {c: int(acquired[i]) for i, c in enumerate(CHANNELS)},
        "paying_customers": paying,
        "rows": rows,
    }
    yield truth
