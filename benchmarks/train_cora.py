"""Training on Cora: ``gat train`` against PyTorch Geometric training the same model.

Node classification (the GAT paper's transductive setting): for each seed, one run of the
installed ``gat train`` command and one run of a PyG script, each in a fresh process and timed
end to end (interpreter start, imports, reading the same files with the same readers,
training, evaluation). Both train GATConv(1433 -> 8 x 8, dropout 0.6) -> ELU -> GATConv(64 ->
7, 1 head, mean) with dropout 0.6 on each layer's input, Adam (lr 0.005, weight decay 5e-4 on
every parameter), row-normalised features, at most 1000 epochs, early stopping with patience
100 on validation loss or accuracy, keeping the weights of the best validation accuracy
(ties: lower validation loss); the test accuracy of those weights is reported. Runs of the
two alternate, so both see the same machine load.

Link prediction (``--link``): ``gat train --objective link`` (graph auto-encoder on GAT
embeddings, 85/5/10 edge split) per seed: test ROC-AUC and AP; then a linear probe
(logistic regression, gatcli.train.probe) of the embeddings on the labels, against the
same probe on the raw features and on untrained (seeded) GAT embeddings.

    python benchmarks/train_cora.py --seeds 10 --json results.json
    python benchmarks/train_cora.py --link --seeds 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("GAT_CORA", HERE.parent.parent / "shared" / "data" / "cora"))
if not DATA.exists():
    DATA = Path("/work/shared/data/cora")
#: the same files for both sides; the features as the scipy.sparse matrix of the data set
EDGES, FEATURES, LABELS = (str(DATA / n) for n in ("edges.csv.gz", "features_sparse.npz",
                                                    "labels.csv"))


# -- the PyG side (run as a child process: python train_cora.py --child-pyg SEED) ----------

def pyg_child(seed: int, threads: int | None, max_epochs: int = 1000) -> dict:
    import numpy as np
    import torch

    if threads:
        torch.set_num_threads(threads)
    import torch.nn.functional as F
    from torch_geometric.nn import GATConv

    from gatcli.io.labels import read_labels
    from gatcli.io.readers import NodeIndex, read_features, read_graph
    from gatcli.train.objectives import node_task

    feats = read_features(FEATURES)
    index = NodeIndex.of(feats)
    sources, targets = read_graph(EDGES, index)
    task = node_task(read_labels(LABELS, index), feats.n_nodes)
    start = time.perf_counter()
    values = feats.values.toarray() if hasattr(feats.values, "toarray") else feats.values
    x = torch.tensor(values, dtype=torch.float32)
    x = x / x.sum(dim=1, keepdim=True).clamp(min=1)  # PyG's NormalizeFeatures
    edge_index = torch.tensor(np.stack([sources, targets]), dtype=torch.long)
    y = torch.tensor(task.y)
    masks = {k: torch.tensor(getattr(task, k)) for k in ("train", "val", "test")}
    torch.manual_seed(seed)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = GATConv(x.shape[1], 8, heads=8, dropout=0.6)
            self.conv2 = GATConv(64, task.n_classes, heads=1, concat=False, dropout=0.6)

        def forward(self, h):
            h = F.dropout(h, p=0.6, training=self.training)
            h = F.elu(self.conv1(h, edge_index))
            h = F.dropout(h, p=0.6, training=self.training)
            return self.conv2(h, edge_index)

    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005, weight_decay=5e-4)
    best_loss, best_acc, waited, kept, best_state, epochs = float("inf"), -1.0, 0, None, None, 0
    for epoch in range(1, max_epochs + 1):
        model.train()
        optimizer.zero_grad()
        out = model(x)
        F.cross_entropy(out[masks["train"]], y[masks["train"]]).backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            out = model(x)
            val_loss = float(F.cross_entropy(out[masks["val"]], y[masks["val"]]))
            val_acc = float((out[masks["val"]].argmax(1) == y[masks["val"]]).float().mean())
        epochs = epoch
        improved = False
        if val_loss < best_loss:
            best_loss, improved = val_loss, True
        if val_acc > best_acc:
            best_acc, improved = val_acc, True
        waited = 0 if improved else waited + 1
        if kept is None or (val_acc, -val_loss) > kept:
            kept = (val_acc, -val_loss)
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        if waited >= 100:
            break
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        out = model(x)
    test_acc = float((out[masks["test"]].argmax(1) == y[masks["test"]]).float().mean())
    return {"test_acc": test_acc, "epochs": epochs, "train_seconds": time.perf_counter() - start,
            "threads": torch.get_num_threads()}


# -- the harness -------------------------------------------------------------------------

def timed(command: list[str]) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``command`` to the end: (the process, {wall, cpu (user + system seconds of the
    child), load_before, load_after (1-minute load averages)})."""
    load_before = os.getloadavg()[0]
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=7200)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - used.ru_utime) + (after.ru_stime - used.ru_stime)
    return proc, {"wall": wall, "cpu": cpu, "load_before": load_before,
                  "load_after": os.getloadavg()[0]}


def run_gat(seed: int, workdir: Path, gat: str, max_epochs: int = 1000) -> dict:
    log = workdir / f"log-{seed}.jsonl"
    proc, times = timed([gat, "train", EDGES, FEATURES, LABELS, "-o",
                         str(workdir / f"gat-{seed}.npz"), "--seed", str(seed), "--log",
                         str(log), "--epochs", str(max_epochs)])
    if proc.returncode != 0:
        raise SystemExit(f"gat train failed: {proc.stderr}")
    test = float(re.search(r"test accuracy ([0-9.]+)", proc.stderr).group(1))
    records = [json.loads(line) for line in log.read_text().splitlines()]
    return {"test_acc": test, "epochs": len(records), **times,
            "train_seconds": sum(r["seconds"] for r in records)}


