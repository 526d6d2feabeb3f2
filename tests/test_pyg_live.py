"""Live parity with PyTorch Geometric: random GATConv / GATv2Conv models, exported with the
one-liner users run, must give the same outputs and attention in gatcli.

Runs only where torch_geometric is installed (``pip install -e '.[parity]'``); the committed
fixtures in tests/fixtures/pyg cover the same ground without torch.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch_geometric")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch_geometric.nn import GATConv, GATv2Conv  # noqa: E402

from gatcli.forward import forward  # noqa: E402
from gatcli.model.pyg import PygOptions  # noqa: E402
from gatcli.model.weights import load_weights  # noqa: E402

ACTIVATIONS = {"elu": F.elu, "relu": F.relu, "tanh": torch.tanh}

#: (layers as (type, heads, out_channels, keyword arguments), activation between layers)
MODELS = {
    "gat_concat_then_mean": ([("gat", 4, 3, {}), ("gat", 2, 5, {"concat": False})], "elu"),
    "gat_residual_slope": ([("gat", 2, 4, {"residual": True, "negative_slope": 0.15}),
                            ("gat", 3, 2, {"residual": True, "concat": False,
                                           "negative_slope": 0.15})], "relu"),
    "gat_no_bias_concat_last": ([("gat", 2, 3, {"bias": False}),
                                 ("gat", 2, 2, {"bias": False})], "elu"),
    "gat_no_self_loops": ([("gat", 2, 3, {"add_self_loops": False}),
                           ("gat", 1, 4, {"add_self_loops": False, "concat": False})], "tanh"),
    "gatv2_shared": ([("gatv2", 3, 3, {"share_weights": True}),
                      ("gatv2", 2, 2, {"share_weights": True, "concat": False})], "elu"),
    "gatv2_unshared_residual": ([("gatv2", 2, 4, {"residual": True}),
                                 ("gatv2", 1, 3, {"bias": False, "residual": True,
                                                  "concat": False})], "elu"),
    "mixed_three_layers": ([("gat", 2, 3, {}), ("gatv2", 2, 3, {}),
                            ("gat", 3, 2, {"concat": False})], "elu"),
}


class Net(torch.nn.Module):
    def __init__(self, f_in: int, layers: list, activation: str) -> None:
        super().__init__()
        convs, width = [], f_in
        for kind, heads, out, kwargs in layers:
            cls = GATConv if kind == "gat" else GATv2Conv
            convs.append(cls(width, out, heads=heads, **kwargs))
            width = heads * out if kwargs.get("concat", True) else out
        self.convs = torch.nn.ModuleList(convs)
        self.activation = ACTIVATIONS[activation]

    def forward(self, x, edge_index):
        attention = []
        for k, conv in enumerate(self.convs):
            x, (ei, alpha) = conv(x, edge_index, return_attention_weights=True)
            attention.append((ei.numpy(), alpha.detach().numpy()))
            if k < len(self.convs) - 1:
                x = self.activation(x)
        return x.detach().numpy(), attention


def random_graph(rng: np.random.Generator, n: int) -> np.ndarray:
    """(2, E) edge_index with duplicates, a self-loop and (usually) an isolated node."""
    edges = rng.integers(0, n - 1, size=(2, 3 * n))
    extra = np.array([[edges[0, 0], 2], [edges[1, 0], 2]])  # a duplicate and a self-loop
    return np.concatenate([edges, extra], axis=1)


def sorted_rows(sources, targets, alpha):
    alpha = np.asarray(alpha).reshape(len(sources), -1)
    order = np.lexsort((alpha[:, 0], sources, targets))
    return np.stack([targets, sources], axis=1)[order], alpha[order]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_random_pyg_model_exported_with_the_one_liner(name, seed, tmp_path):
    layers, activation = MODELS[name]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n, f_in = 12, 6
    model = Net(f_in, layers, activation).eval()
    with torch.no_grad():  # PyG starts biases at zero: make every parameter matter
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    x = rng.normal(size=(n, f_in)).astype(np.float32)
    edge_index = random_graph(rng, n)
    with torch.no_grad():
        want, attention = model(torch.from_numpy(x), torch.from_numpy(edge_index))

    path = tmp_path / "model.npz"
    np.savez(path, **{k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})

    first = layers[0][3]
    options = PygOptions(activation=activation,
                         negative_slope=first.get("negative_slope"),
                         self_loops=first.get("add_self_loops"),
                         concat_last=layers[-1][3].get("concat", True))
    ours = load_weights(str(path), options)
    result = forward(ours, x, edge_index[0], edge_index[1], dtype=np.float32,
                     keep_attention=True)
    np.testing.assert_allclose(result.embeddings, want, rtol=0, atol=1e-5)
    for graph, alpha, (ei, pyg_alpha) in zip(result.graphs, result.attention, attention):
        pairs, got = sorted_rows(graph.sources, graph.targets(), alpha)
        want_pairs, want_alpha = sorted_rows(ei[0], ei[1], pyg_alpha)
        np.testing.assert_array_equal(pairs, want_pairs)
        np.testing.assert_allclose(got, want_alpha, rtol=0, atol=1e-5)
