#!/usr/bin/env python3
"""Regenerate the example graphs under examples/graphs/ (tutorial, karate, cora, directed).

Requirements: numpy, scipy and networkx.
networkx is used ONLY by this script (for Zachary's karate club graph); it is NOT a
dependency of gatcli. Install it yourself (`pip install networkx`) to rerun this script.
The generated files are committed, so users of `gat` never need to run it.

Usage (from the repository root):

    python examples/graphs/make_examples.py                      # all four examples
    python examples/graphs/make_examples.py --only tutorial karate
    python examples/graphs/make_examples.py --cora-dir PATH      # Cora source directory

The output is deterministic: fixed random seed, fixed row order, "\\n" line endings,
gzip streams with mtime=0 and no embedded file name, and .npz members with a fixed
timestamp, so rerunning the script gives byte-identical files (for the same zlib).

File conventions (what `gat` reads):
  edges.csv[.gz]     header `source,target`; row `u,v` is the directed edge u -> v, meaning
                     v attends to u (PyTorch Geometric edge_index convention). Self-loops are
                     never written: the tool adds one per node by default.
  features.csv[.gz]  header `id,<feature names...>`; ids in the edge list refer to `id`.
  labels.csv         `id,label` (Cora adds `split`).
  features_sparse.npz  (Cora) the features as a scipy.sparse CSR matrix, row k = node k.
The READMEs next to the data are written by hand, not by this script.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
DEFAULT_CORA_DIR = Path("/work/shared/data/cora")
EXAMPLES = ("tutorial", "karate", "cora", "directed")


# --------------------------------------------------------------------------- writers


def csv_text(header, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write_csv(path: Path, header, rows) -> None:
    path.write_bytes(csv_text(header, rows).encode("utf-8"))


def write_gzip(path: Path, data: bytes) -> None:
    """gzip level 9, mtime=0 and no file name in the header: reproducible bytes."""
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            gz.write(data)


def save_npz_reproducible(path: Path, matrix=None, arrays=None) -> None:
    """scipy.sparse.save_npz (or np.savez of ``arrays``), then rewrite the zip with a fixed
    member timestamp.

    numpy stamps each .npy member of an .npz with the current time, so plain save_npz output
    differs from run to run; the arrays (and what load_npz returns) are unchanged here.
    """
    buf = io.BytesIO()
    if arrays is None:
        sp.save_npz(buf, matrix, compressed=True)
    else:
        np.savez(buf, **arrays)
    buf.seek(0)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, src.read(info.filename))


def edges_sorted_by_target(edges, order):
    """Sort (source, target) pairs by target, then source, in the given node order."""
    pos = {n: i for i, n in enumerate(order)}
    return sorted(edges, key=lambda e: (pos[e[1]], pos[e[0]]))


# --------------------------------------------------------------------------- tutorial

TUTORIAL_A = np.array(
    [
        [1, 1, 1, 1],
        [1, 1, 0, 0],
        [1, 0, 1, 1],
        [1, 0, 1, 1],
    ]
)


def make_tutorial(out: Path) -> None:
    """4-node worked example of the GAT tutorial notebook (A[i, j] = 1: i attends to j)."""
    out.mkdir(parents=True, exist_ok=True)
    A = TUTORIAL_A
    n = A.shape[0]
    # Same stream as the notebook's `np.random.seed(0); X = np.random.uniform(-1, 1, (4, 4))`
    # without touching numpy's global random state.
    X = np.random.RandomState(0).uniform(-1, 1, (n, n))

    # A[i, j] = 1 -> edge j -> i (source j, target i); diagonal left out (tool adds self-loops).
    edges = [(j, i) for i in range(n) for j in range(n) if A[i, j] and i != j]
    edges = edges_sorted_by_target(edges, range(n))
    write_csv(out / "edges.csv", ["source", "target"], edges)

    save_npz_reproducible(out / "adjacency.npz", sp.csr_matrix(A))

    header = ["id"] + [f"x{k}" for k in range(X.shape[1])]
    rows = [[i] + [repr(float(v)) for v in X[i]] for i in range(n)]
    write_csv(out / "features.csv", header, rows)

    # The notebook then draws W (2 x 4) and W_att (1 x 4) from the same stream.
    rs = np.random.RandomState(0)
    rs.uniform(-1, 1, (n, n))
    W = rs.uniform(-1, 1, (2, 4))
    W_att = rs.uniform(-1, 1, (1, 4))
    # gatcli's own weights layout (docs/formats.md): one GAT layer, 1 head of 2 features,
    # no bias, no activation. Wh = X @ W.T; a . [Wh_i || Wh_j]: the first half of W_att
    # multiplies the target i (att_dst), the second half the source j (att_src).
    architecture = ('[{"in_dim": 4, "out_dim": 2, "heads": 1, "concat": false, '
                    '"activation": "none", "negative_slope": 0.2, "bias": false, '
                    '"residual": false, "self_loops": true, "kind": "gat", '
                    '"share_weights": false}]')
    save_npz_reproducible(out / "weights.npz", arrays={
        "gatcli.format": np.array("gatcli-weights"),
        "gatcli.version": np.array(1),
        "gatcli.architecture": np.array(architecture),
        "layers.0.lin.weight": W,
        "layers.0.att_dst": W_att[:, :2].reshape(1, 1, 2),
        "layers.0.att_src": W_att[:, 2:].reshape(1, 1, 2),
    })

    # Expected outputs, computed densely here (independently of gatcli), with the softmax
    # masked to the edges of A: alpha[i, j] is the attention of node i on node j.
    Wh = X @ W.T
    scores = (Wh @ W_att[0, :2])[:, None] + (Wh @ W_att[0, 2:])[None, :]
    E = np.where(scores > 0, scores, 0.2 * scores)
    masked = np.where(A > 0, E, -np.inf)
    alpha = np.exp(masked - masked.max(axis=1, keepdims=True))
    alpha /= alpha.sum(axis=1, keepdims=True)
    H = alpha @ Wh
    write_csv(out / "expected_attention.csv", ["target"] + [f"source{j}" for j in range(n)],
              [[i] + [repr(float(v)) for v in alpha[i]] for i in range(n)])
    write_csv(out / "expected_embeddings.csv", ["id", "h0", "h1"],
              [[i] + [repr(float(v)) for v in H[i]] for i in range(n)])


def check_tutorial(out: Path) -> None:
    np.random.seed(0)
    X_ref = np.random.uniform(-1, 1, (4, 4))
    e = np.loadtxt(out / "edges.csv", delimiter=",", skiprows=1, dtype=np.int64)
    A = np.eye(4, dtype=np.int64)
    A[e[:, 1], e[:, 0]] = 1
    assert len(e) == 8 and not (e[:, 0] == e[:, 1]).any()
    assert (A == TUTORIAL_A).all()
    adj = sp.load_npz(out / "adjacency.npz")
    assert sp.issparse(adj) and adj.format == "csr" and (adj.toarray() == TUTORIAL_A).all()
    with open(out / "features.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "x0", "x1", "x2", "x3"]
    X = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3"]
    assert np.array_equal(X, X_ref), "features must round-trip exactly"


# --------------------------------------------------------------------------- karate

CLUBS = ("Mr. Hi", "Officer")


def make_karate(out: Path) -> None:
    """Zachary's karate club (Zachary 1977) as shipped by networkx."""
    import networkx as nx  # only needed here; not a gatcli dependency

    out.mkdir(parents=True, exist_ok=True)
    G = nx.karate_club_graph()
    nodes = sorted(G.nodes())
    assert nodes == list(range(34)) and G.number_of_edges() == 78

    # Undirected friendships stored in both directions (edge weights are dropped).
    edges = set()
    for u, v in G.edges():
        assert u != v
        edges.add((u, v))
        edges.add((v, u))
    edges = edges_sorted_by_target(edges, nodes)
    write_csv(out / "edges.csv", ["source", "target"], edges)

    degree = nx.degree_centrality(G)  # degree / (n - 1), unweighted
    clustering = nx.clustering(G)  # unweighted local clustering coefficient
    club = nx.get_node_attributes(G, "club")
    assert set(club.values()) == set(CLUBS)
    header = ["id", "degree_norm", "clustering", "club_mr_hi", "club_officer"]
    rows = [
        [
            v,
            repr(float(degree[v])),
            repr(float(clustering[v])),
            int(club[v] == "Mr. Hi"),
            int(club[v] == "Officer"),
        ]
        for v in nodes
    ]
    write_csv(out / "features.csv", header, rows)
    write_csv(out / "labels.csv", ["id", "label"], [[v, club[v]] for v in nodes])


