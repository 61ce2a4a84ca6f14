"""The U50 RTL kernel: the generated core behind a Vitis ``ap_ctrl_hs`` interface.

:func:`build_kernel` elaborates, in one PyRTL block, the core
(:func:`fixar_gen.hw.core.elaborate_core`, its host ports as internal wires) and around
it

* ``s_axi_control`` -- an AXI4-Lite slave with the ap_ctrl_hs register map of
  :data:`.commands.REGISTERS` (:data:`CONTROL_ADDR_BITS`-bit addresses, 32-bit data),
  including the read-only error status (``STATUS``, ``ERROR_COMMAND``, ``ERROR_ADDR``);
* ``m_axi_gmem0`` -- an AXI4 master (64-bit addresses, ``axi_data_bits`` data, 256 by
  default; INCR bursts of at most ``max_burst`` beats that never cross a
  ``burst_bytes`` boundary, a divisor of 4 KB, so never a 4 KB one); whole beats, the
  entries packed into them as :class:`.commands.Layout` says;
* a command processor that executes the command list of :mod:`.commands` exactly as
  :func:`.batch.model_executor` does: fetch a command (its beat(s) at ``commands``),
  decode it (the transfer's beats: ``ceil(count / entries per unit)`` units, by a
  multiply with the selected reciprocal), then LOAD (read bursts from
  ``image + offset``; a unit is collected, then its entries are written into the core's
  memory one a cycle), STORE / STATS (the core's combinational read ports, one entry a
  cycle, packed into a unit whose beats go to the write bursts; the command ends when
  every write response is in), RUN (pulse ``host_start`` with ``host_pre_fmt`` = the
  command's address, held, and wait for ``host_done``), END (the run ends: ap_done,
  ap_ready, back to idle).

Errors (docs/u50.md, "AXI errors"): a read beat whose RRESP is not OKAY or whose RLAST is
not where the burst the kernel asked for ends, a write response other than OKAY, a bad
command (unknown opcode, memory or stat kind, an offset off the beat, a count of 2**32
or more) or an argument off the beat.  The first one is recorded in the status
registers; the kernel then asks for no new burst, drops the read beats still owed,
sends the write beats still owed with WSTRB 0, waits for every response, skips the rest
of the list, and ends the run with ap_done (state ABORT, then FINISH).

:func:`kernel_verilog` is the complete Verilog: a thin top named after the kernel
(``ap_clk``, active-low ``ap_rst_n`` registered once and fed to PyRTL's synchronous
``rst``, the Vitis port names, ``interrupt``) over the PyRTL module
``<name>_rtl``.  :func:`interface` lists the top's ports (for kernel.xml and the
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

import math
from dataclasses import dataclass
from functools import lru_cache

import pyrtl

from ...hw.build import Scope, fresh_block, named
from ...hw.core import CoreConfig, elaborate_core
from ...hw.hostmap import STAT_KINDS
from ...hw.vector import FORMAT_BITS
from ...hw.hostmap import STAT_BITS
from .commands import (AXI_DATA_BITS, COMMAND_BYTES, COMMAND_WORDS, DEFAULT_AXI_DATA_BITS,
                       ERROR_KINDS, MEMORIES, OPCODES, REGISTER, Layout, entry_bits)

CONTROL = "s_axi_control"
GMEM = "m_axi_gmem0"
CONTROL_ADDR_BITS = 6          # 0x00..0x3F: the map ends at 0x1C
CONTROL_DATA_BITS = 32
GMEM_ADDR_BITS = 64
GMEM_ID_BITS = 1
WORD_BITS = 64                 # the command list's and the image's word
#: AxCACHE of every burst: normal non-cacheable bufferable (what Vitis HLS issues)
GMEM_CACHE = 0b0011
#: bits of the control register at 0x00
CONTROL_BITS = {"ap_start": 0, "ap_done": 1, "ap_idle": 2, "ap_ready": 3,
                "auto_restart": 7}
COMMAND_BITS = WORD_BITS * COMMAND_WORDS
COUNT_BITS = 32                # entries of one command (a larger count is rejected)
BEATS_BITS = 36                # beats of one command's transfer
OWED_BITS = BEATS_BITS + 1     # beats asked for and not yet received (or sent)
OUTSTANDING_BITS = 5           # write bursts awaiting their response (at most 31)

# command processor states
(IDLE, NEXT, FETCH, DECODE, DISPATCH, LOAD, STORE, RUN_START, RUN_WAIT, ABORT,
 FINISH) = range(11)
STATE_BITS = 4


@dataclass(frozen=True)
class AxiShape:
    """The AXI4 master's data width and burst rule."""

    data_bits: int = DEFAULT_AXI_DATA_BITS
    max_burst: int = 256

    def __post_init__(self) -> None:
        if self.data_bits not in AXI_DATA_BITS:
            raise ValueError(f"axi_data_bits = {self.data_bits}: the kernel supports "
                             f"{', '.join(map(str, AXI_DATA_BITS))}")
        if self.max_burst not in tuple(1 << i for i in range(1, 9)):
            raise ValueError(f"max_burst = {self.max_burst}: a power of two from 2 to 256")

    @property
    def beat_bytes(self) -> int:
        return self.data_bits // 8

    @property
    def burst_bytes(self) -> int:
        """Bursts stay inside one aligned block of this many bytes (divides 4096)."""
        return min(4096, self.max_burst * self.beat_bytes)


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


