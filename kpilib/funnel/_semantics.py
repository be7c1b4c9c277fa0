"""The funnel's rules as objects: exclusions, windows, attribution and the vendor presets.

:func:`resolve_rules` turns the keywords of :func:`kpilib.funnel.funnel` (and of
:func:`~kpilib.funnel.funnel_users`, :func:`~kpilib.funnel.conversion_rate`,
:func:`~kpilib.funnel.time_to_convert`) into one checked :class:`FunnelRules`: each rule
given explicitly wins, the rest come from the ``semantics`` preset (:data:`PRESETS`). What
each preset does, rule by rule, and where the vendor documents it, is the table in the
package documentation (:mod:`kpilib.funnel`).
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd

__all__ = ["PRESETS", "Exclusion", "FunnelRules", "Span", "parse_span", "resolve_rules", "step_position"]


@dataclass(frozen=True)
class Exclusion:
    """An event that disqualifies a user when it happens between two matched steps.

    Parameters
    ----------
    event : str
        The excluded event name.
    from_step : int, default 1
        1-based step after whose matched event the exclusion starts.
    to_step : int, optional
        1-based step before whose matched event it ends; ``None`` is the last step. When
        the user has not reached ``to_step``, the exclusion runs to the end of their
        conversion window.

    Examples
    --------
    >>> Exclusion("refund", from_step=2)
    Exclusion(event='refund', from_step=2, to_step=None)
    """

    event: str
    from_step: int = 1
    to_step: int | None = None


@dataclass(frozen=True)
class Span:
    """A window length: whole calendar months plus a fixed number of seconds."""

    months: int = 0
    seconds: int = 0

    def after(self, ts: Any) -> Any:
        """``ts`` (an Ibis timestamp) plus the span; months are calendar months."""
        if self.months:
            ts = ts + ibis.interval(months=self.months)
        if self.seconds:
            ts = ts + ibis.interval(seconds=self.seconds)
        return ts



_SPAN = re.compile(r"^\s*(\d+)\s*(M|W|D|d|h|H|min|m|s|S)\s*$")
_UNIT_SECONDS = {"W": 7 * 86_400, "D": 86_400, "d": 86_400, "h": 3_600, "H": 3_600, "min": 60, "m": 60,
                 "s": 1, "S": 1}


def parse_span(value: Any, name: str = "window") -> Span:
    """A window as a :class:`Span`: ``"1M"`` (calendar months), ``"2W"``, ``"7D"``, ``"12h"``,
    ``"90min"``, ``"30s"``, a :class:`pandas.Timedelta`, or an int meaning days.

    ``"M"`` is a calendar month, never a minute (write ``"min"``). A month window from
    day 31 ends on the last day of the next month (Jan 31 + 1M = Feb 28, or 29 in a leap
    year, same time of day), as DuckDB, PostgreSQL and Spark add months.

    Examples
    --------
    >>> parse_span("1M"), parse_span("2W"), parse_span(3)
    (Span(months=1, seconds=0), Span(months=0, seconds=1209600), Span(months=0, seconds=259200))
    >>> parse_span("36h").seconds
    129600
    """
    if isinstance(value, Span):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a duration like '14D', '1M' or '36h', got {value!r}")
    if isinstance(value, int):
        seconds = value * 86_400
        if seconds <= 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
        return Span(seconds=seconds)
    if isinstance(value, str):
        match = _SPAN.match(value)
        if match:
            count, unit = int(match.group(1)), match.group(2)
            if count <= 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
            return Span(months=count) if unit == "M" else Span(seconds=count * _UNIT_SECONDS[unit])
    try:
        delta = pd.Timedelta(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a duration like '14D', '1M' or '36h', got {value!r}") from exc
    if pd.isna(delta) or delta.total_seconds() <= 0:
        raise ValueError(f"{name} must be a positive duration like '14D', '1M' or '36h', got {value!r}")
    seconds = delta.total_seconds()
    if seconds != int(seconds):
        raise ValueError(f"{name} must be whole seconds, got {value!r}")
    return Span(seconds=int(seconds))


ORDERS = ("ordered", "strict", "strict_steps", "any")
ATTRIBUTIONS = ("first_touch", "last_touch", "all")

#: Every rule of each preset; ``resolve_rules`` fills what the caller does not give from here.
PRESETS: dict[str, dict[str, Any]] = {
    "kpilib": {"window": "14D", "order": "ordered", "attribution": 1, "reentry": "first",
               "window_end": "exclusive", "date_range": "entry"},
    "posthog": {"window": "14D", "order": "ordered", "attribution": "first_touch", "reentry": "best",
                "window_end": "inclusive", "date_range": "all_steps"},
    "mixpanel": {"window": "30D", "order": "ordered", "attribution": 1, "reentry": "first",
                 "window_end": "exclusive", "date_range": "entry"},
    "amplitude": {"window": "1D", "order": "ordered", "attribution": 1, "reentry": "best",
                  "window_end": "exclusive", "date_range": "entry"},
}


@dataclass(frozen=True)
class FunnelRules:
    """Every rule of one funnel, checked (see :func:`resolve_rules`)."""

    steps: tuple[str, ...]
    window: Span
    order: str = "ordered"
    exclusions: tuple[Exclusion, ...] = ()
    attribution: int | str = 1
    breakdown_limit: int | None = None
    reentry: str = "first"
    first_time: bool = False
    window_end: str = "exclusive"
    step_windows: tuple[Span, ...] | None = None
    date_range: str = "entry"
    semantics: str = "kpilib"
    window_text: str = field(default="14D", compare=False)

    @property
    def inclusive(self) -> bool:
        """Whether an event exactly at the window's end is inside it."""
        return self.window_end == "inclusive"



