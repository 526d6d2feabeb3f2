"""A training forward pass: the model's layers run by :func:`gatcli.layer.gat_layer` (the one
forward implementation), with dropout, keeping per layer what the backward needs.

For layer k with input h: (N, F_in)::

    x_k    = h * M_k                (dropout on the layer's input: M_k = Bernoulli(1 - p) / (1 - p))
    out_k  = gat_layer(x_k)         (attention alpha_ij times a dropout mask m_ij in the sum)

The intermediates come from the layer's step recorder (``gatcli.layer.StepRecorder``): the
message table ``linear`` (N, H, F'), GATv2's ``linear_dst`` (N, H, F'), the logits before
LeakyReLU (``scores`` (E, H) for GAT, ``pairs`` (E, H, F') for GATv2), the attention
``softmax`` (E, H) and the ``output`` (N, C).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gatcli.forward import cast_layer
from gatcli.graph import Graph
from gatcli.layer import StepRecorder, gat_layer
from gatcli.model.spec import Model

Array = np.ndarray


@dataclass
class LayerTape:
    """What one layer's forward kept for its backward.

    x: (N, F_in) the input the layer saw (after dropout; dense or scipy.sparse CSR).
    input_scale: (N, F_in) dropout multiplier of the input (x = h * input_scale), or None;
        for a sparse input, (nnz,) multipliers of its stored values.
    messages: (N, H, F') Wh (GAT) or W_l x + b_l (GATv2).
    target_side: (N, H, F') W_r x + b_r (GATv2 without shared weights; = messages if shared);
        None for GAT.
    pre: logits before LeakyReLU: (E, H) for GAT, (E, H, F') pairs for GATv2.
    alpha: (E, H) attention (softmax over each target's in-edges), before dropout.
    edge_scale: (E, H) attention dropout multiplier, or None.
    output: (N, C) the layer's output (after the activation).
    """

    x: Array | sp.csr_array
    input_scale: Array | None
    messages: Array
    target_side: Array | None
    pre: Array
    alpha: Array
    edge_scale: Array | None
    output: Array


def dropout_scale(rng: np.random.Generator, shape: tuple[int, ...], rate: float,
                  dtype: np.dtype) -> Array:
    """(shape) multipliers: 0 with probability ``rate``, else 1 / (1 - rate) (inverted
    dropout, so the expectation is unchanged)."""
    keep = rng.random(shape, dtype=np.float32) >= rate
    return keep.astype(dtype) * dtype.type(1.0 / (1.0 - rate))


def _apply_input_dropout(h: Array | sp.csr_array, rng: np.random.Generator | None,
                         rate: float, dtype: np.dtype) -> tuple[Array | sp.csr_array,
                                                                Array | None]:
    if rng is None or rate <= 0:
        return h, None
    if sp.issparse(h):  # zeros stay zero: only the stored values are dropped
        scale = dropout_scale(rng, h.data.shape, rate, dtype)
        return sp.csr_array((h.data * scale, h.indices, h.indptr), shape=h.shape), scale
    scale = dropout_scale(rng, h.shape, rate, dtype)
    return h * scale, scale


def forward_tape(
    model: Model,
    x: Array | sp.csr_array,
    graphs: list[Graph],
    *,
    dtype: np.dtype | type = np.float32,
    rng: np.random.Generator | None = None,
    input_dropout: float = 0.0,
    attention_dropout: float = 0.0,
) -> tuple[Array, list[LayerTape]]:
    """Run the model for training: x: (N, F_in) -> (output (N, C), one tape per layer).

    Dropout (rates in [0, 1)) is applied only when ``rng`` is given: ``input_dropout`` to
    every layer's input, ``attention_dropout`` to every layer's attention coefficients
    (``gat_layer``'s ``attention_scale``: alpha_ij m_ij in the aggregation).
    Without dropout the output equals :func:`gatcli.forward.forward_graphs`' (same layer code).
    """
    dtype = np.dtype(dtype)
    h: Array | sp.csr_array = x if sp.issparse(x) else np.asarray(x, dtype=dtype)
    if sp.issparse(h):
        h = sp.csr_array(h, dtype=dtype)
    tapes = []
    for layer, graph in zip(model.layers, graphs):
        x_k, input_scale = _apply_input_dropout(h, rng, input_dropout, dtype)
        edge_scale = None
        if rng is not None and attention_dropout > 0:
            edge_scale = dropout_scale(rng, (graph.n_edges, layer.spec.heads),
                                       attention_dropout, dtype)
        recorder = StepRecorder()
        out, _ = gat_layer(x_k, graph, cast_layer(layer, dtype), layer_index=0,
                           recorder=recorder, attention_scale=edge_scale)
        gat = layer.spec.kind == "gat"
        messages = recorder.get(0, "linear")
        tapes.append(LayerTape(
            x=x_k,
            input_scale=input_scale,
            messages=messages,
            target_side=None if gat else recorder.get(0, "linear_dst"),
            pre=recorder.get(0, "scores" if gat else "pairs"),
            alpha=recorder.get(0, "softmax"),
            edge_scale=edge_scale,
            output=out,
        ))
        h = out
    return h, tapes
