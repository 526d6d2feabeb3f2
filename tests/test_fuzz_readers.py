"""Fuzzing every reader: random bytes and random mutations of valid files either parse or
raise GatError -- never another exception, and never a warning (which would be a second
line on stderr).

GAT_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz_readers.py runs a deeper search locally.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatcli.errors import GatError
from gatcli.io.readers import NodeIndex, read_features, read_graph
from gatcli.model.config import read_config, specs_from_config
from gatcli.model.init import init_model
from gatcli.model.spec import model_spec
from gatcli.model.weights import load_weights, own_layout_arrays

EXAMPLES = int(os.environ.get("GAT_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

INTEGER_NODES = NodeIndex(4)
STRING_NODES = NodeIndex(3, np.array(["a", "b", "c"]))
NUMERIC_ID_NODES = NodeIndex(4, np.array(["0", "1", "2", "3"]))

FEATURES_CSV = b"id,x0,x1\na,1.5,-2\nb,0,3e2\nc,4,5\n"
FEATURES_NO_ID = b"x0,x1,x2\n1,2,3\n4,5,6\n7,8,9\n0.5,-1,1e-3\n"


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _save_npz_bytes(matrix: sp.sparray) -> bytes:
    buffer = io.BytesIO()
    sp.save_npz(buffer, matrix)
    return buffer.getvalue()


def _mtx_bytes(matrix: sp.sparray) -> bytes:
    buffer = io.BytesIO()
    scipy.io.mmwrite(buffer, matrix)
    return buffer.getvalue()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


ADJACENCY = sp.csr_array(np.array([[0, 1, 1, 0], [1, 0, 0, 1], [0, 0, 1, 0], [1, 1, 0, 0]],
                                  dtype=np.float64))
WEIGHTS_MODEL = init_model(model_spec(3, layers=2, hidden=2, heads=2, out_dim=2), seed=0)
WEIGHTS_ARRAYS = own_layout_arrays(WEIGHTS_MODEL)
CONFIG_YAML = (b"layers:\n  - {out_dim: 4, heads: 2}\n  - out_dim: 3\n    concat: false\n"
               b"    activation: elu\n    negative_slope: 0.1\n")

#: file name -> valid content; the name picks the reader (and the format)
SEEDS: dict[str, bytes] = {
    "features.csv": FEATURES_CSV,
    "features_noid.csv": FEATURES_NO_ID,
    "features.tsv": FEATURES_CSV.replace(b",", b"\t"),
    "features.txt": FEATURES_NO_ID.replace(b",", b" "),
    "features.csv.gz": gzip.compress(FEATURES_CSV),
    "features.npy": _npy_bytes(np.arange(12.0).reshape(4, 3)),
    "edges.csv": b"source,target\n0,1\n1,2\n# comment\n\n2,3\n3,0\n",
    "edges.tsv": b"0\t1\n1\t2\n2\t2\n",
    "edges.txt": b"a b\nb c\nc a\n",
    "edges.csv.gz": gzip.compress(b"0,1\n1,2\n"),
    "adjacency.npz": _save_npz_bytes(ADJACENCY),
    "adjacency_coo.npz": _save_npz_bytes(ADJACENCY.tocoo()),
    "adjacency.mtx": _mtx_bytes(ADJACENCY.tocoo()),
    "weights.npz": _npz_bytes(**WEIGHTS_ARRAYS),
    "model.yaml": CONFIG_YAML,
}


def run_reader(path: Path) -> None:
    """Feed ``path`` to the reader its name selects (every variant of its options)."""
    name = path.name
    if name.startswith("features"):
        read_features(str(path))
        read_features(str(path), allow_nonfinite=True)
    elif name.startswith(("edges", "adjacency")):
        for nodes in (INTEGER_NODES, STRING_NODES, NUMERIC_ID_NODES):
            read_graph(str(path), nodes)
    elif name.startswith("weights"):
        load_weights(str(path))
    elif name.startswith("model"):
        specs_from_config(read_config(str(path)), 3, source=str(path))
    else:  # pragma: no cover - a seed with an unknown prefix is a bug in this test
        raise AssertionError(name)


def parses_or_gat_error(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would print a second stderr line
        try:
            run_reader(path)
        except GatError as exc:
            message = str(exc)
            assert message and "\n" not in message, f"message not one line: {message!r}"


# -- byte-level ---------------------------------------------------------------------------

TOKENS = [b",", b"\t", b" ", b"\n", b"\r\n", b"\r", b"#", b'"', b"-", b"nan", b"inf", b"1e999",
          b"\x00", b"\xff", b"\xef\xbb\xbf", b":", b"{", b"[", b"- ", b"0", b"-1", b"99999999999",
          b"1.5", b"x", b"id", b"%", b"\x1f\x8b"]

mutation = st.tuples(st.sampled_from(["set", "delete", "insert", "truncate", "duplicate"]),
                     st.floats(0, 1), st.integers(0, 255), st.sampled_from(TOKENS))


def mutate(data: bytes, ops: list[tuple[str, float, int, bytes]]) -> bytes:
    out = bytearray(data)
    for op, where, byte, token in ops:
        i = int(where * len(out)) if out else 0
        if op == "set" and out:
            out[min(i, len(out) - 1)] = byte
        elif op == "delete":
            del out[i : i + 1 + byte % 8]
        elif op == "insert":
            out[i:i] = token
        elif op == "truncate":
            del out[i:]
        elif op == "duplicate":
            out[i:i] = out[i : i + 1 + byte % 32]
    return bytes(out)


@pytest.mark.parametrize("name", sorted(SEEDS))
@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes(tmp_path: Path, name: str, data: bytes) -> None:
    parses_or_gat_error(tmp_path / name, data)


@pytest.mark.parametrize("name", sorted(SEEDS))
@FUZZ
@given(ops=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_valid_file(tmp_path: Path, name: str, ops: list) -> None:
    parses_or_gat_error(tmp_path / name, mutate(SEEDS[name], ops))


def test_seeds_are_valid(tmp_path: Path) -> None:
    """The unmutated seeds parse (else the fuzzing above would only test error paths)."""
    for name, data in SEEDS.items():
        path = tmp_path / name
        path.write_bytes(data)
        if name.startswith(("edges.csv", "edges.tsv", "adjacency")):
            read_graph(str(path), INTEGER_NODES)
        elif name == "edges.txt":
            read_graph(str(path), STRING_NODES)
        else:
            run_reader(path)


# -- text cells ---------------------------------------------------------------------------

CELLS = ["1", "-2.5", "nan", "inf", "-inf", "1e999", "1e-999", "x", "", " ", '"3"', " 4 ",
         "0x1", "1_0", "+5", ".", "True", "a", "b", "c", "0", "3", "-1", "4", "01", "#", "1,5",
         "\t", "id", "\ufeff1", "é"]


@pytest.mark.parametrize("name", ["features.csv", "features_noid.csv", "features.tsv",
                                  "features.txt", "edges.csv", "edges.tsv", "edges.txt"])
@FUZZ
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.sampled_from(CELLS),
                                st.booleans()), min_size=1, max_size=4),
       newline=st.sampled_from(["\n", "\r\n", "\r"]), final_newline=st.booleans())
def test_mutated_cells(tmp_path: Path, name: str, edits: list, newline: str,
                       final_newline: bool) -> None:
    """Replace, add or drop cells of a valid table, with any line ending."""
    sep = {".csv": ",", ".tsv": "\t", ".txt": " "}[Path(name).suffix]
    rows = [line.split(sep) for line in SEEDS[name].decode().splitlines()]
    for row_at, cell_at, cell, replace in edits:
        row = rows[min(int(row_at * len(rows)), len(rows) - 1)]
        k = min(int(cell_at * (len(row) + 1)), len(row))
        if replace and k < len(row):
            row[k] = cell
        elif cell == "":
            del row[k - 1 : k]
        else:
            row.insert(k, cell)
    text = newline.join(sep.join(row) for row in rows) + (newline if final_newline else "")
    parses_or_gat_error(tmp_path / name, text.encode())


# -- arrays inside .npz files ---------------------------------------------------------------

ODD_ARRAYS = st.sampled_from([
    np.array(1), np.array(-1), np.array(2.5), np.array(np.nan), np.array(True), np.array("x"),
    np.array(b"csr"), np.array("coo"), np.array([1, 2]), np.array([4, 4]), np.array([3, 5]),
    np.array([-1, 4]), np.array([2**40, 2**40]), np.zeros(0), np.zeros((2, 2)),
    np.array([0, 1, 2]), np.array([[0.0, 1.0]]), np.array(["a", "b"]),
    np.array([1 + 2j]), np.zeros((1, 2, 2), np.float32), np.array("[]"), np.array("{}"),
    np.array("[1]"), np.array('[{"in_dim": 3}]'), np.array("not json"),
])
INTS = st.sampled_from([-(2**40), -1, 0, 1, 2, 3, 4, 7, 2**40])


def mutate_arrays(arrays: dict[str, np.ndarray], ops: list) -> dict[str, np.ndarray]:
    out = dict(arrays)
    for op, key_at, value, number in ops:
        keys = sorted(out)
        if not keys:
            out["x"] = value
            continue
        key = keys[min(int(key_at * len(keys)), len(keys) - 1)]
        if op == "delete":
            del out[key]
        elif op == "replace":
            out[key] = value
        elif op == "add":
            out[f"{key}.extra" if key_at < 0.5 else "layers.7.att"] = value
        elif op == "element" and out[key].size and out[key].dtype.kind in "iuf":
            changed = out[key].astype(np.int64 if out[key].dtype.kind in "iu" else None)
            changed.flat[min(int(key_at * changed.size), changed.size - 1)] = number
            out[key] = changed
        elif op == "nan" and out[key].dtype.kind == "f" and out[key].size:
            changed = out[key].copy()
            changed.flat[0] = np.nan
            out[key] = changed
    return out


array_op = st.tuples(st.sampled_from(["delete", "replace", "add", "element", "element", "nan"]),
                     st.floats(0, 1), ODD_ARRAYS, INTS)


def _arrays_of(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
        return {key: loaded[key] for key in loaded.files}


@pytest.mark.parametrize("name", ["adjacency.npz", "adjacency_coo.npz", "weights.npz"])
@FUZZ
@given(ops=st.lists(array_op, min_size=1, max_size=3))
def test_mutated_npz_arrays(tmp_path: Path, name: str, ops: list) -> None:
    arrays = mutate_arrays(_arrays_of(SEEDS[name]), ops)
    parses_or_gat_error(tmp_path / name, _npz_bytes(**arrays))


ARCH_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**70),
                        st.floats(allow_nan=True, allow_infinity=True),
                        st.sampled_from(["gat", "gatv2", "elu", "none", "", "x"]),
                        st.lists(st.integers(0, 3), max_size=2), st.just({}))
ARCH_FIELDS = st.sampled_from(["in_dim", "out_dim", "heads", "concat", "activation",
                               "negative_slope", "bias", "residual", "self_loops", "kind",
                               "share_weights", "other"])


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 2), ARCH_FIELDS, ARCH_VALUES, st.booleans()),
                      min_size=1, max_size=3))
def test_mutated_weights_architecture(tmp_path: Path, edits: list) -> None:
    """Fields of the stored architecture JSON set to odd values or removed."""
    arrays = dict(WEIGHTS_ARRAYS)
    architecture = json.loads(str(arrays["gatcli.architecture"]))
    for layer, field, value, remove in edits:
        if layer >= len(architecture):
            architecture.append({})
        if remove:
            architecture[layer].pop(field, None)
        else:
            architecture[layer][field] = value
    arrays["gatcli.architecture"] = np.array(json.dumps(architecture))
    parses_or_gat_error(tmp_path / "weights.npz", _npz_bytes(**arrays))


# -- YAML documents -----------------------------------------------------------------------

YAML_KEYS = st.sampled_from(["out_dim", "heads", "concat", "activation", "negative_slope",
                             "bias", "residual", "self_loops", "type", "share_weights",
                             "layers", "in_dim", "other"])
YAML_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**70),
                         st.floats(allow_nan=True, allow_infinity=True),
                         st.sampled_from(["gat", "gatv2", "elu", "relu", "none", "", "x"]))
YAML_VALUES = st.recursive(YAML_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(YAML_KEYS, inner, max_size=4), max_leaves=12)
YAML_DOCS = st.one_of(
    YAML_VALUES,
    st.fixed_dictionaries({"layers": st.lists(st.dictionaries(YAML_KEYS, YAML_VALUES,
                                                              max_size=5), max_size=3)}),
)


@FUZZ
@given(document=YAML_DOCS)
def test_random_yaml_model(tmp_path: Path, document: object) -> None:
    text = yaml.safe_dump(document).encode()
    parses_or_gat_error(tmp_path / "model.yaml", text)
