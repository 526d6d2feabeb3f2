"""The YAML model description: a list of layers, validated key by key.

Example::

    layers:
      - {out_dim: 8, heads: 8}               # hidden: concat + ELU by default
      - {out_dim: 7, heads: 1, concat: false} # last: mean, no activation by default

Every layer accepts the keys of ``LAYER_KEYS``; the input width of layer 0 comes from the
features, that of layer k+1 from layer k's output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gatcli.errors import GatError
from gatcli.io.readers import decode_text, read_bytes
from gatcli.model.limits import check_layer_count, human_bytes
from gatcli.model.spec import (
    ACTIVATIONS,
    KINDS,
    NEGATIVE_SLOPE_EXPECTED,
    LayerSpec,
    valid_negative_slope,
)

#: key -> description of allowed values (for error messages)
LAYER_KEYS = {
    "out_dim": "a positive integer (features per head)",
    "heads": "a positive integer",
    "concat": "true (concatenate heads) or false (average them)",
    "activation": "one of " + ", ".join(ACTIVATIONS),
    "negative_slope": NEGATIVE_SLOPE_EXPECTED,
    "bias": "true or false",
    "residual": "true or false",
    "self_loops": "true or false",
    "type": "one of " + ", ".join(KINDS),
    "share_weights": "true or false (gatv2 only)",
}
TOP_KEYS = {"layers": "a list of layer mappings"}


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


_CHECKS = {
    "out_dim": _positive_int,
    "heads": _positive_int,
    "concat": lambda v: isinstance(v, bool),
    "activation": lambda v: v in ACTIVATIONS,
    "negative_slope": valid_negative_slope,
    "bias": lambda v: isinstance(v, bool),
    "residual": lambda v: isinstance(v, bool),
    "self_loops": lambda v: isinstance(v, bool),
    "type": lambda v: v in KINDS,
    "share_weights": lambda v: isinstance(v, bool),
}


#: bounds of a YAML model file (a real one is a few hundred bytes, 3 levels, ~30 values)
MAX_CONFIG_BYTES = 1_000_000


def read_config(path: str | Path) -> dict:
    """Parse a YAML model file into a mapping; syntax errors name the line.

    Anchors and aliases are allowed, within bounds: see :mod:`gatcli.model.config_yaml`.
    """
    name = str(path)
    what = "a YAML model file"
    data = read_bytes(name, what, limit=MAX_CONFIG_BYTES,
                      too_large=f"too large for {what}: more than "
                                f"{human_bytes(MAX_CONFIG_BYTES)} (a model file is a few "
                                "hundred bytes)")
    text = decode_text(data, name, what)
    from gatcli.model.config_yaml import load_yaml  # PyYAML only for a --config run

    data = load_yaml(text, name)
    if not isinstance(data, dict):
        raise GatError("expected a mapping with a 'layers' list at the top level", name)
    return data


def shown_value(value: Any, limit: int = 60) -> str:
    """``repr(value)`` for a message, cut to about ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def specs_from_config(config: dict, in_dim: int, source: str = "config") -> list[LayerSpec]:
    """The layer specs a config describes, for ``in_dim`` input features.

    Hidden layers default to concatenated heads and ELU, the last layer to averaged heads
    and no activation, as in the GAT paper.
    """
    for key in config:
        if key not in TOP_KEYS:
            raise GatError(f"unknown key {shown_value(key)}; allowed: {', '.join(TOP_KEYS)}",
                           source)
    layers = config.get("layers")
    if not isinstance(layers, list) or not layers:
        raise GatError("'layers' must be a non-empty list of layer mappings", source)
    check_layer_count(len(layers), f"{source}: layers")
    specs = []
    width = in_dim
    for k, entry in enumerate(layers):
        where = f"{source}: layers[{k}]"
        if not isinstance(entry, dict):
            raise GatError("each layer must be a mapping of keys to values", where)
        for key, value in entry.items():
            if key not in LAYER_KEYS:
                raise GatError(
                    f"unknown key {shown_value(key)}; allowed keys: {', '.join(LAYER_KEYS)}",
                    where
                )
            if not _CHECKS[key](value):
                raise GatError(f"{key}: got {shown_value(value)}, expected {LAYER_KEYS[key]}",
                               where)
        if "out_dim" not in entry:
            raise GatError("missing key 'out_dim' (features per head)", where)
        last = k == len(layers) - 1
        kind = entry.get("type", "gat")
        if entry.get("share_weights") and kind != "gatv2":
            raise GatError("share_weights applies only to type: gatv2", where)
        spec = LayerSpec(
            in_dim=width,
            out_dim=entry["out_dim"],
            heads=entry.get("heads", 1),
            concat=entry.get("concat", not last),
            activation=entry.get("activation", "none" if last else "elu"),
            negative_slope=float(entry.get("negative_slope", 0.2)),
            bias=entry.get("bias", True),
            residual=entry.get("residual", False),
            self_loops=entry.get("self_loops", True),
            kind=kind,
            share_weights=entry.get("share_weights", False),
        )
        specs.append(spec)
        width = spec.output_dim
    return specs
