"""The reader's notebook: the set-up cell's policy, run for real, solutions, plain-Markdown export.

The set-up cell is exercised where it runs: a throwaway Python with a Jupyter kernel
and nothing else, and tiny local wheels standing in for a framework and for this
book's package, so pip really installs, upgrades or refuses, offline and fast.
"""

import dataclasses
import os
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

    def pip(self, *args):
        subprocess.run([str(self.python), "-m", "pip", "--quiet", *args], check=True, env=self.env())

    def env(self, **extra):
        env = runtimes.reader_env(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(self.wheels))
        env.pop(PACKAGE_SOURCE_ENV, None)  # only where a test sets it
        return {**env, **extra}

    def start_with(self, *requirements):
        """Nothing of ours installed, then exactly ``requirements``."""
        self.pip("uninstall", "-y", "fwalpha", "fwalpha-cpu", "fwbeta", "layers-modules")
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
    return Sandbox(python, wheels, book)


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
    assert "pip install 'fwalpha-cpu>=1.2,<2'" in line
    listed = subprocess.run([str(sandbox.python), "-m", "pip", "list", "--format=freeze"], capture_output=True,
                            text=True, env=sandbox.env()).stdout
    assert "fwalpha-cpu==1.3" in listed and "fwalpha==" not in listed  # no second build over the first


def test_an_older_version_is_upgraded_within_the_range_with_what_it_needs(sandbox):
    # As on Colab for Flax NNX: flax is too old, and the newer flax needs a newer jax.
    sandbox.start_with("fwalpha==1.0", "fwbeta==1.0", str(sandbox.book))
    requires = ["python>=3.10", "fwalpha>=1.0,<2", "fwbeta>=1.2,<2"]
    [(stream, [line])] = lines(sandbox.run_setup(requires))
    assert line.startswith("Set-up: this kernel has fwbeta 1.0, so: pip install")
    assert sandbox.versions() == "fwalpha 1.5, fwbeta 1.2"  # fwalpha moved as fwbeta needs, within range


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
