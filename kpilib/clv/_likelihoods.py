r"""Exact first and second derivatives of lifetimes' BG/NBD and Gamma–Gamma objectives.

lifetimes fits both models by minimising the weighted mean negative log-likelihood per
customer, plus a penalty, in log-parameters :math:`x = \log\theta`:

.. math::

    F(x) = -\frac{\sum_i w_i \,\ell_i(\theta)}{\sum_i w_i} + c \sum_k \theta_k^2,
    \qquad \theta = e^{x},

and differentiates :math:`F` by tracing it with autograd, which costs far more than the
arithmetic (each call builds and walks a graph of every array operation). The
derivatives here are the same functions written out; they give the same numbers to
rounding. In log-parameters

.. math::

    \frac{\partial F}{\partial x_k} = \theta_k \frac{\partial F}{\partial \theta_k},
    \qquad
    \frac{\partial^2 F}{\partial x_j \partial x_k}
    = \theta_j \theta_k \frac{\partial^2 F}{\partial \theta_j \partial \theta_k}
    + \delta_{jk}\,\theta_k \frac{\partial F}{\partial \theta_k}.

The BG/NBD likelihood of a customer with :math:`x` repeat purchases, the last at
:math:`t_x`, observed for :math:`T` (Fader, Hardie & Lee 2005, section 7) is
:math:`\ell = L_1 + L_2 + \log(e^{A_3} + [x > 0]\,e^{A_4})` with

.. math::

    L_1 &= \log\Gamma(r + x) - \log\Gamma(r) + r \log\alpha, \\
    L_2 &= \log\Gamma(a + b) + \log\Gamma(b + x) - \log\Gamma(b) - \log\Gamma(a + b + x), \\
    A_3 &= -(r + x) \log(\alpha + T), \\
    A_4 &= \log a - \log(b + \max(x, 1) - 1) - (r + x)\log(\alpha + t_x);

the log-sum-exp's Hessian is :math:`\sum_k p_k \nabla^2 A_k + p_3 p_4 (\nabla A_3 -
\nabla A_4)(\nabla A_3 - \nabla A_4)^\top` with :math:`p_k = e^{A_k} / (e^{A_3} +
[x > 0] e^{A_4})`. The Gamma–Gamma likelihood of a mean order value :math:`\bar z` over
:math:`x` orders is in :func:`kpilib.clv.fit_gamma_gamma`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import digamma, polygamma

Derivative = Callable[..., np.ndarray]


def _trigamma(x: np.ndarray) -> np.ndarray:
    return polygamma(1, x)


def _to_log_parameters(theta: np.ndarray, g: np.ndarray, h: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Gradient (and Hessian) in θ to the same in x = log θ."""
    gx = theta * g
    if h is None:
        return gx, None
    return gx, np.outer(theta, theta) * h + np.diag(gx)


def _weighted_sum(w: np.ndarray, column: np.ndarray) -> float:
    """``Σ w·column`` by numpy's pairwise sum, not BLAS' dot: the same bits whichever BLAS
    kernel the machine picks."""
    return float(np.sum(w * column))


def _weighted_mean(w: np.ndarray, total: float, *columns: np.ndarray) -> np.ndarray:
    """``-Σ w·column / Σ w`` for each column (the objective is the *negative* mean)."""
    return np.array([-_weighted_sum(w, c) / total for c in columns])


