"""Behaviour of the chapter's teaching library, one section per framework.

Each section skips itself when its framework is missing, so the MXNet tests
run only in the MXNet environment and the others only in the main one.
"""

import importlib
import os
import warnings

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from layers_modules import BATCH_SHAPE, SEED  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def drawn(tree):
    """What a module-tree figure shows, read back from its SVG.

    {full name in the box's tooltip: (visible label, kind)} for every variable
    box; boxes the framework never sees have no tooltip and are keyed
    "hidden: LABEL".
    """
    from xml.etree import ElementTree
    boxes = {}
    for group in ElementTree.fromstring(tree.svg()).iter(f"{SVG}g"):
        css = group.get("class", "").split()
        if "variable" in css:
            title, label = group.find(f"{SVG}title"), group.find(f"{SVG}text").text
            boxes[title.text if title is not None else f"hidden: {label}"] = (label, css[1])
    return boxes


def spelt(tree, separator):
    """{full name: the name spelt from the drawn tree}: module names on the way down, then the variable's."""
    names = {}

    def walk(node, prefix):
        for variable in node.variables:
            if not node.hidden:
                names[variable.path] = separator.join(prefix + [variable.name])
        for child in node.children:
            walk(child, prefix + [child.name])

    walk(tree.root, [])
    return names


def shape_label(name, shape):
    return f"{name} {tuple(int(n) for n in shape)}"


def _library(framework, key):
    """Import a framework (or skip) and then the library's module for it."""
    with warnings.catch_warnings():
        # mxnet 1.9 trips over its own deprecated numpy/distutils uses.
        warnings.simplefilter("ignore", DeprecationWarning)
        pytest.importorskip(framework, reason=f"{framework} lives in another environment; "
                            "tests/test_mxnet.py runs these tests there")
        return importlib.import_module(f"layers_modules.{key}")


# ---------------------------------------------------------------- PyTorch

@pytest.fixture(scope="module")
def T():
    return _library("torch", "pytorch")


@pytest.fixture
def torch_X(T):
    import torch
    torch.manual_seed(SEED)
    return T.random_batch()


def test_torch_mlp_and_mysequential(T, torch_X):
    from torch import nn
    assert tuple(torch_X.shape) == BATCH_SHAPE
    assert 0 <= torch_X.min() and torch_X.max() < 1
    mlp = T.MLP()
    seq = T.MySequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
    assert mlp(torch_X).shape == (2, 10)
    assert seq(torch_X).shape == (2, 10)
    # Registration lets PyTorch find the children's parameters.
    assert T.count_parameters(seq) == T.count_parameters(mlp) == 20 * 256 + 256 + 256 * 10 + 10
    assert [name for name, _ in seq.named_children()] == ["0", "1", "2"]


def test_torch_two_mlps_differ(T):
    import torch
    torch.manual_seed(SEED)
    a, b = T.MLP(), T.MLP()
    assert not torch.equal(a.hidden.weight, b.hidden.weight)


def test_torch_fixed_hidden_mlp(T, torch_X):
    net = T.FixedHiddenMLP()
    names = [name for name, _ in net.named_parameters()]
    assert "rand_weight" not in names
    assert "rand_weight" in net.state_dict()  # a buffer: saved, not trained
    assert T.count_parameters(net) == 20 * 20 + 20  # shared layer counted once
    y = net(torch_X)
    assert y.ndim == 0
    y.backward()
    assert net.linear.weight.grad is not None


def test_torch_chimera_is_scalar_and_seeded(T):
    import torch
    outs = []
    for _ in range(2):
        torch.manual_seed(SEED)
        X = T.random_batch()
        outs.append(T.chimera()(X))
    assert outs[0].ndim == 0
    assert torch.equal(outs[0], outs[1])


def test_torch_list_sequential_hides_parameters(T, torch_X):
    from torch import nn
    net = T.PlainListSequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
    assert net(torch_X).shape == (2, 10)  # it runs ...
    assert list(net.parameters()) == []    # ... but PyTorch sees nothing
    assert net.state_dict() == {}


