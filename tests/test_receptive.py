"""gatcli.receptive and forward(..., nodes=...): the chosen nodes' rows, computed on their
receptive field only, equal the whole run's rows.

Tolerance (issue 13): bit for bit where the products allow it, else within 1e-6 (float32)
or 1e-12 (float64) of the row's scale: BLAS may round products of fewer rows differently,
and the softmax's global shift is taken over fewer nodes. The scale is the row's largest
absolute value in the whole run, or, in the property test, the bound of
:func:`error_scale` when that is larger: rounding errors are relative to the terms summed,
and cancellation can leave a row far smaller than its terms.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import param_shapes
from test_forward import PROPERTY, cases

from gatcli.forward import forward, layer_graphs
from gatcli.layer import StepRecorder
from gatcli.model.init import init_model
from gatcli.model.spec import Layer, LayerSpec, Model, model_spec
from gatcli.receptive import concatenated_ranges, distinct_in_order, receptive_fields

TOLERANCE = {np.float32: 1e-6, np.float64: 1e-12}


def error_scale(model: Model, x) -> float:
    """A bound on what a rounding error of the forward is relative to, from the model's
    parameters and the input's largest |value| alone.

    Per layer, every summed term (a projected neighbour, the residual, a bias) is at most
    the layer input's bound times the largest absolute row sum of each weight, plus the
    biases' largest |value|: attention weights are a convex combination, head means and
    the activations do not grow values. An attention logit's rounding error, relative to
    its own terms (the projections' bound, from the ``lin`` weights and biases, times the
    attention vector's 1-norm), shifts the alphas by that much, so the bound is multiplied
    by 1 + the logits' bound. The layer's term bound is the next layer's input bound.
    """
    bound = float(abs(x).max()) if x.shape[0] and x.shape[1] else 0.0
    scale = 1.0
    for layer in model.layers:
        terms = logits = 0.0
        for name, value in layer.params.items():
            value = np.abs(np.asarray(value, dtype=np.float64))
            if name.endswith("weight"):
                terms += bound * float(value.sum(axis=1).max())
            elif name.endswith("bias"):
                terms += float(value.max())
        projected = sum(bound * float(np.abs(value).sum(axis=1).max())
                        if name.endswith("weight") else float(np.abs(value).max())
                        for name, value in layer.params.items() if name.startswith("lin"))
        for name, value in layer.params.items():
            if name.startswith("att"):
                logits += projected * float(np.abs(value).sum(axis=-1).max())
        scale *= 1.0 + logits
        bound = terms
    return bound * scale


def assert_rows_match(rows: np.ndarray, whole_rows: np.ndarray, dtype: type,
                      bound: float = 0.0) -> None:
    """Each row within TOLERANCE[dtype] times the whole run's row scale (at least
    ``bound``, see :func:`error_scale`)."""
    assert rows.shape == whole_rows.shape and rows.dtype == whole_rows.dtype
    scale = np.abs(whole_rows).max(axis=1, keepdims=True) if rows.size else 0
    scale = np.maximum(scale, bound)
    error = np.abs(rows.astype(np.float64) - whole_rows)
    assert (error <= TOLERANCE[dtype] * scale).all(), float((error / scale).max())


def computed_positions(result, k: int) -> np.ndarray:
    """Positions, in the whole layer graph's CSR, of ``result.graphs[k]``'s edges."""
    _, order = result.fields[k].whole_graph()
    return result.fields[k].edges[order]


def check_against_whole(model, x, sources, targets, undirected, chosen, dtype):
    whole = forward(model, x, sources, targets, undirected=undirected, dtype=dtype,
                    keep_attention=True)
    part = forward(model, x, sources, targets, undirected=undirected, dtype=dtype,
                   keep_attention=True, nodes=chosen)
    assert part.embeddings.shape == (len(chosen), model.output_dim)
    assert_rows_match(part.embeddings, whole.embeddings[chosen], dtype,
                      error_scale(model, x))
    for k, (graph, alpha) in enumerate(zip(part.graphs, part.attention)):
        full = whole.graphs[k]
        done = part.fields[k].targets
        # the computed edges are exactly the targets' rows of the whole graph, in its order
        assert graph.n_nodes == full.n_nodes
        np.testing.assert_array_equal(graph.in_degrees[done], full.in_degrees[done])
        assert graph.n_edges == int(full.in_degrees[done].sum())
        at = computed_positions(part, k)
        np.testing.assert_array_equal(graph.sources, full.sources[at])
        np.testing.assert_array_equal(graph.targets(), full.targets()[at])
        error = np.abs(alpha.astype(np.float64) - whole.attention[k][at])
        assert (error <= TOLERANCE[dtype]).all()
    return whole, part


@PROPERTY
@given(cases(), st.data(), st.sampled_from([np.float64, np.float32]))
def test_chosen_rows_equal_the_whole_runs_rows(case, data, dtype):
    model, x, sources, targets, undirected = case
    n = x.shape[0]
    chosen = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2 * n)))
    check_against_whole(model, x, sources, targets, undirected, chosen, dtype)


@PROPERTY
@given(cases(self_loops=False), st.data())
def test_without_self_loops_too(case, data):
    model, x, sources, targets, undirected = case
    chosen = np.array(data.draw(st.lists(st.integers(0, x.shape[0] - 1), min_size=1)))
    check_against_whole(model, x, sources, targets, undirected, chosen, np.float64)


@pytest.mark.parametrize("kind", ["gat", "gatv2"])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_graph_with_seeded_models(kind, layers, dtype):
    rng = np.random.default_rng(layers)
    n, e = 400, 1600
    x = rng.normal(size=(n, 6))
    sources, targets = rng.integers(0, n, e), rng.integers(0, n, e)
    spec = model_spec(6, layers=layers, hidden=4, heads=3, out_dim=5, out_heads=2,
                      kind=kind)
    model = init_model(spec, seed=layers)
    chosen = rng.permutation(n)[:20]
    _, part = check_against_whole(model, x, sources, targets, False, chosen, dtype)
    assert part.fields[0].nodes.shape[0] < n  # the restriction did restrict


@pytest.mark.parametrize("kind", ["gat", "gatv2"])
def test_residual_concat_and_mean_heads(kind):
    rng = np.random.default_rng(3)
    n = 60
    x = rng.normal(size=(n, 4))
    sources, targets = rng.integers(0, n, 150), rng.integers(0, n, 150)
    specs = [LayerSpec(4, 3, heads=2, concat=True, residual=True, activation="elu", kind=kind),
             LayerSpec(6, 2, heads=3, concat=False, residual=True, self_loops=False, kind=kind)]
    model = init_model(specs, seed=1)
    for dtype in (np.float32, np.float64):
        check_against_whole(model, x, sources, targets, False, np.arange(0, n, 7), dtype)
        check_against_whole(model, x, sources, targets, True, np.array([5, 2, 5]), dtype)


def test_nodes_without_in_edges_get_the_whole_runs_row():
    spec = LayerSpec(2, 3, heads=2, self_loops=False)
    model = Model([Layer(spec, {name: np.full(shape, 0.3) for name, shape in
                                param_shapes(vars(spec), 2).items()})])
    x = np.arange(10.0).reshape(5, 2)
    sources, targets = np.array([0, 1]), np.array([1, 2])  # 0, 3, 4: no in-edges
    for dtype in (np.float32, np.float64):
        whole = forward(model, x, sources, targets, dtype=dtype)
        part = forward(model, x, sources, targets, dtype=dtype, nodes=[3, 1, 0])
        np.testing.assert_array_equal(part.embeddings, whole.embeddings[[3, 1, 0]])
        np.testing.assert_array_equal(part.embeddings[0],
                                      model.layers[0].params["bias"].astype(dtype))
        assert part.nodes_without_in_edges() == [2]  # of the 3 computed, not of the 5


def test_repeated_and_unordered_nodes_give_rows_in_the_given_order():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    sources, targets = rng.integers(0, 30, 90), rng.integers(0, 30, 90)
    model = init_model(model_spec(3, layers=2), seed=0)
    chosen = np.array([7, 3, 7, 29, 0, 3])
    whole = forward(model, x, sources, targets, dtype=np.float64)
    part = forward(model, x, sources, targets, dtype=np.float64, nodes=chosen)
    assert_rows_match(part.embeddings, whole.embeddings[chosen], np.float64)
    np.testing.assert_array_equal(part.embeddings[0], part.embeddings[2])
    np.testing.assert_array_equal(part.fields[-1].targets, [7, 3, 29, 0])  # each once


def test_no_chosen_nodes_give_no_rows():
    model = init_model(model_spec(3, layers=2, out_dim=4), seed=0)
    x = np.ones((4, 3))
    part = forward(model, x, np.array([0, 1]), np.array([1, 2]), nodes=np.array([], int))
    assert part.embeddings.shape == (0, 4)


@pytest.mark.parametrize("bad", [[5], [-1], [0.5], [[0, 1]]])
def test_bad_node_indices_are_refused(bad):
    model = init_model(model_spec(3, layers=1), seed=0)
    with pytest.raises(ValueError, match="node"):
        forward(model, np.ones((5, 3)), np.array([0]), np.array([1]), nodes=np.array(bad))


def test_fields_are_the_l_hop_in_neighbourhood():
    rng = np.random.default_rng(11)
    n = 50
    sources, targets = rng.integers(0, n, 120), rng.integers(0, n, 120)
    specs = [LayerSpec(2, 2, self_loops=False), LayerSpec(2, 2), LayerSpec(2, 2)]
    model = Model([Layer(s) for s in specs])
    graphs = layer_graphs(model, sources, targets, n)
    chosen = np.array([4, 9, 4])
    fields = receptive_fields(graphs, chosen)
    np.testing.assert_array_equal(fields[-1].targets, [4, 9])
    wanted = {4, 9}
    for k in (2, 1, 0):  # by hand: the targets, then their in-neighbours in layer k's graph
        field, graph = fields[k], graphs[k]
        assert set(field.targets.tolist()) == wanted
        into = np.isin(graph.targets(), list(wanted))
        needed = wanted | set(graph.sources[into].tolist())
        assert set(field.nodes.tolist()) == needed and len(field.nodes) == len(needed)
        assert field.graph.n_nodes == len(needed) and field.whole_nodes == n
        assert field.graph.n_edges == int(into.sum()) == field.edges.shape[0]
        assert (field.graph.in_degrees[field.n_targets:] == 0).all()
        if k < 2:  # what layer k computes is, in order, the next layer's input rows
            np.testing.assert_array_equal(field.targets, fields[k + 1].nodes)
        np.testing.assert_array_equal(field.nodes[:2], [4, 9])  # chosen keep their rows
        # local edges are the whole graph's edges, relabelled
        np.testing.assert_array_equal(field.nodes[field.graph.sources],
                                      graph.sources[field.edges])
        np.testing.assert_array_equal(field.nodes[field.graph.targets()],
                                      graph.targets()[field.edges])
        wanted = needed


def test_recorder_sees_the_local_rows():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 3))
    sources, targets = rng.integers(0, 40, 100), rng.integers(0, 40, 100)
    model = init_model(model_spec(3, layers=2), seed=0)
    recorder = StepRecorder()
    part = forward(model, x, sources, targets, dtype=np.float64, nodes=[6],
                   recorder=recorder)
    np.testing.assert_array_equal(recorder.get(0, "input"), x[part.fields[0].nodes])
    assert recorder.graphs[1] is part.fields[1].graph
    n_next = part.fields[1].nodes.shape[0]
    np.testing.assert_array_equal(recorder.get(1, "input"), recorder.get(0, "output")[:n_next])
    np.testing.assert_array_equal(recorder.get(1, "output")[:1], part.embeddings)


def test_memory_mapped_features_give_the_same_rows(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(100, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    sources, targets = rng.integers(0, 100, 300), rng.integers(0, 100, 300)
    model = init_model(model_spec(5, layers=2), seed=0)
    chosen = np.array([50, 3, 99])
    a = forward(model, x, sources, targets, nodes=chosen).embeddings
    b = forward(model, mapped, sources, targets, nodes=chosen).embeddings
    np.testing.assert_array_equal(a, b)


def test_helpers():
    np.testing.assert_array_equal(concatenated_ranges(np.array([5, 0, 9]), np.array([2, 0, 3])),
                                  [5, 6, 9, 10, 11])
    assert concatenated_ranges(np.array([], int), np.array([], int)).shape == (0,)
    unique, position = distinct_in_order(np.array([4, 2, 4, 7, 2]))
    np.testing.assert_array_equal(unique, [4, 2, 7])
    np.testing.assert_array_equal(unique[position], [4, 2, 4, 7, 2])


def test_sparse_features_give_the_same_rows():
    import scipy.sparse as sp

    rng = np.random.default_rng(8)
    x = sp.random_array((80, 30), density=0.1, random_state=8, format="csc")
    sources, targets = rng.integers(0, 80, 240), rng.integers(0, 80, 240)
    model = init_model(model_spec(30, layers=2), seed=0)
    chosen = np.array([3, 70, 3])
    whole = forward(model, x, sources, targets, dtype=np.float64)
    part = forward(model, x, sources, targets, dtype=np.float64, nodes=chosen)
    assert_rows_match(part.embeddings, whole.embeddings[chosen], np.float64)
