"""Traffic and leads: visits per channel and the share of new visitors who become leads."""

from __future__ import annotations

import ibis
import pandas as pd

from kpilib.data import as_table
from kpilib.marketing import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.marketing._grouping import _ALL, _PERIODS, WindowLike, _breakdown, _period_label
from kpilib.metrics import computes
from kpilib.periods import (
    TimeLike,
    check_period,
    default_cutoff,
    duration_seconds,
    time_filter,
    to_utc,
)
from kpilib.stats import rate_frame

__all__ = ["traffic_to_lead"]


@computes("traffic_to_lead_ratio")
def traffic_to_lead(
    events: ibis.Table | pd.DataFrame,
    period: str | None = "M",
    *,
    window: WindowLike = "30D",
    visit_event: str = "visit",
    lead_event: str = "lead",
    by: str = "channel",
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Visits per channel and the share of new visitors who become leads, with intervals.

    A *new visitor* of a period is a person whose first ``visit_event`` ever falls in it
    (channel of that visit); they convert when their first ``lead_event`` follows within
    ``window``. People who were leads before their first recorded visit are not counted
    as converting.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table, with the ``by`` column on visits.
    period : {"M", "Q", "Y"} or None, default "M"
        Period of the first visit; ``None`` for the whole span.
    window : str, pandas.Timedelta or int, default "30D"
        Time allowed from the first visit to the lead (an int is days).
    visit_event, lead_event : str
        Event names.
    by : str, default "channel"
        Column of the visit events to break down by.
    start, end : str or pandas.Timestamp, optional
        First visits (and visits counted) in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``by``, ``visits`` (all visit events), ``numerator`` (new visitors who
        became leads), ``denominator`` (new visitors), ``rate``, ``ci_low``, ``ci_high``,
        ``small_sample`` and ``visitors_window_open`` (new visitors whose window runs past
        the end of the data, the day after the latest event's day). Blended rows have ``"all"``.

    Notes
    -----
    The rate comes with the 95% Wilson interval of :func:`kpilib.stats.rate_frame`.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b"], "ts": ["2026-10-01", "2026-10-02", "2026-10-05"],
    ...     "event": ["visit", "lead", "visit"], "channel": ["email", None, "email"]})
    >>> traffic_to_lead(events, None, by="channel")[["channel", "numerator", "denominator", "rate"]]
      channel  numerator  denominator  rate
    0     all          1            2   0.5
    1   email          1            2   0.5
    """
    events = as_table(events, "events")
    period = check_period(period, _PERIODS, none=True)
    _breakdown(by, {"events": events})
    seconds = duration_seconds(window, "window")
    start, end = to_utc(start), to_utc(end)
    visits = events.filter(events.event == visit_event)
    ranked = visits.mutate(rank=ibis.row_number().over(group_by=visits.customer_id,
                                                       order_by=[visits.ts, visits[by]]))
    firsts = ranked.filter(ranked["rank"] == 0).select("customer_id", first_at=ranked.ts, group=ranked[by])
    firsts = time_filter(firsts, "first_at", start, end)
    leads = events.filter(events.event == lead_event).group_by("customer_id").agg(lead_at=ibis._.ts.min())
    leads = leads.rename(l_customer_id="customer_id")
    joined = firsts.left_join(leads, firsts.customer_id == leads.l_customer_id)
    data_end = default_cutoff(events.ts.max()).as_scalar()  # the whole last day is data
    span = ibis.interval(seconds=int(seconds))
    joined = joined.mutate(
        period=_period_label(joined.first_at, period),
        converted=(joined.lead_at.notnull() & (joined.lead_at >= joined.first_at)
                   & (joined.lead_at <= joined.first_at + span)).cast("int32"),
        open=(joined.first_at + span > data_end).cast("int32"),
    )
    people = joined.group_by(["period", "group"]).agg(denominator=joined.count(), numerator=joined.converted.sum(),
                                                       visitors_window_open=joined.open.sum()).execute()
    counted = time_filter(visits, "ts", start, end)
    counted = counted.mutate(period=_period_label(counted.ts, period), group=counted[by])
    volume = counted.group_by(["period", "group"]).agg(visits=counted.count()).execute()
    frame = volume.merge(people, on=["period", "group"], how="outer").fillna(0)
    frame = frame[frame["group"].notna()]
    blended = frame.groupby("period", as_index=False)[["visits", "numerator", "denominator",
                                                        "visitors_window_open"]].sum()
    blended["group"] = _ALL
    frame = pd.concat([blended, frame], ignore_index=True)
    frame["order"] = frame["group"].ne(_ALL)
    frame = frame.sort_values(["period", "order", "group"], ignore_index=True)
    rates = rate_frame(frame["numerator"], frame["denominator"])
    out = pd.concat([frame[["period", "group"]].rename(columns={"group": by}),
                     frame[["visits"]].astype("int64"), rates,
                     frame[["visitors_window_open"]].astype("int64")], axis=1)
    return out