def test_torch_module_tree_draws_what_pytorch_walks(T):
    from torch import nn
    net = T.chimera()
    tree = T.module_tree(net)
    boxes = drawn(tree)
    state = net.state_dict()  # what torch.save writes: every parameter and buffer
    assert set(boxes) == set(state)
    for name, (label, kind) in boxes.items():
        assert label == shape_label(name.rsplit(".", 1)[1], state[name].shape)
        assert kind == ("constant" if name == "2.rand_weight" else "trainable")
    assert all(name == spelling for name, spelling in spelt(tree, ".").items())
    # A plain list hides its modules: drawn, but dashed and without a name PyTorch knows.
    hidden = drawn(T.module_tree(T.PlainListSequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))))
    assert set(hidden) == {"hidden: weight (256, 20)", "hidden: bias (256,)",
                           "hidden: weight (10, 256)", "hidden: bias (10,)"}
    assert {kind for _, kind in hidden.values()} == {"hidden"}


def test_torch_parallel_and_chain_copies(T, torch_X):
    from torch import nn
    net = T.Parallel(T.MLP(), nn.Linear(20, 5))
    assert net(torch_X).shape == (2, 15)
    chain = T.chain_copies(lambda: nn.Linear(20, 20), 3)
    assert chain(torch_X).shape == (2, 20)
    assert len(chain) == 3
    assert T.count_parameters(chain) == 3 * (20 * 20 + 20)
    ptrs = {p.data_ptr() for p in chain.parameters()}
    assert len(ptrs) == 6


# ------------------------------------------------------------ Flax Linen

@pytest.fixture(scope="module")
def J():
    return _library("flax", "jax")


@pytest.fixture
def jax_X(J):
    import jax
    return J.random_batch(jax.random.key(SEED))


def _init_apply(net, X, seed=SEED):
    import jax
    variables = net.init(jax.random.key(seed), X)
    return variables, net.apply(variables, X)


def test_linen_mlp_and_mysequential(J, jax_X):
    from flax import linen as nn
    assert jax_X.shape == BATCH_SHAPE
    assert 0 <= jax_X.min() and jax_X.max() < 1
    v_mlp, y = _init_apply(J.MLP(), jax_X)
    assert y.shape == (2, 10)
    v_seq, y = _init_apply(J.MySequential([nn.Dense(256), nn.relu, nn.Dense(10)]), jax_X)
    assert y.shape == (2, 10)
    assert J.count_parameters(v_seq) == J.count_parameters(v_mlp) == 20 * 256 + 256 + 256 * 10 + 10


def test_linen_two_mlps_differ(J, jax_X):
    import jax
    import numpy as onp
    net = J.MLP()
    a = net.init(jax.random.key(0), jax_X)
    b = net.init(jax.random.key(1), jax_X)
    assert not onp.array_equal(a["params"]["hidden"]["kernel"], b["params"]["hidden"]["kernel"])


def test_linen_compact_mlp_builds_the_same_variables(J, jax_X):
    import jax
    import numpy as onp
    setup_form = J.MLP().init(jax.random.key(SEED), jax_X)
    compact_form = J.CompactMLP().init(jax.random.key(SEED), jax_X)
    assert jax.tree.map(onp.shape, setup_form) == jax.tree.map(onp.shape, compact_form)


def test_linen_python_loop_runs_under_apply_and_fails_under_jit(J, jax_X):
    import jax
    eager, fixed = J.EagerFixedHiddenMLP(), J.FixedHiddenMLP()
    variables = eager.init(jax.random.key(SEED), jax_X)
    y = eager.apply(variables, jax_X)
    grads = jax.grad(lambda p: eager.apply({**variables, "params": p}, jax_X))(variables["params"])
    assert grads["dense"]["kernel"].shape == (20, 20)
    with pytest.raises(jax.errors.TracerBoolConversionError):
        jax.jit(eager.apply)(variables, jax_X)
    assert jax.jit(fixed.apply)(variables, jax_X) == pytest.approx(float(y), rel=1e-6)


