"""Every figure of the kit.

Each function takes a result computed elsewhere in kpilib (a tidy DataFrame or a result
object), draws it on ``ax`` (a new figure when ``None``) in seaborn's style and returns
the :class:`matplotlib.axes.Axes`. A figure never computes a metric: intervals, flags
and counts all come with the result.

Where things are
----------------
* ``_style`` — the shared look: axes, percent ticks with significant decimals, interval
  whiskers, :data:`MISSING_LABEL` / :func:`label_missing`, the top N + "other" rule
* ``_funnel``, ``_churn``, ``_engagement``, ``_marketing``, ``_clv`` — the figures of each
  domain

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> table = pd.DataFrame({"step_index": [1, 2], "step": ["visit", "signup"],
...     "users": [100, 20], "conversion": [1.0, 0.2], "ci_low": [0.96, 0.13],
...     "ci_high": [1.0, 0.29]})
>>> ax = plot_funnel(table)
>>> len(ax.patches)
2
"""

from kpilib.plots._churn import (
    plot_churn_rate,
    plot_mrr_movements,
    plot_retention_heatmap,
    plot_revenue_retention,
    plot_sbg_projection,
    plot_sbg_projections,
    plot_survival,
)
from kpilib.plots._clv import (
    plot_clv_distribution,
    plot_conditional_expectations,
    plot_frequency_recency_matrix,
    plot_holdout_scorecard,
    plot_parameter_recovery,
    plot_period_transactions,
    plot_tracking,
    plot_value_by_channel,
    plot_value_tiers,
)
from kpilib.plots._engagement import (
    plot_active_users,
    plot_email_campaigns,
    plot_feature_adoption,
    plot_health_distribution,
    plot_health_lift,
    plot_lifecycle,
    plot_roc,
    plot_stickiness,
    plot_stickiness_histogram,
    plot_survey_trend,
    plot_time_to_value,
)
from kpilib.plots._funnel import (
    plot_ab_comparison,
    plot_conversion_by,
    plot_drop_off,
    plot_funnel,
    plot_funnel_trends,
    plot_lead_score_profile,
    plot_nurture,
    plot_time_to_convert,
)
from kpilib.plots._marketing import (
    plot_attribution,
    plot_cac,
    plot_clv_cac,
    plot_influenced_revenue,
    plot_return_on_spend,
    plot_spend,
)
from kpilib.plots._style import MISSING_LABEL, SMALL_SAMPLE_COLOUR, label_missing

__all__ = [
    "SMALL_SAMPLE_COLOUR",
    "MISSING_LABEL",
    "label_missing",
    "plot_ab_comparison",
    "plot_active_users",
    "plot_attribution",
    "plot_cac",
    "plot_churn_rate",
    "plot_clv_cac",
    "plot_clv_distribution",
    "plot_conditional_expectations",
    "plot_conversion_by",
    "plot_drop_off",
    "plot_email_campaigns",
    "plot_feature_adoption",
    "plot_frequency_recency_matrix",
    "plot_funnel",
    "plot_funnel_trends",
    "plot_health_distribution",
    "plot_health_lift",
    "plot_holdout_scorecard",
    "plot_influenced_revenue",
    "plot_lead_score_profile",
    "plot_lifecycle",
    "plot_mrr_movements",
    "plot_nurture",
    "plot_parameter_recovery",
    "plot_period_transactions",
    "plot_retention_heatmap",
    "plot_return_on_spend",
    "plot_revenue_retention",
    "plot_roc",
    "plot_sbg_projection",
    "plot_sbg_projections",
    "plot_spend",
    "plot_stickiness",
    "plot_stickiness_histogram",
    "plot_survey_trend",
    "plot_survival",
    "plot_time_to_convert",
    "plot_time_to_value",
    "plot_tracking",
    "plot_value_by_channel",
    "plot_value_tiers",
]
