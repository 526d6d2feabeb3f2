"""Parquet out (``.parquet``) through polars (extra ``gatcli[fast]``).

The columns are those of the CSV forms: embeddings ``<id column>, h0..h{C-1}`` (the ids as
strings, or int64 row numbers when the features had no id column; the values in the
computation dtype); attention ``layer, head, target, source, alpha`` (target and source as the
embeddings' ids, dictionary-encoded strings or int64).
"""

from __future__ import annotations

import io
from types import ModuleType
from typing import BinaryIO

import numpy as np

from gatcli.graph import Graph
from gatcli.io.fast import require_polars

WHAT = "Parquet files"


def polars_for_parquet() -> ModuleType:
    """polars, or the one-line error naming the extra (checked before any work)."""
    return require_polars(WHAT)


def _write(frame, out: BinaryIO) -> None:
    # through memory: a pipe or FIFO cannot seek, which a Parquet writer may want to
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    out.write(buffer.getbuffer())


def write_embeddings_parquet(out: BinaryIO, embeddings: np.ndarray, ids: np.ndarray | None,
                             id_column: str) -> None:
    """embeddings: (N, C); ids: (N,) str, or int (then an int64 column), or None (0..N-1)."""
    pl = polars_for_parquet()
    n, c = embeddings.shape
    if ids is None or np.asarray(ids).dtype.kind in "iu":
        rows = np.arange(n) if ids is None else np.asarray(ids)
        id_series = pl.Series(id_column, rows.astype(np.int64))
    else:
        id_series = pl.Series(id_column, np.asarray(ids, dtype=str).tolist(), pl.String)
    columns = [id_series] + [pl.Series(f"h{k}", np.ascontiguousarray(embeddings[:, k]))
                             for k in range(c)]
    _write(pl.DataFrame(columns), out)


class AttentionParquet:
    """Collects every layer's attention rows (compact: codes, not strings), then writes one
    file. ids: (N,) str or None (then int64 0..N-1)."""

    def __init__(self, ids: np.ndarray | None) -> None:
        self.pl = polars_for_parquet()
        pl = self.pl
        self.ids = None if ids is None else pl.Series(np.asarray(ids, dtype=str).tolist(),
                                                      dtype=pl.String)
        self.frames: list = []

    def add(self, layer: int, graph: Graph, alpha: np.ndarray) -> None:
        """alpha: (E, H) in ``graph``'s CSR order."""
        pl = self.pl
        e, heads = alpha.shape
        targets = np.tile(graph.targets().astype(np.int64), heads)
        sources = np.tile(graph.sources.astype(np.int64), heads)
        self.frames.append(pl.DataFrame([
            pl.Series("layer", np.full(e * heads, layer, dtype=np.int32)),
            pl.Series("head", np.repeat(np.arange(heads, dtype=np.int32), e)),
            pl.Series("target", targets), pl.Series("source", sources),
            pl.Series("alpha", np.ascontiguousarray(alpha.T).reshape(-1)),
        ]))

    def write(self, out: BinaryIO) -> None:
        pl = self.pl
        if self.frames:
            frame = pl.concat(self.frames)
        else:
            frame = pl.DataFrame({"layer": [], "head": [], "target": [], "source": [],
                                  "alpha": []}, schema={"layer": pl.Int32, "head": pl.Int32,
                                                        "target": pl.Int64,
                                                        "source": pl.Int64,
                                                        "alpha": pl.Float64})
        if self.ids is not None:
            names = self.ids.cast(pl.Enum(self.ids))  # ids are unique
            frame = frame.with_columns(names.gather(frame["target"]).alias("target"),
                                       names.gather(frame["source"]).alias("source"))
        self.frames = []
        _write(frame, out)
