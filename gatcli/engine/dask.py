"""The Dask engine: the same forward pass on a Dask cluster (``pip install 'gatcli[distributed]'``).

Target nodes are split into contiguous partitions of about equal edges. Per layer:

1. node tables: one task per *node partition*, a run of the layer's fixed product chunks
   (:func:`gatcli.kernel.node_chunks`) starting where a target partition starts (snapped
   down to a chunk boundary), so the matrix products are exactly the local engine's. Each
   task also returns the bounds of its scores; the client combines them (max/min, exact)
   into the one global softmax shift (:func:`gatcli.kernel.layer_shift`).
2. shuffle: each target partition needs the table rows of the distinct sources of its edges
   (U_p, found on the worker holding the partition's edges); one small task per pair
   (node partition, target partition) takes those rows, so only needed rows move. Their
   bytes are counted (``stats["shuffle_bytes"]``: rows taken from another partition's
   table).
3. blocks: one task per target partition runs :func:`gatcli.kernel.attention_block` over its
   rows with the sources renumbered into U_p (same values, same per-row order): its output
   rows and alphas equal the local engine's bit for bit.

Every task is a pure function of its inputs and inputs are loaded by tasks (from paths the
workers can read, or embedded in the task for in-memory arrays), so when a worker dies Dask
recomputes what it held and retries the running tasks on the other workers (up to
``distributed.scheduler.allowed-failures`` times, then the run fails with one error).
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from gatcli.graph import Graph
from gatcli.kernel import (
    EDGES_PER_BLOCK,
    LayerPlan,
    NodeRows,
    ScoreBounds,
    attention_block,
    block_bounds,
    combine_bounds,
    edges_per_block,
    layer_plan,
    layer_shift,
    node_chunks,
    node_rows,
    score_bounds,
)

EXTRA_HINT = "the Dask engine needs the distributed extra: pip install 'gatcli[distributed]'"


def import_distributed() -> Any:
    """The ``distributed`` module, or ImportError with one line naming the extra."""
    try:
        import distributed
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(EXTRA_HINT) from error
    return distributed


# -- tasks (pure functions, run on the workers) ---------------------------------------------


@dataclass(frozen=True)
class NpyRows:
    """Rows of a 2-D .npy file on storage the workers can read (memory-mapped there)."""

    path: str
    offset: int
    shape: tuple[int, int]
    dtype: str


def _load_rows(source: NpyRows | np.ndarray | sp.csr_array, start: int, stop: int,
               dtype: str) -> np.ndarray | sp.csr_array:
    if isinstance(source, NpyRows):
        whole = np.memmap(source.path, dtype=source.dtype, mode="r", offset=source.offset,
                          shape=source.shape)
        return np.array(whole[start:stop], dtype=dtype)
    if sp.issparse(source):
        return sp.csr_array(source, dtype=dtype)
    return np.asarray(source, dtype=dtype)


def _concat_rows(start: int, stop: int, *pieces: tuple[int, Any]) -> Any:
    """Rows start:stop from pieces (piece_start, rows) that cover them."""
    parts = []
    for first, rows in pieces:
        lo, hi = max(start, first), min(stop, first + rows.shape[0])
        if hi > lo:
            parts.append(rows[lo - first : hi - first])
    if len(parts) == 1:
        return parts[0]
    if sp.issparse(parts[0]):
        return sp.vstack(parts, format="csr")
    return np.concatenate(parts)


def _node_part(x: Any, plan: LayerPlan, chunks: list[tuple[int, int]], first: int
               ) -> tuple[NodeRows, ScoreBounds]:
    """The NodeRows of rows [chunks[0][0], chunks[-1][1]) from x (those rows, starting at
    global row ``first``), computed chunk by chunk exactly as the local engine does."""
    from gatcli.engine.threads import one_blas_thread

    n = chunks[-1][1] - chunks[0][0] if chunks else 0
    dtype = np.result_type(x.dtype, plan.products[0][0])
    from gatcli.kernel import empty_node_rows

    table = empty_node_rows(plan, n, dtype)
    parts = []
    limit = one_blas_thread() if plan.strategy == "chunks" else contextlib.nullcontext()
    with limit:
        for start, stop in chunks:
            lo, hi = start - first, stop - first
            rows = x if (lo, hi) == (0, x.shape[0]) else x[lo:hi]
            parts.append(score_bounds(node_rows(rows, plan, table.rows(lo, hi)), plan))
    return table, combine_bounds(parts, plan)


def _bounds_of(part: tuple[NodeRows, ScoreBounds]) -> ScoreBounds:
    return part[1]


def _sources_of(block: Graph, n_nodes: int) -> tuple[np.ndarray, Graph]:
    """(U: the distinct sources of the block's edges, ascending; the block renumbered: its
    sources as positions in U)."""
    seen = np.zeros(n_nodes, dtype=bool)
    seen[block.sources] = True
    unique = np.flatnonzero(seen)
    where = np.zeros(n_nodes, dtype=block.sources.dtype)
    where[unique] = np.arange(unique.shape[0], dtype=block.sources.dtype)
    return unique, Graph(block.indptr, where[block.sources], block.n_nodes)


def _unique_of(prepared: tuple[np.ndarray, Graph]) -> np.ndarray:
    return prepared[0]


def _take_sources(part: tuple[NodeRows, ScoreBounds], first: int, unique: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """The rows of ``unique`` (global ids) inside this node partition: (messages, src_terms).
    """
    table = part[0]
    n = table.messages.shape[0]
    lo, hi = np.searchsorted(unique, [first, first + n])
    local = unique[lo:hi] - first
    return (table.messages[local],
            None if table.src_terms is None else table.src_terms[local])


def _source_rows(*pieces: tuple[np.ndarray, np.ndarray | None]) -> NodeRows:
    messages = np.concatenate([p[0] for p in pieces])
    src = None if pieces[0][1] is None else np.concatenate([p[1] for p in pieces])
    return NodeRows(messages, src_terms=src)


def _target_rows(start: int, stop: int, *pieces: tuple[int, tuple[NodeRows, Any]]
                 ) -> NodeRows:
    """Rows start:stop of the target-side arrays (dst_terms, target_side, residual)."""
    def cut(name: str) -> np.ndarray | None:
        if getattr(pieces[0][1][0], name) is None:
            return None
        return _concat_rows(start, stop, *[(a, getattr(p[0], name)) for a, p in pieces])

    return NodeRows(np.empty((0, 0)), dst_terms=cut("dst_terms"),
                    target_side=cut("target_side"), residual=cut("residual"))


def _block_part(plan: LayerPlan, shift: np.ndarray | None, sources: NodeRows,
                targets: NodeRows, prepared: tuple[np.ndarray, Graph], keep_attention: bool,
                block_size: int | None, budget: int) -> tuple[np.ndarray, np.ndarray | None]:
    """One target partition's output rows (n_p, C) and alphas (E_p, H) or None."""
    graph = prepared[1]
    n = graph.n_nodes
    dtype = sources.messages.dtype
    out = np.empty((n, plan.out_dim), dtype=dtype)
    alpha = np.empty((graph.n_edges, plan.heads), dtype=dtype) if keep_attention else None
    edge_targets = graph.targets()
    bounds = block_bounds(graph.indptr, block_size, budget)
    if bounds:
        most = int(np.diff(graph.indptr[[s for s, _ in bounds] + [n]]).max())
        scratch = np.empty((most, plan.table_width), dtype=dtype)
    for start, stop in bounds:
        lo, hi = int(graph.indptr[start]), int(graph.indptr[stop])
        out[start:stop] = attention_block(
            plan, shift, sources, targets, graph.block(start, stop), edge_targets[lo:hi],
            start, scratch=scratch, alpha=None if alpha is None else alpha[lo:hi])
    return out, alpha


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


