"""Text tables out: embeddings and attention as CSV/TSV, the numpy and polars paths side by side.

The text is defined by the numpy path; the polars path (``gatcli[fast]``) writes the same bytes:

- numbers: the shortest text that reads back to the same float of the array's dtype, as numpy
  writes it (``values.astype(str)``: ``0.1``, ``-0.0``, ``1e-05``, ``1.5e+20``, ``nan``,
  ``inf``). polars' float-to-text agrees with numpy's digit for digit where numpy writes a
  plain decimal (``1e-4 <= |x| < 1e6`` for float32, ``< 1e16`` for float64, and zeros); the
  few other values (tiny, huge, subnormal, NaN, inf: "odd cells") are formatted by numpy in
  both paths. polars writes an odd cell as null, shown as a placeholder: a control character
  that occurs in no id of the table (nor is the separator); the placeholders are then
  replaced, in order, by numpy's text of those cells, on the bytes. Should the ids hold every
  such character, a chunk with odd cells is written by numpy instead.
- integers (ids that are row numbers, or integer ids): decimal, by both paths.
- fields: RFC 4180 quoting. A field holding the delimiter, a double quote, CR, LF or ``#``
  (gat's comment sign), or starting or ending with white space, is written in double quotes
  with every ``"`` doubled; other fields as they are. Quoting is decided once per id (not per
  row), by the same code for both paths.

Tables are written in chunks (:data:`ROWS_PER_CHUNK` rows by numpy, about
:data:`POLARS_CELLS_PER_CHUNK` cells by polars), each chunk's text handed to ``out`` at once,
so memory stays within a chunk's text and frame whatever the table's length.
"""

from __future__ import annotations

import functools
import io
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
    """(N,) fields of a text column (node ids), converted to polars once however many rows
    use them.

    fields: (N,) str, already quoted (:func:`quote_fields`), or (N,) integers, written in
    decimal (they never need quotes). :meth:`positions` makes the ids 0..N-1 without an
    array of them to index.
    """

    def __init__(self, fields: np.ndarray) -> None:
        self.fields = fields
        self.numbers = fields.dtype.kind in "iu"
        self.is_positions = False
        self._text: np.ndarray | None = None
        self._series = None
        self._controls: frozenset[str] | None = None

    @classmethod
    def positions(cls, n: int) -> Texts:
        """The ids 0..n-1 (rows are nodes)."""
        texts = cls(np.arange(n, dtype=np.int32 if n < 2 ** 31 else np.int64))
        texts.is_positions = True
        return texts

    def text(self) -> np.ndarray:
        """(N,) str: the fields as written."""
        if self._text is None:
            self._text = self.fields.astype(str) if self.numbers else self.fields
        return self._text

    def column(self, pl: ModuleType, index: Rows):
        """A polars Series of the fields ``index`` selects: String, or integers."""
        if self.numbers:
            return pl.Series(index if self.is_positions and not isinstance(index, slice)
                             else self.fields[index])
        if self._series is None:
            self._series = pl.Series(self.fields.tolist(), dtype=pl.String)
        if isinstance(index, slice):
            return self._series.slice(index.start, index.stop - index.start)
        return self._series.gather(index)

    def controls(self) -> frozenset[str]:
        """The control characters (code points 1-31) that occur in the fields."""
        if self._controls is None:
            found: frozenset[str] = frozenset()
            if not self.numbers and self.fields.size and self.fields.dtype.itemsize:
                codes = _code_points(self.fields)
                found = frozenset(chr(c) for c in np.unique(codes[(codes > 0) & (codes < 32)]))
            self._controls = found
        return self._controls


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

#: cells per chunk of the polars path: about 3 MB of attention text (100k rows), the frame
#: 1-2 MB. Smaller chunks keep polars' threads less busy (at 1M edges x 8 heads, 64k cells
#: per chunk took 2.6x as long as 1M cells); larger ones hold more memory for no gain
POLARS_CELLS_PER_CHUNK = 1 << 19


def _cells_per_row(columns: Sequence[Column]) -> int:
    return sum(1 if not isinstance(col, np.ndarray) else
               int(np.prod(col.shape[1:], dtype=np.int64)) for col in columns)


