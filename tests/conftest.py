"""Shared fixtures: a throwaway book to feed the machine, and the real built book."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADER = "---\njupytext:\n  text_representation:\n    format_name: myst\n---\n\n"


def make_book(folder: Path, pages: dict[str, str], frameworks=("alpha", "beta"), kernel="python3") -> Path:
    """A tiny book whose frameworks all run in ``kernel``; pages are MyST bodies."""
    entries = "\n".join(
        f"      - key: {key}\n        label: {key.capitalize()}\n        kernel: {kernel}\n"
        f"        launch: [colab]"
        for key in frameworks
    )
    (folder / "_config.yml").write_text(textwrap.dedent("""\
        title: Tiny
        only_build_toc_files: true
        exclude_patterns: [_build]
        execute:
          execute_notebooks: "off"
        repository:
          url: https://github.com/example/tiny
          branch: main
        sphinx:
          extra_extensions: [sphinx_design, bookmachine.sphinx_extension]
          config:
            bookmachine_frameworks:
        """) + entries + "\n")
    names = list(pages)
    toc = f"format: jb-book\nroot: {names[0]}\n"
    if names[1:]:
        toc += "chapters:\n" + "".join(f"  - file: {name}\n" for name in names[1:])
    (folder / "_toc.yml").write_text(toc)
    for name, body in pages.items():
        path = folder / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER + textwrap.dedent(body))
    return folder


def code(source: str, *tags: str) -> str:
    tag_line = f":tags: [{', '.join(tags)}]\n" if tags else ""
    return f"```{{code-cell}} ipython3\n{tag_line}{source}\n```\n"


def prose(text: str, *tags: str) -> str:
    meta = '{"tags": [' + ", ".join(f'"{t}"' for t in tags) + "]}" if tags else ""
    return f"\n+++ {meta}\n\n{text}\n\n".replace("+++ \n", "+++\n")


@pytest.fixture
def tiny_book(tmp_path):
    def build(pages, **kwargs):
        return make_book(tmp_path, pages, **kwargs)
    return build


@pytest.fixture(scope="session")
def built_book():
    """Build the real book once per session (cached, so fast after `make book`).

    BOOK_PREBUILT=1 uses _build as it is (for working on tests while the book builds elsewhere).
    """
    if os.environ.get("BOOK_PREBUILT") == "1":
        return ROOT / "_build"
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "bookmachine", "build"], cwd=ROOT,
                            capture_output=True, text=True, env=dict(os.environ))
    STAGE_SECONDS["build"] = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return ROOT / "_build"


# --- wall time of the test command, by stage -----------------------------------

STAGE_SECONDS: dict[str, float] = {}
SUMMARY_LINES: list[str] = []  # what tests want a person to read at the end (e.g. nbval counts)


def pytest_runtest_logreport(report):
    if report.when == "call":
        stage = "nbval" if "nbval" in report.nodeid else "browser" if "browser" in report.keywords else "other tests"
        STAGE_SECONDS[stage] = STAGE_SECONDS.get(stage, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    stages = dict(STAGE_SECONDS)
    if "BOOK_SETUP_SECONDS" in os.environ:  # set by `make test`
        stages = {"setup (install; skipped when present)": float(os.environ["BOOK_SETUP_SECONDS"]), **stages}
    if SUMMARY_LINES:
        terminalreporter.section("what was checked")
        for line in SUMMARY_LINES:
            terminalreporter.write_line(line)
    terminalreporter.section("wall time by stage")
    for stage, seconds in stages.items():
        terminalreporter.write_line(f"{stage:40} {seconds:8.1f} s")
