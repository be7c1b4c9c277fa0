"""What marketing brings back: the revenue of acquired customers (cohort or period basis)
and their predicted CLV, ROAS and ROI under each attribution model, and the share of
revenue with a marketing touch before it."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import pandas as pd

from kpilib.data import DataError, as_table, exact_sum, memtable
from kpilib.marketing import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.marketing._attribution import _touchpoints, marketing_touchpoints
from kpilib.marketing._grouping import (
    _PERIODS,
    WindowLike,
    _period_label,
    _period_labels,
    _sum_by,
)
from kpilib.metrics import computes
from kpilib.periods import (
    TimeLike,
    check_period,
    duration_seconds,
    months_between,
    time_filter,
    to_utc,
)
from kpilib.stats import rate_frame

__all__ = ["attributed_return", "marketing_influenced_revenue"]


def _clv_table(clv: pd.DataFrame | ibis.Table, column: str) -> ibis.Table:
    """The predicted CLV per customer as ``v_customer_id``, ``v_clv`` (checked)."""
    table = clv if isinstance(clv, ibis.Table) else memtable(pd.DataFrame(clv))
    for needed in ("customer_id", column):
        if needed not in table.columns:
            raise DataError(
                f"the CLV frame needs columns 'customer_id' and '{column}' (it has: {', '.join(table.columns)})",
                column=needed,
                fix="Pass kpilib.clv.customer_value(...) output, or set clv_column to its value column",
            )
    return table.select(v_customer_id=table.customer_id.cast("string"), v_clv=table[column].cast("float64"))


def _cohort_revenue(cohort: ibis.Table, orders: ibis.Table, keys: list[str], months: float,
                    as_of: pd.Timestamp) -> pd.DataFrame:
    """Revenue of each cohort's customers in their first ``months`` calendar months, and their
    exposure in calendar months (:func:`kpilib.periods.months_between`).

    An order counts while the customer's age at it is under ``months`` (so one placed on the
    anniversary does not); a customer is exposed from sign-up to the earlier of ``as_of``
    and the anniversary.
    """
    o = orders.select(o_customer_id=orders.customer_id, o_ts=orders.ts, o_amount=orders.amount)
    joined = cohort.join(o, [cohort.customer_id == o.o_customer_id, o.o_ts >= cohort.signup_at, o.o_ts < as_of])
    joined = months_between(joined, "signup_at", "o_ts", name="_age")
    joined = joined.filter(joined._age < months)
    revenue = _sum_by(joined, keys, revenue=exact_sum(joined.o_amount))
    exposed = months_between(cohort, "signup_at", ibis.literal(as_of), name="_elapsed")
    exposed = exposed.mutate(months=ibis.least(ibis.greatest(exposed._elapsed, 0.0), months))
    exposure = _sum_by(exposed, keys, customer_months=exposed.months.sum(), least_elapsed=exposed._elapsed.min())
    # complete when the latest sign-up of the cohort has reached its anniversary by as_of
    exposure["revenue_complete"] = exposure.pop("least_elapsed") >= months
    return revenue.merge(exposure, on=keys, how="outer")


def _period_revenue(customers: ibis.Table, orders: ibis.Table, keys: list[str], by: list[str], period: str | None,
                    start: pd.Timestamp, end: pd.Timestamp, months: float, as_of: pd.Timestamp) -> pd.DataFrame:
    """Revenue placed in each period by customers acquired less than ``months`` calendar
    months before the order, and their exposure (calendar months, see :func:`_cohort_revenue`)."""
    eligible = customers.filter(customers.signup_at < end)
    eligible = months_between(eligible, "signup_at", ibis.literal(start), name="_age_at_start")
    eligible = eligible.filter(eligible._age_at_start < months).select("customer_id", "signup_at", *by)
    o = time_filter(orders, "ts", start, end)
    o = o.select(o_customer_id=o.customer_id, o_ts=o.ts, o_amount=o.amount)
    joined = eligible.join(o, [eligible.customer_id == o.o_customer_id, o.o_ts >= eligible.signup_at,
                               o.o_ts < as_of])
    joined = months_between(joined, "signup_at", "o_ts", name="_age")
    joined = joined.filter(joined._age < months)
    joined = joined.mutate(period=_period_label(joined.o_ts, period))
    revenue = _sum_by(joined, keys, revenue=exact_sum(joined.o_amount))

    labels = _period_labels(start, end - pd.Timedelta(microseconds=1), period)
    if period is None:
        bounds = pd.DataFrame({"period": labels, "p_start": [start], "p_end": [end]})
    else:
        periods = [pd.Period(label, period) for label in labels]
        bounds = pd.DataFrame({
            "period": labels,
            "p_start": [max(p.start_time.tz_localize("UTC"), start) for p in periods],
            "p_end": [min((p + 1).start_time.tz_localize("UTC"), end) for p in periods],
        })
    grid = memtable(bounds)
    cross = eligible.cross_join(grid)
    # the customer's age (calendar months) where the cell's exposure begins and stops
    cross = months_between(cross, "signup_at", ibis.greatest(cross.p_start, cross.signup_at), name="_from")
    cross = months_between(cross, "signup_at", ibis.least(cross.p_end, ibis.literal(as_of)), name="_to")
    cross = cross.mutate(months=ibis.least(cross._to, months) - cross._from)
    cross = cross.filter(cross.months > 0)
    exposure = _sum_by(cross, keys, customer_months=cross.months.sum())
    exposure["revenue_complete"] = exposure["period"].map(
        dict(zip(bounds.period, bounds.p_end <= as_of, strict=True))
    )
    return revenue.merge(exposure, on=keys, how="outer")


@computes("roas", "marketing_roi")
def attributed_return(
    attribution: pd.DataFrame,
    spend: ibis.Table | pd.DataFrame,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""ROAS and marketing ROI per channel under each attribution model.

    Parameters
    ----------
    attribution : pandas.DataFrame
        Output of :func:`attribute` (``model``, ``channel``, ``conversions``, ``revenue``).
    spend : ibis.Table or pandas.DataFrame
        The spend table; spend per channel is summed over ``[start, end)`` — use the same
        span as the conversions that were attributed.
    start, end : str or pandas.Timestamp, optional
        Spend days in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``channel``, ``conversions``, ``revenue``, ``spend``, ``roas``, ``roi``
        (NaN where the channel has no spend), ``cost_per_conversion``.

    Notes
    -----
    Per attribution model, the revenue of a channel is what that model credits to it; the
    spend is the channel's spend over ``[start, end)``.

    Examples
    --------
    >>> import pandas as pd
    >>> credit = pd.DataFrame({"model": ["linear", "linear"], "channel": ["email", "social"],
    ...     "conversions": [1.5, 0.5], "revenue": [150.0, 50.0]})
    >>> spend = pd.DataFrame({"date": ["2026-10-01"] * 2, "channel": ["email", "social"], "cost": [50.0, 100.0]})
    >>> attributed_return(credit, spend)[["model", "channel", "spend", "roas", "roi"]]
        model channel  spend  roas  roi
    0  linear   email   50.0   3.0  2.0
    1  linear  social  100.0   0.5 -0.5
    """
    missing = {"model", "channel", "conversions", "revenue"} - set(attribution.columns)
    if missing:
        raise ValueError(f"attribution needs the columns {sorted(missing)}; pass the output of attribute()")
    costs = time_filter(as_table(spend, "spend"), "date", to_utc(start), to_utc(end), date=True)
    by_channel = costs.group_by("channel").agg(spend=exact_sum(costs.cost)).execute()
    out = attribution[["model", "channel", "conversions", "revenue"]].merge(by_channel, on="channel", how="left")
    out["spend"] = out["spend"].fillna(0.0)
    paid = out["spend"].where(out["spend"] > 0)
    out["roas"] = out["revenue"] / paid
    out["roi"] = (out["revenue"] - out["spend"]) / paid
    out["cost_per_conversion"] = paid / out["conversions"].where(out["conversions"] > 0)
    return out


