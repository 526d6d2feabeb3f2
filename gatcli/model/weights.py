"""Weights files: the project's own self-describing ``.npz`` layout (load and save).

Layout (``np.savez``; every array loads with ``allow_pickle=False``):

    gatcli.format        "gatcli-weights"              (0-d unicode array)
    gatcli.version       1
    gatcli.architecture  JSON list of layer specs      (the fields of ``LayerSpec``)
    layers.<k>.<name>    the parameter <name> of layer k, PyG ``state_dict`` names and
                         shapes (see ``gatcli.model.spec``), float32 or float64

So ``--weights file.npz`` alone is enough to rebuild and run the model. ``load_weights``
also reads PyTorch Geometric ``state_dict`` exports (see ``gatcli.model.pyg``).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from gatcli.errors import GatError
from gatcli.io.atomic import atomic_writer
from gatcli.model.pyg import PygOptions, is_pyg_state_dict, model_from_pyg
from gatcli.model.spec import ACTIVATIONS, KINDS, Layer, LayerSpec, Model

FORMAT = "gatcli-weights"
VERSION = 1


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, loaded without pickle; errors name the file."""
    name = str(path)
    p = Path(path)
    if not p.exists():
        raise GatError("no such file", name)
    if p.is_dir():
        raise GatError("is a directory, expected a weights .npz file", name)
    try:
        with np.load(p, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise GatError("is a single .npy array, expected an .npz archive of weights",
                               name)
            return {key: data[key] for key in data.files}
    except GatError:
        raise
    except PermissionError:
        raise GatError("permission denied", name) from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise GatError(f"not a readable .npz archive ({exc})", name) from None


def is_own_layout(arrays: Mapping[str, np.ndarray]) -> bool:
    return "gatcli.architecture" in arrays


def _spec_from_dict(entry: object, k: int, name: str) -> LayerSpec:
    where = f"{name}: gatcli.architecture[{k}]"
    if not isinstance(entry, dict):
        raise GatError("expected a mapping of layer fields", where)
    fields = LayerSpec.__dataclass_fields__
    unknown = set(entry) - set(fields)
    if unknown:
        raise GatError(f"unknown fields {sorted(unknown)}; allowed: {', '.join(fields)}", where)
    try:
        spec = LayerSpec(**entry)
    except TypeError as exc:
        raise GatError(str(exc), where) from None
    if spec.activation not in ACTIVATIONS:
        raise GatError(f"activation {spec.activation!r}, expected one of {ACTIVATIONS}", where)
    if spec.kind not in KINDS:
        raise GatError(f"kind {spec.kind!r}, expected one of {KINDS}", where)
    return spec


def check_layer_params(spec: LayerSpec, params: Mapping[str, np.ndarray], where: str) -> None:
    """Every expected parameter present with its shape, no extra ones, all finite."""
    expected = spec.parameter_shapes()
    for key, shape in expected.items():
        if key not in params:
            raise GatError(f"missing key {key!r} (expected shape {shape})", where)
        found = tuple(np.shape(params[key]))
        if found != shape:
            raise GatError(f"key {key!r} has shape {found}, expected {shape}", where)
        value = np.asarray(params[key])
        if not np.issubdtype(value.dtype, np.floating):
            raise GatError(f"key {key!r} has dtype {value.dtype}, expected floats", where)
        if not np.isfinite(value).all():
            raise GatError(f"key {key!r} has non-finite values (NaN or inf)", where)
    extra = sorted(set(params) - set(expected))
    if extra:
        raise GatError(
            f"unexpected keys {extra} for this layer (expected {', '.join(expected)})", where
        )


def check_model(model: Model, where: str) -> None:
    """Parameters match specs, and each layer's input width is the previous output width."""
    for k, layer in enumerate(model.layers):
        check_layer_params(layer.spec, layer.params, f"{where}: layer {k}")
        if k and layer.spec.in_dim != model.layers[k - 1].spec.output_dim:
            raise GatError(
                f"layer {k} takes {layer.spec.in_dim} inputs but layer {k - 1} outputs "
                f"{model.layers[k - 1].spec.output_dim}",
                where,
            )


def model_from_own_layout(arrays: Mapping[str, np.ndarray], name: str) -> Model:
    """Rebuild a model from the project's own layout; every key and shape is checked."""
    fmt = str(arrays.get("gatcli.format", ""))
    if fmt != FORMAT:
        raise GatError(f"gatcli.format is {fmt!r}, expected {FORMAT!r}", name)
    version = int(np.asarray(arrays.get("gatcli.version", -1)))
    if version != VERSION:
        raise GatError(f"gatcli.version is {version}, this gat reads version {VERSION}", name)
    try:
        entries = json.loads(str(arrays["gatcli.architecture"]))
    except json.JSONDecodeError as exc:
        raise GatError(f"gatcli.architecture is not valid JSON ({exc})", name) from None
    if not isinstance(entries, list) or not entries:
        raise GatError("gatcli.architecture must be a non-empty list of layers", name)
    specs = [_spec_from_dict(entry, k, name) for k, entry in enumerate(entries)]
    layers = []
    known = {"gatcli.format", "gatcli.version", "gatcli.architecture"}
    for k, spec in enumerate(specs):
        prefix = f"layers.{k}."
        params = {key[len(prefix):]: v for key, v in arrays.items() if key.startswith(prefix)}
        known |= {prefix + key for key in params}
        layers.append(Layer(spec, params))
    stray = sorted(set(arrays) - known)
    if stray:
        raise GatError(f"unknown keys {stray[:5]} (not part of any layer)", name)
    model = Model(layers)
    check_model(model, name)
    return model


def own_layout_arrays(model: Model) -> dict[str, np.ndarray]:
    """The arrays of the project's own layout for ``model`` (see module docstring)."""
    arrays: dict[str, np.ndarray] = {
        "gatcli.format": np.array(FORMAT),
        "gatcli.version": np.array(VERSION),
        "gatcli.architecture": np.array(json.dumps([s.to_dict() for s in model.specs])),
    }
    for k, layer in enumerate(model.layers):
        for key, value in layer.params.items():
            arrays[f"layers.{k}.{key}"] = np.asarray(value)
    return arrays


def save_weights(model: Model, path: str) -> None:
    """Write ``model`` in the project's own layout, atomically."""
    with atomic_writer(path) as out:
        np.savez(out, **own_layout_arrays(model))


def load_weights(path: str, pyg: PygOptions | None = None,
                 notes: list[str] | None = None) -> Model:
    """A model from a weights ``.npz``: the project's own layout, or a PyTorch Geometric
    ``state_dict`` export (``gatcli.model.pyg``), whose gaps ``pyg`` fills; what was assumed
    or ignored is appended to ``notes``."""
    arrays = read_npz(path)
    notes = notes if notes is not None else []
    if is_own_layout(arrays):
        if pyg is not None and pyg.given():
            notes.append(f"the architecture stored in {path} is used; ignoring "
                         f"{', '.join(pyg.given())}")
        return model_from_own_layout(arrays, str(path))
    if is_pyg_state_dict(arrays):
        loaded = model_from_pyg(arrays, str(path), pyg)
        notes.extend(loaded.notes)
        return loaded.model
    raise GatError("neither a gatcli weights file (no 'gatcli.architecture' key) nor a PyG "
                   "GATConv/GATv2Conv state_dict (no key ending in att_src or att)", str(path))
