"""Stage 1 and tab grouping on small sources, bad input included."""

import pytest

from bookmachine import config as book_config
from bookmachine.errors import BookError
from bookmachine.split import read_source, split
from bookmachine.tabs import Shared, Solution, TabGroup, group
from conftest import code, prose

KEYS = ["alpha", "beta"]


def source_of(tiny_book, body):
    root = tiny_book({"page": "# Title\n" + body})
    return read_source(root / "page.md", root, KEYS)


def test_untagged_cells_go_to_every_framework_tagged_ones_to_theirs(tiny_book):
    source = source_of(tiny_book, code("shared = 1") + code("a = 1", "alpha") + code("b = 1", "beta"))
    assert [c.source for c in split(source, "alpha")] == ["# Title", "shared = 1", "a = 1"]
    assert [c.source for c in split(source, "beta")] == ["# Title", "shared = 1", "b = 1"]


def test_a_cell_may_belong_to_several_frameworks(tiny_book):
    source = source_of(tiny_book, code("both = 1", "alpha", "beta"))
    assert "both = 1" in [c.source for c in split(source, "alpha")]
    assert "both = 1" in [c.source for c in split(source, "beta")]


def test_unknown_tag_is_an_error_naming_file_cell_and_choices(tiny_book):
    with pytest.raises(BookError) as error:
        source_of(tiny_book, code("x = 1", "aplha"))
    message = str(error.value)
    assert "page.md" in message and "cell 2" in message
    assert "unknown tag 'aplha'" in message and "alpha, beta" in message


def test_no_example_needs_one_framework_on_markdown(tiny_book):
    with pytest.raises(BookError, match="no-example"):
        source_of(tiny_book, code("x = 1", "alpha", "no-example"))


def test_consecutive_tagged_cells_form_one_group_in_config_order(tiny_book):
    source = source_of(tiny_book, prose("Beta words.", "beta") + code("b = 1", "beta")
                       + code("a = 1", "alpha") + prose("Shared.") + code("a2 = 2", "alpha")
                       + code("b2 = 2", "beta"))
    blocks = group(source, KEYS)
    assert [type(b) for b in blocks] == [Shared, TabGroup, Shared, TabGroup]
    first = blocks[1]
    assert list(first.cells) == KEYS
    assert [c.source for c in first.cells["beta"]] == ["Beta words.", "b = 1"]
    assert [c.source for c in first.cells["alpha"]] == ["a = 1"]


def test_group_missing_a_framework_is_an_error_saying_how_to_fix(tiny_book):
    source = source_of(tiny_book, code("a = 1", "alpha") + prose("Shared."))
    with pytest.raises(BookError) as error:
        group(source, KEYS)
    message = str(error.value)
    assert "page.md" in message and "cell 2" in message and "framework 'beta'" in message
    assert "no-example" in message


def test_no_example_cell_fills_a_group(tiny_book):
    source = source_of(tiny_book, code("a = 1", "alpha") + prose("Beta has no such thing.", "beta", "no-example"))
    (tab_group,) = [b for b in group(source, KEYS) if isinstance(b, TabGroup)]
    assert tab_group.cells["beta"][0].has("no-example")


def test_solution_cells_make_one_dropdown_with_groups_inside(tiny_book):
    source = source_of(tiny_book, prose("Exercise text.") + prose("Idea.", "solution")
                       + code("a = 1", "alpha", "solution") + code("b = 1", "beta", "solution")
                       + prose("Next exercise."))
    blocks = group(source, KEYS)
    assert [type(b) for b in blocks] == [Shared, Shared, Solution, Shared]
    inner = blocks[2].blocks
    assert [type(b) for b in inner] == [Shared, TabGroup]


def test_skip_of_unknown_framework_is_refused():
    with pytest.raises(BookError, match="unknown framework"):
        book_config.parse_skip("mxnett", ["mxnet"])
