"""The chapter shows the library's classes, in every framework (checked at build time too)."""

import pytest

from bookmachine import config as book_config
from bookmachine import library
from bookmachine.pipeline import toc_files
from bookmachine.split import read_source
from conftest import ROOT

CONFIG = book_config.load(ROOT, skip="")
SHOWN_EVERYWHERE = {"MLP", "MySequential", "FixedHiddenMLP", "NestMLP"}
SOURCES = [read_source(path, ROOT, CONFIG.keys) for path in toc_files(ROOT)]


def test_book_and_library_agree():
    library.check(SOURCES, CONFIG)


@pytest.mark.parametrize("framework", [fw.key for fw in CONFIG.frameworks if fw.library])
def test_every_framework_shows_the_core_classes(framework):
    names = {name for source in SOURCES for _, name, _ in library.shown(source, framework)}
    missing = SHOWN_EVERYWHERE - names
    assert not missing, f"the {framework} pages never show {sorted(missing)}"


def test_the_comparison_ignores_docstrings_but_sees_a_one_token_change():
    original = "class A:\n    '''Doc.'''\n    def f(self):\n        return 1\n"
    assert library.definitions(original) == library.definitions(original.replace("    '''Doc.'''\n", ""))
    assert library.definitions(original) != library.definitions(original.replace("return 1", "return 2"))
