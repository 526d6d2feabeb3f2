"""`gat weights show/convert`, and seeded GATv2 models end to end through the installed `gat`."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from reference import layers_of, reference_forward
from typer.testing import CliRunner

from gatcli.cli import app
from gatcli.model.weights import load_weights, read_npz

PYG = Path(__file__).resolve().parent / "fixtures" / "pyg"


def gat(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_show_a_pyg_file_prints_architecture_and_every_key():
    result = gat("weights", "show", PYG / "gatv2_shared" / "model.npz")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "PyG state_dict, 2 layer(s), 10 input features -> 6 outputs" in out
    assert "convs.0." in out and "GATv2Conv shared" in out
    assert "convs.1.lin_r.weight (= lin_l, shared)" in out
    for key, value in read_npz(PYG / "gatv2_shared" / "model.npz").items():
        assert key in out
        if "lin_r" not in key:
            assert str(tuple(value.shape)) in out
    assert "assumed: ELU between layers" in result.stderr


def test_show_says_what_it_assumed_for_a_bias_free_last_layer():
    result = gat("weights", "show", PYG / "gat_no_bias" / "model.npz")
    assert result.exit_code == 0
    assert "cannot tell whether they are concatenated or averaged" in result.stderr
    told = gat("weights", "show", PYG / "gat_no_bias" / "model.npz", "--mean")
    assert "cannot tell" not in told.stderr


def test_show_the_own_layout(tmp_path):
    own = tmp_path / "own.npz"
    assert gat("weights", "convert", PYG / "gat_residual" / "model.npz", "-o", own).exit_code == 0
    result = gat("weights", "show", own)
    assert result.exit_code == 0
    assert "gat weights (own layout), 2 layer(s)" in result.stdout
    assert "layers.1.res.weight" in result.stdout


def test_show_refuses_other_files_in_one_line(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weight=np.zeros(3))
    result = gat("weights", "show", path)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"gat: error: {path}: neither a gat weights file")
    assert result.stderr.count("\n") == 1


def test_convert_writes_the_own_layout_with_the_stated_options(tmp_path):
    out = tmp_path / "own.npz"
    result = gat("weights", "convert", PYG / "gat_negative_slope" / "model.npz", "-o", out,
                 "--negative-slope", "0.1")
    assert result.exit_code == 0, result.output
    assert f"wrote 1 layer(s), 8 -> 12, to {out}" in result.stderr
    arrays = read_npz(out)
    assert "gatcli.architecture" in arrays
    model = load_weights(str(out))
    assert model.specs[0].negative_slope == 0.1
    original = read_npz(PYG / "gat_negative_slope" / "model.npz")
    np.testing.assert_array_equal(arrays["layers.0.lin.weight"], original["conv1.lin.weight"])
    assert [p.name for p in tmp_path.iterdir()] == ["own.npz"]


def test_convert_refuses_bad_outputs(tmp_path):
    model = PYG / "gat_2layer" / "model.npz"
    bad = gat("weights", "convert", model, "-o", tmp_path / "x.csv")
    assert bad.exit_code == 1 and "name the file *.npz" in bad.stderr
    result = gat("weights", "convert", model, "-o", model)
    assert result.exit_code == 1 and "would overwrite the input" in result.stderr
    missing = gat("weights", "convert", model, "-o", tmp_path / "no" / "x.npz")
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


def test_convert_names_the_bad_key(tmp_path):
    arrays = read_npz(PYG / "gat_2layer" / "model.npz")
    arrays["conv2.bias"] = np.zeros(5, np.float32)
    np.savez(tmp_path / "bad.npz", **arrays)
    result = gat("weights", "convert", tmp_path / "bad.npz", "-o", tmp_path / "o.npz")
    assert result.exit_code == 1
    assert "key 'conv2.bias' has shape (5,), expected (7,) or (7,)" in result.stderr
    assert not (tmp_path / "o.npz").exists()


def run_gat(*args) -> subprocess.CompletedProcess:
    run = subprocess.run(["gat", *map(str, args)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return run


def test_converted_file_runs_as_the_pyg_file(tmp_path):
    case = PYG / "gatv2_unshared"
    run_gat("weights", "convert", case / "model.npz", "-o", tmp_path / "own.npz", "-q")
    for name in ("model.npz", "own.npz"):
        source = case / name if name == "model.npz" else tmp_path / name
        run_gat("embed", case / "edges.csv", case / "features.npy", "--weights", source,
                "-o", tmp_path / f"{name}.npy", "-q")
    np.testing.assert_array_equal(np.load(tmp_path / "model.npz.npy"),
                                  np.load(tmp_path / "own.npz.npy"))
    expected = np.load(case / "expected.npz")["out"]
    np.testing.assert_allclose(np.load(tmp_path / "own.npz.npy"), expected, atol=1e-5, rtol=0)


def test_seeded_gatv2_model_end_to_end(tmp_path, examples):
    karate = examples / "karate"
    run_gat("embed", karate / "edges.csv", karate / "features.csv", "--layer-type", "gatv2",
            "--heads", "2", "--hidden", "3", "--seed", "5", "--dtype", "float64",
            "--save-weights", tmp_path / "w.npz", "-o", tmp_path / "out.npy")
    model = load_weights(str(tmp_path / "w.npz"))
    assert [s.kind for s in model.specs] == ["gatv2", "gatv2"]
    # the independent dense float64 reference on the same weights and graph
    from gatcli.io.readers import NodeIndex, read_features, read_graph

    feats = read_features(str(karate / "features.csv"))
    sources, targets = read_graph(str(karate / "edges.csv"), NodeIndex.of(feats))
    want, _ = reference_forward(layers_of(model), feats.values, sources, targets)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), want, rtol=1e-10, atol=1e-10)
    show = run_gat("weights", "show", tmp_path / "w.npz")
    assert "GATv2Conv" in show.stdout and "lin_r.weight" in show.stdout


KARATE = Path(__file__).resolve().parents[1] / "examples" / "graphs" / "karate"


@pytest.mark.parametrize("name", ["w.txt", "w.csv", "w", "w.npz.bak"])
def test_one_rule_for_weights_outputs_refuses(tmp_path, name):
    """embed --save-weights and weights convert -o accept the same names: .npz or -."""
    model = PYG / "gat_2layer" / "model.npz"
    convert = gat("weights", "convert", model, "-o", tmp_path / name)
    embed = gat("embed", KARATE / "edges.csv", KARATE / "features.csv", "-o",
                tmp_path / "e.csv", "--save-weights", tmp_path / name)
    for result in (convert, embed):
        assert result.exit_code == 1
        assert result.stderr.splitlines() == [
            f"gat: error: {tmp_path / name}: weights are written as an .npz archive; name the "
            "file *.npz"]
    assert list(tmp_path.iterdir()) == []


def test_one_rule_for_weights_outputs_stdout(tmp_path):
    model = PYG / "gat_2layer" / "model.npz"
    convert = gat("weights", "convert", model, "-o", "-", "-q")
    embed = gat("embed", KARATE / "edges.csv", KARATE / "features.csv", "-q", "-o",
                tmp_path / "e.csv", "--save-weights", "-")
    for result in (convert, embed):
        assert result.exit_code == 0, result.stderr
        archive = np.load(io.BytesIO(result.stdout_bytes))
        assert "gatcli.architecture" in archive.files
    both = gat("embed", KARATE / "edges.csv", KARATE / "features.csv", "--save-weights", "-")
    assert both.exit_code == 2 and "needs the embeddings in a file" in both.stderr


def test_show_json_and_quiet():
    model = PYG / "gat_2layer" / "model.npz"
    result = gat("weights", "show", model, "--format", "json", "-q")
    assert result.exit_code == 0 and result.stderr == ""
    document = json.loads(result.stdout)
    assert document["format"] == "pyg"
    assert [layer["layer"] for layer in document["layers"]] == [0, 1]
    assert document["layers"][0]["type"] == "GATConv"
    assert document["total_parameters"] == sum(
        int(np.prod(p["shape"])) for p in document["parameters"] if not p["shared_with"])
    assert "assumed" in document["notes"][0]
    noisy = gat("weights", "show", model)
    assert "assumed" in noisy.stderr and "architecture" in noisy.stdout
