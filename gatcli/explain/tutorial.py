"""The worked example of the project's tutorial (gat-tutorial.txt, section 例子), built in code.

The notebook draws, after ``np.random.seed(0)``, ``X = uniform(-1, 1, (4, 4))``, then
``W = uniform(-1, 1, (2, 4))`` and ``W_att = uniform(-1, 1, (1, 4))`` from the same stream; its
adjacency ``A`` (self-loops included) has row i = the nodes i attends to, so ``A[i, j] = 1`` is
the edge j -> i. The score of that edge is ``W_att . [Wh_i || Wh_j]``: the first half of
``W_att`` multiplies the target ``Wh_i`` (``att_dst``), the second half the source (``att_src``).

The notebook's printed arrays are copied here verbatim. Its ``concat``, ``a`` and ``e`` are
right; its ``W_alpha`` (softmax over whole rows, non-edges included) and ``H``
(``A.T @ W_alpha @ X @ W.T``) are not GAT's, and ``gat explain`` shows them next to the
correct values.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from gatcli.graph import edges_from_adjacency
from gatcli.model.spec import Layer, LayerSpec, Model

#: The tutorial's adjacency with self-loops: row i = the nodes node i attends to.
ADJACENCY = np.array([[1, 1, 1, 1],
                      [1, 1, 0, 0],
                      [1, 0, 1, 1],
                      [1, 0, 1, 1]])

#: Out[8]: [Wh_i || Wh_j] for the edges (i, j) in ``np.where(A > 0)`` order.
PRINTED_CONCAT = np.array([
    [0.37339233, 0.38548525, 0.37339233, 0.38548525],
    [0.37339233, 0.38548525, 0.85102612, 0.47765279],
    [0.37339233, 0.38548525, -0.67755906, 0.73566587],
    [0.37339233, 0.38548525, -0.65268413, 0.24235977],
    [0.85102612, 0.47765279, 0.37339233, 0.38548525],
    [0.85102612, 0.47765279, 0.85102612, 0.47765279],
    [-0.67755906, 0.73566587, 0.37339233, 0.38548525],
    [-0.67755906, 0.73566587, -0.67755906, 0.73566587],
    [-0.67755906, 0.73566587, -0.65268413, 0.24235977],
    [-0.65268413, 0.24235977, 0.37339233, 0.38548525],
    [-0.65268413, 0.24235977, -0.67755906, 0.73566587],
    [-0.65268413, 0.24235977, -0.65268413, 0.24235977],
])

#: Out[10]: the raw scores a = W_att . [Wh_i || Wh_j], same edge order.
PRINTED_SCORES = np.array([
    -0.1007035, -0.35942847, 0.96036209, 0.50390318, -0.43956122, -0.69828618,
    0.79964181, 1.8607074, 1.40424849, 0.64260322, 1.70366881, 1.2472099,
])

#: Out[12]: e = leaky_relu(a, 0.2), same edge order.
PRINTED_LEAKY_RELU = np.array([
    -0.0201407, -0.07188569, 0.96036209, 0.50390318, -0.08791224, -0.13965724,
    0.79964181, 1.8607074, 1.40424849, 0.64260322, 1.70366881, 1.2472099,
])

#: Out[16]: the notebook's W_alpha = softmax2D(E, 1), a softmax over whole rows of E (wrong).
PRINTED_W_ALPHA = np.array([
    [0.15862414, 0.15062488, 0.42285965, 0.26789133],
    [0.24193418, 0.22973368, 0.26416607, 0.26416607],
    [0.16208847, 0.07285714, 0.46834625, 0.29670814],
    [0.16010498, 0.08420266, 0.46261506, 0.2930773],
])

#: Out[17]: the notebook's H = A.T @ W_alpha @ X @ W.T (wrong).
PRINTED_H = np.array([
    [-1.10126376, 1.99749693],
    [-0.33950544, 0.97045933],
    [-1.03570438, 1.53614075],
    [-1.03570438, 1.53614075],
])


def printed_edges() -> tuple[np.ndarray, np.ndarray]:
    """(i, j) of the notebook's ``connections = np.where(A > 0)``: target i, source j."""
    return np.nonzero(ADJACENCY > 0)


def tutorial_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X: (4, 4), W: (2, 4), W_att: (1, 4) exactly as the notebook draws them (float64)."""
    rng = np.random.RandomState(0)  # the legacy stream that np.random.seed(0) drives
    x = rng.uniform(-1, 1, (4, 4))
    w = rng.uniform(-1, 1, (2, 4))
    w_att = rng.uniform(-1, 1, (1, 4))
    return x, w, w_att


def tutorial_features() -> np.ndarray:
    """The notebook's X: (4, 4)."""
    return tutorial_arrays()[0]


def tutorial_edges() -> tuple[np.ndarray, np.ndarray]:
    """(sources, targets) of the edges of ``ADJACENCY`` (self-loops included; the layer's
    self-loop policy keeps exactly one per node)."""
    return edges_from_adjacency(sp.csr_array(ADJACENCY))


def tutorial_model() -> Model:
    """One GAT layer, 1 head of 2 features, no bias, no activation, slope 0.2:
    ``lin.weight = W``, ``att_dst = W_att[:, :2]``, ``att_src = W_att[:, 2:]``."""
    _, w, w_att = tutorial_arrays()
    spec = LayerSpec(in_dim=4, out_dim=2, heads=1, concat=True, activation="none",
                     negative_slope=0.2, bias=False, self_loops=True, kind="gat")
    params = {"lin.weight": w,
              "att_dst": w_att[:, :2].reshape(1, 1, 2),
              "att_src": w_att[:, 2:].reshape(1, 1, 2)}
    return Model([Layer(spec, params)])
