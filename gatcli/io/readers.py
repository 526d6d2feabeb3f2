"""Readers: validate input files once, at the boundary, and return plain arrays.

Every problem raises :class:`gatcli.errors.GatError` naming the file, the line (and column
or key) and what was expected. Parsing is vectorised (``numpy.loadtxt``'s C parser); when it
fails, a line-by-line scan of the same text finds and names the first bad line.
"""

from __future__ import annotations

import gzip
import io
import sys
import tokenize
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
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
NPY_MAGIC = b"\x93NUMPY"

#: what numpy's .npy/.npz loading raises on a corrupt file (a damaged header is parsed
#: with Python's tokenizer, a damaged archive by zipfile and zlib)
LOAD_ERRORS = (ValueError, OSError, EOFError, KeyError, OverflowError, SyntaxError,
               tokenize.TokenError, NotImplementedError, zipfile.BadZipFile, zlib.error)
ID_COLUMNS = ("id", "node")


def display_name(path: str) -> str:
    return "<stdin>" if path == STDIO else str(path)


def open_input(path: str, what: str) -> BinaryIO:
    """``path`` opened for binary reading; every OS error becomes a :class:`GatError`.

    The one place where readers open files, so a failure names the file and what was
    expected there.
    """
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
        data = sys.stdin.buffer.read()
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


