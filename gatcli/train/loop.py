"""The training loop: epochs of Adam steps, evaluation, early stopping, the best weights.

Each epoch: one forward with dropout (:func:`gatcli.train.tape.forward_tape`), the loss and
its gradient (:mod:`gatcli.train.objectives`), the backward
(:func:`gatcli.train.backward.model_backward`) and one Adam step; then a forward without
dropout (:func:`gatcli.forward.forward_graphs`) scores the training and validation sets.

Early stopping follows the GAT paper: the patience counter restarts whenever the validation
loss reaches a new minimum or the validation score (accuracy, or ROC-AUC for links) a new
maximum, and training stops after ``patience`` epochs without either. The weights kept are
those of the epoch with the best ``monitor`` value (ties: the lower validation loss).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from gatcli.engine.threads import one_blas_thread
from gatcli.forward import as_input, forward_graphs, layer_graphs, normalize_features
from gatcli.graph import Graph
from gatcli.model.spec import Layer, Model
from gatcli.train.backward import EdgeSums, model_backward
from gatcli.train.objectives import (
    LinkSplit,
    NodeTask,
    accuracy,
    average_precision,
    cross_entropy,
    link_loss,
    pair_scores,
    roc_auc,
    sample_non_edges,
)
from gatcli.train.optim import Adam
from gatcli.train.tape import forward_tape

Array = np.ndarray

#: dense features with at most this fraction of non-zeros are trained on as scipy.sparse CSR
#: (bag-of-words features such as Cora's: 1.3%); the products are the same numbers
SPARSE_BELOW = 0.1


@dataclass
class TrainOptions:
    """Hyper-parameters; the defaults are the GAT paper's transductive setting (Cora).

    dropout: on every layer's input; attention_dropout: on the attention coefficients.
    monitor: which validation metric picks the kept weights: ``val_acc`` or ``val_loss``
    (node classification), ``val_auc`` or ``val_loss`` (links).
    """

    epochs: int = 1000
    lr: float = 0.005
    weight_decay: float = 5e-4
    dropout: float = 0.6
    attention_dropout: float = 0.6
    patience: int = 100
    monitor: str = "val_acc"
    seed: int = 0
    dtype: str = "float32"


@dataclass
class TrainResult:
    """model: the kept (best) weights; history: one metrics dict per epoch; best_epoch:
    the epoch they come from (1-based; 0 = the initial weights); stop: why training ended
    (``patience``, ``epochs`` or ``interrupted``); final: metrics of the kept weights."""

    model: Model
    history: list[dict[str, float]]
    best_epoch: int
    stop: str
    final: dict[str, float] = field(default_factory=dict)


def training_features(x: Array | sp.sparray, dtype: np.dtype,
                      norm: str = "none") -> Array | sp.csr_array:
    """x in the training dtype, normalised as the model wants it (``norm``, see
    :func:`gatcli.forward.normalize_features`): scipy.sparse CSR when at most
    ``SPARSE_BELOW`` of it is non-zero (cheaper products and dropout), else dense."""
    x = normalize_features(as_input(x, dtype), norm)
    if not sp.issparse(x) and x.size and np.count_nonzero(x) <= SPARSE_BELOW * x.size:
        return sp.csr_array(x)
    return x


def _prepare(model: Model, x: Array | sp.sparray, dtype: np.dtype
             ) -> tuple[Model, Array | sp.csr_array]:
    """(a float copy of the model that takes x as given, x prepared once for training)."""
    xs = training_features(x, dtype, model.feature_norm)
    return replace(_cast(model, dtype), feature_norm="none"), xs


def _copy_params(model: Model) -> list[dict[str, Array]]:
    return [{k: v.copy() for k, v in layer.params.items()} for layer in model.layers]


def _with_params(model: Model, params: list[dict[str, Array]]) -> Model:
    return replace(model, layers=[Layer(layer.spec, p) for layer, p in
                                  zip(model.layers, params)])


def _cast(model: Model, dtype: np.dtype) -> Model:
    """A copy of ``model`` whose parameters are new arrays in ``dtype``."""
    return _with_params(model, [{k: np.array(v, dtype=dtype) for k, v in layer.params.items()}
                                for layer in model.layers])


class _Stopper:
    """The GAT paper's patience rule and the choice of the kept weights."""

    def __init__(self, monitor: str, patience: int) -> None:
        self.monitor, self.patience = monitor, patience
        self.best_loss, self.best_score = np.inf, -np.inf
        self.kept: tuple[float, float] | None = None  # (monitor key, -val loss) of the kept
        self.waited = 0

    def update(self, val_loss: float, val_score: float) -> tuple[bool, bool]:
        """(keep these weights, stop now) after an epoch's validation; without validation
        metrics (NaN) the latest weights are kept and only the epoch count stops."""
        if np.isnan(val_loss) and np.isnan(val_score):
            return True, False
        improved = False
        if val_loss < self.best_loss:
            self.best_loss, improved = val_loss, True
        if val_score > self.best_score:
            self.best_score, improved = val_score, True
        self.waited = 0 if improved else self.waited + 1
        key = (-val_loss, 0.0) if self.monitor == "val_loss" else (val_score, -val_loss)
        keep = not np.isnan(key[0]) and (self.kept is None or key > self.kept)
        if keep:
            self.kept = key
        return keep, self.waited >= self.patience


