"""`gat embed` / `gat explain` with sparse features (save_npz .npz and svmlight text), end to
end: CliRunner and the installed `gat`, against the dense features path and the dense float64
reference of tests/reference.py."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import scipy.sparse as sp
from reference import layers_of, reference_forward
from typer.testing import CliRunner

from gatcli.cli import app
from gatcli.model.weights import load_weights

GAT = shutil.which("gat")
needs_gat = pytest.mark.skipif(GAT is None, reason="the gat command is not installed")

N, F = 30, 12


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def run(*args, stdin: bytes | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([GAT, *map(str, args)], input=stdin, capture_output=True,
                          timeout=120, cwd=cwd)


@pytest.fixture
def graph(tmp_path):
    """A random graph with bag-of-words features in every format gat reads."""
    rng = np.random.default_rng(0)
    x = np.where(rng.random((N, F)) < 0.2, rng.integers(1, 4, (N, F)), 0).astype(float)
    x[:, -1] = 0.0  # the last feature is never used: svmlight cannot say it exists
    x[5] = 0.0
    x[7, -1] = 0.0
    pairs = np.unique(rng.integers(0, N, (80, 2)), axis=0)  # no duplicates: same as .npz
    sources, targets = pairs[:, 0], pairs[:, 1]
    np.savetxt(tmp_path / "edges.csv", np.column_stack([sources, targets]), fmt="%d",
               delimiter=",", header="source,target", comments="")
    adjacency = sp.coo_array((np.ones(len(pairs)), (targets, sources)), shape=(N, N))
    sp.save_npz(tmp_path / "graph.npz", adjacency)
    np.savetxt(tmp_path / "dense.csv", x, delimiter=",",
               header=",".join(f"f{k}" for k in range(F)), comments="")
    sp.save_npz(tmp_path / "feats_sparse.npz", sp.csr_array(x))
    lines = []
    for k, row in enumerate(x):  # one-based, the class label first, as libsvm writes it
        lines.append(" ".join([str(k % 3)] + [f"{j + 1}:{v:g}" for j in np.flatnonzero(row)
                                              for v in [row[j]]]))
    (tmp_path / "feats.svm").write_text("\n".join(lines) + "\n")
    return tmp_path, x, sources, targets


def embeddings(path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", skiprows=1)[:, 1:]


def test_cora_sparse_npz_matches_the_dense_csv(examples, tmp_path):
    cora = examples / "cora"
    common = ["--dtype", "float64", "-q"]
    dense = invoke("embed", cora / "edges.csv.gz", cora / "features.csv.gz",
                   "-o", tmp_path / "dense.npy", *common)
    sparse = invoke("embed", cora / "edges.csv.gz", cora / "features_sparse.npz",
                    "-o", tmp_path / "sparse.npy", *common)
    assert dense.exit_code == 0 and sparse.exit_code == 0, sparse.output
    np.testing.assert_allclose(np.load(tmp_path / "sparse.npy"),
                               np.load(tmp_path / "dense.npy"), rtol=1e-10, atol=1e-12)


@needs_gat
@pytest.mark.parametrize("graph_file, features_file", [
    ("edges.csv", "feats.svm"), ("graph.npz", "feats_sparse.npz"),
    ("edges.csv", "feats_sparse.npz"), ("graph.npz", "feats.svm")])
def test_installed_gat_with_sparse_features_matches_dense_and_the_reference(
        graph, graph_file, features_file):
    root, x, sources, targets = graph
    args = ["--dtype", "float64", "--heads", "3", "--hidden", "4"]
    done = run("embed", graph_file, features_file, "-o", "sparse.csv",
               "--save-weights", "w.npz", *args, cwd=root)
    assert done.returncode == 0, done.stderr
    model = load_weights(str(root / "w.npz"))
    if features_file.endswith(".svm"):
        # the index base note, one line; F - 1 features (the last one is never used)
        assert b"count from 1" in done.stderr and len(done.stderr.splitlines()) == 2
        assert model.in_dim == F - 1
    else:
        dense = run("embed", graph_file, "dense.csv", "-o", "dense.out.csv", *args, cwd=root)
        assert dense.returncode == 0, dense.stderr
        np.testing.assert_allclose(embeddings(root / "sparse.csv"),
                                   embeddings(root / "dense.out.csv"), rtol=1e-8, atol=1e-10)
    expected, _ = reference_forward(layers_of(model), x[:, :model.in_dim], sources, targets)
    np.testing.assert_allclose(embeddings(root / "sparse.csv"), expected, rtol=1e-8,
                               atol=1e-10)


@needs_gat
def test_svmlight_on_stdin_and_widened_to_the_weights_input_size(graph):
    root, x, sources, targets = graph
    # weights for F inputs; the svmlight file's largest index is F - 1 (one-based)
    assert run("embed", "edges.csv", "dense.csv", "-o", "dense.out.csv", "--save-weights",
               "w.npz", "-q", cwd=root).returncode == 0
    done = run("embed", "edges.csv", "-", "-w", "w.npz", "-o", "svm.out.csv",
               stdin=(root / "feats.svm").read_bytes(), cwd=root)
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(embeddings(root / "svm.out.csv"),
                               embeddings(root / "dense.out.csv"), rtol=2e-5, atol=1e-6)
    # without weights the width is the largest index: F - 1 inputs
    alone = invoke("embed", root / "edges.csv", root / "feats.svm", "--save-weights",
                   root / "w2.npz", "-o", root / "o.csv", "-q")
    assert alone.exit_code == 0
    assert load_weights(str(root / "w2.npz")).in_dim == F - 1


def test_zero_based_svmlight_by_option(graph):
    root, x, *_ = graph
    # the same file read zero-based: every feature moves one column to the right
    forced = invoke("embed", root / "edges.csv", root / "feats.svm", "--svmlight-base", "0",
                    "--save-weights", root / "w.npz", "-o", root / "o.csv")
    assert forced.exit_code == 0, forced.output
    assert "count from 1" not in forced.output
    assert load_weights(str(root / "w.npz")).in_dim == F


def test_sparse_features_wider_than_the_weights_is_an_error(graph):
    root, *_ = graph
    assert invoke("embed", root / "edges.csv", root / "dense.csv", "--save-weights",
                  root / "w.npz", "-o", root / "o.csv", "-q").exit_code == 0
    wide = sp.csr_array(np.eye(N, F + 2))
    sp.save_npz(root / "wide.npz", wide)
    result = invoke("embed", root / "edges.csv", root / "wide.npz", "-w", root / "w.npz")
    assert result.exit_code == 1
    assert "the features have 14 columns but the model's first layer expects 12" in (
        result.output)


@pytest.mark.parametrize("features_file", ["feats.svm", "feats_sparse.npz"])
def test_explain_with_sparse_features(graph, features_file):
    root, x, *_ = graph
    text = invoke("explain", root / "edges.csv", root / features_file, "--node", "7",
                  "--step", "linear")
    assert text.exit_code == 0, text.output
    doc = invoke("explain", root / "edges.csv", root / features_file, "--format", "json",
                 "--step", "linear", "--layer", "0", "--head", "0")
    assert doc.exit_code == 0, doc.output
    shown = np.array(json.loads(doc.stdout)["layers"][0]["steps"]["linear"]["input"])
    width = F - 1 if features_file.endswith(".svm") else F
    np.testing.assert_array_equal(shown, x[:, :width])
