"""Training objectives: node classification (softmax cross-entropy) and link prediction
(a dot-product decoder with binary cross-entropy on edges and sampled non-edges, as in the
graph auto-encoder of Kipf & Welling, 2016).

Each loss returns its value and its gradient with respect to the model's output (N, C),
which :func:`gatcli.train.backward.model_backward` takes from there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gatcli.errors import GatError
from gatcli.io.labels import SPLITS, Labels

Array = np.ndarray

# -- node classification -------------------------------------------------------------------


def class_order(values: Array) -> list[str]:
    """The distinct labels in ascending order: numeric when every label is an integer
    (``"2" < "10"``), else as text."""
    distinct = np.unique(values)
    try:
        numbers = [int(v) for v in distinct]
    except ValueError:
        return [str(v) for v in distinct]
    return [str(v) for _, v in sorted(zip(numbers, distinct))]


@dataclass
class NodeTask:
    """Semi-supervised node classification.

    classes: class names; output column k of the model is ``classes[k]``.
    y: (N,) class index of every node, -1 where unlabeled.
    train, val, test: (N,) bool masks (disjoint, only labeled nodes).
    """

    classes: list[str]
    y: Array
    train: Array
    val: Array
    test: Array

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def node_task(labels: Labels, n_nodes: int, *, train_per_class: int = 20,
              val_fraction: float = 1 / 3, seed: int = 0) -> NodeTask:
    """The task of a labels table.

    With a split column, its ``train``/``val``/``test`` rows make the masks (other rows are
    ignored). Without one, the labeled nodes are split at random (``seed``) as in Planetoid:
    ``train_per_class`` nodes of each class for training (at most half of a class), then
    ``val_fraction`` of the rest for validation and the remainder for testing.
    Raises GatError (naming the labels file) when fewer than two classes or no training
    node remain.
    """
    name = labels.source
    if labels.split is not None:
        used = np.isin(labels.split, SPLITS)
    else:
        used = np.ones(labels.nodes.shape[0], dtype=bool)
    if not used.any():
        raise GatError("no row has split train, val or test (other values are ignored)",
                       name)
    classes = class_order(labels.values[used])
    if len(classes) < 2:
        raise GatError(f"only one class ({classes[0]!r}) among the labels used; "
                       "classification needs at least two", name)
    index = {c: k for k, c in enumerate(classes)}
    y = np.full(n_nodes, -1, dtype=np.int64)
    nodes = labels.nodes[used]
    y[nodes] = [index[v] for v in labels.values[used]]
    masks = {s: np.zeros(n_nodes, dtype=bool) for s in SPLITS}
    if labels.split is not None:
        for s in SPLITS:
            masks[s][labels.nodes[labels.split == s]] = True
    else:
        rng = np.random.default_rng(seed)
        rest = []
        for k in range(len(classes)):
            members = rng.permutation(nodes[y[nodes] == k])
            take = min(train_per_class, max(1, members.shape[0] // 2))
            masks["train"][members[:take]] = True
            rest.append(members[take:])
        rest_nodes = rng.permutation(np.concatenate(rest))
        n_val = int(round(val_fraction * rest_nodes.shape[0]))
        masks["val"][rest_nodes[:n_val]] = True
        masks["test"][rest_nodes[n_val:]] = True
    if not masks["train"].any():
        raise GatError("no training nodes: no row has split 'train'", name)
    return NodeTask(classes, y, masks["train"], masks["val"], masks["test"])


def log_softmax(logits: Array) -> Array:
    """(N, C) -> (N, C) log of the row softmax, computed stably."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(logits: Array, y: Array, mask: Array) -> tuple[float, Array]:
    """Mean softmax cross-entropy over the nodes of ``mask``: (loss, dloss/dlogits (N, C)).

    loss = -1/|M| sum_{i in M} log softmax(logits_i)[y_i];
    gradient row i in M: (softmax(logits_i) - onehot(y_i)) / |M|, zero elsewhere.
    """
    rows = np.flatnonzero(mask)
    logp = log_softmax(logits[rows].astype(np.float64))
    loss = -float(logp[np.arange(rows.shape[0]), y[rows]].mean())
    grad = np.zeros_like(logits)
    probs = np.exp(logp)
    probs[np.arange(rows.shape[0]), y[rows]] -= 1
    grad[rows] = probs / rows.shape[0]
    return loss, grad


def accuracy(logits: Array, y: Array, mask: Array) -> float:
    """Fraction of the nodes of ``mask`` whose largest output is their class (NaN if none)."""
    rows = np.flatnonzero(mask)
    if rows.shape[0] == 0:
        return float("nan")
    return float(np.mean(logits[rows].argmax(axis=1) == y[rows]))


# -- link prediction -----------------------------------------------------------------------


@dataclass
class LinkSplit:
    """Edges split for link prediction (undirected pairs, self-loops left out).

    train_sources, train_targets: the input edges whose pair is a training pair (both
        directions kept if present): the graph the encoder runs on and the positives.
    train_pairs: (P, 2) the training pairs (i < j).
    val_pos, val_neg, test_pos, test_neg: (m, 2) held-out pairs and as many non-edges.
    """

    train_sources: Array
    train_targets: Array
    train_pairs: Array
    val_pos: Array
    val_neg: Array
    test_pos: Array
    test_neg: Array


def _pair_keys(pairs: Array, n: int) -> Array:
    return pairs[:, 0].astype(np.int64) * n + pairs[:, 1]


