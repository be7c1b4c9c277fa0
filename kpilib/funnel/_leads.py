"""Lead nurture: new and reopened leads, the lead score, MQLs and their cost, the new-lead
score profile, the sales cycle and the nurture summary.

How an MQL is recognised is one :class:`~kpilib.funnel.MQLOptions` object, passed as
``mql=``; the old individual keywords still work for one release (with a FutureWarning).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ibis
import pandas as pd

from kpilib.data import DataError, as_table, exact_sum, require_columns
from kpilib.funnel import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.funnel._options import ALL_KEYWORDS, MQLOptions, mql_keywords, options
from kpilib.funnel._steps import _DAY_SECONDS, _QUANTILES, _UTC
from kpilib.metrics import computes
from kpilib.periods import TimeLike, epoch_seconds, period_index, time_filter, to_utc
from kpilib.stats import rate_frame

__all__ = [
    "cost_per_mql",
    "lead_score",
    "mql_count",
    "new_lead_score_profile",
    "new_leads",
    "nurture_summary",
    "reopened_leads",
    "sales_cycle_length",
]


# ---------------------------------------------------------------------------------------
# Monthly series
# ---------------------------------------------------------------------------------------


def _month_number(column: ibis.Value) -> ibis.Value:
    """The calendar month (UTC) of ``column`` as an integer (months since January 1970):
    grouped by in the engine without formatting text per row, named in pandas by
    :func:`_month_labels`."""
    return period_index(column, "M")


def _month_labels(frame: pd.DataFrame, column: str = "month") -> pd.DataFrame:
    """``frame`` with its ``column`` of :func:`_month_number` values written ``"YYYY-MM"``."""
    numbers = frame[column].astype("int64")
    labels = [f"{1970 + n // 12:04d}-{n % 12 + 1:02d}" for n in numbers.tolist()]
    return frame.assign(**{column: pd.Series(labels, index=frame.index, dtype=object)})


def _days_between(later: ibis.Value, earlier: ibis.Value) -> ibis.Value:
    """Days (a float) from ``earlier`` to ``later``, read off the epoch (no zoned cast on DuckDB)."""
    return (epoch_seconds(later).cast("float64") - epoch_seconds(earlier).cast("float64")) / _DAY_SECONDS


def _complete_months(frame: pd.DataFrame, columns: Sequence[str], start: pd.Timestamp | None,
                     end: pd.Timestamp | None) -> pd.DataFrame:
    """Months without a row get zeros, from ``start`` (or the first month) to ``end``."""
    if frame.empty and (start is None or end is None):
        return frame.reindex(columns=["month", *columns])
    first = pd.Period(start.tz_localize(None), "M") if start is not None else pd.Period(frame.month.min(), "M")
    if end is not None:
        last = pd.Period((end - pd.Timedelta(microseconds=1)).tz_localize(None), "M")
    else:
        last = pd.Period(frame.month.max(), "M")
    months = [str(p) for p in pd.period_range(first, last, freq="M")]
    out = frame.set_index("month").reindex(months).rename_axis("month").reset_index()
    out[list(columns)] = out[list(columns)].fillna(0).astype("int64")
    return out


def _first_event(events: ibis.Table, name: str, column: str) -> ibis.Table:
    """``customer_id`` and the time of each person's first ``name`` event."""
    named = events.filter(events.event == name)
    return named.group_by("customer_id").agg(**{column: named.ts.min()})


