"""gatcli.forward: the tutorial's printed numbers, and the sparse forward against a dense
float64 reference (tests/reference.py) on random graphs and models."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import edge_counts, layers_of, param_shapes, reference_forward

from gatcli.forward import forward, layer_graphs
from gatcli.layer import StepRecorder
from gatcli.model.spec import Layer, LayerSpec, Model
from gatcli.model.weights import load_weights

# -- the tutorial (gat-tutorial.txt, section 例子) -------------------------------------------

A = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 1, 1], [1, 0, 1, 1]])
#: np.where(A > 0) as printed: (row i = target, column j = source)
CONNECTIONS = ([0, 0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 3], [0, 1, 2, 3, 0, 1, 0, 2, 3, 0, 2, 3])
#: X @ W.T as printed (rows of the concatenation, In [8])
PRINTED_WH = np.array([[0.37339233, 0.38548525], [0.85102612, 0.47765279],
                       [-0.67755906, 0.73566587], [-0.65268413, 0.24235977]])
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
PRINTED_A = np.array([-0.1007035, -0.35942847, 0.96036209, 0.50390318, -0.43956122,
                      -0.69828618, 0.79964181, 1.8607074, 1.40424849, 0.64260322,
                      1.70366881, 1.2472099])
PRINTED_E_LOGITS = np.array([-0.0201407, -0.07188569, 0.96036209, 0.50390318, -0.08791224,
                             -0.13965724, 0.79964181, 1.8607074, 1.40424849, 0.64260322,
                             1.70366881, 1.2472099])
PRINTED_E = np.array([[-0.0201407, -0.07188569, 0.96036209, 0.50390318],
                      [-0.08791224, -0.13965724, 0.0, 0.0],
                      [0.79964181, 0.0, 1.8607074, 1.40424849],
                      [0.64260322, 0.0, 1.70366881, 1.2472099]])
#: the correct (masked) softmax and output, as stated in issue 2
ISSUE_ALPHA = np.array([[0.15862414, 0.15062488, 0.42285965, 0.26789133],
                        [0.51293336, 0.48706664, 0.0, 0.0],
                        [0.17482577, 0.0, 0.50515004, 0.32002419],
                        [0.17482577, 0.0, 0.50515004, 0.32002419]])
ISSUE_OUTPUT = np.array([[-0.27394605, 0.50910315], [0.60603182, 0.43037698],
                         [-0.48586509, 0.51657539], [-0.48586509, 0.51657539]])
PRINTED = 1e-8  # the notebook prints 8 decimals


def tutorial_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X, W, W_att exactly as the notebook draws them after ``np.random.seed(0)``."""
    stream = np.random.RandomState(0)
    x = stream.uniform(-1, 1, (4, 4))
    w = stream.uniform(-1, 1, (2, 4))
    w_att = stream.uniform(-1, 1, (1, 4))
    return x, w, w_att


def tutorial_edges() -> tuple[np.ndarray, np.ndarray]:
    """A[i, j] = 1, i != j is the edge j -> i (i attends to j); self-loops are added."""
    rows, cols = np.nonzero(A - np.eye(4, dtype=int))
    return cols, rows


def dense_alpha(graph, alpha: np.ndarray) -> np.ndarray:
    """(N, N) per head from per-edge (E,) alphas: [target, source], parallel edges summed."""
    out = np.zeros((graph.n_nodes, graph.n_nodes))
    np.add.at(out, (graph.targets(), graph.sources), alpha)
    return out


def edge_position(graph, target: int, source: int) -> int:
    targets = graph.targets()
    (k,) = np.flatnonzero((targets == target) & (graph.sources == source))
    return int(k)


@pytest.fixture
def tutorial_run(tutorial):
    x, _, _ = tutorial_arrays()
    model = load_weights(str(tutorial / "weights.npz"))
    sources, targets = tutorial_edges()
    recorder = StepRecorder()
    result = forward(model, x, sources, targets, dtype=np.float64, recorder=recorder,
                     keep_attention=True)
    return model, recorder, result


