"""Text tables: decoding, records, fields, delimiters, headers, and the block-wise parse.

A text input is read as a stream (plain or gzip, a file or stdin) and cut into blocks of
about :data:`BLOCK_BYTES` that end at a record boundary, so no input is ever decompressed or
decoded whole: memory stays within the parsed arrays plus a few blocks.

Reading rules (docs/formats.md):

- UTF-8, an optional BOM; CRLF and CR line ends are read as LF. NUL bytes are an error.
- Blank lines and whole-line comments (first non-blank character ``#``) are skipped. A ``#``
  anywhere else is data (``C#`` is an id).
- Fields are split on one delimiter character (``,`` for .csv, tab for .tsv, any character
  with ``-d``) or, for whitespace tables, on runs of spaces and tabs. In delimited tables a
  field may be quoted as in RFC 4180 (a delimiter, a doubled quote or a line break inside
  quotes).
  Fields are stripped of surrounding blanks.

Each block is parsed by a vectorised engine (polars when available, else ``numpy.loadtxt``);
when that fails, the block is read again record by record in Python, which either gives
the same values (missing values, comment lines, quoting loadtxt cannot follow) or names the
first bad line and column.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from gatcli.errors import GatError, shown_value
from gatcli.io.formats import STDIO, describe_magic, strip_gz
from gatcli.io.source import GZIP_MAGIC, display_name, open_input, stdin_stream

#: characters of text per block (each block is parsed on its own)
BLOCK_CHARS = 16 << 20
#: bytes read from the (decompressed) input at a time
READ_BYTES = 4 << 20
#: characters of a piece of a block that the fast engines refused (read record by record)
PIECE_CHARS = 1 << 20
#: the longest record accepted (a quoted field left open would otherwise swallow the file)
MAX_RECORD_CHARS = 64 << 20
#: a text input larger than this read without polars gets a hint naming the extra
LARGE_TEXT_BYTES = 50 << 20

QUOTE = '"'
NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)",
                    re.IGNORECASE | re.ASCII)
#: cell texts read as a missing value (case-insensitive), besides the empty cell
MISSING_TOKENS = ("na", "n/a", "null", "none")
WHITESPACE_FIELD = re.compile(r'"((?:[^"]|"")*)"(?=\s|$)|(\S+)')


def decode_text(data: bytes, path: str, what: str, *, magic_ok: bool = False) -> str:
    """UTF-8 text of a whole (small) input (a BOM is dropped, CRLF/CR become LF); binary
    content is an error, and so is a known file signature unless ``magic_ok``."""
    name = display_name(path)
    if not data or data.isspace():  # (no copy of a large input, unlike strip())
        raise GatError(f"empty file; expected {what}", name)
    kind = None if magic_ok else describe_magic(data[:16])
    if kind:
        raise GatError(_wrong_kind(kind, what, path), name)
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


def _wrong_kind(kind: str, what: str, path: str) -> str:
    if path == STDIO:
        return f"this is {kind}, not {what}"
    return f"this is {kind}, not {what}; check the file name's extension"


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
    """Whether ``token`` is a number as the table engines read it (ASCII digits, an optional
    exponent, inf/nan; no underscores or other scripts' digits, unlike Python's float)."""
    return NUMBER.fullmatch(token.strip()) is not None


def is_missing(token: str) -> bool:
    """Whether a cell is a missing value: empty, or NA / N/A / null / None."""
    return not token or token.lower() in MISSING_TOKENS


# -- dialect ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """How a text table's fields are separated.

    delimiter: one character, or None for runs of blanks. origin: 'option' (-d/-t),
    'name' (the file name's extension) or 'sniffed' (from the first data line).
    """

    delimiter: str | None
    origin: str = "option"

    def describe(self) -> str:
        if self.delimiter is None:
            return "whitespace-separated"
        names = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe", " ": "space"}
        return f"{names.get(self.delimiter, repr(self.delimiter))}-separated"

    def hint(self) -> str:
        """Why this dialect was used and how to choose another, for column-count errors."""
        if self.origin == "option":
            return ""
        why = ("from the file name's extension" if self.origin == "name"
               else "guessed from the first line")
        return f" (read as {self.describe()}, {why}; choose the delimiter with -d or -t)"


def check_delimiter(delimiter: str) -> str:
    """A -d value as one delimiter character (``\\t`` written out is a tab)."""
    if delimiter in ("\\t", "tab"):
        return "\t"
    if len(delimiter) != 1 or delimiter in ('"', "\n", "\r"):
        raise GatError(f"the delimiter must be one character other than a quote or a line "
                       f"break, not {shown_value(delimiter)}")
    return delimiter


def sniff_delimiter(first_line: str) -> str | None:
    """The delimiter of a table whose format the name does not tell, from its first line."""
    if "," in first_line:
        return ","
    if "\t" in first_line:
        return "\t"
    if ";" in first_line:
        return ";"
    return None


# -- streaming -------------------------------------------------------------------------------


class Block:
    """Text of whole records; ``first_line`` is the 1-based line number of its first line.

    A block read from ASCII input without CR line ends keeps its bytes (``data``) and is
    decoded only when something needs the text (the fast engines take the bytes as they
    are: no decode and re-encode of a large input); otherwise it holds the text.
    """

    __slots__ = ("_breaks", "_text", "data", "first_line")

    def __init__(self, text: str | None, first_line: int, data: bytes | None = None) -> None:
        assert (text is None) != (data is None)
        self._text, self.data, self.first_line = text, data, first_line
        self._breaks = -1

    def line_breaks(self) -> int:
        """The number of line breaks in the block (counted once)."""
        if self._breaks < 0:
            self._breaks = count_lines(self.raw)
        return self._breaks

    @property
    def text(self) -> str:
        if self._text is None:
            assert self.data is not None
            self._text = self.data.decode("ascii")
        return self._text

    @property
    def raw(self) -> str | bytes:
        """The ASCII bytes when the block has them, else the text (for the fast engines)."""
        return self.data if self.data is not None else self.text

    def __len__(self) -> int:
        return len(self.data) if self.data is not None else len(self.text)


def _as_text(text: str | bytes) -> str:
    return text.decode("ascii") if isinstance(text, bytes) else text


def count_lines(text: str | bytes) -> int:
    """The number of line breaks of ``text`` (vectorised for bytes)."""
    if isinstance(text, bytes):
        return int(np.count_nonzero(np.frombuffer(text, np.uint8) == 10))
    return text.count("\n")


class _Prefixed(io.RawIOBase):
    """A binary stream that first returns ``head`` and then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head, self.stream = head, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.stream.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _open_stream(path: str, what: str) -> tuple[BinaryIO, list[BinaryIO]]:
    """(the decompressed byte stream of path or stdin, handles to close)."""
    name = display_name(path)
    if path == STDIO:
        raw: BinaryIO = stdin_stream()
        to_close: list[BinaryIO] = []
    else:
        raw = open_input(path, what)
        to_close = [raw]
    try:
        head = raw.read(2)
    except OSError as exc:  # e.g. EISDIR on some systems, EIO
        raise GatError(f"cannot read: {exc.strerror or exc}", name) from None
    if path != STDIO and raw.seekable():  # a regular file: read again from the start
        raw.seek(-len(head), io.SEEK_CUR)
        stream: BinaryIO = raw
    else:  # a pipe or stdin: the two bytes read are put back in front
        stream = io.BufferedReader(_Prefixed(head, raw), READ_BYTES)
    if head == GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=stream, mode="rb")
        to_close.append(stream)
    elif strip_gz(str(path))[1]:
        for handle in to_close:
            handle.close()
        raise GatError("the name ends in .gz but the content is not gzip data", name)
    return stream, to_close


