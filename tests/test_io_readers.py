"""gatcli.io.readers: the input formats that must work (error cases live elsewhere)."""

from __future__ import annotations

import gzip
import io
import sys

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from gatcli.errors import GatError
from gatcli.io.readers import NodeIndex, read_features, read_graph

X = np.array([[0.5, -1.0], [2.25, 3.0], [1e-3, -7.5]])


def edges(path, n: int = 3, ids=None) -> list[tuple[int, int]]:
    sources, targets = read_graph(str(path), NodeIndex(n, None if ids is None
                                                        else np.array(ids)))
    return list(zip(sources.tolist(), targets.tolist()))


def with_stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


# -- features -------------------------------------------------------------------------------


def test_features_csv_with_id_column(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("id,a,b\nn0,0.5,-1\nn1,2.25,3\nn2,1e-3,-7.5\n")
    feats = read_features(str(path))
    np.testing.assert_array_equal(feats.values, X)
    assert feats.values.dtype == np.float64
    assert feats.ids.tolist() == ["n0", "n1", "n2"]
    assert feats.id_column == "id" and feats.columns == ["a", "b"] and feats.n_nodes == 3
    assert feats.id_labels().tolist() == ["n0", "n1", "n2"]


def test_features_without_id_column_are_rows_0_to_n_minus_1(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("a,b\n0.5,-1\n2.25,3\n1e-3,-7.5\n")
    feats = read_features(str(path))
    np.testing.assert_array_equal(feats.values, X)
    assert feats.ids is None and feats.id_column is None and feats.columns == ["a", "b"]
    assert feats.id_labels().tolist() == ["0", "1", "2"]


def test_features_node_column_tsv_comments_blank_lines_and_crlf(tmp_path):
    path = tmp_path / "f.tsv"
    path.write_bytes(b"# made by hand\r\nnode\ta\tb\r\n\r\nx\t0.5\t-1\r\n# skip me\r\n"
                     b"y\t2.25\t3\r\nz\t1e-3\t-7.5\r\n\r\n")
    feats = read_features(str(path))
    np.testing.assert_array_equal(feats.values, X)
    assert feats.id_column == "node" and feats.ids.tolist() == ["x", "y", "z"]


def test_features_whitespace_txt_and_gz(tmp_path):
    path = tmp_path / "f.txt.gz"
    path.write_bytes(gzip.compress(b"id  a   b\n0   0.5 -1\n1\t2.25  3\n2 1e-3 -7.5\n"))
    feats = read_features(str(path))
    np.testing.assert_array_equal(feats.values, X)
    assert feats.ids.tolist() == ["0", "1", "2"]


def test_features_are_bit_exact(tutorial):
    x = np.random.RandomState(0).uniform(-1, 1, (4, 4))   # the notebook's np.random.seed(0)
    np.testing.assert_array_equal(read_features(str(tutorial / "features.csv")).values, x)


def test_features_npy(tmp_path):
    path = tmp_path / "f.npy"
    np.save(path, X.astype(np.float32))
    feats = read_features(str(path))
    np.testing.assert_array_equal(feats.values, X.astype(np.float32))
    assert feats.ids is None and feats.columns == ["f0", "f1"]


def test_features_from_stdin(monkeypatch):
    with_stdin(monkeypatch, b"id,a,b\nn0,0.5,-1\nn1,2.25,3\nn2,1e-3,-7.5\n")
    feats = read_features("-")
    np.testing.assert_array_equal(feats.values, X)
    assert feats.ids.tolist() == ["n0", "n1", "n2"]


def test_a_first_line_of_numbers_is_data_and_a_note_says_so(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("0.5,-1\n2.25,3\n")
    notes: list[str] = []
    feats = read_features(str(path), notes=notes)
    np.testing.assert_array_equal(feats.values, [[0.5, -1], [2.25, 3]])
    assert feats.ids is None
    assert len(notes) == 1 and "f.csv:1: the first line holds only numbers" in notes[0]
    assert "--header" in notes[0]


# -- edge lists -------------------------------------------------------------------------------


@pytest.mark.parametrize("name,text", [
    ("e.csv", "source,target\n0,1\n2,1\n1,0\n"),
    ("e.csv", "0,1\n2,1\n1,0\n"),
    ("e.tsv", "src\tdst\n0\t1\n2\t1\n1\t0\n"),
    ("e.txt", "0 1\n2   1\n1\t0\n"),
    ("e.edgelist", "# a comment\n\n0 1\n   \n2 1\n  # more\n1 0\n\n"),
])
def test_edge_list_formats_and_header_detection(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert edges(path) == [(0, 1), (2, 1), (1, 0)]


def test_gzipped_edge_list(tmp_path):
    path = tmp_path / "e.csv.gz"
    path.write_bytes(gzip.compress(b"source,target\n0,1\n2,1\n1,0\n"))
    assert edges(path) == [(0, 1), (2, 1), (1, 0)]


@pytest.mark.parametrize("data", [b"0,1\n2,1\n1,0\n", b"u v\n0 1\n2 1\n1 0\n",
                                  b"0\t1\n2\t1\n1\t0\n", gzip.compress(b"0,1\n2,1\n1,0\n")])
def test_edge_list_from_stdin_sniffs_the_delimiter(monkeypatch, data):
    with_stdin(monkeypatch, data)
    assert edges("-") == [(0, 1), (2, 1), (1, 0)]


def test_edge_list_with_string_ids(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("from,to\nbob,alice\ncarol,alice\nalice,carol\n")
    assert edges(path, ids=["alice", "bob", "carol"]) == [(1, 0), (2, 0), (0, 2)]


def test_integer_ids_map_to_rows_not_values(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("10,30\n20,10\n")
    assert edges(path, ids=["30", "10", "20"]) == [(1, 0), (2, 1)]


def test_header_is_not_confused_with_string_ids(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("source,target\nsource,target\n")
    assert edges(path, n=2, ids=["target", "source"]) == [(1, 0), (1, 0)]


def test_an_empty_edge_list_after_a_header(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("source,target\n")
    assert edges(path) == []


def test_duplicate_edges_and_self_loops_are_kept(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("0,1\n0,1\n2,2\n")
    assert edges(path) == [(0, 1), (0, 1), (2, 2)]


def test_out_of_range_node_names_the_line(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("source,target\n0,1\n\n1,3\n")
    with pytest.raises(GatError, match=r"e\.csv:4.*3"):
        edges(path)


# -- adjacency matrices -----------------------------------------------------------------------

#: row i = the nodes i attends to: 0 attends to 1 and 2, 2 attends to 0 and itself.
ADJ = np.array([[0, 1, 1], [0, 0, 0], [1, 0, 1]])
ADJ_EDGES = [(1, 0), (2, 0), (0, 2), (2, 2)]


def test_npz_adjacency_rows_are_the_nodes_each_node_attends_to(tmp_path):
    path = tmp_path / "a.npz"
    sp.save_npz(path, sp.csr_matrix(ADJ))
    assert sorted(edges(path)) == sorted(ADJ_EDGES)


def test_npz_adjacency_ignores_stored_zeros_and_accepts_coo(tmp_path):
    matrix = sp.coo_matrix((np.array([1.0, 0.0, 2.0]), (np.array([0, 1, 2]),
                                                        np.array([1, 2, 0]))), shape=(3, 3))
    path = tmp_path / "a.npz"
    sp.save_npz(path, matrix)
    assert sorted(edges(path)) == [(0, 2), (1, 0)]


def test_mtx_adjacency(tmp_path):
    path = tmp_path / "a.mtx"
    scipy.io.mmwrite(path, sp.coo_matrix(ADJ.astype(float)))
    assert sorted(edges(path)) == sorted(ADJ_EDGES)


def test_tutorial_adjacency_is_the_edge_list_plus_self_loops(tutorial):
    from_npz = set(edges(tutorial / "adjacency.npz", n=4))
    from_csv = set(edges(tutorial / "edges.csv", n=4))
    assert from_npz == from_csv | {(i, i) for i in range(4)}
    assert (1, 0) in from_csv   # row 0 of the tutorial's A: node 0 attends to node 1


def test_adjacency_size_must_match_the_features(tmp_path):
    path = tmp_path / "a.npz"
    sp.save_npz(path, sp.csr_matrix(ADJ))
    with pytest.raises(GatError, match="3 x 3.*4 nodes"):
        edges(path, n=4)
