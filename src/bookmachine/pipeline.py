"""The stages in order: sources -> split -> execute -> merge (+ export)."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import claims, export, library, split
from .config import BookConfig
from .errors import BookError
from .execute import execute
from .job import Job
from .merge import PageRenderer
from .toc import toc_files

__all__ = ["Book", "prepare", "export_notebooks", "toc_files", "write_manifest", "read_manifest"]


@dataclass
class Book:
    config: BookConfig
    sources: list[split.Source]
    jobs: dict[str, dict[str, Job]]  # docname -> framework key -> job (frameworks with code there)
    pages: dict[str, str] = field(default_factory=dict)  # docname -> merged MyST
    stats: dict = field(default_factory=dict)


def prepare(config: BookConfig, workers: int | None = None, paths=None, cache_out: Path | None = None) -> Book:
    """Read, check, execute (cached) and merge every source (or just ``paths``).

    Raises BookError on any problem, before anything is written. A framework
    with no code cell on a page gets no notebook there, and starts no kernel.
    ``cache_out``: a folder that receives every executed notebook's cache entry.
    """
    paths = toc_files(config.root) if paths is None else [Path(p).resolve() for p in paths]
    sources = [split.read_source(path, config.root, config.keys) for path in paths]
    check_notebook_names(sources, config)
    check_one_bibliography(sources, config)
    library.check(sources, config)
    jobs: dict[str, dict[str, Job]] = {}
    for source in sources:
        PageRenderer(source, {}, config).render()  # checks structure before any kernel starts
        claims.page_claims(source, config.keys)  # every check quotes its claim, in every reader
        jobs[source.docname] = {
            fw.key: Job(source.path, fw, export.setup_cell(config, fw, config.repository_branch),
                        split.split(source, fw.key))
            for fw in config.built if split.has_code(source, fw.key)
        }
    stats = execute([job for per_fw in jobs.values() for job in per_fw.values()], config, workers, cache_out)
    book = Book(config, sources, jobs, stats=stats)
    for source in sources:
        book.pages[source.docname] = PageRenderer(source, jobs[source.docname], config).render()
    return book


def check_notebook_names(sources: list[split.Source], config: BookConfig) -> None:
    """Every page with code gets a notebook of its own: two that would share one are an error."""
    seen: dict[str, split.Source] = {}
    for source in sources:
        if not any(split.has_code(source, fw.key) for fw in config.frameworks):
            continue
        name = export.notebook_name(source.docname)
        other = seen.setdefault(name, source)
        if other is not source:
            raise BookError(f"{other.path.relative_to(config.root)} and {source.path.relative_to(config.root)} "
                            f"would both export to <framework>/{name}.ipynb (one notebook for two pages): "
                            "rename one of them, or move it to another folder", path=config.root / "_toc.yml")


BIBLIOGRAPHY = re.compile(r"^(`{3,}|:{3,})\{bibliography\}", re.M)


def check_one_bibliography(sources: list[split.Source], config: BookConfig) -> None:
    """A book keeps one ``{bibliography}``: it lists every key cited anywhere in the book, so a
    second one would list the same keys again (sphinxcontrib-bibtex: duplicate citations)."""
    holders = [source for source in sources
               if any(cell.kind == "markdown" and BIBLIOGRAPHY.search(cell.source) for cell in source.cells)]
    if len(holders) > 1:
        names = " and ".join(str(s.path.relative_to(config.root)) for s in holders)
        raise BookError(f"{names} each hold a {{bibliography}}: a book keeps one, which lists every "
                        "reference cited in any chapter. Keep it on one page (a references page at the "
                        "end of the book, say) and remove the others", path=config.root / "_toc.yml")


def write_manifest(book: Book) -> Path:
    """Write the merged pages, and a manifest naming them, for the Sphinx process to read."""
    config = book.config
    pages = {}
    for docname, text in book.pages.items():
        target = config.merged_dir / f"{docname}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        pages[docname] = str(target)
    manifest = config.cache_dir / "last-run.json"
    manifest.write_text(json.dumps({"stats": book.stats, "pages": pages}, indent=1))
    return manifest


def read_manifest(path: Path) -> tuple[dict[str, str], dict]:
    """(docname -> merged MyST, statistics) as ``write_manifest`` left them."""
    data = json.loads(Path(path).read_text())
    return {docname: Path(file).read_text() for docname, file in data["pages"].items()}, data["stats"]


def export_notebooks(book: Book, target: Path, without_solutions: bool = False) -> list[Path]:
    """Write every framework's standalone notebook under ``target`` (replacing it whole)."""
    config = book.config
    citations = export.read_citations(config.root / "references.bib")
    ref = config.publish_ref()
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    written = []
    for docname, per_fw in book.jobs.items():
        for key, job in per_fw.items():
            job_for_reader = Job(job.path, job.framework, export.setup_cell(config, job.framework, ref),
                                 job.cells, job.outputs)
            notebook = export.export_notebook(job_for_reader, config, citations, without_solutions)
            path = export.notebook_path(staging, key, docname)
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, path)
            written.append(export.notebook_path(target, key, docname))
    staging.mkdir(parents=True, exist_ok=True)  # a book without code still gets the folder
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return written
