"""The reader's notebook: set-up cell behaviour and plain-Markdown export."""

import importlib.util
import subprocess
import sys
import types

import pytest

from bookmachine import config as book_config
from bookmachine.errors import BookError
from bookmachine.export import MarkdownExporter, read_citations, setup_cell
from conftest import ROOT

CONFIG = book_config.load(ROOT, skip="")


def run_setup_cell(monkeypatch, *, colab: bool, package_installed: bool, framework="tensorflow"):
    """Execute the set-up cell with the network and pip replaced by a recorder."""
    commands = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: commands.append((cmd, kw)))
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: (
        (real_find_spec(name) if package_installed else None) if name == "layers_modules"
        else real_find_spec(name, *a)))
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    code = setup_cell(CONFIG, CONFIG.framework(framework), "abc1234")
    exec(compile(code, "<setup cell>", "exec"), {})
    return commands


def test_on_colab_it_installs_only_the_book_package_at_the_published_ref(monkeypatch):
    commands = run_setup_cell(monkeypatch, colab=True, package_installed=False)
    assert len(commands) == 1
    command, options = commands[0]
    assert command == [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                       "layers-modules @ git+https://github.com/layers-modules/layers-and-modules@abc1234"]
    assert options == {"check": True}
    for framework in ("torch", "jax", "flax", "tensorflow", "keras", "numpy"):
        assert not any(framework in part for part in command[-1:][0].split("@")[0].split())


def test_locally_with_the_package_installed_it_does_nothing(monkeypatch):
    assert run_setup_cell(monkeypatch, colab=False, package_installed=True) == []


def test_locally_without_the_package_it_does_not_install_either(monkeypatch):
    # A local reader follows the README's set-up; the cell never pip-installs on their machine.
    assert run_setup_cell(monkeypatch, colab=False, package_installed=False) == []


def test_on_colab_with_the_package_already_there_it_does_nothing(monkeypatch):
    assert run_setup_cell(monkeypatch, colab=True, package_installed=True) == []


def test_framework_settings_are_set_before_any_import(monkeypatch):
    import os
    run_setup_cell(monkeypatch, colab=False, package_installed=True, framework="tensorflow")
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"


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
