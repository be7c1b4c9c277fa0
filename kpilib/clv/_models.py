"""The models: BG/NBD, Pareto/NBD and MBG/NBD for transactions, Gamma–Gamma for order
values — fitted by lifetimes on the unique summary rows with weights, each fit judged
from the likelihood itself (gradient, curvature, ridges to the limit models)."""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from autograd import grad as _ag_grad
from autograd import hessian as _ag_hessian
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from lifetimes.utils import ConvergenceError
from scipy import optimize as _opt

from kpilib.clv._likelihoods import exact_derivatives
from kpilib.clv._rfm import _rfm, compress_rfm
from kpilib.clv._units import TimeUnit, time_unit
from kpilib.data import DataError

ModelName = Literal["bgnbd", "pareto_nbd", "mbgnbd"]

#: The transaction models, by the name the notebook and :func:`fit_clv` use.
MODELS: dict[str, type] = {
    "bgnbd": BetaGeoFitter,
    "pareto_nbd": ParetoNBDFitter,
    "mbgnbd": ModifiedBetaGeoFitter,
}
_MODEL_TITLES = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD", "mbgnbd": "MBG/NBD",
                 "gamma_gamma": "Gamma–Gamma"}

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
    # Pareto/NBD's (r, α, s, β): lifetimes' α, β are in time scaled to the longest age
    "pareto_nbd": [
        (np.array([0.0, 0.0, 1.0, 1.0]), "s, β → ∞ (no heterogeneity in dropout rates)"),
        _RATE_RIDGE,
        (np.array([0.0, 0.0, 0.0, 1.0]), "β → ∞ (nobody drops out)"),
    ],
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
    active) or ``"not converged"``; ``note`` says why; ``ridge`` is the ridge's index;
    ``hessian`` the objective's Hessian at ``x`` when the judgement computed it."""

    x: np.ndarray
    verdict: str
    note: str = ""
    ridge: int | None = None
    hessian: np.ndarray | None = None


def _active(x: np.ndarray, gradient: np.ndarray, bounds: Any) -> np.ndarray:
    """Coordinates held at an optimiser bound that the objective pushes against."""
    held = np.zeros(len(x), dtype=bool)
    for i, (low, high) in enumerate(bounds or ()):
        held[i] = (low is not None and x[i] <= low + 1e-8 and gradient[i] > 0) or (
            high is not None and x[i] >= high - 1e-8 and gradient[i] < 0)
    return held


def _autograd_derivatives(objective: Any) -> tuple[Any, Any]:
    """Exact gradient and Hessian of an autograd-traceable objective."""
    return _ag_grad(objective), _ag_hessian(objective)


#: Steps (in log-parameters) of the central differences of :func:`_numeric_derivatives`:
#: truncation (h²) and rounding (ε/h, ε/h²) errors both near 1e-10 of the objective's scale.
_GRADIENT_STEP, _HESSIAN_STEP = 1e-5, 1e-4


def _numeric_derivatives(objective: Any) -> tuple[Any, Any]:
    """Central-difference gradient and Hessian, for an objective autograd cannot trace
    (lifetimes' Pareto/NBD likelihood calls scipy's ``hyp2f1``)."""

    def gradient(x: np.ndarray, *args: Any) -> np.ndarray:
        h = _GRADIENT_STEP
        return np.array([(objective(x + h * e, *args) - objective(x - h * e, *args)) / (2 * h)
                         for e in np.eye(len(x))])

    def curvature(x: np.ndarray, *args: Any) -> np.ndarray:
        h, basis, k = _HESSIAN_STEP, np.eye(len(x)), len(x)
        f0 = objective(x, *args)
        out = np.empty((k, k))
        for i in range(k):
            for j in range(i, k):
                if i == j:
                    out[i, i] = (objective(x + h * basis[i], *args) - 2 * f0
                                 + objective(x - h * basis[i], *args)) / h**2
                else:
                    ei, ej = h * basis[i], h * basis[j]
                    out[i, j] = out[j, i] = (objective(x + ei + ej, *args) - objective(x + ei - ej, *args)
                                             - objective(x - ei + ej, *args)
                                             + objective(x - ei - ej, *args)) / (4 * h**2)
        return out

    return gradient, curvature


