"""Where readers open the notebooks: the runtime profiles, Colab's transcription, and the
cheap profile (a reader's own Jupyter, from local wheels) run for real in `make test`.

The other profiles (Colab's runtime, Studio Lab's) download several GB of frameworks:
`make runtimes` runs them, and the weekly runtimes workflow.
"""

import re
import sys
import time
from pathlib import Path

import pytest

from bookmachine import config as book_config
from conftest import ROOT, SUMMARY_LINES

sys.path.insert(0, str(ROOT / "checks"))
import runtimes  # noqa: E402

CONFIG = book_config.load(ROOT)
PROFILES = sorted((ROOT / "runtimes").glob("*.txt"))


def pins(path):
    return dict(re.findall(r"^([\w.-]+)==(\S+)$", path.read_text(), re.M))


def test_every_profile_names_its_python_and_frameworks_and_every_framework_has_a_home():
    profiles = [runtimes.read_profile(path, CONFIG.keys) for path in PROFILES]
    assert {"colab", "studiolab", "local"} <= {p.name for p in profiles}
    for profile in profiles:
        assert re.fullmatch(r"3\.\d+", profile.python), profile.name
        service = profile.name.split("-")[0]
        if service in ("colab", "studiolab"):  # a hosted service runs what it has a launch link for
            assert set(profile.frameworks) == {fw.key for fw in CONFIG.frameworks if service in fw.launch}
    local = {key for p in profiles if p.name.startswith("local") for key in p.frameworks}
    assert local == set(CONFIG.keys)  # a downloaded notebook of any framework is checked somewhere


@pytest.mark.parametrize("name", sorted(runtimes.RUNTIMES))
def test_each_colab_profile_pins_colabs_versions_of_the_frameworks(name):
    colab = pins(ROOT / "runtimes" / f"{name}.txt")
    text = (ROOT / "runtimes" / f"{name}.txt").read_text()
    assert re.search(r"at commit [0-9a-f]{7} of \d{4}-\d{2}-\d{2}", text)  # where it came from
    for fw in CONFIG.frameworks:
        if "colab" in fw.launch:
            for requirement in fw.requires:
                if requirement.name != "python" and not (name == "colab-tpu" and requirement.name == "tensorflow"):
                    assert requirement.name in colab, requirement.name  # transcribed, not guessed


def test_the_colab_profiles_hold_what_breaks_when_the_set_up_cell_moves_it():
    gpu, tpu, py312 = (pins(ROOT / "runtimes" / f"colab-{n}.txt") for n in ("gpu", "tpu", "py312"))
    family = {gpu[n] for n in ("jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda12-pjrt")}
    assert len(family) == 1  # the CUDA plugin family, at jax's version
    assert tpu["torch"] == "2.9.0" and "tensorflow" not in tpu  # torch-xla's torch; no tensorflow there
    assert py312["numpy"] == "2.0.2" and py312["numba"] == "0.60.0"  # numba pins numpy below 2.1
    assert not any(n.startswith("nvidia-") or n in ("libtpu", "torch-xla") for n in {**gpu, **tpu})


def test_colabs_gpu_list_is_transcribed_with_its_jax_cuda_plugins_and_without_the_cuda_libraries():
    freeze = FREEZE.replace("torch @ https://download.pytorch.org/whl/cpu/torch-2.11.0%2Bcpu-cp313-cp313-"
                            "manylinux_2_28_x86_64.whl", "torch==2.11.0+cu128") + (
        "jax-cuda12-pjrt==0.7.2\njax-cuda12-plugin==0.7.2\nnumba==0.61.2\nnvidia-cublas-cu12==12.8.4.1\n")
    text = runtimes.transcribe_colab(freeze, "Python 3.13.15\n", "a724079", "2026-08-19", CONFIG,
                                     runtimes.RUNTIMES["colab-gpu"])
    assert "(pip-freeze.gpu.txt, os-info-gpu.txt) at commit a724079 of 2026-08-19" in text
    assert "# env: JAX_PLATFORMS=cpu, JAX_SKIP_CUDA_CONSTRAINTS_CHECK=1\n" in text  # no GPU on the machines that run the profiles
    assert pins_of(text) == {"flax": "0.11.2", "ipykernel": "6.17.1", "jax": "0.7.2", "numpy": "2.1.3",
                             "torch": "2.11.0", "jax-cuda12-pjrt": "0.7.2", "jax-cuda12-plugin": "0.7.2",
                             "numba": "0.61.2"}  # +cu128 dropped; no nvidia-* library


