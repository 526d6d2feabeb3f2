"""Readers: validate input files once, at the boundary, and return plain arrays.

Every problem raises :class:`gatcli.errors.GatError` naming the file, the line (and column
or key) and what was expected. Each format family has its own module; this one picks the
family from the file name and re-exports the public names:

- :mod:`gatcli.io.source`: opening files and stdin, gzip, ``.npy``/``.npz`` containers;
- :mod:`gatcli.io.text_table`: decoding, lines, fields, delimiters, the vectorised parse;
- :mod:`gatcli.io.features`: node features (text tables, ``.npy``);
- :mod:`gatcli.io.edge_list`: edge lists and the node index they refer to;
- :mod:`gatcli.io.sparse_matrix`: adjacency matrices (``save_npz``, Matrix Market).
"""

from __future__ import annotations

import numpy as np

from gatcli.io.edge_list import NodeIndex, read_edge_list
from gatcli.io.features import ID_COLUMNS, Features, read_features
from gatcli.io.formats import graph_format
from gatcli.io.source import LOAD_ERRORS, display_name, load_numpy, open_input, read_bytes
from gatcli.io.sparse_matrix import read_adjacency
from gatcli.io.text_table import data_lines, decode_text, split_fields

__all__ = [
    "ID_COLUMNS", "LOAD_ERRORS", "Features", "NodeIndex", "data_lines", "decode_text",
    "display_name", "load_numpy", "open_input", "read_adjacency", "read_bytes",
    "read_edge_list", "read_features", "read_graph", "split_fields",
]


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
