"""Stage 1: read a tagged MyST source and split it into one notebook per framework.

A source is a MyST-markdown notebook (jupytext's ``myst`` format). A cell whose
tags include framework keys belongs to those frameworks only; an untagged cell
is shared by all. Other tags are the few listed in ``CELL_TAGS``; anything else
is a typo and an error, so a misspelt framework never becomes an empty tab.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

from .errors import BookError

# Tags a cell may carry besides framework keys, and what they mean.
CELL_TAGS = {
    "solution": "part of an exercise's worked solution (closed on the site until opened)",
    "answer": "a scaffold the reader fills in (an exercise's answer cell); the library check skips it",
    "check": "asserts a claim of the prose above it; runs in the build, shown nowhere (see claims.py)",
    "no-example": "this framework has nothing in this tab group; the cell's text says why",
    "raises-exception": "the cell is meant to raise; its traceback is shown",
    "show-stderr": "the cell's stderr is part of the lesson (e.g. a framework warning)",
    "large-output": "the cell may print up to bookmachine_large_output_limit_kb (not _output_limit_kb)",
    "truncate-output": "the site shows the first lines of each long output; the notebook keeps all",
    "wrap-output": "the site wraps long output lines (sentences, such as a check's verdict)",
    "nbval-ignore-output": "nbval runs the cell but does not compare its output",
    "nbval-skip": "nbval does not run the cell",
}


@dataclass(frozen=True)
class Cell:
    index: int  # 1-based position in the source file, for messages
    kind: str  # "code" or "markdown"
    source: str
    frameworks: frozenset[str] | None  # None: shared by every framework
    tags: tuple[str, ...]  # tags other than framework keys
    line: int = 0  # the line of the source file where the cell's text starts

    def has(self, tag: str) -> bool:
        return tag in self.tags

    def belongs_to(self, key: str) -> bool:
        return self.frameworks is None or key in self.frameworks

    def describe(self) -> str:
        first = next((line for line in self.source.splitlines() if line.strip()), "")
        return f"{self.kind} cell starting {first[:60]!r}"


@dataclass(frozen=True)
class Source:
    path: Path  # the .md file
    docname: str  # path from the book root without suffix, e.g. chapters/x/index
    cells: tuple[Cell, ...]

    @property
    def name(self) -> str:
        return Path(self.docname).name


def read_source(path: Path, root: Path, framework_keys) -> Source:
    """Parse and check one source file."""
    path = Path(path)
    try:
        notebook = jupytext.reads(path.read_text(), fmt="md:myst")
    except Exception as exc:  # jupytext's own errors say little about where
        raise BookError(f"cannot be read as a MyST notebook: {exc}", path=path) from exc
    keys = list(framework_keys)
    cells = []
    lines = _first_lines(path.read_text(), notebook.cells)
    for position, nb_cell in enumerate(notebook.cells, start=1):
        if nb_cell.cell_type not in ("code", "markdown"):
            raise BookError(f"unsupported {nb_cell.cell_type} cell", path=path, cell=position)
        tags = list(nb_cell.metadata.get("tags", []))
        frameworks = frozenset(t for t in tags if t in keys) or None
        others = tuple(t for t in tags if t not in keys)
        for tag in others:
            if tag not in CELL_TAGS:
                raise BookError(
                    f"unknown tag '{tag}'. Framework tags are: {', '.join(keys)}; "
                    f"other tags: {', '.join(CELL_TAGS)}",
                    path=path, cell=position,
                )
        cell = Cell(position, nb_cell.cell_type, nb_cell.source, frameworks, others, lines[position - 1])
        if cell.has("no-example") and (cell.kind != "markdown" or not frameworks or len(frameworks) != 1):
            raise BookError("'no-example' goes on a markdown cell tagged with exactly one framework",
                            path=path, cell=position)
        if cell.has("check") and (cell.kind != "code" or set(others) - {"check", "solution"}):
            raise BookError("'check' goes on a code cell with framework tags and, inside a solution, "
                            "'solution'; a check is never shown, so other tags mean nothing there",
                            path=path, cell=position)
        cells.append(cell)
    docname = path.resolve().relative_to(root.resolve()).with_suffix("").as_posix()
    return Source(path, docname, tuple(cells))


def _first_lines(text: str, nb_cells) -> list[int]:
    """For each cell, the 1-based line of the file where its text starts (0 if not found)."""
    lines = text.split("\n")
    found, at = [], 0
    for nb_cell in nb_cells:
        source = nb_cell.source.split("\n")
        leading = next((n for n, line in enumerate(source) if line.strip()), None)
        line_no = 0
        if leading is not None:
            for i in range(at, len(lines)):
                if lines[i] == source[leading]:
                    line_no, at = i + 1 - leading, i + 1
                    break
        found.append(line_no)
    return found


def split(source: Source, key: str) -> list[Cell]:
    """The cells one framework's notebook holds, in source order."""
    return [cell for cell in source.cells if cell.belongs_to(key)]


def has_code(source: Source, key: str) -> bool:
    """Whether framework ``key`` has a code cell on the page (else it gets no notebook there)."""
    return any(cell.kind == "code" for cell in split(source, key))


def to_notebook_cell(cell: Cell, *, keep_tags=True):
    """An nbformat cell for ``cell``; framework tags never leave the source."""
    make = nbformat.v4.new_code_cell if cell.kind == "code" else nbformat.v4.new_markdown_cell
    nb_cell = make(cell.source)
    nb_cell.metadata["tags"] = [t for t in cell.tags if keep_tags or t.startswith("nbval")]
    if not nb_cell.metadata["tags"]:
        del nb_cell.metadata["tags"]
    return nb_cell
