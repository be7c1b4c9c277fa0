"""The customer health score, and whether it works: its AUC against the churn that followed.

The score is a transparent weighted mean of normalised components (recency, frequency
and breadth of activity, email engagement, latest NPS, plan and tenure) at the end of a
month, read from the ``events``, ``email``, ``surveys`` and ``subscriptions`` tables.
It is judged by how well it ranks the subscribers who churned the following month.

*Subscription spells* (:func:`kpilib.spells.subscription_spells`): a plan change ends one
subscription row and starts another at the same instant; rows that touch like that are
one spell. A customer churns when a spell ends; a same-instant plan change is not churn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats as _sps

from kpilib.data import as_table, column_list, memtable
from kpilib.engagement._activity import DEFAULT_ACTIVITY_EVENTS, _active_events
from kpilib.metrics import Metric, computes, register
from kpilib.periods import day_index, month_bounds, months_between, time_filter
from kpilib.spells import subscription_spells
from kpilib.stats import auc_interval, rate_frame

#: The components of the health score and what each measures (each normalised to 0–1).
HEALTH_COMPONENTS: dict[str, str] = {
    "recency": "1 − days since the last activity / recency_days, floored at 0",
    "frequency": "active days in the last recency_days, relative to the 90th percentile of "
    "the scored customers, capped at 1",
    "breadth": "distinct features used in the lookback / features used by anyone in it",
    "email": "(opened + clicked) / (2 × delivered) over the mails of the lookback",
    "nps": "latest NPS answer in the last 365 days / 10",
    "plan": "rank of the current plan's MRR among the plans held (0 cheapest, 1 dearest)",
    "tenure": "calendar months in the current subscription spell / 12, capped at 1",
}

#: Default weights of the health-score components (rescaled to sum to 1).
DEFAULT_HEALTH_WEIGHTS: dict[str, float] = {
    "recency": 0.25,
    "frequency": 0.20,
    "breadth": 0.15,
    "email": 0.10,
    "nps": 0.10,
    "plan": 0.10,
    "tenure": 0.10,
}


#: Thresholds of the health score's verdict (see :func:`validate_health_score`): an AUC
#: is marked "unreliable" when fewer than ``min_churned`` scored subscribers churned (an
#: AUC on a handful of churners swings by chance, and its Hanley–McNeil interval is then
#: itself approximate), when its 95 % interval contains ``chance_auc`` (0.5: the score may
#: rank churners no better than a coin), or when fewer than ``min_informative_components``
#: components vary across the scored customers (one varying component is a single
#: signal, e.g. recency alone, not a health score).
HEALTH_RELIABILITY_THRESHOLDS: dict[str, float] = {
    "min_churned": 10,
    "chance_auc": 0.5,
    "min_informative_components": 2,
}


def _check_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    weights = dict(DEFAULT_HEALTH_WEIGHTS if weights is None else weights)
    unknown = sorted(set(weights) - set(HEALTH_COMPONENTS))
    if unknown:
        raise ValueError(f"unknown health-score component(s) {unknown}; use {list(HEALTH_COMPONENTS)}")
    bad = {k: v for k, v in weights.items() if not np.isfinite(v) or v < 0}
    if bad:
        raise ValueError(f"health-score weights must be non-negative numbers, got {bad}")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("health-score weights sum to 0; give at least one positive weight")
    return {k: v / total for k, v in weights.items() if v > 0}


def _populations(subscriptions: ibis.Table | pd.DataFrame | None, windows: pd.DataFrame) -> pd.DataFrame | None:
    """Per scored month of ``windows`` (its ``month`` and ``as_of``, the month's end), the
    subscribers whose spell is open at ``as_of``: ``month``, ``customer_id``,
    ``tenure_months`` (calendar months of the open spell,
    :func:`kpilib.periods.months_between`), ``mrr`` (of the rows open at ``as_of``) and
    ``churned`` (1 when that spell ends before the end of the following month) — every
    month in one query, ordered by month and customer."""
    if subscriptions is None:
        return None
    follows = [month_bounds(str(pd.Period(m, freq="M") + 1))[1] for m in windows["month"]]
    bounds = memtable(pd.DataFrame({"month": windows["month"].to_numpy(), "_as_of": windows["as_of"].to_numpy(),
                                    "_outcome_end": pd.Series(follows, dtype=windows["as_of"].dtype).to_numpy()}))
    spells = subscription_spells(subscriptions)
    live = spells.join(bounds, (spells.start_at < bounds._as_of)
                       & (spells.end_at.isnull() | (spells.end_at >= bounds._as_of)))
    live = live.group_by(["month", "customer_id"]).agg(
        spell_start=live.start_at.min(), _at=live._as_of.max(),
        churned=(live.end_at.notnull() & (live.end_at < live._outcome_end)).cast("int32").max(),
    )
    live = months_between(live, "spell_start", "_at", name="tenure_months").drop("spell_start", "_at")
    subs = as_table(subscriptions, "subscriptions")
    rows = subs.join(bounds, (subs.start_at < bounds._as_of) & (subs.end_at.isnull() | (subs.end_at >= bounds._as_of)))
    rows = rows.group_by(["month", "customer_id"]).agg(mrr=rows.mrr.max())
    out = live.left_join(rows, ["month", "customer_id"])
    out = out.select("month", "customer_id", "tenure_months", "mrr", "churned").order_by(["month", "customer_id"])
    return out.execute()


def _scored(populations: pd.DataFrame | None, month: str) -> pd.DataFrame | None:
    """The subscribers scored in ``month`` (``customer_id``, ``tenure_months``, ``mrr``)."""
    of_month = _of_month(populations, month)
    return None if of_month is None else of_month[["customer_id", "tenure_months", "mrr"]]


register(
    Metric(
        name="health_score",
        title="Customer health score",
        stage="engagement",
        formula=r"\text{health}_u = 100\,\frac{\sum_{k \in A_u} w_k\, c_{k,u}}{\sum_{k \in A_u} w_k}, "
        r"\quad c_{k,u} \in [0, 1]",
        definition=(
            "A transparent score from 0 to 100 per customer at the end of a month: a weighted "
            "mean of normalised components (recency of activity, frequency, breadth of "
            "feature use, email engagement, latest NPS, plan and tenure), each shown beside "
            "the score. A_u are the components available for the customer (no NPS answer: "
            "that component is left out and the other weights rescale). A component with the "
            "same value for every customer carries no information and is left out for all "
            "(the result names it), so it cannot tie the scores."
        ),
        pitfalls=(
            "The weights are a judgement, not a fit: a score is only worth what its "
            "validation shows (the AUC of last month's score against this month's churn). "
            "Components that merely describe the plan can rank churners without telling "
            "anyone what to do; act on the weakest component instead. With few churners "
            "(or an AUC interval containing 0.5) the validation cannot support the score, "
            "and kpilib marks it unreliable."
        ),
        unit="score",
        higher_is_better=True,
        example=">>> import pandas as pd\n"
        ">>> from kpilib.engagement import health_score\n"
        ">>> events = pd.DataFrame({\"customer_id\": [\"a\", \"b\"],\n"
        "...     \"ts\": [\"2026-10-30\", \"2026-10-01\"], \"event\": [\"page_view\", \"page_view\"]})\n"
        ">>> h = health_score(events, \"2026-10\", weights={\"recency\": 1})\n"
        ">>> h[[\"customer_id\", \"days_since_active\", \"recency\", \"score\"]]\n"
        "  customer_id  days_since_active   recency  score\n"
        "0           b               31.0  0.000000    0.0\n"
        "1           a                2.0  0.933333   93.3",
        reference="Gainsight and ChurnZero customer-health guides (weighted scorecards).",
    )
)


@computes("health_score")
def health_score(
    events: ibis.Table | pd.DataFrame,
    month: str,
    *,
    subscriptions: ibis.Table | pd.DataFrame | None = None,
    email: ibis.Table | pd.DataFrame | None = None,
    surveys: ibis.Table | pd.DataFrame | None = None,
    weights: Mapping[str, float] | None = None,
    activity_events: Sequence[str] | None = DEFAULT_ACTIVITY_EVENTS,
    lookback_days: int = 90,
    recency_days: int = 30,
    at_risk_below: float = 40.0,
    healthy_from: float = 70.0,
) -> pd.DataFrame:
    r"""A transparent health score per customer at the end of ``month``.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    month : str
        ``"YYYY-MM"``; the score is as of the first instant of the next month.
    subscriptions : ibis.Table or pandas.DataFrame, optional
        When given, the scored customers are the subscribers whose spell is open at the
        end of the month, and the ``plan`` and ``tenure`` components are available.
        Otherwise every customer active in the last ``lookback_days`` is scored.
    email, surveys : ibis.Table or pandas.DataFrame, optional
        For the ``email`` and ``nps`` components.
    weights : dict, optional
        Component → weight (see :data:`HEALTH_COMPONENTS`); rescaled to sum to 1;
        components left out get weight 0. Default :data:`DEFAULT_HEALTH_WEIGHTS`.
    activity_events : list of str or None
        Events that count as activity.
    lookback_days : int, default 90
        Window for breadth and email engagement.
    recency_days : int, default 30
        Recency falls linearly to 0 over this many days; frequency counts active days in
        this window.
    at_risk_below, healthy_from : float
        Score bands: ``"at risk"`` below the first, ``"healthy"`` from the second,
        ``"watch"`` between.

    Returns
    -------
    pandas.DataFrame
        One row per scored customer, lowest score first: ``customer_id``, ``month``, the
        raw inputs (``days_since_active``, ``active_days``, ``features_used``,
        ``mails_delivered``, ``latest_nps``, ``mrr``, ``tenure_months`` where available),
        one 0–1 column per weighted component that enters the score, ``score`` (0–100,
        one decimal), ``band`` and ``weakest`` (the component that costs the most points:
        largest :math:`w_k (1 - c_k)`). ``attrs`` hold ``weights`` (the components that
        entered the score, with their weights rescaled to sum to 1), ``dropped_components``
        (component → why it was left out) and ``note`` (one sentence saying so, or None).

    Notes
    -----
    :math:`A_u` are the weighted components available for customer :math:`u`.
    Recency, frequency and breadth are always available (no activity gives 0; breadth
    is left out when the data has no feature events at all); ``email``
    needs a delivered mail in the lookback, ``nps`` an answer in the last 365 days,
    ``plan`` and ``tenure`` the subscriptions table. The component formulas are in
    :data:`HEALTH_COMPONENTS`.

    A component with no variation across the scored customers (the same value for
    everyone — no email table in the lookback, every tenure capped at 12 months, one
    plan — or no value for anyone) carries no information: it is left out of the score,
    the remaining weights rescale, and ``attrs["note"]`` says which and why. (Kept in, it
    only shifts every score by the same points — or, for customers who lack it, makes
    scores tie at a few values.) When no component varies at all, nothing is dropped.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "b", "b"], "ts": ["2026-10-31", "2026-10-10", "2026-10-11"],
    ...     "event": ["page_view", "feature_use", "page_view"], "feature": [None, "api", None]})
    >>> health_score(events, "2026-10", weights={"recency": 1, "breadth": 1})[
    ...     ["customer_id", "recency", "breadth", "score", "weakest"]]
      customer_id   recency  breadth  score  weakest
    0           a  0.966667      0.0   48.3  breadth
    1           b  0.300000      1.0   65.0  recency
    """
    w = _check_weights(weights)
    windows = _score_windows([month], lookback_days, recency_days)
    month_of = windows["month"].iloc[0]
    inputs = _score_inputs(events, windows, email if "email" in w else None,
                           surveys if "nps" in w else None, activity_events)
    return _score_month(windows.iloc[0], inputs, _scored(_populations(subscriptions, windows), month_of), w,
                        recency_days, at_risk_below, healthy_from)


def _score_windows(months: Sequence[str], lookback_days: int, recency_days: int) -> pd.DataFrame:
    """Per scored month: ``month``, ``as_of`` (its end), the starts of its lookback
    (``window_start``), of its recency window (``recent_start``) and of its NPS year."""
    if recency_days <= 0 or lookback_days < recency_days:
        raise ValueError("recency_days must be positive and at most lookback_days")
    rows = []
    for month in months:
        _, as_of = month_bounds(month)
        rows.append({"month": str(pd.Period(month, freq="M")), "as_of": as_of,
                     "window_start": as_of - pd.Timedelta(days=lookback_days),
                     "recent_start": as_of - pd.Timedelta(days=recency_days),
                     "nps_start": as_of - pd.Timedelta(days=365)})
    return pd.DataFrame(rows)


def _in_windows(table: ibis.Table, column: str, windows: pd.DataFrame, start: str,
                extra: Sequence[str] = ()) -> ibis.Table:
    """The rows of ``table`` whose ``column`` lies in ``[start, as_of)`` of a scored month,
    each joined to its ``month`` (and the ``extra`` columns of ``windows``) — one scan of
    the table for every month."""
    table = time_filter(table, column, windows[start].min(), windows["as_of"].max())
    bounds = memtable(windows[["month", *extra]].assign(_from=windows[start], _to=windows["as_of"]))
    return table.join(bounds, (table[column] >= bounds._from) & (table[column] < bounds._to))


def _score_inputs(
    events: ibis.Table | pd.DataFrame, windows: pd.DataFrame, email: Any, surveys: Any,
    activity_events: Sequence[str] | None,
) -> dict[str, Any]:
    """The engine's aggregates behind the scores of every month of ``windows``, per
    ``month`` and customer: activity, distinct features, mail engagement and latest NPS."""
    acts = _active_events(as_table(events, "events"), activity_events)
    has_feature = "feature" in acts.columns
    acts = _in_windows(acts, "ts", windows, "window_start", extra=["recent_start"])
    out: dict[str, Any] = {}
    out["activity"] = acts.group_by(["month", "customer_id"]).agg(
        last_active=acts.ts.max(),
        active_days=ibis.cases((acts.ts >= acts.recent_start, day_index(acts.ts)), else_=ibis.null("int64")).nunique(),
        features_used=(acts.feature.nunique() if has_feature else ibis.literal(0)),
    ).execute()
    features = (acts.group_by("month").agg(n=acts.feature.nunique()).execute() if has_feature
                else pd.DataFrame({"month": [], "n": []}))
    out["n_features"] = dict(zip(features["month"], features["n"].astype(int), strict=True))
    out["mail"] = None
    if email is not None:
        mail = as_table(email, "email")
        mail = _in_windows(mail.filter(mail.bounce == "none"), "sent_at", windows, "window_start")
        out["mail"] = mail.group_by(["month", "customer_id"]).agg(
            mails_delivered=mail.count(),
            opened=(mail.opened_at.notnull() | mail.clicked_at.notnull()).sum(),
            clicked=mail.clicked_at.notnull().sum(),
        ).execute()
    out["nps"] = None
    if surveys is not None:
        s = as_table(surveys, "surveys")
        s = _in_windows(s.filter(s.survey == "nps"), "ts", windows, "nps_start")
        out["nps"] = s.group_by(["month", "customer_id"]).agg(latest_nps=s.score.argmax(s.ts)).execute()
    return out


def _of_month(frame: pd.DataFrame | None, month: str) -> pd.DataFrame | None:
    if frame is None:
        return None
    return frame[frame["month"] == month].drop(columns="month").reset_index(drop=True)


def _score_month(
    window: pd.Series, inputs: dict[str, Any], scored: pd.DataFrame | None, w: dict[str, float],
    recency_days: int, at_risk_below: float, healthy_from: float,
) -> pd.DataFrame:
    """The scores of one month (see :func:`health_score`) from :func:`_score_inputs`."""
    month, as_of = window["month"], window["as_of"]
    activity = _of_month(inputs["activity"], month)
    n_features = inputs["n_features"].get(month, 0)
    if scored is None:
        scored = activity[["customer_id"]].copy()
    scored = scored.merge(activity, on="customer_id", how="left")
    days_since = (as_of - pd.to_datetime(scored.last_active, utc=True)) / pd.Timedelta(days=1)
    scored["days_since_active"] = days_since
    scored["active_days"] = scored.active_days.fillna(0).astype("int64")
    scored["features_used"] = scored.features_used.fillna(0).astype("int64")
    components = pd.DataFrame(index=scored.index)
    components["recency"] = (1 - days_since / recency_days).clip(lower=0).fillna(0.0)
    benchmark = scored.active_days.quantile(0.9) if len(scored) else 0
    components["frequency"] = (scored.active_days / benchmark).clip(upper=1) if benchmark > 0 else 0.0
    # no feature events at all: breadth is unknown, not 0, and its weight goes to the others
    components["breadth"] = scored.features_used / n_features if n_features else np.nan

    per = _of_month(inputs["mail"], month)
    if per is not None:
        scored = scored.merge(per, on="customer_id", how="left")
        components["email"] = (scored.opened + scored.clicked) / (2 * scored.mails_delivered)
        scored = scored.drop(columns=["opened", "clicked"])
    latest = _of_month(inputs["nps"], month)
    if latest is not None:
        scored = scored.merge(latest, on="customer_id", how="left")
        components["nps"] = scored.latest_nps / 10
    if "mrr" in scored.columns:
        levels = np.sort(scored.mrr.dropna().unique())
        rank = scored.mrr.map({v: i for i, v in enumerate(levels)})
        components["plan"] = rank / (len(levels) - 1) if len(levels) > 1 else rank * 0 + 1.0
        components["tenure"] = (scored.tenure_months / 12).clip(upper=1)

    used = {k: v for k, v in w.items() if k in components.columns}
    if not used:
        raise ValueError(f"none of the weighted components {list(w)} can be computed from the tables given")
    comp = components[list(used)]
    varying = [k for k in used if comp[k].nunique(dropna=True) > 1]
    dropped: dict[str, str] = {}
    if varying:
        for k in used:
            if k not in varying:
                values = comp[k].dropna().unique()
                dropped[k] = (f"the same for every scored customer ({values[0]:.3g})" if len(values)
                              else "no value for any scored customer")
        used = {k: v for k, v in used.items() if k in varying}
        comp = comp[varying]
    weight = pd.Series(used)
    available = comp.notna().mul(weight, axis=1).sum(axis=1)
    points = comp.fillna(0).mul(weight, axis=1).sum(axis=1)
    out = scored.drop(columns=["last_active"])
    out.insert(1, "month", month)
    for k in used:
        out[k] = comp[k].astype(float)
    out["score"] = (100 * points / available.where(available > 0)).round(1)
    out["band"] = np.select([out.score < at_risk_below, out.score >= healthy_from], ["at risk", "healthy"], "watch")
    shortfall = (1 - comp).mul(weight, axis=1)
    out["weakest"] = shortfall.fillna(-1).idxmax(axis=1) if len(out) else pd.Series(dtype=object)
    out = out.sort_values(["score", "customer_id"]).reset_index(drop=True)
    total = sum(used.values())
    out.attrs["weights"] = {k: v / total for k, v in used.items()}
    out.attrs["dropped_components"] = dropped
    out.attrs["note"] = ("Left out of the score, as they do not vary (no information): "
                         + "; ".join(f"{k} ({why})" for k, why in dropped.items())
                         + ". The other weights rescale.") if dropped else None
    return out


register(
    Metric(
        name="health_score_auc",
        title="Health-score AUC (last month's score vs this month's churn)",
        stage="engagement",
        formula=r"\text{AUC} = \frac{1}{n_c n_s}\sum_{i \in \text{churned}}\sum_{j \in \text{stayed}}"
        r"\left([h_i < h_j] + \tfrac12 [h_i = h_j]\right) = \frac{R_c - n_c(n_c+1)/2}{n_c n_s}",
        definition=(
            "How well last month's health score ranked the subscribers who churned this "
            "month: the probability that a churner had a lower score than a subscriber who "
            "stayed (ties count half). 0.5 is a coin toss, 1 a perfect ranking. Computed "
            "with the Mann–Whitney rank formula (R_c: sum of the churners' ranks of the "
            "risk −h), with a Hanley–McNeil interval."
        ),
        pitfalls=(
            "With a handful of churners a month the interval is wide; judge the score over "
            "several months (health_score_backtest). An AUC says nothing about calibration: "
            "use the lift table to see how many churners the riskiest group catches."
        ),
        unit="ratio",
        higher_is_better=True,
        example=">>> from kpilib.engagement import roc_auc\n"
        ">>> round(roc_auc([True, False, True, False], [0.9, 0.1, 0.4, 0.4]), 3)\n"
        "0.875",
        reference="Hanley & McNeil, 'The meaning and use of the area under a ROC curve', "
        "Radiology 143 (1982).",
    )
)


@computes("health_score_auc")
def roc_auc(outcome: ArrayLike, score: ArrayLike) -> float:
    r"""Area under the ROC curve by the Mann–Whitney rank formula.

    Parameters
    ----------
    outcome : array_like of bool
        True for the positive class (e.g. churned).
    score : array_like of float
        Higher means more likely positive (e.g. a risk, minus a health score).

    Returns
    -------
    float
        The probability that a random positive scores higher than a random negative,
        ties counting half; NaN when either class is empty.

    Notes
    -----
    The formula above with the positives as the churners (:math:`n_c` of them, with
    :math:`R_c` the sum of their ranks among all scores, ties getting the mean rank), the
    negatives as the stayers and ``score`` as the risk :math:`-h`.

    Examples
    --------
    >>> roc_auc([True, True, False, False], [0.9, 0.8, 0.3, 0.1])
    1.0
    >>> roc_auc([True, False], [0.5, 0.5])
    0.5
    """
    y = np.asarray(outcome, dtype=bool)
    s = np.asarray(score, dtype=float)
    if y.shape != s.shape:
        raise ValueError("outcome and score must have the same length")
    keep = ~np.isnan(s)
    y, s = y[keep], s[keep]
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _sps.rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass
class HealthScoreValidation:
    """Result of :func:`validate_health_score`.

    Attributes
    ----------
    month : str
        The outcome month (churn counted in it); the score is of the month before.
    auc, auc_ci_low, auc_ci_high : float
        Probability that a churner scored lower than a customer who stayed, with its
        Hanley–McNeil 95 % interval.
    churned, stayed : int
        Scored subscribers who churned in ``month`` and who did not.
    lift : pandas.DataFrame
        Score groups from lowest to highest: ``group``, ``score_min``, ``score_max``,
        ``customers``, ``churned``, ``churn_rate`` with ``ci_low``/``ci_high``, ``lift``
        (group churn rate / overall churn rate) and ``cumulative_churners_share``.
    roc : pandas.DataFrame
        ``threshold``, ``false_positive_rate``, ``true_positive_rate`` (flagging customers
        with a score at or below the threshold).
    outcomes : pandas.DataFrame
        Per scored subscriber: ``customer_id``, ``score``, ``churned``.
    informative_components : list of str
        The score's components that vary across the scored customers.
    note : str or None
        ``"unreliable: …"`` with every reason the validation cannot support the score
        (thresholds in :data:`HEALTH_RELIABILITY_THRESHOLDS`), or None.
    """

    month: str
    auc: float
    auc_ci_low: float
    auc_ci_high: float
    churned: int
    stayed: int
    lift: pd.DataFrame
    roc: pd.DataFrame
    outcomes: pd.DataFrame
    informative_components: list[str] = field(default_factory=list)
    note: str | None = None

    def summary(self) -> pd.DataFrame:
        """One-row frame of the headline numbers (``note``: the verdict)."""
        return pd.DataFrame([{"month": self.month, "auc": self.auc, "auc_ci_low": self.auc_ci_low,
                              "auc_ci_high": self.auc_ci_high, "churned": self.churned,
                              "stayed": self.stayed, "note": self.note}])

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_() + self.lift._repr_html_()


@computes("health_score_auc")
def validate_health_score(
    scores: pd.DataFrame,
    subscriptions: ibis.Table | pd.DataFrame,
    groups: int = 5,
    month: str | None = None,
) -> HealthScoreValidation:
    r"""Judge a month's health score by the churn of the following month.

    Parameters
    ----------
    scores : pandas.DataFrame
        Output of :func:`health_score` for one month (columns ``customer_id``, ``month``,
        ``score``).
    subscriptions : ibis.Table or pandas.DataFrame
        The subscriptions table.
    groups : int, default 5
        Number of score groups of the lift table (quintiles by default).
    month : str, optional
        The scored month; needed only when ``scores`` is empty (no customer was scored),
        which gives an undefined (NaN) AUC rather than an error.

    Returns
    -------
    HealthScoreValidation

    Notes
    -----
    The outcome population is the scored customers whose subscription spell is open at
    the end of the score's month; a customer *churned* when that spell ends in the next
    month (a same-instant plan change continues the spell). The AUC is computed with
    :func:`roc_auc` on the risk :math:`-h`, its interval with
    :func:`kpilib.stats.auc_interval` (Hanley–McNeil).

    The verdict (:attr:`HealthScoreValidation.note`) is ``"unreliable: …"`` when fewer
    than 10 scored subscribers churned, when the AUC's 95 % interval contains 0.5 (or the
    AUC is undefined: nobody churned or nobody stayed), or when fewer than 2 of the
    score's components vary across the scored customers (see
    :data:`HEALTH_RELIABILITY_THRESHOLDS`). The example below, one churner, is marked.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"customer_id": ["a", "b", "c"], "month": "2026-09",
    ...     "score": [10.0, 80.0, 60.0]})
    >>> subs = pd.DataFrame({"customer_id": ["a", "b", "c"], "start_at": ["2026-01-01"] * 3,
    ...     "end_at": ["2026-10-15", None, None], "mrr": [29.0] * 3})
    >>> v = validate_health_score(scores, subs, groups=3)
    >>> v.auc, v.churned, v.stayed
    (1.0, 1, 2)
    >>> v.note.split("; ")[0]
    'unreliable: 1 subscriber churned (< 10 needed)'
    """
    for column in ("customer_id", "month", "score"):
        if column not in scores.columns:
            raise ValueError(f"scores must come from health_score(); column '{column}' is missing")
    months = scores["month"].astype(str).unique()
    if not len(months) and month is not None:
        months = [str(pd.Period(month, freq="M"))]
    if len(months) != 1:
        raise ValueError(f"scores must hold one month, got {sorted(months)}; pass month= for an empty one")
    scored_month = pd.Period(months[0], freq="M")
    _, as_of = month_bounds(str(scored_month))
    _, outcome_end = month_bounds(str(scored_month + 1))
    spells = subscription_spells(subscriptions)
    live = spells.filter((spells.start_at < as_of) & (spells.end_at.isnull() | (spells.end_at >= as_of)))
    live = live.select(
        customer_id=live.customer_id,
        churned=(live.end_at.notnull() & (live.end_at < outcome_end)).cast("int32"),
    ).execute()
    return _judge(scores, live, groups, scored_month)


def _judge(scores: pd.DataFrame, live: pd.DataFrame, groups: int, scored_month: pd.Period) -> HealthScoreValidation:
    """:func:`validate_health_score` from the subscribers open at the month's end (``live``:
    ``customer_id`` and ``churned``, one row per open spell or per customer)."""
    live = live.groupby("customer_id", as_index=False)["churned"].max()
    outcomes = scores[["customer_id", "score"]].merge(live, on="customer_id", how="inner")
    outcomes = outcomes[outcomes.score.notna()].reset_index(drop=True)
    outcomes["churned"] = outcomes.churned.astype(bool)
    y = outcomes.churned.to_numpy()
    auc = roc_auc(y, -outcomes.score.to_numpy())
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    low, high = auc_interval(auc, n_pos, n_neg)
    informative = [k for k in HEALTH_COMPONENTS if k in scores.columns and scores[k].nunique(dropna=True) > 1]
    return HealthScoreValidation(
        month=str(scored_month + 1), auc=auc, auc_ci_low=low, auc_ci_high=high, churned=n_pos,
        stayed=n_neg, lift=_lift_table(outcomes, groups), roc=_roc_curve(outcomes), outcomes=outcomes,
        informative_components=informative, note=_health_verdict(auc, low, high, n_pos, n_neg, informative),
    )


def _health_verdict(auc: float, low: float, high: float, churned: int, stayed: int,
                    informative: Sequence[str]) -> str | None:
    """``"unreliable: …"`` naming every reason of :data:`HEALTH_RELIABILITY_THRESHOLDS`, or None."""
    limits = HEALTH_RELIABILITY_THRESHOLDS
    reasons = []
    if churned < limits["min_churned"]:
        reasons.append(f"{churned} subscriber{'s' * (churned != 1)} churned (< {limits['min_churned']:g} needed)")
    if not np.isfinite(auc):
        reasons.append("the AUC is undefined (" + ("nobody churned" if not churned else "nobody stayed") + ")")
    elif np.isfinite(low) and np.isfinite(high) and low <= limits["chance_auc"] <= high:
        reasons.append(f"the AUC's 95% interval ({low:.2f}–{high:.2f}) contains {limits['chance_auc']:g}: "
                       "no better than chance")
    if len(informative) < limits["min_informative_components"]:
        which = ", ".join(informative) or "none"
        reasons.append(f"{len(informative)} component{'s' * (len(informative) != 1)} vary ({which}; "
                       f"< {limits['min_informative_components']:g} needed)")
    return f"unreliable: {'; '.join(reasons)}" if reasons else None


def _lift_table(outcomes: pd.DataFrame, groups: int) -> pd.DataFrame:
    if groups < 1:
        raise ValueError(f"groups must be at least 1, got {groups!r}")
    columns = ["group", "score_min", "score_max", "customers", "churned", "churn_rate", "ci_low",
               "ci_high", "lift", "cumulative_churners_share"]
    if outcomes.empty:
        return pd.DataFrame(columns=columns)
    k = min(groups, len(outcomes))
    ordered = outcomes.sort_values(["score", "customer_id"]).reset_index(drop=True)
    ordered["group"] = np.arange(len(ordered)) * k // len(ordered) + 1
    agg = ordered.groupby("group").agg(score_min=("score", "min"), score_max=("score", "max"),
                                       customers=("score", "size"), churned=("churned", "sum")).reset_index()
    rates = rate_frame(agg.churned.to_numpy(), agg.customers.to_numpy())
    agg["churn_rate"], agg["ci_low"], agg["ci_high"] = rates.rate, rates.ci_low, rates.ci_high
    overall = outcomes.churned.mean()
    agg["lift"] = agg.churn_rate / overall if overall > 0 else np.nan
    total = agg.churned.sum()
    agg["cumulative_churners_share"] = agg.churned.cumsum() / total if total else np.nan
    return agg[columns]


def _roc_curve(outcomes: pd.DataFrame) -> pd.DataFrame:
    n_pos = int(outcomes.churned.sum())
    n_neg = len(outcomes) - n_pos
    by_score = outcomes.groupby("score")["churned"].agg(["sum", "size"]).sort_index()
    tp = by_score["sum"].cumsum()
    fp = (by_score["size"] - by_score["sum"]).cumsum()
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame({
            "threshold": [-np.inf, *by_score.index],
            "false_positive_rate": [0.0, *(fp / n_neg if n_neg else fp * np.nan)],
            "true_positive_rate": [0.0, *(tp / n_pos if n_pos else tp * np.nan)],
        })


def health_score_backtest(
    events: ibis.Table | pd.DataFrame,
    subscriptions: ibis.Table | pd.DataFrame,
    months: Sequence[str],
    **score_options: Any,
) -> pd.DataFrame:
    """The health score's AUC month by month: each month's churn against the score of the month before.

    One month holds few churners, so a single AUC is noisy; this shows whether the score
    ranks churners consistently.

    Parameters
    ----------
    events, subscriptions : ibis.Table or pandas.DataFrame
        The events and subscriptions tables.
    months : list of str
        Outcome months, ``"YYYY-MM"``.
    **score_options
        Passed to :func:`health_score` (``email``, ``surveys``, ``weights`` …).

    Returns
    -------
    pandas.DataFrame
        Per outcome ``month``: ``auc``, ``auc_ci_low``, ``auc_ci_high``, ``churned``,
        ``stayed`` and ``note`` (the verdict of :func:`validate_health_score`). ``attrs``
        hold the settings it was computed with: ``weights`` (rescaled to sum to 1),
        ``lookback_days``, ``recency_days``, ``activity_events`` (a tuple, or None) and
        whether ``email`` and ``surveys`` were given.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2026-09-29", "2026-08-01"],
    ...     "event": ["page_view"] * 2})
    >>> subs = pd.DataFrame({"customer_id": ["a", "b"], "start_at": ["2026-01-01"] * 2,
    ...     "end_at": [None, "2026-10-15"], "mrr": [29.0] * 2})
    >>> health_score_backtest(events, subs, ["2026-10"])[["month", "auc", "churned", "stayed"]]
         month  auc  churned  stayed
    0  2026-10  1.0        1       1
    """
    options = dict(score_options)
    w = _check_weights(options.pop("weights", None))
    lookback_days, recency_days = options.pop("lookback_days", 90), options.pop("recency_days", 30)
    email, surveys = options.pop("email", None), options.pop("surveys", None)
    activity_events = options.pop("activity_events", DEFAULT_ACTIVITY_EVENTS)
    bands = {"at_risk_below": options.pop("at_risk_below", 40.0), "healthy_from": options.pop("healthy_from", 70.0)}
    if options:
        raise TypeError(f"health_score_backtest() got unexpected health_score options {sorted(options)}")
    scored_months = [str(pd.Period(month, freq="M") - 1) for month in months]
    windows = _score_windows(scored_months, lookback_days, recency_days)
    # one scan of each table for every month
    inputs = _score_inputs(events, windows, email if "email" in w else None, surveys if "nps" in w else None,
                           activity_events) if scored_months else {}
    # the scored subscribers and their outcomes, every month in one query
    populations = _populations(subscriptions, windows) if scored_months else None
    rows = []
    for _, window in windows.iterrows():
        month = window["month"]
        scores = _score_month(window, inputs, _scored(populations, month), w, recency_days,
                              bands["at_risk_below"], bands["healthy_from"])
        live = _of_month(populations, month)[["customer_id", "churned"]]
        rows.append(_judge(scores, live, 5, pd.Period(month, freq="M")).summary())
    columns = ["month", "auc", "auc_ci_low", "auc_ci_high", "churned", "stayed", "note"]
    out = pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)
    out.attrs.update(weights=w, lookback_days=lookback_days, recency_days=recency_days,
                     activity_events=None if activity_events is None else tuple(column_list(activity_events)),
                     email=email is not None, surveys=surveys is not None)
    return out
