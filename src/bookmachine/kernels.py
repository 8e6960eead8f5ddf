"""One Jupyter kernel per framework, each in the environment its config names."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

from .config import BookConfig, Framework
from .errors import BookError

# Run by each kernel's interpreter: which Python, and what is installed on its
# path (each distribution's metadata folder is named NAME-VERSION.dist-info).
# An upgrade there changes it, so the notebooks that run there run again.
INSTALLED = """\
import json, os, sys
path = [folder for folder in sys.path if folder]  # '' is this command's folder, not the kernel's
found = []
for folder in path:
    try:
        found += [name for name in os.listdir(folder) if name.endswith((".dist-info", ".egg-info"))]
    except OSError:
        pass
print(json.dumps([sys.version, path, sorted(found)]))
"""


def kernel_python(config: BookConfig, framework: Framework) -> Path:
    return config.root / framework.venv / "bin" / "python"


def install(config: BookConfig, prefix: str = sys.prefix) -> list[str]:
    """Write a kernelspec for every framework whose environment exists."""
    installed = []
    for fw in config.frameworks:
        python = kernel_python(config, fw)
        if not python.exists():
            continue
        folder = Path(prefix) / "share" / "jupyter" / "kernels" / fw.kernel
        folder.mkdir(parents=True, exist_ok=True)
        spec = {
            "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     # Keep the kernel's own start-up chatter out of build logs.
                     "--IPKernelApp.log_level=ERROR"],
            "display_name": f"Python 3 ({fw.label})",
            "language": "python",
            "env": fw.env,
        }
        (folder / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
        installed.append(fw.kernel)
    return installed


def _spec(framework: Framework):
    try:
        return KernelSpecManager().get_kernel_spec(framework.kernel)
    except NoSuchKernel:
        return None


def check(config: BookConfig) -> None:
    """Fail early, saying how to fix it, if a framework to build has no kernel."""
    for fw in config.built:
        spec = _spec(fw)
        if spec is None or not (Path(spec.argv[0]).exists() or shutil.which(spec.argv[0])):
            raise BookError(
                f"no Jupyter kernel '{fw.kernel}' (environment {fw.venv}). Run `make setup` to "
                f"create it, or build without {fw.label}: `make book SKIP={fw.key}` "
                f"(BOOKMACHINE_SKIP={fw.key})", framework=fw.key)


def environment_digests(frameworks: list[Framework], root: Path | None = None) -> dict[str, str]:
    """framework key -> digest of its kernel spec, Python version and installed distributions.

    Each interpreter is asked once, all at the same time (a fraction of a second each).
    Paths inside the book ``root`` (its .venv, its src/) count relative to it, so two
    clones of one commit with the same pins give the same digests wherever they lie:
    caches made on other machines can be merged (``build --cache-from``).
    """
    specs = {fw.key: _spec(fw) for fw in frameworks}
    # Kernels that share an interpreter and environment variables are asked once.
    how = {key: (spec.argv[0], json.dumps(spec.env, sort_keys=True)) for key, spec in specs.items() if spec is not None}
    asked = {}
    for key, (python, env) in how.items():
        if (python, env) not in asked:
            asked[python, env] = subprocess.Popen([python, "-c", INSTALLED], stdout=subprocess.PIPE,
                                                  stderr=subprocess.PIPE, text=True,
                                                  env={**os.environ, **specs[key].env})
    installed = {}
    for (python, env), process in asked.items():
        out, err = process.communicate()
        if process.returncode != 0:
            raise BookError(f"cannot list what is installed for kernel interpreter {python}:\n{err[-800:]}")
        installed[python, env] = out
    digests = {}
    for key, spec in specs.items():
        payload = [spec.argv, spec.env, installed[how[key]]] if spec is not None else [None]
        text = json.dumps(payload, sort_keys=True)
        if root is not None:
            text = re.sub(re.escape(str(root)) + r"(?=[/\\\\\"]|$)", "<book>", text)
        digests[key] = hashlib.sha256(text.encode()).hexdigest()
    return digests
