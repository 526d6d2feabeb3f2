"""Every example in README.md runs and prints what the README says it prints.

Examples are the fenced ```console blocks: a line starting with ``$ `` is a command (run with
bash in a scratch directory that sees the repository's ``examples/`` and ``tests/fixtures/``),
the lines after it are its expected output (stdout and stderr together). In expected output, a
line ``...`` stands for any number of lines and ``...`` inside a line for any text. A number
right before ``...`` is shown to fewer digits than printed (float64's last digits differ between
BLAS builds) and must agree to the last digit shown; other numbers match to a relative 1e-4,
so the README does not break on the last bits of a BLAS kernel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def readme_examples() -> list[tuple[int, str, list[str]]]:
    """(line number, command, expected output lines) of every ``$`` line in console blocks."""
    examples: list[tuple[int, str, list[str]]] = []
    in_block = False
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            in_block = line.strip() == "```console" if not in_block else False
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            examples.append((number, line[2:], []))
        elif examples:
            examples[-1][2].append(line)
    return examples


def _numbers_close(expected: str, actual: str, shown_digits: bool = False) -> bool:
    """Close to a relative 1e-4, or with ``shown_digits``, to one unit of the last decimal
    that ``expected`` shows (``0.5091031513`` covers 0.5091031512..0.5091031514)."""
    a, b = float(expected), float(actual)
    if shown_digits:
        mantissa = expected.lower().split("e")[0]
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        exponent = int(expected.lower().split("e")[1]) if "e" in expected.lower() else 0
        return abs(a - b) <= 10.0 ** (exponent - decimals) * (1 + 1e-9)
    return abs(a - b) <= 1e-4 * max(1.0, abs(a), abs(b))


def line_matches(expected: str, actual: str) -> bool:
    """Literal text equal, numbers close, ``...`` matching anything."""
    pattern = ""
    numbers: list[tuple[str, bool]] = []
    parts = expected.rstrip().split("...")
    for k, part in enumerate(parts):
        if k:
            pattern += ".*?"
        pos = 0
        found = list(NUMBER.finditer(part))
        for m in found:
            pattern += re.escape(part[pos:m.start()]) + f"({NUMBER.pattern})"
            truncated = m is found[-1] and m.end() == len(part) and k < len(parts) - 1
            numbers.append((m.group(), truncated))
            pos = m.end()
        pattern += re.escape(part[pos:])
    match = re.fullmatch(pattern, actual.rstrip())
    if not match:
        return False
    return all(_numbers_close(e, a, shown) for (e, shown), a in zip(numbers, match.groups()))


def output_matches(expected: list[str], actual: list[str]) -> bool:
    """Match line by line; an expected line that is exactly ``...`` absorbs any lines."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head.strip() == "...":
        return any(output_matches(rest, actual[k:]) for k in range(len(actual) + 1))
    return bool(actual) and line_matches(head, actual[0]) and output_matches(rest, actual[1:])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory in which the README's relative paths resolve and outputs stay apart."""
    if shutil.which("gat") is None:
        pytest.fail("the gat command is not installed (pip install -e '.[test]')")
    here = tmp_path_factory.mktemp("readme")
    (here / "examples").symlink_to(ROOT / "examples")
    (here / "tests").mkdir()
    (here / "tests" / "fixtures").symlink_to(ROOT / "tests" / "fixtures")
    return here


def python_examples() -> list[tuple[int, str]]:
    """(line number, code) of every ```python example block."""
    blocks: list[tuple[int, str]] = []
    code: list[str] | None = None
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if code is None and line.strip() == "```python example":
            code, start = [], number
        elif code is not None and line.startswith("```"):
            blocks.append((start, "\n".join(code)))
            code = None
        elif code is not None:
            code.append(line)
    return blocks


@pytest.mark.parametrize(("line", "code"), python_examples(),
                         ids=[f"README.md:{n}" for n, _ in python_examples()])
