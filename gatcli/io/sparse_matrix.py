"""Sparse adjacency matrices: scipy ``save_npz`` archives and Matrix Market files."""

from __future__ import annotations

import codecs
import io
import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from gatcli.errors import GatError
from gatcli.io.numpy_files import NpzArchive
from gatcli.io.source import display_name, load_numpy, not_this_format, open_binary, read_bytes
from gatcli.io.text_table import data_lines, decode_text, is_number, line_of_row


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
    """The adjacency of a ``save_npz`` file, validated array by array."""
    return read_save_npz(path, lambda rows, cols, name:
                         _check_adjacency_shape((rows, cols), n_nodes, name))


def read_save_npz(path: str, check_shape: Callable[[int, int, str], None],
                  what: str = SAVE_NPZ) -> sp.sparray:
    """The matrix of a ``scipy.sparse.save_npz`` file (csr, csc, bsr, coo or dia), validated
    array by array; ``check_shape(rows, cols, name)`` raises a :class:`GatError` for a
    declared shape the caller cannot use, before anything of that size is allocated.

    Every index is checked in int64 against the declared shape before scipy sees it, so a
    damaged or hostile file is a GatError, never a crash. Duplicate entries are kept (the
    caller decides whether they are an error).
    """
    name = display_name(path)
    with open_binary(path, what) as handle:
        head = handle.read(4)
        if head != b"PK\x03\x04":
            raise GatError(not_this_format(head + handle.read(12), what), name)
        handle.seek(0)
        arrays = load_numpy(handle, name, what, lambda archive: _check_members(archive, what))
    if not isinstance(arrays, dict):
        raise GatError(f"a single .npy array, not {what}", name)
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
    n_rows, n_cols = int(shape[0]), int(shape[1])
    check_shape(n_rows, n_cols, name)
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
                _check_indices(row, n_rows, "row")
                _check_indices(col, n_cols, "col")
                matrix = sp.coo_array((data, (row.astype(np.int64), col.astype(np.int64))),
                                      shape=(n_rows, n_cols))
            elif fmt == "dia":
                data, offsets = parts
                if data.ndim != 2 or data.shape[0] != offsets.shape[0]:
                    raise ValueError("data must be 2-D with one row per offset")
                if np.unique(offsets).shape != offsets.shape:
                    raise ValueError("repeated offsets")
                matrix = sp.dia_array((data, offsets.astype(np.int64)),
                                      shape=(n_rows, n_cols))
            else:
                data, indices, indptr = parts
                block = data.shape[1:] if fmt == "bsr" else ()
                if fmt == "bsr" and (len(block) != 2 or 0 in block
                                     or n_rows % block[0] or n_cols % block[1]):
                    raise ValueError(f"bsr blocks of shape {block} do not tile the matrix")
                # csr/bsr: indptr runs over rows, indices are columns; csc the other way
                major, minor = (n_cols, n_rows) if fmt == "csc" else (n_rows, n_cols)
                if block:
                    major, minor = n_rows // block[0], n_cols // block[1]
                if data.ndim != 1 + len(block) or data.shape[0] != indices.shape[0]:
                    raise ValueError("data and indices differ in length")
                ptr = indptr.astype(np.int64)
                if (ptr.shape != (major + 1,) or ptr[0] != 0 or ptr[-1] != indices.shape[0]
                        or (np.diff(ptr) < 0).any()):
                    raise ValueError(f"indptr must rise from 0 to {indices.shape[0]} in "
                                     f"{major + 1} steps")
                _check_indices(indices, minor, "indices")
                cls = {"csr": sp.csr_array, "csc": sp.csc_array, "bsr": sp.bsr_array}[fmt]
                matrix = cls((data, indices.astype(np.int64), ptr), shape=(n_rows, n_cols))
    except (ValueError, TypeError, IndexError, OverflowError, RuntimeWarning) as exc:
        raise GatError(f"inconsistent {fmt} matrix arrays ({exc})", name) from None
    return matrix


#: every member ``save_npz`` writes (``coords``: an n-D coo array; ``_is_array``: sparray)
SAVE_NPZ_MEMBERS = {"format", "shape", "data", "_is_array", "coords",
                    *(key for keys in SPARSE_NPZ_KEYS.values() for key in keys)}
#: members holding one small value
SMALL_MEMBERS = ("format", "shape", "_is_array")


def _check_members(archive: NpzArchive, what: str) -> None:
    """Refuse a ``save_npz`` archive by its member names and header shapes, before any array
    is loaded (an unknown member of gigabytes is never read)."""
    headers = archive.headers
    if "format" not in headers:
        found = ", ".join(key if len(key) <= 30 else key[:27] + "..."
                          for key in sorted(headers)[:6]) or "none"
        raise GatError(f"no 'format' key (found: {found}); expected {what} (a dense "
                       "array must be converted with scipy.sparse.csr_array first)",
                       archive.name)
    for key, header in headers.items():
        if key not in SAVE_NPZ_MEMBERS:
            raise GatError(f"unexpected member ({header.describe()}); expected {what}, "
                           f"whose members are {', '.join(sorted(SAVE_NPZ_MEMBERS))}",
                           archive.where(key))
        if key in SMALL_MEMBERS and header.count > 2:
            raise GatError(f"the header claims {header.describe()}; expected at most two "
                           "values", archive.where(key))


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
    if data.startswith(codecs.BOM_UTF8):  # (a BOM is accepted as in every text input)
        data = data[len(codecs.BOM_UTF8):]
    if not data.lstrip().lower().startswith(b"%%matrixmarket"):
        raise GatError(not_this_format(data[:16], what) if data and data[:1] != b"%"
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
                if not is_number(cell):
                    raise GatError(f"{cell!r} is not a number", f"{name}:{number}:{k}")
        raise GatError("could not parse the entries", name)
    if table.shape[0] != entries:
        raise GatError(f"the size line announces {entries} entries, found {table.shape[0]}",
                       f"{name}:{size_line}")
    index = table[:, :2]
    bad = ~((index >= 1) & (index <= n_nodes) & (index == np.floor(index))).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        line = line_of_row(text, size_line, row, comment="%")
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
