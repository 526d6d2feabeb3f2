"""Benchmark of ``gat embed --nodes`` (issue 13): the whole command for a few chosen nodes
against the whole graph, on a cached power-law case of benchmarks/run.py.

Each run is the whole ``gat embed`` command in a fresh process (start-up, reading the
``.npz`` graph and ``.npy`` features, building the CSR, the layers, writing): wall time
(median of ``--repeats``), the process's own peak RSS, and the phases of ``--timings``.
The chosen nodes are drawn at random (seeded) without repeats; the receptive field's size
(nodes each layer reads) is printed too, computed in this process.

    python benchmarks/nodes.py                          # 1e7 case, 10 / 100 / 1k / 10k nodes
    python benchmarks/nodes.py --case 1e6 --counts 100 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.run import CASES, DEFAULT_CACHE, prepare, run_command  # noqa: E402


def field_sizes(folder: Path, chosen: np.ndarray) -> list[int]:
    """Input rows of each layer of the default 2-layer model for ``chosen`` (first layer
    first)."""
    from gatcli.forward import layer_graphs
    from gatcli.model.init import init_model
    from gatcli.model.spec import model_spec
    from gatcli.receptive import receptive_fields

    sources, targets = np.load(folder / "sources.npy"), np.load(folder / "targets.npy")
    n = int(np.load(folder / "features.npy", mmap_mode="r").shape[0])
    model = init_model(model_spec(128, layers=2), seed=0)
    fields = receptive_fields(layer_graphs(model, sources, targets, n), chosen)
    return [int(f.nodes.shape[0]) for f in fields] + [int(fields[-1].n_targets)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="1e7", choices=list(CASES))
    parser.add_argument("--counts", default="10,100,1000,10000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--no-fields", action="store_true",
                        help="skip computing the receptive fields' sizes in this process")
    args = parser.parse_args()
    folder = prepare(args.cache, args.case, csv=False)
    n = int(np.load(folder / "features.npy", mmap_mode="r").shape[0])
    inputs = [str(folder / "adjacency.npz"), str(folder / "features.npy")]
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  case {args.case}  load "
          f"{os.getloadavg()[0]:.2f}  repeats {args.repeats}", flush=True)
    print("| nodes | rows read by layer 1 / 2 / out | wall s (median) | runs s | "
          "peak RSS MB | vs whole | phases (s, median run) |", flush=True)
    print("|---|---|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="gat-nodes-") as tmp:
        scratch = Path(tmp)
        output = str(scratch / "out.npy")
        for count in [None] + [int(c) for c in args.counts.split(",") if c]:
            extra: list[str] = []
            sizes = "-"
            if count is not None:
                chosen = np.random.default_rng(count).choice(n, size=count, replace=False)
                listing = scratch / f"nodes{count}.txt"
                listing.write_text("\n".join(map(str, chosen)) + "\n")
                extra = ["--nodes", str(listing)]
                if not args.no_fields:
                    sizes = " / ".join(f"{s:,}" for s in field_sizes(folder, chosen))
            runs = [run_command([*inputs, "-o", output, *extra]) for _ in range(args.repeats)]
            walls = [r[0] for r in runs]
            median = statistics.median(walls)
            best = min(runs, key=lambda r: abs(r[0] - median))
            if count is None:
                whole = median
            phases = ", ".join(f"{k} {v:.3f}" for k, v in best[2].items())
            label = "all" if count is None else f"{count:,}"
            print(f"| {label} | {sizes} | {median:.3f} | "
                  f"{' '.join(f'{w:.2f}' for w in walls)} | {max(r[1] for r in runs):.0f} | "
                  f"{median / whole:.2f} | {phases} |", flush=True)
    print(f"# end {time.strftime('%H:%M')}  load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
