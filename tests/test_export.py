"""The reader's notebook: the set-up cell's policy, run for real, solutions, plain-Markdown export.

The set-up cell is exercised where it runs: a throwaway Python with a Jupyter kernel
and nothing else, and tiny local wheels standing in for a framework and for this
book's package, so pip really installs, upgrades or refuses, offline and fast.
"""

import dataclasses
import json
import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import nbformat
import pytest

from bookmachine import config as book_config
from bookmachine import launch, split
from bookmachine.config import PACKAGE_SOURCE_ENV
from bookmachine.errors import BookError
from bookmachine.execute import Job
from bookmachine.export import MarkdownExporter, export_notebook, read_citations, setup_cell
from conftest import ROOT, code, prose

sys.path.insert(0, str(ROOT / "checks"))
import runtimes  # noqa: E402  (checks/runtimes.py: runs a notebook in a given Python)

CONFIG = book_config.load(ROOT, skip="")


# --- the set-up cell, in a real throwaway environment ---------------------------------

def wheel(folder: Path, name: str, version: str, requires=(), body=None, module=None) -> Path:
    """A minimal pure-Python wheel whose module (``name`` unless given) knows its version."""
    module = module or name.replace("-", "_")
    dist = f"{name.replace('-', '_')}-{version}"
    files = {f"{module}/__init__.py": body or f'__version__ = "{version}"\n',
             f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
             + "".join(f"Requires-Dist: {r}\n" for r in requires),
             f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                                        "Tag: py3-none-any\n",
             f"{dist}.dist-info/top_level.txt": f"{module}\n"}
    files[f"{dist}.dist-info/RECORD"] = "".join(f"{path},,\n" for path in files) + f"{dist}.dist-info/RECORD,,\n"
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


