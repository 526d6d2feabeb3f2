"""Messages that must be true (issue 11): ignored options are named, layers count from 0
everywhere, the tutorial's hint leads to what it promises, help pages show metavars and
examples that run, the packaged documentation prints, completion is offered."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gatcli.cli import app
from gatcli.cli.root import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
KARATE = ROOT / "examples" / "graphs" / "karate"
EDGES, FEATURES = str(KARATE / "edges.csv"), str(KARATE / "features.csv")
GAT = shutil.which("gat")
needs_gat = pytest.mark.skipif(GAT is None, reason="the gat console script is not installed")


def gat(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("extra, ignored", [
    (["--layers", "1", "--heads", "4", "--hidden", "3"], "--hidden, --heads"),
    (["--layers", "1", "--activation", "relu"], "--activation"),
])
def test_one_layer_says_what_it_ignores(tmp_path: Path, extra: list[str], ignored: str) -> None:
    result = gat("embed", EDGES, FEATURES, "-o", str(tmp_path / "e.csv"), *extra)
    assert result.exit_code == 0, result.stderr
    assert (f"gat: a 1-layer model has no hidden layer; ignoring {ignored} (its one layer is "
            "set by --out-dim, --out-heads and --concat/--mean)") in result.stderr
    quiet = gat("embed", EDGES, FEATURES, "-o", str(tmp_path / "e.csv"), "-q", *extra)
    assert quiet.stderr == ""


def test_two_layers_use_heads_and_hidden(tmp_path: Path) -> None:
    result = gat("embed", EDGES, FEATURES, "-o", str(tmp_path / "e.csv"), "--heads", "4",
                 "--hidden", "3")
    assert "ignoring" not in result.stderr


def test_weights_and_config_name_the_ignored_options(tmp_path: Path) -> None:
    weights = tmp_path / "w.npz"
    assert gat("embed", EDGES, FEATURES, "-q", "-o", str(tmp_path / "a.csv"),
               "--save-weights", str(weights)).exit_code == 0
    result = gat("embed", EDGES, FEATURES, "-o", str(tmp_path / "b.csv"), "-w", str(weights),
                 "--heads", "2", "--layer-type", "gatv2", "--seed", "4")
    assert "ignoring --heads, --layer-type" in result.stderr
    assert f"the weights come from {weights}; ignoring --seed 4" in result.stderr
    config = tmp_path / "m.yaml"
    config.write_text("layers:\n  - {out_dim: 2}\n")
    result = gat("embed", EDGES, FEATURES, "-o", str(tmp_path / "c.csv"), "-c", str(config),
                 "--mean", "--out-heads", "2")
    assert "--config describes the model; ignoring --out-heads, --concat/--mean" in (
        result.stderr)


def test_layers_count_from_0_in_timings(tmp_path: Path) -> None:
    result = gat("embed", EDGES, FEATURES, "-q", "-o", str(tmp_path / "e.csv"), "--timings")
    phases = re.findall(r"gat: timing (layer \d+)", result.stderr)
    assert phases == ["layer 0", "layer 1"]


def test_progress_labels_count_from_0() -> None:
    from gatcli.cli.common import RunProgress

    labels = []

    class Bar:
        def add_task(self, description: str, total: int) -> int:
            labels.append(description)
            return len(labels)

        def update(self, *args: object, **kwargs: object) -> None:
            pass

    progress = RunProgress(False, n_layers=2)
    progress._bar = Bar()
    progress.block_done(0, 1, 2)
    progress.block_done(1, 2, 2)
    assert labels == ["layer 0 (of 2)", "layer 1 (of 2)"]


def _softmax_rows(text: str) -> dict[str, list[float]]:
    rows = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0] in "0123":
            try:
                rows[parts[0]] = [float(v) for v in parts[1:]]
            except ValueError:
                continue
    return rows


def test_the_static_attention_hint_shows_what_it_promises() -> None:
    tutorial = gat("explain", "--step", "softmax")
    words = " ".join(tutorial.stdout.split())
    hint = re.search(r"See it with (gat explain [^:]+): a seeded GATv2 layer \(1 head, 2 "
                     r"features\) on this graph, where rows 2 and 3 differ\.", words)
    assert hint, words
    args = shlex.split(hint.group(1))[1:]
    shown = gat(*args)
    assert shown.exit_code == 0, shown.stderr
    out = " ".join(shown.stdout.split())
    assert "The tutorial's 4-node graph and features X" in out
    assert "GATv2, 1 head(s) x 2 features" in out
    rows = _softmax_rows(shown.stdout)
    assert not np.allclose(rows["2"], rows["3"], atol=1e-6)


def test_equal_rows_are_called_equal_only_as_far_as_they_are() -> None:
    from gatcli.explain import tutorial
    from gatcli.forward import forward

    x = tutorial.tutorial_features()
    sources, targets = tutorial.tutorial_edges()
    result = forward(tutorial.tutorial_model(), x, sources, targets, keep_attention=True,
                     dtype=np.float64)
    alpha = result.attention[0][:, 0]
    graph = result.graphs[0]
    matrix = np.zeros((4, 4))
    np.add.at(matrix, (graph.targets(), graph.sources), alpha)
    relative = float(np.max(np.abs(matrix[2] - matrix[3]))) / float(np.max(matrix[2:4]))
    assert relative < 1e-15  # equal in exact arithmetic, to the last bits in float64
    words = " ".join(gat("explain", "--step", "softmax").stdout.split())
    assert "Rows 2 and 3 are equal to 15 significant digits: both" in words
    float32 = " ".join(gat("explain", "--step", "softmax", "--dtype", "float32").stdout.split())
    found = re.search(r"Rows 2 and 3 are equal to (\d+) significant digits", float32)
    assert found and 5 <= int(found.group(1)) <= 8


# -- help pages -------------------------------------------------------------------------------

HELP_PAGES = [[], ["embed"], ["explain"], ["train"], ["predict"], ["weights"], ["weights", "show"],
              ["weights", "convert"], ["docs"]]


@pytest.mark.parametrize("command", HELP_PAGES, ids=lambda c: " ".join(c) or "gat")
def test_help_pages(command: list[str]) -> None:
    result = gat(*command, "--help")
    assert result.exit_code == 0
    page = result.stdout
    for label in ("<str>", "<int", "<bool>", "<float>", "{graph}", "{features}", "╭", "x>="):
        assert label not in page
    assert page.startswith(f"Usage: gat {' '.join(command)}".rstrip())
    assert "Examples:\n" in page
    assert "gat docs formats" in page
    if command == ["embed"]:
        assert "Usage: gat embed [OPTIONS] GRAPH FEATURES" in page
        for option in ("-o, --output PATH", "--heads N", "--negative-slope X",
                       "--layer-type gat|gatv2", "--dtype float32|float64", "--block-size N"):
            assert option in page
        words = " ".join(page.split())
        assert "edges a block" not in words  # --block-size counts nodes, and says so
        assert words.count("'-' for stdin") >= 2  # GRAPH and FEATURES both say it


def _examples(page: str) -> list[str]:
    lines = page.split("Examples:\n", 1)[1].splitlines()
    return [line.strip() for line in lines if line.startswith("  gat ")]


@needs_gat
@pytest.mark.parametrize("command", HELP_PAGES, ids=lambda c: " ".join(c) or "gat")
def test_help_examples_run(command: list[str], tmp_path: Path) -> None:
    """Every example of every help page runs from the repository's layout."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "fixtures").symlink_to(ROOT / "tests" / "fixtures")
    page = gat(*command, "--help").stdout
    examples = _examples(page)
    assert examples
    for example in examples:
        done = subprocess.run(["bash", "-c", example.replace("| less", "| head -3")],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (example, done.stderr)
        assert "error" not in done.stderr


def test_command_list_agrees_with_the_commands() -> None:
    page = gat("--help").stdout
    for name, (_, _, summary) in COMMANDS.items():
        assert name in page
        own = gat(name, "--help").stdout
        first = " ".join(own.split("\n\n", 2)[1].split())
        assert first.startswith(summary.rstrip(".").split(".")[0][:40]), (summary, first)


def test_docs_prints_the_packaged_pages() -> None:
    for topic, heading in (("formats", "# File formats"), ("errors", "# Error")):
        result = gat("docs", topic)
        assert result.exit_code == 0
        assert result.stdout.startswith(heading)
        assert result.stdout == (ROOT / "docs" / f"{topic}.md").read_text(encoding="utf-8")
    listing = gat("docs").stdout
    assert "formats" in listing and "errors" in listing


def test_completion_is_offered() -> None:
    page = gat("--help").stdout
    assert "--install-completion" in page and "--show-completion" in page


@needs_gat
def test_completion_script_and_completions() -> None:
    script = subprocess.run([GAT, "--show-completion", "bash"], capture_output=True,
                            text=True, timeout=60)
    assert script.returncode == 0 and "_GAT_COMPLETE" in script.stdout
    done = subprocess.run([GAT], capture_output=True, text=True, timeout=60,
                          env={"_GAT_COMPLETE": "complete_bash", "COMP_WORDS": "gat emb",
                               "COMP_CWORD": "1", "PATH": str(Path(GAT).parent)})
    assert "embed" in done.stdout


@needs_gat
def test_version_and_help_import_no_numpy() -> None:
    for args in (["--version"], ["--help"]):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c",
                               f"import sys; sys.argv = ['gat', *{args!r}]; "
                               "from gatcli.cli import main; main()"],
                              capture_output=True, text=True, timeout=60)
        imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
                    if line.startswith("import time:")}
        assert "numpy" not in imported and "scipy" not in imported, args
        if args == ["--version"]:
            assert "typer" not in imported and "rich" not in imported
