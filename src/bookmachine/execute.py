"""Stage 2-3: run each framework's notebook in that framework's kernel, cached.

A notebook runs again only when something that can change its outputs
changed: its code cells, the set-up cell, the framework's kernel spec or
settings, what is installed in the kernel's environment (and its Python), or
the ``src/`` module the framework's notebooks import. Prose is not part of
the key, so editing a sentence starts no kernel. Notebooks run concurrently
(``BookConfig.workers``), the slowest frameworks first.

Every failure names the page, the cell that was running and the framework:
an exception, a cell that outlives ``bookmachine_cell_timeout``, a kernel
that dies, output larger than ``bookmachine_output_limit_kb``, or stderr
(framework log noise). Ctrl-C stops every kernel before it returns.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import json
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from . import claims, kernels
from .config import BookConfig, Framework
from .errors import BookError
from .job import Job, strip_ansi

LARGE_OUTPUT_TAG = "large-output"


class Interrupted(Exception):
    """Ctrl-C during execution; every kernel has been stopped."""


class _OutputTooLarge(Exception):
    def __init__(self, size: int):
        self.size = size


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


def cache_key(job: Job, library: str, environment: str) -> str:
    fw = job.framework
    payload = {
        "framework": [fw.key, fw.kernel, fw.venv, sorted(fw.env.items())],
        "environment": environment,
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


def _failure(job: Job, position: int | None, message: str) -> BookError:
    """A BookError pointing at the notebook cell at ``position`` (0 is the set-up cell)."""
    where = dict(path=job.path, framework=job.framework.key)
    if position is None:
        return BookError(message, **where)
    if position == 0:
        return BookError(f"the set-up cell: {message}", **where)
    cell = job.code_cells[position - 1]
    return BookError(f"{cell.describe()}: {message}", cell=cell.index, **where)


def _output_limit(config: BookConfig, tags) -> int:
    return 1024 * (config.large_output_limit_kb if LARGE_OUTPUT_TAG in tags else config.output_limit_kb)


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


async def _run(job: Job, config: BookConfig, semaphore: asyncio.Semaphore, stats: dict, seconds: dict,
               clients: list):
    notebook = build_notebook(job)
    running = {"cell": None}  # notebook position of the cell executing now

    def on_cell_execute(cell, cell_index):
        running["cell"] = cell_index

    def on_cell_executed(cell, cell_index, execute_reply):
        # Checked as each cell ends, so a runaway cell stops the notebook here.
        size = len(json.dumps(cell.outputs))
        if size > _output_limit(config, cell.metadata.get("tags", [])):
            raise _OutputTooLarge(size)

    async with semaphore:
        stats["kernels_started"] += 1
        client = NotebookClient(notebook, kernel_name=job.framework.kernel, timeout=config.cell_timeout,
                                shutdown_kernel="immediate", on_cell_execute=on_cell_execute,
                                on_cell_executed=on_cell_executed,
                                resources={"metadata": {"path": str(job.path.parent)}})
        clients.append(client)
        started = time.perf_counter()
        try:
            await client.async_execute()
            seconds[_name(job)] = round(time.perf_counter() - started, 2)
        except CellTimeoutError:
            raise _failure(job, running["cell"], f"still running after {config.cell_timeout} s. Make it "
                           "finish sooner, or raise `bookmachine_cell_timeout` (seconds) under "
                           "sphinx.config in _config.yml") from None
        except _OutputTooLarge as exc:
            tags = notebook.cells[running["cell"]].metadata.get("tags", [])
            limit = _output_limit(config, tags) // 1024
            fix = (f"raise `bookmachine_large_output_limit_kb` in _config.yml" if LARGE_OUTPUT_TAG in tags
                   else f"tag the cell '{LARGE_OUTPUT_TAG}' (up to {config.large_output_limit_kb} kB), or "
                        "raise `bookmachine_output_limit_kb` in _config.yml")
            raise _failure(job, running["cell"], f"wrote {exc.size / 1024:,.0f} kB of output, more than "
                           f"the {limit:,} kB a cell may put on a page. Print less, or {fix}") from None
        except DeadKernelError as exc:
            raise _failure(job, running["cell"], f"the kernel died ({exc}). Out of memory?") from None
        except CellExecutionError as exc:
            position = running["cell"]
            cell = job.code_cells[position - 1] if position else None
            if cell is not None and cell.has(claims.CHECK_TAG):
                raise BookError(claims.failure_message(job.cells, cell, exc, path=job.path,
                                                       framework=job.framework),
                                path=job.path, cell=cell.index, framework=job.framework.key) from None
            raise _failure(job, position, f"raised an exception:\n{strip_ansi(str(exc)).strip()}") from None
        finally:
            # When another notebook fails or the build is interrupted, this one is
            # cancelled mid-run: stop its kernel now, not in nbclient's exit hook.
            atexit.unregister(client._cleanup_kernel)
            if client.km is not None and client.km.has_kernel:
                await client.km.shutdown_kernel(now=True)
    return [{"outputs": c.outputs, "execution_count": c.execution_count} for c in notebook.cells]


def _run_stoppable(coroutine_function, clients: list[NotebookClient]):
    """Run ``coroutine_function()`` on an event loop in a thread of its own.

    nbclient's own Ctrl-C handling cannot work for many notebooks at once (each
    client replaces the loop's handler, and its exit hook hangs on a closed
    loop). Here Ctrl-C cancels the work, which stops every kernel, and then
    ``Interrupted`` is raised; kernels of ``clients`` still alive after that are
    killed, so none outlives the build.
    """
    state: dict = {}
    interrupted = threading.Event()

    async def main():
        state["loop"], state["task"] = asyncio.get_running_loop(), asyncio.current_task()
        if interrupted.is_set():
            raise asyncio.CancelledError
        return await coroutine_function()

    def target():
        try:
            state["result"] = asyncio.run(main())  # also cancels nbclient's leftover tasks
        except BaseException as exc:  # handed to the main thread below
            state["error"] = exc

    def on_sigint(signum, frame):
        if not interrupted.is_set():
            interrupted.set()
            if "task" in state:
                state["loop"].call_soon_threadsafe(state["task"].cancel)

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if in_main_thread else None
    thread = threading.Thread(target=target, name="bookmachine-kernels", daemon=True)
    try:
        thread.start()
        thread.join()
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)
        for client in clients:
            atexit.unregister(client._cleanup_kernel)
            process = getattr(getattr(client.km, "provisioner", None), "process", None)
            if process is not None and process.poll() is None:
                process.kill()
    if interrupted.is_set():
        raise Interrupted()
    if "error" in state:
        raise state["error"]
    return state["result"]


# --- the cache: one JSON file per executed notebook, named by framework and content key ---
# It is also what machines exchange: `execute --cache-out DIR` writes a folder of entries,
# `build --cache-from DIR` merges such folders into the local cache.
ENTRY_NAME = re.compile(r"^(?P<framework>[\w.-]+)-(?P<key>[0-9a-f]{32})\.json$")


def entry_problem(data, code_cells: int | None = None) -> str | None:
    """Why ``data`` is not an executed notebook's cache entry (None if it is one)."""
    if not isinstance(data, list) or not data:
        return "not a list of cells"
    for position, cell in enumerate(data):
        if not isinstance(cell, dict) or not isinstance(cell.get("outputs"), list):
            return f"cell {position} has no list of outputs"
        if not (cell.get("execution_count") is None or isinstance(cell["execution_count"], int)):
            return f"cell {position} has a bad execution count"
        if any(not isinstance(o, dict) or not isinstance(o.get("output_type"), str) for o in cell["outputs"]):
            return f"cell {position} has an output without an output_type"
    if code_cells is not None and len(data) != code_cells + 1:
        return f"{len(data)} cells, but the notebook has {code_cells + 1}"
    return None


