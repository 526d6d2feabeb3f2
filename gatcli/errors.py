"""The one error type that every reader, writer and validator raises.

The CLI turns a :class:`GatError` into one line on stderr and exit code 1; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations


class GatError(Exception):
    """A problem with the user's input, model or output, stated in one line.

    ``where`` names the place (a file, ``file:line``, ``file:line:column`` or a key);
    ``message`` says what was found and what was expected.
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)
