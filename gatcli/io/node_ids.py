"""Checks shared by every reader of node ids (text tables, Parquet, gat's embeddings .npz)."""

from __future__ import annotations

import numpy as np


def duplicate_pair(ids: np.ndarray) -> tuple[int, int] | None:
    """(first, second) rows of the first id that occurs twice (the pair whose second
    occurrence sorts first among equal ids, rows in order), or None when all are distinct.

    ids: (N,) str or object array.
    """
    order = np.argsort(ids, kind="stable")
    same = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    if not same.size:
        return None
    first, second = sorted((int(order[same[0]]), int(order[same[0] + 1])))
    return first, second
