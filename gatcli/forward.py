"""The model forward pass: layers in order, each on its own graph (self-loops per layer).

With ``nodes`` (chosen output nodes), each layer runs only on the receptive field of those
nodes (see :mod:`gatcli.receptive`): the cost grows with the L-hop in-neighbourhood of the
chosen nodes, not with the graph.
"""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from gatcli.engine import resolve_engine
from gatcli.graph import Graph, build_graph, build_graph_chunked
from gatcli.layer import StepRecorder, gat_layer
from gatcli.model.spec import Layer, Model
from gatcli.receptive import LayerField, check_chosen, distinct_in_order, receptive_fields


@dataclass
class ForwardResult:
    """embeddings: (N, C) output of the last layer; with chosen ``nodes``, (M, C): the rows
    of the chosen nodes in the order given (a node given twice has two equal rows).
    attention[k]: (E_k, H_k) alphas of layer k in ``graphs[k]``'s CSR order (None if not kept).
    graphs[k]: the in-edge CSR layer k ran on (with or without self-loops, per its spec), over
    all N nodes (original node indices); with chosen nodes it holds only the edges layer k
    computed: the in-edges of the nodes in ``fields[k].targets``, the other rows empty.
    fields[k]: with chosen nodes, the receptive field layer k ran on (else None).
    """

    embeddings: np.ndarray
    graphs: list[Graph]
    attention: list[np.ndarray | None] = field(default_factory=list)
    fields: list[LayerField] | None = None

    def nodes_without_in_edges(self) -> list[int]:
        """Per layer, how many computed nodes had no in-edge (their aggregate is zero)."""
        if self.fields is not None:
            return [int(np.count_nonzero(f.graph.in_degrees[: f.n_targets] == 0))
                    for f in self.fields]
        return [int(np.count_nonzero(g.in_degrees == 0)) for g in self.graphs]


def layer_graphs(
    model: Model,
    sources: np.ndarray,
    targets: np.ndarray,
    n_nodes: int,
    *,
    undirected: bool = False,
    engine: Any = None,
) -> list[Graph]:
    """The in-edge CSR of every layer; layers with the same self-loop setting share one.

    With an out-of-core engine (a ThreadEngine with a memory limit) and no ``undirected``,
    the CSR is built in chunks into memory-mapped files (:func:`build_graph_chunked`): the
    same graph, bounded memory.
    """
    on_disk = getattr(engine, "memory_limit", None) is not None and not undirected
    built: dict[bool, Graph] = {}
    graphs = []
    for layer in model.layers:
        loops = layer.spec.self_loops
        if loops not in built:
            if on_disk:
                built[loops] = build_graph_chunked(sources, targets, n_nodes,
                                                   self_loops=loops, allocate=engine.mapped)
            else:
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


def normalize_features(x: np.ndarray | sp.csr_array, norm: str) -> np.ndarray | sp.csr_array:
    """x: (N, F) as a model with ``feature_norm`` = norm wants it: unchanged (``"none"``), or
    (``"row"``) each row divided by the sum of its absolute values, rows of zeros kept."""
    if norm == "none":
        return x
    if norm != "row":
        raise ValueError(f"unknown feature normalisation {norm!r}")
    sums = np.asarray(abs(x).sum(axis=1)).reshape(-1)
    scale = np.divide(1, sums, out=np.ones_like(sums), where=sums > 0).astype(x.dtype)
    if sp.issparse(x):
        return sp.csr_array(sp.diags_array(scale) @ x, dtype=x.dtype)
    return x * scale[:, None]


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
    nodes: np.ndarray | None = None,
    on_layer: Callable[[int, Graph, np.ndarray], None] | None = None,
) -> ForwardResult:
    """Run every layer: x: (N, F_in) -> embeddings (N, C), with ``graphs[k]`` for layer k.

    x: a dense array, or a scipy.sparse matrix or array (csr/csc/coo/...; e.g. bag-of-words
    features): the first layer's products are then sparse x dense, x is never densified,
    and every later layer's input is dense (N, C_k). Results equal the dense path's within
    float rounding (the sums run in another order). A model with ``feature_norm`` "row"
    normalises x first (:func:`normalize_features`).
    Computation is in ``dtype`` (float32 by default; float64 for exact comparisons).
    progress(layer, done_targets, total_targets) is called as blocks finish.
    engine: where it runs (default :class:`gatcli.engine.ThreadEngine`); every engine
    gives the same bits.
    nodes: (M,) chosen node indices (repeats allowed): embeddings (M, C) of just these, from
        their receptive field only (see :func:`forward_nodes`).
    on_layer(k, graphs[k], alpha) receives each layer's attention alpha: (E_k, H_k) as soon as
    the layer is done (e.g. to write it); it is kept in the result only with keep_attention.
    """
    if model.feature_norm != "none":  # per row: the same before or after choosing rows
        x = normalize_features(as_input(x, dtype), model.feature_norm)
    if nodes is not None:
        return forward_nodes(model, x, graphs, nodes, dtype=dtype, recorder=recorder,
                             keep_attention=keep_attention, block_size=block_size,
                             progress=progress, engine=engine, on_layer=on_layer)
    return resolve_engine(engine).forward(
        model, x, graphs, dtype=dtype, recorder=recorder, keep_attention=keep_attention,
        block_size=block_size, progress=progress, on_layer=on_layer)


