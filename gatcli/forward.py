"""The model forward pass: layers in order, each on its own graph (self-loops per layer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from gatcli.engine import resolve_engine
from gatcli.graph import Graph, build_graph
from gatcli.layer import StepRecorder, gat_layer
from gatcli.model.spec import Layer, Model


@dataclass
class ForwardResult:
    """embeddings: (N, C) output of the last layer.
    attention[k]: (E_k, H_k) alphas of layer k in ``graphs[k]``'s CSR order (None if not kept).
    graphs[k]: the in-edge CSR layer k ran on (with or without self-loops, per its spec).
    """

    embeddings: np.ndarray
    graphs: list[Graph]
    attention: list[np.ndarray | None] = field(default_factory=list)

    def nodes_without_in_edges(self) -> list[int]:
        """Per layer, how many nodes had no in-edge (their aggregate is zero)."""
        return [int(np.count_nonzero(g.in_degrees == 0)) for g in self.graphs]


def layer_graphs(
    model: Model,
    sources: np.ndarray,
    targets: np.ndarray,
    n_nodes: int,
    *,
    undirected: bool = False,
) -> list[Graph]:
    """The in-edge CSR of every layer; layers with the same self-loop setting share one."""
    built: dict[bool, Graph] = {}
    graphs = []
    for layer in model.layers:
        loops = layer.spec.self_loops
        if loops not in built:
            built[loops] = build_graph(sources, targets, n_nodes, self_loops=loops,
                                       undirected=undirected)
        graphs.append(built[loops])
    return graphs


def cast_layer(layer: Layer, dtype: np.dtype) -> Layer:
    """The layer with every parameter array in ``dtype``."""
    return Layer(layer.spec, {k: np.asarray(v, dtype=dtype) for k, v in layer.params.items()})


def as_input(x: np.ndarray | sp.sparray | sp.spmatrix,
             dtype: np.dtype | type) -> np.ndarray | sp.csr_array:
    """x as the first layer's input: a dense array in ``dtype``, or for scipy.sparse input a
    CSR array in ``dtype`` (its stored values converted; nothing densified)."""
    if sp.issparse(x):
        if x.ndim != 2:
            raise ValueError(f"sparse features must be 2-D (nodes x features), got {x.ndim}-D")
        return sp.csr_array(x, dtype=dtype)
    return np.asarray(x, dtype=dtype)


def forward_graphs(
    model: Model,
    x: np.ndarray | sp.sparray | sp.spmatrix,
    graphs: list[Graph],
    *,
    dtype: np.dtype | type = np.float32,
    recorder: StepRecorder | None = None,
    keep_attention: bool = False,
    block_size: int | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    engine: Any = None,
) -> ForwardResult:
    """Run every layer: x: (N, F_in) -> embeddings (N, C), with ``graphs[k]`` for layer k.

    x: a dense array, or a scipy.sparse matrix or array (csr/csc/coo/...; e.g. bag-of-words
    features): the first layer's products are then sparse x dense, x is never densified,
    and every later layer's input is dense (N, C_k). Results equal the dense path's within
    float rounding (the sums run in another order).
    Computation is in ``dtype`` (float32 by default; float64 for exact comparisons).
    progress(layer, done_targets, total_targets) is called as blocks finish.
    engine: where it runs (default :class:`gatcli.engine.ThreadEngine`); every engine
    gives the same bits.
    """
    return resolve_engine(engine).forward(
        model, x, graphs, dtype=dtype, recorder=recorder, keep_attention=keep_attention,
        block_size=block_size, progress=progress)


def run_layers(
    engine: Any,
    model: Model,
    x: np.ndarray | sp.sparray | sp.spmatrix,
    graphs: list[Graph],
    *,
    dtype: np.dtype | type = np.float32,
    recorder: StepRecorder | None = None,
    keep_attention: bool = False,
    block_size: int | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> ForwardResult:
    """The forward pass of a local engine: :func:`gatcli.layer.gat_layer` layer by layer,
    each layer's output (held where the engine allocates) the next one's input."""
    h = as_input(x, dtype)
    attention: list[np.ndarray | None] = []
    for k, (layer, graph) in enumerate(zip(model.layers, graphs)):
        if recorder is not None:
            recorder.graphs[k] = graph
            recorder.record(k, "input", h)
        step = (lambda done, total, k=k: progress(k, done, total)) if progress else None
        h, alpha = gat_layer(h, graph, cast_layer(layer, h.dtype), layer_index=k,
                             recorder=recorder, keep_attention=keep_attention,
                             block_size=block_size, progress=step, engine=engine)
        attention.append(alpha)
    return ForwardResult(h, list(graphs), attention)


def forward(
    model: Model,
    x: np.ndarray | sp.sparray | sp.spmatrix,
    sources: np.ndarray,
    targets: np.ndarray,
    *,
    undirected: bool = False,
    **options,
) -> ForwardResult:
    """Build each layer's graph from the edges ``sources[k] -> targets[k]`` and run the model.

    x: (N, F_in) dense, or a scipy.sparse matrix/array (see :func:`forward_graphs`).
    options: as for :func:`forward_graphs` (dtype, recorder, keep_attention, block_size,
    progress, engine).
    """
    graphs = layer_graphs(model, sources, targets, x.shape[0], undirected=undirected)
    return forward_graphs(model, x, graphs, **options)
