"""Sparse node features: ``scipy.sparse.save_npz`` archives and svmlight/libsvm text.

Both give a CSR matrix X: (N, F) whose row k is node k (like an ``.npy`` features array or
the adjacency ``.npz``), never a dense array. Checked here: indices inside the declared
shape, no entry stored twice, finite values (unless allowed).

svmlight / libsvm (what ``sklearn.datasets.load_svmlight_file`` reads), one node a line::

    <label> [qid:<q>] <index>:<value> <index>:<value> ...   [# comment]

- the label (the first token, when it has no ``:``) is ignored: node k is the k-th data
  line (blank and comment-only lines are not nodes); a line may also start directly with
  its pairs, or hold only a label (a node without features);
- ``qid:<q>`` is ignored; indices are integers in any order, each at most once a line;
- index base: ``"auto"`` (as scikit-learn: one-based, libsvm's convention, unless some
  index is 0), ``0`` or ``1``; F = the largest index + 1 (zero-based) or the largest index
  (one-based).
"""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp

from gatcli.errors import GatError
from gatcli.io.source import display_name, read_bytes
from gatcli.io.sparse_matrix import read_save_npz
from gatcli.io.text_table import data_lines, decode_text, is_number

SPARSE_FEATURES_NPZ = "a sparse features matrix (nodes x features) saved with scipy.sparse.save_npz"
SVMLIGHT = "svmlight/libsvm features ('label index:value ...' per node)"
#: index bases of the svmlight reader
SVMLIGHT_BASES = ("auto", "0", "1")
#: Largest feature index accepted in svmlight text (int32 indices; a typo such as 1e12
#: would otherwise ask for a weight matrix of that width).
MAX_FEATURE_INDEX = 2**31 - 2

_PAIR = re.compile(r"[^\s:#]+:[^\s:#]+")


def read_sparse_features_npz(path: str, *, allow_nonfinite: bool = False) -> sp.csr_array:
    """X: (N, F) CSR from a ``save_npz`` file (any of its formats), validated."""
    name = display_name(path)

    def check_shape(rows: int, cols: int, name: str) -> None:
        if rows == 0 or cols == 0:
            raise GatError(f"empty features matrix of shape {rows} x {cols}; expected at "
                           "least one node and one feature", name)

    matrix = read_save_npz(path, check_shape, SPARSE_FEATURES_NPZ)
    if matrix.dtype.kind not in "biuf":
        raise GatError(f"expected a matrix of real numbers, found dtype {matrix.dtype}", name)
    coo = sp.coo_array(matrix)
    _check_unique(coo.row, coo.col, coo.shape[1], name)
    if not allow_nonfinite and coo.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(coo.data))
        if bad.size:
            k = bad[np.lexsort((coo.col[bad], coo.row[bad]))[0]]
            raise GatError(f"row {coo.row[k]}, column {coo.col[k]} (counting from 0) is "
                           f"{coo.data[k]} (not finite); use --allow-nonfinite to accept it",
                           name)
    return sp.csr_array(matrix)


def _check_unique(rows: np.ndarray, cols: np.ndarray, width: int, name: str) -> None:
    """Raise for the first (row, column) stored more than once."""
    keys = rows.astype(np.int64) * width + cols.astype(np.int64)
    ordered = np.sort(keys)
    same = ordered[1:] == ordered[:-1]
    if same.any():
        key = int(ordered[1:][same].min())
        raise GatError(f"row {key // width}, column {key % width} (counting from 0) is "
                       "stored more than once; expected each entry once (scipy would add "
                       "them: sum_duplicates() first if that is meant)", name)


# -- svmlight / libsvm ---------------------------------------------------------------------


def looks_like_svmlight(line: str) -> bool:
    """Whether a first data line is svmlight (``label index:value ...``), for stdin."""
    if "," in line:
        return False
    tokens = line.split("#", 1)[0].split()
    return any(_PAIR.fullmatch(t) and not t.startswith("qid:") for t in tokens)


def read_svmlight(path: str, *, allow_nonfinite: bool = False,
                  base: str = "auto") -> tuple[sp.csr_array, int]:
    """(X: (N, F) CSR float64, the index base used) from svmlight/libsvm text (see the module
    docstring); ``path`` may be ``-`` (stdin) and gzipped."""
    if base not in SVMLIGHT_BASES:
        raise ValueError(f"base must be one of {SVMLIGHT_BASES}, got {base!r}")
    text = decode_text(read_bytes(path, SVMLIGHT), path, SVMLIGHT)
    return parse_svmlight(text, display_name(path), allow_nonfinite=allow_nonfinite,
                          base=base)