@computes("new_leads")
def new_leads(
    events: ibis.Table | pd.DataFrame,
    *,
    lead_event: str = "lead",
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""New leads per month: people whose first lead event falls in the month.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    lead_event : str, default "lead"
        The event that makes a person a lead.
    start, end : str or pandas.Timestamp, optional
        Only first-lead times in ``[start, end)``; months in between without leads
        show 0.

    Returns
    -------
    pandas.DataFrame
        ``month`` ("YYYY-MM") and ``new_leads``.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2026-08-03", "2026-10-01"],
    ...                        "event": ["lead", "lead"]})
    >>> new_leads(events)
         month  new_leads
    0  2026-08          1
    1  2026-09          0
    2  2026-10          1
    """
    events = as_table(events, "events")
    start, end = to_utc(start), to_utc(end)
    leads = time_filter(_first_event(events, lead_event, "lead_at"), "lead_at", start, end)
    monthly = leads.group_by(month=_month_number(leads.lead_at)).agg(new_leads=leads.count())
    frame = _month_labels(monthly.to_pandas()).sort_values("month", ignore_index=True)
    return _complete_months(frame, ["new_leads"], start, end)


@computes("reopened_leads")
def reopened_leads(
    events: ibis.Table | pd.DataFrame,
    *,
    inactive_days: float = 30,
    lead_event: str = "lead",
    purchase_event: str = "purchase",
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Leads who come back after at least ``inactive_days`` without any event.

    A re-engagement is an event of a lead, after their first lead event and not after
    their first purchase, whose previous event (of any kind) is ``inactive_days`` or
    more earlier. Each lead counts once per month in which they re-engage.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    inactive_days : float, default 30
        Minimum gap, in days, that makes a lead inactive.
    lead_event, purchase_event : str
        Events that make a person a lead, and a customer (no longer a lead).
    start, end : str or pandas.Timestamp, optional
        Only re-engagements in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``month`` and ``reopened_leads``.

    Notes
    -----
    :math:`\text{prev}(e)` is the event of the same person just before :math:`e` (of any
    kind); a person who never purchased has :math:`t_{u,\text{first purchase}} = \infty`.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "a", "a"],
    ...     "ts": ["2026-07-01", "2026-07-02", "2026-09-15", "2026-09-20"],
    ...     "event": ["lead", "visit", "visit", "visit"]})
    >>> reopened_leads(events, inactive_days=60)
         month  reopened_leads
    0  2026-09               1
    """
    events = as_table(events, "events")
    if inactive_days <= 0:
        raise ValueError(f"inactive_days must be positive, got {inactive_days!r}")
    start, end = to_utc(start), to_utc(end)
    marks = events.filter(events.event.isin([lead_event, purchase_event]))
    leads = marks.group_by("customer_id").agg(
        lead_at=marks.ts.min(where=marks.event == lead_event),
        purchase_at=marks.ts.min(where=marks.event == purchase_event),
    )
    leads = leads.filter(leads.lead_at.notnull())
    # Only the leads' events from their first lead event to their first purchase (and before
    # ``end``) can be, or precede, a re-engagement: the event before one after ``lead_at`` is
    # at ``lead_at`` or later (the lead event itself is there), and the event before one not
    # after the purchase is not after it either. So the gaps are taken on those rows only.
    history = events.select(h_customer_id=events.customer_id, ts=events.ts)
    history = history.join(leads, [history.h_customer_id == leads.customer_id, history.ts >= leads.lead_at])
    history = history.filter(history.purchase_at.isnull() | (history.ts <= history.purchase_at))
    if end is not None:
        history = history.filter(history.ts < end)
    history = history.select("customer_id", "ts", "lead_at")
    history = history.mutate(
        previous_ts=history.ts.lag().over(group_by=history.customer_id, order_by=history.ts)
    )
    gap = epoch_seconds(history.ts).cast("float64") - epoch_seconds(history.previous_ts).cast("float64")
    returns = history.filter(history.ts > history.lead_at, gap >= float(inactive_days) * _DAY_SECONDS)
    returns = time_filter(returns, "ts", start, end)
    monthly = returns.group_by(month=_month_number(returns.ts)).agg(
        reopened_leads=returns.customer_id.nunique()
    )
    frame = _month_labels(monthly.to_pandas()).sort_values("month", ignore_index=True)
    return _complete_months(frame, ["reopened_leads"], start, end)