# ----------------------------------------------------------------------- helpers

def _z(value, bits: int) -> pyrtl.WireVector:
    value = pyrtl.as_wires(value)
    return value[:bits] if value.bitwidth >= bits else value.zero_extended(bits)


def _reg(bits: int, name: str) -> pyrtl.Register:
    return pyrtl.Register(bits, name=name)


def _min(a, b) -> pyrtl.WireVector:
    return pyrtl.select(a < b, a, b)


def _align_down(addr, low: int) -> pyrtl.WireVector:
    bits = addr.bitwidth
    return pyrtl.concat(addr[low:], pyrtl.Const(0, low)) if low else addr[:bits]


def _drive(wire: pyrtl.WireVector, value) -> None:
    wire <<= value


def _bits_for(n: int) -> int:
    """Bits of a counter of 0..n-1 (at least 1)."""
    return max(1, (n - 1).bit_length())


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
    wstate = _reg(2, s("wstate"))
    waddr = _reg(CONTROL_ADDR_BITS - 2, s("waddr"))    # word address
    rstate = _reg(1, s("rstate"))
    rdata = _reg(CONTROL_DATA_BITS, s("rdata"))

    awready = wstate == WIDLE
    wready = wstate == WDATA
    arready = rstate == 0
    _drive(p.c("AWREADY"), awready)
    _drive(p.c("WREADY"), wready)
    _drive(p.c("BVALID"), wstate == WRESP)
    _drive(p.c("BRESP"), 0)
    _drive(p.c("ARREADY"), arready)
    _drive(p.c("RVALID"), rstate == 1)
    _drive(p.c("RDATA"), rdata)
    _drive(p.c("RRESP"), 0)
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
    ap_start = _reg(1, s("ap_start"))
    ap_done = _reg(1, s("ap_done"))
    ap_ready = _reg(1, s("ap_ready"))
    auto_restart = _reg(1, s("auto_restart"))
    gie = _reg(1, s("gie"))
    ier = _reg(2, s("ier"))
    isr = _reg(2, s("isr"))
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
        reg = _reg(32, s(name.lower()))
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
        value = pyrtl.select(p.c("ARADDR") == offset >> 2, _z(reg, CONTROL_DATA_BITS),
                             value)
    with pyrtl.conditional_assignment:
        with ar_hs:
            rdata.next |= value
    return _Control(ap_start,
                    pyrtl.concat(args["COMMANDS_HI"], args["COMMANDS_LO"]),
                    pyrtl.concat(args["IMAGE_HI"], args["IMAGE_LO"]))


# ----------------------------------------------------------------------- AXI4 master