@dataclasses.dataclass
class Sandbox:
    python: Path
    wheels: Path  # what pip can find: an offline index of fake releases
    book: Path  # a stand-in for this book's package, as BOOK_PACKAGE_SOURCE
    base: set = dataclasses.field(default_factory=set)  # the kernel's own packages (ipykernel, ...)

    def pip(self, *args):
        subprocess.run([str(self.python), "-m", "pip", "--quiet", *args], check=True, env=self.env())

    def env(self, **extra):
        env = runtimes.reader_env(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(self.wheels))
        env.pop(PACKAGE_SOURCE_ENV, None)  # only where a test sets it
        return {**env, **extra}

    def installed(self) -> dict[str, str]:
        """Every package of the kernel's Python: name -> version."""
        listed = subprocess.run([str(self.python), "-m", "pip", "list", "--format=json"], capture_output=True,
                                text=True, check=True, env=self.env()).stdout
        return {canonical(p["name"]): p["version"] for p in json.loads(listed)}

    def start_with(self, *requirements):
        """Nothing but the kernel's own packages, then exactly ``requirements``."""
        ours = sorted(set(self.installed()) - self.base)
        if ours:
            self.pip("uninstall", "-y", *ours)
        if requirements:
            self.pip("install", *requirements)

    def versions(self):
        return runtimes.installed_versions(self.python, ["fwalpha", "fwbeta"])

    def run_setup(self, requires, settings=None, then="", **env):
        """The set-up cell of a framework with ``requires`` (and ``then``), run in a kernel here."""
        framework = book_config.frameworks_from_list([{"key": "demo", "label": "Demo", "kernel": "python3",
                                                       "requires": list(requires), "env": settings or {}}])[0]
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            setup_cell(CONFIG, framework, "abc1234") + then, id="setup")])
        ran = runtimes.run_notebook(notebook, self.python, self.env(**env), self.python.parents[2])
        return ran.cells[0].outputs


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A bare Python 3 with ipykernel (as Studio Lab or a fresh Jupyter has) and fake releases."""
    folder = tmp_path_factory.mktemp("sandbox")
    venv.create(folder / "env", with_pip=True)
    python = folder / "env" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "requirements.txt"),
                    "ipykernel"], check=True, env=runtimes.reader_env())
    wheels = folder / "wheels"
    wheels.mkdir()
    for version in ("1.0", "1.3", "1.5", "2.0", "2.5"):
        wheel(wheels, "fwalpha", version)
    # fwbeta 1.0 needs fwalpha 1.0 or newer; fwbeta 1.2 (which the chapter needs) fwalpha 1.3.
    wheel(wheels, "fwbeta", "1.0", requires=["fwalpha>=1.0"])
    wheel(wheels, "fwbeta", "1.2", requires=["fwalpha>=1.3"])
    wheel(wheels, "fwalpha-cpu", "1.3", module="fwalpha")  # another build of fwalpha, as tensorflow-cpu
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    book = wheel(elsewhere, "layers-modules", "0.0.1", body='SOURCE = "the override"\n')
    sandbox = Sandbox(python, wheels, book)
    sandbox.base = set(sandbox.installed())
    return sandbox


REQUIRES = ["python>=3.10", "fwalpha>=1.2,<2"]


def lines(outputs):
    """(stream or error, the lines a reader sees) for each output."""
    return [("error", o["traceback"]) if o["output_type"] == "error" else (o["name"], o["text"].splitlines())
            for o in outputs]


def test_a_bare_kernel_gets_the_framework_in_range_and_the_book_package(sandbox):
    sandbox.start_with()
    outputs = sandbox.run_setup(REQUIRES, BOOK_PACKAGE_SOURCE=str(sandbox.book))
    [(stream, [line])] = lines(outputs)  # one line, on stdout
    assert stream == "stdout" and line.startswith("Set-up: this kernel has no fwalpha, no layers-modules")
    assert f"pip install 'fwalpha>=1.2,<2' '{sandbox.book}'" in line
    assert sandbox.versions() == "fwalpha 1.5, no fwbeta"  # the newest in range, not 2.x
    probe = subprocess.run([str(sandbox.python), "-c", "import layers_modules; print(layers_modules.SOURCE)"],
                           capture_output=True, text=True, env=sandbox.env())
    assert probe.stdout.strip() == "the override"  # from BOOK_PACKAGE_SOURCE


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def test_with_everything_there_it_does_nothing_and_prints_nothing(sandbox):
    sandbox.start_with("fwalpha==1.3", str(sandbox.book))
    assert sandbox.run_setup(REQUIRES) == []
    assert sandbox.versions() == "fwalpha 1.3, no fwbeta"  # although 1.5 is there to take


def test_a_version_newer_than_the_range_is_kept_while_the_package_is_installed(sandbox):
    sandbox.start_with("fwalpha==2.5")
    [(stream, [line])] = lines(sandbox.run_setup(REQUIRES, BOOK_PACKAGE_SOURCE=str(sandbox.book)))
    assert "no layers-modules" in line and "fwalpha 2.5" not in line.split(":")[1]
    assert sandbox.versions() == "fwalpha 2.5, no fwbeta"  # not downgraded into the range


def test_a_framework_installed_under_another_name_is_kept_and_not_installed_twice(sandbox):
    sandbox.start_with("fwalpha-cpu==1.3")  # provides `import fwalpha`, as tensorflow-cpu does tensorflow
    [(stream, [line])] = lines(sandbox.run_setup(REQUIRES, BOOK_PACKAGE_SOURCE=str(sandbox.book)))
    assert line == (f"Set-up: this kernel has no layers-modules (this book's package), so: pip install "
                    f"'{sandbox.book}' (every other package kept as it is)")
    installed = sandbox.installed()
    assert installed["fwalpha-cpu"] == "1.3" and "fwalpha" not in installed  # no second build over the first


def test_an_older_version_is_upgraded_within_the_range_when_what_it_needs_is_there(sandbox):
    sandbox.start_with("fwalpha==1.3", "fwbeta==1.0", str(sandbox.book))
    requires = ["python>=3.10", "fwalpha>=1.0,<2", "fwbeta>=1.2,<2"]
    [(stream, [line])] = lines(sandbox.run_setup(requires))
    assert line.startswith("Set-up: this kernel has fwbeta 1.0, so: pip install 'fwbeta>=1.2,<2'")
    assert sandbox.versions() == "fwalpha 1.3, fwbeta 1.2"  # fwalpha kept, although 1.5 is there


def test_an_upgrade_that_would_replace_a_working_package_stops_with_one_line_and_changes_nothing(sandbox):
    # fwbeta 1.2 needs fwalpha 1.3 or newer (pip takes 2.5), and the kernel's fwalpha 1.0 works: kept.
    sandbox.start_with("fwalpha==1.0", "fwbeta==1.0", str(sandbox.book))
    requires = ["python>=3.10", "fwalpha>=1.0,<2", "fwbeta>=1.2,<2"]
    outputs = sandbox.run_setup(requires)
    (_, attempt), (kind, [message]) = lines(outputs)
    assert kind == "error" and outputs[-1]["ename"] == "SetupStopped"
    assert message.startswith("Set-up stopped: this kernel has fwbeta 1.0; what this notebook needs does not "
                              "fit beside fwalpha 1.0 (pip would take 2.5), which works and is kept. Fix: ")
    assert message.endswith("replace them yourself: %pip install 'fwbeta>=1.2,<2', then restart the kernel")
    assert sandbox.versions() == "fwalpha 1.0, fwbeta 1.0"


def test_offline_an_unsupported_version_gives_one_clear_line_and_changes_nothing(sandbox, tmp_path):
    sandbox.start_with("fwalpha==1.0", str(sandbox.book))
    sandbox.wheels, wheels = tmp_path, sandbox.wheels  # an index with nothing in it: offline
    try:
        outputs = sandbox.run_setup(REQUIRES)
    finally:
        sandbox.wheels = wheels
    (_, attempt), (kind, [message]) = lines(outputs)  # the attempt, then one line, no traceback
    assert kind == "error" and outputs[-1]["ename"] == "SetupStopped"
    assert message.startswith("Set-up stopped: this kernel has fwalpha 1.0, and pip could not install")
    assert "No matching distribution found for fwalpha" in message  # pip's own reason
    assert message.endswith("Fix: %pip install 'fwalpha>=1.2,<2'")
    assert sandbox.versions() == "fwalpha 1.0, no fwbeta"


def test_without_the_override_it_installs_from_the_repository_at_the_published_commit(sandbox):
    sandbox.start_with("fwalpha==1.3")
    # No git on PATH, so pip fails at once and the one line shows what it was asked for.
    outputs = sandbox.run_setup(REQUIRES, PATH=str(sandbox.python.parent))
    message = outputs[-1]["traceback"][0]
    assert f"'layers-modules @ git+{CONFIG.repository_url}@abc1234'" in message
    assert "git" in message.split("(pip: ")[1]


def test_a_python_older_than_the_chapter_supports_stops_with_the_way_out(sandbox):
    sandbox.start_with()
    [(kind, [message])] = lines(sandbox.run_setup(["python>=3.99", "fwalpha>=1.2,<2"]))
    assert kind == "error" and "needs Python 3.99 or newer" in message
    assert "conda create -y -n layers python=3.99 ipykernel" in message
    assert sandbox.versions() == "no fwalpha, no fwbeta"


def test_framework_settings_are_set_before_any_import(sandbox):
    sandbox.start_with("fwalpha==1.3", str(sandbox.book))
    outputs = sandbox.run_setup(REQUIRES, settings={"DEMO_LOG_LEVEL": "3"},
                                then="\nprint(os.environ['DEMO_LOG_LEVEL'])")
    assert lines(outputs) == [("stdout", ["3"])]


# --- the set-up cell on Colab's runtimes (runtimes/colab-*.txt), with stand-in releases ---

def profile(name):
    """A runtime profile's pinned versions, by canonical name."""
    text = (ROOT / "runtimes" / f"{name}.txt").read_text()
    return {canonical(n): v for n, v in re.findall(r"^([\w.-]+)==(\S+)$", text, re.M)}


