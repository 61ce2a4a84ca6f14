"""The Vitis packaging of the U50 kernel, generated from one description.

:class:`KernelPackage` says once what the vendor tools need to know about the kernel:
its name (the Verilog top module, the kernel and the compute unit ``<name>_1``), its
AXI ports and their widths (read from :func:`.kernel.interface`, the list the RTL is
built from), its arguments (:data:`.commands.ARGUMENTS`, both pointers on
``m_axi_gmem0``), the HBM bank they live in, the clock (``spec.hardware.clock_mhz``) and
the platform.  Every file below is rendered from it, so they agree by construction (and
tests/u50/test_package.py checks that they do):

    <name>.v                the kernel's Verilog (:func:`.kernel.kernel_verilog`)
    kernel.xml              the Vitis RTL kernel description (ports, arguments, offsets)
    package_xo.tcl          Vivado: package the Verilog as an IP, then ``package_xo``
    u50.cfg                 v++ link config: one compute unit, HBM bank, kernel clock
    Makefile                ``make xo``, ``make xclbin``, ``make run``
    kernel_registers.json   the host's view: registers, arguments, command format
    <name>_registers.h      the same as C constants
    spec.yaml               the resolved spec (``make run`` co-simulates the card with it)

``write_package(spec, cfg, out)`` writes them (``fixar generate`` calls it for a spec
whose target is ``u50``).  ``python -m fixar_gen.targets.u50.package --doc``
prints the register map and the command protocol as Markdown (docs/u50.md holds it).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from ...boards import U50
from ...hw.hostmap import STAT_BITS, STAT_KINDS, HostMap
from .commands import (ARGUMENTS, AXI_DATA_BITS, COMMAND_BYTES, COMMAND_WORDS,
                       DEFAULT_AXI_DATA_BITS, ERROR_KINDS, MEMORIES, OPCODES, REGISTERS,
                       RESPONSES, STATUS_FIELDS, WORD_BYTES, layout)

KERNEL_NAME = "fixar_kernel"
CONTROL_PORT = "s_axi_control"
#: the AXI4 master every argument is reached through
MASTER_PORT = "m_axi_gmem0"

#: what each opcode does (docs and the C header's comments)
OPCODE_MEANINGS = {
    "END": "the list ends; the kernel reports ap_done",
    "LOAD": "HBM -> on-chip memory `memory` (imem: core `core`'s): `count` entries from "
            "`address` (with per-core memories, the copy the core field above the data "
            "address or table index names)",
    "STORE": "on-chip data memory -> HBM: `count` entries from `address` (with per-core "
             "memories, of core `core`'s copy)",
    "RUN": "start every core with `address` as the pre-activation format; wait until done",
    "STATS": "statistics -> HBM: `memory` is the stat kind, `core` the core, `address` "
             "the first id, `count` ids",
}
#: the fields of a command (word, lsb, bits, meaning)
COMMAND_FIELDS = (
    ("opcode", 0, 0, 8, "index into the opcode table"),
    ("memory", 0, 8, 8, "index into the memory table (STATS: the stat kind)"),
    ("core", 0, 16, 8, "core of LOAD imem, of STATS and (per-core memories) of STORE"),
    ("address", 1, 0, 64, "first on-chip entry (RUN: the pre-activation format)"),
    ("count", 2, 0, 64, "entries"),
    ("offset", 3, 0, 64, "byte offset in HBM relative to `image` (a multiple of the AXI "
                         "beat, `axi_data_bits / 8` bytes)"),
)


@dataclass(frozen=True)
class Argument:
    """A kernel argument: a 64-bit pointer written into two control registers."""

    id: int
    name: str
    offset: int
    port: str
    size: int = 8


@dataclass(frozen=True)
class KernelPackage:
    """Everything the vendor flow needs to know about the kernel, once."""

    name: str = KERNEL_NAME
    clock_mhz: float = 164.0
    hbm_bank: int = 0
    platform: str = U50.platform
    part: str = U50.part
    vendor: str = "fixar_gen"
    library: str = "kernel"
    version: str = "1.0"
    axi_data_bits: int = DEFAULT_AXI_DATA_BITS    # m_axi_gmem0's data width

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", self.name):
            raise ValueError(f"kernel name {self.name!r} is not a plain identifier")
        if not 0 <= self.hbm_bank < U50.hbm_channels:
            raise ValueError(f"HBM bank {self.hbm_bank} is not one of the U50's "
                             f"0..{U50.hbm_channels - 1}")
        if self.axi_data_bits not in AXI_DATA_BITS:
            raise ValueError(f"AXI data width {self.axi_data_bits} is not one of "
                             f"{', '.join(map(str, AXI_DATA_BITS))}")

    # -- the RTL's ports (fixar_gen.targets.u50.kernel.interface: the one list) ----------

    def interface(self) -> dict[str, tuple[int, str]]:
        """The kernel top's ports: name -> (bits, "in" | "out")."""
        return _interface(self.axi_data_bits)

    def _bits(self, port: str) -> int:
        return self.interface()[port][0]

    @property
    def masters(self) -> tuple[str, ...]:
        """The AXI4 masters, ``m_axi_gmem0``, ``m_axi_gmem1``, ... (as Vitis names them)."""
        found = {m.group(1) for p in self.interface()
                 if (m := re.match(r"(m_axi_gmem\d+)_ARADDR$", p))}
        return tuple(sorted(found, key=lambda m: int(m[len("m_axi_gmem"):])))

    @property
    def control_addr_bits(self) -> int:
        return self._bits(f"{CONTROL_PORT}_AWADDR")

    @property
    def control_data_bits(self) -> int:
        return self._bits(f"{CONTROL_PORT}_WDATA")

    @property
    def master_addr_bits(self) -> int:
        return self._bits(f"{MASTER_PORT}_ARADDR")

    @property
    def master_data_bits(self) -> int:
        return self._bits(f"{MASTER_PORT}_RDATA")

    # -- derived names -------------------------------------------------------------------

    @property
    def vlnv(self) -> str:
        return f"{self.vendor}:{self.library}:{self.name}:{self.version}"

    @property
    def compute_unit(self) -> str:
        return f"{self.name}_1"

    @property
    def verilog(self) -> str:
        return f"{self.name}.v"

    @property
    def xo(self) -> str:
        return f"{self.name}.xo"

    @property
    def xclbin(self) -> str:
        return f"{self.name}.xclbin"

    @property
    def header(self) -> str:
        return f"{self.name}_registers.h"

    @property
    def bank(self) -> str:
        return f"HBM[{self.hbm_bank}]"

    @property
    def kernel_frequency_mhz(self) -> int:
        """The clock v++ is asked for: whole MHz, never above the spec's clock."""
        return max(1, math.floor(self.clock_mhz + 1e-9))

    @property
    def arguments(self) -> tuple[Argument, ...]:
        return tuple(Argument(i, name, offset, MASTER_PORT)
                     for i, (name, offset) in enumerate(ARGUMENTS))

    @property
    def control_decoded(self) -> int:
        """Bytes of register space the RTL decodes (its s_axi_control address width)."""
        return 1 << self.control_addr_bits

    @property
    def control_range(self) -> int:
        """The compute unit's register window in kernel.xml: at least 4 KB, as XRT maps
        it (the RTL ignores address bits above its own width)."""
        return max(0x1000, self.control_decoded)

    def ports(self) -> list[dict]:
        """kernel.xml's ports: the control slave, then every master."""
        ports = [{"name": CONTROL_PORT, "mode": "slave", "range": hex(self.control_range),
                  "dataWidth": str(self.control_data_bits), "portType": "addressable",
                  "base": "0x0"}]
        for m in self.masters:
            ports.append({"name": m, "mode": "master",
                          "range": f"0x{(1 << self._bits(f'{m}_ARADDR')) - 1:X}",
                          "dataWidth": str(self._bits(f"{m}_RDATA")),
                          "portType": "addressable", "base": "0x0"})
        return ports

    # -- kernel.xml ----------------------------------------------------------------------

    def kernel_xml(self) -> str:
        """The RTL kernel description (Vitis ``kernel.xml``, schema 1.6)."""
        def attrs(d: dict) -> str:
            return " ".join(f"{k}={quoteattr(str(v))}" for k, v in d.items())

        kernel = {"name": self.name, "language": "ip_c", "vlnv": self.vlnv,
                  "attributes": "", "preferredWorkGroupSizeMultiple": "0",
                  "workGroupSize": "1", "interrupt": "true",
                  "hwControlProtocol": "ap_ctrl_hs"}
        lines = ['<?xml version="1.0" encoding="UTF-8"?>',
                 "<!-- generated by fixar_gen (fixar_gen.targets.u50.package); do not edit -->",
                 '<root versionMajor="1" versionMinor="6">',
                 f"  <kernel {attrs(kernel)}>", "    <ports>"]
        lines += [f"      <port {attrs(p)}/>" for p in self.ports()]
        lines += ["    </ports>", "    <args>"]
        for arg in self.arguments:
            lines.append("      <arg " + attrs({
                "id": arg.id, "name": arg.name, "addressQualifier": "1", "port": arg.port,
                "size": hex(arg.size), "offset": f"0x{arg.offset:02X}", "hostOffset": "0x0",
                "hostSize": hex(arg.size), "type": "void*"}) + "/>")
        lines += ["    </args>", "  </kernel>", "</root>", ""]
        return "\n".join(lines)

    # -- package_xo.tcl ------------------------------------------------------------------

    def package_tcl(self) -> str:
        """Vivado batch script: package ``<name>.v`` as a kernel IP and write ``<name>.xo``
        (``vivado -mode batch -source package_xo.tcl`` in the folder of the script)."""
        c = CONTROL_PORT
        regs = []
        covered = {o for a in self.arguments for o in range(a.offset, a.offset + a.size, 4)}
        for name, offset, meaning in REGISTERS:
            if offset in covered:          # the argument's 64-bit register below
                continue
            regs.append(f"    {{{name} 0x{offset:03X} 32 {{{_tcl_text(meaning)}}} {{}}}}")
        for arg in self.arguments:
            regs.append(f"    {{{arg.name} 0x{arg.offset:03X} {8 * arg.size} "
                        f"{{pointer argument {arg.id} ({arg.name})}} {arg.port}}}")
        reg_lines = "\n".join(line + " \\" for line in regs)
        masters = " ".join(self.masters)
        associations = "\n".join(f"ipx::associate_bus_interfaces -busif {bif} -clock ap_clk $core"
                                 for bif in (c, *self.masters))
        freq_hz = int(round(self.kernel_frequency_mhz * 1e6))
        return f"""\
# generated by fixar_gen (fixar_gen.targets.u50.package); do not edit
# Packages {self.verilog} (top module {self.name}) as a Vitis RTL kernel and writes {self.xo}.
# Run in this folder: vivado -mode batch -source package_xo.tcl   (or: make xo)
set here        [file dirname [file normalize [info script]]]
set kernel      {self.name}
set part        {self.part}
set ip_dir      $here/_vivado/ip
set project_dir $here/_vivado/project

create_project -force ${{kernel}}_pack $project_dir -part $part
add_files -norecurse [list $here/{self.verilog}]
set_property top $kernel [current_fileset]
update_compile_order -fileset sources_1

ipx::package_project -root_dir $ip_dir -vendor {self.vendor} -library {self.library} \\
    -taxonomy /KernelIP -import_files -set_current true
set core [ipx::current_core]
set_property name $kernel $core
set_property version {self.version} $core
set_property core_revision 1 $core
foreach up [ipx::get_user_parameters -of_objects $core] {{
    ipx::remove_user_parameter [get_property NAME $up] $core
}}

# bus interfaces: the packager infers them from the port names; make sure they exist
proc ensure_signal {{core port vlnv}} {{
    if {{[llength [ipx::get_bus_interfaces $port -of_objects $core]] == 0}} {{
        ipx::infer_bus_interface $port $vlnv $core
    }}
}}
ensure_signal $core ap_clk xilinx.com:signal:clock_rtl:1.0
ensure_signal $core ap_rst_n xilinx.com:signal:reset_rtl:1.0
ensure_signal $core interrupt xilinx.com:signal:interrupt_rtl:1.0
foreach bif [list {c} {masters}] {{
    if {{[llength [ipx::get_bus_interfaces $bif -of_objects $core]] == 0}} {{
        ipx::infer_bus_interfaces xilinx.com:interface:aximm_rtl:1.0 $core
    }}
    if {{[llength [ipx::get_bus_interfaces $bif -of_objects $core]] == 0}} {{
        error "no AXI interface $bif: the ports of {self.verilog} must be named ${{bif}}_*"
    }}
}}

# the clock drives every AXI interface; ap_rst_n is its active-low reset
{associations}
ipx::associate_bus_interfaces -clock ap_clk -reset ap_rst_n $core
set rst [ipx::get_bus_interfaces ap_rst_n -of_objects $core]
set_property value ACTIVE_LOW [ipx::add_bus_parameter -quiet POLARITY $rst]
set irq [ipx::get_bus_interfaces interrupt -of_objects $core]
set_property value LEVEL_HIGH [ipx::add_bus_parameter -quiet SENSITIVITY $irq]
set clk [ipx::get_bus_interfaces ap_clk -of_objects $core]
set freq [ipx::add_bus_parameter -quiet FREQ_HZ $clk]
set_property value {freq_hz} $freq
set_property value_resolve_type user $freq

# the ap_ctrl_hs register map and the pointer arguments ({c})
set mem_map    [ipx::add_memory_map -quiet {c} $core]
set addr_block [ipx::add_address_block -quiet reg0 $mem_map]
set_property range {self.control_decoded} $addr_block
foreach reg_spec [list \\
{reg_lines}
] {{
    lassign $reg_spec name offset bits text busif
    set reg [ipx::add_register -quiet $name $addr_block]
    set_property address_offset $offset $reg
    set_property size $bits $reg
    set_property description $text $reg
    if {{$busif ne ""}} {{
        set_property value $busif [ipx::add_register_parameter -quiet ASSOCIATED_BUSIF $reg]
    }}
}}
set_property slave_memory_map_ref {c} [ipx::get_bus_interfaces {c} -of_objects $core]

set_property sdx_kernel true $core
set_property sdx_kernel_type rtl $core
set_property vitis_drc {{ctrl_protocol ap_ctrl_hs}} $core
set_property ipi_drc {{ignore_freq_hz true}} $core
set_property supported_families {{ }} $core
set_property auto_family_support_level level_2 $core
ipx::create_xgui_files $core
ipx::update_checksums $core
ipx::check_integrity -kernel $core
ipx::save_core $core
close_project -delete

package_xo -force -xo_path $here/{self.xo} -kernel_name $kernel \\
    -ip_directory $ip_dir -kernel_xml $here/kernel.xml
"""

    # -- u50.cfg -------------------------------------------------------------------------

    def vpp_cfg(self) -> str:
        """The v++ link config: ``v++ -l -t hw --platform P --config u50.cfg``."""
        exact = "" if self.kernel_frequency_mhz == self.clock_mhz else \
            f" (the spec asks {self.clock_mhz:g} MHz; v++ takes whole MHz)"
        lines = ["# generated by fixar_gen (fixar_gen.targets.u50.package); do not edit",
                 f"# v++ -l -t hw --platform {self.platform} --config u50.cfg "
                 f"-o {self.xclbin} {self.xo}",
                 f"# kernel clock: scalable platform clock 0 (ap_clk) at "
                 f"{self.kernel_frequency_mhz} MHz{exact}",
                 f"kernel_frequency=0:{self.kernel_frequency_mhz}", "",
                 "[connectivity]",
                 f"nk={self.name}:1:{self.compute_unit}"]
        for m in self.masters:
            lines.append(f"# {m}: {self._bits(f'{m}_RDATA')}-bit data (kernel.xml dataWidth); "
                         "v++ converts it to the HBM port's width")
            lines.append(f"sp={self.compute_unit}.{m}:{self.bank}")
        return "\n".join(lines) + "\n"

    # -- Makefile ------------------------------------------------------------------------

    def makefile(self, spec_name: str) -> str:
        return f"""\
# generated by fixar_gen (fixar_gen.targets.u50.package) for spec {spec_name}; do not edit
# Needs Vivado + Vitis 2022.2 or later (xo, xclbin) and XRT with an Alveo U50 (run).
# See docs/u50.md.
KERNEL   := {self.name}
PLATFORM ?= {self.platform}
VIVADO   ?= vivado
VPP      ?= v++
PYTHON   ?= python3
UPDATES  ?= 3
# a vendor tool must be on PATH: $(call need,TOOL,SUITE)
need = @command -v $(1) >/dev/null || {{ echo "$(1) not found: source the settings64.sh \
of $(2) 2022.2 or later" >&2; exit 2; }}

.PHONY: all xo xclbin run clean

all: xclbin

xo: $(KERNEL).xo

xclbin: $(KERNEL).xclbin

$(KERNEL).v:
\t@echo "$@ is missing: write this folder again with fixar generate" >&2
\t@exit 1

$(KERNEL).xo: $(KERNEL).v kernel.xml package_xo.tcl
\t$(call need,$(VIVADO),Vivado)
\t$(VIVADO) -mode batch -nojournal -log package_xo.log -source package_xo.tcl

$(KERNEL).xclbin: $(KERNEL).xo u50.cfg
\t$(call need,$(VPP),Vitis)
\t$(VPP) -l -t hw --platform $(PLATFORM) --config u50.cfg --temp_dir _x -o $@ $(KERNEL).xo

# DDPG updates and inferences on the card and on the golden model, compared bit for bit
run: $(KERNEL).xclbin
\t$(PYTHON) -m fixar_gen.targets.u50.driver spec.yaml --xclbin $(KERNEL).xclbin --updates $(UPDATES)

clean:
\trm -rf _vivado _x .Xil $(KERNEL).xo $(KERNEL).xclbin *.log *.jou *.ltx *.link_summary *.info
"""

    # -- the host's register map -------------------------------------------------------

    def registers(self, hostmap: HostMap | None = None) -> dict:
        """``kernel_registers.json``: what a host needs to drive the kernel."""
        data = {
            "kernel": self.name, "compute_unit": self.compute_unit, "vlnv": self.vlnv,
            "protocol": "ap_ctrl_hs", "platform": self.platform,
            "clock_mhz": self.kernel_frequency_mhz,
            "control": {"port": CONTROL_PORT, "range": self.control_range,
                        "data_bits": self.control_data_bits},
            "registers": [{"name": n, "offset": o, "meaning": m} for n, o, m in REGISTERS],
            "arguments": [{"id": a.id, "name": a.name, "offset": a.offset,
                           "bytes": a.size, "port": a.port, "memory": self.bank}
                          for a in self.arguments],
            "masters": [{"port": m, "address_bits": self.master_addr_bits,
                         "data_bits": self.master_data_bits, "memory": self.bank}
                        for m in self.masters],
            "command": {
                "words": COMMAND_WORDS, "bytes": COMMAND_BYTES, "word_bytes": WORD_BYTES,
                "fields": [{"name": n, "word": w, "lsb": lsb, "bits": b, "meaning": m}
                           for n, w, lsb, b, m in COMMAND_FIELDS],
                "opcodes": {op: i for i, op in enumerate(OPCODES)},
                "memories": {mem: i for i, mem in enumerate(MEMORIES)},
                "stat_kinds": {k: i for i, k in enumerate(STAT_KINDS)},
                "stat_bits": STAT_BITS,
                "offset_align_bytes": self.axi_data_bits // 8,
            },
            "status": {
                "register": "STATUS",
                "fields": [{"name": n, "lsb": lsb, "bits": b} for n, lsb, b in STATUS_FIELDS],
                "kinds": [{"name": n, "value": i, "meaning": m}
                          for i, (n, m) in enumerate(ERROR_KINDS)],
                "responses": {r: i for i, r in enumerate(RESPONSES)},
            },
        }
        if hostmap is not None:
            data["entries"] = {}
            for mem in MEMORIES + STAT_KINDS:
                lay = layout(hostmap, mem, self.axi_data_bits)
                data["entries"][mem] = {"bits": lay.bits, "unit_beats": lay.beats_per_unit,
                                        "per_unit": lay.per_unit}
            data["core"] = hostmap.name
        return data

    def registers_json(self, hostmap: HostMap | None = None) -> str:
        return json.dumps(self.registers(hostmap), indent=2) + "\n"

    def registers_header(self, hostmap: HostMap | None = None) -> str:
        """The same map as C constants (``<NAME>_...``)."""
        top = self.name.upper()
        lines = ["/* generated by fixar_gen (fixar_gen.targets.u50.package); do not edit */",
                 f"/* host interface of the Vitis RTL kernel {self.name} (ap_ctrl_hs) */",
                 f"#ifndef {top}_REGISTERS_H", f"#define {top}_REGISTERS_H", "",
                 "/* AXI4-Lite s_axi_control registers (byte offsets) */"]
        for name, offset, meaning in REGISTERS:
            lines.append(f"#define {top}_REG_{name} 0x{offset:02X}u  /* {_c_comment(meaning)} */")
        lines += [f"#define {top}_CTRL_AP_START (1u << 0)",
                  f"#define {top}_CTRL_AP_DONE (1u << 1)",
                  f"#define {top}_CTRL_AP_IDLE (1u << 2)",
                  f"#define {top}_CTRL_AP_READY (1u << 3)",
                  f"#define {top}_CTRL_AUTO_RESTART (1u << 7)", "",
                  "/* kernel arguments (64-bit HBM addresses), in call order */"]
        for arg in self.arguments:
            lines.append(f"#define {top}_ARG_{arg.name.upper()} {arg.id}u  "
                         f"/* registers 0x{arg.offset:02X} (low), 0x{arg.offset + 4:02X} "
                         f"(high), via {arg.port} */")
        lines += ["/* STATUS fields; STATUS.kind values; AXI response codes */"]
        for name, lsb, bits in STATUS_FIELDS:
            lines.append(f"#define {top}_STATUS_{name.upper()}_LSB {lsb}u")
            lines.append(f"#define {top}_STATUS_{name.upper()}_BITS {bits}u")
        for i, (name, meaning) in enumerate(ERROR_KINDS):
            lines.append(f"#define {top}_ERROR_{name.upper()} {i}u  /* {_c_comment(meaning)} */")
        for i, name in enumerate(RESPONSES):
            lines.append(f"#define {top}_RESP_{name} {i}u")
        lines += ["", f"#define {top}_HBM_BANK {self.hbm_bank}u",
                  f"#define {top}_AXI_DATA_BITS {self.axi_data_bits}u  /* m_axi_gmem0 */",
                  f"#define {top}_BEAT_BYTES {self.axi_data_bits // 8}u  "
                  "/* command offsets and arguments are multiples of it */", "",
                  "/* a command: little-endian 64-bit words */",
                  f"#define {top}_COMMAND_WORDS {COMMAND_WORDS}u",
                  f"#define {top}_COMMAND_BYTES {COMMAND_BYTES}u"]
        for name, word, lsb, bits, meaning in COMMAND_FIELDS:
            key = f"{top}_CMD_{name.upper()}"
            lines.append(f"#define {key}_WORD {word}u  /* {_c_comment(meaning)} */")
            lines.append(f"#define {key}_LSB {lsb}u")
            lines.append(f"#define {key}_BITS {bits}u")
        for i, op in enumerate(OPCODES):
            lines.append(f"#define {top}_OP_{op} {i}u  /* {_c_comment(OPCODE_MEANINGS[op])} */")
        for i, mem in enumerate(MEMORIES):
            lines.append(f"#define {top}_MEM_{mem.upper()} {i}u")
        for i, kind in enumerate(STAT_KINDS):
            lines.append(f"#define {top}_STAT_{kind.upper()} {i}u")
        lines.append(f"#define {top}_STAT_BITS {STAT_BITS}u")
        if hostmap is not None:
            lines.append("/* entries in HBM: PER_UNIT entries of ENTRY_BITS in UNIT_BEATS beats, "
                         "entry i at bit i * ENTRY_BITS */")
            for mem in MEMORIES + STAT_KINDS:
                lay = layout(hostmap, mem, self.axi_data_bits)
                lines.append(f"#define {top}_{mem.upper()}_ENTRY_BITS {lay.bits}u")
                lines.append(f"#define {top}_{mem.upper()}_UNIT_BEATS {lay.beats_per_unit}u")
                lines.append(f"#define {top}_{mem.upper()}_PER_UNIT {lay.per_unit}u")
        lines += ["", f"#endif /* {top}_REGISTERS_H */", ""]
        return "\n".join(lines)


