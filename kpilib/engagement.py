"""Engagement: email, active users, product usage, the voice of the customer and a health score.

Computed on the ``email``, ``events``, ``surveys``, ``customers`` and ``subscriptions``
tables of the data contract. Every scan of raw rows is one Ibis expression run in the
engine (DuckDB for files and DataFrames, the warehouse for a connection); only small
per-period, per-campaign or per-customer results come back to pandas, where rates get
their numerator, denominator and Wilson interval (:func:`kpilib.stats.rate_frame`).

Definitions used throughout
---------------------------
* **Email.** A row of ``email`` is one mail to one customer. *Delivered* = sent − bounced
  (soft and hard). A mail is *opened* when it has an ``opened_at`` **or** a
  ``clicked_at`` (a click proves an open the tracking pixel missed), and only delivered
  mails can be opened, clicked, unsubscribed from or complained about. Counts are unique
  per mail: ``opened_at`` is the first open, so a mail opened five times counts once.
* **Activity.** A customer is *active* on a day when they have at least one *activity
  event* (by default ``page_view``, ``feature_use`` and ``share``: product usage, not
  marketing-site visits) that day. Days, weeks (Monday to Sunday) and months are UTC
  calendar periods.
* **Sessions.** A session is a run of a customer's activity events with no gap longer
  than ``gap_minutes`` (default 30, the Google Analytics rule); its duration is last
  event − first event, so a one-event session lasts 0 seconds (time on site is a lower
  bound).
* **Subscription spells.** A plan change ends one subscription row and starts another
  at the same instant; rows that touch like that are one *spell*. A customer churns when
  a spell ends; a same-instant plan change is not churn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd
from scipy import stats as _sps

from kpilib.data import Dataset, as_table, column_list, load_dataset, require_columns
from kpilib.metrics import Metric, computes, register
from kpilib.periods import (
    default_cutoff,
    month_bounds,
    months_between,
    period_index,
    period_index_of,
    time_filter,
    to_utc,
)
from kpilib.spells import subscription_spells
from kpilib.stats import SMALL_DENOMINATOR, compare_proportions, rate_frame

__all__ = [
    "DEFAULT_ACTIVITY_EVENTS",
    "DEFAULT_HEALTH_WEIGHTS",
    "DEFAULT_SESSION_GAP_MINUTES",
    "HEALTH_COMPONENTS",
    "EMAIL_RATES",
    "HealthScoreValidation",
    "TimeToValue",
    "active_users",
    "ces",
    "ces_by",
    "csat",
    "csat_by",
    "email_metrics",
    "feature_adoption",
    "headline_metrics",
    "health_score",
    "health_score_backtest",
    "lifecycle",
    "nps",
    "nps_by",
    "roc_auc",
    "score_counts",
    "sessions",
    "stickiness",
    "stickiness_histogram",
    "time_to_value",
    "usage_per_user",
    "validate_health_score",
]

TimeLike = str | pd.Timestamp | None

#: Events that make a customer *active* (product usage; marketing visits are not).
DEFAULT_ACTIVITY_EVENTS: tuple[str, ...] = ("page_view", "feature_use", "share")

#: Inactivity that closes a session, in minutes (the Google Analytics default).
DEFAULT_SESSION_GAP_MINUTES = 30

#: The components of the health score and what each measures (each normalised to 0–1).
HEALTH_COMPONENTS: dict[str, str] = {
    "recency": "1 − days since the last activity / recency_days, floored at 0",
    "frequency": "active days in the last recency_days, relative to the 90th percentile of "
    "the scored customers, capped at 1",
    "breadth": "distinct features used in the lookback / features used by anyone in it",
    "email": "(opened + clicked) / (2 × delivered) over the mails of the lookback",
    "nps": "latest NPS answer in the last 365 days / 10",
    "plan": "rank of the current plan's MRR among the plans held (0 cheapest, 1 dearest)",
    "tenure": "calendar months in the current subscription spell / 12, capped at 1",
}

#: Default weights of the health-score components (rescaled to sum to 1).
DEFAULT_HEALTH_WEIGHTS: dict[str, float] = {
    "recency": 0.25,
    "frequency": 0.20,
    "breadth": 0.15,
    "email": 0.10,
    "nps": 0.10,
    "plan": 0.10,
    "tenure": 0.10,
}

#: Email rates: name → (numerator column, denominator column).
EMAIL_RATES: dict[str, tuple[str, str]] = {
    "bounce_rate": ("bounces", "sent"),
    "hard_bounce_rate": ("hard_bounces", "sent"),
    "open_rate": ("unique_opens", "delivered"),
    "click_rate": ("unique_clicks", "delivered"),
    "click_to_open_rate": ("unique_clicks", "unique_opens"),
    "unsubscribe_rate": ("unsubscribes", "delivered"),
    "complaint_rate": ("complaints", "delivered"),
}

_DAY_SECONDS = 86_400.0
_FREQ_UNITS = {"D": "D", "W": "W", "M": "M"}
_CALENDAR = {"D": "D", "W": "W-MON", "M": "MS"}
_NPS_SCALE = (0, 10)

# ---------------------------------------------------------------------------------------
# The metric records (written once; the glossary and the report read them)
# ---------------------------------------------------------------------------------------

_EXAMPLE_EMAIL = (
    ">>> import pandas as pd\n"
    ">>> from kpilib.engagement import email_metrics\n"
    ">>> email = pd.DataFrame({\"campaign\": [\"oct\"] * 5, \"customer_id\": list(\"abcde\"),\n"
    "...     \"sent_at\": [\"2026-10-06 15:00\"] * 5, \"bounce\": [\"none\"] * 4 + [\"hard\"],\n"
    "...     \"opened_at\": [\"2026-10-06 16:00\", \"2026-10-06 17:00\", None, None, None],\n"
    "...     \"clicked_at\": [\"2026-10-06 16:01\", None, None, None, None],\n"
    "...     \"unsubscribed_at\": [None, None, \"2026-10-07 09:00\", None, None],\n"
    "...     \"complained_at\": [None] * 5})\n"
    ">>> m = email_metrics(email)\n"
)

_EMAIL_PITFALL = (
    "Tools disagree on the denominator (sent or delivered) and on what an open is; kpilib "
    "uses delivered and counts a click as an open. "
)

register(
    Metric(
        name="bounce_rate",
        title="Email bounce rate",
        stage="engagement",
        formula=r"\text{bounce rate} = \frac{\text{hard} + \text{soft bounces}}{\text{sent}}",
        definition=(
            "Share of the mails sent that were not delivered (soft bounces: full mailbox, "
            "server down; hard bounces: the address does not exist). Delivered = sent − "
            "bounced."
        ),
        pitfalls=(
            "Soft bounces are often retried and later delivered by the sending tool, so "
            "its bounce rate may count only hard bounces. A rising hard-bounce rate means "
            "the list is ageing or was bought; above about 2 % mailbox providers start "
            "filtering the sender."
        ),
        unit="rate",
        higher_is_better=False,
        example=_EXAMPLE_EMAIL
        + ">>> m[[\"sent\", \"bounces\", \"delivered\", \"bounce_rate\"]]\n"
        "   sent  bounces  delivered  bounce_rate\n"
        "0     5        1          4          0.2",
        reference="Mailchimp, 'About bounces'; RFC 3463 (enhanced mail status codes).",
    )
)

register(
    Metric(
        name="hard_bounce_rate",
        title="Email hard-bounce rate",
        stage="engagement",
        formula=r"\text{hard-bounce rate} = \frac{\text{hard bounces}}{\text{sent}}",
        definition="Share of the mails sent that bounced permanently (invalid address).",
        pitfalls=(
            "Hard-bounced addresses must be suppressed from later sends; if they are not, "
            "the rate repeats the same addresses every campaign and hurts deliverability."
        ),
        unit="rate",
        higher_is_better=False,
        example=_EXAMPLE_EMAIL
        + ">>> m[[\"hard_bounces\", \"sent\", \"hard_bounce_rate\"]]\n"
        "   hard_bounces  sent  hard_bounce_rate\n"
        "0             1     5               0.2",
    )
)

register(
    Metric(
        name="open_rate",
        title="Email open rate",
        stage="engagement",
        formula=r"\text{open rate} = \frac{\text{unique opens}}{\text{delivered}}, \quad "
        r"\text{delivered} = \text{sent} - \text{bounced}",
        definition=(
            "Share of the delivered mails that were opened at least once. An open is an "
            "opened_at time or, failing that, a click (a click proves an open the tracking "
            "pixel missed); each mail counts once however often it is opened."
        ),
        pitfalls=(
            _EMAIL_PITFALL
            + "Opens are measured by a tracking pixel: clients that block images miss real "
            "opens, and Apple Mail Privacy Protection (since 2021) pre-loads every image, "
            "recording an 'open' for mails nobody read. Open rates jumped industry-wide and "
            "no longer compare across time or audiences; use the click rate to judge real "
            "engagement and the open rate only as a rough deliverability check."
        ),
        unit="rate",
        higher_is_better=True,
        example=_EXAMPLE_EMAIL
        + ">>> m[[\"unique_opens\", \"delivered\", \"open_rate\"]]\n"
        "   unique_opens  delivered  open_rate\n"
        "0             2          4        0.5",
        reference="Apple, 'Mail Privacy Protection' (WWDC 2021); Mailchimp, 'About open and click rates'.",
    )
)

register(
    Metric(
        name="click_rate",
        title="Email click rate",
        stage="engagement",
        formula=r"\text{click rate} = \frac{\text{unique clickers}}{\text{delivered}}",
        definition=(
            "Share of the delivered mails whose recipient clicked at least one link. The "
            "best email signal of real engagement: a click is an action, not a pixel load."
        ),
        pitfalls=(
            _EMAIL_PITFALL
            + "Some tools call this the click-through rate (CTR) and others use that name "
            "for clicks per open. Security scanners of corporate mail servers follow links "
            "and create bot clicks within seconds of delivery."
        ),
        unit="rate",
        higher_is_better=True,
        example=_EXAMPLE_EMAIL
        + ">>> m[[\"unique_clicks\", \"delivered\", \"click_rate\"]]\n"
        "   unique_clicks  delivered  click_rate\n"
        "0              1          4        0.25",
    )
)

register(
    Metric(
        name="click_to_open_rate",
        title="Email click-to-open rate (CTOR)",
        stage="engagement",
        formula=r"\text{CTOR} = \frac{\text{unique clickers}}{\text{unique openers}}",
        definition=(
            "Of the mails that were opened, the share that were clicked: how convincing the "
            "content was to those who saw it. Some tools call this 'CTR' (click-through "
            "rate); kpilib keeps CTR out of its names because others mean clicks / delivered."
        ),
        pitfalls=(
            "Its denominator is the open count, so everything that distorts opens (image "
            "blocking, Apple Mail Privacy Protection) distorts the CTOR too: machine opens "
            "lower it. Compare it only within one audience and period."
        ),
        unit="rate",
        higher_is_better=True,
        example=_EXAMPLE_EMAIL
        + ">>> m[[\"unique_clicks\", \"unique_opens\", \"click_to_open_rate\"]]\n"
        "   unique_clicks  unique_opens  click_to_open_rate\n"
        "0              1             2                 0.5",
    )
)

register(
    Metric(
        name="unsubscribe_rate",
        title="Email unsubscribe rate",
        stage="engagement",
        formula=r"\text{unsubscribe rate} = \frac{\text{unsubscribes}}{\text{delivered}}",
        definition="Share of the delivered mails after which the recipient unsubscribed.",
        pitfalls=(
            "Low is not automatically good: people who stop reading rarely unsubscribe, they "
            "ignore or mark as spam. Watch it together with the complaint rate."
        ),
        unit="rate",
        higher_is_better=False,
        example=_EXAMPLE_EMAIL
        + ">>> m[[\"unsubscribes\", \"delivered\", \"unsubscribe_rate\"]]\n"
        "   unsubscribes  delivered  unsubscribe_rate\n"
        "0             1          4              0.25",
    )
)

register(
    Metric(
        name="complaint_rate",
        title="Email spam-complaint rate",
        stage="engagement",
        formula=r"\text{complaint rate} = \frac{\text{spam complaints}}{\text{delivered}}",
        definition="Share of the delivered mails that the recipient reported as spam.",
        pitfalls=(
            "Mailbox providers act on very small values (Google's sender guidelines ask to "
            "stay below 0.1 % and never reach 0.3 %), so intervals matter: a campaign of a "
            "few hundred mails cannot show that it is below the limit."
        ),
        unit="rate",
        higher_is_better=False,
        example=_EXAMPLE_EMAIL
        + ">>> m[[\"complaints\", \"delivered\", \"complaint_rate\"]]\n"
        "   complaints  delivered  complaint_rate\n"
        "0           0          4             0.0",
        reference="Google, 'Email sender guidelines' (2024).",
    )
)

_EXAMPLE_ACTIVITY = (
    ">>> import pandas as pd\n"
    ">>> events = pd.DataFrame({\"customer_id\": [\"a\", \"a\", \"b\", \"a\"],\n"
    "...     \"ts\": [\"2026-10-01 09:00\", \"2026-10-01 18:00\", \"2026-10-01 10:00\", \"2026-10-03 08:00\"],\n"
    "...     \"event\": [\"page_view\"] * 4})\n"
)

register(
    Metric(
        name="dau",
        title="Daily active users (DAU)",
        stage="engagement",
        formula=r"\text{DAU}(d) = \#\{u : u \text{ has an activity event on day } d\}",
        definition=(
            "Distinct customers with at least one activity event (product usage) on a UTC "
            "calendar day. The rolling 7- and 30-day variants count distinct customers "
            "active in the 7 or 30 days ending that day."
        ),
        pitfalls=(
            "Everything depends on which events count as activity: counting logins or "
            "marketing visits inflates it. Weekends and holidays make daily series saw-toothed; "
            "compare rolling values or the same weekday."
        ),
        unit="count",
        higher_is_better=True,
        example=_EXAMPLE_ACTIVITY
        + ">>> from kpilib.engagement import active_users\n"
        ">>> active_users(events, \"D\")[[\"period\", \"active_users\", \"active_users_7d\"]]\n"
        "      period  active_users  active_users_7d\n"
        "0 2026-10-01             2                2\n"
        "1 2026-10-02             0                2\n"
        "2 2026-10-03             1                2",
    )
)

register(
    Metric(
        name="wau",
        title="Weekly active users (WAU)",
        stage="engagement",
        formula=r"\text{WAU}(w) = \#\{u : u \text{ has an activity event in week } w\}",
        definition="Distinct customers active in a calendar week (Monday to Sunday, UTC).",
        pitfalls=(
            "A distinct count: WAU is not the sum of the DAUs of the week. Calendar weeks "
            "split months; for a month-end view use the rolling 7-day count."
        ),
        unit="count",
        higher_is_better=True,
        example=_EXAMPLE_ACTIVITY
        + ">>> from kpilib.engagement import active_users\n"
        ">>> active_users(events, \"W\")\n"
        "      period  active_users\n"
        "0 2026-09-28             2",
    )
)

register(
    Metric(
        name="mau",
        title="Monthly active users (MAU)",
        stage="engagement",
        formula=r"\text{MAU}(m) = \#\{u : u \text{ has an activity event in month } m\}",
        definition="Distinct customers active in a calendar month (UTC).",
        pitfalls=(
            "Months have 28–31 days, so MAU moves with the calendar; a customer active once "
            "counts as much as a daily user (see stickiness). Bots and internal accounts "
            "inflate it: exclude them upstream."
        ),
        unit="count",
        higher_is_better=True,
        example=_EXAMPLE_ACTIVITY
        + ">>> from kpilib.engagement import active_users\n"
        ">>> active_users(events, \"M\")\n"
        "      period  active_users\n"
        "0 2026-10-01             2",
    )
)

register(
    Metric(
        name="stickiness",
        title="Stickiness (DAU/MAU)",
        stage="engagement",
        formula=r"\text{stickiness}(m) = \frac{\overline{\text{DAU}}(m)}{\text{MAU}(m)} = "
        r"\frac{\sum_{u} \text{active days}_u(m)}{D_m \cdot \text{MAU}(m)}",
        definition=(
            "The average daily active users of the month divided by its monthly active "
            "users: the share of the month's days an average monthly user is active. 1 means "
            "every monthly user comes every day. The stickiness histogram shows the whole "
            "distribution: how many customers were active on exactly k days."
        ),
        pitfalls=(
            "A ratio: it rises when occasional users leave (MAU falls) even if nobody uses "
            "the product more. Products used weekly by design have a low DAU/MAU and are not "
            "failing. D_m counts the observed days of the month (a partial month at the end "
            "of the data is not diluted)."
        ),
        unit="ratio",
        higher_is_better=True,
        example=_EXAMPLE_ACTIVITY
        + ">>> from kpilib.engagement import stickiness\n"
        ">>> stickiness(events, start=\"2026-10-01\", end=\"2026-10-04\")[[\"mau\", \"customer_days\", \"days\", \"stickiness\"]]\n"
        "   mau  customer_days  days  stickiness\n"
        "0    2              3     3         0.5",
        reference="Croll & Yoskovitz, Lean Analytics (2013), ch. 16; a16z, '16 more startup metrics'.",
    )
)

register(
    Metric(
        name="user_quick_ratio",
        title="User quick ratio (lifecycle)",
        stage="engagement",
        formula=r"\text{quick ratio}(t) = \frac{\text{new}(t) + \text{resurrecting}(t)}{\text{dormant}(t)}",
        definition=(
            "Growth accounting of active users. Each period a customer active in it is new "
            "(first period ever active), returning (active in the previous period too) or "
            "resurrecting (not in the previous period, but before); a customer active in the "
            "previous period and not in this one is dormant (shown negative). Above 1 the "
            "active base grows; active(t) = active(t−1) + new + resurrecting − dormant."
        ),
        pitfalls=(
            "The first period of the data calls everybody new (no history before it). Short "
            "periods (weeks) make more customers dormant and resurrecting than months do; a "
            "quick ratio near 1 with large flows hides heavy churn of users."
        ),
        unit="ratio",
        higher_is_better=True,
        example=">>> import pandas as pd\n"
        ">>> from kpilib.engagement import lifecycle\n"
        ">>> events = pd.DataFrame({\"customer_id\": [\"a\", \"a\", \"b\", \"a\"],\n"
        "...     \"ts\": [\"2026-07-05\", \"2026-08-05\", \"2026-08-09\", \"2026-10-01\"],\n"
        "...     \"event\": [\"page_view\"] * 4})\n"
        ">>> lifecycle(events)[[\"period\", \"new\", \"returning\", \"resurrecting\", \"dormant\", \"quick_ratio\"]]\n"
        "      period  new  returning  resurrecting  dormant  quick_ratio\n"
        "0 2026-07-01    1          0             0        0          NaN\n"
        "1 2026-08-01    1          1             0        0          NaN\n"
        "2 2026-09-01    0          0             0       -2          0.0\n"
        "3 2026-10-01    0          0             1        0          NaN",
        reference="Jonathan Hsu (Social Capital), 'Diligence at Social Capital' (2015): growth accounting.",
    )
)

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
        formula=r"\frac{\sum_{s \in \text{sessions}(t)} (t_{\text{last}}(s) - t_{\text{first}}(s))}"
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

register(
    Metric(
        name="nps",
        title="Net Promoter Score (NPS)",
        stage="engagement",
        formula=r"\text{NPS} = 100\,(\hat p - \hat d), \quad "
        r"\operatorname{Var} = \frac{10^4\,(\hat p + \hat d - (\hat p - \hat d)^2)}{n}",
        definition=(
            "Answers to 'How likely are you to recommend us?' on 0–10: promoters 9–10, "
            "passives 7–8, detractors 0–6. NPS is the share of promoters minus the share of "
            "detractors, in points (−100 to 100). Its 95 % interval is NPS ± 1.96·√Var from "
            "the trinomial variance; when every answer falls in one category that variance "
            "is 0 and the adjusted-Wald interval (¾ promoter and ¾ detractor added, n + 3) "
            "is used instead."
        ),
        pitfalls=(
            "A difference of two shares, so it is noisy: 100 answers give an interval of "
            "about ±15 points, and month-to-month moves are mostly noise (see the change "
            "test). Passives count in n but not in the score. Who is asked, and when, moves "
            "it more than the product does."
        ),
        unit="points",
        higher_is_better=True,
        example=">>> from kpilib.engagement import nps\n"
        ">>> r = nps([10, 9, 9, 8, 7, 6, 3, 10, 9, 5])\n"
        ">>> r[[\"promoters\", \"passives\", \"detractors\", \"n\", \"nps\"]].tolist()\n"
        "[5, 2, 3, 10, 20.0]\n"
        ">>> round(r.ci_low, 1), round(r.ci_high, 1)\n"
        "(-34.0, 74.0)",
        reference="Reichheld, 'The One Number You Need to Grow', HBR (2003); Rocks, 'Interval "
        "estimation for the net promoter score', The American Statistician 70 (2016).",
    )
)

register(
    Metric(
        name="csat",
        title="Customer satisfaction (CSAT)",
        stage="engagement",
        formula=r"\text{CSAT} = \frac{\#\{\text{answers} \ge \text{satisfied\_min}\}}{\#\text{answers}}",
        definition=(
            "Share of satisfied answers to 'How satisfied were you …?'; by default answers "
            "4–5 on a 1–5 scale (the 'top-two-box'). Scale and threshold are parameters."
        ),
        pitfalls=(
            "Tools differ: some use 1–5 (top two boxes), some 1–7 or 1–10, and some report "
            "the mean score instead of the share, so CSAT values from two tools do not "
            "compare. Asked right after a support contact it measures that contact, not the "
            "product."
        ),
        unit="rate",
        higher_is_better=True,
        example=">>> from kpilib.engagement import csat\n"
        ">>> csat([5, 4, 4, 3, 1])[[\"numerator\", \"denominator\", \"rate\"]].tolist()\n"
        "[3, 5, 0.6]",
        reference="ACSI methodology; Hotjar and Qualtrics CSAT guides (top-two-box).",
    )
)

register(
    Metric(
        name="ces",
        title="Customer effort score (CES)",
        stage="engagement",
        formula=r"\overline{\text{CES}} = \frac{1}{n}\sum_i s_i, \quad "
        r"\text{agree share} = \frac{\#\{s_i \ge 5\}}{n} \text{ on a 1–7 scale}",
        definition=(
            "Answers to 'The company made it easy for me to handle my issue' on a 1–7 "
            "agreement scale, higher = easier. Reported both as the mean (with a t-interval) "
            "and as the share who agree (5–7, with a Wilson interval)."
        ),
        pitfalls=(
            "Gartner's (CEB) CES 2.0 reports the mean on the 1–7 agreement scale; survey "
            "tools such as Qualtrics, Hotjar and Zendesk often show the share agreeing "
            "(5–7); the original CEB 2010 question used a 1–5 effort scale where lower was "
            "better. State scale, direction and summary before comparing numbers."
        ),
        unit="score",
        higher_is_better=True,
        example=">>> from kpilib.engagement import ces\n"
        ">>> r = ces([7, 6, 5, 3, 4])\n"
        ">>> r[[\"n\", \"mean\", \"agree\", \"agree_rate\"]].tolist()\n"
        "[5, 5.0, 3, 0.6]",
        reference="Dixon, Freeman & Toman, 'Stop Trying to Delight Your Customers', HBR (2010); "
        "Gartner (CEB) Customer Effort Score 2.0.",
    )
)

register(
    Metric(
        name="health_score",
        title="Customer health score",
        stage="engagement",
        formula=r"\text{health}_u = 100\,\frac{\sum_{k \in A_u} w_k\, c_{k,u}}{\sum_{k \in A_u} w_k}, "
        r"\quad c_{k,u} \in [0, 1]",
        definition=(
            "A transparent score from 0 to 100 per customer at the end of a month: a weighted "
            "mean of normalised components (recency of activity, frequency, breadth of "
            "feature use, email engagement, latest NPS, plan and tenure), each shown beside "
            "the score. A_u are the components available for the customer (no NPS answer: "
            "that component is left out and the other weights rescale)."
        ),
        pitfalls=(
            "The weights are a judgement, not a fit: a score is only worth what its "
            "validation shows (the AUC of last month's score against this month's churn). "
            "Components that merely describe the plan can rank churners without telling "
            "anyone what to do; act on the weakest component instead."
        ),
        unit="score",
        higher_is_better=True,
        example=">>> import pandas as pd\n"
        ">>> from kpilib.engagement import health_score\n"
        ">>> events = pd.DataFrame({\"customer_id\": [\"a\", \"b\"],\n"
        "...     \"ts\": [\"2026-10-30\", \"2026-10-01\"], \"event\": [\"page_view\", \"page_view\"]})\n"
        ">>> h = health_score(events, \"2026-10\", weights={\"recency\": 1})\n"
        ">>> h[[\"customer_id\", \"days_since_active\", \"recency\", \"score\"]]\n"
        "  customer_id  days_since_active   recency  score\n"
        "0           b               31.0  0.000000    0.0\n"
        "1           a                2.0  0.933333   93.3",
        reference="Gainsight and ChurnZero customer-health guides (weighted scorecards).",
    )
)

register(
    Metric(
        name="health_score_auc",
        title="Health-score AUC (last month's score vs this month's churn)",
        stage="engagement",
        formula=r"\text{AUC} = \frac{1}{n_c n_s}\sum_{i \in \text{churned}}\sum_{j \in \text{stayed}}"
        r"\left([h_i < h_j] + \tfrac12 [h_i = h_j]\right) = \frac{R_c - n_c(n_c+1)/2}{n_c n_s}",
        definition=(
            "How well last month's health score ranked the subscribers who churned this "
            "month: the probability that a churner had a lower score than a subscriber who "
            "stayed (ties count half). 0.5 is a coin toss, 1 a perfect ranking. Computed "
            "with the Mann–Whitney rank formula (R_c: sum of the churners' ranks of the "
            "risk −h), with a Hanley–McNeil interval."
        ),
        pitfalls=(
            "With a handful of churners a month the interval is wide; judge the score over "
            "several months (health_score_backtest). An AUC says nothing about calibration: "
            "use the lift table to see how many churners the riskiest group catches."
        ),
        unit="ratio",
        higher_is_better=True,
        example=">>> from kpilib.engagement import roc_auc\n"
        ">>> round(roc_auc([True, False, True, False], [0.9, 0.1, 0.4, 0.4]), 3)\n"
        "0.875",
        reference="Hanley & McNeil, 'The meaning and use of the area under a ROC curve', "
        "Radiology 143 (1982).",
    )
)


# ---------------------------------------------------------------------------------------
# Argument checks and small helpers
# ---------------------------------------------------------------------------------------


def _check_freq(freq: str, allowed: Sequence[str]) -> str:
    if freq not in allowed:
        raise ValueError(f"freq must be one of {', '.join(repr(f) for f in allowed)}, got {freq!r}")
    return freq


def _activity(events: ibis.Table | pd.DataFrame, activity_events: Sequence[str] | None) -> ibis.Table:
    """The events that make a customer active (all events when ``activity_events`` is None)."""
    events = as_table(events, "events")
    if activity_events is None:
        return events
    names = column_list(activity_events)
    if not names:
        raise ValueError("activity_events is empty; give event names such as ['page_view'] or None for all")
    return events.filter(events.event.isin(names))


def _naive(stamp: pd.Timestamp | None) -> pd.Timestamp | None:
    return None if stamp is None else stamp.tz_convert("UTC").tz_localize(None)


def _calendar(freq: str, first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    """Period starts (naive UTC) from the period containing ``first`` to the one containing ``last``."""
    lo = pd.Timestamp(first).to_period("W-SUN" if freq == "W" else freq).start_time
    return pd.date_range(lo, pd.Timestamp(last), freq=_CALENDAR[freq], name="period")


def _period_expr(ts: ibis.Value, freq: str) -> ibis.Value:
    """The start date of the UTC day/week/month of ``ts``."""
    return ts.date() if freq == "D" else ts.truncate(_FREQ_UNITS[freq]).date()


def _first_activity(events: ibis.Table | pd.DataFrame,
                    activity_events: Sequence[str] | None) -> pd.Timestamp | None:
    """The first activity in the data (naive UTC), or None when there is none."""
    first = _activity(events, activity_events).ts.min().execute()
    return None if first is None or pd.isna(first) else _naive(to_utc(first))


def _period_bounds(frame_periods: pd.Series, start: pd.Timestamp | None, end: pd.Timestamp | None,
                   data_start: pd.Timestamp | None = None) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last instants the output calendar must cover (naive).

    A series starts where the data start: with ``start`` before the first activity
    (``data_start``), the calendar begins at the first activity's period — the periods
    before it were not observed, so they are no rows rather than rows of zeros.
    """
    if start is not None:
        first = None if data_start is None else max(_naive(start), data_start)
    else:
        first = frame_periods.min() if len(frame_periods) else None
    last = (_naive(end) - pd.Timedelta(microseconds=1)) if end is not None else (
        frame_periods.max() if len(frame_periods) else None)
    if first is None or last is None or pd.isna(first) or pd.isna(last) or first > last:
        return None
    return pd.Timestamp(first), pd.Timestamp(last)


