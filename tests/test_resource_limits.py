"""Bombs under a memory cap: every kind of input that expands far beyond its size (issue 11)
ends in one clear error line and exit 1, within a fixed address-space budget.

Each run is the installed ``gat`` in a subprocess whose address space (``RLIMIT_AS``) is
capped at a baseline, measured here on a small legitimate run, plus 1.5 GiB. Without the
checks each of these inputs would take gigabytes (a MemoryError, an "out of memory" message
naming nothing, or a machine swapping). The inputs are built cheaply: a gzip bomb from
repeated gzip members, huge arrays as sparse files or as headers followed by a few bytes.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from error_cases import npy_header, weights_arrays

resource = pytest.importorskip("resource")

GAT = shutil.which("gat")
pytestmark = [
    pytest.mark.skipif(GAT is None, reason="the gat console script is not installed"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS on Linux"),
]

GIB = 1 << 30
#: what a bad input may take beyond a small legitimate run
HEADROOM = 3 * GIB // 2
#: the size a bomb claims or expands to: twice the headroom
BOMB = 3 * GIB

EDGES = b"0,1\n1,2\n2,3\n3,0\n"
PROBE = """
import atexit, sys
path = sys.argv[1]
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmPeak:"):
            open(path, "w").write(line.split()[1])
atexit.register(peak)
try:
    import polars  # noqa: F401  (the fast engine reserves address space when loaded)
except ImportError:
    pass
