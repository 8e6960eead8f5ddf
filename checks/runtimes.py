"""Run the exported notebooks where readers open them: one throwaway environment per runtime.

A runtime profile (``runtimes/<name>.txt``) is a pip requirements file describing what a
reader's kernel has before the notebook runs: Colab's runtime, Studio Lab's base image, a
plain local Jupyter. Header comments say the rest::

    # python: 3.13                      the Python it runs (found under pyenv or on PATH)
    # frameworks: pytorch, jax, nnx     whose notebooks readers open there
    # expect: stop                      optional: the set-up cell is meant to stop there

For each profile this script builds the environment once (cached in ``_build/.runtimes``,
keyed by the profile's text; it never holds this book's package), then for each framework
takes a fresh copy of it and runs every exported notebook of ``_build/notebooks/<key>``
there **through the notebook's own set-up cell**, with ``BOOK_PACKAGE_SOURCE`` pointing at
this checkout's package (a copy of its pyproject.toml, README.md and src/). Frameworks run
side by side, as many as there are cores ($BOOKMACHINE_JOBS). It prints a table: profile x
framework -> notebooks that ran clean, cells that failed, code cells whose output differs
from the site's, and the framework versions the set-up cell left. Exit status 1 if a cell
failed (or a set-up cell that should stop did not); differing outputs are listed, not fatal.

    python checks/runtimes.py                     every profile (`make runtimes`)
    python checks/runtimes.py --profiles local    one profile
    python checks/runtimes.py refresh-colab --freeze pip-freeze.txt --os-info os-info.txt \\
        --commit SHA --date YYYY-MM-DD            rewrite runtimes/colab.txt from Colab's list

A profile whose Python is not on this machine is skipped with a message saying so.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import importlib.metadata
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # the book machine of this checkout, for its config

from bookmachine import config as book_config  # noqa: E402
from bookmachine.config import PACKAGE_SOURCE_ENV  # noqa: E402

PROFILES = ROOT / "runtimes"
CACHE = ROOT / "_build" / ".runtimes"
NOTEBOOKS = ROOT / "_build" / "notebooks"
SETUP_TIMEOUT = 3600  # seconds: a set-up cell may download a framework of several GB
CELL_TIMEOUT = 600
WORKERS = int(os.environ.get("BOOKMACHINE_JOBS", 0)) or os.cpu_count() or 1
# What must not leak from this process into a reader's kernel: our package on the path
# (make's PYTHONPATH=src), our virtual environment, our Jupyter paths.
PRIVATE_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR")


# --- profiles ------------------------------------------------------------------------

@dataclass
class Profile:
    path: Path
    python: str  # "3.13"
    frameworks: list[str]
    expect: str = "run"  # or "stop": the set-up cell should stop with its one-line advice

    @property
    def name(self) -> str:
        return self.path.stem


def read_profile(path: Path, known_frameworks) -> Profile:
    header = dict(re.findall(r"^# (python|frameworks|expect): *(.+?) *$", path.read_text(), re.M))
    if "python" not in header or "frameworks" not in header:
        raise SystemExit(f"{path}: needs '# python: X.Y' and '# frameworks: key, key' header lines")
    frameworks = [key.strip() for key in header["frameworks"].split(",") if key.strip()]
    unknown = set(frameworks) - set(known_frameworks)
    if unknown:
        raise SystemExit(f"{path}: unknown frameworks {sorted(unknown)}; known: {', '.join(known_frameworks)}")
    if header.get("expect", "run") not in ("run", "stop"):
        raise SystemExit(f"{path}: '# expect:' is 'run' or 'stop', not {header['expect']!r}")
    return Profile(path, header["python"], frameworks, header.get("expect", "run"))


def find_python(version: str) -> Path | None:
    """The newest X.Y.* interpreter under pyenv, else ``pythonX.Y`` on PATH."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(pyenv.glob(f"{version}.*/bin/python{version}"),
                   key=lambda p: [int(n) for n in re.findall(r"\d+", p.parents[1].name)])
    if found:
        return found[-1]
    on_path = shutil.which(f"python{version}")
    return Path(on_path) if on_path else None


