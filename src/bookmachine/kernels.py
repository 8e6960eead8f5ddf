"""One Jupyter kernel per framework, each in the environment its config names."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

from .config import BookConfig, Framework
from .errors import BookError


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


def check(config: BookConfig) -> None:
    """Fail early, saying how to fix it, if a framework to build has no kernel."""
    manager = KernelSpecManager()
    for fw in config.built:
        try:
            spec = manager.get_kernel_spec(fw.kernel)
        except NoSuchKernel:
            spec = None
        if spec is None or not (Path(spec.argv[0]).exists() or shutil.which(spec.argv[0])):
            raise BookError(
                f"no Jupyter kernel '{fw.kernel}' (environment {fw.venv}). Run `make setup` to "
                f"create it, or build without {fw.label}: `make book SKIP={fw.key}` "
                f"(BOOKMACHINE_SKIP={fw.key})", framework=fw.key)
