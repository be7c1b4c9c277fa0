"""The ``ecommerce`` profile: an online fashion and lifestyle shop.

Visitors land on one of hundreds of pages (a long-tailed catalogue), browse, put things
in the cart and sometimes buy; the shop knows a customer from their first order on
(accounts are made at checkout). Most buyers never come back: repeat buying is sparse
(about 3 % of buyers within the data), BG/NBD-distributed. Buyers get a newsletter and
a promotion each month and a few leave a review (a CSAT score, 1–5). Paid search and
social are paid per click, affiliates a commission on the first order; organic and
direct traffic cost nothing, so they have no spend rows; email costs a fee per mail.

Tables: ``customers`` (country only — no plan, no segment), ``events`` (visit, page_view,
add_to_cart, purchase; channel and campaign on visits, page on visits, page views and
cart adds; no feature column), ``orders``, ``email``, ``surveys`` (csat only) and
``spend``. There is no ``subscriptions`` table and no product usage.

Notes
-----
How the pieces are drawn (every number is in ``truth.json``):

* **Traffic.** ``traffic.visitors`` persons arrive on days weighted by a growth trend, a
  yearly season peaking at the start of December and a weekend *lift*. The first visit's
  channel follows ``traffic.channel_mix``; each person makes Poisson
  (``traffic.extra_sessions_mean``) more browse sessions, exponentially
  ``traffic.session_gap_mean_days`` apart, on channels from
  ``traffic.return_channel_mix``. Paid visits carry a campaign from
  ``traffic.campaign_mix``.
* **Sessions.** A session is a ``visit`` (with its landing page) and 1 + Poisson page
  views (``sessions.page_views_mean``) with exponential gaps; every page, landing page
  included, is drawn from the catalogue with weight ∝ (rank + ``pages.zipf_offset``) ^
  −``pages.zipf_exponent`` over ``pages.ranking``.
* **Buying.** A browse session adds to cart with ``funnel.cart_probability[channel]``
  (5–60 s after a uniformly chosen view of it) and then buys with
  ``funnel.purchase_given_cart`` after an exponential checkout of mean
  ``funnel.checkout_delay_mean_seconds``. A person's browse sessions stop at their first
  purchase, which creates the customer and the first order.
* **Repeat orders.** BG/NBD (λ ~ Gamma(r, α) per day, dropout p ~ Beta(a, b) after each
  repeat) with Gamma–Gamma amounts, ``clv.bgnbd`` and ``clv.gamma_gamma`` (where the
  ``saas`` truth has them too). Each
  repeat is its own session that starts at the BG/NBD time, always adds to cart and
  buys; the order is placed at its purchase. The share of buyers with a repeat within
  *t* days of their first order is 1 − (α / (α + t)) ^ r.
* **Email.** Customers get ``email.kinds`` monthly from their first order on; a click
  opens a session (channel ``email``, the campaign) that never buys.
* **Reviews.** An order is reviewed with ``reviews.probability`` after a delivery delay,
  the score drawn from ``reviews.score_probability`` (``surveys`` table, ``csat``).
* **Spend.** Paid campaigns cost ``marketing.cpc`` per visit (every session, not only
  first ones) times a mean-one lognormal daily noise; affiliates
  ``marketing.affiliate_commission_rate`` of the first orders of the customers they
  brought, on the order day; email ``marketing.email_cost_per_send`` per mail sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kpilib.synth._columns import SPEND_SCHEMA, UTC, ids, spend_table, strings, timestamps
from kpilib.synth._draws import DAY, GLOBAL_STREAM, day_weights, draw_from
from kpilib.synth._email import SCHEMA as EMAIL_SCHEMA
from kpilib.synth._email import email_campaigns, email_table, public_campaigns, simulate_email
from kpilib.synth._orders import bgnbd_orders
from kpilib.synth._truth import header, period

#: The tables this profile writes, in the order they are written (no ``subscriptions``).
TABLES = ("customers", "events", "orders", "email", "surveys", "spend")
#: Customers simulated when the caller does not say.
DEFAULT_CUSTOMERS = 5000

CHANNELS = ("paid_search", "social", "affiliate", "organic", "direct", "email")
EVENTS = ("visit", "page_view", "add_to_cart", "purchase")
#: The ``kpilib.toml`` written beside the tables: the shop's funnel, so the funnel notebook
#: and ``check`` use it without parameters. The window is a month: a buyer's first purchase
#: comes within 30 days of the first visit ~95 % of the time (a browse-only session is cheap).
SETTINGS = """\
[funnel]
steps = ["visit", "add_to_cart", "purchase"]
window = "30D"
"""
CATEGORIES = (
    "dresses", "tops", "knitwear", "jeans", "trousers", "skirts", "jackets", "coats",
    "shoes", "sneakers", "boots", "bags", "belts", "hats", "scarves", "jewelry", "watches",
    "sunglasses", "lingerie", "swimwear", "sportswear", "kids", "home", "beauty",
)
PRODUCTS_PER_CATEGORY = 25
#: The catalogue: home, editorial pages, a collection per category and its products.
PAGES = (
    "/",
    "/new-in",
    "/sale",
    *(f"/collections/{c}" for c in CATEGORIES),
    *(f"/products/{c}-{k:02d}" for c in CATEGORIES for k in range(1, PRODUCTS_PER_CATEGORY + 1)),
)
_CAMPAIGNS = {
    "paid_search": {"shopping": 0.55, "search_brand": 0.30, "search_generic": 0.15},
    "social": {"social_prospecting": 0.70, "social_retargeting": 0.30},
}
_PAID_NAMES = [name for mix in _CAMPAIGNS.values() for name in mix]
_SPEND_KEYS: list[tuple[str, str | None]] = [
    *((channel, name) for channel, mix in _CAMPAIGNS.items() for name in mix),
    ("affiliate", None),
    ("email", None),
]

SCHEMAS = {
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("signup_at", UTC),
            ("channel", pa.string()),
            ("country", pa.string()),
        ]
    ),
    "events": pa.schema(
        [
            ("customer_id", pa.string()),
            ("ts", UTC),
            ("event", pa.string()),
            ("channel", pa.string()),
            ("campaign", pa.string()),
            ("page", pa.string()),
        ]
    ),
    "orders": pa.schema(
        [
            ("order_id", pa.string()),
            ("customer_id", pa.string()),
            ("ts", UTC),
            ("amount", pa.float64()),
        ]
    ),
    "email": EMAIL_SCHEMA,
    "surveys": pa.schema(
        [("customer_id", pa.string()), ("ts", UTC), ("survey", pa.string()), ("score", pa.int64())]
    ),
    "spend": SPEND_SCHEMA,
}


def _parameters() -> dict:
    """The shop's fixed parameters (the part of the truth that does not vary)."""
    return {
        "traffic": {
            "channel_mix": {
                "paid_search": 0.30,
                "social": 0.22,
                "affiliate": 0.08,
                "organic": 0.25,
                "direct": 0.15,
            },
            "return_channel_mix": {
                "direct": 0.40,
                "organic": 0.25,
                "paid_search": 0.20,
                "social": 0.15,
            },
            "campaign_mix": _CAMPAIGNS,
            "email_visit_campaign": "the campaign whose mail was clicked",
            "growth_per_year": 0.30,
            "seasonality_amplitude": 0.25,
            "seasonality_peak_day_of_year": 334,
            "weekend_factor": 1.15,
            "extra_sessions_mean": 0.8,
            "session_gap_mean_days": 9.0,
        },
        "sessions": {
            "page_views_mean": 4.5,
            "page_view_gap_mean_seconds": 50.0,
            "page_view_gap_cap_seconds": 900.0,
        },
        "pages": {
            "count": len(PAGES),
            "zipf_exponent": 1.1,
            "zipf_offset": 3.0,
            "weight": "(rank + zipf_offset) ** -zipf_exponent, normalized; rank 0 is the first page of ranking",
            "landing": "landing pages and later views draw from the same weights",
        },
        "funnel": {
            "entry": "visit",
            "steps": ["add_to_cart", "purchase"],
            "cart_probability": {
                "paid_search": 0.08,
                "social": 0.05,
                "affiliate": 0.10,
                "organic": 0.07,
                "direct": 0.11,
            },
            "cart_probability_is_per": "browse session, by the session's channel",
            "purchase_given_cart": 0.35,
            "cart_delay_seconds": [5, 60],
            "checkout_delay_mean_seconds": 240.0,
            "browsing": "a person's browse sessions stop at their first purchase",
        },
        "customers": {
            "created": "at the first purchase (accounts are made at checkout)",
            "channel": "the channel of the first visit",
            "country_mix": {
                "DE": 0.30,
                "FR": 0.15,
                "NL": 0.10,
                "IT": 0.09,
                "ES": 0.08,
                "GB": 0.08,
                "AT": 0.07,
                "BE": 0.07,
                "CH": 0.06,
            },
        },
        "clv": {
            "bgnbd": {"r": 0.3, "alpha": 2800.0, "a": 1.0, "b": 2.0, "time_unit": "days"},
            "gamma_gamma": {"p": 6.0, "q": 4.0, "gamma": 30.0},
            "first_order": "the first purchase; amount drawn like repeat orders",
            "repeat_session": "each repeat order ends a session of its own that starts at the "
            "BG/NBD time: channel from traffic.return_channel_mix, page views, one "
            "add_to_cart, then the purchase, which is the order's time",
        },
        "reviews": {
            "table": "surveys",
            "survey": "csat",
            "probability": 0.10,
            "delay_min_days": 3.0,
            "delay_mean_days": 5.0,  # of the exponential part after the minimum
            "scale": [1, 5],
            "score_probability": [0.07, 0.04, 0.07, 0.17, 0.65],
        },
        "email": {
            "kinds": [
                {"kind": "newsletter", "day_of_month": 4, "hour_utc": 9},
                {"kind": "promotion", "day_of_month": 18, "hour_utc": 9},
            ],
            "recipients": "customers, from their first order on",
            "send_spread_seconds": 3600,
            "means": {
                "hard_bounce": 0.003,
                "soft_bounce": 0.012,
                "open": 0.28,
                "click": 0.10,
                "unsubscribe": 0.005,
                "complaint": 0.0008,
            },
            "conditioning": {
                "hard_bounce": "sent",
                "soft_bounce": "sent",
                "open": "delivered",
                "click": "opened",
                "unsubscribe": "delivered",
                "complaint": "delivered",
            },
            "campaign_concentration": 400.0,
            "delay_mean_hours": {"open": 10.0, "click": 0.1, "unsubscribe": 12.0, "complaint": 12.0},
            "suppressed_after": ["hard_bounce", "unsubscribe", "complaint"],
            "click_session": "a click opens a session (visit with channel email and the "
            "campaign, page views) that never buys",
        },
        "marketing": {
            "cpc": {
                "shopping": 0.45,
                "search_brand": 0.25,
                "search_generic": 0.85,
                "social_prospecting": 0.55,
                "social_retargeting": 0.35,
            },
            "cpc_is_per": "visit (session) of the campaign, first or not",
            "daily_noise_sigma": 0.25,
            "daily_noise": "each paid day's cost is visits × cpc × exp(N(-sigma²/2, sigma)) (mean one)",
            "affiliate_commission_rate": 0.10,
            "affiliate_cost": "rate × amount of the first orders of affiliate customers, on the order day",
            "email_cost_per_send": 0.002,
            "email_cost": "email_cost_per_send × mails sent that day (the sending platform's fee)",
            "unpaid_channels": ["organic", "direct"],
        },
    }


