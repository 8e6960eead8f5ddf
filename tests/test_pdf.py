"""The chapter as one PDF per framework (``python -m bookmachine pdf``, issue 14).

Each ``_build/pdf/<key>.pdf`` is read back with pypdf: it holds every page of
``_toc.yml`` in order, all of its framework's code (solutions included, so they
were printed open) and none of another framework's, no launch links, the
figures' text and typeset math rather than TeX. Which code lines belong to one
framework only is worked out from the tagged sources, not written down here.

    BOOK_PREBUILT=1 .venv/bin/python -m pytest tests/test_pdf.py
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup
from pypdf import PdfReader

from bookmachine import config as book_config
from bookmachine import pdf as pdf_stage
from bookmachine.pipeline import toc_files
from bookmachine.split import read_source
# Its asserts get pytest's explanations too (it is imported before pytest_plugins is read).
pytest.register_assert_rewrite("browser_support")
from browser_support import PAGES, ROOT, _soup
from conftest import SUMMARY_LINES

pytest_plugins = ["browser_support"]
pytestmark = pytest.mark.browser

CONFIG = book_config.load(ROOT, skip="")
KEYS = CONFIG.keys
LABELS = {fw.key: fw.label for fw in CONFIG.frameworks}


def squeeze(text: str) -> str:
    """Text without any whitespace (PDF lines break anywhere) and ligatures undone."""
    return "".join(unicodedata.normalize("NFKC", text).split())


@functools.lru_cache(maxsize=None)
def own_code_lines() -> dict[str, list[tuple[str, bool]]]:
    """Per framework: (line, from a solution?) of its code that nothing another framework's
    PDF may show contains: no other framework's cell, no shared cell."""
    cells = [c for path in toc_files(ROOT) for c in read_source(path, ROOT, KEYS).cells]
    lines = {}
    for key in KEYS:
        elsewhere = "\n".join(squeeze(c.source) for c in cells
                              if any(c.belongs_to(other) for other in KEYS if other != key))
        lines[key] = [(line.strip(), c.has("solution"))
                      for c in cells if c.kind == "code" and c.frameworks and key in c.frameworks
                      and not c.has("check")  # hidden: proves the prose, shown nowhere
                      for line in c.source.splitlines()
                      if len(squeeze(line)) >= 12 and not line.strip().startswith("#")
                      and squeeze(line) not in elsewhere]
    return lines


def outline_tree(reader: PdfReader, items=None, depth: int = 0) -> list[tuple[int, str, int]]:
    """[(depth, title, first sheet)] of the whole outline, in order."""
    found = []
    for item in reader.outline if items is None else items:
        if isinstance(item, list):
            found += outline_tree(reader, item, depth + 1)
        else:
            found.append((depth, item.title, reader.get_destination_page_number(item)))
    return found


