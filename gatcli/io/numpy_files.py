"""numpy's binary containers (``.npy``, ``.npz``) read with every claim checked first.

An ``.npy`` header states a shape and a dtype; numpy allocates that much before it reads
the data. Here the header is read on its own and its claim compared, before anything is
allocated, with what can back it:

- the bytes that follow the header (the file's size, or an ``.npz`` member's size): a
  larger claim is a damaged or hostile header;
- the memory available (:func:`gatcli.model.limits.available_memory`), for arrays read
  into memory;
- Python objects (pickles) are never loaded, encrypted or non-``.npy`` members are refused.

Every refusal is a :class:`GatError` naming the file (and the member of an ``.npz``) and
saying what is too large and where the size came from.
"""

from __future__ import annotations

import io
import math
import os
import stat
import struct
import tokenize
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from gatcli.errors import GatError
from gatcli.model import limits
from gatcli.model.limits import human_bytes

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
PARQUET_MAGIC = b"PAR1"
#: numpy's own bound on the header text (its ``max_header_size``)
MAX_HEADER_BYTES = 10_000
#: errors of a damaged zip archive or member (decompression, CRC, unknown methods)
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
              NotImplementedError, struct.error, OverflowError)
#: bytes read at a time from a stream that is not a regular file
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class NpyHeader:
    """What an ``.npy`` header claims: ``shape``, ``dtype``, Fortran order, and ``offset``,
    the bytes before the data (magic, version, header)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int

    @property
    def count(self) -> int:
        """Number of values (exact, whatever the size)."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize

    def describe(self) -> str:
        """``shape (10, 3) of float64 (240 bytes)``, for messages."""
        shape = self.shape if len(self.shape) != 1 else f"({self.shape[0]},)"
        return f"shape {shape} of {self.dtype} ({human_bytes(self.nbytes)})"


