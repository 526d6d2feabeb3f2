"""Progress display: only on a terminal, forced by --progress, silenced by --quiet."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gatcli.cli import common

ROOT = Path(__file__).resolve().parents[1]
KARATE = ROOT / "examples" / "graphs" / "karate"


def test_no_progress_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(type(common.err), "is_terminal", property(lambda self: False))
    assert not common.progress_wanted(True, False, [])
    assert not common.progress_wanted(None, False, [])


def test_progress_choice_on_a_terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(type(common.err), "is_terminal", property(lambda self: True))
    small = tmp_path / "small.csv"
    small.write_text("source,target\n0,1\n")
    assert common.progress_wanted(True, False, [str(small)])
    assert not common.progress_wanted(None, False, [str(small)])
    assert not common.progress_wanted(True, True, [str(small)])  # --quiet wins
    assert not common.progress_wanted(False, False, [str(small)])
    monkeypatch.setattr(common, "PROGRESS_INPUT_BYTES", 10)
    assert common.progress_wanted(None, False, [str(small), "-"])


def _in_a_terminal(args: str, tmp_path: Path) -> str:
    if shutil.which("script") is None or shutil.which("gat") is None:
        pytest.fail("needs util-linux `script` and the installed gat")
    command = (f"gat embed {KARATE / 'edges.csv'} {KARATE / 'features.csv'} "
               f"-o {tmp_path / 'out.csv'} {args}")
    done = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout
    return done.stdout


def test_forced_progress_shows_reading_layers_and_writing(tmp_path: Path) -> None:
    shown = _in_a_terminal("--progress", tmp_path)
    for phase in ("read features", "layer 0 (of 2)", "layer 1 (of 2)", "write"):
        assert phase in shown


def test_default_progress_stays_away_on_small_inputs(tmp_path: Path) -> None:
    shown = _in_a_terminal("", tmp_path)
    assert "layer 0 (of 2)" not in shown
    assert "wrote 34 x 8 embeddings" in shown
