"""The chapter's modules in MXNet Gluon 1.9 (legacy), with NumPy semantics.

Seed first with ``mx.random.seed(SEED)``; everything here then repeats.
Gluon infers input widths, so a network needs ``net.initialize()`` and one
forward pass before its parameters have shapes.
"""

import contextlib

import numpy
from mxnet import np, npx
from mxnet.gluon import nn

from layers_modules import BATCH_SHAPE, SEED
from layers_modules._checks import Clue, Framework
from layers_modules._tree import ModuleTree, Node, Variable

npx.set_np()

__all__ = [
    "random_batch", "count_parameters", "MLP", "MySequential",
    "FixedHiddenMLP", "NestMLP", "chimera", "ListSequential", "Parallel",
    "chain_copies", "module_tree",
    "PlainListSequential", "chain_shared", "check_list_sequential", "check_parallel", "check_chain",
]


def random_batch():
    """Return a (2, 20) batch, uniform in [0, 1), from MXNet's global RNG."""
    return np.random.uniform(size=BATCH_SHAPE)


def count_parameters(net):
    """Number of trainable scalars (constants have grad_req 'null')."""
    return sum(p.data().size for p in net.collect_params().values()
               if p.grad_req != "null")


class MLP(nn.Block):
    """A hidden layer of 256 units with ReLU, then 10 outputs."""

    def __init__(self):
        super().__init__()  # sets up the bookkeeping of children and params
        self.hidden = nn.Dense(256, activation="relu")
        self.out = nn.Dense(10)

    def forward(self, X):
        return self.out(self.hidden(X))


class MySequential(nn.Block):
    """Runs its blocks one after another, in the order they were added."""

    def add(self, *blocks):
        for block in blocks:
            self.register_child(block)  # kept in order in self._children

    def forward(self, X):
        for block in self._children.values():
            X = block(X)
        return X


class FixedHiddenMLP(nn.Block):
    """Mixes a constant weight, a shared layer and Python control flow."""

    def __init__(self):
        super().__init__()
        # A constant parameter: saved with the block, never given a gradient.
        self.rand_weight = self.params.get_constant(
            "rand_weight", np.random.uniform(size=(20, 20)))
        self.dense = nn.Dense(20)

    def forward(self, X):
        X = self.dense(X)
        X = npx.relu(X @ self.rand_weight.data() + 1)
        X = self.dense(X)  # the same layer again: its parameters are shared
        while np.abs(X).sum() > 1:
            X = X / 2
        return X.sum()


class NestMLP(nn.Block):
    """A Sequential inside a custom block."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential()
        self.net.add(nn.Dense(64, activation="relu"),
                     nn.Dense(32, activation="relu"))
        self.dense = nn.Dense(16)

    def forward(self, X):
        return self.dense(self.net(X))


def chimera():
    """Nested blocks of every kind in one nn.Sequential; returns a scalar."""
    net = nn.Sequential()
    net.add(NestMLP(), nn.Dense(20), FixedHiddenMLP())
    return net


# Exercise solutions

class PlainListSequential(nn.Block):
    """Broken on purpose: a plain list hides its blocks from Gluon.

    ``initialize()`` warns about an unregistered container and skips them,
    so the first forward pass raises a RuntimeError.
    """

    def __init__(self, *blocks):
        super().__init__()
        self.blocks = list(blocks)

    def forward(self, X):
        for block in self.blocks:
            X = block(X)
        return X


class ListSequential(nn.Block):
    """A list of blocks that Gluon walks: each one is also registered as a child."""

    def __init__(self, *blocks):
        super().__init__()
        self.blocks = list(blocks)
        for block in blocks:
            self.register_child(block)

    def forward(self, X):
        for block in self.blocks:
            X = block(X)
        return X


class Parallel(nn.Block):
    """Feeds X to both networks and joins their outputs feature-wise."""

    def __init__(self, net1, net2):
        super().__init__()
        self.net1 = net1
        self.net2 = net2

    def forward(self, X):
        return np.concatenate((self.net1(X), self.net2(X)), axis=1)


def chain_copies(make_net, n):
    """Chain ``n`` fresh networks, each built by calling ``make_net()``."""
    net = nn.Sequential()
    net.add(*(make_net() for _ in range(n)))
    return net


def chain_shared(net, n):
    """Chain one network ``n`` times: its parameters keep one set of names, so they are shared."""
    chain = nn.Sequential()
    chain.add(*(net for _ in range(n)))
    return chain


# Checks for the exercises: each runs the reader's answer and prints a verdict

def _sequential(blocks):
    net = nn.Sequential()
    net.add(*blocks)
    return net


def _run(net, X):
    net.initialize()  # a second call only warns, and the check silences warnings
    return net(X)


_REGISTER = ("Gluon finds the blocks assigned to attributes or passed to register_child; a "
             "plain list hides them. Call self.register_child(block) for each block of the list.")

EXERCISES = Framework(
    name="Gluon", isolated=contextlib.nullcontext,
    # From NumPy's own generator, so that the check draws nothing from MXNet's.
    batch=lambda: np.array(numpy.random.default_rng(SEED).random(BATCH_SHAPE), dtype="float32"),
    dense=lambda inputs, outputs: nn.Dense(outputs), relu=lambda: nn.Activation("relu"),
    sequential=_sequential, mlp=MLP, contain=lambda container, layers: container(*layers),
    run=_run, count=lambda net, X: count_parameters(net), register=_REGISTER,
    clues=(Clue(RuntimeError, r"has not been initialized", _REGISTER),
           Clue(AttributeError, r"has no attribute '_(children|reg_params|params)'",
                "call super().__init__() first in __init__: it creates the dictionaries of "
                "children and parameters that assignment fills.")),
)
check_list_sequential = EXERCISES.check_list_sequential
check_parallel = EXERCISES.check_parallel
check_chain = EXERCISES.check_chain


# The chapter's figures

def module_tree(net):
    """The tree Gluon walks (``_children``) to initialise and collect parameters.

    Blocks are named as ``print(net)`` names them, parameters by their own
    names, the keys of ``net.collect_params()``. Blocks kept in a plain list or
    tuple attribute are drawn dashed: Gluon's walk never reaches them.
    """
    return ModuleTree(_node(net, ""))


def _node(block, name, hidden=False):
    # Gluon names a parameter itself (p.name, e.g. dense0_weight); collect_params() uses that name.
    variables = [Variable(p.name, "" if hidden else p.name, p.shape, p.grad_req != "null")
                 for p in block._reg_params.values()]
    children = [_node(child, key, hidden) for key, child in block._children.items()]
    for attribute, value in vars(block).items():
        if isinstance(value, (list, tuple)) and any(isinstance(v, nn.Block) for v in value):
            children.append(Node(attribute, type(value).__name__, hidden=True, children=[
                _node(v, str(i), hidden=True) for i, v in enumerate(value)]))
    return Node(name, type(block).__name__, variables, children, hidden)
