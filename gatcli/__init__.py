"""gatcli: Graph Attention Network embeddings and attention with numpy and scipy.sparse.

The library is usable without the command line::

    from gatcli import build_graph, init_model, forward
    model = init_model(model_spec(in_dim=X.shape[1]), seed=0)
    result = forward(model, X, sources, targets, keep_attention=True)
    result.embeddings, result.attention[0]   # (N, C), (E, H)
"""

from gatcli.errors import GatError
from gatcli.forward import ForwardResult, forward
from gatcli.graph import Graph, build_graph
from gatcli.layer import StepRecorder, gat_layer
from gatcli.model.init import init_model
from gatcli.model.spec import LayerSpec, Model, model_spec

__version__ = "0.1.0"

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
