"""The built site, read as HTML: tabs, their order, and what each tab holds."""

import re

import nbformat
import pytest
from bs4 import BeautifulSoup

from bookmachine import config as book_config
from bookmachine.export import notebook_path
from bookmachine.job import ANSI
from bookmachine.merge import shorten_installed_paths
from bookmachine.pipeline import toc_files
from bookmachine.split import has_code, read_source
from bookmachine.tabs import Solution, TabGroup, group
from conftest import ROOT

CONFIG = book_config.load(ROOT)
LABELS = [fw.label for fw in CONFIG.frameworks]
pytestmark = pytest.mark.build


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9_]+", text)


def tab_groups(blocks):
    for block in blocks:
        if isinstance(block, TabGroup):
            yield block
        elif isinstance(block, Solution):
            yield from tab_groups(block.blocks)


def pages():
    for path in toc_files(ROOT):
        source = read_source(path, ROOT, CONFIG.keys)
        yield source, list(tab_groups(group(source, CONFIG.keys)))


def html_of(built_book, docname):
    return BeautifulSoup((built_book / "html" / f"{docname}.html").read_text(), "html.parser")


def panels(tab_set):
    """(label, panel) pairs of a sphinx-design tab-set, in order."""
    labels = [label.get_text(strip=True) for label in tab_set.find_all("label", recursive=False)]
    contents = tab_set.find_all("div", class_="sd-tab-content", recursive=False)
    return list(zip(labels, contents))


def test_every_tab_set_has_one_tab_per_framework_in_config_order(built_book):
    for source, _ in pages():
        tab_sets = html_of(built_book, source.docname).select("div.sd-tab-set")
        assert tab_sets, source.docname
        for tab_set in tab_sets:
            assert [label for label, _ in panels(tab_set)] == LABELS, source.docname
            assert {i.get("data-sync-group") for i in tab_set.find_all("label", recursive=False)} == {"framework"}


def executed_outputs(built_book, fw, docname) -> dict[int, list]:
    """Source cell index -> that cell's outputs in the framework's exported notebook."""
    path = notebook_path(built_book / "notebooks", fw.key, docname)
    if not path.exists():
        return {}
    cells = nbformat.read(path, as_version=4).cells
    return {int(c.id.removeprefix("cell-")): c.get("outputs", []) for c in cells if c.id.startswith("cell-")}


def first_line(output) -> str | None:
    """The first line of an output's text as the page must show it (None: an image)."""
    if output.output_type == "stream":
        text = output.text
    elif output.output_type == "error":
        text = f"{output.ename}: {output.evalue}"
    elif "text/plain" in output.get("data", {}) and not {"image/png", "image/svg+xml"} & set(output.data):
        text = output.data["text/plain"]
    else:
        return None
    text = shorten_installed_paths(ANSI.sub("", text))
    return next((" ".join(words(line)) for line in text.splitlines() if words(line)), "")


