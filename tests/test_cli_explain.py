"""``gat explain`` end to end: the issue's must-show numbers, json equal to ``gat embed``,
--node on a 100k-edge graph, options and errors (CliRunner and the installed ``gat``)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from reference import edge_counts, layers_of, reference_layer
from typer.testing import CliRunner

from gatcli.cli import app
from gatcli.explain import render
from gatcli.model.weights import load_weights

PLAIN = {"COLUMNS": "80", "NO_COLOR": None, "FORCE_COLOR": None, "TERM": "dumb"}
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def explain(*args: str, code: int = 0, env: dict | None = None):
    result = CliRunner().invoke(app, ["explain", *args], env=env or PLAIN)
    assert result.exit_code == code, result.output
    return result


def number_rows(text: str) -> list[tuple[list[float], str]]:
    """(the numbers, the line) of every output line."""
    return [([float(v) for v in NUMBER.findall(line)], line) for line in text.splitlines()]


def has_row(text: str, values: list[float], word: str = "") -> bool:
    return any(nums == values and word in line for nums, line in number_rows(text))


def test_softmax_shows_the_correct_rows_and_the_tutorials_marked():
    out = explain("--step", "softmax").stdout
    assert has_row(out, [0, 0.15862414, 0.15062488, 0.42285965, 0.26789133])
    assert has_row(out, [1, 0.51293336, 0.48706664, 0, 0])
    assert has_row(out, [2, 0.17482577, 0, 0.50515004, 0.32002419])
    assert has_row(out, [3, 0.17482577, 0, 0.50515004, 0.32002419])
    assert "The tutorial's W_alpha (Out[16])" in out
    assert has_row(out, [1, 0.24193418, 0.22973368, 0.26416607, 0.26416607], "wrong")
    # the reason, and the static-attention note
    assert "softmax2D normalises each whole row of E" in out
    assert "Rows 2 and 3 are equal to 15 significant digits" in out
    assert "static attention" in out
    assert "Step 6/9" in out and "Step 7/9" not in out


def test_the_gatv2_hint_runs_and_shows_what_it_promises():
    """The static-attention note names a command: it runs a GATv2 layer of 1 head and 2
    features on the tutorial's graph, where rows 2 and 3 of the attention differ."""
    note = " ".join(explain("--step", "softmax").stdout.split())
    hint = re.search(r"gat explain ((?:--[a-z-]+ [a-z0-9]+ ?)+)", note)
    assert hint is not None, note
    out = explain(*hint.group(1).split()).stdout
    assert "GATv2, 1 head(s) x 2 features" in " ".join(out.split())
    rows = {int(nums[0]): nums[1:] for nums, _ in number_rows(out) if len(nums) == 5}
    assert sorted(rows) == [0, 1, 2, 3]
    assert not np.allclose(rows[2][0::2], rows[3][0::2], atol=1e-3)  # the in-neighbours 0, 2


def test_aggregate_shows_the_correct_output_next_to_the_tutorials_h():
    out = explain("--step", "aggregate").stdout
    correct = [[-0.27394605, 0.50910315], [0.60603182, 0.43037698],
               [-0.48586509, 0.51657539], [-0.48586509, 0.51657539]]
    printed = [[-1.10126376, 1.99749693], [-0.33950544, 0.97045933],
               [-1.03570438, 1.53614075], [-1.03570438, 1.53614075]]
    for i in range(4):
        assert has_row(out, [i, *correct[i], *printed[i]])
    assert "A.T @ W_alpha @ X @ W.T" in out and "mistake 2" in out


def test_the_earlier_steps_agree_with_the_tutorial():
    out = explain("--step", "concat", "--step", "scores", "--step", "leaky_relu").stdout
    assert out.count("Same as the tutorial's") == 3
    # s_22 = a_dst . Wh_2 + a_src . Wh_2 = 1.8607074, the tutorial's Out[10] for (2, 2)
    assert has_row(out, [2, 2, 0.72315349, 1.13755392, 1.8607074])


