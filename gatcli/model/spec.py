"""Model architecture and parameters: plain data, shared by the core, config and weights.

Parameter names and shapes follow PyTorch Geometric's ``state_dict`` of one layer, so a PyG
export maps onto a :class:`Layer` by stripping the module prefix:

GATConv (``kind="gat"``), H heads of F' features, F_in inputs:
    lin.weight (H*F', F_in), att_src (1, H, F'), att_dst (1, H, F'),
    bias (H*F',) if concat else (F',), res.weight (H*F' or F', F_in) if residual.
GATv2Conv (``kind="gatv2"``):
    lin_l.weight (H*F', F_in) [+ lin_l.bias (H*F',)] applied to the source,
    lin_r.weight / lin_r.bias the same for the target (absent when share_weights),
    att (1, H, F'), bias and res.weight as above.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

ACTIVATIONS = ("none", "elu", "relu", "leaky_relu", "tanh", "sigmoid")
KINDS = ("gat", "gatv2")
#: what a negative slope must be, wherever it comes from (option, YAML, weights file)
NEGATIVE_SLOPE_EXPECTED = "a finite number (LeakyReLU slope of the attention logits)"


def valid_negative_slope(value: object) -> bool:
    """The one check of a LeakyReLU negative slope: a finite int or float (not a bool).

    Shared by ``--negative-slope``, the YAML ``negative_slope`` key and the architecture
    stored in a weights file, so all three accept and refuse the same values.
    """
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


#: how a model wants its input features: as given, or each row divided by the sum of its
#: absolute values (the GAT paper's preprocessing; rows of zeros stay zero)
FEATURE_NORMS = ("none", "row")


@dataclass(frozen=True)
class LayerSpec:
    """One graph attention layer.

    in_dim: F_in; out_dim: F' per head; heads: H.
    concat: heads concatenated (output H*F') or averaged (output F').
    activation: applied after bias (and residual); one of ``ACTIVATIONS``.
    negative_slope: LeakyReLU slope of the attention logits.
    bias / residual / self_loops: as in PyG's ``bias``, ``residual``, ``add_self_loops``.
    kind: ``"gat"`` (GATConv) or ``"gatv2"`` (GATv2Conv); share_weights: GATv2 only.
    """

    in_dim: int
    out_dim: int
    heads: int = 1
    concat: bool = True
    activation: str = "none"
    negative_slope: float = 0.2
    bias: bool = True
    residual: bool = False
    self_loops: bool = True
    kind: str = "gat"
    share_weights: bool = False

    @property
    def output_dim(self) -> int:
        return self.heads * self.out_dim if self.concat else self.out_dim

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name -> shape of every parameter this layer needs (PyG ``state_dict`` names)."""
        h, f, fin = self.heads, self.out_dim, self.in_dim
        shapes: dict[str, tuple[int, ...]]
        if self.kind == "gat":
            shapes = {"lin.weight": (h * f, fin), "att_src": (1, h, f), "att_dst": (1, h, f)}
        else:
            shapes = {"lin_l.weight": (h * f, fin)}
            if self.bias:
                shapes["lin_l.bias"] = (h * f,)
            if not self.share_weights:
                shapes["lin_r.weight"] = (h * f, fin)
                if self.bias:
                    shapes["lin_r.bias"] = (h * f,)
            shapes["att"] = (1, h, f)
        if self.residual:
            shapes["res.weight"] = (self.output_dim, fin)
        if self.bias:
            shapes["bias"] = (self.output_dim,)
        return shapes

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Layer:
    """A layer's architecture and its parameter arrays (keys as in ``spec.parameter_shapes()``)."""

    spec: LayerSpec
    params: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Model:
    """An ordered stack of layers; layer k's output is layer k+1's input.

    feature_norm: what is done to the input features before layer 0 (``FEATURE_NORMS``).
    classes: for a trained classifier, the class name of each output column (else None).
    """

    layers: list[Layer]
    feature_norm: str = "none"
    classes: list[str] | None = None

    @property
    def in_dim(self) -> int:
        return self.layers[0].spec.in_dim

    @property
    def output_dim(self) -> int:
        return self.layers[-1].spec.output_dim

    @property
    def specs(self) -> list[LayerSpec]:
        return [layer.spec for layer in self.layers]


def model_spec(
    in_dim: int,
    *,
    layers: int = 2,
    hidden: int = 8,
    heads: int = 8,
    out_dim: int = 8,
    out_heads: int = 1,
    concat_last: bool = False,
    negative_slope: float = 0.2,
    hidden_activation: str = "elu",
    out_activation: str = "none",
    bias: bool = True,
    self_loops: bool = True,
    kind: str = "gat",
) -> list[LayerSpec]:
    """The quick model of the GAT paper: ``layers - 1`` hidden layers of ``heads`` x ``hidden``
    concatenated with ELU, then one layer of ``out_heads`` x ``out_dim``, averaged by default.
    """
    specs = []
    width = in_dim
    for _ in range(layers - 1):
        spec = LayerSpec(width, hidden, heads, True, hidden_activation, negative_slope, bias,
                         False, self_loops, kind)
        specs.append(spec)
        width = spec.output_dim
    specs.append(LayerSpec(width, out_dim, out_heads, concat_last, out_activation,
                           negative_slope, bias, False, self_loops, kind))
    return specs
