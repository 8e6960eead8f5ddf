"""Run every exported notebook against the newest framework releases.

This is what a Colab reader gets next month. The script makes a throwaway
virtual environment with the Python Colab runs (``# python:`` in
``runtimes/colab.txt``; the newest jax and flax are not published for older
ones), installs the newest torch, jax/flax, tensorflow/keras
and this book's package there (unpinned, on purpose), runs each launchable
notebook from ``_build/notebooks`` in that environment, and prints every cell
that fails. Exit status 1 if any does. Not part of ``make test``; run it with
``make newest-releases`` (after ``make book``). MXNet is retired: it gets no
new releases, so it is left out.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLAB = ROOT / "runtimes" / "colab.txt"
NEWEST = ["torch", "jax", "flax", "tensorflow", "keras", "numpy", "ipykernel", "nbclient", "nbformat", "pyyaml"]


def run_notebooks(folder: Path, frameworks: list[str]) -> int:
    """Inside the throwaway environment: execute and report."""
    import nbformat
    from nbclient import NotebookClient

    failures, ran = [], 0
    for framework in frameworks:
        for path in sorted((folder / framework).rglob("*.ipynb")):
            notebook = nbformat.read(path, as_version=4)
            client = NotebookClient(notebook, kernel_name="python3", timeout=600, allow_errors=True,
                                    resources={"metadata": {"path": str(ROOT)}})
            client.execute()
            ran += 1
            for position, cell in enumerate(notebook.cells):
                for output in cell.get("outputs", []):
                    expected = "raises-exception" in cell.metadata.get("tags", [])
                    if output.get("output_type") == "error" and not expected:
                        failures.append(f"{framework}/{path.name} cell {position}: "
                                        f"{output['ename']}: {output['evalue'][:200]}")
    print(f"ran {ran} notebooks against the newest releases; {len(failures)} failing cell(s)")
    for line in failures:
        print("  FAIL", line)
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--frameworks", default="pytorch,jax,tensorflow,nnx")
    parser.add_argument("--keep", metavar="DIR", help="build the environment here and keep it")
    parser.add_argument("--python", metavar="X.Y", help="default: the Python of runtimes/colab.txt")
    args = parser.parse_args()
    folder = ROOT / "_build" / "notebooks"
    frameworks = args.frameworks.split(",")
    if args.inside:
        return run_notebooks(folder, frameworks)
    if not folder.exists():
        print("no _build/notebooks: run `make book` first", file=sys.stderr)
        return 2
    from runtimes import find_python  # checks/runtimes.py, beside this script (not needed --inside)

    version = args.python or re.search(r"^# python: *(\S+)", COLAB.read_text(), re.M).group(1)
    interpreter = find_python(version)
    if interpreter is None:
        print(f"no Python {version} (pyenv or python{version} on PATH): install it, "
              f"or choose another with --python", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        env_dir = Path(args.keep or scratch) / "newest-venv"
        subprocess.run([str(interpreter), "-m", "venv", "--clear", str(env_dir)], check=True)
        python = env_dir / "bin" / "python"
        print(f"Python {version} ({interpreter})")
        pip = [str(python), "-m", "pip", "install", "--quiet", "--upgrade"]
        subprocess.run(pip + NEWEST, check=True)
        subprocess.run(pip + ["--no-deps", str(ROOT)], check=True)
        versions = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"],
                                  capture_output=True, text=True).stdout
        print("newest releases:", ", ".join(line for line in versions.splitlines()
                                               if line.split("==")[0].lower() in NEWEST))
        return subprocess.run([str(python), __file__, "--inside", "--frameworks", args.frameworks]).returncode


if __name__ == "__main__":
    raise SystemExit(main())