def profile_digest(profile: Profile, python: Path) -> str:
    """Changes when the profile, a requirements file it includes, or its Python changes."""
    digest = hashlib.sha256(str(python.resolve()).encode())
    text = profile.path.read_text()
    digest.update(text.encode())
    for included in re.findall(r"^-[rc]\s+(\S+)", text, re.M):
        digest.update((profile.path.parent / included).read_bytes())
    return digest.hexdigest()[:16]


def has_book_package(python: Path) -> bool:
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('layers_modules') is None)"
    return subprocess.run([str(python), "-c", probe], env=reader_env()).returncode == 0


def build_base(profile: Profile, python: Path) -> Path:
    """The profile's environment, built once and kept (a fresh copy is what runs)."""
    base = CACHE / f"{profile.name}-{profile_digest(profile, python)}"
    if (base / ".complete").exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    for stale in CACHE.glob(f"{profile.name}-*"):  # an older build of this profile (not of "name-more")
        if re.fullmatch(rf"{re.escape(profile.name)}-[0-9a-f]{{16}}", stale.name):
            shutil.rmtree(stale, ignore_errors=True)
    print(f"[runtimes] {profile.name}: building its environment (Python {python}) ...", flush=True)
    started = time.perf_counter()
    subprocess.run([str(python), "-m", "venv", str(base)], check=True)
    subprocess.run([str(base / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", "-r", str(profile.path)],
                   check=True, env=reader_env())
    if has_book_package(base / "bin" / "python"):
        raise SystemExit(f"{profile.path}: its environment has layers_modules already; a profile must "
                         "leave this book's package to the set-up cell")
    (base / ".complete").write_text("")
    print(f"[runtimes] {profile.name}: built in {time.perf_counter() - started:.0f} s", flush=True)
    return base


def fresh_copy(base: Path, target: Path) -> Path:
    """A throwaway copy of ``base`` (hard links: instant; pip replaces files, never edits them)."""
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(base), str(target)], check=True)
    return target / "bin" / "python"


def reader_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
    env.update(extra)
    return env


# --- running a notebook in a given Python ----------------------------------------------

def kernel_manager(python: Path, scratch: Path):
    """A kernel manager whose only kernel is ``python -m ipykernel_launcher``."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    folder = scratch / "kernels" / "reader"
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.log_level=ERROR"],  # no kernel chatter in the report
            "display_name": "reader", "language": "python"}
    (folder / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(scratch / "kernels")], ensure_native_kernel=False)
    return AsyncKernelManager(kernel_name="reader", kernel_spec_manager=specs)


def setup_stopped(cell) -> bool:
    return any(o.get("output_type") == "error" and o.get("ename") == "SetupStopped" for o in cell.outputs)


def run_notebook(notebook, python: Path, env: dict, cwd: Path):
    """Execute ``notebook`` (a copy) in ``python``'s kernel, as "Run all" does from the top.

    Like "Run all", nothing runs after a set-up cell that stopped; other errors are
    recorded and the run goes on, so that every failing cell is counted.
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    with tempfile.TemporaryDirectory() as scratch:
        client = NotebookClient(notebook, km=kernel_manager(python, Path(scratch)), timeout=CELL_TIMEOUT,
                                allow_errors=True, resources={"metadata": {"path": str(cwd)}})
        # The kernel process's own stderr (debugger notes, C++ start-up logs) is not part of
        # the notebook; keep it next to the notebook's run instead of in the report.
        with open(cwd / "kernel-stderr.log", "a") as stderr, client.setup_kernel(env=env, stderr=stderr):
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type != "code":
                    continue
                client.timeout = SETUP_TIMEOUT if index == 0 else CELL_TIMEOUT
                client.execute_cell(cell, index)
                if index == 0 and setup_stopped(cell):
                    break
    return notebook


# --- what a reader sees ----------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Where an environment lives differs by machine, and messages name files in it
# (a warning's source line, "while tracing the function apply at ..."): those
# places, and the line they point at in a library (which moves between
# releases), are the only text compared loosely.
ENVIRONMENT_PATH = re.compile(r"/\S*?/site-packages/(\S*?\.py:\d+)?|/\S*?/ipykernel_\d+/\d+\.py(:\d+)?")


def same_anywhere(text: str) -> str:
    return ENVIRONMENT_PATH.sub(lambda m: "<environment>/" + re.sub(r":\d+$", ":<line>", m.group(1) or ""), text)


