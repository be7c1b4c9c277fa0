"""Which funnel to draw: the steps, window and order given, else the source's, else the defaults.

A source declares its funnel once, under ``[funnel]`` in its ``kpilib.toml``
(:class:`kpilib.data.FunnelSettings`, loaded as :attr:`kpilib.Dataset.funnel`).
:func:`funnel_settings` resolves each of the three settings the same way for the funnel
notebook, :mod:`kpilib.sections` (``check`` and the report's plan) and any caller: a value
given explicitly wins, then the source's, then :data:`DEFAULT_STEPS`,
:data:`DEFAULT_WINDOW` and :data:`DEFAULT_ORDER`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kpilib.data import Dataset, FunnelSettings

__all__ = ["DEFAULT_ORDER", "DEFAULT_STEPS", "DEFAULT_WINDOW", "funnel_settings", "landing_goal"]

#: The funnel of a source that declares none: the journey of a self-serve SaaS.
DEFAULT_STEPS: tuple[str, ...] = ("visit", "signup", "lead", "mql", "sql", "purchase")
#: The conversion window of a source that declares none.
DEFAULT_WINDOW = "14D"
#: The step order of a source that declares none (see :mod:`kpilib.funnel`).
DEFAULT_ORDER = "ordered"


def funnel_settings(
    source: Dataset | FunnelSettings | None = None,
    *,
    steps: Sequence[str] | None = None,
    window: Any = None,
    order: str | None = None,
) -> FunnelSettings:
    """The funnel to compute: each setting given here, else the source's, else the default.

    Parameters
    ----------
    source : kpilib.Dataset or kpilib.data.FunnelSettings, optional
        The loaded source (its :attr:`~kpilib.Dataset.funnel`, read from the ``[funnel]``
        table of its ``kpilib.toml``), or such settings directly; ``None`` for none.
    steps : list of str, optional
        Event names in funnel order; ``None`` (or an empty list) takes the source's, else
        :data:`DEFAULT_STEPS`.
    window : str, pandas.Timedelta or int, optional
        Conversion window; ``None`` (or ``""``) takes the source's, else
        :data:`DEFAULT_WINDOW`.
    order : {"ordered", "strict", "any"}, optional
        ``None`` (or ``""``) takes the source's, else :data:`DEFAULT_ORDER`.

    Returns
    -------
    kpilib.data.FunnelSettings
        With every field set; ``steps`` a tuple.

    Examples
    --------
    >>> from kpilib.data import FunnelSettings
    >>> shop = FunnelSettings(steps=("visit", "add_to_cart", "purchase"), window="7D")
    >>> funnel_settings(shop)
    FunnelSettings(steps=('visit', 'add_to_cart', 'purchase'), window='7D', order='ordered')
    >>> funnel_settings(shop, steps=["visit", "purchase"]).steps
    ('visit', 'purchase')
    >>> funnel_settings().steps[:2]
    ('visit', 'signup')
    """
    declared = source.funnel if isinstance(source, Dataset) else source
    if declared is not None and not isinstance(declared, FunnelSettings):
        raise TypeError(f"source must be a kpilib.Dataset or FunnelSettings, got {type(source).__name__}")
    declared = declared or FunnelSettings()
    if isinstance(steps, str):
        raise ValueError(f"steps must be a list of event names, got the string {steps!r}; try [{steps!r}, ...]")
    chosen_steps = tuple(steps) if steps else declared.steps or DEFAULT_STEPS
    chosen_window = window if window is not None and window != "" else declared.window or DEFAULT_WINDOW
    chosen_order = order or declared.order or DEFAULT_ORDER
    return FunnelSettings(steps=chosen_steps, window=chosen_window, order=chosen_order)


def landing_goal(steps: Sequence[str]) -> str:
    """The default goal of the landing-page conversion: the funnel's second step (the one
    after the entry), or the only step of a one-step funnel.

    ``signup`` for :data:`DEFAULT_STEPS`, ``add_to_cart`` for a shop's ``visit →
    add_to_cart → purchase``.

    Examples
    --------
    >>> landing_goal(DEFAULT_STEPS), landing_goal(["visit", "add_to_cart", "purchase"])
    ('signup', 'add_to_cart')
    """
    steps = list(steps)
    if not steps:
        raise ValueError("steps is empty; give at least one event name")
    return steps[1] if len(steps) > 1 else steps[0]
