"""gat's own embeddings ``.npz`` (``embeddings`` + ``ids``) read back as features, so a second
model can run on the output of a first (``gat embed ... -o emb.npz`` then
``gat embed edges.csv emb.npz``). Told apart from a scipy.sparse ``save_npz`` archive by its
keys: it has ``embeddings`` and no ``format``."""

from __future__ import annotations

import zipfile

import numpy as np

from gatcli.errors import GatError, shown_value
from gatcli.io.node_ids import duplicate_pair
from gatcli.io.numpy_files import NpzArchive
from gatcli.io.source import display_name, load_numpy, open_binary

KEYS = ("embeddings", "ids")
WHAT = "an embeddings .npz from gat (keys 'embeddings' and 'ids')"


def is_embeddings_npz(path: str) -> bool:
    """Whether ``path`` is a zip archive with an ``embeddings`` array and no ``format`` key
    (the member names are read, not the arrays)."""
    with open_binary(path, WHAT) as handle:
        if handle.read(4) != b"PK\x03\x04":
            return False
        handle.seek(0)
        try:
            with zipfile.ZipFile(handle) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return False
    return "embeddings.npy" in names and "format.npy" not in names


def read_embeddings_npz(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(values (N, C), ids (N,) str or None): the ids as written, None when they are the
    row numbers 0..N-1 (int64, written for features without an id column)."""
    name = display_name(path)
    with open_binary(path, WHAT) as handle:
        arrays = load_numpy(handle, name, WHAT, _check_members)
    if not isinstance(arrays, dict):
        raise GatError(f"a single .npy array, not {WHAT}", name)
    values = arrays["embeddings"]
    if values.ndim != 2 or values.dtype.kind not in "biuf":
        raise GatError(f"'embeddings' is {values.dtype} of shape {values.shape}; expected "
                       "a 2-D array of real numbers (nodes x features)", name)
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise GatError(f"empty 'embeddings' array of shape {values.shape}", name)
    if "ids" not in arrays:
        return values, None
    ids = arrays["ids"]
    if ids.shape != (values.shape[0],):
        raise GatError(f"'ids' has shape {ids.shape}; expected ({values.shape[0]},), one id "
                       "per row of 'embeddings'", name)
    if ids.dtype.kind in "iu":
        if np.array_equal(ids, np.arange(values.shape[0])):
            return values, None
        ids = ids.astype(str)
    elif ids.dtype.kind == "S":
        ids = np.char.decode(ids, "utf-8")
    elif ids.dtype.kind != "U":
        raise GatError(f"'ids' is {ids.dtype}; expected strings or integers", name)
    _check_unique(ids, name)
    return values, ids


def _check_members(archive: NpzArchive) -> None:
    """Refuse an unknown member before any array is loaded."""
    extra = sorted(set(archive.headers) - set(KEYS))
    if extra:
        raise GatError(f"unexpected key {shown_value(extra[0])}; expected {WHAT}",
                       archive.name)


def _check_unique(ids: np.ndarray, name: str) -> None:
    empty = np.flatnonzero(ids == "")
    if empty.size:
        raise GatError(f"empty node id in 'ids' (row {empty[0]})", name)
    pair = duplicate_pair(ids)
    if pair is not None:
        first, second = pair
        raise GatError(f"duplicate node id {str(ids[first])!r} in 'ids' (rows {first} and "
                       f"{second})", name)
