"""What every churn measure starts from: the cut-off, the breakdown columns and the
subscriptions and spells as seen at ``as_of`` (see the rules in :mod:`kpilib.churn`)."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from kpilib.data import MISSING_LABEL, DataError, as_table, memtable
from kpilib.periods import default_cutoff, months_between, to_utc
from kpilib.spells import subscription_spells

__all__: list[str] = []

_UTC = dt.Timestamp(timezone="UTC")


def _resolve_as_of(as_of: Any, latest: Any) -> pd.Timestamp:
    """``as_of``, or the default cut-off after ``latest`` (the whole last day included)."""
    if as_of is not None:
        return to_utc(as_of)
    cutoff = default_cutoff(latest)
    if cutoff is None:
        raise DataError("the table is empty, so there is nothing to measure", fix="Pass data with rows")
    return cutoff


def _attributes(
    table: ibis.Table, order_col: str, by: list[str], customers: Any, what: str
) -> ibis.Table | None:
    """One row per customer with the ``by`` columns: from ``customers`` when it has them,
    else from the customer's first row of ``table``."""
    if not by:
        return None
    cust = as_table(customers, "customers") if customers is not None else None
    parts: list[ibis.Table] = []
    from_cust = [c for c in by if cust is not None and c in cust.columns and c != "customer_id"]
    from_table = [c for c in by if c not in from_cust]
    for col in from_table:
        if col not in table.columns or col == "customer_id":
            where = f"{what}" + (" or customers" if cust is not None else "")
            raise DataError(
                f"breakdown column '{col}' is in neither {where}",
                table=what,
                column=col,
                fix=(
                    "Pass customers=ds.customers for customer attributes such as channel, or "
                    f"choose one of: {', '.join(c for c in table.columns if c != 'customer_id')}"
                ),
            )
    if from_table:
        parts.append(
            table.group_by("customer_id").aggregate(
                **{c: table[c].argmin(table[order_col]) for c in from_table}
            )
        )
    if from_cust:
        # customer ids are unique by contract; min() keeps one row per id on any engine
        # (a DISTINCT ON compiles to FIRST, which PostgreSQL does not have)
        parts.append(cust.group_by("customer_id").aggregate(**{c: cust[c].min() for c in from_cust}))
    out = parts[0]
    for extra in parts[1:]:
        out = out.left_join(extra, "customer_id").drop("customer_id_right")
    return out.mutate(**{c: out[c].cast("string").fill_null(MISSING_LABEL) for c in by})


def _subs_and_as_of(subscriptions: Any, as_of: Any) -> tuple[ibis.Table, pd.Timestamp]:
    """The subscriptions as seen at ``as_of`` (lazy) and ``as_of`` itself, resolved."""
    subs = as_table(subscriptions, "subscriptions")
    latest = subs.aggregate(a=subs.start_at.max(), b=subs.end_at.max()).execute()
    stamps = [v for v in latest.iloc[0].tolist() if v is not None and not pd.isna(v)]
    as_of = _resolve_as_of(as_of, max(stamps) if stamps else None)
    # ends after as_of have not happened yet; starts after it are not seen
    subs = subs.filter(subs.start_at < as_of)
    subs = subs.mutate(end_at=ibis.ifelse(subs.end_at >= as_of, ibis.null(_UTC), subs.end_at))
    return subs, as_of


def _spells_with_tenure(
    subscriptions: Any, as_of: Any, by: list[str], customers: Any
) -> tuple[ibis.Table, pd.Timestamp]:
    """Customer spells as seen at ``as_of`` (lazy), with ``tenure_months`` (calendar
    months to the end, or to ``as_of`` while open) and the ``by`` columns; and ``as_of``."""
    subs, as_of = _subs_and_as_of(subscriptions, as_of)
    spells = subscription_spells(subs)
    end = ibis.coalesce(spells.end_at, ibis.literal(as_of, type=_UTC))
    spells = months_between(spells, "start_at", end, name="tenure_months")
    attrs = _attributes(subs, "start_at", by, customers, "subscriptions")
    if attrs is not None:
        spells = spells.left_join(attrs, "customer_id").drop("customer_id_right")
    return spells, as_of


def _grid_table(grid: pd.DataFrame) -> ibis.Table:
    """A :func:`kpilib.periods.period_grid` frame as an engine table, numbered ``period_idx``."""
    return memtable(grid.assign(period_idx=np.arange(len(grid), dtype="int64")))