def test_a_row_passes_only_when_the_set_up_cell_kept_what_the_runtime_had_in_range():
    before = {"jax": "0.7.2", "jaxlib": "0.7.2", "jax-cuda12-plugin": "0.7.2", "flax": "0.11.2", "numpy": "2.0.2"}
    profile = runtimes.Profile(ROOT / "runtimes" / "colab-gpu.txt", "3.13", ["nnx"])

    def result_of(after, too_old=("flax",)):
        result = runtimes.Result()
        runtimes.package_changes(before, after, set(too_old), result)
        return result

    fine = result_of({**before, "flax": "0.12.0", "layers-modules": "0.1.0", "treescope": "0.1.10"})
    assert fine.changed == ["flax 0.11.2->0.12.0", "layers-modules", "treescope 0.1.10 (new)"]
    assert runtimes.failures(profile, fine) == []
    split = result_of({**before, "flax": "0.12.12", "jax": "0.12.0.1", "jaxlib": "0.12.0.1"})
    assert runtimes.failures(profile, split) == [
        "the set-up cell changed what the runtime had within range: jax 0.7.2->0.12.0.1, jaxlib 0.7.2->0.12.0.1",
        "the jax family's versions disagree: jax 0.12.0.1, jax-cuda12-plugin 0.7.2, jaxlib 0.12.0.1"]
    assert runtimes.failures(profile, result_of({**before, "numpy": "2.4.6"}, too_old=())) == [
        "the set-up cell changed what the runtime had within range: numpy 2.0.2->2.4.6"]


def test_a_profile_may_give_the_kernel_environment_variables(tmp_path):
    path = tmp_path / "gpu.txt"
    path.write_text("# python: 3.13\n# frameworks: jax\n# env: JAX_PLATFORMS=cpu, A=b=c\njax==0.7.2\n")
    assert runtimes.read_profile(path, CONFIG.keys).env == {"JAX_PLATFORMS": "cpu", "A": "b=c"}


FREEZE = """\
# Do not modify this file directly
flax==0.11.2
google-colab @ file:///colabtools/dist/google_colab-1.0.0.tar.gz
ipykernel==6.17.1
jax==0.7.2
numpy==2.1.3
pandas==2.2.3
torch @ https://download.pytorch.org/whl/cpu/torch-2.11.0%2Bcpu-cp313-cp313-manylinux_2_28_x86_64.whl
"""


def test_colabs_list_is_transcribed_with_its_source_python_and_what_the_chapter_uses():
    text = runtimes.transcribe_colab(FREEZE, "Ubuntu 22.04.5 LTS\nPython 3.13.15\n", "a724079",
                                     "2026-08-19", CONFIG)
    assert "at commit a724079 of 2026-08-19" in text
    assert "# python: 3.13\n" in text
    assert "# frameworks: " + ", ".join(fw.key for fw in CONFIG.frameworks if "colab" in fw.launch) in text
    assert pins_of(text) == {"flax": "0.11.2", "ipykernel": "6.17.1", "jax": "0.7.2", "numpy": "2.1.3",
                             "torch": "2.11.0"}  # a URL's wheel by its version; pandas, google-colab dropped


def pins_of(text):
    return dict(re.findall(r"^([\w.-]+)==(\S+)$", text, re.M))


@pytest.mark.build
def test_a_downloaded_notebook_runs_in_a_plain_local_jupyter_through_its_own_set_up_cell(built_book):
    """The local profiles: Python 3.11 with the frameworks at the book's pins, without the
    book's package. The chapter's first page and its exercises (whose checks come from the
    package) run clean, the first to run installs the package from this checkout
    (BOOK_PACKAGE_SOURCE), no framework moves, and every output is the site's. The other
    pages' set-up cells are the same cell; nbval re-runs them against the site and
    `make runtimes` runs every page here."""
    keys = [fw.key for fw in CONFIG.built]
    started = time.perf_counter()
    status, rows, problems = runtimes.run(profile_names=["local", "local-mxnet"], framework_keys=keys,
                                          pages=["layers-and-modules", "exercises"])
    seconds = time.perf_counter() - started
    assert status == 0 and not problems, problems
    assert sorted(key for _, _, key, _ in rows) == sorted(keys)
    for profile, python, key, result in rows:
        assert not isinstance(result, str), f"{profile.name}/{key} skipped: {result}"
        assert result.notebooks == 2 and result.clean == result.notebooks, (key, result.failed)
        assert result.differ == [], (key, result.differ)  # same versions as the site: same outputs
        [line] = result.setup_lines  # the first notebook installs the package; the others find it
        assert re.fullmatch(r"Set-up: this kernel has no layers-modules \(this book's package\), so: pip install "
                            r"'/\S+/checkout' \(every other package kept as it is\)", line), line  # this checkout
        assert result.changed == ["layers-modules"] and not result.kept_wrongly  # nothing else moved
        book_pins = pins(ROOT / ("requirements-mxnet.txt" if key == "mxnet" else "requirements.txt"))
        for name_version in result.versions.split(", "):  # what the set-up cell left: the pins
            name, version = name_version.split(" ")
            assert version.split("+")[0] == book_pins[name if name != "tensorflow" else "tensorflow-cpu"]
    SUMMARY_LINES.append(f"local runtime profiles: {sum(r.notebooks for *_, r in rows)} notebooks through "
                         f"their set-up cells in {seconds:.0f} s")
    SUMMARY_LINES.extend(runtimes.table(rows).splitlines())


