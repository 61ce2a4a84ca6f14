"""The U50 RTL kernel: the generated core behind a Vitis ``ap_ctrl_hs`` interface.

:func:`build_kernel` elaborates, in one PyRTL block, the core
(:func:`fixar_gen.hw.core.elaborate_core`, its host ports as internal wires) and around
it

* ``s_axi_control`` -- an AXI4-Lite slave with the ap_ctrl_hs register map of
  :data:`.commands.REGISTERS` (:data:`CONTROL_ADDR_BITS`-bit addresses, 32-bit data);
* ``m_axi_gmem0`` -- an AXI4 master (64-bit addresses, ``axi_data_bits`` data, INCR
  bursts of at most ``max_burst`` beats that never cross a ``burst_bytes`` boundary, a
  divisor of 4 KB, so never a 4 KB one);
* a command processor that executes the command list of :mod:`.commands` exactly as
  :func:`.batch.model_executor` does: fetch a command (4 words at ``commands``), then
  LOAD (read bursts from ``image + offset``; one entry is written to the core's memory
  the cycle after its last word arrived), STORE / STATS (the core's combinational read
  ports -> write bursts; the command ends when every write response is in), RUN (pulse
  ``host_start`` with ``host_pre_fmt`` = the command's address, held, and wait for
  ``host_done``), END (the run ends: ap_done, ap_ready, back to idle).

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
accesses ignore address bits 1:0 (WSTRB selects the bytes).  A command with an unknown
opcode or memory ends the run like END.  Reset (``ap_rst_n`` low for at least two cycles) returns every
register, the core's controller and the AXI state to idle; the core's memories keep
their contents.
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
from .commands import COMMAND_WORDS, MEMORIES, OPCODES, REGISTER, entry_bits, entry_words

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
COUNT_BITS = 32                # entries of one command (the count word's low bits)
WORDS_BITS = 36                # 64-bit words of one command's transfer
OUTSTANDING_BITS = 5           # write bursts awaiting their response (at most 31)

# command processor states
IDLE, NEXT, FETCH, DECODE, LOAD, STORE, RUN_START, RUN_WAIT, FINISH = range(9)
STATE_BITS = 4


@dataclass(frozen=True)
class AxiShape:
    """The AXI4 master's data width and burst rule."""

    data_bits: int = 64
    max_burst: int = 256

    def __post_init__(self) -> None:
        if self.data_bits not in (64, 128, 256, 512):
            raise ValueError(f"axi_data_bits = {self.data_bits}: the kernel supports 64, "
                             "128, 256 or 512")
        if self.max_burst not in tuple(1 << i for i in range(1, 9)):
            raise ValueError(f"max_burst = {self.max_burst}: a power of two from 2 to 256")

    @property
    def beat_bytes(self) -> int:
        return self.data_bits // 8

    @property
    def words_per_beat(self) -> int:
        return self.data_bits // WORD_BITS

    @property
    def burst_bytes(self) -> int:
        """Bursts stay inside one aligned block of this many bytes (divides 4096)."""
        return min(4096, self.max_burst * self.beat_bytes)


# ----------------------------------------------------------------------- interface

def interface(axi_data_bits: int = 64) -> dict[str, tuple[int, str]]:
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


#: top-level inputs the kernel does not look at (one ID; responses are not checked;
#: bursts are counted, not delimited by RLAST)
UNUSED_INPUTS = (f"{GMEM}_BID", f"{GMEM}_BRESP", f"{GMEM}_RID", f"{GMEM}_RRESP",
                 f"{GMEM}_RLAST")
#: control addresses reach the PyRTL module as word addresses (the byte-in-word bits
#: are ignored, as in Vitis HLS: a partial write is selected by WSTRB)
WORD_ADDRESSED = (f"{CONTROL}_AWADDR", f"{CONTROL}_ARADDR")


def rtl_ports(axi_data_bits: int = 64) -> dict[str, tuple[int, str]]:
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


def _chunks(value: pyrtl.WireVector, n: int) -> list[pyrtl.WireVector]:
    value = _z(value, WORD_BITS * n)
    return [value[WORD_BITS * i:WORD_BITS * (i + 1)] for i in range(n)]


