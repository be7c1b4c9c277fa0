"""Projection with the shifted-beta-geometric (sBG) model of Fader & Hardie (2007): the fit,
its verdict from the fit itself, and fits per segment on tenure survivors with a holdout.

The optimiser is looked up as ``_opt.minimize`` (``scipy.optimize``) at each call, so a test
can stand in for it (``monkeypatch.setattr(kpilib.churn._opt, "minimize", ...)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import optimize as _opt
from scipy import special as _sp

from kpilib.churn import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.churn._survival import tenure_survivors
from kpilib.data import column_list
from kpilib.metrics import computes
from kpilib.stats import delta_interval

__all__ = ["SBG_RELIABILITY_THRESHOLDS", "SBGFit", "SBGProjection", "fit_sbg", "sbg_projection", "sbg_reliability"]

#: Thresholds of the sBG verdict (see :func:`sbg_reliability`): figures from a fit are
#: marked "unreliable" when
#:
#: * ``min_calibration_periods`` — it was fitted on fewer periods: with two periods the
#:   two parameters reproduce the data exactly, so nothing tests the model; with one, only
#:   α/(α+β) is identified. Three periods leave one degree of freedom.
#: * ``min_churned`` — fewer customers churned in the calibration periods: the
#:   heterogeneity (how churn falls with tenure) rests on a handful of events.
#: * ``max_relative_interval_width`` — the 95 % interval of the mean churn α/(α+β) is
#:   wider than this many times its value (2: the interval reaches 0 or spans ± the
#:   estimate itself).
#: * ``max_mape_ratio`` and ``min_mape_gap`` — on the holdout periods, the sBG's mean
#:   absolute percentage error of the survivors exceeds the naive constant-churn
#:   baseline's (p = lost / exposure of the calibration periods) by more than this factor
#:   *and* by more than this many points (so two small errors are not called a loss).
#:
#: A verdict of "at bound" or "not converged" always marks the fit. "No heterogeneity"
#: does not: the maximum is then the geometric model itself, whose constant churn and
#: projection are well estimated (only α and β separately are not).
SBG_RELIABILITY_THRESHOLDS: dict[str, float] = {
    "min_calibration_periods": 3,
    "min_churned": 10,
    "max_relative_interval_width": 2.0,
    "max_mape_ratio": 1.5,
    "min_mape_gap": 0.02,
}

#: Bounds of (ln α, ln β) for the optimiser.
_LOG_BOUNDS = (-10.0, 14.0)
#: Log-likelihood units within which the geometric model "reaches" the sBG: the maximum
#: is then on the no-heterogeneity boundary (a likelihood-ratio statistic of 0.002).
_SBG_LL_TOL = 1e-3
#: A converged fit gains at most this much log-likelihood from one more Newton step …
_SBG_DECREMENT_TOL = 1e-6
#: … and its gradient in (ln α, ln β) is at most this times max(1, |log-likelihood|).
_SBG_GRAD_TOL = 1e-6
#: A parameter within this distance (on the log scale) of a bound, pushing outwards, is at it.
_SBG_BOUND_MARGIN = 0.5


@dataclass(eq=False)
class SBGFit:
    r"""A fitted shifted-beta-geometric (sBG) model of one cohort; see :func:`fit_sbg`.

    Each customer churns at the end of every period with probability θ, and θ ~ Beta(α, β)
    across customers. Then, for :math:`t = 1, 2, \dots`

    .. math::

        P(T = t) = \frac{B(\alpha + 1, \beta + t - 1)}{B(\alpha, \beta)}, \quad
        S(t) = \frac{B(\alpha, \beta + t)}{B(\alpha, \beta)}, \quad
        r_t = \frac{S(t)}{S(t-1)} = \frac{\beta + t - 1}{\alpha + \beta + t - 1}.

    Attributes
    ----------
    alpha_, beta_ : float
        Maximum-likelihood estimates.
    log_likelihood_ : float
        Log-likelihood at the estimates.
    alive_ : numpy.ndarray
        The calibration data (alive at periods 0 … n).
    n_periods_ : int
        Calibration periods *n*.
    standard_errors_ : dict
        Asymptotic standard errors of α and β (inverse observed information); infinite
        when the data show no heterogeneity (α and β are then not identified, only their
        ratio), NaN when the observed information is not positive definite.
    covariance_ : numpy.ndarray
        Their 2×2 covariance matrix. With no heterogeneity it is the covariance along the
        boundary at the reported α + β, which gives :meth:`mean_churn_interval` the
        geometric model's variance p(1 − p) / exposure.
    converged_ : bool
        True when the fit is an interior maximum: the gradient is zero within tolerance,
        the observed information is positive definite and no parameter is at its bound.
        Decided from the fit itself, never from the optimiser's flag (see
        :attr:`verdict_`). False typically because the data show no heterogeneity (a
        plain geometric model fits); :attr:`mean_churn_` is still well estimated then.
    verdict_ : str
        ``"converged"``; ``"no heterogeneity"`` (the geometric model with a constant churn
        p = lost / exposure reaches the sBG's log-likelihood within 0.001: the maximum is
        the limit α, β → ∞ with α/(α+β) = p, and α, β are reported at their bound with
        that ratio); ``"at bound"`` (another parameter ran to its bound); or ``"not
        converged"`` (gradient not zero, or no positive-definite information).
    note_ : str
        Why, in a sentence, when the verdict is not ``"converged"``.
    """

    alpha_: float
    beta_: float
    log_likelihood_: float
    alive_: np.ndarray
    n_periods_: int
    standard_errors_: dict[str, float]
    covariance_: np.ndarray = field(repr=False, default_factory=lambda: np.full((2, 2), np.nan))
    converged_: bool = True
    verdict_: str = "converged"
    note_: str = ""

    def mean_churn_interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Delta-method interval of :attr:`mean_churn_`, clipped to [0, 1]
        (:func:`kpilib.stats.delta_interval`)."""
        a, b = self.alpha_, self.beta_
        grad = np.array([b, -a]) / (a + b) ** 2
        return delta_interval(self.mean_churn_, grad, self.covariance_, confidence, bounds=(0.0, 1.0))

    @property
    def mean_churn_(self) -> float:
        """α / (α + β): expected churn probability of a new customer (period-1 churn)."""
        return self.alpha_ / (self.alpha_ + self.beta_)

    def survival(self, t: ArrayLike) -> np.ndarray | float:
        """S(t): probability a customer is still active after t periods (t ≥ 0)."""
        t = np.asarray(t, dtype=float)
        return np.exp(_sp.betaln(self.alpha_, self.beta_ + t) - _sp.betaln(self.alpha_, self.beta_))

    def churn_probability(self, t: ArrayLike) -> np.ndarray | float:
        """P(T = t): probability a customer churns in period t (t ≥ 1)."""
        t = np.asarray(t, dtype=float)
        return np.exp(_sp.betaln(self.alpha_ + 1, self.beta_ + t - 1) - _sp.betaln(self.alpha_, self.beta_))

    def retention_rate(self, t: ArrayLike) -> np.ndarray | float:
        """r_t = S(t) / S(t-1): share of those active after t-1 periods still active after t."""
        t = np.asarray(t, dtype=float)
        return (self.beta_ + t - 1) / (self.alpha_ + self.beta_ + t - 1)

    def expected_alive(self, t: ArrayLike) -> np.ndarray | float:
        """Expected customers still active after t periods, of the cohort's initial size."""
        return float(self.alive_[0]) * self.survival(t)

    def expected_remaining_lifetime(self, n: int = 0, discount: float = 0.0) -> float:
        r"""Expected further periods of a customer active after ``n`` periods.

        .. math::

            \sum_{k \ge 1} \frac{S(n+k)}{S(n)} (1+d)^{-k}
            = {}_2F_1\!\left(1, \beta+n; \alpha+\beta+n; \tfrac{1}{1+d}\right) - 1

        Undiscounted (``discount=0``) it is :math:`(\beta+n)/(\alpha-1)` when α > 1 and
        infinite when α ≤ 1 (heavy-tailed lifetimes) — then use a discount rate.
        """
        if discount < 0:
            raise ValueError("discount must be ≥ 0")
        b = self.beta_ + n
        if discount == 0:
            return (b / (self.alpha_ - 1)) if self.alpha_ > 1 else float("inf")
        return float(_sp.hyp2f1(1.0, b, self.alpha_ + b, 1.0 / (1.0 + discount)) - 1.0)

    def discounted_expected_residual_lifetime(self, renewals: int, discount: float) -> float:
        r"""DERL (Fader & Hardie 2010): expected discounted number of further payments of
        a customer who has made ``renewals`` renewals (is active after that many periods),
        the next payment counted undiscounted.

        .. math::

            \text{DERL}(d \mid n) = \frac{\beta + n - 1}{\alpha + \beta + n - 1}\,
            {}_2F_1\!\left(1, \beta + n; \alpha + \beta + n; \tfrac{1}{1+d}\right),
            \qquad n = \text{renewals} + 1,

        which equals ``(1 + d) * expected_remaining_lifetime(renewals, d)``. Multiply by
        the margin per period for the residual lifetime value.
        """
        if discount <= 0:
            raise ValueError("DERL needs a positive discount rate (undiscounted, it may be infinite)")
        a, b, n = self.alpha_, self.beta_, renewals + 1
        return float((b + n - 1) / (a + b + n - 1) * _sp.hyp2f1(1.0, b + n, a + b + n, 1.0 / (1.0 + discount)))

    def projection(self, periods: int, actual: Sequence[float] | None = None) -> pd.DataFrame:
        """Projected survivors for periods 0 … ``periods`` beside the actual counts.

        Parameters
        ----------
        periods : int
            Last period to project.
        actual : sequence of float, optional
            Actual alive counts for periods 0 …, e.g. including holdout periods;
            defaults to the calibration data.

        Returns
        -------
        pandas.DataFrame
            ``period``, ``actual`` (NaN where unknown), ``expected``, ``survival``,
            ``retention_rate`` (NaN at 0), ``actual_retention``, ``calibration``
            (True for the periods the model was fitted on).
        """
        t = np.arange(periods + 1)
        act = np.full(periods + 1, np.nan)
        given = np.asarray(self.alive_ if actual is None else actual, dtype=float)[: periods + 1]
        act[: len(given)] = given
        with np.errstate(divide="ignore", invalid="ignore"):
            act_ret = np.concatenate([[np.nan], act[1:] / act[:-1]])
        return pd.DataFrame({
            "period": t,
            "actual": act,
            "expected": self.expected_alive(t),
            "survival": self.survival(t),
            "retention_rate": np.where(t > 0, self.retention_rate(np.maximum(t, 1)), np.nan),
            "actual_retention": act_ret,
            "calibration": t <= self.n_periods_,
        })


