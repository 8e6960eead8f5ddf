"""What the browser tests share: the built site served on 127.0.0.1, Debian's
Chromium, and a ``Reader`` that reads it offline and records every problem.

Registered as a pytest plugin by the browser test modules
(``pytest_plugins = ["browser_support"]``), so that its session fixtures (one
server, one browser, one screenshot folder) are shared by all of them.
Any request to another host is aborted *and* recorded, and a test that saw one
fails, so the site must not even try to reach the network. Console errors,
page errors, failed requests and HTTP errors fail it too.

BOOK_HTML=/some/copy/html tests a copy of the site instead (screenshots beside it).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from bs4 import BeautifulSoup

from bookmachine import config as book_config
from bookmachine.pdf import CHROMIUM, CHROMIUM_ARGS, serve_site  # as the PDFs are printed
from bookmachine.pipeline import toc_files
from conftest import STAGE_SECONDS

ROOT = Path(__file__).resolve().parents[1]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 15_000
SERIOUS = {"serious", "critical"}
# A code cell's output box: docutils spells the class `cell-output`; `cell_output` as MyST-NB has it.
OUTPUT = "div.cell-output, div.cell_output"


def _toc_pages() -> list[str]:
    """Docnames in _toc.yml order, as the book machine reads them."""
    return [path.relative_to(ROOT).with_suffix("").as_posix() for path in toc_files(ROOT)]


def _frameworks() -> list[dict]:
    config = book_config.load(ROOT)  # BOOKMACHINE_SKIP: a skipped framework has tabs, not notebooks
    return [{"key": fw.key, "label": fw.label, "launch": list(fw.launch), "built": fw in config.built}
            for fw in config.frameworks]


PAGES = _toc_pages()
FRAMEWORKS = _frameworks()
LABELS = {fw["key"]: fw["label"] for fw in FRAMEWORKS}


def shot_name(docname: str) -> str:
    return Path(docname).name


# --- fixtures -------------------------------------------------------------------
@pytest.fixture(scope="session")
def site(request) -> Path:
    """_build/html, or the folder BOOK_HTML names (a copy to try a change or a breakage on)."""
    html = Path(os.environ["BOOK_HTML"]) if os.environ.get("BOOK_HTML") else (
        request.getfixturevalue("built_book") / "html")
    assert (html / f"{PAGES[0]}.html").is_file(), f"no built site in {html}: run `make book`"
    return html


@pytest.fixture(scope="session")
def server(site):
    """``_build/html`` served on 127.0.0.1, on a free port, for the whole session."""
    with serve_site(site) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (Debian's chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots(site) -> Path:
    folder = site.parent / "screenshots"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="session")
def pdfs(site) -> Path:
    """_build/pdf, made now by ``python -m bookmachine pdf`` (the stage after the build;
    nothing is printed again if nothing changed). BOOK_PREBUILT=1 or BOOK_HTML: as it is."""
    if not (os.environ.get("BOOK_PREBUILT") == "1" or os.environ.get("BOOK_HTML")):
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "bookmachine", "pdf"], cwd=ROOT,
                                capture_output=True, text=True)
        STAGE_SECONDS["pdf"] = time.perf_counter() - started
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    folder = site.parent / "pdf"
    assert folder.is_dir(), f"no {folder}: run `python -m bookmachine pdf` (`make book` does)"
    return folder


class Reader:
    """One browser context (own localStorage) whose pages read offline and are watched."""

    def __init__(self, browser, server: str, viewport: dict = VIEWPORT, color_scheme: str = "light"):
        self.server = server
        self.context = browser.new_context(viewport=viewport, color_scheme=color_scheme)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.external: list[str] = []   # requests to another host: aborted, and each one a failure
        self.problems: list[str] = []   # console errors, page errors, failed requests, HTTP errors
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(
            f"console error: {m.text} ({m.location.get('url')})"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(
            f"HTTP {r.status}: {r.url}"))

    def _route(self, route):
        url = route.request.url
        if urlparse(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def _failed(self, request):
        if request.url not in self.external:
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def url(self, docname: str, query: str = "") -> str:
        return f"{self.server}{docname}.html{query}"

    def open(self, docname: str, query: str = "") -> None:
        self.goto(self.url(docname, query))

    def goto(self, url: str) -> None:
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.ok, f"{url}: {response and response.status}"
        self.settle()

    def settle(self) -> None:
        """Wait for fonts and, where the page loads it, MathJax's first typesetting."""
        self.page.evaluate("""async () => {
            if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
                await MathJax.startup.promise;
            }
            await document.fonts.ready;
        }""")

    def selected(self) -> list[dict]:
        """For every tab-set on the page: its sync group and the checked tab's label."""
        return self.page.evaluate("""() => [...document.querySelectorAll('.sd-tab-set')].map(ts => {
            const input = ts.querySelector(':scope > input:checked');
            const label = input && input.nextElementSibling;
            const panel = label && label.nextElementSibling;
            return {
                group: label ? label.getAttribute('data-sync-group') : null,
                label: label ? label.textContent.trim() : null,
                // a tab-set inside a closed solution is hidden with it, rightly
                shown: !!panel && (panel.checkVisibility() || !!ts.closest('details:not([open])')),
                launch: ts.classList.contains('launch-bar'),
            };
        })""")

    def assert_all_selected(self, key: str, where: str) -> None:
        sets = self.selected()
        assert sets, f"{where}: no tab-set on the page"
        wrong = [f"tab-set {i + 1}: {s['label']!r} (sync group {s['group']!r})"
                 for i, s in enumerate(sets) if s["label"] != LABELS[key]]
        assert not wrong, f"{where}: {LABELS[key]} chosen, but " + "; ".join(wrong)
        hidden = [i + 1 for i, s in enumerate(sets) if not s["shown"]]
        assert not hidden, f"{where}: the selected panel of tab-set(s) {hidden} is not shown"

    def choose(self, key: str, tab_set: int = 0) -> None:
        """Click ``key``'s tab in the ``tab_set``-th tab-set of the page, as a reader would."""
        label = self.page.locator(".sd-tab-set").nth(tab_set).locator(
            f":scope > label.sd-tab-label[data-sync-id='{key}']")
        label.click()

    def assert_clean(self) -> None:
        assert not self.external, ("the page tried to reach the network (it must read offline): "
                                   + ", ".join(self.external))
        assert not self.problems, "\n".join(self.problems)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def reader(browser, server):
    r = Reader(browser, server)
    yield r
    r.close()