def release_mapped_pages(x: Any) -> None:
    """Drop the pages of a read-only memory-mapped ``x`` (an ``.npy`` read with mmap) from
    this process: they stay in the page cache, and a later read faults them back in, with
    the same values. Anything else (an array in memory, a copy-on-write map) is left alone.

    After the first layer the input is not read again, so its pages need not count in the
    process's memory while the later layers run and their attention is written (at 1M
    edges: 51 MB of features, of a 235 MB peak with ``--attention att.csv``).
    """
    mapped = getattr(x, "_mmap", None)
    if (isinstance(x, np.memmap) and x.mode == "r" and mapped is not None
            and hasattr(mmap, "MADV_DONTNEED")):
        with contextlib.suppress(OSError, ValueError):
            mapped.madvise(mmap.MADV_DONTNEED)


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
    on_layer: Callable[[int, Graph, np.ndarray], None] | None = None,
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
                             recorder=recorder,
                             keep_attention=keep_attention or on_layer is not None,
                             block_size=block_size, progress=step, engine=engine)
        if k == 0:
            release_mapped_pages(x)  # not read again (see the function)
        if on_layer is not None:
            on_layer(k, graph, alpha)
        attention.append(alpha if keep_attention else None)
        del alpha  # with on_layer only, the caller had its chance: free it before the next
    return ForwardResult(h, list(graphs), attention)


def forward_nodes(
    model: Model,
    x: np.ndarray | sp.sparray | sp.spmatrix,
    graphs: list[Graph],
    nodes: np.ndarray,
    *,
    dtype: np.dtype | type = np.float32,
    recorder: StepRecorder | None = None,
    keep_attention: bool = False,
    block_size: int | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    engine: Any = None,
    on_layer: Callable[[int, Graph, np.ndarray], None] | None = None,
) -> ForwardResult:
    """The embeddings of the chosen nodes only: (M, C), row m = node ``nodes[m]``.

    x: (N, F_in) dense or scipy.sparse; only the rows of the first layer's receptive field
    are read (a memory-mapped x stays mostly on disk; a sparse x stays sparse);
    graphs[k]: layer k's whole in-edge CSR.
    Layer k runs on its :class:`gatcli.receptive.LayerField` (rows S_k in, T_k out). The
    result rows equal the whole run's up to the last bits (BLAS products of fewer rows, the
    softmax's global shift over fewer nodes). A recorder sees the local arrays and graphs
    (row r of layer k = node ``fields[k].nodes[r]``); progress counts local rows. The
    layers run with :func:`gatcli.layer.gat_layer` on ``engine`` (default ThreadEngine).
    """
    engine = resolve_engine(engine)
    chosen = check_chosen(nodes, x.shape[0])
    fields = receptive_fields(graphs, chosen) if graphs else []
    _, position = distinct_in_order(chosen)
    rows = fields[0].nodes if fields else chosen
    if sp.issparse(x):
        h = as_input(sp.csr_array(x)[rows], dtype)
    elif isinstance(x, np.memmap):  # read the needed rows in file order
        order = np.argsort(rows, kind="stable")
        h = np.empty((rows.shape[0], x.shape[1]), dtype=dtype)
        h[order] = x[rows[order]]
    else:
        h = np.asarray(x[rows], dtype=dtype)
    whole_graphs: list[Graph] = []
    attention: list[np.ndarray | None] = []
    for k, (layer, part) in enumerate(zip(model.layers, fields)):
        if recorder is not None:
            recorder.graphs[k] = part.graph
            recorder.record(k, "input", h)
        step = (lambda done, total, k=k: progress(k, done, total)) if progress else None
        out, alpha = gat_layer(h, part.graph, cast_layer(layer, h.dtype), layer_index=k,
                               recorder=recorder,
                               keep_attention=keep_attention or on_layer is not None,
                               block_size=block_size, progress=step, engine=engine)
        h = out[: part.n_targets]
        whole, order = part.whole_graph()
        whole_graphs.append(whole)
        if alpha is not None:
            alpha = alpha[order]
            if on_layer is not None:
                on_layer(k, whole, alpha)
        attention.append(alpha if keep_attention else None)
        del alpha
    return ForwardResult(h[position], whole_graphs, attention, fields)


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
    progress, engine, nodes). ``nodes=[i, j, ...]`` gives the embeddings of just those
    nodes, in that order, computed on their receptive field only.
    """
    graphs = layer_graphs(model, sources, targets, x.shape[0], undirected=undirected)
    return forward_graphs(model, x, graphs, **options)
