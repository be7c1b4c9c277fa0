"""Every interval and test kpilib uses, in one place.

A rate in kpilib never travels alone: it carries its numerator, its denominator and a
95% Wilson score interval. This module holds those shared statistics so that every
domain computes them the same way; each function names its reference and is tested
against an outside value.

=================================  ===============================================
function                           for
=================================  ===============================================
:func:`wilson_interval`            a proportion (conversion, churn, open rate …)
:func:`rate_frame`                 the tidy frame of rates every domain returns
:func:`compare_proportions`        two proportions: Newcombe interval, pooled z-test
:func:`compare_estimates`          two independent estimates with standard errors
:func:`t_interval`                 a mean from its standard deviation and count
:func:`mean_interval`              a mean from the sums of x and x² (engine-side)
:func:`ratio_interval`             a ratio of sums Σy/Σx (delta method)
:func:`delta_interval`             a smooth function of fitted parameters
:func:`multinomial_difference`     p_a − p_b from one sample (NPS)
:func:`auc_interval`               an ROC AUC (Hanley–McNeil)
:func:`correlation_interval`       a Pearson correlation (Fisher's z)
:func:`chi_square_test`            observed vs expected counts
=================================  ===============================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special as _special

__all__ = [
    "SMALL_DENOMINATOR",
    "auc_interval",
    "chi_square_test",
    "compare_estimates",
    "compare_proportions",
    "correlation_interval",
    "delta_interval",
    "mean_interval",
    "multinomial_difference",
    "rate_frame",
    "ratio_interval",
    "t_interval",
    "wilson_interval",
    "z_quantile",
]

#: Cells whose denominator is below this are flagged as unreliable in reports.
SMALL_DENOMINATOR = 30


def z_quantile(confidence: float) -> float:
    """The two-sided standard-normal quantile :math:`z_{1-\\alpha/2}` of a confidence level.

    Examples
    --------
    >>> round(z_quantile(0.95), 4)
    1.96
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    return float(_special.ndtri(0.5 + confidence / 2))  # the normal quantile



