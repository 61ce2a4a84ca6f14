"""Located spec trees: what a user wrote, with where each value came from.

YAML files and DSL fragments both become a tree of :class:`Node` (mappings, lists,
scalars) whose every node knows its :class:`Loc`.  Trees merge (a later tree overrides
an earlier one, mappings recursively, lists whole), and an error about a field is
reported at the place the user set it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Loc:
    """Where a value was written: a file position (1-based) and, for DSL fragments and
    YAML fragment entries, which fragment set it."""

    file: str
    line: int = 1
    col: int = 1
    note: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class Node:
    """A value (dict of Node, list of Node, or a scalar) and where it was written; a
    mapping entry also remembers where its key was."""

    value: Any
    loc: Loc
    key_loc: Loc | None = None

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_seq(self) -> bool:
        return isinstance(self.value, list)


def from_plain(value: Any, loc: Loc) -> Node:
    """A tree for plain Python data (dicts, lists, tuples, scalars), all at ``loc``."""
    if isinstance(value, dict):
        return Node({str(k): _keyed(from_plain(v, loc), loc) for k, v in value.items()}, loc)
    if isinstance(value, (list, tuple)):
        return Node([from_plain(v, loc) for v in value], loc)
    return Node(value, loc)


def _keyed(node: Node, key_loc: Loc) -> Node:
    node.key_loc = key_loc
    return node


def at_path(path: str, value: Any, loc: Loc) -> Node:
    """A tree that sets one dotted path, e.g. ``at_path("hardware.cores", 4, loc)``."""
    node = from_plain(value, loc)
    for part in reversed(path.split(".")):
        node = Node({part: _keyed(node, loc)}, loc)
    return node


def merge(base: Node | None, over: Node | None) -> Node | None:
    """``over`` on top of ``base``: mappings merge key by key, anything else is replaced."""
    if base is None:
        return over
    if over is None:
        return base
    if base.is_map and over.is_map:
        items = dict(base.value)
        for key, child in over.value.items():
            items[key] = merge(items.get(key), child) if key in items else child
            items[key].key_loc = child.key_loc
        return Node(items, over.loc, over.key_loc)
    return over


def to_plain(node: Node) -> Any:
    if node.is_map:
        return {k: to_plain(v) for k, v in node.value.items()}
    if node.is_seq:
        return [to_plain(v) for v in node.value]
    return node.value


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def find(root: Node, path: str) -> tuple[Node | None, bool]:
    """The node at a dotted path like ``networks.actor.hidden[1]``: (node, True), or the
    deepest node on the way and False when the path was not written."""
    node = root
    for name, index in _PATH_PART.findall(path):
        if name and node.is_map and name in node.value:
            node = node.value[name]
        elif index and node.is_seq and int(index) < len(node.value):
            node = node.value[int(index)]
        else:
            return node, False
    return node, True
