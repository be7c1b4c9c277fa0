"""Engagement: email, active users, product usage, the voice of the customer and a health score.

Computed on the ``email``, ``events``, ``surveys``, ``customers`` and ``subscriptions``
tables of the data contract. Every scan of raw rows is one Ibis expression run in the
engine (DuckDB for files and DataFrames, the warehouse for a connection); only small
per-period, per-campaign or per-customer results come back to pandas, where rates get
their numerator, denominator and Wilson interval (:func:`kpilib.stats.rate_frame`).
Series are counted in UTC calendar periods, chosen with ``period`` (``"D"``, ``"W"``
Monday to Sunday, ``"M"``); a window of analysis is ``[start, end)``.

Everything is imported from here (``kpilib.engagement.stickiness``); the code lives in
private modules by concern, each with the metric records it computes beside the
functions and the definitions it uses in its docstring:

* ``_email`` — :func:`email_metrics`: bounces, opens, clicks, unsubscribes, complaints;
* ``_activity`` — what makes a customer active; :func:`active_users` (DAU/WAU/MAU),
  :func:`stickiness`, :func:`stickiness_histogram`, :func:`lifecycle`;
* ``_usage`` — :func:`feature_adoption`, :func:`sessions`, :func:`usage_per_user`,
  :func:`time_to_value`;
* ``_surveys`` — :func:`nps`, :func:`csat`, :func:`ces`, :func:`score_counts` and the
  by-period :func:`nps_by`, :func:`csat_by`, :func:`ces_by` with their change tests;
* ``_health`` — :func:`health_score`, :func:`roc_auc`, :func:`validate_health_score`,
  :func:`health_score_backtest`;
* ``_headline`` — :func:`headline_metrics` for the report index;
* ``_calendar`` — the period truncation and calendars the series share.
"""

# the order of these imports is the order of the records in the glossary
# isort: off
from kpilib.engagement._email import EMAIL_RATES, email_metrics
from kpilib.engagement._activity import (
    DEFAULT_ACTIVITY_EVENTS,
    active_users,
    lifecycle,
    stickiness,
    stickiness_histogram,
)
from kpilib.engagement._usage import (
    DEFAULT_SESSION_GAP_MINUTES,
    TimeToValue,
    feature_adoption,
    sessions,
    time_to_value,
    usage_per_user,
)
from kpilib.engagement._surveys import ces, ces_by, csat, csat_by, nps, nps_by, score_counts
from kpilib.engagement._health import (
    DEFAULT_HEALTH_WEIGHTS,
    HEALTH_COMPONENTS,
    HEALTH_RELIABILITY_THRESHOLDS,
    HealthScoreValidation,
    health_score,
    health_score_backtest,
    roc_auc,
    validate_health_score,
)
from kpilib.engagement._headline import headline_metrics
# isort: on

__all__ = [
    "DEFAULT_ACTIVITY_EVENTS",
    "DEFAULT_HEALTH_WEIGHTS",
    "DEFAULT_SESSION_GAP_MINUTES",
    "HEALTH_COMPONENTS",
    "HEALTH_RELIABILITY_THRESHOLDS",
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