def requires(key):
    return [str(r) for r in CONFIG.framework(key).requires]


@pytest.fixture(scope="module")
def releases(sandbox):
    """Stand-ins for the releases pip finds: each profile's versions and newer ones, with the
    pins that matter (jax pins jaxlib, its CUDA plugin its PJRT, flax a jax, numba a numpy)."""
    gpu, tpu, py312 = profile("colab-gpu"), profile("colab-tpu"), profile("colab-py312")
    jax, newest_jax = gpu["jax"], "0.12.0.1"
    for version in ("0.6.0", jax, newest_jax):
        wheel(sandbox.wheels, "jax", version, requires=[f"jaxlib=={version}"])
        wheel(sandbox.wheels, "jaxlib", version)
        wheel(sandbox.wheels, "jax-cuda12-plugin", version, requires=[f"jax-cuda12-pjrt=={version}"])
        wheel(sandbox.wheels, "jax-cuda12-pjrt", version)
    wheel(sandbox.wheels, "flax", gpu["flax"], requires=["jax>=0.6.0"])
    wheel(sandbox.wheels, "flax", "0.12.0", requires=["jax>=0.7.1"])
    wheel(sandbox.wheels, "flax", "0.12.12", requires=["jax>=0.11.1"])  # pip's pick, unheld
    for version in sorted({tpu["torch"], py312["torch"], "2.13.0"}):
        wheel(sandbox.wheels, "torch", version)
    wheel(sandbox.wheels, "torch-xla", tpu["torch"], requires=[f"torch=={tpu['torch']}"], module="torch_xla")
    for version in sorted({py312["numpy"], tpu["numpy"], "2.4.6"}):
        wheel(sandbox.wheels, "numpy", version)
    wheel(sandbox.wheels, "numba", py312["numba"], requires=["numpy>=1.22,<2.1"])
    for version in (tpu["keras"], "3.15.1"):
        wheel(sandbox.wheels, "keras", version)
    wheel(sandbox.wheels, "tensorflow", "2.20.0", requires=["keras>=3.10"])
    wheel(sandbox.wheels, "tensorflow", "2.21.0", requires=["keras>=3.15"])
    return {"gpu": gpu, "tpu": tpu, "py312": py312}