class TextBlocks:
    """The blocks of a text input, decoded as they are read.

    ``quoting``: whether a quoted field may span lines (delimited tables), so that blocks
    are only cut between records. ``raw_bytes`` counts the decompressed bytes read.
    """

    def __init__(self, path: str, what: str, *, quoting: bool = True) -> None:
        self.path, self.what, self.quoting = path, what, quoting
        self.name = display_name(path)
        self.raw_bytes = 0
        self.saw_text = False

    def __iter__(self) -> Iterator[Block]:
        stream, to_close = _open_stream(self.path, self.what)
        try:
            yield from self._blocks(stream)
        finally:
            for handle in reversed(to_close):
                handle.close()

    def _read(self, stream: BinaryIO) -> bytes:
        try:
            return stream.read(READ_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            if isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)) or "gzip" in str(exc):
                raise GatError(f"corrupt or truncated gzip data ({exc})", self.name) from None
            raise GatError(f"cannot read: {getattr(exc, 'strerror', None) or exc}",
                           self.name) from None

    def _blocks(self, stream: BinaryIO) -> Iterator[Block]:
        decoder = codecs.getincrementaldecoder("utf-8")()
        carry, line, first, held_cr = "", 1, True, False
        # ASCII reads not yet in a block (joined once per block); None: text mode
        pending: list[bytes] | None = []
        pending_size = 0
        while True:
            raw = self._read(stream)
            final = not raw
            if first and raw:
                first = False
                if raw.startswith(codecs.BOM_UTF8):
                    raw = raw[3:]
                kind = describe_magic(raw[:16])
                if kind:
                    raise GatError(_wrong_kind(kind, self.what, self.path), self.name)
            self.raw_bytes += len(raw)
            if b"\x00" in raw:
                raise GatError(f"binary data (NUL bytes); expected {self.what}", self.name)
            if pending is not None:
                if raw.isascii() and b"\r" not in raw:  # bytes as they are (no decode)
                    if not self.saw_text and raw and not raw.isspace():
                        self.saw_text = True
                    pending.append(raw)
                    pending_size += len(raw)
                    if pending_size < BLOCK_CHARS and not final:
                        continue
                    block, rest = self._split(b"".join(pending), line, final)
                    pending, pending_size = ([rest], len(rest)) if rest else ([], 0)
                    if block is not None:
                        yield block
                        line += block.line_breaks()
                    if final:
                        return
                    continue
                carry, pending = b"".join(pending).decode("ascii"), None  # text from here on
            try:
                text = decoder.decode(raw, final)
            except UnicodeDecodeError as exc:
                at = line + carry.count("\n") + raw.count(b"\n", 0, max(exc.start, 0))
                raise GatError(f"not UTF-8 text; expected {self.what}",
                               f"{self.name}:{at}") from None
            if held_cr:
                text = "\r" + text
                held_cr = False
            if "\r" in text:
                if text.endswith("\r") and not final:
                    text, held_cr = text[:-1], True
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            if not self.saw_text and text and not text.isspace():
                self.saw_text = True
            block, carry = self._split(carry + text if carry else text, line, final)
            if block is not None:
                yield block
                line += block.line_breaks()
            if final:
                return

    def _split(self, data: str | bytes, line: int,
               final: bool) -> tuple[Block | None, str | bytes]:
        """(a block of the whole records of ``data`` or None, the rest to carry to the next
        read). ``data`` (text, or ASCII bytes) starts at a record start, on line ``line``.

        At the end of the input (``final``) all of it is the block (a last line break is
        added) and a quote left open is an error; before it, data shorter than
        :data:`BLOCK_CHARS`, or with no record end yet, is all carried.
        """
        newline, quote = ("\n", QUOTE) if isinstance(data, str) else (b"\n", b'"')
        if final:
            if data and not data.endswith(newline):  # type: ignore[arg-type]
                data += newline  # type: ignore[operator]
            if not data:
                return None, data
            if self.quoting and data.count(quote) % 2:  # type: ignore[arg-type]
                raise GatError("a quoted field is not closed before the end of the file",
                               f"{self.name}:{_open_quote_line(_as_text(data), line)}")
            return _block(data, line), data[:0]
        if len(data) < BLOCK_CHARS:
            return None, data
        cut = self._record_end(data)
        if cut < 0:
            if len(data) > MAX_RECORD_CHARS:
                raise GatError(f"a record longer than {MAX_RECORD_CHARS >> 20} MiB"
                               f"{' (an unclosed quote?)' if self.quoting else ''}",
                               f"{self.name}:{line}")
            return None, data
        return _block(data[:cut + 1], line), data[cut + 1:]

    def _record_end(self, text: str | bytes) -> int:
        """The index of the last line break of ``text`` that ends a record (-1: none).

        ``text`` starts at a record start; a line break is outside quotes when the number
        of quote characters before it is even (RFC 4180 doubles quotes inside quotes).
        """
        newline, quote = ("\n", QUOTE) if isinstance(text, str) else (b"\n", b'"')
        end = text.rfind(newline)  # type: ignore[arg-type]
        if not self.quoting or quote not in text:
            return end
        quotes_before = text.count(quote, 0, end)  # type: ignore[arg-type]
        while end >= 0 and quotes_before % 2:
            previous = text.rfind(newline, 0, end)  # type: ignore[arg-type]
            quotes_before -= text.count(quote, previous + 1, end)  # type: ignore[arg-type]
            end = previous
        return end


