"""Output-side benchmarks of issue 10: embeddings CSV writing (before / numpy / polars), the
whole ``gat embed`` command from CSV with and without polars against the same run from
``.npy``/``.npz``, and what ``--attention att.csv`` adds (time and peak memory).

Uses run.py's cached power-law inputs and its ``run_command`` (a fresh process per run, peak
RSS from /proc, the ``--timings`` phases). Prints Markdown tables.

The compared runs are interleaved: every round runs each variant of a case once, in turn, so a
load change on a shared machine hits all of them alike; medians over the rounds. Variants of
the whole command: CSV inputs without polars (``GAT_IO_ENGINE=numpy``), CSV with polars (the
default ``auto``, what a user with the ``fast`` extra gets), ``.npz``/``.npy`` inputs, and with
``--before DIR`` the CSV run of another checkout's gat (``git archive COMMIT``). The
``--big-cases`` (1e7) run once each, last.

    python benchmarks/io_write.py --cases 1e5,1e6 --repeats 5
    python benchmarks/io_write.py --cases 1e5,1e6 --big-cases 1e7 --before /tmp/gat-0421600
"""

from __future__ import annotations

import argparse
import io
import json
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

    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    load = [os.getloadavg()[0]]
    times: dict[str, list[float]] = {"before": [], "numpy": [], "polars": []}
    for _ in range(repeats):  # interleaved: before, numpy, polars, before, ...
        times["before"].append(timed(lambda: write_before(io.BytesIO(), embeddings, ids)))
        for engine in ("numpy", "polars"):
            os.environ["GAT_IO_ENGINE"] = engine
            times[engine].append(timed(lambda: write_embeddings_text(
                io.BytesIO(), embeddings, ids, "id", ",")))
        os.environ.pop("GAT_IO_ENGINE")
    results = {name: statistics.median(found) for name, found in times.items()}
    results["load"] = [load[0], os.getloadavg()[0]]
    return results


def command(args: list[str], engine: str, code: Path | None = None) -> tuple:
    """One run of ``gat embed args`` (wall s, peak MB, phases) with GAT_IO_ENGINE=engine;
    ``code``: another checkout's gatcli instead of this one."""
    saved = dict(os.environ)
    os.environ["GAT_IO_ENGINE"] = engine
    if code is not None:
        os.environ["PYTHONPATH"] = str(code)
    try:
        return run_command(args)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def interleaved(variants: dict[str, tuple], rounds: int) -> dict[str, dict]:
    """variants: label -> (args, engine, code). Each round runs every variant once, in
    turn; per variant the median wall time, the largest peak and the phases of the run
    closest to the median, and the load average around the rounds."""
    runs: dict[str, list[tuple]] = {label: [] for label in variants}
    load = [os.getloadavg()[0]]
    for _ in range(rounds):
        for label, (args, engine, code) in variants.items():
            runs[label].append(command(args, engine, code))
    load.append(os.getloadavg()[0])
    results = {}
    for label, found in runs.items():
        walls = [r[0] for r in found]
        middle = sorted(range(len(found)), key=lambda k: walls[k])[len(found) // 2]
        results[label] = {"median": statistics.median(walls), "walls": walls,
                          "peak_mb": max(r[1] for r in found), "phases": found[middle][2],
                          "load": load}
    return results


def phases_text(phases: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.2f}" for name, seconds in phases.items()
                     if name != "total")