def _fit(model: Model, options: TrainOptions,
         step: Callable[[int], tuple[float, list[dict[str, Array]]]],
         evaluate: Callable[[Model], dict[str, float]], score_key: str,
         on_epoch: Callable[[dict[str, float]], None] | None,
         catch_interrupt: bool) -> TrainResult:
    dtype = np.dtype(options.dtype)
    with one_blas_thread():
        return _epochs(model, options, step, evaluate, score_key, on_epoch, catch_interrupt,
                       dtype)


def _epochs(model: Model, options: TrainOptions,
            step: Callable[[int], tuple[float, list[dict[str, Array]]]],
            evaluate: Callable[[Model], dict[str, float]], score_key: str,
            on_epoch: Callable[[dict[str, float]], None] | None,
            catch_interrupt: bool, dtype: np.dtype) -> TrainResult:
    params = [layer.params for layer in model.layers]
    optimizer = Adam(params, lr=options.lr, weight_decay=options.weight_decay)
    stopper = _Stopper(options.monitor, options.patience)
    history: list[dict[str, float]] = []
    best, best_epoch, stop = _copy_params(model), 0, "epochs"
    epoch = 0
    try:
        for epoch in range(1, options.epochs + 1):
            start = time.perf_counter()
            loss, grads = step(epoch)
            optimizer.step(grads)
            metrics = {"epoch": epoch, "loss": loss, **evaluate(model),
                       "seconds": time.perf_counter() - start}
            history.append(metrics)
            keep, done = stopper.update(metrics["val_loss"], metrics[score_key])
            if keep:
                best, best_epoch = _copy_params(model), epoch
            if on_epoch is not None:
                on_epoch(metrics)
            if done:
                stop = "patience"
                break
    except KeyboardInterrupt:
        if not catch_interrupt:
            raise
        stop = "interrupted"
    kept = _cast(_with_params(model, best), dtype)
    return TrainResult(kept, history, best_epoch, stop)


