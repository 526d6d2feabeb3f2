"""``gat weights``: show the architecture of a weights file; convert a PyG export."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from gatcli.cli.common import reporting_errors, say, usage_error
from gatcli.cli.options import check_negative_slope
from gatcli.errors import GatError
from gatcli.io.atomic import check_output_path
from gatcli.model.pyg import PygModel, PygOptions, is_pyg_state_dict, model_from_pyg
from gatcli.model.spec import Model
from gatcli.model.weights import (
    is_own_layout,
    load_weights,
    model_from_own_layout,
    read_npz,
    save_weights,
)

app = typer.Typer(
    help="Inspect weights files and convert PyTorch Geometric exports to gat's own layout.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

FILE_HELP = ("Weights .npz: gat's own layout (--save-weights) or a PyG state_dict export "
             "(np.savez(path, **{k: v.detach().cpu().numpy() for k, v in "
             "model.state_dict().items()})).")
PYG = "PyG files (what the file does not store)"
KINDS = {"gat": "GATConv", "gatv2": "GATv2Conv"}
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


def _architecture_table(model: Model, prefixes: list[str] | None) -> Table:
    table = Table(title="architecture", title_justify="left")
    for name in ("layer", "type", "in", "heads x out", "combine", "output", "bias", "residual",
                 "activation", "slope", "self-loops"):
        table.add_column(name, justify="right" if name in ("in", "output", "slope") else "left")
    for k, spec in enumerate(model.specs):
        name = str(k) if prefixes is None else f"{k} {prefixes[k] or '(no prefix)'}"
        kind = KINDS[spec.kind] + (" shared" if spec.kind == "gatv2" and spec.share_weights
                                   else "")
        table.add_row(name, kind, str(spec.in_dim), f"{spec.heads} x {spec.out_dim}",
                      "concat" if spec.concat else "mean", str(spec.output_dim),
                      "yes" if spec.bias else "no", "yes" if spec.residual else "no",
                      spec.activation, f"{spec.negative_slope:g}",
                      "yes" if spec.self_loops else "no")
    return table


def _parameter_table(model: Model, keys: list[dict[str, str]] | None,
                     shared: list[list[str]] | None) -> Table:
    table = Table(title="parameters", title_justify="left")
    for name in ("layer", "name", "shape", "dtype", "key in file"):
        table.add_column(name)
    total = 0
    for k, layer in enumerate(model.layers):
        for name in layer.spec.parameter_shapes():
            value = np.asarray(layer.params[name])
            total += value.size
            key = keys[k][name] if keys is not None else f"layers.{k}.{name}"
            table.add_row(str(k), name, str(tuple(value.shape)), str(value.dtype), key)
        for key in (shared[k] if shared else []):
            name = key[key.rindex("lin_r."):]
            twin = np.asarray(layer.params[name.replace("lin_r", "lin_l")])
            table.add_row(str(k), f"({name})", str(tuple(twin.shape)), str(twin.dtype),
                          f"{key} (= lin_l, shared)")
    table.caption = f"{total} parameters"
    return table


def show(
    file: str = typer.Argument(..., help=FILE_HELP, show_default=False),
    config: str | None = _config_option(),
    activation: str | None = _activation_option(),
    negative_slope: float | None = _slope_option(),
    concat: bool | None = _concat_option(),
    self_loops: bool | None = _loops_option(),
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
            if options.given() or self_loops is not None:
                notes.append(f"{file} stores its whole model; PyG options are ignored")
        elif is_pyg_state_dict(arrays):
            loaded = model_from_pyg(arrays, file, options)
            model, fmt, notes = loaded.model, "PyG state_dict", loaded.notes
        else:
            raise GatError("neither a gat weights file nor a PyG GATConv/GATv2Conv "
                           "state_dict (no key ending in att_src or att)", file)
        for note in notes:
            say(note)
        out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
        out.print(f"{file}: {fmt}, {len(model.layers)} layer(s), {model.in_dim} input "
                  f"features -> {model.output_dim} outputs", markup=False)
        out.print(_architecture_table(model, loaded.prefixes if loaded else None))
        out.print(_parameter_table(model, loaded.keys if loaded else None,
                                   loaded.shared if loaded else None))


def convert(
    file: str = typer.Argument(..., help=FILE_HELP, show_default=False),
    output: str = typer.Option(..., "--output", "-o", show_default=False,
                               help="The .npz to write in gat's own layout."),
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
        if not output.endswith(".npz"):
            raise usage_error(f"-o {output!r}: the output must be an .npz file")
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
        say(f"wrote {len(model.layers)} layer(s), {model.in_dim} -> {model.output_dim}, to "
            f"{Path(output)}", quiet)


app.command("show", no_args_is_help=True)(show)
app.command("convert", no_args_is_help=True)(convert)