def the_book_alone(line, sandbox):
    return line == (f"Set-up: this kernel has no layers-modules (this book's package), so: pip install "
                    f"'{sandbox.book}' (every other package kept as it is)")


def test_on_colabs_gpu_runtime_flax_nnx_takes_the_flax_that_fits_its_jax_family(sandbox, releases):
    gpu = releases["gpu"]
    family = {n: gpu[n] for n in ("jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda12-pjrt")}
    sandbox.start_with(*(f"{n}=={v}" for n, v in family.items()), f"flax=={gpu['flax']}")
    [(stream, [line])] = lines(sandbox.run_setup(requires("nnx"), BOOK_PACKAGE_SOURCE=str(sandbox.book)))
    assert line.startswith(f"Set-up: this kernel has flax {gpu['flax']}, no layers-modules")
    installed = sandbox.installed()
    assert installed["flax"] == "0.12.0"  # not 0.12.12, which needs a jax this runtime lacks
    assert {n: installed[n] for n in family} == family  # the whole family as it was: it agrees


def test_on_colabs_tpu_runtime_pytorch_keeps_torch_2_9_that_torch_xla_pins(sandbox, releases):
    tpu = releases["tpu"]
    sandbox.start_with(f"torch=={tpu['torch']}", f"torch-xla=={tpu['torch']}", f"numpy=={tpu['numpy']}")
    [(stream, [line])] = lines(sandbox.run_setup(requires("pytorch"), BOOK_PACKAGE_SOURCE=str(sandbox.book)))
    assert the_book_alone(line, sandbox)
    installed = sandbox.installed()
    assert (installed["torch"], installed["numpy"]) == (tpu["torch"], tpu["numpy"])


def test_on_colabs_python_3_12_runtime_pytorch_keeps_numpy_2_0_that_numba_pins(sandbox, releases):
    py312 = releases["py312"]
    sandbox.start_with(f"numpy=={py312['numpy']}", f"numba=={py312['numba']}", f"torch=={py312['torch']}")
    [(stream, [line])] = lines(sandbox.run_setup(requires("pytorch"), BOOK_PACKAGE_SOURCE=str(sandbox.book)))
    assert the_book_alone(line, sandbox)
    assert sandbox.installed()["numpy"] == py312["numpy"]


