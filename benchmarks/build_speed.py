"""Build-speed benchmark: what a build costs in wall seconds, kernels and memory.

Runs on a copy of the book (the working tree is never touched), in one go:

  1. cold build (no cache, no site)
  2. rebuild, nothing changed
  3. rebuild after editing one sentence of prose
  4. rebuild after editing one code cell of one framework
  5. rebuild after editing one class in one framework's module of src/
  6. baseline: the same per-framework notebooks run one after another with
     plain `jupyter nbconvert --execute`, one kernel at a time, then the site built

and prints a table with the ratios and the targets. Then the book-size table: the chapter
copied into a book of 1, 2 and 4 chapters (parts, in a temporary folder), each built cold,
printed to PDF, then built and printed again with nothing changed. Run: `make benchmark`
(`--only edits` or `--only sizes` for one table).
Numbers from one run only; the machine may be shared, so compare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COPY = ["_config.yml", "_toc.yml", "references.bib", "chapters", "src", "pyproject.toml"]
PAGE = "chapters/layers-and-modules/custom-module.md"
CLASS_FILE, CLASS_FRAMEWORK = "src/layers_modules/tensorflow.py", "tensorflow"


class ProcessWatch:
    """Samples a process and all its children: peak resident memory, and every
    kernel process seen (started by the book machine, Sphinx or anything else)."""

    def __init__(self, pid: int):
        self.process, self.peak, self.kernels = psutil.Process(pid), 0, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in tree if p.is_running()))
                for p in tree[1:]:
                    try:
                        # A kernel's own short-lived children (a fork before an exec) share
                        # its command line: count kernels whose parent is not one.
                        if "ipykernel_launcher" in " ".join(p.cmdline()) and \
                                "ipykernel_launcher" not in " ".join(p.parent().cmdline()):
                            self.kernels.add((p.pid, p.create_time()))
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            time.sleep(0.05)  # a kernel lives for seconds: none is missed

    def stop(self) -> tuple[int, int]:
        self._stop.set()
        self._thread.join()
        return self.peak, len(self.kernels)


def timed(command: list[str], cwd: Path, env: dict) -> tuple[float, int, int, str]:
    """Wall seconds, peak memory, kernel processes seen, output."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watch = ProcessWatch(process.pid)
    output, _ = process.communicate()
    peak, kernels = watch.stop()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return time.perf_counter() - started, peak, kernels, output


def book_build(book: Path, env: dict) -> dict:
    seconds, peak, kernels, output = timed([str(BIN / "python"), "-m", "bookmachine", "--root", str(book), "build"],
                                           book, env)
    match = re.search(r"executed (\d+) of (\d+) notebooks \(\d+ cached\) in ([\d.]+) s", output)
    if int(match.group(1)) != kernels:
        print(f"note: the build says it ran {match.group(1)} notebooks; {kernels} kernel processes were seen")
    return {"seconds": seconds, "kernels": kernels, "notebooks": int(match.group(2)), "peak": peak,
            "execute_seconds": float(match.group(3))}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def first_code_line(path: Path, tag: str) -> str:
    match = re.search(r"```\{code-cell\}[^\n]*\n:tags: \[" + tag + r"\]\n([^\n]+)\n", path.read_text())
    return match.group(1)


def baseline(book: Path, env: dict) -> dict:
    """The same notebooks, one kernel at a time with nbconvert, then the site from scratch."""
    config = yaml.safe_load((book / "_config.yml").read_text())["sphinx"]["config"]
    kernels = {fw["key"]: fw["kernel"] for fw in config["bookmachine_frameworks"]}
    exported = book / "_build" / "notebooks"
    notebooks = sorted(exported.rglob("*.ipynb"))
    scratch = Path(tempfile.mkdtemp())
    seconds, peak = 0.0, 0
    kernels_seen = 0
    for notebook in notebooks:
        framework = notebook.relative_to(exported).parts[0]
        s, p, k, _ = timed([str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                            f"--ExecutePreprocessor.kernel_name={kernels[framework]}",
                            "--output-dir", str(scratch / notebook.relative_to(exported).parent),
                            str(notebook)], book, env)
        seconds, peak, kernels_seen = seconds + s, max(peak, p), kernels_seen + k
    shutil.rmtree(book / "_build" / ".staging", ignore_errors=True)
    # The site alone: every output already cached, so only Sphinx works.
    site = book_build(book, env)
    s, p = site["seconds"], site["peak"]
    kernels_seen += site["kernels"]
    return {"seconds": seconds + s, "kernels": kernels_seen, "notebooks": len(notebooks), "peak": max(peak, p)}


