"""Standard output of every command through one guard (gatcli/cli/common.py): a reader that
goes away is a quiet exit 0, a full device or a closed stdout one error line and exit 1, an
ASCII-only stream gets ASCII art; odd COLUMNS never empty a message; every usage error is one
line with exit code 2 (issue 11)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gatcli.cli import app

ROOT = Path(__file__).resolve().parents[1]
KARATE = ROOT / "examples" / "graphs" / "karate"
PYG = ROOT / "tests" / "fixtures" / "pyg" / "gat_2layer" / "model.npz"
GAT = shutil.which("gat")
needs_gat = pytest.mark.skipif(GAT is None, reason="the gat console script is not installed")

#: one command line of every kind that writes to stdout
WRITERS = {
    "embed": ["embed", str(KARATE / "edges.csv"), str(KARATE / "features.csv")],
    "embed-attention": ["embed", str(KARATE / "edges.csv"), str(KARATE / "features.csv"),
                        "-o", "{tmp}/emb.csv", "--attention", "-"],
    "explain-tutorial": ["explain"],
    "explain-files": ["explain", str(KARATE / "edges.csv"), str(KARATE / "features.csv"),
                      "--step", "softmax"],
    "explain-json": ["explain", "--format", "json"],
    "weights-show": ["weights", "show", str(PYG)],
    "weights-show-json": ["weights", "show", str(PYG), "--format", "json"],
    "weights-convert": ["weights", "convert", str(PYG), "-o", "-", "-q"],
    "save-weights": ["embed", str(KARATE / "edges.csv"), str(KARATE / "features.csv"),
                     "-o", "{tmp}/emb.csv", "--save-weights", "-", "-q"],
    "predict": ["predict", str(KARATE / "edges.csv"), str(KARATE / "features.csv"),
                "--weights", "{classifier}"],
    "train-log": ["train", str(KARATE / "edges.csv"), str(KARATE / "features.csv"),
                  str(KARATE / "labels.csv"), "--epochs", "2", "-o", "{tmp}/clf.npz",
                  "--log", "-", "-q"],
    "help": ["--help"],
    "embed-help": ["embed", "--help"],
    "weights-help": ["weights", "--help"],
    "docs": ["docs", "formats"],
    "version": ["--version"],
}


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier from gat train (a few epochs on the karate club), for gat predict."""
    path = tmp_path_factory.mktemp("classifier") / "clf.npz"
    result = CliRunner().invoke(app, ["train", str(KARATE / "edges.csv"),
                                      str(KARATE / "features.csv"), str(KARATE / "labels.csv"),
                                      "--epochs", "3", "-o", str(path), "-q"])
    assert result.exit_code == 0, result.output
    return path


def _args(name: str, tmp: Path, classifier: Path | None = None) -> list[str]:
    return [a.replace("{tmp}", str(tmp)).replace("{classifier}", str(classifier))
            for a in WRITERS[name]]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", **extra}


