"""Graph construction: directed edges -> in-edge CSR, with the self-loop policy of PyG.

Convention (PyTorch Geometric ``edge_index``): an edge ``j -> i`` (source j, target i) means
node i attends to node j. The CSR is indexed by target: row i lists the sources j of the edges
into i, so a row-wise softmax over the stored entries is exactly GAT's neighbourhood softmax.
Duplicate edges are kept (each gets its own share of attention, as in PyG).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Graph:
    """In-edge CSR of a directed graph.

    indptr: (N + 1,) int64; edges into node i are ``indptr[i]:indptr[i + 1]``.
    sources: (E,) int32/int64; ``sources[k]`` is the source j of edge k (target i = its row).
    """

    indptr: np.ndarray
    sources: np.ndarray
    n_nodes: int

    @property
    def n_edges(self) -> int:
        return int(self.sources.shape[0])

    @property
    def in_degrees(self) -> np.ndarray:
        """(N,) number of edges into each node."""
        return np.diff(self.indptr)

    def targets(self) -> np.ndarray:
        """(E,) target i of every edge, in CSR order."""
        return np.repeat(np.arange(self.n_nodes, dtype=self.sources.dtype), self.in_degrees)

    def block(self, start: int, stop: int) -> Graph:
        """The edges into targets ``start:stop`` as a graph with ``stop - start`` rows.

        Sources keep their global numbering (they index the full node set).
        """
        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        return Graph(self.indptr[start : stop + 1] - lo, self.sources[lo:hi], stop - start)


def _index_dtype(n: int) -> type:
    return np.int32 if n < 2**31 - 1 else np.int64


def build_graph(
    sources: np.ndarray,
    targets: np.ndarray,
    n_nodes: int,
    *,
    self_loops: bool = True,
    undirected: bool = False,
) -> Graph:
    """In-edge CSR from edge arrays ``sources[k] -> targets[k]`` (0-based node indices).

    undirected: also add the reverse ``targets[k] -> sources[k]`` of every edge whose reverse
        is not in the input already (a mutual pair is not doubled).
    self_loops: remove existing self-loops, then add exactly one per node (PyG's
        ``remove_self_loops`` + ``add_self_loops``), so none is ever doubled.
    Within a target's row, edges keep their input order; added self-loops come last.
    """
    idx = _index_dtype(max(n_nodes, 1))
    src = np.asarray(sources)
    dst = np.asarray(targets)
    if undirected:
        keys = src.astype(np.int64) * n_nodes + dst
        reverse = dst.astype(np.int64) * n_nodes + src
        new = ~np.isin(reverse, keys)
        src, dst = np.concatenate([src, dst[new]]), np.concatenate([dst, src[new]])
    src = src.astype(idx, copy=False)
    dst = dst.astype(idx, copy=False)
    if self_loops:
        keep = src != dst
        if not keep.all():
            src, dst = src[keep], dst[keep]
        loop = np.arange(n_nodes, dtype=idx)
        src, dst = np.concatenate([src, loop]), np.concatenate([dst, loop])
    return Graph(*_rows_by_target(src, dst, n_nodes), n_nodes)


def _rows_by_target(src: np.ndarray, dst: np.ndarray, n_nodes: int) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """(indptr int64, sources): the edges grouped by target, input order kept within a row.

    A stable sort by target fixes the summation order, which makes results reproducible and
    PyG-like. scipy's COO -> CSR conversion is a counting sort that is stable; making each
    edge's column its position k keeps the converted rows in input order (so scipy finds
    them canonical and neither reorders nor merges anything), and the data carries the
    sources along. Several times faster than ``argsort(kind="stable")``.
    """
    n_edges = src.shape[0]
    if n_edges == 0 or n_nodes == 0:
        return np.zeros(n_nodes + 1, dtype=np.int64), src[:0]
    if n_edges >= 2**31 - 1:  # positions need int64 columns: the argsort fallback
        order = np.argsort(dst, kind="stable")
        indptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(dst, minlength=n_nodes), out=indptr[1:])
        return indptr, src[order]
    position = np.arange(n_edges, dtype=np.int32)
    rows = sp.coo_array((src, (dst, position)), shape=(n_nodes, n_edges)).tocsr()
    if rows.data.shape[0] != n_edges:  # cannot happen: the columns are all distinct
        raise AssertionError("COO -> CSR conversion merged edges")
    return rows.indptr.astype(np.int64), rows.data.astype(src.dtype, copy=False)


def edges_from_adjacency(adjacency: sp.spmatrix | sp.sparray) -> tuple[np.ndarray, np.ndarray]:
    """(sources, targets) of a square sparse adjacency whose row i lists the nodes i attends to.

    This is the tutorial's layout: ``A[i, j] != 0`` is the edge j -> i. Stored zeros are not edges.
    """
    coo = sp.coo_array(adjacency)
    nonzero = coo.data != 0
    return coo.col[nonzero], coo.row[nonzero]


def build_graph_chunked(
    sources: np.ndarray,
    targets: np.ndarray,
    n_nodes: int,
    *,
    self_loops: bool = True,
    allocate: Callable[[tuple[int, ...], np.dtype], np.ndarray] = np.empty,
    chunk: int = 1 << 20,
) -> Graph:
    """The in-edge CSR of :func:`build_graph` (same edges, same order: input order within a
    row, the self-loop last), built ``chunk`` edges at a time into ``allocate``d arrays
    (e.g. memory-mapped files): besides them it needs O(N + chunk) memory, so the edge
    arrays may be memory-mapped too. No ``undirected`` here (it needs every edge at once).

    A counting sort: per-target counts, then each chunk's edges placed after the edges of
    the same target from earlier chunks (a stable sort of the chunk by target).
    """
    idx = _index_dtype(max(n_nodes, 1))
    n_input = int(sources.shape[0])

    def pieces():
        for start in range(0, n_input, chunk):
            src = np.asarray(sources[start : start + chunk]).astype(idx, copy=False)
            dst = np.asarray(targets[start : start + chunk]).astype(idx, copy=False)
            if self_loops:
                keep = src != dst
                src, dst = src[keep], dst[keep]
            yield src, dst

    counts = np.zeros(n_nodes, dtype=np.int64)
    for _, dst in pieces():
        counts += np.bincount(dst, minlength=n_nodes)
    if self_loops:
        counts += 1
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    out = allocate((int(indptr[-1]),), np.dtype(idx))
    cursor = indptr[:-1].copy()
    for src, dst in pieces():
        order = np.argsort(dst, kind="stable")
        ordered = dst[order]
        rank = np.arange(ordered.shape[0]) - np.searchsorted(ordered, ordered, side="left")
        out[cursor[ordered] + rank] = src[order]
        cursor += np.bincount(dst, minlength=n_nodes)
    if self_loops:
        for start in range(0, n_nodes, chunk):
            stop = min(n_nodes, start + chunk)
            out[indptr[start + 1 : stop + 1] - 1] = np.arange(start, stop, dtype=idx)
    return Graph(indptr, out, n_nodes)
