"""gatcli.model.pyg: reading PyG GATConv / GATv2Conv state_dict exports."""

from __future__ import annotations

import numpy as np
import pytest
from reference import layers_of, reference_forward

from gatcli.errors import GatError
from gatcli.forward import forward
from gatcli.model.build import QuickModel, resolve_model
from gatcli.model.init import init_model
from gatcli.model.pyg import (
    PygOptions,
    is_pyg_state_dict,
    layer_order,
    model_from_pyg,
    split_key,
)
from gatcli.model.spec import LayerSpec
from gatcli.model.weights import load_weights, save_weights

EDGES = np.array([[0, 1], [1, 2], [2, 0], [3, 1], [1, 3], [4, 4], [2, 1], [2, 1]])


def conv(rng, fin, heads, f, *, kind="gat", concat=True, bias=True, residual=False,
         share=False) -> dict[str, np.ndarray]:
    """One conv's state_dict entries (PyG names, float32), in PyG's order."""
    def r(*shape):
        return rng.normal(size=shape).astype(np.float32)

    out = heads * f if concat else f
    p: dict[str, np.ndarray] = {}
    if kind == "gat":
        p.update({"att_src": r(1, heads, f), "att_dst": r(1, heads, f)})
        if bias:
            p["bias"] = r(out)
        p["lin.weight"] = r(heads * f, fin)
    else:
        p["att"] = r(1, heads, f)
        if bias:
            p["bias"] = r(out)
        p["lin_l.weight"] = r(heads * f, fin)
        if bias:
            p["lin_l.bias"] = r(heads * f)
        if share:
            p["lin_r.weight"] = p["lin_l.weight"].copy()
            if bias:
                p["lin_r.bias"] = p["lin_l.bias"].copy()
        else:
            p["lin_r.weight"] = r(heads * f, fin)
            if bias:
                p["lin_r.bias"] = r(heads * f)
    if residual:
        p["res.weight"] = r(out, fin)
    return p