@needs_gat
@pytest.mark.parametrize("name", list(WRITERS))
def test_reader_gone_is_a_quiet_exit_0(name: str, tmp_path: Path, classifier: Path) -> None:
    """stdout is a pipe whose reader has already gone: every write fails with EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([GAT, *_args(name, tmp_path, classifier)], stdout=write_end,
                                stderr=subprocess.PIPE, env=_env(), timeout=120)
    finally:
        os.close(write_end)
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr and b"gat: error" not in result.stderr


@needs_gat
@pytest.mark.parametrize("name", ["embed", "explain-tutorial", "explain-json", "weights-show",
                                  "help", "docs", "version"])
def test_head_1_leaves_exit_status_0(name: str, tmp_path: Path, classifier: Path) -> None:
    command = " ".join(f"'{a}'" for a in [GAT, *_args(name, tmp_path, classifier)])
    shell = f"{command} 2>/dev/null | head -1 >/dev/null; echo ${{PIPESTATUS[0]}}"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True,
                            env=_env(), timeout=120)
    assert result.stdout.strip() == "0"


@needs_gat
@pytest.mark.parametrize("name", list(WRITERS))
def test_full_device_is_one_error_line(name: str, tmp_path: Path, classifier: Path) -> None:
    with open("/dev/full", "wb") as full:
        result = subprocess.run([GAT, *_args(name, tmp_path, classifier)], stdout=full,
                                stderr=subprocess.PIPE, env=_env(), timeout=120)
    assert result.returncode == 1
    errors = [line for line in result.stderr.decode().splitlines()
              if line.startswith("gat: error")]
    assert errors == ["gat: error: cannot write to stdout: No space left on device"]
    assert "Traceback" not in result.stderr.decode()
    assert not list(tmp_path.iterdir()), "a failed run left a file"


@needs_gat
@pytest.mark.parametrize("name", list(WRITERS))
def test_closed_stdout_is_one_error_line(name: str, tmp_path: Path, classifier: Path) -> None:
    command = " ".join(f"'{a}'" for a in [GAT, *_args(name, tmp_path, classifier)])
    result = subprocess.run(["bash", "-c", f"{command} >&-"], capture_output=True, text=True,
                            env=_env(), timeout=120)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("gat: error")]
    assert errors == ["gat: error: cannot write to stdout: it is closed (file descriptor 1)"]
    assert "Traceback" not in result.stderr


@needs_gat
def test_closed_stdout_is_fine_when_nothing_goes_there(tmp_path: Path) -> None:
    out = tmp_path / "emb.csv"
    command = f"'{GAT}' embed '{KARATE}/edges.csv' '{KARATE}/features.csv' -q -o '{out}' >&-"
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                            env=_env(), timeout=120)
    assert (result.returncode, result.stderr) == (0, "")
    assert out.read_text().startswith("id,h0,")


@needs_gat
@pytest.mark.parametrize("args", [
    ["weights", "convert", str(PYG), "-o", "-"],
    ["embed", str(KARATE / "edges.csv"), str(KARATE / "features.csv"), "-o", "{tmp}/e.csv",
     "--save-weights", "-"],
    ["train", str(KARATE / "edges.csv"), str(KARATE / "features.csv"),
     str(KARATE / "labels.csv"), "-o", "-"],
], ids=["convert", "save-weights", "train"])
def test_weights_never_go_to_a_terminal(args: list[str], tmp_path: Path) -> None:
    """Every weights output follows one rule: '-' is stdout, but a binary archive is not
    written to a terminal; refused before any work."""
    primary, secondary = os.openpty()
    try:
        result = subprocess.run([GAT, *[a.replace("{tmp}", str(tmp_path)) for a in args]],
                                stdout=secondary, stderr=subprocess.PIPE, text=True,
                                env=_env(), timeout=120)
    finally:
        os.close(secondary)
        os.close(primary)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "gat: error: -: weights are a binary .npz archive: not written to a terminal; give a "
        "file name or pipe stdout into a program")
    assert not list(tmp_path.iterdir())


@needs_gat
@pytest.mark.parametrize("args", [["explain"], ["explain", "--step", "softmax"],
                                  ["explain", "--lang", "zh"],
                                  ["explain", "--layer-type", "gatv2", "--layers", "1",
                                   "--heads", "1", "--out-dim", "2"],
                                  ["explain", str(KARATE / "edges.csv"),
                                   str(KARATE / "features.csv"), "--node", "0"],
                                  ["weights", "show", str(PYG)], ["--help"],
                                  ["docs", "formats"]])
def test_ascii_stream_gets_ascii(args: list[str]) -> None:
    result = subprocess.run([GAT, *args], capture_output=True, env=_env(PYTHONIOENCODING="ascii"),
                            timeout=120)
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode("ascii")  # raises if anything is not ASCII
    assert "Traceback" not in result.stderr.decode("ascii", "replace")
    if args[:1] == ["explain"] and "--node" not in args:
        assert "alpha" in text and "->" in text
    if args[:1] == ["weights"]:
        assert "+---" in text or "|" in text  # rich's ASCII box


@needs_gat
def test_ascii_stream_and_chinese_fall_back_to_english() -> None:
    result = subprocess.run([GAT, "explain", "--lang", "zh"], capture_output=True,
                            env=_env(PYTHONIOENCODING="ascii"), timeout=120)
    assert result.returncode == 0
    assert "?" * 3 not in result.stdout.decode("ascii")
    assert "tutorial's worked example" in result.stdout.decode("ascii")
    assert b"English" in result.stderr


@needs_gat
@pytest.mark.parametrize("columns", ["0", "-3", "abc", "", "99999999999", "5"])
def test_odd_columns_never_empty_the_messages(columns: str) -> None:
    env = _env(COLUMNS=columns)
    usage = subprocess.run([GAT, "embed", "x.csv"], capture_output=True, text=True, env=env,
                           timeout=60)
    assert usage.returncode == 2
    assert usage.stderr.startswith("gat: error: Missing argument 'FEATURES'")
    assert len(usage.stderr.splitlines()) == 1
    for args in (["--help"], ["embed", "--help"], ["explain", "--step", "softmax"]):
        result = subprocess.run([GAT, *args], capture_output=True, text=True, env=env,
                                timeout=60)
        assert result.returncode == 0
        assert len(result.stdout.splitlines()) > 5
        assert max(len(line) for line in result.stdout.splitlines()) <= 1000


#: (arguments, what the one line must say) of parse errors found by typer/click and by gat
USAGE_ERRORS = [
    (["embed", "g.csv"], r"Missing argument 'FEATURES'"),
    (["embed", "g.csv", "f.csv", "--heads", "0"], r"'--heads'.*greater than or equal to 1"),
    (["embed", "g.csv", "f.csv", "--layers", "two"], r"'--layers'.*integer"),
    (["embed", "g.csv", "f.csv", "--negative-slope", "steep"], r"'--negative-slope'"),
    (["embed", "g.csv", "f.csv", "--frobnicate"], r"No such option: --frobnicate"),
    (["embed", "g.csv", "f.csv", "--dtype", "float16"], r"'--dtype'.*float16"),
    (["embed", "g.csv", "f.csv", "-o"], r"Option '-o' requires an argument"),
    (["embed", "g.csv", "f.csv", "extra"], r"unexpected extra argument.*\(extra\)"),
    (["embd"], r"No such command 'embd'. Did you mean 'embed'\?"),
    (["--frobnicate"], r"No such option: --frobnicate"),
    (["explain", "--step", "sofmax"], r"'--step'.*sofmax"),
    (["explain", "--layer", "-1"], r"'--layer'"),
    (["explain", "--lang", "fr"], r"'--lang'.*fr"),
    (["explain", "--layer", "5"], r"--layer 5: the model has 1 layer"),
    (["weights", "show"], None),  # the help page, on stderr
    (["weights", "show", "a.npz", "--format", "xml"], r"'--format'"),
    (["weights", "frob"], r"No such command 'frob'"),
    (["docs", "nope"], r"no documentation topic 'nope'"),
    (["embed", "-", "-"], r"only one of GRAPH and FEATURES can be read from stdin"),
]


@pytest.mark.parametrize("args, expect", USAGE_ERRORS, ids=lambda v: str(v))
def test_usage_errors_in_process(args: list[str], expect: str | None) -> None:
    import re

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    if expect is None:
        assert result.stderr.startswith("Usage: gat weights show")
        return
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("gat: error: ")
    assert re.search(expect, lines[0]), lines[0]
    assert "╭" not in lines[0] and "Traceback" not in lines[0]


@needs_gat
def test_usage_errors_installed() -> None:
    for args, expect in USAGE_ERRORS[:6]:
        result = subprocess.run([GAT, *args], capture_output=True, text=True, env=_env(),
                                timeout=60)
        assert result.returncode == 2
        assert len(result.stderr.splitlines()) == 1
        assert result.stderr.startswith("gat: error: ")
        assert expect is None or "(usage: gat " in result.stderr


def test_json_outputs_are_strict(tmp_path: Path) -> None:
    def reject(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    for args in (["explain", "--format", "json"], ["weights", "show", str(PYG), "--format",
                                                   "json"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        json.loads(result.stdout, parse_constant=reject)
