"""Acquisition economics per period and channel: spend, new customers, CAC, CPA, cost
per MQL and — from the revenue of :mod:`kpilib.marketing._returns` — ROAS, ROI, payback
and CLV:CAC, blended and per channel, with a note on every undefined figure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import ibis
import pandas as pd

from kpilib import funnel
from kpilib.data import as_table, exact_sum
from kpilib.deprecation import renamed_arguments
from kpilib.marketing import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.marketing._attribution import first_orders
from kpilib.marketing._grouping import (
    _ALL,
    _PERIODS,
    _breakdown,
    _period_label,
    _period_labels,
    _sum_by,
)
from kpilib.marketing._returns import _clv_table, _cohort_revenue, _period_revenue
from kpilib.metrics import computes
from kpilib.periods import TimeLike, check_period, default_cutoff, time_filter, to_utc

__all__ = ["CLV_UNRELIABLE", "acquisition_costs"]

#: The row ``note`` of CLV figures resting on a CLV fit marked unreliable (the reasons are
#: in the result's ``attrs["clv_note"]``).
CLV_UNRELIABLE = "CLV figures unreliable: the CLV fit is not to be trusted"


def _clv_note(clv: Any) -> str | None:
    """The verdict a CLV frame carries (``attrs["note"]`` of :func:`kpilib.clv.customer_value`
    output): None, or its ``"unreliable: …"`` text. An Ibis table or a frame without it has none."""
    note = getattr(clv, "attrs", {}).get("note") if isinstance(clv, pd.DataFrame) else None
    return note if isinstance(note, str) and note.strip() else None


def _scalar(expr: ibis.Value) -> Any:
    """An executed scalar, None when missing."""
    value = expr.execute()
    return None if value is None or pd.isna(value) else value


def _note(*parts: tuple[pd.Series, str]) -> pd.Series:
    """Join the messages whose condition holds, row by row ("" when none does)."""
    index = parts[0][0].index
    out = pd.Series([""] * len(index), index=index, dtype=object)
    for condition, message in parts:
        hit = condition.fillna(False).astype(bool)
        out[hit] = [f"{n}; {message}" if n else message for n in out[hit]]
    return out


def _mql_costs(events: ibis.Table, spend: ibis.Table, customers: ibis.Table, by: list[str],
               period: str | None, start: pd.Timestamp | None, end: pd.Timestamp | None,
               mql: funnel.MQLOptions) -> pd.DataFrame:
    """MQLs per period (and channel) from :func:`kpilib.funnel.cost_per_mql`.

    With a breakdown it is called once per channel (the events of the channel's customers,
    the channel's spend); the blended rows then add the channels up.
    """
    groups: list[tuple[Any, ibis.Table, ibis.Table]] = [] if by else [(_ALL, events, spend)]
    if by:
        col = by[0]
        values = customers.select(col).distinct().execute()[col].dropna().tolist()
        for value in values:
            members = customers.filter(customers[col] == value).select("customer_id")
            groups.append((value, events.semi_join(members, "customer_id"), spend.filter(spend[col] == value)))
    frames = []
    for value, group_events, group_spend in groups:
        monthly = funnel.cost_per_mql(group_events, group_spend, customers, start=start, end=end, mql=mql)
        if period is None:
            monthly["period"] = _ALL
        else:
            monthly["period"] = [str(pd.Period(m, "M").asfreq(period)) for m in monthly["month"]]
        frame = monthly.groupby("period", as_index=False).agg(mqls=("mql_count", "sum"))
        frame[by[0] if by else "channel"] = value
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _with_owner(table: ibis.Table, customers: ibis.Table, by: list[str]) -> ibis.Table:
    """``table`` (with ``customer_id``) joined to its customer's breakdown columns; unknown people drop out."""
    owners = customers.select(c_customer_id=customers.customer_id, **{f"c_{c}": customers[c] for c in by})
    joined = table.join(owners, table.customer_id == owners.c_customer_id)
    return joined.select(*table.columns, **{c: joined[f"c_{c}"] for c in by})


def _mql_from_dict(options: Mapping[str, Any] | None) -> funnel.MQLOptions | None:
    """The old ``mql_options`` dict (the keywords of :class:`kpilib.funnel.MQLOptions`) as options."""
    if options is None or isinstance(options, funnel.MQLOptions):
        return options
    return funnel.MQLOptions(**options)


@computes("cac", "cost_per_acquisition", "roas", "marketing_roi", "payback_months", "clv_to_cac")
@renamed_arguments(mql_options=("mql", _mql_from_dict))
def acquisition_costs(
    spend: ibis.Table | pd.DataFrame,
    customers: ibis.Table | pd.DataFrame,
    orders: ibis.Table | pd.DataFrame | None = None,
    period: str | None = "M",
    by: str | None = "channel",
    *,
    events: ibis.Table | pd.DataFrame | None = None,
    conversion_event: str = "purchase",
    clv: pd.DataFrame | ibis.Table | None = None,
    clv_column: str = "clv",
    gross_margin: float = 0.7,
    revenue_months: float = 12,
    revenue_basis: Literal["cohort", "period"] = "cohort",
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    mql: funnel.MQLOptions | None = None,
) -> pd.DataFrame:
    r"""Acquisition economics per period and channel: CAC, CPA, cost per MQL, ROAS, ROI, payback, CLV:CAC.

    Parameters
    ----------
    spend : ibis.Table or pandas.DataFrame
        The spend table (``date``, ``channel``, ``cost``).
    customers : ibis.Table or pandas.DataFrame
        The customers table (``customer_id``, ``signup_at``, ``channel``): the new customers.
    orders : ibis.Table or pandas.DataFrame, optional
        The orders table, for revenue, ROAS, ROI and payback (NaN without it).
    period : {"M", "Q", "Y"} or None, default "M"
        Period of spend and sign-ups; ``None`` for one row per channel over the whole span.
    by : str or None, default "channel"
        Column of both ``spend`` and ``customers`` to break down by; ``None`` gives the
        blended rows only. Blended rows have ``"all"`` in the breakdown column.
    events : ibis.Table or pandas.DataFrame, optional
        The events table: conversions for CPA are its ``conversion_event`` events, and
        MQLs for the cost per MQL come from :func:`kpilib.funnel.cost_per_mql`. Without
        it, a conversion is a customer's first order and the MQL columns are absent.
    conversion_event : str, default "purchase"
        The event CPA counts (each event is a conversion, credited to the customer's
        acquisition channel).
    clv : pandas.DataFrame or ibis.Table, optional
        Predicted CLV per customer (``customer_id`` and ``clv_column``), e.g. from
        :func:`kpilib.clv.customer_value`. New customers without a row count as 0. Its
        fit's verdict, ``clv.attrs["note"]`` (None, or ``"unreliable: …"``), is carried
        on: see Returns.
    clv_column : str, default "clv"
        The value column of ``clv``.
    gross_margin : float, default 0.7
        Share of revenue kept as gross margin, for the payback period.
    revenue_months : float, default 12
        Revenue horizon after a customer's sign-up, in calendar months
        (:func:`kpilib.periods.months_between`): a customer who signed up on 2024-01-31
        has a one-month horizon up to 2024-02-29, exclusive. A fraction adds that share
        of the next calendar month.
    revenue_basis : {"cohort", "period"}, default "cohort"
        ``"cohort"``: revenue of the period's new customers in their first
        ``revenue_months``; ``"period"``: revenue of orders placed in the period by
        customers of the channel acquired less than ``revenue_months`` before the order.
    start, end : str or pandas.Timestamp, optional
        Sign-ups, spend days (and, for the period basis, orders) in ``[start, end)``.
    as_of : str or pandas.Timestamp, optional
        End of the data (exclusive), for revenue exposure: orders before it count.
        Default: :func:`kpilib.periods.default_cutoff` of the latest sign-up or order —
        the start of the day after it, so the whole last day is data.
    mql : kpilib.funnel.MQLOptions, optional
        How an MQL is recognised, for the cost per MQL (passed to
        :func:`kpilib.funnel.cost_per_mql`); ``None`` for the defaults. The old
        ``mql_options=`` dict of the same keywords still works for one release, with a
        :class:`FutureWarning`.

    Returns
    -------
    pandas.DataFrame
        One row per period and channel (blended first): ``period``, the breakdown column,
        ``spend``, ``new_customers``, ``cac``, ``conversions``, ``cpa``, [``mqls``,
        ``cost_per_mql``], ``revenue``, ``roas``, ``roi``, ``customer_months`` (calendar
        months of revenue observed, summed over customers), ``revenue_per_customer_month``, ``payback_months``,
        ``revenue_complete`` (the revenue horizon has passed for every customer counted),
        [``clv_per_customer``, ``clv_to_cac``] and ``note`` (why a figure is undefined,
        or that the CLV figures rest on an unreliable fit). ``attrs["clv_note"]`` is the
        verdict of the CLV given (``clv.attrs["note"]``; None when it has none), which
        :func:`kpilib.plots.plot_clv_cac` draws; when it is unreliable, the rows with a
        CLV per customer note :data:`CLV_UNRELIABLE`.

    Notes
    -----
    The revenue per customer-month of the payback period is the revenue over the
    customer-months of revenue observed (``customer_months``); *m* is ``gross_margin``.
    A ratio whose denominator is 0 is NaN and
    ``note`` says why (CAC of a channel with spend and no new customers is undefined, not
    infinite). Blended rows add up spend, customers, conversions, revenue and exposure
    over the channels, so they include free channels.

    Examples
    --------
    >>> import pandas as pd
    >>> spend = pd.DataFrame({"date": ["2026-09-15", "2026-10-01", "2026-10-01"],
    ...     "channel": ["social", "social", "email"], "cost": [90.0, 300.0, 50.0]})
    >>> customers = pd.DataFrame({"customer_id": ["a", "b", "c"],
    ...     "signup_at": ["2026-09-20", "2026-10-01", "2026-10-03"], "channel": ["social"] * 3})
    >>> acquisition_costs(spend, customers)[["period", "channel", "spend", "new_customers", "cac"]]
        period channel  spend  new_customers    cac
    0  2026-09     all   90.0              1   90.0
    1  2026-09   email    0.0              0    NaN
    2  2026-09  social   90.0              1   90.0
    3  2026-10     all  350.0              2  175.0
    4  2026-10   email   50.0              0    NaN
    5  2026-10  social  300.0              2  150.0
    """
    spend = as_table(spend, "spend")
    customers = as_table(customers, "customers")
    orders = as_table(orders, "orders") if orders is not None else None
    events = as_table(events, "events") if events is not None else None
    period = check_period(period, _PERIODS, none=True)
    by = _breakdown(by, {"spend": spend, "customers": customers})
    if revenue_basis not in ("cohort", "period"):
        raise ValueError(f"revenue_basis must be 'cohort' or 'period', got {revenue_basis!r}")
    if not 0 < gross_margin <= 1:
        raise ValueError(f"gross_margin must be in (0, 1], got {gross_margin!r}")
    if revenue_months <= 0:
        raise ValueError(f"revenue_months must be positive, got {revenue_months!r}")
    start, end, as_of = to_utc(start), to_utc(end), to_utc(as_of)
    column = by[0] if by else "channel"
    keys = ["period", *by]

    costs = time_filter(spend, "date", start, end, date=True)
    costs = costs.mutate(period=_period_label(costs.date, period))
    frame = _sum_by(costs, keys, spend=exact_sum(costs.cost))
    cohort = time_filter(customers, "signup_at", start, end)
    cohort = cohort.mutate(period=_period_label(cohort.signup_at, period))
    frame = frame.merge(_sum_by(cohort, keys, new_customers=cohort.count()), on=keys, how="outer")

    if events is not None:
        converted = events.filter(events.event == conversion_event).select("customer_id", "ts")
    else:
        converted = first_orders(orders).select("customer_id", "ts") if orders is not None else None
    if converted is not None:
        converted = _with_owner(time_filter(converted, "ts", start, end), customers, by)
        converted = converted.mutate(period=_period_label(converted.ts, period))
        frame = frame.merge(_sum_by(converted, keys, conversions=converted.count()), on=keys, how="outer")
    if events is not None:
        mqls = _mql_costs(events, spend, customers, by, period, start, end, funnel.MQLOptions() if mql is None else mql)
        frame = frame.merge(mqls if by else mqls.drop(columns="channel"), on=keys, how="outer")

    if orders is not None:
        if as_of is None:
            latest = [to_utc(t) for t in (_scalar(customers.signup_at.max()), _scalar(orders.ts.max()))
                      if t is not None and not pd.isna(t)]
            as_of = default_cutoff(max(latest)) if latest else (end or pd.Timestamp.now(tz="UTC"))
        if revenue_basis == "cohort":
            revenue = _cohort_revenue(cohort, orders, keys, revenue_months, as_of)
        else:
            first = start if start is not None else pd.Timestamp(_scalar(spend.date.min()), tz="UTC")
            last = end if end is not None else as_of
            revenue = _period_revenue(customers, orders, keys, by, period, first, last, revenue_months, as_of)
        frame = frame.merge(revenue, on=keys, how="outer")

    if clv is not None:
        values = _clv_table(clv, clv_column)
        valued = cohort.left_join(values, cohort.customer_id == values.v_customer_id)
        frame = frame.merge(_sum_by(valued, keys, clv_total=exact_sum(valued.v_clv)), on=keys, how="outer")

    out = _economics(frame, by, column, period, start, end, gross_margin, orders is not None, clv is not None,
                     _clv_note(clv))
    return out


def _economics(frame: pd.DataFrame, by: list[str], column: str, period: str | None, start, end,
               gross_margin: float, has_orders: bool, has_clv: bool, unreliable: str | None = None) -> pd.DataFrame:
    """Fill the grid, add blended rows and turn sums into ratios (with the notes on undefined ones)."""
    if not by:
        frame[column] = _ALL
    additive = [c for c in ("spend", "new_customers", "conversions", "mqls", "revenue", "customer_months",
                            "clv_total") if c in frame.columns]
    if not frame.empty and period is not None:
        first = start or pd.Period(frame.period.min(), period).start_time
        last = (end - pd.Timedelta(microseconds=1)) if end is not None else pd.Period(frame.period.max(),
                                                                                        period).start_time
        labels = _period_labels(pd.Timestamp(first), pd.Timestamp(last), period)
    else:
        labels = [_ALL] if period is None else []
    complete = frame.pop("revenue_complete") if "revenue_complete" in frame.columns else None
    channels = sorted(frame[column].dropna().astype(str).unique()) if by else [_ALL]
    index = pd.MultiIndex.from_product([labels, channels], names=["period", column])
    frame = frame.set_index(["period", column])
    sums = frame[additive].groupby(level=["period", column]).sum(min_count=1).reindex(index).fillna(0.0)
    sums = sums.reset_index()
    if by:
        blended = sums.groupby("period", as_index=False)[additive].sum()
        blended[column] = _ALL
        sums = pd.concat([blended, sums], ignore_index=True)
        sums["_rank"] = sums[column].ne(_ALL)
        sums = sums.sort_values(["period", "_rank", column], ignore_index=True).drop(columns="_rank")
    if complete is not None:
        flags = pd.Series(complete.to_numpy(), index=frame.index.get_level_values("period"), dtype="boolean")
        flags = flags.fillna(True).astype(bool).groupby(level=0).all()
        sums["revenue_complete"] = sums["period"].map(flags).astype("boolean").fillna(True).astype(bool)

    out = sums[["period", column]].copy()
    out["spend"] = sums["spend"].astype(float)
    out["new_customers"] = sums["new_customers"].astype("int64")
    spend, customers = out["spend"], out["new_customers"]
    out["cac"] = spend / customers.where(customers > 0)
    notes = [(customers.eq(0) & spend.gt(0), "CAC undefined: spend but no new customers"),
             (customers.eq(0) & spend.eq(0), "CAC undefined: no spend and no new customers")]
    if "conversions" in sums:
        out["conversions"] = sums["conversions"].astype("int64")
        out["cpa"] = spend / out["conversions"].where(out["conversions"] > 0)
        notes.append((out["conversions"].eq(0) & spend.gt(0), "CPA undefined: no conversions"))
    if "mqls" in sums:
        out["mqls"] = sums["mqls"].astype("int64")
        out["cost_per_mql"] = spend / out["mqls"].where(out["mqls"] > 0)
    if has_orders:
        out["revenue"] = sums["revenue"].astype(float)
        paid = spend.where(spend > 0)
        out["roas"] = out["revenue"] / paid
        out["roi"] = (out["revenue"] - spend) / paid
        notes.append((spend.eq(0), "ROAS and ROI undefined: no spend"))
        out["customer_months"] = sums["customer_months"].astype(float)
        out["revenue_per_customer_month"] = out["revenue"] / out["customer_months"].where(out["customer_months"] > 0)
        earning = gross_margin * out["revenue_per_customer_month"]
        out["payback_months"] = out["cac"] / earning.where(earning > 0)
        notes.append((out["cac"].notna() & out["cac"].gt(0) & ~earning.gt(0), "payback undefined: no revenue yet"))
        out["revenue_complete"] = sums["revenue_complete"] if "revenue_complete" in sums else True
    if has_clv:
        out["clv_per_customer"] = sums["clv_total"] / customers.where(customers > 0)
        out["clv_to_cac"] = out["clv_per_customer"] / out["cac"].where(out["cac"] > 0)
        notes.append((out["cac"].eq(0), "CLV:CAC undefined: CAC is 0"))
        if unreliable:
            notes.append((out["clv_per_customer"].notna(), CLV_UNRELIABLE))
    out["note"] = _note(*notes) if len(out) else pd.Series(dtype=object)
    out = out.reset_index(drop=True)
    if has_clv:
        out.attrs["clv_note"] = unreliable
    return out
