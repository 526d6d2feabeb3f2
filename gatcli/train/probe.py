"""A linear probe: multinomial logistic regression on fixed embeddings (numpy + L-BFGS from
scipy.optimize), to measure how much class information embeddings carry.

Minimises, over W: (C, D) and b: (C,) with z standardised by the training rows' mean and sd::

    1/n sum_i -log softmax(W z_i + b)[y_i]  +  l2 / 2 * |W|^2
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

Array = np.ndarray


def _log_softmax(logits: Array) -> Array:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def linear_probe(z: Array, y: Array, train: Array, test: Array, *, l2: float = 1e-3,
                 max_iter: int = 500) -> float:
    """Accuracy on the ``test`` rows of a logistic regression fit on the ``train`` rows.

    z: (N, D) embeddings; y: (N,) class indices 0..C-1 (only train/test rows are read);
    train, test: (N,) bool masks.
    """
    z = np.asarray(z, dtype=np.float64)
    classes = int(y[train | test].max()) + 1
    mean, sd = z[train].mean(axis=0), z[train].std(axis=0)
    sd[sd == 0] = 1
    zs = (z - mean) / sd
    xt, yt = zs[train], y[train]
    n, d = xt.shape
    onehot = np.zeros((n, classes))  # (training rows, C): bounded by the labels, not N x N
    onehot[np.arange(n), yt] = 1

    def objective(theta: Array) -> tuple[float, Array]:
        w, b = theta[: classes * d].reshape(classes, d), theta[classes * d:]
        logp = _log_softmax(xt @ w.T + b)
        loss = -np.sum(onehot * logp) / n + 0.5 * l2 * np.sum(w * w)
        delta = (np.exp(logp) - onehot) / n             # (n, C)
        grad_w = delta.T @ xt + l2 * w
        return loss, np.concatenate([grad_w.ravel(), delta.sum(axis=0)])

    result = minimize(objective, np.zeros(classes * (d + 1)), jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iter})
    w, b = result.x[: classes * d].reshape(classes, d), result.x[classes * d:]
    predicted = (zs[test] @ w.T + b).argmax(axis=1)
    return float(np.mean(predicted == y[test]))
