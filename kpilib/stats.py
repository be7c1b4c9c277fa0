"""Intervals and tests shared by every domain.

A rate in kpilib never travels alone: it carries its numerator, its denominator and a
95% Wilson score interval. This module holds those shared statistics so that every
domain computes them the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as _sps

__all__ = [
    "SMALL_DENOMINATOR",
    "compare_proportions",
    "rate_frame",
    "wilson_interval",
]

#: Cells whose denominator is below this are flagged as unreliable in reports.
SMALL_DENOMINATOR = 30


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    return float(_sps.norm.ppf(0.5 + confidence / 2))


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
    z = _z(confidence)
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
        p_value = 2 * _sps.norm.sf(np.abs(z))
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
