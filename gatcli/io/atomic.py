"""Atomic output: write to a temporary file beside the target, then rename over it.

A failed or interrupted run leaves the previous file (if any) byte-identical and no
temporary file behind. ``-`` writes to standard output instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from gatcli.errors import GatError

STDIO = "-"


def check_output_path(path: str, inputs: list[str] = ()) -> None:
    """Refuse an output that cannot be written or would overwrite one of the inputs."""
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
    for source in inputs:
        if source and source != STDIO and Path(source).exists() and target.exists():
            if os.path.samefile(source, target):
                raise GatError(f"output would overwrite the input {source!r}; refusing", path)


@contextlib.contextmanager
def atomic_writer(path: str) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces ``path`` only if the block succeeds."""
    if path == STDIO:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except FileNotFoundError:
        raise GatError(f"output directory {str(directory)!r} does not exist", path) from None
    except PermissionError:
        raise GatError(f"no permission to write in {str(directory)!r}", path) from None
    try:
        with os.fdopen(fd, "wb") as handle:
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
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            raise GatError(f"could not write: {exc.strerror or exc}", path) from exc
        raise
