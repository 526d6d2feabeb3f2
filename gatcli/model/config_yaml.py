"""Parsing a YAML model file with bounds (imported only when a model file is read: PyYAML is
not part of the start-up of commands that read none)."""

from __future__ import annotations

import yaml

from gatcli.errors import GatError

#: bounds of a YAML model file (a real one is a few hundred bytes, 3 levels, ~30 values)
MAX_DEPTH = 32
MAX_VALUES = 10_000


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing documents nested more than ``MAX_DEPTH`` levels (its
    composer recurses once per level) or holding more than ``MAX_VALUES`` values once
    aliases are expanded (an alias bomb: a few hundred bytes that expand to billions of
    values in anything that walks or prints the result). The expanded size is counted,
    never built."""

    def __init__(self, stream: str, name: str) -> None:
        super().__init__(stream)
        self.name = name
        self.depth = 0
        self.sizes: dict[int, int] = {}  # id(node) -> values under it, aliases expanded

    def _refuse(self, message: str, mark: yaml.Mark | None) -> GatError:
        where = f"{self.name}:{mark.line + 1}" if mark is not None else self.name
        return GatError(message, where)

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        alias = self.check_event(yaml.AliasEvent)
        mark = self.peek_event().start_mark
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self._refuse(f"YAML nested more than {MAX_DEPTH} levels deep; a model "
                                   "file needs 3 (layers, a list, a mapping)", mark)
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        if alias:
            if id(node) not in self.sizes:
                raise self._refuse("a YAML alias refers to the collection it is part of "
                                   "(a recursive structure)", mark)
            size = self.sizes[id(node)]
        elif isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self.sizes[id(child)] for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size = 1 + sum(self.sizes[id(key)] + self.sizes[id(value)]
                           for key, value in node.value)
        else:
            size = 1
        if size > MAX_VALUES:
            raise self._refuse(f"the YAML holds more than {MAX_VALUES} values once its "
                               "aliases are expanded (an alias bomb?); a model file needs "
                               "a few dozen", mark)
        self.sizes[id(node)] = size
        return node


def load_yaml(text: str, name: str) -> object:
    """The document of ``text`` (from the file ``name``); syntax errors and documents
    beyond the bounds are a GatError naming the line."""
    loader = None
    try:
        loader = _BoundedLoader(text, name)  # (its reader checks the characters here)
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        column = f" (column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise GatError(f"YAML syntax error{column}: {problem}", where) from None
    finally:
        if loader is not None:
            loader.dispose()
