"""Claims: sentences of the prose that hidden ``check`` cells prove, per framework.

A code cell tagged ``check`` asserts what a sentence above it says, in the
framework it is tagged with. Its first line quotes the sentence:

    # claim: two instances are two separate models

The quote must appear in a markdown cell above the check that the same
framework reads, so a reworded sentence breaks its check loudly instead of
leaving it to prove something else. A claim in prose that several frameworks
read must be checked in every one of them: a sentence true for only some of
them belongs in their own tabs. Checks run in the build like any other cell
(a failing one fails the build) and are shown nowhere: not on the site, not
in the PDFs, not in the readers' notebooks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import BookError
from .job import strip_ansi
from .split import Cell, Source, split

CHECK_TAG = "check"
CLAIM_LINE = re.compile(r"^#\s*claim:\s*(?P<quote>\S.*?)\s*$")
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def normalise(text: str) -> str:
    """Prose as a reader sees it: line breaks and runs of spaces are one space."""
    return " ".join(text.split())


@dataclass(frozen=True)
class Claim:
    check: Cell  # the check cell
    quote: str  # what its first line quotes
    prose: Cell  # the markdown cell holding the quote
    paragraph: str  # that cell's paragraph holding it

    @property
    def key(self) -> tuple[int, str]:
        return self.prose.index, normalise(self.quote)

    def opening(self, words: int = 8) -> str:
        """The paragraph's first words, to name it in messages and listings."""
        text = normalise(self.paragraph).split(" ")
        return " ".join(text[:words]) + (" …" if len(text) > words else "")


def backing(cells: list[Cell], check: Cell, *, path, framework: str) -> Claim:
    """The claim ``check`` backs, looked up in the markdown of ``cells`` (one framework's) above it."""
    first = check.source.lstrip("\n").split("\n", 1)[0]
    match = CLAIM_LINE.match(first)
    if not match:
        raise BookError("a check cell starts with '# claim: WORDS', quoting the sentence above it "
                        "that it proves", path=path, cell=check.index, framework=framework)
    quote = match["quote"]
    for cell in reversed(cells[:cells.index(check)]):
        if cell.kind != "markdown":
            continue
        for paragraph in PARAGRAPH_BREAK.split(cell.source):
            if normalise(quote) in normalise(paragraph):
                return Claim(check, quote, cell, paragraph)
    raise BookError(f"the check's claim {quote!r} is not in any prose above it that framework "
                    f"'{framework}' reads. Quote the sentence as it stands (line breaks may differ), "
                    "or move the check below it", path=path, cell=check.index, framework=framework)


def page_claims(source: Source, keys) -> list[tuple[Claim, list[str]]]:
    """Every claim of a page with the frameworks that check it, in page order.

    Raises BookError when a check quotes nothing above it, or when a claim is
    read by a framework that does not check it.
    """
    found: dict[tuple[int, str], tuple[Claim, list[str]]] = {}
    for key in keys:
        cells = split(source, key)
        for cell in cells:
            if cell.has(CHECK_TAG):
                claim = backing(cells, cell, path=source.path, framework=key)
                found.setdefault(claim.key, (claim, []))[1].append(key)
    for claim, frameworks in found.values():
        readers = [key for key in keys if claim.prose.belongs_to(key)]
        unchecked = [key for key in readers if key not in frameworks]
        if unchecked:
            raise BookError(
                f"the claim {claim.quote!r} is read in {', '.join(readers)} but checked only in "
                f"{', '.join(frameworks)}. Add a check cell for {', '.join(unchecked)}, or, if it is "
                "not true there, move the sentence into the other frameworks' own prose",
                path=source.path, cell=claim.prose.index, framework=unchecked[0])
    return sorted(found.values(), key=lambda item: (item[0].prose.index, item[0].check.index))


def failure_message(cells: list[Cell], check: Cell, error, *, path, framework) -> str:
    """What a failing check says: the line that failed, the error and the claim it backs."""
    claim = backing(cells, check, path=path, framework=framework.key)
    lines = check.source.split("\n")
    # IPython names the failing line of the cell as "Cell In[7], line 3".
    numbers = re.findall(r"Cell In\[\d+\], line (\d+)", strip_ansi(str(error)))
    failed = int(numbers[-1]) if numbers else None
    if failed and 0 < failed <= len(lines):
        where = f"{path.name}:{check.line + failed - 1}: {lines[failed - 1].strip()}"
    else:
        where = f"{path.name}:{check.line}"
    said = f"{getattr(error, 'ename', type(error).__name__)}: {getattr(error, 'evalue', error)}".rstrip(": ")
    return (f"check failed at {where}\n  {said}\n"
            f"It checks the claim {claim.quote!r} of the paragraph \"{claim.opening()}\" (cell "
            f"{claim.prose.index}). The claim is not true in {framework.label}: fix the prose "
            "(or move it into the other frameworks' tabs), or fix the check")


def listing(sources: list[Source], keys) -> str:
    """``python -m bookmachine claims``: per page, each checked paragraph and who checks it."""
    out = []
    for source in sources:
        claims = page_claims(source, keys)
        out.append(f"{source.docname} ({len(claims)} claims)")
        paragraphs: dict[tuple[int, str], list] = {}
        for claim, frameworks in claims:
            paragraphs.setdefault((claim.prose.index, claim.opening()), []).append((claim, frameworks))
        for (_, opening), entries in paragraphs.items():
            out.append(f"  \"{opening}\"")
            for claim, frameworks in entries:
                out.append(f"      {claim.quote!r}: {', '.join(frameworks)}")
    return "\n".join(out)
