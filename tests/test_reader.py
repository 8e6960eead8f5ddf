"""Reading beyond the tabs, in a real browser: the framework picker in the page
header, compare mode, the phone layout and the print stylesheet (issue 14), and
compare mode's room for the code it compares (issue 21).

Same rules as ``test_browser.py`` (see ``browser_support``): Debian's Chromium,
the built site on 127.0.0.1, every other host refused and recorded, console
errors failing. Frameworks, labels and pages come from ``_config.yml`` and
``_toc.yml``; controls are found by their accessible names, as a screen reader
would. Screenshots (desktop, phone, compare mode at 1280, 1400 and 1920 px,
dark mode) land in _build/screenshots/reader-*.png.

    BOOK_PREBUILT=1 .venv/bin/python -m pytest tests/test_reader.py
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlparse

import pytest

# Its asserts get pytest's explanations too (it is imported before pytest_plugins is read).
pytest.register_assert_rewrite("browser_support")
from browser_support import FRAMEWORKS, LABELS, PAGES, _pages_with, serious_violations
from conftest import SUMMARY_LINES

pytest_plugins = ["browser_support"]
pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
NARROW = {"width": 800, "height": 900}  # below the width where compare mode stacks
GROUP = "framework"
KEYS = [fw["key"] for fw in FRAMEWORKS]
# Two frameworks to compare: the last and the second (neither is what a page shows first).
CHOSEN, COMPARED = KEYS[-1], KEYS[1]

# For every framework tab-set (found by sphinx-design's sync group): which
# framework panels show, where they are, and whether their content shows.
TAB_SETS = """(group) => [...new Set([...document.querySelectorAll(
        `label.sd-tab-label[data-sync-group="${group}"]`)].map(l => l.parentElement))]
    .filter(ts => ts.checkVisibility())
    .map(ts => {
        const box = el => { const r = el.getBoundingClientRect();
                            return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
        // in the order a reader sees them: top to bottom, then left to right
        const panels = [...ts.querySelectorAll(':scope > .sd-tab-content')].filter(p => p.checkVisibility())
            .sort((a, b) => (box(a).top - box(b).top) || (box(a).left - box(b).left));
        const row = [...ts.querySelectorAll(':scope > label, :scope > select')].filter(e => e.checkVisibility());
        return {
            shown: panels.map(p => p.previousElementSibling.getAttribute('data-sync-id')),
            boxes: panels.map(box),
            // code, output, prose and images inside the shown panels that do not show
            hiddenInside: panels.map(p => [...p.querySelectorAll('pre, p, img')]
                .filter(e => !e.closest('details:not([open])') && !e.checkVisibility()).length),
            row: row.map(e => ({tag: e.tagName, text: (e.textContent || '').trim().slice(0, 30),
                                 ...box(e)})),
            set: box(ts),
        };
    })"""


def header(reader):
    return reader.page.locator(".bd-header-article")


def picker(reader):
    return header(reader).get_by_role("combobox", name="Framework", exact=True)


def compare_picker(reader):
    return header(reader).get_by_role("combobox", name="Compare with", exact=True)


def query(reader) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(reader.page.url).query, keep_blank_values=True).items()}


def open_solutions(reader) -> None:
    reader.page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")


def tab_sets(reader) -> list[dict]:
    sets = reader.page.evaluate(TAB_SETS, GROUP)
    assert sets, f"{reader.page.url}: no framework tab-set shows"
    return sets


def assert_picker_shows(reader, key: str, where: str) -> None:
    assert picker(reader).input_value() == key, (
        f"{where}: the picker says {picker(reader).input_value()!r}, the reader chose {key!r}")
    assert query(reader).get(GROUP) == key, f"{where}: the URL does not name {key}: {reader.page.url}"


def go_next(reader) -> None:
    link = reader.page.locator("a.right-next")
    assert link.count() == 1, f"{reader.page.url}: no next-page link"
    with reader.page.expect_navigation(wait_until="load"):
        link.click()
    reader.settle()


# --- the picker -----------------------------------------------------------------
@pytest.mark.parametrize("docname", PAGES)
def test_picker_is_in_the_header_lists_the_frameworks_and_stays_visible(reader, docname):
    reader.open(docname)
    select = picker(reader)
    assert select.count() == 1, f"{docname}: no select named 'Framework' in the page header"
    options = select.evaluate("s => [...s.options].map(o => [o.value, o.textContent.trim()])")
    assert options == [[fw["key"], fw["label"]] for fw in FRAMEWORKS], f"{docname}: {options}"
    assert_picker_shows(reader, KEYS[0], docname)
    # Always visible: scrolled to the very end, it is still on screen and not covered.
    reader.page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    assert reader.page.evaluate("() => window.scrollY") > 0, f"{docname}: the page does not scroll"
    on_top = select.evaluate("""s => { const r = s.getBoundingClientRect();
        return r.top >= 0 && r.bottom <= innerHeight
            && document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === s; }""")
    assert on_top, f"{docname}: the picker is not visible once the page is scrolled down"
    reader.assert_clean()


def test_picker_sets_every_tab_set_and_the_tabs_set_the_picker(reader):
    docname = PAGES[0]
    reader.open(docname)
    count = len(reader.selected())
    for fw in FRAMEWORKS:
        picker(reader).select_option(fw["key"])
        reader.assert_all_selected(fw["key"], f"{docname}, {fw['label']} picked in the header")
        assert_picker_shows(reader, fw["key"], f"{docname}, picked")
    for i, fw in enumerate(reversed(FRAMEWORKS)):
        reader.choose(fw["key"], i % count)
        assert_picker_shows(reader, fw["key"], f"{docname}, tab {fw['label']} clicked in tab-set {i % count + 1}")
    reader.assert_clean()


def test_picker_and_tabs_agree_across_pages_and_reloads(reader):
    assert len(PAGES) >= 2, "_toc.yml lists one page only"
    reader.open(PAGES[0])
    picker(reader).select_option(CHOSEN)
    for docname in PAGES[1:]:
        go_next(reader)
        reader.assert_all_selected(CHOSEN, f"{docname}, reached by the next-page link")
        assert_picker_shows(reader, CHOSEN, docname)
    # A tab clicked on the last page, then a reload and a page reached by its link.
    reader.choose(KEYS[0], 1)
    reader.page.reload(wait_until="load")
    reader.settle()
    reader.assert_all_selected(KEYS[0], f"{PAGES[-1]} after a reload")
    assert_picker_shows(reader, KEYS[0], f"{PAGES[-1]} after a reload")
    with reader.page.expect_navigation(wait_until="load"):
        reader.page.locator("a.left-prev").click()
    reader.settle()
    reader.assert_all_selected(KEYS[0], f"{PAGES[-2]}, reached by the previous-page link")
    assert_picker_shows(reader, KEYS[0], PAGES[-2])
    reader.assert_clean()


def test_picker_works_from_the_keyboard(reader):
    reader.open(PAGES[0])
    select = picker(reader)
    for _ in range(60):
        reader.page.keyboard.press("Tab")
        if select.evaluate("s => s === document.activeElement"):
            break
    else:
        pytest.fail("60 presses of Tab never reached the framework picker")
    reader.page.keyboard.press("ArrowDown")
    reader.assert_all_selected(KEYS[1], "after Tab to the picker and ArrowDown")
    assert_picker_shows(reader, KEYS[1], "after ArrowDown in the picker")
    reader.assert_clean()


def test_header_links_the_chosen_frameworks_pdf(reader, pdfs):
    reader.open(PAGES[-1])
    for fw in FRAMEWORKS:
        picker(reader).select_option(fw["key"])
        link = header(reader).get_by_role("link", name="PDF")
        assert link.count() == 1, "no link named PDF in the header"
        target = urljoin(reader.page.url, link.get_attribute("href"))
        assert urlparse(target).path.endswith(f"/_pdf/{fw['key']}.pdf"), target
        response = reader.page.request.get(target)
        assert response.status == 200, f"{target} -> HTTP {response.status}"
        assert response.body() == (pdfs / f"{fw['key']}.pdf").read_bytes(), f"{target} is not _build/pdf's"
    reader.assert_clean()


def shows(reader, selector: str) -> bool:
    """Whether the first element ``selector`` finds is shown (not hidden, not invisible)."""
    return reader.page.evaluate("""s => { const e = document.querySelector(s);
        return !!e && e.checkVisibility({visibilityProperty: true, opacityProperty: true}); }""", selector)


def test_the_article_headers_sidebar_buttons_fold_and_open_the_sidebars(new_reader, site):
    """The theme binds only its top bar's buttons, hidden on wide screens (bookmachine.js
    passes the article header's clicks on): one click folds the navigation, one more
    brings it back; below 1200 px the contents button opens the page's contents."""
    pages = _pages_with(site, "div.bd-sidebar-secondary")
    assert pages, "no page has right-hand contents"
    reader = new_reader(viewport={"width": 1100, "height": 800})
    reader.open(pages[0])
    nav = ".bd-header-article button.primary-toggle"
    for shown in (False, True):
        reader.page.locator(nav).click()
        reader.page.wait_for_timeout(500)  # the theme slides it
        assert shows(reader, "#pst-primary-sidebar") == shown, f"{pages[0]}: the navigation button does nothing"
    reader.page.locator(".bd-header-article button.secondary-toggle").click()
    contents = reader.page.locator("dialog[open] nav.page-toc a")
    assert contents.count() > 1 and contents.first.is_visible(), f"{pages[0]}: the contents button does nothing"
    reader.page.keyboard.press("Escape")
    assert not shows(reader, "dialog[open]"), f"{pages[0]}: Escape does not close the contents"
    reader.assert_clean()


# --- compare mode ---------------------------------------------------------------
def assert_comparing(reader, where: str, side_by_side: bool, pair=(CHOSEN, COMPARED)) -> None:
    open_solutions(reader)
    for i, ts in enumerate(tab_sets(reader), 1):
        here = f"{where}, tab-set {i}"
        assert ts["shown"] == list(pair), f"{here}: shows {ts['shown']}, not {list(pair)}"
        assert ts["hiddenInside"] == [0, 0], f"{here}: code, output or prose hidden in a panel: {ts}"
        first, second = ts["boxes"]
        if side_by_side:
            assert abs(first["top"] - second["top"]) < 2 and first["right"] <= second["left"], (
                f"{here}: the two panels are not side by side: {ts['boxes']}")
        else:
            assert second["top"] >= first["bottom"] - 1, f"{here}: not stacked: {ts['boxes']}"


def test_compare_mode_shows_the_two_chosen_panels_everywhere_and_survives_navigation(reader):
    reader.open(PAGES[0])
    for i, ts in enumerate(tab_sets(reader), 1):
        assert len(ts["shown"]) == 1, f"compare mode is on before anyone asked: tab-set {i}: {ts}"
    assert compare_picker(reader).input_value() == "", "compare mode is not off by default"
    picker(reader).select_option(CHOSEN)
    compare_picker(reader).select_option(COMPARED)
    assert query(reader).get("compare") == COMPARED, reader.page.url
    assert_comparing(reader, PAGES[0], side_by_side=True)
    for docname in PAGES[1:]:
        go_next(reader)
        assert compare_picker(reader).input_value() == COMPARED, f"{docname}: compare mode forgotten"
        assert_comparing(reader, docname, side_by_side=True)
    reader.page.reload(wait_until="load")
    reader.settle()
    assert_comparing(reader, f"{PAGES[-1]} after a reload", side_by_side=True)
    # Clicking the compared tab swaps the two.
    reader.choose(COMPARED, 0)
    assert picker(reader).input_value() == COMPARED and compare_picker(reader).input_value() == CHOSEN
    reader.choose(CHOSEN, 0)
    compare_picker(reader).select_option("")
    assert "compare" not in query(reader), reader.page.url
    for i, ts in enumerate(tab_sets(reader), 1):
        assert ts["shown"] == [CHOSEN], f"compare mode off, yet tab-set {i} shows {ts['shown']}"
    reader.assert_clean()


def test_compare_mode_stacks_on_narrow_screens(new_reader):
    reader = new_reader(viewport=NARROW)
    for docname in PAGES:
        reader.open(docname, f"?{GROUP}={CHOSEN}&compare={COMPARED}")
        assert_comparing(reader, f"{docname} at {NARROW['width']} px", side_by_side=False)
    reader.assert_clean()


# --- compare mode fits the code it compares (issue 21) -----------------------------
# How many characters of the code font each code box holds in compare mode, at least,
# by screen width; at 1000 px the panels still sit side by side, holding what they can.
HOLDS = {1920: 88, 1400: 72, 1000: 0}
# Each framework against the next, the last against the first: each on either side.
PAIRS = [(KEYS[i], KEYS[(i + 1) % len(KEYS)]) for i in range(len(KEYS))]

# Every code cell's source box that shows: what it holds, its longest line, whether it scrolls.
CODE_BOXES = """() => {
    const context = document.createElement('canvas').getContext('2d');
    return [...document.querySelectorAll('div.cell > div[class*="highlight-"] pre')]
        .filter(pre => pre.checkVisibility())
        .map(pre => {
            const style = getComputedStyle(pre);
            context.font = style.font;
            const room = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
            const lines = pre.textContent.split('\\n');
            return {holds: Math.floor(room / context.measureText('0').width),
                    longest: Math.max(...lines.map(line => line.length)),
                    scrolls: pre.scrollWidth > pre.clientWidth, font: style.fontSize,
                    compared: !!pre.closest('.bm-compare'), first: lines[0].slice(0, 40)};
        });
}"""


def choose_pair(reader, pair) -> None:
    """Compare ``pair`` with the header's pickers, as a reader would (no reload)."""
    compare_picker(reader).select_option("")
    picker(reader).select_option(pair[0])
    compare_picker(reader).select_option(pair[1])


@pytest.mark.parametrize("width", HOLDS)
def test_compare_mode_gives_the_code_the_room_the_screen_has(new_reader, width):
    """Every page, each framework against another: the panels sit side by side, each
    code box holds HOLDS[width] characters of the normal code font, and only a cell
    with a longer line than its box holds scrolls sideways. At 1920 px that is none,
    since no chapter line is over 88 characters (tests/test_code_lines.py)."""
    reader = new_reader(viewport={"width": width, "height": 900})
    reader.open(PAGES[0], f"?{GROUP}={CHOSEN}")
    normal_font = {box["font"] for box in reader.page.evaluate(CODE_BOXES)}
    assert len(normal_font) == 1, f"{PAGES[0]} without compare mode: code in several sizes {normal_font}"
    counted, scrolling, narrowest = 0, 0, None
    for docname in PAGES:
        reader.open(docname, f"?{GROUP}={PAIRS[0][0]}&compare={PAIRS[0][1]}")
        open_solutions(reader)
        for n, pair in enumerate(PAIRS):
            if n:
                choose_pair(reader, pair)
            where = f"{docname}, {pair[0]} vs {pair[1]} at {width} px"
            assert_comparing(reader, where, side_by_side=True, pair=pair)
            boxes = reader.page.evaluate(CODE_BOXES)
            for box in boxes:
                here = f"{where}, code cell {box['first']!r}"
                assert {box["font"]} == normal_font, f"{here}: code font {box['font']}, not {normal_font}"
                if box["compared"]:
                    assert box["holds"] >= HOLDS[width], (
                        f"{here}: the code box holds {box['holds']} characters, not {HOLDS[width]}")
                    narrowest = box["holds"] if narrowest is None else min(narrowest, box["holds"])
                assert not box["scrolls"] or box["longest"] > box["holds"], (
                    f"{here}: scrolls sideways although its longest line ({box['longest']} characters) "
                    f"fits the {box['holds']} its box holds")
            counted += len(boxes)
            scrolling += sum(box["scrolls"] for box in boxes)
    assert counted, "no code cell shows in compare mode on any page"
    SUMMARY_LINES.append(f"compare mode at {width} px, {len(PAIRS)} pairs x {len(PAGES)} pages, solutions "
                         f"open: {scrolling} of {counted} code cells scroll sideways (each only for a "
                         f"line longer than its box holds); the narrowest box holds {narrowest} characters")
    reader.assert_clean()


# The layout around the article: its column, the left navigation, the right-hand contents.
LAYOUT = """() => {
    const box = selector => {
        const e = document.querySelector(selector);
        if (!e || !e.checkVisibility({visibilityProperty: true, opacityProperty: true})) return null;
        const r = e.getBoundingClientRect();
        return {left: Math.round(r.left), width: Math.round(r.width)};
    };
    return {article: box('.bd-article-container'), prose: box('.bd-article section > p'),
            nav: box('#pst-primary-sidebar'), contents: box('div.bd-sidebar-secondary'),
            contentsButton: box('.bd-header-article button.secondary-toggle')};
}"""


@pytest.mark.parametrize("width", [1920, 1400])
def test_compare_mode_widens_the_page_keeps_the_sidebars_one_click_away_and_gives_it_back(
        new_reader, site, width):
    pages = _pages_with(site, "div.bd-sidebar-secondary")
    assert pages, "no page has right-hand contents"
    reader = new_reader(viewport={"width": width, "height": 900})
    reader.open(pages[0], f"?{GROUP}={CHOSEN}")
    where = f"{pages[0]} at {width} px"
    normal = reader.page.evaluate(LAYOUT)
    assert normal["nav"] and normal["contents"], f"{where}: the theme's sidebars do not show: {normal}"
    compare_picker(reader).select_option(COMPARED)
    reader.page.wait_for_timeout(500)  # the theme's sidebars slide
    comparing = reader.page.evaluate(LAYOUT)
    assert comparing["article"]["width"] > normal["article"]["width"] + 400, (
        f"{where}: compare mode does not widen the content column: {normal} -> {comparing}")
    assert comparing["prose"]["width"] <= 1.1 * normal["prose"]["width"], (
        f"{where}: prose leaves its reading width in compare mode: {normal} -> {comparing}")
    assert not comparing["contents"] and comparing["contentsButton"], (
        f"{where}: the right-hand contents does not fold behind its header button: {comparing}")
    if width >= 1920:  # room for both panels and the navigation; narrower, it may fold
        assert comparing["nav"], f"{where}: the navigation folds on a wide screen: {comparing}"
    reader.page.locator(".bd-header-article button.secondary-toggle").click()
    contents = reader.page.locator("dialog[open] nav.page-toc a")
    assert contents.count() > 1 and contents.first.is_visible(), f"{where}: one click does not show the contents"
    assert contents.first.evaluate("a => a.getBoundingClientRect().right <= innerWidth"), where
    reader.page.keyboard.press("Escape")
    if comparing["nav"] is None:  # folded for the code: the theme's button brings it back
        reader.page.locator(".bd-header-article button.primary-toggle").click()
        reader.page.wait_for_timeout(500)
        assert reader.page.evaluate(LAYOUT)["nav"], f"{where}: one click does not bring the navigation back"
    compare_picker(reader).select_option("")
    reader.page.wait_for_timeout(500)
    assert reader.page.evaluate(LAYOUT) == normal, f"{where}: compare mode off does not restore the page"
    reader.assert_clean()


# --- phones -----------------------------------------------------------------------
PHONE_LAYOUT = """() => {
    const width = document.documentElement.clientWidth;
    window.scrollTo(width, window.scrollY);  // try to scroll sideways
    const wide = [...document.querySelectorAll('.bd-header-article *, pre')]
        .filter(e => e.checkVisibility() && e.getBoundingClientRect().right > width + 0.5)
        .map(e => e.tagName + '.' + e.className);
    const cut = [...document.querySelectorAll('pre')].filter(p => p.checkVisibility()
        && p.scrollWidth > p.clientWidth && !/auto|scroll/.test(getComputedStyle(p).overflowX)).length;
    // the header's buttons, links and selects: none may cover another
    const controls = [...document.querySelectorAll(
            '.bd-header-article a, .bd-header-article button, .bd-header-article select')]
        .filter(e => e.checkVisibility()).map(e => [e, e.getBoundingClientRect()])
        .filter(([e, r]) => r.width > 0 && r.height > 0);
    const overlaps = [];
    controls.forEach(([a, ra], i) => controls.slice(i + 1).forEach(([b, rb]) => {
        const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        if (x > 1 && y > 1 && !a.contains(b) && !b.contains(a))
            overlaps.push(`${a.tagName}.${a.className} / ${b.tagName}.${b.className}`);
    }));
    return {width, page: document.documentElement.scrollWidth, body: document.body.scrollWidth,
            scrolledX: window.scrollX, wide: wide.slice(0, 5), cut, overlaps,
            codeScrolls: [...document.querySelectorAll('pre')].some(p => p.checkVisibility()
                && p.scrollWidth > p.clientWidth)};
}"""


@pytest.mark.parametrize("docname", PAGES)
def test_phone_page_never_scrolls_sideways_and_tab_rows_fit_one_line(new_reader, docname):
    reader = new_reader(viewport=PHONE)
    for query_string in ("", f"?{GROUP}={CHOSEN}&compare={COMPARED}"):
        where = f"{docname}{query_string} at {PHONE['width']} px"
        reader.open(docname, query_string)
        open_solutions(reader)
        reader.page.wait_for_timeout(200)  # the tab rows are measured again when a solution opens
        layout = reader.page.evaluate(PHONE_LAYOUT)
        assert layout["page"] <= layout["width"] and layout["body"] <= layout["width"], f"{where}: {layout}"
        assert layout["scrolledX"] == 0, f"{where}: the page scrolls sideways: {layout}"
        assert not layout["wide"], f"{where}: wider than the screen: {layout['wide']}"
        assert layout["cut"] == 0, f"{where}: code wider than its box that does not scroll: {layout}"
        assert not layout["overlaps"], f"{where}: header controls cover each other: {layout['overlaps']}"
        for i, ts in enumerate(tab_sets(reader), 1):
            row = ts["row"]
            assert row, f"{where}, tab-set {i}: no tab labels and no selector show"
            tops = {round(e["top"]) for e in row}
            assert max(tops) - min(tops) <= 2, f"{where}, tab-set {i}: the tab row takes several lines: {row}"
            assert all(e["right"] <= ts["set"]["right"] + 1 for e in row), f"{where}, tab-set {i}: {row}"
    reader.assert_clean()


# Each header select against the width its chosen name needs (in the select's own
# font, measured on a canvas), and the controls against the theme's buttons.
HEADER_FIT = """() => {
    const context = document.createElement('canvas').getContext('2d');
    const selects = [...document.querySelectorAll('.bd-header-article select')].map(s => {
        context.font = getComputedStyle(s).font;
        const name = s.selectedOptions[0].textContent;
        return {name, width: s.clientWidth, needs: context.measureText(name).width};
    });
    const controls = document.querySelector('.bm-reader-controls').getBoundingClientRect();
    const buttons = document.querySelector('.header-article-items__end').getBoundingClientRect();
    const sideBySide = controls.top < buttons.bottom && buttons.top < controls.bottom;
    return {selects, clash: sideBySide && controls.right > buttons.left};
}"""


@pytest.mark.parametrize("width", [390, 600, 1000, 1280])
def test_header_shows_the_chosen_names_whole_at_any_width(new_reader, width):
    longest = sorted(KEYS, key=lambda key: len(LABELS[key]))
    reader = new_reader(viewport={"width": width, "height": 800})
    for docname in PAGES:
        reader.open(docname, f"?{GROUP}={longest[-1]}&compare={longest[-2]}")
        fit = reader.page.evaluate(HEADER_FIT)
        where = f"{docname} at {width} px"
        assert [s["name"] for s in fit["selects"]] == [LABELS[longest[-1]], LABELS[longest[-2]]], where
        for select in fit["selects"]:
            # 16 px: the select's arrow, which its text never runs under
            assert select["width"] >= select["needs"] + 16, f"{where}: {select['name']!r} is cut: {select}"
        assert not fit["clash"], f"{where}: the controls run into the theme's buttons"
    reader.assert_clean()


def test_phone_selector_switches_the_framework(new_reader):
    reader = new_reader(viewport=PHONE)
    docname = next(p for p in PAGES if p != PAGES[0])
    reader.open(docname)
    selects = reader.page.locator(".bd-article").get_by_role("combobox", name="Framework", exact=True)
    assert selects.count() > 0, f"{docname} at {PHONE['width']} px: no compact tab selector"
    selects.nth(selects.count() - 1).select_option(CHOSEN)
    reader.assert_all_selected(CHOSEN, f"{docname}, chosen in the last tab-set's selector")
    assert_picker_shows(reader, CHOSEN, docname)
    reader.assert_clean()


# --- accessibility ----------------------------------------------------------------
@pytest.mark.parametrize("docname", PAGES)
def test_no_serious_accessibility_violation_in_compare_mode_and_on_a_phone(new_reader, docname):
    found = {}
    for where, options, query_string in [
            ("compare mode", {}, f"?{GROUP}={CHOSEN}&compare={COMPARED}"),
            ("phone", {"viewport": PHONE}, ""),
            ("phone, compare mode", {"viewport": PHONE}, f"?{GROUP}={CHOSEN}&compare={COMPARED}")]:
        reader = new_reader(**options)
        reader.open(docname, query_string)
        reader.assert_clean()
        open_solutions(reader)
        for rule, finding in serious_violations(reader, where).items():
            found.setdefault(rule, finding)
        reader.assert_clean()
    assert not found, f"{docname}:\n" + "\n".join(found.values())


# --- printing ---------------------------------------------------------------------
PRINTED = """(group) => {
    const shows = e => e.checkVisibility();
    const sets = [...new Set([...document.querySelectorAll(
        `label.sd-tab-label[data-sync-group="${group}"]`)].map(l => l.parentElement))];
    return {
        launch: [...document.querySelectorAll('.launch-bar, .launch-links')].filter(shows).length,
        controls: [...document.querySelectorAll('.bd-header-article select, .bd-header-article a, select')]
            .filter(shows).length,
        labels: [...document.querySelectorAll('.sd-tab-set > label')].filter(shows).length,
        hiddenSets: sets.filter(ts => !shows(ts) && !ts.closest('details:not([open]), .launch-bar')).length,
        panels: sets.filter(shows).map(ts =>
            [...ts.querySelectorAll(':scope > .sd-tab-content')].filter(shows)
                .map(p => p.previousElementSibling.getAttribute('data-sync-id'))),
        openSolutionCode: [...document.querySelectorAll('details[open] pre')].filter(shows).length,
        closedSolutionCode: [...document.querySelectorAll('details:not([open]) pre')].filter(shows).length,
        wraps: [...document.querySelectorAll('.bd-article pre')].every(p =>
            getComputedStyle(p).whiteSpace === 'pre-wrap'),
    };
}"""


def test_print_stylesheet_prints_the_chosen_framework_only(reader, site):
    pages = _pages_with(site, "details.solution")
    assert pages, "no page has a solution"
    docname = pages[0]
    reader.open(docname, f"?{GROUP}={CHOSEN}&compare={COMPARED}")   # compare mode on, too
    solutions = reader.page.locator("details.solution")
    solutions.first.locator("summary").click()
    reader.page.emulate_media(media="print")
    printed = reader.page.evaluate(PRINTED, GROUP)
    reader.page.emulate_media(media="screen")
    assert printed["launch"] == 0, f"{docname}: launch links print: {printed}"
    assert printed["controls"] == 0, f"{docname}: the picker or another control prints: {printed}"
    assert printed["labels"] == 0, f"{docname}: tab labels print: {printed}"
    assert printed["hiddenSets"] == 0, f"{docname}: tab-sets with code do not print: {printed}"
    assert printed["panels"] and all(p == [CHOSEN] for p in printed["panels"]), (
        f"{docname}: printing {CHOSEN} (comparing with {COMPARED}) shows {printed['panels']}")
    assert printed["openSolutionCode"] > 0, f"{docname}: the opened solution does not print"
    if solutions.count() > 1:
        assert printed["closedSolutionCode"] == 0, f"{docname}: a closed solution prints: {printed}"
    assert printed["wraps"], f"{docname}: code is cut at the paper's edge instead of wrapping"
    reader.assert_clean()


# --- screenshots ------------------------------------------------------------------
def luminance(css_colour: str) -> float:
    r, g, b = [float(v) for v in re.findall(r"[\d.]+", css_colour)[:3]]
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_screenshots_desktop_phone_compare_and_dark(new_reader, site, screenshots):
    docname = _pages_with(site, ".sd-tab-content div.cell")[0]
    shots = {
        "desktop": ({}, ""),
        "phone": ({"viewport": PHONE}, ""),
        "compare": ({}, f"?{GROUP}={KEYS[0]}&compare={CHOSEN}"),
        "compare-1400": ({"viewport": {"width": 1400, "height": 900}}, f"?{GROUP}={KEYS[1]}&compare={KEYS[0]}"),
        "compare-1920": ({"viewport": {"width": 1920, "height": 1080}}, f"?{GROUP}={KEYS[1]}&compare={KEYS[0]}"),
        "dark": ({"color_scheme": "dark"}, f"?{GROUP}={COMPARED}"),
    }
    for name, (options, query_string) in shots.items():
        reader = new_reader(**options)
        reader.open(docname, query_string)
        first_code = reader.page.locator(".sd-tab-content div.cell:visible").first
        first_code.scroll_into_view_if_needed()
        reader.page.evaluate("() => window.scrollBy(0, -120)")
        path = screenshots / f"reader-{name}.png"
        reader.page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000, f"{path}: an empty screenshot?"
        assert picker(reader).is_visible(), f"{name}: no picker in view"
        reader.assert_clean()
    # Dark mode reaches the controls too: dark select, light text.
    theme = reader.page.evaluate("() => document.documentElement.dataset.theme")
    assert theme == "dark", f"dark colour scheme, but the theme is {theme!r}"
    colours = picker(reader).evaluate("s => [getComputedStyle(s).backgroundColor, getComputedStyle(s).color]")
    assert luminance(colours[0]) < 0.3 < luminance(colours[1]), f"the picker in dark mode: {colours}"
    assert LABELS[COMPARED] in picker(reader).evaluate("s => s.selectedOptions[0].textContent")
