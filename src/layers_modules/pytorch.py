"""The chapter's modules in PyTorch.

Seed first with ``torch.manual_seed(SEED)``; everything here then repeats.
"""

import torch
from torch import nn
from torch.nn import functional as F

from layers_modules import BATCH_SHAPE
from layers_modules._checks import Clue, Framework
from layers_modules._tree import ModuleTree, Node, Variable

__all__ = [
    "random_batch", "count_parameters", "MLP", "MySequential",
    "FixedHiddenMLP", "NestMLP", "chimera", "PlainListSequential", "ListSequential", "Parallel",
    "chain_copies", "chain_shared", "check_list_sequential", "check_parallel", "check_chain",
    "module_tree",
]


def random_batch():
    """Return a (2, 20) batch, uniform in [0, 1), from torch's global RNG."""
    return torch.rand(BATCH_SHAPE)


def count_parameters(net):
    """Number of trainable scalars; a shared parameter is counted once."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


class MLP(nn.Module):
    """A hidden layer of 256 units with ReLU, then 10 outputs."""

    def __init__(self):
        super().__init__()  # sets up the bookkeeping of child modules
        self.hidden = nn.Linear(20, 256)
        self.out = nn.Linear(256, 10)

    def forward(self, X):
        return self.out(F.relu(self.hidden(X)))


class MySequential(nn.Module):
    """Runs its modules one after another, in the order given."""

    def __init__(self, *modules):
        super().__init__()
        for idx, module in enumerate(modules):
            self.add_module(str(idx), module)  # register as a child

    def forward(self, X):
        for module in self.children():
            X = module(X)
        return X


class FixedHiddenMLP(nn.Module):
    """Mixes a constant weight, a shared layer and Python control flow."""

    def __init__(self):
        super().__init__()
        # A buffer is saved and moved with the module but is never trained.
        self.register_buffer("rand_weight", torch.rand(20, 20))
        self.linear = nn.Linear(20, 20)

    def forward(self, X):
        X = self.linear(X)
        X = F.relu(X @ self.rand_weight + 1)
        X = self.linear(X)  # the same layer again: its parameters are shared
        while X.abs().sum() > 1:
            X = X / 2
        return X.sum()


class NestMLP(nn.Module):
    """A Sequential inside a custom module."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(),
                                 nn.Linear(64, 32), nn.ReLU())
        self.linear = nn.Linear(32, 16)

    def forward(self, X):
        return self.linear(self.net(X))


def chimera():
    """Nested modules of every kind in one nn.Sequential; returns a scalar."""
    return nn.Sequential(NestMLP(), nn.Linear(16, 20), FixedHiddenMLP())


# Exercise solutions

class PlainListSequential(nn.Module):
    """Broken on purpose: a plain list hides its modules from PyTorch.

    It runs, but ``parameters()``, ``state_dict()`` and ``.to()`` see nothing.
    """

    def __init__(self, *modules):
        super().__init__()
        self.layers = list(modules)

    def forward(self, X):
        for module in self.layers:
            X = module(X)
        return X


class ListSequential(nn.Module):
    """A list PyTorch walks: nn.ModuleList registers every module in it."""

    def __init__(self, *modules):
        super().__init__()
        self.layers = nn.ModuleList(modules)

    def forward(self, X):
        for module in self.layers:
            X = module(X)
        return X


class Parallel(nn.Module):
    """Feeds X to both networks and joins their outputs feature-wise."""

    def __init__(self, net1, net2):
        super().__init__()
        self.net1 = net1
        self.net2 = net2

    def forward(self, X):
        return torch.cat((self.net1(X), self.net2(X)), dim=1)


def chain_copies(make_net, n):
    """Chain ``n`` fresh networks, each built by calling ``make_net()``."""
    return nn.Sequential(*(make_net() for _ in range(n)))


def chain_shared(net, n):
    """Chain one network ``n`` times: every use shares its parameters."""
    return nn.Sequential(*(net for _ in range(n)))


# Checks for the exercises: each runs the reader's answer and prints a verdict

def _run(net, X):
    return net(X)


EXERCISES = Framework(
    name="PyTorch", isolated=torch.random.fork_rng, batch=random_batch,
    dense=nn.Linear, relu=nn.ReLU, sequential=lambda layers: nn.Sequential(*layers), mlp=MLP,
    contain=lambda container, layers: container(*layers), run=_run,
    count=lambda net, X: count_parameters(net),
    register=("PyTorch finds the modules assigned to attributes or passed to add_module; a "
              "plain list hides them. Keep them in an nn.ModuleList, a list that registers them."),
    clues=(Clue(AttributeError, r"before Module.__init__\(\) call",
                "call super().__init__() first in __init__: it creates the registry that "
                "assigning a module to self fills."),),
)
check_list_sequential = EXERCISES.check_list_sequential
check_parallel = EXERCISES.check_parallel
check_chain = EXERCISES.check_chain


# The chapter's figures

def module_tree(net):
    """The tree PyTorch walks to find parameters and buffers, drawn as a figure.

    Children come from ``named_children()``, as in ``parameters()`` and
    ``state_dict()``, whose names the figure prints. Modules kept in a plain
    list or tuple attribute are drawn dashed: PyTorch's walk never reaches them.
    """
    return ModuleTree(_node(net, "", ""))


def _node(module, name, prefix, hidden=False):
    tensors = [(n, t, t.requires_grad) for n, t in module.named_parameters(recurse=False)]
    tensors += [(n, t, False) for n, t in module.named_buffers(recurse=False)]
    variables = [Variable(n, "" if hidden else prefix + n, tuple(t.shape), trainable)
                 for n, t, trainable in tensors]
    children = [_node(child, n, f"{prefix}{n}.", hidden) for n, child in module.named_children()]
    for attribute, value in vars(module).items():
        if isinstance(value, (list, tuple)) and any(isinstance(v, nn.Module) for v in value):
            children.append(Node(attribute, type(value).__name__, hidden=True, children=[
                _node(v, str(i), "", hidden=True) for i, v in enumerate(value)]))
    return Node(name, type(module).__name__, variables, children, hidden)
