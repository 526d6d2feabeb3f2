"""gatcli.io.embeddings_npz: gat's embeddings .npz read back as features."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from gatcli.cli import app
from gatcli.errors import GatError
from gatcli.io.readers import read_features

IDS = ["a,b", "ünï", "10", "x"]
FEATURES = "id\tx0\tx1\n" + "".join(f"{node}\t{k}\t{1 / (k + 2)}\n" for k, node in
                                     enumerate(IDS))
EDGES = "".join(f"{IDS[k]}\t{IDS[(k + 1) % 4]}\n" for k in range(4))


def invoke(*args: str):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.stderr
    return result


def test_a_second_model_runs_on_the_npz_output_of_a_first(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("f.tsv").write_text(FEATURES, encoding="utf-8")
    Path("e.tsv").write_text(EDGES, encoding="utf-8")
    invoke("embed", "e.tsv", "f.tsv", "-o", "first.npz", "-q")
    invoke("embed", "e.tsv", "f.tsv", "-o", "first.tsv", "-q")  # the same, as a table
    features = read_features("first.npz")
    assert features.ids.tolist() == IDS and features.id_column == "id"
    assert features.values.dtype == np.float32 and features.values.shape == (4, 8)
    # the second model gets the same input from the .npz as from the TSV table
    invoke("embed", "e.tsv", "first.npz", "--seed", "7", "-o", "second.csv", "-q")
    invoke("embed", "e.tsv", "first.tsv", "--seed", "7", "-o", "again.csv", "-q")
    assert Path("second.csv").read_bytes() == Path("again.csv").read_bytes()


def npz_file(tmp_path: Path, **arrays: np.ndarray) -> str:
    path = tmp_path / "emb.npz"
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())
    return str(path)


def test_row_number_ids_mean_no_id_column(tmp_path):
    values = np.arange(6.0).reshape(3, 2)
    features = read_features(npz_file(tmp_path, embeddings=values, ids=np.arange(3)))
    assert features.ids is None and features.id_column is None
    np.testing.assert_array_equal(features.values, values)
    other = read_features(npz_file(tmp_path, embeddings=values, ids=np.array([5, 1, 9])))
    assert other.ids.tolist() == ["5", "1", "9"]


def test_a_sparse_npz_is_still_read_as_sparse_features(tmp_path):
    path = tmp_path / "x.npz"
    sp.save_npz(path, sp.csr_array(np.eye(3)))
    features = read_features(str(path))
    assert sp.issparse(features.values) and features.ids is None


@pytest.mark.parametrize("arrays,message", [
    ({"embeddings": np.ones((2, 2)), "ids": np.array(["a", "a"])},
     "duplicate node id 'a' in 'ids' \\(rows 0 and 1\\)"),
    ({"embeddings": np.ones((2, 2)), "ids": np.array(["a"])}, "'ids' has shape \\(1,\\)"),
    ({"embeddings": np.ones((2, 2)), "other": np.ones(2)}, "unexpected key 'other'"),
    ({"embeddings": np.ones(3)}, "expected a 2-D array of real numbers"),
    ({"embeddings": np.array([[1.0, np.nan]])}, "is nan \\(not finite\\)"),
])
def test_bad_embeddings_npz(tmp_path, arrays, message):
    with pytest.raises(GatError, match=message):
        read_features(npz_file(tmp_path, **arrays))
