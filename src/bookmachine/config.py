"""The book's settings: ``_config.yml`` and the few environment variables, read here only.

Environment variables (see README.md):

- ``BOOKMACHINE_SKIP``: comma-separated framework keys not to build;
- ``BOOKMACHINE_JOBS``: notebooks run at once (default: two per core, bounded by memory);
- ``BOOKMACHINE_REF``: the git ref the exported notebooks install the package at
  (default: ``GITHUB_SHA`` in CI, else ``repository.branch``);
- ``BOOK_PACKAGE_SOURCE``: where the notebooks install the package from instead;
- ``GITHUB_REPOSITORY``, ``GITHUB_ACTIONS``: the repository being published, in CI.

The paths under ``_build`` are worked out here too, once.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import BookError

CONFIG_FILE = "_config.yml"
SKIP_ENV = "BOOKMACHINE_SKIP"
JOBS_ENV = "BOOKMACHINE_JOBS"
REF_ENV = "BOOKMACHINE_REF"
# Set by `bookmachine build` for the Sphinx process it starts: where the pages
# it prepared are listed, so that Sphinx reads them instead of preparing again.
PREPARED_ENV = "BOOKMACHINE_PREPARED"

# Defaults for the settings under sphinx.config in _config.yml.
CELL_TIMEOUT = 300  # seconds a cell may run
OUTPUT_LIMIT_KB = 500  # output one cell may produce
LARGE_OUTPUT_LIMIT_KB = 20_000  # ... when it is tagged `large-output`
# A kernel of this chapter peaks below 1 GiB; more at once than memory allows
# would swap or be killed, so the default number of workers is bounded by it.
KERNEL_MEMORY = 1 << 30
# Kernels wait a good part of their life (imports from disk, messages, one
# compile thread): two per core finished a cold build sooner than one per core
# (measured with benchmarks/build_speed.py on 2 cores).
KERNELS_PER_CORE = 2
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
    title: str = ""  # the book's `title` in _config.yml
    mathjax_path: str | None = None
    cell_timeout: int = CELL_TIMEOUT
    output_limit_kb: int = OUTPUT_LIMIT_KB
    large_output_limit_kb: int = LARGE_OUTPUT_LIMIT_KB
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

    # --- where things go under _build ----------------------------------------
    @property
    def build_dir(self) -> Path:
        return self.root / "_build"

    @property
    def html_dir(self) -> Path:
        """The published site."""
        return self.build_dir / "html"

    @property
    def notebooks_dir(self) -> Path:
        """The published notebooks, ``<framework>/<chapter>/<page>.ipynb`` (see ``export.notebook_name``)."""
        return self.build_dir / "notebooks"

    @property
    def pdf_dir(self) -> Path:
        """One PDF per framework (``python -m bookmachine pdf``)."""
        return self.build_dir / "pdf"

    @property
    def staging_dir(self) -> Path:
        """Where a build writes before it is swapped in (Sphinx's ``--path-output``)."""
        return self.build_dir / ".staging"

    @property
    def cache_dir(self) -> Path:
        """Executed outputs, merged pages and the last run's statistics."""
        return self.build_dir / ".bookmachine"

    @property
    def merged_dir(self) -> Path:
        return self.cache_dir / "merged"

    # --- environment ----------------------------------------------------------
    @staticmethod
    def workers() -> int:
        """Notebooks run at once: $BOOKMACHINE_JOBS, else two per core, bounded by free memory."""
        if os.environ.get(JOBS_ENV):
            try:
                return max(1, int(os.environ[JOBS_ENV]))
            except ValueError:
                raise BookError(f"{JOBS_ENV} must be a whole number, not {os.environ[JOBS_ENV]!r}") from None
        return max(1, min(KERNELS_PER_CORE * (os.cpu_count() or 1), available_memory() // KERNEL_MEMORY))

    def publish_ref(self) -> str:
        """The git ref the notebooks' set-up cell installs the package from."""
        return os.environ.get(REF_ENV) or os.environ.get("GITHUB_SHA") or self.repository_branch

    @staticmethod
    def prepared_manifest() -> Path | None:
        value = os.environ.get(PREPARED_ENV)
        return Path(value) if value else None


def available_memory() -> int:
    """Bytes of memory available now (Linux), or a large number where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 40


def read_yaml(path: Path):
    """A YAML file's data; an error that names the file and the line when it is not valid."""
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BookError(f"is not valid YAML ({where}{problem}). Fix the file; "
                        "`python -c \"import yaml; yaml.safe_load(open('FILE'))\"` checks it",
                        path=path) from None


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


def _positive_int(settings: dict, name: str, default: int, path: Path) -> int:
    value = settings.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise BookError(f"sphinx.config.{name} must be a positive whole number, not {value!r}", path=path)
    return value


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
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise BookError("must be a YAML mapping of settings", path=path)
    sphinx_config = (data.get("sphinx") or {}).get("config") or {}
    frameworks = frameworks_from_list(sphinx_config.get("bookmachine_frameworks"), str(path))
    repository = data.get("repository") or {}
    repository_url, repository_source = resolve_repository(root, str(repository.get("url", "")).rstrip("/"))
    return BookConfig(
        root=root,
        frameworks=frameworks,
        title=str(data.get("title") or ""),
        repository_url=repository_url,
        repository_source=repository_source,
        package_source=os.environ.get(PACKAGE_SOURCE_ENV) or None,
        repository_branch=str(repository.get("branch", "main")),
        notebooks_branch=str(sphinx_config.get("bookmachine_notebooks_branch", "notebooks")),
        skip=parse_skip(os.environ.get(SKIP_ENV) if skip is None else skip, [fw.key for fw in frameworks]),
        mathjax_path=sphinx_config.get("mathjax_path"),
        cell_timeout=_positive_int(sphinx_config, "bookmachine_cell_timeout", CELL_TIMEOUT, path),
        output_limit_kb=_positive_int(sphinx_config, "bookmachine_output_limit_kb", OUTPUT_LIMIT_KB, path),
        large_output_limit_kb=_positive_int(sphinx_config, "bookmachine_large_output_limit_kb",
                                            LARGE_OUTPUT_LIMIT_KB, path),
    )
