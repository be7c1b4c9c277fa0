"""Multi-touch attribution: channel-tagged touchpoints, each conversion's journey in its
lookback window, the non-converting paths, the rule-based touch weights, the Markov-chain
removal effects and :func:`attribute`, which credits conversions and revenue under each
model (see the conventions in :mod:`kpilib.marketing`)."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from kpilib.data import DataError, as_table, memtable
from kpilib.marketing import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.marketing._grouping import _DAY_SECONDS, WindowLike
from kpilib.metrics import computes
from kpilib.periods import TimeLike, duration_seconds, time_filter, to_utc

__all__ = [
    "ATTRIBUTION_MODELS",
    "NO_TOUCH",
    "attribute",
    "attribution_journeys",
    "first_orders",
    "marketing_touchpoints",
    "markov_removal_effects",
    "non_converting_journeys",
    "touch_weights",
]

#: The attribution rules :func:`attribute` knows, in the order it reports them.
ATTRIBUTION_MODELS = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "markov",
)

#: Channel label of conversions with no touchpoint in their lookback window.
NO_TOUCH = "(no touch)"


def marketing_touchpoints(
    events: ibis.Table | pd.DataFrame | None,
    email: ibis.Table | pd.DataFrame | None = None,
    *,
    visit_event: str = "visit",
    channels: Sequence[str] | None = None,
    email_channel: str = "email",
) -> ibis.Table:
    """Channel-tagged touchpoints: visits with a channel, and email clicks.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame or None
        The events table; its ``visit_event`` rows with a ``channel`` are touchpoints. With
        ``email`` given it may be None or lack ``channel``: the clicks are then the only
        touchpoints.
    email : ibis.Table or pandas.DataFrame, optional
        The email table; each click (``clicked_at``) is a touchpoint of ``email_channel``.
    visit_event : str, default "visit"
        Event name of a visit.
    channels : list of str, optional
        Keep only these channels (e.g. the paid and owned ones); default all.
    email_channel : str, default "email"
        Channel label of email clicks.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``ts``, ``channel`` (lazy, in no particular order: an order would
        cost a sort of every touch in each query that uses them).

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a"], "ts": ["2026-10-01", "2026-10-02"],
    ...     "event": ["visit", "page_view"], "channel": ["social", None]})
    >>> marketing_touchpoints(events).to_pandas()
      customer_id                        ts channel
    0           a 2026-10-01 00:00:00+00:00  social
    """
    events = as_table(events, "events") if events is not None else None
    if email is None and (events is None or "channel" not in events.columns):
        raise DataError(
            "touchpoints need a 'channel' column on visit events, which the table does not have"
            if events is not None else "touchpoints need visit events with a channel, or email clicks",
            table="events",
            column="channel",
            fix="Add the traffic channel of each visit (utm_source or similar) as a 'channel' column, "
            "or pass the email table (its clicks are touchpoints)",
        )
    parts = []
    if events is not None and "channel" in events.columns:
        visits = events.filter(events.event == visit_event, events.channel.notnull())
        parts.append(visits.select("customer_id", "ts", channel=visits.channel.cast("string")))
    if email is not None:
        mail = as_table(email, "email")
        clicks = mail.filter(mail.clicked_at.notnull())
        parts.append(clicks.select("customer_id", ts=clicks.clicked_at,
                                   channel=ibis.literal(email_channel)))
    touches = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    if channels is not None:
        touches = touches.filter(touches.channel.isin(list(channels)))
    return touches


def first_orders(orders: ibis.Table | pd.DataFrame) -> ibis.Table:
    """Each customer's first order (a first purchase), as an orders-like table.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "ts": ["2026-10-05", "2026-10-01", "2026-10-02"], "amount": [5.0, 10.0, 7.0]})
    >>> first_orders(orders).order_by("customer_id").to_pandas()[["customer_id", "amount"]]
      customer_id  amount
    0           a    10.0
    1           b     7.0
    """
    orders = as_table(orders, "orders")
    ranked = orders.mutate(rank=ibis.row_number().over(group_by=orders.customer_id,
                                                       order_by=[orders.ts, orders.amount]))
    return ranked.filter(ranked["rank"] == 0).select("customer_id", "ts", "amount")


def _touchpoints(touchpoints: ibis.Table | pd.DataFrame) -> ibis.Table:
    """Touchpoints checked like events (ids, UTC timestamps), with a string channel."""
    if isinstance(touchpoints, ibis.Table):
        table = touchpoints if "event" in touchpoints.columns else touchpoints.mutate(event=ibis.literal("touch"))
    elif isinstance(touchpoints, pd.DataFrame):
        table = touchpoints if "event" in touchpoints.columns else touchpoints.assign(event="touch")
    else:
        raise DataError(f"touchpoints must be a DataFrame or an Ibis table, got {type(touchpoints).__name__}",
                        table="touchpoints", fix="Pass customer_id, ts and channel columns")
    if "channel" not in table.columns:
        raise DataError(
            f"touchpoints need a 'channel' column (they have: {', '.join(table.columns)})",
            table="touchpoints",
            column="channel",
            fix="Use marketing_touchpoints(events) or add the channel of each touch",
        )
    table = as_table(table, "events")
    table = table.filter(table.channel.notnull())
    return table.select("customer_id", "ts", channel=table.channel.cast("string"))


def _numbered_conversions(conversions: ibis.Table | pd.DataFrame) -> ibis.Table:
    conv = as_table(conversions, "orders").select("customer_id", "ts", "amount")
    by_customer = ibis.window(group_by=conv.customer_id, order_by=[conv.ts, conv.amount])
    return conv.mutate(
        conversion_id=ibis.row_number().over(order_by=[conv.customer_id, conv.ts, conv.amount]),
        previous_at=conv.ts.lag().over(by_customer),
    )


def attribution_journeys(
    touchpoints: ibis.Table | pd.DataFrame,
    conversions: ibis.Table | pd.DataFrame,
    *,
    lookback: WindowLike = "30D",
    start: TimeLike = None,
    end: TimeLike = None,
) -> ibis.Table:
    """The touchpoints of each conversion's lookback window, one row per touch (lazy).

    A conversion's journey is its customer's touches in ``(t − lookback, t]`` that come
    after the customer's previous conversion. A conversion with no touch has one row with
    a null ``channel`` and ``touches == 0``.

    Parameters
    ----------
    touchpoints : ibis.Table or pandas.DataFrame
        ``customer_id``, ``ts``, ``channel`` (e.g. :func:`marketing_touchpoints`).
    conversions : ibis.Table or pandas.DataFrame
        ``customer_id``, ``ts``, ``amount`` (the orders table, or :func:`first_orders`).
    lookback : str, pandas.Timedelta or int, default "30D"
        How far back a touch can be (an int is days).
    start, end : str or pandas.Timestamp, optional
        Only conversions in ``[start, end)`` (their touches may be earlier).

    Returns
    -------
    ibis.Table
        ``conversion_id``, ``customer_id``, ``converted_at``, ``amount``, ``touch_at``,
        ``channel``, ``position`` (1 = first touch), ``touches`` (journey length),
        ``days_before`` (conversion time − touch time, in days).

    Examples
    --------
    >>> import pandas as pd
    >>> touches = pd.DataFrame({"customer_id": ["a", "a"], "ts": ["2026-09-01", "2026-10-08"],
    ...     "channel": ["social", "email"]})
    >>> orders = pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-10"], "amount": [50.0]})
    >>> attribution_journeys(touches, orders).to_pandas()[["channel", "position", "touches", "days_before"]]
      channel  position  touches  days_before
    0   email         1        1          2.0
    """
    joined = _journey_touches(touchpoints, conversions, lookback=lookback, start=start, end=end)
    journey = ibis.window(group_by=joined.conversion_id, order_by=[joined.touch_at, joined.channel])
    return joined.mutate(
        position=ibis.row_number().over(journey) + 1,
        touches=joined.channel.count().over(group_by=joined.conversion_id),
        days_before=(joined.converted_at.epoch_seconds() - joined.touch_at.epoch_seconds()).cast("float64")
        / _DAY_SECONDS,
    )


def _journey_touches(touchpoints: ibis.Table | pd.DataFrame, conversions: ibis.Table | pd.DataFrame, *,
                     lookback: WindowLike, start: TimeLike, end: TimeLike) -> ibis.Table:
    """:func:`attribution_journeys` before the per-journey windows."""
    seconds = duration_seconds(lookback, "lookback")
    conv = time_filter(_numbered_conversions(conversions), "ts", to_utc(start), to_utc(end))
    # one lower bound, the later of the lookback's and the previous conversion: with an
    # equality and two range conditions the engine joins by hash (an OR would make it
    # compare every conversion with every touch)
    earliest = conv.ts - ibis.interval(seconds=int(seconds))
    conv = conv.mutate(window_start=ibis.greatest(earliest, conv.previous_at.fill_null(earliest)))
    touch = _touchpoints(touchpoints).rename(t_customer_id="customer_id", touch_at="ts")
    joined = conv.left_join(touch, [
        conv.customer_id == touch.t_customer_id,
        touch.touch_at <= conv.ts,
        touch.touch_at > conv.window_start,
    ])
    return joined.select("conversion_id", "customer_id", converted_at=joined.ts, amount=joined.amount,
                         touch_at=joined.touch_at, channel=joined.channel)


def non_converting_journeys(
    touchpoints: ibis.Table | pd.DataFrame,
    conversions: ibis.Table | pd.DataFrame,
    *,
    lookback: WindowLike = "30D",
    start: TimeLike = None,
    end: TimeLike = None,
) -> ibis.Table:
    """Each customer's touches after their last conversion (or all, if none), as one path (lazy).

    Only touches within ``lookback`` of the path's last touch are kept, so converting and
    non-converting paths span the same time; ``start`` and ``end`` keep the paths whose
    last touch is in ``[start, end)``. The Markov model needs these paths: without them
    every channel would seem to lead to a conversion.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``touch_at``, ``channel``, ``position``.

    Examples
    --------
    >>> import pandas as pd
    >>> touches = pd.DataFrame({"customer_id": ["a", "a", "b"], "ts": ["2026-10-01", "2026-10-12", "2026-10-02"],
    ...     "channel": ["social", "email", "social"]})
    >>> orders = pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-10"], "amount": [50.0]})
    >>> non_converting_journeys(touches, orders).order_by("customer_id").to_pandas()[["customer_id", "channel"]]
      customer_id channel
    0           a   email
    1           b  social
    """
    after = _idle_touches(touchpoints, conversions, lookback=lookback, start=start, end=end)
    return after.mutate(position=ibis.row_number().over(group_by=after.customer_id,
                                                        order_by=[after.touch_at, after.channel]) + 1)


def _idle_touches(touchpoints: ibis.Table | pd.DataFrame, conversions: ibis.Table | pd.DataFrame, *,
                  lookback: WindowLike, start: TimeLike, end: TimeLike) -> ibis.Table:
    """:func:`non_converting_journeys` before the positions (the path ends are grouped and
    joined back, which the engine does by hash, rather than a window over every touch)."""
    seconds = duration_seconds(lookback, "lookback")
    conv = as_table(conversions, "orders")
    last = conv.group_by("customer_id").agg(last_conversion_at=conv.ts.max()).rename(l_customer_id="customer_id")
    touch = _touchpoints(touchpoints).rename(touch_at="ts")
    after = touch.left_join(last, touch.customer_id == last.l_customer_id)
    after = after.filter(after.last_conversion_at.isnull() | (after.touch_at > after.last_conversion_at))
    after = after.select("customer_id", "touch_at", "channel")
    ends = after.group_by("customer_id").agg(path_end=after.touch_at.max()).rename(e_customer_id="customer_id")
    ends = time_filter(ends, "path_end", to_utc(start), to_utc(end))
    after = after.join(ends, [after.customer_id == ends.e_customer_id,
                              after.touch_at > ends.path_end - ibis.interval(seconds=int(seconds))])
    return after.select("customer_id", "touch_at", "channel")


def _check_models(model: str | Sequence[str]) -> list[str]:
    models = [model] if isinstance(model, str) else list(model)
    if not models:
        raise ValueError(f"give at least one attribution model, from {list(ATTRIBUTION_MODELS)}")
    unknown = [m for m in models if m not in ATTRIBUTION_MODELS]
    if unknown:
        raise ValueError(f"unknown attribution model(s) {unknown}; use {list(ATTRIBUTION_MODELS)}")
    return list(dict.fromkeys(models))


#: Credit is summed in the engine as exact decimals (18 places): a parallel engine adds
#: floats in a varying order, and the same rows must give the same bits in every run.
_EXACT_CREDIT = dt.Decimal(38, 18)


def _weighted(journeys: ibis.Table, models: Sequence[str], *, half_life: WindowLike,
              direct_channels: Sequence[str]) -> ibis.Table:
    """``journeys`` with each touch's weight under each rule-based model, as ``w_<model>``.

    Windows are per ``conversion_id`` and unordered (DuckDB ran a sum over an ordered
    whole-journey frame a hundred times slower); the time-decay total is an exact decimal
    sum instead, so the same rows give the same bits in any order.
    """
    journey = ibis.window(group_by=journeys.conversion_id)
    if "time_decay" in models:
        days = duration_seconds(half_life, "half_life") / _DAY_SECONDS
        days_before = journeys.days_before.cast("float64")
        # counted from the journey's last touch, which weighs 1: the total is at least 1
        journeys = journeys.mutate(
            decay_=ibis.literal(0.5) ** ((days_before - days_before.min().over(journey)) / days))
    k, n = journeys.position, journeys.touches
    weights = {}
    for model in models:
        if model == "first_touch":
            weight = ibis.ifelse(k == 1, 1.0, 0.0)
        elif model == "last_touch":
            weight = ibis.ifelse(k == n, 1.0, 0.0)
        elif model == "linear":
            weight = ibis.literal(1.0) / ibis.greatest(n, 1)
        elif model == "position_based":
            weight = ibis.cases((n == 1, 1.0), (n == 2, 0.5), ((k == 1) | (k == n), 0.4),
                                else_=ibis.literal(0.2) / ibis.greatest(n - 2, 1))
        elif model == "time_decay":
            weight = journeys.decay_ / journeys.decay_.cast(_EXACT_CREDIT).sum().over(journey).cast("float64")
        else:  # last_non_direct: the last touch that is not direct; the last touch if every one is
            eligible = ~journeys.channel.isin(list(direct_channels)).fill_null(False)
            last = ibis.cases((eligible, k)).max().over(journey).fill_null(k.max().over(journey))
            weight = ibis.ifelse(k == last, 1.0, 0.0)
        weights[f"w_{model}"] = weight
    weighted = journeys.mutate(**weights)
    return weighted.drop("decay_") if "time_decay" in models else weighted


def touch_weights(
    journeys: pd.DataFrame,
    model: str,
    *,
    half_life: WindowLike = "7D",
    direct_channels: Sequence[str] = ("direct",),
) -> np.ndarray:
    r"""The share of its conversion each touch gets under a rule-based model.

    The weights are the expressions :func:`attribute` sums in the engine, applied here to
    the given rows.

    Parameters
    ----------
    journeys : pandas.DataFrame
        Touches with ``conversion_id``, ``position`` (1-based), ``touches`` (journey
        length) and, for ``time_decay``, ``days_before``; for ``last_non_direct``,
        ``channel``.
    model : {"first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based"}
        The rule.
    half_life : str, pandas.Timedelta or int, default "7D"
        Time-decay half-life (an int is days).
    direct_channels : list of str, default ("direct",)
        Channels ``last_non_direct`` skips when the journey has another touch.

    Returns
    -------
    numpy.ndarray
        One weight per row; the weights of each conversion add up to 1.

    Notes
    -----
    Time decay: :math:`w_k \propto 0.5^{\Delta t_k / h}`. Position based: one touch gets
    1; two get ½ each; *n* ≥ 3 give 0.4 to the first and the last and
    :math:`0.2/(n-2)` to each touch in between.

    Examples
    --------
    >>> import pandas as pd
    >>> j = pd.DataFrame({"conversion_id": [1] * 4, "position": [1, 2, 3, 4], "touches": [4] * 4})
    >>> touch_weights(j, "position_based")
    array([0.4, 0.1, 0.1, 0.4])
    """
    if model not in ATTRIBUTION_MODELS or model == "markov":
        raise ValueError(f"touch_weights covers the rule-based models, not {model!r}")
    needed = ["conversion_id", "position", "touches"] + {"time_decay": ["days_before"],
                                                         "last_non_direct": ["channel"]}.get(model, [])
    missing = [c for c in needed if c not in journeys.columns]
    if missing:
        raise ValueError(f"journeys need the columns {missing} for {model!r}")
    frame = journeys[needed].reset_index(drop=True)
    if "channel" in frame.columns:
        frame = frame.assign(channel=frame["channel"].astype("string"))
    weighted = _weighted(memtable(frame.assign(row=np.arange(len(frame)))), [model], half_life=half_life,
                         direct_channels=direct_channels)
    return weighted.order_by("row").execute()[f"w_{model}"].to_numpy(dtype=float)


# Markov-chain states besides the channels.
_START, _CONVERSION, _NULL = "(start)", "(conversion)", "(null)"


def _transitions(paths: ibis.Table, path: str, order_by: list[str], outcome: ibis.StringValue) -> ibis.Table:
    """One ``source``, ``target`` row per step of each path: (start) → its channels in
    ``order_by`` order → ``outcome`` (a column or literal, read on the path's last touch).
    Rows tied on ``order_by`` are the same touch, so either order gives the same steps."""
    order = ibis.window(group_by=paths[path], order_by=[paths[c] for c in order_by])
    steps = paths.mutate(source=paths.channel.lag().over(order).fill_null(_START), outcome=outcome,
                         is_last=paths.channel.lead().over(order).isnull())
    ends = steps.filter(steps.is_last)
    return steps.select("source", target=steps.channel).union(ends.select(source=ends.channel, target=ends.outcome))


def _count_transitions(transitions: ibis.Table) -> pd.Series:
    """Transition counts (the engine's aggregation), indexed by (from, to) in sorted order."""
    counts = transitions.group_by("source", "target").agg(count=transitions.count()).execute()
    counts = counts.sort_values(["source", "target"], kind="stable")
    return pd.Series(counts["count"].to_numpy(dtype="int64"),
                     index=pd.MultiIndex.from_arrays([counts["source"].astype(str), counts["target"].astype(str)],
                                                     names=["from", "to"]), name="count")


def _absorbing_chain(counts: pd.Series, channels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Transition probabilities among (start) and the channels (Q) and to conversion (r)."""
    transient = [_START, *channels]
    index = {s: i for i, s in enumerate(transient)}
    q = np.zeros((len(transient), len(transient)))
    to_conversion = np.zeros(len(transient))
    out_total = np.zeros(len(transient))
    for (source, target), count in counts.items():
        i = index[source]
        out_total[i] += count
        if target == _CONVERSION:
            to_conversion[i] += count
        elif target != _NULL:
            q[i, index[target]] += count
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.divide(q, out_total[:, None], out=np.zeros_like(q), where=out_total[:, None] > 0)
        r = np.divide(to_conversion, out_total, out=np.zeros_like(to_conversion), where=out_total > 0)
    return q, r


def _conversion_probability(q: np.ndarray, r: np.ndarray, removed: int | None = None) -> float:
    """P(reach conversion from start) of the absorbing chain; a removed state leads to null."""
    if removed is not None:
        q, r = q.copy(), r.copy()
        q[removed, :] = 0.0
        r[removed] = 0.0
    absorbed = np.linalg.solve(np.eye(len(r)) - q, r)
    return float(absorbed[0])


def _removal_effects(counts: pd.Series) -> pd.DataFrame:
    """:func:`markov_removal_effects` from the transition counts."""
    states = set(counts.index.get_level_values("from")) | set(counts.index.get_level_values("to"))
    channels = sorted(states - {_START, _CONVERSION, _NULL})
    q, r = _absorbing_chain(counts, channels)
    base = _conversion_probability(q, r) if channels else 0.0
    without = [_conversion_probability(q, r, removed=i) for i in range(1, len(channels) + 1)]
    effect = [1 - w / base if base > 0 else 0.0 for w in without]
    total = sum(effect)
    out = pd.DataFrame({
        "channel": channels,
        "conversion_probability_without": without,
        "removal_effect": effect,
        "share": [e / total if total > 0 else np.nan for e in effect],
    })
    out.attrs["conversion_probability"] = base
    return out


def markov_removal_effects(paths: pd.DataFrame) -> pd.DataFrame:
    r"""Removal effects of a first-order Markov chain over journeys, computed exactly.

    Parameters
    ----------
    paths : pandas.DataFrame
        One row per touch: ``path`` (journey id), ``position`` (order within the path),
        ``channel`` and ``converted`` (whether the path ends in a conversion, read on its
        first touch; include the non-converting paths).

    Returns
    -------
    pandas.DataFrame
        ``channel``, ``conversion_probability_without`` (P(conversion) with the channel
        removed), ``removal_effect`` and ``share`` (removal effects normalised to 1).
        ``attrs["conversion_probability"]`` is P(conversion) of the full chain.

    Notes
    -----
    States are ``(start)``, the channels, and the absorbing ``(conversion)`` and
    ``(null)``; transition probabilities are the observed transition counts normalised
    per state. With :math:`Q` the transitions among transient states and :math:`r` the
    one-step probabilities of converting, the absorption probabilities are
    :math:`b = (I - Q)^{-1} r` and :math:`P(\text{conversion}) = b_{\text{start}}`.
    Removing channel *c* makes its state lead to ``(null)`` (row *c* of :math:`Q` and
    :math:`r` set to 0):

    .. math::

        \mathrm{RE}_c = 1 - \frac{P_{-c}(\text{conversion})}{P(\text{conversion})}

    The transitions are counted in the engine, the aggregation :func:`attribute` runs on
    the journeys; only the counts come back.

    References
    ----------
    Anderl, E., Becker, I., von Wangenheim, F. & Schumann, J. H. (2016). Mapping the
    customer journey: lessons learned from graph-based online attribution modeling.
    International Journal of Research in Marketing 33(3), 457-474.

    Examples
    --------
    >>> import pandas as pd
    >>> paths = pd.DataFrame({"path": [1, 1, 2], "position": [1, 2, 1],
    ...     "channel": ["social", "email", "social"], "converted": [True, True, False]})
    >>> markov_removal_effects(paths)[["channel", "removal_effect", "share"]]
      channel  removal_effect  share
    0   email             1.0    0.5
    1  social             1.0    0.5
    """
    missing = {"path", "position", "channel", "converted"} - set(paths.columns)
    if missing:
        raise ValueError(f"paths need the columns {sorted(missing)}")
    paths = paths.dropna(subset=["channel"])
    frame = pd.DataFrame({"path": paths["path"].astype(str).to_numpy(), "position": paths["position"].to_numpy(),
                          "channel": paths["channel"].astype(str).to_numpy(),
                          "converted": paths["converted"].astype(bool).to_numpy()})
    table = memtable(frame)
    order = ibis.window(group_by=table.path, order_by=table.position)
    table = table.mutate(converted=table.converted & table.position.lag().over(order).isnull())
    outcome = ibis.ifelse(table.converted.any().over(group_by=table.path), _CONVERSION, _NULL)
    return _removal_effects(_count_transitions(_transitions(table, "path", ["position"], outcome)))


def _exact(value: ibis.NumericValue) -> ibis.FloatingScalar:
    return value.cast(_EXACT_CREDIT).sum().cast("float64")


def _credit_by_channel(journeys: ibis.Table, models: list[str], *, half_life: WindowLike,
                       direct_channels: Sequence[str]) -> pd.DataFrame:
    """Per channel (a null channel: the conversions without a touch), the conversions and
    the revenue each rule-based model credits, and the conversions that start there."""
    weighted = _weighted(journeys, models, half_life=half_life, direct_channels=direct_channels)
    first = weighted.position == 1
    sums = {"started": first.sum(), "started_revenue": _exact(ibis.ifelse(first, weighted.amount, 0.0))}
    for name in models:
        sums[f"{name}_conversions"] = _exact(weighted[f"w_{name}"])
        sums[f"{name}_revenue"] = _exact(weighted[f"w_{name}"] * weighted.amount)
    return weighted.group_by("channel").agg(**sums).execute()


@computes("attribution_first_touch", "attribution_last_touch", "attribution_linear", "attribution_time_decay",
          "attribution_position_based", "attribution_markov")
def attribute(
    touchpoints: ibis.Table | pd.DataFrame,
    conversions: ibis.Table | pd.DataFrame,
    model: str | Sequence[str] = "linear",
    *,
    lookback: WindowLike = "30D",
    half_life: WindowLike = "7D",
    direct_channels: Sequence[str] = ("direct",),
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Credit conversions and their revenue to channels under one or several attribution models.

    Parameters
    ----------
    touchpoints : ibis.Table or pandas.DataFrame
        Channel-tagged touches: ``customer_id``, ``ts``, ``channel`` (e.g.
        :func:`marketing_touchpoints`).
    conversions : ibis.Table or pandas.DataFrame
        ``customer_id``, ``ts``, ``amount``: the orders table, or :func:`first_orders`.
    model : str or list of str, default "linear"
        One or more of :data:`ATTRIBUTION_MODELS`: ``first_touch``, ``last_touch``,
        ``last_non_direct``, ``linear``, ``time_decay``, ``position_based``, ``markov``.
    lookback : str, pandas.Timedelta or int, default "30D"
        How far before a conversion a touch can be (an int is days).
    half_life : str, pandas.Timedelta or int, default "7D"
        Half-life of the time-decay weights.
    direct_channels : list of str, default ("direct",)
        Channels that ``last_non_direct`` passes over.
    start, end : str or pandas.Timestamp, optional
        Only conversions in ``[start, end)`` are credited (and, for Markov, only
        non-converting paths ending in it are used).

    Returns
    -------
    pandas.DataFrame
        Per model and channel (models in the order given, channels sorted, ``"(no touch)"``
        last): ``model``, ``channel``, ``conversions`` (credited), ``revenue`` (credited),
        ``conversion_share``, ``revenue_share``. For every model the credited conversions
        add up to the number of conversions, and the revenue to their amount.

    Notes
    -----
    Everything runs in the engine: the journeys (:func:`attribution_journeys`), each
    touch's weight (:func:`touch_weights`) and their sums per channel, and the Markov
    transition counts; only one row per channel, and the counts, come back:

    .. math::

        \text{credit}_c = \sum_j \sum_{k : c_{j,k} = c} w_{j,k}, \qquad
        \text{revenue}_c = \sum_j a_j \sum_{k : c_{j,k} = c} w_{j,k}

    The sums are exact decimals (18 places), so they do not depend on the order the
    engine adds in. The Markov model shares the touched conversions :math:`C` (and their
    revenue) out in proportion to the removal effects (:func:`markov_removal_effects`),
    estimated on the converting and the non-converting journeys
    (:func:`non_converting_journeys`).

    Examples
    --------
    >>> import pandas as pd
    >>> touches = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "ts": ["2026-10-01", "2026-10-05", "2026-10-03"], "channel": ["social", "email", "email"]})
    >>> orders = pd.DataFrame({"customer_id": ["a", "b", "c"], "ts": ["2026-10-06", "2026-10-04", "2026-10-04"],
    ...     "amount": [100.0, 50.0, 10.0]})
    >>> attribute(touches, orders, ["first_touch", "linear"])[["model", "channel", "conversions", "revenue"]]
             model     channel  conversions  revenue
    0  first_touch       email          1.0     50.0
    1  first_touch      social          1.0    100.0
    2  first_touch  (no touch)          1.0     10.0
    3       linear       email          1.5    100.0
    4       linear      social          0.5     50.0
    5       linear  (no touch)          1.0     10.0
    """
    models = _check_models(model)
    window = {"lookback": lookback, "start": start, "end": end}
    journeys = attribution_journeys(touchpoints, conversions, **window)
    rules = [name for name in models if name != "markov"]
    sums = _credit_by_channel(journeys, rules, half_life=half_life, direct_channels=direct_channels)
    untouched = sums[sums["channel"].isnull()]
    sums = sums[sums["channel"].notnull()].assign(channel=lambda f: f["channel"].astype(str))
    sums = sums.sort_values("channel", kind="stable").set_index("channel")
    channels = sums.index.tolist()
    touched_conversions = int(sums["started"].sum())
    touched_revenue = float(sums["started_revenue"].sum())
    no_touch = (int(untouched["started"].sum()), float(untouched["started_revenue"].sum()))
    total_conversions = touched_conversions + no_touch[0]
    total_revenue = touched_revenue + no_touch[1]
    frames = []
    for name in models:
        if name == "markov":
            shares = _markov_shares(touchpoints, conversions, channels, **window)
            credit = pd.DataFrame({"channel": channels, "conversions": shares * touched_conversions,
                                   "revenue": shares * touched_revenue})
        else:
            credit = pd.DataFrame({"channel": channels, "conversions": sums[f"{name}_conversions"].to_numpy(),
                                   "revenue": sums[f"{name}_revenue"].to_numpy()})
        if no_touch[0]:
            credit = pd.concat([credit, pd.DataFrame({"channel": [NO_TOUCH], "conversions": [float(no_touch[0])],
                                                      "revenue": [no_touch[1]]})])
        credit.insert(0, "model", name)
        frames.append(credit)
    out = pd.concat(frames, ignore_index=True).astype({"model": object, "channel": object, "conversions": float,
                                                        "revenue": float})
    out["conversion_share"] = out["conversions"] / total_conversions if total_conversions else np.nan
    out["revenue_share"] = out["revenue"] / total_revenue if total_revenue > 0 else np.nan
    return out


def _markov_shares(touchpoints: ibis.Table | pd.DataFrame, conversions: ibis.Table | pd.DataFrame,
                   channels: list[str], **window: object) -> np.ndarray:
    """The removal-effect shares of ``channels`` (0 for a channel the chain lacks), from the
    transitions of the converting journeys and of the non-converting paths."""
    touched = _journey_touches(touchpoints, conversions, **window)
    touched = touched.filter(touched.channel.notnull())
    idle = _idle_touches(touchpoints, conversions, **window)
    order = ["touch_at", "channel"]
    transitions = _transitions(touched, "conversion_id", order, ibis.literal(_CONVERSION)).union(
        _transitions(idle, "customer_id", order, ibis.literal(_NULL)))
    effects = _removal_effects(_count_transitions(transitions))
    return effects.set_index("channel")["share"].reindex(channels).fillna(0.0).to_numpy(dtype=float)