def _tcl_text(text: str) -> str:
    return re.sub(r"[{}\[\]$\\\"]", "", text)


def _c_comment(text: str) -> str:
    return text.replace("*/", "* /").replace("`", "'")


def package_for(spec, name: str = KERNEL_NAME, hbm_bank: int = 0,
                axi_data_bits: int = DEFAULT_AXI_DATA_BITS) -> KernelPackage:
    """The packaging description of ``spec``'s kernel."""
    return KernelPackage(name=name, clock_mhz=spec.hardware.clock_mhz, hbm_bank=hbm_bank,
                         axi_data_bits=axi_data_bits)


# ---------------------------------------------------------------------------- the kernel RTL

def _interface(axi_data_bits: int) -> dict[str, tuple[int, str]]:
    from .kernel import interface
    return interface(axi_data_bits)


def kernel_verilog(cfg, package: KernelPackage, core_verilog: str | None = None) -> str:
    """The kernel's Verilog: top module ``package.name`` over the core of ``cfg``
    (:func:`fixar_gen.targets.u50.kernel.kernel_verilog`; ``core_verilog``: the core's
    module as already written, else elaborated there)."""
    from .kernel import kernel_verilog as build
    return build(cfg, name=package.name, axi_data_bits=package.axi_data_bits,
                 core_verilog=core_verilog)


