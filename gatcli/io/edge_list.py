"""Edge lists: two-column text tables of node references, and the node index they map to."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gatcli.errors import GatError
from gatcli.io.features import Features
from gatcli.io.source import display_name
from gatcli.io.text_table import (
    data_lines,
    is_int,
    line_of_row,
    loadtxt,
    split_fields,
    text_and_delimiter,
)


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
            return is_int(token)
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


def read_edge_list(path: str, fmt: str, nodes: NodeIndex) -> tuple[np.ndarray, np.ndarray]:
    """(sources, targets) from a two-column edge list; header auto-detected.

    The first data line is a header when none of its fields is a node reference.
    References are integers 0..N-1 when the features have no id column, else ids.
    """
    name = display_name(path)
    text, delimiter = text_and_delimiter(path, fmt, "an edge list (source,target per line)")
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
        table = loadtxt(text, delimiter, skip, dtype=np.int64 if as_int else str)
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
                           f"{name}:{line_of_row(text, skip, row)}")
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
                       f"{name}:{line_of_row(text, skip, row)}:{col + 1}")
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
            if nodes.ids is None and not is_int(field):
                raise GatError(f"{field!r} is not an integer node index (the features have "
                               "no id column, so edges refer to rows 0..N-1)",
                               f"{name}:{number}:{column}")
            if nodes.ids is not None and not nodes.is_reference(field):
                raise GatError(f"node id {field!r} is not in the features' id column",
                               f"{name}:{number}:{column}")
