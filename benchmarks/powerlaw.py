"""A seeded generator of skewed (power-law) directed graphs and features for the benchmarks.

Chung-Lu style: both ends of every edge are drawn independently with probability
proportional to a node weight ``w_k = (k + 1) ** (-1 / (gamma - 1))`` (degrees then follow a
power law with exponent ``gamma``), node ids are shuffled so hubs are spread over the id
range, self-loops are dropped and duplicate edges merged, and edges are shuffled. The same
seed gives the same graph on every machine (numpy's default_rng).

    python benchmarks/powerlaw.py --edges 1000000 --out /tmp/g1m    # writes edges/features files
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp


@dataclass
class BenchGraph:
    """sources/targets: (E,) int64 edges ``sources[k] -> targets[k]``; x: (N, F) float32."""

    name: str
    sources: np.ndarray
    targets: np.ndarray
    x: np.ndarray

    @property
    def n_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.sources.shape[0])


def powerlaw_edges(n_nodes: int, n_edges: int, *, gamma: float = 2.5,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(sources, targets): exactly ``n_edges`` distinct non-loop edges on ``n_nodes`` nodes."""
    rng = np.random.default_rng(seed)
    weights = (np.arange(n_nodes) + 1.0) ** (-1.0 / (gamma - 1.0))
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    relabel = rng.permutation(n_nodes)
    keys = np.zeros(0, np.int64)
    while keys.size < n_edges:
        want = int((n_edges - keys.size) * 1.15) + 1024
        src = relabel[np.minimum(np.searchsorted(cdf, rng.random(want)), n_nodes - 1)]
        dst = relabel[np.minimum(np.searchsorted(cdf, rng.random(want)), n_nodes - 1)]
        fresh = src.astype(np.int64) * n_nodes + dst
        fresh = fresh[src != dst]
        keys = np.concatenate([keys, fresh])
        # distinct keys, keeping the first occurrence (a sort plus a mask of changes)
        order = np.argsort(keys, kind="stable")
        ranked = keys[order]
        first = np.ones(ranked.size, bool)
        first[1:] = ranked[1:] != ranked[:-1]
        keys = keys[np.sort(order[first])]
    keys = keys[:n_edges]
    keys = keys[rng.permutation(keys.size)]
    return keys // n_nodes, keys % n_nodes


def features(n_nodes: int, n_features: int, *, seed: int = 0) -> np.ndarray:
    """(N, F) float32 standard-normal features."""
    rng = np.random.default_rng(seed + 1)
    return rng.standard_normal((n_nodes, n_features), dtype=np.float32)


def powerlaw_graph(n_edges: int, *, n_nodes: int | None = None, n_features: int = 128,
                   seed: int = 0, name: str | None = None) -> BenchGraph:
    """A power-law graph with ``n_edges`` edges and (default) ``n_edges // 10`` nodes."""
    n = n_nodes if n_nodes is not None else max(n_edges // 10, 2)
    src, dst = powerlaw_edges(n, n_edges, seed=seed)
    return BenchGraph(name or f"powerlaw-{n_edges:.0e}", src, dst, features(n, n_features,
                                                                             seed=seed))


def write_inputs(graph: BenchGraph, out: Path, *, csv: bool = True) -> dict[str, Path]:
    """Write the graph for ``gat embed``: adjacency .npz + features .npy (binary), and
    edges.csv + features.csv (text) when ``csv``. Returns the paths by role."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"adjacency": out / "adjacency.npz", "features_npy": out / "features.npy"}
    # row i lists the nodes i attends to: A[target, source]
    adjacency = sp.csr_array((np.ones(graph.n_edges, np.float32),
                              (graph.targets, graph.sources)),
                             shape=(graph.n_nodes, graph.n_nodes))
    sp.save_npz(paths["adjacency"], adjacency)
    np.save(paths["features_npy"], graph.x)
    if csv:
        paths["edges_csv"] = out / "edges.csv"
        paths["features_csv"] = out / "features.csv"
        edges = np.stack([graph.sources, graph.targets], axis=1)
        np.savetxt(paths["edges_csv"], edges, fmt="%d", delimiter=",",
                   header="source,target", comments="")
        header = ",".join(f"f{k}" for k in range(graph.x.shape[1]))
        np.savetxt(paths["features_csv"], graph.x, fmt="%.6g", delimiter=",",
                   header=header, comments="")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, required=True)
    parser.add_argument("--nodes", type=int, default=None, help="default: edges / 10")
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-csv", action="store_true", help="binary inputs only")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    graph = powerlaw_graph(args.edges, n_nodes=args.nodes, n_features=args.features,
                           seed=args.seed)
    for role, path in write_inputs(graph, args.out, csv=not args.no_csv).items():
        print(f"{role}: {path}")


if __name__ == "__main__":
    main()
