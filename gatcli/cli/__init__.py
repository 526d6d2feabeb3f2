"""The ``gat`` command: a thin layer that wires readers, model, core and writers together."""

from __future__ import annotations

import sys

import typer

from gatcli import __version__
from gatcli.cli.common import EXIT_OK, quiet_stdout_after_broken_pipe
from gatcli.cli.embed import embed
from gatcli.cli.explain import explain
from gatcli.cli.signals import end_runs_cleanly, exit_code_of, interrupted_message
from gatcli.cli.train import predict, train
from gatcli.cli.weights import app as weights_app
from gatcli.io.atomic import remove_temporaries

app = typer.Typer(
    name="gat",
    help="Graph attention network (GAT) embeddings and attention with numpy and "
         "scipy.sparse, and every step of the computation explained.\n\n"
         "Data goes to stdout, messages to stderr; '-' means stdin/stdout. Exit codes: "
         "0 success, 1 bad input or failure, 2 usage error, 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gat {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Graph attention network embeddings from the command line."""


app.command("embed", no_args_is_help=True)(embed)
app.command("explain")(explain)
app.command("train", no_args_is_help=True)(train)
app.command("predict", no_args_is_help=True)(predict)
app.add_typer(weights_app, name="weights")


def main() -> None:
    """Entry point of the ``gat`` console script and ``python -m gatcli``."""
    end_runs_cleanly()
    try:
        app()
    except KeyboardInterrupt as exc:
        remove_temporaries()
        sys.stderr.write(f"gat: error: {interrupted_message(exc)}\n")
        sys.exit(exit_code_of(exc))
    except BrokenPipeError:
        quiet_stdout_after_broken_pipe()
        sys.exit(EXIT_OK)