def test_what_a_kernel_has_is_read_in_every_profiles_python():
    """The probes run in the profile's own interpreter: Studio Lab's is Python 3.9, which
    lacks importlib.metadata.packages_distributions (the probe once crashed the run there)."""
    versions = sorted({runtimes.read_profile(path, CONFIG.keys).python for path in PROFILES})
    found = {v: runtimes.find_python(v) for v in versions}
    assert any(found.values()), f"none of the profiles' Pythons {versions} is on this machine"
    for version, python in found.items():
        if python is None:
            continue
        assert runtimes.providers(python, ["pip", "no_such_module"]) == {
            "pip": ("pip", runtimes.installed_packages(python)["pip"])}, version
        assert re.fullmatch(r"pip \S+, no no_such_module",
                            runtimes.installed_versions(python, ["pip", "no_such_module"])), version


def test_running_a_notebook_leaves_no_kernel_behind(tmp_path):
    """A profile runs dozens of notebooks: each one's kernel must stop when it is done
    (a leak once filled this machine's memory halfway through `make runtimes`)."""
    import os
    import uuid

    import nbformat
    import psutil

    marker = uuid.uuid4().hex
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('set up')"),
                                               nbformat.v4.new_code_cell("print(6 * 7)")])
    ran = runtimes.run_notebook(notebook, Path(sys.executable), dict(os.environ, RUNTIMES_TEST=marker),
                                tmp_path)
    assert [o["text"] for o in ran.cells[1].outputs] == ["42\n"]  # it really ran in a kernel

    def ours(process):
        try:
            return process.environ().get("RUNTIMES_TEST") == marker
        except (psutil.Error, OSError):
            return False
    left = [p.pid for p in psutil.process_iter() if ours(p)]
    assert not left, f"kernels still running after their notebook: {left}"


def test_the_report_counts_failed_cells_and_outputs_that_differ_from_the_site():
    import nbformat

    def notebook(*outputs, tags=()):
        cells = [nbformat.v4.new_code_cell("setup", id="setup")]
        for n, output in enumerate(outputs):
            cell = nbformat.v4.new_code_cell("x", id=f"c{n}", outputs=[nbformat.from_dict(output)])
            if n in tags:
                cell.metadata["tags"] = ["raises-exception"]
            cells.append(cell)
        return nbformat.v4.new_notebook(cells=cells)

    def printed(text):
        return {"output_type": "stream", "name": "stdout", "text": text}

    def error(name):
        return {"output_type": "error", "ename": name, "evalue": "no", "traceback": []}

    site = notebook(printed("1\n"), printed("2\n"), error("ValueError"), printed("4\n"), tags=(2,))
    ran = notebook(printed("1\n"), printed("two\n"), error("ValueError"), error("ImportError"), tags=(2,))
    result = runtimes.Result()
    runtimes.compare("page", site, ran, result)
    assert result.failed == ["page cell 4: ImportError: no"]  # an expected error is no failure
    assert result.differ == ["page cell 2: stdout: the site has '2', here 'two'"]
    assert result.clean == 0


def test_the_folders_of_an_environment_are_the_only_text_compared_loosely():
    site = "block.py warns: /work/main/.venv/lib/python3.11/site-packages/mxnet/gluon/block.py:657: 2 blocks\n"
    here = "block.py warns: /tmp/runtime-x/env/lib/python3.11/site-packages/mxnet/gluon/block.py:657: 2 blocks\n"
    traced = "tracing the function <lambda> at /tmp/ipykernel_{}/4187708920.py:2 for jit"
    assert runtimes.same_anywhere(site) == runtimes.same_anywhere(here)
    assert runtimes.same_anywhere(traced.format(8818)) == runtimes.same_anywhere(traced.format(91))
    assert runtimes.same_anywhere(site) != runtimes.same_anywhere(here.replace("2 blocks", "3 blocks"))
    assert runtimes.same_anywhere(site) == runtimes.same_anywhere(here.replace("py:657", "py:654"))  # a release
    assert runtimes.same_anywhere(site) != runtimes.same_anywhere(here.replace("block.py", "other.py"))


def test_what_a_machine_without_a_gpu_prints_for_a_cuda_build_is_not_compared():
    import nbformat

    noise = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
             "I0000 00:00:1796113212.733029     595 cudart_stub.cc:31] Could not find cuda drivers on your "
             "machine, GPU will not be used.\n")
    quiet = nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n")])
    noisy = nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("stream", name="stderr", text=noise),
                                                    nbformat.v4.new_output("stream", name="stdout", text="1\n")])
    assert runtimes.visible(noisy) == runtimes.visible(quiet)
    other = nbformat.v4.new_output("stream", name="stderr", text=noise + "UserWarning: something\n")
    assert runtimes.visible(nbformat.v4.new_code_cell("x", outputs=[other])) == [("stderr", "UserWarning: something\n")]