@dataclass(frozen=True)
class _SBGData:
    """One cohort's survivors in the form the sBG likelihood uses: period k = 0 … n-1
    has ``at_risk[k]`` customers entering it, ``lost[k]`` churn at its end and
    ``stayed[k]`` renew."""

    alive: np.ndarray

    @property
    def at_risk(self) -> np.ndarray:
        return self.alive[:-1]

    @property
    def stayed(self) -> np.ndarray:
        return self.alive[1:]

    @property
    def lost(self) -> np.ndarray:
        return self.alive[:-1] - self.alive[1:]

    @property
    def k(self) -> np.ndarray:
        return np.arange(len(self.alive) - 1, dtype=float)

    def geometric(self) -> tuple[float, float, float]:
        """The nested no-heterogeneity model: a constant churn p per period. Returns the
        maximum-likelihood p = lost / exposure, its log-likelihood and its variance."""
        churned, exposure = float(np.sum(self.lost)), float(np.sum(self.at_risk))
        p = churned / exposure
        ll = churned * np.log(p) + ((exposure - churned) * np.log1p(-p) if p < 1 else 0.0)
        return p, float(ll), p * (1 - p) / exposure


def _sbg_terms(a: float, b: float, d: _SBGData) -> tuple[float, np.ndarray, np.ndarray]:
    r"""Log-likelihood, gradient and Hessian of the sBG in (α, β).

    Written with the hazards :math:`\alpha / (\alpha + \beta + k)` of period k + 1, so no
    difference of large log-gamma values is taken, and with plain element-wise sums (no
    BLAS call): the value does not depend on the BLAS kernel numpy uses.
    """
    k, at_risk, stayed, lost = d.k, d.at_risk, d.stayed, d.lost
    s = a + b + k
    ll = np.sum(lost) * np.log(a) - np.sum(at_risk * np.log(s)) + np.sum(stayed * np.log(b + k))
    risk_s, risk_s2 = np.sum(at_risk / s), np.sum(at_risk / s**2)
    grad = np.array([np.sum(lost) / a - risk_s, np.sum(stayed / (b + k)) - risk_s])
    hess = np.array([[risk_s2 - np.sum(lost) / a**2, risk_s2],
                     [risk_s2, risk_s2 - np.sum(stayed / (b + k) ** 2)]])
    return float(ll), grad, hess


