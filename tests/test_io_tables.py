"""Text tables as they come (gatcli.io.text_table, features, edge_list, polars_tables).

Every test that reads takes ``io_engine``: it runs once with the numpy path and once with
polars, and expects the same values and the same messages from both. Expected values come
from Python's own float() of the cell texts, not from either engine.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gatcli.errors import GatError
from gatcli.io.readers import NodeIndex, read_features, read_graph

AWKWARD = ["-0.0", "0.0", "4.9e-324", "2.2250738585072014e-308", "1e-45", "1.4e-45",
           "3.4028235e38", "3.4028234663852886e+38", "0.1000000000000000055511151231257827",
           "123456789012345678901234567890", "-1.17549435e-38", "1e-400", "+7", ".5", "5.",
           "1E5", "0.30000000000000004"]


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def error_of(read) -> str:
    with pytest.raises(GatError) as info:
        read()
    return str(info.value)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool((a.view(np.int64) == b.view(np.int64)).all())


# -- values: both engines, the same bits ------------------------------------------------------


def test_awkward_numbers_parse_to_the_correctly_rounded_values(tmp_path, io_engine):
    rows = [AWKWARD[k:k + 3] for k in range(0, len(AWKWARD) - 2, 3)]
    text = "a,b,c\n" + "".join(",".join(r) + "\n" for r in rows)
    feats = read_features(write(tmp_path, "f.csv", text))
    expected = np.array([[float(c) for c in r] for r in rows])
    assert same_bits(feats.values, expected)
    assert np.signbit(feats.values[0, 0])  # -0.0 kept
    # float32 after float64: the same for both engines, as both give the same float64
    assert same_bits(feats.values.astype(np.float32).astype(np.float64),
                     expected.astype(np.float32).astype(np.float64))


def test_random_long_decimals_are_correctly_rounded(tmp_path, io_engine):
    rng = np.random.default_rng(3)
    cells = [f"{m:.25f}e{e}" for m, e in zip(rng.uniform(-10, 10, 300),
                                             rng.integers(-320, 300, 300))]
    text = "x\n" + "\n".join(cells) + "\n"
    feats = read_features(write(tmp_path, "f.csv", text), allow_nonfinite=True)
    assert same_bits(feats.values[:, 0], np.array([float(c) for c in cells]))


def test_ids_with_delimiters_quotes_unicode_and_hash(tmp_path, io_engine):
    text = ('node,x\n"a,b",1\n"say ""hi""",2\nünï © 😀,3\nC#,4\n" padded ",5\n'
            '"two\nlines",6\n')
    feats = read_features(write(tmp_path, "f.csv", text))
    assert feats.ids.tolist() == ["a,b", 'say "hi"', "ünï © 😀", "C#", "padded", "two\nlines"]
    assert feats.values[:, 0].tolist() == [1, 2, 3, 4, 5, 6]
    edges = '"a,b","say ""hi"""\nC#,"two\nlines"\nünï © 😀,padded\n'
    src, dst = read_graph(write(tmp_path, "e.csv", edges), NodeIndex.of(feats))
    assert list(zip(src.tolist(), dst.tolist())) == [(0, 1), (3, 5), (2, 4)]


def test_ids_are_text_matched_exactly(tmp_path, io_engine):
    feats = read_features(write(tmp_path, "f.csv", "id,x\n7,1\n1,2\n"))
    nodes = NodeIndex.of(feats)
    assert "e.csv:1:1: node id '007' is not in the features' id column" in error_of(
        lambda: read_graph(write(tmp_path, "e.csv", "007,1\n"), nodes))
    assert "node id '1.0' is not" in error_of(
        lambda: read_graph(write(tmp_path, "e.csv", "7,1.0\n"), nodes))
    src, dst = read_graph(write(tmp_path, "e.csv", "7,1\n1,7\n"), nodes)
    assert src.tolist() == [0, 1] and dst.tolist() == [1, 0]


