"""The report as its readers see it: every page opened in headless Chromium.

One history of two months is built from the small sample, with hostile campaign names in
the data (a script, a Markdown link and image to ``javascript:``, an ``onerror`` handler),
and shared by the tests of this module: 2026-10 with every notebook that exists in
``notebooks/`` (all are covered), then 2026-09 with the funnel only (enough for the links
between months and the trend lines, at a fraction of the time), both with PDFs. The browser is Debian's ``chromium``
driven by Playwright (no browser download); the module is skipped, saying why, only when
neither is available. A full-page screenshot of every page is saved under
``reports/test-artifacts/browser/`` (or ``$KPILIB_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from kpilib import report as kr
from kpilib.report import _checks, _headline

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = "<script>window.__x=1</script>"
#: Markdown and HTML that would run script if a page let them through as markup.
LINK, IMAGE, HANDLER = "[click me](javascript:alert(4))", "![x](javascript:alert(5))", "<img src=x onerror=alert(1)>"
MONTHS = ("2026-09", "2026-10")
MONTH = MONTHS[-1]
ARTIFACTS = Path(os.environ.get("KPILIB_TEST_ARTIFACTS", ROOT / "reports" / "test-artifacts"))

CHROMIUM = kr.find_chromium()
if CHROMIUM is None:
    pytest.skip(
        "no Chromium found (apt-get install chromium, or set KPILIB_CHROMIUM): the "
        "real-browser checks of the report cannot run",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -r requirements.txt)"
)

NOTEBOOKS = sorted(p.stem for p in kr.default_notebooks_dir().glob("*.ipynb"))
#: The one notebook of the earlier month.
PARTIAL = "01_funnel"

#: Collected in the page by the test: what a reader would notice.
PAGE_FACTS = """() => {
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const external = (url) => /^(https?:)?\\/\\//i.test(url || "");
  const attributes = Array.from(document.querySelectorAll("*")).flatMap((el) => Array.from(el.attributes));
  return {
    text: document.body.innerText,
    // URLs that run or smuggle something: none but the embedded figures
    badUrls: attributes
      .filter((a) => ["href", "src", "action", "formaction", "xlink:href", "data"].includes(a.name))
      .map((a) => a.value)
      .filter((u) => /^\\s*(javascript|vbscript|data):/i.test(u) && !/^data:image\\/png;base64,/.test(u)),
    handlers: attributes.filter((a) => a.name.startsWith("on")).map((a) => `${a.ownerElement.tagName} ${a.name}`),
    scripts: Array.from(document.scripts).map((s) => ({src: s.getAttribute("src") || "", type: s.type || ""})),
    x: typeof window.__x,
    brokenImages: Array.from(document.images)
      .filter((img) => !img.complete || img.naturalWidth === 0)
      .map((img) => (img.getAttribute("src") || "").slice(0, 80)),
    images: document.images.length,
    externalResources: Array.from(document.querySelectorAll("script[src], link[href], img[src], iframe[src]"))
      .map((el) => el.getAttribute("src") || el.getAttribute("href"))
      .filter(external),
    visibleCode: Array.from(document.querySelectorAll(
      ".jp-InputPrompt, .jp-InputArea-editor, .jp-CodeMirrorEditor, .cm-editor, .highlight"
    )).filter(visible).length,
    rawTables: document.querySelectorAll("table.dataframe[border]").length,
    kpilibTables: document.querySelectorAll("table.kpilib-table").length,
    stderr: Array.from(document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]'))
      .map((el) => el.innerText),
    headlineTables: Array.from(document.querySelectorAll("table.kpilib-headline, table.headline"))
      .map((t) => t.innerText),
    math: document.querySelectorAll(".MathJax, .MathJax_Display").length,
    mathErrors: document.querySelectorAll(".MathJax_Error, .noError, merror").length,
    mathLoaded: !!window.MathJax,
    header: (document.querySelector(".kpilib-header") || {}).innerText || "",
    cards: Array.from(document.querySelectorAll("article.card.kpi")).map((card) => ({
      metric: card.dataset.metric,
      value: card.querySelector(".value").innerText,
      change: card.querySelector(".change").className,
      significant: !!card.querySelector(".badge.significant"),
    })),
    trends: Array.from(document.querySelectorAll("article.card.trend")).map((card) => ({
      metric: card.dataset.metric,
      dots: card.querySelectorAll("svg circle").length,
    })),
    links: Array.from(document.querySelectorAll("a[href]")).map((a) => a.getAttribute("href")),
  };
}"""


@pytest.fixture(scope="module")
def history(tmp_path_factory, small_sample, glossary_cache):
    """Two months built from a copy of the small sample with a hostile campaign name."""
    root = tmp_path_factory.mktemp("browser")
    data = root / "data"
    shutil.copytree(small_sample, data)
    for table in ("events", "email"):
        frame = pd.read_parquet(data / f"{table}.parquet")
        campaigns = frame["campaign"].dropna().unique()
        # the most frequent campaign of the report month, so that it shows in the tables
        frame["campaign"] = frame["campaign"].replace(
            {campaigns[-1]: HOSTILE, campaigns[-2]: LINK, campaigns[-3]: f"{IMAGE} {HANDLER}"}
        )
        frame.to_parquet(data / f"{table}.parquet")
    out = root / "reports"
    shutil.copytree(glossary_cache, out / ".cache")  # the glossary reused, as in a monthly run
    full = kr.run_report(MONTH, source=data, out=out, pdf=True, progress=False, jobs=2)
    partial = kr.run_history(
        MONTHS[0], MONTHS[0], only=[PARTIAL], source=data, out=out, pdf=True, progress=False
    )
    return {"data": data, "out": out, "results": [*partial, full]}


@pytest.fixture(scope="module")
def pages(history):
    """Every page of the history opened in Chromium: the facts the tests check."""
    out = history["out"]
    targets = {"history": out / "index.html"}
    for month in MONTHS:
        targets[f"{month}-index"] = out / month / "index.html"
    for stem in NOTEBOOKS:
        targets[f"{MONTH}-{stem}"] = out / MONTH / f"{stem}.html"
    targets[f"{MONTHS[0]}-{PARTIAL}"] = out / MONTHS[0] / f"{PARTIAL}.html"
    shots = ARTIFACTS / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    facts = {}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[f for f in kr.CHROMIUM_FLAGS if f not in ("--headless", "--hide-scrollbars")],
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            for name, path in targets.items():
                facts[name] = _open(context, path, shots / f"{name}.png")
        finally:
            browser.close()
    return facts


def _open(context, path: Path, screenshot: Path) -> dict:
    page = context.new_page()
    errors, failed, requests, console, dialogs = [], [], [], [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: failed.append(f"{req.url} {req.failure}"))
    page.on("request", lambda req: requests.append(req.url))
    page.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
    page.goto(path.as_uri(), wait_until="load")
    if page.evaluate("!!window.MathJax"):
        page.wait_for_selector("body[data-mathjax=typeset]", state="attached", timeout=60_000)
    page.screenshot(path=str(screenshot), full_page=True)
    facts = page.evaluate(PAGE_FACTS)
    for link in page.get_by_text("click me", exact=True).all():  # what a curious reader does
        link.click()
    page.close()
    return {**facts, "errors": errors, "failed": failed, "requests": requests, "console": console,
            "dialogs": dialogs}


def _notebook_json(history, stem: str, month: str = MONTH) -> dict:
    return json.loads((history["out"] / month / f"{stem}.json").read_text())


# --------------------------------------------------------------------------- every page


def test_every_notebook_ran(history):
    assert NOTEBOOKS, "no notebooks found"
    for result in history["results"]:
        assert result.ok, [(s.notebook, s.error) for s in result.notebooks if not s.ok]
    assert [s.notebook for s in history["results"][-1].notebooks] == NOTEBOOKS
    assert [s.notebook for s in history["results"][0].notebooks] == [PARTIAL]


def test_no_errors_no_failed_or_remote_requests(pages):
    for name, facts in pages.items():
        assert facts["errors"] == [], (name, facts["errors"])
        assert facts["failed"] == [], (name, facts["failed"])
        assert facts["console"] == [], (name, facts["console"])
        remote = [u for u in facts["requests"] if not u.startswith(("file:", "data:"))]
        assert remote == [], (name, remote)
        assert facts["externalResources"] == [], (name, facts["externalResources"])


def test_every_image_loaded(pages):
    for name, facts in pages.items():
        assert facts["brokenImages"] == [], (name, facts["brokenImages"])
    # the notebooks draw figures: the pages are not just text
    assert sum(pages[f"{MONTH}-{stem}"]["images"] for stem in NOTEBOOKS) > 0


def test_no_code_and_no_error_output(pages):
    for name, facts in pages.items():
        assert facts["visibleCode"] == 0, name
        assert "Traceback" not in facts["text"], name
        assert not re.search(r"\b[A-Z]?\w*Error\b", facts["text"]), (
            name,
            re.findall(r".{0,60}\b[A-Z]?\w*Error\b.{0,60}", facts["text"]),
        )
        assert not [s for s in facts["stderr"] if "Traceback" in s or "Error" in s], name


def _own_scripts_only(facts: dict) -> bool:
    """Whether every script that runs is MathJax (from ``_static/mathjax/``) and every other
    one is MathJax's data: its configuration and the formulas it typeset (``math/tex``)."""
    for script in facts["scripts"]:
        runs = script["type"].lower() in ("", "text/javascript", "application/javascript", "module")
        if runs and not (script["src"].startswith("_static/mathjax/") or "/_static/mathjax/" in script["src"]):
            return False
        if not runs and not script["type"].startswith(("text/x-mathjax-config", "math/tex")):
            return False
    return True


