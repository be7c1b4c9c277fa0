"""The engagement notebook's headline numbers for the report index: open and click rates,
MAU, stickiness, NPS, CSAT and the health-score AUC, for a month and the month before."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from kpilib.data import Dataset, column_list, load_dataset
from kpilib.engagement._activity import DEFAULT_ACTIVITY_EVENTS, _active_events
from kpilib.engagement._activity import stickiness as _stickiness
from kpilib.engagement._email import EMAIL_RATES, email_metrics
from kpilib.engagement._health import _check_weights, health_score_backtest
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
    stickiness: pd.DataFrame | None = None,
    backtest: pd.DataFrame | None = None,
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
    stickiness : pandas.DataFrame, optional
        The :func:`stickiness` of the events with these ``activity_events`` over a
        window from the start of the month before (or earlier) to the end of ``month``
        (or later), when the caller has it already (the engagement notebook does): MAU
        and stickiness are read off it instead of scanning the events again.
    backtest : pandas.DataFrame, optional
        The :func:`health_score_backtest` of the events and subscriptions with these
        ``activity_events`` and ``health_weights``, default windows, the email and survey
        tables of ``data`` and both months among its outcome months: the AUCs are read
        off it instead of scoring the months again.

    Raises
    ------
    ValueError
        When ``stickiness`` or ``backtest`` was computed otherwise (checked against their
        ``attrs``).

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
    names = None if activity_events is None else tuple(column_list(activity_events))
    if stickiness is not None:
        _check_settings("stickiness", stickiness, {"activity_events": names}, month)
        made_start, made_end = stickiness.attrs.get("start"), stickiness.attrs.get("end")
        if made_start is None or made_start > prev_start or made_end is None or made_end < this_end:
            raise ValueError(f"stickiness covers [{made_start}, {made_end}), not the months {', '.join(labels.values())}; "
                             "pass the stickiness of a window holding both, or leave it out")
    # no activity event in the data at all: MAU and stickiness are unknown, not 0 (a
    # stickiness with rows has activity: its calendar starts at the first activity)
    active = events is not None and (
        (stickiness is not None and len(stickiness) > 0)
        or bool(_active_events(events, activity_events).count().execute()))
    if active:
        if stickiness is None:
            sticky = _stickiness(events, prev_start, this_end, activity_events)
        else:
            sticky = stickiness[stickiness.period.isin(list(labels))]
        # the MAU of stickiness: the distinct customers of the month's active days
        for _, r in sticky.iterrows():
            add("mau", labels[r.period], r.mau)
        for _, r in sticky.iterrows():
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
    if backtest is not None:
        wanted = {"weights": _check_weights(health_weights), "lookback_days": 90, "recency_days": 30,
                  "activity_events": names, "email": ds.email is not None, "surveys": ds.surveys is not None}
        _check_settings("backtest", backtest, wanted, month)
        missing = [label for label in labels.values() if label not in set(backtest["month"])]
        if missing:
            raise ValueError(f"backtest has no row for {', '.join(missing)}; pass the health_score_backtest of "
                             "months holding both, or leave it out")
    if ds.subscriptions is not None and active:
        if backtest is None:
            options = dict(email=ds.email, surveys=ds.surveys, weights=health_weights, activity_events=activity_events)
            backtest = health_score_backtest(events, ds.subscriptions, list(labels.values()), **options)
        else:
            backtest = backtest[backtest["month"].isin(list(labels.values()))]
        for _, r in backtest.iterrows():
            add("health_score_auc", r.month, r.auc, np.nan, r.churned + r.stayed, r.auc_ci_low, r.auc_ci_high,
                r.note if isinstance(r.note, str) else None)
    out = pd.DataFrame(rows, columns=["metric", "month", "value", "numerator", "denominator", "ci_low", "ci_high",
                                      "note"]).astype({"note": object})
    order = {m: i for i, m in enumerate(["open_rate", "click_rate", "mau", "stickiness", "nps", "csat",
                                         "health_score_auc"])}
    return out.sort_values(["metric", "month"], key=lambda s: s.map(order) if s.name == "metric" else s,
                           kind="stable").reset_index(drop=True)



def _check_settings(name: str, frame: pd.DataFrame, wanted: Mapping[str, object], month: str) -> None:
    """Refuse a frame computed with other settings than the headline's (its ``attrs``)."""
    made = {k: frame.attrs.get(k) for k in wanted}
    differ = [f"{k}={made[k]!r} (needed {wanted[k]!r})" for k in wanted if made[k] != wanted[k]]
    if differ:
        raise ValueError(f"{name} does not give the headline of {month}: {', '.join(differ)}; pass one computed "
                         f"with these settings, or leave {name} out")
