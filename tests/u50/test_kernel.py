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

import hashlib
import importlib.metadata
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest

from fixar_gen.targets.u50.kernel import (UNUSED_INPUTS, build_kernel, interface,
                                          kernel_verilog, rtl_module, rtl_ports)
from tests.conftest import tool_or_skip
from tests.u50.kernel_setup import DESIGNS, ENV, NAME

CFG = DESIGNS["main"].cfg

#: the cocotb tests, in the order they run (names in tests/u50/kernel_cocotb.py)
COCOTB_TESTS = ("train_step_and_inference_equal_golden",
                "random_backpressure_changes_only_cycles",
                "ap_ctrl_hs_registers_and_back_to_back_runs",
                "reset_in_the_middle_of_a_run_leaves_the_kernel_usable",
                "bursts_are_split_at_4k_and_256_beats")
WIDE_TESTS = ("wide_bus_roundtrip_and_inference",)


@pytest.fixture(scope="module")
def verilator_tool():
    from fixar_gen.tools import verilator
    return tool_or_skip(verilator)


# ----------------------------------------------------------------- without a simulator

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
    assert inner == rtl_ports()
    assert not set(UNUSED_INPUTS) & set(inner)


def test_every_output_is_a_function_of_registers_only():
    """No combinational path from any input to any output (so no ready -> valid loop on
    any AXI channel, whatever the other side does): walk each output's fan-in back to
    registers, constants or inputs."""
    import pyrtl
    block = build_kernel(CFG, NAME)
    driver = {net.dests[0]: net for net in block.logic if net.dests}
    for out in block.wirevector_subset(pyrtl.Output):
        stack, seen, reached = [out], set(), set()
        while stack:
            wire = stack.pop()
            if wire in seen:
                continue
            seen.add(wire)
            if isinstance(wire, pyrtl.Input):
                reached.add(wire.name)
            elif not isinstance(wire, (pyrtl.Register, pyrtl.Const)) and wire in driver:
                stack.extend(driver[wire].args)
        assert not reached, f"{out.name} depends combinationally on {sorted(reached)}"


@pytest.mark.tools
def test_kernel_verilog_is_lint_clean(verilator_tool, tmp_path):
    from fixar_gen.hw.lint import lint
    for design in DESIGNS.values():
        source = tmp_path / f"{NAME}.v"
        source.write_text(kernel_verilog(design.cfg, NAME, design.axi_data_bits))
        lint(source, NAME, timeout=300)


def test_refactored_core_elaboration_builds_the_same_core():
    """build_core (Input/Output ports) and elaborate_core (ports as wires) give the
    same logic apart from the port kinds."""
    import pyrtl
    from fixar_gen.hw.build import fresh_block
    from fixar_gen.hw.core import build_core, elaborate_core
    plain = build_core(CFG)
    with fresh_block() as wrapped:
        ports = {}
        for name, (bits, way) in CFG.hostmap.ports().items():
            ports[name] = pyrtl.WireVector(bits, name)
            if way == "in":
                ports[name] <<= pyrtl.Input(bits, f"x_{name}")
            else:
                out = pyrtl.Output(bits, f"x_{name}")
                out <<= ports[name]
        elaborate_core(CFG, ports)
    plain_ops = Counter(n.op for n in plain.logic)
    wrapped_ops = Counter(n.op for n in wrapped.logic)
    assert wrapped_ops - plain_ops == Counter({"w": len(ports)})     # the port wires
    assert not plain_ops - wrapped_ops
    with pyrtl.set_working_block(pyrtl.Block()):
        with pytest.raises(ValueError, match="host_start"):
            elaborate_core(CFG, {"host_done": pyrtl.WireVector(1, "d")})


# ----------------------------------------------------------------- the cocotb run

def _cocotb_or_skip():
    for module in ("cocotb", "cocotb_tools.runner", "cocotbext.axi"):
        try:
            __import__(module)
        except ImportError:
            pytest.skip(f"{module.split('.')[0]} is not installed: install the dev extra "
                        '(pip install -e ".[dev]"; PyPI packages cocotb, cocotbext-axi)')
    import find_libpython
    if find_libpython.find_libpython() is None:
        pytest.skip("cocotb needs the shared libpython of this Python (libpython3.x.so), "
                    "which was not found: use a Python built with --enable-shared")


