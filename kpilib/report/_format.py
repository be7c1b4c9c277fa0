"""Formatting for readers: metric values and changes by unit, and whole tables.

:func:`format_value` and :func:`format_change` write one number by its metric's unit
(:data:`kpilib.metrics.UNITS`). :func:`format_table` turns a DataFrame into an escaped,
formatted :class:`pandas.io.formats.style.Styler`; which of its columns are percentages
comes from the registry (:func:`kpilib.metrics.get`): a column named after a registered
metric has that metric's unit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from kpilib import metrics as _metrics

#: How a missing value is shown.
_MISSING = "—"

#: How a headline metric without a value (no data in the month) is shown: never as 0.
NO_DATA = "no data"


def format_value(value: float | None, unit: str) -> str:
    """Format a metric value by its unit for the report.

    Rates as percentages, counts with thousands separators; a missing value is a dash.

    Examples
    --------
    >>> format_value(0.1234, "rate"), format_value(12345, "count"), format_value(None, "count")
    ('12.3%', '12,345', '—')
    >>> format_value(1234.5, "currency"), format_value(3.25, "days")
    ('1,234.50', '3.2 days')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _MISSING
    v = float(value)
    if unit == "rate":
        return f"{v:.1%}"
    if unit == "count":
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.1f}"
    if unit == "currency":
        return f"{v:,.2f}"
    if unit == "days":
        return f"{v:,.1f} days"
    if unit == "months":
        return f"{v:,.1f} months"
    if unit == "points":
        return f"{v:,.1f} pts"
    if unit == "ratio":
        return f"{v:,.2f}"
    return f"{v:,.1f}"


def format_change(change: float | None, unit: str) -> str:
    """Format a month-over-month change with its sign; rates in percentage points.

    Examples
    --------
    >>> format_change(0.012, "rate"), format_change(-250, "count"), format_change(0, "days")
    ('+1.2 pp', '−250', '±0.0 days')
    """
    if change is None or (isinstance(change, float) and math.isnan(change)):
        return _MISSING
    c = float(change)
    sign = "+" if c > 0 else "−" if c < 0 else "±"
    if unit == "rate":
        return f"{sign}{abs(c) * 100:.1f} pp"
    return sign + format_value(abs(c), unit)


#: Columns that hold fractions whatever metric they belong to: kpilib's frames name a
#: numerator over its denominator ``rate`` or ``share``, or end the name so (``open_rate``,
#: ``value_share``, ``agree_rate``). This is the frames' naming convention for a proportion,
#: not a list of metrics: a metric's own unit comes from the registry (:func:`_column_unit`).
_FRACTION_NAME = re.compile(r"(^|_)(rate|share)$")
_INTERVAL_NAME = re.compile(r"^(?:(?P<base>.+)_)?ci_(?:low|high)$")
_P_VALUE_NAME = re.compile(r"(^|_)p_value$")


def _label(column: object) -> str:
    """A column's name as text (the last level of a MultiIndex label)."""
    return str(column[-1] if isinstance(column, tuple) else column)


