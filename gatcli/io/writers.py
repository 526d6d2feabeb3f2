"""Writers for embeddings and attention: the format of an output, checked before any work,
and one small function per kind of output. Every file is written atomically
(:mod:`gatcli.io.atomic`); each format family lives in its own module:

=============  ===========================================  ==============================
format         embeddings                                   attention
=============  ===========================================  ==============================
csv, tsv       ``id,h0,...`` (:mod:`.text_out`)             ``layer,head,target,source,alpha``
jsonl          ``{"id": ..., "embedding": [...]}`` per line  --
w2v            word2vec text, ``N D`` first (:mod:`.word2vec`)  --
npy            (N, C) array, no ids (:mod:`.numpy_out`)     --
npz            ``embeddings`` (N, C) + ``ids`` (N,)          ``ids`` + CSR arrays per layer, head
parquet        id column + ``h0..`` (:mod:`.parquet_out`)   the CSV's columns
=============  ===========================================  ==============================

Text formats may be gzip-compressed (``.csv.gz``, ``--format csv -o x.gz``). Numbers are
written in the shortest form that reads back to the same float. ``ids``: the ids as read
(strings), or integers (node rows, when the features had no id column), or None for rows
0..N-1.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import queue
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import BinaryIO

import numpy as np

from gatcli.errors import GatError
from gatcli.graph import Graph
from gatcli.io.atomic import STDIO, atomic_writer, output_target
from gatcli.io.json_lines import write_embeddings_jsonl
from gatcli.io.numpy_out import (
    NpzStream,
    attention_matrices,
    read_attention_npz,
    write_embeddings_npy,
    write_embeddings_npz,
)
from gatcli.io.parquet_out import AttentionParquet, polars_for_parquet, write_embeddings_parquet
from gatcli.io.text_out import (
    Texts,
    id_texts,
    write_attention_header,
    write_attention_rows,
    write_embeddings_text,
)
from gatcli.io.word2vec import check_word2vec_ids, write_embeddings_word2vec

__all__ = ["ATTENTION_FORMATS", "EMBEDDING_FORMATS", "AttentionWriter", "OutputFormat",
           "attention_format", "check_finite_output", "check_ids_for_format",
           "embeddings_format", "npy_drops_ids", "read_attention_npz", "write_attention",
           "write_embeddings"]

EMBEDDING_FORMATS = ("csv", "tsv", "jsonl", "w2v", "npy", "npz", "parquet")
ATTENTION_FORMATS = ("csv", "tsv", "npz", "parquet")
TEXT_FORMATS = ("csv", "tsv", "jsonl", "w2v")
SEPARATORS = {"csv": ",", "tsv": "\t"}
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
              ".emb": "w2v", ".w2v": "w2v", ".npy": "npy", ".npz": "npz",
              ".parquet": "parquet"}


@dataclass(frozen=True)
class OutputFormat:
    """name: one of EMBEDDING_FORMATS / ATTENTION_FORMATS; gzip: compress the text."""

    name: str
    gzip: bool = False


def _extensions(formats: Sequence[str]) -> str:
    """``.csv, .tsv, ...`` for the formats (their first extension each)."""
    names = [next(ext for ext, fmt in EXTENSIONS.items() if fmt == name) for name in formats]
    return ", ".join(names) + " (text formats also .gz)"


def _resolve(path: str, fmt: str | None, formats: Sequence[str], what: str) -> OutputFormat:
    """The format of output ``path``: ``fmt`` if given, else from the extension (a stream
    such as /dev/null or a FIFO without a known extension, and stdout, mean CSV)."""
    if fmt is not None and fmt not in formats:
        raise GatError(f"unknown {what} format {fmt!r}; expected one of {', '.join(formats)}")
    compressed = path != STDIO and path.lower().endswith(".gz")
    base = path[:-3] if compressed else path
    named = EXTENSIONS.get(PurePath(base).suffix.lower()) if path != STDIO else None
    if fmt is None:
        if named is not None:
            fmt = named
        elif path == STDIO or output_target(path).kind == "stream":
            fmt = "csv"  # stdout, /dev/null, a FIFO: CSV unless told otherwise
        else:
            raise GatError(f"unknown {what} extension; use {_extensions(formats)} or - for "
                           "stdout", path)
        if fmt not in formats:
            raise GatError(f"{fmt} is not a format for {what}; use {_extensions(formats)} "
                           "or - for stdout", path)
    if compressed and fmt not in TEXT_FORMATS:
        raise GatError(f".gz compresses text formats ({', '.join(TEXT_FORMATS)}); {fmt} is "
                       "binary", path)
    if fmt not in TEXT_FORMATS and path == STDIO and sys.stdout.isatty():
        raise GatError(f"{fmt} is a binary format: it is not written to a terminal; give "
                       "-o FILE or pipe stdout into a program")
    if fmt == "parquet":
        polars_for_parquet()
    return OutputFormat(fmt, compressed)


def embeddings_format(path: str, fmt: str | None = None) -> OutputFormat:
    """The embeddings' output format (``fmt`` overrides the extension), checked before any
    work: a known format, polars for Parquet, no binary format on a terminal."""
    return _resolve(path, fmt, EMBEDDING_FORMATS, "embeddings")


def attention_format(path: str) -> OutputFormat:
    """The attention output's format, from its extension (stdout: CSV), checked as above."""
    return _resolve(path, None, ATTENTION_FORMATS, "attention")


