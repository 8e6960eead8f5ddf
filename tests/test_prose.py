"""The chapter's prose: no longer than a reader needs, and every number it states is printed.

Each framework's reader reads the shared markdown and that framework's own.
A number that prose states about an output (a parameter count, a shape) must
appear among the outputs that the same framework's cells print on the same
page, so a changed layer or a stale sentence fails here.
"""

import re
import sys

import nbformat
import pytest

from bookmachine import config as book_config
from bookmachine.export import notebook_path
from bookmachine.pipeline import toc_files
from bookmachine.split import read_source
from conftest import ROOT, SUMMARY_LINES

sys.path.insert(0, str(ROOT / "checks"))
import word_count  # noqa: E402

CONFIG = book_config.load(ROOT, skip="")

# Numbers of three or more digits that prose may state although no cell
# prints them: they are inputs or names, not results.
NOT_OUTPUTS = {
    "256": "the hidden layer's width, chosen by the text",
    "152": "ResNet-152, a name",
}

CODE_SPAN = re.compile(r"`[^`]*`")
DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{.*?^\1[ \t]*$", re.M | re.S)
MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$]+)\$", re.S)
SHAPE = re.compile(r"[(\[](\d+(?:,\s*\d+)+,?|\d+,)[)\]]")
NUMBER = re.compile(r"(?<![\w.-])\d{3,}(?![\w.]*\d)|(?<=-)\d{3,}")


def shape(text: str) -> tuple:
    return tuple(int(n) for n in text.split(",") if n.strip())


def claims(markdown: str) -> set:
    """Shapes and numbers the prose states: ('shape', (2, 10)) or ('number', '4712').

    Outside math: every shape and every number of 3+ digits. In math: the
    result, the number after the last '=' (or a lone number such as $4712$);
    the terms before it are arithmetic on inputs. Code spans and directives
    are code, not claims.
    """
    text = CODE_SPAN.sub(" ", DIRECTIVE.sub(" ", markdown))
    found = set()
    for match in MATH.finditer(text):
        formula = match.group(1) or match.group(2)
        result = formula.rsplit("=", 1)[1] if "=" in formula else formula
        if re.fullmatch(r"\s*[\d\s]+\s*", result) or "=" in formula:
            found |= {("number", n) for n in re.findall(r"\d+", result)}
    prose = MATH.sub(" ", text)
    found |= {("shape", shape(s)) for s in SHAPE.findall(prose)}
    found |= {("number", n) for n in NUMBER.findall(SHAPE.sub(" ", prose))}
    return {claim for claim in found if claim[1] not in NOT_OUTPUTS}


def printed(notebook) -> set:
    """Shapes and numbers among a notebook's outputs."""
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.append(output.get("data", {}).get("text/plain", ""))
            texts.append(output.get("evalue", ""))
    text = "\n".join(texts)
    return ({("shape", shape(s)) for s in SHAPE.findall(text)}
            | {("number", n) for n in re.findall(r"\d+", text)})


def prose_of(source, key: str) -> str:
    return "\n\n".join(c.source for c in source.cells if c.kind == "markdown" and c.belongs_to(key))


def test_the_claims_reader_understands_math_code_and_shapes():
    text = ("A batch of shape (2, 10) and `nn.Linear(20, 256)`; $20 \\times 256 + 256 = 5376$ "
            "and $4712$ numbers, ResNet-152, 7946 parameters, $20 \\times 20$, 12 units.")
    assert claims(text) == {("shape", (2, 10)), ("number", "5376"), ("number", "4712"),
                            ("number", "7946")}
    outputs = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="torch.Size([2, 10])\ncount: 4712\n")])])
    assert {("shape", (2, 10)), ("number", "4712")} <= printed(outputs)
    assert ("number", "7946") not in printed(outputs)


@pytest.mark.build
@pytest.mark.parametrize("framework", [fw.key for fw in book_config.load(ROOT).built])  # not SKIP's
def test_every_number_the_prose_states_is_printed_in_that_tab(built_book, framework):
    missing, checked = [], 0
    for path in toc_files(ROOT):
        source = read_source(path, ROOT, CONFIG.keys)
        path = notebook_path(built_book / "notebooks", framework, source.docname)
        # A page without code has no notebook: nothing printed, so its prose may state no output.
        notebook = nbformat.read(path, as_version=4) if path.exists() else nbformat.v4.new_notebook()
        stated, shown = claims(prose_of(source, framework)), printed(notebook)
        checked += len(stated)
        missing += [f"{source.name}: the {framework} prose states {value}, no {framework} output prints it"
                    for kind, value in sorted(stated - shown, key=str)]
    assert not missing, "\n".join(missing)
    assert checked >= 5, f"only {checked} numbers found in the {framework} prose: is the reader broken?"
    SUMMARY_LINES.append(f"prose numbers {framework}: {checked} stated, each printed by a {framework} cell")


def test_no_framework_reader_reads_more_than_the_limit():
    total = word_count.totals(word_count.count(ROOT))
    SUMMARY_LINES.append("prose words per framework reader: "
                         + ", ".join(f"{key} {n}" for key, n in total.items())
                         + f" (limit {word_count.LIMIT})")
    over = {key: n for key, n in total.items() if n > word_count.LIMIT}
    assert not over, f"over {word_count.LIMIT} words: {over}; run checks/word_count.py for the pages"


def test_the_word_count_skips_figures_and_bibliography_but_counts_captionless_prose():
    text = ("Two words.\n\n```{figure} img/x.svg\n:name: fig-x\n\nA caption of six words here.\n```\n\n"
            ":::{bibliography}\n:::\n\nThree more words.")
    assert word_count.prose_words(text) == 5