def _bgnbd(x: np.ndarray, freq: Any, rec: Any, T: Any, weights: Any, penalizer: float,
           hessian: bool) -> tuple[np.ndarray, np.ndarray | None]:
    r, alpha, a, b = theta = np.exp(np.asarray(x, dtype=float))
    f = np.asarray(freq, dtype=float)
    rec, T, w = np.asarray(rec, dtype=float), np.asarray(T, dtype=float), np.asarray(weights, dtype=float)
    total = float(w.sum())
    buyer = f > 0
    at_T, at_rec = alpha + T, alpha + rec
    shifted_b = b + np.maximum(f, 1) - 1
    a3 = -(r + f) * np.log(at_T)
    a4 = np.log(a) - np.log(shifted_b) - (r + f) * np.log(at_rec)
    top = np.maximum(a3, np.where(buyer, a4, a3))
    e3, e4 = np.exp(a3 - top), np.where(buyer, np.exp(a4 - top), 0.0)
    p3, p4 = e3 / (e3 + e4), e4 / (e3 + e4)
    # first derivatives of A3 and A4 in (r, α, a, b)
    d3 = [-np.log(at_T), -(r + f) / at_T]
    d4 = [-np.log(at_rec), -(r + f) / at_rec, np.full_like(f, 1 / a), -1 / shifted_b]
    psi_ab, psi_abf = digamma(a + b), digamma(a + b + f)
    g = _weighted_mean(
        w, total,
        digamma(r + f) - digamma(r) + np.log(alpha) + p3 * d3[0] + p4 * d4[0],
        r / alpha + p3 * d3[1] + p4 * d4[1],
        psi_ab - psi_abf + p4 * d4[2],
        psi_ab + digamma(b + f) - digamma(b) - psi_abf + p4 * d4[3],
    )
    g = g + 2 * penalizer * theta
    if not hessian:
        return _to_log_parameters(theta, g, None)
    tri_ab, tri_abf = _trigamma(a + b), _trigamma(a + b + f)
    # second derivatives of L1 + L2 + Σ p_k A_k (A3 only in r, α)
    own = {
        (0, 0): _trigamma(r + f) - _trigamma(r),
        (0, 1): 1 / alpha - p3 / at_T - p4 / at_rec,
        (1, 1): -r / alpha**2 + p3 * (r + f) / at_T**2 + p4 * (r + f) / at_rec**2,
        (2, 2): tri_ab - tri_abf - p4 / a**2,
        (2, 3): tri_ab - tri_abf,
        (3, 3): tri_ab + _trigamma(b + f) - _trigamma(b) - tri_abf + p4 / shifted_b**2,
    }
    gap = [d3[0] - d4[0], d3[1] - d4[1], -d4[2], -d4[3]]  # ∇A3 − ∇A4
    mix = p3 * p4
    h = np.empty((4, 4))
    for j in range(4):
        for k in range(j, 4):
            term = mix * gap[j] * gap[k]
            if (j, k) in own:
                term = term + own[(j, k)]
            h[j, k] = h[k, j] = -_weighted_sum(w, term) / total
    h = h + np.diag(np.full(4, 2 * penalizer))
    return _to_log_parameters(theta, g, h)


def _gamma_gamma(x: np.ndarray, frequency: Any, monetary_value: Any, weights: Any, penalizer: float,
                 hessian: bool) -> tuple[np.ndarray, np.ndarray | None]:
    p, q, v = theta = np.exp(np.asarray(x, dtype=float))
    n = np.asarray(frequency, dtype=float)
    m, w = np.asarray(monetary_value, dtype=float), np.asarray(weights, dtype=float)
    total = float(w.sum())
    shape, spend = p * n + q, n * m + v
    psi_shape = digamma(shape)
    g = _weighted_mean(
        w, total,
        n * (psi_shape - digamma(p * n) + np.log(m) + np.log(n) - np.log(spend)),
        psi_shape - digamma(q) + np.log(v) - np.log(spend),
        q / v - shape / spend,
    )
    g = g + 2 * penalizer * theta
    if not hessian:
        return _to_log_parameters(theta, g, None)
    tri_shape = _trigamma(shape)
    terms = {
        (0, 0): n**2 * (tri_shape - _trigamma(p * n)),
        (0, 1): n * tri_shape,
        (0, 2): -n / spend,
        (1, 1): tri_shape - _trigamma(q),
        (1, 2): 1 / v - 1 / spend,
        (2, 2): -q / v**2 + shape / spend**2,
    }
    h = np.empty((3, 3))
    for (j, k), term in terms.items():
        h[j, k] = h[k, j] = -_weighted_sum(w, np.broadcast_to(term, w.shape)) / total
    h = h + np.diag(np.full(3, 2 * penalizer))
    return _to_log_parameters(theta, g, h)


#: The derivatives by lifetimes fitter class name (the objective's arguments as lifetimes passes them).
_MODELS = {"BetaGeoFitter": _bgnbd, "GammaGammaFitter": _gamma_gamma}


def exact_derivatives(fitter: Any) -> Callable[[Any], tuple[Derivative, Derivative]] | None:
    """The ``derivatives`` argument of :func:`kpilib.clv._models._judge` for a lifetimes
    BG/NBD or Gamma–Gamma fitter (gradient and Hessian of its ``_negative_log_likelihood``
    in log-parameters, written out), or None for another model (autograd traces those)."""
    model = _MODELS.get(type(fitter).__name__)
    if model is None:
        return None

    def derivatives(objective: Any) -> tuple[Derivative, Derivative]:
        def gradient(x: np.ndarray, *args: Any) -> np.ndarray:
            return model(x, *args, hessian=False)[0]

        def curvature(x: np.ndarray, *args: Any) -> np.ndarray:
            return model(x, *args, hessian=True)[1]

        return gradient, curvature

    return derivatives
