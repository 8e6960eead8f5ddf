"""The chapter's modules in JAX with Flax Linen.

Linen modules hold no parameters: ``net.init(key, X)`` creates them and
``net.apply(variables, X)`` runs the module with them. Randomness comes from
explicit keys, e.g. ``jax.random.key(SEED)``.
"""

import contextlib
from collections.abc import Callable, Sequence

import jax
from flax import linen as nn
from jax import numpy as jnp

from layers_modules import BATCH_SHAPE
from layers_modules._checks import Clue, Framework
from layers_modules._tree import ModuleTree, Node, Variable

__all__ = [
    "random_batch", "count_parameters", "MLP", "CompactMLP", "MySequential",
    "EagerFixedHiddenMLP", "FixedHiddenMLP", "NestMLP", "chimera",
    "ListSequential", "Parallel", "chain_copies", "module_tree",
    "chain_shared", "check_list_sequential", "check_parallel", "check_chain",
]


def random_batch(key):
    """Return a (2, 20) batch, uniform in [0, 1), drawn with ``key``."""
    return jax.random.uniform(key, BATCH_SHAPE)


def count_parameters(variables):
    """Number of trainable scalars: those in the 'params' collection."""
    return sum(x.size for x in jax.tree.leaves(variables["params"]))


class MLP(nn.Module):
    """A hidden layer of 256 units with ReLU, then 10 outputs."""

    def setup(self):  # Linen's constructor step: declare the submodules
        self.hidden = nn.Dense(256)
        self.out = nn.Dense(10)

    def __call__(self, X):
        return self.out(nn.relu(self.hidden(X)))


class CompactMLP(nn.Module):
    """MLP again, its layers declared inline with @nn.compact."""

    @nn.compact
    def __call__(self, X):
        X = nn.relu(nn.Dense(256, name="hidden")(X))
        return nn.Dense(10, name="out")(X)


class MySequential(nn.Module):
    """Runs its layers one after another, in the order given."""

    layers: Sequence[Callable]  # a dataclass field: Linen registers modules in it

    def __call__(self, X):
        for layer in self.layers:
            X = layer(X)
        return X


class EagerFixedHiddenMLP(nn.Module):
    """Mixes a constant weight, a shared layer and a Python loop: fails under jax.jit."""

    def setup(self):
        # Kept in a 'constants' collection, apart from the trainable 'params'.
        self.rand_weight = self.variable(
            "constants", "rand_weight",
            lambda: jax.random.uniform(self.make_rng("params"), (20, 20)))
        self.dense = nn.Dense(20)

    def __call__(self, X):
        X = self.dense(X)
        X = nn.relu(X @ self.rand_weight.value + 1)
        X = self.dense(X)  # the same layer again: its parameters are shared
        return self.halve(X).sum()

    def halve(self, X):
        while jnp.abs(X).sum() > 1:  # Python control flow on an array's value
            X = X / 2
        return X


class FixedHiddenMLP(EagerFixedHiddenMLP):
    """The same module with a loop that also runs under jax.jit."""

    def halve(self, X):
        # The loop finds a scale, not X itself: jax.grad cannot go back
        # through a while_loop, and this way it never has to.
        scale = jax.lax.while_loop(lambda s: s * jnp.abs(X).sum() > 1,
                                   lambda s: s / 2, 1.0)
        return scale * X


class NestMLP(nn.Module):
    """A Sequential inside a custom module."""

    def setup(self):
        self.net = nn.Sequential([nn.Dense(64), nn.relu,
                                  nn.Dense(32), nn.relu])
        self.dense = nn.Dense(16)

    def __call__(self, X):
        return self.dense(self.net(X))


def chimera():
    """Nested modules of every kind in one nn.Sequential; returns a scalar."""
    return nn.Sequential([NestMLP(), nn.Dense(20), FixedHiddenMLP()])


# Exercise solutions

# Linen finds every module in a list, whether the list is a dataclass field
# or an attribute set in setup (which Linen turns into a tuple), and names
# them layers_0, layers_1, ... So a plain list goes wrong nowhere:
# MySequential above already keeps its layers in one.
ListSequential = MySequential


class Parallel(nn.Module):
    """Feeds X to both networks and joins their outputs feature-wise."""

    net1: nn.Module
    net2: nn.Module

    def __call__(self, X):
        return jnp.concatenate([self.net1(X), self.net2(X)], axis=-1)


def chain_copies(make_net, n):
    """Chain ``n`` fresh networks, each built by calling ``make_net()``."""
    return nn.Sequential([make_net() for _ in range(n)])


def chain_shared(net, n):
    """Chain one network ``n`` times: Linen names it once, so every use shares it."""
    return nn.Sequential([net for _ in range(n)])


# Checks for the exercises: each runs the reader's answer and prints a verdict

def _init(net, X):
    return net.init(jax.random.key(1), X)


EXERCISES = Framework(
    name="Flax Linen", isolated=contextlib.nullcontext, batch=lambda: random_batch(jax.random.key(0)),
    dense=lambda inputs, outputs: nn.Dense(outputs), relu=lambda: nn.relu,
    sequential=nn.Sequential, mlp=MLP, contain=lambda container, layers: container(layers),
    run=lambda net, X: net.apply(_init(net, X), X),
    count=lambda net, X: count_parameters(_init(net, X)),
    register=("Linen finds the modules in a module's dataclass fields and in the attributes "
              "set in setup, lists included: declare the layers as a field, "
              "`layers: Sequence[Callable]`."),
    clues=(Clue(TypeError, r"positional argument|unexpected keyword",
                "declare the layers as a dataclass field, `layers: Sequence[Callable]`: Linen "
                "writes __init__ from the fields, so a field is how the layers come in."),),
)
check_list_sequential = EXERCISES.check_list_sequential
check_parallel = EXERCISES.check_parallel
check_chain = EXERCISES.check_chain


# The chapter's figures

def module_tree(net, X):
    """The tree of modules and variables Linen builds while ``init`` traces ``net`` on ``X``.

    The names are those of the variable dictionary ``init`` returns, e.g.
    ``params/layers_0/kernel``. Plain functions such as ``nn.relu`` are not
    modules and hold nothing, so they are not in the tree.
    """
    key = jax.random.key(0)
    modules = net.module_paths(key, X)  # "" is net itself, then "layers_0", "layers_0/net", ...
    nodes = {path: Node(path.rpartition("/")[2], type(module).__name__)
             for path, module in modules.items()}
    for path, node in nodes.items():
        if path:
            nodes[path.rpartition("/")[0]].children.append(node)
    variables = jax.eval_shape(net.init, key, X)  # shapes only, nothing computed
    for collection, tree in variables.items():
        for keys, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            names = [k.key for k in keys]
            nodes["/".join(names[:-1])].variables.append(
                Variable(names[-1], "/".join([collection, *names]), leaf.shape, collection == "params"))
    return ModuleTree(nodes[""])
