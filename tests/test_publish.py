"""Publishing: the workflows, the notebooks branch, and every launch and download link."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from bs4 import BeautifulSoup

from bookmachine import config as book_config
from bookmachine import launch
from bookmachine.export import notebook_name
from bookmachine.pipeline import toc_files
from bookmachine.split import has_code, read_source
from conftest import ROOT, code

sys.path.insert(0, str(ROOT / "checks"))
import runtimes_colab  # noqa: E402

CONFIG = book_config.load(ROOT)
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
SOURCES = [read_source(path, ROOT, CONFIG.keys) for path in toc_files(ROOT)]
DOCNAMES = [source.docname for source in SOURCES]
WITH_CODE = {(source.docname, key) for source in SOURCES for key in CONFIG.keys if has_code(source, key)}


def bookmachine(*args, cwd=ROOT, env=None):
    return subprocess.run([sys.executable, "-m", "bookmachine", *args], cwd=cwd,
                          capture_output=True, text=True, env=env)


def tiny_book_env(**settings) -> dict:
    """The environment for building a test's own small book: this book's SKIP means nothing there."""
    env = {k: v for k, v in os.environ.items() if k != "BOOKMACHINE_SKIP"}
    return {**env, **settings}


def workflow(name):
    return yaml.safe_load((WORKFLOWS / name).read_text())


def run_lines(flow):
    return [line.strip() for job in flow["jobs"].values() for step in job["steps"]
            for line in step.get("run", "").splitlines() if line.strip()]


# --- the workflows --------------------------------------------------------------

def actionlint(*args, cwd):
    return subprocess.run([str(BIN / "actionlint"), "-no-color", *args], cwd=cwd,
                          capture_output=True, text=True)


def test_the_workflows_pass_actionlint_and_actionlint_really_lints(tmp_path):
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) >= 2
    result = actionlint(*files, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text("on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.no_such_context }}\n"
                      "      - uses: actions/checkout@v6\n        with:\n          no-such-input: 1\n")
    result = actionlint(str(broken), cwd=tmp_path)
    assert result.returncode != 0
    assert "no_such_context" in result.stdout and "no-such-input" in result.stdout


def make_targets():
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))


def test_the_workflows_call_the_readme_commands_and_nothing_else():
    publish, newest, weekly = workflow("publish.yml"), workflow("newest-releases.yml"), workflow("runtimes.yml")
    readme = (ROOT / "README.md").read_text()
    for flow in (publish, newest, weekly):
        lines = run_lines(flow)
        for line in lines:
            # no second way to build: no direct jupyter-book, sphinx, pip or npm
            assert not re.search(r"jupyter-book|sphinx-build|pip install|npm |bookmachine build", line), line
        for target in re.findall(r"\bmake ([\w-]+)", " ".join(lines)):
            assert target in make_targets(), f"the workflows call `make {target}`, which the Makefile lacks"
    assert "make test" in run_lines(publish) and "make test" in readme
    assert any("bookmachine notebooks-branch" in line for line in run_lines(publish))
    assert "make newest-releases" in " ".join(run_lines(newest))
    for flow in (newest, weekly):
        assert "schedule" in flow[True] and "workflow_dispatch" in flow[True]  # YAML reads `on` as True
    assert publish[True]["push"]["branches"] == ["main"]


def test_the_weekly_runtimes_check_takes_colabs_list_runs_every_profile_and_fails_when_colab_moves():
    steps = workflow("runtimes.yml")["jobs"]["runtimes"]["steps"]
    commands = [step.get("run", "") for step in steps]
    refresh = next(i for i, run in enumerate(commands) if "checks/runtimes.py refresh-colab" in run)
    profiles = next(i for i, run in enumerate(commands) if "make runtimes" in run)
    moved = next(i for i, run in enumerate(commands) if "colab.diff" in run and "exit 1" in run)
    assert refresh < profiles < moved  # Colab's newest list is what the notebooks run against
    assert "googlecolab/backend-info" in commands[refresh]
    assert "git diff runtimes/colab*.txt" in commands[refresh]
    for profile in runtimes_colab.RUNTIMES:  # every Colab runtime, each week
        assert f"take {profile} " in commands[refresh], profile
    assert steps[moved]["if"] == "${{ !cancelled() }}"  # reported even when a notebook failed too
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    wanted = {book_config_python(path) for path in (ROOT / "runtimes").glob("*.txt")}
    assert wanted <= set(python["with"]["python-version"].split()), "a profile's Python is not set up"
    assert python["with"]["python-version"].split()[-1] == "3.11"  # the book's own, the default
    readme = (ROOT / "README.md").read_text()
    assert "make runtimes" in readme and "refresh-colab" in readme


def book_config_python(profile):
    return re.search(r"^# python: (\S+)", profile.read_text(), re.M).group(1)


def test_publish_deploys_pages_and_pins_the_notebooks_to_the_commit():
    publish = workflow("publish.yml")
    build, deploy = publish["jobs"]["build"], publish["jobs"]["deploy"]
    assert build["env"]["BOOKMACHINE_REF"] == "${{ github.sha }}"
    assert publish["concurrency"]["group"] == "pages"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert build["permissions"]["contents"] == "write"
    uses = [step.get("uses", "") for job in publish["jobs"].values() for step in job["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    push = " ".join(run_lines(publish))
    assert "git push --force" in push and "github-actions[bot]" in push and "notebooks" in push


def test_publish_runs_each_frameworks_notebooks_on_its_own_runner_and_builds_from_their_results():
    publish = workflow("publish.yml")
    execute, build = publish["jobs"]["execute"], publish["jobs"]["build"]
    assert execute["strategy"]["matrix"]["framework"] == CONFIG.keys  # MXNet included
    runs = [step.get("run", "") for step in execute["steps"]]
    assert "make execute FRAMEWORKS=${{ matrix.framework }} CACHE_OUT=executed" in runs
    upload = next(s for s in execute["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "executed" and upload["with"]["name"] == "executed-${{ matrix.framework }}"
    assert build["needs"] == "execute"
    steps = build["steps"]
    download = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/download-artifact@"))
    assert steps[download]["with"] == {"pattern": "executed-*", "merge-multiple": True, "path": "executed"}
    runs = [" ".join(str(s.get("run", "")).split()) for s in steps]
    book = runs.index("make book CACHE_FROM=executed")
    counted = next(i for i, run in enumerate(runs) if "kernels_started" in run)
    assert download < book < counted < runs.index("make test")
    assert "exit 1" in runs[counted] and "had to run itself" in runs[counted]
    # The same cache keys everywhere: one runner image, one Python for every job.
    assert len({job["runs-on"] for job in publish["jobs"].values()}) == 1
    assert "latest" not in build["runs-on"]
    pythons = {s["with"]["python-version"] for job in (execute, build) for s in job["steps"]
               if s.get("uses", "").startswith("actions/setup-python@")}
    assert pythons == {"${{ env.PYTHON_VERSION }}"} and publish["env"]["PYTHON_VERSION"] == "3.11"
    makefile = (ROOT / "Makefile").read_text()
    assert "bookmachine execute --frameworks" in makefile and "--cache-from $(CACHE_FROM)" in makefile


# --- the notebooks branch -------------------------------------------------------

def readme_lines(readme: str, docname: str) -> dict[str, str]:
    """framework label -> that framework's line under the page's heading."""
    section = readme.split("\n## ")[DOCNAMES.index(docname) + 1]
    return {m.group(1): m.group(0) for m in re.finditer(r"^- \*\*(.+?)\*\*:.*$", section, re.M)}


@pytest.mark.build
def test_notebooks_branch_holds_every_notebook_and_a_readme_of_badges(built_book, tmp_path):
    target = tmp_path / "branch"
    result = bookmachine("notebooks-branch", str(target))
    assert result.returncode == 0, result.stdout + result.stderr
    expected = {launch.branch_path(fw, d) for fw in CONFIG.built for d in DOCNAMES if (d, fw.key) in WITH_CODE}
    written = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    # Beside them, in student/, the same notebooks without solutions (tests/test_student_notebooks.py).
    assert written == expected | {"student/" + path for path in expected} | {"README.md"}
    for path in expected:
        assert (target / path).read_bytes() == (built_book / "notebooks" / path).read_bytes(), path
    readme = (target / "README.md").read_text()
    exercises = DOCNAMES[-1]
    for fw in CONFIG.built:
        student = f"student/{launch.branch_path(fw, exercises)}"
        line = next(line for line in readme.splitlines() if f"(student/{launch.branch_path(fw, exercises)})" in line)
        assert line.startswith("  - without solutions, to hand out:"), line
        for service, label, url in launch.launch_links(CONFIG, fw, exercises, "student/"):
            assert f"[![{label}]({launch_badge(service)})]({url})" in line and student in url
    for docname, source in zip(DOCNAMES, toc_files(ROOT)):
        title = re.search(r"^# (.+)$", source.read_text(), re.M).group(1).strip()
        assert f"\n## {title}\n" in readme, title
        lines = readme_lines(readme, docname)
        with_code = [fw for fw in CONFIG.built if (docname, fw.key) in WITH_CODE]
        assert list(lines) == [fw.label for fw in with_code], docname
        if not with_code:
            assert "This page has no code, so it has no notebook." in readme.split(f"\n## {title}\n")[1]
        for fw in with_code:
            line = lines[fw.label]
            assert f"({launch.branch_path(fw, docname)})" in line
            links = launch.launch_links(CONFIG, fw, docname)
            assert [s for s, _, _ in links] == list(fw.launch)
            for service, label, url in links:
                assert f"[![{label}]({launch_badge(service)})]({url})" in line, (docname, fw.key)
            if not fw.launch:
                assert "colab" not in line.lower() and "studiolab" not in line.lower()
                assert "runs locally only" in line and "make setup" in line
    mxnet = [fw for fw in CONFIG.built if fw.key == "mxnet"]
    if mxnet:
        assert not mxnet[0].launch  # MXNet has no hosted launch


def launch_badge(service):
    return {"colab": "https://colab.research.google.com/assets/colab-badge.svg",
            "studiolab": "https://studiolab.sagemaker.aws/studiolab.svg"}[service]


def test_notebooks_branch_without_a_build_says_run_make_book(tiny_book, tmp_path):
    root = tiny_book({"page": "# Title\n" + code("x = 1", "alpha") + code("x = 2", "beta")})
    result = bookmachine("--root", str(root), "notebooks-branch", str(tmp_path / "out"), env=tiny_book_env())
    assert result.returncode == 1
    assert "_build/notebooks" in result.stderr and "run `make book` first" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


# --- the links on the built site --------------------------------------------------

def launch_tabs(page: Path):
    """(framework, the tab's links) for every tab of every launch bar on a page."""
    soup = BeautifulSoup(page.read_text(), "html.parser")
    by_label = {fw.label: fw for fw in CONFIG.frameworks}
    for bar in soup.select("div.sd-tab-set.launch-bar"):
        labels = [label.get_text(strip=True) for label in bar.find_all("label", recursive=False)]
        contents = bar.find_all("div", class_="sd-tab-content", recursive=False)
        assert labels == [fw.label for fw in CONFIG.frameworks], page
        for label, content in zip(labels, contents):
            yield by_label[label], content.select("a.launch-link")


@pytest.mark.build
def test_every_launch_and_download_link_names_its_framework_and_page_and_exists(built_book):
    html_dir, export_dir = built_book / "html", built_book / "notebooks"
    pages_with_bars = set()
    for page in sorted(html_dir.rglob("*.html")):
        docname = page.relative_to(html_dir).with_suffix("").as_posix()
        for fw, links in launch_tabs(page):
            pages_with_bars.add(docname)
            name = f"{fw.key}/{notebook_name(docname)}.ipynb"
            expected = {url for _, _, url in launch.launch_links(CONFIG, fw, docname)}
            services = [a["data-service"] for a in links]
            if (docname, fw.key) not in WITH_CODE:
                assert services == [], (docname, fw.key)
                continue
            assert services == list(fw.launch) + (["download"] if fw in CONFIG.built else []), (docname, fw.key)
            for a in links:
                href = a["href"]
                where = (docname, fw.key, href)
                if a["data-service"] == "download":
                    assert not urlsplit(href).scheme and href.endswith("/" + name), where
                    target = (page.parent / href).resolve()
                    assert target.is_relative_to(html_dir.resolve()) and target.is_file(), where
                    assert target.read_bytes() == (export_dir / name).read_bytes(), where
                    json.loads(target.read_text())  # a whole notebook, not a stub
                else:
                    url = urlsplit(href)
                    assert url.scheme == "https" and url.netloc and not url.query, where
                    assert url.path.endswith(f"/blob/{CONFIG.notebooks_branch}/{name}"), where
                    assert href in expected, where  # exactly the URL launch.py makes
                    assert (export_dir / name).is_file(), where
    assert pages_with_bars == {docname for docname, _ in WITH_CODE}


# --- the exported notebooks, run by a real client -----------------------------------

@pytest.mark.build
@pytest.mark.parametrize("key", CONFIG.keys)
def test_an_exported_notebook_runs_top_to_bottom_in_jupyter(built_book, tmp_path, key):
    fw = CONFIG.framework(key)
    if fw not in CONFIG.built:
        pytest.skip(f"{key} is not built (BOOKMACHINE_SKIP)")
    notebook = built_book / "notebooks" / launch.branch_path(fw, DOCNAMES[0])
    result = subprocess.run(
        [str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
         f"--ExecutePreprocessor.kernel_name={fw.kernel}", "--ExecutePreprocessor.timeout=600",
         "--output-dir", str(tmp_path), str(notebook)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    ran = json.loads((tmp_path / notebook.name).read_text())
    code_cells = [c for c in ran["cells"] if c["cell_type"] == "code"]
    assert code_cells and all(c["execution_count"] for c in code_cells)
    assert any(c["outputs"] for c in code_cells)
    errors = [o for c in code_cells for o in c["outputs"] if o["output_type"] == "error"
              and "raises-exception" not in c["metadata"].get("tags", [])]
    assert not errors


@pytest.mark.build
def test_every_link_to_the_repository_names_the_one_being_published(built_book):
    """The theme's repository button too: $GITHUB_REPOSITORY in CI, else the git remote or _config.yml."""
    links = 0
    for page in sorted((built_book / "html").rglob("*.html")):
        soup = BeautifulSoup(page.read_text(), "html.parser")
        for a in soup.select('a[href^="https://github.com/"]'):
            assert a["href"].rstrip("/") == CONFIG.repository_url, (page, a["href"])
            links += 1
    assert links >= len(DOCNAMES)  # the source-repository button of every page


def test_a_build_in_ci_points_every_link_and_the_set_up_cell_at_the_published_repository(tiny_book):
    import os

    root = tiny_book({"page": "# Title\n" + code("x = 1", "alpha") + code("x = 2", "beta")})
    config_file = root / "_config.yml"
    config_file.write_text(config_file.read_text() + "html:\n  use_repository_button: true\n")
    env = tiny_book_env(GITHUB_ACTIONS="true", GITHUB_REPOSITORY="someone/fork", GITHUB_SHA="abc1234")
    env.pop("BOOK_PACKAGE_SOURCE", None)
    result = subprocess.run([sys.executable, "-m", "bookmachine", "--root", str(root), "build"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[bookmachine] repository https://github.com/someone/fork (from GITHUB_REPOSITORY)" in result.stdout
    soup = BeautifulSoup((root / "_build" / "html" / "page.html").read_text(), "html.parser")
    button = soup.select_one("a.btn-source-repository-button")
    assert button["href"] == "https://github.com/someone/fork"
    launches = [a["href"] for a in soup.select("a.launch-link") if a["data-service"] != "download"]
    assert launches and all("/github/someone/fork/blob/notebooks/" in href for href in launches)
    notebook = json.loads((root / "_build" / "notebooks" / "alpha" / "page.ipynb").read_text())
    assert '"layers-modules @ git+https://github.com/someone/fork@abc1234"' in "".join(notebook["cells"][0]["source"])