def _points_expression(event: ibis.Value, behaviour_points: Mapping[str, float]) -> ibis.Value:
    branches = [(event == name, float(points)) for name, points in behaviour_points.items()]
    return ibis.cases(*branches, else_=0.0) if branches else ibis.literal(0.0)


def _profile_points(customers: ibis.Table | pd.DataFrame | None,
                    profile_points: Mapping[str, Mapping[str, float]]) -> ibis.Table | None:
    """``customer_id`` and ``profile_points`` (sum of the matching attribute points)."""
    if not profile_points:
        return None
    if customers is None:
        raise DataError(
            "profile points need the customers table, and none was given",
            table="customers",
            fix="Pass customers=..., or set profile_points to {} to score behaviour only",
        )
    customers = as_table(customers, "customers")
    require_columns(customers, list(profile_points), "customers", "the lead score's profile points")
    total = ibis.literal(0.0)
    for column, values in profile_points.items():
        branches = [(customers[column] == value, float(points)) for value, points in values.items()]
        if branches:
            total = total + ibis.cases(*branches, else_=0.0)
    return customers.select(pp_customer_id=customers.customer_id, profile_points=total)


def _add_profile(scores: ibis.Table, profile: ibis.Table | None) -> ibis.Table:
    """Add ``profile_points`` (0 without a profile) and ``score`` to a table of behaviour points."""
    if profile is None:
        scores = scores.mutate(profile_points=ibis.literal(0.0))
    else:
        joined = scores.left_join(profile, scores.customer_id == profile.pp_customer_id)
        scores = joined.select(
            *[c for c in joined.columns if c not in ("pp_customer_id", "profile_points")],
            profile_points=joined.profile_points.fill_null(0.0),
        )
    return scores.mutate(score=scores.behaviour_points + scores.profile_points)


@computes("lead_score")
@mql_keywords(behaviour_points="behaviour_points", profile_points="profile_points", threshold="threshold")
def lead_score(
    events: ibis.Table | pd.DataFrame,
    customers: ibis.Table | pd.DataFrame | None = None,
    *,
    mql: MQLOptions | None = None,
    as_of: TimeLike = None,
) -> ibis.Table:
    r"""A transparent points score per person: profile points plus behaviour points.

    Returned as a lazy Ibis table (one row per person, possibly millions): call
    ``.to_pandas()`` on it, filter it, or aggregate it in the engine.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    customers : ibis.Table or pandas.DataFrame, optional
        Needed when ``mql.profile_points`` is not empty.
    mql : MQLOptions, optional
        The score's ``behaviour_points`` and ``profile_points``, and the ``threshold`` of
        the ``is_mql`` column (default ``MQLOptions()``; its other fields are not used
        here). The old keywords ``behaviour_points``, ``profile_points`` and ``threshold``
        still work for one release, with a FutureWarning.
    as_of : str or pandas.Timestamp, optional
        Score events before this time only (default: all events).

    Returns
    -------
    ibis.Table
        ``customer_id``, ``points_<event>`` for each weighted event, ``behaviour_points``,
        ``profile_points``, ``score`` and ``is_mql``; people with at least one weighted
        event.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "ts": ["2026-10-01", "2026-10-02", "2026-10-01"], "event": ["visit", "signup", "visit"]})
    >>> customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": ["2026-10-02", "2026-10-01"],
    ...     "channel": ["email", "social"], "segment": ["smb", "enterprise"]})
    >>> mql = MQLOptions(behaviour_points={"visit": 1, "signup": 10},
    ...                  profile_points={"segment": {"enterprise": 20}}, threshold=15)
    >>> scores = lead_score(events, customers, mql=mql)
    >>> scores.to_pandas().sort_values("customer_id")[["customer_id", "behaviour_points", "profile_points", "score", "is_mql"]]
      customer_id  behaviour_points  profile_points  score  is_mql
    0           a              11.0             0.0   11.0   False
    1           b               1.0            20.0   21.0    True
    """
    events = as_table(events, "events")
    mql = options(mql)
    weights = dict(mql.behaviour_points)
    profile = _profile_points(customers, mql.profile_points)
    as_of = to_utc(as_of)
    scored = events.filter(events.event.isin(list(weights)))
    if as_of is not None:
        scored = scored.filter(scored.ts < as_of)
    scored = scored.mutate(points=_points_expression(scored.event, weights))
    per_event = {
        f"points_{name}": scored.points.sum(where=scored.event == name).fill_null(0.0) for name in weights
    }
    scores = scored.group_by("customer_id").agg(**per_event, behaviour_points=scored.points.sum())
    scores = _add_profile(scores, profile)
    scores = scores.mutate(is_mql=scores.score >= mql.threshold)
    return scores.order_by("customer_id")


