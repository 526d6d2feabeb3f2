"""The root ``gat`` command: its options, and its subcommands loaded when first needed.

``gat --help`` lists the subcommands from :data:`COMMANDS` without importing them (they
import numpy, scipy and the readers); ``gat embed ...`` imports only what embed needs.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

import typer
from typer import _click as click

from gatcli import __version__
from gatcli.cli.help import GatCommand, GatGroup

#: name -> (module, attribute, one-line summary for ``gat --help``). The attribute is a
#: command function, or a typer.Typer for a group. The summary is checked against the
#: command's own help by the tests.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "embed": ("gatcli.cli.embed", "embed",
              "Compute node embeddings (and attention) with a graph attention network."),
    "explain": ("gatcli.cli.explain", "explain",
                "Show every step of the forward pass: formula, shapes and values."),
    "train": ("gatcli.cli.train", "train",
              "Train a graph attention network: node classification from LABELS."),
    "predict": ("gatcli.cli.train", "predict",
                "Predict the class of every node with a classifier from gat train."),
    "weights": ("gatcli.cli.weights", "app",
                "Inspect weights files and convert PyTorch Geometric exports to gat's own "
                "layout."),
    "docs": ("gatcli.cli.docs", "docs",
             "Print gat's documentation: file formats, error messages."),
}

#: Commands that print their help when run without arguments.
NO_ARGS_IS_HELP = {"embed", "weights", "train", "predict"}

CONTEXT = {"help_option_names": ["-h", "--help"]}

EXAMPLES = {
    "gat": [
        ("embeddings of the bundled karate club, CSV on stdout",
         "gat embed examples/graphs/karate/edges.csv examples/graphs/karate/features.csv"),
        ("the tutorial's worked example, step by step", "gat explain"),
        ("what a weights file holds", "gat weights show tests/fixtures/pyg/gat_2layer/model.npz"),
        ("the file formats", "gat docs formats"),
    ],
}


def _load(name: str) -> click.Command:
    """The click command of subcommand ``name``, built from its module."""
    module_name, attribute, _ = COMMANDS[name]
    module = importlib.import_module(module_name)
    target = getattr(module, attribute)
    examples: dict[str, list[tuple[str, str]]] = getattr(module, "EXAMPLES", {})
    if isinstance(target, typer.Typer):
        command = typer.main.get_command(target)
        command.name = name
        command.examples = examples.get(name, [])
        for sub_name, sub in getattr(command, "commands", {}).items():
            sub.examples = examples.get(f"{name} {sub_name}", [])
        return command
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                         rich_markup_mode=None)
    single.command(name, cls=GatCommand, context_settings=CONTEXT,
                   no_args_is_help=name in NO_ARGS_IS_HELP)(target)
    command = typer.main.get_command(single)
    command.examples = examples.get(name, [])
    return command


class RootGroup(GatGroup):
    """``gat``: subcommands are imported on first use."""

    examples = EXAMPLES["gat"]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *(n for n in self.commands if n not in COMMANDS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands[cmd_name] = _load(cmd_name)
        return self.commands.get(cmd_name)

    def command_summaries(self, ctx: click.Context) -> list[tuple[str, str]]:
        return [(name, COMMANDS[name][2] if name in COMMANDS and name not in self.commands
                 else self.commands[name].get_short_help_str())
                for name in self.list_commands(ctx)]

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return self._click_resolve_command(ctx, args)
        except click.exceptions.UsageError as exc:
            if args:
                close = difflib.get_close_matches(args[0], self.list_commands(ctx))
                if close:
                    exc.message = (f"{exc.message.rstrip('.')}. Did you mean "
                                   f"{', '.join(repr(c) for c in close)}?")
            raise


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gat {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="gat",
    cls=RootGroup,
    help="Graph attention network (GAT) embeddings and attention with numpy and "
         "scipy.sparse, and every step of the computation explained.\n\n"
         "Data goes to stdout, messages to stderr; '-' means stdin/stdout. Exit codes: "
         "0 success, 1 bad input or failure, 2 usage error, 130 interrupted. Layers and "
         "heads are numbered from 0 everywhere.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=CONTEXT,
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Graph attention network embeddings from the command line."""


def command() -> Any:
    """The click command of ``gat`` (what the console script runs)."""
    return typer.main.get_command(app)
