"""Time units of recency and T, and horizons converted to them.

A summary records its unit in ``summary.attrs`` (``period``, ``period_multiplier``); the
fitters stamp it on the model (``model.time_unit_``). Predictions take a horizon with an
explicit unit and refuse a summary or model whose unit differs or is unknown.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kpilib.deprecation import renamed_arguments
from kpilib.periods import MONTH_DAYS, check_period

#: A month, in days: 365.25 / 12 (:data:`kpilib.periods.MONTH_DAYS`). Horizons in months
#: are converted with it.
DAYS_PER_MONTH = MONTH_DAYS

#: Units a horizon can be given in, and their length in days.
HORIZON_UNITS: dict[str, float] = {
    "days": 1.0,
    "weeks": 7.0,
    "months": DAYS_PER_MONTH,
    "years": 365.25,
}

#: Length in days of one period of each ``period`` code lifetimes understands and kpilib
#: supports for the models' time unit.
PERIOD_DAYS = {"D": 1.0, "W": 7.0, "h": 1 / 24}


class UnitMismatchError(ValueError):
    """A model, a summary and a horizon that do not agree on their time unit."""


@dataclass(frozen=True, init=False)
class TimeUnit:
    """The time unit of recency and T: ``period_multiplier`` periods of ``period``.

    ``period`` is how transactions are grouped (``"h"``, ``"D"`` or ``"W"``; several in
    one period count as one, as in lifetimes); ``period="D", period_multiplier=7`` gives
    weeks of exactly seven days measured from the day of the first purchase (the CDNOW
    papers' convention), ``period="W"`` calendar weeks (Monday–Sunday). The old names
    ``freq`` and ``freq_multiplier`` are accepted for one release.

    Examples
    --------
    >>> TimeUnit("D", 7).days, TimeUnit("D", 7).name, TimeUnit("W").name
    (7.0, 'weeks', 'weeks')
    """

    period: str = "D"
    period_multiplier: int = 1

    @renamed_arguments(freq="period", freq_multiplier="period_multiplier")
    def __init__(self, period: str = "D", period_multiplier: int = 1) -> None:
        try:
            code = check_period(period, tuple(PERIOD_DAYS))
        except ValueError as exc:
            raise UnitMismatchError(f"{exc} (the model's time unit)") from None
        if int(period_multiplier) != period_multiplier or period_multiplier < 1:
            raise UnitMismatchError(f"period_multiplier must be a positive whole number, got {period_multiplier!r}")
        object.__setattr__(self, "period", code)
        object.__setattr__(self, "period_multiplier", period_multiplier)

    @property
    def days(self) -> float:
        """Length of one unit in days."""
        return PERIOD_DAYS[self.period] * self.period_multiplier

    @property
    def name(self) -> str:
        """``"hours"``, ``"days"``, ``"weeks"`` or e.g. ``"3-day units"``."""
        names = {1 / 24: "hours", 1.0: "days", 7.0: "weeks"}
        return names.get(self.days, f"{self.days:g}-day units")

    @property
    def freq(self) -> str:
        """Deprecated name of :attr:`period`."""
        warnings.warn("TimeUnit.freq is deprecated; use TimeUnit.period", FutureWarning, stacklevel=2)
        return self.period

    @property
    def freq_multiplier(self) -> int:
        """Deprecated name of :attr:`period_multiplier`."""
        warnings.warn("TimeUnit.freq_multiplier is deprecated; use TimeUnit.period_multiplier", FutureWarning,
                      stacklevel=2)
        return self.period_multiplier

    def to_attrs(self) -> dict[str, Any]:
        """The unit as a summary's ``attrs`` keys."""
        return {"period": self.period, "period_multiplier": int(self.period_multiplier), "time_unit": self.name}


def _attrs_unit(attrs: dict) -> TimeUnit | None:
    """The unit a summary's ``attrs`` record: ``period`` / ``period_multiplier``, or the
    keys kpilib wrote before (``freq`` / ``freq_multiplier``)."""
    if "period" in attrs:
        return TimeUnit(attrs["period"], attrs.get("period_multiplier", 1))
    if "freq" in attrs:
        return TimeUnit(attrs["freq"], attrs.get("freq_multiplier", 1))
    return None


def time_unit(obj: Any) -> TimeUnit:
    """The time unit of a summary, a fitted model or a :class:`~kpilib.clv.CLVFit`.

    Raises
    ------
    UnitMismatchError
        When ``obj`` does not record one (a summary built by hand, a model fitted with
        lifetimes directly), saying how to give it one.

    Examples
    --------
    >>> import pandas as pd
    >>> from kpilib.clv import rfm_summary, time_unit
    >>> orders = pd.DataFrame({"customer_id": ["a", "a"], "ts": ["2026-01-01", "2026-01-15"],
    ...                        "amount": [10.0, 20.0]})
    >>> time_unit(rfm_summary(orders, period="D", period_multiplier=7)).name
    'weeks'
    """
    if isinstance(obj, pd.DataFrame):
        unit = _attrs_unit(obj.attrs)
        if unit is not None:
            return unit
        raise UnitMismatchError(
            "this summary does not record its time unit. Build it with kpilib.clv.rfm_summary "
            "or set summary.attrs['period'] (and 'period_multiplier') yourself"
        )
    for name in ("time_unit_", "time_unit"):  # a fitted model; a CLVFit
        unit = getattr(obj, name, None)
        if isinstance(unit, TimeUnit):
            return unit
    raise UnitMismatchError(
        f"the {type(obj).__name__} does not record its time unit, so a horizon cannot be "
        "converted to it. Fit it with kpilib.clv.fit_* on a kpilib summary, or set "
        "model.time_unit_ = kpilib.clv.TimeUnit(period, period_multiplier)"
    )


def _check_same_unit(model: Any, summary: pd.DataFrame) -> TimeUnit:
    unit = time_unit(model)
    other = _attrs_unit(summary.attrs)
    if other is not None and not math.isclose(other.days, unit.days):
        raise UnitMismatchError(
            f"the model was fitted in {unit.name} but the summary is in {other.name}; "
            f"rebuild the summary with period={unit.period!r}, period_multiplier={unit.period_multiplier} "
            "or refit the model on this summary"
        )
    return unit


def _horizon_in_units(horizon: float, horizon_unit: str, unit: TimeUnit) -> float:
    if horizon_unit not in HORIZON_UNITS:
        raise UnitMismatchError(
            f"horizon_unit must be one of {', '.join(HORIZON_UNITS)}, got {horizon_unit!r}"
        )
    if not horizon > 0:
        raise ValueError(f"horizon must be positive, got {horizon!r}")
    return horizon * HORIZON_UNITS[horizon_unit] / unit.days
