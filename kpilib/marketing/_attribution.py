"""Multi-touch attribution: channel-tagged touchpoints, each conversion's journey in its
lookback window, the non-converting paths, the rule-based touch weights, the Markov-chain
removal effects and :func:`attribute`, which credits conversions and revenue under each
model (see the conventions in :mod:`kpilib.marketing`)."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd

from kpilib.data import DataError, as_table
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
        ``customer_id``, ``ts``, ``channel`` (lazy).

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
    return touches.order_by(["customer_id", "ts", "channel"])


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
        days_before=(joined.converted_at.epoch_seconds() - joined.touch_at.epoch_seconds()).cast("float64")
        / _DAY_SECONDS,
    )


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


def _check_models(model: str | Sequence[str]) -> list[str]:
    models = [model] if isinstance(model, str) else list(model)
    if not models:
        raise ValueError(f"give at least one attribution model, from {list(ATTRIBUTION_MODELS)}")
    unknown = [m for m in models if m not in ATTRIBUTION_MODELS]
    if unknown:
        raise ValueError(f"unknown attribution model(s) {unknown}; use {list(ATTRIBUTION_MODELS)}")
    return list(dict.fromkeys(models))


def touch_weights(
    journeys: pd.DataFrame,
    model: str,
    *,
    half_life: WindowLike = "7D",
    direct_channels: Sequence[str] = ("direct",),
) -> np.ndarray:
    r"""The share of its conversion each touch gets under a rule-based model.

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
        days = duration_seconds(half_life, "half_life") / _DAY_SECONDS
        raw = np.power(0.5, journeys["days_before"].to_numpy(dtype=float) / days)
        total = pd.Series(raw).groupby(journeys["conversion_id"].to_numpy()).transform("sum").to_numpy()
        return raw / total
    if model == "last_non_direct":
        frame = pd.DataFrame({"id": journeys["conversion_id"].to_numpy(), "k": k,
                              "eligible": ~journeys["channel"].isin(list(direct_channels)).to_numpy()})
        ids = frame["id"]
        any_eligible = frame.groupby("id")["eligible"].transform("any")
        candidate = frame["eligible"] | ~any_eligible
        last = frame["k"].where(candidate).groupby(ids).transform("max")
        return (frame["k"] == last).to_numpy(dtype=float)
    raise ValueError(f"touch_weights covers the rule-based models, not {model!r}")


def _transition_counts(paths: pd.DataFrame) -> pd.Series:
    """Transitions start → … → conversion/null counted over paths (``path``, ``position``, ``channel``, ``converted``)."""
    paths = paths.sort_values(["path", "position"])
    previous = paths.groupby("path")["channel"].shift(1).fillna("(start)")
    steps = pd.DataFrame({"from": previous.to_numpy(), "to": paths["channel"].to_numpy()})
    ends = paths.groupby("path").agg(last=("channel", "last"), converted=("converted", "first"))
    finals = pd.DataFrame({"from": ends["last"].to_numpy(),
                           "to": np.where(ends["converted"], "(conversion)", "(null)")})
    return pd.concat([steps, finals]).value_counts(["from", "to"])


def _conversion_probability(counts: pd.Series, channels: list[str], removed: str | None = None) -> float:
    """P(reach conversion from start) of the absorbing chain; a removed channel leads to null."""
    transient = ["(start)", *channels]
    index = {s: i for i, s in enumerate(transient)}
    q = np.zeros((len(transient), len(transient)))
    to_conversion = np.zeros(len(transient))
    out_total = np.zeros(len(transient))
    for (source, target), count in counts.items():
        i = index[source]
        out_total[i] += count
        if target == "(conversion)":
            to_conversion[i] += count
        elif target != "(null)":
            q[i, index[target]] += count
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.divide(q, out_total[:, None], out=np.zeros_like(q), where=out_total[:, None] > 0)
        r = np.divide(to_conversion, out_total, out=np.zeros_like(to_conversion), where=out_total > 0)
    if removed is not None:
        q[index[removed], :] = 0.0
        r[index[removed]] = 0.0
    absorbed = np.linalg.solve(np.eye(len(transient)) - q, r)
    return float(absorbed[0])


