"""Subscription spells: the data primitive churn, retention and the health score share.

A customer's subscription rows are merged into *spells* — uninterrupted stretches of being
a customer. A row that starts at or before the moment the customer's previous rows end
continues the same spell (a plan change, an upgrade); any gap starts a new spell (a
reactivation). Churn is the end of a spell, never a plan change. This module sits below
the domains (:mod:`kpilib.churn`, :mod:`kpilib.engagement`), so both read one definition.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from kpilib.data import as_table

__all__ = ["FAR_FUTURE", "subscription_spells"]

#: The stand-in end of an open row while spells are merged (replaced by null after).
FAR_FUTURE = pd.Timestamp("2999-01-01", tz="UTC")
_UTC = dt.Timestamp(timezone="UTC")


def subscription_spells(subscriptions: ibis.Table | pd.DataFrame) -> ibis.Table:
    """Subscription spells as a lazy Ibis expression: rows of a customer that overlap or
    touch (a plan change) merged into one.

    A row that starts at or before the moment the customer's previous rows end continues
    the same spell; any gap starts a new spell (a reactivation). The spell ends when its
    last row ends (null while active). :func:`kpilib.churn.customer_spells` is the
    executed, ``as_of``-aware version with breakdowns.

    Parameters
    ----------
    subscriptions : ibis.Table or pandas.DataFrame
        The subscriptions table (``customer_id``, ``start_at``, ``end_at``, ``mrr``).

    Returns
    -------
    ibis.Table
        ``customer_id``, ``spell`` (1, 2 … per customer), ``start_at``, ``end_at``,
        ``rows``, ``mrr_at_start`` — not executed.

    Examples
    --------
    >>> subs = pd.DataFrame({"customer_id": ["a", "a", "a"],
    ...     "start_at": ["2026-01-01", "2026-03-01", "2026-06-01"],
    ...     "end_at": ["2026-03-01", "2026-05-01", None], "mrr": [29.0, 99.0, 99.0]})
    >>> subscription_spells(subs).order_by("spell").to_pandas()[["spell", "start_at", "end_at", "rows"]]
       spell                  start_at                    end_at  rows
    0      1 2026-01-01 00:00:00+00:00 2026-05-01 00:00:00+00:00     2
    1      2 2026-06-01 00:00:00+00:00                       NaT     1
    """
    subs = as_table(subscriptions, "subscriptions")
    far = ibis.literal(FAR_FUTURE).cast(_UTC)
    t = subs.mutate(_end=subs.end_at.fill_null(far))
    order = ["start_at", "_end"]
    before = ibis.window(group_by="customer_id", order_by=order, rows=(None, -1))
    t = t.mutate(_prev_end=t._end.max().over(before))
    t = t.mutate(_new=(t._prev_end.isnull() | (t.start_at > t._prev_end)).cast("int32"))
    upto = ibis.window(group_by="customer_id", order_by=order, rows=(None, 0))
    t = t.mutate(spell=t._new.sum().over(upto))
    g = t.group_by(["customer_id", "spell"]).aggregate(
        start_at=t.start_at.min(), _end=t._end.max(), rows=t.count(),
        mrr_at_start=t.mrr.argmin(t.start_at),
    )
    return g.mutate(end_at=ibis.ifelse(g._end >= far, ibis.null(_UTC), g._end)).drop("_end")