@functools.lru_cache(maxsize=None)
def read_pdf(path: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """(text of each sheet, [(outline title, first sheet)] of the book's pages: the
    contents page, which opens the PDF with an outline entry of its own, left out)."""
    reader = PdfReader(path)
    texts = [page.extract_text() or "" for page in reader.pages]
    outline = [(title, start) for _, title, start in outline_tree(reader)]
    assert outline[0] == ("Contents", 0), f"{path} does not open with its contents: {outline[:2]}"
    return texts, outline[1:]


def page_title(site: Path, docname: str) -> str:
    h1 = BeautifulSoup((site / f"{docname}.html").read_text(), "html.parser").find("h1")
    for link in h1.select("a.headerlink"):
        link.decompose()
    return " ".join(h1.get_text().split())


def sheets_of(site: Path, key: str, docname: str, pdfs: Path) -> str:
    """The text of the sheets that print page ``docname`` in ``key``'s PDF."""
    texts, outline = read_pdf(pdfs / f"{key}.pdf")
    starts = [start for _, start in outline] + [len(texts)]
    i = PAGES.index(docname)
    return squeeze("".join(texts[starts[i]:starts[i + 1]]))


@pytest.mark.parametrize("key", KEYS)
def test_pdf_exists_in_build_and_in_the_site(pdfs, site, key):
    made = pdfs / f"{key}.pdf"
    assert made.is_file() and made.stat().st_size > 10_000, f"{made} is missing or empty"
    copy = site / pdf_stage.SITE_DIR / f"{key}.pdf"
    assert copy.is_file() and copy.read_bytes() == made.read_bytes(), f"{copy} is not {made}"


@pytest.mark.parametrize("key", KEYS)
def test_pdf_holds_every_page_in_order(pdfs, site, key):
    texts, outline = read_pdf(pdfs / f"{key}.pdf")
    titles = [page_title(site, docname) for docname in PAGES]
    assert [title for title, _ in outline] == titles, f"{key}.pdf: outline {outline}, pages {titles}"
    starts = [start for _, start in outline]
    assert starts == sorted(set(starts)), f"{key}.pdf: pages out of order or empty: {outline}"
    for (title, start), end in zip(outline, starts[1:] + [len(texts)]):
        assert squeeze(title) in squeeze("".join(texts[start:end])), f"{key}.pdf: '{title}' not on its sheets"


@pytest.mark.parametrize("key", KEYS)
def test_pdf_opens_with_a_contents_page_of_every_page_and_where_it_starts(pdfs, site, key):
    texts, outline = read_pdf(pdfs / f"{key}.pdf")
    reader = PdfReader(pdfs / f"{key}.pdf")
    assert [depth for depth, _, _ in outline_tree(reader)] == [0] * (len(PAGES) + 1)  # no parts: a flat tree
    lines = [" ".join(line.split()) for line in texts[0].splitlines() if line.strip()]
    assert lines[:3] == [CONFIG.title, LABELS[key], "Contents"], lines[:3]
    expected = [f"{page_title(site, docname)} {start + 1}" for docname, (_, start) in zip(PAGES, outline)]
    assert lines[3:] == expected, f"{key}.pdf contents: {lines[3:]}, pages start at {expected}"
    assert outline[0][1] == 1  # the contents fit on one sheet
    numbers = [text.split()[-1] if text.split() else "" for text in texts[1:]]
    assert numbers == [str(sheet) for sheet in range(2, len(texts) + 1)], f"{key}.pdf sheet numbers: {numbers}"


@pytest.mark.parametrize("key", KEYS)
def test_pdf_holds_its_frameworks_code_and_no_other(pdfs, key):
    text = squeeze("".join(read_pdf(pdfs / f"{key}.pdf")[0]))
    own = own_code_lines()
    assert len(own[key]) >= 5, f"only {len(own[key])} code lines belong to {key} alone: {own[key]}"
    assert any(solution for _, solution in own[key]), f"no solution code of {key} to look for"
    missing = [line for line, _ in own[key] if squeeze(line) not in text]
    assert not missing, f"{key}.pdf lacks {len(missing)} of its {len(own[key])} code lines: {missing[:5]}"
    foreign = {other: [line for line, _ in own[other] if squeeze(line) in text] for other in KEYS if other != key}
    foreign = {other: lines for other, lines in foreign.items() if lines}
    assert not foreign, f"{key}.pdf shows other frameworks' code: {foreign}"
    SUMMARY_LINES.append(f"{key}.pdf: all {len(own[key])} of its own code lines (solutions included), "
                         f"none of {sum(len(own[o]) for o in KEYS if o != key)} of the others'")


@pytest.mark.parametrize("key", KEYS)
def test_pdf_has_no_launch_links(pdfs, site, key):
    launch_texts = {squeeze(a.get_text()) for docname in PAGES
                    for a in _soup(site, docname).select(".launch-link, .launch-note")} - {""}
    assert launch_texts, "no launch link in the built site to look for"
    text = squeeze("".join(read_pdf(pdfs / f"{key}.pdf")[0]))
    printed = [t for t in launch_texts if t in text]
    assert not printed, f"{key}.pdf prints launch links or notes: {printed}"


@pytest.mark.parametrize("key", KEYS)
def test_pdf_figures_and_math_are_rendered(pdfs, site, key):
    figures = [(p, img) for p in PAGES for img in _soup(site, p).select("figure img")]
    assert figures, "no figure in the book"
    for docname, img in figures:
        sheets = sheets_of(site, key, docname, pdfs)
        source = (site / docname).parent / img["src"]
        if source.suffix == ".svg":   # printed as vectors: its words are text in the PDF
            words = [squeeze(t.get_text()) for t in BeautifulSoup(source.read_text(), "html.parser").find_all("text")]
            missing = [w for w in words if w and w not in sheets]
            assert not missing, f"{key}.pdf, {docname}: figure {img['src']} not drawn: {missing}"
        else:
            texts, outline = read_pdf(pdfs / f"{key}.pdf")
            reader = PdfReader(pdfs / f"{key}.pdf")
            start = dict(outline)[page_title(site, docname)]
            assert any(reader.pages[i].images for i in range(start, len(texts))), f"{key}.pdf: no image"
    math_pages = [p for p in PAGES if _soup(site, p).select(".math")]
    assert math_pages, "no math in the book"
    for docname in math_pages:
        sheets = sheets_of(site, key, docname, pdfs)
        tex = {cmd for m in _soup(site, docname).select(".math") for cmd in re.findall(r"\\[A-Za-z]+", m.get_text())}
        raw = [t for t in [r"\(", r"\[", "$$", *tex] if t in sheets]
        assert not raw, f"{key}.pdf, {docname}: math printed as TeX: {raw}"


def test_a_second_run_prints_nothing(pdfs):
    result = subprocess.run([sys.executable, "-m", "bookmachine", "pdf"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = re.search(r"printed (\d+) of (\d+)", result.stdout)
    assert printed and printed.group(1) == "0" and int(printed.group(2)) == len(PAGES) * len(KEYS), result.stdout
    assert ", 0 contents pages;" in result.stdout, result.stdout


def test_cache_key_follows_the_page_and_what_it_loads(site, tmp_path):
    """No browser: which prints a changed page or stylesheet makes stale."""
    copy = tmp_path / "html"
    shutil.copytree(site, copy, ignore=shutil.ignore_patterns(pdf_stage.SITE_DIR))
    before = {(p.docname, p.framework.key): p.digest for p in pdf_stage.plan(CONFIG, copy)}
    assert len(before) == len(PAGES) * len(KEYS)
    changed_page = copy / f"{PAGES[-1]}.html"
    changed_page.write_text(changed_page.read_text().replace("</article>", "<p>new</p></article>", 1))
    after = {(p.docname, p.framework.key): p.digest for p in pdf_stage.plan(CONFIG, copy)}
    assert {k for k in before if before[k] != after[k]} == {(PAGES[-1], key) for key in KEYS}
    stylesheet = copy / "_static" / "bookmachine.css"
    stylesheet.write_text(stylesheet.read_text() + "\n/* changed */\n")
    again = {(p.docname, p.framework.key): p.digest for p in pdf_stage.plan(CONFIG, copy)}
    assert all(again[k] != after[k] for k in after), "a changed stylesheet left prints cached"


def test_a_page_that_cannot_print_is_named(site, tmp_path):
    """A figure missing from the site: the stage stops and names the page and framework."""
    root = tmp_path / "book"
    root.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, root / name)
    for path in toc_files(ROOT):
        (root / path.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / path.relative_to(ROOT))
    html = root / "_build" / "html"
    shutil.copytree(site, html, ignore=shutil.ignore_patterns(pdf_stage.SITE_DIR))
    docname, img = next((p, img) for p in PAGES for img in _soup(site, p).select("figure img"))
    ((html / docname).parent / img["src"]).unlink()
    # A process of its own, as a reader runs it (and Playwright's sync API runs once per process).
    result = subprocess.run([sys.executable, "-m", "bookmachine", "--root", str(root), "pdf"],
                            capture_output=True, text=True)
    message = result.stderr
    assert result.returncode == 1, result.stdout + message
    assert f"{docname}.html" in message and f"'{KEYS[0]}'" in message and "image" in message, message
    assert not (root / "_build" / "pdf").exists(), "a PDF was written although a page could not print"


def test_publishing_puts_the_pdfs_in_the_site_before_uploading_it():
    steps = yaml.safe_load((ROOT / ".github" / "workflows" / "publish.yml").read_text())["jobs"]["build"]["steps"]
    runs = [" ".join(str(step.get("run", "")).split()) for step in steps]
    uses = [step.get("uses", "") for step in steps]
    printing = next((i for i, run in enumerate(runs) if "-m bookmachine pdf" in run), None)
    upload = next(i for i, use in enumerate(uses) if use.startswith("actions/upload-pages-artifact@"))
    assert printing is not None and printing < upload, "publish.yml uploads the site without its PDFs"
    assert "bookmachine pdf" in (ROOT / "Makefile").read_text(), "`make book` does not make the PDFs"
