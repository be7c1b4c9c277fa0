"""Probabilistic customer lifetime value: RFM summaries, BG/NBD-family models, Gamma–Gamma.

The fitting is done by `lifetimes <https://lifetimes.readthedocs.io>`_; this module makes
it fast, correct in its units, checked against the literature and readable.

* **Summaries.** :func:`rfm_summary` and :func:`calibration_holdout_summary` return
  exactly what ``lifetimes.utils.summary_data_from_transaction_data`` and
  ``calibration_and_holdout_data`` return (same index, columns and values), but each is
  one Ibis aggregation pushed down to the engine (DuckDB by default, a warehouse for a
  connection), so a billion orders never reach pandas: only one row per customer does.
* **Units.** A summary records its time unit (``summary.attrs``, read with
  :func:`time_unit`); the fitters stamp it on the model (``model.time_unit_``). Every
  prediction takes its horizon with an explicit unit (``horizon=12,
  horizon_unit="months"``) and refuses a summary whose unit differs from the model's, or
  a model whose unit is unknown, with :class:`UnitMismatchError`. (lifetimes'
  ``customer_lifetime_value`` silently reads months as 30 model units: on CDNOW, a weekly
  model, that turns 12 months of value from about 30 into about 113.)
* **Fits.** :func:`fit_bgnbd`, :func:`fit_pareto_nbd`, :func:`fit_mbgnbd` and
  :func:`fit_gamma_gamma` fit on the unique ``(frequency, recency, T)`` (or
  ``(frequency, monetary_value)``) rows with their counts as ``weights``: the same
  likelihood, hence the same parameters, several times faster on large data.
* **Checks.** Period-transaction histogram with a χ² statistic, tracking of cumulative
  and incremental repeat purchases, conditional expectations, a holdout scorecard against
  naive baselines, frequency/recency matrices, and bootstrap intervals on the parameters
  and on aggregate CLV (:func:`bootstrap`).
* **Value.** :func:`customer_value` — per customer P(alive), expected purchases over the
  horizon, expected order value (Gamma–Gamma) and discounted CLV — then value tiers and
  CLV:CAC by acquisition channel.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers the
   easy way: an alternative to the Pareto/NBD model." Marketing Science 24(2), 275-284.
.. [2] Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). "Counting your
   customers: who are they and what will they do next?" Management Science 33(1), 1-24.
.. [3] Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). "Empirical validation and
   comparison of models for customer base analysis." IJRM 24(3), 201-209 (MBG/NBD).
.. [4] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "RFM and CLV: using iso-value
   curves for customer base analysis." JMR 42(4), 415-430 (Gamma–Gamma).
.. [5] Fader, P. S. & Hardie, B. G. S. (2013). "The Gamma-Gamma model of monetary
   value." http://www.brucehardie.com/notes/025/
"""

from __future__ import annotations

import contextlib
import importlib.resources
import io
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd
import pyarrow as pa
from autograd import grad as _ag_grad
from autograd import hessian as _ag_hessian
from autograd import value_and_grad as _ag_value_and_grad
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from lifetimes.utils import ConvergenceError
from scipy import optimize as _opt
from scipy import stats as _sps

from kpilib.data import DataError, as_table, memtable
from kpilib.metrics import Metric, computes, register
from kpilib.periods import month_bounds, previous_month, to_utc, validate_month

__all__ = [
    "CDNOW_PUBLISHED",
    "DAYS_PER_MONTH",
    "HORIZON_UNITS",
    "MODELS",
    "Bootstrap",
    "CLVFit",
    "CLVStudy",
    "TimeUnit",
    "UnitMismatchError",
    "bootstrap",
    "calibration_holdout_summary",
    "clv_study",
    "compress_rfm",
    "conditional_expectations",
    "customer_value",
    "expected_purchases",
    "fit_bgnbd",
    "fit_clv",
    "fit_gamma_gamma",
    "fit_mbgnbd",
    "fit_pareto_nbd",
    "frequency_monetary_correlation",
    "frequency_recency_matrix",
    "headline_metrics",
    "holdout_scorecard",
    "load_cdnow",
    "model_from_params",
    "parameter_table",
    "period_transactions",
    "probability_alive",
    "purchase_tracking",
    "rfm_summary",
    "time_unit",
    "value_by_channel",
    "value_tiers",
]

ModelName = Literal["bgnbd", "pareto_nbd", "mbgnbd"]

#: The transaction models, by the name the notebook and :func:`fit_clv` use.
MODELS: dict[str, type] = {
    "bgnbd": BetaGeoFitter,
    "pareto_nbd": ParetoNBDFitter,
    "mbgnbd": ModifiedBetaGeoFitter,
}
_MODEL_TITLES = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD", "mbgnbd": "MBG/NBD",
                 "gamma_gamma": "Gamma–Gamma"}

#: A month, in days: 365.25 / 12. Horizons in months are converted with it.
DAYS_PER_MONTH = 365.25 / 12

#: Units a horizon can be given in, and their length in days.
HORIZON_UNITS: dict[str, float] = {
    "days": 1.0,
    "weeks": 7.0,
    "months": DAYS_PER_MONTH,
    "years": 365.25,
}

# Length in days of one period of each ``freq`` lifetimes understands and kpilib supports.
_FREQ_DAYS = {"h": 1 / 24, "D": 1.0, "W": 7.0}
_DAY_SECONDS = 86_400

#: Published CDNOW results (2,357 customers of the 1/10th sample, weekly units, 39-week
#: calibration 1997-01-01..1997-09-30, holdout to 1998-06-30).
CDNOW_PUBLISHED: dict[str, Any] = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "v": 15.44},
    "customers": 2357,
    "repeat_buyers": 946,
    "calibration_end": "1997-09-30",
    "observation_end": "1998-06-30",
    "freq": "D",
    "freq_multiplier": 7,
    "source": "Fader, Hardie & Lee (2005) Marketing Science 24(2), table 1; "
    "Fader & Hardie (2013) note 025 (Gamma–Gamma)",
}

#: Frequency–monetary correlation (among repeat buyers) above which :func:`customer_value`
#: warns that Gamma–Gamma's independence assumption looks violated.
INDEPENDENCE_WARNING = 0.3


# ---------------------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------------------


class UnitMismatchError(ValueError):
    """A model, a summary and a horizon that do not agree on their time unit."""


@dataclass(frozen=True)
class TimeUnit:
    """The time unit of recency and T: ``freq_multiplier`` periods of ``freq``.

    ``freq`` is how transactions are grouped (``"h"``, ``"D"`` or ``"W"``; several in one
    period count as one, as in lifetimes); ``freq="D", freq_multiplier=7`` gives weeks of
    exactly seven days measured from the day of the first purchase (the CDNOW papers'
    convention), ``freq="W"`` calendar weeks (Monday–Sunday).

    Examples
    --------
    >>> TimeUnit("D", 7).days, TimeUnit("D", 7).name, TimeUnit("W").name
    (7.0, 'weeks', 'weeks')
    """

    freq: str = "D"
    freq_multiplier: int = 1

    def __post_init__(self) -> None:
        if self.freq not in _FREQ_DAYS:
            raise UnitMismatchError(
                f"freq must be one of {', '.join(map(repr, _FREQ_DAYS))} (hours, days, weeks), got {self.freq!r}"
            )
        if int(self.freq_multiplier) != self.freq_multiplier or self.freq_multiplier < 1:
            raise UnitMismatchError(f"freq_multiplier must be a positive whole number, got {self.freq_multiplier!r}")

    @property
    def days(self) -> float:
        """Length of one unit in days."""
        return _FREQ_DAYS[self.freq] * self.freq_multiplier

    @property
    def name(self) -> str:
        """``"hours"``, ``"days"``, ``"weeks"`` or e.g. ``"3-day units"``."""
        names = {1 / 24: "hours", 1.0: "days", 7.0: "weeks"}
        return names.get(self.days, f"{self.days:g}-day units")

    def to_attrs(self) -> dict[str, Any]:
        return {"freq": self.freq, "freq_multiplier": int(self.freq_multiplier), "time_unit": self.name}


def time_unit(obj: Any) -> TimeUnit:
    """The time unit of a summary, a fitted model or a :class:`CLVFit`.

    Raises
    ------
    UnitMismatchError
        When ``obj`` does not record one (a summary built by hand, a model fitted with
        lifetimes directly), saying how to give it one.

    Examples
    --------
    >>> import pandas as pd
    >>> from kpilib.clv import rfm_summary, time_unit
    >>> orders = pd.DataFrame({"customer_id": ["a", "a"], "ts": ["2026-01-01", "2026-01-15"],
    ...                        "amount": [10.0, 20.0]})
    >>> time_unit(rfm_summary(orders, freq="D", freq_multiplier=7)).name
    'weeks'
    """
    if isinstance(obj, CLVFit):
        return obj.time_unit
    if isinstance(obj, pd.DataFrame):
        if "freq" in obj.attrs:
            return TimeUnit(obj.attrs["freq"], obj.attrs.get("freq_multiplier", 1))
        raise UnitMismatchError(
            "this summary does not record its time unit. Build it with kpilib.clv.rfm_summary "
            "or set summary.attrs['freq'] (and 'freq_multiplier') yourself"
        )
    unit = getattr(obj, "time_unit_", None)
    if isinstance(unit, TimeUnit):
        return unit
    raise UnitMismatchError(
        f"the {type(obj).__name__} does not record its time unit, so a horizon cannot be "
        "converted to it. Fit it with kpilib.clv.fit_* on a kpilib summary, or set "
        "model.time_unit_ = kpilib.clv.TimeUnit(freq, freq_multiplier)"
    )


def _check_same_unit(model: Any, summary: pd.DataFrame) -> TimeUnit:
    unit = time_unit(model)
    if "freq" in summary.attrs:
        other = time_unit(summary)
        if not math.isclose(other.days, unit.days):
            raise UnitMismatchError(
                f"the model was fitted in {unit.name} but the summary is in {other.name}; "
                f"rebuild the summary with freq={unit.freq!r}, freq_multiplier={unit.freq_multiplier} "
                "or refit the model on this summary"
            )
    return unit


def _horizon_in_units(horizon: float, horizon_unit: str, unit: TimeUnit) -> float:
    if horizon_unit not in HORIZON_UNITS:
        raise UnitMismatchError(
            f"horizon_unit must be one of {', '.join(HORIZON_UNITS)}, got {horizon_unit!r}"
        )
    if not horizon > 0:
        raise ValueError(f"horizon must be positive, got {horizon!r}")
    return horizon * HORIZON_UNITS[horizon_unit] / unit.days


# ---------------------------------------------------------------------------------------
# Metric records
# ---------------------------------------------------------------------------------------

_EXAMPLE_MODEL = (
    ">>> import pandas as pd\n"
    ">>> from kpilib import clv\n"
    '>>> bg = clv.model_from_params("bgnbd", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},\n'
    '...                             time_unit=clv.TimeUnit("D", 7))  # CDNOW, weeks\n'
    '>>> gg = clv.model_from_params("gamma_gamma", {"p": 6.25, "q": 3.74, "v": 15.44})\n'
    '>>> summary = pd.DataFrame({"frequency": [0.0, 2.0, 7.0], "recency": [0.0, 30.43, 35.0],\n'
    '...     "T": [38.86, 38.86, 38.86], "monetary_value": [0.0, 22.35, 40.0]},\n'
    '...     index=pd.Index(["a", "b", "c"], name="customer_id"))\n'
    '>>> summary.attrs.update(freq="D", freq_multiplier=7)\n'
    ">>> value = clv.customer_value(clv.CLVFit(summary, bg, gg), horizon=12, horizon_unit=\"months\",\n"
    "...                            annual_discount_rate=0.1)\n"
)

register(
    Metric(
        name="p_alive",
        title="Probability alive",
        stage="value",
        formula=r"P(\text{alive} \mid x, t_x, T) = \left[1 + \frac{a}{b + x - 1}"
        r"\left(\frac{\alpha + T}{\alpha + t_x}\right)^{r + x}\right]^{-1} \quad (x > 0,\ \text{BG/NBD})",
        definition=(
            "The model's probability that a customer has not silently lapsed, given how many "
            "repeat purchases they made (x), when the last one was (t_x) and how long ago "
            "their first purchase was (T). Customers who bought often and recently are likely "
            "alive; frequent buyers who stopped long ago are likely gone."
        ),
        pitfalls=(
            "A model quantity, not an observation: it is only as good as the model's fit "
            "(check the holdout scorecard). Under BG/NBD a customer with no repeat purchase "
            "has P(alive) = 1 by construction; Pareto/NBD and MBG/NBD do not have that quirk."
        ),
        unit="rate",
        higher_is_better=True,
        example=_EXAMPLE_MODEL + '>>> value["p_alive"].round(3).tolist()\n[1.0, 0.727, 0.844]',
        reference="Fader, Hardie & Lee (2005), Marketing Science 24(2), eq. (13).",
    )
)

register(
    Metric(
        name="expected_order_value",
        title="Expected order value (Gamma–Gamma)",
        stage="value",
        formula=r"E(M \mid p, q, \gamma, \bar z, x) = \frac{q - 1}{p x + q - 1}\,\frac{p\gamma}{q - 1}"
        r" + \frac{p x}{p x + q - 1}\,\bar z",
        definition=(
            "A customer's expected average order value: a weighted mean of their own "
            "average repeat order value z̄ and the population mean pγ/(q−1), the own average "
            "weighing more the more repeat orders x it rests on."
        ),
        pitfalls=(
            "Gamma–Gamma assumes order values are independent of purchase frequency: check the "
            "frequency–monetary correlation among repeat buyers (reported with the fit). It is "
            "fitted on repeat buyers only; same-day orders are merged (their values summed)."
        ),
        unit="currency",
        higher_is_better=True,
        example=_EXAMPLE_MODEL + '>>> value["expected_order_value"].round(2).tolist()\n[35.22, 24.66, 39.72]',
        reference="Fader, Hardie & Lee (2005), JMR 42(4); Fader & Hardie (2013), note 025, eq. (5).",
    )
)

register(
    Metric(
        name="predicted_clv",
        title="Predicted customer lifetime value",
        stage="value",
        formula=r"\mathrm{CLV}_h = \sum_{k=1}^{K} E(M)\,\bigl[E(X(t_k)) - E(X(t_{k-1}))\bigr]"
        r"\,(1 + d)^{-t_k / \text{year}}",
        definition=(
            "Expected, discounted value of a customer's purchases over the next h (the "
            "horizon), in monthly steps t_k: the expected number of purchases in each month "
            "(transaction model, conditional on the customer's history) times the expected "
            "order value (Gamma–Gamma), discounted at the annual rate d to today."
        ),
        pitfalls=(
            "Residual value only (future purchases, not past ones), and bounded by the horizon. "
            "The horizon must be converted to the model's time unit — lifetimes reads months as "
            "30 model units, so a weekly model silently gets a 30-week 'month' (kpilib refuses "
            "a unit it cannot check). Revenue, not margin, unless the amounts are margins."
        ),
        unit="currency",
        higher_is_better=True,
        example=_EXAMPLE_MODEL + '>>> value["clv"].round(2).tolist()\n[8.48, 36.75, 209.75]',
        reference="Fader, Hardie & Lee (2005), JMR 42(4); lifetimes customer_lifetime_value.",
    )
)

_EXAMPLE_HEADLINE = (
    ">>> import pandas as pd\n"
    ">>> from kpilib.clv import headline_metrics, load_cdnow\n"
    '>>> kpis = headline_metrics(load_cdnow(), "1998-06", freq_multiplier=7, holdout_months=6,\n'
    "...                         bootstrap_replicates=0).set_index(\"month\")\n"
)

register(
    Metric(
        name="clv_active_customers",
        title="Customers probably active",
        stage="value",
        formula=r"\#\{i : P(\text{alive}_i \mid x_i, t_{x,i}, T_i) > 0.5\}",
        definition=(
            "Customers with at least one order whom the transaction model judges more likely "
            "alive than not at the end of the month (numerator), out of all customers with an "
            "order so far (denominator)."
        ),
        pitfalls=(
            "A model-based count, not observed activity; the 0.5 cut-off is a convention. It "
            "moves when the model is refitted, even with no new orders."
        ),
        unit="count",
        higher_is_better=True,
        example=_EXAMPLE_HEADLINE
        + '>>> int(kpis[kpis.metric == "clv_active_customers"].loc["1998-06", "denominator"])\n2357',
        reference="Fader, Hardie & Lee (2005), Marketing Science 24(2).",
    )
)

