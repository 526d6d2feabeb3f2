"""``gat train``: fit a model's weights (node classification or link prediction) and
``gat predict``: the class of every node from a trained classifier."""

from __future__ import annotations

import io
from dataclasses import replace
from enum import Enum
from pathlib import Path

import numpy as np
import typer

from gatcli.cli import options
from gatcli.cli.common import (
    EXIT_INTERRUPTED,
    err,
    fail,
    progress_wanted,
    reporting_errors,
    say,
    usage_error,
)
from gatcli.cli.options import FEATURES_HELP, GRAPH_HELP, OUTPUT, RUN, DType, LayerType
from gatcli.errors import GatError
from gatcli.forward import layer_graphs
from gatcli.io.atomic import STDIO, atomic_outputs, atomic_writer, check_output_path
from gatcli.io.labels import read_labels
from gatcli.io.readers import NodeIndex, read_features, read_graph
from gatcli.io.strict_json import dumps
from gatcli.io.text_out import quote_fields
from gatcli.model.build import resolve_model
from gatcli.model.weights import check_weights_output, load_weights, save_weights
from gatcli.train.export import save_pyg_state_dict
from gatcli.train.loop import TrainOptions, TrainResult, train_links, train_nodes
from gatcli.train.objectives import link_split, node_task
from gatcli.train.predict import predict_classes

TRAINING = "Training"
SPLIT = "Splits (labels without a split column; link prediction)"


class Objective(str, Enum):
    node = "node"
    link = "link"


class Monitor(str, Enum):
    val_acc = "val_acc"
    val_auc = "val_auc"
    val_loss = "val_loss"


#: defaults that depend on the objective: node = the GAT paper (Cora), link = the graph
#: auto-encoder of Kipf & Welling (2016), see docs/training.md
DEFAULTS = {
    "node": {"lr": 0.005, "weight_decay": 5e-4, "dropout": 0.6, "attention_dropout": 0.6,
             "monitor": "val_acc"},
    "link": {"lr": 0.01, "weight_decay": 0.0, "dropout": 0.0, "attention_dropout": 0.0,
             "monitor": "val_auc", "out_dim": 16},
}

LOG_FORMATS = (".csv", ".jsonl", ".json")


class EpochDisplay:
    """One live line per run on stderr: epoch, loss, train/validation metrics, the best
    epoch so far and the time per epoch. Disabled, every method is a no-op."""

    def __init__(self, enabled: bool, epochs: int, score: str) -> None:
        self.enabled, self.epochs, self.score = enabled, epochs, score
        self._bar = None
        self._task = None
        self._best: tuple[float, int] = (-np.inf, 0)

    def __enter__(self) -> EpochDisplay:
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("epoch {task.completed:>5.0f}/{task.total:.0f}"),
                                 BarColumn(bar_width=20), TextColumn("{task.description}"),
                                 TimeElapsedColumn(), console=err, transient=True)
            self._bar.start()
            self._task = self._bar.add_task("", total=self.epochs)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, metrics: dict[str, float]) -> None:
        if self._bar is None:
            return
        score = metrics.get(self.score, float("nan"))
        if score > self._best[0]:
            self._best = (score, int(metrics["epoch"]))
        shown = [f"loss {metrics['loss']:.4f}"]
        for key in ("train_acc", "val_loss", "val_acc", "val_auc", "val_ap"):
            if key in metrics and np.isfinite(metrics[key]):
                shown.append(f"{key.replace('_', ' ')} {metrics[key]:.4f}")
        if np.isfinite(self._best[0]):
            shown.append(f"best {self._best[0]:.4f} @ {self._best[1]}")
        shown.append(f"{1000 * metrics['seconds']:.0f} ms/epoch")
        self._bar.update(self._task, completed=metrics["epoch"],
                         description="  ".join(shown))


