"""`gat embed` end to end: CliRunner, and the installed `gat` through real files and pipes."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys

import numpy as np
import pytest
from reference import layers_of, reference_forward
from typer.testing import CliRunner

from gatcli.cli import app
from gatcli.io.writers import read_attention_npz
from gatcli.model.weights import load_weights

ISSUE_OUTPUT = np.array([[-0.27394605, 0.50910315], [0.60603182, 0.43037698],
                         [-0.48586509, 0.51657539], [-0.48586509, 0.51657539]])
GAT = shutil.which("gat")


def invoke(*args: str, input: bytes | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def table(text: str, delimiter: str = ",") -> tuple[list[str], list[str], np.ndarray]:
    """(header, ids, values) of a CSV with the id column first."""
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return rows[0], [r[0] for r in rows[1:]], np.array([r[1:] for r in rows[1:]], dtype=float)


def run(*args: str, stdin: bytes | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([GAT, *map(str, args)], input=stdin, capture_output=True,
                          timeout=60, cwd=cwd)


def tutorial_args(tutorial, graph: str = "edges.csv") -> list[str]:
    return [str(tutorial / graph), str(tutorial / "features.csv"),
            "--weights", str(tutorial / "weights.npz"), "--dtype", "float64"]


# -- CliRunner --------------------------------------------------------------------------------


def test_tutorial_embeddings_on_stdout(tutorial):
    result = invoke("embed", *tutorial_args(tutorial))
    assert result.exit_code == 0, result.output
    header, ids, values = table(result.stdout)
    assert header == ["id", "h0", "h1"] and ids == ["0", "1", "2", "3"]
    np.testing.assert_allclose(values, ISSUE_OUTPUT, atol=1e-8, rtol=0)
    expected = np.loadtxt(tutorial / "expected_embeddings.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(values, expected[:, 1:], rtol=1e-12, atol=1e-14)


def test_adjacency_npz_graph_gives_the_same_embeddings(tutorial):
    from_edges = invoke("embed", *tutorial_args(tutorial))
    from_matrix = invoke("embed", *tutorial_args(tutorial, "adjacency.npz"))
    assert from_matrix.exit_code == 0, from_matrix.output
    np.testing.assert_allclose(table(from_matrix.stdout)[2], table(from_edges.stdout)[2],
                               rtol=1e-14, atol=1e-15)


def test_attention_to_stdout_with_embeddings_in_a_file(tutorial, tmp_path):
    out = tmp_path / "emb.csv"
    result = invoke("embed", *tutorial_args(tutorial), "--attention", "-", "-o", out)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["layer", "head", "target", "source", "alpha"]
    alpha = np.zeros((4, 4))
    for layer, head, target, source, value in rows[1:]:
        assert (layer, head) == ("0", "0")
        alpha[int(target), int(source)] += float(value)
    expected = np.loadtxt(tutorial / "expected_attention.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(alpha, expected[:, 1:], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(table(out.read_text())[2], ISSUE_OUTPUT, atol=1e-8, rtol=0)
    assert "wrote 4 x 2 embeddings" in result.stderr


def test_attention_dash_needs_an_output_file(tutorial):
    result = invoke("embed", *tutorial_args(tutorial), "--attention", "-")
    assert result.exit_code == 2
    assert result.stderr.startswith("gat: error:") and "-o FILE" in result.stderr


def test_tsv_npy_outputs_and_npz_attention(examples, tmp_path):
    graph, feats = examples / "directed" / "edges.csv", examples / "directed" / "features.csv"
    result = invoke("embed", graph, feats, "-o", tmp_path / "e.tsv", "--attention",
                    tmp_path / "a.npz", "--heads", "2", "--out-heads", "3")
    assert result.exit_code == 0, result.output
    header, ids, tsv = table((tmp_path / "e.tsv").read_text(), "\t")
    assert header[0] == "id" and ids[0] == "alice" and len(ids) == 6
    assert invoke("embed", graph, feats, "-o", tmp_path / "e.npy", "--heads", "2",
                  "--out-heads", "3").exit_code == 0
    npy = np.load(tmp_path / "e.npy")
    assert npy.dtype == np.float32
    np.testing.assert_array_equal(npy, tsv.astype(np.float32))
    node_ids, matrices = read_attention_npz(str(tmp_path / "a.npz"))
    assert node_ids.tolist() == ids
    assert set(matrices) == {(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)}
    for matrix in matrices.values():
        np.testing.assert_allclose(matrix.toarray().sum(axis=1), 1.0, atol=1e-6)


def test_no_self_loops_reports_nodes_without_in_edges(examples):
    directed = examples / "directed"
    result = invoke("embed", directed / "edges.csv", directed / "features.csv",
                    "--no-self-loops", "--layers", "1")
    assert result.exit_code == 0, result.output
    assert "layer 0: 1 node(s) have no in-edges" in result.stderr  # frank follows nobody
    header, ids, values = table(result.stdout)
    # seeded biases are zero: frank's output is exactly the (zero) bias, never NaN
    assert np.isfinite(values).all()
    assert (values[ids.index("frank")] == 0).all()
    assert "no in-edges" not in invoke("embed", directed / "edges.csv",
                                       directed / "features.csv").stderr


def test_undirected_matches_the_dense_reference(examples, tmp_path):
    directed = examples / "directed"
    weights = tmp_path / "w.npz"
    result = invoke("embed", directed / "edges.csv", directed / "features.csv", "--undirected",
                    "--dtype", "float64", "--save-weights", weights, "--heads", "3",
                    "--layer-type", "gatv2")
    assert result.exit_code == 0, result.output
    _, ids, values = table(result.stdout)
    features = np.loadtxt(directed / "features.csv", delimiter=",", skiprows=1,
                          usecols=(1, 2, 3))
    index = {name: k for k, name in enumerate(ids)}
    with open(directed / "edges.csv") as handle:
        edges = [(index[s], index[t]) for s, t in list(csv.reader(handle))[1:]]
    sources, targets = (np.array(column) for column in zip(*edges))
    model = load_weights(str(weights))
    for undirected in (True, False):
        expected, _ = reference_forward(layers_of(model), features, sources, targets,
                                        undirected=undirected)
        if undirected:
            np.testing.assert_allclose(values, expected, rtol=1e-10, atol=1e-12)
        else:
            assert not np.allclose(values, expected)


def test_same_seed_is_bit_identical_other_seed_differs(examples):
    karate = examples / "karate"
    args = ("embed", karate / "edges.csv", karate / "features.csv")
    first, second = invoke(*args, "--seed", "3"), invoke(*args, "--seed", "3")
    assert first.exit_code == 0 and first.stdout_bytes == second.stdout_bytes
    assert invoke(*args, "--seed", "4").stdout_bytes != first.stdout_bytes


def test_a_missing_file_is_one_error_line(tmp_path, tutorial):
    result = invoke("embed", tmp_path / "absent.csv", tutorial / "features.csv")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("gat: error:")
    assert "absent.csv" in result.stderr and "Traceback" not in result.stderr


# -- the installed command --------------------------------------------------------------------

needs_gat = pytest.mark.skipif(GAT is None, reason="the gat console script is not installed")


@needs_gat
def test_stdin_edge_list_to_stdout_csv(tutorial):
    edges = (tutorial / "edges.csv").read_bytes()
    piped = run("embed", "-", tutorial / "features.csv", "--weights", tutorial / "weights.npz",
                "--dtype", "float64", stdin=edges)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == b""
    from_file = run("embed", *tutorial_args(tutorial))
    assert piped.stdout == from_file.stdout
    np.testing.assert_allclose(table(piped.stdout.decode())[2], ISSUE_OUTPUT, atol=1e-8,
                               rtol=0)


@needs_gat
def test_save_weights_then_weights_reproduces_bit_identical_output(examples, tmp_path):
    karate = examples / "karate"
    inputs = (karate / "edges.csv", karate / "features.csv")
    first = run("embed", *inputs, "--seed", "7", "--heads", "2", "--layers", "3",
                "--save-weights", tmp_path / "w.npz", "-o", tmp_path / "a.csv")
    assert first.returncode == 0, first.stderr
    again = run("embed", *inputs, "--weights", tmp_path / "w.npz", "-o", tmp_path / "b.csv")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert len(load_weights(str(tmp_path / "w.npz")).layers) == 3


@needs_gat
def test_closed_stdout_ends_quietly(tmp_path):
    n = 20000
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(n, 3)))
    edges = "\n".join(f"{i},{i + 1}" for i in range(n - 1))
    (tmp_path / "e.csv").write_text("source,target\n" + edges + "\n")
    shell = (f'"{GAT}" embed e.csv x.npy 2>err.txt | head -1; '
             'echo "status=${PIPESTATUS[0]}"')
    result = subprocess.run(["bash", "-c", shell], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    lines = result.stdout.splitlines()
    assert lines[0] == "id,h0,h1,h2,h3,h4,h5,h6,h7"
    assert lines[-1] == "status=0"
    assert (tmp_path / "err.txt").read_text() == ""


@needs_gat
def test_help_texts():
    top = run("--help")
    assert top.returncode == 0 and b"embed" in top.stdout
    embed = run("embed", "--help")
    assert embed.returncode == 0
    text = embed.stdout.decode()
    for option in ("--output", "--attention", "--weights", "--save-weights", "--seed",
                   "--heads", "--config", "--undirected", "--no-self-loops", "--dtype",
                   "stdin", "attends to"):
        assert option in text, option


def test_python_dash_m_gatcli():
    result = subprocess.run([sys.executable, "-m", "gatcli", "--help"], capture_output=True,
                            timeout=60)
    assert result.returncode == 0 and b"embed" in result.stdout