def test_a_numeric_first_edge_line_is_never_dropped(tmp_path, io_engine):
    # integer ids, first line "1.0,2.0": data, so an error names it (it used to vanish)
    feats = read_features(write(tmp_path, "f.csv", "id,x\n1,1\n2,2\n"))
    message = error_of(lambda: read_graph(write(tmp_path, "e.csv", "1.0,2.0\n1,2\n"),
                                          NodeIndex.of(feats)))
    assert "e.csv:1:1: node id '1.0'" in message
    # ids 1.0 and 2.0, a single edge "1,2": read as data and reported, not dropped
    feats = read_features(write(tmp_path, "g.csv", "id,x\n1.0,1\n2.0,2\n"))
    assert "e.csv:1:1: node id '1'" in error_of(
        lambda: read_graph(write(tmp_path, "e.csv", "1,2\n"), NodeIndex.of(feats)))
    # --no-header / --header decide explicitly
    nodes = NodeIndex(3)
    assert read_graph(write(tmp_path, "e.csv", "0,1\n1,2\n"), nodes,
                      header=True)[0].tolist() == [1]
    assert read_graph(write(tmp_path, "e.csv", "0,1\n1,2\n"), nodes,
                      header=False)[0].tolist() == [0, 1]


# -- files as they come -------------------------------------------------------------------


def test_ogb_style_headerless_gzip_files(tmp_path, io_engine):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)).astype(np.float32)
    feat_text = "".join(",".join(repr(float(v)) for v in row) + "\n" for row in x)
    edges = rng.integers(0, 50, size=(200, 2))
    edge_text = "".join(f"{a},{b}\n" for a, b in edges)
    notes: list[str] = []
    feats = read_features(write(tmp_path, "node-feat.csv.gz", gzip.compress(feat_text.encode())),
                          notes=notes)
    assert same_bits(feats.values, x.astype(np.float64)) and feats.ids is None
    assert notes and "read as data" in notes[0]
    src, dst = read_graph(write(tmp_path, "edge.csv.gz", gzip.compress(edge_text.encode())),
                          NodeIndex.of(feats))
    assert src.tolist() == edges[:, 0].tolist() and dst.tolist() == edges[:, 1].tolist()


def test_pandas_to_csv_index_is_the_id_column(tmp_path, io_engine):
    notes: list[str] = []
    feats = read_features(write(tmp_path, "f.csv", ",0,1\n0,0.5,1.5\n1,2.5,3.5\n"),
                          notes=notes)
    assert feats.ids.tolist() == ["0", "1"]
    assert feats.values.tolist() == [[0.5, 1.5], [2.5, 3.5]]
    assert feats.columns == ["0", "1"]
    assert "pandas index" in notes[0]


def test_id_column_by_name_or_position(tmp_path, io_engine):
    path = write(tmp_path, "f.csv", "x,name,y\n1,erin,2\n3,bob,4\n")
    for choice in ("name", "2"):
        feats = read_features(path, id_column=choice)
        assert feats.ids.tolist() == ["erin", "bob"]
        assert feats.values.tolist() == [[1, 2], [3, 4]] and feats.id_column == "name"
    assert "--id-column 'nom': no such column" in error_of(
        lambda: read_features(path, id_column="nom"))
    headerless = write(tmp_path, "g.csv", "erin,1\nbob,2\n")
    assert read_features(headerless, id_column="1").ids.tolist() == ["erin", "bob"]


def test_weighted_edge_list_and_edge_columns(tmp_path, io_engine):
    nodes = NodeIndex(3)
    notes: list[str] = []
    path = write(tmp_path, "e.csv", "src,dst,weight,time\n0,1,0.5,7\n2,0,1e3,8\n")
    src, dst = read_graph(path, nodes, notes=notes)
    assert (src.tolist(), dst.tolist()) == ([0, 2], [1, 0])
    assert "ignoring 'weight', 'time'" in notes[0]
    for choice in ("dst,src", "2,1"):
        src, dst = read_graph(path, nodes, edge_columns=choice)
        assert (src.tolist(), dst.tolist()) == ([1, 0], [0, 2])
    ragged = write(tmp_path, "r.csv", "0,1,0.5\n1,2\n")
    assert error_of(lambda: read_graph(ragged, nodes)).startswith(
        f"{ragged}:2: expected 3 columns like the first line, found 2")


