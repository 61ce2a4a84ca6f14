"""The FIXAR core generator: N cores around the data memories (one RAM per memory of
the placement, :mod:`fixar_gen.hw.data_memories`), each with a controller, an R x C
dual-mode PE array and a vector lane, behind the host interface of
:mod:`fixar_gen.hw.hostmap`.  Programs and data are inputs, not hardware: one
elaborated design runs any program whose buffers fit its memories.

Per core
    *Controller.*  ``FETCH`` reads instruction ``pc`` of the core's own instruction
    memory, decodes it and latches the descriptors of its operands (one cycle: the
    model's ``Timing.issue``); then the instruction's unit runs it to completion and
    the controller fetches the next one.  ``halt`` stops the core; ``barrier`` waits
    until every core of its mask has arrived at a barrier with the same mask, then all
    leave together one cycle later.

    *Element loop* (``load``, ``store``, ``vec``, ``drain``): the region row by row, in
    steps of up to ``lanes`` adjacent columns.  ``load``/``store`` copy one step a cycle
    between a host slot and a buffer.  ``vec``/``drain`` issue one step a cycle: they
    read every operand of the step's elements (broadcasting operands with one row or
    one column, as the golden model does) and hand them to the vector lanes
    (:mod:`fixar_gen.hw.vector`, a pipeline of ``LANE_DEPTH`` stages).  The reads are
    synchronous (below): the addresses are registered in the issue cycle and the words
    arrive in the next one (stage 1), where the lanes start, a copy writes and
    ``range`` folds.  Each lane's write address travels beside its element, and the
    results (dst; the OU state; the PRNG lane) are written ``1 + LANE_DEPTH`` cycles
    after the issue.  The controller fetches the next instruction in the cycle of the
    last write (a read issued then sees it): ``steps + LANE_DEPTH`` cycles, ``steps``
    for a copy.  ``range`` runs no lane: the step's values are folded into the current
    min and max (read from dst) and written back in stage 1, one cycle a step (the next
    step's read, one cycle behind, sees the write).  ``noise`` and ``ou_noise`` share
    the PRNG lanes (element j uses lane j mod L and writes it back), so they issue one
    element and issue the next in the cycle of its write: ``1 + LANE_DEPTH`` cycles an
    element.

    *Matrix unit* (``mm``): the R x C array (:mod:`fixar_gen.hw.array`, broadcast
    flow) with opB stationary.  Tiles run n-major, k-minor.  Every tile has
    ``S = max(L, R)`` slots, L = the lines of the tile (m rows, two per line in FXP16):
    in slot p line p enters the array (p < L) and weight row p + 1 of the tile loads
    (row 0 of the next tile loads in the tile's last slot), so the stationary weights
    are replaced row by row right behind the last line using them.  The slot counters
    are stage 0 (they compute the read addresses); the words, with the slot's masks
    and controls, enter the array in stage 1.  The column sums leave the array
    ``R + P`` cycles after their line (P = ``pe.PRODUCT_STAGES``, the registers after
    each PE multiply: the array's latency) and are added into the accumulator buffer
    (read-modify-write, modulo 2^word; the read address is registered the cycle before
    the sums arrive); the last k-tile fits the sum to the accumulator's width
    (saturation counted), the first k-tile of a non-accumulating instruction
    overwrites.  The controller fetches in the cycle of the last writes: ``1 + (tiles -
    1) * S + L + R + P`` cycles.

Memory
    One data memory per memory of the placement (:mod:`fixar_gen.hw.data_memories`:
    ``wmem``, ``mmem``, ``vmem``, ``smem``, ``gmem``, ``amem``, ``cmem``), each at its
    own width and depth; a buffer descriptor names the buffer's memory and its offset
    there, and every unit reads and writes the memory its operand's descriptor names
    (the host slots live in ``amem``).  Reads sign-extend a word to the datapath word,
    writes store its low bits.  The reads are synchronous (``asynchronous=False``): an
    address computed in cycle t is registered and its word, as it is after cycle t's
    writes, arrives in cycle t + 1, so a read-modify-write one cycle apart needs no
    forwarding.  The host read port too (``hostmap.HOST_READ_LATENCY``; the host's
    data address is the memory id above the offset).  Each memory has as many read and
    write ports as the cores need each cycle (per core: 4 lanes + 2 + 2R + 3C reads, 2
    lanes + 1 + 2C writes), so no unit ever waits for memory; that port count keeps
    them out of block RAM (flip-flops): the banks of docs/hardware.md are next.

The cycle counts above are what :func:`execution_cycles` returns, the RTL's own cycle
model; :func:`fixar_gen.perf.schedule` runs it with the barrier and issue rules shared
with the FIXAR model, and the tests compare it with the cycles the RTL reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyrtl

from .. import isa, ops
from ..isa import (ACTIVATIONS, MODES, VECTOR_FUNCTIONS, Barrier, Drain, Halt, Instruction,
                   Load, MatMul, Store, Vector)
from . import vector as V
from .array import array as array_generator, latency as array_latency, row_address_bits
from .build import Scope, check_width, delay, named, resize
from .data_memories import MEMORY_ID_BITS, DataMemories, MemoryShape, memory_id
from .hostmap import (COUNT_BITS, STAT_BITS, HostMap, desc_fields, slot_fields, width)
from .lane_limits import WIDEST, LaneLimits
from .pe import PEGenerator, PEWidths, pe as pe_generator_default
from ..memory_kinds import MEMORIES, SLOT_MEMORY

# controller states
IDLE, FETCH, ELEM_START, ELEM_WAIT, COPY, MM_PRE, MM_RUN, MM_FLUSH, BARRIER, BARRIER_OUT, \
    HALT, DONE = range(12)
STATE_BITS = 4

OPERAND_SLOTS = ("dst", "a", "b", "c", "e")
#: which field of each instruction fills each operand slot
SLOT_FIELDS = {
    Load: {"dst": "dst"},
    Store: {"dst": "src"},
    MatMul: {"dst": "dst", "a": "a", "b": "b"},
    Drain: {"dst": "dst", "a": "acc", "b": "bias", "c": "slope"},
    Vector: {"dst": "dst", "a": "a", "b": "b", "c": "c", "e": "e"},
}


def _span(cls, name: str) -> tuple[int, int]:
    pos, bits = field_position(cls, name)
    return pos, pos + bits


def field_position(cls: type[Instruction], name: str) -> tuple[int, int]:
    """(lowest bit, bits) of field ``name`` in the encoding of ``cls``."""
    pos = isa.OPCODE_BITS
    for fname, bits, _ in cls.fields_bits():
        if fname == name:
            return pos, bits
        pos += bits
    raise KeyError(f"{cls.__name__} has no field {name}")


# ---------------------------------------------------------------------------- config

@dataclass(frozen=True)
class CoreConfig:
    """What the generator needs: sizes only (the spec is reduced to this)."""

    name: str
    cores: int
    rows: int
    cols: int
    pe: PEWidths
    word: int
    addr_bits: int
    imem_bits: int = 12
    buffer_bits: int = 8
    slot_bits: int = 4
    acc_overflow: str = "saturate"
    lanes: int = 1            # vector lanes per core (elements of one row per step)
    lane: LaneLimits = WIDEST  # the formats the vector lanes compute (their widths)
    #: the data memories (one per memory of the placement, in MEMORIES order); empty:
    #: every memory ``word`` bits x ``2^addr_bits`` words
    memories: tuple[MemoryShape, ...] = ()

    @property
    def data_memories(self) -> tuple[MemoryShape, ...]:
        return self.memories or tuple(MemoryShape(m, self.word, self.addr_bits)
                                      for m in MEMORIES)

    def memory(self, name: str) -> MemoryShape:
        return self.data_memories[memory_id(name)]

    @property
    def hostmap(self) -> HostMap:
        return HostMap(self.name, self.cores, self.word, self.addr_bits, self.imem_bits,
                       self.buffer_bits, self.slot_bits)


def scratchpad_ports(cfg: CoreConfig) -> tuple[int, int]:
    """(read ports, write ports) each core has on the scratchpad (the host adds one of
    each): 4 per vector lane + 2 + 2R + 3C reads; one write per lane, lane 0's second
    (range's max, the OU state), the PRNG lane's, and 2C writes of the matrix unit."""
    return (4 * cfg.lanes + 2 + 2 * cfg.rows + 3 * cfg.cols,
            cfg.lanes + 2 + 2 * cfg.cols)


def word_bits(pe: PEWidths) -> int:
    """Scratchpad word: an accumulator plus headroom for a k-tiled sum that is fitted
    only at its last tile (exact modulo 2^word while the true sum fits)."""
    product = pe.weight + pe.word
    return max(pe.acc, product + isa.COUNT_BITS, V.MAX_DATA_WIDTH) + 2


# ---------------------------------------------------------------------------- cycles

def matmul_cycles(instr: MatMul, rows: int, cols: int) -> int:
    macs = 2 if MODES[instr.mode] == "fxp16" else 1
    lines = math.ceil(instr.m.count / macs)
    tiles = math.ceil(instr.k.count / rows) * math.ceil(instr.n.count / cols)
    slot = max(lines, rows)
    return 1 + (tiles - 1) * slot + lines + array_latency(rows, cols, "broadcast")


#: vector functions issued one element a step (they share PRNG lanes), folded into the
#: controller (no lane runs), charged to the "sync" unit (the inter-core link's add);
#: from the operations' declarations (fixar_gen.ops)
SERIAL_FUNCTIONS = ops.names(issue="serial")
FOLDED_FUNCTIONS = ops.names(issue="folded")
LINK_FUNCTIONS = ops.names(unit="link")


def execution_cycles(instr: Instruction, rows: int, cols: int, lanes: int = 1
                     ) -> tuple[str, int]:
    """(unit, cycles) the generated RTL spends on ``instr`` after its issue cycle
    (the unit names are those of :mod:`fixar_gen.perf`).  The synchronous reads of
    the data memory add a stage to every unit, which overlaps the next instruction's
    fetch (its last writes land in that cycle): no instruction's count changes."""
    if isinstance(instr, MatMul):
        return "array", matmul_cycles(instr, rows, cols)
    if isinstance(instr, Barrier):
        return "sync", 1
    if isinstance(instr, Halt):
        return "issue", 1
    steps = instr.rows.count * math.ceil(instr.cols.count / lanes)
    if isinstance(instr, (Load, Store)):
        return "dma", steps
    if isinstance(instr, Drain):
        return "vector", steps + V.LANE_DEPTH
    if isinstance(instr, Vector):
        fn = VECTOR_FUNCTIONS[instr.fn]
        unit = "sync" if fn in LINK_FUNCTIONS else "vector"
        if fn in FOLDED_FUNCTIONS:
            return unit, steps
        if fn in SERIAL_FUNCTIONS:
            return unit, instr.rows.count * instr.cols.count * (1 + V.LANE_DEPTH)
        return unit, steps + V.LANE_DEPTH
    raise TypeError(f"no cycle rule for {type(instr).__name__}")


# ---------------------------------------------------------------------------- helpers

def _fields(word: pyrtl.WireVector, layout) -> dict[str, pyrtl.WireVector]:
    out, pos = {}, 0
    for name, bits in layout:
        out[name] = word[pos:pos + bits]
        pos += bits
    return out


def _any(fn_is: dict, names) -> pyrtl.WireVector:
    """1 while the executing ``vec`` runs one of the functions ``names``."""
    out = pyrtl.Const(0, 1)
    for name in names:
        out = out | fn_is[name]
    return out


def _z(value, bits: int) -> pyrtl.WireVector:
    """``value`` zero-extended (or truncated) to ``bits``."""
    value = pyrtl.as_wires(value)
    if value.bitwidth >= bits:
        return value[:bits]
    return value.zero_extended(bits)


def _address(base, row, col, cols, bits: int) -> pyrtl.WireVector:
    return _z(_z(base, bits) + _z(row, COUNT_BITS) * _z(cols, COUNT_BITS) + _z(col, bits), bits)


def _read(mem: pyrtl.MemBlock, addr) -> pyrtl.WireVector:
    """A combinational read of ``mem`` as a plain wire."""
    wire = pyrtl.WireVector(mem.bitwidth)
    wire <<= mem[addr]
    return wire


def _reg(bits: int, name: str) -> pyrtl.Register:
    return pyrtl.Register(bits, name=name)


def _fit_width(value: pyrtl.WireVector, acc_bits: pyrtl.WireVector, overflow: str,
               word: int, name: str) -> tuple[pyrtl.WireVector, pyrtl.WireVector]:
    """``value`` (signed, ``word`` bits) fitted to a signed ``acc_bits``-bit integer by
    ``overflow``; (result, overflowed)."""
    one = pyrtl.Const(1, word)
    shift = _z(acc_bits, 8) - 1
    top = named(pyrtl.shift_left_logical(one, shift), f"{name}_top")      # 2^(w-1)
    max_int = named(_z(top - 1, word), f"{name}_max")
    min_int = named(~max_int, f"{name}_min")                # -2^(w-1) = ~(2^(w-1) - 1)
    over = pyrtl.signed_gt(value, max_int)
    under = pyrtl.signed_lt(value, min_int)
    if overflow == "saturate":
        fitted = pyrtl.select(over, max_int, pyrtl.select(under, min_int, value))
    else:
        mask = named(_z(named(pyrtl.shift_left_logical(one, _z(acc_bits, 8)),
                              f"{name}_limit") - 1, word), f"{name}_mask")
        low = value & mask
        negative = (pyrtl.shift_right_logical(value, shift) & 1)[0]
        fitted = pyrtl.select(negative, low | ~mask, low)
    return _z(fitted, word), over | under


# ---------------------------------------------------------------------------- generator

@dataclass
class _Memories:
    data: DataMemories
    desc: pyrtl.MemBlock
    slot: pyrtl.MemBlock


def build_core(cfg: CoreConfig, pe_generator: PEGenerator = pe_generator_default
               ) -> pyrtl.Block:
    """Elaborate the whole design (all cores, memories, host interface) in a fresh
    block; its ports are those of ``cfg.hostmap.ports()``.  ``pe_generator`` replaces
    the PE (the tests use it to plant a bug the verification must catch)."""
    from .build import fresh_block
    with fresh_block() as block:
        _elaborate(cfg, pe_generator)
    return block


def elaborate_core(cfg: CoreConfig, ports: dict[str, pyrtl.WireVector],
                   pe_generator: PEGenerator = pe_generator_default) -> None:
    """Elaborate the design into the working block with its host ports as plain wires
    (a wrapper such as the U50 kernel drives the inputs and reads the outputs):
    ``ports`` maps every name of ``cfg.hostmap.ports()`` to a wire of its width, except
    ``host_busy``, which is built only when given."""
    for name, (bits, way) in cfg.hostmap.ports().items():
        if name not in ports:
            if name == "host_busy":
                continue
            raise ValueError(f"elaborate_core: port {name} is missing")
        check_width(ports[name], bits, f"elaborate_core: port {name}")
    _elaborate(cfg, pe_generator, dict(ports))


def _elaborate(cfg: CoreConfig, pe_generator: PEGenerator,
               ports: dict[str, pyrtl.WireVector] | None = None) -> None:
    hm = cfg.hostmap
    if ports is None:
        ports = {}
        for name, (bits, way) in hm.ports().items():
            ports[name] = pyrtl.Input(bits, name) if way == "in" else pyrtl.Output(bits, name)
    reads_per_core, writes_per_core = scratchpad_ports(cfg)
    data = DataMemories(cfg.data_memories, cfg.word, cfg.addr_bits,
                        read_ports=reads_per_core * cfg.cores + 1,
                        write_ports=writes_per_core * cfg.cores + 1)
    dbits, sbits = width(hm.desc_fields), width(hm.slot_fields)
    desc = pyrtl.MemBlock(dbits, cfg.buffer_bits, name="mem_desc", asynchronous=True,
                          max_read_ports=len(OPERAND_SLOTS) * cfg.cores, max_write_ports=1)
    slot = pyrtl.MemBlock(sbits, cfg.slot_bits, name="mem_slot", asynchronous=True,
                          max_read_ports=cfg.cores, max_write_ports=1)
    # the host's data address: the memory id above the offset
    A = cfg.addr_bits
    data.write(ports["host_mem_addr"][A:], ports["host_mem_addr"][:A],
               ports["host_mem_wdata"], ports["host_mem_we"])
    # the host's read is synchronous too: host_mem_rdata is the word at the address
    # host_mem_raddr held in the previous cycle
    ports["host_mem_rdata"] <<= data.read(ports["host_mem_raddr"][A:],
                                          ports["host_mem_raddr"][:A], "host_mem_raddr_q")
    desc[ports["host_desc_addr"]] <<= pyrtl.MemBlock.EnabledWrite(ports["host_desc_wdata"],
                                                                  ports["host_desc_we"])
    slot[ports["host_slot_addr"]] <<= pyrtl.MemBlock.EnabledWrite(ports["host_slot_wdata"],
                                                                  ports["host_slot_we"])
    mems = _Memories(data, desc, slot)

    # barrier network: each core shows whether it waits, and with which mask
    arrived = [pyrtl.WireVector(1, f"core{c}_barrier_arrived") for c in range(cfg.cores)]
    masks = [pyrtl.WireVector(16, f"core{c}_barrier_mask") for c in range(cfg.cores)]
    done, cycles, sats = [], [], []
    for c in range(cfg.cores):
        release = _barrier_release(c, cfg.cores, arrived, masks)
        out = _core(cfg, c, Scope(f"core{c}"), ports, mems, arrived[c], masks[c], release,
                    pe_generator)
        done.append(out["done"])
        cycles.append(out["cycles"])
        sats.append(out["sat_mem"])

    all_done = done[0]
    for d in done[1:]:
        all_done = all_done & d
    ports["host_done"] <<= all_done
    if "host_busy" in ports:
        ports["host_busy"] <<= ~all_done

    # statistics read port
    core_sel = ports["host_stat_core"]
    addr = ports["host_stat_addr"][:cfg.buffer_bits]
    values = []
    for c in range(cfg.cores):
        sat_value = _read(sats[c], addr)
        values.append(pyrtl.select(ports["host_stat_kind"], sat_value, cycles[c]))
    if cfg.cores == 1:
        ports["host_stat_rdata"] <<= values[0]
    else:
        padded = values + [values[-1]] * ((1 << hm.core_bits) - cfg.cores)
        ports["host_stat_rdata"] <<= pyrtl.mux(core_sel, *padded)


def _barrier_release(c: int, cores: int, arrived, masks) -> pyrtl.WireVector:
    """1 when every core of core ``c``'s mask waits at a barrier with the same mask."""
    ok = arrived[c]
    for d in range(cores):
        member = masks[c][d]
        ok = ok & (~member | (arrived[d] & (masks[d] == masks[c])))
    return named(ok, f"core{c}_barrier_release")


def _core(cfg: CoreConfig, index: int, s: Scope, ports, mems: _Memories,
          arrived_out, mask_out, release, pe_generator: PEGenerator) -> dict:
    W, A = cfg.word, cfg.addr_bits

    # -- instruction memory --------------------------------------------------------
    imem = pyrtl.MemBlock(isa.INSTRUCTION_BITS, cfg.imem_bits, name=s("imem"),
                          asynchronous=True, max_read_ports=1, max_write_ports=1)
    imem_we = ports["host_imem_we"] & (ports["host_imem_core"] == index)
    imem[ports["host_imem_addr"]] <<= pyrtl.MemBlock.EnabledWrite(ports["host_imem_wdata"],
                                                                  imem_we)

    state = _reg(STATE_BITS, s("state"))
    pc = _reg(cfg.imem_bits, s("pc"))
    instr = _reg(isa.INSTRUCTION_BITS, s("instr"))
    cycle_count = _reg(STAT_BITS, s("cycles"))
    start = ports["host_start"]

    fetched = named(_read(imem, pc), s("fetched"))
    opcode_f = fetched[:isa.OPCODE_BITS]

    # -- descriptors of the operand slots, read at fetch -----------------------------
    dlayout = desc_fields(A)
    desc_regs = {}
    for slot_name in OPERAND_SLOTS:
        ids = []
        for cls, mapping in SLOT_FIELDS.items():
            if slot_name in mapping:
                pos, bits = field_position(cls, mapping[slot_name])
                ids.append((cls.OPCODE, fetched[pos:pos + bits]))
        buffer_id = pyrtl.Const(isa.NO_BUFFER, isa.BUFFER_BITS)
        for opcode, value in ids:
            buffer_id = pyrtl.select(opcode_f == opcode, value, buffer_id)
        present_f = buffer_id != isa.NO_BUFFER
        entry = _read(mems.desc, buffer_id[:cfg.buffer_bits])
        reg = _reg(width(dlayout), s(f"desc_{slot_name}"))
        id_reg = _reg(isa.BUFFER_BITS, s(f"id_{slot_name}"))
        present = _reg(1, s(f"has_{slot_name}"))
        with pyrtl.conditional_assignment:
            with state == FETCH:
                reg.next |= entry
                id_reg.next |= buffer_id
                present.next |= present_f
        desc_regs[slot_name] = (_fields(reg, dlayout), id_reg, present)
    slot_pos, slot_bits_ = field_position(Load, "slot")
    slot_reg = _reg(width(slot_fields(A)), s("slot_desc"))
    slot_entry = _read(mems.slot, fetched[slot_pos:slot_pos + slot_bits_][:cfg.slot_bits])

    def field(cls, name):
        pos, bits = field_position(cls, name)
        return instr[pos:pos + bits]

    def rng(cls, name):
        value = field(cls, name)
        return value[:isa.COUNT_BITS], _z(value[isa.COUNT_BITS:], COUNT_BITS) + 1

    opcode = instr[:isa.OPCODE_BITS]
    is_op = {cls: opcode == cls.OPCODE for cls in isa.INSTRUCTIONS}

    # -- element loop counters (load, store, vec, drain) -------------------------------
    i = _reg(COUNT_BITS, s("i"))
    j = _reg(COUNT_BITS, s("j"))
    lane_idx = _reg(COUNT_BITS, s("lane"))
    def by_opcode(name, classes):
        """Field ``name``, wherever the executing instruction's class keeps it."""
        value = None
        for cls in classes:
            pos, bits = field_position(cls, name)
            raw = instr[pos:pos + bits]
            value = raw if value is None else pyrtl.select(is_op[cls], raw, value)
        return value

    element_classes = (Load, Store, Drain, Vector)
    rows_raw = by_opcode("rows", element_classes)
    cols_raw = by_opcode("cols", element_classes)
    rows_start = rows_raw[:isa.COUNT_BITS]
    rows_count = _z(rows_raw[isa.COUNT_BITS:], COUNT_BITS) + 1
    cols_start = cols_raw[:isa.COUNT_BITS]
    cols_count = _z(cols_raw[isa.COUNT_BITS:], COUNT_BITS) + 1
    src_col = pyrtl.select(is_op[Store], instr[slice(*_span(Store, "dst_col"))],
                           by_opcode("src_col", (Load, Drain, Vector)))
    fn = field(Vector, "fn")
    act = field(Drain, "act")
    op = pyrtl.select(is_op[Drain], _z(act, V.OP_BITS) + len(VECTOR_FUNCTIONS),
                      _z(fn, V.OP_BITS))
    op = named(_z(op, V.OP_BITS), s("op"))
    fn_is = {name: (fn == k) & is_op[Vector] for k, name in enumerate(VECTOR_FUNCTIONS)}

    # -- the group of columns this step works on: up to `lanes` of one row ------------
    lanes = cfg.lanes
    serial = named(_any(fn_is, SERIAL_FUNCTIONS), s("serial"))
    remaining = _z(cols_count - _z(j, COUNT_BITS), COUNT_BITS)            # >= 1
    width_ = pyrtl.select(remaining < lanes, remaining, pyrtl.Const(lanes, COUNT_BITS))
    group = named(_z(pyrtl.select(serial, pyrtl.Const(1, COUNT_BITS), width_), COUNT_BITS),
                  s("group"))
    next_j = _z(_z(j, COUNT_BITS) + group, COUNT_BITS)
    last_col = named(next_j == cols_count, s("last_col"))
    last_row = named(_z(i, COUNT_BITS) + 1 == rows_count, s("last_row"))
    row_d = _z(rows_start, COUNT_BITS) + i

    dd = desc_regs["dst"][0]
    db = desc_regs["b"][0]
    dc = desc_regs["c"][0]
    sl = _fields(slot_reg, slot_fields(A))
    uses_lane = _any(fn_is, ops.with_operand("b", kind="prng"))
    writes_e = _any(fn_is, ops.writing("e"))
    copy_issue = state == COPY
    # every read of the data memory is synchronous: its address is registered in the
    # issue cycle and the word arrives in the next (stage 1), where the lanes start, the
    # copies write and range folds; ``_q`` names a value delayed to stage 1
    copy_now = named(delay(copy_issue, 1, s("copy_q_d{k}")), s("copy_now"))
    rd_c0 = mems.data.read(dc["mem"], dc["base"], s("ra_c0"))
    rd_c1 = mems.data.read(dc["mem"], _z(dc["base"], A) + 1, s("ra_c1"))
    # the memories a copy reads and writes: a load the slot's and dst's, a store the
    # other way
    slot_mem = pyrtl.Const(memory_id(SLOT_MEMORY), MEMORY_ID_BITS)
    copy_src_mem = pyrtl.select(is_op[Load], slot_mem, dd["mem"])
    copy_dst_mem = pyrtl.select(is_op[Load], dd["mem"], slot_mem)

    def value_or_zero(slot_name, value):
        present = desc_regs[slot_name][2]
        return pyrtl.select(present, value, pyrtl.Const(0, W))

    def fmt_of(slot_name):
        return pyrtl.select(desc_regs[slot_name][2], desc_regs[slot_name][0]["fmt"],
                            pyrtl.Const(0, V.FORMAT_BITS))

    # -- the vector lanes: one step issued per cycle, written back LANE_DEPTH later ----
    issuing = named(state == ELEM_START, s("elem_issue"))
    issued = named(delay(issuing, 1, s("issue_q_d{k}")), s("elem_issued"))
    is_range = _any(fn_is, FOLDED_FUNCTIONS)
    last_step = named(last_col & last_row, s("last_step"))
    units, range_in = [], []
    lane_addr_d = []
    for v in range(lanes):
        ls = s.sub(f"lane{v}")
        active_issue = group > v
        active = named(delay(active_issue, 1, ls("active_q_d{k}")), ls("active"))
        col_d = _z(_z(cols_start, COUNT_BITS) + _z(j, COUNT_BITS) + v, COUNT_BITS)
        col_s = _z(_z(src_col, COUNT_BITS) + _z(j, COUNT_BITS) + v, COUNT_BITS)

        def operand_address(slot_name: str, broadcast: bool = True, col=None):
            d, _, _ = desc_regs[slot_name]
            row = pyrtl.select(d["rows"] == 1, pyrtl.Const(0, COUNT_BITS), row_d) \
                if broadcast else row_d
            col = col_s if col is None else col
            col = pyrtl.select(d["cols"] == 1, pyrtl.Const(0, COUNT_BITS), col) \
                if broadcast else col
            return _address(d["base"], row, col, d["cols"], A)

        addr_dst = named(_address(dd["base"], row_d, col_d, dd["cols"], A), ls("addr_dst"))
        addr_a = pyrtl.select(is_range, operand_address("a", col=col_d),
                              operand_address("a"))
        addr_lane = _z(_z(db["base"], A) + _z(lane_idx, A), A)
        addr_b = pyrtl.select(uses_lane, addr_lane, operand_address("b"))
        addr_e = pyrtl.select(_any(fn_is, ops.with_operand("e", layout="unbroadcast")),
                              operand_address("e", broadcast=False),
                              operand_address("e"))
        addr_d = pyrtl.select(is_range, _z(dd["base"], A), addr_dst)
        addr_e = pyrtl.select(is_range, _z(_z(dd["base"], A) + 1, A), addr_e)
        # load: slot (row, src_col + j) -> buffer (row, col); store: the other way
        addr_slot = _address(sl["base"], row_d, col_s, sl["cols"], A)
        copy_src = pyrtl.select(is_op[Load], addr_slot, addr_dst)
        copy_dst = pyrtl.select(is_op[Load], addr_dst, addr_slot)
        copy_dst = named(delay(copy_dst, 1, ls("copy_dst_q_d{k}")), ls("copy_dst"))

        de = desc_regs["e"][0]
        rd_a = mems.data.read(pyrtl.select(copy_issue, copy_src_mem, desc_regs["a"][0]["mem"]),
                              pyrtl.select(copy_issue, copy_src, addr_a), ls("ra_a"))
        rd_b = mems.data.read(db["mem"], addr_b, ls("ra_b"))
        rd_d = mems.data.read(dd["mem"], addr_d, ls("ra_d"))
        rd_e = mems.data.read(pyrtl.select(is_range, dd["mem"], de["mem"]), addr_e,
                              ls("ra_e"))
        if v == 0:
            range_min, range_max = rd_d, rd_e
            lane0 = (addr_b, addr_e)
        # range: the lanes' values folded into the current min and max (no lane runs;
        # the result is written in stage 1, so the next step's read, one cycle behind,
        # sees it)
        range_min = pyrtl.select(active & pyrtl.signed_lt(rd_a, range_min), rd_a, range_min)
        range_max = pyrtl.select(active & pyrtl.signed_gt(rd_a, range_max), rd_a, range_max)
        range_in.append((range_min, range_max))
        lane_start = named(issued & active & ~is_range, ls("start"))
        unit = V.vector_unit(
            ls.sub("vu"), word=W, acc_overflow=cfg.acc_overflow, serial_outputs=v == 0,
            limits=cfg.lane,
            inputs=V.ElementInputs(
                start=lane_start, op=op,
                a=value_or_zero("a", rd_a), b=value_or_zero("b", rd_b), d=rd_d,
                e=value_or_zero("e", rd_e),
                c0=value_or_zero("c", rd_c0), c1=value_or_zero("c", rd_c1),
                fmt_a=fmt_of("a"), fmt_b=fmt_of("b"), fmt_d=fmt_of("dst"),
                fmt_e=fmt_of("e"), fmt_c=fmt_of("c"), fmt_pre=ports["host_pre_fmt"],
                acc_bits=desc_regs["dst"][0]["acc_bits"], lane=rd_b[:32]))
        # the element's write address travels with it: the read, then LANE_DEPTH cycles
        # (data beside the lane's done bit: no reset, a shift register in synthesis)
        wa_d = delay(addr_dst, 1 + V.LANE_DEPTH, ls("wa_d_d{k}"), reset=False)
        units.append(unit)
        lane_addr_d.append((copy_dst, rd_a, wa_d, active))

    range_min, range_max = range_in[-1]
    range_now = named(issued & is_range, s("range_write"))
    # the serial functions (one element in flight) latch their e and PRNG-lane addresses
    wa_b, wa_e = _reg(A, s("wa_b")), _reg(A, s("wa_e"))
    with pyrtl.conditional_assignment:
        with issuing:
            wa_b.next |= lane0[0]
            wa_e.next |= lane0[1]
    # tags travelling with each step: whether it started the lanes (with its results,
    # 1 + LANE_DEPTH cycles), and whether it is the instruction's last or a serial step
    # (the controller waits for it).  The controller resumes one cycle before the
    # results are written: the next instruction's fetch, or the next serial step's
    # read-address cycle, is the write cycle, and a read issued then sees the write.
    elem_done = named(delay(issuing & ~is_range, 1 + V.LANE_DEPTH, s("tag_done_d{k}")),
                      s("elem_done"))
    tag = pyrtl.concat_list([issuing & ~is_range & (serial | last_step),
                             issuing & ~is_range & last_step])
    tag_out = delay(tag, V.LANE_DEPTH, s("tag_d{k}"))
    resume = named(tag_out[0], s("elem_resume"))
    finished = named(tag_out[1], s("elem_finished"))

    # -- matrix unit --------------------------------------------------------------------
    mm = _matrix_unit(cfg, s.sub("mm"), state, instr, desc_regs, mems, field, rng,
                      pe_generator)

    # -- writes -----------------------------------------------------------------------
    # (the descriptors hold until the last write: the next fetch is in its cycle)
    de_mem = desc_regs["e"][0]["mem"]
    write_mem = pyrtl.select(copy_now, copy_dst_mem, dd["mem"])
    for v, (unit, (copy_dst, rd_a, wa_d, active)) in enumerate(zip(units, lane_addr_d)):
        done_here = unit.done
        if v == 0:
            address = pyrtl.select(range_now, _z(dd["base"], A),
                                   pyrtl.select(copy_now, copy_dst, wa_d))
            value = pyrtl.select(range_now, range_min,
                                 pyrtl.select(copy_now, rd_a, unit.d_out))
            mems.data.write(pyrtl.select(range_now, dd["mem"], write_mem), address, value,
                            range_now | (copy_now & active) | done_here)
            mems.data.write(pyrtl.select(range_now, dd["mem"], de_mem),
                            pyrtl.select(range_now, _z(_z(dd["base"], A) + 1, A), wa_e),
                            pyrtl.select(range_now, range_max, unit.e_out),
                            range_now | (done_here & writes_e))
        else:
            mems.data.write(write_mem, pyrtl.select(copy_now, copy_dst, wa_d),
                            pyrtl.select(copy_now, rd_a, unit.d_out),
                            (copy_now & active) | done_here)
    lane_word = _z(units[0].lane_out, W)
    mems.data.write(db["mem"], wa_b, lane_word, elem_done & uses_lane)
    for addr, value, enable in mm["writes"]:
        mems.data.write(dd["mem"], addr, value, enable)

    # -- saturation counters per buffer id ---------------------------------------------
    sat = pyrtl.MemBlock(STAT_BITS, cfg.buffer_bits, name=s("sat"), asynchronous=True,
                         max_read_ports=3, max_write_ports=2)
    id_dst = desc_regs["dst"][1][:cfg.buffer_bits]
    id_e = desc_regs["e"][1][:cfg.buffer_bits]
    lanes_d = pyrtl.Const(0, 8)
    lanes_e = pyrtl.Const(0, 8)
    for v, unit in enumerate(units):
        ls = s.sub(f"lane{v}")
        sat_d = named(pyrtl.select(unit.done, _z(unit.sat_d, 8), pyrtl.Const(0, 8)),
                      ls("sat_d"))
        sat_e = named(pyrtl.select(unit.done, _z(unit.sat_e, 8), pyrtl.Const(0, 8)),
                      ls("sat_e"))
        lanes_d = _z(lanes_d + sat_d, 8)
        lanes_e = _z(lanes_e + sat_e, 8)
    count_d = pyrtl.select(elem_done, lanes_d, _z(mm["overflows"], 8))
    count_d = named(count_d, s("sat_count_d"))
    sat[id_dst] <<= pyrtl.MemBlock.EnabledWrite(_z(_read(sat, id_dst) + count_d, STAT_BITS),
                                                count_d != 0)
    count_e = named(pyrtl.select(elem_done & writes_e, lanes_e, pyrtl.Const(0, 8)),
                    s("sat_count_e"))
    sat[id_e] <<= pyrtl.MemBlock.EnabledWrite(_z(_read(sat, id_e) + count_e, STAT_BITS),
                                              count_e != 0)

    # -- the controller ------------------------------------------------------------------
    mask = field(Barrier, "mask")
    arrived_out <<= state == BARRIER
    mask_out <<= mask
    is_elem_f = pyrtl.Const(0, 1)
    for cls in (Drain, Vector):
        is_elem_f = is_elem_f | (opcode_f == cls.OPCODE)
    is_copy_f = (opcode_f == Load.OPCODE) | (opcode_f == Store.OPCODE)
    b_rows = desc_regs["b"][0]["rows"]

    def next_step() -> None:
        """Inside a conditional block: the element loop moves to its next step (the
        next group of columns, or the next row)."""
        with last_col:
            j.next |= 0
            i.next |= i + 1
        with pyrtl.otherwise:
            j.next |= next_j
    counting = (state != IDLE) & (state != DONE)
    cycle_count.next <<= pyrtl.select(start, pyrtl.Const(0, STAT_BITS),
                                      pyrtl.select(counting, _z(cycle_count + 1, STAT_BITS),
                                                   cycle_count))
    with pyrtl.conditional_assignment:
        with start:
            state.next |= FETCH
            pc.next |= 0
        with state == FETCH:
            instr.next |= fetched
            slot_reg.next |= slot_entry
            pc.next |= pc + 1
            i.next |= 0
            j.next |= 0
            lane_idx.next |= 0
            with is_elem_f:
                state.next |= ELEM_START
            with is_copy_f:
                state.next |= COPY
            with opcode_f == MatMul.OPCODE:
                state.next |= MM_PRE
            with opcode_f == Barrier.OPCODE:
                state.next |= BARRIER
            with pyrtl.otherwise:
                state.next |= HALT
        with state == ELEM_START:
            # issue this step; range is done with its last step, the serial functions
            # wait for each element, the others for their last one
            next_step()
            with lane_idx + 1 == _z(b_rows, COUNT_BITS):
                lane_idx.next |= 0
            with pyrtl.otherwise:
                lane_idx.next |= lane_idx + 1
            with is_range:
                with last_step:
                    state.next |= FETCH
            with serial | last_step:
                state.next |= ELEM_WAIT
        with state == ELEM_WAIT:
            with resume:
                state.next |= pyrtl.select(finished, pyrtl.Const(FETCH, STATE_BITS),
                                           pyrtl.Const(ELEM_START, STATE_BITS))
        with state == COPY:
            with last_step:
                state.next |= FETCH
            next_step()
        with state == MM_PRE:
            state.next |= MM_RUN
        with state == MM_RUN:
            with mm["stream_done"]:
                state.next |= MM_FLUSH
        with state == MM_FLUSH:
            with mm["flushed"]:
                state.next |= FETCH
        with state == BARRIER:
            with release:
                state.next |= BARRIER_OUT
        with state == BARRIER_OUT:
            state.next |= FETCH
        with state == HALT:
            state.next |= DONE
    return {"done": named(state == DONE, s("done")), "cycles": cycle_count, "sat_mem": sat}


def _matrix_unit(cfg: CoreConfig, s: Scope, state, instr, desc_regs, mems, field, rng,
                 pe_generator: PEGenerator) -> dict:
    """The MatMul sequencer around the PE array (see the module docstring)."""
    R, C, W, A = cfg.rows, cfg.cols, cfg.word, cfg.addr_bits
    pe = cfg.pe
    m_start, m_count = rng(MatMul, "m")
    n_start, n_count = rng(MatMul, "n")
    k_start, k_count = rng(MatMul, "k")
    ta, tb = field(MatMul, "ta")[0], field(MatMul, "tb")[0]
    mode = field(MatMul, "mode")[0]
    accumulate = field(MatMul, "accumulate")[0]
    lines = named(pyrtl.select(mode, _z(m_count + 1, COUNT_BITS + 1)[1:],
                               _z(m_count, COUNT_BITS)), s("lines"))
    lines = _z(lines, COUNT_BITS)
    slots = named(pyrtl.select(lines > R, lines, pyrtl.Const(R, COUNT_BITS)), s("slots"))

    p = _reg(COUNT_BITS, s("p"))
    k0 = _reg(COUNT_BITS + 1, s("k0"))
    n0 = _reg(COUNT_BITS + 1, s("n0"))
    running = state == MM_RUN
    pre = state == MM_PRE
    last_k = named(_z(k0, COUNT_BITS + 2) + R >= _z(k_count, COUNT_BITS + 2), s("last_k"))
    last_n = named(_z(n0, COUNT_BITS + 2) + C >= _z(n_count, COUNT_BITS + 2), s("last_n"))
    last_tile = last_k & last_n
    slot_end = _z(p, COUNT_BITS) + 1 == slots
    next_k0 = pyrtl.select(last_k, pyrtl.Const(0, COUNT_BITS + 1), _z(k0 + R, COUNT_BITS + 1))
    next_n0 = pyrtl.select(last_k, _z(n0 + C, COUNT_BITS + 1), n0)
    stream_done = named(running & slot_end & last_tile, s("stream_done"))
    with pyrtl.conditional_assignment:
        with state == FETCH:
            p.next |= 0
            k0.next |= 0
            n0.next |= 0
        with running:
            with slot_end:
                p.next |= 0
                k0.next |= next_k0
                n0.next |= next_n0
            with pyrtl.otherwise:
                p.next |= p + 1

    da, db, dd = desc_regs["a"][0], desc_regs["b"][0], desc_regs["dst"][0]

    def op_a_address(mi, ki):
        # opA[m_start + mi, k_start + ki], a or a^T
        row = _z(m_start, COUNT_BITS) + mi
        col = _z(k_start, COUNT_BITS) + ki
        return _address(da["base"], pyrtl.select(ta, col, row), pyrtl.select(ta, row, col),
                        da["cols"], A)

    def op_b_address(ki, ni):
        row = _z(k_start, COUNT_BITS) + ki
        col = _z(n_start, COUNT_BITS) + ni
        return _address(db["base"], pyrtl.select(tb, col, row), pyrtl.select(tb, row, col),
                        db["cols"], A)

    # The counters p, k0, n0 are stage 0: they compute the addresses of the line and
    # the weight row of slot p, which the synchronous reads register; the words arrive
    # in stage 1, where they enter the array with the masks and controls of their slot
    # (delayed one cycle, ``q``).  The whole stream runs one cycle behind the counters.
    def stage1(value, name):
        return named(delay(value, 1, s(f"{name}_q_d{{k}}")), s(name))

    # -- the activation line of slot p ---------------------------------------------
    line_valid = named(running & (_z(p, COUNT_BITS) < lines), s("line_issue"))
    m_lo = _z(pyrtl.select(mode, pyrtl.concat(p[:COUNT_BITS - 1], pyrtl.Const(0, 1)), p),
              COUNT_BITS)
    m_hi = _z(m_lo + 1, COUNT_BITS)
    lo_ok = m_lo < m_count
    hi_ok = mode & (m_hi < m_count)
    H = pe.half
    words = []
    for r in range(R):
        kr = _z(k0 + r, COUNT_BITS + 1)
        k_ok = kr < _z(k_count, COUNT_BITS + 1)
        kr = _z(kr, COUNT_BITS)
        v_lo = mems.data.read(da["mem"], op_a_address(m_lo, kr), s(f"ra_a{r}_lo"))
        v_hi = mems.data.read(da["mem"], op_a_address(m_hi, kr), s(f"ra_a{r}_hi"))
        use_lo = stage1(k_ok & lo_ok, f"use_r{r}_lo")
        use_hi = stage1(k_ok & hi_ok, f"use_r{r}_hi")
        word32 = pyrtl.select(use_lo, v_lo[:2 * H], pyrtl.Const(0, 2 * H))
        word16 = pyrtl.concat(pyrtl.select(use_hi, v_hi[:H], pyrtl.Const(0, H)),
                              pyrtl.select(use_lo, v_lo[:H], pyrtl.Const(0, H)))
        words.append(pyrtl.select(mode, word16, word32))
    act_line = named(pyrtl.concat_list(words), s("act_line"))

    # -- the weight row loaded this cycle --------------------------------------------
    # slot p loads row p + 1 of this tile; the last slot loads row 0 of the next tile;
    # MM_PRE loads row 0 of the first tile.
    next_row = _z(p, COUNT_BITS) + 1
    load_this = running & (next_row < R)
    load_next = running & slot_end & ~last_tile
    load_en = named(pre | load_this | load_next, s("load_issue"))
    load_row = pyrtl.select(load_this, _z(next_row, row_address_bits(R)),
                            pyrtl.Const(0, row_address_bits(R)))
    tile_k0 = pyrtl.select(load_next, next_k0, k0)
    tile_n0 = pyrtl.select(load_next, next_n0, n0)
    kload = _z(_z(tile_k0, COUNT_BITS + 1) + _z(load_row, COUNT_BITS + 1), COUNT_BITS + 1)
    k_in = kload < _z(k_count, COUNT_BITS + 1)
    weights = []
    for c in range(C):
        nc = _z(_z(tile_n0, COUNT_BITS + 1) + c, COUNT_BITS + 1)
        n_in = nc < _z(n_count, COUNT_BITS + 1)
        value = mems.data.read(db["mem"],
                               op_b_address(_z(kload, COUNT_BITS), _z(nc, COUNT_BITS)),
                               s(f"ra_b{c}"))
        weights.append(pyrtl.select(stage1(k_in & n_in, f"use_c{c}"), value[:pe.weight],
                                    pyrtl.Const(0, pe.weight)))
    load_data = named(pyrtl.concat_list(weights), s("load_data"))

    sums = array_generator(s.sub("array"), R, C, pe, act_line=act_line,
                           line_mode=_z(mode, 1), line_valid=stage1(line_valid, "line_valid"),
                           load_en=stage1(load_en, "load_en"),
                           load_row=stage1(load_row, "load_row"), load_data=load_data,
                           pe_generator=pe_generator)

    # -- metadata travelling with each line: the array's latency (R + its PEs' product
    #    registers) from stage 0 to the cycle before its sums (the accumulator's read
    #    address), one more to the sums
    latency = array_latency(R, C, "broadcast")
    last_line = running & last_tile & (_z(p, COUNT_BITS) + 1 == lines)
    meta = pyrtl.concat_list([_z(m_lo, COUNT_BITS), _z(n0, COUNT_BITS + 1),
                              last_k, _z(k0 == 0, 1), last_line])
    ahead = delay(meta, latency, s("meta_d{k}"))
    meta = pyrtl.Register(meta.bitwidth - 1, name=s(f"meta_d{latency + 1}"))  # last_line done
    meta.next <<= ahead[:-1]

    def meta_fields(word):
        return (word[:COUNT_BITS], word[COUNT_BITS:2 * COUNT_BITS + 1],
                word[2 * COUNT_BITS + 1], word[2 * COUNT_BITS + 2])

    out_m, out_n0, out_last_k, out_first_k = meta_fields(meta)
    ahead_m, ahead_n0 = meta_fields(ahead)[:2]
    ahead_last = ahead[2 * COUNT_BITS + 3]
    out_valid = sums.valid
    out_mode = sums.mode

    def acc_address(m_index, n0_value, c):
        nc = _z(_z(n0_value, COUNT_BITS + 1) + c, COUNT_BITS + 1)
        col = _z(_z(n_start, COUNT_BITS) + _z(nc, COUNT_BITS), COUNT_BITS)
        row = _z(_z(m_start, COUNT_BITS) + m_index, COUNT_BITS)
        return _address(dd["base"], row, col, dd["cols"], A)

    writes, overflow_bits = [], []
    for c in range(C):
        nc = _z(_z(out_n0, COUNT_BITS + 1) + c, COUNT_BITS + 1)
        n_ok = nc < _z(n_count, COUNT_BITS + 1)
        for lane, mi, ahead_mi, lane_sum in (
                ("lo", out_m, ahead_m, sums.sums_lo[c]),
                ("hi", _z(out_m + 1, COUNT_BITS), _z(ahead_m + 1, COUNT_BITS),
                 sums.sums_hi[c])):
            ok = out_valid & n_ok & (mi < m_count)
            if lane == "hi":
                ok = ok & out_mode
            # read-modify-write: the address is registered the cycle before the sums
            # arrive and is also the write address; the previous line's write (last
            # cycle) is in the word read, so k-tiles accumulate without forwarding
            addr = pyrtl.Register(A, name=s(f"ra_acc_c{c}_{lane}"))
            addr.next <<= acc_address(ahead_mi, ahead_n0, c)
            which = pyrtl.Register(MEMORY_ID_BITS, name=s(f"ra_acc_c{c}_{lane}_mem"))
            which.next <<= dd["mem"]
            old = mems.data.read_registered(which, addr)
            base = named(pyrtl.select(out_first_k & ~accumulate, pyrtl.Const(0, W), old),
                         s(f"acc_c{c}_{lane}_base"))
            total = _z(base + named(resize(lane_sum, W), s(f"acc_c{c}_{lane}_sum")), W)
            fitted, over = _fit_width(total, dd["acc_bits"], cfg.acc_overflow, W,
                                      s(f"acc_c{c}_{lane}_fit"))
            value = pyrtl.select(out_last_k, fitted, total)
            writes.append((addr, named(value, s(f"acc_c{c}_{lane}")), ok))
            overflow_bits.append(ok & out_last_k & over)
    overflows = _z(pyrtl.Const(0, 8), 8)
    for bit in overflow_bits:
        overflows = _z(overflows + _z(bit, 8), 8)
    # the controller fetches the next instruction in the cycle the last sums are
    # written (a read issued then sees them)
    flushed = named((state == MM_FLUSH) & ahead_last, s("flushed"))
    return {"writes": writes, "overflows": named(overflows, s("overflows")),
            "stream_done": stream_done, "flushed": flushed}
