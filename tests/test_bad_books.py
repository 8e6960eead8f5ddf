"""Broken books, built end to end: each fails with a message naming the file and the fix,
and the last good site and notebooks stay exactly as they were."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import code, make_book, prose

GOOD = "# Title\n" + prose("Shared words.") + code("print('a')", "alpha") + code("print('b')", "beta")
LIBRARY = "class Net:\n    def size(self):\n        return 1\n"


def build(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bookmachine", "--root", str(root), "build"],
                          capture_output=True, text=True)


def snapshot(root: Path) -> dict[str, str]:
    files = [p for d in ("_build/html", "_build/notebooks") for p in sorted((root / d).rglob("*")) if p.is_file()]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def good_book(tmp_path_factory):
    root = make_book(tmp_path_factory.mktemp("book"), {"page": GOOD, "second": GOOD})
    (root / "lib.py").write_text(LIBRARY)
    config = (root / "_config.yml").read_text()
    (root / "_config.yml").write_text(config.replace("launch: [colab]", "launch: [colab]\n        library: lib.py"))
    result = build(root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (root / "_build/notebooks/alpha/page.ipynb").exists()
    return root


BROKEN = {
    "raising cell": ("page.md", lambda t: t.replace("print('a')", "raise RuntimeError('broken on purpose')"),
                     ["page.md", "cell 3", "framework 'alpha'", "RuntimeError: broken on purpose"]),
    "syntax error": ("page.md", lambda t: t.replace("print('b')", "print('b'"),
                     ["page.md", "cell 4", "framework 'beta'", "SyntaxError"]),
    "unknown tag": ("page.md", lambda t: t.replace(":tags: [beta]", ":tags: [betta]"),
                    ["page.md", "cell 4", "unknown tag 'betta'", "alpha, beta"]),
    "group missing a framework": ("page.md", lambda t: t.replace(code("print('b')", "beta"), ""),
                                  ["page.md", "cell 3", "framework 'beta'", "no-example"]),
    "toc names a missing file": ("_toc.yml", lambda t: t.replace("file: second", "file: secnd"),
                                 ["_toc.yml", "secnd", "does not exist"]),
    "book and library disagree": ("page.md", lambda t: t.replace(
        "print('a')", "class Net:\n    def size(self):\n        return 2\n"),
        ["page.md", "cell 3", "framework 'alpha'", "Net differs from the one in lib.py", "change both"]),
    "kernel that does not exist": ("_config.yml", lambda t: t.replace("kernel: python3", "kernel: python9", 1),
                                   ["no Jupyter kernel 'python9'", "make setup", "SKIP=alpha"]),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_book_fails_clearly_and_keeps_the_last_good_build(good_book, case):
    name, breaks, expected = BROKEN[case]
    path = good_book / name
    original = path.read_text()
    before = snapshot(good_book)
    try:
        path.write_text(breaks(original))
        result = build(good_book)
    finally:
        path.write_text(original)
    assert result.returncode != 0
    message = result.stderr
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message[-3000:]}"
    assert snapshot(good_book) == before