def _mql_times(
    events: ibis.Table, customers: ibis.Table | pd.DataFrame | None, mql: MQLOptions
) -> tuple[ibis.Table, str]:
    """``customer_id, mql_at`` for every MQL, and the method used ("event" or "score")."""
    method = mql.method
    if method == "auto":
        has_events = int(events.filter(events.event == mql.mql_event).limit(1).count().to_pyarrow().as_py()) > 0
        method = "event" if has_events else "score"
    if method == "event":
        return _first_event(events, mql.mql_event, "mql_at"), method

    weights = dict(mql.behaviour_points)
    leads = _first_event(events, mql.lead_event, "lead_at").rename(l_customer_id="customer_id")
    scored = events.filter(events.event.isin(list(weights)))
    scored = scored.mutate(points=_points_expression(scored.event, weights))
    # One row per person and instant, so ties in time cannot split a crossing.
    instants = scored.group_by(["customer_id", "ts"]).agg(points=scored.points.sum())
    running = instants.mutate(
        behaviour_points=instants.points.sum().over(
            ibis.cumulative_window(group_by=instants.customer_id, order_by=instants.ts)
        )
    )
    running = _add_profile(running, _profile_points(customers, mql.profile_points))
    running = running.join(leads, running.customer_id == leads.l_customer_id)
    crossed = running.filter(running.ts >= running.lead_at, running.score >= mql.threshold)
    return crossed.group_by("customer_id").agg(mql_at=crossed.ts.min()), method


