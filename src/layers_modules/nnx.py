"""The chapter's modules in Flax NNX.

NNX modules own their parameters, like PyTorch's. There are no lazy shapes,
so each layer is told its input width, and randomness comes from an
``nnx.Rngs`` passed in, e.g. ``nnx.Rngs(SEED)``.
"""

import jax
from flax import nnx
from jax import numpy as jnp

from layers_modules import BATCH_SHAPE

__all__ = [
    "random_batch", "count_parameters", "MLP", "MySequential",
    "FixedHiddenMLP", "NestMLP", "chimera", "ListSequential", "Parallel",
    "chain_copies",
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


class FixedHiddenMLP(nnx.Module):
    """Mixes a constant weight, a shared layer and traceable control flow."""

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
        # Halve X until its L1 norm is at most 1. A Python `while` on array
        # values fails under nnx.jit, so lax.while_loop finds the scale; it
        # loops over the scale alone because jax.grad cannot go through a
        # while_loop's carry.
        scale = jax.lax.while_loop(lambda s: s * jnp.abs(X).sum() > 1,
                                   lambda s: s / 2, 1.0)
        return (scale * X).sum()


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

class ListSequential(nnx.Module):
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
