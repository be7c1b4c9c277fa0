"""Contractual churn per calendar period: customer churn, MRR churn, GRR and NRR,
annualised rates and the snapshot check (see the rules in :mod:`kpilib.churn`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from kpilib.churn import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.churn._inputs import _attributes, _grid_table, _subs_and_as_of
from kpilib.data import EXACT_MONEY, column_list, memtable
from kpilib.metrics import computes
from kpilib.periods import PANDAS_FREQ, check_period, period_grid, to_utc
from kpilib.spells import subscription_spells
from kpilib.stats import SMALL_DENOMINATOR, rate_frame, ratio_interval, wilson_interval

__all__ = [
    "PERIODS_PER_YEAR",
    "SAAS_MONTHLY_CHURN_BENCHMARK",
    "SNAPSHOT_CHANCE",
    "SNAPSHOT_ZERO_PERIODS",
    "annualised_rate",
    "churn_rate",
    "revenue_retention",
    "snapshot_note",
]

#: A churn series looks like a snapshot (:func:`snapshot_note`) when at least this many of
#: its first periods with customers at risk — or all of them before the latest period —
#: show exactly zero churn and a period with churn follows …
SNAPSHOT_ZERO_PERIODS = 3
#: … and, even at the low end of the 95 % interval of the churn rate seen from that period
#: on, that many customer-periods without a single churn would have a chance below this.
SNAPSHOT_CHANCE = 0.001

#: Periods per year, for annualising a per-period rate.
PERIODS_PER_YEAR: dict[str, float] = {"W": 365.25 / 7, "M": 12.0, "Q": 4.0, "Y": 1.0}

#: Commonly quoted monthly customer churn of SaaS companies (ProfitWell/Paddle): context
#: for a chart, not a target or a judgement — it varies with price point and segment.
SAAS_MONTHLY_CHURN_BENCHMARK = (0.03, 0.08)

#: A customer's MRR at an instant: the exact sum (:data:`kpilib.data.EXACT_MONEY`) of their
#: running rows, kept as a wide decimal so that the squares and products of the interval
#: sums (twelve decimal places) are exact too and nothing depends on the summation order.
_MRR = dt.Decimal(38, 6)
#: The calendar periods churn is counted in (weeks run Monday–Sunday).
_PERIODS = tuple(PANDAS_FREQ)


@computes("annualised_churn_rate")
def annualised_rate(rate: float | np.ndarray, period: str = "M") -> float | np.ndarray:
    """The annual equivalent of a per-period churn (or loss) rate, by compounding over the
    :math:`k` periods of a year (:data:`PERIODS_PER_YEAR`: 12 months, 4 quarters, 52.18
    weeks, 1 year).

    Works on scalars and arrays; applied to interval bounds it gives the interval of the
    annual rate (the map is monotone).

    Examples
    --------
    >>> round(annualised_rate(0.03, "M"), 4), round(annualised_rate(0.08, "M"), 4)
    (0.3062, 0.6323)
    """
    k = PERIODS_PER_YEAR[check_period(period, _PERIODS)]
    return 1 - (1 - np.asarray(rate, dtype=float)) ** k if np.ndim(rate) else 1 - (1 - float(rate)) ** k


@computes("customer_churn_rate", "customer_retention_rate", "annualised_churn_rate")
def churn_rate(
    subscriptions: Any,
    period: str = "M",
    by: str | Sequence[str] | None = None,
    *,
    customers: Any = None,
    as_of: Any = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    r"""Customer churn per period, counted on customer spells.

    Parameters
    ----------
    subscriptions : DataFrame or ibis.Table
        The ``subscriptions`` table (``customer_id``, ``start_at``, ``end_at``, ``mrr``).
    period : {"M", "Q", "Y", "W"}, default "M"
        Calendar period (UTC); weeks start on Monday.
    by : str or list of str, optional
        Breakdown columns: of ``customers`` (e.g. ``"channel"``) or of ``subscriptions``
        (e.g. ``"plan"``, the customer's first plan).
    customers : DataFrame or ibis.Table, optional
        The ``customers`` table, for customer attributes in ``by``.
    as_of : date-like, optional
        Data complete up to here (default: end of the day of the latest timestamp).
        Only periods that have fully elapsed are reported.
    confidence : float, default 0.95
        Level of the Wilson interval.

    Returns
    -------
    pandas.DataFrame
        One row per period (and group): ``period`` (e.g. ``"2026-10"``), ``period_start``,
        the ``by`` columns, ``active_at_start`` (the denominator), ``churned`` (the
        numerator), ``churn_rate``, ``ci_low``, ``ci_high``, ``retention_rate``,
        ``annualised_churn`` (and its interval ``annualised_ci_low``/``_high``),
        ``new`` (spells started in the period: first subscriptions and reactivations),
        ``reactivated`` (of which reactivations), ``joined_and_churned`` (started and
        ended inside the period — in neither numerator nor denominator),
        ``active_at_end`` and ``small_sample``.

    Notes
    -----
    Churn is counted on spells: because spells merge a customer's rows, a customer counts
    once however many subscriptions they hold. The annualised rate and its interval
    compound the period's rate and bounds over the :math:`k` periods of a year
    (:data:`PERIODS_PER_YEAR`).

    Examples
    --------
    >>> subs = pd.DataFrame({"customer_id": ["a", "b", "b", "c"],
    ...     "start_at": ["2026-01-05", "2026-01-10", "2026-02-10", "2026-02-03"],
    ...     "end_at": ["2026-02-14", "2026-02-10", None, "2026-02-20"],
    ...     "mrr": [10.0, 20.0, 30.0, 5.0]})
    >>> churn_rate(subs, as_of="2026-03-01")[["period", "active_at_start", "churned",
    ...     "churn_rate", "joined_and_churned"]]
        period  active_at_start  churned  churn_rate  joined_and_churned
    0  2026-01                0        0         NaN                   0
    1  2026-02                2        1         0.5                   1
    """
    key = check_period(period, _PERIODS)
    by_cols = column_list(by)
    subs, as_of = _subs_and_as_of(subscriptions, as_of)
    first = subs.start_at.min().execute()
    columns = ["period", "period_start", *by_cols, "active_at_start", "churned", "churn_rate",
               "ci_low", "ci_high", "retention_rate", "annualised_churn", "annualised_ci_low",
               "annualised_ci_high", "new", "reactivated", "joined_and_churned",
               "active_at_end", "small_sample"]
    if first is None or pd.isna(first):
        return pd.DataFrame(columns=columns)
    grid = period_grid(to_utc(first), as_of, key)
    if grid.empty:
        return pd.DataFrame(columns=columns)
    spells = subscription_spells(subs)
    attrs = _attributes(subs, "start_at", by_cols, customers, "subscriptions")
    if attrs is not None:
        spells = spells.left_join(attrs, "customer_id").drop("customer_id_right")
    periods = _grid_table(grid)
    j = spells.cross_join(periods)
    j = j.filter((j.start_at < j.period_end) & (j.end_at.isnull() | (j.end_at >= j.period_start)))
    ended = j.end_at.notnull()
    active = (j.start_at < j.period_start) & (~ended | (j.end_at >= j.period_start))
    gone = ended & (j.end_at < j.period_end)
    new = j.start_at >= j.period_start

    def count(cond):
        return cond.sum()

    counts = j.group_by(["period_idx", *by_cols]).aggregate(
        active_at_start=count(active),
        churned=count(active & gone),
        new=count(new),
        reactivated=count(new & (j.spell > 1)),
        joined_and_churned=count(new & gone),
        active_at_end=count(~gone),
    ).execute()
    # every period × group appears, with zeros where nothing happened
    if by_cols:
        groups = counts[by_cols].drop_duplicates()
        full = grid.reset_index(names="period_idx").merge(groups, how="cross")
    else:
        full = grid.reset_index(names="period_idx")
    out = full.merge(counts, on=["period_idx", *by_cols], how="left")
    count_cols = ["active_at_start", "churned", "new", "reactivated", "joined_and_churned", "active_at_end"]
    out[count_cols] = out[count_cols].fillna(0).astype("int64")
    rates = rate_frame(out["churned"], out["active_at_start"], confidence)
    out["churn_rate"] = rates["rate"].to_numpy()
    out["ci_low"] = rates["ci_low"].to_numpy()
    out["ci_high"] = rates["ci_high"].to_numpy()
    out["retention_rate"] = 1 - out["churn_rate"]
    out["annualised_churn"] = annualised_rate(out["churn_rate"].to_numpy(), key)
    out["annualised_ci_low"] = annualised_rate(out["ci_low"].to_numpy(), key)
    out["annualised_ci_high"] = annualised_rate(out["ci_high"].to_numpy(), key)
    out["small_sample"] = out["active_at_start"] < SMALL_DENOMINATOR
    out = out.sort_values(["period_idx", *by_cols]).reset_index(drop=True)
    return out[columns]


def _period_word(label: str) -> str:
    """``"month"``, ``"quarter"``, ``"year"`` or ``"week"`` from a period label."""
    if len(label) == 7 and label[4] == "-":
        return "month"
    if "Q" in label:
        return "quarter"
    return "year" if len(label) == 4 else "week"


def snapshot_note(
    rates: pd.DataFrame,
    *,
    min_zero_periods: int = SNAPSHOT_ZERO_PERIODS,
    chance: float = SNAPSHOT_CHANCE,
) -> str | None:
    r"""A warning when a churn series looks like a snapshot, else None.

    An extract of the customers on the books at a recent date holds no one who left
    before it: its churn is exactly zero for month after month and then jumps, and the
    jump is an artefact, not news. The series is judged a snapshot when

    * its first periods with customers at risk show no churn at all — at least
      ``min_zero_periods`` of them (:data:`SNAPSHOT_ZERO_PERIODS`, 3), or every one
      before the latest period — and a period with churn follows, and
    * so long a run of zeros is implausible at the churn rate seen from the first churn
      on: with :math:`n_0` customer-periods at risk in the zero run and :math:`r_{low}`
      the low end of the 95 % Wilson interval of the later periods' rate (churned / at
      risk), the chance of no churn at all,

      .. math:: P = (1 - r_{low})^{n_0},

      is below ``chance`` (:data:`SNAPSHOT_CHANCE`, 0.001). A young business with a
      handful of customers and a few quiet months is not flagged.

    Parameters
    ----------
    rates : pandas.DataFrame
        Output of :func:`churn_rate` — all periods, not only the last few shown (with a
        breakdown, the groups are added up per period).
    min_zero_periods : int, default 3
    chance : float, default 0.001

    Returns
    -------
    str or None
        One paragraph for the top of the churn section, or None.

    Examples
    --------
    Eleven months without a single churn among 400 customers, then 106 leave (26.5 %):

    >>> rates = pd.DataFrame({"period": [f"2025-{m:02d}" for m in range(1, 13)],
    ...     "active_at_start": [400] * 12, "churned": [0] * 11 + [106]})
    >>> print(snapshot_note(rates))
    Looks like a snapshot: no customer churned in the 11 months 2025-01 to 2025-11
    (4,400 customer-months at risk), then 26.5% churned in 2025-12; even at 22.4%, the low
    end of its 95% interval, so long a run of zeros has a chance below 1 in 1,000. Leavers
    before 2025-12 are probably
    missing from the data (an extract of the customers on the books at a recent date looks
    like this): churn before 2025-12 is understated, not zero, and the jump is not a real
    change.

    Three customers and a quiet year are no evidence of anything:
    >>> snapshot_note(rates.assign(active_at_start=[3] * 12, churned=[0] * 11 + [1])) is None
    True
    """
    if int(min_zero_periods) != min_zero_periods or min_zero_periods < 1:
        raise ValueError(f"min_zero_periods must be a positive whole number, got {min_zero_periods!r}")
    if not 0 < chance < 1:
        raise ValueError(f"chance must be between 0 and 1, got {chance!r}")
    missing = {"period", "active_at_start", "churned"} - set(rates.columns)
    if missing:
        raise ValueError(f"rates must be a churn_rate() result; it lacks {sorted(missing)}")
    per = rates.groupby("period", sort=False)[["active_at_start", "churned"]].sum()
    if "period_start" in rates.columns:
        per = per.loc[rates.groupby("period", sort=False)["period_start"].first().sort_values().index]
    latest = per.index[-1] if len(per) else None
    per = per[per["active_at_start"] > 0]
    churned = per["churned"].to_numpy() > 0
    if not churned.any():
        return None
    first = int(np.argmax(churned))
    zeros, after = per.iloc[:first], per.iloc[first:]
    if first == 0 or (first < min_zero_periods and per.index[first] != latest):
        return None
    lost, exposed = int(after["churned"].sum()), int(after["active_at_start"].sum())
    rate, low = lost / exposed, float(wilson_interval(lost, exposed)[0])
    at_risk = int(zeros["active_at_start"].sum())
    if (1 - low) ** at_risk >= chance:
        return None
    word = _period_word(str(per.index[0]))
    jump = str(per.index[first])
    run = f"the {first} {word}s {zeros.index[0]} to {zeros.index[-1]}" if first > 1 else f"{zeros.index[0]}"
    when = f"in {jump}" if len(after) == 1 else f"from {jump} on"
    return (f"Looks like a snapshot: no customer churned in {run} ({at_risk:,} customer-{word}s at risk), "
            f"then {rate:.1%} churned {when}; even at {low:.1%}, the low end of its 95% interval, so "
            f"long a run of zeros has a chance below 1 in {1 / chance:,.0f}. Leavers before {jump} are probably missing from the data (an extract "
            f"of the customers on the books at a recent date looks like this): churn before {jump} is "
            f"understated, not zero, and the jump is not a real change.")


@computes("gross_mrr_churn_rate", "net_mrr_churn_rate", "gross_revenue_retention", "net_revenue_retention")
def revenue_retention(
    subscriptions: Any,
    period: str = "M",
    by: str | Sequence[str] | None = None,
    *,
    customers: Any = None,
    as_of: Any = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    r"""MRR movements per period, gross and net MRR churn, GRR and NRR.

    Each customer's MRR is the sum of the ``mrr`` of their subscriptions running at an
    instant (see :mod:`kpilib.churn`); the period compares the instant it starts with the
    instant it ends.

    Parameters
    ----------
    subscriptions : DataFrame or ibis.Table
        The ``subscriptions`` table.
    period : {"M", "Q", "Y", "W"}, default "M"
        Calendar period (UTC). ``"Y"`` gives the usual annual GRR/NRR of a calendar year.
    by, customers :
        Breakdown columns, customer-level (see :func:`churn_rate`).
    as_of : date-like, optional
        Data complete up to here; only periods that have fully elapsed are reported.
    confidence : float, default 0.95
        Level of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per period (and group): ``period``, ``period_start``, the ``by`` columns,
        ``customers_at_start``, ``starting_mrr``, ``churned_mrr``, ``contraction_mrr``,
        ``expansion_mrr``, ``reactivation_mrr``, ``new_mrr``, ``ending_mrr`` and the
        customer counts ``churned_customers``, ``contracted_customers``,
        ``expanded_customers``, ``reactivated_customers``, ``new_customers``; then
        ``gross_mrr_churn``, ``net_mrr_churn``, ``grr``, ``nrr`` with their intervals
        (``grr_ci_low`` …; gross/net churn intervals are 1 − those of GRR/NRR).

    Notes
    -----
    With :math:`x_c` and :math:`y_c` customer *c*'s MRR at the start and the end of the
    period and :math:`C = \{c : x_c > 0\}` the fixed starting cohort:

    * churned :math:`= \sum_{C,\,y_c=0} x_c`, contraction :math:`= \sum_{C,\,0<y_c<x_c} (x_c - y_c)`,
      expansion :math:`= \sum_{C,\,y_c>x_c} (y_c - x_c)`;
    * reactivation :math:`= \sum y_c` over customers with :math:`x_c = 0` who had been
      subscribed before the period; new :math:`= \sum y_c` over first-time subscribers;
    * GRR, NRR and gross and net MRR churn (the formulas above, with
      :math:`\text{MRR}_{c,\text{start}} = x_c` and :math:`\text{MRR}_{c,\text{end}} = y_c`)
      are ratios of sums over :math:`C`; GRR never exceeds 1.

    Ending MRR = starting − churned − contraction + expansion + reactivation + new.
    Customers who start and leave inside the period carry no MRR at either instant and
    do not appear. Every sum of money — the MRR of a customer's running rows, the
    movements and the sums of squares and products behind the intervals — is computed as
    an exact decimal in the engine (:data:`kpilib.data.EXACT_MONEY`), so the same rows
    give the same bits in any order, and a plan change of 10.1 + 20.2 to 30.3 is neither
    contraction nor expansion. The intervals treat the starting customers as the sampling unit: a
    ratio estimator with a delta-method (linearisation) standard error
    :math:`\sqrt{\sum_C (y_c - R x_c)^2 / (n-1) \cdot n} / \sum_C x_c`
    (:func:`kpilib.stats.ratio_interval`); GRR's is clipped to [0, 1].

    Examples
    --------
    One customer expands from 10 to 30, one churns its 20:

    >>> subs = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "start_at": ["2026-01-05", "2026-02-10", "2026-01-07"],
    ...     "end_at": ["2026-02-10", None, "2026-02-20"], "mrr": [10.0, 30.0, 20.0]})
    >>> revenue_retention(subs, as_of="2026-03-01").iloc[1][["starting_mrr", "churned_mrr",
    ...     "expansion_mrr", "ending_mrr", "grr", "nrr"]].astype(float).round(4).tolist()
    [30.0, 20.0, 20.0, 30.0, 0.3333, 1.0]
    """
    key = check_period(period, _PERIODS)
    by_cols = column_list(by)
    subs, as_of = _subs_and_as_of(subscriptions, as_of)
    first = subs.start_at.min().execute()
    money = ["starting_mrr", "churned_mrr", "contraction_mrr", "expansion_mrr",
             "reactivation_mrr", "new_mrr", "ending_mrr"]
    people = ["churned_customers", "contracted_customers", "expanded_customers",
              "reactivated_customers", "new_customers"]
    rates = ["gross_mrr_churn", "gross_mrr_churn_ci_low", "gross_mrr_churn_ci_high",
             "net_mrr_churn", "net_mrr_churn_ci_low", "net_mrr_churn_ci_high",
             "grr", "grr_ci_low", "grr_ci_high", "nrr", "nrr_ci_low", "nrr_ci_high"]
    columns = ["period", "period_start", *by_cols, "customers_at_start", *money, *people, *rates]
    if first is None or pd.isna(first):
        return pd.DataFrame(columns=columns)
    grid = period_grid(to_utc(first), as_of, key)
    if grid.empty:
        return pd.DataFrame(columns=columns)
    # MRR of every customer at every period boundary (instants b = 0 … n)
    bounds = pd.DataFrame({"b": np.arange(len(grid) + 1, dtype="int64"),
                           "at": list(grid["period_start"]) + [grid["period_end"].iloc[-1]]})
    bt = memtable(bounds)
    j = subs.select("customer_id", "start_at", "end_at", "mrr").cross_join(bt)
    j = j.filter((j.start_at < j.at) & (j.end_at.isnull() | (j.end_at >= j.at)))
    snap = j.group_by(["customer_id", "b"]).aggregate(mrr=j.mrr.cast(EXACT_MONEY).sum().cast(_MRR))
    x = snap.rename(x="mrr").mutate(period_idx=snap.b)
    y = snap.rename(y="mrr").mutate(period_idx=snap.b - 1)
    xy = x.outer_join(y, ["customer_id", "period_idx"])
    no_mrr = ibis.literal(0, type=_MRR)
    xy = xy.select(
        customer_id=ibis.coalesce(xy.customer_id, xy.customer_id_right),
        period_idx=ibis.coalesce(xy.period_idx, xy.period_idx_right),
        x=xy.x.fill_null(no_mrr), y=xy.y.fill_null(no_mrr),
    )
    xy = xy.filter((xy.period_idx >= 0) & (xy.period_idx < len(grid)))
    first_start = subs.group_by("customer_id").aggregate(first_start=subs.start_at.min())
    xy = xy.left_join(first_start, "customer_id").drop("customer_id_right")
    xy = xy.left_join(_grid_table(grid).select("period_idx", "period_start"), "period_idx")
    xy = xy.drop("period_idx_right")
    attrs = _attributes(subs, "start_at", by_cols, customers, "subscriptions")
    if attrs is not None:
        xy = xy.left_join(attrs, "customer_id").drop("customer_id_right")
    inc = xy.x > 0

    def total(cond, value):  # exact in the engine, then a float
        return ibis.ifelse(cond, value, no_mrr).sum().cast(dt.float64)

    def count(cond):
        return cond.sum()

    returning = ~inc & (xy.y > 0) & (xy.first_start < xy.period_start)
    fresh = ~inc & (xy.y > 0) & (xy.first_start >= xy.period_start)
    kept = ibis.least(xy.x, xy.y)
    agg = xy.group_by(["period_idx", *by_cols]).aggregate(
        customers_at_start=count(inc),
        starting_mrr=total(inc, xy.x),
        churned_mrr=total(inc & (xy.y == 0), xy.x),
        contraction_mrr=total(inc & (xy.y > 0) & (xy.y < xy.x), xy.x - xy.y),
        expansion_mrr=total(inc & (xy.y > xy.x), xy.y - xy.x),
        reactivation_mrr=total(returning, xy.y),
        new_mrr=total(fresh, xy.y),
        ending_mrr=xy.y.sum().cast(dt.float64),
        churned_customers=count(inc & (xy.y == 0)),
        contracted_customers=count(inc & (xy.y > 0) & (xy.y < xy.x)),
        expanded_customers=count(inc & (xy.y > xy.x)),
        reactivated_customers=count(returning),
        new_customers=count(fresh),
        _sxx=total(inc, xy.x * xy.x),
        _sgy=total(inc, kept), _sgg=total(inc, kept * kept), _sxg=total(inc, xy.x * kept),
        _sny=total(inc, xy.y), _snn=total(inc, xy.y * xy.y), _sxn=total(inc, xy.x * xy.y),
    ).execute()
    if by_cols:
        groups = agg[by_cols].drop_duplicates()
        full = grid.reset_index(names="period_idx").merge(groups, how="cross")
    else:
        full = grid.reset_index(names="period_idx")
    out = full.merge(agg, on=["period_idx", *by_cols], how="left")
    sums = [c for c in agg.columns if c.startswith("_")]
    out[money + sums] = out[money + sums].fillna(0.0).astype(float)
    out[["customers_at_start", *people]] = out[["customers_at_start", *people]].fillna(0).astype("int64")
    n = out["customers_at_start"].to_numpy(dtype=float)
    sx = out["starting_mrr"].to_numpy()
    grr = ratio_interval(n, sx, out["_sgy"].to_numpy(), out["_sxx"].to_numpy(),
                         out["_sgg"].to_numpy(), out["_sxg"].to_numpy(), confidence)
    nrr = ratio_interval(n, sx, out["_sny"].to_numpy(), out["_sxx"].to_numpy(),
                         out["_snn"].to_numpy(), out["_sxn"].to_numpy(), confidence)
    out["grr"], out["nrr"] = grr[0], nrr[0]
    out["grr_ci_low"], out["grr_ci_high"] = np.clip(grr[1], 0, 1), np.clip(grr[2], 0, 1)
    out["nrr_ci_low"], out["nrr_ci_high"] = np.clip(nrr[1], 0, None), nrr[2]
    out["gross_mrr_churn"] = 1 - out["grr"]
    out["gross_mrr_churn_ci_low"], out["gross_mrr_churn_ci_high"] = 1 - out["grr_ci_high"], 1 - out["grr_ci_low"]
    out["net_mrr_churn"] = 1 - out["nrr"]
    out["net_mrr_churn_ci_low"], out["net_mrr_churn_ci_high"] = 1 - out["nrr_ci_high"], 1 - out["nrr_ci_low"]
    out = out.sort_values(["period_idx", *by_cols]).reset_index(drop=True)
    return out[columns]

