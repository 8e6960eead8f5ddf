"""``python -m bookmachine COMMAND``: build the book, install kernels, lay out the notebooks branch."""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import config as book_config
from . import claims, kernels, mathjax, pdf, publish, split
from .config import PREPARED_ENV, SKIP_ENV
from .errors import BookError
from .execute import Interrupted, import_cache
from .launch import DOWNLOAD_DIR
from .pipeline import export_notebooks, prepare, toc_files, write_manifest


def _publish(staged: Path, target: Path) -> None:
    """Swap a finished folder in, so readers never see a half-written one."""
    fresh = target.with_name(target.name + ".new")
    old = target.with_name(target.name + ".old")
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    shutil.copytree(staged, fresh)
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def build(args) -> int:
    config = book_config.load(args.root, skip=args.skip)
    kernels.check(config)
    mathjax.source(config.root, config.mathjax_path)
    package = f"; notebooks install the package from {config.package_source}" if config.package_source else ""
    print(f"[bookmachine] repository {config.repository_url} (from {config.repository_source}){package}")
    if args.cache_from:
        merged = import_cache(args.cache_from, config)
        print(f"[bookmachine] --cache-from: {merged['imported']} results merged into the local cache, "
              f"{merged['present']} already there, {len(merged['rejected'])} rejected"
              + "".join(f"\n[bookmachine]   rejected {line} (runs here)" for line in merged["rejected"]))
    started = time.perf_counter()
    book = prepare(config, workers=args.jobs)  # fails here, before Sphinx, on bad input
    stats = book.stats
    print(f"[bookmachine] executed {stats['kernels_started']} of {stats['notebooks']} notebooks "
          f"({stats['cached']} cached) in {time.perf_counter() - started:.1f} s", flush=True)
    manifest = write_manifest(book)
    staged = config.staging_dir / "_build"  # Jupyter Book writes html/ and .doctrees/ here
    export_notebooks(book, staged / "notebooks")
    env = dict(os.environ, **{SKIP_ENV: ",".join(sorted(config.skip)), PREPARED_ENV: str(manifest)})
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(config.root), "--path-output", str(config.staging_dir),
               "-W", "-n", "--keep-going"]
    succeeded = False
    try:
        succeeded = subprocess.run(command, env=env).returncode == 0
    finally:
        if not succeeded:
            # Sphinx saves its environment beside the staged site and would count the
            # pages that failed as up to date next time, then publish them: forget it,
            # so that the next build reads every page again.
            shutil.rmtree(staged / ".doctrees", ignore_errors=True)
    if not succeeded:
        print("[bookmachine] the site build failed: fix the warnings above (every Sphinx warning is an "
              "error here); _build/html and _build/notebooks are unchanged", file=sys.stderr)
        return 1
    # A copy inside the site, so "Download .ipynb" works wherever the site is served.
    shutil.rmtree(staged / "html" / DOWNLOAD_DIR, ignore_errors=True)
    shutil.copytree(staged / "notebooks", staged / "html" / DOWNLOAD_DIR)
    # The last PDFs too, so the header's PDF link never breaks; `bookmachine pdf` renews them.
    if config.pdf_dir.is_dir():
        shutil.copytree(config.pdf_dir, staged / "html" / pdf.SITE_DIR, dirs_exist_ok=True)
    _publish(staged / "html", config.html_dir)
    _publish(staged / "notebooks", config.notebooks_dir)
    print(f"[bookmachine] site: {config.html_dir / 'index.html'}; notebooks: {config.notebooks_dir}")
    return 0


def execute_only(args) -> int:
    """Run some frameworks' notebooks into the cache (and ``--cache-out``); no site, no Sphinx."""
    config = book_config.load(args.root, skip="")
    wanted = [key.strip() for key in args.frameworks.split(",") if key.strip()]
    unknown = sorted(set(wanted) - set(config.keys))
    if not wanted or unknown:
        raise BookError(f"--frameworks: unknown framework(s) {unknown or wanted}; known: {', '.join(config.keys)}")
    config = dataclasses.replace(config, skip=frozenset(config.keys) - set(wanted))
    kernels.check(config)
    started = time.perf_counter()
    book = prepare(config, workers=args.jobs, cache_out=args.cache_out)
    stats = book.stats
    where = f"; results in {args.cache_out}" if args.cache_out else ""
    print(f"[bookmachine] executed {stats['kernels_started']} of {stats['notebooks']} notebooks "
          f"({stats['cached']} cached) of {', '.join(wanted)} in {time.perf_counter() - started:.1f} s{where}")
    return 0


