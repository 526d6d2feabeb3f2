"""gat train / gat predict: round trips through the weights file, logs, exports, errors."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from train_data import planted_graph, write_planted
from typer.testing import CliRunner

from gatcli.cli import app
from gatcli.forward import forward
from gatcli.io.readers import NodeIndex, read_features, read_graph
from gatcli.model.weights import load_weights, read_npz

GAT = shutil.which("gat")
FAST = ["--epochs", "30", "--patience", "30", "--heads", "2", "--hidden", "4", "-q"]


@pytest.fixture
def planted(tmp_path: Path) -> dict[str, str]:
    return write_planted(tmp_path, planted_graph(n=90, seed=7), ["zebra", "ant", "moth"])


def run(args: list[str]):
    result = CliRunner().invoke(app, args)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_train_then_embed_and_predict_round_trip(planted, tmp_path):
    model_path = str(tmp_path / "m.npz")
    result = run(["train", planted["edges.csv"], planted["features.csv"], planted["labels.csv"],
                  "-o", model_path, *FAST, "--lr", "0.02"])
    assert result.exit_code == 0, result.stderr
    model = load_weights(model_path)
    assert model.classes == ["ant", "moth", "zebra"]  # ascending: column k = k-th class
    assert model.feature_norm == "row" and model.output_dim == 3
    # embed --weights runs the trained model: the same numbers as the library
    emb = tmp_path / "emb.csv"
    assert run(["embed", planted["edges.csv"], planted["features.csv"], "-w", model_path,
                "-o", str(emb), "--dtype", "float64"]).exit_code == 0
    feats = read_features(planted["features.csv"])
    sources, targets = read_graph(planted["edges.csv"], NodeIndex.of(feats))
    expected = forward(model, feats.values, sources, targets, dtype=np.float64).embeddings
    table = np.loadtxt(emb, delimiter=",", skiprows=1, usecols=range(1, 4))
    np.testing.assert_allclose(table, expected, rtol=1e-6, atol=1e-9)
    # predict writes id,label with the class of the largest output
    pred = tmp_path / "pred.csv"
    assert run(["predict", planted["edges.csv"], planted["features.csv"], "-w", model_path,
                "-o", str(pred)]).exit_code == 0
    lines = pred.read_text().splitlines()
    assert lines[0] == "id,label" and len(lines) == 91
    names = [line.split(",")[1] for line in lines[1:]]
    assert names == [model.classes[k] for k in expected.argmax(1)]
    truth = {line.split(",")[0]: line.split(",")[1]
             for line in Path(planted["labels.csv"]).read_text().splitlines()[1:]}
    accuracy = np.mean([truth[line.split(",")[0]] == name for line, name in
                        zip(lines[1:], names)])
    assert accuracy > 0.7


def test_log_csv_and_jsonl_and_pyg_export(planted, tmp_path):
    for log in ("log.csv", "log.jsonl"):
        args = ["train", planted["edges.csv"], planted["features.csv"], planted["labels.csv"],
                "-o", str(tmp_path / "m.npz"), "--log", str(tmp_path / log),
                "--pyg-export", str(tmp_path / "pyg.npz"), *FAST, "--epochs", "7"]
        assert run(args).exit_code == 0
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0].split(",")[:5] == ["epoch", "loss", "train_acc", "val_loss", "val_acc"]
    assert len(rows) == 8 and rows[1].startswith("1,")
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == list(range(1, 8))
    assert all(0 <= r["val_acc"] <= 1 and r["loss"] > 0 for r in records)
    # the PyG export holds the same parameters under convs.<k>.
    own = load_weights(str(tmp_path / "m.npz"))
    pyg = read_npz(tmp_path / "pyg.npz")
    assert sorted(pyg) == sorted(f"convs.{k}.{name}" for k, layer in enumerate(own.layers)
                                 for name in layer.params)
    for k, layer in enumerate(own.layers):
        for name, value in layer.params.items():
            np.testing.assert_array_equal(pyg[f"convs.{k}.{name}"], value)


def test_weights_and_log_to_stdout_follow_the_rule_of_every_weights_output(planted, tmp_path):
    """-o - writes the weights archive to stdout (as embed --save-weights - and weights
    convert -o - do), --log - JSON lines; only one of them at a time; a weights file not
    named .npz is refused before any training."""
    base = ["train", planted["edges.csv"], planted["features.csv"], planted["labels.csv"],
            *FAST, "--epochs", "3"]
    result = subprocess.run([GAT, *base, "-o", "-"], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with np.load(io.BytesIO(result.stdout), allow_pickle=False) as archive:
        assert sorted(json.loads(str(archive["gatcli.classes"]))) == ["ant", "moth", "zebra"]
    result = run([*base, "-o", str(tmp_path / "m.npz"), "--log", "-"])
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["epoch"] for line in result.stdout.splitlines()] == [1, 2, 3]
    result = run([*base, "-o", "-", "--log", "-"])
    assert result.exit_code == 2 and "only one output can go to stdout" in result.stderr
    for option in ("-o", "--pyg-export"):
        args = [*base, "-o", str(tmp_path / "m2.npz"), option, str(tmp_path / "w.txt")]
        result = run(args)
        assert result.exit_code == 1 and "name the file *.npz" in result.stderr
        assert not (tmp_path / "m2.npz").exists()  # refused before training


def test_link_objective_writes_an_embedding_model(planted, tmp_path):
    out = tmp_path / "link.npz"
    result = run(["train", planted["edges.csv"], planted["features.csv"], "--objective", "link",
                  "-o", str(out), "--epochs", "5", "--heads", "2", "--hidden", "4"])
    assert result.exit_code == 0, result.stderr
    assert "test ROC-AUC" in result.stderr
    model = load_weights(str(out))
    assert model.classes is None and model.output_dim == 16
    result = run(["predict", planted["edges.csv"], planted["features.csv"], "-w", str(out)])
    assert result.exit_code == 1 and "no class names" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--objective", "link", "LABELS"], "takes no LABELS"),
    (["--monitor", "val_auc", "LABELS"], "--monitor val_auc does not apply"),
    (["--log", "log.txt", "LABELS"], "use a .csv, .jsonl or .json"),
    ([], "missing LABELS"),
])
def test_usage_errors(planted, args, message):
    args = [planted["labels.csv"] if a == "LABELS" else a for a in args]
    result = run(["train", planted["edges.csv"], planted["features.csv"], *args,
                  "-o", "m.npz"])
    assert result.exit_code == 2 and message in result.stderr


def test_width_of_a_config_must_match_the_classes(planted, tmp_path):
    config = tmp_path / "m.yaml"
    config.write_text("layers:\n  - {out_dim: 4, heads: 2}\n  - {out_dim: 5}\n")
    result = run(["train", planted["edges.csv"], planted["features.csv"], planted["labels.csv"],
                  "-o", str(tmp_path / "m.npz"), "-c", str(config), "--epochs", "2"])
    assert result.exit_code == 1
    assert "outputs 5 columns but the labels have 3 classes" in result.stderr


@pytest.mark.skipif(GAT is None or not hasattr(signal, "SIGINT"), reason="needs the gat script")
def test_ctrl_c_keeps_the_best_weights_so_far(tmp_path):
    paths = write_planted(tmp_path, planted_graph(n=400, seed=8))
    out = tmp_path / "m.npz"
    log = tmp_path / "log.jsonl"
    proc = subprocess.Popen([GAT, "train", paths["edges.csv"], paths["features.csv"],
                             paths["labels.csv"], "-o", str(out), "--log", str(log),
                             "--epochs", "100000", "--patience", "100000"],
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stderr.readline()  # "... training, ... nodes": training starts now
        assert "training" in first, first
        time.sleep(1.5)  # some epochs
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted after" in stderr and "Traceback" not in stderr
    model = load_weights(str(out))
    assert model.classes == ["c0", "c1", "c2"]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records and not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
