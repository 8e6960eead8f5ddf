"""The notebooks branch: every exported notebook, and a README of launch badges.

``python -m bookmachine notebooks-branch DIR`` lays the branch's tree out in
DIR from the last build (``_build/notebooks``); the publish workflow commits
that tree as the branch's single commit. Launch URLs come from ``launch.py``,
so the badges here and the links on the site are the same links.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

from . import config as book_config
from . import launch
from .config import BookConfig
from .errors import BookError
from .merge import H1
from .pipeline import export_notebooks, prepare
from .split import Source, has_code, read_source
from .toc import toc_files

STUDENT_DIR = "student/"  # the notebooks without solutions, beside the full ones
BADGES = {  # the services' own badge images
    "colab": "https://colab.research.google.com/assets/colab-badge.svg",
    "studiolab": "https://studiolab.sagemaker.aws/studiolab.svg",
}


def page_title(source: Source) -> str:
    """The page's ``# Title`` (a source opens with it: see CONTRIBUTING.md)."""
    return H1.search(source.cells[0].source).group(0)[2:].strip()


def write_tree(config: BookConfig, target: Path) -> list[Path]:
    """Copy every built notebook into ``target/<framework>/`` and write ``target/README.md``."""
    export_dir = config.notebooks_dir
    if not export_dir.is_dir():
        raise BookError("no exported notebooks: run `make book` first", path=export_dir)
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise BookError("exists and is not empty: give a new or empty folder", path=target)
    sources = [read_source(path, config.root, config.keys) for path in toc_files(config.root)]
    written = []
    for fw in config.built:
        for source in sources:
            if not has_code(source, fw.key):
                continue  # no code, no notebook
            docname = source.docname
            built = export_dir / launch.branch_path(fw, docname)
            if not built.exists():
                raise BookError(f"{built.relative_to(config.root)} is missing (the build is older "
                                "than _toc.yml or skipped this framework): run `make book` first",
                                framework=fw.key)
            copy = target / launch.branch_path(fw, docname)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(built, copy)
            written.append(copy)
    if any(has_solutions(source) for source in sources):
        # The same notebooks without their solutions, for instructors to hand out. Made
        # from the build's cache: after `make book`, no kernel starts.
        written += export_notebooks(prepare(config), target / STUDENT_DIR.rstrip("/"),
                                    without_solutions=True)
    (target / "README.md").write_text(readme(config, sources))
    return written


def has_solutions(source: Source) -> bool:
    return any(cell.has("solution") for cell in source.cells)


def readme(config: BookConfig, sources: list[Source]) -> str:
    lines = [f"# {config.title or 'The book'}: notebooks", "",
             f"One standalone notebook per page and framework, built from {config.repository_url} "
             f"at `{config.publish_ref()}` by `python -m bookmachine notebooks-branch`. "
             "Every publish replaces this branch: edit the sources on "
             f"`{config.repository_branch}`, not these files.", ""]
    for source in sources:
        docname = source.docname
        lines += [f"## {page_title(source)}", ""]
        with_code = [fw for fw in config.built if has_code(source, fw.key)]
        if not with_code:
            lines.append("This page has no code, so it has no notebook.")
        for fw in with_code:
            path = launch.branch_path(fw, docname)
            entry = f"- **{fw.label}**: [`{path}`]({quote(path)})" + badges(config, fw, docname)
            if not fw.launch:
                conda = f"environment-{fw.key}.yml"
                entry += (f" (runs locally only: in a clone of {config.repository_url}, `make setup` "
                          f"creates its environment and the `{fw.kernel}` kernel"
                          + (f"; with conda, `{conda}`)" if (config.root / conda).exists() else ")"))
            lines.append(entry)
            if has_solutions(source):
                student = f"{STUDENT_DIR}{path}"
                lines.append(f"  - without solutions, to hand out: [`{student}`]({quote(student)})"
                             + badges(config, fw, docname, STUDENT_DIR))
        lines.append("")
    return "\n".join(lines)


def badges(config: BookConfig, fw, docname: str, folder: str = "") -> str:
    """The launch badges of one notebook, as Markdown."""
    entry = ""
    for service, label, url in launch.launch_links(config, fw, docname, folder):
        badge = BADGES.get(service)
        entry += f" [![{label}]({badge})]({url})" if badge else f" [{label}]({url})"
    return entry


def command(args) -> int:
    """``python -m bookmachine notebooks-branch DIR``."""
    config = book_config.load(args.root)
    written = write_tree(config, Path(args.dir))
    print(f"[bookmachine] notebooks branch: {len(written)} notebooks and README.md in {args.dir}")
    return 0
