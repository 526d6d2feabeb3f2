"""Weights files: the project's own self-describing ``.npz`` layout (load and save).

Layout (``np.savez``; every array loads with ``allow_pickle=False``):

    gatcli.format        "gatcli-weights"              (0-d unicode array)
    gatcli.version       1
    gatcli.architecture  JSON list of layer specs      (the fields of ``LayerSpec``)
    layers.<k>.<name>    the parameter <name> of layer k, PyG ``state_dict`` names and
                         shapes (see ``gatcli.model.spec``), float32 or float64
    gatcli.features      (optional) "row": the model divides each input row by the sum of
                         its absolute values first (``Model.feature_norm``; absent = "none")
    gatcli.classes       (optional) JSON list of class names, one per output column, for
                         a classifier trained by ``gat train``

So ``--weights file.npz`` alone is enough to rebuild and run the model. ``load_weights``
also reads PyTorch Geometric ``state_dict`` exports (see ``gatcli.model.pyg``).
"""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from gatcli.errors import GatError
from gatcli.io.atomic import STDIO, atomic_writer, output_target
from gatcli.io.numpy_files import ZIP_ERRORS, NpzArchive
from gatcli.io.readers import load_numpy
from gatcli.io.source import open_binary
from gatcli.model.config import shown_value
from gatcli.model.limits import check_layer_count, check_model_size, human_bytes
from gatcli.model.pyg import PygOptions, group_keys, is_pyg_state_dict, model_from_pyg
from gatcli.model.spec import (
    ACTIVATIONS,
    FEATURE_NORMS,
    KINDS,
    NEGATIVE_SLOPE_EXPECTED,
    Layer,
    LayerSpec,
    Model,
    valid_negative_slope,
)

FORMAT = "gatcli-weights"
VERSION = 1


#: the metadata members of the own layout: each one short 0-d value
META_KEYS = ("gatcli.format", "gatcli.version", "gatcli.architecture", "gatcli.features",
             "gatcli.classes")
#: the largest metadata member read (a real architecture is a few hundred bytes a layer)
MAX_META_BYTES = 1 << 20
NEITHER = ("neither a gat weights file (no 'gatcli.architecture' key) nor a PyG "
           "GATConv/GATv2Conv state_dict (no key ending in att_src or att)")
#: the first bytes of a legacy (non-zip) ``torch.save`` file: pickle protocol 2 and torch's
#: magic number
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of a weights ``.npz`` file, loaded without pickle; errors name the file.

    Before any array is loaded, the member names and header shapes are checked
    (:func:`check_members`): a member that belongs to no layer, or claims more than its
    layer's shape or the memory, is refused unread. A ``torch.save`` file is recognised
    and the one-line export to ``.npz`` shown.
    """
    name = str(path)
    what = "a weights .npz file"
    with open_binary(name, what) as handle:
        head = handle.read(16)
        if head[:4] != b"PK\x03\x04":
            if head.startswith(TORCH_LEGACY_MAGIC):
                raise GatError(torch_message(name, "a PyTorch file (torch.save, legacy "
                                             "format)"), name)
            if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:
                raise GatError(torch_message(name, "a Python pickle (torch.save?)"), name)
            raise GatError(f"not an .npz (zip) archive; expected {what}", name)
        handle.seek(0)
        if _is_torch_zip(handle):
            raise GatError(torch_message(name, "a PyTorch file (torch.save)"), name)
        handle.seek(0)
        arrays = load_numpy(handle, name, what, check_members)
    if not isinstance(arrays, dict):
        raise GatError(f"a single .npy array, not {what}", name)
    return arrays


def _is_torch_zip(handle) -> bool:
    """Whether a zip archive is a ``torch.save`` file (``<name>/data.pkl`` inside)."""
    try:
        with zipfile.ZipFile(handle) as archive:
            names = archive.namelist()
    except ZIP_ERRORS:
        return False  # the .npz reader reports it
    return any(n == "data.pkl" or n.endswith("/data.pkl") for n in names)


def torch_message(path: str, kind: str) -> str:
    """The message for a torch file given as weights: what it is, and the export."""
    stem = Path(path).with_suffix(".npz").name if path.endswith((".pt", ".pth")) else "w.npz"
    command = (f"import torch, numpy as np; np.savez({stem!r}, **{{k: v.numpy() for k, v in "
               f"torch.load({path!r}, map_location='cpu').items()}})")
    return (f"this is {kind}, not a weights .npz; export its state_dict once with: "
            f'python -c "{command}"')


def check_members(archive: NpzArchive) -> None:
    """Refuse a weights archive by its member names and header shapes, before any array
    is loaded: the own layout's members against its stored architecture (whose sizes are
    checked against the memory), a PyG export's against GATConv/GATv2Conv names."""
    name, headers = archive.name, archive.headers
    if "gatcli.architecture" in headers:
        for key in META_KEYS:
            header = headers.get(key)
            if header is not None and (header.shape != () or header.nbytes > MAX_META_BYTES):
                raise GatError(f"the header claims {header.describe()}; expected one value "
                               f"(a 0-d array of at most {human_bytes(MAX_META_BYTES)})",
                               archive.where(key))
        meta = {key: archive.load(key) for key in META_KEYS if key in headers}
        specs = own_layout_specs(meta, name)
        check_model_size(specs, lambda k: f"{name}: gatcli.architecture[{k}]")
        known = set(meta)
        for k, spec in enumerate(specs):
            prefix = f"layers.{k}."
            shapes = {key[len(prefix):]: header.shape for key, header in headers.items()
                      if key.startswith(prefix)}
            known |= {prefix + key for key in shapes}
            check_param_shapes(spec, shapes, f"{name}: layer {k}")
        stray = sorted(set(headers) - known)
        if stray:
            raise GatError(f"unknown keys {stray[:5]} (not part of any layer)", name)
    elif is_pyg_state_dict(headers):
        check_layer_count(len(group_keys(headers, name)), name)
    else:
        found = ", ".join(shown_value(key, 30) for key in list(headers)[:5])
        raise GatError(f"{NEITHER}; found {found or 'no arrays'}", name)


