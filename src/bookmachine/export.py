"""Stage 5: the standalone notebook a reader downloads or opens in Colab.

One notebook per source and framework: a set-up cell, then the framework's
cells with their executed outputs. Book-only markup (MyST directives and
roles that Jupyter cannot render) is turned into plain Markdown, and the
framework tags stay behind.
"""

from __future__ import annotations

import base64
import re
import string
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .config import PACKAGE_SOURCE_ENV, BookConfig, Framework
from .errors import BookError
from .job import Job

PACKAGE = "layers_modules"  # the teaching package the notebooks import

# The set-up cell: the first thing a reader sees, so short and plain. It decides by
# what is installed, never by which service runs it, so it behaves the same on Colab,
# Studio Lab, Kaggle and a reader's own Jupyter; in the book's build, where everything
# is installed at the pins, it does nothing and prints nothing. Each framework's range
# comes from its `requires` in _config.yml. Placeholders: $name (string.Template).
SETUP_TEMPLATE = string.Template('''\
# Set-up, the same on Colab, Studio Lab, Kaggle and your own Jupyter: install what this
# notebook needs and lacks, upgrade a package only if it is older than this chapter
# supports, and keep every other package at the version the kernel has (pip is told to).
# To take this book's package from somewhere else (a path, a wheel, a pip URL), set
# BOOK_PACKAGE_SOURCE.
import importlib.metadata, importlib.util, json, os, platform, re, subprocess, sys, tempfile
$env
# What this notebook needs: package -> (oldest supported version, first one past the range).
NEEDS = $needs
PYTHON = "$python"  # the oldest supported Python
BOOK = os.environ.get("$package_env") or "$package"
JAX_FAMILY = r"jax|jaxlib|jax-cuda\\d+-(plugin|pjrt)|libtpu"  # jax moves only with these


class SetupStopped(Exception):
    def _render_traceback_(self):  # Jupyter shows this one line, not a traceback
        return [f"Set-up stopped: {self}"]


def release(version):  # "2.11.0+cpu" -> (2, 11, 0)
    return tuple(int(n) for n in re.findall(r"\\d+", version.split("+")[0]))


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pip(*args):
    return subprocess.run([sys.executable, "-m", "pip", *args, "--quiet", "--no-color"],
                          capture_output=True, text=True)


if release(platform.python_version()) < release(PYTHON):
    raise SetupStopped(f"this kernel runs Python {platform.python_version()}; this notebook needs "
                       f"Python {PYTHON} or newer. Fix: pick a kernel with a newer Python, e.g. one "
                       f"made in a terminal by `conda create -y -n layers python={PYTHON} ipykernel`")
providers = importlib.metadata.packages_distributions()  # import name -> installed packages
lacking, wanted, moving, ranges = [], [], set(), {}
for name, (oldest, beyond) in NEEDS.items():
    package = providers.get(name, [name])[0]  # what provides `import name`, e.g. tensorflow-cpu
    have = importlib.metadata.version(package) if name in providers else None
    if not have or release(have) < release(oldest):  # newer than the range is kept: it may work
        lacking.append(f"{package} {have}" if have else f"no {name}")
        wanted.append(f"{package}>={oldest}" + (f",<{beyond}" if beyond else ""))
        ranges[name] = wanted[-1].removeprefix(package)  # e.g. ">=0.7.2,<0.13"
        moving.add(canonical(package))
if importlib.util.find_spec("$package_module") is None:
    lacking.append("no $package_name (this book's package)")
    wanted.append(BOOK)
if lacking:
    installed = {}  # every package the kernel has, which pip must keep at its version
    for dist in importlib.metadata.distributions():
        if dist.metadata["Name"] and re.fullmatch(r"[\\w.!+]+", dist.version):
            installed.setdefault(canonical(dist.metadata["Name"]), dist.version)
    family = {n for n in installed if re.fullmatch(JAX_FAMILY, n)}
    if moving & family:  # jax too old: it moves with jaxlib, and with its accelerator plugins
        moving |= family
        if family - {"jax", "jaxlib"}:
            extra = "tpu" if "libtpu" in family else re.search(r"cuda\\d+", " ".join(family))[0]
            raise SetupStopped(f"this kernel has {', '.join(lacking)}, and jax moves only together with "
                               f"{', '.join(sorted(family - {'jax', 'jaxlib'}))}, which this set-up "
                               f"leaves to you. Fix: %pip install -U 'jax[{extra}]{ranges.get('jax', '')}', then "
                               "restart the kernel and run this cell again")
    command = "pip install " + " ".join(f"'{w}'" for w in wanted)
    print(f"Set-up: this kernel has {', '.join(lacking)}, so: {command} "
          "(every other package kept as it is)", flush=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as held:
        held.write("".join(f"{n}=={v}\\n" for n, v in installed.items() if n not in moving))
    done = pip("install", "--constraint", held.name, *wanted)
    if done.returncode:  # what would pip replace, if it could?
        plan = pip("install", "--dry-run", "--report", held.name + ".json", *wanted)
        taken = json.load(open(held.name + ".json"))["install"] if plan.returncode == 0 else []
        replaced = [f"{n} {installed[n]} (pip would take {v})" for n, v in
                    ((canonical(i["metadata"]["name"]), i["metadata"]["version"]) for i in taken)
                    if n in installed and n not in moving and v != installed[n]]
        if replaced:
            raise SetupStopped(f"this kernel has {', '.join(lacking)}; what this notebook needs does not "
                               f"fit beside {', '.join(replaced)}, which works and is kept. Fix: "
                               "a runtime with newer packages (Colab: Runtime > Change runtime type), or "
                               f"replace them yourself: %{command}, then restart the kernel")
        said = (done.stderr.strip().splitlines() or ["no message"])[-1].removeprefix("ERROR: ")
        raise SetupStopped(f"this kernel has {', '.join(lacking)}, and pip could not install what "
                           f"this notebook needs (pip: {said}). Fix: %{command}")
    importlib.invalidate_caches()''')


