"""Choosing the model of a run: loaded weights, a YAML config, or the quick options."""

from __future__ import annotations

from dataclasses import dataclass, replace

from gatcli.errors import GatError
from gatcli.model.config import read_config, specs_from_config
from gatcli.model.init import init_model
from gatcli.model.limits import check_layer_count, check_model_size
from gatcli.model.pyg import PygOptions
from gatcli.model.spec import Model, model_spec
from gatcli.model.weights import load_weights


@dataclass
class QuickModel:
    """The command-line description of a model (None = the default of ``model_spec``)."""

    layers: int | None = None
    hidden: int | None = None
    heads: int | None = None
    out_dim: int | None = None
    out_heads: int | None = None
    concat_last: bool | None = None
    negative_slope: float | None = None
    activation: str | None = None
    layer_type: str | None = None
    bias: bool | None = None

    def given(self) -> list[str]:
        """Names of the options the user set."""
        return [k for k, v in vars(self).items() if v is not None]

    def ignored_by_one_layer(self) -> list[str]:
        """Options that describe hidden layers, set for a model without any (``--layers 1``:
        its only layer is the last one, set by --out-dim, --out-heads, --concat/--mean)."""
        if (self.layers or 2) != 1:
            return []
        return [k for k in ("hidden", "heads", "activation") if getattr(self, k) is not None]

    def specs(self, in_dim: int, self_loops: bool = True) -> list:
        if self.layers is not None:
            check_layer_count(self.layers, f"--layers {self.layers}")
        options = {
            "layers": self.layers, "hidden": self.hidden, "heads": self.heads,
            "out_dim": self.out_dim, "out_heads": self.out_heads,
            "concat_last": self.concat_last, "negative_slope": self.negative_slope,
            "hidden_activation": self.activation, "kind": self.layer_type, "bias": self.bias,
        }
        return model_spec(in_dim, self_loops=self_loops,
                          **{k: v for k, v in options.items() if v is not None})

    def origin(self, k: int, n_layers: int) -> str:
        """The options that set layer k's sizes, for a message."""
        if k == n_layers - 1:
            return (f"--out-heads {self.out_heads or 1} x --out-dim {self.out_dim or 8}")
        return f"--heads {self.heads or 8} x --hidden {self.hidden or 8}"


#: QuickModel field -> the command-line option that sets it
OPTION_NAMES = {"concat_last": "--concat/--mean", "layer_type": "--layer-type",
                "out_dim": "--out-dim", "out_heads": "--out-heads",
                "negative_slope": "--negative-slope"}


def option_names(fields: list[str]) -> str:
    """``--hidden, --concat/--mean`` for the QuickModel fields ``hidden, concat_last``."""
    return ", ".join(OPTION_NAMES.get(f, "--" + f.replace("_", "-")) for f in fields)


def resolve_model(
    in_dim: int,
    *,
    weights: str | None = None,
    config: str | None = None,
    quick: QuickModel | None = None,
    seed: int = 0,
    self_loops: bool | None = None,
    notes: list[str] | None = None,
    open_width: bool = False,
    n_nodes: int | None = None,
) -> Model:
    """The model to run on ``in_dim`` input features.

    weights: a weights file (its stored architecture is used; for a PyG export, config and
    the activation, negative-slope and concat options fill in what it does not store); else
    config: a YAML model; else the quick options. self_loops (if not None) overrides every
    layer's setting.
    Things worth telling the user (e.g. ignored options) are appended to ``notes``.
    open_width: the features' width is only a lower bound (svmlight text, where features
    past the largest index used are simply absent): loaded weights may expect more inputs.
    A model too large for memory (parameters, plus the activations of ``n_nodes`` nodes
    if given) is refused before anything of its size is allocated, naming the sizes and
    where they came from.
    """
    quick = quick or QuickModel()
    notes = notes if notes is not None else []
    if weights is not None:
        # A PyG file does not store these; the own layout does (load_weights notes that).
        pyg = PygOptions(activation=quick.activation, negative_slope=quick.negative_slope,
                         concat_last=quick.concat_last, self_loops=self_loops, config=config)
        fixed = [o for o in quick.given()
                 if o not in ("activation", "negative_slope", "concat_last")]
        if fixed:
            notes.append(f"the architecture stored in {weights} is used; "
                         f"ignoring {option_names(fixed)}")
        if seed:
            notes.append(f"the weights come from {weights}; ignoring --seed {seed}")
        model = load_weights(weights, pyg=pyg, notes=notes)
        check_model_size(model.specs, lambda k: f"{weights}: layer {k}", n_nodes)
        if model.in_dim != in_dim and not (open_width and model.in_dim > in_dim):
            raise GatError(f"the features have {in_dim} columns but the model's first layer "
                           f"expects {model.in_dim} inputs", weights)
    else:
        if config is not None:
            if quick.given():
                notes.append(f"--config describes the model; ignoring "
                             f"{option_names(quick.given())}")
            specs = specs_from_config(read_config(config), in_dim, source=config)
            check_model_size(specs, lambda k: f"{config}: layers[{k}]", n_nodes)
        else:
            unused = quick.ignored_by_one_layer()
            if unused:
                notes.append(f"a 1-layer model has no hidden layer; ignoring "
                             f"{option_names(unused)} (its one layer is set by --out-dim, "
                             "--out-heads and --concat/--mean)")
            specs = quick.specs(in_dim)
            check_model_size(specs, lambda k: quick.origin(k, len(specs)), n_nodes)
        model = init_model(specs, seed=seed)
    if self_loops is not None:
        for layer in model.layers:
            layer.spec = replace(layer.spec, self_loops=self_loops)
    return model
