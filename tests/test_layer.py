"""gatcli.layer: the pieces of one attention layer, and the step recorder."""

from __future__ import annotations

import numpy as np
import pytest
from reference import activate, edge_counts, param_shapes, reference_layer

from gatcli.graph import build_graph
from gatcli.layer import (
    GAT_STEPS,
    GATV2_STEPS,
    StepRecorder,
    apply_activation,
    block_bounds,
    gat_layer,
    leaky_relu,
)
from gatcli.model.spec import Layer, LayerSpec


def random_layer(spec: LayerSpec, seed: int = 0) -> Layer:
    rng = np.random.default_rng(seed)
    return Layer(spec, {k: rng.normal(0, 1, s)
                        for k, s in param_shapes(vars(spec), spec.in_dim).items()})


@pytest.mark.parametrize("slope", [0.2, 0.0, 1.0, 1.5, -0.3])
def test_leaky_relu_matches_the_definition(slope):
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(leaky_relu(x, slope), np.where(x > 0, x, slope * x),
                               rtol=1e-15)


def test_leaky_relu_keeps_float32():
    assert leaky_relu(np.ones(3, np.float32), 0.2).dtype == np.float32


@pytest.mark.parametrize("name", ["none", "elu", "relu", "leaky_relu", "tanh", "sigmoid"])
def test_activations_match_the_reference(name):
    x = np.linspace(-4, 4, 41)
    np.testing.assert_allclose(apply_activation(x, name), activate(x, name), rtol=1e-12,
                               atol=1e-15)


def test_unknown_activation_is_an_error():
    with pytest.raises(ValueError, match="swish"):
        apply_activation(np.zeros(2), "swish")


@pytest.mark.parametrize("size", [1, 2, 3, 7, None])
def test_block_bounds_cover_every_row_once(size):
    indptr = np.array([0, 2, 2, 5, 6, 9, 9])
    bounds = block_bounds(indptr, size)
    flat = [i for start, stop in bounds for i in range(start, stop)]
    assert flat == list(range(6))
    if size is not None:
        assert all(stop - start <= size for start, stop in bounds)
    assert block_bounds(np.array([0]), size) == []


@pytest.mark.parametrize("kind,steps", [("gat", GAT_STEPS), ("gatv2", GATV2_STEPS)])
def test_recorder_has_every_step_with_its_shape(kind, steps):
    spec = LayerSpec(in_dim=3, out_dim=2, heads=4, concat=True, activation="elu", kind=kind)
    layer = random_layer(spec)
    graph = build_graph(np.array([0, 1, 2, 3]), np.array([1, 2, 3, 3]), 5)
    x = np.random.default_rng(1).normal(size=(5, 3))
    recorder = StepRecorder()
    out, alpha = gat_layer(x, graph, layer, layer_index=2, recorder=recorder, block_size=2)
    assert {name for (k, name) in recorder.steps if k == 2} == set(steps)
    assert recorder.get(2, "linear").shape == (5, 4, 2)
    assert recorder.get(2, "softmax").shape == (graph.n_edges, 4)
    assert recorder.get(2, "leaky_relu").shape[0] == graph.n_edges
    assert recorder.get(2, "aggregate").shape == (5, 4, 2)
    assert recorder.get(2, "heads").shape == (5, 8)
    np.testing.assert_array_equal(recorder.get(2, "output"), out)
    np.testing.assert_array_equal(recorder.get(2, "softmax"), alpha)


def test_attention_is_not_returned_unless_asked():
    layer = random_layer(LayerSpec(in_dim=2, out_dim=2))
    graph = build_graph(np.array([0]), np.array([1]), 2)
    _, alpha = gat_layer(np.ones((2, 2)), graph, layer)
    assert alpha is None
    _, alpha = gat_layer(np.ones((2, 2)), graph, layer, keep_attention=True)
    assert alpha.shape == (3, 1)


@pytest.mark.parametrize("kind", ["gat", "gatv2"])
@pytest.mark.parametrize("concat", [True, False])
def test_one_layer_equals_the_reference(kind, concat):
    spec = LayerSpec(in_dim=3, out_dim=2, heads=3, concat=concat, activation="tanh",
                     negative_slope=0.3, residual=True, kind=kind)
    layer = random_layer(spec, seed=4)
    sources, targets = np.array([0, 1, 2, 3, 3, 0]), np.array([1, 2, 3, 0, 0, 0])
    graph = build_graph(sources, targets, 5)
    x = np.random.default_rng(2).normal(size=(5, 3))
    out, _ = gat_layer(x, graph, layer)
    expected, _, _ = reference_layer(x, edge_counts(sources, targets, 5, self_loops=True),
                                     vars(spec), layer.params)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)


def test_progress_reports_each_block():
    layer = random_layer(LayerSpec(in_dim=2, out_dim=1))
    graph = build_graph(np.zeros(0, np.int64), np.zeros(0, np.int64), 5)
    calls = []
    gat_layer(np.ones((5, 2)), graph, layer, block_size=2,
              progress=lambda done, total: calls.append((done, total)))
    assert calls == [(2, 5), (4, 5), (5, 5)]
