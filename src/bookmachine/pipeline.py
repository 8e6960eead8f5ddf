"""The stages in order: sources -> split -> execute -> merge (+ export)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from . import export, library, split
from .config import BookConfig
from .errors import BookError
from .execute import Job, execute
from .merge import PageRenderer


@dataclass
class Book:
    config: BookConfig
    sources: list[split.Source]
    jobs: dict[str, dict[str, Job]]  # docname -> framework key -> job
    pages: dict[str, str] = field(default_factory=dict)  # docname -> merged MyST
    stats: dict = field(default_factory=dict)


def toc_files(root: Path) -> list[Path]:
    """Every page ``_toc.yml`` names, as a path to its ``.md`` source."""
    toc_path = root / "_toc.yml"
    toc = yaml.safe_load(toc_path.read_text())
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))
            for part in entry.get("parts", []):
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    paths = []
    for name in names:
        path = root / (name if name.endswith(".md") else f"{name}.md")
        if not path.exists():
            raise BookError(f"names '{name}', but {path.relative_to(root)} does not exist: "
                            "fix the entry or add the file", path=toc_path)
        paths.append(path)
    return paths


def publish_ref(config: BookConfig) -> str:
    """The git ref the notebooks' set-up cell installs the package from."""
    return os.environ.get("BOOKMACHINE_REF") or os.environ.get("GITHUB_SHA") or config.repository_branch


def prepare(config: BookConfig, workers: int | None = None, paths=None) -> Book:
    """Read, check, execute (cached) and merge every source (or just ``paths``).

    Raises BookError on any problem, before anything is written.
    """
    paths = toc_files(config.root) if paths is None else [Path(p).resolve() for p in paths]
    sources = [split.read_source(path, config.root, config.keys) for path in paths]
    library.check(sources, config)
    jobs: dict[str, dict[str, Job]] = {}
    for source in sources:
        PageRenderer(source, {}, config).render()  # checks structure before any kernel starts
        jobs[source.docname] = {
            fw.key: Job(source.path, fw, export.setup_cell(config, fw, config.repository_branch),
                        split.split(source, fw.key))
            for fw in config.built
        }
    stats = execute([job for per_fw in jobs.values() for job in per_fw.values()], config, workers)
    book = Book(config, sources, jobs, stats=stats)
    for source in sources:
        book.pages[source.docname] = PageRenderer(source, jobs[source.docname], config).render()
    merged_dir = config.cache_dir / "merged"
    for docname, text in book.pages.items():
        target = merged_dir / f"{docname}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (config.cache_dir / "last-run.json").write_text(json.dumps(stats))
    return book


def export_notebooks(book: Book, target: Path) -> list[Path]:
    """Write every framework's standalone notebook under ``target`` (replacing it whole)."""
    config = book.config
    citations = export.read_citations(config.root / "references.bib")
    ref = publish_ref(config)
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    written = []
    for docname, per_fw in book.jobs.items():
        for key, job in per_fw.items():
            job_for_reader = Job(job.path, job.framework, export.setup_cell(config, job.framework, ref),
                                 job.cells, job.outputs)
            notebook = export.export_notebook(job_for_reader, config, citations)
            path = export.notebook_path(staging, key, docname)
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, path)
            written.append(export.notebook_path(target, key, docname))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return written
