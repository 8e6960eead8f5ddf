"""The exercises' checks, run on real attempts in each framework's own kernel.

For every exercise and framework: the reference solution passes, an untouched
scaffold is "not answered yet", and typical wrong attempts each get their own
hint. A check prints one or two lines and never a traceback.
"""

from __future__ import annotations

import textwrap

import pytest
from jupyter_client.manager import start_new_kernel

from bookmachine import config as book_config
from conftest import ROOT

CONFIG = book_config.load(ROOT)
NOT_ANSWERED = "not answered yet"

# Per framework: set-up code, then {attempt: (code, expected fragments of what the check prints)}.
SETUP = {
    "pytorch": "import torch\nfrom torch import nn\nfrom layers_modules.pytorch import *\n",
    "jax": "from collections.abc import Callable, Sequence\nimport jax\nfrom jax import numpy as jnp\n"
           "from flax import linen as nn\nfrom layers_modules.jax import *\n",
    "nnx": "import jax\nfrom jax import numpy as jnp\nfrom flax import nnx\nfrom layers_modules.nnx import *\n",
    "tensorflow": "import keras\nfrom keras import ops\nfrom layers_modules.tensorflow import *\n",
    "mxnet": "from mxnet import np, npx\nfrom mxnet.gluon import nn\nnpx.set_np()\n"
             "from layers_modules.mxnet import *\n",
}

RIGHT_1 = ("Exercise 1: right.", "finds all 7946 parameters")
RIGHT_2 = ("Exercise 2: right.", "(2, 15)", "8051")
RIGHT_3 = ("Exercise 3: right.", "1260", "420")
SHARED_NOT_COPIED = ("Exercise 3: not yet.", "holds 420 parameters, not 3 x 420 = 1260",
                     "Hint: Call make_net() once per copy")
COPIED_NOT_SHARED = ("Exercise 3: not yet.", "chain_shared(net, 3) holds 1260", "build nothing new")
AXIS = ("Exercise 2: your code raised", "Hint: Put the two outputs side by side along the feature axis")
ADDED = ("Exercise 2: your code raised", "Hint: Join the two outputs side by side")


def scaffold(header: str, init: str, call: str) -> str:
    return f"{header}\n    def __init__{init}:\n        raise NotImplementedError\n\n" \
           f"    def {call}(self, X):\n        raise NotImplementedError\n"