def test_linen_module_tree_draws_the_variables_init_returns(J, jax_X):
    import jax
    from flax import traverse_util
    net = J.chimera()
    tree = J.module_tree(net, jax_X)
    variables = net.init(jax.random.key(SEED), jax_X)
    flat = {"/".join(path): leaf for path, leaf in traverse_util.flatten_dict(variables).items()}
    boxes = drawn(tree)
    assert set(boxes) == set(flat)
    for name, (label, kind) in boxes.items():
        assert label == shape_label(name.rsplit("/", 1)[1], flat[name].shape)
        assert kind == ("trainable" if name.startswith("params/") else "constant")
    assert all(name.split("/", 1)[1] == spelling for name, spelling in spelt(tree, "/").items())


def test_linen_fixed_hidden_mlp_under_jit(J, jax_X):
    import jax
    net = J.FixedHiddenMLP()
    variables = net.init(jax.random.key(SEED), jax_X)
    assert set(variables) == {"params", "constants"}
    assert variables["constants"]["rand_weight"].shape == (20, 20)
    assert "rand_weight" not in variables["params"]
    assert J.count_parameters(variables) == 20 * 20 + 20  # one dense layer
    y = net.apply(variables, jax_X)
    assert y.shape == ()
    assert jax.jit(net.apply)(variables, jax_X) == pytest.approx(float(y), rel=1e-6)
    # Gradients w.r.t. the trainable params go through the loop, under jit too.
    grads = jax.jit(jax.grad(
        lambda p: net.apply({**variables, "params": p}, jax_X)))(variables["params"])
    assert grads["dense"]["kernel"].shape == (20, 20)


def test_linen_chimera_is_scalar_and_seeded(J, jax_X):
    import jax
    (variables, y1), (_, y2) = [_init_apply(J.chimera(), jax_X) for _ in range(2)]
    assert y1.shape == ()
    assert y1 == y2
    assert jax.jit(J.chimera().apply)(variables, jax_X) == pytest.approx(float(y1), rel=1e-6)


def test_linen_list_sequential_is_tracked(J, jax_X):
    from flax import linen as nn
    # Linen registers the modules of a list: nothing goes wrong.
    variables, y = _init_apply(J.ListSequential([nn.Dense(256), nn.relu, nn.Dense(10)]), jax_X)
    assert y.shape == (2, 10)
    assert sorted(variables["params"]) == ["layers_0", "layers_2"]


def test_linen_parallel_and_chain_copies(J, jax_X):
    import numpy as onp
    from flax import linen as nn
    _, y = _init_apply(J.Parallel(J.MLP(), nn.Dense(5)), jax_X)
    assert y.shape == (2, 15)
    variables, y = _init_apply(J.chain_copies(lambda: nn.Dense(20), 3), jax_X)
    assert y.shape == (2, 20)
    params = variables["params"]
    assert sorted(params) == ["layers_0", "layers_1", "layers_2"]
    assert J.count_parameters(variables) == 3 * (20 * 20 + 20)
    kernels = [params[f"layers_{i}"]["kernel"] for i in range(3)]
    assert not onp.array_equal(kernels[0], kernels[1])
    assert not onp.array_equal(kernels[1], kernels[2])


# -------------------------------------------------------------- Flax NNX

@pytest.fixture(scope="module")
def N():
    return _library("flax", "nnx")


def test_nnx_mlp_and_mysequential(N, jax_X):
    from flax import nnx
    rngs = nnx.Rngs(SEED)
    mlp = N.MLP(rngs)
    seq = N.MySequential(nnx.Linear(20, 256, rngs=rngs), nnx.relu,
                         nnx.Linear(256, 10, rngs=rngs))
    assert mlp(jax_X).shape == (2, 10)
    assert seq(jax_X).shape == (2, 10)
    assert N.count_parameters(seq) == N.count_parameters(mlp) == 20 * 256 + 256 + 256 * 10 + 10


def test_nnx_two_mlps_differ(N):
    import numpy as onp
    from flax import nnx
    rngs = nnx.Rngs(SEED)
    a, b = N.MLP(rngs), N.MLP(rngs)
    assert not onp.array_equal(a.hidden.kernel[...], b.hidden.kernel[...])


