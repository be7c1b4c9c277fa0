"""The CLV domain's metric records: per-customer value (P(alive), expected order value,
predicted CLV) and the notebook's headline figures. The functions computing them
(:func:`~kpilib.clv.customer_value`, :func:`~kpilib.clv.headline_metrics`) tie themselves
to these records with :func:`kpilib.metrics.computes`."""

from __future__ import annotations

from kpilib.metrics import Metric, register

_EXAMPLE_MODEL = (
    ">>> import pandas as pd\n"
    ">>> from kpilib import clv\n"
    '>>> bg = clv.model_from_params("bgnbd", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},\n'
    '...                             time_unit=clv.TimeUnit("D", 7))  # CDNOW, weeks\n'
    '>>> gg = clv.model_from_params("gamma_gamma", {"p": 6.25, "q": 3.74, "v": 15.44})\n'
    '>>> summary = pd.DataFrame({"frequency": [0.0, 2.0, 7.0], "recency": [0.0, 30.43, 35.0],\n'
    '...     "T": [38.86, 38.86, 38.86], "monetary_value": [0.0, 22.35, 40.0]},\n'
    '...     index=pd.Index(["a", "b", "c"], name="customer_id"))\n'
    '>>> summary.attrs.update(period="D", period_multiplier=7)\n'
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
        formula=r"\mathrm{CLV}_{h,i} = E(M_i) \sum_{k=1}^{K}\bigl[E(X_i(t_k)) - E(X_i(t_{k-1}))\bigr]"
        r"\,(1 + d)^{-t_k/365.25\,\text{days}}, \quad t_k = \min(k \cdot 365.25/12\ \text{days},\ h)",
        definition=(
            "Expected, discounted value of a customer's purchases over the next h (the "
            "horizon), in monthly steps t_k (365.25/12 days; the last may be shorter): the "
            "expected number of repeat purchases in each month (transaction model, conditional "
            "on the customer's history) times the expected order value E(M_i) (Gamma–Gamma), "
            "discounted to today at the annual rate d (a monthly step by (1 + d)^(1/12))."
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
    '>>> kpis = headline_metrics(load_cdnow(), "1998-06", period_multiplier=7, holdout_months=6,\n'
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
