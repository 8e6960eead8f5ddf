"""The nbdev rule: a class or function the chapter shows is the one in src/.

Both sides are compared as syntax trees with docstrings removed, so the text
may leave out a docstring but not change a line of code.
"""

import ast

import pytest

from bookmachine import config as book_config
from bookmachine.pipeline import toc_files
from bookmachine.split import read_source, split
from conftest import ROOT

CONFIG = book_config.load(ROOT, skip="")
SHOWN_EVERYWHERE = {"MLP", "MySequential", "FixedHiddenMLP", "NestMLP"}


def definitions(code: str) -> dict[str, str]:
    tree = ast.parse(code)
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            for inner in ast.walk(node):
                body = getattr(inner, "body", None)
                if (isinstance(inner, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                        and body and isinstance(body[0], ast.Expr)
                        and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
                    inner.body = body[1:] or [ast.Pass()]
            found[node.name] = ast.dump(node)
    return found


def shown_definitions(framework: str) -> dict[str, list[tuple[str, int, str]]]:
    shown = {}
    for path in toc_files(ROOT):
        source = read_source(path, ROOT, CONFIG.keys)
        for cell in split(source, framework):
            if cell.kind != "code":
                continue
            try:
                found = definitions(cell.source)
            except SyntaxError:
                continue  # IPython-only syntax; such a cell defines nothing we compare
            for name, dump in found.items():
                shown.setdefault(name, []).append((path.name, cell.index, dump))
    return shown


@pytest.mark.parametrize("framework", [fw.key for fw in CONFIG.frameworks if fw.library])
def test_every_class_the_chapter_shows_matches_the_library(framework):
    library_path = ROOT / CONFIG.framework(framework).library
    library = definitions(library_path.read_text())
    shown = shown_definitions(framework)
    drift = [f"{page} cell {cell}: {name} differs from {library_path.relative_to(ROOT)}"
             for name, places in shown.items() if name in library
             for page, cell, dump in places if dump != library[name]]
    assert not drift, "\n".join(drift)
    missing = SHOWN_EVERYWHERE - set(shown)
    assert not missing, f"the {framework} pages never show {sorted(missing)}"


def test_the_comparison_sees_a_one_token_change():
    original = "class A:\n    '''Doc.'''\n    def f(self):\n        return 1\n"
    assert definitions(original) == definitions(original.replace("    '''Doc.'''\n", ""))
    assert definitions(original) != definitions(original.replace("return 1", "return 2"))