@pytest.mark.parametrize("columns", ["250", "60"])
def test_help_lists_the_steps_in_order(columns: str):
    out = explain("--help", env={**PLAIN, "COLUMNS": columns}).stdout
    words = " ".join(out.split())  # lines are wrapped at words, never inside one
    assert ("A step (repeat for several), or all, in order: linear, concat, scores, "
            "leaky_relu, mask, softmax, aggregate, heads, output") in words
    assert "(GATv2: linear, concat," in words
    assert "-s, --step STEP" in out


def read_attention_csv(path: Path, dtype: str) -> dict[tuple[int, int],
                                                     list[tuple[str, str, float]]]:
    out: dict = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (int(row["layer"]), int(row["head"]))
            out.setdefault(key, []).append((row["target"], row["source"],
                                            np.float64(np.dtype(dtype).type(row["alpha"]))))
    return {k: sorted(v) for k, v in out.items()}


@pytest.mark.parametrize("model", [["--heads", "3", "--hidden", "2", "--out-heads", "2"],
                                   ["--layer-type", "gatv2", "--heads", "2", "--hidden", "3",
                                    "--activation", "tanh"]])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_json_steps_equal_what_embed_computes(tmp_path, examples, model, dtype):
    graph = str(examples / "karate" / "edges.csv")
    feats = str(examples / "karate" / "features.csv")
    emb, att, weights = tmp_path / "emb.npy", tmp_path / "att.csv", tmp_path / "w.npz"
    result = CliRunner().invoke(app, ["embed", graph, feats, *model, "--dtype", dtype,
                                      "-o", str(emb), "--attention", str(att),
                                      "--save-weights", str(weights), "-q"])
    assert result.exit_code == 0, result.output
    doc = json.loads(explain(graph, feats, *model, "--dtype", dtype, "-f", "json").stdout)
    ids = np.array(doc["ids"])
    layers = doc["layers"]
    # embeddings: the last layer's output, bit for bit
    np.testing.assert_array_equal(np.asarray(layers[-1]["steps"]["output"]["output"],
                                             dtype=dtype), np.load(emb))
    # attention: every layer, head and edge, as embed wrote it
    written = read_attention_csv(att, dtype)
    for k, layer in enumerate(layers):
        alpha = np.asarray(layer["steps"]["softmax"]["softmax"], dtype=dtype)
        for h in range(alpha.shape[1]):
            ours = sorted(zip(ids[layer["targets"]], ids[layer["sources"]],
                              alpha[:, h].astype(np.float64)))
            assert ours == written[(k, h)]
        if k:  # a layer's input is the previous layer's output
            assert layer["steps"]["linear"]["input"] == layers[k - 1]["steps"]["output"]["output"]
    # and every step against the independent dense float64 reference
    sources, targets = np.loadtxt(graph, delimiter=",", skiprows=1, dtype=int).T
    x = np.loadtxt(feats, delimiter=",", skiprows=1)[:, 1:]
    counts = edge_counts(sources, targets, len(ids), self_loops=True)
    tol = 1e-10 if dtype == "float64" else 2e-4
    h = x
    for (spec, params), layer in zip(layers_of(load_weights(str(weights))), layers):
        steps = layer["steps"]
        np.testing.assert_allclose(steps["linear"]["input"], h, atol=tol)
        out, probs, logits = reference_layer(h, counts, spec, params)
        matrix = np.array(steps["mask"]["matrix"], dtype=float)
        for hh in range(spec["heads"]):
            np.testing.assert_allclose(matrix[hh][counts > 0], logits[hh][counts > 0],
                                       atol=tol)
        heads = np.asarray(steps["aggregate"]["aggregate"])
        combined = heads.reshape(len(ids), -1) if spec["concat"] else heads.mean(axis=1)
        np.testing.assert_allclose(steps["heads"]["heads"], combined, atol=tol)
        np.testing.assert_allclose(steps["output"]["output"], out, atol=tol)
        h = out


