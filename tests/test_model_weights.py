"""gatcli.model.weights: the project's own .npz layout, round trip and validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gatcli.errors import GatError
from gatcli.model.build import resolve_model
from gatcli.model.init import init_model
from gatcli.model.spec import LayerSpec
from gatcli.model.weights import check_layer_params, load_weights, save_weights

SPECS = [
    LayerSpec(in_dim=4, out_dim=3, heads=2, concat=True, activation="elu", residual=True),
    LayerSpec(in_dim=6, out_dim=2, heads=3, concat=False, negative_slope=0.1, kind="gatv2",
              self_loops=False),
    LayerSpec(in_dim=2, out_dim=1, bias=False, kind="gatv2", share_weights=True),
]


def raw(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def rewrite(path, arrays) -> None:
    with open(path, "wb") as out:
        np.savez(out, **arrays)


@pytest.fixture
def saved(tmp_path):
    model = init_model(SPECS, seed=5)
    for layer in model.layers:   # non-zero biases, so a dropped bias would show
        for name in layer.params:
            if name.endswith("bias"):
                layer.params[name] = np.full(layer.params[name].shape, 0.25)
    path = tmp_path / "w.npz"
    save_weights(model, str(path))
    return model, path


def test_round_trip_is_bit_identical(saved):
    model, path = saved
    loaded = load_weights(str(path))
    assert loaded.specs == model.specs
    for a, b in zip(loaded.layers, model.layers):
        assert set(a.params) == set(b.params)
        for name in a.params:
            assert a.params[name].dtype == b.params[name].dtype
            np.testing.assert_array_equal(a.params[name], b.params[name])


def test_float32_parameters_round_trip(tmp_path):
    model = init_model(SPECS[:1], seed=1)
    model.layers[0].params = {k: v.astype(np.float32) for k, v in model.layers[0].params.items()}
    save_weights(model, str(tmp_path / "w.npz"))
    loaded = load_weights(str(tmp_path / "w.npz"))
    assert all(v.dtype == np.float32 for v in loaded.layers[0].params.values())


def test_layout_is_self_describing_and_pickle_free(saved):
    model, path = saved
    arrays = raw(path)
    assert str(arrays["gatcli.format"]) == "gatcli-weights"
    assert int(arrays["gatcli.version"]) == 1
    architecture = json.loads(str(arrays["gatcli.architecture"]))
    assert architecture[1]["kind"] == "gatv2" and architecture[1]["self_loops"] is False
    assert len(architecture) == 3
    assert {"layers.0.lin.weight", "layers.0.att_src", "layers.0.att_dst", "layers.0.bias",
            "layers.0.res.weight", "layers.1.lin_l.weight", "layers.1.lin_r.bias",
            "layers.2.att"} <= set(arrays)
    assert arrays["layers.0.att_src"].shape == (1, 2, 3)


def test_the_file_alone_rebuilds_the_model(saved):
    model, path = saved
    rebuilt = resolve_model(4, weights=str(path), seed=99)
    assert rebuilt.specs == model.specs
    np.testing.assert_array_equal(rebuilt.layers[1].params["att"],
                                  model.layers[1].params["att"])
    with pytest.raises(GatError, match="features have 3 columns.*expects 4"):
        resolve_model(3, weights=str(path))


def test_missing_key_is_named(saved):
    _, path = saved
    arrays = raw(path)
    del arrays["layers.1.att"]
    rewrite(path, arrays)
    with pytest.raises(GatError, match=r"layer 1: missing key 'att' .*\(1, 3, 2\)"):
        load_weights(str(path))


def test_wrong_shape_is_named(saved):
    _, path = saved
    arrays = raw(path)
    arrays["layers.0.lin.weight"] = arrays["layers.0.lin.weight"].T
    rewrite(path, arrays)
    with pytest.raises(GatError, match=r"'lin.weight' has shape \(4, 6\), expected \(6, 4\)"):
        load_weights(str(path))


def test_unexpected_and_stray_keys_are_named(saved):
    _, path = saved
    arrays = raw(path)
    arrays["layers.2.bias"] = np.zeros(1)
    rewrite(path, arrays)
    with pytest.raises(GatError, match=r"unexpected keys \['bias'\]"):
        load_weights(str(path))
    arrays = raw(path)
    del arrays["layers.2.bias"]
    arrays["optimizer.step"] = np.array(3)
    rewrite(path, arrays)
    with pytest.raises(GatError, match="unknown keys.*optimizer.step"):
        load_weights(str(path))


def test_architecture_errors_name_the_field(saved):
    _, path = saved
    arrays = raw(path)
    architecture = json.loads(str(arrays["gatcli.architecture"]))
    architecture[0]["activation"] = "swish"
    arrays["gatcli.architecture"] = np.array(json.dumps(architecture))
    rewrite(path, arrays)
    with pytest.raises(GatError, match=r"architecture\[0\].*activation.*swish"):
        load_weights(str(path))
    architecture[0]["activation"] = "elu"
    architecture[0]["dropout"] = 0.5
    arrays["gatcli.architecture"] = np.array(json.dumps(architecture))
    rewrite(path, arrays)
    with pytest.raises(GatError, match="unknown fields.*dropout"):
        load_weights(str(path))


def test_not_a_gatcli_weights_file(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weight=np.zeros(3))
    with pytest.raises(GatError, match="gatcli.architecture"):
        load_weights(str(path))


def test_check_layer_params_rejects_integers_and_non_finite_values():
    spec = LayerSpec(in_dim=2, out_dim=1)
    good = {"lin.weight": np.ones((1, 2)), "att_src": np.ones((1, 1, 1)),
            "att_dst": np.ones((1, 1, 1)), "bias": np.zeros(1)}
    check_layer_params(spec, good, "here")
    with pytest.raises(GatError, match="'bias' has dtype int64"):
        check_layer_params(spec, {**good, "bias": np.zeros(1, dtype=np.int64)}, "here")
    with pytest.raises(GatError, match="^here: key 'att_src' has non-finite"):
        check_layer_params(spec, {**good, "att_src": np.full((1, 1, 1), np.nan)}, "here")
