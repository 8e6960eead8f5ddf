"""Running an exported notebook in a given Python, from the top, as "Run all" does."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

SETUP_TIMEOUT = 3600  # seconds: a set-up cell may download a framework of several GB
CELL_TIMEOUT = 600


def kernel_manager(python: Path, scratch: Path):
    """A kernel manager whose only kernel is ``python -m ipykernel_launcher``."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    folder = scratch / "kernels" / "reader"
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.log_level=ERROR"],  # no kernel chatter in the report
            "display_name": "reader", "language": "python"}
    (folder / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(scratch / "kernels")], ensure_native_kernel=False)
    return AsyncKernelManager(kernel_name="reader", kernel_spec_manager=specs)


def setup_stopped(cell) -> bool:
    return any(o.get("output_type") == "error" and o.get("ename") == "SetupStopped" for o in cell.outputs)


def run_notebook(notebook, python: Path, env: dict, cwd: Path):
    """Execute ``notebook`` (a copy) in ``python``'s kernel, as "Run all" does from the top.

    Like "Run all", nothing runs after a set-up cell that stopped; other errors are
    recorded and the run goes on, so that every failing cell is counted.
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    with tempfile.TemporaryDirectory() as scratch:
        client = NotebookClient(notebook, km=kernel_manager(python, Path(scratch)), timeout=CELL_TIMEOUT,
                                allow_errors=True, resources={"metadata": {"path": str(cwd)}})
        # The kernel process's own stderr (debugger notes, C++ start-up logs) is not part of
        # the notebook; keep it next to the notebook's run instead of in the report.
        # cleanup_kc: nbclient shuts down only kernels of managers it made itself, and this
        # one is ours; without it every notebook left its kernel running.
        with open(cwd / "kernel-stderr.log", "a") as stderr, \
                client.setup_kernel(env=env, stderr=stderr, cleanup_kc=True):
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type != "code":
                    continue
                client.timeout = SETUP_TIMEOUT if index == 0 else CELL_TIMEOUT
                client.execute_cell(cell, index)
                if index == 0 and setup_stopped(cell):
                    break
    return notebook