# --- the chapter as a book of several chapters --------------------------------------------

CHAPTER = "chapters/layers-and-modules"
BOOK_SIZES = (1, 2, 4)
CODE_CELL = re.compile(r"(^```\{code-cell\}[^\n]*\n(?::[^\n]*\n)*)(.*?)(\n```$)", re.M | re.S)


def whole_book(book: Path, chapters: int) -> None:
    """The chapter copied ``chapters`` times into ``book`` (a temporary folder), as a book of parts:
    chapters/chapter-K/ each, labels made unique per copy, one bibliography (in the first)."""
    for name in COPY:
        if name != "chapters":
            (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, book / name)
    (book / "node_modules").symlink_to(ROOT / "node_modules")
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]] + [entry["file"] for entry in toc["chapters"]]
    index = pages[0].rsplit("/", 1)[-1]
    parts = []
    for k in range(1, chapters + 1):
        target = book / "chapters" / f"chapter-{k}"
        shutil.copytree(ROOT / CHAPTER, target)
        for page in target.glob("*.md"):
            text = page.read_text().replace("fig-modules", f"fig-modules-{k}")
            if k > 1:  # a book keeps one bibliography: the first chapter's
                text = text.replace("```{bibliography}\n```\n", "")
                # Other code than the first chapter's (a comment closing each cell), so that
                # every notebook of the copy runs: the same code would be one cache entry.
                text = CODE_CELL.sub(lambda m: f"{m[1]}{m[2]}\n# chapter {k}{m[3]}", text)
            page.write_text(text)
        names = [f"chapters/chapter-{k}/{p.rsplit('/', 1)[-1]}" for p in pages]
        parts.append({"caption": f"Part {k}", "numbered": True,
                      "chapters": [{"file": names[0], "sections": [{"file": n} for n in names[1:]]}]})
        assert names[0].endswith(index)
    (book / "intro.md").write_text("---\njupytext:\n  text_representation:\n    format_name: myst\n---\n\n"
                                   f"# A book of {chapters} chapters\n\nThe chapter, {chapters} times.\n")
    (book / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "intro", "parts": parts},
                                                  sort_keys=False))


def book_sizes(env: dict) -> tuple[dict, dict]:
    rows = {}
    for chapters in BOOK_SIZES:
        with tempfile.TemporaryDirectory() as scratch:
            book = Path(scratch) / "book"
            book.mkdir()
            whole_book(book, chapters)
            size_env = dict(env, PYTHONPATH=str(book / "src"))
            cold = book_build(book, size_env)
            pdf_seconds, pdf_peak, _, pdf_output = timed(
                [str(BIN / "python"), "-m", "bookmachine", "--root", str(book), "pdf"], book, size_env)
            again = book_build(book, size_env)
            again_pdf, _, _, again_output = timed(
                [str(BIN / "python"), "-m", "bookmachine", "--root", str(book), "pdf"], book, size_env)
            printed = int(re.search(r"printed (\d+) of", again_output).group(1))
            rows[chapters] = {
                "notebooks": cold["notebooks"], "execute": cold["execute_seconds"],
                "per_notebook": cold["execute_seconds"] / cold["notebooks"],
                "sphinx": cold["seconds"] - cold["execute_seconds"], "pdf": pdf_seconds,
                "peak": max(cold["peak"], pdf_peak), "rebuild": again["seconds"] + again_pdf,
                "rebuild_kernels": again["kernels"], "rebuild_printed": printed,
            }
            print(f"[benchmark] {chapters} chapter(s): {json.dumps(rows[chapters])}", flush=True)
    print(f"\n{'chapters':>8} {'notebooks':>9} {'execute s':>9} {'s/notebook':>10} {'Sphinx s':>9} "
          f"{'PDF s':>7} {'peak MiB':>9} {'no-change s':>11} {'kernels':>7} {'printed':>7}")
    for chapters, row in rows.items():
        print(f"{chapters:8d} {row['notebooks']:9d} {row['execute']:9.1f} {row['per_notebook']:10.2f} "
              f"{row['sphinx']:9.1f} {row['pdf']:7.1f} {row['peak'] / 2**20:9.0f} {row['rebuild']:11.1f} "
              f"{row['rebuild_kernels']:7d} {row['rebuild_printed']:7d}")
    print("(Sphinx s: the build's wall time less execution, export included; no-change: build + pdf "
          "again, with the kernels it started and the PDF pages it printed)")
    first, last = rows[BOOK_SIZES[0]], rows[BOOK_SIZES[-1]]
    targets = {
        f"s/notebook at {BOOK_SIZES[-1]} chapters <= 1.2x at {BOOK_SIZES[0]}":
            last["per_notebook"] <= 1.2 * first["per_notebook"],
        f"no-change rebuild of {BOOK_SIZES[-1]} chapters starts 0 kernels and prints no PDF page":
            last["rebuild_kernels"] == 0 and last["rebuild_printed"] == 0,
        "cold build peak memory < 4 GiB at every size": all(r["peak"] < 4 * 2**30 for r in rows.values()),
    }
    return rows, targets