def test_a_framework_the_kernel_lacks_comes_in_the_release_that_fits_what_it_has(sandbox, releases):
    tpu = releases["tpu"]  # Colab's TPU runtime: keras, and no tensorflow
    sandbox.start_with(f"keras=={tpu['keras']}", f"numpy=={tpu['numpy']}")
    [(stream, [line])] = lines(sandbox.run_setup(requires("tensorflow"), BOOK_PACKAGE_SOURCE=str(sandbox.book)))
    assert line.startswith("Set-up: this kernel has no tensorflow, no layers-modules")
    installed = sandbox.installed()
    assert (installed["tensorflow"], installed["keras"]) == ("2.20.0", tpu["keras"])  # not 2.21, not keras 3.15


def test_a_jax_too_old_beside_its_cuda_plugin_stops_and_says_how_to_move_the_family(sandbox, releases):
    old = ("jax==0.6.0", "jaxlib==0.6.0", "jax-cuda12-plugin==0.6.0", "jax-cuda12-pjrt==0.6.0", "flax==0.11.2")
    sandbox.start_with(*old, str(sandbox.book))
    [(kind, [message])] = lines(sandbox.run_setup(requires("jax")))
    jax = str(CONFIG.framework("jax").requires[1]).removeprefix("jax")
    assert message == ("Set-up stopped: this kernel has jax 0.6.0, and jax moves only together with "
                       "jax-cuda12-pjrt, jax-cuda12-plugin, which this set-up leaves to you. Fix: "
                       f"%pip install -U 'jax[cuda12]{jax}', then restart the kernel and run this cell again")
    installed = sandbox.installed()
    assert [f"{n}=={installed[n]}" for n in ("jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda12-pjrt", "flax")] \
        == list(old)


def test_requires_entries_must_be_a_range(tmp_path):
    entry = {"key": "demo", "label": "Demo", "kernel": "python3", "requires": ["torch~=2.11"]}
    with pytest.raises(BookError, match=r"framework 'demo': requires entry 'torch~=2.11' must read"):
        book_config.frameworks_from_list([entry], "book/_config.yml")


@pytest.mark.build
def test_in_the_build_every_set_up_cell_did_nothing(built_book):
    """Everything is installed at the pins there: no line, no install, no stderr."""
    notebooks = sorted((built_book / "notebooks").rglob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        setup = nbformat.read(path, as_version=4).cells[0]
        assert setup.id == "setup" and setup.outputs == [], path


# --- where the notebooks say they come from -----------------------------------------------

def git(folder, *args):
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


@pytest.mark.parametrize("remote, expected", [
    ("git@github.com:someone/fork.git", "https://github.com/someone/fork"),
    ("https://someone:secret-token@github.com/someone/fork.git", "https://github.com/someone/fork"),
    ("https://gitlab.com/someone/fork.git", "https://github.com/example/tiny"),  # not GitHub: _config.yml
])
def test_a_local_build_takes_the_repository_from_its_git_remote(tiny_book, monkeypatch, remote, expected):
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    root = tiny_book({"page": "# Title\n" + code("x = 1", "alpha") + code("x = 2", "beta")})
    git(root, "init", "-q")
    git(root, "remote", "add", "origin", remote)
    config = book_config.load(root, skip="")
    assert config.repository_url == expected
    assert config.repository_source == ("git remote" if "github.com/" in remote or "github.com:" in remote
                                        else "_config.yml")
    assert "secret" not in setup_cell(config, config.frameworks[0], "abc1234")


def test_ci_takes_the_repository_it_publishes_and_rejects_links_elsewhere(tiny_book, monkeypatch):
    root = tiny_book({"page": "# Title\n" + code("x = 1", "alpha") + code("x = 2", "beta")})
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REPOSITORY", "owner/published")
    config = book_config.load(root, skip="")
    assert (config.repository_url, config.repository_source) == ("https://github.com/owner/published",
                                                                 "GITHUB_REPOSITORY")
    [(_, _, url)] = launch.launch_links(config, config.frameworks[0], "page")
    assert url.startswith("https://colab.research.google.com/github/owner/published/blob/")
    elsewhere = dataclasses.replace(config, repository_url="https://github.com/layers-modules/placeholder")
    with pytest.raises(BookError, match="launch links would point at layers-modules/placeholder, "
                                        "but CI publishes owner/published"):
        launch.launch_links(elsewhere, config.frameworks[0], "page")


# --- solutions start collapsed ------------------------------------------------------------

def exported(root, framework="alpha"):
    config = book_config.load(root, skip="")
    source = split.read_source(root / "page.md", root, config.keys)
    fw = config.framework(framework)
    cells = split.split(source, fw.key)
    outputs = [{"outputs": [], "execution_count": n} for n in range(1 + sum(c.kind == "code" for c in cells))]
    return export_notebook(Job(source.path, fw, "pass", cells, outputs), config, {})


def test_a_solution_gets_a_heading_and_starts_collapsed_in_jupyterlab_and_colab(tiny_book):
    root = tiny_book({"page": "# Title\n\n## 1. A question\n\nTry it.\n"
                              + prose("Worked answer.", "solution")
                              + code("answer = 42", "alpha", "solution") + code("answer = 43", "beta", "solution")
                              + "\n+++\n\n## 2. Next question\n\nAnd this one.\n"})
    notebook = exported(root)
    texts = [c.source for c in notebook.cells]
    heading = texts.index("### Solution")  # one level below "## 1. A question"
    assert texts[heading - 1].endswith("Try it.") and "Worked answer." in texts[heading + 1]
    prose_cell, code_cell = notebook.cells[heading + 1], notebook.cells[heading + 2]
    assert prose_cell.metadata["jupyter"] == {"source_hidden": True}
    assert code_cell.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}
    assert code_cell.metadata["cellView"] == "form" and code_cell.source == "#@title Solution\nanswer = 42"
    assert notebook.metadata["colab"]["collapsed_sections"] == [notebook.cells[heading].id]
    assert notebook.cells[heading].metadata["id"] == notebook.cells[heading].id  # how Colab names cells
    after = notebook.cells[heading + 3]
    assert after.source.startswith("## 2. Next question") and "jupyter" not in after.metadata


