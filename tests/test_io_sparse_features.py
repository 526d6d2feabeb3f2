"""gatcli.io.sparse_features through read_features: scipy save_npz and svmlight/libsvm
features, read as CSR without densifying, checked against the dense values they encode;
every bad input is a GatError naming the file (and the line for text)."""

from __future__ import annotations

import gzip
import io
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gatcli.errors import GatError
from gatcli.io.readers import NodeIndex, read_features, read_graph

#: node 2 has no feature at all; values of several signs and magnitudes
DENSE = np.array([[0.0, 1.5, 0.0, 0.0, -2.0],
                  [3.0, 0.0, 0.0, 0.25, 0.0],
                  [0.0, 0.0, 0.0, 0.0, 0.0],
                  [0.0, 0.0, 7e-3, 0.0, 1e6]])


def save(path, matrix) -> str:
    sp.save_npz(path, matrix, compressed=False)
    return str(path)


def raw_npz(path, **arrays) -> str:
    np.savez(path, **arrays)
    return str(path)


def with_stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


# -- .npz -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [sp.csr_array, sp.csc_array, sp.coo_array, sp.csr_matrix,
                                  sp.coo_matrix, sp.dia_array, sp.bsr_array])
def test_save_npz_features_of_every_format(tmp_path, kind):
    feats = read_features(save(tmp_path / "x.npz", kind(DENSE)))
    assert sp.issparse(feats.values) and feats.values.format == "csr"
    np.testing.assert_array_equal(feats.values.toarray(), DENSE)
    assert feats.ids is None and feats.n_nodes == 4 and feats.width == 5
    assert feats.columns == ["f0", "f1", "f2", "f3", "f4"]
    assert feats.id_labels().tolist() == ["0", "1", "2", "3"]
    assert not feats.open_width


