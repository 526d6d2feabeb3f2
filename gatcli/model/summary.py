"""What a model holds, as plain data: the architecture of every layer and every parameter's
shape, dtype and key in its file. ``gat weights show`` prints it as tables or as JSON."""

from __future__ import annotations

from typing import Any

import numpy as np

from gatcli.model.spec import Model

#: LayerSpec.kind -> the PyTorch Geometric layer class it matches
LAYER_CLASSES = {"gat": "GATConv", "gatv2": "GATv2Conv"}


def model_summary(model: Model, *, prefixes: list[str] | None = None,
                  keys: list[dict[str, str]] | None = None,
                  shared: list[list[str]] | None = None) -> dict[str, Any]:
    """``{"layers": [...], "parameters": [...], "total_parameters": n, "in_dim", "output_dim"}``.

    Layers are numbered from 0. ``prefixes``/``keys``/``shared`` come from a PyG file
    (:class:`gatcli.model.pyg.PygModel`): the module prefix of each layer, each parameter's
    key in the file, and the GATv2 ``lin_r`` keys stored as a copy of ``lin_l``; without
    them, keys are those of gat's own layout (``layers.{k}.{name}``).
    """
    layers = []
    parameters = []
    total = 0
    for k, layer in enumerate(model.layers):
        spec = layer.spec
        layers.append({
            "layer": k, "prefix": None if prefixes is None else prefixes[k],
            "type": LAYER_CLASSES[spec.kind], "shared_weights": spec.kind == "gatv2"
            and spec.share_weights, "in_dim": spec.in_dim, "heads": spec.heads,
            "out_dim": spec.out_dim, "concat": spec.concat, "output_dim": spec.output_dim,
            "bias": spec.bias, "residual": spec.residual, "activation": spec.activation,
            "negative_slope": spec.negative_slope, "self_loops": spec.self_loops,
        })
        for name in spec.parameter_shapes():
            value = np.asarray(layer.params[name])
            total += value.size
            parameters.append({
                "layer": k, "name": name, "shape": list(value.shape), "dtype": str(value.dtype),
                "key": keys[k][name] if keys is not None else f"layers.{k}.{name}",
                "shared_with": None})
        for key in (shared[k] if shared else []):
            name = key[key.rindex("lin_r."):]
            twin = np.asarray(layer.params[name.replace("lin_r", "lin_l")])
            parameters.append({
                "layer": k, "name": name, "shape": list(twin.shape), "dtype": str(twin.dtype),
                "key": key, "shared_with": name.replace("lin_r", "lin_l")})
    return {"in_dim": model.in_dim, "output_dim": model.output_dim, "layers": layers,
            "parameters": parameters, "total_parameters": total}
