"""`gat embed --nodes`: the chosen nodes' embeddings and attention, from a node list file or
stdin, against the whole run (CliRunner and the installed `gat`)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess

import numpy as np
from typer.testing import CliRunner

from gatcli.cli import app

GAT = shutil.which("gat")


def karate(examples) -> list[str]:
    return [str(examples / "karate" / "edges.csv"), str(examples / "karate" / "features.csv"),
            "--dtype", "float64"]


def invoke(*args, input: str | None = None, code: int = 0):
    result = CliRunner().invoke(app, ["embed", *map(str, args)], input=input)
    assert result.exit_code == code, result.output
    return result


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def embeddings(text: str) -> dict[str, np.ndarray]:
    return {r[0]: np.array(r[1:], dtype=float) for r in rows(text)[1:]}


def test_chosen_rows_in_the_given_order_equal_the_whole_run(examples, tmp_path):
    (tmp_path / "nodes.txt").write_text("# members\n33\n0\n\n11\n33\n")
    whole = embeddings(invoke(*karate(examples)).stdout)
    part = rows(invoke(*karate(examples), "--nodes", tmp_path / "nodes.txt").stdout)
    assert part[0] == ["id"] + [f"h{k}" for k in range(8)]
    assert [r[0] for r in part[1:]] == ["33", "0", "11", "33"]
    for r in part[1:]:
        values = np.array(r[1:], dtype=float)
        scale = np.abs(whole[r[0]]).max()
        assert np.abs(values - whole[r[0]]).max() <= 1e-12 * scale


def test_attention_holds_the_edges_each_layer_computed(examples, tmp_path):
    (tmp_path / "nodes.txt").write_text("11\n")
    invoke(*karate(examples), "-o", tmp_path / "all.csv", "--attention", tmp_path / "all_a.csv")
    invoke(*karate(examples), "-o", tmp_path / "one.csv", "--attention", tmp_path / "one_a.csv",
           "--nodes", tmp_path / "nodes.txt")
    whole = {tuple(r[:4]): float(r[4]) for r in rows((tmp_path / "all_a.csv").read_text())[1:]}
    part = rows((tmp_path / "one_a.csv").read_text())
    assert part[0] == ["layer", "head", "target", "source", "alpha"]
    last = {r[2] for r in part[1:] if r[0] == "1"}
    first = {r[2] for r in part[1:] if r[0] == "0"}
    assert last == {"11"}  # member 11 and its one friend, 0 (and itself) feed layer 1
    assert first == {"11", "0"}
    assert {r[3] for r in part[1:] if r[0] == "1"} == {"11", "0"}
    for r in part[1:]:
        assert abs(float(r[4]) - whole[tuple(r[:4])]) <= 1e-12
    # every in-edge of a computed target is there, as in the whole run
    computed = {(r[0], r[1], r[2]) for r in part[1:]}
    assert len(part) - 1 == sum(1 for key in whole if key[:3] in computed)


def test_npy_output_and_npz_attention(examples, tmp_path):
    (tmp_path / "nodes.txt").write_text("5\n6\n")
    invoke(*karate(examples), "-o", tmp_path / "e.npy", "--attention", tmp_path / "a.npz",
           "--nodes", tmp_path / "nodes.txt")
    assert np.load(tmp_path / "e.npy").shape == (2, 8)
    with np.load(tmp_path / "a.npz") as data:
        assert tuple(data["layer1_head0.shape"]) == (34, 34)
        indptr = data["layer1_head0.indptr"]
        assert set(np.flatnonzero(np.diff(indptr))) == {5, 6}


def test_node_list_on_stdin(examples):
    via_stdin = invoke(*karate(examples), "--nodes", "-", input="2\n1\n").stdout
    assert [r[0] for r in rows(via_stdin)[1:]] == ["2", "1"]


def test_unknown_ids_are_one_error(examples, tmp_path):
    (tmp_path / "nodes.txt").write_text("1\n34\nabc\n")
    result = invoke(*karate(examples), "--nodes", tmp_path / "nodes.txt", code=1)
    assert result.stderr.strip() == (
        f"gat: error: {tmp_path / 'nodes.txt'}:2: 2 node ids are not in the features' id "
        "column: '34', 'abc' (line 3)")


def test_stdin_cannot_be_both_the_node_list_and_an_input(examples):
    result = invoke("-", examples / "karate" / "features.csv", "--nodes", "-", code=2)
    assert "--nodes - and GRAPH both read stdin" in result.stderr


def test_installed_gat_reads_the_node_list_from_a_pipe(examples, tmp_path):
    whole = subprocess.run([GAT, "embed", *karate(examples), "-q"], capture_output=True, check=True)
    part = subprocess.run([GAT, "embed", *karate(examples), "-q", "--nodes", "-"], input=b"7\n3\n",
                          capture_output=True, check=True)
    assert part.stderr == b""
    lines = whole.stdout.decode().splitlines()
    got = part.stdout.decode().splitlines()
    assert got[0] == lines[0] and [g.split(",")[0] for g in got[1:]] == ["7", "3"]
    for line in got[1:]:
        node = int(line.split(",")[0])
        a = np.array(line.split(",")[1:], dtype=float)
        b = np.array(lines[1 + node].split(",")[1:], dtype=float)
        assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max()