def state_dict(*layers: tuple[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {prefix + name: value for prefix, params in layers for name, value in params.items()}


def two_layers(seed=0, **last) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return state_dict(("conv1.", conv(rng, 5, 3, 4)),
                      ("conv2.", conv(rng, 12, last.pop("heads", 2), 3, **last)))


def features(n=5, f=5, seed=1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, f)).astype(np.float32)


def run(model, x=None):
    x = features() if x is None else x
    return forward(model, x, EDGES[:, 0], EDGES[:, 1], dtype=np.float64).embeddings


def reference(model, x=None):
    x = features() if x is None else x
    return reference_forward(layers_of(model), x, EDGES[:, 0], EDGES[:, 1])[0]


# ----------------------------------------------------------------- keys and prefixes

@pytest.mark.parametrize("key,parts", [
    ("conv1.lin.weight", ("conv1.", "lin.weight")),
    ("convs.0.lin_l.bias", ("convs.0.", "lin_l.bias")),
    ("gat.layers.1.bias", ("gat.layers.1.", "bias")),
    ("att_src", ("", "att_src")),
    ("conv1.res.weight", ("conv1.", "res.weight")),
    ("conv1.natt", None),
    ("classifier.weight", None),
])
def test_split_key_takes_the_longest_parameter_name(key, parts):
    assert split_key(key) == parts


def test_a_file_is_pyg_when_a_conv_only_parameter_is_there():
    assert is_pyg_state_dict(["conv1.att_src", "conv1.bias"])
    assert is_pyg_state_dict(["convs.0.att"])
    assert not is_pyg_state_dict(["weight", "bias", "layers.0.bias"])


def test_indexed_prefixes_are_ordered_numerically_others_keep_file_order():
    assert layer_order(["convs.10.", "convs.2.", "convs.1."]) == ["convs.1.", "convs.2.",
                                                                 "convs.10."]
    assert layer_order(["conv2.", "conv1."]) == ["conv2.", "conv1."]
    assert layer_order(["gat.layers.1.", "head.", "gat.layers.0."]) == [
        "gat.layers.0.", "head.", "gat.layers.1."]


def test_layers_in_a_module_list_saved_out_of_order_run_in_index_order():
    rng = np.random.default_rng(0)
    layers = [conv(rng, 5, 2, 3), conv(rng, 6, 2, 3), conv(rng, 6, 1, 2, concat=False)]
    ordered = model_from_pyg(state_dict(*((f"convs.{k}.", p) for k, p in enumerate(layers))),
                             "f").model
    shuffled = model_from_pyg(state_dict(("convs.2.", layers[2]), ("convs.0.", layers[0]),
                                         ("convs.1.", layers[1])), "f")
    assert shuffled.prefixes == ["convs.0.", "convs.1.", "convs.2."]
    np.testing.assert_array_equal(run(shuffled.model), run(ordered))


def test_a_bare_conv_has_the_empty_prefix():
    loaded = model_from_pyg(conv(np.random.default_rng(0), 5, 2, 3, concat=False), "f")
    assert loaded.prefixes == [""]
    assert loaded.model.specs[0].concat is False and loaded.model.output_dim == 3


def test_keys_of_other_modules_are_refused_by_name():
    arrays = two_layers()
    arrays["classifier.weight"] = np.zeros((2, 3), np.float32)
    with pytest.raises(GatError, match=r"^m.npz: key 'classifier.weight' is not a GATConv"):
        model_from_pyg(arrays, "m.npz")


# ----------------------------------------------------------------- what the shapes decide

def test_architecture_from_the_shapes():
    model = model_from_pyg(two_layers(residual=True), "f").model
    first, last = model.specs
    assert (first.kind, first.in_dim, first.heads, first.out_dim, first.concat) == (
        "gat", 5, 3, 4, True)
    assert (last.in_dim, last.heads, last.out_dim, last.concat, last.residual) == (
        12, 2, 3, True, True)
    assert (first.activation, last.activation) == ("elu", "none")
    assert first.negative_slope == last.negative_slope == 0.2
    assert first.self_loops and last.self_loops


@pytest.mark.parametrize("last", [
    dict(concat=False), dict(concat=True), dict(concat=False, bias=False, residual=True),
    dict(kind="gatv2", concat=False, residual=True), dict(kind="gatv2", bias=False),
])
def test_runs_as_the_independent_dense_reference(last):
    model = model_from_pyg(two_layers(**last), "f").model
    np.testing.assert_allclose(run(model), reference(model), rtol=1e-9, atol=1e-9)


def test_concat_of_a_bias_free_hidden_layer_comes_from_the_next_layers_inputs():
    rng = np.random.default_rng(2)
    mean = state_dict(("a.", conv(rng, 5, 3, 4, bias=False)), ("b.", conv(rng, 4, 1, 2)))
    cat = state_dict(("a.", conv(rng, 5, 3, 4, bias=False)), ("b.", conv(rng, 12, 1, 2)))
    assert model_from_pyg(mean, "f").model.specs[0].concat is False
    assert model_from_pyg(cat, "f").model.specs[0].concat is True


def test_a_last_layer_that_cannot_tell_is_averaged_and_says_so():
    loaded = model_from_pyg(two_layers(bias=False), "m.npz")
    assert loaded.model.specs[1].concat is False
    assert any("'conv2.' has 2 heads but no bias or res.weight" in n and "mean" in n
               for n in loaded.notes)
    told = model_from_pyg(two_layers(bias=False), "m.npz", PygOptions(concat_last=True))
    assert told.model.specs[1].concat is True and told.model.output_dim == 6
    assert not any("cannot tell" in n for n in told.notes)


def test_the_note_names_what_was_assumed_and_only_that():
    notes = model_from_pyg(two_layers(), "m.npz").notes
    assert notes[0].startswith("m.npz: PyG state_dict with layers conv1. (GATConv), conv2. "
                               "(GATConv), in this order")
    assert "ELU between layers, negative slope 0.2, self-loops added" in notes[0]
    stated = PygOptions(activation="relu", negative_slope=0.1, self_loops=False)
    loaded = model_from_pyg(two_layers(), "m.npz", stated)
    assert "assumed" not in loaded.notes[0]
    first, last = loaded.model.specs
    assert (first.activation, last.activation) == ("relu", "none")
    assert first.negative_slope == last.negative_slope == 0.1
    assert not first.self_loops and not last.self_loops


def test_an_option_that_does_not_apply_is_reported_as_ignored():
    single = conv(np.random.default_rng(0), 5, 2, 3)
    notes = model_from_pyg(single, "f", PygOptions(activation="tanh")).notes
    assert any(n.startswith("ignoring --activation") for n in notes)


def test_concat_option_contradicting_the_bias_shape_is_an_error():
    with pytest.raises(GatError, match=r"--concat contradicts the file: 'conv2.bias' \(3,\)"):
        model_from_pyg(two_layers(concat=False), "f", PygOptions(concat_last=True))


# ----------------------------------------------------------------- errors name key and shapes

def test_wrong_bias_shape():
    arrays = two_layers()
    arrays["conv2.bias"] = np.zeros(5, np.float32)
    with pytest.raises(GatError, match=r"^f: key 'conv2.bias' has shape \(5,\), expected "
                                       r"\(6,\) or \(3,\)"):
        model_from_pyg(arrays, "f")


def test_wrong_weight_rows_name_where_heads_and_width_come_from():
    arrays = two_layers()
    arrays["conv1.lin.weight"] = np.zeros((11, 5), np.float32)
    with pytest.raises(GatError, match=r"key 'conv1.lin.weight' has shape \(11, 5\), expected "
                                       r"\(12, in_features\).*'conv1.att_src'"):
        model_from_pyg(arrays, "f")


def test_att_dst_must_match_att_src():
    arrays = two_layers()
    arrays["conv1.att_dst"] = np.zeros((1, 3, 5), np.float32)
    with pytest.raises(GatError, match=r"'conv1.att_dst' has shape \(1, 3, 5\), expected "
                                       r"\(1, 3, 4\)"):
        model_from_pyg(arrays, "f")


def test_missing_key_is_named():
    arrays = two_layers()
    del arrays["conv2.att_dst"]
    with pytest.raises(GatError, match="missing key 'conv2.att_dst'"):
        model_from_pyg(arrays, "f")


def test_layers_that_do_not_chain_name_the_key_and_both_widths():
    rng = np.random.default_rng(0)
    arrays = state_dict(("conv1.", conv(rng, 5, 3, 4)), ("conv2.", conv(rng, 7, 1, 2)))
    with pytest.raises(GatError, match=r"key 'conv2.lin.weight' has 7 input columns but layer "
                                       r"'conv1.' outputs 12 \(3 heads x 4 concatenated, from "
                                       r"'conv1.bias' \(12,\)\)"):
        model_from_pyg(arrays, "f")


def test_bias_and_residual_that_disagree_on_concat():
    arrays = two_layers(residual=True)
    arrays["conv2.res.weight"] = np.zeros((3, 12), np.float32)
    with pytest.raises(GatError, match=r"'conv2.res.weight' \(3, 12\) says heads are averaged "
                                       r"but 'conv2.bias' \(6,\) says the opposite"):
        model_from_pyg(arrays, "f")


def test_edge_features_are_refused():
    arrays = two_layers()
    arrays["conv1.lin_edge.weight"] = np.zeros((12, 2), np.float32)
    with pytest.raises(GatError, match="'conv1.lin_edge.weight': edge features"):
        model_from_pyg(arrays, "f")


def test_a_layer_mixing_gat_and_gatv2_keys_is_refused():
    arrays = two_layers()
    arrays["conv1.att"] = np.zeros((1, 3, 4), np.float32)
    with pytest.raises(GatError, match="'conv1.' mixes GATConv keys"):
        model_from_pyg(arrays, "f")


def test_non_float_and_non_finite_parameters_are_refused():
    arrays = two_layers()
    arrays["conv1.att_src"] = np.ones((1, 3, 4), np.int64)
    with pytest.raises(GatError, match="'conv1.att_src' has dtype int64"):
        model_from_pyg(arrays, "f")
    arrays = two_layers()
    arrays["conv2.bias"][0] = np.nan
    with pytest.raises(GatError, match="'conv2.bias' has non-finite"):
        model_from_pyg(arrays, "f")


# ----------------------------------------------------------------- GATv2 weights and old layouts

def gatv2(seed=0, **kw):
    return state_dict(("convs.0.", conv(np.random.default_rng(seed), 5, 2, 3, kind="gatv2",
                                        **kw)))


def test_gatv2_lin_r_equal_to_lin_l_runs_as_shared_weights():
    loaded = model_from_pyg(gatv2(share=True), "f")
    spec = loaded.model.specs[0]
    assert spec.kind == "gatv2" and spec.share_weights
    assert "lin_r.weight" not in loaded.model.layers[0].params
    assert loaded.shared[0] == ["convs.0.lin_r.weight", "convs.0.lin_r.bias"]
    np.testing.assert_allclose(run(loaded.model), reference(loaded.model), atol=1e-9)


def test_gatv2_without_lin_r_is_shared_and_different_lin_r_is_not():
    arrays = gatv2(share=True)
    del arrays["convs.0.lin_r.weight"], arrays["convs.0.lin_r.bias"]
    assert model_from_pyg(arrays, "f").model.specs[0].share_weights
    assert not model_from_pyg(gatv2(share=False), "f").model.specs[0].share_weights


def test_gatv2_bias_keys_come_together():
    arrays = gatv2()
    del arrays["convs.0.bias"]
    with pytest.raises(GatError, match="missing key 'convs.0.bias' beside 'convs.0.lin_l.bias'"):
        model_from_pyg(arrays, "f")


def test_gatv2_bipartite_lin_r_is_refused_with_shapes():
    arrays = gatv2()
    arrays["convs.0.lin_r.weight"] = np.zeros((6, 4), np.float32)
    with pytest.raises(GatError, match=r"'convs.0.lin_r.weight' has shape \(6, 4\), expected "
                                       r"\(6, 5\).*bipartite"):
        model_from_pyg(arrays, "f")


def old_layout(src_equals_dst: bool) -> dict[str, np.ndarray]:
    arrays = two_layers()
    weight = arrays.pop("conv1.lin.weight")
    arrays["conv1.lin_src.weight"] = weight
    arrays["conv1.lin_dst.weight"] = weight.copy() if src_equals_dst else weight + 1
    return arrays


def test_older_lin_src_lin_dst_files_with_equal_weights_are_a_normal_gatconv():
    new = model_from_pyg(two_layers(), "f").model
    old = model_from_pyg(old_layout(True), "f")
    np.testing.assert_array_equal(run(old.model), run(new))
    assert old.keys[0]["lin.weight"] == "conv1.lin_src.weight (= lin_dst.weight)"


def test_different_source_and_target_weights_are_refused_clearly():
    with pytest.raises(GatError, match="differ: a bipartite GATConv .* is not supported"):
        model_from_pyg(old_layout(False), "f")


# ----------------------------------------------------------------- --config

def write(tmp_path, text: str) -> str:
    path = tmp_path / "model.yaml"
    path.write_text(text)
    return str(path)


def test_config_prefixes_set_the_order(tmp_path):
    rng = np.random.default_rng(0)
    first, second = conv(rng, 5, 3, 4), conv(rng, 12, 2, 3, concat=False)
    reversed_file = state_dict(("decoder.", second), ("encoder.", first))
    with pytest.raises(GatError, match="layers taken in the order 'decoder.', 'encoder.'"):
        model_from_pyg(reversed_file, "f")
    config = write(tmp_path, "layers:\n  - {prefix: encoder}\n  - {prefix: decoder.}\n")
    loaded = model_from_pyg(reversed_file, "f", PygOptions(config=config))
    assert loaded.prefixes == ["encoder.", "decoder."]
    normal = model_from_pyg(state_dict(("encoder.", first), ("decoder.", second)), "f").model
    np.testing.assert_array_equal(run(loaded.model), run(normal))


def test_config_sets_per_layer_what_the_file_cannot_tell(tmp_path):
    config = write(tmp_path, "layers:\n  - {activation: tanh, negative_slope: 0.3}\n"
                             "  - {self_loops: false, concat: true}\n")
    loaded = model_from_pyg(two_layers(bias=False), "f",
                            PygOptions(config=config, negative_slope=0.1))
    first, last = loaded.model.specs
    assert (first.activation, first.negative_slope, first.self_loops) == ("tanh", 0.3, True)
    assert (last.negative_slope, last.self_loops, last.concat) == (0.1, False, True)


@pytest.mark.parametrize("text,message", [
    ("layers:\n  - {prefix: conv1}\n", r"lists 1 layers but f holds 2"),
    ("layers:\n  - {prefix: conv1}\n  - {prefix: nope}\n", r"prefix 'nope.' is not in f"),
    ("layers:\n  - {prefix: conv1}\n  - {}\n", "give 'prefix' for every layer or for none"),
    ("layers:\n  - {heads: 4}\n  - {}\n", r"layers\[0\]: heads: 4, but the weights of layer "
                                          r"'conv1.' say 3"),
    ("layers:\n  - {}\n  - {concat: true}\n", r"layers\[1\]: concat: True, but 'conv2.bias' "
                                              r"\(3,\) says heads are averaged"),
    ("layers:\n  - {dropout: 0.5}\n  - {}\n", "unknown key 'dropout'"),
    ("layers:\n  - {activation: swish}\n  - {}\n", "activation: got 'swish'"),
])
def test_config_errors(tmp_path, text, message):
    with pytest.raises(GatError, match=message):
        model_from_pyg(two_layers(concat=False), "f", PygOptions(config=write(tmp_path, text)))


# ----------------------------------------------------------------- load_weights and resolve_model

def test_load_weights_dispatches_and_collects_notes(tmp_path):
    path = tmp_path / "pyg.npz"
    np.savez(path, **two_layers())
    notes: list[str] = []
    model = load_weights(str(path), notes=notes)
    assert len(model.layers) == 2 and notes[0].startswith(f"{path}: PyG state_dict")
    own = tmp_path / "own.npz"
    save_weights(model, str(own))
    again: list[str] = []
    reloaded = load_weights(str(own), PygOptions(negative_slope=0.5), again)
    assert reloaded.specs == model.specs
    assert again == [f"the architecture stored in {own} is used; ignoring --negative-slope"]


def test_resolve_model_passes_the_options_a_pyg_file_needs(tmp_path):
    path = tmp_path / "pyg.npz"
    np.savez(path, **two_layers(bias=False))
    notes: list[str] = []
    model = resolve_model(5, weights=str(path), notes=notes, self_loops=False,
                          quick=QuickModel(heads=4, activation="relu", negative_slope=0.05,
                                           concat_last=True))
    first, last = model.specs
    assert (first.activation, first.negative_slope, last.concat) == ("relu", 0.05, True)
    assert not first.self_loops
    assert notes[0] == f"the architecture stored in {path} is used; ignoring --heads"
    assert "assumed" not in notes[1]
    with pytest.raises(GatError, match="features have 4 columns.*expects 5"):
        resolve_model(4, weights=str(path))


def test_own_layout_round_trip_of_a_seeded_gatv2_model(tmp_path):
    specs = [LayerSpec(5, 3, 2, True, "elu", kind="gatv2"),
             LayerSpec(6, 2, 2, False, kind="gatv2", share_weights=True, residual=True)]
    model = init_model(specs, seed=7)
    path = tmp_path / "w.npz"
    save_weights(model, str(path))
    assert load_weights(str(path)).specs == specs
    np.testing.assert_allclose(run(load_weights(str(path))), reference(model), atol=1e-9)
