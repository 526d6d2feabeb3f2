"""``gat weights``: show the architecture of a weights file; convert a PyG export."""

from __future__ import annotations

import sys
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from gatcli.cli.common import reporting_errors, say, stdout_console, usage_error
from gatcli.cli.help import GatCommand, GatGroup
from gatcli.cli.options import check_negative_slope
from gatcli.errors import GatError
from gatcli.io.atomic import STDIO, check_output_path
from gatcli.io.strict_json import dumps
from gatcli.model.pyg import PygModel, PygOptions, is_pyg_state_dict, model_from_pyg
from gatcli.model.summary import model_summary
from gatcli.model.weights import (
    NEITHER,
    check_weights_output,
    is_own_layout,
    load_weights,
    model_from_own_layout,
    read_npz,
    save_weights,
)

if TYPE_CHECKING:
    from rich.table import Table

app = typer.Typer(
    cls=GatGroup,
    help="Inspect weights files and convert PyTorch Geometric exports to gat's own layout.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

FILE_HELP = ("Weights .npz: gat's own layout (--save-weights) or a PyG state_dict export "
             "(np.savez(path, **{k: v.detach().cpu().numpy() for k, v in "
             "model.state_dict().items()})).")
PYG = "PyG files (what the file does not store)"
ACTIVATIONS = ("none", "elu", "relu", "leaky_relu", "tanh", "sigmoid")


def _options(config: str | None, activation: str | None, negative_slope: float | None,
             concat: bool | None, self_loops: bool | None) -> PygOptions:
    if activation is not None and activation not in ACTIVATIONS:
        raise usage_error(f"--activation {activation!r}: expected one of "
                          f"{', '.join(ACTIVATIONS)}")
    check_negative_slope(negative_slope)
    return PygOptions(activation=activation, negative_slope=negative_slope,
                      concat_last=concat, self_loops=self_loops, config=config)


def _config_option() -> str | None:
    return typer.Option(None, "--config", "-c", rich_help_panel=PYG, show_default=False,
                        help="YAML model: per layer activation, negative_slope, concat, "
                             "self_loops, and 'prefix' to set the layer order.")


def _activation_option() -> str | None:
    return typer.Option(None, "--activation", rich_help_panel=PYG, show_default=False,
                        help="Activation between layers.  [default: elu]")


def _slope_option() -> float | None:
    return typer.Option(None, "--negative-slope", rich_help_panel=PYG, show_default=False,
                        help="LeakyReLU slope of the attention logits.  [default: 0.2]")


def _concat_option() -> bool | None:
    return typer.Option(None, "--concat/--mean", rich_help_panel=PYG, show_default=False,
                        help="Last layer's heads, where the file cannot tell (no bias, no "
                             "res.weight).  [default: mean]")


def _loops_option() -> bool | None:
    return typer.Option(None, "--self-loops/--no-self-loops", rich_help_panel=PYG,
                        show_default=False,
                        help="Add one self-loop per node in every layer.  [default: yes]")


def _architecture_table(summary: dict[str, Any]) -> Table:
    from rich.table import Table

    table = Table(title="architecture", title_justify="left")
    for name in ("layer", "type", "in", "heads x out", "combine", "output", "bias", "residual",
                 "activation", "slope", "self-loops"):
        table.add_column(name, justify="right" if name in ("in", "output", "slope") else "left")
    yes = {True: "yes", False: "no"}
    for row in summary["layers"]:
        prefix = row["prefix"]
        name = str(row["layer"]) if prefix is None else f"{row['layer']} {prefix or '(no prefix)'}"
        table.add_row(name, row["type"] + (" shared" if row["shared_weights"] else ""),
                      str(row["in_dim"]), f"{row['heads']} x {row['out_dim']}",
                      "concat" if row["concat"] else "mean", str(row["output_dim"]),
                      yes[row["bias"]], yes[row["residual"]], row["activation"],
                      f"{row['negative_slope']:g}", yes[row["self_loops"]])
    return table


def _parameter_table(summary: dict[str, Any]) -> Table:
    from rich.table import Table

    table = Table(title="parameters", title_justify="left")
    for name in ("layer", "name", "shape", "dtype", "key in file"):
        table.add_column(name)
    for row in summary["parameters"]:
        shape = str(tuple(row["shape"]))
        if row["shared_with"]:
            table.add_row(str(row["layer"]), f"({row['name']})", shape, row["dtype"],
                          f"{row['key']} (= {row['shared_with'].split('.')[0]}, shared)")
        else:
            table.add_row(str(row["layer"]), row["name"], shape, row["dtype"], row["key"])
    table.caption = f"{summary['total_parameters']} parameters"
    return table


class ShowFormat(str, Enum):
    text = "text"
    json = "json"


def show(
    file: str = typer.Argument(..., metavar="FILE", help=FILE_HELP, show_default=False),
    output_format: ShowFormat = typer.Option(
        ShowFormat.text, "--format", "-f",
        help="text (tables) or json (the same content, one JSON document; non-finite "
             "numbers as null)."),
    config: str | None = _config_option(),
    activation: str | None = _activation_option(),
    negative_slope: float | None = _slope_option(),
    concat: bool | None = _concat_option(),
    self_loops: bool | None = _loops_option(),
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="No notes on stderr (what a PyG file leaves open)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors."),
) -> None:
    """Print the architecture and parameter shapes of a weights file (gat's own layout or a
    PyG GATConv/GATv2Conv state_dict). Notes on what a PyG file leaves open go to stderr."""
    with reporting_errors(debug):
        options = _options(config, activation, negative_slope, concat, self_loops)
        arrays = read_npz(file)
        notes: list[str] = []
        loaded: PygModel | None = None
        if is_own_layout(arrays):
            model = model_from_own_layout(arrays, file)
            fmt = "gat weights (own layout)"
            ignored = options.given() + (["--self-loops/--no-self-loops"]
                                         if self_loops is not None else [])
            if ignored:
                notes.append(f"{file} stores its whole model; ignoring {', '.join(ignored)}")
        elif is_pyg_state_dict(arrays):
            loaded = model_from_pyg(arrays, file, options)
            model, fmt, notes = loaded.model, "PyG state_dict", loaded.notes
        else:
            raise GatError(NEITHER, file)
        for note in notes:
            say(note, quiet)
        summary = model_summary(model, prefixes=loaded.prefixes if loaded else None,
                                keys=loaded.keys if loaded else None,
                                shared=loaded.shared if loaded else None)
        if output_format is ShowFormat.json:
            document = {"file": file, "format": "pyg" if loaded else "gat", **summary,
                        "notes": notes}
            sys.stdout.write(dumps(document, indent=2) + "\n")
            return
        out = stdout_console(width=None if sys.stdout.isatty() else 160)
        out.print(f"{file}: {fmt}, {len(model.layers)} layer(s), {model.in_dim} input "
                  f"features -> {model.output_dim} outputs", markup=False)
        out.print(_architecture_table(summary))
        out.print(_parameter_table(summary))


