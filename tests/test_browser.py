"""The built site in a real browser (Debian's Chromium, driven by Playwright).

Every page of ``_toc.yml`` is served from ``_build/html`` on 127.0.0.1 and read
fully offline (see ``browser_support``): the tabs switch, persist and answer
``?framework=``, code, outputs, solutions, math and figures show, launch links
point where they should, and axe finds nothing serious.

Run after ``make book`` (or with BOOK_PREBUILT=1 against _build as it is):
    .venv/bin/python -m pytest tests/test_browser.py
BOOK_HTML=/some/copy/html tests a copy of the site instead (screenshots beside it).
Screenshots of each page in each framework land in _build/screenshots/.
"""

from __future__ import annotations

import json
from urllib.parse import urljoin, urlparse

import pytest

from bookmachine.export import notebook_name
# Its asserts get pytest's explanations too (it is imported before pytest_plugins is read).
pytest.register_assert_rewrite("browser_support")
from browser_support import (FRAMEWORKS, LOCAL_HOSTS, OUTPUT, PAGES, _pages_with, _soup, serious_violations,
                             shot_name)

pytest_plugins = ["browser_support"]
pytestmark = pytest.mark.browser


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


def test_framework_query_parameter_selects_it_everywhere(reader):
    key = FRAMEWORKS[1]["key"]   # not the first, which a page shows anyway
    reader.open(PAGES[0], f"?framework={key}")
    reader.assert_all_selected(key, f"{PAGES[0]}?framework={key}")
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
        if not fw["built"]:  # BOOKMACHINE_SKIP: its tabs hold code and a note, no outputs
            assert not sum(p["outputs"] for p in panels), f"{where}: outputs of a skipped framework"
        elif any(not o.find_parent("details") and o.find_parent(class_="sd-tab-content")
                 for o in _soup(site, docname).select(OUTPUT)):
            assert sum(p["outputsShown"] for p in panels), f"{where}: no output shown"
        # A cell every framework shares (an exercise's check) sits outside the tabs: it shows whatever is chosen.
        hidden = reader.page.evaluate("""(OUTPUT) => [...document.querySelectorAll(OUTPUT)]
            .filter(o => !o.closest('.sd-tab-content') && !o.closest('details'))
            .filter(o => !(o.checkVisibility() && o.getBoundingClientRect().height > 0)).length""", OUTPUT)
        assert not hidden, f"{where}: {hidden} shared output(s) hidden"
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


def test_a_checks_verdict_wraps_instead_of_scrolling(reader, site):
    """`wrap-output` cells print sentences (the exercises' verdicts): every line is read
    without scrolling sideways, in every framework, solutions opened."""
    pages = _pages_with(site, ".output-wrap")
    assert pages, "no built page has a wrap-output cell (.output-wrap)"
    for docname in pages:
        reader.open(docname)
        reader.page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        for fw in FRAMEWORKS:
            reader.choose(fw["key"])
            boxes = reader.page.evaluate("""() => [...document.querySelectorAll('.output-wrap pre')]
                .filter(p => p.checkVisibility())
                .map(p => ({text: p.innerText.slice(0, 60), scrolls: p.scrollWidth > p.clientWidth,
                            longest: Math.max(...p.innerText.split('\\n').map(l => l.length))}))""")
            assert boxes, f"{docname}, {fw['key']}: no verdict shows"
            assert any(b["longest"] > 88 for b in boxes), f"{docname}: no long line to wrap"  # the test bites
            scrolling = [b["text"] for b in boxes if b["scrolls"]]
            assert not scrolling, f"{docname}, {fw['key']}: these verdicts scroll sideways: {scrolling}"
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
    reader.open(docname)
    reader.assert_clean()
    found = {}
    for fw in FRAMEWORKS:
        reader.choose(fw["key"])
        reader.page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        for rule, finding in serious_violations(reader, fw["label"]).items():
            found.setdefault(rule, finding)
    assert not found, f"{docname}:\n" + "\n".join(found.values())
    reader.assert_clean()