@contextmanager
def _environment(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def build_kernel_sim(verilog: str, top: str, tool) -> Path:
    """The kernel compiled by cocotb's Verilator runner, cached by content hash under
    the Verilator cache root (a second call finds the binary and compiles nothing)."""
    from cocotb_tools.runner import get_runner
    from fixar_gen.hw.verilate import _Lock, cache_root
    build_args = ["--x-assign", "fast", "-Wno-fatal", "-Wno-lint", "-Wno-style"]
    # -O0: on this 2-core machine the compile (not the simulation, which is mostly
    # cocotb's Python) dominates; the wheel's make needs the PCH include flag spelled out
    makeflags = "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O1 CFG_CXXFLAGS_PCH_I=-include"
    key = hashlib.sha256("\n".join([
        verilog, top, importlib.metadata.version("cocotb"),
        importlib.metadata.version("verilator") if _has_dist("verilator") else tool.origin,
        " ".join(build_args), makeflags]).encode()).hexdigest()[:32]
    root = cache_root().parent / "cocotb"
    root.mkdir(parents=True, exist_ok=True)
    final = root / key
    if (final / top).is_file():
        return final
    with _Lock(root / f"{key}.lock"):
        if (final / top).is_file():
            return final
        work = root / f"{key}.building"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        source = work / f"{top}.v"
        source.write_text(verilog)
        env = {k: tool.env[k] for k in ("PATH", "VERILATOR_ROOT") if k in tool.env}
        env["MAKEFLAGS"] = makeflags
        with _environment(env):
            runner = get_runner("verilator")
            runner.build(sources=[source], hdl_toplevel=top, build_dir=work,
                         build_args=build_args, log_file=work / "build.log")
        for path in work.iterdir():          # keep the binary, the source, the log
            if path.name not in (top, source.name, "build.log"):
                path.unlink()
        shutil.rmtree(final, ignore_errors=True)
        work.rename(final)
    return final


def _has_dist(name: str) -> bool:
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def run_cocotb(build_dir: Path, top: str, tests, results: Path, tool,
               design: str = "main") -> dict[str, str]:
    """Run the cocotb ``tests`` in one simulator process; {test: "" or the failure}."""
    from cocotb_tools.runner import get_runner
    env = {k: tool.env[k] for k in ("PATH", "VERILATOR_ROOT") if k in tool.env}
    runner = get_runner("verilator")
    runner.build_dir = build_dir
    with _environment(env):
        try:
            runner.test(test_module="tests.u50.kernel_cocotb", hdl_toplevel=top,
                        hdl_toplevel_lang="verilog",
                        build_dir=build_dir, test_dir=results.parent, results_xml=str(results),
                        testcase=list(tests), extra_env={"COCOTB_LOG_LEVEL": "WARNING", ENV: design},
                        log_file=results.with_suffix(".log"))
        except SystemExit:
            pass              # the results file says which test failed
    outcome = {}
    if results.is_file():
        for case in ET.parse(results).getroot().iter("testcase"):
            failure = case.find("failure")
            error = case.find("error")
            bad = failure if failure is not None else error
            outcome[case.get("name")] = "" if bad is None else (
                bad.get("message") or "failed") + "\n" + (bad.text or "")
    return outcome


def _results(tmp_path_factory, verilator_tool, name: str, tests) -> dict:
    _cocotb_or_skip()
    design = DESIGNS[name]
    verilog = kernel_verilog(design.cfg, NAME, design.axi_data_bits)
    build = build_kernel_sim(verilog, NAME, verilator_tool)
    folder = tmp_path_factory.mktemp(f"kernel_{name}")
    results = folder / "results.xml"
    outcome = run_cocotb(build, NAME, tests, results, verilator_tool, name)
    log = results.with_suffix(".log")
    tail = log.read_text()[-4000:] if log.is_file() else ""
    return {"outcome": outcome, "log": tail}


@pytest.fixture(scope="module")
def kernel_results(tmp_path_factory, verilator_tool):
    return _results(tmp_path_factory, verilator_tool, "main", COCOTB_TESTS)


@pytest.fixture(scope="module")
def wide_results(tmp_path_factory, verilator_tool):
    return _results(tmp_path_factory, verilator_tool, "wide", WIDE_TESTS)


def _check(results, name):
    outcome = results["outcome"]
    assert name in outcome, f"cocotb test {name} did not run:\n{results['log']}"
    assert outcome[name] == "", outcome[name]


@pytest.mark.tools
@pytest.mark.parametrize("name", COCOTB_TESTS)
def test_kernel_cocotb(kernel_results, name):
    _check(kernel_results, name)


@pytest.mark.tools
@pytest.mark.parametrize("name", WIDE_TESTS)
def test_kernel_cocotb_wide_bus(wide_results, name):
    _check(wide_results, name)