def sample_non_edges(rng: np.random.Generator, n: int, count: int, forbidden: Array) -> Array:
    """(count, 2) random pairs i < j whose key i*n + j is not in the sorted ``forbidden``
    (nor repeated); fewer only if the graph is nearly complete."""
    found = np.zeros((0, 2), dtype=np.int64)
    for _ in range(50):
        if found.shape[0] >= count:
            break
        want = 2 * (count - found.shape[0]) + 16
        a, b = rng.integers(0, n, want), rng.integers(0, n, want)
        pairs = np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        keys = _pair_keys(pairs, n)
        pos = np.minimum(np.searchsorted(forbidden, keys), max(forbidden.shape[0] - 1, 0))
        fresh = forbidden[pos] != keys if forbidden.shape[0] else np.ones(keys.shape, bool)
        pairs = np.concatenate([found, pairs[fresh]])
        _, first = np.unique(_pair_keys(pairs, n), return_index=True)
        found = pairs[np.sort(first)]
    return found[:count]


def link_split(sources: Array, targets: Array, n: int, *, val_fraction: float = 0.05,
               test_fraction: float = 0.1, seed: int = 0) -> LinkSplit:
    """Hold out ``val_fraction`` and ``test_fraction`` of the undirected pairs (GAE's
    85/5/10 split by default), each with as many random non-edges (pairs never linked in
    either direction). Raises GatError when there are too few pairs to hold any out."""
    src, dst = np.asarray(sources, np.int64), np.asarray(targets, np.int64)
    pairs = np.stack([np.minimum(src, dst), np.maximum(src, dst)], axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    keys = np.unique(_pair_keys(pairs, n))
    if keys.shape[0] < 10:
        raise GatError(f"link prediction needs at least 10 linked pairs of nodes, found "
                       f"{keys.shape[0]}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(keys)
    n_val = max(1, int(round(val_fraction * keys.shape[0])))
    n_test = max(1, int(round(test_fraction * keys.shape[0])))
    val_keys, test_keys = order[:n_val], order[n_val:n_val + n_test]
    train_keys = np.sort(order[n_val + n_test:])
    negatives = sample_non_edges(rng, n, n_val + n_test, keys)
    edge_keys = _pair_keys(np.stack([np.minimum(src, dst), np.maximum(src, dst)], axis=1), n)
    keep = np.isin(edge_keys, train_keys) | (src == dst)

    def as_pairs(k: Array) -> Array:
        return np.stack([k // n, k % n], axis=1)

    return LinkSplit(src[keep], dst[keep], as_pairs(train_keys), as_pairs(val_keys),
                     negatives[:n_val], as_pairs(test_keys), negatives[n_val:])


def softplus(x: Array) -> Array:
    """log(1 + e^x), stable for large |x|."""
    return np.logaddexp(0, x)


def sigmoid(x: Array) -> Array:
    return 0.5 * (1 + np.tanh(0.5 * x))


def pair_scores(z: Array, pairs: Array) -> Array:
    """(P,) decoder logits z_i . z_j of pairs (P, 2)."""
    return np.einsum("pc,pc->p", z[pairs[:, 0]], z[pairs[:, 1]])


def link_loss(z: Array, positives: Array, negatives: Array) -> tuple[float, Array]:
    """Binary cross-entropy of the dot-product decoder: (loss, dloss/dz (N, C)).

    loss = mean_pos softplus(-s) + mean_neg softplus(s), s_ij = z_i . z_j
    (= -log sigmoid(s) on edges, -log(1 - sigmoid(s)) on non-edges, as in GAE).
    dloss/ds = (sigmoid(s) - 1) / P on edges, sigmoid(s) / Q on non-edges;
    ds_ij/dz_i = z_j and ds_ij/dz_j = z_i, gathered with one sparse product.
    """
    zd = z.astype(np.float64)
    s_pos, s_neg = pair_scores(zd, positives), pair_scores(zd, negatives)
    loss = float(softplus(-s_pos).mean() + softplus(s_neg).mean())
    coef = np.concatenate([(sigmoid(s_pos) - 1) / s_pos.shape[0],
                           sigmoid(s_neg) / s_neg.shape[0]])
    pairs = np.concatenate([positives, negatives])
    n = z.shape[0]
    rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
    coupling = sp.csr_array((np.concatenate([coef, coef]), (rows, cols)), shape=(n, n))
    return loss, np.asarray(coupling @ zd, dtype=z.dtype)


def roc_auc(positive: Array, negative: Array) -> float:
    """Area under the ROC curve: P(score of a random positive > a random negative), ties
    counting one half (the Mann-Whitney statistic, from average ranks)."""
    scores = np.concatenate([positive, negative])
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(scores.shape[0])
    sorted_scores = scores[order]
    # average rank of each group of ties
    starts = np.flatnonzero(np.concatenate([[True], sorted_scores[1:] != sorted_scores[:-1]]))
    ends = np.concatenate([starts[1:], [scores.shape[0]]])
    ranks[order] = np.repeat((starts + ends - 1) / 2 + 1, ends - starts)
    p, q = positive.shape[0], negative.shape[0]
    return float((ranks[:p].sum() - p * (p + 1) / 2) / (p * q))


def average_precision(positive: Array, negative: Array) -> float:
    """Mean of the precision at the rank of each positive (scores sorted high to low)."""
    scores = np.concatenate([positive, negative])
    truth = np.concatenate([np.ones(positive.shape[0]), np.zeros(negative.shape[0])])
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(truth[order])
    precision = hits / np.arange(1, scores.shape[0] + 1)
    return float(precision[truth[order] == 1].mean())