def _block(data: str | bytes, line: int) -> Block:
    """A block of text, or of ASCII bytes kept as they are."""
    return Block(data, line) if isinstance(data, str) else Block(None, line, data)


def _open_quote_line(text: str, first_line: int) -> int:
    """The line where the unclosed quote of ``text`` opens."""
    inside, line, start = False, first_line, first_line
    for char in re.finditer(r'["\n]', text):
        if char.group() == "\n":
            line += 1
        else:
            if not inside:
                start = line
            inside = not inside
    return start


# -- records ---------------------------------------------------------------------------------


def skippable(line: str) -> bool:
    """Whether a line is blank or a whole-line comment."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def clean_block(block: Block, delimiter: str | None) -> tuple[str, np.ndarray]:
    """(the block without blank and comment lines, (R,) first line of each record)."""
    lines = block.text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    kept: list[str] = []
    starts: list[int] = []
    inside = False
    quoting = delimiter is not None and QUOTE in block.text
    for k, line in enumerate(lines):
        if not inside:
            if skippable(line):
                continue
            starts.append(block.first_line + k)
        kept.append(line)
        if quoting and line.count(QUOTE) % 2:
            inside = not inside
    return "\n".join(kept) + "\n" if kept else "", np.array(starts, dtype=np.int64)


def records(block: Block, delimiter: str | None) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) of every record of a block: blank and comment lines skipped,
    quotes removed, fields stripped."""
    if delimiter is None:
        for k, line in enumerate(block.text.split("\n")):
            if skippable(line):
                continue
            yield block.first_line + k, [_whitespace_field(quoted, bare)
                                         for quoted, bare in _whitespace_fields(line)]
        return
    starts: list[int] = []

    def lines() -> Iterator[str]:
        inside = False
        for k, line in enumerate(block.text.split("\n")):
            if not inside:
                if skippable(line):
                    continue
                starts.append(block.first_line + k)
            if line.count(QUOTE) % 2:
                inside = not inside
            yield line + "\n"

    if csv.field_size_limit() < MAX_RECORD_CHARS:
        csv.field_size_limit(MAX_RECORD_CHARS)
    reader = csv.reader(lines(), delimiter=delimiter, quotechar=QUOTE, doublequote=True,
                        strict=False)
    for k, row in enumerate(reader):
        yield starts[k], [f.strip() for f in row]


