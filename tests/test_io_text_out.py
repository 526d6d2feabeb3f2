"""gatcli.io.text_out: CSV/TSV text of numbers and ids, the numpy and polars paths."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from gatcli.graph import build_graph
from gatcli.io.text_out import (
    ROWS_PER_CHUNK,
    Constant,
    TextColumn,
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


# -- the polars path's odd cells: placeholders, chunk borders, fallback ----------------------


def cell_text(value) -> str:
    """numpy's text of one number, by the scalar's own str (float32) or Python's repr
    (float64): independent of the table writers."""
    if isinstance(value, np.float32):
        return str(value)
    return repr(float(value))


def expected_table(ids: list[str], quoted: dict[str, str], values: np.ndarray,
                   sep: str = ",") -> bytes:
    """Rows ``id,v1,...`` built cell by cell; ``quoted`` maps an id to its written field."""
    lines = [sep.join([quoted.get(node, node)] + [cell_text(v) for v in row]) + "\n"
             for node, row in zip(ids, values)]
    return "".join(lines).encode()


ODD = [1e-30, np.nan, -np.inf, np.inf, 3e20, -1e-5, -0.0, 0.0, 5e-324]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_odd_cells_at_chunk_and_row_borders(monkeypatch, io_engine, dtype):
    """Odd cells on the first and last rows of every small chunk, in the first and last
    column, several in one row, and whole rows of them; ids with commas, quotes, unicode."""
    from gatcli.io import text_out

    monkeypatch.setattr(text_out, "POLARS_CELLS_PER_CHUNK", 4 * 7)  # 7 rows of 4 cells
    monkeypatch.setattr(text_out, "ROWS_PER_CHUNK", 7)
    n = 7 * 5 + 3
    rng = np.random.default_rng(5)
    values = rng.uniform(0.5, 2.0, size=(n, 3)).astype(dtype)
    odd = np.array(ODD, dtype=np.float64).astype(dtype)  # 5e-324 -> 0 in float32
    for row in list(range(0, n, 7)) + list(range(6, n, 7)) + [n - 1]:
        values[row, row % 3] = odd[row % len(odd)]
    values[0, :] = odd[:3]
    values[13, 0], values[13, 2] = odd[3], odd[5]
    values[20] = np.array(ODD[6:], dtype=np.float64).astype(dtype)
    ids = [AWKWARD_IDS[k % len(AWKWARD_IDS)] for k in range(n)]
    quoted = {"a,b": '"a,b"', 'say "hi"': '"say ""hi"""', " lead": '" lead"',
              "trail ": '"trail "', "new\nline": '"new\nline"', "cr\rin": '"cr\rin"',
              "hash#tag": '"hash#tag"'}
    out = io.BytesIO()
    write_embeddings_text(out, values, np.array(ids), "id", ",")
    assert out.getvalue() == b"id,h0,h1,h2\n" + expected_table(ids, quoted, values)


def test_no_placeholder_left_falls_back_to_numpy_text(monkeypatch, io_engine):
    """Ids holding every control character a placeholder could be: the chunks with odd
    cells are written by numpy, the others by polars; the same bytes either way."""
    from gatcli.io import text_out

    monkeypatch.setattr(text_out, "POLARS_CELLS_PER_CHUNK", 3 * 4)
    every = "".join(chr(c) for c in range(1, 32) if chr(c) not in "\t\n\r")
    ids = ["x" + every + "y", "plain", "ü,"] * 4
    quoted = {"ü,": '"ü,"'}
    values = np.arange(1, 25, dtype=np.float64).reshape(12, 2) / 8
    values[1, 1], values[9, 0] = 1e-7, np.nan
    assert text_out._placeholder([TextColumn(Texts(np.array(ids)))], ",") is None
    out = io.BytesIO()
    write_embeddings_text(out, values, np.array(ids), "id", ",")
    assert out.getvalue() == b"id,h0,h1\n" + expected_table(ids, quoted, values)


def test_placeholder_avoids_the_control_characters_in_the_ids(monkeypatch, io_engine):
    from gatcli.io import text_out

    ids = np.array(["a\x01b", "c\x02", "d"])
    assert text_out._placeholder([TextColumn(Texts(ids))], ",") == "\x03"
    assert text_out._placeholder([TextColumn(Texts(ids)), Constant("\x03")], "\x04") == "\x05"
    values = np.array([[1e-9], [np.inf], [0.5]], dtype=np.float32)
    out = io.BytesIO()
    write_embeddings_text(out, values, ids, "id", ",")
    assert out.getvalue() == b"id,h0\na\x01b,1e-09\nc\x02,inf\nd,0.5\n"


def test_integer_ids_and_rows_are_written_in_decimal(io_engine):
    values = np.array([[0.25], [1e-8], [-3.0]], dtype=np.float32)
    for ids, text in ((None, b"0\n1\n2"), (np.array([7, -1, 10 ** 12]), b"7\n-1\n1000000000000")):
        out = io.BytesIO()
        write_embeddings_text(out, values, ids, "node", "\t")
        first = [line.split(b"\t")[0] for line in out.getvalue().splitlines()]
        assert first == [b"node"] + text.split(b"\n")
        assert out.getvalue().splitlines()[1:] == [
            first[1] + b"\t0.25", first[2] + b"\t1e-08", first[3] + b"\t-3.0"]


@pytest.mark.parametrize("ids", [None, ["n,0", 'n"1', "n2", "ñ3", "n 4 "]])
def test_attention_rows_in_small_chunks_match_cell_by_cell(monkeypatch, io_engine, ids):
    """Layer, head, target, source, alpha: every row built independently, the alphas with
    odd values (tiny, subnormal, zero) at chunk borders."""
    from gatcli.io import text_out

    monkeypatch.setattr(text_out, "POLARS_CELLS_PER_CHUNK", 5 * 4)
    monkeypatch.setattr(text_out, "ROWS_PER_CHUNK", 4)
    graph = build_graph(np.array([0, 1, 2, 3, 4, 4, 1, 0]), np.array([1, 2, 0, 0, 3, 0, 4, 4]),
                        5, self_loops=True)
    rng = np.random.default_rng(6)
    alpha = rng.uniform(0.01, 1.0, size=(graph.n_edges, 2)).astype(np.float32)
    alpha[::4, 0] = np.float32(3e-5)
    alpha[3::4, 1] = np.float32(1e-45)
    alpha[5, 1] = 0.0
    texts = text_out.id_texts(None if ids is None else np.array(ids), 5, ",")
    names = [str(k) for k in range(5)] if ids is None else ids
    field = {"n,0": '"n,0"', 'n"1': '"n""1"', "n 4 ": '"n 4 "'}
    out = io.BytesIO()
    write_attention_rows(out, 3, graph, alpha, texts, ",")
    expected = "".join(
        f"3,{h},{field.get(names[t], names[t])},{field.get(names[s], names[s])},"
        f"{cell_text(alpha[e, h])}\n"
        for h in range(2) for e, (t, s) in enumerate(zip(graph.targets(), graph.sources)))
    assert out.getvalue() == expected.encode()
