"""The built site in a real browser (Debian's Chromium, driven by Playwright).

Every page of ``_toc.yml`` is served from ``_build/html`` on 127.0.0.1 and read
fully offline: any request to another host is aborted *and* recorded, and a
test that saw one fails, so the site must not even try to reach the network.
Console errors, page errors, failed requests and HTTP errors fail it too.

Run after ``make book`` (or with BOOK_PREBUILT=1 against _build as it is):
    .venv/bin/python -m pytest tests/test_browser.py
BOOK_HTML=/some/copy/html tests a copy of the site instead (screenshots beside it).
Screenshots of each page in each framework land in _build/screenshots/.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from bs4 import BeautifulSoup

from bookmachine import config as book_config
from bookmachine.export import notebook_name
from bookmachine.pipeline import toc_files

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
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
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


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


class Reader:
    """One browser context (own localStorage) whose pages read offline and are watched."""

    def __init__(self, browser, server: str):
        self.server = server
        self.context = browser.new_context(viewport=VIEWPORT)
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


@functools.lru_cache(maxsize=None)
def _soup(site: Path, docname: str) -> BeautifulSoup:
    return BeautifulSoup((site / f"{docname}.html").read_text(), "html.parser")


def _pages_with(site: Path, selector: str) -> list[str]:
    return [p for p in PAGES if (site / f"{p}.html").is_file() and _soup(site, p).select(selector)]


# --- tests ----------------------------------------------------------------------
@pytest.mark.parametrize("docname", PAGES)
def test_page_reads_offline_in_every_framework(reader, screenshots, docname):
    """Each page x framework via ?framework=KEY: every tab-set shows it, every image loads,
    nothing fails, nothing external is even attempted; a full-page screenshot of each."""
    for fw in FRAMEWORKS:
        key = fw["key"]
        reader.open(docname, f"?framework={key}")
        reader.assert_clean()
        reader.assert_all_selected(key, f"{docname}?framework={key}")
        broken = reader.page.evaluate("""() => [...document.images]
            .filter(img => !(img.complete && img.naturalWidth > 0))
            .map(img => img.currentSrc || img.src)""")
        assert not broken, f"{docname}: images that did not load: {broken}"
        reader.page.screenshot(path=str(screenshots / f"{shot_name(docname)}-{key}.png"),
                               full_page=True)
    reader.assert_clean()


def test_one_click_switches_every_tab_set_and_is_remembered(reader):
    """A click in any tab-set switches all of them; the choice survives a reload."""
    docname = PAGES[0]
    reader.open(docname)
    count = len(reader.selected())
    assert count > 1, f"{docname}: expected the launch bar and at least one code tab-set"
    for i, fw in enumerate(FRAMEWORKS):
        tab_set = (i + 1) % count   # click in a different tab-set each time, the launch bar too
        reader.choose(fw["key"], tab_set)
        reader.assert_all_selected(fw["key"], f"{docname}, after a click in tab-set {tab_set + 1}")
    chosen = FRAMEWORKS[1]["key"]
    reader.choose(chosen, count - 1)
    reader.page.reload(wait_until="load")
    reader.settle()
    reader.assert_all_selected(chosen, f"{docname} after a reload")
    reader.assert_clean()


def test_the_choice_carries_to_the_next_page(reader):
    assert len(PAGES) >= 2, "_toc.yml lists one page only: no next page to carry the choice to"
    chosen = FRAMEWORKS[2]["key"]
    reader.open(PAGES[0])
    reader.choose(chosen, 0)
    for docname in PAGES[1:]:
        link = reader.page.locator("a.right-next")
        assert link.count() == 1, f"no next-page link on the page before {docname}"
        with reader.page.expect_navigation(wait_until="load"):
            link.click()
        reader.settle()
        assert reader.page.url.split("?")[0].endswith(f"/{docname}.html"), reader.page.url
        reader.assert_all_selected(chosen, f"{docname}, reached by the next-page link")
    reader.assert_clean()


def test_framework_query_parameter_selects_jax_everywhere(reader):
    reader.open(PAGES[0], "?framework=jax")
    reader.assert_all_selected("jax", f"{PAGES[0]}?framework=jax")
    reader.assert_clean()


@pytest.mark.parametrize("docname", PAGES)
def test_each_code_tab_shows_its_code_and_output(reader, site, docname):
    book_outputs = sum(len(_soup(site, p).select(OUTPUT)) for p in PAGES)
    assert book_outputs, f"no page has a code output ({OUTPUT}): has the output markup changed?"
    if not _soup(site, docname).select(".sd-tab-content div.cell"):
        pytest.skip(f"{docname} has no framework code")
    reader.open(docname)
    for fw in FRAMEWORKS:
        reader.choose(fw["key"])
        panels = reader.page.evaluate("""(OUTPUT) => [...document.querySelectorAll('.sd-tab-set')]
            .filter(ts => !ts.closest('details') && ts.querySelector('div.cell'))
            .map(ts => {
                const panel = ts.querySelector(':scope > input:checked + label + .sd-tab-content');
                const cells = [...panel.querySelectorAll('div.cell')].filter(c => !c.closest('details'));
                const code = cells.map(c => c.querySelector(
                    ':scope > div:not(.cell-output):not(.cell_output) pre'));
                const outputs = [...panel.querySelectorAll(OUTPUT)];
                const shows = el => !!el && el.checkVisibility() && el.getBoundingClientRect().height > 0;
                return {
                    cells: cells.length,
                    codeShown: code.filter(pre => shows(pre) && pre.textContent.trim()).length,
                    outputs: outputs.length,
                    outputsShown: outputs.filter(o => shows(o)
                        && (o.textContent.trim() || o.querySelector('img'))).length,
                    otherPanelsShown: [...ts.querySelectorAll(':scope > .sd-tab-content')]
                        .filter(p => p !== panel && p.checkVisibility()).length,
                };
            })""", OUTPUT)
        where = f"{docname}, {fw['label']}"
        assert panels, f"{where}: no code tab-set outside solutions"
        for i, p in enumerate(panels, 1):
            assert p["codeShown"] == p["cells"], f"{where}, code tab-set {i}: code not shown: {p}"
            assert p["outputsShown"] == p["outputs"], f"{where}, code tab-set {i}: output hidden: {p}"
            assert p["otherPanelsShown"] == 0, f"{where}, code tab-set {i}: another tab shows: {p}"
        has_cells = sum(p["cells"] for p in panels)
        assert has_cells, f"{where}: no code cell in the {fw['label']} tabs"
        if any(not o.find_parent("details") for o in _soup(site, docname).select(OUTPUT)):
            assert sum(p["outputsShown"] for p in panels), f"{where}: no output shown"
    reader.assert_clean()


def test_solutions_are_closed_and_open_on_click(reader, site):
    pages = _pages_with(site, "details.solution")
    assert pages, "no built page has an exercise solution (details.solution)"
    for docname in pages:
        reader.open(docname)
        solutions = reader.page.locator("details.solution")
        for i in range(solutions.count()):
            solution = solutions.nth(i)
            where = f"{docname}, solution {i + 1}"
            assert solution.evaluate("d => !d.open"), f"{where}: open before any click"
            body = solution.locator("pre").first
            assert not body.is_visible(), f"{where}: its code shows while closed"
            solution.locator("summary").click()
            assert solution.evaluate("d => d.open"), f"{where}: a click did not open it"
            assert body.is_visible(), f"{where}: open, but no code shows"
            code = solution.locator("pre:visible")
            assert code.count() and code.first.inner_text().strip(), f"{where}: empty code"
            if solution.locator(OUTPUT).count():
                assert solution.locator(OUTPUT).filter(visible=True).count(), f"{where}: no output shows"
    reader.assert_clean()


def test_math_is_typeset_by_the_local_mathjax(reader, site):
    pages = _pages_with(site, ".math")
    assert pages, "no page of _toc.yml has $...$ or {math} markup"
    for docname in pages:
        reader.open(docname)
        script = reader.page.evaluate("""() => [...document.scripts].map(s => s.src)
            .filter(src => /mathjax/i.test(src))""")
        assert script and all(urlparse(s).hostname in LOCAL_HOSTS for s in script), (
            f"{docname}: MathJax must come from the site's _static, not {script}")
        untypeset = reader.page.evaluate("""() => [...document.querySelectorAll('.math')]
            .filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60))""")
        assert not untypeset, f"{docname}: math left as TeX: {untypeset}"
        assert reader.page.locator("mjx-container").count() > 0
        assert reader.page.locator("mjx-merror").count() == 0, f"{docname}: a MathJax error"
    reader.assert_clean()


def test_opening_page_figure_loads(reader, site):
    assert _soup(site, PAGES[0]).select("figure img"), f"the opening page {PAGES[0]} has no figure"
    reader.open(PAGES[0])
    figures = reader.page.locator("figure img")
    for i in range(figures.count()):
        img = figures.nth(i)
        img.scroll_into_view_if_needed()
        assert img.evaluate("i => i.complete && i.naturalWidth > 0"), (
            f"figure {i + 1} did not load: {img.get_attribute('src')}")
    reader.assert_clean()


@pytest.mark.parametrize("docname", PAGES)
def test_launch_links_of_the_chosen_framework(reader, site, docname):
    if not _soup(site, docname).select(".launch-bar"):
        assert not _soup(site, docname).select("div.cell"), f"{docname} has code but no launch bar"
        pytest.skip(f"{docname} has no code, so no notebook to launch")
    reader.open(docname)
    notebook = f"{notebook_name(docname)}.ipynb"
    for fw in FRAMEWORKS:
        key = fw["key"]
        reader.choose(key)   # in the launch bar itself
        where = f"{docname}, {fw['label']}"
        bar = reader.page.locator(".sd-tab-set.launch-bar")
        assert bar.count() == 1, f"{docname}: {bar.count()} launch bars"
        shown = bar.locator(".launch-links:visible")
        assert shown.count() == 1 and shown.get_attribute("data-framework") == key, where
        links = shown.locator("a.launch-link:visible")
        services = [links.nth(i).get_attribute("data-service") for i in range(links.count())]
        assert services == list(fw.get("launch", [])) + (["download"] if fw["built"] else []), f"{where}: {services}"
        if not fw.get("launch"):
            note = shown.locator(".launch-note:visible")
            assert note.count() and note.first.inner_text().strip(), f"{where}: no note"
        for i in range(links.count()):
            href = links.nth(i).get_attribute("href")
            assert href.endswith(f"/{key}/{notebook}"), f"{where}: {href} is not {key}/{notebook}"
        download = shown.locator("a.launch-link[data-service=download]")
        if not fw["built"]:
            continue
        assert download.get_attribute("download") is not None, f"{where}: not a download link"
        target = urljoin(reader.page.url, download.get_attribute("href"))
        assert urlparse(target).hostname in LOCAL_HOSTS, f"{where}: {target}"
        response = reader.page.request.get(target)
        assert response.status == 200, f"{where}: {target} -> HTTP {response.status}"
        assert "cells" in json.loads(response.body()), f"{where}: {target} is not a notebook"
    reader.assert_clean()


@pytest.mark.parametrize("docname", PAGES)
def test_no_serious_accessibility_violation(reader, docname):
    """axe-core (bundled by axe-playwright-python, injected offline) in every framework,
    solutions opened so that their content is checked too."""
    from axe_playwright_python.sync_playwright import Axe
    axe = Axe()
    reader.open(docname)
    reader.assert_clean()
    found = {}
    for fw in FRAMEWORKS:
        reader.choose(fw["key"])
        reader.page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        results = axe.run(reader.page).response
        # axe re-fetches every stylesheet to read the CSSOM, and resolves the theme's
        # `@import "../basic.css"` (in _static/styles/theme.css) against the page instead
        # of the sheet: a 404 of axe's own, not the reader's (the browser loads
        # _static/basic.css). So only the page load above is held to "no problems";
        # here nothing external may be attempted.
        reader.problems.clear()
        for violation in results["violations"]:
            if violation["impact"] in SERIOUS:
                nodes = "; ".join(", ".join(map(str, n["target"])) for n in violation["nodes"][:5])
                found.setdefault(violation["id"], f"{violation['id']} ({violation['impact']}): "
                                 f"{violation['help']} -- {nodes} [{fw['label']}]")
    assert not found, f"{docname}:\n" + "\n".join(found.values())
    reader.assert_clean()
