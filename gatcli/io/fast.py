"""The optional polars engine for text and Parquet I/O (extra ``gatcli[fast]``).

polars is imported lazily, on the first read or write that can use it, so commands that read no
text pay nothing for it. ``GAT_IO_ENGINE=numpy`` turns it off (the tests run the I/O suite both
ways with it); ``GAT_IO_ENGINE=polars`` makes its absence an error instead of a fallback, and
uses it whatever the size.

By default (``auto``) small text is read and written by the numpy engine even when polars is
installed: importing polars takes longer (about 0.15 s) than it saves on a table of a few
MB, and the two engines give the same values and bytes. A text input is small when its first
block (:mod:`gatcli.io.text_table`: the whole input unless it is larger than 16 MiB) holds
fewer than :data:`SMALL_TEXT_CHARS` characters; a text output when it has fewer than
:data:`SMALL_OUTPUT_CELLS` cells (rows x columns).
"""

from __future__ import annotations

import os
from types import ModuleType

from gatcli.errors import GatError

FAST_EXTRA_HINT = "pip install 'gatcli[fast]'"

#: text inputs of fewer characters (in their first block) use numpy unless GAT_IO_ENGINE=polars
SMALL_TEXT_CHARS = 4 << 20
#: text outputs of fewer cells use numpy unless GAT_IO_ENGINE=polars
SMALL_OUTPUT_CELLS = 1 << 18


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


def polars_for_size(size: int, small: int) -> ModuleType | None:
    """:func:`polars_module` for a text input or output of ``size`` (characters or cells):
    None in ``auto`` mode when ``size < small`` (the numpy engine: see the module doc)."""
    if size < small and _engine_choice() == "auto":
        return None
    return polars_module()


def require_polars(what: str) -> ModuleType:
    """polars for a feature that has no numpy path (``what``: e.g. "Parquet files")."""
    module = polars_module()
    if module is None:
        raise GatError(f"{what} need the optional polars engine: {FAST_EXTRA_HINT}")
    return module
