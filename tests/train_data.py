"""Helpers of the training tests: small generated graphs with planted classes (stochastic
block model: dense links inside a class, few across; features = a weak class signal + noise),
and central finite differences for the gradient checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Planted:
    sources: np.ndarray
    targets: np.ndarray
    x: np.ndarray          # (N, F)
    y: np.ndarray          # (N,) class 0..C-1
    split: np.ndarray      # (N,) "train" / "val" / "test" / "none"


def planted_graph(n: int = 150, classes: int = 3, features: int = 8, p_in: float = 0.08,
                  p_out: float = 0.005, signal: float = 0.5, seed: int = 0) -> Planted:
    """Undirected SBM (each edge in both directions) with ``classes`` equal classes; the
    class signal in the features is too weak alone (noise sd 1), the graph makes it clear.
    Split: 5 training nodes per class, 30 validation, the rest test, 10 nodes 'none'."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    rng.shuffle(y)
    same = y[:, None] == y[None, :]
    linked = np.triu(rng.random((n, n)) < np.where(same, p_in, p_out), 1)
    i, j = np.nonzero(linked)
    sources, targets = np.concatenate([i, j]), np.concatenate([j, i])
    centers = rng.normal(0, 1, (classes, features))
    x = signal * centers[y] + rng.normal(0, 1, (n, features))
    split = np.full(n, "test", dtype=object)
    order = rng.permutation(n)
    for c in range(classes):
        split[[k for k in order if y[k] == c][:5]] = "train"
    rest = [k for k in order if split[k] == "test"]
    split[rest[:30]] = "val"
    split[rest[30:40]] = "none"
    return Planted(sources, targets, x, y, split.astype(str))


def write_planted(root, data: Planted, class_names: list[str] | None = None) -> dict[str, str]:
    """edges.csv, features.csv (id column n0..), labels.csv (id,label,split) in ``root``."""
    ids = [f"n{k}" for k in range(data.x.shape[0])]
    names = class_names or [f"c{k}" for k in range(int(data.y.max()) + 1)]
    edges = "source,target\n" + "".join(f"{ids[s]},{ids[t]}\n"
                                        for s, t in zip(data.sources, data.targets))
    header = "id," + ",".join(f"f{k}" for k in range(data.x.shape[1]))
    rows = "".join(f"{ids[k]}," + ",".join(repr(float(v)) for v in data.x[k]) + "\n"
                   for k in range(data.x.shape[0]))
    labels = "id,label,split\n" + "".join(f"{ids[k]},{names[data.y[k]]},{data.split[k]}\n"
                                          for k in range(data.x.shape[0]))
    paths = {}
    for name, text in (("edges.csv", edges), ("features.csv", header + "\n" + rows),
                       ("labels.csv", labels)):
        (root / name).write_text(text)
        paths[name] = str(root / name)
    return paths


def numeric_gradient(f, value: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f() / d value by central differences, ``value`` changed in place and restored."""
    grad = np.zeros_like(value)
    for idx in np.ndindex(value.shape):
        old = value[idx]
        value[idx] = old + eps
        up = f()
        value[idx] = old - eps
        down = f()
        value[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad
