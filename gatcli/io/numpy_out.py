"""numpy files out: embeddings as ``.npy`` or ``.npz`` (with ids), attention as ``.npz`` of sparse
matrices. Every archive loads with ``np.load(path, allow_pickle=False)``."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np
import scipy.sparse as sp

from gatcli.graph import Graph


def write_embeddings_npy(out: BinaryIO, embeddings: np.ndarray) -> None:
    """The (N, C) array, rows in the features' order (ids are not stored)."""
    np.save(out, np.ascontiguousarray(embeddings))


class NpzStream:
    """An ``.npz`` written one array at a time (as ``np.savez`` lays it out), so arrays need
    not all be in memory at once; the handle is only written forward (a pipe will do)."""

    def __init__(self, out: BinaryIO) -> None:
        self.archive = zipfile.ZipFile(out, mode="w", compression=zipfile.ZIP_STORED,
                                       allowZip64=True)

    def add(self, name: str, array: np.ndarray) -> None:
        with self.archive.open(name + ".npy", mode="w", force_zip64=True) as member:
            np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)

    def close(self) -> None:
        self.archive.close()


def embeddings_npz_ids(ids: np.ndarray | None, n: int) -> np.ndarray:
    """The ``ids`` array of an embeddings .npz: fixed-width unicode (never object, so no
    pickle is needed), or int64 0..N-1 when the features had no id column (ids None)."""
    if ids is None:
        return np.arange(n, dtype=np.int64)
    ids = np.asarray(ids)
    return ids.astype(np.int64) if ids.dtype.kind in "iu" else ids.astype(str)


def write_embeddings_npz(out: BinaryIO, embeddings: np.ndarray, ids: np.ndarray | None) -> None:
    """``embeddings`` (N, C) and ``ids`` (N,) in one archive, rows in the features' order."""
    archive = NpzStream(out)
    archive.add("embeddings", embeddings)
    archive.add("ids", embeddings_npz_ids(ids, embeddings.shape[0]))
    archive.close()


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
    archive = NpzStream(out)
    archive.add("ids", ids)
    for k, (graph, alpha) in enumerate(zip(graphs, attention)):
        for name, array in attention_matrices(k, graph, alpha).items():
            archive.add(name, array)
    archive.close()


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
