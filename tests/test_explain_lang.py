"""``gat explain --lang zh`` shows no English: every step, the tutorial's notes, one node,
GATv2, several heads and a graph too large for tables (issue 11).

What may stay is listed here, each for a reason: the math symbols of the formulas and
column names (``Wh_i``, ``a_dst``, ``out``, ``LeakyReLU``, ``softmax``, ``exp``), the names
GAT/GATv2, the activation functions' names, the tutorial's cell labels (``In [8]``), and
text that is typed rather than read: options with their values (``--step linear``), the
command line ``gat explain ...``, file names and ``np.random.seed(0)``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from typer.testing import CliRunner

from gatcli.cli import app
from gatcli.explain.i18n import MESSAGES
from gatcli.explain.steps import STEPS

PLAIN = {"COLUMNS": "100", "NO_COLOR": None, "FORCE_COLOR": None, "TERM": "dumb",
         "PYTHONIOENCODING": "utf-8"}

#: math symbols (split at '_' and digits), names and activation functions
ALLOWED = {
    "Wh", "dst", "src", "ij", "ik", "att", "alpha", "out", "exp", "max", "softmax", "Softmax",
    "LeakyReLU", "LReLU", "GAT", "GATv", "In", "ID", "elu", "relu", "leaky", "tanh",
    "sigmoid",
}
TYPED = [
    re.compile(r"gat explain(?: --[a-z-]+(?: [A-Za-z0-9_.]+)?)*"),  # a command line
    re.compile(r"--[a-z-]+(?: [A-Za-z0-9_.]+)?"),  # an option and its value
    re.compile(r"[A-Za-z0-9_./-]+\.(?:txt|csv|npy)"),  # a file name
    re.compile(r"np\.random\.seed\(\d+\)"),
]
WORD = re.compile(r"[A-Za-z]{2,}")


def english_words(text: str) -> set[str]:
    for pattern in TYPED:
        text = pattern.sub(" ", text)
    words = set()
    for token in re.split(r"[_0-9]", text):
        words |= set(WORD.findall(token))
    return words - ALLOWED


def zh(*args: str) -> str:
    result = CliRunner().invoke(app, ["explain", *args, "--lang", "zh"], env=PLAIN)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def medium_graph(tmp_path) -> tuple[str, str]:
    """80 nodes and 400 edges: node tables and E are summarised, not printed whole."""
    rng = np.random.default_rng(3)
    edges = rng.integers(0, 80, (400, 2))
    graph, feats = tmp_path / "edges.csv", tmp_path / "x.npy"
    np.savetxt(graph, edges, fmt="%d", delimiter=",", header="source,target", comments="")
    np.save(feats, rng.normal(size=(80, 3)))
    return str(graph), str(feats)


def test_the_checker_finds_english():
    assert english_words("Step 1/9 线性变换 for every node") == {"Step", "for", "every",
                                                              "node"}
    assert english_words("运行 gat explain --layer-type gatv2 --step softmax 可以") == set()
    assert english_words("Wh_i = W x_i，a_dst · Wh_i（In [8] 的输出）") == set()


@pytest.mark.parametrize("step", ("all",) + STEPS)
def test_every_step_of_the_tutorial(step):
    out = zh("--step", step)
    assert "步骤" in out
    assert english_words(out) == set(), out


@pytest.mark.parametrize("args", [
    ["--node", "2"],
    ["--layer-type", "gatv2", "--layers", "1", "--out-dim", "2"],
    ["--layer-type", "gatv2", "--layers", "1", "--out-dim", "2", "--node", "1"],
    ["--layers", "2", "--heads", "3", "--hidden", "2", "--activation", "elu", "--concat"],
    ["--layers", "2", "--heads", "2", "--hidden", "2", "--mean", "--no-bias"],
], ids=["node", "gatv2", "gatv2-node", "heads", "mean"])
def test_other_models_on_the_tutorials_graph(args):
    assert english_words(zh(*args)) == set()


def test_a_real_graph_one_node_and_a_summarised_graph(examples, medium_graph):
    karate = [str(examples / "karate" / "edges.csv"), str(examples / "karate" / "features.csv")]
    for args in ([*karate, "--layer", "0", "--head", "3"], [*karate, "--node", "0"],
                 [*medium_graph], [*medium_graph, "--node", "5"]):
        out = zh(*args)
        assert english_words(out) == set(), args


def test_every_zh_message_exists_and_has_the_same_fields():
    fields = re.compile(r"(?<!\{)\{(\w*)\}(?!\})")
    assert MESSAGES["zh"].keys() == MESSAGES["en"].keys()
    for key, text in MESSAGES["en"].items():
        assert set(fields.findall(MESSAGES["zh"][key])) == set(fields.findall(text)), key