def _second(pair: tuple[Any, Any]) -> Any:
    return pair[1]


def _nbytes(*arrays: Any) -> int:
    return int(sum(a.nbytes for a in arrays if a is not None))


def _piece_bytes(piece: tuple[np.ndarray, np.ndarray | None]) -> int:
    return _nbytes(*piece)


# -- the engine (client side) ---------------------------------------------------------------


def target_partitions(indptr: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Contiguous target ranges of about equal edges + rows (at most ``parts``)."""
    n = indptr.shape[0] - 1
    if n == 0:
        return []
    weight = indptr + np.arange(n + 1)  # edges + rows before each row
    marks = weight[-1] * np.arange(1, parts) / parts
    cuts = np.unique(np.concatenate([[0], np.searchsorted(weight, marks), [n]]))
    return list(zip(cuts[:-1].tolist(), cuts[1:].tolist()))


def node_partitions(chunks: list[tuple[int, int]], targets: list[tuple[int, int]]
                    ) -> list[list[tuple[int, int]]]:
    """The layer's product chunks grouped into runs, a run starting at the chunk holding each
    target partition's first row (the chunks themselves are never split)."""
    if not chunks:
        return []
    starts = np.array([a for a, _ in chunks])
    firsts = sorted({int(np.searchsorted(starts, s, side="right") - 1) for s, _ in targets})
    firsts = [f for f in firsts if f >= 0] or [0]
    if firsts[0] != 0:
        firsts[0] = 0
    edges = [*firsts, len(chunks)]
    return [chunks[a:b] for a, b in zip(edges[:-1], edges[1:]) if b > a]


class DaskEngine:
    """Runs the forward pass on a Dask cluster.

    scheduler: ``"local:N"`` starts a LocalCluster of N worker processes (one thread each)
        and closes it with the engine; ``"tcp://HOST:PORT"`` (any address Dask accepts)
        connects to an existing scheduler; a ``distributed.Client`` is used as is.
    partitions: target partitions (default: 2 per worker thread).
    stats: after a run, ``shuffle_bytes`` (table rows moved between partitions, all layers),
        ``tasks`` and the phase times.
    """

    name = "dask"

    def __init__(self, scheduler: Any = "local:2", partitions: int | None = None,
                 edges_per_block: int | None = None):
        distributed = import_distributed()
        self._cluster = None
        self._own_client = True
        if isinstance(scheduler, distributed.Client):
            self.client, self._own_client = scheduler, False
        elif isinstance(scheduler, str) and scheduler.startswith("local:"):
            workers = int(scheduler.split(":", 1)[1])
            self._cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.ERROR)
            self.client = distributed.Client(self._cluster)
        else:
            self.client = distributed.Client(scheduler)
        self.partitions = partitions
        self.edges_per_block = edges_per_block
        self.stats: dict[str, float] = {}

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def _parts(self) -> int:
        if self.partitions:
            return self.partitions
        threads = sum(self.client.nthreads().values()) or 1
        return 2 * threads

    def _submit(self, fn: Callable[..., Any], *args: Any, name: str) -> Any:
        return self.client.submit(fn, *args, key=f"{name}-{self._token}", pure=False)

    def forward(self, model: Any, x: Any, graphs: list[Graph], *,
                dtype: np.dtype | type = np.float32, recorder: Any = None,
                keep_attention: bool = False, block_size: int | None = None,
                progress: Callable[[int, int, int], None] | None = None,
                on_layer: Callable[[int, Graph, np.ndarray], None] | None = None):
        """The model's forward pass on the cluster (see gatcli.forward.forward_graphs)."""
        keep = keep_attention
        keep_attention = keep_attention or on_layer is not None
        from gatcli.forward import ForwardResult, cast_layer

        if recorder is not None:
            raise ValueError("the step recorder runs on the local engine only")
        distributed = import_distributed()
        self._token = f"{time.time_ns():x}"
        dtype = np.dtype(dtype)
        if sp.issparse(x):
            x = sp.csr_array(x, dtype=dtype)
        n = x.shape[0]
        shuffle = 0
        tasks = 0
        # the first input, partitioned like the first graph's targets
        graph_parts: dict[int, tuple[list[tuple[int, int]], list[Any]]] = {}

        def partitioned(graph: Graph) -> tuple[list[tuple[int, int]], list[Any]]:
            key = id(graph)
            if key not in graph_parts:
                ranges = target_partitions(graph.indptr, self._parts())
                prepared = []
                for p, (s, e) in enumerate(ranges):
                    block = graph.block(s, e)
                    prepared.append(self._submit(
                        _sources_of, Graph(np.array(block.indptr), np.array(block.sources),
                                           block.n_nodes), n,
                        name=f"gat-edges-{len(graph_parts)}-{p}"))
                graph_parts[key] = (ranges, prepared)
            return graph_parts[key]

        ranges0, _ = partitioned(graphs[0]) if graphs else ([(0, n)], [])
        source = _npy_source(x)
        h_parts = []  # (start, future of rows)
        for p, (s, e) in enumerate(ranges0):
            data = source if source is not None else x[s:e]
            lo, hi = (s, e) if source is not None else (0, e - s)
            h_parts.append((s, e, self._submit(_load_rows, data, lo, hi, dtype.str,
                                               name=f"gat-input-{p}")))
        attention: list[np.ndarray | None] = []
        wait = time.perf_counter
        self.stats = {"node tables": 0.0, "shuffle and blocks": 0.0}
        for k, (layer, graph) in enumerate(zip(model.layers, graphs)):
            layer = cast_layer(layer, dtype)
            ranges, prepared = partitioned(graph)
            shape_like = _ShapeOf(x if k == 0 else None, n, layer.spec.in_dim, dtype)
            example = shape_like.example()
            plan = layer_plan(layer, example)
            groups = node_partitions(node_chunks(example, plan), ranges)
            t0 = wait()
            nodes = []  # (first row, stop row, future of (NodeRows, bounds))
            for q, group in enumerate(groups):
                a, b = group[0][0], group[-1][1]
                rows = self._submit(_concat_rows, a, b, *_overlapping(h_parts, a, b),
                                    name=f"gat-x-{k}-{q}")
                nodes.append((a, b, self._submit(_node_part, rows, plan, group, a,
                                                 name=f"gat-node-{k}-{q}")))
            bounds = self.client.gather([self._submit(_bounds_of, f, name=f"gat-bounds-{k}-{q}")
                                         for q, (_, _, f) in enumerate(nodes)])
            shift = layer_shift(combine_bounds(bounds, plan), plan, dtype)
            self.stats["node tables"] += wait() - t0
            t0 = wait()
            budget = edges_per_block(plan.table_width,
                                     self.edges_per_block or EDGES_PER_BLOCK)
            outs, moved = [], []
            for p, (s, e) in enumerate(ranges):
                unique = self._submit(_unique_of, prepared[p], name=f"gat-u-{k}-{p}")
                pieces = []
                for q, (a, b, f) in enumerate(nodes):
                    piece = self._submit(_take_sources, f, a, unique,
                                         name=f"gat-take-{k}-{p}-{q}")
                    pieces.append(piece)
                    if not a <= s < b:  # rows from another partition's table
                        moved.append(self._submit(_piece_bytes, piece,
                                                  name=f"gat-bytes-{k}-{p}-{q}"))
                src_rows = self._submit(_source_rows, *pieces, name=f"gat-src-{k}-{p}")
                dst_rows = self._submit(_target_rows, s, e, *_overlapping(nodes, s, e),
                                        name=f"gat-dst-{k}-{p}")
                outs.append(self._submit(_block_part, plan, shift, src_rows, dst_rows,
                                         prepared[p], keep_attention, block_size, budget,
                                         name=f"gat-block-{k}-{p}"))
                tasks += 4 + 2 * len(nodes)
            done = 0
            index = {f.key: p for p, f in enumerate(outs)}
            for future in distributed.as_completed(outs):
                s, e = ranges[index[future.key]]
                done += e - s
                if progress:
                    progress(k, done, n)
            self.stats["shuffle and blocks"] += wait() - t0
            shuffle += sum(self.client.gather(moved))
            h_parts = [(s, e, self._submit(_first, f, name=f"gat-out-{k}-{p}"))
                       for p, ((s, e), f) in enumerate(zip(ranges, outs))]
            if keep_attention:
                alphas = self.client.gather([self._submit(_second, f, name=f"gat-a-{k}-{p}")
                                             for p, f in enumerate(outs)])
                alpha = (np.concatenate(alphas) if alphas else
                         np.empty((0, layer.spec.heads), dtype))
                if on_layer is not None:
                    on_layer(k, graph, alpha)
                attention.append(alpha if keep else None)
                del alpha, alphas
            else:
                attention.append(None)
        parts = self.client.gather([f for _, _, f in h_parts])
        embeddings = np.concatenate(parts) if parts else np.empty((0, 0), dtype)
        self.stats["shuffle_bytes"] = shuffle
        self.stats["tasks"] = tasks
        return ForwardResult(embeddings, list(graphs), attention)


def _overlapping(parts: list[tuple[int, int, Any]], start: int, stop: int
                 ) -> list[tuple[int, Any]]:
    """(first row, future) of the parts [a, b) that overlap rows start:stop."""
    return [(a, f) for a, b, f in parts if a < stop and b > start]


@dataclass
class _ShapeOf:
    """An input's kind and shape, for planning on the client without its data."""

    x: Any
    n: int
    width: int
    dtype: np.dtype

    def example(self) -> Any:
        if self.x is not None:
            return self.x
        return np.lib.stride_tricks.as_strided(np.zeros(1, self.dtype), (self.n, self.width),
                                               (0, 0))


def _npy_source(x: Any) -> NpyRows | None:
    """A memory-mapped .npy input as a path the workers open themselves (None otherwise)."""
    if isinstance(x, np.memmap) and isinstance(x.base, mmap.mmap) and x.ndim == 2 \
            and x.flags.c_contiguous and getattr(x, "filename", None):
        return NpyRows(str(x.filename), int(x.offset), tuple(x.shape), x.dtype.str)
    return None