def write_log(path: str, history: list[dict[str, float]]) -> None:
    """Per-epoch metrics as CSV (header of the metric names) or JSON lines (.jsonl/.json,
    strict JSON: NaN as null)."""
    keys = list(dict.fromkeys(k for row in history for k in row))
    text = io.StringIO()
    if Path(path).suffix.lower() == ".csv":
        text.write(",".join(keys) + "\n")
        for row in history:
            cells = []
            for key in keys:
                value = row.get(key, float("nan"))
                cells.append(str(int(value)) if key == "epoch" else
                             ("" if not np.isfinite(value) else repr(float(value))))
            text.write(",".join(cells) + "\n")
    else:
        for row in history:
            text.write(dumps({k: (int(v) if k == "epoch" else v) for k, v in row.items()})
                       + "\n")
    with atomic_writer(path) as out:
        out.write(text.getvalue().encode())


def _shown(path: str) -> str:
    return "stdout" if path == STDIO else path


def _summary(result: TrainResult, objective: str, patience: int) -> str:
    epochs = len(result.history)
    why = {"patience": f"no better validation loss or score for {patience} epochs",
           "epochs": "the --epochs limit", "interrupted": "interrupted"}[result.stop]
    final = result.final
    if objective == "node":
        parts = [f"{split} accuracy {final[f'{split}_acc']:.4f}"
                 for split in ("train", "val", "test") if f"{split}_acc" in final]
    else:
        parts = [f"{split} ROC-AUC {final[f'{split}_auc']:.4f}, AP {final[f'{split}_ap']:.4f}"
                 for split in ("val", "test")]
    kept = f"epoch {result.best_epoch}" if result.best_epoch else "the initial weights"
    return f"trained {epochs} epoch(s) ({why}); kept {kept}: " + "; ".join(parts)


