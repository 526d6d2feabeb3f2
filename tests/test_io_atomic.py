"""Output targets (gatcli.io.atomic): what each kind of path is, and that nothing which is
not a regular file gets replaced by one (issue 11).

Regular files: atomic replacement (tests/test_errors_io.py covers disk full and Ctrl-C);
symbolic links: written through, atomically at the target; character devices and FIFOs:
written in place; directories, sockets: refused.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gatcli.cli import app
from gatcli.errors import GatError
from gatcli.io.atomic import (
    atomic_outputs,
    atomic_writer,
    check_output_path,
    output_target,
)

is_root = hasattr(os, "geteuid") and os.geteuid() == 0
needs_root = pytest.mark.skipif(not is_root, reason="creating a device node needs root")

FEATURES = "id,x0,x1\na,1,2\nb,3,4\nc,5,6\n"
EDGES = "a,b\nb,c\n"


def _write(path: str, data: bytes) -> None:
    with atomic_writer(path) as out:
        out.write(data)


def _null_device(path: Path) -> Path:
    """A character device like /dev/null (major 1, minor 3) at ``path``."""
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return path


def _no_temporaries(*directories: Path) -> None:
    for directory in directories:
        assert not [n for n in os.listdir(directory) if n.endswith(".tmp")]


def test_symlink_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "t.csv").write_bytes(b"old")
    link = tmp_path / "link.csv"
    link.symlink_to(real / "t.csv")
    _write(str(link), b"new")
    assert link.is_symlink() and os.readlink(link) == str(real / "t.csv")
    assert (real / "t.csv").read_bytes() == b"new"
    _no_temporaries(tmp_path, real)


def test_relative_and_chained_symlinks_resolve_to_the_final_file(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "final.csv").write_bytes(b"old")
    (tmp_path / "d" / "mid.csv").symlink_to("final.csv")  # relative to d/
    (tmp_path / "top.csv").symlink_to("d/mid.csv")
    target = output_target(str(tmp_path / "top.csv"))
    assert target.kind == "file" and target.file == (tmp_path / "d" / "final.csv").resolve()
    with atomic_outputs():
        _write(str(tmp_path / "top.csv"), b"new")
        assert (tmp_path / "d" / "final.csv").read_bytes() == b"old"  # not before the end
    assert (tmp_path / "d" / "final.csv").read_bytes() == b"new"
    assert (tmp_path / "top.csv").is_symlink() and (tmp_path / "d" / "mid.csv").is_symlink()


def test_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    (tmp_path / "link.csv").symlink_to("made.csv")
    _write(str(tmp_path / "link.csv"), b"data")
    assert (tmp_path / "link.csv").is_symlink()
    assert (tmp_path / "made.csv").read_bytes() == b"data"
    (tmp_path / "bad.csv").symlink_to("nowhere/made.csv")
    with pytest.raises(GatError, match=r"bad\.csv: output directory .*nowhere' does not exist"):
        check_output_path(str(tmp_path / "bad.csv"))


def test_symlink_loop_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a.csv").symlink_to("b.csv")
    (tmp_path / "b.csv").symlink_to("a.csv")
    with pytest.raises(GatError, match=r"a\.csv: cannot use as an output: Too many levels"):
        check_output_path(str(tmp_path / "a.csv"))


def test_fifo_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    with atomic_outputs():
        _write(str(fifo), b"through the pipe")
    reader.join(10)
    assert received == [b"through the pipe"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    _no_temporaries(tmp_path)


@needs_root
def test_character_device_is_written_in_place_never_replaced(tmp_path: Path) -> None:
    device = _null_device(tmp_path / "null.npz")
    check_output_path(str(device))
    check_output_path(str(device), [], [str(device)])  # two outputs may share /dev/null
    with atomic_outputs():
        _write(str(device), b"discarded")
    info = os.lstat(device)
    assert stat.S_ISCHR(info.st_mode) and info.st_rdev == os.makedev(1, 3)
    _no_temporaries(tmp_path)


def test_a_write_error_on_a_device_is_named(tmp_path: Path) -> None:
    with pytest.raises(GatError, match=r"^/dev/full: could not write: No space left"):
        with atomic_writer("/dev/full") as out:
            out.write(b"x" * 100_000)


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), r"is a directory, expected an output file path"),
    (lambda p: socket.socket(socket.AF_UNIX).bind(str(p)),
     r"is a socket; refusing to write to it \(gat writes regular files, character devices"),
])
def test_other_non_regular_targets_are_refused(tmp_path: Path, make, message) -> None:
    path = tmp_path / "odd.csv"
    make(path)
    with pytest.raises(GatError, match=message):
        check_output_path(str(path))
    with pytest.raises(GatError, match=message):
        _write(str(path), b"x")
    assert not path.is_file()


def test_empty_name_and_a_file_used_as_directory(tmp_path: Path) -> None:
    with pytest.raises(GatError, match=r"^the output file name is empty"):
        check_output_path("")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(GatError, match=r"a part of the output path is a file"):
        check_output_path(str(tmp_path / "file" / "out.csv"))


def test_longest_valid_name_works(tmp_path: Path) -> None:
    name = tmp_path / ("n" * 251 + ".csv")  # 255 bytes: the usual limit of a file name
    _write(str(name), b"ok")
    assert name.read_bytes() == b"ok"
    _no_temporaries(tmp_path)


def _inputs(root: Path) -> None:
    (root / "f.csv").write_text(FEATURES)
    (root / "e.csv").write_text(EDGES)


@needs_root
def test_cli_save_weights_and_outputs_onto_a_device(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    device = _null_device(tmp_path / "null.csv")
    result = CliRunner().invoke(app, ["embed", "e.csv", "f.csv", "-o", "null.csv", "-q",
                                      "--attention", "null.csv", "--save-weights", "null.csv"])
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    result = CliRunner().invoke(app, ["embed", "e.csv", "f.csv", "--save-weights", "w.npz",
                                      "-q"])
    assert result.exit_code == 0
    result = CliRunner().invoke(app, ["weights", "convert", "w.npz", "-o", "null.csv.npz",
                                      "-q"])
    assert result.exit_code == 0
    _no_temporaries(tmp_path)


def test_cli_outputs_through_symlinks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "store").mkdir()
    for name in ("emb.npy", "att.csv", "w.npz", "conv.npz"):
        (tmp_path / "store" / name).write_bytes(b"old")
        (tmp_path / name).symlink_to(Path("store") / name)
    result = CliRunner().invoke(app, ["embed", "e.csv", "f.csv", "-o", "emb.npy", "-q",
                                      "--attention", "att.csv", "--save-weights", "w.npz"])
    assert result.exit_code == 0, result.stderr
    result = CliRunner().invoke(app, ["weights", "convert", "w.npz", "-o", "conv.npz", "-q"])
    assert result.exit_code == 0, result.stderr
    for name in ("emb.npy", "att.csv", "w.npz", "conv.npz"):
        assert (tmp_path / name).is_symlink()
        assert (tmp_path / "store" / name).read_bytes() != b"old"
    assert np.load(tmp_path / "emb.npy").shape == (3, 8)
    _no_temporaries(tmp_path, tmp_path / "store")


@pytest.mark.parametrize("args", [
    ["embed", "e.csv", "f.csv", "-o", ""],
    ["embed", "e.csv", "f.csv", "--attention", ""],
    ["embed", "e.csv", "f.csv", "--save-weights", ""],
])
def test_cli_empty_output_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               args: list[str]) -> None:
    _inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "gat: error: the output file name is empty; give a file name or - for stdout"]