def _newton(objective: Any, x: np.ndarray, args: tuple, free: np.ndarray, bounds: Any,
            derivatives: Any = _autograd_derivatives) -> np.ndarray:
    """Newton steps with step halving on the ``free`` coordinates while the Hessian there
    is positive definite and the objective does not rise: where the optimiser stopped
    (a line-search stop, a BLAS kernel's rounding) no longer matters."""
    low = np.array([-np.inf if b is None or b[0] is None else b[0] for b in (bounds or [None] * len(x))])
    high = np.array([np.inf if b is None or b[1] is None else b[1] for b in (bounds or [None] * len(x))])
    gradient, curvature = derivatives(objective)
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
           bounds: Any = None, derivatives: Any = _autograd_derivatives) -> _Verdict:
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
    ``"boundary"`` or ``"not converged"``. ``derivatives`` makes the gradient and Hessian
    functions of the objective (exact, by autograd, unless the objective cannot be traced).
    """
    x = np.asarray(x, dtype=float)
    gradient, curvature = derivatives(objective)
    with np.errstate(all="ignore"):
        value = objective(x, *args)
        if not np.isfinite(value):
            return _Verdict(x, "not converged", "the likelihood is not finite where the optimiser stopped")
        ridge = _along_ridge(objective, x, value, args, n, ridges)
        if ridge is not None:
            return ridge
        # Newton steps from the stop, so the fit reported is the same maximum (to
        # rounding) wherever the optimiser stopped near it
        x = _newton(objective, x, args, ~_active(x, gradient(x, *args), bounds), bounds, derivatives)
        value = objective(x, *args)
        ridge = _along_ridge(objective, x, value, args, n, ridges)
        if ridge is not None:
            return ridge
        g = gradient(x, *args)
        held = _active(x, g, bounds)
        free = ~held
        hessian = curvature(x, *args)
        h = hessian[np.ix_(free, free)]
        try:
            np.linalg.cholesky(h)
            decrement = n * float(np.sum(g[free] * np.linalg.solve(h, g[free]))) / 2
        except np.linalg.LinAlgError:
            decrement = np.inf
        small = np.max(np.abs(g[free]), initial=0.0) <= _GRAD_TOL * max(1.0, abs(value))
    if np.all(np.isfinite(g)) and decrement <= _DECREMENT_TOL and small:
        if held.any():
            return _Verdict(x, "at bound", "a parameter is held at its optimiser bound", hessian=hessian)
        return _Verdict(x, "converged", hessian=hessian)
    why = ("the Hessian is not positive definite" if not np.isfinite(decrement)
           else f"the gradient is not zero (one more Newton step would gain {decrement:.2g} in log-likelihood)")
    return _Verdict(x, "not converged", why, hessian=hessian)


def _on_ridge(objective: Any, stop: _Verdict, args: tuple, ridges: list[tuple[np.ndarray, str]],
              bounds: Any, derivatives: Any = _autograd_derivatives) -> np.ndarray:
    """The point reported for a boundary maximum, the same whichever point of the flat
    ridge the optimiser stopped at: the ridge's leading parameter moved to
    ``_RIDGE_LIMIT`` and the others refitted with it held there."""
    direction = ridges[stop.ridge][0]
    lead = int(np.flatnonzero(direction > 0)[0])
    x = stop.x + (_RIDGE_LIMIT - stop.x[lead]) * direction
    free = np.ones(len(x), dtype=bool)
    free[lead] = False
    with np.errstate(all="ignore"):
        return _newton(objective, x, args, free, bounds, derivatives)


def _judged(fitter: Any, ridges: list[tuple[np.ndarray, str]], n: float, *, canonical: bool = False) -> Any:
    """Make ``fitter`` (a lifetimes BG/NBD, MBG/NBD or Gamma–Gamma) fit with the same
    optimiser call as lifetimes but judge the stop with :func:`_judge` instead of raising
    on its success flag; the verdict lands on ``fitter.verdict_`` / ``fitter.note_``.
    With ``canonical``, a boundary maximum is reported at :func:`_on_ridge`. BG/NBD's and
    Gamma–Gamma's gradients and Hessians are written out (:mod:`kpilib.clv._likelihoods`),
    MBG/NBD's traced by autograd."""
    derivatives = exact_derivatives(fitter) or _autograd_derivatives

    def fit(args, initial_params, params_size, disp, tol=1e-7, bounds=None, **kwargs):
        objective = fitter._negative_log_likelihood
        gradient, curvature = derivatives(objective)

        def value_and_gradient(x: np.ndarray, *args: Any) -> tuple[float, np.ndarray]:
            return objective(x, *args), gradient(x, *args)

        start = 0.1 * np.ones(params_size) if initial_params is None else initial_params
        with np.errstate(all="ignore"):
            output = _opt.minimize(value_and_gradient, jac=True, method=None, tol=tol, x0=start,
                                   args=args, options={**({"disp": disp} if disp else {}), **kwargs},
                                   bounds=bounds)
        stop = _judge(objective, output.x, args, n, ridges, bounds, derivatives)
        x = (_on_ridge(objective, stop, args, ridges, bounds, derivatives)
             if canonical and stop.verdict == "boundary" else stop.x)
        fitter.verdict_, fitter.note_, fitter._ridge = stop.verdict, stop.note, stop.ridge
        with np.errstate(all="ignore"):
            # the judgement's Hessian where it is at the same point (the most costly step of a fit)
            hessian = stop.hessian if x is stop.x and stop.hessian is not None else curvature(x, *args)
            return x, objective(x, *args), hessian

    fitter._fit = fit
    return fitter


