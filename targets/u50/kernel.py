"""The U50 RTL kernel: the generated core behind a Vitis ``ap_ctrl_hs`` interface.

:func:`build_kernel` elaborates, in one PyRTL block, what surrounds the core (the core
is its own module, :func:`fixar_gen.hw.core.build_core`'s, instantiated beside this one
by the kernel's top, so that it is elaborated and written once, and stays one module
in the netlist): the core's host ports are this block's ports, and around them

* ``s_axi_control`` -- an AXI4-Lite slave with the ap_ctrl_hs register map of
  :data:`.commands.REGISTERS` (:data:`CONTROL_ADDR_BITS`-bit addresses, 32-bit data),
  including the read-only error status (``STATUS``, ``ERROR_COMMAND``, ``ERROR_ADDR``);
* ``m_axi_gmem0`` -- an AXI4 master (64-bit addresses, ``axi_data_bits`` data, 256 by
  default; INCR bursts of at most ``max_burst`` beats that never cross a
  ``burst_bytes`` boundary, a divisor of 4 KB, so never a 4 KB one); whole beats, the
  entries packed into them as :class:`.commands.Layout` says; its channels are
  :mod:`.axi_master`'s, the small wire helpers :mod:`.wires`';
* a command processor that executes the command list of :mod:`.commands` exactly as
  :func:`.batch.model_executor` does: fetch a command (its beat(s) at ``commands``),
  decode it (the transfer's beats: ``ceil(count / entries per unit)`` units, by a
  multiply with the selected reciprocal), then LOAD (read bursts from
  ``image + offset``; a unit is collected, then its entries are written into the core's
  memory one a cycle), STORE / STATS (the core's combinational read ports, one entry a
  cycle, packed into a unit whose beats go to the write bursts; the command ends when
  every write response is in; with per-core memories, ``cfg.per_core_memories``, a
  STORE reads the copy of the command's core, put above the memory id of
  ``host_mem_raddr``, and a LOAD writes the copy its address names: the core field above
  the data address or the table index, ``HostMap.write_address`` / ``table_address``),
  RUN (pulse ``host_start`` with ``host_pre_fmt`` = the command's address, held, and
  wait for ``host_done``), END (the run ends: ap_done, ap_ready, back to idle).

Errors (docs/u50.md, "AXI errors"): a read beat whose RRESP is not OKAY or whose RLAST is
not where the burst the kernel asked for ends, a write response other than OKAY, a bad
command (unknown opcode, memory or stat kind, an offset off the beat, a count of 2**32
or more) or an argument off the beat.  The first one is recorded in the status
registers; the kernel then asks for no new burst, drops the read beats still owed,
sends the write beats still owed with WSTRB 0, waits for every response, skips the rest
of the list, and ends the run with ap_done (state ABORT, then FINISH).

:func:`kernel_verilog` is the complete Verilog: a thin top named after the kernel
(``ap_clk``, active-low ``ap_rst_n`` registered once and fed to PyRTL's synchronous
``rst``, the Vitis port names, ``interrupt``) over two PyRTL modules, the wrapper
``<name>_rtl`` and the core (``fixar_core.v``'s module, word for word), joined by the
core's host ports.  :func:`interface` lists the top's ports (for kernel.xml and the
tests), :data:`CONTROL_BITS` the control register's bits.

Control register semantics (Vitis HLS's ap_ctrl_hs): writing 1 to ap_start (bit 0)
sets it; the kernel starts when it is idle and ap_start is set, and clears ap_start when
the run ends (ap_ready) unless auto_restart (bit 7) is set; ap_done (bit 1) and ap_ready
(bit 3) are set when the run ends and cleared when the host reads 0x00; ap_idle
(bit 2) is 1 while the kernel is not running.  ISR bit i is set when its event occurs
and IER bit i is set (bit 0 ap_done, bit 1 ap_ready); writing 1 to an ISR bit toggles
it; ``interrupt = GIE & |(ISR & IER)``.  The kernel reads its arguments throughout a
run, so ap_ready comes with ap_done (as for a non-pipelined HLS function).  Register
accesses ignore address bits 1:0 (WSTRB selects the bytes).  Reset (``ap_rst_n`` low
for at least two cycles) returns every register, the core's controller and the AXI
state to idle; the core's memories keep their contents.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache

import pyrtl

from ...hw.build import Scope, fresh_block, named
from ...hw.core import CoreConfig
from ...hw.hostmap import HOST_READ_LATENCY, STAT_BITS, STAT_KINDS
from ...hw.vector import FORMAT_BITS
from .axi_master import BEATS_BITS, GMEM_ADDR_BITS, AxiShape, reader, writer
from .commands import (COMMAND_BYTES, COMMAND_WORDS, DEFAULT_AXI_DATA_BITS, ERROR_KINDS,
                       MEMORIES, OPCODES, REGISTER, Layout, entry_bits, reach)
from .wires import (DIVIDE_CYCLES, align_down, ceil_div, counter_bits, drive, fit, place_lane,
                    register)

CONTROL = "s_axi_control"
GMEM = "m_axi_gmem0"
CONTROL_ADDR_BITS = 6          # 0x00..0x3F: the map ends at 0x1C
CONTROL_DATA_BITS = 32
GMEM_ID_BITS = 1
WORD_BITS = 64                 # the command list's and the image's word
#: bits of the control register at 0x00
CONTROL_BITS = {"ap_start": 0, "ap_done": 1, "ap_idle": 2, "ap_ready": 3,
                "auto_restart": 7}
COMMAND_BITS = WORD_BITS * COMMAND_WORDS
COUNT_BITS = 32                # entries of one command (a larger count is rejected)

# command processor states
(IDLE, NEXT, FETCH, DECODE, DIVIDE_1, DIVIDE_2, DISPATCH, LOAD, STORE, RUN_START,
 RUN_WAIT, ABORT, FINISH) = range(13)
STATE_BITS = 4
assert DIVIDE_CYCLES == DISPATCH - DECODE - 1     # the states that wait for the divider


# ----------------------------------------------------------------------- interface

def interface(axi_data_bits: int = DEFAULT_AXI_DATA_BITS) -> dict[str, tuple[int, str]]:
    """The kernel top's ports: name -> (bits, "in" | "out"), in declaration order."""
    c, g = CONTROL, GMEM
    ports: dict[str, tuple[int, str]] = {"ap_clk": (1, "in"), "ap_rst_n": (1, "in")}
    for name, bits, way in (
            ("AWADDR", CONTROL_ADDR_BITS, "in"), ("AWVALID", 1, "in"), ("AWREADY", 1, "out"),
            ("WDATA", CONTROL_DATA_BITS, "in"), ("WSTRB", CONTROL_DATA_BITS // 8, "in"),
            ("WVALID", 1, "in"), ("WREADY", 1, "out"),
            ("BRESP", 2, "out"), ("BVALID", 1, "out"), ("BREADY", 1, "in"),
            ("ARADDR", CONTROL_ADDR_BITS, "in"), ("ARVALID", 1, "in"), ("ARREADY", 1, "out"),
            ("RDATA", CONTROL_DATA_BITS, "out"), ("RRESP", 2, "out"), ("RVALID", 1, "out"),
            ("RREADY", 1, "in")):
        ports[f"{c}_{name}"] = (bits, way)
    for ch in ("AW", "AR"):
        for name, bits in (("ID", GMEM_ID_BITS), ("ADDR", GMEM_ADDR_BITS), ("LEN", 8),
                           ("SIZE", 3), ("BURST", 2), ("LOCK", 1), ("CACHE", 4), ("PROT", 3),
                           ("QOS", 4), ("REGION", 4), ("VALID", 1)):
            ports[f"{g}_{ch}{name}"] = (bits, "out")
        ports[f"{g}_{ch}READY"] = (1, "in")
        if ch == "AW":
            ports[f"{g}_WDATA"] = (axi_data_bits, "out")
            ports[f"{g}_WSTRB"] = (axi_data_bits // 8, "out")
            ports[f"{g}_WLAST"] = (1, "out")
            ports[f"{g}_WVALID"] = (1, "out")
            ports[f"{g}_WREADY"] = (1, "in")
            ports[f"{g}_BID"] = (GMEM_ID_BITS, "in")
            ports[f"{g}_BRESP"] = (2, "in")
            ports[f"{g}_BVALID"] = (1, "in")
            ports[f"{g}_BREADY"] = (1, "out")
    for name, bits, way in (("RID", GMEM_ID_BITS, "in"), ("RDATA", axi_data_bits, "in"),
                            ("RRESP", 2, "in"), ("RLAST", 1, "in"), ("RVALID", 1, "in"),
                            ("RREADY", 1, "out")):
        ports[f"{g}_{name}"] = (bits, way)
    ports["interrupt"] = (1, "out")
    return ports


#: top-level inputs the kernel does not look at (it uses one AXI ID)
UNUSED_INPUTS = (f"{GMEM}_BID", f"{GMEM}_RID")
#: control addresses reach the PyRTL module as word addresses (the byte-in-word bits
#: are ignored, as in Vitis HLS: a partial write is selected by WSTRB)
WORD_ADDRESSED = (f"{CONTROL}_AWADDR", f"{CONTROL}_ARADDR")


def rtl_ports(axi_data_bits: int = DEFAULT_AXI_DATA_BITS) -> dict[str, tuple[int, str]]:
    """The PyRTL module's ports: :func:`interface` without the clock, the reset and
    :data:`UNUSED_INPUTS`, the control addresses as word addresses."""
    out = {}
    for name, (bits, way) in interface(axi_data_bits).items():
        if name in ("ap_clk", "ap_rst_n") or name in UNUSED_INPUTS:
            continue
        out[name] = (bits - 2, way) if name in WORD_ADDRESSED else (bits, way)
    return out


class _Ports:
    """The PyRTL module's ports by their Vitis names."""

    def __init__(self, axi_data_bits: int):
        self.wires: dict[str, pyrtl.WireVector] = {}
        for name, (bits, way) in rtl_ports(axi_data_bits).items():
            self.wires[name] = pyrtl.Input(bits, name) if way == "in" \
                else pyrtl.Output(bits, name)

    def c(self, name: str) -> pyrtl.WireVector:
        return self.wires[f"{CONTROL}_{name}"]

    def g(self, name: str) -> pyrtl.WireVector:
        return self.wires[f"{GMEM}_{name}"]


# ----------------------------------------------------------------------- AXI4-Lite

@dataclass
class _Control:
    start: pyrtl.WireVector          # ap_start register
    commands: pyrtl.WireVector       # 64-bit argument
    image: pyrtl.WireVector


def _control(p: _Ports, s: Scope, idle, finish, status: dict) -> _Control:
    """The AXI4-Lite slave and the ap_ctrl_hs registers.  ``idle``: the kernel is idle;
    ``finish``: the one cycle in which a run ends (ap_done and ap_ready); ``status``:
    the read-only registers (name -> value)."""
    WIDLE, WDATA, WRESP = range(3)
    wstate = register(2, s("wstate"))
    waddr = register(CONTROL_ADDR_BITS - 2, s("waddr"))    # word address
    rstate = register(1, s("rstate"))
    rdata = register(CONTROL_DATA_BITS, s("rdata"))

    awready = wstate == WIDLE
    wready = wstate == WDATA
    arready = rstate == 0
    drive(p.c("AWREADY"), awready)
    drive(p.c("WREADY"), wready)
    drive(p.c("BVALID"), wstate == WRESP)
    drive(p.c("BRESP"), 0)
    drive(p.c("ARREADY"), arready)
    drive(p.c("RVALID"), rstate == 1)
    drive(p.c("RDATA"), rdata)
    drive(p.c("RRESP"), 0)
    aw_hs = p.c("AWVALID") & awready
    w_hs = named(p.c("WVALID") & wready, s("w_hs"))
    ar_hs = named(p.c("ARVALID") & arready, s("ar_hs"))
    with pyrtl.conditional_assignment:
        with wstate == WIDLE:
            with aw_hs:
                waddr.next |= p.c("AWADDR")
                wstate.next |= WDATA
        with wstate == WDATA:
            with w_hs:
                wstate.next |= WRESP
        with wstate == WRESP:
            with p.c("BREADY"):
                wstate.next |= WIDLE
        with pyrtl.otherwise:
            wstate.next |= WIDLE
    with pyrtl.conditional_assignment:
        with rstate == 0:
            with ar_hs:
                rstate.next |= 1
        with rstate == 1:
            with p.c("RREADY"):
                rstate.next |= 0

    wdata, wstrb = p.c("WDATA"), p.c("WSTRB")

    def writes(offset: int) -> pyrtl.WireVector:
        return w_hs & (waddr == offset >> 2)

    def masked(old: pyrtl.WireVector) -> pyrtl.WireVector:
        """``old`` with the bytes WSTRB selects replaced by WDATA's."""
        parts = [pyrtl.select(wstrb[i], wdata[8 * i:8 * i + 8], old[8 * i:8 * i + 8])
                 for i in range(4)]
        return pyrtl.concat_list(parts)

    # -- control bits ------------------------------------------------------------------
    ap_start = register(1, s("ap_start"))
    ap_done = register(1, s("ap_done"))
    ap_ready = register(1, s("ap_ready"))
    auto_restart = register(1, s("auto_restart"))
    gie = register(1, s("gie"))
    ier = register(2, s("ier"))
    isr = register(2, s("isr"))
    ctrl_write = writes(REGISTER["CTRL"]) & wstrb[0]
    read_ctrl = ar_hs & (p.c("ARADDR") == REGISTER["CTRL"] >> 2)
    with pyrtl.conditional_assignment:
        with ctrl_write & wdata[0]:
            ap_start.next |= 1
        with finish:
            ap_start.next |= auto_restart
    with pyrtl.conditional_assignment:
        with ctrl_write:
            auto_restart.next |= wdata[7]
    for reg in (ap_done, ap_ready):
        with pyrtl.conditional_assignment:
            with finish:
                reg.next |= 1
            with read_ctrl:
                reg.next |= 0
    with pyrtl.conditional_assignment:
        with writes(REGISTER["GIE"]) & wstrb[0]:
            gie.next |= wdata[0]
    with pyrtl.conditional_assignment:
        with writes(REGISTER["IER"]) & wstrb[0]:
            ier.next |= wdata[:2]
    toggle = writes(REGISTER["ISR"]) & wstrb[0]
    isr_bits = []
    for bit in range(2):
        raised = finish & ier[bit]
        isr_bits.append(pyrtl.select(raised, pyrtl.Const(1, 1),
                                     pyrtl.select(toggle, isr[bit] ^ wdata[bit], isr[bit])))
    isr.next <<= pyrtl.concat_list(isr_bits)
    p.wires["interrupt"] <<= gie & (isr & ier != 0)

    # -- arguments -----------------------------------------------------------------------
    args = {}
    for name in ("COMMANDS_LO", "COMMANDS_HI", "IMAGE_LO", "IMAGE_HI"):
        reg = register(32, s(name.lower()))
        with pyrtl.conditional_assignment:
            with writes(REGISTER[name]):
                reg.next |= masked(reg)
        args[name] = reg

    # -- reads ---------------------------------------------------------------------------
    ctrl = pyrtl.concat_list([ap_start, ap_done, idle, ap_ready, pyrtl.Const(0, 3),
                              auto_restart])
    table = {REGISTER["CTRL"]: ctrl, REGISTER["GIE"]: gie, REGISTER["IER"]: ier,
             REGISTER["ISR"]: isr, **{REGISTER[n]: r for n, r in args.items()},
             **{REGISTER[n]: v for n, v in status.items()}}
    value = pyrtl.Const(0, CONTROL_DATA_BITS)
    for offset, reg in table.items():
        value = pyrtl.select(p.c("ARADDR") == offset >> 2, fit(reg, CONTROL_DATA_BITS),
                             value)
    with pyrtl.conditional_assignment:
        with ar_hs:
            rdata.next |= value
    return _Control(ap_start,
                    pyrtl.concat(args["COMMANDS_HI"], args["COMMANDS_LO"]),
                    pyrtl.concat(args["IMAGE_HI"], args["IMAGE_LO"]))


# ----------------------------------------------------------------------- the kernel

def kernel_config(cfg: CoreConfig, per_core_memories: bool | None = None) -> CoreConfig:
    """The core configuration a kernel is built around: ``cfg``, with per-core memories
    (``CoreConfig.per_core_memories``: each core its own copy of the data memories and
    tables) if ``per_core_memories`` is true, shared if false, as ``cfg`` says if None."""
    if per_core_memories is None or per_core_memories == cfg.per_core_memories:
        return cfg
    return dataclasses.replace(cfg, per_core_memories=bool(per_core_memories))


def build_kernel(cfg: CoreConfig, name: str = "fixar_kernel",
                 axi_data_bits: int = DEFAULT_AXI_DATA_BITS, max_burst: int = 256,
                 per_core_memories: bool | None = None) -> pyrtl.Block:
    """The kernel's AXI wrapper as a fresh PyRTL block; its ports are the Vitis-named
    ports of :func:`interface` without ``ap_clk`` / ``ap_rst_n`` (PyRTL's ``clk`` /
    ``rst``) and without :data:`UNUSED_INPUTS` (:func:`rtl_ports`), and the core's host
    ports (:func:`core_ports`, each the other way round: the core's inputs are the
    wrapper's outputs).  ``per_core_memories``: :func:`kernel_config`."""
    shape = AxiShape(axi_data_bits, max_burst)
    with fresh_block() as block:
        _kernel(kernel_config(cfg, per_core_memories), shape)
    return block


def _kernel(cfg: CoreConfig, shape: AxiShape) -> None:
    hm = cfg.hostmap
    p = _Ports(shape.data_bits)
    s = Scope("kernel")
    B = shape.data_bits
    lb = int(math.log2(shape.beat_bytes))

    # -- the core's host ports: the core's inputs are this module's outputs -----------------
    host = {port: pyrtl.Output(bits, port) if way == "in" else pyrtl.Input(bits, port)
            for port, (bits, way) in core_ports(cfg).items()}

    lay = [Layout(entry_bits(hm, m), B) for m in MEMORIES]
    data_lay = lay[MEMORIES.index("data")]
    stat_lay = Layout(STAT_BITS, B)
    cmd_lay = Layout(COMMAND_BITS, B)
    # a LOAD's address is the host write port's: with per-core memories the copy's core
    # field above the data address or the table index (HostMap.write_address,
    # table_address), as the simulators' drivers take it
    mem_addr_bits = {mem: host["host_mem_addr" if mem == "data" else f"host_{mem}_addr"].bitwidth
                     for mem in ("data", "desc", "slot", "imem")}
    entry_addr_bits = max(mem_addr_bits.values())
    addr_field_bits = max(entry_addr_bits, hm.stat_addr_bits, FORMAT_BITS)
    src_bits = max(hm.data_addr_bits, hm.stat_addr_bits)
    unit_in_bits = max([l.unit_bits for l in lay] + [cmd_lay.unit_bits])
    unit_out_bits = max(data_lay.unit_bits, stat_lay.unit_bits)
    beats_in = unit_in_bits // B
    beats_out = unit_out_bits // B

    state = register(STATE_BITS, s("state"))
    idle = state == IDLE
    finish = named(state == FINISH, s("finish"))

    # -- the error status (read-only registers) ---------------------------------------------
    err = register(1, s("error"))
    err_kind = register(3, s("error_kind"))
    err_resp = register(2, s("error_resp"))
    err_last = register(1, s("error_rlast"))
    err_cmd = register(32, s("error_command"))
    err_addr = register(GMEM_ADDR_BITS, s("error_addr"))
    status = pyrtl.concat_list([err, err_kind, err_resp, err_last])
    ctl = _control(p, Scope("control"), idle, finish,
                   {"STATUS": status, "ERROR_COMMAND": err_cmd,
                    "ERROR_ADDR_LO": err_addr[:32], "ERROR_ADDR_HI": err_addr[32:]})

    # -- the command being executed -----------------------------------------------------
    cmd_ptr = register(GMEM_ADDR_BITS, s("cmd_ptr"))     # the next command's address
    cmd_at = register(GMEM_ADDR_BITS, s("cmd_at"))       # this command's address
    cmd_index = register(32, s("cmd_index"))
    image = register(GMEM_ADDR_BITS, s("image"))
    opcode = register(8, s("opcode"))
    memory = register(8, s("memory"))
    core = register(hm.core_bits, s("core"))
    address = register(addr_field_bits, s("address"))
    count = register(COUNT_BITS, s("count"))
    count_high = register(1, s("count_high"))           # count >= 2**COUNT_BITS: rejected
    core_high = register(1, s("core_high"))             # core >= cores: rejected
    address_high = register(1, s("address_high"))       # address >= 2**addr_field_bits
    offset = register(GMEM_ADDR_BITS, s("offset"))
    target = register(GMEM_ADDR_BITS, s("target"))      # image + offset
    xfer_beats = register(BEATS_BITS, s("xfer_beats"))
    op_is = {op: opcode == i for i, op in enumerate(OPCODES)}
    mem_is = [memory == i for i in range(len(MEMORIES))]
    is_load, is_store, is_stats = op_is["LOAD"], op_is["STORE"], op_is["STATS"]
    moves = is_load | is_store | is_stats
    known = ((is_load & (memory < len(MEMORIES))) | is_store
             | (is_stats & (memory < len(STAT_KINDS))) | op_is["RUN"] | op_is["END"])
    bad_command = named(~known | (moves & ((offset[:lb] != 0) | count_high | core_high
                                           | address_high | _out_of_reach(
                                               hm, op_is, mem_is, address, count))),
                        s("bad_command"))
    empty = count == 0

    def per_memory(values, bits):
        out = pyrtl.Const(0, bits)
        for i, v in enumerate(values):
            out = pyrtl.select(mem_is[i], fit(v, bits), out)
        return out

    # the transfer's beats: ceil(count / entries per unit) units of the command's layout
    # (one divider: a multiply by the selected reciprocal)
    layouts = [(is_load & mem_is[i], l) for i, l in enumerate(lay)] + \
        [(is_stats, stat_lay), (pyrtl.Const(1, 1), data_lay)]
    units = ceil_div(count, [(c, l.per_unit) for c, l in layouts], COUNT_BITS,
                     s("divide"), pipelined=True)
    unit_beats = pyrtl.Const(layouts[-1][1].beats_per_unit, 3)
    for c, l in reversed(layouts[:-1]):
        unit_beats = pyrtl.select(c, pyrtl.Const(l.beats_per_unit, 3), unit_beats)

    in_next = state == NEXT
    in_fetch = state == FETCH
    in_decode = state == DECODE
    in_dispatch = state == DISPATCH
    in_load = state == LOAD
    in_store = state == STORE
    with pyrtl.conditional_assignment:
        with state == DIVIDE_2:             # DIVIDE_CYCLES after DECODE
            xfer_beats.next |= fit(units * unit_beats, BEATS_BITS)
    with pyrtl.conditional_assignment:
        with in_decode:
            target.next |= fit(image + offset, GMEM_ADDR_BITS)

    # -- reads: the command fetch and LOAD ------------------------------------------------
    rd_start = named(in_next | (in_dispatch & is_load & ~empty), s("rd_start"))
    rd_addr = pyrtl.select(in_next, align_down(cmd_ptr, lb), target)
    rd_beats = pyrtl.select(in_next, pyrtl.Const(cmd_lay.beats_per_unit, BEATS_BITS),
                            xfer_beats)
    unit = register(unit_in_bits, s("unit"))            # the beats of one unit, lowest first
    have = register(counter_bits(beats_in + 1), s("have"))  # beats in the unit
    need = pyrtl.select(in_fetch, pyrtl.Const(cmd_lay.beats_per_unit, have.bitwidth),
                        per_memory([l.beats_per_unit for l in lay], have.bitwidth))
    unit_full = have == need
    # LOAD: one entry a cycle from the bottom of the unit into the core's memory; the
    # next unit's first beat comes in as the last entry of this one goes out
    ld_left = register(COUNT_BITS, s("ld_left"))
    ld_addr = register(entry_addr_bits, s("ld_entry"))
    in_unit = register(counter_bits(max(l.per_unit for l in lay)), s("ld_in_unit"))
    entry = register(max(l.bits for l in lay), s("entry"))
    entry_at = register(entry_addr_bits, s("entry_at"))
    we = register(1, s("entry_we"))
    emit = named(in_load & unit_full & (ld_left != 0) & ~err, s("emit"))
    unit_done = (in_unit == per_memory([l.per_unit - 1 for l in lay], in_unit.bitwidth)) \
        | (ld_left == 1)
    refill = emit & unit_done
    shifted = per_memory([fit(unit[l.bits:], unit_in_bits) for l in lay], unit_in_bits)
    fetched = named(in_fetch & unit_full & ~err, s("fetched"))
    rd_full = pyrtl.WireVector(1, s("rd_has_beat"))
    take = named(rd_full & (in_fetch | in_load) & (~unit_full | refill) & ~err, s("take"))
    rd = reader(p, s.sub("rd"), shape, rd_start, rd_addr, rd_beats, take, err)
    rd_full <<= rd.full
    with pyrtl.conditional_assignment:
        with rd_start:
            have.next |= 0
        with take & refill:
            unit.next |= pyrtl.concat(unit[B:], rd.beat) if unit_in_bits > B else rd.beat
            have.next |= 1
        with take:
            unit.next |= place_lane(unit, have, rd.beat, B, beats_in)
            have.next |= have + 1
        with emit:
            unit.next |= shifted
            with unit_done:
                have.next |= 0
        with fetched:
            have.next |= 0
    with pyrtl.conditional_assignment:
        with in_dispatch & is_load:
            ld_left.next |= count
            ld_addr.next |= address[:entry_addr_bits]
            in_unit.next |= 0
        with emit:
            ld_left.next |= ld_left - 1
            ld_addr.next |= ld_addr + 1
            in_unit.next |= pyrtl.select(unit_done, pyrtl.Const(0, in_unit.bitwidth),
                                         in_unit + 1)
    we.next <<= emit
    with pyrtl.conditional_assignment:
        with emit:
            entry.next |= per_memory([unit[:l.bits] for l in lay], entry.bitwidth)
            entry_at.next |= ld_addr
    for i, mem in enumerate(MEMORIES):
        prefix = "host_mem" if mem == "data" else f"host_{mem}"
        host[f"{prefix}_we"] <<= we & mem_is[i]
        host[f"{prefix}_addr"] <<= entry_at[:mem_addr_bits[mem]]
        host[f"{prefix}_wdata"] <<= entry[:lay[i].bits]
    host["host_imem_core"] <<= core

    # -- STORE / STATS: entries packed into units, then beats ------------------------------
    src = register(src_bits, s("src_entry"))
    st_left = register(COUNT_BITS, s("st_left"))
    filled = register(counter_bits(max(data_lay.per_unit, stat_lay.per_unit)), s("st_in_unit"))
    packed = register(1, s("st_unit_ready"))
    out_beat = register(counter_bits(beats_out), s("st_beat"))
    out_unit = register(unit_out_bits, s("st_unit"))
    host["host_stat_core"] <<= core
    host["host_stat_kind"] <<= memory[0]
    k_src = pyrtl.select(is_stats, pyrtl.Const(stat_lay.per_unit - 1, filled.bitwidth),
                         pyrtl.Const(data_lay.per_unit - 1, filled.bitwidth))
    n_out = pyrtl.select(is_stats, pyrtl.Const(stat_lay.beats_per_unit - 1, out_beat.bitwidth),
                         pyrtl.Const(data_lay.beats_per_unit - 1, out_beat.bitwidth))
    unit_last = (filled == k_src) | (st_left == 1)
    base = pyrtl.select(packed, pyrtl.Const(0, unit_out_bits), out_unit)
    placed = pyrtl.select(
        is_stats,
        place_lane(base, filled, host["host_stat_rdata"], STAT_BITS, stat_lay.per_unit),
        place_lane(base, filled, host["host_mem_rdata"], data_lay.bits, data_lay.per_unit))
    beats = [out_unit[B * j:B * (j + 1)] for j in range(beats_out)]
    out_value = beats[0] if beats_out == 1 else pyrtl.mux(
        out_beat, *beats, default=pyrtl.Const(0, B))
    store_ok = is_store | is_stats
    wr_start = named(in_dispatch & store_ok & ~empty, s("wr_start"))
    wr = writer(p, s.sub("wr"), shape, wr_start, target, xfer_beats, out_value,
                 packed & in_store, err)
    beat_last = out_beat == n_out
    # the next unit's first entry goes in as this unit's last beat goes out
    packing = named(in_store & (~packed | (wr.accept & beat_last)) & (st_left != 0) & ~err,
                    s("packing"))
    # the core's data memory and statistics read synchronously (HOST_READ_LATENCY = 1):
    # they are given the address src takes next, so host_mem_rdata holds the word at
    # src and host_stat_rdata its statistic
    assert HOST_READ_LATENCY == 1, "the STORE packer is written for a one-cycle read"
    src_next = pyrtl.select(wr_start, address[:src_bits],
                            pyrtl.select(packing, fit(src + 1, src_bits), src))
    raddr = src_next[:hm.data_addr_bits]
    if hm.per_core:       # per-core memories: the command's core names the copy read
        raddr = pyrtl.concat(core, raddr)
    host["host_mem_raddr"] <<= raddr
    host["host_stat_addr"] <<= src_next[:hm.stat_addr_bits]
    with pyrtl.conditional_assignment:
        with wr_start:
            src.next |= address[:src_bits]
            st_left.next |= count
            filled.next |= 0
            packed.next |= 0
            out_beat.next |= 0
            out_unit.next |= 0
        with packing:
            out_unit.next |= placed
            src.next |= src + 1
            st_left.next |= st_left - 1
            filled.next |= pyrtl.select(unit_last, pyrtl.Const(0, filled.bitwidth), filled + 1)
            packed.next |= unit_last
            with packed:                       # its last beat leaves this cycle
                out_beat.next |= 0
        with wr.accept:
            with beat_last:
                out_beat.next |= 0
                packed.next |= 0
                out_unit.next |= 0
            with pyrtl.otherwise:
                out_beat.next |= out_beat + 1

    # -- RUN ------------------------------------------------------------------------------
    run_start = register(1, s("run_start"))
    pre_fmt = register(FORMAT_BITS, s("pre_fmt"))
    host["host_start"] <<= run_start
    host["host_pre_fmt"] <<= pre_fmt
    run_start.next <<= in_dispatch & op_is["RUN"]
    with pyrtl.conditional_assignment:
        with in_dispatch & op_is["RUN"]:
            pre_fmt.next |= address[:FORMAT_BITS]

    # -- fetch: the command's fields --------------------------------------------------------
    words = unit[:COMMAND_BITS]
    if cmd_lay.per_unit > 1:                  # several commands a beat: pick this one's
        index = cmd_at[int(math.log2(COMMAND_BYTES)):lb]
        words = pyrtl.mux(index, *[unit[COMMAND_BITS * i:COMMAND_BITS * (i + 1)]
                                   for i in range(cmd_lay.per_unit)])
    w = [words[WORD_BITS * i:WORD_BITS * (i + 1)] for i in range(COMMAND_WORDS)]
    with pyrtl.conditional_assignment:
        with fetched:
            opcode.next |= w[0][0:8]
            memory.next |= w[0][8:16]
            core.next |= w[0][16:16 + hm.core_bits]
            address.next |= w[1][:addr_field_bits]
            count.next |= w[2][:COUNT_BITS]
            count_high.next |= w[2][COUNT_BITS:] != 0
            core_high.next |= w[0][16:24] >= hm.cores
            address_high.next |= (w[1][addr_field_bits:] != 0
                                  if addr_field_bits < WORD_BITS else 0)
            offset.next |= w[3]

    # -- errors ----------------------------------------------------------------------------
    bad_args = (ctl.commands[:lb] != 0) | (ctl.image[:lb] != 0)
    starting = idle & ctl.start
    kind = {k: i for i, (k, _) in enumerate(ERROR_KINDS)}

    def record(kind_value, address_value, resp=0, last=0):
        err.next |= 1
        err_kind.next |= kind_value
        err_resp.next |= resp
        err_last.next |= last
        err_cmd.next |= cmd_index
        err_addr.next |= address_value

    with pyrtl.conditional_assignment:
        with starting:
            err.next |= bad_args
            err_kind.next |= pyrtl.select(bad_args, pyrtl.Const(kind["argument"], 3),
                                          pyrtl.Const(0, 3))
            err_resp.next |= 0
            err_last.next |= 0
            err_cmd.next |= 0
            err_addr.next |= pyrtl.select(bad_args, pyrtl.select(
                ctl.commands[:lb] != 0, ctl.commands, ctl.image), pyrtl.Const(0, GMEM_ADDR_BITS))
        with ~err:
            with rd.fault:
                record(pyrtl.select(in_fetch, pyrtl.Const(kind["fetch"], 3),
                                    pyrtl.Const(kind["load"], 3)),
                       pyrtl.select(in_fetch, cmd_at, target), rd.resp, rd.bad_last)
            with wr.fault:
                record(pyrtl.select(is_stats, pyrtl.Const(kind["stats"], 3),
                                    pyrtl.Const(kind["store"], 3)), target, wr.resp)
            with in_decode & bad_command:
                record(kind["command"], cmd_at)

    # -- the command processor ---------------------------------------------------------------
    with pyrtl.conditional_assignment:
        with starting:
            cmd_ptr.next |= ctl.commands
            cmd_index.next |= (1 << 32) - 1
        with in_next:
            cmd_at.next |= cmd_ptr
            cmd_ptr.next |= fit(cmd_ptr + COMMAND_BYTES, GMEM_ADDR_BITS)
            cmd_index.next |= cmd_index + 1
    with pyrtl.conditional_assignment:
        with idle:
            with ctl.start:
                image.next |= ctl.image
                state.next |= pyrtl.select(bad_args, pyrtl.Const(FINISH, STATE_BITS),
                                           pyrtl.Const(NEXT, STATE_BITS))
        with in_next:
            state.next |= FETCH
        with in_fetch:
            with err:
                state.next |= ABORT
            with fetched:
                state.next |= DECODE
        with in_decode:
            with bad_command | op_is["END"]:
                state.next |= FINISH
            with pyrtl.otherwise:
                state.next |= DIVIDE_1
        with state == DIVIDE_1:
            state.next |= DIVIDE_2
        with state == DIVIDE_2:
            state.next |= DISPATCH
        with in_dispatch:
            with op_is["RUN"]:
                state.next |= RUN_START
            with empty:
                state.next |= NEXT
            with is_load:
                state.next |= LOAD
            with pyrtl.otherwise:
                state.next |= STORE
        with in_load:
            with err:
                state.next |= ABORT
            with (ld_left == 0) & ~we:
                state.next |= NEXT
        with in_store:
            with err:
                state.next |= ABORT
            with wr.done:
                state.next |= NEXT
        with state == RUN_START:
            state.next |= RUN_WAIT
        with state == RUN_WAIT:
            with host["host_done"]:
                state.next |= NEXT
        with state == ABORT:
            with rd.quiet & wr.quiet & ~we:
                state.next |= FINISH
        with pyrtl.otherwise:              # FINISH
            state.next |= IDLE


# ----------------------------------------------------------------------- Verilog

def _out_of_reach(hm, op_is, mem_is, address, count):
    """Whether a move names entries its memory does not have (``commands.reach``, the
    same rule as ``commands.command_problem``): address bits above the memory's port,
    a per-core LOAD's copy beyond the cores, entries running past the memory's end."""
    bad = pyrtl.Const(0, 1)
    moves = [(op_is["LOAD"] & mem_is[i], reach(hm, "LOAD", m)) for i, m in enumerate(MEMORIES)]
    moves += [(op_is["STORE"], reach(hm, "STORE", "data")),
              (op_is["STATS"], reach(hm, "STATS", STAT_KINDS[0]))]
    for chosen, r in moves:
        top = r.index_bits + (hm.core_bits if r.core_field else 0)
        wrong = address[top:] != 0 if top < address.bitwidth else pyrtl.Const(0, 1)
        if r.core_field and hm.cores < 1 << hm.core_bits:
            wrong = wrong | (address[r.index_bits:top] >= hm.cores)
        end = pyrtl.concat(pyrtl.Const(0, 1), address[:r.index_bits]) + count
        wrong = wrong | (end > (1 << r.index_bits))
        bad = bad | (chosen & wrong)
    return bad


def rtl_module(name: str) -> str:
    """The PyRTL module's name inside the kernel top ``name``."""
    return f"{name}_rtl"


def core_ports(cfg: CoreConfig) -> dict[str, tuple[int, str]]:
    """The core's host ports the wrapper drives or reads: name -> (bits, the core's
    "in"/"out"); all of ``cfg.hostmap.ports()`` but ``host_busy``."""
    return {port: shape for port, shape in cfg.hostmap.ports().items()
            if port != "host_busy"}


def _range(bits: int) -> str:
    """A Verilog declaration's bit range (none for one bit)."""
    return f"[{bits - 1}:0] " if bits > 1 else ""


def _top(name: str, axi_data_bits: int, cfg: CoreConfig) -> str:
    ports = interface(axi_data_bits)
    host = core_ports(cfg)
    decl = [f"    {'input  wire' if way == 'in' else 'output wire'} {_range(bits)}{port}"
            for port, (bits, way) in ports.items()]
    conns = [f"        .{port}({port}[{ports[port][0] - 1}:2])" if port in WORD_ADDRESSED
             else f"        .{port}({port})" for port in rtl_ports(axi_data_bits)]
    conns += [f"        .{port}({port})" for port in host]
    unused = ", ".join(list(UNUSED_INPUTS) + [f"{port}[1:0]" for port in WORD_ADDRESSED])
    wires = [f"    wire {_range(bits)}{port};" for port, (bits, _) in host.items()]
    return "\n".join([
        f"// {name}: the fixar_gen Vitis RTL kernel (generated by "
        "fixar_gen/targets/u50/kernel.py; do not edit).",
        "// ap_ctrl_hs control on s_axi_control, one AXI4 master m_axi_gmem0: the AXI",
        f"// wrapper is the PyRTL module {rtl_module(name)} below, the core {cfg.name} after it",
        "// (the two joined by the core's host ports).",
        f"module {name} (",
        ",\n".join(decl),
        ");",
        "    // PyRTL's registers reset synchronously on an active-high rst: ap_rst_n is",
        "    // registered once (so a reset takes effect one cycle after ap_rst_n falls).",
        "    reg rst_q;",
        "    always @(posedge ap_clk) rst_q <= ~ap_rst_n;",
        "    // inputs the kernel does not need: it uses one AXI ID, and the control",
        "    // registers are word-addressed",
        "    // (Verilator does not report signals named *unused*)",
        f"    wire unused_inputs = &{{1'b0, {unused}}};",
        "    // the core's host ports",
        *wires,
        "    wire unused_host_busy;",
        f"    {rtl_module(name)} rtl (",
        "        .clk(ap_clk),",
        "        .rst(rst_q),",
        ",\n".join(conns),
        "    );",
        f"    {cfg.name} core (",
        "        .clk(ap_clk),",
        "        .rst(rst_q),",
        ",\n".join([f"        .{port}({port})" for port in host]
                   + ["        .host_busy(unused_host_busy)"]),
        "    );",
        "endmodule",
        ""])


@lru_cache(maxsize=4)
def kernel_verilog(cfg: CoreConfig, name: str = "fixar_kernel",
                   axi_data_bits: int = DEFAULT_AXI_DATA_BITS, max_burst: int = 256,
                   core_verilog: str | None = None,
                   per_core_memories: bool | None = None) -> str:
    """The complete Verilog of the kernel: the top ``name``, the PyRTL wrapper module and
    the core's module (``core_verilog``: the Verilog `fixar generate` wrote for ``cfg``;
    elaborated here when not given).  ``per_core_memories``: :func:`kernel_config` (the
    core elaborated here, or ``core_verilog``, must be that configuration's)."""
    from ...hw.core import build_core
    from ...hw.verilate import emit_verilog
    cfg = kernel_config(cfg, per_core_memories)
    if cfg.name in (name, rtl_module(name)):
        raise ValueError(f"the kernel {name!r} and its core {cfg.name!r} need distinct "
                         "module names")
    if core_verilog is None:
        core_verilog = emit_verilog(build_core(cfg), cfg.name, initialize_registers=False)
    block = build_kernel(cfg, name, axi_data_bits, max_burst)
    inner = emit_verilog(block, rtl_module(name), initialize_registers=False)
    return _top(name, axi_data_bits, cfg) + "\n" + inner + "\n" + core_verilog
