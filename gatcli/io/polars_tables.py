"""The polars engine for tables (extra ``gatcli[fast]``): text blocks and Parquet files.

Text: each block of a CSV/TSV table (see :mod:`gatcli.io.text_table`) is parsed by
``polars.read_csv`` with a fixed schema (Float64 feature cells, Int64 row positions, String
ids). polars parses each decimal to the correctly rounded float64, as ``numpy.loadtxt`` does,
so the values are identical; anything it cannot read as the numpy path would (a null, a
cell it rejects, a ragged row) raises, and the block goes to the numpy path, which reads it
or names the problem, so the messages are the same with and without polars.

Parquet: the same columns as the text forms, chosen by name (or 1-based position).
"""

from __future__ import annotations

import os
from types import ModuleType

import numpy as np

from gatcli.errors import GatError, shown_value
from gatcli.io.fast import require_polars
from gatcli.io.formats import STDIO
from gatcli.io.node_ids import duplicate_pair
from gatcli.io.source import display_name, not_this_format, open_binary
from gatcli.io.text_table import QUOTE, EngineRefused, needs_strip


def usable_delimiter(delimiter: str | None) -> bool:
    """Whether polars can split on ``delimiter`` (one byte; not runs of whitespace)."""
    return delimiter is not None and len(delimiter.encode("utf-8")) == 1


def _read_block(pl: ModuleType, text: str | bytes, delimiter: str, schema: dict):
    # (missing cells are nulls by default in polars 1.x and 2.x alike; 1.x's
    # missing_utf8_is_empty_string keyword is gone in 2.x, where passing it raised a
    # TypeError that sent every block to the numpy engine)
    errors = pl.exceptions
    try:
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        frame = pl.read_csv(data, has_header=False, separator=delimiter,
                            quote_char=QUOTE, schema=schema, comment_prefix=None,
                            raise_if_empty=False)
    except (errors.ComputeError, errors.SchemaError, errors.ShapeError, errors.NoDataError,
            errors.InvalidOperationError) as exc:  # a cell or row polars cannot read
        raise EngineRefused(str(exc)) from exc
    if frame.null_count().sum_horizontal().item():
        raise EngineRefused("null cells (blank lines or missing values)")
    return frame


def features_block(pl: ModuleType, text: str | bytes, delimiter: str, ncols: int,
                   id_index: int | None) -> tuple[np.ndarray, list[str] | None]:
    """(values (R, F) float64, ids) of clean block text; raises when the numpy path must
    decide."""
    names = [f"c{k}" for k in range(ncols)]
    schema = {name: (pl.String if k == id_index else pl.Float64)
              for k, name in enumerate(names)}
    frame = _read_block(pl, text, delimiter, schema)
    features = [name for k, name in enumerate(names) if k != id_index]
    # row-major from polars (its own transpose is faster than numpy's copy of the
    # column-major array); the caller copies it into the (N, F) rows and drops it
    values = frame.select(features).to_numpy(order="c")
    if id_index is None:
        return values, None
    ids = frame[names[id_index]].to_list()
    if needs_strip(text, delimiter):
        ids = [cell.strip() for cell in ids]
    return values, ids


def edges_block(pl: ModuleType, text: str | bytes, delimiter: str, ncols: int, src: int, dst: int,
                text_ids: bool) -> tuple[np.ndarray, np.ndarray]:
    """(source, target) references of clean block text: object arrays of text when
    ``text_ids``, else int64 positions."""
    names = [f"c{k}" for k in range(ncols)]
    cell = pl.String if text_ids else pl.Int64
    schema = {name: (cell if k in (src, dst) else pl.String) for k, name in enumerate(names)}
    frame = _read_block(pl, text, delimiter, schema)
    if not text_ids:
        return (frame[names[src]].to_numpy().astype(np.int64, copy=False),
                frame[names[dst]].to_numpy().astype(np.int64, copy=False))
    strip = needs_strip(text, delimiter)
    out = []
    for k in (src, dst):
        column = frame[names[k]]
        if strip:
            column = column.str.strip_chars()
        out.append(np.array(column.to_list(), dtype=object))
    return out[0], out[1]


# -- Parquet ---------------------------------------------------------------------------------

#: names under which pandas stores a DataFrame's index in a Parquet file
PANDAS_INDEX = ("__index_level_0__", "")


def read_parquet(path: str, what: str):
    """The table of a Parquet file (or stdin) as a polars DataFrame."""
    pl = require_polars("Parquet files")
    name = display_name(path)
    with open_binary(path, what) as handle:  # (stdin, a FIFO: read once, kept)
        head = handle.read(4)
        if head != b"PAR1":
            raise GatError(not_this_format(head + handle.read(12), what), name)
        handle.seek(0)
        try:
            return pl.read_parquet(path if path != STDIO and os.path.isfile(path) else handle)
        except Exception as exc:  # noqa: BLE001 - polars/arrow errors of a damaged file
            message = " ".join(str(exc).split())[:200]
            raise GatError(f"damaged or unreadable Parquet file ({message}); expected "
                           f"{what}", name) from None


def _pick(frame, choice: str, where: str, option: str) -> str:
    names = frame.columns
    if choice in names:
        return choice
    if choice.isdigit() and 1 <= int(choice) <= len(names):
        return names[int(choice) - 1]
    listed = ", ".join(shown_value(n, 20) for n in names[:8])
    raise GatError(f"{option} {shown_value(choice)}: no such column (the file has "
                   f"{listed})", where)