def is_own_layout(arrays: Mapping[str, np.ndarray]) -> bool:
    return "gatcli.architecture" in arrays


def _spec_from_dict(entry: object, k: int, name: str) -> LayerSpec:
    where = f"{name}: gatcli.architecture[{k}]"
    if not isinstance(entry, dict):
        raise GatError("expected a mapping of layer fields", where)
    fields = LayerSpec.__dataclass_fields__
    unknown = set(entry) - set(fields)
    if unknown:
        raise GatError(f"unknown fields {shown_value(sorted(map(str, unknown)))}; allowed: "
                       f"{', '.join(fields)}", where)
    missing = [f for f in ("in_dim", "out_dim") if f not in entry]
    if missing:
        raise GatError(f"missing fields {missing}", where)
    for key, value in entry.items():
        expected = _FIELD_CHECKS[key][1]
        if not _FIELD_CHECKS[key][0](value):
            raise GatError(f"field {key!r} is {shown_value(value)}, expected {expected}",
                           where)
    return LayerSpec(**entry)


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


#: LayerSpec field -> (check, what is expected), for the stored architecture
_FIELD_CHECKS = {
    "in_dim": (_is_positive_int, "a positive integer"),
    "out_dim": (_is_positive_int, "a positive integer"),
    "heads": (_is_positive_int, "a positive integer"),
    "concat": (lambda v: isinstance(v, bool), "true or false"),
    "activation": (lambda v: v in ACTIVATIONS, "one of " + ", ".join(ACTIVATIONS)),
    "negative_slope": (valid_negative_slope, NEGATIVE_SLOPE_EXPECTED),
    "bias": (lambda v: isinstance(v, bool), "true or false"),
    "residual": (lambda v: isinstance(v, bool), "true or false"),
    "self_loops": (lambda v: isinstance(v, bool), "true or false"),
    "kind": (lambda v: v in KINDS, "one of " + ", ".join(KINDS)),
    "share_weights": (lambda v: isinstance(v, bool), "true or false"),
}


def check_param_shapes(spec: LayerSpec, shapes: Mapping[str, tuple[int, ...]],
                       where: str) -> None:
    """Every expected parameter of ``spec`` present with its shape, no extra ones."""
    expected = spec.parameter_shapes()
    for key, shape in expected.items():
        if key not in shapes:
            raise GatError(f"missing key {key!r} (expected shape {shape})", where)
        found = tuple(shapes[key])
        if found != shape:
            raise GatError(f"key {key!r} has shape {found}, expected {shape}", where)
    extra = sorted(set(shapes) - set(expected))
    if extra:
        raise GatError(
            f"unexpected keys {shown_value(extra)} for this layer (expected "
            f"{', '.join(expected)})", where
        )


def check_layer_params(spec: LayerSpec, params: Mapping[str, np.ndarray], where: str) -> None:
    """Every expected parameter present with its shape, no extra ones, all finite."""
    check_param_shapes(spec, {key: tuple(np.shape(v)) for key, v in params.items()}, where)
    for key in spec.parameter_shapes():
        value = np.asarray(params[key])
        if not np.issubdtype(value.dtype, np.floating):
            raise GatError(f"key {key!r} has dtype {value.dtype}, expected floats", where)
        if not np.isfinite(value).all():
            raise GatError(f"key {key!r} has non-finite values (NaN or inf)", where)


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


def own_layout_specs(arrays: Mapping[str, np.ndarray], name: str) -> list[LayerSpec]:
    """The layer specs of the own layout's metadata (format, version, architecture)."""
    fmt = str(arrays.get("gatcli.format", ""))
    if fmt != FORMAT:
        raise GatError(f"gatcli.format is {fmt!r}, expected {FORMAT!r}", name)
    version = np.asarray(arrays.get("gatcli.version", -1))
    if version.shape != () or version.dtype.kind not in "iu" or int(version) != VERSION:
        shown = version.item() if version.size == 1 else f"an array of shape {version.shape}"
        raise GatError(f"gatcli.version is {shown!r}, this gat reads version {VERSION}", name)
    entries = _json(arrays, "gatcli.architecture", name)
    if not isinstance(entries, list) or not entries:
        raise GatError("gatcli.architecture must be a non-empty list of layers", name)
    check_layer_count(len(entries), f"{name}: gatcli.architecture")
    return [_spec_from_dict(entry, k, name) for k, entry in enumerate(entries)]


