"""The engagement notebook's headline numbers for the report index: open and click rates,
MAU, stickiness, NPS, CSAT and the health-score AUC, for a month and the month before."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from kpilib.data import Dataset, load_dataset
from kpilib.engagement._activity import (
    DEFAULT_ACTIVITY_EVENTS,
    _active_events,
    active_users,
    stickiness,
)
from kpilib.engagement._email import EMAIL_RATES, email_metrics
from kpilib.engagement._health import health_score_backtest
from kpilib.engagement._surveys import csat_by, nps_by
from kpilib.periods import month_bounds


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
      of the month (needs ``subscriptions``), with its Hanley–McNeil interval; its
      ``note`` is ``"unreliable: …"`` when the validation cannot support the score (too
      few churners, an interval containing 0.5, fewer than 2 varying components: see
      :data:`HEALTH_RELIABILITY_THRESHOLDS`).

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
        ``ci_low``, ``ci_high`` and ``note`` (None, or ``"unreliable: …"``).

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

    def add(metric, label, value, numerator=np.nan, denominator=np.nan, low=np.nan, high=np.nan, note=None):
        rows.append({"metric": metric, "month": label, "value": float(value), "numerator": numerator,
                     "denominator": denominator, "ci_low": low, "ci_high": high, "note": note})

    if ds.email is not None:
        mail = email_metrics(ds.email, by="month", start=prev_start, end=this_end).set_index("month")
        for label in labels.values():
            m = mail.loc[label] if label in mail.index else None
            for rate, (num, den) in (("open_rate", EMAIL_RATES["open_rate"]), ("click_rate", EMAIL_RATES["click_rate"])):
                if m is None:
                    continue
                add(rate, label, m[rate], m[num], m[den], m[f"{rate}_ci_low"], m[f"{rate}_ci_high"])
    # no activity event in the data at all: MAU and stickiness are unknown, not 0
    active = events is not None and bool(_active_events(events, activity_events).count().execute())
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
            add("health_score_auc", r.month, r.auc, np.nan, r.churned + r.stayed, r.auc_ci_low, r.auc_ci_high,
                r.note if isinstance(r.note, str) else None)
    out = pd.DataFrame(rows, columns=["metric", "month", "value", "numerator", "denominator", "ci_low", "ci_high",
                                      "note"]).astype({"note": object})
    order = {m: i for i, m in enumerate(["open_rate", "click_rate", "mau", "stickiness", "nps", "csat",
                                         "health_score_auc"])}
    return out.sort_values(["metric", "month"], key=lambda s: s.map(order) if s.name == "metric" else s,
                           kind="stable").reset_index(drop=True)

