"""Engines: where and how a layer's math (:mod:`gatcli.kernel`) runs.

An engine maps the kernel's pure functions over the fixed product chunks and the target
blocks of each layer, and decides where the arrays live. Every engine gives the same bits:
the chunks of the matrix products are fixed by the layer, the softmax shift is global, and
each target row's arithmetic does not depend on the block it is in.

* :class:`~gatcli.engine.threads.ThreadEngine` (default): threads of this process, arrays in
  memory.
"""

from __future__ import annotations

from gatcli.engine.threads import ThreadEngine

__all__ = ["ThreadEngine", "resolve_engine"]


def resolve_engine(engine: object | None) -> ThreadEngine:
    """The engine to use: ``engine`` itself, or a new default ThreadEngine for None."""
    if engine is None:
        return ThreadEngine()
    return engine  # type: ignore[return-value]
