"""The recorded steps as plain JSON data (``gat explain --format json``): pure, no I/O.

Arrays become nested lists in the recorder's layout: per-edge arrays (E, H, ...) in the CSR
order given by each layer's ``targets``/``sources`` (node indices; ``ids`` names them), node
arrays (N, H, F') or (N, C). With a head chosen, per-head arrays keep a head axis of length 1.
A sparse input too large to show densely is a CSR object (see :func:`_as_json`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from gatcli.explain import tutorial as tut
from gatcli.explain.steps import (
    RECORDED,
    LayerTrace,
    concat_pairs,
    dense_matrix,
    node_focus,
    step_order,
)

#: Recorded arrays with no head axis.
HEADLESS = ("input", "heads", "output")

FORMAT = "gat-explain/1"


def _pick_head(name: str, value: np.ndarray, head: int | None) -> np.ndarray:
    if head is None or name in HEADLESS:
        return value
    return value[:, head:head + 1]


def _as_json(value: np.ndarray | sp.sparray) -> list | dict:
    """Nested lists; a sparse input too large to show densely (see
    gatcli.explain.steps.DENSE_INPUT_MAX) as ``{"format": "csr", "shape", "indptr",
    "indices", "data"}``."""
    if sp.issparse(value):
        csr = sp.csr_array(value)
        return {"format": "csr", "shape": list(csr.shape), "indptr": csr.indptr.tolist(),
                "indices": csr.indices.tolist(), "data": csr.data.tolist()}
    return value.tolist()


def step_arrays(trace: LayerTrace, step: str, head: int | None = None) -> dict[str, list]:
    """The arrays behind one step of one layer, as lists.

    ``concat`` of a GAT layer is gathered from the recorded Wh ([Wh_i || Wh_j], (E, H, 2F'));
    ``mask`` adds, for small graphs, ``matrix`` (H, N, N) with None at the non-edges.
    """
    if step == "concat" and trace.kind == "gat":
        arrays = {"concat": concat_pairs(trace)}
    else:
        arrays = {name: trace.arrays[name] for name in RECORDED[trace.kind][step]}
    out: dict[str, list | dict] = {name: _as_json(_pick_head(name, value, head))
                                   for name, value in arrays.items()}
    if step == "mask" and trace.small:
        logits = _pick_head("logits", trace.logits(), head)
        matrices = [dense_matrix(trace, logits[:, h]) for h in range(logits.shape[1])]
        out["matrix"] = [[[None if np.isnan(v) else float(v) for v in row] for row in m]
                         for m in matrices]
    return out


def node_json(trace: LayerTrace, node: int, head: int, ids: np.ndarray) -> dict:
    """Node i in one layer and head: in-neighbours by attention (highest first), their
    scores, and i's rows of the node-level steps."""
    focus = node_focus(trace, node, head)
    order = focus.order
    result = {
        "layer": trace.index, "head": head,
        "in_neighbours": ids[focus.sources[order]].tolist(),
        "scores": focus.scores[order].tolist(),
        "logits": focus.logits[order].tolist(),
        "alpha": focus.alpha[order].tolist(),
        "rows": {name: row.tolist() for name, row in focus.rows.items()},
    }
    if trace.kind == "gat":
        result["dst_term"] = focus.dst_term
        result["src_terms"] = focus.src_terms[order].tolist()
    return result


def explanation_json(traces: Sequence[LayerTrace], *, ids: np.ndarray, steps: Sequence[str],
                     layers: Sequence[int], head: int | None = None, node: int | None = None,
                     tutorial: bool = False) -> dict:
    """The whole ``--format json`` document.

    Without ``node``: per chosen layer its spec, edges and the arrays of the chosen steps.
    With ``node``: per chosen layer only that node's view (no per-graph arrays).
    """
    ids = np.asarray(ids).astype(str)
    doc: dict = {"format": FORMAT, "example": "tutorial" if tutorial else None,
                 "ids": ids.tolist(), "steps": list(steps), "layers": []}
    for k in layers:
        trace = traces[k]
        entry: dict = {"layer": k, "kind": trace.kind, "spec": trace.spec.to_dict(),
                       "head": head}
        if node is not None:
            entry["node"] = node_json(trace, node, 0 if head is None else head, ids)
        else:
            entry["targets"] = trace.targets().tolist()
            entry["sources"] = trace.graph.sources.tolist()
            entry["steps"] = {step: step_arrays(trace, step, head)
                              for step in step_order(trace.kind) if step in steps}
        doc["layers"].append(entry)
    if node is not None:
        doc["node"] = {"id": str(ids[node]), "index": node}
    if tutorial:
        doc["tutorial"] = {"printed_edges": [a.tolist() for a in tut.printed_edges()],
                           "concat": tut.PRINTED_CONCAT.tolist(),
                           "scores": tut.PRINTED_SCORES.tolist(),
                           "leaky_relu": tut.PRINTED_LEAKY_RELU.tolist(),
                           "W_alpha": tut.PRINTED_W_ALPHA.tolist(),
                           "H": tut.PRINTED_H.tolist()}
    return doc