def _select_chunk(index, chunks: list[pyrtl.WireVector]) -> pyrtl.WireVector:
    if len(chunks) == 1:
        return chunks[0]
    return pyrtl.mux(index, *chunks, default=pyrtl.Const(0, chunks[0].bitwidth))


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


def _control(p: _Ports, s: Scope, idle, finish) -> _Control:
    """The AXI4-Lite slave and the ap_ctrl_hs registers.  ``idle``: the kernel is idle;
    ``finish``: the one cycle in which a run ends (ap_done and ap_ready)."""
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
             REGISTER["ISR"]: isr, **{REGISTER[n]: r for n, r in args.items()}}
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

def _burst(s: Scope, shape: AxiShape, start, addr, words, ready, valid_ok=None):
    """The address channel of a transfer of ``words`` 64-bit words from byte ``addr``:
    beat-aligned INCR bursts that stay inside aligned ``burst_bytes`` blocks.
    Returns (valid, address, len, handshake, all issued)."""
    lb = int(math.log2(shape.beat_bytes))
    lbb = int(math.log2(shape.burst_bytes))
    cur = _reg(GMEM_ADDR_BITS, s("addr"))
    end = _reg(GMEM_ADDR_BITS, s("end"))
    first = _align_down(addr, lb)
    stop = _z(addr + pyrtl.concat(words, pyrtl.Const(0, 3)), GMEM_ADDR_BITS)
    stop_up = _align_down(_z(stop + (shape.beat_bytes - 1), GMEM_ADDR_BITS), lb)
    block_end = _z(_align_down(cur, lbb) + shape.burst_bytes, GMEM_ADDR_BITS)
    burst_end = named(_min(block_end, end), s("burst_end"))
    beats = _z(burst_end - cur, GMEM_ADDR_BITS)[lb:lb + 9]
    length = _z(beats - 1, 8)
    pending = cur != end
    valid = pending if valid_ok is None else pending & valid_ok
    hs = valid & ready
    with pyrtl.conditional_assignment:
        with start:
            cur.next |= first
            end.next |= pyrtl.select(words == 0, first, stop_up)
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


@dataclass
class _Reader:
    word: pyrtl.WireVector     # the word delivered this cycle (when take)
    take: pyrtl.WireVector
    done: pyrtl.WireVector     # every word delivered


def _reader(p: _Ports, s: Scope, shape: AxiShape, start, addr, words) -> _Reader:
    """Reads ``words`` 64-bit words from byte ``addr`` (a multiple of 8) and delivers
    them one a cycle, in order.  The R beat waits in a one-beat buffer; RREADY depends
    on registers only."""
    P = shape.words_per_beat
    valid, cur, length, _, _ = _burst(s.sub("ar"), shape, start, addr, words,
                                      p.g("ARREADY"))
    _address_outputs(p, "AR", shape, valid, cur, length)

    buf = _reg(shape.data_bits, s("buf"))
    full = _reg(1, s("full"))
    left = _reg(WORDS_BITS, s("left"))
    more = left != 0
    take = named(full & more, s("take"))
    if P > 1:
        lane = _reg(_bits_for(P), s("lane"))
        word = _select_chunk(lane, _chunks(buf, P))
        beat_end = take & ((lane == P - 1) | (left == 1))
    else:
        word = buf
        beat_end = take
    rready = ~full | beat_end
    _drive(p.g("RREADY"), rready)
    r_hs = p.g("RVALID") & rready
    with pyrtl.conditional_assignment:
        with start:
            left.next |= words
            if P > 1:
                lane.next |= addr[3:3 + _bits_for(P)]
        with take:
            left.next |= left - 1
            if P > 1:
                lane.next |= lane + 1
    with pyrtl.conditional_assignment:
        with r_hs:
            buf.next |= p.g("RDATA")
            full.next |= 1
        with beat_end:
            full.next |= 0
    return _Reader(named(word, s("word")), take, ~more)


@dataclass
class _Writer:
    accept: pyrtl.WireVector   # the source's word is taken this cycle
    done: pyrtl.WireVector     # every burst written and acknowledged