def setup_cell(config: BookConfig, framework: Framework, ref: str) -> str:
    """The set-up cell of ``framework``'s notebooks, installing the package at ``ref``."""
    env = "".join(f'\nos.environ.setdefault("{k}", "{v}")' for k, v in framework.env.items())
    if env:
        env = "# Keep framework start-up logs out of the outputs." + env
    needs = "{" + ", ".join(f'"{r.name}": ("{r.oldest}", ' + (f'"{r.beyond}")' if r.beyond else "None)")
                            for r in framework.requires if r.name != "python") + "}"
    python = next((r.oldest for r in framework.requires if r.name == "python"), "3")
    package = config.package_source or (
        f"{PACKAGE.replace('_', '-')} @ git+{config.repository_url}@{ref}")
    return SETUP_TEMPLATE.substitute(
        env=env, needs=needs, python=python, package=package,
        package_env=PACKAGE_SOURCE_ENV, package_module=PACKAGE,
        package_name=PACKAGE.replace("_", "-"))


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


SOLUTION = "Solution"  # the heading above each worked solution in a notebook
SETUP_TITLE = "Set-up: installs what this notebook lacks, never replaces a version that works"
HEADING = re.compile(r"^(#{1,6})\s", re.M)


def hide_solution(cell: nbformat.NotebookNode) -> None:
    """Collapse a solution cell in JupyterLab (and, for code, in Colab's form view)."""
    cell.metadata["jupyter"] = {"source_hidden": True}
    if cell.cell_type == "code":
        cell.metadata["jupyter"]["outputs_hidden"] = True
        cell.metadata["cellView"] = "form"  # Colab shows the title line, hides the code
        cell.source = f"#@title {SOLUTION}\n" + cell.source


def solution_heading(cells: list, index: int) -> nbformat.NotebookNode:
    """A heading one level below the last one above it, so it nests in the outline."""
    levels = [len(m.group(1)) for c in cells if c.cell_type == "markdown"
              for m in HEADING.finditer(c.source)]
    level = min((levels[-1] if levels else 1) + 1, 6)
    return nbformat.v4.new_markdown_cell(f"{'#' * level} {SOLUTION}", id=f"solution-{index}",
                                         metadata={"id": f"solution-{index}"})


def ends_section(cells: list, heading: nbformat.NotebookNode, end: int) -> bool:
    """Whether the solution under ``heading`` (ending before ``cells[end]``) is its whole section."""
    if end == len(cells):
        return True
    after = cells[end]
    match = HEADING.match(after.source) if after.cell_type == "markdown" else None
    return bool(match) and len(match.group(1)) <= len(HEADING.match(heading.source).group(1))