def verilog_ports(verilog: str, module: str) -> dict[str, tuple[int, str]]:
    """Ports of ``module`` in Verilog text: name -> (bits, "input"/"output").  Reads
    ANSI and non-ANSI declarations with constant ``[msb:lsb]`` ranges (enough for
    generated code)."""
    match = re.search(rf"\bmodule\s+{re.escape(module)}\b(.*?)\bendmodule\b", verilog, re.S)
    if match is None:
        raise ValueError(f"module {module} not found")
    body = re.sub(r"//[^\n]*|/\*.*?\*/", "", match.group(1), flags=re.S)
    ports = {}
    decl = re.compile(r"\b(input|output)\b\s*(?:wire|reg|logic)?\s*(?:signed\s*)?"
                      r"(?:\[\s*(\d+)\s*:\s*(\d+)\s*\])?\s*"
                      r"([A-Za-z_]\w*(?:\s*,\s*(?!(?:input|output|inout)\b)[A-Za-z_]\w*)*)")
    for way, msb, lsb, names in decl.findall(body):
        bits = abs(int(msb) - int(lsb)) + 1 if msb else 1
        for n in re.split(r"\s*,\s*", names.strip()):
            ports[n] = (bits, way)
    return ports


# ---------------------------------------------------------------------------- writing