def _finite(values: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return numbers[np.isfinite(numbers)]


def _registered_units() -> dict[str, str]:
    """Every registered metric's unit, by name (:func:`kpilib.metrics.all_metrics`)."""
    return {m.name: m.unit for m in _metrics.all_metrics()}


def _column_unit(name: str, units: Mapping[str, str]) -> str | None:
    """The unit of the values in a column called ``name``; None when it is not known.

    A column named after a registered metric has that metric's unit
    (:attr:`kpilib.metrics.Metric.unit`): the metric's name (``csat``, ``stickiness``), or a
    rate's name without its ``_rate`` suffix (``conversion`` for ``conversion_rate``,
    ``feature_adoption`` for ``feature_adoption_rate``). Any other column whose name ends
    in ``rate`` or ``share`` is a proportion (:data:`_FRACTION_NAME`).

    Examples
    --------
    >>> units = {"conversion_rate": "rate", "stickiness": "ratio"}
    >>> [_column_unit(n, units) for n in ("conversion", "stickiness", "value_share", "users")]
    ['rate', 'ratio', 'rate', None]
    """
    for candidate in (name, f"{name}_rate"):
        if candidate in units:
            return units[candidate]
    return "rate" if _FRACTION_NAME.search(name) else None


def _is_percent(
    frame: pd.DataFrame, column: object, percent: set[str], units: Mapping[str, str]
) -> bool:
    """Whether ``column`` holds fractions to show as percentages (see :func:`format_table`)."""
    name = _label(column)
    if name in percent:
        return True
    values = _finite(frame[column])
    unit = _column_unit(name, units)
    if unit is not None:  # a rate's fractions, unless they are percentages already
        return unit == "rate" and bool(np.all(np.abs(values) <= 10))
    if _INTERVAL_NAME.match(name) is None:
        return False
    base = _interval_base(frame, column)
    if base is not None:
        return _is_percent(frame, base, percent, units)
    numeric = {_label(c) for c in _numeric_columns(frame)}
    has_rates = any(_column_unit(n, units) == "rate" or n in percent for n in numeric - {name})
    return has_rates and bool(np.all((values >= 0) & (values <= 1)))


def _numeric_columns(frame: pd.DataFrame) -> list[object]:
    return [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


def _interval_base(frame: pd.DataFrame, column: object) -> object | None:
    """The column an interval column belongs to: ``x_ci_low`` → ``x_rate`` or ``x``."""
    match = _INTERVAL_NAME.match(_label(column))
    base = match.group("base") if match else None
    if not base:
        return None
    by_name = {_label(c): c for c in _numeric_columns(frame)}
    for candidate in (f"{base}_rate", base):
        if candidate in by_name:
            return by_name[candidate]
    return None


def _percent_text(value: float) -> str:
    return f"{value:.1%}"


def _p_value_text(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _breakable(label: object) -> str:
    """An (already escaped) column label that may wrap after its underscores."""
    return str(label).replace("_", "_<wbr>")


def _yes_no(value: object) -> str:
    return "yes" if value else "no"


def _is_boolean_objects(values: pd.Series) -> bool:
    """Whether an object column holds booleans and missing values only (True/False/None,
    as a flag with gaps comes back from pandas): it reads as yes/no, not "False"."""
    present = values.dropna()
    return values.dtype == object and len(present) > 0 and all(
        isinstance(v, (bool, np.bool_)) for v in present
    )


def _datetime_formatter(values: pd.Series):
    stamps = pd.to_datetime(values.dropna())
    midnight = bool(((stamps - stamps.dt.normalize()) == pd.Timedelta(0)).all())
    pattern = "%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M"
    return lambda value: value.strftime(pattern)


def _column_formatter(
    frame: pd.DataFrame, column: object, percent: set[str], units: Mapping[str, str]
):
    """The formatter :func:`format_table` uses for one column (None: Styler's default)."""
    values = frame[column]
    if pd.api.types.is_bool_dtype(values) or _is_boolean_objects(values):
        return _yes_no
    if pd.api.types.is_datetime64_any_dtype(values):
        return _datetime_formatter(values)
    if not pd.api.types.is_numeric_dtype(values):
        return None
    if _P_VALUE_NAME.search(_label(column)):
        return _p_value_text
    if _is_percent(frame, column, percent, units):
        return _percent_text
    if _INTERVAL_NAME.match(_label(column)):  # the bounds look like the value they bound
        base = _interval_base(frame, column)
        return _column_formatter(frame, base, percent, units) if base is not None else "{:,.2f}"
    numbers = _finite(values)
    if pd.api.types.is_integer_dtype(values) or np.all(numbers == np.round(numbers)):
        return "{:,.0f}"
    return "{:,.2f}"


def format_table(
    frame: pd.DataFrame,
    *,
    percent: Sequence[str] = (),
    formats: Mapping[str, Any] | None = None,
    max_rows: int | None = None,
) -> Any:
    """A DataFrame as a formatted, escaped table for reading (a pandas ``Styler``).

    Rates and shares show as percentages, counts with thousands separators, other numbers
    with two decimals, p-values with three, booleans as yes/no, dates without a midnight
    time, and missing values as a dash; an unnamed integer index (row positions) is
    hidden. Every text — cells, column and index labels — is HTML-escaped. In report runs
    every DataFrame a notebook displays goes through this function (see :func:`use_report_tables`); call it yourself to choose formats.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table. Not modified.
    percent : sequence of str, optional
        Further columns to show as percentages. By default a numeric column is one when it
        is named after a registered metric whose unit is ``"rate"`` (its name, or a rate's
        name without ``_rate``: ``conversion``), or when its name ends in ``rate`` or
        ``share`` and it is not a registered metric of another unit; an interval column
        (``ci_low``, ``<name>_ci_high`` …) follows the column it belongs to. The unit comes
        only from the registry (:attr:`kpilib.metrics.Metric.unit`): ``stickiness``, a
        ratio, shows as a number.
    formats : mapping, optional
        Column name → format string (``"{:,.1f}"``) or callable, overriding the above.
    max_rows : int, optional
        Show at most this many rows (the first ones), with a caption saying how many
        there are; default pandas' ``display.max_rows``.

    Returns
    -------
    pandas.io.formats.style.Styler

    Examples
    --------
    >>> table = pd.DataFrame({"channel": ["<b>email</b>", "paid"], "users": [12500, 300],
    ...                       "rate": [0.1234, 0.05], "ci_low": [0.11, 0.03]})
    >>> html = format_table(table).to_html()
    >>> "12,500" in html, "12.3%" in html, "11.0%" in html, "&lt;b&gt;email" in html
    (True, True, True, True)

    A flag with gaps (an object column of True, False and None) reads as one too:

    >>> flags = format_table(pd.DataFrame({"significant": [True, False, None]})).to_html()
    >>> [cell in flags for cell in (">yes</td>", ">no</td>", ">—</td>", "True", "False")]
    [True, True, True, False, False]
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"format_table needs a pandas DataFrame, got {type(frame).__name__}")
    limit = max_rows if max_rows is not None else pd.get_option("display.max_rows")
    shown = frame.head(limit) if limit and len(frame) > limit else frame
    wanted = set(percent)
    units = _registered_units()
    styler = shown.style
    for column in shown.columns:
        formatter = (formats or {}).get(_label(column)) or _column_formatter(
            shown, column, wanted, units
        )
        styler = styler.format(formatter, subset=[column], na_rep=_MISSING, escape="html")
    styler = styler.format_index(escape="html", axis=0).format_index(
        _breakable, escape="html", axis=1
    )
    if shown.index.name is None and pd.api.types.is_integer_dtype(shown.index):
        styler = styler.hide(axis="index")  # row positions, not information
    if len(shown) < len(frame):
        styler = styler.set_caption(f"First {len(shown):,} of {len(frame):,} rows")
    return styler.set_table_attributes('class="dataframe kpilib-table"').set_table_styles(
        [
            {"selector": "td", "props": "text-align: right;"},
        ]
    )


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
