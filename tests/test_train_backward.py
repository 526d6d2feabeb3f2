"""gatcli.train.backward: hand-written gradients against central finite differences (float64),
for every parameter and the input, GAT and GATv2, every layer option."""

from __future__ import annotations

import numpy as np
import pytest
from train_data import numeric_gradient

from gatcli.forward import forward_graphs, layer_graphs
from gatcli.graph import build_graph
from gatcli.model.spec import Layer, LayerSpec, Model
from gatcli.train.backward import EdgeSums, act_grad, layer_backward, model_backward
from gatcli.train.tape import forward_tape

# 7 nodes: node 6 has no in-edge (without self-loops its aggregate is zero), a duplicate
# edge 0 -> 1 and a self-loop 3 -> 3 in the input
SOURCES = np.array([0, 0, 1, 2, 2, 3, 4, 5, 3, 0, 6, 5])
TARGETS = np.array([1, 1, 2, 0, 3, 4, 5, 4, 3, 5, 2, 1])
N, F_IN = 7, 5


def random_layer(spec: LayerSpec, rng: np.random.Generator) -> Layer:
    return Layer(spec, {k: rng.normal(0, 0.8, s) for k, s in spec.parameter_shapes().items()})


def loss_of(model: Model, x: np.ndarray, weights: np.ndarray) -> float:
    graphs = layer_graphs(model, SOURCES, TARGETS, N)  # (cheap: 7 nodes)
    out = forward_graphs(model, x, graphs, dtype=np.float64).embeddings
    return float(np.sum(out * weights))


def check_model_gradients(model: Model, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (N, F_IN))
    weights = rng.normal(0, 1, (N, model.output_dim))
    graphs = layer_graphs(model, SOURCES, TARGETS, N)
    out, tapes = forward_tape(model, x, graphs, dtype=np.float64)
    expected = forward_graphs(model, x, graphs, dtype=np.float64).embeddings
    np.testing.assert_array_equal(out, expected)  # the same forward
    sums = [EdgeSums.of(g) for g in graphs]
    grads, dx = model_backward(model, tapes, sums, weights, input_grad=True)
    for k, layer in enumerate(model.layers):
        assert set(grads[k]) == set(layer.params)
        for name, value in layer.params.items():
            numeric = numeric_gradient(lambda: loss_of(model, x, weights), value)
            assert grads[k][name].shape == value.shape
            np.testing.assert_allclose(grads[k][name], numeric, rtol=1e-5, atol=1e-7,
                                       err_msg=f"layer {k} {name}")
    numeric = numeric_gradient(lambda: loss_of(model, x, weights), x)
    np.testing.assert_allclose(dx, numeric, rtol=1e-5, atol=1e-7, err_msg="input x")


LAYER_CASES = {
    "gat-concat": {},
    "gat-mean": {"concat": False, "heads": 3},
    "gat-residual": {"residual": True},
    "gat-mean-residual": {"concat": False, "residual": True},
    "gat-no-bias": {"bias": False},
    "gat-no-self-loops": {"self_loops": False},
    "gat-slope-0": {"negative_slope": 0.0},
    "gat-slope-negative": {"negative_slope": -0.4},
    "gat-slope-big": {"negative_slope": 1.7},
    "gatv2-concat": {"kind": "gatv2"},
    "gatv2-mean": {"kind": "gatv2", "concat": False, "heads": 3},
    "gatv2-shared": {"kind": "gatv2", "share_weights": True},
    "gatv2-shared-mean-residual": {"kind": "gatv2", "share_weights": True, "concat": False,
                                   "residual": True},
    "gatv2-residual-no-bias": {"kind": "gatv2", "residual": True, "bias": False},
    "gatv2-no-self-loops": {"kind": "gatv2", "self_loops": False},
}


@pytest.mark.parametrize("options", LAYER_CASES.values(), ids=LAYER_CASES.keys())
@pytest.mark.parametrize("activation", ["elu", "none"])
def test_layer_gradients_match_finite_differences(options, activation):
    fields = {"in_dim": F_IN, "out_dim": 3, "heads": 2, "activation": activation, **options}
    spec = LayerSpec(**fields)
    check_model_gradients(Model([random_layer(spec, np.random.default_rng(1))]))


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "sigmoid"])
def test_every_activation(activation):
    spec = LayerSpec(F_IN, 2, 2, True, activation)
    check_model_gradients(Model([random_layer(spec, np.random.default_rng(2))]))