def test_hostile_campaign_name_is_shown_not_run(pages):
    for name, facts in pages.items():
        assert facts["x"] == "undefined", name
        assert facts["dialogs"] == [], name
        assert facts["badUrls"] == [] and facts["handlers"] == [], name
        assert _own_scripts_only(facts), (name, facts["scripts"])
    shown = [name for name, facts in pages.items() if HOSTILE in facts["text"]]
    assert shown, "the campaign name should appear (as text) on some page"


def test_tables_are_formatted(pages, history):
    for stem in NOTEBOOKS:
        facts = pages[f"{MONTH}-{stem}"]
        assert facts["rawTables"] == 0, f"{stem}: a DataFrame shown without format_table"
    assert sum(pages[f"{MONTH}-{stem}"]["kpilibTables"] for stem in NOTEBOOKS) > 0


def test_notebook_pages_have_header(pages, history):
    manifest = json.loads((history["out"] / MONTH / "index.json").read_text())
    assert manifest["row_counts"]["events"] > 0
    events = f"events {manifest['row_counts']['events']:,} rows"
    for stem in NOTEBOOKS:
        header = pages[f"{MONTH}-{stem}"]["header"]
        title = _notebook_json(history, stem)["title"]
        assert f"{title}, October 2026 ({MONTH})" in header, stem
        assert str(history["data"]) in header and events in header, stem
        assert f"kpilib {manifest['kpilib_version']}" in header, stem
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", header), stem


