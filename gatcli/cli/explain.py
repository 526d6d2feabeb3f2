"""``gat explain``: run the forward pass with a StepRecorder and show what it recorded."""

from __future__ import annotations

import sys
from enum import Enum

import numpy as np
import typer

from gatcli.cli import options
from gatcli.cli.common import is_unicode, reporting_errors, say, stdout_console, usage_error
from gatcli.cli.options import FEATURES_HELP, GRAPH_HELP, RUN, DType, LayerType
from gatcli.explain import tutorial
from gatcli.explain.i18n import LANGUAGE_NAMES, LANGUAGES, message
from gatcli.explain.steps import GATV2_STEP_ORDER, STEPS, layer_traces
from gatcli.forward import forward
from gatcli.io.atomic import STDIO
from gatcli.io.readers import NodeIndex, read_features, read_graph
from gatcli.io.strict_json import dumps
from gatcli.layer import StepRecorder
from gatcli.model.build import resolve_model

SHOW = "What to show"

Step = Enum("Step", {name: name for name in ("all",) + STEPS}, type=str)


class Format(str, Enum):
    text = "text"
    json = "json"


Lang = Enum("Lang", {name: name for name in LANGUAGES}, type=str)


def explain(
    graph: str | None = typer.Argument(
        None, show_default=False,
        help=GRAPH_HELP + " Without GRAPH and FEATURES: the tutorial's 4-node example."),
    features: str | None = typer.Argument(None, help=FEATURES_HELP, show_default=False),
    step: list[Step] = typer.Option(
        ["all"], "--step", "-s", rich_help_panel=SHOW,
        help="A step (repeat for several), or all, in order: " + ", ".join(STEPS)
             + " (GATv2: " + ", ".join(GATV2_STEP_ORDER) + ")."),
    layer: int | None = typer.Option(None, "--layer", "-l", min=0, rich_help_panel=SHOW,
                                     show_default=False,
                                     help="Only this layer (0-based).  [default: all]"),
    head: int | None = typer.Option(None, "--head", min=0, rich_help_panel=SHOW,
                                    show_default=False,
                                    help="Only this head (0-based).  [default: 0 in text, all "
                                         "in json]"),
    node: str | None = typer.Option(None, "--node", "-n", rich_help_panel=SHOW,
                                    show_default=False,
                                    help="Focus on one node (its id): in-neighbours, scores, "
                                         "attention sorted, output row. For large graphs."),
    output_format: Format = typer.Option(Format.text, "--format", "-f", rich_help_panel=SHOW,
                                         help="text (rich) or json (the recorded arrays)."),
    lang: Lang = typer.Option("en", "--lang", rich_help_panel=SHOW,
                              help="Language of titles and explanations (zh: Chinese)."),
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
    dtype: DType | None = typer.Option(
        None, "--dtype", rich_help_panel=RUN, show_default=False,
        help="Floating point type.  [default: float32 as in embed; float64 for the tutorial]"),
    quiet: bool = options.QUIET,
    debug: bool = options.DEBUG,
) -> None:
    """Show every step of the forward pass: formula, shapes and values.

    Runs the same forward pass as `gat embed` and prints the arrays it recorded, step by
    step. With no files: the tutorial's worked example, with the tutorial's printed values
    next to the correct ones where they differ (softmax, aggregate). With files, the model
    options are those of `gat embed`. Large graphs are summarised; use --node ID for one node
    (computed on its receptive field only, so its cost does not grow with the graph).
    """
    if (graph is None) != (features is None):
        raise usage_error("give both GRAPH and FEATURES, or neither (the tutorial's example)")
    if graph == STDIO and features == STDIO:
        raise usage_error("only one of GRAPH and FEATURES can be read from stdin")
    quick = options.quick_model(layers, hidden, heads, out_dim, out_heads, concat,
                                negative_slope, activation, layer_type, bias)
    delim = options.delimiter_of(delimiter, tab)
    with reporting_errors(debug):
        notes: list[str] = []
        read_notes = notes
        if graph is None:
            x = tutorial.tutorial_features()
            sources, targets = tutorial.tutorial_edges()
            ids = np.arange(x.shape[0]).astype(str)
            own_model = weights is not None or config is not None or bool(quick.given())
            if own_model:
                model = resolve_model(x.shape[1], weights=weights, config=config, quick=quick,
                                      seed=seed, self_loops=self_loops, notes=notes,
                                      n_nodes=x.shape[0])
            else:
                model = tutorial.tutorial_model()
                if self_loops is not None:
                    raise usage_error("--self-loops/--no-self-loops need GRAPH and FEATURES "
                                      "(the tutorial's A has its self-loops)")
            is_tutorial = not own_model
            intro: tuple[str, dict[str, object]] = (
                "intro_tutorial_graph" if own_model else "intro_tutorial", {})
            run_dtype = np.dtype(dtype.value if dtype else "float64")
        else:
            feats = read_features(features, allow_nonfinite=allow_nonfinite,
                                  svmlight_base=svmlight_base.value, delimiter=delim,
                                  header=header, id_column=id_column, notes=read_notes)
            notes += feats.notes
            sources, targets = read_graph(graph, NodeIndex.of(feats), delimiter=delim,
                                          header=header, edge_columns=edge_columns,
                                          notes=read_notes)
            model = resolve_model(feats.width, weights=weights, config=config, quick=quick,
                                  seed=seed, self_loops=self_loops, notes=notes,
                                  open_width=feats.open_width, n_nodes=feats.n_nodes)
            if model.in_dim > feats.width:  # svmlight: the last features are simply absent
                feats.widen(model.in_dim)
            x, ids = feats.values, feats.id_labels()
            is_tutorial = False
            intro = ("intro_files", {"graph": graph, "features": features,
                                     "nodes": x.shape[0], "edges": int(sources.shape[0])})
            run_dtype = np.dtype(dtype.value if dtype else "float32")
        for note in notes:
            say(note, quiet)
        chosen_layers = _chosen_layers(layer, len(model.layers))
        for k in chosen_layers:
            if head is not None and head >= model.layers[k].spec.heads:
                raise usage_error(f"--head {head}: layer {k} has {model.layers[k].spec.heads} "
                                  f"head(s) (0..{model.layers[k].spec.heads - 1})")
        node_index = None if node is None else _node_index(node, ids)

        recorder = StepRecorder()
        # With --node, every layer runs on the node's receptive field only (its L-hop
        # in-neighbourhood): the node's rows are those of the whole run.
        result = forward(model, x, sources, targets, undirected=undirected, dtype=run_dtype,
                         recorder=recorder, nodes=None if node_index is None else [node_index])
        traces = layer_traces(recorder, model, result.fields)
        chosen = {s.value for s in step}
        steps = STEPS if "all" in chosen else tuple(s for s in STEPS if s in chosen)

        if output_format is Format.json:
            from gatcli.explain.export import explanation_json

            doc = explanation_json(traces, ids=ids, steps=steps, layers=chosen_layers,
                                   head=head, node=node_index, tutorial=is_tutorial)
            sys.stdout.write(dumps(doc))
            sys.stdout.write("\n")
            return
        from gatcli.explain.render import TextRenderer

        console = stdout_console()
        language = lang.value
        if language != "en" and not is_unicode(console.encoding):
            say(f"stdout's encoding ({console.encoding}) cannot show {LANGUAGE_NAMES[language]}; "
                "explaining in English (set PYTHONIOENCODING=utf-8 for the translation)", quiet)
            language = "en"
        renderer = TextRenderer(console, traces, ids, lang=language, tutorial=is_tutorial)
        renderer.render(steps=steps, layers=chosen_layers, head=head, node=node_index,
                        intro=message(language, intro[0], **intro[1]))


def _chosen_layers(layer: int | None, n_layers: int) -> list[int]:
    if layer is None:
        return list(range(n_layers))
    if layer >= n_layers:
        raise usage_error(f"--layer {layer}: the model has {n_layers} layer(s) "
                          f"(0..{n_layers - 1})")
    return [layer]


def _node_index(node: str, ids: np.ndarray) -> int:
    """The row of node id ``node`` (ids as in the features file, or 0..N-1)."""
    found = np.flatnonzero(np.asarray(ids).astype(str) == node.strip())
    if found.size == 0:
        raise usage_error(f"--node {node!r}: no such node id (the features have "
                          f"{len(ids)} nodes)")
    return int(found[0])


EXAMPLES = {
    "explain": [
        ("the tutorial's worked example, every step", "gat explain"),
        ("its attention, explained in Chinese", "gat explain --step softmax --lang zh"),
        ("one node of a real graph",
         "gat explain examples/graphs/karate/edges.csv examples/graphs/karate/features.csv "
         "--node 0 --step softmax"),
        ("the recorded arrays as JSON, for a notebook", "gat explain --format json"),
    ],
}
