"""Draw the tree a framework walks to find a network's parameters.

Each framework's module has a ``module_tree(net)`` that walks a real network
with that framework's own API and returns a ``ModuleTree``. A notebook shows
it as an SVG figure (and as indented text), so the chapter's tree figures are
drawn from the code when the book is built and cannot drift from it.

This file imports no framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

FONT_SIZE = 13
CHAR_WIDTH = 0.62 * FONT_SIZE  # a monospace advance, with a little room to spare
ROW = 28  # vertical distance between two rows
BOX = 20  # height of a module box or a variable chip
INDENT = 22  # horizontal step per level of nesting
MARGIN = 12

STYLE = {  # fill, stroke of each kind of box
    "module": ("#f8fafc", "#475569"),
    "trainable": ("#dbeafe", "#1d4ed8"),
    "constant": ("#ffedd5", "#c2410c"),
    "hidden": ("#ffffff", "#6b7280"),
}
LEGEND = {
    "trainable": "trainable parameter",
    "constant": "constant: kept, never trained",
    "hidden": "in a plain list: the framework never sees it",
}


@dataclass
class Variable:
    name: str  # the variable's own name, e.g. "weight"
    path: str  # the full name the framework prints, e.g. "0.net.0.weight"; "" if it never sees it
    shape: tuple
    trainable: bool = True


@dataclass
class Node:
    name: str  # how the parent names this child, e.g. "0" or "net"; "" for the root
    kind: str  # the class (or function) name
    variables: list[Variable] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    hidden: bool = False  # kept in a plain Python list: the framework's walk never reaches it

    @property
    def label(self) -> str:
        return f"{self.name}: {self.kind}" if self.name else self.kind


def shape_text(shape) -> str:
    return str(tuple(int(n) for n in shape))


def variable_label(variable: Variable) -> str:
    return f"{variable.name} {shape_text(variable.shape)}"


def style_of(variable: Variable, hidden: bool) -> str:
    return "hidden" if hidden else "trainable" if variable.trainable else "constant"


class ModuleTree:
    """A module tree; Jupyter displays it as an SVG figure, ``repr`` gives indented text."""

    def __init__(self, root: Node):
        self.root = root

    def rows(self):
        """(depth, node, index of the parent row or None) in drawing order."""
        rows = []

        def visit(node, depth, parent):
            rows.append((depth, node, parent))
            me = len(rows) - 1
            for child in node.children:
                visit(child, depth + 1, me)

        visit(self.root, 0, None)
        return rows

    def __repr__(self) -> str:
        # The first line says what the rest is: the site uses this text as the figure's alt text.
        lines = [f"Module tree of this {self.root.kind}, each module under its parent, "
                 "with the arrays it holds in brackets:"]
        for depth, node, _ in self.rows():
            chips = "  ".join(variable_label(v) for v in node.variables)
            hidden = "  (not registered)" if node.hidden else ""
            lines.append("  " * depth + node.label + (f"  [{chips}]" if chips else "") + hidden)
        return "\n".join(lines)

    def _repr_svg_(self) -> str:
        return self.svg()

    def svg(self) -> str:
        parts, used, width = [], set(), 0
        rows = self.rows()
        for i, (depth, node, parent) in enumerate(rows):
            x, y = MARGIN + depth * INDENT, MARGIN + i * ROW
            if parent is not None:  # an elbow from the parent's box to this one
                px = MARGIN + rows[parent][0] * INDENT + INDENT / 2
                py = MARGIN + parent * ROW + BOX
                parts.append(f'<path d="M{px} {py} V{y + BOX / 2} H{x}" fill="none" '
                             f'stroke="#94a3b8" stroke-width="1.2"/>')
            x = self._box(parts, x, y, node.label, "hidden" if node.hidden else "module",
                          title=None, bold=True) + 8
            for variable in node.variables:
                kind = style_of(variable, node.hidden)
                used.add(kind)
                x = self._box(parts, x, y, variable_label(variable), kind, title=variable.path) + 6
            width = max(width, x)
        y = MARGIN + len(rows) * ROW + 6
        x = MARGIN
        for kind in ("trainable", "constant", "hidden"):
            if kind in used:
                x = self._box(parts, x, y, LEGEND[kind], kind, title=None) + 12
        width = max(width, x) + MARGIN
        height = y + BOX + MARGIN
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
                f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="DejaVu Sans Mono, Menlo, Consolas, '
                f'monospace" font-size="{FONT_SIZE}">'
                f'<title>Module tree of {escape(self.root.kind)}</title>'
                f'<rect width="100%" height="100%" fill="#ffffff"/>' + "".join(parts) + "</svg>")

    @staticmethod
    def _box(parts, x, y, text, kind, title, bold=False) -> float:
        """Draw a labelled box at (x, y); return its right edge."""
        fill, stroke = STYLE[kind]
        width = len(text) * CHAR_WIDTH + 12
        dash = ' stroke-dasharray="4 3"' if kind == "hidden" else ""
        weight = ' font-weight="bold"' if bold and kind != "hidden" else ""
        colour = "#6b7280" if kind == "hidden" else "#0f172a"
        tooltip = f"<title>{escape(title)}</title>" if title else ""
        css = "variable" if title is not None else "label"
        parts.append(f'<g class="{css} {kind}">{tooltip}'
                     f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{BOX}" rx="4" '
                     f'fill="{fill}" stroke="{stroke}"{dash}/>'
                     f'<text x="{x + 6:.1f}" y="{y + BOX - 6}" fill="{colour}"{weight}>{escape(text)}</text></g>')
        return x + width