def test_headline_tables_have_numbers(pages, history):
    index = pages[f"{MONTH}-index"]
    assert index["headlineTables"] and re.search(r"\d", index["headlineTables"][0])
    for stem in NOTEBOOKS:
        if _notebook_json(history, stem)["metrics"]:
            tables = pages[f"{MONTH}-{stem}"]["headlineTables"]
            assert tables and re.search(r"\d+(\.\d+)?%?", tables[-1]), stem


def test_formulas_render_offline(pages):
    glossary = [f"{MONTH}-{stem}" for stem in NOTEBOOKS if "glossary" in stem]
    assert glossary, "the glossary notebook has the formulas"
    facts = pages[glossary[0]]
    assert facts["mathLoaded"] and facts["math"] > 5 and facts["mathErrors"] == 0
    assert "$$" not in facts["text"]  # every display formula was typeset


# --------------------------------------------------------------------------- index pages


def test_month_index_cards(pages, history):
    records = [r for stem in NOTEBOOKS for r in _notebook_json(history, stem)["metrics"]]
    cards = pages[f"{MONTH}-index"]["cards"]
    assert [c["metric"] for c in cards] == [r["metric"] for r in records]
    for card, record in zip(cards, records, strict=True):
        assert re.search(r"\d", card["value"]), card
        assert card["significant"] == (record["significant"] is True), card
        change, better = record["change"], record["higher_is_better"]
        if change and better is not None:
            assert ("good" if (change > 0) == better else "bad") in card["change"], card
        else:
            assert "neutral" in card["change"], card