def _pareto_objective(x: np.ndarray, frequency: Any, recency: Any, T: Any, weights: Any,
                      penalizer: float) -> float:
    """lifetimes' Pareto/NBD objective in log-parameters, per customer: lifetimes divides
    the weighted sum by the *mean* weight, so dividing by the number of rows gives the
    mean negative log-likelihood per customer that :func:`_judge` expects."""
    return ParetoNBDFitter._negative_log_likelihood(np.exp(x), frequency, recency, T, weights,
                                                    penalizer) / len(weights)


def _judged_pareto(fitter: ParetoNBDFitter, n: float) -> ParetoNBDFitter:
    """Make a Pareto/NBD ``fitter`` run lifetimes' own Nelder–Mead search (whose success
    flag lifetimes never reads), then judge and polish its stop like BG/NBD's with
    :func:`_judge` — in log-parameters, on the ridges of ``_RIDGES["pareto_nbd"]``, with
    central-difference derivatives (the likelihood calls scipy's ``hyp2f1``, which
    autograd cannot trace). The verdict lands on ``fitter.verdict_`` / ``fitter.note_``."""
    search = fitter._fit

    def fit(args, *options, **kwargs):
        params, _ = search(args, *options, **kwargs)
        with np.errstate(all="ignore"):
            stop = _judge(_pareto_objective, np.log(np.asarray(params, dtype=float)), args, n,
                          _RIDGES["pareto_nbd"], derivatives=_numeric_derivatives)
            x = np.exp(stop.x)
            fitter.verdict_, fitter.note_, fitter._ridge = stop.verdict, stop.note, stop.ridge
            return x, ParetoNBDFitter._negative_log_likelihood(x, *args)

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
        if kind == "pareto_nbd":  # lifetimes runs its own Nelder–Mead and never judges it
            _judged_pareto(fitter, n)
        else:
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
    >>> summary = rfm_summary(cal, as_of="1997-10-01", period_multiplier=7)
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

    lifetimes never reads its search's success flag; kpilib judges the stop as it judges
    BG/NBD's (see :func:`fit_bgnbd`): Newton steps polish it, then the gradient and
    Hessian (by central differences — the likelihood's ``hyp2f1`` cannot be traced by
    autograd) must show an interior maximum, and the likelihood must fall along the
    ridges to the limit models (s, β → ∞: the same dropout rate for everyone; r, α → ∞:
    the same purchase rate; β → ∞: nobody drops out). Otherwise the fit is redone with
    penalizer 1e-4, then 1e-3, with a warning, or refused with ``ConvergenceError``.

    Parameters, Returns
        As :func:`fit_bgnbd`; ``params_`` are ``r``, ``alpha``, ``s``, ``beta``.

    Examples
    --------
    >>> from kpilib.clv import fit_pareto_nbd, load_cdnow, rfm_summary
    >>> cdnow = load_cdnow()
    >>> s = rfm_summary(cdnow[cdnow.ts <= "1997-09-30"], as_of="1997-10-01",
    ...                 period_multiplier=7)
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
    >>> s = rfm_summary(cdnow[cdnow.ts <= "1997-09-30"], as_of="1997-10-01",
    ...                 period_multiplier=7)
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


