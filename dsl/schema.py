"""JSON Schema (draft 2020-12) of the spec language, generated from the dataclasses'
declared fields, so it always says what validation enforces field by field.

Combinations between fields (the FXP16 width against the FXP32 width, the DSP budget of
the target, ...) are checked by the dataclasses only; the schema cannot express them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fixar_gen.params import field_types, tuple_shape, unwrap_optional

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    return value


def _number_bounds(meta: dict, schema: dict) -> None:
    if meta.get("min") is not None:
        schema["exclusiveMinimum" if meta.get("min_exclusive") else "minimum"] = meta["min"]
    if meta.get("max") is not None:
        schema["exclusiveMaximum" if meta.get("max_exclusive") else "maximum"] = meta["max"]


def type_schema(tp: Any, meta: dict) -> dict:
    inner, optional = unwrap_optional(tp)
    schema = _inner_schema(inner, meta)
    if optional:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def _inner_schema(tp: Any, meta: dict) -> dict:
    if dataclasses.is_dataclass(tp):
        return dataclass_schema(tp)
    if meta.get("choices"):
        return {"enum": list(meta["choices"])}
    shape = tuple_shape(tp)
    if shape is not None:
        item, n = shape
        item_meta = {k: meta.get(k) for k in ("min", "max", "min_exclusive", "max_exclusive")}
        schema: dict[str, Any] = {"type": "array", "items": _inner_schema(item, item_meta)}
        lo = n if n is not None else meta.get("min_items")
        hi = n if n is not None else meta.get("max_items")
        if lo is not None:
            schema["minItems"] = lo
        if hi is not None:
            schema["maxItems"] = hi
        return schema
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        schema = {"type": "integer"}
        _number_bounds(meta, schema)
        return schema
    if tp is float:
        schema = {"type": "number"}
        _number_bounds(meta, schema)
        return schema
    if tp is str:
        schema = {"type": "string"}
        if meta.get("pattern"):
            schema["pattern"] = f"^(?:{meta['pattern']})$"
        return schema
    raise TypeError(f"no schema for {tp}")


def dataclass_schema(cls: type) -> dict:
    hints = field_types(cls)
    properties: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        meta = dict(f.metadata)
        prop = type_schema(hints[f.name], meta)
        if meta.get("doc"):
            prop = {"description": meta["doc"], **prop}
        if f.default is not dataclasses.MISSING:
            prop["default"] = _default(f.default)
        properties[f.name] = prop
    return {"type": "object", "description": (cls.__doc__ or "").strip().split("\n\n")[0],
            "properties": properties, "additionalProperties": False}


def spec_schema() -> dict:
    """The schema of a spec file: the Spec fields plus ``base`` and ``fragments``."""
    from fixar_gen.spec import Spec

    from .fragments import FRAGMENTS

    schema = dataclass_schema(Spec)
    schema["properties"] = {
        "base": {"description": "'default' or the path of a spec file this one starts from",
                 "type": "string"},
        "fragments": {
            "description": "named fragments applied in order over the base, before this "
                           "file's own fields",
            "type": "array",
            "items": {"anyOf": [
                {"enum": sorted(FRAGMENTS)},
                {"type": "object", "minProperties": 1, "maxProperties": 1,
                 "propertyNames": {"enum": sorted(FRAGMENTS)}},
            ]},
        },
        **schema["properties"],
    }
    return {"$schema": DRAFT,
            "title": "fixar_gen spec", **schema}