def _sbg_log_terms(x: np.ndarray, d: _SBGData) -> tuple[float, np.ndarray, np.ndarray]:
    """:func:`_sbg_terms` in (ln α, ln β), the scale the optimiser works on."""
    ab = np.exp(x)
    ll, grad, hess = _sbg_terms(ab[0], ab[1], d)
    hess_log = hess * np.outer(ab, ab) + np.diag(grad * ab)
    return ll, grad * ab, hess_log


def _solve_pd(info: np.ndarray, g: np.ndarray) -> np.ndarray | None:
    """``info⁻¹ g`` for a 2×2 positive-definite ``info`` by hand (no LAPACK); None if it is not."""
    det = info[0, 0] * info[1, 1] - info[0, 1] * info[1, 0]
    if not (np.isfinite(det) and info[0, 0] > 0 and det > 1e-12 * abs(info[0, 0] * info[1, 1])):
        return None
    return np.array([info[1, 1] * g[0] - info[0, 1] * g[1], info[0, 0] * g[1] - info[1, 0] * g[0]]) / det


def _sbg_polish(x: np.ndarray, d: _SBGData) -> np.ndarray:
    """Newton steps with step halving from an optimiser's stop, while the observed
    information is positive definite and the likelihood improves: where the optimiser
    stopped (a line-search stop, a BLAS kernel's rounding) no longer matters."""
    lo, hi = _LOG_BOUNDS
    ll, g, h = _sbg_log_terms(x, d)
    noise = 8 * np.finfo(float).eps * max(1.0, abs(ll))  # rounding of the log-likelihood
    for _ in range(100):
        step = _solve_pd(-h, g)
        if step is None or not np.all(np.isfinite(step)):
            break
        t = 1.0
        while t > 1e-10:
            trial = np.clip(x + t * step, lo, hi)
            trial_ll, trial_g, trial_h = _sbg_log_terms(trial, d)
            if np.isfinite(trial_ll) and trial_ll >= ll - noise:
                break
            t /= 2
        else:
            break
        x, ll, g, h = trial, trial_ll, trial_g, trial_h
        if np.max(np.abs(t * step)) <= 1e-13:
            break
    return x


