"""Seeded weight initialisation, as PyTorch Geometric initialises GATConv / GATv2Conv."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gatcli.model.spec import Layer, LayerSpec, Model


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """U(-b, b) with b = sqrt(6 / (shape[-2] + shape[-1])): PyG's ``glorot`` (float64)."""
    bound = np.sqrt(6.0 / (shape[-2] + shape[-1]))
    return rng.uniform(-bound, bound, size=shape)


def init_model(specs: Sequence[LayerSpec], seed: int = 0) -> Model:
    """Parameters for ``specs`` drawn from ``numpy.random.default_rng(seed)``.

    Weight matrices and attention vectors are Glorot-uniform, biases zero (as in PyG).
    Parameters are drawn layer by layer in ``parameter_shapes()`` order, so the same
    seed and architecture always give the same weights.
    """
    rng = np.random.default_rng(seed)
    layers = []
    for spec in specs:
        params = {}
        for name, shape in spec.parameter_shapes().items():
            if name == "bias" or name.endswith(".bias"):
                params[name] = np.zeros(shape)
            else:
                params[name] = glorot_uniform(rng, shape)
        layers.append(Layer(spec, params))
    return Model(layers)
