"""Stage 4a: group cells into tab-sets and write sphinx-design markup for them.

A run of consecutive framework-tagged cells is one tab group: it becomes one
``tab-set`` with one tab per framework, in the configured order, all in sync
group ``framework`` so one click switches every tab on the page, the choice
is remembered, and ``?framework=KEY`` selects it. A run of consecutive
``solution`` cells becomes one closed dropdown, grouped the same way inside.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BookError
from .split import Cell, Source

SYNC_GROUP = "framework"


@dataclass
class Shared:
    cell: Cell


@dataclass
class TabGroup:
    cells: dict[str, list[Cell]]  # framework key -> its cells, in order

    @property
    def first(self) -> Cell:
        return min((c for cells in self.cells.values() for c in cells), key=lambda c: c.index)


@dataclass
class Solution:
    blocks: list


def group(source: Source, keys, cells=None, in_solution: bool = False) -> list:
    """Blocks of ``source`` (or of ``cells``): Shared, TabGroup and Solution.

    Check cells are left out: they prove the prose in the build and show nowhere.
    """
    cells = [c for c in (source.cells if cells is None else cells) if not c.has("check")]
    blocks, i = [], 0
    while i < len(cells):
        cell = cells[i]
        if cell.has("solution") and not in_solution:
            j = _run_end(cells, i, lambda c: c.has("solution"))
            blocks.append(Solution(group(source, keys, cells[i:j], in_solution=True)))
        elif cell.frameworks is None:
            j = i + 1
            blocks.append(Shared(cell))
        else:
            j = _run_end(cells, i, lambda c: c.frameworks is not None
                         and (in_solution or not c.has("solution")))
            tab_group = TabGroup({key: [c for c in cells[i:j] if c.belongs_to(key)] for key in keys})
            _check(source, tab_group)
            blocks.append(tab_group)
        i = j
    return blocks


def _run_end(cells, start: int, member) -> int:
    end = start
    while end < len(cells) and member(cells[end]):
        end += 1
    return end


def _check(source: Source, tab_group: TabGroup) -> None:
    missing = [key for key, cells in tab_group.cells.items() if not cells]
    if missing:
        first = tab_group.first
        raise BookError(
            f"the tab group starting here ({first.describe()}) has no cell for "
            f"{', '.join(repr(m) for m in missing)}. Add one tagged with that framework, or, "
            "if it truly has nothing here, a markdown cell tagged [FRAMEWORK, no-example] "
            "whose text says why",
            path=source.path, cell=first.index, framework=missing[0],
        )


def fence(text: str, char: str = "`", minimum: int = 3) -> str:
    """A fence longer than any run of ``char`` inside ``text``."""
    longest, run = 0, 0
    for c in text:
        run = run + 1 if c == char else 0
        longest = max(longest, run)
    return char * max(minimum, longest + 1)


def directive(name: str, argument: str, body: str, options: dict | None = None) -> str:
    """A colon-fenced MyST directive that safely wraps ``body``."""
    marks = fence(body, ":", minimum=3)
    lines = [f"{marks}{{{name}}} {argument}".rstrip()]
    lines += [f":{key}: {value}".rstrip() for key, value in (options or {}).items()]
    return "\n".join(lines) + "\n\n" + body.strip("\n") + "\n" + marks + "\n"


def tab_set(panels: list[tuple[str, str, str]], css_class: str = "") -> str:
    """``panels`` are (framework key, label, body) in tab order."""
    items = "\n".join(
        directive("tab-item", label, body, {"sync": key}) for key, label, body in panels
    )
    options = {"sync-group": SYNC_GROUP}
    if css_class:
        options["class"] = css_class
    return directive("tab-set", "", items, options)


def dropdown(title: str, body: str) -> str:
    return directive("dropdown", title, body, {"class-container": "solution"})