@pytest.mark.parametrize("delimiter, name", [(";", "e.dat"), ("|", "e.csv"), ("\t", "e.csv"),
                                             ("§", "e.txt")])
def test_any_one_character_delimiter(tmp_path, io_engine, delimiter, name):
    feats = read_features(write(tmp_path, "f" + name[1:], f"id{delimiter}x\na{delimiter}1\n"
                                f"b{delimiter}2\n"), delimiter=delimiter)
    assert feats.ids.tolist() == ["a", "b"]
    src, _ = read_graph(write(tmp_path, name, f"a{delimiter}b\n"), NodeIndex.of(feats),
                        delimiter=delimiter)
    assert src.tolist() == [0]


def test_delimiter_guessed_for_unknown_names_and_the_hint(tmp_path, io_engine):
    nodes = NodeIndex(3)
    assert read_graph(write(tmp_path, "edges", "0;1\n1;2\n"), nodes)[0].tolist() == [0, 1]
    message = error_of(lambda: read_graph(write(tmp_path, "e.txt", "0,1\n1,2\n"), nodes))
    assert "expected 2 columns (source, target), found 1 (read as whitespace-separated, " \
           "from the file name's extension; choose the delimiter with -d or -t)" in message
    message = error_of(lambda: read_graph(write(tmp_path, "e", "0,1\n1;2\n"), nodes))
    assert "guessed from the first line" in message


def test_quoted_fields_are_not_column_count_errors(tmp_path, io_engine):
    feats = read_features(write(tmp_path, "f.csv", 'id,"x, the first",y\n"n,1","1",2\n'))
    assert feats.columns == ["x, the first", "y"] and feats.ids.tolist() == ["n,1"]
    assert "not closed" in error_of(
        lambda: read_features(write(tmp_path, "g.csv", 'id,x\n"n,1,2\nb,3\n')))


def test_comments_are_whole_lines_only(tmp_path, io_engine):
    feats = read_features(write(tmp_path, "f.csv", "# made by hand\nid,x\n  # indented\n"
                                "C#,1\nF#,2\n"))
    assert feats.ids.tolist() == ["C#", "F#"]


# -- missing and non-finite values ---------------------------------------------------------


@pytest.mark.parametrize("cell, shown", [("", "an empty cell"), ("NA", "'NA'"),
                                         ("null", "'null'")])
def test_missing_values_are_one_clear_error_or_nan(tmp_path, io_engine, cell, shown):
    path = write(tmp_path, "f.csv", f"id,x,y\na,1,2\nb,3,{cell}\n")
    assert error_of(lambda: read_features(path)) == (
        f"{path}:3:3: column 'y': {shown} is a missing value; use --allow-nonfinite to read "
        "missing values as NaN")
    values = read_features(path, allow_nonfinite=True).values
    assert values[0].tolist() == [1, 2] and values[1, 0] == 3 and np.isnan(values[1, 1])


def test_nan_and_inf_with_allow_nonfinite(tmp_path, io_engine):
    path = write(tmp_path, "f.csv", "x,y\nnan,inf\n-inf,1e400\n")
    assert error_of(lambda: read_features(path)) == (
        f"{path}:2:1: column 'x' is nan (not finite); use --allow-nonfinite to accept it")
    values = read_features(path, allow_nonfinite=True).values
    assert np.isnan(values[0, 0]) and values[0, 1] == np.inf and values[1].tolist() == [
        -np.inf, np.inf]


# -- the same errors from both engines ---------------------------------------------------


BAD_FEATURES = ["id,x\na,1\nb,abc\n", "id,x,y\na,1,2\nb,1\n", "id,x\na,1\na,2\n",
                "id,x\na,1\n,2\n", "x,y\n1,2\n3,4,5\n", "x\n1\n\n   \n2\n1 2\n",
                "id,x\na,1\nb,1_000\n", "id,x\na,1\nb,١\n"]