def _burst(s: Scope, shape: AxiShape, start, addr, nbytes, ready, stop):
    """The address channel of a transfer of ``nbytes`` (whole beats) from the
    beat-aligned byte ``addr``: INCR bursts that stay inside aligned ``burst_bytes``
    blocks.  While ``stop`` is high no new burst is offered; a burst already offered
    stays valid until it is accepted (as AXI requires).
    Returns (valid, address, len, handshake, every burst issued)."""
    lb = int(math.log2(shape.beat_bytes))
    lbb = int(math.log2(shape.burst_bytes))
    cur = _reg(GMEM_ADDR_BITS, s("addr"))
    end = _reg(GMEM_ADDR_BITS, s("end"))
    held = _reg(1, s("held"))             # offered last cycle and not accepted
    block_end = _z(_align_down(cur, lbb) + shape.burst_bytes, GMEM_ADDR_BITS)
    burst_end = named(_min(block_end, end), s("burst_end"))
    beats = _z(burst_end - cur, GMEM_ADDR_BITS)[lb:lb + 9]
    length = _z(beats - 1, 8)
    pending = cur != end
    valid = named(pending & (held | ~stop), s("valid"))
    hs = valid & ready
    held.next <<= valid & ~ready
    with pyrtl.conditional_assignment:
        with start:
            cur.next |= addr
            end.next |= _z(addr + nbytes, GMEM_ADDR_BITS)
        with hs:
            cur.next |= burst_end
    return valid, cur, length, hs, ~pending


def _address_outputs(p: _Ports, ch: str, shape: AxiShape, valid, addr, length) -> None:
    _drive(p.g(f"{ch}VALID"), valid)
    _drive(p.g(f"{ch}ADDR"), addr)
    _drive(p.g(f"{ch}LEN"), length)
    _drive(p.g(f"{ch}ID"), 0)
    _drive(p.g(f"{ch}SIZE"), int(math.log2(shape.beat_bytes)))
    _drive(p.g(f"{ch}BURST"), 1)           # INCR
    _drive(p.g(f"{ch}LOCK"), 0)
    _drive(p.g(f"{ch}CACHE"), GMEM_CACHE)
    _drive(p.g(f"{ch}PROT"), 0)
    _drive(p.g(f"{ch}QOS"), 0)
    _drive(p.g(f"{ch}REGION"), 0)


def _burst_last(shape: AxiShape, addr, end) -> pyrtl.WireVector:
    """The beat at byte ``addr`` is the last of its burst (the next beat starts a new
    ``burst_bytes`` block, or the transfer ends at ``end``)."""
    lbb = int(math.log2(shape.burst_bytes))
    after = _z(addr + shape.beat_bytes, GMEM_ADDR_BITS)
    return (after[:lbb] == 0) | (after == end)


@dataclass
class _Reader:
    beat: pyrtl.WireVector     # the beat waiting in the buffer
    full: pyrtl.WireVector     # a beat waits (a register)
    fault: pyrtl.WireVector    # this cycle's R beat is bad (dropped)
    resp: pyrtl.WireVector     # its RRESP
    bad_last: pyrtl.WireVector  # its RLAST is not where the burst ends
    quiet: pyrtl.WireVector    # no burst offered, no beat owed


