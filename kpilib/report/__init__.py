"""The monthly report: headline metrics, papermill runs, HTML pages, history and PDF.

Two halves meet here.

* **Inside a notebook** one call, :func:`record_headline`, turns a tidy frame of the
  month's headline KPIs into a :class:`Headline`. Displayed, it is a small table for the
  reader, and it also carries the numbers as JSON under the mimetype
  :data:`HEADLINE_MIMETYPE`. Nothing is written to disk from the kernel, so the same call
  works unchanged in JupyterLab. :func:`format_table` turns any DataFrame into a formatted
  :class:`pandas.io.formats.style.Styler` (percentages by the registry's units, thousands
  separators, escaped text); in report runs every displayed DataFrame goes through it.
* **Outside**, :func:`run_report` executes every notebook with papermill for one month,
  renders each to HTML without code, reads the headline back from the executed notebook's
  outputs, writes ``<notebook>.json``, ``index.json`` and an ``index.html`` of KPI cards
  comparing the month with the one before, and swaps the finished month folder in
  atomically. :func:`run_history` does that for a range of months, and
  :func:`write_history_index` keeps ``<out>/index.html`` (every month, a trend line per
  headline KPI) up to date. :func:`print_pdf` prints a month to ``report.pdf`` with
  headless Chromium.

The pages work offline (a local MathJax, no CDN) and everything data-derived is
HTML-escaped: the pages are jinja2 templates with autoescaping, and every cell of a
notebook page goes through an allow-list sanitiser after rendering. A notebook that cannot
run on the source is *skipped*, not failed (see :mod:`kpilib.sections`); only failures make
the command exit 1. A run is checked before any notebook runs (arguments, data, months),
and an interrupted or terminated run leaves the previous report in place.

Where things are:

- ``_headline`` — what notebooks call: :func:`record_headline`, :func:`compare_months`,
  :class:`Headline`, the table display hook :func:`use_report_tables`
- ``_format`` — :func:`format_value`, :func:`format_change`, :func:`format_table` (units
  from :attr:`kpilib.metrics.Metric.unit`)
- ``_months`` — month titles and runs of months for pages and messages
- ``_checks`` — a run checked before it runs: :func:`parse_parameter`,
  :func:`select_notebooks`, :func:`default_notebooks_dir`, :func:`notebook_title`,
  :class:`ReportArgumentError`, the data check
- ``_run`` — :func:`run_report`, :func:`run_history`: papermill, the kernel, signals,
  progress
- ``_folders`` — staging folders, atomic swaps and writes, leftovers of killed runs
- ``_results`` — :class:`NotebookStatus`, :class:`ReportResult`, :func:`load_report`
- ``_html`` — nbconvert export, the HTML sanitiser, MathJax
- ``_pages`` — notebook pages, :func:`render_index`, :func:`render_history_index`,
  :func:`write_history_index`
- ``_pdf`` — :func:`print_pdf`, :func:`find_chromium`
- ``_templates`` and ``templates/`` — the page templates (``*.html.j2``) and CSS as files
"""

from kpilib.periods import month_range, next_month, previous_month, validate_month
from kpilib.report._checks import (
    ReportArgumentError,
    default_notebooks_dir,
    notebook_title,
    parse_parameter,
    select_notebooks,
)
from kpilib.report._format import NO_DATA, format_change, format_table, format_value
from kpilib.report._headline import (
    HEADLINE_MIMETYPE,
    KPI_COLUMNS,
    NOTE_COLUMN,
    Headline,
    compare_months,
    record_headline,
    use_report_tables,
)
from kpilib.report._html import MATHJAX_DIR
from kpilib.report._pages import render_history_index, render_index, write_history_index
from kpilib.report._pdf import CHROMIUM_FLAGS, find_chromium, print_pdf
from kpilib.report._results import (
    MANIFEST_NAME,
    PDF_NAME,
    NotebookStatus,
    ReportResult,
    load_report,
)
from kpilib.report._run import KERNEL_NAME, run_history, run_report
from kpilib.sections import SECTION_MIMETYPE, NotebookPlan, NotebookSkipped, sections

__all__ = [
    "CHROMIUM_FLAGS",
    "HEADLINE_MIMETYPE",
    "KERNEL_NAME",
    "KPI_COLUMNS",
    "MANIFEST_NAME",
    "MATHJAX_DIR",
    "NOTE_COLUMN",
    "NO_DATA",
    "PDF_NAME",
    "Headline",
    "NotebookPlan",
    "NotebookSkipped",
    "NotebookStatus",
    "ReportArgumentError",
    "ReportResult",
    "SECTION_MIMETYPE",
    "compare_months",
    "default_notebooks_dir",
    "find_chromium",
    "format_change",
    "format_table",
    "format_value",
    "load_report",
    "month_range",
    "next_month",
    "notebook_title",
    "parse_parameter",
    "previous_month",
    "print_pdf",
    "record_headline",
    "render_history_index",
    "render_index",
    "run_history",
    "run_report",
    "sections",
    "select_notebooks",
    "use_report_tables",
    "validate_month",
    "write_history_index",
]