def test_the_cora_example_features(examples):
    feats = read_features(str(examples / "cora" / "features_sparse.npz"))
    assert feats.values.shape == (2708, 1433) and feats.values.nnz == 49216
    dense = np.loadtxt(examples / "cora" / "features.csv.gz", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(feats.values.toarray(), dense[:, 1:])


def test_integer_and_boolean_npz_features_are_accepted(tmp_path):
    for dtype in (np.int8, np.uint16, np.int64, bool):
        feats = read_features(save(tmp_path / "x.npz", sp.csr_array(DENSE != 0, dtype=dtype)))
        np.testing.assert_array_equal(feats.values.toarray(), (DENSE != 0).astype(float))


@pytest.mark.parametrize("case, message", [
    (dict(format=np.array("csr"), shape=np.array([2, 3]), data=np.ones(2),
          indices=np.array([0, 3]), indptr=np.array([0, 1, 2])),
     r"inconsistent csr matrix arrays \(indices must be in 0\.\.2\)"),
    (dict(format=np.array("csr"), shape=np.array([2, 3]), data=np.ones(2),
          indices=np.array([0, -1]), indptr=np.array([0, 1, 2])),
     r"indices must be in 0\.\.2"),
    (dict(format=np.array("coo"), shape=np.array([2, 3]), data=np.ones(2),
          row=np.array([0, 2]), col=np.array([0, 1])), r"row must be in 0\.\.1"),
    (dict(format=np.array("coo"), shape=np.array([2, 3]), data=np.ones(2),
          row=np.array([0, 1]), col=np.array([0, 7])), r"col must be in 0\.\.2"),
    (dict(format=np.array("csc"), shape=np.array([2, 3]), data=np.ones(2),
          indices=np.array([0, 2]), indptr=np.array([0, 1, 2, 2])),
     r"indices must be in 0\.\.1"),
    (dict(format=np.array("coo"), shape=np.array([2, 3]), data=np.ones(3),
          row=np.array([0, 1, 0]), col=np.array([2, 0, 2])),
     r"row 0, column 2 \(counting from 0\) is stored more than once"),
    (dict(format=np.array("csr"), shape=np.array([2, 3]), data=np.ones(3),
          indices=np.array([0, 1, 1]), indptr=np.array([0, 1, 3])),
     r"row 1, column 1 \(counting from 0\) is stored more than once"),
    (dict(format=np.array("csr"), shape=np.array([2, 3]), data=np.array([1.0, np.nan]),
          indices=np.array([0, 1]), indptr=np.array([0, 1, 2])),
     r"row 1, column 1 \(counting from 0\) is nan \(not finite\); use --allow-nonfinite"),
    (dict(format=np.array("csr"), shape=np.array([0, 3]), data=np.ones(0),
          indices=np.zeros(0, int), indptr=np.array([0])), r"empty features matrix"),
    (dict(format=np.array("csr"), shape=np.array([2, 3]), data=np.array(["a", "b"]),
          indices=np.array([0, 1]), indptr=np.array([0, 1, 2])), r"real numbers"),
    (dict(arr_0=np.eye(3)), r"no 'format' key \(found: arr_0\)"),
    (dict(weights=np.eye(3), bias=np.ones(3)), r"no 'format' key \(found: bias, weights\)"),
])
def test_bad_npz_features_are_errors_naming_the_file(tmp_path, case, message):
    path = raw_npz(tmp_path / "bad.npz", **case)
    with pytest.raises(GatError, match=message) as info:
        read_features(path)
    assert str(info.value).startswith(path)


def test_non_finite_npz_values_are_accepted_on_request(tmp_path):
    matrix = sp.csr_array(np.array([[np.inf, 0.0], [0.0, np.nan]]))
    feats = read_features(save(tmp_path / "x.npz", matrix), allow_nonfinite=True)
    assert np.isinf(feats.values[0, 0]) and np.isnan(feats.values[1, 1])


def test_a_graph_that_disagrees_with_the_npz_features_is_an_error(tmp_path):
    feats = read_features(save(tmp_path / "x.npz", sp.csr_array(DENSE)))
    (tmp_path / "e.csv").write_text("0,1\n1,4\n")
    with pytest.raises(GatError, match=r"e\.csv:2:\d: node index 4 is out of range: the "
                                       r"features have 4 rows"):
        read_graph(str(tmp_path / "e.csv"), NodeIndex.of(feats))
    adjacency = save(tmp_path / "a.npz", sp.csr_array(np.eye(5)))
    with pytest.raises(GatError, match=r"adjacency is 5 x 5 but the features have 4 nodes"):
        read_graph(adjacency, NodeIndex.of(feats))


# -- svmlight -------------------------------------------------------------------------------

ONE_BASED = b"""# exported bag of words
1 2:1.5 5:-2
-1 qid:7 1:3 4:0.25   # a comment
0

2 3:7e-3 5:1e6
"""


def test_svmlight_one_based_with_labels_qid_comments_and_an_empty_row(tmp_path):
    path = tmp_path / "x.svm"
    path.write_bytes(ONE_BASED)
    feats = read_features(str(path))
    np.testing.assert_array_equal(feats.values.toarray(), DENSE)
    assert feats.values.format == "csr" and feats.values.has_sorted_indices
    assert feats.open_width and feats.ids is None
    assert feats.notes and "count from 1" in feats.notes[0]
    explicit = read_features(str(path), svmlight_base="1")
    np.testing.assert_array_equal(explicit.values.toarray(), DENSE)


def test_svmlight_zero_based_is_detected_from_an_index_0(tmp_path):
    path = tmp_path / "x.libsvm"
    path.write_bytes(b"3 4:-2 1:1.5\n0 0:3 3:0.25\n1\n0 2:7e-3 4:1e6\n")  # any order
    feats = read_features(str(path))
    np.testing.assert_array_equal(feats.values.toarray(), DENSE)
    assert feats.notes == []


def test_svmlight_base_0_forced_and_lines_without_labels(tmp_path):
    path = tmp_path / "x.svmlight.gz"
    path.write_bytes(gzip.compress(b"2:1.5 5:-2\n1:3 4:0.25\n\n0\n3:7e-3 5:1e6\n"))
    feats = read_features(str(path), svmlight_base="0")
    assert feats.values.shape == (4, 6)
    np.testing.assert_array_equal(feats.values.toarray()[:, 1:], DENSE)
    assert not feats.values.toarray()[:, 0].any()


def test_svmlight_from_stdin_is_told_apart_from_a_table(monkeypatch):
    with_stdin(monkeypatch, ONE_BASED)
    np.testing.assert_array_equal(read_features("-").values.toarray(), DENSE)
    with_stdin(monkeypatch, b"a,b\n1,2\n")
    np.testing.assert_array_equal(read_features("-").values, [[1.0, 2.0]])


def test_svmlight_widen_to_the_model_input_size(tmp_path):
    path = tmp_path / "x.svm"
    path.write_bytes(b"0 1:1\n0 2:2\n")
    feats = read_features(str(path))
    feats.widen(4)
    np.testing.assert_array_equal(feats.values.toarray(), [[1, 0, 0, 0], [0, 2, 0, 0]])
    assert feats.width == 4 and len(feats.columns) == 4
    with pytest.raises(ValueError):
        feats.widen(3)


@pytest.mark.parametrize("body, base, message", [
    (b"1 1:1\n1 3:2 -4:1\n", "auto", r"x\.svm:2: feature index -4: expected a "
                                      r"non-negative integer"),
    (b"1 1:1\n1 0:2\n", "1", r"x\.svm:2: feature index 0: expected at least 1"),
    (b"1 1:1\n1 99999999999:2\n", "auto", r"x\.svm:2: feature index 99999999999: expected "
                                          r"at most"),
    (b"1 1:1 3:2\n1 2:1 2:5\n", "auto", r"x\.svm:2: feature index 2 appears twice"),
    (b"1 1:1\n1 2:nan\n", "auto", r"x\.svm:2: feature 2 is nan \(not finite\); use "
                                  r"--allow-nonfinite"),
    (b"1 1:1\n1 2:inf 3:1\n", "auto", r"x\.svm:2: feature 2 is inf"),
    (b"1 1:1\n1 2:x\n", "auto", r"x\.svm:2: '2:x': value 'x' is not a number"),
    (b"1 1:1\n1 a:2\n", "auto", r"x\.svm:2: 'a:2': feature index 'a' is not an integer"),
    (b"1 1:1\n1 2.5:2\n", "auto", r"x\.svm:2: '2\.5:2': feature index '2\.5' is not an "
                                  r"integer"),
    (b"1 1:1\n\n1 1:2 7\n", "auto", r"x\.svm:3: '7' is not an index:value pair"),
    (b"1 1:1 2:3:4\n", "auto", r"x\.svm:1: '2:3:4' is not an index:value pair"),
    (b"# nothing here\n\n", "auto", r"x\.svm: only comments and blank lines"),
    (b"", "auto", r"x\.svm: empty file"),
])
def test_bad_svmlight_is_an_error_naming_file_and_line(tmp_path, body, base, message):
    path = tmp_path / "x.svm"
    path.write_bytes(body)
    with pytest.raises(GatError, match=message):
        read_features(str(path), svmlight_base=base)


def test_non_finite_svmlight_values_are_accepted_on_request(tmp_path):
    path = tmp_path / "x.svm"
    path.write_bytes(b"1 1:nan 2:-inf\n")
    values = read_features(str(path), allow_nonfinite=True).values.toarray()
    assert np.isnan(values[0, 0]) and values[0, 1] == -np.inf


TOKENS = ["1", "-1", "0", "qid:3", "1:1", "2:0.5", "0:2", "-3:1", "3:x", "x:3", "4:nan",
          "2:1e308", "9999999999999:1", "5:", ":5", "1:2:3", "#", "# c", "\n", "\n", " ",
          "\t", "1,2", "7:-0"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=30),
       st.sampled_from(["auto", "0", "1"]), st.booleans())
def test_any_svmlight_text_is_features_or_one_gat_error(tokens, base, allow):
    from gatcli.io.sparse_features import parse_svmlight

    text = " ".join(tokens)
    try:
        matrix, used = parse_svmlight(text, "t.svm", allow_nonfinite=allow, base=base)
    except GatError as exc:
        assert str(exc).startswith("t.svm")
        return
    assert matrix.format == "csr" and matrix.shape[0] >= 1 and used in (0, 1)
    coo = matrix.tocoo()
    assert len(set(zip(coo.row.tolist(), coo.col.tolist()))) == coo.nnz  # no duplicates
    if not allow:
        assert np.isfinite(matrix.data).all()
