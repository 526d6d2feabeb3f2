"""What every command shares: stderr console, error handling, progress, timings, options."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
import warnings
from collections.abc import Iterator

import numpy as np
import typer
from rich.console import Console

from gatcli.cli.signals import exit_code_of, interrupted_message
from gatcli.errors import GatError
from gatcli.io.atomic import remove_temporaries

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
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP (gatcli.cli.signals)
        remove_temporaries()
        if debug:
            traceback.print_exc()
        raise fail(interrupted_message(exc), exit_code_of(exc)) from None
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


class RunProgress:
    """A transient rich progress display on stderr: indeterminate phases (reading, writing)
    and one bar per layer that advances as its blocks finish. Disabled, every method is a
    no-op, so callers need no conditionals."""

    def __init__(self, enabled: bool, n_layers: int = 1) -> None:
        self.enabled = enabled
        self.n_layers = n_layers
        self._bar = None
        self._layers: dict[int, int] = {}

    def __enter__(self) -> RunProgress:
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            columns = (TextColumn("{task.description:<16}"), BarColumn(),
                       TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn())
            self._bar = Progress(*columns, console=err, transient=True)
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """An indeterminate bar for the duration of a phase."""
        if self._bar is None:
            yield
            return
        task = self._bar.add_task(name, total=None)
        try:
            yield
        finally:
            self._bar.update(task, total=1, completed=1)

    def layers(self, n_layers: int) -> None:
        self.n_layers = n_layers

    def block_done(self, layer: int, done: int, total: int) -> None:
        """forward's progress callback: ``done`` of ``total`` targets of ``layer``."""
        if self._bar is None:
            return
        if layer not in self._layers:
            self._layers[layer] = self._bar.add_task(f"layer {layer + 1}/{self.n_layers}",
                                                     total=total)
        self._bar.update(self._layers[layer], completed=done)


#: Inputs at least this large (bytes) make a run long enough for a progress display.
PROGRESS_INPUT_BYTES = 20_000_000


def progress_wanted(choice: bool | None, quiet: bool, inputs: list[str]) -> bool:
    """--progress forces it, --no-progress or --quiet turn it off; by default it shows when
    stderr is a terminal and the inputs are large enough for the run to take a while."""
    if quiet or choice is False:
        return False
    if not err.is_terminal:
        return False
    if choice:
        return True
    size = 0
    for path in inputs:
        with contextlib.suppress(OSError):
            size += os.path.getsize(path)
    return size >= PROGRESS_INPUT_BYTES