def export_notebook(job: Job, config: BookConfig, citations, without_solutions: bool = False
                    ) -> nbformat.NotebookNode:
    """The reader's notebook for one job, outputs included; solutions start collapsed.

    ``without_solutions`` leaves every solution cell out (the notebooks an instructor
    hands out): the exercises' answer and check cells stay.
    """
    exporter = MarkdownExporter(job.path.parent, citations)
    outputs = iter(job.outputs)
    setup = next(outputs)
    # Folded like a solution (Colab's form view, JupyterLab's hidden source): its title
    # says what it does, the code is one click away, and what it prints stays in view.
    cells = [nbformat.v4.new_code_cell(f"#@title {SETUP_TITLE}\n" + job.setup, id="setup",
                                       outputs=nbformat.from_dict(setup["outputs"]),
                                       execution_count=setup["execution_count"],
                                       metadata={"cellView": "form", "jupyter": {"source_hidden": True}})]
    solutions = []  # [Solution heading, index in cells just past its solution], per solution
    count = setup["execution_count"] or 0  # numbered as the reader's own run numbers them
    for cell in job.cells:
        cell_id = f"cell-{cell.index}"
        if cell.has("check") or (without_solutions and cell.has("solution")):
            if cell.kind == "code":  # a check proves the prose in the build: no reader sees it
                next(outputs)
            continue
        if cell.kind == "markdown":
            exporter.attachments = {}
            text = exporter.convert(cell.source, dict(path=job.path, cell=cell.index,
                                                      framework=job.framework.key))
            nb_cell = nbformat.v4.new_markdown_cell(text, id=cell_id)
            if exporter.attachments:
                nb_cell.attachments = exporter.attachments
        else:
            result = next(outputs)
            count += 1
            nb_cell = nbformat.v4.new_code_cell(cell.source, id=cell_id,
                                                outputs=nbformat.from_dict(_renumber(result["outputs"], count)),
                                                execution_count=count if result["execution_count"] else None)
        # Only tags nbval reads survive; framework and book tags stay in the source.
        tags = [t for t in cell.tags if t.startswith("nbval") or t == "raises-exception"]
        if tags:
            nb_cell.metadata["tags"] = tags
        if cell.has("solution"):
            if not solutions or solutions[-1][1] != len(cells):  # a new solution starts
                solutions.append([solution_heading(cells, cell.index), None])
                cells.append(solutions[-1][0])
            hide_solution(nb_cell)
            cells.append(nb_cell)
            solutions[-1][1] = len(cells)
        else:
            cells.append(nb_cell)
    notebook = nbformat.v4.new_notebook(cells=cells)
    # Colab folds a heading's section when the notebook says so; only where the
    # solution is the whole section, so that nothing after it is folded away.
    folded = [heading.id for heading, end in solutions if ends_section(cells, heading, end)]
    if folded:
        notebook.metadata["colab"] = {"collapsed_sections": folded}
    fw = job.framework
    # Hosted services know the kernel "python3" only; a framework that runs
    # only locally names its own kernel, which `make setup` installs.
    kernel = "python3" if fw.launch else fw.kernel
    notebook.metadata["kernelspec"] = {"name": kernel, "language": "python",
                                       "display_name": f"Python 3 ({fw.label})"}
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.validate(notebook)
    return notebook


def _renumber(outputs: list, count: int) -> list:
    """Outputs as the reader's run numbers them: check cells took numbers in the build."""
    return [dict(o, execution_count=count) if "execution_count" in o else o for o in outputs]


CHAPTERS_DIR = "chapters"  # the folder the chapters live in; notebook paths start below it


def notebook_path(export_dir: Path, framework_key: str, docname: str) -> Path:
    """``<export_dir>/<framework>/<notebook_name(docname)>.ipynb``."""
    return export_dir / framework_key / f"{notebook_name(docname)}.ipynb"


def notebook_name(docname: str) -> str:
    """A page's notebook path (no suffix): its source path below ``chapters/``, so that
    same-named pages of two chapters get two notebooks
    (``chapters/layers-and-modules/custom-module`` -> ``layers-and-modules/custom-module``).
    A chapter's ``index`` page is named after its folder, inside it
    (``layers-and-modules/layers-and-modules``): a reader's download keeps a telling name."""
    parts = list(Path(docname).parts)
    if len(parts) > 1 and parts[0] == CHAPTERS_DIR:
        parts = parts[1:]
    if parts[-1] == "index" and len(parts) > 1:
        parts[-1] = parts[-2]
    return "/".join(parts)
