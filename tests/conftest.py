"""Shared fixtures: paths of the example graphs."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def examples() -> Path:
    """examples/graphs/ of the repository."""
    return ROOT / "examples" / "graphs"


@pytest.fixture
def tutorial(examples: Path) -> Path:
    """The tutorial's 4-node graph: edges.csv, adjacency.npz, features.csv, weights.npz."""
    return examples / "tutorial"


@pytest.fixture(autouse=True)
def default_io_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from the default engine choice (``auto``), whatever GAT_IO_ENGINE
    the suite was started with: the tests pick engines themselves (:func:`io_engine`), and
    Parquet needs polars."""
    monkeypatch.delenv("GAT_IO_ENGINE", raising=False)


@pytest.fixture(params=["numpy", "polars"])
def io_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test once with the numpy I/O path and once with polars (``GAT_IO_ENGINE``).

    The polars run is skipped only where polars is not installed (a core-only install).
    """
    if request.param == "polars":
        pytest.importorskip("polars")
    monkeypatch.setenv("GAT_IO_ENGINE", request.param)
    return request.param
