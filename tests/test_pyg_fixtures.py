"""gatcli reproduces PyTorch Geometric 2.8.1 GATConv / GATv2Conv outputs and attention.

Golden values: tests/fixtures/pyg/<case>/expected.npz, written by PyG itself
(tests/fixtures/pyg/make_fixtures.py); no torch is needed here. Every case is run through
the library (load_weights + forward) and a few through the installed ``gat`` command.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gatcli.forward import forward
from gatcli.model.pyg import PygOptions
from gatcli.model.weights import load_weights

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pyg"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "case.json").is_file())
ATOL = 1e-5


def case_data(name: str) -> tuple[dict, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(case.json, edges (E, 2) as (source, target), features, expected arrays)."""
    folder = FIXTURES / name
    case = json.loads((folder / "case.json").read_text())
    edges = np.loadtxt(folder / "edges.csv", delimiter=",", skiprows=1, dtype=np.int64)
    with np.load(folder / "expected.npz") as data:
        expected = {k: data[k] for k in data.files}
    return case, edges.reshape(-1, 2), np.load(folder / "features.npy"), expected


def the_one(values: list) -> object:
    """The value every layer of a fixture shares (the fixtures use one per model)."""
    assert len(set(values)) == 1, values
    return values[0]


def options_of(case: dict) -> PygOptions:
    """What the PyG file does not store, as case.json states it."""
    layers = case["layers"]
    return PygOptions(activation=case["activation"],
                      negative_slope=the_one([lay["negative_slope"] for lay in layers]),
                      self_loops=the_one([lay["add_self_loops"] for lay in layers]))


def sorted_edges(sources, targets, alpha) -> tuple[np.ndarray, np.ndarray]:
    """Edges as (target, source) rows and their alphas, sorted by target, source, alpha, so
    duplicate edges compare as sorted per-target lists whatever the order they came in."""
    sources, targets = np.asarray(sources), np.asarray(targets)
    alpha = np.asarray(alpha).reshape(len(sources), -1)
    order = np.lexsort((alpha[:, 0], sources, targets))
    return np.stack([targets[order], sources[order]], axis=1), alpha[order]


def assert_same_attention(ours: tuple, pyg_edge_index: np.ndarray, pyg_alpha: np.ndarray):
    pairs, alpha = sorted_edges(*ours)
    want_pairs, want_alpha = sorted_edges(pyg_edge_index[0], pyg_edge_index[1], pyg_alpha)
    np.testing.assert_array_equal(pairs, want_pairs)
    np.testing.assert_allclose(alpha, want_alpha, rtol=0, atol=ATOL)


@pytest.mark.parametrize("name", CASES)
def test_architecture_read_from_the_file_is_the_pyg_model(name):
    case, _, features, _ = case_data(name)
    model = load_weights(str(FIXTURES / name / "model.npz"), options_of(case))
    assert model.in_dim == features.shape[1]
    assert len(model.layers) == len(case["layers"])
    for spec, want in zip(model.specs, case["layers"]):
        assert spec.kind == want["type"]
        assert (spec.heads, spec.out_dim) == (want["heads"], want["out_channels"])
        assert spec.bias == want["bias"] and spec.residual == want["residual"]
        if want["heads"] > 1:
            assert spec.concat == want["concat"]
        if want["type"] == "gatv2":
            assert spec.share_weights == want["share_weights"]


@pytest.mark.parametrize("name", CASES)
def test_embeddings_and_attention_match_pyg(name):
    case, edges, features, expected = case_data(name)
    model = load_weights(str(FIXTURES / name / "model.npz"), options_of(case))
    result = forward(model, features, edges[:, 0], edges[:, 1], dtype=np.float32,
                     keep_attention=True)
    assert result.embeddings.dtype == np.float32
    np.testing.assert_allclose(result.embeddings, expected["out"], rtol=0, atol=ATOL)
    for k, (graph, alpha) in enumerate(zip(result.graphs, result.attention)):
        assert alpha.shape == expected[f"alpha.{k}"].shape
        assert_same_attention((graph.sources, graph.targets(), alpha),
                              expected[f"edge_index.{k}"], expected[f"alpha.{k}"])


def test_the_cases_cover_what_issue_4_asks():
    """A guard that the fixture set still holds the cases the tests above rely on."""
    assert {"gat_2layer", "gat_mean_heads", "gat_no_bias", "gat_residual", "gatv2_shared",
            "gatv2_unshared", "gat_directed_isolated", "gat_no_self_loops"} <= set(CASES)


def read_attention_csv(path: Path, layer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sources, targets, alpha (E, H)) of one layer from gat's long attention CSV."""
    rows = np.loadtxt(path, delimiter=",", skiprows=1)
    rows = rows[rows[:, 0] == layer]
    heads = int(rows[:, 1].max()) + 1
    per_head = [rows[rows[:, 1] == h] for h in range(heads)]
    for part in per_head[1:]:  # every head lists the same edges in the same order
        np.testing.assert_array_equal(part[:, 2:4], per_head[0][:, 2:4])
    alpha = np.stack([part[:, 4] for part in per_head], axis=1)
    return per_head[0][:, 3].astype(np.int64), per_head[0][:, 2].astype(np.int64), alpha


@pytest.mark.parametrize("name", ["gat_directed_isolated", "gatv2_residual_no_bias",
                                  "gat_no_self_loops"])
def test_installed_gat_embed_matches_pyg(name, tmp_path):
    case, _, _, expected = case_data(name)
    folder = FIXTURES / name
    options = options_of(case)
    command = ["gat", "embed", str(folder / "edges.csv"), str(folder / "features.npy"),
               "--weights", str(folder / "model.npz"), "-o", str(tmp_path / "out.npy"),
               "--attention", str(tmp_path / "att.csv"),
               "--negative-slope", str(options.negative_slope),
               "--self-loops" if options.self_loops else "--no-self-loops"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "PyG state_dict" in run.stderr and "ELU between layers" in run.stderr
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected["out"], rtol=0,
                               atol=ATOL)
    for k in range(len(case["layers"])):
        assert_same_attention(read_attention_csv(tmp_path / "att.csv", k),
                              expected[f"edge_index.{k}"], expected[f"alpha.{k}"])
