"""What the exercises' check cells print: a verdict in a line or two, never a traceback.

Each framework's module runs the reader's answer on small inputs of its own
and raises ``Wrong`` for a mistake it recognises; ``report`` turns that, an
unanswered scaffold or an exception from the reader's code into plain words.
This file imports no framework.
"""

from __future__ import annotations

import re
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
LONGEST = 160  # characters of an exception's message worth showing


class Wrong(Exception):
    """A recognised mistake: what the check saw, and the idea that fixes it."""

    def __init__(self, saw: str, hint: str):
        super().__init__(saw)
        self.saw, self.hint = saw, hint


@dataclass(frozen=True)
class Clue:
    """An exception from the reader's code that points at a known mistake."""

    error: type | tuple  # exception type(s)
    pattern: str  # regular expression searched in the message
    hint: str


def report(exercise: int, attempt, clues=(), generic: str = "") -> bool:
    """Run ``attempt()`` (it returns what was right) and print the verdict; True if right."""
    title = f"Exercise {exercise}"
    try:
        with warnings.catch_warnings():  # a framework's warning would only repeat the verdict
            warnings.simplefilter("ignore")
            right = attempt()
    except NotImplementedError:
        print(f"{title}: not answered yet. Fill in the answer cell above, run it, then run "
              "this check again.")
        return False
    except Wrong as wrong:
        print(f"{title}: not yet. {_sentence(wrong.saw)}\nHint: {_sentence(wrong.hint)}")
        return False
    except Exception as error:  # the reader's code raised: report it, do not re-raise
        message = " ".join(str(error).split())
        if len(message) > LONGEST:
            message = message[:LONGEST].rstrip() + " …"
        hint = next((c.hint for c in clues if isinstance(error, c.error)
                     and re.search(c.pattern, str(error), re.S)), generic)
        said = f"{title}: your code raised {type(error).__name__}: {message}{where(error)}."
        print(said + (f"\nHint: {_sentence(hint)}" if hint else ""))
        return False
    print(f"{title}: right. {_sentence(right)}")
    return True


def _sentence(text: str) -> str:
    """Capitalised, unless it opens with code (``keras.Model``, ``chain_copies(...)``)."""
    first = text.split(" ", 1)[0]
    return text[:1].upper() + text[1:] if first.isalpha() else text


