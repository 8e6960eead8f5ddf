"""Runtime profiles: ``runtimes/<name>.txt``, what a reader's kernel has before a notebook runs.

A profile is a pip requirements file; header comments say the rest::

    # python: 3.13                      the Python it runs (found under pyenv or on PATH)
    # frameworks: pytorch, jax, nnx     whose notebooks readers open there
    # expect: stop                      optional: the set-up cell is meant to stop there
    # env: JAX_PLATFORMS=cpu            optional: the kernel's environment variables
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Profile:
    path: Path
    python: str  # "3.13"
    frameworks: list[str]
    expect: str = "run"  # or "stop": the set-up cell should stop with its one-line advice
    env: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.stem


def read_profile(path: Path, known_frameworks) -> Profile:
    header = dict(re.findall(r"^# (python|frameworks|expect|env): *(.+?) *$", path.read_text(), re.M))
    if "python" not in header or "frameworks" not in header:
        raise SystemExit(f"{path}: needs '# python: X.Y' and '# frameworks: key, key' header lines")
    frameworks = [key.strip() for key in header["frameworks"].split(",") if key.strip()]
    unknown = set(frameworks) - set(known_frameworks)
    if unknown:
        raise SystemExit(f"{path}: unknown frameworks {sorted(unknown)}; known: {', '.join(known_frameworks)}")
    if header.get("expect", "run") not in ("run", "stop"):
        raise SystemExit(f"{path}: '# expect:' is 'run' or 'stop', not {header['expect']!r}")
    env = dict(pair.strip().split("=", 1) for pair in header.get("env", "").split(",") if "=" in pair)
    return Profile(path, header["python"], frameworks, header.get("expect", "run"), env)


def find_python(version: str) -> Path | None:
    """The newest X.Y.* interpreter under pyenv, else ``pythonX.Y`` on PATH."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(pyenv.glob(f"{version}.*/bin/python{version}"),
                   key=lambda p: [int(n) for n in re.findall(r"\d+", p.parents[1].name)])
    if found:
        return found[-1]
    on_path = shutil.which(f"python{version}")
    return Path(on_path) if on_path else None
