"""Text tables out: embeddings and attention as CSV/TSV, the numpy and polars paths side by side.

The text is defined by the numpy path; the polars path (``gatcli[fast]``) writes the same bytes:

- numbers: the shortest text that reads back to the same float of the array's dtype, as numpy
  writes it (``values.astype(str)``: ``0.1``, ``-0.0``, ``1e-05``, ``1.5e+20``, ``nan``,
  ``inf``). polars' float-to-text agrees with numpy's digit for digit where numpy writes a
  plain decimal (``1e-4 <= |x| < 1e6`` for float32, ``< 1e16`` for float64, and zeros); the
  few other values (tiny, huge, subnormal, NaN, inf) are formatted by numpy in both paths.
- fields: RFC 4180 quoting. A field holding the delimiter, a double quote, CR, LF or ``#``
  (gat's comment sign), or starting or ending with white space, is written in double quotes
  with every ``"`` doubled; other fields as they are. Quoting is decided once per id (not per
  row), by the same code for both paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import BinaryIO

import numpy as np

from gatcli.graph import Graph
from gatcli.io.fast import SMALL_OUTPUT_CELLS, polars_for_size

ROWS_PER_CHUNK = 1 << 16

#: |x| range where numpy writes a plain decimal and polars writes the same digits, per dtype;
#: a margin at both ends keeps every value numpy might write in scientific notation out of it
_POLARS_AGREES = {
    np.dtype(np.float32): (np.float64(1.0001e-4), np.float64(0.9999e6)),
    np.dtype(np.float64): (np.float64(1.0001e-4), np.float64(0.9999e16)),
}

_MUST_QUOTE = '"\r\n#'


def float_text(values: np.ndarray) -> np.ndarray:
    """Shortest round-trip text of every number (vectorised by numpy's own repr)."""
    return values.astype(str)


def needs_quotes(field: str, sep: str) -> bool:
    """Whether ``field`` must be quoted to read back as itself (see the module docstring)."""
    return (field != field.strip() or sep in field
            or any(special in field for special in _MUST_QUOTE))


_WHITE_SPACE: np.ndarray | None = None


def _white_space() -> np.ndarray:
    """The code points that ``str.strip`` removes."""
    global _WHITE_SPACE
    if _WHITE_SPACE is None:
        _WHITE_SPACE = np.array([c for c in range(0x3100) if chr(c).isspace()], np.uint32)
    return _WHITE_SPACE


def _code_points(texts: np.ndarray) -> np.ndarray:
    """(n, width) uint32 code points of a numpy str array, zero-padded."""
    return np.ascontiguousarray(texts).view(np.uint32).reshape(len(texts), -1)


def quote_fields(texts: np.ndarray | Sequence[str], sep: str) -> np.ndarray:
    """(n,) str: RFC 4180 fields, quoted where needed (see the module docstring).

    For example the id ``a,b`` is written ``"a,b"`` and `` x`` is written ``" x"``.
    """
    texts = np.asarray(texts, dtype=str)
    if texts.size == 0 or texts.dtype.itemsize == 0:
        return texts
    codes = _code_points(texts)
    special = np.array([ord(c) for c in sep + _MUST_QUOTE], np.uint32)
    lengths = np.char.str_len(texts)
    ends = codes[np.arange(len(texts)), np.maximum(lengths - 1, 0)]
    # a vectorised first pass (usually nothing needs quotes), then exact per-field checks
    suspect = (np.isin(codes, special).any(axis=1) | np.isin(codes[:, 0], _white_space())
               | np.isin(ends, _white_space()))
    if not suspect.any():
        return texts
    quoted = texts.astype(object)
    for k in np.flatnonzero(suspect):
        field = str(texts[k])
        if needs_quotes(field, sep):
            quoted[k] = '"' + field.replace('"', '""') + '"'
    return quoted.astype(str)


class Texts:
    """(N,) quoted fields (node ids), converted to polars once however many rows use them."""

    def __init__(self, fields: np.ndarray) -> None:
        self.fields = fields
        self._series = None

    def series(self, pl: ModuleType):
        if self._series is None:
            self._series = pl.Series(self.fields.tolist(), dtype=pl.String)
        return self._series


@dataclass(frozen=True)
class TextColumn:
    """Row k holds ``texts[index[k]]`` (node ids per edge), or ``texts[k]`` without index."""

    texts: Texts
    index: np.ndarray | None = None


@dataclass(frozen=True)
class Constant:
    """A column holding the same text on every row."""

    text: str


#: a table column: text, constant text, or numbers: (n,) or (n, k) floats
Column = TextColumn | Constant | np.ndarray

Rows = slice | np.ndarray


def write_table(out: BinaryIO, columns: Sequence[Column], n_rows: int, sep: str) -> None:
    """Write ``n_rows`` rows of the cells of ``columns`` (text already quoted), in chunks.

    The polars path is used when :func:`gatcli.io.fast.polars_for_size` gives polars (not
    for a small table: :data:`gatcli.io.fast.SMALL_OUTPUT_CELLS`); the bytes are the same
    either way.
    """
    cells = n_rows * sum(1 if not isinstance(col, np.ndarray) else
                         int(np.prod(col.shape[1:], dtype=np.int64)) for col in columns)
    pl = polars_for_size(cells, SMALL_OUTPUT_CELLS)
    for start in range(0, n_rows, ROWS_PER_CHUNK):
        rows = slice(start, min(start + ROWS_PER_CHUNK, n_rows))
        text = _text_numpy(columns, rows, sep) if pl is None else _text_polars(
            pl, columns, rows, sep)
        out.write(text.encode("utf-8"))


def _texts(col: TextColumn, rows: Rows) -> np.ndarray:
    return col.texts.fields[rows if col.index is None else col.index[rows]]


def _floats(col: np.ndarray, rows: Rows) -> np.ndarray:
    """The selected rows of a float column as (n, k)."""
    piece = col[rows]
    return piece.reshape(piece.shape[0], -1)


def _n_rows(rows: Rows) -> int:
    return rows.stop - rows.start if isinstance(rows, slice) else len(rows)


def _text_numpy(columns: Sequence[Column], rows: Rows, sep: str) -> str:
    """The CSV text of ``rows``, a line each (the definition of the output)."""
    n = _n_rows(rows)
    parts = []
    for col in columns:
        if isinstance(col, Constant):
            parts.append(np.full((n, 1), col.text))
        elif isinstance(col, TextColumn):
            parts.append(_texts(col, rows).reshape(n, 1))
        else:
            parts.append(float_text(_floats(col, rows)))
    block = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    return "".join(sep.join(row) + "\n" for row in block.tolist())


def _polars_agrees(values: np.ndarray) -> np.ndarray:
    """(n, k) bool: where polars writes ``values`` (n, k) as numpy does (see _POLARS_AGREES)."""
    bounds = _POLARS_AGREES.get(values.dtype)
    if bounds is None:
        return np.zeros(values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        magnitude = np.abs(values)
        return ((magnitude >= bounds[0]) & (magnitude < bounds[1])) | (values == 0)


#: rows per chunk that polars may leave to numpy before the chunk is written as text columns
#: (each such row costs two more polars write_csv calls, ~1 ms each; casting a float column
#: of a 64k-row chunk to text costs a few ms: attention CSV at 1M edges, where ~0.3% of the
#: alphas are under 1e-4, was written 1.6-2.6x faster with 8 than with 64)
_ODD_ROWS_APART = 8


def _text_polars(pl: ModuleType, columns: Sequence[Column], rows: slice, sep: str) -> str:
    """The same text as :func:`_text_numpy`, written by polars.

    polars writes the rows whose numbers it formats as numpy does; the rows between them
    (usually a handful: tiny, huge, NaN, inf) are written by numpy in their places. A chunk
    with many such rows has its odd cells replaced by numpy's text instead.
    """
    n = _n_rows(rows)
    agree = [_polars_agrees(_floats(col, rows)) for col in columns
             if isinstance(col, np.ndarray)]
    odd = np.zeros(n, dtype=bool)
    for mask in agree:
        odd |= ~mask.all(axis=1)
    odd_rows = np.flatnonzero(odd)
    if odd_rows.size > _ODD_ROWS_APART:
        return _polars_csv(pl, _polars_frame(pl, columns, rows, agree), sep)
    frame = _polars_frame(pl, columns, rows)
    pieces = []
    previous = 0
    for row in odd_rows.tolist():
        if row > previous:
            pieces.append(_polars_csv(pl, frame.slice(previous, row - previous), sep))
        pieces.append(_text_numpy(columns, np.array([rows.start + row]), sep))
        previous = row + 1
    if previous < n:
        pieces.append(_polars_csv(pl, frame.slice(previous, n - previous), sep))
    return "".join(pieces)


def _polars_csv(pl: ModuleType, frame, sep: str) -> str:
    return frame.write_csv(include_header=False, separator=sep, quote_style="never",
                           line_terminator="\n")


def _polars_frame(pl: ModuleType, columns: Sequence[Column], rows: slice,
                  agree: list[np.ndarray] | None = None):
    """A polars DataFrame of ``rows``: text as String, numbers as floats; with ``agree`` (per
    float column, (n, k) bool) a float column with a False cell becomes String, with
    numpy's text in those cells."""
    n = _n_rows(rows)
    series = []
    floats = 0
    for col in columns:
        if isinstance(col, Constant):
            series.append(pl.repeat(col.text, n, dtype=pl.String, eager=True))
        elif isinstance(col, TextColumn):
            whole = col.texts.series(pl)
            if col.index is None:
                series.append(whole.slice(rows.start, n))
            else:
                series.append(whole.gather(col.index[rows]))
        else:
            values = _floats(col, rows)
            for j in range(values.shape[1]):
                column = pl.Series(np.ascontiguousarray(values[:, j]))
                if agree is not None and not agree[floats][:, j].all():
                    other = np.flatnonzero(~agree[floats][:, j])
                    column = column.cast(pl.String).scatter(
                        other, pl.Series(float_text(values[other, j]), dtype=pl.String))
                series.append(column)
            floats += 1
    return pl.DataFrame({f"c{k}": s for k, s in enumerate(series)})


def header_line(names: Sequence[str], sep: str) -> bytes:
    """The header row of ``names``, quoted as the data rows are."""
    return (sep.join(quote_fields(list(names), sep).tolist()) + "\n").encode("utf-8")


def write_embeddings_text(out: BinaryIO, embeddings: np.ndarray, ids: np.ndarray,
                          id_column: str, sep: str) -> None:
    """Header ``id_column,h0,...,h{C-1}``, then one row per node: its id, its C values.

    embeddings: (N, C); ids: (N,) the ids as text.
    """
    names = [id_column] + [f"h{k}" for k in range(embeddings.shape[1])]
    out.write(header_line(names, sep))
    write_table(out, [TextColumn(Texts(quote_fields(ids, sep))), embeddings],
                embeddings.shape[0], sep)


ATTENTION_COLUMNS = ("layer", "head", "target", "source", "alpha")


def write_attention_header(out: BinaryIO, sep: str) -> None:
    out.write(header_line(ATTENTION_COLUMNS, sep))


def write_attention_rows(out: BinaryIO, layer: int, graph: Graph, alpha: np.ndarray,
                         ids: Texts, sep: str) -> None:
    """Rows ``layer,head,target,source,alpha`` of one layer, grouped by head then target.

    alpha: (E, H) in ``graph``'s CSR order; ids: the (N,) ids quoted by :func:`quote_fields`.
    """
    targets = TextColumn(ids, graph.targets())
    sources = TextColumn(ids, graph.sources)
    for h in range(alpha.shape[1]):
        write_table(out, [Constant(str(layer)), Constant(str(h)), targets, sources,
                          np.ascontiguousarray(alpha[:, h])], graph.n_edges, sep)