def where(error: BaseException) -> str:
    """The reader's line that the exception came from: the last frame outside libraries."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if _readers(frame.filename)]
    if not frames:
        return ""
    frame = frames[-1]
    line = f": `{frame.line.strip()}`" if frame.line else ""
    return f" (in {frame.name}, line {frame.lineno}{line})"


def _readers(filename: str) -> bool:
    path = Path(filename)
    if filename.startswith("<frozen") or PACKAGE in path.resolve().parents:
        return False
    return not any(part in ("site-packages", "dist-packages") for part in path.parts) \
        and not str(path).startswith(sys.base_prefix)


# --- the chapter's three exercises, for any framework -----------------------------

AXIS = ("put the two outputs side by side along the feature axis (axis 1, or -1, of a batch "
        "of rows), with the framework's concatenate; axis 0 stacks examples, not features.")
JOIN = ("join the two outputs side by side with the framework's concatenate: adding them needs "
        "equal widths and mixes two networks' features into one.")
PAIRING = (Clue(Exception, r"(?i)broadcast|size of tensor a|incompatible shapes|operands could not",
                JOIN),
           Clue(Exception, r"(?i)concat|must match|dimension|shape", AXIS))


@dataclass(frozen=True)
class Framework:
    """What the exercises' checks need to know of one framework."""

    name: str
    isolated: object  # () -> context manager that leaves the reader's random state alone
    batch: object  # () -> a (2, 20) batch
    dense: object  # (inputs, outputs) -> a dense layer
    relu: object  # () -> a ReLU (a layer or a function)
    sequential: object  # (list of layers) -> the framework's sequential container
    mlp: object  # () -> the chapter's MLP
    contain: object  # (container class, list of layers) -> an instance holding them
    run: object  # (net, X) -> output, initialising whatever the framework needs first
    count: object  # (net, X) -> trainable scalars the framework finds (after run)
    register: str  # how to make children in a list visible to the framework
    clues: tuple = ()  # framework errors that name a known mistake

    def check_list_sequential(self, ListSequential) -> None:
        """Exercise 1: a container that keeps its modules in a list, and that the framework sees."""
        def attempt():
            with self.isolated():
                X = self.batch()
                net = self.contain(ListSequential, [self.dense(20, 256), self.relu(), self.dense(256, 10)])
                shape = tuple(self.run(net, X).shape)
            if shape != (2, 10):
                raise Wrong(f"the output has shape {shape}, not (2, 10).",
                            "forward propagation passes X through every module in turn, each "
                            "output feeding the next module.")
            found = self.count(net, X)
            if found != 7946:
                raise Wrong(f"{self.name} finds {found} of the 7946 parameters of the two dense "
                            "layers: what it cannot find, it does not train or save.", self.register)
            return "the output has shape (2, 10), and the framework finds all 7946 parameters."
        report(1, attempt, self.clues)  # prints; returns nothing for Jupyter to echo

    def check_parallel(self, Parallel) -> None:
        """Exercise 2: both networks' outputs side by side, and both networks' parameters found."""
        def attempt():
            with self.isolated():
                X = self.batch()
                net = Parallel(self.mlp(), self.dense(20, 5))
                shape = tuple(self.run(net, X).shape)
            if shape != (2, 15):
                raise Wrong(f"the output has shape {shape}, not (2, 15): MLP's 10 columns beside "
                            "the dense layer's 5.", AXIS)
            found = self.count(net, X)
            if found != 8051:
                raise Wrong(f"{self.name} finds {found} of the 8051 parameters (7946 in MLP, 105 in "
                            "the dense layer).", self.register)
            return ("the output has shape (2, 15), both outputs side by side, and the framework "
                    "finds all 8051 parameters of the two networks.")
        report(2, attempt, (*self.clues, *PAIRING))

    def check_chain(self, chain_copies, chain_shared) -> None:
        """Exercise 3: n independent copies, and one network used n times."""
        def block():
            return self.sequential([self.dense(20, 20), self.relu()])

        def attempt():
            with self.isolated():
                X = self.batch()
                copies = chain_copies(block, 3)
                shape = tuple(self.run(copies, X).shape)
                if shape != (2, 20):
                    raise Wrong(f"chain_copies(block, 3) gives an output of shape {shape}, not (2, 20).",
                                "chain the n networks in the framework's sequential container.")
                found = self.count(copies, X)
                if found == 420:
                    raise Wrong("chain_copies(block, 3) holds 420 parameters, not 3 x 420 = 1260: "
                                "its three copies share one set.",
                                "call make_net() once per copy, so that each copy builds layers "
                                "of its own.")
                if found != 1260:
                    raise Wrong(f"chain_copies(block, 3) holds {found} parameters, not 3 x 420 = 1260.",
                                "chain exactly n networks, each made by its own call of make_net().")
                shared = chain_shared(block(), 3)
                self.run(shared, X)
                found = self.count(shared, X)
            if found == 1260:
                raise Wrong("chain_shared(net, 3) holds 1260 parameters, not 420: it built copies.",
                            "place the one network it is given n times in the chain; build "
                            "nothing new.")
            if found != 420:
                raise Wrong(f"chain_shared(net, 3) holds {found} parameters, not the 420 of its one "
                            "network.", "place the network it is given n times in the chain.")
            return ("chain_copies(block, 3) holds 3 x 420 = 1260 parameters, three separate sets, "
                    "and chain_shared(net, 3) holds the 420 of its one network.")
        report(3, attempt, self.clues)
