"""What each report notebook's sections need, and which of them can run on a source.

One table, :data:`NOTEBOOKS`, lists every section of every report notebook with what it
needs: tables, optional columns (``"events.feature"``), and event names that must occur
(``"feature_use"``). Entries may name a notebook parameter in braces (``"events.{breakdown}"``,
``"{steps}"``); a list or dict parameter stands for each of its items (keys), and an entry
ending in ``" if <parameter>"`` counts only when that parameter is set. Event names are
checked when the section needs the events table.

A parameter whose default comes from the source (:data:`FROM_SOURCE`) is resolved the way
the notebook resolves it: the funnel notebook's ``steps``, ``window`` and ``order`` left
empty (their defaults) are the source's ``kpilib.toml`` ``[funnel]`` settings, else the
built-in funnel (:func:`kpilib.funnel.funnel_settings`), and an empty ``landing_goal`` is
the funnel's second step, so ``check``, the report and the page agree.

The same table drives

* the notebooks: :func:`sections` (``kpilib.report.sections``) evaluates it once per
  notebook; ``plan.runs("feature_adoption")`` then says whether a section runs and, when
  it does not, shows a one-line note (what to add) and records the skip for the report
  under :data:`SECTION_MIMETYPE`; ``plan.has_data(frame, "survey answers", start, end)``
  replaces an empty result by one sentence naming what is empty and the period;
* the notebook-level skip: when no section of a notebook can run, :func:`sections`
  raises :class:`NotebookSkipped` with the reason (which tables to add), which the report
  shows as a grey "skipped" notebook rather than a failure;
* the report's "partial" status, from the skips recorded in the executed notebook;
* ``python -m kpilib check``, which prints the plan of every section (:func:`check_lines`).

Examples
--------
>>> import pandas as pd
>>> from kpilib import load_dataset
>>> events = pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-01"], "event": ["page_view"]})
>>> params = notebook_parameters(Path("notebooks") / "02_engagement.ipynb")  # doctest: +SKIP
>>> params = {"activity_events": ["page_view"], "activation_event": "feature_use", "activation_feature": ""}
>>> plan = evaluate(load_dataset({"events": events}), "02_engagement", params)
>>> plan["active_users"].runs, plan["feature_adoption"].reason
(True, 'needs column feature in the events table: add it to the source')
"""

from __future__ import annotations

import ast
import numbers
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kpilib import funnel

__all__ = [
    "FROM_SOURCE",
    "NOTEBOOKS",
    "SECTION_MIMETYPE",
    "NotebookPlan",
    "NotebookSkipped",
    "Section",
    "SectionNote",
    "SectionStatus",
    "check_lines",
    "evaluate",
    "notebook_parameters",
    "period_text",
    "sections",
]

#: The output mimetype that carries a skipped section (JSON) for the report runner.
SECTION_MIMETYPE = "application/vnd.kpilib.section+json"

#: How many of a table's event names a reason lists at most.
_MAX_NAMES = 8
#: How many section reasons a notebook's skip reason lists at most.
_MAX_REASONS = 3
#: The section that records a notebook's headline metrics: it runs only beside another.
HEADLINE = "headline"
#: Parameters a source may also set in its kpilib.toml, for the hint in a reason.
_SETTING_OF = {"steps": "[funnel] steps"}


@dataclass(frozen=True)
class Section:
    """One section of a report notebook and what it needs to run.

    Attributes
    ----------
    name : str
        The name the notebook passes to :meth:`NotebookPlan.runs`.
    title : str
        The section's heading, as the note and ``check`` show it.
    needs : tuple of str
        Tables (``"orders"``) and columns (``"events.feature"``), every one needed.
    needs_any : tuple of str
        Tables and columns of which at least one is needed.
    events : tuple of str
        Event names that must all occur in the events table.
    any_event : tuple of str
        Event names of which at least one must occur.
    uses : tuple of str
        Optional inputs the section runs without, as ``"table.column: what it adds"``;
        when one is missing the section says so in one line (it is not skipped).

    Every entry may hold ``{parameter}`` and end in ``" if <parameter>"`` (see the module).
    """

    name: str
    title: str
    needs: tuple[str, ...] = ()
    needs_any: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    any_event: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()


#: What marketing touchpoints are made of: visits with a channel, and email clicks.
_TOUCHES = ("events.channel: visits with a channel count as touches too",
            "email: email clicks count as touches too")

