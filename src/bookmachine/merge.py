"""Stage 4b: merge the executed per-framework notebooks into one MyST page.

The page is plain MyST markdown: shared prose stays as written, every tab
group becomes a synced sphinx-design tab-set whose panels hold each
framework's prose, code and executed output, and solutions sit in closed
dropdowns. Sphinx reads this text in place of the source (see
``sphinx_extension``); nothing on the page is executed again.
"""

from __future__ import annotations

import base64
import html
import re

from . import launch
from .config import BookConfig
from .errors import BookError
from .job import Job, strip_ansi
from .split import Cell, Source, has_code
from .tabs import Shared, Solution, TabGroup, directive, dropdown, fence, group, tab_set

H1 = re.compile(r"^# .+$", re.M)
TRUNCATED_LINES = 5  # of each text output of a `truncate-output` cell, on the site
# A message about a file of an installed package names the folders of the machine
# that built the book (/home/runner/work/.../.venv/lib/python3.11/site-packages/flax/...).
# The site shows the path from `site-packages/` on; the notebooks keep it as it ran.
INSTALLED_FILE = re.compile(r"(?:/[^\s'\"():]+)*/site-packages/")


def shorten_installed_paths(text: str) -> str:
    return INSTALLED_FILE.sub("…/site-packages/", text)


