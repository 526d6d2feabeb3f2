"""gatcli.explain.export: the --format json document holds the recorded arrays of the chosen
steps, layers and head, checked against the dense float64 reference."""

from __future__ import annotations

import json

import numpy as np
import pytest
from reference import edge_counts, layers_of, reference_layer

from gatcli.explain.export import explanation_json, step_arrays
from gatcli.explain.steps import STEPS, layer_traces
from gatcli.forward import forward
from gatcli.layer import StepRecorder
from gatcli.model.init import init_model
from gatcli.model.spec import model_spec

SOURCES = np.array([1, 2, 3, 0, 4, 3, 1, 4, 0, 5, 2])
TARGETS = np.array([0, 0, 0, 1, 1, 2, 3, 3, 4, 4, 5])
N = 6


def two_layers(kind: str):
    model = init_model(model_spec(3, layers=2, hidden=2, heads=3, out_dim=2, out_heads=2,
                                  kind=kind), seed=5)
    x = np.random.default_rng(5).normal(size=(N, 3))
    recorder = StepRecorder()
    forward(model, x, SOURCES, TARGETS, dtype=np.float64, recorder=recorder)
    return model, x, layer_traces(recorder, model)


def per_pair(doc_layer: dict, per_edge: list, n: int) -> np.ndarray:
    """(H, N, N) from a per-edge (E, H) list of the json document (duplicates summed)."""
    values = np.asarray(per_edge)
    out = np.zeros((values.shape[1], n, n))
    for k, (t, s) in enumerate(zip(doc_layer["targets"], doc_layer["sources"])):
        out[:, t, s] += values[k]
    return out


@pytest.mark.parametrize("kind", ["gat", "gatv2"])
def test_every_layers_softmax_and_output_equal_the_reference(kind):
    model, x, traces = two_layers(kind)
    doc = json.loads(json.dumps(explanation_json(traces, ids=np.arange(N), steps=STEPS,
                                                 layers=[0, 1])))
    counts = edge_counts(SOURCES, TARGETS, N, self_loops=True)
    h = x
    for k, (spec, params) in enumerate(layers_of(model)):
        layer = doc["layers"][k]
        assert list(layer["steps"]) == list(STEPS if kind == "gat" else
                                            ("linear", "concat", "leaky_relu", "scores",
                                             "mask", "softmax", "aggregate", "heads",
                                             "output"))
        np.testing.assert_allclose(layer["steps"]["linear"]["input"], h, atol=1e-12)
        out, probs, logits = reference_layer(h, counts, spec, params)
        np.testing.assert_allclose(per_pair(layer, layer["steps"]["softmax"]["softmax"], N),
                                   np.stack(probs), atol=1e-12)
        matrix = np.array(layer["steps"]["mask"]["matrix"], dtype=float)  # None -> nan
        for hh in range(spec["heads"]):
            np.testing.assert_allclose(matrix[hh][counts > 0], logits[hh][counts > 0],
                                       atol=1e-12)
            assert np.isnan(matrix[hh][counts == 0]).all()
        np.testing.assert_allclose(layer["steps"]["output"]["output"], out, atol=1e-12)
        h = out


def test_head_keeps_a_head_axis_of_one():
    _, _, traces = two_layers("gat")
    full = step_arrays(traces[0], "softmax")["softmax"]
    one = step_arrays(traces[0], "softmax", head=2)["softmax"]
    np.testing.assert_array_equal(np.asarray(one)[:, 0], np.asarray(full)[:, 2])
    assert np.asarray(step_arrays(traces[0], "linear", head=1)["linear"]).shape == (N, 1, 2)
    assert np.asarray(step_arrays(traces[0], "heads", head=1)["heads"]).shape == (N, 6)


def test_gat_concat_is_gathered_wh():
    _, _, traces = two_layers("gat")
    t = traces[0]
    concat = np.asarray(step_arrays(t, "concat")["concat"])
    wh = t.arrays["linear"]
    np.testing.assert_array_equal(concat[:, :, :2], wh[t.targets()])
    np.testing.assert_array_equal(concat[:, :, 2:], wh[t.graph.sources])


def test_node_document_has_no_graph_arrays():
    _, _, traces = two_layers("gat")
    ids = np.array(["a", "b", "c", "d", "e", "f"])
    doc = explanation_json(traces, ids=ids, steps=STEPS, layers=[1], node=0, head=1)
    assert doc["node"] == {"id": "a", "index": 0}
    layer = doc["layers"][0]
    assert "steps" not in layer and "targets" not in layer
    node = layer["node"]
    assert sorted(node["in_neighbours"]) == ["a", "b", "c", "d"]
    assert node["alpha"] == sorted(node["alpha"], reverse=True)
    assert abs(sum(node["alpha"]) - 1) < 1e-12
    np.testing.assert_array_equal(node["rows"]["output"], traces[1].arrays["output"][0])
