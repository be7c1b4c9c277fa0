"""The voice of the customer: NPS, CSAT and CES, overall and per segment and period.

Computed on the ``surveys`` table (``survey`` is ``nps``, ``csat`` or ``ces``), with the
``customers`` table for breakdowns by customer attributes. Each score carries its
interval (NPS: trinomial Wald, :func:`kpilib.stats.multinomial_difference`; CSAT and the
CES agree share: Wilson; the CES mean: Student t), and the by-period versions test the
change from the previous calendar period.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import ibis
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from kpilib.data import as_table, column_list, require_columns
from kpilib.deprecation import renamed_arguments
from kpilib.engagement._calendar import _period_dates, _period_number
from kpilib.metrics import Metric, computes, register
from kpilib.periods import TimeLike, check_period, time_filter, to_utc
from kpilib.stats import (
    SMALL_DENOMINATOR,
    compare_estimates,
    compare_proportions,
    mean_interval,
    multinomial_difference,
    rate_frame,
)

_NPS_SCALE = (0, 10)


def _scores_array(scores, low: int, high: int, what: str) -> np.ndarray:
    values = pd.to_numeric(pd.Series(np.asarray(scores, dtype=object).ravel()), errors="coerce").dropna()
    bad = values[(values < low) | (values > high) | (values != np.round(values))]
    if len(bad):
        raise ValueError(
            f"{what} scores must be whole numbers from {low} to {high}; "
            f"{len(bad)} are not (examples: {bad.head(5).tolist()})"
        )
    return values.to_numpy(dtype="int64")


def _record(frame: pd.DataFrame) -> pd.Series:
    """The single row of ``frame`` as a Series of plain Python values."""
    return pd.Series({k: (v.item() if hasattr(v, "item") else v) for k, v in frame.iloc[0].items()},
                     dtype=object)


def _nps_frame(promoters, passives, detractors, confidence: float = 0.95) -> pd.DataFrame:
    """NPS in points with its trinomial interval from counts, vectorised: promoters minus
    detractors as a difference of multinomial shares (:func:`kpilib.stats.multinomial_difference`,
    Wald, or adjusted Wald where every answer is in one category), times 100."""
    p_n = np.atleast_1d(np.asarray(promoters, dtype=float))
    q_n = np.atleast_1d(np.asarray(passives, dtype=float))
    d_n = np.atleast_1d(np.asarray(detractors, dtype=float))
    n = p_n + q_n + d_n
    share = multinomial_difference(p_n, d_n, n, confidence)
    return pd.DataFrame({
        "n": n.astype("int64"), "promoters": p_n.astype("int64"), "passives": q_n.astype("int64"),
        "detractors": d_n.astype("int64"), "nps": 100 * share["difference"].to_numpy(),
        "se": 100 * share["se"].to_numpy(), "ci_low": 100 * share["ci_low"].to_numpy(),
        "ci_high": 100 * share["ci_high"].to_numpy(), "interval": share["interval"].to_numpy(),
        "small_sample": n < SMALL_DENOMINATOR,
    })


register(
    Metric(
        name="nps",
        title="Net Promoter Score (NPS)",
        stage="engagement",
        formula=r"\text{NPS} = 100\,(\hat p - \hat d), \quad "
        r"\operatorname{Var} = \frac{10^4\,(\hat p + \hat d - (\hat p - \hat d)^2)}{n}",
        definition=(
            "Answers to 'How likely are you to recommend us?' on 0–10: promoters 9–10, "
            "passives 7–8, detractors 0–6. NPS is the share of promoters minus the share of "
            "detractors, in points (−100 to 100). Its 95 % interval is NPS ± 1.96·√Var from "
            "the trinomial variance; when every answer falls in one category that variance "
            "is 0 and the adjusted-Wald interval (¾ promoter and ¾ detractor added, n + 3) "
            "is used instead."
        ),
        pitfalls=(
            "A difference of two shares, so it is noisy: 100 answers give an interval of "
            "about ±15 points, and month-to-month moves are mostly noise (see the change "
            "test). Passives count in n but not in the score. Who is asked, and when, moves "
            "it more than the product does."
        ),
        unit="points",
        higher_is_better=True,
        example=">>> from kpilib.engagement import nps\n"
        ">>> r = nps([10, 9, 9, 8, 7, 6, 3, 10, 9, 5])\n"
        ">>> r[[\"promoters\", \"passives\", \"detractors\", \"n\", \"nps\"]].tolist()\n"
        "[5, 2, 3, 10, 20.0]\n"
        ">>> round(r.ci_low, 1), round(r.ci_high, 1)\n"
        "(-34.0, 74.0)",
        reference="Reichheld, 'The One Number You Need to Grow', HBR (2003); Rocks, 'Interval "
        "estimation for the net promoter score', The American Statistician 70 (2016).",
    )
)


@computes("nps")
def nps(scores: ArrayLike, confidence: float = 0.95) -> pd.Series:
    r"""Net Promoter Score of 0–10 answers, in points, with its 95 % interval.

    Parameters
    ----------
    scores : array_like of int
        Answers on the 0–10 scale; missing values are dropped.
    confidence : float, default 0.95
        Confidence level of the interval.

    Returns
    -------
    pandas.Series
        ``n``, ``promoters`` (9–10), ``passives`` (7–8), ``detractors`` (0–6), ``nps``,
        ``se`` (its standard error), ``ci_low``, ``ci_high``, ``interval`` (``"wald"`` or
        ``"adjusted-wald"``) and ``small_sample`` (n < 30). With no answers the score and
        interval are NaN.

    Raises
    ------
    ValueError
        When a score is not a whole number from 0 to 10.

    Notes
    -----
    :math:`\hat p`, :math:`\hat d` are the shares of promoters and detractors among the
    :math:`n` answers; the interval is :math:`\text{NPS} \pm z_{0.975}\sqrt{\operatorname{Var}}`,
    clipped to [−100, 100] (Rocks 2016; :func:`kpilib.stats.multinomial_difference`). When all answers fall in one category (all passives,
    say) the variance is 0 and a zero-width interval would claim certainty; the
    adjusted-Wald interval is used there: add ¾ promoter and ¾ detractor, use
    :math:`n + 3` (Sauro & Lewis).

    References
    ----------
    Rocks, B. (2016). Interval estimation for the "net promoter score". The American
    Statistician 70(4), 365-372.

    Examples
    --------
    >>> r = nps([9, 9, 7, 3])
    >>> float(r.nps), round(float(r.ci_low), 1), round(float(r.ci_high), 1)
    (25.0, -56.3, 100.0)
    >>> nps([7, 8, 7, 8]).interval
    'adjusted-wald'
    """
    values = _scores_array(scores, *_NPS_SCALE, "NPS")
    counts = (int((values >= 9).sum()), int(((values >= 7) & (values <= 8)).sum()), int((values <= 6).sum()))
    return _record(_nps_frame(*counts, confidence=confidence))


register(
    Metric(
        name="csat",
        title="Customer satisfaction (CSAT)",
        stage="engagement",
        formula=r"\text{CSAT} = \frac{\#\{\text{answers} \ge \text{satisfied\_min}\}}{\#\text{answers}}",
        definition=(
            "Share of satisfied answers to 'How satisfied were you …?'; by default answers "
            "4–5 on a 1–5 scale (the 'top-two-box'). Scale and threshold are parameters."
        ),
        pitfalls=(
            "Tools differ: some use 1–5 (top two boxes), some 1–7 or 1–10, and some report "
            "the mean score instead of the share, so CSAT values from two tools do not "
            "compare. Asked right after a support contact it measures that contact, not the "
            "product."
        ),
        unit="rate",
        higher_is_better=True,
        example=">>> from kpilib.engagement import csat\n"
        ">>> csat([5, 4, 4, 3, 1])[[\"numerator\", \"denominator\", \"rate\"]].tolist()\n"
        "[3, 5, 0.6]",
        reference="ACSI methodology; Hotjar and Qualtrics CSAT guides (top-two-box).",
    )
)


@computes("csat")
def csat(scores: ArrayLike, scale: int = 5, satisfied_min: int = 4) -> pd.Series:
    r"""Customer satisfaction: the share of satisfied answers, with its Wilson interval.

    Parameters
    ----------
    scores : array_like of int
        Answers on the 1…``scale`` scale; missing values are dropped.
    scale : int, default 5
        Top of the scale.
    satisfied_min : int, default 4
        Lowest answer that counts as satisfied (4 on 1–5: the "top-two-box").

    Returns
    -------
    pandas.Series
        ``numerator`` (satisfied), ``denominator`` (answers), ``rate``, ``ci_low``,
        ``ci_high``, ``small_sample``, ``mean`` (mean score).

    Examples
    --------
    >>> r = csat([5, 4, 3, 2, 5, 4, 4, 1])
    >>> int(r.numerator), int(r.denominator), float(r.rate)
    (5, 8, 0.625)
    >>> float(csat([7, 6, 2], scale=7, satisfied_min=6).rate)
    0.6666666666666666
    """
    if not 1 <= satisfied_min <= scale:
        raise ValueError(f"satisfied_min must be between 1 and scale={scale}, got {satisfied_min!r}")
    values = _scores_array(scores, 1, scale, "CSAT")
    frame = rate_frame([int((values >= satisfied_min).sum())], [len(values)])
    frame["mean"] = float(values.mean()) if len(values) else np.nan
    return _record(frame)


register(
    Metric(
        name="ces",
        title="Customer effort score (CES)",
        stage="engagement",
        formula=r"\overline{\text{CES}} = \frac{1}{n}\sum_i s_i \pm t_{n-1}\frac{s}{\sqrt n}, \quad "
        r"\text{agree share} = \frac{\#\{s_i \ge 5\}}{n} \text{ on a 1–7 scale}",
        definition=(
            "Answers to 'The company made it easy for me to handle my issue' on a 1–7 "
            "agreement scale, higher = easier. Reported both as the mean (with a t-interval) "
            "and as the share who agree (5–7, with a Wilson interval)."
        ),
        pitfalls=(
            "Gartner's (CEB) CES 2.0 reports the mean on the 1–7 agreement scale; survey "
            "tools such as Qualtrics, Hotjar and Zendesk often show the share agreeing "
            "(5–7); the original CEB 2010 question used a 1–5 effort scale where lower was "
            "better. State scale, direction and summary before comparing numbers."
        ),
        unit="score",
        higher_is_better=True,
        example=">>> from kpilib.engagement import ces\n"
        ">>> r = ces([7, 6, 5, 3, 4])\n"
        ">>> r[[\"n\", \"mean\", \"agree\", \"agree_rate\"]].tolist()\n"
        "[5, 5.0, 3, 0.6]",
        reference="Dixon, Freeman & Toman, 'Stop Trying to Delight Your Customers', HBR (2010); "
        "Gartner (CEB) Customer Effort Score 2.0.",
    )
)


@computes("ces")
def ces(scores: ArrayLike, scale: int = 7, agree_min: int = 5, confidence: float = 0.95) -> pd.Series:
    r"""Customer effort score: the mean with its t-interval, and the share who agree.

    Parameters
    ----------
    scores : array_like of int
        Answers on the 1…``scale`` agreement scale ("it was easy …"), higher = easier.
    scale : int, default 7
        Top of the scale.
    agree_min : int, default 5
        Lowest answer that counts as agreeing (5–7 on 1–7).
    confidence : float, default 0.95
        Confidence level of both intervals.

    Returns
    -------
    pandas.Series
        ``n``, ``mean``, ``mean_se``, ``mean_ci_low``, ``mean_ci_high`` (Student t),
        ``agree``, ``agree_rate``, ``agree_ci_low``, ``agree_ci_high`` (Wilson),
        ``small_sample``.

    Notes
    -----
    :math:`s` is the sample standard deviation of the answers; the interval is computed
    from the sums of the answers and of their squares (:func:`kpilib.stats.mean_interval`).

    Examples
    --------
    >>> r = ces([7, 5, 6, 2])
    >>> float(r["mean"]), float(r.agree_rate)
    (5.0, 0.75)
    """
    if not 1 <= agree_min <= scale:
        raise ValueError(f"agree_min must be between 1 and scale={scale}, got {agree_min!r}")
    values = _scores_array(scores, 1, scale, "CES").astype(float)
    counts = pd.Series(values).value_counts()
    return _record(_ces_frame(np.array([values.sum()]), np.array([(values**2).sum()]), np.array([len(values)]),
                              np.array([int(counts[counts.index >= agree_min].sum())]), confidence))


def _ces_frame(total, total_sq, n, agree, confidence: float = 0.95) -> pd.DataFrame:
    mean, se, low, high = mean_interval(total, total_sq, n, confidence)
    rates = rate_frame(agree, n, confidence)
    return pd.DataFrame({
        "n": np.asarray(n, dtype="int64"), "mean": mean, "mean_se": se, "mean_ci_low": low,
        "mean_ci_high": high, "agree": np.asarray(agree, dtype="int64"),
        "agree_rate": rates.rate.to_numpy(), "agree_ci_low": rates.ci_low.to_numpy(),
        "agree_ci_high": rates.ci_high.to_numpy(), "small_sample": rates.small_sample.to_numpy(),
    })


@renamed_arguments(freq="period")
def score_counts(
    surveys: ibis.Table | pd.DataFrame,
    survey: Literal["nps", "csat", "ces"],
    by: str | Sequence[str] | None = None,
    period: Literal["W", "M"] | None = "M",
    start: TimeLike = None,
    end: TimeLike = None,
    customers: ibis.Table | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Answers per score of one survey, per group and period (one engine query).

    Parameters
    ----------
    surveys : ibis.Table or pandas.DataFrame
        The surveys table.
    survey : {"nps", "csat", "ces"}
        Which survey.
    by : str or list of str, optional
        Breakdown columns of ``surveys``, or of ``customers`` (e.g. ``"plan"``) when given.
    period : {"W", "M"} or None, default "M"
        Calendar period of the answer (UTC); ``None`` pools all periods. (Formerly
        ``freq``, deprecated.)
    start, end : str or Timestamp, optional
        Keep answers in ``[start, end)``.
    customers : ibis.Table or pandas.DataFrame, optional
        Customers table for breakdowns by customer attributes.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``period`` (unless ``period`` is None), ``score`` and ``responses``.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"customer_id": ["a", "b", "c"], "ts": ["2026-10-01"] * 3,
    ...     "survey": ["nps", "nps", "csat"], "score": [9, 9, 4]})
    >>> score_counts(s, "nps")
          period  score  responses
    0 2026-10-01      9          2
    """
    if survey not in ("nps", "csat", "ces"):
        raise ValueError(f"survey must be 'nps', 'csat' or 'ces', got {survey!r}")
    period = check_period(period, ("W", "M"), none=True)
    keys = column_list(by)
    t = as_table(surveys, "surveys")
    t = time_filter(t.filter(t.survey == survey), "ts", to_utc(start), to_utc(end))
    missing = [k for k in keys if k not in t.columns]
    if missing and customers is not None:
        c = as_table(customers, "customers")
        require_columns(c, missing, "customers", "a survey breakdown (by=...)")
        c = c.select("customer_id", *missing).rename(_cid="customer_id")
        t = t.left_join(c, t.customer_id == c._cid).drop("_cid")
    require_columns(t, keys, "surveys", "a survey breakdown (by=...); pass customers= for customer columns,")
    group = [*keys]
    if period is not None:
        t = t.mutate(period=_period_number(t.ts, period))
        group.append("period")
    counts = t.group_by([*group, "score"]).agg(responses=t.count()).execute()
    if period is not None:
        counts["period"] = _period_dates(counts["period"], period)
    return counts.sort_values([*group, "score"]).reset_index(drop=True)


