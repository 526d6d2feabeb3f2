"""The graph attention layer (GATConv and GATv2Conv) on an in-edge CSR: pure array math.

For one layer with H heads of F' features, LeakyReLU slope s, input x: (N, F_in):

GAT (Velickovic et al.)::

    Wh      = x @ W.T                       (N, H, F')       "linear"
    e_ij    = LeakyReLU(a_dst . Wh_i + a_src . Wh_j)          for each edge j -> i
            = LeakyReLU(a . [Wh_i || Wh_j])  computed as two per-node terms, never per edge
    alpha_ij = exp(e_ij) / sum_{k -> i} exp(e_ik)             softmax over i's in-edges only
    out_i   = sum_{j -> i} alpha_ij Wh_j     (N, H, F')       "aggregate"

GATv2 (Brody et al.) scores ``e_ij = a . LeakyReLU(W_r x_i + W_l x_j)`` and aggregates W_l x_j.

Heads are then concatenated (N, H*F') or averaged (N, F'), the residual ``x @ R.T`` and the
bias are added, and the layer's activation applied.

How it is computed (see benchmarks/RESULTS.md for what each choice gained):

* The per-node attention terms come out of a matrix product with x (the attention vectors
  are folded into rows of W), kept apart from the message table Wh: (N, H*F'), so each edge
  costs one gather of one contiguous Wh row (256 bytes for 8 x 8 float32: four cache lines)
  and two gathers of H terms.
* Softmax is shift-invariant. When the spread of the scores allows it (checked from per-node
  bounds, see :func:`softmax_shift`), one constant per head replaces every row's maximum;
  otherwise each row's maximum is subtracted.
* The aggregation sums ``p_ij * Wh_j`` and ``p_ij`` over each row with one sparse selector
  of sequential indices (two products) and then divides by the summed ``p_ij``: no per-edge
  normalisation is done.
* The node table's matrix products run in fixed chunks of rows on the same threads, each
  with one BLAS thread (OpenBLAS's own workers would busy-wait afterwards, taking a core),
  except for small, wide inputs (one BLAS call on all cores) and scipy.sparse inputs
  (sparse x dense products; x is never densified): :func:`node_table_strategy`. For wide
  or sparse inputs the attention terms are computed from Wh instead of being folded into W
  (:func:`folds_attention`).
* Targets are processed in blocks of rows (about ``EDGES_PER_BLOCK`` edges each), two blocks
  at a time on two threads (numpy and scipy release the GIL). Every row's arithmetic is the
  same whatever the blocks, so results do not depend on the block size or the threads.
"""

from __future__ import annotations

import contextvars
import ctypes
import functools
import glob
import os
import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import scipy.sparse as sp

from gatcli.graph import Graph
from gatcli.model.spec import Layer

_T = TypeVar("_T")

#: Steps recorded for a GAT layer, in computation order.
GAT_STEPS = ("linear", "scores_dst", "scores_src", "scores", "leaky_relu", "softmax",
             "aggregate", "heads", "output")
#: Steps recorded for a GATv2 layer, in computation order.
GATV2_STEPS = ("linear", "linear_dst", "pairs", "leaky_relu", "scores", "softmax",
               "aggregate", "heads", "output")

#: Edges of one block when no block size is given, for a node table of ``TABLE_WIDTH``
#: columns (8 heads x 8); wider tables get proportionally fewer edges a block, narrower ones
#: more. Bounds the temporaries: about 5 MB a block (float32), two in flight.
EDGES_PER_BLOCK = 1 << 14
TABLE_WIDTH = 64
#: Threads working on blocks at the same time.
THREADS = max(1, min(2, os.cpu_count() or 1))
#: Elements of x in one chunk of :func:`_node_products` (4096 rows of 128 features; fewer,
#: wider rows for wide inputs, so Cora's 2,708 x 1,433 still splits over both threads). A
#: fixed split: the result does not depend on the thread count.
PRODUCT_ELEMENTS = 1 << 19


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


