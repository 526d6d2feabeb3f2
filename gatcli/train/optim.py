"""Adam (Kingma & Ba, 2015) with L2 weight decay added to the gradient (as torch.optim.Adam's
``weight_decay``, the setting of the GAT paper's training).

For each parameter w with gradient g at step t::

    g   = g + decay * w
    m   = b1 m + (1 - b1) g;         v = b2 v + (1 - b2) g^2
    w  -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


class Adam:
    """Updates parameter arrays in place: ``params[k][name]`` with ``grads[k][name]``.

    params: one {name: array} per layer (the model's ``layer.params``), updated in place.
    """

    def __init__(self, params: list[dict[str, Array]], *, lr: float = 0.005,
                 weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = params
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.step_count = 0
        self.m = [{k: np.zeros_like(v) for k, v in layer.items()} for layer in params]
        self.v = [{k: np.zeros_like(v) for k, v in layer.items()} for layer in params]

    def step(self, grads: list[dict[str, Array]]) -> None:
        """One update of every parameter from ``grads`` (same structure as ``params``)."""
        self.step_count += 1
        b1, b2 = self.betas
        correction1 = 1 - b1 ** self.step_count
        correction2 = 1 - b2 ** self.step_count
        for layer, layer_grads, ms, vs in zip(self.params, grads, self.m, self.v):
            for name, w in layer.items():
                g = layer_grads[name]
                if self.weight_decay:
                    g = g + self.weight_decay * w
                m, v = ms[name], vs[name]
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * (g * g)
                denom = np.sqrt(v / correction2) + self.eps
                w -= (self.lr / correction1) * m / denom