def write_package(spec, cfg, out: str | Path, package: KernelPackage | None = None,
                  verilog: str | None = None, core_verilog: str | None = None) -> dict:
    """Write the Vitis packaging of ``spec``'s kernel (core sizes ``cfg``) and the
    kernel's Verilog (``verilog``, else made here over ``core_verilog``, the core's
    module `fixar generate` wrote, or one elaborated here) into ``out``; returns what
    was written, for report.json."""
    import yaml

    from ...hw.inventory import memory_inventory
    from ...memory_fit import memory_fit
    from ...spec import spec_data

    package = package or package_for(spec)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    hm = cfg.hostmap
    files = {
        "kernel.xml": package.kernel_xml(),
        "package_xo.tcl": package.package_tcl(),
        "u50.cfg": package.vpp_cfg(),
        "Makefile": package.makefile(spec.name),
        "kernel_registers.json": package.registers_json(hm),
        package.header: package.registers_header(hm),
        "spec.yaml": "# the resolved spec this folder was generated from (make run uses it)\n"
                     + yaml.safe_dump(spec_data(spec), sort_keys=False,
                                      default_flow_style=None, width=88),
    }
    files[package.verilog] = verilog if verilog is not None \
        else kernel_verilog(cfg, package, core_verilog)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    fit = memory_fit(spec, memory_inventory(cfg), U50)
    return {"kernel": package.name, "vlnv": package.vlnv, "platform": package.platform,
            "memory": package.bank, "kernel_frequency_mhz": package.kernel_frequency_mhz,
            "axi_data_bits": package.axi_data_bits,
            "files": sorted(files),
            "on_chip_memory": {"design_bits": fit["design_bits"],
                               "u50_bits": board_on_chip_bits(),
                               "bram36": fit["bram36"], "uram": fit["uram"],
                               "usable_bram36": fit["usable_bram36"],
                               "usable_uram": fit["usable_uram"], "fits": fit["fits"]}}


