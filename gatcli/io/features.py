"""Node features: CSV/TSV/whitespace tables with a header, ``.npy`` arrays, or sparse
matrices (``save_npz`` ``.npz``, svmlight/libsvm text: :mod:`gatcli.io.sparse_features`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from gatcli.errors import GatError
from gatcli.io.embeddings_npz import is_embeddings_npz, read_embeddings_npz
from gatcli.io.formats import DELIMITERS, features_format, sniff_text_format
from gatcli.io.source import (
    NPY_MAGIC,
    display_name,
    load_numpy,
    not_this_format,
    open_input,
    read_bytes,
)
from gatcli.io.sparse_features import (
    looks_like_svmlight,
    parse_svmlight,
    read_sparse_features_npz,
    read_svmlight,
)
from gatcli.io.text_table import (
    data_lines,
    decode_text,
    is_number,
    line_of_row,
    loadtxt,
    split_fields,
    text_and_delimiter,
)

ID_COLUMNS = ("id", "node")


@dataclass
class Features:
    """Node features and identities.

    values: (N, F) floats, a dense array or (sparse files) a scipy.sparse CSR array.
    ids: (N,) str array of node ids from an ``id``/``node`` column, or None when rows are
    nodes 0..N-1. id_column: that column's header (None if absent).
    columns: the F feature column names. notes: what the reader decided that the user
    should hear about (e.g. the index base of an svmlight file).
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


def read_features(path: str, *, allow_nonfinite: bool = False,
                  svmlight_base: str = "auto") -> Features:
    """Features from a CSV/TSV/whitespace table with a header, an ``.npy`` (N, F) array, a
    sparse ``save_npz`` ``.npz``, gat's embeddings ``.npz`` (``embeddings`` + ``ids``, see
    :mod:`gatcli.io.embeddings_npz`) or svmlight/libsvm text (sparse: ``values`` is CSR).

    A first column named ``id`` or ``node`` holds node ids (strings allowed); otherwise row
    k is node k (always for ``.npy``, ``.npz`` and svmlight). NaN/inf are errors unless
    ``allow_nonfinite``. svmlight_base: the index base of svmlight files ("auto", "0", "1";
    see :mod:`gatcli.io.sparse_features`). Stdin holds a table or svmlight text.
    """
    fmt = features_format(path)
    if fmt == "npy":
        return _read_features_npy(path, allow_nonfinite)
    if fmt == "npz":
        if is_embeddings_npz(path):  # gat's own embeddings + ids, not scipy.sparse
            return _embeddings(path, allow_nonfinite)
        return _sparse(read_sparse_features_npz(path, allow_nonfinite=allow_nonfinite))
    if fmt == "svmlight":
        return _svmlight(*read_svmlight(path, allow_nonfinite=allow_nonfinite,
                                        base=svmlight_base), path)
    name = display_name(path)
    what = "a features table with a header line"
    if fmt == "text":  # stdin: a table or svmlight, told apart by the first data line
        text = decode_text(read_bytes(path, what), path, what)
        first_line = next(data_lines(text), (0, ""))[1]
        if looks_like_svmlight(first_line):
            return _svmlight(*parse_svmlight(text, name, allow_nonfinite=allow_nonfinite,
                                             base=svmlight_base), path)
        delimiter = DELIMITERS[sniff_text_format(first_line)]
    else:
        text, delimiter = text_and_delimiter(path, fmt, what)
    first = next(data_lines(text), None)
    if first is None:
        raise GatError(f"only comments and blank lines; expected {what}", name)
    header_line, header = first
    columns = split_fields(header, delimiter)
    if all(is_number(c) for c in columns):
        raise GatError("the first line holds numbers; a features file needs a header line "
                       "(e.g. id,f0,f1,...)", f"{name}:{header_line}")
    has_id = columns[0].lower() in ID_COLUMNS
    feature_columns = columns[1:] if has_id else columns
    if not feature_columns:
        raise GatError("no feature columns (only an id column)", f"{name}:{header_line}")
    ncol = len(columns)
    try:
        values = loadtxt(text, delimiter, header_line, dtype=np.float64,
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
        ids = loadtxt(text, delimiter, header_line, dtype=str, usecols=0)[:, 0]
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
            if not is_number(fields[k]):
                raise GatError(f"column {columns[k]!r}: {fields[k]!r} is not a number",
                               f"{name}:{number}:{k + 1}")


def _check_ids(ids: np.ndarray, text: str, header_line: int, name: str) -> None:
    empty = np.flatnonzero(ids == "")
    if empty.size:
        raise GatError("empty node id", f"{name}:{line_of_row(text, header_line, empty[0])}")
    order = np.argsort(ids, kind="stable")
    same = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    if same.size:
        first, second = sorted((int(order[same[0]]), int(order[same[0] + 1])))
        line_a = line_of_row(text, header_line, first)
        line_b = line_of_row(text, header_line, second)
        raise GatError(f"duplicate node id {str(ids[first])!r} (first on line {line_a})",
                       f"{name}:{line_b}")


def _check_finite(values: np.ndarray, text: str | None, header_line: int,
                  columns: list[str], name: str, first_column: int = 0) -> None:
    """Raise for the first NaN/inf, naming its line and column (text) or row and column
    (arrays); ``first_column`` is the 0-based text column of ``values[:, 0]``."""
    rows = max(1, (1 << 22) // max(1, values.shape[1]))  # in slices: no (N, F) temporaries
    for first in range(0, values.shape[0], rows):
        bad = ~np.isfinite(values[first : first + rows])
        if bad.any():
            break
    else:
        return
    row, col = (int(v) for v in np.argwhere(bad)[0])
    row += first
    value = values[row, col]
    advice = "use --allow-nonfinite to accept it"
    if text is None:
        raise GatError(f"row {row}, column {col} (counting from 0) is {value} (not finite); "
                       f"{advice}", name)
    where = f"{name}:{line_of_row(text, header_line, row)}:{first_column + col + 1}"
    raise GatError(f"column {columns[col]!r} is {value} (not finite); {advice}", where)


def _mapped_npy(path: str) -> np.ndarray | None:
    """A regular .npy file memory-mapped read-only (pages read as the layers use them), or
    None when it cannot be (then it is read into memory, and its errors reported there)."""
    try:
        values = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception:  # damaged: load_numpy reports it
        return None
    return values if isinstance(values, np.ndarray) and values.dtype.kind in "biuf" else None


def _read_features_npy(path: str, allow_nonfinite: bool) -> Features:
    name = display_name(path)
    what = "a features .npy array (nodes x features)"
    with open_input(path, what) as handle:
        head = handle.read(16)
        if not head.startswith(NPY_MAGIC):
            raise GatError(not_this_format(head, what), name)
        handle.seek(0)
        values = _mapped_npy(path) if os.path.isfile(path) else None
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
        _check_finite(values, None, 0, [f"{k}" for k in range(values.shape[1])], name)
    return Features(values, None, None, [f"f{k}" for k in range(values.shape[1])])


def _embeddings(path: str, allow_nonfinite: bool) -> Features:
    values, ids = read_embeddings_npz(path)
    columns = [f"h{k}" for k in range(values.shape[1])]
    if not allow_nonfinite and np.issubdtype(values.dtype, np.inexact):
        _check_finite(values, None, 0, columns, display_name(path))
    return Features(values, ids, None if ids is None else "id", columns)


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

