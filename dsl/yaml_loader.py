"""Reading spec files: safe YAML into located trees, with ``base:`` and ``fragments:``.

PyYAML only *composes* the document here (no constructor ever runs), so an
application tag such as ``!!python/object`` is reported, never executed.  Scalars are
converted by the safe constructor after their tag is checked; aliases are expanded with
a node budget, so an alias bomb is refused instead of exhausting memory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from fixar_gen.params import SpecError

from .tree import Loc, Node, merge

MAX_FILE_BYTES = 1 << 20
MAX_NODES = 20_000
MAX_DEPTH = 32
MAX_SCALAR_CHARS = 1_000
MAX_NUMBER_CHARS = 40
MAX_BASE_DEPTH = 8

INT, FLOAT, BOOL, NULL, STR = (f"tag:yaml.org,2002:{t}" for t in
                               ("int", "float", "bool", "null", "str"))
SEQ, MAP = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"


class SpecLoader(yaml.SafeLoader):
    """SafeLoader whose floats also accept the common ``1e-4`` spelling (YAML 1.1
    wants ``1.0e-4``, and a plain ``1e-4`` would silently become a string)."""


SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != FLOAT]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver(FLOAT, re.compile(r"""^(?:
    [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
  | [-+]?(?:[0-9][0-9_]*)[eE][-+]?[0-9]+
  | [-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
  | [-+]?\.(?:inf|Inf|INF)
  | \.(?:nan|NaN|NAN))$""", re.X), list("-+0123456789."))

_CONSTRUCT = {INT: yaml.SafeLoader.construct_yaml_int,
              FLOAT: yaml.SafeLoader.construct_yaml_float,
              BOOL: yaml.SafeLoader.construct_yaml_bool,
              NULL: yaml.SafeLoader.construct_yaml_null}


def _loc(path: str, mark: Any) -> Loc:
    return Loc(path, mark.line + 1, mark.column + 1)


class _TreeBuilder:
    """Turns a composed PyYAML node graph into a located :class:`Node` tree."""

    def __init__(self, path: str):
        self.path = path
        self.count = 0
        self.constructor = yaml.SafeLoader("")

    def error(self, node: Any, field: str, message: str) -> SpecError:
        return SpecError(field, message, str(_loc(self.path, node.start_mark)))

    @staticmethod
    def _top(field: str) -> str:
        return re.split(r"[.\[]", field, maxsplit=1)[0]

    def convert(self, node: Any, field: str, depth: int = 0) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.error(node, self._top(field), f"the document expands to more than {MAX_NODES} "
                             "values (alias bomb?); specs are small, write them out")
        if depth > MAX_DEPTH:
            raise self.error(node, self._top(field), f"nested deeper than {MAX_DEPTH} levels "
                             "(recursive alias?)")
        loc = _loc(self.path, node.start_mark)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, field, depth, loc)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != SEQ:
                raise self._bad_tag(node, field)
            return Node([self.convert(item, f"{field}[{i}]", depth + 1)
                         for i, item in enumerate(node.value)], loc)
        return Node(self._scalar(node, field), loc)

    def _mapping(self, node: Any, field: str, depth: int, loc: Loc) -> Node:
        if node.tag != MAP:
            raise self._bad_tag(node, field)
        items: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.error(key_node, field or "<<", "merge keys (<<) are not "
                                 "supported in specs (use base: or fragments:)")
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != STR:
                key_text = getattr(key_node, "value", "?")
                raise self.error(key_node, field or str(key_text), f"key {key_text!r} is "
                                 "not a plain name (keys are field names)")
            key = key_node.value
            path = f"{field}.{key}" if field else key
            if key in items:
                first = items[key].key_loc
                raise self.error(key_node, path, f"duplicate key (first set at line "
                                 f"{first.line}, column {first.col}; give each field once)")
            child = self.convert(value_node, path, depth + 1)
            child.key_loc = _loc(self.path, key_node.start_mark)
            items[key] = child
        return Node(items, loc)

    def _bad_tag(self, node: Any, field: str) -> SpecError:
        return self.error(node, field, f"tag {node.tag!r} is not allowed in a spec "
                          "(plain values, lists and mappings only)")

    def _scalar(self, node: Any, field: str) -> Any:
        text = node.value
        if node.tag == STR:
            if len(text) > MAX_SCALAR_CHARS:
                raise self.error(node, field, f"a {len(text)}-character string is too long "
                                 f"(at most {MAX_SCALAR_CHARS})")
            return text
        if node.tag not in _CONSTRUCT:
            raise self._bad_tag(node, field)
        if node.tag in (INT, FLOAT) and len(text) > MAX_NUMBER_CHARS:
            raise self.error(node, field, f"a {len(text)}-character number is too long "
                             f"(at most {MAX_NUMBER_CHARS} characters)")
        try:
            return _CONSTRUCT[node.tag](self.constructor, node)
        except (ValueError, OverflowError) as exc:
            raise self.error(node, field, f"cannot read {text[:40]!r} as a number "
                             f"({exc})") from None


def read_text(path: Path, shown: str) -> str:
    """The text of a spec file, or a located SpecError saying why not."""
    location = f"{shown}:1:1"
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise SpecError("", "no such file", location) from None
    except OSError as exc:
        raise SpecError("", f"cannot read the file ({exc.strerror})", location) from None
    if path.is_dir():
        raise SpecError("", "is a directory, not a spec file", location)
    if size > MAX_FILE_BYTES:
        raise SpecError("", f"the file has {size} bytes; specs are limited to "
                            f"{MAX_FILE_BYTES} bytes", location)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError("", f"cannot read the file ({exc.strerror})", location) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[:exc.start]
        line, col = before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1
        raise SpecError("", f"not UTF-8 text ({exc.reason}); save the spec as UTF-8",
                        f"{shown}:{line}:{col}") from None


def compose_text(text: str, shown: str) -> Node:
    """A located tree of one YAML document (an empty document is an empty mapping)."""
    try:
        loader = SpecLoader(text)
        try:
            document = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else f"{shown}:1:1"
        problem = "; ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise SpecError("", f"YAML syntax error: {problem}", where) from None
    except yaml.YAMLError as exc:
        raise SpecError("", f"YAML error: {exc}", f"{shown}:1:1") from None
    except RecursionError:
        raise SpecError("", f"nested deeper than {MAX_DEPTH} levels", f"{shown}:1:1") from None
    if document is None:
        return Node({}, Loc(shown))
    tree = _TreeBuilder(shown).convert(document, "")
    if not tree.is_map:
        raise SpecError("", "a spec is a mapping of fields (name, env, networks, "
                            "algorithm, numerics, hardware, parallelism, target)", str(tree.loc))
    return tree


def load_tree(path: str | Path, _stack: tuple[Path, ...] = ()) -> Node:
    """The located tree of a spec file with its ``base:`` and ``fragments:`` applied:
    base first, then each fragment in order, then the file's own fields."""
    path = Path(path)
    shown = str(path)
    if len(_stack) > MAX_BASE_DEPTH:
        raise SpecError("base", f"bases nest deeper than {MAX_BASE_DEPTH} files",
                        f"{shown}:1:1")
    tree = compose_text(read_text(path, shown), shown)
    return apply_base_and_fragments(tree, path, _stack)


def apply_base_and_fragments(tree: Node, path: Path, stack: tuple[Path, ...]) -> Node:
    """Merge a spec tree over its ``base`` and ``fragments`` (removing both keys)."""
    from .fragments import fragment_from_yaml

    items = dict(tree.value)
    result: Node | None = None
    base = items.pop("base", None)
    if base is not None:
        result = _load_base(base, path, stack)
    fragments = items.pop("fragments", None)
    if fragments is not None:
        if not fragments.is_seq:
            raise SpecError("fragments", "expected a list of fragments, e.g. [U50, "
                            "{Cores: 4}]", str(fragments.loc))
        for i, entry in enumerate(fragments.value):
            result = merge(result, fragment_from_yaml(entry, f"fragments[{i}]").tree)
    return merge(result, Node(items, tree.loc))


def _load_base(base: Node, path: Path, stack: tuple[Path, ...]) -> Node | None:
    if not isinstance(base.value, str):
        raise SpecError("base", "expected 'default' or the path of another spec file",
                        str(base.loc))
    if base.value == "default":
        return None
    base_path = (path.parent / base.value)
    resolved = base_path.resolve()
    if resolved in stack or resolved == path.resolve():
        raise SpecError("base", f"{base.value!r} is a cycle of bases (a spec cannot be its "
                        "own base)", str(base.loc))
    if not base_path.is_file():
        raise SpecError("base", f"no such spec file {base.value!r} (a path relative to "
                        "this file, or 'default')", str(base.loc))
    return load_tree(base_path, (*stack, path.resolve()))
