"""The churn notebook's headline KPIs for the monthly report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from kpilib.churn import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.churn._cohorts import Mode, cohort_retention
from kpilib.churn._rates import churn_rate, revenue_retention
from kpilib.metrics import computes
from kpilib.periods import month_bounds, previous_month, validate_month

__all__ = ["headline_metrics"]


@computes("month_one_retention")
def headline_metrics(
    subscriptions: Any | None,
    activity: Any | None,
    month: str,
    *,
    mode: Mode = "on",
    events: Sequence[str] | None = None,
    retention: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The churn notebook's headline KPIs for ``month`` and the month before.

    Parameters
    ----------
    subscriptions : DataFrame or ibis.Table or None
        For customer churn, gross MRR churn (revenue churn), GRR and NRR.
    activity : DataFrame or ibis.Table or None
        ``events`` or ``orders``, for month-1 retention (the cohort of the month before,
        active in ``month``).
    month : str
        ``"YYYY-MM"``; the data are taken as complete to the end of that month.
    mode, events :
        As in :func:`cohort_retention`.
    retention : pandas.DataFrame, optional
        The :func:`cohort_retention` of ``activity`` by month with these ``mode`` and
        ``events`` and ``as_of`` the end of ``month``, when the caller has it already
        (the churn notebook does): month-1 retention is read off it instead of scanning
        ``activity`` again. Checked against its ``attrs``.

    Raises
    ------
    ValueError
        When ``retention`` was computed otherwise (another period, mode, events, cut-off,
        a breakdown or sign-up cohorts).

    Returns
    -------
    pandas.DataFrame
        Columns ``metric``, ``month``, ``value``, ``numerator``, ``denominator``,
        ``ci_low``, ``ci_high`` — the input of :func:`kpilib.report.record_headline`.
        Metrics: ``customer_churn_rate``, ``gross_mrr_churn_rate``,
        ``net_revenue_retention``, ``gross_revenue_retention``, ``month_one_retention``.
        Revenue ratios carry their delta-method interval but no numerator/denominator
        (they are sums of money, not counts of trials), so no count-based test is made
        on their month-over-month change. A missing table skips its metrics.

    Notes
    -----
    Month-1 retention of ``month`` is the :func:`kpilib.churn.cohort_retention` cell at
    offset 1 of the cohort of the month before, complete once ``month`` has ended.
    """
    month = validate_month(month)
    prev = previous_month(month)
    _, as_of = month_bounds(month)
    rows: list[dict[str, Any]] = []

    def add(metric, label, value, num, den, low, high):
        rows.append({"metric": metric, "month": label, "value": value, "numerator": num,
                     "denominator": den, "ci_low": low, "ci_high": high})

    if subscriptions is not None:
        churn = churn_rate(subscriptions, "M", as_of=as_of).set_index("period")
        rev = revenue_retention(subscriptions, "M", as_of=as_of).set_index("period")
        for label in (month, prev):
            if label in churn.index:
                r = churn.loc[label]
                add("customer_churn_rate", label, r.churn_rate, r.churned, r.active_at_start, r.ci_low, r.ci_high)
        for label in (month, prev):
            if label in rev.index:
                r = rev.loc[label]
                add("gross_mrr_churn_rate", label, r.gross_mrr_churn, np.nan, np.nan,
                    r.gross_mrr_churn_ci_low, r.gross_mrr_churn_ci_high)
                add("net_revenue_retention", label, r.nrr, np.nan, np.nan, r.nrr_ci_low, r.nrr_ci_high)
                add("gross_revenue_retention", label, r.grr, np.nan, np.nan, r.grr_ci_low, r.grr_ci_high)
    if retention is not None:
        wanted = {"period": "M", "mode": mode, "cohort_by": "first_activity",
                  "events": None if events is None else tuple(events), "as_of": as_of, "by": ()}
        made = {k: retention.attrs.get(k) for k in wanted}
        differ = [f"{k}={made[k]!r} (needed {wanted[k]!r})" for k in wanted if made[k] != wanted[k]]
        if differ:
            raise ValueError(f"retention does not give the month-1 retention of {month}: {', '.join(differ)}; "
                             "pass the cohort_retention of activity by month with these mode and events and "
                             "as_of the end of the month, or activity alone")
    if activity is not None or retention is not None:
        ret = retention if retention is not None else cohort_retention(activity, "M", mode, events=events, as_of=as_of)
        ret = ret[ret["offset"] == 1].set_index("cohort")
        for label in (month, prev):
            cohort = previous_month(label)
            if cohort in ret.index and bool(ret.loc[cohort, "complete"]):
                r = ret.loc[cohort]
                add("month_one_retention", label, r.rate, int(r.retained), int(r.cohort_size), r.ci_low, r.ci_high)
    out = pd.DataFrame(rows, columns=["metric", "month", "value", "numerator", "denominator", "ci_low", "ci_high"])
    order = {m: i for i, m in enumerate(["customer_churn_rate", "gross_mrr_churn_rate", "net_revenue_retention",
                                         "gross_revenue_retention", "month_one_retention"])}
    out = out.sort_values(["metric", "month"], key=lambda s: s.map(order) if s.name == "metric" else s,
                          ascending=[True, False])
    return out.reset_index(drop=True)