def wilson_interval(successes, trials, confidence: float = 0.95):
    r"""Wilson score interval for a binomial proportion (vectorised).

    Parameters
    ----------
    successes : array_like of int
        Number of successes :math:`x`.
    trials : array_like of int
        Number of trials :math:`n`. Where ``n == 0`` the interval is undefined and NaN.
    confidence : float, default 0.95
        Two-sided confidence level.

    Returns
    -------
    low, high : float or numpy.ndarray
        Lower and upper bounds, the same shape as the broadcast inputs.

    Notes
    -----
    With :math:`\hat p = x/n` and :math:`z` the standard-normal quantile,

    .. math::

        \frac{\hat p + \frac{z^2}{2n} \pm z\sqrt{\frac{\hat p(1-\hat p)}{n}
        + \frac{z^2}{4n^2}}}{1 + \frac{z^2}{n}}

    Unlike the Wald interval :math:`\hat p \pm z\sqrt{\hat p(1-\hat p)/n}` it never leaves
    [0, 1] and keeps close to its nominal coverage for small :math:`n` and for rates near
    0 or 1, which is where marketing rates (click rates, churn) live.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. JASA 22(158), 209-212.

    Examples
    --------
    >>> low, high = wilson_interval(8, 10)
    >>> round(float(low), 4), round(float(high), 4)
    (0.4902, 0.9433)
    >>> wilson_interval([0, 0], [10, 0])[1]
    array([0.2775328,       nan])
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(x < 0) or np.any(n < 0):
        raise ValueError("successes and trials must be non-negative")
    if np.any(x > n):
        raise ValueError("successes cannot exceed trials")
    z = z_quantile(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, x / n, np.nan)
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        # x = 0 and x = n give exactly 0 and 1; say so instead of trusting rounding
        low = np.where(n > 0, np.where(x == 0, 0.0, np.clip(centre - half, 0.0, 1.0)), np.nan)
        high = np.where(n > 0, np.where(x == n, 1.0, np.clip(centre + half, 0.0, 1.0)), np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def rate_frame(successes, trials, confidence: float = 0.95) -> pd.DataFrame:
    """A tidy frame of rates: numerator, denominator, rate, Wilson interval, small-n flag.

    The one place a rate is assembled, so every domain reports rates the same way.

    Parameters
    ----------
    successes, trials : array_like of int
        Numerators and denominators.
    confidence : float, default 0.95
        Two-sided confidence level of the Wilson interval.

    Returns
    -------
    pandas.DataFrame
        Columns ``numerator``, ``denominator``, ``rate``, ``ci_low``, ``ci_high`` and
        ``small_sample`` (denominator below :data:`SMALL_DENOMINATOR`). A zero denominator
        gives a NaN rate, never 0.

    Examples
    --------
    >>> rate_frame([8, 0], [10, 0])[["numerator", "denominator", "rate", "small_sample"]]
       numerator  denominator  rate  small_sample
    0          8           10   0.8          True
    1          0            0   NaN          True
    """
    x = np.atleast_1d(np.asarray(successes, dtype="int64"))
    n = np.atleast_1d(np.asarray(trials, dtype="int64"))
    low, high = wilson_interval(x, n, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
    return pd.DataFrame(
        {
            "numerator": x,
            "denominator": n,
            "rate": rate,
            "ci_low": np.atleast_1d(low),
            "ci_high": np.atleast_1d(high),
            "small_sample": n < SMALL_DENOMINATOR,
        }
    )


def compare_proportions(
    x1, n1, x2, n2, confidence: float = 0.95
) -> pd.DataFrame:
    r"""Compare two proportions: difference, its interval and a two-sided p-value.

    Used for month-over-month statements and A/B comparisons. Group 1 is the new (or
    treatment) group; the difference is :math:`\hat p_1 - \hat p_2`.

    Parameters
    ----------
    x1, n1 : array_like of int
        Successes and trials of group 1 (e.g. this month, variant B).
    x2, n2 : array_like of int
        Successes and trials of group 2 (e.g. last month, variant A).
    confidence : float, default 0.95
        Confidence level of the interval; ``significant`` uses ``1 - confidence``.

    Returns
    -------
    pandas.DataFrame
        Columns ``p1``, ``p2``, ``difference``, ``ci_low``, ``ci_high``, ``z``, ``p_value``,
        ``significant``. Rows where either group has no trials are NaN and not significant.

    Notes
    -----
    The test is the pooled two-proportion z-test,

    .. math::

        z = \frac{\hat p_1 - \hat p_2}{\sqrt{\bar p (1-\bar p)(1/n_1 + 1/n_2)}},
        \qquad \bar p = \frac{x_1 + x_2}{n_1 + n_2},

    which is equivalent to Pearson's :math:`\chi^2` test on the 2×2 table without
    continuity correction. The interval on the difference is Newcombe's hybrid score
    interval (method 10), built from the two Wilson intervals :math:`(l_i, u_i)`:

    .. math::

        \hat p_1 - \hat p_2 - \sqrt{(\hat p_1 - l_1)^2 + (u_2 - \hat p_2)^2}, \quad
        \hat p_1 - \hat p_2 + \sqrt{(u_1 - \hat p_1)^2 + (\hat p_2 - l_2)^2}

    References
    ----------
    Newcombe, R. G. (1998). Interval estimation for the difference between independent
    proportions: comparison of eleven methods. Statistics in Medicine 17, 873-890.

    Examples
    --------
    Newcombe's (1998) example 56/70 vs 48/80 gives the interval (0.0524, 0.3339):

    >>> r = compare_proportions(56, 70, 48, 80)
    >>> round(float(r.difference[0]), 4), round(float(r.ci_low[0]), 4), round(float(r.ci_high[0]), 4)
    (0.2, 0.0524, 0.3339)
    >>> bool(r.significant[0])
    True
    """
    x1, n1, x2, n2 = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (x1, n1, x2, n2))
    l1, u1 = (np.atleast_1d(v) for v in wilson_interval(x1, n1, confidence))
    l2, u2 = (np.atleast_1d(v) for v in wilson_interval(x2, n2, confidence))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1 = np.where(n1 > 0, x1 / n1, np.nan)
        p2 = np.where(n2 > 0, x2 / n2, np.nan)
        diff = p1 - p2
        low = diff - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        high = diff + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
        pooled = (x1 + x2) / (n1 + n2)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = np.where(se > 0, diff / se, np.where(np.isnan(diff), np.nan, 0.0))
        p_value = 2 * _special.ndtr(-np.abs(z))  # the normal tail beyond |z|
    return pd.DataFrame(
        {
            "p1": p1,
            "p2": p2,
            "difference": diff,
            "ci_low": low,
            "ci_high": high,
            "z": z,
            "p_value": p_value,
            "significant": np.nan_to_num(p_value, nan=1.0) < 1 - confidence,
        }
    )


def compare_estimates(estimate1, se1, estimate2, se2, confidence: float = 0.95) -> pd.DataFrame:
    r"""Compare two independent, approximately normal estimates (e.g. a mean score this
    month and last month): difference, interval and two-sided z-test.

    Parameters
    ----------
    estimate1, se1 : array_like of float
        Group 1 (the new period, the treatment) and its standard error.
    estimate2, se2 : array_like of float
        Group 2 (the previous period, the control) and its standard error.
    confidence : float, default 0.95
        Confidence level; ``significant`` uses ``1 - confidence``.

    Returns
    -------
    pandas.DataFrame
        ``difference``, ``ci_low``, ``ci_high``, ``z``, ``p_value``, ``significant``. A
        missing estimate or a zero standard error on both sides gives NaN, not significant.

    Notes
    -----
    .. math::

        d = \hat\theta_1 - \hat\theta_2, \qquad
        \mathrm{se}(d) = \sqrt{\mathrm{se}_1^2 + \mathrm{se}_2^2}, \qquad
        z = d / \mathrm{se}(d), \quad d \pm z_{1-\alpha/2}\,\mathrm{se}(d)

    References
    ----------
    Altman, D. G. and Bland, J. M. (2003). Interaction revisited: the difference between
    two estimates. BMJ 326, 219.

    Examples
    --------
    0.80 (se 0.12) against 0.34 (se 0.11): by hand se(d) = √(0.0144 + 0.0121) = 0.1628,
    z = 0.46 / 0.1628 = 2.83 and p = 0.005.

    >>> r = compare_estimates(0.80, 0.12, 0.34, 0.11)
    >>> round(float(r.z[0]), 2), round(float(r.p_value[0]), 3), bool(r.significant[0])
    (2.83, 0.005, True)
    """
    e1, s1, e2, s2 = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (estimate1, se1, estimate2, se2))
    z_crit = z_quantile(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = e1 - e2
        sd = np.sqrt(s1**2 + s2**2)
        z = np.where(sd > 0, diff / sd, np.nan)
        p_value = 2 * _special.ndtr(-np.abs(z))  # the normal tail beyond |z|
    return pd.DataFrame({
        "difference": diff,
        "ci_low": diff - z_crit * sd,
        "ci_high": diff + z_crit * sd,
        "z": z,
        "p_value": p_value,
        "significant": np.nan_to_num(p_value, nan=1.0) < 1 - confidence,
    })


def t_interval(mean, sd, n, confidence: float = 0.95):
    r"""Student-t interval of a mean from its sample standard deviation and count.

    .. math:: \bar x \pm t_{1-\alpha/2,\,n-1}\, s/\sqrt{n}

    Vectorised; where ``n < 2`` the interval is NaN.

    Examples
    --------
    The mean 5 of n = 10 values with s = 2 (t₀.₉₇₅,₉ = 2.2622):

    >>> low, high = t_interval(5.0, 2.0, 10)
    >>> round(float(low), 4), round(float(high), 4)
    (3.5693, 6.4307)
    """
    m, s, k = (np.asarray(v, dtype=float) for v in (mean, sd, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        tq = np.where(k > 1, _special.stdtrit(np.maximum(k - 1, 1), 0.5 + confidence / 2), np.nan)
        half = tq * s / np.sqrt(k)
    low, high = m - half, m + half
    if np.ndim(low) == 0:
        return float(low), float(high)
    return low, high


def mean_interval(total, total_sq, n, confidence: float = 0.95):
    r"""A mean, its standard error and t-interval from the sums an engine returns.

    With :math:`S_1 = \sum x`, :math:`S_2 = \sum x^2`:

    .. math::

        \bar x = S_1/n, \qquad s^2 = \frac{S_2 - n\bar x^2}{n-1}, \qquad
        \bar x \pm t_{1-\alpha/2,\,n-1}\, s/\sqrt n

    Returns
    -------
    mean, se, low, high : numpy.ndarray
        NaN where ``n == 0`` (mean) or ``n < 2`` (the rest).

    Examples
    --------
    The values 1, 2, 3, 4, 5 (sums 15 and 55):

    >>> [np.round(v, 4).tolist() for v in mean_interval([15.0], [55.0], [5])]
    [[3.0], [0.7071], [1.0368], [4.9632]]
    """
    total, total_sq, n = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (total, total_sq, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
        var = np.where(n > 1, (total_sq - n * mean**2) / (n - 1), np.nan)
        se = np.sqrt(np.maximum(var, 0) / n)
    low, high = t_interval(mean, np.sqrt(np.maximum(var, 0)), n, confidence)
    return mean, se, np.atleast_1d(low), np.atleast_1d(high)


def ratio_interval(n, sx, sy, sxx, syy, sxy, confidence: float = 0.95):
    r"""A ratio of sums :math:`R = \sum y / \sum x` over n units, with its delta-method
    (linearisation) interval — e.g. MRR lost over MRR at the start, summed over customers.

    Parameters
    ----------
    n : array_like
        Number of units (customers).
    sx, sy, sxx, syy, sxy : array_like
        :math:`\sum x`, :math:`\sum y`, :math:`\sum x^2`, :math:`\sum y^2`, :math:`\sum xy`.
    confidence : float, default 0.95

    Returns
    -------
    ratio, low, high : numpy.ndarray

    Notes
    -----
    .. math::

        \widehat{\mathrm{Var}}(R) = \frac{n}{(\sum x)^2}\cdot
        \frac{\sum (y_i - R x_i)^2}{n-1}, \qquad
        \sum (y_i - R x_i)^2 = S_{yy} - 2R S_{xy} + R^2 S_{xx}

    References
    ----------
    Cochran, W. G. (1977). Sampling Techniques, 3rd ed., §6.4 (variance of the ratio
    estimator). Wiley.

    Examples
    --------
    x = (10, 20, 30), y = (1, 4, 3): R = 8/60; by hand the residuals y − Rx are −1/3, 4/3,
    −1, their squares sum to 26/9, so Var(R) = 3/60² · (26/9)/2 and se = 0.0347:

    >>> r, lo, hi = ratio_interval(3, 60.0, 8.0, 1400.0, 26.0, 180.0)
    >>> round(float(r), 4), round(float(lo), 4), round(float(hi), 4)
    (0.1333, 0.0653, 0.2013)
    """
    n, sx, sy, sxx, syy, sxy = (np.asarray(v, dtype=float) for v in (n, sx, sy, sxx, syy, sxy))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(sx > 0, sy / sx, np.nan)
        resid = syy - 2 * ratio * sxy + ratio**2 * sxx
        var = np.where(n > 1, resid / (n - 1), np.nan) * n / sx**2
        half = z_quantile(confidence) * np.sqrt(np.clip(var, 0, None))
    return ratio, ratio - half, ratio + half


def delta_interval(value: float, gradient, covariance, confidence: float = 0.95,
                   bounds: tuple[float, float] = (-np.inf, np.inf)) -> tuple[float, float]:
    r"""Delta-method interval of a smooth function :math:`g(\hat\theta)` of fitted parameters.

    .. math:: g(\hat\theta) \pm z_{1-\alpha/2}\sqrt{\nabla g^\top\, \Sigma\, \nabla g}

    Parameters
    ----------
    value : float
        :math:`g(\hat\theta)`.
    gradient : array_like
        :math:`\nabla g` at :math:`\hat\theta`.
    covariance : array_like
        :math:`\Sigma`, the parameters' covariance (inverse observed information).
    confidence : float, default 0.95
    bounds : (float, float)
        Range the interval is clipped to (e.g. (0, 1) for a probability).

    References
    ----------
    Oehlert, G. W. (1992). A note on the delta method. The American Statistician 46, 27-29.

    Examples
    --------
    g(a, b) = a / (a + b) at a = 1, b = 3 with Σ = diag(0.04, 0.09): ∇g = (3, −1)/16, so
    by hand Var = (9 · 0.04 + 0.09)/256 and se = 0.0419:

    >>> lo, hi = delta_interval(0.25, [3 / 16, -1 / 16], [[0.04, 0], [0, 0.09]], bounds=(0, 1))
    >>> round(lo, 4), round(hi, 4)
    (0.1678, 0.3322)
    """
    grad = np.asarray(gradient, dtype=float)
    se = float(np.sqrt(max(grad @ np.asarray(covariance, dtype=float) @ grad, 0.0)))
    half = z_quantile(confidence) * se
    return float(max(value - half, bounds[0])), float(min(value + half, bounds[1]))


def multinomial_difference(a, b, n, confidence: float = 0.95) -> pd.DataFrame:
    r"""The difference of two category shares of one multinomial sample,
    :math:`p_a - p_b` (the NPS: promoters minus detractors), with its interval.

    Parameters
    ----------
    a, b : array_like of int
        Counts of the two categories (promoters, detractors).
    n : array_like of int
        Sample size (all answers, the third category included).
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        ``difference`` (as a share, ×100 for NPS points), ``se`` (Wald), ``ci_low``,
        ``ci_high`` (clipped to [-1, 1]), ``interval`` (``"wald"`` or
        ``"adjusted-wald"``).

    Notes
    -----
    The Wald variance of a difference of multinomial shares is

    .. math:: \widehat{\mathrm{Var}}(\hat p_a - \hat p_b) = \frac{\hat p_a + \hat p_b - (\hat p_a - \hat p_b)^2}{n}

    It is 0 when every answer is in one category; there the adjusted-Wald interval adds
    ¾ to each of the two counts and 3 to n (Rocks' recommendation for the NPS).

    References
    ----------
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". The American
    Statistician 70(4), 365-372.

    Examples
    --------
    60 promoters and 20 detractors in 100 answers: by hand Var = (0.8 − 0.4²)/100, se = 0.08,
    NPS 40 ± 1.96 · 8 points:

    >>> r = multinomial_difference(60, 20, 100)
    >>> [round(100 * float(r[c][0]), 2) for c in ("difference", "ci_low", "ci_high")]
    [40.0, 24.32, 55.68]
    """
    a, b, n = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (a, b, n))
    z = z_quantile(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa, pb = a / n, b / n
        diff = pa - pb
        var = (pa + pb - diff**2) / n
        degenerate = (n > 0) & (var <= 0)
        aa, ba, na = (a + 0.75) / (n + 3), (b + 0.75) / (n + 3), n + 3
        var_adj = (aa + ba - (aa - ba) ** 2) / na
        centre = np.where(degenerate, aa - ba, diff)
        se_used = np.sqrt(np.where(degenerate, var_adj, var))
    return pd.DataFrame({
        "difference": diff,
        "se": np.sqrt(var),
        "ci_low": np.clip(centre - z * se_used, -1, 1),
        "ci_high": np.clip(centre + z * se_used, -1, 1),
        "interval": np.where(degenerate, "adjusted-wald", "wald"),
    })


def auc_interval(auc: float, n_pos: int, n_neg: int, confidence: float = 0.95) -> tuple[float, float]:
    r"""Hanley–McNeil interval of an ROC AUC from the numbers of positives and negatives.

    .. math::

        \mathrm{Var}(A) = \frac{A(1-A) + (n_1-1)(Q_1 - A^2) + (n_2-1)(Q_2 - A^2)}{n_1 n_2},
        \quad Q_1 = \frac{A}{2-A}, \; Q_2 = \frac{2A^2}{1+A}

    References
    ----------
    Hanley, J. A. and McNeil, B. J. (1982). The meaning and use of the area under a
    receiver operating characteristic (ROC) curve. Radiology 143, 29-36.

    Examples
    --------
    A = 0.9 with n₁ = n₂ = 100: by hand Q₁ = 0.8182, Q₂ = 0.8526, Var = 5.1205 / 10⁴ and
    SE(A) = 0.0226:

    >>> lo, hi = auc_interval(0.9, 100, 100)
    >>> round((hi - lo) / 2 / 1.959964, 4)
    0.0226
    """
    if not np.isfinite(auc) or n_pos == 0 or n_neg == 0:
        return float("nan"), float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    half = z_quantile(confidence) * np.sqrt(max(var, 0.0))
    return float(max(auc - half, 0.0)), float(min(auc + half, 1.0))


def chi_square_test(observed, expected, fitted_parameters: int = 0) -> tuple[float, int, float]:
    r"""Pearson's goodness-of-fit test of observed against expected counts.

    .. math:: \chi^2 = \sum_k \frac{(O_k - E_k)^2}{E_k}, \qquad \mathrm{dof} = K - 1 - m

    with :math:`m` the parameters fitted to the data. Cells with :math:`E_k = 0` are
    left out of the sum.

    Returns
    -------
    chi2, dof, p_value : float, int, float
        ``p_value`` is NaN when ``dof < 1``.

    Examples
    --------
    The same as :func:`scipy.stats.chisquare` (and R's ``chisq.test``) on (16, 18, 16, 14,
    12, 12) against equal expectations:

    >>> chi2, dof, p = chi_square_test([16, 18, 16, 14, 12, 12], [14.666666666666666] * 6)
    >>> round(chi2, 4), dof, round(p, 4)
    (2.0, 5, 0.8491)
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = float(np.nansum((o - e) ** 2 / np.where(e > 0, e, np.nan)))
    dof = int(len(o) - 1 - fitted_parameters)
    p_value = float(_special.chdtrc(dof, chi2)) if dof > 0 else float("nan")
    return chi2, dof, p_value


def correlation_interval(r: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    r"""Fisher's z interval of a Pearson correlation.

    .. math:: \tanh\left(\operatorname{artanh} r \pm \frac{z_{1-\alpha/2}}{\sqrt{n-3}}\right)

    NaN for fewer than 4 pairs or an undefined ``r``.

    References
    ----------
    Fisher, R. A. (1921). On the "probable error" of a coefficient of correlation deduced
    from a small sample. Metron 1, 3-32.

    Examples
    --------
    r = 0.5 from n = 28 pairs: by hand artanh 0.5 = 0.5493, ± 1.96/5 = 0.392, tanh of the ends:

    >>> [round(v, 4) for v in correlation_interval(0.5, 28)]
    [0.156, 0.7358]
    """
    if n < 4 or not np.isfinite(r):
        return float("nan"), float("nan")
    centre, half = float(np.arctanh(np.clip(r, -1 + 1e-15, 1 - 1e-15))), z_quantile(confidence) / np.sqrt(n - 3)
    return float(np.tanh(centre - half)), float(np.tanh(centre + half))
