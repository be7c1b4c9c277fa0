"""The funnel notebook's headline numbers for the monthly report index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from kpilib.data import as_table
from kpilib.funnel._leads import (
    _days_between,
    cost_per_mql,
    mql_count,
    new_leads,
    sales_cycle_length,
)
from kpilib.funnel._options import MQLOptions, mql_keywords, options
from kpilib.funnel._steps import (
    ExclusionsLike,
    Order,
    Semantics,
    WindowLike,
    _check_steps,
    _reached_column,
    _step_column,
    funnel_users,
)
from kpilib.periods import check_timezone, local_month_bounds, month_bounds, previous_month
from kpilib.stats import rate_frame

__all__ = ["headline_metrics"]


@mql_keywords(mql_method="method", behaviour_points="behaviour_points", profile_points="profile_points",
              threshold="threshold")
def headline_metrics(
    events: ibis.Table | pd.DataFrame,
    month: str,
    steps: Sequence[str],
    window: WindowLike | None = None,
    spend: ibis.Table | pd.DataFrame | None = None,
    *,
    customers: ibis.Table | pd.DataFrame | None = None,
    order: Order | None = None,
    mql: MQLOptions | None = None,
    semantics: Semantics | None = None,
    exclusions: ExclusionsLike = None,
    reentry: Literal["first", "best"] | None = None,
    first_time: bool | None = None,
    window_end: Literal["exclusive", "inclusive"] | None = None,
    step_windows: Sequence[WindowLike] | None = None,
    date_range: Literal["entry", "all_steps"] | None = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """The funnel notebook's headline numbers for ``month`` and the month before.

    Rows, for each of the two months:

    * ``conversion_rate`` — first step → last step of the funnel of the month (the
      notebook's: :func:`~kpilib.funnel.funnel` with ``start``/``end`` the month's bounds
      and the same rules), for the entrants **whose window has closed** by the end of the
      data, so a month still in progress is not biased low by conversions that have not
      happened yet (a rate: numerator, denominator, Wilson interval);
    * ``time_to_convert`` — median days first → last step of those converters;
    * ``new_leads``, ``mql_count`` — counts;
    * ``cost_per_mql`` — when ``spend`` is given (numerator = cost, denominator = MQLs,
      no interval);
    * ``sales_cycle_length`` — median days first touch → first purchase.

    Each month's funnel is computed on its own (both in one expression), so a person who
    enters in both months counts in both, as in the funnel of each month.

    A metric the data cannot give is NaN ("no data" on the report), not 0: the conversion
    and its time when a step never occurs in ``events``; leads, MQLs and their cost when
    there is no lead event (``mql.lead_event``) at all.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    month : str
        The report month, ``"YYYY-MM"``.
    steps : list of str
        Funnel steps.
    window : str, pandas.Timedelta or int, optional
        Conversion window; ``None``: the preset's (14 days for kpilib's own rules).
    spend : ibis.Table or pandas.DataFrame, optional
        Spend table for the cost per MQL.
    customers, mql
        How MQLs are recognised (see :func:`mql_count`); new leads are counted by
        ``mql.lead_event``. The old keywords ``mql_method`` (now ``mql.method``),
        ``behaviour_points``, ``profile_points`` and ``threshold`` still work for one
        release, with a FutureWarning.
    order : {"ordered", "strict", "strict_steps", "any"}, optional
        As in :func:`funnel` (``None``: the preset's, ``"ordered"`` for kpilib).
    semantics, exclusions, reentry, first_time, window_end, step_windows, date_range
        The funnel's rules, as in :func:`kpilib.funnel.funnel_users` — pass the
        notebook's, so the headline is its funnel's conversion.
    timezone : str, optional
        IANA name of the report clock: the funnel's months (conversion and time to
        convert) begin at local midnight of the 1st. None is UTC. Leads, MQLs, their cost
        and the sales cycle are counted by UTC month.

    Returns
    -------
    pandas.DataFrame
        Columns ``metric`` (registry name), ``month`` ("YYYY-MM"), ``value``,
        ``numerator``, ``denominator``, ``ci_low``, ``ci_high``; NaN where a column does
        not apply (intervals exist only for rates).

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b", "z"],
    ...     "ts": ["2026-09-10", "2026-09-12", "2026-10-01", "2026-11-30"],
    ...     "event": ["visit", "signup", "visit", "visit"]})
    >>> h = headline_metrics(events, "2026-10", ["visit", "signup"], window="7D")
    >>> h[h.metric == "conversion_rate"][["metric", "month", "value", "numerator", "denominator"]]
                metric    month  value  numerator  denominator
    0  conversion_rate  2026-09    1.0        1.0          1.0
    1  conversion_rate  2026-10    0.0        0.0          1.0
    """
    events = as_table(events, "events")
    mql = options(mql)
    steps = _check_steps(steps)
    zone = check_timezone(timezone)
    previous = previous_month(month)
    prev_start, _ = month_bounds(previous)
    _, this_end = month_bounds(month)
    months = [previous, month]
    rows: list[dict] = []

    def add(metric: str, label: str, value, numerator=np.nan, denominator=np.nan, low=np.nan, high=np.nan):
        rows.append({"metric": metric, "month": label, "value": float(value) if value is not None else np.nan,
                     "numerator": numerator, "denominator": denominator, "ci_low": low, "ci_high": high})

    # The funnel of each month on its own, as the notebook draws it, both in one expression.
    rules = dict(window=window, order=order, semantics=semantics, exclusions=exclusions, reentry=reentry,
                 first_time=first_time, window_end=window_end, step_windows=step_windows, date_range=date_range)
    last = len(steps)
    per_month = []
    for number, label in enumerate(months):
        start, end = local_month_bounds(label, zone)
        one = funnel_users(events, steps, start=start, end=end, **rules)
        one = one.filter(~one.window_open)
        per_month.append(one.select(_step_column(1), _step_column(last), _reached_column(last),
                                    month=ibis.literal(number, type=dt.int64)))
    users = ibis.union(*per_month, distinct=False)
    conversion = users.group_by("month").agg(
        entered=users.count(), converted=users[_reached_column(last)].sum()
    ).to_pandas()
    conversion["month"] = [months[int(n)] for n in conversion["month"]]
    conversion = conversion.set_index("month")
    if last == 1:
        timed = None
    else:
        converters = users.filter(users[_reached_column(last)])
        converters = converters.mutate(days=_days_between(converters[_step_column(last)],
                                                          converters[_step_column(1)]))
        timed = converters.group_by("month").agg(
            median=converters.days.quantile(0.5), n=converters.count()
        ).to_pandas()
        timed["month"] = [months[int(n)] for n in timed["month"]]
        timed = timed.set_index("month")
    # A step no event of the data ever matches makes the funnel meaningless, not 0 %.
    # (and whether there is any lead event: the same read of the event names)
    names = sorted(set(steps) | {mql.lead_event})
    seen = set(events.filter(events.event.isin(names)).select("event").distinct().execute()["event"])
    complete = seen >= set(steps)
    for label in months:
        entered = int(conversion.entered.get(label, 0))
        converted = int(conversion.converted.get(label, 0) or 0)
        rate = rate_frame([converted], [entered]).iloc[0]
        if complete:
            add("conversion_rate", label, rate.rate, converted, entered, rate.ci_low, rate.ci_high)
        else:
            add("conversion_rate", label, np.nan)
    if timed is not None:
        for label in months:
            add("time_to_convert", label, timed["median"].get(label, np.nan) if complete else np.nan)

    # With no lead event anywhere in the data, leads and MQLs are not zero but unknown.
    has_leads = mql.lead_event in seen
    leads = new_leads(events, lead_event=mql.lead_event, start=prev_start, end=this_end).set_index("month")
    for label in months:
        add("new_leads", label, leads.new_leads.get(label, 0) if has_leads else np.nan)
    if spend is not None:
        money = cost_per_mql(events, spend, customers, mql=mql, start=prev_start, end=this_end).set_index("month")
        for label in months:
            add("mql_count", label, money.mql_count.get(label, 0) if has_leads else np.nan)
        for label in months:
            cost, mqls = float(money.cost.get(label, 0.0)), int(money.mql_count.get(label, 0))
            if has_leads:
                add("cost_per_mql", label, cost / mqls if mqls else np.nan, cost, mqls)
            else:
                add("cost_per_mql", label, np.nan)
    else:
        mqls = mql_count(events, customers, mql=mql, start=prev_start, end=this_end).set_index("month")
        for label in months:
            add("mql_count", label, mqls.mql_count.get(label, 0) if has_leads else np.nan)
    cycles = sales_cycle_length(events, start=prev_start, end=this_end).set_index("month")
    for label in months:
        add("sales_cycle_length", label, cycles.median_days.get(label, np.nan))
    frame = pd.DataFrame(rows, columns=["metric", "month", "value", "numerator", "denominator", "ci_low",
                                        "ci_high"])
    return frame.astype({c: float for c in ["value", "numerator", "denominator", "ci_low", "ci_high"]})