def test_months_link_to_each_other_and_to_the_overview(pages, history):
    out = history["out"]
    september, october = pages["2026-09-index"], pages["2026-10-index"]
    assert "../2026-10/index.html" in september["links"]
    assert "../2026-09/index.html" in october["links"]
    assert "../2026-08/index.html" not in september["links"]  # not built
    for facts, month in ((september, "2026-09"), (october, "2026-10")):
        for href in facts["links"]:
            assert (out / month / href).resolve().exists(), href
    overview = pages["history"]
    for month in MONTHS:
        assert f"{month}/index.html" in overview["links"]
        assert f"{month}/report.pdf" in overview["links"]
    months_recorded: dict[str, int] = {}
    for result in history["results"]:
        for status in result.notebooks:
            for record in status.metrics:
                months_recorded[record["metric"]] = months_recorded.get(record["metric"], 0) + 1
    assert {t["metric"]: t["dots"] for t in overview["trends"]} == months_recorded
    assert max(months_recorded.values()) == len(MONTHS)


# --------------------------------------------------------------------------- PDF


def test_pdf_has_the_index_and_every_notebook(history):
    from pypdf import PdfReader

    for result in history["results"]:
        month, stems = result.month, [s.notebook for s in result.notebooks]
        reader = PdfReader(history["out"] / month / "report.pdf")
        assert len(reader.pages) >= len(stems) + 1
        outline = [item.title for item in reader.outline]
        titles = [_notebook_json(history, stem, month)["title"] for stem in stems]
        assert outline == [f"KPI report {month}", *titles]
        # the outline points at increasing pages: each notebook has a page or more
        starts = [reader.get_destination_page_number(item) for item in reader.outline]
        assert starts == sorted(set(starts)) and starts[-1] < len(reader.pages)
        assert "Headline KPIs" in reader.pages[0].extract_text()


# --------------------------------------------------------------------------- reproducible


def _same_numbers(first: dict, second: dict) -> bool:
    """Equal records; floats to 1e-6 relative, far below what a page shows.

    A maximum-likelihood fit (the CLV models) may differ in its last digits between runs;
    an unseeded bootstrap or sample would differ by far more and fail.
    """
    if first.keys() != second.keys():
        return False
    for key, value in first.items():
        other = second[key]
        if isinstance(value, float) and isinstance(other, float):
            if not math.isclose(value, other, rel_tol=1e-6, abs_tol=1e-12):
                return False
        elif value != other:
            return False
    return True


def test_same_data_gives_identical_headline_numbers(history, tmp_path):
    domains = [stem for stem in NOTEBOOKS if "glossary" not in stem]  # the glossary has no numbers
    again = kr.run_report(MONTH, source=history["data"], out=tmp_path, progress=False, only=domains, jobs=2)
    assert again.ok
    for stem in domains:
        first = _notebook_json(history, stem)["metrics"]
        second = json.loads((tmp_path / MONTH / f"{stem}.json").read_text())["metrics"]
        # what the reader sees is identical, to the last digit shown ...
        assert [_headline._display_row(r) for r in second] == [_headline._display_row(r) for r in first], stem
        # ... and so are the numbers behind it
        assert len(first) == len(second), stem
        for a, b in zip(first, second, strict=True):
            assert _same_numbers(a, b), (
                stem,
                a["metric"],
                {k: (a[k], b[k]) for k in a if a[k] != b[k]},
            )


def test_history_skips_months_already_built(history):
    results = kr.run_history(
        *MONTHS, only=[PARTIAL], source=history["data"], out=history["out"], pdf=True,
        progress=False,
    )  # fmt: skip
    assert [r.skipped for r in results] == [True, True]
    assert all(r.pdf is not None for r in results)


# --------------------------------------------------------------------------- hostile parameters

#: A notebook that shows its ``label`` parameter every way a notebook can: in Markdown, as
#: HTML, beside a formula; its own Markdown has a formula too (MathJax must still typeset it).
HOSTILE_NOTEBOOK_CELLS = [
    ("markdown", "# Hostile parameters\n\nThe formula $$ \\frac{a}{b} $$ must typeset."),
    ("parameters", "month = '2026-01'\nsource = None\nlabel = 'plain'"),
    ("code", "from IPython.display import HTML, Markdown, display\n"
             "display(Markdown(f'Label: {label}'))\n"
             "display(HTML(label))\n"
             "display(Markdown(f'In a formula: $\\\\href{{javascript:alert(6)}}{{y}}$ and `{label}`'))"),
]
PAYLOAD = f"{LINK} {IMAGE} {HANDLER} {HOSTILE}"


