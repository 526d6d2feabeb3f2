"""Text tables: decoding, lines, fields, delimiters and the vectorised parse.

Parsing is vectorised (``numpy.loadtxt``'s C parser); when it fails, the readers scan the
same text line by line to find and name the first bad line.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator

import numpy as np

from gatcli.errors import GatError
from gatcli.io.formats import DELIMITERS, describe_magic, sniff_text_format
from gatcli.io.source import display_name, read_bytes


def decode_text(data: bytes, path: str, what: str, *, magic_ok: bool = False) -> str:
    """UTF-8 text (a BOM is dropped, CRLF/CR become LF); binary content is an error, and so
    is a known file signature unless ``magic_ok``."""
    name = display_name(path)
    if not data or data.isspace():  # (no copy of a large input, unlike strip())
        raise GatError(f"empty file; expected {what}", name)
    kind = None if magic_ok else describe_magic(data[:16])
    if kind:
        raise GatError(f"this is {kind}, not {what}; check the file name's extension", name)
    if b"\x00" in data:
        raise GatError(f"binary data (NUL bytes); expected {what}", name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise GatError(f"not UTF-8 text (byte {exc.start}); expected {what}",
                       f"{name}:{line}") from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def data_lines(text: str, start: int = 0, comment: str = "#") -> Iterator[tuple[int, str]]:
    """(1-based line number, line) of every line that is neither blank nor a comment,
    from line index ``start`` on."""
    # lazily, line by line: callers often need only the first data line of a large text
    begin, number = 0, 0
    while begin <= len(text):
        end = text.find("\n", begin)
        if end < 0:
            end = len(text)
        number += 1
        if number > start:
            line = text[begin:end]
            stripped = line.strip()
            if stripped and not stripped.startswith(comment):
                yield number, line
        begin = end + 1


def split_fields(line: str, delimiter: str | None) -> list[str]:
    """The fields of one line (a trailing # comment removed, fields stripped, quotes removed)."""
    line = line.split("#", 1)[0]
    fields = line.split(delimiter) if delimiter else line.split()
    return [f.strip().strip('"') for f in fields]


def loadtxt(text: str, delimiter: str | None, skip: int, **kwargs) -> np.ndarray:
    """np.loadtxt of ``text`` after its first ``skip`` lines; raises ValueError on bad rows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "input contained no data": zero rows is fine
        return np.loadtxt(io.StringIO(text), delimiter=delimiter, comments="#",
                          skiprows=skip, ndmin=2, quotechar='"' if delimiter else None,
                          **kwargs)


def line_of_row(text: str, start: int, row: int, comment: str = "#") -> int:
    """The line number of data row ``row`` (0-based) counted from line index ``start``."""
    for k, (number, _) in enumerate(data_lines(text, start, comment)):
        if k == row:
            return number
    return -1


def is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True


def is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def text_and_delimiter(path: str, fmt: str, what: str) -> tuple[str, str | None]:
    text = decode_text(read_bytes(path, what), path, what)
    if fmt == "text":  # stdin: look at the first data line
        first = next(data_lines(text), (0, ""))[1]
        fmt = sniff_text_format(first)
    return text, DELIMITERS[fmt]
