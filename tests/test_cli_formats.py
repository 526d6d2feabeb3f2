"""`gat embed` output formats (issue 14): every format keeps ids and values; --format; .gz;
checks before any work; FIFOs, /dev/null and a closed stdout."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import pty
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gatcli.cli import app
from gatcli.io.writers import read_attention_npz

GAT = shutil.which("gat")
needs_gat = pytest.mark.skipif(GAT is None, reason="the gat command is not installed")

# ids the features reader takes from a TSV, that CSV, JSON and word2vec must each keep or
# refuse correctly: a comma, non-ASCII, digits that are not row numbers
IDS = ["a,b", "ünïcödé", "漢字", "10", "007"]
FEATURES = "id\tx0\tx1\n" + "".join(
    f"{node}\t{k * 0.5 - 1}\t{1 / (k + 3)}\n" for k, node in enumerate(IDS))
EDGES = "".join(f"{IDS[k]}\t{IDS[(k + 1) % len(IDS)]}\n" for k in range(len(IDS)))
MODEL = ["--layers", "2", "--hidden", "3", "--heads", "2", "--out-dim", "4", "--seed", "3"]


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "f.tsv").write_text(FEATURES, encoding="utf-8")
    (tmp_path / "e.tsv").write_text(EDGES, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def embed(*args: str):
    result = invoke("embed", "e.tsv", "f.tsv", *MODEL, "-q", *args)
    assert result.exit_code == 0, result.stderr
    return result


def reference(files: Path) -> np.ndarray:
    """The embeddings as .npy (N, C), rows in the features' order."""
    embed("-o", "ref.npy")
    return np.load(files / "ref.npy")


# -- each format keeps ids and values ------------------------------------------------------------


@pytest.mark.parametrize("name,sep", [("out.csv", ","), ("out.tsv", "\t")])
def test_csv_and_tsv_round_trip(files, io_engine, name, sep):
    expected = reference(files)
    embed("-o", name)
    with open(name, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter=sep))
    assert rows[0] == ["id"] + [f"h{k}" for k in range(4)]
    assert [r[0] for r in rows[1:]] == IDS
    np.testing.assert_array_equal(np.array([r[1:] for r in rows[1:]], dtype=np.float32),
                                  expected)


def test_numpy_and_polars_give_the_same_bytes_in_every_text_format(files, monkeypatch):
    pytest.importorskip("polars")
    outputs = {}
    for engine in ("numpy", "polars"):
        monkeypatch.setenv("GAT_IO_ENGINE", engine)
        embed("-o", f"{engine}.csv", "--attention", f"{engine}-att.tsv")
        embed("-o", f"{engine}.jsonl")
        outputs[engine] = [(files / f"{engine}{suffix}").read_bytes()
                           for suffix in (".csv", "-att.tsv", ".jsonl")]
    assert outputs["numpy"] == outputs["polars"]


