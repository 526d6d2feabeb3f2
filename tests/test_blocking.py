"""Blocked forward pass: the same bits for every block size and thread count.

Targets are processed in blocks of rows (``--block-size``) on up to two threads; every row's
arithmetic must not depend on the blocks, so the results are compared with ``==``, not with
a tolerance. One dense float64 reference (written here, independently of gatcli) checks that
both softmax paths (one global shift, or each row's own maximum) compute GAT.
"""

from __future__ import annotations

import numpy as np
import pytest

from gatcli.engine import ThreadEngine
from gatcli.forward import forward
from gatcli.graph import build_graph
from gatcli.kernel import block_bounds
from gatcli.layer import gat_layer
from gatcli.model.init import init_model
from gatcli.model.spec import LayerSpec, model_spec


def skewed_graph(n: int, e: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges with a hub, duplicates, existing self-loops and nodes without in-edges."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, e)
    dst = np.where(rng.random(e) < 0.3, 0, rng.integers(0, n - 3, e))  # node 0 is a hub
    src = np.concatenate([src, src[:5], [4, 4]])
    dst = np.concatenate([dst, dst[:5], [4, 4]])
    return src, dst


BLOCK_SIZES = [1, 2, 7, 64]

SPECS = {
    "gat": LayerSpec(6, 4, 3, concat=True, activation="elu"),
    "gat_mean_residual": LayerSpec(6, 4, 3, concat=False, residual=True, activation="relu"),
    "gat_no_loops": LayerSpec(6, 4, 2, self_loops=False),
    "gat_slope_above_one": LayerSpec(6, 3, 2, negative_slope=1.5),
    "gatv2": LayerSpec(6, 4, 3, kind="gatv2"),
    "gatv2_shared": LayerSpec(6, 4, 2, kind="gatv2", share_weights=True, concat=False),
    # wide inputs: one BLAS call for the node table, attention terms from Wh
    "gat_wide": LayerSpec(600, 4, 3, residual=True),
    "gatv2_wide": LayerSpec(600, 4, 2, kind="gatv2"),
}


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 200.0])  # 200: too spread for one global shift
def test_layer_is_identical_for_every_block_size(name, dtype, scale):
    spec = SPECS[name]
    n = 40
    src, dst = skewed_graph(n, 300, seed=len(name))
    graph = build_graph(src, dst, n, self_loops=spec.self_loops)
    layer = init_model([spec], seed=3).layers[0]
    layer.params = {k: v.astype(dtype) for k, v in layer.params.items()}
    x = (np.random.default_rng(5).standard_normal((n, spec.in_dim)) * scale).astype(dtype)

    whole, whole_alpha = gat_layer(x, graph, layer, keep_attention=True, block_size=n)
    assert np.isfinite(whole).all()
    for threads in (1, 2):
        engine = ThreadEngine(threads)
        for block_size in [*BLOCK_SIZES, None]:
            out, alpha = gat_layer(x, graph, layer, keep_attention=True, block_size=block_size,
                                   engine=engine)
            assert out.dtype == dtype
            assert np.array_equal(out, whole), (threads, block_size)
            assert np.array_equal(alpha, whole_alpha), (threads, block_size)


def test_default_blocks_are_small_and_equal_to_one_block():
    """Many automatic blocks (a tiny edge budget) give the one-block result."""
    n = 300
    src, dst = skewed_graph(n, 3000, seed=1)
    specs = model_spec(5, layers=2, hidden=4, heads=3, out_dim=3)
    model = init_model(specs, seed=0)
    x = np.random.default_rng(0).standard_normal((n, 5))
    whole = forward(model, x, src, dst, block_size=n, keep_attention=True)
    assert len(block_bounds(whole.graphs[0].indptr, None, 30)) > 20
    blocked = forward(model, x, src, dst, keep_attention=True,
                      engine=ThreadEngine(edges_per_block=8))
    assert np.array_equal(blocked.embeddings, whole.embeddings)
    for a, b in zip(blocked.attention, whole.attention):
        assert np.array_equal(a, b)


def test_progress_reaches_every_target():
    n = 50
    src, dst = skewed_graph(n, 200, seed=2)
    graph = build_graph(src, dst, n)
    layer = init_model([LayerSpec(3, 2, 2)], seed=0).layers[0]
    x = np.random.default_rng(1).standard_normal((n, 3))
    calls = []
    gat_layer(x, graph, layer, block_size=8, progress=lambda done, total: calls.append(done))
    assert calls == sorted(calls) and calls[-1] == n and len(calls) == -(-n // 8)


def dense_gat(x, src, dst, n, w, att_src, att_dst, slope):
    """Dense float64 GAT (one layer, heads concatenated, no bias) with self-loops added."""
    keep = src != dst
    src = np.concatenate([src[keep], np.arange(n)])
    dst = np.concatenate([dst[keep], np.arange(n)])
    heads, width = att_src.shape[-2:]
    wh = (x @ w.T).reshape(n, heads, width)
    out = np.zeros((n, heads, width))
    for h in range(heads):
        s = wh[:, h] @ att_src[0, h]
        d = wh[:, h] @ att_dst[0, h]
        for i in range(n):
            edges = np.flatnonzero(dst == i)
            e = s[src[edges]] + d[i]
            e = np.where(e > 0, e, slope * e)
            a = np.exp(e - e.max())
            a /= a.sum()
            out[i, h] = a @ wh[src[edges], h]
    return out.reshape(n, -1)


@pytest.mark.parametrize("scale", [1.0, 300.0])
def test_both_softmax_paths_compute_gat(scale):
    n = 30
    src, dst = skewed_graph(n, 120, seed=4)
    spec = LayerSpec(4, 3, 2, bias=False)
    layer = init_model([spec], seed=1).layers[0]
    x = np.random.default_rng(2).standard_normal((n, 4)) * scale
    p = layer.params
    expected = dense_gat(x, src, dst, n, p["lin.weight"], p["att_src"], p["att_dst"], 0.2)
    out, _ = gat_layer(x, build_graph(src, dst, n), layer, block_size=4)
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9 * scale)


def test_without_threadpoolctl_the_blocks_give_the_same_bits(monkeypatch):
    """threadpoolctl is in the ``fast`` extra: without it BLAS keeps its threads inside the
    blocks, and the layer still gives the one-block result bit for bit."""
    import sys

    from gatcli.engine import threads

    spec = SPECS["gat_wide"]
    n = 40
    src, dst = skewed_graph(n, 300, seed=2)
    graph = build_graph(src, dst, n, self_loops=spec.self_loops)
    layer = init_model([spec], seed=3).layers[0]
    x = np.random.default_rng(5).standard_normal((n, spec.in_dim))
    whole, _ = gat_layer(x, graph, layer, block_size=n)

    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails
    threads._blas_controller.cache_clear()
    try:
        assert threads._blas_controller() is None
        for block_size in (1, 7, None):
            out, _ = gat_layer(x, graph, layer, block_size=block_size,
                               engine=ThreadEngine(2))
            assert np.array_equal(out, whole), block_size
    finally:
        threads._blas_controller.cache_clear()