@pytest.fixture(scope="module")
def hostile_parameter_page(tmp_path_factory, small_sample):
    """One page of ``report -p label=...`` with Markdown links, images, handlers and a script
    in the value, opened in Chromium (where the reader clicks "click me")."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from kpilib.__main__ import main

    root = tmp_path_factory.mktemp("hostile")
    cells = [new_markdown_cell(src) if kind == "markdown" else
             new_code_cell(src, metadata={"tags": ["parameters"]} if kind == "parameters" else {})
             for kind, src in HOSTILE_NOTEBOOK_CELLS]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (root / "nb").mkdir()
    nbformat.write(nb, root / "nb" / "01_hostile.ipynb")
    out = root / "reports"
    default = _checks.default_notebooks_dir
    _checks.default_notebooks_dir = lambda: root / "nb"  # the command line has no option for it
    try:
        code = main(["report", "--month", MONTH, "--source", str(small_sample), "--out", str(out),
                     "--quiet", "-p", f"label={PAYLOAD}"])
    finally:
        _checks.default_notebooks_dir = default
    assert code == 0
    page = out / MONTH / "01_hostile.html"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[f for f in kr.CHROMIUM_FLAGS if f not in ("--headless", "--hide-scrollbars")],
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            (ARTIFACTS / "browser").mkdir(parents=True, exist_ok=True)
            facts = _open(context, page, ARTIFACTS / "browser" / "hostile-parameter.png")
        finally:
            browser.close()
    return facts, page.read_text()


def test_hostile_parameter_in_markdown_is_shown_not_run(hostile_parameter_page):
    facts, html = hostile_parameter_page
    assert facts["dialogs"] == [] and facts["x"] == "undefined" and facts["errors"] == []
    assert facts["badUrls"] == [] and facts["handlers"] == []
    assert _own_scripts_only(facts), facts["scripts"]
    schemes = re.findall(r"""\b(?:href|src)\s*=\s*["']?\s*([a-z]+):""", html, re.I)
    assert {s.lower() for s in schemes} <= {"data", "http", "https"}  # data: the figures only
    assert facts["text"].count("click me") >= 2  # Markdown output and HTML output show it as text
    assert HOSTILE in facts["text"]  # the script, as text, in the HTML output
    # the page's formulas still typeset, and MathJax's \\href made no javascript: link
    assert facts["mathLoaded"] and facts["math"] >= 2 and facts["mathErrors"] == 0
    assert "$$" not in facts["text"]



# --------------------------------------------------------------------------- a shop's report, screen by screen
#
# Issue #11 found, on real-shaped data, what no unit test saw: a CLV page 41,000 px tall
# with NumPy warnings, a 495-category chart, empty charts with 1970 axis labels, a missing
# channel labelled "None". The ecommerce profile (sparse repeat buying, no subscriptions, a
# long-tailed catalogue of landing pages) is reported here and every page is looked at
# the way a reader scrolls it, in Chromium at 1280 x 800.
#
# The rules, and why:
#
# * **No element taller than 3 screens (2,400 px).** A reader scrolls past a figure or a
#   table; one block that takes more than three screens is a wall (a warnings dump, a
#   chart with a bar per page id, a table of every customer). Page containers (``body``,
#   ``main``, the notebook) are exempt — a long page is fine — and so is any element that
#   is tall only because a child is: the innermost tall element is the one reported.
#   Tables are already capped at ``display.max_rows`` (60 rows ≈ 1,800 px) by
#   ``kpilib.report.format_table``; a figure is 400–700 px.
# * **No 1970 date**, in the visible text, image alt/title texts, or the text drawn in any
#   figure: the epoch is what an empty or integer time axis shows. The figures are PNGs
#   (no OCR): every text matplotlib draws — titles, tick labels, legends, annotations — is
#   recorded in the kernels instead (``FIGURE_TEXTS``), a cheap and exact stand-in.
# * **No missing-value token** — ``None``, ``nan``, ``NaN``, ``NaT``, ``<NA>`` — as a word
#   of the visible text or of a figure's text, except inside ``<code>`` (a parameter's name
#   or value quoted in the narrative) and except a sentence that opens with "None"
#   followed by a lower-case word ("None of these is a proportion"). A table cell or KPI
#   value that is exactly ``True`` or ``False`` also fails: tables show booleans as
#   yes/no, a raw one is a column that escaped formatting.