def _exclusions(value: Any, steps: Sequence[str]) -> tuple[Exclusion, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, Exclusion)) or (isinstance(value, tuple) and value and isinstance(value[0], str)
                                               and len(value) in (2, 3) and not all(isinstance(v, str) for v in value)):
        value = [value]
    out = []
    n = len(steps)
    for item in value:
        if isinstance(item, str):
            item = Exclusion(item)
        elif isinstance(item, tuple):
            item = Exclusion(*item)
        if not isinstance(item, Exclusion) or not isinstance(item.event, str) or not item.event:
            raise ValueError(f"an exclusion is an event name, an Exclusion or a tuple (event, from_step, to_step); "
                             f"got {item!r}")
        to_step = n if item.to_step is None else step_position(item.to_step, steps, "to_step")
        from_step = step_position(item.from_step, steps, "from_step")
        if n < 2 or not from_step < to_step:
            raise ValueError(f"exclusion {item!r}: from_step must come before to_step among {n} steps")
        out.append(Exclusion(item.event, from_step, to_step))
    return tuple(out)


def step_position(reference: Any, steps: Sequence[str], what: str) -> int:
    """1-based index of a step given by position (1-based, negative from the end) or name."""
    if isinstance(reference, str):
        if reference not in steps:
            raise ValueError(f"{what} {reference!r} is not one of the steps {list(steps)}")
        return list(steps).index(reference) + 1
    index = int(reference)
    if index < 0:
        index = len(steps) + 1 + index
    if not 1 <= index <= len(steps):
        raise ValueError(f"{what} must be a step name or a position 1..{len(steps)}, got {reference!r}")
    return index


def _attribution(value: Any, n: int) -> int | str:
    if isinstance(value, str) and value.startswith("step:"):
        value = value[5:]
        if not value.strip().lstrip("-").isdigit():
            raise ValueError(f"attribution 'step:k' needs a step number, got {value!r}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"attribution must be 'first_touch', 'last_touch', 'all', a step number or 'step:k', "
                         f"got {value!r}")
    if isinstance(value, str):
        if value not in ATTRIBUTIONS:
            raise ValueError(f"attribution must be 'first_touch', 'last_touch', 'all', a step number or "
                             f"'step:k', got {value!r}")
        return value
    index = value if value > 0 else n + 1 + value
    if not 1 <= index <= n:
        raise ValueError(f"attribution step must be 1..{n}, got {value!r}")
    return index


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside kpilib.funnel."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("kpilib.funnel"):
        frame, level = frame.f_back, level + 1
    return level