@pytest.mark.parametrize("text", BAD_FEATURES)
def test_both_engines_give_the_same_error(tmp_path, monkeypatch, text):
    pytest.importorskip("polars")
    path = write(tmp_path, "f.csv", text)
    messages = []
    for engine in ("numpy", "polars"):
        monkeypatch.setenv("GAT_IO_ENGINE", engine)
        messages.append(error_of(lambda: read_features(path)))
    assert messages[0] == messages[1]
    assert f"{path}:" in messages[0]


def test_long_values_are_cut_in_messages(tmp_path, io_engine):
    long_id = "x" * 1_000_000
    feats = read_features(write(tmp_path, "f.csv", f"id,v\n{long_id},1\nb,2\n"))
    message = error_of(lambda: read_graph(write(tmp_path, "e.csv", f"b,{long_id}y\n"),
                                          NodeIndex.of(feats)))
    assert len(message) < 300 and "(1000001 characters)" in message
    message = error_of(lambda: read_features(write(tmp_path, "g.csv", f"x\n{long_id}\n")))
    assert len(message) < 300


def test_row_lines_are_right_after_blank_lines_and_multiline_quotes(tmp_path, io_engine):
    text = 'id,x\n\n"a\nb",1\n# c\nc,2\n\nd,nan\n'
    assert error_of(lambda: read_features(write(tmp_path, "f.csv", text))).endswith(
        "f.csv:8:2: column 'x' is nan (not finite); use --allow-nonfinite to accept it")


# -- stdin, polars absent, Parquet ---------------------------------------------------------


def run_gat(*args: str, stdin: bytes, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["gat", *args], input=stdin, capture_output=True, env=env,
                          timeout=120)


def test_stdin_with_npy_bytes_is_read_as_npy(tmp_path):
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.eye(3))
    edges = write(tmp_path, "e.csv", "0,1\n1,2\n")
    result = run_gat("embed", edges, "-", "--layers", "1", "--heads", "1", "-q",
                     stdin=buffer.getvalue())
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines()[0].startswith("id,h0")


def test_core_path_works_without_polars(tmp_path, monkeypatch):
    monkeypatch.setenv("GAT_IO_ENGINE", "auto")
    monkeypatch.setitem(sys.modules, "polars", None)  # import polars -> ImportError
    feats = read_features(write(tmp_path, "f.csv", "id,x\na,1\nb,2\n"))
    assert read_graph(write(tmp_path, "e.csv", "a,b\n"), NodeIndex.of(feats))[0].tolist() == [0]
    message = error_of(lambda: read_features(write(tmp_path, "f.parquet", b"PAR1")))
    assert message == "Parquet files need the optional polars engine: pip install 'gatcli[fast]'"


def test_parquet_features_and_edges_read_as_the_csv_forms(tmp_path):
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"name": ["a", "b,c", "d"], "x": [0.5, -0.0, 1e-45],
                          "y": [1, 2, 3]})
    frame.write_parquet(tmp_path / "f.parquet")
    feats = read_features(str(tmp_path / "f.parquet"), id_column="name")
    assert feats.ids.tolist() == ["a", "b,c", "d"]
    assert same_bits(feats.values, np.array([[0.5, 1], [-0.0, 2], [1e-45, 3]]))
    pl.DataFrame({"s": ["a", "d"], "w": [1.0, 2.0], "t": ["b,c", "a"]}).write_parquet(
        tmp_path / "e.parquet")
    notes: list[str] = []
    src, dst = read_graph(str(tmp_path / "e.parquet"), NodeIndex.of(feats),
                          edge_columns="s,t", notes=notes)
    assert (src.tolist(), dst.tolist()) == ([0, 2], [1, 0]) and "ignoring 'w'" in notes[0]


# -- streaming: a gzip bomb is judged within a fixed buffer ---------------------------------


BOMB = textwrap.dedent("""
    import gzip, resource, sys
    kind, path = sys.argv[1], sys.argv[2]
    unit = {"nul": b"\\0", "long": b"x", "text": b"a,b\\n"}[kind] * (1 << 22)
    member = gzip.compress(unit[:(16 << 20) // len(unit) * len(unit)] * 4, compresslevel=1)
    with open(path, "wb") as out:  # gzip members one after the other: 1 GiB of text
        if kind == "text":
            out.write(gzip.compress(b"x,y\\n"))
        for _ in range(64):
            out.write(member)
    resource.setrlimit(resource.RLIMIT_AS, (700 << 20, 700 << 20))
    from gatcli.errors import GatError
    from gatcli.io.readers import read_features
    try:
        read_features(path)
    except GatError as exc:
        print(exc)
        sys.exit(1)
""")


