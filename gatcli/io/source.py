"""Opening inputs: files or stdin, gzip, and numpy's binary containers.

The one place where readers open files, so every OS error names the file and what was
expected there.
"""

from __future__ import annotations

import gzip
import io
import sys
import tokenize
import zipfile
import zlib
from collections.abc import Callable
from typing import BinaryIO

import numpy as np

from gatcli.errors import GatError
from gatcli.io.formats import STDIO, describe_magic, strip_gz
from gatcli.io.numpy_files import (
    CHUNK_BYTES,
    NPY_MAGIC,
    NpzArchive,
    load_arrays,
    read_up_to,
)
from gatcli.io.numpy_files import open_binary as open_seekable
from gatcli.model import limits
from gatcli.model.limits import human_bytes

GZIP_MAGIC = b"\x1f\x8b"

#: what numpy's .npy/.npz loading raises on a corrupt file (a damaged header is parsed
#: with Python's tokenizer, a damaged archive by zipfile and zlib)
LOAD_ERRORS = (ValueError, OSError, EOFError, KeyError, OverflowError, SyntaxError,
               tokenize.TokenError, NotImplementedError, zipfile.BadZipFile, zlib.error)


def display_name(path: str) -> str:
    return "<stdin>" if path == STDIO else str(path)


class _Unbuffered(io.RawIOBase):
    """A raw view of a binary stream (for wrapping a stdin without ``peek``)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


_STDIN: dict[int, BinaryIO] = {}


def stdin_stream() -> BinaryIO:
    """The binary stdin, buffered so that its first bytes can be peeked at."""
    raw = sys.stdin.buffer
    if hasattr(raw, "peek"):
        return raw
    key = id(raw)
    if key not in _STDIN:
        _STDIN.clear()
        _STDIN[key] = io.BufferedReader(_Unbuffered(raw))
    return _STDIN[key]


#: binary formats recognised on stdin by their first bytes (stdin has no name)
STDIN_MAGIC = {"features": ((NPY_MAGIC, "npy"), (b"PAR1", "parquet")),
               "graph": ((b"PK\x03\x04", "npz"), (b"%%MatrixMarket", "mtx"),
                         (b"\xef\xbb\xbf%%MatrixMarket", "mtx"), (b"PAR1", "parquet"))}


def stdin_kind(path: str, role: str) -> str:
    """The format of stdin from its first bytes: a binary format of ``role`` ('features'
    or 'graph') or 'text' (a text table whose delimiter is guessed)."""
    head = stdin_stream().peek(16)[:16]
    for magic, kind in STDIN_MAGIC[role]:
        if head.startswith(magic):
            return kind
    return "text"


def open_input(path: str, what: str) -> BinaryIO:
    """``path`` opened for binary reading; every OS error becomes a :class:`GatError`.

    The one place where readers open files, so a failure names the file and what was
    expected there. Stdin (``-``) is read whole (binary formats need to seek).
    """
    if path == STDIO:
        return io.BytesIO(stdin_stream().read())
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        raise GatError(f"no such file; expected {what}", path) from None
    except IsADirectoryError:
        raise GatError(f"is a directory; expected {what}", path) from None
    except PermissionError:
        raise GatError(f"permission denied: cannot read {what}", path) from None
    except OSError as exc:
        raise GatError(f"cannot read: {exc.strerror or exc}", path) from None


def open_binary(path: str, what: str) -> BinaryIO:
    """A seekable handle on a binary input (``.npy``, ``.npz``): a regular file, or stdin, a
    FIFO or a device read once and kept (see :func:`gatcli.io.numpy_files.open_binary`)."""
    return open_seekable(path, what, open_input, stdin_stream)


def load_numpy(handle: BinaryIO, name: str, what: str,
               inspect: Callable[[NpzArchive], None] | None = None
               ) -> np.ndarray | dict[str, np.ndarray]:
    """The array of an .npy file, or every array of an .npz archive, from an open seekable
    file; no pickles, every header checked against the data behind it and the memory
    before anything is allocated (:mod:`gatcli.io.numpy_files`), and a damaged file is a
    :class:`GatError` naming ``name`` (and the member). ``inspect(archive)`` may refuse an
    archive's member names or shapes before any array is loaded."""
    return load_arrays(handle, name, what, inspect)


def read_bytes(path: str, what: str, limit: int | None = None,
               too_large: str | None = None) -> bytes:
    """The raw (gunzipped) bytes of a text input read whole, ``path`` or stdin; ``what``
    names the expected content.

    Read and decompressed in chunks, and refused (with ``too_large``, or a message naming
    the memory) as soon as there are more than ``limit`` bytes, by default a quarter of the
    memory available: a gzip bomb of 3 MB that expands to 3 GB is never expanded. NUL bytes
    in decompressed data stop the decompression at once: text has none.
    """
    name = display_name(path)
    cap = limit if limit is not None else limits.available_memory() // 4
    if path == STDIO:
        raw = read_up_to(stdin_stream(), cap + 1, name, what)
    else:
        with open_input(path, what) as handle:
            raw = read_up_to(handle, cap + 1, name, what)
    data = raw if len(raw) <= cap else None
    named_gz = strip_gz(str(path))[1]
    gzipped = data is not None and data.startswith(GZIP_MAGIC)
    if gzipped:
        data = _gunzip(data, cap + 1, name, what)
    elif named_gz and data is not None:
        raise GatError("the name ends in .gz but the content is not gzip data", name)
    if data is None:
        if too_large is None:
            unpacked = " once decompressed" if gzipped else ""
            too_large = (f"more than {human_bytes(cap)} of text{unpacked} (a quarter of the "
                         f"memory available), too much for {what}, which is read whole")
        raise GatError(too_large, name)
    return data


def _gunzip(data: bytes, size: int, name: str, what: str) -> bytes | None:
    """gzip ``data`` decompressed (all members) if that makes fewer than ``size`` bytes,
    else None; a chunk at a time, NUL bytes (binary data) stop it at once."""
    parts: list[bytes] = []
    left = size
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            while left > 0:
                chunk = stream.read(min(CHUNK_BYTES, left))
                if not chunk:
                    break
                if b"\x00" in chunk:
                    raise GatError(f"binary data (NUL bytes); expected {what}", name)
                parts.append(chunk)
                left -= len(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise GatError(f"corrupt or truncated gzip data ({exc})", name) from None
    return b"".join(parts) if left > 0 else None



def not_this_format(head: bytes, what: str) -> str:
    """The message for a binary file whose first bytes ``head`` are not the expected kind."""
    if not head:
        return f"empty file; expected {what}"
    kind = describe_magic(head)
    if kind is None and all(b >= 32 or b in b"\t\n\r" for b in head):
        kind = "text"
    if kind is None:
        return f"unrecognised binary data; expected {what}"
    return f"this is {kind}, not {what}; check the file name's extension"