SHOP_CUSTOMERS = 400  # ~75 s of report; 700+ visitors a month, ~30 landing pages
VIEWPORT = {"width": 1280, "height": 800}
TALLEST = 3 * VIEWPORT["height"]
MISSING_TOKENS = ("None", "nan", "NaN", "NaT", "<NA>")
_MISSING_WORD = re.compile(r"(?<![\w<])(None|nan|NaN|NaT|<NA>)(?![\w>])")
_EPOCH = re.compile(r"(?<!\d)1970(?!\d)")

#: Run in every kernel of the shop's report (IPython's startup folder): each figure shown
#: appends one JSON line {"pid", "titles", "texts"} with every text matplotlib drew.
FIGURE_TEXTS = '''
import json, os
import matplotlib.backend_bases as _bases
import matplotlib.text as _text

_drawn = None
_draw = _text.Text.draw
_print_figure = _bases.FigureCanvasBase.print_figure


def _recording_draw(self, renderer):
    if _drawn is not None and self.get_visible() and self.get_text().strip():
        _drawn.append(self.get_text())
    return _draw(self, renderer)


def _recording_print_figure(self, *args, **kwargs):
    global _drawn
    _drawn = []
    try:
        return _print_figure(self, *args, **kwargs)
    finally:
        texts, _drawn = list(dict.fromkeys(_drawn)), None
        titles = [ax.get_title() for ax in self.figure.axes if ax.get_title()]
        with open(os.environ["KPILIB_TEST_FIGURE_LOG"], "a") as log:
            log.write(json.dumps({"notebook": os.environ.get("KPILIB_REPORT_NOTEBOOK"), "titles": titles,
                                  "texts": texts}) + "\\n")


_text.Text.draw = _recording_draw
_bases.FigureCanvasBase.print_figure = _recording_print_figure
with open(os.environ["KPILIB_TEST_FIGURE_LOG"], "a") as log:
    log.write(json.dumps({"notebook": os.environ.get("KPILIB_REPORT_NOTEBOOK"), "kernel": True}) + "\\n")
'''

#: What a reader sees on the page, collected in Chromium (argument: the height limit).
SCREEN_FACTS = """(limit) => {
  const containers = new Set([document.documentElement, document.body,
                              ...document.querySelectorAll("main, .jp-Notebook")]);
  const height = (el) => el.getBoundingClientRect().height;
  const shown = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const headings = Array.from(document.querySelectorAll("h1, h2, h3, h4"));
  const describe = (el) => {
    // the element, its height and text, its table column, and the heading it is under
    const classes = (el.getAttribute("class") || "").split(/\\s+/).filter(Boolean).slice(0, 3);
    const text = (el.getAttribute("alt") || el.innerText || el.textContent || "").replace(/\\s+/g, " ").trim();
    const table = el.closest("table");
    const header = el.tagName === "TD" && table && table.tHead
      ? (table.tHead.rows[0].cells[el.cellIndex] || {}).innerText : "";
    const heading = headings.filter((h) => h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING).pop();
    return `<${el.tagName.toLowerCase()}${classes.map((c) => "." + c).join("")}> ` +
           `${Math.round(height(el))} px "${text.slice(0, 100)}"` +
           (header ? ` in column "${header.trim()}"` : "") +
           (heading ? ` under "${heading.innerText.trim()}"` : "");
  };
  const tall = Array.from(document.body.querySelectorAll("*"))
    .filter((el) => !containers.has(el) && height(el) > limit)
    .filter((el) => !Array.from(el.children).some((c) => !containers.has(c) && height(c) > limit))
    .map(describe);
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!node.data.trim() || !parent || !shown(parent) || parent.closest("script, style")) continue;
    const where = parent.closest("td, th, li, p, pre, h1, h2, h3, h4, caption, .value, .card, div") || parent;
    texts.push({text: node.data, code: !!parent.closest("code"), where: describe(where)});
  }
  for (const el of document.querySelectorAll("img[alt], img[title], svg title, [aria-label]")) {
    const text = el.getAttribute("alt") || el.getAttribute("title") || el.getAttribute("aria-label") || el.textContent;
    if (text && text.trim()) texts.push({text, code: false, where: describe(el)});
  }
  const cells = Array.from(document.querySelectorAll("td, th, article.card .value"))
    .filter(shown).map((el) => ({text: el.innerText.trim(), where: describe(el)}));
  return {tall, texts, cells, images: document.images.length};
}"""


