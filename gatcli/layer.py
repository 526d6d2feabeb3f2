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
bias are added, and the layer's activation applied. Targets are processed in blocks of rows, so
per-edge temporaries never exceed one block; results do not depend on the block size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse as sp

from gatcli.graph import Graph
from gatcli.model.spec import Layer

#: Steps recorded for a GAT layer, in computation order.
GAT_STEPS = ("linear", "scores_dst", "scores_src", "scores", "leaky_relu", "softmax",
             "aggregate", "heads", "output")
#: Steps recorded for a GATv2 layer, in computation order.
GATV2_STEPS = ("linear", "linear_dst", "pairs", "leaky_relu", "scores", "softmax",
               "aggregate", "heads", "output")

#: Per-edge budget of one block when no block size is given: bounds the temporaries.
EDGES_PER_BLOCK = 1 << 20


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


def linear_heads(x: np.ndarray, weight: np.ndarray, heads: int,
                 bias: np.ndarray | None = None) -> np.ndarray:
    """x: (N, F_in), weight: (H*F', F_in) -> x @ weight.T (+ bias) as (N, H, F')."""
    out = x @ weight.T
    if bias is not None:
        out += bias
    return out.reshape(x.shape[0], heads, -1)


def node_attention_terms(wh: np.ndarray, att: np.ndarray) -> np.ndarray:
    """wh: (N, H, F'), att: (1, H, F') -> (N, H): the per-node term a_h . Wh_n of every head."""
    return np.einsum("nhf,hf->nh", wh, att.reshape(att.shape[-2:]))


def segment_softmax(logits: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Softmax of (E, H) logits within each CSR row (a target's in-edges), per head.

    Each row's maximum is subtracted first, so the largest term is exp(0) = 1: no overflow,
    and the denominator is >= 1. Rows with no edges have no entries and take no part.
    """
    degrees = np.diff(indptr)
    nonempty = degrees > 0
    starts = indptr[:-1][nonempty]
    alpha = np.array(logits, copy=True)
    if starts.size == 0:
        return alpha
    counts = degrees[nonempty]
    alpha -= np.repeat(np.maximum.reduceat(logits, starts, axis=0), counts, axis=0)
    np.exp(alpha, out=alpha)
    alpha /= np.repeat(np.add.reduceat(alpha, starts, axis=0), counts, axis=0)
    return alpha


def aggregate(graph: Graph, alpha: np.ndarray, values: np.ndarray) -> np.ndarray:
    """out_i = sum_{j -> i} alpha_ij values_j per head.

    graph: n target rows, sources index ``values``; alpha: (E, H); values: (H, N, F')
    (head-major, contiguous) -> (n, H, F'). A target with no in-edges gets zeros.
    """
    heads, n_nodes, width = values.shape
    out = np.empty((graph.n_nodes, heads, width), dtype=values.dtype)
    for h in range(heads):
        weights = sp.csr_array((alpha[:, h], graph.sources, graph.indptr),
                               shape=(graph.n_nodes, n_nodes))
        out[:, h, :] = weights @ values[h]
    return out


def block_bounds(indptr: np.ndarray, block_size: int | None = None) -> list[tuple[int, int]]:
    """Row ranges [start, stop) covering all targets.

    block_size: rows per block; None chooses blocks of about ``EDGES_PER_BLOCK`` edges.
    """
    n = indptr.shape[0] - 1
    if n == 0:
        return []
    if block_size is not None:
        cuts = list(range(0, n, block_size)) + [n]
    else:
        marks = np.arange(EDGES_PER_BLOCK, int(indptr[-1]), EDGES_PER_BLOCK)
        inner = np.unique(np.searchsorted(indptr, marks, side="right") - 1)
        cuts = [0] + [int(c) for c in inner if 0 < c < n] + [n]
    return list(zip(cuts[:-1], cuts[1:]))


def _blocks(graph: Graph, block_size: int | None) -> Iterator[tuple[int, int, Graph]]:
    for start, stop in block_bounds(graph.indptr, block_size):
        yield start, stop, graph.block(start, stop)


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

    C = H*F' when the spec concatenates heads, F' when it averages them. alpha is returned
    (in the graph's CSR order) when ``keep_attention`` or a recorder is given.
    progress(done_targets, total_targets) is called after each block.
    """
    spec, p = layer.spec, layer.params
    dtype = x.dtype
    slope = spec.negative_slope
    n, heads = graph.n_nodes, spec.heads
    want_edges = keep_attention or recorder is not None
    rec = (lambda name, value: recorder.record(layer_index, name, value)) if recorder else None

    if spec.kind == "gat":
        wh = linear_heads(x, p["lin.weight"], heads)
        src_terms = node_attention_terms(wh, p["att_src"])
        dst_terms = node_attention_terms(wh, p["att_dst"])
        messages = wh
        if rec:
            rec("linear", wh)
            rec("scores_dst", dst_terms)
            rec("scores_src", src_terms)
    else:
        messages = linear_heads(x, p["lin_l.weight"], heads, p.get("lin_l.bias"))
        if spec.share_weights:
            target_side = messages
        else:
            target_side = linear_heads(x, p["lin_r.weight"], heads, p.get("lin_r.bias"))
        att = p["att"].reshape(heads, -1)
        if rec:
            rec("linear", messages)
            rec("linear_dst", target_side)
    values = np.ascontiguousarray(messages.transpose(1, 0, 2))  # (H, N, F')

    aggregated = np.empty((n, heads, spec.out_dim), dtype=dtype)
    alpha_all = np.empty((graph.n_edges, heads), dtype=dtype) if want_edges else None
    kept: dict[str, list[np.ndarray]] = {}

    def keep(name: str, value: np.ndarray) -> None:
        if rec:
            kept.setdefault(name, []).append(value)

    for start, stop, block in _blocks(graph, block_size):
        lo, hi = int(graph.indptr[start]), int(graph.indptr[stop])
        degrees = block.in_degrees
        if spec.kind == "gat":
            raw = src_terms[block.sources]
            raw += np.repeat(dst_terms[start:stop], degrees, axis=0)
            keep("scores", raw)
            logits = leaky_relu(raw, slope)
            keep("leaky_relu", logits)
        else:
            pairs = messages[block.sources]
            pairs += np.repeat(target_side[start:stop], degrees, axis=0)
            keep("pairs", pairs)
            hidden = leaky_relu(pairs, slope)
            keep("leaky_relu", hidden)
            logits = np.einsum("ehf,hf->eh", hidden, att)
            keep("scores", logits)
        alpha = segment_softmax(logits, block.indptr)
        if alpha_all is not None:
            alpha_all[lo:hi] = alpha
        aggregated[start:stop] = aggregate(block, alpha, values)
        if progress:
            progress(stop, n)

    if rec:
        for name, parts in kept.items():
            rec(name, np.concatenate(parts) if parts else parts)
        rec("softmax", alpha_all)
        rec("aggregate", aggregated)
    out = aggregated.reshape(n, -1) if spec.concat else aggregated.mean(axis=1)
    if rec:
        rec("heads", out)
    if "res.weight" in p:
        out = out + x @ p["res.weight"].T
    if "bias" in p:
        out = out + p["bias"]
    out = apply_activation(out, spec.activation)
    if rec:
        rec("output", out)
    return out, alpha_all