def train_nodes(model: Model, x: Array | sp.sparray, graphs: list[Graph], task: NodeTask,
                options: TrainOptions | None = None, *,
                on_epoch: Callable[[dict[str, float]], None] | None = None,
                catch_interrupt: bool = False) -> TrainResult:
    """Train ``model`` (its params are updated in place) for node classification:
    x: (N, F_in) features, graphs[k] layer k's CSR, the model's output (N, n_classes) the
    class logits. Returns the kept weights and per-epoch metrics (loss, train_acc,
    val_loss, val_acc); ``final`` holds train/val/test accuracy and loss of the kept model.

    catch_interrupt: a KeyboardInterrupt ends training (stop = "interrupted") instead of
    propagating; the best weights so far are returned.
    """
    options = options or TrainOptions()
    dtype = np.dtype(options.dtype)
    if model.output_dim != task.n_classes:
        raise ValueError(f"the model outputs {model.output_dim} columns for "
                         f"{task.n_classes} classes")
    norm = model.feature_norm
    model, xs = _prepare(model, x, dtype)
    sums = [EdgeSums.of(g, dtype) for g in graphs]
    rng = np.random.default_rng(options.seed)
    has_val = bool(task.val.any())

    def step(epoch: int) -> tuple[float, list[dict[str, Array]]]:
        out, tapes = forward_tape(model, xs, graphs, dtype=dtype, rng=rng,
                                  input_dropout=options.dropout,
                                  attention_dropout=options.attention_dropout)
        loss, grad = cross_entropy(out, task.y, task.train)
        grads, _ = model_backward(model, tapes, sums, grad)
        return loss, grads

    def evaluate(current: Model) -> dict[str, float]:
        logits = forward_graphs(current, xs, graphs, dtype=dtype).embeddings
        metrics = {"train_acc": accuracy(logits, task.y, task.train)}
        if has_val:
            metrics["val_loss"] = cross_entropy(logits, task.y, task.val)[0]
            metrics["val_acc"] = accuracy(logits, task.y, task.val)
        else:  # nothing to stop on: the last weights are kept
            metrics["val_loss"], metrics["val_acc"] = float("nan"), float("nan")
        return metrics

    result = _fit(model, options, step, evaluate, "val_acc", on_epoch, catch_interrupt)
    logits = forward_graphs(result.model, xs, graphs, dtype=dtype).embeddings
    for split, mask in (("train", task.train), ("val", task.val), ("test", task.test)):
        if mask.any():
            result.final[f"{split}_acc"] = accuracy(logits, task.y, mask)
            result.final[f"{split}_loss"] = cross_entropy(logits, task.y, mask)[0]
    result.model = replace(result.model, feature_norm=norm, classes=list(task.classes))
    return result


def train_links(model: Model, x: Array | sp.sparray, split: LinkSplit, n_nodes: int,
                options: TrainOptions | None = None, *, undirected: bool = False,
                on_epoch: Callable[[dict[str, float]], None] | None = None,
                catch_interrupt: bool = False) -> TrainResult:
    """Train ``model`` as the encoder of a graph auto-encoder: embeddings z = model(x) on the
    training edges, decoder sigmoid(z_i . z_j), binary cross-entropy on the training pairs
    and as many fresh random non-edges each epoch. Metrics: loss, val_loss, val_auc, val_ap;
    ``final``: ROC-AUC and average precision on the validation and test pairs.
    """
    options = options or TrainOptions()
    dtype = np.dtype(options.dtype)
    norm = model.feature_norm
    model, xs = _prepare(model, x, dtype)
    graphs = layer_graphs(model, split.train_sources, split.train_targets, n_nodes,
                          undirected=undirected)
    sums = [EdgeSums.of(g, dtype) for g in graphs]
    rng = np.random.default_rng(options.seed)
    positives = split.train_pairs
    forbidden = np.sort(positives[:, 0] * n_nodes + positives[:, 1])

    def step(epoch: int) -> tuple[float, list[dict[str, Array]]]:
        z, tapes = forward_tape(model, xs, graphs, dtype=dtype, rng=rng,
                                input_dropout=options.dropout,
                                attention_dropout=options.attention_dropout)
        negatives = sample_non_edges(rng, n_nodes, positives.shape[0], forbidden)
        loss, grad = link_loss(z, positives, negatives)
        grads, _ = model_backward(model, tapes, sums, grad)
        return loss, grads

    def scores(current: Model) -> Array:
        return forward_graphs(current, xs, graphs, dtype=dtype).embeddings.astype(np.float64)

    def evaluate(current: Model) -> dict[str, float]:
        z = scores(current)
        pos, neg = pair_scores(z, split.val_pos), pair_scores(z, split.val_neg)
        return {"val_loss": link_loss(z, split.val_pos, split.val_neg)[0],
                "val_auc": roc_auc(pos, neg), "val_ap": average_precision(pos, neg)}

    result = _fit(model, options, step, evaluate, "val_auc", on_epoch, catch_interrupt)
    z = scores(result.model)
    for name, pos, neg in (("val", split.val_pos, split.val_neg),
                           ("test", split.test_pos, split.test_neg)):
        sp_, sn = pair_scores(z, pos), pair_scores(z, neg)
        result.final[f"{name}_auc"] = roc_auc(sp_, sn)
        result.final[f"{name}_ap"] = average_precision(sp_, sn)
    result.model = replace(result.model, feature_norm=norm, classes=None)
    return result