def visible(cell) -> list:
    """A cell's outputs as a reader reads them: text, result reprs, errors (not tracebacks);
    the folders of the environment they ran in left out."""
    shown = []
    for output in cell.get("outputs", []):
        kind = output["output_type"]
        if kind == "stream":
            if shown and shown[-1][0] == output["name"]:  # chunking of a stream is not output
                shown[-1] = (output["name"], shown[-1][1] + same_anywhere(output["text"]))
            else:
                shown.append((output["name"], same_anywhere(output["text"])))
        elif kind in ("execute_result", "display_data"):
            shown.append(("data", same_anywhere(output["data"].get("text/plain", "")), sorted(output["data"])))
        elif kind == "error":
            shown.append(("error", output["ename"], same_anywhere(ANSI.sub("", output["evalue"]))))
    return shown


def difference(expected: list, got: list) -> str:
    """Where two cells' visible outputs first part, in one line."""
    def text(shown):
        return "\n".join(str(part) for part in shown[1:])

    for want, have in itertools.zip_longest(expected, got):
        if want == have:
            continue
        if want is None:
            return f"an extra {have[0]} output: {text(have)[:120]!r}"
        if have is None:
            return f"no {want[0]} output (the site has {text(want)[:120]!r})"
        if want[0] != have[0]:
            return f"{have[0]} output {text(have)[:120]!r} where the site has {want[0]}"
        site, here = next((a, b) for a, b in itertools.zip_longest(
            text(want).splitlines(), text(have).splitlines(), fillvalue="") if a != b)
        return f"{want[0]}: the site has {site.strip()[:100]!r}, here {here.strip()[:100]!r}"
    return "the same"


@dataclass
class Result:
    notebooks: int = 0
    clean: int = 0
    stopped: int = 0  # set-up cells that stopped (with their one-line advice)
    failed: list[str] = field(default_factory=list)  # "page cell N: Error: message"
    differ: list[str] = field(default_factory=list)
    setup_lines: list[str] = field(default_factory=list)
    versions: str = ""


def compare(name: str, site, ran, result: Result) -> None:
    clean = True
    for index, (expected, got) in enumerate(zip(site.cells, ran.cells)):
        if got.cell_type != "code":
            continue
        tags = set(got.metadata.get("tags", []))
        errors = [o for o in got.outputs if o.get("output_type") == "error"]
        if index == 0:
            result.setup_lines += [line for o in got.outputs if o.get("output_type") == "stream"
                                   for line in o["text"].splitlines() if line.startswith("Set-up")]
            if setup_stopped(got):
                result.stopped += 1
                result.setup_lines.append(f"Set-up stopped: {errors[0]['evalue']}")
                return
        if errors and "raises-exception" not in tags:
            clean = False
            error = errors[0]
            result.failed.append(f"{name} cell {index}: {error['ename']}: {ANSI.sub('', error['evalue'])[:160]}")
        elif index and not tags & {"nbval-ignore-output", "nbval-skip"} and visible(expected) != visible(got):
            result.differ.append(f"{name} cell {index}: {difference(visible(expected), visible(got))}")
    result.clean += clean


def installed_versions(python: Path, names) -> str:
    probe = ("import importlib.metadata as m, sys\n"
             "found = m.packages_distributions()\n"
             "print(', '.join(f'{n} {m.version(found[n][0])}' if n in found else f'no {n}' for n in sys.argv[1:]))")
    return subprocess.run([str(python), "-c", probe, *names], capture_output=True, text=True,
                          env=reader_env()).stdout.strip()


def package_sources(target: Path) -> Path:
    """This checkout's package as a folder pip can install (what BOOK_PACKAGE_SOURCE names).

    A copy per run: pip builds in the folder it is given, and runs side by side must not
    build in the same one (nor leave build/ and *.egg-info in the checkout).
    """
    for name in ("pyproject.toml", "README.md"):
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "src", target / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return target