def _with_change(frame: pd.DataFrame, keys: list[str], period: str | None, value: str,
                 se: str | None = None, counts: tuple[str, str] | None = None) -> pd.DataFrame:
    """Add the change from the previous calendar period (same group) and its test.

    With ``counts`` (numerator, denominator) the test is the two-proportion test of
    :func:`kpilib.stats.compare_proportions`; otherwise the z-test on the difference of two
    estimates with variance ``se₁² + se₂²`` (:func:`kpilib.stats.compare_estimates`).
    """
    out = frame.copy()
    columns = ["change", "change_ci_low", "change_ci_high", "change_p_value", "change_significant"]
    if period is None or out.empty:
        for c in columns:
            out[c] = np.nan
        return out
    step = pd.offsets.MonthBegin(1) if period == "M" else pd.Timedelta(days=7)
    prev = out[[*keys, "period"] + ([value, se] if se else [value, *counts])].copy()
    prev["period"] = prev["period"] + step
    prev = prev.rename(columns={c: f"prev_{c}" for c in prev.columns if c not in (*keys, "period")})
    merged = out.merge(prev, on=[*keys, "period"], how="left")
    if counts is not None:
        num, den = counts
        has = merged[f"prev_{den}"].notna()
        test = compare_proportions(merged[num], merged[den], merged[f"prev_{num}"].fillna(0),
                                   merged[f"prev_{den}"].fillna(0))
        merged["change"] = test.difference.where(has).to_numpy()
        merged["change_ci_low"] = test.ci_low.where(has).to_numpy()
        merged["change_ci_high"] = test.ci_high.where(has).to_numpy()
        merged["change_p_value"] = test.p_value.where(has).to_numpy()
    else:
        test = compare_estimates(merged[value], merged[se], merged[f"prev_{value}"], merged[f"prev_{se}"])
        merged["change"] = test.difference.to_numpy()
        merged["change_ci_low"] = test.ci_low.to_numpy()
        merged["change_ci_high"] = test.ci_high.to_numpy()
        merged["change_p_value"] = test.p_value.to_numpy()
    merged["change_significant"] = (merged["change_p_value"] < 0.05).where(merged["change_p_value"].notna())
    return merged.drop(columns=[c for c in merged.columns if c.startswith("prev_")])


