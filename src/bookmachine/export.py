"""Stage 5: the standalone notebook a reader downloads or opens in Colab.

One notebook per source and framework: a set-up cell, then the framework's
cells with their executed outputs. Book-only markup (MyST directives and
roles that Jupyter cannot render) is turned into plain Markdown, and the
framework tags stay behind.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .config import BookConfig, Framework
from .errors import BookError
from .job import Job

PACKAGE = "layers_modules"  # the teaching package the notebooks import

# The set-up cell. It must run unchanged on Colab, Studio Lab and a local
# machine: there it installs nothing, and it never touches the frameworks,
# which the hosted services already ship (pinning them breaks those runtimes).
SETUP_TEMPLATE = '''\
# Set-up: on Colab or SageMaker Studio Lab, install this book's small package
# (never the frameworks: those services already have them). Locally: nothing.
import importlib.util, os, subprocess, sys
{env}
HOSTED = "google.colab" in sys.modules or os.path.isdir("/home/studio-lab-user")
if HOSTED and importlib.util.find_spec("{package}") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "{requirement}"], check=True)'''


def setup_cell(config: BookConfig, framework: Framework, ref: str) -> str:
    env = "\n".join(f'os.environ.setdefault("{k}", "{v}")' for k, v in framework.env.items())
    if env:
        env = "# Keep framework start-up logs out of the outputs.\n" + env
    url = config.repository_url.replace("https://", "")
    requirement = f"{PACKAGE.replace('_', '-')} @ git+https://{url}@{ref}"
    return SETUP_TEMPLATE.format(env=env, package=PACKAGE, requirement=requirement).replace("\n\n", "\n")


# --- MyST -> plain Jupyter Markdown ------------------------------------------

DIRECTIVE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*?)\n"
                       r"(?P<body>.*?)^(?P=fence)[ \t]*$", re.M | re.S)
ROLE = re.compile(r"\{(?P<name>[\w:-]+)\}`(?P<text>[^`]*)`")
TARGET = re.compile(r"^\([\w.:-]+\)=[ \t]*\n", re.M)
ADMONITIONS = {"note", "tip", "important", "warning", "caution", "hint", "attention", "seealso"}


class MarkdownExporter:
    """Rewrites the MyST a source uses into Markdown any notebook renders."""

    def __init__(self, source_dir: Path, citations: dict[str, "Citation"]):
        self.source_dir = source_dir
        self.citations = citations
        self.attachments = {}

    def convert(self, text: str, where: dict) -> str:
        self.where = where
        text = TARGET.sub("", text)
        text = DIRECTIVE.sub(self._directive, text)
        text = ROLE.sub(self._role, text)
        return text.strip()

    def _options(self, body: str) -> tuple[dict, str]:
        options, lines = {}, body.split("\n")
        while lines and lines[0].startswith(":") and ": " in lines[0][1:]:
            key, value = lines.pop(0)[1:].split(": ", 1)
            options[key.strip()] = value.strip()
        return options, "\n".join(lines).strip()

    def _directive(self, match) -> str:
        name, arg = match["name"], match["arg"].strip()
        options, body = self._options(match["body"])
        body = DIRECTIVE.sub(self._directive, body)
        if name in ADMONITIONS or name == "admonition":
            title = arg if name == "admonition" else name.capitalize()
            quoted = "\n".join("> " + line if line else ">" for line in body.splitlines())
            return f"> **{title}**\n>\n{quoted}\n"
        if name == "figure":
            return self._figure(arg, options, body)
        if name == "math":
            return f"$$\n{body}\n$$\n"
        if name == "bibliography":
            entries = sorted(self.citations.values(), key=lambda c: c.reference)
            return "**References**\n\n" + "\n".join(f"- {c.reference}" for c in entries) + "\n"
        raise BookError(f"directive '{name}' has no plain-notebook form: add one in "
                        "bookmachine/export.py or avoid it", **self.where)

    def _figure(self, target: str, options: dict, caption: str) -> str:
        path = (self.source_dir / target).resolve()
        if not path.exists():
            raise BookError(f"figure file {target} not found", **self.where)
        mime = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg"}[path.suffix]
        data = path.read_bytes()
        # Attachments keep the notebook standalone: it opens with its figure anywhere.
        self.attachments[path.name] = {mime: data.decode() if mime == "image/svg+xml"
                                       else base64.b64encode(data).decode()}
        alt = options.get("alt", caption.splitlines()[0] if caption else path.stem)
        return f"![{alt}](attachment:{path.name})\n\n*{caption}*\n" if caption else f"![{alt}](attachment:{path.name})\n"

    def _role(self, match) -> str:
        name, text = match["name"], match["text"]
        if name in ("cite", "cite:p", "cite:t"):
            parts = []
            for key in (k.strip() for k in text.split(",")):
                if key not in self.citations:
                    raise BookError(f"citation key '{key}' is not in references.bib", **self.where)
                authors, year = self.citations[key].authors, self.citations[key].year
                parts.append(f"{authors} ({year})" if name == "cite:t" else f"{authors}, {year}")
            return "; ".join(parts) if name == "cite:t" else "(" + "; ".join(parts) + ")"
        if name in ("ref", "doc", "numref", "term"):
            label = re.match(r"(.*?)\s*<.*>$", text)
            if label:
                return label.group(1).replace("%s", "").strip()
            # A notebook has no numbered figures: name what the label points at.
            return "the figure" if name == "numref" and text.startswith("fig") else text
        if name == "math":
            return f"${text}$"
        if name in ("code", "literal"):
            return f"`{text}`"
        raise BookError(f"role '{{{name}}}' has no plain-notebook form: add one in "
                        "bookmachine/export.py or avoid it", **self.where)


@dataclass(frozen=True)
class Citation:
    authors: str  # "Surname et al.", for inline citations
    year: str
    reference: str  # the full entry, for a reference list


def read_citations(bibfile: Path) -> dict[str, Citation]:
    if not bibfile.exists():
        return {}
    from pybtex.database import parse_file  # shipped with sphinxcontrib-bibtex

    citations = {}
    for key, entry in parse_file(str(bibfile)).entries.items():
        people = entry.persons.get("author", [])
        surnames = [" ".join(p.last_names) for p in people] or [key]
        authors = (surnames[0] + " et al." if len(surnames) > 2 else " and ".join(surnames))
        year, fields = entry.fields.get("year", "n.d."), entry.fields
        everyone = ", ".join(f"{' '.join(p.first_names)} {' '.join(p.last_names)}" for p in people)
        venue = fields.get("booktitle") or fields.get("journal") or ""
        reference = f"{everyone} ({year}). *{fields.get('title', '')}*. {venue}".strip().rstrip(".") + "."
        citations[key] = Citation(authors, year, reference)
    return citations


def export_notebook(job: Job, config: BookConfig, citations) -> nbformat.NotebookNode:
    """The reader's notebook for one job, outputs included."""
    exporter = MarkdownExporter(job.path.parent, citations)
    outputs = iter(job.outputs)
    setup = next(outputs)
    cells = [nbformat.v4.new_code_cell(job.setup, id="setup", outputs=nbformat.from_dict(setup["outputs"]),
                                       execution_count=setup["execution_count"])]
    for cell in job.cells:
        cell_id = f"cell-{cell.index}"
        if cell.kind == "markdown":
            exporter.attachments = {}
            text = exporter.convert(cell.source, dict(path=job.path, cell=cell.index,
                                                      framework=job.framework.key))
            nb_cell = nbformat.v4.new_markdown_cell(text, id=cell_id)
            if exporter.attachments:
                nb_cell.attachments = exporter.attachments
        else:
            result = next(outputs)
            nb_cell = nbformat.v4.new_code_cell(cell.source, id=cell_id,
                                                outputs=nbformat.from_dict(result["outputs"]),
                                                execution_count=result["execution_count"])
        # Only tags nbval reads survive; framework and book tags stay in the source.
        tags = [t for t in cell.tags if t.startswith("nbval") or t == "raises-exception"]
        if tags:
            nb_cell.metadata["tags"] = tags
        cells.append(nb_cell)
    notebook = nbformat.v4.new_notebook(cells=cells)
    fw = job.framework
    # Hosted services know the kernel "python3" only; a framework that runs
    # only locally names its own kernel, which `make setup` installs.
    kernel = "python3" if fw.launch else fw.kernel
    notebook.metadata["kernelspec"] = {"name": kernel, "language": "python",
                                       "display_name": f"Python 3 ({fw.label})"}
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.validate(notebook)
    return notebook


def notebook_path(export_dir: Path, framework_key: str, docname: str) -> Path:
    """``<export_dir>/<framework>/<subsection>.ipynb``, named after the source file
    (a folder's ``index`` page after its folder)."""
    return export_dir / framework_key / f"{notebook_name(docname)}.ipynb"


def notebook_name(docname: str) -> str:
    path = Path(docname)
    return path.parent.name if path.name == "index" else path.name