def check_karate(out: Path) -> None:
    e = np.loadtxt(out / "edges.csv", delimiter=",", skiprows=1, dtype=np.int64)
    assert e.shape == (156, 2)
    pairs = {tuple(p) for p in e.tolist()}
    assert len(pairs) == 156 and all((v, u) in pairs for u, v in pairs)
    assert not (e[:, 0] == e[:, 1]).any() and set(e.ravel().tolist()) == set(range(34))
    with open(out / "features.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "degree_norm", "clustering", "club_mr_hi", "club_officer"]
    F = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert F.shape == (34, 4) and [int(r[0]) for r in rows[1:]] == list(range(34))
    deg = np.bincount(e[:, 1], minlength=34)
    assert np.allclose(F[:, 0], deg / 33)
    assert ((F[:, 2] + F[:, 3]) == 1).all()
    with open(out / "labels.csv", newline="") as f:
        lab = list(csv.reader(f))
    assert lab[0] == ["id", "label"] and len(lab) == 35
    assert all((r[1] == "Mr. Hi") == (F[i, 2] == 1) for i, r in enumerate(lab[1:]))
    assert sum(r[1] == "Mr. Hi" for r in lab[1:]) == 17


# --------------------------------------------------------------------------- cora

CORA_N, CORA_E, CORA_F, CORA_C = 2708, 10556, 1433, 7


def make_cora(out: Path, src: Path) -> None:
    """Cora (Planetoid split, PyG node order), re-encoded compactly."""
    out.mkdir(parents=True, exist_ok=True)

    # Edges: keep the source (PyG edge_index) order.
    with gzip.open(src / "edges.csv.gz", "rt", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["source", "target"]
    edges = np.array(rows[1:], dtype=np.int64)
    write_gzip(out / "edges.csv.gz", csv_text(["source", "target"], edges.tolist()).encode())

    # Features: from the sparse copy, as integer 0/1 cells.
    X = sp.load_npz(src / "features_sparse.npz").toarray()
    assert X.shape == (CORA_N, CORA_F) and set(np.unique(X).tolist()) <= {0.0, 1.0}
    Xi = X.astype(np.int8)
    lines = ["id," + ",".join(f"w{k}" for k in range(CORA_F))]
    for i in range(CORA_N):
        lines.append(f"{i}," + ",".join("1" if b else "0" for b in Xi[i]))
    text = "\n".join(lines) + "\n"
    # Cross-check against the CSV copy shipped next to the sparse one.
    with gzip.open(src / "features.csv.gz", "rb") as f:
        assert f.read().decode().replace("\r\n", "\n") == text, "features CSV != sparse copy"
    write_gzip(out / "features.csv.gz", text.encode())
    # The same features as a sparse matrix (what `gat` reads as sparse features): CSR with
    # int8 0/1 values, 49,216 stored entries.
    save_npz_reproducible(out / "features_sparse.npz", sp.csr_array(Xi))

    with open(src / "labels.csv", newline="") as f:
        lab = list(csv.reader(f))
    assert lab[0] == ["id", "label", "split"]
    write_csv(out / "labels.csv", lab[0], lab[1:])


def check_cora(out: Path) -> None:
    with gzip.open(out / "edges.csv.gz", "rt") as f:
        assert f.readline() == "source,target\n"
        e = np.loadtxt(f, delimiter=",", dtype=np.int64)
    assert e.shape == (CORA_E, 2) and e.min() == 0 and e.max() == CORA_N - 1
    pairs = {tuple(p) for p in e.tolist()}
    assert len(pairs) == CORA_E, "duplicate edges"
    assert all((v, u) in pairs for u, v in pairs), "not symmetric"
    assert not (e[:, 0] == e[:, 1]).any(), "self-loops"
    with gzip.open(out / "features.csv.gz", "rt") as f:
        header = f.readline().rstrip("\n").split(",")
        X = np.loadtxt(f, delimiter=",", dtype=np.int64)
    assert header == ["id"] + [f"w{k}" for k in range(CORA_F)]
    assert X.shape == (CORA_N, CORA_F + 1) and (X[:, 0] == np.arange(CORA_N)).all()
    assert set(np.unique(X[:, 1:]).tolist()) == {0, 1} and X[:, 1:].sum() == 49216
    Xs = sp.load_npz(out / "features_sparse.npz")
    assert Xs.format == "csr" and Xs.nnz == 49216 and (Xs.toarray() == X[:, 1:]).all()
    with open(out / "labels.csv", newline="") as f:
        lab = list(csv.reader(f))
    assert lab[0] == ["id", "label", "split"] and len(lab) == CORA_N + 1
    assert [int(r[0]) for r in lab[1:]] == list(range(CORA_N))
    assert {int(r[1]) for r in lab[1:]} == set(range(CORA_C))
    splits = [r[2] for r in lab[1:]]
    counts = {s: splits.count(s) for s in ("train", "val", "test", "none")}
    assert counts == {"train": 140, "val": 500, "test": 1000, "none": 1068}, counts
    # Planetoid public split: 20 training nodes per class.
    train = [int(r[1]) for r in lab[1:] if r[2] == "train"]
    assert np.bincount(train).tolist() == [20] * CORA_C


# --------------------------------------------------------------------------- directed

# Who follows whom. Row (u, v) = "v follows u": v sees u's posts, i.e. v attends to u.
DIRECTED_NODES = [
    # id, posts_per_week, account_age_years, verified
    ("alice", "12.0", "6.5", 1),
    ("bob", "3.5", "2.0", 0),
    ("carol", "7.0", "4.25", 0),
    ("dave", "1.0", "0.5", 0),
    ("erin", "0.0", "1.5", 0),
    ("frank", "20.0", "9.0", 1),  # follows nobody: no in-edges
]
DIRECTED_EDGES = [
    ("carol", "alice"),  # alice follows carol (and carol follows alice: mutual)
    ("alice", "bob"),  # bob follows alice
    ("alice", "carol"),  # carol follows alice
    ("bob", "carol"),  # carol follows bob
    ("carol", "dave"),  # dave follows carol
    ("frank", "dave"),  # dave follows frank
    ("alice", "erin"),  # erin follows alice
    ("dave", "erin"),  # erin follows dave
    ("frank", "erin"),  # erin follows frank
]


def make_directed(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    order = [n[0] for n in DIRECTED_NODES]
    edges = edges_sorted_by_target(DIRECTED_EDGES, order)
    write_csv(out / "edges.csv", ["source", "target"], edges)
    header = ["id", "posts_per_week", "account_age_years", "verified"]
    write_csv(out / "features.csv", header, [list(n) for n in DIRECTED_NODES])


def check_directed(out: Path) -> None:
    with open(out / "edges.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["source", "target"]
    edges = [tuple(r) for r in rows[1:]]
    assert len(edges) == len(set(edges)) == 9 and all(u != v for u, v in edges)
    with open(out / "features.csv", newline="") as f:
        feat = list(csv.reader(f))
    assert feat[0] == ["id", "posts_per_week", "account_age_years", "verified"]
    ids = [r[0] for r in feat[1:]]
    np.array([[float(v) for v in r[1:]] for r in feat[1:]])  # all numeric
    assert {x for e in edges for x in e} <= set(ids)
    no_in = [n for n in ids if all(v != n for _, v in edges)]
    assert no_in == ["frank"], no_in


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", nargs="+", choices=EXAMPLES, default=list(EXAMPLES))
    p.add_argument("--cora-dir", type=Path, default=DEFAULT_CORA_DIR,
                   help="directory with Cora's edges.csv.gz, features_sparse.npz, "
                        "features.csv.gz and labels.csv (default: %(default)s)")
    p.add_argument("--out", type=Path, default=HERE, help="output root (default: this folder)")
    args = p.parse_args(argv)

    for name in args.only:
        out = args.out / name
        if name == "cora":
            if not args.cora_dir.is_dir():
                p.error(f"Cora source directory not found: {args.cora_dir} "
                        "(pass --cora-dir, or leave cora out with --only)")
            make_cora(out, args.cora_dir)
        else:
            {"tutorial": make_tutorial, "karate": make_karate, "directed": make_directed}[name](out)
        {"tutorial": check_tutorial, "karate": check_karate, "cora": check_cora,
         "directed": check_directed}[name](out)
        print(f"{name}: ok -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
