"""Option values converted without pydantic (gatcli.cli.coerce) are what typer's own
conversion gives, on every parameter of every command; what it does not decide goes to
typer (same values, same messages)."""

from __future__ import annotations

import os
import subprocess
import sys
from enum import Enum
from pathlib import Path

import pytest
from typer import _click as click
from typer._coercion import build_runtime_param
from typer.core import _TyperParameter

from gatcli.cli.coerce import UNDECIDED, PlainCoercion, plain_value
from gatcli.cli.root import COMMANDS, _load, command

ROOT = Path(__file__).resolve().parents[1]
KARATE = ROOT / "examples" / "graphs" / "karate"

RAW = ["0", "1", "8", "007", "-1", "+3", "1.5", "0.2", "-0.5", ".5", "5.", "1e3", "1E-3",
       "0.99", "1.0", "2", "abc", "", " 8", "8 ", "1_000", "nan", "inf", "-inf", "１",
       "float32", "FLOAT32", "float64", "gat", "gatv2", "csv", "npy", "0", "auto", "link",
       "x" * 30, "9" * 25, True, False, 3, 2.5]


def commands() -> list[click.Command]:
    found = [command()]
    for name in COMMANDS:
        sub = _load(name)
        found.append(sub)
        found.extend(getattr(sub, "commands", {}).values())
    return found


def cases():
    for cmd in commands():
        for param in cmd.params:
            if isinstance(param, _TyperParameter):
                yield pytest.param(cmd, param, id=f"{cmd.name}-{param.name}")


def same(a, b) -> bool:
    return (a == b or (a != a and b != b)) and type(a) is type(b)


def typer_value(cmd: click.Command, param: _TyperParameter, value):
    ctx = click.Context(cmd)
    try:
        return build_runtime_param(param.type_descriptor).coerce(value, param=param, ctx=ctx)
    except click.exceptions.BadParameter as exc:
        return ("error", exc.format_message())


@pytest.mark.parametrize("cmd, param", list(cases()))
def test_plain_values_are_typers_values(cmd: click.Command, param: _TyperParameter) -> None:
    decided = 0
    for value in [*RAW, param.default, None]:
        quick = plain_value(param, value, click.Context(cmd))
        if quick is UNDECIDED:
            continue
        decided += 1
        expected = typer_value(cmd, param, value)
        assert same(quick, expected), (value, quick, expected)
    if not (param.multiple or param.nargs != 1):
        assert decided, "every single-valued parameter has plain values"


@pytest.mark.parametrize("cmd, param", list(cases()))
def test_undecided_values_go_to_typer(cmd: click.Command, param: _TyperParameter) -> None:
    coercion = PlainCoercion(param)
    for value in RAW:
        ctx = click.Context(cmd)
        expected = typer_value(cmd, param, value)
        try:
            got = coercion.coerce(value, param, ctx)
        except click.exceptions.BadParameter as exc:
            got = ("error", exc.format_message())
        assert same(got, expected), value
        if isinstance(expected, Enum):
            assert got is expected


def test_embed_imports_no_pydantic_polars_rich_or_yaml() -> None:
    """Start-up (issue 12): a small embed run needs none of them."""
    code = ("import sys; sys.argv = ['gat', 'embed', sys.argv[1], sys.argv[2], '-o', "
            "sys.argv[3]]\nfrom gatcli.cli import main\ntry:\n    main()\nexcept SystemExit:\n"
            "    pass\nprint(' '.join(sorted(m for m in ('pydantic', 'polars', 'rich', 'yaml') "
            "if m in sys.modules)))")
    for engine, expected in (("auto", ""), ("polars", "polars")):
        done = subprocess.run([sys.executable, "-c", code, str(KARATE / "edges.csv"),
                               str(KARATE / "features.csv"), "/dev/null"],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "GAT_IO_ENGINE": engine})
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == expected, engine
