"""The polars switch and the strict JSON helper."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from gatcli.errors import GatError
from gatcli.io import fast, strict_json


def test_numpy_engine_turns_polars_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAT_IO_ENGINE", "numpy")
    assert fast.polars_module() is None
    with pytest.raises(GatError, match=r"gatcli\[fast\]"):
        fast.require_polars("Parquet files")


def test_bad_engine_name_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAT_IO_ENGINE", "pandas")
    with pytest.raises(GatError, match="GAT_IO_ENGINE"):
        fast.polars_module()


def test_missing_polars_named_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "polars", None)  # import polars -> ImportError
    monkeypatch.setenv("GAT_IO_ENGINE", "auto")
    assert fast.polars_module() is None
    monkeypatch.setenv("GAT_IO_ENGINE", "polars")
    with pytest.raises(GatError, match=r"pip install 'gatcli\[fast\]'"):
        fast.polars_module()


def test_strict_json_writes_null_for_non_finite() -> None:
    doc = {"a": [1.0, math.nan, -math.inf], "b": np.array([np.inf, 2.5], dtype=np.float32),
           "c": np.float64("nan"), "d": np.int64(3)}
    text = strict_json.dumps(doc)

    def refuse(name: str) -> None:
        raise AssertionError(f"non-JSON constant {name}")

    assert json.loads(text, parse_constant=refuse) == {
        "a": [1.0, None, None], "b": [None, 2.5], "c": None, "d": 3}


# -- the engine by size (issue 12: no polars import for small tables) ------------------------


def test_small_tables_use_numpy_unless_polars_is_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    pl = pytest.importorskip("polars")
    monkeypatch.setenv("GAT_IO_ENGINE", "auto")
    assert fast.polars_for_size(fast.SMALL_TEXT_CHARS - 1, fast.SMALL_TEXT_CHARS) is None
    assert fast.polars_for_size(fast.SMALL_TEXT_CHARS, fast.SMALL_TEXT_CHARS) is pl
    monkeypatch.setenv("GAT_IO_ENGINE", "polars")
    assert fast.polars_for_size(0, fast.SMALL_TEXT_CHARS) is pl
    monkeypatch.setenv("GAT_IO_ENGINE", "numpy")
    assert fast.polars_for_size(1 << 40, fast.SMALL_TEXT_CHARS) is None


def _polars_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record which polars paths of the readers and the text writer run."""
    from gatcli.io import polars_tables, text_out

    calls: list[str] = []
    for module, name in ((polars_tables, "features_block"), (polars_tables, "edges_block"),
                         (text_out, "_text_polars")):
        original = getattr(module, name)

        def spy(*args, _original=original, _name=name):
            calls.append(_name)
            return _original(*args)

        monkeypatch.setattr(module, name, spy)
    return calls


@pytest.mark.parametrize("small_chars, small_cells, engine", [
    (fast.SMALL_TEXT_CHARS, fast.SMALL_OUTPUT_CELLS, "auto"),  # small: numpy
    (0, 0, "auto"),  # the thresholds lowered: polars
    (fast.SMALL_TEXT_CHARS, fast.SMALL_OUTPUT_CELLS, "polars"),  # forced
])
def test_engine_choice_by_size_and_same_results(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                               small_chars: int, small_cells: int,
                                               engine: str) -> None:
    pytest.importorskip("polars")
    from gatcli.io import edge_list, features, text_out
    from gatcli.io.readers import NodeIndex, read_features, read_graph

    features_csv = tmp_path / "f.csv"
    features_csv.write_text("id,x,y\na,0.1,-2e-3\nb,1e30,3\nc,7,0.30000000000000004\n")
    edges_csv = tmp_path / "e.csv"
    edges_csv.write_text("src,dst\na,b\nb,c\nc,a\n")
    for module in (features, edge_list):
        monkeypatch.setattr(module, "SMALL_TEXT_CHARS", small_chars)
    monkeypatch.setattr(text_out, "SMALL_OUTPUT_CELLS", small_cells)
    calls = _polars_calls(monkeypatch)
    monkeypatch.setenv("GAT_IO_ENGINE", engine)
    feats = read_features(str(features_csv))
    sources, targets = read_graph(str(edges_csv), NodeIndex.of(feats))
    out = io.BytesIO()
    text_out.write_embeddings_text(out, feats.values.astype(np.float32), feats.ids, "id", ",")
    polars_used = small_chars == 0 or engine == "polars"
    assert sorted(set(calls)) == (["_text_polars", "edges_block", "features_block"]
                                  if polars_used else [])
    np.testing.assert_array_equal(feats.values, [[0.1, -2e-3], [1e30, 3], [7, 0.30000000000000004]])
    assert feats.values.dtype == np.float64
    assert (sources.tolist(), targets.tolist()) == ([0, 1, 2], [1, 2, 0])
    assert out.getvalue() == (b"id,h0,h1\na,0.1,-0.002\nb,1e+30,3.0\nc,7.0,0.3\n")


