"""PyTorch Geometric ``state_dict`` exports of GATConv / GATv2Conv stacks, read as a Model.

A user exports a trained model with::

    np.savez("model.npz", **{k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})

Every key is ``<prefix><name>``: the prefix is the module path of one conv (``conv1.``,
``convs.0.``, ``gat.layers.1.``, or empty for a bare conv), the name one of (H heads of F'
features, F_in inputs)::

    GATConv    lin.weight (H*F', F_in)       [older PyG: lin_src.weight, lin_dst.weight]
               att_src (1, H, F'), att_dst (1, H, F')
    GATv2Conv  lin_l.weight (H*F', F_in), lin_r.weight (absent when share_weights=True)
               lin_l.bias, lin_r.bias (H*F',) (only with bias=True), att (1, H, F')
    both       bias: (H*F',) heads concatenated, (F',) averaged; res.weight (H*F' or F', F_in)

The shapes decide the kind, heads, widths, bias, residual and, where ``bias``, ``res.weight``
or the next layer's input width tells, concat vs mean; GATv2 ``lin_r`` equal to ``lin_l`` is
run as shared weights. The file cannot tell the activation between layers (default ELU, none
after the last), the LeakyReLU negative slope (default 0.2), whether self-loops are added
(default yes, PyG's ``add_self_loops=True``) and concat vs mean of a last layer with several
heads, no bias and no residual (default mean, as in the GAT paper's output layer and PyG's
examples): those come from :class:`PygOptions`, and what was assumed is returned as notes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gatcli.errors import GatError
from gatcli.model.config import read_config, specs_from_config
from gatcli.model.spec import Layer, LayerSpec, Model

GAT_NAMES = ("lin.weight", "lin_src.weight", "lin_dst.weight", "att_src", "att_dst")
GATV2_NAMES = ("lin_l.weight", "lin_l.bias", "lin_r.weight", "lin_r.bias", "att")
SHARED_NAMES = ("bias", "res.weight")
#: parameters of edge features (edge_dim), which gat does not support
EDGE_NAMES = ("lin_edge.weight", "lin_edge.bias", "att_edge")
#: longest first, so ``conv1.lin_l.bias`` is ``lin_l.bias`` of ``conv1.``, not ``bias``
_NAMES = sorted(GAT_NAMES + GATV2_NAMES + SHARED_NAMES + EDGE_NAMES, key=len, reverse=True)
#: names only a GATConv / GATv2Conv has: one of them makes a file a PyG export
_DEFINING = ("lin.weight", "lin_src.weight", "att_src", "att_dst", "lin_l.weight", "att")

DEFAULT_ACTIVATION = "elu"
DEFAULT_NEGATIVE_SLOPE = 0.2
#: a bias-less, residual-less last layer with several heads is taken as averaging them
DEFAULT_CONCAT_LAST = False


@dataclass(frozen=True)
class PygOptions:
    """What a PyG file cannot tell, as the user stated it (None = not stated).

    activation: between layers (the last layer has none unless the config says so).
    concat_last: concat (True) or mean (False) of the last layer, used only where the
        shapes cannot tell. config: a YAML model file whose layers may also name a
        ``prefix`` each (that order is then the layer order).
    """

    activation: str | None = None
    negative_slope: float | None = None
    concat_last: bool | None = None
    self_loops: bool | None = None
    config: str | None = None

    def given(self) -> list[str]:
        """Command-line names of the stated options (self-loops apply to every file)."""
        names = {"config": "--config", "activation": "--activation",
                 "negative_slope": "--negative-slope", "concat_last": "--concat/--mean"}
        return [label for attr, label in names.items() if getattr(self, attr) is not None]


@dataclass
class PygModel:
    """A PyG file read as a model.

    prefixes[k]: the module prefix of layer k; keys[k]: parameter name -> the file's key
    (a GATv2 ``lin_r`` equal to ``lin_l`` is dropped and its keys listed in ``shared``);
    notes: what was assumed or is worth telling the user.
    """

    model: Model
    prefixes: list[str]
    keys: list[dict[str, str]]
    shared: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def split_key(key: str) -> tuple[str, str] | None:
    """(prefix, name) of a GATConv / GATv2Conv parameter key, or None if it is not one."""
    for name in _NAMES:
        if key == name:
            return "", name
        if key.endswith("." + name):
            return key[: -len(name)], name
    return None


def is_pyg_state_dict(keys: Iterable[str]) -> bool:
    """True when some key is a parameter only GATConv / GATv2Conv has (e.g. ``att_src``)."""
    for key in keys:
        parts = split_key(key)
        if parts is not None and parts[1] in _DEFINING:
            return True
    return False


def group_keys(keys: Iterable[str], where: str) -> dict[str, dict[str, str]]:
    """prefix -> {name: key}, prefixes in the order they first appear in ``keys``."""
    groups: dict[str, dict[str, str]] = {}
    for key in keys:
        parts = split_key(key)
        if parts is None:
            raise GatError(
                f"key {key!r} is not a GATConv/GATv2Conv parameter; gat runs stacks of "
                "GATConv/GATv2Conv layers only (other modules, e.g. a Linear head or "
                "BatchNorm, cannot be run)", where)
        prefix, name = parts
        groups.setdefault(prefix, {})[name] = key
    return groups


def layer_order(prefixes: Sequence[str]) -> list[str]:
    """Prefixes in model order.

    Prefixes that differ only in integer parts (``convs.2.``, ``convs.10.``: a ModuleList)
    are sorted numerically within the places they hold; all others keep file order.
    """
    def stem(prefix: str) -> tuple[str, ...]:
        return tuple("#" if part.isdigit() else part for part in prefix.split("."))

    def index(prefix: str) -> tuple[int, ...]:
        return tuple(int(part) for part in prefix.split(".") if part.isdigit())

    places: dict[tuple[str, ...], list[int]] = {}
    for i, prefix in enumerate(prefixes):
        places.setdefault(stem(prefix), []).append(i)
    ordered = list(prefixes)
    for positions in places.values():
        members = sorted((prefixes[i] for i in positions), key=index)
        for i, prefix in zip(positions, members):
            ordered[i] = prefix
    return ordered


@dataclass
class _Found:
    """What one layer's keys and shapes say (concat None: they cannot tell)."""

    prefix: str
    kind: str
    in_dim: int
    heads: int
    out_dim: int
    bias: bool
    residual: bool
    share_weights: bool
    concat: bool | None
    concat_reason: str
    params: dict[str, np.ndarray]
    keys: dict[str, str]
    shared: list[str]

    def widths(self) -> str:
        h, f = self.heads, self.out_dim
        if self.concat is None:
            return f"{h * f} ({h} heads x {f} concatenated) or {f} (averaged)"
        if self.concat:
            return f"{h * f} ({h} heads x {f} concatenated, from {self.concat_reason})"
        return f"{f} ({h} heads x {f} averaged, from {self.concat_reason})"


