"""The report's page templates and style sheets, files in ``kpilib/report/templates/``.

HTML templates (``*.html.j2``) are rendered by one jinja2 environment with autoescaping on:
every value put into a page is HTML-escaped unless a template marks it ``| safe`` (only
kpilib's own CSS and already-rendered parts of a page are). Other files (the CSS, the
MathJax configuration, nbconvert's page template) are read as text.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import jinja2

#: The package whose ``templates/`` folder holds the files.
_PACKAGE = "kpilib.report"
_FOLDER = "templates"


@functools.cache
def environment() -> jinja2.Environment:
    """The jinja2 environment of the report's pages (autoescaping on)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(_PACKAGE, _FOLDER),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **context: Any) -> str:
    """Render template ``name`` (e.g. ``"month_index.html.j2"``) with ``context``."""
    return environment().get_template(name).render(**context)


@functools.cache
def text(name: str) -> str:
    """The content of template file ``name`` as it is (CSS, a script, a raw template)."""
    return resources.files(_PACKAGE).joinpath(_FOLDER, name).read_text(encoding="utf-8")
