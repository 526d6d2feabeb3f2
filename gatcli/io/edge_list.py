"""Edge lists: text tables (or Parquet) of (source, target) node references, and the node
index those references are matched against.

References are text matched exactly against the features' ids when the features have an id
column (``007`` is not ``7``, ``1.0`` is not ``1``), else integer row positions 0..N-1.
A row may carry more columns (weights, timestamps): the source and target columns are the
first two, or the two chosen with ``edge_columns``; the others are ignored (with a note).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gatcli.errors import GatError, shown_value
from gatcli.io import polars_tables
from gatcli.io.fast import FAST_EXTRA_HINT, SMALL_TEXT_CHARS, polars_for_size, polars_module
from gatcli.io.features import Features, _column_index
from gatcli.io.text_table import (
    LARGE_TEXT_BYTES,
    Block,
    EngineRefused,
    TextTable,
    is_number,
    loadtxt,
    needs_strip,
    parse_block,
    records,
)

INTEGER = re.compile(r"[+-]?\d+", re.ASCII)


def is_int(token: str) -> bool:
    """Whether ``token`` is an integer as the table engines read it (ASCII digits)."""
    return INTEGER.fullmatch(token.strip()) is not None


@dataclass
class NodeIndex:
    """Maps node references in a graph file to rows of the features.

    n_nodes: N. ids: (N,) str array of the features' ids, or None for integer references
    0..N-1.
    """

    n_nodes: int
    ids: np.ndarray | None = None
    _sorted: tuple | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, features: Features) -> NodeIndex:
        return cls(features.n_nodes, features.ids)

    def is_reference(self, token: str) -> bool:
        if self.ids is None:
            return is_int(token)
        return bool(np.any(self.ids == token))

    def rows_of(self, tokens: np.ndarray) -> np.ndarray:
        """(K,) rows of the ids equal to ``tokens`` (K,) (text), -1 where none is."""
        assert self.ids is not None
        if self._sorted is None:
            order = np.argsort(self.ids, kind="stable")
            keys = self.ids[order]
            if keys.dtype.kind == "O":  # very long ids: a dictionary, not a wide array
                self._sorted = ({key: int(row) for key, row in zip(keys, order)}, None, 0)
            else:
                self._sorted = (order, keys, keys.dtype.itemsize // 4)
        first, keys, width = self._sorted
        if keys is None:
            return np.fromiter((first.get(t, -1) for t in tokens), np.int64, len(tokens))
        tokens = np.asarray(tokens, dtype=object)
        lengths = np.fromiter(map(len, tokens), np.int64, len(tokens))
        fits = lengths <= width
        if not fits.all():
            tokens = np.where(fits, tokens, "")
        wanted = tokens.astype(f"U{max(width, 1)}")
        pos = np.minimum(np.searchsorted(keys, wanted), keys.shape[0] - 1)
        found = (keys[pos] == wanted) & fits & (lengths > 0)
        return np.where(found, first[pos], -1)


def read_edge_list(path: str, fmt: str, nodes: NodeIndex, *, delimiter: str | None = None,
                   header: bool | None = None, edge_columns: str | None = None,
                   notes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(sources, targets) (E,) int64 rows from an edge list.

    ``fmt``: the format from the name ('csv', 'tsv', 'whitespace', or 'text' to guess the
    delimiter). ``header``: True/False, or None to decide: the first line is a header when
    neither its source nor its target field is a node reference and they are not both
    numbers. ``edge_columns``: "SRC,DST" as names or 1-based positions (default: the first
    two columns).
    """
    notes = notes if notes is not None else []
    table = TextTable(path, "an edge list (source,target per line)", delimiter=delimiter,
                      name_format=fmt, records_required=False)
    if not table.first_fields:  # only comments and blank lines: no edges
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    src, dst, has_header, ncols = _layout(table, nodes, header, edge_columns, notes)
    delim = table.delimiter
    text_ids = nodes.ids is not None

    def fast_engines(size: int) -> list[Callable]:
        """polars (unless the list is small: see gatcli.io.fast), then numpy."""
        engines: list[Callable] = []
        pl = polars_for_size(size, SMALL_TEXT_CHARS)
        if pl is not None and polars_tables.usable_delimiter(delim):
            engines.append(lambda text: polars_tables.edges_block(pl, text, delim, ncols, src,
                                                                  dst, text_ids))
        engines.append(lambda text: _numpy_block(text, delim, ncols, src, dst, text_ids))
        return engines

    engines: list[Callable] | None = None

    def slow(block: Block) -> tuple[tuple, np.ndarray]:
        return _slow_block(block, table, ncols, src, dst, nodes, has_header)

    sources, targets = [], []
    rows = 0
    for block in table.blocks(include_first=not has_header):
        if not len(block):
            continue
        if engines is None:  # one choice for the whole list, by its first block
            engines = fast_engines(len(block))
        (a, b), lines = parse_block(block, delim, engines, slow)
        table.rows.add(rows, block.first_line, lines)
        if text_ids:
            a, b = _map(a, b, nodes, table, rows, (src, dst))
        else:
            _check_range(a, b, nodes, table, rows, (src, dst))
        sources.append(a)
        targets.append(b)
        rows += len(a)
    if table.source.raw_bytes > LARGE_TEXT_BYTES and polars_module() is None:
        notes.append(f"{table.name}: {table.source.raw_bytes >> 20} MB of text read without "
                     f"polars; for faster reading: {FAST_EXTRA_HINT}")
    if not sources:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(sources), np.concatenate(targets)