def resolve_rules(
    steps: Sequence[str],
    *,
    semantics: str | None = None,
    window: Any = None,
    order: str | None = None,
    exclusions: Any = None,
    attribution: Any = None,
    breakdown_limit: int | None = None,
    reentry: str | None = None,
    first_time: bool | None = None,
    window_end: str | None = None,
    step_windows: Sequence[Any] | None = None,
    date_range: str | None = None,
    warn_strict: bool = True,
) -> FunnelRules:
    """The rules of one funnel: each keyword given (not ``None``) wins, else the preset's.

    ``order="strict"`` given explicitly warns (:class:`FutureWarning`) for one release: its
    meaning changed (any event in between now breaks the funnel); the former rule is
    ``order="strict_steps"``.

    Examples
    --------
    >>> rules = resolve_rules(["visit", "signup"], semantics="posthog", window="7D")
    >>> rules.window, rules.reentry, rules.attribution, rules.window_end
    (Span(months=0, seconds=604800), 'best', 'first_touch', 'inclusive')
    """
    semantics = semantics or "kpilib"
    if semantics not in PRESETS:
        raise ValueError(f"semantics must be one of {sorted(PRESETS)}, got {semantics!r}")
    preset = PRESETS[semantics]
    steps = tuple(steps)
    order = order or preset["order"]
    if order not in ORDERS:
        raise ValueError(f"order must be one of {list(ORDERS)}, got {order!r}")
    if order == "strict" and warn_strict and semantics == "kpilib":
        warnings.warn(
            "order='strict' now means what PostHog and Amplitude call strict/exact order: ANY event of the user "
            "between two matched steps breaks the funnel. The former rule (only other funnel-step events break it) "
            "is order='strict_steps'.",
            FutureWarning,
            stacklevel=_caller_level(),
        )
    window_text = window if window is not None and window != "" else preset["window"]
    reentry = reentry or preset["reentry"]
    if reentry not in ("first", "best"):
        raise ValueError(f"reentry must be 'first' or 'best', got {reentry!r}")
    window_end = window_end or preset["window_end"]
    if window_end not in ("exclusive", "inclusive"):
        raise ValueError(f"window_end must be 'exclusive' or 'inclusive', got {window_end!r}")
    date_range = date_range or preset["date_range"]
    if date_range not in ("entry", "all_steps"):
        raise ValueError(f"date_range must be 'entry' or 'all_steps', got {date_range!r}")
    spans = None
    if step_windows is not None:
        spans = tuple(parse_span(w, "step_windows") for w in step_windows)
        if len(spans) != len(steps) - 1:
            raise ValueError(f"step_windows needs one window per step after the first ({len(steps) - 1}), "
                             f"got {len(spans)}")
        if order == "any":
            raise ValueError("step_windows need ordered steps; order='any' has no step before another")
    if breakdown_limit is not None and (isinstance(breakdown_limit, bool) or int(breakdown_limit) < 1):
        raise ValueError(f"breakdown_limit must be a positive number of groups, got {breakdown_limit!r}")
    return FunnelRules(
        steps=steps,
        window=parse_span(window_text),
        order=order,
        exclusions=_exclusions(exclusions, steps),
        attribution=_attribution(attribution if attribution is not None else preset["attribution"], len(steps)),
        breakdown_limit=int(breakdown_limit) if breakdown_limit is not None else None,
        reentry=reentry,
        first_time=bool(first_time) if first_time is not None else False,
        window_end=window_end,
        step_windows=spans,
        date_range=date_range,
        semantics=semantics,
        window_text=window_text,
    )