def _shape(value: np.ndarray) -> tuple[int, ...]:
    return tuple(int(d) for d in np.shape(value))


def _array(arrays: Mapping[str, np.ndarray], key: str, where: str) -> np.ndarray:
    value = np.asarray(arrays[key])
    if not np.issubdtype(value.dtype, np.floating):
        raise GatError(f"key {key!r} has dtype {value.dtype}, expected floats", where)
    if not np.isfinite(value).all():
        raise GatError(f"key {key!r} has non-finite values (NaN or inf)", where)
    return value


def _wrong_shape(key: str, found: tuple, expected: str, why: str = "") -> str:
    return f"key {key!r} has shape {found}, expected {expected}" + (f" ({why})" if why else "")


class _LayerReader:
    """Reads the parameters of one prefix, checking every shape against the others."""

    def __init__(self, arrays: Mapping[str, np.ndarray], prefix: str, names: dict[str, str],
                 where: str) -> None:
        self.arrays, self.prefix, self.names, self.where = arrays, prefix, names, where
        self.params: dict[str, np.ndarray] = {}
        self.keys: dict[str, str] = {}

    def key(self, name: str) -> str:
        return self.names.get(name, self.prefix + name)

    def has(self, name: str) -> bool:
        return name in self.names

    def get(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise GatError(f"missing key {self.key(name)!r}", self.where)
        return _array(self.arrays, self.names[name], self.where)

    def take(self, name: str, value: np.ndarray, key: str | None = None) -> None:
        self.params[name] = value
        self.keys[name] = key or self.key(name)

    def matrix(self, name: str, rows: int | None = None, why: str = "") -> np.ndarray:
        value = self.get(name)
        shape = _shape(value)
        if len(shape) != 2 or (rows is not None and shape[0] != rows):
            want = f"({rows}, in_features)" if rows is not None else "(out_features, in_features)"
            raise GatError(_wrong_shape(self.key(name), shape, want, why), self.where)
        return value

    def attention(self, name: str) -> tuple[int, int]:
        value = self.get(name)
        shape = _shape(value)
        if len(shape) != 3 or shape[0] != 1:
            raise GatError(_wrong_shape(self.key(name), shape, "(1, heads, out_channels)"),
                           self.where)
        self.take(name, value)
        return shape[1], shape[2]

    def vector(self, name: str, length: int, why: str) -> np.ndarray:
        value = self.get(name)
        if _shape(value) != (length,):
            raise GatError(_wrong_shape(self.key(name), _shape(value), f"({length},)", why),
                           self.where)
        return value


def _read_gat(r: _LayerReader) -> tuple[int, int, int]:
    """heads, out_dim, in_dim of a GATConv; takes lin.weight, att_src, att_dst."""
    heads, out_dim = r.attention("att_src")
    if r.has("att_dst"):
        found = _shape(r.get("att_dst"))
        if found != (1, heads, out_dim):
            raise GatError(_wrong_shape(r.key("att_dst"), found, str((1, heads, out_dim)),
                                        f"as {r.key('att_src')!r}"), r.where)
    r.attention("att_dst")
    why = f"heads {heads} x out_channels {out_dim} from {r.key('att_src')!r}"
    if r.has("lin.weight"):
        if r.has("lin_src.weight") or r.has("lin_dst.weight"):
            raise GatError(f"both {r.key('lin.weight')!r} and lin_src/lin_dst weights; "
                           "expected one of the two layouts", r.where)
        weight = r.matrix("lin.weight", heads * out_dim, why)
        r.take("lin.weight", weight)
        return heads, out_dim, _shape(weight)[1]
    if not r.has("lin_src.weight"):
        raise GatError(f"missing key {r.key('lin.weight')!r} (expected shape "
                       f"({heads * out_dim}, in_features), {why})", r.where)
    src = r.matrix("lin_src.weight", heads * out_dim, why)
    dst = r.matrix("lin_dst.weight", heads * out_dim, why)
    if _shape(src) != _shape(dst) or not np.array_equal(src, dst):
        raise GatError(
            f"{r.key('lin_src.weight')!r} {_shape(src)} and {r.key('lin_dst.weight')!r} "
            f"{_shape(dst)} differ: a bipartite GATConv (in_channels=(F_src, F_dst), separate "
            "source and target weights) is not supported; gat runs one node set with one "
            "feature matrix (export a GATConv built with an int in_channels)", r.where)
    r.take("lin.weight", src, f"{r.key('lin_src.weight')} (= lin_dst.weight)")
    return heads, out_dim, _shape(src)[1]


def _read_gatv2(r: _LayerReader, share: bool | None) -> tuple[int, int, int, bool, list[str]]:
    """heads, out_dim, in_dim, share_weights, dropped keys of a GATv2Conv.

    share: the config's share_weights (None: shared when lin_r is absent or equals lin_l).
    """
    heads, out_dim = r.attention("att")
    why = f"heads {heads} x out_channels {out_dim} from {r.key('att')!r}"
    left = r.matrix("lin_l.weight", heads * out_dim, why)
    in_dim = _shape(left)[1]
    bias_keys = [n for n in ("lin_l.bias", "lin_r.bias", "bias") if r.has(n)]
    if bias_keys:
        wanted = ["lin_l.bias", "bias"] + (["lin_r.bias"] if r.has("lin_r.weight") else [])
        missing = [n for n in wanted if not r.has(n)]
        if missing:
            raise GatError(
                f"missing key {r.key(missing[0])!r} beside {r.key(bias_keys[0])!r}: "
                "GATv2Conv(bias=True) writes lin_l.bias, lin_r.bias and bias together",
                r.where)
    r.take("lin_l.weight", left)
    if r.has("lin_l.bias"):
        r.take("lin_l.bias", r.vector("lin_l.bias", heads * out_dim, why))
    if not r.has("lin_r.weight"):
        if r.has("lin_r.bias"):
            raise GatError(f"{r.key('lin_r.bias')!r} without {r.key('lin_r.weight')!r}",
                           r.where)
        if share is False:
            raise GatError(f"the config says share_weights: false but there is no "
                           f"{r.key('lin_r.weight')!r}", r.where)
        return heads, out_dim, in_dim, True, []
    right = r.get("lin_r.weight")
    if _shape(right) != _shape(left):
        raise GatError(
            _wrong_shape(r.key("lin_r.weight"), _shape(right), str(_shape(left)),
                         f"as {r.key('lin_l.weight')!r}; a bipartite GATv2Conv with different "
                         "source and target inputs is not supported"), r.where)
    right_bias = r.vector("lin_r.bias", heads * out_dim, why) if r.has("lin_r.bias") else None
    equal = np.array_equal(right, left) and (
        right_bias is None or np.array_equal(right_bias, r.params["lin_l.bias"]))
    if share is True and not equal:
        raise GatError(f"the config says share_weights: true but {r.key('lin_r.weight')!r} "
                       f"differs from {r.key('lin_l.weight')!r}", r.where)
    if equal and share is not False:
        dropped = [r.key("lin_r.weight")] + ([r.key("lin_r.bias")] if r.has("lin_r.bias") else [])
        return heads, out_dim, in_dim, True, dropped
    r.take("lin_r.weight", right)
    if right_bias is not None:
        r.take("lin_r.bias", right_bias)
    return heads, out_dim, in_dim, False, []


def read_layer(arrays: Mapping[str, np.ndarray], prefix: str, names: dict[str, str],
               where: str, share: bool | None = None) -> _Found:
    """What the keys ``names`` (name -> key) of one prefix say; every shape is checked."""
    edge = [names[n] for n in EDGE_NAMES if n in names]
    if edge:
        raise GatError(f"key {edge[0]!r}: edge features (edge_dim) are not supported", where)
    gat = [n for n in GAT_NAMES if n in names]
    gatv2 = [n for n in GATV2_NAMES if n in names]
    if gat and gatv2:
        raise GatError(f"layer {prefix!r} mixes GATConv keys ({names[gat[0]]!r}) and GATv2Conv "
                       f"keys ({names[gatv2[0]]!r})", where)
    if not gat and not gatv2:
        raise GatError(f"keys {sorted(names.values())} belong to no GATConv/GATv2Conv layer "
                       f"(no {prefix}lin.weight/att_src or {prefix}lin_l.weight/att)", where)
    r = _LayerReader(arrays, prefix, names, where)
    shared: list[str] = []
    if gat:
        kind, share_weights = "gat", False
        heads, out_dim, in_dim = _read_gat(r)
    else:
        kind = "gatv2"
        heads, out_dim, in_dim, share_weights, shared = _read_gatv2(r, share)
    concat: bool | None = None
    reason = ""
    wide, narrow = heads * out_dim, out_dim
    both = f"{wide} (heads concatenated) or {narrow} (averaged)"
    if r.has("bias"):
        bias = r.get("bias")
        if _shape(bias) not in ((wide,), (narrow,)):
            raise GatError(_wrong_shape(r.key("bias"), _shape(bias), f"({wide},) or ({narrow},)",
                                        f"{heads} heads x {out_dim}: {both}"), where)
        r.take("bias", bias)
        if heads > 1:
            concat, reason = _shape(bias) == (wide,), f"{r.key('bias')!r} {_shape(bias)}"
    if r.has("res.weight"):
        res = r.get("res.weight")
        shape = _shape(res)
        if len(shape) != 2 or shape[1] != in_dim or shape[0] not in (wide, narrow):
            raise GatError(_wrong_shape(r.key("res.weight"), shape,
                                        f"({wide}, {in_dim}) or ({narrow}, {in_dim})",
                                        f"outputs {both}, {in_dim} inputs"), where)
        if heads > 1:
            says = shape[0] == wide
            if concat is not None and says != concat:
                raise GatError(f"{r.key('res.weight')!r} {shape} says heads are "
                               f"{'concatenated' if says else 'averaged'} but {reason} says "
                               "the opposite", where)
            if concat is None:
                concat, reason = says, f"{r.key('res.weight')!r} {shape}"
        r.take("res.weight", res)
    return _Found(prefix, kind, in_dim, heads, out_dim, r.has("bias"), r.has("res.weight"),
                  share_weights, concat, reason, r.params, r.keys, shared)


def _config_layers(options: PygOptions, prefixes: list[str], where: str
                   ) -> tuple[list[str], list[dict]]:
    """(layer order, per-layer config entries) from ``options.config`` (empty entries when
    there is none). Entries may name a ``prefix``; then that order is the model's."""
    if options.config is None:
        return prefixes, [{} for _ in prefixes]
    config = read_config(options.config)
    entries = config.get("layers")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise GatError("'layers' must be a list of layer mappings", options.config)
    if len(entries) != len(prefixes):
        raise GatError(f"lists {len(entries)} layers but {where} holds {len(prefixes)} "
                       f"({', '.join(map(repr, prefixes))})", options.config)
    named = [e for e in entries if "prefix" in e]
    if not named:
        return prefixes, [dict(e) for e in entries]
    if len(named) != len(entries):
        raise GatError("give 'prefix' for every layer or for none", options.config)
    order = []
    for k, entry in enumerate(entries):
        prefix = entry["prefix"]
        if not isinstance(prefix, str):
            raise GatError(f"prefix: got {prefix!r}, expected a module prefix such as "
                           "'conv1.'", f"{options.config}: layers[{k}]")
        if prefix and not prefix.endswith("."):
            prefix += "."
        if prefix not in prefixes:
            raise GatError(f"prefix {prefix!r} is not in {where}; its layers are "
                           f"{', '.join(map(repr, prefixes))}", f"{options.config}: layers[{k}]")
        if prefix in order:
            raise GatError(f"prefix {prefix!r} listed twice", f"{options.config}: layers[{k}]")
        order.append(prefix)
    return order, [{k: v for k, v in e.items() if k != "prefix"} for e in entries]


def _check_config(found: list[_Found], entries: list[dict], source: str) -> None:
    """Validate the entries as the config reader does; the file decides what it stores."""
    filled = [{"out_dim": f.out_dim, "type": f.kind, **e} for f, e in zip(found, entries)]
    specs_from_config({"layers": filled}, found[0].in_dim, source=source)
    stored = {"type": "kind", "out_dim": "out_dim", "heads": "heads", "bias": "bias",
              "residual": "residual"}
    for k, (f, entry) in enumerate(zip(found, entries)):
        for key, attr in stored.items():
            if key in entry and entry[key] != getattr(f, attr):
                raise GatError(f"{key}: {entry[key]!r}, but the weights of layer {f.prefix!r} "
                               f"say {getattr(f, attr)!r}", f"{source}: layers[{k}]")


def model_from_pyg(arrays: Mapping[str, np.ndarray], where: str,
                   options: PygOptions | None = None) -> PygModel:
    """The model a PyG ``state_dict`` export describes (see the module docstring).

    arrays: key -> array as in the file, keys in file order; where: the file's name (for
    messages). Mismatched keys or shapes raise :class:`GatError` naming the key, the shape
    found and the shape expected.
    """
    options = options or PygOptions()
    groups = group_keys(arrays, where)
    file_order = list(groups)
    order, entries = _config_layers(options, layer_order(file_order), where)
    found = [read_layer(arrays, p, groups[p], where, e.get("share_weights"))
             for p, e in zip(order, entries)]
    if options.config is not None:
        _check_config(found, entries, options.config)
    last = len(found) - 1
    notes: list[str] = []
    hint = ""
    if len(order) > 1:
        hint = (f" (layers taken in the order {', '.join(map(repr, order))}; list them with "
                "'prefix:' in --config to set another)")
    for k in range(1, len(found)):
        before, layer = found[k - 1], found[k]
        first = layer.keys.get("lin.weight") or layer.keys["lin_l.weight"]
        wide, narrow = before.heads * before.out_dim, before.out_dim
        fits = {True: layer.in_dim == wide, False: layer.in_dim == narrow}
        if before.concat is None and before.heads == 1:
            before.concat = True
        elif before.concat is None and any(fits.values()):
            before.concat = fits[True]
            before.concat_reason = f"the {layer.in_dim} inputs of layer {layer.prefix!r}"
        if before.concat is None or not fits[before.concat]:
            raise GatError(f"key {first!r} has {layer.in_dim} input columns but layer "
                           f"{before.prefix!r} outputs {before.widths()}{hint}", where)
    used: set[str] = set()
    specs = []
    for k, (f, entry) in enumerate(zip(found, entries)):
        concat = f.concat
        if concat is None:  # last layer, or a single head
            if "concat" in entry:
                concat = entry["concat"]
            elif f.heads == 1:
                concat = k != last
            elif options.concat_last is not None:
                concat = options.concat_last
                used.add("--concat/--mean")
            else:
                concat = DEFAULT_CONCAT_LAST
                notes.append(
                    f"{where}: layer {f.prefix!r} has {f.heads} heads but no bias or "
                    "res.weight, so the file cannot tell whether they are concatenated or "
                    "averaged; assuming averaged (mean); use --concat or 'concat: true' in "
                    "--config if the model concatenates them")
        elif "concat" in entry and entry["concat"] != concat:
            raise GatError(f"concat: {entry['concat']!r}, but {f.concat_reason} says heads are "
                           f"{'concatenated' if concat else 'averaged'}",
                           f"{options.config}: layers[{k}]")
        elif options.concat_last is not None and k == last and f.heads > 1:
            if options.concat_last != concat:
                raise GatError(f"{'--concat' if options.concat_last else '--mean'} contradicts "
                               f"the file: {f.concat_reason} says the last layer's heads are "
                               f"{'concatenated' if concat else 'averaged'}", where)
            used.add("--concat/--mean")
        activation = entry.get("activation")
        if activation is None and k != last and options.activation is not None:
            activation = options.activation
            used.add("--activation")
        slope = entry.get("negative_slope")
        if slope is None and options.negative_slope is not None:
            slope = options.negative_slope
            used.add("--negative-slope")
        loops = entry.get("self_loops", options.self_loops)
        specs.append(LayerSpec(
            in_dim=f.in_dim, out_dim=f.out_dim, heads=f.heads, concat=bool(concat),
            activation=activation or ("none" if k == last else DEFAULT_ACTIVATION),
            negative_slope=float(DEFAULT_NEGATIVE_SLOPE if slope is None else slope),
            bias=f.bias, residual=f.residual, self_loops=True if loops is None else loops,
            kind=f.kind, share_weights=f.share_weights))
    assumed = []
    if last > 0 and any("activation" not in e for e in entries[:last]) \
            and options.activation is None:
        assumed.append("ELU between layers")
    if any("negative_slope" not in e for e in entries) and options.negative_slope is None:
        assumed.append(f"negative slope {DEFAULT_NEGATIVE_SLOPE}")
    if any("self_loops" not in e for e in entries) and options.self_loops is None:
        assumed.append("self-loops added")
    kinds = ", ".join(f"{p or '(no prefix)'} ({'GATConv' if f.kind == 'gat' else 'GATv2Conv'})"
                      for p, f in zip(order, found))
    summary = f"{where}: PyG state_dict with layers {kinds}" + (
        ", in this order" if len(order) > 1 else "")
    if assumed:
        summary += (f"; not stored in the file, so assumed: {', '.join(assumed)} (set them "
                    "with --activation, --negative-slope, --no-self-loops or --config)")
    notes.insert(0, summary)
    why = {"--activation": "there is no layer between which it applies",
           "--negative-slope": "--config sets every layer's slope",
           "--concat/--mean": "the last layer's heads are fixed by the file or --config, "
                              "or it has one head"}
    for option in options.given():
        if option != "--config" and option not in used:
            reason = why[option]
            if option == "--activation" and last > 0:
                reason = "--config sets every hidden layer's activation"
            notes.append(f"ignoring {option}: {reason}")
    model = Model([Layer(s, f.params) for s, f in zip(specs, found)])
    return PygModel(model, order, [f.keys for f in found], [f.shared for f in found], notes)
