"""The exported notebooks, as a reader gets them: valid, standalone, clean, and re-run by nbval."""

import json
import re
import subprocess
import sys

import nbformat
import pytest

from bookmachine import config as book_config
from bookmachine.export import notebook_path
from bookmachine.pipeline import toc_files
from conftest import ROOT

CONFIG = book_config.load(ROOT)
PAGES = [p.relative_to(ROOT).with_suffix("").as_posix() for p in toc_files(ROOT)]
BOOK_MARKUP = re.compile(r"^(`{3,}|:{3,})\{|\{(cite|numref|ref|doc|math)(:\w+)?\}`|^\([\w-]+\)=", re.M)

pytestmark = pytest.mark.build


def exported(built_book):
    return [(fw, page, notebook_path(built_book / "notebooks", fw.key, page))
            for fw in CONFIG.built for page in PAGES]


def test_one_valid_notebook_per_page_and_framework(built_book):
    for fw, page, path in exported(built_book):
        assert path.exists(), f"{path} missing"
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        kernel = notebook.metadata.kernelspec
        assert kernel.name == ("python3" if fw.launch else fw.kernel)
        assert fw.label in kernel.display_name


def test_notebooks_hold_no_book_markup_and_no_framework_tags(built_book):
    for fw, page, path in exported(built_book):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                assert not BOOK_MARKUP.search(cell.source), f"{path}: {cell.source[:200]}"
            tags = set(cell.metadata.get("tags", []))
            assert not tags & set(CONFIG.keys), f"{path}: framework tag left in {cell.id}"


def test_notebooks_are_standalone_and_carry_their_outputs(built_book):
    for fw, page, path in exported(built_book):
        notebook = nbformat.read(path, as_version=4)
        assert notebook.cells[0].id == "setup" and "pip" in notebook.cells[0].source
        code_cells = [c for c in notebook.cells[1:] if c.cell_type == "code"]
        if code_cells:
            assert any(c.outputs for c in code_cells), f"{path} has no outputs"
        text = json.dumps(notebook)
        assert " at 0x" not in text, f"{path} shows a memory address"


@pytest.mark.parametrize("framework", [fw.key for fw in CONFIG.built])
def test_nbval_reruns_every_cell_and_outputs_match(built_book, framework):
    """nbval, strict: each notebook re-run in its framework's kernel, outputs compared."""
    fw = CONFIG.framework(framework)
    folder = built_book / "notebooks" / framework
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", str(folder), "-p", "no:cacheprovider",
         "--nbval-kernel-name", fw.kernel, "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"),
         "-q", "-rs", "--rootdir", str(folder)],
        capture_output=True, text=True, cwd=ROOT)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    print(f"nbval {framework}: {summary}")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", summary)
