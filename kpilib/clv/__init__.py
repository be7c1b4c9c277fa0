"""Probabilistic customer lifetime value: RFM summaries, BG/NBD-family models, Gamma–Gamma.

The fitting is done by `lifetimes <https://lifetimes.readthedocs.io>`_; this package makes
it fast, correct in its units, checked against the literature and readable.

* **Summaries.** :func:`rfm_summary` and :func:`calibration_holdout_summary` return
  what ``lifetimes.utils.summary_data_from_transaction_data`` and
  ``calibration_and_holdout_data`` return (same index, columns and values), but each is
  one Ibis aggregation pushed down to the engine (DuckDB by default, a warehouse for a
  connection), so a billion orders never reach pandas: only one row per customer does.
  The data cut-off is ``as_of``, exclusive as in every kpilib domain (lifetimes'
  inclusive ``observation_period_end`` is accepted for one release and converted).
* **Units.** A summary records its time unit (``period``, ``period_multiplier`` in
  ``summary.attrs``, read with :func:`time_unit`); the fitters stamp it on the model
  (``model.time_unit_``). Every prediction takes its horizon with an explicit unit
  (``horizon=12, horizon_unit="months"``) and refuses a summary whose unit differs from
  the model's, or a model whose unit is unknown, with :class:`UnitMismatchError`.
  (lifetimes' ``customer_lifetime_value`` silently reads months as 30 model units: on
  CDNOW, a weekly model, that turns 12 months of value from about 30 into about 113.)
* **Fits.** :func:`fit_bgnbd`, :func:`fit_pareto_nbd`, :func:`fit_mbgnbd` and
  :func:`fit_gamma_gamma` fit on the unique ``(frequency, recency, T)`` (or
  ``(frequency, monetary_value)``) rows with their counts as ``weights``: the same
  likelihood, hence the same parameters, several times faster on large data.
* **Checks, uncertainty, value.** Period-transaction histogram with a χ² test, tracking,
  conditional expectations, a holdout scorecard against naive baselines, bootstrap
  intervals; :func:`customer_value` per customer, value tiers and CLV:CAC by channel.

Where things are
----------------
* ``_definitions`` — the metric records (P(alive), expected order value, CLV, headline)
* ``_units`` — :class:`TimeUnit`, :func:`time_unit`, horizon units
* ``_rfm`` — :func:`load_cdnow`, :func:`rfm_summary`, :func:`calibration_holdout_summary`,
  :func:`compress_rfm` (Ibis)
* ``_models`` — the fitters and their verdicts, :func:`fit_clv`, :func:`model_from_params`
* ``_value`` — :func:`probability_alive`, :func:`expected_purchases`,
  :func:`customer_value`, :func:`value_tiers`, :func:`value_by_channel`
* ``_checks`` — :func:`period_transactions`, :func:`holdout_scorecard`,
  :func:`conditional_expectations`, :func:`purchase_tracking`,
  :func:`frequency_recency_matrix`
* ``_uncertainty`` — :func:`bootstrap`, :func:`parameter_table`
* ``_study`` — :func:`clv_study`, the notebook's data, periods and reference
* ``_headline`` — :func:`headline_metrics` and its reliability verdict

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

from kpilib.clv import _definitions  # noqa: F401  (registers the records first)
from kpilib.clv._checks import (
    conditional_expectations,
    frequency_recency_matrix,
    holdout_scorecard,
    period_transactions,
    purchase_tracking,
)
from kpilib.clv._headline import RELIABILITY_THRESHOLDS, headline_metrics
from kpilib.clv._models import (
    MODELS,
    CLVFit,
    ModelName,
    fit_bgnbd,
    fit_clv,
    fit_gamma_gamma,
    fit_mbgnbd,
    fit_pareto_nbd,
    model_from_params,
)
from kpilib.clv._rfm import (
    CDNOW_PUBLISHED,
    calibration_holdout_summary,
    compress_rfm,
    load_cdnow,
    rfm_summary,
)
from kpilib.clv._study import CLVStudy, clv_study
from kpilib.clv._uncertainty import Bootstrap, bootstrap, parameter_table
from kpilib.clv._units import DAYS_PER_MONTH, HORIZON_UNITS, TimeUnit, UnitMismatchError, time_unit
from kpilib.clv._value import (
    INDEPENDENCE_WARNING,
    customer_value,
    expected_purchases,
    frequency_monetary_correlation,
    probability_alive,
    value_by_channel,
    value_tiers,
)

__all__ = [
    "CDNOW_PUBLISHED",
    "DAYS_PER_MONTH",
    "HORIZON_UNITS",
    "INDEPENDENCE_WARNING",
    "MODELS",
    "RELIABILITY_THRESHOLDS",
    "Bootstrap",
    "CLVFit",
    "CLVStudy",
    "ModelName",
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