def test_a_solution_in_mid_section_is_not_folded_with_what_follows_it(tiny_book):
    root = tiny_book({"page": "# Title\n\nTry it.\n"
                              + code("answer = 42", "alpha", "solution") + code("answer = 43", "beta", "solution")
                              + "\n+++\n\nMore prose that every reader should see.\n"})
    notebook = exported(root)
    assert [c.source for c in notebook.cells if c.cell_type == "markdown"][1] == "## Solution"
    assert "colab" not in notebook.metadata  # folding it would hide the prose after it


def exporter(tmp_path):
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{doe2020, title={A Study}, author={Doe, Jane and Roe, Rick and Poe, Pat},"
                   " journal={J}, year={2020}}\n")
    (tmp_path / "pic.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    return MarkdownExporter(tmp_path, read_citations(bib))


def test_myst_markup_becomes_plain_markdown(tmp_path):
    text = ("(sec-x)=\nSee {cite:p}`doe2020` and {numref}`fig-a`.\n\n"
            ":::{note}\nMind this.\n:::\n\n"
            "```{figure} pic.svg\n:alt: A picture\n:name: fig-a\n\nThe caption.\n```\n\n"
            "```{bibliography}\n```\n")
    export = exporter(tmp_path)
    out = export.convert(text, {})
    assert "See (Doe et al., 2020) and the figure." in out
    assert "> **Note**" in out and "> Mind this." in out
    assert "![A picture](attachment:pic.svg)" in out and "*The caption.*" in out
    assert "Jane Doe, Rick Roe, Pat Poe (2020). *A Study*. J." in out
    assert "{" not in out and ":::" not in out and "(sec-x)=" not in out
    assert set(export.attachments) == {"pic.svg"}


def test_markup_without_a_notebook_form_is_an_error_naming_the_cell(tmp_path):
    with pytest.raises(BookError, match=r"page.md, cell 4: directive 'mermaid'"):
        exporter(tmp_path).convert("```{mermaid}\ngraph\n```\n", {"path": "page.md", "cell": 4})
    with pytest.raises(BookError, match="citation key 'nobody'"):
        exporter(tmp_path).convert("{cite:p}`nobody`", {})
