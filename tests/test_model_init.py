"""gatcli.model.init and the quick model of gatcli.model.spec."""

from __future__ import annotations

import numpy as np
import pytest
from reference import param_shapes

from gatcli.model.init import glorot_uniform, init_model
from gatcli.model.spec import LayerSpec, model_spec

SPECS = [
    LayerSpec(in_dim=5, out_dim=3, heads=4, concat=True, activation="elu", residual=True),
    LayerSpec(in_dim=12, out_dim=2, heads=2, concat=False, kind="gatv2"),
    LayerSpec(in_dim=2, out_dim=2, heads=1, bias=False, kind="gatv2", share_weights=True),
]


@pytest.mark.parametrize("spec", SPECS)
def test_parameter_shapes_are_pyg_state_dict_shapes(spec):
    assert spec.parameter_shapes() == param_shapes(vars(spec), spec.in_dim)


def test_every_parameter_has_its_shape_and_float64():
    model = init_model(SPECS, seed=0)
    for layer in model.layers:
        assert set(layer.params) == set(param_shapes(vars(layer.spec), layer.spec.in_dim))
        for name, value in layer.params.items():
            assert value.shape == layer.spec.parameter_shapes()[name]
            assert value.dtype == np.float64


def test_biases_are_zero_and_weights_glorot_bounded():
    model = init_model(SPECS, seed=3)
    for layer in model.layers:
        for name, value in layer.params.items():
            if name == "bias" or name.endswith(".bias"):
                assert (value == 0).all()
            else:
                bound = np.sqrt(6.0 / (value.shape[-2] + value.shape[-1]))
                assert np.abs(value).max() <= bound
                assert np.abs(value).max() > 0
                assert np.unique(value).size == value.size


def test_glorot_uniform_fills_its_range():
    value = glorot_uniform(np.random.default_rng(0), (200, 100))
    bound = np.sqrt(6.0 / 300)
    assert -bound <= value.min() < -0.95 * bound and 0.95 * bound < value.max() <= bound
    assert abs(value.mean()) < 0.01 * bound


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = init_model(SPECS, seed=11), init_model(SPECS, seed=11), init_model(SPECS, seed=12)
    for la, lb, lc in zip(a.layers, b.layers, c.layers):
        for name in la.params:
            np.testing.assert_array_equal(la.params[name], lb.params[name])
            if not name.endswith("bias"):
                assert not np.array_equal(la.params[name], lc.params[name])


def test_weights_come_from_default_rng_in_parameter_order():
    spec = LayerSpec(in_dim=3, out_dim=2, heads=2)
    rng = np.random.default_rng(9)
    expected = {"lin.weight": rng.uniform(-np.sqrt(6 / 7), np.sqrt(6 / 7), (4, 3)),
                "att_src": rng.uniform(-np.sqrt(6 / 4), np.sqrt(6 / 4), (1, 2, 2)),
                "att_dst": rng.uniform(-np.sqrt(6 / 4), np.sqrt(6 / 4), (1, 2, 2))}
    params = init_model([spec], seed=9).layers[0].params
    for name, value in expected.items():
        np.testing.assert_array_equal(params[name], value)


def test_quick_model_defaults_follow_the_gat_paper():
    hidden, last = model_spec(in_dim=10)
    assert (hidden.in_dim, hidden.out_dim, hidden.heads, hidden.concat, hidden.activation) == (
        10, 8, 8, True, "elu")
    assert (last.in_dim, last.out_dim, last.heads, last.concat, last.activation) == (
        64, 8, 1, False, "none")
    assert hidden.negative_slope == last.negative_slope == 0.2
    assert hidden.self_loops and last.bias and hidden.kind == "gat"


def test_quick_model_options_chain_widths():
    specs = model_spec(in_dim=4, layers=3, hidden=5, heads=2, out_dim=3, out_heads=4,
                       concat_last=True, negative_slope=0.1, kind="gatv2", bias=False,
                       self_loops=False)
    assert [s.in_dim for s in specs] == [4, 10, 10]
    assert specs[-1].output_dim == 12
    assert all(s.kind == "gatv2" and not s.bias and not s.self_loops
               and s.negative_slope == 0.1 for s in specs)
    assert len(model_spec(in_dim=4, layers=1)) == 1
