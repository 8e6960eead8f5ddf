"""The package the notebooks import installs with pip like any other."""

import shutil
import subprocess
import sys
import zipfile

from conftest import ROOT


def test_wheel_holds_the_teaching_modules_and_the_machine(tmp_path):
    project = tmp_path / "project"  # setuptools builds in place: keep the working tree clean
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(project)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("layers_modules-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for framework in ("pytorch", "jax", "tensorflow", "nnx", "mxnet"):
        assert f"layers_modules/{framework}.py" in names
    assert "bookmachine/static/bookmachine.css" in names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    # Hosted notebooks install it beside the frameworks they already have: it must pull in none.
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist")]
    assert all("extra ==" in line for line in requires), requires
