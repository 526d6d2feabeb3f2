"""Benchmark harness: gat's forward pass (and PyG's GATConv when importable) and the whole
``gat embed`` command on seeded power-law graphs, Cora and a PubMed-shaped graph.

Cora (real, examples/graphs/cora) and ``pubmed`` (generated with PubMed's shape, see
benchmarks/citation.py) run twice: gat from dense features (``X = dense``) and from the same
features as a scipy.sparse CSR matrix (``X = sparse``); PyG always gets the dense tensor, as
users run it.

Every measurement runs in a fresh subprocess: it loads the cached inputs, resets the peak
resident set size (``/proc/self/clear_refs``), runs once (warm-up; its peak above the loaded
inputs is the *forward peak memory*), then times ``--repeats`` runs and reports the median.
gat and PyG get the same graph, features and weights, and their outputs are compared.

    python benchmarks/run.py                       # all cases, 5 repeats
    /work/venvs/pyg/bin/python benchmarks/run.py   # ... with PyG in the same run
    python benchmarks/run.py --cases 1e6 --repeats 3 --no-command
    python benchmarks/run.py --cases cora,pubmed --small-repeats 51 --no-command
    python benchmarks/run.py --cases 1e6 --no-pyg --before /tmp/gat-0421600 --no-command

On a shared machine, ``--rounds R`` pairs the compared runs: each row runs R rounds of (gat,
PyG[, gat before]) workers in turn, each worker timing its repeats; the times shown are the
medians over all rounds, the speed-up the median of the rounds' ratios, so a load change
hits both sides of each ratio alike. ``--before DIR`` adds the gat of another checkout (e.g.
``git archive COMMIT | tar -x -C DIR``) as a third worker of every round (``gat before``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import scipy.sparse as sp  # noqa: E402

from benchmarks.citation import cora, pubmed_like  # noqa: E402
from benchmarks.powerlaw import BenchGraph, powerlaw_graph, write_inputs  # noqa: E402

if os.environ.get("GAT_BENCH_CODE"):  # a worker of --before: that checkout's gatcli
    sys.path.insert(0, os.environ["GAT_BENCH_CODE"])

#: name -> (edges, nodes, features); power-law graphs have N = E / 10 and 128 features;
#: cora is the real graph, pubmed a generated one of PubMed's shape (both with sparse
#: features as well).
CASES = {
    "cora": (10_556, 2_708, 1_433),
    "pubmed": (88_648, 19_717, 500),
    "1e5": (100_000, 10_000, 128),
    "1e6": (1_000_000, 100_000, 128),
    "1e7": (10_000_000, 1_000_000, 128),
}
#: The memory-traffic floor of one layer quoted in issue 6 (seconds).
FLOOR = {"1e6": 0.13, "1e7": 0.97}
MODELS = ("layer", "2-layer")
#: cases with sparse features (features_sparse.npz) besides the dense ones
SPARSE_CASES = ("cora", "pubmed")
#: cases small enough to be timed --small-repeats times
SMALL_CASES = ("cora", "pubmed", "1e5")
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "gat-bench-cache"


# -- inputs --------------------------------------------------------------------------------


def case_dir(cache: Path, name: str) -> Path:
    edges, nodes, feats = CASES[name]
    kind = {"cora": "real", "pubmed": "shaped"}.get(name, "seed0")
    return cache / f"{name}-e{edges}-n{nodes}-f{feats}-{kind}"


def prepare(cache: Path, name: str, csv: bool) -> Path:
    """Generate (once) and cache the case's arrays and its input files for ``gat embed``."""
    folder = case_dir(cache, name)
    done = folder / ("done-csv" if csv else "done")
    if done.exists():
        return folder
    edges, nodes, feats = CASES[name]
    if name in SPARSE_CASES:
        graph, x_sparse = cora() if name == "cora" else pubmed_like(seed=0)
        folder.mkdir(parents=True, exist_ok=True)
        sp.save_npz(folder / "features_sparse.npz", x_sparse)
    else:
        graph = powerlaw_graph(edges, n_nodes=nodes, n_features=feats, seed=0, name=name)
    write_inputs(graph, folder, csv=csv)
    np.save(folder / "sources.npy", graph.sources)
    np.save(folder / "targets.npy", graph.targets)
    done.touch()
    if csv:
        (folder / "done").touch()
    return folder


