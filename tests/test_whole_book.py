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

from conftest import code, make_book, prose

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


def page(docname: str) -> str:
    """A page whose outputs say which page and framework printed them."""
    return (f"# {TITLES[docname]}\n" + prose(f"Words of {docname}.")
            + "".join(code(f"print('{key} ran {docname}')", key) for key in KEYS))


def write_book(root: Path) -> Path:
    make_book(root, {docname: page(docname) for docname in TITLES}, frameworks=KEYS)
    (root / "_toc.yml").write_text(TOC)
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
