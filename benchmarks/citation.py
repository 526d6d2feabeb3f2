"""Citation graphs with sparse bag-of-words features for the harness: Cora (the real data in
examples/graphs/cora) and a PubMed-shaped graph generated here.

PubMed itself cannot be downloaded on the benchmark machine, so ``pubmed_like`` makes a graph
of its shape with a fixed seed: 19,717 nodes, 44,324 undirected links stored in both
directions (88,648 directed edges, PyG's ``PubMed`` count; Planetoid's 44,338 includes
duplicates), no self-loops, skewed (Chung-Lu, power-law) degrees, and 500 TF-IDF-like
float32 features with about 50 non-zero words a node (90% zeros, as PubMed's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from benchmarks.powerlaw import BenchGraph

CORA_DIR = Path(__file__).resolve().parent.parent / "examples" / "graphs" / "cora"
PUBMED_NODES, PUBMED_LINKS, PUBMED_FEATURES, PUBMED_WORDS = 19_717, 44_324, 500, 50


def cora(folder: Path = CORA_DIR) -> tuple[BenchGraph, sp.csr_array]:
    """(Cora with dense float32 features, the same features as float32 CSR)."""
    edges = np.loadtxt(folder / "edges.csv.gz", delimiter=",", skiprows=1, dtype=np.int64)
    x = sp.csr_array(sp.load_npz(folder / "features_sparse.npz"), dtype=np.float32)
    return BenchGraph("cora", edges[:, 0], edges[:, 1], x.toarray()), x


def pubmed_like(seed: int = 0) -> tuple[BenchGraph, sp.csr_array]:
    """(A PubMed-shaped graph with dense float32 features, the same features as CSR)."""
    rng = np.random.default_rng(seed)
    n = PUBMED_NODES
    weights = (np.arange(n) + 1.0) ** (-1.0 / 1.5)  # degree exponent 2.5
    cdf = np.cumsum(weights) / weights.sum()
    relabel = rng.permutation(n)
    keys = np.zeros(0, np.int64)
    while keys.size < PUBMED_LINKS:
        want = 2 * (PUBMED_LINKS - keys.size) + 1024
        a = relabel[np.minimum(np.searchsorted(cdf, rng.random(want)), n - 1)]
        b = relabel[np.minimum(np.searchsorted(cdf, rng.random(want)), n - 1)]
        fresh = np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b)
        keys = np.concatenate([keys, fresh[a != b]])
        _, first = np.unique(keys, return_index=True)
        keys = keys[np.sort(first)]
    keys = keys[:PUBMED_LINKS]
    u, v = keys // n, keys % n
    sources, targets = np.concatenate([u, v]), np.concatenate([v, u])
    order = rng.permutation(sources.size)
    return _with_features(sources[order], targets[order], rng)


def _with_features(sources: np.ndarray, targets: np.ndarray,
                   rng: np.random.Generator) -> tuple[BenchGraph, sp.csr_array]:
    """TF-IDF-like features: Zipf-distributed word choice, term counts 1 + Poisson(0.7),
    weighted by log inverse document frequency."""
    n, f = PUBMED_NODES, PUBMED_FEATURES
    popularity = 1.0 / (np.arange(f) + 10.0)
    popularity /= popularity.sum()
    words = np.clip(rng.poisson(PUBMED_WORDS, n), 1, f)
    rows, cols = [], []
    for i, k in enumerate(words):
        rows.append(np.full(k, i))
        cols.append(rng.choice(f, k, replace=False, p=popularity))
    row, col = np.concatenate(rows), np.concatenate(cols)
    counts = 1.0 + rng.poisson(0.7, row.size)
    document_frequency = np.bincount(col, minlength=f)
    idf = np.log(n / (1.0 + document_frequency))
    values = (counts * idf[col] / 10.0).astype(np.float32)
    x = sp.csr_array((values, (row, col)), shape=(n, f))
    x.sort_indices()
    return BenchGraph("pubmed", sources, targets, x.toarray()), x