def _whitespace_fields(line: str) -> list[tuple[str | None, str | None]]:
    return [(m.group(1), m.group(2)) for m in WHITESPACE_FIELD.finditer(line)]


def _whitespace_field(quoted: str | None, bare: str | None) -> str:
    if bare is not None:
        return bare
    return (quoted or "").replace('""', '"').strip()


def split_record(line: str, delimiter: str | None) -> list[str]:
    """The fields of one line (quotes removed, fields stripped)."""
    return next(records(Block(line + "\n", 1), delimiter), (1, []))[1]


def needs_strip(text: str | bytes, delimiter: str | None) -> bool:
    """Whether a field of delimited ``text`` (str, or ASCII bytes) may have blanks around
    it."""
    if delimiter is None:
        return False
    if isinstance(text, bytes):
        return _needs_strip_bytes(text, delimiter.encode("utf-8"))
    if QUOTE in text:  # blanks inside quotes
        return True
    for blank in (" ", "\t"):
        if blank == delimiter:
            continue
        if (blank + delimiter in text or delimiter + blank in text or blank + "\n" in text
                or "\n" + blank in text or text.startswith(blank)):
            return True
    return False


class EngineRefused(Exception):
    """A fast engine cannot read a block as the record-by-record parse would (a bad cell, a
    ragged row, a missing value): the next engine, or the record parse, decides.

    Engines raise only this for data they refuse, converting their own parse errors
    (numpy.loadtxt's ValueError, polars' ComputeError...); anything else (a TypeError from a
    changed API, an AttributeError) is a bug and propagates."""