@pytest.fixture
def new_reader(browser, server):
    """``new_reader(viewport=..., color_scheme=...)``: more readers, each with its own storage."""
    made = []

    def make(**options) -> Reader:
        made.append(Reader(browser, server, **options))
        return made[-1]
    yield make
    for r in made:
        r.close()


def serious_violations(reader: Reader, where: str) -> dict[str, str]:
    """axe-core's serious and critical findings on the page as it is now (injected offline)."""
    from axe_playwright_python.sync_playwright import Axe
    results = Axe().run(reader.page).response
    # axe re-fetches every stylesheet to read the CSSOM, and resolves the theme's
    # `@import "../basic.css"` (in _static/styles/theme.css) against the page instead
    # of the sheet: a 404 of axe's own, not the reader's (the browser loads
    # _static/basic.css). So only the page load is held to "no problems";
    # here nothing external may be attempted.
    reader.problems.clear()
    found = {}
    for violation in results["violations"]:
        if violation["impact"] in SERIOUS:
            nodes = "; ".join(", ".join(map(str, n["target"])) for n in violation["nodes"][:5])
            found[violation["id"]] = (f"{violation['id']} ({violation['impact']}): "
                                      f"{violation['help']} -- {nodes} [{where}]")
    return found


@functools.lru_cache(maxsize=None)
def _soup(site: Path, docname: str) -> BeautifulSoup:
    return BeautifulSoup((site / f"{docname}.html").read_text(), "html.parser")


def _pages_with(site: Path, selector: str) -> list[str]:
    return [p for p in PAGES if (site / f"{p}.html").is_file() and _soup(site, p).select(selector)]


