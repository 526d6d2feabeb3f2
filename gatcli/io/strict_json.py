"""JSON text that strict parsers accept: every non-finite float is written as ``null``.

Python's ``json`` writes bare ``NaN``/``Infinity`` by default, which is not JSON. Every JSON
document gat writes (explain ``--format json``, ``weights show --format json``, JSON-lines
embeddings) goes through :func:`dumps`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def finite_or_none(value: Any) -> Any:
    """``value`` with NaN/inf floats (also inside lists, tuples, dicts, numpy arrays) as None."""
    if isinstance(value, np.ndarray):
        return finite_or_none(value.tolist())
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def dumps(document: Any, **kwargs: Any) -> str:
    """``json.dumps`` of ``document`` with non-finite numbers as null; never emits NaN."""
    return json.dumps(finite_or_none(document), allow_nan=False, **kwargs)
