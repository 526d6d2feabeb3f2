"""Option values converted without pydantic when the conversion is plain.

typer 0.29 converts every parameter value through a pydantic ``TypeAdapter`` built on first
use, and importing pydantic for that took about a third of ``gat embed``'s start-up on a small
graph (issue 12). gat's parameters are strings, flags, integers and numbers with bounds, and
choices; for those, when the value is plainly valid (``"8"`` for an integer >= 1, ``"0.2"``,
a listed choice), :class:`PlainCoercion` gives the value typer's own conversion gives. Anything
else (a bad or out-of-range value, a list, a custom parser, a path type) goes to typer's
conversion, so its results and its error messages are unchanged. tests/test_cli_coerce.py
checks both ways agree on every parameter of every command.

This hooks typer's ``_TyperParameter._runtime_param`` (typer is pinned to 0.29.x, see
pyproject.toml).
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

from typer._click import Context
from typer._coercion import build_runtime_param
from typer._param_types import coerce_cli_choice
from typer.core import _TyperParameter

#: what :func:`plain_value` returns when typer's conversion must decide
UNDECIDED = object()

INTEGER = re.compile(r"[0-9]{1,18}", re.ASCII)
NUMBER = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})(?:[eE][+-]?[0-9]{1,3})?",
                    re.ASCII)


def plain_value(param: _TyperParameter, value: Any, ctx: Context | None) -> Any:
    """``value`` of ``param`` converted as typer would, or UNDECIDED when that takes
    typer's own conversion (anything not plainly valid)."""
    descriptor = param.type_descriptor
    info = descriptor.parameter_info
    if param.multiple or param.nargs != 1 or info.parser is not None or descriptor.is_file:
        return UNDECIDED
    kind = descriptor.annotation
    if value is None:
        return None
    if kind is str:
        return value if type(value) is str and not descriptor.is_path else UNDECIDED
    if kind is bool:
        return value if type(value) is bool else UNDECIDED
    if isinstance(kind, type) and issubclass(kind, Enum):
        try:
            return coerce_cli_choice(value, choices=list(kind),
                                     case_sensitive=info.case_sensitive, ctx=ctx)
        except ValueError:
            return UNDECIDED
    if kind is int:
        if type(value) is int:
            number: int | float = value
        elif type(value) is str and INTEGER.fullmatch(value):
            number = int(value)
        else:
            return UNDECIDED
    elif kind is float:
        if type(value) in (int, float):
            number = float(value)
        elif type(value) is str and NUMBER.fullmatch(value):
            number = float(value)
        else:
            return UNDECIDED
    else:
        return UNDECIDED
    if info.clamp or (info.min is not None and not number >= info.min) or (
            info.max is not None and not number <= info.max):
        return UNDECIDED
    return number


class PlainCoercion:
    """A parameter's runtime conversion: :func:`plain_value`, else typer's own."""

    def __init__(self, param: _TyperParameter) -> None:
        self.param = param
        self._typer: Any = None

    def typer_conversion(self) -> Any:
        if self._typer is None:
            self._typer = build_runtime_param(self.param.type_descriptor)
        return self._typer

    def coerce(self, value: Any, param: _TyperParameter, ctx: Context) -> Any:
        quick = plain_value(param, value, ctx)
        if quick is not UNDECIDED:
            return quick
        return self.typer_conversion().coerce(value, param=param, ctx=ctx)


def use_plain_coercion(params: list[Any]) -> None:
    """Give every typer parameter of a command :class:`PlainCoercion`."""
    for param in params:
        if isinstance(param, _TyperParameter) and param._runtime_param is None:
            param._runtime_param = PlainCoercion(param)