def _sbg_verdict(x: np.ndarray, d: _SBGData) -> tuple[str, str]:
    """Judge a fit at (ln α, ln β) from the fit itself — the likelihood against the
    nested geometric model, the distance to the bounds, the gradient and the curvature —
    never from an optimiser's flag. Returns ``(verdict, note)`` with verdict one of
    ``"converged"``, ``"no heterogeneity"``, ``"at bound"``, ``"not converged"``."""
    ll, g, h = _sbg_log_terms(x, d)
    p, ll_geo, _ = d.geometric()
    if ll_geo >= ll - _SBG_LL_TOL:
        return "no heterogeneity", (
            f"no heterogeneity: a constant churn of {p:.2%} per period (the sBG's limit α, β → ∞) "
            f"fits as well (log-likelihood {ll_geo:.3f} against the sBG's {ll:.3f})")
    lo, hi = _LOG_BOUNDS
    for name, value, slope in zip(("α", "β"), x, g, strict=True):
        if value - lo < _SBG_BOUND_MARGIN and slope < 0 or hi - value < _SBG_BOUND_MARGIN and slope > 0:
            side = "lower" if value - lo < _SBG_BOUND_MARGIN else "upper"
            return "at bound", f"{name} ran to its {side} bound ({np.exp(value):.3g}): the maximum is not interior"
    step = _solve_pd(-h, g)
    if not np.all(np.isfinite(g)) or step is None:
        return "not converged", "the observed information is not positive definite: no finite covariance"
    decrement = float(np.sum(g * step)) / 2
    gnorm = float(np.sqrt(np.sum(g * g)))
    if gnorm > _SBG_GRAD_TOL * max(1.0, abs(ll)) or decrement > _SBG_DECREMENT_TOL:
        return "not converged", (
            f"the gradient is not zero at the stop (norm {gnorm:.2g}; one more Newton step would gain "
            f"{decrement:.2g} in log-likelihood)")
    return "converged", ""