#: Every report notebook's sections, in page order, with what each needs. Notebooks not
#: listed (the glossary) need no data.
NOTEBOOKS: dict[str, tuple[Section, ...]] = {
    "01_funnel": (
        Section("funnel", "The funnel of the month", needs=("events",), events=("{steps}",)),
        Section("by_group", "Conversion by group", needs=("events",),
                needs_any=("events.{breakdown}", "customers.{breakdown}"), events=("{steps}",)),
        Section("ab_comparison", "A/B comparison of two groups", needs=("events",),
                needs_any=("events.{breakdown}", "customers.{breakdown}"), events=("{steps}",)),
        Section("time_to_convert", "Time to convert", needs=("events",), events=("{steps}",)),
        Section("landing_pages", "Landing pages", needs=("events.page",), events=("visit", "{landing_goal}")),
        Section("lead_nurture", "Lead nurture", needs=("events", "customers.{profile_points}"),
                events=("lead",)),
        Section("cost_per_mql", "Cost per MQL", needs=("events", "spend"), events=("lead",)),
        Section("lead_score", "Lead score of new leads", needs=("events", "customers.{profile_points}"),
                events=("lead",)),
        Section("sales_cycle", "Sales cycle", needs=("events",), events=("purchase",)),
        Section("headline", "Headline numbers", needs=("events", "customers.{profile_points}")),
    ),
    "02_engagement": (
        Section("email", "Email performance", needs=("email",)),
        Section("active_users", "Active users and stickiness", needs=("events",),
                any_event=("{activity_events}",)),
        Section("lifecycle", "Lifecycle", needs=("events",), any_event=("{activity_events}",)),
        Section("feature_adoption", "Feature adoption", needs=("events.feature",), events=("feature_use",)),
        Section("usage", "Sessions and time on site", needs=("events",), any_event=("{activity_events}",)),
        Section("time_to_value", "Time to value",
                needs=("events", "customers", "events.feature if activation_feature"),
                events=("{activation_event}",)),
        Section("surveys", "NPS, CSAT and CES", needs=("surveys",)),
        Section("nps_by_plan", "NPS by plan", needs=("surveys", "customers.plan")),
        Section("health_score", "Customer health score", needs=("events",), any_event=("{activity_events}",)),
        Section("health_validation", "Health score against churn", needs=("events", "subscriptions"),
                any_event=("{activity_events}",)),
        Section("headline", "Headline metrics", needs_any=("events", "email", "surveys")),
    ),
    "03_churn": (
        Section("churn_rate", "Customer churn per period", needs=("subscriptions",)),
        Section("churn_by_segment", "Churn by segment", needs=("subscriptions",),
                needs_any=("customers.{breakdown}", "subscriptions.{breakdown}")),
        Section("revenue_retention", "Revenue churn, GRR and NRR", needs=("subscriptions",)),
        Section("cohort_retention", "Cohort retention", needs=("{activity}",), any_event=("{activity_events}",)),
        Section("retention_by_channel", "Retention by acquisition channel", needs=("{activity}", "customers"),
                any_event=("{activity_events}",)),
        Section("survival_by_plan", "Survival by plan", needs=("subscriptions",),
                needs_any=("customers.plan", "subscriptions.plan")),
        Section("survival_by_channel", "Survival by channel", needs=("subscriptions", "customers")),
        Section("sbg", "sBG projection", needs=("subscriptions",)),
        Section("headline", "Headline metrics", needs_any=("subscriptions", "{activity}")),
    ),
    "04_clv": (
        Section("rfm", "Customers as the models see them", needs=("orders",)),
        Section("model_checks", "Model checks", needs=("orders",)),
        Section("predicted_value", "Predicted value per customer", needs=("orders",)),
        Section("uncertainty", "Uncertainty", needs=("orders",)),
        Section("tiers", "Value tiers", needs=("orders",)),
        Section("value_by_channel", "Value and CLV:CAC by channel", needs=("orders", "customers")),
        Section("headline", "Headline numbers", needs=("orders",)),
    ),
    "05_marketing": (
        Section("acquisition_costs", "Spend and CAC by channel", needs=("spend", "customers")),
        Section("return_on_spend", "ROI and ROAS by channel", needs=("spend", "customers", "orders")),
        Section("clv_cac", "CLV:CAC by channel", needs=("spend", "customers", "orders")),
        Section("traffic_to_leads", "Traffic to leads", needs=("events.channel",), events=("visit", "lead")),
        Section("influenced_revenue", "Marketing-influenced revenue", needs=("orders",),
                needs_any=("events.channel", "email"), uses=_TOUCHES),
        Section("attribution", "Attribution", needs=("orders",), needs_any=("events.channel", "email"),
                uses=_TOUCHES),
        Section("attributed_return", "Return on spend per attribution model", needs=("orders", "spend"),
                needs_any=("events.channel", "email")),
        Section("headline", "Headline metrics", needs=("spend", "customers")),
    ),
}


