"""Writers for embeddings, attention and weights; every file is written atomically.

Embeddings: CSV/TSV ``id,h0,...,h{C-1}`` (the features' id column name and ids, rows in the
features' order) or ``.npy`` (N, C). Attention: long CSV/TSV ``layer,head,target,source,alpha``
(one row per edge and head, rows grouped by target) or ``.npz`` (one scipy CSR matrix per
layer and head, row = target, column = source, plus the node ids).
Numbers are written in the shortest form that reads back to the same float.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

import numpy as np
import scipy.sparse as sp

from gatcli.errors import GatError
from gatcli.graph import Graph
from gatcli.io.atomic import atomic_writer
from gatcli.io.formats import output_format

ROWS_PER_CHUNK = 1 << 16


def _cells(values: np.ndarray) -> np.ndarray:
    """Shortest round-trip text of every number (vectorised by numpy's own repr)."""
    return values.astype(str)


def _write_rows(out: BinaryIO, columns: Sequence[np.ndarray], sep: str) -> None:
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


def check_finite_output(values: np.ndarray, what: str, path: str) -> None:
    """Refuse to write inf/NaN values (a float32 overflow, typically), naming how many."""
    finite = np.isfinite(values)
    if not finite.all():
        count = int(finite.size - np.count_nonzero(finite))
        raise GatError(f"{count} of {values.size} {what} values are inf/NaN ({values.dtype} "
                       "overflow?); nothing written. Try --dtype float64 or smaller inputs",
                       path)


def write_embeddings(path: str, embeddings: np.ndarray, ids: np.ndarray,
                     id_column: str = "id", *, allow_nonfinite: bool = False) -> None:
    """Write (N, C) embeddings as CSV/TSV (``-`` = CSV on stdout) or .npy.

    inf/NaN values are an error (nothing is written) unless ``allow_nonfinite``.
    """
    fmt = output_format(path, ("csv", "tsv", "npy"))
    if fmt is None:
        raise GatError("unknown output extension; use .csv, .tsv, .npy or - for stdout", path)
    if not allow_nonfinite:
        check_finite_output(embeddings, "embedding", path)
    with atomic_writer(path) as out:
        if fmt == "npy":
            np.save(out, np.ascontiguousarray(embeddings))
            return
        sep = "\t" if fmt == "tsv" else ","
        header = [id_column] + [f"h{k}" for k in range(embeddings.shape[1])]
        out.write((sep.join(header) + "\n").encode("utf-8"))
        _write_rows(out, [np.asarray(ids, dtype=str), _cells(embeddings)], sep)


def write_attention(path: str, graphs: Sequence[Graph], attention: Sequence[np.ndarray],
                    ids: np.ndarray, *, allow_nonfinite: bool = False) -> None:
    """Write every layer's attention: long CSV/TSV or .npz of sparse matrices.

    CSV columns: layer, head, target, source, alpha (original ids; per target and head,
    the alphas sum to 1). NPZ: ``ids`` (N,) and ``layer{k}_head{h}`` CSR (N, N) matrices
    with ``A[target, source] = alpha`` (duplicate edges summed).
    """
    fmt = output_format(path, ("csv", "tsv", "npz"))
    if fmt is None:
        raise GatError("unknown attention extension; use .csv, .tsv, .npz or - for stdout",
                       path)
    if not allow_nonfinite:
        for alpha in attention:
            check_finite_output(alpha, "attention", path)
    ids = np.asarray(ids, dtype=str)
    with atomic_writer(path) as out:
        if fmt == "npz":
            arrays: dict[str, np.ndarray] = {"ids": ids}
            for k, (graph, alpha) in enumerate(zip(graphs, attention)):
                for h in range(alpha.shape[1]):
                    # copy=True: sum_duplicates works in place and would rewrite the
                    # graph's indptr (and alpha) that the matrix would otherwise share.
                    matrix = sp.csr_array((alpha[:, h], graph.sources, graph.indptr),
                                          shape=(graph.n_nodes, graph.n_nodes), copy=True)
                    matrix.sum_duplicates()
                    for part in ("data", "indices", "indptr"):
                        arrays[f"layer{k}_head{h}.{part}"] = getattr(matrix, part)
                    arrays[f"layer{k}_head{h}.shape"] = np.array(matrix.shape)
            np.savez(out, **arrays)
            return
        sep = "\t" if fmt == "tsv" else ","
        out.write(sep.join(["layer", "head", "target", "source", "alpha"]).encode() + b"\n")
        for k, (graph, alpha) in enumerate(zip(graphs, attention)):
            targets = ids[graph.targets()]
            sources = ids[graph.sources]
            cells = _cells(alpha)
            for h in range(alpha.shape[1]):
                layer = np.full(graph.n_edges, str(k))
                head = np.full(graph.n_edges, str(h))
                _write_rows(out, [layer, head, targets, sources, cells[:, h]], sep)


def read_attention_npz(path: str) -> tuple[np.ndarray, dict[tuple[int, int], sp.csr_array]]:
    """Load an attention .npz written by :func:`write_attention`: (ids, {(layer, head): CSR})."""
    with np.load(path, allow_pickle=False) as data:
        ids = data["ids"]
        matrices = {}
        for key in data.files:
            if key.endswith(".data"):
                stem = key[: -len(".data")]
                layer, head = (int(p[len(n):]) for p, n in
                               zip(stem.split("_"), ("layer", "head")))
                matrices[(layer, head)] = sp.csr_array(
                    (data[f"{stem}.data"], data[f"{stem}.indices"], data[f"{stem}.indptr"]),
                    shape=tuple(data[f"{stem}.shape"]))
    return ids, matrices
