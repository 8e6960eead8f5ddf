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
from bookmachine.split import has_code, read_source
from conftest import ROOT, SUMMARY_LINES

CONFIG = book_config.load(ROOT)
SOURCES = [read_source(p, ROOT, CONFIG.keys) for p in toc_files(ROOT)]
BOOK_MARKUP = re.compile(r"^(`{3,}|:{3,})\{|\{(cite|numref|ref|doc|math)(:\w+)?\}`|^\([\w-]+\)=", re.M)

pytestmark = pytest.mark.build


def exported(built_book):
    """(framework, page, notebook) for every page where the framework has code."""
    return [(fw, source.docname, notebook_path(built_book / "notebooks", fw.key, source.docname))
            for fw in CONFIG.built for source in SOURCES if has_code(source, fw.key)]


def test_a_page_without_code_exports_no_notebook(built_book):
    for fw in CONFIG.built:
        for source in SOURCES:
            path = notebook_path(built_book / "notebooks", fw.key, source.docname)
            assert path.exists() == has_code(source, fw.key), path


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
        setup = notebook.cells[0]
        assert setup.id == "setup" and "pip" in setup.source
        # Folded, with a title that says what it does (Colab's form view, JupyterLab).
        assert setup.source.startswith("#@title Set-up:") and setup.metadata.cellView == "form"
        assert setup.metadata.jupyter.source_hidden and "outputs_hidden" not in setup.metadata.jupyter
        code_cells = [c for c in notebook.cells[1:] if c.cell_type == "code"]
        if code_cells:
            assert any(c.outputs for c in code_cells), f"{path} has no outputs"
        text = json.dumps(notebook)
        assert " at 0x" not in text, f"{path} shows a memory address"


@pytest.mark.parametrize("framework", [fw.key for fw in CONFIG.built])
def test_nbval_reruns_every_cell_and_outputs_match(built_book, framework):
    """nbval, strict: each notebook re-run in its framework's kernel, every output compared.

    Outputs repeat exactly (every framework is seeded), so there is no sanitize
    file: nothing is masked. Cells nbval must skip or not compare would carry
    the tags nbval-skip / nbval-ignore-output; they are listed here.
    """
    fw = CONFIG.framework(framework)
    folder = built_book / "notebooks" / framework
    notebooks = sorted(folder.rglob("*.ipynb"))
    code_cells, exempt = 0, []
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                code_cells += 1
                tags = {"nbval-skip", "nbval-ignore-output"} & set(cell.metadata.get("tags", []))
                exempt += [f"{path.name} {cell.id}: {tag}" for tag in sorted(tags)]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", str(folder), "-p", "no:cacheprovider",
         "--nbval-kernel-name", fw.kernel, "-q", "-rs", "--rootdir", str(folder)],
        capture_output=True, text=True, cwd=ROOT)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    SUMMARY_LINES.append(f"nbval {framework}: {len(notebooks)} notebooks, {passed} of {code_cells} code cells re-run "
          f"and compared exactly, 0 sanitized (no sanitize file), {len(exempt)} skipped or not compared"
          + "".join(f"\n  {line}" for line in exempt))
    assert passed == code_cells - sum("nbval-skip" in line for line in exempt)
