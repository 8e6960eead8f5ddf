"""Stage 2-3: run each framework's notebook in that framework's kernel, cached.

A notebook runs again only when something that can change its outputs
changed: its code cells, the set-up cell, the framework's kernel or settings,
or the ``src/`` module the framework's notebooks import. Prose is not part of
the key, so editing a sentence starts no kernel. Notebooks run concurrently,
as many at a time as the machine has cores.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

from .config import BookConfig, Framework
from .errors import BookError
from .split import Cell

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CELL_TIMEOUT = 300  # seconds; the chapter's cells take well under one


@dataclass
class Job:
    """One framework's notebook of one source."""

    path: Path  # the source file, for messages and as the working directory
    framework: Framework
    setup: str  # the set-up cell's code (see export.setup_cell)
    cells: list[Cell]  # the framework's cells, markdown included
    outputs: list = field(default_factory=list)  # per code cell, set-up first

    @property
    def code_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "code"]


def library_digest(config: BookConfig, framework: Framework) -> str:
    """What of src/ a framework's notebooks can see: its module and the package's shared files."""
    digest = hashlib.sha256()
    paths = []
    if framework.library:
        library = config.root / framework.library
        paths = sorted(p for p in library.parent.glob("*.py") if p.name.startswith("_"))
        paths.append(library)
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


def cache_key(job: Job, library: str) -> str:
    fw = job.framework
    payload = {
        "framework": [fw.key, fw.kernel, fw.venv, sorted(fw.env.items())],
        "library": library,
        "setup": job.setup,
        "cells": [[c.source, list(c.tags)] for c in job.code_cells],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def build_notebook(job: Job):
    cells = [nbformat.v4.new_code_cell(job.setup)]
    for cell in job.code_cells:
        nb_cell = nbformat.v4.new_code_cell(cell.source)
        nb_cell.metadata["tags"] = list(cell.tags)
        cells.append(nb_cell)
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": job.framework.kernel, "language": "python",
                                       "display_name": job.framework.label}
    return notebook


def _error_message(job: Job, exc: Exception, executed) -> BookError:
    """Point at the source cell that failed, with its traceback."""
    failed = None
    for position, nb_cell in enumerate(executed.cells):
        if any(o.get("output_type") == "error" for o in nb_cell.get("outputs", [])):
            failed = position
            break
    traceback = ANSI.sub("", str(exc)).strip()
    if failed == 0:
        return BookError(f"the set-up cell failed:\n{traceback}", path=job.path, framework=job.framework.key)
    if failed is None:
        return BookError(f"execution failed:\n{traceback}", path=job.path, framework=job.framework.key)
    cell = job.code_cells[failed - 1]
    return BookError(f"{cell.describe()} raised an exception:\n{traceback}",
                     path=job.path, cell=cell.index, framework=job.framework.key)


def _check_stderr(job: Job, outputs) -> None:
    """Framework log lines have no place in the book: stderr must be asked for."""
    for cell, cell_outputs in zip([None, *job.code_cells], outputs):
        allowed = cell is not None and cell.has("show-stderr")
        for output in cell_outputs["outputs"]:
            if output.get("name") == "stderr" and not allowed:
                where = dict(cell=cell.index) if cell else {}
                raise BookError(
                    "the cell wrote to stderr (framework log noise?):\n"
                    f"{output.get('text', '')[:800]}\nSilence it, or tag the cell 'show-stderr' "
                    "if the message is part of the lesson", path=job.path,
                    framework=job.framework.key, **where)


async def _run(job: Job, semaphore: asyncio.Semaphore, stats: dict):
    notebook = build_notebook(job)
    async with semaphore:
        stats["kernels_started"] += 1
        client = NotebookClient(notebook, kernel_name=job.framework.kernel, timeout=CELL_TIMEOUT,
                                resources={"metadata": {"path": str(job.path.parent)}})
        try:
            await client.async_execute()
        except (CellExecutionError, DeadKernelError) as exc:
            raise _error_message(job, exc, notebook) from None
        finally:
            # When another notebook fails, this one is cancelled mid-run: stop its
            # kernel now rather than leave nbclient's exit hook to find it gone.
            atexit.unregister(client._cleanup_kernel)
            if client.km is not None and client.km.has_kernel:
                await client.km.shutdown_kernel(now=True)
    return [{"outputs": c.outputs, "execution_count": c.execution_count} for c in notebook.cells]


def _run_coroutine(coroutine):
    """asyncio.run, also from code that already runs an event loop (Jupyter, Playwright)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def execute(jobs: list[Job], config: BookConfig, workers: int | None = None) -> dict:
    """Fill ``job.outputs`` for every job, from the cache where possible.

    Returns statistics: how many notebooks ran and how many came from the cache.
    """
    workers = workers or int(os.environ.get("BOOKMACHINE_JOBS", 0)) or os.cpu_count() or 1
    cache = config.cache_dir / "outputs"
    cache.mkdir(parents=True, exist_ok=True)
    libraries = {fw.key: library_digest(config, fw) for fw in config.frameworks}
    stats = {"notebooks": len(jobs), "kernels_started": 0, "cached": 0}
    pending = []
    for job in jobs:
        entry = cache / f"{job.framework.key}-{cache_key(job, libraries[job.framework.key])}.json"
        if entry.exists():
            job.outputs = json.loads(entry.read_text())
            stats["cached"] += 1
        else:
            pending.append((job, entry))

    async def run_all():
        semaphore = asyncio.Semaphore(workers)
        tasks = [asyncio.ensure_future(_run(job, semaphore, stats)) for job, _ in pending]
        try:
            return await asyncio.gather(*tasks)
        finally:  # one failure stops the rest; no kernel is left running
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    results = _run_coroutine(run_all()) if pending else []
    for (job, entry), outputs in zip(pending, results):
        _check_stderr(job, outputs)
        job.outputs = outputs
        tmp = entry.with_suffix(".tmp")
        tmp.write_text(json.dumps(outputs))
        tmp.replace(entry)
    return stats