def _read_exactly(stream: BinaryIO, size: int, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise ValueError(f"the file ends inside the {what}")
    return data


def read_npy_header(stream: BinaryIO, where: str) -> NpyHeader:
    """The header of the ``.npy`` starting at the stream's position, read without reading
    the data; a damaged header is a :class:`GatError` at ``where``."""
    try:
        prefix = _read_exactly(stream, 8, "magic string")
        if not prefix.startswith(NPY_MAGIC):
            raise ValueError("no .npy magic string")
        major = prefix[6]
        if major not in (1, 2, 3):
            raise ValueError(f"unknown .npy format version {major}.{prefix[7]}")
        length_format = "<H" if major == 1 else "<I"
        length_bytes = _read_exactly(stream, struct.calcsize(length_format), "header length")
        length = struct.unpack(length_format, length_bytes)[0]
        if length > MAX_HEADER_BYTES:
            raise ValueError(f"a header of {length} bytes (at most {MAX_HEADER_BYTES})")
        text = _read_exactly(stream, length, "header")
        read = (np.lib.format.read_array_header_1_0 if major == 1
                else np.lib.format.read_array_header_2_0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy's note on Python 2 headers
            shape, fortran_order, dtype = read(io.BytesIO(length_bytes + text))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, KeyError,
            IndexError, OverflowError, UnicodeDecodeError, tokenize.TokenError) as exc:
        raise GatError(f"damaged .npy header ({_short(exc)})", where) from None
    except ZIP_ERRORS as exc:
        raise GatError(f"damaged data ({_short(exc)})", where) from None
    if any(d < 0 for d in shape):
        raise GatError(f"damaged .npy header (negative size in shape {shape})", where)
    return NpyHeader(tuple(shape), dtype, fortran_order, len(prefix) + len(length_bytes)
                     + length)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def check_header(header: NpyHeader, data_bytes: int, where: str, *,
                 in_memory: bool = True) -> None:
    """Refuse a header that claims more than the ``data_bytes`` that follow it, Python
    objects, or (``in_memory``) more than the memory available."""
    if header.dtype.hasobject:
        raise GatError(f"the array holds Python objects (dtype {header.dtype}, a pickle), "
                       "which gat never loads; expected numbers", where)
    if header.nbytes > data_bytes:
        raise GatError(f"the header claims {header.describe()}, but only "
                       f"{human_bytes(max(data_bytes, 0))} of data follow it: the file is "
                       "damaged or truncated", where)
    if in_memory:
        check_memory(header.nbytes, f"the array of {header.describe()}", where)


def check_memory(need: int, what: str, where: str) -> None:
    """Refuse to read ``need`` bytes into memory when more than the memory available."""
    memory = limits.available_memory()
    if need > memory:
        raise GatError(f"{what} is more than the {human_bytes(memory)} of memory available",
                       where)


def _size_of(handle: BinaryIO) -> int:
    position = handle.tell()
    size = handle.seek(0, io.SEEK_END)
    handle.seek(position)
    return size


def load_npy(handle: BinaryIO, name: str) -> np.ndarray:
    """The array of the ``.npy`` in a seekable ``handle`` (at its start), its header checked
    against the file's size and the memory first."""
    size = _size_of(handle)
    header = read_npy_header(handle, name)
    check_header(header, size - header.offset, name)
    handle.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy's note on Python 2 headers, checked above
            return np.lib.format.read_array(handle, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise GatError(f"damaged or unreadable .npy data ({_short(exc)})", name) from None


def map_npy(path: str) -> np.ndarray | None:
    """A regular ``.npy`` file memory-mapped read-only (pages read as they are used), its
    header checked against the file's size; None when it cannot be mapped (an address
    space limit, an unusual layout): then it is read into memory."""
    with open(path, "rb") as handle:
        header = read_npy_header(handle, path)
        size = os.fstat(handle.fileno()).st_size
    check_header(header, size - header.offset, path, in_memory=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy's note on Python 2 headers, checked above
            return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, MemoryError):
        return None


class NpzArchive:
    """The members of an ``.npz`` archive, every header read (and checked against its
    member's size) when it is opened, no data loaded until :meth:`load`.

    ``headers``: member key (the name without ``.npy``) -> :class:`NpyHeader`.
    """

    def __init__(self, handle: BinaryIO, name: str, what: str) -> None:
        self.name, self.what = name, what
        try:
            self.zip = zipfile.ZipFile(handle)
        except ZIP_ERRORS as exc:
            raise GatError(f"damaged zip archive ({_short(exc)}); expected {what}",
                           name) from None
        self.headers: dict[str, NpyHeader] = {}
        self.infos: dict[str, zipfile.ZipInfo] = {}
        try:
            for info in self.zip.infolist():
                self._add(info)
        except BaseException:
            self.zip.close()
            raise

    def where(self, key: str) -> str:
        """``file: member 'key'``, for messages."""
        return f"{self.name}: member {key!r}"

    def _add(self, info: zipfile.ZipInfo) -> None:
        member = info.filename
        where = f"{self.name}: member {member!r}"
        if not member.endswith(".npy"):
            raise GatError(f"not a numpy array (.npy); an .npz holds .npy members only, "
                           f"expected {self.what}", where)
        key = member[:-4]
        if key in self.headers:
            raise GatError("the archive holds two members of this name", where)
        if info.flag_bits & 0x1:
            raise GatError("encrypted (password-protected); gat reads unencrypted .npz "
                           "archives only", self.where(key))
        try:
            with self.zip.open(info) as stream:
                header = read_npy_header(stream, self.where(key))
        except ZIP_ERRORS as exc:
            raise GatError(f"damaged zip member ({_short(exc)})", self.where(key)) from None
        check_header(header, info.file_size - header.offset, self.where(key),
                     in_memory=False)
        self.headers[key] = header
        self.infos[key] = info

    def load(self, key: str) -> np.ndarray:
        """The array of member ``key`` (its size checked against the memory first)."""
        header = self.headers[key]
        check_memory(header.nbytes, f"the array of {header.describe()}", self.where(key))
        try:
            with self.zip.open(self.infos[key]) as stream, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy's note on Python 2 headers
                return np.lib.format.read_array(stream, allow_pickle=False)
        except (*ZIP_ERRORS, RuntimeError) as exc:
            raise GatError(f"damaged or unreadable data ({_short(exc)})",
                           self.where(key)) from None

    def load_all(self) -> dict[str, np.ndarray]:
        """Every member, once their total size is known to fit in memory."""
        total = sum(h.nbytes for h in self.headers.values())
        if self.headers:
            largest = max(self.headers, key=lambda k: self.headers[k].nbytes)
            memory = limits.available_memory()
            if total > memory:
                raise GatError(
                    f"the members hold {human_bytes(total)} (the largest, {largest!r}, "
                    f"{self.headers[largest].describe()}), more than the "
                    f"{human_bytes(memory)} of memory available", self.name)
        return {key: self.load(key) for key in self.headers}

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_arrays(handle: BinaryIO, name: str, what: str,
                inspect: Callable[[NpzArchive], None] | None = None
                ) -> np.ndarray | dict[str, np.ndarray]:
    """The array of an ``.npy``, or every array of an ``.npz``, from a seekable ``handle``
    at its start; ``inspect(archive)`` sees an archive's headers (and may load small
    members) before the arrays are loaded, to refuse names or shapes first."""
    head = handle.read(8)
    handle.seek(0)
    if head.startswith(NPY_MAGIC):
        return load_npy(handle, name)
    if head.startswith(b"PK"):
        with NpzArchive(handle, name, what) as archive:
            if inspect is not None:
                inspect(archive)
            return archive.load_all()
    raise GatError(f"neither an .npy array nor an .npz archive; expected {what}", name)


# -- inputs that are not regular files (stdin, FIFOs, devices) ---------------------------

#: the bytes of FIFOs and devices read in this command, by (device, inode)
_SPOOLED: dict[tuple[int, int], bytes] = {}


def forget_spooled() -> None:
    """Drop the inputs kept by :func:`open_binary` (at the end of a command)."""
    _SPOOLED.clear()


def spool(stream: BinaryIO, name: str, what: str) -> bytes:
    """The bytes of a stream that cannot seek (a pipe, a FIFO, a device), read once: an
    ``.npy`` up to the end of the data its header announces (checked against the memory
    first), a zip archive (``.npz``) or a Parquet file up to half the memory available,
    anything else only its first bytes (enough for the caller to say what it is)."""
    head = stream.read(8)
    if head.startswith(NPY_MAGIC):
        source = _Chained(head, stream)
        header = read_npy_header(source, name)
        check_header(header, header.nbytes, name)
        return source.consumed + read_up_to(stream, header.nbytes, name, what)
    if not head.startswith((ZIP_MAGIC, PARQUET_MAGIC)):
        return head  # none of the binary inputs: the caller names what it is
    limit = limits.available_memory() // 2
    data = head + read_up_to(stream, limit + 1, name, what)
    if len(data) > limit:
        raise GatError(f"more than {human_bytes(limit)} of data (half the memory "
                       f"available) from a stream that cannot seek; expected {what}", name)
    return data


def read_up_to(stream: BinaryIO, size: int, name: str, what: str) -> bytes:
    """Up to ``size`` bytes of ``stream``, a chunk at a time (a ``read(size)`` of a huge
    ``size`` would allocate it at once); read errors and running out of memory are
    :class:`GatError` naming ``name`` (and ``what`` was expected)."""
    parts: list[bytes] = []
    left = size
    try:
        while left > 0:
            data = stream.read(min(CHUNK_BYTES, left))
            if not data:
                break
            parts.append(data)
            left -= len(data)
    except OSError as exc:
        raise GatError(f"cannot read: {exc.strerror or exc}", name) from None
    except MemoryError:
        raise GatError(f"out of memory while reading {what}", name) from None
    return b"".join(parts)


class _Chained(io.RawIOBase):
    """``head`` then ``stream``, remembering what was read (for an .npy header)."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head, self.stream, self.consumed = head, stream, b""

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            raise ValueError("read the header by sizes")
        data = self.head[:size]
        self.head = self.head[len(data):]
        if len(data) < size:
            data += self.stream.read(size - len(data))
        self.consumed += data
        return data


def open_binary(path: str, what: str, opener: Callable[[str, str], BinaryIO],
                stdin: Callable[[], BinaryIO]) -> BinaryIO:
    """A seekable handle on a binary input: a regular file opened, or stdin, a FIFO or a
    device read once (see :func:`spool`; a FIFO's content is kept, so a second reader of
    the same path gets the same bytes instead of waiting for a writer that is gone)."""
    if path == "-":
        return io.BytesIO(spool(stdin(), "<stdin>", what))
    try:
        before = os.stat(path)  # (does not wait for a FIFO's writer, unlike open)
    except OSError:
        before = None  # the opener names the problem
    if before is not None and (before.st_dev, before.st_ino) in _SPOOLED:
        return io.BytesIO(_SPOOLED[before.st_dev, before.st_ino])
    handle = opener(path, what)
    try:
        info = os.fstat(handle.fileno())
    except (OSError, AttributeError, io.UnsupportedOperation):
        return handle
    if stat.S_ISREG(info.st_mode):
        return handle
    key = (info.st_dev, info.st_ino)
    with handle:
        if key not in _SPOOLED:
            _SPOOLED[key] = spool(handle, path, what)
    return io.BytesIO(_SPOOLED[key])