def test_each_tab_holds_its_frameworks_prose_code_and_output(built_book):
    compared = 0
    for source, groups in pages():
        soup = html_of(built_book, source.docname)
        tab_sets = [t for t in soup.select("div.sd-tab-set") if "launch-bar" not in t.get("class", [])]
        assert len(tab_sets) == len(groups), f"{source.docname}: {len(tab_sets)} tab-sets for {len(groups)} groups"
        for tab_set, tab_group in zip(tab_sets, groups):
            for (label, panel), fw in zip(panels(tab_set), CONFIG.frameworks):
                panel_words = " ".join(words(panel.get_text(" ")))
                for cell in tab_group.cells[fw.key]:
                    if cell.kind == "markdown":
                        opening = " ".join(words(cell.source)[:6])
                        assert opening in panel_words, f"{source.docname} {label}: prose {opening!r} missing"
                # Code cells in order, each with exactly the outputs its notebook has.
                code_cells = [c for c in tab_group.cells[fw.key] if c.kind == "code"]
                blocks = [b for b in panel.select("div.cell") if b.find_parent("div", class_="sd-tab-content") is panel]
                assert len(blocks) == len(code_cells), f"{source.docname} {label}: {len(blocks)} code blocks"
                outputs = executed_outputs(built_book, fw, source.docname)
                for cell, block in zip(code_cells, blocks):
                    where = f"{source.docname} {label} cell {cell.index}"
                    code = " ".join(words(cell.source))
                    assert " ".join(words(block.select_one("pre").get_text())) == code, f"{where}: other code"
                    shown = block.select_one("div.cell-output")
                    if fw.key in CONFIG.skip:
                        assert shown is None, f"{where}: output of a framework this build skipped"
                        continue
                    expected = outputs[cell.index]
                    assert (shown is not None) == bool(expected), f"{where}: output {'missing' if expected else 'extra'}"
                    shown_words = " ".join(words(shown.get_text(" "))) if shown else ""
                    for output in expected:
                        line = first_line(output)
                        if line is None:
                            assert shown.select("img"), f"{where}: image output missing"
                        else:
                            assert line in shown_words, f"{where}: output {line!r} not shown"
                        compared += 1
                # No other framework's own prose leaks into this tab.
                for other in CONFIG.frameworks:
                    if other.key == fw.key:
                        continue
                    for cell in tab_group.cells[other.key]:
                        if cell.kind == "markdown" and cell.frameworks == frozenset({other.key}):
                            whole = " ".join(words(cell.source))
                            own = [" ".join(words(c.source)) for c in tab_group.cells[fw.key]]
                            if any(whole in text for text in own):
                                continue  # the same words are this framework's own too
                            assert whole not in panel_words, f"{source.docname} {label}: {other.label} prose"
    assert compared, "no output was compared"


def test_no_page_names_the_build_machines_folders(built_book):
    """A warning or error about a library file shows its path from site-packages on."""
    for page in sorted((built_book / "html").rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        assert str(ROOT) not in text, f"{page.relative_to(built_book)} names this checkout's folder {ROOT}"


def test_launch_bar_on_every_page_with_code_follows_the_frameworks(built_book):
    for source, _ in pages():
        bar = html_of(built_book, source.docname).select_one("div.sd-tab-set.launch-bar")
        if not any(has_code(source, key) for key in CONFIG.keys):
            assert bar is None, f"{source.docname} has no code, so nothing to launch"
            continue
        assert bar is not None, source.docname
        for (label, panel), fw in zip(panels(bar), CONFIG.frameworks):
            services = [a["data-service"] for a in panel.select("a.launch-link")]
            expected = [] if not has_code(source, fw.key) else (
                list(fw.launch) + ([] if fw.key in CONFIG.skip else ["download"]))
            assert services == expected, (source.docname, label)


def test_every_example_exists_in_every_framework():
    """Coverage over the sources: each tab group with code has code in every framework
    (or an explicit no-example cell), named when missing."""
    missing = []
    for source, groups in pages():  # grouping itself already rejects an empty tab
        for tab_group in groups:
            if not any(c.kind == "code" for cells in tab_group.cells.values() for c in cells):
                continue  # a prose-only group
            for fw in CONFIG.frameworks:
                cells = tab_group.cells[fw.key]
                if not any(c.kind == "code" or c.has("no-example") for c in cells):
                    missing.append(f"{source.path.name} cell {tab_group.first.index}: no {fw.label} code")
    assert not missing, "\n".join(missing)


def test_every_figure_a_cell_draws_says_in_its_alt_text_what_it_shows(built_book):
    """A screen reader hears the module tree: its title, then each module and its arrays."""
    figures = 0
    for path in (built_book / "html").rglob("*.html"):
        for image in BeautifulSoup(path.read_text(), "html.parser").select("img.output-image"):
            alt = image.get("alt", "")
            assert alt.startswith("Module tree of this "), (path.name, alt[:120])
            assert "NestMLP" in alt or "ListSequential" in alt, (path.name, alt[:200])
            assert re.search(r"\(\d+, -?\d+\)", alt), alt[:200]  # the weights' shapes (-1: not known yet)
            figures += 1
    assert figures >= 7  # the chimera in each framework; the plain-list module in PyTorch and MXNet
