"""The polars switch and the strict JSON helper."""

from __future__ import annotations

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