register(
    Metric(
        name="clv_expected_purchases",
        title="Expected purchases next month",
        stage="value",
        formula=r"\sum_i E\bigl(X(t, t + 1\,\text{month}) \mid x_i, t_{x,i}, T_i\bigr)",
        definition="Repeat purchases the model expects from the existing customers over the next month.",
        pitfalls=(
            "Existing customers only: new customers' first purchases are not included. Check "
            "the tracking plot — a model that under-tracks the holdout will under-forecast."
        ),
        unit="count",
        higher_is_better=True,
        example=_EXAMPLE_HEADLINE
        + '>>> round(float(kpis[kpis.metric == "clv_expected_purchases"].loc["1998-06", "value"]))\n185',
        reference="Fader, Hardie & Lee (2005), Marketing Science 24(2), eq. (10).",
    )
)

register(
    Metric(
        name="clv_total",
        title="Total predicted CLV",
        stage="value",
        formula=r"\sum_i \mathrm{CLV}_{h,i}",
        definition="The sum of the customers' predicted lifetime values over the horizon (discounted).",
        pitfalls=(
            "Existing customers only, residual value over the horizon; its uncertainty comes "
            "from the parameters (bootstrap interval) as much as from the customers."
        ),
        unit="currency",
        higher_is_better=True,
        example=_EXAMPLE_HEADLINE
        + '>>> round(float(kpis[kpis.metric == "clv_total"].loc["1998-06", "value"]), -3)\n69000.0',
        reference="Fader, Hardie & Lee (2005), JMR 42(4).",
    )
)

register(
    Metric(
        name="clv_median",
        title="Median predicted CLV",
        stage="value",
        formula=r"\operatorname{median}_i \mathrm{CLV}_{h,i}",
        definition="The predicted lifetime value of the typical customer (half are worth more).",
        pitfalls=(
            "Value is very skewed: the median is far below the mean, and a few customers hold "
            "most of the value (see the value tiers)."
        ),
        unit="currency",
        higher_is_better=True,
        example=_EXAMPLE_HEADLINE
        + '>>> m = kpis[kpis.metric == "clv_median"].loc["1998-06", "value"]\n'
        '>>> bool(0 < m < kpis[kpis.metric == "clv_total"].loc["1998-06", "value"] / 2357)\nTrue',
        reference="",
    )
)

register(
    Metric(
        name="clv_holdout_mae",
        title="Holdout MAE of predicted purchases",
        stage="value",
        formula=r"\frac{1}{n}\sum_i \bigl|x_i^{\text{holdout}} - \hat x_i^{\text{holdout}}\bigr|",
        definition=(
            "Mean absolute error, in purchases per customer, of the model fitted on the "
            "calibration period when it predicts each customer's purchases in the holdout "
            "period (the last months before the end of the report month)."
        ),
        pitfalls=(
            "Depends on the holdout length and on how many customers buy at all; compare it "
            "with a naive baseline (clv_holdout_mae_vs_baseline), not across datasets."
        ),
        unit="ratio",
        higher_is_better=False,
        example=_EXAMPLE_HEADLINE
        + '>>> round(float(kpis[kpis.metric == "clv_holdout_mae"].loc["1998-06", "value"]), 2)\n0.52',
        reference="Fader, Hardie & Lee (2005), Marketing Science 24(2), section 4.",
    )
)

register(
    Metric(
        name="clv_holdout_mae_vs_baseline",
        title="Holdout MAE vs naive baseline",
        stage="value",
        formula=r"\frac{\mathrm{MAE}_{\text{model}}}{\min(\mathrm{MAE}_{\text{zero}},\ \mathrm{MAE}_{\text{past rate}})}",
        definition=(
            "The model's holdout MAE divided by that of the better of two naive predictions: "
            "zero purchases, or the customer's own past repeat rate carried forward. Below 1 "
            "the model beats both."
        ),
        pitfalls=(
            "MAE rewards predicting zero when most customers do not buy again; read it with "
            "the RMSE and correlation of the scorecard."
        ),
        unit="ratio",
        higher_is_better=False,
        example=_EXAMPLE_HEADLINE
        + '>>> round(float(kpis[kpis.metric == "clv_holdout_mae_vs_baseline"].loc["1998-06", "value"]), 2)\n1.06',
        reference="",
    )
)


# ---------------------------------------------------------------------------------------
# Data: CDNOW, orders
# ---------------------------------------------------------------------------------------


def load_cdnow(kind: Literal["sample", "master"] = "sample") -> pd.DataFrame:
    """The CDNOW transactions shipped inside lifetimes, as an orders table.

    Read with :mod:`importlib.resources` (``lifetimes.datasets`` needs ``pkg_resources``).

    Parameters
    ----------
    kind : {"sample", "master"}
        ``"sample"``: the 1/10th sample of 2,357 customers (6,919 transactions) the papers
        fit; ``"master"``: all 23,570 customers of the cohort.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (text, ``"0001"`` …), ``ts`` (midnight UTC of the day), ``amount``
        (dollars) and ``cds`` (number of CDs). Several rows of one customer on one day are
        kept as they are (223 in the sample); the summaries merge them.

    Examples
    --------
    >>> cdnow = load_cdnow()
    >>> len(cdnow), cdnow.customer_id.nunique(), str(cdnow.ts.min().date())
    (6919, 2357, '1997-01-01')
    """
    files = {"sample": ("CDNOW_sample.txt", ["master_id", "customer_id", "date", "cds", "amount"], 0),
             "master": ("CDNOW_master.txt", ["customer_id", "date", "cds", "amount"], 1)}  # (file, columns, header lines)
    if kind not in files:
        raise ValueError(f"kind must be 'sample' or 'master', got {kind!r}")
    name, columns, header_lines = files[kind]
    path = importlib.resources.files("lifetimes") / "datasets" / name
    with path.open("r") as handle:
        raw = pd.read_csv(handle, sep=r"\s+", header=None, names=columns, skiprows=header_lines,
                          dtype={"customer_id": str, "date": str, "master_id": str})
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"],
            "ts": pd.to_datetime(raw["date"], format="%Y%m%d").dt.tz_localize("UTC"),
            "amount": raw["amount"].astype(float),
            "cds": raw["cds"].astype("int64"),
        }
    )


def _number_from_seconds(seconds: Any, freq: str) -> Any:
    """Period number of epoch ``seconds`` (floor division; weeks run Monday–Sunday as
    pandas' ``"W"``: 1970-01-01 was a Thursday, so day + 3 counts from the Monday before)."""
    if freq == "h":
        return seconds // 3600
    day = seconds // _DAY_SECONDS
    return day if freq == "D" else (day + 3) // 7