def leaky_relu(x: np.ndarray, slope: float) -> np.ndarray:
    """max(x, s x) for 0 <= s <= 1, else where(x > 0, x, s x); same shape as x."""
    if 0.0 <= slope <= 1.0:
        return np.maximum(x, x * x.dtype.type(slope))
    return np.where(x > 0, x, x * x.dtype.type(slope))


def _leaky_relu_inplace(x: np.ndarray, slope: float) -> np.ndarray:
    if 0.0 <= slope <= 1.0:
        return np.maximum(x, x * x.dtype.type(slope), out=x)
    return np.multiply(x, x.dtype.type(slope), out=x, where=x <= 0)


def apply_activation(x: np.ndarray, name: str) -> np.ndarray:
    """The layer activation by name (``none``, ``elu``, ``relu``, ``leaky_relu``, ``tanh``,
    ``sigmoid``); shape preserved."""
    if name == "none":
        return x
    if name == "elu":
        # float32 expm1 is not vectorised in numpy; exp(min(x, 0)) - 1 is, and is exact
        # enough here (ELU(x) = x for x > 0, e^x - 1 otherwise).
        return np.maximum(np.exp(np.minimum(x, 0)) - 1, x)
    if name == "relu":
        return np.maximum(x, 0)
    if name == "leaky_relu":
        return leaky_relu(x, 0.01)
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    raise ValueError(f"unknown activation {name!r}")


def attention_rows(weight: np.ndarray, att: np.ndarray) -> np.ndarray:
    """weight: (H*F', F_in), att: (1, H, F') -> (H, F_in) rows R with x @ R.T = a_h . (W x)_h.

    Folding the attention vector into the weight gives the per-node terms of every head
    from the same matrix product as Wh.
    """
    heads, width = att.shape[-2:]
    return np.einsum("hf,hfk->hk", att.reshape(heads, width),
                     weight.reshape(heads, width, -1))


