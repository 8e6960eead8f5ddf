"""Broken books, built end to end by `python -m bookmachine build`.

Every case asserts four things: the build exits non-zero; its message names
the file (and the cell and framework, where there are such) and says how to
fix it; the last good site and notebooks stay byte-identical; and no kernel
is left running. The kernels of these books carry a marker in their
environment, so the last check sees exactly the kernels these builds started.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from conftest import code, make_book, prose

GOOD = "# Title\n" + prose("Shared words.") + code("print('a')", "alpha") + code("print('b')", "beta")
LIBRARY = "class Net:\n    def size(self):\n        return 1\n"
MARK = "BOOKMACHINE_TEST_KERNEL"
KERNEL = "bad-books-python"


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """Environment for builds whose kernels are marked (a kernel spec of our own on JUPYTER_PATH)."""
    jupyter = tmp_path_factory.mktemp("jupyter")
    marker = f"{os.getpid()}-{time.time_ns()}"
    spec = jupyter / "kernels" / KERNEL / "kernel.json"
    spec.parent.mkdir(parents=True)
    spec.write_text('{"argv": ["%s", "-m", "ipykernel_launcher", "-f", "{connection_file}", '
                    '"--IPKernelApp.log_level=ERROR"], '
                    '"display_name": "marked", "language": "python", "env": {"%s": "%s"}}'
                    % (sys.executable, MARK, marker))
    return dict(os.environ, JUPYTER_PATH=str(jupyter), BOOKMACHINE_SKIP="", **{MARK: marker})


def marked_kernels(env) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARK) == env[MARK] and "ipykernel_launcher" in " ".join(process.cmdline()):
                found.append(process)
        except (psutil.Error, OSError):
            pass
    return found


def build(root: Path, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bookmachine", "--root", str(root), "build"],
                          capture_output=True, text=True, env=env, timeout=600)


def snapshot(root: Path) -> dict[str, str]:
    files = [p for d in ("_build/html", "_build/notebooks") for p in sorted((root / d).rglob("*")) if p.is_file()]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def assert_failed_cleanly(result, expected, before, root, env):
    """The four promises of a failed build."""
    assert result.returncode != 0, result.stdout[-2000:]
    message = result.stderr
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message[-3000:]}"
    assert "Traceback (most recent call last)" not in message.split("raised an exception")[0], message[-3000:]
    assert snapshot(root) == before, "the last good _build changed"
    deadline = time.monotonic() + 10
    while marked_kernels(env) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not marked_kernels(env), "a kernel was left running"


@pytest.fixture(scope="module")
def good_book(tmp_path_factory, kernel_env):
    root = make_book(tmp_path_factory.mktemp("book"), {"page": GOOD, "second": GOOD}, kernel=KERNEL)
    (root / "lib.py").write_text(LIBRARY)
    config = (root / "_config.yml").read_text()
    (root / "_config.yml").write_text(config.replace("launch: [colab]", "launch: [colab]\n        library: lib.py")
                                      + "    bookmachine_cell_timeout: 5\n")
    result = build(root, kernel_env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (root / "_build/notebooks/alpha/page.ipynb").exists()
    return root


def replace(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, f"{old!r} not in the file"
        return text.replace(old, new, 1)
    return edit


BROKEN = {
    "raising cell": ("page.md", replace("print('a')", "raise RuntimeError('broken on purpose')"),
                     ["page.md", "cell 3", "framework 'alpha'", "RuntimeError: broken on purpose"]),
    "a real failure after a cell meant to raise": (
        "page.md", replace(code("print('a')", "alpha"),
                           code("raise ValueError('meant')", "alpha", "raises-exception")
                           + code("undefined_name", "alpha")),
        ["page.md", "cell 4", "undefined_name", "framework 'alpha'", "NameError"]),
    "syntax error": ("page.md", replace("print('b')", "print('b'"),
                     ["page.md", "cell 4", "framework 'beta'", "SyntaxError"]),
    "unknown tag": ("page.md", replace(":tags: [beta]", ":tags: [betta]"),
                    ["page.md", "cell 4", "unknown tag 'betta'", "alpha, beta"]),
    "group missing a framework": ("page.md", replace(code("print('b')", "beta"), ""),
                                  ["page.md", "cell 3", "framework 'beta'", "no-example"]),
    "toc names a missing file": ("_toc.yml", replace("file: second", "file: secnd"),
                                 ["_toc.yml", "secnd", "does not exist"]),
    "toc uses glob": ("_toc.yml", replace("- file: second", "- glob: sec*"),
                      ["_toc.yml", "glob: sec*", "List the pages as `file:` entries"]),
    "config is not YAML": ("_config.yml", replace("title: Tiny", "title: [Tiny"),
                           ["_config.yml", "is not valid YAML", "line 2", "Fix the file"]),
    "toc is not YAML": ("_toc.yml", replace("root: page", "root: page: [x"),
                        ["_toc.yml", "is not valid YAML", "line 2", "Fix the file"]),
    "book and library disagree": ("page.md", replace(
        "print('a')", "class Net:\n    def size(self):\n        return 2\n"),
        ["page.md", "cell 3", "framework 'alpha'", "Net differs from the one in lib.py", "change both"]),
    "kernel that does not exist": ("_config.yml", replace(f"kernel: {KERNEL}", "kernel: python9"),
                                   ["no Jupyter kernel 'python9'", "make setup", "SKIP=alpha"]),
    "a cell that never finishes": ("page.md", replace("print('b')", "import time\ntime.sleep(600)"),
                                   ["page.md", "cell 4", "framework 'beta'", "still running after 5 s",
                                    "bookmachine_cell_timeout"]),
    "huge output": ("page.md", replace("print('a')", "print('x' * 50_000_000)"),
                    ["page.md", "cell 3", "framework 'alpha'", "48,828 kB of output", "more than the 500 kB",
                     "tag the cell 'large-output'", "bookmachine_output_limit_kb"]),
    "log noise on stderr": ("page.md", replace("print('b')", "import sys\nprint('chatter', file=sys.stderr)"),
                            ["page.md", "cell 4", "framework 'beta'", "chatter", "show-stderr"]),
    "a check that fails": ("page.md", replace(
        code("print('b')", "beta"),
        code("print('b')", "beta") + code("# claim: Shared words\nassert True", "alpha", "check")
        + code("# claim: Shared  words\nx = 1\nassert x == 2, 'x is 1'", "beta", "check")),
        ["page.md", "cell 6", "framework 'beta'", "check failed at page.md:", ": assert x == 2, 'x is 1'",
         "AssertionError: x is 1", "claim 'Shared  words'", 'paragraph "Shared words."', "fix the prose"]),
    "a claim checked in only some of its readers": ("page.md", replace(
        code("print('b')", "beta"),
        code("print('b')", "beta") + code("# claim: Shared words\nassert True", "alpha", "check")),
        ["page.md", "cell 2", "framework 'beta'", "checked only in alpha", "move the sentence"]),
    "a check quoting words the prose does not say": ("page.md", replace(
        code("print('b')", "beta"),
        code("print('b')", "beta") + code("# claim: Words nobody wrote\nassert True", "alpha", "check")),
        ["page.md", "cell 5", "framework 'alpha'", "'Words nobody wrote' is not in any prose above it"]),
    "a broken cross-reference": ("page.md", replace("Shared words.", "Shared words, see {ref}`nowhere`."),
                                 ["page.md", "undefined label: 'nowhere'", "fix the warnings above"]),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_book_fails_clearly_and_keeps_the_last_good_build(good_book, kernel_env, case):
    name, breaks, expected = BROKEN[case]
    path = good_book / name
    original = path.read_text()
    before = snapshot(good_book)
    try:
        path.write_text(breaks(original))
        result = build(good_book, kernel_env)
        assert_failed_cleanly(result, expected, before, good_book, kernel_env)
        # Nothing touched since: the second run must fail the same way, not publish.
        again = build(good_book, kernel_env)
        assert_failed_cleanly(again, expected, before, good_book, kernel_env)
    finally:
        path.write_text(original)


def test_a_large_output_passes_when_the_cell_is_tagged_for_it(tiny_book, kernel_env):
    big = "print('x' * 600_000)"
    root = tiny_book({"page": "# Title\n" + code(big, "alpha", "large-output") + code("print(1)", "beta")},
                     kernel=KERNEL)
    result = build(root, kernel_env)
    assert result.returncode == 0, result.stderr[-3000:]


def test_ctrl_c_during_execution_stops_every_kernel_and_keeps_the_site(good_book, kernel_env):
    path = good_book / "page.md"
    original = path.read_text()
    before = snapshot(good_book)
    try:
        path.write_text(original.replace("print('a')", "import time\ntime.sleep(600)"))
        # A terminal's Ctrl-C reaches the whole foreground process group.
        process = subprocess.Popen([sys.executable, "-m", "bookmachine", "--root", str(good_book), "build"],
                                   env=kernel_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        deadline = time.monotonic() + 120
        while not marked_kernels(kernel_env) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marked_kernels(kernel_env), "no kernel started"
        time.sleep(3)  # the kernel is now inside the sleeping cell
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        assert_failed_cleanly(result, ["interrupted (Ctrl-C)", "Every kernel was stopped", "unchanged"],
                              before, good_book, kernel_env)
        assert "Traceback" not in stderr, stderr[-3000:]
        assert process.returncode == 130
    finally:
        path.write_text(original)


def test_an_upgrade_in_a_kernels_environment_runs_its_notebooks_again(tiny_book, kernel_env, tmp_path):
    """The execution cache knows what is installed where the kernel runs, not just its name."""
    site = tmp_path / "site-packages"

    def install(version: str):
        for old in site.glob("fakeframework-*.dist-info"):
            for file in old.iterdir():
                file.unlink()
            old.rmdir()
        info = site / f"fakeframework-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fakeframework\nVersion: {version}\n")
        (site / "fakeframework.py").write_text(f"VERSION = '{version}'\n")

    env = dict(kernel_env, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    cell = "import importlib.metadata\nprint('fakeframework', importlib.metadata.version('fakeframework'))"
    root = tiny_book({"page": "# Title\n" + code(cell, "alpha") + code("print(1)", "beta")}, kernel=KERNEL)
    install("1.0")
    assert build(root, env).returncode == 0
    assert "fakeframework 1.0" in (root / "_build/notebooks/alpha/page.ipynb").read_text()
    install("2.0")  # what `make setup` does after requirements.txt changes
    result = build(root, env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "executed 2 of 2 notebooks" in result.stdout  # both frameworks share the environment
    assert "fakeframework 2.0" in (root / "_build/notebooks/alpha/page.ipynb").read_text()
    assert "executed 0 of 2 notebooks" in build(root, env).stdout  # and then it is cached again


def test_a_page_without_framework_code_starts_no_kernel_and_exports_no_notebook(tiny_book, kernel_env):
    pages = {"page": GOOD, "words": "# Only words\n" + prose("Nothing to run here.")
             + prose("Alpha prose.", "alpha") + prose("Beta prose.", "beta")}
    root = tiny_book(pages, kernel=KERNEL)
    result = build(root, kernel_env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "executed 2 of 2 notebooks" in result.stdout  # the words page ran nothing
    assert sorted(p.name for p in (root / "_build/notebooks/alpha").iterdir()) == ["page.ipynb"]
    html = (root / "_build/html/words.html").read_text()
    assert "launch-bar" not in html and "Alpha prose." in html


def test_a_toc_with_parts_is_walked_and_its_pages_merged(tiny_book, kernel_env):
    root = tiny_book({"page": GOOD, "second": GOOD}, kernel=KERNEL)
    (root / "_toc.yml").write_text("format: jb-book\nroot: page\nparts:\n  - caption: Part one\n"
                                   "    chapters:\n      - file: second\n")
    result = build(root, kernel_env)
    assert result.returncode == 0, result.stderr[-3000:]
    html = (root / "_build/html/second.html").read_text()
    # Merged: one tab-set for the launch bar and one for the code, a panel per framework.
    assert html.count('class="sd-tab-content') == 4, html[-3000:]
