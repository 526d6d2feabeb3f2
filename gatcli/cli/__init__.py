"""The ``gat`` command: a thin layer that wires readers, model, core and writers together.

:func:`main` is the console script. ``gat --version`` is answered before anything else is
imported; the typer app (``gatcli.cli.root``) is built on first use and loads each
subcommand's module only when that subcommand runs or shows its help.
"""

from __future__ import annotations

import sys
from typing import Any


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``gat`` console script and ``python -m gatcli``."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:
        from gatcli import __version__
        from gatcli.cli.common import run_guarded

        def version() -> int:
            sys.stdout.write(f"gat {__version__}\n")
            return 0

        sys.exit(run_guarded(version))
    from gatcli.cli.root import command
    from gatcli.cli.signals import end_runs_cleanly

    end_runs_cleanly()

    command().main(args, prog_name="gat")


def __getattr__(name: str) -> Any:
    if name == "app":
        from gatcli.cli.root import app

        return app
    raise AttributeError(f"module 'gatcli.cli' has no attribute {name!r}")
