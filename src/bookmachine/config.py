"""The book's settings, read from ``_config.yml`` (the one place they live)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import BookError

CONFIG_FILE = "_config.yml"
SKIP_ENV = "BOOKMACHINE_SKIP"  # comma-separated framework keys not to build


@dataclass(frozen=True)
class Framework:
    key: str  # the tag on cells, e.g. "pytorch"
    label: str  # the tab's title, e.g. "PyTorch"
    kernel: str  # Jupyter kernel that runs this framework's cells
    venv: str = ".venv"  # environment that kernel lives in
    library: str | None = None  # module of src/ its notebooks import
    launch: tuple[str, ...] = ()  # hosted services that can run its notebooks
    env: dict = field(default_factory=dict, hash=False)  # set before any import
    note: str = ""  # shown once per page in this framework's launch tab


@dataclass(frozen=True)
class BookConfig:
    root: Path
    frameworks: tuple[Framework, ...]
    repository_url: str
    repository_branch: str
    notebooks_branch: str
    skip: frozenset[str] = frozenset()
    mathjax_path: str | None = None

    @property
    def keys(self) -> list[str]:
        return [fw.key for fw in self.frameworks]

    @property
    def built(self) -> list[Framework]:
        """The frameworks this build executes (all but the skipped ones)."""
        return [fw for fw in self.frameworks if fw.key not in self.skip]

    def framework(self, key: str) -> Framework:
        for fw in self.frameworks:
            if fw.key == key:
                return fw
        raise KeyError(key)

    @property
    def cache_dir(self) -> Path:
        return self.root / "_build" / ".bookmachine"


def frameworks_from_list(entries, where: str = CONFIG_FILE) -> tuple[Framework, ...]:
    if not entries:
        raise BookError("no frameworks configured (sphinx.config.bookmachine_frameworks)", path=where)
    frameworks = []
    for entry in entries:
        missing = {"key", "label", "kernel"} - set(entry)
        if missing:
            raise BookError(f"framework entry {entry!r} lacks {sorted(missing)}", path=where)
        unknown = set(entry) - set(Framework.__dataclass_fields__)
        if unknown:
            raise BookError(f"framework '{entry['key']}' has unknown settings {sorted(unknown)}", path=where)
        values = dict(entry)
        values["launch"] = tuple(values.get("launch") or ())
        values["env"] = {k: str(v) for k, v in (values.get("env") or {}).items()}
        frameworks.append(Framework(**values))
    keys = [fw.key for fw in frameworks]
    if len(set(keys)) != len(keys):
        raise BookError(f"framework keys repeat: {keys}", path=where)
    return tuple(frameworks)


def parse_skip(value: str | None, keys) -> frozenset[str]:
    skip = frozenset(k.strip() for k in (value or "").split(",") if k.strip())
    unknown = skip - set(keys)
    if unknown:
        raise BookError(f"cannot skip unknown framework(s) {sorted(unknown)}; known: {', '.join(keys)}")
    return skip


def load(root: Path | str = ".", skip: str | None = None) -> BookConfig:
    """Read ``_config.yml`` under ``root``; ``skip`` defaults to $BOOKMACHINE_SKIP."""
    root = Path(root).resolve()
    path = root / CONFIG_FILE
    if not path.exists():
        raise BookError("not found: is this the book's root folder?", path=path)
    data = yaml.safe_load(path.read_text()) or {}
    sphinx_config = (data.get("sphinx") or {}).get("config") or {}
    frameworks = frameworks_from_list(sphinx_config.get("bookmachine_frameworks"), str(path))
    repository = data.get("repository") or {}
    return BookConfig(
        root=root,
        frameworks=frameworks,
        repository_url=str(repository.get("url", "")).rstrip("/"),
        repository_branch=str(repository.get("branch", "main")),
        notebooks_branch=str(sphinx_config.get("bookmachine_notebooks_branch", "notebooks")),
        skip=parse_skip(os.environ.get(SKIP_ENV) if skip is None else skip, [fw.key for fw in frameworks]),
        mathjax_path=sphinx_config.get("mathjax_path"),
    )
