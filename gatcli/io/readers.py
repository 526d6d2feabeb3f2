"""Readers: validate input files once, at the boundary, and return plain arrays.

Every problem raises :class:`gatcli.errors.GatError` naming the file, the line (and column
or key) and what was expected. Each format family has its own module; this one picks the
family from the file name and re-exports the public names:

- :mod:`gatcli.io.source`: opening files and stdin, gzip, ``.npy``/``.npz`` containers;
- :mod:`gatcli.io.text_table`: decoding, lines, fields, delimiters, the vectorised parse;
- :mod:`gatcli.io.features`: node features (text tables, ``.npy``);
- :mod:`gatcli.io.edge_list`: edge lists and the node index they refer to;
- :mod:`gatcli.io.sparse_matrix`: adjacency matrices (``save_npz``, Matrix Market);
- :mod:`gatcli.io.polars_tables`: the polars engine for text blocks, and Parquet files.
"""

from __future__ import annotations

import numpy as np

from gatcli.io.edge_list import NodeIndex, read_edge_list
from gatcli.io.features import ID_COLUMNS, Features, read_features
from gatcli.io.formats import STDIO, graph_format
from gatcli.io.polars_tables import read_edges_parquet
from gatcli.io.source import (
    LOAD_ERRORS,
    display_name,
    load_numpy,
    open_input,
    read_bytes,
    stdin_kind,
)
from gatcli.io.sparse_matrix import read_adjacency
from gatcli.io.text_table import data_lines, decode_text, split_record

__all__ = [
    "ID_COLUMNS", "LOAD_ERRORS", "Features", "NodeIndex", "data_lines", "decode_text",
    "display_name", "load_numpy", "open_input", "read_adjacency", "read_bytes",
    "read_edge_list", "read_features", "read_graph", "split_record",
]


def read_graph(path: str, nodes: NodeIndex, *, delimiter: str | None = None,
               header: bool | None = None, edge_columns: str | None = None,
               notes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Edges (sources, targets) (E,) as node rows, from an edge list or an adjacency matrix.

    Edge list row ``u,v``: edge u -> v (v attends to u); ``delimiter``, ``header`` and
    ``edge_columns`` as for :func:`gatcli.io.edge_list.read_edge_list`. Adjacency
    (.npz/.mtx): row i lists the nodes i attends to, so ``A[i, j] != 0`` is the edge j -> i.
    Stdin is recognised by its first bytes (.npz, .mtx, Parquet) or read as a text table.
    """
    fmt = stdin_kind(path, "graph") if path == STDIO else graph_format(path)
    if fmt in ("npz", "mtx"):
        adjacency = read_adjacency(path, fmt, nodes.n_nodes)
        coo = adjacency.tocoo()
        nonzero = coo.data != 0
        return coo.col[nonzero].astype(np.int64), coo.row[nonzero].astype(np.int64)
    if fmt == "parquet":
        return read_edges_parquet(path, nodes, edge_columns=edge_columns,
                                  notes=notes if notes is not None else [])
    return read_edge_list(path, fmt, nodes, delimiter=delimiter, header=header,
                          edge_columns=edge_columns, notes=notes)
