"""Book and library agree: a class or function a page shows is the one in ``src/``.

The nbdev rule, checked at build time: both sides are compared as syntax
trees with docstrings removed, so a page may leave out a docstring but not
change a line of code.
"""

from __future__ import annotations

import ast

from .config import BookConfig
from .errors import BookError
from .split import Source


def definitions(code: str) -> dict[str, str]:
    """Top-level classes and functions in ``code``: name -> syntax tree without docstrings."""
    found = {}
    for node in ast.parse(code).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            for inner in ast.walk(node):
                body = getattr(inner, "body", None)
                if (isinstance(inner, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                        and body and isinstance(body[0], ast.Expr)
                        and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
                    inner.body = body[1:] or [ast.Pass()]
            found[node.name] = ast.dump(node)
    return found


def shown(source: Source, key: str):
    """(cell, name, tree) for every definition the page shows to framework ``key``."""
    for cell in source.cells:
        # An answer cell is a scaffold for the reader, not the library's code.
        if cell.kind == "code" and cell.belongs_to(key) and not cell.has("answer"):
            try:
                found = definitions(cell.source)
            except SyntaxError:
                continue  # IPython syntax (magics); execution reports real syntax errors
            for name, tree in found.items():
                yield cell, name, tree


def check(sources: list[Source], config: BookConfig) -> None:
    for fw in config.frameworks:
        if not fw.library:
            continue
        path = config.root / fw.library
        library = definitions(path.read_text()) if path.exists() else {}
        for source in sources:
            for cell, name, tree in shown(source, fw.key):
                if name in library and tree != library[name]:
                    raise BookError(
                        f"{name} differs from the one in {fw.library}. The page shows the "
                        "library's code: change both together", path=source.path, cell=cell.index,
                        framework=fw.key)
