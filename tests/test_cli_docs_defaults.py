"""docs/spec.md states every field's default; each one is checked against the spec the
code builds when nothing is given (a default written by hand, or rendered from the
wrong object, fails here: the weight and gradient formats have 24 fraction bits)."""

import re
from pathlib import Path

import pytest

from fixar_gen import load_spec
from fixar_gen.spec import MAX_SCRATCHPAD_WORDS, spec_data

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `(\w+)` \| (.*?) \| .*\|$")


def documented_defaults() -> dict[str, str]:
    """``dotted.field -> default text`` from the tables of docs/spec.md."""
    found, section = {}, None
    for line in (ROOT / "docs" / "spec.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            section = "" if title == "Top level" else title.strip("`") \
                if title.startswith("`") else None
            continue
        match = ROW.match(line)
        if match and section is not None:
            name, default = match.groups()
            found[f"{section}.{name}" if section else name] = default
    return found


def code_default(path: str):
    value = spec_data(load_spec({}))
    for part in path.split("."):
        value = value[part]
    return value


def as_doc_text(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, str):
        return f"`{value}`"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


DOCUMENTED = documented_defaults()


def test_every_section_is_read():
    # the parser above must see every field of every section, or the check is empty
    assert {"name", "numerics.weight.frac", "numerics.gradient.frac",
            "algorithm.noise.kind", "hardware.memory.banks"} <= set(DOCUMENTED)
    assert len(DOCUMENTED) > 60


@pytest.mark.parametrize("path", sorted(DOCUMENTED))
def test_documented_default_is_the_codes(path):
    doc = DOCUMENTED[path]
    if doc == "see below":
        assert isinstance(code_default(path), dict)
        return
    if doc == "null":      # sizes the environment decides: null in the file, resolved
        assert path.rsplit(".", 1)[-1] in ("inputs", "outputs") or code_default(path) is None
        return
    assert doc == as_doc_text(code_default(path)), f"docs/spec.md: {path} default"


def test_weight_and_gradient_fraction_default_is_24():
    assert DOCUMENTED["numerics.weight.frac"] == DOCUMENTED["numerics.gradient.frac"] == "24"
    assert DOCUMENTED["numerics.activation.frac"] == "16"


def test_documented_scratchpad_bound_is_the_codes():
    text = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    assert f"{MAX_SCRATCHPAD_WORDS:,} words" in text
