"""The data contract: its tables, their columns and rules, and the error that names a breach.

Seven tables (:data:`SCHEMAS`, in :data:`TABLE_NAMES` order), each a :class:`TableSchema` of
:class:`Column` s (kind, nullability, bounds, allowed values) and :class:`RowRule` s over
several columns. :class:`ContractOptions` is the configurable part (the rule against times in
the future). :class:`DataError` is what every breach raises: table, column, rows, examples,
fix. ``data/README.md`` is rendered from these definitions (``python -m kpilib docs``);
:mod:`kpilib.data` coerces and checks tables against them and re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from kpilib.periods import to_utc

__all__ = [
    "ACTIVITY_COLUMNS",
    "NULL_LIKE_IDS",
    "SCHEMAS",
    "TABLE_NAMES",
    "UTC",
    "Column",
    "ContractOptions",
    "DataError",
    "RowRule",
    "TableSchema",
]

UTC = dt.Timestamp(timezone="UTC")

# Ibis type each column kind is coerced to, and how a failed coercion is described.
_KIND_TYPE: dict[str, dt.DataType] = {
    "id": dt.string,
    "string": dt.string,
    "timestamp": UTC,
    "date": dt.date,
    "number": dt.float64,
    "integer": dt.int64,
}
_KIND_NOUN = {
    "timestamp": "a timestamp (ISO 8601, e.g. 2026-10-01 12:00:00, read as UTC)",
    "date": "a date (YYYY-MM-DD)",
    "number": "a number",
    "integer": "a whole number",
}


class DataError(ValueError):
    """An input that breaks the data contract.

    The message says which table and column, how many rows fail, up to five example
    values, and what to do. The same facts are kept as attributes for programs.

    Attributes
    ----------
    table, column : str or None
        Where the problem is.
    rows : int or None
        How many rows fail the rule (None when the problem is not row-wise).
    examples : list
        Up to five offending values.
    fix : str
        What to do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        rows: int | None = None,
        examples: list | None = None,
        fix: str = "",
    ) -> None:
        self.table = table
        self.column = column
        self.rows = rows
        self.examples = list(examples or [])
        self.fix = fix
        where = f"table '{table}'" if table else "data"
        if column:
            where += f", column '{column}'"
        text = f"{where}: {message}"
        if self.examples:
            text += f" (examples: {', '.join(repr(e) for e in self.examples)})"
        if fix:
            text += f". {fix}"
        super().__init__(text)


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    ``required=False`` marks an optional column: the contract checks it when present, and
    ``used_by`` names the sections that need it (they are skipped, with a note, without it).
    ``kind`` is one of ``id``, ``string``, ``timestamp``, ``date``, ``number``,
    ``integer``. Ids and non-nullable columns must not be null; ids must not be blank or
    a null-like word (:data:`NULL_LIKE_IDS`) and are unique where ``unique``; numbers are
    finite; integers are whole; times are not in the future (beyond the tolerance of
    :class:`ContractOptions`) unless ``may_be_future``; ``minimum`` and ``allowed``
    restrict values; values that cannot be coerced to the kind are errors.
    """

    name: str
    kind: str
    meaning: str
    nullable: bool = False
    minimum: float | None = None
    allowed: tuple[str, ...] | None = None
    required: bool = True
    unique: bool = False
    may_be_future: bool = False
    used_by: str = ""


@dataclass(frozen=True)
class RowRule:
    """A rule across columns of one row; ``bad(t)`` marks the offending rows."""

    column: str
    message: str
    bad: Callable[[ibis.Table], Any]
    fix: str


@dataclass(frozen=True)
class TableSchema:
    """A table of the contract: its columns, cross-column rules and a short example.

    ``rules`` refuse the rows they mark; ``notes`` keep them and only count them, for
    :attr:`Dataset.notes` (their ``fix`` says how kpilib reads such rows).
    """

    name: str
    meaning: str
    columns: tuple[Column, ...]
    rules: tuple[RowRule, ...] = ()
    notes: tuple[RowRule, ...] = ()
    example: str = ""
    used_by: str = ""

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _survey_out_of_scale(t: ibis.Table):
    scale_max = t.survey.cases(("nps", 10), ("csat", 5), ("ces", 7), else_=None)
    scale_min = t.survey.cases(("nps", 0), else_=1)
    return t.score.notnull() & ((t.score < scale_min) | (t.score > scale_max))


SCHEMAS: dict[str, TableSchema] = {
    s.name: s
    for s in (
        TableSchema(
            "customers",
            "One row per customer (a person who signed up).",
            (
                Column("customer_id", "id", "Unique customer identifier (one row per customer).", unique=True),
                Column("signup_at", "timestamp", "When the customer signed up (UTC)."),
                Column("channel", "string", "Acquisition channel (email, paid_search, social, organic, referral …)."),
                Column("plan", "string", "Plan chosen at sign-up (free, basic, pro …).", nullable=True, required=False,
                       used_by="breakdowns by plan in churn and engagement"),
                Column("segment", "string", "Customer segment (smb, mid_market, enterprise …).", nullable=True, required=False,
                       used_by="the lead score's profile points; breakdowns"),
                Column("country", "string", "Country of the customer.", nullable=True, required=False,
                       used_by="breakdowns"),
            ),
            example="customer_id,signup_at,channel,plan\nC0000001,2025-01-03 09:12:00,paid_search,pro",
            used_by="every notebook (breakdowns)",
        ),
        TableSchema(
            "events",
            "Behavioural events of people, visitors included (funnel steps and product usage).",
            (
                Column("customer_id", "id", "Person identifier; visitors who never sign up have one too."),
                Column("ts", "timestamp", "When it happened (UTC)."),
                Column("event", "string", "Event name: visit, signup, lead, mql, sql, purchase, page_view, feature_use, share …"),
                Column("channel", "string", "Marketing channel of the touch (on visits).", nullable=True, required=False,
                       used_by="funnel by channel, attribution, marketing-influenced revenue"),
                Column("campaign", "string", "Campaign of the touch.", nullable=True, required=False,
                       used_by="attribution by campaign"),
                Column("page", "string", "Page of a visit or page view (landing page on visits).", nullable=True, required=False,
                       used_by="landing-page conversion, page views"),
                Column("feature", "string", "Product feature used (on feature_use events).", nullable=True, required=False,
                       used_by="feature adoption, the health score's feature breadth"),
            ),
            example="customer_id,ts,event,channel,page\nC0000001,2025-01-03 09:01:00,visit,paid_search,/pricing",
            used_by="funnel, engagement",
        ),
        TableSchema(
            "orders",
            "One row per order.",
            (
                Column("customer_id", "id", "Who ordered."),
                Column("ts", "timestamp", "When (UTC)."),
                Column("amount", "number", "Order value, ≥ 0, in the reporting currency.", minimum=0),
            ),
            example="customer_id,ts,amount\nC0000001,2025-01-05 14:30:00,49.90",
            used_by="CLV, revenue, ROI",
        ),
        TableSchema(
            "subscriptions",
            "One row per subscription period; a plan change ends one row and starts another.",
            (
                Column("customer_id", "id", "Subscriber."),
                Column("start_at", "timestamp", "Start (UTC)."),
                Column("end_at", "timestamp", "End (UTC); empty while the subscription is active. May lie in the "
                       "future (a scheduled end).", nullable=True, may_be_future=True),
                Column("mrr", "number", "Monthly recurring revenue of the subscription, ≥ 0.", minimum=0),
                Column("plan", "string", "Plan of the subscription period.", nullable=True, required=False,
                       used_by="churn, GRR/NRR and survival by plan; the health score's plan component"),
            ),
            rules=(
                RowRule(
                    "end_at",
                    "end before they start",
                    lambda t: t.end_at.notnull() & (t.end_at < t.start_at),
                    "Check for swapped start_at/end_at columns or a time-zone shift",
                ),
            ),
            example="customer_id,start_at,end_at,mrr,plan\nC0000001,2025-01-05 14:30:00,,49.0,pro",
            used_by="churn, GRR/NRR",
        ),
        TableSchema(
            "email",
            "One row per email sent to one customer in one campaign.",
            (
                Column("campaign", "string", "Campaign name."),
                Column("customer_id", "id", "Recipient."),
                Column("sent_at", "timestamp", "When it was sent (UTC)."),
                Column("bounce", "string", "none, soft or hard.", allowed=("none", "soft", "hard")),
                Column("opened_at", "timestamp", "First open (UTC), empty if never opened.", nullable=True),
                Column("clicked_at", "timestamp", "First click (UTC), empty if never clicked. A click on a mail with no "
                       "opened_at counts as an open (the tracking pixel was blocked).", nullable=True),
                Column("unsubscribed_at", "timestamp", "Unsubscribe (UTC), empty if none.", nullable=True),
                Column("complained_at", "timestamp", "Spam complaint (UTC), empty if none.", nullable=True),
            ),
            rules=(
                RowRule(
                    "opened_at",
                    "are bounced but marked as opened",
                    lambda t: (t.bounce != "none") & t.opened_at.notnull(),
                    "A bounced mail cannot be opened: check the bounce column",
                ),
                RowRule(
                    "clicked_at",
                    "are bounced but marked as clicked",
                    lambda t: (t.bounce != "none") & t.clicked_at.notnull(),
                    "A bounced mail cannot be clicked: check the bounce column",
                ),
                *(
                    RowRule(
                        column,
                        "are before the mail was sent (sent_at)",
                        lambda t, column=column: t[column].notnull() & (t[column] < t.sent_at),
                        "Check the time zones of the two columns (all times must be UTC) or swapped columns",
                    )
                    for column in ("opened_at", "clicked_at", "unsubscribed_at", "complained_at")
                ),
            ),
            notes=(
                RowRule(
                    "clicked_at",
                    "are clicked with no recorded open; they count as opened",
                    lambda t: t.clicked_at.notnull() & t.opened_at.isnull(),
                    "A click proves an open the tracking pixel missed (images blocked)",
                ),
            ),
            example=(
                "campaign,customer_id,sent_at,bounce,opened_at,clicked_at,unsubscribed_at,complained_at\n"
                "2026-10 newsletter,C0000001,2026-10-02 08:00:00,none,2026-10-02 09:15:00,,,"
            ),
            used_by="engagement",
        ),
        TableSchema(
            "surveys",
            "One row per survey answer.",
            (
                Column("customer_id", "id", "Respondent."),
                Column("ts", "timestamp", "When answered (UTC)."),
                Column("survey", "string", "nps (0–10), csat (1–5) or ces (1–7).", allowed=("nps", "csat", "ces")),
                Column("score", "integer", "The answer on the survey's scale, a whole number."),
            ),
            rules=(
                RowRule(
                    "score",
                    "are outside their survey's scale (nps 0–10, csat 1–5, ces 1–7)",
                    _survey_out_of_scale,
                    "Rescale the answers or fix the survey column",
                ),
            ),
            example="customer_id,ts,survey,score\nC0000001,2026-10-12 10:00:00,nps,9",
            used_by="engagement",
        ),
        TableSchema(
            "spend",
            "Marketing cost per day and channel (optionally per campaign).",
            (
                Column("date", "date", "Day of the spend."),
                Column("channel", "string", "Channel, as in customers.channel."),
                Column("cost", "number", "Cost, ≥ 0.", minimum=0),
                Column("campaign", "string", "Campaign.", nullable=True, required=False,
                       used_by="spend and CAC by campaign"),
            ),
            example="date,channel,cost,campaign\n2026-10-01,paid_search,412.50,brand",
            used_by="CAC, CPA, cost per MQL, ROI",
        ),
    )
}

TABLE_NAMES: tuple[str, ...] = tuple(SCHEMAS)


#: Each table's own time column: when its rows happened (used for the data's span).
ACTIVITY_COLUMNS: dict[str, str] = {
    "customers": "signup_at", "events": "ts", "orders": "ts", "subscriptions": "start_at",
    "email": "sent_at", "surveys": "ts", "spend": "date",
}


#: Id values read as "no id": a text id equal to one of these (any case, spaces
#: around ignored) is what a DataFrame's missing value becomes when written to text.
NULL_LIKE_IDS: tuple[str, ...] = ("nan", "none", "null", "<na>", "nat", "n/a", "#n/a", "undefined")

#: Floats are exact integers up to 2**53; a float id beyond that has lost digits.
_EXACT_FLOAT = 2.0**53


@dataclass(frozen=True)
class ContractOptions:
    """The configurable part of the contract's rules.

    Parameters
    ----------
    as_of : timestamp, optional
        When the data were extracted; no event, order, send or answer can be later.
        Default: now (UTC).
    future_tolerance : str or pandas.Timedelta, default "1D"
        How far past ``as_of`` a time may lie before it counts as "in the future" (clock
        skew, time-zone slips).
    allow_future : bool, default False
        Keep rows timed in the future and only report them in :attr:`Dataset.notes`
        (``check`` prints them, the report shows them) instead of refusing the table.

    In a source folder, a ``kpilib.toml`` file may set them::

        [contract]
        future_tolerance = "2D"
        allow_future = true
    """

    as_of: Any = None
    future_tolerance: Any = "1D"
    allow_future: bool = False

    def future_limit(self) -> pd.Timestamp:
        """The latest time a row may carry: ``as_of + future_tolerance`` (UTC)."""
        as_of = pd.Timestamp.now(tz="UTC") if self.as_of is None else to_utc(self.as_of, "as_of")
        tolerance = pd.Timedelta(self.future_tolerance)
        if pd.isna(tolerance) or tolerance < pd.Timedelta(0):
            raise ValueError(f"future_tolerance must be ≥ 0, got {self.future_tolerance!r}")
        return as_of + tolerance
