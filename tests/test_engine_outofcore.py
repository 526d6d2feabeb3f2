"""Out-of-core runs (ThreadEngine with a memory limit, ``gat embed --memory-limit``): the
same bits as in memory, and no temporary file left after success, failure or Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from gatcli.engine import ThreadEngine, make_engine, parse_size
from gatcli.errors import GatError
from gatcli.forward import forward, forward_graphs, layer_graphs
from gatcli.graph import build_graph, build_graph_chunked
from gatcli.model.init import init_model
from gatcli.model.spec import model_spec

GAT = shutil.which("gat")


def edges(n: int, e: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, e)
    dst = np.where(rng.random(e) < 0.2, 3, rng.integers(0, n, e))
    dst[:20] = src[:20]  # existing self-loops
    return src, dst


@pytest.mark.parametrize("loops", [True, False])
def test_the_chunked_csr_is_the_in_memory_csr(loops):
    src, dst = edges(500, 7000)
    whole = build_graph(src, dst, 500, self_loops=loops)
    for chunk in (1, 999, 1 << 20):
        part = build_graph_chunked(src, dst, 500, self_loops=loops, chunk=chunk)
        assert np.array_equal(part.indptr, whole.indptr)
        assert np.array_equal(part.sources, whole.sources)
        assert part.sources.dtype == whole.sources.dtype


@pytest.mark.parametrize("kind", ["gat", "gatv2"])
def test_out_of_core_equals_in_memory_and_cleans_up(tmp_path, kind):
    n = 2000
    src, dst = edges(n, 30_000)
    x = np.random.default_rng(1).standard_normal((n, 24)).astype(np.float32)
    model = init_model(model_spec(24, layers=2, kind=kind), seed=2)
    whole = forward(model, x, src, dst, keep_attention=True)
    with ThreadEngine(memory_limit=1, tmp_dir=str(tmp_path)) as engine:
        graphs = layer_graphs(model, src, dst, n, engine=engine)
        assert isinstance(graphs[0].sources, np.memmap)
        result = forward_graphs(model, x, graphs, keep_attention=True, engine=engine)
        assert isinstance(result.embeddings, np.memmap)
        assert len(os.listdir(engine.folder)) > 3
        assert np.array_equal(result.embeddings, whole.embeddings)
        for a, b in zip(result.attention, whole.attention):
            assert np.array_equal(a, b)
        del result, graphs
    assert os.listdir(tmp_path) == []


def test_sparse_features_out_of_core(tmp_path):
    n = 600
    src, dst = edges(n, 5000, seed=3)
    x = sp.random(n, 300, density=0.05, format="csr", random_state=4, dtype=np.float32)
    model = init_model(model_spec(300, layers=2), seed=5)
    whole = forward(model, x, src, dst)
    with ThreadEngine(memory_limit=1, tmp_dir=str(tmp_path)) as engine:
        out = forward(model, x, src, dst, engine=engine).embeddings
        assert np.array_equal(out, whole.embeddings)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("text, size", [("384M", 384 << 20), ("2G", 2 << 30), ("4096", 4096),
                                        ("1.5k", 1536), ("512MiB", 512 << 20)])
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "12X", "-3M", "0", "M"])
def test_bad_sizes_are_one_line_errors(text):
    with pytest.raises(GatError, match="--memory-limit"):
        parse_size(text)


def test_automatic_limit_is_a_positive_size():
    engine = make_engine(memory_limit="auto")
    assert engine.memory_limit is None or engine.memory_limit >= 64 << 20


# -- the command ----------------------------------------------------------------------------


def write_inputs(folder: Path, n: int, e: int) -> None:
    src, dst = edges(n, e, seed=6)
    adjacency = sp.csr_array((np.ones(e, np.float32), (dst, src)), shape=(n, n))
    sp.save_npz(folder / "adjacency.npz", adjacency)
    x = np.random.default_rng(7).standard_normal((n, 32)).astype(np.float32)
    np.save(folder / "features.npy", x)


def run_gat(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([GAT, "embed", "adjacency.npz", "features.npy", "-q", *args],
                          cwd=folder, capture_output=True, text=True, timeout=300)


def test_command_out_of_core_equals_in_memory_and_leaves_nothing(tmp_path):
    write_inputs(tmp_path, 3000, 40_000)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert run_gat(tmp_path, "-o", "a.npy", "--attention", "a.npz").returncode == 0
    done = run_gat(tmp_path, "-o", "b.npy", "--attention", "b.npz", "--memory-limit", "64K",
                   "--tmp-dir", str(scratch))
    assert done.returncode == 0, done.stderr
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)
    assert os.listdir(scratch) == []


def test_command_failure_out_of_core_leaves_nothing(tmp_path):
    write_inputs(tmp_path, 500, 4000)
    assert run_gat(tmp_path, "-o", "a.npy", "--save-weights", "w.npz").returncode == 0
    weights = dict(np.load(tmp_path / "w.npz"))
    huge = {k: v * np.float32(1e25) if v.dtype.kind == "f" else v for k, v in weights.items()}
    np.savez(tmp_path / "huge.npz", **huge)  # the scores overflow: NaN embeddings, at the end
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = run_gat(tmp_path, "-o", "b.npy", "--weights", "huge.npz", "--memory-limit", "1K",
                   "--tmp-dir", str(scratch))
    assert "non-finite" in done.stderr or "NaN" in done.stderr or "inf" in done.stderr, \
        done.stderr
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert os.listdir(scratch) == []
    assert not (tmp_path / "b.npy").exists()


def test_command_interrupted_out_of_core_leaves_nothing(tmp_path):
    write_inputs(tmp_path, 200_000, 2_000_000)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    process = subprocess.Popen(
        [GAT, "embed", "adjacency.npz", "features.npy", "-q", "-o", "b.npy",
         "--memory-limit", "1K", "--tmp-dir", str(scratch), "--block-size", "50"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any(len(os.listdir(d)) >= 3 for d in scratch.glob("gat-*")):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert os.listdir(scratch) == []
    assert not (tmp_path / "b.npy").exists()
