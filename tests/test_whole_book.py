"""A book of several chapters (issue 19), generated small: two parts, a chapter in each, and
pages of the same name in both chapters. Built once per module with the `python3` kernel.

One notebook per page whatever its name, launch links that tell the pages apart, an error
when two pages would still share a notebook, Jupyter Book's numbering, the PDFs' contents
page, and execution spread over machines that exchange cache entries.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from conftest import ROOT, code, make_book, prose

KEYS = ("alpha", "beta")
TOC = """\
format: jb-book
root: intro
parts:
  - caption: Part A
    numbered: true
    chapters:
      - file: chapters/one/index
        sections:
          - file: chapters/one/page
  - caption: Part B
    numbered: true
    chapters:
      - file: chapters/two/index
        sections:
          - file: chapters/two/page
"""
TITLES = {"intro": "Introduction", "chapters/one/index": "Chapter One", "chapters/one/page": "A Page",
          "chapters/two/index": "Chapter Two", "chapters/two/page": "A Page"}


BIBLIOGRAPHY = "\n```{bibliography}\n```\n"


def page(docname: str) -> str:
    """A page whose outputs say which page and framework printed them. Both chapters cite
    one reference; the last page holds the book's one bibliography."""
    cite = " {cite:p}`he2016deep`" if docname.endswith("index") else ""
    return (f"# {TITLES[docname]}\n" + prose(f"Words of {docname}.{cite}")
            + "".join(code(f"print('{key} ran {docname}')", key) for key in KEYS)
            + (prose("Shared again.") + BIBLIOGRAPHY if docname == "chapters/two/page" else ""))


def write_book(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    make_book(root, {docname: page(docname) for docname in TITLES}, frameworks=KEYS)
    (root / "_toc.yml").write_text(TOC)
    (root / "references.bib").write_text((ROOT / "references.bib").read_text())
    config = (root / "_config.yml").read_text()
    (root / "_config.yml").write_text(config.replace("sphinx:\n", "bibtex_bibfiles: [references.bib]\nsphinx:\n")
                                      + "    html_context: {default_mode: auto}\n")
    return root


def env(**settings) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in ("BOOKMACHINE_SKIP", "BOOK_PACKAGE_SOURCE")}
    return {**clean, **settings}


def bookmachine(root: Path, *args, environment=None) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "bookmachine", "--root", str(root), *args],
                            capture_output=True, text=True, env=environment or env(), timeout=600)
    return result


