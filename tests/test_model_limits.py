"""gatcli.model.limits: sizes refused before allocation, saying what and where from."""

from __future__ import annotations

import pytest

from gatcli.errors import GatError
from gatcli.model import limits
from gatcli.model.build import QuickModel, resolve_model
from gatcli.model.limits import check_model_size, human_bytes, layer_parameters
from gatcli.model.spec import LayerSpec


def test_parameter_count_is_exact_for_huge_sizes():
    spec = LayerSpec(in_dim=3, out_dim=10**20, heads=8, concat=True)
    # lin.weight + att_src + att_dst + bias
    assert layer_parameters(spec) == 8 * 10**20 * 3 + 2 * 8 * 10**20 + 8 * 10**20


@pytest.mark.parametrize("quick, origin", [
    (QuickModel(hidden=10**20), r"--heads 8 x --hidden 100000000000000000000"),
    (QuickModel(heads=10**20), r"--heads 100000000000000000000 x --hidden 8"),
    (QuickModel(out_dim=10**12), r"--out-heads 1 x --out-dim 1000000000000"),
    (QuickModel(layers=1, out_heads=10**9, out_dim=10**3),
     r"--out-heads 1000000000 x --out-dim 1000"),
])
def test_quick_options_too_large_name_the_options(quick, origin):
    with pytest.raises(GatError, match=rf"the model is too large: layer \d .*\({origin}\)"):
        resolve_model(3, quick=quick)


def test_activations_count_with_the_nodes(monkeypatch):
    monkeypatch.setattr(limits, "available_memory", lambda: 10**9)
    resolve_model(3, quick=QuickModel(hidden=1000, heads=8), n_nodes=10)  # fits
    with pytest.raises(GatError, match=r"with the activations of 100000 nodes, more than the "
                                       r"1 GB of memory available"):
        resolve_model(3, quick=QuickModel(hidden=1000, heads=8), n_nodes=100_000)


def test_too_many_layers_is_refused_before_building_them():
    with pytest.raises(GatError, match=r"--layers 100000000000000000000: .* too many"):
        resolve_model(3, quick=QuickModel(layers=10**20))


def test_check_model_size_passes_a_small_model():
    check_model_size([LayerSpec(3, 8, 8)], lambda k: "x", n_nodes=1000)


def test_human_bytes():
    assert human_bytes(1.5e9) == "1.5 GB"
    assert human_bytes(2.5e12) == "2.5 TB"
    assert human_bytes(999) == "999 bytes"
    assert human_bytes(3.4e21) == "3.4e+21 bytes"
