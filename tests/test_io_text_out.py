"""gatcli.io.text_out: CSV/TSV text of numbers and ids, the numpy and polars paths."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from gatcli.graph import build_graph
from gatcli.io.text_out import (
    ROWS_PER_CHUNK,
    Texts,
    float_text,
    quote_fields,
    write_attention_header,
    write_attention_rows,
    write_embeddings_text,
)

AWKWARD_IDS = ["plain", "a,b", 'say "hi"', " lead", "trail ", "tab\tin", "new\nline",
               "cr\rin", "hash#tag", "ünïcödé", "漢字", "emoji 🙂", "7", "007", "1.0"]


def awkward_values(dtype: type, n: int = 4000, seed: int = 0) -> np.ndarray:
    """Values whose text is hard to get right: zeros, signed zeros, subnormals, the edges of
    numpy's plain-decimal range, NaN, inf, huge and tiny numbers, and random bit patterns."""
    info = np.finfo(dtype)
    edges = [0.0, -0.0, 1e-4, 1e6, 1e16, 1e-5, 0.1, 1 / 3, 2 / 3, 100.0, 123456789.0,
             np.nan, -np.nan, np.inf, -np.inf, float(info.max), float(info.tiny),
             float(info.smallest_subnormal), -float(info.smallest_subnormal)]
    special = np.array(edges, dtype=dtype)
    with np.errstate(over="ignore"):
        near = np.concatenate([np.nextafter(special, dtype(np.inf)),
                               np.nextafter(special, dtype(-np.inf))])
    rng = np.random.default_rng(seed)
    width = np.dtype(dtype).itemsize
    bits = rng.integers(0, 2 ** (8 * width) - 1, size=n, dtype=np.uint64).astype(
        np.uint64 if width == 8 else np.uint32).view(dtype)
    normal = rng.normal(scale=3.0, size=n).astype(dtype)
    return np.concatenate([special, near, bits, normal])


def written(monkeypatch, engine: str, write, *args) -> bytes:
    monkeypatch.setenv("GAT_IO_ENGINE", engine)
    out = io.BytesIO()
    write(out, *args)
    return out.getvalue()


# -- numbers ---------------------------------------------------------------------------------


def test_float64_text_is_pythons_repr():
    values = awkward_values(np.float64)
    assert float_text(values).tolist() == [repr(float(v)) for v in values]


def test_float32_text_is_the_shortest_that_reads_back():
    values = awkward_values(np.float32, n=1500)
    for value, text in zip(values, float_text(values)):
        if not np.isfinite(value):
            assert text in ("nan", "inf", "-inf")
            continue
        assert np.float32(text) == value and str(np.signbit(value)) == str(text[0] == "-")
        mantissa = text.split("e")[0].lstrip("-").replace(".", "").strip("0")
        digits = len(mantissa)
        if digits > 1:  # one digit fewer never reads back
            shorter = float(f"{float(value):.{digits - 2}e}")
            assert np.float32(shorter) != value


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", [0, 1])
def test_numpy_and_polars_write_the_same_bytes(monkeypatch, dtype, seed):
    pytest.importorskip("polars")
    values = awkward_values(dtype, seed=seed)
    n = values.size // 4
    embeddings = values[: n * 4].reshape(n, 4)
    ids = np.array([AWKWARD_IDS[k % len(AWKWARD_IDS)] + f"_{k}" for k in range(n)])
    for sep in (",", "\t"):
        args = (embeddings, ids, "node id", sep)
        by_numpy = written(monkeypatch, "numpy", write_embeddings_text, *args)
        by_polars = written(monkeypatch, "polars", write_embeddings_text, *args)
        assert by_numpy == by_polars


@pytest.mark.parametrize("odd_rows", [0, 1, 3, 20, 200])
def test_engines_agree_across_chunks_with_few_or_many_odd_values(monkeypatch, odd_rows):
    """Rows polars leaves to numpy (tiny, NaN, inf) sit in their places, in every chunk."""
    pytest.importorskip("polars")
    rng = np.random.default_rng(odd_rows)
    n = ROWS_PER_CHUNK + 100
    embeddings = rng.uniform(0.5, 2.0, size=(n, 3)).astype(np.float32)
    rows = rng.choice(n, size=odd_rows, replace=False)
    embeddings[rows, rng.integers(0, 3, size=odd_rows)] = rng.choice(
        np.array([1e-30, np.nan, -np.inf, 3e20, -1e-5], dtype=np.float32), size=odd_rows)
    embeddings[0, 0], embeddings[-1, -1] = (np.float32(1e-9), np.nan) if odd_rows else (1, 1)
    ids = np.arange(n).astype(str)
    args = (embeddings, ids, "id", ",")
    assert written(monkeypatch, "numpy", write_embeddings_text, *args) == written(
        monkeypatch, "polars", write_embeddings_text, *args)


def test_embeddings_text_exact_bytes(io_engine):
    embeddings = np.array([[0.1, -0.0, 1e-5], [1 / 3, np.nan, -np.inf]], dtype=np.float32)
    out = io.BytesIO()
    write_embeddings_text(out, embeddings, np.array(['a,"b"', " c"]), "id", ",")
    assert out.getvalue() == (b'id,h0,h1,h2\n"a,""b""",0.1,-0.0,1e-05\n'
                              b'" c",0.33333334,nan,-inf\n')


# -- quoting ---------------------------------------------------------------------------------


def test_quote_fields_quotes_only_where_needed():
    fields = ["a", "b c", "a,b", 'q"x', " s", "t ", "x#y", "l\nf", "\u00a0nb", "é", "a\tb"]
    assert quote_fields(fields, ",").tolist() == [
        "a", "b c", '"a,b"', '"q""x"', '" s"', '"t "', '"x#y"', '"l\nf"', '"\u00a0nb"', "é",
        "a\tb"]
    assert quote_fields(["a\tb", "c,d"], "\t").tolist() == ['"a\tb"', "c,d"]


@pytest.mark.parametrize("sep", [",", "\t"])
def test_embeddings_round_trip_through_pythons_csv_module(io_engine, sep):
    ids = np.array(AWKWARD_IDS)
    embeddings = np.random.default_rng(3).normal(size=(len(ids), 2)).astype(np.float32)
    out = io.BytesIO()
    write_embeddings_text(out, embeddings, ids, "node, id", sep)
    table = list(csv.reader(io.StringIO(out.getvalue().decode(), newline=""), delimiter=sep))
    assert table[0] == ["node, id", "h0", "h1"]
    assert [row[0] for row in table[1:]] == AWKWARD_IDS
    back = np.array([row[1:] for row in table[1:]], dtype=np.float32)
    np.testing.assert_array_equal(back, embeddings)


def test_attention_rows_round_trip_with_awkward_ids(io_engine):
    ids = np.array(["x,1", 'y"2', "z 3 "])
    graph = build_graph(np.array([0, 1, 2]), np.array([1, 2, 0]), 3, self_loops=True)
    alpha = np.random.default_rng(4).uniform(size=(graph.n_edges, 2))
    out = io.BytesIO()
    write_attention_header(out, ",")
    write_attention_rows(out, 1, graph, alpha, Texts(quote_fields(ids, ",")), ",")
    table = list(csv.reader(io.StringIO(out.getvalue().decode(), newline="")))
    assert table[0] == ["layer", "head", "target", "source", "alpha"]
    expected = [["1", str(h), ids[t], ids[s], repr(float(alpha[e, h]))]
                for h in range(2)
                for e, (t, s) in enumerate(zip(graph.targets(), graph.sources))]
    assert table[1:] == expected
