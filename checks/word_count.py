"""Count the prose words a reader of each framework reads.

A reader of one framework reads the shared markdown and that framework's own
markdown, solutions included, on every page of the table of contents. Code,
outputs, and the figure and bibliography directives are not counted; words
are whitespace-separated, as a word processor counts them.

    python checks/word_count.py          # a table per page and framework
    python checks/word_count.py --limit 2800   # exit 1 above the limit

``tests/test_prose.py`` holds the chapter to ``LIMIT``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 2800  # words per framework reader, whole chapter (issue 13)

# A {figure} or {bibliography} directive, caption included, fenced with ``` or :::.
NOT_PROSE = re.compile(r"^(`{3,}|:{3,})\{(figure|bibliography)\}.*?^\1[ \t]*$", re.M | re.S)


def prose_words(markdown: str) -> int:
    return len(NOT_PROSE.sub("", markdown).split())


def count(root: Path = ROOT, skip: str = "") -> dict[str, dict[str, int]]:
    """Words per page and framework: {docname: {framework key: words}}."""
    from bookmachine import config as book_config
    from bookmachine.pipeline import toc_files
    from bookmachine.split import read_source

    config = book_config.load(root, skip=skip)
    table = {}
    for path in toc_files(root):
        source = read_source(path, root, config.keys)
        table[source.name] = {
            key: sum(prose_words(cell.source) for cell in source.cells
                     if cell.kind == "markdown" and cell.belongs_to(key))
            for key in config.keys
        }
    return table


def totals(table: dict[str, dict[str, int]]) -> dict[str, int]:
    keys = next(iter(table.values())).keys()
    return {key: sum(page[key] for page in table.values()) for key in keys}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="exit 1 if a framework reads more")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    table = count()
    keys = list(totals(table))
    print(f"{'page':22}" + "".join(f"{key:>12}" for key in keys))
    for page, words in table.items():
        print(f"{page:22}" + "".join(f"{words[key]:>12}" for key in keys))
    total = totals(table)
    print(f"{'total':22}" + "".join(f"{total[key]:>12}" for key in keys))
    over = {key: n for key, n in total.items() if args.limit is not None and n > args.limit}
    if over:
        print(f"over the limit of {args.limit} words: {over}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
