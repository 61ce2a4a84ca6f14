"""From a located tree to the frozen spec dataclasses, with every error located.

The dataclasses validate themselves; this module walks the tree field by field, turns
unknown keys into did-you-mean errors, and gives each :class:`SpecError` the
``file:line:col`` where the user wrote the offending value.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, TypeVar

from fixar_gen.memory_fit import check_memory_fit
from fixar_gen.params import (SpecError, describe, field_types, show_value, type_name,
                              unwrap_optional)
from fixar_gen.spec import Spec

from .tree import Node, find, to_plain

T = TypeVar("T")


def build(cls: type[T], root: Node) -> T:
    """Build ``cls`` from a tree; every SpecError raised carries a location.  A whole
    :class:`Spec` for a board is also checked against the board's on-chip memory
    (:mod:`fixar_gen.memory_fit`: the check needs the compiler and the generator's
    sizes, so it runs here, above both)."""
    built = _build(cls, root, "", root)
    if isinstance(built, Spec):
        try:
            check_memory_fit(built)
        except SpecError as err:
            raise locate(err, root, root) from None
    return built


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _build(cls: type[T], node: Node, path: str, root: Node) -> T:
    if not node.is_map:
        raise locate(SpecError(path, f"expected a mapping, got {_kind(node.value)} "
                               f"({describe(cls, {})})"), root, node)
    hints = field_types(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, child in node.value.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            err = SpecError(_join(path, key), f"unknown field ({hint}allowed: "
                                              f"{', '.join(names)})")
            raise _at(err, child.key_loc or child.loc)
        inner, _ = unwrap_optional(hints[key])
        if dataclasses.is_dataclass(inner):
            kwargs[key] = _build(inner, child, _join(path, key), root)
        else:
            kwargs[key] = to_plain(child)
    try:
        return cls(**kwargs)
    except SpecError as err:
        raise locate(err.prefixed(path), root, node) from None


def _kind(value: Any) -> str:
    if value is None or isinstance(value, (list, dict)):
        return type_name(value)
    return f"{type_name(value)} {show_value(value)}"


def _at(err: SpecError, loc) -> SpecError:
    located = err.located(str(loc))
    if loc.note:
        located = SpecError(located.field, f"{located.message}; set by {loc.note}",
                            located.location, located.also)
    return located


def locate(err: SpecError, root: Node, fallback: Node) -> SpecError:
    """Attach the location of the first field the error names that the user wrote."""
    if err.location:
        return err
    for path in (err.field, *err.also):
        node, exact = find(root, path)
        if exact:
            return _at(err, node.loc)
    node, _ = find(root, err.field)
    return _at(err, (node or fallback).loc)
