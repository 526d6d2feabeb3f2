"""One attention layer (GATConv and GATv2Conv) over a whole graph, run by an engine.

The math of a chunk of node rows and of a block of targets is in :mod:`gatcli.kernel` (its
docstring states the layer's formulas); :func:`gat_layer` composes those pieces for a graph
whose arrays the engine holds (in memory, or memory-mapped), and the engine
(:mod:`gatcli.engine`) runs them. The step recorder (for ``gat explain``) collects the
intermediate arrays.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from gatcli.engine import resolve_engine
from gatcli.graph import Graph
from gatcli.kernel import (
    EDGES_PER_BLOCK,
    LayerPlan,
    NodeRows,
    ScoreBounds,
    apply_activation,
    attention_block,
    attention_rows,
    block_bounds,
    combine_bounds,
    edges_per_block,
    empty_node_rows,
    folds_attention,
    layer_plan,
    layer_shift,
    leaky_relu,
    node_chunks,
    node_rows,
    node_table_strategy,
    score_bounds,
    softmax_shift,
)
from gatcli.model.spec import Layer

__all__ = [
    "EDGES_PER_BLOCK", "GATV2_STEPS", "GAT_STEPS", "StepRecorder", "apply_activation",
    "attention_rows", "block_bounds", "folds_attention", "gat_layer", "leaky_relu",
    "node_table_strategy", "softmax_shift",
]

#: Steps recorded for a GAT layer, in computation order.
GAT_STEPS = ("linear", "scores_dst", "scores_src", "scores", "leaky_relu", "softmax",
             "aggregate", "heads", "output")
#: Steps recorded for a GATv2 layer, in computation order.
GATV2_STEPS = ("linear", "linear_dst", "pairs", "leaky_relu", "scores", "softmax",
               "aggregate", "heads", "output")


class StepRecorder:
    """Collects the intermediate arrays of a forward pass.

    ``steps[(layer, name)]`` holds the full array of a step (see ``GAT_STEPS`` /
    ``GATV2_STEPS``); ``graphs[layer]`` the in-edge CSR the layer ran on. Per-edge arrays
    are (E, ...) in that CSR's order.
    """

    def __init__(self) -> None:
        self.steps: dict[tuple[int, str], np.ndarray] = {}
        self.graphs: dict[int, Graph] = {}

    def record(self, layer: int, name: str, value: np.ndarray) -> None:
        self.steps[(layer, name)] = value

    def get(self, layer: int, name: str) -> np.ndarray:
        return self.steps[(layer, name)]


def node_table(x: np.ndarray | sp.csr_array, plan: LayerPlan, engine: Any, *,
               threads: int | None = None) -> tuple[NodeRows, np.ndarray | None]:
    """x: (N, F_in) -> (the layer's NodeRows for all N rows, its softmax shift or None).

    The products run in the layer's fixed chunks (:func:`gatcli.kernel.node_chunks`), on
    the engine's threads (one BLAS thread each for the ``"chunks"`` and ``"sparse"``
    strategies: a sparse chunk's dense products, such as GAT's attention terms from Wh, run
    on two threads at once, and multithreaded BLAS calls inside them oversubscribed the
    cores, 6x slower on Cora under load; the BLAS's own threads for one ``"whole"``
    product), into arrays the engine allocates.
    """
    n = x.shape[0]
    dtype = np.result_type(x.dtype, plan.products[0][0])
    table = empty_node_rows(plan, n, dtype, engine.allocate)

    def chunk(bounds: tuple[int, int]) -> ScoreBounds:
        start, stop = bounds
        rows = x if (start, stop) == (0, n) else x[start:stop]
        return score_bounds(node_rows(rows, plan, table.rows(start, stop)), plan)

    limit = (engine.products() if plan.strategy in ("chunks", "sparse")
             else contextlib.nullcontext())
    with limit:
        parts = engine.map(chunk, node_chunks(x, plan), threads=threads)
    return table, layer_shift(combine_bounds(parts, plan), plan, dtype)


def edge_targets_of(graph: Graph, allocate: Callable[..., np.ndarray] = np.empty,
                    rows: int = 1 << 20) -> np.ndarray:
    """(E,) the target of every edge in CSR order (``graph.targets()``), filled ``rows``
    targets at a time into an array from ``allocate(shape, dtype)``."""
    out = allocate((graph.n_edges,), graph.sources.dtype)
    indptr = graph.indptr
    for start in range(0, graph.n_nodes, rows):
        stop = min(graph.n_nodes, start + rows)
        lo, hi = int(indptr[start]), int(indptr[stop])
        out[lo:hi] = np.repeat(np.arange(start, stop, dtype=out.dtype),
                               np.diff(indptr[start : stop + 1]))
    return out


def gat_layer(
    x: np.ndarray,
    graph: Graph,
    layer: Layer,
    *,
    layer_index: int = 0,
    recorder: StepRecorder | None = None,
    keep_attention: bool = False,
    block_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    engine=None,
    attention_scale: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One attention layer: x: (N, F_in) -> (out: (N, C), alpha: (E, H) or None).

    x is a dense array or a scipy.sparse matrix/array (any format; used as CSR, never
    densified: only the node-table products read it). The output is always dense.

    C = H*F' when the spec concatenates heads, F' when it averages them. alpha is returned
    (in the graph's CSR order) when ``keep_attention`` or a recorder is given.
    progress(done_targets, total_targets) is called after each block.
    engine: a local engine (default :class:`gatcli.engine.ThreadEngine`); with a recorder
    everything runs on one thread.
    attention_scale: (E, H) in the graph's CSR order, multiplies each attention coefficient
    in the aggregation only (attention dropout in training, see gatcli.train.tape); the
    returned and recorded alpha is the softmax without it.
    """
    engine = resolve_engine(engine)
    if sp.issparse(x):
        x = sp.csr_array(x)
    plan = layer_plan(layer, x)
    dtype = x.dtype
    n, heads = graph.n_nodes, plan.heads
    rec = (lambda name, value: recorder.record(layer_index, name, value)) if recorder else None
    threads = 1 if rec else None

    table, shift = node_table(x, plan, engine, threads=threads)
    if rec:
        rec("linear", table.messages.reshape(n, heads, plan.width))
        if plan.kind == "gat":
            rec("scores_dst", table.dst_terms)
            rec("scores_src", table.src_terms)
        else:
            rec("linear_dst", table.target_side.reshape(n, heads, plan.width))
    # (E,) target of every edge: per-edge copies of target rows are then gathers, which
    # release the GIL (np.repeat does not)
    edge_targets = edge_targets_of(graph, engine.allocate)
    # the output takes the residual's place row by row (a block reads its residual rows
    # before writing its output rows)
    out = table.residual if plan.residual else engine.allocate((n, plan.out_dim), dtype)
    want_alpha = keep_attention or rec is not None
    alpha_all = engine.allocate((graph.n_edges, heads), dtype) if want_alpha else None
    kept: dict[str, dict[int, np.ndarray]] = {}

    def work(bounds: tuple[int, int], scratch: np.ndarray) -> int:
        start, stop = bounds
        lo, hi = int(graph.indptr[start]), int(graph.indptr[stop])

        def keep(name: str, value: np.ndarray) -> None:
            kept.setdefault(name, {})[start] = np.array(value, copy=True)

        out[start:stop] = attention_block(
            plan, shift, table, table, graph.block(start, stop), edge_targets[lo:hi], start,
            scratch=scratch, alpha=None if alpha_all is None else alpha_all[lo:hi],
            keep=keep if rec else None,
            edge_scale=None if attention_scale is None else attention_scale[lo:hi])
        return stop

    budget = edges_per_block(plan.table_width, engine.edges_per_block or EDGES_PER_BLOCK)
    bounds = block_bounds(graph.indptr, block_size, budget)
    if bounds:
        most = int(np.diff(graph.indptr[[start for start, _ in bounds] + [n]]).max())
        engine.map(work, bounds, threads=threads,
                   scratch=lambda: np.empty((most, plan.table_width), dtype=dtype),
                   done=(lambda _, stop: progress(stop, n)) if progress else None)
    if rec:
        for name, parts in kept.items():
            rec(name, np.concatenate([parts[k] for k in sorted(parts)]))
        rec("softmax", alpha_all)
        rec("output", out)
    return out, alpha_all