@computes("mql_count")
@mql_keywords(**ALL_KEYWORDS)
def mql_count(
    events: ibis.Table | pd.DataFrame,
    customers: ibis.Table | pd.DataFrame | None = None,
    *,
    mql: MQLOptions | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Leads who became marketing-qualified, per month.

    With ``mql.method="event"`` a person's MQL time is their first ``mql.mql_event``;
    with ``"score"`` it is the first time, at or after their first ``mql.lead_event``,
    that their lead score (:func:`lead_score`, accumulated over their events) reaches
    ``mql.threshold``. ``"auto"`` uses the event when the data has any, else the score.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    customers : ibis.Table or pandas.DataFrame, optional
        Needed for profile points.
    mql : MQLOptions, optional
        How MQLs are recognised (default ``MQLOptions()``). The old keywords ``method``,
        ``mql_event``, ``lead_event``, ``behaviour_points``, ``profile_points`` and
        ``threshold`` still work for one release, with a FutureWarning.
    start, end : str or pandas.Timestamp, optional
        Only MQL times in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``mql_count`` and ``mql_method`` (``"event"`` or ``"score"``).

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...     "ts": ["2026-09-20", "2026-09-25", "2026-10-03", "2026-10-04"],
    ...     "event": ["lead", "visit", "signup", "lead"]})
    >>> mql_count(events, mql=MQLOptions(behaviour_points={"lead": 10, "visit": 1, "signup": 10}, threshold=20))
         month  mql_count mql_method
    0  2026-10          1      score
    """
    events = as_table(events, "events")
    start, end = to_utc(start), to_utc(end)
    mqls, used = _mql_times(events, customers, options(mql))
    mqls = time_filter(mqls, "mql_at", start, end)
    monthly = mqls.group_by(month=_month_number(mqls.mql_at)).agg(mql_count=mqls.count())
    frame = _complete_months(_month_labels(monthly.to_pandas()).sort_values("month", ignore_index=True),
                             ["mql_count"], start, end)
    frame["mql_method"] = used
    return frame


def _monthly_spend(spend: ibis.Table | pd.DataFrame, start: pd.Timestamp | None,
                   end: pd.Timestamp | None) -> pd.DataFrame:
    spend = time_filter(as_table(spend, "spend"), "date", start, end, date=True)
    return spend.group_by(month=spend.date.strftime("%Y-%m")).agg(cost=exact_sum(spend.cost)).to_pandas()


@computes("cost_per_mql")
@mql_keywords(**ALL_KEYWORDS)
def cost_per_mql(
    events: ibis.Table | pd.DataFrame,
    spend: ibis.Table | pd.DataFrame,
    customers: ibis.Table | pd.DataFrame | None = None,
    *,
    mql: MQLOptions | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Marketing spend per new MQL, per month.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    spend : ibis.Table or pandas.DataFrame
        The spend table (``date``, ``channel``, ``cost``).
    customers, mql
        How MQLs are recognised (see :func:`mql_count`; the old individual keywords still
        work for one release, with a FutureWarning).
    start, end : str or pandas.Timestamp, optional
        Months in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``cost``, ``mql_count``, ``cost_per_mql`` (NaN without MQLs) and
        ``mql_method``.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "b", "c"],
    ...     "ts": ["2026-09-02", "2026-10-01", "2026-10-09"], "event": ["mql"] * 3})
    >>> spend = pd.DataFrame({"date": ["2026-09-01", "2026-10-01", "2026-10-02"],
    ...     "channel": ["email"] * 3, "cost": [100.0, 150.0, 50.0]})
    >>> cost_per_mql(events, spend)[["month", "cost", "mql_count", "cost_per_mql"]]
         month   cost  mql_count  cost_per_mql
    0  2026-09  100.0          1         100.0
    1  2026-10  200.0          2         100.0
    """
    mql = options(mql)
    start, end = to_utc(start), to_utc(end)
    mqls = mql_count(events, customers, mql=mql, start=start, end=end)
    costs = _monthly_spend(spend, start, end)
    frame = costs.merge(mqls[["month", "mql_count"]], on="month", how="outer").sort_values(
        "month", ignore_index=True
    )
    frame["cost"] = frame["cost"].fillna(0.0).astype(float)
    frame["mql_count"] = frame["mql_count"].fillna(0).astype("int64")
    frame["cost_per_mql"] = frame["cost"] / frame["mql_count"].where(frame["mql_count"] > 0)
    frame["mql_method"] = mqls["mql_method"].iloc[0] if len(mqls) else mql.method
    return frame[["month", "cost", "mql_count", "cost_per_mql", "mql_method"]]


@computes("new_lead_score")
@mql_keywords(behaviour_points="behaviour_points", profile_points="profile_points", threshold="threshold",
              lead_event="lead_event")
