"""Node labels: a text table ``id,label[,split]`` with a header line.

- ``id`` (or ``node``): a node of the features (an id of their id column, or a row number
  0..N-1 when they have none); each node at most once. Nodes not listed are unlabeled.
- ``label``: any non-empty text (class names; integers sort numerically).
- ``split`` (optional): ``train``, ``val`` or ``test``; rows with any other value (e.g.
  ``none``) are read but take no part in training or evaluation.

CSV, TSV or whitespace-separated by extension (optionally ``.gz``; other names: guessed),
read by the text-table rules of :mod:`gatcli.io.text_table` (whole-line ``#`` comments and
blank lines skipped, quoting). Errors name the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gatcli.errors import GatError, shown_value
from gatcli.io.edge_list import NodeIndex
from gatcli.io.formats import STDIO, text_format
from gatcli.io.source import display_name
from gatcli.io.text_table import TextTable, is_int, records

SPLITS = ("train", "val", "test")
WHAT = "a labels table with a header line id,label[,split]"


@dataclass
class Labels:
    """Labels of some nodes.

    nodes: (M,) int64 rows of the features; values: (M,) str labels; split: (M,) str
    (``train``/``val``/``test`` or anything else) or None without a split column;
    lines: (M,) the line of each row in ``source`` (for messages).
    """

    nodes: np.ndarray
    values: np.ndarray
    split: np.ndarray | None
    lines: np.ndarray
    source: str


def read_labels(path: str, nodes: NodeIndex) -> Labels:
    """Labels from ``path`` for the nodes of ``nodes`` (see the module docstring)."""
    name = display_name(path)
    fmt = "text" if path == STDIO else text_format(path)
    table = TextTable(path, WHAT, delimiter=None, name_format=fmt)
    header_line, header = table.first_line, table.first_fields
    columns = [c.lower() for c in header]
    if len(columns) not in (2, 3) or columns[0] not in ("id", "node"):
        shown = (table.delimiter or " ").join(header)
        raise GatError(f"header {shown_value(shown)}: expected {WHAT} (first column 'id' or "
                       "'node')", f"{name}:{header_line}")
    if len(columns) == 3 and columns[2] != "split":
        raise GatError(f"third column is {shown_value(columns[2])}: expected 'split' "
                       "(train/val/test)", f"{name}:{header_line}")
    width = len(columns)
    ids, values, splits, numbers = [], [], [], []
    for block in table.blocks(include_first=False):
        for number, fields in records(block, table.delimiter):
            if len(fields) != width:
                raise GatError(f"expected {width} columns like the header, found "
                               f"{len(fields)}", f"{name}:{number}")
            if not fields[0]:
                raise GatError("empty node id", f"{name}:{number}:1")
            if not fields[1]:
                raise GatError("empty label", f"{name}:{number}:2")
            ids.append(fields[0])
            values.append(fields[1])
            if width == 3:
                splits.append(fields[2].lower())
            numbers.append(number)
    if not ids:
        raise GatError("no labels after the header", name)
    rows = _rows_of(ids, numbers, nodes, name)
    order = np.argsort(rows, kind="stable")
    same = np.flatnonzero(rows[order][1:] == rows[order][:-1])
    if same.size:
        first_row, second_row = sorted((int(order[same[0]]), int(order[same[0] + 1])))
        raise GatError(f"node {ids[second_row]!r} is labeled twice (first on line "
                       f"{numbers[first_row]})", f"{name}:{numbers[second_row]}")
    return Labels(rows, np.array(values, dtype=str),
                  np.array(splits, dtype=str) if width == 3 else None,
                  np.array(numbers, dtype=np.int64), name)


def _rows_of(ids: list[str], numbers: list[int], nodes: NodeIndex, name: str) -> np.ndarray:
    """Feature rows of the label table's ids; an unknown id names its line."""
    if nodes.ids is None:
        rows = np.empty(len(ids), dtype=np.int64)
        for k, token in enumerate(ids):
            if not is_int(token):
                raise GatError(f"{token!r} is not an integer node index (the features have "
                               "no id column, so labels refer to rows 0..N-1)",
                               f"{name}:{numbers[k]}:1")
            value = int(token)
            if not 0 <= value < nodes.n_nodes:
                raise GatError(f"node index {value} is out of range: the features have "
                               f"{nodes.n_nodes} rows (0..{nodes.n_nodes - 1})",
                               f"{name}:{numbers[k]}:1")
            rows[k] = value
        return rows
    rows = nodes.rows_of(np.array(ids, dtype=object))  # ids are text: exact match
    if (rows < 0).any():
        k = int(np.flatnonzero(rows < 0)[0])
        raise GatError(f"node id {shown_value(ids[k])} is not in the features' id column",
                       f"{name}:{numbers[k]}:1")
    return rows.astype(np.int64)
