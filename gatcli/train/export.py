"""A trained model as a PyTorch Geometric ``state_dict`` (numpy arrays in an ``.npz``).

Keys are ``convs.<k>.<name>`` with the PyG parameter names and shapes of
:mod:`gatcli.model.spec`, so a ``torch.nn.ModuleList`` of ``GATConv``/``GATv2Conv`` named
``convs`` (built with the same arguments) loads it::

    state = {k: torch.from_numpy(v) for k, v in np.load("model-pyg.npz").items()}
    model.load_state_dict(state)

``gat embed --weights`` reads such a file too (see :mod:`gatcli.model.pyg`).
"""

from __future__ import annotations

import numpy as np

from gatcli.io.atomic import atomic_writer
from gatcli.model.spec import Model


def pyg_state_dict(model: Model) -> dict[str, np.ndarray]:
    """{"convs.<k>.<name>": array} for every parameter of every layer, in layer order."""
    return {f"convs.{k}.{name}": np.asarray(value)
            for k, layer in enumerate(model.layers) for name, value in layer.params.items()}


def save_pyg_state_dict(model: Model, path: str) -> None:
    """Write :func:`pyg_state_dict` to ``path`` (.npz), atomically."""
    with atomic_writer(path) as out:
        np.savez(out, **pyg_state_dict(model))