def ran(result) -> tuple[int, int]:
    match = re.search(r"executed (\d+) of (\d+) notebooks", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr[-2000:]
    return int(match.group(1)), int(match.group(2))


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    root = write_book(tmp_path_factory.mktemp("whole-book"))
    result = bookmachine(root, "build")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert ran(result) == (10, 10)
    return root


def soup(root: Path, docname: str) -> BeautifulSoup:
    return BeautifulSoup((root / "_build/html" / f"{docname}.html").read_text(), "html.parser")


# --- one notebook per page ------------------------------------------------------------

def test_same_named_pages_of_two_chapters_export_two_notebooks(book):
    exported = book / "_build/notebooks"
    found = sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*.ipynb"))
    assert found == sorted(f"{key}/{name}.ipynb" for key in KEYS
                           for name in ("intro", "one/one", "one/page", "two/two", "two/page"))
    for key in KEYS:
        for chapter in ("one", "two"):
            text = (exported / key / chapter / "page.ipynb").read_text()
            assert f"{key} ran chapters/{chapter}/page" in text
            assert f"Words of chapters/{chapter}/page" in text


def test_each_pages_launch_and_download_links_open_its_own_notebook(book):
    seen = set()
    for chapter in ("one", "two"):
        docname = f"chapters/{chapter}/page"
        html = book / "_build/html" / f"{docname}.html"
        for bar in soup(book, docname).select(".launch-links"):
            key = bar["data-framework"]
            links = {a["data-service"]: a["href"] for a in bar.select("a.launch-link")}
            assert set(links) == {"colab", "download"}, links
            assert links["colab"].endswith(f"/blob/notebooks/{key}/{chapter}/page.ipynb"), links
            target = (html.parent / links["download"]).resolve()
            assert target == (book / "_build/html/_notebooks" / key / chapter / "page.ipynb").resolve()
            assert f"{key} ran {docname}" in target.read_text()
            seen.add(links["colab"])
    assert len(seen) == 4  # two pages x two frameworks, no link shared


def test_the_notebooks_branch_and_its_readme_mirror_the_tree(book, tmp_path):
    result = bookmachine(book, "notebooks-branch", str(tmp_path / "branch"))
    assert result.returncode == 0, result.stderr
    readme = (tmp_path / "branch/README.md").read_text()
    for key in KEYS:
        for chapter in ("one", "two"):
            assert f"[`{key}/{chapter}/page.ipynb`]({key}/{chapter}/page.ipynb)" in readme
            assert (tmp_path / "branch" / key / chapter / "page.ipynb").read_bytes() == \
                (book / "_build/notebooks" / key / chapter / "page.ipynb").read_bytes()


def test_two_pages_that_would_share_a_notebook_fail_before_any_kernel_starts(tmp_path):
    root = write_book(tmp_path)
    # chapters/one/index exports as one/one; so would a page chapters/one/one.
    (root / "chapters/one/one.md").write_text((root / "chapters/one/page.md").read_text())
    (root / "_toc.yml").write_text(TOC.replace("          - file: chapters/one/page\n",
                                               "          - file: chapters/one/page\n"
                                               "          - file: chapters/one/one\n"))
    result = bookmachine(root, "build")
    assert result.returncode == 1
    assert "chapters/one/index.md and chapters/one/one.md" in result.stderr, result.stderr
    assert "<framework>/one/one.ipynb" in result.stderr and "rename one" in result.stderr
    assert "executed" not in result.stdout and not (root / "_build/.bookmachine/outputs").exists()


# --- book structure ----------------------------------------------------------------------

def test_parts_chapters_and_sections_are_numbered_across_parts(book):
    def number(docname):
        found = soup(book, docname).select_one("h1 > .section-number")
        return found.get_text().strip() if found else None
    assert number("intro") is None
    assert [number(f"chapters/{c}/{p}") for c in ("one", "two") for p in ("index", "page")] == \
        ["1.", "1.1.", "2.", "2.1."]


# --- execution spread over machines ------------------------------------------------------

def clone(root: Path) -> tuple[Path, dict]:
    """A copy of the book as another machine holds it: at its own path, with its own
    kernel spec, whose environment names a folder inside the clone (as a .venv would)."""
    write_book(root)
    spec = root / "env" / "jupyter" / "kernels" / "python3" / "kernel.json"
    spec.parent.mkdir(parents=True)
    (root / "env" / "lib").mkdir()
    spec.write_text(json.dumps({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                "display_name": "Python 3", "language": "python",
                                "env": {"PYTHONPATH": str(root / "env" / "lib")}}))
    return root, env(JUPYTER_PATH=str(root / "env" / "jupyter"))


def notebooks(root: Path) -> dict[str, bytes]:
    exported = root / "_build/notebooks"
    return {p.relative_to(exported).as_posix(): p.read_bytes() for p in sorted(exported.rglob("*.ipynb"))}


def test_machines_that_execute_some_frameworks_each_feed_a_build_that_runs_nothing(book, tmp_path):
    (a, env_a), (b, env_b), (c, env_c) = (clone(tmp_path / name) for name in ("a", "b", "c"))
    first = bookmachine(a, "execute", "--frameworks", "alpha", "--cache-out", str(tmp_path / "out-a"),
                        environment=env_a)
    assert first.returncode == 0, first.stderr[-3000:]
    assert ran(first) == (5, 5) and not (a / "_build/html").exists()  # no Sphinx
    second = bookmachine(b, "execute", "--frameworks", "beta", "--cache-out", str(tmp_path / "out-b"),
                         environment=env_b)
    assert second.returncode == 0, second.stderr[-3000:]
    assert ran(second) == (5, 5)
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "out-a").iterdir()) == ["alpha"] * 5
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "out-b").iterdir()) == ["beta"] * 5
    merged = bookmachine(c, "build", "--cache-from", str(tmp_path / "out-a"), str(tmp_path / "out-b"),
                         environment=env_c)
    assert merged.returncode == 0, merged.stdout[-3000:] + merged.stderr[-3000:]
    assert "10 results merged into the local cache, 0 already there, 0 rejected" in merged.stdout
    assert ran(merged) == (0, 10), "the cache keys depend on where the book lies"
    assert notebooks(c) == notebooks(book)  # the same as one machine's build
    again = bookmachine(c, "build", "--cache-from", str(tmp_path / "out-a"), environment=env_c)
    assert "0 results merged into the local cache, 5 already there, 0 rejected" in again.stdout
    assert ran(again) == (0, 10)


def test_a_corrupt_result_from_another_machine_is_rejected_by_path_and_run_here(tmp_path):
    (a, env_a), (c, env_c) = clone(tmp_path / "a"), clone(tmp_path / "c")
    out = tmp_path / "out"
    assert bookmachine(a, "execute", "--frameworks", "alpha,beta", "--cache-out", str(out),
                       environment=env_a).returncode == 0
    entries = sorted(out.iterdir())
    assert len(entries) == 10
    broken, emptied = entries[0], entries[1]
    broken.write_text(broken.read_text()[:-20])  # cut short in transfer
    emptied.write_text("[]")
    (out / "notes.txt").write_text("not an entry")
    result = bookmachine(c, "build", "--cache-from", str(out), environment=env_c)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "8 results merged into the local cache, 0 already there, 3 rejected" in result.stdout
    for path, why in ((broken, "unreadable (JSONDecodeError"), (emptied, "not a list of cells"),
                      (out / "notes.txt", "not a cache entry")):
        assert f"rejected {path}: {why}" in result.stdout, result.stdout
    assert ran(result) == (2, 10)
    assert not (c / "_build/.bookmachine/outputs" / "notes.txt").exists()


