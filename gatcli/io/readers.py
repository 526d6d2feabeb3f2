"""Readers: validate input files once, at the boundary, and return plain arrays.

Every problem raises :class:`gatcli.errors.GatError` naming the file, the line (and column
or key) and what was expected. Parsing is vectorised (``numpy.loadtxt``'s C parser); when it
fails, a line-by-line scan of the same text finds and names the first bad line.
"""

from __future__ import annotations

import gzip
import io
import sys
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp

from gatcli.errors import GatError
from gatcli.io.formats import (
    DELIMITERS,
    STDIO,
    describe_magic,
    features_format,
    graph_format,
    sniff_text_format,
    strip_gz,
)

GZIP_MAGIC = b"\x1f\x8b"
ID_COLUMNS = ("id", "node")


def display_name(path: str) -> str:
    return "<stdin>" if path == STDIO else str(path)


def read_bytes(path: str, what: str) -> bytes:
    """The raw (gunzipped) bytes of ``path`` or stdin; ``what`` names the expected content."""
    name = display_name(path)
    if path == STDIO:
        data = sys.stdin.buffer.read()
    else:
        p = Path(path)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise GatError(f"no such file (expected {what})", name) from None
        except IsADirectoryError:
            raise GatError(f"is a directory, expected {what}", name) from None
        except PermissionError:
            raise GatError("permission denied", name) from None
        except OSError as exc:
            raise GatError(f"cannot read: {exc.strerror or exc}", name) from None
    named_gz = strip_gz(str(path))[1]
    if data.startswith(GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise GatError(f"corrupt or truncated gzip data ({exc})", name) from None
    elif named_gz:
        raise GatError("the name ends in .gz but the content is not gzip data", name)
    return data


def decode_text(data: bytes, path: str, what: str) -> str:
    """UTF-8 text (a BOM is dropped, CRLF/CR become LF); binary content is an error."""
    name = display_name(path)
    if not data.strip():
        raise GatError(f"empty file, expected {what}", name)
    kind = describe_magic(data[:16])
    if kind:
        raise GatError(f"this is {kind}, expected {what} (check the file extension)", name)
    if b"\x00" in data:
        raise GatError(f"binary data (NUL bytes), expected {what}", name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise GatError(f"not UTF-8 text (byte {exc.start}), expected {what}",
                       f"{name}:{line}") from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def data_lines(text: str, start: int = 0) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) of every line that is neither blank nor a # comment,
    from line index ``start`` on."""
    for number, line in enumerate(text.split("\n")[start:], start + 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield number, line


def split_fields(line: str, delimiter: str | None) -> list[str]:
    """The fields of one line (a trailing # comment removed, fields stripped, quotes removed)."""
    line = line.split("#", 1)[0]
    fields = line.split(delimiter) if delimiter else line.split()
    return [f.strip().strip('"') for f in fields]


def _loadtxt(text: str, delimiter: str | None, skip: int, **kwargs) -> np.ndarray:
    """np.loadtxt of ``text`` after its first ``skip`` lines; raises ValueError on bad rows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "input contained no data": zero rows is fine
        return np.loadtxt(io.StringIO(text), delimiter=delimiter, comments="#",
                          skiprows=skip, ndmin=2, quotechar='"' if delimiter else None,
                          **kwargs)


def _line_of_row(text: str, start: int, row: int) -> int:
    """The line number of data row ``row`` (0-based) counted from line index ``start``."""
    for k, (number, _) in enumerate(data_lines(text, start)):
        if k == row:
            return number
    return -1


def _is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _text_and_delimiter(path: str, fmt: str, what: str) -> tuple[str, str | None]:
    text = decode_text(read_bytes(path, what), path, what)
    if fmt == "text":  # stdin: look at the first data line
        first = next(data_lines(text), (0, ""))[1]
        fmt = sniff_text_format(first)
    return text, DELIMITERS[fmt]


# -- features ------------------------------------------------------------------------------


@dataclass
class Features:
    """Node features and identities.

    values: (N, F) floats. ids: (N,) str array of node ids from an ``id``/``node`` column,
    or None when rows are nodes 0..N-1. id_column: that column's header (None if absent).
    columns: the F feature column names.
    """

    values: np.ndarray
    ids: np.ndarray | None
    id_column: str | None
    columns: list[str]

    @property
    def n_nodes(self) -> int:
        return int(self.values.shape[0])

    def id_labels(self) -> np.ndarray:
        """(N,) the node ids as written in outputs (strings, or 0..N-1 as strings)."""
        if self.ids is not None:
            return self.ids
        return np.arange(self.n_nodes).astype(str)


def read_features(path: str, *, allow_nonfinite: bool = False) -> Features:
    """Features from a CSV/TSV/whitespace table with a header, or an ``.npy`` (N, F) array.

    A first column named ``id`` or ``node`` holds node ids (strings allowed); otherwise row
    k is node k. NaN/inf are errors unless ``allow_nonfinite``.
    """
    fmt = features_format(path)
    if fmt == "npy":
        return _read_features_npy(path, allow_nonfinite)
    name = display_name(path)
    what = "a features table with a header line"
    text, delimiter = _text_and_delimiter(path, fmt, what)
    header_line, header = next(data_lines(text))
    columns = split_fields(header, delimiter)
    if all(_is_number(c) for c in columns):
        raise GatError("the first line holds numbers; a features file needs a header line "
                       "(e.g. id,f0,f1,...)", f"{name}:{header_line}")
    has_id = columns[0].lower() in ID_COLUMNS
    feature_columns = columns[1:] if has_id else columns
    if not feature_columns:
        raise GatError("no feature columns (only an id column)", f"{name}:{header_line}")
    ncol = len(columns)
    try:
        values = _loadtxt(text, delimiter, header_line, dtype=np.float64,
                          usecols=range(1 if has_id else 0, ncol))
    except ValueError:
        _diagnose_table(text, header_line, delimiter, columns, has_id, name)
        raise GatError("could not parse the features table", name) from None
    if delimiter is not None and len(text) < 1 << 31:
        # usecols ignores extra cells; a delimiter count catches rows that are too long.
        body = text.split("\n", header_line)[-1] if header_line else text
        if body.count(delimiter) != values.shape[0] * (ncol - 1):
            _diagnose_table(text, header_line, delimiter, columns, has_id, name)
    elif delimiter is None:
        _diagnose_table(text, header_line, delimiter, columns, has_id, name)
    if values.shape[0] == 0:
        raise GatError("no rows after the header: a graph needs at least one node", name)
    ids = None
    if has_id:
        ids = _loadtxt(text, delimiter, header_line, dtype=str, usecols=0)[:, 0]
        ids = np.char.strip(ids)
        _check_ids(ids, text, header_line, name)
    if not allow_nonfinite:
        _check_finite(values, text, header_line, feature_columns, name)
    return Features(values, ids, columns[0] if has_id else None, feature_columns)


def _diagnose_table(text: str, header_line: int, delimiter: str | None, columns: list[str],
                    has_id: bool, name: str) -> None:
    """Raise for the first row with a wrong cell count or a non-numeric cell (if any)."""
    first = 1 if has_id else 0
    for number, line in data_lines(text, header_line):
        fields = split_fields(line, delimiter)
        if len(fields) != len(columns):
            raise GatError(f"expected {len(columns)} columns like the header, found "
                           f"{len(fields)}", f"{name}:{number}")
        for k in range(first, len(fields)):
            if not _is_number(fields[k]):
                raise GatError(f"column {columns[k]!r}: {fields[k]!r} is not a number",
                               f"{name}:{number}:{k + 1}")


def _check_ids(ids: np.ndarray, text: str, header_line: int, name: str) -> None:
    empty = np.flatnonzero(ids == "")
    if empty.size:
        raise GatError("empty node id", f"{name}:{_line_of_row(text, header_line, empty[0])}")
    order = np.argsort(ids, kind="stable")
    same = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    if same.size:
        first, second = sorted((int(order[same[0]]), int(order[same[0] + 1])))
        line_a = _line_of_row(text, header_line, first)
        line_b = _line_of_row(text, header_line, second)
        raise GatError(f"duplicate node id {str(ids[first])!r} (first on line {line_a})",
                       f"{name}:{line_b}")


def _check_finite(values: np.ndarray, text: str | None, header_line: int,
                  columns: list[str], name: str) -> None:
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    row, col = (int(v) for v in np.argwhere(bad)[0])
    value = values[row, col]
    if text is None:
        where = f"{name}: row {row}, column {col}"
    else:
        where = f"{name}:{_line_of_row(text, header_line, row)}"
    raise GatError(f"column {columns[col]!r} is {value} (not finite); "
                   "use --allow-nonfinite to accept it", where)


def _read_features_npy(path: str, allow_nonfinite: bool) -> Features:
    name = display_name(path)
    p = Path(path)
    if p.is_dir():
        raise GatError("is a directory, expected a features .npy file", name)
    try:
        values = np.load(p, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise GatError("no such file (expected features)", name) from None
    except PermissionError:
        raise GatError("permission denied", name) from None
    except (ValueError, OSError, EOFError) as exc:
        raise GatError(f"not a readable .npy array ({exc})", name) from None
    if not isinstance(values, np.ndarray) or values.ndim != 2:
        shape = getattr(values, "shape", None)
        raise GatError(f"expected a 2-D (nodes x features) array, found shape {shape}", name)
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise GatError(f"expected numbers, found dtype {values.dtype}", name)
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise GatError(f"empty features array of shape {values.shape}", name)
    if not allow_nonfinite and np.issubdtype(values.dtype, np.inexact):
        _check_finite(values, None, 0, [f"{k}" for k in range(values.shape[1])], name)
    return Features(values, None, None, [f"f{k}" for k in range(values.shape[1])])


# -- graphs --------------------------------------------------------------------------------


@dataclass
class NodeIndex:
    """Maps node references in a graph file to rows of the features."""

    n_nodes: int
    ids: np.ndarray | None = None  # (N,) str, or None for integer references 0..N-1

    @classmethod
    def of(cls, features: Features) -> NodeIndex:
        return cls(features.n_nodes, features.ids)

    def is_reference(self, token: str) -> bool:
        if self.ids is None:
            return _is_int(token)
        return bool(np.any(self.ids == token))

    def integer_ids(self) -> np.ndarray | None:
        """The ids as int64 when every id is a canonical integer (fast path), else None."""
        if self.ids is None:
            return None
        try:
            values = self.ids.astype(np.int64)
        except (ValueError, OverflowError):
            return None
        return values if np.array_equal(values.astype(str), self.ids) else None


def read_graph(path: str, nodes: NodeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Edges (sources, targets) as node indices, from an edge list or an adjacency matrix.

    Edge list row ``u,v``: edge u -> v (v attends to u). Adjacency (.npz/.mtx): row i lists
    the nodes i attends to, so ``A[i, j] != 0`` is the edge j -> i.
    """
    fmt = graph_format(path)
    if fmt in ("npz", "mtx"):
        adjacency = read_adjacency(path, fmt, nodes.n_nodes)
        coo = adjacency.tocoo()
        nonzero = coo.data != 0
        return coo.col[nonzero].astype(np.int64), coo.row[nonzero].astype(np.int64)
    return read_edge_list(path, fmt, nodes)


def read_adjacency(path: str, fmt: str, n_nodes: int) -> sp.csr_array:
    """A square sparse adjacency of size n_nodes from ``save_npz`` or Matrix Market."""
    name = display_name(path)
    p = Path(path)
    if not p.exists():
        raise GatError("no such file (expected a sparse adjacency matrix)", name)
    if p.is_dir():
        raise GatError("is a directory, expected a sparse adjacency matrix", name)
    try:
        if fmt == "npz":
            matrix = sp.load_npz(p)
        else:
            matrix = scipy.io.mmread(p)
    except PermissionError:
        raise GatError("permission denied", name) from None
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile, TypeError,
            IndexError) as exc:
        expected = ("a scipy sparse matrix saved with scipy.sparse.save_npz" if fmt == "npz"
                    else "a Matrix Market coordinate matrix")
        raise GatError(f"not {expected} ({exc})", name) from None
    if not sp.issparse(matrix):
        raise GatError("not a sparse matrix (a dense Matrix Market array?); expected "
                       "a coordinate (sparse) matrix", name)
    rows, cols = matrix.shape
    if rows != cols:
        raise GatError(f"adjacency must be square, found shape {rows} x {cols}", name)
    if rows != n_nodes:
        raise GatError(f"adjacency is {rows} x {cols} but the features have {n_nodes} nodes",
                       name)
    return sp.csr_array(matrix)


def read_edge_list(path: str, fmt: str, nodes: NodeIndex) -> tuple[np.ndarray, np.ndarray]:
    """(sources, targets) from a two-column edge list; header auto-detected.

    The first data line is a header when none of its fields is a node reference.
    References are integers 0..N-1 when the features have no id column, else ids.
    """
    name = display_name(path)
    text, delimiter = _text_and_delimiter(path, fmt, "an edge list (source,target per line)")
    lines = data_lines(text)
    first = next(lines, None)
    skip = 0
    if first is not None:
        number, line = first
        fields = split_fields(line, delimiter)
        if len(fields) != 2:
            raise GatError(f"expected 2 columns (source, target), found {len(fields)}",
                           f"{name}:{number}")
        if not any(nodes.is_reference(f) for f in fields):
            skip = number  # a header line
    as_int = nodes.ids is None or nodes.integer_ids() is not None
    try:
        table = _loadtxt(text, delimiter, skip, dtype=np.int64 if as_int else str)
    except ValueError:
        _diagnose_edges(text, skip, delimiter, nodes, name)
        raise GatError("could not parse the edge list", name) from None
    if table.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if table.shape[1] != 2:
        _diagnose_edges(text, skip, delimiter, nodes, name)
    if nodes.ids is None:
        index = table
        bad = np.flatnonzero(((index < 0) | (index >= nodes.n_nodes)).any(axis=1))
        if bad.size:
            row = int(bad[0])
            value = int(index[row][(index[row] < 0) | (index[row] >= nodes.n_nodes)][0])
            raise GatError(f"node index {value} is out of range: the features have "
                           f"{nodes.n_nodes} rows (0..{nodes.n_nodes - 1})",
                           f"{name}:{_line_of_row(text, skip, row)}")
    else:
        index = _map_ids(table, nodes, text, skip, name)
    return index[:, 0], index[:, 1]


def _map_ids(table: np.ndarray, nodes: NodeIndex, text: str, skip: int,
             name: str) -> np.ndarray:
    """(E, 2) references -> (E, 2) row indices via the features' ids."""
    numeric = nodes.integer_ids()
    if numeric is not None and table.dtype.kind == "i":
        keys, wanted = numeric, table
    else:
        keys, wanted = nodes.ids, np.char.strip(table.astype(str))
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    pos = np.searchsorted(sorted_keys, wanted)
    pos_clipped = np.minimum(pos, sorted_keys.shape[0] - 1)
    found = sorted_keys[pos_clipped] == wanted
    if not found.all():
        row, col = (int(v) for v in np.argwhere(~found)[0])
        raise GatError(f"node id {str(wanted[row, col])!r} is not in the features' id column",
                       f"{name}:{_line_of_row(text, skip, row)}")
    return order[pos_clipped]


def _diagnose_edges(text: str, skip: int, delimiter: str | None, nodes: NodeIndex,
                    name: str) -> None:
    """Raise for the first edge line with a wrong field count or a bad reference."""
    for number, line in data_lines(text, skip):
        fields = split_fields(line, delimiter)
        if len(fields) != 2:
            raise GatError(f"expected 2 columns (source, target), found {len(fields)}",
                           f"{name}:{number}")
        for column, field in enumerate(fields, 1):
            if nodes.ids is None and not _is_int(field):
                raise GatError(f"{field!r} is not an integer node index (the features have "
                               "no id column, so edges refer to rows 0..N-1)",
                               f"{name}:{number}:{column}")
            if nodes.ids is not None and not nodes.is_reference(field):
                raise GatError(f"node id {field!r} is not in the features' id column",
                               f"{name}:{number}:{column}")