def test_readme_python_example(tmp_path: Path, line: int, code: str) -> None:
    """The library example runs, and prints what its comments say."""
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, f"README.md:{line}:\n{done.stderr}"
    promised = [c.split("#", 1)[1].split(":")[0].strip() for c in code.splitlines()
                if c.startswith("print(") and "#" in c]
    assert done.stdout.split() and " ".join(promised) == done.stdout.strip()


def test_readme_has_examples() -> None:
    commands = [command for _, command, _ in readme_examples()]
    assert len(commands) >= 8
    assert any(c.startswith("gat embed") for c in commands)
    assert any(c.startswith("gat explain") for c in commands)
    assert python_examples()


EXAMPLES = readme_examples()


def jq_shown_from_gat_output(scratch: Path, line: int, command: str, expected: list[str],
                             env: dict[str, str]) -> None:
    """Without jq: gat's side of the pipe is strict JSON lines, and every object the README
    shows jq printing is taken from them: its id is a record's id and each of its numbers
    is in that record's embedding (to the README's precision)."""
    gat_side = command.split("| jq", 1)[0]
    done = subprocess.run(["bash", "-c", gat_side], cwd=scratch, env=env, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, f"README.md:{line}: exit {done.returncode}\n{done.stderr}"

    def refuse(constant: str) -> None:
        raise AssertionError(f"README.md:{line}: {constant} is not JSON")

    records = {r["id"]: r for r in (json.loads(text, parse_constant=refuse)
                                    for text in done.stdout.splitlines())}
    assert expected
    for shown in map(json.loads, expected):
        record = records[shown["id"]]
        for value in shown.values():
            if isinstance(value, float):
                assert any(abs(v - value) <= 1e-6 * max(1.0, abs(v))
                           for v in record["embedding"]), (line, shown)


@pytest.mark.parametrize(("line", "command", "expected"), EXAMPLES,
                         ids=[f"README.md:{n}" for n, _, _ in EXAMPLES])
def test_readme_example(scratch: Path, line: int, command: str, expected: list[str]) -> None:
    env = dict(os.environ, COLUMNS="80", NO_COLOR="1", TERM="dumb")
    env.pop("FORCE_COLOR", None)
    if re.search(r"\| *jq\b", command) and shutil.which("jq") is None:
        jq_shown_from_gat_output(scratch, line, command, expected, env)
        return
    done = subprocess.run(["bash", "-c", command], cwd=scratch, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    actual = done.stdout.rstrip("\n").splitlines()
    assert done.returncode == 0, f"README.md:{line}: exit {done.returncode}\n{done.stdout}"
    assert output_matches(expected, actual), (
        f"README.md:{line}: `{command}` printed:\n" + "\n".join(actual)
        + "\n--- but the README shows:\n" + "\n".join(expected))


@pytest.mark.parametrize(("expected", "actual", "ok"), [
    ("id,h0", "id,h0", True),
    ("0,-0.11481877,0.5", "0,-0.114818774,0.5", True),
    ("0,-0.1148", "0,-0.1248", False),
    ("wrote 34 x 8 ... to karate.csv", "wrote 34 x 8 embeddings to karate.csv", True),
    ("wrote 34 x 8", "wrote 35 x 8", False),
    # a number before "..." agrees to the last digit shown, whatever follows
    ("0,-0.2739460541...,0.5", "0,-0.27394605410232165,0.5", True),
    ("0,-0.2739460541...,0.5", "0,-0.27394605419,0.5", True),
    ("0,-0.2739460541...,0.5", "0,-0.2739460545,0.5", False),
    ("0,-0.2739460541...", "0,-0.27394605410232165", True),
])
def test_line_matching(expected: str, actual: str, ok: bool) -> None:
    assert line_matches(expected, actual) is ok


def test_ellipsis_lines() -> None:
    assert output_matches(["a", "...", "z"], ["a", "b", "c", "z"])
    assert output_matches(["a", "...", "z"], ["a", "z"])
    assert not output_matches(["a", "...", "z"], ["a", "b"])
    assert not output_matches(["a"], ["a", "b"])
