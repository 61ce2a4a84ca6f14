"""The hardware is built from the instruction set, never from the golden model it is
checked against: no module of fixar_gen/hw/ imports fixar_gen.golden (read from the
source's import statements, so a deferred import counts too)."""

from __future__ import annotations

import ast
from pathlib import Path

import fixar_gen.hw

HW = Path(fixar_gen.hw.__file__).parent


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_no_hardware_module_imports_the_golden_model():
    modules = sorted(HW.glob("*.py"))
    assert len(modules) > 5
    offenders = {p.name: sorted(n for n in _imports(p) if n.split(".")[-1] == "golden"
                                or ".golden." in n or n.endswith("..golden"))
                 for p in modules}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_sees_an_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..golden import RunStats\n")
    assert "..golden" in _imports(probe)