@computes("sbg_projected_retention")
def fit_sbg(alive: Sequence[float]) -> SBGFit:
    r"""Fit the shifted-beta-geometric model of Fader & Hardie (2007) by maximum likelihood.

    Parameters
    ----------
    alive : sequence of numbers
        Customers of one cohort still active at periods 0, 1, …, n (the first value is the
        cohort size; non-increasing). Counts, not percentages — the likelihood, and so the
        standard errors, depend on the cohort size.

    Returns
    -------
    SBGFit

    Notes
    -----
    With :math:`n_t` alive at period *t*, the log-likelihood is

    .. math::

        LL(\alpha, \beta) = \sum_{t=1}^{n} (n_{t-1} - n_t) \ln P(T = t) + n_n \ln S(n),

    maximised over :math:`(\ln\alpha, \ln\beta)` with L-BFGS-B (analytic gradient),
    restarted from a grid of starting points, each stop polished by Newton steps; restarts
    whose log-likelihoods agree to rounding are one maximum. Standard errors come from
    the analytic Hessian (observed information).

    The verdict (:attr:`SBGFit.converged_`, :attr:`SBGFit.verdict_`) comes from the fit
    itself, with tolerances, never from an optimiser's success flag (which a line-search
    stop near the optimum flips, depending on the BLAS kernel): first the likelihood
    against the nested geometric model — the sBG tends to it as α, β → ∞ with α/(α+β)
    fixed, so if a constant churn p = lost / exposure reaches the sBG's log-likelihood
    within 0.001, the maximum is on that boundary (no heterogeneity), wherever on the
    flat ridge the optimiser stopped; then the distance to the parameter bounds; then the
    gradient (relative norm at most 1e-6 of the log-likelihood) and the curvature
    (positive-definite observed information, one more Newton step gaining under 1e-6).

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2007). How to project customer retention. Journal of
    Interactive Marketing 21(1), 76-90.

    Examples
    --------
    The paper's "high end" segment, years 1–7 (α = 0.668, β = 3.806 published):

    >>> fit = fit_sbg([1000, 869, 743, 653, 593, 551, 517, 491])
    >>> round(fit.alpha_, 3), round(fit.beta_, 3)
    (0.668, 3.806)
    >>> fit.projection(12).loc[8:, "expected"].round(0).tolist()
    [460.0, 436.0, 414.0, 395.0, 378.0]
    """
    n = np.asarray(alive, dtype=float)
    if n.ndim != 1 or len(n) < 2:
        raise ValueError("alive must list the customers active at periods 0, 1, …, n (at least two values)")
    if not np.all(np.isfinite(n)) or np.any(n < 0):
        raise ValueError("alive must be finite, non-negative counts")
    if np.any(np.diff(n) > 0):
        raise ValueError(
            "alive must not increase: it counts one cohort's survivors (new customers belong "
            "to another cohort)"
        )
    if n[0] <= 0:
        raise ValueError("the cohort is empty (alive[0] == 0)")
    if n[0] == n[-1]:
        raise ValueError("no customer churned, so the churn distribution cannot be estimated")
    d = _SBGData(n)
    lo, hi = _LOG_BOUNDS

    def nll(x):
        ll, grad, _ = _sbg_log_terms(x, d)
        return -ll, -grad

    candidates = []
    for start in ((0.0, 0.0), (-1.0, 1.0), (1.0, 3.0), (-2.0, -1.0), (2.0, 4.0), (4.0, 7.0)):
        res = _opt.minimize(nll, np.array(start), jac=True, method="L-BFGS-B", bounds=[_LOG_BOUNDS, _LOG_BOUNDS],
                            options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 2000})
        x = _sbg_polish(np.clip(res.x, lo, hi), d)
        candidates.append((_sbg_log_terms(x, d)[0], x))
    # Restarts within a rounding tolerance of the best reached one maximum: the first of
    # them (in start order) is taken, so a BLAS kernel's last digits cannot pick another.
    top = max(ll for ll, _ in candidates)
    x = next(x for ll, x in candidates if ll >= top - 1e-9 * max(1.0, abs(top)))
    verdict, note = _sbg_verdict(x, d)
    if verdict == "no heterogeneity":
        # The supremum is the geometric model: report the point of the flat ridge at the
        # bound with α/(α+β) = p, whichever point of it the optimiser stopped at.
        p, _, var_p = d.geometric()
        size = np.exp(hi)
        a, b = (float(np.clip(v, np.exp(lo), np.exp(hi))) for v in (p * size, (1 - p) * size))
        cov = (a + b) ** 2 * var_p * np.array([[1.0, -1.0], [-1.0, 1.0]])
        errors = {"alpha": np.inf, "beta": np.inf}
    else:
        a, b = (float(v) for v in np.exp(x))
        _, _, hess = _sbg_terms(a, b, d)
        info = -hess
        columns = [_solve_pd(info, e) for e in np.eye(2)]
        cov = np.full((2, 2), np.nan) if columns[0] is None else np.column_stack(columns)
        errors = {"alpha": float(np.sqrt(cov[0, 0])), "beta": float(np.sqrt(cov[1, 1]))}
    return SBGFit(
        alpha_=a, beta_=b, log_likelihood_=_sbg_terms(a, b, d)[0], alive_=n,
        n_periods_=len(n) - 1, standard_errors_=errors, covariance_=cov,
        converged_=verdict == "converged", verdict_=verdict, note_=note,
    )