def test_polars_block_parsers_parse_clean_blocks_themselves() -> None:
    """The polars engine must read a clean block itself: a failure sends the block to the
    numpy engine silently (same values), so only this shows the polars path is alive (with
    polars 2.x a removed read_csv keyword made every block fall back)."""
    pl = pytest.importorskip("polars")
    from gatcli.io import polars_tables

    values, ids = polars_tables.features_block(pl, "a,0.1,-2e-3\nb,1e30,3\n", ",", 3, 0)
    np.testing.assert_array_equal(values, [[0.1, -2e-3], [1e30, 3.0]])
    assert ids == ["a", "b"]
    values, ids = polars_tables.features_block(pl, "0.5\t7\n-0.0\t1E5\n", "\t", 2, None)
    assert ids is None and values.tolist() == [[0.5, 7.0], [-0.0, 1e5]]
    sources, targets = polars_tables.edges_block(pl, "0,1,w\n2,0,x\n", ",", 3, 0, 1, False)
    assert (np.asarray(sources).tolist(), np.asarray(targets).tolist()) == ([0, 2], [1, 0])
    sources, targets = polars_tables.edges_block(pl, "a,b\nb,a\n", ",", 2, 0, 1, True)
    assert (list(sources), list(targets)) == (["a", "b"], ["b", "a"])


# -- only parse failures fall back (a dead engine must not go unnoticed) ----------------------


def test_engine_bugs_propagate_and_parse_failures_fall_back() -> None:
    from gatcli.io.text_table import Block, EngineRefused, parse_block

    block = Block("1,2\n3,4\n", 1)

    def slow(b: Block) -> tuple[tuple, np.ndarray]:
        return ("slow",), np.array([1, 2])

    def refuses(text: str) -> tuple:
        raise EngineRefused("bad cell")

    def broken(text: str) -> tuple:
        raise TypeError("read_csv() got an unexpected keyword argument")

    def works(text: str) -> tuple:
        return (["a", "b"],)

    assert parse_block(block, ",", [refuses, works], slow) == ((["a", "b"],), None)
    assert parse_block(block, ",", [refuses], slow)[0] == ("slow",)
    for bug in (TypeError, AttributeError, KeyError):
        def raises(text: str, _bug=bug) -> tuple:
            raise _bug("a bug")
        with pytest.raises(bug):
            parse_block(block, ",", [raises, works], slow)
    with pytest.raises(TypeError):
        parse_block(block, ",", [broken], slow)


@pytest.mark.parametrize("text", ["a,1,x\n", "a,1\n", "a,1,2,3\n", "a,,2\n", "a,1,NA\n"])
def test_both_engines_refuse_bad_blocks_with_engine_refused(text: str) -> None:
    from gatcli.io import features
    from gatcli.io.text_table import EngineRefused

    with pytest.raises(EngineRefused):
        features._numpy_block(text, ",", 3, 0)
    pl = pytest.importorskip("polars")
    from gatcli.io import polars_tables

    with pytest.raises(EngineRefused):
        polars_tables.features_block(pl, text, ",", 3, 0)


def test_a_changed_polars_api_is_an_error_not_a_silent_fallback(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What hid the dead polars path: a TypeError from read_csv must reach the user."""
    pl = pytest.importorskip("polars")
    from gatcli.io.readers import read_features

    path = tmp_path / "f.csv"
    path.write_text("id,x\na,0.5\nb,2\n")

    def removed_keyword(*args, **kwargs):
        raise TypeError("read_csv() got an unexpected keyword argument 'x'")

    monkeypatch.setattr(pl, "read_csv", removed_keyword)
    monkeypatch.setenv("GAT_IO_ENGINE", "polars")
    with pytest.raises(TypeError, match="unexpected keyword"):
        read_features(str(path))
    monkeypatch.setenv("GAT_IO_ENGINE", "numpy")
    assert read_features(str(path)).values.tolist() == [[0.5], [2.0]]
