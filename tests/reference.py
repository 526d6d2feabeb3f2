"""A dense float64 GAT / GATv2 forward pass, written independently of gatcli (do not import it).

Everything is done the slow, obvious way: an N x N edge-count matrix ``M`` (``M[i, j]`` = how
many edges j -> i; duplicates count), a per-head loop, logits for every pair (i, j), explicit
``-inf`` for non-edges, a row softmax, and a dense matrix product. Only for small test graphs.

Layers are given as ``(spec, params)``: ``spec`` a mapping with the keys ``heads``, ``out_dim``,
``concat``, ``activation``, ``negative_slope``, ``bias``, ``residual``, ``self_loops``, ``kind``
(``"gat"`` | ``"gatv2"``), ``share_weights``; ``params`` the PyTorch Geometric ``state_dict``
names of one GATConv / GATv2Conv (see :func:`param_shapes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def param_shapes(spec: Mapping, in_dim: int) -> dict[str, tuple[int, ...]]:
    """The PyG parameter names and shapes of one layer (GATConv / GATv2Conv)."""
    h, f = spec["heads"], spec["out_dim"]
    out = h * f if spec["concat"] else f
    if spec["kind"] == "gat":
        shapes = {"lin.weight": (h * f, in_dim), "att_src": (1, h, f), "att_dst": (1, h, f)}
    else:
        shapes = {"lin_l.weight": (h * f, in_dim), "att": (1, h, f)}
        if spec["bias"]:
            shapes["lin_l.bias"] = (h * f,)
        if not spec["share_weights"]:
            shapes["lin_r.weight"] = (h * f, in_dim)
            if spec["bias"]:
                shapes["lin_r.bias"] = (h * f,)
    if spec["residual"]:
        shapes["res.weight"] = (out, in_dim)
    if spec["bias"]:
        shapes["bias"] = (out,)
    return shapes


def edge_counts(sources: Sequence[int], targets: Sequence[int], n: int, *,
                self_loops: bool, undirected: bool = False) -> np.ndarray:
    """M: (N, N) float64, M[i, j] = number of edges j -> i after the graph policy.

    undirected: for every input edge (s, t) whose reverse (t, s) is not among the input
    edges, the reverse is added (once per such input edge). self_loops: every existing
    self-loop is dropped, then exactly one per node is added.
    """
    edges = [(int(s), int(t)) for s, t in zip(sources, targets)]
    if undirected:
        present = set(edges)
        edges = edges + [(t, s) for s, t in edges if (t, s) not in present]
    counts = np.zeros((n, n))
    for s, t in edges:
        if self_loops and s == t:
            continue
        counts[t, s] += 1
    if self_loops:
        for i in range(n):
            counts[i, i] = 1
    return counts


def leaky(x: np.ndarray, slope: float) -> np.ndarray:
    return np.where(x > 0, x, slope * x)


def activate(x: np.ndarray, name: str) -> np.ndarray:
    if name == "none":
        return x
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    if name == "relu":
        return np.where(x > 0, x, 0.0)
    if name == "leaky_relu":
        return np.where(x > 0, x, 0.01 * x)
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        with np.errstate(over="ignore"):   # exp(-x) = inf for x << 0 gives exactly 0
            return 1.0 / (1.0 + np.exp(-x))
    raise ValueError(name)


def masked_softmax(logits: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Row softmax over the edges only; a pair with k parallel edges gets k shares.

    Returns P: (N, N), P[i, j] = total attention of i on j (summed over parallel edges);
    rows without edges are all zero.
    """
    masked = np.where(counts > 0, logits, -np.inf)
    probs = np.zeros_like(logits)
    for i in range(logits.shape[0]):
        if not (counts[i] > 0).any():
            continue
        row = masked[i] - masked[i].max()
        weights = counts[i] * np.exp(row)  # exp(-inf) = 0 for non-edges
        probs[i] = weights / weights.sum()
    return probs


def reference_layer(x: np.ndarray, counts: np.ndarray, spec: Mapping,
                    params: Mapping[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray],
                                                                list[np.ndarray]]:
    """One layer: x: (N, F_in) -> (out: (N, C), [P_h: (N, N)] per head, [E_h: (N, N)]).

    E_h holds the final attention logit of every pair (i, j), edge or not.
    """
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    heads, f = spec["heads"], spec["out_dim"]
    slope = spec["negative_slope"]
    head_outputs, probs, logits = [], [], []
    for h in range(heads):
        rows = slice(h * f, (h + 1) * f)
        if spec["kind"] == "gat":
            wh = x @ p["lin.weight"][rows].T                           # (N, F')
            dst = wh @ p["att_dst"][0, h]                              # (N,) target part
            src = wh @ p["att_src"][0, h]                              # (N,) source part
            e = leaky(dst[:, None] + src[None, :], slope)               # (N, N): e[i, j]
            messages = wh
        else:
            left = x @ p["lin_l.weight"][rows].T
            if "lin_l.bias" in p:
                left = left + p["lin_l.bias"][rows]
            if spec["share_weights"]:
                right = left
            else:
                right = x @ p["lin_r.weight"][rows].T
                if "lin_r.bias" in p:
                    right = right + p["lin_r.bias"][rows]
            att = p["att"][0, h]
            e = leaky(right[:, None, :] + left[None, :, :], slope) @ att  # (N, N): e[i, j]
            messages = left
        alpha = masked_softmax(e, counts)
        head_outputs.append(alpha @ messages)
        probs.append(alpha)
        logits.append(e)
    if spec["concat"]:
        out = np.concatenate(head_outputs, axis=1)
    else:
        out = np.mean(head_outputs, axis=0)
    if spec["residual"]:
        out = out + x @ p["res.weight"].T
    if spec["bias"]:
        out = out + p["bias"]
    return activate(out, spec["activation"]), probs, logits


def reference_forward(layers: Sequence[tuple[Mapping, Mapping[str, np.ndarray]]],
                      x: np.ndarray, sources: Sequence[int], targets: Sequence[int], *,
                      undirected: bool = False) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """The whole model in float64: (embeddings (N, C), attention[layer][head] (N, N))."""
    h = np.asarray(x, dtype=np.float64)
    n = h.shape[0]
    attention = []
    for spec, params in layers:
        counts = edge_counts(sources, targets, n, self_loops=spec["self_loops"],
                             undirected=undirected)
        h, probs, _ = reference_layer(h, counts, spec, params)
        attention.append(probs)
    return h, attention


def layers_of(model) -> list[tuple[dict, dict[str, np.ndarray]]]:
    """``(spec, params)`` pairs of any object with ``.layers[k].spec`` / ``.params`` (duck-typed,
    so this module never imports gatcli)."""
    return [(dict(vars(layer.spec)), dict(layer.params)) for layer in model.layers]
