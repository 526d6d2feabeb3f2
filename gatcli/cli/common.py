"""What every command shares: stderr console, error handling, progress, timings, options."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import typer
from rich.console import Console

from gatcli.errors import GatError

#: exit codes (documented in the README and docs/errors.md)
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

err = Console(stderr=True, highlight=False, soft_wrap=True)


def say(message: str, quiet: bool = False) -> None:
    """A message for the user on stderr (suppressed by --quiet)."""
    if not quiet:
        err.print(f"gat: {message}", markup=False)


def one_line(message: str) -> str:
    """``message`` on a single line (embedded line breaks become spaces)."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


def fail(message: str, code: int = EXIT_FAILURE) -> typer.Exit:
    """Print one ``gat: error: ...`` line on stderr and return the Exit to raise."""
    with contextlib.suppress(OSError):  # stderr itself may be a closed pipe
        sys.stderr.write(f"gat: error: {one_line(message)}\n")
        sys.stderr.flush()
    return typer.Exit(code)


def usage_error(message: str) -> typer.Exit:
    return fail(message, EXIT_USAGE)


def quiet_stdout_after_broken_pipe() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot raise again."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


@contextlib.contextmanager
def reporting_errors(debug: bool) -> Iterator[None]:
    """Turn GatError into one stderr line and exit 1 (traceback only with --debug);
    a closed stdout into a quiet exit 0; Ctrl-C into exit 130.

    Without --debug, numpy's floating-point warnings (overflow, invalid value) are not
    printed: their effect, inf/NaN in an output, is reported as the one error line by the
    writers, and a warning would be a second line on stderr.
    """
    try:
        with contextlib.ExitStack() as stack:
            if not debug:
                stack.enter_context(np.errstate(all="ignore"))
                stack.enter_context(warnings.catch_warnings())
                warnings.simplefilter("ignore", RuntimeWarning)
            yield
    except GatError as exc:
        if debug:
            traceback.print_exc()
        raise fail(str(exc)) from None
    except BrokenPipeError:
        quiet_stdout_after_broken_pipe()
        raise typer.Exit(EXIT_OK) from None
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        raise fail("interrupted", EXIT_INTERRUPTED) from None
    except MemoryError:
        if debug:
            traceback.print_exc()
        raise fail("out of memory (try a smaller --block-size or --dtype float32)") from None


class Timings:
    """Wall-clock time of each named phase, printed on stderr with --timings."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.phases.append((name, time.perf_counter() - start))

    def report(self) -> None:
        total = sum(t for _, t in self.phases)
        for name, seconds in self.phases:
            err.print(f"gat: timing {name:<16} {seconds:8.3f} s", markup=False)
        err.print(f"gat: timing {'total':<16} {total:8.3f} s", markup=False)


@contextlib.contextmanager
def layer_progress(
    enabled: bool, n_layers: int
) -> Iterator[Callable[[int, int, int], None] | None]:
    """A rich progress bar on stderr for the layers' blocks, or None when not wanted."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        tasks: dict[int, int] = {}

        def update(layer: int, done: int, total: int) -> None:
            if layer not in tasks:
                tasks[layer] = bar.add_task(f"layer {layer + 1}/{n_layers}", total=total)
            bar.update(tasks[layer], completed=done)

        yield update


def progress_wanted(quiet: bool, n_edges: int) -> bool:
    """Progress only for a terminal, and only when the work is long enough to matter."""
    return not quiet and err.is_terminal and n_edges >= 2_000_000
