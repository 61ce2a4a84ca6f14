"""The Vitis packaging of the U50 kernel: kernel.xml, the package_xo TCL, the v++
config, the Makefile and the host's register map agree with each other, with the
command protocol (:mod:`fixar_gen.targets.u50.commands`) and with the kernel's Verilog;
``fixar generate`` writes all of them for a u50 spec; docs/u50.md holds the generated
tables.  (No Vivado or Vitis here: the vendor tools themselves are not run.)"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fixar_gen.dsl import load_spec
from fixar_gen.hw.hostmap import STAT_KINDS
from fixar_gen.memory_fit import generated_inventory, memory_fit
from fixar_gen.targets.u50.commands import (ARGUMENTS, COMMAND_WORDS, MEMORIES, OPCODES,
                                            REGISTER, REGISTERS, Command)
from fixar_gen.targets.u50.package import (CONTROL_PORT, MASTER_PORT, KernelPackage,
                                           doc_tables, main as package_main, package_for,
                                           verilog_ports)

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "fixar_u50.yaml"
PLATFORM = "xilinx_u50_gen3x16_xdma_5_202210_1"
PACKAGE = KernelPackage()
FILES = ("fixar_kernel.v", "kernel.xml", "package_xo.tcl", "u50.cfg", "Makefile",
         "kernel_registers.json", "fixar_kernel_registers.h", "spec.yaml", "hostmap.json",
         "fixar_core.v", "report.json")


@pytest.fixture(scope="module")
def generated(generated_example) -> Path:
    """``fixar generate examples/fixar_u50.yaml`` (once per session, shared with
    tests/hw/test_generate.py: it takes tens of seconds)."""
    return generated_example("examples/fixar_u50.yaml")[0]


def kernel_element(text: str) -> ET.Element:
    root = ET.fromstring(text)
    assert root.tag == "root"
    assert (root.get("versionMajor"), root.get("versionMinor")) == ("1", "6")
    kernel = root.find("kernel")
    assert kernel is not None
    return kernel


# ------------------------------------------------------------------------ kernel.xml

def test_kernel_xml_describes_an_ap_ctrl_hs_rtl_kernel():
    k = kernel_element(PACKAGE.kernel_xml())
    assert k.get("name") == "fixar_kernel"
    assert k.get("language") == "ip_c"
    assert k.get("vlnv") == "fixar_gen:kernel:fixar_kernel:1.0"
    assert k.get("hwControlProtocol") == "ap_ctrl_hs"
    assert k.get("interrupt") == "true"
    assert (k.get("workGroupSize"), k.get("preferredWorkGroupSizeMultiple")) == ("1", "0")
    assert k.get("attributes") == ""


def test_kernel_xml_ports_match_the_rtl_interface():
    ports = {p.get("name"): p for p in kernel_element(PACKAGE.kernel_xml()).find("ports")}
    assert list(ports) == [CONTROL_PORT, MASTER_PORT] == ["s_axi_control", "m_axi_gmem0"]
    rtl = PACKAGE.interface()
    control, master = ports[CONTROL_PORT], ports[MASTER_PORT]
    assert control.get("mode") == "slave" and master.get("mode") == "master"
    assert all(p.get("portType") == "addressable" and p.get("base") == "0x0"
               for p in ports.values())
    assert int(control.get("dataWidth")) == rtl["s_axi_control_WDATA"][0] == 32
    # the register window covers what the RTL decodes (and every register)
    decoded = 1 << rtl["s_axi_control_AWADDR"][0]
    assert int(control.get("range"), 16) >= decoded > max(o for _, o, _ in REGISTERS) + 3
    # 64-bit addresses, the RTL's data width
    assert int(master.get("range"), 16) == (1 << 64) - 1
    assert rtl["m_axi_gmem0_ARADDR"][0] == rtl["m_axi_gmem0_AWADDR"][0] == 64
    assert int(master.get("dataWidth")) == rtl["m_axi_gmem0_RDATA"][0] \
        == rtl["m_axi_gmem0_WDATA"][0] == PACKAGE.axi_data_bits


def test_kernel_xml_arguments_are_the_command_protocol_arguments():
    args = sorted(kernel_element(PACKAGE.kernel_xml()).find("args"),
                  key=lambda a: int(a.get("id")))
    assert [int(a.get("id")) for a in args] == list(range(len(ARGUMENTS)))
    assert [(a.get("name"), int(a.get("offset"), 16)) for a in args] == list(ARGUMENTS)
    for a in args:
        assert a.get("addressQualifier") == "1"              # a global memory pointer
        assert a.get("port") == MASTER_PORT
        assert int(a.get("size"), 16) == int(a.get("hostSize"), 16) == 8
        assert int(a.get("hostOffset"), 16) == 0
        assert a.get("type") == "void*"
        # the pointer's two words are the *_LO and *_HI registers of the register map
        name = a.get("name").upper()
        assert REGISTER[f"{name}_LO"] == int(a.get("offset"), 16)
        assert REGISTER[f"{name}_HI"] == int(a.get("offset"), 16) + 4
        assert int(a.get("offset"), 16) >= 0x10               # after CTRL/GIE/IER/ISR


# ------------------------------------------------------------------------ TCL, cfg, Makefile

def test_package_tcl_packages_the_kernel_with_its_interfaces():
    tcl = PACKAGE.package_tcl()
    assert "set kernel      fixar_kernel" in tcl
    assert "-part $part" in tcl and "set part        xcu50-fsvh2104-2-e" in tcl
    assert "add_files -norecurse [list $here/fixar_kernel.v]" in tcl
    assert "ipx::package_project" in tcl
    for bif in ("s_axi_control", "m_axi_gmem0"):
        assert f"ipx::associate_bus_interfaces -busif {bif} -clock ap_clk $core" in tcl
    assert "ipx::associate_bus_interfaces -clock ap_clk -reset ap_rst_n $core" in tcl
    assert "ACTIVE_LOW" in tcl
    assert "set_property value 164000000 $freq" in tcl
    assert "set_property sdx_kernel true $core" in tcl
    assert "set_property sdx_kernel_type rtl $core" in tcl
    assert "ctrl_protocol ap_ctrl_hs" in tcl
    package_xo = re.search(r"package_xo (.*)", tcl.replace("\\\n", " ")).group(1)
    for option in ("-xo_path $here/fixar_kernel.xo", "-kernel_name $kernel",
                   "-ip_directory $ip_dir", "-kernel_xml $here/kernel.xml"):
        assert option in package_xo
    # the register map: ap_ctrl_hs and status registers, then each pointer as one 64-bit
    # register on the master it addresses
    regs = re.findall(r"\{(\w+) (0x[0-9A-F]+) (\d+) \{[^}]*\} \{?(\w*)\}?\}", tcl)
    plain = [(n, o, 32) for n, o, _ in REGISTERS if not 0x10 <= o < 0x20]
    assert [(n, int(o, 16), int(b)) for n, o, b, _ in regs[:len(plain)]] == plain
    assert [(n, int(o, 16), int(b), bus) for n, o, b, bus in regs[len(plain):]] == \
        [(name, offset, 64, MASTER_PORT) for name, offset in ARGUMENTS]
    decoded = 1 << PACKAGE.interface()["s_axi_control_AWADDR"][0]
    assert f"set_property range {decoded} $addr_block" in tcl
    # balanced braces and brackets (a cheap syntax check without Vivado)
    assert tcl.count("{") == tcl.count("}") and tcl.count("[") == tcl.count("]")


def read_cfg(text: str) -> tuple[dict, dict]:
    """(top-level options, {section: [key=value lines]}) of a v++ config."""
    top, sections, current = {}, {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
        elif current is None:
            key, value = line.split("=", 1)
            top[key] = value
        else:
            sections[current].append(line)
    return top, sections


def test_vpp_config_connects_one_compute_unit_to_the_hbm_bank_at_the_spec_clock():
    top, sections = read_cfg(PACKAGE.vpp_cfg())
    assert top == {"kernel_frequency": "0:164"}          # general option: before sections
    assert sections == {"connectivity": ["nk=fixar_kernel:1:fixar_kernel_1",
                                         "sp=fixar_kernel_1.m_axi_gmem0:HBM[0]"]}


def test_clock_and_bank_come_from_the_description():
    spec = load_spec(EXAMPLE)
    fast = dataclasses.replace(spec, hardware=dataclasses.replace(spec.hardware,
                                                                  clock_mhz=250.0))
    pkg = package_for(fast, hbm_bank=7)
    top, sections = read_cfg(pkg.vpp_cfg())
    assert top["kernel_frequency"] == "0:250"
    assert "sp=fixar_kernel_1.m_axi_gmem0:HBM[7]" in sections["connectivity"]
    assert "set_property value 250000000 $freq" in pkg.package_tcl()
    odd = KernelPackage(clock_mhz=162.5)
    assert read_cfg(odd.vpp_cfg())[0]["kernel_frequency"] == "0:162"   # never faster
    assert "162.5 MHz" in odd.vpp_cfg()
    with pytest.raises(ValueError, match="HBM bank"):
        KernelPackage(hbm_bank=32)
    with pytest.raises(ValueError, match="identifier"):
        KernelPackage(name="fixar-kernel")


def test_makefile_runs_the_vendor_flow():
    mk = PACKAGE.makefile("fixar_u50")
    assert f"PLATFORM ?= {PLATFORM}" in mk
    assert "KERNEL   := fixar_kernel" in mk
    assert "$(VIVADO) -mode batch -nojournal -log package_xo.log -source package_xo.tcl" in mk
    assert "$(VPP) -l -t hw --platform $(PLATFORM) --config u50.cfg" in mk
    for target in ("xo:", "xclbin:", "run:", "clean:"):
        assert re.search(rf"^{re.escape(target)}", mk, re.M), target
    assert "-m fixar_gen.targets.u50.driver spec.yaml --xclbin $(KERNEL).xclbin" in mk
    assert all(line.startswith("\t") for line in mk.splitlines()
               if line.startswith((" ", "\t")))                  # recipes use tabs


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_dry_run_prints_the_vendor_commands(generated):
    def dry(target: str) -> str:
        return subprocess.run(["make", "-n", "-C", str(generated), target], check=True,
                              capture_output=True, text=True).stdout

    xclbin = dry("xclbin")
    assert "vivado -mode batch -nojournal -log package_xo.log -source package_xo.tcl" in xclbin
    assert (f"v++ -l -t hw --platform {PLATFORM} --config u50.cfg --temp_dir _x "
            "-o fixar_kernel.xclbin fixar_kernel.xo") in xclbin
    assert "-m fixar_gen.targets.u50.driver spec.yaml --xclbin fixar_kernel.xclbin" \
        in dry("run")


# ------------------------------------------------------------------------ host register map

def test_registers_json_is_the_command_protocol():
    data = PACKAGE.registers()
    assert [(r["name"], r["offset"]) for r in data["registers"]] == \
        [(n, o) for n, o, _ in REGISTERS]
    assert [(a["name"], a["offset"], a["id"]) for a in data["arguments"]] == \
        [(n, o, i) for i, (n, o) in enumerate(ARGUMENTS)]
    assert all(a["memory"] == "HBM[0]" and a["port"] == MASTER_PORT for a in data["arguments"])
    cmd = data["command"]
    assert cmd["words"] == COMMAND_WORDS and cmd["bytes"] == 8 * COMMAND_WORDS
    assert cmd["opcodes"] == {op: i for i, op in enumerate(OPCODES)}
    assert cmd["memories"] == {m: i for i, m in enumerate(MEMORIES)}
    assert cmd["stat_kinds"] == {k: i for i, k in enumerate(STAT_KINDS)}
    # the field layout reproduces Command.words()
    c = Command("LOAD", "imem", 2, 0x1234, 17, 0x40)
    words = [0] * COMMAND_WORDS
    values = {"opcode": 1, "memory": 3, "core": 2, "address": 0x1234, "count": 17,
              "offset": 0x40}
    for f in cmd["fields"]:
        words[f["word"]] |= values[f["name"]] << f["lsb"]
    assert words == c.words()


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_c_header_compiles_and_agrees(generated, tmp_path):
    checks = [f"_Static_assert(FIXAR_KERNEL_REG_{n} == {o}u, \"{n}\");" for n, o, _ in REGISTERS]
    checks += [f"_Static_assert(FIXAR_KERNEL_OP_{op} == {i}u, \"{op}\");"
               for i, op in enumerate(OPCODES)]
    checks += [f"_Static_assert(FIXAR_KERNEL_ARG_{n.upper()} == {i}u, \"{n}\");"
               for i, (n, _) in enumerate(ARGUMENTS)]
    checks.append(f"_Static_assert(FIXAR_KERNEL_COMMAND_WORDS == {COMMAND_WORDS}u, \"w\");")
    src = tmp_path / "check.c"
    src.write_text('#include "fixar_kernel_registers.h"\n#include "fixar_core_hostmap.h"\n'
                   + "\n".join(checks) + "\nint main(void) { return 0; }\n")
    subprocess.run(["gcc", "-std=c11", "-Wall", "-Werror", "-fsyntax-only",
                    f"-I{generated}", str(src)], check=True, capture_output=True, text=True)


# ------------------------------------------------------------------------ fixar generate

def test_generate_writes_the_whole_package_for_a_u50_spec(generated):
    for name in FILES:
        assert (generated / name).is_file(), name
    report = json.loads((generated / "report.json").read_text())
    assert report["target"] == "u50"
    assert report["u50"]["kernel"] == "fixar_kernel"
    assert report["u50"]["platform"] == PLATFORM
    assert report["u50"]["memory"] == "HBM[0]"
    assert report["u50"]["kernel_frequency_mhz"] == 164
    assert report["u50"]["axi_data_bits"] == 256
    # the generated memories against the card's block RAM + UltraRAM (docs: Resource fit)
    memory = report["u50"]["on_chip_memory"]
    spec = load_spec(EXAMPLE)
    inventory = generated_inventory(spec)      # the one inventory estimate/validation read
    assert memory["design_bits"] == inventory.bits
    assert memory["u50_bits"] == 1344 * 36 * 1024 + 640 * 288 * 1024
    assert memory["bram36"] <= memory["usable_bram36"] and memory["uram"] <= memory["usable_uram"]
    assert memory["fits"] and memory["fits"] == memory_fit(spec, inventory)["fits"]
    assert (generated / "kernel.xml").read_text() == package_for(spec).kernel_xml()
    assert (generated / "u50.cfg").read_text() == package_for(spec).vpp_cfg()
    # spec.yaml is the resolved spec (make run loads it)
    assert load_spec(generated / "spec.yaml") == spec
    registers = json.loads((generated / "kernel_registers.json").read_text())
    hostmap = json.loads((generated / "hostmap.json").read_text())
    assert registers["entries"]["data"]["bits"] == hostmap["word_bits"]
    assert registers["entries"]["imem"]["bits"] == hostmap["instruction_bits"]


def test_generated_verilog_top_matches_kernel_xml(generated):
    verilog = (generated / "fixar_kernel.v").read_text()
    ports = verilog_ports(verilog, "fixar_kernel")
    expected = {name: (bits, {"in": "input", "out": "output"}[way])
                for name, (bits, way) in PACKAGE.interface().items()}
    assert ports == expected
    for name in ("ap_clk", "ap_rst_n", "interrupt"):
        assert name in ports
    k = kernel_element((generated / "kernel.xml").read_text())
    widths = {p.get("name"): int(p.get("dataWidth")) for p in k.find("ports")}
    assert widths["s_axi_control"] == ports["s_axi_control_WDATA"][0]
    assert widths["m_axi_gmem0"] == ports["m_axi_gmem0_WDATA"][0] \
        == ports["m_axi_gmem0_RDATA"][0]
    assert ports["m_axi_gmem0_AWADDR"][0] == ports["m_axi_gmem0_ARADDR"][0] == 64
    # every kernel.xml port is an AXI interface of the top (names as Vitis expects)
    for name in widths:
        assert any(p.startswith(f"{name}_") for p in ports), name


def test_a_sim_target_gets_no_packaging(tmp_path):
    from fixar_gen.generate import generate
    from tests.hw.test_core import tiny_ddpg
    spec = tiny_ddpg(1, 1, 1, 2)
    assert spec.target == "sim"
    report = generate(spec, tmp_path)
    assert "u50" not in report and not (tmp_path / "kernel.xml").exists()


def test_verilog_port_reader():
    text = """module other(input a); endmodule
    module top (
        input  wire ap_clk,
        input  wire [5:0] s_axi_control_AWADDR, // comment
        output wire [63:0] m_axi_gmem0_ARADDR
    );
    endmodule
    module old(a, b); input [3:0] a; output b, c; endmodule"""
    assert verilog_ports(text, "top") == {"ap_clk": (1, "input"),
                                          "s_axi_control_AWADDR": (6, "input"),
                                          "m_axi_gmem0_ARADDR": (64, "output")}
    assert verilog_ports(text, "old") == {"a": (4, "input"), "b": (1, "output"),
                                          "c": (1, "output")}


# ------------------------------------------------------------------------ docs

def test_docs_hold_the_generated_tables(capsys):
    doc = (ROOT / "docs" / "u50.md").read_text(encoding="utf-8")
    assert doc_tables() in doc, ("docs/u50.md is out of date: paste the output of "
                                 "python -m fixar_gen.targets.u50.package --doc")
    assert package_main(["--doc"]) == 0
    assert capsys.readouterr().out == doc_tables()


def test_docs_name_the_vendor_steps():
    doc = (ROOT / "docs" / "u50.md").read_text(encoding="utf-8")
    for needed in (PLATFORM, "make xo", "make xclbin", "make run", "v++ -l -t hw",
                   "vivado -mode batch -source package_xo.tcl", "setup.sh", "FIXAR_XCLBIN",
                   "fixar estimate", "## Simulation tests (cocotb)", "untested"):
        assert needed in doc, needed


def test_docs_hold_the_packing_of_the_example_and_the_parameter_reaches_the_files(tmp_path):
    from fixar_gen.dsl import load_spec
    from fixar_gen.hw.design import config_for
    from fixar_gen.targets.u50.package import packing_table
    spec = load_spec(EXAMPLE)
    table = packing_table(config_for(spec).hostmap)
    doc = (ROOT / "docs" / "u50.md").read_text(encoding="utf-8")
    assert table in doc, ("docs/u50.md's packing table is out of date: paste the output "
                          "of python -m fixar_gen.targets.u50.package "
                          "examples/fixar_u50.yaml --packing")
    assert "| `data` (datapath word) | 82 |" in table and "3 per beat (96%)" in table
    # the width is a parameter of the package: kernel.xml, the JSON and the header follow
    for bits in (64, 256, 512):
        pkg = KernelPackage(axi_data_bits=bits)
        master = ET.fromstring(pkg.kernel_xml()).find("kernel").find("ports")[1]
        assert int(master.get("dataWidth")) == bits
        hostmap = config_for(spec).hostmap
        data = pkg.registers(hostmap)
        assert data["masters"][0]["data_bits"] == bits
        assert data["command"]["offset_align_bytes"] == bits // 8
        assert data["entries"]["data"]["per_unit"] == max(1, bits // hostmap.word)
        assert f"FIXAR_KERNEL_AXI_DATA_BITS {bits}u" in pkg.registers_header()
        assert f"# m_axi_gmem0: {bits}-bit data" in pkg.vpp_cfg()
    assert KernelPackage().axi_data_bits == 256
    with pytest.raises(ValueError, match="AXI data width 32"):
        KernelPackage(axi_data_bits=32)


def test_package_command_prints_the_packing_and_rejects_a_bad_width(capsys):
    assert package_main([str(EXAMPLE), "--packing"]) == 0
    assert "| `data` (datapath word) | 82 |" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        package_main([str(EXAMPLE), "--axi-data-bits", "96"])
    assert exit_.value.code == 2
    assert "--axi-data-bits: invalid choice: 96" in capsys.readouterr().err
