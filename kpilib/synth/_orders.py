"""Repeat buying: BG/NBD order times with Gamma–Gamma amounts."""

from __future__ import annotations

import numpy as np

from kpilib.synth._draws import DAY


def bgnbd_orders(
    rng: np.random.Generator, started: np.ndarray, end: int, bgnbd: dict, gamma_gamma: dict
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Orders of customers whose first order is at ``started`` (epoch seconds).

    Repeat orders follow BG/NBD [1]_: λ ~ Gamma(r, α) per day, and after each repeat order
    the customer drops out with p ~ Beta(a, b); the first order never ends a customer.
    Amounts are Gamma(p, ν) with ν ~ Gamma(q, γ) per customer (Gamma–Gamma), the first
    order included. Orders after ``end`` are cut.

    Returns ``(customer, ts, amount)`` sorted by customer then time; ``customer`` indexes
    ``started`` and each customer's first row is the first order.

    References
    ----------
    .. [1] Fader, Hardie & Lee (2005), Marketing Science 24(2).
    """
    n = len(started)
    lam = rng.gamma(bgnbd["r"], 1 / bgnbd["alpha"], size=n)  # per day
    dropout = rng.beta(bgnbd["a"], bgnbd["b"], size=n)
    nu = rng.gamma(gamma_gamma["q"], 1 / gamma_gamma["gamma"], size=n)
    customers = [np.arange(n)]
    times = [started]
    alive = np.arange(n)
    t = started.astype(np.float64)
    while len(alive):
        t = t + rng.exponential(1 / lam[alive]) * DAY
        inside = t <= end
        alive, t = alive[inside], t[inside]
        customers.append(alive)
        times.append(np.round(t).astype(np.int64))
        stays = rng.random(len(alive)) >= dropout[alive]
        alive, t = alive[stays], t[stays]
    customer = np.concatenate(customers)
    ts = np.concatenate(times)
    amount = np.round(rng.gamma(gamma_gamma["p"], 1 / nu[customer]), 2)
    order = np.lexsort((ts, customer))
    return customer[order], ts[order], amount[order]