# --------------------------------------------------------------------------- parameters


def _funnel_parameters(ds: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """The funnel notebook's ``steps``, ``window``, ``order`` and ``landing_goal`` as it
    resolves them: given, else the source's ``[funnel]``, else the defaults."""
    chosen = funnel.funnel_settings(ds, steps=params.get("steps"), window=params.get("window"),
                                    order=params.get("order"), semantics=params.get("semantics") or None)
    out = {**params, "steps": list(chosen.steps), "window": chosen.window, "order": chosen.order}
    if not params.get("landing_goal"):
        out["landing_goal"] = funnel.landing_goal(chosen.steps)
    return out


#: Notebook → how it fills the parameters it leaves empty from the source.
FROM_SOURCE: dict[str, Callable[[Any, Mapping[str, Any]], dict[str, Any]]] = {
    "01_funnel": _funnel_parameters,
}


def notebook_parameters(path: str | Path) -> dict[str, Any]:
    """The default parameters of a notebook: the literals assigned in its ``parameters`` cell.

    Examples
    --------
    >>> from kpilib.report import default_notebooks_dir
    >>> notebook_parameters(default_notebooks_dir() / "01_funnel.ipynb")["breakdown"]
    'channel'
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    params: dict[str, Any] = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            for node in ast.parse(cell.source).body:
                target = node.target if isinstance(node, ast.AnnAssign) else (
                    node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
                if isinstance(target, ast.Name) and getattr(node, "value", None) is not None:
                    try:
                        params[target.id] = ast.literal_eval(node.value)
                    except ValueError:
                        continue
    return params


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _expand(entry: str, params: Mapping[str, Any]) -> list[str]:
    """An entry with its ``{parameter}`` replaced: one string per item of a list (or key
    of a dict) parameter; none when a condition ``" if <parameter>"`` is unset or the
    parameter is empty."""
    text, _, condition = entry.partition(" if ")
    if condition and not params.get(condition.strip()):
        return []
    match = _PLACEHOLDER.search(text)
    if match is None:
        return [text]
    name = match.group(1)
    if name not in params:
        raise KeyError(f"the sections of this notebook need the parameter {name!r}; pass {name}=...")
    value = params[name]
    if isinstance(value, Mapping):
        items = [str(k) for k in value]
    elif isinstance(value, list | tuple | set | frozenset):
        items = [str(v) for v in value]
    elif value is None or value == "":
        items = []
    else:
        items = [str(value)]
    return [out for item in items for out in _expand(text[: match.start()] + item + text[match.end():], params)]


def _expand_all(entries: Sequence[str], params: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys(out for entry in entries for out in _expand(entry, params)))


def _from_parameter(entries: Sequence[str]) -> str | None:
    """The parameter the entries' names come from, if any (for the hint in a reason)."""
    for entry in entries:
        match = _PLACEHOLDER.search(entry)
        if match:
            return match.group(1)
    return None


# --------------------------------------------------------------------------- evaluation


class _Facts:
    """What a source has: its tables, their columns and (computed once, when asked) the
    event names of its events table."""

    def __init__(self, ds: Any) -> None:
        self.columns: dict[str, set[str]] = {name: set(t.columns) for name, t in ds.tables().items()}
        self.kind: str = getattr(ds, "kind", "")
        self._ds = ds
        self._events: list[str] | None = None

    def has(self, item: str) -> bool:
        table, _, column = item.partition(".")
        return table in self.columns and (not column or column in self.columns[table])

    @property
    def event_names(self) -> list[str]:
        if self._events is None:
            events = self._ds.events
            if events is None:
                self._events = []
            else:
                names = events.select("event").distinct().execute()["event"]
                self._events = sorted(str(n) for n in names.dropna())
        return self._events


def _and(names: Sequence[str], word: str = "and") -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"


def _thing(item: str) -> str:
    table, _, column = item.partition(".")
    return f"column {column} in the {table} table" if column else f"the {table} table"


def _table_reason(tables: Sequence[str], kind: str = "") -> str:
    """What to add for the absent ``tables``, in the terms of the source's ``kind``
    (:attr:`kpilib.Dataset.kind`: files of a folder, a database's tables, DataFrames)."""
    one = len(tables) == 1
    need = f"needs the {tables[0]} table" if one else f"needs the {_and(tables)} tables"
    if kind == "files":
        if one:
            return f"{need}: add {tables[0]}.parquet or {tables[0]}.csv to the source"
        return f"{need}: add them to the source ({_and([f'{t}.parquet' for t in tables])}, or .csv)"
    if kind == "database":
        return need + (f": add a table or view named {tables[0]} to the source" if one
                       else ": add tables or views with those names to the source")
    if kind == "frames":
        return f"{need}: pass {'it' if one else 'them'} to load_dataset ({', '.join(f'{t}=…' for t in tables)})"
    return f"{need}: add {'it' if one else 'them'} to the source"


def _table_options(needs: Sequence[str], alternatives: Sequence[str], facts: _Facts) -> list[frozenset[str]]:
    """The sets of absent tables whose addition would let a section past its table needs
    (one set per alternative of ``needs_any``); empty when a missing column blocks it."""
    required = frozenset(n.partition(".")[0] for n in needs if n.partition(".")[0] not in facts.columns)
    if not alternatives:
        return [required] if required else []
    options = []
    for alternative in alternatives:
        table = alternative.partition(".")[0]
        if table not in facts.columns:
            options.append(required | {table})
        elif facts.has(alternative) and required:
            options.append(required)
    return options


def _blocking_reason(section: Section, facts: _Facts, params: Mapping[str, Any]
                     ) -> tuple[str | None, list[frozenset[str]]]:
    """Why ``section`` cannot run (None when it can), and the sets of absent tables that
    would unblock it (see :func:`_table_options`)."""
    needs = _expand_all(section.needs, params)
    alternatives = _expand_all(section.needs_any, params)
    tables = [n.partition(".")[0] for n in needs]
    missing_tables = list(dict.fromkeys(t for t in tables if t not in facts.columns))
    if missing_tables:
        return _table_reason(missing_tables, facts.kind), _table_options(needs, alternatives, facts)
    missing = [n for n in needs if not facts.has(n)]
    if missing:
        table = missing[0].partition(".")[0]
        columns = [n.partition(".")[2] for n in missing if n.startswith(f"{table}.")]
        what = f"column {columns[0]}" if len(columns) == 1 else f"columns {_and(columns)}"
        return f"needs {what} in the {table} table: add {'it' if len(columns) == 1 else 'them'} to the source", []
    if alternatives and not any(facts.has(a) for a in alternatives):
        things = [_thing(a) for a in alternatives]
        return (f"needs {_and(things, 'or')}: add {'it' if len(things) == 1 else 'one of them'} to the source",
                _table_options(needs, alternatives, facts))
    uses_events = "events" in tables or any(a.partition(".")[0] == "events" and facts.has(a) for a in alternatives)
    if uses_events and (section.events or section.any_event):
        have = facts.event_names
        absent_events = [e for e in _expand_all(section.events, params) if e not in have]
        source = _from_parameter(section.events)
        listed = _and(absent_events) if absent_events else ""
        any_of = _expand_all(section.any_event, params)
        if not absent_events and any_of and not any(e in have for e in any_of):
            absent_events, source, listed = any_of, _from_parameter(section.any_event), _and(any_of, "or")
        if absent_events:
            shown = ", ".join(have[:_MAX_NAMES]) + (" …" if len(have) > _MAX_NAMES else "")
            where = f" (it has {shown})" if have else " (it has none)"
            setting = f" (or {_SETTING_OF[source]} in kpilib.toml)" if source in _SETTING_OF else ""
            fix = (f"set {source}{setting} to event names it has, or map yours onto them in kpilib.toml [events]"
                   if source else "add them, or map your event names onto them in kpilib.toml [events]")
            return f"needs {listed} events in the events table{where}: {fix}", []
    return None, []


@dataclass(frozen=True)
class SectionStatus:
    """Whether one section runs on a source, and why not.

    Attributes
    ----------
    notebook, name, title : str
        The section (see :class:`Section`).
    runs : bool
        Whether its inputs are there.
    reason : str or None
        Why it does not run: what to add (one line).
    missing_tables : tuple of frozenset
        Sets of absent tables, any one of which would let it run as far as tables go
        (empty when a column or an event name blocks it).
    limits : tuple of str
        For a section that runs, the optional inputs it runs without and what they add.
    source_kind : str
        Where the source's tables come from (:attr:`kpilib.Dataset.kind`), for the
        words of what to add.
    """

    notebook: str
    name: str
    title: str
    runs: bool
    reason: str | None = None
    missing_tables: tuple[frozenset[str], ...] = ()
    limits: tuple[str, ...] = ()
    source_kind: str = ""


def evaluate(ds: Any, notebook: str, params: Mapping[str, Any] | None = None, *,
             facts: _Facts | None = None) -> dict[str, SectionStatus]:
    """The plan of one notebook on a dataset: section name → :class:`SectionStatus`.

    Parameters
    ----------
    ds : kpilib.Dataset
        The loaded source.
    notebook : str
        A notebook stem of :data:`NOTEBOOKS` (``"02_engagement"``).
    params : mapping, optional
        The notebook parameters the needs refer to (see :func:`notebook_parameters` for a
        notebook's defaults).

    Raises
    ------
    KeyError
        For an unknown notebook, or a parameter the needs refer to that is not given.
    """
    if notebook not in NOTEBOOKS:
        raise KeyError(f"no sections are listed for notebook {notebook!r}; known: {', '.join(NOTEBOOKS)}")
    values = dict(params or {})
    if notebook in FROM_SOURCE:
        values = FROM_SOURCE[notebook](ds, values)
    facts = facts or _Facts(ds)
    plan = {}
    for section in NOTEBOOKS[notebook]:
        reason, tables = _blocking_reason(section, facts, values)
        limits = []
        for use in section.uses if reason is None else ():
            item, _, adds = use.partition(": ")
            if not facts.has(item):
                limits.append(f"runs without {_thing(item)}: with it, {adds}")
        plan[section.name] = SectionStatus(notebook, section.name, section.title, reason is None, reason,
                                           tuple(tables), tuple(limits), facts.kind)
    return plan


def skip_reason(plan: Mapping[str, SectionStatus]) -> str | None:
    """Why a whole notebook is skipped, or None when it runs.

    A notebook is skipped when none of its sections but the headline can run: the reason
    names the tables to add (one of the ways when there are several), or the first of its
    sections' reasons.

    Examples
    --------
    >>> import pandas as pd
    >>> from kpilib import load_dataset
    >>> customers = pd.DataFrame({"customer_id": ["a"], "signup_at": ["2026-10-01"], "channel": ["x"]})
    >>> print(skip_reason(evaluate(load_dataset({"customers": customers}), "04_clv")))
    needs the orders table: pass it to load_dataset (orders=…)
    """
    # the headline sums up the other sections: on its own it is not worth a page
    statuses = [s for s in plan.values() if s.name != HEADLINE] or list(plan.values())
    if any(s.runs for s in statuses):
        return None
    if all(s.missing_tables for s in statuses):
        options = {option for s in statuses for option in s.missing_tables}
        minimal = sorted((o for o in options if not any(other < o for other in options)),
                         key=lambda o: (len(o), sorted(o)))
        if len(minimal) == 1:
            return _table_reason(sorted(minimal[0]), statuses[0].source_kind)
        singles = sorted(next(iter(o)) for o in minimal if len(o) == 1)
        ways = ([f"the {_and(singles, 'or')} table"] if singles else []) + [
            f"the {_and(sorted(o))} tables" for o in minimal if len(o) > 1]
        return f"needs {', or '.join(ways)}: add one of them to the source"
    reasons = list(dict.fromkeys(s.reason for s in statuses if s.reason))
    shown = "; ".join(reasons[:_MAX_REASONS]) + ("; …" if len(reasons) > _MAX_REASONS else "")
    return f"has no section that can run on this source: {shown}"


# --------------------------------------------------------------------------- in the notebook


class NotebookSkipped(Exception):
    """Raised by :func:`sections` when no section of the notebook can run on the source.

    The report shows the notebook as *skipped* (grey, with this reason), not failed; in
    JupyterLab it shows as one line, without a traceback.
    """

    def __init__(self, notebook: str, reason: str) -> None:
        super().__init__(reason)
        self.notebook = notebook
        self.reason = reason

    def _render_traceback_(self) -> list[str]:  # IPython: one line instead of a traceback
        return [f"NotebookSkipped: {self.reason}"]


def period_text(start: str | None = None, end: str | None = None) -> str:
    """``"in 2026-10"`` or ``"from 2025-11 to 2026-10"`` (both months included), or ``""``.

    Examples
    --------
    >>> period_text("2026-10"), period_text("2025-11", "2026-10"), period_text("2026-10", "2026-10")
    ('in 2026-10', 'from 2025-11 to 2026-10', 'in 2026-10')
    """
    if start is None and end is None:
        return ""
    if start is None or end is None or start == end:
        return f"in {start or end}"
    return f"from {start} to {end}"


@dataclass(frozen=True)
class SectionNote:
    """The one line shown in place of a section: skipped (what to add) or empty (nothing in
    the period). A skipped section's note also carries :data:`SECTION_MIMETYPE` for the report."""

    notebook: str
    name: str
    title: str
    text: str
    skipped: bool = True

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        import html

        kind = "kpilib-skipped" if self.skipped else "kpilib-empty"
        head = f"<strong>{html.escape(self.title)}</strong> skipped: " if self.skipped else ""
        bundle: dict[str, Any] = {
            "text/plain": f"{self.title} skipped: {self.text}" if self.skipped else self.text,
            "text/html": f'<p class="kpilib-note {kind}">{head}{html.escape(self.text)}</p>',
        }
        if self.skipped:
            bundle[SECTION_MIMETYPE] = {"notebook": self.notebook, "section": self.name, "title": self.title,
                                        "reason": self.text}
        return bundle

    def __repr__(self) -> str:
        return self._repr_mimebundle_()["text/plain"]


def _display(obj: Any) -> None:
    from IPython.display import display  # IPython comes with ipykernel, a dependency

    display(obj)


def _is_empty(data: Any) -> bool:
    if data is None:
        return True
    if isinstance(data, pd.DataFrame | pd.Series):
        return data.empty
    if isinstance(data, bool | np.bool_):
        return not data
    if isinstance(data, numbers.Real):  # numpy's integers and floats too
        return not data > 0  # NaN and 0 are empty
    try:
        return len(data) == 0
    except TypeError:
        return False


@dataclass
class NotebookPlan:
    """The sections of one notebook on one source (made by :func:`sections`).

    Use :meth:`runs` before a section's cells and :meth:`has_data` before drawing a result.
    """

    notebook: str
    statuses: dict[str, SectionStatus]
    display: Callable[[Any], None] = field(default=_display, repr=False)
    _noted: set[str] = field(default_factory=set, repr=False)

    def __getitem__(self, name: str) -> SectionStatus:
        if name not in self.statuses:
            raise KeyError(f"{self.notebook} has no section {name!r}; its sections: {', '.join(self.statuses)}")
        return self.statuses[name]

    def __iter__(self) -> Iterator[SectionStatus]:
        return iter(self.statuses.values())

    @property
    def skipped(self) -> list[SectionStatus]:
        """The sections that do not run."""
        return [s for s in self.statuses.values() if not s.runs]

    def runs(self, name: str, *, after: str | None = None) -> bool:
        """Whether section ``name`` runs; if not, show its note (once) and record the skip.

        ``after`` names a section whose result this one uses: when that one did not run
        (its inputs are missing, or :meth:`attempt` could not fit its model), neither does
        this one, and its note says so.
        """
        status = self[name]
        if status.runs and status.limits and name not in self._noted:
            self._noted.add(name)
            text = "; ".join(status.limits)
            self.display(SectionNote(self.notebook, name, status.title, f"{status.title} {text}.", skipped=False))
        if after is not None and status.runs and not self[after].runs:
            status = SectionStatus(self.notebook, name, status.title, False,
                                   f"needs the result of “{self[after].title}”, which did not run")
            self.statuses[name] = status
        if not status.runs and name not in self._noted:
            self._noted.add(name)
            self.display(SectionNote(self.notebook, name, status.title, status.reason or "", skipped=True))
        return status.runs

    def skip(self, name: str, reason: str) -> None:
        """Skip section ``name`` for a reason found while running (a model that does not
        converge on these data): show the note and record it; :meth:`runs` is False from now on."""
        status = self[name]
        self.statuses[name] = SectionStatus(self.notebook, name, status.title, False, reason)
        self.runs(name)

    def attempt(self, name: str, func: Callable[..., Any], *args: Any, after: str | None = None,
                **kwargs: Any) -> Any:
        """``func(*args, **kwargs)`` for section ``name``, or None when the section does not run
        (see :meth:`runs`) or the model behind it cannot be fitted on these data: a
        ``ConvergenceError``, or a :class:`kpilib.DataError` raised while computing (too few
        customers, too short a history). The section is then skipped with the error as its
        note; other errors propagate."""
        if not self.runs(name, after=after):
            return None
        from lifetimes.utils import ConvergenceError

        from kpilib.data import DataError

        try:
            return func(*args, **kwargs)
        except (ConvergenceError, DataError) as exc:
            self.skip(name, str(exc))
            return None

    def essential(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``func(*args, **kwargs)``, the input every section of the notebook builds on; when
        the data cannot give it (a :class:`kpilib.DataError`, e.g. too short a history for
        the month), the whole notebook is skipped with that error as its reason
        (:class:`NotebookSkipped`) instead of failing."""
        from kpilib.data import DataError

        try:
            return func(*args, **kwargs)
        except DataError as exc:
            raise NotebookSkipped(self.notebook, str(exc)) from None

    def has_data(self, data: Any, what: str, start: str | None = None, end: str | None = None) -> bool:
        """Whether ``data`` has rows (a DataFrame), is a positive count or is true; if not,
        show one sentence instead: ``"No <what> in <month>."`` (or from ``start`` to ``end``)."""
        if not _is_empty(data):
            return True
        when = period_text(start, end)
        self.display(SectionNote(self.notebook, "", "", f"No {what}{' ' + when if when else ''}.", skipped=False))
        return False


def sections(ds: Any, notebook: str, **params: Any) -> NotebookPlan:
    """The plan of a report notebook's sections on ``ds``; call it once, after loading.

    Parameters
    ----------
    ds : kpilib.Dataset
        The loaded source.
    notebook : str
        The notebook's stem, e.g. ``"02_engagement"`` (see :data:`NOTEBOOKS`).
    **params
        The notebook parameters its sections' needs refer to (``steps=steps`` …); the
        others take the notebook's defaults.

    Returns
    -------
    NotebookPlan

    Raises
    ------
    NotebookSkipped
        When no section can run (e.g. the notebook's table is absent); the report shows
        the notebook as skipped, with the reason.
    """
    statuses = evaluate(ds, notebook, params)
    reason = skip_reason(statuses)
    if reason is not None:
        raise NotebookSkipped(notebook, reason)
    return NotebookPlan(notebook, statuses)


# --------------------------------------------------------------------------- check


def check_lines(ds: Any, notebooks: Mapping[str, Mapping[str, Any]], titles: Mapping[str, str] | None = None
                ) -> list[str]:
    """The lines ``python -m kpilib check`` prints: per notebook, whether it runs, and per
    section, ``runs`` or ``skipped`` with the reason.

    Parameters
    ----------
    ds : kpilib.Dataset
    notebooks : mapping
        Notebook stem → its parameters (defaults and overrides), in print order; stems
        without sections are left out.
    titles : mapping, optional
        Notebook stem → title.
    """
    facts = _Facts(ds)
    lines = []
    for stem, params in notebooks.items():
        if stem not in NOTEBOOKS:
            continue
        plan = evaluate(ds, stem, params, facts=facts)
        reason = skip_reason(plan)
        name = f"{stem} ({titles[stem]})" if titles and stem in titles else stem
        skipped = [s for s in plan.values() if not s.runs]
        if reason is not None:
            lines.append(f"{name}: skipped, {reason}")
            continue
        state = f"partial, {len(skipped)} of {len(plan)} sections skipped" if skipped else "runs"
        lines.append(f"{name}: {state}")
        for s in plan.values():
            why = s.reason or "; ".join(s.limits)
            lines.append(f"  {'runs' if s.runs else 'skipped':<8} {s.title}" + (f": {why}" if why else ""))
    return lines
