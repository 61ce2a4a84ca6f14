"""Declared parameters: the field metadata that validation, the JSON Schema and the
spec reference (docs/spec.md) are all generated from.

A spec dataclass declares each field with :func:`param`, giving its documentation and
what values are allowed.  :func:`check_fields` enforces exactly that in
``__post_init__``, :mod:`fixar_gen.dsl.schema` turns it into JSON Schema and
:mod:`fixar_gen.dsl.reference` into Markdown, so the three never disagree.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any


class SpecError(ValueError):
    """An invalid spec value.

    ``field`` is the dotted path of the offending field relative to the object that
    raised it; loaders prefix it and attach ``location`` (``file:line:col``).
    """

    def __init__(self, field: str, message: str, location: str | None = None,
                 also: tuple[str, ...] = ()):
        self.field = field
        self.message = message
        self.location = location
        #: other fields the error involves (used to find a location the user wrote)
        self.also = also
        super().__init__(str(self))

    def prefixed(self, prefix: str) -> "SpecError":
        def join(f: str) -> str:
            return f"{prefix}.{f}" if prefix and f else (prefix or f)
        return SpecError(join(self.field), self.message, self.location,
                         tuple(join(a) for a in self.also))

    def located(self, location: str) -> "SpecError":
        return SpecError(self.field, self.message, location, self.also)

    def __str__(self) -> str:
        head = f"{self.location}: " if self.location else ""
        field = f"{self.field}: " if self.field else ""
        return f"{head}{field}{self.message}"


def param(default: Any = dataclasses.MISSING, doc: str = "", *, choices: tuple | None = None,
          min: float | None = None, max: float | None = None, min_exclusive: bool = False,
          max_exclusive: bool = False, min_items: int | None = None,
          max_items: int | None = None, pattern: str | None = None,
          default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with the metadata validation, schema and docs use."""
    meta = {"doc": doc, "choices": choices, "min": min, "max": max,
            "min_exclusive": min_exclusive, "max_exclusive": max_exclusive,
            "min_items": min_items, "max_items": max_items, "pattern": pattern}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# ---------------------------------------------------------------------------
# type introspection shared by the validator, the builder and the schema


