"""The chapter's modules in Flax NNX.

NNX modules own their parameters, like PyTorch's. There are no lazy shapes,
so each layer is told its input width, and randomness comes from an
``nnx.Rngs`` passed in, e.g. ``nnx.Rngs(SEED)``.
"""

import contextlib

import jax
from flax import nnx
from jax import numpy as jnp

from layers_modules import BATCH_SHAPE, SEED
from layers_modules._checks import Clue, Framework
from layers_modules._tree import ModuleTree, Node, Variable

__all__ = [
    "random_batch", "count_parameters", "MLP", "MySequential",
    "EagerFixedHiddenMLP", "FixedHiddenMLP", "NestMLP", "chimera",
    "ListSequential", "Parallel", "chain_copies", "module_tree",
    "PlainListSequential", "chain_shared", "check_list_sequential", "check_parallel", "check_chain",
]


def random_batch(key):
    """Return a (2, 20) batch, uniform in [0, 1), drawn with ``key``."""
    return jax.random.uniform(key, BATCH_SHAPE)


def count_parameters(net):
    """Number of trainable scalars (nnx.Param); a shared one counts once."""
    return sum(x.size for x in jax.tree.leaves(nnx.state(net, nnx.Param)))


class MLP(nnx.Module):
    """A hidden layer of 256 units with ReLU, then 10 outputs."""

    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(20, 256, rngs=rngs)
        self.out = nnx.Linear(256, 10, rngs=rngs)

    def __call__(self, X):
        return self.out(nnx.relu(self.hidden(X)))


class MySequential(nnx.Module):
    """Runs its layers one after another, in the order given."""

    def __init__(self, *layers):
        self.layers = nnx.List(layers)  # NNX sees the modules in an nnx.List

    def __call__(self, X):
        for layer in self.layers:
            X = layer(X)
        return X


class EagerFixedHiddenMLP(nnx.Module):
    """Mixes a constant weight, a shared layer and a Python loop: fails under nnx.jit."""

    def __init__(self, rngs: nnx.Rngs):
        # A plain nnx.Variable, not an nnx.Param: gradients and optimisers
        # filtered on nnx.Param leave it alone.
        self.rand_weight = nnx.Variable(
            jax.random.uniform(rngs.params(), (20, 20)))
        self.linear = nnx.Linear(20, 20, rngs=rngs)

    def __call__(self, X):
        X = self.linear(X)
        X = nnx.relu(X @ self.rand_weight[...] + 1)
        X = self.linear(X)  # the same layer again: its parameters are shared
        return self.halve(X).sum()

    def halve(self, X):
        while jnp.abs(X).sum() > 1:  # Python control flow on an array's value
            X = X / 2
        return X


class FixedHiddenMLP(EagerFixedHiddenMLP):
    """The same module with a loop that also runs under nnx.jit."""

    def halve(self, X):
        # The loop finds a scale, not X itself: jax.grad cannot go back
        # through a while_loop, and this way it never has to.
        scale = jax.lax.while_loop(lambda s: s * jnp.abs(X).sum() > 1,
                                   lambda s: s / 2, 1.0)
        return scale * X


class NestMLP(nnx.Module):
    """A Sequential inside a custom module."""

    def __init__(self, rngs: nnx.Rngs):
        self.net = nnx.Sequential(nnx.Linear(20, 64, rngs=rngs), nnx.relu,
                                  nnx.Linear(64, 32, rngs=rngs), nnx.relu)
        self.linear = nnx.Linear(32, 16, rngs=rngs)

    def __call__(self, X):
        return self.linear(self.net(X))


def chimera(rngs: nnx.Rngs):
    """Nested modules of every kind in one nnx.Sequential; returns a scalar."""
    return nnx.Sequential(NestMLP(rngs), nnx.Linear(16, 20, rngs=rngs),
                          FixedHiddenMLP(rngs))


# Exercise solutions

class PlainListSequential(nnx.Module):
    """Broken on purpose: NNX refuses a plain list of modules.

    Building one raises ValueError, whose message suggests nnx.List.
    """

    def __init__(self, *layers):
        self.layers = list(layers)

    def __call__(self, X):
        for layer in self.layers:
            X = layer(X)
        return X


class Parallel(nnx.Module):
    """Feeds X to both networks and joins their outputs feature-wise."""

    def __init__(self, net1, net2):
        self.net1 = net1
        self.net2 = net2

    def __call__(self, X):
        return jnp.concatenate([self.net1(X), self.net2(X)], axis=-1)


def chain_copies(make_net, n):
    """Chain ``n`` fresh networks, each built by calling ``make_net()``."""
    return nnx.Sequential(*(make_net() for _ in range(n)))


# A list NNX walks: MySequential above keeps its layers in an nnx.List.
ListSequential = MySequential


def chain_shared(net, n):
    """Chain one network ``n`` times: NNX finds one object, so every use shares it."""
    return nnx.Sequential(*(net for _ in range(n)))


# Checks for the exercises: each runs the reader's answer and prints a verdict

_CHECK_RNGS = nnx.Rngs(SEED + 1)  # a stream of the checks' own: the reader's `rngs` stays as it is

EXERCISES = Framework(
    name="Flax NNX", isolated=contextlib.nullcontext,
    batch=lambda: jax.random.uniform(jax.random.key(SEED), BATCH_SHAPE),
    dense=lambda inputs, outputs: nnx.Linear(inputs, outputs, rngs=_CHECK_RNGS),
    relu=lambda: nnx.relu, sequential=lambda layers: nnx.Sequential(*layers),
    mlp=lambda: MLP(_CHECK_RNGS), contain=lambda container, layers: container(*layers),
    run=lambda net, X: net(X), count=lambda net, X: count_parameters(net),
    register=("NNX treats a plain list attribute as static configuration, which may not hold "
              "modules: keep the layers in an nnx.List, which NNX walks."),
    clues=(Clue(ValueError, r"static attribute",
                "NNX treats a plain list attribute as static configuration, which may not hold "
                "modules: keep the layers in an nnx.List, which NNX walks."),),
)
check_list_sequential = EXERCISES.check_list_sequential
check_parallel = EXERCISES.check_parallel
check_chain = EXERCISES.check_chain


# The chapter's figures

def module_tree(net):
    """The graph NNX walks (``nnx.iter_graph``) to find a module's variables, as a tree.

    Names are the path entries NNX prints, e.g. ``layers/0/kernel``. Functions
    kept in an ``nnx.List``, such as ``nnx.relu``, appear as childless nodes.
    """
    graph = dict(nnx.iter_graph(net))  # path -> value; () is net; siblings in NNX's order
    nodes = {path: Node(str(path[-1]) if path else "", type(value).__name__)
             for path, value in graph.items() if isinstance(value, (nnx.Module, nnx.List))}
    for path, value in graph.items():
        parent = nodes.get(path[:-1]) if path else None
        if parent is None:
            continue
        if path in nodes:
            parent.children.append(nodes[path])
        elif isinstance(value, nnx.Variable):
            parent.variables.append(Variable(str(path[-1]), "/".join(map(str, path)),
                                             value[...].shape, isinstance(value, nnx.Param)))
        elif isinstance(graph[path[:-1]], nnx.List) and callable(value):
            parent.children.append(Node(str(path[-1]), getattr(value, "__name__", type(value).__name__)))
    return ModuleTree(nodes[()])