def parse_svmlight(text: str, name: str, *, allow_nonfinite: bool = False,
                   base: str = "auto") -> tuple[sp.csr_array, int]:
    """:func:`read_svmlight` on decoded text; ``name`` names the source in errors."""
    counts: list[int] = []
    pairs: list[str] = []
    numbers: list[int] = []
    for number, line in data_lines(text):
        tokens = line.split("#", 1)[0].split()
        if not tokens:  # e.g. "  # a comment"
            continue
        if ":" not in tokens[0]:
            tokens = tokens[1:]  # the label: ignored
        if tokens and tokens[0].startswith("qid:"):
            tokens = tokens[1:]
        counts.append(len(tokens))
        pairs += tokens
        numbers.append(number)
    if not counts:
        raise GatError(f"only comments and blank lines; expected {SVMLIGHT}", name)
    indices, values = _split_pairs(pairs, counts, numbers, name)
    rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    _check_svmlight_indices(indices, rows, base, numbers, name)
    used = 1 if base == "1" or (base == "auto" and not (indices == 0).any()) else 0
    cols = indices - used
    width = int(cols.max()) + 1 if cols.size else 1
    _check_svmlight_unique(rows, cols, indices, width, numbers, name)
    if not allow_nonfinite:
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            k = int(bad[0])
            raise GatError(f"feature {indices[k]} is {values[k]} (not finite); use "
                           "--allow-nonfinite to accept it", f"{name}:{numbers[rows[k]]}")
    matrix = sp.csr_array((values, (rows, cols)), shape=(len(counts), width))
    matrix.sort_indices()
    return matrix, used


def _split_pairs(pairs: list[str], counts: list[int], numbers: list[int],
                 name: str) -> tuple[np.ndarray, np.ndarray]:
    """'index:value' tokens -> (indices int64, values float64); the first bad token is a
    GatError naming its line."""
    try:
        halves = np.array(" ".join(pairs).replace(":", " ").split(), dtype=str)
        if halves.size != 2 * len(pairs) or any(p.count(":") != 1 for p in pairs):
            raise ValueError
        indices = halves[0::2].astype(np.int64)
        values = halves[1::2].astype(np.float64)
        return indices, values
    except (ValueError, OverflowError):
        pass
    ends = np.cumsum(counts)
    for k, token in enumerate(pairs):
        line = numbers[int(np.searchsorted(ends, k, side="right"))]
        index, sep, value = token.partition(":")
        if not sep or ":" in value:
            raise GatError(f"{token!r} is not an index:value pair", f"{name}:{line}")
        try:
            int(index)
        except ValueError:
            raise GatError(f"{token!r}: feature index {index!r} is not an integer",
                           f"{name}:{line}") from None
        if not is_number(value):
            raise GatError(f"{token!r}: value {value!r} is not a number",
                           f"{name}:{line}")
    raise GatError("could not parse the features", name)


def _check_svmlight_indices(indices: np.ndarray, rows: np.ndarray, base: str,
                            numbers: list[int], name: str) -> None:
    lowest = 1 if base == "1" else 0
    bad = np.flatnonzero((indices < lowest) | (indices > MAX_FEATURE_INDEX))
    if bad.size:
        k = int(bad[0])
        if indices[k] > MAX_FEATURE_INDEX:
            expected = f"at most {MAX_FEATURE_INDEX}"
        elif base == "1":
            expected = "at least 1 (--svmlight-base 1: indices count from 1)"
        else:
            expected = "a non-negative integer"
        raise GatError(f"feature index {indices[k]}: expected {expected}",
                       f"{name}:{numbers[rows[k]]}")


def _check_svmlight_unique(rows: np.ndarray, cols: np.ndarray, indices: np.ndarray,
                           width: int, numbers: list[int], name: str) -> None:
    """Raise for the first line (in file order) with an index given twice."""
    keys = rows * width + cols
    ordered = np.sort(keys)
    same = ordered[1:] == ordered[:-1]
    if same.any():
        key = int(ordered[1:][same].min())  # the smallest key: the earliest such line
        k = int(np.flatnonzero(keys == key)[0])
        raise GatError(f"feature index {indices[k]} appears twice on this line; expected "
                       "each index once", f"{name}:{numbers[rows[k]]}")