def new_lead_score_profile(
    events: ibis.Table | pd.DataFrame,
    customers: ibis.Table | pd.DataFrame | None = None,
    *,
    mql: MQLOptions | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Month-end lead scores of the leads created in each month.

    For each month, the leads whose first lead event falls in it are scored with the
    events up to the end of that month; the frame summarises those scores, so lead
    quality can be followed over time next to lead volume.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    customers : ibis.Table or pandas.DataFrame, optional
        Needed for profile points.
    mql : MQLOptions, optional
        The lead score (``behaviour_points``, ``profile_points``), the ``threshold`` of the
        share and the ``lead_event`` that makes a person a lead (default ``MQLOptions()``).
        The old keywords ``behaviour_points``, ``profile_points``, ``threshold`` and
        ``lead_event`` still work for one release, with a FutureWarning.
    start, end : str or pandas.Timestamp, optional
        Lead-creation months in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``leads``, ``mean_score``, ``p25_score``, ``median_score``, ``p75_score``
        and the share of new leads at or above ``mql.threshold`` by month end as a rate
        (``numerator``, ``denominator``, ``rate``, ``ci_low``, ``ci_high``,
        ``small_sample``).

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...     "ts": ["2026-09-29", "2026-09-30", "2026-10-02", "2026-10-01"],
    ...     "event": ["lead", "visit", "visit", "lead"]})
    >>> mql = MQLOptions(behaviour_points={"lead": 10, "visit": 1}, threshold=11)
    >>> profile = new_lead_score_profile(events, mql=mql)
    >>> profile[["month", "leads", "median_score", "numerator", "denominator"]]
         month  leads  median_score  numerator  denominator
    0  2026-09      1          11.0          1            1
    1  2026-10      1          10.0          0            1
    """
    events = as_table(events, "events")
    mql = options(mql)
    start, end = to_utc(start), to_utc(end)
    weights = dict(mql.behaviour_points)
    leads = time_filter(_first_event(events, mql.lead_event, "lead_at"), "lead_at", start, end)
    # one row per lead: the zoned truncation here costs nothing next to the events
    leads = leads.mutate(
        month=_month_number(leads.lead_at),
        month_end=(leads.lead_at.truncate("M") + ibis.interval(months=1)).cast(_UTC),
    )
    scored = events.filter(events.event.isin(list(weights)))
    scored = scored.select(
        s_customer_id=scored.customer_id, s_ts=scored.ts, points=_points_expression(scored.event, weights)
    )
    joined = leads.left_join(
        scored, [leads.customer_id == scored.s_customer_id, scored.s_ts < leads.month_end]
    )
    scores = joined.group_by(["customer_id", "month"]).agg(
        behaviour_points=joined.points.sum().fill_null(0.0)
    )
    scores = _add_profile(scores, _profile_points(customers, mql.profile_points))
    summary = scores.group_by("month").agg(
        leads=scores.count(),
        mean_score=scores.score.mean(),
        p25_score=scores.score.quantile(0.25),
        median_score=scores.score.quantile(0.5),
        p75_score=scores.score.quantile(0.75),
        at_threshold=(scores.score >= mql.threshold).sum(),
    )
    frame = _month_labels(summary.to_pandas()).sort_values("month", ignore_index=True)
    frame["leads"] = frame["leads"].astype("int64")
    rates = rate_frame(frame["at_threshold"].fillna(0), frame["leads"])
    return pd.concat([frame.drop(columns="at_threshold"), rates], axis=1)


@computes("sales_cycle_length")
def sales_cycle_length(
    events: ibis.Table | pd.DataFrame,
    *,
    purchase_event: str = "purchase",
    first_touch_events: Sequence[str] | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Days from first touch to first purchase, per month of the first purchase.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    purchase_event : str, default "purchase"
        The event that closes the sale.
    first_touch_events : list of str, optional
        Events that count as a touch; default every event.
    start, end : str or pandas.Timestamp, optional
        First purchases in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``customers``, ``mean_days``, ``p25_days``, ``median_days``,
        ``p75_days``, ``p90_days``.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b", "b"],
    ...     "ts": ["2026-09-21", "2026-10-01", "2026-10-01", "2026-10-05"],
    ...     "event": ["visit", "purchase", "visit", "purchase"]})
    >>> sales_cycle_length(events)[["month", "customers", "mean_days", "median_days"]]
         month  customers  mean_days  median_days
    0  2026-10          2        7.0          7.0
    """
    events = as_table(events, "events")
    start, end = to_utc(start), to_utc(end)
    purchases = time_filter(_first_event(events, purchase_event, "purchase_at"), "purchase_at", start, end)
    touches = events if first_touch_events is None else events.filter(events.event.isin(list(first_touch_events)))
    touches = touches.select(t_customer_id=touches.customer_id, t_ts=touches.ts)
    joined = purchases.join(
        touches, [purchases.customer_id == touches.t_customer_id, touches.t_ts <= purchases.purchase_at]
    )
    cycles = joined.group_by(["customer_id", "purchase_at"]).agg(first_touch=joined.t_ts.min())
    cycles = cycles.mutate(
        month=_month_number(cycles.purchase_at), days=_days_between(cycles.purchase_at, cycles.first_touch)
    )
    summary = cycles.group_by("month").agg(
        customers=cycles.count(),
        mean_days=cycles.days.mean(),
        **{f"{name}_days": cycles.days.quantile(q) for name, q in _QUANTILES.items()},
    )
    frame = _month_labels(summary.to_pandas()).sort_values("month", ignore_index=True)
    frame["customers"] = frame["customers"].astype("int64")
    return frame[["month", "customers", "mean_days", "p25_days", "median_days", "p75_days", "p90_days"]]