def test_nnx_fixed_hidden_mlp_under_jit(N, jax_X):
    from flax import nnx
    net = N.FixedHiddenMLP(nnx.Rngs(SEED))
    assert not isinstance(net.rand_weight, nnx.Param)
    assert "rand_weight" not in nnx.state(net, nnx.Param)
    assert "rand_weight" in nnx.state(net)
    assert N.count_parameters(net) == 20 * 20 + 20  # one shared layer
    y = net(jax_X)
    assert y.shape == ()
    assert nnx.jit(lambda m, x: m(x))(net, jax_X) == pytest.approx(float(y), rel=1e-6)
    grads = nnx.jit(nnx.grad(lambda m, x: m(x)))(net, jax_X)
    assert grads.linear.kernel.shape == (20, 20)
    assert "rand_weight" not in grads  # nnx.grad differentiates Params only


def test_nnx_python_loop_runs_eagerly_and_fails_under_jit(N, jax_X):
    import jax
    from flax import nnx
    eager, fixed = N.EagerFixedHiddenMLP(nnx.Rngs(SEED)), N.FixedHiddenMLP(nnx.Rngs(SEED))
    y = eager(jax_X)
    assert nnx.grad(lambda m: m(jax_X))(eager).linear.kernel.shape == (20, 20)
    with pytest.raises(jax.errors.TracerBoolConversionError):
        nnx.jit(lambda m, x: m(x))(eager, jax_X)
    assert nnx.jit(lambda m, x: m(x))(fixed, jax_X) == pytest.approx(float(y), rel=1e-6)


def test_nnx_module_tree_draws_the_state_nnx_walks(N):
    from flax import nnx
    net = N.chimera(nnx.Rngs(SEED))
    tree = N.module_tree(net)
    flat = {"/".join(map(str, path)): variable
            for path, variable in nnx.to_flat_state(nnx.state(net))}
    boxes = drawn(tree)
    assert set(boxes) == set(flat)
    for name, (label, kind) in boxes.items():
        assert label == shape_label(name.rsplit("/", 1)[1], flat[name][...].shape)
        assert kind == ("trainable" if isinstance(flat[name], nnx.Param) else "constant")
    assert all(name == spelling for name, spelling in spelt(tree, "/").items())


def test_nnx_chimera_is_scalar_and_seeded(N, jax_X):
    from flax import nnx
    outs = [N.chimera(nnx.Rngs(SEED))(jax_X) for _ in range(2)]
    assert outs[0].shape == ()
    assert outs[0] == outs[1]
    assert nnx.jit(lambda m, x: m(x))(N.chimera(nnx.Rngs(SEED)), jax_X).shape == ()


def test_nnx_list_sequential_raises(N):
    from flax import nnx
    rngs = nnx.Rngs(SEED)
    with pytest.raises(ValueError, match=r"nnx\.List"):
        N.PlainListSequential(nnx.Linear(20, 256, rngs=rngs), nnx.relu,
                         nnx.Linear(256, 10, rngs=rngs))


def test_nnx_parallel_and_chain_copies(N, jax_X):
    import numpy as onp
    from flax import nnx
    rngs = nnx.Rngs(SEED)
    assert N.Parallel(N.MLP(rngs), nnx.Linear(20, 5, rngs=rngs))(jax_X).shape == (2, 15)
    chain = N.chain_copies(lambda: nnx.Linear(20, 20, rngs=rngs), 3)
    assert chain(jax_X).shape == (2, 20)
    assert N.count_parameters(chain) == 3 * (20 * 20 + 20)
    kernels = [layer.kernel[...] for layer in chain.layers]
    assert len(kernels) == 3
    assert not onp.array_equal(kernels[0], kernels[1])
    assert not onp.array_equal(kernels[1], kernels[2])


# -------------------------------------------------------------- Keras 3

@pytest.fixture(scope="module")
def K():
    return _library("keras", "tensorflow")


@pytest.fixture
def keras_X(K):
    import keras
    keras.utils.set_random_seed(SEED)
    return K.random_batch()


