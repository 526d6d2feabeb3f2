"""gatcli.model.config: the YAML model file, validated key by key."""

from __future__ import annotations

import re

import pytest

from gatcli.errors import GatError
from gatcli.model.build import QuickModel, resolve_model
from gatcli.model.config import read_config, specs_from_config

FULL = """\
# a two-layer model
layers:
  - out_dim: 4
    heads: 3
    activation: relu
    negative_slope: 0.1
    residual: true
  - {out_dim: 2, heads: 2, concat: true, bias: false, self_loops: false,
     type: gatv2, share_weights: true, activation: sigmoid}
"""


def write(tmp_path, text: str):
    path = tmp_path / "model.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_config_gives_its_layers(tmp_path):
    path = write(tmp_path, FULL)
    first, second = specs_from_config(read_config(path), in_dim=5, source=str(path))
    assert (first.in_dim, first.out_dim, first.heads, first.concat) == (5, 4, 3, True)
    assert (first.activation, first.negative_slope, first.residual) == ("relu", 0.1, True)
    assert first.bias and first.self_loops and first.kind == "gat"
    assert (second.in_dim, second.output_dim, second.concat, second.bias) == (12, 4, True, False)
    assert (second.kind, second.share_weights, second.self_loops) == ("gatv2", True, False)
    assert second.activation == "sigmoid"


def test_defaults_hidden_concat_elu_last_mean_none(tmp_path):
    config = read_config(write(tmp_path, "layers:\n  - {out_dim: 8, heads: 8}\n"
                                         "  - {out_dim: 7}\n"))
    hidden, last = specs_from_config(config, in_dim=3)
    assert (hidden.concat, hidden.activation, hidden.negative_slope) == (True, "elu", 0.2)
    assert (last.in_dim, last.heads, last.concat, last.activation) == (64, 1, False, "none")
    assert last.bias and last.self_loops and not last.residual and last.kind == "gat"


def test_integer_negative_slope_is_accepted_as_a_float(tmp_path):
    (spec,) = specs_from_config(read_config(write(tmp_path, "layers: [{out_dim: 1, "
                                                            "negative_slope: 1}]")), 2)
    assert spec.negative_slope == 1.0 and isinstance(spec.negative_slope, float)


def test_resolve_model_builds_seeded_weights_from_a_config(tmp_path):
    path = str(write(tmp_path, FULL))
    notes: list[str] = []
    model = resolve_model(5, config=path, quick=QuickModel(heads=2), seed=4, notes=notes)
    assert [layer.spec.heads for layer in model.layers] == [3, 2]
    assert any("--heads" in note for note in notes)
    again = resolve_model(5, config=path, seed=4)
    assert (model.layers[0].params["lin.weight"] == again.layers[0].params["lin.weight"]).all()


@pytest.mark.parametrize("entry,key,allowed", [
    ("{out_dim: 0}", "out_dim", "positive integer"),
    ("{out_dim: 2.5}", "out_dim", "positive integer"),
    ("{out_dim: 2, heads: -1}", "heads", "positive integer"),
    ("{out_dim: 2, concat: 'yes please'}", "concat", "true"),
    ("{out_dim: 2, activation: swish}", "activation", "elu"),
    ("{out_dim: 2, negative_slope: steep}", "negative_slope", "number"),
    ("{out_dim: 2, bias: 1}", "bias", "true or false"),
    ("{out_dim: 2, type: gcn}", "type", "gatv2"),
])
def test_a_bad_value_names_the_key_and_the_allowed_values(tmp_path, entry, key, allowed):
    path = write(tmp_path, f"layers:\n  - {entry}\n")
    with pytest.raises(GatError) as info:
        specs_from_config(read_config(path), 3, source=str(path))
    message = str(info.value)
    assert key in message and allowed in message and "layers[0]" in message
    assert str(path) in message


def test_an_unknown_layer_key_is_named_with_the_allowed_keys(tmp_path):
    path = write(tmp_path, "layers:\n  - {out_dim: 2}\n  - {out_dim: 2, dropout: 0.5}\n")
    with pytest.raises(GatError, match=r"layers\[1\].*'dropout'.*out_dim, heads, concat"):
        specs_from_config(read_config(path), 3, source=str(path))


def test_an_unknown_top_level_key_is_named(tmp_path):
    path = write(tmp_path, "layer:\n  - {out_dim: 2}\n")
    with pytest.raises(GatError, match="'layer'.*allowed: layers"):
        specs_from_config(read_config(path), 3)


