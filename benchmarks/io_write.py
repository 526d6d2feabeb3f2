"""Output-side benchmarks of issue 10: embeddings CSV writing (before / numpy / polars), the
whole ``gat embed`` command from CSV with and without polars against the same run from
``.npy``/``.npz``, and what ``--attention att.csv`` adds (time and peak memory).

Uses run.py's cached power-law inputs and its ``run_command`` (a fresh process per run, peak
RSS from /proc, the ``--timings`` phases). Prints Markdown tables.

    python benchmarks/io_write.py --cases 1e5,1e6 --repeats 3
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.run import DEFAULT_CACHE, prepare, run_command  # noqa: E402


def write_before(out: io.BytesIO, embeddings: np.ndarray, ids: np.ndarray) -> None:
    """The embeddings CSV writer as it was before issue 10 (for the "before" column)."""
    sep = ","
    out.write((sep.join(["id"] + [f"h{k}" for k in range(embeddings.shape[1])]) + "\n")
              .encode())
    cells = embeddings.astype(str)
    columns = [np.asarray(ids, dtype=str), cells]
    n = embeddings.shape[0]
    for start in range(0, n, 1 << 16):
        parts = [c[start:start + (1 << 16)].reshape(-1, 1 if c.ndim == 1 else c.shape[1])
                 for c in columns]
        block = np.concatenate(parts, axis=1)
        out.write("\n".join(sep.join(row) for row in block.tolist()).encode() + b"\n")


def writer_bench(repeats: int) -> dict[str, float]:
    from gatcli.io.text_out import write_embeddings_text

    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(100_000, 8)).astype(np.float32)
    ids = np.arange(100_000).astype(str)
    results = {}

    def timed(fn) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    results["before"] = timed(lambda: write_before(io.BytesIO(), embeddings, ids))
    for engine in ("numpy", "polars"):
        os.environ["GAT_IO_ENGINE"] = engine
        results[engine] = timed(lambda: write_embeddings_text(io.BytesIO(), embeddings, ids,
                                                              "id", ","))
    os.environ.pop("GAT_IO_ENGINE")
    return results


def command(args: list[str], repeats: int, engine: str) -> dict:
    os.environ["GAT_IO_ENGINE"] = engine
    try:
        runs = [run_command(args) for _ in range(repeats)]
    finally:
        os.environ.pop("GAT_IO_ENGINE")
    walls = [r[0] for r in runs]
    middle = sorted(range(repeats), key=lambda k: walls[k])[repeats // 2]
    return {"median": statistics.median(walls), "peak_mb": max(r[1] for r in runs),
            "phases": runs[middle][2]}


def phases_text(phases: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.2f}" for name, seconds in phases.items()
                     if name != "total")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="1e5,1e6")
    parser.add_argument("--attention-case", default="1e6")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    options = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    print("\n### Embeddings CSV writer, 100,000 x 8 float32 (median s)\n")
    bench = writer_bench(options.repeats)
    print("| before | numpy path | polars path | before / polars |\n|---|---|---|---|")
    print(f"| {bench['before']:.3f} | {bench['numpy']:.3f} | {bench['polars']:.3f} | "
          f"{bench['before'] / bench['polars']:.1f}x |")
    scratch = Path(tempfile.mkdtemp(prefix="gat-io-write-"))
    print("\n### Whole `gat embed` (2-layer default model; median wall s, peak MB, phases)\n")
    print("| case | input | engine | median s | peak MB | phases (s) |\n|---|---|---|---|---|---|")
    for name in options.cases.split(","):
        folder = prepare(options.cache, name, csv=True)
        csv_args = [str(folder / "edges.csv"), str(folder / "features.csv"),
                    "-o", str(scratch / "emb.csv")]
        npy_args = [str(folder / "adjacency.npz"), str(folder / "features.npy"),
                    "-o", str(scratch / "emb.npy")]
        for label, args, engines in (("CSV", csv_args, ("numpy", "polars")),
                                     (".npy/.npz", npy_args, ("numpy",))):
            for engine in engines:
                r = command(args, options.repeats, engine)
                print(f"| {name} | {label} | {engine} | {r['median']:.2f} | "
                      f"{r['peak_mb']:.0f} | {phases_text(r['phases'])} |", flush=True)
    name = options.attention_case
    folder = prepare(options.cache, name, csv=False)
    base = [str(folder / "adjacency.npz"), str(folder / "features.npy"),
            "-o", str(scratch / "emb.npy")]
    print(f"\n### `--attention att.csv` on the {name} case (2 layers, 8 heads, polars)\n")
    print("| run | median s | peak MB | phases (s) |\n|---|---|---|---|")
    for label, extra in (("without --attention", []),
                         ("--attention att.csv", ["--attention", str(scratch / "att.csv")])):
        r = command(base + extra, options.repeats, "polars")
        print(f"| {label} | {r['median']:.2f} | {r['peak_mb']:.0f} | "
              f"{phases_text(r['phases'])} |", flush=True)
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