import yaml  # noqa: F401
sys.argv = ["gat"] + sys.argv[2:]
from gatcli.cli import main
main()
"""


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def gzip_bomb(path: Path, size: int, piece: bytes = bytes(1 << 20)) -> None:
    """``size`` bytes of ``piece`` repeated, as one gzip member per piece (a valid gzip
    stream: members may be concatenated), so that building it costs one compression."""
    member = gzip.compress(piece, compresslevel=9, mtime=0)
    with open(path, "wb") as out:
        for _ in range(size // len(piece)):
            out.write(member)


def sparse_zip(path: Path, members: dict[str, bytes], huge: str, head: bytes,
               size: int) -> None:
    """A zip (stored members) whose last member ``huge`` is ``head`` followed by ``size``
    bytes of a hole in a sparse file: its sizes are true, its data never written (its CRC is
    not computed, so a reader that loads it fails; gat must not even try)."""
    entries = [(name, data, zlib.crc32(data), len(data)) for name, data in members.items()]
    entries.append((huge, head, 0, len(head) + size))
    central = b""
    with open(path, "wb") as out:
        for name, data, crc, length in entries:
            offset = out.tell()
            encoded = name.encode()
            out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0x21, crc, length,
                                  length, len(encoded), 0) + encoded + data)
            if length > len(data):
                out.seek(length - len(data), os.SEEK_CUR)
            central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0x21, crc,
                                   length, length, len(encoded), 0, 0, 0, 0, 0,
                                   offset) + encoded
        start = out.tell()
        out.write(central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries),
                                        len(entries), len(central), start, 0))


def save_npz_members(n: int) -> dict[str, bytes]:
    """The members of a scipy.sparse.save_npz csr file of an n x n matrix, without data."""
    return {"format.npy": _npy(np.array(b"csr")), "shape.npy": _npy(np.array([n, n])),
            "indptr.npy": _npy(np.zeros(n + 1, np.int64))}


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bombs")
    (root / "edges.csv").write_bytes(EDGES)
    np.save(root / "x.npy", np.ones((4, 3)))
    (root / "m.yaml").write_text("layers:\n  - {out_dim: 2, heads: 2}\n  - {out_dim: 2}\n")
    # YAML: billion laughs (nine levels of nine aliases: 9**9 values) and deep nesting
    lines = ["a0: &a0 [" + ", ".join(["x"] * 9) + "]"]
    lines += [f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]" for k in range(1, 9)]
    (root / "laughs.yaml").write_text("\n".join(lines) + "\nlayers: *a8\n")
    (root / "deep.yaml").write_text("layers: " + "[" * 50_000 + "]" * 50_000 + "\n")
    (root / "wide.yaml").write_text(f"layers:\n  - {{out_dim: {10**12}, heads: 8}}\n")
    # gzip: 3 MB expanding to 3 GiB, as an edge list, a Matrix Market file, a YAML file
    gzip_bomb(root / "bomb.csv.gz", BOMB)
    for name in ("bomb.mtx.gz", "bomb.yaml"):
        os.link(root / "bomb.csv.gz", root / name)
    # and 3 GiB of blank lines (text, so only the size can stop it) as svmlight features
    gzip_bomb(root / "blank.svm.gz", BOMB, b"\n" * (1 << 20))
    # weights: a 3 GiB member that belongs to no layer (true sizes; a sparse file)
    arrays = weights_arrays()
    sparse_zip(root / "junk_weights.npz", {f"{k}.npy": _npy(v) for k, v in arrays.items()},
               "junk.npy", npy_header((BOMB // 8,)), BOMB)
    # a PyG export whose weight matrix is 3 GiB (true sizes)
    sparse_zip(root / "big_pyg.npz", {"conv.att_src.npy": _npy(np.ones((1, 1, 2))),
                                      "conv.att_dst.npy": _npy(np.ones((1, 1, 2)))},
               "conv.lin.weight.npy", npy_header((BOMB // 24, 3)), BOMB)
    # an adjacency and features whose arrays are 3 GiB (true sizes)
    sparse_zip(root / "big_adj.npz", save_npz_members(4), "data.npy",
               npy_header((BOMB // 8,)), BOMB)
    with open(root / "big.npy", "wb") as out:
        out.write(npy_header((BOMB // 24, 3)))
        out.truncate(len(npy_header((BOMB // 24, 3))) + BOMB)
    # headers claiming 8 TB, followed by a few bytes
    (root / "claims.npy").write_bytes(npy_header((10**6, 10**6)) + bytes(64))
    with zipfile.ZipFile(root / "claims_adj.npz", "w") as archive:
        for name, data in save_npz_members(4).items():
            archive.writestr(name, data)
        archive.writestr("indices.npy", _npy(np.arange(4)))
        archive.writestr("data.npy", npy_header((10**12,)) + bytes(64))
    # weights whose layer claims 8 TB (a damaged header)
    with zipfile.ZipFile(root / "claims_weights.npz", "w") as archive:
        for key, value in arrays.items():
            data = npy_header((10**12,)) + bytes(64) if key.endswith("lin.weight") else _npy(value)
            archive.writestr(f"{key}.npy", data)
    return root


#: (what, arguments): each must end in one error line, exit 1
RUNS = [
    ("YAML billion laughs", ["embed", "edges.csv", "x.npy", "-c", "laughs.yaml"]),
    ("YAML nested 50000 levels deep", ["embed", "edges.csv", "x.npy", "-c", "deep.yaml"]),
    ("YAML out_dim 10**12", ["embed", "edges.csv", "x.npy", "-c", "wide.yaml"]),
    ("--hidden 10**12", ["embed", "edges.csv", "x.npy", "--hidden", str(10**12)]),
    ("gzip bomb edge list", ["embed", "bomb.csv.gz", "x.npy"]),
    ("gzip bomb .mtx", ["embed", "bomb.mtx.gz", "x.npy"]),
    ("gzip bomb YAML", ["embed", "edges.csv", "x.npy", "-c", "bomb.yaml"]),
    ("gzip bomb of blank lines, svmlight", ["embed", "edges.csv", "blank.svm.gz"]),
    ("weights with a 3 GiB unknown member", ["embed", "edges.csv", "x.npy", "-w",
                                             "junk_weights.npz"]),
    ("weights show, the same file", ["weights", "show", "junk_weights.npz"]),
    ("PyG weights of 3 GiB", ["embed", "edges.csv", "x.npy", "-w", "big_pyg.npz"]),
    ("adjacency .npz of 3 GiB", ["embed", "big_adj.npz", "x.npy"]),
    ("features .npy of 3 GiB", ["embed", "edges.csv", "big.npy"]),
    ("features .npy claiming 8 TB", ["embed", "edges.csv", "claims.npy"]),
    ("adjacency .npz claiming 8 TB", ["embed", "claims_adj.npz", "x.npy"]),
    ("weights claiming 8 TB", ["weights", "convert", "claims_weights.npz", "-o", "w.npz"]),
]


def baseline(root: Path) -> int:
    """Peak address space (bytes) of a small legitimate run with the same modules loaded."""
    peak = root / "peak.txt"
    subprocess.run([sys.executable, "-c", PROBE, str(peak), "embed", "edges.csv", "x.npy",
                    "-c", "m.yaml", "-o", "out.csv", "-q"], cwd=root, check=True,
                   capture_output=True, timeout=300)
    return int(peak.read_text()) * 1024


def test_every_bomb_is_one_error_line_within_the_cap(bombs: Path) -> None:
    cap = baseline(bombs) + HEADROOM

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    def run(args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([GAT, *args], cwd=bombs, capture_output=True, timeout=300,
                              preexec_fn=limit, stdin=subprocess.DEVNULL,
                              env={**os.environ, "COLUMNS": "200"})

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, [args for _, args in RUNS]))
    problems = []
    for (what, _), result in zip(RUNS, results):
        stderr = result.stderr.decode(errors="replace")
        lines = stderr.splitlines()
        if (result.returncode != 1 or len(lines) != 1 or not lines[0].startswith("gat: error: ")
                or "Traceback" in stderr or "out of memory" in stderr):
            problems.append(f"{what}: exit {result.returncode}, stderr {stderr[-500:]!r}")
    assert not problems, "\n".join(problems)