@pytest.mark.parametrize("kind", ["gat", "gatv2"])
def test_two_layer_model_chains_the_gradient(kind):
    rng = np.random.default_rng(3)
    first = LayerSpec(F_IN, 3, 2, True, "elu", kind=kind, residual=True)
    second = LayerSpec(6, 4, 2, False, "none", kind=kind, self_loops=False)
    check_model_gradients(Model([random_layer(first, rng), random_layer(second, rng)]))


@pytest.mark.parametrize("name", ["none", "elu", "relu", "leaky_relu", "tanh", "sigmoid"])
def test_activation_derivative_from_the_output(name):
    from gatcli.layer import apply_activation

    pre = np.linspace(-3, 3, 25) + 0.01
    eps = 1e-6
    numeric = (apply_activation(pre + eps, name) - apply_activation(pre - eps, name)) / (2 * eps)
    np.testing.assert_allclose(act_grad(apply_activation(pre, name), name), numeric,
                               rtol=1e-6, atol=1e-9)


def test_input_dropout_gradient_is_masked():
    """With dropout masks fixed, the gradient is that of the masked forward."""
    rng = np.random.default_rng(4)
    spec = LayerSpec(F_IN, 3, 2, True, "elu")
    model = Model([random_layer(spec, rng), random_layer(LayerSpec(6, 2, 1, False), rng)])
    x = rng.normal(0, 1, (N, F_IN))
    weights = rng.normal(0, 1, (N, 2))
    graphs = layer_graphs(model, SOURCES, TARGETS, N)
    out, tapes = forward_tape(model, x, graphs, dtype=np.float64,
                              rng=np.random.default_rng(9), input_dropout=0.5)
    grads, dx = model_backward(model, tapes, [EdgeSums.of(g) for g in graphs], weights,
                               input_grad=True)
    masks = [t.input_scale for t in tapes]
    assert all(m is not None and set(np.unique(m)) <= {0.0, 2.0} for m in masks)

    def masked_loss() -> float:  # the same masks, applied by hand around the plain layers
        h = x
        for layer, graph, mask in zip(model.layers, graphs, masks):
            h = forward_graphs(Model([layer]), h * mask, [graph],
                               dtype=np.float64).embeddings
        return float(np.sum(h * weights))

    np.testing.assert_allclose(masked_loss(), float(np.sum(out * weights)), rtol=1e-12)
    for k, layer in enumerate(model.layers):
        for name, value in layer.params.items():
            np.testing.assert_allclose(grads[k][name], numeric_gradient(masked_loss, value),
                                       rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dx, numeric_gradient(masked_loss, x), rtol=1e-5, atol=1e-7)


def test_sparse_input_gives_the_same_weight_gradient():
    import scipy.sparse as sp

    rng = np.random.default_rng(5)
    spec = LayerSpec(F_IN, 3, 2, True, "elu")
    layer = random_layer(spec, rng)
    x = rng.normal(0, 1, (N, F_IN)) * (rng.random((N, F_IN)) < 0.4)
    graph = build_graph(SOURCES, TARGETS, N)
    _, tapes = forward_tape(Model([layer]), x, [graph], dtype=np.float64)
    grad_out = rng.normal(0, 1, (N, 6))
    dense, _ = layer_backward(layer, tapes[0], EdgeSums.of(graph), grad_out)
    tapes[0].x = sp.csr_array(x)
    sparse, _ = layer_backward(layer, tapes[0], EdgeSums.of(graph), grad_out)
    for name in dense:
        np.testing.assert_allclose(sparse[name], dense[name], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["gat", "gatv2"])