def _writer(p: _Ports, s: Scope, shape: AxiShape, start, addr, words, word) -> _Writer:
    """Writes ``words`` 64-bit words, taken one a cycle from ``word`` (``accept`` says
    when), to byte ``addr``; WSTRB masks the lanes outside the range.  Every AXI output
    is a register (or a function of registers only)."""
    P = shape.words_per_beat
    block_words = shape.burst_bytes // 8
    outstanding = _reg(OUTSTANDING_BITS, s("outstanding"))
    room = outstanding != (1 << OUTSTANDING_BITS) - 1
    valid, cur, length, aw_hs, issued = _burst(s.sub("aw"), shape, start, addr, words,
                                               p.g("AWREADY"), room)
    _address_outputs(p, "AW", shape, valid, cur, length)
    b_hs = p.g("BVALID")
    _drive(p.g("BREADY"), 1)
    outstanding.next <<= _z(outstanding + _z(aw_hs, OUTSTANDING_BITS)
                            - _z(b_hs, OUTSTANDING_BITS), OUTSTANDING_BITS)

    left = _reg(WORDS_BITS, s("left"))
    at = _reg(_bits_for(block_words), s("at"))       # word index inside the block
    data = _reg(shape.data_bits, s("wdata"))
    strb = _reg(shape.beat_bytes, s("wstrb"))
    last = _reg(1, s("wlast"))
    wvalid = _reg(1, s("wvalid"))
    _drive(p.g("WDATA"), data)
    _drive(p.g("WSTRB"), strb)
    _drive(p.g("WLAST"), last)
    _drive(p.g("WVALID"), wvalid)
    sent = wvalid & p.g("WREADY")
    accept = named((left != 0) & (~wvalid | p.g("WREADY")), s("accept"))
    final = left == 1
    if P > 1:
        lane = at[:_bits_for(P)]
        beat_full = (lane == P - 1) | final
        old_data = pyrtl.select(wvalid, pyrtl.Const(0, shape.data_bits), data)
        old_strb = pyrtl.select(wvalid, pyrtl.Const(0, shape.beat_bytes), strb)
        new_data = pyrtl.concat_list(
            [pyrtl.select(lane == i, word, old_data[64 * i:64 * (i + 1)]) for i in range(P)])
        new_strb = pyrtl.concat_list(
            [pyrtl.select(lane == i, pyrtl.Const(0xFF, 8), old_strb[8 * i:8 * (i + 1)])
             for i in range(P)])
    else:
        beat_full = pyrtl.Const(1, 1)
        new_data = word
        new_strb = pyrtl.Const(0xFF, 8)
    block_last = (at == block_words - 1) | final
    with pyrtl.conditional_assignment:
        with start:
            left.next |= words
            at.next |= addr[3:3 + at.bitwidth]
            wvalid.next |= 0
            strb.next |= 0
        with accept:
            left.next |= left - 1
            at.next |= at + 1
            data.next |= new_data
            strb.next |= new_strb
            wvalid.next |= beat_full
            last.next |= block_last
        with sent:
            wvalid.next |= 0
            strb.next |= 0
    done = issued & (left == 0) & ~wvalid & (outstanding == 0)
    return _Writer(accept, named(done, s("done")))


# ----------------------------------------------------------------------- the kernel

