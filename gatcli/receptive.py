"""Receptive fields: the part of each layer's graph that the outputs of chosen nodes need.

The output of an L-layer GAT at node i depends only on i's L-hop in-neighbourhood. With T_k
the rows layer k must compute, walk the layers backwards (layer k = 0..L-1 has the in-edge
CSR G_k, with its own self-loop policy)::

    T_{L-1} = the chosen nodes (each once, in the order first given)
    edges_k = the in-edges of T_k in G_k            (the CSR rows of T_k, in G_k's order)
    S_k     = T_k, then the other sources of edges_k (ascending)
    T_{k-1} = S_k

Layer k then needs the rows S_k of its input and computes the rows T_k of its output; the
targets themselves are part of S_k (the target's own attention term, GATv2's target side
and the residual read them). Because T_k is the prefix of S_k and S_k is T_{k-1}, the rows
layer k produces are, in order, the first rows of the next layer's input: a chosen node
keeps its position in every layer.

Each layer runs on a :class:`LayerField`: a square CSR over the |S_k| rows (local numbering)
whose first |T_k| rows are the targets' rows of G_k, unchanged, and whose other rows are
empty. The arithmetic of a target's row is the one of the whole run; only the products'
last bits (BLAS on fewer rows) and the softmax's global shift (see
:func:`gatcli.layer.softmax_shift`) may differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gatcli.graph import Graph


@dataclass(frozen=True)
class LayerField:
    """What one layer computes when only chosen nodes' outputs are wanted.

    nodes: (n,) int64 indices (in the whole graph) of the layer's input rows S_k: the
        targets first (``n_targets`` of them), then the other sources of their in-edges.
    graph: (n x n) in-edge CSR in local numbering (row r is node ``nodes[r]``): rows
        ``0..n_targets-1`` hold the targets' in-edges as in the whole graph, in its order;
        the other rows are empty.
    edges: (E_f,) positions, in the whole layer graph's CSR, of ``graph``'s edges in order.
    whole_nodes, whole_edges: N and E of the whole layer graph.
    """

    nodes: np.ndarray
    graph: Graph
    edges: np.ndarray
    n_targets: int
    whole_nodes: int
    whole_edges: int

    @property
    def targets(self) -> np.ndarray:
        """(n_targets,) indices (whole graph) of the nodes this layer computes."""
        return self.nodes[: self.n_targets]

    def whole_graph(self) -> tuple[Graph, np.ndarray]:
        """(the computed edges as a CSR over all N nodes, order): ``order`` (E_f,) maps that
        CSR's edges to ``graph``'s, so ``alpha[order]`` is in the whole-graph CSR's order.

        Rows of nodes the layer did not compute are empty; sources are whole-graph indices.
        """
        targets = self.targets
        degrees = self.graph.in_degrees[: self.n_targets]
        counts = np.zeros(self.whole_nodes, dtype=np.int64)
        counts[targets] = degrees
        indptr = np.zeros(self.whole_nodes + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        rows = np.argsort(targets, kind="stable")
        order = concatenated_ranges(self.graph.indptr[rows], degrees[rows])
        sources = self.nodes[self.graph.sources[order]].astype(self.graph.sources.dtype)
        return Graph(indptr, sources, self.whole_nodes), order


def concatenated_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(sum(lengths),) int64: ``starts[0] .. starts[0]+lengths[0]-1, starts[1] ...``."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    offsets = np.repeat(np.asarray(starts, dtype=np.int64) - (ends - lengths), lengths)
    return offsets + np.arange(total, dtype=np.int64)


def distinct_in_order(chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique, position): the distinct values of ``chosen`` in order of first occurrence,
    and for every entry of ``chosen`` its position in ``unique`` (unique[position] == chosen).
    """
    values, first, inverse = np.unique(chosen, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0])
    return values[order], rank[inverse.reshape(-1)]


def check_chosen(chosen: np.ndarray | Sequence[int], n_nodes: int) -> np.ndarray:
    """The chosen node indices as an (M,) int64 array; ValueError unless 0 <= i < N."""
    nodes = np.asarray(chosen)
    if nodes.ndim != 1:
        raise ValueError(f"nodes must be a 1-D array of node indices, got shape {nodes.shape}")
    if nodes.size and nodes.dtype.kind not in "iu":
        raise ValueError(f"nodes must be integer node indices, got dtype {nodes.dtype}")
    nodes = nodes.astype(np.int64)
    bad = (nodes < 0) | (nodes >= n_nodes)
    if bad.any():
        raise ValueError(f"node index {int(nodes[bad][0])} is out of range 0..{n_nodes - 1}")
    return nodes


def receptive_fields(graphs: Sequence[Graph], chosen: np.ndarray) -> list[LayerField]:
    """The :class:`LayerField` of every layer (in layer order) for the outputs of ``chosen``.

    graphs[k]: the whole in-edge CSR of layer k (all with the same N); chosen: (M,) node
    indices, repeats allowed (each node is computed once). Work and memory grow with the
    receptive field, plus two (N,) lookup arrays and one O(N) scan per layer.
    """
    n = graphs[0].n_nodes if graphs else 0
    targets, _ = distinct_in_order(check_chosen(chosen, n))
    local = np.full(n, -1, dtype=np.int64)  # whole-graph index -> local row (or -1)
    new = np.zeros(n, dtype=bool)  # marks the sources not among the targets
    fields = []
    for graph in reversed(graphs):
        starts = graph.indptr[targets]
        degrees = graph.indptr[targets + 1] - starts
        edges = concatenated_ranges(starts, degrees)
        sources = graph.sources[edges]
        local[targets] = np.arange(targets.shape[0])
        # (ascending, as np.unique would give, without sorting or hashing E_f values)
        new[sources[local[sources] < 0]] = True
        others = np.flatnonzero(new)
        new[others] = False
        local[others] = targets.shape[0] + np.arange(others.shape[0])
        nodes = np.concatenate([targets, others])
        indptr = np.zeros(nodes.shape[0] + 1, dtype=np.int64)
        np.cumsum(degrees, out=indptr[1 : targets.shape[0] + 1])
        indptr[targets.shape[0] + 1 :] = indptr[targets.shape[0]]
        index = np.int32 if nodes.shape[0] < 2**31 - 1 else np.int64
        field = LayerField(nodes, Graph(indptr, local[sources].astype(index), nodes.shape[0]),
                           edges, int(targets.shape[0]), graph.n_nodes, graph.n_edges)
        fields.append(field)
        local[nodes] = -1
        targets = nodes
    return fields[::-1]
