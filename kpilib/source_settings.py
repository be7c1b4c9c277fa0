"""A source folder's own names and settings: its ``kpilib.toml``, checked and applied.

Real tables use their own file, column and event names. A ``kpilib.toml`` in the source
folder maps them onto the contract (:class:`TableMapping`, ``[events]``), declares the
source's funnel (:class:`FunnelSettings`), its report time zone and contract options
(:class:`SourceSettings`). :func:`read_settings` parses and checks the file, every error
naming its line; :func:`apply_mapping` renames and computes the contract's columns in the
engine, before validation. :mod:`kpilib.data` re-exports the public names.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from kpilib.contract import SCHEMAS, TABLE_NAMES, ContractOptions, DataError
from kpilib.periods import check_timezone

__all__ = ["SETTINGS_FILE", "FunnelSettings", "SourceSettings", "TableMapping", "apply_mapping",
           "read_settings", "table_file"]

#: The optional settings file of a source folder: contract options, table and event mapping.
SETTINGS_FILE = "kpilib.toml"


@dataclass(frozen=True)
class TableMapping:
    """How one contract table is found in a source folder with its own names.

    Attributes
    ----------
    file : str or None
        The file inside the source folder (default ``<table>.parquet`` / ``.csv``).
    columns : dict
        Contract column → the file's column, or a SQL expression over the file's
        columns evaluated in the engine (e.g. ``"price + freight_value"``).
    """

    file: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


_FUNNEL_ORDERS = ("ordered", "strict", "strict_steps", "any")
#: The vendor presets of :func:`kpilib.funnel.funnel` (``kpilib.funnel.PRESETS``; a test keeps them equal).
_FUNNEL_SEMANTICS = ("kpilib", "posthog", "mixpanel", "amplitude")


@dataclass(frozen=True)
class FunnelSettings:
    """The funnel a source declares in its ``kpilib.toml``; ``None`` where it says nothing.

    A source whose journey is not the built-in ``visit → signup → lead → mql → sql →
    purchase`` (a shop: ``visit → add_to_cart → purchase``; a sales team: ``lead → mql →
    sql → won``) names its steps once, and every funnel section of the notebooks, the
    report and ``python -m kpilib check`` use them (a notebook parameter given
    explicitly still wins; :func:`kpilib.funnel.funnel_settings` resolves them)::

        [funnel]
        steps = ["lead", "mql", "sql", "won"]   # event names, in order (after [events] mapping)
        window = "180D"                          # optional: conversion window from the first step
        order = "ordered"                        # optional: ordered, strict, strict_steps or any
        semantics = "posthog"                    # optional: the rules of kpilib, posthog, mixpanel or amplitude

    Attributes
    ----------
    steps : tuple of str or None
        The funnel's event names in order (a name may repeat).
    window : str or None
        The conversion window, a duration such as ``"14D"`` or ``"36h"``.
    order : {"ordered", "strict", "strict_steps", "any"} or None
        How the steps must follow each other (see :mod:`kpilib.funnel`).
    semantics : {"kpilib", "posthog", "mixpanel", "amplitude"} or None
        Whose funnel rules the numbers follow (:data:`kpilib.funnel.PRESETS`): a team that
        reconciles with its product-analytics tool declares it once.

    Examples
    --------
    >>> FunnelSettings(steps=("mql", "sql", "won")).window is None
    True
    """

    steps: tuple[str, ...] | None = None
    window: str | None = None
    order: str | None = None
    semantics: str | None = None


@dataclass(frozen=True)
class SourceSettings:
    """What a source folder's ``kpilib.toml`` says: contract options, table and event mapping,
    and the source's funnel.

    ``events`` maps the source's event names to the contract's (``first_contact = "lead"``),
    applied to ``events.event`` in the engine; unmapped names pass unchanged. ``funnel``
    is the ``[funnel]`` table (:class:`FunnelSettings`), handed on as :attr:`Dataset.funnel`.
    ``timezone`` (a top-level ``timezone = "Europe/Berlin"``, before any section) is the
    report time zone for day, week and month boundaries (the data stay UTC; ``None`` is
    UTC), handed on as :attr:`Dataset.timezone`.
    """

    path: Path
    text: str = ""
    contract: ContractOptions = field(default_factory=ContractOptions)
    tables: dict[str, TableMapping] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    funnel: FunnelSettings = field(default_factory=FunnelSettings)
    timezone: str | None = None

    def line_of(self, section: str, key: str | None = None) -> str:
        """``kpilib.toml, line N`` of ``key`` in ``[section]`` (or of the section header)."""
        lines = self.text.splitlines()
        header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(map(re.escape, section.split("."))) + r"\s*\]")
        number = -1 if not section else next((i for i, line in enumerate(lines) if header.match(line)), None)
        if not section and key is None:
            return self.path.name
        if number is not None and key is not None:
            item = re.compile(r"^\s*(\"?)" + re.escape(key) + r"\1\s*=")
            after = (i for i in range(number + 1, len(lines)) if item.match(lines[i]))
            number = next(after, number)
        where = f"{self.path.name}, line {number + 1}" if number is not None and number >= 0 else self.path.name
        return f"{where} ({f'[{section}] ' if section else ''}{key or ''})".replace(" )", ")")

    def error(self, section: str, key: str | None, message: str, fix: str, table: str | None = None) -> DataError:
        return DataError(f"{self.line_of(section, key)}: {message}", table=table, fix=fix)


_SETTINGS_SECTIONS = {"contract", "tables", "events", "funnel"}
_CONTRACT_KEYS = {"as_of", "future_tolerance", "allow_future"}
_TABLE_KEYS = {"file", "columns"}
_FUNNEL_KEYS = ("steps", "window", "order", "semantics")
_TOP_KEYS = {"timezone"}


def _parse_funnel(raw: Any, settings: SourceSettings) -> FunnelSettings:
    """The ``[funnel]`` table checked, each error naming its line."""
    if not isinstance(raw, dict):
        raise settings.error("funnel", None, "[funnel] must be a table", 'e.g. [funnel] then steps = ["lead", "won"]')
    unknown = sorted(set(raw) - set(_FUNNEL_KEYS))
    if unknown:
        raise settings.error("funnel", unknown[0], f"unknown setting {unknown[0]} under [funnel]",
                             f"The settings are {', '.join(_FUNNEL_KEYS)}")
    steps = raw.get("steps")
    if steps is not None and (not isinstance(steps, list) or not steps
                              or not all(isinstance(s, str) and s.strip() for s in steps)):
        raise settings.error("funnel", "steps", f"steps must be a non-empty list of event names, got {steps!r}",
                             'e.g. steps = ["visit", "add_to_cart", "purchase"]', table="events")
    window = raw.get("window")
    if isinstance(window, int) and not isinstance(window, bool):
        window = f"{window}D"  # a number is days, as everywhere in kpilib
    if window is not None:
        try:
            bad = (not isinstance(window, str) or not re.search(r"[A-Za-z]", window)  # "14" would be 14 ns
                   or not pd.Timedelta(window) > pd.Timedelta(0))
        except ValueError:
            bad = True
        if bad:
            raise settings.error("funnel", "window", f"window must be a positive duration, got {window!r}",
                                 'e.g. window = "14D" (days) or "36h" (hours)')
    order = raw.get("order")
    if order is not None and order not in _FUNNEL_ORDERS:
        raise settings.error("funnel", "order", f"order must be one of {', '.join(_FUNNEL_ORDERS)}, got {order!r}",
                             'e.g. order = "ordered"')
    semantics = raw.get("semantics")
    if semantics is not None and semantics not in _FUNNEL_SEMANTICS:
        raise settings.error("funnel", "semantics",
                             f"semantics must be one of {', '.join(_FUNNEL_SEMANTICS)}, got {semantics!r}",
                             'e.g. semantics = "posthog"')
    return FunnelSettings(steps=tuple(s.strip() for s in steps) if steps is not None else None,
                          window=window, order=order, semantics=semantics)


def _parse_settings(path: Path) -> SourceSettings:
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path} is not valid TOML ({exc})", fix="Fix the file's syntax") from None
    settings = SourceSettings(path=path, text=text)
    timezone = raw.pop("timezone", None)
    try:
        timezone = check_timezone(timezone)
    except ValueError as exc:
        raise settings.error("", "timezone", str(exc), 'e.g. timezone = "Europe/Berlin" before the first [section]') from None
    unknown = sorted(set(raw) - _SETTINGS_SECTIONS)
    if unknown:
        raise settings.error(unknown[0], None, f"unknown section [{unknown[0]}]",
                             f"The sections are {', '.join(f'[{s}]' for s in sorted(_SETTINGS_SECTIONS))}")
    contract = raw.get("contract", {})
    unknown = sorted(set(contract) - _CONTRACT_KEYS)
    if unknown:
        raise DataError(
            f"{settings.line_of('contract', unknown[0])}: unknown setting(s) {', '.join(unknown)} under [contract]",
            fix=f"The settings are {', '.join(sorted(_CONTRACT_KEYS))}",
        )
    try:
        options = ContractOptions(**contract)
        options.future_limit()
    except (TypeError, ValueError) as exc:
        raise settings.error("contract", None, f"a [contract] setting is invalid ({exc})",
                             'future_tolerance is a duration such as "2D"; allow_future is true or false') from None
    tables: dict[str, TableMapping] = {}
    for name, spec in raw.get("tables", {}).items():
        section = f"tables.{name}"
        if name not in SCHEMAS:
            close = difflib.get_close_matches(name, TABLE_NAMES, n=1)
            raise settings.error(section, None, f"unknown table '{name}'",
                                 f"Did you mean '{close[0]}'?" if close else f"The tables are {', '.join(TABLE_NAMES)}")
        if not isinstance(spec, dict) or set(spec) - _TABLE_KEYS:
            raise settings.error(section, None, "a table takes only file = \"…\" and a [" + section + ".columns] table",
                                 "See data/README.md, 'Settings'", table=name)
        columns = spec.get("columns", {})
        contract_columns = {c.name for c in SCHEMAS[name].columns}
        for column, source in columns.items():
            if column not in contract_columns:
                raise settings.error(f"{section}.columns", column, f"'{column}' is not a column of the contract's {name}",
                                     f"Map onto {', '.join(sorted(contract_columns))}; other columns are kept as they are",
                                     table=name)
            if not isinstance(source, str) or not source.strip():
                raise settings.error(f"{section}.columns", column, "the value must be a column name or an expression",
                                     'e.g. amount = "payment_value"', table=name)
        file = spec.get("file")
        if file is not None and (not isinstance(file, str) or Path(file).suffix not in (".csv", ".parquet")):
            raise settings.error(section, "file", f"file must name a .csv or .parquet file, got {file!r}",
                                 'e.g. file = "olist_orders_dataset.csv"', table=name)
        tables[name] = TableMapping(file=file, columns=dict(columns))
    events = raw.get("events", {})
    for theirs, ours in events.items():
        if not isinstance(ours, str) or not ours.strip():
            raise settings.error("events", theirs, "an event maps onto one event name",
                                 'e.g. first_contact = "lead"', table="events")
    funnel = _parse_funnel(raw.get("funnel", {}), settings)
    return replace(settings, contract=options, tables=tables, events=dict(events), funnel=funnel,
                   timezone=timezone)


def read_settings(folder: Path) -> SourceSettings | None:
    """``folder/kpilib.toml`` parsed and checked, or None without the file."""
    path = folder / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        return _parse_settings(path)
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8", fix="Save it as UTF-8") from None


def table_file(folder: Path, name: str, settings: SourceSettings | None) -> Path | None:
    """The file holding table ``name``: the mapping's, or ``<name>.parquet`` / ``.csv``."""
    mapping = settings.tables.get(name) if settings else None
    if mapping is not None and mapping.file is not None:
        path = (folder / mapping.file).resolve()
        if not path.is_relative_to(folder.resolve()):
            raise settings.error(f"tables.{name}", "file", f"{mapping.file} lies outside the source folder",
                                 "Name a file inside the folder", table=name)
        if not path.is_file():
            raise settings.error(f"tables.{name}", "file", f"there is no file {mapping.file} in {folder}",
                                 "Check the file name (case matters)", table=name)
        return path
    parquet, csv = folder / f"{name}.parquet", folder / f"{name}.csv"
    if parquet.exists() and csv.exists():
        raise DataError(
            f"both {parquet.name} and {csv.name} are present in {folder}",
            table=name,
            fix="Keep one of the two files",
        )
    return parquet if parquet.exists() else csv if csv.exists() else None


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def apply_mapping(raw: ibis.Table, name: str, settings: SourceSettings) -> ibis.Table:
    """``raw`` with the mapping's contract columns (renamed or computed in the engine) and
    event names; the file's other columns kept."""
    mapping = settings.tables.get(name)
    if mapping is not None and mapping.columns:
        have = list(raw.columns)
        section = f"tables.{name}.columns"
        alias = f"kpilib_{name}_file"  # one name per table, so joined tables never clash
        computed = {}
        for column, source in mapping.columns.items():
            if source in have:
                continue
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", source):
                close = difflib.get_close_matches(source, have, n=1, cutoff=0.5)
                raise settings.error(
                    section, column, f"the file has no column '{source}' (it has: {', '.join(have)})",
                    f"Did you mean '{close[0]}'?" if close else "Name one of the file's columns", table=name)
            try:  # each expression on its own, so an error names its line
                raw.alias(alias).sql(f"SELECT ({source}) AS x FROM {alias}").schema()
            except Exception as exc:  # noqa: BLE001 - any engine or parser error is the expression's
                reason = str(exc).strip().splitlines()[0]
                raise settings.error(section, column, f"an expression cannot be evaluated ({reason})",
                                     "Write the value as a column name or a SQL expression over the file's "
                                     f"columns ({', '.join(have)})", table=name) from None
            computed[column] = source
        if computed:
            items = ", ".join(f"({source}) AS {_quote('__kpilib_' + column)}" for column, source in computed.items())
            raw = raw.alias(alias).sql(f"SELECT *, {items} FROM {alias}")
        renamed = {source for source in mapping.columns.values() if source in have}
        kept = {c: raw[c] for c in have if c not in mapping.columns and c not in renamed}
        mapped = {column: raw[source] if column not in computed else raw[f"__kpilib_{column}"]
                  for column, source in mapping.columns.items()}
        raw = raw.select(**kept, **mapped)
    if name == "events" and settings.events and "event" in raw.columns:
        raw = raw.mutate(event=raw.event.cast(dt.string).substitute(settings.events))
    return raw
