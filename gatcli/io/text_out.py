"""Text tables out: embeddings and attention as CSV/TSV.

Numbers are written in the shortest form that reads back to the same float (numpy's repr of
the array's dtype).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

import numpy as np

from gatcli.graph import Graph

ROWS_PER_CHUNK = 1 << 16


def float_text(values: np.ndarray) -> np.ndarray:
    """Shortest round-trip text of every number (vectorised by numpy's own repr)."""
    return values.astype(str)


def write_rows(out: BinaryIO, columns: Sequence[np.ndarray], sep: str) -> None:
    """Write rows whose cells come from equal-length 1-D or 2-D string arrays, in chunks."""
    n = columns[0].shape[0]
    for start in range(0, n, ROWS_PER_CHUNK):
        parts = []
        for col in columns:
            piece = col[start : start + ROWS_PER_CHUNK]
            parts.append(piece.reshape(piece.shape[0], -1))
        block = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        text = "\n".join(sep.join(row) for row in block.tolist())
        out.write(text.encode("utf-8"))
        out.write(b"\n")


def write_embeddings_text(out: BinaryIO, embeddings: np.ndarray, ids: np.ndarray,
                          id_column: str, sep: str) -> None:
    """Header ``id_column,h0,...,h{C-1}``, then one row per node: its id, its C values."""
    header = [id_column] + [f"h{k}" for k in range(embeddings.shape[1])]
    out.write((sep.join(header) + "\n").encode("utf-8"))
    write_rows(out, [np.asarray(ids, dtype=str), float_text(embeddings)], sep)


ATTENTION_COLUMNS = ("layer", "head", "target", "source", "alpha")


def write_attention_header(out: BinaryIO, sep: str) -> None:
    out.write(sep.join(ATTENTION_COLUMNS).encode() + b"\n")


def write_attention_rows(out: BinaryIO, layer: int, graph: Graph, alpha: np.ndarray,
                         ids: np.ndarray, sep: str) -> None:
    """Rows ``layer,head,target,source,alpha`` of one layer, grouped by head then target.

    alpha: (E, H) in ``graph``'s CSR order; ids: (N,) str.
    """
    targets = ids[graph.targets()]
    sources = ids[graph.sources]
    cells = float_text(alpha)
    for h in range(alpha.shape[1]):
        layer_cells = np.full(graph.n_edges, str(layer))
        head = np.full(graph.n_edges, str(h))
        write_rows(out, [layer_cells, head, targets, sources, cells[:, h]], sep)