def _wide_rates(frame: pd.DataFrame, rates: Mapping[str, tuple[str, str]]) -> pd.DataFrame:
    """Add ``<rate>``, ``<rate>_ci_low``, ``<rate>_ci_high`` columns from count columns."""
    out = frame.copy()
    for name, (num, den) in rates.items():
        r = rate_frame(out[num].to_numpy(), out[den].to_numpy())
        out[name] = r["rate"].to_numpy()
        out[f"{name}_ci_low"] = r["ci_low"].to_numpy()
        out[f"{name}_ci_high"] = r["ci_high"].to_numpy()
    return out


# ---------------------------------------------------------------------------------------
# Email
# ---------------------------------------------------------------------------------------


@computes("bounce_rate", "hard_bounce_rate", "open_rate", "click_rate", "click_to_open_rate",
          "unsubscribe_rate", "complaint_rate")
def email_metrics(
    email: ibis.Table | pd.DataFrame,
    by: str | Sequence[str] | None = "campaign",
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Email performance per group: counts, rates and their Wilson intervals.

    Parameters
    ----------
    email : ibis.Table or pandas.DataFrame
        The email table (one row per mail sent).
    by : str, list of str or None, default "campaign"
        Grouping columns of the email table; ``"month"`` (the UTC month of ``sent_at``,
        ``"YYYY-MM"``) may be used even without such a column; ``None`` gives one overall
        row.
    start, end : str or Timestamp, optional
        Keep mails with ``start <= sent_at < end`` (UTC).

    Returns
    -------
    pandas.DataFrame
        One row per group, ordered by first send: the ``by`` columns, ``first_sent_at``,
        counts ``sent``, ``bounces``, ``hard_bounces``, ``soft_bounces``, ``delivered``,
        ``unique_opens``, ``unique_clicks``, ``unsubscribes``, ``complaints``; for each rate
        of :data:`EMAIL_RATES` the value and ``<rate>_ci_low``, ``<rate>_ci_high`` (95 %
        Wilson); ``small_sample`` when fewer than 30 mails were delivered. A rate whose
        denominator is 0 (every mail bounced) is NaN, not 0.

    Notes
    -----
    .. math::

        \text{delivered} = \text{sent} - \text{bounced},\quad
        \text{open rate} = \frac{\text{unique opens}}{\text{delivered}},\quad
        \text{click rate} = \frac{\text{unique clickers}}{\text{delivered}},\quad
        \text{CTOR} = \frac{\text{unique clickers}}{\text{unique openers}}

    bounce rate and hard-bounce rate are per mail *sent*; unsubscribe and complaint rates
    per mail *delivered*. A mail counts as opened when it has an ``opened_at`` or a
    ``clicked_at``; only delivered mails count as opened, clicked, unsubscribed or
    complained about. Some tools call the CTOR "CTR"; others use CTR for the click rate.

    Examples
    --------
    >>> import pandas as pd
    >>> email = pd.DataFrame({"campaign": ["a", "a", "b"], "customer_id": ["x", "y", "x"],
    ...     "sent_at": ["2026-10-01", "2026-10-01", "2026-10-02"], "bounce": ["none", "none", "hard"],
    ...     "opened_at": ["2026-10-01 10:00", None, None], "clicked_at": [None, None, None],
    ...     "unsubscribed_at": [None] * 3, "complained_at": [None] * 3})
    >>> email_metrics(email)[["campaign", "sent", "delivered", "open_rate", "click_rate"]]
      campaign  sent  delivered  open_rate  click_rate
    0        a     2          2        0.5         0.0
    1        b     1          0        NaN         NaN
    """
    email = as_table(email, "email")
    keys = column_list(by)
    email = time_filter(email, "sent_at", to_utc(start), to_utc(end))
    if "month" in keys and "month" not in email.columns:
        email = email.mutate(month=email.sent_at.strftime("%Y-%m"))
    require_columns(email, keys, "email", "email_metrics(by=...)")

    delivered = email.bounce == "none"
    opened = delivered & (email.opened_at.notnull() | email.clicked_at.notnull())

    def count(condition):
        return condition.cast("int64").sum()

    measures = dict(
        first_sent_at=email.sent_at.min(),
        sent=email.count(),
        hard_bounces=count(email.bounce == "hard"),
        soft_bounces=count(email.bounce == "soft"),
        unique_opens=count(opened),
        unique_clicks=count(delivered & email.clicked_at.notnull()),
        unsubscribes=count(delivered & email.unsubscribed_at.notnull()),
        complaints=count(delivered & email.complained_at.notnull()),
    )
    result = (email.group_by(keys).agg(**measures) if keys else email.aggregate(**measures)).execute()
    counts = ["sent", "hard_bounces", "soft_bounces", "unique_opens", "unique_clicks",
              "unsubscribes", "complaints"]
    result[counts] = result[counts].fillna(0).astype("int64")
    if not keys:
        result = result[result.sent > 0]
    result["bounces"] = result.hard_bounces + result.soft_bounces
    result["delivered"] = result.sent - result.bounces
    result = result.sort_values(["first_sent_at", *keys]).reset_index(drop=True)
    result = result[[*keys, "first_sent_at", "sent", "bounces", "hard_bounces", "soft_bounces",
                     "delivered", "unique_opens", "unique_clicks", "unsubscribes", "complaints"]]
    result = _wide_rates(result, EMAIL_RATES)
    result["small_sample"] = result.delivered < SMALL_DENOMINATOR
    return result


# ---------------------------------------------------------------------------------------
# Active users, stickiness, lifecycle
# ---------------------------------------------------------------------------------------


def _active_days(events: ibis.Table | pd.DataFrame, activity_events: Sequence[str] | None,
                 start: pd.Timestamp | None, end: pd.Timestamp | None) -> ibis.Table:
    """Distinct (customer_id, day) pairs of activity in ``[start, end)``."""
    acts = time_filter(_activity(events, activity_events), "ts", start, end)
    return acts.select(customer_id=acts.customer_id, day=acts.ts.date()).distinct()


def _rolling_counts(days: ibis.Table, windows: Sequence[int]) -> pd.DataFrame:
    """Per date and window length n: +1 where a customer's coverage starts, −1 where it stops.

    A customer active on day d is counted on days d … d+n−1; consecutive active days give
    touching, non-overlapping intervals [d, min(d + n, next active day)), so the running
    sum of the deltas is the distinct count of customers active in the trailing n days.
    """
    w = ibis.window(group_by="customer_id", order_by="day")
    marked = days.mutate(next_day=days.day.lead().over(w))
    parts = []
    for n in windows:
        reach = marked.day + ibis.interval(days=n)
        stop = ibis.least(reach, ibis.coalesce(marked.next_day, reach))
        parts.append(marked.select(date=marked.day, window=ibis.literal(n), delta=ibis.literal(1)))
        parts.append(marked.select(date=stop, window=ibis.literal(n), delta=ibis.literal(-1)))
    deltas = ibis.union(*parts, distinct=False)
    return deltas.group_by(["window", "date"]).agg(delta=deltas.delta.sum()).execute()


@computes("dau", "wau", "mau")
def active_users(
    events: ibis.Table | pd.DataFrame,
    freq: Literal["D", "W", "M"] = "D",
    start: TimeLike = None,
    end: TimeLike = None,
    activity_events: Sequence[str] | None = DEFAULT_ACTIVITY_EVENTS,
) -> pd.DataFrame:
    r"""Distinct active customers per calendar day (DAU), week (WAU) or month (MAU).

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    freq : {"D", "W", "M"}, default "D"
        Calendar day, week (Monday to Sunday) or month, in UTC.
    start, end : str or Timestamp, optional
        Report periods overlapping ``[start, end)``; by default from the first to the last
        activity. Periods without activity are rows with 0, not missing — except before
        the first activity of the data, which were not observed: the series starts there
        even when ``start`` is earlier.
    activity_events : list of str or None
        Events that make a customer active; ``None`` counts every event.

    Returns
    -------
    pandas.DataFrame
        ``period`` (start of the period, UTC, naive) and ``active_users``. With
        ``freq="D"`` also ``active_users_7d`` and ``active_users_30d``: distinct customers
        active in the 7 and 30 days ending that day (the rolling WAU and MAU).

    Notes
    -----
    .. math::

        \text{AU}(t) = \#\{u : \exists e \in \text{activity}(u),\ t_e \in t\}, \qquad
        \text{AU}_n(d) = \#\{u : \exists e,\ t_e \in [d - n + 1,\ d + 1)\}

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "b", "a"],
    ...     "ts": ["2026-09-30 10:00", "2026-10-02 10:00", "2026-10-03 11:00"],
    ...     "event": ["page_view"] * 3})
    >>> active_users(events, "M")
          period  active_users
    0 2026-09-01             1
    1 2026-10-01             2
    """
    _check_freq(freq, ("D", "W", "M"))
    start, end = to_utc(start), to_utc(end)
    acts = time_filter(_activity(events, activity_events), "ts", start, end)
    if freq == "D":
        counts = _active_days(events, activity_events, start, end)
        counts = counts.group_by("day").agg(active_users=counts.count()).rename(period="day")
    else:
        acts = acts.mutate(period=_period_expr(acts.ts, freq))
        counts = acts.group_by("period").agg(active_users=acts.customer_id.nunique())
    counts = counts.execute()
    counts["period"] = pd.to_datetime(counts["period"])
    columns = ["period", "active_users"] + (["active_users_7d", "active_users_30d"] if freq == "D" else [])
    data_start = _first_activity(events, activity_events) if start is not None else None
    bounds = _period_bounds(counts["period"], start, end, data_start)
    if bounds is None:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "period" else "int64")
                             for c in columns})
    calendar = _calendar(freq, *bounds)
    out = counts.set_index("period").reindex(calendar).fillna(0).astype("int64").reset_index()
    if freq == "D":
        lookback = None if start is None else start - pd.Timedelta(days=29)
        deltas = _rolling_counts(_active_days(events, activity_events, lookback, end), (7, 30))
        deltas["date"] = pd.to_datetime(deltas["date"])
        first = min(calendar[0], deltas["date"].min()) if len(deltas) else calendar[0]
        full = pd.date_range(first, max(calendar[-1], deltas["date"].max() if len(deltas) else first))
        for n in (7, 30):
            d = deltas[deltas.window == n].groupby("date")["delta"].sum().reindex(full, fill_value=0)
            out[f"active_users_{n}d"] = d.cumsum().reindex(calendar).to_numpy().astype("int64")
    return out[columns]


@computes("stickiness")
def stickiness(
    events: ibis.Table | pd.DataFrame,
    start: TimeLike = None,
    end: TimeLike = None,
    activity_events: Sequence[str] | None = DEFAULT_ACTIVITY_EVENTS,
) -> pd.DataFrame:
    r"""Stickiness per calendar month: average DAU over MAU.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    start, end : str or Timestamp, optional
        The observed range ``[start, end)``; by default from the first activity day to the
        last. A ``start`` before the month of the first activity of the data moves to
        that month (earlier months were not observed, so they are no rows). A month cut
        by the range counts only its observed days.
    activity_events : list of str or None
        Events that make a customer active.

    Returns
    -------
    pandas.DataFrame
        Per month: ``period``, ``days`` (observed days :math:`D_m`), ``mau``,
        ``customer_days`` (the sum of the daily DAUs), ``mean_dau``, ``stickiness``,
        ``mean_active_days`` (active days per monthly user). A month without activity has
        ``mau`` 0 and a NaN stickiness.

    Notes
    -----
    .. math::

        \text{stickiness}_m = \frac{\frac{1}{D_m}\sum_{d \in m} \text{DAU}(d)}{\text{MAU}(m)}
        = \frac{\text{mean active days per monthly user}}{D_m}

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "ts": ["2026-10-01", "2026-10-02", "2026-10-02"], "event": ["page_view"] * 3})
    >>> stickiness(events, "2026-10-01", "2026-11-01")[["period", "days", "mau", "stickiness"]]
          period  days  mau  stickiness
    0 2026-10-01    31    2    0.048387
    """
    start, end = to_utc(start), to_utc(end)
    days = _active_days(events, activity_events, start, end)
    days = days.mutate(period=days.day.truncate("M"))
    monthly = days.group_by("period").agg(
        mau=days.customer_id.nunique(), customer_days=days.count(),
        first_day=days.day.min(), last_day=days.day.max(),
    ).execute()
    monthly["period"] = pd.to_datetime(monthly["period"])
    columns = ["period", "days", "mau", "customer_days", "mean_dau", "stickiness", "mean_active_days"]
    if start is not None:
        data_start = _first_activity(events, activity_events)
        first = None if data_start is None else max(_naive(start), data_start.to_period("M").start_time)
    else:
        first = pd.to_datetime(monthly.first_day).min() if len(monthly) else None
    last = (_naive(end) - pd.Timedelta(days=1)).normalize() if end is not None else (
        pd.to_datetime(monthly.last_day).max() if len(monthly) else None)
    if first is None or last is None or last < first:
        return pd.DataFrame(columns=columns)
    calendar = _calendar("M", first, last)
    out = (monthly.set_index("period")[["mau", "customer_days"]].reindex(calendar)
           .fillna(0).astype("int64").reset_index())
    lo = out.period.clip(lower=pd.Timestamp(first).normalize())
    hi = (out.period + pd.offsets.MonthBegin(1)).clip(upper=pd.Timestamp(last).normalize() + pd.Timedelta(days=1))
    out["days"] = ((hi - lo) / pd.Timedelta(days=1)).astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["mean_dau"] = out.customer_days / out.days
        out["stickiness"] = np.where(out.mau > 0, out.mean_dau / out.mau.where(out.mau > 0), np.nan)
        out["mean_active_days"] = np.where(out.mau > 0, out.customer_days / out.mau.where(out.mau > 0), np.nan)
    return out[columns]


@computes("stickiness")
def stickiness_histogram(
    events: ibis.Table | pd.DataFrame,
    month: str,
    activity_events: Sequence[str] | None = DEFAULT_ACTIVITY_EVENTS,
) -> pd.DataFrame:
    """How many customers were active on exactly k days of the month (and on at least k).

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    month : str
        ``"YYYY-MM"``.
    activity_events : list of str or None
        Events that make a customer active.

    Returns
    -------
    pandas.DataFrame
        One row for every k = 1 … days in the month: ``active_days`` (k), ``customers``
        (active on exactly k days), ``share`` (of the month's active users), ``at_least``
        (active on k days or more) and ``share_at_least``. The mean of k weighted by
        ``customers``, divided by the days of the month, is the month's stickiness.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "ts": ["2026-10-01", "2026-10-02", "2026-10-02"], "event": ["page_view"] * 3})
    >>> stickiness_histogram(events, "2026-10").head(3)
       active_days  customers  share  at_least  share_at_least
    0            1          1    0.5         2             1.0
    1            2          1    0.5         1             0.5
    2            3          0    0.0         0             0.0
    """
    lo, hi = month_bounds(month)
    days = _active_days(events, activity_events, lo, hi)
    per_customer = days.group_by("customer_id").agg(active_days=days.count())
    counts = per_customer.group_by("active_days").agg(customers=per_customer.count()).execute()
    n_days = (hi - lo).days
    out = (counts.set_index("active_days")["customers"].reindex(range(1, n_days + 1), fill_value=0)
           .astype("int64").rename_axis("active_days").reset_index())
    total = out.customers.sum()
    out["share"] = out.customers / total if total else np.nan
    out["at_least"] = out.customers[::-1].cumsum()[::-1].astype("int64")
    out["share_at_least"] = out.at_least / total if total else np.nan
    return out


def _index_to_period(index: pd.Series, freq: str) -> pd.Series:
    index = index.astype("int64")
    if freq == "M":
        return pd.to_datetime(pd.DataFrame({"year": index // 12 + 1970, "month": index % 12 + 1, "day": 1}))
    return pd.Timestamp("1970-01-05") + pd.to_timedelta(index * 7, unit="D")


@computes("user_quick_ratio")
def lifecycle(
    events: ibis.Table | pd.DataFrame,
    freq: Literal["W", "M"] = "M",
    start: TimeLike = None,
    end: TimeLike = None,
    activity_events: Sequence[str] | None = DEFAULT_ACTIVITY_EVENTS,
) -> pd.DataFrame:
    r"""Growth accounting of active users: new, returning, resurrecting and dormant.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table. The whole history is used to classify customers, whatever
        ``start`` is, so "new" really means first ever.
    freq : {"W", "M"}, default "M"
        Calendar weeks (Monday to Sunday) or months, UTC.
    start, end : str or Timestamp, optional
        Report the periods overlapping ``[start, end)``; by default from the first to the
        last period with activity. The series never starts before the first activity of
        the data (earlier periods were not observed).
    activity_events : list of str or None
        Events that make a customer active.

    Returns
    -------
    pandas.DataFrame
        Per period: ``period``, ``new`` (first period ever active), ``returning`` (active in
        this and the previous period), ``resurrecting`` (active now, not in the previous
        period, but before), ``dormant`` (active in the previous period, not now; a
        **negative** count for stacked bars), ``active`` (= new + returning +
        resurrecting) and ``quick_ratio`` = (new + resurrecting) / |dormant|.

    Notes
    -----
    .. math::

        \text{active}(t) = \text{active}(t-1) + \text{new}(t) + \text{resurrecting}(t)
        - |\text{dormant}(t)|

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "ts": ["2026-09-01", "2026-10-01", "2026-10-05"], "event": ["page_view"] * 3})
    >>> lifecycle(events)[["period", "new", "returning", "resurrecting", "dormant", "active"]]
          period  new  returning  resurrecting  dormant  active
    0 2026-09-01    1          0             0        0       1
    1 2026-10-01    1          1             0        0       2
    """
    _check_freq(freq, ("W", "M"))
    start, end = to_utc(start), to_utc(end)
    acts = time_filter(_activity(events, activity_events), "ts", None, end)
    per = acts.select(customer_id=acts.customer_id, idx=period_index(acts.ts, freq)).distinct()
    w = ibis.window(group_by="customer_id", order_by="idx")
    per = per.mutate(prev=per.idx.lag().over(w), next=per.idx.lead().over(w))
    state = ibis.cases(
        (per.prev.isnull(), "new"),
        (per.prev == per.idx - 1, "returning"),
        else_="resurrecting",
    )
    active = per.select(idx=per.idx, state=state)
    gone = per.filter(per.next.isnull() | (per.next > per.idx + 1))
    dormant = gone.select(idx=gone.idx + 1, state=ibis.literal("dormant"))
    flows = ibis.union(active, dormant, distinct=False)
    counts = flows.group_by(["idx", "state"]).agg(customers=flows.count()).execute()
    states = ["new", "returning", "resurrecting", "dormant"]
    columns = ["period", *states, "active", "quick_ratio"]
    if counts.empty:
        return pd.DataFrame(columns=columns)
    wide = counts.pivot_table(index="idx", columns="state", values="customers", aggfunc="sum")
    wide = wide.reindex(columns=states).fillna(0).astype("int64").rename_axis(columns=None)
    last_active = counts.loc[counts.state != "dormant", "idx"].max() if len(counts) else None
    lo = max(period_index_of(start, freq), wide.index.min()) if start is not None else wide.index.min()
    hi = period_index_of(end - pd.Timedelta(microseconds=1), freq) if end is not None else last_active
    wide = wide.reindex(range(int(lo), int(hi) + 1), fill_value=0)
    out = wide.rename_axis("idx").reset_index()
    out.insert(0, "period", _index_to_period(out.idx, freq))
    out["dormant"] = -out["dormant"]
    out["active"] = out.new + out.returning + out.resurrecting
    with np.errstate(divide="ignore", invalid="ignore"):
        out["quick_ratio"] = np.where(out.dormant < 0, (out.new + out.resurrecting) / -out.dormant.where(out.dormant < 0), np.nan)
    return out[columns]


# ---------------------------------------------------------------------------------------
# Product usage: features, sessions, time to value
# ---------------------------------------------------------------------------------------


@computes("feature_adoption_rate")
def feature_adoption(
    events: ibis.Table | pd.DataFrame,
    freq: Literal["D", "W", "M"] = "M",
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
    freq : {"D", "W", "M"}, default "M"
        Calendar period (UTC).
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

    Notes
    -----
    .. math::

        \text{adoption}_f(t) = \frac{\#\{u \text{ used } f \text{ in } t\}}{\#\{u \text{ active in } t\}}

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2026-10-01", "2026-10-02"],
    ...     "event": ["feature_use", "page_view"], "feature": ["api", None]})
    >>> feature_adoption(events)[["period", "feature", "numerator", "denominator", "rate"]]
          period feature  numerator  denominator  rate
    0 2026-10-01     api          1            2   0.5
    """
    _check_freq(freq, ("D", "W", "M"))
    start, end = to_utc(start), to_utc(end)
    events = as_table(events, "events")
    require_columns(events, [feature_column], "events", "feature_adoption")
    names = None if activity_events is None else sorted({*column_list(activity_events), feature_event})
    active = active_users(events, freq, start, end, activity_events=names)[["period", "active_users"]]
    uses = time_filter(events.filter((events.event == feature_event) & events[feature_column].notnull()),
                        "ts", start, end)
    uses = uses.mutate(period=_period_expr(uses.ts, freq), feature=uses[feature_column].cast("string"))
    counts = uses.group_by(["period", "feature"]).agg(
        users=uses.customer_id.nunique(), uses=uses.count()).execute()
    columns = ["period", "feature", "numerator", "denominator", "rate", "ci_low", "ci_high",
               "small_sample", "uses", "uses_per_adopter", "uses_per_active_user"]
    if counts.empty:
        return pd.DataFrame(columns=columns)
    counts["period"] = pd.to_datetime(counts["period"])
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
    if gap_minutes <= 0:
        raise ValueError(f"gap_minutes must be positive, got {gap_minutes!r}")
    acts = _activity(events, activity_events)
    seconds = acts.ts.epoch_seconds()
    acts = acts.mutate(_s=seconds)
    w = ibis.window(group_by="customer_id", order_by=["_s"])
    acts = acts.mutate(_gap=acts._s - acts._s.lag().over(w))
    starts = (acts._gap.isnull() | (acts._gap > gap_minutes * 60)).cast("int64")
    acts = acts.mutate(session=starts.sum().over(ibis.cumulative_window(group_by="customer_id", order_by=["_s"])))
    out = acts.group_by(["customer_id", "session"]).agg(
        started_at=acts.ts.min(),
        ended_at=acts.ts.max(),
        events=acts.count(),
        page_views=(acts.event == page_view_event).cast("int64").sum(),
        shares=(acts.event == share_event).cast("int64").sum(),
        duration_seconds=acts._s.max() - acts._s.min(),
    )
    return out.order_by(["customer_id", "session"])


