"""gatcli.io.node_list: node lists (``--nodes``) read into row indices, and their errors."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from gatcli.errors import GatError
from gatcli.io.node_list import read_node_list
from gatcli.io.readers import NodeIndex

NAMED = NodeIndex(5, np.array(["alice", "bob", "carol", "dave", "erin"]))
NUMBERED = NodeIndex(5)
INTEGER_IDS = NodeIndex(3, np.array(["10", "20", "30"]))


def read(tmp_path, text: str | bytes, index: NodeIndex, name: str = "nodes.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return read_node_list(str(path), index)


def test_ids_in_the_given_order_with_repeats(tmp_path):
    got = read(tmp_path, "carol\nalice\ncarol\n", NAMED)
    np.testing.assert_array_equal(got, [2, 0, 2])
    assert got.dtype == np.int64


def test_blank_lines_comments_whitespace_quotes_and_header_are_skipped(tmp_path):
    text = 'id\n# who\n\n  bob  \n"erin"\ndave # the last\r\n'
    np.testing.assert_array_equal(read(tmp_path, text, NAMED), [1, 4, 3])
    np.testing.assert_array_equal(read(tmp_path, "Node\n3\n0\n", NUMBERED), [3, 0])


def test_a_node_called_id_is_not_a_header(tmp_path):
    index = NodeIndex(2, np.array(["id", "x"]))
    np.testing.assert_array_equal(read(tmp_path, "id\nx\n", index), [0, 1])


def test_row_numbers_without_an_id_column(tmp_path):
    np.testing.assert_array_equal(read(tmp_path, "4\n0\n", NUMBERED), [4, 0])


def test_integer_ids_match_like_edge_lists(tmp_path):
    # ids are text matched exactly, as in edge lists: "010" is not "10"
    np.testing.assert_array_equal(read(tmp_path, "30\n10\n", INTEGER_IDS), [2, 0])
    with pytest.raises(GatError, match="node id '010' is not in the features' id column"):
        read(tmp_path, "30\n010\n", INTEGER_IDS)


def test_gzip(tmp_path):
    got = read(tmp_path, gzip.compress(b"dave\nbob\n"), NAMED, "nodes.txt.gz")
    np.testing.assert_array_equal(got, [3, 1])


def test_one_unknown_id_is_named_with_its_line(tmp_path):
    with pytest.raises(GatError) as caught:
        read(tmp_path, "bob\n\nzed\n", NAMED)
    assert str(caught.value).endswith(
        "nodes.txt:3: node id 'zed' is not in the features' id column")


def test_several_unknown_ids_name_the_first_few(tmp_path):
    text = "bob\n" + "".join(f"x{k}\n" for k in range(8))
    with pytest.raises(GatError) as caught:
        read(tmp_path, text, NAMED)
    message = str(caught.value)
    assert "nodes.txt:2: 8 node ids are not in the features' id column: 'x0', " in message
    assert "'x4' (line 6) and 3 more" in message and "x5" not in message


@pytest.mark.parametrize("token", ["5", "-1", "x", "1.0", "99999999999999999999999"])
def test_bad_row_numbers(tmp_path, token):
    with pytest.raises(GatError, match=rf"nodes.txt:2: node id '{token}' is not in the node "
                                       r"rows 0\.\.4 \(the features have no id column\)"):
        read(tmp_path, f"0\n{token}\n", NUMBERED)


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("# only a comment\n\n", "no node ids"),
    ("id\n", "no node ids"),
    (b"\x93NUMPY\x01\x00", "not a node list"),
])
def test_empty_or_wrong_files(tmp_path, text, message):
    with pytest.raises(GatError, match=message):
        read(tmp_path, text, NAMED)


def test_missing_file():
    with pytest.raises(GatError, match="no such file; expected a node list"):
        read_node_list("/nonexistent/nodes.txt", NAMED)