def test_keras_mlp_and_mysequential(K, keras_X):
    import keras
    from keras import ops
    assert tuple(keras_X.shape) == BATCH_SHAPE
    assert float(ops.min(keras_X)) >= 0 and float(ops.max(keras_X)) < 1
    mlp = K.MLP()
    seq = K.MySequential(keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10))
    assert tuple(mlp(keras_X).shape) == (2, 10)
    assert tuple(seq(keras_X).shape) == (2, 10)
    assert K.count_parameters(seq) == K.count_parameters(mlp) == 20 * 256 + 256 + 256 * 10 + 10


def test_keras_two_mlps_differ(K, keras_X):
    import numpy as onp
    a, b = K.MLP(), K.MLP()
    a(keras_X), b(keras_X)
    assert not onp.array_equal(a.hidden.kernel.numpy(), b.hidden.kernel.numpy())


def test_keras_fixed_hidden_mlp(K, keras_X):
    import tensorflow as tf
    net = K.FixedHiddenMLP()
    y = net(keras_X)
    assert tuple(y.shape) == ()
    assert [w.path for w in net.non_trainable_weights] == [net.rand_weight.path]
    assert all(w is not net.rand_weight for w in net.trainable_weights)
    assert K.count_parameters(net) == 20 * 20 + 20  # shared layer counted once
    # The loop also runs traced, and gradients go through it.
    assert float(tf.function(net)(keras_X)) == pytest.approx(float(y), rel=1e-6)
    with tf.GradientTape() as tape:
        y = net(keras_X)
    grads = tape.gradient(y, net.trainable_weights)
    assert all(g is not None for g in grads)


def test_keras_python_loop_runs_eagerly_and_fails_when_traced(K, keras_X):
    import keras
    import tensorflow as tf
    from keras import ops
    eager = K.EagerFixedHiddenMLP()
    float(eager(keras_X))  # a direct call runs eagerly
    eager.compile(optimizer="sgd", loss="mse")
    with pytest.raises(tf.errors.OperatorNotAllowedInGraphError):
        eager.fit(keras_X, ops.zeros(2), verbose=0)  # the train step is a tf.function
    with pytest.raises(tf.errors.OperatorNotAllowedInGraphError):
        tf.function(eager, autograph=True)(keras_X)  # AutoGraph does not reach into __call__
    with pytest.raises(tf.errors.OperatorNotAllowedInGraphError):
        keras.Sequential([eager])(keras_X)  # Sequential builds by tracing
    fixed = K.FixedHiddenMLP()
    fixed.compile(optimizer="sgd", loss="mse")
    assert len(fixed.fit(keras_X, ops.zeros(2), verbose=0).history["loss"]) == 1


def test_keras_inner_blocks_are_layers_models_are_models(K):
    import keras
    assert not issubclass(K.NestMLP, keras.Model) and issubclass(K.NestMLP, keras.layers.Layer)
    assert all(issubclass(cls, keras.Model) for cls in (K.MLP, K.MySequential, K.FixedHiddenMLP, K.Parallel))


def test_keras_module_tree_draws_the_weights_keras_tracks(K, keras_X):
    net = K.chimera()
    net(keras_X)
    weights = {w.path: w for w in net.weights}
    boxes = drawn(K.module_tree(net))
    assert set(boxes) == set(weights)
    for name, (label, kind) in boxes.items():
        assert label == shape_label(weights[name].name, weights[name].shape)
        assert kind == ("trainable" if weights[name].trainable else "constant")


def test_keras_chimera_traces_in_sequential(K):
    import keras
    outs = []
    for _ in range(2):
        keras.utils.set_random_seed(SEED)
        X = K.random_batch()
        net = K.chimera()
        assert isinstance(net, keras.Sequential)
        outs.append(float(net(X)))  # Sequential builds by tracing its layers
    assert outs[0] == outs[1]
    assert len(net.non_trainable_weights) == 1


def test_keras_list_sequential_is_tracked(K, keras_X):
    import keras
    # Keras 3 wraps the list and tracks its layers: nothing goes wrong.
    net = K.ListSequential(keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10))
    assert tuple(net(keras_X).shape) == (2, 10)
    assert len(net.layers) == 2
    assert len(net.trainable_weights) == 4


