"""MXNet: its own environment and kernel, honest launch options, and the skip path."""

import json

import pytest

from bookmachine import config as book_config
from bookmachine.kernels import kernel_python
from bookmachine.pipeline import prepare
from conftest import ROOT

CONFIG = book_config.load(ROOT, skip="")
MXNET = CONFIG.framework("mxnet")
# `make test SKIP=mxnet` (no Python 3.11 for MXNet) sets up no MXNet environment.
needs_mxnet_env = pytest.mark.skipif(MXNET not in book_config.load(ROOT).built,
                                     reason="MXNet is skipped (BOOKMACHINE_SKIP): no .venv-mxnet to test")


@needs_mxnet_env
def test_mxnet_runs_in_its_own_environment():
    from jupyter_client.kernelspec import KernelSpecManager
    spec = KernelSpecManager().get_kernel_spec(MXNET.kernel)
    assert spec.argv[0] == str(kernel_python(CONFIG, MXNET))
    assert ".venv-mxnet" in spec.argv[0]
    main_env = CONFIG.framework("pytorch")
    assert MXNET.venv != main_env.venv


def test_mxnet_promises_no_hosted_launch():
    assert MXNET.launch == ()
    assert "locally" in MXNET.note and "retired" in MXNET.note


@needs_mxnet_env
@pytest.mark.build
def test_mxnet_notebooks_name_their_own_kernel(built_book):
    notebooks = sorted((built_book / "notebooks" / "mxnet").rglob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        assert json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == MXNET.kernel


def test_skipping_mxnet_builds_the_rest_and_says_so_in_its_tabs():
    book = prepare(book_config.load(ROOT, skip="mxnet"))  # executions come from the cache
    assert all("mxnet" not in jobs for jobs in book.jobs.values())
    for docname, page in book.pages.items():
        mxnet_tabs = [part.split(":sync: pytorch", 1)[0] for part in page.split(":sync: mxnet")[2:]]
        code_tabs = [tab for tab in mxnet_tabs if "{code-block} python" in tab]
        for tab in code_tabs:
            assert "MXNet outputs were not built" in tab, docname


@needs_mxnet_env
def test_library_tests_pass_inside_the_mxnet_environment():
    """The main environment has no mxnet, so its library tests run in .venv-mxnet."""
    import re
    import subprocess
    result = subprocess.run([str(kernel_python(CONFIG, MXNET)), "-m", "pytest", "tests/test_library.py",
                             "-q", "-k", "mxnet", "-p", "no:cacheprovider"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= 6, result.stdout[-2000:]