def board_on_chip_bits() -> int:
    """The U50's block RAM and UltraRAM, in bits (36 Kb and 288 Kb blocks)."""
    return U50.bram36 * 36 * 1024 + U50.uram * 288 * 1024


# ---------------------------------------------------------------------------- docs

def doc_tables() -> str:
    """The register map and the command protocol as Markdown (docs/u50.md)."""
    pkg = KernelPackage()
    out = ["| register | offset | meaning |", "|---|---|---|"]
    out += [f"| `{n}` | `0x{o:02X}` | {m} |" for n, o, m in REGISTERS]
    out += ["", "| argument (id) | registers | type | port | memory |", "|---|---|---|---|---|"]
    out += [f"| `{a.name}` ({a.id}) | `0x{a.offset:02X}`, `0x{a.offset + 4:02X}` | "
            f"64-bit pointer | `{a.port}` | `{pkg.bank}` |" for a in pkg.arguments]
    out += ["", f"A command is {COMMAND_WORDS} little-endian 64-bit words "
            f"({COMMAND_BYTES} bytes):", "",
            "| field | word | bits | meaning |", "|---|---|---|---|"]
    out += [f"| `{n}` | {w} | {lsb}-{lsb + b - 1} | {m} |" for n, w, lsb, b, m in COMMAND_FIELDS]
    out += ["", "| opcode | value | does |", "|---|---|---|"]
    out += [f"| `{op}` | {i} | {OPCODE_MEANINGS[op]} |" for i, op in enumerate(OPCODES)]
    out += ["", "| memory (LOAD, STORE) | value |", "|---|---|"]
    out += [f"| `{mem}` | {i} |" for i, mem in enumerate(MEMORIES)]
    out += ["", f"| stat kind (STATS; {STAT_BITS}-bit entries) | value |", "|---|---|"]
    out += [f"| `{kind}` | {i} |" for i, kind in enumerate(STAT_KINDS)]
    out += ["", "| `STATUS` field | bits | meaning |", "|---|---|---|"]
    field_meaning = {"error": "the last run stopped on an error",
                     "kind": "what failed (table below)",
                     "response": "the AXI response: " + ", ".join(
                         f"{i} {r}" for i, r in enumerate(RESPONSES)),
                     "rlast": "RLAST was missing or early"}
    out += [f"| `{n}` | {lsb}-{lsb + b - 1} | {field_meaning[n]} |" if b > 1 else
            f"| `{n}` | {lsb} | {field_meaning[n]} |" for n, lsb, b in STATUS_FIELDS]
    out += ["", "| `STATUS.kind` | value | the run stopped on |", "|---|---|---|"]
    out += [f"| `{n}` | {i} | {m} |" for i, (n, m) in enumerate(ERROR_KINDS)]
    return "\n".join(out) + "\n"