def _reader(p: _Ports, s: Scope, shape: AxiShape, start, addr, beats, take,
            abort) -> _Reader:
    """Reads ``beats`` beats from the beat-aligned byte ``addr`` into a one-beat buffer
    (``take``, a function of registers, empties it).  Every R beat is checked: RRESP
    must be OKAY and RLAST high exactly on the last beat of each burst asked for; a bad
    beat is dropped and reported.  After ``abort`` no new burst is asked for and the
    beats still owed are received and dropped (``quiet`` when none is owed).  RREADY
    depends on registers only."""
    lb = int(math.log2(shape.beat_bytes))
    nbytes = _z(pyrtl.concat(beats, pyrtl.Const(0, lb)), GMEM_ADDR_BITS)
    valid, cur, length, ar_hs, _ = _burst(s.sub("ar"), shape, start, addr, nbytes,
                                          p.g("ARREADY"), abort)
    _address_outputs(p, "AR", shape, valid, cur, length)

    buf = _reg(shape.data_bits, s("buf"))
    full = _reg(1, s("full"))
    raddr = _reg(GMEM_ADDR_BITS, s("raddr"))      # byte address of the next R beat
    rend = _reg(GMEM_ADDR_BITS, s("rend"))
    owed = _reg(OWED_BITS, s("owed"))             # beats asked for, not yet received
    rready = ~full | take | abort
    _drive(p.g("RREADY"), rready)
    r_hs = named(p.g("RVALID") & rready, s("r_hs"))
    bad_resp = p.g("RRESP") != 0
    bad_last = named(p.g("RLAST") != _burst_last(shape, raddr, rend), s("bad_last"))
    fault = named(r_hs & (bad_resp | bad_last) & ~abort, s("fault"))
    good = r_hs & ~bad_resp & ~bad_last & ~abort
    with pyrtl.conditional_assignment:
        with start:
            raddr.next |= addr
            rend.next |= _z(addr + nbytes, GMEM_ADDR_BITS)
        with r_hs:
            raddr.next |= _z(raddr + shape.beat_bytes, GMEM_ADDR_BITS)
    asked = named(pyrtl.select(ar_hs, _z(_z(length, 9) + 1, OWED_BITS),
                               pyrtl.Const(0, OWED_BITS)), s("asked"))
    owed.next <<= _z(owed + asked - _z(r_hs, OWED_BITS), OWED_BITS)
    with pyrtl.conditional_assignment:
        with good:
            buf.next |= p.g("RDATA")
            full.next |= 1
        with take | abort:
            full.next |= 0
    quiet = named(~valid & (owed == 0), s("quiet"))
    return _Reader(buf, full, fault, p.g("RRESP"), bad_last, quiet)


@dataclass
class _Writer:
    accept: pyrtl.WireVector   # the source's beat is taken this cycle
    fault: pyrtl.WireVector    # a write response other than OKAY this cycle
    resp: pyrtl.WireVector     # its BRESP
    done: pyrtl.WireVector     # every beat written and acknowledged
    quiet: pyrtl.WireVector    # no burst offered, no beat owed, no response awaited


def _writer(p: _Ports, s: Scope, shape: AxiShape, start, addr, beats, beat, has_beat,
            abort) -> _Writer:
    """Writes ``beats`` beats to the beat-aligned byte ``addr``, taking each from
    ``beat`` when ``has_beat`` (``accept`` says when).  AW bursts go ahead (at most 31
    awaiting their response); a W beat is sent only for a burst already accepted, with
    WLAST on each burst's last beat.  Every BRESP is checked.  After ``abort`` no new
    burst is asked for, the beats owed to bursts already accepted go out with WSTRB 0
    (nothing more is written) and the responses are awaited.  Every AXI output is a
    register (or a function of registers only)."""
    lb = int(math.log2(shape.beat_bytes))
    nbytes = _z(pyrtl.concat(beats, pyrtl.Const(0, lb)), GMEM_ADDR_BITS)
    outstanding = _reg(OUTSTANDING_BITS, s("outstanding"))
    room = outstanding != (1 << OUTSTANDING_BITS) - 1
    valid, cur, length, aw_hs, issued = _burst(s.sub("aw"), shape, start, addr, nbytes,
                                               p.g("AWREADY"), abort | ~room)
    _address_outputs(p, "AW", shape, valid, cur, length)
    b_hs = p.g("BVALID")
    _drive(p.g("BREADY"), 1)
    outstanding.next <<= _z(outstanding + _z(aw_hs, OUTSTANDING_BITS)
                            - _z(b_hs, OUTSTANDING_BITS), OUTSTANDING_BITS)
    fault = named(b_hs & (p.g("BRESP") != 0) & ~abort, s("fault"))

    credit = _reg(OWED_BITS, s("credit"))       # W beats owed to accepted bursts
    left = _reg(BEATS_BITS, s("left"))          # beats still to take from the source
    waddr = _reg(GMEM_ADDR_BITS, s("waddr"))    # byte address of the next W beat
    wend = _reg(GMEM_ADDR_BITS, s("wend"))
    data = _reg(shape.data_bits, s("wdata"))
    strb = _reg(shape.beat_bytes, s("wstrb"))
    last = _reg(1, s("wlast"))
    wvalid = _reg(1, s("wvalid"))
    _drive(p.g("WDATA"), data)
    _drive(p.g("WSTRB"), strb)
    _drive(p.g("WLAST"), last)
    _drive(p.g("WVALID"), wvalid)
    sent = wvalid & p.g("WREADY")
    free = (~wvalid | p.g("WREADY")) & (credit != 0)
    kill = abort | fault                          # from the cycle a bad response arrives
    accept = named(free & has_beat & (left != 0) & ~kill, s("accept"))
    void = free & kill                            # a beat owed after an error: no bytes
    load = accept | void
    granted = named(pyrtl.select(aw_hs, _z(_z(length, 9) + 1, OWED_BITS),
                                 pyrtl.Const(0, OWED_BITS)), s("granted"))
    credit.next <<= _z(credit + granted - _z(load, OWED_BITS), OWED_BITS)
    with pyrtl.conditional_assignment:
        with start:
            left.next |= beats
            waddr.next |= addr
            wend.next |= _z(addr + nbytes, GMEM_ADDR_BITS)
        with load:
            with accept:
                left.next |= left - 1
            waddr.next |= _z(waddr + shape.beat_bytes, GMEM_ADDR_BITS)
    with pyrtl.conditional_assignment:
        with load:
            data.next |= pyrtl.select(kill, pyrtl.Const(0, shape.data_bits), beat)
            strb.next |= pyrtl.select(kill, pyrtl.Const(0, shape.beat_bytes),
                                      pyrtl.Const((1 << shape.beat_bytes) - 1,
                                                  shape.beat_bytes))
            last.next |= _burst_last(shape, waddr, wend)
            wvalid.next |= 1
        with sent:
            wvalid.next |= 0
    quiet = named(~valid & (credit == 0) & ~wvalid & (outstanding == 0), s("quiet"))
    done = quiet & issued & (left == 0)
    return _Writer(accept, fault, p.g("BRESP"), named(done, s("done")), quiet)