class PageRenderer:
    def __init__(self, source: Source, jobs: dict[str, Job], config: BookConfig):
        self.source, self.jobs, self.config = source, jobs, config
        # (framework, source cell index) -> that cell's outputs
        self.outputs = {}
        for key, job in jobs.items():
            if job.outputs:
                for cell, result in zip(job.code_cells, job.outputs[1:]):
                    self.outputs[key, cell.index] = result["outputs"]

    def render(self) -> str:
        blocks = group(self.source, self.config.keys)
        first = blocks[0] if blocks else None
        if not (isinstance(first, Shared) and first.cell.kind == "markdown" and H1.search(first.cell.source)):
            raise BookError("a page must open with a shared markdown cell holding its '# Title'",
                            path=self.source.path, cell=1)
        parts = [self._render_block(block) for block in blocks]
        if any(has_code(self.source, key) for key in self.config.keys):
            title = H1.search(parts[0])
            parts[0] = parts[0][:title.end()] + "\n\n" + self.launch_bar() + parts[0][title.end():]
        return "\n".join(parts)

    # --- blocks ---------------------------------------------------------------
    def _render_block(self, block) -> str:
        if isinstance(block, Solution):
            return dropdown("Solution", "\n".join(self._render_block(b) for b in block.blocks))
        if isinstance(block, TabGroup):
            return tab_set([(fw.key, fw.label, self._panel(fw, block.cells[fw.key]))
                            for fw in self.config.frameworks])
        cell = block.cell
        if cell.kind == "markdown":
            return cell.source.strip() + "\n"
        return self._shared_code(cell)

    def _shared_code(self, cell: Cell) -> str:
        built = [fw for fw in self.config.built]
        results = [self.outputs.get((fw.key, cell.index), []) for fw in built]
        if all(r == results[0] for r in results):
            return self._code(cell, results[0] if results else None)
        return tab_set([(fw.key, fw.label, self._code(cell, self.outputs.get((fw.key, cell.index))))
                        for fw in self.config.frameworks])

    def _panel(self, fw, cells: list[Cell]) -> str:
        parts = []
        if fw.key in self.config.skip and any(c.kind == "code" for c in cells):
            parts.append(directive("note", "", f"The {fw.label} outputs were not built: this build "
                                   f"skipped {fw.label} (BOOKMACHINE_SKIP={fw.key})."))
        for cell in cells:
            if cell.has("no-example"):
                text = cell.source.strip() or f"This example has no {fw.label} version."
                parts.append(directive("note", f"No {fw.label} version", text))
            elif cell.kind == "markdown":
                parts.append(cell.source.strip() + "\n")
            else:
                parts.append(self._code(cell, self.outputs.get((fw.key, cell.index))))
        return "\n".join(parts)

    # --- cells ----------------------------------------------------------------
    def _code(self, cell: Cell, outputs) -> str:
        source = cell.source.rstrip("\n")
        marks = fence(source)
        parts = [f"{marks}{{code-block}} python\n{source}\n{marks}\n"]
        rendered = [self._output(o, cell.has("truncate-output"), cell.has("wrap-output"))
                    for o in (outputs or [])]
        rendered = [r for r in rendered if r]
        if rendered:
            parts.append(directive("container", "cell-output", "\n".join(rendered)))
        return directive("container", "cell", "\n".join(parts))

    def _output(self, output, truncate: bool = False, wrap: bool = False) -> str:
        kind = output.get("output_type")
        if kind == "stream":
            css = f"output stream {output['name']}" + (" output-wrap" if wrap else "")
            return self._text(output["text"], css, truncate)
        if kind == "error":
            return self._text("\n".join(output["traceback"]), "output traceback", truncate)
        data = output.get("data", {})
        for mime in ("image/svg+xml", "image/png"):
            if mime in data:
                payload = data[mime] if mime == "image/svg+xml" else data[mime].strip()
                if mime == "image/svg+xml":
                    payload = base64.b64encode(payload.encode()).decode()
                return self._raw(f'<img class="output-image" alt="{html.escape(self._alt(data))}" '
                                 f'src="data:{mime};base64,{payload}">')
        if "text/html" in data:
            return self._raw(data["text/html"])
        if "text/plain" in data:
            return self._text(data["text/plain"], "output text_plain", truncate)
        return ""

    @staticmethod
    def _alt(data: dict) -> str:
        """A figure's alt text: its text form, one line per item, if it has a useful one."""
        lines = [" ".join(line.split()) for line in data.get("text/plain", "").splitlines() if line.strip()]
        if not lines or lines[0].startswith("<"):  # "<Figure size ...>" says nothing of the picture
            return "A figure drawn by the cell (no text form given)"
        if lines[0].endswith(":") and len(lines) > 1:  # a title line, then the items
            return lines[0] + " " + "; ".join(lines[1:])
        return "; ".join(lines)

    @staticmethod
    def _text(text: str, css: str, truncate: bool = False) -> str:
        text = shorten_installed_paths(strip_ansi(text)).rstrip("\n")
        if not text:
            return ""
        lines = text.split("\n")
        if truncate and len(lines) > TRUNCATED_LINES + 1:  # a note never replaces a single line
            cut = len(lines) - TRUNCATED_LINES
            text = "\n".join(lines[:TRUNCATED_LINES] + [f"[{cut} more lines: the notebook shows them all]"])
        marks = fence(text)
        return f"{marks}{{code-block}} none\n:class: {css}\n\n{text}\n{marks}\n"

    @staticmethod
    def _raw(markup: str) -> str:
        marks = fence(markup)
        return f"{marks}{{raw}} html\n{markup}\n{marks}\n"

    # --- launch bar -------------------------------------------------------------
    def launch_bar(self) -> str:
        """Per framework: where to run this page's notebook (a page without code has no bar)."""
        panels = []
        for fw in self.config.frameworks:
            docname = self.source.docname
            if not has_code(self.source, fw.key):
                body = self._raw(f'<div class="launch-links" data-framework="{fw.key}"><span class='
                                 f'"launch-note">This page has no {html.escape(fw.label)} code, '
                                 'so it has no notebook.</span></div>')
                panels.append((fw.key, fw.label, body))
                continue
            links = launch.launch_links(self.config, fw, docname)
            items = [f'<a class="launch-link" data-service="{service}" '
                     f'href="{html.escape(url)}">{html.escape(label)}</a>' for service, label, url in links]
            if fw.key in self.config.skip:
                items.append('<span class="launch-note">This framework\'s notebook was not built.</span>')
            else:
                href = launch.download_href(fw, docname)
                items.append(f'<a class="launch-link" data-service="download" href="{href}" '
                             f'download>Download .ipynb</a>')
            if fw.note:
                note = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(fw.note))
                items.append(f'<span class="launch-note">{note}</span>')
            body = self._raw(f'<div class="launch-links" data-framework="{fw.key}">'
                             + " ".join(items) + "</div>")
            panels.append((fw.key, fw.label, body))
        return tab_set(panels, css_class="launch-bar")
