"""gatcli.explain.steps: per-step views of the recorded arrays, checked against the dense
float64 reference of tests/reference.py and plain numpy written here."""

from __future__ import annotations

import numpy as np
import pytest
from reference import edge_counts, layers_of, leaky, reference_layer

from gatcli.explain.steps import (
    DENSE_MAX_NODES,
    GATV2_STEP_ORDER,
    RECORDED,
    STEPS,
    common_row_shift,
    concat_pairs,
    dense_matrix,
    display_order,
    has_duplicate_edges,
    layer_traces,
    node_focus,
    step_order,
    summarize,
)
from gatcli.forward import forward
from gatcli.layer import GAT_STEPS, GATV2_STEPS, StepRecorder
from gatcli.model.init import init_model
from gatcli.model.spec import LayerSpec, Model

# A small directed graph with a duplicate edge (2 -> 0 twice) and an existing self-loop.
SOURCES = np.array([1, 2, 2, 3, 0, 4, 3, 1, 4, 4, 0])
TARGETS = np.array([0, 0, 0, 0, 1, 1, 2, 3, 3, 4, 4])
N = 5


def traced(kind: str, heads: int = 3, share: bool = False, seed: int = 3):
    spec = LayerSpec(in_dim=4, out_dim=2, heads=heads, concat=False, activation="elu",
                     kind=kind, share_weights=share)
    model: Model = init_model([spec], seed=seed)
    x = np.random.default_rng(seed).normal(size=(N, 4))
    recorder = StepRecorder()
    result = forward(model, x, SOURCES, TARGETS, dtype=np.float64, recorder=recorder)
    return model, x, result, layer_traces(recorder, model)[0]


def test_step_names_and_orders():
    assert STEPS == ("linear", "concat", "scores", "leaky_relu", "mask", "softmax",
                     "aggregate", "heads", "output")
    assert step_order("gat") == STEPS
    assert step_order("gatv2") == GATV2_STEP_ORDER
    assert GATV2_STEP_ORDER.index("leaky_relu") < GATV2_STEP_ORDER.index("scores")
    assert sorted(GATV2_STEP_ORDER) == sorted(STEPS)
    # every recorded name a step shows is one the core records (or the layer's input)
    for kind, core in (("gat", GAT_STEPS), ("gatv2", GATV2_STEPS)):
        assert set(RECORDED[kind]) == set(STEPS)
        for names in RECORDED[kind].values():
            assert set(names) <= set(core) | {"input"}


@pytest.mark.parametrize("kind", ["gat", "gatv2"])
def test_dense_views_match_the_reference(kind):
    model, x, result, trace = traced(kind)
    counts = edge_counts(SOURCES, TARGETS, N, self_loops=True)
    spec, params = layers_of(model)[0]
    out, probs, logits = reference_layer(x, counts, spec, params)
    np.testing.assert_allclose(trace.arrays["output"], out, atol=1e-12)
    for h in range(3):
        alpha = dense_matrix(trace, trace.arrays["softmax"][:, h], fill=0.0, combine="sum")
        np.testing.assert_allclose(alpha, probs[h], atol=1e-12)
        e = dense_matrix(trace, trace.logits()[:, h])
        np.testing.assert_allclose(e[counts > 0], logits[h][counts > 0], atol=1e-12)
        assert np.isnan(e[counts == 0]).all()


def test_gat_concat_and_scores_are_the_per_pair_formula():
    model, x, _, trace = traced("gat")
    p = model.layers[0].params
    wh = (x @ p["lin.weight"].T).reshape(N, 3, 2)
    pairs = concat_pairs(trace)
    t, s = trace.targets(), trace.graph.sources
    np.testing.assert_allclose(pairs, np.concatenate([wh[t], wh[s]], axis=-1), atol=1e-12)
    a = np.concatenate([p["att_dst"][0], p["att_src"][0]], axis=-1)  # a = [a_dst || a_src]
    np.testing.assert_allclose(trace.arrays["scores"], np.einsum("ehf,hf->eh", pairs, a),
                               atol=1e-12)
    np.testing.assert_allclose(trace.arrays["leaky_relu"], leaky(trace.arrays["scores"], 0.2),
                               atol=1e-12)


def test_gatv2_pairs_are_target_plus_source():
    model, x, _, trace = traced("gatv2")
    p = model.layers[0].params
    left = (x @ p["lin_l.weight"].T + p["lin_l.bias"]).reshape(N, 3, 2)
    right = (x @ p["lin_r.weight"].T + p["lin_r.bias"]).reshape(N, 3, 2)
    t, s = trace.targets(), trace.graph.sources
    np.testing.assert_allclose(concat_pairs(trace), right[t] + left[s], atol=1e-12)


