"""The one error type that every reader, writer and validator raises.

The CLI turns a :class:`GatError` into one line on stderr and exit code 1; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno as _errno


class GatError(Exception):
    """A problem with the user's input, model or output, stated in one line.

    ``where`` names the place (a file, ``file:line``, ``file:line:column`` or a key);
    ``message`` says what was found and what was expected.
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class StdoutError(Exception):
    """Standard output could not be written: the reader went away (a closed pipe, as in
    ``gat ... | head -1``), the device is full, or stdout was closed (``>&-``).

    Not an ``OSError``, so that libraries on the way (rich's console turns a
    ``BrokenPipeError`` into exit 1) let it through to the one place that reports it.
    """

    def __init__(self, code: int, reason: str) -> None:
        self.errno = code
        self.reason = reason
        super().__init__(f"cannot write to stdout: {reason}")

    @property
    def broken_pipe(self) -> bool:
        """True when the reader closed the pipe: a normal end, not a failure."""
        return self.errno == _errno.EPIPE
#: longest text of a value shown in a message; longer values are cut with an ellipsis
SHOWN_CHARS = 60


def shown_value(value: object, limit: int = SHOWN_CHARS) -> str:
    """``repr`` of a value from the user's input for a message, cut to about ``limit``
    characters (a 20 MB id must not make a 20 MB line on stderr)."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"
