"""Transcribing Colab's published runtimes (googlecolab/backend-info) into runtime profiles.

Colab publishes, per runtime, a ``pip-freeze`` list and an ``os-info`` file. Each Colab
profile of ``runtimes/`` is one of them, transcribed: what this chapter's frameworks and a
Jupyter kernel need (their dependency closure in the book's environment), what pins them
(numba pins numpy), and the jax accelerator plugins, at Colab's versions; pip picks the rest.
"""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ColabRuntime:
    profile: str  # runtimes/<profile>.txt
    title: str
    freeze: str  # file names in googlecolab/backend-info
    os_info: str
    note: str = ""  # what the transcription leaves out, and why


RUNTIMES = {r.profile: r for r in (
    ColabRuntime("colab", "Google Colab's runtime (CPU)", "pip-freeze.txt", "os-info.txt"),
    ColabRuntime("colab-gpu", "Google Colab's GPU runtime", "pip-freeze.gpu.txt", "os-info-gpu.txt",
                 "Left out: the nvidia-* CUDA 12 libraries (pip takes the ones torch pins) and other\n"
                 "GPU-only wheels; kept: torch at its version and the jax CUDA plugin family. The\n"
                 "machines that run the profiles have no GPU: jax loads its CUDA plugin, skips the\n"
                 "plugin's check of CUDA's libraries, and runs on the CPU (env, below)."),
    ColabRuntime("colab-tpu", "Google Colab's TPU runtime", "pip-freeze.tpu.txt", "os-info-tpu.txt",
                 "Left out: libtpu and torch-xla (TPU-only wheels; torch-xla pins torch 2.9.0, which is\n"
                 "kept at its version). No tensorflow: Colab's TPU runtime has none."),
    ColabRuntime("colab-py312", "Google Colab's last Python 3.12 runtime (CPU; a notebook can pin it)",
                 "pip-freeze.txt", "os-info.txt"),
)}

# Colab's packages that are not the chapter's but pin what it uses, and the jax family.
PINNING = {"numba", "llvmlite"}
JAX_FAMILY = re.compile(r"^(jax|jaxlib|jax-cuda\d+-(plugin|pjrt))$")


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


def transcribe_colab(freeze: str, os_info: str, commit: str, date: str, config,
                     runtime: ColabRuntime = RUNTIMES["colab"], folder: str = "") -> str:
    """A Colab profile (runtimes/colab*.txt) from Colab's pip-freeze and os-info lists."""
    python = re.search(r"^Python (\d+\.\d+)", os_info, re.M)
    if not python:
        raise SystemExit("os-info names no 'Python X.Y'")
    frameworks = [fw for fw in config.frameworks if "colab" in fw.launch]
    roots = {r.name for fw in frameworks for r in fw.requires if r.name != "python"} | {"ipykernel"}
    wanted = dependency_closure(roots) | PINNING
    pins = []
    for line in freeze.splitlines():
        line = line.strip()
        pinned = re.match(r"^([\w.-]+)==(\S+)$", line)
        url = re.match(r"^([\w.-]+) @ \S+/[\w.]+?-(\d[\w.]*?)(?:%2B|\+)[^/]*\.whl$", line) or \
            re.match(r"^([\w.-]+) @ \S+/[\w.]+?-(\d[\w.]*?)-[^/]*\.whl$", line)
        match = pinned or url
        if match and (canonical(match[1]) in wanted or JAX_FAMILY.match(canonical(match[1]))):
            pins.append(f"{match[1]}=={match[2].split('+')[0]}")  # 2.11.0+cu128 -> 2.11.0
    where = f"{folder.rstrip('/')}/" if folder else ""
    header = [
        f"# {runtime.title} as Colab publishes it: googlecolab/backend-info",
        f"# ({where}{runtime.freeze}, {where}{runtime.os_info}) at commit {commit} of {date}.",
        "# Written by `python checks/runtimes.py refresh-colab` (the weekly runtimes workflow):",
        "# do not edit by hand.",
        "# Transcribed: what this chapter's frameworks and a Jupyter kernel need, directly or not",
        "# (their dependency closure in the book's environment), what pins them (numba, llvmlite)",
        "# and the jax family, at Colab's versions; pip picks the rest. A wheel Colab takes from a",
        "# URL or as a local build (+cpu, +cu128 torch) is pinned to its version, which PyPI has",
        "# as a CUDA build: the same code, but several GB to download.",
        *[f"# {line}" for line in runtime.note.splitlines()],
        f"# python: {python[1]}",
        f"# frameworks: {', '.join(fw.key for fw in frameworks)}",
    ]
    if runtime.profile == "colab-gpu":
        header.append("# env: JAX_PLATFORMS=cpu, JAX_SKIP_CUDA_CONSTRAINTS_CHECK=1")
    return "\n".join(header + sorted(pins, key=str.lower)) + "\n"


def refresh_colab(args, config, profiles: Path) -> int:
    runtime = RUNTIMES[args.profile]
    text = transcribe_colab(Path(args.freeze).read_text(), Path(args.os_info).read_text(),
                            args.commit, args.date, config, runtime, args.folder or "")
    target = profiles / f"{runtime.profile}.txt"
    old = target.read_text() if target.exists() else ""
    pins = lambda t: [l for l in t.splitlines() if not l.startswith("#")]  # noqa: E731
    target.write_text(text)
    moved = sorted(set(pins(text)) ^ set(pins(old)))
    print(f"[runtimes] runtimes/{target.name}: Colab at {args.commit} ({args.date}); "
          + (f"changed: {', '.join(moved)}" if moved else "no version changed"))
    return 0
