"""What every command shares: the guarded standard output, stderr messages, error handling,
progress, timings.

Standard output is written through one guard (:func:`guarded_stdout`) for every command,
whatever writes to it (the CSV writers, rich consoles, JSON, help pages): a reader that
goes away (``| head -1``) ends the run quietly with exit 0, any other failure to write it
(``> /dev/full``, a closed stdout ``>&-``) is one ``gat: error:`` line and exit 1, and a
stream whose encoding cannot hold the box and formula characters gets ASCII instead.

Imports are light on purpose: ``gat --version`` and ``gat --help`` use this module and load
neither numpy nor rich.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from gatcli.cli.signals import exit_code_of, interrupted_message
from gatcli.errors import GatError, StdoutError
from gatcli.io.atomic import remove_temporaries

if TYPE_CHECKING:
    import typer
    from rich.console import Console

#: exit codes (documented in the README and docs/errors.md)
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130



class _StderrConsole:
    """The rich console on stderr (progress bars), created on first use so that commands
    which only print plain messages never import rich."""

    _console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            type(self)._console = Console(stderr=True, highlight=False, soft_wrap=True)
        return self._console

    @property
    def is_terminal(self) -> bool:
        return self.console.is_terminal

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


err = _StderrConsole()


def _stderr_line(text: str) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):  # stderr may be closed
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def say(message: str, quiet: bool = False) -> None:
    """A message for the user on stderr (suppressed by --quiet)."""
    if not quiet:
        _stderr_line(f"gat: {message}")


def one_line(message: str) -> str:
    """``message`` on a single line (embedded line breaks become spaces)."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


def error_line(message: str) -> None:
    """Print one ``gat: error: ...`` line on stderr."""
    _stderr_line(f"gat: error: {one_line(message)}")


def fail(message: str, code: int = EXIT_FAILURE) -> typer.Exit:
    """Print one ``gat: error: ...`` line on stderr and return the Exit to raise."""
    import typer

    error_line(message)
    return typer.Exit(code)


def usage_error(message: str) -> typer.Exit:
    return fail(message, EXIT_USAGE)


def quiet_stdout_after_broken_pipe() -> None:
    """Point file descriptor 1 at /dev/null so the interpreter's final flush of whatever
    stdout still buffers cannot raise again (after a closed pipe or a write error)."""
    with contextlib.suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
        stream = sys.__stdout__
        if stream is None or stream.fileno() != 1:
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)


# -- standard output ------------------------------------------------------------------------

#: What the formulas, tables and heatmaps of ``gat explain`` and ``gat weights show`` use
#: beyond ASCII, for a stream whose encoding cannot hold them (``PYTHONIOENCODING=ascii``,
#: ``LANG=C`` on an old system); anything else unencodable becomes ``?``.
ASCII_GLYPHS = str.maketrans({
    "α": "alpha", "β": "beta", "Σ": "sum", "σ": "sigma", "∞": "inf", "·": ".", "×": "x",
    "→": "->", "←": "<-", "⇒": "=>", "‖": "||", "…": "...", "−": "-", "≤": "<=",
    "≥": ">=", "≈": "~", "≠": "!=", "ᵀ": "^T", "²": "^2", "░": "-", "▒": "+", "▓": "#",
    "█": "@", "─": "-", "━": "=", "│": "|", "┃": "|", "•": "*", "“": '"', "”": '"',
    "‘": "'", "’": "'", "—": "--", "–": "-", "\u00a0": " ",
})


def is_unicode(encoding: str | None) -> bool:
    """True for the encodings that hold every character (UTF-8, UTF-16, ...)."""
    return (encoding or "utf-8").lower().replace("_", "-").startswith("utf")


def to_encoding(text: str, encoding: str | None) -> str:
    """``text`` as it can be written in ``encoding``: unchanged for UTF encodings, else
    with ASCII_GLYPHS substituted and any other unencodable character as ``?``."""
    if is_unicode(encoding):
        return text
    text = text.translate(ASCII_GLYPHS)
    try:
        text.encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        text = text.encode(encoding or "ascii", "replace").decode(encoding or "ascii")
    return text


class _ClosedStream:
    """What stdout is when the process started with file descriptor 1 closed (``>&-``):
    Python sets ``sys.stdout`` to None and would drop every write silently."""

    encoding = "utf-8"
    errors = "strict"

    def write(self, data: Any) -> int:
        raise OSError(errno.EBADF, "it is closed (file descriptor 1)")

    writelines = write

    def read(self, *args: Any) -> bytes:
        """Not readable; present because np.savez takes an object with ``read`` for a file
        (anything else for a path name)."""
        raise io.UnsupportedOperation("stdout is not readable")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise io.UnsupportedOperation("stdout is closed")

    @property
    def buffer(self) -> _ClosedStream:
        return self


def _stdout_error(exc: OSError) -> StdoutError:
    code = exc.errno or errno.EIO
    if isinstance(exc, BrokenPipeError) or code == errno.EPIPE:
        return StdoutError(errno.EPIPE, "the reader closed the pipe")
    return StdoutError(code, exc.strerror or str(exc))