def _period_of(stamp: pd.Timestamp, freq: str) -> int:
    """Number of the ``freq`` period holding ``stamp``."""
    return int(_number_from_seconds(stamp.value // 1_000_000_000, freq))


@ibis.udf.scalar.builtin(name="epoch_us")
def _duckdb_epoch_us(ts: dt.Timestamp(timezone="UTC")) -> dt.int64:  # type: ignore[empty-body]
    """DuckDB's microseconds since the epoch of a TIMESTAMPTZ: no time-zone arithmetic,
    about ten times faster than a cast to DATE or TIMESTAMP (which go through ICU)."""


@ibis.udf.agg.builtin(name="arg_min")
def _duckdb_arg_min(arg: dt.float64, key: dt.int64) -> dt.float64:  # type: ignore[empty-body]
    """DuckDB's arg_min (Ibis' ``argmin`` compiles to an ordered FIRST, which sorts)."""


def _is_duckdb(expr: ibis.Expr) -> bool:
    return ibis.get_backend(expr).name == "duckdb"


def _period_expr(ts: ibis.Value, freq: str) -> ibis.Value:
    """The number of the ``freq`` period holding ``ts``, in the engine (as :func:`_period_of`)."""
    if _is_duckdb(ts):
        seconds = _duckdb_epoch_us(ts) / 1_000_000
    else:
        seconds = ts.epoch_seconds()
    if freq == "h":
        return (seconds / 3600).floor()
    day = (seconds / _DAY_SECONDS).floor()
    # 32-bit day and week numbers hash faster in the grouping (they reach 2**31 in year 5.8 million)
    return (day if freq == "D" else ((day + 3) / 7).floor()).cast("int32")


@dataclass(frozen=True)
class _Orders:
    table: ibis.Table  # columns customer_id, ts, amount (0.0 without a monetary column) [, row]
    id_name: str
    # A pandas input's customer ids; the table's ``row`` column holds each order's position
    # in it, so a per-customer result can take its ids from here by position instead of
    # turning a million strings back into Python objects. None for an Ibis table.
    ids: pd.Index | None


def _orders(
    orders: ibis.Table | pd.DataFrame,
    customer_id_col: str,
    datetime_col: str,
    monetary_value_col: str | None,
) -> _Orders:
    """The orders as the contract's (customer_id, ts, amount), validated if a DataFrame."""
    wanted = [customer_id_col, datetime_col] + ([monetary_value_col] if monetary_value_col else [])
    is_frame = isinstance(orders, pd.DataFrame)
    have = list(orders.columns)
    for role, col in zip(("customer_id_col", "datetime_col", "monetary_value_col"), wanted, strict=False):
        if col not in have:
            raise DataError(
                f"{role}={col!r} is not a column (the table has: {', '.join(map(str, have))})",
                table="orders",
                column=col,
                fix=f"Pass {role} naming one of the table's columns",
            )
    ids = None
    if is_frame:
        ids = pd.Index(orders[customer_id_col], copy=False)
        raw = _memtable(orders, {"customer_id": customer_id_col, "ts": datetime_col,
                                 **({"amount": monetary_value_col} if monetary_value_col else {})})
    else:
        raw = orders.select(
            customer_id=orders[customer_id_col],
            ts=orders[datetime_col],
            **({"amount": orders[monetary_value_col]} if monetary_value_col else {}),
        )
    if not monetary_value_col:
        raw = raw.mutate(amount=ibis.literal(0.0))
    return _Orders(as_table(raw, "orders", validate=is_frame), customer_id_col, ids)


def _memtable(orders: pd.DataFrame, columns: dict[str, str]) -> ibis.Table:
    """The orders' columns as an Ibis memtable named by the contract (``columns`` maps a
    contract name to the frame's column), plus ``row``, each order's position in the frame.

    Clean columns (text ids, datetimes, float amounts) go straight into Arrow — no pandas
    copy, no per-value type inference — with times made UTC there, so the engine has no
    time-zone conversion left to do. Anything else goes through pandas and is coerced
    and checked by ``as_table``.
    """
    ids, ts = orders[columns["customer_id"]], orders[columns["ts"]]
    amount = orders[columns["amount"]] if "amount" in columns else None
    row = np.arange(len(orders), dtype="int64")
    id_array = None
    if (ids.dtype == object and pd.api.types.is_datetime64_any_dtype(ts)
            and (amount is None or pd.api.types.is_float_dtype(amount))):
        with contextlib.suppress(pa.ArrowTypeError, pa.ArrowInvalid):  # not all text: the pandas way
            id_array = pa.array(ids.to_numpy(), type=pa.string())
    if id_array is None:
        frame = orders[list(columns.values())].set_axis(list(columns), axis=1)
        return memtable(frame.assign(row=row))
    naive = ts.dt.tz_convert("UTC").dt.tz_localize(None) if ts.dt.tz is not None else ts
    stamps = pa.array(naive.to_numpy(), from_pandas=True)  # NaT as null
    arrays = {"customer_id": id_array, "ts": stamps.view(pa.timestamp(stamps.type.unit, tz="UTC"))}
    if amount is not None:
        arrays["amount"] = pa.array(amount.to_numpy(), type=pa.float64())
    arrays["row"] = pa.array(row)
    return memtable(pa.table(arrays))


def _per_customer(expr: ibis.Table, orders: _Orders) -> tuple[pd.Index, dict[str, np.ndarray]]:
    """Run a query with one row per customer (columns ``customer_id`` [, ``row``] and
    numbers): its ids as the index lifetimes gives (sorted, named like the input's column,
    the input's dtype) and its other columns as arrays in the same order."""
    result = expr.order_by("customer_id").to_pyarrow()
    values = {name: result.column(name).to_numpy() for name in result.column_names
              if name not in ("customer_id", "row")}
    if orders.ids is None:
        index = pd.Index(result.column("customer_id").to_pandas(), name=orders.id_name)
        return index, values
    index = orders.ids.take(result.column("row").to_numpy())
    if index.dtype.kind in "iuf":  # the engine sorted their text; lifetimes sorts the numbers
        order = np.argsort(index.to_numpy(), kind="stable")
        index = index.take(order)
        values = {name: column[order] for name, column in values.items()}
    return index.rename(orders.id_name), values


# ---------------------------------------------------------------------------------------
# RFM summaries
# ---------------------------------------------------------------------------------------


#: Order values are summed as exact decimals with six places (a millionth of the currency
#: unit): a parallel engine adds floats in a varying order, and last-digit differences
#: would move the fitted parameters from run to run.
_EXACT = dt.Decimal(18, 6)


def _customer_periods(table: ibis.Table, freq: str, end: pd.Timestamp | None) -> ibis.Table:
    """One row per customer and period with an order, the period's order values summed
    (and the first ``row`` kept when the orders have one). Periods after ``end``'s period
    are dropped (lifetimes floors the end to its period)."""
    periods = table.mutate(period=_period_expr(table.ts, freq))
    if end is not None:
        periods = periods.filter(periods.period <= _period_of(end, freq))
    rows = {"row": periods.row.min()} if "row" in periods.columns else {}
    return periods.group_by(["customer_id", "period"]).aggregate(amount=periods.amount.cast(_EXACT).sum(), **rows)


def _summary_expr(table: ibis.Table, freq: str, end: pd.Timestamp | None) -> ibis.Table:
    """First and last period, number of periods, total value and first-period value per
    customer: two grouped aggregations, no window, one query."""
    per = _customer_periods(table, freq, end)
    amount, period = per.amount.cast("float64"), per.period.cast("int64")
    first_amount = _duckdb_arg_min(amount, period) if _is_duckdb(per) else amount.argmin(period)
    rows = {"row": per.row.min()} if "row" in per.columns else {}
    return per.group_by("customer_id").aggregate(
        first=per.period.min(), last=per.period.max(), periods=per.count(),
        total=per.amount.sum().cast("float64"), first_amount=first_amount, **rows,
    )


def _summary_frame(index: pd.Index, raw: Mapping[str, np.ndarray], unit: TimeUnit, end: pd.Timestamp | None,
                   include_first: bool, monetary: bool, suffix: str = "") -> pd.DataFrame:
    """The summary's columns from the per-customer numbers of :func:`_summary_expr`,
    written into one float block (no per-column copies when the frame is built)."""
    names = ["frequency", "recency", "T"] + (["monetary_value"] if monetary else [])
    block = np.empty((len(names), len(index)))
    first, last, periods = raw["first"], raw["last"], raw["periods"]
    end_period = _period_of(end, unit.freq) if end is not None else (int(last.max()) if len(last) else 0)
    np.subtract(periods, 0 if include_first else 1, out=block[0], casting="unsafe")
    np.divide(np.subtract(last, first, dtype="int64"), unit.freq_multiplier, out=block[1])
    np.divide(np.subtract(end_period, first, dtype="int64"), unit.freq_multiplier, out=block[2])
    if monetary:
        total = raw["total"]
        if include_first:
            np.divide(total, periods, out=block[3])
        else:
            repeat = total - raw["first_amount"]
            with np.errstate(invalid="ignore", divide="ignore"):
                block[3] = np.where(periods > 1, repeat / (periods - 1), 0.0)
    return pd.DataFrame(block.T, index=index, columns=[f"{name}{suffix}" for name in names], copy=False)


def _check_freq(freq: str, freq_multiplier: int) -> TimeUnit:
    return TimeUnit(freq, freq_multiplier)


def rfm_summary(
    orders: ibis.Table | pd.DataFrame,
    *,
    customer_id_col: str = "customer_id",
    datetime_col: str = "ts",
    monetary_value_col: str | None = None,
    observation_period_end: Any = None,
    freq: str = "D",
    freq_multiplier: int = 1,
    include_first_transaction: bool = False,
) -> pd.DataFrame:
    r"""Frequency, recency, T (and monetary value) per customer, computed in the engine.

    Returns exactly what ``lifetimes.utils.summary_data_from_transaction_data`` returns for
    the same arguments, as one Ibis aggregation: orders are grouped into ``freq`` periods
    (several orders of a customer in one period are one transaction whose value is their
    sum), and per customer

    .. math::

        x = n_{\text{periods}} - 1, \qquad t_x = \frac{p_{\text{last}} - p_{\text{first}}}{m},
        \qquad T = \frac{p_{\text{end}} - p_{\text{first}}}{m}, \qquad
        \bar z = \operatorname{mean}(\text{values of the periods after the first})

    with :math:`p` period numbers and :math:`m` = ``freq_multiplier``.

    Parameters
    ----------
    orders : ibis.Table or pandas.DataFrame
        One row per order.
    customer_id_col, datetime_col : str
        Columns of the customer and of the order time (read as UTC).
    monetary_value_col : str, optional
        Column of the order value; adds ``monetary_value`` (0 for customers without a
        repeat period).
    observation_period_end : date or timestamp, optional
        End of the observation; orders in later periods are ignored. Default: the last
        order. As in lifetimes, it is floored to its period.
    freq : {"D", "W", "h"}, default "D"
        Period length: days, calendar weeks (Monday–Sunday) or hours.
    freq_multiplier : int, default 1
        Divides recency and T: ``freq="D", freq_multiplier=7`` gives exact weeks counted
        from the day of the first order (the CDNOW papers' unit).
    include_first_transaction : bool, default False
        Count the first period in ``frequency`` and ``monetary_value`` (not for fitting).

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (named ``customer_id_col``, sorted), float columns
        ``frequency``, ``recency``, ``T`` [, ``monetary_value``]. ``summary.attrs`` records
        ``freq``, ``freq_multiplier``, ``time_unit`` and ``observation_period_end``; read
        the unit with :func:`time_unit`.

    Raises
    ------
    DataError
        For a missing column or rows breaking the orders contract (negative amounts,
        unreadable times).

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...     "ts": ["2026-01-01", "2026-01-01 18:00", "2026-01-11", "2026-01-05"],
    ...     "amount": [10.0, 5.0, 30.0, 8.0]})
    >>> rfm_summary(orders, monetary_value_col="amount", observation_period_end="2026-01-31")
                 frequency  recency     T  monetary_value
    customer_id
    a                  1.0     10.0  30.0            30.0
    b                  0.0      0.0  26.0             0.0
    """
    unit = _check_freq(freq, freq_multiplier)
    data = _orders(orders, customer_id_col, datetime_col, monetary_value_col)
    end = None
    if observation_period_end is not None:
        end = to_utc(observation_period_end, "observation_period_end")
    index, raw = _per_customer(_summary_expr(data.table, freq, end), data)
    summary = _summary_frame(index, raw, unit, end, include_first_transaction, bool(monetary_value_col))
    summary.attrs.update(unit.to_attrs())
    if observation_period_end is not None:
        summary.attrs["observation_period_end"] = str(to_utc(observation_period_end, "end"))
    return summary


def calibration_holdout_summary(
    orders: ibis.Table | pd.DataFrame,
    calibration_period_end: Any,
    *,
    customer_id_col: str = "customer_id",
    datetime_col: str = "ts",
    monetary_value_col: str | None = None,
    observation_period_end: Any = None,
    freq: str = "D",
    freq_multiplier: int = 1,
    include_first_transaction: bool = False,
    calibration_period_start: Any = None,
) -> pd.DataFrame:
    """Calibration summary and holdout purchases per customer, computed in the engine.

    Returns exactly what ``lifetimes.utils.calibration_and_holdout_data`` returns: the
    :func:`rfm_summary` of the orders up to ``calibration_period_end`` (inclusive, compared
    to the exact order time) with suffix ``_cal``; then, for those customers, the
    number of ``freq`` periods with an order after it up to ``observation_period_end``
    (``frequency_holdout``), the mean order value there (``monetary_value_holdout``, per
    order, not per period — as lifetimes) and the holdout length in time units
    (``duration_holdout``). Customers first seen in the holdout are left out.

    Parameters
    ----------
    orders : ibis.Table or pandas.DataFrame
        One row per order.
    calibration_period_end : date or timestamp
        Last instant of the calibration period.
    observation_period_end : date or timestamp, optional
        Last instant of the holdout; default the last order.
    calibration_period_start : date or timestamp, optional
        Ignore orders before it (a kpilib addition, for a calibration window shorter than
        the whole history; default: all history).
    customer_id_col, datetime_col, monetary_value_col, freq, freq_multiplier, include_first_transaction
        As in :func:`rfm_summary`.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id; columns ``frequency_cal``, ``recency_cal``, ``T_cal``
        [, ``monetary_value_cal``], ``frequency_holdout`` [, ``monetary_value_holdout``],
        ``duration_holdout`` (all float). ``attrs`` as in :func:`rfm_summary` plus the
        period ends.

    Raises
    ------
    DataError
        When there is no order in the holdout period, or for bad input.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "c"],
    ...     "ts": ["2026-01-01", "2026-01-11", "2026-02-10", "2026-01-05", "2026-02-01"]})
    >>> calibration_holdout_summary(orders, "2026-01-31", observation_period_end="2026-02-28").to_dict("index")
    {'a': {'frequency_cal': 1.0, 'recency_cal': 10.0, 'T_cal': 30.0, 'frequency_holdout': 1.0, 'duration_holdout': 28.0},
     'b': {'frequency_cal': 0.0, 'recency_cal': 0.0, 'T_cal': 26.0, 'frequency_holdout': 0.0, 'duration_holdout': 28.0}}
    """
    unit = _check_freq(freq, freq_multiplier)
    data = _orders(orders, customer_id_col, datetime_col, monetary_value_col)
    table = data.table
    cal_end = to_utc(calibration_period_end, "calibration_period_end")
    if calibration_period_start is not None:
        table = table.filter(table.ts >= to_utc(calibration_period_start, "calibration_period_start"))
    obs_end = None
    if observation_period_end is not None:
        obs_end = to_utc(observation_period_end, "observation_period_end")

    holdout = table.filter(table.ts > cal_end)
    if obs_end is not None:
        holdout = holdout.filter(holdout.ts <= obs_end)
    seen = holdout.aggregate(orders=holdout.count(), last_ts=holdout.ts.max()).to_pyarrow()
    if seen["orders"][0].as_py() == 0:
        raise DataError(
            f"there is no order after the calibration end {cal_end} "
            f"{'up to ' + str(obs_end) if obs_end is not None else ''}".rstrip(),
            table="orders",
            column=datetime_col,
            fix="Check calibration_period_end and observation_period_end against the order dates",
        )
    if obs_end is None:
        obs_end = to_utc(seen["last_ts"][0].as_py(), "observation_period_end")

    calibration = _summary_expr(table.filter(table.ts <= cal_end), freq, cal_end)
    holdout = holdout.mutate(period=_period_expr(holdout.ts, freq))
    later = holdout.group_by("customer_id").aggregate(
        frequency_holdout=holdout.period.nunique(),
        monetary_value_holdout=holdout.amount.cast(_EXACT).mean().cast("float64"),
    )
    # customers first seen in the holdout are left out, as in lifetimes
    joined = calibration.left_join(later, "customer_id")
    expr = joined.select(
        *calibration.columns,
        frequency_holdout=joined.frequency_holdout.fill_null(0).cast("float64"),
        monetary_value_holdout=joined.monetary_value_holdout.fill_null(0.0),
    )
    index, raw = _per_customer(expr, data)
    out = _summary_frame(index, raw, unit, cal_end, include_first_transaction, bool(monetary_value_col), "_cal")
    out["frequency_holdout"] = raw["frequency_holdout"]
    if monetary_value_col:
        out["monetary_value_holdout"] = raw["monetary_value_holdout"]
    out["duration_holdout"] = float(_period_of(obs_end, freq) - _period_of(cal_end, freq)) / unit.freq_multiplier
    out.attrs.update(unit.to_attrs())
    out.attrs.update(calibration_period_end=str(cal_end), observation_period_end=str(obs_end))
    return out


def _rfm(frame: pd.DataFrame) -> pd.DataFrame:
    """frequency, recency, T (and monetary_value) of a summary or of the calibration part
    of a calibration/holdout frame, under the plain names."""
    suffix = "_cal" if "frequency_cal" in frame.columns else ""
    names = ["frequency", "recency", "T", "monetary_value"]
    present = [n for n in names if f"{n}{suffix}" in frame.columns]
    missing = [n for n in names[:3] if n not in present]
    if missing:
        raise DataError(
            f"the summary has no column(s) {', '.join(missing)}",
            column=missing[0],
            fix="Pass the result of kpilib.clv.rfm_summary or calibration_holdout_summary",
        )
    out = frame[[f"{n}{suffix}" for n in present]].copy()
    out.columns = present
    out.attrs = dict(frame.attrs)
    return out


def compress_rfm(summary: pd.DataFrame, columns: tuple[str, ...] = ("frequency", "recency", "T")) -> pd.DataFrame:
    """The unique rows of ``columns`` with their number of customers in ``weight``.

    The BG/NBD-family likelihood depends on a customer only through (x, t_x, T), so the
    fit on these rows with ``weights`` is the fit on all customers.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"frequency": [0.0, 0.0, 1.0], "recency": [0.0, 0.0, 3.0], "T": [5.0, 5.0, 5.0]})
    >>> compress_rfm(s)
       frequency  recency    T  weight
    0        0.0      0.0  5.0       2
    1        1.0      3.0  5.0       1
    """
    rfm = _rfm(summary)
    cols = list(columns)
    return rfm.groupby(cols, sort=True).size().rename("weight").reset_index()


# ---------------------------------------------------------------------------------------
# Verdicts on fits
# ---------------------------------------------------------------------------------------

#: Total log-likelihood within which two fits are equally good: a fit whose likelihood
#: does not fall by more along a ridge towards a limit model has its maximum on that
#: boundary (a likelihood-ratio statistic of 0.002).
_LL_TOL = 1e-3
#: A converged fit gains at most this much total log-likelihood from one more Newton step …
_DECREMENT_TOL = 1e-6
#: … and the gradient of lifetimes' objective (the mean negative log-likelihood per
#: customer, plus the penalty) is at most this times max(1, |objective|) in every
#: log-parameter.
_GRAD_TOL = 1e-6
#: How far along a ridge the likelihood is compared: the parameters scaled by 100.
_RIDGE_STEP = math.log(100.0)
#: Where a parameter running along a ridge is reported (Gamma–Gamma's p → ∞).
_RIDGE_LIMIT = math.log(1e6)

# The limits each model tends to, as directions in lifetimes' log-parameters.
_DROPOUT_RIDGE = (np.array([0.0, 0.0, 1.0, 1.0]), "a, b → ∞ (no heterogeneity in dropout)")
_RATE_RIDGE = (np.array([1.0, 1.0, 0.0, 0.0]), "r, α → ∞ (no heterogeneity in purchase rates)")
_NO_DROPOUT = (np.array([0.0, 0.0, 0.0, 1.0]), "b → ∞ (nobody drops out)")
_RIDGES: dict[str, list[tuple[np.ndarray, str]]] = {
    "bgnbd": [_DROPOUT_RIDGE, _RATE_RIDGE, _NO_DROPOUT],
    "mbgnbd": [_DROPOUT_RIDGE, _RATE_RIDGE, _NO_DROPOUT],
    "gamma_gamma": [
        (np.array([1.0, 0.0, -1.0]), "p → ∞, γ → 0 with pγ fixed (order values do not vary within a customer)"),
        (np.array([0.0, 1.0, 1.0]), "q, γ → ∞ with q/γ fixed (no heterogeneity in average order values)"),
    ],
}


@dataclass
class _Verdict:
    """What a fit is, judged from the fit itself: ``verdict`` is ``"converged"`` (an
    interior maximum), ``"boundary"`` (the likelihood does not fall along a ridge to a
    limit model: the maximum is that limit), ``"at bound"`` (an optimiser bound is
    active) or ``"not converged"``; ``note`` says why; ``ridge`` is the ridge's index."""

    x: np.ndarray
    verdict: str
    note: str = ""
    ridge: int | None = None


def _active(x: np.ndarray, gradient: np.ndarray, bounds: Any) -> np.ndarray:
    """Coordinates held at an optimiser bound that the objective pushes against."""
    held = np.zeros(len(x), dtype=bool)
    for i, (low, high) in enumerate(bounds or ()):
        held[i] = (low is not None and x[i] <= low + 1e-8 and gradient[i] > 0) or (
            high is not None and x[i] >= high - 1e-8 and gradient[i] < 0)
    return held


def _newton(objective: Any, x: np.ndarray, args: tuple, free: np.ndarray, bounds: Any) -> np.ndarray:
    """Newton steps with step halving on the ``free`` coordinates while the Hessian there
    is positive definite and the objective does not rise: where the optimiser stopped
    (a line-search stop, a BLAS kernel's rounding) no longer matters."""
    low = np.array([-np.inf if b is None or b[0] is None else b[0] for b in (bounds or [None] * len(x))])
    high = np.array([np.inf if b is None or b[1] is None else b[1] for b in (bounds or [None] * len(x))])
    gradient, curvature = _ag_grad(objective), _ag_hessian(objective)
    value = objective(x, *args)
    # lifetimes' objective loses digits to differences of large log-gammas far along a
    # ridge (1e-9 at p = 1e6); the steps themselves follow the exact gradient
    noise = 1e-9 * max(1.0, abs(value))
    for _ in range(50):
        g, h = gradient(x, *args)[free], curvature(x, *args)[np.ix_(free, free)]
        try:
            np.linalg.cholesky(h)
            step = -np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while t > 1e-10:
            trial = x.copy()
            trial[free] = np.clip(x[free] + t * step, low[free], high[free])
            trial_value = objective(trial, *args)
            if np.isfinite(trial_value) and trial_value <= value + noise:
                break
            t /= 2
        else:
            break
        x, value = trial, trial_value
        if np.max(np.abs(t * step)) <= 1e-12:
            break
    return x


def _along_ridge(objective: Any, x: np.ndarray, value: float, args: tuple, n: float,
                 ridges: list[tuple[np.ndarray, str]]) -> _Verdict | None:
    """A ``"boundary"`` verdict when the fit lies on a ridge to a limit model: its leading
    parameter is already beyond ``_RIDGE_LIMIT``, or scaling the ridge's parameters by
    100 loses less than ``_LL_TOL`` in total log-likelihood."""
    for i, (direction, name) in enumerate(ridges):
        lead = int(np.flatnonzero(direction > 0)[0])
        if x[lead] >= _RIDGE_LIMIT:  # already out at the limit: the same verdict, in the same words
            return _Verdict(x, "boundary", f"the likelihood does not fall towards {name}", ridge=i)
        far = objective(x + _RIDGE_STEP * direction, *args)
        if np.isfinite(far) and n * (value - far) >= -_LL_TOL:
            return _Verdict(x, "boundary", f"the likelihood does not fall towards {name}", ridge=i)
    return None


def _judge(objective: Any, x: np.ndarray, args: tuple, n: float, ridges: list[tuple[np.ndarray, str]],
           bounds: Any = None) -> _Verdict:
    """Judge an optimiser's stop from the fit itself, with tolerances, never from its
    success flag or message (which a line-search stop near the optimum flips, depending
    on the BLAS kernel):

    1. the likelihood along each ridge to a limit model (see :func:`_along_ridge`): if it
       does not fall, the maximum is that limit (``"boundary"``), wherever on the flat
       ridge the optimiser stopped;
    2. after Newton steps from the stop (so the fit reported is the same maximum to
       rounding, wherever the optimiser stopped near it) and the ridges once more, the
       gradient and curvature on the coordinates not held at an optimiser bound: a
       positive-definite Hessian, one more Newton step gaining under 1e-6 in total
       log-likelihood (``n`` customers times lifetimes' mean objective) and a relative
       gradient under 1e-6.

    Returns ``"converged"``, ``"at bound"`` (converged with an optimiser bound active),
    ``"boundary"`` or ``"not converged"``.
    """
    x = np.asarray(x, dtype=float)
    gradient, curvature = _ag_grad(objective), _ag_hessian(objective)
    with np.errstate(all="ignore"):
        value = objective(x, *args)
        if not np.isfinite(value):
            return _Verdict(x, "not converged", "the likelihood is not finite where the optimiser stopped")
        ridge = _along_ridge(objective, x, value, args, n, ridges)
        if ridge is not None:
            return ridge
        # Newton steps from the stop, so the fit reported is the same maximum (to
        # rounding) wherever the optimiser stopped near it
        x = _newton(objective, x, args, ~_active(x, gradient(x, *args), bounds), bounds)
        value = objective(x, *args)
        ridge = _along_ridge(objective, x, value, args, n, ridges)
        if ridge is not None:
            return ridge
        g = gradient(x, *args)
        held = _active(x, g, bounds)
        free = ~held
        h = curvature(x, *args)[np.ix_(free, free)]
        try:
            np.linalg.cholesky(h)
            decrement = n * float(np.sum(g[free] * np.linalg.solve(h, g[free]))) / 2
        except np.linalg.LinAlgError:
            decrement = np.inf
        small = np.max(np.abs(g[free]), initial=0.0) <= _GRAD_TOL * max(1.0, abs(value))
    if np.all(np.isfinite(g)) and decrement <= _DECREMENT_TOL and small:
        if held.any():
            return _Verdict(x, "at bound", "a parameter is held at its optimiser bound")
        return _Verdict(x, "converged")
    why = ("the Hessian is not positive definite" if not np.isfinite(decrement)
           else f"the gradient is not zero (one more Newton step would gain {decrement:.2g} in log-likelihood)")
    return _Verdict(x, "not converged", why)


def _on_ridge(objective: Any, stop: _Verdict, args: tuple, ridges: list[tuple[np.ndarray, str]],
              bounds: Any) -> np.ndarray:
    """The point reported for a boundary maximum, the same whichever point of the flat
    ridge the optimiser stopped at: the ridge's leading parameter moved to
    ``_RIDGE_LIMIT`` and the others refitted with it held there."""
    direction = ridges[stop.ridge][0]
    lead = int(np.flatnonzero(direction > 0)[0])
    x = stop.x + (_RIDGE_LIMIT - stop.x[lead]) * direction
    free = np.ones(len(x), dtype=bool)
    free[lead] = False
    with np.errstate(all="ignore"):
        return _newton(objective, x, args, free, bounds)


def _judged(fitter: Any, ridges: list[tuple[np.ndarray, str]], n: float, *, canonical: bool = False) -> Any:
    """Make ``fitter`` (a lifetimes BG/NBD, MBG/NBD or Gamma–Gamma) fit with the same
    optimiser call as lifetimes but judge the stop with :func:`_judge` instead of raising
    on its success flag; the verdict lands on ``fitter.verdict_`` / ``fitter.note_``.
    With ``canonical``, a boundary maximum is reported at :func:`_on_ridge`."""

    def fit(args, initial_params, params_size, disp, tol=1e-7, bounds=None, **kwargs):
        objective = fitter._negative_log_likelihood
        start = 0.1 * np.ones(params_size) if initial_params is None else initial_params
        with np.errstate(all="ignore"):
            output = _opt.minimize(_ag_value_and_grad(objective), jac=True, method=None, tol=tol, x0=start,
                                   args=args, options={**({"disp": disp} if disp else {}), **kwargs},
                                   bounds=bounds)
        stop = _judge(objective, output.x, args, n, ridges, bounds)
        x = _on_ridge(objective, stop, args, ridges, bounds) if canonical and stop.verdict == "boundary" else stop.x
        fitter.verdict_, fitter.note_, fitter._ridge = stop.verdict, stop.note, stop.ridge
        with np.errstate(all="ignore"):
            return x, objective(x, *args), _ag_hessian(objective)(x, *args)

    fitter._fit = fit
    return fitter


# ---------------------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------------------


def _warn_penalizer(penalizer: float) -> None:
    if penalizer < 0:
        raise ValueError(f"penalizer must be ≥ 0, got {penalizer!r}")
    if penalizer:
        warnings.warn(
            f"penalizer={penalizer:g}: lifetimes adds it to the *mean* log-likelihood, so it does "
            "not shrink as data grow and biases the parameters towards 0 at any sample size. "
            "Use it only to make a fit converge, and compare with penalizer=0.",
            UserWarning,
            stacklevel=3,
        )


def _fit_transactions(kind: str, summary: pd.DataFrame, penalizer: float, unit: TimeUnit | None,
                      weights: pd.DataFrame | None = None, start: pd.Series | None = None) -> Any:
    _warn_penalizer(penalizer)
    rows = compress_rfm(summary) if weights is None else weights
    if unit is None:
        unit = time_unit(summary)
    if rows.empty:
        raise DataError("the summary has no customers to fit on", fix="Check the orders and the period ends")
    options = {}
    if start is not None and kind in ("bgnbd", "mbgnbd"):  # lifetimes optimises log parameters, α scaled by 1/max T
        scaled = [start["r"], start["alpha"] / float(rows["T"].max()), start["a"], start["b"]]
        options["initial_params"] = np.log(scaled)
    if kind == "pareto_nbd":  # lifetimes starts Nelder–Mead at a random point with a loose tolerance
        options.update(initial_params=np.ones(4), tol=1e-8, maxiter=20_000)
    # On small data the maximum often lies on the boundary (a, b → ∞: no heterogeneity in
    # dropout). The verdict comes from the fit itself (see _judge), not from the
    # optimiser's flag. Without a penalizer of the user's, a boundary maximum or a fit
    # that does not settle is refitted with the smallest penalizers that keep the
    # parameters finite, and a warning says so.
    fallbacks = [penalizer] + ([1e-4, 1e-3] if penalizer == 0 else [])
    n = float(rows["weight"].sum())
    reasons = []
    for coefficient in fallbacks:
        fitter = MODELS[kind](penalizer_coef=coefficient)
        if kind in _RIDGES:  # lifetimes' Pareto/NBD runs its own Nelder–Mead and never judges
            _judged(fitter, _RIDGES[kind], n)
        _quiet_fit(fitter, rows["frequency"], rows["recency"], rows["T"], weights=rows["weight"], **options)
        verdict = getattr(fitter, "verdict_", "converged")
        if verdict == "converged":
            break
        reasons.append((verdict, fitter.note_, coefficient))
    else:
        raise ConvergenceError(
            f"the {_MODEL_TITLES[kind]} fit on {int(n)} customers did not converge "
            f"({'; '.join(f'penalizer {c:g}: {v}, {note}' for v, note, c in reasons)}). "
            "Try another model, a longer period or more customers; a small penalizer makes it converge "
            "at the price of a bias (see fit_bgnbd)"
        )
    if coefficient != penalizer:
        first, fitter.note_, _ = reasons[0]
        what = ("has its maximum on the boundary of the parameter space" if first == "boundary"
                else "does not settle at an interior maximum")
        warnings.warn(
            f"the {_MODEL_TITLES[kind]} fit on {int(n)} customers {what} ({fitter.note_}); "
            f"refitted with penalizer {coefficient:g}, which "
            "keeps the parameters finite at the price of a small bias. More customers or a longer period give "
            "a firmer fit.",
            UserWarning,
            stacklevel=3,
        )
    fitter.time_unit_ = unit
    fitter.n_customers_ = int(rows["weight"].sum())
    fitter.model_name_ = kind
    return fitter


def fit_bgnbd(summary: pd.DataFrame, *, penalizer: float = 0.0, time_unit: TimeUnit | None = None) -> BetaGeoFitter:
    r"""Fit the BG/NBD model (Fader, Hardie & Lee 2005) on a summary.

    While alive a customer buys at rate :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)`;
    after each repeat purchase they drop out with probability
    :math:`p \sim \mathrm{Beta}(a, b)`. The likelihood of (x, t_x, T) is

    .. math::

        L = \frac{B(a, b + x)}{B(a, b)} \frac{\Gamma(r + x)\alpha^r}{\Gamma(r)(\alpha + T)^{r + x}}
        + \mathbb{1}_{x > 0} \frac{B(a + 1, b + x - 1)}{B(a, b)}
        \frac{\Gamma(r + x)\alpha^r}{\Gamma(r)(\alpha + t_x)^{r + x}}

    fitted by lifetimes on the unique (x, t_x, T) rows weighted by their counts (the same
    maximum, faster).

    Parameters
    ----------
    summary : pandas.DataFrame
        From :func:`rfm_summary` (or the calibration part of
        :func:`calibration_holdout_summary`).
    penalizer : float, default 0
        lifetimes' L2 penalizer on the parameters; a warning explains why to avoid it.
    time_unit : TimeUnit, optional
        Only for a summary that does not record its unit.

    Returns
    -------
    lifetimes.BetaGeoFitter
        Fitted, with ``params_`` (``r``, ``alpha``, ``a``, ``b``; alpha in the summary's time
        unit) and the kpilib attributes ``time_unit_``, ``n_customers_``, ``model_name_``,
        ``verdict_`` (``"converged"``) and ``note_`` (why a penalizer was added, if it was).

    Notes
    -----
    Whether a fit converged is judged from the fit itself, with tolerances, not from the
    optimiser's success flag (a line-search stop near the optimum flips it, depending on
    the BLAS kernel numpy uses): the gradient and a positive-definite Hessian at the stop
    (polished by Newton steps), and the likelihood along the ridges to the model's limits
    (a, b → ∞: the same dropout probability for everyone; r, α → ∞: the same purchase
    rate; b → ∞: nobody drops out). If scaling a ridge's parameters by 100 loses under 0.001 in
    log-likelihood the maximum is on that boundary; then, unless a penalizer was given,
    the fit is redone with penalizer 1e-4 (then 1e-3) and a warning says so. A fit that
    settles nowhere raises ``ConvergenceError``.

    Examples
    --------
    >>> from kpilib.clv import CDNOW_PUBLISHED, fit_bgnbd, load_cdnow, rfm_summary
    >>> cdnow = load_cdnow()
    >>> cal = cdnow[cdnow.ts <= "1997-09-30"]
    >>> summary = rfm_summary(cal, observation_period_end="1997-09-30", freq_multiplier=7)
    >>> fit_bgnbd(summary).params_.round(3).to_dict()
    {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    """
    return _fit_transactions("bgnbd", summary, penalizer, time_unit)


def fit_pareto_nbd(summary: pd.DataFrame, *, penalizer: float = 0.0,
                   time_unit: TimeUnit | None = None) -> ParetoNBDFitter:
    r"""Fit the Pareto/NBD model (Schmittlein, Morrison & Colombo 1987) on a summary.

    Purchases at rate :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)` during an exponential
    lifetime of rate :math:`\mu \sim \mathrm{Gamma}(s, \beta)`; dropout can happen at any
    time, not only after a purchase. Fitted on the unique (x, t_x, T) rows with weights.

    .. math::

        P(\text{alive} \mid x, t_x, T) = \left[1 + \frac{s}{r + s + x}\left(
        \left(\frac{\alpha+T}{\alpha+t_x}\right)^{r+x}\left(\frac{\beta+T}{\alpha+t_x}\right)^{s}
        A - 1\right)\right]^{-1}\ (\alpha \ge \beta)

    with :math:`A` a Gauss hypergeometric term (Fader & Hardie 2005, note 008). lifetimes
    starts its Nelder–Mead search at a random point with tolerance 1e-4; kpilib starts at
    a fixed point with tolerance 1e-8, so fits are reproducible.

    Parameters, Returns
        As :func:`fit_bgnbd`; ``params_`` are ``r``, ``alpha``, ``s``, ``beta``.

    Examples
    --------
    >>> from kpilib.clv import fit_pareto_nbd, load_cdnow, rfm_summary
    >>> cdnow = load_cdnow()
    >>> s = rfm_summary(cdnow[cdnow.ts <= "1997-09-30"], observation_period_end="1997-09-30",
    ...                 freq_multiplier=7)
    >>> fit_pareto_nbd(s).params_.round(2).to_dict()  # Fader, Hardie & Lee (2005): .55 10.58 .61 11.67
    {'r': 0.55, 'alpha': 10.58, 's': 0.61, 'beta': 11.67}
    """
    return _fit_transactions("pareto_nbd", summary, penalizer, time_unit)


def fit_mbgnbd(summary: pd.DataFrame, *, penalizer: float = 0.0,
               time_unit: TimeUnit | None = None) -> ModifiedBetaGeoFitter:
    r"""Fit the MBG/NBD model (Batislam, Denizel & Filiztekin 2007) on a summary.

    As BG/NBD, but a customer may also drop out right after the first purchase, so
    customers without repeat purchases are not certain to be alive:

    .. math::

        P(\text{alive} \mid x, t_x, T) = \left[1 + \frac{a}{b + x}
        \left(\frac{\alpha + T}{\alpha + t_x}\right)^{r + x}\right]^{-1}

    Parameters, Returns
        As :func:`fit_bgnbd`; ``params_`` are ``r``, ``alpha``, ``a``, ``b``.

    Examples
    --------
    >>> from kpilib.clv import fit_mbgnbd, load_cdnow, rfm_summary
    >>> cdnow = load_cdnow()
    >>> s = rfm_summary(cdnow[cdnow.ts <= "1997-09-30"], observation_period_end="1997-09-30",
    ...                 freq_multiplier=7)
    >>> fit_mbgnbd(s).params_.round(2).to_dict()
    {'r': 0.52, 'alpha': 6.18, 'a': 0.89, 'b': 1.61}
    """
    return _fit_transactions("mbgnbd", summary, penalizer, time_unit)


def _spend_rows(summary: pd.DataFrame) -> pd.DataFrame:
    rfm = _rfm(summary)
    if "monetary_value" not in rfm.columns:
        raise DataError(
            "the summary has no monetary_value column",
            column="monetary_value",
            fix="Build it with rfm_summary(..., monetary_value_col='amount')",
        )
    return rfm[(rfm["frequency"] > 0) & (rfm["monetary_value"] > 0)]


def _quiet_fit(fitter: Any, *args: Any, **kwargs: Any) -> Any:
    """``fitter.fit`` without the optimiser report lifetimes prints when it fails, nor
    numpy's floating-point warnings (the optimiser's excursions; the square root of a
    negative variance at a boundary maximum, where lifetimes' standard errors are NaN)."""
    with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
        return fitter.fit(*args, **kwargs)


def _fit_spend(unique: pd.DataFrame, penalizer: float) -> GammaGammaFitter:
    """Gamma–Gamma on (frequency, monetary_value, weight) rows, judged from the fit itself.

    With few repeat buyers whose order values hardly vary around their own mean, the
    maximum lies on the boundary p → ∞, γ → 0 (pγ finite): the likelihood does not fall
    along that ridge (see :func:`_judge`). lifetimes' unbounded optimiser then stops
    anywhere on it, with or without "precision loss" depending on the BLAS kernel. Such a
    fit, or one that does not settle, is refitted with lifetimes' bound q ≥ 1
    (``q_constraint``); a boundary maximum is reported at p = 1e6 with q and γ refitted
    there (the same point whichever the optimiser reached), and a warning says what it
    means. A fit that settles nowhere raises ``ConvergenceError``.
    """
    n = float(unique["weight"].sum())
    ridges = _RIDGES["gamma_gamma"]
    fitter = _judged(GammaGammaFitter(penalizer_coef=penalizer), ridges, n, canonical=True)
    _quiet_fit(fitter, unique["frequency"], unique["monetary_value"], weights=unique["weight"])
    if fitter.verdict_ == "converged":
        return fitter
    first = f"{fitter.verdict_}: {fitter.note_}"
    fitter = _judged(GammaGammaFitter(penalizer_coef=penalizer), ridges, n, canonical=True)
    _quiet_fit(fitter, unique["frequency"], unique["monetary_value"], weights=unique["weight"], q_constraint=True)
    if fitter.verdict_ == "not converged":
        raise ConvergenceError(
            f"the Gamma–Gamma fit on {int(n)} repeat buyers did not converge ({first}; with q ≥ 1: "
            f"{fitter.note_}). More repeat buyers give a firmer fit."
        )
    p, q = fitter.params_["p"], fitter.params_["q"]
    if fitter.verdict_ == "boundary" and fitter._ridge == 0:
        message = (f"has its maximum on the boundary: {fitter.note_}. p is reported at its limit, {p:.3g}, so "
                   "each repeat buyer's expected order value is close to their own average")
    elif fitter.verdict_ == "boundary":
        message = (f"has its maximum on the boundary: {fitter.note_}. q is reported at its limit, {q:.3g}, so "
                   "each repeat buyer's expected order value is close to the population's")
    else:
        message = f"did not converge ({first}) and was refitted with the bound q ≥ 1: p = {p:.3g}, q = {q:.3g}"
        fitter.note_ = fitter.note_ or first
    warnings.warn(
        f"Gamma–Gamma on {int(n)} repeat buyers {message}. More repeat buyers give a firmer fit.",
        UserWarning,
        stacklevel=3,
    )
    return fitter


def fit_gamma_gamma(summary: pd.DataFrame, *, penalizer: float = 0.0) -> GammaGammaFitter:
    r"""Fit the Gamma–Gamma model of order value on the repeat buyers of a summary.

    A customer's order values are :math:`z \sim \mathrm{Gamma}(p, \nu)` with
    :math:`\nu \sim \mathrm{Gamma}(q, \gamma)` across customers, independent of their
    purchase frequency. The population mean order value is :math:`p\gamma/(q-1)`.
    lifetimes names :math:`\gamma` ``v``. Fitted on customers with ``frequency > 0`` and
    ``monetary_value > 0``, on the unique (x, z̄) rows with weights.

    .. math::

        f(\bar z \mid x) = \frac{\Gamma(px + q)}{\Gamma(px)\Gamma(q)}
        \frac{\gamma^q \bar z^{px - 1} x^{px}}{(\gamma + x\bar z)^{px + q}}

    Parameters
    ----------
    summary : pandas.DataFrame
        A summary with ``monetary_value``.
    penalizer : float, default 0
        As in :func:`fit_bgnbd`.

    Returns
    -------
    lifetimes.GammaGammaFitter
        With ``params_`` (``p``, ``q``, ``v``), ``n_customers_`` (repeat buyers used),
        ``verdict_`` and ``note_``: ``"converged"``; ``"boundary"`` when the likelihood does
        not fall towards p → ∞, γ → 0 (order values do not vary within a customer; p is then
        reported at 1e6 with q and γ refitted there, whichever point of the flat ridge the
        optimiser reached) or towards q, γ → ∞ (no heterogeneity across customers); ``"at
        bound"`` when lifetimes' bound q ≥ 1 is active. Verdicts other than ``"converged"``
        come with a warning; judged as in :func:`fit_bgnbd`.

    Examples
    --------
    >>> from kpilib.clv import fit_gamma_gamma, load_cdnow, rfm_summary
    >>> cdnow = load_cdnow()
    >>> s = rfm_summary(cdnow[cdnow.ts <= "1997-09-30"], monetary_value_col="amount",
    ...                 observation_period_end="1997-09-30", freq_multiplier=7)
    >>> gg = fit_gamma_gamma(s)
    >>> gg.n_customers_, gg.params_.round(2).to_dict()
    (946, {'p': 6.25, 'q': 3.74, 'v': 15.44})
    """
    _warn_penalizer(penalizer)
    rows = _spend_rows(summary)
    if rows.empty:
        raise DataError(
            "no customer has a repeat purchase with a positive value, so order values cannot be modelled",
            table="orders",
            fix="Use a longer observation period or more customers",
        )
    unique = rows.groupby(["frequency", "monetary_value"]).size().rename("weight").reset_index()
    fitter = _fit_spend(unique, penalizer)
    fitter.n_customers_ = len(rows)
    fitter.model_name_ = "gamma_gamma"
    return fitter


def model_from_params(model: str, params: Mapping[str, float], *, time_unit: TimeUnit | None = None) -> Any:
    """A lifetimes model with given parameters (published ones, a bootstrap replicate …).

    Parameters
    ----------
    model : {"bgnbd", "pareto_nbd", "mbgnbd", "gamma_gamma"}
    params : mapping
        Parameter values by lifetimes' names (Gamma–Gamma's γ is ``v``; ``gamma`` is accepted).
    time_unit : TimeUnit, optional
        Required for a transaction model that will make predictions.

    Examples
    --------
    >>> m = model_from_params("gamma_gamma", {"p": 6.25, "q": 3.74, "gamma": 15.44})
    >>> round(float(m.conditional_expected_average_profit(0, 0)), 2)
    35.22
    """
    names = {"bgnbd": ["r", "alpha", "a", "b"], "pareto_nbd": ["r", "alpha", "s", "beta"],
             "mbgnbd": ["r", "alpha", "a", "b"], "gamma_gamma": ["p", "q", "v"]}
    if model not in names:
        raise ValueError(f"model must be one of {', '.join(names)}, got {model!r}")
    values = dict(params)
    if "gamma" in values and model == "gamma_gamma":
        values["v"] = values.pop("gamma")
    missing = [n for n in names[model] if n not in values]
    if missing:
        raise ValueError(f"{model} needs the parameters {', '.join(names[model])}; missing {', '.join(missing)}")
    fitter = GammaGammaFitter() if model == "gamma_gamma" else MODELS[model]()
    fitter.params_ = pd.Series([float(values[n]) for n in names[model]], index=names[model])
    fitter.model_name_ = model
    if model != "gamma_gamma":
        fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
        if time_unit is not None:
            fitter.time_unit_ = time_unit
    return fitter


@dataclass
class CLVFit:
    """A transaction model and a spend model fitted on one summary.

    Attributes
    ----------
    summary : pandas.DataFrame
        The summary they were fitted on (customers to predict for).
    transactions : lifetimes fitter
        BG/NBD, Pareto/NBD or MBG/NBD, with ``time_unit_``.
    spend : lifetimes.GammaGammaFitter or None
        The Gamma–Gamma model, when the summary has monetary values.
    """

    summary: pd.DataFrame
    transactions: Any
    spend: GammaGammaFitter | None = None

    @property
    def time_unit(self) -> TimeUnit:
        return time_unit(self.transactions)

    @property
    def model(self) -> str:
        return getattr(self.transactions, "model_name_", type(self.transactions).__name__)


def _check_model(model: str) -> str:
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    return model


def fit_clv(
    summary: pd.DataFrame,
    *,
    model: ModelName = "bgnbd",
    penalizer: float = 0.0,
    spend_model: bool = True,
) -> CLVFit:
    """Fit the transaction model and (with monetary values) Gamma–Gamma on a summary.

    Parameters
    ----------
    summary : pandas.DataFrame
        From :func:`rfm_summary` or :func:`calibration_holdout_summary` (its calibration part).
    model : {"bgnbd", "pareto_nbd", "mbgnbd"}, default "bgnbd"
    penalizer : float, default 0
        Passed to both fitters (a warning says why not to).
    spend_model : bool, default True
        Fit Gamma–Gamma when the summary has ``monetary_value``.

    Returns
    -------
    CLVFit

    Examples
    --------
    >>> from kpilib.clv import fit_clv, load_cdnow, rfm_summary
    >>> s = rfm_summary(load_cdnow(), monetary_value_col="amount", freq_multiplier=7)
    >>> fit_clv(s).model
    'bgnbd'
    """
    _check_model(model)
    transactions = _fit_transactions(model, summary, penalizer, None)
    spend = None
    if spend_model and "monetary_value" in _rfm(summary).columns:
        spend = fit_gamma_gamma(summary, penalizer=penalizer)
    return CLVFit(_rfm(summary), transactions, spend)


# ---------------------------------------------------------------------------------------
# Predictions and value
# ---------------------------------------------------------------------------------------


def _model_and_summary(fit_or_model: Any, summary: pd.DataFrame | None) -> tuple[Any, pd.DataFrame]:
    if isinstance(fit_or_model, CLVFit):
        return fit_or_model.transactions, _rfm(fit_or_model.summary if summary is None else summary)
    if summary is None:
        raise ValueError("pass the summary to predict for (or a CLVFit, which holds one)")
    return fit_or_model, _rfm(summary)


def probability_alive(fit_or_model: Any, summary: pd.DataFrame | None = None) -> pd.Series:
    """P(alive) of each customer of ``summary`` under a fitted transaction model.

    The formula is in the ``p_alive`` glossary entry; the three models differ (see their
    fitters). The summary must be in the model's time unit.

    Examples
    --------
    >>> import pandas as pd
    >>> from kpilib.clv import TimeUnit, model_from_params, probability_alive
    >>> bg = model_from_params("bgnbd", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    ...                        time_unit=TimeUnit("D", 7))
    >>> s = pd.DataFrame({"frequency": [2.0], "recency": [30.43], "T": [38.86]})
    >>> s.attrs.update(freq="D", freq_multiplier=7)
    >>> probability_alive(bg, s).round(3).tolist()
    [0.727]
    """
    model, rfm = _model_and_summary(fit_or_model, summary)
    _check_same_unit(model, rfm)
    values = model.conditional_probability_alive(rfm["frequency"].to_numpy(), rfm["recency"].to_numpy(),
                                                 rfm["T"].to_numpy())
    return pd.Series(np.asarray(values, dtype=float), index=rfm.index, name="p_alive")


def expected_purchases(
    fit_or_model: Any,
    summary: pd.DataFrame | None = None,
    *,
    horizon: float,
    horizon_unit: str,
) -> pd.Series:
    """Expected repeat purchases of each customer over the next ``horizon``.

    The horizon is converted to the model's time unit (months are 365.25/12 days); a
    summary in another unit than the model's is refused.

    Parameters
    ----------
    fit_or_model : CLVFit or fitted transaction model
    summary : pandas.DataFrame, optional
        Customers to predict for (default: the CLVFit's).
    horizon : float
        Length of the future period.
    horizon_unit : {"days", "weeks", "months", "years"}
        Its unit (required: there is no default unit).

    Raises
    ------
    UnitMismatchError
        Unknown unit, a model without a recorded unit, or a summary in another unit.

    Examples
    --------
    >>> import pandas as pd
    >>> from kpilib.clv import TimeUnit, expected_purchases, model_from_params
    >>> bg = model_from_params("bgnbd", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    ...                        time_unit=TimeUnit("D", 7))
    >>> s = pd.DataFrame({"frequency": [2.0], "recency": [30.43], "T": [38.86]})
    >>> weeks = expected_purchases(bg, s, horizon=39, horizon_unit="weeks")
    >>> days = expected_purchases(bg, s, horizon=273, horizon_unit="days")
    >>> round(float(weeks.iloc[0]), 3), bool(weeks.iloc[0] == days.iloc[0])
    (1.226, True)
    """
    model, rfm = _model_and_summary(fit_or_model, summary)
    unit = _check_same_unit(model, rfm)
    t = _horizon_in_units(horizon, horizon_unit, unit)
    values = model.conditional_expected_number_of_purchases_up_to_time(
        t, rfm["frequency"].to_numpy(), rfm["recency"].to_numpy(), rfm["T"].to_numpy()
    )
    return pd.Series(np.asarray(values, dtype=float), index=rfm.index, name="expected_purchases")


def frequency_monetary_correlation(summary: pd.DataFrame) -> pd.DataFrame:
    """Check Gamma–Gamma's assumption: order value independent of purchase frequency.

    Pearson correlation between ``frequency`` and ``monetary_value`` among repeat
    buyers, with its 95% interval (Fisher z) and p-value. Near zero is what the model
    needs; :func:`customer_value` warns above :data:`INDEPENDENCE_WARNING`.

    Returns
    -------
    pandas.DataFrame
        One row: ``customers``, ``correlation``, ``ci_low``, ``ci_high``, ``p_value``.

    Examples
    --------
    >>> from kpilib.clv import frequency_monetary_correlation, load_cdnow, rfm_summary
    >>> cdnow = load_cdnow()
    >>> s = rfm_summary(cdnow[cdnow.ts <= "1997-09-30"], monetary_value_col="amount",
    ...                 observation_period_end="1997-09-30", freq_multiplier=7)
    >>> frequency_monetary_correlation(s)[["customers", "correlation"]].round(2)
       customers  correlation
    0        946         0.11
    """
    rows = _spend_rows(summary)
    n = len(rows)
    if n < 3 or rows["frequency"].nunique() < 2 or rows["monetary_value"].nunique() < 2:
        r, p, low, high = (np.nan,) * 4
    else:
        r, p = _sps.pearsonr(rows["frequency"], rows["monetary_value"])
        half = 1.959963984540054 / math.sqrt(n - 3) if n > 3 else np.inf
        low, high = math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)
    return pd.DataFrame({"customers": [n], "correlation": [float(r)], "ci_low": [low], "ci_high": [high],
                         "p_value": [float(p)]})


def _discounted_purchases(model: Any, rfm: pd.DataFrame, horizon_days: float, unit: TimeUnit,
                          annual_discount_rate: float) -> np.ndarray:
    """Σ_k (E[X(t_k)] − E[X(t_{k−1})]) (1 + d)^(−t_k/year), monthly steps t_k."""
    steps = max(1, math.ceil(horizon_days / DAYS_PER_MONTH - 1e-9))
    ends = np.minimum(np.arange(1, steps + 1) * DAYS_PER_MONTH, horizon_days)
    f, r, T = (rfm[c].to_numpy() for c in ("frequency", "recency", "T"))
    total = np.zeros(len(rfm))
    previous = np.zeros(len(rfm))
    for end in ends:
        cumulative = np.asarray(
            model.conditional_expected_number_of_purchases_up_to_time(end / unit.days, f, r, T), dtype=float
        )
        total += (cumulative - previous) / (1 + annual_discount_rate) ** (end / 365.25)
        previous = cumulative
    return total


@computes("p_alive", "expected_order_value", "predicted_clv")
def customer_value(
    data: CLVFit | ibis.Table | pd.DataFrame,
    *,
    horizon: float = 12,
    horizon_unit: str = "months",
    annual_discount_rate: float = 0.10,
    model: ModelName = "bgnbd",
    observation_period_end: Any = None,
    freq: str = "D",
    freq_multiplier: int = 1,
) -> pd.DataFrame:
    r"""Per customer: P(alive), expected purchases, expected order value and discounted CLV.

    .. math::

        \mathrm{CLV}_i = E(M_i) \sum_{k=1}^{K}\bigl[E(X_i(t_k)) - E(X_i(t_{k-1}))\bigr]
        (1 + d)^{-t_k/365.25\,\text{days}}

    with monthly steps :math:`t_k = k \cdot 365.25/12` days up to the horizon (the last
    step may be shorter), :math:`E(X_i(t))` the transaction model's expected repeat
    purchases in the next *t* given the customer's history, :math:`E(M_i)` the
    Gamma–Gamma expected order value and :math:`d` the **annual** discount rate (a monthly
    step is discounted by :math:`(1+d)^{1/12}`).

    Parameters
    ----------
    data : CLVFit, ibis.Table or pandas.DataFrame
        A :class:`CLVFit` (from :func:`fit_clv`), or an orders table (``customer_id``,
        ``ts``, ``amount``): then the summary is built with ``observation_period_end``,
        ``freq`` and ``freq_multiplier`` and ``model`` plus Gamma–Gamma are fitted.
    horizon : float, default 12
        How far ahead, in ``horizon_unit``.
    horizon_unit : {"days", "weeks", "months", "years"}, default "months"
        Converted to the model's own time unit (which the fit records).
    annual_discount_rate : float, default 0.10
        Yearly rate; 0 for undiscounted value.
    model, observation_period_end, freq, freq_multiplier
        Only used when ``data`` is an orders table.

    Returns
    -------
    pandas.DataFrame
        One row per customer with an order: the customer id column (named as the
        summary's index, ``customer_id`` by default), ``frequency``, ``recency``, ``T``,
        ``monetary_value``, ``p_alive``, ``expected_purchases`` (over the horizon,
        undiscounted), ``expected_order_value`` and ``clv``. ``attrs`` hold the horizon,
        its unit, the model's unit, the discount rate, the model names and the
        frequency–monetary correlation (``frequency_monetary_correlation``).

    Warns
    -----
    UserWarning
        When frequency and order value correlate above :data:`INDEPENDENCE_WARNING` among
        repeat buyers (Gamma–Gamma's independence assumption looks violated).

    Raises
    ------
    UnitMismatchError
        Unknown horizon unit or a model whose unit is unknown.
    DataError
        No monetary values (no spend model) or bad orders.

    Examples
    --------
    >>> from kpilib.clv import customer_value, load_cdnow
    >>> value = customer_value(load_cdnow(), freq_multiplier=7, horizon=12, horizon_unit="months")
    >>> list(value.columns)  # doctest: +NORMALIZE_WHITESPACE
    ['customer_id', 'frequency', 'recency', 'T', 'monetary_value', 'p_alive',
     'expected_purchases', 'expected_order_value', 'clv']
    >>> value.attrs["time_unit"], round(float(value["clv"].mean()), 1)
    ('weeks', 29.2)
    """
    if not isinstance(data, CLVFit):
        summary = rfm_summary(data, monetary_value_col="amount", observation_period_end=observation_period_end,
                              freq=freq, freq_multiplier=freq_multiplier)
        data = fit_clv(summary, model=model)
    if data.spend is None:
        raise DataError(
            "customer value needs order values, and this fit has no spend model",
            column="monetary_value",
            fix="Fit on a summary with monetary values: rfm_summary(..., monetary_value_col='amount')",
        )
    if annual_discount_rate <= -1:
        raise ValueError(f"annual_discount_rate must be above -1, got {annual_discount_rate!r}")
    model_obj, rfm = data.transactions, _rfm(data.summary)
    unit = _check_same_unit(model_obj, rfm)
    horizon_units = _horizon_in_units(horizon, horizon_unit, unit)
    correlation = frequency_monetary_correlation(rfm)
    r = float(correlation["correlation"].iloc[0])
    if np.isfinite(r) and abs(r) > INDEPENDENCE_WARNING:
        warnings.warn(
            f"order value and purchase frequency correlate (r = {r:.2f} over {int(correlation['customers'].iloc[0])} "
            "repeat buyers): Gamma–Gamma assumes they are independent, so expected order values "
            "and CLV are biased",
            UserWarning,
            stacklevel=2,
        )
    p = float(data.spend.params_["p"])
    q = float(data.spend.params_["q"])
    if q <= 1:
        raise DataError(
            f"the Gamma–Gamma fit has q = {q:.3g} ≤ 1, so the mean order value is infinite",
            column="monetary_value",
            fix="There are too few repeat buyers, or extreme order values; check the orders",
        )
    id_name = rfm.index.name or "customer_id"
    out = rfm.reset_index().rename(columns={rfm.index.name or "index": id_name})
    out["p_alive"] = probability_alive(model_obj, rfm).to_numpy()
    out["expected_purchases"] = expected_purchases(model_obj, rfm, horizon=horizon,
                                                   horizon_unit=horizon_unit).to_numpy()
    monetary = rfm["monetary_value"].to_numpy()
    frequency = rfm["frequency"].to_numpy()
    out["expected_order_value"] = np.asarray(
        data.spend.conditional_expected_average_profit(frequency, np.where(frequency > 0, monetary, 0.0)),
        dtype=float,
    )
    out["clv"] = out["expected_order_value"].to_numpy() * _discounted_purchases(
        model_obj, rfm, horizon * HORIZON_UNITS[horizon_unit], unit, annual_discount_rate
    )
    out.attrs = {
        "horizon": horizon,
        "horizon_unit": horizon_unit,
        "horizon_in_model_units": horizon_units,
        "time_unit": unit.name,
        "annual_discount_rate": annual_discount_rate,
        "model": data.model,
        "frequency_monetary_correlation": r,
        "gamma_gamma_p": p,
    }
    return out


# ---------------------------------------------------------------------------------------
# Model checks
# ---------------------------------------------------------------------------------------


def _probability_of_n(model: Any, t: float, n: int) -> float:
    """P(X(t) = n) for a new customer (no purchase history)."""
    if isinstance(model, ParetoNBDFitter):
        return float(model.conditional_probability_of_n_purchases_up_to_time(n, t, 0.0, 0.0, 0.0))
    return float(model.probability_of_n_purchases_up_to_time(t, n))


def period_transactions(fit_or_model: Any, summary: pd.DataFrame | None = None, *,
                        max_frequency: int = 7) -> pd.DataFrame:
    r"""Customers by number of repeat purchases: actual against the model, with a χ² test.

    The expected number of customers with *x* repeat purchases is
    :math:`\sum_i P(X(T_i) = x)` over the customers' own ages :math:`T_i`; the last class
    is ``max_frequency`` or more. The χ² goodness-of-fit statistic over the classes has
    *classes − 1 − parameters* degrees of freedom.

    Returns
    -------
    pandas.DataFrame
        Columns ``frequency`` (``"0"`` … ``"7+"``), ``actual``, ``expected``; ``attrs``
        hold ``chi2``, ``dof`` and ``p_value``.

    Examples
    --------
    >>> from kpilib.clv import fit_clv, load_cdnow, period_transactions, rfm_summary
    >>> cdnow = load_cdnow()
    >>> s = rfm_summary(cdnow[cdnow.ts <= "1997-09-30"], observation_period_end="1997-09-30",
    ...                 freq_multiplier=7)
    >>> table = period_transactions(fit_clv(s))
    >>> table.actual.tolist()
    [1411, 439, 214, 100, 62, 38, 29, 64]
    >>> table.attrs["dof"]
    3
    """
    model, rfm = _model_and_summary(fit_or_model, summary)
    ages = rfm.groupby("T").size()
    freq = np.minimum(rfm["frequency"].to_numpy().astype(int), max_frequency)
    actual = np.bincount(freq, minlength=max_frequency + 1)[: max_frequency + 1]
    expected = np.zeros(max_frequency + 1)
    for age, count in ages.items():
        probs = [_probability_of_n(model, float(age), n) for n in range(max_frequency)]
        expected[:max_frequency] += count * np.asarray(probs)
        expected[max_frequency] += count * (1 - sum(probs))
    labels = [str(n) for n in range(max_frequency)] + [f"{max_frequency}+"]
    out = pd.DataFrame({"frequency": labels, "actual": actual.astype(int), "expected": expected})
    chi2 = float(((actual - expected) ** 2 / np.where(expected > 0, expected, np.nan)).sum())
    dof = max_frequency + 1 - 1 - len(model.params_)
    out.attrs.update(chi2=chi2, dof=dof, p_value=float(_sps.chi2.sf(chi2, dof)) if dof > 0 else np.nan)
    return out


def holdout_scorecard(fit_or_model: Any, calibration_holdout: pd.DataFrame) -> pd.DataFrame:
    """How well the model predicts each customer's holdout purchases, against naive baselines.

    Predictors: ``model`` (expected purchases over ``duration_holdout`` given the
    calibration history), ``zero`` (nobody buys again) and ``past_rate`` (the customer's
    calibration repeat rate ``frequency_cal / T_cal`` carried over the holdout).

    .. math::

        \\mathrm{MAE} = \\frac1n\\sum_i |y_i - \\hat y_i|, \\quad
        \\mathrm{RMSE} = \\sqrt{\\frac1n\\sum_i (y_i - \\hat y_i)^2}

    Returns
    -------
    pandas.DataFrame
        One row per predictor: ``predictor``, ``customers``, ``mae``, ``rmse``,
        ``correlation`` (Pearson, NaN for a constant prediction), ``predicted`` and
        ``actual`` totals, and ``mae_vs_best_baseline`` (MAE over the better baseline's).

    Examples
    --------
    >>> from kpilib.clv import calibration_holdout_summary, fit_clv, holdout_scorecard, load_cdnow
    >>> ch = calibration_holdout_summary(load_cdnow(), "1997-09-30", freq_multiplier=7)
    >>> card = holdout_scorecard(fit_clv(ch), ch)
    >>> card[["predictor", "mae", "actual"]].round(3)
       predictor    mae  actual
    0      model  0.785  1882.0
    1       zero  0.798  1882.0
    2  past_rate  1.024  1882.0
    """
    model = fit_or_model.transactions if isinstance(fit_or_model, CLVFit) else fit_or_model
    rfm = _rfm(calibration_holdout)
    _check_same_unit(model, rfm)
    if "frequency_holdout" not in calibration_holdout.columns:
        raise DataError("the frame has no frequency_holdout column", column="frequency_holdout",
                        fix="Pass the result of calibration_holdout_summary")
    actual = calibration_holdout["frequency_holdout"].to_numpy(dtype=float)
    duration = calibration_holdout["duration_holdout"].to_numpy(dtype=float)
    f, r, T = (rfm[c].to_numpy() for c in ("frequency", "recency", "T"))
    with np.errstate(divide="ignore", invalid="ignore"):
        past = np.where(T > 0, f / T, 0.0) * duration
    predictions = {
        "model": np.asarray(model.conditional_expected_number_of_purchases_up_to_time(duration, f, r, T), dtype=float),
        "zero": np.zeros_like(actual),
        "past_rate": past,
    }
    rows = []
    for name, predicted in predictions.items():
        err = actual - predicted
        corr = np.corrcoef(actual, predicted)[0, 1] if np.std(predicted) > 0 and np.std(actual) > 0 else np.nan
        rows.append({"predictor": name, "customers": len(actual), "mae": float(np.mean(np.abs(err))),
                     "rmse": float(np.sqrt(np.mean(err**2))), "correlation": float(corr),
                     "predicted": float(predicted.sum()), "actual": float(actual.sum())})
    out = pd.DataFrame(rows)
    best_baseline = out.loc[out["predictor"] != "model", "mae"].min()
    out["mae_vs_best_baseline"] = out["mae"] / best_baseline if best_baseline > 0 else np.nan
    return out


def conditional_expectations(fit_or_model: Any, calibration_holdout: pd.DataFrame, *,
                             max_frequency: int = 7) -> pd.DataFrame:
    """Mean holdout purchases by calibration frequency: actual against the model.

    Customers are grouped by their calibration repeat purchases (the last group is
    ``max_frequency`` or more); for each group the mean actual holdout purchases and the
    mean of the model's conditional expectations.

    Returns
    -------
    pandas.DataFrame
        ``frequency_cal`` (``"0"`` … ``"7+"``), ``customers``, ``actual``, ``expected``.

    Examples
    --------
    >>> from kpilib.clv import calibration_holdout_summary, conditional_expectations, fit_clv, load_cdnow
    >>> ch = calibration_holdout_summary(load_cdnow(), "1997-09-30", freq_multiplier=7)
    >>> ce = conditional_expectations(fit_clv(ch), ch)
    >>> ce[["frequency_cal", "customers", "actual", "expected"]].head(2).round(3)
      frequency_cal  customers  actual  expected
    0             0       1411   0.237     0.225
    1             1        439   0.697     0.523
    """
    model = fit_or_model.transactions if isinstance(fit_or_model, CLVFit) else fit_or_model
    rfm = _rfm(calibration_holdout)
    _check_same_unit(model, rfm)
    f, r, T = (rfm[c].to_numpy() for c in ("frequency", "recency", "T"))
    expected = model.conditional_expected_number_of_purchases_up_to_time(
        calibration_holdout["duration_holdout"].to_numpy(dtype=float), f, r, T)
    group = np.minimum(f.astype(int), max_frequency)
    frame = pd.DataFrame({"group": group, "actual": calibration_holdout["frequency_holdout"].to_numpy(dtype=float),
                          "expected": np.asarray(expected, dtype=float)})
    out = frame.groupby("group").agg(customers=("actual", "size"), actual=("actual", "mean"),
                                     expected=("expected", "mean")).reset_index()
    out.insert(0, "frequency_cal", [f"{g}+" if g == max_frequency else str(g) for g in out.pop("group")])
    return out


def purchase_tracking(
    orders: ibis.Table | pd.DataFrame,
    fit_or_model: Any,
    *,
    calibration_period_end: Any,
    observation_period_end: Any = None,
    freq: str = "D",
    freq_multiplier: int = 1,
    step: float = 1.0,
    calibration_period_start: Any = None,
) -> pd.DataFrame:
    r"""Repeat purchases over calendar time, actual against the model (tracking plot data).

    The model's expected cumulative repeat purchases at time :math:`t` are
    :math:`\sum_c n_c\, E[X(t - t_c)]`, with :math:`n_c` the customers whose first purchase
    was at :math:`t_c` (first purchases up to the calibration end: the cohort the model
    was fitted on). Actual repeat purchases are those customers' later purchase periods.

    Parameters
    ----------
    orders : ibis.Table or pandas.DataFrame
        Orders (``customer_id``, ``ts``).
    fit_or_model : CLVFit or fitted transaction model
        Fitted on the calibration period, in the unit ``freq``/``freq_multiplier``.
    calibration_period_end, observation_period_end, calibration_period_start
        As in :func:`calibration_holdout_summary`.
    freq, freq_multiplier : as in :func:`rfm_summary`
    step : float, default 1
        Bucket width in model time units (e.g. 7 for weekly points of a daily model).

    Returns
    -------
    pandas.DataFrame
        ``t`` (end of the bucket, time units since the first order), ``date``, ``actual``
        and ``expected`` repeat purchases in the bucket, their cumulative sums
        ``cumulative_actual``, ``cumulative_expected``, and ``holdout`` (after the
        calibration end).

    Examples
    --------
    >>> from kpilib.clv import calibration_holdout_summary, fit_clv, load_cdnow, purchase_tracking
    >>> cdnow = load_cdnow()
    >>> fit = fit_clv(calibration_holdout_summary(cdnow, "1997-09-30", freq_multiplier=7))
    >>> track = purchase_tracking(cdnow, fit, calibration_period_end="1997-09-30", freq_multiplier=7)
    >>> int(track.cumulative_actual.iloc[-1]), round(track.cumulative_expected.iloc[-1])
    (4339, 4161)
    """
    model = fit_or_model.transactions if isinstance(fit_or_model, CLVFit) else fit_or_model
    unit = _check_freq(freq, freq_multiplier)
    if not math.isclose(time_unit(model).days, unit.days):
        raise UnitMismatchError(f"the model is in {time_unit(model).name}, the tracking in {unit.name}")
    data = _orders(orders, "customer_id", "ts", None)
    table = data.table
    if calibration_period_start is not None:
        table = table.filter(table.ts >= to_utc(calibration_period_start, "calibration_period_start"))
    cal_end = to_utc(calibration_period_end, "calibration_period_end")
    end = None
    if observation_period_end is not None:
        end = to_utc(observation_period_end, "observation_period_end")
    per = _customer_periods(table, freq, end)
    per = per.mutate(first_period=per.period.min().over(group_by=per.customer_id))
    per = per.filter(per.first_period <= _period_of(cal_end, freq))
    counts = (per.group_by("period")
              .aggregate(new=(per.period == per.first_period).cast("int64").sum(),
                         repeat=(per.period != per.first_period).cast("int64").sum())
              .execute())
    if counts.empty:
        raise DataError("no orders up to the calibration end", table="orders", column="ts",
                        fix="Check calibration_period_end")
    counts = counts.astype("int64").sort_values("period")
    origin = int(counts["period"].min())
    last = _period_of(end, freq) if end is not None else int(counts["period"].max())
    periods = counts.set_index("period").reindex(range(origin, last + 1), fill_value=0)
    t_units = (periods.index.to_numpy() - origin) / freq_multiplier
    cohort_t = t_units[periods["new"].to_numpy() > 0]
    cohort_n = periods["new"].to_numpy()[periods["new"].to_numpy() > 0]
    cal_t = (_period_of(cal_end, freq) - origin) / freq_multiplier
    # buckets of `step` from the first order, split at the calibration end, closed at the last period
    edges = np.arange(step, t_units[-1] + step, step)
    edges = np.unique(np.concatenate([edges[edges < t_units[-1]], [min(cal_t, t_units[-1]), t_units[-1]]]))
    cumulative_expected = np.array([
        float(np.sum(cohort_n * np.asarray(model.expected_number_of_purchases_up_to_time(
            np.clip(edge - cohort_t, 0, None)), dtype=float))) for edge in edges
    ])
    # a repeat purchase in period p happens at time t(p); count it in the first bucket ending at or after it
    repeat_t = t_units
    bucket = np.searchsorted(edges, repeat_t - 1e-9)
    actual = np.bincount(bucket[bucket < len(edges)],
                         weights=periods["repeat"].to_numpy()[bucket < len(edges)], minlength=len(edges))
    day0 = _period_start(origin, freq)
    return pd.DataFrame({
        "t": edges,
        "date": [day0 + pd.Timedelta(days=float(e) * unit.days) for e in edges],
        "actual": actual,
        "expected": np.diff(np.concatenate([[0.0], cumulative_expected])),
        "cumulative_actual": np.cumsum(actual),
        "cumulative_expected": cumulative_expected,
        "holdout": edges > cal_t + 1e-9,
    })


def _period_start(period: int, freq: str) -> pd.Timestamp:
    if freq == "h":
        seconds = period * 3600
    elif freq == "D":
        seconds = period * _DAY_SECONDS
    else:
        seconds = (period * 7 - 3) * _DAY_SECONDS
    return pd.Timestamp(seconds, unit="s", tz="UTC")


def frequency_recency_matrix(fit_or_model: Any, summary: pd.DataFrame | None = None, *,
                             horizon: float = 1, horizon_unit: str = "months",
                             max_frequency: int | None = None, max_recency: float | None = None) -> pd.DataFrame:
    """P(alive) and expected purchases over a grid of frequency and recency, at T = max.

    For a customer observed for the longest age ``T`` of the summary: each cell is a
    (frequency, recency) history. Read with :func:`kpilib.plots.plot_frequency_recency_matrix`.

    Returns
    -------
    pandas.DataFrame
        Long: ``frequency``, ``recency``, ``T``, ``p_alive``, ``expected_purchases`` (over
        the horizon).

    Examples
    --------
    >>> from kpilib.clv import fit_clv, frequency_recency_matrix, load_cdnow, rfm_summary
    >>> s = rfm_summary(load_cdnow(), freq_multiplier=7)
    >>> grid = frequency_recency_matrix(fit_clv(s))
    >>> bool(grid.p_alive.between(0, 1).all()), int(grid.frequency.max()), len(grid)
    (True, 43, 1760)
    """
    model, rfm = _model_and_summary(fit_or_model, summary)
    unit = _check_same_unit(model, rfm)
    t = _horizon_in_units(horizon, horizon_unit, unit)
    T = float(rfm["T"].max())
    max_frequency = int(rfm["frequency"].max()) if max_frequency is None else max_frequency
    max_recency = T if max_recency is None else max_recency
    recencies = np.linspace(0, max_recency, 40)
    f, r = np.meshgrid(np.arange(max_frequency + 1, dtype=float), recencies, indexing="ij")
    f, r = f.ravel(), r.ravel()
    Ts = np.full_like(f, T)
    return pd.DataFrame({
        "frequency": f.astype(int),
        "recency": r,
        "T": Ts,
        "p_alive": np.asarray(model.conditional_probability_alive(f, r, Ts), dtype=float),
        "expected_purchases": np.asarray(model.conditional_expected_number_of_purchases_up_to_time(t, f, r, Ts),
                                         dtype=float),
    })


# ---------------------------------------------------------------------------------------
# Uncertainty
# ---------------------------------------------------------------------------------------


@dataclass
class Bootstrap:
    """Bootstrap replicates of the parameters and of aggregate CLV.

    Attributes
    ----------
    replicates : pandas.DataFrame
        One row per replicate that converged: a column per parameter (``gamma_gamma``
        ones prefixed ``gg_``) and ``clv_total`` when a spend model was bootstrapped.
    intervals : pandas.DataFrame
        ``model``, ``parameter``, ``estimate`` (the fit on all customers), ``ci_low``,
        ``ci_high`` (percentile intervals), ``std_error``, ``replicates`` (converged).
    settings : dict
        The arguments, and ``failed``: replicates whose refit did not converge (left out;
        many failures mean the data are too thin for the intervals to mean much);
        ``penalized``: kept replicates whose transaction refit had its maximum on the
        boundary and was refitted with a small penalizer; ``spend_boundary``: kept
        replicates whose Gamma–Gamma refit had no interior maximum (see
        :func:`fit_gamma_gamma`). Verdicts come from the fits themselves (gradient,
        curvature, likelihood along the ridges to the limit models), not from an
        optimiser's flag.
    """

    replicates: pd.DataFrame
    intervals: pd.DataFrame
    confidence: float = 0.95
    settings: dict[str, Any] = field(default_factory=dict)


def bootstrap(
    fit: CLVFit,
    *,
    replicates: int = 100,
    seed: int = 0,
    confidence: float = 0.95,
    horizon: float = 12,
    horizon_unit: str = "months",
    annual_discount_rate: float = 0.10,
) -> Bootstrap:
    """Intervals on the fitted parameters and on total CLV by bootstrapping customers.

    Customers are resampled with replacement by drawing a multinomial re-weighting of the
    compressed rows (unique histories with their counts): replicate weights
    :math:`w^* \\sim \\mathrm{Multinomial}(n, c/n)` for row counts :math:`c`. Each replicate
    refits the transaction model (and Gamma–Gamma) with those weights; the total CLV of
    the observed customers is recomputed with the replicate's parameters, so its interval
    reflects parameter uncertainty. Percentile intervals.

    Parameters
    ----------
    fit : CLVFit
    replicates : int, default 100
    seed : int, default 0
    confidence : float, default 0.95
    horizon, horizon_unit, annual_discount_rate
        For the total CLV (as :func:`customer_value`).

    Returns
    -------
    Bootstrap

    Examples
    --------
    >>> from kpilib.clv import bootstrap, fit_clv, load_cdnow, rfm_summary
    >>> cdnow = load_cdnow()
    >>> s = rfm_summary(cdnow[cdnow.ts <= "1997-09-30"], observation_period_end="1997-09-30",
    ...                 freq_multiplier=7)
    >>> boot = bootstrap(fit_clv(s), replicates=5, seed=1)
    >>> r = boot.intervals.set_index("parameter").loc["r"]
    >>> round(float(r.estimate), 3), int(r.replicates), bool(r.ci_low < r.estimate < r.ci_high)
    (0.243, 5, True)
    """
    if replicates < 1:
        raise ValueError(f"replicates must be at least 1, got {replicates!r}")
    rng = np.random.default_rng(seed)
    rfm = fit.summary
    has_spend = fit.spend is not None
    columns = ["frequency", "recency", "T"] + (["monetary_value"] if has_spend else [])
    rows = rfm.groupby(columns, sort=True).size().rename("weight").reset_index()
    counts = rows["weight"].to_numpy()
    n = int(counts.sum())
    kind = fit.model
    unit = fit.time_unit
    records = []
    base_clv = None
    if has_spend:
        base_clv = _total_clv(fit.transactions, fit.spend, rows, unit, horizon, horizon_unit, annual_discount_rate)
    failed = penalized = spend_boundary = 0
    for _ in range(replicates):
        w = rng.multinomial(n, counts / n)
        keep = w > 0
        sample = rows.loc[keep].assign(weight=w[keep])
        by_rfm = sample.groupby(["frequency", "recency", "T"], sort=False)["weight"].sum().reset_index()
        try:
            transactions = _fit_transactions(kind, by_rfm, 0.0, unit, weights=by_rfm, start=fit.transactions.params_)
        except ConvergenceError:
            failed += 1  # reported; a replicate that cannot be fitted says the data are thin
            continue
        record = transactions.params_.to_dict()
        if has_spend:
            spend_rows = sample[(sample["frequency"] > 0) & (sample["monetary_value"] > 0)]
            spend_rows = spend_rows.groupby(["frequency", "monetary_value"], sort=False)["weight"].sum().reset_index()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    spend = _fit_spend(spend_rows, 0.0)
            except ConvergenceError:
                failed += 1
                continue
            spend_boundary += spend.verdict_ != "converged"
            record.update({f"gg_{k}": v for k, v in spend.params_.items()})
            record["clv_total"] = _total_clv(transactions, spend, rows, unit, horizon, horizon_unit,
                                             annual_discount_rate)
        penalized += transactions.penalizer_coef > 0
        records.append(record)
    if not records:
        raise ConvergenceError(f"none of the {replicates} bootstrap refits converged: the data are too thin")
    table = pd.DataFrame(records)
    alpha = (1 - confidence) / 2
    estimates = {(kind, k): v for k, v in fit.transactions.params_.items()}
    if has_spend:
        estimates.update({("gamma_gamma", k): v for k, v in fit.spend.params_.items()})
        estimates[("clv", "clv_total")] = base_clv
    intervals = []
    for (model, parameter), estimate in estimates.items():
        column = f"gg_{parameter}" if model == "gamma_gamma" else parameter
        values = table[column].to_numpy(dtype=float)
        intervals.append({"model": model, "parameter": parameter, "estimate": float(estimate),
                          "ci_low": float(np.quantile(values, alpha)),
                          "ci_high": float(np.quantile(values, 1 - alpha)),
                          "std_error": float(np.std(values, ddof=1)) if len(values) > 1 else np.nan,
                          "replicates": len(values)})
    return Bootstrap(table, pd.DataFrame(intervals), confidence,
                     {"replicates": replicates, "failed": failed, "penalized": penalized,
                      "spend_boundary": spend_boundary, "seed": seed, "horizon": horizon,
                      "horizon_unit": horizon_unit, "annual_discount_rate": annual_discount_rate})


def _total_clv(transactions: Any, spend: GammaGammaFitter, rows: pd.DataFrame, unit: TimeUnit,
               horizon: float, horizon_unit: str, annual_discount_rate: float) -> float:
    f = rows["frequency"].to_numpy()
    m = np.where(f > 0, rows["monetary_value"].to_numpy(), 0.0)
    value = np.asarray(spend.conditional_expected_average_profit(f, m), dtype=float)
    purchases = _discounted_purchases(transactions, rows, horizon * HORIZON_UNITS[horizon_unit], unit,
                                      annual_discount_rate)
    return float(np.sum(rows["weight"].to_numpy() * value * purchases))


def parameter_table(fit: CLVFit, *, reference: Mapping[str, Mapping[str, float]] | None = None,
                    intervals: Bootstrap | None = None) -> pd.DataFrame:
    """The fitted parameters beside reference values (published or true) and intervals.

    Parameters
    ----------
    fit : CLVFit
    reference : mapping, optional
        ``{"bgnbd": {"r": …}, "gamma_gamma": {"p": …, "q": …, "v" or "gamma": …}}`` —
        :data:`CDNOW_PUBLISHED`, or ``truth["clv"]`` of a generated sample.
    intervals : Bootstrap, optional
        Adds ``ci_low``, ``ci_high`` and ``reference_in_interval``.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``parameter``, ``estimate`` [, ``reference``, ``relative_error``]
        [, ``ci_low``, ``ci_high``, ``reference_in_interval``].

    Examples
    --------
    >>> from kpilib.clv import CDNOW_PUBLISHED, fit_clv, load_cdnow, parameter_table, rfm_summary
    >>> cdnow = load_cdnow()
    >>> s = rfm_summary(cdnow[cdnow.ts <= "1997-09-30"], monetary_value_col="amount",
    ...                 observation_period_end="1997-09-30", freq_multiplier=7)
    >>> t = parameter_table(fit_clv(s), reference=CDNOW_PUBLISHED)
    >>> bool((t.estimate.round(2) == t.reference.round(2)).all())
    True
    """
    rows = [{"model": fit.model, "parameter": k, "estimate": float(v)} for k, v in fit.transactions.params_.items()]
    if fit.spend is not None:
        rows += [{"model": "gamma_gamma", "parameter": k, "estimate": float(v)} for k, v in fit.spend.params_.items()]
    out = pd.DataFrame(rows)
    if reference is not None:
        def lookup(model: str, parameter: str) -> float:
            values = dict(reference.get(model, {}))
            if model == "gamma_gamma" and "gamma" in values:
                values["v"] = values["gamma"]
            return float(values.get(parameter, np.nan))

        out["reference"] = [lookup(m, p) for m, p in zip(out["model"], out["parameter"], strict=True)]
        out["relative_error"] = out["estimate"] / out["reference"] - 1
    if intervals is not None:
        bounds = intervals.intervals.set_index(["model", "parameter"])[["ci_low", "ci_high"]]
        out = out.join(bounds, on=["model", "parameter"])
        if "reference" in out.columns:
            out["reference_in_interval"] = (out["reference"] >= out["ci_low"]) & (out["reference"] <= out["ci_high"])
    return out


# ---------------------------------------------------------------------------------------
# Segments
# ---------------------------------------------------------------------------------------


def value_tiers(value: pd.DataFrame, *, cut_points: tuple[float, float] = (0.5, 0.8)) -> pd.DataFrame:
    """High / mid / low value tiers by predicted CLV, with their share of customers and value.

    Customers at or above the ``cut_points[1]`` quantile of predicted CLV are *high*,
    those at or above the ``cut_points[0]`` quantile *mid*, the rest *low* (default: the
    top 20 %, the next 30 %, the bottom 50 %).

    Parameters
    ----------
    value : pandas.DataFrame
        The result of :func:`customer_value`.
    cut_points : (float, float)
        Quantiles separating low|mid and mid|high.

    Returns
    -------
    pandas.DataFrame
        One row per tier (high, mid, low): ``tier``, ``customers``, ``customer_share``,
        ``clv_total``, ``value_share``, ``clv_mean``, ``clv_min`` (the tier's lowest CLV:
        its cut point), ``p_alive_mean``.

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({"customer_id": list("abcdefghij"), "p_alive": [1.0] * 10,
    ...                   "clv": [1, 1, 1, 1, 1, 2, 2, 2, 10, 20]})
    >>> value_tiers(v)[["tier", "customers", "value_share"]]
       tier  customers  value_share
    0  high          2     0.731707
    1   mid          3     0.146341
    2   low          5     0.121951
    """
    low, high = cut_points
    if not 0 < low < high < 1:
        raise ValueError(f"cut_points must be two quantiles with 0 < low < high < 1, got {cut_points!r}")
    clv = value["clv"].to_numpy(dtype=float)
    q_low, q_high = np.quantile(clv, [low, high])
    tier = np.where(clv >= q_high, "high", np.where(clv >= q_low, "mid", "low"))
    frame = pd.DataFrame({"tier": tier, "clv": clv, "p_alive": value["p_alive"].to_numpy(dtype=float)})
    out = (frame.groupby("tier").agg(customers=("clv", "size"), clv_total=("clv", "sum"),
                                     clv_mean=("clv", "mean"), clv_min=("clv", "min"),
                                     p_alive_mean=("p_alive", "mean"))
           .reindex(["high", "mid", "low"]).dropna(how="all").reset_index())
    out.insert(2, "customer_share", out["customers"] / len(frame))
    out.insert(4, "value_share", out["clv_total"] / clv.sum() if clv.sum() > 0 else np.nan)
    out["customers"] = out["customers"].astype(int)
    return out


def value_by_channel(
    value: pd.DataFrame,
    customers: ibis.Table | pd.DataFrame,
    spend: ibis.Table | pd.DataFrame | None = None,
    *,
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """Predicted value and CLV:CAC by acquisition channel.

    .. math::

        \\mathrm{CAC}_c = \\frac{\\text{spend}_c}{\\text{new customers}_c}, \\qquad
        \\mathrm{CLV{:}CAC}_c = \\frac{\\sum_{i \\in c} \\mathrm{CLV}_i / \\text{new customers}_c}{\\mathrm{CAC}_c}

    New customers are the ``customers`` rows (sign-ups) of the channel with ``signup_at``
    in ``[start, end)``; spend is summed over the same dates. Predicted CLV per customer
    counts sign-ups without an order as 0 (the transaction models only cover buyers).

    Parameters
    ----------
    value : pandas.DataFrame
        :func:`customer_value` output (id column first).
    customers : ibis.Table or pandas.DataFrame
        The customers table (``customer_id``, ``signup_at``, ``channel``).
    spend : ibis.Table or pandas.DataFrame, optional
        The spend table; without it CAC and CLV:CAC are NaN.
    start, end : date, optional
        Sign-up (and spend) window; default all.

    Returns
    -------
    pandas.DataFrame
        ``channel``, ``new_customers``, ``buyers``, ``clv_total``, ``clv_per_customer``,
        ``spend``, ``cac``, ``clv_to_cac`` (NaN where CAC is undefined: no spend data or no
        new customers). CAC and the ratio come from :func:`kpilib.marketing.acquisition_costs`
        (the ``cac`` and ``clv_to_cac`` metrics), which also gives them per month.

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({"customer_id": ["a", "b"], "clv": [120.0, 30.0]})
    >>> c = pd.DataFrame({"customer_id": ["a", "b", "c"], "signup_at": ["2026-01-01"] * 3,
    ...                   "channel": ["email", "email", "social"]})
    >>> s = pd.DataFrame({"date": ["2026-01-01", "2026-01-01"], "channel": ["email", "social"],
    ...                   "cost": [50.0, 80.0]})
    >>> value_by_channel(v, c, s)[["channel", "new_customers", "clv_per_customer", "cac", "clv_to_cac"]]
      channel  new_customers  clv_per_customer   cac  clv_to_cac
    0   email              2              75.0  25.0      3.0
    1  social              1               0.0  80.0      0.0
    """
    table = as_table(customers, "customers")
    if start is not None:
        table = table.filter(table.signup_at >= to_utc(start, "start"))
    if end is not None:
        table = table.filter(table.signup_at < to_utc(end, "end"))
    people = table.select("customer_id", "channel").execute()
    id_col = value.columns[0]
    clv = value.set_index(id_col)["clv"]
    clv.index = clv.index.astype(str)
    people["clv"] = people["customer_id"].map(clv)
    out = (people.groupby("channel").agg(new_customers=("customer_id", "size"), buyers=("clv", "count"),
                                         clv_total=("clv", "sum")).reset_index())
    out["clv_per_customer"] = out["clv_total"] / out["new_customers"]
    if spend is None:
        return out.assign(spend=np.nan, cac=np.nan, clv_to_cac=np.nan).sort_values("channel").reset_index(drop=True)
    # CAC and CLV:CAC have one definition, in kpilib.marketing
    from kpilib.marketing import acquisition_costs

    costs = acquisition_costs(spend, customers, period=None, by="channel", clv=value, start=start, end=end)
    costs = costs.loc[costs["channel"] != "all", ["channel", "spend", "cac", "clv_to_cac"]]
    out = out.merge(costs, on="channel", how="outer")
    out[["new_customers", "buyers"]] = out[["new_customers", "buyers"]].fillna(0).astype(int)
    out[["clv_total", "clv_per_customer"]] = out[["clv_total", "clv_per_customer"]].fillna(0.0)
    return out.sort_values("channel").reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# A study: data, periods and reference values for the notebook
# ---------------------------------------------------------------------------------------


@dataclass
class CLVStudy:
    """What the CLV notebook analyses: the orders, the periods, the unit and a reference.

    Made by :func:`clv_study`. ``reference`` holds published (CDNOW) or true (generated
    sample) parameters, in the shape :func:`parameter_table` takes.
    """

    dataset: str
    orders: ibis.Table | pd.DataFrame | None
    customers: ibis.Table | pd.DataFrame | None
    spend: ibis.Table | pd.DataFrame | None
    month: str
    calibration_start: pd.Timestamp | None
    calibration_end: pd.Timestamp
    observation_end: pd.Timestamp
    freq: str
    freq_multiplier: int
    reference: dict[str, Any] | None
    reference_label: str

    @property
    def periods(self) -> pd.DataFrame:
        """The periods as a small table for display."""
        return pd.DataFrame({
            "period": ["calibration", "holdout"],
            "from": [str(self.calibration_start.date()) if self.calibration_start is not None else "first order",
                     str((self.calibration_end + pd.Timedelta(seconds=1)).date())],
            "to": [str(self.calibration_end.date()), str(self.observation_end.date())],
            "time unit": [TimeUnit(self.freq, self.freq_multiplier).name] * 2,
        })


def _month_end(month: str) -> pd.Timestamp:
    return month_bounds(month)[1] - pd.Timedelta(microseconds=1)


def _periods_for(month: str, holdout_months: int, calibration_months: int) -> tuple:
    if holdout_months < 1:
        raise ValueError(f"holdout_months must be at least 1, got {holdout_months!r}")
    end = _month_end(month)
    cal_end = _month_end(str(pd.Period(month, freq="M") - holdout_months))
    start = None
    if calibration_months:
        start = (pd.Period(month, freq="M") - holdout_months - calibration_months + 1).start_time.tz_localize("UTC")
    return start, cal_end, end


def _feasible_holdout(orders: ibis.Table, month: str, holdout_months: int) -> int:
    """``holdout_months``, or fewer when the orders before the holdout would span less time
    than the holdout itself (early months of a young dataset); a warning says so."""
    first = orders.ts.min().execute()
    if first is None or pd.isna(first):
        raise DataError("there are no orders", table="orders", fix="The CLV analysis needs an orders table with rows")
    history = (pd.Period(month, freq="M") - pd.Period(pd.Timestamp(first).tz_localize(None), freq="M")).n + 1
    if history < 2:
        raise DataError(
            f"the orders start in {pd.Timestamp(first):%Y-%m}, so there is less than two months of history by "
            f"the end of {month}",
            table="orders",
            column="ts",
            fix="Report a later month; a calibration and a holdout period both need time",
        )
    if holdout_months <= history // 2:
        return holdout_months
    shortened = max(1, history // 2)
    warnings.warn(
        f"the orders start in {pd.Timestamp(first):%Y-%m}: {history} months of history by the end of {month} "
        f"cannot hold a {holdout_months}-month holdout after a calibration period as long; using "
        f"{shortened} month(s) instead",
        UserWarning,
        stacklevel=3,
    )
    return shortened


def clv_study(
    dataset: Literal["sample", "cdnow"] = "sample",
    *,
    source: Any = None,
    month: str = "2026-10",
    holdout_months: int = 6,
    calibration_months: int = 0,
) -> CLVStudy:
    """Gather the data and the periods the CLV notebook analyses.

    Parameters
    ----------
    dataset : {"sample", "cdnow"}
        ``"sample"``: the orders of ``source`` (a folder, dict or connection; default the
        bundled sample), in days, holdout = the ``holdout_months`` months up to the end of
        ``month``, calibration = the ``calibration_months`` months before it (0 = all
        history); the reference is ``truth.json``'s CLV parameters when present.
        ``"cdnow"``: the CDNOW sample inside lifetimes with the paper's setting (weeks,
        calibration to 1997-09-30, holdout to 1998-06-30, month 1998-06); the reference is
        the published parameters.

    Examples
    --------
    >>> study = clv_study("cdnow")
    >>> study.periods[["period", "to", "time unit"]]
            period          to time unit
    0  calibration  1997-09-30     weeks
    1      holdout  1998-06-30     weeks
    """
    if dataset == "cdnow":
        published = CDNOW_PUBLISHED
        return CLVStudy("cdnow", load_cdnow(), None, None, "1998-06", None,
                        to_utc(published["calibration_end"], "end"),
                        to_utc(published["observation_end"], "end"),
                        published["freq"], published["freq_multiplier"],
                        {"bgnbd": published["bgnbd"], "gamma_gamma": published["gamma_gamma"]},
                        "published (Fader, Hardie & Lee 2005)")
    if dataset != "sample":
        raise ValueError(f"dataset must be 'sample' or 'cdnow', got {dataset!r}")
    from kpilib.data import load_dataset

    ds = load_dataset(source or None)
    holdout_months = _feasible_holdout(ds.require("orders", "the CLV analysis"), month, holdout_months)
    start, cal_end, end = _periods_for(month, holdout_months, calibration_months)
    reference, label = None, ""
    folder = ds.source
    truth_path = None
    if folder and folder not in ("DataFrames",) and not folder.endswith("connection"):
        from pathlib import Path

        truth_path = Path(folder) / "truth.json"
    if truth_path is not None and truth_path.exists():
        import json

        truth = json.loads(truth_path.read_text())
        clv_truth = truth.get("clv", {})
        if clv_truth.get("bgnbd", {}).get("time_unit") == "days":
            reference = {"bgnbd": clv_truth["bgnbd"], "gamma_gamma": clv_truth.get("gamma_gamma", {})}
            label = "true (truth.json of the generated data)"
    return CLVStudy("sample", ds.orders, ds.customers, ds.spend, month, start, cal_end, end, "D", 1,
                    reference, label)


# ---------------------------------------------------------------------------------------
# Headline metrics
# ---------------------------------------------------------------------------------------


#: Thresholds of the headline verdict (see :func:`headline_metrics`): a CLV figure is
#: marked "unreliable" when the fit has fewer repeat buyers (customers with frequency > 0)
#: than ``min_repeat_buyers`` or than ``min_repeat_share`` of the customers, when the model
#: clearly loses to the best naive baseline in the holdout (MAE ratio above
#: ``max_mae_ratio``), or when a bootstrap interval's high/low ratio exceeds
#: ``max_interval_ratio``. The MAE ratio allows some slack: a per-customer MAE favours the
#: all-zero baseline (most customers buy nothing in a holdout), so even the textbook CDNOW
#: fit scores 1.02–1.06 with a 6-month holdout (1.17–1.33 with 3 months).
RELIABILITY_THRESHOLDS: dict[str, float] = {
    "min_repeat_buyers": 30,
    "min_repeat_share": 0.02,
    "max_mae_ratio": 1.5,
    "max_interval_ratio": 10.0,
}

#: The metrics the verdict applies to (the holdout metrics are the diagnostic itself).
_MODEL_METRICS = ("clv_active_customers", "clv_expected_purchases", "clv_total", "clv_median")


def _fit_reasons(fit: CLVFit) -> list[str]:
    """Why a fit is not to be trusted: too few repeat buyers, a boundary/penalised fit."""
    reasons = []
    frequency = fit.summary["frequency"]
    repeat, n = int((frequency > 0).sum()), len(frequency)
    need, share = RELIABILITY_THRESHOLDS["min_repeat_buyers"], RELIABILITY_THRESHOLDS["min_repeat_share"]
    if repeat < need:
        reasons.append(f"{repeat} repeat buyers (< {need:g} needed)")
    elif n and repeat / n < share:
        reasons.append(f"{repeat} repeat buyers, {repeat / n:.1%} of customers (< {share:.0%} needed)")
    transactions = fit.transactions
    title = _MODEL_TITLES.get(fit.model, fit.model)
    verdict = getattr(transactions, "verdict_", "converged")
    if verdict != "converged":
        reasons.append(f"{title} {verdict} ({getattr(transactions, 'note_', '')})")
    elif getattr(transactions, "penalizer_coef", 0) > 0 and getattr(transactions, "note_", ""):
        reasons.append(f"{title} needed a penalizer to stay finite ({transactions.note_})")
    spend = fit.spend
    if spend is not None and getattr(spend, "verdict_", "converged") != "converged":
        reasons.append(f"Gamma–Gamma {spend.verdict_} ({spend.note_})")
    return reasons


def _month_figures(orders: ibis.Table | pd.DataFrame, month: str, *, model: str, freq: str, freq_multiplier: int,
                   horizon_months: float, annual_discount_rate: float, holdout_months: int,
                   reasons: list[str] | None = None) -> list[dict]:
    """The headline figures of one month; a model that does not converge gives NaN values
    (and a warning) rather than no report. Why the fits are not to be trusted is appended
    to ``reasons`` (see :data:`RELIABILITY_THRESHOLDS`)."""
    reasons = [] if reasons is None else reasons
    _, cal_end, end = _periods_for(month, holdout_months, 0)
    nan = np.nan
    names = ["clv_active_customers", "clv_expected_purchases", "clv_total", "clv_median", "clv_holdout_mae",
             "clv_holdout_mae_vs_baseline"]
    figures = {name: {"metric": name, "value": nan} for name in names}
    summary = rfm_summary(orders, monetary_value_col="amount", observation_period_end=end, freq=freq,
                          freq_multiplier=freq_multiplier)
    try:
        fit = fit_clv(summary, model=model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the notebook shows the independence check
            value = customer_value(fit, horizon=horizon_months, horizon_unit="months",
                                   annual_discount_rate=annual_discount_rate)
    except (ConvergenceError, DataError) as exc:
        warnings.warn(f"{month}: no CLV figures ({exc})", UserWarning, stacklevel=3)
    else:
        active = int((value["p_alive"] > 0.5).sum())
        figures["clv_active_customers"].update(value=active, numerator=active, denominator=len(value))
        figures["clv_expected_purchases"]["value"] = float(expected_purchases(fit, horizon=1, horizon_unit="months").sum())
        figures["clv_total"]["value"] = float(value["clv"].sum())
        figures["clv_median"]["value"] = float(value["clv"].median())
        reasons += _fit_reasons(fit)
    try:
        holdout = calibration_holdout_summary(orders, cal_end, observation_period_end=end, freq=freq,
                                              freq_multiplier=freq_multiplier)
        card = holdout_scorecard(fit_clv(holdout, model=model, spend_model=False), holdout).set_index("predictor")
    except (ConvergenceError, DataError) as exc:
        warnings.warn(f"{month}: no holdout check ({exc})", UserWarning, stacklevel=3)
    else:
        figures["clv_holdout_mae"]["value"] = float(card.loc["model", "mae"])
        ratio = float(card.loc["model", "mae_vs_best_baseline"])
        figures["clv_holdout_mae_vs_baseline"]["value"] = ratio
        if ratio > RELIABILITY_THRESHOLDS["max_mae_ratio"]:
            reasons.append(f"loses to the naive baseline in the holdout (MAE ratio {ratio:.3g})")
    return list(figures.values())


@computes("clv_active_customers", "clv_expected_purchases", "clv_total", "clv_median", "clv_holdout_mae",
          "clv_holdout_mae_vs_baseline")
def headline_metrics(
    orders: ibis.Table | pd.DataFrame,
    month: str,
    *,
    model: ModelName = "bgnbd",
    horizon_months: float = 12,
    annual_discount_rate: float = 0.10,
    holdout_months: int = 6,
    freq: str = "D",
    freq_multiplier: int = 1,
    bootstrap_replicates: int = 0,
) -> pd.DataFrame:
    """The CLV notebook's headline numbers for ``month`` and the month before.

    For each of the two months, as of its last instant: the model and Gamma–Gamma are
    fitted on all orders so far, and

    * ``clv_active_customers`` — customers with P(alive) > 0.5 (numerator) of the
      customers with an order (denominator);
    * ``clv_expected_purchases`` — expected repeat purchases over the next month;
    * ``clv_total``, ``clv_median`` — total and median predicted CLV over
      ``horizon_months``, discounted at ``annual_discount_rate``; with
      ``bootstrap_replicates`` > 0 the total gets a bootstrap interval;
    * ``clv_holdout_mae`` and ``clv_holdout_mae_vs_baseline`` — the model refitted with
      the last ``holdout_months`` months held out, scored on them (see
      :func:`holdout_scorecard`).

    Each month's fits get a verdict (thresholds in :data:`RELIABILITY_THRESHOLDS`). The
    four model figures (not the holdout metrics, which are the diagnostic) carry a
    ``note`` ``"unreliable: …"`` naming every reason that applies:

    * fewer than 30 repeat buyers (customers with frequency > 0), or fewer than 2 % of
      the customers — too little repeat behaviour to separate purchase rate from dropout;
    * the transaction model's verdict is not "converged", or its maximum is on the
      boundary and a penalizer was needed to keep the parameters finite; Gamma–Gamma's
      verdict is not "converged";
    * the model clearly loses to the best naive baseline in the holdout (MAE ratio
      > 1.5; the slack because a per-customer MAE favours the all-zero baseline — the
      textbook CDNOW fit scores 1.06 with a 6-month holdout);
    * with ``bootstrap_replicates`` > 0, the 95 % interval of the total CLV spans more
      than a factor 10 (high / low), or its low end is not positive.

    A reliable month's note is None.

    Returns
    -------
    pandas.DataFrame
        ``metric``, ``month``, ``value``, ``numerator``, ``denominator``, ``ci_low``,
        ``ci_high`` (NaN where not applicable) and ``note`` (None, or
        ``"unreliable: …"``), two rows per metric.

    Examples
    --------
    >>> from kpilib.clv import headline_metrics, load_cdnow
    >>> kpis = headline_metrics(load_cdnow(), "1998-06", freq_multiplier=7)
    >>> kpis.groupby("month").size().to_dict()
    {'1998-05': 6, '1998-06': 6}
    >>> bool(kpis["note"].isna().all())  # a healthy fit: no "unreliable" note
    True
    """
    validate_month(month)
    _check_model(model)
    rows = []
    for label in (month, previous_month(month)):
        reasons: list[str] = []
        figures = _month_figures(orders, label, model=model, freq=freq, freq_multiplier=freq_multiplier,
                                 horizon_months=horizon_months, annual_discount_rate=annual_discount_rate,
                                 holdout_months=holdout_months, reasons=reasons)
        if bootstrap_replicates:
            end = _month_end(label)
            summary = rfm_summary(orders, monetary_value_col="amount", observation_period_end=end, freq=freq,
                                  freq_multiplier=freq_multiplier)
            boot = bootstrap(fit_clv(summary, model=model), replicates=bootstrap_replicates,
                             horizon=horizon_months, horizon_unit="months",
                             annual_discount_rate=annual_discount_rate)
            total = boot.intervals.set_index("parameter").loc["clv_total"]
            for row in figures:
                if row["metric"] == "clv_total":
                    row.update(ci_low=float(total["ci_low"]), ci_high=float(total["ci_high"]))
            low, high = float(total["ci_low"]), float(total["ci_high"])
            limit = RELIABILITY_THRESHOLDS["max_interval_ratio"]
            if np.isfinite(low) and np.isfinite(high) and not (low > 0 and high / low <= limit):
                span = f"spans a factor {high / low:.3g}" if low > 0 else f"runs from {low:.3g} to {high:.3g}"
                reasons.append(f"the 95% interval of total CLV {span} (> {limit:g})")
        note = f"unreliable: {'; '.join(dict.fromkeys(reasons))}" if reasons else None
        rows += [{"month": label, **row, "note": note if row["metric"] in _MODEL_METRICS else None}
                 for row in figures]
    out = pd.DataFrame(rows)
    for column in ("numerator", "denominator", "ci_low", "ci_high"):
        if column not in out.columns:
            out[column] = np.nan
    columns = ["metric", "month", "value", "numerator", "denominator", "ci_low", "ci_high", "note"]
    return out[columns].astype(
        {"value": float, "numerator": float, "denominator": float, "ci_low": float, "ci_high": float,
         "note": object}
    )