def run_framework(profile: Profile, base: Path, framework, work: Path, pages=None) -> Result:
    import nbformat

    result = Result()
    python = fresh_copy(base, work / "env")
    env = reader_env(**{PACKAGE_SOURCE_ENV: str(package_sources(work / "checkout"))})
    (work / "cwd").mkdir(parents=True, exist_ok=True)
    paths = sorted((NOTEBOOKS / framework.key).rglob("*.ipynb"))
    started = time.perf_counter()
    if pages:
        paths = [p for p in paths if p.stem in pages]
    for path in paths:
        site = nbformat.read(path, as_version=4)
        ran = run_notebook(site, python, env, work / "cwd")
        result.notebooks += 1
        compare(path.stem, site, ran, result)
        print(f"[runtimes] {profile.name}/{framework.key}/{path.name}: ran ({len(result.failed)} failing "
              f"cell(s) so far, {time.perf_counter() - started:.0f} s)", flush=True)
    result.versions = installed_versions(python, [r.name for r in framework.requires if r.name != "python"])
    return result


# --- the table -------------------------------------------------------------------------

def table(rows) -> str:
    head = ("profile", "framework", "Python", "notebooks clean", "cells failed", "outputs differ",
            "after the set-up cell")
    lines = [head]
    for profile, python, key, result in rows:
        if isinstance(result, str):  # why it was skipped
            lines.append((profile.name, key, python, "skipped", "", "", result))
            continue
        clean = f"{result.clean}/{result.notebooks}"
        if result.stopped:
            clean = f"set-up stops in {result.stopped}/{result.notebooks}" + (
                " (expected)" if profile.expect == "stop" else "")
        lines.append((profile.name, key, python, clean, str(len(result.failed)), str(len(result.differ)),
                      result.versions))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    out = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def failures(profile: Profile, result: Result) -> list[str]:
    problems = list(result.failed)
    if profile.expect == "stop" and result.stopped < result.notebooks:
        problems.append(f"{result.notebooks - result.stopped} set-up cell(s) ran on although the "
                        "profile expects them to stop")
    if profile.expect == "run" and result.stopped:
        problems.append(f"{result.stopped} set-up cell(s) stopped: {result.setup_lines[-1]}")
    return problems


def run(profile_names=None, framework_keys=None, pages=None, keep: Path | None = None):
    """(exit status, table rows, problems) for the chosen profiles."""
    config = book_config.load(ROOT, skip="")
    if not NOTEBOOKS.is_dir():
        raise SystemExit("no _build/notebooks: run `make book` first")
    paths = sorted(PROFILES.glob("*.txt"))
    if profile_names:
        paths = [p for p in paths if p.stem in profile_names]
        missing = set(profile_names) - {p.stem for p in paths}
        if missing:
            raise SystemExit(f"no profile {sorted(missing)} in {PROFILES}")
    rows, problems = [], []
    for path in paths:
        profile = read_profile(path, config.keys)
        keys = [k for k in profile.frameworks if not framework_keys or k in framework_keys]
        python = find_python(profile.python)
        if python is None:
            print(f"[runtimes] skipping {profile.name}: Python {profile.python} is not on this machine "
                  f"(looked under pyenv and for python{profile.python} on PATH)", flush=True)
            rows += [(profile, profile.python, key, f"no Python {profile.python} here") for key in keys]
            continue
        base = build_base(profile, python)
        version = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                                 capture_output=True, text=True).stdout.strip()
        def one(key):
            if not (NOTEBOOKS / key).is_dir():
                print(f"[runtimes] skipping {profile.name}/{key}: the build made no {key} notebooks", flush=True)
                return f"no {key} notebooks built"
            scratch = Path(tempfile.mkdtemp(prefix=f"runtime-{profile.name}-{key}-", dir=keep))
            try:
                return run_framework(profile, base, config.framework(key), scratch, pages)
            finally:
                if keep is None:
                    shutil.rmtree(scratch, ignore_errors=True)

        # Frameworks side by side, each in its own copy: as many at once as there are cores.
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(one, keys))
        for key, result in zip(keys, results):
            rows.append((profile, version, key, result))
            if isinstance(result, str):
                continue
            problems += [f"{profile.name}/{key}: {p}" for p in failures(profile, result)]
            for line in dict.fromkeys(result.setup_lines):
                print(f"[runtimes] {profile.name}/{key}: {line[:300]}")
            for cell in result.differ:
                print(f"[runtimes] {profile.name}/{key}: output differs from the site's: {cell}")
    return (1 if problems else 0), rows, problems


# --- refreshing runtimes/colab.txt from Colab's published list ----------------------------