def decode_text(data: bytes, path: str, what: str, *, magic_ok: bool = False) -> str:
    """UTF-8 text (a BOM is dropped, CRLF/CR become LF); binary content is an error, and so
    is a known file signature unless ``magic_ok``."""
    name = display_name(path)
    if not data or data.isspace():  # (no copy of a large input, unlike strip())
        raise GatError(f"empty file; expected {what}", name)
    kind = None if magic_ok else describe_magic(data[:16])
    if kind:
        raise GatError(f"this is {kind}, not {what}; check the file name's extension", name)
    if b"\x00" in data:
        raise GatError(f"binary data (NUL bytes); expected {what}", name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise GatError(f"not UTF-8 text (byte {exc.start}); expected {what}",
                       f"{name}:{line}") from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def data_lines(text: str, start: int = 0, comment: str = "#") -> Iterator[tuple[int, str]]:
    """(1-based line number, line) of every line that is neither blank nor a comment,
    from line index ``start`` on."""
    # lazily, line by line: callers often need only the first data line of a large text
    begin, number = 0, 0
    while begin <= len(text):
        end = text.find("\n", begin)
        if end < 0:
            end = len(text)
        number += 1
        if number > start:
            line = text[begin:end]
            stripped = line.strip()
            if stripped and not stripped.startswith(comment):
                yield number, line
        begin = end + 1


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


def _line_of_row(text: str, start: int, row: int, comment: str = "#") -> int:
    """The line number of data row ``row`` (0-based) counted from line index ``start``."""
    for k, (number, _) in enumerate(data_lines(text, start, comment)):
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
    first = next(data_lines(text), None)
    if first is None:
        raise GatError(f"only comments and blank lines; expected {what}", name)
    header_line, header = first
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
        _check_finite(values, text, header_line, feature_columns, name, int(has_id))
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
                  columns: list[str], name: str, first_column: int = 0) -> None:
    """Raise for the first NaN/inf, naming its line and column (text) or row and column
    (arrays); ``first_column`` is the 0-based text column of ``values[:, 0]``."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    row, col = (int(v) for v in np.argwhere(bad)[0])
    value = values[row, col]
    advice = "use --allow-nonfinite to accept it"
    if text is None:
        raise GatError(f"row {row}, column {col} (counting from 0) is {value} (not finite); "
                       f"{advice}", name)
    where = f"{name}:{_line_of_row(text, header_line, row)}:{first_column + col + 1}"
    raise GatError(f"column {columns[col]!r} is {value} (not finite); {advice}", where)


def _not_this_format(head: bytes, what: str) -> str:
    """The message for a binary file whose first bytes ``head`` are not the expected kind."""
    if not head:
        return f"empty file; expected {what}"
    kind = describe_magic(head)
    if kind is None and all(b >= 32 or b in b"\t\n\r" for b in head):
        kind = "text"
    if kind is None:
        return f"unrecognised binary data; expected {what}"
    return f"this is {kind}, not {what}; check the file name's extension"


def _read_features_npy(path: str, allow_nonfinite: bool) -> Features:
    name = display_name(path)
    what = "a features .npy array (nodes x features)"
    with open_input(path, what) as handle:
        head = handle.read(16)
        if not head.startswith(NPY_MAGIC):
            raise GatError(_not_this_format(head, what), name)
        handle.seek(0)
        values = load_numpy(handle, name, what)
    if not isinstance(values, np.ndarray) or values.ndim != 2:
        shape = getattr(values, "shape", None)
        raise GatError(f"expected a 2-D (nodes x features) array, found shape {shape}", name)
    if values.dtype.kind not in "biuf":
        raise GatError(f"expected real numbers, found dtype {values.dtype}", name)
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
    """A square sparse adjacency of size n_nodes from ``save_npz`` or Matrix Market.

    The file's structure is checked (square, n_nodes x n_nodes, indices in range) before
    anything of the declared size is allocated.
    """
    if fmt == "npz":
        matrix = _read_sparse_npz(path, n_nodes)
    else:
        matrix = _read_matrix_market(path, n_nodes)
    if matrix.dtype.kind not in "biuf":
        raise GatError(f"expected a matrix of real numbers, found dtype {matrix.dtype}",
                       display_name(path))
    return sp.csr_array(matrix)


def shown(array: np.ndarray | None) -> str:
    """A short description of a stored array for a message: its value if it is one number
    or string, else its dtype and shape."""
    if array is None:
        return "missing"
    if array.size == 1 and array.dtype.kind in "biufSU":
        return repr(array.item())
    return f"an array of dtype {array.dtype} and shape {array.shape}"


def _check_adjacency_shape(shape: tuple[int, int], n_nodes: int, name: str) -> None:
    rows, cols = shape
    if rows != cols:
        raise GatError(f"adjacency must be square, found shape {rows} x {cols}", name)
    if rows != n_nodes:
        raise GatError(f"adjacency is {rows} x {cols} but the features have {n_nodes} nodes; "
                       f"expected {n_nodes} x {n_nodes}", name)


#: arrays ``scipy.sparse.save_npz`` stores for each format (besides format and shape)
SPARSE_NPZ_KEYS = {"csr": ("data", "indices", "indptr"), "csc": ("data", "indices", "indptr"),
                   "bsr": ("data", "indices", "indptr"), "coo": ("data", "row", "col"),
                   "dia": ("data", "offsets")}
SAVE_NPZ = "a sparse matrix saved with scipy.sparse.save_npz"


def _read_sparse_npz(path: str, n_nodes: int) -> sp.sparray:
    """The matrix of a ``save_npz`` file, validated array by array."""
    name = display_name(path)
    with open_input(path, SAVE_NPZ) as handle:
        head = handle.read(4)
        if head != b"PK\x03\x04":
            raise GatError(_not_this_format(head + handle.read(12), SAVE_NPZ), name)
        handle.seek(0)
        arrays = load_numpy(handle, name, SAVE_NPZ)
    if not isinstance(arrays, dict):
        raise GatError(f"a single .npy array, not {SAVE_NPZ}", name)
    if "format" not in arrays:
        found = ", ".join(sorted(arrays)[:6]) or "none"
        raise GatError(f"no 'format' key (found: {found}); expected {SAVE_NPZ} (a dense "
                       "array must be converted with scipy.sparse.csr_array first)", name)
    fmt_array = arrays["format"]
    fmt = fmt_array.item() if fmt_array.shape == () and fmt_array.dtype.kind in "SU" else None
    if isinstance(fmt, bytes):
        fmt = fmt.decode("ascii", errors="replace")
    if fmt not in SPARSE_NPZ_KEYS:
        raise GatError(f"key 'format' is {shown(fmt_array)}, expected one of "
                       f"{', '.join(SPARSE_NPZ_KEYS)}", name)
    shape = arrays.get("shape")
    if shape is None or shape.shape != (2,) or shape.dtype.kind not in "iu" or (shape < 0).any():
        raise GatError(f"key 'shape' is {shown(shape)}, expected two non-negative integers",
                       name)
    _check_adjacency_shape((int(shape[0]), int(shape[1])), n_nodes, name)
    for key in SPARSE_NPZ_KEYS[fmt]:
        if key not in arrays:
            raise GatError(f"missing key {key!r} of a {fmt} matrix", name)
        if key != "data" and (arrays[key].ndim != 1 or arrays[key].dtype.kind not in "iu"):
            raise GatError(f"key {key!r} has dtype {arrays[key].dtype} and shape "
                           f"{arrays[key].shape}, expected a 1-D integer array", name)
    parts = [arrays[key] for key in SPARSE_NPZ_KEYS[fmt]]
    try:
        # Every index is checked here, in int64, before scipy sees the arrays: its
        # constructors downcast indices and trust them, and its C++ routines can corrupt
        # memory on inconsistent ones.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            if fmt == "coo":
                data, row, col = parts
                if row.shape != data.shape or col.shape != data.shape:
                    raise ValueError("row, col and data differ in length")
                _check_indices(row, n_nodes, "row")
                _check_indices(col, n_nodes, "col")
                matrix = sp.coo_array((data, (row.astype(np.int64), col.astype(np.int64))),
                                      shape=(n_nodes, n_nodes))
            elif fmt == "dia":
                data, offsets = parts
                if data.ndim != 2 or data.shape[0] != offsets.shape[0]:
                    raise ValueError("data must be 2-D with one row per offset")
                if np.unique(offsets).shape != offsets.shape:
                    raise ValueError("repeated offsets")
                matrix = sp.dia_array((data, offsets.astype(np.int64)),
                                      shape=(n_nodes, n_nodes))
            else:
                data, indices, indptr = parts
                block = data.shape[1:] if fmt == "bsr" else ()
                if fmt == "bsr" and (len(block) != 2 or 0 in block
                                     or n_nodes % block[0] or n_nodes % block[1]):
                    raise ValueError(f"bsr blocks of shape {block} do not tile the matrix")
                major = n_nodes // block[0] if block else n_nodes
                minor = n_nodes // block[1] if block else n_nodes
                if data.ndim != 1 + len(block) or data.shape[0] != indices.shape[0]:
                    raise ValueError("data and indices differ in length")
                ptr = indptr.astype(np.int64)
                if (ptr.shape != (major + 1,) or ptr[0] != 0 or ptr[-1] != indices.shape[0]
                        or (np.diff(ptr) < 0).any()):
                    raise ValueError(f"indptr must rise from 0 to {indices.shape[0]} in "
                                     f"{major + 1} steps")
                _check_indices(indices, minor, "indices")
                cls = {"csr": sp.csr_array, "csc": sp.csc_array, "bsr": sp.bsr_array}[fmt]
                matrix = cls((data, indices.astype(np.int64), ptr), shape=(n_nodes, n_nodes))
    except (ValueError, TypeError, IndexError, OverflowError, RuntimeWarning) as exc:
        raise GatError(f"inconsistent {fmt} matrix arrays ({exc})", name) from None
    return matrix


def _check_indices(index: np.ndarray, size: int, key: str) -> None:
    if index.size and (int(index.min()) < 0 or int(index.max()) >= size):
        raise ValueError(f"{key} must be in 0..{size - 1}")


MTX_SYMMETRIES = ("general", "symmetric", "skew-symmetric", "hermitian")


def _read_matrix_market(path: str, n_nodes: int) -> sp.sparray:
    """A Matrix Market coordinate matrix (optionally gzipped), parsed and checked here.

    Header ``%%MatrixMarket matrix coordinate real|integer|pattern general|symmetric|...``,
    then a size line ``rows cols entries`` and one ``i j [value]`` line (1-based) per entry.
    (scipy's own reader can crash the interpreter on a damaged file, so it is not used.)
    """
    name = display_name(path)
    what = "a Matrix Market coordinate matrix (.mtx)"
    data = read_bytes(path, what)
    if not data.lstrip().lower().startswith(b"%%matrixmarket"):
        raise GatError(_not_this_format(data[:16], what) if data and data[:1] != b"%"
                       else f"no '%%MatrixMarket' header line; expected {what}", name)
    text = decode_text(data, path, what, magic_ok=True)
    lines = text.split("\n")
    header = lines[0].lower().split()
    expected_header = "'%%MatrixMarket matrix coordinate real|integer|pattern general|symmetric'"
    if len(header) != 5 or header[1] != "matrix":
        raise GatError(f"header line {lines[0].strip()!r}, expected {expected_header}",
                       f"{name}:1")
    layout, field, symmetry = header[2:]
    if layout == "array":
        raise GatError("a dense Matrix Market array, not a sparse matrix; expected the "
                       "coordinate layout", f"{name}:1")
    if layout != "coordinate" or field not in ("real", "integer", "pattern") or (
            symmetry not in MTX_SYMMETRIES):
        raise GatError(f"header line {lines[0].strip()!r}, expected {expected_header}",
                       f"{name}:1")
    size = next(data_lines(text, 1, comment="%"), None)
    if size is None:
        raise GatError("no size line 'rows columns entries' after the header", name)
    size_line, size_text = size
    fields = size_text.split()
    if len(fields) != 3 or not all(f.isdigit() for f in fields):
        raise GatError(f"size line {size_text.strip()!r}, expected three non-negative "
                       "integers 'rows columns entries'", f"{name}:{size_line}")
    rows, cols, entries = (int(f) for f in fields)
    _check_adjacency_shape((rows, cols), n_nodes, name)
    width = 2 if field == "pattern" else 3
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": zero entries
            table = np.loadtxt(io.StringIO(text), comments="%", skiprows=size_line, ndmin=2,
                               dtype=np.float64)
    except ValueError:
        table = None
    if table is None or (table.shape[0] and table.shape[1] != width):
        for number, line in data_lines(text, size_line, comment="%"):
            cells = line.split()
            if len(cells) != width:
                raise GatError(f"expected {width} numbers per entry ('row column"
                               f"{'' if width == 2 else ' value'}'), found {len(cells)}",
                               f"{name}:{number}")
            for k, cell in enumerate(cells, 1):
                if not _is_number(cell):
                    raise GatError(f"{cell!r} is not a number", f"{name}:{number}:{k}")
        raise GatError("could not parse the entries", name)
    if table.shape[0] != entries:
        raise GatError(f"the size line announces {entries} entries, found {table.shape[0]}",
                       f"{name}:{size_line}")
    index = table[:, :2]
    bad = ~((index >= 1) & (index <= n_nodes) & (index == np.floor(index))).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        line = _line_of_row(text, size_line, row, comment="%")
        raise GatError(f"entry ({_cell(index[row, 0])}, {_cell(index[row, 1])}) is not a "
                       f"pair of integers in 1..{n_nodes} (Matrix Market counts from 1)",
                       f"{name}:{line}")
    i = index[:, 0].astype(np.int64) - 1
    j = index[:, 1].astype(np.int64) - 1
    values = np.ones(entries) if width == 2 else table[:, 2]
    if symmetry != "general":
        mirror = i != j
        sign = -1.0 if symmetry == "skew-symmetric" else 1.0
        i, j = np.concatenate([i, j[mirror]]), np.concatenate([j, i[mirror]])
        values = np.concatenate([values, sign * values[mirror]])
    return sp.coo_array((values, (i, j)), shape=(n_nodes, n_nodes))


def _cell(value: float) -> str:
    return str(int(value)) if np.isfinite(value) and value == np.floor(value) else repr(value)


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
                       f"{name}:{_line_of_row(text, skip, row)}:{col + 1}")
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
