"""Outputs: regular files replaced atomically; devices and FIFOs written in place.

What an output path names decides how it is written (:func:`output_target`):

- ``-``: standard output.
- a regular file, or a name that does not exist yet: written to a temporary file
  ``.gat-XXXXXXXX.tmp`` in the same directory, then renamed onto the name. A failed or
  interrupted run (an error, Ctrl-C, SIGTERM, SIGHUP) leaves the previous file (if any)
  byte-identical and no temporary file behind. The temporary name is short, so any name
  the file system accepts works.
- a symbolic link: the same, at the file the link points to (its temporary file in that
  file's directory); the link itself stays.
- a character device (``/dev/null``) or a FIFO: opened and written in place, never replaced
  (so ``--save-weights /dev/null`` run as root leaves /dev/null a device). Such a stream
  cannot be taken back: like stdout, whatever was written stays if a later step fails.
- anything else (a directory, a socket, a block device): refused with a clear error.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gatcli.errors import GatError, StdoutError

STDIO = "-"
#: the temporary file of an output being written (in the output's directory)
TEMP_PREFIX, TEMP_SUFFIX = ".gat-", ".tmp"
#: signals that end a run through the same clean-up as Ctrl-C (see gatcli.cli.signals)
ENDING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                       if hasattr(signal, name))
WRITABLE_KINDS = "regular files, character devices (e.g. /dev/null) and FIFOs"


@dataclass(frozen=True)
class OutputTarget:
    """How an output path is written.

    kind: ``"stdout"``; ``"file"`` (a regular file, replaced atomically: ``file`` is the
    path to create or replace, symbolic links resolved); or ``"stream"`` (a character
    device or FIFO, opened and written in place).
    """

    path: str
    kind: str
    file: Path | None = None


def output_target(path: str) -> OutputTarget:
    """Classify the output ``path``; a path that cannot be an output raises GatError."""
    if path == STDIO:
        return OutputTarget(path, "stdout")
    if path == "":
        raise GatError("the output file name is empty; give a file name or - for stdout")
    if "\0" in path:
        raise GatError("the output file name contains a NUL byte", repr(path))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        # a new file, or a symbolic link whose target does not exist yet: create the target
        file = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
        directory = file.parent if str(file.parent) else Path(".")
        if not directory.is_dir():
            raise GatError(f"output directory {str(directory)!r} does not exist",
                           path) from None
        return OutputTarget(path, "file", file)
    except NotADirectoryError:
        raise GatError("a part of the output path is a file, not a directory", path) from None
    except OSError as exc:  # a loop of symbolic links, a name too long, no search permission
        raise GatError(f"cannot use as an output: {exc.strerror or exc}", path) from None
    mode = info.st_mode
    if stat.S_ISREG(mode):
        if not os.path.islink(path):
            return OutputTarget(path, "file", Path(path))
        file = Path(os.path.realpath(path))
        try:
            same = os.path.samestat(os.stat(file), info)
        except OSError:
            same = False
        # a link the kernel resolves itself (/proc/self/fd/N) may name no path: write in place
        return OutputTarget(path, "file", file) if same else OutputTarget(path, "stream")
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return OutputTarget(path, "stream")
    if stat.S_ISDIR(mode):
        raise GatError("is a directory, expected an output file path", path)
    kind = ("a socket" if stat.S_ISSOCK(mode) else "a block device" if stat.S_ISBLK(mode)
            else "not a regular file")
    raise GatError(f"is {kind}; refusing to write to it (gat writes {WRITABLE_KINDS})", path)


def check_output_path(path: str, inputs: Sequence[str] = (),
                      outputs: Sequence[str] = ()) -> None:
    """Refuse an output that cannot be written, would overwrite one of the ``inputs``, or
    is also another of this run's ``outputs`` (before any work is done)."""
    target = output_target(path)
    if target.kind != "file":
        return  # stdout, a device or a FIFO: written in place, nothing is replaced
    file = target.file
    assert file is not None
    directory = file.parent if str(file.parent) else Path(".")
    if not os.access(directory, os.W_OK):
        raise GatError(f"no permission to write in {str(directory)!r}", path)
    if file.exists() and not os.access(file, os.W_OK):
        raise GatError("no permission to write: the file is read-only", path)
    for source in inputs:
        if source and source != STDIO and file.exists():
            with contextlib.suppress(OSError):
                if os.path.samefile(source, file):
                    raise GatError(f"output would overwrite the input {source!r}; refusing",
                                   path)
    for other in outputs:
        if not other or other == STDIO:
            continue
        try:
            other_target = output_target(other)
        except GatError:
            continue
        if other_target.kind == "file" and other_target.file is not None and (
                other_target.file.resolve() == file.resolve()):
            raise GatError(f"the same file is given for two outputs ({other!r}); refusing",
                           path)


#: temporary files kept for renaming when the innermost ``atomic_outputs`` block ends
_groups: list[list[tuple[str, Path]]] = []
#: every temporary file that exists now (created, not yet renamed or removed)
_live: set[str] = set()


def remove_temporaries() -> None:
    """Remove every temporary output file of this process that still exists (the last
    clean-up of an interrupted run, whichever instruction the signal arrived at)."""
    with _signals_deferred():
        for tmp in sorted(_live):
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        _live.clear()


def _discard(tmp: str) -> None:
    with _signals_deferred():
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        _live.discard(tmp)