def read_word2vec(path: Path) -> tuple[list[str], np.ndarray]:
    """An independent reader, from the format's definition: a first line "N D", then N lines
    of an id and D numbers separated by single spaces."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""
    n, d = (int(v) for v in lines[0].split(" "))
    assert len(lines) == n + 2
    ids, vectors = [], []
    for line in lines[1 : n + 1]:
        fields = line.split(" ")
        assert len(fields) == d + 1
        ids.append(fields[0])
        vectors.append([float(v) for v in fields[1:]])
    return ids, np.array(vectors)


def test_word2vec_text(files, io_engine):
    expected = reference(files)
    embed("-o", "out.emb")
    ids, vectors = read_word2vec(files / "out.emb")
    assert ids == IDS
    np.testing.assert_array_equal(vectors.astype(np.float32), expected)
    embed("--format", "w2v", "-o", "other.txt")
    assert (files / "other.txt").read_bytes() == (files / "out.emb").read_bytes()


def test_word2vec_refuses_an_id_with_white_space_before_any_work(files):
    (files / "f.tsv").write_text(FEATURES.replace("漢字", "two words"), encoding="utf-8")
    (files / "e.tsv").write_text(EDGES.replace("漢字", "two words"), encoding="utf-8")
    result = invoke("embed", "e.tsv", "f.tsv", "-o", "out.emb", "--timings")
    assert result.exit_code == 1
    assert "node id 'two words' (row 2) cannot be written in the word2vec format" in (
        result.stderr)
    assert "timing layer" not in result.stderr and not (files / "out.emb").exists()


def strict_json(line: str):
    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(line, parse_constant=refuse)


def test_json_lines(files):
    expected = reference(files)
    result = embed("--format", "jsonl")
    records = [strict_json(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == IDS
    assert set(records[0]) == {"id", "embedding"}
    np.testing.assert_array_equal(np.array([r["embedding"] for r in records], np.float32),
                                  expected)


def test_json_lines_without_an_id_column_have_integer_ids_and_null_for_nan(files):
    (files / "plain.csv").write_text("x0,x1\n1,nan\n2,3\n")
    (files / "pe.csv").write_text("0,1\n1,0\n")
    result = invoke("embed", "pe.csv", "plain.csv", "--format", "jsonl", "--allow-nonfinite",
                    "-q")
    assert result.exit_code == 0, result.stderr
    records = [strict_json(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == [0, 1]
    assert None in records[0]["embedding"] or None in records[1]["embedding"]


def test_npz_keeps_ids_and_loads_without_pickle(files):
    expected = reference(files)
    embed("-o", "out.npz")
    with np.load(files / "out.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["embeddings", "ids"]
        assert z["ids"].dtype.kind == "U" and z["ids"].tolist() == IDS
        np.testing.assert_array_equal(z["embeddings"], expected)


def test_npz_ids_are_int64_rows_without_an_id_column(files):
    (files / "plain.csv").write_text("x0,x1\n1,2\n2,3\n0,1\n")
    (files / "pe.csv").write_text("0,1\n1,2\n")
    result = invoke("embed", "pe.csv", "plain.csv", "-o", "out.npz", "-q")
    assert result.exit_code == 0, result.stderr
    with np.load(files / "out.npz", allow_pickle=False) as z:
        assert z["ids"].dtype == np.int64 and z["ids"].tolist() == [0, 1, 2]


def test_parquet_embeddings_and_attention(files):
    pl = pytest.importorskip("polars")
    expected = reference(files)
    embed("-o", "out.parquet", "--attention", "att.parquet")
    embed("-o", "x.npy", "--attention", "att.csv")
    frame = pl.read_parquet(files / "out.parquet")
    assert frame.columns == ["id"] + [f"h{k}" for k in range(4)]
    assert frame["id"].to_list() == IDS
    np.testing.assert_array_equal(frame.drop("id").to_numpy(), expected)
    attention = pl.read_parquet(files / "att.parquet")
    assert attention.columns == ["layer", "head", "target", "source", "alpha"]
    with open(files / "att.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    assert [[str(v) for v in row[:4]] for row in attention.rows()] == [r[:4] for r in rows]
    np.testing.assert_array_equal(attention["alpha"].to_numpy(),
                                  np.array([r[4] for r in rows], dtype=np.float32))


def test_attention_npz_keeps_ids(files):
    embed("-o", "x.npy", "--attention", "att.npz")
    ids, matrices = read_attention_npz(str(files / "att.npz"))
    assert ids.tolist() == IDS and sorted(matrices) == [(0, 0), (0, 1), (1, 0)]


@pytest.mark.parametrize("name", ["out.csv.gz", "out.tsv.gz", "out.jsonl.gz", "out.emb.gz"])
def test_gzip_text_outputs(files, name):
    plain = name[:-3]
    embed("-o", plain)
    embed("-o", name)
    assert gzip.decompress((files / name).read_bytes()) == (files / plain).read_bytes()


def test_attention_csv_gz(files):
    embed("-o", "x.npy", "--attention", "att.csv")
    embed("-o", "x.npy", "--attention", "att.csv.gz")
    assert gzip.decompress((files / "att.csv.gz").read_bytes()) == (
        files / "att.csv").read_bytes()


def test_format_overrides_the_extension_and_chooses_stdout(files):
    embed("-o", "a.emb")
    embed("--format", "w2v", "-o", "b.csv")
    assert (files / "a.emb").read_bytes() == (files / "b.csv").read_bytes()
    result = embed("--format", "tsv")
    assert result.stdout.startswith("id\th0\t")


def test_npy_says_when_it_drops_ids(files):
    result = invoke("embed", "e.tsv", "f.tsv", "-o", "out.npy")
    assert result.exit_code == 0
    assert "without their ids" in result.stderr and ".npz" in result.stderr
    quiet = invoke("embed", "e.tsv", "f.tsv", "-o", "out.npy", "-q")
    assert quiet.stderr == ""
    (files / "plain.csv").write_text("x0,x1\n1,2\n2,3\n")
    (files / "pe.csv").write_text("0,1\n")
    plain = invoke("embed", "pe.csv", "plain.csv", "-o", "out.npy")
    assert "ids" not in plain.stderr


# -- checked before any work ------------------------------------------------------------------


@pytest.mark.parametrize("args,message", [
    (["-o", "out.xlsx"], "unknown embeddings extension"),
    (["-o", "out.npy.gz"], ".gz compresses text formats"),
    (["-o", "out.csv", "--attention", "att.json"], "unknown attention extension"),
    (["-o", "out.csv", "--attention", "att.emb"], "w2v is not a format for attention"),
    (["-o", "out.csv", "--save-weights", "w.bin"], "name the file *.npz"),
])
def test_bad_outputs_are_refused_before_reading_anything(files, args, message):
    result = invoke("embed", "missing.csv", "missing-too.csv", *args)
    assert result.exit_code == 1
    assert message in result.stderr and "missing" not in result.stderr


def test_parquet_without_polars_names_the_extra_before_any_work(files, monkeypatch):
    monkeypatch.setenv("GAT_IO_ENGINE", "numpy")
    result = invoke("embed", "missing.csv", "f.tsv", "-o", "out.parquet")
    assert result.exit_code == 1
    assert result.stderr == ("gat: error: Parquet files need the optional polars engine: "
                             "pip install 'gatcli[fast]'\n")


@needs_gat
def test_binary_format_is_not_written_to_a_terminal(files):
    parent, child = pty.openpty()
    try:
        process = subprocess.run([GAT, "embed", "e.tsv", "f.tsv", "--format", "npy"],
                                 stdout=child, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(child)
        os.close(parent)
    assert process.returncode == 1
    assert process.stderr.decode().startswith("gat: error: npy is a binary format")
    piped = subprocess.run([GAT, "embed", "e.tsv", "f.tsv", "--format", "npy", "-q"],
                           capture_output=True, timeout=60)
    assert piped.returncode == 0
    assert np.load(io.BytesIO(piped.stdout)).shape == (len(IDS), 8)


# -- streams ----------------------------------------------------------------------------------


def test_dev_null_outputs(files):
    embed("-o", "/dev/null", "--attention", "/dev/null")
    embed("-o", "/dev/null", "--format", "npz")


@needs_gat
@pytest.mark.parametrize("name", ["fifo.csv", "fifo.npz", "fifo"])
def test_fifo_output(files, name):
    fifo = files / name
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    process = subprocess.run([GAT, "embed", "e.tsv", "f.tsv", *MODEL, "-q", "-o", name],
                             capture_output=True, timeout=60)
    reader.join(timeout=60)
    assert process.returncode == 0, process.stderr
    if name.endswith(".npz"):
        with np.load(io.BytesIO(received[0]), allow_pickle=False) as z:
            assert z["ids"].tolist() == IDS
    else:
        assert received[0].decode().startswith("id,h0,")
    assert fifo.is_fifo()


@needs_gat
def test_attention_on_stdout_closed_early_still_writes_the_embeddings(tmp_path):
    """`--attention - | head`: the first rows arrive while the run goes on; closing stdout
    ends nothing but the attention (exit 0, embeddings file complete)."""
    rng = np.random.default_rng(0)
    n = 3000
    np.save(tmp_path / "x.npy", rng.normal(size=(n, 4)).astype(np.float32))
    edges = rng.integers(0, n, size=(30000, 2))
    np.savetxt(tmp_path / "e.csv", edges, fmt="%d", delimiter=",")
    process = subprocess.Popen([GAT, "embed", "e.csv", "x.npy", "-o", "emb.csv",
                                "--attention", "-"], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdout is not None
    first = [process.stdout.readline() for _ in range(3)]
    process.stdout.close()
    _, stderr = process.communicate(timeout=120)
    assert first[0] == b"layer,head,target,source,alpha\n"
    assert first[1].startswith(b"0,0,")
    assert process.returncode == 0, stderr
    assert stderr == b""  # like any closed stdout: quiet
    assert len((tmp_path / "emb.csv").read_text().splitlines()) == n + 1
