"""Gradients against torch autograd through PyG's GATConv / GATv2Conv: the same weights, the
same graph, no dropout, float64; every parameter and the input (parity extra; skipped
without torch_geometric). The PyG-export round trip of ``gat train --pyg-export`` too."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch_geometric")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch_geometric.nn import GATConv, GATv2Conv  # noqa: E402

from gatcli.forward import layer_graphs  # noqa: E402
from gatcli.model.spec import Layer, LayerSpec, Model  # noqa: E402
from gatcli.train.backward import EdgeSums, model_backward  # noqa: E402
from gatcli.train.export import pyg_state_dict  # noqa: E402
from gatcli.train.tape import forward_tape  # noqa: E402

ACTIVATIONS = {"none": lambda t: t, "elu": F.elu, "relu": F.relu, "tanh": torch.tanh,
               "sigmoid": torch.sigmoid, "leaky_relu": F.leaky_relu}

CASES = {
    "gat": {},
    "gat-mean": {"concat": False, "heads": 3},
    "gat-residual-slope": {"residual": True, "negative_slope": 0.1, "activation": "tanh"},
    "gat-no-bias-no-loops": {"bias": False, "self_loops": False},
    "gatv2": {"kind": "gatv2"},
    "gatv2-shared-mean": {"kind": "gatv2", "share_weights": True, "concat": False},
    "gatv2-residual-no-bias": {"kind": "gatv2", "residual": True, "bias": False,
                               "activation": "sigmoid"},
    "gatv2-no-loops": {"kind": "gatv2", "self_loops": False, "activation": "relu"},
}


def pyg_conv(spec: LayerSpec):
    cls = GATConv if spec.kind == "gat" else GATv2Conv
    extra = {"share_weights": spec.share_weights} if spec.kind == "gatv2" else {}
    return cls(spec.in_dim, spec.out_dim, heads=spec.heads, concat=spec.concat,
               negative_slope=spec.negative_slope, add_self_loops=spec.self_loops,
               bias=spec.bias, residual=spec.residual, **extra).double()


@pytest.mark.parametrize("options", CASES.values(), ids=CASES.keys())
def test_gradients_equal_torch_autograd_through_pyg(options):
    rng = np.random.default_rng(0)
    n, f_in = 11, 5
    fields = {"in_dim": f_in, "out_dim": 3, "heads": 2, "activation": "elu", **options}
    spec = LayerSpec(**fields)
    conv = pyg_conv(spec)
    with torch.no_grad():
        for p in conv.parameters():
            p.copy_(torch.randn_like(p) * 0.7)
    params = {k: v.detach().numpy().copy() for k, v in conv.state_dict().items()}
    if spec.share_weights:
        params = {k: v for k, v in params.items() if not k.startswith("lin_r.")}
    model = Model([Layer(spec, params)])
    edges = rng.integers(0, n - 1, size=(2, 30))  # node n-1 has no edge at all
    edges = np.concatenate([edges, [[3, 4], [3, 4]]], axis=1)  # a self-loop, a duplicate
    x = rng.normal(size=(n, f_in))
    weights = rng.normal(size=(n, spec.output_dim))

    xt = torch.tensor(x, requires_grad=True)
    out = ACTIVATIONS[spec.activation](conv(xt, torch.tensor(edges)))
    (out * torch.tensor(weights)).sum().backward()

    graphs = layer_graphs(model, edges[0], edges[1], n)
    ours, tapes = forward_tape(model, x, graphs, dtype=np.float64)
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-10, atol=1e-12)
    grads, dx = model_backward(model, tapes, [EdgeSums.of(g) for g in graphs], weights,
                               input_grad=True)
    for name, p in conv.named_parameters():
        if spec.share_weights and name.startswith("lin_r."):
            continue
        np.testing.assert_allclose(grads[0][name], p.grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=name)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_pyg_export_loads_into_a_module_list_of_convs():
    spec0 = LayerSpec(4, 3, 2, True, "elu")
    spec1 = LayerSpec(6, 2, 1, False, "none", kind="gatv2")
    rng = np.random.default_rng(1)
    model = Model([Layer(s, {k: rng.normal(size=shape) for k, shape in
                             s.parameter_shapes().items()}) for s in (spec0, spec1)])
    convs = torch.nn.ModuleList([pyg_conv(spec0), pyg_conv(spec1)])
    state = {k: torch.tensor(v) for k, v in pyg_state_dict(model).items()}
    holder = torch.nn.Module()
    holder.convs = convs
    holder.load_state_dict(state)  # strict: every key present, none extra
    for k, layer in enumerate(model.layers):
        for name, value in layer.params.items():
            np.testing.assert_array_equal(convs[k].state_dict()[name].numpy(), value)