# ----------------------------------------------------------------------- packing

def _reciprocal(k: int, bits: int) -> tuple[int, int]:
    """(magic, shift) with ceil(x / k) = ((x + k - 1) * magic) >> shift for every
    ``x < 2**bits``: magic = ceil(2**shift / k) with shift = bits + 1 + ceil(log2 k), so
    the error of the product stays below 1/k."""
    shift = bits + 1 + (k - 1).bit_length()
    return -(-(1 << shift) // k), shift


def ceil_div_model(x: int, k: int, bits: int) -> int:
    """What :func:`_ceil_div` computes, in Python (tests)."""
    magic, shift = _reciprocal(k, bits)
    return ((x + k - 1) * magic) >> shift


def _ceil_div(x: pyrtl.WireVector, choices: list[tuple[pyrtl.WireVector, int]],
              bits: int) -> pyrtl.WireVector:
    """ceil(x / k) for ``x < 2**bits``, exact, where k is the constant of the first
    ``(condition, k)`` whose condition holds (else the last one's): one multiplier by a
    selected reciprocal (:func:`_reciprocal`), whatever the number of choices."""
    out_bits = bits + 1
    addend, magic, shift = [], [], []
    for _, k in choices:
        m, sh = _reciprocal(k, bits)
        addend.append(k - 1)
        magic.append(m)
        shift.append(sh)
    magic_bits = max(m.bit_length() for m in magic)

    def pick(values, name):
        out = values[-1]
        for (cond, _), v in reversed(list(zip(choices[:-1], values[:-1]))):
            out = pyrtl.select(cond, v, out)
        return named(out, name)
    add = pick([pyrtl.Const(a, bits) for a in addend], "kernel_div_addend")
    mul = pick([pyrtl.Const(m, magic_bits) for m in magic], "kernel_div_magic")
    product = _z(x + add, bits + 1) * mul     # a tmp: its low bits are unused (waived)
    # the shifts are constants: take the slice of the product the chosen one selects
    return pick([_z(product[sh:], out_bits) for sh in shift], "kernel_div_quotient")


def _place(unit: pyrtl.WireVector, index, value, width: int, lanes: int):
    """``unit`` with lane ``index`` (lanes of ``width`` bits from bit 0) set to ``value``."""
    parts = [pyrtl.select(index == i, _z(value, width), unit[width * i:width * (i + 1)])
             for i in range(lanes)]
    rest = unit.bitwidth - width * lanes
    if rest:
        parts.append(unit[width * lanes:])
    return pyrtl.concat_list(parts)


# ----------------------------------------------------------------------- the kernel

def build_kernel(cfg: CoreConfig, name: str = "fixar_kernel",
                 axi_data_bits: int = DEFAULT_AXI_DATA_BITS, max_burst: int = 256) -> pyrtl.Block:
    """The kernel (core + AXI wrapper) as a fresh PyRTL block; its ports are the
    Vitis-named ports of :func:`interface` without ``ap_clk`` / ``ap_rst_n`` (PyRTL's
    ``clk`` / ``rst``) and without :data:`UNUSED_INPUTS`."""
    shape = AxiShape(axi_data_bits, max_burst)
    with fresh_block() as block:
        _kernel(cfg, shape)
    return block


def _kernel(cfg: CoreConfig, shape: AxiShape) -> None:
    hm = cfg.hostmap
    p = _Ports(shape.data_bits)
    s = Scope("kernel")
    B = shape.data_bits
    lb = int(math.log2(shape.beat_bytes))

    # -- the core, its host ports as wires -------------------------------------------------
    host = {}
    for port, (bits, _) in hm.ports().items():
        if port != "host_busy":
            host[port] = pyrtl.WireVector(bits, port)
    elaborate_core(cfg, host)

    lay = [Layout(entry_bits(hm, m), B) for m in MEMORIES]
    data_lay = lay[MEMORIES.index("data")]
    stat_lay = Layout(STAT_BITS, B)
    cmd_lay = Layout(COMMAND_BITS, B)
    mem_addr_bits = {"data": hm.addr_bits, "desc": hm.buffer_bits, "slot": hm.slot_bits,
                     "imem": hm.imem_bits}
    entry_addr_bits = max(mem_addr_bits.values())
    addr_field_bits = max(entry_addr_bits, hm.stat_addr_bits, FORMAT_BITS)
    src_bits = max(hm.addr_bits, hm.stat_addr_bits)
    unit_in_bits = max([l.unit_bits for l in lay] + [cmd_lay.unit_bits])
    unit_out_bits = max(data_lay.unit_bits, stat_lay.unit_bits)
    beats_in = unit_in_bits // B
    beats_out = unit_out_bits // B

    state = _reg(STATE_BITS, s("state"))
    idle = state == IDLE
    finish = named(state == FINISH, s("finish"))

    # -- the error status (read-only registers) ---------------------------------------------
    err = _reg(1, s("error"))
    err_kind = _reg(3, s("error_kind"))
    err_resp = _reg(2, s("error_resp"))
    err_last = _reg(1, s("error_rlast"))
    err_cmd = _reg(32, s("error_command"))
    err_addr = _reg(GMEM_ADDR_BITS, s("error_addr"))
    status = pyrtl.concat_list([err, err_kind, err_resp, err_last])
    ctl = _control(p, Scope("control"), idle, finish,
                   {"STATUS": status, "ERROR_COMMAND": err_cmd,
                    "ERROR_ADDR_LO": err_addr[:32], "ERROR_ADDR_HI": err_addr[32:]})

    # -- the command being executed -----------------------------------------------------
    cmd_ptr = _reg(GMEM_ADDR_BITS, s("cmd_ptr"))     # the next command's address
    cmd_at = _reg(GMEM_ADDR_BITS, s("cmd_at"))       # this command's address
    cmd_index = _reg(32, s("cmd_index"))
    image = _reg(GMEM_ADDR_BITS, s("image"))
    opcode = _reg(8, s("opcode"))
    memory = _reg(8, s("memory"))
    core = _reg(hm.core_bits, s("core"))
    address = _reg(addr_field_bits, s("address"))
    count = _reg(COUNT_BITS, s("count"))
    count_high = _reg(1, s("count_high"))           # count >= 2**COUNT_BITS: rejected
    offset = _reg(GMEM_ADDR_BITS, s("offset"))
    target = _reg(GMEM_ADDR_BITS, s("target"))      # image + offset
    xfer_beats = _reg(BEATS_BITS, s("xfer_beats"))
    op_is = {op: opcode == i for i, op in enumerate(OPCODES)}
    mem_is = [memory == i for i in range(len(MEMORIES))]
    is_load, is_store, is_stats = op_is["LOAD"], op_is["STORE"], op_is["STATS"]
    moves = is_load | is_store | is_stats
    known = ((is_load & (memory < len(MEMORIES))) | is_store
             | (is_stats & (memory < len(STAT_KINDS))) | op_is["RUN"] | op_is["END"])
    bad_command = named(~known | (moves & ((offset[:lb] != 0) | count_high)),
                        s("bad_command"))
    empty = count == 0

    def per_memory(values, bits):
        out = pyrtl.Const(0, bits)
        for i, v in enumerate(values):
            out = pyrtl.select(mem_is[i], _z(v, bits), out)
        return out

    # the transfer's beats: ceil(count / entries per unit) units of the command's layout
    # (one divider: a multiply by the selected reciprocal)
    layouts = [(is_load & mem_is[i], l) for i, l in enumerate(lay)] + \
        [(is_stats, stat_lay), (pyrtl.Const(1, 1), data_lay)]
    units = _ceil_div(count, [(c, l.per_unit) for c, l in layouts], COUNT_BITS)
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
        with in_decode:
            xfer_beats.next |= _z(units * unit_beats, BEATS_BITS)
            target.next |= _z(image + offset, GMEM_ADDR_BITS)

    # -- reads: the command fetch and LOAD ------------------------------------------------
    rd_start = named(in_next | (in_dispatch & is_load & ~empty), s("rd_start"))
    rd_addr = pyrtl.select(in_next, _align_down(cmd_ptr, lb), target)
    rd_beats = pyrtl.select(in_next, pyrtl.Const(cmd_lay.beats_per_unit, BEATS_BITS),
                            xfer_beats)
    unit = _reg(unit_in_bits, s("unit"))            # the beats of one unit, lowest first
    have = _reg(_bits_for(beats_in + 1), s("have"))  # beats in the unit
    need = pyrtl.select(in_fetch, pyrtl.Const(cmd_lay.beats_per_unit, have.bitwidth),
                        per_memory([l.beats_per_unit for l in lay], have.bitwidth))
    unit_full = have == need
    # LOAD: one entry a cycle from the bottom of the unit into the core's memory; the
    # next unit's first beat comes in as the last entry of this one goes out
    ld_left = _reg(COUNT_BITS, s("ld_left"))
    ld_addr = _reg(entry_addr_bits, s("ld_entry"))
    in_unit = _reg(_bits_for(max(l.per_unit for l in lay)), s("ld_in_unit"))
    entry = _reg(max(l.bits for l in lay), s("entry"))
    entry_at = _reg(entry_addr_bits, s("entry_at"))
    we = _reg(1, s("entry_we"))
    emit = named(in_load & unit_full & (ld_left != 0) & ~err, s("emit"))
    unit_done = (in_unit == per_memory([l.per_unit - 1 for l in lay], in_unit.bitwidth)) \
        | (ld_left == 1)
    refill = emit & unit_done
    shifted = per_memory([_z(unit[l.bits:], unit_in_bits) for l in lay], unit_in_bits)
    fetched = named(in_fetch & unit_full & ~err, s("fetched"))
    rd_full = pyrtl.WireVector(1, s("rd_has_beat"))
    take = named(rd_full & (in_fetch | in_load) & (~unit_full | refill) & ~err, s("take"))
    rd = _reader(p, s.sub("rd"), shape, rd_start, rd_addr, rd_beats, take, err)
    rd_full <<= rd.full
    with pyrtl.conditional_assignment:
        with rd_start:
            have.next |= 0
        with take & refill:
            unit.next |= pyrtl.concat(unit[B:], rd.beat) if unit_in_bits > B else rd.beat
            have.next |= 1
        with take:
            unit.next |= _place(unit, have, rd.beat, B, beats_in)
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
    src = _reg(src_bits, s("src_entry"))
    st_left = _reg(COUNT_BITS, s("st_left"))
    filled = _reg(_bits_for(max(data_lay.per_unit, stat_lay.per_unit)), s("st_in_unit"))
    packed = _reg(1, s("st_unit_ready"))
    out_beat = _reg(_bits_for(beats_out), s("st_beat"))
    out_unit = _reg(unit_out_bits, s("st_unit"))
    host["host_mem_raddr"] <<= src[:hm.addr_bits]
    host["host_stat_addr"] <<= src[:hm.stat_addr_bits]
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
        _place(base, filled, host["host_stat_rdata"], STAT_BITS, stat_lay.per_unit),
        _place(base, filled, host["host_mem_rdata"], data_lay.bits, data_lay.per_unit))
    beats = [out_unit[B * j:B * (j + 1)] for j in range(beats_out)]
    out_value = beats[0] if beats_out == 1 else pyrtl.mux(
        out_beat, *beats, default=pyrtl.Const(0, B))
    store_ok = is_store | is_stats
    wr_start = named(in_dispatch & store_ok & ~empty, s("wr_start"))
    wr = _writer(p, s.sub("wr"), shape, wr_start, target, xfer_beats, out_value,
                 packed & in_store, err)
    beat_last = out_beat == n_out
    # the next unit's first entry goes in as this unit's last beat goes out
    packing = named(in_store & (~packed | (wr.accept & beat_last)) & (st_left != 0) & ~err,
                    s("packing"))
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
    run_start = _reg(1, s("run_start"))
    pre_fmt = _reg(FORMAT_BITS, s("pre_fmt"))
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
            cmd_ptr.next |= _z(cmd_ptr + COMMAND_BYTES, GMEM_ADDR_BITS)
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
    _prune_unread([w for port, w in host.items() if hm.ports()[port][1] == "in"])