ATTEMPTS = {
    "pytorch": {
        "scaffold 1": (scaffold("class Answer(nn.Module):", "(self, *modules)", "forward")
                       + "check_list_sequential(Answer)", (NOT_ANSWERED,)),
        "solution 1": ("check_list_sequential(ListSequential)", RIGHT_1),
        "plain list": ("check_list_sequential(PlainListSequential)",
                       ("Exercise 1: not yet.", "PyTorch finds 0 of the 7946", "nn.ModuleList")),
        "no super().__init__()": ("""
            class Answer(nn.Module):
                def __init__(self, *modules):
                    self.layers = nn.ModuleList(modules)
            check_list_sequential(Answer)""",
            ("raised AttributeError", "self.layers = nn.ModuleList(modules)", "super().__init__() first")),
        "solution 2": ("check_parallel(Parallel)", RIGHT_2),
        "batch axis": ("""
            class Answer(Parallel):
                def forward(self, X):
                    return torch.cat((self.net1(X), self.net2(X)), dim=0)
            check_parallel(Answer)""", AXIS),
        "added": ("""
            class Answer(Parallel):
                def forward(self, X):
                    return self.net1(X) + self.net2(X)
            check_parallel(Answer)""", ADDED),
        "networks in a plain list": ("""
            class Answer(nn.Module):
                def __init__(self, net1, net2):
                    super().__init__()
                    self.nets = [net1, net2]
                def forward(self, X):
                    return torch.cat([net(X) for net in self.nets], dim=1)
            check_parallel(Answer)""", ("Exercise 2: not yet.", "finds 0 of the 8051", "nn.ModuleList")),
        "solution 3": ("check_chain(chain_copies, chain_shared)", RIGHT_3),
        "one instance reused": ("""
            def reused(make_net, n):
                net = make_net()
                return nn.Sequential(*(net for _ in range(n)))
            check_chain(reused, chain_shared)""", SHARED_NOT_COPIED),
        "copies where sharing was asked": (
            "check_chain(chain_copies, lambda net, n: chain_copies(lambda: nn.Sequential("
            "nn.Linear(20, 20), nn.ReLU()), n))", COPIED_NOT_SHARED),
    },
    "jax": {
        "scaffold 1": ("""
            class Answer(nn.Module):
                layers: Sequence[Callable]
                def __call__(self, X):
                    raise NotImplementedError
            check_list_sequential(Answer)""", (NOT_ANSWERED,)),
        "solution 1": ("check_list_sequential(ListSequential)", RIGHT_1),
        "no dataclass field": ("""
            class Answer(nn.Module):
                def __call__(self, X):
                    for layer in self.layers:
                        X = layer(X)
                    return X
            check_list_sequential(Answer)""", ("raised TypeError", "Hint: Declare the layers as a dataclass field")),
        "returns its input": ("""
            class Answer(nn.Module):
                layers: Sequence[Callable]
                def __call__(self, X):
                    for layer in self.layers:
                        layer(X)
                    return X
            check_list_sequential(Answer)""", ("Exercise 1: not yet.", "(2, 20), not (2, 10)", "every module in turn")),
        "solution 2": ("check_parallel(Parallel)", RIGHT_2),
        "batch axis": ("""
            class Answer(Parallel):
                def __call__(self, X):
                    return jnp.concatenate([self.net1(X), self.net2(X)], axis=0)
            check_parallel(Answer)""", AXIS),
        "added": ("""
            class Answer(Parallel):
                def __call__(self, X):
                    return self.net1(X) + self.net2(X)
            check_parallel(Answer)""", ADDED),
        "solution 3": ("check_chain(chain_copies, chain_shared)", RIGHT_3),
        "one instance reused": ("""
            def reused(make_net, n):
                net = make_net()
                return nn.Sequential([net for _ in range(n)])
            check_chain(reused, chain_shared)""", SHARED_NOT_COPIED),
        "copies where sharing was asked": (
            "check_chain(chain_copies, lambda net, n: chain_copies(lambda: nn.Sequential("
            "[nn.Dense(20), nn.relu]), n))", COPIED_NOT_SHARED),
    },
    "nnx": {
        "scaffold 1": (scaffold("class Answer(nnx.Module):", "(self, *layers)", "__call__")
                       + "check_list_sequential(Answer)", (NOT_ANSWERED,)),
        "solution 1": ("check_list_sequential(ListSequential)", RIGHT_1),
        "plain list": ("""
            class Answer(nnx.Module):
                def __init__(self, *layers):
                    self.layers = list(layers)
            check_list_sequential(Answer)""",
            ("raised ValueError", "self.layers = list(layers)", "Hint: NNX treats a plain list")),
        "returns its input": ("""
            class Answer(nnx.Module):
                def __init__(self, *layers):
                    self.layers = nnx.List(layers)
                def __call__(self, X):
                    return X
            check_list_sequential(Answer)""", ("Exercise 1: not yet.", "(2, 20), not (2, 10)")),
        "solution 2": ("check_parallel(Parallel)", RIGHT_2),
        "batch axis": ("""
            class Answer(Parallel):
                def __call__(self, X):
                    return jnp.concatenate([self.net1(X), self.net2(X)], axis=0)
            check_parallel(Answer)""", AXIS),
        "added": ("""
            class Answer(Parallel):
                def __call__(self, X):
                    return self.net1(X) + self.net2(X)
            check_parallel(Answer)""", ADDED),
        "solution 3": ("check_chain(chain_copies, chain_shared)", RIGHT_3),
        "one instance reused": ("""
            def reused(make_net, n):
                net = make_net()
                return nnx.Sequential(*(net for _ in range(n)))
            check_chain(reused, chain_shared)""", SHARED_NOT_COPIED),
        "copies where sharing was asked": (
            "check_chain(chain_copies, lambda net, n: nnx.Sequential(*(nnx.clone(net) for _ in range(n))))",
            COPIED_NOT_SHARED),
    },
    "tensorflow": {
        "scaffold 1": (scaffold("class Answer(keras.Model):", "(self, *layers)", "call")
                       + "check_list_sequential(Answer)", (NOT_ANSWERED,)),
        "solution 1": ("check_list_sequential(ListSequential)", RIGHT_1),
        "no super().__init__()": ("""
            class Answer(keras.Model):
                def __init__(self, *layers):
                    self.chain = list(layers)
                def call(self, X):
                    for layer in self.chain:
                        X = layer(X)
                    return X
            check_list_sequential(Answer)""", ("raised RuntimeError", "Hint: Call super().__init__() first")),
        "attribute named layers": ("""
            class Answer(keras.Model):
                def __init__(self, *layers):
                    super().__init__()
                    self.layers = list(layers)
            check_list_sequential(Answer)""", ("raised AttributeError", "Hint: keras.Model already owns `layers`")),
        "solution 2": ("check_parallel(Parallel)", RIGHT_2),
        "batch axis": ("""
            class Answer(Parallel):
                def call(self, X):
                    return ops.concatenate([self.net1(X), self.net2(X)], axis=0)
            check_parallel(Answer)""", AXIS),
        "added": ("""
            class Answer(Parallel):
                def call(self, X):
                    return self.net1(X) + self.net2(X)
            check_parallel(Answer)""", ADDED),
        "solution 3": ("check_chain(chain_copies, chain_shared)", RIGHT_3),
        "one instance reused": ("""
            def reused(make_net, n):
                net = make_net()
                return keras.Sequential([net for _ in range(n)])
            check_chain(reused, chain_shared)""", SHARED_NOT_COPIED),
        "copies where sharing was asked": (
            "check_chain(chain_copies, lambda net, n: chain_copies(lambda: keras.Sequential("
            "[keras.layers.Dense(20), keras.layers.ReLU()]), n))", COPIED_NOT_SHARED),
    },
    "mxnet": {
        "scaffold 1": (scaffold("class Answer(nn.Block):", "(self, *blocks)", "forward")
                       + "check_list_sequential(Answer)", (NOT_ANSWERED,)),
        "solution 1": ("check_list_sequential(ListSequential)", RIGHT_1),
        "plain list": ("check_list_sequential(PlainListSequential)",
                       ("raised RuntimeError", "has not been initialized", "register_child(block)")),
        "no super().__init__()": ("""
            class Answer(nn.Block):
                def __init__(self, *blocks):
                    self.blocks = list(blocks)
                    for block in blocks:
                        self.register_child(block)
            check_list_sequential(Answer)""", ("raised AttributeError", "Hint: Call super().__init__() first")),
        "solution 2": ("check_parallel(Parallel)", RIGHT_2),
        "batch axis": ("""
            class Answer(Parallel):
                def forward(self, X):
                    return np.concatenate((self.net1(X), self.net2(X)), axis=0)
            check_parallel(Answer)""", AXIS),
        "networks in a plain list": ("""
            class Answer(nn.Block):
                def __init__(self, net1, net2):
                    super().__init__()
                    self.nets = [net1, net2]
                def forward(self, X):
                    return np.concatenate([net(X) for net in self.nets], axis=1)
            check_parallel(Answer)""", ("Exercise 2: your code raised RuntimeError", "register_child")),
        "solution 3": ("check_chain(chain_copies, chain_shared)", RIGHT_3),
        "one instance reused": ("""
            def reused(make_net, n):
                net = make_net()
                chain = nn.Sequential()
                chain.add(*(net for _ in range(n)))
                return chain
            check_chain(reused, chain_shared)""", SHARED_NOT_COPIED),
        "copies where sharing was asked": ("""
            def block():
                net = nn.Sequential()
                net.add(nn.Dense(20), nn.Activation("relu"))
                return net
            check_chain(chain_copies, lambda net, n: chain_copies(block, n))""", COPIED_NOT_SHARED),
    },
}


