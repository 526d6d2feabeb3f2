"""gatcli.explain.tutorial: the notebook's example rebuilt in code, checked against the numbers
the notebook printed (gat-tutorial.txt) and against the issue's correct values."""

from __future__ import annotations

import numpy as np

from gatcli.explain import tutorial as tut
from gatcli.explain.steps import layer_traces
from gatcli.forward import forward
from gatcli.layer import StepRecorder

# Out[4] and Out[5]/Out[6] of the notebook, copied from the tutorial text.
PRINTED_X = np.array([[0.09762701, 0.43037873, 0.20552675, 0.08976637],
                      [-0.1526904, 0.29178823, -0.12482558, 0.783546],
                      [0.92732552, -0.23311696, 0.58345008, 0.05778984],
                      [0.13608912, 0.85119328, -0.85792788, -0.8257414]])
PRINTED_W = np.array([[-0.95956321, 0.66523969, 0.5563135, 0.7400243],
                      [0.95723668, 0.59831713, -0.07704128, 0.56105835]])
PRINTED_W_ATT = np.array([[-0.76345115, 0.27984204, -0.71329343, 0.88933783]])

# The correct values stated in issue 3.
CORRECT_ALPHA = np.array([[0.15862414, 0.15062488, 0.42285965, 0.26789133],
                          [0.51293336, 0.48706664, 0, 0],
                          [0.17482577, 0, 0.50515004, 0.32002419],
                          [0.17482577, 0, 0.50515004, 0.32002419]])
CORRECT_H = np.array([[-0.27394605, 0.50910315], [0.60603182, 0.43037698],
                      [-0.48586509, 0.51657539], [-0.48586509, 0.51657539]])


def run_tutorial():
    model = tut.tutorial_model()
    sources, targets = tut.tutorial_edges()
    recorder = StepRecorder()
    result = forward(model, tut.tutorial_features(), sources, targets, dtype=np.float64,
                     recorder=recorder)
    return result, layer_traces(recorder, model)[0]


def test_arrays_are_the_notebooks():
    x, w, w_att = tut.tutorial_arrays()
    np.testing.assert_allclose(x, PRINTED_X, atol=5e-9)
    np.testing.assert_allclose(w, PRINTED_W, atol=5e-9)
    np.testing.assert_allclose(w_att, PRINTED_W_ATT, atol=5e-9)


def test_edges_are_the_adjacency_rows():
    sources, targets = tut.tutorial_edges()
    dense = np.zeros((4, 4), dtype=int)
    dense[targets, sources] = 1
    np.testing.assert_array_equal(dense, tut.ADJACENCY)


def test_model_puts_the_first_half_of_w_att_on_the_target():
    model = tut.tutorial_model()
    params = model.layers[0].params
    np.testing.assert_allclose(params["att_dst"].ravel(), PRINTED_W_ATT[0, :2], atol=5e-9)
    np.testing.assert_allclose(params["att_src"].ravel(), PRINTED_W_ATT[0, 2:], atol=5e-9)


def test_forward_reproduces_the_printed_correct_steps():
    _, trace = run_tutorial()
    pi, pj = tut.printed_edges()
    # map each printed (i, j) to its edge in the recorded CSR
    targets, sources = trace.targets(), trace.graph.sources
    position = {(int(t), int(s)): k for k, (t, s) in enumerate(zip(targets, sources))}
    edges = [position[(int(i), int(j))] for i, j in zip(pi, pj)]
    wh = trace.arrays["linear"][:, 0]
    np.testing.assert_allclose(np.concatenate([wh[pi], wh[pj]], axis=1), tut.PRINTED_CONCAT,
                               atol=5e-9)
    np.testing.assert_allclose(trace.arrays["scores"][edges, 0], tut.PRINTED_SCORES, atol=5e-9)
    np.testing.assert_allclose(trace.arrays["leaky_relu"][edges, 0], tut.PRINTED_LEAKY_RELU,
                               atol=5e-9)


def test_correct_attention_and_output_are_the_issues():
    result, trace = run_tutorial()
    alpha = np.zeros((4, 4))
    alpha[trace.targets(), trace.graph.sources] = trace.arrays["softmax"][:, 0]
    np.testing.assert_allclose(alpha, CORRECT_ALPHA, atol=5e-9)
    np.testing.assert_allclose(result.embeddings, CORRECT_H, atol=5e-9)


def test_the_notebooks_two_formulas_give_its_printed_wrong_values():
    """The explanations of the two mistakes are right: applying the notebook's own formulas
    (softmax over whole rows with 0 at non-edges; A.T @ W_alpha @ X @ W.T) to the printed E
    gives exactly its printed W_alpha and H."""
    e_matrix = np.zeros((4, 4))
    pi, pj = tut.printed_edges()
    e_matrix[pi, pj] = tut.PRINTED_LEAKY_RELU
    rows = np.exp(e_matrix - e_matrix.max(axis=1, keepdims=True))
    w_alpha = rows / rows.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(w_alpha, tut.PRINTED_W_ALPHA, atol=1e-7)
    h = tut.ADJACENCY.T @ w_alpha @ PRINTED_X @ PRINTED_W.T
    np.testing.assert_allclose(h, tut.PRINTED_H, atol=1e-6)
    # and the printed values really differ from the correct ones where explain says so
    assert np.allclose(tut.PRINTED_W_ALPHA[0], CORRECT_ALPHA[0], atol=5e-9)
    assert not np.allclose(tut.PRINTED_W_ALPHA[1:], CORRECT_ALPHA[1:], atol=1e-3)