@pytest.mark.parametrize("kind", ["gat", "gatv2"])
def test_node_focus_is_the_nodes_row(kind):
    model, x, _, trace = traced(kind)
    counts = edge_counts(SOURCES, TARGETS, N, self_loops=True)
    spec, params = layers_of(model)[0]
    out, probs, logits = reference_layer(x, counts, spec, params)
    focus = node_focus(trace, 0, head=1)
    # node 0's in-edges: 1, 2, 2, 3 and its self-loop
    assert sorted(focus.sources.tolist()) == [0, 1, 2, 2, 3]
    assert np.all(np.diff(focus.alpha[focus.order]) <= 0)
    per_edge = np.exp(logits[1][0, focus.sources])
    np.testing.assert_allclose(focus.alpha, per_edge / per_edge.sum(), atol=1e-12)
    np.testing.assert_allclose(focus.logits, logits[1][0, focus.sources], atol=1e-12)
    np.testing.assert_allclose(focus.rows["output"], out[0], atol=1e-12)
    if kind == "gat":
        np.testing.assert_allclose(focus.dst_term + focus.src_terms, focus.scores, atol=1e-12)


def test_duplicates_are_detected_and_summed():
    _, _, _, trace = traced("gat")
    assert has_duplicate_edges(trace)
    alpha = dense_matrix(trace, trace.arrays["softmax"][:, 0], fill=0.0, combine="sum")
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0)


def test_display_order_sorts_by_target_then_source():
    _, _, _, trace = traced("gat")
    order = display_order(trace.graph)
    keys = list(zip(trace.targets()[order].tolist(), trace.graph.sources[order].tolist()))
    assert keys == sorted(keys)


def test_common_row_shift_only_for_equal_neighbourhoods():
    _, _, _, trace = traced("gat")
    assert common_row_shift(trace, 0, 1, 0) is None  # different in-neighbours
    shift = common_row_shift(trace, 2, 2, 0)
    np.testing.assert_allclose(shift, 0.0)


def test_dense_matrix_refuses_large_graphs():
    n = DENSE_MAX_NODES + 1
    spec = LayerSpec(in_dim=2, out_dim=2, heads=1)
    model = init_model([spec], seed=0)
    recorder = StepRecorder()
    forward(model, np.ones((n, 2)), np.arange(n - 1), np.arange(1, n), recorder=recorder)
    trace = layer_traces(recorder, model)[0]
    assert not trace.small
    with pytest.raises(ValueError, match="too many"):
        dense_matrix(trace, trace.arrays["softmax"][:, 0])


def test_summarize_ignores_nan():
    s = summarize(np.array([[1.0, np.nan], [3.0, 5.0]]))
    assert (s.shape, s.minimum, s.mean, s.maximum) == ((2, 2), 1.0, 3.0, 5.0)
    assert np.isnan(summarize(np.array([np.nan])).mean)


def sparse_traced(monkeypatch, dense_max: int):
    import scipy.sparse as sp

    from gatcli.explain import steps as steps_module

    monkeypatch.setattr(steps_module, "DENSE_INPUT_MAX", dense_max)
    model, x, _, _ = traced("gat")
    x[1] = 0.0
    recorder = StepRecorder()
    result = forward(model, sp.csr_array(x), SOURCES, TARGETS, dtype=np.float64,
                     recorder=recorder)
    return x, result, layer_traces(recorder, model)[0]


def test_a_small_sparse_input_is_shown_densely(monkeypatch):
    x, result, trace = sparse_traced(monkeypatch, dense_max=N * 4)
    assert isinstance(trace.arrays["input"], np.ndarray)
    np.testing.assert_array_equal(trace.arrays["input"], x)
    np.testing.assert_array_equal(node_focus(trace, 2, 0).rows["input"], x[2])


def test_a_large_sparse_input_stays_sparse_and_shows_rows_and_a_summary(monkeypatch):
    import scipy.sparse as sp

    from gatcli.explain.export import step_arrays
    from gatcli.explain.steps import node_rows

    x, result, trace = sparse_traced(monkeypatch, dense_max=N * 4 - 1)
    assert sp.issparse(trace.arrays["input"])
    np.testing.assert_array_equal(node_focus(trace, 2, 0).rows["input"], x[2])
    np.testing.assert_array_equal(node_rows(trace.arrays["input"], [3, 0]), x[[3, 0]])
    stats = summarize(trace.arrays["input"])
    assert stats.shape == x.shape
    np.testing.assert_allclose([stats.minimum, stats.mean, stats.maximum],
                               [x.min(), x.mean(), x.max()], rtol=1e-12)
    exported = step_arrays(trace, "linear")["input"]
    assert exported["format"] == "csr" and exported["shape"] == [N, 4]
    rebuilt = sp.csr_array((exported["data"], exported["indices"], exported["indptr"]),
                           shape=exported["shape"])
    np.testing.assert_array_equal(rebuilt.toarray(), x)