def _needs_strip_bytes(data: bytes, delimiter: bytes) -> bool:
    if b'"' in data:
        return True
    for blank in (b" ", b"\t"):
        if blank == delimiter:
            continue
        if (blank + delimiter in data or delimiter + blank in data or blank + b"\n" in data
                or b"\n" + blank in data or data.startswith(blank)):
            return True
    return False


def loadtxt(text: str | bytes, delimiter: str | None, **kwargs) -> np.ndarray:
    """``numpy.loadtxt`` of a cleaned block (no comments); raises :class:`EngineRefused`
    on rows it cannot read."""
    if isinstance(text, bytes):
        text = text.decode("ascii")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "input contained no data": zero rows is fine
        try:
            return np.loadtxt(io.StringIO(text), delimiter=delimiter, comments=None, ndmin=2,
                              quotechar=QUOTE if delimiter is not None else None, **kwargs)
        except ValueError as exc:  # (a bad cell, a ragged row, an int64 overflow)
            raise EngineRefused(str(exc)) from exc


# -- a table: dialect, first record and the blocks after it ------------------------------


@dataclass
class RowLines:
    """Line numbers of the data rows read so far, block by block (for messages)."""

    starts: list[int] = field(default_factory=list)  # first row of each block
    simple: list[int] = field(default_factory=list)  # first line (one row per line), or -1
    lines: list[np.ndarray | None] = field(default_factory=list)  # else each row's line

    def add(self, first_row: int, first_line: int, lines: np.ndarray | None) -> None:
        self.starts.append(first_row)
        self.simple.append(first_line if lines is None else -1)
        self.lines.append(lines)

    def line(self, row: int) -> int:
        k = int(np.searchsorted(np.asarray(self.starts), row, side="right")) - 1
        offset = row - self.starts[k]
        if self.lines[k] is None:
            return self.simple[k] + offset
        return int(self.lines[k][offset])


