"""The attention layer's math (GATConv and GATv2Conv) on the arrays of one chunk or block.

No threads, no files, no printing: plain functions of arrays. An engine
(:mod:`gatcli.engine`) decides where they run and where the arrays live, and maps them over
row chunks (the node table) and target blocks (the edges).

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

The layer in three steps, each exact whatever the split into pieces:

1. :func:`node_rows` on fixed chunks of rows of x (:func:`product_chunks`): the node table
   (messages Wh: (n, H*F'), GAT's per-node terms (n, H) or GATv2's target side (n, H*F'),
   the residual), and per chunk the bounds of the scores (:func:`score_bounds`). The
   chunks are fixed by N and F_in only, so every engine runs the same matrix products.
2. :func:`combine_bounds` then :func:`layer_shift`: one softmax shift per head for the whole
   graph (max and min do not depend on the order), or None when each row needs its own.
3. :func:`attention_block` on any range of target rows: gather, scores, softmax,
   aggregation, heads, residual, bias and activation. Every row's arithmetic is the same
   whatever the block, so results do not depend on the blocks or on who runs them.

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
* The node table's products run in fixed chunks of rows, each with one BLAS thread
  (OpenBLAS's own workers would busy-wait afterwards, taking a core), except for small,
  wide inputs (one BLAS call on all cores) and scipy.sparse inputs (sparse x dense
  products; x is never densified): :func:`node_table_strategy`. For wide or sparse inputs
  the attention terms are computed from Wh instead of being folded into W
  (:func:`folds_attention`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gatcli.graph import Graph
from gatcli.model.spec import Layer

#: Edges of one block when no block size is given, for a node table of ``TABLE_WIDTH``
#: columns (8 heads x 8); wider tables get proportionally fewer edges a block, narrower ones
#: more. Bounds the temporaries: about 5 MB a block (float32).
EDGES_PER_BLOCK = 1 << 14
TABLE_WIDTH = 64
#: Elements of x in one product chunk, about: 4096 rows of 128 features (fewer, wider rows
#: for wide inputs, so Cora's 2,708 x 1,433 still splits into several chunks). A fixed split:
#: a BLAS product's bits can depend on the rows it is given, so every engine runs the same
#: chunks (measured: Cora's products in chunks of 256 rows instead of 365 differ in the last
#: bit).
PRODUCT_ELEMENTS = 1 << 19
#: Node tables of at most this many elements of x (N x F_in) that are also wide (F_in at
#: least ``WIDE_INPUT``) are computed in one BLAS call on the BLAS's own threads; larger or
#: narrower ones in fixed row chunks of one BLAS thread each (see :func:`node_table_strategy`).
SMALL_TABLE_ELEMENTS = 1 << 24
WIDE_INPUT = 512
#: A sparse x is split into ``SPARSE_PARTS`` chunks of equal non-zeros when its product has
#: at least this many multiply-adds (nnz x output columns); smaller ones are one call. A
#: fixed number (not the thread count), so every engine and thread count runs the same
#: chunks.
SPARSE_SPLIT_WORK = 1 << 20
SPARSE_PARTS = 2

#: Called by :func:`attention_block` with (step name, value) for the recorder; the value may
#: be changed in place afterwards, so a keeper copies it.
Keep = Callable[[str, np.ndarray], None]


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


def column_reduce(reduce: np.ufunc, a: np.ndarray, initial: float) -> np.ndarray:
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

    Like :func:`column_reduce`, folds 8 rows into one so that the broadcast row does not
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


# -- planning: fixed product chunks and target blocks ---------------------------------------


def product_rows(in_dim: int) -> int:
    """Rows of x in one product chunk for F_in = ``in_dim``: PRODUCT_ELEMENTS // F_in (at
    least 1)."""
    return max(1, PRODUCT_ELEMENTS // max(1, in_dim))


def product_chunks(n: int, in_dim: int, start: int = 0, stop: int | None = None
                   ) -> list[tuple[int, int]]:
    """The fixed chunks [a, b) of rows ``start:stop`` (default all n): boundaries at the
    multiples of :func:`product_rows` and at start/stop. The chunks of a range that starts
    at such a multiple are exactly the global chunks inside it."""
    stop = n if stop is None else stop
    rows = product_rows(in_dim)
    cuts = [start, *range((start // rows + 1) * rows, stop, rows), stop]
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def node_table_strategy(x: np.ndarray | sp.sparray, columns: int) -> str:
    """How x @ W.T, W: (columns, F_in), is computed; depends only on x's kind and shape.

    ``"sparse"``: x is a scipy.sparse CSR matrix: sparse x dense products in row chunks
    (each row's sum is computed the same way in any chunk).
    ``"whole"``: a dense x that is small (N x F_in <= ``SMALL_TABLE_ELEMENTS``) and wide
    (F_in >= ``WIDE_INPUT``): one BLAS call on all cores; in single-thread chunks of a few
    hundred rows the product ran 1.5x slower (Cora: 2,708 x 1,433).
    ``"chunks"``: otherwise (tall tables): fixed chunks of ``PRODUCT_ELEMENTS`` elements of
    x, one BLAS thread each, so that no BLAS worker threads are left busy-waiting while the
    blocks run.

    Results of ``"whole"`` and ``"chunks"`` may differ in the last bits (BLAS kernels sum in
    a different order for different row counts); since the choice depends on the shape only,
    a given input always takes the same path, whatever the block size, thread count or
    engine.
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


def edges_per_block(columns: int, edges: int = EDGES_PER_BLOCK) -> int:
    """The edge budget of a block for a node table of ``columns`` columns: the same bytes of
    gathered rows a block whatever the table's width."""
    return max(1, edges * TABLE_WIDTH // max(columns, 1))


# -- step 1: the node table -----------------------------------------------------------------


@dataclass(frozen=True)
class LayerPlan:
    """What one layer needs besides the graph, in the computation's dtype.

    products: (weight (C, F_in), column widths, derived, derived widths) per matrix
        product of x: GAT ``[W; a_src rows; a_dst rows]`` -> (H*F', H, H) when the
        attention is folded into W, else ``W`` -> (H*F',) with derived ``[A_src; A_dst]``
        (P @ derived.T -> (H, H) from the product P = Wh); GATv2 ``W_l`` -> (H*F',) then
        ``W_r`` unless shared; then the residual ``R`` -> (out_dim,) if any.
    strategy: how the node table's products run (:func:`node_table_strategy`).
    """

    kind: str
    heads: int
    width: int
    slope: float
    concat: bool
    activation: str
    shared: bool
    in_dim: int
    products: tuple[tuple[np.ndarray, tuple[int, ...], np.ndarray | None, tuple[int, ...]],
                    ...]
    strategy: str
    lin_l_bias: np.ndarray | None
    lin_r_bias: np.ndarray | None
    att: np.ndarray | None  # GATv2: (H, F')
    bias: np.ndarray | None
    residual: bool

    @property
    def table_width(self) -> int:
        """Columns of the message table: H*F'."""
        return self.heads * self.width

    @property
    def out_dim(self) -> int:
        return self.table_width if self.concat else self.width


def layer_plan(layer: Layer, x: np.ndarray | sp.sparray) -> LayerPlan:
    """The layer's product matrices and per-block parameters (arrays in the params' dtype)
    for an input like x (only its kind, dense or sparse, and its shape are used)."""
    spec, p = layer.spec, layer.params
    hw, heads = spec.heads * spec.out_dim, spec.heads
    products: list = []
    if spec.kind == "gat":
        weight = p["lin.weight"]
        if folds_attention(x, hw):
            rows = np.concatenate([weight, attention_rows(weight, p["att_src"]),
                                   attention_rows(weight, p["att_dst"])])
            products.append((rows, (hw, heads, heads), None, ()))
        else:
            terms = np.concatenate([head_rows(p["att_src"]), head_rows(p["att_dst"])])
            products.append((weight, (hw,), terms, (heads, heads)))
        att = None
    else:
        products.append((p["lin_l.weight"], (hw,), None, ()))
        if not spec.share_weights:
            products.append((p["lin_r.weight"], (hw,), None, ()))
        att = p["att"].reshape(heads, spec.out_dim)
    out_dim = hw if spec.concat else spec.out_dim
    if "res.weight" in p:
        products.append((p["res.weight"], (out_dim,), None, ()))
    return LayerPlan(
        kind=spec.kind, heads=spec.heads, width=spec.out_dim, slope=spec.negative_slope,
        concat=spec.concat, activation=spec.activation, shared=spec.share_weights,
        in_dim=spec.in_dim, products=tuple(products),
        strategy=node_table_strategy(x, products[0][0].shape[0]), lin_l_bias=p.get("lin_l.bias"),
        lin_r_bias=p.get("lin_r.bias"), att=att, bias=p.get("bias"),
        residual="res.weight" in p)


@dataclass
class NodeRows:
    """The per-node arrays of one layer, for some rows (a chunk, a partition, or all N).

    messages: (n, H*F') Wh (GAT) or W_l x (+ bias) (GATv2): gathered per edge by its source.
    src_terms, dst_terms: (n, H) GAT's a_src . Wh and a_dst . Wh (None for GATv2).
    target_side: (n, H*F') GATv2's W_r x (+ bias), the same array as messages when the
        weights are shared (None for GAT).
    residual: (n, out_dim) x @ R.T, or None.
    """

    messages: np.ndarray
    src_terms: np.ndarray | None = None
    dst_terms: np.ndarray | None = None
    target_side: np.ndarray | None = None
    residual: np.ndarray | None = None

    def rows(self, start: int, stop: int) -> NodeRows:
        """Views of rows start:stop of every array."""
        def cut(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[start:stop]
        return NodeRows(self.messages[start:stop], cut(self.src_terms), cut(self.dst_terms),
                        cut(self.target_side), cut(self.residual))


def empty_node_rows(plan: LayerPlan, n: int, dtype: np.dtype,
                    allocate: Callable[[tuple[int, ...], np.dtype], np.ndarray] = np.empty
                    ) -> NodeRows:
    """Uninitialised NodeRows for n rows, each array from ``allocate(shape, dtype)``."""
    hw, heads = plan.table_width, plan.heads
    messages = allocate((n, hw), dtype)
    if plan.kind == "gat":
        rows = NodeRows(messages, allocate((n, heads), dtype), allocate((n, heads), dtype))
    else:
        rows = NodeRows(messages, target_side=messages if plan.shared
                        else allocate((n, hw), dtype))
    if plan.residual:
        rows.residual = allocate((n, plan.out_dim), dtype)
    return rows


def node_chunks(x: np.ndarray | sp.sparray, plan: LayerPlan) -> list[tuple[int, int]]:
    """The row ranges [start, stop) of x whose :func:`node_rows` make the node table:
    fixed by x's kind and shape (and its non-zeros when sparse), never by the engine."""
    n = x.shape[0]
    if plan.strategy == "whole" or n == 0:
        return [(0, n)]
    if plan.strategy == "sparse":
        if x.nnz * plan.products[0][0].shape[0] < SPARSE_SPLIT_WORK:
            return [(0, n)]
        # equal shares of the non-zeros (the work); a row's result does not depend on them
        marks = x.indptr[-1] * np.arange(1, SPARSE_PARTS) // SPARSE_PARTS
        cuts = np.unique(np.concatenate([[0], np.searchsorted(x.indptr, marks), [n]]))
        return list(zip(cuts[:-1].tolist(), cuts[1:].tolist()))
    return product_chunks(n, x.shape[1])


def node_rows(x: np.ndarray | sp.sparray, plan: LayerPlan, out: NodeRows | None = None
              ) -> NodeRows:
    """x: (n, F_in) rows of one chunk of :func:`node_chunks` (dense, or scipy.sparse CSR)
    -> their NodeRows (into ``out`` if given).

    One matrix product per entry of ``plan.products``, split by columns. The caller keeps
    the chunks of :func:`node_chunks` (and, for the ``"chunks"`` strategy, the BLAS to one
    thread) to get the same bits from every engine.
    """
    if out is None:
        out = empty_node_rows(plan, x.shape[0],
                              np.result_type(x.dtype, plan.products[0][0]))
    if plan.kind == "gat":
        targets = [[out.messages, out.src_terms, out.dst_terms]]
    else:
        targets = [[out.messages]] + ([] if plan.shared else [[out.target_side]])
    if plan.residual:
        targets.append([out.residual])
    sparse = sp.issparse(x)
    for (weight, widths, derived, derived_widths), dests in zip(plan.products, targets):
        # scipy's sparse x dense product runs 4x faster over a C-contiguous dense operand
        part = x @ (np.ascontiguousarray(weight.T) if sparse else weight.T)
        cuts = np.cumsum((0, *widths))
        for dest, lo, hi in zip(dests, cuts[:-1], cuts[1:]):
            dest[...] = part[:, lo:hi]
        if derived is not None:  # GAT's attention terms from Wh
            more = part[:, : widths[0]] @ np.ascontiguousarray(derived.T)
            cuts = np.cumsum((0, *derived_widths))
            for dest, lo, hi in zip(dests[len(widths):], cuts[:-1], cuts[1:]):
                dest[...] = more[:, lo:hi]
    if plan.lin_l_bias is not None:
        out.messages += plan.lin_l_bias
    if plan.kind == "gatv2" and not plan.shared and plan.lin_r_bias is not None:
        out.target_side += plan.lin_r_bias
    return out


@dataclass(frozen=True)
class ScoreBounds:
    """Per-head (GAT) or per-column (GATv2) extremes of some rows' node terms.

    GAT: a = max src_terms, b = max dst_terms, c = min src_terms, d = min dst_terms, (H,).
    GATv2: a = max |messages|, b = max |target_side|, (H*F',); c, d unused.
    """

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray | None = None
    d: np.ndarray | None = None


def score_bounds(rows: NodeRows, plan: LayerPlan) -> ScoreBounds:
    """The extremes of ``rows``' node terms (exact: combining pieces' bounds gives the
    bounds of the whole)."""
    with np.errstate(invalid="ignore", over="ignore"):
        if plan.kind == "gat":
            return ScoreBounds(column_reduce(np.maximum, rows.src_terms, -np.inf),
                               column_reduce(np.maximum, rows.dst_terms, -np.inf),
                               column_reduce(np.minimum, rows.src_terms, np.inf),
                               column_reduce(np.minimum, rows.dst_terms, np.inf))
        return ScoreBounds(column_reduce(np.maximum, np.abs(rows.messages), 0),
                           column_reduce(np.maximum, np.abs(rows.target_side), 0))


def combine_bounds(parts: list[ScoreBounds], plan: LayerPlan) -> ScoreBounds:
    """The bounds of the union of the pieces' rows (any order, same result)."""
    if plan.kind == "gat":
        inf = np.full(plan.heads, np.inf)
        return ScoreBounds(
            np.maximum.reduce([p.a for p in parts], initial=-np.inf, axis=0) if parts else -inf,
            np.maximum.reduce([p.b for p in parts], initial=-np.inf, axis=0) if parts else -inf,
            np.minimum.reduce([p.c for p in parts], initial=np.inf, axis=0) if parts else inf,
            np.minimum.reduce([p.d for p in parts], initial=np.inf, axis=0) if parts else inf)
    zero = np.zeros(plan.table_width)
    return ScoreBounds(np.maximum.reduce([p.a for p in parts], axis=0) if parts else zero,
                       np.maximum.reduce([p.b for p in parts], axis=0) if parts else zero)


def layer_shift(bounds: ScoreBounds, plan: LayerPlan, dtype: np.dtype) -> np.ndarray | None:
    """The global softmax shift (H,) from the whole graph's bounds, or None (per-row max).

    GAT: every logit <= LeakyReLU(max s + max d); every row's max >= LeakyReLU(min s + d_i)
    (for slope >= 0, where LeakyReLU is monotone; otherwise no lower bound).
    GATv2: |e_ij| <= sum_f |a_hf| * max(1, |s|) * (max |W_l x_jf| + max |W_r x_if|).
    """
    slope = plan.slope
    with np.errstate(invalid="ignore", over="ignore"):
        if plan.kind == "gat":
            high = leaky_relu(np.asarray(bounds.a + bounds.b, dtype), slope)
            low = leaky_relu(np.asarray(bounds.c + bounds.d, dtype), slope)
            if slope < 0:
                low = np.full(plan.heads, -np.inf)
        else:
            reach = np.asarray(bounds.a + bounds.b, dtype).reshape(plan.heads, plan.width)
            high = np.einsum("hf,hf->h", np.abs(plan.att), reach) * max(1.0, abs(slope))
            low = -high
    return softmax_shift(low, high, dtype)


# -- step 3: one block of target rows -------------------------------------------------------


def row_sums(block: Graph, *arrays: np.ndarray) -> list[np.ndarray]:
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


def attention_block(
    plan: LayerPlan,
    shift: np.ndarray | None,
    sources: NodeRows,
    targets: NodeRows,
    block: Graph,
    edge_targets: np.ndarray,
    first: int,
    *,
    scratch: np.ndarray | None = None,
    alpha: np.ndarray | None = None,
    keep: Keep | None = None,
    edge_scale: np.ndarray | None = None,
) -> np.ndarray:
    """The layer's output rows for one block of n_b targets: (n_b, out_dim).

    block: the block's in-edges (indptr (n_b + 1,), sources (E_b,) indexing ``sources``'
        messages and src_terms).
    edge_targets: (E_b,) each edge's target as a row of ``targets``' dst_terms /
        target_side; the block's targets are rows ``first:first + n_b`` of ``targets`` (so
        ``edge_targets - first`` is the block-local row), whose residual rows are used.
    scratch: a (>= E_b, H*F') buffer for the gathered rows (allocated if None).
    alpha: (E_b, H) receives the attention coefficients when given.
    keep: receives the intermediate steps (scores, leaky_relu / pairs, aggregate, heads).
    edge_scale: (E_b, H) multipliers of the attention coefficients in the aggregation only
        (``agg_i = sum_j alpha_ij s_ij Wh_j``: attention dropout while training); ``alpha``
        and the recorded steps stay the softmax itself.
    """
    dtype = sources.messages.dtype
    heads, width, hw, slope = plan.heads, plan.width, plan.table_width, plan.slope
    edges = block.n_edges
    if scratch is None:
        scratch = np.empty((edges, hw), dtype=dtype)
    # one contiguous table row per edge, into a reused buffer (no page faults per block)
    gathered = np.take(sources.messages, block.sources, axis=0, out=scratch[:edges],
                       mode="clip")  # (indices are valid; "raise" would buffer `out`)
    if plan.kind == "gat":  # (E_b, H) a_dst . Wh_i + a_src . Wh_j
        logits = np.take(targets.dst_terms, edge_targets, axis=0, mode="clip")
        logits += np.take(sources.src_terms, block.sources, axis=0, mode="clip")
        if keep:
            keep("scores", logits)
        _leaky_relu_inplace(logits, slope)
        if keep:
            keep("leaky_relu", logits)
    else:
        pairs = np.take(targets.target_side, edge_targets, axis=0, mode="clip")
        pairs += gathered[:, :hw]
        pairs = pairs.reshape(-1, heads, width)
        if keep:
            keep("pairs", pairs)
        _leaky_relu_inplace(pairs, slope)
        if keep:
            keep("leaky_relu", pairs)
        logits = np.einsum("ehf,hf->eh", pairs, plan.att)
        del pairs
        if keep:
            keep("scores", logits)
    if shift is not None:
        _subtract_row(logits, shift)
    else:
        logits -= _row_maxima(logits, block.indptr)
    weights = np.exp(logits, out=logits)  # (E_b, H) p_ij, unnormalised
    # p_ij Wh_j in place, (E_b, H, F') * (E_b, H, 1): releases the GIL and needs no
    # (E_b, H*F') temporary, unlike expanding p with np.repeat
    scaled = gathered.reshape(-1, heads, width)
    np.multiply(scaled, weights[:, :, None], out=scaled)
    if edge_scale is not None:
        np.multiply(scaled, edge_scale[:, :, None], out=scaled)
    sums, totals = row_sums(block, gathered, weights)  # (n_b, hw), (n_b, H)
    totals[totals == 0] = 1  # rows without edges: 0 / 1 = 0
    np.divide(sums, np.repeat(totals, width, axis=1), out=sums)
    agg = sums.reshape(-1, heads, width)
    if alpha is not None:
        np.divide(weights, np.take(totals, edge_targets - first, axis=0), out=alpha)
    if keep:
        keep("aggregate", agg)
    out_b = agg.reshape(-1, hw) if plan.concat else agg.mean(axis=1)
    if keep:
        keep("heads", out_b)
    if plan.residual:
        out_b = out_b + targets.residual[first : first + block.n_nodes]
    if plan.bias is not None:
        out_b += plan.bias
    return apply_activation(out_b, plan.activation)