def packing_table(hostmap: HostMap) -> str:
    """How a design's entries pack into beats at every bus width, as Markdown
    (docs/u50.md holds it for examples/fixar_u50.yaml)."""
    def cell(lay) -> str:
        where = "per beat" if lay.beats_per_unit == 1 else f"per {lay.beats_per_unit} beats"
        return f"{lay.per_unit} {where} ({lay.efficiency:.0%})"
    what = {"data": "`data` (datapath word)", "desc": "`desc`", "slot": "`slot`",
            "imem": "`imem` (instruction)"}
    heads = [f"{w}-bit bus" + (" (default)" if w == DEFAULT_AXI_DATA_BITS else "")
             for w in AXI_DATA_BITS]
    out = ["| memory | entry bits | " + " | ".join(heads) + " |",
           "|---|---|" + "---|" * len(AXI_DATA_BITS)]
    for mem in MEMORIES:
        lays = [layout(hostmap, mem, w) for w in AXI_DATA_BITS]
        out.append(f"| {what[mem]} | {lays[0].bits} | " + " | ".join(map(cell, lays)) + " |")
    lays = [layout(hostmap, STAT_KINDS[0], w) for w in AXI_DATA_BITS]
    kinds = ", ".join(f"`{k}`" for k in STAT_KINDS)
    out.append(f"| {kinds} (STATS) | {lays[0].bits} | " + " | ".join(map(cell, lays)) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fixar_gen.targets.u50.package",
        description="Print the U50 kernel's register map and command protocol, or write "
                    "the Vitis packaging of a spec.")
    parser.add_argument("--doc", action="store_true",
                        help="print the register and command tables as Markdown")
    parser.add_argument("spec", nargs="?", help="write the packaging of this spec")
    parser.add_argument("-o", "--out", default=None, help="folder (default build/NAME)")
    parser.add_argument("--axi-data-bits", type=int, choices=AXI_DATA_BITS,
                        default=DEFAULT_AXI_DATA_BITS,
                        help="the AXI4 master's data width (default %(default)s)")
    parser.add_argument("--packing", action="store_true",
                        help="print how SPEC's entries pack into beats, write nothing")
    args = parser.parse_args(argv)
    if args.doc:
        sys.stdout.write(doc_tables())
        return 0
    if args.spec is None:
        parser.error("give --doc or a SPEC")
    from ...dsl import load_spec
    from ...hw.design import config_for
    spec = load_spec(args.spec)
    if args.packing:
        sys.stdout.write(packing_table(config_for(spec).hostmap))
        return 0
    out = args.out or f"build/{spec.name}"
    written = write_package(spec, config_for(spec), out,
                            package_for(spec, axi_data_bits=args.axi_data_bits))
    print(f"{out}: {', '.join(written['files'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