@contextlib.contextmanager
def atomic_outputs() -> Iterator[None]:
    """Several outputs that appear together or not at all.

    Inside this block every :func:`atomic_writer` of a regular file keeps its finished
    temporary file; all of them are renamed into place when the block ends without error,
    and all are removed if it raises (a bad value found late, a full disk, Ctrl-C, SIGTERM).
    A closed stdout (BrokenPipeError, or the CLI's StdoutError for a closed pipe) still
    commits the files finished so far: the reader of stdout went away, the files were
    written completely. (Devices and FIFOs are
    streams, written as the block goes, like stdout.)
    """
    group: list[tuple[str, Path]] = []
    _groups.append(group)
    try:
        yield
        with _signals_deferred():
            _groups.remove(group)
            _rename_all(group)
    except (BrokenPipeError, StdoutError) as exc:
        # the reader of stdout went away: the files are complete, keep them; any other
        # failure to write stdout fails the run
        finished = isinstance(exc, BrokenPipeError) or exc.broken_pipe
        with _signals_deferred():
            if group in _groups:
                _groups.remove(group)
            if finished:
                _rename_all(group)
            else:
                for tmp, _ in group:
                    _discard(tmp)
        raise
    except BaseException:
        with _signals_deferred():
            if group in _groups:
                _groups.remove(group)
            for tmp, _ in group:
                _discard(tmp)
        raise


#: depth of nested ``_signals_deferred`` blocks, and the interrupt that arrived meanwhile
_deferring = 0
_pending: list[BaseException] = []


def defer_interrupt(interrupt: BaseException) -> bool:
    """Called by a signal handler: keep ``interrupt`` (KeyboardInterrupt, Terminated) for
    the end of the current critical section and return True, or return False when none
    is running (the handler then raises it at once)."""
    if _deferring:
        if not _pending:
            _pending.append(interrupt)
        return True
    return False


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold back SIGINT, SIGTERM and SIGHUP for a few system calls: they are delivered (as
    KeyboardInterrupt or :class:`gatcli.cli.signals.Terminated`) right after the block, so
    a temporary file is never created without being known to the code that removes it,
    and a group of renames is never cut in half.

    Two guards: the signals are blocked in this thread, and a handler that runs anyway (a
    process signal may be taken by another thread, e.g. a BLAS worker, and Python then
    runs the handler in the main thread at once) defers through :func:`defer_interrupt`.
    """
    global _deferring
    main = threading.current_thread() is threading.main_thread()
    previous = None
    if main and hasattr(signal, "pthread_sigmask"):
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(ENDING_SIGNALS))
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        if not _deferring and _pending:
            interrupt = _pending.pop()
            raise interrupt


def _rename_all(group: list[tuple[str, Path]]) -> None:
    """Rename every temporary file of ``group`` onto its target (call with signals
    deferred); on a failure the rest are removed."""
    for k, (tmp, target) in enumerate(group):
        try:
            os.replace(tmp, target)
            _live.discard(tmp)
        except OSError as exc:
            for rest, _ in group[k:]:
                _discard(rest)
            raise GatError(f"could not write: {exc.strerror or exc}", str(target)) from exc


def _make_temp(directory: Path, path: str) -> tuple[int, str]:
    """(fd, name) of a new temporary file in ``directory``."""
    try:
        return tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=directory)
    except FileNotFoundError:
        raise GatError(f"output directory {str(directory)!r} does not exist", path) from None
    except PermissionError:
        raise GatError(f"no permission to write in {str(directory)!r}", path) from None
    except OSError as exc:
        raise GatError(f"could not create a file in {str(directory)!r}: "
                       f"{exc.strerror or exc}", path) from None


def _open_temp(fd: int) -> BinaryIO:
    """The binary file object of a new temporary file (a seam for simulating write errors)."""
    return os.fdopen(fd, "wb")


def _open_stream(path: str) -> BinaryIO:
    """A device or FIFO opened for writing in place (a FIFO waits here for its reader)."""
    flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.ftruncate(fd, 0)
    except OSError as exc:
        raise GatError(f"could not open for writing: {exc.strerror or exc}", path) from None
    return os.fdopen(fd, "wb")


@contextlib.contextmanager
def atomic_writer(path: str) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces ``path`` only if the block succeeds
    (inside :func:`atomic_outputs`: only if that whole block succeeds). A device or FIFO
    is written in place and stdout (``-``) directly; see the module docstring."""
    target = output_target(path)
    if target.kind == "stdout":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    if target.kind == "stream":
        try:
            with _open_stream(path) as handle:
                yield handle
                handle.flush()
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):  # a FIFO's reader went away, as | head
                raise
            raise GatError(f"could not write: {exc.strerror or exc}", path) from exc
        return
    file = target.file
    assert file is not None
    directory = file.parent if str(file.parent) else Path(".")
    tmp = None
    try:
        with _signals_deferred():  # a signal now arrives only once ``tmp`` is known
            fd, tmp = _make_temp(directory, path)
            _live.add(tmp)
        with _open_temp(fd) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if file.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, file.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        with _signals_deferred():
            if _groups:
                _groups[-1].append((tmp, file))
            else:
                os.replace(tmp, file)
                _live.discard(tmp)
            tmp = None  # from here on the group (or nobody) owns it
    except BaseException as exc:
        if tmp is not None:
            _discard(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            raise GatError(f"could not write: {exc.strerror or exc}", path) from exc
        raise