def check_ids_for_format(fmt: OutputFormat, ids: np.ndarray | None, path: str) -> None:
    """Refuse ids the format cannot hold (word2vec: white space), before any work."""
    if fmt.name == "w2v":
        check_word2vec_ids(ids, path)


def npy_drops_ids(ids: np.ndarray | None) -> bool:
    """Whether a bare .npy loses information: the ids are not the row numbers 0..N-1."""
    if ids is None:
        return False
    return not np.array_equal(np.asarray(ids).astype(str), np.arange(len(ids)).astype(str))


def check_finite_output(values: np.ndarray, what: str, path: str) -> None:
    """Refuse to write inf/NaN values (a float32 overflow, typically), naming how many."""
    finite = np.isfinite(values)
    if not finite.all():
        count = int(finite.size - np.count_nonzero(finite))
        raise GatError(f"{count} of {values.size} {what} values are inf/NaN ({values.dtype} "
                       "overflow?); nothing written. Try --dtype float64 or smaller inputs",
                       path)


class ForwardOnly:
    """A handle that can only be written forward: it has no ``tell``/``seek``, so a zip
    archive (``.npz``) is laid out for a stream instead of patched in place, which a device
    (/dev/null), a FIFO or a pipe cannot do."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def write(self, data: bytes) -> int:
        return self._out.write(data)

    def flush(self) -> None:
        self._out.flush()


@contextlib.contextmanager
def _opened(path: str, fmt: OutputFormat) -> Iterator[BinaryIO]:
    """The output handle, gzip-compressing when asked; never seeked unless a regular file."""
    with atomic_writer(path) as out:
        if path == STDIO or output_target(path).kind != "file":
            out = ForwardOnly(out)  # type: ignore[assignment]
        if not fmt.gzip:
            yield out
            return
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as packed:
            yield packed  # type: ignore[misc]


def _text_ids(ids: np.ndarray | None, n: int) -> np.ndarray:
    """The ids as text: strings as they are, integers (row numbers) in decimal."""
    return np.arange(n).astype(str) if ids is None else np.asarray(ids).astype(str)


def write_embeddings(path: str, embeddings: np.ndarray, ids: np.ndarray | None,
                     id_column: str = "id", *, fmt: str | OutputFormat | None = None,
                     allow_nonfinite: bool = False) -> None:
    """Write (N, C) embeddings, rows in the features' order, in the format of ``fmt`` or of
    the path's extension (``-`` = stdout, CSV unless ``fmt``).

    ids: (N,) the node ids as read, or None for rows 0..N-1. inf/NaN values are an error
    (nothing is written) unless ``allow_nonfinite``.
    """
    if not isinstance(fmt, OutputFormat):
        fmt = embeddings_format(path, fmt)
    check_ids_for_format(fmt, ids, path)
    if not allow_nonfinite:
        check_finite_output(embeddings, "embedding", path)
    n = embeddings.shape[0]
    with _opened(path, fmt) as out:
        if fmt.name in SEPARATORS:
            write_embeddings_text(out, embeddings, ids, id_column, SEPARATORS[fmt.name])
        elif fmt.name == "jsonl":
            write_embeddings_jsonl(out, embeddings, ids)
        elif fmt.name == "w2v":
            write_embeddings_word2vec(out, embeddings, _text_ids(ids, n))
        elif fmt.name == "npy":
            write_embeddings_npy(out, embeddings)
        elif fmt.name == "npz":
            write_embeddings_npz(out, embeddings, ids)
        else:
            write_embeddings_parquet(out, embeddings, ids, id_column)


class WriterThread:
    """Writes a regular file on a thread while the caller makes the next chunk, and syncs
    it to disk every :attr:`SYNC_BYTES`, so the sync when the file is closed
    (:func:`gatcli.io.atomic.atomic_writer`) has little left to wait for.

    At most :attr:`PENDING` chunks wait (memory: that many chunks). A write error on the
    thread is raised by the next :meth:`write` or by :meth:`close`; the chunks after it are
    dropped. Call :meth:`close` before the file is closed.
    """

    PENDING = 3
    SYNC_BYTES = 32 << 20

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._chunks: queue.Queue[bytes | None] = queue.Queue(self.PENDING)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gat-writer", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> int:
        self._raise_error()
        self._chunks.put(bytes(data))
        return len(data)

    def flush(self) -> None:
        self._raise_error()

    def close(self, raise_error: bool = True) -> None:
        """Wait for the chunks handed over so far; raise the thread's write error, if any
        (unless ``raise_error`` is False: the caller is failing anyway)."""
        if self._thread.is_alive():
            self._chunks.put(None)
            self._thread.join()
        if raise_error:
            self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        unsynced = 0
        while (data := self._chunks.get()) is not None:
            if self._error is not None:
                continue  # drain: the caller learns of the error at its next call
            try:
                self._out.write(data)
                unsynced += len(data)
                if unsynced >= self.SYNC_BYTES:
                    self._out.flush()
                    os.fsync(self._out.fileno())
                    unsynced = 0
            except BaseException as error:  # noqa: BLE001 - handed to the caller
                self._error = error


class AttentionWriter:
    """Writes attention layer by layer, as the forward finishes each layer (pass it as
    ``forward_graphs(..., on_layer=writer)``), so a layer's alphas can be dropped at once.

    CSV/TSV rows and ``.npz`` matrices are written as they come (memory: one layer's alphas
    plus a fixed buffer); Parquet collects compact columns and writes at the end. Use as a
    context manager: the file is complete (and, for a file, renamed into place, see
    :func:`gatcli.io.atomic.atomic_outputs`) when the block ends without error.
    ids: (N,) the node ids, or None for rows 0..N-1.
    """

    def __init__(self, path: str, ids: np.ndarray | None, n_nodes: int, *,
                 fmt: OutputFormat | None = None, allow_nonfinite: bool = False) -> None:
        self.path = path
        self.fmt = fmt or attention_format(path)
        self.ids = ids
        self.n_nodes = n_nodes
        self.allow_nonfinite = allow_nonfinite
        self._stack = contextlib.ExitStack()
        self._out: BinaryIO | None = None
        self._sink: Texts | NpzStream | AttentionParquet | None = None
        self._thread: WriterThread | None = None

    def __enter__(self) -> AttentionWriter:
        self._out = self._stack.enter_context(_opened(self.path, self.fmt))
        name = self.fmt.name
        if name in SEPARATORS:
            if not self.fmt.gzip and self.path != STDIO and (
                    output_target(self.path).kind == "file"):
                self._thread = WriterThread(self._out)
                self._out = self._thread  # type: ignore[assignment]
            write_attention_header(self._out, SEPARATORS[name])
            self._sink = id_texts(self.ids, self.n_nodes, SEPARATORS[name])
        elif name == "npz":
            self._sink = NpzStream(self._out)
            self._sink.add("ids", _text_ids(self.ids, self.n_nodes))
        else:
            self._sink = AttentionParquet(self.ids)
        return self

    def __call__(self, layer: int, graph: Graph, alpha: np.ndarray) -> None:
        """Write layer ``layer``'s alphas (E, H), in ``graph``'s CSR order."""
        assert self._out is not None, "use AttentionWriter as a context manager"
        if not self.allow_nonfinite:
            check_finite_output(alpha, "attention", self.path)
        if isinstance(self._sink, Texts):
            write_attention_rows(self._out, layer, graph, alpha, self._sink,
                                 SEPARATORS[self.fmt.name])
        elif isinstance(self._sink, NpzStream):
            for key, array in attention_matrices(layer, graph, alpha).items():
                self._sink.add(key, array)
        else:
            assert self._sink is not None
            self._sink.add(layer, graph, alpha)

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            if self._thread is not None:
                self._thread.close(raise_error=kind is None)
            if kind is None and self._out is not None:
                if isinstance(self._sink, NpzStream):
                    self._sink.close()
                elif isinstance(self._sink, AttentionParquet):
                    self._sink.write(self._out)
        except BaseException:
            self._stack.__exit__(*sys.exc_info())  # the file is not committed
            raise
        self._stack.__exit__(kind, error, trace)


def write_attention(path: str, graphs: Sequence[Graph], attention: Sequence[np.ndarray],
                    ids: np.ndarray | None, *, allow_nonfinite: bool = False) -> None:
    """Write every layer's attention: long CSV/TSV, .npz of sparse matrices or Parquet.

    CSV columns: layer, head, target, source, alpha (original ids; per target and head,
    the alphas sum to 1). NPZ: ``ids`` (N,) and ``layer{k}_head{h}`` CSR (N, N) matrices
    with ``A[target, source] = alpha`` (duplicate edges summed). inf/NaN values are an
    error, checked in every layer before anything is written, unless ``allow_nonfinite``.
    """
    fmt = attention_format(path)
    if not allow_nonfinite:
        for alpha in attention:
            check_finite_output(alpha, "attention", path)
    n_nodes = graphs[0].n_nodes if graphs else (0 if ids is None else len(ids))
    with AttentionWriter(path, ids, n_nodes, fmt=fmt, allow_nonfinite=True) as writer:
        for k, (graph, alpha) in enumerate(zip(graphs, attention)):
            writer(k, graph, alpha)