def test_tutorial_weights_file_holds_the_notebooks_w_and_w_att(tutorial):
    _, w, w_att = tutorial_arrays()
    (layer,) = load_weights(str(tutorial / "weights.npz")).layers
    assert np.array_equal(layer.params["lin.weight"], w)
    assert np.array_equal(layer.params["att_dst"].ravel(), w_att[0, :2])
    assert np.array_equal(layer.params["att_src"].ravel(), w_att[0, 2:])
    assert layer.spec.heads == 1 and not layer.spec.bias and layer.spec.activation == "none"


def test_tutorial_linear_step_is_x_w_transposed(tutorial_run):
    _, recorder, _ = tutorial_run
    wh = recorder.get(0, "linear")
    assert wh.shape == (4, 1, 2)
    np.testing.assert_allclose(wh[:, 0, :], PRINTED_WH, atol=PRINTED, rtol=0)


def test_tutorial_concatenation_logits_and_e_match_the_printed_numbers(tutorial_run):
    _, recorder, _ = tutorial_run
    graph = recorder.graphs[0]
    assert graph.n_edges == 12
    wh = recorder.get(0, "linear")[:, 0, :]
    order = [edge_position(graph, i, j) for i, j in zip(*CONNECTIONS)]
    targets = graph.targets()[order]
    sources = graph.sources[order]
    concat = np.concatenate([wh[targets], wh[sources]], axis=1)   # [Wh_i || Wh_j]
    np.testing.assert_allclose(concat, PRINTED_CONCAT, atol=PRINTED, rtol=0)
    np.testing.assert_allclose(recorder.get(0, "scores")[order, 0], PRINTED_A,
                               atol=PRINTED, rtol=0)
    e = recorder.get(0, "leaky_relu")[order, 0]
    np.testing.assert_allclose(e, PRINTED_E_LOGITS, atol=PRINTED, rtol=0)
    dense_e = np.zeros((4, 4))
    dense_e[CONNECTIONS] = e
    np.testing.assert_allclose(dense_e, PRINTED_E, atol=PRINTED, rtol=0)