class TextTable:
    """A text table opened for reading: its dialect, first record and remaining blocks.

    ``delimiter``: the -d character, or None to decide from the name (or sniff).
    """

    def __init__(self, path: str, what: str, *, delimiter: str | None,
                 name_format: str, records_required: bool = True) -> None:
        self.path, self.what = path, what
        self.name = display_name(path)
        if delimiter is not None:
            self.dialect: Dialect | None = Dialect(check_delimiter(delimiter), "option")
        elif name_format in ("csv", "tsv", "whitespace"):
            self.dialect = Dialect({"csv": ",", "tsv": "\t", "whitespace": None}[name_format],
                                   "name")
        else:
            self.dialect = None  # sniffed from the first data line
        quoting = self.dialect is None or self.dialect.delimiter is not None
        self.source = TextBlocks(path, what, quoting=quoting)
        self._blocks = iter(self.source)
        self.records_required = records_required
        try:
            self.first_line, self.first_fields, self._rest = self._first_record()
        except BaseException:
            self._blocks.close()  # (closes the file)
            raise
        self.rows = RowLines()

    @property
    def delimiter(self) -> str | None:
        assert self.dialect is not None
        return self.dialect.delimiter

    def _first_record(self) -> tuple[int, list[str], Block]:
        """(line, fields) of the first data record and the block that starts with it
        (no fields when there is no record and none is required)."""
        for block in self._blocks:
            raw, begin, k = block.raw, 0, 0  # (ASCII bytes: a character is a byte)
            newline = "\n" if isinstance(raw, str) else b"\n"
            while begin < len(raw):
                end = raw.find(newline, begin)  # type: ignore[arg-type]
                line = _as_text(raw[begin:end])
                if not skippable(line):
                    if self.dialect is None:
                        self.dialect = Dialect(sniff_delimiter(line), "sniffed")
                        self.source.quoting = self.dialect.delimiter is not None
                    rest = (Block(None, block.first_line + k, raw[begin:])
                            if isinstance(raw, bytes) else Block(raw[begin:],
                                                                 block.first_line + k))
                    head = rest.raw[:self._record_chars(rest.raw)]  # (not the whole block)
                    number, fields = next(records(Block(_as_text(head), rest.first_line),
                                                  self.delimiter))
                    return number, fields, rest
                begin, k = end + 1, k + 1
        if not self.source.saw_text:
            raise GatError(f"empty file; expected {self.what}", self.name)
        if not self.records_required:
            return 0, [], Block("", 0)
        raise GatError(f"only comments and blank lines; expected {self.what}", self.name)

    def _record_chars(self, text: str | bytes) -> int:
        """Characters of the first record of ``text`` (which starts with it)."""
        newline, quote = ("\n", QUOTE) if isinstance(text, str) else (b"\n", b'"')
        end = text.find(newline)  # type: ignore[arg-type]
        if self.delimiter is None or quote not in text[:end]:
            return end + 1
        inside, pos = False, 0
        while True:
            end = text.find(newline, pos)  # type: ignore[arg-type]
            inside ^= text.count(quote, pos, end) % 2 == 1  # type: ignore[arg-type]
            if not inside:
                return end + 1
            pos = end + 1

    def blocks(self, *, include_first: bool) -> Iterator[Block]:
        """The data blocks; the first record is the first data row if ``include_first``."""
        rest, self._rest = self._rest, Block("", 0)  # (read once)
        if not len(rest):
            return
        if include_first:
            yield rest
        else:
            raw = rest.raw
            consumed = self._record_chars(raw)
            line = rest.first_line + count_lines(raw[:consumed])
            yield (Block(None, line, raw[consumed:]) if isinstance(raw, bytes)
                   else Block(raw[consumed:], line))
            del raw
        del rest
        yield from self._blocks

    def column_count_error(self, expected: int, found: int, line: int,
                           like: str) -> GatError:
        return GatError(f"expected {expected} columns like {like}, found {found}"
                        f"{self.dialect.hint() if self.dialect else ''}",
                        f"{self.name}:{line}")


# -- block parsing ---------------------------------------------------------------------------

#: a vectorised parse of clean block text (no comment lines; ASCII bytes or str) -> arrays
#: with one row per record; raises :class:`EngineRefused` when the text is not as expected
FastParse = Callable[[str | bytes], tuple]
#: the record-by-record parse of a block -> (arrays, (R,) first line of each record);
#: raises GatError for the first bad record
SlowParse = Callable[[Block], tuple[tuple, np.ndarray]]