class _Guarded:
    """What both layers of the guarded stdout share: every write error of ``_target``
    becomes a StdoutError; anything else is the target's."""

    _target: Any

    def _write(self, data: Any) -> int:
        try:
            return self._target.write(data)
        except OSError as exc:
            raise _stdout_error(exc) from None

    def write(self, data: Any) -> int:
        return self._write(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._target.flush()
        except OSError as exc:
            raise _stdout_error(exc) from None
        except ValueError:  # flushing a closed file
            pass

    def __getattr__(self, name: str) -> Any:
        if name == "_target":  # not set yet: no recursion through __getattr__
            raise AttributeError(name)
        return getattr(self._target, name)


class _GuardedBinary(_Guarded):
    """The binary layer of :class:`GuardedStdout` (``sys.stdout.buffer``)."""

    def __init__(self, raw: Any, text: GuardedStdout) -> None:
        self._target = raw
        self._text = text

    def write(self, data: Any) -> int:
        self._text.flush()  # text written before these bytes goes first
        return self._write(data)


class GuardedStdout(_Guarded):
    """``sys.stdout`` while a command runs: every write error becomes a StdoutError, and
    text is made writable in the stream's encoding (:func:`to_encoding`)."""

    def __init__(self, stream: Any) -> None:
        self._target = _ClosedStream() if stream is None else stream
        raw = getattr(self._target, "buffer", None)
        self.buffer = _GuardedBinary(raw, self) if raw is not None else None

    @property
    def encoding(self) -> str:
        return getattr(self._target, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        return self._write(to_encoding(text, self.encoding))


def _occupy_closed_stdout() -> None:
    """With file descriptor 1 closed, the next file opened would get it, and anything that
    writes to descriptor 1 would write into that file: park /dev/null there."""
    try:
        os.fstat(1)
    except OSError:
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            if devnull != 1:
                os.dup2(devnull, 1)
                os.close(devnull)


def run_guarded(run: Callable[[], int]) -> int:
    """Run a command with :class:`GuardedStdout` as ``sys.stdout`` and return its exit code:
    the command's own, 0 when the reader of stdout went away, 1 (and one stderr line) when
    stdout could not be written."""
    original = sys.stdout
    if original is None:
        _occupy_closed_stdout()
    guard = GuardedStdout(original)
    sys.stdout = guard
    try:
        code = run()
        guard.flush()
        return code
    except StdoutError as exc:
        quiet_stdout_after_broken_pipe()
        if exc.broken_pipe:
            return EXIT_OK
        error_line(str(exc))
        return EXIT_FAILURE
    finally:
        if sys.stdout is guard:
            sys.stdout = original


def stdout_console(**kwargs: Any) -> Console:
    """A rich console on (guarded) stdout for rendered output (explain, weights show):
    no emoji codes or highlighting, ASCII boxes when the encoding needs them."""
    from rich.console import Console

    kwargs.setdefault("highlight", False)
    kwargs.setdefault("emoji", False)
    return Console(file=sys.stdout, **kwargs)


@contextlib.contextmanager
def reporting_errors(debug: bool) -> Iterator[None]:
    """Turn GatError into one stderr line and exit 1 (traceback only with --debug);
    a closed stdout into a quiet exit 0; Ctrl-C into exit 130.

    Without --debug, numpy's floating-point warnings (overflow, invalid value) are not
    printed: their effect, inf/NaN in an output, is reported as the one error line by the
    writers, and a warning would be a second line on stderr.
    """
    import numpy as np

    from gatcli.io.numpy_files import forget_spooled

    try:
        with contextlib.ExitStack() as stack:
            stack.callback(forget_spooled)  # FIFOs read once are kept for one command
            if not debug:
                stack.enter_context(np.errstate(all="ignore"))
                stack.enter_context(warnings.catch_warnings())
                warnings.simplefilter("ignore", RuntimeWarning)
            yield
    except GatError as exc:
        if debug:
            traceback.print_exc()
        raise fail(str(exc)) from None
    except BrokenPipeError:  # stdout outside the guard (library use)
        import typer

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
            _stderr_line(f"gat: timing {name:<16} {seconds:8.3f} s")
        _stderr_line(f"gat: timing {'total':<16} {total:8.3f} s")


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
            self._bar = Progress(*columns, console=err.console, transient=True)
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
            self._layers[layer] = self._bar.add_task(f"layer {layer} (of {self.n_layers})",
                                                     total=total)
        self._bar.update(self._layers[layer], completed=done)


#: Inputs at least this large (bytes) make a run long enough for a progress display.
PROGRESS_INPUT_BYTES = 20_000_000


def progress_wanted(choice: bool | None, quiet: bool, inputs: list[str]) -> bool:
    """--progress forces it, --no-progress or --quiet turn it off; by default it shows when
    stderr is a terminal and the inputs are large enough for the run to take a while."""
    if quiet or choice is False:
        return False
    if not choice:
        size = 0
        for path in inputs:
            with contextlib.suppress(OSError):
                size += os.path.getsize(path)
        if size < PROGRESS_INPUT_BYTES:  # decided without importing rich
            return False
    return err.is_terminal