def convert(
    file: str = typer.Argument(..., metavar="FILE", help=FILE_HELP, show_default=False),
    output: str = typer.Option(..., "--output", "-o", show_default=False,
                               help="Where to write gat's own layout: an .npz, or '-' for "
                                    "stdout (the same rule as embed --save-weights)."),
    config: str | None = _config_option(),
    activation: str | None = _activation_option(),
    negative_slope: float | None = _slope_option(),
    concat: bool | None = _concat_option(),
    self_loops: bool | None = _loops_option(),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No messages on stderr."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors."),
) -> None:
    """Write a PyG state_dict export (or any supported weights file) in gat's own layout,
    which stores the whole architecture: then --weights alone runs it."""
    with reporting_errors(debug):
        check_weights_output(output)
        options = _options(config, activation, negative_slope, concat, self_loops)
        check_output_path(output, [file] + ([config] if config else []))
        notes: list[str] = []
        model = load_weights(file, pyg=options, notes=notes)
        for note in notes:
            say(note, quiet)
        if self_loops is not None:  # an own-layout input keeps its own unless told
            for layer in model.layers:
                layer.spec = replace(layer.spec, self_loops=self_loops)
        save_weights(model, output)
        if output != STDIO:
            say(f"wrote {len(model.layers)} layer(s), {model.in_dim} -> {model.output_dim}, "
                f"to {Path(output)}", quiet)


EXAMPLES = {
    "weights": [
        ("the architecture of a PyG export",
         "gat weights show tests/fixtures/pyg/gat_2layer/model.npz"),
        ("store it in gat's own layout",
         "gat weights convert tests/fixtures/pyg/gat_2layer/model.npz -o mine.npz"),
    ],
    "weights show": [
        ("tables of the layers and parameters",
         "gat weights show tests/fixtures/pyg/gat_2layer/model.npz"),
        ("the same as JSON, without the notes on stderr",
         "gat weights show tests/fixtures/pyg/gat_2layer/model.npz --format json -q"),
    ],
    "weights convert": [
        ("a PyG export in gat's own layout, with its architecture",
         "gat weights convert tests/fixtures/pyg/gat_2layer/model.npz -o mine.npz"),
        ("with the activation the file cannot store",
         "gat weights convert tests/fixtures/pyg/gat_2layer/model.npz --activation relu "
         "-o mine.npz"),
    ],
}


app.command("show", cls=GatCommand, no_args_is_help=True)(show)
app.command("convert", cls=GatCommand, no_args_is_help=True)(convert)
