"""Deterministic sample data with its ground truth, for three kinds of company.

A plausible company is simulated and the tables of the data contract it would have are
written together with ``truth.json``, which records every parameter the simulation draws
from, so that tests can check that the kit's analyses recover it. The profiles
(:data:`PROFILES`) differ in which tables and optional columns exist, which is how real
sources differ:

================  ================================================  =====================
profile           tables (optional columns)                          default size
================  ================================================  =====================
``saas``          customers (plan, segment, country), events         5000 customers
                  (visit → signup → lead → mql → sql → purchase,
                  page_view, feature_use, share; channel, campaign,
                  page, feature), orders, subscriptions (plan),
                  email, surveys (nps, csat, ces), spend (campaign)
``ecommerce``     customers (country), events (visit, page_view,     5000 buyers
                  add_to_cart, purchase; channel, campaign, page
                  over 627 long-tailed pages), orders (~3 % of
                  buyers repeat, BG/NBD), email (newsletters),
                  surveys (csat reviews only), spend (campaign).
                  No subscriptions, no feature usage.
``b2b-leads``     customers = leads (segment, country), events       500 leads
                  (lead → mql → sql → won, deal_value on won; weeks
                  to months apart), spend (trade shows as campaign).
                  No orders, subscriptions, email or surveys.
================  ================================================  =====================

``ecommerce`` and ``b2b-leads`` also write a ``kpilib.toml`` declaring their funnel
(``[funnel] steps`` and ``window``, see :class:`kpilib.data.FunnelSettings`), so the funnel
notebook and ``python -m kpilib check`` follow their journeys without parameters; ``saas``
uses the built-in funnel and writes none.

``truth["profile"]`` names the profile and ``truth["tables"]`` lists the tables written;
a table that is not listed is not written at all (no empty file), and
``truth["tables_left_out"]`` says why. In every profile ``truth["funnel"]["steps"]``
are the funnel's steps after its entry event (``truth["funnel"]["entry"]``, or ``visit``
for ``saas``), so a funnel notebook's ``steps`` parameter for the profile is
``[truth["funnel"].get("entry", "visit"), *truth["funnel"]["steps"]]``; repeat buying,
where a profile has it, is under ``truth["clv"]``. Each profile's module docstring
(``kpilib.synth._saas``, ``_ecommerce``, ``_b2b``) describes how every piece is drawn.

Generation is chunked by person. Every chunk of :data:`CHUNK_PERSONS` persons has its
own random generator, seeded from ``(seed, chunk index)``, so :func:`write_sample` can
stream a million customers to Parquet in bounded memory and :func:`generate_sample` is
the concatenation of the very same chunks. The output depends on ``CHUNK_PERSONS``;
with it fixed, the same arguments give byte-identical files.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers
   the easy way: an alternative to the Pareto/NBD model." Marketing Science 24(2).
.. [2] Fader, P. S. & Hardie, B. G. S. (2007). "How to project customer retention."
   Journal of Interactive Marketing 21(1).

Examples
--------
>>> tables, truth = generate_sample(customers=200, seed=1)
>>> sorted(tables)
['customers', 'email', 'events', 'orders', 'spend', 'subscriptions', 'surveys']
>>> truth["clv"]["bgnbd"]["time_unit"]
'days'
>>> tables, truth = generate_sample(customers=200, seed=1, profile="ecommerce")
>>> truth["tables"]
['customers', 'events', 'orders', 'email', 'surveys', 'spend']
>>> sorted(tables["events"]["event"].unique())
['add_to_cart', 'page_view', 'purchase', 'visit']
>>> tables, truth = generate_sample(seed=1, profile="b2b-leads")
>>> len(tables["customers"]), [truth["funnel"]["entry"], *truth["funnel"]["steps"]]
(500, ['lead', 'mql', 'sql', 'won'])
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kpilib.data import SETTINGS_FILE
from kpilib.synth import _b2b, _ecommerce, _saas

__all__ = ["CHUNK_PERSONS", "PROFILES", "SETTINGS_MARKER", "TABLES", "generate_sample", "profile_settings",
           "write_sample"]

#: Persons (visitors) simulated per chunk; the output depends on it.
CHUNK_PERSONS = 100_000

#: The seven tables of the data contract, in the order they are written.
TABLES = ("customers", "events", "orders", "subscriptions", "email", "surveys", "spend")

_MODULES = {"saas": _saas, "ecommerce": _ecommerce, "b2b-leads": _b2b}

#: The sample companies :func:`generate_sample` and :func:`write_sample` can simulate.
PROFILES = tuple(_MODULES)  # ("saas", "ecommerce", "b2b-leads")

#: The first line of a ``kpilib.toml`` written by :func:`write_sample`; a later sample of a
#: profile without settings removes only a file that starts with it.
SETTINGS_MARKER = "# Written by python -m kpilib sample-data"


def profile_settings(profile: str) -> str | None:
    """The ``kpilib.toml`` a profile writes beside its tables, or None (``saas``).

    Examples
    --------
    >>> print(profile_settings("b2b-leads"))
    # Written by python -m kpilib sample-data (profile b2b-leads): the funnel of this company.
    [funnel]
    steps = ["lead", "mql", "sql", "won"]
    window = "180D"
    <BLANKLINE>
    >>> profile_settings("saas") is None
    True
    """
    text = getattr(_module(profile), "SETTINGS", None)
    return None if text is None else f"{SETTINGS_MARKER} (profile {profile}): the funnel of this company.\n{text}"


def _module(profile: str):
    try:
        return _MODULES[profile]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}"
        ) from None


def _simulate(
    profile: str, customers: int | None, seed: int, start: str, end: str
) -> Iterator[tuple[str, pa.Table] | dict]:
    """Yield ``(table name, chunk)`` pairs of the profile, then finally the truth dict."""
    module = _module(profile)
    if customers is None:
        customers = module.DEFAULT_CUSTOMERS
    return module.simulate(customers, seed, start, end, CHUNK_PERSONS)


def generate_sample(
    customers: int | None = None,
    seed: int = 7,
    start: str = "2025-01-01",
    end: str = "2026-10-31",
    *,
    profile: str = "saas",
) -> tuple[dict[str, pd.DataFrame], dict]:
    """Simulate the sample company in memory.

    Parameters
    ----------
    customers : int, optional
        Target number of customers (rows of ``customers``): for ``saas`` and
        ``ecommerce`` visitors are scaled so that the expected number of signups (first
        purchases) is about this — a little less, as journeys near the end are cut; for
        ``b2b-leads`` it is the exact number of leads. Default: the profile's, 5000 for
        ``saas`` and ``ecommerce``, 500 for ``b2b-leads``.
    seed : int, default 7
        Seed of every random stream.
    start, end : str, default "2025-01-01", "2026-10-31"
        First and last day of data, both inclusive (data ends at ``end`` 23:59:59 UTC).
    profile : str, default "saas"
        Which company to simulate, one of :data:`PROFILES`: ``"saas"``,
        ``"ecommerce"`` or ``"b2b-leads"`` (see the module docstring).

    Returns
    -------
    tables : dict of str to pandas.DataFrame
        The profile's tables of the data contract, keyed by name (``truth["tables"]``,
        in that order); tables the profile does not have are absent, not empty.
    truth : dict
        Every parameter the simulation drew from, plus realized counts; the same dict
        :func:`write_sample` writes to ``truth.json``.

    See Also
    --------
    write_sample : the same data streamed to Parquet, for large sizes.

    Examples
    --------
    >>> tables, truth = generate_sample(customers=100, seed=3)
    >>> list(tables["orders"].columns)
    ['order_id', 'customer_id', 'ts', 'amount']
    >>> len(tables["customers"]) == truth["realized"]["customers"]
    True
    >>> tables, truth = generate_sample(customers=100, seed=3, profile="ecommerce")
    >>> "subscriptions" in tables, list(tables["customers"].columns)
    (False, ['customer_id', 'signup_at', 'channel', 'country'])
    """
    schemas = _module(profile).SCHEMAS
    parts: dict[str, list[pa.Table]] = {name: [] for name in schemas}
    truth: dict = {}
    for item in _simulate(profile, customers, seed, start, end):
        if isinstance(item, dict):
            truth = item
        else:
            parts[item[0]].append(item[1])
    tables = {
        name: pa.concat_tables(chunks).to_pandas()
        if chunks
        else schemas[name].empty_table().to_pandas()
        for name, chunks in parts.items()
    }
    return tables, truth


def write_sample(
    out: str | Path,
    *,
    profile: str = "saas",
    customers: int | None = None,
    seed: int = 7,
    start: str = "2025-01-01",
    end: str = "2026-10-31",
) -> dict:
    """Simulate the sample company and stream it to ``<out>/<table>.parquet``.

    Generation goes chunk by chunk, so a million customers take minutes and a few GB of
    memory. The files are byte-identical across runs with the same arguments.

    Parameters
    ----------
    out : str or pathlib.Path
        Folder to write to (created if missing). Existing files of the same names are
        replaced, and a ``<table>.parquet`` of a contract table the profile does not
        write (say ``subscriptions.parquet`` left by a ``saas`` sample) is removed, so the
        folder never mixes two companies; so is a ``kpilib.toml`` an earlier sample wrote
        (:data:`SETTINGS_MARKER`) when this profile writes none.
    profile, customers, seed, start, end
        As in :func:`generate_sample`; keyword-only.

    Returns
    -------
    dict
        The truth, also written to ``<out>/truth.json``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     truth = write_sample(folder, customers=100, seed=3)
    ...     saas = sorted(p.name for p in Path(folder).iterdir())
    ...     truth = write_sample(folder, profile="b2b-leads", customers=50, seed=3)
    ...     leads = sorted(p.name for p in Path(folder).iterdir())
    >>> saas[:3]
    ['customers.parquet', 'email.parquet', 'events.parquet']
    >>> leads  # written over the saas sample: its other tables are gone; the funnel is declared
    ['customers.parquet', 'events.parquet', 'kpilib.toml', 'spend.parquet', 'truth.json']
    """
    schemas = _module(profile).SCHEMAS
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    # Write into a hidden sibling folder first and move the finished files in, so a
    # failure part-way never leaves a half-written sample behind.
    staging = Path(tempfile.mkdtemp(prefix=".sample-", dir=folder))
    try:
        # Times in microseconds, the unit every engine reads (Spark refuses nanoseconds); a
        # time that would lose digits raises instead of being truncated.
        writers = {
            name: pq.ParquetWriter(staging / f"{name}.parquet", schema, compression="zstd",
                                   coerce_timestamps="us")
            for name, schema in schemas.items()
        }
        truth: dict = {}
        try:
            for item in _simulate(profile, customers, seed, start, end):
                if isinstance(item, dict):
                    truth = item
                elif item[1].num_rows:
                    writers[item[0]].write_table(item[1])
        finally:
            for writer in writers.values():
                writer.close()
        (staging / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
        settings = profile_settings(profile)
        if settings is not None:
            (staging / SETTINGS_FILE).write_text(settings, encoding="utf-8")
        for path in sorted(staging.iterdir()):
            os.replace(path, folder / path.name)
        for name in TABLES:
            if name not in schemas:
                (folder / f"{name}.parquet").unlink(missing_ok=True)
        old_settings = folder / SETTINGS_FILE
        if settings is None and old_settings.is_file() and old_settings.read_text(
                encoding="utf-8", errors="replace").startswith(SETTINGS_MARKER):
            old_settings.unlink()  # a previous profile's funnel, not this company's
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return truth
