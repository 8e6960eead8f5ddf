"""The `truncate-output` tag: the site shows the first lines, the notebook keeps all of them."""

import nbformat

from bookmachine import config as book_config
from bookmachine.export import notebook_path
from bookmachine.merge import TRUNCATED_LINES
from bookmachine.pipeline import export_notebooks, prepare
from conftest import code

LONG = "for i in range(12):\n    print(f'line {i}')"


def test_long_output_is_cut_on_the_site_and_kept_whole_in_the_notebook(tiny_book, tmp_path):
    root = tiny_book({"page": "# Title\n" + code(LONG, "alpha", "truncate-output") + code(LONG, "beta")})
    book = prepare(book_config.load(root, skip=""))
    page = book.pages["page"]
    alpha_tab = page.split(":sync: alpha")[2].split(":sync: beta")[0]
    beta_tab = page.split(":sync: beta")[2]
    shown = [f"line {i}" for i in range(TRUNCATED_LINES)]
    assert all(line in alpha_tab for line in shown)
    assert f"line {TRUNCATED_LINES}" not in alpha_tab and "line 11" not in alpha_tab
    assert f"[{12 - TRUNCATED_LINES} more lines: the notebook shows them all]" in alpha_tab
    # Without the tag nothing is cut.
    assert "line 11" in beta_tab and "more lines" not in beta_tab

    export_notebooks(book, tmp_path / "notebooks")
    notebook = nbformat.read(notebook_path(tmp_path / "notebooks", "alpha", "page"), as_version=4)
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "line 11" in printed and "more lines" not in printed
    tags = [t for c in notebook.cells for t in c.metadata.get("tags", [])]
    assert "truncate-output" not in tags  # a book-only tag


def test_a_short_output_is_never_replaced_by_a_note(tiny_book):
    one_over = f"for i in range({TRUNCATED_LINES + 1}):\n    print(f'line {{i}}')"
    root = tiny_book({"page": "# Title\n" + code(one_over, "alpha", "truncate-output") + code("pass", "beta")})
    page = prepare(book_config.load(root, skip="")).pages["page"]
    assert f"line {TRUNCATED_LINES}" in page and "more lines" not in page
