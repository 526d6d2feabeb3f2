"""gatcli.explain.render: snapshots of the rendered text at 80 columns with colour off, and
how colour, width and language change it.

Snapshots live in tests/snapshots/explain/. The tutorial snapshots were checked by hand
against the tutorial's printed numbers and the issue's correct values (test_cli_explain.py
checks the same numbers programmatically). To re-create them after a deliberate change:
``GAT_UPDATE_SNAPSHOTS=1 pytest tests/test_explain_render.py`` and review the diff.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from gatcli.cli import app
from gatcli.explain import tutorial as tut
from gatcli.explain.render import TextRenderer, format_number
from gatcli.explain.steps import STEPS, layer_traces
from gatcli.forward import forward
from gatcli.layer import StepRecorder

SNAPSHOTS = Path(__file__).parent / "snapshots" / "explain"
PLAIN = {"COLUMNS": "80", "LINES": "50", "NO_COLOR": None, "FORCE_COLOR": None, "TERM": "dumb"}

CASES = {
    "tutorial_all": [],
    "tutorial_softmax_zh": ["--step", "softmax", "--lang", "zh"],
    "tutorial_gatv2_node": ["--layer-type", "gatv2", "--layers", "1", "--out-dim", "2",
                            "--node", "2", "--step", "leaky_relu", "--step", "scores", "--step",
                            "softmax"],
    "karate_softmax": ["{examples}/karate/edges.csv", "{examples}/karate/features.csv",
                       "--step", "softmax", "--layer", "1"],
}


def run_cli(args: list[str], env: dict | None = None) -> str:
    result = CliRunner().invoke(app, ["explain", *args], env=env or PLAIN)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("name", sorted(CASES))
def test_snapshot(name, examples, monkeypatch):
    monkeypatch.chdir(examples.parent.parent)  # paths in the output are relative
    args = [a.format(examples="examples/graphs") for a in CASES[name]]
    text = run_cli(args)
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("GAT_UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert text == expected
    assert max(len(line) for line in text.splitlines()) <= 80


def test_several_steps_keep_the_layers_order():
    text = run_cli(["--layer-type", "gatv2", "--layers", "1", "--step", "softmax", "--step",
                    "scores", "--step", "leaky_relu"])
    titles = [line.split()[1] for line in text.splitlines() if line.startswith("Step ")]
    assert titles == ["3/9", "4/9", "6/9"]  # GATv2: leaky_relu, scores, ..., softmax


def render(width: int, *, colour: bool, steps=STEPS, node=None, lang="en") -> str:
    model = tut.tutorial_model()
    sources, targets = tut.tutorial_edges()
    recorder = StepRecorder()
    forward(model, tut.tutorial_features(), sources, targets, dtype=np.float64,
            recorder=recorder)
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=colour,
                      color_system="truecolor" if colour else None, highlight=False)
    TextRenderer(console, layer_traces(recorder, model), np.arange(4).astype(str), lang=lang,
                 tutorial=True).render(steps=steps, layers=[0], head=None, node=node,
                                       intro="intro")
    return out.getvalue()


def test_colour_heatmap_has_background_colours():
    text = render(80, colour=True, steps=("softmax",))
    assert "\x1b[" in text and "48;2;" in text  # truecolor backgrounds on the cells
    assert "0.51293336" in text


def test_no_colour_has_no_escape_codes():
    assert "\x1b[" not in render(80, colour=False)


def test_narrow_console_drops_decimals_not_values():
    lines = render(40, colour=False, steps=("softmax",)).splitlines()
    assert "1  0.5129 0.4871      0      0" in lines


def test_shades_when_values_do_not_fit():
    # 4 columns of values need about 50 columns; at 16 the heatmap falls back to shades
    text = render(16, colour=False, steps=("softmax",))
    heat = [line for line in text.splitlines() if line.startswith("1 ")]
    assert heat == ["1 ▓▓▒▒...."]  # alpha 0.513 and 0.487; node 1 attends to neither 2 nor 3


def test_format_number():
    assert format_number(-0.0000000001, 4) == "0.0000"
    assert format_number(-1.5, 2) == "-1.50"
    assert format_number(float("nan"), 3) == "nan"


def test_no_color_env_turns_colour_off_on_a_terminal():
    forced = run_cli(["--step", "softmax"], env={**PLAIN, "FORCE_COLOR": "1", "TERM": "xterm"})
    assert "48;" in forced or "\x1b[4" in forced
    plain = run_cli(["--step", "softmax"],
                    env={**PLAIN, "FORCE_COLOR": "1", "NO_COLOR": "1", "TERM": "xterm"})
    assert "48;" not in plain and "38;" not in plain
    assert "0.51293336" in plain


# -- --node on a receptive field --------------------------------------------------------------


def node_views(model, x, sources, targets, node: int, ids) -> list[tuple[str, dict]]:
    """(text, json) of the --node view from a whole run and from the node's receptive field."""
    from gatcli.explain.export import explanation_json

    views = []
    for chosen in (None, [node]):
        recorder = StepRecorder()
        result = forward(model, x, sources, targets, dtype=np.float64, recorder=recorder,
                         nodes=chosen)
        traces = layer_traces(recorder, model, result.fields)
        layers = list(range(len(model.layers)))
        out = io.StringIO()
        console = Console(file=out, width=100, color_system=None, highlight=False)
        TextRenderer(console, traces, ids).render(steps=STEPS, layers=layers, head=None,
                                                  node=node, intro="intro")
        doc = explanation_json(traces, ids=ids, steps=STEPS, layers=layers, node=node)
        views.append((out.getvalue(), doc))
    return views


@pytest.mark.parametrize("kind", ["gat", "gatv2"])
def test_node_view_of_the_receptive_field_is_the_whole_runs(kind, examples):
    from gatcli.io.readers import NodeIndex, read_features, read_graph
    from gatcli.model.init import init_model
    from gatcli.model.spec import model_spec

    feats = read_features(str(examples / "karate" / "features.csv"))
    sources, targets = read_graph(str(examples / "karate" / "edges.csv"), NodeIndex.of(feats))
    model = init_model(model_spec(feats.values.shape[1], layers=3, heads=2, hidden=3,
                                  kind=kind), seed=2)
    for node in (0, 11, 33):
        (whole_text, whole_doc), (part_text, part_doc) = node_views(
            model, feats.values, sources, targets, node, feats.id_labels())
        assert part_text == whole_text  # same numbers to the digits shown, same shapes
        for whole_layer, part_layer in zip(whole_doc["layers"], part_doc["layers"]):
            a, b = whole_layer["node"], part_layer["node"]
            assert a["in_neighbours"] == b["in_neighbours"]
            for key in ("alpha", "scores", "logits"):
                np.testing.assert_allclose(b[key], a[key], rtol=0, atol=1e-12)
            for name, row in a["rows"].items():
                np.testing.assert_allclose(b["rows"][name], row, rtol=1e-12, atol=1e-12)


def test_node_view_of_a_node_without_in_edges():
    from gatcli.model.init import init_model
    from gatcli.model.spec import model_spec

    x = np.arange(12.0).reshape(6, 2)
    sources, targets = np.array([0, 1, 2]), np.array([1, 2, 3])   # 4, 5: nothing comes in
    model = init_model(model_spec(2, layers=2, self_loops=False), seed=0)
    (whole, _), (part, _) = node_views(model, x, sources, targets, 5, np.arange(6).astype(str))
    assert part == whole and "Node 5 (layer 0, head 0): 0 in-neighbour(s)" in part
