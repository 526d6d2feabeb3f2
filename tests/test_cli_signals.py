"""SIGTERM, SIGHUP and Ctrl-C at any point of a run: exit 128 + N and one line on stderr,
also when the signal arrives while typer parses the options or loads the subcommand (typer
would turn it into a silent exit 130) or while an input is parsed (issue 11).

The signal handlers (gatcli.cli.signals) raise Terminated in the main thread; these tests
raise it at the chosen point instead of racing a real signal against the clock.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

import gatcli.cli.embed
import gatcli.cli.help
from gatcli.cli.root import command
from gatcli.cli.signals import Terminated

KARATE = Path(__file__).resolve().parents[1] / "examples" / "graphs" / "karate"
EMBED = ["embed", str(KARATE / "edges.csv"), str(KARATE / "features.csv")]


def _raise(interrupt: KeyboardInterrupt):
    def raising(*args, **kwargs):
        raise interrupt

    return raising


@pytest.mark.parametrize("interrupt, code, line", [
    (Terminated(signal.SIGTERM), 143, "gat: error: interrupted by SIGTERM"),
    (Terminated(signal.SIGHUP), 129, "gat: error: interrupted by SIGHUP"),
    (KeyboardInterrupt(), 130, "gat: error: interrupted"),
], ids=["SIGTERM", "SIGHUP", "SIGINT"])
@pytest.mark.parametrize("where", ["parsing options", "reading the features"])
def test_an_interrupt_anywhere_is_one_line_and_128_plus_n(monkeypatch, capsys, interrupt, code,
                                                          line, where):
    if where == "parsing options":
        monkeypatch.setattr(gatcli.cli.help, "use_plain_coercion", _raise(interrupt))
    else:
        monkeypatch.setattr(gatcli.cli.embed, "read_features", _raise(interrupt))
    assert command().main(EMBED, prog_name="gat", standalone_mode=False) == code
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [line]
    assert captured.out == ""