def write_table(out: BinaryIO, columns: Sequence[Column], n_rows: int, sep: str) -> None:
    """Write ``n_rows`` rows of the cells of ``columns`` (text already quoted), in chunks.

    The polars path is used when :func:`gatcli.io.fast.polars_for_size` gives polars (not
    for a small table: :data:`gatcli.io.fast.SMALL_OUTPUT_CELLS`); the bytes are the same
    either way. Chunks: :data:`ROWS_PER_CHUNK` rows (numpy), about
    :data:`POLARS_CELLS_PER_CHUNK` cells (polars).
    """
    per_row = _cells_per_row(columns)
    pl = polars_for_size(n_rows * per_row, SMALL_OUTPUT_CELLS)
    step = ROWS_PER_CHUNK if pl is None else max(1, POLARS_CELLS_PER_CHUNK // max(per_row, 1))
    for start in range(0, n_rows, step):
        rows = slice(start, min(start + step, n_rows))
        if pl is None:
            out.write(_text_numpy(columns, rows, sep).encode("utf-8"))
        else:
            out.write(_text_polars(pl, columns, rows, sep))


def _texts(col: TextColumn, rows: Rows) -> np.ndarray:
    return col.texts.text()[rows if col.index is None else col.index[rows]]


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


@functools.cache
def _range_bits(dtype: np.dtype) -> tuple[np.unsignedinteger, np.unsignedinteger]:
    """The bit patterns (sign cleared) of the smallest ``dtype`` values at or above the bounds
    of _POLARS_AGREES: |x| is in the range exactly when its bits are in [low, high)."""
    uint = np.dtype(f"u{dtype.itemsize}")
    found = []
    for bound in _POLARS_AGREES[dtype]:
        value = np.array(bound, dtype=dtype)
        if value < bound:
            value = np.nextafter(value, dtype.type(np.inf))
        found.append(value.view(uint)[()])
    return found[0], found[1]


def _odd_cells(values: np.ndarray) -> np.ndarray:
    """(m,) indices of the cells of ``values`` (n,) that polars does not write as numpy does:
    outside the range of _POLARS_AGREES and not zero (tiny, subnormal, huge, NaN, inf)."""
    if values.dtype not in _POLARS_AGREES:
        return np.arange(values.shape[0])
    low, high = _range_bits(values.dtype)
    uint = low.dtype.type
    magnitude = values.view(uint) & uint(np.iinfo(uint).max >> 1)  # ordered as |x|; NaN last
    odd = np.flatnonzero((magnitude - low) >= high - low)  # unsigned: wraps below low
    return odd[magnitude[odd] != 0]


#: control characters that may stand for a cell polars leaves to numpy (never in a number's
#: text, nor a line end or a tab; one that occurs in no field of the table is chosen)
_PLACEHOLDERS = [chr(c) for c in range(1, 32) if chr(c) not in "\t\n\r"]


def _placeholder(columns: Sequence[Column], sep: str) -> str | None:
    """A control character in no field of ``columns`` and not ``sep``, or None."""
    used = {sep}
    for col in columns:
        if isinstance(col, TextColumn):
            used |= col.texts.controls()
        elif isinstance(col, Constant):
            used |= set(col.text)
    return next((c for c in _PLACEHOLDERS if c not in used), None)


def _text_polars(pl: ModuleType, columns: Sequence[Column], rows: slice, sep: str) -> bytes:
    """The same text as :func:`_text_numpy` (UTF-8 bytes), written by polars.

    polars writes every cell whose number it formats as numpy does; the others (usually a
    handful: tiny, huge, subnormal, NaN, inf) are written as null, shown as a placeholder
    character that occurs nowhere else in the chunk, and the placeholders are replaced, in
    order, by numpy's text of those cells. Without such a character (ids holding every
    control character) a chunk with odd cells is written by numpy.
    """
    n = _n_rows(rows)
    series = []
    odd_rows, odd_cells, odd_texts = [], [], []
    cell = 0
    for col in columns:
        if isinstance(col, Constant):
            if series and isinstance(series[-1], str):  # neighbours: one literal "a,b"
                series[-1] += sep + col.text
            else:
                series.append(col.text)
            cell += 1
        elif isinstance(col, TextColumn):
            series.append(col.texts.column(pl, rows if col.index is None else col.index[rows]))
            cell += 1
        else:
            values = _floats(col, rows)
            for j in range(values.shape[1]):
                numbers = np.ascontiguousarray(values[:, j])
                column = pl.Series(numbers)
                other = _odd_cells(numbers)
                if other.size:
                    column = column.scatter(other, None)
                    odd_rows.append(other)
                    odd_cells.append(np.full(other.size, cell + j))
                    odd_texts.append(float_text(numbers[other]))
                series.append(column)
            cell += values.shape[1]
    placeholder = _placeholder(columns, sep) if odd_rows else ""
    if placeholder is None:
        return _text_numpy(columns, rows, sep).encode("utf-8")
    names = [f"c{k}" for k in range(len(series))]
    frame = pl.DataFrame({name: s for name, s in zip(names, series) if not isinstance(s, str)})
    if frame.width < len(series):  # constants as literals: no column of n copies
        frame = (frame.select([pl.lit(s, dtype=pl.String).alias(name)
                               if isinstance(s, str) else pl.col(name)
                               for name, s in zip(names, series)]) if frame.width else
                 pl.DataFrame({name: pl.repeat(s, n, dtype=pl.String, eager=True)
                               for name, s in zip(names, series)}))
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, separator=sep, quote_style="never",
                    line_terminator="\n", null_value=placeholder)
    del frame, series
    text = buffer.getvalue()
    if not odd_rows:
        return text
    rows_at, cells_at = np.concatenate(odd_rows), np.concatenate(odd_cells)
    order = np.lexsort((cells_at, rows_at))  # the order of the cells in the text
    texts = np.concatenate(odd_texts)[order].tolist()
    mark = placeholder.encode()
    view = memoryview(text)
    pieces: list[bytes | memoryview] = []
    start = 0
    for cell_text in texts:
        at = text.find(mark, start)
        if at < 0:  # cannot happen: polars wrote a placeholder for every odd cell
            raise AssertionError(f"fewer placeholders than the {len(texts)} odd cells")
        pieces += (view[start:at], cell_text.encode())
        start = at + 1
    pieces.append(view[start:])
    return b"".join(pieces)


