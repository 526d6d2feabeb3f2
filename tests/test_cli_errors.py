"""Every bad input ends in one clear stderr line, the documented exit code, and no output
file created, truncated or half-written (issue 5).

The cases live in tests/error_cases.py; docs/errors.md shows the message of each, as
produced by docs/make_errors_table.py running the installed ``gat``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from error_cases import (
    CASES,
    PREVIOUS_OUTPUT,
    Case,
    case_id,
    listing,
    make_case_dir,
    run_installed,
    simulate,
)
from typer.testing import CliRunner

from gatcli.cli import app

GAT = shutil.which("gat")
needs_gat = pytest.mark.skipif(GAT is None, reason="the gat console script is not installed")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "errors.md"


def check_outcome(case: Case, code: int, stderr: str, before: dict[str, bytes],
                  after: dict[str, bytes]) -> None:
    """Exit code, exactly one ``gat: error:`` line (none on success), message, files."""
    assert code == case.code, f"exit {code}, stderr {stderr!r}"
    lines = stderr.splitlines()
    if case.ok:
        assert lines == []
    else:
        assert len(lines) == 1, f"expected one stderr line, got {lines!r}"
        assert lines[0].startswith("gat: error: ")
        assert re.search(case.expect, lines[0]), lines[0]
        assert "Traceback" not in stderr
        assert after == before, "a failed run changed, created or removed a file"
    assert not [name for name in after if name.endswith(".tmp")], "temporary file left"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_case_in_process(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_case_dir(case, tmp_path)
    monkeypatch.chdir(tmp_path)
    if case.simulate:
        simulate(case.simulate,
                 lambda obj, name, value: monkeypatch.setattr(obj, name, value, raising=False))
    before = listing(tmp_path)
    result = CliRunner().invoke(app, case.args)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    check_outcome(case, result.exit_code, result.stderr, before, listing(tmp_path))
    if case.ok:
        assert (tmp_path / "out.csv").read_bytes() != PREVIOUS_OUTPUT
    else:
        message = result.stderr.strip().replace("|", "\\|")
        assert f"`{message}`" in DOCS.read_text(encoding="utf-8"), (
            "docs/errors.md is out of date: run python docs/make_errors_table.py")


#: one or more cases of every group, run with the installed console script
INSTALLED = ["files-graph-file-missing", "files-graph-unreadable-permission-simulated",
             "files-binary-garbage-as-edge-list", "files-adjacency-npz-named-csv",
             "files-name-ends-in-gz-content-is-not-gzip",
             "files-utf-8-bom-crlf-line-endings-no-final-newline-accepted",
             "edge-list-wrong-column-count-on-line-3", "edge-list-id-not-in-the-features",
             "features-non-numeric-cell", "features-nan",
             "features-width-differs-from-the-weights-input-size",
             "adjacency-not-square-mtx", "weights-wrong-shape", "config-yaml-syntax-error",
             "outputs-output-is-an-input", "outputs-disk-full-while-writing-simulated",
             "outputs-ctrl-c-while-writing-simulated", "numbers-float32-overflow-in-the-output",
             "usage-attention-with-embeddings-on-stdout", "usage-missing-argument",
             "usage-a-number-below-the-option-s-minimum", "usage-an-unknown-option",
             "usage-an-unknown-command", "weights-outputs-save-weights-to-a-name-that-is-not-npz",
             "binary-files-npy-features-whose-header-claims-10-12-values",
             "binary-files-adjacency-npz-an-encrypted-member",
             "binary-files-a-fifo-as-sparse-npz-features-accepted-read-once",
             "resources-gzip-bomb-as-a-mtx-nul-bytes", "weights-a-torch-save-file-pt",
             "weights-an-unknown-member-refused-before-it-is-loaded"]


@needs_gat
def test_installed_gat_on_broken_files(tmp_path: Path) -> None:
    by_id = {case_id(case): case for case in CASES}
    chosen = [by_id[name] for name in INSTALLED]

    def run(case: Case) -> None:
        root = make_case_dir(case, tmp_path / case_id(case))
        before = listing(root)
        result = run_installed(case, root, GAT)
        check_outcome(case, result.returncode, result.stderr.decode(), before, listing(root))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(run, chosen))


def test_case_ids_are_unique() -> None:
    ids = [case_id(case) for case in CASES]
    assert len(ids) == len(set(ids))
    assert set(INSTALLED) <= set(ids)


# -- a reader that goes away, Ctrl-C ----------------------------------------------------------


def _chain(tmp_path: Path, n: int) -> None:
    """features x.npy (n, 3) and edges e.csv (a ring), large enough to fill a pipe."""
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(n, 3)))
    nodes = np.arange(n)
    np.savetxt(tmp_path / "e.csv", np.stack([nodes, (nodes + 1) % n], axis=1), fmt="%d",
               delimiter=",")


@needs_gat
@pytest.mark.parametrize("attention_to_stdout", [False, True])
def test_closed_stdout_is_quiet_exit_0(tmp_path: Path, attention_to_stdout: bool) -> None:
    n = 20_000
    _chain(tmp_path, n)
    args = (f'"{GAT}" embed e.csv x.npy -o emb.csv --attention -' if attention_to_stdout
            else f'"{GAT}" embed e.csv x.npy')
    shell = f'{args} 2>err.txt | head -1; echo "status=${{PIPESTATUS[0]}}"'
    result = subprocess.run(["bash", "-c", shell], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    first, status = result.stdout.splitlines()
    assert first == ("layer,head,target,source,alpha" if attention_to_stdout
                     else "id,h0,h1,h2,h3,h4,h5,h6,h7")
    assert status == "status=0"
    assert (tmp_path / "err.txt").read_text() == ""
    if attention_to_stdout:  # the file output was finished before stdout: it is kept
        assert len((tmp_path / "emb.csv").read_text().splitlines()) == n + 1
    assert not list(tmp_path.glob(".*.tmp"))


def _default_signal_dispositions() -> None:
    """In the child: a background job starts with SIGINT ignored, and under nohup SIGHUP;
    gat rightly keeps an ignored signal ignored, so the test restores the defaults."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


@needs_gat
@pytest.mark.parametrize("signum, message", [
    (signal.SIGINT, "interrupted"), (signal.SIGTERM, "interrupted by SIGTERM"),
    (signal.SIGHUP, "interrupted by SIGHUP")])
def test_signal_while_writing_exits_128_plus_n_and_leaves_no_temporary(
        tmp_path: Path, signum: int, message: str) -> None:
    # A run that finishes its write before the signal lands proves nothing: try a larger graph.
    for n in (100_000, 300_000, 1_000_000):
        _chain(tmp_path, n)
        (tmp_path / "out.csv").write_bytes(PREVIOUS_OUTPUT)
        # the numpy writer: polars writes these rows too fast to be interrupted reliably
        process = subprocess.Popen([GAT, "embed", "e.csv", "x.npy", "-o", "out.csv"],
                                   cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env={**os.environ, "GAT_IO_ENGINE": "numpy"},
                                   preexec_fn=_default_signal_dispositions)
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".gat-*.tmp")):
            assert process.poll() is None, "the run ended before its output was being written"
            assert time.monotonic() < deadline
            time.sleep(0.001)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
        if process.returncode != 0:
            break
    assert process.returncode == 128 + signum
    assert stderr.decode().splitlines() == [f"gat: error: {message}"]
    assert stdout == b""
    assert (tmp_path / "out.csv").read_bytes() == PREVIOUS_OUTPUT
    assert sorted(os.listdir(tmp_path)) == ["e.csv", "out.csv", "x.npy"]
