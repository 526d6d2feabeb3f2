"""gatcli.engine.dask: the Dask engine gives the local engine's bits, and survives a worker
killed mid-run (Dask recomputes the lost pieces and retries the task elsewhere).

One LocalCluster of 2 worker processes for the module. Skipped only where the
``distributed`` extra is not installed.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from gatcli.engine.dask import DaskEngine, node_partitions, target_partitions  # noqa: E402
from gatcli.forward import forward  # noqa: E402
from gatcli.kernel import product_chunks  # noqa: E402
from gatcli.model.init import init_model  # noqa: E402
from gatcli.model.spec import model_spec  # noqa: E402

N, E, F = 30_000, 120_000, 64  # 8192-row product chunks: 4 node partitions


def graph_and_features(seed: int = 0):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, N, E)
    dst = np.where(rng.random(E) < 0.1, 7, rng.integers(0, N, E))  # a hub, and some
    dst[:50] = src[:50]  # existing self-loops
    x = rng.standard_normal((N, F)).astype(np.float32)
    return src, dst, x


@pytest.fixture(scope="module")
def engine():
    with DaskEngine("local:2", partitions=4) as eng:
        yield eng


@pytest.mark.parametrize("kind", ["gat", "gatv2"])
@pytest.mark.parametrize("keep", [False, True])
def test_dask_engine_equals_the_local_engine_exactly(engine, kind, keep):
    src, dst, x = graph_and_features()
    model = init_model(model_spec(F, layers=2, kind=kind), seed=1)
    local = forward(model, x, src, dst, keep_attention=keep)
    done = []
    remote = forward(model, x, src, dst, keep_attention=keep, engine=engine,
                     progress=lambda layer, rows, total: done.append((layer, rows, total)))
    assert np.array_equal(remote.embeddings, local.embeddings)
    for a, b in zip(remote.attention, local.attention):
        assert (a is None and b is None and not keep) or np.array_equal(a, b)
    assert engine.stats["shuffle_bytes"] > 0  # rows did move between partitions
    assert (0, N, N) in done and (1, N, N) in done


def test_a_memory_mapped_npy_is_read_by_the_workers_from_its_path(engine, tmp_path):
    src, dst, x = graph_and_features(1)
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    model = init_model(model_spec(F, layers=2), seed=2)
    local = forward(model, x, src, dst)
    remote = forward(model, mapped, src, dst, engine=engine)
    assert np.array_equal(remote.embeddings, local.embeddings)


class KillOnce(distributed.WorkerPlugin):
    """Ends its worker's process the first time a block task starts there (marker file)."""

    def __init__(self, marker: str):
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and "gat-block-1" in str(key):
            try:
                os.unlink(self.marker)
            except FileNotFoundError:
                return
            os._exit(1)


def test_a_worker_killed_mid_run_is_survived_with_the_same_result(engine, tmp_path):
    src, dst, x = graph_and_features(2)
    model = init_model(model_spec(F, layers=2), seed=3)
    local = forward(model, x, src, dst)
    marker = tmp_path / "kill-once"
    marker.touch()
    engine.client.register_plugin(KillOnce(str(marker)), name="kill-once")
    try:
        remote = forward(model, x, src, dst, engine=engine)
    finally:
        engine.client.unregister_worker_plugin("kill-once")
    assert not marker.exists(), "no worker was killed"
    assert np.array_equal(remote.embeddings, local.embeddings)
    engine.client.wait_for_workers(2, timeout=60)


def test_partitions_are_contiguous_and_node_partitions_keep_the_chunks():
    indptr = np.concatenate([[0], np.cumsum(np.r_[np.full(10, 100), np.ones(990, int)])])
    ranges = target_partitions(indptr, 4)
    assert ranges[0][0] == 0 and ranges[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    chunks = product_chunks(1000, 2 ** 19 // 100)
    groups = node_partitions(chunks, ranges)
    assert [c for g in groups for c in g] == chunks


def test_missing_extra_is_named_in_one_line(monkeypatch):
    import builtins

    from gatcli.engine import dask as dask_engine

    real = builtins.__import__

    def no_distributed(name, *args, **kwargs):
        if name == "distributed":
            raise ImportError("No module named 'distributed'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    with pytest.raises(ImportError, match=r"pip install 'gatcli\[distributed\]'"):
        dask_engine.import_distributed()