def _fit_spend(unique: pd.DataFrame, penalizer: float, start: pd.Series | None = None) -> GammaGammaFitter:
    """Gamma–Gamma on (frequency, monetary_value, weight) rows, judged from the fit itself.

    With few repeat buyers whose order values hardly vary around their own mean, the
    maximum lies on the boundary p → ∞, γ → 0 (pγ finite): the likelihood does not fall
    along that ridge (see :func:`_judge`). lifetimes' unbounded optimiser then stops
    anywhere on it, with or without "precision loss" depending on the BLAS kernel. Such a
    fit, or one that does not settle, is refitted with lifetimes' bound q ≥ 1
    (``q_constraint``); a boundary maximum is reported at p = 1e6 with q and γ refitted
    there (the same point whichever the optimiser reached), and a warning says what it
    means. A fit that settles nowhere raises ``ConvergenceError``.

    ``start`` (p, q, v of an earlier fit, e.g. the point fit a bootstrap resamples) is where
    the first search starts instead of lifetimes' fixed point: the same maximum after
    :func:`_judge`'s Newton steps, in about half the optimiser's iterations.
    """
    n = float(unique["weight"].sum())
    ridges = _RIDGES["gamma_gamma"]
    fitter = _judged(GammaGammaFitter(penalizer_coef=penalizer), ridges, n, canonical=True)
    initial = None if start is None else np.log(start[["p", "q", "v"]].to_numpy(dtype=float))
    _quiet_fit(fitter, unique["frequency"], unique["monetary_value"], weights=unique["weight"],
               initial_params=initial)
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
    ...                 as_of="1997-10-01", period_multiplier=7)
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
    >>> s = rfm_summary(load_cdnow(), monetary_value_col="amount", period_multiplier=7)
    >>> fit_clv(s).model
    'bgnbd'
    """
    _check_model(model)
    transactions = _fit_transactions(model, summary, penalizer, None)
    spend = None
    if spend_model and "monetary_value" in _rfm(summary).columns:
        spend = fit_gamma_gamma(summary, penalizer=penalizer)
    return CLVFit(_rfm(summary), transactions, spend)


def _model_and_summary(fit_or_model: Any, summary: pd.DataFrame | None) -> tuple[Any, pd.DataFrame]:
    if isinstance(fit_or_model, CLVFit):
        return fit_or_model.transactions, _rfm(fit_or_model.summary if summary is None else summary)
    if summary is None:
        raise ValueError("pass the summary to predict for (or a CLVFit, which holds one)")
    return fit_or_model, _rfm(summary)
