"""Engines: where and how a layer's math (:mod:`gatcli.kernel`) runs.

An engine maps the kernel's pure functions over the fixed product chunks and the target
blocks of each layer, and decides where the arrays live. Every engine gives the same bits:
the chunks of the matrix products are fixed by the layer, the softmax shift is global, and
each target row's arithmetic does not depend on the block it is in.

* :class:`~gatcli.engine.threads.ThreadEngine` (default): threads of this process; with a
  ``memory_limit`` the layers' large tables and outputs are memory-mapped files in a
  temporary directory (out-of-core).
* :class:`~gatcli.engine.dask.DaskEngine`: a Dask cluster (``pip install
  'gatcli[distributed]'``).

:func:`make_engine` builds one from the CLI's options (``--scheduler``, ``--memory-limit``,
``--tmp-dir``).
"""

from __future__ import annotations

import re
from typing import Any

from gatcli.engine.threads import ThreadEngine
from gatcli.errors import GatError

__all__ = ["ThreadEngine", "make_engine", "parse_size", "resolve_engine"]

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes of a size like ``384M``, ``2G``, ``1.5G``, ``4096`` (binary units, optional
    ``B``/``iB``); GatError otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise GatError(f"expected a size like 384M or 2G, got {text!r}", "--memory-limit")
    size = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if size <= 0:
        raise GatError(f"expected a positive size, got {text!r}", "--memory-limit")
    return size


def resolve_engine(engine: object | None) -> Any:
    """The engine to use: ``engine`` itself, or a new default ThreadEngine for None."""
    if engine is None:
        return ThreadEngine()
    return engine


def make_engine(scheduler: str | None = None, memory_limit: str | int | None = None,
                tmp_dir: str | None = None) -> Any:
    """The engine for ``gat embed``'s options: a DaskEngine for a scheduler (``local:N`` or
    an address), else a ThreadEngine (out-of-core when a memory limit is given, ``"auto"``
    for the automatic choice: see :func:`gatcli.engine.threads.automatic_memory_limit`).
    Close it (or use it as a context manager) to release the cluster or the temporary
    files."""
    if scheduler is not None:
        if memory_limit is not None:
            raise GatError("--memory-limit applies to the local engine, not with --scheduler")
        from gatcli.engine.dask import EXTRA_HINT, DaskEngine

        if scheduler.startswith("local:") and not scheduler[6:].isdigit():
            raise GatError(f"expected local:N (N worker processes), got {scheduler!r}",
                           "--scheduler")
        try:
            return DaskEngine(scheduler)
        except ImportError as error:
            raise GatError(EXTRA_HINT) from error
        except OSError as error:
            raise GatError(f"cannot reach the Dask scheduler: {error}", "--scheduler") from error
    if isinstance(memory_limit, str):
        memory_limit = None if memory_limit == "none" else (
            "auto" if memory_limit == "auto" else parse_size(memory_limit))
    return ThreadEngine(memory_limit=memory_limit, tmp_dir=tmp_dir)
