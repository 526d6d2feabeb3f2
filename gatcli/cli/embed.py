"""``gat embed``: read a graph and features, run the model, write embeddings and attention."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path

import numpy as np
import typer

from gatcli.cli import options
from gatcli.cli.common import (
    RunProgress,
    Timings,
    progress_wanted,
    quiet_stdout_after_broken_pipe,
    reporting_errors,
    say,
    usage_error,
)
from gatcli.cli.options import (
    FEATURES_HELP,
    GRAPH_HELP,
    OUTPUT,
    RUN,
    DType,
    LayerType,
    quick_model,
)
from gatcli.engine import make_engine
from gatcli.errors import StdoutError
from gatcli.forward import forward_graphs, layer_graphs
from gatcli.graph import Graph
from gatcli.io.atomic import STDIO, atomic_outputs, check_output_path
from gatcli.io.node_list import read_node_list
from gatcli.io.readers import NodeIndex, read_features, read_graph
from gatcli.io.writers import (
    EMBEDDING_FORMATS,
    AttentionWriter,
    attention_format,
    check_ids_for_format,
    embeddings_format,
    npy_drops_ids,
    write_embeddings,
)
from gatcli.model.build import resolve_model
from gatcli.model.weights import check_weights_output, save_weights

EmbeddingsFormat = Enum("EmbeddingsFormat", {name: name for name in EMBEDDING_FORMATS},
                        type=str)


class StdoutAttention:
    """The attention writer on stdout: once the reader closes it (``| head``), the rest of
    the attention is skipped and the run goes on, so the embeddings file is still written."""

    def __init__(self, writer: AttentionWriter) -> None:
        self.writer = writer
        self.closed = False

    def __call__(self, layer: int, graph: Graph, alpha: np.ndarray) -> None:
        if self.closed:
            return
        try:
            self.writer(layer, graph, alpha)
            sys.stdout.buffer.flush()
        except (BrokenPipeError, StdoutError) as exc:
            if isinstance(exc, StdoutError) and not exc.broken_pipe:
                raise  # a full device or a closed stdout: the run fails
            self.closed = True
            quiet_stdout_after_broken_pipe()


def embed(
    graph: str = typer.Argument(..., help=GRAPH_HELP, show_default=False),
    features: str = typer.Argument(..., help=FEATURES_HELP, show_default=False),
    output: str = typer.Option("-", "--output", "-o", rich_help_panel=OUTPUT,
                               help="Embeddings: .csv, .tsv, .jsonl, .emb (word2vec), .npy, "
                                    ".npz (with ids), .parquet (text formats also .gz), "
                                    "or '-' (stdout, CSV unless --format)."),
    output_format: EmbeddingsFormat | None = typer.Option(
        None, "--format", rich_help_panel=OUTPUT, show_default=False,
        help="Format of the embeddings, for stdout or over the extension: csv, tsv, jsonl, "
             "w2v, npy, npz, parquet (binary ones never to a terminal)."),
    attention: str | None = typer.Option(
        None, "--attention", rich_help_panel=OUTPUT, show_default=False,
        help="Also write attention: .csv/.tsv[.gz] (layer,head,target,source,alpha), .npz "
             "(sparse matrix per layer and head), .parquet, or '-' (stdout; needs -o FILE)."),
    nodes: str | None = typer.Option(
        None, "--nodes", rich_help_panel=OUTPUT, show_default=False,
        help="Embed only the nodes listed in this file (one id a line, '-' for stdin), in "
             "its order: exact, computed on their receptive field only. --attention then "
             "holds the edges each layer computed."),
    save_weights_to: str | None = typer.Option(
        None, "--save-weights", rich_help_panel=OUTPUT, show_default=False,
        help="Write the weights used, with their architecture: an .npz, or '-' for stdout "
             "(needs -o FILE)."),
    weights: str | None = options.WEIGHTS,
    config: str | None = options.CONFIG,
    seed: int = options.SEED,
    layers: int | None = options.LAYERS,
    hidden: int | None = options.HIDDEN,
    heads: int | None = options.HEADS,
    out_dim: int | None = options.OUT_DIM,
    out_heads: int | None = options.OUT_HEADS,
    concat: bool | None = options.CONCAT,
    negative_slope: float | None = options.NEGATIVE_SLOPE,
    activation: str | None = options.ACTIVATION,
    layer_type: LayerType | None = options.LAYER_TYPE,
    bias: bool | None = options.BIAS,
    self_loops: bool | None = options.SELF_LOOPS,
    undirected: bool = options.UNDIRECTED,
    allow_nonfinite: bool = options.ALLOW_NONFINITE,
    svmlight_base: options.SvmlightBase = options.SVMLIGHT_BASE,
    delimiter: str | None = options.DELIMITER,
    tab: bool = options.TAB,
    header: bool | None = options.HEADER,
    id_column: str | None = options.ID_COLUMN,
    edge_columns: str | None = options.EDGE_COLUMNS,
    dtype: DType = typer.Option(DType.float32, "--dtype", rich_help_panel=RUN,
                                help="Floating point type of the computation."),
    block_size: int | None = typer.Option(
        None, "--block-size", min=1, rich_help_panel=RUN, show_default=False,
        help="Target nodes per block: the targets are processed a block at a time with all "
             "their in-edges, so a smaller block needs less memory.  [default: automatic, "
             "blocks of a fixed number of edge values]"),
    timings: bool = typer.Option(False, "--timings", rich_help_panel=RUN,
                                 help="Print the time of each phase on stderr."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", rich_help_panel=RUN, show_default=False,
        help="Run on Dask: tcp://HOST:PORT (an existing scheduler; inputs must be readable "
             "by the workers at the same path) or local:N (N local worker processes). "
             "Needs pip install 'gatcli[distributed]'."),
    memory_limit: str | None = typer.Option(
        None, "--memory-limit", rich_help_panel=RUN, show_default=False,
        help="Out-of-core: keep the run within about SIZE (e.g. 384M, 2G; 'auto' = half of "
             "the available memory) by memory-mapping large tables, outputs and the edges' "
             "CSR in --tmp-dir.  [default: all in memory]"),
    tmp_dir: str | None = typer.Option(
        None, "--tmp-dir", rich_help_panel=RUN, show_default=False,
        help="Directory for --memory-limit's temporary files (removed at exit).  "
             "[default: $TMPDIR or /tmp]"),
    quiet: bool = options.QUIET,
    progress: bool | None = options.PROGRESS,
    debug: bool = options.DEBUG,
) -> None:
    """Compute node embeddings (and attention) with a graph attention network.

    Embeddings go to stdout as CSV unless -o is given: one row per node, in the features'
    order, id first (with --nodes: the listed nodes, in the list's order). Weights are
    seeded (--seed) or loaded (--weights).
    """
    if attention == STDIO and output == STDIO:
        raise usage_error("--attention - needs the embeddings in a file (-o FILE)")
    if save_weights_to == STDIO and output == STDIO:
        raise usage_error("--save-weights - needs the embeddings in a file (-o FILE)")
    if save_weights_to == STDIO and attention == STDIO:
        raise usage_error("--save-weights - and --attention -: only one output can go to "
                          "stdout")
    if graph == STDIO and features == STDIO:
        raise usage_error("only one of GRAPH and FEATURES can be read from stdin")
    if nodes == STDIO and STDIO in (graph, features):
        other = "GRAPH" if graph == STDIO else "FEATURES"
        raise usage_error(f"--nodes - and {other} both read stdin; only one input can be "
                          "read from stdin")
    quick = quick_model(layers, hidden, heads, out_dim, out_heads, concat, negative_slope,
                        activation, layer_type, bias)
    delim = options.delimiter_of(delimiter, tab)
    read_notes: list[str] = []
    clock = Timings()
    bar = RunProgress(progress_wanted(progress, quiet, [graph, features]))
    engine = None
    with reporting_errors(debug), bar, contextlib.ExitStack() as cleanup:
        inputs = [graph, features] + [p for p in (weights, config, nodes) if p]
        outputs = [p for p in (output, attention, save_weights_to) if p is not None]
        for k, path in enumerate(outputs):
            check_output_path(path, inputs, outputs[:k])
        # every output's format is checked before any work
        emb_format = embeddings_format(output, output_format.value if output_format else None)
        att_format = attention_format(attention) if attention is not None else None
        if save_weights_to:
            check_weights_output(save_weights_to)
        with clock.phase("read features"), bar.phase("read features"):
            feats = read_features(features, allow_nonfinite=allow_nonfinite,
                                  svmlight_base=svmlight_base.value, delimiter=delim,
                                  header=header, id_column=id_column, notes=read_notes)
        with clock.phase("read graph"), bar.phase("read graph"):
            sources, targets = read_graph(graph, NodeIndex.of(feats), delimiter=delim,
                                          header=header, edge_columns=edge_columns,
                                          notes=read_notes)
        for note in read_notes:
            say(note, quiet)
        chosen = None
        if nodes is not None:
            with clock.phase("read nodes"), bar.phase("read nodes"):
                chosen = read_node_list(nodes, NodeIndex.of(feats))
        notes: list[str] = list(feats.notes)
        model = resolve_model(feats.width, weights=weights, config=config,
                              quick=quick, seed=seed, self_loops=self_loops, notes=notes,
                              open_width=feats.open_width, n_nodes=feats.n_nodes)
        if model.in_dim > feats.width:  # svmlight: the last features are simply absent
            feats.widen(model.in_dim)
        for note in notes:
            say(note, quiet)
        bar.layers(len(model.layers))
        with clock.phase("start engine"):
            engine = make_engine(scheduler, memory_limit, tmp_dir)
            cleanup.callback(engine.close)  # temporary files / cluster, on every exit path
        ids = feats.ids  # None: rows are nodes 0..N-1
        if chosen is None:
            row_ids = ids
        else:  # --nodes: rows are the listed nodes
            row_ids = chosen.astype(np.int64) if ids is None else ids[chosen]
        check_ids_for_format(emb_format, row_ids, output)
        if emb_format.name == "npy" and npy_drops_ids(row_ids):
            say(f"{output} holds the rows without their ids (not 0..N-1); use .npz to keep "
                "them", quiet)
        with clock.phase("build CSR"):
            graphs = layer_graphs(model, sources, targets, feats.n_nodes,
                                  undirected=undirected, engine=engine)
        del sources, targets  # (out-of-core: the CSR is on disk now)
        layer_start = [time.perf_counter()]

        def block_done(layer: int, done: int, total: int) -> None:
            bar.block_done(layer, done, total)
            if done == total:  # the layer's last block: one phase per layer
                now = time.perf_counter()
                clock.phases.append((f"layer {layer}", now - layer_start[0]))
                layer_start[0] = now

        # All files appear together or none does. Attention is written as each layer
        # finishes; embeddings on stdout are written last, so a reader that closes it early
        # (| head) costs no file; attention on stdout closed early is skipped, not fatal.
        with atomic_outputs(), contextlib.ExitStack() as stack:
            on_layer = None
            stdout_attention = None
            if attention is not None:
                writer = stack.enter_context(AttentionWriter(
                    attention, ids, feats.n_nodes, fmt=att_format,
                    allow_nonfinite=allow_nonfinite))
                if attention == STDIO:
                    stdout_attention = StdoutAttention(writer)
                on_layer = _timed(stdout_attention or writer, clock, layer_start)
            result = forward_graphs(model, feats.values, graphs,
                                    dtype=np.dtype(dtype.value), block_size=block_size,
                                    progress=block_done, on_layer=on_layer, nodes=chosen,
                                    engine=engine)
            for k, count in enumerate(result.nodes_without_in_edges()):
                if count:
                    say(f"layer {k}: {count} node(s) have no in-edges; their aggregate is "
                        "zero (output = bias)", quiet)
            with clock.phase("write attention") if attention is not None else (
                    contextlib.nullcontext()):
                try:
                    stack.close()
                except BrokenPipeError:
                    if stdout_attention is None:
                        raise
                    stdout_attention.closed = True  # its last rows: as above
                    quiet_stdout_after_broken_pipe()
            with clock.phase("write"), bar.phase("write"):
                if save_weights_to:
                    save_weights(model, save_weights_to)
                write_embeddings(output, result.embeddings, row_ids,
                                 feats.id_column or "id", fmt=emb_format,
                                 allow_nonfinite=allow_nonfinite)
        stdout_closed = stdout_attention is not None and stdout_attention.closed
        if not quiet and output != STDIO and not stdout_closed:  # a closed stdout: quiet
            say(f"wrote {result.embeddings.shape[0]} x {result.embeddings.shape[1]} "
                f"embeddings to {Path(output)}", quiet)
    if timings:
        clock.report()
        for name, value in getattr(engine, "stats", {}).items():
            if name == "shuffle_bytes":
                say(f"timing shuffle bytes     {int(value):>12,d}", False)


def _timed(write: Callable[[int, Graph, np.ndarray], None], clock: Timings,
           layer_start: list[float]) -> Callable[[int, Graph, np.ndarray], None]:
    """``write`` timed as the phase "write attention k" (not counted in the next layer)."""

    def timed(layer: int, graph: Graph, alpha: np.ndarray) -> None:
        start = time.perf_counter()
        write(layer, graph, alpha)
        now = time.perf_counter()
        clock.phases.append((f"attention {layer}", now - start))
        layer_start[0] = now

    return timed


EXAMPLES = {
    "embed": [
        ("the karate club's embeddings, CSV on stdout",
         "gat embed examples/graphs/karate/edges.csv examples/graphs/karate/features.csv"),
        ("to a file, with the attention of every edge",
         "gat embed examples/graphs/karate/edges.csv examples/graphs/karate/features.csv "
         "-o karate.csv --attention attention.csv"),
        ("a 1-layer GATv2 model of 4 heads, the weights saved for later",
         "gat embed examples/graphs/karate/edges.csv examples/graphs/karate/features.csv "
         "--layers 1 --layer-type gatv2 --out-heads 4 --save-weights w.npz -o k.npy"),
        ("the edge list from stdin",
         "cat examples/graphs/karate/edges.csv | gat embed - "
         "examples/graphs/karate/features.csv -o karate.csv"),
        ("a model trained in PyTorch Geometric",
         "gat embed tests/fixtures/pyg/gat_2layer/edges.csv "
         "tests/fixtures/pyg/gat_2layer/features.npy "
         "--weights tests/fixtures/pyg/gat_2layer/model.npz -o pyg.npy"),
    ],
}
