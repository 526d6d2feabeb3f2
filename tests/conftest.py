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
