"""Writers for embeddings, attention and weights; every file is written atomically.

Embeddings: CSV/TSV ``id,h0,...,h{C-1}`` (the features' id column name and ids, rows in the
features' order) or ``.npy`` (N, C). Attention: long CSV/TSV ``layer,head,target,source,alpha``
(one row per edge and head, rows grouped by target) or ``.npz`` (one scipy CSR matrix per
layer and head, row = target, column = source, plus the node ids).
Numbers are written in the shortest form that reads back to the same float.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gatcli.errors import GatError
from gatcli.graph import Graph
from gatcli.io.atomic import atomic_writer
from gatcli.io.formats import output_format
from gatcli.io.numpy_out import read_attention_npz, write_attention_npz, write_embeddings_npy
from gatcli.io.text_out import (
    Texts,
    quote_fields,
    write_attention_header,
    write_attention_rows,
    write_embeddings_text,
)

__all__ = ["check_finite_output", "read_attention_npz", "write_attention", "write_embeddings"]

SEPARATORS = {"csv": ",", "tsv": "\t"}


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
            write_embeddings_npy(out, embeddings)
        else:
            write_embeddings_text(out, embeddings, ids, id_column, SEPARATORS[fmt])


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
            write_attention_npz(out, graphs, attention, ids)
            return
        sep = SEPARATORS[fmt]
        write_attention_header(out, sep)
        quoted = Texts(quote_fields(ids, sep))
        for k, (graph, alpha) in enumerate(zip(graphs, attention)):
            write_attention_rows(out, k, graph, alpha, quoted, sep)