def build_kernel(cfg: CoreConfig, name: str = "fixar_kernel", axi_data_bits: int = 64,
                 max_burst: int = 256) -> pyrtl.Block:
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

    # -- the core, its host ports as wires -------------------------------------------------
    host = {}
    for port, (bits, _) in hm.ports().items():
        if port != "host_busy":
            host[port] = pyrtl.WireVector(bits, port)
    elaborate_core(cfg, host)

    n_mem = [entry_words(entry_bits(hm, m)) for m in MEMORIES]
    bits_mem = [entry_bits(hm, m) for m in MEMORIES]
    n_max = max(n_mem)
    n_data = n_mem[MEMORIES.index("data")]
    mem_addr_bits = {"data": hm.addr_bits, "desc": hm.buffer_bits, "slot": hm.slot_bits,
                     "imem": hm.imem_bits}
    entry_addr_bits = max(mem_addr_bits.values())
    addr_field_bits = max(entry_addr_bits, hm.stat_addr_bits, FORMAT_BITS)
    src_bits = max(hm.addr_bits, hm.stat_addr_bits)

    state = _reg(STATE_BITS, s("state"))
    idle = state == IDLE
    finish = named(state == FINISH, s("finish"))
    ctl = _control(p, Scope("control"), idle, finish)

    # -- the command being executed -----------------------------------------------------
    cmd_ptr = _reg(GMEM_ADDR_BITS, s("cmd_ptr"))
    image = _reg(GMEM_ADDR_BITS, s("image"))
    k = _reg(_bits_for(COMMAND_WORDS), s("cmd_word"))
    opcode = _reg(8, s("opcode"))
    memory = _reg(8, s("memory"))
    core = _reg(hm.core_bits, s("core"))
    address = _reg(addr_field_bits, s("address"))
    count = _reg(COUNT_BITS, s("count"))
    offset = _reg(GMEM_ADDR_BITS, s("offset"))
    op_is = {op: opcode == i for i, op in enumerate(OPCODES)}
    mem_is = [memory == i for i in range(len(MEMORIES))]
    stats_kind_ok = memory < len(STAT_KINDS)
    load_ok = op_is["LOAD"] & (memory < len(MEMORIES))
    store_ok = op_is["STORE"] | (op_is["STATS"] & stats_kind_ok)
    empty = count == 0
    target = _z(image + offset, GMEM_ADDR_BITS)

    def per_memory(values, bits):
        out = pyrtl.Const(0, bits)
        for i, v in enumerate(values):
            out = pyrtl.select(mem_is[i], _z(v, bits), out)
        return out

    load_words = per_memory([_z(count * n, WORDS_BITS) for n in n_mem], WORDS_BITS)
    store_words = pyrtl.select(op_is["STATS"], _z(count, WORDS_BITS),
                               _z(count * n_data, WORDS_BITS))
    in_decode = state == DECODE
    in_next = state == NEXT
    rd_start = named(in_next | (in_decode & load_ok & ~empty), s("rd_start"))
    rd_addr = pyrtl.select(in_next, cmd_ptr, target)
    rd_words = pyrtl.select(in_next, pyrtl.Const(COMMAND_WORDS, WORDS_BITS), load_words)
    rd = _reader(p, s.sub("rd"), shape, rd_start, rd_addr, rd_words)
    wr_start = named(in_decode & store_ok & ~empty, s("wr_start"))

    # -- STORE / STATS: the word source ---------------------------------------------------
    src = _reg(src_bits, s("src_entry"))
    src_k = _reg(_bits_for(n_max), s("src_word"))
    host["host_mem_raddr"] <<= src[:hm.addr_bits]
    host["host_stat_addr"] <<= src[:hm.stat_addr_bits]
    host["host_stat_core"] <<= core
    host["host_stat_kind"] <<= memory[0]
    n_src = _bits_for(n_data)
    source = pyrtl.select(op_is["STATS"], _z(host["host_stat_rdata"], 64 * n_data),
                          _z(host["host_mem_rdata"], 64 * n_data))
    src_word = named(_select_chunk(src_k[:n_src], _chunks(source, n_data)), s("src_word_value"))
    wr = _writer(p, s.sub("wr"), shape, wr_start, target, store_words, src_word)
    src_last = op_is["STATS"] | (src_k == n_data - 1)
    with pyrtl.conditional_assignment:
        with wr_start:
            src.next |= address[:src_bits]
            src_k.next |= 0
        with wr.accept:
            with src_last:
                src.next |= src + 1
                src_k.next |= 0
            with pyrtl.otherwise:
                src_k.next |= src_k + 1

    # -- LOAD: the word sink --------------------------------------------------------------
    ld_k = _reg(_bits_for(n_max), s("ld_word"))
    ld_addr = _reg(entry_addr_bits, s("ld_entry"))
    entry = _reg(max(bits_mem), s("entry"))
    entry_at = _reg(entry_addr_bits, s("entry_at"))
    we = _reg(1, s("entry_we"))
    n_load = per_memory([n - 1 for n in n_mem], ld_k.bitwidth)
    ld_last = ld_k == n_load
    loading = rd.take & (state == LOAD)
    if n_max > 1:
        ld_buf = _reg(64 * (n_max - 1), s("ld_buf"))
        lanes = _chunks(ld_buf, n_max - 1)
        values = []
        for n, bits in zip(n_mem, bits_mem):
            words = pyrtl.concat_list(lanes[:n - 1] + [rd.word])
            values.append(_z(words, bits))
        with pyrtl.conditional_assignment:
            with loading & ~ld_last:
                ld_buf.next |= pyrtl.concat_list(
                    [pyrtl.select(ld_k == i, rd.word, lanes[i]) for i in range(n_max - 1)])
    else:
        values = [_z(rd.word, bits) for bits in bits_mem]
    assembled = per_memory(values, entry.bitwidth)
    with pyrtl.conditional_assignment:
        with rd_start:
            ld_addr.next |= address[:entry_addr_bits]
            ld_k.next |= 0
        with loading:
            with ld_last:
                ld_k.next |= 0
                ld_addr.next |= ld_addr + 1
            with pyrtl.otherwise:
                ld_k.next |= ld_k + 1
    we.next <<= loading & ld_last
    with pyrtl.conditional_assignment:
        with loading & ld_last:
            entry.next |= assembled
            entry_at.next |= ld_addr
    for i, mem in enumerate(MEMORIES):
        prefix = "host_mem" if mem == "data" else f"host_{mem}"
        host[f"{prefix}_we"] <<= we & mem_is[i]
        host[f"{prefix}_addr"] <<= entry_at[:mem_addr_bits[mem]]
        host[f"{prefix}_wdata"] <<= entry[:bits_mem[i]]
    host["host_imem_core"] <<= core

    # -- RUN ------------------------------------------------------------------------------
    run_start = _reg(1, s("run_start"))
    pre_fmt = _reg(FORMAT_BITS, s("pre_fmt"))
    host["host_start"] <<= run_start
    host["host_pre_fmt"] <<= pre_fmt
    run_start.next <<= in_decode & op_is["RUN"]
    with pyrtl.conditional_assignment:
        with in_decode & op_is["RUN"]:
            pre_fmt.next |= address[:FORMAT_BITS]

    # -- fetch: the command's words -------------------------------------------------------
    fetching = rd.take & (state == FETCH)
    with pyrtl.conditional_assignment:
        with in_next:
            k.next |= 0
        with fetching:
            k.next |= k + 1
    for i, (reg, lo) in enumerate(((opcode, 0), (address, 0), (count, 0), (offset, 0))):
        with pyrtl.conditional_assignment:
            with fetching & (k == i):
                reg.next |= rd.word[lo:lo + reg.bitwidth]
    with pyrtl.conditional_assignment:
        with fetching & (k == 0):
            memory.next |= rd.word[8:16]
            core.next |= rd.word[16:16 + hm.core_bits]

    # -- the command processor ---------------------------------------------------------------
    with pyrtl.conditional_assignment:
        with idle:
            with ctl.start:
                cmd_ptr.next |= ctl.commands
                image.next |= ctl.image
                state.next |= NEXT
        with in_next:
            cmd_ptr.next |= _z(cmd_ptr + 8 * COMMAND_WORDS, GMEM_ADDR_BITS)
            state.next |= FETCH
        with state == FETCH:
            with rd.done:
                state.next |= DECODE
        with in_decode:
            with load_ok:
                state.next |= pyrtl.select(empty, pyrtl.Const(NEXT, STATE_BITS),
                                           pyrtl.Const(LOAD, STATE_BITS))
            with store_ok:
                state.next |= pyrtl.select(empty, pyrtl.Const(NEXT, STATE_BITS),
                                           pyrtl.Const(STORE, STATE_BITS))
            with op_is["RUN"]:
                state.next |= RUN_START
            with pyrtl.otherwise:          # END, or an unknown opcode or memory
                state.next |= FINISH
        with state == LOAD:
            with rd.done & ~we:
                state.next |= NEXT
        with state == STORE:
            with wr.done:
                state.next |= NEXT
        with state == RUN_START:
            state.next |= RUN_WAIT
        with state == RUN_WAIT:
            with host["host_done"]:
                state.next |= NEXT
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
        "    // inputs the kernel does not need: one AXI ID, responses not checked, bursts",
        "    // counted rather than delimited by RLAST, control registers word-addressed",
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
def kernel_verilog(cfg: CoreConfig, name: str = "fixar_kernel", axi_data_bits: int = 64,
                   max_burst: int = 256) -> str:
    """The complete Verilog of the kernel: the top ``name`` and the PyRTL module."""
    from ...hw.verilate import emit_verilog
    block = build_kernel(cfg, name, axi_data_bits, max_burst)
    inner = emit_verilog(block, rtl_module(name), initialize_registers=False)
    return _top(name, axi_data_bits) + "\n" + inner
