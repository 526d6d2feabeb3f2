"""Predictions of a trained classifier: the class of every node."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from gatcli.forward import forward
from gatcli.model.spec import Model


def predict_classes(model: Model, x: np.ndarray | sp.sparray, sources: np.ndarray,
                    targets: np.ndarray, *, undirected: bool = False,
                    dtype: np.dtype | type = np.float32) -> list[str]:
    """(N,) class names: ``model.classes[k]`` for the largest output column k of each node.

    model: a classifier with class names (``gat train``); x: (N, F_in) features; edges
    ``sources[k] -> targets[k]`` as for :func:`gatcli.forward.forward`.
    """
    if model.classes is None:
        raise ValueError("the model has no class names (not a trained classifier)")
    out = forward(model, x, sources, targets, undirected=undirected, dtype=dtype).embeddings
    return [model.classes[k] for k in out.argmax(axis=1)]
