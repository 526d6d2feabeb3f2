"""word2vec text out (``.emb``): what node2vec, PecanPy and gensim read.

A first line ``N D``, then one line per node: its id and its D values, separated by single
spaces (``gensim.models.KeyedVectors.load_word2vec_format(path, binary=False)``). Numbers as
in the CSV output (shortest round-trip text). An id holding white space cannot be written
(it would read back as two fields): :func:`check_word2vec_ids` refuses it.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

from gatcli.errors import GatError
from gatcli.io.text_out import TextColumn, Texts, write_table


def check_word2vec_ids(ids: np.ndarray | None, path: str) -> None:
    """Raise naming the first id that holds white space (or is empty); ids None = 0..N-1."""
    if ids is None:
        return
    for k, node in enumerate(np.asarray(ids, dtype=str).tolist()):
        if node == "" or any(c.isspace() for c in node):
            raise GatError(f"node id {node!r} (row {k}) cannot be written in the word2vec "
                           "format, whose fields are separated by spaces; use .csv, .tsv, "
                           ".jsonl or .npz", path)


def write_embeddings_word2vec(out: BinaryIO, embeddings: np.ndarray, ids: np.ndarray) -> None:
    """``N D`` then ``id v1 ... vD`` per node. embeddings: (N, D); ids: (N,) str, checked."""
    n, d = embeddings.shape
    out.write(f"{n} {d}\n".encode())
    write_table(out, [TextColumn(Texts(np.asarray(ids, dtype=str))), embeddings], n, " ")