def header_line(names: Sequence[str], sep: str) -> bytes:
    """The header row of ``names``, quoted as the data rows are."""
    return (sep.join(quote_fields(list(names), sep).tolist()) + "\n").encode("utf-8")


def id_texts(ids: np.ndarray | None, n: int, sep: str) -> Texts:
    """The (n,) ids as a text column: None means 0..n-1, integers are written in decimal,
    anything else as its text, quoted where needed."""
    if ids is None:
        return Texts.positions(n)
    ids = np.asarray(ids)
    if ids.dtype.kind in "iu":
        return Texts(ids)
    return Texts(quote_fields(ids.astype(str), sep))


def write_embeddings_text(out: BinaryIO, embeddings: np.ndarray, ids: np.ndarray | None,
                          id_column: str, sep: str) -> None:
    """Header ``id_column,h0,...,h{C-1}``, then one row per node: its id, its C values.

    embeddings: (N, C); ids: (N,) the ids (text or integers), or None for 0..N-1.
    """
    names = [id_column] + [f"h{k}" for k in range(embeddings.shape[1])]
    out.write(header_line(names, sep))
    write_table(out, [TextColumn(id_texts(ids, embeddings.shape[0], sep)), embeddings],
                embeddings.shape[0], sep)


ATTENTION_COLUMNS = ("layer", "head", "target", "source", "alpha")


def write_attention_header(out: BinaryIO, sep: str) -> None:
    out.write(header_line(ATTENTION_COLUMNS, sep))


def write_attention_rows(out: BinaryIO, layer: int, graph: Graph, alpha: np.ndarray,
                         ids: Texts, sep: str) -> None:
    """Rows ``layer,head,target,source,alpha`` of one layer, grouped by head then target.

    alpha: (E, H) in ``graph``'s CSR order; ids: the (N,) ids (:func:`id_texts`).
    """
    targets = TextColumn(ids, graph.targets())
    sources = TextColumn(ids, graph.sources)
    for h in range(alpha.shape[1]):
        write_table(out, [Constant(str(layer)), Constant(str(h)), targets, sources,
                          alpha[:, h]], graph.n_edges, sep)
