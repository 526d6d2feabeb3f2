"""Training a GAT / GATv2 model with numpy and scipy.sparse: exact gradients, Adam, objectives.

- :mod:`gatcli.train.tape`: one forward pass that keeps what the backward needs (through
  the layer's step recorder: the one forward implementation), with dropout.
- :mod:`gatcli.train.backward`: the hand-written gradient of a layer and of a model.
- :mod:`gatcli.train.optim`: Adam with L2 weight decay.
- :mod:`gatcli.train.objectives`: node classification (cross-entropy) and link prediction.
- :mod:`gatcli.train.loop`: epochs, evaluation, early stopping, the best weights.
"""
