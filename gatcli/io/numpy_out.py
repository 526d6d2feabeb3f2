"""numpy files out: embeddings as ``.npy``, attention as ``.npz`` of sparse matrices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

import numpy as np
import scipy.sparse as sp

from gatcli.graph import Graph


def write_embeddings_npy(out: BinaryIO, embeddings: np.ndarray) -> None:
    """The (N, C) array, rows in the features' order (ids are not stored)."""
    np.save(out, np.ascontiguousarray(embeddings))


def attention_matrices(layer: int, graph: Graph, alpha: np.ndarray) -> dict[str, np.ndarray]:
    """The CSR arrays ``layer{k}_head{h}.{data,indices,indptr,shape}`` of one layer's (N, N)
    matrices ``A[target, source] = alpha[:, h]`` (duplicate edges summed)."""
    arrays: dict[str, np.ndarray] = {}
    for h in range(alpha.shape[1]):
        # copy=True: sum_duplicates works in place and would rewrite the
        # graph's indptr (and alpha) that the matrix would otherwise share.
        matrix = sp.csr_array((alpha[:, h], graph.sources, graph.indptr),
                              shape=(graph.n_nodes, graph.n_nodes), copy=True)
        matrix.sum_duplicates()
        for part in ("data", "indices", "indptr"):
            arrays[f"layer{layer}_head{h}.{part}"] = getattr(matrix, part)
        arrays[f"layer{layer}_head{h}.shape"] = np.array(matrix.shape)
    return arrays


def write_attention_npz(out: BinaryIO, graphs: Sequence[Graph],
                        attention: Sequence[np.ndarray], ids: np.ndarray) -> None:
    """``ids`` (N,) and every layer's and head's CSR arrays in one ``.npz``."""
    arrays: dict[str, np.ndarray] = {"ids": ids}
    for k, (graph, alpha) in enumerate(zip(graphs, attention)):
        arrays.update(attention_matrices(k, graph, alpha))
    np.savez(out, **arrays)


def read_attention_npz(path: str) -> tuple[np.ndarray, dict[tuple[int, int], sp.csr_array]]:
    """Load an attention .npz written by ``write_attention``: (ids, {(layer, head): CSR})."""
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
