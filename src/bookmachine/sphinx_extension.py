"""Stage 7: hand the merged pages to Sphinx, and the notebooks to the site.

Loaded by Jupyter Book through ``sphinx.extra_extensions`` in ``_config.yml``.
Before Sphinx reads anything, every source is split, executed (cached) and
merged; Sphinx then reads each merged page instead of its tagged source, so
MyST-NB never sees, let alone runs, a page that mixes frameworks.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import SphinxError
from sphinx.util import logging

from . import config as book_config
from . import mathjax
from .errors import BookError
from .launch import DOWNLOAD_DIR
from .pipeline import export_notebooks, prepare

logger = logging.getLogger(__name__)


class BookBuildError(SphinxError):
    category = "Book machine error"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def builder_inited(app: Sphinx) -> None:
    try:
        mathjax.source(app.srcdir, app.config.mathjax_path)  # fail before any kernel starts
        config = book_config.load(app.srcdir)
        app.bookmachine_book = prepare(config)
    except BookError as exc:
        raise BookBuildError(str(exc)) from None
    stats = app.bookmachine_book.stats
    logger.info(f"[bookmachine] {stats['notebooks']} notebooks: {stats['kernels_started']} run, "
                f"{stats['cached']} from cache")


def source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    page = app.bookmachine_book.pages.get(docname)
    if page is not None:
        source[0] = page
        app.env.bookmachine_digests = getattr(app.env, "bookmachine_digests", {})
        app.env.bookmachine_digests[docname] = _digest(page)


def env_get_outdated(app: Sphinx, env, added, changed, removed) -> list[str]:
    """Pages whose merged text changed although their source did not (new outputs)."""
    known = getattr(env, "bookmachine_digests", {})
    return [docname for docname, page in app.bookmachine_book.pages.items()
            if docname in env.all_docs and known.get(docname) != _digest(page)]


def build_finished(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    book = app.bookmachine_book
    try:
        mathjax.copy(app.srcdir, app.outdir, app.config.mathjax_path)
        export_notebooks(book, Path(app.outdir).parent / "notebooks")
    except BookError as exc:
        raise BookBuildError(str(exc)) from None
    # A copy inside the site, so "Download .ipynb" works wherever the site is served.
    site_copy = Path(app.outdir) / DOWNLOAD_DIR
    shutil.rmtree(site_copy, ignore_errors=True)
    shutil.copytree(Path(app.outdir).parent / "notebooks", site_copy)


def tidy_page(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Two fixes the browser tests (tests/test_browser.py) ask for, on every page.

    Sphinx 7.4 writes an inline script that an extension registers after the
    builder starts (sphinx-thebe's ``const THEBE_JS_URL``, sphinx-togglebutton's
    selector) twice, and the second ``const`` is a page error: keep the first.
    Docutils marks each bibliography entry ``role="doc-biblioentry"`` inside a
    ``role="list"``; DPUB-ARIA 1.1 retired that role for ``listitem``, and
    axe-core reports the list as lacking items (critical).
    """
    scripts = context.get("script_files")
    if scripts:
        seen, unique = set(), []
        for js in scripts:
            key = (js.filename or "", tuple(sorted(js.attributes.items())))
            if key not in seen:
                seen.add(key)
                unique.append(js)
        scripts[:] = unique
    if "body" in context:
        context["body"] = context["body"].replace('role="doc-biblioentry"', 'role="listitem"')


def machine_fingerprint() -> str:
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted([*here.glob("*.py"), *(here / "static").glob("*")]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def configure(app: Sphinx, config) -> None:
    config.bookmachine_fingerprint = machine_fingerprint()
    config.html_static_path.append(str(Path(__file__).parent / "static"))
    # The theme's repository button: the repository being published, as the launch links.
    config.html_theme_options["repository_url"] = book_config.load(app.srcdir, skip="").repository_url


def setup(app: Sphinx) -> dict:
    # Declared so Sphinx accepts them in _config.yml; the machine reads them
    # from _config.yml itself, so the CLI and the tests see the same values.
    app.add_config_value("bookmachine_frameworks", [], "env")
    app.add_config_value("bookmachine_notebooks_branch", "notebooks", "env")
    # A fingerprint of the machine itself: when its code or assets change, every
    # page is read and written again (Sphinx alone would keep the stale pages).
    app.add_config_value("bookmachine_fingerprint", "", "env")
    app.connect("builder-inited", builder_inited)
    app.connect("source-read", source_read)
    app.connect("env-get-outdated", env_get_outdated)
    app.connect("build-finished", build_finished)
    app.connect("config-inited", configure)
    app.connect("html-page-context", tidy_page, priority=900)
    app.add_css_file("bookmachine.css")
    app.add_js_file("bookmachine.js", defer="defer")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
