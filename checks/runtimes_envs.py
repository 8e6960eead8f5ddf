"""Throwaway environments built like a reader's runtime: one per profile, kept, copied per run."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from runtimes_profiles import Profile

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".runtimes"
# What must not leak from this process into a reader's kernel: our package on the path
# (make's PYTHONPATH=src), our virtual environment, our Jupyter paths.
PRIVATE_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR")


def reader_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
    env.update(extra)
    return env


def profile_digest(profile: Profile, python: Path) -> str:
    """Changes when the profile's requirements, a file it includes, or its Python changes
    (not when a comment does: a refresh that moves nothing rebuilds nothing)."""
    digest = hashlib.sha256(str(python.resolve()).encode())
    text = profile.path.read_text()
    digest.update("\n".join(line for line in text.splitlines() if not line.startswith("#")).encode())
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


# Run in the profile's own Python: import name -> the packages that provide it.
# packages_distributions() is Python 3.10+; on 3.9 (Studio Lab's base) read each
# package's top_level.txt, which is where 3.10 looks first.
FIND_PROVIDERS = (
    "import importlib.metadata as m, json, sys\n"
    "def providers():\n"
    "    if hasattr(m, 'packages_distributions'):\n"
    "        return m.packages_distributions()\n"
    "    found = {}\n"
    "    for dist in m.distributions():\n"
    "        for top in (dist.read_text('top_level.txt') or '').split():\n"
    "            found.setdefault(top, []).append(dist.metadata['Name'])\n"
    "    return found\n"
    "found = providers()\n")


def installed_versions(python: Path, names) -> str:
    """'torch 2.9.0, no jax': the packages that provide the import ``names``."""
    probe = (FIND_PROVIDERS +
             "print(', '.join(f'{n} {m.version(found[n][0])}' if n in found else f'no {n}' for n in sys.argv[1:]))")
    return subprocess.run([str(python), "-c", probe, *names], capture_output=True, text=True,
                          env=reader_env()).stdout.strip()


def installed_packages(python: Path) -> dict[str, str]:
    """Every package of ``python``'s environment: canonical name -> version."""
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                            capture_output=True, text=True, check=True, env=reader_env()).stdout
    return {re.sub(r"[-_.]+", "-", p["name"]).lower(): p["version"] for p in json.loads(listed)}


def providers(python: Path, names) -> dict[str, tuple[str, str]]:
    """import name -> (the package that provides it, its version), for those installed."""
    probe = (FIND_PROVIDERS +
             "print(json.dumps({n: (found[n][0], m.version(found[n][0])) for n in sys.argv[1:] if n in found}))")
    out = subprocess.run([str(python), "-c", probe, *names], capture_output=True, text=True, check=True,
                         env=reader_env()).stdout
    return {name: tuple(found) for name, found in json.loads(out).items()}
