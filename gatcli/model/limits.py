"""Bounds checked before anything is allocated: a model or an array that could not fit in
memory is refused with a message saying what is too large and where it came from, instead
of a MemoryError (or a machine swapping) once the allocation starts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence

from gatcli.errors import GatError
from gatcli.model.spec import LayerSpec

#: more layers than anyone stacks (the GAT paper uses 2 or 3); also bounds a loop over them
MAX_LAYERS = 1000
#: parameters are held as float64 (initial weights) or as loaded
PARAMETER_BYTES = 8


def available_memory() -> int:
    """Bytes this process may use at most: the machine's physical memory, or less if an
    address-space limit (``ulimit -v``) is set: then what is left of it (the limit less the
    address space already in use)."""
    limit = 1 << 62
    try:
        limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY and soft > 0:
            limit = min(limit, max(soft - _address_space_in_use(), 0))
    except (ImportError, OSError, ValueError):
        pass
    return limit


def _address_space_in_use() -> int:
    """The process's virtual size in bytes (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def human_bytes(count: float) -> str:
    """``count`` bytes for a message: 1.5 GB, 320 MB, 12 kB, or 3.4e+21 bytes."""
    if count >= 1e15:
        return f"{count:.2g} bytes"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{int(count)} bytes"


def check_fits(need: float, what: str, where: str | None) -> None:
    """Refuse ``need`` bytes when they exceed the memory available."""
    memory = available_memory()
    if need > memory:
        raise GatError(f"{what} needs about {human_bytes(need)}, more than the "
                       f"{human_bytes(memory)} of memory available", where)


def check_layer_count(layers: int, where: str) -> None:
    if layers > MAX_LAYERS:
        raise GatError(f"{layers} layers is too many (at most {MAX_LAYERS})", where)


def layer_parameters(spec: LayerSpec) -> int:
    """Number of parameter values of one layer (exact, whatever its size)."""
    return sum(math.prod(shape) for shape in spec.parameter_shapes().values())


def check_model_size(specs: Sequence[LayerSpec], origin: Callable[[int], str],
                     n_nodes: int | None = None, itemsize: int = 8) -> None:
    """Refuse a model whose parameters (float64) plus the largest layer's activations for
    ``n_nodes`` nodes (``itemsize`` bytes a value) cannot fit in memory.

    origin(k): where layer k's sizes came from (``--heads 8 x --hidden 64``,
    ``model.yaml: layers[1]``), named in the message with the layer's sizes.
    """
    parameters = [layer_parameters(spec) for spec in specs]
    activations = [(n_nodes or 0) * (spec.heads * spec.out_dim + spec.output_dim) * itemsize
                   for spec in specs]
    need = PARAMETER_BYTES * sum(parameters) + max(activations, default=0)
    memory = available_memory()
    if need <= memory:
        return
    cost = [PARAMETER_BYTES * p + a for p, a in zip(parameters, activations)]
    # the first layer too large by itself (its output is the next layer's input), else the
    # largest
    k = next((i for i, c in enumerate(cost) if c > memory),
             max(range(len(specs)), key=cost.__getitem__))
    spec = specs[k]
    nodes = f" with the activations of {n_nodes} nodes" if n_nodes else ""
    raise GatError(
        f"the model is too large: layer {k} is {spec.heads} x {spec.out_dim} (heads x "
        f"features per head) on {spec.in_dim} inputs ({origin(k)}): {parameters[k]:.3g} "
        f"parameters; about {human_bytes(need)}{nodes}, more than the "
        f"{human_bytes(memory)} of memory available")
