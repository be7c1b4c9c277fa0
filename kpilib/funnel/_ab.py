"""A/B comparison: the conversion of two groups (variants, channels), B minus A."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import ibis
import numpy as np
import pandas as pd

from kpilib.funnel import _definitions  # noqa: F401  (the records, before @computes)
from kpilib.funnel._steps import ExclusionsLike, Order, Semantics, WindowLike, conversion_rate
from kpilib.metrics import computes
from kpilib.periods import TimeLike
from kpilib.stats import SMALL_DENOMINATOR, compare_proportions

__all__ = ["ab_comparison"]


@computes("ab_difference")
def ab_comparison(
    events: ibis.Table | pd.DataFrame,
    steps: Sequence[str],
    *,
    by: str,
    a: object,
    b: object,
    to_step: int | str = -1,
    window: WindowLike | None = None,
    order: Order | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    complete_only: bool = False,
    confidence: float = 0.95,
    customers: ibis.Table | pd.DataFrame | None = None,
    semantics: Semantics | None = None,
    exclusions: ExclusionsLike = None,
    attribution: int | str | None = None,
    reentry: Literal["first", "best"] | None = None,
    first_time: bool | None = None,
    window_end: Literal["exclusive", "inclusive"] | None = None,
    step_windows: Sequence[WindowLike] | None = None,
    date_range: Literal["entry", "all_steps"] | None = None,
) -> pd.DataFrame:
    r"""Compare the conversion of two groups (variants, channels): B minus A.

    Parameters
    ----------
    events : ibis.Table or pandas.DataFrame
        The events table.
    steps : list of str
        Funnel steps; the rate compared is step 1 → ``to_step``.
    by : str
        Column of ``events`` holding the groups (value at entry, or per ``attribution``),
        e.g. ``"variant"``.
    a, b : object
        The two values of ``by`` to compare; ``a`` is the reference (control).
    to_step, window, order, start, end, as_of, complete_only, customers
        As in :func:`conversion_rate` (``by`` may be a column of ``customers``).
    confidence : float, default 0.95
        Level of the interval; ``significant`` means ``p_value < 1 - confidence``.
    semantics, exclusions, attribution, reentry, first_time, window_end, step_windows, date_range
        The funnel's rules, as in :func:`kpilib.funnel.funnel_users`, so that the groups'
        rates are those of the funnel they come from (``None``: the preset's, kpilib's by
        default).

    Returns
    -------
    pandas.DataFrame
        One row: ``by``, ``a``, ``b``, ``converted_a``, ``entered_a``, ``rate_a``,
        ``converted_b``, ``entered_b``, ``rate_b``, ``difference`` (B − A), ``ci_low``,
        ``ci_high`` (Newcombe), ``p_value`` (pooled z-test), ``significant``,
        ``small_sample`` (either group under 30) and ``statement`` (one sentence).

    Notes
    -----
    See :func:`kpilib.stats.compare_proportions` for the interval and the test.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer_id": list("abcd") * 2,
    ...     "ts": ["2026-10-01"] * 4 + ["2026-10-02"] * 4,
    ...     "event": ["visit"] * 4 + ["signup", "signup", "signup", "share"],
    ...     "variant": ["A", "A", "B", "B"] + [None] * 4})
    >>> r = ab_comparison(events, ["visit", "signup"], by="variant", a="A", b="B")
    >>> r[["converted_a", "entered_a", "converted_b", "entered_b", "difference"]]
       converted_a  entered_a  converted_b  entered_b  difference
    0            2          2            1          2        -0.5
    """
    rates = conversion_rate(events, steps, by=by, to_step=to_step, window=window, order=order,
                            start=start, end=end, as_of=as_of, complete_only=complete_only,
                            customers=customers, semantics=semantics, exclusions=exclusions,
                            attribution=attribution, reentry=reentry, first_time=first_time,
                            window_end=window_end, step_windows=step_windows, date_range=date_range)
    present = rates[by].tolist()
    for label, value in (("a", a), ("b", b)):
        if value not in present:
            raise ValueError(
                f"no user entered with {by} == {value!r} (group {label}); values present: {present}"
            )
    row_a = rates[rates[by] == a].iloc[0]
    row_b = rates[rates[by] == b].iloc[0]
    test = compare_proportions(row_b.numerator, row_b.denominator, row_a.numerator, row_a.denominator,
                               confidence=confidence).iloc[0]
    level = f"{confidence:.0%}"
    if np.isnan(test.difference):
        statement = "Not comparable: one group has no entrants."
    else:
        points = abs(test.difference) * 100
        if test.difference == 0:
            comparison = f"{b} converts at the same rate as {a}"
        else:
            size = f"{points:.1f}" if points >= 0.05 else f"{points:.2g}"  # never "0.0 points higher"
            comparison = f"{b} converts {size} percentage points {'higher' if test.difference > 0 else 'lower'} than {a}"
        verdict = "a significant difference" if test.significant else "no significant difference"
        statement = (
            f"{comparison} "
            f"({test.p1:.1%} vs {test.p2:.1%}; {level} interval of the difference "
            f"{test.ci_low * 100:+.1f} to {test.ci_high * 100:+.1f} pp, p = {test.p_value:.3g}): {verdict}."
        )
    return pd.DataFrame(
        [
            {
                "by": by,
                "a": a,
                "b": b,
                "converted_a": int(row_a.numerator),
                "entered_a": int(row_a.denominator),
                "rate_a": float(row_a.rate),
                "converted_b": int(row_b.numerator),
                "entered_b": int(row_b.denominator),
                "rate_b": float(row_b.rate),
                "difference": float(test.difference),
                "ci_low": float(test.ci_low),
                "ci_high": float(test.ci_high),
                "p_value": float(test.p_value),
                "significant": bool(test.significant),
                "small_sample": bool(min(row_a.denominator, row_b.denominator) < SMALL_DENOMINATOR),
                "statement": statement,
            }
        ]
    )
