"""The pages ``_toc.yml`` lists, in reading order.

Only forms the machine walks are accepted: ``root``, ``chapters`` /
``sections`` of ``file`` entries, ``parts`` with ``chapters``, and ``url``
entries (links, no page). A form it would not walk, such as ``glob``, is an
error: a page Sphinx reads but the machine never merged would come out raw,
every framework's cells mixed on one page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .config import read_yaml
from .errors import BookError

TOC_FILE = "_toc.yml"
ENTRY_KEYS = {"file", "url", "title", "numbered", "caption", "sections", "chapters", "parts", "options",
              "maxdepth", "titlesonly", "reversed", "hidden"}


def toc_files(root: Path) -> list[Path]:
    """Every page ``_toc.yml`` names, as a path to its ``.md`` source."""
    toc_path = Path(root) / TOC_FILE
    if not toc_path.exists():
        raise BookError("not found: the book needs a table of contents", path=toc_path)
    toc = read_yaml(toc_path)
    if not isinstance(toc, dict) or "root" not in toc:
        raise BookError("must be a mapping with a `root:` page (Jupyter Book's jb-book format)", path=toc_path)
    names = [toc["root"]]

    def walk(entries, where: str):
        if entries is None:
            return
        if not isinstance(entries, list):
            raise BookError(f"`{where}` must be a list of entries", path=toc_path)
        for entry in entries:
            if not isinstance(entry, dict):
                raise BookError(f"entry {entry!r} under `{where}` must be a mapping", path=toc_path)
            if "glob" in entry:
                raise BookError(f"`glob: {entry['glob']}` is not supported: the book machine must know "
                                "each page to split and merge it. List the pages as `file:` entries",
                                path=toc_path)
            unknown = set(entry) - ENTRY_KEYS
            if unknown:
                raise BookError(f"entry {entry!r} has keys the book machine does not know: "
                                f"{sorted(unknown)}. Use file, url, sections, chapters or parts",
                                path=toc_path)
            if "file" in entry:
                names.append(entry["file"])
            for key in ("sections", "chapters", "parts"):
                walk(entry.get(key), key)

    walk([{key: toc[key]} for key in ("chapters", "parts", "sections") if key in toc], "_toc.yml")
    paths = []
    for name in names:
        path = Path(root) / (name if name.endswith(".md") else f"{name}.md")
        if not path.exists():
            raise BookError(f"names '{name}', but {path.relative_to(root)} does not exist: "
                            "fix the entry or add the file", path=toc_path)
        paths.append(path)
    return paths


@dataclass
class TocEntry:
    """One entry of the book's tree: a part (a caption over chapters) or a page."""
    kind: str  # "root", "part", "chapter" or "section"
    docname: str | None = None  # None for a part
    caption: str = ""  # a part's caption
    children: list["TocEntry"] = field(default_factory=list)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


def _docname(name: str) -> str:
    return name[:-3] if name.endswith(".md") else name


def toc_tree(root: Path) -> list[TocEntry]:
    """The book's tree as ``_toc.yml`` gives it: the root page, then parts (``caption``) holding
    chapters, or chapters alone; each chapter holding its ``sections``. Its pages, walked in
    order, are ``toc_files``' pages."""
    toc_files(root)  # the same checks, with the same messages
    toc = read_yaml(Path(root) / TOC_FILE)

    def pages(entries, kind):
        found = []
        for entry in entries or []:
            if "file" in entry:
                found.append(TocEntry(kind, _docname(entry["file"]),
                                      children=pages(entry.get("sections"), "section")))
            elif "sections" in entry:  # sections without a page of their own
                found += pages(entry["sections"], kind)
        return found

    tree = [TocEntry("root", _docname(toc["root"]))]
    tree += pages(toc.get("chapters"), "chapter")
    for number, part in enumerate(toc.get("parts") or [], start=1):
        tree.append(TocEntry("part", caption=str(part.get("caption") or f"Part {number}"),
                             children=pages(part.get("chapters"), "chapter")))
    return tree
