"""Every bad input of issue 5 as a runnable case: the files to create, the ``gat`` arguments,
the exit code and the message expected.

Shared by tests/test_cli_errors.py (which runs every case in-process and a set of them with
the installed ``gat``) and docs/make_errors_table.py (which runs every case with the
installed ``gat`` and writes the table of docs/errors.md). Each case runs in a fresh
directory holding the base files below plus its own, with a pre-existing ``out.csv`` that a
failed run must leave byte-identical.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import re
import struct
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from gatcli.model.spec import Layer, LayerSpec, Model
from gatcli.model.weights import own_layout_arrays

TESTS_DIR = Path(__file__).resolve().parent
PREVIOUS_OUTPUT = b"previous output, must survive a failed run\n"

FEATURES = b"id,x0,x1,x2\na,0.1,0.2,0.3\nb,1,-1,0.5\nc,2,0,-2\nd,0.5,0.5,0.5\n"
PLAIN_FEATURES = b"x0,x1,x2\n0.1,0.2,0.3\n1,-1,0.5\n2,0,-2\n0.5,0.5,0.5\n"
EDGES = b"source,target\na,b\nb,c\nc,d\nd,a\n"
INT_EDGES = b"0,1\n1,2\n2,3\n3,0\n"


def npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def save_npz(matrix: sp.sparray) -> bytes:
    buffer = io.BytesIO()
    sp.save_npz(buffer, matrix)
    return buffer.getvalue()


def weights_arrays(scale: float = 1.0, in_dim: int = 3) -> dict[str, np.ndarray]:
    """A one-layer, one-head GAT (in_dim -> 2) with simple deterministic weights."""
    spec = LayerSpec(in_dim=in_dim, out_dim=2, heads=1, concat=False, bias=False)
    params = {"lin.weight": np.full((2, in_dim), 0.5) * scale,
              "att_src": np.array([[[1.0, -1.0]]]), "att_dst": np.array([[[0.5, 0.5]]])}
    return own_layout_arrays(Model([Layer(spec, params)]))


def with_array(**changes: np.ndarray | None) -> bytes:
    """The weights file with some arrays replaced (or removed, for None)."""
    arrays = weights_arrays()
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    return npz(**arrays)


BASE_FILES = {
    "features.csv": FEATURES,
    "plain.csv": PLAIN_FEATURES,
    "edges.csv": EDGES,
    "int_edges.csv": INT_EDGES,
    "weights.npz": npz(**weights_arrays()),
    "out.csv": PREVIOUS_OUTPUT,
}


@dataclass
class Case:
    """One run of ``gat`` on a bad (or tricky but valid) input."""

    group: str
    what: str
    args: list[str]
    expect: str  # regex the stderr line must match ("" for a successful run: no stderr)
    files: dict[str, bytes] = field(default_factory=dict)
    code: int = 1
    simulate: str | None = None  # see ``simulate``
    setup: Callable[[Path], None] | None = None

    @property
    def ok(self) -> bool:
        return self.code == 0


def embed(graph: str = "edges.csv", features: str = "features.csv", *extra: str) -> list[str]:
    return ["embed", graph, features, "-o", "out.csv", *extra]


def train(labels: str = "labels.csv", graph: str = "edges.csv",
          features: str = "features.csv", *extra: str) -> list[str]:
    return ["train", graph, features, labels, "-o", "model.npz", "--epochs", "2", *extra]


def _binary_garbage() -> bytes:
    return bytes(np.random.default_rng(5).integers(0, 256, 200, dtype=np.uint8))


def _mkdir(name: str) -> Callable[[Path], None]:
    return lambda root: (root / name).mkdir()


def _alias_bomb(levels: int = 9, width: int = 9) -> bytes:
    """A few hundred bytes of YAML whose aliases expand to width**levels values."""
    lines = ["a0: &a0 [" + ", ".join(["x"] * width) + "]"]
    for k in range(1, levels):
        lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * width) + "]")
    return ("\n".join(lines) + f"\nlayers: *a{levels - 1}\n").encode()


def _socket(name: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        import socket

        cwd = os.getcwd()
        os.chdir(root)  # a short relative name: socket paths are limited to ~100 bytes
        try:
            socket.socket(socket.AF_UNIX).bind(name)
        finally:
            os.chdir(cwd)
    return make


def _out_through_symlink(root: Path) -> None:
    """out.csv becomes a link to store/out.csv (holding the previous output)."""
    (root / "store").mkdir()
    (root / "out.csv").rename(root / "store" / "out.csv")
    (root / "out.csv").symlink_to(Path("store") / "out.csv")


BIG = str(10**20)


# -- binary files: numpy headers, zip members, torch files, FIFOs ------------------------------


def npy_header(shape: tuple, descr: str = "<f8", *, length: int | None = None) -> bytes:
    """An .npy (version 1.0) header claiming ``shape`` of ``descr``, without data;
    ``length`` overrides the header length field (a damaged one)."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    text += " " * (-(10 + len(text) + 1) % 64) + "\n"
    return (b"\x93NUMPY\x01\x00" + struct.pack("<H", length if length is not None
                                               else len(text)) + text.encode("latin-1"))


def zip_of(members: dict[str, bytes], encrypted: tuple[str, ...] = ()) -> bytes:
    """A zip archive of raw members (stored); those in ``encrypted`` flagged as encrypted
    (as ``zip -e`` marks them; a reader must refuse them before reading)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    data = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    for name in encrypted:
        local = infos[name].header_offset
        data[local + 6] |= 1
        central = data.index(b"PK\x01\x02")
        while bytes(data[central + 46:central + 46 + len(name) + 1]) != name.encode() + b"P":
            central = data.index(b"PK\x01\x02", central + 1)
        data[central + 8] |= 1
    return bytes(data)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npz_with(arrays: dict[str, np.ndarray], raw: dict[str, bytes]) -> bytes:
    """An .npz of ``arrays`` plus raw members (name -> bytes, e.g. a damaged header)."""
    return zip_of({**{f"{k}.npy": npy_bytes(v) for k, v in arrays.items()}, **raw})


def save_npz_arrays() -> dict[str, np.ndarray]:
    """The arrays scipy.sparse.save_npz writes for a 4 x 4 identity (csr)."""
    return {"format": np.array(b"csr"), "shape": np.array([4, 4]), "data": np.ones(4),
            "indices": np.arange(4), "indptr": np.arange(5)}


def weights_with(**changes: object) -> bytes:
    """The weights file with members replaced (arrays, or raw bytes of the .npy)."""
    arrays = weights_arrays()
    raw: dict[str, bytes] = {}
    for key, value in changes.items():
        key = key.replace("__", ".")
        arrays.pop(key, None)
        if isinstance(value, bytes):
            raw[f"{key}.npy"] = value
        elif value is not None:
            arrays[key] = value
    return npz_with(arrays, raw)


def architecture_with(change: Callable[[list], object]) -> bytes:
    """The weights file with its stored architecture (a JSON list) changed."""
    import json

    layers = json.loads(str(weights_arrays()["gatcli.architecture"]))
    return weights_with(gatcli__architecture=np.array(json.dumps(change(layers))))


#: the first bytes of a legacy torch.save file (pickle protocol 2, torch's magic number)
TORCH_LEGACY = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03."
#: the members of a torch.save zip (a state_dict of two tensors), contents abridged
TORCH_ZIP = zip_of({"m/data.pkl": b"\x80\x02}q\x00.", "m/.format_version": b"1",
                    "m/byteorder": b"little", "m/data/0": b"\x00" * 24,
                    "m/data/1": b"\x00" * 8, "m/version": b"3\n"})


def _fifo(name: str, data: bytes) -> Callable[[Path], None]:
    """``name`` becomes a FIFO that a background thread fills with ``data`` once gat opens
    it (the writer gives up after two minutes without a reader)."""
    def make(root: Path) -> None:
        path = root / name
        os.mkfifo(path)

        def feed() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                except OSError as exc:  # ENXIO: no reader yet
                    if exc.errno != errno.ENXIO:
                        return
                    time.sleep(0.01)
                    continue
                os.set_blocking(fd, True)
                try:
                    with os.fdopen(fd, "wb") as out:
                        out.write(data)
                except OSError:  # the reader stopped early (an error): EPIPE
                    pass
                return

        threading.Thread(target=feed, daemon=True).start()
    return make


def gzip_of(data: bytes, repeat: int = 1) -> bytes:
    """``data`` * ``repeat`` gzipped, written a piece at a time (a small bomb)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0) as out:
        for _ in range(repeat):
            out.write(data)
    return buffer.getvalue()


