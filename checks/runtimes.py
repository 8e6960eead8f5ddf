"""Run the exported notebooks where readers open them: one throwaway environment per runtime.

A runtime profile (``runtimes/<name>.txt``, read by runtimes_profiles.py) is a pip
requirements file describing what a reader's kernel has before the notebook runs: Colab's
runtimes (CPU, GPU, TPU, its last Python 3.12 one), Studio Lab's base image, a plain local
Jupyter, the oldest releases the chapter supports.

For each profile this script builds the environment once (cached in ``_build/.runtimes``,
keyed by the profile's text; it never holds this book's package), then for each framework
takes a fresh copy of it and runs every exported notebook of ``_build/notebooks/<key>``
there **through the notebook's own set-up cell**, with ``BOOK_PACKAGE_SOURCE`` pointing at
this checkout's package (a copy of its pyproject.toml, README.md and src/). Frameworks run
side by side, as many as there are cores ($BOOKMACHINE_JOBS). It prints a table: profile x
framework -> notebooks that ran clean, cells that failed, code cells whose output differs
from the site's, every package whose version the set-up cell changed, and the framework
versions it left. Exit status 1 if a cell failed, a set-up cell that should stop did not
(or the reverse), the set-up cell changed a package the runtime had within range (only
this book's package, a framework it lacked and what is older than `requires` may move),
or the jax family's versions disagree; differing outputs are listed, not fatal.

The parts: runtimes_profiles.py (profiles), runtimes_envs.py (environments),
runtimes_notebooks.py (running a notebook), runtimes_compare.py (comparing with the site),
runtimes_colab.py (transcribing Colab's published lists).

    python checks/runtimes.py                     every profile (`make runtimes`)
    python checks/runtimes.py --profiles local    one profile
    python checks/runtimes.py refresh-colab [--profile colab-gpu] --freeze pip-freeze.gpu.txt \\
        --os-info os-info-gpu.txt --commit SHA --date YYYY-MM-DD
                                                  rewrite runtimes/colab*.txt from Colab's list

A profile whose Python is not on this machine is skipped with a message saying so.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # the book machine of this checkout, for its config
sys.path.insert(0, str(ROOT / "checks"))

from bookmachine import config as book_config  # noqa: E402
from bookmachine.config import PACKAGE_SOURCE_ENV  # noqa: E402
from runtimes_colab import RUNTIMES, refresh_colab, transcribe_colab  # noqa: E402,F401
from runtimes_compare import (Result, compare, difference, failures, package_changes,  # noqa: E402,F401
                              release, same_anywhere, table, visible)
from runtimes_envs import (build_base, fresh_copy, installed_packages, installed_versions,  # noqa: E402,F401
                           package_sources, providers, reader_env)
from runtimes_notebooks import run_notebook, setup_stopped  # noqa: E402,F401
from runtimes_profiles import Profile, find_python, read_profile  # noqa: E402,F401

PROFILES = ROOT / "runtimes"
NOTEBOOKS = ROOT / "_build" / "notebooks"
WORKERS = int(os.environ.get("BOOKMACHINE_JOBS", 0)) or os.cpu_count() or 1


def too_old(python: Path, framework) -> set[str]:
    """The packages of ``python``'s environment older than ``framework``'s ``requires``."""
    wanted = {r.name: r for r in framework.requires if r.name != "python"}
    found = providers(python, wanted)
    return {re.sub(r"[-_.]+", "-", package).lower() for name, (package, version) in found.items()
            if release(version) < release(wanted[name].oldest)}


def run_framework(profile: Profile, base: Path, framework, work: Path, pages=None) -> Result:
    import nbformat

    result = Result()
    python = fresh_copy(base, work / "env")
    before, older = installed_packages(python), too_old(python, framework)
    env = reader_env(**profile.env, **{PACKAGE_SOURCE_ENV: str(package_sources(work / "checkout"))})
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
    package_changes(before, installed_packages(python), older, result)
    result.versions = installed_versions(python, [r.name for r in framework.requires if r.name != "python"])
    return result


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
            print(f"[runtimes] {profile.name}/{key}: the set-up cell changed: {', '.join(result.changed) or 'nothing'}")
            for cell in result.differ:
                print(f"[runtimes] {profile.name}/{key}: output differs from the site's: {cell}")
    return (1 if problems else 0), rows, problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    refresh = commands.add_parser("refresh-colab", help="rewrite a runtimes/colab*.txt from Colab's list")
    refresh.add_argument("--profile", default="colab", choices=sorted(RUNTIMES),
                         help="which Colab runtime (default: colab, the CPU one)")
    refresh.add_argument("--folder", help="where the lists lie in googlecolab/backend-info, if not at its top")
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
        return refresh_colab(args, book_config.load(ROOT, skip=""), PROFILES)
    split = lambda value: value.split(",") if value else None  # noqa: E731
    status, rows, problems = run(split(args.profiles), split(args.frameworks), split(args.pages), args.keep)
    print()
    print(table(rows))
    for problem in problems:
        print(f"FAIL {problem}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