@pytest.mark.parametrize("text,pattern", [
    ("layers: []\n", "non-empty list"),
    ("layers: {out_dim: 2}\n", "non-empty list"),
    ("layers:\n  - 4\n", "mapping"),
    ("layers:\n  - {heads: 2}\n", "missing key 'out_dim'"),
    ("layers:\n  - {out_dim: 2, share_weights: true}\n", "share_weights.*gatv2"),
])
def test_structural_errors(tmp_path, text, pattern):
    with pytest.raises(GatError, match=pattern):
        specs_from_config(read_config(write(tmp_path, text)), 3)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "layers:\n  - {out_dim: 2\n  - heads: [\n")
    with pytest.raises(GatError, match=re.escape(str(path)) + r":\d+: YAML syntax error"):
        read_config(path)


@pytest.mark.parametrize("text", ["- {out_dim: 2}\n", "just a string\n"])
def test_top_level_must_be_a_mapping(tmp_path, text):
    with pytest.raises(GatError, match="mapping with a 'layers' list"):
        read_config(write(tmp_path, text))


def test_missing_config_file(tmp_path):
    with pytest.raises(GatError, match="no such file"):
        read_config(tmp_path / "absent.yaml")


# -- hostile YAML: aliases, nesting, size (issue 11) -----------------------------------------


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The billion laughs: each level a list of ``width`` aliases of the level below."""
    lines = ["a0: &a0 [" + ", ".join(["x"] * width) + "]"]
    for k in range(1, levels):
        lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * width) + "]")
    lines.append(f"layers: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_without_expanding_it(tmp_path):
    text = _alias_bomb()
    assert len(text) < 600
    with pytest.raises(GatError) as info:
        read_config(write(tmp_path, text))
    message = str(info.value)
    assert re.match(r".*model\.yaml:\d+: the YAML holds more than 10000 values once its "
                    r"aliases are expanded", message)
    assert len(message) < 300 and "x, x" not in message


@pytest.mark.parametrize("levels, width", [(4, 12), (20, 2), (3, 200)])
def test_aliases_within_the_budget_or_not(tmp_path, levels, width):
    expanded = sum(width ** k for k in range(1, levels + 1))
    path = write(tmp_path, _alias_bomb(levels, width))
    if expanded < 10_000:
        assert isinstance(read_config(path)["layers"], list)
    else:
        with pytest.raises(GatError, match="more than 10000 values"):
            read_config(path)


def test_ordinary_anchors_and_merge_keys_still_work(tmp_path):
    text = ("layers:\n  - &hidden {out_dim: 4, heads: 2, activation: relu}\n"
            "  - {<<: *hidden, out_dim: 3, concat: false}\n")
    specs = specs_from_config(read_config(write(tmp_path, text)), in_dim=5)
    assert (specs[1].heads, specs[1].out_dim, specs[1].activation) == (2, 3, "relu")


@pytest.mark.parametrize("text", [
    "layers: " + "[" * 5000 + "]" * 5000,
    "layers: " + "{a: " * 3000 + "1" + "}" * 3000,
    "layers:\n" + "".join("  " * k + "- \n" for k in range(1, 400)),
])
def test_deep_nesting_is_a_clear_error_not_a_recursion_error(tmp_path, text):
    with pytest.raises(GatError, match=r"model\.yaml:\d+: YAML nested more than 32 levels"):
        read_config(write(tmp_path, text))


def test_recursive_alias_and_oversized_file(tmp_path):
    with pytest.raises(GatError, match="alias refers to the collection it is part of"):
        read_config(write(tmp_path, "layers: &r [*r]\n"))
    with pytest.raises(GatError, match=r"too large for a YAML model file"):
        read_config(write(tmp_path, "# padding\n" * 200_000 + "layers: []\n"))


def test_long_values_are_cut_in_messages(tmp_path):
    text = "layers:\n  - {out_dim: 2, activation: " + "g" * 100_000 + "}\n"
    with pytest.raises(GatError) as info:
        specs_from_config(read_config(write(tmp_path, text)), 3, "m.yaml")
    assert len(str(info.value)) < 250 and "..." in str(info.value)


@pytest.mark.parametrize("entry, origin", [
    ("{out_dim: 100000000000000000000, heads: 4}", "layers[0]"),
    ("{out_dim: 4, heads: 100000000000000000000}", "layers[0]"),
])
def test_absurd_sizes_in_yaml_are_refused_before_allocation(tmp_path, entry, origin):
    path = write(tmp_path, f"layers:\n  - {entry}\n")
    with pytest.raises(GatError, match=rf"the model is too large: layer 0 .*\(.*model\.yaml: "
                                       rf"{re.escape(origin)}\).* of memory available"):
        resolve_model(3, config=str(path))


def test_negative_slope_nan_and_inf_refused_by_yaml(tmp_path):
    for value in (".nan", ".inf", "-.inf"):
        path = write(tmp_path, f"layers:\n  - {{out_dim: 2, negative_slope: {value}}}\n")
        with pytest.raises(GatError, match=r"negative_slope: got .*expected a finite number"):
            specs_from_config(read_config(path), 3)
