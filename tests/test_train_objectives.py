"""gatcli.train.objectives and gatcli.train.optim: losses and gradients, splits, metrics,
Adam."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from train_data import numeric_gradient

from gatcli.errors import GatError
from gatcli.io.labels import Labels
from gatcli.train.objectives import (
    average_precision,
    class_order,
    cross_entropy,
    link_loss,
    link_split,
    node_task,
    roc_auc,
    sample_non_edges,
)
from gatcli.train.optim import Adam


def labels(values, split=None, nodes=None):
    values = np.array(values, dtype=str)
    nodes = np.arange(values.shape[0]) if nodes is None else np.asarray(nodes)
    return Labels(nodes, values, None if split is None else np.array(split, dtype=str),
                  np.arange(values.shape[0]) + 2, "labels.csv")


def test_class_order_is_numeric_for_integers_else_text():
    assert class_order(np.array(["10", "2", "1", "2"])) == ["1", "2", "10"]
    assert class_order(np.array(["b", "a", "B", "10"])) == ["10", "B", "a", "b"]
    assert class_order(np.array(["-1", "3"])) == ["-1", "3"]


def test_node_task_from_a_split_column_ignores_other_rows():
    task = node_task(labels(["b", "a", "c", "a", "x"], ["train", "val", "test", "none", "none"],
                            nodes=[4, 0, 2, 1, 3]), 6)
    assert task.classes == ["a", "b", "c"]  # 'x' only on an ignored row: not a class
    np.testing.assert_array_equal(task.y, [0, -1, 2, -1, 1, -1])  # node 1: split none
    assert task.train.tolist() == [False, False, False, False, True, False]
    assert task.val.tolist() == [True, False, False, False, False, False]
    assert task.test.tolist() == [False, False, True, False, False, False]


def test_node_task_without_split_draws_per_class_training_nodes():
    values = ["a"] * 50 + ["b"] * 30 + ["c"] * 6
    task = node_task(labels(values), 100, train_per_class=20, val_fraction=1 / 3, seed=1)
    counts = [int(np.sum(task.train & (task.y == k))) for k in range(3)]
    assert counts == [20, 15, 3]  # at most half a class
    assert not (task.train & task.val).any() and not (task.val & task.test).any()
    rest = 86 - 38
    assert int(task.val.sum()) == round(rest / 3) and int(task.test.sum()) == rest - 16
    again = node_task(labels(values), 100, seed=1)
    np.testing.assert_array_equal(task.train, again.train)


@pytest.mark.parametrize("values, split, message", [
    (["a", "a", "a"], ["train", "val", "test"], r"only one class \('a'\)"),
    (["a", "b", "c"], ["val", "test", "test"], r"no training nodes"),
    (["a", "b"], ["none", "unknown"], r"no row has split train, val or test"),
])
def test_bad_tasks_are_one_clear_error(values, split, message):
    with pytest.raises(GatError, match=message) as info:
        node_task(labels(values, split), 5)
    assert info.value.where == "labels.csv"


def test_cross_entropy_value_and_gradient():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (6, 4))
    y = np.array([0, 3, 1, -1, 2, 2])
    mask = np.array([True, True, False, False, True, True])
    loss, grad = cross_entropy(logits, y, mask)
    rows = np.flatnonzero(mask)
    p = np.exp(logits[rows]) / np.exp(logits[rows]).sum(1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(4), y[rows]])), rel=1e-12)
    np.testing.assert_allclose(grad, numeric_gradient(
        lambda: cross_entropy(logits, y, mask)[0], logits), rtol=1e-6, atol=1e-9)
    assert np.all(grad[~mask] == 0)


def test_link_loss_value_and_gradient():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 1, (7, 3))
    pos = np.array([[0, 1], [2, 3], [1, 4], [5, 5]])
    neg = np.array([[0, 6], [3, 4], [2, 5]])
    loss, grad = link_loss(z, pos, neg)
    sig = lambda s: 1 / (1 + np.exp(-s))  # noqa: E731
    s_pos = np.array([z[i] @ z[j] for i, j in pos])
    s_neg = np.array([z[i] @ z[j] for i, j in neg])
    expected = -np.mean(np.log(sig(s_pos))) - np.mean(np.log(1 - sig(s_neg)))
    assert loss == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad, numeric_gradient(lambda: link_loss(z, pos, neg)[0], z),
                               rtol=1e-6, atol=1e-9)


def test_roc_auc_and_average_precision_against_their_definitions():
    rng = np.random.default_rng(2)
    pos = np.round(rng.normal(1, 1, 30), 1)  # rounded: ties between the groups
    neg = np.round(rng.normal(0, 1, 40), 1)
    pairs = [(1.0 if p > q else 0.5 if p == q else 0.0) for p, q in itertools.product(pos, neg)]
    assert roc_auc(pos, neg) == pytest.approx(np.mean(pairs), rel=1e-12)
    assert roc_auc(np.array([3.0, 2.0]), np.array([1.0])) == 1.0
    # AP: positives ranked 1st and 3rd -> (1/1 + 2/3) / 2
    assert average_precision(np.array([5.0, 3.0]), np.array([4.0, 1.0])) == pytest.approx(5 / 6)


def test_link_split_holds_out_pairs_and_samples_true_non_edges():
    rng = np.random.default_rng(3)
    n = 60
    a, b = rng.integers(0, n, 300), rng.integers(0, n, 300)
    sources, targets = np.concatenate([a, b]), np.concatenate([b, a])  # both directions
    split = link_split(sources, targets, n, val_fraction=0.1, test_fraction=0.2, seed=0)
    key = lambda p: set(map(tuple, np.sort(p, axis=1).tolist()))  # noqa: E731
    all_pairs = key(np.stack([sources, targets], 1)[sources != targets])
    train, val, test = key(split.train_pairs), key(split.val_pos), key(split.test_pos)
    assert train | val | test == all_pairs
    assert not (train & val) and not (train & test) and not (val & test)
    assert len(val) == round(0.1 * len(all_pairs)) and len(test) == round(0.2 * len(all_pairs))
    negatives = key(split.val_neg) | key(split.test_neg)
    assert not negatives & all_pairs and len(negatives) == len(val) + len(test)
    # the encoder's graph: every input edge of a training pair, no held-out edge
    kept = key(np.stack([split.train_sources, split.train_targets], 1)[
        split.train_sources != split.train_targets])
    assert kept == train
    assert sample_non_edges(rng, n, 5, np.array([], dtype=np.int64)).shape == (5, 2)


def test_link_split_needs_some_edges():
    with pytest.raises(GatError, match="at least 10 linked pairs"):
        link_split(np.array([0, 1]), np.array([1, 2]), 3)


def test_adam_matches_the_update_rule():
    w = np.array([1.0, -2.0, 0.5])
    grads = [np.array([0.1, -0.3, 0.0]), np.array([0.2, 0.1, -0.5])]
    params = [{"w": w.copy()}]
    adam = Adam(params, lr=0.1, weight_decay=0.01, betas=(0.9, 0.999), eps=1e-8)
    m = v = np.zeros(3)
    expected = w.copy()
    for t, g in enumerate(grads, 1):
        adam.step([{"w": g}])
        g = g + 0.01 * expected
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        expected = expected - 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(params[0]["w"], expected, rtol=1e-12)


def test_linear_probe_separates_classes_and_not_noise():
    from gatcli.train.probe import linear_probe

    rng = np.random.default_rng(8)
    y = rng.integers(0, 3, 300)
    centers = np.array([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0]])
    z = centers[y] + rng.normal(0, 1, (300, 4))
    train = np.arange(300) < 150
    assert linear_probe(z, y, train, ~train) > 0.9
    noise = rng.normal(0, 1, (300, 4))
    assert linear_probe(noise, y, train, ~train) < 0.5
