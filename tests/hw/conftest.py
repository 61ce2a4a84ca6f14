"""Fixtures shared by the hardware tests: the external tools, or a skip that names the
missing tool and how to install it."""

from __future__ import annotations

import pytest

from fixar_gen.tools import Tool, ToolMissing, verilator, yosys


def tool_or_skip(find) -> Tool:
    """The tool, or a skip whose reason is ToolMissing's message (name + how to install)."""
    try:
        return find()
    except ToolMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def verilator_tool() -> Tool:
    return tool_or_skip(verilator)


@pytest.fixture(scope="module")
def yosys_tool() -> Tool:
    return tool_or_skip(yosys)
