"""Atomic output: write to a temporary file beside the target, then rename over it.

A failed or interrupted run leaves the previous file (if any) byte-identical and no
temporary file behind. ``-`` writes to standard output instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from gatcli.errors import GatError

STDIO = "-"


def check_output_path(path: str, inputs: Sequence[str] = (),
                      outputs: Sequence[str] = ()) -> None:
    """Refuse an output that cannot be written, would overwrite one of the ``inputs``, or
    is also another of this run's ``outputs``."""
    if path == STDIO:
        return
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise GatError("is a directory, expected an output file path", path)
    if not parent.is_dir():
        raise GatError(f"output directory {str(parent)!r} does not exist", path)
    if not os.access(parent, os.W_OK):
        raise GatError(f"no permission to write in {str(parent)!r}", path)
    if target.exists() and not os.access(target, os.W_OK):
        raise GatError("no permission to write: the file is read-only", path)
    for source in inputs:
        if source and source != STDIO and Path(source).exists() and target.exists():
            if os.path.samefile(source, target):
                raise GatError(f"output would overwrite the input {source!r}; refusing", path)
    for other in outputs:
        if other and other != STDIO and Path(other).resolve() == target.resolve():
            raise GatError(f"the same file is given for two outputs ({other!r}); refusing",
                           path)


#: temporary files kept for renaming when the innermost ``atomic_outputs`` block ends
_groups: list[list[tuple[str, Path]]] = []


@contextlib.contextmanager
def atomic_outputs() -> Iterator[None]:
    """Several outputs that appear together or not at all.

    Inside this block every :func:`atomic_writer` keeps its finished temporary file; all of
    them are renamed into place when the block ends without error, and all are removed if
    it raises (a bad value found late, a full disk, Ctrl-C). A closed stdout
    (BrokenPipeError) still commits the files finished so far: the reader of stdout went
    away, the files were written completely.
    """
    group: list[tuple[str, Path]] = []
    _groups.append(group)
    try:
        yield
    except BrokenPipeError:
        _groups.pop()
        _commit(group)
        raise
    except BaseException:
        _groups.pop()
        for tmp, _ in group:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    _groups.pop()
    _commit(group)


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold back SIGINT for a few system calls: it is delivered (as KeyboardInterrupt) right
    after the block, so a temporary file is never created without being known to the code
    that removes it, and a group of renames is never cut in half."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
            signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _commit(group: list[tuple[str, Path]]) -> None:
    with _ctrl_c_deferred():
        _rename_all(group)


def _rename_all(group: list[tuple[str, Path]]) -> None:
    for k, (tmp, target) in enumerate(group):
        try:
            os.replace(tmp, target)
        except OSError as exc:
            for rest, _ in group[k:]:
                with contextlib.suppress(OSError):
                    os.unlink(rest)
            raise GatError(f"could not write: {exc.strerror or exc}", str(target)) from exc


def _make_temp(target: Path, directory: Path, path: str) -> tuple[int, str]:
    """(fd, name) of a new temporary file beside ``target``."""
    try:
        return tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
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


@contextlib.contextmanager
def atomic_writer(path: str) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces ``path`` only if the block succeeds
    (inside :func:`atomic_outputs`: only if that whole block succeeds)."""
    if path == STDIO:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    tmp = None
    try:
        with _ctrl_c_deferred():  # a Ctrl-C now arrives only once ``tmp`` is known
            fd, tmp = _make_temp(target, directory, path)
        with _open_temp(fd) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, target.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        if _groups:
            _groups[-1].append((tmp, target))
        else:
            os.replace(tmp, target)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            raise GatError(f"could not write: {exc.strerror or exc}", path) from exc
        raise