def test_keras_parallel_and_chain_copies(K, keras_X):
    import keras
    net = K.Parallel(K.MLP(), keras.layers.Dense(5))
    assert tuple(net(keras_X).shape) == (2, 15)
    chain = K.chain_copies(lambda: keras.layers.Dense(20), 3)
    assert tuple(chain(keras_X).shape) == (2, 20)
    assert len(chain.layers) == 3
    assert K.count_parameters(chain) == 3 * (20 * 20 + 20)
    assert len({id(w) for w in chain.trainable_weights}) == 6


# --------------------------------------------------------- MXNet Gluon

@pytest.fixture(scope="module")
def M():
    return _library("mxnet", "mxnet")


@pytest.fixture
def mx_X(M):
    import mxnet as mx
    mx.random.seed(SEED)
    return M.random_batch()


def test_mxnet_mlp_and_mysequential(M, mx_X):
    from mxnet.gluon import nn
    assert mx_X.shape == BATCH_SHAPE
    mlp = M.MLP()
    mlp.initialize()
    seq = M.MySequential()
    seq.add(nn.Dense(256, activation="relu"), nn.Dense(10))
    seq.initialize()
    assert mlp(mx_X).shape == (2, 10)
    assert seq(mx_X).shape == (2, 10)
    assert M.count_parameters(seq) == M.count_parameters(mlp) == 20 * 256 + 256 + 256 * 10 + 10


def test_mxnet_two_mlps_differ(M, mx_X):
    a, b = M.MLP(), M.MLP()
    for net in (a, b):
        net.initialize()
        net(mx_X)
    assert not (a.hidden.weight.data() == b.hidden.weight.data()).all()


def test_mxnet_fixed_hidden_mlp(M, mx_X):
    net = M.FixedHiddenMLP()
    net.initialize()
    y = net(mx_X)
    assert y.shape == ()
    assert net.rand_weight.grad_req == "null"
    assert M.count_parameters(net) == 20 * 20 + 20  # shared layer counted once


def test_mxnet_chimera_is_scalar_and_seeded(M):
    import mxnet as mx
    outs = []
    for _ in range(2):
        mx.random.seed(SEED)
        X = M.random_batch()
        net = M.chimera()
        net.initialize()
        outs.append(float(net(X)))
    assert outs[0] == outs[1]


def test_mxnet_list_sequential_fails(M, mx_X):
    from mxnet.gluon import nn
    net = M.PlainListSequential(nn.Dense(256, activation="relu"), nn.Dense(10))
    with pytest.warns(UserWarning, match="unregistered container"):
        net.initialize()
    with pytest.raises(RuntimeError, match="has not been initialized"):
        net(mx_X)


def test_mxnet_module_tree_draws_what_gluon_collects(M, mx_X):
    from mxnet.gluon import nn
    net = M.chimera()
    net.initialize()
    net(mx_X)
    params = net.collect_params()
    boxes = drawn(M.module_tree(net))
    assert set(boxes) == set(params.keys())
    for name, (label, kind) in boxes.items():
        assert label == shape_label(name, params[name].shape)
        assert kind == ("constant" if params[name].grad_req == "null" else "trainable")
    hidden = M.PlainListSequential(nn.Dense(256, activation="relu"), nn.Dense(10))
    boxes = drawn(M.module_tree(hidden))
    assert len(boxes) == 4 and all(key.startswith("hidden: ") for key in boxes)
    assert list(hidden.collect_params().keys()) == []


def test_mxnet_parallel_and_chain_copies(M, mx_X):
    from mxnet.gluon import nn
    net = M.Parallel(M.MLP(), nn.Dense(5))
    net.initialize()
    assert net(mx_X).shape == (2, 15)
    chain = M.chain_copies(lambda: nn.Dense(20), 3)
    chain.initialize()
    assert chain(mx_X).shape == (2, 20)
    assert len(chain) == 3
    assert M.count_parameters(chain) == 3 * (20 * 20 + 20)
    weights = [block.weight.data() for block in chain]
    assert not (weights[0] == weights[1]).all()