def edits(env_base: dict) -> tuple[dict, dict]:
    with tempfile.TemporaryDirectory() as scratch:
        book = Path(scratch) / "book"
        book.mkdir()
        for name in COPY:
            (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, book / name)
        (book / "node_modules").symlink_to(ROOT / "node_modules")  # MathJax for the site
        # Kernels import the copy's src/, so a src/ edit is really what runs.
        env = dict(env_base, PYTHONPATH=str(book / "src"))
        rows = {}
        rows["cold build"] = book_build(book, env)
        framework_notebooks = len(list((book / "_build" / "notebooks" / CLASS_FRAMEWORK).rglob("*.ipynb")))
        rows["nothing changed"] = book_build(book, env)
        text = (book / PAGE).read_text()
        sentence = re.search(r"\n\n([A-Z][^\n`{]{20,}?\.)", text).group(1)
        edit(book / PAGE, sentence, sentence[:-1] + ", as we will see.")
        rows["prose edit"] = book_build(book, env)
        line = first_code_line(book / PAGE, "pytorch")
        edit(book / PAGE, line, line + "  # edited")
        rows["one-cell edit (pytorch)"] = book_build(book, env)
        edit(book / CLASS_FILE, "class MLP(", "# edited\nclass MLP(")
        rows[f"src/ edit ({CLASS_FRAMEWORK})"] = book_build(book, env)
        rows["baseline: nbconvert one by one + site"] = baseline(book, env)

    cold, base = rows["cold build"], rows["baseline: nbconvert one by one + site"]
    print(f"\n{'stage':40} {'seconds':>8} {'kernels':>8} {'peak MiB':>9} {'ratio':>14}")
    for name, row in rows.items():
        ratio = (f"{row['seconds'] / base['seconds']:.2f}x baseline" if name == "cold build"
                 else "" if name.startswith("baseline") else f"{row['seconds'] / cold['seconds']:.2f}x cold")
        print(f"{name:40} {row['seconds']:8.1f} {row['kernels']:8d} {row['peak'] / 2**20:9.0f} {ratio:>14}")
    src_row = rows[f"src/ edit ({CLASS_FRAMEWORK})"]
    targets = {
        "cold build <= 0.40x baseline": cold["seconds"] <= 0.40 * base["seconds"],
        "cold build starts one kernel per notebook, none for pages without code": cold["kernels"] == cold["notebooks"],
        "nothing changed starts 0 kernels": rows["nothing changed"]["kernels"] == 0,
        "prose edit starts 0 kernels": rows["prose edit"]["kernels"] == 0,
        "one-cell edit starts exactly 1 kernel": rows["one-cell edit (pytorch)"]["kernels"] == 1,
        f"src/ edit re-runs only {CLASS_FRAMEWORK} ({framework_notebooks} notebooks)":
            src_row["kernels"] == framework_notebooks,
        "cold build peak memory < 4 GiB": cold["peak"] < 4 * 2**30,
    }
    print(json.dumps({k: {**v, "peak": round(v["peak"] / 2**20)} for k, v in rows.items()}))
    return rows, targets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["edits", "sizes"], default=None,
                        help="only the edit table, or only the book-size table (default: both)")
    args = parser.parse_args()
    env = dict(os.environ, BOOKMACHINE_SKIP=os.environ.get("BOOKMACHINE_SKIP", ""))
    targets = {}
    if args.only != "sizes":
        targets.update(edits(env)[1])
    if args.only != "edits":
        targets.update(book_sizes(env)[1])
    print()
    for target, met in targets.items():
        print(f"[{'met' if met else 'MISSED'}] {target}")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