def load(folder: Path, features: str = "dense") -> BenchGraph:
    """The cached case; ``features="sparse"``: x is the float32 CSR of features_sparse.npz."""
    x = (sp.csr_array(sp.load_npz(folder / "features_sparse.npz"), dtype=np.float32)
         if features == "sparse" else np.load(folder / "features.npy"))
    return BenchGraph(folder.name, np.load(folder / "sources.npy"),
                      np.load(folder / "targets.npy"), x)


# -- measuring in a worker process ----------------------------------------------------------


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def model_specs(name: str, in_dim: int):
    from gatcli.model.spec import LayerSpec, model_spec

    if name == "layer":  # one GATConv: 8 heads x 8, concatenated, self-loops, bias
        return [LayerSpec(in_dim, 8, 8, concat=True, activation="none")]
    return model_spec(in_dim, layers=2, hidden=8, heads=8, out_dim=8, out_heads=1)


def gat_runner(graph: BenchGraph, model_name: str):
    from gatcli.forward import forward
    from gatcli.model.init import init_model

    model = init_model(model_specs(model_name, graph.x.shape[1]), seed=0)

    def run() -> np.ndarray:
        return forward(model, graph.x, graph.sources, graph.targets).embeddings

    return run


def pyg_runner(graph: BenchGraph, model_name: str):
    import torch
    import torch.nn.functional as F
    from torch_geometric.nn import GATConv

    from gatcli.model.init import init_model

    model = init_model(model_specs(model_name, graph.x.shape[1]), seed=0)
    convs = []
    for layer in model.layers:
        s = layer.spec
        conv = GATConv(s.in_dim, s.out_dim, heads=s.heads, concat=s.concat,
                       negative_slope=s.negative_slope, add_self_loops=s.self_loops,
                       bias=s.bias)
        state = {k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in layer.params.items()}
        conv.load_state_dict(state, strict=True)
        conv.eval()
        convs.append((conv, s.activation))
    x = torch.from_numpy(graph.x)
    edge_index = torch.from_numpy(np.stack([graph.sources, graph.targets]))

    def run() -> np.ndarray:
        with torch.inference_mode():
            h = x
            for conv, activation in convs:
                h = conv(h, edge_index)
                if activation == "elu":
                    h = F.elu(h)
            return h.numpy()

    return run


def worker(impl: str, folder: Path, model_name: str, repeats: int, out: Path | None,
           features: str = "dense") -> dict:
    graph = load(folder, features if impl == "gat" else "dense")  # PyG: the dense tensor
    run = (gat_runner if impl == "gat" else pyg_runner)(graph, model_name)
    base = _status_kb("VmRSS")
    _reset_peak()
    t0 = time.perf_counter()
    result = run()
    first = time.perf_counter() - t0
    peak = _status_kb("VmHWM")
    if out is not None:
        np.save(out, result)
    del result
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return {"impl": impl, "model": model_name, "median": statistics.median(times),
            "times": times, "first": first, "peak_mb": (peak - base) / 1024,
            "base_mb": base / 1024}


def measure(python: str, impl: str, folder: Path, model_name: str, repeats: int,
            out: Path, features: str = "dense", code: Path | None = None) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--worker", impl, "--folder", str(folder),
           "--model", model_name, "--repeats", str(repeats), "--save", str(out),
           "--x", features]
    env = dict(os.environ)
    env.pop("GAT_BENCH_CODE", None)
    if code is not None:
        env["GAT_BENCH_CODE"] = str(code)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{impl} worker failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pooled(runs: list[dict]) -> dict:
    """One worker result from several rounds: the median over all their timed runs, the
    largest peak."""
    times = [t for r in runs for t in r["times"]]
    return {**runs[-1], "median": statistics.median(times), "times": times,
            "peak_mb": max(r["peak_mb"] for r in runs),
            "round_medians": [r["median"] for r in runs]}


# -- the whole command ----------------------------------------------------------------------


#: ``gat`` with its own peak RSS (VmHWM, which the kernel keeps per address space) printed at
#: exit: a child's ru_maxrss would include the peak of this (larger) harness process.
LAUNCH = """
import atexit, sys
def _peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write("gat-bench: peak " + line.split()[1] + " kB\\n")
atexit.register(_peak)
sys.argv[0] = "gat"
from gatcli.cli import main
main()
"""


