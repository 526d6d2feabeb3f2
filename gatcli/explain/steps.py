"""The steps of a recorded forward pass, as arrays ready to show: pure numpy, no rendering.

A :class:`LayerTrace` is what :class:`gatcli.layer.StepRecorder` kept for one layer. Nothing
here recomputes the layer: views only gather, reshape or scatter the recorded arrays (per-edge
arrays are (E, H, ...) in the layer's in-edge CSR order, node arrays (N, H, F')).

Explain steps (``STEPS``) and the recorded arrays behind them:

========== ============================================ ===================================
step       GAT                                          GATv2
========== ============================================ ===================================
linear     input x (N, F_in), Wh = x W^T (N, H, F')     W_l x (source), W_r x (target)
concat     [Wh_i || Wh_j] per edge (E, H, 2F')          z_ij = W_r x_i + W_l x_j (E, H, F')
scores     s_ij = a_dst.Wh_i + a_src.Wh_j (E, H)        e_ij = a . LeakyReLU(z_ij) (E, H)
leaky_relu e_ij = LeakyReLU(s_ij) (E, H)                LeakyReLU(z_ij) (E, H, F')
mask       E (N, N), non-edges masked                   the same
softmax    alpha (E, H), as (N, N) for small graphs     the same
aggregate  out_i = sum_j alpha_ij Wh_j (N, H, F')       the same with W_l x_j
heads      concat (N, H*F') or mean (N, F')             the same
output     + residual + bias, activation (N, C)         the same
========== ============================================ ===================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gatcli.graph import Graph
from gatcli.layer import StepRecorder
from gatcli.model.spec import LayerSpec, Model
from gatcli.receptive import LayerField

#: Explain steps in GAT's order.
STEPS = ("linear", "concat", "scores", "leaky_relu", "mask", "softmax", "aggregate", "heads",
         "output")
#: GATv2 applies LeakyReLU to the pair vector before the dot product with ``a``.
GATV2_STEP_ORDER = ("linear", "concat", "leaky_relu", "scores", "mask", "softmax",
                    "aggregate", "heads", "output")

#: Dense N x N matrices (the mask and the attention heatmap) only up to this many nodes.
DENSE_MAX_NODES = 40

#: A scipy.sparse input (features) of at most this many elements (N x F_in) is shown as a
#: dense array; a larger one stays sparse (rows are densified one at a time when shown).
DENSE_INPUT_MAX = 1 << 24

#: The recorded arrays each step shows, per layer kind (see gatcli.layer GAT_STEPS/GATV2_STEPS).
RECORDED: dict[str, dict[str, tuple[str, ...]]] = {
    "gat": {"linear": ("input", "linear"), "concat": ("linear",),
            "scores": ("scores_dst", "scores_src", "scores"), "leaky_relu": ("leaky_relu",),
            "mask": ("leaky_relu",), "softmax": ("softmax",), "aggregate": ("aggregate",),
            "heads": ("heads",), "output": ("output",)},
    "gatv2": {"linear": ("input", "linear", "linear_dst"), "concat": ("pairs",),
              "leaky_relu": ("leaky_relu",), "scores": ("scores",), "mask": ("scores",),
              "softmax": ("softmax",), "aggregate": ("aggregate",), "heads": ("heads",),
              "output": ("output",)},
}


def step_order(kind: str) -> tuple[str, ...]:
    """The explain steps of a ``kind`` ('gat' or 'gatv2') layer in computation order."""
    return GATV2_STEP_ORDER if kind == "gatv2" else STEPS


#: Recorded arrays with one row per edge (the others have one row per node).
EDGE_ARRAYS = ("scores", "leaky_relu", "pairs", "softmax")


@dataclass(frozen=True)
class LayerTrace:
    """One layer of a recorded forward pass.

    arrays: recorded name -> array (``input`` (N, F_in) and the layer's steps);
    graph: the in-edge CSR the layer ran on (row i = the sources j of the edges j -> i).
    nodes: when the layer ran on a receptive field (``forward(..., nodes=...)``), the node
        index (whole graph) of each row of ``graph`` and of the node arrays; None when rows
        are the nodes themselves. whole_nodes, whole_edges: N and E of the whole layer graph
        (default: ``graph``'s).
    Methods taking a ``node`` take its whole-graph index.
    """

    index: int
    spec: LayerSpec
    graph: Graph
    arrays: Mapping[str, np.ndarray]
    nodes: np.ndarray | None = None
    whole_nodes: int | None = None
    whole_edges: int | None = None

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def n_nodes(self) -> int:
        """N of the whole layer graph."""
        return self.graph.n_nodes if self.whole_nodes is None else self.whole_nodes

    @property
    def n_edges(self) -> int:
        """E of the whole layer graph."""
        return self.graph.n_edges if self.whole_edges is None else self.whole_edges

    @property
    def small(self) -> bool:
        """Whether N x N matrices of this layer may be built and shown."""
        return self.nodes is None and self.graph.n_nodes <= DENSE_MAX_NODES

    def row_of(self, node: int) -> int:
        """The row of ``graph`` and of the node arrays that holds node ``node``."""
        if self.nodes is None:
            return node
        found = np.flatnonzero(self.nodes == node)
        if found.size == 0:
            raise ValueError(f"node {node} is not in layer {self.index}'s receptive field")
        return int(found[0])

    def node_of(self, rows: np.ndarray) -> np.ndarray:
        """The whole-graph node index of local ``rows``."""
        return rows if self.nodes is None else self.nodes[rows]

    def shape_of(self, name: str) -> tuple[int, ...]:
        """The shape of recorded array ``name`` in the whole layer (E or N rows)."""
        shape = self.arrays[name].shape
        return (self.n_edges if name in EDGE_ARRAYS else self.n_nodes, *shape[1:])

    def targets(self) -> np.ndarray:
        """(E,) target i of every edge, CSR order."""
        return self.graph.targets()

    def logits(self) -> np.ndarray:
        """(E, H) the values the softmax normalises: LeakyReLU(s) for GAT, a.LeakyReLU(z)
        for GATv2."""
        return self.arrays["leaky_relu" if self.kind == "gat" else "scores"]


def layer_traces(recorder: StepRecorder, model: Model,
                 fields: Sequence[LayerField] | None = None) -> list[LayerTrace]:
    """The recorded layers of ``forward(model, ..., recorder=recorder)``, in order; with
    ``fields`` (``ForwardResult.fields`` of a run with chosen nodes), each trace knows which
    node each of its rows is."""
    traces = []
    for k, layer in enumerate(model.layers):
        arrays = {name: value for (index, name), value in recorder.steps.items() if index == k}
        x = arrays.get("input")
        if sp.issparse(x) and x.shape[0] * x.shape[1] <= DENSE_INPUT_MAX:
            arrays["input"] = x.toarray()
        if fields is None:
            traces.append(LayerTrace(k, layer.spec, recorder.graphs[k], arrays))
        else:
            part = fields[k]
            traces.append(LayerTrace(k, layer.spec, recorder.graphs[k], arrays, part.nodes,
                                     part.whole_nodes, part.whole_edges))
    return traces


def display_order(graph: Graph) -> np.ndarray:
    """(E,) edge positions sorted by (target, source): the order of ``np.where(A > 0)``."""
    return np.lexsort((graph.sources, graph.targets()))


def concat_pairs(trace: LayerTrace) -> np.ndarray:
    """GAT: [Wh_i || Wh_j] of every edge j -> i, (E, H, 2F'), gathered from the recorded Wh.
    GATv2: the recorded pair vectors z_ij = W_r x_i + W_l x_j, (E, H, F')."""
    if trace.kind == "gatv2":
        return trace.arrays["pairs"]
    wh = trace.arrays["linear"]
    return np.concatenate([wh[trace.targets()], wh[trace.graph.sources]], axis=-1)


def dense_matrix(trace: LayerTrace, per_edge: np.ndarray, fill: float = np.nan,
                 combine: str = "first") -> np.ndarray:
    """(N, N) matrix M[i, j] of a per-edge (E,) array; non-edges hold ``fill``.

    Duplicate edges j -> i: ``combine='sum'`` adds them (attention), ``'first'`` keeps one
    (scores, which are equal for duplicates). Only for small graphs.
    """
    n = trace.n_nodes
    if n > DENSE_MAX_NODES:
        raise ValueError(f"{n} nodes: too many for a dense matrix (at most {DENSE_MAX_NODES})")
    rows, cols = trace.targets(), trace.graph.sources
    matrix = np.full((n, n), fill, dtype=np.float64)
    if combine == "sum":
        matrix[rows, cols] = 0.0
        np.add.at(matrix, (rows, cols), per_edge)
    else:
        matrix[rows[::-1], cols[::-1]] = per_edge[::-1]
    return matrix


def has_duplicate_edges(trace: LayerTrace) -> bool:
    keys = trace.targets().astype(np.int64) * trace.n_nodes + trace.graph.sources
    return np.unique(keys).size != keys.size


@dataclass(frozen=True)
class Summary:
    """shape, min, mean and max of an array (NaN ignored); count of entries."""

    shape: tuple[int, ...]
    minimum: float
    mean: float
    maximum: float


def node_rows(values: np.ndarray | sp.sparray, rows: Sequence[int]) -> np.ndarray:
    """(len(rows), C) dense rows of a node-level array (dense, or a sparse input)."""
    if sp.issparse(values):
        return sp.csr_array(values)[list(rows)].toarray()
    return values[list(rows)]


def summarize(values: np.ndarray | sp.sparray) -> Summary:
    """The Summary of ``values`` (all NaN or empty: NaN statistics); for a sparse array,
    of all its N x C entries (the implicit zeros included)."""
    if sp.issparse(values):
        return _sparse_summary(values)
    flat = np.asarray(values, dtype=np.float64).ravel()
    finite = flat[~np.isnan(flat)]
    if finite.size == 0:
        return Summary(tuple(values.shape), np.nan, np.nan, np.nan)
    return Summary(tuple(values.shape), float(finite.min()), float(finite.mean()),
                   float(finite.max()))


def _sparse_summary(values: sp.sparray) -> Summary:
    shape = tuple(values.shape)
    data = np.asarray(values.tocsr().data, dtype=np.float64)
    data = data[~np.isnan(data)]
    entries = shape[0] * shape[1]
    zeros = entries - int(values.nnz)  # implicit zeros (stored NaNs are ignored, as above)
    count = data.size + zeros
    if count == 0:
        return Summary(shape, np.nan, np.nan, np.nan)
    low = min(data.min(initial=np.inf), 0.0 if zeros else np.inf)
    high = max(data.max(initial=-np.inf), 0.0 if zeros else -np.inf)
    return Summary(shape, float(low), float(data.sum() / count), float(high))


@dataclass(frozen=True)
class NodeFocus:
    """Node i of one layer and head: its in-edges and rows of every node-level step.

    node: i (whole-graph index); row: its row in the trace's graph and node arrays.
    edges: (d,) positions of i's in-edges in the trace's CSR; sources: (d,) their sources j
    (whole-graph indices); scores: (d,) s_ij (GAT, before LeakyReLU) or e_ij (GATv2);
    logits: (d,) the softmax input; alpha: (d,); order: (d,) indices into the above, by alpha
    descending (stable). dst_term: a_dst.Wh_i (GAT; NaN for GATv2); src_terms: (d,)
    a_src.Wh_j (GAT). rows: step name -> node i's row of that node-level array.
    """

    node: int
    row: int
    head: int
    edges: np.ndarray
    sources: np.ndarray
    scores: np.ndarray
    logits: np.ndarray
    alpha: np.ndarray
    order: np.ndarray
    dst_term: float
    src_terms: np.ndarray
    rows: dict[str, np.ndarray]


def node_focus(trace: LayerTrace, node: int, head: int) -> NodeFocus:
    """The NodeFocus of ``node`` in layer ``trace`` and head ``head``: O(degree + C) work
    (plus finding the node's row in a receptive field)."""
    a = trace.arrays
    row = trace.row_of(node)
    lo, hi = int(trace.graph.indptr[row]), int(trace.graph.indptr[row + 1])
    edges = np.arange(lo, hi)
    local_sources = trace.graph.sources[lo:hi]
    alpha = a["softmax"][lo:hi, head]
    order = np.argsort(-alpha, kind="stable")
    if trace.kind == "gat":
        dst_term = float(a["scores_dst"][row, head])
        src_terms = a["scores_src"][local_sources, head]
    else:
        dst_term = float("nan")
        src_terms = np.full(hi - lo, np.nan)
    rows = {"input": node_rows(a["input"], [row])[0], "linear": a["linear"][row, head],
            "aggregate": a["aggregate"][row, head], "heads": a["heads"][row],
            "output": a["output"][row]}
    if "linear_dst" in a:
        rows["linear_dst"] = a["linear_dst"][row, head]
    return NodeFocus(node, row, head, edges, trace.node_of(local_sources),
                     a["scores"][lo:hi, head], trace.logits()[lo:hi, head], alpha, order,
                     dst_term, src_terms, rows)


def common_row_shift(trace: LayerTrace, i: int, k: int, head: int) -> np.ndarray | None:
    """s_ij - s_kj for every j when targets i and k have the same in-neighbours (GAT), else
    None. A constant difference with all scores positive means equal attention rows: LeakyReLU
    is the identity there and softmax ignores a per-row shift (GAT's static attention)."""
    g = trace.graph
    row_i = g.sources[g.indptr[i]:g.indptr[i + 1]]
    row_k = g.sources[g.indptr[k]:g.indptr[k + 1]]
    if trace.kind != "gat" or not np.array_equal(np.sort(row_i), np.sort(row_k)):
        return None
    scores = trace.arrays["scores"][:, head]
    s_i = scores[g.indptr[i]:g.indptr[i + 1]][np.argsort(row_i, kind="stable")]
    s_k = scores[g.indptr[k]:g.indptr[k + 1]][np.argsort(row_k, kind="stable")]
    return s_i - s_k


def values_on_edges(pair_targets: np.ndarray, pair_sources: np.ndarray, values: np.ndarray,
                    targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Values given per (target, source) pair, placed on the edges (targets, sources);
    edges with no such pair get NaN. values: (P, ...) -> (E, ...)."""
    lookup = {(int(t), int(s)): p for p, (t, s) in enumerate(zip(pair_targets, pair_sources))}
    out = np.full((targets.shape[0],) + values.shape[1:], np.nan)
    for e, (t, s) in enumerate(zip(targets, sources)):
        p = lookup.get((int(t), int(s)))
        if p is not None:
            out[e] = values[p]
    return out