def read_features_parquet(path: str, *, allow_nonfinite: bool, id_column: str | None,
                          notes: list[str]):
    """Features from a Parquet file: numeric feature columns, an optional id column (as
    for text tables: ``id``/``node``, a pandas index, or ``id_column``)."""
    from gatcli.io.features import Features, check_finite_array, id_array

    pl = require_polars("Parquet files")
    name = display_name(path)
    frame = read_parquet(path, "a features Parquet file")
    columns = frame.columns
    if id_column is not None:
        id_name: str | None = _pick(frame, id_column, name, "--id-column")
    else:
        id_name = next((c for c in columns if c.lower() in ("id", "node")), None)
        if id_name is None:
            id_name = next((c for c in columns if c in PANDAS_INDEX), None)
            if id_name is not None:
                notes.append(f"{name}: column {id_name!r} (a pandas index) read as the node "
                             "ids")
    feature_names = [c for c in columns if c != id_name]
    if not feature_names:
        raise GatError("no feature columns (only an id column)", name)
    for column in feature_names:
        if not frame[column].dtype.is_numeric() and frame[column].dtype != pl.Boolean:
            raise GatError(f"column {shown_value(column)} has type {frame[column].dtype}, "
                           "expected numbers", name)
    values_frame = frame.select([pl.col(c).cast(pl.Float64) for c in feature_names])
    if values_frame.height == 0:
        raise GatError("no rows: a graph needs at least one node", name)
    nulls = values_frame.null_count().row(0)
    if any(nulls):
        column = next(k for k, n in enumerate(nulls) if n)
        row = int(values_frame[feature_names[column]].is_null().arg_true()[0])
        if not allow_nonfinite:
            raise GatError(f"row {row} (counting from 0), column "
                           f"{shown_value(feature_names[column])} is a missing value (null); "
                           "use --allow-nonfinite to read missing values as NaN", name)
        values_frame = values_frame.fill_null(float("nan"))
    values = np.ascontiguousarray(values_frame.to_numpy(), dtype=np.float64)
    if not allow_nonfinite:
        check_finite_array(values, name)
    ids = None
    if id_name is not None:
        id_series = frame[id_name].cast(pl.String)
        if id_series.null_count():
            row = int(id_series.is_null().arg_true()[0])
            raise GatError(f"row {row} (counting from 0): empty node id", name)
        ids = id_array(id_series.to_list())
        empty = np.flatnonzero(ids == "")
        if empty.size:
            raise GatError(f"row {int(empty[0])} (counting from 0): empty node id", name)
        pair = duplicate_pair(ids)
        if pair is not None:
            first, second = pair
            raise GatError(f"duplicate node id {shown_value(ids[first])} in rows {first} and "
                           f"{second} (counting from 0)", name)
    shown_id = "id" if id_name in PANDAS_INDEX else id_name
    return Features(values, ids, shown_id, feature_names)


def read_edges_parquet(path: str, nodes, *, edge_columns: str | None,
                       notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(sources, targets) rows from a Parquet edge list (columns as for text tables)."""
    from gatcli.io.edge_list import parse_edge_columns

    pl = require_polars("Parquet files")
    name = display_name(path)
    frame = read_parquet(path, "a Parquet edge list")
    columns = frame.columns
    if len(columns) < 2:
        raise GatError(f"expected 2 columns (source, target), found {len(columns)}", name)
    if edge_columns is None:
        src, dst = columns[0], columns[1]
    else:
        src, dst = (_pick(frame, c, name, "--edge-columns")
                    for c in parse_edge_columns(edge_columns))
    if len(columns) > 2:
        others = [shown_value(c, 20) for c in columns if c not in (src, dst)]
        notes.append(f"{name}: {len(columns)} columns; reading {shown_value(src, 20)} -> "
                     f"{shown_value(dst, 20)} as source -> target, ignoring "
                     f"{', '.join(others[:4])}{', ...' if len(others) > 4 else ''}")
    out = []
    for column in (src, dst):
        series = frame[column]
        if series.null_count():
            row = int(series.is_null().arg_true()[0])
            raise GatError(f"row {row} (counting from 0), column {shown_value(column)}: "
                           "missing node reference (null)", name)
        if nodes.ids is None:
            if not series.dtype.is_integer():
                raise GatError(f"column {shown_value(column)} has type {series.dtype}; the "
                               "features have no id column, so edges must be integer rows "
                               "0..N-1", name)
            index = series.to_numpy().astype(np.int64)
            bad = np.flatnonzero((index < 0) | (index >= nodes.n_nodes))
            if bad.size:
                row = int(bad[0])
                raise GatError(f"row {row} (counting from 0), column {shown_value(column)}: "
                               f"node index {int(index[row])} is out of range: the features "
                               f"have {nodes.n_nodes} rows (0..{nodes.n_nodes - 1})", name)
        else:
            tokens = np.array(series.cast(pl.String).to_list(), dtype=object)
            index = nodes.rows_of(tokens)
            bad = np.flatnonzero(index < 0)
            if bad.size:
                row = int(bad[0])
                raise GatError(f"row {row} (counting from 0), column {shown_value(column)}: "
                               f"node id {shown_value(tokens[row])} is not in the features' "
                               "id column", name)
        out.append(index.astype(np.int64))
    return out[0], out[1]