def train(
    graph: str = typer.Argument(..., help=GRAPH_HELP, show_default=False),
    features: str = typer.Argument(..., help=FEATURES_HELP, show_default=False),
    labels: str | None = typer.Argument(
        None, show_default=False,
        help="Labels: CSV/TSV with a header id,label[,split] (split train/val/test; other "
             "split values are ignored; unlisted nodes are unlabeled). Not used with "
             "--objective link."),
    output: str = typer.Option(..., "--output", "-o", rich_help_panel=OUTPUT,
                               show_default=False,
                               help="The trained weights (.npz, gat's own layout with the "
                                    "architecture and class names): run them with gat "
                                    "embed --weights or gat predict. '-' for stdout (the "
                                    "same rule as embed --save-weights)."),
    log: str | None = typer.Option(
        None, "--log", rich_help_panel=OUTPUT, show_default=False,
        help="Per-epoch metrics: .csv, or .jsonl/.json (one JSON object a line); '-' for "
             "JSON lines on stdout."),
    pyg_export: str | None = typer.Option(
        None, "--pyg-export", rich_help_panel=OUTPUT, show_default=False,
        help="Also write a PyTorch Geometric state_dict (.npz, or '-' for stdout; keys "
             "convs.<k>.<name>) for a torch ModuleList of GATConv/GATv2Conv named convs."),
    objective: Objective = typer.Option(
        Objective.node, "--objective", rich_help_panel=TRAINING,
        help="node: classify nodes (needs LABELS); link: predict held-out edges from "
             "embeddings (graph auto-encoder), no labels needed."),
    epochs: int = typer.Option(1000, "--epochs", min=1, rich_help_panel=TRAINING,
                               help="Most epochs (full-graph Adam steps)."),
    patience: int = typer.Option(100, "--patience", min=1, rich_help_panel=TRAINING,
                                 help="Stop after this many epochs without a new best "
                                      "validation loss or score."),
    lr: float | None = typer.Option(None, "--lr", min=0, rich_help_panel=TRAINING,
                                    show_default=False,
                                    help="Adam learning rate.  [default: 0.005; link 0.01]"),
    weight_decay: float | None = typer.Option(
        None, "--weight-decay", min=0, rich_help_panel=TRAINING, show_default=False,
        help="L2 weight decay on every parameter.  [default: 5e-4; link 0]"),
    dropout: float | None = typer.Option(
        None, "--dropout", min=0, max=0.99, rich_help_panel=TRAINING, show_default=False,
        help="Dropout on every layer's input.  [default: 0.6; link 0]"),
    attention_dropout: float | None = typer.Option(
        None, "--attention-dropout", min=0, max=0.99, rich_help_panel=TRAINING,
        show_default=False,
        help="Dropout on the attention coefficients.  [default: 0.6; link 0]"),
    monitor: Monitor | None = typer.Option(
        None, "--monitor", rich_help_panel=TRAINING, show_default=False,
        help="Validation metric that picks the kept weights.  [default: val_acc; link "
             "val_auc]"),
    normalize_features: bool = typer.Option(
        True, "--normalize-features/--raw-features", rich_help_panel=TRAINING,
        help="Divide each feature row by its sum of absolute values (the GAT paper's "
             "preprocessing); stored in the model, so embed and predict do the same."),
    dtype: DType = typer.Option(DType.float32, "--dtype", rich_help_panel=RUN,
                                help="Floating point type of the computation."),
    train_per_class: int = typer.Option(
        20, "--train-per-class", min=1, rich_help_panel=SPLIT,
        help="Without a split column: training nodes per class (at most half a class), "
             "drawn with --seed, as in the Planetoid split."),
    val_fraction: float = typer.Option(
        1 / 3, "--val-fraction", min=0, max=1, rich_help_panel=SPLIT,
        help="Without a split column: the fraction of the remaining labeled nodes used for "
             "validation; the rest is the test set.  [default: 1/3, Planetoid's 500:1000]",
        show_default=False),
    val_edges: float = typer.Option(0.05, "--val-edges", min=0, max=0.5,
                                    rich_help_panel=SPLIT,
                                    help="Link objective: fraction of edges held out for "
                                         "validation."),
    test_edges: float = typer.Option(0.1, "--test-edges", min=0, max=0.5,
                                     rich_help_panel=SPLIT,
                                     help="Link objective: fraction of edges held out for "
                                          "testing."),
    weights: str | None = typer.Option(
        None, "--weights", "-w", rich_help_panel=options.MODEL, show_default=False,
        help="Start from these weights (gat's layout or a PyG export) instead of seeded "
             "ones; the file decides the architecture."),
    config: str | None = options.CONFIG,
    seed: int = typer.Option(0, "--seed", rich_help_panel=options.MODEL,
                             help="Seed of the initial weights, dropout, negative samples "
                                  "and random splits."),
    layers: int | None = options.LAYERS,
    hidden: int | None = options.HIDDEN,
    heads: int | None = options.HEADS,
    out_dim: int | None = typer.Option(
        None, "--out-dim", min=1, rich_help_panel=options.MODEL, show_default=False,
        help="Features per head of the last layer.  [default: the number of classes; link "
             "16]"),
    out_heads: int | None = options.OUT_HEADS,
    concat: bool | None = options.CONCAT,
    negative_slope: float | None = options.NEGATIVE_SLOPE,
    activation: str | None = options.ACTIVATION,
    layer_type: LayerType | None = options.LAYER_TYPE,
    bias: bool | None = options.BIAS,
    self_loops: bool | None = options.SELF_LOOPS,
    undirected: bool = options.UNDIRECTED,
    allow_nonfinite: bool = options.ALLOW_NONFINITE,
    quiet: bool = options.QUIET,
    progress: bool | None = typer.Option(
        None, "--progress/--no-progress", rich_help_panel=RUN, show_default=False,
        help="A live line per epoch on stderr (terminal only).  [default: on a terminal]"),
    debug: bool = options.DEBUG,
) -> None:
    """Train a graph attention network: node classification from LABELS (the GAT paper's
    semi-supervised setting by default) or link prediction (--objective link).

    Each epoch is one Adam step on the whole graph with exact, hand-written gradients; the
    weights of the best validation epoch are written to -o, with the architecture and the
    class names. Ctrl-C stops training and still writes the best weights so far (exit 130).
    """
    node = objective is Objective.node
    if node and labels is None:
        raise usage_error("missing LABELS: node classification needs a labels file "
                          "(or use --objective link)")
    if not node and labels is not None:
        raise usage_error("--objective link takes no LABELS argument")
    if graph == STDIO and features == STDIO:
        raise usage_error("only one of GRAPH and FEATURES can be read from stdin")
    defaults = DEFAULTS[objective.value]
    chosen = (monitor.value if monitor else defaults["monitor"])
    if chosen not in (("val_acc", "val_loss") if node else ("val_auc", "val_loss")):
        raise usage_error(f"--monitor {chosen} does not apply to --objective "
                          f"{objective.value}")
    if log is not None and log != STDIO and Path(log).suffix.lower() not in LOG_FORMATS:
        raise usage_error(f"--log {log}: use a .csv, .jsonl or .json file, or - for stdout")
    to_stdout = [name for name, path in (("-o", output), ("--log", log),
                                         ("--pyg-export", pyg_export)) if path == STDIO]
    if len(to_stdout) > 1:
        raise usage_error(f"{' and '.join(to_stdout)} are '-': only one output can go to "
                          "stdout")
    train_options = TrainOptions(
        epochs=epochs,
        lr=defaults["lr"] if lr is None else lr,
        weight_decay=defaults["weight_decay"] if weight_decay is None else weight_decay,
        dropout=defaults["dropout"] if dropout is None else dropout,
        attention_dropout=(defaults["attention_dropout"] if attention_dropout is None
                           else attention_dropout),
        patience=patience, monitor=chosen, seed=seed, dtype=dtype.value)
    quick = options.quick_model(layers, hidden, heads, out_dim, out_heads, concat,
                                negative_slope, activation, layer_type, bias)
    show = progress_wanted(True if progress is None else progress, quiet, [])
    with reporting_errors(debug):
        inputs = [p for p in (graph, features, labels, weights, config) if p]
        outputs = [p for p in (output, log, pyg_export) if p]
        for k, path in enumerate(outputs):
            check_output_path(path, inputs, outputs[:k])
        for path in (output, pyg_export):
            if path:
                check_weights_output(path)
        feats = read_features(features, allow_nonfinite=allow_nonfinite)
        index = NodeIndex.of(feats)
        sources, targets = read_graph(graph, index)
        task = None
        if node:
            task = node_task(read_labels(labels, index), feats.n_nodes,
                             train_per_class=train_per_class, val_fraction=val_fraction,
                             seed=seed)
            width = task.n_classes
        else:
            width = defaults["out_dim"]
        if quick.out_dim is None and config is None and weights is None:
            quick = replace(quick, out_dim=width)
        notes: list[str] = []
        model = resolve_model(feats.values.shape[1], weights=weights, config=config,
                              quick=quick, seed=seed, self_loops=self_loops, notes=notes)
        for note in notes:
            say(note, quiet)
        if node and model.output_dim != task.n_classes:
            raise GatError(f"the model outputs {model.output_dim} columns but the labels "
                           f"have {task.n_classes} classes; the last layer's width must "
                           "equal the number of classes", config or weights)
        if weights is None:
            model.feature_norm = "row" if normalize_features else "none"
        display = EpochDisplay(show, epochs, "val_acc" if node else "val_auc")
        with display:
            if node:
                graphs = layer_graphs(model, sources, targets, feats.n_nodes,
                                      undirected=undirected)
                if not quiet:
                    say(f"{int(task.train.sum())} training, {int(task.val.sum())} "
                        f"validation, {int(task.test.sum())} test nodes; "
                        f"{task.n_classes} classes", quiet)
                result = train_nodes(model, feats.values, graphs, task, train_options,
                                     on_epoch=display, catch_interrupt=True)
            else:
                split = link_split(sources, targets, feats.n_nodes, val_fraction=val_edges,
                                   test_fraction=test_edges, seed=seed)
                result = train_links(model, feats.values, split, feats.n_nodes,
                                     train_options, undirected=undirected,
                                     on_epoch=display, catch_interrupt=True)
        with atomic_outputs():
            save_weights(result.model, output)
            if log:
                write_log(log, result.history)
            if pyg_export:
                save_pyg_state_dict(result.model, pyg_export)
        say(_summary(result, objective.value, patience), quiet)
        say(f"wrote {_shown(output)}", quiet)
        if result.stop == "interrupted":
            raise fail(f"interrupted after {len(result.history)} epoch(s); wrote the best "
                       f"weights so far to {_shown(output)}", EXIT_INTERRUPTED)