@computes("sessions_per_user", "page_views_per_user", "time_on_site", "shares_per_user")
def usage_per_user(
    events: ibis.Table | pd.DataFrame,
    freq: Literal["D", "W", "M"] = "M",
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
    freq : {"D", "W", "M"}, default "M"
        Calendar period (UTC).
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

    Notes
    -----
    .. math::

        \text{time on site}(t) = \frac{\sum_{s \text{ starts in } t} (t_{\text{last}}(s) - t_{\text{first}}(s))}{\text{active users}(t)}

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a"],
    ...     "ts": ["2026-10-01 09:00", "2026-10-01 09:06"], "event": ["page_view"] * 2})
    >>> usage_per_user(events)[["period", "sessions", "page_views_per_user", "time_on_site_minutes"]]
          period  sessions  page_views_per_user  time_on_site_minutes
    0 2026-10-01         1                  2.0                   6.0
    """
    _check_freq(freq, ("D", "W", "M"))
    start, end = to_utc(start), to_utc(end)
    s = sessions(events, gap_minutes, activity_events, page_view_event, share_event)
    s = time_filter(s, "started_at", start, end)
    s = s.mutate(period=_period_expr(s.started_at, freq))
    counts = s.group_by("period").agg(
        active_users=s.customer_id.nunique(),
        sessions=s.count(),
        page_views=s.page_views.sum(),
        shares=s.shares.sum(),
        session_seconds=s.duration_seconds.sum(),
        one_event_sessions=(s.events == 1).cast("int64").sum(),
    ).execute()
    counts["period"] = pd.to_datetime(counts["period"])
    data_start = _first_activity(events, activity_events) if start is not None else None
    bounds = _period_bounds(counts["period"], start, end, data_start)
    columns = ["period", "active_users", "sessions", "page_views", "shares", "session_minutes",
               "one_event_sessions", "sessions_per_user", "page_views_per_user", "shares_per_user",
               "time_on_site_minutes", "minutes_per_session"]
    if bounds is None:
        return pd.DataFrame(columns=columns)
    out = counts.set_index("period").reindex(_calendar(freq, *bounds)).fillna(0).reset_index()
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
def time_to_value(
    events: ibis.Table | pd.DataFrame,
    customers: ibis.Table | pd.DataFrame,
    activation_event: str = "feature_use",
    feature: str | None = None,
    within_days: Sequence[int] = (1, 7, 30),
    cohort_freq: Literal["W", "M"] = "M",
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
    cohort_freq : {"W", "M"}, default "M"
        Signup cohorts by calendar week or month.
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
    :math:`t_\text{signup} + N\,\text{days} \le \text{as of}`:

    .. math::

        \text{activated within } N = \frac{\#\{u : t_\text{act}(u) - t_\text{signup}(u) \le N\}}
        {\#\{u : t_\text{signup}(u) + N \le \text{as of}\}}

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
    _check_freq(cohort_freq, ("W", "M"))
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
    days = (first.activated_at.epoch_seconds() - first.signup_at.epoch_seconds()) / _DAY_SECONDS
    observed = (ibis.literal(as_of).epoch_seconds() - first.signup_at.epoch_seconds()) / _DAY_SECONDS
    per = first.mutate(days=days, observed=observed, cohort=_period_expr(first.signup_at, cohort_freq))
    measures = dict(signups=per.count(), activated=per.days.notnull().cast("int64").sum(),
                    median_days=per.days.median())
    for n in ns:
        eligible = per.observed >= n
        measures[f"den_{n}"] = eligible.cast("int64").sum()
        measures[f"num_{n}"] = (eligible & (per.days <= n)).cast("int64").sum()
    cohorts = per.group_by("cohort").agg(**measures).execute()
    cohorts["cohort"] = pd.to_datetime(cohorts["cohort"])
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


# ---------------------------------------------------------------------------------------
# Voice of the customer: NPS, CSAT, CES
# ---------------------------------------------------------------------------------------


def _scores_array(scores, low: int, high: int, what: str) -> np.ndarray:
    values = pd.to_numeric(pd.Series(np.asarray(scores, dtype=object).ravel()), errors="coerce").dropna()
    bad = values[(values < low) | (values > high) | (values != np.round(values))]
    if len(bad):
        raise ValueError(
            f"{what} scores must be whole numbers from {low} to {high}; "
            f"{len(bad)} are not (examples: {bad.head(5).tolist()})"
        )
    return values.to_numpy(dtype="int64")


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    return float(_sps.norm.ppf(0.5 + confidence / 2))


def _nps_frame(promoters, passives, detractors, confidence: float = 0.95) -> pd.DataFrame:
    """NPS with its trinomial (Wald) interval from counts, vectorised.

    Where every answer is in one category the Wald variance is 0; the adjusted-Wald
    interval (¾ promoter and ¾ detractor added, n + 3) is used there instead.
    """
    p_n = np.atleast_1d(np.asarray(promoters, dtype=float))
    q_n = np.atleast_1d(np.asarray(passives, dtype=float))
    d_n = np.atleast_1d(np.asarray(detractors, dtype=float))
    n = p_n + q_n + d_n
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p, d = p_n / n, d_n / n
        score = 100 * (p - d)
        var = 1e4 * (p + d - (p - d) ** 2) / n
        degenerate = (n > 0) & (var <= 0)
        pa, da, na = (p_n + 0.75) / (n + 3), (d_n + 0.75) / (n + 3), n + 3
        var_adj = 1e4 * (pa + da - (pa - da) ** 2) / na
        centre = np.where(degenerate, 100 * (pa - da), score)
        se = np.sqrt(np.where(degenerate, var_adj, var))
        low = np.clip(centre - z * se, -100, 100)
        high = np.clip(centre + z * se, -100, 100)
    return pd.DataFrame({
        "n": n.astype("int64"), "promoters": p_n.astype("int64"), "passives": q_n.astype("int64"),
        "detractors": d_n.astype("int64"), "nps": score, "se": np.sqrt(var),
        "ci_low": low, "ci_high": high,
        "interval": np.where(degenerate, "adjusted-wald", "wald"),
        "small_sample": n < SMALL_DENOMINATOR,
    })


@computes("nps")
def nps(scores, confidence: float = 0.95) -> pd.Series:
    r"""Net Promoter Score of 0–10 answers, in points, with its 95 % interval.

    Parameters
    ----------
    scores : array_like of int
        Answers on the 0–10 scale; missing values are dropped.
    confidence : float, default 0.95
        Confidence level of the interval.

    Returns
    -------
    pandas.Series
        ``n``, ``promoters`` (9–10), ``passives`` (7–8), ``detractors`` (0–6), ``nps``,
        ``se`` (its standard error), ``ci_low``, ``ci_high``, ``interval`` (``"wald"`` or
        ``"adjusted-wald"``) and ``small_sample`` (n < 30). With no answers the score and
        interval are NaN.

    Raises
    ------
    ValueError
        When a score is not a whole number from 0 to 10.

    Notes
    -----
    With :math:`\hat p`, :math:`\hat d` the shares of promoters and detractors among
    :math:`n` answers,

    .. math::

        \text{NPS} = 100(\hat p - \hat d), \qquad
        \operatorname{Var}(\text{NPS}) = \frac{10^4\left(\hat p + \hat d - (\hat p - \hat d)^2\right)}{n},

    and the interval is :math:`\text{NPS} \pm z_{0.975}\sqrt{\operatorname{Var}}`, clipped
    to [−100, 100] (Rocks 2016). When all answers fall in one category (all passives,
    say) the variance is 0 and a zero-width interval would claim certainty; the
    adjusted-Wald interval is used there: add ¾ promoter and ¾ detractor, use
    :math:`n + 3` (Sauro & Lewis).

    References
    ----------
    Rocks, B. (2016). Interval estimation for the "net promoter score". The American
    Statistician 70(4), 365-372.

    Examples
    --------
    >>> r = nps([9, 9, 7, 3])
    >>> float(r.nps), round(float(r.ci_low), 1), round(float(r.ci_high), 1)
    (25.0, -56.3, 100.0)
    >>> nps([7, 8, 7, 8]).interval
    'adjusted-wald'
    """
    values = _scores_array(scores, *_NPS_SCALE, "NPS")
    counts = (int((values >= 9).sum()), int(((values >= 7) & (values <= 8)).sum()), int((values <= 6).sum()))
    return _record(_nps_frame(*counts, confidence=confidence))


def _record(frame: pd.DataFrame) -> pd.Series:
    """The single row of ``frame`` as a Series of plain Python values."""
    return pd.Series({k: (v.item() if hasattr(v, "item") else v) for k, v in frame.iloc[0].items()},
                     dtype=object)


@computes("csat")
def csat(scores, scale: int = 5, satisfied_min: int = 4) -> pd.Series:
    r"""Customer satisfaction: the share of satisfied answers, with its Wilson interval.

    Parameters
    ----------
    scores : array_like of int
        Answers on the 1…``scale`` scale; missing values are dropped.
    scale : int, default 5
        Top of the scale.
    satisfied_min : int, default 4
        Lowest answer that counts as satisfied (4 on 1–5: the "top-two-box").

    Returns
    -------
    pandas.Series
        ``numerator`` (satisfied), ``denominator`` (answers), ``rate``, ``ci_low``,
        ``ci_high``, ``small_sample``, ``mean`` (mean score).

    Notes
    -----
    .. math::

        \text{CSAT} = \frac{\#\{s_i \ge \text{satisfied\_min}\}}{n}

    Examples
    --------
    >>> r = csat([5, 4, 3, 2, 5, 4, 4, 1])
    >>> int(r.numerator), int(r.denominator), float(r.rate)
    (5, 8, 0.625)
    >>> float(csat([7, 6, 2], scale=7, satisfied_min=6).rate)
    0.6666666666666666
    """
    if not 1 <= satisfied_min <= scale:
        raise ValueError(f"satisfied_min must be between 1 and scale={scale}, got {satisfied_min!r}")
    values = _scores_array(scores, 1, scale, "CSAT")
    frame = rate_frame([int((values >= satisfied_min).sum())], [len(values)])
    frame["mean"] = float(values.mean()) if len(values) else np.nan
    return _record(frame)


def _mean_interval(total: np.ndarray, total_sq: np.ndarray, n: np.ndarray,
                   confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, its standard error and t-interval from sums of x and x²."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
        var = np.where(n > 1, (total_sq - n * mean**2) / (n - 1), np.nan)
        se = np.sqrt(np.maximum(var, 0) / n)
        t = np.where(n > 1, _sps.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)), np.nan)
    return mean, se, mean - t * se, mean + t * se


@computes("ces")
def ces(scores, scale: int = 7, agree_min: int = 5, confidence: float = 0.95) -> pd.Series:
    r"""Customer effort score: the mean with its t-interval, and the share who agree.

    Parameters
    ----------
    scores : array_like of int
        Answers on the 1…``scale`` agreement scale ("it was easy …"), higher = easier.
    scale : int, default 7
        Top of the scale.
    agree_min : int, default 5
        Lowest answer that counts as agreeing (5–7 on 1–7).
    confidence : float, default 0.95
        Confidence level of both intervals.

    Returns
    -------
    pandas.Series
        ``n``, ``mean``, ``mean_se``, ``mean_ci_low``, ``mean_ci_high`` (Student t),
        ``agree``, ``agree_rate``, ``agree_ci_low``, ``agree_ci_high`` (Wilson),
        ``small_sample``.

    Notes
    -----
    .. math::

        \bar s \pm t_{n-1}\frac{s}{\sqrt n}, \qquad \text{agree share} = \frac{\#\{s_i \ge 5\}}{n}

    Examples
    --------
    >>> r = ces([7, 5, 6, 2])
    >>> float(r["mean"]), float(r.agree_rate)
    (5.0, 0.75)
    """
    if not 1 <= agree_min <= scale:
        raise ValueError(f"agree_min must be between 1 and scale={scale}, got {agree_min!r}")
    values = _scores_array(scores, 1, scale, "CES").astype(float)
    counts = pd.Series(values).value_counts()
    return _record(_ces_frame(np.array([values.sum()]), np.array([(values**2).sum()]), np.array([len(values)]),
                              np.array([int(counts[counts.index >= agree_min].sum())]), confidence))


def _ces_frame(total, total_sq, n, agree, confidence: float = 0.95) -> pd.DataFrame:
    mean, se, low, high = _mean_interval(np.asarray(total, float), np.asarray(total_sq, float),
                                         np.asarray(n, float), confidence)
    rates = rate_frame(agree, n, confidence)
    return pd.DataFrame({
        "n": np.asarray(n, dtype="int64"), "mean": mean, "mean_se": se, "mean_ci_low": low,
        "mean_ci_high": high, "agree": np.asarray(agree, dtype="int64"),
        "agree_rate": rates.rate.to_numpy(), "agree_ci_low": rates.ci_low.to_numpy(),
        "agree_ci_high": rates.ci_high.to_numpy(), "small_sample": rates.small_sample.to_numpy(),
    })


def score_counts(
    surveys: ibis.Table | pd.DataFrame,
    survey: Literal["nps", "csat", "ces"],
    by: str | Sequence[str] | None = None,
    freq: Literal["W", "M"] | None = "M",
    start: TimeLike = None,
    end: TimeLike = None,
    customers: ibis.Table | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Answers per score of one survey, per group and period (one engine query).

    Parameters
    ----------
    surveys : ibis.Table or pandas.DataFrame
        The surveys table.
    survey : {"nps", "csat", "ces"}
        Which survey.
    by : str or list of str, optional
        Breakdown columns of ``surveys``, or of ``customers`` (e.g. ``"plan"``) when given.
    freq : {"W", "M"} or None, default "M"
        Calendar period of the answer (UTC); ``None`` pools all periods.
    start, end : str or Timestamp, optional
        Keep answers in ``[start, end)``.
    customers : ibis.Table or pandas.DataFrame, optional
        Customers table for breakdowns by customer attributes.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``period`` (when ``freq``), ``score`` and ``responses``.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"customer_id": ["a", "b", "c"], "ts": ["2026-10-01"] * 3,
    ...     "survey": ["nps", "nps", "csat"], "score": [9, 9, 4]})
    >>> score_counts(s, "nps")
          period  score  responses
    0 2026-10-01      9          2
    """
    if survey not in ("nps", "csat", "ces"):
        raise ValueError(f"survey must be 'nps', 'csat' or 'ces', got {survey!r}")
    if freq is not None:
        _check_freq(freq, ("W", "M"))
    keys = column_list(by)
    t = as_table(surveys, "surveys")
    t = time_filter(t.filter(t.survey == survey), "ts", to_utc(start), to_utc(end))
    missing = [k for k in keys if k not in t.columns]
    if missing and customers is not None:
        c = as_table(customers, "customers")
        require_columns(c, missing, "customers", "a survey breakdown (by=...)")
        c = c.select("customer_id", *missing).rename(_cid="customer_id")
        t = t.left_join(c, t.customer_id == c._cid).drop("_cid")
    require_columns(t, keys, "surveys", "a survey breakdown (by=...); pass customers= for customer columns,")
    group = [*keys]
    if freq is not None:
        t = t.mutate(period=_period_expr(t.ts, freq))
        group.append("period")
    counts = t.group_by([*group, "score"]).agg(responses=t.count()).execute()
    if freq is not None:
        counts["period"] = pd.to_datetime(counts["period"])
    return counts.sort_values([*group, "score"]).reset_index(drop=True)


def _with_change(frame: pd.DataFrame, keys: list[str], freq: str | None, value: str,
                 se: str | None = None, counts: tuple[str, str] | None = None) -> pd.DataFrame:
    """Add the change from the previous calendar period (same group) and its test.

    With ``counts`` (numerator, denominator) the test is the two-proportion test of
    :func:`kpilib.stats.compare_proportions`; otherwise a z-test on the difference with
    variance ``se₁² + se₂²``.
    """
    out = frame.copy()
    columns = ["change", "change_ci_low", "change_ci_high", "change_p_value", "change_significant"]
    if freq is None or out.empty:
        for c in columns:
            out[c] = np.nan
        return out
    step = pd.offsets.MonthBegin(1) if freq == "M" else pd.Timedelta(days=7)
    prev = out[[*keys, "period"] + ([value, se] if se else [value, *counts])].copy()
    prev["period"] = prev["period"] + step
    prev = prev.rename(columns={c: f"prev_{c}" for c in prev.columns if c not in (*keys, "period")})
    merged = out.merge(prev, on=[*keys, "period"], how="left")
    if counts is not None:
        num, den = counts
        has = merged[f"prev_{den}"].notna()
        test = compare_proportions(merged[num], merged[den], merged[f"prev_{num}"].fillna(0),
                                   merged[f"prev_{den}"].fillna(0))
        merged["change"] = test.difference.where(has).to_numpy()
        merged["change_ci_low"] = test.ci_low.where(has).to_numpy()
        merged["change_ci_high"] = test.ci_high.where(has).to_numpy()
        merged["change_p_value"] = test.p_value.where(has).to_numpy()
    else:
        z = _z(0.95)
        diff = merged[value] - merged[f"prev_{value}"]
        sd = np.sqrt(merged[se] ** 2 + merged[f"prev_{se}"] ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = np.where(sd > 0, diff / sd, np.nan)
        merged["change"] = diff
        merged["change_ci_low"] = diff - z * sd
        merged["change_ci_high"] = diff + z * sd
        merged["change_p_value"] = 2 * _sps.norm.sf(np.abs(stat))
    merged["change_significant"] = (merged["change_p_value"] < 0.05).where(merged["change_p_value"].notna())
    return merged.drop(columns=[c for c in merged.columns if c.startswith("prev_")])


def nps_by(
    surveys: ibis.Table | pd.DataFrame,
    by: str | Sequence[str] | None = None,
    freq: Literal["W", "M"] | None = "M",
    start: TimeLike = None,
    end: TimeLike = None,
    customers: ibis.Table | pd.DataFrame | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """NPS per segment and period, with the change from the previous period and its test.

    Parameters
    ----------
    surveys : ibis.Table or pandas.DataFrame
        The surveys table (rows with ``survey == "nps"`` are used).
    by, freq, start, end, customers
        As in :func:`score_counts`.
    confidence : float, default 0.95
        Confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``period``, then the columns of :func:`nps`, and ``change``
        (points since the previous calendar period of the same segment, NaN when that
        period has no answers), ``change_ci_low``, ``change_ci_high``, ``change_p_value``
        and ``change_significant`` (a z-test with variance Var₁ + Var₂ of the two
        independent NPS estimates).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"customer_id": list("abcdef"),
    ...     "ts": ["2026-09-03"] * 3 + ["2026-10-03"] * 3, "survey": ["nps"] * 6,
    ...     "score": [10, 9, 2, 10, 9, 9]})
    >>> nps_by(s)[["period", "n", "nps", "change"]]
          period  n         nps     change
    0 2026-09-01  3   33.333333        NaN
    1 2026-10-01  3  100.000000  66.666667
    """
    keys = column_list(by)
    counts = score_counts(surveys, "nps", keys, freq, start, end, customers)
    group = [*keys] + (["period"] if freq is not None else [])
    counts["kind"] = np.select([counts.score >= 9, counts.score >= 7], ["promoters", "passives"], "detractors")
    wide = counts.pivot_table(index=group, columns="kind", values="responses", aggfunc="sum") if group else (
        counts.groupby("kind")["responses"].sum().to_frame().T)
    wide = wide.reindex(columns=["promoters", "passives", "detractors"]).fillna(0)
    frame = _nps_frame(wide.promoters, wide.passives, wide.detractors, confidence)
    out = pd.concat([wide.reset_index()[group].reset_index(drop=True) if group else pd.DataFrame(index=[0]),
                     frame], axis=1)
    return _with_change(out, keys, freq, "nps", se="se")


def csat_by(
    surveys: ibis.Table | pd.DataFrame,
    by: str | Sequence[str] | None = None,
    freq: Literal["W", "M"] | None = "M",
    start: TimeLike = None,
    end: TimeLike = None,
    customers: ibis.Table | pd.DataFrame | None = None,
    scale: int = 5,
    satisfied_min: int = 4,
) -> pd.DataFrame:
    """CSAT per segment and period, with the change from the previous period and its test.

    Parameters
    ----------
    surveys : ibis.Table or pandas.DataFrame
        The surveys table (rows with ``survey == "csat"``).
    by, freq, start, end, customers
        As in :func:`score_counts`.
    scale, satisfied_min
        As in :func:`csat`.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``period``, ``numerator``, ``denominator``, ``rate``,
        ``ci_low``, ``ci_high``, ``small_sample``, ``mean`` and the ``change`` columns
        (two-proportion test against the previous calendar period).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"customer_id": list("abcd"), "ts": ["2026-10-03"] * 4,
    ...     "survey": ["csat"] * 4, "score": [5, 4, 2, 3]})
    >>> csat_by(s)[["period", "numerator", "denominator", "rate"]]
          period  numerator  denominator  rate
    0 2026-10-01          2            4   0.5
    """
    if not 1 <= satisfied_min <= scale:
        raise ValueError(f"satisfied_min must be between 1 and scale={scale}, got {satisfied_min!r}")
    keys = column_list(by)
    counts = score_counts(surveys, "csat", keys, freq, start, end, customers)
    group = [*keys] + (["period"] if freq is not None else [])
    counts["satisfied"] = np.where(counts.score >= satisfied_min, counts.responses, 0)
    counts["weighted"] = counts.score * counts.responses
    agg = (counts.groupby(group)[["satisfied", "responses", "weighted"]].sum() if group
           else counts[["satisfied", "responses", "weighted"]].sum().to_frame().T).reset_index(drop=not group)
    rates = rate_frame(agg.satisfied.to_numpy(), agg.responses.to_numpy())
    out = pd.concat([agg[group].reset_index(drop=True), rates], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["mean"] = (agg.weighted / agg.responses.where(agg.responses > 0)).to_numpy()
    return _with_change(out, keys, freq, "rate", counts=("numerator", "denominator"))


def ces_by(
    surveys: ibis.Table | pd.DataFrame,
    by: str | Sequence[str] | None = None,
    freq: Literal["W", "M"] | None = "M",
    start: TimeLike = None,
    end: TimeLike = None,
    customers: ibis.Table | pd.DataFrame | None = None,
    agree_min: int = 5,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """CES per segment and period: mean and agree share, with the change of the mean.

    Parameters
    ----------
    surveys : ibis.Table or pandas.DataFrame
        The surveys table (rows with ``survey == "ces"``).
    by, freq, start, end, customers
        As in :func:`score_counts`.
    agree_min, confidence
        As in :func:`ces`.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``period``, the columns of :func:`ces` and the ``change``
        columns (of the mean, a z-test with variance se₁² + se₂²).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"customer_id": list("abc"), "ts": ["2026-10-03"] * 3,
    ...     "survey": ["ces"] * 3, "score": [7, 5, 3]})
    >>> ces_by(s)[["period", "n", "mean", "agree_rate"]]
          period  n  mean  agree_rate
    0 2026-10-01  3   5.0    0.666667
    """
    keys = column_list(by)
    counts = score_counts(surveys, "ces", keys, freq, start, end, customers)
    group = [*keys] + (["period"] if freq is not None else [])
    counts["total"] = counts.score * counts.responses
    counts["total_sq"] = counts.score**2 * counts.responses
    counts["agree"] = np.where(counts.score >= agree_min, counts.responses, 0)
    cols = ["total", "total_sq", "responses", "agree"]
    agg = (counts.groupby(group)[cols].sum() if group else counts[cols].sum().to_frame().T).reset_index(drop=not group)
    frame = _ces_frame(agg.total, agg.total_sq, agg.responses, agg.agree, confidence)
    out = pd.concat([agg[group].reset_index(drop=True), frame], axis=1)
    return _with_change(out, keys, freq, "mean", se="mean_se")


# ---------------------------------------------------------------------------------------
# Customer health score and its validation
# ---------------------------------------------------------------------------------------


def _check_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    weights = dict(DEFAULT_HEALTH_WEIGHTS if weights is None else weights)
    unknown = sorted(set(weights) - set(HEALTH_COMPONENTS))
    if unknown:
        raise ValueError(f"unknown health-score component(s) {unknown}; use {list(HEALTH_COMPONENTS)}")
    bad = {k: v for k, v in weights.items() if not np.isfinite(v) or v < 0}
    if bad:
        raise ValueError(f"health-score weights must be non-negative numbers, got {bad}")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("health-score weights sum to 0; give at least one positive weight")
    return {k: v / total for k, v in weights.items() if v > 0}


def _population(subscriptions: ibis.Table | None, as_of: pd.Timestamp) -> pd.DataFrame | None:
    """Subscribers whose spell is open at ``as_of``: customer_id, tenure_months (calendar
    months of the open spell, :func:`kpilib.periods.months_between`), mrr."""
    if subscriptions is None:
        return None
    spells = subscription_spells(subscriptions)
    live = spells.filter((spells.start_at < as_of) & (spells.end_at.isnull() | (spells.end_at >= as_of)))
    live = live.group_by("customer_id").agg(spell_start=live.start_at.min())
    live = months_between(live, "spell_start", ibis.literal(as_of, type=dt.Timestamp(timezone="UTC")),
                          name="tenure_months").drop("spell_start").order_by("customer_id").execute()
    subs = as_table(subscriptions, "subscriptions")
    rows = subs.filter((subs.start_at < as_of) & (subs.end_at.isnull() | (subs.end_at >= as_of)))
    rows = rows.group_by("customer_id").agg(mrr=rows.mrr.max()).execute()
    return live[["customer_id", "tenure_months"]].merge(rows, on="customer_id", how="left")


@computes("health_score")
def health_score(
    events: ibis.Table | pd.DataFrame,
    month: str,
    *,
    subscriptions: ibis.Table | pd.DataFrame | None = None,
    email: ibis.Table | pd.DataFrame | None = None,
    surveys: ibis.Table | pd.DataFrame | None = None,
    weights: Mapping[str, float] | None = None,
    activity_events: Sequence[str] | None = DEFAULT_ACTIVITY_EVENTS,
    lookback_days: int = 90,
    recency_days: int = 30,
    at_risk_below: float = 40.0,
    healthy_from: float = 70.0,
) -> pd.DataFrame:
    r"""A transparent health score per customer at the end of ``month``.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    month : str
        ``"YYYY-MM"``; the score is as of the first instant of the next month.
    subscriptions : ibis.Table or pandas.DataFrame, optional
        When given, the scored customers are the subscribers whose spell is open at the
        end of the month, and the ``plan`` and ``tenure`` components are available.
        Otherwise every customer active in the last ``lookback_days`` is scored.
    email, surveys : ibis.Table or pandas.DataFrame, optional
        For the ``email`` and ``nps`` components.
    weights : dict, optional
        Component → weight (see :data:`HEALTH_COMPONENTS`); rescaled to sum to 1;
        components left out get weight 0. Default :data:`DEFAULT_HEALTH_WEIGHTS`.
    activity_events : list of str or None
        Events that count as activity.
    lookback_days : int, default 90
        Window for breadth and email engagement.
    recency_days : int, default 30
        Recency falls linearly to 0 over this many days; frequency counts active days in
        this window.
    at_risk_below, healthy_from : float
        Score bands: ``"at risk"`` below the first, ``"healthy"`` from the second,
        ``"watch"`` between.

    Returns
    -------
    pandas.DataFrame
        One row per scored customer, lowest score first: ``customer_id``, ``month``, the
        raw inputs (``days_since_active``, ``active_days``, ``features_used``,
        ``mails_delivered``, ``latest_nps``, ``mrr``, ``tenure_months`` where available),
        one 0–1 column per weighted component, ``score`` (0–100, one decimal), ``band``
        and ``weakest`` (the component that costs the most points: largest
        :math:`w_k (1 - c_k)`).

    Notes
    -----
    .. math::

        \text{health}_u = 100\,\frac{\sum_{k \in A_u} w_k c_{k,u}}{\sum_{k \in A_u} w_k}

    where :math:`A_u` are the weighted components available for customer :math:`u`.
    Recency, frequency and breadth are always available (no activity gives 0; breadth
    is left out when the data has no feature events at all); ``email``
    needs a delivered mail in the lookback, ``nps`` an answer in the last 365 days,
    ``plan`` and ``tenure`` the subscriptions table. The component formulas are in
    :data:`HEALTH_COMPONENTS`.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "b", "b"], "ts": ["2026-10-31", "2026-10-10", "2026-10-11"],
    ...     "event": ["page_view", "feature_use", "page_view"], "feature": [None, "api", None]})
    >>> health_score(events, "2026-10", weights={"recency": 1, "breadth": 1})[
    ...     ["customer_id", "recency", "breadth", "score", "weakest"]]
      customer_id   recency  breadth  score  weakest
    0           a  0.966667      0.0   48.3  breadth
    1           b  0.300000      1.0   65.0  recency
    """
    w = _check_weights(weights)
    _, as_of = month_bounds(month)
    if recency_days <= 0 or lookback_days < recency_days:
        raise ValueError("recency_days must be positive and at most lookback_days")
    window_start = as_of - pd.Timedelta(days=lookback_days)
    recent_start = as_of - pd.Timedelta(days=recency_days)
    events = as_table(events, "events")
    acts = time_filter(_activity(events, activity_events), "ts", window_start, as_of)
    has_feature = "feature" in acts.columns
    activity = acts.group_by("customer_id").agg(
        last_active=acts.ts.max(),
        active_days=ibis.cases((acts.ts >= recent_start, acts.ts.date()), else_=ibis.null("date")).nunique(),
        features_used=(acts.feature.nunique() if has_feature else ibis.literal(0)),
    ).execute()
    n_features = int(acts.feature.nunique().execute()) if has_feature else 0

    scored = _population(subscriptions, as_of)
    if scored is None:
        scored = activity[["customer_id"]].copy()
    scored = scored.merge(activity, on="customer_id", how="left")
    days_since = (as_of - pd.to_datetime(scored.last_active, utc=True)) / pd.Timedelta(days=1)
    scored["days_since_active"] = days_since
    scored["active_days"] = scored.active_days.fillna(0).astype("int64")
    scored["features_used"] = scored.features_used.fillna(0).astype("int64")
    components = pd.DataFrame(index=scored.index)
    components["recency"] = (1 - days_since / recency_days).clip(lower=0).fillna(0.0)
    benchmark = scored.active_days.quantile(0.9) if len(scored) else 0
    components["frequency"] = (scored.active_days / benchmark).clip(upper=1) if benchmark > 0 else 0.0
    # no feature events at all: breadth is unknown, not 0, and its weight goes to the others
    components["breadth"] = scored.features_used / n_features if n_features else np.nan

    if email is not None and "email" in w:
        mail = time_filter(as_table(email, "email"), "sent_at", window_start, as_of)
        mail = mail.filter(mail.bounce == "none")
        per = mail.group_by("customer_id").agg(
            mails_delivered=mail.count(),
            opened=(mail.opened_at.notnull() | mail.clicked_at.notnull()).cast("int64").sum(),
            clicked=mail.clicked_at.notnull().cast("int64").sum(),
        ).execute()
        scored = scored.merge(per, on="customer_id", how="left")
        components["email"] = (scored.opened + scored.clicked) / (2 * scored.mails_delivered)
        scored = scored.drop(columns=["opened", "clicked"])
    if surveys is not None and "nps" in w:
        s = as_table(surveys, "surveys")
        s = time_filter(s.filter(s.survey == "nps"), "ts", as_of - pd.Timedelta(days=365), as_of)
        latest = s.group_by("customer_id").agg(latest_nps=s.score.argmax(s.ts)).execute()
        scored = scored.merge(latest, on="customer_id", how="left")
        components["nps"] = scored.latest_nps / 10
    if "mrr" in scored.columns:
        levels = np.sort(scored.mrr.dropna().unique())
        rank = scored.mrr.map({v: i for i, v in enumerate(levels)})
        components["plan"] = rank / (len(levels) - 1) if len(levels) > 1 else rank * 0 + 1.0
        components["tenure"] = (scored.tenure_months / 12).clip(upper=1)

    used = {k: v for k, v in w.items() if k in components.columns}
    if not used:
        raise ValueError(f"none of the weighted components {list(w)} can be computed from the tables given")
    comp = components[list(used)]
    weight = pd.Series(used)
    available = comp.notna().mul(weight, axis=1).sum(axis=1)
    points = comp.fillna(0).mul(weight, axis=1).sum(axis=1)
    out = scored.drop(columns=["last_active"])
    out.insert(1, "month", str(pd.Period(month, freq="M")))
    for k in used:
        out[k] = comp[k].astype(float)
    out["score"] = (100 * points / available.where(available > 0)).round(1)
    out["band"] = np.select([out.score < at_risk_below, out.score >= healthy_from], ["at risk", "healthy"], "watch")
    shortfall = (1 - comp).mul(weight, axis=1)
    out["weakest"] = shortfall.fillna(-1).idxmax(axis=1) if len(out) else pd.Series(dtype=object)
    return out.sort_values(["score", "customer_id"]).reset_index(drop=True)


@computes("health_score_auc")
def roc_auc(outcome, score) -> float:
    r"""Area under the ROC curve by the Mann–Whitney rank formula.

    Parameters
    ----------
    outcome : array_like of bool
        True for the positive class (e.g. churned).
    score : array_like of float
        Higher means more likely positive (e.g. a risk, minus a health score).

    Returns
    -------
    float
        The probability that a random positive scores higher than a random negative,
        ties counting half; NaN when either class is empty.

    Notes
    -----
    With :math:`R_+` the sum of the positives' ranks among all scores (ties get the mean
    rank),

    .. math::

        \text{AUC} = \frac{R_+ - n_+(n_+ + 1)/2}{n_+ n_-}

    Examples
    --------
    >>> roc_auc([True, True, False, False], [0.9, 0.8, 0.3, 0.1])
    1.0
    >>> roc_auc([True, False], [0.5, 0.5])
    0.5
    """
    y = np.asarray(outcome, dtype=bool)
    s = np.asarray(score, dtype=float)
    if y.shape != s.shape:
        raise ValueError("outcome and score must have the same length")
    keep = ~np.isnan(s)
    y, s = y[keep], s[keep]
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _sps.rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _auc_interval(auc: float, n_pos: int, n_neg: int, confidence: float = 0.95) -> tuple[float, float]:
    """Hanley–McNeil (1982) interval for an AUC."""
    if not np.isfinite(auc) or n_pos == 0 or n_neg == 0:
        return float("nan"), float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    half = _z(confidence) * np.sqrt(max(var, 0.0))
    return float(max(auc - half, 0.0)), float(min(auc + half, 1.0))


@dataclass
class HealthScoreValidation:
    """Result of :func:`validate_health_score`.

    Attributes
    ----------
    month : str
        The outcome month (churn counted in it); the score is of the month before.
    auc, auc_ci_low, auc_ci_high : float
        Probability that a churner scored lower than a customer who stayed, with its
        Hanley–McNeil 95 % interval.
    churned, stayed : int
        Scored subscribers who churned in ``month`` and who did not.
    lift : pandas.DataFrame
        Score groups from lowest to highest: ``group``, ``score_min``, ``score_max``,
        ``customers``, ``churned``, ``churn_rate`` with ``ci_low``/``ci_high``, ``lift``
        (group churn rate / overall churn rate) and ``cumulative_churners_share``.
    roc : pandas.DataFrame
        ``threshold``, ``false_positive_rate``, ``true_positive_rate`` (flagging customers
        with a score at or below the threshold).
    outcomes : pandas.DataFrame
        Per scored subscriber: ``customer_id``, ``score``, ``churned``.
    """

    month: str
    auc: float
    auc_ci_low: float
    auc_ci_high: float
    churned: int
    stayed: int
    lift: pd.DataFrame
    roc: pd.DataFrame
    outcomes: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """One-row frame of the headline numbers."""
        return pd.DataFrame([{"month": self.month, "auc": self.auc, "auc_ci_low": self.auc_ci_low,
                              "auc_ci_high": self.auc_ci_high, "churned": self.churned,
                              "stayed": self.stayed}])

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_() + self.lift._repr_html_()


@computes("health_score_auc")
def validate_health_score(
    scores: pd.DataFrame,
    subscriptions: ibis.Table | pd.DataFrame,
    groups: int = 5,
    month: str | None = None,
) -> HealthScoreValidation:
    r"""Judge a month's health score by the churn of the following month.

    Parameters
    ----------
    scores : pandas.DataFrame
        Output of :func:`health_score` for one month (columns ``customer_id``, ``month``,
        ``score``).
    subscriptions : ibis.Table or pandas.DataFrame
        The subscriptions table.
    groups : int, default 5
        Number of score groups of the lift table (quintiles by default).
    month : str, optional
        The scored month; needed only when ``scores`` is empty (no customer was scored),
        which gives an undefined (NaN) AUC rather than an error.

    Returns
    -------
    HealthScoreValidation

    Notes
    -----
    The outcome population is the scored customers whose subscription spell is open at
    the end of the score's month; a customer *churned* when that spell ends in the next
    month (a same-instant plan change continues the spell). The AUC is computed with
    :func:`roc_auc` on the risk :math:`-h`:

    .. math::

        \text{AUC} = P(h_\text{churner} < h_\text{stayer}) + \tfrac12 P(h_\text{churner} = h_\text{stayer})

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"customer_id": ["a", "b", "c"], "month": "2026-09",
    ...     "score": [10.0, 80.0, 60.0]})
    >>> subs = pd.DataFrame({"customer_id": ["a", "b", "c"], "start_at": ["2026-01-01"] * 3,
    ...     "end_at": ["2026-10-15", None, None], "mrr": [29.0] * 3})
    >>> v = validate_health_score(scores, subs, groups=3)
    >>> v.auc, v.churned, v.stayed
    (1.0, 1, 2)
    """
    for column in ("customer_id", "month", "score"):
        if column not in scores.columns:
            raise ValueError(f"scores must come from health_score(); column '{column}' is missing")
    months = scores["month"].astype(str).unique()
    if not len(months) and month is not None:
        months = [str(pd.Period(month, freq="M"))]
    if len(months) != 1:
        raise ValueError(f"scores must hold one month, got {sorted(months)}; pass month= for an empty one")
    scored_month = pd.Period(months[0], freq="M")
    _, as_of = month_bounds(str(scored_month))
    _, outcome_end = month_bounds(str(scored_month + 1))
    spells = subscription_spells(subscriptions)
    live = spells.filter((spells.start_at < as_of) & (spells.end_at.isnull() | (spells.end_at >= as_of)))
    live = live.select(
        customer_id=live.customer_id,
        churned=(live.end_at.notnull() & (live.end_at < outcome_end)).cast("int64"),
    ).execute()
    live = live.groupby("customer_id", as_index=False)["churned"].max()
    outcomes = scores[["customer_id", "score"]].merge(live, on="customer_id", how="inner")
    outcomes = outcomes[outcomes.score.notna()].reset_index(drop=True)
    outcomes["churned"] = outcomes.churned.astype(bool)
    y = outcomes.churned.to_numpy()
    auc = roc_auc(y, -outcomes.score.to_numpy())
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    low, high = _auc_interval(auc, n_pos, n_neg)
    return HealthScoreValidation(
        month=str(scored_month + 1), auc=auc, auc_ci_low=low, auc_ci_high=high, churned=n_pos,
        stayed=n_neg, lift=_lift_table(outcomes, groups), roc=_roc_curve(outcomes), outcomes=outcomes,
    )


def _lift_table(outcomes: pd.DataFrame, groups: int) -> pd.DataFrame:
    if groups < 1:
        raise ValueError(f"groups must be at least 1, got {groups!r}")
    columns = ["group", "score_min", "score_max", "customers", "churned", "churn_rate", "ci_low",
               "ci_high", "lift", "cumulative_churners_share"]
    if outcomes.empty:
        return pd.DataFrame(columns=columns)
    k = min(groups, len(outcomes))
    ordered = outcomes.sort_values(["score", "customer_id"]).reset_index(drop=True)
    ordered["group"] = np.arange(len(ordered)) * k // len(ordered) + 1
    agg = ordered.groupby("group").agg(score_min=("score", "min"), score_max=("score", "max"),
                                       customers=("score", "size"), churned=("churned", "sum")).reset_index()
    rates = rate_frame(agg.churned.to_numpy(), agg.customers.to_numpy())
    agg["churn_rate"], agg["ci_low"], agg["ci_high"] = rates.rate, rates.ci_low, rates.ci_high
    overall = outcomes.churned.mean()
    agg["lift"] = agg.churn_rate / overall if overall > 0 else np.nan
    total = agg.churned.sum()
    agg["cumulative_churners_share"] = agg.churned.cumsum() / total if total else np.nan
    return agg[columns]


def _roc_curve(outcomes: pd.DataFrame) -> pd.DataFrame:
    n_pos = int(outcomes.churned.sum())
    n_neg = len(outcomes) - n_pos
    by_score = outcomes.groupby("score")["churned"].agg(["sum", "size"]).sort_index()
    tp = by_score["sum"].cumsum()
    fp = (by_score["size"] - by_score["sum"]).cumsum()
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame({
            "threshold": [-np.inf, *by_score.index],
            "false_positive_rate": [0.0, *(fp / n_neg if n_neg else fp * np.nan)],
            "true_positive_rate": [0.0, *(tp / n_pos if n_pos else tp * np.nan)],
        })


def health_score_backtest(
    events: ibis.Table | pd.DataFrame,
    subscriptions: ibis.Table | pd.DataFrame,
    months: Sequence[str],
    **score_options,
) -> pd.DataFrame:
    """The health score's AUC month by month: each month's churn against the score of the month before.

    One month holds few churners, so a single AUC is noisy; this shows whether the score
    ranks churners consistently.

    Parameters
    ----------
    events, subscriptions : ibis.Table or pandas.DataFrame
        The events and subscriptions tables.
    months : list of str
        Outcome months, ``"YYYY-MM"``.
    **score_options
        Passed to :func:`health_score` (``email``, ``surveys``, ``weights`` …).

    Returns
    -------
    pandas.DataFrame
        Per outcome ``month``: ``auc``, ``auc_ci_low``, ``auc_ci_high``, ``churned``,
        ``stayed``.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2026-09-29", "2026-08-01"],
    ...     "event": ["page_view"] * 2})
    >>> subs = pd.DataFrame({"customer_id": ["a", "b"], "start_at": ["2026-01-01"] * 2,
    ...     "end_at": [None, "2026-10-15"], "mrr": [29.0] * 2})
    >>> health_score_backtest(events, subs, ["2026-10"])[["month", "auc", "churned", "stayed"]]
         month  auc  churned  stayed
    0  2026-10  1.0        1       1
    """
    rows = []
    for month in months:
        previous = str(pd.Period(month, freq="M") - 1)
        scores = health_score(events, previous, subscriptions=subscriptions, **score_options)
        rows.append(validate_health_score(scores, subscriptions, month=previous).summary())
    columns = ["month", "auc", "auc_ci_low", "auc_ci_high", "churned", "stayed"]
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)


# ---------------------------------------------------------------------------------------
# Headline metrics for the report index
# ---------------------------------------------------------------------------------------


def headline_metrics(
    data: Dataset | Mapping[str, pd.DataFrame] | str,
    month: str,
    *,
    activity_events: Sequence[str] | None = DEFAULT_ACTIVITY_EVENTS,
    health_weights: Mapping[str, float] | None = None,
    csat_scale: int = 5,
    csat_satisfied_min: int = 4,
) -> pd.DataFrame:
    """The engagement notebook's headline numbers for ``month`` and the month before.

    Rows, for each of the two months, where the table they need is present (MAU and
    stickiness are NaN, "no data", when the events hold no activity event at all):

    * ``open_rate``, ``click_rate`` — mails sent in the month (rates with counts);
    * ``mau`` — monthly active users; ``stickiness`` — mean DAU / MAU;
    * ``nps`` — points, with the trinomial interval (``denominator`` = answers);
    * ``csat`` — a rate with counts;
    * ``health_score_auc`` — the score at the end of the month before against the churn
      of the month (needs ``subscriptions``), with its Hanley–McNeil interval.

    Parameters
    ----------
    data : Dataset, dict of DataFrames or str
        Anything :func:`kpilib.load_dataset` accepts.
    month : str
        The report month, ``"YYYY-MM"``.
    activity_events : list of str or None
        Events that count as activity.
    health_weights : dict, optional
        Weights of the health score (default :data:`DEFAULT_HEALTH_WEIGHTS`).
    csat_scale, csat_satisfied_min : int
        As in :func:`csat`.

    Returns
    -------
    pandas.DataFrame
        Columns ``metric``, ``month``, ``value``, ``numerator``, ``denominator``,
        ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "ts": ["2026-09-02", "2026-10-02", "2026-10-03"], "event": ["page_view"] * 3})
    >>> headline_metrics({"events": events}, "2026-10")[["metric", "month", "value"]]
           metric    month     value
    0         mau  2026-09  1.000000
    1         mau  2026-10  2.000000
    2  stickiness  2026-09  0.033333
    3  stickiness  2026-10  0.032258
    """
    ds = load_dataset(data)
    events = ds.events
    if events is None and ds.email is None and ds.surveys is None:
        ds.require("events", "the engagement headline metrics")
    this_start, this_end = month_bounds(month)
    previous = pd.Period(month, freq="M") - 1
    prev_start, _ = month_bounds(str(previous))
    labels = {p.to_timestamp(): str(p) for p in (previous, previous + 1)}
    rows: list[dict] = []

    def add(metric, label, value, numerator=np.nan, denominator=np.nan, low=np.nan, high=np.nan):
        rows.append({"metric": metric, "month": label, "value": float(value), "numerator": numerator,
                     "denominator": denominator, "ci_low": low, "ci_high": high})

    if ds.email is not None:
        mail = email_metrics(ds.email, by="month", start=prev_start, end=this_end).set_index("month")
        for label in labels.values():
            m = mail.loc[label] if label in mail.index else None
            for rate, (num, den) in (("open_rate", EMAIL_RATES["open_rate"]), ("click_rate", EMAIL_RATES["click_rate"])):
                if m is None:
                    continue
                add(rate, label, m[rate], m[num], m[den], m[f"{rate}_ci_low"], m[f"{rate}_ci_high"])
    # no activity event in the data at all: MAU and stickiness are unknown, not 0
    active = events is not None and bool(_activity(events, activity_events).count().execute())
    if active:
        mau = active_users(events, "M", prev_start, this_end, activity_events)
        for _, r in mau.iterrows():
            add("mau", labels[r.period], r.active_users)
        for _, r in stickiness(events, prev_start, this_end, activity_events).iterrows():
            add("stickiness", labels[r.period], r.stickiness)
    else:
        for label in labels.values():
            add("mau", label, np.nan)
            add("stickiness", label, np.nan)
    if ds.surveys is not None:
        for _, r in nps_by(ds.surveys, start=prev_start, end=this_end).iterrows():
            add("nps", labels[r.period], r.nps, np.nan, r.n, r.ci_low, r.ci_high)
        for _, r in csat_by(ds.surveys, start=prev_start, end=this_end, scale=csat_scale,
                            satisfied_min=csat_satisfied_min).iterrows():
            add("csat", labels[r.period], r.rate, r.numerator, r.denominator, r.ci_low, r.ci_high)
    if ds.subscriptions is not None and active:
        options = dict(email=ds.email, surveys=ds.surveys, weights=health_weights, activity_events=activity_events)
        backtest = health_score_backtest(events, ds.subscriptions, list(labels.values()), **options)
        for _, r in backtest.iterrows():
            add("health_score_auc", r.month, r.auc, np.nan, r.churned + r.stayed, r.auc_ci_low, r.auc_ci_high)
    out = pd.DataFrame(rows, columns=["metric", "month", "value", "numerator", "denominator", "ci_low", "ci_high"])
    order = {m: i for i, m in enumerate(["open_rate", "click_rate", "mau", "stickiness", "nps", "csat",
                                         "health_score_auc"])}
    return out.sort_values(["metric", "month"], key=lambda s: s.map(order) if s.name == "metric" else s,
                           kind="stable").reset_index(drop=True)