@pytest.fixture
def big_graph(tmp_path) -> tuple[str, str]:
    """A random directed graph of 20,000 nodes and 100,000 edges with 8 features."""
    rng = np.random.default_rng(7)
    n, e = 20_000, 100_000
    edges = np.stack([rng.integers(0, n, e), rng.integers(0, n, e)], axis=1)
    graph, feats = tmp_path / "edges.csv", tmp_path / "x.npy"
    np.savetxt(graph, edges, fmt="%d", delimiter=",", header="source,target", comments="")
    np.save(feats, rng.normal(size=(n, 8)))
    return str(graph), str(feats)


def test_node_on_a_100k_edge_graph_prints_no_matrix(big_graph, monkeypatch):
    def no_dense(*args, **kwargs):
        raise AssertionError("a dense N x N matrix was built")

    monkeypatch.setattr(render, "dense_matrix", no_dense)
    out = explain(*big_graph, "--node", "123").stdout
    lines = out.splitlines()
    assert len(lines) < 300
    assert "Node 123 (layer 0, head 0)" in out and "Node 123 (layer 1, head 0)" in out
    assert "in-neighbours j by attention, highest first" in out
    assert max(len(line) for line in lines) <= 80
    doc = json.loads(explain(*big_graph, "--node", "123", "-f", "json").stdout)
    node = doc["layers"][0]["node"]
    assert node["alpha"] == sorted(node["alpha"], reverse=True)
    assert "123" in node["in_neighbours"]  # its self-loop


def test_whole_big_graph_is_summarised(big_graph):
    out = explain(*big_graph, "--layer", "1").stdout
    assert "As a matrix E would be 20000 x 20000" in out
    assert "more rows" in out and len(out.splitlines()) < 300


def test_gatv2_shows_leaky_relu_before_scores():
    out = explain("--layer-type", "gatv2", "--layers", "1").stdout
    titles = [line.split()[2] for line in out.splitlines() if line.startswith("Step ")]
    assert titles == ["linear:", "concat:", "leaky_relu:", "scores:", "mask:", "softmax:",
                      "aggregate:", "heads:", "output:"]
    assert "e_ij = a · LeakyReLU(z_ij)" in out
    assert "tutorial's W_alpha" not in out  # not the tutorial's model: nothing to compare


def test_lang_zh():
    out = explain("--step", "softmax", "--lang", "zh").stdout
    assert "教程的错误 1" in out and "静态注意力" in out
    assert has_row(out, [1, 0.51293336, 0.48706664, 0, 0])


def test_head_and_layer_pick_what_is_shown(examples):
    graph = str(examples / "karate" / "edges.csv")
    feats = str(examples / "karate" / "features.csv")
    out = explain(graph, feats, "--layer", "0", "--head", "5", "--step", "softmax").stdout
    assert "Head 5 of 8" in out and "Layer 1" not in out
    doc = json.loads(explain(graph, feats, "--layer", "0", "--head", "5", "--step",
                             "softmax", "-f", "json").stdout)
    assert len(doc["layers"]) == 1 and np.shape(doc["layers"][0]["steps"]["softmax"][
        "softmax"])[1] == 1


@pytest.mark.parametrize("args, message, code", [
    (["--node", "9"], "--node '9': no such node id", 2),
    (["--layer", "1"], "--layer 1: the model has 1 layer(s)", 2),
    (["--head", "1"], "--head 1: layer 0 has 1 head(s)", 2),
    (["only-one.csv"], "give both GRAPH and FEATURES, or neither", 2),
    (["missing.csv", "missing.npy"], "missing.npy: no such file", 1),
    (["--activation", "softplus", "--layers", "1"], "--activation 'softplus'", 2),
])
def test_errors_are_one_line(args, message, code):
    result = explain(*args, code=code)
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("gat: error: ")


def test_installed_gat_prints_no_escape_codes_when_piped():
    done = subprocess.run(["gat", "explain", "--step", "softmax"], capture_output=True,
                          text=True, timeout=60, env={"PATH": __import__("os").environ["PATH"],
                                                      "TERM": "xterm-256color"})
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stdout
    assert "0.51293336 0.48706664" in done.stdout
