"""The chapter's modules in Keras 3 on the TensorFlow backend.

Seed first with ``keras.utils.set_random_seed(SEED)`` (``tf.random.set_seed``
alone does not make Keras initialisers repeat); everything here then repeats.
"""

import contextlib
import math

import keras
import numpy
from keras import ops

from layers_modules import BATCH_SHAPE, SEED
from layers_modules._checks import Clue, Framework
from layers_modules._tree import ModuleTree, Node, Variable

__all__ = [
    "random_batch", "count_parameters", "MLP", "MySequential",
    "EagerFixedHiddenMLP", "FixedHiddenMLP", "NestMLP", "chimera",
    "ListSequential", "Parallel", "chain_copies", "module_tree",
    "chain_shared", "check_list_sequential", "check_parallel", "check_chain",
]


def random_batch():
    """Return a (2, 20) batch, uniform in [0, 1), from Keras's global seed."""
    return keras.random.uniform(BATCH_SHAPE)


def count_parameters(net):
    """Number of trainable scalars; a shared weight is counted once."""
    return sum(math.prod(w.shape) for w in net.trainable_weights)


class MLP(keras.Model):
    """A hidden layer of 256 units with ReLU, then 10 outputs."""

    def __init__(self):
        super().__init__()  # sets up Keras's tracking of layers and weights
        self.hidden = keras.layers.Dense(256, activation="relu")
        self.out = keras.layers.Dense(10)

    def call(self, X):
        return self.out(self.hidden(X))


class MySequential(keras.Model):
    """Runs its layers one after another, in the order given."""

    def __init__(self, *layers):
        super().__init__()
        # Keras 3 wraps a list assigned to an attribute and tracks its layers.
        self.chain = list(layers)

    def call(self, X):
        for layer in self.chain:
            X = layer(X)
        return X


class EagerFixedHiddenMLP(keras.Model):
    """Mixes a constant weight, a shared layer and a Python loop: eager calls only."""

    def __init__(self):
        super().__init__()
        # A weight with trainable=False: saved with the model, never trained.
        self.rand_weight = self.add_weight(
            shape=(20, 20), trainable=False, name="rand_weight",
            initializer=keras.initializers.RandomUniform(0.0, 1.0))
        self.dense = keras.layers.Dense(20)

    def call(self, X):
        X = self.dense(X)
        X = ops.relu(X @ self.rand_weight + 1)
        X = self.dense(X)  # the same layer again: its weights are shared
        return ops.sum(self.halve(X))

    def halve(self, X):
        while ops.sum(ops.abs(X)) > 1:  # Python control flow on a tensor's value
            X = X / 2
        return X


class FixedHiddenMLP(EagerFixedHiddenMLP):
    """The same model with a loop that also runs traced (model.fit, keras.Sequential)."""

    def halve(self, X):
        return ops.while_loop(lambda X: ops.sum(ops.abs(X)) > 1,
                              lambda X: X / 2, X)


class NestMLP(keras.layers.Layer):
    """A Sequential inside a custom layer."""

    def __init__(self):
        super().__init__()
        self.net = keras.Sequential([
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(32, activation="relu")])
        self.dense = keras.layers.Dense(16)

    def call(self, X):
        return self.dense(self.net(X))


def chimera():
    """Nested models of every kind in one keras.Sequential; returns a scalar."""
    return keras.Sequential([NestMLP(), keras.layers.Dense(20),
                             FixedHiddenMLP()])


# Exercise solutions

# Keras 3 turns a list assigned to a layer attribute into a TrackedList and
# tracks every layer in it (a tuple is wrapped too), so keeping the layers
# in a plain list breaks nothing: their weights are found, trained and
# saved. MySequential above already does exactly that.
ListSequential = MySequential


class Parallel(keras.Model):
    """Feeds X to both networks and joins their outputs feature-wise."""

    def __init__(self, net1, net2):
        super().__init__()
        self.net1 = net1
        self.net2 = net2

    def call(self, X):
        return ops.concatenate([self.net1(X), self.net2(X)], axis=-1)


def chain_copies(make_net, n):
    """Chain ``n`` fresh networks, each built by calling ``make_net()``."""
    return keras.Sequential([make_net() for _ in range(n)])


def chain_shared(net, n):
    """Chain one network ``n`` times: Keras lists its weights once, so every use shares them."""
    return keras.Sequential([net for _ in range(n)])


# Checks for the exercises: each runs the reader's answer and prints a verdict

_SUPER = ("call super().__init__() first in __init__: it sets up Keras's tracking of layers "
          "and weights.")

EXERCISES = Framework(
    name="Keras", isolated=contextlib.nullcontext,
    # From NumPy, so that the check draws nothing from the reader's Keras seed.
    batch=lambda: ops.convert_to_tensor(numpy.random.default_rng(SEED).random(BATCH_SHAPE), "float32"),
    dense=lambda inputs, outputs: keras.layers.Dense(outputs), relu=keras.layers.ReLU,
    sequential=keras.Sequential, mlp=MLP, contain=lambda container, layers: container(*layers),
    run=lambda net, X: net(X), count=lambda net, X: count_parameters(net),
    register=("Keras tracks the layers assigned to a model's attributes, lists included: "
              "keep them in an attribute of self."),
    clues=(Clue(AttributeError, r"`Model.layers` attribute is reserved",
                "keras.Model already owns `layers`, its list of tracked sublayers: store yours "
                "under another name, such as `chain`."),
           Clue((AttributeError, RuntimeError), r"has no attribute '_|forgot to call `super", _SUPER)),
)
check_list_sequential = EXERCISES.check_list_sequential
check_parallel = EXERCISES.check_parallel
check_chain = EXERCISES.check_chain


# The chapter's figures

def module_tree(net):
    """The layers Keras tracks inside ``net`` and the weights each one owns, as a tree.

    Nodes are named by ``layer.name``; each weight's full name is its
    ``path``, as ``net.weights`` prints it.
    """
    def node(layer):
        # Keras's own walk over tracked sublayers: a Layer has no public one.
        sublayers = [sub for sub in layer._flatten_layers(include_self=False, recursive=False)
                     if not isinstance(sub, keras.layers.InputLayer)]
        nested = {id(w) for sub in sublayers for w in sub.weights}
        variables = [Variable(w.name, w.path, tuple(w.shape), w.trainable)
                     for w in layer.weights if id(w) not in nested]
        return Node(layer.name, type(layer).__name__, variables, [node(sub) for sub in sublayers])
    return ModuleTree(node(net))
