"""One framework's notebook of one page: what execute fills and merge and export read."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .config import Framework
from .split import Cell

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # terminal colours in tracebacks


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


@dataclass
class Job:
    path: Path  # the source file, for messages and as the working directory
    framework: Framework
    setup: str  # the set-up cell's code (see export.setup_cell)
    cells: list[Cell]  # the framework's cells, markdown included
    outputs: list = field(default_factory=list)  # per code cell, set-up first

    @property
    def code_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "code"]
