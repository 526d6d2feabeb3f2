"""gatcli.forward / gatcli.layer with scipy.sparse features, and the node-table strategies.

Sparse features go through sparse x dense products in the first layer: the results are
checked against the independent dense float64 reference (tests/reference.py, given the dense
features) and against gatcli's own dense path; a sparse input far too large to densify must
run in little memory.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from reference import layers_of, param_shapes, reference_forward

from gatcli import kernel as kernel_module
from gatcli.engine import ThreadEngine
from gatcli.forward import forward
from gatcli.graph import build_graph
from gatcli.layer import folds_attention, gat_layer, node_table_strategy
from gatcli.model.init import init_model
from gatcli.model.spec import Layer, LayerSpec, Model, model_spec


def sparse_features(n: int, f: int, density: float, seed: int) -> sp.csr_array:
    """(n, f) bag-of-words-like features: a few non-zeros a row, some rows empty."""
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n, f)) < density, rng.uniform(0.1, 2.0, (n, f)), 0.0)
    dense[3] = 0.0  # a node without any feature
    return sp.csr_array(dense)


def random_edges(n: int, e: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, e), rng.integers(0, n, e)


def random_model(specs: list[LayerSpec], seed: int = 0) -> Model:
    rng = np.random.default_rng(seed)
    return Model([Layer(s, {k: rng.normal(0, 0.5, shape) for k, shape in
                            param_shapes(vars(s), s.in_dim).items()}) for s in specs])


SPECS = {
    "gat": [LayerSpec(40, 4, 3, activation="elu")],
    "gat_residual_mean": [LayerSpec(40, 4, 3, concat=False, residual=True)],
    "gatv2": [LayerSpec(40, 4, 2, kind="gatv2")],
    "gatv2_shared": [LayerSpec(40, 3, 2, kind="gatv2", share_weights=True)],
    "two_layers": model_spec(40, hidden=4, heads=3, out_dim=2),
}

SPARSE_KINDS = {
    "csr_array": sp.csr_array, "csr_matrix": sp.csr_matrix, "csc_array": sp.csc_array,
    "coo_array": sp.coo_array, "coo_matrix": sp.coo_matrix, "lil_matrix": sp.lil_matrix,
}


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("kind", sorted(SPARSE_KINDS))
def test_sparse_features_match_the_dense_reference(name, kind):
    n = 30
    x = sparse_features(n, 40, 0.1, seed=1)
    sources, targets = random_edges(n, 90, seed=2)
    model = random_model(SPECS[name])
    result = forward(model, SPARSE_KINDS[kind](x), sources, targets, dtype=np.float64,
                     keep_attention=True)
    expected, attention = reference_forward(layers_of(model), x.toarray(), sources, targets)
    np.testing.assert_allclose(result.embeddings, expected, rtol=1e-10, atol=1e-12)
    dense = forward(model, x.toarray(), sources, targets, dtype=np.float64)
    np.testing.assert_allclose(result.embeddings, dense.embeddings, rtol=1e-10, atol=1e-12)
    assert isinstance(result.embeddings, np.ndarray)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_sparse_float32_equals_the_dense_path_within_float32_rounding(name):
    n = 50
    x = sparse_features(n, 40, 0.2, seed=3).astype(np.float32)
    sources, targets = random_edges(n, 200, seed=4)
    model = random_model(SPECS[name], seed=1)
    sparse = forward(model, x, sources, targets, keep_attention=True)
    dense = forward(model, x.toarray(), sources, targets, keep_attention=True)
    assert sparse.embeddings.dtype == np.float32
    np.testing.assert_allclose(sparse.embeddings, dense.embeddings, rtol=2e-5, atol=2e-6)
    for a, b in zip(sparse.attention, dense.attention):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_integer_sparse_counts_are_converted_to_the_computation_dtype():
    n = 12
    counts = sp.random_array((n, 40), density=0.2, rng=5, data_sampler=lambda size:
                             np.random.default_rng(5).integers(1, 4, size)).astype(np.int64)
    sources, targets = random_edges(n, 30, seed=6)
    model = random_model(SPECS["gat"])
    result = forward(model, counts, sources, targets, dtype=np.float64)
    expected, _ = reference_forward(layers_of(model), counts.toarray(), sources, targets)
    np.testing.assert_allclose(result.embeddings, expected, rtol=1e-10, atol=1e-12)


def test_wide_sparse_features_are_never_densified():
    """2,000 nodes x 200,000 features: dense float32 would take 1.6 GB."""
    n, f = 2000, 200_000
    rng = np.random.default_rng(7)
    rows = np.repeat(np.arange(n), 10)
    cols = rng.integers(0, f, rows.size)
    x = sp.coo_array((rng.random(rows.size), (rows, cols)), shape=(n, f))
    sources, targets = random_edges(n, 8000, seed=8)
    model = init_model([LayerSpec(f, 2, 2)], seed=0)
    tracemalloc.start()
    try:
        result = forward(model, x, sources, targets)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.embeddings.shape == (n, 4)
    assert peak < 40e6, peak  # the weights alone are 4 x 200,000 float32/float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_input_gives_the_same_bits_for_every_block_size_and_thread_count(
        dtype, monkeypatch):
    n = 60
    x = sparse_features(n, 40, 0.15, seed=9).astype(dtype)
    graph = build_graph(*random_edges(n, 240, seed=10), n)
    layer = random_model(SPECS["gat_residual_mean"], seed=2).layers[0]
    layer.params = {k: v.astype(dtype) for k, v in layer.params.items()}
    whole, whole_alpha = gat_layer(x, graph, layer, keep_attention=True, block_size=n)
    monkeypatch.setattr(kernel_module, "SPARSE_SPLIT_WORK", 1)  # split even a small product
    for threads in (1, 2):
        for block_size in (1, 7, None):
            out, alpha = gat_layer(x, graph, layer, keep_attention=True,
                                   block_size=block_size, engine=ThreadEngine(threads))
            assert np.array_equal(out, whole) and np.array_equal(alpha, whole_alpha)


# -- the node-table strategy ---------------------------------------------------------------


def test_node_table_strategy_is_chosen_by_kind_and_shape():
    assert node_table_strategy(sp.csr_array((5, 3)), 80) == "sparse"
    assert node_table_strategy(np.empty((2708, 1433), np.float32), 64) == "whole"
    assert node_table_strategy(np.empty((19717, 500), np.float32), 64) == "chunks"
    assert node_table_strategy(np.empty((100_000, 128), np.float32), 80) == "chunks"
    assert node_table_strategy(np.empty((300, 128), np.float32), 80) == "chunks"  # narrow
    big = kernel_module.SMALL_TABLE_ELEMENTS // 1433 + 1
    assert node_table_strategy(np.lib.stride_tricks.as_strided(
        np.empty(1, np.float32), (big, 1433), (0, 0)), 64) == "chunks"  # tall


def test_attention_is_folded_into_the_product_only_for_narrow_dense_inputs():
    assert folds_attention(np.empty((10, 128)), 64)
    assert not folds_attention(np.empty((10, 1433)), 64)
    assert not folds_attention(sp.csr_array((10, 128)), 64)


@pytest.mark.parametrize("in_dim", [600, 8])  # "whole" + attention from Wh; "chunks" + folded
def test_each_node_table_path_matches_the_reference(in_dim, monkeypatch):
    n = 40
    rng = np.random.default_rng(11)
    x = rng.normal(0, 1, (n, in_dim))
    sources, targets = random_edges(n, 160, seed=12)
    model = random_model([LayerSpec(in_dim, 4, 2, residual=True)], seed=3)
    expected, _ = reference_forward(layers_of(model), x, sources, targets)
    results = {}
    for strategy in ("whole", "chunks"):
        monkeypatch.setattr(kernel_module, "node_table_strategy", lambda *a, s=strategy: s)
        results[strategy] = forward(model, x, sources, targets, dtype=np.float64).embeddings
        np.testing.assert_allclose(results[strategy], expected, rtol=1e-10, atol=1e-12)
    x32 = x.astype(np.float32)
    for strategy in ("whole", "chunks"):
        monkeypatch.setattr(kernel_module, "node_table_strategy", lambda *a, s=strategy: s)
        results[strategy] = forward(model, x32, sources, targets).embeddings
    # float32: the two paths agree to float32 rounding (not necessarily bit for bit)
    np.testing.assert_allclose(results["whole"], results["chunks"], rtol=1e-5, atol=1e-5)