def _expected_buyer_rate(params: dict) -> float:
    """Share of visitors who buy, ignoring the end of data: the first session buys with
    q(channel) = cart × purchase; Poisson(m) later sessions each with the return mix's q."""
    traffic, funnel = params["traffic"], params["funnel"]
    q = {c: p * funnel["purchase_given_cart"] for c, p in funnel["cart_probability"].items()}
    q_return = sum(w * q[c] for c, w in traffic["return_channel_mix"].items())
    later = np.exp(-traffic["extra_sessions_mean"] * q_return)
    return float(sum(w * (1 - (1 - q[c]) * later) for c, w in traffic["channel_mix"].items()))


@dataclass
class _Context:
    seed: int
    start: int
    end: int
    n_days: int
    arrivals: np.ndarray
    id_width: int
    params: dict
    page_cdf: np.ndarray  # cumulative weights over ``page_order``
    page_order: np.ndarray  # catalogue index of each rank
    campaigns: list[dict]
    chunk_persons: int


def _first_rows(sorted_keys: np.ndarray) -> np.ndarray:
    """Whether each row is the first of its key (rows sorted by key)."""
    first = np.ones(len(sorted_keys), dtype=bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return first


def _codes(mix: dict, drawn: np.ndarray) -> np.ndarray:
    """Channel codes (indices into CHANNELS) of draws from a mix over some channels."""
    return np.array([CHANNELS.index(c) for c in mix])[drawn]


@dataclass
class _Sessions:
    """Sessions with their page views and their would-be cart add and purchase."""

    start: np.ndarray
    channel: np.ndarray
    campaign: np.ndarray  # index into paid names then email campaign names; -1 for none
    landing: np.ndarray  # page of the first view
    view_session: np.ndarray
    view_ts: np.ndarray
    view_page: np.ndarray
    cart_ts: np.ndarray
    cart_page: np.ndarray
    purchase_ts: np.ndarray
    u_cart: np.ndarray  # uniforms the caller compares with the cart / purchase probabilities
    u_buy: np.ndarray

    def take(self, rows: np.ndarray) -> _Sessions:
        """The sessions at ``rows`` (increasing), with their views."""
        chosen = np.zeros(len(self.start), dtype=bool)
        chosen[rows] = True
        views = chosen[self.view_session]
        return _Sessions(
            **{name: getattr(self, name)[rows] for name in _PER_SESSION},
            view_session=np.searchsorted(rows, self.view_session[views]),
            view_ts=self.view_ts[views],
            view_page=self.view_page[views],
        )


_PER_SESSION = ("start", "channel", "campaign", "landing", "cart_ts", "cart_page",
                "purchase_ts", "u_cart", "u_buy")


def _sessions(
    ctx: _Context,
    rng: np.random.Generator,
    start: np.ndarray,
    channel: np.ndarray,
    campaign: np.ndarray | None = None,
) -> _Sessions:
    """Page views of sessions starting at ``start``; paid ones get a campaign unless given."""
    params = ctx.params["sessions"]
    funnel = ctx.params["funnel"]
    n = len(start)
    if campaign is None:
        campaign = np.full(n, -1, dtype=np.int64)
        offset = 0
        for name, mix in _CAMPAIGNS.items():
            rows = np.flatnonzero(channel == CHANNELS.index(name))
            campaign[rows] = offset + draw_from(rng, mix, len(rows))
            offset += len(mix)
    views = 1 + rng.poisson(params["page_views_mean"] - 1, size=n)
    first = np.cumsum(views) - views
    view_session = np.repeat(np.arange(n), views)
    gaps = np.minimum(
        rng.exponential(params["page_view_gap_mean_seconds"], size=len(view_session)),
        params["page_view_gap_cap_seconds"],
    )
    gaps = np.round(gaps).astype(np.int64) + 1
    gaps[first] = 0
    offset = np.cumsum(gaps)
    offset -= np.repeat(offset[first], views)
    view_ts = start[view_session] + offset
    rank = np.minimum(
        np.searchsorted(ctx.page_cdf, rng.random(len(view_session)), side="right"),
        len(PAGES) - 1,
    )
    view_page = ctx.page_order[rank]
    picked = first + np.floor(rng.random(n) * views).astype(np.int64)
    low, high = funnel["cart_delay_seconds"]
    cart_ts = view_ts[picked] + rng.integers(low, high + 1, size=n)
    last_view = view_ts[first + views - 1]
    checkout = np.round(rng.exponential(funnel["checkout_delay_mean_seconds"], size=n))
    purchase_ts = np.maximum(last_view, cart_ts) + 1 + checkout.astype(np.int64)
    return _Sessions(
        start=start,
        channel=channel,
        campaign=campaign,
        landing=view_page[first],
        view_session=view_session,
        view_ts=view_ts,
        view_page=view_page,
        cart_ts=cart_ts,
        cart_page=view_page[picked],
        purchase_ts=purchase_ts,
        u_cart=rng.random(n),
        u_buy=rng.random(n),
    )


@dataclass
class _Events:
    """Event rows under construction (codes; -1 = null)."""

    person: list[np.ndarray]
    ts: list[np.ndarray]
    event: list[np.ndarray]
    channel: list[np.ndarray]
    campaign: list[np.ndarray]
    page: list[np.ndarray]

    def add(self, person, ts, event, channel=None, campaign=None, page=None) -> None:
        m = len(ts)
        none = np.full(m, -1, dtype=np.int64)
        self.person.append(np.asarray(person, dtype=np.int64))
        self.ts.append(np.asarray(ts, dtype=np.int64))
        self.event.append(np.full(m, EVENTS.index(event), dtype=np.int64))
        self.channel.append(none if channel is None else channel)
        self.campaign.append(none if campaign is None else campaign)
        self.page.append(none if page is None else page)

    def add_sessions(
        self, ctx: _Context, person: np.ndarray, s: _Sessions, cart: np.ndarray, buy: np.ndarray
    ) -> None:
        """A visit per session, its page views, and the cart adds and purchases flagged
        (each kept only when it falls inside the data)."""
        self.add(person, s.start, "visit", s.channel, s.campaign, s.landing)
        inside = s.view_ts <= ctx.end
        self.add(person[s.view_session[inside]], s.view_ts[inside], "page_view",
                 page=s.view_page[inside])
        cart = cart & (s.cart_ts <= ctx.end)
        self.add(person[cart], s.cart_ts[cart], "add_to_cart", page=s.cart_page[cart])
        buy = buy & (s.purchase_ts <= ctx.end)
        self.add(person[buy], s.purchase_ts[buy], "purchase")


@dataclass
class _ChunkResult:
    tables: dict[str, pa.Table]
    paid_visits: np.ndarray  # (days, paid campaigns)
    affiliate_cents: np.ndarray  # (days,) first-order amounts of affiliate customers, cents
    sends: np.ndarray  # (days,) mails sent
    acquired: np.ndarray  # (channels,) customers by first-visit channel
    repeat_buyers: int


def _simulate_chunk(ctx: _Context, chunk: int, order_offset: int) -> _ChunkResult:
    rng = np.random.default_rng(np.random.SeedSequence([ctx.seed, chunk]))
    params = ctx.params
    traffic = params["traffic"]
    lo = chunk * ctx.chunk_persons
    first_visit = ctx.arrivals[lo : lo + ctx.chunk_persons]
    n_persons = len(first_visit)
    person_ids = ids("C", np.arange(lo + 1, lo + n_persons + 1), ctx.id_width)

    # browse sessions: the first visit, then Poisson more on return channels
    first_channel = _codes(traffic["channel_mix"], draw_from(rng, traffic["channel_mix"], n_persons))
    count = 1 + rng.poisson(traffic["extra_sessions_mean"], size=n_persons)
    person = np.repeat(np.arange(n_persons), count)
    index = np.arange(len(person)) - np.repeat(np.cumsum(count) - count, count)
    gaps = np.round(rng.exponential(traffic["session_gap_mean_days"] * DAY, size=len(person)))
    gaps = gaps.astype(np.int64) + 1
    gaps[index == 0] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[np.cumsum(count) - count], count)
    start = first_visit[person] + elapsed
    returning = _codes(
        traffic["return_channel_mix"], draw_from(rng, traffic["return_channel_mix"], len(person))
    )
    channel = np.where(index == 0, first_channel[person], returning)
    inside = start <= ctx.end
    person, index, start, channel = person[inside], index[inside], start[inside], channel[inside]
    browse = _sessions(ctx, rng, start, channel)
    cart_p = np.array([params["funnel"]["cart_probability"].get(c, 0.0) for c in CHANNELS])
    cart = browse.u_cart < cart_p[channel]
    buy = cart & (browse.u_buy < params["funnel"]["purchase_given_cart"])
    buy &= browse.purchase_ts <= ctx.end
    # browsing stops at the first purchase
    big = np.iinfo(np.int64).max
    first_buy = np.full(n_persons, big)
    np.minimum.at(first_buy, person[buy], index[buy])
    keep = index <= first_buy[person]
    events = _Events([], [], [], [], [], [])
    kept = np.flatnonzero(keep)
    events.add_sessions(ctx, person[kept], browse.take(kept), cart[kept], buy[kept])

    # customers: persons with a purchase, created at it
    buyer_session = np.flatnonzero(buy & keep)  # one per buyer, in person order
    signed = person[buyer_session]
    signup = browse.purchase_ts[buyer_session]
    n = len(signed)
    cmix = params["customers"]["country_mix"]
    country = draw_from(rng, cmix, n)
    cid = person_ids.take(pa.array(signed))
    customers = pa.Table.from_arrays(
        [cid, timestamps(signup), strings(CHANNELS, first_channel[signed]),
         strings(tuple(cmix), country)],
        schema=SCHEMAS["customers"],
    )

    # orders: the first purchase, then BG/NBD repeats, each ending a session of its own
    oparams = params["clv"]
    o_customer, o_start, o_amount = bgnbd_orders(
        rng, signup, ctx.end, oparams["bgnbd"], oparams["gamma_gamma"]
    )
    rows = np.flatnonzero(~_first_rows(o_customer))
    r_channel = _codes(
        traffic["return_channel_mix"], draw_from(rng, traffic["return_channel_mix"], len(rows))
    )
    again = _sessions(ctx, rng, o_start[rows], r_channel)
    sure = np.ones(len(rows), dtype=bool)
    events.add_sessions(ctx, signed[o_customer[rows]], again, sure, sure)
    o_ts = o_start.copy()
    o_ts[rows] = again.purchase_ts
    placed = o_ts <= ctx.end
    o_customer, o_ts, o_amount = o_customer[placed], o_ts[placed], o_amount[placed]
    order = np.lexsort((o_ts, o_customer))
    o_customer, o_ts, o_amount = o_customer[order], o_ts[order], o_amount[order]
    orders = pa.Table.from_arrays(
        [
            ids("O", np.arange(order_offset + 1, order_offset + len(o_ts) + 1), 9),
            cid.take(pa.array(o_customer)),
            timestamps(o_ts),
            pa.array(o_amount, type=pa.float64()),
        ],
        schema=SCHEMAS["orders"],
    )
    repeat_buyers = len(np.unique(o_customer[~_first_rows(o_customer)]))

    # email to customers; a click opens a session that does not buy
    mail = simulate_email(rng, ctx.campaigns, ctx.end, params["email"], signup)
    email = email_table(ctx.campaigns, mail, cid)
    clicked = mail["clicked"] >= 0
    email_channel = np.full(int(clicked.sum()), CHANNELS.index("email"))
    clicks = _sessions(
        ctx, rng, mail["clicked"][clicked], email_channel,
        campaign=len(_PAID_NAMES) + mail["campaign"][clicked],
    )
    never = np.zeros(int(clicked.sum()), dtype=bool)
    events.add_sessions(ctx, signed[mail["customer"][clicked]], clicks, never, never)

    # reviews of orders
    reviews = params["reviews"]
    reviewed = rng.random(len(o_ts)) < reviews["probability"]
    delay = reviews["delay_min_days"] * DAY + rng.exponential(
        reviews["delay_mean_days"] * DAY, size=len(o_ts)
    )
    review_ts = o_ts + np.round(delay).astype(np.int64)
    scores = reviews["scale"][0] + draw_from(
        rng, dict(enumerate(reviews["score_probability"])), len(o_ts)
    )
    reviewed &= review_ts <= ctx.end
    surveys = pa.Table.from_arrays(
        [
            cid.take(pa.array(o_customer[reviewed])),
            timestamps(review_ts[reviewed]),
            strings(("csat",), np.zeros(int(reviewed.sum()), dtype=np.int64)),
            pa.array(scores[reviewed], type=pa.int64()),
        ],
        schema=SCHEMAS["surveys"],
    )

    # the events table, ordered by person, time and event
    e_person = np.concatenate(events.person)
    e_ts = np.concatenate(events.ts)
    e_event = np.concatenate(events.event)
    e_channel = np.concatenate(events.channel)
    e_campaign = np.concatenate(events.campaign)
    e_page = np.concatenate(events.page)
    order = np.lexsort((e_event, e_ts, e_person))
    events_table = pa.Table.from_arrays(
        [
            person_ids.take(pa.array(e_person[order])),
            timestamps(e_ts[order]),
            strings(EVENTS, e_event[order]),
            strings(CHANNELS, e_channel[order]),
            strings(_PAID_NAMES + [c["campaign"] for c in ctx.campaigns], e_campaign[order]),
            strings(PAGES, e_page[order]),
        ],
        schema=SCHEMAS["events"],
    )

    # what the spend table needs: paid visits per day and campaign, affiliate first orders
    day0 = ctx.start // DAY
    visit = (e_event == EVENTS.index("visit")) & (e_campaign >= 0) & (
        e_campaign < len(_PAID_NAMES)
    )
    paid_visits = np.zeros((ctx.n_days, len(_PAID_NAMES)), dtype=np.int64)
    np.add.at(paid_visits, (e_ts[visit] // DAY - day0, e_campaign[visit]), 1)
    affiliate = first_channel[signed] == CHANNELS.index("affiliate")
    first_amount = o_amount[_first_rows(o_customer)]
    affiliate_cents = np.zeros(ctx.n_days, dtype=np.int64)
    np.add.at(
        affiliate_cents,
        signup[affiliate] // DAY - day0,
        np.round(first_amount[affiliate] * 100).astype(np.int64),
    )
    sends = np.bincount(mail["sent"] // DAY - day0, minlength=ctx.n_days)
    acquired = np.bincount(first_channel[signed], minlength=len(CHANNELS))
    tables = {
        "customers": customers,
        "events": events_table,
        "orders": orders,
        "email": email,
        "surveys": surveys,
    }
    return _ChunkResult(tables, paid_visits, affiliate_cents, sends, acquired, repeat_buyers)


def _spend(
    ctx: _Context, paid_visits: np.ndarray, affiliate_cents: np.ndarray, sends: np.ndarray
) -> pa.Table:
    """Daily cost: paid campaigns per visit with noise, affiliates per first order, email
    per mail sent."""
    rng = np.random.default_rng(np.random.SeedSequence([ctx.seed, GLOBAL_STREAM + 2]))
    marketing = ctx.params["marketing"]
    sigma = marketing["daily_noise_sigma"]
    noise = rng.lognormal(-(sigma**2) / 2, sigma, size=paid_visits.shape)
    cpc = np.array([marketing["cpc"][name] for name in _PAID_NAMES])
    cost = np.zeros((ctx.n_days, len(_SPEND_KEYS)))
    cost[:, : len(_PAID_NAMES)] = paid_visits * cpc * noise
    cost[:, _SPEND_KEYS.index(("affiliate", None))] = (
        marketing["affiliate_commission_rate"] * affiliate_cents / 100
    )
    cost[:, _SPEND_KEYS.index(("email", None))] = marketing["email_cost_per_send"] * sends
    return spend_table(ctx.start // DAY, _SPEND_KEYS, cost)


def simulate(
    customers: int, seed: int, start: str, end: str, chunk_persons: int
) -> Iterator[tuple[str, pa.Table] | dict]:
    """Yield ``(table name, chunk)`` pairs, then finally the truth dict."""
    head = header(
        "ecommerce", TABLES, customers=customers, seed=seed, start=start, end=end,
        chunk_persons=chunk_persons,
    )
    start_s, end_s = period(customers, start, end)
    params = _parameters()
    buyer_rate = _expected_buyer_rate(params)
    visitors = max(1, round(customers / buyer_rate))
    n_days = (end_s + 1 - start_s) // DAY
    rng = np.random.default_rng(np.random.SeedSequence([seed, GLOBAL_STREAM]))
    day = rng.choice(n_days, size=visitors, p=day_weights(start_s, n_days, params["traffic"]))
    arrivals = np.sort(start_s + day * DAY + rng.integers(0, DAY, size=visitors))
    # the catalogue's popularity ranking: home first, the rest shuffled
    page_rng = np.random.default_rng(np.random.SeedSequence([seed, GLOBAL_STREAM + 3]))
    page_order = np.concatenate([[0], 1 + page_rng.permutation(len(PAGES) - 1)])
    pages = params["pages"]
    weights = (np.arange(len(PAGES)) + pages["zipf_offset"]) ** -pages["zipf_exponent"]
    page_cdf = np.cumsum(weights / weights.sum())
    page_cdf[-1] = 1.0
    campaigns = email_campaigns(start_s, end_s, seed, params["email"])
    ctx = _Context(
        seed=seed,
        start=start_s,
        end=end_s,
        n_days=n_days,
        arrivals=arrivals,
        id_width=max(7, len(str(visitors))),
        params=params,
        page_cdf=page_cdf,
        page_order=page_order,
        campaigns=campaigns,
        chunk_persons=chunk_persons,
    )
    paid_visits = np.zeros((n_days, len(_PAID_NAMES)), dtype=np.int64)
    affiliate_cents = np.zeros(n_days, dtype=np.int64)
    sends = np.zeros(n_days, dtype=np.int64)
    acquired = np.zeros(len(CHANNELS), dtype=np.int64)
    repeat_buyers = 0
    rows = dict.fromkeys(TABLES, 0)
    for chunk in range(-(-visitors // chunk_persons)):
        result = _simulate_chunk(ctx, chunk, rows["orders"])
        paid_visits += result.paid_visits
        affiliate_cents += result.affiliate_cents
        sends += result.sends
        acquired += result.acquired
        repeat_buyers += result.repeat_buyers
        for name, table in result.tables.items():
            rows[name] += table.num_rows
            yield name, table
    spend = _spend(ctx, paid_visits, affiliate_cents, sends)
    rows["spend"] = spend.num_rows
    yield "spend", spend

    truth = {**head, **params}
    truth["tables_left_out"] = {
        "subscriptions": "the shop sells no subscriptions (and there is no product to use)"
    }
    truth["traffic"] = {"visitors": visitors, **params["traffic"]}
    truth["pages"] = {**params["pages"], "ranking": [PAGES[k] for k in page_order]}
    truth["funnel"]["expected_buyer_rate"] = round(buyer_rate, 6)
    bgnbd, gg = params["clv"]["bgnbd"], params["clv"]["gamma_gamma"]
    truth["clv"]["mean_order_value"] = gg["p"] * gg["gamma"] / (gg["q"] - 1)
    truth["clv"]["repeat_share_within_days"] = {
        str(t): round(1 - (bgnbd["alpha"] / (bgnbd["alpha"] + t)) ** bgnbd["r"], 6)
        for t in (90, 365, 730)
    }
    truth["email"]["campaigns"] = public_campaigns(campaigns)
    truth["realized"] = {
        "visitors": visitors,
        "customers": int(acquired.sum()),
        "customers_by_channel": {
            c: int(acquired[i]) for i, c in enumerate(CHANNELS) if c in params["traffic"]["channel_mix"]
        },
        "repeat_buyers": repeat_buyers,
        "rows": rows,
    }
    yield truth
