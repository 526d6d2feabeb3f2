"""Reader of node lists (``gat embed --nodes FILE``): one node id a line -> row indices.

Format (UTF-8 text, optionally gzip; ``-`` is stdin): one node id per line, surrounding
whitespace and quotes removed; blank lines, ``#`` comment lines and trailing ``# comments``
are skipped. A first line ``id`` or ``node`` (any case) that is not itself a node id is a
header. Ids are matched like an edge list's: against the features' id column when there is
one (canonical integer ids also match ``007`` as 7, as in edge lists), else as row numbers
0..N-1. Repeated ids are kept (each gets its own output row).
"""

from __future__ import annotations

import numpy as np

from gatcli.errors import GatError
from gatcli.io.readers import ID_COLUMNS, NodeIndex, decode_text, display_name, read_bytes

WHAT = "a node list (one node id per line)"
#: unknown ids named in the error message
SHOWN_UNKNOWN = 5


def read_node_list(path: str, nodes: NodeIndex) -> np.ndarray:
    """(M,) int64 row indices of the listed nodes, in the file's order (repeats kept).

    Unknown ids are one :class:`GatError` naming the first few, at the first one's line.
    """
    name = display_name(path)
    text = decode_text(read_bytes(path, WHAT), path, WHAT)
    numbers, tokens = [], []
    for number, line in enumerate(text.split("\n"), 1):
        token = line.split("#", 1)[0].strip().strip('"').strip()
        if token:
            numbers.append(number)
            tokens.append(token)
    if tokens and tokens[0].lower() in ID_COLUMNS and not nodes.is_reference(tokens[0]):
        numbers, tokens = numbers[1:], tokens[1:]
    if not tokens:
        raise GatError(f"no node ids (only blank lines, comments or a header); expected {WHAT}",
                       name)
    index, found = _match(np.array(tokens), nodes)
    if not found.all():
        bad = np.flatnonzero(~found)
        raise GatError(_unknown_message(bad, tokens, numbers, nodes),
                       f"{name}:{numbers[int(bad[0])]}")
    return index


def _match(tokens: np.ndarray, nodes: NodeIndex) -> tuple[np.ndarray, np.ndarray]:
    """(M,) row index of every token (0 where not found) and (M,) whether it was found."""
    if nodes.ids is None:
        try:
            values = tokens.astype(np.int64)
            number = np.ones(tokens.shape[0], dtype=bool)
        except (ValueError, OverflowError):  # find the tokens that are not integers
            values = np.zeros(tokens.shape[0], dtype=np.int64)
            number = np.zeros(tokens.shape[0], dtype=bool)
            for k, token in enumerate(tokens.tolist()):
                try:
                    values[k] = int(token)
                    number[k] = True
                except (ValueError, OverflowError):
                    continue
        found = number & (values >= 0) & (values < nodes.n_nodes)
        return np.where(found, values, 0), found
    rows = nodes.rows_of(np.asarray(tokens, dtype=object))  # ids are text: exact match
    found = rows >= 0
    return np.where(found, rows, 0).astype(np.int64), found


def _unknown_message(bad: np.ndarray, tokens: list[str], numbers: list[int],
                     nodes: NodeIndex) -> str:
    where = ("the features' id column" if nodes.ids is not None else
             f"the node rows 0..{nodes.n_nodes - 1} (the features have no id column)")
    first = int(bad[0])
    if bad.size == 1:
        return f"node id {tokens[first]!r} is not in {where}"
    shown = [f"{tokens[first]!r}"] + [f"{tokens[int(k)]!r} (line {numbers[int(k)]})"
                                      for k in bad[1:SHOWN_UNKNOWN]]
    more = f" and {bad.size - SHOWN_UNKNOWN} more" if bad.size > SHOWN_UNKNOWN else ""
    return f"{bad.size} node ids are not in {where}: {', '.join(shown)}{more}"