def predict(
    graph: str = typer.Argument(..., help=GRAPH_HELP, show_default=False),
    features: str = typer.Argument(..., help=FEATURES_HELP, show_default=False),
    weights: str = typer.Option(..., "--weights", "-w", show_default=False,
                                help="A classifier trained by gat train (its file records "
                                     "the class names)."),
    output: str = typer.Option("-", "--output", "-o", rich_help_panel=OUTPUT,
                               help="id,label CSV of every node, or '-' for stdout."),
    self_loops: bool | None = options.SELF_LOOPS,
    undirected: bool = options.UNDIRECTED,
    allow_nonfinite: bool = options.ALLOW_NONFINITE,
    dtype: DType = typer.Option(DType.float32, "--dtype", rich_help_panel=RUN,
                                help="Floating point type of the computation."),
    quiet: bool = options.QUIET,
    debug: bool = options.DEBUG,
) -> None:
    """Predict the class of every node with a classifier from gat train: writes id,label
    (the class with the largest output), in the features' node order."""
    if graph == STDIO and features == STDIO:
        raise usage_error("only one of GRAPH and FEATURES can be read from stdin")
    with reporting_errors(debug):
        inputs = [graph, features, weights]
        check_output_path(output, inputs)
        model = load_weights(weights)
        if model.classes is None:
            raise GatError("no class names in this weights file: train a classifier with "
                           "gat train (or run gat embed for embeddings)", weights)
        feats = read_features(features, allow_nonfinite=allow_nonfinite)
        if feats.values.shape[1] != model.in_dim:
            raise GatError(f"the features have {feats.values.shape[1]} columns but the "
                           f"model's first layer expects {model.in_dim} inputs", weights)
        sources, targets = read_graph(graph, NodeIndex.of(feats))
        if self_loops is not None:
            for layer in model.layers:
                layer.spec = replace(layer.spec, self_loops=self_loops)
        labels = predict_classes(model, feats.values, sources, targets,
                                 undirected=undirected, dtype=np.dtype(dtype.value))
        ids = quote_fields(feats.id_labels(), ",")
        names = quote_fields(np.array(labels, dtype=str), ",")
        header = quote_fields(np.array([feats.id_column or "id"]), ",")[0]
        text = io.StringIO()
        text.write(f"{header},label\n")
        for node_id, label in zip(ids, names):
            text.write(f"{node_id},{label}\n")
        with atomic_writer(output) as out:
            out.write(text.getvalue().encode())
        if output != STDIO:
            say(f"wrote {len(labels)} predicted labels to {output}", quiet)


EXAMPLES = {
    "train": [
        ("a classifier of the karate club's two factions (a split drawn per class, --seed)",
         "gat train examples/graphs/karate/edges.csv examples/graphs/karate/features.csv "
         "examples/graphs/karate/labels.csv -o karate.npz"),
        ("with a per-epoch log and a PyTorch Geometric export",
         "gat train examples/graphs/karate/edges.csv examples/graphs/karate/features.csv "
         "examples/graphs/karate/labels.csv -o karate.npz --log log.csv --pyg-export pyg.npz"),
        ("an embedding model without labels (link prediction)",
         "gat train examples/graphs/karate/edges.csv examples/graphs/karate/features.csv "
         "--objective link -o link.npz"),
    ],
    "predict": [
        ("train a classifier, then the class of every node, id,label on stdout",
         "gat train examples/graphs/karate/edges.csv examples/graphs/karate/features.csv "
         "examples/graphs/karate/labels.csv -o karate.npz -q && gat predict "
         "examples/graphs/karate/edges.csv examples/graphs/karate/features.csv -w karate.npz"),
    ],
}