def parse_edge_columns(edge_columns: str) -> list[str]:
    parts = [p.strip() for p in edge_columns.split(",")]
    if len(parts) != 2 or not all(parts):
        raise GatError(f"--edge-columns {shown_value(edge_columns)}: expected two columns "
                       "SRC,DST (names or 1-based positions)")
    return parts


def _layout(table: TextTable, nodes: NodeIndex, header: bool | None,
            edge_columns: str | None, notes: list[str]) -> tuple[int, int, bool, int]:
    """(source column, target column, whether the first line is a header, column count)."""
    fields, where = table.first_fields, f"{table.name}:{table.first_line}"
    ncols = len(fields)
    if ncols < 2:
        raise GatError(f"expected 2 columns (source, target), found {ncols}"
                       f"{table.dialect.hint() if table.dialect else ''}", where)
    chosen = parse_edge_columns(edge_columns) if edge_columns is not None else None
    if header is None:
        if chosen is not None and not all(c.isdigit() for c in chosen):
            header = True
        else:
            picks = ([_column_index(c, None, ncols, where, "--edge-columns") for c in chosen]
                     if chosen else [0, 1])
            cells = [fields[k] for k in picks]
            header = not any(nodes.is_reference(c) for c in cells) and not all(
                is_number(c) for c in cells)
    names = fields if header else None
    if chosen is None:
        src, dst = 0, 1
    else:
        src, dst = (_column_index(c, names, ncols, where, "--edge-columns") for c in chosen)
        if src == dst:
            raise GatError("--edge-columns: source and target are the same column", where)
    if ncols > 2:
        label = ((lambda k: shown_value(fields[k], 20)) if header
                 else (lambda k: f"column {k + 1}"))
        others = [label(k) for k in range(ncols) if k not in (src, dst)]
        notes.append(f"{table.name}: {ncols} columns; reading {label(src)} -> {label(dst)} "
                     f"as source -> target, ignoring {', '.join(others[:4])}"
                     f"{', ...' if len(others) > 4 else ''}")
    return src, dst, header, ncols


