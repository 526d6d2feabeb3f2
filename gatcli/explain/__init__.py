"""``gat explain``: the recorded steps of the forward pass, as views, text and JSON.

steps.py turns a :class:`gatcli.layer.StepRecorder` into per-layer traces and per-step views
(pure numpy); tutorial.py holds the tutorial's worked example; render.py draws the steps with
rich; export.py makes the JSON document; i18n.py holds the English and Chinese words.
"""

from gatcli.explain.export import explanation_json
from gatcli.explain.steps import STEPS, LayerTrace, layer_traces, step_order

__all__ = ["STEPS", "LayerTrace", "explanation_json", "layer_traces", "step_order"]
