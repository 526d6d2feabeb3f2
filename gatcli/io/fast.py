"""The optional polars engine for text and Parquet I/O (extra ``gatcli[fast]``).

polars is imported lazily, on the first read or write that can use it, so commands that read no
text pay nothing for it. ``GAT_IO_ENGINE=numpy`` turns it off (the tests run the I/O suite both
ways with it); ``GAT_IO_ENGINE=polars`` makes its absence an error instead of a fallback.
"""

from __future__ import annotations

import os
from types import ModuleType

from gatcli.errors import GatError

FAST_EXTRA_HINT = "pip install 'gatcli[fast]'"


def _engine_choice() -> str:
    choice = os.environ.get("GAT_IO_ENGINE", "auto").strip().lower() or "auto"
    if choice not in ("auto", "numpy", "polars"):
        raise GatError(f"GAT_IO_ENGINE must be auto, numpy or polars, not {choice!r}")
    return choice


def polars_module() -> ModuleType | None:
    """polars if it is installed and not turned off by ``GAT_IO_ENGINE=numpy``, else None."""
    choice = _engine_choice()
    if choice == "numpy":
        return None
    try:
        import polars
    except ImportError as missing:
        if choice == "polars":
            raise GatError("GAT_IO_ENGINE=polars but polars is not installed: "
                           f"{FAST_EXTRA_HINT}") from missing
        return None
    return polars


def require_polars(what: str) -> ModuleType:
    """polars for a feature that has no numpy path (``what``: e.g. "Parquet files")."""
    module = polars_module()
    if module is None:
        raise GatError(f"{what} need the optional polars engine: {FAST_EXTRA_HINT}")
    return module