@pytest.mark.parametrize("kind, expected", [("nul", "binary data"),
                                            ("long", "a record longer than 64 MiB"),
                                            ("text", "column 'x': 'a' is not a number")])
def test_gzip_bomb_is_refused_within_a_fixed_memory_cap(tmp_path, kind, expected):
    result = subprocess.run([sys.executable, "-c", BOMB, kind, str(tmp_path / "f.csv.gz")],
                            capture_output=True, text=True, timeout=300,
                            env={"GAT_IO_ENGINE": "numpy", "PATH": "/usr/bin:/bin",
                                 "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 1, result.stderr[-2000:]
    assert expected in result.stdout


# -- stdin and files: the same values (a reported difference in the karate output) ----------

#: decimals whose float32 differs when rounded directly from the text rather than through
#: the float64 (double rounding): 1 + 2**-24 + a little is above float32's midpoint, but its
#: float64 is the midpoint itself, which rounds to even (1.0)
DOUBLE_ROUNDING = ["1.0000000596046448", "0.48484848484848486", "0.3333333333333333",
                   "1.00000005960464477539062500001"]


def read_stdin_features(monkeypatch, data: bytes, **options):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    return read_features("-", **options)


@pytest.mark.parametrize("engine", ["numpy", "polars", "auto"])
@pytest.mark.parametrize("packed", [False, True])
def test_stdin_gives_the_files_float64_values(tmp_path, monkeypatch, engine, packed):
    if engine == "polars":
        pytest.importorskip("polars")
    monkeypatch.setenv("GAT_IO_ENGINE", engine)
    cells = AWKWARD + DOUBLE_ROUNDING
    rows = [cells[k:k + 3] for k in range(0, len(cells) - 2, 3)]
    text = "id,a,b,c\n" + "".join(f"n{k}," + ",".join(r) + "\n" for k, r in enumerate(rows))
    data = gzip.compress(text.encode()) if packed else text.encode()
    from_file = read_features(write(tmp_path, "f.csv.gz" if packed else "f.csv", data))
    from_stdin = read_stdin_features(monkeypatch, data)
    expected = np.array([[float(c) for c in r] for r in rows])
    for feats in (from_file, from_stdin):
        assert feats.values.dtype == np.float64
        assert same_bits(feats.values, expected)
        assert feats.ids.tolist() == [f"n{k}" for k in range(len(rows))]
    # the float32 run rounds that float64: 1.0000000596046448 -> 1.0, not 1.0000001
    where = cells.index("1.0000000596046448")
    assert np.float32(from_stdin.values[where // 3, where % 3]) == np.float32(1.0)


def test_karate_from_stdin_prints_the_files_bytes(tmp_path):
    """`gat embed edges.csv -` with the features on stdin, or the graph on stdin, prints
    exactly what the same files give (every engine, float32 and float64)."""
    karate = Path(__file__).resolve().parents[1] / "examples" / "graphs" / "karate"
    edges, features = str(karate / "edges.csv"), str(karate / "features.csv")
    for engine in ("numpy", "polars", "auto"):
        for dtype in ("float32", "float64"):
            env = {**__import__("os").environ, "GAT_IO_ENGINE": engine}
            options = ["--dtype", dtype, "-q"]
            files = run_gat("embed", edges, features, *options, stdin=b"", env=env)
            piped = run_gat("embed", edges, "-", *options,
                            stdin=(karate / "features.csv").read_bytes(), env=env)
            graph_piped = run_gat("embed", "-", features, *options,
                                  stdin=(karate / "edges.csv").read_bytes(), env=env)
            assert files.returncode == 0, files.stderr
            assert piped.stdout == files.stdout == graph_piped.stdout, (engine, dtype)


# -- many small blocks: byte blocks (ASCII) and text blocks (after a non-ASCII or CR read) ---


@pytest.fixture
def tiny_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reads of 64 bytes, blocks of 256 characters, pieces of 128: every file is many blocks."""
    from gatcli.io import text_table

    monkeypatch.setattr(text_table, "READ_BYTES", 64)
    monkeypatch.setattr(text_table, "BLOCK_CHARS", 256)
    monkeypatch.setattr(text_table, "PIECE_CHARS", 128)


def _rows(n: int) -> list[list[str]]:
    return [[f"n{k}", AWKWARD[k % len(AWKWARD)], f"{k * 0.37:.17g}"] for k in range(n)]


@pytest.mark.parametrize("variant", ["ascii", "unicode_late", "crlf", "comments", "quoted"])
def test_values_and_ids_across_many_blocks(tmp_path, io_engine, tiny_blocks,
                                           variant: str) -> None:
    rows = _rows(120)
    if variant == "unicode_late":  # byte blocks first, then text blocks
        rows[90][0] = "n\u00e990"
    if variant == "quoted":
        rows[50][0] = "n,\n50"
    lines = ['"' + r[0] + '",' + ",".join(r[1:]) if variant == "quoted" else ",".join(r)
             for r in rows]
    if variant == "comments":
        lines[30:30] = ["# a comment", "", "   "]
    text = "id,a,b\n" + "\n".join(lines) + "\n"
    if variant == "crlf":
        text = text.replace("\n", "\r\n")
    feats = read_features(write(tmp_path, "f.csv", text))
    assert same_bits(feats.values, np.array([[float(c) for c in r[1:]] for r in rows]))
    assert list(feats.ids) == [r[0] for r in rows]


def test_rows_grow_past_their_first_capacity_in_any_memory_order() -> None:
    from gatcli.io.features import _Rows

    rng = np.random.default_rng(3)
    blocks = [rng.normal(size=(n, 5)) for n in (700, 1, 900, 0, 2500, 33)]
    rows = _Rows(5)
    for k, block in enumerate(blocks):
        rows.add(np.asfortranarray(block) if k % 2 else block)
    joined = rows.array()
    assert same_bits(joined, np.vstack(blocks))
    assert joined.flags.c_contiguous and joined.flags.owndata


def test_a_long_table_in_many_blocks_reads_as_written(tmp_path, io_engine,
                                                      tiny_blocks) -> None:
    values = np.random.default_rng(4).normal(size=(3000, 3))
    text = "a,b,c\n" + "".join(",".join(repr(float(v)) for v in row) + "\n" for row in values)
    assert same_bits(read_features(write(tmp_path, "f.csv", text)).values, values)


@pytest.mark.parametrize("unicode_first", [False, True])
@pytest.mark.parametrize("bad_row", [3, 77, 119])
def test_a_bad_cell_is_named_by_its_line_across_blocks(tmp_path, io_engine, tiny_blocks,
                                                       bad_row: int,
                                                       unicode_first: bool) -> None:
    rows = _rows(120)
    if unicode_first:
        rows[0][0] = "\u00e9"
    rows[bad_row][2] = "x1"
    text = "id,a,b\n" + "".join(",".join(r) + "\n" for r in rows)
    message = error_of(lambda: read_features(write(tmp_path, "f.csv", text)))
    assert f"f.csv:{bad_row + 2}" in message and "x1" in message


def test_edges_across_many_blocks(tmp_path, io_engine, tiny_blocks) -> None:
    pairs = [(k % 7, (3 * k + 1) % 7) for k in range(150)]
    text = "src,dst,w\n" + "".join(f"{a},{b},0.5\n" for a, b in pairs)
    sources, targets = read_graph(write(tmp_path, "e.csv", text), NodeIndex(7))
    assert (sources.tolist(), targets.tolist()) == ([a for a, _ in pairs],
                                                    [b for _, b in pairs])
    lines = text.split("\n")
    lines[101] = "99,1,0.5"  # row 100, line 102
    message = error_of(lambda: read_graph(write(tmp_path, "e.csv", "\n".join(lines)),
                                          NodeIndex(7)))
    assert "e.csv:102" in message and "99" in message