def _holdout_mape(expected: np.ndarray, actual: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        errors = np.abs(expected / actual - 1)
    errors = errors[np.isfinite(errors)]
    return float(errors.mean()) if len(errors) else float("nan")


def _baseline_mape(fit: SBGFit, actual: Sequence[float]) -> float:
    """Holdout MAPE of the naive constant-churn model fitted on the same calibration
    periods: survivors ``alive[0] (1 − p)^t`` with p = lost / exposure."""
    p, _, _ = _SBGData(np.asarray(fit.alive_, dtype=float)).geometric()
    actual = np.asarray(actual, dtype=float)
    t = np.arange(fit.n_periods_ + 1, len(actual))
    return _holdout_mape(fit.alive_[0] * (1 - p) ** t, actual[t])


def sbg_reliability(fit: SBGFit, actual: Sequence[float] | None = None) -> str | None:
    """Whether figures from an sBG fit can be trusted: ``None``, or ``"unreliable: …"``
    naming every reason (thresholds in :data:`SBG_RELIABILITY_THRESHOLDS`).

    Parameters
    ----------
    fit : SBGFit
        From :func:`fit_sbg`.
    actual : sequence of float, optional
        Alive counts for periods 0 … beyond the calibration periods (the holdout): the fit
        is then also compared with the naive constant-churn baseline on them.

    Returns
    -------
    str or None
        The note, or None for a fit whose figures can be shown as they are.

    Examples
    --------
    The paper's "high end" segment, years 1–7, is a healthy fit; two periods of a small
    cohort are not:

    >>> sbg_reliability(fit_sbg([1000, 869, 743, 653, 593, 551, 517, 491])) is None
    True
    >>> sbg_reliability(fit_sbg([40, 36, 34])).split("; ")
    ['unreliable: fitted on 2 periods (< 3 needed)', '6 customers churned in the calibration periods (< 10 needed)']
    """
    limits = SBG_RELIABILITY_THRESHOLDS
    reasons = []
    if fit.verdict_ in ("at bound", "not converged"):
        reasons.append(f"the fit is {fit.verdict_} ({fit.note_})")
    if fit.n_periods_ < limits["min_calibration_periods"]:
        reasons.append(f"fitted on {fit.n_periods_} period{'s' * (fit.n_periods_ != 1)} "
                       f"(< {limits['min_calibration_periods']:g} needed)")
    churned = float(fit.alive_[0] - fit.alive_[-1])
    if churned < limits["min_churned"]:
        reasons.append(f"{churned:g} customers churned in the calibration periods (< {limits['min_churned']:g} needed)")
    low, high = fit.mean_churn_interval()
    mean = fit.mean_churn_
    width = limits["max_relative_interval_width"]
    if not (np.isfinite(low) and np.isfinite(high)) or high - low > width * mean:
        reasons.append(f"the 95% interval of mean churn ({low:.1%}–{high:.1%}) is wider than {width:g} times "
                       f"its value ({mean:.1%})")
    if actual is not None and len(actual) > fit.n_periods_ + 1:
        actual = np.asarray(actual, dtype=float)
        t = np.arange(fit.n_periods_ + 1, len(actual))
        model, baseline = _holdout_mape(np.asarray(fit.expected_alive(t)), actual[t]), _baseline_mape(fit, actual)
        if model > limits["max_mape_ratio"] * baseline and model - baseline > limits["min_mape_gap"]:
            reasons.append(f"loses to a constant churn rate in the holdout (error {model:.1%} against {baseline:.1%})")
    return f"unreliable: {'; '.join(reasons)}" if reasons else None


@dataclass(eq=False)
class SBGProjection:
    """sBG fits per segment on tenure survivors, made by :func:`sbg_projection`.

    Attributes
    ----------
    alive : pandas.DataFrame
        The :func:`tenure_survivors` frame the fits were made on.
    fits : dict
        :class:`SBGFit` per segment label (segments that could not be fitted are absent).
    summary : pandas.DataFrame
        Per segment: ``segment``, ``cohort_size``, ``alpha``, ``beta``, ``mean_churn``
        (E[θ], month-1 churn of a new customer) with ``mean_churn_ci_low``/``_high``,
        ``projected_survival`` and ``actual_survival`` at the last tenure,
        ``holdout_mape`` (mean absolute percentage error of the projected survivors over
        the holdout months), ``baseline_mape`` (the same for the naive constant-churn
        model fitted on the calibration months), ``converged`` (:attr:`SBGFit.converged_`;
        False typically because α and β run to their bound: no heterogeneity in the data,
        a plain geometric fits), ``reliable`` (False when :func:`sbg_reliability` marks
        the fit, NaN for a segment without a fit) and ``note``: ``"unreliable: …"`` with
        the reasons for a fit not to be trusted, otherwise why a segment was skipped or
        :attr:`SBGFit.note_` of a fit that did not converge (e.g. no heterogeneity).
    calibration : int
        Tenure periods fitted on.
    """

    alive: pd.DataFrame
    fits: dict[str, SBGFit]
    summary: pd.DataFrame
    calibration: int

    @property
    def unreliable(self) -> pd.DataFrame:
        """The fitted segments :func:`sbg_reliability` marks: ``segment`` and ``note``
        (``"unreliable: …"``); empty when every fit can be trusted or nothing was fitted."""
        marked = self.summary["reliable"].eq(False) if "reliable" in self.summary else None
        if marked is None or not marked.any():
            return pd.DataFrame({"segment": pd.Series(dtype=object), "note": pd.Series(dtype=object)})
        return self.summary.loc[marked, ["segment", "note"]].reset_index(drop=True)


def sbg_projection(
    subscriptions: Any,
    periods: int = 12,
    calibration: int = 6,
    by: str | Sequence[str] | None = "plan",
    *,
    customers: Any = None,
    as_of: Any = None,
    min_customers: int = 20,
) -> SBGProjection:
    """Fit the sBG per segment on the first ``calibration`` tenure months and hold out
    the rest up to ``periods``.

    The cohort of a segment is every customer whose first spell started at least
    ``periods`` tenure months before ``as_of`` (see :func:`tenure_survivors`). Segments
    with fewer than ``min_customers`` customers, or without a churn in the calibration
    months, are listed with a note instead of a fit.

    Examples
    --------
    >>> subs = pd.DataFrame({"customer_id": list("abcdef"), "start_at": ["2025-01-01"] * 6,
    ...     "end_at": ["2025-02-15", "2025-03-20", "2025-05-02", None, None, "2025-09-10"],
    ...     "mrr": [1.0] * 6})
    >>> proj = sbg_projection(subs, periods=8, calibration=5, by=None, as_of="2025-12-01",
    ...                       min_customers=5)
    >>> proj.summary[["segment", "cohort_size", "actual_survival"]]
      segment  cohort_size  actual_survival
    0     all            6              0.5
    """
    if not 1 <= calibration <= periods:
        raise ValueError(f"calibration must be between 1 and periods ({periods}), got {calibration}")
    by_cols = column_list(by)
    alive = tenure_survivors(subscriptions, periods, by_cols, customers=customers, as_of=as_of)
    fits: dict[str, SBGFit] = {}
    rows = []
    groups = alive.groupby(by_cols, sort=True) if by_cols else [("all", alive)]
    for key, part in groups:
        label = " · ".join(map(str, key)) if isinstance(key, tuple) else str(key)
        counts = part.sort_values("tenure")["alive"].to_numpy(dtype=float)
        row: dict[str, Any] = {
            "segment": label, "cohort_size": int(counts[0]) if len(counts) else 0,
            "actual_survival": counts[-1] / counts[0] if len(counts) and counts[0] else np.nan,
        }
        if row["cohort_size"] < min_customers:
            rows.append({**row, "note": f"fewer than {min_customers} customers observed {periods} months"})
            continue
        if counts[calibration] == counts[0]:
            rows.append({**row, "note": "no churn in the calibration months"})
            continue
        fit = fit_sbg(counts[: calibration + 1])
        fits[label] = fit
        proj = fit.projection(periods, counts)
        hold = proj[~proj["calibration"]]
        low, high = fit.mean_churn_interval()
        unreliable = sbg_reliability(fit, counts)
        rows.append({
            **row, "alpha": fit.alpha_, "beta": fit.beta_, "mean_churn": fit.mean_churn_,
            "mean_churn_ci_low": low, "mean_churn_ci_high": high,
            "projected_survival": float(fit.survival(periods)),
            "holdout_mape": _holdout_mape(hold["expected"].to_numpy(), hold["actual"].to_numpy()),
            "baseline_mape": _baseline_mape(fit, counts),
            "converged": fit.converged_, "reliable": unreliable is None, "note": unreliable or fit.note_,
        })
    columns = ["segment", "cohort_size", "alpha", "beta", "mean_churn", "mean_churn_ci_low",
               "mean_churn_ci_high", "projected_survival", "actual_survival", "holdout_mape",
               "baseline_mape", "converged", "reliable", "note"]
    summary = pd.DataFrame(rows).reindex(columns=columns)
    return SBGProjection(alive=alive, fits=fits, summary=summary, calibration=calibration)
