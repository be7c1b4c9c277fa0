"""How a lead becomes a marketing-qualified lead: :class:`MQLOptions`, one object.

The lead score, the MQL count, its cost, the new-lead score profile, the nurture summary and
the headline numbers all need the same definition of an MQL. It is written once, as a frozen
:class:`MQLOptions`, and passed as ``mql=``. The individual keywords these functions took
before (``method``, ``mql_event``, ``lead_event``, ``behaviour_points``, ``profile_points``,
``threshold``; ``mql_method`` in :func:`kpilib.funnel.headline_metrics`) still work for one
release through :func:`mql_keywords`, with a :class:`FutureWarning`, and build the same
options object.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

__all__ = ["DEFAULT_BEHAVIOUR_POINTS", "DEFAULT_MQL_THRESHOLD", "MQLOptions"]

#: Behaviour points of the default lead score, per event. Transparent on purpose: the
#: score of a lead is the sum of these over their events plus their profile points.
DEFAULT_BEHAVIOUR_POINTS: dict[str, float] = {
    "visit": 1,
    "page_view": 1,
    "signup": 10,
    "lead": 10,
    "feature_use": 3,
    "share": 5,
}

#: A lead whose score reaches this is a marketing-qualified lead (when the data has no
#: explicit ``mql`` event).
DEFAULT_MQL_THRESHOLD = 40

_METHODS = ("auto", "event", "score")

F = TypeVar("F", bound=Callable)


@dataclass(frozen=True)
class MQLOptions:
    """How MQLs are recognised and how leads are scored.

    One object for the six funnel functions that need it (:func:`~kpilib.funnel.lead_score`,
    :func:`~kpilib.funnel.mql_count`, :func:`~kpilib.funnel.cost_per_mql`,
    :func:`~kpilib.funnel.new_lead_score_profile`, :func:`~kpilib.funnel.nurture_summary`
    and :func:`~kpilib.funnel.headline_metrics`), passed as ``mql=``; ``None`` there means
    ``MQLOptions()``, the defaults below.

    Parameters
    ----------
    method : {"auto", "event", "score"}, default "auto"
        How an MQL is recognised. ``"event"``: a person's MQL time is their first
        ``mql_event``. ``"score"``: it is the first time, at or after their first
        ``lead_event``, that their lead score (accumulated over their events) reaches
        ``threshold``. ``"auto"`` looks at the events table once: ``"event"`` when it has
        at least one ``mql_event`` row (anywhere, before any date filter), else
        ``"score"``. Results say which was used in their ``mql_method`` column.
    mql_event : str, default "mql"
        The event that marks an MQL explicitly (``method="event"``, and what ``"auto"``
        looks for).
    lead_event : str, default "lead"
        The event that makes a person a lead: score-based MQLs count from a person's first
        one, and the new-lead score profile, the nurture summary and the headline numbers
        count new leads by it.
    behaviour_points : dict, default :data:`DEFAULT_BEHAVIOUR_POINTS`
        Lead-score points per event name, e.g. ``{"visit": 1, "signup": 10}``; events not
        listed score 0 and negative points are allowed. ``None`` gives the default; ``{}``
        scores no behaviour.
    profile_points : dict of dict, default {}
        Lead-score points per ``customers`` column and value, e.g.
        ``{"segment": {"enterprise": 20, "smb": 5}}``; needs the customers table. ``None``
        is the same as ``{}``.
    threshold : float, default :data:`DEFAULT_MQL_THRESHOLD` (40)
        The score at which a lead is marketing-qualified (``method="score"``, and the
        ``is_mql`` flag of :func:`~kpilib.funnel.lead_score`).

    Notes
    -----
    The point tables are copied when the options are made, so changing the dict passed in
    later does not change them; they take no part in ``hash()``.

    Examples
    --------
    >>> MQLOptions(threshold=30).method
    'auto'
    >>> MQLOptions(behaviour_points={"visit": 1, "signup": 10}).behaviour_points
    {'visit': 1, 'signup': 10}
    >>> MQLOptions(method="guess")
    Traceback (most recent call last):
    ...
    ValueError: method must be 'auto', 'event' or 'score', got 'guess'
    """

    method: Literal["auto", "event", "score"] = "auto"
    mql_event: str = "mql"
    lead_event: str = "lead"
    behaviour_points: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_BEHAVIOUR_POINTS), hash=False
    )
    profile_points: Mapping[str, Mapping[str, float]] = field(default_factory=dict, hash=False)
    threshold: float = DEFAULT_MQL_THRESHOLD

    def __post_init__(self) -> None:
        if self.method not in _METHODS:
            raise ValueError(f"method must be 'auto', 'event' or 'score', got {self.method!r}")
        behaviour = DEFAULT_BEHAVIOUR_POINTS if self.behaviour_points is None else self.behaviour_points
        profile = {} if self.profile_points is None else self.profile_points
        object.__setattr__(self, "behaviour_points", dict(behaviour))
        object.__setattr__(self, "profile_points", {column: dict(values) for column, values in profile.items()})


def options(mql: MQLOptions | None) -> MQLOptions:
    """``mql``, or the defaults when it is ``None``; anything else is refused with the fix."""
    if mql is None:
        return MQLOptions()
    if not isinstance(mql, MQLOptions):
        raise TypeError(
            f"mql must be a kpilib.funnel.MQLOptions, got {type(mql).__name__}; "
            "e.g. mql=MQLOptions(threshold=30)" + (" or mql=MQLOptions(**options)" if isinstance(mql, Mapping) else "")
        )
    return mql


def mql_keywords(**aliases: str) -> Callable[[F], F]:
    """Accept the old individual MQL keywords for one release, with a :class:`FutureWarning`.

    Parameters
    ----------
    **aliases
        ``old_keyword="field"``: the old keyword and the :class:`MQLOptions` field it fills.

    Examples
    --------
    >>> import warnings
    >>> @mql_keywords(threshold="threshold")
    ... def scored(*, mql=None):
    ...     return options(mql).threshold
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     scored(threshold=12), str(caught[0].message)
    (12, 'scored(threshold=...) is deprecated and will be removed in the next release; use mql=MQLOptions(threshold=...) instead')
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            old = [name for name in aliases if name in kwargs]
            if old:
                given = ", ".join(f"{name}=" for name in old)
                if kwargs.get("mql") is not None:
                    raise TypeError(f"{fn.__name__}() got both mql= and the deprecated {given}; "
                                    "pass only mql=MQLOptions(...)")
                fields = ", ".join(f"{aliases[name]}=..." for name in old)
                warnings.warn(
                    f"{fn.__name__}({', '.join(f'{name}=...' for name in old)}) is deprecated and will be "
                    f"removed in the next release; use mql=MQLOptions({fields}) instead",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs["mql"] = MQLOptions(**{aliases[name]: kwargs.pop(name) for name in old})
            return fn(*args, **kwargs)

        wrapper.renamed_arguments = {old: f"mql.{new}" for old, new in aliases.items()}  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


#: The old keywords of the functions that took all six (``mql_count``, ``cost_per_mql``).
ALL_KEYWORDS = {name: name for name in ("method", "mql_event", "lead_event", "behaviour_points",
                                         "profile_points", "threshold")}
