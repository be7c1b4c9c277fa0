"""Notebook pages as HTML: nbconvert's export, the sanitiser, MathJax and what a reader sees.

:func:`_html_exporter` is nbconvert's HTML exporter with kpilib's page template
(``templates/notebook_page.html.j2``): no code, nothing from a CDN, a local MathJax. Every
rendered cell goes through :func:`_sanitise_cell`, an allow-list, so no output or Markdown
can put markup that runs into a page. :func:`_reader_outputs`,
:func:`_without_orphan_prose` and :func:`_introduction` shape an executed notebook for
reading (warnings summarised, prose of skipped sections dropped).
"""

from __future__ import annotations

import copy
import functools
import re
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from kpilib.report import _templates

#: Tags allowed in HTML cell outputs of the notebook pages; others are escaped.
_ALLOWED_TAGS = [
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "li",
    "ol", "p", "pre", "s", "small", "span", "strong", "style", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "wbr",
]  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "*": ["class", "id", "style", "title", "align"],
    "a": ["href", "title"],
    "table": ["border"],
    "td": ["colspan", "rowspan"],
    "th": ["colspan", "rowspan", "scope"],
}
_ALLOWED_CSS = [
    "background", "background-color", "border", "border-bottom", "border-collapse",
    "border-left", "border-right", "border-top", "color", "font-family", "font-size",
    "font-style", "font-weight", "margin", "max-width", "min-width", "padding", "text-align",
    "vertical-align", "white-space", "width",
]  # fmt: skip


@functools.cache
def _sanitizer_class() -> type:
    from nbconvert.preprocessors.sanitize import SanitizeHTML

    class OutputSanitizer(SanitizeHTML):
        """nbconvert's bleach sanitiser on code-cell outputs: it drops the outputs a page
        must not run (JavaScript, widgets, anything not in its list of safe mimetypes).

        The page sanitiser (:func:`_sanitise_cell`) then cleans the rendered HTML of every
        cell, Markdown included; this pass only keeps a JavaScript output from showing up
        as escaped source text.
        """

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type != "code":
                return cell, resources
            return super().preprocess_cell(cell, resources, index)

    return OutputSanitizer