def _row_maxima(logits: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """(E, H) logits -> (E, H) the maximum of each edge's row, per head."""
    if logits.shape[0] == 0:
        return logits
    degrees = np.diff(indptr)
    nonempty = degrees > 0
    maxima = np.maximum.reduceat(logits, indptr[:-1][nonempty], axis=0)
    return np.repeat(maxima, degrees[nonempty], axis=0)


def _column_reduce(reduce: np.ufunc, a: np.ndarray, initial: float) -> np.ndarray:
    """a: (N, C) -> (C,) ``reduce`` (np.maximum or np.minimum) over the rows.

    Folds k rows into one row of k*C so the inner loop is long: a reduction over N rows of
    a short last axis runs one inner loop per row, about 20x slower. Exact, since max and
    min do not depend on the order.
    """
    columns = a.shape[1]
    k = max(1, 4096 // max(columns, 1))
    folded = a.shape[0] - a.shape[0] % k
    head = reduce.reduce(a[:folded].reshape(-1, k * columns), axis=0, initial=initial)
    return reduce(reduce.reduce(head.reshape(k, columns), axis=0),
                  reduce.reduce(a[folded:], axis=0, initial=initial))


def _subtract_row(a: np.ndarray, row: np.ndarray) -> np.ndarray:
    """a: (E, C), row: (C,) -> a - row, in place.

    Like :func:`_column_reduce`, folds 8 rows into one so that the broadcast row does not
    cut the inner loop down to C elements (about 4x faster for C = 8).
    """
    if not a.flags.c_contiguous:  # the folded view would be a copy
        a -= row
        return a
    fold = 8
    whole = a.shape[0] - a.shape[0] % fold
    head = a[:whole].reshape(-1, fold * a.shape[1])
    np.subtract(head, np.tile(row, fold), out=head)
    np.subtract(a[whole:], row, out=a[whole:])
    return a


def softmax_shift(low: np.ndarray, high: np.ndarray, dtype: np.dtype) -> np.ndarray | None:
    """One shift per head for the whole graph, or None when each row needs its own maximum.

    low, high: (H,) bounds with ``low <= max of every non-empty row's logits`` and
    ``every logit <= high``. Shifting by ``high`` keeps every exp(e - high) <= 1 (no
    overflow); and when ``high - low`` is small enough, every row's largest terms stay far
    above the smallest normal float, so the row's softmax loses nothing to underflow
    compared with subtracting its own maximum.
    """
    info = np.finfo(dtype)
    # a row's max term >= exp(-limit); terms that matter (>= eps of it) stay normal numbers
    limit = float(-np.log(info.tiny) + np.log(info.eps)) - 10.0
    with np.errstate(invalid="ignore", over="ignore"):
        spread = np.asarray(high, np.float64) - np.asarray(low, np.float64)
    if not (np.all(np.isfinite(spread)) and np.all(spread <= limit)):
        return None
    return np.asarray(high, dtype=dtype)


def _in_caller_context(fn: Callable[..., _T]) -> Callable[..., _T]:
    """fn, run in a copy of the calling thread's context: numpy's errstate lives in a
    context variable, and pool threads start without the caller's."""
    context = contextvars.copy_context()
    return lambda *args: context.copy().run(fn, *args)


@functools.cache
def _blas_single_thread() -> Callable[[], object] | None:
    """A call that limits the calling thread's BLAS (numpy's bundled OpenBLAS) to one
    thread, or None when that library or its thread-local setting is not found.

    Why: after a multithreaded product OpenBLAS's worker threads busy-wait for new work
    (about 0.1 s), taking a core from the block threads that follow: 1M edges ran 20%
    slower. Products split over this module's own threads, one BLAS thread each, leave no
    spinning workers behind and keep the caller's BLAS setting untouched.
    """
    folder = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in glob.glob(os.path.join(folder, "*openblas*")):
        try:
            local = ctypes.CDLL(path).openblas_set_num_threads_local  # OpenBLAS >= 0.3.27
        except (OSError, AttributeError):
            continue
        local.argtypes, local.restype = [ctypes.c_int], ctypes.c_int
        return functools.partial(local, 1)
    return None


#: Node tables of at most this many elements of x (N x F_in) that are also wide (F_in at
#: least ``WIDE_INPUT``) are computed in one BLAS call on the BLAS's own threads; larger or
#: narrower ones in fixed row chunks of one BLAS thread each (see :func:`node_table_strategy`).
SMALL_TABLE_ELEMENTS = 1 << 24
WIDE_INPUT = 512
#: A sparse x is split over the threads when its product has at least this many
#: multiply-adds (nnz x output columns); smaller ones are one call.
SPARSE_SPLIT_WORK = 1 << 20


def node_table_strategy(x: np.ndarray | sp.sparray, columns: int) -> str:
    """How x @ W.T, W: (columns, F_in), is computed; depends only on x's kind and shape.

    ``"sparse"``: x is a scipy.sparse CSR matrix: sparse x dense products in row chunks
    (each row's sum is computed the same way in any chunk).
    ``"whole"``: a dense x that is small (N x F_in <= ``SMALL_TABLE_ELEMENTS``) and wide
    (F_in >= ``WIDE_INPUT``): one BLAS call on all cores; in single-thread chunks of a few
    hundred rows the product ran 1.5x slower (Cora: 2,708 x 1,433).
    ``"chunks"``: otherwise (tall tables): fixed chunks of ``PRODUCT_ELEMENTS`` elements of
    x, one BLAS thread each, on the layer's threads, so that no BLAS worker threads are left
    busy-waiting while the blocks run.

    Results of ``"whole"`` and ``"chunks"`` may differ in the last bits (BLAS kernels sum in
    a different order for different row counts); since the choice depends on the shape only,
    a given input always takes the same path, whatever the block size and thread count.
    """
    if sp.issparse(x):
        return "sparse"
    n, width = x.shape
    if n * width <= SMALL_TABLE_ELEMENTS and width >= WIDE_INPUT:
        return "whole"
    return "chunks"


def folds_attention(x: np.ndarray | sp.sparray, table_width: int) -> bool:
    """Whether GAT's per-node attention terms come from the same product as Wh (attention
    vectors folded into W: 2H more columns of x @ W.T) rather than from Wh afterwards
    ((N, H*F') @ (H*F', 2H)).

    Folding costs N x F_in x 2H multiply-adds, the second way N x H*F' x 2H plus a pass
    over Wh: folding pays for narrow dense inputs (F_in <= 2 H*F', e.g. 128 features for
    8 x 8 heads), not for wide (Cora's 1,433) or sparse ones, where the product is most of
    the layer's time.
    """
    return not sp.issparse(x) and x.shape[1] <= 2 * table_width


def _row_chunks(x: np.ndarray | sp.sparray, columns: int, threads: int,
                strategy: str) -> list[tuple[int, int]]:
    """Row ranges [start, stop) of x for the node-table products."""
    n = x.shape[0]
    if strategy == "whole" or n == 0:
        return [(0, n)]
    if strategy == "sparse":
        parts = threads if x.nnz * columns >= SPARSE_SPLIT_WORK else 1
        if parts <= 1:
            return [(0, n)]
        # equal shares of the non-zeros (the work); a row's result does not depend on them
        marks = x.indptr[-1] * np.arange(1, parts) // parts
        cuts = np.unique(np.concatenate([[0], np.searchsorted(x.indptr, marks), [n]]))
        return list(zip(cuts[:-1].tolist(), cuts[1:].tolist()))
    rows = max(1, PRODUCT_ELEMENTS // max(1, x.shape[1]))
    return [(start, min(n, start + rows)) for start in range(0, n, rows)]


def _node_products(x: np.ndarray | sp.sparray, weight: np.ndarray, widths: tuple[int, ...],
                  threads: int = 1, *, derived: np.ndarray | None = None,
                  derived_widths: tuple[int, ...] = ()) -> list[np.ndarray]:
    """x: (N, F_in) dense or scipy.sparse CSR, weight: (sum(widths), F_in) -> x @ weight.T
    split by columns into contiguous (N, widths[k]) arrays; with ``derived``:
    (sum(derived_widths), widths[0]), also P @ derived.T for the first of them, P, split
    into (N, derived_widths[k]) arrays after those.

    The strategy (one call, fixed dense chunks, sparse chunks) is chosen from x's kind and
    shape by :func:`node_table_strategy`; chunks run on ``threads`` threads, each with one
    BLAS thread when that can be set (see :func:`_blas_single_thread`). A sparse x is never
    densified.
    """
    n = x.shape[0]
    dtype = np.result_type(x.dtype, weight)
    strategy = node_table_strategy(x, weight.shape[0])
    cuts = np.cumsum((0, *widths))
    outs = [np.empty((n, w), dtype=dtype) for w in widths]
    if derived is not None:
        derived_cuts = np.cumsum((0, *derived_widths))
        outs += [np.empty((n, w), dtype=dtype) for w in derived_widths]
        derived_t = np.ascontiguousarray(derived.T)
    # scipy's sparse x dense product runs 4x faster over a C-contiguous dense operand
    weight_t = np.ascontiguousarray(weight.T) if strategy == "sparse" else weight.T
    single = _blas_single_thread() if strategy == "chunks" else None
    if strategy == "chunks" and single is None:
        strategy = "whole"  # no thread-local BLAS setting: the BLAS's own threads
    bounds = _row_chunks(x, weight.shape[0], threads, strategy)

    def chunk(start: int, stop: int) -> None:
        if single is not None:
            single()
        part = (x if (start, stop) == (0, n) else x[start:stop]) @ weight_t
        for out, lo, hi in zip(outs, cuts[:-1], cuts[1:]):
            out[start:stop] = part[:, lo:hi]
        if derived is not None:
            more = part[:, : widths[0]] @ derived_t
            for out, lo, hi in zip(outs[len(widths):], derived_cuts[:-1], derived_cuts[1:]):
                out[start:stop] = more[:, lo:hi]

    if len(bounds) == 1:
        chunk(*bounds[0])
        return outs
    with ThreadPoolExecutor(max(1, min(threads, len(bounds)))) as pool:
        list(pool.map(_in_caller_context(chunk), *zip(*bounds)))
    return outs


def head_rows(att: np.ndarray) -> np.ndarray:
    """att: (1, H, F') -> (H, H*F') rows A with Wh @ A.T = a_h . Wh_h for every head h."""
    heads, width = att.shape[-2:]
    rows = np.zeros((heads, heads * width), dtype=att.dtype)
    for h in range(heads):
        rows[h, h * width : (h + 1) * width] = att.reshape(heads, width)[h]
    return rows


def block_bounds(indptr: np.ndarray, block_size: int | None = None,
                 edges_per_block: int | None = None) -> list[tuple[int, int]]:
    """Row ranges [start, stop) covering all targets.

    block_size: rows per block; None chooses blocks of about ``edges_per_block`` edges
    (default ``EDGES_PER_BLOCK``).
    """
    n = indptr.shape[0] - 1
    if n == 0:
        return []
    if block_size is not None:
        cuts = list(range(0, n, block_size)) + [n]
    else:
        budget = max(1, edges_per_block or EDGES_PER_BLOCK)
        marks = np.arange(budget, int(indptr[-1]), budget)
        inner = np.unique(np.searchsorted(indptr, marks, side="right") - 1)
        cuts = [0] + [int(c) for c in inner if 0 < c < n] + [n]
    return list(zip(cuts[:-1], cuts[1:]))


def _row_sums(block: Graph, *arrays: np.ndarray) -> list[np.ndarray]:
    """Each (E_b, C) array -> (n_b, C) sums of each target's rows, in edge order (zeros if
    none).

    Sparse products of one selector (the block's indptr, sequential indices, ones): each
    streams its array once and sums every target's edges in order, so the result of a row
    does not depend on the block it is in.
    """
    edges = block.n_edges
    index = np.int32 if edges < 2**31 - 1 else np.int64
    selector = sp.csr_array((np.ones(edges, arrays[0].dtype), np.arange(edges, dtype=index),
                             block.indptr.astype(index)), shape=(block.n_nodes, edges))
    return [selector @ rows for rows in arrays]


def _map_blocks(work: Callable[[int, int, Graph, np.ndarray], None], graph: Graph,
                columns: int, dtype: np.dtype, block_size: int | None, threads: int,
                progress: Callable[[int, int], None] | None) -> None:
    """Run ``work(start, stop, block, scratch)`` on every block, on ``threads`` threads, in
    any order; ``scratch`` is a (max block edges, columns) buffer owned by the call.
    progress(done_targets, total_targets) after each block, from this thread."""
    n = graph.n_nodes
    budget = max(1, EDGES_PER_BLOCK * TABLE_WIDTH // max(columns, 1))
    bounds = block_bounds(graph.indptr, block_size, budget)
    if not bounds:
        return
    cuts = graph.indptr[[start for start, _ in bounds] + [n]]
    most = int(np.diff(cuts).max())
    threads = max(1, min(threads, len(bounds)))
    free: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()
    for _ in range(threads):
        free.put(np.empty((most, columns), dtype=dtype))

    def run(start: int, stop: int) -> int:
        scratch = free.get()
        try:
            work(start, stop, graph.block(start, stop), scratch)
        finally:
            free.put(scratch)
        return stop - start

    if threads == 1:
        for start, stop in bounds:
            run(start, stop)
            if progress:
                progress(stop, n)
        return
    done = 0
    pool = ThreadPoolExecutor(threads)
    try:
        for rows in pool.map(_in_caller_context(run), *zip(*bounds)):
            done += rows
            if progress:
                progress(done, n)
    finally:  # on an error or Ctrl-C, drop the queued blocks instead of running them all
        pool.shutdown(wait=True, cancel_futures=True)


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
) -> tuple[np.ndarray, np.ndarray | None]:
    """One attention layer: x: (N, F_in) -> (out: (N, C), alpha: (E, H) or None).

    x is a dense array or a scipy.sparse matrix/array (any format; used as CSR, never
    densified: only the node-table products read it). The output is always dense.

    C = H*F' when the spec concatenates heads, F' when it averages them. alpha is returned
    (in the graph's CSR order) when ``keep_attention`` or a recorder is given.
    progress(done_targets, total_targets) is called after each block.
    """
    spec, p = layer.spec, layer.params
    if sp.issparse(x):
        x = sp.csr_array(x)
    dtype = x.dtype
    slope = spec.negative_slope
    n, heads, width = graph.n_nodes, spec.heads, spec.out_dim
    hw = heads * width
    rec = (lambda name, value: recorder.record(layer_index, name, value)) if recorder else None
    threads = 1 if rec else THREADS

    # The node table: the messages (Wh, or W_l x for GATv2), (N, hw), one row gathered per
    # edge. GAT's per-node terms are separate contiguous (N, H) arrays: gathering them apart
    # costs less than widening every gathered row (and adding strided columns).
    if spec.kind == "gat":
        weight = p["lin.weight"]
        if folds_attention(x, hw):
            rows = np.concatenate([weight, attention_rows(weight, p["att_src"]),
                                   attention_rows(weight, p["att_dst"])])
            # (N, hw), (N, H), (N, H)
            table, src_terms, dst_terms = _node_products(x, rows, (hw, heads, heads),
                                                         threads)
        else:
            terms = np.concatenate([head_rows(p["att_src"]), head_rows(p["att_dst"])])
            table, src_terms, dst_terms = _node_products(
                x, weight, (hw,), threads, derived=terms, derived_widths=(heads, heads))
        messages = table.reshape(n, heads, width)
        # every logit <= LeakyReLU(max s + max d); every row's max >= LeakyReLU(min s + d_i)
        # (for slope >= 0, where LeakyReLU is monotone; otherwise no global shift)
        with np.errstate(invalid="ignore", over="ignore"):
            high = leaky_relu(_column_reduce(np.maximum, src_terms, -np.inf)
                              + _column_reduce(np.maximum, dst_terms, -np.inf), slope)
            low = leaky_relu(_column_reduce(np.minimum, src_terms, np.inf)
                             + _column_reduce(np.minimum, dst_terms, np.inf), slope)
        if slope < 0:
            low = np.full(heads, -np.inf)
        if rec:
            rec("linear", messages)
            rec("scores_dst", dst_terms)
            rec("scores_src", src_terms)
    else:
        table, = _node_products(x, p["lin_l.weight"], (hw,), threads)  # (N, hw)
        if "lin_l.bias" in p:
            table += p["lin_l.bias"]
        messages = table.reshape(n, heads, width)
        if spec.share_weights:
            target_side = messages
        else:
            target_side, = _node_products(x, p["lin_r.weight"], (hw,), threads)
            if "lin_r.bias" in p:
                target_side += p["lin_r.bias"]
            target_side = target_side.reshape(n, heads, width)
        att = p["att"].reshape(heads, width)
        # |e_ij| <= sum_f |a_hf| * max(1, |s|) * (max |W_l x_jf| + max |W_r x_if|)
        with np.errstate(invalid="ignore", over="ignore"):
            reach = (_column_reduce(np.maximum, np.abs(table), 0)
                     + _column_reduce(np.maximum, np.abs(target_side.reshape(n, hw)), 0)
                     ).reshape(heads, width)
            high = np.einsum("hf,hf->h", np.abs(att), reach) * max(1.0, abs(slope))
        low = -high
        if rec:
            rec("linear", messages)
            rec("linear_dst", target_side)
    shift = softmax_shift(low, high, dtype)
    # (E,) target of every edge: per-edge copies of target rows are then gathers, which
    # release the GIL (np.repeat does not)
    edge_targets = graph.targets()

    concat = spec.concat
    out_dim = hw if concat else width
    if "res.weight" in p:
        out, = _node_products(x, p["res.weight"], (out_dim,), threads)
    else:
        out = np.empty((n, out_dim), dtype=dtype)
    bias = p.get("bias")
    want_alpha = keep_attention or rec is not None
    alpha_all = np.empty((graph.n_edges, heads), dtype=dtype) if want_alpha else None
    kept: dict[str, dict[int, np.ndarray]] = {}

    def keep(name: str, start: int, value: np.ndarray) -> None:
        kept.setdefault(name, {})[start] = np.array(value, copy=True)

    def work(start: int, stop: int, block: Graph, scratch: np.ndarray) -> None:
        lo, hi = int(graph.indptr[start]), int(graph.indptr[stop])
        # one contiguous table row per edge, into a reused buffer (no page faults per block)
        gathered = np.take(table, block.sources, axis=0, out=scratch[: block.n_edges],
                           mode="clip")  # (indices are valid; "raise" would buffer `out`)
        if spec.kind == "gat":  # (E_b, H) a_dst . Wh_i + a_src . Wh_j
            logits = np.take(dst_terms, edge_targets[lo:hi], axis=0, mode="clip")
            logits += np.take(src_terms, block.sources, axis=0, mode="clip")
            if rec:
                keep("scores", start, logits)
            _leaky_relu_inplace(logits, slope)
            if rec:
                keep("leaky_relu", start, logits)
        else:
            pairs = np.take(target_side.reshape(n, hw), edge_targets[lo:hi], axis=0,
                            mode="clip")
            pairs += gathered[:, :hw]
            pairs = pairs.reshape(-1, heads, width)
            if rec:
                keep("pairs", start, pairs)
            _leaky_relu_inplace(pairs, slope)
            if rec:
                keep("leaky_relu", start, pairs)
            logits = np.einsum("ehf,hf->eh", pairs, att)
            del pairs
            if rec:
                keep("scores", start, logits)
        if shift is not None:
            _subtract_row(logits, shift)
        else:
            logits -= _row_maxima(logits, block.indptr)
        weights = np.exp(logits, out=logits)  # (E_b, H) p_ij, unnormalised
        # p_ij Wh_j in place, (E_b, H, F') * (E_b, H, 1): releases the GIL and needs no
        # (E_b, H*F') temporary, unlike expanding p with np.repeat
        scaled = gathered.reshape(-1, heads, width)
        np.multiply(scaled, weights[:, :, None], out=scaled)
        sums, totals = _row_sums(block, gathered, weights)  # (n_b, hw), (n_b, H)
        totals[totals == 0] = 1  # rows without edges: 0 / 1 = 0
        np.divide(sums, np.repeat(totals, width, axis=1), out=sums)
        agg = sums.reshape(-1, heads, width)
        if alpha_all is not None:
            np.divide(weights, np.take(totals, edge_targets[lo:hi] - start, axis=0),
                      out=alpha_all[lo:hi])
        if rec:
            keep("aggregate", start, agg)
        out_b = agg.reshape(-1, hw) if concat else agg.mean(axis=1)
        if rec:
            keep("heads", start, out_b)
        if "res.weight" in p:
            out_b = out_b + out[start:stop]
        if bias is not None:
            out_b += bias
        out[start:stop] = apply_activation(out_b, spec.activation)

    _map_blocks(work, graph, table.shape[1], dtype, block_size, threads, progress)
    if rec:
        for name, parts in kept.items():
            rec(name, np.concatenate([parts[k] for k in sorted(parts)]))
        rec("softmax", alpha_all)
        rec("output", out)
    return out, alpha_all