def test_attention_scale_multiplies_alpha_in_the_sum_only(kind):
    from gatcli.layer import StepRecorder, gat_layer

    rng = np.random.default_rng(6)
    spec = LayerSpec(F_IN, 3, 2, True, "none", kind=kind, bias=False)
    layer = random_layer(spec, rng)
    x = rng.normal(0, 1, (N, F_IN))
    graph = build_graph(SOURCES, TARGETS, N)
    plain, alpha = gat_layer(x, graph, layer, keep_attention=True)
    same, _ = gat_layer(x, graph, layer, attention_scale=np.ones((graph.n_edges, 2)))
    np.testing.assert_array_equal(same, plain)
    scale = rng.choice([0.0, 2.5], size=(graph.n_edges, 2))
    recorder = StepRecorder()
    out, alpha_scaled = gat_layer(x, graph, layer, attention_scale=scale, recorder=recorder)
    np.testing.assert_array_equal(alpha_scaled, alpha)  # alpha itself is not scaled
    messages = recorder.get(0, "linear")  # (N, H, F')
    expected = np.zeros((N, 2, 3))
    for e, (j, i) in enumerate(zip(graph.sources, graph.targets())):
        expected[i] += (alpha[e] * scale[e])[:, None] * messages[j]
    np.testing.assert_allclose(out, expected.reshape(N, 6), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["gat", "gatv2"])
def test_attention_dropout_gradient_matches_finite_differences(kind):
    rng = np.random.default_rng(7)
    spec = LayerSpec(F_IN, 3, 2, False, "elu", kind=kind, residual=True)
    model = Model([random_layer(spec, rng)])
    x = rng.normal(0, 1, (N, F_IN))
    weights = rng.normal(0, 1, (N, 3))
    graph = build_graph(SOURCES, TARGETS, N)
    out, tapes = forward_tape(model, x, [graph], dtype=np.float64,
                              rng=np.random.default_rng(1), input_dropout=0.3,
                              attention_dropout=0.5)
    tape = tapes[0]
    assert tape.edge_scale is not None and (tape.edge_scale == 0).any()
    grads, dx = model_backward(model, tapes, [EdgeSums.of(graph)], weights, input_grad=True)
    from gatcli.layer import gat_layer

    def masked_loss() -> float:
        h, _ = gat_layer(x * tape.input_scale, graph, model.layers[0],
                         attention_scale=tape.edge_scale)
        return float(np.sum(h * weights))

    assert masked_loss() == pytest.approx(float(np.sum(out * weights)), rel=1e-12)
    for name, value in model.layers[0].params.items():
        np.testing.assert_allclose(grads[0][name], numeric_gradient(masked_loss, value),
                                   rtol=1e-5, atol=1e-7, err_msg=name)
    np.testing.assert_allclose(dx, numeric_gradient(masked_loss, x), rtol=1e-5, atol=1e-7)


def test_head_groups_cover_every_head_once_under_the_budget(monkeypatch):
    from gatcli.train import backward

    assert backward.head_groups(100, 8, 8) == [slice(0, 8)]  # small: all heads at once
    monkeypatch.setattr(backward, "EDGE_VALUES", 100 * 8 * 3)
    assert backward.head_groups(100, 8, 8) == [slice(0, 3), slice(3, 6), slice(6, 8)]
    monkeypatch.setattr(backward, "EDGE_VALUES", 1)  # one head at a time, at least
    assert backward.head_groups(100, 3, 8) == [slice(0, 1), slice(1, 2), slice(2, 3)]


@pytest.mark.parametrize("options", [{}, {"concat": False, "heads": 3},
                                     {"kind": "gatv2", "heads": 3},
                                     {"kind": "gatv2", "share_weights": True, "concat": False}],
                         ids=["gat", "gat-mean", "gatv2", "gatv2-shared-mean"])
def test_gradients_by_groups_of_heads_match_finite_differences(options, monkeypatch):
    """Large graphs run the per-edge (E, h, F') work a group of heads at a time: the same
    gradients (checked on the small graph with the budget forced down to one head)."""
    from gatcli.train import backward

    monkeypatch.setattr(backward, "EDGE_VALUES", 1)
    spec = LayerSpec(**{"in_dim": F_IN, "out_dim": 3, "heads": 2, "activation": "elu",
                        "residual": True, **options})
    check_model_gradients(Model([random_layer(spec, np.random.default_rng(11))]))
