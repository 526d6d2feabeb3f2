"""What each choice in gatcli/layer.py and gatcli/graph.py gains: one GAT layer (F=128,
8 heads x 8, self-loops, float32) on a cached power-law graph, with one choice undone at a
time. Times are medians of wall-clock seconds in this process (run it on a quiet machine).

    python benchmarks/ablations.py --case 1e6 --repeats 5
    python benchmarks/ablations.py --case 1e6 --baseline 670ce32   # + the layer of a commit
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.run import DEFAULT_CACHE, case_dir, load, model_specs, prepare  # noqa: E402
from gatcli import graph as graph_module  # noqa: E402
from gatcli import kernel as kernel_module  # noqa: E402
from gatcli import layer as layer_module  # noqa: E402
from gatcli.engine import ThreadEngine  # noqa: E402
from gatcli.engine import threads as threads_module  # noqa: E402
from gatcli.forward import cast_layer  # noqa: E402
from gatcli.model.init import init_model  # noqa: E402


def median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def module_at(commit: str, path: str, name: str):
    """The module ``path`` as it was at ``commit`` (imported under ``name``)."""
    source = subprocess.run(["git", "-C", str(HERE.parent), "show", f"{commit}:{path}"],
                            capture_output=True, text=True, check=True).stdout
    file = Path(tempfile.mkdtemp()) / f"{name}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # (dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="1e6")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--baseline", help="a commit whose gatcli/layer.py and graph.py to time")
    args = parser.parse_args()
    g = load(prepare(args.cache, args.case, csv=False) if not case_dir(
        args.cache, args.case).exists() else case_dir(args.cache, args.case))
    layer = cast_layer(init_model(model_specs("layer", g.x.shape[1]), seed=0).layers[0],
                       np.float32)
    graph = graph_module.build_graph(g.sources, g.targets, g.n_nodes)
    rows = []

    def layer_time(engine: ThreadEngine | None = None, module=kernel_module, **patch) -> float:
        saved = {k: getattr(module, k) for k in patch}
        for k, v in patch.items():
            setattr(module, k, v)
        try:
            return median_time(lambda: layer_module.gat_layer(g.x, graph, layer,
                                                              engine=engine),
                               args.repeats)
        finally:
            for k, v in saved.items():
                setattr(module, k, v)

    current = layer_time()
    rows.append(("layer as committed (2 threads, 16k-edge blocks, global shift)", current))
    rows.append(("1 thread", layer_time(ThreadEngine(1))))
    rows.append(("node-table products in chunks with the BLAS's own threads (no limit)",
                 layer_time(module=threads_module, one_blas_thread=contextlib.nullcontext)))
    for chunk in (1 << 17, 1 << 21):
        rows.append((f"products in chunks of {chunk} elements of x (2^19 committed)",
                     layer_time(PRODUCT_ELEMENTS=chunk)))
    rows.append(("each row's own maximum (no global shift)",
                 layer_time(softmax_shift=lambda *a: None)))
    for edges in (1 << 12, 1 << 16, 1 << 18, 1 << 20):
        rows.append((f"blocks of {edges} edges (16384 committed)",
                     layer_time(ThreadEngine(edges_per_block=edges))))
    build = median_time(lambda: graph_module.build_graph(g.sources, g.targets, g.n_nodes),
                        args.repeats)
    rows.append(("build CSR (scipy COO -> CSR, stable)", build))

    def argsort_build():
        order = np.argsort(g.targets, kind="stable")
        return g.sources[order]

    rows.append(("  argsort(kind='stable') alone, for comparison",
                 median_time(argsort_build, args.repeats)))
    if args.baseline:
        old_graph = module_at(args.baseline, "gatcli/graph.py", "baseline_graph")
        old_layer = module_at(args.baseline, "gatcli/layer.py", "baseline_layer")
        rows.append((f"layer at {args.baseline}", median_time(
            lambda: old_layer.gat_layer(g.x, graph, layer), args.repeats)))
        rows.append((f"build CSR at {args.baseline}", median_time(
            lambda: old_graph.build_graph(g.sources, g.targets, g.n_nodes), args.repeats)))
    print(f"| {args.case}: variant | median s | vs committed |")
    print("|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.4f} | {seconds / current:.2f}x |")


if __name__ == "__main__":
    main()