def _missing_words(text: str) -> list[str]:
    """The missing-value tokens in ``text`` as words, each with its context; "None" that
    opens a sentence before a lower-case word ("None of these …") is prose, not a value."""
    found = []
    for match in _MISSING_WORD.finditer(text):
        before, after = text[: match.start()].rstrip(), text[match.end():]
        if match.group(1) == "None" and (not before or before[-1] in ".!?:—") and re.match(r" [a-z]", after):
            continue
        found.append(text[max(0, match.start() - 50): match.end() + 50].replace("\n", " "))
    return found


def test_missing_word_rule():
    assert _missing_words("a channel labelled None in one chart") == ["a channel labelled None in one chart"]
    assert _missing_words("CAC (when the model ran). None of these is a proportion") == []
    assert _missing_words("None") == ["None"] and _missing_words("NaT") == ["NaT"]
    assert _missing_words("value <NA> here") and _missing_words("[nan, 0.5]")
    assert _missing_words("finance, Nancy, NaNometer, Nones, None_x") == []


#: A page with one of each thing the shop checks look for, and what they must let pass.
SELF_TEST_PAGE = (
    "<html><body><main><div class='jp-Notebook'>"
    + "<div class='jp-Cell'><p>a short cell</p></div>" * 40  # a long page of short cells
    + "<div class='jp-Cell'><pre style='height: 3000px'>RuntimeWarning ...</pre></div>"
    + "<svg width='10' height='2500' aria-label='a chart with a bar per page'></svg>"
    + "<h2>Dates</h2><p>data since 1970-01-01</p><p>None of these is a rate; <code>None</code> means auto.</p>"
    + "<table><thead><tr><th>channel</th><th>significant</th></tr></thead>"
    + "<tbody><tr><td>None</td><td>False</td></tr></tbody></table>"
    + "</div></main></body></html>"
)


def test_screen_facts_see_what_a_reader_sees():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[f for f in kr.CHROMIUM_FLAGS if f not in ("--headless", "--hide-scrollbars")],
        )
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_content(SELF_TEST_PAGE)
            facts = page.evaluate(SCREEN_FACTS, TALLEST)
        finally:
            browser.close()
    # the innermost tall elements only: not the page, the notebook, nor the cell around the <pre>
    assert [t.split(" ")[0] for t in facts["tall"]] == ["<pre>", "<svg>"], facts["tall"]
    assert "3000 px" in facts["tall"][0] and 'under "' not in facts["tall"][0]
    dates = [t["where"] for t in facts["texts"] if _EPOCH.search(t["text"])]
    assert len(dates) == 1 and 'under "Dates"' in dates[0]
    leaks = [(t["where"], s) for t in facts["texts"] if not t["code"] for s in _missing_words(t["text"])]
    assert [w.split(" ")[0] for w, _ in leaks] == ["<td>"] and 'column "channel"' in leaks[0][0]
    raw = [c["where"] for c in facts["cells"] if c["text"] in (*MISSING_TOKENS, "True", "False")]
    assert len(raw) == 2 and 'in column "significant"' in raw[1]


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The ecommerce profile's report for MONTH (the domain notebooks; the glossary reads no
    data), every figure's text recorded in the kernels, every page opened in Chromium."""
    from kpilib.synth import write_sample

    root = tmp_path_factory.mktemp("shop")
    write_sample(root / "data", profile="ecommerce", customers=SHOP_CUSTOMERS)
    startup = root / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-record-figure-texts.py").write_text(FIGURE_TEXTS)
    log = root / "figures.jsonl"
    log.touch()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IPYTHONDIR", str(root / "ipython"))
        patch.setenv("KPILIB_TEST_FIGURE_LOG", str(log))
        result = kr.run_report(MONTH, source=root / "data", out=root / "reports", progress=False,
                               only=[s for s in NOTEBOOKS if "glossary" not in s],
                               parameters={"bootstrap_replicates": 0}, jobs=2)
    # each kernel knows its notebook (the runner's KPILIB_REPORT_NOTEBOOK)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    kernels = [line["notebook"] for line in lines if line.get("kernel")]
    stems = [s.notebook for s in result.notebooks]
    assert sorted(kernels) == sorted(stems), "one kernel per notebook, with the startup script"
    figures = [line for line in lines if not line.get("kernel")]
    assert {f["notebook"] for f in figures} <= set(stems)
    targets = {"index": result.index, **{stem: result.path / f"{stem}.html" for stem in stems}}
    shots = ARTIFACTS / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    facts = {}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[f for f in kr.CHROMIUM_FLAGS if f not in ("--headless", "--hide-scrollbars")],
        )
        try:
            context = browser.new_context(viewport=VIEWPORT)
            for name, path in targets.items():
                page = context.new_page()
                page.goto(path.as_uri(), wait_until="load")
                page.screenshot(path=str(shots / f"shop-{name}.png"), full_page=True)
                facts[name] = page.evaluate(SCREEN_FACTS, TALLEST)
                page.close()
        finally:
            browser.close()
    return {"result": result, "pages": facts, "figures": figures}


