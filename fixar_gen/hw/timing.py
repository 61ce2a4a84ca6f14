"""Register-to-register timing estimate of a Yosys netlist (``synth_xilinx -family xcup``,
``write_json``): the worst paths of a design, their LUT levels, carry cells, DSP48E2
stages, start and end names and an estimated delay under :class:`DelayModel`.

Yosys has no timing model for UltraScale+ (``sta`` finds no arcs for FDRE, CARRY or
DSP48E2), so this module walks the mapped cell graph itself.  Every net bit is a node;
each cell adds arcs from its input bits to its output bits (LUTs, MUXF, carry cells,
LUTRAM and SRL reads, unregistered DSP48E2 stages) or ends paths at its inputs and
starts new ones at its outputs (flip-flops, block RAM, UltraRAM, registered DSP48E2
stages).  Primary inputs start paths and primary outputs end them.  Arrival times come
from one longest-path pass over the graph in topological order (no path enumeration),
once weighted by delay and once by LUT levels; the worst path to each endpoint is read
back through the predecessor of each node.

A DSP48E2 is three stages: input registers (A/B/D, AREG/BREG/DREG), the multiplier
(MREG) and the ALU (PREG, and CREG on the C input); a stage whose register is set ends
the paths into it and starts the paths out of it, so a DSP with every register set adds
only its short internal hops, and an unregistered one adds its whole combinational delay.
The figures are in :class:`DelayModel`, documented (with their sources) in
docs/hardware.md.  They are estimates, not Vivado's: placement, fan-out and the actual
routing are unknown here; the structure (what lies between which registers) is exact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .dsp_registers import dsp_registers
from .netlist_names import dsp_name, net_names, param, pin_bits, pretty, verilog_aliases

CLOCK_NS = 1000 / 164           # FIXAR's clock on the U50: 164 MHz, 6.1 ns
TARGET_LUT_LEVELS = 8           # issue 13's budget between registers at that clock


@dataclass(frozen=True)
class DelayModel:
    """Delays in ns (UltraScale+, speed grade -2, before placement).  ``net`` is one
    hop of general routing; every cell input reached through it pays it, dedicated
    cascades (carry CI, DSP PCIN/ACIN/BCIN, MUXF data) do not."""

    net: float = 0.30               # one general routing hop (assumption)
    lut: float = 0.12               # LUT1-6 / INV logic delay, also LUTRAM/SRL reads
    muxf: float = 0.10              # MUXF7/8/9, data input to output
    carry_entry: float = 0.30       # S/DI into a CARRY4/CARRY8 to its outputs
    carry_cell: float = 0.05        # each further carry cell along CI
    ff_clk_to_q: float = 0.10       # FD*E clock to Q
    ff_setup: float = 0.05          # FD*E D/CE/R setup
    dsp_mult: float = 1.90          # DSP48E2 A/B/D input to the M stage (pre-adder, mult)
    dsp_alu: float = 1.00           # DSP48E2 M (or C, PCIN) to the P output (ALU)
    dsp_clk_to_out: float = 0.35    # a DSP48E2 pipeline register to its next stage / P
    dsp_setup: float = 0.30         # into a DSP48E2 pipeline register
    ram_clk_to_out: float = 0.90    # RAMB/URAM without output register, clock to data
    ram_reg_clk_to_out: float = 0.40   # with its output register (DO*_REG / OREG)
    ram_setup: float = 0.40         # RAMB/URAM address, data, enable setup
    lutram_clk_to_out: float = 1.00  # LUTRAM / SRL write clock to read data
    clock_ns: float = CLOCK_NS

    def as_dict(self) -> dict:
        return asdict(self)


#: Where each figure comes from (docs/hardware.md prints this table).
MODEL_SOURCES = {
    "net": "assumption: 0.3-0.5 ns per level of routing (HARDWARE-NOTES.md), low end",
    "lut": "assumption: 0.1-0.15 ns per LUT (HARDWARE-NOTES.md); with net, ~0.42 ns a level",
    "muxf": "assumption",
    "carry_entry": "assumption",
    "carry_cell": "assumption: ~0.04 ns per CARRY4/8 after the first (HARDWARE-NOTES.md)",
    "ff_clk_to_q": "assumption",
    "ff_setup": "assumption",
    "dsp_mult": "assumption: an unregistered DSP48E2 is ~2.5-3 ns (HARDWARE-NOTES.md), "
                "split 1.9 multiplier + 1.0 ALU",
    "dsp_alu": "assumption (see dsp_mult)",
    "dsp_clk_to_out": "assumption",
    "dsp_setup": "assumption",
    "ram_clk_to_out": "assumption",
    "ram_reg_clk_to_out": "assumption",
    "ram_setup": "assumption",
    "lutram_clk_to_out": "assumption",
    "clock_ns": "FIXAR's 164 MHz (DAC 2021), 1000 / 164",
}

# ------------------------------------------------------------------------ cell library

LUT = re.compile(r"LUT[1-6]|INV")
MUXF = re.compile(r"MUXF[789]")
CARRY = re.compile(r"CARRY[48]")
FF = re.compile(r"FD[RSCP]E(_1)?|FD[RSCP]")
BRAM = re.compile(r"RAMB(18|36)E2|RAMB(18|36)E1|FIFO(18|36)E2")
URAM = re.compile(r"URAM288(_BASE)?")
LUTRAM = re.compile(r"RAM(16|32|64|128|256|512)[MXS].*")
SRL = re.compile(r"SRL16E|SRLC16E|SRLC32E")
CONSTANT = {"VCC", "GND", "$scopeinfo"}
CLOCK_PINS = re.compile(r"C|CLK|WCLK|CLKARDCLK|CLKBWRCLK|CLKA|CLKB")
LUTRAM_READ = re.compile(r"A\d*|ADDR[A-H]|DPRA\d*")
SRL_READ = re.compile(r"A\d?")

# DSP48E2 pins by stage: (pins, register parameter(s) that end paths into them)
DSP_MULT_INPUTS = {"A": ("AREG",), "B": ("BREG",), "D": ("DREG", "ADREG"),
                   "INMODE": ("INMODEREG",)}
DSP_CASCADE_INPUTS = {"ACIN": ("AREG",), "BCIN": ("BREG",)}
DSP_ALU_INPUTS = {"C": ("CREG",), "OPMODE": ("OPMODEREG",), "ALUMODE": ("ALUMODEREG",),
                  "CARRYIN": ("CARRYINREG",), "CARRYINSEL": ("CARRYINSELREG",)}
DSP_ALU_CASCADES = ("PCIN", "CARRYCASCIN", "MULTSIGNIN")
DSP_REGISTERS = ("AREG", "BREG", "MREG", "PREG")


# ------------------------------------------------------------------------ the graph

@dataclass
class _Graph:
    """Nodes are ints: net bits keep Yosys's numbers, virtual nodes (cell stages,
    register starts and ends) are allocated above them."""

    names: dict[int, str]
    succ: dict[int, list[tuple[int, float, int, int, int, int, int]]] = field(default_factory=dict)
    starts: dict[int, tuple[float, str]] = field(default_factory=dict)   # node: (arrival, kind)
    ends: dict[int, tuple[str, str]] = field(default_factory=dict)       # node: (name, kind)
    labels: dict[int, str] = field(default_factory=dict)                 # virtual: cell name
    dsps: dict[int, dict] = field(default_factory=dict)                  # virtual: registers
    next_id: int = 0

    def node(self, label: str) -> int:
        self.next_id += 1
        self.labels[self.next_id] = label
        return self.next_id

    def arc(self, u: int, v: int, delay: float, luts: int = 0, carries: int = 0,
            chains: int = 0, dsps: int = 0, muxf: int = 0) -> None:
        self.succ.setdefault(u, []).append((v, delay, luts, carries, chains, dsps, muxf))

    def start(self, node: int, arrival: float, kind: str) -> None:
        if node not in self.starts or self.starts[node][0] < arrival:
            self.starts[node] = (arrival, kind)

    def end(self, u: int, delay: float, name: str, kind: str, dsps: int = 0) -> None:
        v = self.node(name)
        self.ends[v] = (name, kind)
        self.arc(u, v, delay, dsps=dsps)


def _inputs(cell: dict) -> Iterable[tuple[str, int]]:
    for pin, bits in cell["connections"].items():
        if cell["port_directions"].get(pin) == "input" and not CLOCK_PINS.fullmatch(pin):
            for b in bits:
                if isinstance(b, int):
                    yield pin, b


def _outputs(cell: dict) -> Iterable[tuple[str, int]]:
    for pin, bits in cell["connections"].items():
        if cell["port_directions"].get(pin) == "output":
            for b in bits:
                if isinstance(b, int):
                    yield pin, b


def build_graph(module: dict, model: DelayModel, verilog: list[str] | None = None
                ) -> tuple[_Graph, dict[str, int]]:
    """The timing graph of one (flat) module; also the count of every cell type it
    could not model (their outputs start paths, their inputs end them).  ``verilog``
    (the synthesized source's lines) names the DSP48E2 by their multiplies."""
    names = net_names(module, verilog_aliases(verilog) if verilog is not None else None)
    g = _Graph(names)
    top = 0
    for net in module.get("netnames", {}).values():
        top = max([top, *(b for b in net["bits"] if isinstance(b, int))])
    for cell in module.get("cells", {}).values():
        for bits in cell["connections"].values():
            top = max([top, *(b for b in bits if isinstance(b, int))])
    g.next_id = top
    unmodeled: dict[str, int] = {}

    for pname, port in module.get("ports", {}).items():
        for i, b in enumerate(port["bits"]):
            if not isinstance(b, int):
                continue
            if port["direction"] == "input":
                g.start(b, 0.0, "input")
            else:
                g.end(b, 0.0, f"{pname}[{i}]" if len(port["bits"]) > 1 else pname, "output")

    for cname, cell in module.get("cells", {}).items():
        kind = cell["type"]
        label = pretty(cname)
        outs = [o for _, o in _outputs(cell)]

        def ends(delay: float, what: str = kind, q: str | None = None):
            q = q or _name_of_cell(cell, names, label)
            for pin, b in _inputs(cell):
                g.end(b, model.net + delay, f"{q}.{pin}", what)

        def starts(arrival: float, what: str = kind):
            for b in outs:
                g.start(b, arrival, what)

        if kind in CONSTANT or kind.startswith("$__ABC") or kind in ("BUFG", "IBUF", "OBUF"):
            if kind in ("BUFG", "IBUF", "OBUF"):
                for _, b in _inputs(cell):
                    for _, o in _outputs(cell):
                        g.arc(b, o, 0.0)
            continue
        if LUT.fullmatch(kind):
            for _, b in _inputs(cell):
                for o in outs:
                    g.arc(b, o, model.net + model.lut, luts=1)
        elif MUXF.fullmatch(kind):
            for pin, b in _inputs(cell):
                for o in outs:
                    g.arc(b, o, model.muxf + (model.net if pin == "S" else 0.0), muxf=1)
        elif CARRY.fullmatch(kind):
            stage = g.node(label)
            for pin, b in _inputs(cell):
                if pin in ("CI", "CI_TOP"):
                    g.arc(b, stage, model.carry_cell, carries=1)
                else:
                    g.arc(b, stage, model.net + model.carry_entry, carries=1, chains=1)
            for o in outs:
                g.arc(stage, o, 0.0)
        elif FF.fullmatch(kind):
            ends(model.ff_setup, what="FF")
            starts(model.ff_clk_to_q, "FF")
        elif kind == "DSP48E2":
            _dsp(g, cell, label, model, verilog)
        elif BRAM.fullmatch(kind) or URAM.fullmatch(kind):
            registered = (param(cell, "DOA_REG") or param(cell, "DOB_REG")
                          or param(cell, "OREG_A") or param(cell, "OREG_B"))
            ends(model.ram_setup, what="RAM")
            starts(model.ram_reg_clk_to_out if registered else model.ram_clk_to_out, "RAM")
        elif LUTRAM.fullmatch(kind) or SRL.fullmatch(kind):
            read = SRL_READ if SRL.fullmatch(kind) else LUTRAM_READ
            for pin, b in _inputs(cell):
                if read.fullmatch(pin):
                    for out_pin, o in _outputs(cell):
                        if _reads(pin, out_pin):
                            g.arc(b, o, model.net + model.lut, luts=1)
            ends(model.ff_setup, what="LUTRAM", q=_name_of_ram(cell, names, label))
            starts(model.lutram_clk_to_out, "LUTRAM")
        else:
            unmodeled[kind] = unmodeled.get(kind, 0) + 1
            ends(0.0, what=kind)
            starts(0.0, kind)
    return g, unmodeled


def _reads(address_pin: str, out_pin: str) -> bool:
    """Whether a LUTRAM's (or SRL's) read address pin selects the word on ``out_pin``:
    a multi-port RAM (RAM32M, RAM32M16, RAM64M, RAM64M8) reads port X's word at ADDRX
    alone (ADDRH, the write address, only into DOH), a dual-port one its SPO at A and
    its DPO at DPRA; a single-port one (and an SRL) its one output at A."""
    port = re.fullmatch(r"ADDR([A-H])", address_pin)
    if port:
        return out_pin == f"DO{port[1]}"
    if address_pin.startswith("DPRA"):
        return out_pin == "DPO"
    return out_pin != "DPO"


def _name_of_cell(cell: dict, names: dict[int, str], label: str) -> str:
    """A sequential cell by the name of what it drives (its Q / first output bit):
    the PyRTL register name where Yosys kept it."""
    for _, b in _outputs(cell):
        if b in names:
            return names[b]
    return label


def _name_of_ram(cell: dict, names: dict[int, str], label: str) -> str:
    """A LUTRAM by its read data's name where Yosys kept one, else by the cell's own
    (``mem_gmem_bank0.0.2``: the memory it is part of) unless that is internal too:
    its write ports are the memory's endpoints, whatever its output net is called."""
    q = _name_of_cell(cell, names, label)
    return label if q.startswith("$") and not label.startswith("$") else q


def _dsp(g: _Graph, cell: dict, label: str, model: DelayModel,
         verilog: list[str] | None = None) -> None:
    """A DSP48E2 as its three stages, registered ones ending and starting paths."""
    regs = {r: param(cell, r) for r in (*DSP_REGISTERS, "CREG", "DREG", "ADREG")}
    name = dsp_name(cell, label, verilog, g.names)
    mult_in, mult_out = g.node(name), g.node(name)
    alu_in, p_out = g.node(name), g.node(name)
    for v in (mult_in, mult_out, alu_in, p_out):
        g.dsps[v] = {r: regs[r] for r in DSP_REGISTERS}

    def feed(stage: int, groups: dict, dedicated: bool) -> None:
        for pin, params in groups.items():
            bits = pin_bits(cell, pin)
            if not bits:
                continue
            registered = any(param(cell, p) for p in params)
            hop = 0.0 if dedicated else model.net
            for b in bits:
                if registered:
                    g.end(b, hop + model.dsp_setup, f"{name}.{pin}", "DSP")
                else:
                    g.arc(b, stage, hop)
            if registered:
                reg = g.node(name)
                g.dsps[reg] = g.dsps[stage]
                g.start(reg, model.dsp_clk_to_out, "DSP")
                g.arc(reg, stage, 0.0)

    for pin, b in _inputs(cell):           # clock enables and resets of its registers
        if pin.startswith(("CE", "RST")):
            g.end(b, model.net + model.dsp_setup, f"{name}.{pin}", "DSP")
    feed(mult_in, DSP_MULT_INPUTS, dedicated=False)
    feed(mult_in, DSP_CASCADE_INPUTS, dedicated=True)
    if regs["MREG"]:                   # the M register ends one stage, starts the next
        g.end(mult_in, model.dsp_mult + model.dsp_setup, f"{name}.MREG", "DSP", dsps=1)
        g.start(alu_in, model.dsp_clk_to_out, "DSP")
    else:
        g.arc(mult_in, mult_out, model.dsp_mult)
        g.arc(mult_out, alu_in, 0.0)
    feed(alu_in, DSP_ALU_INPUTS, dedicated=False)
    for pin in DSP_ALU_CASCADES:
        for b in pin_bits(cell, pin):
            g.arc(b, alu_in, 0.0)
    if regs["PREG"]:
        g.end(alu_in, model.dsp_alu + model.dsp_setup, f"{name}.PREG", "DSP", dsps=1)
        for _, o in _outputs(cell):
            g.start(o, model.dsp_clk_to_out, "DSP")
    else:
        g.arc(alu_in, p_out, model.dsp_alu, dsps=1)
        for pin, o in _outputs(cell):
            g.arc(p_out, o, 0.0)


# ------------------------------------------------------------------------ the walk

@dataclass(frozen=True)
class TimingPath:
    """One register-to-register path: where it starts and ends, what it crosses and
    its estimated delay (ns) and slack against the clock."""

    start: str
    start_kind: str
    end: str
    end_kind: str
    ns: float
    slack_ns: float
    lut_levels: int
    carry_cells: int
    carry_chains: int
    dsp_stages: int
    muxf: int
    dsps: tuple = ()          # the DSP48E2 crossed or ended at, with their registers

    def as_dict(self) -> dict:
        d = asdict(self)
        d["dsps"] = [dict(x) for x in self.dsps]
        return d

    def summary(self) -> str:
        dsp = f", {self.dsp_stages} DSP" if self.dsp_stages else ""
        return (f"{self.ns:.2f} ns ({self.lut_levels} LUT, {self.carry_chains} carry chain(s) "
                f"of {self.carry_cells} cells{dsp}): {self.start} -> {self.end}")


def _topological(g: _Graph) -> list[int]:
    indeg: dict[int, int] = {}
    for u, arcs in g.succ.items():
        indeg.setdefault(u, 0)
        for a in arcs:
            indeg[a[0]] = indeg.get(a[0], 0) + 1
    order = [u for u, d in indeg.items() if d == 0]
    for u in order:                       # the list grows while it is walked
        for a in g.succ.get(u, ()):
            v = a[0]
            indeg[v] -= 1
            if indeg[v] == 0:
                order.append(v)
    if len(order) != len(indeg):
        loop = sorted(g.names.get(u, g.labels.get(u, str(u)))
                      for u, d in indeg.items() if d > 0)[:5]
        raise ValueError(f"the netlist has a combinational loop (through {', '.join(loop)})")
    return order


def _longest(g: _Graph, order: list[int], weight) -> tuple[dict, dict]:
    """Arrival by ``weight(arc)`` from every start point, and each node's predecessor
    arc on its worst path (one pass in topological order)."""
    arrival: dict[int, float] = {}
    pred: dict[int, tuple[int, tuple]] = {}
    for u, (t, _) in g.starts.items():
        arrival[u] = weight.start(t)
    for u in order:
        t = arrival.get(u)
        if t is None:
            continue
        for a in g.succ.get(u, ()):
            v = a[0]
            w = t + weight(a)
            if w > arrival.get(v, -1.0):
                arrival[v] = w
                pred[v] = (u, a)
    return arrival, pred


class _ByDelay:
    @staticmethod
    def start(t):
        return t

    def __call__(self, a):
        return a[1]


class _ByLevels:
    @staticmethod
    def start(t):
        return 0

    def __call__(self, a):
        return a[2]


def _trace(g: _Graph, pred: dict, end: int, clock: float) -> TimingPath:
    node, counts, dsps, seen = end, [0.0, 0, 0, 0, 0, 0], [], set()
    while node in pred:
        u, a = pred[node]
        counts[0] += a[1]
        for i in range(2, 7):
            counts[i - 1] += a[i]
        if node in g.dsps and g.labels[node] not in seen:
            seen.add(g.labels[node])
            dsps.append((("cell", g.labels[node]), *g.dsps[node].items()))
        node = u
    arrival, start_kind = g.starts.get(node, (0.0, "?"))
    ns = round(arrival + counts[0], 3)
    if node in g.dsps and g.labels[node] not in seen:
        dsps.append((("cell", g.labels[node]), *g.dsps[node].items()))
    start = g.names.get(node) or g.labels.get(node, f"net{node}")
    if start_kind == "DSP" and node in g.labels:
        start = f"{start}.REG"
    end_name, end_kind = g.ends[end]
    return TimingPath(start, start_kind, end_name, end_kind, ns, round(clock - ns, 3),
                int(counts[1]), int(counts[2]), int(counts[3]), int(counts[4]),
                int(counts[5]), tuple(dsps))


def _group(name: str) -> str:
    """An endpoint's register, without its bit index: ``acc[3].D`` -> ``acc.D``."""
    return re.sub(r"\[\d+\]", "", name)


@dataclass(frozen=True)
class TimingReport:
    """The worst paths of a netlist by estimated delay (one per endpoint register),
    the deepest by LUT levels, and the DSP48E2 register settings."""

    top: str                        # the module, or the unit of a per-unit report
    paths: tuple[TimingPath, ...]
    deepest: TimingPath | None
    cells: int | None               # None in a per-unit report
    dsp_count: int
    dsp_fully_pipelined: int        # with MREG and PREG set
    failing_endpoints: int          # endpoint bits whose worst path exceeds the clock
    unmodeled: dict
    model: DelayModel
    units: dict = field(default_factory=dict)   # unit name: its TimingReport
    #: endpoint bits whose deepest path has more than TARGET_LUT_LEVELS LUT levels
    deep_endpoints: int = 0
    #: DSP48E2 with MREG and PREG set or as the flip-flops right after them, which a
    #: DSP48E2 takes in (:mod:`fixar_gen.hw.dsp_registers`; Yosys xcup sets none)
    dsp_mreg_preg_or_flops: int = 0

    @property
    def worst(self) -> TimingPath | None:
        return self.paths[0] if self.paths else None

    def as_dict(self) -> dict:
        w = self.worst
        return {
            "top": self.top, "cells": self.cells,
            "clock_ns": round(self.model.clock_ns, 3),
            "worst_ns": w.ns if w else 0.0, "slack_ns": w.slack_ns if w else None,
            "max_lut_levels": self.deepest.lut_levels if self.deepest else 0,
            "dsp48e2": self.dsp_count, "dsp48e2_mreg_preg": self.dsp_fully_pipelined,
            "dsp48e2_mreg_preg_or_flops": self.dsp_mreg_preg_or_flops,
            "failing_endpoints": self.failing_endpoints,
            "deep_endpoints": self.deep_endpoints,
            "targets": self.targets(),
            "worst_paths": [p.as_dict() for p in self.paths],
            "deepest_path": self.deepest.as_dict() if self.deepest else None,
            "unmodeled_cells": self.unmodeled,
            "model": self.model.as_dict(),
            "units": {name: {k: v for k, v in unit.as_dict().items()
                             if k not in ("model", "units", "cells", "unmodeled_cells",
                                          "clock_ns")}
                      for name, unit in self.units.items()},
        }

    def targets(self) -> dict:
        """Issue 13's targets at this clock, each met or not."""
        w, d = self.worst, self.deepest
        return {"lut_levels_at_most": TARGET_LUT_LEVELS,
                "lut_levels_met": (d.lut_levels if d else 0) <= TARGET_LUT_LEVELS,
                "dsp_mreg_preg_met": self.dsp_fully_pipelined == self.dsp_count,
                "dsp_mreg_preg_or_flops_met": self.dsp_mreg_preg_or_flops == self.dsp_count,
                "clock_met": (w.ns if w else 0.0) <= self.model.clock_ns}

    def summary(self) -> str:
        w = self.worst
        if w is None:
            return "no register-to-register path"
        return (f"worst {w.ns:.2f} ns (slack {w.slack_ns:+.2f} at {self.model.clock_ns:.1f} ns), "
                f"{self.deepest.lut_levels} LUT levels at most, "
                f"{self.dsp_fully_pipelined}/{self.dsp_count} DSP48E2 with MREG+PREG set, "
                f"{self.dsp_mreg_preg_or_flops}/{self.dsp_count} set or as the flip-flops "
                "right after them; "
                f"{w.start} -> {w.end}")


#: The generator's units by the names of their registers (PyRTL scopes): a path
#: belongs to the unit its endpoint is in, the first pattern that matches.
UNITS = (
    ("pe", r"(^|[^A-Za-z0-9])pe_"),
    ("array", r"(^|[^A-Za-z0-9])array_"),
    ("vector_lane", r"(^|[^A-Za-z0-9])(lane\d+|vu)_"),
    ("controller", r""),
)


def unit_of(name: str, units=UNITS) -> str:
    """The unit an endpoint (or DSP) name belongs to under ``units``."""
    for unit, pattern in units:
        if re.search(pattern, name):
            return unit
    return units[-1][0]


def analyze_module(module: dict, top: str = "top", model: DelayModel = DelayModel(),
                   count: int = 10, verilog: str | None = None,
                   units: tuple[tuple[str, str], ...] | None = None) -> TimingReport:
    """The timing report of one flat Yosys JSON module (``verilog``: its source, to
    name the DSP48E2 by their operands); with ``units`` (such as :data:`UNITS`) also
    one report per unit in ``report.units``, from the same walk."""
    lines = verilog.splitlines() if verilog is not None else None
    g, unmodeled = build_graph(module, model, lines)
    order = _topological(g)
    arrival, pred = _longest(g, order, _ByDelay())
    levels, lpred = _longest(g, order, _ByLevels())
    dsps = [dsp_name(c, pretty(n), lines, g.names) for n, c in module.get("cells", {}).items()
            if c["type"] == "DSP48E2"]
    regs = dsp_registers(module)        # the DSP48E2 in cell order, as ``dsps``
    full = [(r.packed_mreg and r.packed_preg, r.mreg and r.preg) for r in regs]

    def report(name: str, ends: list[int], dsp_full: list[tuple[bool, bool]],
               cells: int | None) -> TimingReport:
        worst: dict[str, tuple[float, int]] = {}
        for v in ends:
            if v in arrival:
                key = _group(g.ends[v][0])
                if key not in worst or worst[key][0] < arrival[v]:
                    worst[key] = (arrival[v], v)
        ranked = sorted(worst.values(), key=lambda x: -x[0])[:count]
        paths = tuple(_trace(g, pred, v, model.clock_ns) for _, v in ranked)
        ended = [v for v in ends if v in levels]
        deepest = (_trace(g, lpred, max(ended, key=lambda v: levels[v]), model.clock_ns)
                   if ended else None)
        failing = sum(1 for v in ends if arrival.get(v, 0.0) > model.clock_ns)
        deep = sum(1 for v in ends if levels.get(v, 0) > TARGET_LUT_LEVELS)
        return TimingReport(name, paths, deepest, cells, len(dsp_full),
                            sum(packed for packed, _ in dsp_full), failing,
                            unmodeled if cells is not None else {}, model,
                            deep_endpoints=deep,
                            dsp_mreg_preg_or_flops=sum(any_ for _, any_ in dsp_full))

    whole = report(top, list(g.ends), full, len(module.get("cells", {})))
    if not units:
        return whole
    parts = {}
    for unit, _ in units:
        ends = [v for v in g.ends if unit_of(g.ends[v][0], units) == unit]
        unit_dsps = [f for n, f in zip(dsps, full) if unit_of(n, units) == unit]
        if ends or unit_dsps:
            parts[unit] = report(unit, ends, unit_dsps, None)
    return replace(whole, units=parts)


def top_module(netlist: dict, top: str | None = None) -> tuple[str, dict]:
    """The design's module in a ``write_json`` netlist (it also holds the cell
    library's blackboxes): ``top``, else the one marked ``top``."""
    modules = netlist.get("modules", {})
    if top is not None:
        if top not in modules:
            raise ValueError(f"netlist has no module {top}")
        return top, modules[top]
    for name, m in modules.items():
        if param({"parameters": m.get("attributes", {})}, "top"):
            return name, m
    raise ValueError("netlist has no top module")


def analyze(netlist: str | Path | dict, top: str | None = None,
            model: DelayModel = DelayModel(), count: int = 10,
            verilog: str | None = None, units=None) -> TimingReport:
    """The timing report of a Yosys ``write_json`` netlist (a path or the parsed JSON)."""
    if not isinstance(netlist, dict):
        netlist = json.loads(Path(netlist).read_text(encoding="utf-8"))
    name, module = top_module(netlist, top)
    return analyze_module(module, name, model, count, verilog, units)
