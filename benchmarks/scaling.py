"""Out-of-core and Dask runs of ``gat embed`` (benchmarks/RESULTS.md, *Scaling*).

    # a large binary case quickly (uniform sources, Pareto-skewed targets, no deduplication)
    python benchmarks/scaling.py generate --edges 50000000 --out /work/tmp/g5e7
    # gat embed in a memory cgroup (v1 or v2; needs root), with its peak and the cgroup's
    python benchmarks/scaling.py run /tmp/g1e7 --cgroup-mb 512 -- --memory-limit 384M
    python benchmarks/scaling.py run /tmp/g1e7 -- --scheduler local:2

``run`` writes ``out-<tag>.npy`` next to the inputs, prints the ``--timings`` phases, the
peak RSS, the cgroup's peak usage and the load average, and whether the output equals an
existing ``out-memory.npy`` (the in-memory run) bit for bit.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp


def generate(edges: int, nodes: int, features: int, out: Path, seed: int = 0) -> None:
    """adjacency.npz (uncompressed CSR, row = target) and features.npy, written in chunks."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sources = rng.integers(0, nodes, edges, dtype=np.int32)
    # skewed in-degrees: a Pareto rank, scattered over the ids by a fixed permutation
    rank = np.minimum(rng.pareto(1.1, edges) * (nodes / 1000), nodes - 1).astype(np.int64)
    targets = rng.permutation(nodes).astype(np.int32)[rank]
    del rank
    adjacency = sp.csr_array((np.ones(edges, np.float32), (targets, sources)),
                             shape=(nodes, nodes))
    del sources, targets
    sp.save_npz(out / "adjacency.npz", adjacency, compressed=False)
    del adjacency
    table = np.lib.format.open_memmap(out / "features.npy", mode="w+", dtype=np.float32,
                                      shape=(nodes, features))
    step = 1 << 18
    for start in range(0, nodes, step):
        stop = min(nodes, start + step)
        table[start:stop] = rng.standard_normal((stop - start, features), dtype=np.float32)
    table.flush()
    del table


def cgroup_prefix(limit_mb: int) -> tuple[list[str], Path]:
    """A shell prefix that runs a command in a fresh memory cgroup of ``limit_mb`` MB."""
    v2 = Path("/sys/fs/cgroup/cgroup.controllers")
    if v2.exists():
        folder = Path("/sys/fs/cgroup/gatbench")
        folder.mkdir(exist_ok=True)
        (folder / "memory.max").write_text(f"{limit_mb}M")
        peak = folder / "memory.peak"
    else:
        folder = Path("/sys/fs/cgroup/memory/gatbench")
        folder.mkdir(exist_ok=True)
        (folder / "memory.limit_in_bytes").write_text(f"{limit_mb}M")
        (folder / "memory.max_usage_in_bytes").write_text("0")
        peak = folder / "memory.max_usage_in_bytes"
    script = f"echo $$ > {folder}/cgroup.procs && exec \"$@\""
    return ["sh", "-c", script, "sh"], peak


def run(folder: Path, gat_args: list[str], cgroup_mb: int | None, tag: str) -> None:
    out = folder / f"out-{tag}.npy"
    command = ["/usr/bin/time", "-v", "gat", "embed", str(folder / "adjacency.npz"),
               str(folder / "features.npy"), "-o", str(out), "--timings", "-q", *gat_args]
    peak_file = None
    if cgroup_mb:
        prefix, peak_file = cgroup_prefix(cgroup_mb)
        command = prefix + command
    load = os.getloadavg()
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  load {load[0]:.2f} -> "
          f"{os.getloadavg()[0]:.2f}  exit {done.returncode}  wall {wall:.1f} s")
    if done.returncode != 0:
        print(done.stderr[-2000:])
    for line in done.stderr.splitlines():
        if line.startswith("gat:") or re.search(r"Maximum resident|User time|System time|"
                                                 r"Elapsed|Percent of CPU", line):
            print(line.strip())
    if peak_file is not None:
        print(f"cgroup peak {int(peak_file.read_text()) / 2**20:.0f} MB (limit {cgroup_mb} MB)")
    reference = folder / "out-memory.npy"
    if done.returncode == 0 and reference.exists() and out != reference:
        same = np.array_equal(np.load(reference, mmap_mode="r"), np.load(out, mmap_mode="r"))
        print(f"identical to the in-memory run: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--edges", type=int, required=True)
    gen.add_argument("--nodes", type=int, default=None, help="default: edges / 10")
    gen.add_argument("--features", type=int, default=128)
    gen.add_argument("--out", type=Path, required=True)
    go = sub.add_parser("run")
    go.add_argument("folder", type=Path)
    go.add_argument("--cgroup-mb", type=int, default=None)
    go.add_argument("--tag", default=None, help="output name (default: from the options)")
    argv = sys.argv[1:]
    gat_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if args.command == "generate":
        generate(args.edges, args.nodes or args.edges // 10, args.features, args.out)
        return
    tag = args.tag or (re.sub(r"[^A-Za-z0-9]+", "-", "-".join(gat_args)).strip("-")
                       or "memory")
    run(args.folder, gat_args, args.cgroup_mb, tag)


if __name__ == "__main__":
    sys.exit(main())