def _numpy_block(text: str | bytes, delimiter: str | None, ncols: int, src: int, dst: int,
                 text_ids: bool) -> tuple[np.ndarray, np.ndarray]:
    """(source, target) references of clean block text by ``numpy.loadtxt``."""
    if text_ids:
        table = loadtxt(text, delimiter, dtype=object)
    elif ncols == 2:
        table = loadtxt(text, delimiter, dtype=np.int64)
    else:
        skip = {k: (lambda cell: 0) for k in range(ncols) if k not in (src, dst)}
        table = loadtxt(text, delimiter, dtype=np.int64, converters=skip)
    if table.shape[0] and table.shape[1] != ncols:
        raise EngineRefused("column count")
    table = table.reshape(-1, ncols)
    a, b = table[:, src], table[:, dst]
    if text_ids and needs_strip(text, delimiter):
        a = np.array([t.strip() for t in a], dtype=object)
        b = np.array([t.strip() for t in b], dtype=object)
    return a, b


def _slow_block(block: Block, table: TextTable, ncols: int, src: int, dst: int,
                nodes: NodeIndex, has_header: bool) -> tuple[tuple, np.ndarray]:
    a: list = []
    b: list = []
    lines: list[int] = []
    like = "the header" if has_header else "the first line"
    for line, fields in records(block, table.delimiter):
        if len(fields) != ncols:
            raise table.column_count_error(ncols, len(fields), line, like)
        for k in (src, dst):
            cell = fields[k]
            if nodes.ids is None and not is_int(cell):
                raise GatError(f"{shown_value(cell)} is not an integer node index (the "
                               "features have no id column, so edges refer to rows 0..N-1)",
                               f"{table.name}:{line}:{k + 1}")
        if nodes.ids is None:
            for k in (src, dst):
                value = int(fields[k])
                if not 0 <= value < nodes.n_nodes:
                    raise GatError(f"node index {shown_value(value)[1:-1]} is out of range: "
                                   f"the features have {nodes.n_nodes} rows "
                                   f"(0..{nodes.n_nodes - 1})", f"{table.name}:{line}:{k + 1}")
            a.append(int(fields[src]))
            b.append(int(fields[dst]))
        else:
            a.append(fields[src])
            b.append(fields[dst])
        lines.append(line)
    dtype = object if nodes.ids is not None else np.int64
    return (np.array(a, dtype=dtype), np.array(b, dtype=dtype)), np.array(lines, np.int64)


def _first_bad(bad: list[np.ndarray]) -> tuple[int, int] | None:
    """(row, 0 or 1) of the first True of two (R,) masks in reading order, or None."""
    both = np.stack(bad, axis=1)
    if not both.any():
        return None
    row, k = (int(v) for v in np.argwhere(both)[0])
    return row, k


def _map(a: np.ndarray, b: np.ndarray, nodes: NodeIndex, table: TextTable, first_row: int,
         columns: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the id references of one block; an unknown id is an error naming it."""
    rows = [nodes.rows_of(a), nodes.rows_of(b)]
    bad = _first_bad([rows[0] < 0, rows[1] < 0])
    if bad is not None:
        row, k = bad
        where = f"{table.name}:{table.rows.line(first_row + row)}:{columns[k] + 1}"
        token = (a, b)[k][row]
        if token == "":
            raise GatError("empty node id", where)
        raise GatError(f"node id {shown_value(token)} is not in the features' id column",
                       where)
    return rows[0].astype(np.int64), rows[1].astype(np.int64)


def _check_range(a: np.ndarray, b: np.ndarray, nodes: NodeIndex, table: TextTable,
                 first_row: int, columns: tuple[int, int]) -> None:
    n = nodes.n_nodes
    bad = _first_bad([(a < 0) | (a >= n), (b < 0) | (b >= n)])
    if bad is not None:
        row, k = bad
        where = f"{table.name}:{table.rows.line(first_row + row)}:{columns[k] + 1}"
        raise GatError(f"node index {int((a, b)[k][row])} is out of range: the features have "
                       f"{n} rows (0..{n - 1})", where)
