"""Which funnel to draw: the steps, window, order and preset given, else the source's, else the defaults.

A source declares its funnel once, under ``[funnel]`` in its ``kpilib.toml``
(:class:`kpilib.data.FunnelSettings`, loaded as :attr:`kpilib.Dataset.funnel`).
:func:`funnel_settings` resolves each setting the same way for the funnel notebook,
:mod:`kpilib.sections` (``check`` and the report's plan) and any caller: a value given
explicitly wins, then the source's, then :data:`DEFAULT_STEPS`, :data:`DEFAULT_WINDOW` and
:data:`DEFAULT_ORDER` — except under a vendor preset (``semantics``), whose own window and
order apply where neither the caller nor the source set one (the window and order come
back ``None``, which every funnel function reads as "the preset's").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kpilib.data import Dataset, FunnelSettings
from kpilib.funnel._semantics import PRESETS

__all__ = ["DEFAULT_ORDER", "DEFAULT_STEPS", "DEFAULT_WINDOW", "funnel_settings", "landing_goal"]

#: The funnel of a source that declares none: the journey of a self-serve SaaS.
DEFAULT_STEPS: tuple[str, ...] = ("visit", "signup", "lead", "mql", "sql", "purchase")
#: The conversion window of a source that declares none (kpilib's own preset).
DEFAULT_WINDOW: str = PRESETS["kpilib"]["window"]
#: The step order of a source that declares none (see :mod:`kpilib.funnel`).
DEFAULT_ORDER: str = PRESETS["kpilib"]["order"]

def _given(value: Any) -> bool:
    return value is not None and value != ""


def funnel_settings(
    source: Dataset | FunnelSettings | None = None,
    *,
    steps: Sequence[str] | None = None,
    window: Any = None,
    order: str | None = None,
    semantics: str | None = None,
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
        :data:`DEFAULT_WINDOW` — or, under a vendor preset, ``None`` (the preset's window).
    order : {"ordered", "strict", "strict_steps", "any"}, optional
        ``None`` (or ``""``) takes the source's, else :data:`DEFAULT_ORDER` — or, under a
        vendor preset, ``None`` (the preset's order). ``"strict"``: no event at all of the
        user between two matched steps (the tools' strict order; changed in this release);
        ``"strict_steps"``: no other *funnel-step* event in between (the former
        ``"strict"``); ``"any"``: the steps in any order (see :mod:`kpilib.funnel`).
    semantics : {"kpilib", "posthog", "mixpanel", "amplitude"}, optional
        The preset of the funnel's rules; ``None`` (or ``""``) takes the source's
        (``[funnel] semantics``), else none (kpilib's own rules).

    Returns
    -------
    kpilib.data.FunnelSettings
        ``steps`` a tuple; ``window`` and ``order`` set, except that they stay ``None``
        under a vendor preset (``"posthog"``, ``"mixpanel"``, ``"amplitude"``) when neither
        the caller nor the source gives them, so that the preset's own apply;
        ``semantics`` the preset or ``None``.

    Raises
    ------
    ValueError
        When ``steps`` is a string or ``semantics`` is not a preset.

    Examples
    --------
    >>> from kpilib.data import FunnelSettings
    >>> shop = FunnelSettings(steps=("visit", "add_to_cart", "purchase"), window="7D")
    >>> chosen = funnel_settings(shop)
    >>> chosen.steps, chosen.window, chosen.order
    (('visit', 'add_to_cart', 'purchase'), '7D', 'ordered')
    >>> funnel_settings(shop, steps=["visit", "purchase"]).steps
    ('visit', 'purchase')
    >>> funnel_settings().steps[:2]
    ('visit', 'signup')

    Under Mixpanel's rules the source's 7-day window still wins, but the order is
    Mixpanel's; with no window declared anywhere, Mixpanel's 30 days apply:

    >>> mixpanel = funnel_settings(shop, semantics="mixpanel")
    >>> mixpanel.window, mixpanel.order
    ('7D', None)
    >>> funnel_settings(semantics="mixpanel").window is None
    True
    """
    declared = source.funnel if isinstance(source, Dataset) else source
    if declared is not None and not isinstance(declared, FunnelSettings):
        raise TypeError(f"source must be a kpilib.Dataset or FunnelSettings, got {type(source).__name__}")
    declared = declared or FunnelSettings()
    if isinstance(steps, str):
        raise ValueError(f"steps must be a list of event names, got the string {steps!r}; try [{steps!r}, ...]")
    chosen_semantics = semantics if _given(semantics) else declared.semantics or None
    if chosen_semantics is not None and chosen_semantics not in PRESETS:
        raise ValueError(f"semantics must be one of {sorted(PRESETS)} (or empty for kpilib's own rules), "
                         f"got {chosen_semantics!r}")
    preset = chosen_semantics not in (None, "kpilib")
    chosen_steps = tuple(steps) if steps else declared.steps or DEFAULT_STEPS
    chosen_window = window if _given(window) else declared.window or (None if preset else DEFAULT_WINDOW)
    chosen_order = order if _given(order) else declared.order or (None if preset else DEFAULT_ORDER)
    return FunnelSettings(steps=chosen_steps, window=chosen_window, order=chosen_order, semantics=chosen_semantics)


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
