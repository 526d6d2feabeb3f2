"""gatcli.io.writers: embeddings and attention files (happy paths, a few errors)."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest

from gatcli.errors import GatError
from gatcli.forward import forward
from gatcli.graph import build_graph
from gatcli.io.writers import read_attention_npz, write_attention, write_embeddings
from gatcli.model.init import init_model
from gatcli.model.spec import model_spec

EMB = np.array([[0.1, -2.0, 1e-20], [1 / 3, 5e300, -0.0]])
IDS = np.array(["a", "b"])


def rows(path, delimiter=","):
    with open(path, newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


@pytest.mark.parametrize("name,sep", [("e.csv", ","), ("e.tsv", "\t")])
def test_embeddings_csv_tsv_id_first_and_exact_numbers(tmp_path, name, sep):
    path = tmp_path / name
    write_embeddings(str(path), EMB, IDS, id_column="node")
    table = rows(path, sep)
    assert table[0] == ["node", "h0", "h1", "h2"]
    assert [r[0] for r in table[1:]] == ["a", "b"]
    np.testing.assert_array_equal(np.array([r[1:] for r in table[1:]], dtype=float), EMB)


def test_embeddings_float32_read_back_to_the_same_float32(tmp_path):
    values = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    path = tmp_path / "e.csv"
    write_embeddings(str(path), values, np.arange(5).astype(str))
    back = np.loadtxt(path, delimiter=",", skiprows=1)[:, 1:].astype(np.float32)
    np.testing.assert_array_equal(back, values)


def test_embeddings_npy(tmp_path):
    path = tmp_path / "e.npy"
    write_embeddings(str(path), EMB, IDS)
    np.testing.assert_array_equal(np.load(path), EMB)


def test_embeddings_to_stdout_are_csv(capsysbinary):
    write_embeddings("-", EMB[:, :1], IDS)
    assert capsysbinary.readouterr().out == b"id,h0\na,0.1\nb,0.3333333333333333\n"


def test_output_replaces_an_existing_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("old\n")
    write_embeddings(str(path), EMB, IDS)
    assert rows(path)[0][0] == "id"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.csv"]


def test_unknown_extension_and_non_finite_values_are_errors(tmp_path):
    with pytest.raises(GatError, match="extension"):
        write_embeddings(str(tmp_path / "e.xyz"), EMB, IDS)
    with pytest.raises(GatError, match="inf/NaN"):
        write_embeddings(str(tmp_path / "e.csv"), np.array([[np.inf]]), IDS[:1])
    assert list(tmp_path.iterdir()) == []


# -- attention -------------------------------------------------------------------------------


@pytest.fixture
def run():
    """A 2-layer, 3-head model on a small directed graph with string ids and a duplicate edge."""
    ids = np.array(["p", "q", "r", "s", "t"])
    sources = np.array([0, 1, 2, 3, 0, 0, 4])
    targets = np.array([1, 2, 0, 0, 3, 3, 4])
    model = init_model(model_spec(3, heads=3, hidden=2, out_heads=2), seed=1)
    x = np.random.default_rng(2).normal(size=(5, 3))
    result = forward(model, x, sources, targets, dtype=np.float64, keep_attention=True)
    return ids, result


def test_attention_csv_long_format_sums_to_one(tmp_path, run):
    ids, result = run
    path = tmp_path / "att.csv"
    write_attention(str(path), result.graphs, result.attention, ids)
    table = rows(path)
    assert table[0] == ["layer", "head", "target", "source", "alpha"]
    body = table[1:]
    heads = [3, 2]
    assert len(body) == sum(g.n_edges * h for g, h in zip(result.graphs, heads))
    sums: dict[tuple[str, str, str], float] = {}
    for layer, head, target, source, alpha in body:
        assert target in ids and source in ids
        key = (layer, head, target)
        sums[key] = sums.get(key, 0.0) + float(alpha)
    assert {(k[0], k[1]) for k in sums} == {("0", "0"), ("0", "1"), ("0", "2"),
                                            ("1", "0"), ("1", "1")}
    assert len(sums) == 5 * 5
    np.testing.assert_allclose(list(sums.values()), 1.0, atol=1e-12)
    # every (layer, head, target, source) row holds the alpha of that edge, in CSR order
    graph, alpha = result.graphs[1], result.attention[1]
    layer1_head1 = [r for r in body if r[:2] == ["1", "1"]]
    assert [r[2] for r in layer1_head1] == ids[graph.targets()].tolist()
    assert [r[3] for r in layer1_head1] == ids[graph.sources].tolist()
    np.testing.assert_array_equal([float(r[4]) for r in layer1_head1], alpha[:, 1])


def test_attention_tsv(tmp_path, run):
    ids, result = run
    path = tmp_path / "att.tsv"
    write_attention(str(path), result.graphs, result.attention, ids)
    assert rows(path, "\t")[1][:2] == ["0", "0"]


def test_attention_npz_one_matrix_per_layer_and_head(tmp_path, run):
    ids, result = run
    path = tmp_path / "att.npz"
    write_attention(str(path), result.graphs, result.attention, ids)
    loaded_ids, matrices = read_attention_npz(str(path))
    assert loaded_ids.tolist() == ids.tolist()
    assert set(matrices) == {(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)}
    for (layer, head), matrix in matrices.items():
        assert matrix.shape == (5, 5)
        dense = matrix.toarray()
        np.testing.assert_allclose(dense.sum(axis=1), 1.0, atol=1e-12)  # row = target
        graph = result.graphs[layer]
        expected = np.zeros((5, 5))
        np.add.at(expected, (graph.targets(), graph.sources), result.attention[layer][:, head])
        np.testing.assert_array_equal(dense, expected)
    # node s (3) attends to p (0) through two parallel edges and to itself: shares summed.
    assert matrices[(0, 0)].toarray()[3, 0] == pytest.approx(
        result.attention[0][:, 0][(result.graphs[0].targets() == 3)
                                  & (result.graphs[0].sources == 0)].sum())


def test_writing_attention_leaves_the_graphs_and_alphas_untouched(tmp_path, run):
    ids, result = run
    before = [(g.indptr.copy(), g.sources.copy(), a.copy())
              for g, a in zip(result.graphs, result.attention)]
    write_attention(str(tmp_path / "att.npz"), result.graphs, result.attention, ids)
    for (indptr, sources, alpha), graph, kept in zip(before, result.graphs, result.attention):
        np.testing.assert_array_equal(graph.indptr, indptr)
        np.testing.assert_array_equal(graph.sources, sources)
        np.testing.assert_array_equal(kept, alpha)


def test_attention_csv_to_stdout(capsysbinary):
    graph = build_graph(np.array([0]), np.array([1]), 2, self_loops=False)
    write_attention("-", [graph], [np.array([[1.0]])], np.array(["x", "y"]))
    assert capsysbinary.readouterr().out == b"layer,head,target,source,alpha\n0,0,y,x,1.0\n"


def test_attention_unknown_extension(tmp_path, run):
    ids, result = run
    with pytest.raises(GatError, match="extension"):
        write_attention(str(tmp_path / "att.json"), result.graphs, result.attention, ids)


def test_nonfinite_float64_embeddings_and_attention_without_ids(tmp_path, io_engine):
    """With allow_nonfinite: NaN and inf written as numpy does (``nan``, ``inf``), next to
    ``-0.0`` and a subnormal; ids None are the rows 0..N-1 in both files."""
    values = np.array([[np.nan, -0.0], [5e-324, -np.inf], [0.1, 1e16]])
    write_embeddings(str(tmp_path / "e.csv"), values, None, allow_nonfinite=True)
    assert (tmp_path / "e.csv").read_bytes() == (
        b"id,h0,h1\n0,nan,-0.0\n1,5e-324,-inf\n2,0.1,1e+16\n")
    graph = build_graph(np.array([0, 2]), np.array([1, 1]), 3, self_loops=False)
    alpha = np.array([[np.nan], [2.5e-5]], dtype=np.float32)
    write_attention(str(tmp_path / "a.tsv"), [graph], [alpha], None, allow_nonfinite=True)
    assert (tmp_path / "a.tsv").read_bytes() == (
        b"layer\thead\ttarget\tsource\talpha\n0\t0\t1\t0\tnan\n0\t0\t1\t2\t2.5e-05\n")


def test_writer_thread_keeps_the_order_and_raises_a_write_error_in_the_caller(monkeypatch):
    from gatcli.io.writers import WriterThread

    class Sink:
        def __init__(self, fail_at=None):
            self.data, self.fail_at, self.synced = [], fail_at, 0

        def write(self, data):
            if len(self.data) == self.fail_at:
                raise OSError(28, "No space left on device")
            self.data.append(data)

        def flush(self):
            pass

        def fileno(self):
            return -1

    monkeypatch.setattr(WriterThread, "SYNC_BYTES", 10)
    monkeypatch.setattr("gatcli.io.writers.os.fsync", lambda fd: None)
    sink = Sink()
    thread = WriterThread(sink)
    chunks = [bytes([65 + k]) * (k + 3) for k in range(20)]
    for chunk in chunks:
        thread.write(memoryview(chunk))
    thread.close()
    assert sink.data == chunks
    failing = WriterThread(Sink(fail_at=3))
    with pytest.raises(OSError, match="No space"):
        for chunk in chunks:
            failing.write(chunk)
        failing.close()
    with pytest.raises(OSError, match="No space"):
        failing.close()


def test_attention_file_through_the_writer_thread_is_complete(tmp_path, monkeypatch, run,
                                                               io_engine):
    """Chunks and syncs of a few bytes: the same file as written in one piece (to stdout)."""
    from gatcli.io import text_out
    from gatcli.io.writers import WriterThread

    ids, result = run
    monkeypatch.setattr(WriterThread, "SYNC_BYTES", 64)
    monkeypatch.setattr(text_out, "ROWS_PER_CHUNK", 3)
    monkeypatch.setattr(text_out, "POLARS_CELLS_PER_CHUNK", 15)
    write_attention(str(tmp_path / "att.csv"), result.graphs, result.attention, ids)
    lines = [["layer", "head", "target", "source", "alpha"]]
    for layer, (graph, alpha) in enumerate(zip(result.graphs, result.attention)):
        for h in range(alpha.shape[1]):
            lines += [[str(layer), str(h), ids[t], ids[s], repr(float(alpha[e, h]))]
                      for e, (t, s) in enumerate(zip(graph.targets(), graph.sources))]
    assert (tmp_path / "att.csv").read_bytes() == "".join(
        ",".join(line) + "\n" for line in lines).encode()


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_attention_write_error_on_the_writer_thread_keeps_the_old_file(tmp_path, monkeypatch,
                                                                      run, error):
    """A full disk (or Ctrl-C inside a write) met by the writer thread ends the run in the
    caller as it would without the thread: the old file stays, no temporary is left."""
    from error_cases import FailingFile

    from gatcli.io import atomic

    ids, result = run
    real = atomic._open_temp
    monkeypatch.setattr(atomic, "_open_temp", lambda fd: FailingFile(real(fd), 100, error))
    path = tmp_path / "att.csv"
    path.write_bytes(b"old\n")
    with pytest.raises(GatError if isinstance(error, OSError) else KeyboardInterrupt):
        write_attention(str(path), result.graphs, result.attention, ids)
    assert path.read_bytes() == b"old\n"
    assert os.listdir(tmp_path) == ["att.csv"]
