"""The marketing notebook's headline KPIs for the monthly report."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from kpilib.marketing._costs import _clv_note, acquisition_costs
from kpilib.periods import month_bounds, previous_month

__all__ = ["headline_metrics"]


def headline_metrics(
    spend: ibis.Table | pd.DataFrame,
    customers: ibis.Table | pd.DataFrame,
    orders: ibis.Table | pd.DataFrame | None,
    month: str,
    *,
    clv: pd.DataFrame | ibis.Table | None = None,
    clv_column: str = "clv",
    gross_margin: float = 0.7,
    revenue_months: float = 12,
) -> pd.DataFrame:
    """The marketing notebook's headline numbers for ``month`` and the month before (blended).

    * ``cac`` — spend ÷ new customers of the month (numerator spend, denominator customers);
    * ``roas`` and ``marketing_roi`` — revenue of the month from customers acquired in the
      ``revenue_months`` before each order, over the month's spend (period basis, so a
      month is complete at its end and months compare fairly);
    * ``payback_months`` — CAC over the monthly gross margin per customer of that revenue;
    * ``clv_to_cac`` — when ``clv`` is given: predicted CLV per new customer of the month ÷ CAC.

    Without orders only ``cac`` is reported. No interval: none of these is a proportion.

    ``clv_to_cac`` rests on the CLV fit, so it carries that fit's verdict: the ``note`` of
    both months is ``clv.attrs["note"]`` (set by :func:`kpilib.clv.customer_value`: None,
    or ``"unreliable: …"`` by the rule of the CLV headline), which the report shows on the
    card instead of any "significant". The other figures do not use the CLV; their note is None.

    Returns
    -------
    pandas.DataFrame
        ``metric``, ``month``, ``value``, ``numerator``, ``denominator``, ``ci_low``,
        ``ci_high`` and ``note`` (None, or the CLV's ``"unreliable: …"`` on ``clv_to_cac``).

    Examples
    --------
    >>> import pandas as pd
    >>> spend = pd.DataFrame({"date": ["2026-09-01", "2026-10-01"], "channel": ["social"] * 2,
    ...     "cost": [100.0, 300.0]})
    >>> customers = pd.DataFrame({"customer_id": ["a", "b", "c"],
    ...     "signup_at": ["2026-09-02", "2026-10-01", "2026-10-03"], "channel": ["social"] * 3})
    >>> h = headline_metrics(spend, customers, None, "2026-10")
    >>> h[["metric", "month", "value", "numerator", "denominator"]]
      metric    month  value  numerator  denominator
    0    cac  2026-09  100.0      100.0          1.0
    1    cac  2026-10  150.0      300.0          2.0
    """
    start, end = month_bounds(month)
    previous_start, _ = month_bounds(previous_month(month))
    costs = acquisition_costs(spend, customers, orders, "M", None, clv=clv, clv_column=clv_column,
                              gross_margin=gross_margin, revenue_months=revenue_months, revenue_basis="period",
                              start=previous_start, end=end, as_of=end if orders is not None else None)
    costs = costs.set_index("period")
    labels = [str(pd.Period(month, freq="M") - 1), str(pd.Period(month, freq="M"))]
    rows = []

    def add(metric: str, value_column: str, numerator: str | None = None, denominator: str | None = None,
            note: str | None = None) -> None:
        for label in labels:
            row = costs.loc[label] if label in costs.index else pd.Series(dtype=float)
            values = [float(row.get(c, np.nan)) if c is not None else np.nan
                      for c in (value_column, numerator, denominator)]
            rows.append({"metric": metric, "month": label, "value": values[0], "numerator": values[1],
                         "denominator": values[2], "ci_low": np.nan, "ci_high": np.nan, "note": note})

    add("cac", "cac", "spend", "new_customers")
    if orders is not None:
        costs["net"] = costs["revenue"] - costs["spend"]
        add("roas", "roas", "revenue", "spend")
        add("marketing_roi", "roi", "net", "spend")
        add("payback_months", "payback_months")
    if clv is not None:
        add("clv_to_cac", "clv_to_cac", "clv_per_customer", "cac", note=_clv_note(clv))
    columns = ["metric", "month", "value", "numerator", "denominator", "ci_low", "ci_high", "note"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({**{c: float for c in columns[2:-1]}, "note": object})
