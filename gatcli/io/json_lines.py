"""JSON lines out (``.jsonl``): one strict JSON object per node, for jq and friends.

Each line is ``{"id": ID, "embedding": [v1, ..., vC]}``: ID a JSON string (the features' ids)
or a JSON integer (row numbers, when the features had no id column); the numbers as in the
CSV output (shortest round-trip text), a non-finite value as ``null`` (strict JSON has no NaN).
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

from gatcli.io import strict_json
from gatcli.io.text_out import ROWS_PER_CHUNK, float_text


def write_embeddings_jsonl(out: BinaryIO, embeddings: np.ndarray,
                           ids: np.ndarray | None) -> None:
    """One line per node. embeddings: (N, C); ids: (N,) str or int, or None for 0..N-1."""
    n = embeddings.shape[0]
    for start in range(0, n, ROWS_PER_CHUNK):
        stop = min(start + ROWS_PER_CHUNK, n)
        block = embeddings[start:stop]
        cells = float_text(block)
        cells[~np.isfinite(block)] = "null"
        keys = range(start, stop) if ids is None else ids[start:stop].tolist()  # str or int
        lines = [f'{{"id": {strict_json.dumps(key, ensure_ascii=False)}, "embedding": ['
                 + ", ".join(row) + "]}\n" for key, row in zip(keys, cells.tolist())]
        out.write("".join(lines).encode("utf-8"))