@mql_keywords(method="method", behaviour_points="behaviour_points", profile_points="profile_points",
              threshold="threshold")
def nurture_summary(
    events: ibis.Table | pd.DataFrame,
    spend: ibis.Table | pd.DataFrame | None = None,
    customers: ibis.Table | pd.DataFrame | None = None,
    *,
    inactive_days: float = 30,
    mql: MQLOptions | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    """The nurture stage per month: new leads, reopened leads, MQLs and cost per MQL.

    A convenience that joins :func:`new_leads`, :func:`reopened_leads`,
    :func:`mql_count` and (when ``spend`` is given) :func:`cost_per_mql` on ``month``.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    spend : ibis.Table or pandas.DataFrame, optional
        The spend table; without it the cost columns are left out.
    customers, mql
        How MQLs are recognised (see :func:`mql_count`); new and reopened leads are counted
        by ``mql.lead_event``. The old keywords ``method``, ``behaviour_points``,
        ``profile_points`` and ``threshold`` still work for one release, with a
        FutureWarning.
    inactive_days : float, default 30
        See :func:`reopened_leads`.
    start, end : str or pandas.Timestamp, optional
        Months in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``new_leads``, ``reopened_leads``, ``mql_count``, ``mql_method`` and,
        with spend, ``cost`` and ``cost_per_mql``.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a"], "ts": ["2026-10-01", "2026-10-02"],
    ...                        "event": ["lead", "mql"]})
    >>> nurture_summary(events)
         month  new_leads  reopened_leads  mql_count mql_method
    0  2026-10          1               0          1      event
    """
    events = as_table(events, "events")
    mql = options(mql)
    leads = new_leads(events, lead_event=mql.lead_event, start=start, end=end)
    reopened = reopened_leads(events, inactive_days=inactive_days, lead_event=mql.lead_event, start=start,
                              end=end)
    if spend is not None:
        mqls = cost_per_mql(events, spend, customers, mql=mql, start=start, end=end)
    else:
        mqls = mql_count(events, customers, mql=mql, start=start, end=end)
    frame = leads.merge(reopened, on="month", how="outer").merge(mqls, on="month", how="outer")
    counts = ["new_leads", "reopened_leads", "mql_count"]
    frame[counts] = frame[counts].fillna(0).astype("int64")
    frame["mql_method"] = mqls["mql_method"].iloc[0] if len(mqls) else mql.method
    columns = ["month", *counts, "mql_method"] + (["cost", "cost_per_mql"] if spend is not None else [])
    return frame.sort_values("month", ignore_index=True)[columns]
