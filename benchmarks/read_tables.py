"""Read-side benchmark (issue 10): the features CSV and the edge-list CSV of a case, read by

- ``numpy.loadtxt`` on the whole file (what gat's reader was built on before issue 10),
- gat's reader with the numpy engine (``GAT_IO_ENGINE=numpy``: streamed blocks, loadtxt),
- gat's reader with polars (``GAT_IO_ENGINE=polars``),

each run in a fresh subprocess (wall time of the read, including importing gatcli and, for
the polars engine, polars; and the process's peak RSS), median of ``--repeats`` rounds that
run every variant once, in turn (so a load change on a shared machine hits all alike). The
whole-command measurement lives in benchmarks/io_write.py and benchmarks/run.py;
``read_case`` can be called from such a harness so both run in one harness run.

    python benchmarks/read_tables.py --cases 1e6 --repeats 3
    python benchmarks/read_tables.py --cases 1e6 --repeats 5 --in-process

``--in-process`` times the features reads in one process after the imports (what the
issue's comparison of readers measured): numpy.loadtxt, gat with either engine, and bare
``polars.read_csv`` with a Float64 schema for reference (the parser gat's polars engine
drives, without gat's checks, blocks and copy into a numpy array), interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import DEFAULT_CACHE, prepare  # noqa: E402

#: what each variant runs (path in sys.argv[1]; the edge reader also gets N in argv[2])
VARIANTS = {
    "features: numpy.loadtxt": (
        "numpy", "import numpy as np; np.loadtxt(sys.argv[1], delimiter=',', skiprows=1)"),
    "features: gat (numpy engine)": (
        "numpy", "from gatcli.io.readers import read_features; read_features(sys.argv[1])"),
    "features: gat (polars engine)": (
        "polars", "from gatcli.io.readers import read_features; read_features(sys.argv[1])"),
    "edges: numpy.loadtxt": (
        "numpy", "import numpy as np; np.loadtxt(sys.argv[1], delimiter=',', skiprows=1, "
                 "dtype=np.int64)"),
    "edges: gat (numpy engine)": (
        "numpy", "from gatcli.io.readers import NodeIndex, read_graph; "
                 "read_graph(sys.argv[1], NodeIndex(int(sys.argv[2])))"),
    "edges: gat (polars engine)": (
        "polars", "from gatcli.io.readers import NodeIndex, read_graph; "
                  "read_graph(sys.argv[1], NodeIndex(int(sys.argv[2])))"),
}

SCRIPT = """
import resource, sys, time
t0 = time.perf_counter()
{body}
seconds = time.perf_counter() - t0
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run_variant(variant: str, path: Path, nodes: int) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one read in a fresh process."""
    engine, body = VARIANTS[variant]
    env = dict(os.environ, GAT_IO_ENGINE=engine)
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(body=body), str(path),
                          str(nodes)], capture_output=True, text=True, env=env, check=True)
    seconds, peak_kb = out.stdout.split()
    return float(seconds), int(peak_kb) / 1024


def read_case(folder: Path, repeats: int) -> dict:
    """Median seconds and peak MB of every variant on ``folder``'s CSV inputs."""
    features, edges = folder / "features.csv", folder / "edges.csv"
    nodes = sum(1 for _ in open(features, "rb")) - 1
    runs: dict[str, list[tuple[float, float]]] = {variant: [] for variant in VARIANTS}
    load = [os.getloadavg()[0]]
    for _ in range(repeats):  # interleaved: every variant once a round, in turn
        for variant in VARIANTS:
            path = features if variant.startswith("features") else edges
            runs[variant].append(run_variant(variant, path, nodes))
    load.append(os.getloadavg()[0])
    results = {}
    for variant, found in runs.items():
        path = features if variant.startswith("features") else edges
        results[variant] = {"median_s": statistics.median(r[0] for r in found),
                            "peak_mb": max(r[1] for r in found),
                            "mb": path.stat().st_size / 1e6, "load": load}
    return results


def in_process(path: Path, repeats: int) -> dict:
    """Median seconds of each features read of ``path`` in this process, interleaved."""
    import numpy as np
    import polars as pl

    from gatcli.io.readers import read_features

    width = len(path.open().readline().split(","))
    schema = {f"c{k}": pl.Float64 for k in range(width)}

    def gat(engine: str) -> None:
        os.environ["GAT_IO_ENGINE"] = engine
        try:
            read_features(str(path))
        finally:
            os.environ.pop("GAT_IO_ENGINE")

    readers = {
        "numpy.loadtxt": lambda: np.loadtxt(path, delimiter=",", skiprows=1),
        "gat (numpy engine)": lambda: gat("numpy"),
        "gat (polars engine)": lambda: gat("polars"),
        "bare polars.read_csv (reference)": lambda: pl.read_csv(
            path, has_header=False, skip_lines=1, schema=schema).to_numpy(),
    }
    times: dict[str, list[float]] = {name: [] for name in readers}
    load = [os.getloadavg()[0]]
    gat("polars")  # (first use of polars: its start-up is not the parse)
    for _ in range(repeats):
        for name, read in readers.items():
            start = time.perf_counter()
            read()
            times[name].append(time.perf_counter() - start)
    load.append(os.getloadavg()[0])
    return {name: {"median_s": statistics.median(found), "load": load}
            for name, found in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="1e6")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--in-process", action="store_true",
                        help="features reads in one process (see the module doc)")
    args = parser.parse_args()
    if args.in_process:
        print(f"# {time.strftime('%Y-%m-%d %H:%M')}  in process, repeats {args.repeats}")
        print("| case | reader | median s | loadtxt / this | load |\n|---|---|---|---|---|")
        for name in args.cases.split(","):
            found = in_process(prepare(args.cache, name, csv=True) / "features.csv",
                               args.repeats)
            base = found["numpy.loadtxt"]["median_s"]
            for reader, res in found.items():
                print(f"| {name} | {reader} | {res['median_s']:.3f} | "
                      f"{base / res['median_s']:.2f}x | "
                      f"{res['load'][0]:.1f}-{res['load'][1]:.1f} |", flush=True)
        return
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  load {os.getloadavg()[0]:.2f}  "
          f"repeats {args.repeats}", flush=True)
    print("| case | variant | file MB | median s | x vs loadtxt | peak RSS MB | load |")
    print("|---|---|---|---|---|---|---|")
    everything = {}
    for name in args.cases.split(","):
        folder = prepare(args.cache, name, csv=True)
        results = read_case(folder, args.repeats)
        everything[name] = results
        for variant, res in results.items():
            base = results[variant.split(":")[0] + ": numpy.loadtxt"]["median_s"]
            print(f"| {name} | {variant} | {res['mb']:.0f} | {res['median_s']:.3f} | "
                  f"{base / res['median_s']:.2f} | {res['peak_mb']:.0f} | "
                  f"{res['load'][0]:.1f}-{res['load'][1]:.1f} |", flush=True)
    print(f"# load at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1))


if __name__ == "__main__":
    main()
