"""The exact gradient of a GAT / GATv2 layer and of a model, written by hand.

Notation as in :mod:`gatcli.layer`: edge e = (j -> i) with target t(e) = i and source
s(e) = j, E edges in the layer's in-edge CSR order, H heads of F' features.

Forward (GAT)::

    Wh = x W^T                    (N, H, F')
    z_e = a_dst . Wh_i + a_src . Wh_j          (E, H)       logits before LeakyReLU
    alpha_e = softmax_i(LeakyReLU(z))          (E, H)       over the in-edges of i
    agg_i = sum_e alpha_e m_e Wh_j             (N, H, F')   m_e: attention dropout (or 1)
    pre = heads(agg) + x R^T + b;  out = act(pre)

Backward, from g = dL/dout (N, C)::

    g_pre   = g * act'(out)                    (act' from the output alone, see act_grad)
    db      = sum_i g_pre_i;  dR = g_pre^T x;  dx += g_pre R
    g_agg   = g_pre as (N, H, F') (concat) or g_pre / H broadcast over heads (mean)
    g_alpha_e = m_e (g_agg_i . Wh_j)                                    (E, H)
    dWh_j  += sum_{e: s(e)=j} alpha_e m_e g_agg_i                        scatter to sources
    g_e_e   = alpha_e (g_alpha_e - sum_{e' into i} alpha_e' g_alpha_e')  softmax
    g_z_e   = g_e_e * (1 if z_e > 0 else slope)                          LeakyReLU
    da_dst  = sum_i (sum_{e into i} g_z_e) Wh_i;   dWh_i += (sum_{e into i} g_z_e) a_dst
    da_src  = sum_j (sum_{e from j} g_z_e) Wh_j;   dWh_j += (sum_{e from j} g_z_e) a_src
    dW = dWh^T x;  dx += dWh W

GATv2 (``e_e = a . LeakyReLU(P_e)``, ``P_e = Wr x_i + br + Wl x_j + bl``, messages Wl x_j + bl)
replaces the score part by ``da = sum_e g_e_e LeakyReLU(P_e)``, ``g_P = g_e a * LeakyReLU'(P)``,
whose sums over each target go to the target side and over each source to the messages.

Sums over a target's in-edges and scatters to sources are products of the CSR with
sparse selectors (:class:`EdgeSums`), the same CSR the forward ran on.

Memory: the per-edge work on (E, H, F') values (the gathered ``g_agg`` and messages, and
GATv2's ``g_P``) runs on groups of heads whose (E, h, F') temporaries stay under
``EDGE_VALUES`` elements (all heads at once on small graphs; one head at a time, (E, F'),
on large ones); what stays is (E, H) or (N, ...). GATv2's tape itself keeps the
(E, H, F') logits ``P``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gatcli.graph import Graph
from gatcli.layer import leaky_relu
from gatcli.model.spec import Layer, Model
from gatcli.train.tape import LayerTape

Array = np.ndarray

#: most elements of one per-edge temporary (E, h, F') of the backward: heads are taken in
#: groups under it (at least one head per group); 2^22 float32 = 16 MiB
EDGE_VALUES = 1 << 22


def head_groups(edges: int, heads: int, width: int) -> list[slice]:
    """Slices of the heads, as many per group as keep edges x group x width under
    ``EDGE_VALUES`` (at least one)."""
    size = max(1, min(heads, EDGE_VALUES // max(1, edges * width)))
    return [slice(h, min(heads, h + size)) for h in range(0, heads, size)]


@dataclass
class EdgeSums:
    """Per-edge arrays (E, ...) summed per node: by target (over each node's in-edges) or by
    source (over each node's out-edges), as (N, ...) arrays.

    targets: (E,) the target of every edge; by_target, by_source: (N, E) 0/1 selectors.
    """

    targets: Array
    sources: Array
    by_target: sp.csr_array
    by_source: sp.csr_array

    @classmethod
    def of(cls, graph: Graph, dtype: np.dtype | type = np.float64) -> EdgeSums:
        edges, n = graph.n_edges, graph.n_nodes
        ones = np.ones(edges, dtype=dtype)
        position = np.arange(edges, dtype=np.int64)
        by_target = sp.csr_array((ones, position, graph.indptr), shape=(n, edges))
        by_source = sp.csr_array((ones, (graph.sources.astype(np.int64), position)),
                                 shape=(n, edges))
        return cls(graph.targets().astype(np.int64), graph.sources.astype(np.int64),
                   by_target, by_source)

    def to_targets(self, values: Array) -> Array:
        """(E, ...) -> (N, ...) sum over each node's in-edges."""
        return _sum_rows(self.by_target, values)

    def to_sources(self, values: Array) -> Array:
        """(E, ...) -> (N, ...) sum over each node's out-edges."""
        return _sum_rows(self.by_source, values)


def _sum_rows(selector: sp.csr_array, values: Array) -> Array:
    flat = values.reshape(values.shape[0], -1)
    summed = selector @ flat
    return np.asarray(summed, dtype=values.dtype).reshape((selector.shape[0],) + values.shape[1:])


def act_grad(output: Array, name: str) -> Array:
    """d act(pre) / d pre as a function of the output act(pre) alone, same shape.

    elu: 1 (out > 0) or out + 1 = e^pre; relu: 1 or 0; leaky_relu: 1 or 0.01;
    tanh: 1 - out^2; sigmoid: out (1 - out); none: 1.
    """
    one = output.dtype.type(1)
    if name == "none":
        return np.ones_like(output)
    if name == "elu":
        return np.where(output > 0, one, output + one)
    if name == "relu":
        return (output > 0).astype(output.dtype)
    if name == "leaky_relu":
        return np.where(output > 0, one, output.dtype.type(0.01))
    if name == "tanh":
        return one - output * output
    if name == "sigmoid":
        return output * (one - output)
    raise ValueError(f"unknown activation {name!r}")


def _leaky_grad(pre: Array, slope: float) -> Array:
    """d LeakyReLU(pre) / d pre: 1 where pre > 0, else slope (as torch computes it)."""
    return np.where(pre > 0, pre.dtype.type(1), pre.dtype.type(slope))


def _weight_grad(d: Array, x: Array | sp.csr_array) -> Array:
    """d: (N, K), x: (N, F_in) -> (K, F_in) = d^T x (x dense or sparse)."""
    if sp.issparse(x):
        return np.asarray((x.T @ d).T)
    return d.T @ x


def layer_backward(layer: Layer, tape: LayerTape, sums: EdgeSums, grad_out: Array, *,
                   input_grad: bool = True) -> tuple[dict[str, Array], Array | None]:
    """Gradients of one layer: grad_out = dL/d out (N, C) -> ({name: dL/d param}, dL/d x).

    ``tape`` is the layer's forward (:func:`gatcli.train.tape.forward_tape`), ``sums`` the
    selectors of the graph it ran on. Parameter gradients have the parameters' shapes
    (PyG names); dL/dx (N, F_in) is of the input the layer saw (after its dropout), None
    when ``input_grad`` is False (the first layer needs none).
    """
    spec, p = layer.spec, layer.params
    dtype = tape.messages.dtype
    n, heads, width = tape.messages.shape
    x = tape.x
    p = {k: np.asarray(v, dtype=dtype) for k, v in p.items()}
    grads: dict[str, Array] = {}

    g_pre = grad_out * act_grad(tape.output, spec.activation)           # (N, C)
    if spec.bias:
        grads["bias"] = g_pre.sum(axis=0)
    dx = None
    if spec.residual:
        grads["res.weight"] = _weight_grad(g_pre, x)
        if input_grad:
            dx = g_pre @ p["res.weight"]
    if spec.concat:
        g_agg = g_pre.reshape(n, heads, width)
    else:
        g_agg = np.broadcast_to((g_pre / dtype.type(heads))[:, None, :], (n, heads, width))

    weight_e = tape.alpha if tape.edge_scale is None else tape.alpha * tape.edge_scale
    d_messages = np.empty((n, heads, width), dtype=dtype)                # (N, H, F')
    g_alpha = np.empty((tape.alpha.shape[0], heads), dtype=dtype)        # (E, H)
    groups = head_groups(tape.alpha.shape[0], heads, width)
    for h in groups:  # (E, h, F') temporaries
        g_agg_e = np.take(g_agg[:, h], sums.targets, axis=0)             # (E, h, F')
        d_messages[:, h] = sums.to_sources(g_agg_e * weight_e[:, h, None])
        g_alpha[:, h] = np.einsum("ehf,ehf->eh", g_agg_e,
                                  np.take(tape.messages[:, h], sums.sources, axis=0))
        del g_agg_e
    if tape.edge_scale is not None:
        g_alpha *= tape.edge_scale
    row = sums.to_targets(tape.alpha * g_alpha)                          # (N, H)
    g_logit = tape.alpha * (g_alpha - np.take(row, sums.targets, axis=0))  # (E, H)

    slope = spec.negative_slope
    if spec.kind == "gat":
        g_z = g_logit * _leaky_grad(tape.pre, slope)                     # (E, H)
        g_dst, g_src = sums.to_targets(g_z), sums.to_sources(g_z)        # (N, H)
        att_dst, att_src = p["att_dst"][0], p["att_src"][0]              # (H, F')
        grads["att_dst"] = np.einsum("nh,nhf->hf", g_dst, tape.messages)[None]
        grads["att_src"] = np.einsum("nh,nhf->hf", g_src, tape.messages)[None]
        d_messages += g_dst[:, :, None] * att_dst + g_src[:, :, None] * att_src
        d_table = d_messages.reshape(n, heads * width)
        grads["lin.weight"] = _weight_grad(d_table, x)
        if input_grad:
            dx_lin = d_table @ p["lin.weight"]
            dx = dx_lin if dx is None else dx + dx_lin
    else:
        att = p["att"][0]                                                # (H, F')
        grads["att"] = np.empty((1, heads, width), dtype=dtype)
        d_target = np.empty((n, heads, width), dtype=dtype)              # (N, H, F')
        for h in groups:  # (E, h, F') temporaries
            pre_h = tape.pre[:, h]
            grads["att"][0, h] = np.einsum("eh,ehf->hf", g_logit[:, h],
                                           leaky_relu(pre_h, slope))
            g_pairs = _leaky_grad(pre_h, slope)                          # (E, h, F')
            g_pairs *= g_logit[:, h, None] * att[h]
            d_target[:, h] = sums.to_targets(g_pairs)
            d_messages[:, h] += sums.to_sources(g_pairs)
            del g_pairs
        left = d_messages.reshape(n, heads * width)
        right = d_target.reshape(n, heads * width)
        if spec.share_weights:
            left = left + right
        grads["lin_l.weight"] = _weight_grad(left, x)
        if spec.bias:
            grads["lin_l.bias"] = left.sum(axis=0)
        if input_grad:
            dx_lin = left @ p["lin_l.weight"]
            dx = dx_lin if dx is None else dx + dx_lin
        if not spec.share_weights:
            grads["lin_r.weight"] = _weight_grad(right, x)
            if spec.bias:
                grads["lin_r.bias"] = right.sum(axis=0)
            if input_grad:
                dx = dx + right @ p["lin_r.weight"]
    return grads, dx


def model_backward(model: Model, tapes: list[LayerTape], sums: list[EdgeSums],
                   grad_out: Array, *, input_grad: bool = False
                   ) -> tuple[list[dict[str, Array]], Array | None]:
    """Gradients of every layer from dL/d(model output) (N, C), through the layers in
    reverse and each layer's input dropout: ([{name: grad}] per layer, dL/dx or None).

    dL/dx (N, F_in) of the model's input is computed only when ``input_grad`` (and the
    input is dense).
    """
    grads: list[dict[str, Array]] = [{} for _ in model.layers]
    g = grad_out
    for k in range(len(model.layers) - 1, -1, -1):
        tape = tapes[k]
        need = k > 0 or (input_grad and not sp.issparse(tape.x))
        grads[k], dx = layer_backward(model.layers[k], tape, sums[k], g, input_grad=need)
        if dx is not None and tape.input_scale is not None:
            dx = dx * tape.input_scale
        g = dx
    return grads, g if input_grad else None
