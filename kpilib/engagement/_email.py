"""Email performance: bounces, opens, clicks, unsubscribes and complaints per campaign.

Computed on the ``email`` table, one row per mail sent, in one engine query.
*Delivered* = sent − bounced (soft and hard). A mail is *opened* when it has an
``opened_at`` **or** a ``clicked_at`` (a click proves an open the tracking pixel missed),
and only delivered mails can be opened, clicked, unsubscribed from or complained about.
Counts are unique per mail: ``opened_at`` is the first open, so a mail opened five times
counts once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ibis
import pandas as pd

from kpilib.data import as_table, column_list, require_columns
from kpilib.metrics import Metric, computes, register
from kpilib.periods import TimeLike, time_filter, to_utc
from kpilib.stats import SMALL_DENOMINATOR, rate_frame

#: Email rates: name → (numerator column, denominator column).
EMAIL_RATES: dict[str, tuple[str, str]] = {
    "bounce_rate": ("bounces", "sent"),
    "hard_bounce_rate": ("hard_bounces", "sent"),
    "open_rate": ("unique_opens", "delivered"),
    "click_rate": ("unique_clicks", "delivered"),
    "click_to_open_rate": ("unique_clicks", "unique_opens"),
    "unsubscribe_rate": ("unsubscribes", "delivered"),
    "complaint_rate": ("complaints", "delivered"),
}

_EXAMPLE_EMAIL = (
    ">>> import pandas as pd\n"
    ">>> from kpilib.engagement import email_metrics\n"
    ">>> email = pd.DataFrame({\"campaign\": [\"oct\"] * 5, \"customer_id\": list(\"abcde\"),\n"
    "...     \"sent_at\": [\"2026-10-06 15:00\"] * 5, \"bounce\": [\"none\"] * 4 + [\"hard\"],\n"
    "...     \"opened_at\": [\"2026-10-06 16:00\", \"2026-10-06 17:00\", None, None, None],\n"
    "...     \"clicked_at\": [\"2026-10-06 16:01\", None, None, None, None],\n"
    "...     \"unsubscribed_at\": [None, None, \"2026-10-07 09:00\", None, None],\n"
    "...     \"complained_at\": [None] * 5})\n"
    ">>> m = email_metrics(email)\n"
)

_EMAIL_PITFALL = (
    "Tools disagree on the denominator (sent or delivered) and on what an open is; kpilib "
    "uses delivered and counts a click as an open. "
)

register(
    Metric(
        name="bounce_rate",
        title="Email bounce rate",
        stage="engagement",
        formula=r"\text{bounce rate} = \frac{\text{hard} + \text{soft bounces}}{\text{sent}}",
        definition=(
            "Share of the mails sent that were not delivered (soft bounces: full mailbox, "
            "server down; hard bounces: the address does not exist). Delivered = sent − "
            "bounced."
        ),
        pitfalls=(
            "Soft bounces are often retried and later delivered by the sending tool, so "
            "its bounce rate may count only hard bounces. A rising hard-bounce rate means "
            "the list is ageing or was bought; above about 2 % mailbox providers start "
            "filtering the sender."
        ),
        unit="rate",
        higher_is_better=False,
        example=_EXAMPLE_EMAIL
        + ">>> m[[\"sent\", \"bounces\", \"delivered\", \"bounce_rate\"]]\n"
        "   sent  bounces  delivered  bounce_rate\n"
        "0     5        1          4          0.2",
        reference="Mailchimp, 'About bounces'; RFC 3463 (enhanced mail status codes).",
    )
)

register(
    Metric(
        name="hard_bounce_rate",
        title="Email hard-bounce rate",
        stage="engagement",
        formula=r"\text{hard-bounce rate} = \frac{\text{hard bounces}}{\text{sent}}",
        definition="Share of the mails sent that bounced permanently (invalid address).",
        pitfalls=(
            "Hard-bounced addresses must be suppressed from later sends; if they are not, "
            "the rate repeats the same addresses every campaign and hurts deliverability."
        ),
        unit="rate",
        higher_is_better=False,
        example=_EXAMPLE_EMAIL
        + ">>> m[[\"hard_bounces\", \"sent\", \"hard_bounce_rate\"]]\n"
        "   hard_bounces  sent  hard_bounce_rate\n"
        "0             1     5               0.2",
    )
)

register(
    Metric(
        name="open_rate",
        title="Email open rate",
        stage="engagement",
        formula=r"\text{open rate} = \frac{\text{unique opens}}{\text{delivered}}, \quad "
        r"\text{delivered} = \text{sent} - \text{bounced}",
        definition=(
            "Share of the delivered mails that were opened at least once. An open is an "
            "opened_at time or, failing that, a click (a click proves an open the tracking "
            "pixel missed); each mail counts once however often it is opened."
        ),
        pitfalls=(
            _EMAIL_PITFALL
            + "Opens are measured by a tracking pixel: clients that block images miss real "
            "opens, and Apple Mail Privacy Protection (since 2021) pre-loads every image, "
            "recording an 'open' for mails nobody read. Open rates jumped industry-wide and "
            "no longer compare across time or audiences; use the click rate to judge real "
            "engagement and the open rate only as a rough deliverability check."
        ),
        unit="rate",
        higher_is_better=True,
        example=_EXAMPLE_EMAIL
        + ">>> m[[\"unique_opens\", \"delivered\", \"open_rate\"]]\n"
        "   unique_opens  delivered  open_rate\n"
        "0             2          4        0.5",
        reference="Apple, 'Mail Privacy Protection' (WWDC 2021); Mailchimp, 'About open and click rates'.",
    )
)

register(
    Metric(
        name="click_rate",
        title="Email click rate",
        stage="engagement",
        formula=r"\text{click rate} = \frac{\text{unique clickers}}{\text{delivered}}",
        definition=(
            "Share of the delivered mails whose recipient clicked at least one link. The "
            "best email signal of real engagement: a click is an action, not a pixel load."
        ),
        pitfalls=(
            _EMAIL_PITFALL
            + "Some tools call this the click-through rate (CTR) and others use that name "
            "for clicks per open. Security scanners of corporate mail servers follow links "
            "and create bot clicks within seconds of delivery."
        ),
        unit="rate",
        higher_is_better=True,
        example=_EXAMPLE_EMAIL
        + ">>> m[[\"unique_clicks\", \"delivered\", \"click_rate\"]]\n"
        "   unique_clicks  delivered  click_rate\n"
        "0              1          4        0.25",
    )
)

register(
    Metric(
        name="click_to_open_rate",
        title="Email click-to-open rate (CTOR)",
        stage="engagement",
        formula=r"\text{CTOR} = \frac{\text{unique clickers}}{\text{unique openers}}",
        definition=(
            "Of the mails that were opened, the share that were clicked: how convincing the "
            "content was to those who saw it. Some tools call this 'CTR' (click-through "
            "rate); kpilib keeps CTR out of its names because others mean clicks / delivered."
        ),
        pitfalls=(
            "Its denominator is the open count, so everything that distorts opens (image "
            "blocking, Apple Mail Privacy Protection) distorts the CTOR too: machine opens "
            "lower it. Compare it only within one audience and period."
        ),
        unit="rate",
        higher_is_better=True,
        example=_EXAMPLE_EMAIL
        + ">>> m[[\"unique_clicks\", \"unique_opens\", \"click_to_open_rate\"]]\n"
        "   unique_clicks  unique_opens  click_to_open_rate\n"
        "0              1             2                 0.5",
    )
)

register(
    Metric(
        name="unsubscribe_rate",
        title="Email unsubscribe rate",
        stage="engagement",
        formula=r"\text{unsubscribe rate} = \frac{\text{unsubscribes}}{\text{delivered}}",
        definition="Share of the delivered mails after which the recipient unsubscribed.",
        pitfalls=(
            "Low is not automatically good: people who stop reading rarely unsubscribe, they "
            "ignore or mark as spam. Watch it together with the complaint rate."
        ),
        unit="rate",
        higher_is_better=False,
        example=_EXAMPLE_EMAIL
        + ">>> m[[\"unsubscribes\", \"delivered\", \"unsubscribe_rate\"]]\n"
        "   unsubscribes  delivered  unsubscribe_rate\n"
        "0             1          4              0.25",
    )
)

register(
    Metric(
        name="complaint_rate",
        title="Email spam-complaint rate",
        stage="engagement",
        formula=r"\text{complaint rate} = \frac{\text{spam complaints}}{\text{delivered}}",
        definition="Share of the delivered mails that the recipient reported as spam.",
        pitfalls=(
            "Mailbox providers act on very small values (Google's sender guidelines ask to "
            "stay below 0.1 % and never reach 0.3 %), so intervals matter: a campaign of a "
            "few hundred mails cannot show that it is below the limit."
        ),
        unit="rate",
        higher_is_better=False,
        example=_EXAMPLE_EMAIL
        + ">>> m[[\"complaints\", \"delivered\", \"complaint_rate\"]]\n"
        "   complaints  delivered  complaint_rate\n"
        "0           0          4             0.0",
        reference="Google, 'Email sender guidelines' (2024).",
    )
)


def _wide_rates(frame: pd.DataFrame, rates: Mapping[str, tuple[str, str]]) -> pd.DataFrame:
    """Add ``<rate>``, ``<rate>_ci_low``, ``<rate>_ci_high`` columns from count columns."""
    out = frame.copy()
    for name, (num, den) in rates.items():
        r = rate_frame(out[num].to_numpy(), out[den].to_numpy())
        out[name] = r["rate"].to_numpy()
        out[f"{name}_ci_low"] = r["ci_low"].to_numpy()
        out[f"{name}_ci_high"] = r["ci_high"].to_numpy()
    return out



@computes("bounce_rate", "hard_bounce_rate", "open_rate", "click_rate", "click_to_open_rate",
          "unsubscribe_rate", "complaint_rate")
def email_metrics(
    email: ibis.Table | pd.DataFrame,
    by: str | Sequence[str] | None = "campaign",
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    r"""Email performance per group: counts, rates and their Wilson intervals.

    Parameters
    ----------
    email : ibis.Table or pandas.DataFrame
        The email table (one row per mail sent).
    by : str, list of str or None, default "campaign"
        Grouping columns of the email table; ``"month"`` (the UTC month of ``sent_at``,
        ``"YYYY-MM"``) may be used even without such a column; ``None`` gives one overall
        row.
    start, end : str or Timestamp, optional
        Keep mails with ``start <= sent_at < end`` (UTC).

    Returns
    -------
    pandas.DataFrame
        One row per group, ordered by first send: the ``by`` columns, ``first_sent_at``,
        counts ``sent``, ``bounces``, ``hard_bounces``, ``soft_bounces``, ``delivered``,
        ``unique_opens``, ``unique_clicks``, ``unsubscribes``, ``complaints``; for each rate
        of :data:`EMAIL_RATES` the value and ``<rate>_ci_low``, ``<rate>_ci_high`` (95 %
        Wilson); ``small_sample`` when fewer than 30 mails were delivered. A rate whose
        denominator is 0 (every mail bounced) is NaN, not 0.

    Notes
    -----
    Bounce rate and hard-bounce rate are per mail *sent*; unsubscribe and complaint rates
    per mail *delivered*. A mail counts as opened when it has an ``opened_at`` or a
    ``clicked_at``; only delivered mails count as opened, clicked, unsubscribed or
    complained about. Some tools call the CTOR "CTR"; others use CTR for the click rate.

    Examples
    --------
    >>> import pandas as pd
    >>> email = pd.DataFrame({"campaign": ["a", "a", "b"], "customer_id": ["x", "y", "x"],
    ...     "sent_at": ["2026-10-01", "2026-10-01", "2026-10-02"], "bounce": ["none", "none", "hard"],
    ...     "opened_at": ["2026-10-01 10:00", None, None], "clicked_at": [None, None, None],
    ...     "unsubscribed_at": [None] * 3, "complained_at": [None] * 3})
    >>> email_metrics(email)[["campaign", "sent", "delivered", "open_rate", "click_rate"]]
      campaign  sent  delivered  open_rate  click_rate
    0        a     2          2        0.5         0.0
    1        b     1          0        NaN         NaN
    """
    email = as_table(email, "email")
    keys = column_list(by)
    email = time_filter(email, "sent_at", to_utc(start), to_utc(end))
    if "month" in keys and "month" not in email.columns:
        email = email.mutate(month=email.sent_at.strftime("%Y-%m"))
    require_columns(email, keys, "email", "email_metrics(by=...)")

    delivered = email.bounce == "none"
    opened = delivered & (email.opened_at.notnull() | email.clicked_at.notnull())

    def count(condition):
        return condition.sum()

    measures = dict(
        first_sent_at=email.sent_at.min(),
        sent=email.count(),
        hard_bounces=count(email.bounce == "hard"),
        soft_bounces=count(email.bounce == "soft"),
        unique_opens=count(opened),
        unique_clicks=count(delivered & email.clicked_at.notnull()),
        unsubscribes=count(delivered & email.unsubscribed_at.notnull()),
        complaints=count(delivered & email.complained_at.notnull()),
    )
    result = (email.group_by(keys).agg(**measures) if keys else email.aggregate(**measures)).execute()
    counts = ["sent", "hard_bounces", "soft_bounces", "unique_opens", "unique_clicks",
              "unsubscribes", "complaints"]
    result[counts] = result[counts].fillna(0).astype("int64")
    if not keys:
        result = result[result.sent > 0]
    result["bounces"] = result.hard_bounces + result.soft_bounces
    result["delivered"] = result.sent - result.bounces
    result = result.sort_values(["first_sent_at", *keys]).reset_index(drop=True)
    result = result[[*keys, "first_sent_at", "sent", "bounces", "hard_bounces", "soft_bounces",
                     "delivered", "unique_opens", "unique_clicks", "unsubscribes", "complaints"]]
    result = _wide_rates(result, EMAIL_RATES)
    result["small_sample"] = result.delivered < SMALL_DENOMINATOR
    return result