def run_command(args: list[str]) -> tuple[float, float, dict[str, float]]:
    """Wall time (s), peak RSS (MB) and the --timings phases of one ``gat embed`` run."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", LAUNCH, "embed", *args, "--timings", "-q"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"gat embed {' '.join(args)} failed:\n{proc.stderr}")
    phases, peak = {}, 0.0
    for line in proc.stderr.splitlines():
        if line.startswith("gat: timing "):
            *name, seconds, _ = line[len("gat: timing "):].split()
            phases[" ".join(name)] = float(seconds)
        elif line.startswith("gat-bench: peak "):
            peak = int(line.split()[2]) / 1024
    return wall, peak, phases


def command_case(folder: Path, source: str, repeats: int, scratch: Path) -> dict:
    if source == "npy":
        inputs = [str(folder / "adjacency.npz"), str(folder / "features.npy")]
        output = scratch / "embeddings.npy"
    elif source == "sparse":
        inputs = [str(folder / "adjacency.npz"), str(folder / "features_sparse.npz")]
        output = scratch / "embeddings.npy"
    else:
        inputs = [str(folder / "edges.csv"), str(folder / "features.csv")]
        output = scratch / "embeddings.csv"
    runs = [run_command([*inputs, "-o", str(output)]) for _ in range(repeats)]
    walls = [r[0] for r in runs]
    best = runs[walls.index(statistics.median(walls))] if repeats % 2 else runs[0]
    return {"median": statistics.median(walls), "peak_mb": max(r[1] for r in runs),
            "phases": best[2]}


# -- CSV parsing ----------------------------------------------------------------------------


def csv_case(folder: Path, repeats: int) -> dict:
    from gatcli.io.readers import NodeIndex, read_features, read_graph

    def timed(fn) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    edges, feats = str(folder / "edges.csv"), str(folder / "features.csv")
    n = int(np.load(folder / "features.npy", mmap_mode="r").shape[0])
    return {
        "edges_loadtxt": timed(lambda: np.loadtxt(edges, delimiter=",", skiprows=1,
                                                  dtype=np.int64)),
        "edges_gat": timed(lambda: read_graph(edges, NodeIndex(n))),
        "features_loadtxt": timed(lambda: np.loadtxt(feats, delimiter=",", skiprows=1)),
        "features_gat": timed(lambda: read_features(feats)),
    }


# -- main -----------------------------------------------------------------------------------


def pyg_available(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import torch_geometric"], capture_output=True)
    return probe.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated subset of {', '.join(CASES)}")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--small-repeats", type=int, default=31,
                        help=f"timed runs of the small cases ({', '.join(SMALL_CASES)})")
    parser.add_argument("--features", default="dense,sparse",
                        help="dense and/or sparse features for the cases that have both")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--no-pyg", action="store_true")
    parser.add_argument("--no-command", action="store_true", help="skip whole-command runs")
    parser.add_argument("--csv-cases", default="1e5,1e6",
                        help="cases whose whole command also runs from CSV inputs")
    parser.add_argument("--json", type=Path, help="also write all results here")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of (gat, PyG[, before]) workers per row, in turn")
    parser.add_argument("--before", type=Path,
                        help="another checkout's gat, run in the same rounds (gat before)")
    parser.add_argument("--worker", choices=("gat", "pyg"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--save", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--x", default="dense", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.folder, args.model, args.repeats,
                                args.save, args.x)))
        return

    python = sys.executable
    with_pyg = not args.no_pyg and pyg_available(python)
    cases = [c for c in args.cases.split(",") if c]
    csv_cases = set(args.csv_cases.split(",")) & set(cases)
    models = [m for m in args.models.split(",") if m]
    kinds = [k for k in args.features.split(",") if k]
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  load {os.getloadavg()}  "
          f"repeats {args.repeats} (small cases {args.small_repeats})  rounds {args.rounds}  "
          f"PyG {'yes' if with_pyg else 'no'}"
          + (f"  before: {args.before}" if args.before else ""), flush=True)
    results: dict = {"forward": [], "command": [], "csv": []}
    scratch = Path(tempfile.mkdtemp(prefix="gat-bench-"))
    try:
        before_cols = " gat before s | current / before |" if args.before else ""
        print("| case | X | E | N | F | model | gat s | PyG s | speed-up | gat peak MB | "
              "PyG peak MB | memory ratio | max abs diff | floor s |" + before_cols
              + " load |", flush=True)
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
              + ("---|---|" if args.before else "") + "---|", flush=True)
        for name, model_name, features in [
                (n, m, k) for n in cases for k in kinds for m in models
                if k == "dense" or n in SPARSE_CASES]:
            folder = prepare(args.cache, name, csv=name in csv_cases)
            edges, nodes, feats = CASES[name]
            repeats = args.small_repeats if name in SMALL_CASES else args.repeats
            row = {"case": name, "model": model_name, "features": features,
                   "load": [os.getloadavg()[0]]}
            rounds: dict[str, list[dict]] = {"gat": [], "pyg": [], "before": []}
            for _ in range(max(1, args.rounds)):
                rounds["gat"].append(measure(python, "gat", folder, model_name, repeats,
                                             scratch / "gat.npy", features))
                if with_pyg:
                    rounds["pyg"].append(measure(python, "pyg", folder, model_name, repeats,
                                                 scratch / "pyg.npy"))
                if args.before:
                    rounds["before"].append(measure(python, "gat", folder, model_name,
                                                    repeats, scratch / "before.npy",
                                                    features, code=args.before))
            row["load"].append(os.getloadavg()[0])
            for impl, runs in rounds.items():
                if runs:
                    row[impl] = pooled(runs)
            if with_pyg:
                row["diff"] = float(np.abs(np.load(scratch / "gat.npy")
                                           - np.load(scratch / "pyg.npy")).max())
                row["speedup"] = statistics.median(
                    p["median"] / g["median"] for g, p in zip(rounds["gat"], rounds["pyg"]))
            if args.before:
                row["vs_before"] = statistics.median(
                    g["median"] / b["median"] for g, b in zip(rounds["gat"], rounds["before"]))
            results["forward"].append(row)
            g = row["gat"]
            p = row.get("pyg")
            floor = FLOOR.get(name) if model_name == "layer" else None
            cells = [name, features, f"{edges:,}", f"{nodes:,}", str(feats), model_name,
                     f"{g['median']:.4f}", f"{p['median']:.4f}" if p else "-",
                     f"{row['speedup']:.2f}x" if p else "-",
                     f"{g['peak_mb']:.0f}", f"{p['peak_mb']:.0f}" if p else "-",
                     f"{g['peak_mb'] / p['peak_mb']:.2f}" if p else "-",
                     f"{row['diff']:.1e}" if p else "-",
                     f"{floor} ({g['median'] / floor:.2f}x)" if floor else "-"]
            if args.before:
                cells += [f"{row['before']['median']:.4f}", f"{row['vs_before']:.2f}"]
            cells.append(f"{row['load'][0]:.1f}-{row['load'][1]:.1f}")
            print("| " + " | ".join(cells) + " |", flush=True)
        if not args.no_command:
            print("\n| case | input | wall s (median) | peak RSS MB | phases (s) |", flush=True)
            print("|---|---|---|---|---|", flush=True)
            for name in cases:
                folder = case_dir(args.cache, name)
                sources = ["npy"] + (["sparse"] if name in SPARSE_CASES else []) + (
                    ["csv"] if name in csv_cases else [])
                for source in sources:
                    res = command_case(folder, source, args.repeats, scratch)
                    results["command"].append({"case": name, "input": source, **res})
                    phases = ", ".join(f"{k} {v:.3f}" for k, v in res["phases"].items())
                    print(f"| {name} | {source} | {res['median']:.3f} | "
                          f"{res['peak_mb']:.0f} | {phases} |", flush=True)
            if csv_cases:
                print("\n| case | edges: np.loadtxt s | edges: gat reader s | "
                      "features: np.loadtxt s | features: gat reader s |", flush=True)
                print("|---|---|---|---|---|", flush=True)
                for name in cases:
                    if name not in csv_cases:
                        continue
                    res = csv_case(case_dir(args.cache, name), max(1, min(args.repeats, 3)))
                    results["csv"].append({"case": name, **res})
                    print(f"| {name} | {res['edges_loadtxt']:.3f} | {res['edges_gat']:.3f} | "
                          f"{res['features_loadtxt']:.3f} | {res['features_gat']:.3f} |",
                          flush=True)
        print(f"\n# end {time.strftime('%H:%M')}  load {os.getloadavg()}", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