def markov_removal_effects(paths: pd.DataFrame) -> pd.DataFrame:
    r"""Removal effects of a first-order Markov chain over journeys, computed exactly.

    Parameters
    ----------
    paths : pandas.DataFrame
        One row per touch: ``path`` (journey id), ``position`` (order within the path),
        ``channel`` and ``converted`` (whether the path ends in a conversion; include the
        non-converting paths).

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
    channels = sorted(paths["channel"].astype(str).unique())
    counts = _transition_counts(paths.assign(channel=paths["channel"].astype(str)))
    base = _conversion_probability(counts, channels) if channels else 0.0
    without = [_conversion_probability(counts, channels, removed=c) for c in channels]
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
    Journeys are built in the engine (:func:`attribution_journeys`); the weights are then
    applied per touch (:func:`touch_weights`):

    .. math::

        \text{credit}_c = \sum_j \sum_{k : c_{j,k} = c} w_{j,k}, \qquad
        \text{revenue}_c = \sum_j a_j \sum_{k : c_{j,k} = c} w_{j,k}

    The Markov model shares the touched conversions :math:`C` (and their revenue) out in
    proportion to the removal effects (:func:`markov_removal_effects`), estimated on the
    converting and the non-converting journeys (:func:`non_converting_journeys`).

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
    # a fixed row order: the money sums below come out the same bits in every run
    journeys = attribution_journeys(touchpoints, conversions, **window).order_by(["conversion_id", "position"]).execute()
    touched = journeys[journeys["touches"] > 0]
    untouched = journeys[journeys["touches"] == 0]
    channels = sorted(touched["channel"].astype(str).unique())
    total_conversions = journeys["conversion_id"].nunique()
    total_revenue = float(journeys.drop_duplicates("conversion_id")["amount"].sum())
    amounts = touched["amount"].to_numpy(dtype=float)
    frames = []
    for name in models:
        if name == "markov":
            idle = non_converting_journeys(touchpoints, conversions, **window).order_by(["customer_id", "position"])
            credit = _markov_credit(touched, idle.execute(), channels)
        else:
            weights = touch_weights(touched, name, half_life=half_life, direct_channels=direct_channels)
            credit = pd.DataFrame({"channel": touched["channel"].astype(str).to_numpy(), "conversions": weights,
                                   "revenue": weights * amounts}).groupby("channel").sum()
            credit = credit.reindex(channels, fill_value=0.0)
        credit = credit.reset_index()
        if len(untouched):
            credit = pd.concat([credit, pd.DataFrame({"channel": [NO_TOUCH], "conversions": [float(len(untouched))],
                                                      "revenue": [float(untouched["amount"].sum())]})])
        credit.insert(0, "model", name)
        frames.append(credit)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    columns = ["model", "channel", "conversions", "revenue"]
    out = out.reindex(columns=columns)
    out["conversions"] = out["conversions"].astype(float)
    out["revenue"] = out["revenue"].astype(float)
    out["conversion_share"] = out["conversions"] / total_conversions if total_conversions else np.nan
    out["revenue_share"] = out["revenue"] / total_revenue if total_revenue > 0 else np.nan
    return out


def _markov_credit(touched: pd.DataFrame, idle: pd.DataFrame, channels: list[str]) -> pd.DataFrame:
    paths = pd.concat([
        pd.DataFrame({"path": "c" + touched["conversion_id"].astype(str), "position": touched["position"],
                      "channel": touched["channel"].astype(str), "converted": True}),
        pd.DataFrame({"path": "n" + idle["customer_id"].astype(str), "position": idle["position"],
                      "channel": idle["channel"].astype(str), "converted": False}),
    ], ignore_index=True)
    effects = markov_removal_effects(paths).set_index("channel")["share"].reindex(channels).fillna(0.0)
    n_conversions = touched["conversion_id"].nunique()
    revenue = float(touched.drop_duplicates("conversion_id")["amount"].sum())
    return pd.DataFrame({"conversions": effects * n_conversions, "revenue": effects * revenue},
                        index=pd.Index(channels, name="channel"))
