"""gatcli.graph: edges -> in-edge CSR (row i = sources j of the edges j -> i)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from gatcli.graph import Graph, build_graph, edges_from_adjacency


def rows(graph: Graph) -> list[list[int]]:
    """The sources of every target row, in CSR order."""
    return [graph.sources[graph.indptr[i]:graph.indptr[i + 1]].tolist()
            for i in range(graph.n_nodes)]


def test_row_i_lists_the_sources_of_edges_into_i_with_one_self_loop_last():
    # edges 0 -> 1, 2 -> 1, 1 -> 0: node 1 attends to 0 and 2, node 0 to 1.
    graph = build_graph(np.array([0, 2, 1]), np.array([1, 1, 0]), 3)
    assert rows(graph) == [[1, 0], [0, 2, 1], [2]]
    assert graph.n_nodes == 3 and graph.n_edges == 6
    np.testing.assert_array_equal(graph.in_degrees, [2, 3, 1])
    np.testing.assert_array_equal(graph.targets(), [0, 0, 1, 1, 1, 2])
    assert graph.indptr.dtype == np.int64


def test_without_self_loops_the_edges_are_kept_as_given():
    graph = build_graph(np.array([0, 2, 1]), np.array([1, 1, 0]), 3, self_loops=False)
    assert rows(graph) == [[1], [0, 2], []]
    np.testing.assert_array_equal(graph.in_degrees, [1, 2, 0])


def test_existing_self_loops_are_not_doubled():
    graph = build_graph(np.array([1, 1, 0, 1]), np.array([1, 1, 1, 0]), 2)
    assert rows(graph) == [[1, 0], [0, 1]]


def test_existing_self_loops_stay_when_none_are_added():
    graph = build_graph(np.array([1, 1, 0]), np.array([1, 1, 1]), 2, self_loops=False)
    assert rows(graph) == [[], [1, 1, 0]]


def test_duplicate_edges_are_kept_in_input_order():
    graph = build_graph(np.array([2, 0, 2, 1]), np.array([0, 0, 0, 0]), 3, self_loops=False)
    assert rows(graph) == [[2, 0, 2, 1], [], []]


def test_undirected_adds_each_missing_reverse_once():
    # 0 -> 1 and 1 -> 0 are mutual (not doubled); 1 -> 2 gains 2 -> 1.
    graph = build_graph(np.array([0, 1, 1]), np.array([1, 0, 2]), 3, self_loops=False,
                        undirected=True)
    assert rows(graph) == [[1], [0, 2], [1]]


def test_undirected_with_self_loops():
    graph = build_graph(np.array([0]), np.array([2]), 3, undirected=True)
    assert rows(graph) == [[2, 0], [1], [0, 2]]


def test_isolated_nodes_and_no_edges():
    empty = np.zeros(0, dtype=np.int64)
    graph = build_graph(empty, empty, 3, self_loops=False)
    assert graph.n_edges == 0 and rows(graph) == [[], [], []]
    np.testing.assert_array_equal(graph.indptr, [0, 0, 0, 0])
    assert rows(build_graph(empty, empty, 3)) == [[0], [1], [2]]


def test_block_keeps_global_source_numbering():
    graph = build_graph(np.array([3, 0, 1, 2]), np.array([1, 2, 2, 3]), 4, self_loops=False)
    block = graph.block(1, 3)
    assert block.n_nodes == 2
    assert rows(block) == [[3], [0, 1]]
    np.testing.assert_array_equal(block.indptr, [0, 1, 3])


def test_edges_from_adjacency_reads_row_i_as_the_nodes_i_attends_to():
    a = sp.csr_array(np.array([[0, 1, 1], [0, 0, 0], [1, 0, 0]]))
    sources, targets = edges_from_adjacency(a)
    assert sorted(zip(sources.tolist(), targets.tolist())) == [(0, 2), (1, 0), (2, 0)]


def test_edges_from_adjacency_ignores_stored_zeros():
    a = sp.csr_array((np.array([1.0, 0.0]), np.array([1, 0]), np.array([0, 1, 2])),
                     shape=(2, 2))
    sources, targets = edges_from_adjacency(a)
    assert list(zip(sources.tolist(), targets.tolist())) == [(1, 0)]