def test_shop_report_runs_and_draws(shop):
    result = shop["result"]
    assert result.ok, [(s.notebook, s.error) for s in result.notebooks if not s.ok]
    assert len(result.notebooks) == len(NOTEBOOKS) - 1
    # the checks below look at something: pages with figures, figures with text
    assert sum(facts["images"] for facts in shop["pages"].values()) >= 10
    assert len(shop["figures"]) >= 10 and all(f["texts"] for f in shop["figures"])


def test_shop_no_element_taller_than_three_screens(shop):
    tall = {name: facts["tall"] for name, facts in shop["pages"].items() if facts["tall"]}
    assert tall == {}, f"taller than {TALLEST} px (3 screens of {VIEWPORT['height']} px): {tall}"


def test_shop_index_says_a_shared_verdict_once(shop):
    # the ~1 % repeat buying of the shop fails the CLV fits: every CLV figure of both
    # months carries the same verdict, which the detail table lists once, numbered
    detail = shop["result"].index.read_text().split('<table class="headline">')[1].split("</table>")[0]
    notes = re.findall(r'<span class="note unreliable">(.*?)</span>', detail)
    listed = re.findall(r"<li>(unreliable: .*?)</li>", detail)
    assert notes and listed, "the shop's CLV figures are marked unreliable in the detail table"
    assert len(set(listed)) == len(listed) and not [n for n in notes if notes.count(n) > 1 and n in listed]
    assert {re.sub(r"\D", "", n) for n in notes if n.startswith("unreliable: note")} == {
        str(k) for k in range(1, len(listed) + 1)}


def test_shop_no_1970_dates(shop):
    dates = {name: [(t["where"], t["text"].strip()[:120]) for t in facts["texts"] if _EPOCH.search(t["text"])]
             for name, facts in shop["pages"].items()}
    dates = {name: found for name, found in dates.items() if found}
    assert dates == {}, f"a 1970 date on the page: {dates}"
    drawn = [(f["notebook"], f["titles"], [t for t in f["texts"] if _EPOCH.search(t)]) for f in shop["figures"]]
    drawn = [d for d in drawn if d[2]]
    assert drawn == [], f"a 1970 date drawn in a figure (notebook, axes titles, texts): {drawn}"


def test_shop_no_missing_value_tokens(shop):
    leaks, raw = {}, {}
    for name, facts in shop["pages"].items():
        found = [(t["where"], snippet) for t in facts["texts"] if not t["code"]
                 for snippet in _missing_words(t["text"])]
        cells = [c["where"] for c in facts["cells"] if c["text"] in (*MISSING_TOKENS, "True", "False")]
        leaks.update({name: found} if found else {})
        raw.update({name: cells} if cells else {})
    assert leaks == {}, f"a missing value shown as text (page: [(element, context)]): {leaks}"
    assert raw == {}, f"a table cell or KPI value that is a raw Python value (page: [cell]): {raw}"
    drawn = [(f["notebook"], f["titles"], [s for t in f["texts"] for s in _missing_words(t)])
             for f in shop["figures"]]
    drawn = [d for d in drawn if d[2]]
    assert drawn == [], f"a missing value drawn in a figure (notebook, axes titles, texts): {drawn}"
