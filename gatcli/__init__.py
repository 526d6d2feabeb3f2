"""gatcli: Graph Attention Network embeddings and attention with numpy and scipy.sparse.

The library is usable without the command line::

    from gatcli import build_graph, init_model, forward
    model = init_model(model_spec(in_dim=X.shape[1]), seed=0)
    result = forward(model, X, sources, targets, keep_attention=True)
    result.embeddings, result.attention[0]   # (N, C), (E, H)

The names below are imported on first use (PEP 562), so ``import gatcli`` and the
``gat --version`` / ``gat --help`` start-up load neither numpy nor scipy.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "ForwardResult": "gatcli.forward",
    "GatError": "gatcli.errors",
    "Graph": "gatcli.graph",
    "LayerSpec": "gatcli.model.spec",
    "Model": "gatcli.model.spec",
    "StepRecorder": "gatcli.layer",
    "build_graph": "gatcli.graph",
    "forward": "gatcli.forward",
    "gat_layer": "gatcli.layer",
    "init_model": "gatcli.model.init",
    "model_spec": "gatcli.model.spec",
}

__all__ = [
    "ForwardResult",
    "GatError",
    "Graph",
    "LayerSpec",
    "Model",
    "StepRecorder",
    "build_graph",
    "forward",
    "gat_layer",
    "init_model",
    "model_spec",
]

if TYPE_CHECKING:
    from gatcli.errors import GatError
    from gatcli.forward import ForwardResult, forward
    from gatcli.graph import Graph, build_graph
    from gatcli.layer import StepRecorder, gat_layer
    from gatcli.model.init import init_model
    from gatcli.model.spec import LayerSpec, Model, model_spec


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gatcli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _Package(types.ModuleType):
    """``gatcli.forward`` is the function, as when this file imported it eagerly: the
    import system sets the submodule ``gatcli.forward`` as an attribute of the package
    when it is first imported, and this property ignores that (the module stays in
    ``sys.modules``)."""

    @property
    def forward(self) -> Any:
        from gatcli.forward import forward

        return forward

    @forward.setter
    def forward(self, value: Any) -> None:
        pass


sys.modules[__name__].__class__ = _Package
