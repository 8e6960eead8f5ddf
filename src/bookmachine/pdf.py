"""Stage 9, after the site: the whole chapter as one PDF per framework.

``python -m bookmachine pdf`` serves the built ``_build/html`` on 127.0.0.1
(every other host is refused: the PDFs are made offline), opens each page of
``_toc.yml`` in headless Chromium once per framework (``?framework=KEY``),
opens the solutions, waits for MathJax, the fonts and the images, and prints
the page with the site's own print stylesheet (``static/bookmachine.css``:
that framework's tabs only, no launch links, no reading controls). The pages
are merged in ``_toc.yml`` order into ``_build/pdf/<key>.pdf`` after a contents
page (parts, chapters and sections, each with the page it starts on; every sheet
after it carries its number at the foot), with an
outline that follows the same tree (Jupyter Book's numbers included), and copied
into the site as ``_pdf/<key>.pdf``, where the header's PDF link points.

Each page x framework is cached under ``_build/.bookmachine/pdf`` by a digest
of the page's HTML, of the files it loads (stylesheets, scripts, images) and
of this module (the contents page by its own HTML), so a run after a build
that changed nothing prints nothing;
it still copies the PDFs into the site, which the build replaces wholesale.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import re
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

from . import config as book_config
from .config import BookConfig, Framework
from .errors import BookError
from .pipeline import toc_files
from .toc import TocEntry, toc_tree

CHROMIUM = "/usr/bin/chromium"  # Debian's, as the browser tests use (`make browser`)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
SITE_DIR = "_pdf"  # the copy inside the site: _build/html/_pdf/<key>.pdf
TIMEOUT_MS = 60_000
PAPER = {"format": "A4", "margin": {"top": "16mm", "bottom": "14mm", "left": "14mm", "right": "14mm"}}

# Run in the page before printing: what a reader would do first (open every
# solution) and what the printer must wait for (math, fonts, images).
PREPARE_PAGE = """async () => {
    document.querySelectorAll('details').forEach(d => { d.open = true; });
    document.querySelectorAll('img[loading="lazy"]').forEach(img => { img.loading = 'eager'; });
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
    await document.fonts.ready;
    await Promise.all([...document.images].map(img => img.decode().catch(() => null)));
    return {
        broken: [...document.images].filter(img => !img.naturalWidth).map(img => img.currentSrc || img.src),
        untypeset: [...document.querySelectorAll('.math')].filter(m => !m.querySelector('mjx-container'))
            .map(m => m.textContent.slice(0, 60)),
    };
}"""


VERSION_QUERY = re.compile(r"""\?v=[0-9a-f]+(?=["'])""")


@dataclass(frozen=True)
class PagePrint:
    """One page of the chapter printed for one framework."""
    docname: str
    title: str
    framework: Framework
    digest: str
    cached: Path  # where the printed page is kept

    @property
    def where(self) -> str:
        return f"{self.docname}.html"


class _PageFacts(HTMLParser):
    """The first <h1>'s text, and every file the page loads from the site."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title, self.loads = "", []
        self.number = ""  # Jupyter Book's number of the page ("2.3. "), when the book is numbered
        self._in_h1 = self._done_h1 = self._in_number = False
        self._skip = 0  # inside the heading's "#" link

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img") and attrs.get("src"):
            self.loads.append(attrs["src"])
        elif tag == "link" and "stylesheet" in (attrs.get("rel") or "") and attrs.get("href"):
            self.loads.append(attrs["href"])
        elif tag == "h1":
            self._in_h1 = True
        elif tag == "a" and self._in_h1 and "headerlink" in (attrs.get("class") or ""):
            self._skip += 1
        elif tag == "span" and self._in_h1 and "section-number" in (attrs.get("class") or "") \
                and not self.number:
            self._in_number = True

    def handle_endtag(self, tag):
        if tag == "h1" and self._in_h1:
            self._in_h1, self._done_h1 = False, True
        elif tag == "a" and self._skip:
            self._skip -= 1
        elif tag == "span" and self._in_number:
            self._in_number = False

    def handle_data(self, data):
        if self._in_number:
            self.number += data
        elif self._in_h1 and not self._skip and not self._done_h1:
            self.title += data


class _Digests:
    """Digests of the site's files, each read once per run."""

    def __init__(self, html: Path):
        self.html = html
        self.files: dict[Path, str] = {}
        self.machine = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()

    def file(self, path: Path) -> str:
        if path not in self.files:
            self.files[path] = hashlib.sha256(path.read_bytes()).hexdigest()
        return self.files[path]

    def page(self, docname: str) -> tuple[str, str]:
        """(title, digest) of a built page: its HTML, what it loads, how it is printed."""
        path = self.html / f"{docname}.html"
        if not path.is_file():
            raise BookError("not in the built site: run `python -m bookmachine build` first", path=path)
        text = path.read_text(encoding="utf-8")
        facts = _PageFacts()
        facts.feed(text)
        # Sphinx adds "?v=CHECKSUM" to a static file's link only once the file exists, so a
        # page written again after a cold build differs by that alone; the file's own digest
        # is counted below.
        digest = hashlib.sha256(self.machine.encode() + VERSION_QUERY.sub("", text).encode())
        base = f"http://site/{docname}.html"
        for ref in facts.loads:
            url = urlparse(urljoin(base, ref))
            if url.hostname != "site":
                continue  # not the site's (data: URIs are part of the HTML already)
            local = self.html / url.path.lstrip("/")
            if local.is_file():
                digest.update(local.relative_to(self.html).as_posix().encode() + self.file(local).encode())
        number = " ".join(facts.number.split())
        return " ".join(f"{number} {facts.title}".split()), digest.hexdigest()


def plan(config: BookConfig, html: Path) -> list[PagePrint]:
    """Every page x framework of the chapter, in print order, with its cache entry."""
    docnames = [p.relative_to(config.root).with_suffix("").as_posix() for p in toc_files(config.root)]
    digests = _Digests(html)
    pages = [(docname, *digests.page(docname)) for docname in docnames]
    cache = config.cache_dir / "pdf"
    return [PagePrint(docname, title, fw, digest, cache / fw.key / f"{digest}.pdf")
            for fw in config.frameworks for docname, title, digest in pages]


@contextmanager
def serve_site(html: Path):
    """The built site on 127.0.0.1, on a free port, for as long as the block runs."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(html)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def print_pages(prints: list[PagePrint], html: Path, chromium: str = CHROMIUM) -> None:
    """Print each page of ``prints`` to its cache entry with headless Chromium."""
    if not prints:
        return
    if not Path(chromium).exists():
        raise BookError("Chromium is needed to print the PDFs: install it with `make browser` "
                        "(Debian's chromium)", path=chromium)
    from playwright.sync_api import sync_playwright

    with serve_site(html) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            for fw in dict.fromkeys(p.framework for p in prints):
                _print_framework(browser, server, [p for p in prints if p.framework == fw])
        finally:
            browser.close()


def _print_framework(browser, server: str, prints: list[PagePrint]) -> None:
    # A fresh context per framework: no stored choice, compare mode off, light colours.
    context = browser.new_context(color_scheme="light")
    context.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []

    def route(r):
        if urlparse(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:  # the site must read offline, and so must its PDF
            problems.append(f"tried to reach {r.request.url}")
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    try:
        for item in prints:
            fw = item.framework
            response = page.goto(f"{server}{item.docname}.html?framework={fw.key}", wait_until="load")
            if response is None or not response.ok:
                raise BookError(f"could not open the page ({response and response.status})",
                                path=item.where, framework=fw.key)
            state = page.evaluate(PREPARE_PAGE)
            problems += [f"image did not load: {src}" for src in state["broken"]]
            problems += [f"math not typeset: {tex}" for tex in state["untypeset"]]
            if problems:
                raise BookError("cannot print it: " + "; ".join(problems), path=item.where,
                                framework=fw.key)
            item.cached.parent.mkdir(parents=True, exist_ok=True)
            partial = item.cached.with_suffix(".part")
            page.pdf(path=str(partial), print_background=True, display_header_footer=True,
                     header_template=_running_head(fw), footer_template="<span></span>", **PAPER)
            partial.replace(item.cached)
    finally:
        context.close()


def _running_head(fw: Framework) -> str:
    # Chromium fills class="title" with the page's title; the size must be given.
    from html import escape
    return ('<div style="font-size:7pt;color:#666;width:100%;margin:0 14mm;display:flex;'
            'justify-content:space-between"><span class="title"></span>'
            f'<span>{escape(fw.label)}</span></div>')


def _starts(prints: list[PagePrint], first: int) -> dict[str, int]:
    """docname -> its first sheet (0-based) in the merged PDF, after ``first`` sheets of contents."""
    from pypdf import PdfReader

    starts, at = {}, first
    for item in prints:
        starts[item.docname] = at
        at += len(PdfReader(item.cached).pages)
    return starts


def _first_page(entry: TocEntry) -> str | None:
    return next((e.docname for e in entry.walk() if e.docname), None)


def contents_html(title: str, fw: Framework, tree: list[TocEntry], prints: list[PagePrint], sheets: int) -> str:
    """The contents page: parts, chapters and sections, each with the PDF page it starts on
    (the contents taking ``sheets`` pages first)."""
    from html import escape

    titles = {p.docname: p.title for p in prints}
    starts = _starts(prints, sheets)
    rows = []

    def add(entry: TocEntry, depth: int):
        docname = entry.docname or _first_page(entry)
        if docname in starts:
            text = entry.caption if entry.kind == "part" else titles[docname]
            rows.append(f'<li class="{entry.kind}" style="margin-left:{depth * 1.6}em"><span>{escape(text)}</span>'
                        f'<i></i><b>{starts[docname] + 1}</b></li>')
        for child in entry.children:
            add(child, depth + 1)

    for entry in tree:
        add(entry, 0)
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Contents</title><style>
body {{ font: 11pt/1.5 system-ui, sans-serif; color: #222; }}
h1 {{ font-size: 20pt; margin: 0 0 .2em; }} p {{ color: #555; margin: 0 0 1.5em; }}
h2 {{ font-size: 14pt; margin: 0 0 .6em; }} ul {{ list-style: none; padding: 0; margin: 0; }}
li {{ display: flex; align-items: baseline; break-inside: avoid; }}
li i {{ flex: 1; border-bottom: 1px dotted #999; margin: 0 .4em; }}
li.part {{ font-weight: bold; margin-top: .8em; font-size: 12pt; }} li.root, li.chapter {{ font-weight: 600; }}
li.chapter {{ margin-top: .3em; }}
</style></head><body><h1>{escape(title)}</h1><p>{escape(fw.label)}</p><h2>Contents</h2><ul>
{chr(10).join(rows)}
</ul></body></html>"""


def _sheets(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


def merge(prints: list[PagePrint], target: Path, title: str, tree: list[TocEntry] | None = None,
          contents: Path | None = None, numbers: Path | None = None) -> None:
    """One framework's printed pages, in order, after the contents page, each sheet after it
    numbered at its foot (the numbers the contents give); the outline follows the book's tree
    (parts, chapters, sections), one entry per page."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    if contents is not None:
        writer.append(str(contents), import_outline=False)
        writer.add_outline_item("Contents", 0)
    front = len(writer.pages)
    starts = {}
    for item in prints:
        starts[item.docname] = len(writer.pages)
        writer.append(str(item.cached), import_outline=False)
    if numbers is not None:
        stamps = PdfReader(numbers).pages
        for sheet in range(front, len(writer.pages)):
            writer.pages[sheet].merge_page(stamps[sheet])
    titles = {p.docname: p.title for p in prints}

    def add(entry: TocEntry, parent):
        docname = entry.docname or _first_page(entry)
        if docname not in starts:
            return
        text = entry.caption if entry.kind == "part" else titles[docname]
        mark = writer.add_outline_item(text, starts[docname], parent=parent)
        for child in entry.children:
            add(child, mark)

    for entry in tree if tree is not None else [TocEntry("chapter", p.docname) for p in prints]:
        add(entry, None)
    writer.add_metadata({"/Title": title, "/Creator": "bookmachine pdf (headless Chromium)"})
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    with partial.open("wb") as out:
        writer.write(out)
    partial.replace(target)


def _contents_cached(cache: Path, html: str, machine: str) -> Path:
    return cache / f"{hashlib.sha256((machine + html).encode()).hexdigest()}.pdf"


def make_contents(config: BookConfig, prints: list[PagePrint], tree: list[TocEntry],
                  browser: "_Browser") -> tuple[dict, int]:
    """framework key -> its printed contents page (cached by its HTML), and how many were printed.

    Its page numbers count its own sheets: guessed as 1, printed again if it took more."""
    from pypdf import PdfReader

    machine = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    cache = config.cache_dir / "pdf"
    found, printed = {}, 0
    for fw in config.frameworks:
        own = [p for p in prints if p.framework == fw]
        sheets = 1
        for _ in range(4):
            html = contents_html(config.title, fw, tree, own, sheets)
            path = _contents_cached(cache / fw.key, html, machine)
            if not path.is_file():
                browser.print_html(html, path)
                printed += 1
            count = len(PdfReader(path).pages)
            if count == sheets:
                break
            sheets = count
        found[fw.key] = path
    return found, printed


def numbers_html(count: int) -> str:
    """``count`` blank A4 sheets, each with its number at the foot (stamped onto the book's sheets)."""
    sheets = "".join(f'<div class="sheet"><span>{n}</span></div>' for n in range(1, count + 1))
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><style>@page { size: A4; margin: 0; } "
            "body { margin: 0; } .sheet { height: 296mm; position: relative; overflow: hidden; "
            "break-after: page; } .sheet:last-child { break-after: auto; } .sheet span { position: absolute; "
            "bottom: 5mm; left: 0; right: 0; text-align: center; font: 8pt system-ui, sans-serif; "
            "color: #666; }</style></head><body>" + sheets + "</body></html>")


def make_numbers(config: BookConfig, count: int, browser: "_Browser") -> Path:
    """Sheets numbered 1 to ``count``, printed once and kept until the book's length changes."""
    from pypdf import PdfReader

    cache = config.cache_dir / "pdf"
    html = numbers_html(count)
    path = cache / f"numbers-{hashlib.sha256(html.encode() + Path(__file__).read_bytes()).hexdigest()[:16]}.pdf"
    if not path.is_file():
        browser.print_html(html, path, paper={"format": "A4", "margin": {s: "0" for s in
                                                                          ("top", "bottom", "left", "right")}})
        if len(PdfReader(path).pages) != count:
            path.unlink()
            raise BookError(f"printing {count} page numbers gave another number of sheets", path=path)
    for old in cache.glob("numbers-*.pdf"):
        if old != path:
            old.unlink()
    return path


class _Browser:
    """Headless Chromium for pages given as HTML text (contents, page numbers), started when
    first needed, so a run with everything cached starts none."""

    def __init__(self, chromium: str):
        self.chromium, self._playwright = chromium, None

    def print_html(self, html: str, path: Path, paper: dict = PAPER) -> None:
        if self._playwright is None:
            if not Path(self.chromium).exists():
                raise BookError("Chromium is needed to print the PDFs: install it with `make browser` "
                                "(Debian's chromium)", path=self.chromium)
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(executable_path=self.chromium, headless=True,
                                                             args=CHROMIUM_ARGS)
            self._page = self._browser.new_page()
        self._page.set_content(html, wait_until="load")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        self._page.pdf(path=str(partial), print_background=True, **paper)
        partial.replace(path)

    def close(self) -> None:
        if self._playwright is not None:
            self._browser.close()
            self._playwright.stop()


def make_pdfs(config: BookConfig, chromium: str = CHROMIUM) -> dict:
    """Print what changed, merge what changed, copy every PDF into the site."""
    html, out, cache = config.html_dir, config.pdf_dir, config.cache_dir / "pdf"
    if not (html / "index.html").is_file():
        raise BookError("no built site: run `python -m bookmachine build` first", path=html)
    prints = plan(config, html)
    tree = toc_tree(config.root)
    missing = [p for p in prints if not p.cached.is_file()]
    print_pages(missing, html, chromium)
    browser = _Browser(chromium)
    try:
        contents, contents_printed = make_contents(config, prints, tree, browser)
        sheets = max(_sheets(contents[fw.key]) + sum(_sheets(p.cached) for p in prints if p.framework == fw)
                     for fw in config.frameworks)
        numbers = make_numbers(config, sheets, browser)
    finally:
        browser.close()
    merged = []
    for fw in config.frameworks:
        own = [p for p in prints if p.framework == fw]
        target, record = out / f"{fw.key}.pdf", cache / f"{fw.key}.json"
        digests = [contents[fw.key].stem, numbers.stem] + [p.digest for p in own]
        if not (target.is_file() and record.is_file() and json.loads(record.read_text()) == digests):
            merge(own, target, f"{config.title} ({fw.label})".strip(), tree, contents[fw.key], numbers)
            record.write_text(json.dumps(digests))
            merged.append(fw.key)
        # Printed pages that no page needs any more.
        for old in (cache / fw.key).glob("*.pdf"):
            if old.stem not in digests:
                old.unlink()
    site_copy = html / SITE_DIR
    site_copy.mkdir(exist_ok=True)
    for fw in config.frameworks:
        shutil.copy2(out / f"{fw.key}.pdf", site_copy / f"{fw.key}.pdf")
    return {"pages": len(prints), "printed": len(missing), "merged": merged, "contents_printed": contents_printed}


def command(args) -> int:
    config = book_config.load(args.root, skip="")
    stats = make_pdfs(config, args.chromium)
    out = config.pdf_dir
    print(f"[bookmachine] PDF: printed {stats['printed']} of {stats['pages']} page x framework prints "
          f"({stats['pages'] - stats['printed']} cached), {stats['contents_printed']} contents pages; "
          f"merged {len(stats['merged'])}; "
          f"{out}/{{{','.join(config.keys)}}}.pdf, and in the site under {SITE_DIR}/")
    return 0
