"""The U50 RTL kernel (targets/u50/kernel.py) at the AXI level: cocotb 2.x on Verilator,
cocotbext-axi's AxiLiteMaster on ``s_axi_control`` and an AxiRam as HBM on
``m_axi_gmem0``.  The cocotb tests themselves are in :mod:`tests.u50.kernel_cocotb`;
they run in one simulator process (the design is compiled once and cached by content
hash), and each pytest test below reports one of them.

Also here, without a simulator: the generated Verilog is deterministic, lint-clean
(Verilator -Wall with the documented waivers), has the ports of
:func:`~fixar_gen.targets.u50.kernel.interface`, and the core's refactored elaboration
(its host ports as wires) still builds the same core.
"""

from __future__ import annotations

import re

import pytest

from fixar_gen.hw.core import build_core
from fixar_gen.hw.verilate import emit_verilog
from fixar_gen.targets.u50.kernel import (UNUSED_INPUTS, build_kernel, core_ports, interface,
                                          kernel_verilog, rtl_module, rtl_ports)
from tests.conftest import tool_or_skip
from tests.u50.kernel_build import build_sim, cocotb_or_skip, run_cocotb
from tests.u50.kernel_setup import DESIGNS, ENV, NAME

CFG = DESIGNS["main"].cfg

#: the cocotb tests, in the order they run (names in tests/u50/kernel_cocotb.py)
COCOTB_TESTS = ("train_step_and_inference_equal_golden",
                "random_backpressure_changes_only_cycles",
                "ap_ctrl_hs_registers_and_back_to_back_runs",
                "reset_in_the_middle_of_a_run_leaves_the_kernel_usable",
                "bursts_are_split_at_4k_and_256_beats",
                "axi_read_errors_stop_the_run",
                "axi_write_errors_stop_the_run",
                "bad_commands_and_arguments_are_errors")
OTHER_WIDTH_TESTS = ("other_width_roundtrip_and_inference",)
#: on the kernel around a core with per-core memories (design "percore")
PER_CORE_TESTS = ("reads_name_the_copy_of_the_last_writer",
                  "random_programs_with_transfers_equal_golden",
                  "axi_read_errors_stop_the_run",
                  "axi_write_errors_stop_the_run")
PER_CORE_SLOW_TESTS = ("train_step_and_inference_equal_golden",
                       "intra_layer_train_step_equal_golden",
                       "transfers_in_forty_random_programs")


@pytest.fixture(scope="module")
def verilator_tool():
    from fixar_gen.tools import verilator
    return tool_or_skip(verilator)


# ----------------------------------------------------------------- without a simulator

@pytest.mark.slow       # elaborates the kernel twice (tens of seconds)
def test_verilog_is_deterministic_with_the_vitis_ports():
    import pyrtl
    first = kernel_verilog.__wrapped__(CFG, NAME)
    assert first == kernel_verilog.__wrapped__(CFG, NAME)
    top = first[:first.index(f"\nmodule {rtl_module(NAME)}(")]
    declared = re.findall(r"(input|output) +wire +(?:\[(\d+):0\] )?(\w+)", top)
    assert [name for _, _, name in declared] == list(interface())
    for way, msb, name in declared:
        assert (int(msb or 0) + 1, {"input": "in", "output": "out"}[way]) == interface()[name]
    assert f"module {NAME} (" in top and ".clk(ap_clk)" in top
    block = build_kernel(CFG, NAME)
    inner = {w.name: (w.bitwidth, "in" if isinstance(w, pyrtl.Input) else "out")
             for w in block.wirevector_subset((pyrtl.Input, pyrtl.Output))}
    # the AXI ports, and the core's host ports the other way round
    assert inner == rtl_ports() | {port: (bits, "out" if way == "in" else "in")
                                   for port, (bits, way) in core_ports(CFG).items()}
    assert not set(UNUSED_INPUTS) & set(inner)
    # the core's module follows, word for word as `fixar generate` writes it alone
    assert first.endswith(emit_verilog(build_core(CFG), CFG.name, initialize_registers=False))
    assert f"    {CFG.name} core (" in top and ".host_busy(unused_host_busy)" in top


def test_every_output_is_a_function_of_registers_only():
    """No combinational path from any input to any AXI output (so no ready -> valid loop
    on any AXI channel, whatever the other side does, and none through the core's host
    ports either): walk each AXI output's fan-in back to registers, constants or
    inputs.  (The core's inputs may follow the AXI inputs within the cycle; what the
    core returns is an input here, so it reaches the AXI outputs only through
    registers.)"""
    import pyrtl
    block = build_kernel(CFG, NAME)
    axi = rtl_ports()
    for out in block.wirevector_subset(pyrtl.Output):
        if out.name not in axi:
            continue
        reached = {w.name for w in _combinational_sources(block, out)
                   if isinstance(w, pyrtl.Input)}
        assert not reached, f"{out.name} depends combinationally on {sorted(reached)}"


def _combinational_sources(block, wire) -> set:
    """The registers, inputs and constants ``wire`` depends on through combinational
    logic alone (memory reads included: they are asynchronous in PyRTL)."""
    import pyrtl
    driver = {net.dests[0]: net for net in block.logic if net.dests}
    stack, seen, sources = [wire], set(), set()
    while stack:
        w = stack.pop()
        if w in seen:
            continue
        seen.add(w)
        if isinstance(w, (pyrtl.Register, pyrtl.Const)) or w not in driver:
            sources.add(w)
        else:
            stack.extend(driver[w].args)
    return sources


