"""Peak memory of ``gat train`` on generated power-law graphs (issue 16: the backward keeps
per-edge arrays of E x H x F', never a dense N x N).

For each size, one fresh ``gat embed`` (the inference forward of the same model on the same
inputs: reading, CSR, one forward) and one fresh ``gat train --epochs K`` (the same reading
and CSR, then K epochs of forward with dropout, backward, Adam and an evaluation forward),
each a child process whose peak RSS comes from ``os.wait4``. Training's extra memory
(train - embed) is set against E' x H x F' x 4 bytes (one float32 per edge, head and feature
of the first layer; E' = E plus the N self-loops).

Inputs: ``powerlaw.py``'s graph (adjacency .npz, features .npy, N = E / 10, 128 standard
normal features) and a labels CSV with 7 random classes (20 training nodes each, 500
validation, 1000 test); default model (8 heads x 8, ELU, one output head of 7).

    python benchmarks/train_memory.py --edges 100000 1000000 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from powerlaw import powerlaw_graph, write_inputs  # noqa: E402

CLASSES, PER_CLASS, VAL, TEST = 7, 20, 500, 1000


def write_labels(path: Path, n_nodes: int, seed: int = 0) -> None:
    """id,label,split for every node: random classes, Planetoid-sized splits, rest 'none'."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n_nodes)
    split = np.full(n_nodes, "none", dtype=object)
    order = rng.permutation(n_nodes)
    for c in range(CLASSES):
        split[[k for k in order[: 50 * CLASSES * PER_CLASS] if y[k] == c][:PER_CLASS]] = "train"
    rest = order[split[order] == "none"]
    split[rest[:VAL]] = "val"
    split[rest[VAL:VAL + TEST]] = "test"
    rows = "".join(f"{k},{y[k]},{split[k]}\n" for k in range(n_nodes))
    path.write_text("id,label,split\n" + rows)


def peak_rss(command: list[str]) -> dict:
    """Run ``command``; its wall time (s) and peak RSS (MB, ru_maxrss of this child)."""
    start = time.perf_counter()
    load = os.getloadavg()[0]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {err[-2000:]}")
    return {"wall": time.perf_counter() - start, "peak_mb": usage.ru_maxrss / 1024,
            "cpu": usage.ru_utime + usage.ru_stime, "load_before": load,
            "load_after": os.getloadavg()[0]}


def measure(n_edges: int, epochs: int, gat: str, tmp: Path) -> dict:
    graph = powerlaw_graph(n_edges)
    paths = write_inputs(graph, tmp / f"g{n_edges}", csv=False)
    labels = tmp / f"g{n_edges}" / "labels.csv"
    write_labels(labels, graph.n_nodes)
    inputs = [str(paths["adjacency"]), str(paths["features_npy"])]
    model = tmp / f"g{n_edges}" / "model.npz"
    train = peak_rss([gat, "train", *inputs, str(labels), "-o", str(model), "--epochs",
                      str(epochs), "-q"])
    embed = peak_rss([gat, "embed", *inputs, "-w", str(model), "-o",
                      str(tmp / f"g{n_edges}" / "out.npy"), "-q"])
    heads, width = 8, 8
    edges_with_loops = graph.n_edges + graph.n_nodes
    per_edge_mb = edges_with_loops * heads * width * 4 / 2**20
    return {"edges": graph.n_edges, "nodes": graph.n_nodes, "features": graph.x.shape[1],
            "epochs": epochs, "embed": embed, "train": train,
            "e_h_f_mb": per_edge_mb,
            "extra_over_embed_in_e_h_f": (train["peak_mb"] - embed["peak_mb"]) / per_edge_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edges", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--json", help="write the raw results here")
    args = parser.parse_args()
    gat = shutil.which("gat")
    if gat is None:
        raise SystemExit("the gat console script is not installed")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n_edges in args.edges:
            row = measure(n_edges, args.epochs, gat, Path(tmp))
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("| E | N | E' x H x F' (MB) | embed peak MB | train peak MB | extra / (E' H F') "
          "| train wall s |")
    for r in rows:
        print(f"| {r['edges']:,} | {r['nodes']:,} | {r['e_h_f_mb']:.0f} | "
              f"{r['embed']['peak_mb']:.0f} | {r['train']['peak_mb']:.0f} | "
              f"{r['extra_over_embed_in_e_h_f']:.1f} | {r['train']['wall']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": rows, "date": time.strftime(
            "%Y-%m-%d %H:%M"), "cpus": os.cpu_count()}, indent=1))


if __name__ == "__main__":
    main()