def field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """(inner type, is_optional) of ``X | None``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def tuple_shape(tp: Any) -> tuple[Any, int | None] | None:
    """For ``tuple[X, ...]`` -> (X, None); for ``tuple[X, X]`` -> (X, 2); else None."""
    if typing.get_origin(tp) is not tuple:
        return None
    args = typing.get_args(tp)
    if len(args) == 2 and args[1] is Ellipsis:
        return args[0], None
    if args and all(a == args[0] for a in args):
        return args[0], len(args)
    raise TypeError(f"unsupported tuple type {tp}")


def _fmt_num(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def describe(tp: Any, meta: dict) -> str:
    """What a field allows, in words, e.g. 'an integer from 1 to 64'."""
    inner, optional = unwrap_optional(tp)
    text = _describe_inner(inner, meta)
    return f"{text}, or null" if optional else text


def _bounds(meta: dict) -> str:
    lo, hi = meta.get("min"), meta.get("max")
    lo_s = None if lo is None else _fmt_num(lo)
    hi_s = None if hi is None else _fmt_num(hi)
    if lo is not None and hi is not None:
        if lo == hi and not (meta.get("min_exclusive") or meta.get("max_exclusive")):
            return f" equal to {lo_s}"
        if meta.get("min_exclusive") or meta.get("max_exclusive"):
            left = f"> {lo_s}" if meta.get("min_exclusive") else f">= {lo_s}"
            right = f"< {hi_s}" if meta.get("max_exclusive") else f"<= {hi_s}"
            return f" {left} and {right}"
        return f" from {lo_s} to {hi_s}"
    if lo is not None:
        return f" > {lo_s}" if meta.get("min_exclusive") else f" >= {lo_s}"
    if hi is not None:
        return f" < {hi_s}" if meta.get("max_exclusive") else f" <= {hi_s}"
    return ""


def _describe_inner(tp: Any, meta: dict) -> str:
    if meta.get("choices"):
        return "one of " + ", ".join(str(c) for c in meta["choices"])
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer" + _bounds(meta)
    if tp is float:
        return "a number" + _bounds(meta)
    if tp is str:
        return "a string" + (f" matching {meta['pattern']}" if meta.get("pattern") else "")
    shape = tuple_shape(tp)
    if shape is not None:
        item, n = shape
        item_meta = {k: meta.get(k) for k in ("min", "max", "min_exclusive", "max_exclusive")}
        item_text = _describe_inner(item, item_meta)
        if n is not None:
            return f"a list of {n} items, each {item_text}"
        lo, hi = meta.get("min_items"), meta.get("max_items")
        count = f"{lo} to {hi} items" if lo is not None and hi is not None else "items"
        return f"a list of {count}, each {item_text}"
    if dataclasses.is_dataclass(tp):
        return "a mapping with fields " + ", ".join(f.name for f in dataclasses.fields(tp))
    return str(tp)


# ---------------------------------------------------------------------------
# validation


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def show_value(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    return text if len(text) <= 60 else text[:57] + "..."


def check_value(name: str, tp: Any, meta: dict, value: Any) -> Any:
    """Check one value against its declared type and metadata; return it normalised
    (ints accepted for floats, lists turned into tuples).  Raises SpecError."""
    allowed = describe(tp, meta)
    inner, optional = unwrap_optional(tp)
    if value is None:
        if optional:
            return None
        raise SpecError(name, f"a value is required ({allowed})")
    shape = tuple_shape(inner)
    if shape is not None:
        item_tp, n = shape
        if not isinstance(value, (list, tuple)):
            raise SpecError(name, f"expected a list, got {type_name(value)} "
                                  f"{show_value(value)} ({allowed})")
        if n is not None and len(value) != n:
            raise SpecError(name, f"expected {n} items, got {len(value)} ({allowed})")
        lo, hi = meta.get("min_items"), meta.get("max_items")
        if (lo is not None and len(value) < lo) or (hi is not None and len(value) > hi):
            raise SpecError(name, f"{len(value)} items is out of range ({allowed})")
        item_meta = {k: meta.get(k) for k in ("min", "max", "min_exclusive", "max_exclusive")}
        return tuple(check_value(f"{name}[{i}]", item_tp, item_meta, v)
                     for i, v in enumerate(value))
    if dataclasses.is_dataclass(inner):
        if not isinstance(value, inner):
            raise SpecError(name, f"expected {inner.__name__}, got {type_name(value)}")
        return value
    if inner is bool:
        if not isinstance(value, bool):
            raise SpecError(name, f"expected true or false, got {type_name(value)} "
                                  f"{show_value(value)}")
        return value
    if inner is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
                value = int(value)
            else:
                raise SpecError(name, f"expected an integer, got {type_name(value)} "
                                      f"{show_value(value)} ({allowed})")
    elif inner is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(name, f"expected a number, got {type_name(value)} "
                                  f"{show_value(value)} ({allowed})")
        if isinstance(value, int):
            if abs(value) > 2**63:
                raise SpecError(name, f"{show_value(value)} is out of range ({allowed})")
            value = float(value)
        if not math.isfinite(value):
            raise SpecError(name, f"{show_value(value)} is not a finite number ({allowed})")
    elif inner is str:
        if not isinstance(value, str):
            raise SpecError(name, f"expected a string, got {type_name(value)} "
                                  f"{show_value(value)} ({allowed})")
        if meta.get("pattern"):
            import re
            if not re.fullmatch(meta["pattern"], value):
                raise SpecError(name, f"{show_value(value)} is not allowed ({allowed})")
    choices = meta.get("choices")
    if choices and value not in choices:
        raise SpecError(name, f"{show_value(value)} is not allowed ({allowed})")
    lo, hi = meta.get("min"), meta.get("max")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        too_low = lo is not None and (value <= lo if meta.get("min_exclusive") else value < lo)
        too_high = hi is not None and (value >= hi if meta.get("max_exclusive") else value > hi)
        if too_low or too_high:
            raise SpecError(name, f"{show_value(value)} is out of range ({allowed})")
    return value


def check_fields(obj: Any) -> None:
    """Validate and normalise every declared field of a frozen dataclass in place."""
    hints = field_types(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        checked = check_value(f.name, hints[f.name], dict(f.metadata), value)
        if checked is not value:
            object.__setattr__(obj, f.name, checked)


def nested(prefix: str, fn: Any, *args: Any) -> Any:
    """Run ``fn`` and prefix the field of any SpecError it raises."""
    try:
        return fn(*args)
    except SpecError as err:
        raise err.prefixed(prefix) from None
