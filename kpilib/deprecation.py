"""Old argument names kept for one release, with a warning that names the new one.

kpilib speaks one vocabulary across domains (``period`` for the calendar period,
``as_of`` for the exclusive data cut-off, ``start``/``end`` for a window of analysis).
Functions that used other names accept them for one release through
:func:`renamed_arguments`; calls with the old name still give the same numbers.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["renamed_arguments"]

F = TypeVar("F", bound=Callable)


def renamed_arguments(**renames: str | tuple[str, Callable[[Any], Any]]) -> Callable[[F], F]:
    """Accept old keyword names for one release, with a :class:`FutureWarning`.

    Parameters
    ----------
    **renames
        ``old="new"``, or ``old=("new", convert)`` when the old argument meant something
        slightly different (e.g. an inclusive end turned into an exclusive cut-off):
        ``convert(old_value)`` gives the new argument's value.

    Examples
    --------
    >>> import warnings
    >>> @renamed_arguments(freq="period")
    ... def counts(period="M"):
    ...     return period
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     counts(freq="W"), str(caught[0].message)
    ('W', 'counts(freq=...) is deprecated and will be removed in the next release; use period=... instead')
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, spec in renames.items():
                if old not in kwargs:
                    continue
                new, convert = (spec, None) if isinstance(spec, str) else spec
                if new in kwargs:
                    raise TypeError(f"{fn.__name__}() got both {old}= (deprecated) and {new}=; pass only {new}=")
                warnings.warn(
                    f"{fn.__name__}({old}=...) is deprecated and will be removed in the next release; "
                    f"use {new}=... instead",
                    FutureWarning,
                    stacklevel=2,
                )
                value = kwargs.pop(old)
                kwargs[new] = convert(value) if convert is not None else value
            return fn(*args, **kwargs)

        wrapper.renamed_arguments = dict(renames)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