@renamed_arguments(freq="period")
def nps_by(
    surveys: ibis.Table | pd.DataFrame,
    by: str | Sequence[str] | None = None,
    period: Literal["W", "M"] | None = "M",
    start: TimeLike = None,
    end: TimeLike = None,
    customers: ibis.Table | pd.DataFrame | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """NPS per segment and period, with the change from the previous period and its test.

    Parameters
    ----------
    surveys : ibis.Table or pandas.DataFrame
        The surveys table (rows with ``survey == "nps"`` are used).
    by, period, start, end, customers
        As in :func:`score_counts` (``period`` was ``freq``, deprecated).
    confidence : float, default 0.95
        Confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``period``, then the columns of :func:`nps`, and ``change``
        (points since the previous calendar period of the same segment, NaN when that
        period has no answers), ``change_ci_low``, ``change_ci_high``, ``change_p_value``
        and ``change_significant`` (a z-test with variance Var₁ + Var₂ of the two
        independent NPS estimates).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"customer_id": list("abcdef"),
    ...     "ts": ["2026-09-03"] * 3 + ["2026-10-03"] * 3, "survey": ["nps"] * 6,
    ...     "score": [10, 9, 2, 10, 9, 9]})
    >>> nps_by(s)[["period", "n", "nps", "change"]]
          period  n         nps     change
    0 2026-09-01  3   33.333333        NaN
    1 2026-10-01  3  100.000000  66.666667
    """
    period = check_period(period, ("W", "M"), none=True)
    keys = column_list(by)
    counts = score_counts(surveys, "nps", keys, period, start, end, customers)
    group = [*keys] + (["period"] if period is not None else [])
    counts["kind"] = np.select([counts.score >= 9, counts.score >= 7], ["promoters", "passives"], "detractors")
    wide = counts.pivot_table(index=group, columns="kind", values="responses", aggfunc="sum") if group else (
        counts.groupby("kind")["responses"].sum().to_frame().T)
    wide = wide.reindex(columns=["promoters", "passives", "detractors"]).fillna(0)
    frame = _nps_frame(wide.promoters, wide.passives, wide.detractors, confidence)
    out = pd.concat([wide.reset_index()[group].reset_index(drop=True) if group else pd.DataFrame(index=[0]),
                     frame], axis=1)
    return _with_change(out, keys, period, "nps", se="se")


@renamed_arguments(freq="period")
def csat_by(
    surveys: ibis.Table | pd.DataFrame,
    by: str | Sequence[str] | None = None,
    period: Literal["W", "M"] | None = "M",
    start: TimeLike = None,
    end: TimeLike = None,
    customers: ibis.Table | pd.DataFrame | None = None,
    scale: int = 5,
    satisfied_min: int = 4,
) -> pd.DataFrame:
    """CSAT per segment and period, with the change from the previous period and its test.

    Parameters
    ----------
    surveys : ibis.Table or pandas.DataFrame
        The surveys table (rows with ``survey == "csat"``).
    by, period, start, end, customers
        As in :func:`score_counts` (``period`` was ``freq``, deprecated).
    scale, satisfied_min
        As in :func:`csat`.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``period``, ``numerator``, ``denominator``, ``rate``,
        ``ci_low``, ``ci_high``, ``small_sample``, ``mean`` and the ``change`` columns
        (two-proportion test against the previous calendar period).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"customer_id": list("abcd"), "ts": ["2026-10-03"] * 4,
    ...     "survey": ["csat"] * 4, "score": [5, 4, 2, 3]})
    >>> csat_by(s)[["period", "numerator", "denominator", "rate"]]
          period  numerator  denominator  rate
    0 2026-10-01          2            4   0.5
    """
    if not 1 <= satisfied_min <= scale:
        raise ValueError(f"satisfied_min must be between 1 and scale={scale}, got {satisfied_min!r}")
    period = check_period(period, ("W", "M"), none=True)
    keys = column_list(by)
    counts = score_counts(surveys, "csat", keys, period, start, end, customers)
    group = [*keys] + (["period"] if period is not None else [])
    counts["satisfied"] = np.where(counts.score >= satisfied_min, counts.responses, 0)
    counts["weighted"] = counts.score * counts.responses
    agg = (counts.groupby(group)[["satisfied", "responses", "weighted"]].sum() if group
           else counts[["satisfied", "responses", "weighted"]].sum().to_frame().T).reset_index(drop=not group)
    rates = rate_frame(agg.satisfied.to_numpy(), agg.responses.to_numpy())
    out = pd.concat([agg[group].reset_index(drop=True), rates], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["mean"] = (agg.weighted / agg.responses.where(agg.responses > 0)).to_numpy()
    return _with_change(out, keys, period, "rate", counts=("numerator", "denominator"))


@renamed_arguments(freq="period")
def ces_by(
    surveys: ibis.Table | pd.DataFrame,
    by: str | Sequence[str] | None = None,
    period: Literal["W", "M"] | None = "M",
    start: TimeLike = None,
    end: TimeLike = None,
    customers: ibis.Table | pd.DataFrame | None = None,
    agree_min: int = 5,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """CES per segment and period: mean and agree share, with the change of the mean.

    Parameters
    ----------
    surveys : ibis.Table or pandas.DataFrame
        The surveys table (rows with ``survey == "ces"``).
    by, period, start, end, customers
        As in :func:`score_counts` (``period`` was ``freq``, deprecated).
    agree_min, confidence
        As in :func:`ces`.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``period``, the columns of :func:`ces` and the ``change``
        columns (of the mean, a z-test with variance se₁² + se₂²).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"customer_id": list("abc"), "ts": ["2026-10-03"] * 3,
    ...     "survey": ["ces"] * 3, "score": [7, 5, 3]})
    >>> ces_by(s)[["period", "n", "mean", "agree_rate"]]
          period  n  mean  agree_rate
    0 2026-10-01  3   5.0    0.666667
    """
    period = check_period(period, ("W", "M"), none=True)
    keys = column_list(by)
    counts = score_counts(surveys, "ces", keys, period, start, end, customers)
    group = [*keys] + (["period"] if period is not None else [])
    counts["total"] = counts.score * counts.responses
    counts["total_sq"] = counts.score**2 * counts.responses
    counts["agree"] = np.where(counts.score >= agree_min, counts.responses, 0)
    cols = ["total", "total_sq", "responses", "agree"]
    agg = (counts.groupby(group)[cols].sum() if group else counts[cols].sum().to_frame().T).reset_index(drop=not group)
    frame = _ces_frame(agg.total, agg.total_sq, agg.responses, agg.agree, confidence)
    out = pd.concat([agg[group].reset_index(drop=True), frame], axis=1)
    return _with_change(out, keys, period, "mean", se="mean_se")
