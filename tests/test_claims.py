"""Claims in the prose, proved by hidden check cells in every framework that reads them."""

from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import pytest
from pypdf import PdfReader

from bookmachine.config import load
from bookmachine.export import notebook_name
from bookmachine.split import read_source, split
from bookmachine.toc import toc_files
from conftest import ROOT, code, prose

CHECKED = ("# Title\n" + prose("Both frameworks add: one and one make two.")
           + code("x = 1 + 1\nprint(x)", "alpha") + code("x = 1 + 1\nprint(x)", "beta")
           + code("# claim: one and one make two\nassert x == 2", "alpha", "beta", "check")
           + prose("Alpha alone says: x is even.", "alpha")
           + prose("Beta says nothing more.", "beta")
           + code("# claim: x is even\nassert x % 2 == 0", "alpha", "check")
           + code("print(x * 10)", "alpha") + code("print(x * 10)", "beta"))


def build(root):
    return subprocess.run([sys.executable, "-m", "bookmachine", "--root", str(root), "build"],
                          capture_output=True, text=True, timeout=600)


def test_checks_run_in_the_build_and_show_nowhere_a_reader_looks(tiny_book):
    root = tiny_book({"page": CHECKED})
    result = build(root)
    assert result.returncode == 0, result.stderr[-3000:]
    html = (root / "_build/html/page.html").read_text()
    assert "one and one make two" in html and "20" in html
    assert "claim:" not in html and "assert" not in html
    for key in ("alpha", "beta"):
        notebook = nbformat.read(root / f"_build/notebooks/{key}/page.ipynb", as_version=4)
        sources = [c.source for c in notebook.cells]
        assert not any("claim:" in s or "assert" in s for s in sources), sources
        # Numbered as the reader's own run numbers them, with no gaps where checks ran.
        counts = [c.execution_count for c in notebook.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1))
        assert notebook.cells[-1].outputs[0]["text"] == "20\n"
    listing = subprocess.run([sys.executable, "-m", "bookmachine", "--root", str(root), "claims"],
                             capture_output=True, text=True, check=True).stdout
    assert listing.splitlines() == [
        "page (2 claims)",
        '  "Both frameworks add: one and one make two."',
        "      'one and one make two': alpha, beta",
        '  "Alpha alone says: x is even."',
        "      'x is even': alpha",
    ]


def test_a_check_cell_takes_no_other_tags(tiny_book):
    root = tiny_book({"page": "# Title\n" + prose("It works.")
                      + code("# claim: It works\nassert True", "alpha", "beta", "check", "raises-exception")})
    result = build(root)
    assert result.returncode != 0
    assert "'check' goes on a code cell" in result.stderr and "cell 3" in result.stderr


# --- the chapter -----------------------------------------------------------------

def chapter_claims() -> str:
    return subprocess.run([sys.executable, "-m", "bookmachine", "claims"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout


def test_the_chapter_lists_its_claims_with_the_frameworks_that_check_them():
    listing = chapter_claims()
    pages = re.findall(r"^(\S+) \((\d+) claims\)$", listing, re.M)
    assert len(pages) == 6, listing
    assert sum(int(n) for _, n in pages) >= 17, listing
    every = "pytorch, jax, nnx, tensorflow, mxnet"
    assert listing.count(f": {every}") >= 3, listing  # shared claims, proved in all five


@pytest.mark.build
def test_no_check_reaches_the_site_the_notebooks_or_the_pdfs(built_book):
    config = load(ROOT)
    exported = 0
    for path in toc_files(ROOT):
        source = read_source(path, ROOT, config.keys)
        for key in config.keys:
            cells = [c for c in split(source, key) if c.kind == "code"]
            checks = [c.source for c in cells if c.has("check")]
            shown = [c.source for c in cells if not c.has("check")]
            notebook = built_book / "notebooks" / key / f"{notebook_name(source.docname)}.ipynb"
            if not notebook.exists():
                continue
            code = [c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
            # The set-up cell, then exactly the cells a reader is shown (solutions carry a title line).
            assert [c.split("\n", 1)[1] if c.startswith("#@title") else c for c in code[1:]] == shown
            assert not set(checks) & set(code)
            exported += 1
    assert exported >= 25
    for path in (built_book / "html").rglob("*.html"):
        assert "# claim:" not in path.read_text(), path
    for path in sorted((built_book / "pdf").glob("*.pdf")):  # printed from the site
        text = " ".join(page.extract_text() for page in PdfReader(path).pages)
        assert "claim:" not in text and "pytest.raises" not in text, path
