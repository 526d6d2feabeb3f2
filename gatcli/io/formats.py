"""Format detection from file names (and, for stdin, from the first data line).

Edge lists: ``.csv`` (comma), ``.tsv`` (tab), ``.txt`` / ``.edgelist`` / ``.edges`` / ``.el``
(whitespace), any other name (delimiter guessed from the first data line), each optionally
``.gz``, or ``.parquet``; adjacency matrices: ``.npz`` (scipy ``save_npz``) and ``.mtx``
(Matrix Market). Features: the same text tables, ``.npy``, ``.parquet``, sparse ``.npz``
(scipy ``save_npz``) or svmlight ``.svm`` / ``.svmlight`` / ``.libsvm`` (optionally ``.gz``).
Stdin: binary formats by their first bytes, else text. Outputs: ``.csv``, ``.tsv``, ``.npy``
(embeddings) and ``.csv``/``.tsv``/``.npz`` (attention); ``-`` is stdout and means CSV.
"""

from __future__ import annotations

from pathlib import PurePath

STDIO = "-"

#: delimiter per text format; None splits on runs of whitespace
DELIMITERS = {"csv": ",", "tsv": "\t", "whitespace": None}

_TEXT_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".txt": "whitespace", ".edgelist": "whitespace",
                  ".edges": "whitespace", ".el": "whitespace"}

MAGIC = {
    b"PK\x03\x04": "a zip archive (.npz)",
    b"\x93NUMPY": "a numpy array (.npy)",
    b"%%MatrixMarket": "a Matrix Market file (.mtx)",
    b"\x89PNG": "a PNG image",
    b"%PDF": "a PDF document",
}


def strip_gz(path: str) -> tuple[str, bool]:
    """(path without a trailing .gz, whether it had one)."""
    if path.lower().endswith(".gz"):
        return path[:-3], True
    return path, False


def suffix_of(path: str) -> str:
    """The lower-case extension that decides the format, ignoring a trailing .gz."""
    base, _ = strip_gz(path)
    return PurePath(base).suffix.lower()


def text_format(path: str) -> str:
    """'csv', 'tsv' or 'whitespace' for a text table path; 'text' (delimiter guessed from the
    first data line) for other names, e.g. ``/dev/fd/63`` from ``<(cat edges.csv)``."""
    return _TEXT_SUFFIXES.get(suffix_of(path), "text")


def graph_format(path: str) -> str:
    """'npz', 'mtx' or a text format for a GRAPH argument."""
    if path == STDIO:
        return "text"
    suffix = suffix_of(path)
    if suffix in (".npz", ".mtx", ".parquet"):
        return suffix[1:]
    return text_format(path)


#: extensions of svmlight/libsvm sparse feature files (optionally .gz)
SVMLIGHT_SUFFIXES = (".svm", ".svmlight", ".libsvm")


def features_format(path: str) -> str:
    """'npy', 'npz' (a scipy.sparse save_npz matrix), 'parquet', 'svmlight' or a text format
    ('text': delimiter guessed; for stdin, tables and svmlight are told apart by the first
    data line) for a FEATURES argument."""
    if path == STDIO:
        return "text"
    suffix = suffix_of(path)
    if suffix in (".npy", ".npz", ".parquet"):
        return suffix[1:]
    if suffix in SVMLIGHT_SUFFIXES:
        return "svmlight"
    return text_format(path)


def output_format(path: str, allowed: tuple[str, ...]) -> str | None:
    """The output format named by the path's extension, or None if it is not in ``allowed``."""
    if path == STDIO:
        return "csv"
    suffix = PurePath(path).suffix.lower().lstrip(".")
    return suffix if suffix in allowed else None


def describe_magic(head: bytes) -> str | None:
    """What binary content starting with ``head`` is, if it is a known kind."""
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            return what
    return None
