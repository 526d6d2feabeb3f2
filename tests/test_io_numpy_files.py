"""numpy's containers read with every claim checked first (gatcli/io/numpy_files.py), and
torch files given as weights (issue 11).

Most kinds are error cases (tests/error_cases.py) and bombs under a memory cap
(tests/test_resource_limits.py); here: what needs torch, stdin, or a look inside.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from error_cases import npy_header, zip_of

from gatcli.errors import GatError
from gatcli.io import numpy_files
from gatcli.io.numpy_files import NpzArchive, load_arrays, read_npy_header
from gatcli.model import limits
from gatcli.model.weights import load_weights, read_npz


def test_a_header_is_read_without_its_data() -> None:
    stream = io.BytesIO(npy_header((3, 4), "<f4") + bytes(48))
    header = read_npy_header(stream, "x.npy")
    assert (header.shape, header.dtype, header.nbytes) == ((3, 4), np.dtype("<f4"), 48)
    assert stream.tell() == header.offset == 128  # padded to a multiple of 64 bytes


def test_an_npz_member_is_loaded_only_when_asked(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, small=np.arange(3), large=np.zeros(10_000))
    loaded: list[str] = []
    real = numpy_files.np.lib.format.read_array
    monkeypatch.setattr(numpy_files.np.lib.format, "read_array",
                        lambda stream, **kw: loaded.append(stream.name) or real(stream, **kw))

    def refuse_large(archive: NpzArchive) -> None:
        assert archive.headers["large"].nbytes == 80_000
        assert archive.load("small").tolist() == [0, 1, 2]
        raise GatError("refused", archive.where("large"))

    buffer.seek(0)
    with pytest.raises(GatError, match="x.npz: member 'large': refused"):
        load_arrays(buffer, "x.npz", "arrays", refuse_large)
    assert loaded == ["small.npy"]


def test_true_sizes_beyond_the_memory_are_refused_before_loading(
        monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((100, 10)))
    buffer.seek(0)
    monkeypatch.setattr(limits, "available_memory", lambda: 5_000)
    with pytest.raises(GatError, match=r"^x\.npy: the array of shape \(100, 10\) of float64 "
                                       r"\(8 kB\) is more than the 5 kB of memory available$"):
        load_arrays(buffer, "x.npy", "features")


def test_an_encrypted_member_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "data.npy", np.ones(3))
    if shutil.which("zip"):  # really encrypted by the zip program
        subprocess.run(["zip", "-q", "-P", "secret", "a.npz", "data.npy"], cwd=tmp_path,
                       check=True)
    else:  # the flag zip sets on an encrypted member, on a stored one
        (tmp_path / "a.npz").write_bytes(zip_of({"data.npy": (tmp_path / "data.npy")
                                                 .read_bytes()}, encrypted=("data.npy",)))
    with open(tmp_path / "a.npz", "rb") as handle, pytest.raises(
            GatError, match=r"a\.npz: member 'data': encrypted \(password-protected\)"):
        load_arrays(handle, "a.npz", "arrays")


def test_stdin_npy_is_read_up_to_the_end_its_header_announces(tmp_path: Path) -> None:
    """An .npy on stdin followed by more bytes: the array is read, the rest left alone;
    a header claiming more than the memory is refused before anything is read."""
    data = io.BytesIO()
    np.save(data, np.arange(12.0).reshape(4, 3))
    spooled = numpy_files.spool(io.BytesIO(data.getvalue() + b"trailing"), "<stdin>", "x")
    assert spooled == data.getvalue()
    with pytest.raises(GatError, match=r"<stdin>: the array of shape \(1000000, 1000000\)"):
        numpy_files.spool(io.BytesIO(npy_header((10**6, 10**6))), "<stdin>", "x")


# -- torch.save files as --weights -----------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_a_torch_file_is_named_and_its_export_works(tmp_path: Path, legacy: bool) -> None:
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(0)
    state = {"conv.lin.weight": torch.randn(4, 3, generator=generator),
             "conv.att_src": torch.randn(1, 2, 2, generator=generator),
             "conv.att_dst": torch.randn(1, 2, 2, generator=generator)}
    name = "model.pth" if legacy else "model.pt"
    torch.save(state, tmp_path / name, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(GatError) as info:
        read_npz(tmp_path / name)
    message = str(info.value)
    kind = "a PyTorch file (torch.save, legacy format)" if legacy else \
        "a PyTorch file (torch.save)"
    assert message.startswith(f"{tmp_path / name}: this is {kind}, not a weights .npz")
    command = re.search(r'python -c "(.*)"$', message).group(1)
    subprocess.run([sys.executable, "-c", command], cwd=tmp_path, check=True, timeout=600)
    model = load_weights(tmp_path / "model.npz")
    assert np.array_equal(model.layers[0].params["lin.weight"], state["conv.lin.weight"].numpy())


def test_a_zip_that_is_not_numpy_is_named_by_its_member(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "w.npz", "w") as archive:
        archive.writestr("README", "not an array")
    with pytest.raises(GatError, match=r"w\.npz: member 'README': not a numpy array"):
        read_npz(tmp_path / "w.npz")


# -- FIFOs: every binary input read once ------------------------------------------------------


def test_parquet_and_matrix_market_from_fifos(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Parquet (which polars reads by seeking) and .mtx given as FIFOs: read once."""
    pl = pytest.importorskip("polars")
    from error_cases import _fifo
    from typer.testing import CliRunner

    from gatcli.cli import app

    monkeypatch.chdir(tmp_path)
    features, edges = io.BytesIO(), io.BytesIO()
    pl.DataFrame({"id": ["a", "b", "c"], "x0": [1.0, 2.0, 3.0]}).write_parquet(features)
    pl.DataFrame({"source": ["a", "b"], "target": ["b", "c"]}).write_parquet(edges)
    _fifo("f.parquet", features.getvalue())(tmp_path)
    _fifo("e.parquet", edges.getvalue())(tmp_path)
    _fifo("a.mtx", b"%%MatrixMarket matrix coordinate pattern general\n3 3 1\n1 2\n")(tmp_path)
    (tmp_path / "x.csv").write_text("x0\n1\n2\n3\n")
    for args in (["e.parquet", "f.parquet"], ["a.mtx", "x.csv"]):
        result = CliRunner().invoke(app, ["embed", *args, "-q", "-o", "out.csv"])
        assert (result.exit_code, result.stderr) == (0, "")
        assert len((tmp_path / "out.csv").read_text().splitlines()) == 4


def test_a_header_numpy_reads_with_a_python_2_note_gives_no_warning(tmp_path, recwarn):
    """A line break inside the header's padding makes numpy parse it the Python 2 way and
    warn; the warning would be a second line on stderr (found by tests/test_fuzz_readers.py)."""
    from gatcli.io.readers import read_features

    buffer = io.BytesIO()
    np.save(buffer, np.arange(12.0).reshape(4, 3))
    raw = buffer.getvalue()
    middle = raw.index(b"}") + 20  # in the header's padding
    damaged = raw[:middle] + b"\n" + raw[middle:]
    path = tmp_path / "x.npy"
    path.write_bytes(damaged)
    try:
        assert read_features(str(path)).values.shape == (4, 3)
    except GatError:
        pass
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]
