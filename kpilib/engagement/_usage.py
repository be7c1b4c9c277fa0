"""Product usage: feature adoption, sessions, usage per active user and time to value.

Computed on the ``events`` table (and ``customers`` for signup cohorts). A *session* is a
run of a customer's activity events with no gap longer than ``gap_minutes`` (default 30,
the Google Analytics rule); its duration is last event − first event, so a one-event
session lasts 0 seconds (time on site is a lower bound). *Activation* is a customer's
first use of a key feature after signing up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import ibis
import numpy as np
import pandas as pd

from kpilib.data import as_table, column_list, require_columns
from kpilib.deprecation import renamed_arguments
from kpilib.engagement._activity import (
    DEFAULT_ACTIVITY_EVENTS,
    _active_events,
    _first_activity,
    active_users,
)
from kpilib.engagement._calendar import (
    _period_bounds,
    _period_dates,
    _period_number,
    _period_starts,
)
from kpilib.metrics import Metric, computes, register
from kpilib.periods import (
    TimeLike,
    check_period,
    default_cutoff,
    epoch_seconds,
    time_filter,
    to_utc,
)
from kpilib.stats import rate_frame

#: Inactivity that closes a session, in minutes (the Google Analytics default).
DEFAULT_SESSION_GAP_MINUTES = 30

_DAY_SECONDS = 86_400.0


register(
    Metric(
        name="feature_adoption_rate",
        title="Feature adoption rate",
        stage="engagement",
        formula=r"\text{adoption}_f(t) = \frac{\#\{u \text{ active in } t \text{ who used feature } f\}}"
        r"{\#\{u \text{ active in } t\}}",
        definition=(
            "For each feature, the share of the period's active customers who used it at "
            "least once in the period; reported with uses per adopter and per active user."
        ),
        pitfalls=(
            "Depends on the denominator: share of active users (here), of all customers or "
            "of those who could use it (plan-gated features) give very different numbers. "
            "One use is adoption here; a habit needs repeated use (see uses per adopter)."
        ),
        unit="rate",
        higher_is_better=True,
        example=">>> import pandas as pd\n"
        ">>> from kpilib.engagement import feature_adoption\n"
        ">>> events = pd.DataFrame({\"customer_id\": [\"a\", \"a\", \"a\", \"b\"],\n"
        "...     \"ts\": [\"2026-10-01\", \"2026-10-02\", \"2026-10-03\", \"2026-10-04\"],\n"
        "...     \"event\": [\"feature_use\", \"feature_use\", \"page_view\", \"page_view\"],\n"
        "...     \"feature\": [\"reports\", \"reports\", None, None]})\n"
        ">>> feature_adoption(events)[[\"feature\", \"numerator\", \"denominator\", \"rate\", \"uses_per_adopter\"]]\n"
        "   feature  numerator  denominator  rate  uses_per_adopter\n"
        "0  reports          1            2   0.5               2.0",
    )
)


@computes("feature_adoption_rate")
@renamed_arguments(freq="period")
def feature_adoption(
    events: ibis.Table | pd.DataFrame,
    period: Literal["D", "W", "M"] = "M",
    start: TimeLike = None,
    end: TimeLike = None,
    feature_event: str = "feature_use",
    feature_column: str = "feature",
    activity_events: Sequence[str] | None = DEFAULT_ACTIVITY_EVENTS,
) -> pd.DataFrame:
    r"""Per period and feature: share of active customers who used it, and uses per user.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table, with a ``feature_column`` naming the feature of
        ``feature_event`` rows.
    period : {"D", "W", "M"}, default "M"
        Calendar period (UTC). (Formerly ``freq``, deprecated.)
    start, end : str or Timestamp, optional
        Keep events in ``[start, end)``; periods before the first activity of the data
        are no rows (see :func:`active_users`).
    feature_event : str, default "feature_use"
        The event that records a feature use.
    feature_column : str, default "feature"
        The column naming the feature.
    activity_events : list of str or None
        Events that make a customer active (``feature_event`` always does).

    Returns
    -------
    pandas.DataFrame
        Per ``period`` and ``feature``: ``numerator`` (customers who used it),
        ``denominator`` (active customers of the period), ``rate``, ``ci_low``,
        ``ci_high``, ``small_sample``, ``uses``, ``uses_per_adopter`` and
        ``uses_per_active_user``. The rate over periods is the adoption over time.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2026-10-01", "2026-10-02"],
    ...     "event": ["feature_use", "page_view"], "feature": ["api", None]})
    >>> feature_adoption(events)[["period", "feature", "numerator", "denominator", "rate"]]
          period feature  numerator  denominator  rate
    0 2026-10-01     api          1            2   0.5
    """
    period = check_period(period, ("D", "W", "M"))
    start, end = to_utc(start), to_utc(end)
    events = as_table(events, "events")
    require_columns(events, [feature_column], "events", "feature_adoption")
    names = None if activity_events is None else sorted({*column_list(activity_events), feature_event})
    active = active_users(events, period, start, end, activity_events=names)[["period", "active_users"]]
    uses = time_filter(events.filter((events.event == feature_event) & events[feature_column].notnull()),
                        "ts", start, end)
    uses = uses.mutate(period=_period_number(uses.ts, period), feature=uses[feature_column].cast("string"))
    counts = uses.group_by(["period", "feature"]).agg(
        users=uses.customer_id.nunique(), uses=uses.count()).execute()
    columns = ["period", "feature", "numerator", "denominator", "rate", "ci_low", "ci_high",
               "small_sample", "uses", "uses_per_adopter", "uses_per_active_user"]
    if counts.empty:
        return pd.DataFrame(columns=columns)
    counts["period"] = _period_dates(counts["period"], period)
    grid = pd.MultiIndex.from_product([active.period, sorted(counts.feature.unique())],
                                      names=["period", "feature"])
    counts = counts.set_index(["period", "feature"]).reindex(grid, fill_value=0).reset_index()
    counts = counts.merge(active, on="period", how="left")
    rates = rate_frame(counts.users.to_numpy(), counts.active_users.to_numpy())
    out = pd.concat([counts[["period", "feature"]], rates], axis=1)
    out["uses"] = counts.uses.astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["uses_per_adopter"] = np.where(counts.users > 0, counts.uses / counts.users.where(counts.users > 0), np.nan)
        out["uses_per_active_user"] = np.where(
            counts.active_users > 0, counts.uses / counts.active_users.where(counts.active_users > 0), np.nan)
    return out[columns].sort_values(["period", "feature"]).reset_index(drop=True)


def sessions(
    events: ibis.Table | pd.DataFrame,
    gap_minutes: float = DEFAULT_SESSION_GAP_MINUTES,
    activity_events: Sequence[str] | None = DEFAULT_ACTIVITY_EVENTS,
    page_view_event: str = "page_view",
    share_event: str = "share",
) -> ibis.Table:
    """Sessions of activity events, one row per session (an Ibis expression, not executed).

    A session is a run of a customer's activity events with no gap longer than
    ``gap_minutes``; its duration is last event − first event (0 for a one-event
    session, so durations are lower bounds).

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    gap_minutes : float, default 30
        Inactivity that closes a session.
    activity_events : list of str or None
        Events that belong to sessions.
    page_view_event, share_event : str
        Event names counted as page views and shares.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``session`` (1, 2 … per customer), ``started_at``, ``ended_at``,
        ``events``, ``page_views``, ``shares``, ``duration_seconds``.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "a"],
    ...     "ts": ["2026-10-01 09:00", "2026-10-01 09:20", "2026-10-01 10:00"],
    ...     "event": ["page_view"] * 3})
    >>> sessions(events).to_pandas()[["customer_id", "session", "events", "duration_seconds"]]
      customer_id  session  events  duration_seconds
    0           a        1       2              1200
    1           a        2       1                 0
    """
    return _sessions(events, gap_minutes, activity_events, page_view_event, share_event).order_by(
        ["customer_id", "session"])


def _sessions(
    events: ibis.Table | pd.DataFrame,
    gap_minutes: float,
    activity_events: Sequence[str] | None,
    page_view_event: str,
    share_event: str,
    since: pd.Timestamp | None = None,
) -> ibis.Table:
    """The sessions of :func:`sessions`, unordered; with ``since``, exact only for the
    sessions starting at or after it (their ``session`` numbers then count from the first
    kept event, not from the customer's first).

    A session starts at an event whose previous event is more than the gap earlier (or
    that has none). Events before ``since`` − gap cannot change that for an event at or
    after ``since``: its previous event is either kept (the same gap) or earlier than
    ``since`` − gap, hence more than the gap before it, and then every earlier event is
    dropped too and it starts a session either way. The events of a session starting at
    or after ``since`` come after its start, so they are all kept. The bound is taken a
    second lower still, so that rounding the gap cannot matter.
    """
    if gap_minutes <= 0:
        raise ValueError(f"gap_minutes must be positive, got {gap_minutes!r}")
    acts = _active_events(events, activity_events)
    if since is not None:
        acts = acts.filter(acts.ts >= since - pd.Timedelta(minutes=gap_minutes) - pd.Timedelta(seconds=1))
    acts = acts.mutate(_s=epoch_seconds(acts.ts))
    w = ibis.window(group_by="customer_id", order_by=["_s"])
    acts = acts.mutate(_gap=acts._s - acts._s.lag().over(w))
    starts = (acts._gap.isnull() | (acts._gap > gap_minutes * 60)).cast("int32")
    # RANGE, not ROWS: events at the same instant are peers and share a session whichever of
    # them the engine ordered first (with ROWS a tie across a session start split at random)
    upto = ibis.range_window(preceding=None, following=0, group_by="customer_id", order_by=["_s"])
    acts = acts.mutate(session=starts.sum().over(upto))
    out = acts.group_by(["customer_id", "session"]).agg(
        started_at=acts.ts.min(),
        ended_at=acts.ts.max(),
        events=acts.count(),
        page_views=(acts.event == page_view_event).sum(),
        shares=(acts.event == share_event).sum(),
        duration_seconds=acts._s.max() - acts._s.min(),
    )
    return out


_EXAMPLE_SESSIONS = (
    ">>> import pandas as pd\n"
    ">>> from kpilib.engagement import usage_per_user\n"
    ">>> events = pd.DataFrame({\"customer_id\": [\"a\", \"a\", \"a\", \"b\"],\n"
    "...     \"ts\": [\"2026-10-01 09:00\", \"2026-10-01 09:10\", \"2026-10-01 12:00\", \"2026-10-02 08:00\"],\n"
    "...     \"event\": [\"page_view\", \"page_view\", \"page_view\", \"share\"]})\n"
    ">>> u = usage_per_user(events)\n"
)

register(
    Metric(
        name="sessions_per_user",
        title="Sessions per active user",
        stage="engagement",
        formula=r"\frac{\#\text{sessions starting in } t}{\#\{u \text{ with a session starting in } t\}}",
        definition=(
            "Sessions per active customer in the period. A session is a run of activity "
            "events with no gap longer than 30 minutes (a parameter)."
        ),
        pitfalls=(
            "The session rule decides the count: a 30-minute gap is a convention (Google "
            "Analytics), a shorter one splits one visit into several. Tools that also cut "
            "sessions at midnight or on a campaign change count more."
        ),
        unit="ratio",
        higher_is_better=True,
        example=_EXAMPLE_SESSIONS
        + ">>> u[[\"active_users\", \"sessions\", \"sessions_per_user\"]]\n"
        "   active_users  sessions  sessions_per_user\n"
        "0             2         3                1.5",
    )
)


register(
    Metric(
        name="page_views_per_user",
        title="Page views per active user",
        stage="engagement",
        formula=r"\frac{\#\text{page views in sessions starting in } t}{\#\text{active users in } t}",
        definition="Page views per active customer in the period.",
        pitfalls=(
            "More page views can mean more use or a harder-to-navigate product; read it "
            "together with feature adoption and time to value."
        ),
        unit="ratio",
        higher_is_better=None,
        example=_EXAMPLE_SESSIONS
        + ">>> u[[\"page_views\", \"page_views_per_user\"]]\n"
        "   page_views  page_views_per_user\n"
        "0           3                  1.5",
    )
)


register(
    Metric(
        name="time_on_site",
        title="Time on site (minutes per active user)",
        stage="engagement",
        formula=r"\frac{\sum_{s \text{ starting in } t} (t_{\text{last}}(s) - t_{\text{first}}(s))}"
        r"{\#\text{active users in } t} \text{ (minutes)}",
        definition=(
            "Total session time of the period per active customer, in minutes. A session's "
            "time runs from its first to its last event."
        ),
        pitfalls=(
            "The time after the last event of a session is unknown, so one-event sessions "
            "last 0 minutes and every session is under-measured: a lower bound. It changes "
            "with the session gap rule."
        ),
        unit="minutes",
        higher_is_better=None,
        example=_EXAMPLE_SESSIONS
        + ">>> u[[\"session_minutes\", \"time_on_site_minutes\"]]\n"
        "   session_minutes  time_on_site_minutes\n"
        "0             10.0                   5.0",
    )
)


register(
    Metric(
        name="shares_per_user",
        title="Shares per active user",
        stage="engagement",
        formula=r"\frac{\#\text{share events in } t}{\#\text{active users in } t}",
        definition="Share (invite, send, export to a colleague) events per active customer.",
        pitfalls="Sharing is viral reach, not satisfaction; a few power users make most shares.",
        unit="ratio",
        higher_is_better=True,
        example=_EXAMPLE_SESSIONS
        + ">>> u[[\"shares\", \"shares_per_user\"]]\n"
        "   shares  shares_per_user\n"
        "0       1              0.5",
    )
)


@computes("sessions_per_user", "page_views_per_user", "time_on_site", "shares_per_user")
@renamed_arguments(freq="period")
def usage_per_user(
    events: ibis.Table | pd.DataFrame,
    period: Literal["D", "W", "M"] = "M",
    start: TimeLike = None,
    end: TimeLike = None,
    gap_minutes: float = DEFAULT_SESSION_GAP_MINUTES,
    activity_events: Sequence[str] | None = DEFAULT_ACTIVITY_EVENTS,
    page_view_event: str = "page_view",
    share_event: str = "share",
) -> pd.DataFrame:
    r"""Sessions, page views, time on site and shares per active customer, per period.

    Sessions follow :func:`sessions` and belong to the period in which they start.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    period : {"D", "W", "M"}, default "M"
        Calendar period (UTC). (Formerly ``freq``, deprecated.)
    start, end : str or Timestamp, optional
        Keep sessions starting in ``[start, end)``; periods before the first activity of
        the data are no rows (not observed), whatever ``start``.
    gap_minutes : float, default 30
        The session rule: inactivity that closes a session.
    activity_events, page_view_event, share_event
        As in :func:`sessions`.

    Returns
    -------
    pandas.DataFrame
        Per ``period``: ``active_users`` (customers with a session starting in it),
        ``sessions``, ``page_views``, ``shares``, ``session_minutes`` (their total
        duration), ``one_event_sessions``, and the ratios ``sessions_per_user``,
        ``page_views_per_user``, ``shares_per_user``, ``time_on_site_minutes`` (per active
        user) and ``minutes_per_session``.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a"],
    ...     "ts": ["2026-10-01 09:00", "2026-10-01 09:06"], "event": ["page_view"] * 2})
    >>> usage_per_user(events)[["period", "sessions", "page_views_per_user", "time_on_site_minutes"]]
          period  sessions  page_views_per_user  time_on_site_minutes
    0 2026-10-01         1                  2.0                   6.0
    """
    period = check_period(period, ("D", "W", "M"))
    start, end = to_utc(start), to_utc(end)
    # events before start − gap cannot change the sessions starting at or after start
    s = _sessions(events, gap_minutes, activity_events, page_view_event, share_event, since=start)
    s = time_filter(s, "started_at", start, end)
    s = s.mutate(period=_period_number(s.started_at, period))
    counts = s.group_by("period").agg(
        active_users=s.customer_id.nunique(),
        sessions=s.count(),
        page_views=s.page_views.sum(),
        shares=s.shares.sum(),
        session_seconds=s.duration_seconds.sum(),
        one_event_sessions=(s.events == 1).sum(),
    ).execute()
    counts["period"] = _period_dates(counts["period"], period)
    data_start = _first_activity(events, activity_events, start) if start is not None else None
    bounds = _period_bounds(counts["period"], start, end, data_start)
    columns = ["period", "active_users", "sessions", "page_views", "shares", "session_minutes",
               "one_event_sessions", "sessions_per_user", "page_views_per_user", "shares_per_user",
               "time_on_site_minutes", "minutes_per_session"]
    if bounds is None:
        return pd.DataFrame(columns=columns)
    out = counts.set_index("period").reindex(_period_starts(period, *bounds)).fillna(0).reset_index()
    for c in ("active_users", "sessions", "page_views", "shares", "one_event_sessions"):
        out[c] = out[c].astype("int64")
    out["session_minutes"] = out.pop("session_seconds").astype(float) / 60
    users = out.active_users.where(out.active_users > 0)
    out["sessions_per_user"] = out.sessions / users
    out["page_views_per_user"] = out.page_views / users
    out["shares_per_user"] = out.shares / users
    out["time_on_site_minutes"] = out.session_minutes / users
    out["minutes_per_session"] = out.session_minutes / out.sessions.where(out.sessions > 0)
    return out[columns]


register(
    Metric(
        name="activation_rate",
        title="Activation rate (time to value)",
        stage="engagement",
        formula=r"\frac{\#\{u \in \text{cohort} : t_{\text{activation}}(u) - t_{\text{signup}}(u) \le N \text{ days}\}}"
        r"{\#\{u \in \text{cohort} : t_{\text{signup}}(u) + N \text{ days} \le \text{as of}\}}",
        definition=(
            "Share of a signup cohort whose first activation event (the use of a key "
            "feature, a parameter) came within N days of signing up. Only customers who "
            "signed up at least N days before the end of the data count, so recent cohorts "
            "are not biased low."
        ),
        pitfalls=(
            "The activation event is a choice: pick the action that predicts retention, not "
            "the easiest one to reach. Cohorts younger than N days have no value."
        ),
        unit="rate",
        higher_is_better=True,
        example=">>> import pandas as pd\n"
        ">>> from kpilib.engagement import time_to_value\n"
        ">>> customers = pd.DataFrame({\"customer_id\": [\"a\", \"b\"],\n"
        "...     \"signup_at\": [\"2026-09-01\", \"2026-09-02\"], \"channel\": [\"email\", \"social\"]})\n"
        ">>> events = pd.DataFrame({\"customer_id\": [\"a\", \"b\"], \"ts\": [\"2026-09-03\", \"2026-10-20\"],\n"
        "...     \"event\": [\"feature_use\", \"page_view\"]})\n"
        ">>> time_to_value(events, customers, within_days=[7]).summary[\n"
        "...     [\"cohort\", \"within_days\", \"numerator\", \"denominator\", \"rate\", \"median_days\"]]\n"
        "      cohort  within_days  numerator  denominator  rate  median_days\n"
        "0 2026-09-01            7          1            2   0.5          2.0",
    )
)


@dataclass
class TimeToValue:
    """Result of :func:`time_to_value`.

    Attributes
    ----------
    summary : pandas.DataFrame
        Per signup ``cohort`` and ``within_days`` N: the share activated within N days
        (``numerator``, ``denominator`` = customers observed for at least N days, ``rate``,
        ``ci_low``, ``ci_high``, ``small_sample``), with the cohort's ``signups``,
        ``activated`` (ever) and ``median_days`` (among the activated).
    curve : pandas.DataFrame
        Over all cohorts, per whole day d since signup: ``activated`` (first activation on
        day d), ``censored`` (observation ended on day d without activation), ``at_risk``
        and ``share_activated`` — the Kaplan–Meier share activated within d days, which
        handles customers who signed up recently.
    activation : str
        The activation definition, for labels.
    """

    summary: pd.DataFrame
    curve: pd.DataFrame
    activation: str

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()


@computes("activation_rate")
@renamed_arguments(cohort_freq="cohort_period")
def time_to_value(
    events: ibis.Table | pd.DataFrame,
    customers: ibis.Table | pd.DataFrame,
    activation_event: str = "feature_use",
    feature: str | None = None,
    within_days: Sequence[int] = (1, 7, 30),
    cohort_period: Literal["W", "M"] = "M",
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    max_days: int = 90,
    feature_column: str = "feature",
) -> TimeToValue:
    r"""Time from signup to the first use of a key feature (activation), by signup cohort.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    customers : ibis.Table or pandas.DataFrame
        The customers table (``signup_at``).
    activation_event : str, default "feature_use"
        The event that marks activation.
    feature : str, optional
        Only activation events whose ``feature_column`` equals this (e.g. ``"dashboards"``).
    within_days : list of int, default (1, 7, 30)
        The N of "activated within N days".
    cohort_period : {"W", "M"}, default "M"
        Signup cohorts by calendar week or month. (Formerly ``cohort_freq``, deprecated.)
    start, end : str or Timestamp, optional
        Keep customers who signed up in ``[start, end)``.
    as_of : str or Timestamp, optional
        The end of observation, exclusive; by default
        :func:`kpilib.periods.default_cutoff` of the latest event (its whole day included).
    max_days : int, default 90
        Length of the activation curve.
    feature_column : str, default "feature"
        Column holding the feature name.

    Returns
    -------
    TimeToValue

    Notes
    -----
    Activation is the first ``activation_event`` at or after signup and before
    ``as_of``. A customer counts in the denominator of "within N days" only if
    :math:`t_\text{signup} + N\,\text{days} \le \text{as of}`.

    Examples
    --------
    >>> import pandas as pd
    >>> customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": ["2026-09-01", "2026-09-01"],
    ...     "channel": ["email", "email"]})
    >>> events = pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2026-09-02", "2026-09-30"],
    ...     "event": ["feature_use", "feature_use"]})
    >>> time_to_value(events, customers, within_days=[7]).summary[["within_days", "rate"]]
       within_days  rate
    0            7   0.5
    """
    cohort_period = check_period(cohort_period, ("W", "M"))
    ns = sorted({int(n) for n in within_days})
    if not ns or ns[0] < 0:
        raise ValueError(f"within_days must be non-negative whole days, got {within_days!r}")
    events = as_table(events, "events")
    customers = as_table(customers, "customers")
    cust = time_filter(customers, "signup_at", to_utc(start), to_utc(end))
    as_of = to_utc(as_of)
    if as_of is None:
        as_of = default_cutoff(events.ts.max().execute()) or pd.Timestamp.now(tz="UTC")
    acts = events.filter((events.event == activation_event) & (events.ts < as_of))
    label = activation_event
    if feature is not None:
        require_columns(events, [feature_column], "events", "time_to_value(feature=...)")
        acts = acts.filter(acts[feature_column] == feature)
        label = f"{activation_event} ({feature})"
    people = cust.select("customer_id", "signup_at")
    uses = acts.select(c_id=acts.customer_id, ts=acts.ts)
    # an activation event before the signup (a trial under the same id) does not count
    joined = people.left_join(uses, [people.customer_id == uses.c_id, uses.ts >= people.signup_at])
    first = joined.group_by(["customer_id", "signup_at"]).agg(activated_at=joined.ts.min())
    days = (epoch_seconds(first.activated_at) - epoch_seconds(first.signup_at)) / _DAY_SECONDS
    observed = (epoch_seconds(ibis.literal(as_of)) - epoch_seconds(first.signup_at)) / _DAY_SECONDS
    per = first.mutate(days=days, observed=observed, cohort=_period_number(first.signup_at, cohort_period))
    measures = dict(signups=per.count(), activated=per.days.notnull().sum(),
                    median_days=per.days.median())
    for n in ns:
        eligible = per.observed >= n
        measures[f"den_{n}"] = eligible.sum()
        measures[f"num_{n}"] = (eligible & (per.days <= n)).sum()
    cohorts = per.group_by("cohort").agg(**measures).execute()
    cohorts["cohort"] = _period_dates(cohorts["cohort"], cohort_period)
    cohorts = cohorts.sort_values("cohort").reset_index(drop=True)
    rows = []
    for n in ns:
        rates = rate_frame(cohorts[f"num_{n}"].fillna(0).to_numpy(), cohorts[f"den_{n}"].fillna(0).to_numpy())
        rates.insert(0, "within_days", n)
        rates.insert(0, "cohort", cohorts.cohort.to_numpy())
        rates["signups"] = cohorts.signups.to_numpy()
        rates["activated"] = cohorts.activated.fillna(0).astype("int64").to_numpy()
        rates["median_days"] = cohorts.median_days.to_numpy()
        rows.append(rates)
    summary = (pd.concat(rows, ignore_index=True).sort_values(["cohort", "within_days"])
               .reset_index(drop=True)) if rows else pd.DataFrame()

    day_of = ibis.cases((per.days.notnull(), per.days.floor()), else_=per.observed.floor()).cast("int64")
    curve_counts = per.group_by(day=day_of, activated_flag=per.days.notnull()).agg(n=per.count()).execute()
    curve = _activation_curve(curve_counts, max_days)
    return TimeToValue(summary=summary, curve=curve, activation=label)


def _activation_curve(counts: pd.DataFrame, max_days: int) -> pd.DataFrame:
    """Kaplan–Meier share activated by day d from per-day activation and censoring counts."""
    grid = range(0, max_days + 1)
    act = counts[counts.activated_flag].groupby("day")["n"].sum()
    cen = counts[~counts.activated_flag].groupby("day")["n"].sum()
    total = int(counts.n.sum())
    activated = act.reindex(grid, fill_value=0).astype("int64")
    censored = cen.reindex(grid, fill_value=0).astype("int64")
    before = activated.cumsum().shift(fill_value=0) + censored.cumsum().shift(fill_value=0)
    at_risk = (total - before).astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, activated / at_risk.where(at_risk > 0), 0.0)
    share = 1 - np.cumprod(1 - hazard)
    return pd.DataFrame({"days": list(grid), "activated": activated.to_numpy(),
                         "censored": censored.to_numpy(), "at_risk": at_risk.to_numpy(),
                         "share_activated": share})

