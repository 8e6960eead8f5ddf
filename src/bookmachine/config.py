"""The book's settings, read from ``_config.yml`` (the one place they live)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import BookError

CONFIG_FILE = "_config.yml"
SKIP_ENV = "BOOKMACHINE_SKIP"  # comma-separated framework keys not to build
# Where the notebooks' set-up cell installs this book's package from (a path, a wheel
# or a pip URL), instead of the repository at the published commit. Read at build time
# (the default the notebooks carry) and by the set-up cell itself (a reader's override).
PACKAGE_SOURCE_ENV = "BOOK_PACKAGE_SOURCE"
REPOSITORY_ENV = "GITHUB_REPOSITORY"  # owner/name, set by GitHub Actions
CI_ENV = "GITHUB_ACTIONS"  # "true" in GitHub Actions


@dataclass(frozen=True)
class Requirement:
    """One entry of a framework's ``requires``: ``name>=oldest`` or ``name>=oldest,<beyond``.

    ``name`` is both what pip installs and what Python imports ("python" for the
    interpreter itself). ``oldest`` is the oldest version the chapter runs on (older ones
    are upgraded); ``beyond`` the first version past the supported range (pip installs
    below it; a newer one already installed is kept, not replaced: it may well work).
    """

    name: str
    oldest: str
    beyond: str | None = None

    def __str__(self) -> str:
        return f"{self.name}>={self.oldest}" + (f",<{self.beyond}" if self.beyond else "")


REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z][\w.-]*)\s*>=\s*(?P<oldest>\d[\w.]*)"
                         r"(\s*,\s*<\s*(?P<beyond>\d[\w.]*))?$")


def parse_requirement(text: str, framework: str, where: str = CONFIG_FILE) -> Requirement:
    match = REQUIREMENT.match(str(text).strip())
    if not match:
        raise BookError(f"requires entry {text!r} must read NAME>=OLDEST or NAME>=OLDEST,<BEYOND "
                        "(e.g. \"torch>=2.11,<3\"): the set-up cell installs the range and never "
                        "downgrades", path=where, framework=framework)
    return Requirement(match["name"], match["oldest"], match["beyond"])


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
    requires: tuple[Requirement, ...] = ()  # supported versions: the set-up cell's policy


@dataclass(frozen=True)
class BookConfig:
    root: Path
    frameworks: tuple[Framework, ...]
    repository_url: str
    repository_branch: str
    notebooks_branch: str
    skip: frozenset[str] = frozenset()
    mathjax_path: str | None = None
    repository_source: str = CONFIG_FILE  # where repository_url came from (printed by the build)
    package_source: str | None = None  # $BOOK_PACKAGE_SOURCE at build time, if set

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
        values["requires"] = tuple(parse_requirement(r, entry["key"], where)
                                   for r in values.get("requires") or ())
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


GITHUB_URL = re.compile(r"^(?:https?://(?:[^@/]+@)?github\.com/|git@github\.com:|"
                        r"ssh://git@github\.com/)(?P<repo>[\w.-]+/[\w.-]+?)(?:\.git)?/?$")


def git_remote_url(root: Path) -> str | None:
    """The URL of the checkout's ``origin`` remote (or its only remote), if any."""
    def git(*args):
        try:
            result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        except OSError:  # no git at all
            return ""
        return result.stdout.strip() if result.returncode == 0 else ""
    remotes = git("remote").split()
    name = "origin" if "origin" in remotes else remotes[0] if len(remotes) == 1 else None
    return git("remote", "get-url", name) or None if name else None


def resolve_repository(root: Path, configured: str) -> tuple[str, str]:
    """(repository URL, where it came from): the repository being published, not a constant.

    In GitHub Actions, $GITHUB_REPOSITORY; locally, the git remote when it is on GitHub;
    else ``repository.url`` in ``_config.yml``. Credentials in a remote URL are dropped.
    """
    if os.environ.get(REPOSITORY_ENV):
        return f"https://github.com/{os.environ[REPOSITORY_ENV]}", REPOSITORY_ENV
    remote = git_remote_url(root)
    match = GITHUB_URL.match(remote or "")
    if match:
        return f"https://github.com/{match['repo']}", "git remote"
    return configured, CONFIG_FILE


def published_repository() -> str | None:
    """In CI, the ``owner/name`` being published: every launch link must point there."""
    return os.environ.get(REPOSITORY_ENV) if os.environ.get(CI_ENV) == "true" else None


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
    repository_url, repository_source = resolve_repository(root, str(repository.get("url", "")).rstrip("/"))
    return BookConfig(
        root=root,
        frameworks=frameworks,
        repository_url=repository_url,
        repository_source=repository_source,
        package_source=os.environ.get(PACKAGE_SOURCE_ENV) or None,
        repository_branch=str(repository.get("branch", "main")),
        notebooks_branch=str(sphinx_config.get("bookmachine_notebooks_branch", "notebooks")),
        skip=parse_skip(os.environ.get(SKIP_ENV) if skip is None else skip, [fw.key for fw in frameworks]),
        mathjax_path=sphinx_config.get("mathjax_path"),
    )