def test_execute_and_cache_from_say_what_is_wrong(tmp_path):
    root = write_book(tmp_path / "book")
    result = bookmachine(root, "execute", "--frameworks", "alpha,gamma")
    assert result.returncode == 1 and "unknown framework(s) ['gamma']; known: alpha, beta" in result.stderr
    result = bookmachine(root, "build", "--cache-from", str(tmp_path / "nowhere"))
    assert result.returncode == 1 and f"{tmp_path / 'nowhere'}: --cache-from: not a folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_one_bibliography_serves_every_chapter(book):
    """Both chapters cite he2016deep; the last page lists it once, and both citations link there
    (the build passed with -W, so sphinxcontrib-bibtex warned of no duplicate)."""
    entries = soup(book, "chapters/two/page").select('div.citation, [role="listitem"]')
    assert len(entries) == 1 and "Deep residual learning" in entries[0].get_text()
    for chapter in ("one", "two"):
        links = [a["href"] for a in soup(book, f"chapters/{chapter}/index").select("a") if "HZRS16" in a.get_text()]
        assert links and all(link.startswith("page.html#") if chapter == "two" else link.startswith("../two/page.html#")
                             for link in links), links


def test_a_second_bibliography_is_an_error_naming_both_pages(tmp_path):
    root = write_book(tmp_path)
    index = root / "chapters/one/index.md"
    index.write_text(index.read_text() + prose("More.") + BIBLIOGRAPHY)
    result = bookmachine(root, "build")
    assert result.returncode == 1
    assert "chapters/one/index.md and chapters/two/page.md each hold a {bibliography}: a book keeps one" \
        in result.stderr, result.stderr
    assert "executed" not in result.stdout


@pytest.mark.browser
def test_the_pdf_opens_with_contents_of_parts_chapters_and_sections_and_its_outline_is_the_tree(book):
    from pypdf import PdfReader

    result = bookmachine(book, "pdf")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for key in KEYS:
        reader = PdfReader(book / "_build/pdf" / f"{key}.pdf")

        def tree(items, depth=0):
            for item in items:
                if isinstance(item, list):
                    yield from tree(item, depth + 1)
                else:
                    yield depth, item.title, reader.get_destination_page_number(item) + 1
        outline = list(tree(reader.outline))
        # Every page prints on one sheet here, so the pages start on sheets 2 to 6.
        assert outline == [(0, "Contents", 1), (0, "Introduction", 2),
                           (0, "Part A", 3), (1, "1. Chapter One", 3), (2, "1.1. A Page", 4),
                           (0, "Part B", 5), (1, "2. Chapter Two", 5), (2, "2.1. A Page", 6)], outline
        assert len(reader.pages) == 6
        lines = [" ".join(line.split()) for line in reader.pages[0].extract_text().splitlines() if line.strip()]
        assert lines == ["Tiny", key.capitalize(), "Contents", "Introduction 2", "Part A 3", "1. Chapter One 3",
                         "1.1. A Page 4", "Part B 5", "2. Chapter Two 5", "2.1. A Page 6"], lines
        for _, title, sheet in outline[1:]:
            if not title.startswith("Part"):
                assert " ".join(title.split(". ", 1)[-1].split()) in reader.pages[sheet - 1].extract_text()
        # Each sheet after the contents carries the number the contents give it.
        assert [reader.pages[i].extract_text().split()[-1] for i in range(1, 6)] == ["2", "3", "4", "5", "6"]
    again = bookmachine(book, "pdf")
    assert "printed 0 of 10 page x framework prints (10 cached), 0 contents pages; merged 0" in again.stdout


def test_pages_with_the_same_code_run_once_and_show_the_same_run(tmp_path):
    """A copied page is one cache entry: it runs once, and both pages show that run, now and
    after a rebuild (else a rebuild would change the pages it did not run, and reprint them)."""
    same = "# Same\n" + "".join(code(f"import uuid\nprint('{key}', uuid.uuid4())", key) for key in KEYS)
    root = make_book(tmp_path, {"first": same, "copy": same}, frameworks=KEYS)
    result = bookmachine(root, "build")
    assert result.returncode == 0, result.stderr[-3000:]
    assert ran(result) == (2, 4)
    shown = {name: (root / "_build/notebooks/alpha" / f"{name}.ipynb").read_text() for name in ("first", "copy")}
    printed = [re.search(r"alpha [0-9a-f-]{36}", text).group(0) for text in shown.values()]
    assert printed[0] == printed[1], printed
    again = bookmachine(root, "build")
    assert ran(again) == (0, 4)
    assert (root / "_build/notebooks/alpha/first.ipynb").read_text() == shown["first"]