def parse_block(block: Block, delimiter: str | None, fast: list[FastParse],
                slow: SlowParse, *, split: bool = True) -> tuple[tuple, np.ndarray | None]:
    """(arrays of the block's records, their first lines or None when record k is on line
    ``block.first_line + k``).

    The fast engines are tried in order on the block as it is, then on the block without
    blank and comment lines; the slow parse decides when they all fail. Every engine reads
    the same records to the same values, so which one succeeds changes nothing but time.
    A large block that the fast engines refuse is parsed in pieces of
    :data:`PIECE_CHARS`, so the record-by-record parse never holds a large block's lines.
    """
    raw = block.raw
    hash_, quote = ("#", QUOTE) if isinstance(raw, str) else (b"#", b'"')
    plain = delimiter is not None or quote not in raw
    tried = hash_ not in raw and plain
    if tried:
        result = _first_success(fast, raw)
        if result is not None:
            if len(result[0]) == block.line_breaks():
                return result, None
            return result, _record_lines(block, delimiter)
    del raw
    text = block.text
    if split and len(text) > PIECE_CHARS:
        return _in_pieces(block, delimiter, fast, slow)
    cleaned, lines = clean_block(block, delimiter)
    if plain and (cleaned != text or not tried):
        result = _first_success(fast, cleaned)
        if result is not None and len(result[0]) == len(lines):
            return result, lines
    return slow(block)


def _record_lines(block: Block, delimiter: str | None) -> np.ndarray:
    """(R,) first line of each record of a block, piece by piece (bounded memory)."""
    return np.concatenate([clean_block(piece, delimiter)[1]
                           for piece in _pieces(block, delimiter)] or [np.zeros(0, np.int64)])


def _pieces(block: Block, delimiter: str | None) -> Iterator[Block]:
    """The block cut into pieces of about :data:`PIECE_CHARS` at record boundaries."""
    text, line, begin = block.text, block.first_line, 0
    quoting = delimiter is not None and QUOTE in text
    while begin < len(text):
        end = min(begin + PIECE_CHARS, len(text))
        if end < len(text):
            cut = text.rfind("\n", begin, end)
            while quoting and cut >= begin and text.count(QUOTE, begin, cut) % 2:
                cut = text.rfind("\n", begin, cut)
            if cut < begin:  # one record longer than a piece: up to its end
                cut = text.find("\n", end)
                while quoting and cut >= 0 and text.count(QUOTE, begin, cut) % 2:
                    cut = text.find("\n", cut + 1)
                cut = len(text) - 1 if cut < 0 else cut
            end = cut + 1
        piece = text[begin:end]
        yield Block(piece, line)
        line += piece.count("\n")
        begin = end


def _in_pieces(block: Block, delimiter: str | None, fast: list[FastParse],
               slow: SlowParse) -> tuple[tuple, np.ndarray]:
    results: list[tuple] = []
    lines: list[np.ndarray] = []
    for piece in _pieces(block, delimiter):
        result, piece_lines = parse_block(piece, delimiter, fast, slow, split=False)
        results.append(result)
        rows = len(result[0])
        lines.append(piece_lines if piece_lines is not None
                     else np.arange(piece.first_line, piece.first_line + rows))
    joined = []
    for k in range(len(results[0])):
        parts = [r[k] for r in results]
        if parts[0] is None:
            joined.append(None)
        elif isinstance(parts[0], list):
            joined.append([item for part in parts for item in part])
        else:
            joined.append(np.concatenate(parts))
    return tuple(joined), np.concatenate(lines)


def _first_success(engines: list[FastParse], text: str | bytes) -> tuple | None:
    for engine in engines:
        try:
            return engine(text)
        except EngineRefused:  # the next engine (or the record parse) decides and names
            continue           # the problem; any other exception is a bug: it propagates
    return None
