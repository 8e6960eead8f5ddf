"""Execution per framework kernel, the cache, and what a failing cell reports."""

import pytest

from bookmachine import config as book_config
from bookmachine.errors import BookError
from bookmachine.pipeline import prepare
from conftest import code, prose

PAGE = "# Title\n" + prose("Shared words.") + code("print('alpha here')", "alpha") + code("print('beta here')", "beta")


def run(root, **kwargs):
    return prepare(book_config.load(root, skip=""), **kwargs)


def test_each_framework_runs_its_own_cells_and_outputs_merge_into_tabs(tiny_book):
    book = run(tiny_book({"page": PAGE}))
    assert book.stats == {"notebooks": 2, "kernels_started": 2, "cached": 0}
    page = book.pages["page"]
    assert page.count(":sync-group: framework") == 2  # launch bar + one tab group
    alpha_tab = page.split(":sync: alpha")[2].split(":sync: beta")[0]
    assert "print('alpha here')" in alpha_tab and "\nalpha here\n" in alpha_tab
    assert "beta here" not in alpha_tab


def test_cache_prose_edit_and_one_cell_edit(tiny_book):
    root = tiny_book({"page": PAGE})
    run(root)
    assert run(root).stats["kernels_started"] == 0
    source = root / "page.md"
    source.write_text(source.read_text().replace("Shared words.", "Other words."))
    again = run(root)
    assert again.stats["kernels_started"] == 0 and "Other words." in again.pages["page"]
    source.write_text(source.read_text().replace("beta here", "beta changed"))
    assert run(root).stats == {"notebooks": 2, "kernels_started": 1, "cached": 1}


def test_a_raising_cell_names_file_cell_framework_and_traceback(tiny_book):
    root = tiny_book({"page": "# Title\n" + code("x = 1", "alpha") + code("1 / 0", "beta")})
    with pytest.raises(BookError) as error:
        run(root)
    message = str(error.value)
    assert "page.md" in message and "cell 3" in message and "framework 'beta'" in message
    assert "ZeroDivisionError" in message and "1 / 0" in message
    assert "\x1b[" not in message  # no terminal colour codes


def test_raises_exception_tag_shows_the_traceback(tiny_book):
    root = tiny_book({"page": "# Title\n" + code("raise ValueError('on purpose')", "alpha", "raises-exception")
                      + code("pass", "beta")})
    page = run(root).pages["page"]
    assert "ValueError: on purpose" in page


def test_stderr_is_log_noise_unless_the_cell_asks_for_it(tiny_book):
    noisy = "import sys; print('chatter', file=sys.stderr)"
    root = tiny_book({"page": "# Title\n" + code(noisy, "alpha") + code("pass", "beta")})
    with pytest.raises(BookError, match="stderr") as error:
        run(root)
    assert "framework 'alpha'" in str(error.value) and "chatter" in str(error.value)
    root = tiny_book({"page": "# Title\n" + code(noisy, "alpha", "show-stderr") + code("pass", "beta")})
    assert "chatter" in run(root).pages["page"]


def test_missing_kernel_says_how_to_fix_or_skip(tiny_book):
    from bookmachine import kernels
    root = tiny_book({"page": PAGE}, kernel="no-such-kernel")
    with pytest.raises(BookError) as error:
        kernels.check(book_config.load(root, skip=""))
    assert "no-such-kernel" in str(error.value) and "make setup" in str(error.value)
    assert "SKIP=alpha" in str(error.value)


def test_a_skipped_framework_is_not_run_and_its_tabs_say_so(tiny_book):
    root = tiny_book({"page": PAGE})
    book = prepare(book_config.load(root, skip="beta"))
    assert book.stats["notebooks"] == 1
    beta_tab = book.pages["page"].split(":sync: beta")[2]
    assert "print('beta here')" in beta_tab and "outputs were not built" in beta_tab
