"""The thread engine: the layer's chunks and blocks on a few threads of this process.

numpy's gathers and ufuncs and scipy's sparse products release the GIL, so two threads
working on different target blocks run in parallel. The node table's matrix products run in
the layer's fixed chunks on the same threads with BLAS limited to one thread (through
threadpoolctl): OpenBLAS's own worker threads busy-wait for about 0.1 s after a product and
would take a core from the block threads that follow (20% slower at 1M edges). threadpoolctl
comes with the ``fast`` extra; without it only that speed is lost.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import queue
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

_T = TypeVar("_T")
_R = TypeVar("_R")

#: Threads working on blocks at the same time, by default.
THREADS = max(1, min(2, os.cpu_count() or 1))


def _in_caller_context(fn: Callable[..., _T]) -> Callable[..., _T]:
    """fn, run in a copy of the calling thread's context: numpy's errstate lives in a
    context variable, and pool threads start without the caller's."""
    context = contextvars.copy_context()
    return lambda *args: context.copy().run(fn, *args)


@functools.cache
def _blas_controller() -> Any:
    """threadpoolctl's controller, or None without threadpoolctl (the ``fast`` extra): BLAS
    then keeps its own threads, which costs speed only (the products' values are the same)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS libraries limited to one thread inside the block (restored afterwards).

    The limit is process-wide (BLAS has no per-call setting that every build supports):
    products other threads of the caller run meanwhile also get one BLAS thread. Without
    threadpoolctl the block runs unlimited.
    """
    controller = _blas_controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


#: With a memory limit, an array larger than this share of it is a memory-mapped file.
MAPPED_SHARE = 8


def available_memory() -> int | None:
    """Bytes this process may still use: the tighter of MemAvailable and the memory cgroup's
    limit minus its usage (cgroup v1 or v2), or None when neither is known."""
    found = []
    with contextlib.suppress(OSError, ValueError):
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    with contextlib.suppress(OSError, ValueError):
        for line in open("/proc/self/cgroup"):
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if controllers == "":  # v2
                files = ("/sys/fs/cgroup" + path, "memory.max", "memory.current")
            elif "memory" in controllers.split(","):  # v1
                files = ("/sys/fs/cgroup/memory" + path, "memory.limit_in_bytes",
                         "memory.usage_in_bytes")
            else:
                continue
            with contextlib.suppress(OSError, ValueError):
                limit = open(os.path.join(files[0], files[1])).read().strip()
                if limit != "max" and int(limit) < 1 << 60:
                    used = int(open(os.path.join(files[0], files[2])).read())
                    found.append(int(limit) - used)
    return min(found) if found else None


def automatic_memory_limit() -> int | None:
    """``--memory-limit auto``: half of :func:`available_memory` (the other half is left to
    the page cache of the memory-mapped inputs and outputs), or None (all in memory) when
    it is unknown."""
    free = available_memory()
    return None if free is None else max(free // 2, 64 << 20)


class ThreadEngine:
    """Runs a layer's pieces on ``threads`` threads of this process.

    threads: block/chunk threads (default: 2, or 1 on a one-core machine).
    edges_per_block: edge budget of an automatic block for an 8 x 8-head table.
    memory_limit: bytes (or ``"auto"``: :func:`automatic_memory_limit`); arrays larger than
        ``memory_limit / MAPPED_SHARE`` (node tables, layer outputs, attention, per-edge
        targets) are then memory-mapped files in a temporary directory under ``tmp_dir``
        (default: the system's), removed by :meth:`close` (use the engine as a context
        manager). None: everything in memory.
    """

    name = "threads"

    def __init__(self, threads: int | None = None, edges_per_block: int | None = None,
                 memory_limit: int | str | None = None, tmp_dir: str | None = None):
        self.threads = max(1, threads if threads is not None else THREADS)
        self.edges_per_block = edges_per_block
        if memory_limit == "auto":
            memory_limit = automatic_memory_limit()
        self.memory_limit = memory_limit
        self.tmp_dir = tmp_dir
        self._folder: str | None = None
        self._count = 0

    # -- storage -------------------------------------------------------------------------

    @property
    def folder(self) -> str:
        """The temporary directory of the memory-mapped arrays (created on first use)."""
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="gat-", dir=self.tmp_dir)
        return self._folder

    def mapped(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A new memory-mapped array (zeros) in the temporary directory."""
        self._count += 1
        path = os.path.join(self.folder, f"array-{self._count}.bin")
        if int(np.prod(shape)) == 0:
            return np.empty(shape, dtype=dtype)
        return np.memmap(path, dtype=dtype, mode="w+", shape=shape)

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A new uninitialised array for a layer's tables and outputs: in memory, or
        memory-mapped when it exceeds the memory limit's share."""
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if self.memory_limit is not None and size > self.memory_limit // MAPPED_SHARE:
            return self.mapped(shape, dtype)
        return np.empty(shape, dtype=dtype)

    def close(self) -> None:
        """Remove the temporary directory, if any."""
        folder, self._folder = self._folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def __enter__(self) -> ThreadEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- execution -----------------------------------------------------------------------

    def map(self, fn: Callable[..., _R], items: Sequence[Any], *, threads: int | None = None,
            scratch: Callable[[], Any] | None = None,
            done: Callable[[Any, _R], None] | None = None) -> list[_R]:
        """[fn(item) or fn(item, buffer)] for every item, on the engine's threads.

        scratch: makes one reusable buffer per thread, passed as fn's second argument.
        done(item, result) is called on this thread as items finish (in item order).
        On an error or Ctrl-C the queued items are dropped instead of run.
        """
        count = max(1, min(threads or self.threads, len(items)))
        free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for _ in range(count if scratch else 0):
            free.put(scratch())

        def run(item: Any) -> _R:
            if scratch is None:
                return fn(item)
            buffer = free.get()
            try:
                return fn(item, buffer)
            finally:
                free.put(buffer)

        results: list[_R] = []
        if count == 1:
            for item in items:
                results.append(run(item))
                if done:
                    done(item, results[-1])
            return results
        pool = ThreadPoolExecutor(count)
        try:
            for item, result in zip(items, pool.map(_in_caller_context(run), items)):
                results.append(result)
                if done:
                    done(item, result)
        finally:  # on an error or Ctrl-C, drop the queued items instead of running them
            pool.shutdown(wait=True, cancel_futures=True)
        return results

    @contextlib.contextmanager
    def products(self) -> Iterator[None]:
        """Around the node table's chunks: one BLAS thread each (see the module doc)."""
        with one_blas_thread():
            yield

    def forward(self, model: Any, x: np.ndarray, graphs: Iterable[Any], **options: Any):
        """The model's forward pass with this engine (see gatcli.forward.forward_graphs)."""
        from gatcli.forward import run_layers

        return run_layers(self, model, x, list(graphs), **options)
