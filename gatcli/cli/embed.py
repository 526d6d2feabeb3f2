"""``gat embed``: read a graph and features, run the model, write embeddings and attention."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import numpy as np
import typer

from gatcli.cli.common import (
    Timings,
    layer_progress,
    progress_wanted,
    reporting_errors,
    say,
    usage_error,
)
from gatcli.forward import forward
from gatcli.io.atomic import STDIO, check_output_path
from gatcli.io.readers import NodeIndex, read_features, read_graph
from gatcli.io.writers import write_attention, write_embeddings
from gatcli.model.build import QuickModel, resolve_model
from gatcli.model.weights import save_weights

MODEL = "Model (ignored with --weights, which stores its architecture)"
INPUT = "Input"
OUTPUT = "Output"
RUN = "Run"


class DType(str, Enum):
    float32 = "float32"
    float64 = "float64"


class LayerType(str, Enum):
    gat = "gat"
    gatv2 = "gatv2"


GRAPH_HELP = ("Edge list (.csv, .tsv, .txt/.edgelist, optionally .gz; '-' for stdin; row "
              "'u,v' = edge u -> v, v attends to u) or adjacency (.npz from "
              "scipy.sparse.save_npz, .mtx; row i = the nodes i attends to).")
FEATURES_HELP = ("Node features: CSV/TSV with a header (first column 'id' or 'node' = node "
                 "ids, else rows are nodes 0..N-1), or .npy (N x F).")


def embed(
    graph: str = typer.Argument(..., help=GRAPH_HELP, show_default=False),
    features: str = typer.Argument(..., help=FEATURES_HELP, show_default=False),
    output: str = typer.Option("-", "--output", "-o", rich_help_panel=OUTPUT,
                               help="Embeddings: .csv, .tsv, .npy, or '-' (CSV on stdout)."),
    attention: str | None = typer.Option(
        None, "--attention", rich_help_panel=OUTPUT, show_default=False,
        help="Also write attention: .csv/.tsv (layer,head,target,source,alpha), .npz "
             "(sparse matrix per layer and head), or '-' (stdout; needs -o FILE)."),
    save_weights_to: str | None = typer.Option(
        None, "--save-weights", rich_help_panel=OUTPUT, show_default=False,
        help="Write the weights used (with their architecture) to this .npz."),
    weights: str | None = typer.Option(
        None, "--weights", "-w", rich_help_panel=MODEL, show_default=False,
        help="Load weights (.npz from --save-weights); the architecture comes from the file."),
    config: str | None = typer.Option(
        None, "--config", "-c", rich_help_panel=MODEL, show_default=False,
        help="YAML model: a list of layers (see docs/formats.md)."),
    seed: int = typer.Option(0, "--seed", rich_help_panel=MODEL,
                             help="Seed of the Glorot-uniform initial weights."),
    layers: int | None = typer.Option(None, "--layers", min=1, rich_help_panel=MODEL,
                                      help="Number of layers.  [default: 2]",
                                      show_default=False),
    hidden: int | None = typer.Option(None, "--hidden", min=1, rich_help_panel=MODEL,
                                      help="Features per head in hidden layers.  [default: 8]",
                                      show_default=False),
    heads: int | None = typer.Option(None, "--heads", min=1, rich_help_panel=MODEL,
                                     help="Heads in hidden layers.  [default: 8]",
                                     show_default=False),
    out_dim: int | None = typer.Option(None, "--out-dim", min=1, rich_help_panel=MODEL,
                                       help="Features per head of the last layer.  "
                                            "[default: 8]", show_default=False),
    out_heads: int | None = typer.Option(None, "--out-heads", min=1, rich_help_panel=MODEL,
                                         help="Heads of the last layer.  [default: 1]",
                                         show_default=False),
    concat: bool | None = typer.Option(None, "--concat/--mean", rich_help_panel=MODEL,
                                       help="Concatenate or average the last layer's heads.  "
                                            "[default: mean]", show_default=False),
    negative_slope: float | None = typer.Option(
        None, "--negative-slope", rich_help_panel=MODEL, show_default=False,
        help="LeakyReLU slope of the attention logits.  [default: 0.2]"),
    activation: str | None = typer.Option(
        None, "--activation", rich_help_panel=MODEL, show_default=False,
        help="Activation between layers: elu, relu, leaky_relu, tanh, sigmoid, none.  "
             "[default: elu]"),
    layer_type: LayerType | None = typer.Option(
        None, "--layer-type", rich_help_panel=MODEL, show_default=False,
        help="gat (GATConv) or gatv2 (GATv2Conv).  [default: gat]"),
    bias: bool | None = typer.Option(None, "--bias/--no-bias", rich_help_panel=MODEL,
                                     help="Add a bias after each layer.  [default: bias]",
                                     show_default=False),
    self_loops: bool | None = typer.Option(
        None, "--self-loops/--no-self-loops", rich_help_panel=INPUT, show_default=False,
        help="Add one self-loop per node (existing ones are not doubled).  "
             "[default: as the model says; self-loops]"),
    undirected: bool = typer.Option(False, "--undirected", rich_help_panel=INPUT,
                                    help="Also add the reverse of every edge."),
    allow_nonfinite: bool = typer.Option(False, "--allow-nonfinite", rich_help_panel=INPUT,
                                         help="Accept NaN/inf feature values."),
    dtype: DType = typer.Option(DType.float32, "--dtype", rich_help_panel=RUN,
                                help="Floating point type of the computation."),
    block_size: int | None = typer.Option(
        None, "--block-size", min=1, rich_help_panel=RUN, show_default=False,
        help="Target nodes per block (bounds memory).  [default: about 1M edges a block]"),
    timings: bool = typer.Option(False, "--timings", rich_help_panel=RUN,
                                 help="Print the time of each phase on stderr."),
    quiet: bool = typer.Option(False, "--quiet", "-q", rich_help_panel=RUN,
                               help="No messages or progress on stderr (errors still)."),
    debug: bool = typer.Option(False, "--debug", rich_help_panel=RUN,
                               help="Show tracebacks of errors."),
) -> None:
    """Compute node embeddings (and attention) with a graph attention network.

    Embeddings go to stdout as CSV unless -o is given: one row per node, in the features'
    order, id first. Weights are seeded (--seed) or loaded (--weights).
    """
    if attention == STDIO and output == STDIO:
        raise usage_error("--attention - needs the embeddings in a file (-o FILE)")
    if graph == STDIO and features == STDIO:
        raise usage_error("only one of GRAPH and FEATURES can be read from stdin")
    quick = QuickModel(layers, hidden, heads, out_dim, out_heads, concat, negative_slope,
                       activation, layer_type.value if layer_type else None, bias)
    clock = Timings()
    with reporting_errors(debug):
        if activation is not None and activation not in (
                "none", "elu", "relu", "leaky_relu", "tanh", "sigmoid"):
            raise usage_error(f"--activation {activation!r}: expected one of elu, relu, "
                              "leaky_relu, tanh, sigmoid, none")
        inputs = [graph, features] + [p for p in (weights, config) if p]
        for path in (output, attention, save_weights_to):
            if path is not None:
                check_output_path(path, inputs)
        with clock.phase("read features"):
            feats = read_features(features, allow_nonfinite=allow_nonfinite)
        with clock.phase("read graph"):
            sources, targets = read_graph(graph, NodeIndex.of(feats))
        notes: list[str] = []
        model = resolve_model(feats.values.shape[1], weights=weights, config=config,
                              quick=quick, seed=seed, self_loops=self_loops, notes=notes)
        for note in notes:
            say(note, quiet)
        show_bar = progress_wanted(quiet, int(sources.shape[0]) * len(model.layers))
        with clock.phase("forward"), layer_progress(show_bar, len(model.layers)) as progress:
            result = forward(model, feats.values, sources, targets, undirected=undirected,
                             dtype=np.dtype(dtype.value), keep_attention=attention is not None,
                             block_size=block_size, progress=progress)
        for k, count in enumerate(result.nodes_without_in_edges()):
            if count:
                say(f"layer {k}: {count} node(s) have no in-edges; their aggregate is zero "
                    "(output = bias)", quiet)
        ids = feats.id_labels()
        with clock.phase("write"):
            if save_weights_to:
                save_weights(model, save_weights_to)
            if attention is not None:
                write_attention(attention, result.graphs, result.attention, ids)
            write_embeddings(output, result.embeddings, ids, feats.id_column or "id")
        if not quiet and output != STDIO:
            say(f"wrote {result.embeddings.shape[0]} x {result.embeddings.shape[1]} "
                f"embeddings to {Path(output)}", quiet)
    if timings:
        clock.report()