def test_the_kernel_builder_takes_per_core_memories():
    """``per_core_memories`` on the kernel builder (None: the configuration's): with
    per-core memories the core's read address has the copy's core above the memory id,
    and the kernel drives it from the command's ``core`` register (a kernel that left
    those bits constant reads core 0's copy: the cocotb test
    ``reads_name_the_copy_of_the_last_writer`` fails it)."""
    import pyrtl
    from fixar_gen.targets.u50.kernel import kernel_config
    per_core = DESIGNS["percore"].cfg
    assert kernel_config(CFG) is CFG and kernel_config(per_core) is per_core
    assert kernel_config(CFG, False) is CFG
    assert kernel_config(CFG, True).per_core_memories
    assert not kernel_config(per_core, False).hostmap.per_core
    for cfg, flag in ((CFG, True), (per_core, None)):
        block = build_kernel(cfg, NAME, per_core_memories=flag)
        hm = kernel_config(cfg, flag).hostmap
        raddr = block.get_wirevector_by_name("host_mem_raddr")
        assert raddr.bitwidth == hm.data_addr_bits + hm.core_bits
        # the top bits come from the command's core register
        regs = {w.name for w in _combinational_sources(block, raddr)
                if isinstance(w, pyrtl.Register)}
        assert "kernel_core" in regs, sorted(regs)
    shared = build_kernel(CFG, NAME).get_wirevector_by_name("host_mem_raddr")
    assert shared.bitwidth == CFG.hostmap.data_addr_bits


@pytest.mark.tools
def test_kernel_verilog_is_lint_clean(verilator_tool, tmp_path):
    from fixar_gen.hw.lint import lint
    for design in DESIGNS.values():
        source = tmp_path / f"{NAME}.v"
        source.write_text(kernel_verilog(design.cfg, NAME, design.axi_data_bits))
        lint(source, NAME, timeout=300)


# ----------------------------------------------------------------- the cocotb run

def _results(tmp_path_factory, verilator_tool, name: str, tests) -> dict:
    cocotb_or_skip()
    design = DESIGNS[name]
    verilog = kernel_verilog(design.cfg, NAME, design.axi_data_bits)
    build, _ = build_sim(verilog, NAME, verilator_tool)
    folder = tmp_path_factory.mktemp(f"kernel_{name}")
    results = folder / "results.xml"
    outcome = run_cocotb(build, NAME, tests, results, verilator_tool,
                         "tests.u50.kernel_cocotb", {ENV: name})
    log = results.with_suffix(".log")
    tail = log.read_text()[-4000:] if log.is_file() else ""
    return {"outcome": outcome, "log": tail}


@pytest.fixture(scope="module")
def kernel_results(tmp_path_factory, verilator_tool):
    return _results(tmp_path_factory, verilator_tool, "main", COCOTB_TESTS)


@pytest.fixture(scope="module")
def narrow_results(tmp_path_factory, verilator_tool):
    return _results(tmp_path_factory, verilator_tool, "narrow", OTHER_WIDTH_TESTS)


@pytest.fixture(scope="module")
def wide_results(tmp_path_factory, verilator_tool):
    return _results(tmp_path_factory, verilator_tool, "wide", OTHER_WIDTH_TESTS)


@pytest.fixture(scope="module")
def per_core_results(tmp_path_factory, verilator_tool):
    return _results(tmp_path_factory, verilator_tool, "percore", PER_CORE_TESTS)


@pytest.fixture(scope="module")
def per_core_slow_results(tmp_path_factory, verilator_tool):
    return _results(tmp_path_factory, verilator_tool, "percore", PER_CORE_SLOW_TESTS)


def _check(results, name):
    outcome = results["outcome"]
    assert name in outcome, f"cocotb test {name} did not run:\n{results['log']}"
    assert outcome[name] == "", outcome[name]


@pytest.mark.tools
@pytest.mark.parametrize("name", COCOTB_TESTS)
def test_kernel_cocotb(kernel_results, name):
    _check(kernel_results, name)


@pytest.mark.slow       # a whole kernel build each; the default run builds the 256-bit one
@pytest.mark.tools
@pytest.mark.parametrize("name", OTHER_WIDTH_TESTS)
def test_kernel_cocotb_64_bit_bus(narrow_results, name):
    _check(narrow_results, name)


@pytest.mark.slow       # a whole kernel build each; the default run builds the 256-bit one
@pytest.mark.tools
@pytest.mark.parametrize("name", OTHER_WIDTH_TESTS)
def test_kernel_cocotb_512_bit_bus(wide_results, name):
    _check(wide_results, name)


@pytest.mark.slow       # a second kernel build (40 s); the default run builds the shared one,
@pytest.mark.tools      # tests/hw/test_percore_rtl.py checks the per-core core on PyRTL
@pytest.mark.parametrize("name", PER_CORE_TESTS)
def test_kernel_cocotb_per_core_memories(per_core_results, name):
    _check(per_core_results, name)


@pytest.mark.slow       # DDPG steps through the kernel on per-core memories
@pytest.mark.tools
@pytest.mark.parametrize("name", PER_CORE_SLOW_TESTS)
def test_kernel_cocotb_per_core_memories_ddpg(per_core_slow_results, name):
    _check(per_core_slow_results, name)