def whole_command(name: str, cache: Path, scratch: Path, rounds: int,
                  before: Path | None) -> dict[str, dict]:
    folder = prepare(cache, name, csv=True)
    csv_args = [str(folder / "edges.csv"), str(folder / "features.csv"),
                "-o", str(scratch / "emb.csv")]
    npy_args = [str(folder / "adjacency.npz"), str(folder / "features.npy"),
                "-o", str(scratch / "emb.npy")]
    variants = {"CSV, numpy (no polars)": (csv_args, "numpy", None),
                "CSV, polars (auto)": (csv_args, "auto", None),
                ".npz/.npy": (npy_args, "auto", None)}
    if before is not None:
        variants[f"CSV, before ({before.name})"] = (csv_args, "numpy", before)
    return interleaved(variants, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="1e5,1e6")
    parser.add_argument("--big-cases", default="", help="run once each, after the others")
    parser.add_argument("--attention-case", default="1e6")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of interleaved runs")
    parser.add_argument("--before", type=Path, help="another checkout's gat (CSV runs)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    everything: dict = {}
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}  load average at start: "
          f"{os.getloadavg()}  rounds {options.repeats}")
    print("\n### Embeddings CSV writer, 100,000 x 8 float32 (median s)\n")
    bench = writer_bench(options.repeats)
    everything["writer"] = bench
    print("| before | numpy path | polars path | before / numpy | before / polars | load |\n"
          "|---|---|---|---|---|---|")
    print(f"| {bench['before']:.3f} | {bench['numpy']:.3f} | {bench['polars']:.3f} | "
          f"{bench['before'] / bench['numpy']:.1f}x | {bench['before'] / bench['polars']:.1f}x "
          f"| {bench['load'][0]:.1f}-{bench['load'][1]:.1f} |", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="gat-io-write-"))
    print("\n### Whole `gat embed` (2-layer default model; median wall s, peak MB, phases)\n")
    print("| case | input, engine | rounds | median s | x .npy | peak MB | phases (s) | load |\n"
          "|---|---|---|---|---|---|---|---|")
    cases = [(c, options.repeats) for c in options.cases.split(",") if c]
    name = options.attention_case
    for case, rounds in cases:
        everything[case] = results = whole_command(case, options.cache, scratch, rounds,
                                                   options.before)
        print_case(case, rounds, results)
        if case == name:
            attention(name, options, scratch, everything)
    if name not in dict(cases):
        attention(name, options, scratch, everything)
    for case in (c for c in options.big_cases.split(",") if c):
        everything[case] = results = whole_command(case, options.cache, scratch, 1, None)
        print_case(case, 1, results)
    print(f"\n# end {time.strftime('%H:%M')}  load average: {os.getloadavg()}")
    if options.json:
        options.json.write_text(json.dumps(everything, indent=1))


def print_case(case: str, rounds: int, results: dict[str, dict]) -> None:
    npy = results[".npz/.npy"]["median"]
    for label, r in results.items():
        print(f"| {case} | {label} | {rounds} | {r['median']:.2f} | {r['median'] / npy:.2f}x | "
              f"{r['peak_mb']:.0f} | {phases_text(r['phases'])} | "
              f"{r['load'][0]:.1f}-{r['load'][1]:.1f} |", flush=True)


def attention(name: str, options: argparse.Namespace, scratch: Path, everything: dict) -> None:
    folder = prepare(options.cache, name, csv=False)
    base = [str(folder / "adjacency.npz"), str(folder / "features.npy"),
            "-o", str(scratch / "emb.npy")]
    results = interleaved({"without --attention": (base, "auto", None),
                           "--attention att.csv": (base + ["--attention",
                                                           str(scratch / "att.csv")],
                                                   "auto", None)}, options.repeats)
    everything[f"attention {name}"] = results
    plain, with_att = results["without --attention"], results["--attention att.csv"]
    print(f"\n### `--attention att.csv` on the {name} case (.npz/.npy inputs, default 2-layer "
          "model, 8 heads; polars installed)\n")
    print("| run | rounds | median s | peak MB | phases (s) | load |\n|---|---|---|---|---|---|")
    for label, r in results.items():
        print(f"| {label} | {options.repeats} | {r['median']:.2f} | {r['peak_mb']:.0f} | "
              f"{phases_text(r['phases'])} | {r['load'][0]:.1f}-{r['load'][1]:.1f} |")
    size = (scratch / "att.csv").stat().st_size / 1e6
    print(f"\nadded: {with_att['median'] - plain['median']:+.2f} s, peak "
          f"{with_att['peak_mb'] / plain['peak_mb']:.2f}x; att.csv {size:.0f} MB")
    print("\n| case | input, engine | rounds | median s | x .npy | peak MB | phases (s) | load |\n"
          "|---|---|---|---|---|---|---|---|", flush=True)


if __name__ == "__main__":
    main()
