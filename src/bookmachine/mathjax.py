"""MathJax from the site itself, never from a CDN, so pages read offline.

``mathjax_path`` in _config.yml names a file under ``_static/mathjax/``; it and
what it loads (the TeX extensions it autoloads, its fonts, the menu's
accessibility parts) are copied from the npm package that `make setup`
installs (package.json pins it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .errors import BookError

FOLDER = "mathjax"
PARTS = ("input/tex/extensions", "output/chtml/fonts", "a11y", "ui", "sre")


def source(srcdir, mathjax_path: str | None) -> Path | None:
    """node_modules/mathjax/es5 when ``mathjax_path`` points into _static/mathjax/, else None."""
    path = mathjax_path or ""
    if not path.startswith(FOLDER + "/"):
        return None
    folder = Path(srcdir) / "node_modules" / "mathjax" / "es5"
    if not (folder / path[len(FOLDER) + 1:]).is_file():
        raise BookError(f"mathjax_path is '{path}', but {folder} lacks it: run `make setup` "
                        "(it runs `npm ci`, which installs the MathJax that package.json pins)",
                        path="_config.yml")
    return folder


def copy(srcdir, outdir, mathjax_path: str | None) -> None:
    folder = source(srcdir, mathjax_path)
    if folder is None:
        return
    target = Path(outdir) / "_static" / FOLDER
    shutil.rmtree(target, ignore_errors=True)
    entry = mathjax_path[len(FOLDER) + 1:]
    (target / entry).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(folder / entry, target / entry)
    for part in PARTS:
        shutil.copytree(folder / part, target / part)