#: 4 MB of memory: a quarter is 1 MB, the most of a text read whole
FOUR_MB = "memory:0.004G"
#: 100 kB of memory, for arrays whose headers are true but too large
HUNDRED_KB = "memory:0.0001G"
#: messages about sizes name the memory available: the same amount on every machine
SIXTEEN_GB = "memory:16G"


def _mtx(header: str, body: str) -> bytes:
    return f"%%MatrixMarket matrix {header}\n{body}".encode()


CASES: list[Case] = [
    # -- files ------------------------------------------------------------------------------
    Case("Files", "graph file missing", embed("nope.csv"), r"nope\.csv: no such file"),
    Case("Files", "features file missing", embed("edges.csv", "nope.csv"),
         r"nope\.csv: no such file"),
    Case("Files", "graph is a directory", embed("graphs"), r"graphs: is a directory",
         setup=_mkdir("graphs")),
    Case("Files", "graph unreadable (permission; simulated)", embed(),
         r"edges\.csv: permission denied", simulate="deny-read:edges.csv"),
    Case("Files", "features unreadable (permission; simulated)", embed(),
         r"features\.csv: permission denied", simulate="deny-read:features.csv"),
    Case("Files", "empty graph file", embed("empty.csv"), r"empty\.csv: empty file",
         files={"empty.csv": b""}),
    Case("Files", "empty features file", embed("edges.csv", "empty.csv"),
         r"empty\.csv: empty file", files={"empty.csv": b"\n\n"}),
    Case("Files", "only comments", embed("edges.csv", "comments.csv"),
         r"comments\.csv: only comments", files={"comments.csv": b"# nothing\n"}),
    Case("Files", "binary garbage as edge list", embed("garbage.csv"),
         r"garbage\.csv: binary data", files={"garbage.csv": _binary_garbage()}),
    Case("Files", "Latin-1 text", embed("edges.csv", "latin1.csv"),
         r"latin1\.csv:2: not UTF-8 text",
         files={"latin1.csv": b"id,x0\n\xe9t\xe9,1\n"}),
    Case("Files", "adjacency .npz named .csv", embed("adj.csv", "plain.csv"),
         r"adj\.csv: this is a zip archive \(\.npz\), not an edge list",
         files={"adj.csv": save_npz(sp.csr_array(np.eye(4)))}),
    Case("Files", "edge list named .npz", embed("edges.npz", "plain.csv"),
         r"edges\.npz: this is text, not a sparse matrix",
         files={"edges.npz": INT_EDGES}),
    Case("Files", "CSV features named .npy", embed("int_edges.csv", "features.npy"),
         r"features\.npy: this is text, not a features \.npy array",
         files={"features.npy": PLAIN_FEATURES}),
    Case("Files", "weights file that is a CSV", embed("edges.csv", "features.csv", "-w",
                                                      "w.npz"),
         r"w\.npz: not an \.npz \(zip\) archive", files={"w.npz": FEATURES}),
    Case("Files", "name ends in .gz, content is not gzip", embed("edges.csv.gz"),
         r"edges\.csv\.gz: the name ends in \.gz but the content is not gzip",
         files={"edges.csv.gz": EDGES}),
    Case("Files", "truncated gzip", embed("edges.csv.gz"),
         r"edges\.csv\.gz: corrupt or truncated gzip",
         files={"edges.csv.gz": gzip.compress(EDGES)[:-12]}),
    Case("Files", "UTF-8 BOM, CRLF line endings, no final newline (accepted)",
         embed("bom.csv", "bom_features.csv", "-q"), "", code=0,
         files={"bom.csv": b"\xef\xbb\xbf" + EDGES.replace(b"\n", b"\r\n").rstrip(),
                "bom_features.csv": b"\xef\xbb\xbf" + FEATURES.replace(b"\n", b"\r\n")}),
    Case("Files", "old Mac CR line endings (accepted)", embed("cr.csv", "features.csv", "-q"),
         "", code=0, files={"cr.csv": EDGES.replace(b"\n", b"\r")}),
    # -- edge lists -------------------------------------------------------------------------
    Case("Edge list", "wrong column count on line 3", embed("bad.csv"),
         r"bad\.csv:3: expected 2 columns like the header, found 3 \(read as comma-separated",
         files={"bad.csv": b"source,target\na,b\nb,c,d\n"}),
    Case("Edge list", "non-integer index, features without id column",
         embed("bad.csv", "plain.csv"), r"bad\.csv:2:2: 'x' is not an integer node index",
         files={"bad.csv": b"0,1\n1,x\n"}),
    Case("Edge list", "id not in the features", embed("bad.csv"),
         r"bad\.csv:3:2: node id 'zed' is not in the features' id column",
         files={"bad.csv": b"source,target\na,b\nb,zed\n"}),
    Case("Edge list", "negative index", embed("bad.csv", "plain.csv"),
         r"bad\.csv:2:1: node index -1 is out of range",
         files={"bad.csv": b"0,1\n-1,2\n"}),
    Case("Edge list", "index past the last row", embed("bad.csv", "plain.csv"),
         r"bad\.csv:1:2: node index 4 is out of range: the features have 4 rows \(0\.\.3\)",
         files={"bad.csv": b"0,4\n"}),
    Case("Edge list", "blank lines, comments, duplicate edges, self-loops (accepted)",
         embed("ok.csv", "plain.csv", "-q"), "", code=0,
         files={"ok.csv": b"# a comment\n\n0,1\n0,1\n  # an indented comment\n2,2\n\n"}),
    Case("Edge list", "zero edges: each node attends only to itself (accepted)",
         embed("none.csv", "plain.csv", "-q"), "", code=0,
         files={"none.csv": b"source,target\n"}),
    # -- node lists (--nodes) ---------------------------------------------------------------
    Case("Node list", "ids not in the features (the first few named)",
         embed("edges.csv", "features.csv", "--nodes", "nodes.txt"),
         r"nodes\.txt:2: 2 node ids are not in the features' id column: 'zed', 'yy' "
         r"\(line 4\)", files={"nodes.txt": b"b\nzed\na\nyy\n"}),
    Case("Node list", "index past the last row, features without id column",
         embed("int_edges.csv", "plain.csv", "--nodes", "nodes.txt"),
         r"nodes\.txt:2: node id '7' is not in the node rows 0\.\.3 \(the features have "
         r"no id column\)", files={"nodes.txt": b"0\n7\n"}),
    Case("Node list", "only a header", embed("edges.csv", "features.csv", "--nodes", "n.txt"),
         r"n\.txt: no node ids", files={"n.txt": b"id\n"}),
    Case("Node list", "header, comments, repeated ids (accepted: rows repeated)",
         embed("edges.csv", "features.csv", "-q", "--nodes", "nodes.txt"), "", code=0,
         files={"nodes.txt": b"id\n# chosen\nc\na\nc\n"}),
    # -- features ---------------------------------------------------------------------------
    Case("Features", "ragged row", embed("edges.csv", "bad.csv"),
         r"bad\.csv:3: expected 4 columns like the header, found 3",
         files={"bad.csv": b"id,x0,x1,x2\na,1,2,3\nb,1,2\nc,1,2,3\nd,1,2,3\n"}),
    Case("Features", "non-numeric cell", embed("edges.csv", "bad.csv"),
         r"bad\.csv:4:3: column 'x1': 'abc' is not a number",
         files={"bad.csv": b"id,x0,x1,x2\na,1,2,3\nb,1,2,3\nc,1,abc,3\nd,1,2,3\n"}),
    Case("Features", "NaN", embed("edges.csv", "bad.csv"),
         r"bad\.csv:3:4: column 'x2' is nan \(not finite\); use --allow-nonfinite",
         files={"bad.csv": b"id,x0,x1,x2\na,1,2,3\nb,1,2,nan\nc,1,2,3\nd,1,2,3\n"}),
    Case("Features", "inf in an .npy", embed("int_edges.csv", "bad.npy"),
         r"bad\.npy: row 2, column 1 \(counting from 0\) is inf \(not finite\)",
         files={"bad.npy": _npy(np.array([[1.0, 2], [3, 4], [5, np.inf], [7, 8]]))}),
    Case("Features", "duplicate ids", embed("edges.csv", "bad.csv"),
         r"bad\.csv:4: duplicate node id 'b' \(first on line 3\)",
         files={"bad.csv": b"id,x0\na,1\nb,2\nb,3\nd,4\n"}),
    Case("Features", "zero feature columns", embed("edges.csv", "bad.csv"),
         r"bad\.csv:1: no feature columns", files={"bad.csv": b"id\na\nb\nc\nd\n"}),
    Case("Features", "header but no rows", embed("none.csv", "bad.csv"),
         r"bad\.csv: no rows after the header",
         files={"bad.csv": b"x0,x1\n", "none.csv": b""}),
    Case("Features", "no header line: a first line of numbers is data (accepted; a note "
         "on stderr without -q)", embed("int_edges.csv", "bad.csv", "-q"), "", code=0,
         files={"bad.csv": b"1,2\n3,4\n5,6\n7,8\n"}),
    Case("Features", "width differs from the weights' input size",
         embed("edges.csv", "wide.csv", "-w", "weights.npz"),
         r"the features have 4 columns but the model's first layer expects 3 inputs",
         files={"wide.csv": b"id,x0,x1,x2,x3\na,1,2,3,4\nb,1,2,3,4\nc,1,2,3,4\nd,1,2,3,4\n"}),
    # -- sparse features (save_npz .npz, svmlight) -------------------------------------------
    Case("Sparse features", "svmlight: negative feature index",
         embed("int_edges.csv", "bad.svm"),
         r"bad\.svm:3: feature index -3: expected a non-negative integer",
         files={"bad.svm": b"# label index:value\n1 1:0.5\n0 2:1 -3:2\n1\n0 4:1\n"}),
    Case("Sparse features", "svmlight: index 0 with --svmlight-base 1",
         embed("int_edges.csv", "bad.svm", "--svmlight-base", "1"),
         r"bad\.svm:2: feature index 0: expected at least 1",
         files={"bad.svm": b"1 1:0.5\n0 0:1\n1\n0 4:1\n"}),
    Case("Sparse features", "svmlight: an index twice on one line",
         embed("int_edges.csv", "bad.svm"),
         r"bad\.svm:4: feature index 2 appears twice on this line",
         files={"bad.svm": b"1 1:0.5\n0 2:1\n1\n0 2:1 3:1 2:5\n"}),
    Case("Sparse features", "svmlight: NaN value", embed("int_edges.csv", "bad.svm"),
         r"bad\.svm:2: feature 2 is nan \(not finite\); use --allow-nonfinite",
         files={"bad.svm": b"1 1:0.5\n0 2:nan\n1\n0 4:1\n"}),
    Case("Sparse features", "svmlight: a token that is not index:value",
         embed("int_edges.csv", "bad.svm"),
         r"bad\.svm:1: '3=1' is not an index:value pair",
         files={"bad.svm": b"1 1:0.5 3=1\n0 2:1\n1\n0 4:1\n"}),
    Case("Sparse features", "svmlight: fewer lines than the graph's nodes",
         embed("int_edges.csv", "short.svm"),
         r"int_edges\.csv:3:2: node index 3 is out of range: the features have 3 rows",
         files={"short.svm": b"1 1:0.5\n0 2:1\n1\n"}),
    Case("Sparse features", ".npz: column index out of range",
         embed("int_edges.csv", "bad.npz"),
         r"bad\.npz: inconsistent csr matrix arrays \(indices must be in 0\.\.2\)",
         files={"bad.npz": npz(format=np.array(b"csr"), shape=np.array([4, 3]),
                               data=np.ones(2), indices=np.array([0, 5]),
                               indptr=np.array([0, 1, 2, 2, 2]))}),
    Case("Sparse features", ".npz: negative row index (coo)",
         embed("int_edges.csv", "bad.npz"),
         r"bad\.npz: inconsistent coo matrix arrays \(row must be in 0\.\.3\)",
         files={"bad.npz": npz(format=np.array(b"coo"), shape=np.array([4, 3]),
                               data=np.ones(2), row=np.array([0, -1]), col=np.array([0, 1]))}),
    Case("Sparse features", ".npz: an entry stored twice", embed("int_edges.csv", "bad.npz"),
         r"bad\.npz: row 2, column 1 \(counting from 0\) is stored more than once",
         files={"bad.npz": npz(format=np.array(b"coo"), shape=np.array([4, 3]),
                               data=np.ones(3), row=np.array([2, 0, 2]),
                               col=np.array([1, 1, 1]))}),
    Case("Sparse features", ".npz: infinite value", embed("int_edges.csv", "bad.npz"),
         r"bad\.npz: row 1, column 2 \(counting from 0\) is inf \(not finite\)",
         files={"bad.npz": save_npz(sp.csr_array(np.array([[1.0, 0, 0], [0, 0, np.inf],
                                                            [0, 0, 0], [0, 2, 0]])))}),
    Case("Sparse features", ".npz: fewer rows than the adjacency",
         embed("adj.npz", "feats.npz"),
         r"adj\.npz: adjacency is 4 x 4 but the features have 3 nodes",
         files={"adj.npz": save_npz(sp.csr_array(np.eye(4))),
                "feats.npz": save_npz(sp.csr_array(np.eye(3)))}),
    Case("Sparse features", ".npz: a dense array, not a sparse matrix",
         embed("int_edges.csv", "dense.npz"),
         r"dense\.npz: no 'format' key \(found: arr_0\); expected a sparse features matrix",
         files={"dense.npz": npz(arr_0=np.eye(4))}),
    # -- adjacency --------------------------------------------------------------------------
    Case("Adjacency", "dense array saved with np.savez", embed("dense.npz", "plain.csv"),
         r"dense\.npz: no 'format' key \(found: arr_0\); expected a sparse matrix",
         files={"dense.npz": npz(arr_0=np.eye(4))}),
    Case("Adjacency", "not square (.npz)", embed("rect.npz", "plain.csv"),
         r"rect\.npz: adjacency must be square, found shape 4 x 3",
         files={"rect.npz": save_npz(sp.csr_array(np.ones((4, 3))))}),
    Case("Adjacency", "size differs from the features (.npz)", embed("big.npz", "plain.csv"),
         r"big\.npz: adjacency is 5 x 5 but the features have 4 nodes",
         files={"big.npz": save_npz(sp.csr_array(np.eye(5)))}),
    Case("Adjacency", "index out of range inside the .npz", embed("broken.npz", "plain.csv"),
         r"broken\.npz: inconsistent csr matrix arrays",
         files={"broken.npz": npz(format=np.array(b"csr"), shape=np.array([4, 4]),
                                  data=np.ones(2), indices=np.array([0, 9]),
                                  indptr=np.array([0, 1, 2, 2, 2]))}),
    Case("Adjacency", "dense Matrix Market array", embed("dense.mtx", "plain.csv"),
         r"dense\.mtx:1: a dense Matrix Market array, not a sparse matrix",
         files={"dense.mtx": _mtx("array real general", "2 2\n1\n0\n0\n1\n")}),
    Case("Adjacency", "not square (.mtx)", embed("rect.mtx", "plain.csv"),
         r"rect\.mtx: adjacency must be square, found shape 4 x 3",
         files={"rect.mtx": _mtx("coordinate real general", "4 3 1\n1 1 1.0\n")}),
    Case("Adjacency", "size differs from the features (.mtx)", embed("big.mtx", "plain.csv"),
         r"big\.mtx: adjacency is 6 x 6 but the features have 4 nodes",
         files={"big.mtx": _mtx("coordinate pattern general", "6 6 1\n1 2\n")}),
    Case("Adjacency", "entry out of range (.mtx)", embed("oob.mtx", "plain.csv"),
         r"oob\.mtx:4: entry \(5, 1\) is not a pair of integers in 1\.\.4",
         files={"oob.mtx": _mtx("coordinate real general", "4 4 2\n1 2 1\n5 1 1\n")}),
    # -- binary files: headers checked against the data behind them before allocation ------
    Case("Binary files", ".npy features whose header claims 10**12 values",
         embed("int_edges.csv", "x.npy"),
         r"^gat: error: x\.npy: the header claims shape \(1000000, 1000000\) of float64 \(8 TB\), "
         r"but only 64 bytes of data follow it: the file is damaged or truncated$",
         files={"x.npy": npy_header((10**6, 10**6)) + bytes(64)}),
    Case("Binary files", ".npy features of Python objects (a pickle)",
         embed("int_edges.csv", "x.npy"),
         r"x\.npy: the array holds Python objects \(dtype object, a pickle\), which gat never "
         r"loads", files={"x.npy": npy_bytes(np.array([[1, "a"]] * 4, dtype=object))}),
    Case("Binary files", ".npy header that is not a dictionary", embed("int_edges.csv", "x.npy"),
         r"x\.npy: damaged \.npy header",
         files={"x.npy": b"\x93NUMPY\x01\x00\x08\x00[1, 2]\n " + bytes(32)}),
    Case("Binary files", ".npy header length of 60000 bytes", embed("int_edges.csv", "x.npy"),
         r"x\.npy: damaged \.npy header \(a header of 60000 bytes \(at most 10000\)\)",
         files={"x.npy": npy_header((4, 3), length=60000) + bytes(96)}),
    Case("Binary files", ".npy header with a negative size", embed("int_edges.csv", "x.npy"),
         r"x\.npy: damaged \.npy header \(negative size in shape \(4, -3\)\)",
         files={"x.npy": npy_header((4, -3)) + bytes(96)}),
    Case("Binary files", "adjacency .npz: a member's header claims 10**12 values",
         embed("a.npz", "plain.csv"),
         r"^gat: error: a\.npz: member 'data': the header claims shape \(1000000000000,\) of "
         r"float64 \(8 TB\), but only 64 bytes of data follow it",
         files={"a.npz": npz_with({k: v for k, v in save_npz_arrays().items() if k != "data"},
                                  {"data.npy": npy_header((10**12,)) + bytes(64)})}),
    Case("Binary files", "adjacency .npz: a pickled member",
         embed("a.npz", "plain.csv"),
         r"a\.npz: member 'data': the array holds Python objects",
         files={"a.npz": npz_with({**save_npz_arrays(),
                                   "data": np.array([1, "x", 1, 1], dtype=object)}, {})}),
    Case("Binary files", "adjacency .npz: a member that is not an array",
         embed("a.npz", "plain.csv"),
         r"a\.npz: member 'notes\.txt': not a numpy array \(\.npy\)",
         files={"a.npz": npz_with(save_npz_arrays(), {"notes.txt": b"hello"})}),
    Case("Binary files", "adjacency .npz: an encrypted member", embed("a.npz", "plain.csv"),
         r"a\.npz: member 'indices': encrypted \(password-protected\); gat reads unencrypted "
         r"\.npz archives only",
         files={"a.npz": zip_of({f"{k}.npy": npy_bytes(v) for k, v in save_npz_arrays().items()},
                                encrypted=("indices.npy",))}),
    Case("Binary files", "adjacency .npz: an unknown member (refused before it is loaded)",
         embed("a.npz", "plain.csv"),
         r"a\.npz: member 'extra': unexpected member \(shape \(1000,\) of float64 \(8 kB\)\)",
         files={"a.npz": npz(**save_npz_arrays(), extra=np.zeros(1000))}),
    Case("Binary files", "adjacency .npz: a damaged zip archive", embed("a.npz", "plain.csv"),
         r"a\.npz: damaged zip archive",
         files={"a.npz": npz(**save_npz_arrays())[:200]}),
    Case("Binary files", "adjacency .npz: true sizes, more than the memory (100 kB, "
         "simulated)", embed("a.npz", "plain.csv"),
         r"a\.npz: the members hold 2\.4 MB \(the largest, 'data', shape \(100000,\) of "
         r"float64 \(800 kB\)\), more than the 100 kB of memory available",
         simulate=HUNDRED_KB,
         files={"a.npz": npz(format=np.array(b"coo"), shape=np.array([4, 4]),
                             data=np.ones(100_000), row=np.zeros(100_000, np.int64),
                             col=np.zeros(100_000, np.int64))}),
    Case("Binary files", "sparse features .npz: a member's header claims 10**12 values",
         embed("int_edges.csv", "x.npz"),
         r"x\.npz: member 'indices': the header claims shape \(1000000000000,\) of int64 "
         r"\(8 TB\)",
         files={"x.npz": npz_with({k: v for k, v in save_npz_arrays().items()
                                   if k != "indices"},
                                  {"indices.npy": npy_header((10**12,), "<i8") + bytes(64)})}),
    Case("Binary files", "embeddings .npz as features: 'embeddings' claims 10**12 values",
         embed("int_edges.csv", "emb.npz"),
         r"emb\.npz: member 'embeddings': the header claims shape \(1000000, 1000000\)",
         files={"emb.npz": npz_with({"ids": np.arange(4)},
                                    {"embeddings.npy": npy_header((10**6, 10**6)) + bytes(64)})}),
    Case("Binary files", "embeddings .npz as features: an unknown member",
         embed("int_edges.csv", "emb.npz"),
         r"emb\.npz: unexpected key 'junk'; expected an embeddings \.npz from gat",
         files={"emb.npz": npz(embeddings=np.ones((4, 2)), ids=np.arange(4),
                               junk=np.zeros(1000))}),
    Case("Binary files", "a FIFO as .npy features (accepted)",
         embed("int_edges.csv", "fifo.npy", "-q"), "", code=0,
         setup=_fifo("fifo.npy", npy_bytes(np.ones((4, 3))))),
    Case("Binary files", "a FIFO as sparse .npz features (accepted: read once)",
         embed("int_edges.csv", "fifo.npz", "-q"), "", code=0,
         setup=_fifo("fifo.npz", save_npz(sp.csr_array(np.eye(4)[:, :3])))),
    Case("Binary files", "a FIFO as adjacency .npz (accepted)",
         embed("fifo.npz", "plain.csv", "-q"), "", code=0,
         setup=_fifo("fifo.npz", save_npz(sp.csr_array(np.eye(4))))),
    Case("Binary files", "a FIFO as --weights (accepted)",
         embed("edges.csv", "features.csv", "-q", "-w", "fifo.npz"), "", code=0,
         setup=_fifo("fifo.npz", npz(**weights_arrays()))),
    Case("Binary files", "a FIFO .npy whose header claims 8 TB (16 GB of memory, simulated)",
         embed("int_edges.csv", "fifo.npy"),
         r"fifo\.npy: the array of shape \(1000000, 1000000\) of float64 \(8 TB\) is more "
         r"than the 16 GB of memory available", simulate=SIXTEEN_GB,
         setup=_fifo("fifo.npy", npy_header((10**6, 10**6)) + bytes(1 << 16))),
    Case("Binary files", "UTF-8 BOM before %%MatrixMarket (accepted)",
         embed("bom.mtx", "plain.csv", "-q"), "", code=0,
         files={"bom.mtx": b"\xef\xbb\xbf" + _mtx("coordinate pattern general",
                                                  "4 4 2\n1 2\n2 3\n")}),
    # -- resources: compressed and nested inputs expand within bounds --------------------------
    Case("Resources", "gzip bomb as an edge list (10 MB of NUL bytes in 10 kB)",
         embed("edges.csv.gz"), r"edges\.csv\.gz: binary data \(NUL bytes\)",
         files={"edges.csv.gz": gzip_of(bytes(1 << 20), 10)}),
    Case("Resources", "gzip bomb as a .mtx (NUL bytes)", embed("a.mtx.gz", "plain.csv"),
         r"a\.mtx\.gz: binary data \(NUL bytes\); expected a Matrix Market",
         files={"a.mtx.gz": gzip_of(bytes(1 << 20), 10)}),
    Case("Resources", "gzip bomb as a YAML config", embed("edges.csv", "features.csv", "-c",
                                                        "m.yaml"),
         r"m\.yaml: binary data \(NUL bytes\); expected a YAML model file",
         files={"m.yaml": gzip_of(bytes(1 << 20), 10)}),
    Case("Resources", "gzip of text expanding past a quarter of the memory (4 MB, simulated)",
         embed("int_edges.csv", "x.svm.gz"),
         r"x\.svm\.gz: more than 1 MB of text once decompressed \(a quarter of the memory "
         r"available\), too much for svmlight", simulate=FOUR_MB,
         files={"x.svm.gz": gzip_of(b"\n" * (1 << 20), 3)}),
    Case("Resources", "gzip bomb as a YAML config of text", embed("edges.csv", "features.csv",
                                                                "-c", "m.yaml"),
         r"m\.yaml: too large for a YAML model file: more than 1 MB",
         files={"m.yaml": gzip_of(b"# padding\n" * (1 << 16), 10)}),
    # -- weights ----------------------------------------------------------------------------
    Case("Weights", "missing key", embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"w\.npz: layer 0: missing key 'att_dst' \(expected shape \(1, 1, 2\)\)",
         files={"w.npz": with_array(layers__0__att_dst=None)}),
    Case("Weights", "unknown key", embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"w\.npz: layer 0: unexpected keys \['extra'\] for this layer \(expected lin\.weight, "
         r"att_src, att_dst\)",
         files={"w.npz": with_array(layers__0__extra=np.ones(2))}),
    Case("Weights", "wrong shape", embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"w\.npz: layer 0: key 'lin\.weight' has shape \(3, 3\), expected \(2, 3\)",
         files={"w.npz": with_array(layers__0__lin__weight=np.ones((3, 3)))}),
    Case("Weights", "non-finite value", embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"w\.npz: layer 0: key 'att_src' has non-finite values",
         files={"w.npz": with_array(layers__0__att_src=np.array([[[np.nan, 1.0]]]))}),
    Case("Weights", "neither gatcli nor PyG weights",
         embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"w\.npz: neither a gat weights file", files={"w.npz": npz(a=np.ones(3))}),
    Case("Weights", "a member whose header claims 10**10 values",
         embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"w\.npz: member 'junk': the header claims shape \(10000000000,\) of float64 \(80 GB\)",
         files={"w.npz": weights_with(junk=npy_header((10**10,)) + bytes(64))}),
    Case("Weights", "an unknown member (refused before it is loaded)",
         embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"w\.npz: unknown keys \['junk'\] \(not part of any layer\)",
         files={"w.npz": weights_with(junk=np.zeros(1000))}),
    Case("Weights", "a layer's weight claims more than its data",
         embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"w\.npz: member 'layers\.0\.lin\.weight': the header claims shape "
         r"\(1000000000, 3\) of float64 \(24 GB\)",
         files={"w.npz": weights_with(layers__0__lin__weight=npy_header((10**9, 3))
                                      + bytes(48))}),
    Case("Weights", "a layer's weight of the wrong shape (refused before it is loaded)",
         embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"w\.npz: layer 0: key 'lin\.weight' has shape \(2000, 3\), expected \(2, 3\)",
         files={"w.npz": weights_with(layers__0__lin__weight=np.zeros((2000, 3)))}),
    Case("Weights", "a pickled member", embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"w\.npz: member 'layers\.0\.att_src': the array holds Python objects",
         files={"w.npz": weights_with(layers__0__att_src=np.array([[[1, "a"]]], dtype=object))}),
    Case("Weights", "architecture JSON nested 100000 levels deep",
         embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"w\.npz: gatcli\.architecture is JSON nested too deeply",
         files={"w.npz": weights_with(gatcli__architecture=np.array("[" * 100_000
                                                                    + "]" * 100_000))}),
    Case("Weights", "class names JSON nested 100000 levels deep",
         ["predict", "edges.csv", "features.csv", "-w", "w.npz", "-o", "out.csv"],
         r"w\.npz: gatcli\.classes is JSON nested too deeply",
         files={"w.npz": weights_with(gatcli__classes=np.array("[" * 100_000
                                                               + "]" * 100_000))}),
    Case("Weights", "architecture JSON with a 5000-digit number",
         embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"w\.npz: gatcli\.architecture is not valid JSON",
         files={"w.npz": weights_with(gatcli__architecture=np.array(
             '[{"in_dim": ' + "9" * 5000 + "}]"))}),
    Case("Weights", "architecture stored as an array of strings",
         embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"w\.npz: member 'gatcli\.architecture': the header claims shape \(3,\) of <U2 "
         r"\(24 bytes\); expected one value",
         files={"w.npz": weights_with(gatcli__architecture=np.array(["[]", "[]", "[]"]))}),
    Case("Weights", "architecture with in_dim 10**20 (16 GB of memory, simulated)",
         embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"the model is too large: layer 0 is 1 x 2 \(heads x features per head\) on "
         r"100000000000000000000 inputs \(w\.npz: gatcli\.architecture\[0\]\)",
         simulate=SIXTEEN_GB,
         files={"w.npz": architecture_with(lambda layers: [{**layers[0], "in_dim": 10**20}])}),
    Case("Weights", "a PyG export with an unknown member (refused before it is loaded)",
         embed("edges.csv", "features.csv", "-w", "w.npz"),
         r"w\.npz: key 'head\.weight' is not a GATConv/GATv2Conv parameter",
         files={"w.npz": npz(**{"conv1.lin.weight": np.ones((2, 3)),
                                "conv1.att_src": np.ones((1, 1, 2)),
                                "conv1.att_dst": np.ones((1, 1, 2)),
                                "head.weight": np.zeros((1000, 1000))})}),
    Case("Weights", "a torch.save file (.pt)", embed("edges.csv", "features.csv", "-w", "m.pt"),
         r"m\.pt: this is a PyTorch file \(torch\.save\), not a weights \.npz; export its "
         r"state_dict once with: python -c \"import torch, numpy as np; np\.savez\('m\.npz', "
         r"\*\*\{k: v\.numpy\(\) for k, v in torch\.load\('m\.pt', "
         r"map_location='cpu'\)\.items\(\)\}\)\"$", files={"m.pt": TORCH_ZIP}),
    Case("Weights", "a legacy torch.save file (.pth)",
         ["weights", "show", "m.pth"],
         r"m\.pth: this is a PyTorch file \(torch\.save, legacy format\), not a weights "
         r"\.npz; export .*np\.savez\('m\.npz'", files={"m.pth": TORCH_LEGACY}),
    Case("Weights", "a Python pickle", ["weights", "convert", "m.pkl", "-o", "w.npz"],
         r"m\.pkl: this is a Python pickle \(torch\.save\?\), not a weights \.npz",
         files={"m.pkl": b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}\x94."}),
    # -- YAML config ------------------------------------------------------------------------
    Case("Config", "YAML syntax error", embed("edges.csv", "features.csv", "-c", "m.yaml"),
         r"m\.yaml:3: YAML syntax error \(column \d+\)",
         files={"m.yaml": b"layers:\n  - {out_dim: 2\n  - heads: [\n"}),
    Case("Config", "unknown key", embed("edges.csv", "features.csv", "-c", "m.yaml"),
         r"m\.yaml: layers\[0\]: unknown key 'hedas'; allowed keys: out_dim, heads",
         files={"m.yaml": b"layers:\n  - {out_dim: 2, hedas: 4}\n"}),
    Case("Config", "bad value", embed("edges.csv", "features.csv", "-c", "m.yaml"),
         r"m\.yaml: layers\[1\]: activation: got 'gelu', expected one of none, elu",
         files={"m.yaml": b"layers:\n  - {out_dim: 2}\n  - {out_dim: 2, activation: gelu}\n"}),
    Case("Config", "missing out_dim", embed("edges.csv", "features.csv", "-c", "m.yaml"),
         r"m\.yaml: layers\[0\]: missing key 'out_dim'",
         files={"m.yaml": b"layers:\n  - {heads: 2}\n"}),
    Case("Config", "alias bomb (billion laughs, ~500 bytes)",
         embed("edges.csv", "features.csv", "-c", "m.yaml"),
         r"m\.yaml:\d+: the YAML holds more than 10000 values once its aliases are expanded",
         files={"m.yaml": _alias_bomb()}),
    Case("Config", "aliases of a mapping expanding past the budget",
         embed("edges.csv", "features.csv", "-c", "m.yaml"),
         r"m\.yaml:\d+: the YAML holds more than 10000 values",
         files={"m.yaml": b"l: &l {out_dim: 2, heads: 1}\nm: &m [" + b", ".join([b"*l"] * 100)
                + b"]\nn: &n [" + b", ".join([b"*m"] * 100) + b"]\nlayers: *n\n"}),
    Case("Config", "recursive alias", embed("edges.csv", "features.csv", "-c", "m.yaml"),
         r"m\.yaml:1: a YAML alias refers to the collection it is part of",
         files={"m.yaml": b"layers: &r [*r]\n"}),
    Case("Config", "nested 5000 levels deep (flow)",
         embed("edges.csv", "features.csv", "-c", "m.yaml"),
         r"m\.yaml:1: YAML nested more than 32 levels deep",
         files={"m.yaml": b"layers: " + b"[" * 5000 + b"]" * 5000 + b"\n"}),
    Case("Config", "nested 400 levels deep (block)",
         embed("edges.csv", "features.csv", "-c", "m.yaml"),
         r"m\.yaml:\d+: YAML nested more than 32 levels deep",
         files={"m.yaml": b"layers:\n" + b"".join(b"  " * k + b"- \n" for k in range(1, 400))}),
    Case("Config", "out_dim of 10**20 (16 GB of memory, simulated)",
         embed("edges.csv", "features.csv", "-c", "m.yaml"),
         r"the model is too large: layer 0 is 4 x 100000000000000000000 \(heads x features per "
         r"head\) on 3 inputs \(m\.yaml: layers\[0\]\).* of memory available",
         simulate=SIXTEEN_GB,
         files={"m.yaml": f"layers:\n  - {{out_dim: {BIG}, heads: 4}}\n".encode()}),
    Case("Config", "heads of 10**20 in a later layer (16 GB of memory, simulated)",
         embed("edges.csv", "features.csv", "-c", "m.yaml"),
         r"the model is too large: layer 1 is 100000000000000000000 x 2 .*\(m\.yaml: "
         r"layers\[1\]\)", simulate=SIXTEEN_GB,
         files={"m.yaml": f"layers:\n  - {{out_dim: 2}}\n  - {{out_dim: 2, heads: {BIG}}}\n"
                .encode()}),
    Case("Config", "negative_slope .nan", embed("edges.csv", "features.csv", "-c", "m.yaml"),
         r"m\.yaml: layers\[0\]: negative_slope: got nan, expected a finite number",
         files={"m.yaml": b"layers:\n  - {out_dim: 2, negative_slope: .nan}\n"}),
    Case("Config", "a 100 kB value is cut in the message",
         embed("edges.csv", "features.csv", "-c", "m.yaml"),
         r"m\.yaml: layers\[0\]: activation: got 'ggg+\.\.\., expected one of",
         files={"m.yaml": b"layers:\n  - {out_dim: 2, activation: " + b"g" * 100_000 + b"}\n"}),
    # -- outputs ----------------------------------------------------------------------------
    Case("Outputs", "output directory does not exist",
         ["embed", "edges.csv", "features.csv", "-o", "nowhere/out.csv"],
         r"nowhere/out\.csv: output directory 'nowhere' does not exist"),
    Case("Outputs", "no permission to write (simulated)", embed(),
         r"out\.csv: no permission to write in '\.'", simulate="deny-write"),
    Case("Outputs", "output is an input", ["embed", "edges.csv", "features.csv", "-o",
                                          "features.csv"],
         r"features\.csv: output would overwrite the input 'features\.csv'; refusing"),
    Case("Outputs", "same file for two outputs", embed("edges.csv", "features.csv",
                                                        "--attention", "./out.csv"),
         r"\./out\.csv: the same file is given for two outputs \('out\.csv'\); refusing"),
    Case("Outputs", "output path is a directory",
         ["embed", "edges.csv", "features.csv", "-o", "outdir"],
         r"outdir: is a directory, expected an output file path", setup=_mkdir("outdir")),
    Case("Outputs", "disk full while writing (simulated)", embed(),
         r"out\.csv: could not write: No space left on device", simulate="disk-full"),
    Case("Outputs", "Ctrl-C while writing (simulated)", embed(), r"interrupted", code=130,
         simulate="interrupt"),
    Case("Outputs", "empty output name", ["embed", "edges.csv", "features.csv", "-o", ""],
         r"^gat: error: the output file name is empty; give a file name or - for stdout$"),
    Case("Outputs", "empty --save-weights name", embed("edges.csv", "features.csv",
                                                       "--save-weights", ""),
         r"^gat: error: the output file name is empty"),
    Case("Outputs", "empty --attention name", embed("edges.csv", "features.csv",
                                                    "--attention", ""),
         r"^gat: error: the output file name is empty"),
    Case("Outputs", "output is a socket", ["embed", "edges.csv", "features.csv", "-o", "s.csv"],
         r"s\.csv: is a socket; refusing to write to it \(gat writes regular files, character "
         r"devices \(e\.g\. /dev/null\) and FIFOs\)", setup=_socket("s.csv")),
    Case("Outputs", "--save-weights onto a socket",
         embed("edges.csv", "features.csv", "--save-weights", "w.sock"),
         r"w\.sock: is a socket; refusing", setup=_socket("w.sock")),
    Case("Outputs", "a part of the output path is a file",
         ["embed", "edges.csv", "features.csv", "-o", "features.csv/out.csv"],
         r"features\.csv/out\.csv: a part of the output path is a file, not a directory"),
    Case("Outputs", "weights convert -o into a directory that does not exist",
         ["weights", "convert", "weights.npz", "-o", "nowhere/w.npz"],
         r"nowhere/w\.npz: output directory 'nowhere' does not exist"),
    Case("Outputs", "output through a symlink (accepted: its target is replaced, the link "
         "stays)", embed("edges.csv", "features.csv", "-q"), "", code=0,
         setup=_out_through_symlink),
    Case("Outputs", "a 250-character --save-weights name (accepted)",
         embed("edges.csv", "features.csv", "-q", "--save-weights", "w" * 246 + ".npz"), "",
         code=0),
    Case("Outputs", "unknown output extension",
         ["embed", "edges.csv", "features.csv", "-o", "out.xlsx"],
         r"out\.xlsx: unknown embeddings extension; use \.csv, \.tsv, \.jsonl"),
    Case("Outputs", "unknown attention extension",
         embed("edges.csv", "features.csv", "--attention", "att.json"),
         r"att\.json: unknown attention extension; use \.csv, \.tsv, \.npz, \.parquet"),
    Case("Outputs", "compressed binary output",
         ["embed", "edges.csv", "features.csv", "-o", "out.npy.gz"],
         r"out\.npy\.gz: \.gz compresses text formats \(csv, tsv, jsonl, w2v\); npy is "
         r"binary"),
    Case("Outputs", "weights output not named .npz",
         embed("edges.csv", "features.csv", "--save-weights", "w.bin"),
         r"w\.bin: weights are written as an \.npz archive; name the file \*\.npz"),
    Case("Outputs", "Parquet output without polars (simulated)",
         ["embed", "edges.csv", "features.csv", "-o", "out.parquet"],
         r"Parquet files need the optional polars engine: pip install 'gatcli\[fast\]'",
         simulate="no-polars"),
    Case("Outputs", "word2vec output, an id with a space",
         ["embed", "spaced_edges.csv", "spaced.csv", "-o", "out.emb"],
         r"out\.emb: node id 'a b' \(row 0\) cannot be written in the word2vec format",
         files={"spaced.csv": FEATURES.replace(b"\na,", b"\na b,"),
                "spaced_edges.csv": EDGES.replace(b"\na,", b"\na b,").replace(
                    b",a\n", b",a b\n")}),
    # -- sizes (issue 11: refused before allocation, naming what and where from) ------------
    Case("Sizes", "--hidden 10**20 (16 GB of memory, simulated)",
         embed("edges.csv", "features.csv", "--hidden", BIG),
         r"the model is too large: layer 0 is 8 x 100000000000000000000 \(heads x features "
         r"per head\) on 3 inputs \(--heads 8 x --hidden 100000000000000000000\)",
         simulate=SIXTEEN_GB),
    Case("Sizes", "--heads 10**20 (16 GB of memory, simulated)",
         embed("edges.csv", "features.csv", "--heads", BIG),
         r"layer 0 is 100000000000000000000 x 8 .*\(--heads 100000000000000000000 x --hidden 8\)",
         simulate=SIXTEEN_GB),
    Case("Sizes", "--out-dim 10**12 (16 GB of memory, simulated)",
         embed("edges.csv", "features.csv", "--out-dim", str(10**12)),
         r"layer 1 is 1 x 1000000000000 .*\(--out-heads 1 x --out-dim 1000000000000\)",
         simulate=SIXTEEN_GB),
    Case("Sizes", "--heads 100000 --hidden 100000 (explain; 16 GB of memory, simulated)",
         ["explain", "edges.csv", "features.csv", "--heads", "100000", "--hidden", "100000"],
         r"the model is too large: .*\(--heads 100000 x --hidden 100000\).* TB",
         simulate=SIXTEEN_GB),
    Case("Sizes", "--layers 10**20", embed("edges.csv", "features.csv", "--layers", BIG),
         r"--layers 100000000000000000000: 100000000000000000000 layers is too many"),
    # -- numbers ----------------------------------------------------------------------------
    Case("Numbers", "features of magnitude 1e30 (accepted: finite attention)",
         embed("edges.csv", "huge.csv", "-q", "--attention", "att.csv"), "", code=0,
         files={"huge.csv": b"id,x0,x1,x2\na,1e30,-1e30,2e30\nb,1e30,1e30,0\nc,-3e30,0,1e30\n"
                            b"d,1e4,-1e4,0\n"}),
    Case("Numbers", "float32 overflow in the output",
         embed("edges.csv", "huge.csv", "-w", "big_weights.npz"),
         r"out\.csv: \d+ of 8 embedding values are inf/NaN \(float32 overflow\?\); nothing "
         r"written",
         files={"huge.csv": b"id,x0,x1,x2\na,1e30,1e30,1e30\nb,1e30,1e30,1e30\n"
                            b"c,1e30,1e30,1e30\nd,1e30,1e30,1e30\n",
                "big_weights.npz": npz(**weights_arrays(scale=1e10))}),
    # -- labels (gat train) -----------------------------------------------------------------
    Case("Labels", "labels file missing", train("nope.csv"), r"nope\.csv: no such file"),
    Case("Labels", "no header line", train("bad.csv"),
         r"bad\.csv:1: header 'a,x': expected a labels table with a header line "
         r"id,label\[,split\]", files={"bad.csv": b"a,x\nb,y\n"}),
    Case("Labels", "third column is not split", train("bad.csv"),
         r"bad\.csv:1: third column is 'fold': expected 'split'",
         files={"bad.csv": b"id,label,fold\na,x,1\n"}),
    Case("Labels", "wrong column count on line 3", train("bad.csv"),
         r"bad\.csv:3: expected 3 columns like the header, found 2",
         files={"bad.csv": b"id,label,split\na,x,train\nb,y\n"}),
    Case("Labels", "unknown node id", train("bad.csv"),
         r"bad\.csv:3:1: node id 'zed' is not in the features' id column",
         files={"bad.csv": b"id,label,split\na,x,train\nzed,y,train\n"}),
    Case("Labels", "node index out of range (features without ids)",
         train("bad.csv", "int_edges.csv", "plain.csv"),
         r"bad\.csv:3:1: node index 9 is out of range: the features have 4 rows",
         files={"bad.csv": b"id,label\n0,x\n9,y\n"}),
    Case("Labels", "node labeled twice", train("bad.csv"),
         r"bad\.csv:4: node 'a' is labeled twice \(first on line 2\)",
         files={"bad.csv": b"id,label,split\na,x,train\nb,y,train\na,y,val\n"}),
    Case("Labels", "empty label", train("bad.csv"), r"bad\.csv:3:2: empty label",
         files={"bad.csv": b"id,label,split\na,x,train\nb,,train\n"}),
    Case("Labels", "only one class", train("bad.csv"),
         r"bad\.csv: only one class \('x'\) among the labels used; classification needs "
         r"at least two", files={"bad.csv": b"id,label,split\na,x,train\nb,x,val\n"}),
    Case("Labels", "no training nodes", train("bad.csv"),
         r"bad\.csv: no training nodes: no row has split 'train'",
         files={"bad.csv": b"id,label,split\na,x,val\nb,y,test\n"}),
    Case("Labels", "no row in a train/val/test split", train("bad.csv"),
         r"bad\.csv: no row has split train, val or test",
         files={"bad.csv": b"id,label,split\na,x,none\nb,y,unlabeled\n"}),
    Case("Labels", "predict with weights that have no class names",
         ["predict", "edges.csv", "features.csv", "-w", "weights.npz", "-o", "out.csv"],
         r"weights\.npz: no class names in this weights file"),
    # -- usage (exit 2) ---------------------------------------------------------------------
    Case("Usage", "--attention - with embeddings on stdout",
         ["embed", "edges.csv", "features.csv", "--attention", "-"],
         r"--attention - needs the embeddings in a file", code=2),
    Case("Usage", "--negative-slope nan", embed("edges.csv", "features.csv",
                                                "--negative-slope", "nan"),
         r"--negative-slope nan: expected a finite number", code=2),
    Case("Usage", "--negative-slope inf (explain)",
         ["explain", "edges.csv", "features.csv", "--negative-slope", "inf"],
         r"--negative-slope inf: expected a finite number", code=2),
    Case("Usage", "--negative-slope -inf (weights show)",
         ["weights", "show", "weights.npz", "--negative-slope", "-inf"],
         r"--negative-slope -inf: expected a finite number", code=2),
    Case("Usage", "--seed -1", embed("edges.csv", "features.csv", "--seed", "-1"),
         r"--seed -1: expected an integer >= 0", code=2),
    Case("Usage", "both inputs from stdin", ["embed", "-", "-"],
         r"only one of GRAPH and FEATURES can be read from stdin", code=2),
    Case("Usage", "--nodes and features both from stdin",
         ["embed", "edges.csv", "-", "--nodes", "-"],
         r"--nodes - and FEATURES both read stdin", code=2),
    Case("Usage", "--save-weights - with embeddings on stdout",
         ["embed", "edges.csv", "features.csv", "--save-weights", "-"],
         r"--save-weights - needs the embeddings in a file", code=2),
    Case("Usage", "missing argument", ["embed", "edges.csv"],
         r"Missing argument 'FEATURES' \(usage: gat embed \[OPTIONS\] GRAPH FEATURES;", code=2),
    Case("Usage", "a number below the option's minimum", embed("edges.csv", "features.csv",
                                                              "--heads", "0"),
         r"Invalid value for '--heads': .*greater than or equal to 1 \(usage: gat embed",
         code=2),
    Case("Usage", "not an integer", embed("edges.csv", "features.csv", "--layers", "two"),
         r"Invalid value for '--layers': .*integer", code=2),
    Case("Usage", "not a number", embed("edges.csv", "features.csv", "--negative-slope", "x"),
         r"Invalid value for '--negative-slope'", code=2),
    Case("Usage", "a value outside the choices",
         embed("edges.csv", "features.csv", "--layer-type", "gcn"),
         r"Invalid value for '--layer-type'.*gcn", code=2),
    Case("Usage", "an unknown option", embed("edges.csv", "features.csv", "--hedas", "2"),
         r"No such option: --hedas", code=2),
    Case("Usage", "an option without its value", ["embed", "edges.csv", "features.csv", "-o"],
         r"Option '-o' requires an argument", code=2),
    Case("Usage", "an extra argument", embed("edges.csv", "features.csv", "more.csv"),
         r"unexpected extra argument.*more\.csv", code=2),
    Case("Usage", "an unknown command", ["embd", "edges.csv", "features.csv"],
         r"No such command 'embd'\. Did you mean 'embed'\?", code=2),
    Case("Usage", "explain: a layer the model does not have", ["explain", "--layer", "3"],
         r"--layer 3: the model has 1 layer\(s\) \(0\.\.0\)", code=2),
    Case("Usage", "explain: an unknown step", ["explain", "--step", "sofmax"],
         r"Invalid value for '--step'.*sofmax", code=2),
    Case("Usage", "docs: an unknown topic", ["docs", "format"],
         r"no documentation topic 'format'; topics: formats, errors", code=2),
    # -- weights outputs (one rule for --save-weights and weights convert -o) ----------------
    Case("Weights outputs", "--save-weights to a name that is not .npz",
         embed("edges.csv", "features.csv", "--save-weights", "w.txt"),
         r"w\.txt: weights are written as an \.npz archive; name the file \*\.npz"),
    Case("Weights outputs", "weights convert -o to a name that is not .npz",
         ["weights", "convert", "weights.npz", "-o", "w.csv"],
         r"w\.csv: weights are written as an \.npz archive; name the file \*\.npz"),
]


def case_id(case: Case) -> str:
    return re.sub(r"[^a-z0-9]+", "-", f"{case.group} {case.what}".lower()).strip("-")


def make_case_dir(case: Case, root: Path) -> Path:
    """Create the base files and the case's files in ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, data in {**BASE_FILES, **case.files}.items():
        (root / name).write_bytes(data)
    if case.setup is not None:
        case.setup(root)
    return root


def listing(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> content), to compare before and after."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


# -- simulated failures (the same patches in-process and in a subprocess) --------------------


class FailingFile:
    """A file object that accepts ``limit`` bytes, then raises ``error`` (a full disk, or
    Ctrl-C arriving in the middle of a write)."""

    def __init__(self, raw, limit: int, error: BaseException) -> None:
        self.raw, self.limit, self.error, self.written = raw, limit, error, 0

    def write(self, data) -> int:
        data = memoryview(data).cast("B")
        room = self.limit - self.written
        if len(data) > room:
            self.raw.write(data[:room])
            self.written = self.limit
            raise self.error
        self.written += len(data)
        return self.raw.write(data)

    def __getattr__(self, name: str):
        return getattr(self.raw, name)

    def __enter__(self) -> FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.raw.close()


def simulate(kind: str, patch: Callable[[object, str, object], None] = setattr) -> None:
    """Install the failure ``kind`` with ``patch(obj, name, value)`` (monkeypatch.setattr
    in tests, plain setattr in a subprocess)."""
    import builtins

    import gatcli.io.atomic as atomic
    import gatcli.io.source as source

    if kind.startswith("deny-read:"):
        denied = kind.split(":", 1)[1]

        def deny(path, *args, **kwargs):
            if os.path.basename(str(path)) == denied:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return builtins.open(path, *args, **kwargs)

        patch(source, "open", deny)
    elif kind == "deny-write":
        real_access = os.access
        patch(atomic.os, "access",
              lambda path, mode, **kw: False if mode & os.W_OK else real_access(path, mode))
    elif kind in ("disk-full", "interrupt"):
        error = (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) if kind == "disk-full"
                 else KeyboardInterrupt())
        real_open = atomic._open_temp
        patch(atomic, "_open_temp", lambda fd: FailingFile(real_open(fd), 40, error))
    elif kind.startswith("memory:"):
        # a fixed amount of memory, so that messages naming it are the same on every machine
        import gatcli.model.limits as limits

        gigabytes = float(kind.split(":", 1)[1].removesuffix("G"))
        patch(limits, "available_memory", lambda: int(gigabytes * 1e9))
    elif kind == "no-polars":
        import gatcli.io.fast as fast

        patch(fast, "polars_module", lambda: None)
    else:
        raise ValueError(kind)


SIMULATING_GAT = (
    "import sys; sys.path.insert(0, {tests!r}); import error_cases; "
    "error_cases.simulate(sys.argv[1]); sys.argv = ['gat'] + sys.argv[2:]; "
    "from gatcli.cli import main; main()"
)


def gat_command(case: Case, gat: str) -> list[str]:
    """The command line running ``case`` with the installed ``gat`` (or, for a simulated
    failure, the same entry point in a Python that installs the failure first)."""
    if case.simulate is None:
        return [gat, *case.args]
    program = SIMULATING_GAT.format(tests=str(TESTS_DIR))
    return [sys.executable, "-c", program, case.simulate, *case.args]


def run_installed(case: Case, root: Path, gat: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(gat_command(case, gat), cwd=root, capture_output=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=120)
