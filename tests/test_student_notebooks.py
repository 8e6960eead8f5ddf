"""Notebooks an instructor hands out: every solution removed, the exercises' checks kept."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from bookmachine import config as book_config
from bookmachine.export import notebook_name
from bookmachine.split import read_source, split
from bookmachine.toc import toc_files
from conftest import ROOT

CONFIG = book_config.load(ROOT)
SOURCES = [read_source(path, ROOT, CONFIG.keys) for path in toc_files(ROOT)]
EXERCISES = next(s for s in SOURCES if any(c.has("solution") for c in s.cells))

pytestmark = pytest.mark.build


@pytest.fixture(scope="module")
def student(built_book, tmp_path_factory):
    target = tmp_path_factory.mktemp("handout") / "notebooks"
    result = subprocess.run([sys.executable, "-m", "bookmachine", "notebooks", "--without-solutions",
                             str(target)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "(ran 0 of" in result.stdout  # made from the build's cache
    return target


def solution_lines(key: str) -> set[str]:
    """Lines only a solution holds (not also an answer, a check call or the prose around them)."""
    cells = split(EXERCISES, key)
    solution = {code(line) for c in cells if c.has("solution") for line in c.source.splitlines()}
    elsewhere = {code(line) for c in cells if not c.has("solution") for line in c.source.splitlines()}
    return {line for line in solution - elsewhere if len(line) > 3}


def code(line: str) -> str:
    """A line without its comment, e.g. the answer cell's `# your answer`."""
    return line.split("  #", 1)[0].strip()


@pytest.mark.parametrize("key", [fw.key for fw in CONFIG.built])
def test_no_solution_line_reaches_the_handout_and_the_answers_and_checks_stay(student, built_book, key):
    name = f"{notebook_name(EXERCISES.docname)}.ipynb"
    handout = nbformat.read(student / key / name, as_version=4)
    text = "\n".join(cell.source for cell in handout.cells)
    hidden = solution_lines(key)
    assert len(hidden) > 20
    leaked = sorted(line for line in hidden if line in text)
    assert not leaked, leaked
    assert "Solution" not in [c.source.lstrip("# ") for c in handout.cells if c.cell_type == "markdown"]
    for check in ("check_list_sequential(", "check_parallel(Parallel)", "check_chain(chain_copies"):
        assert check in text, check
    answers = [c for c in split(EXERCISES, key) if c.has("answer")]
    assert len(answers) == 3 and all(a.source in text for a in answers)
    full = nbformat.read(built_book / "notebooks" / key / name, as_version=4)
    assert len(handout.cells) < len(full.cells)
    # Pages without solutions are handed out as they are.
    for source in SOURCES:
        other = f"{notebook_name(source.docname)}.ipynb"
        if source is not EXERCISES and (student / key / other).exists():
            assert (student / key / other).read_text() == (built_book / "notebooks" / key / other).read_text()


@pytest.mark.parametrize("key", [fw.key for fw in CONFIG.built])
def test_the_handout_runs_top_to_bottom_and_every_check_says_not_answered_yet(student, key):
    fw = CONFIG.framework(key)
    path = student / key / f"{notebook_name(EXERCISES.docname)}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, kernel_name=fw.kernel, timeout=300,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert not [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
                if o["output_type"] == "error"]
    for exercise in (1, 2, 3):
        assert f"Exercise {exercise}: not answered yet." in printed