def test_tutorial_softmax_and_output_match_reference_and_issue(tutorial_run):
    model, recorder, result = tutorial_run
    x, _, _ = tutorial_arrays()
    sources, targets = tutorial_edges()
    expected, attention = reference_forward(layers_of(model), x, sources, targets)
    alpha = dense_alpha(result.graphs[0], result.attention[0][:, 0])
    np.testing.assert_allclose(alpha, attention[0][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.embeddings, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(alpha, ISSUE_ALPHA, atol=PRINTED, rtol=0)
    np.testing.assert_allclose(result.embeddings, ISSUE_OUTPUT, atol=PRINTED, rtol=0)
    np.testing.assert_array_equal(recorder.get(0, "softmax"), result.attention[0])
    # Non-edges take no share (where the notebook's unmasked softmax goes wrong) ...
    assert (alpha[A == 0] == 0).all()
    # ... and the fully connected row 0 agrees with the notebook's W_alpha.
    np.testing.assert_allclose(alpha[0], [0.15862414, 0.15062488, 0.42285965, 0.26789133],
                               atol=PRINTED, rtol=0)


def test_tutorial_expected_files_agree_with_the_reference(tutorial):
    x, _, _ = tutorial_arrays()
    model = load_weights(str(tutorial / "weights.npz"))
    expected, attention = reference_forward(layers_of(model), x, *tutorial_edges())
    embeddings = np.loadtxt(tutorial / "expected_embeddings.csv", delimiter=",", skiprows=1)
    alpha = np.loadtxt(tutorial / "expected_attention.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(embeddings[:, 1:], expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(alpha[:, 1:], attention[0][0], rtol=1e-12, atol=1e-14)


# -- random graphs and models against the dense reference -------------------------------------

ACTIVATIONS = ("none", "elu", "relu", "leaky_relu", "tanh", "sigmoid")
SLOPES = st.sampled_from([0.2, 0.0, 0.01, 0.5, 1.0, 1.7, -0.3])


@st.composite
def graphs(draw, max_nodes: int = 9):
    n = draw(st.integers(1, max_nodes))
    node = st.integers(0, n - 1)
    edges = draw(st.lists(st.tuples(node, node), max_size=3 * n))
    if edges and draw(st.booleans()):
        edges = edges + draw(st.lists(st.sampled_from(edges), max_size=3))  # duplicates
    sources = np.array([s for s, _ in edges], dtype=np.int64)
    targets = np.array([t for _, t in edges], dtype=np.int64)
    return n, sources, targets


@st.composite
def layer_specs(draw, in_dim: int, last: bool) -> LayerSpec:
    kind = draw(st.sampled_from(["gat", "gatv2"]))
    return LayerSpec(
        in_dim=in_dim,
        out_dim=draw(st.integers(1, 3)),
        heads=draw(st.integers(1, 3)),
        concat=draw(st.booleans()),
        activation=draw(st.sampled_from(ACTIVATIONS)),
        negative_slope=draw(SLOPES),
        bias=draw(st.booleans()),
        residual=draw(st.booleans()),
        self_loops=draw(st.booleans()),
        kind=kind,
        share_weights=kind == "gatv2" and draw(st.booleans()),
    )


@st.composite
def models(draw, in_dim: int, self_loops: bool | None = None) -> Model:
    """Random architecture; every parameter (biases included) drawn from N(0, 0.7^2)."""
    n_layers = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    layers, width = [], in_dim
    for k in range(n_layers):
        spec = draw(layer_specs(width, k == n_layers - 1))
        if self_loops is not None:
            spec = LayerSpec(**{**vars(spec), "self_loops": self_loops})
        shapes = param_shapes(vars(spec), width)
        layers.append(Layer(spec, {name: rng.normal(0, 0.7, shape)
                                   for name, shape in shapes.items()}))
        width = spec.output_dim
    return Model(layers)


@st.composite
def cases(draw, self_loops: bool | None = None, scales: tuple[float, ...] = (1.0,)):
    n, sources, targets = draw(graphs())
    in_dim = draw(st.integers(1, 4))
    model = draw(models(in_dim, self_loops))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(0, 1, (n, in_dim)) * draw(st.sampled_from(scales))
    return model, x, sources, targets, draw(st.booleans())


PROPERTY = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def check_attention(result, model, x, sources, targets, undirected, rtol, atol):
    """Per-edge alphas equal the reference's share; parallel edges split a pair's share."""
    _, reference = reference_forward(layers_of(model), x, sources, targets,
                                     undirected=undirected)
    for k, (layer, graph, alpha) in enumerate(zip(model.layers, result.graphs,
                                                  result.attention)):
        counts = edge_counts(sources, targets, x.shape[0], self_loops=layer.spec.self_loops,
                             undirected=undirected)
        assert alpha.shape == (graph.n_edges, layer.spec.heads)
        rows, cols = graph.targets(), graph.sources
        for h in range(layer.spec.heads):
            share = reference[k][h][rows, cols] / counts[rows, cols]
            np.testing.assert_allclose(alpha[:, h], share, rtol=rtol, atol=atol)


@PROPERTY
@given(cases())
def test_sparse_forward_equals_dense_reference_float64(case):
    model, x, sources, targets, undirected = case
    result = forward(model, x, sources, targets, undirected=undirected, dtype=np.float64,
                     keep_attention=True)
    expected, _ = reference_forward(layers_of(model), x, sources, targets,
                                    undirected=undirected)
    assert result.embeddings.dtype == np.float64
    assert result.embeddings.shape == (x.shape[0], model.output_dim)
    np.testing.assert_allclose(result.embeddings, expected, rtol=1e-10, atol=1e-10)
    check_attention(result, model, x, sources, targets, undirected, 1e-10, 1e-12)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")  # sigmoid
@PROPERTY
@given(cases(scales=(30.0, 1e3, 1e4)))
def test_sparse_forward_equals_dense_reference_with_large_features(case):
    model, x, sources, targets, undirected = case
    result = forward(model, x, sources, targets, undirected=undirected, dtype=np.float64,
                     keep_attention=True)
    expected, _ = reference_forward(layers_of(model), x, sources, targets,
                                    undirected=undirected)
    assert np.isfinite(result.embeddings).all()
    scale = max(1.0, float(np.abs(expected).max(initial=0)))
    np.testing.assert_allclose(result.embeddings, expected, rtol=1e-10, atol=1e-10 * scale)
    for alpha in result.attention:
        assert np.isfinite(alpha).all()


@PROPERTY
@given(cases())
def test_sparse_forward_equals_dense_reference_float32(case):
    model, x, sources, targets, undirected = case
    result = forward(model, x, sources, targets, undirected=undirected, dtype=np.float32,
                     keep_attention=True)
    expected, _ = reference_forward(layers_of(model), x, sources, targets,
                                    undirected=undirected)
    assert result.embeddings.dtype == np.float32
    scale = max(1.0, float(np.abs(expected).max(initial=0)))
    np.testing.assert_allclose(result.embeddings, expected, rtol=1e-5, atol=1e-5 * scale)
    check_attention(result, model, x, sources, targets, undirected, 1e-4, 1e-5)


@PROPERTY
@given(cases())
def test_each_graph_is_the_reference_edge_multiset(case):
    model, x, sources, targets, undirected = case
    graphs_ = layer_graphs(model, sources, targets, x.shape[0], undirected=undirected)
    for layer, graph in zip(model.layers, graphs_):
        counts = edge_counts(sources, targets, x.shape[0], self_loops=layer.spec.self_loops,
                             undirected=undirected)
        dense = np.zeros_like(counts)
        np.add.at(dense, (graph.targets(), graph.sources), 1)
        np.testing.assert_array_equal(dense, counts)


@PROPERTY
@given(cases())
def test_attention_sums_to_one_per_target_and_head(case):
    model, x, sources, targets, undirected = case
    result = forward(model, x, sources, targets, undirected=undirected, dtype=np.float64,
                     keep_attention=True)
    for graph, alpha in zip(result.graphs, result.attention):
        sums = np.zeros((graph.n_nodes, alpha.shape[1]))
        np.add.at(sums, graph.targets(), alpha)
        has_edges = graph.in_degrees > 0
        np.testing.assert_allclose(sums[has_edges], 1.0, rtol=0, atol=1e-12)
        assert (sums[~has_edges] == 0).all()
        assert (alpha >= 0).all()


@PROPERTY
@given(cases(), st.randoms(use_true_random=False))
def test_relabelling_nodes_permutes_the_output(case, random):
    model, x, sources, targets, undirected = case
    n = x.shape[0]
    perm = np.array(random.sample(range(n), n))      # old node i becomes perm[i]
    x_new = np.empty_like(x)
    x_new[perm] = x
    before = forward(model, x, sources, targets, undirected=undirected, dtype=np.float64,
                     keep_attention=True)
    after = forward(model, x_new, perm[sources], perm[targets], undirected=undirected,
                    dtype=np.float64, keep_attention=True)
    # Each node's arithmetic is the same (bit-identical on the development machine), but a
    # BLAS kernel may sum a row of x @ W.T differently at another row position: allow 1 ulp-ish.
    np.testing.assert_allclose(after.embeddings[perm], before.embeddings, rtol=1e-13,
                               atol=1e-14)
    for k in range(len(model.layers)):
        for h in range(model.layers[k].spec.heads):
            old = dense_alpha(before.graphs[k], before.attention[k][:, h])
            new = dense_alpha(after.graphs[k], after.attention[k][:, h])
            np.testing.assert_allclose(new[np.ix_(perm, perm)], old, rtol=1e-13, atol=1e-14)


@PROPERTY
@given(cases(), st.sampled_from([np.float32, np.float64]))
def test_block_size_does_not_change_the_result(case, dtype):
    model, x, sources, targets, undirected = case
    runs = [forward(model, x, sources, targets, undirected=undirected, dtype=dtype,
                    keep_attention=True, block_size=size) for size in (1, 3, None)]
    # Every target row is computed by the same operations whatever its block: bit-identical.
    for other in runs[1:]:
        np.testing.assert_array_equal(other.embeddings, runs[0].embeddings)
        for a, b in zip(other.attention, runs[0].attention):
            np.testing.assert_array_equal(a, b)


# -- numerical edge cases --------------------------------------------------------------------


def one_layer(in_dim: int, **options) -> Model:
    spec = LayerSpec(in_dim=in_dim, out_dim=3, **options)
    rng = np.random.default_rng(7)
    return Model([Layer(spec, {name: rng.normal(0, 1, shape) for name, shape
                               in param_shapes(vars(spec), in_dim).items()})])


@pytest.mark.parametrize("kind", ["gat", "gatv2"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_magnitude_features_give_finite_attention(kind, dtype):
    rng = np.random.default_rng(3)
    n = 6
    x = rng.choice([-1.0, 1.0], (n, 4)) * 1e4
    sources = np.array([0, 1, 2, 3, 4, 5, 0, 2, 4])
    targets = np.array([1, 2, 3, 4, 5, 0, 3, 5, 1])
    model = one_layer(4, heads=2, kind=kind)
    result = forward(model, x, sources, targets, dtype=dtype, keep_attention=True)
    alpha = result.attention[0]
    assert np.isfinite(alpha).all() and np.isfinite(result.embeddings).all()
    sums = np.zeros((n, 2))
    np.add.at(sums, result.graphs[0].targets(), alpha.astype(np.float64))
    np.testing.assert_allclose(sums, 1.0, atol=1e-5)
    assert (alpha >= 0).all() and (alpha <= 1).all()
    if dtype == np.float64:
        expected, _ = reference_forward(layers_of(model), x, sources, targets)
        np.testing.assert_allclose(result.embeddings, expected, rtol=1e-10)


@pytest.mark.parametrize("kind", ["gat", "gatv2"])
def test_isolated_node_without_self_loops_gets_exactly_the_bias(kind):
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (5, 3)) * 1e4
    sources, targets = np.array([0, 1, 1]), np.array([1, 2, 0])   # nodes 3, 4: no in-edges
    model = one_layer(3, heads=2, concat=False, self_loops=False, kind=kind)
    for dtype in (np.float32, np.float64):
        result = forward(model, x, sources, targets, dtype=dtype, keep_attention=True)
        bias = model.layers[0].params["bias"].astype(dtype)
        assert not np.isnan(result.embeddings).any()
        np.testing.assert_array_equal(result.embeddings[3], bias)
        np.testing.assert_array_equal(result.embeddings[4], bias)
        assert result.nodes_without_in_edges() == [2]


def test_self_loop_layers_share_one_graph_and_others_get_their_own():
    specs = [LayerSpec(2, 2, self_loops=True), LayerSpec(2, 2, self_loops=False),
             LayerSpec(2, 2, self_loops=True)]
    model = Model([Layer(s) for s in specs])
    built = layer_graphs(model, np.array([0, 1]), np.array([1, 1]), 3)
    assert built[0] is built[2] and built[1] is not built[0]
    assert built[0].n_edges == 4 and built[1].n_edges == 2


def test_recorder_keeps_every_layers_input_and_graph():
    model = one_layer(2, heads=2)
    model.layers.append(Layer(LayerSpec(6, 1, kind="gatv2"),
                              {name: np.ones(shape) for name, shape in
                               param_shapes(vars(LayerSpec(6, 1, kind="gatv2")), 6).items()}))
    recorder = StepRecorder()
    x = np.arange(8.0).reshape(4, 2)
    result = forward(model, x, np.array([0, 1]), np.array([1, 2]), dtype=np.float64,
                     recorder=recorder)
    np.testing.assert_array_equal(recorder.get(0, "input"), x)
    np.testing.assert_array_equal(recorder.get(1, "input"), recorder.get(0, "output"))
    np.testing.assert_array_equal(recorder.get(1, "output"), result.embeddings)
    assert set(recorder.graphs) == {0, 1}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_with_far_apart_logits_each_get_a_proper_softmax(dtype):
    # e_ij = x_j (att_dst = 0, slope 1): target 4 sees logits 5000, 5001, target 5 sees
    # -5000, -5001. One shift shared by both rows would underflow one of them to 0 / 0.
    spec = LayerSpec(in_dim=1, out_dim=1, negative_slope=1.0, bias=False, self_loops=False)
    model = Model([Layer(spec, {"lin.weight": np.ones((1, 1)), "att_src": np.ones((1, 1, 1)),
                                "att_dst": np.zeros((1, 1, 1))})])
    x = np.array([[5000.0], [5001.0], [-5000.0], [-5001.0], [0.0], [0.0]])
    result = forward(model, x, np.array([0, 1, 2, 3]), np.array([4, 4, 5, 5]), dtype=dtype,
                     keep_attention=True)
    small, large = 1 / (1 + np.e), np.e / (1 + np.e)
    np.testing.assert_allclose(result.attention[0][:, 0], [small, large, large, small],
                               rtol=1e-6)
    np.testing.assert_allclose(result.embeddings[4:, 0],
                               [5000 * small + 5001 * large, -5000 * large - 5001 * small],
                               rtol=1e-6)
    np.testing.assert_array_equal(result.embeddings[:4], 0)


def _mapped_rss_kb(path) -> int:
    """Resident kB of this process's mappings of ``path`` (/proc/self/smaps)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            first = line.split()[0] if line.strip() else ""
            if "-" in first and not first.endswith(":"):  # a mapping's header line
                inside = line.rstrip().endswith(str(path))
            elif inside and first == "Rss:":
                total += int(line.split()[1])
    return total


def test_a_memory_mapped_input_is_released_after_the_first_layer(tmp_path):
    """Its pages leave the process (the values read back the same); the result equals the
    run on the array in memory; a copy-on-write map is not touched."""
    from gatcli.forward import release_mapped_pages
    from gatcli.model.init import init_model
    from gatcli.model.spec import model_spec

    rng = np.random.default_rng(7)
    x = rng.normal(size=(2000, 256)).astype(np.float32)  # 2 MB
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert float(mapped.sum()) == pytest.approx(float(x.sum()), rel=1e-4)
    assert _mapped_rss_kb(tmp_path / "x.npy") > 1000
    release_mapped_pages(mapped)
    assert _mapped_rss_kb(tmp_path / "x.npy") < 100
    np.testing.assert_array_equal(mapped, x)
    private = np.load(tmp_path / "x.npy", mmap_mode="c")
    private[0, 0] = 123.0
    release_mapped_pages(private)
    assert private[0, 0] == 123.0
    del mapped, private  # unmapped: only the next map of the file is measured
    sources, targets = rng.integers(0, 2000, 5000), rng.integers(0, 2000, 5000)
    model = init_model(model_spec(256, heads=2, hidden=8, out_heads=1), seed=1)
    in_memory = forward(model, x, sources, targets, keep_attention=True)
    features = np.load(tmp_path / "x.npy", mmap_mode="r")
    from_map = forward(model, features, sources, targets, keep_attention=True)
    assert _mapped_rss_kb(tmp_path / "x.npy") < 100  # released by the forward pass
    np.testing.assert_array_equal(from_map.embeddings, in_memory.embeddings)
    np.testing.assert_array_equal(from_map.attention[0], in_memory.attention[0])
