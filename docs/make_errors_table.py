"""Regenerate the tables of docs/errors.md by running every case of tests/error_cases.py
with the installed ``gat`` (each in a fresh directory, as the tests do).

    python docs/make_errors_table.py          # rewrite docs/errors.md between the markers
    python docs/make_errors_table.py --check  # exit 1 if the file is out of date
"""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from error_cases import CASES, Case, make_case_dir, run_installed  # noqa: E402

DOC = ROOT / "docs" / "errors.md"
START, END = "<!-- cases:start -->", "<!-- cases:end -->"


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def run(case: Case, gat: str) -> tuple[Case, int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_case_dir(case, Path(tmp))
        result = run_installed(case, root, gat)
    return case, result.returncode, result.stderr.decode().strip()


def tables(gat: str) -> str:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda case: run(case, gat), CASES))
    out: list[str] = []
    group = None
    for case, code, stderr in results:
        if code != case.code or len(stderr.splitlines()) > 1:
            raise SystemExit(f"{case.what}: exit {code}, stderr {stderr!r}")
        if case.group != group:
            group = case.group
            out += ["", f"### {group}", "", "| Case | Command | Exit | Message on stderr |",
                    "| --- | --- | --- | --- |"]
        command = "gat " + shlex.join(case.args)
        message = f"`{cell(stderr)}`" if stderr else "(none: accepted)"
        out.append(f"| {cell(case.what)} | `{cell(command)}` | {code} | {message} |")
    return "\n".join(out[1:])


def main() -> int:
    gat = shutil.which("gat")
    if gat is None:
        raise SystemExit("the gat console script is not installed (pip install -e .)")
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{tables(gat)}\n{END}{tail}"
    if "--check" in sys.argv:
        return 0 if new == text else 1
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