@computes("marketing_influenced_revenue")
def marketing_influenced_revenue(
    orders: ibis.Table | pd.DataFrame,
    events: ibis.Table | pd.DataFrame | None = None,
    email: ibis.Table | pd.DataFrame | None = None,
    period: str | None = "M",
    *,
    window: WindowLike = "30D",
    channels: Sequence[str] = ("paid_search", "social", "email"),
    touchpoints: ibis.Table | pd.DataFrame | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Share of revenue from orders with a marketing touch in the window before them.

    Parameters
    ----------
    orders : ibis.Table or pandas.DataFrame
        The orders table.
    events : ibis.Table or pandas.DataFrame, optional
        The events table: visits whose ``channel`` is one of ``channels`` are touches
        (without a ``channel`` column it adds none; the email clicks still count).
    email : ibis.Table or pandas.DataFrame, optional
        The email table: every click is a touch.
    period : {"M", "Q", "Y"} or None, default "M"
        Period of the order.
    window : str, pandas.Timedelta or int, default "30D"
        Lookback before the order (an int is days); a touch at the order instant counts.
    channels : list of str, default ("paid_search", "social", "email")
        Visit channels that count as marketing.
    touchpoints : ibis.Table or pandas.DataFrame, optional
        Touches given directly (``customer_id``, ``ts``, ``channel``) instead of
        ``events`` and ``email``.
    start, end : str or pandas.Timestamp, optional
        Orders in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``orders``, ``revenue``, ``influenced_revenue``,
        ``influenced_revenue_share``, and the share of *orders* influenced as a rate with
        interval (``numerator``, ``denominator``, ``rate``, ``ci_low``, ``ci_high``,
        ``small_sample``).

    Notes
    -----
    A touch is any touch of the order's customer (a visit of a marketing channel, an email
    click) in the window :math:`[t_o - w, t_o]` before the order.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2026-10-10", "2026-10-12"],
    ...     "amount": [30.0, 10.0]})
    >>> email = pd.DataFrame({"campaign": ["n"], "customer_id": ["b"], "sent_at": ["2026-10-01"],
    ...     "bounce": ["none"], "opened_at": ["2026-10-02"], "clicked_at": ["2026-10-02"],
    ...     "unsubscribed_at": [None], "complained_at": [None]})
    >>> marketing_influenced_revenue(orders, email=email)[["period", "revenue", "influenced_revenue"]]
        period  revenue  influenced_revenue
    0  2026-10     40.0                10.0
    """
    orders = as_table(orders, "orders")
    period = check_period(period, _PERIODS, none=True)
    seconds = duration_seconds(window, "window")
    start, end = to_utc(start), to_utc(end)
    if touchpoints is not None:
        touches = _touchpoints(touchpoints)
    elif events is None and email is None:
        raise ValueError("give events (visits with a channel), email (clicks) or touchpoints")
    else:
        parts = []
        if events is not None and ("channel" in as_table(events, "events").columns or email is None):
            parts.append(marketing_touchpoints(events, channels=channels))
        if email is not None:
            mail = as_table(email, "email")
            clicks = mail.filter(mail.clicked_at.notnull())
            parts.append(clicks.select("customer_id", ts=clicks.clicked_at, channel=ibis.literal("email")))
        touches = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    touches = touches.select(t_customer_id=touches.customer_id, t_ts=touches.ts)
    placed = time_filter(orders, "ts", start, end).select("customer_id", "ts", "amount")
    placed = placed.mutate(period=_period_label(placed.ts, period))
    influenced = placed.semi_join(touches, [placed.customer_id == touches.t_customer_id, touches.t_ts <= placed.ts,
                                            touches.t_ts >= placed.ts - ibis.interval(seconds=int(seconds))])
    everything = placed.group_by("period").agg(orders=placed.count(), revenue=exact_sum(placed.amount)).execute()
    touched = influenced.group_by("period").agg(influenced_orders=influenced.count(),
                                                influenced_revenue=exact_sum(influenced.amount)).execute()
    frame = everything.merge(touched, on="period", how="left").fillna(0).sort_values("period", ignore_index=True)
    frame["influenced_revenue_share"] = frame["influenced_revenue"] / frame["revenue"].where(frame["revenue"] > 0)
    rates = rate_frame(frame["influenced_orders"], frame["orders"])
    return pd.concat([frame[["period", "orders", "revenue", "influenced_revenue", "influenced_revenue_share"]]
                      .astype({"orders": "int64"}), rates], axis=1)