def read_entry(path: Path, code_cells: int | None = None):
    """(outputs, None) from a cache entry, or (None, why it cannot be used)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"unreadable ({type(exc).__name__}: {str(exc)[:120]})"
    problem = entry_problem(data, code_cells)
    return (None, problem) if problem else (data, None)


def _write_entry(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def import_cache(folders, config: BookConfig) -> dict:
    """Merge executed results from other machines (folders of entries) into the local cache.

    An entry already present and equal is fine; one present with other outputs keeps the
    local one (both ran the same code). A corrupt or unreadable entry, or a file that is
    not an entry, is rejected with its path and never copied: its notebook runs here.
    """
    cache = config.cache_dir / "outputs"
    cache.mkdir(parents=True, exist_ok=True)
    stats = {"imported": 0, "present": 0, "rejected": []}
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise BookError("--cache-from: not a folder of cache entries (`python -m bookmachine execute "
                            "--cache-out DIR` writes one)", path=folder)
        for path in sorted(folder.iterdir()):
            if not ENTRY_NAME.match(path.name):
                problem = "not a cache entry (FRAMEWORK-KEY.json)"
            else:
                data, problem = read_entry(path)
            if problem:
                stats["rejected"].append(f"{path}: {problem}")
                continue
            local = cache / path.name
            if local.exists():
                mine, _ = read_entry(local)
                if mine is not None:
                    stats["present"] += 1
                    if mine != data:
                        print(f"[bookmachine] note: {path} differs from the local entry (same code, other "
                              "outputs: is a cell not deterministic?); the local one is kept")
                    continue
            _write_entry(local, json.dumps(data))
            stats["imported"] += 1
    return stats


def execute(jobs: list[Job], config: BookConfig, workers: int | None = None,
            cache_out: Path | None = None) -> dict:
    """Fill ``job.outputs`` for every job, from the cache where possible.

    Returns statistics: how many notebooks ran and how many came from the cache.
    With ``cache_out``, every job's entry is also copied there (what another
    machine's ``build --cache-from`` reads).
    """
    workers = workers or config.workers()
    cache = config.cache_dir / "outputs"
    cache.mkdir(parents=True, exist_ok=True)
    frameworks = list({job.framework.key: job.framework for job in jobs}.values())
    libraries = {fw.key: library_digest(config, fw) for fw in frameworks}
    environments = kernels.environment_digests(frameworks, config.root) if jobs else {}
    stats = {"notebooks": len(jobs), "kernels_started": 0, "cached": 0}
    seconds: dict[str, float] = {}  # each notebook's run, to order the next build
    pending, entries = [], []
    for job in jobs:
        key = cache_key(job, libraries[job.framework.key], environments[job.framework.key])
        entry = cache / f"{job.framework.key}-{key}.json"
        entries.append(entry)
        outputs, problem = read_entry(entry, len(job.code_cells)) if entry.exists() else (None, None)
        if problem:
            print(f"[bookmachine] cache entry {entry} rejected ({problem}): {job.path.name} "
                  f"({job.framework.key}) runs again")
            entry.unlink()
        if outputs is not None:
            job.outputs = outputs
            stats["cached"] += 1
        else:
            pending.append((job, entry))
    # Pages with the same code (a chapter's copy, a shared exercise) share one entry: the
    # notebook runs once and every page shows that run, in this build and the next.
    twins: dict[Path, list[Job]] = {}
    for job, entry in pending:
        twins.setdefault(entry, []).append(job)
    pending = [(jobs_[0], entry) for entry, jobs_ in twins.items()]
    # Longest first (as long as last time), so that no slow notebook starts last and runs alone.
    timings_file = config.cache_dir / "seconds.json"
    timings = json.loads(timings_file.read_text()) if timings_file.exists() else {}
    pending.sort(key=lambda item: timings.get(_name(item[0]), float("inf")), reverse=True)

    async def run_all():
        semaphore = asyncio.Semaphore(workers)
        tasks = [asyncio.ensure_future(_run(job, config, semaphore, stats, seconds, clients)) for job, _ in pending]
        try:
            return await asyncio.gather(*tasks)
        except BaseException:
            # One failure stops the rest (on Ctrl-C, gather has cancelled them already;
            # a second cancel would cut their kernels' shutdown short). Either way,
            # wait until each has stopped its kernel.
            for task in tasks:
                if not task.done() and not task.cancelling():
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    clients: list[NotebookClient] = []
    results = _run_stoppable(run_all, clients) if pending else []
    timings.update(seconds)
    timings_file.write_text(json.dumps(timings, indent=0, sort_keys=True))
    for (job, entry), outputs in zip(pending, results):
        _check_stderr(job, outputs)
        for twin in twins[entry]:
            twin.outputs = outputs
        _write_entry(entry, json.dumps(outputs))
    if cache_out is not None:
        cache_out = Path(cache_out)
        cache_out.mkdir(parents=True, exist_ok=True)
        for entry in dict.fromkeys(entries):  # identical notebooks share one entry
            shutil.copyfile(entry, cache_out / entry.name)
    return stats


def _name(job: Job) -> str:
    return f"{job.framework.key}:{job.path.parent.name}/{job.path.name}"  # pages of two chapters apart