def run_pyg(seed: int, threads: int | None, max_epochs: int = 1000) -> dict:
    command = [sys.executable, __file__, "--child-pyg", str(seed), "--max-epochs",
               str(max_epochs)]
    if threads:
        command += ["--pyg-threads", str(threads)]
    proc, times = timed(command)
    if proc.returncode != 0:
        raise SystemExit(f"PyG run failed: {proc.stderr[-2000:]}")
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), **times}


def summary(rows: list[dict], key: str) -> str:
    values = [r[key] for r in rows]
    if len(values) < 2:
        return f"{values[0]:.4f}"
    return (f"mean {statistics.mean(values):.4f} sd {statistics.stdev(values):.4f} "
            f"min {min(values):.4f} max {max(values):.4f} median {statistics.median(values):.4f}")


def node_benchmark(seeds: list[int], pyg: bool, threads: int | None,
                   max_epochs: int = 1000) -> dict:
    """Per seed one gat and one PyG run, in alternating order (gat first on even seeds)."""
    gat = shutil.which("gat")
    if gat is None:
        raise SystemExit("the gat console script is not installed")
    results: dict[str, list[dict]] = {"gat": [], "pyg": []}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            sides = ["gat", "pyg"] if pyg else ["gat"]
            for side in sides if seed % 2 == 0 else sides[::-1]:
                row = (run_gat(seed, Path(tmp), gat, max_epochs) if side == "gat"
                       else run_pyg(seed, threads, max_epochs))
                results[side].append({"seed": seed, "at": time.strftime("%H:%M:%S"), **row})
                print(side, results[side][-1], flush=True)
            loads.append(os.getloadavg()[0])
    return {"results": results, "load_1min": loads, "pyg_threads": threads,
            "max_epochs": max_epochs}


def link_benchmark(seeds: int) -> dict:

    from gatcli.forward import forward
    from gatcli.io.labels import read_labels
    from gatcli.io.readers import NodeIndex, read_features, read_graph
    from gatcli.model.init import init_model
    from gatcli.model.spec import model_spec
    from gatcli.model.weights import load_weights
    from gatcli.train.objectives import node_task
    from gatcli.train.probe import linear_probe

    gat = shutil.which("gat")
    feats = read_features(FEATURES)
    index = NodeIndex.of(feats)
    sources, targets = read_graph(EDGES, index)
    task = node_task(read_labels(LABELS, index), feats.n_nodes)
    fit = task.train | task.val  # probe fit on the 640 train + val nodes, tested on 1000
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            out = Path(tmp) / f"link-{seed}.npz"
            start = time.perf_counter()
            proc = subprocess.run([gat, "train", EDGES, FEATURES, "--objective", "link", "-o",
                                   str(out), "--seed", str(seed)], capture_output=True,
                                  text=True, timeout=3600)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(proc.stderr)
            found = re.search(r"test ROC-AUC ([0-9.]+), AP ([0-9.]+)", proc.stderr)
            epochs = int(re.search(r"trained (\d+) epoch", proc.stderr).group(1))
            model = load_weights(str(out))
            z = forward(model, feats.values, sources, targets).embeddings
            untrained = init_model(model_spec(feats.values.shape[1], out_dim=16), seed=seed)
            z0 = forward(untrained, feats.values, sources, targets).embeddings
            rows.append({"seed": seed, "test_auc": float(found.group(1)),
                         "test_ap": float(found.group(2)), "epochs": epochs, "wall": wall,
                         "probe_trained": linear_probe(z, task.y, fit, task.test),
                         "probe_untrained": linear_probe(z0, task.y, fit, task.test)})
            print(rows[-1], flush=True)
    dense = feats.values.toarray() if hasattr(feats.values, "toarray") else feats.values
    raw = linear_probe(dense, task.y, fit, task.test)
    return {"results": rows, "probe_raw_features": raw, "load_1min": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--max-epochs", type=int, default=1000,
                        help="epoch limit of both sides (a short run times epochs only)")
    parser.add_argument("--pyg-threads", type=int, default=None,
                        help="torch.set_num_threads for the PyG runs (default: torch's own)")
    parser.add_argument("--no-pyg", action="store_true", help="only gat")
    parser.add_argument("--link", action="store_true", help="the link objective instead")
    parser.add_argument("--json", help="write the raw results here")
    parser.add_argument("--child-pyg", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_pyg is not None:
        sys.path.insert(0, str(HERE.parent))
        print(json.dumps(pyg_child(args.child_pyg, args.pyg_threads, args.max_epochs)))
        return
    if args.link:
        report = link_benchmark(args.seeds)
        rows = report["results"]
        for key in ("test_auc", "test_ap", "probe_trained", "probe_untrained", "wall"):
            print(f"{key}: {summary(rows, key)}")
        print(f"probe on raw features: {report['probe_raw_features']:.4f}")
    else:
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        report = node_benchmark(seeds, not args.no_pyg, args.pyg_threads, args.max_epochs)
        for name, rows in report["results"].items():
            for key in ("test_acc", "epochs", "wall", "cpu", "train_seconds"):
                if rows:
                    print(f"{name} {key}: {summary(rows, key)}")
        print(f"load average (1 min) during the runs: {report['load_1min']}")
    report["machine"] = {"cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M")}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
