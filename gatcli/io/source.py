"""Opening inputs: files or stdin, gzip, and numpy's binary containers.

The one place where readers open files, so every OS error names the file and what was
expected there.
"""

from __future__ import annotations

import gzip
import io
import sys
import tokenize
import warnings
import zipfile
import zlib
from typing import BinaryIO

import numpy as np

from gatcli.errors import GatError
from gatcli.io.formats import STDIO, describe_magic, strip_gz

GZIP_MAGIC = b"\x1f\x8b"
NPY_MAGIC = b"\x93NUMPY"

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


def load_numpy(handle: BinaryIO, name: str, what: str) -> np.ndarray | dict[str, np.ndarray]:
    """The array of an .npy file, or every array of an .npz archive, from an open file;
    no pickles, and a damaged file is a :class:`GatError` naming ``name``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. numpy's note on Python 2 headers
            loaded = np.load(handle, allow_pickle=False)
            if isinstance(loaded, np.lib.npyio.NpzFile):
                with loaded:
                    return {key: loaded[key] for key in loaded.files}
            return loaded
    except LOAD_ERRORS as exc:
        raise GatError(f"damaged or unreadable data ({exc}); expected {what}", name) from None


def read_bytes(path: str, what: str) -> bytes:
    """The raw (gunzipped) bytes of ``path`` or stdin; ``what`` names the expected content."""
    name = display_name(path)
    if path == STDIO:
        data = stdin_stream().read()
    else:
        with open_input(path, what) as handle:
            try:
                data = handle.read()
            except OSError as exc:  # e.g. EISDIR on some systems, EIO
                raise GatError(f"cannot read: {exc.strerror or exc}", name) from None
    named_gz = strip_gz(str(path))[1]
    if data.startswith(GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise GatError(f"corrupt or truncated gzip data ({exc})", name) from None
    elif named_gz:
        raise GatError("the name ends in .gz but the content is not gzip data", name)
    return data



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
