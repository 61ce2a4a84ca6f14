"""Verilator ``--lint-only -Wall`` of generated Verilog, with the project's documented
waivers (each with its reason; ``fixar generate`` writes them next to the Verilog as
``lint_waivers.vlt``, so a user can repeat the lint)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..tools import run_tool, verilator


@dataclass(frozen=True)
class LintWaiver:
    """One Verilator warning allowed in the generated Verilog: its ``rule``, a wildcard
    on the message (``-match``) and why it is harmless."""

    rule: str
    match: str
    reason: str


LINT_WAIVERS = (
    LintWaiver(
        "UNUSEDSIGNAL", "Bits of signal are not used: 'tmp*",
        "PyRTL's `+` makes an N+1-bit sum and its `*` a 2N-bit product in an unnamed "
        "`tmpN` wire; the generator keeps the low bits it needs (the adders wrap modulo "
        "2**A, the sign-extended multiplies are truncated to their exact W+H+1 / W+H "
        "bits), so the carry bit and the upper product bits of those temporaries are "
        "unused by design. The match covers PyRTL's temporaries only: an unused bit of "
        "a wire the generator names still fails."),
    LintWaiver(
        "DECLFILENAME", "Filename '*' does not match MODULE name: '*_rtl'",
        "The U50 kernel's Verilog (targets/u50/kernel.py) is one file named after the "
        "kernel: the Vitis top `<kernel>` and the PyRTL module `<kernel>_rtl` it "
        "instantiates (PyRTL names its clock `clk` and reset `rst`, Vitis wants "
        "`ap_clk` / `ap_rst_n`); only the inner `*_rtl` module is waived."),
    LintWaiver(
        "SYMRSVDWORD", "Symbol matches C++ common word: 'interrupt'",
        "Vitis requires an RTL kernel's interrupt port to be called `interrupt`; "
        "Verilator only renames its C++ member, the Verilog and VPI name are unchanged."),
)


def waiver_text() -> str:
    lines = ["`verilator_config"]
    for waiver in LINT_WAIVERS:
        lines.append(f"// {waiver.reason}")
        lines.append(f'lint_off -rule {waiver.rule} -file "*" -match "{waiver.match}"')
    return "\n".join(lines) + "\n"


def waiver_file(folder: Path) -> Path:
    path = Path(folder) / "lint_waivers.vlt"
    path.write_text(waiver_text())
    return path


def lint(source: Path, top: str, timeout: float = 600) -> None:
    """Lint ``source`` (a .v file named after ``top``); raise ToolFailed with
    Verilator's warnings if any is left after the waivers."""
    source = Path(source)
    tool = verilator()
    waivers = waiver_file(source.parent)
    run_tool([*tool.command, "--lint-only", "-Wall", "--top-module", top, waivers.name,
              source.name], cwd=source.parent, timeout=timeout, env=tool.env)