def check(args) -> int:
    """Execute and merge the given sources without building the site (for authors)."""
    config = book_config.load(args.root, skip=args.skip)
    kernels.check(config)
    book = prepare(config, paths=args.sources or None)
    write_manifest(book)
    with tempfile.TemporaryDirectory() as scratch:
        export_notebooks(book, Path(scratch) / "notebooks")  # proves the export works too
    for docname in book.pages:
        print(f"[bookmachine] ok: {docname} -> {config.merged_dir / docname}.md")
    print(f"[bookmachine] {book.stats}")
    return 0


def list_claims(args) -> int:
    """Each page's checked claims and the frameworks whose checks prove them (no kernel runs)."""
    config = book_config.load(args.root, skip="")
    sources = [split.read_source(path, config.root, config.keys) for path in toc_files(config.root)]
    print(claims.listing(sources, config.keys))
    return 0


def notebooks(args) -> int:
    """Write every framework's notebooks into DIR, from the build's cache."""
    config = book_config.load(args.root)
    target = Path(args.dir)
    if target.exists() and any(target.iterdir()):
        raise BookError("exists and is not empty: give a new or empty folder", path=target)
    kernels.check(config)
    book = prepare(config)  # after `make book` everything is cached: no kernel starts
    written = export_notebooks(book, Path(args.dir), without_solutions=args.without_solutions)
    kind = "without solutions" if args.without_solutions else "with solutions"
    print(f"[bookmachine] {len(written)} notebooks {kind} in {args.dir} "
          f"(ran {book.stats['kernels_started']} of {book.stats['notebooks']})")
    return 0


def install_kernels(args) -> int:
    config = book_config.load(args.root, skip="")
    for name in kernels.install(config):
        print(f"[bookmachine] kernel {name} installed")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bookmachine", description=__doc__)
    parser.add_argument("--root", default=".", help="the book's root folder (default: .)")
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="execute, merge and build site and notebooks")
    build_parser.add_argument("--skip", default=None,
                              help="comma-separated frameworks not to build (default: $BOOKMACHINE_SKIP)")
    build_parser.add_argument("--jobs", type=int, default=None,
                              help="notebooks run at once (default: $BOOKMACHINE_JOBS, else two per core, bounded by memory)")
    build_parser.add_argument("--cache-from", nargs="+", metavar="DIR", default=[],
                              help="folders of executed results from other machines (`execute --cache-out`) "
                                   "to merge into the local cache first")
    build_parser.set_defaults(run=build)
    execute_parser = commands.add_parser("execute", help="run only some frameworks' notebooks into the "
                                         "cache, no site (one CI job per framework)")
    execute_parser.add_argument("--frameworks", required=True, metavar="KEY[,KEY...]",
                                help="the frameworks whose notebooks to run")
    execute_parser.add_argument("--cache-out", type=Path, default=None, metavar="DIR",
                                help="also copy these notebooks' results into DIR (for `build --cache-from`)")
    execute_parser.add_argument("--jobs", type=int, default=None, help="notebooks run at once")
    execute_parser.set_defaults(run=execute_only)
    check_parser = commands.add_parser("check", help="execute and merge sources, no site")
    check_parser.add_argument("sources", nargs="*", help="source files (default: every page)")
    check_parser.add_argument("--skip", default=None, help="frameworks not to run")
    check_parser.set_defaults(run=check)
    commands.add_parser("kernels", help="install one kernel per framework").set_defaults(run=install_kernels)
    notebooks_parser = commands.add_parser("notebooks", help="write every framework's notebooks into DIR")
    notebooks_parser.add_argument("dir", help="the folder to write (replaced whole)")
    notebooks_parser.add_argument("--without-solutions", action="store_true",
                                  help="leave out every solution cell (for students); answer and "
                                  "check cells stay")
    notebooks_parser.set_defaults(run=notebooks)
    commands.add_parser("claims", help="list each page's checked claims and the frameworks that "
                        "check them").set_defaults(run=list_claims)
    branch_parser = commands.add_parser("notebooks-branch", help="lay out the notebooks branch's tree in DIR")
    branch_parser.add_argument("dir", help="a new or empty folder")
    branch_parser.set_defaults(run=publish.command)
    pdf_parser = commands.add_parser("pdf", help="after build: print the chapter once per framework "
                                     "into _build/pdf/<framework>.pdf (and the site's _pdf/)")
    pdf_parser.add_argument("--chromium", default=pdf.CHROMIUM, help=f"the browser (default: {pdf.CHROMIUM})")
    pdf_parser.set_defaults(run=pdf.command)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except BookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (Interrupted, KeyboardInterrupt):
        print("error: interrupted (Ctrl-C). Every kernel was stopped; _build/html and "
              "_build/notebooks are unchanged. Run the command again to finish", file=sys.stderr)
        return 130