def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_closure(roots) -> set[str]:
    """Every package ``roots`` need, directly or not, as this environment's metadata says."""
    from packaging.requirements import Requirement

    providers = importlib.metadata.packages_distributions()
    seen, todo = set(), [canonical(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            alias = providers.get(name.replace("-", "_"))  # e.g. tensorflow -> tensorflow-cpu here
            requires = (importlib.metadata.requires(alias[0]) or []) if alias else []
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonical(requirement.name))
    return seen


def transcribe_colab(freeze: str, os_info: str, commit: str, date: str, config) -> str:
    """runtimes/colab.txt from Colab's pip-freeze.txt and os-info.txt."""
    python = re.search(r"^Python (\d+\.\d+)", os_info, re.M)
    if not python:
        raise SystemExit("os-info.txt names no 'Python X.Y'")
    frameworks = [fw for fw in config.frameworks if "colab" in fw.launch]
    roots = {r.name for fw in frameworks for r in fw.requires if r.name != "python"} | {"ipykernel"}
    wanted = dependency_closure(roots)
    pins = []
    for line in freeze.splitlines():
        line = line.strip()
        pinned = re.match(r"^([\w.-]+)==(\S+)$", line)
        url = re.match(r"^([\w.-]+) @ \S+/[\w.]+?-(\d[\w.]*?)(?:%2B|\+)[^/]*\.whl$", line) or \
            re.match(r"^([\w.-]+) @ \S+/[\w.]+?-(\d[\w.]*?)-[^/]*\.whl$", line)
        match = pinned or url
        if match and canonical(match[1]) in wanted:
            pins.append(f"{match[1]}=={match[2]}")
    header = [
        "# Google Colab's runtime as Colab publishes it: googlecolab/backend-info (pip-freeze.txt,",
        f"# os-info.txt) at commit {commit} of {date}. Written by `python checks/runtimes.py",
        "# refresh-colab` (the weekly runtimes workflow): do not edit by hand.",
        "# Transcribed: what this chapter's frameworks and a Jupyter kernel need, directly or not",
        "# (their dependency closure in the book's environment), at Colab's versions; pip picks the",
        "# rest. A wheel Colab takes from a URL (its CPU build of torch) is pinned to its version,",
        "# which PyPI has as a CUDA build: the same code, but several GB to download.",
        f"# python: {python[1]}",
        f"# frameworks: {', '.join(fw.key for fw in frameworks)}",
    ]
    return "\n".join(header + sorted(pins, key=str.lower)) + "\n"


def refresh_colab(args) -> int:
    config = book_config.load(ROOT, skip="")
    text = transcribe_colab(Path(args.freeze).read_text(), Path(args.os_info).read_text(),
                            args.commit, args.date, config)
    target = PROFILES / "colab.txt"
    old = target.read_text() if target.exists() else ""
    pins = lambda t: [l for l in t.splitlines() if not l.startswith("#")]  # noqa: E731
    target.write_text(text)
    moved = sorted(set(pins(text)) ^ set(pins(old)))
    print(f"[runtimes] runtimes/colab.txt: Colab at {args.commit} ({args.date}); "
          + (f"changed: {', '.join(moved)}" if moved else "no version changed"))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    refresh = commands.add_parser("refresh-colab", help="rewrite runtimes/colab.txt from Colab's list")
    refresh.add_argument("--freeze", required=True, help="Colab's pip-freeze.txt")
    refresh.add_argument("--os-info", required=True, help="Colab's os-info.txt")
    refresh.add_argument("--commit", required=True, help="the googlecolab/backend-info commit")
    refresh.add_argument("--date", required=True, help="that commit's date, YYYY-MM-DD")
    parser.add_argument("--profiles", help="comma-separated profile names (default: all in runtimes/)")
    parser.add_argument("--frameworks", help="comma-separated framework keys (default: the profile's)")
    parser.add_argument("--pages", help="comma-separated notebook names, e.g. index,exercises")
    parser.add_argument("--keep", type=Path, help="keep the throwaway environments under this folder")
    args = parser.parse_args(argv)
    if args.command == "refresh-colab":
        return refresh_colab(args)
    split = lambda value: value.split(",") if value else None  # noqa: E731
    status, rows, problems = run(split(args.profiles), split(args.frameworks), split(args.pages), args.keep)
    print()
    print(table(rows))
    for problem in problems:
        print(f"FAIL {problem}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
