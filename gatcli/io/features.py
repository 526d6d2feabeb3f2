"""Node features: text tables (CSV/TSV/whitespace, optionally gzipped), ``.npy`` arrays,
Parquet files, or sparse matrices (``save_npz`` ``.npz``, svmlight/libsvm text:
:mod:`gatcli.io.sparse_features`).

Text tables are read block by block (:mod:`gatcli.io.text_table`) by polars when it is
installed (:mod:`gatcli.io.polars_tables`) and by ``numpy.loadtxt`` otherwise; both give the
same float64 values (each cell correctly rounded from its decimal text) and the same errors.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from gatcli.errors import GatError, shown_value
from gatcli.io import polars_tables
from gatcli.io.embeddings_npz import is_embeddings_npz, read_embeddings_npz
from gatcli.io.fast import FAST_EXTRA_HINT, SMALL_TEXT_CHARS, polars_for_size, polars_module
from gatcli.io.formats import STDIO, features_format
from gatcli.io.node_ids import duplicate_pair
from gatcli.io.numpy_files import map_npy
from gatcli.io.source import (
    NPY_MAGIC,
    display_name,
    load_numpy,
    not_this_format,
    open_binary,
    read_bytes,
    stdin_kind,
    stdin_stream,
)
from gatcli.io.sparse_features import (
    looks_like_svmlight,
    parse_svmlight,
    read_sparse_features_npz,
    read_svmlight,
)
from gatcli.io.text_table import (
    LARGE_TEXT_BYTES,
    Block,
    EngineRefused,
    TextTable,
    decode_text,
    is_missing,
    is_number,
    loadtxt,
    needs_strip,
    parse_block,
    records,
    skippable,
)

#: id column names recognised without --id-column (case-insensitive)
ID_COLUMNS = ("id", "node")


@dataclass
class Features:
    """Node features and identities.

    values: (N, F) floats, a dense array or (sparse files) a scipy.sparse CSR array.
    ids: (N,) str array of node ids from the id column, or None when rows are nodes 0..N-1.
    id_column: that column's header (None if absent). columns: the F feature column names.
    notes: what the reader decided that the user should hear about (e.g. the index base of
    an svmlight file).
    """

    values: np.ndarray | sp.csr_array
    ids: np.ndarray | None
    id_column: str | None
    columns: list[str]
    notes: list[str] = field(default_factory=list)
    #: the width is the largest index used, not declared (svmlight): see :meth:`widen`
    open_width: bool = False

    @property
    def n_nodes(self) -> int:
        return int(self.values.shape[0])

    @property
    def width(self) -> int:
        return int(self.values.shape[1])

    def widen(self, width: int) -> None:
        """Give sparse features of an open width (svmlight) ``width`` columns, the new ones
        empty (the model's input size, when it is larger than the largest index used)."""
        if not self.open_width or width < self.width:
            raise ValueError(f"cannot widen {self.width} feature columns to {width}")
        self.values.resize((self.n_nodes, width))
        self.columns += [f"f{k}" for k in range(len(self.columns), width)]

    def id_labels(self) -> np.ndarray:
        """(N,) the node ids as written in outputs (strings, or 0..N-1 as strings)."""
        if self.ids is not None:
            return self.ids
        return np.arange(self.n_nodes).astype(str)


def read_features(path: str, *, allow_nonfinite: bool = False, delimiter: str | None = None,
                  header: bool | None = None, id_column: str | None = None,
                  svmlight_base: str = "auto", notes: list[str] | None = None) -> Features:
    """Features from a text table, an ``.npy`` (N, F) array, a Parquet file, a sparse
    ``save_npz`` ``.npz``, gat's embeddings ``.npz`` (``embeddings`` + ``ids``, see
    :mod:`gatcli.io.embeddings_npz`) or svmlight/libsvm text (sparse: ``values`` is CSR; rows
    are nodes 0..N-1; svmlight_base: "auto", "0", "1", see :mod:`gatcli.io.sparse_features`).

    Text tables: ``delimiter`` one character (None: from the name, or guessed from the
    first line); ``header`` True/False, or None to decide (a first line of numbers only is
    data); ``id_column`` a column name or 1-based position holding node ids (None: a first
    column named ``id``/``node``, or with an empty name as pandas writes its index; else
    row k is node k). Missing cells (empty, NA, null) and NaN/inf are errors unless
    ``allow_nonfinite`` (then they are NaN / as written). Notes for the user (header
    decisions, hints) are appended to ``notes``.
    """
    notes = notes if notes is not None else []
    fmt = stdin_kind(path, "features") if path == STDIO else features_format(path)
    if fmt == "npy":
        return _read_features_npy(path, allow_nonfinite)
    if fmt == "npz":
        if is_embeddings_npz(path):  # gat's own embeddings + ids, not scipy.sparse
            return _embeddings(path, allow_nonfinite)
        return _sparse(read_sparse_features_npz(path, allow_nonfinite=allow_nonfinite))
    if fmt == "svmlight":
        return _svmlight(*read_svmlight(path, allow_nonfinite=allow_nonfinite,
                                        base=svmlight_base), path)
    if path == STDIO and fmt == "text" and looks_like_svmlight(_stdin_first_line()):
        what = "a features table or svmlight text"
        text = decode_text(read_bytes(path, what), path, what)
        return _svmlight(*parse_svmlight(text, display_name(path),
                                         allow_nonfinite=allow_nonfinite,
                                         base=svmlight_base), path)
    if fmt == "parquet":
        return polars_tables.read_features_parquet(path, allow_nonfinite=allow_nonfinite,
                                                   id_column=id_column, notes=notes)
    table = TextTable(path, "a features table", delimiter=delimiter, name_format=fmt)
    layout = _Layout.decide(table, header, id_column, notes)
    values, ids = _read_rows(table, layout, allow_nonfinite)
    if table.source.raw_bytes > LARGE_TEXT_BYTES and polars_module() is None:
        notes.append(f"{table.name}: {table.source.raw_bytes >> 20} MB of text read without "
                     f"polars; for faster reading: {FAST_EXTRA_HINT}")
    if values.shape[0] == 0:
        raise GatError(f"no rows{' after the header' if layout.has_header else ''}: a graph "
                       "needs at least one node", table.name)
    if ids is not None:
        ids = id_array(ids)
        _check_ids(ids, table)
    return Features(values, ids, layout.id_name, layout.columns)


def _stdin_first_line() -> str:
    """The first data line of stdin as far as it can be seen without reading it ("" when
    it cannot: a long line, gzip)."""
    head = stdin_stream().peek(1 << 16).decode("utf-8", errors="replace")
    for line in head.split("\n")[:-1]:
        if not skippable(line):
            return line.strip()
    return ""


def _sparse(values: sp.csr_array, notes: list[str] | None = None) -> Features:
    return Features(values, None, None, [f"f{k}" for k in range(values.shape[1])],
                    notes or [])


def _svmlight(values: sp.csr_array, base: int, path: str) -> Features:
    notes = []
    if base == 1:
        notes.append(f"{display_name(path)}: no feature index 0, so indices count from 1 "
                     f"(libsvm's convention): {values.shape[1]} features; use "
                     "--svmlight-base 0 if they count from 0")
    features = _sparse(values, notes)
    features.open_width = True
    return features


# -- layout: header, id column, feature columns -----------------------------------------


@dataclass
class _Layout:
    has_header: bool
    ncols: int
    id_index: int | None
    id_name: str | None
    columns: list[str]  # feature column names
    like: str  # "the header" / "the first line", for column-count messages

    @property
    def feature_index(self) -> list[int]:
        return [k for k in range(self.ncols) if k != self.id_index]

    @classmethod
    def decide(cls, table: TextTable, header: bool | None, id_column: str | None,
               notes: list[str]) -> _Layout:
        fields, line, name = table.first_fields, table.first_line, table.name
        where = f"{name}:{line}"
        if header is None:
            by_name = id_column is not None and not id_column.isdigit()
            by_position = int(id_column) - 1 if id_column and id_column.isdigit() else None
            header = by_name or not all(is_number(f) for k, f in enumerate(fields)
                                        if k != by_position)
            if not header:
                notes.append(f"{where}: the first line holds only numbers, so it is read as "
                             "data (no header line); use --header if it is one")
        ncols = len(fields)
        id_index: int | None = None
        if id_column is not None:
            id_index = _column_index(id_column, fields if header else None, ncols, where,
                                     "--id-column")
        elif header and fields[0].lower() in ID_COLUMNS:
            id_index = 0
        elif header and fields[0] == "" and ncols > 1:
            id_index = 0
            notes.append(f"{where}: the first column has no name (a pandas index): read as "
                         "the node ids")
        if header:
            columns = [f for k, f in enumerate(fields) if k != id_index]
            id_name = fields[id_index] if id_index is not None else None
        else:
            columns = [f"f{k}" for k in range(ncols - (id_index is not None))]
            id_name = None
        if not columns:
            raise GatError("no feature columns (only an id column)", where)
        return cls(header, ncols, id_index, id_name, columns,
                   "the header" if header else "the first line")


def _column_index(choice: str, names: list[str] | None, ncols: int, where: str,
                  option: str) -> int:
    """The 0-based index of a column given by name (a header field) or 1-based position."""
    if names is not None and choice in names:
        return names.index(choice)
    if choice.isdigit():
        position = int(choice)
        if 1 <= position <= ncols:
            return position - 1
        raise GatError(f"{option} {choice}: the table has {ncols} columns (positions count "
                       "from 1)", where)
    if names is None:
        raise GatError(f"{option} {shown_value(choice)}: the table has no header line, so "
                       "name the column by its position (1 = the first)", where)
    listed = ", ".join(shown_value(n, 20) for n in names[:8]) + (", ..." if ncols > 8 else "")
    raise GatError(f"{option} {shown_value(choice)}: no such column (the header has "
                   f"{listed})", where)


# -- rows ------------------------------------------------------------------------------------


def _engines(size: int, delimiter: str | None, layout: _Layout) -> list[Callable]:
    """The fast engines for a table whose first block has ``size`` characters: polars
    (unless the table is small, see :mod:`gatcli.io.fast`) then numpy."""
    engines: list[Callable] = []
    pl = polars_for_size(size, SMALL_TEXT_CHARS)
    if pl is not None and polars_tables.usable_delimiter(delimiter):
        engines.append(lambda text: polars_tables.features_block(
            pl, text, delimiter, layout.ncols, layout.id_index))
    engines.append(lambda text: _numpy_block(text, delimiter, layout.ncols,
                                             layout.id_index))
    return engines


class _Rows:
    """(R, F) float64 rows appended block by block into one growing array.

    Blocks are copied straight into place (no list of parts joined at the end, which held
    the rows twice). The array grows by doubling; capacity beyond the rows written is never
    touched, so it costs address space, not memory, and is cut off at the end.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.rows = 0
        self._array = np.empty((0, width))

    def add(self, values: np.ndarray) -> None:
        """Append ``values`` (r, F), in any memory order."""
        end = self.rows + values.shape[0]
        if end > self._array.shape[0]:
            grown = np.empty((max(end, 2 * self._array.shape[0], 1024), self.width))
            grown[:self.rows] = self._array[:self.rows]
            self._array = grown
        self._array[self.rows:end] = values
        self.rows = end

    def array(self) -> np.ndarray:
        """(R, F) the rows, C-contiguous, owning exactly their memory."""
        array, self._array = self._array, np.empty((0, self.width))
        array.resize((self.rows, self.width), refcheck=False)  # (no views of it exist)
        return array


def _read_rows(table: TextTable, layout: _Layout,
               allow_nonfinite: bool) -> tuple[np.ndarray, list[str] | None]:
    delimiter = table.delimiter
    engines: list[Callable] | None = None

    def slow(block: Block) -> tuple[tuple, np.ndarray]:
        return _slow_block(block, table, layout, allow_nonfinite)

    rows = _Rows(len(layout.columns))
    id_parts: list = []
    for block in table.blocks(include_first=not layout.has_header):
        if not len(block):
            continue
        if engines is None:  # one choice for the whole table, by its first block
            engines = _engines(len(block), delimiter, layout)
        (values, ids), lines = parse_block(block, delimiter, engines, slow)
        table.rows.add(rows.rows, block.first_line, lines)
        if not allow_nonfinite:
            _check_finite(values, table, layout, rows.rows)
        rows.add(values)
        del values
        if ids is not None:
            id_parts.extend(ids)
    return rows.array(), (id_parts if layout.id_index is not None else None)


def _numpy_block(text: str | bytes, delimiter: str | None, ncols: int,
                 id_index: int | None) -> tuple[np.ndarray, list[str] | None]:
    """(values (R, F), ids) of clean block text by ``numpy.loadtxt``; ValueError if the
    text is not ``ncols`` numbers a row (ids: any text)."""
    if id_index is None:
        values = loadtxt(text, delimiter, dtype=np.float64)
        if values.shape[0] and values.shape[1] != ncols:
            raise EngineRefused("column count")
        return values.reshape(-1, ncols), None
    ids: list[str] = []

    def keep_id(cell: str) -> float:
        ids.append(cell)
        return 0.0

    table = loadtxt(text, delimiter, dtype=np.float64, converters={id_index: keep_id})
    if table.shape[0] and table.shape[1] != ncols:
        raise EngineRefused("column count")
    values = np.delete(table.reshape(-1, ncols), id_index, axis=1)
    if needs_strip(text, delimiter):
        ids = [cell.strip() for cell in ids]
    return values, ids


def _slow_block(block: Block, table: TextTable, layout: _Layout,
                allow_nonfinite: bool) -> tuple[tuple, np.ndarray]:
    """The record-by-record parse: the same values as the fast engines, or the error."""
    rows: list[list[float]] = []
    ids: list[str] = []
    lines: list[int] = []
    feature_index = layout.feature_index
    for line, fields in records(block, table.delimiter):
        if len(fields) != layout.ncols:
            raise table.column_count_error(layout.ncols, len(fields), line, layout.like)
        row = []
        for column, k in enumerate(feature_index):
            cell = fields[k]
            if is_number(cell):
                row.append(float(cell))
                continue
            where = f"{table.name}:{line}:{k + 1}"
            label = f"column {shown_value(layout.columns[column])}"
            if not is_missing(cell):
                raise GatError(f"{label}: {shown_value(cell)} is not a number", where)
            if not allow_nonfinite:
                what = "an empty cell" if not cell else shown_value(cell)
                raise GatError(f"{label}: {what} is a missing value; use --allow-nonfinite "
                               "to read missing values as NaN", where)
            row.append(math.nan)
        rows.append(row)
        if layout.id_index is not None:
            ids.append(fields[layout.id_index])
        lines.append(line)
    values = np.array(rows, dtype=np.float64).reshape(-1, len(feature_index))
    return (values, ids if layout.id_index is not None else None), np.array(lines, np.int64)


# -- checks ----------------------------------------------------------------------------------


def id_array(ids: list[str]) -> np.ndarray:
    """(N,) the ids as a fixed-width str array, or an object array when one very long id
    would make a fixed-width array far larger than the ids themselves."""
    if not ids:
        return np.zeros(0, dtype=str)
    longest = max(map(len, ids))
    total = sum(map(len, ids))
    if longest * len(ids) <= 4 * total + (1 << 20):
        return np.array(ids, dtype=f"U{max(longest, 1)}")
    return np.array(ids, dtype=object)


def _check_ids(ids: np.ndarray, table: TextTable) -> None:
    empty = np.flatnonzero(ids == "")
    if empty.size:
        raise GatError("empty node id", f"{table.name}:{table.rows.line(int(empty[0]))}")
    pair = duplicate_pair(ids)
    if pair is not None:
        first, second = pair
        raise GatError(f"duplicate node id {shown_value(ids[first])} (first on line "
                       f"{table.rows.line(first)})", f"{table.name}:{table.rows.line(second)}")


def _check_finite(values: np.ndarray, table: TextTable, layout: _Layout, first_row: int) -> None:
    """Raise for the first NaN/inf of a block, naming its line and column."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    row, col = (int(v) for v in np.argwhere(bad)[0])
    line = table.rows.line(first_row + row)
    column = layout.feature_index[col] + 1
    raise GatError(f"column {shown_value(layout.columns[col])} is {values[row, col]} (not "
                   "finite); use --allow-nonfinite to accept it",
                   f"{table.name}:{line}:{column}")


def check_finite_array(values: np.ndarray, name: str) -> None:
    """Raise for the first NaN/inf of an array read from a binary file (in slices: no
    (N, F) temporaries of a memory-mapped array)."""
    rows = max(1, (1 << 22) // max(1, values.shape[1]))
    for first in range(0, values.shape[0], rows):
        bad = ~np.isfinite(values[first : first + rows])
        if bad.any():
            break
    else:
        return
    row, col = (int(v) for v in np.argwhere(bad)[0])
    row += first
    raise GatError(f"row {row}, column {col} (counting from 0) is {values[row, col]} (not "
                   "finite); use --allow-nonfinite to accept it", name)


def _read_features_npy(path: str, allow_nonfinite: bool) -> Features:
    name = display_name(path)
    what = "a features .npy array (nodes x features)"
    with open_binary(path, what) as handle:
        head = handle.read(16)
        if not head.startswith(NPY_MAGIC):
            raise GatError(not_this_format(head, what), name)
        handle.seek(0)
        # a regular file is memory-mapped (pages read as the layers use them; its header
        # checked against its size first), else read into memory (checked against that)
        values = map_npy(path) if path != STDIO and os.path.isfile(path) else None
        if values is None:
            values = load_numpy(handle, name, what)
    if not isinstance(values, np.ndarray) or values.ndim != 2:
        shape = getattr(values, "shape", None)
        raise GatError(f"expected a 2-D (nodes x features) array, found shape {shape}", name)
    if values.dtype.kind not in "biuf":
        raise GatError(f"expected real numbers, found dtype {values.dtype}", name)
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise GatError(f"empty features array of shape {values.shape}", name)
    if not allow_nonfinite and np.issubdtype(values.dtype, np.inexact):
        check_finite_array(values, name)
    return Features(values, None, None, [f"f{k}" for k in range(values.shape[1])])


def _embeddings(path: str, allow_nonfinite: bool) -> Features:
    values, ids = read_embeddings_npz(path)
    columns = [f"h{k}" for k in range(values.shape[1])]
    if not allow_nonfinite and np.issubdtype(values.dtype, np.inexact):
        check_finite_array(values, display_name(path))
    return Features(values, ids, None if ids is None else "id", columns)

