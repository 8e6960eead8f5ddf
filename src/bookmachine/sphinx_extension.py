"""Stage 7: hand the merged pages to Sphinx.

Loaded by Jupyter Book through ``sphinx.extra_extensions`` in ``_config.yml``.
``python -m bookmachine build`` splits, executes (cached) and merges every
source first, then starts Jupyter Book with ``$BOOKMACHINE_PREPARED`` naming
the merged pages; Sphinx reads each of them instead of its tagged source, so
MyST-NB never sees, let alone runs, a page that mixes frameworks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import SphinxError
from sphinx.util import logging

from . import config as book_config
from . import mathjax
from .config import PREPARED_ENV, BookConfig
from .errors import BookError
from .pipeline import read_manifest
from .split import read_source

logger = logging.getLogger(__name__)


class BookBuildError(SphinxError):
    category = "Book machine error"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def builder_inited(app: Sphinx) -> None:
    manifest = BookConfig.prepared_manifest()
    if manifest is None or not manifest.is_file():
        raise BookBuildError(f"no prepared pages (${PREPARED_ENV} is unset): the book machine executes "
                             "and merges the pages before Sphinx reads them. Build with `make book` "
                             "or `python -m bookmachine build`")
    app.bookmachine_pages, stats = read_manifest(manifest)
    logger.info(f"[bookmachine] {len(app.bookmachine_pages)} merged pages ({stats['kernels_started']} "
                f"notebooks run, {stats['cached']} from cache)")


def source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    page = app.bookmachine_pages.get(docname)
    if page is None:
        _reject_unmerged_source(app, docname)
        return
    source[0] = page
    app.env.bookmachine_digests = getattr(app.env, "bookmachine_digests", {})
    app.env.bookmachine_digests[docname] = _digest(page)


def _reject_unmerged_source(app: Sphinx, docname: str) -> None:
    """A tagged source that the machine did not merge would show every framework mixed."""
    path = Path(app.env.doc2path(docname))
    if path.suffix != ".md":
        return
    try:
        keys = book_config.load(app.srcdir, skip="").keys
        tagged = any(cell.frameworks for cell in read_source(path, Path(app.srcdir), keys).cells)
    except BookError:
        tagged = True  # unknown tags: surely meant for the machine
    if tagged:
        raise BookBuildError(f"{path}: Sphinx reads this page, but the book machine did not merge it "
                             "(its framework cells would be mixed on one page). List it in _toc.yml "
                             "as a `file:` entry")


def env_get_outdated(app: Sphinx, env, added, changed, removed) -> list[str]:
    """Pages whose merged text changed although their source did not (new outputs)."""
    known = getattr(env, "bookmachine_digests", {})
    return [docname for docname, page in app.bookmachine_pages.items()
            if docname in env.all_docs and known.get(docname) != _digest(page)]


def build_finished(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    try:
        mathjax.copy(app.srcdir, app.outdir, app.config.mathjax_path)
    except BookError as exc:
        raise BookBuildError(str(exc)) from None


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
    for name in ("bookmachine_cell_timeout", "bookmachine_output_limit_kb", "bookmachine_large_output_limit_kb"):
        app.add_config_value(name, None, "")
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
