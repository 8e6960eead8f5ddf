"""The chapter's code keeps to LIMIT characters a line (issue 21).

Compare mode shows two frameworks' code side by side, and on a 1920 px screen
each panel's code box holds LIMIT characters of the code font
(``tests/test_reader.py`` measures it): a longer line scrolls sideways there.
The code cells of every chapter page are read as the book machine reads them.
"""

from __future__ import annotations

import re
import textwrap

from bookmachine import config as book_config
from bookmachine.split import read_source
from conftest import HEADER, ROOT

LIMIT = 88
KEYS = book_config.load(ROOT, skip="").keys


def long_lines(path, limit: int = LIMIT) -> list[str]:
    """'page.md, cell N, line M: L characters' for each code line over ``limit``."""
    root = ROOT if path.is_relative_to(ROOT) else path.parent
    source = read_source(path, root, KEYS)
    return [f"{path.relative_to(root)}, cell {cell.index} ({cell.describe()}), line {number}: {len(line)} characters"
            for cell in source.cells if cell.kind == "code"
            for number, line in enumerate(cell.source.splitlines(), 1) if len(line) > limit]


def test_no_chapter_code_line_is_longer_than_a_compare_panel_holds():
    pages = sorted(ROOT.glob("chapters/**/*.md"))
    assert pages, "no chapter pages found"
    over = [line for page in pages for line in long_lines(page)]
    assert not over, (f"{len(over)} code line(s) over {LIMIT} characters (they scroll in compare "
                      "mode; wrap them):\n" + "\n".join(over))


def test_the_check_reads_code_cells_only_and_counts_exactly(tmp_path):
    fits, too_long = "x" * LIMIT, "y = " + "1" * (LIMIT - 3)
    page = tmp_path / "page.md"
    page.write_text(HEADER + textwrap.dedent(f"""\
        # Title

        A markdown line that is long but prose: {'z' * 2 * LIMIT}

        ```{{code-cell}} ipython3
        :tags: [{KEYS[0]}]
        {fits}
        {too_long}
        ```
        """))
    assert long_lines(page) == [f"page.md, cell 2 (code cell starting {fits[:60]!r}), line 2: "
                                f"{LIMIT + 1} characters"]


def test_the_limit_is_the_one_compare_mode_fits():
    script = (ROOT / "src/bookmachine/static/bookmachine.js").read_text()
    assert re.search(r"const LINE = (\d+);", script).group(1) == str(LIMIT), (
        "bookmachine.js folds the navigation for LINE characters: keep it equal to LIMIT here")