#: Tags kept in the cells of a notebook page, after rendering; others are escaped (shown
#: as text). Outputs and Markdown (headings, lists, links, code, tables, images).
_CELL_TAGS = frozenset([*_ALLOWED_TAGS, "img", "kbd", "samp", "var", "mark", "q", "cite", "ins"])
#: Attributes kept in those cells (any tag, then per tag); ``on*`` handlers never are.
_CELL_ATTRIBUTES = {
    "*": {"class", "id", "style", "title", "align", "data-mime-type", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "table": {"border"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type"},
    "style": {"type"},
}
#: Link schemes kept in ``href``; ``src`` takes only embedded images (the figures).
_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_EMBEDDED_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[a-z0-9+/=]*", re.I)
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")
#: CSS that could fetch or run something (a style attribute or a ``<style>`` block).
_UNSAFE_CSS = re.compile(r"url\s*\(|@import|expression\s*\(|javascript:|behavior|binding|\\", re.I)
#: Ids that would shadow a global the page's own scripts read (DOM clobbering).
_RESERVED_IDS = re.compile(r"mathjax.*", re.I)


#: An embedded image as nbconvert writes a figure, ``src="data:image/png;base64,…"``:
#: :func:`_sanitise_cell` sets it aside while the cleaner reads the cell.
_FIGURE_SOURCE = re.compile(r'(?<=\ssrc=")data:image/(?:png|jpeg|gif|webp);base64,[a-z0-9+/=\s]*(?=")', re.I)
#: What stands in for a figure set aside (numbered; unguessable, so no cell can forge one).
_STAND_IN = f"kpilib-figure-{secrets.token_hex(8)}-"
_STAND_INS = re.compile(re.escape(_STAND_IN) + r"(\d+)")


def _safe_url(value: str, *, image: bool) -> bool:
    """Whether ``value`` may stay in ``src`` (``image``) or ``href``."""
    url = re.sub(r"[\x00-\x20\x7f-\xa0]+", "", value).lower()  # as a browser reads it
    if image:
        return _EMBEDDED_IMAGE.fullmatch(url) is not None or _STAND_INS.fullmatch(value) is not None
    scheme = _SCHEME.match(url)
    return scheme is None or scheme.group(1) in _LINK_SCHEMES


def _cell_attribute(tag: str, name: str, value: str) -> bool:
    """bleach's attribute filter for the cells of a notebook page."""
    if name not in _CELL_ATTRIBUTES["*"] and name not in _CELL_ATTRIBUTES.get(tag, ()):
        return False
    if name in ("href", "src"):
        return _safe_url(value, image=name == "src")
    if name == "style":
        return _UNSAFE_CSS.search(value) is None
    if name == "id":
        return _RESERVED_IDS.fullmatch(value) is None
    return True


@functools.cache
def _cell_cleaner() -> Any:
    """The bleach cleaner of :func:`_sanitise_cell` (built once)."""
    import bleach
    from bleach.css_sanitizer import CSSSanitizer
    from bleach.html5lib_shim import Filter

    class StyleBlocksAndImages(Filter):
        """Empties a ``<style>`` block whose CSS could fetch or run something (bleach
        keeps the text of an allowed ``<style>`` as it is), and drops an image left
        without a source (its URL was refused): a broken image says nothing."""

        def __iter__(self):
            inside = False
            for token in Filter.__iter__(self):
                if token.get("name") == "style":
                    inside = token["type"] == "StartTag"
                elif inside and token["type"] in ("Characters", "SpaceCharacters"):
                    if _UNSAFE_CSS.search(token["data"]):
                        token = {"type": "Characters", "data": "/* removed by kpilib */"}
                elif token.get("name") == "img" and not any(
                    name == "src" for _, name in token.get("data", {})
                ):
                    continue
                yield token

    return bleach.Cleaner(
        tags=_CELL_TAGS,
        attributes=_cell_attribute,
        protocols=[*_LINK_SCHEMES, "data"],  # data: only gets past _safe_url as an image
        css_sanitizer=CSSSanitizer(allowed_css_properties=_ALLOWED_CSS),
        strip=False,
        strip_comments=True,
        filters=[StyleBlocksAndImages],
    )


def _sanitise_cell(html: str) -> str:
    """The rendered HTML of one notebook cell, cleaned by an allow-list.

    Runs on what nbconvert made of the cell — its Markdown rendered, every output in
    place — so no route into the page (a Markdown link or image in a cell or an output,
    an HTML output, a Styler) bypasses it. Tags outside :data:`_CELL_TAGS` are escaped
    (shown as text); ``on*`` handlers and attributes outside :data:`_CELL_ATTRIBUTES`
    are dropped; ``href`` keeps only relative, ``http(s)`` and ``mailto`` links, ``src``
    only embedded images (``data:image/png;base64,…``, the figures; an image without one
    is dropped); CSS that could fetch or run anything is removed. Formulas are text, so MathJax still typesets them.

    The figures' embedded images (:data:`_FIGURE_SOURCE`, already an allowed ``src``) are
    set aside while the cleaner reads the cell — it reads a megabyte of base64 one
    character at a time — and put back after: base64 holds no character that could
    start or end markup, wherever it lands.

    Examples
    --------
    >>> _sanitise_cell('<p><a href="javascript:alert(4)">click me</a><img src=x onerror=alert(1)></p>')
    '<p><a>click me</a></p>'
    >>> _sanitise_cell('<img src="data:image/png;base64,iVBORw0K" onload="alert(1)">')
    '<img src="data:image/png;base64,iVBORw0K">'
    """
    figures: list[str] = []

    def aside(match: re.Match[str]) -> str:
        figures.append(match.group(0))
        return f"{_STAND_IN}{len(figures) - 1}"

    clean = _cell_cleaner().clean(_FIGURE_SOURCE.sub(aside, html))
    return _STAND_INS.sub(lambda match: figures[int(match.group(1))], clean) if figures else clean

#: Where a month folder keeps its copy of MathJax.
MATHJAX_DIR = Path("_static") / "mathjax"

#: Markdown that MathJax would typeset: $…$, $$…$$, \(…\), \[…\] or an environment.
_MATH = re.compile(r"\$|\\\(|\\\[|\\begin\{")


def _mathjax_head() -> str:
    """The ``<script>`` tags of a page with formulas (``templates/mathjax_head.html``).

    MathJax 2 from jupyter-server-mathjax (HTML-CSS output with its STIX-Web fonts). Its
    font test loads ``url('about:blank')``, a request that fails in every browser; a
    ``local()`` source makes none and changes nothing else.
    """
    return _templates.text("mathjax_head.html")


def _mathjax_source() -> Path | None:
    """The MathJax files of the ``jupyter-server-mathjax`` package, if it is installed."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    return static if (static / "MathJax.js").is_file() else None


def _copy_mathjax(target: Path) -> None:
    """Copy what the pages use of MathJax (no translations, SVG fonts or a11y tools)."""
    source = _mathjax_source()
    if source is not None:
        shutil.copytree(
            source, target, ignore=shutil.ignore_patterns("localization", "SVG", "a11y")
        )


def _needs_math(nb: Any) -> bool:
    """Whether a notebook's Markdown (cells or outputs) holds formulas."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and _MATH.search(cell.source):
            return True
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if any(_MATH.search(str(data.get(m, ""))) for m in ("text/markdown", "text/latex")):
                return True
    return False


#: A Python warning as ``warnings`` prints it: ``path:line: Category: message``, then
#: (when the source is readable) the indented line that raised it.
_WARNING = re.compile(r"^[^\n]*?:\d+: (?P<kind>[A-Za-z]*Warning): (?P<message>[^\n]*)\n?(?:  [^\n]*\n?)?", re.M)


def _warning_notes(counts: Mapping[tuple[str, str], int]) -> str:
    r"""Warnings counted by (kind, message) as lines for a reader: the message without the
    file path and source line (a ``UserWarning`` — kpilib's own remarks — reads as a note),
    once, with how often it was raised.

    Examples
    --------
    >>> print(_warning_notes({("UserWarning", "few repeat buyers"): 1,
    ...                       ("RuntimeWarning", "divide by zero"): 1822}), end="")
    Note: few repeat buyers
    RuntimeWarning: divide by zero (1,822 times)
    """
    lines = []
    for (kind, message), n in counts.items():
        label = "Note" if kind == "UserWarning" else kind
        lines.append(f"{label}: {message}" + (f" ({n:,} times)" if n > 1 else "") + "\n")
    return "".join(lines)


def _reader_outputs(nb: Any) -> Any:
    r"""A copy of ``nb`` whose warnings are summarised per section for a reader.

    A section runs from one Markdown heading to the next. Its warnings are taken out of the
    stderr streams and shown once each, with a count, where the section's last warning was
    (see :func:`_warning_notes`): a fit that warns 1,822 times is one line, not a page. The
    executed notebook keeps every warning as it was.

    Examples
    --------
    >>> import nbformat.v4 as v4
    >>> warn = "/x/y.py:7: RuntimeWarning: divide by zero\n  r = a / b\n"
    >>> nb = v4.new_notebook(cells=[v4.new_markdown_cell("## A"),
    ...     v4.new_code_cell(outputs=[v4.new_output("stream", name="stderr", text=warn * 3 + "done\n")]),
    ...     v4.new_code_cell(outputs=[v4.new_output("stream", name="stderr", text=warn)])])
    >>> [o["text"] for c in _reader_outputs(nb).cells[1:] for o in c.outputs]
    ['done\n', 'RuntimeWarning: divide by zero (4 times)\n']
    """
    nb = copy.deepcopy(nb)
    counts: dict[tuple[str, str], int] = {}
    last: Any = None

    def flush() -> None:
        if counts and last is not None:
            last.outputs.append(_stderr_output(_warning_notes(counts)))
        counts.clear()

    for cell in nb.cells:
        if cell.cell_type == "markdown" and re.match(r"\s*#", cell.source or ""):
            flush()
            last = None
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = output["text"]
                for match in _WARNING.finditer(text):
                    key = (match["kind"], match["message"])
                    counts[key] = counts.get(key, 0) + 1
                    last = cell
                output["text"] = _WARNING.sub("", text)
                if not output["text"].strip():
                    continue
            kept.append(output)
        if "outputs" in cell:
            cell.outputs = kept
    flush()
    return nb


def _stderr_output(text: str) -> Any:
    """A stderr stream output holding ``text``."""
    import nbformat.v4

    return nbformat.v4.new_output("stream", name="stderr", text=text)


def _html_exporter() -> Any:
    """An in-process nbconvert HTML exporter: no code, no prompts, sanitised cells.

    Its template (``templates/notebook_page.html.j2``) is nbconvert's lab template without
    code and without anything from a CDN (require.js, widgets, mermaid), a local MathJax,
    and kpilib's header and footer. Every cell, once rendered, goes through
    :func:`_sanitise_cell`; the page ends without the widget state nbconvert would add from
    the notebook's metadata.
    """
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        extra_loaders=[
            jinja2.DictLoader({"kpilib-page.html.j2": _templates.text("notebook_page.html.j2")})
        ],
        template_file="kpilib-page.html.j2",
        filters={"kpilib_sanitise": _sanitise_cell},
    )
    sanitizer = _sanitizer_class()(
        tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRIBUTES, styles=_ALLOWED_CSS, enabled=True
    )
    # Markdown outputs are rendered from their source and cleaned afterwards: escaping
    # their source first would mangle formulas ($a<b$) and miss Markdown links.
    sanitizer.safe_output_keys = {*sanitizer.safe_output_keys, "text/markdown"}
    sanitizer.sanitized_output_types = {"text/html"}
    exporter.register_preprocessor(sanitizer, enabled=True)
    return exporter


def _is_note(output: Mapping[str, Any]) -> bool:
    """Whether a cell output is a kpilib note (a skipped or an empty section)."""
    html = output.get("data", {}).get("text/html", "")
    html = "".join(html) if isinstance(html, list) else str(html)
    return html.startswith('<p class="kpilib-note')


_HEADING = re.compile(r"\A\s*(#{1,6})\s")


def _heading_level(cell: Any) -> int | None:
    """The level of the heading a Markdown cell starts with (None: it starts with prose)."""
    match = _HEADING.match(cell.source) if cell.cell_type == "markdown" else None
    return len(match.group(1)) if match else None


def _without_orphan_prose(nb: Any) -> Any:
    """A copy of ``nb`` without the prose around results the page does not show.

    * A heading whose part of the notebook (up to the next heading of its level or above)
      has code cells and none of them shows anything — a subsection of a section that was
      skipped — is dropped with everything in that part.
    * A Markdown cell that is not a heading ("**How to read this.** …") and follows a
      code cell whose outputs are only kpilib notes (the section was skipped, or had no
      rows in the period) or nothing at all is dropped; a heading with a note under it stays.
    """
    nb = copy.deepcopy(nb)
    cells = nb.cells
    drop: set[int] = set()
    for i, cell in enumerate(cells):
        level = _heading_level(cell)
        if level is None or level == 1 or i in drop:
            continue
        end = next((j for j in range(i + 1, len(cells))
                    if (_heading_level(cells[j]) or 7) <= level), len(cells))
        code = [c for c in cells[i + 1:end] if c.cell_type == "code"]
        if code and not any(c.get("outputs") for c in code):
            drop.update(range(i, end))
    kept, quiet = [], False
    for i, cell in enumerate(cells):
        if cell.cell_type == "code":
            tags = cell.metadata.get("tags", [])
            quiet = all(_is_note(o) for o in cell.get("outputs", [])) and not (
                {"parameters", "injected-parameters"} & set(tags))
        elif quiet and _heading_level(cell) is None:
            continue
        if i not in drop:
            kept.append(cell)
    nb.cells = kept
    return nb


def _introduction(nb: Any) -> Any:
    """A copy of ``nb`` with only the Markdown cells before its first code cell."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            break
        if cell.cell_type == "markdown" and "papermill-error-cell-tag" not in cell.metadata.get("tags", []):
            cells.append(cell)
    nb.cells = cells
    return nb

