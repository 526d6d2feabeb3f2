"""Issue 5 at the library level: what tricky-but-valid inputs mean, finite attention for huge
numbers, and the atomic output machinery (disk full, Ctrl-C, several outputs at once).

Messages of every bad input are checked end to end in tests/test_cli_errors.py.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp
from error_cases import FailingFile

import gatcli.io.atomic as atomic
import gatcli.io.source as source
from gatcli.errors import GatError
from gatcli.forward import forward
from gatcli.io.atomic import atomic_outputs, atomic_writer, check_output_path
from gatcli.io.readers import NodeIndex, read_features, read_graph
from gatcli.io.writers import write_embeddings
from gatcli.model.config import read_config
from gatcli.model.spec import Layer, LayerSpec, Model
from gatcli.model.weights import load_weights

X = np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.5], [2.0, 0.0, -2.0], [0.5, 0.5, 0.5]])
W = np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.3]])
A_SRC = np.array([0.7, -0.4])
A_DST = np.array([-0.2, 0.9])


def one_layer(scale_att: float = 1.0) -> Model:
    spec = LayerSpec(in_dim=3, out_dim=2, heads=1, concat=False, bias=False)
    return Model([Layer(spec, {"lin.weight": W, "att_src": A_SRC[None, None] * scale_att,
                               "att_dst": A_DST[None, None] * scale_att})])


def dense_attention(x: np.ndarray, edges: list[tuple[int, int]], att_scale: float = 1.0,
                    slope: float = 0.2) -> dict[tuple[int, int], float]:
    """alpha of every distinct edge (j, i), one term per listed copy, float64, loops."""
    wh = x @ W.T
    alphas: dict[tuple[int, int], float] = {}
    for i in range(x.shape[0]):
        incoming = [j for j, t in edges if t == i]
        if not incoming:
            continue
        scores = []
        for j in incoming:
            e = att_scale * (A_DST @ wh[i] + A_SRC @ wh[j])
            scores.append(e if e > 0 else slope * e)
        top = max(scores)
        weights = [np.exp(s - top) for s in scores]
        for j, w in zip(incoming, weights):
            alphas[(j, i)] = w / sum(weights)
    return alphas


def attention_by_edge(result) -> dict[tuple[int, int], list[float]]:
    graph, alpha = result.graphs[0], result.attention[0][:, 0]
    found: dict[tuple[int, int], list[float]] = {}
    for j, i, a in zip(graph.sources, graph.targets(), alpha):
        found.setdefault((int(j), int(i)), []).append(float(a))
    return found


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


# -- valid but tricky inputs ----------------------------------------------------------------


def test_duplicate_edges_are_kept_and_each_copy_counts_in_the_softmax(tmp_path):
    sources, targets = read_graph(write(tmp_path / "e.csv", b"0,1\n0,1\n2,1\n"), NodeIndex(4))
    assert list(zip(sources, targets)) == [(0, 1), (0, 1), (2, 1)]
    result = forward(one_layer(), X, sources, targets, dtype=np.float64, keep_attention=True)
    edges = [(0, 1), (0, 1), (2, 1)] + [(k, k) for k in range(4)]
    expected = dense_attention(X, edges)
    found = attention_by_edge(result)
    assert len(found[(0, 1)]) == 2
    for edge, alphas in found.items():
        assert alphas == pytest.approx([expected[edge]] * len(alphas), rel=1e-12)


def test_self_loops_in_the_input_are_not_doubled(tmp_path):
    sources, targets = read_graph(write(tmp_path / "e.csv", b"0,0\n1,0\n1,1\n"),
                                  NodeIndex(4))
    result = forward(one_layer(), X, sources, targets, dtype=np.float64, keep_attention=True)
    found = attention_by_edge(result)
    assert all(len(found[(k, k)]) == 1 for k in range(4))
    expected = dense_attention(X, [(1, 0)] + [(k, k) for k in range(4)])
    assert {e: a[0] for e, a in found.items()} == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("content", [b"", b"source,target\n", b"# no edges\n\n"])
def test_zero_edges_each_node_attends_only_to_itself(tmp_path, content):
    name = "e.csv" if content else "e.txt"
    path = tmp_path / name
    path.write_bytes(content)
    if not content:  # an empty file is an error; a header or comments only is zero edges
        with pytest.raises(GatError, match="empty file"):
            read_graph(str(path), NodeIndex(4))
        return
    sources, targets = read_graph(str(path), NodeIndex(4))
    assert sources.size == targets.size == 0
    result = forward(one_layer(), X, sources, targets, dtype=np.float64, keep_attention=True)
    assert attention_by_edge(result) == {(k, k): [1.0] for k in range(4)}
    np.testing.assert_allclose(result.embeddings, X @ W.T, rtol=1e-12)


def test_bom_crlf_and_final_newline_do_not_change_what_is_read(tmp_path):
    plain_f = b"id,x0,x1\na,1,2\nb,3,4\n"
    plain_e = b"source,target\na,b\nb,a\n"
    reference = read_features(write(tmp_path / "f.csv", plain_f))
    edges = read_graph(write(tmp_path / "e.csv", plain_e), NodeIndex.of(reference))
    for k, variant in enumerate([
        lambda b: b"\xef\xbb\xbf" + b, lambda b: b.replace(b"\n", b"\r\n"),
        lambda b: b.rstrip(b"\n"), lambda b: b.replace(b"\n", b"\r"),
        lambda b: gzip.compress(b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n")),
    ]):
        suffix = ".csv.gz" if k == 4 else ".csv"
        features = read_features(write(tmp_path / f"f{k}{suffix}", variant(plain_f)))
        np.testing.assert_array_equal(features.values, reference.values)
        assert list(features.ids) == ["a", "b"] and features.id_column == "id"
        got = read_graph(write(tmp_path / f"e{k}{suffix}", variant(plain_e)),
                         NodeIndex.of(features))
        np.testing.assert_array_equal(got, edges)


def test_adjacency_formats_agree_with_the_edge_list(tmp_path):
    dense = np.array([[0, 1, 0, 0], [0, 0, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0]])
    want = sorted((int(j), int(i)) for i, j in zip(*np.nonzero(dense)))  # A[i, j]: j -> i
    for fmt in ("csr", "csc", "coo", "bsr", "dia"):
        buffer = io.BytesIO()
        sp.save_npz(buffer, sp.csr_array(dense).asformat(fmt))
        s, t = read_graph(write(tmp_path / f"a_{fmt}.npz", buffer.getvalue()), NodeIndex(4))
        assert sorted(zip(s.tolist(), t.tolist())) == want, fmt
    for symmetry in ("general", "symmetric"):
        matrix = sp.coo_array(dense + dense.T if symmetry == "symmetric" else dense)
        path = tmp_path / f"a_{symmetry}.mtx"
        scipy.io.mmwrite(path, matrix, symmetry=symmetry)
        s, t = read_graph(str(path), NodeIndex(4))
        expected = sorted((int(j), int(i)) for i, j in zip(*np.nonzero(matrix.toarray())))
        assert sorted(zip(s.tolist(), t.tolist())) == expected


# -- numbers ------------------------------------------------------------------------------

EDGES = [(1, 0), (2, 0), (3, 0), (0, 1), (0, 2), (3, 2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("magnitude, att_scale", [(1e4, 1.0), (1e30, 1.0), (1e4, 1e25)])
def test_huge_features_and_scores_give_finite_attention(magnitude, att_scale, dtype):
    x = X * magnitude
    sources, targets = (np.array(v) for v in zip(*EDGES))
    result = forward(one_layer(att_scale), x, sources, targets, dtype=dtype,
                     keep_attention=True)
    alpha = result.attention[0][:, 0]
    assert np.isfinite(alpha).all()
    sums = np.zeros(4)
    np.add.at(sums, result.graphs[0].targets(), alpha)
    np.testing.assert_allclose(sums, 1.0, rtol=1e-5)
    if dtype == np.float64:
        expected = dense_attention(x, EDGES + [(k, k) for k in range(4)], att_scale)
        found = {e: a[0] for e, a in attention_by_edge(result).items()}
        assert found == pytest.approx(expected, abs=1e-9)


def test_float32_overflow_is_reported_not_written(tmp_path):
    x = np.full((4, 3), 1e30)
    model = one_layer()
    model.layers[0].params["lin.weight"] = W * 1e10
    sources, targets = (np.array(v) for v in zip(*EDGES))
    with np.errstate(all="ignore"):
        result = forward(model, x, sources, targets, dtype=np.float32)
    path = tmp_path / "out.csv"
    with pytest.raises(GatError, match=r"embedding values are inf/NaN \(float32 overflow"):
        write_embeddings(str(path), result.embeddings, np.arange(4).astype(str))
    assert not path.exists()


# -- permission denied, at the one place readers open files ---------------------------------


def _deny(monkeypatch, name):
    def deny(path, *args, **kwargs):
        if os.path.basename(str(path)) == name:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return open(path, *args, **kwargs)
    monkeypatch.setattr(source, "open", deny, raising=False)


@pytest.mark.parametrize("name, read", [
    ("f.npy", lambda p: read_features(p)),
    ("f.csv", lambda p: read_features(p)),
    ("a.npz", lambda p: read_graph(p, NodeIndex(2))),
    ("a.mtx", lambda p: read_graph(p, NodeIndex(2))),
    ("e.tsv", lambda p: read_graph(p, NodeIndex(2))),
    ("w.npz", load_weights),
    ("m.yaml", read_config),
])
def test_unreadable_file_is_named(tmp_path, monkeypatch, name, read):
    path = tmp_path / name
    path.write_bytes(b"anything")
    _deny(monkeypatch, name)
    with pytest.raises(GatError, match=rf"^{path}: permission denied: cannot read "):
        read(str(path))


# -- outputs ------------------------------------------------------------------------------


def _disk_full_after(monkeypatch, limit, error=None):
    error = error or OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    real = atomic._open_temp
    monkeypatch.setattr(atomic, "_open_temp", lambda fd: FailingFile(real(fd), limit, error))


@pytest.mark.parametrize("limit", [0, 1, 100, 5000])
def test_disk_full_mid_write_keeps_the_old_file(tmp_path, monkeypatch, limit):
    path = tmp_path / "out.csv"
    path.write_bytes(b"old content\n")
    _disk_full_after(monkeypatch, limit)
    embeddings = np.random.default_rng(0).normal(size=(500, 4))
    with pytest.raises(GatError, match=r"out\.csv: could not write: No space left on device"):
        write_embeddings(str(path), embeddings, np.arange(500).astype(str))
    assert path.read_bytes() == b"old content\n"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_ctrl_c_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "out.npy"
    path.write_bytes(b"old")
    _disk_full_after(monkeypatch, 10, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        write_embeddings(str(path), np.ones((50, 3)), np.arange(50).astype(str))
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.npy"]


def test_outputs_of_a_group_appear_together_or_not_at_all(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_bytes(b"old a")
    with pytest.raises(GatError, match="late"):
        with atomic_outputs():
            with atomic_writer(str(first)) as out:
                out.write(b"new a")
            assert first.read_bytes() == b"old a"  # not renamed before the group ends
            raise GatError("found a problem late")
    assert first.read_bytes() == b"old a" and not second.exists()
    assert sorted(os.listdir(tmp_path)) == ["a.csv"]
    with atomic_outputs():
        for path in (first, second):
            with atomic_writer(str(path)) as out:
                out.write(b"new")
    assert first.read_bytes() == second.read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == ["a.csv", "b.csv"]


def test_a_closed_stdout_keeps_the_files_already_finished(tmp_path):
    path = tmp_path / "a.csv"
    with pytest.raises(BrokenPipeError):
        with atomic_outputs():
            with atomic_writer(str(path)) as out:
                out.write(b"complete")
            raise BrokenPipeError
    assert path.read_bytes() == b"complete"
    assert os.listdir(tmp_path) == ["a.csv"]


def test_output_checks(tmp_path, monkeypatch):
    source = tmp_path / "in.csv"
    source.write_text("x")
    link = tmp_path / "link.csv"
    os.link(source, link)
    with pytest.raises(GatError, match="would overwrite the input"):
        check_output_path(str(link), [str(source)])
    with pytest.raises(GatError, match="two outputs"):
        check_output_path(str(tmp_path / "o.csv"), [], [str(tmp_path / "." / "o.csv")])
    check_output_path(str(tmp_path / "new.csv"), [str(source)])  # fine
    real_access = os.access
    monkeypatch.setattr(atomic.os, "access",
                        lambda p, mode: Path(p) != source and real_access(p, mode))
    with pytest.raises(GatError, match="read-only"):
        check_output_path(str(source))
    monkeypatch.setattr(atomic.tempfile, "mkstemp",
                        lambda **kw: (_ for _ in ()).throw(PermissionError(errno.EACCES, "no")))
    with pytest.raises(GatError, match="no permission to write in"):
        with atomic_writer(str(tmp_path / "x.csv")):
            pass