def _json(arrays: Mapping[str, np.ndarray], key: str, name: str) -> object:
    """The JSON document stored in the 0-d string member ``key``."""
    value = arrays[key]
    if value.shape != () or value.dtype.kind not in "US":
        raise GatError(f"{key} is {value.dtype} of shape {value.shape}; expected one JSON "
                       "string", name)
    try:
        return json.loads(str(value))
    except RecursionError:
        raise GatError(f"{key} is JSON nested too deeply (a model needs 3 levels)",
                       name) from None
    except json.JSONDecodeError as exc:
        raise GatError(f"{key} is not valid JSON ({str(exc)[:100]})", name) from None
    except ValueError:  # an integer of more digits than Python converts (its words vary)
        raise GatError(f"{key} is not valid JSON for gat: a number of more than "
                       f"{_int_digits_limit()} digits", name) from None


def _int_digits_limit() -> int:
    """Python's limit on the digits of an integer read from text (3.10.7+, 3.11+)."""
    return getattr(sys, "get_int_max_str_digits", lambda: 4300)()


def model_from_own_layout(arrays: Mapping[str, np.ndarray], name: str) -> Model:
    """Rebuild a model from the project's own layout; every key and shape is checked."""
    specs = own_layout_specs(arrays, name)
    layers = []
    known = {"gatcli.format", "gatcli.version", "gatcli.architecture", "gatcli.features",
             "gatcli.classes"}
    for k, spec in enumerate(specs):
        prefix = f"layers.{k}."
        params = {key[len(prefix):]: v for key, v in arrays.items() if key.startswith(prefix)}
        known |= {prefix + key for key in params}
        layers.append(Layer(spec, params))
    stray = sorted(set(arrays) - known)
    if stray:
        raise GatError(f"unknown keys {stray[:5]} (not part of any layer)", name)
    model = Model(layers, _feature_norm(arrays, name), _classes(arrays, name))
    check_model(model, name)
    if model.classes is not None and len(model.classes) != model.output_dim:
        raise GatError(f"gatcli.classes names {len(model.classes)} classes but the model "
                       f"outputs {model.output_dim} columns", name)
    return model


def _feature_norm(arrays: Mapping[str, np.ndarray], name: str) -> str:
    if "gatcli.features" not in arrays:
        return "none"
    value = arrays["gatcli.features"]
    norm = str(value) if value.shape == () and value.dtype.kind == "U" else None
    if norm not in FEATURE_NORMS:
        raise GatError(f"gatcli.features is {value!r}, expected one of "
                       f"{', '.join(FEATURE_NORMS)}", name)
    return norm


def _classes(arrays: Mapping[str, np.ndarray], name: str) -> list[str] | None:
    if "gatcli.classes" not in arrays:
        return None
    classes = _json(arrays, "gatcli.classes", name)
    if (not isinstance(classes, list) or len(classes) < 2
            or not all(isinstance(c, str) and c for c in classes)
            or len(set(classes)) != len(classes)):
        raise GatError("gatcli.classes must be a JSON list of at least two distinct, "
                       "non-empty class names", name)
    return classes


def own_layout_arrays(model: Model) -> dict[str, np.ndarray]:
    """The arrays of the project's own layout for ``model`` (see module docstring)."""
    arrays: dict[str, np.ndarray] = {
        "gatcli.format": np.array(FORMAT),
        "gatcli.version": np.array(VERSION),
        "gatcli.architecture": np.array(json.dumps([s.to_dict() for s in model.specs])),
    }
    if model.feature_norm != "none":
        arrays["gatcli.features"] = np.array(model.feature_norm)
    if model.classes is not None:
        arrays["gatcli.classes"] = np.array(json.dumps(model.classes))
    for k, layer in enumerate(model.layers):
        for key, value in layer.params.items():
            arrays[f"layers.{k}.{key}"] = np.asarray(value)
    return arrays


def check_weights_output(path: str) -> None:
    """Refuse a weights output that is not named ``.npz`` (a file; stdout, a device or a
    FIFO take any name) or that is a terminal, before any work. The one rule of every
    weights output: embed --save-weights, weights convert -o, train -o and --pyg-export."""
    if path == STDIO:
        if sys.stdout.isatty():
            raise GatError("weights are a binary .npz archive: not written to a terminal; "
                           "give a file name or pipe stdout into a program", path)
        return
    if output_target(path).kind == "file" and not path.lower().endswith(".npz"):
        raise GatError("weights are written as an .npz archive; name the file *.npz", path)


def save_weights(model: Model, path: str) -> None:
    """Write ``model`` in the project's own layout, atomically (``-``: to stdout)."""
    check_weights_output(path)
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
    raise GatError(NEITHER, str(path))