def _prune_unread(wires) -> None:
    """Remove the host-port wires the core does not read (``host_stat_core`` of a
    one-core design) and the nets driving them."""
    block = pyrtl.working_block()
    read = {id(arg) for net in block.logic for arg in net.args}
    for wire in wires:
        if id(wire) not in read:
            for net in [n for n in block.logic if any(d is wire for d in n.dests)]:
                block.logic.remove(net)
            block.remove_wirevector(wire)


# ----------------------------------------------------------------------- Verilog

def rtl_module(name: str) -> str:
    """The PyRTL module's name inside the kernel top ``name``."""
    return f"{name}_rtl"


def _top(name: str, axi_data_bits: int) -> str:
    ports = interface(axi_data_bits)
    decl = []
    for port, (bits, way) in ports.items():
        kind = "input  wire" if way == "in" else "output wire"
        width = f"[{bits - 1}:0] " if bits > 1 else ""
        decl.append(f"    {kind} {width}{port}")
    conns = [f"        .{port}({port}[{ports[port][0] - 1}:2])" if port in WORD_ADDRESSED
             else f"        .{port}({port})" for port in rtl_ports(axi_data_bits)]
    unused = ", ".join(list(UNUSED_INPUTS) + [f"{port}[1:0]" for port in WORD_ADDRESSED])
    return "\n".join([
        f"// {name}: the fixar_gen Vitis RTL kernel (generated by "
        "fixar_gen/targets/u50/kernel.py; do not edit).",
        "// ap_ctrl_hs control on s_axi_control, one AXI4 master m_axi_gmem0; the core",
        f"// and its AXI wrapper are the PyRTL module {rtl_module(name)} below.",
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
        f"    {rtl_module(name)} rtl (",
        "        .clk(ap_clk),",
        "        .rst(rst_q),",
        ",\n".join(conns),
        "    );",
        "endmodule",
        ""])


@lru_cache(maxsize=4)
def kernel_verilog(cfg: CoreConfig, name: str = "fixar_kernel",
                   axi_data_bits: int = DEFAULT_AXI_DATA_BITS, max_burst: int = 256) -> str:
    """The complete Verilog of the kernel: the top ``name`` and the PyRTL module."""
    from ...hw.verilate import emit_verilog
    block = build_kernel(cfg, name, axi_data_bits, max_burst)
    inner = emit_verilog(block, rtl_module(name), initialize_registers=False)
    return _top(name, axi_data_bits) + "\n" + inner
