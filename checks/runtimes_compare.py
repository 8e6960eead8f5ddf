"""Comparing a run with the site: failed cells, outputs that differ, packages the set-up changed."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from runtimes_notebooks import setup_stopped

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Where an environment lives differs by machine, and messages name files in it
# (a warning's source line, "while tracing the function apply at ..."): those
# places, and the line they point at in a library (which moves between
# releases), are the only text compared loosely.
ENVIRONMENT_PATH = re.compile(r"/\S*?/site-packages/(\S*?\.py:\d+)?|/\S*?/ipykernel_\d+/\d+\.py(:\d+)?")
# What a machine without a GPU prints when a CUDA build loads (the GPU profile, run here):
# not what a reader on Colab's GPU runtime sees, and not compared.
NO_GPU_HERE = re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
                         r"STDERR\n|^I0000 [\d:. ]+cudart_stub\.cc:\d+\] Could not find cuda drivers on your "
                         r"machine, GPU will not be used\.\n", re.M)
# jax releases these in lockstep: one version among them, or jax does not run.
JAX_FAMILY = re.compile(r"jax|jaxlib|jax-cuda\d+-(plugin|pjrt)")
BOOK_PACKAGE = "layers-modules"


def same_anywhere(text: str) -> str:
    return ENVIRONMENT_PATH.sub(lambda m: "<environment>/" + re.sub(r":\d+$", ":<line>", m.group(1) or ""), text)


def visible(cell) -> list:
    """A cell's outputs as a reader reads them: text, result reprs, errors (not tracebacks);
    the folders of the environment they ran in left out."""
    shown = []
    for output in cell.get("outputs", []):
        kind = output["output_type"]
        if kind == "stream":
            text = NO_GPU_HERE.sub("", output["text"]) if output["name"] == "stderr" else output["text"]
            if not text:
                continue
            if shown and shown[-1][0] == output["name"]:  # chunking of a stream is not output
                shown[-1] = (output["name"], shown[-1][1] + same_anywhere(text))
            else:
                shown.append((output["name"], same_anywhere(text)))
        elif kind in ("execute_result", "display_data"):
            shown.append(("data", same_anywhere(output["data"].get("text/plain", "")), sorted(output["data"])))
        elif kind == "error":
            shown.append(("error", output["ename"], same_anywhere(ANSI.sub("", output["evalue"]))))
    return shown


def difference(expected: list, got: list) -> str:
    """Where two cells' visible outputs first part, in one line."""
    def text(shown):
        return "\n".join(str(part) for part in shown[1:])

    for want, have in itertools.zip_longest(expected, got):
        if want == have:
            continue
        if want is None:
            return f"an extra {have[0]} output: {text(have)[:120]!r}"
        if have is None:
            return f"no {want[0]} output (the site has {text(want)[:120]!r})"
        if want[0] != have[0]:
            return f"{have[0]} output {text(have)[:120]!r} where the site has {want[0]}"
        site, here = next((a, b) for a, b in itertools.zip_longest(
            text(want).splitlines(), text(have).splitlines(), fillvalue="") if a != b)
        return f"{want[0]}: the site has {site.strip()[:100]!r}, here {here.strip()[:100]!r}"
    return "the same"


@dataclass
class Result:
    notebooks: int = 0
    clean: int = 0
    stopped: int = 0  # set-up cells that stopped (with their one-line advice)
    failed: list[str] = field(default_factory=list)  # "page cell N: Error: message"
    differ: list[str] = field(default_factory=list)
    setup_lines: list[str] = field(default_factory=list)
    versions: str = ""
    changed: list[str] = field(default_factory=list)  # what the set-up cell changed: "flax 0.11.2->0.12.0"
    kept_wrongly: list[str] = field(default_factory=list)  # changes to what the runtime had in range
    family: str = ""  # the jax family, when its versions disagree


def compare(name: str, site, ran, result: Result) -> None:
    clean = True
    for index, (expected, got) in enumerate(zip(site.cells, ran.cells)):
        if got.cell_type != "code":
            continue
        tags = set(got.metadata.get("tags", []))
        errors = [o for o in got.outputs if o.get("output_type") == "error"]
        if index == 0:
            result.setup_lines += [line for o in got.outputs if o.get("output_type") == "stream"
                                   for line in o["text"].splitlines() if line.startswith("Set-up")]
            if setup_stopped(got):
                result.stopped += 1
                result.setup_lines.append(f"Set-up stopped: {errors[0]['evalue']}")
                return
        if errors and "raises-exception" not in tags:
            clean = False
            error = errors[0]
            result.failed.append(f"{name} cell {index}: {error['ename']}: {ANSI.sub('', error['evalue'])[:160]}")
        elif index and not tags & {"nbval-ignore-output", "nbval-skip"} and visible(expected) != visible(got):
            result.differ.append(f"{name} cell {index}: {difference(visible(expected), visible(got))}")
    result.clean += clean


def release(version: str) -> tuple:
    return tuple(int(n) for n in re.findall(r"\d+", version.split("+")[0]))


def package_changes(before: dict, after: dict, too_old: set, result: Result) -> None:
    """What the set-up cell changed, and whether it may have: only this book's package, a
    framework the runtime lacked, and what was older than ``requires`` may move; the jax
    family must agree."""
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        result.changed.append(f"{name} {old or 'new'}->{new or 'removed'}" if old else
                              (name if name == BOOK_PACKAGE else f"{name} {new} (new)"))
        if old and name not in too_old:
            result.kept_wrongly.append(f"{name} {old}->{new or 'removed'}")
    family = {name: version for name, version in after.items() if JAX_FAMILY.fullmatch(name)}
    if len({release(v) for v in family.values()}) > 1:
        result.family = ", ".join(f"{n} {v}" for n, v in sorted(family.items()))


def changes_shown(result: Result, limit: int = 4) -> str:
    """The set-up cell's changes for the table: the book's package, moves, then what was new."""
    moved = [c for c in result.changed if "->" in c or c == BOOK_PACKAGE]
    new = [c for c in result.changed if c not in moved]
    shown = moved + new[:limit]
    return ", ".join(shown) + (f" +{len(new) - limit} new" if len(new) > limit else "") or "nothing"


def table(rows) -> str:
    head = ("profile", "framework", "Python", "notebooks clean", "cells failed", "outputs differ",
            "the set-up cell changed", "after the set-up cell")
    lines = [head]
    for profile, python, key, result in rows:
        if isinstance(result, str):  # why it was skipped
            lines.append((profile.name, key, python, "skipped", "", "", "", result))
            continue
        clean = f"{result.clean}/{result.notebooks}"
        if result.stopped:
            clean = f"set-up stops in {result.stopped}/{result.notebooks}" + (
                " (expected)" if profile.expect == "stop" else "")
        lines.append((profile.name, key, python, clean, str(len(result.failed)), str(len(result.differ)),
                      changes_shown(result), result.versions))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    out = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def failures(profile, result: Result) -> list[str]:
    problems = list(result.failed)
    if profile.expect == "stop" and result.stopped < result.notebooks:
        problems.append(f"{result.notebooks - result.stopped} set-up cell(s) ran on although the "
                        "profile expects them to stop")
    if profile.expect == "run" and result.stopped:
        problems.append(f"{result.stopped} set-up cell(s) stopped: {result.setup_lines[-1]}")
    if result.kept_wrongly:
        problems.append("the set-up cell changed what the runtime had within range: "
                        + ", ".join(result.kept_wrongly))
    if result.family:
        problems.append(f"the jax family's versions disagree: {result.family}")
    return problems