@pytest.fixture(scope="module", params=[fw.key for fw in CONFIG.built])
def kernel(request):
    """The framework's own kernel, as the build runs it, with the chapter's package."""
    fw = CONFIG.framework(request.param)
    manager, client = start_new_kernel(kernel_name=fw.kernel)
    try:
        yield fw.key, lambda code: run(client, code)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run(client, code: str) -> tuple[str, list]:
    """What a cell prints to stdout, and any error or stderr it produced."""
    printed, problems = [], []

    def collect(message):
        content, kind = message["content"], message["msg_type"]
        if kind == "stream":
            (printed if content["name"] == "stdout" else problems).append(content["text"])
        elif kind == "error":
            problems.append(f"{content['ename']}: {content['evalue']}")

    reply = client.execute_interactive(textwrap.dedent(code), timeout=300, output_hook=collect)
    if reply["content"]["status"] != "ok":
        problems.append(reply["content"].get("evalue", "error"))
    return "".join(printed), problems


def test_every_attempt_gets_its_verdict_and_hint_in_the_frameworks_own_kernel(kernel):
    key, execute = kernel
    printed, problems = execute(SETUP[key])
    assert not problems, problems
    checked = []
    for name, (code, expected) in ATTEMPTS[key].items():
        printed, problems = execute(code)
        assert not problems, f"{key}, {name}: the check raised or wrote to stderr: {problems}"
        for fragment in expected:
            assert fragment in printed, f"{key}, {name}: {fragment!r} not in:\n{printed}"
        assert 1 <= len(printed.strip().splitlines()) <= 2, f"{key}, {name}: {printed}"
        checked.append(name)
    mistakes = [n for n in checked if not n.startswith(("solution", "scaffold"))]
    assert len(mistakes) >= 5, mistakes  # at least two wrong attempts per exercise, overall
