"""The FIXAR core generator: N cores around the data memories (one RAM per memory of
the placement, :mod:`fixar_gen.hw.data_memories`), each with a controller, an R x C
dual-mode PE array and a vector lane, behind the host interface of
:mod:`fixar_gen.hw.hostmap`.  Programs and data are inputs, not hardware: one
elaborated design runs any program whose buffers fit its memories.

Per core
    *Controller.*  An instruction issues in four cycles (:data:`ISSUE_CYCLES`, the
    RTL model's ``Timing.issue``): ``FETCH`` reads instruction ``pc`` of the core's own
    instruction memory into ``instr`` and latches the descriptors of its operands;
    ``DECODE`` latches every field and per-instruction constant the units use (counts,
    flags, the lane's operation, each operand's first row and column and its steps, and
    the product ``row * cols`` of its one multiply in that multiply's first register);
    ``PRODUCT`` takes the products into their second register (a DSP48E2's M and P
    registers, :func:`fixar_gen.hw.region_walk.registered_product`); ``BASES`` places each operand's
    address walk (:mod:`fixar_gen.hw.region_walk`: the base plus that product) and the
    matrix unit's stream counters.  From then on no unit computes from ``instr`` or
    multiplies: every address moves by registered steps, and every decision (end of a
    row or a slot, last row, line or tile, the k and n ranges left) is a register
    computed a cycle ahead, so no controller path is deeper than a few LUT levels.
    Then the instruction's unit runs it to completion and the controller fetches the
    next one.  ``halt`` stops the core; ``barrier`` waits
    until every core of its mask has arrived at a barrier with the same mask, then all
    leave together one cycle later.

    *Element loop* (``load``, ``store``, ``vec``, ``drain``): the region row by row, in
    steps of up to ``lanes`` adjacent columns.  ``load``/``store`` copy one step a cycle
    between a host slot and a buffer.  ``vec``/``drain`` issue one step a cycle: they
    read every operand of the step's elements (broadcasting operands with one row or
    one column, as the golden model does) and hand them to the vector lanes
    (:mod:`fixar_gen.hw.vector`, a pipeline of ``LANE_DEPTH`` stages).  The reads are
    synchronous (below): the addresses are registered in the issue cycle and the words
    arrive in the next one (stage 1); the lanes start, a copy writes and ``range``
    folds from the words registered (stage 2, :data:`WORD_REGISTERS`: a line of
    ``amem`` comes through its banks' rotation and the memories' choice, which leave
    no LUT levels for what follows).  A copy's last write is in the next
    instruction's DECODE (before any of its reads: the destination's memory and
    address registered); ``range``'s fold right after another starts from the min and
    max that one wrote (the read, a cycle early, does not see them).  Each lane's
    write address travels beside its element, and the
    results (dst; the OU state; the PRNG lane) are written :data:`STEP_LATENCY` = ``2 +
    LANE_DEPTH`` cycles after the issue (:data:`SHORT_STEP_LATENCY` = ``2 +
    SHORT_DEPTH`` for the lanes' short operations, ``vector.SHORT_OPS``: their results
    leave the lanes after the first rounding).  The controller fetches the next
    instruction in the cycle of the last write (a read issued then sees it): ``steps +
    1 + LANE_DEPTH`` cycles (``steps + 1 + SHORT_DEPTH``), ``steps`` for a copy.
    ``range`` runs no lane: the step's values are folded into the current min and max
    (read from dst) and written back in stage 2, one cycle a step.
    ``noise`` and ``ou_noise`` share the PRNG lanes (element j uses lane j mod L and
    writes it back), so they issue one
    element and issue the next in the cycle of its write: ``2 + LANE_DEPTH`` cycles an
    element.

    *Matrix unit* (``mm``): the R x C array (:mod:`fixar_gen.hw.array`, broadcast
    flow) with opB stationary.  Tiles run n-major, k-minor.  Every tile has
    ``S = max(L, R, ACC_MIN_SLOTS)`` slots, L = the lines of the tile (m rows, two per
    line in FXP16):
    in slot p line p enters the array (p < L) and weight row p + 1 of the tile loads
    (row 0 of the next tile loads in the tile's last slot), so the stationary weights
    are replaced row by row right behind the last line using them.  The slot counters
    are stage 0 (they compute the read addresses); the words arrive in stage 1, where
    the slot's masks select them, and are registered (:data:`WORD_REGISTERS`: ``amem``'s
    line comes through its banks' gather): they enter the array in stage 2 with the
    slot's controls.  The column sums leave the array
    ``R + P`` cycles after their line (P = ``pe.PRODUCT_STAGES``, the registers after
    each PE multiply: the array's latency) and are added into the accumulator buffer
    (read-modify-write, modulo 2^word, :data:`ACC_REGISTERS` apart: the read issued two
    cycles before the sums arrive, the write a cycle after); the last k-tile fits the
    sum to the accumulator's width (saturation counted), the first k-tile of a
    non-accumulating instruction overwrites.  The controller fetches in the cycle the
    last sums arrive (their write is in its DECODE): ``1 + (tiles - 1) * S + L + R + P
    + 1`` cycles.

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
    data address is the memory id above the offset).  The matrix unit reaches only the
    memories ``memory_kinds.MATRIX_MEMORIES`` names (``amem``, ``gmem``, ``wmem``,
    ``cmem``).  ``gmem``, ``mmem`` and ``vmem`` (``BANKED_MEMORIES``) are interleaved
    banks: a step reads each operand as one line of adjacent words through its
    memory's line port (per core; the host's requests muxed into core 0's) and writes
    its results as one line, and a program never asks one of them for two lines of
    one step (:mod:`fixar_gen.memory_access`); the matrix unit reads a delta in
    ``gmem`` as one line of that port too (``a``: R adjacent words in FXP32; ``b``: a
    row of C).  ``cmem`` is 2H
    interleaved banks (:attr:`CoreConfig.acc_half`) with one double-line port per core:
    the matrix unit's read-modify-write of rows m and m + 1 (padded row strides put
    them in the two halves), a step's line, acc_add's two lines (the placement's
    halves) and the host's words.  ``wmem`` is 2H interleaved banks too, with one line
    port per core: the matrix unit's weight row (or ``tb``'s column, its row stride
    odd: ``memory_kinds.weight_stride``) as one strided line, a step's line and
    soft_update's two lines (the placement's halves) and the host's words.  ``amem``
    is 4P interleaved banks (``memory_kinds.activation_banks``) with one line port per
    core: the matrix unit's ``a`` (the line, FXP16's row pair, ``ta``'s column or
    FXP16's column pair) as one strided read of 2R words (the activations' row strides
    padded: ``memory_kinds.activation_stride``), a step's lines one a cycle (a drain or
    pipelined vec step reading more than one takes a cycle a line:
    :func:`_amem_phases`) and the host's words.  ``smem`` has a read and a write port
    per word its units read or write each cycle (:func:`memory_ports`).

The cycle counts above are what :func:`execution_cycles` returns, the RTL's own cycle
model; :func:`fixar_gen.perf.schedule` runs it with the barrier and issue rules shared
with the FIXAR model, and the tests compare it with the cycles the RTL reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyrtl

from .. import isa, ops
from ..isa import (MODES, VECTOR_FUNCTIONS, Barrier, Drain, Halt, Instruction,
                   Load, MatMul, Store, Vector, Xfer)
from ..range_fusion import FOLDED_FUNCTIONS
from ..transfers import XFER_LATENCY, xfer_cycles
from . import vector as V
from .array import array as array_generator, latency as array_latency, row_address_bits
from .build import Scope, data_register, delay, fresh_block, named, one_hot_pick, resize
from .build import any_bit as _any_bits, zext as _z
from .data_memories import (MEMORY_ID_BITS, DataMemories, MemoryShape, bank_options,
                           locate_banked, memory_id)
from .hostmap import (COUNT_BITS, STAT_BITS, HostMap, desc_fields, slot_fields, width)
from .lane_limits import WIDEST, LaneLimits
from .multiply import constant_times
from .pe import PEGenerator, PEWidths, pe as pe_generator_default
from .region_walk import PRODUCT_REGISTERS, latch, region_walk, registered_product
from ..memory_kinds import (ACTIVATION_MEMORY, BANKED_MEMORIES, DELTA_MEMORY,
                            MATRIX_MEMORIES, MEMORIES, PAIRED_MEMORIES, SLOT_MEMORY,
                            WEIGHT_MEMORY, accumulator_half_line, activation_banks)

#: cycles from an instruction's fetch to its unit's first cycle: FETCH, DECODE, PRODUCT
#: (the walks' products in their second register), BASES
ISSUE_CYCLES = 2 + PRODUCT_REGISTERS
#: cycles from the words of a read (stage 1) to where the lanes start, the copies
#: write, range folds and the matrix unit's lines and weight rows enter the array
#: (stage 2): a register after each, since ``amem``'s words come through its banks'
#: rotation (or gather) and the memories' choice
WORD_REGISTERS = 1
#: the registered stages of the tree that folds the lanes' write-back minima and maxima
#: (:func:`_write_back_folds`): a fused range's step folds the tree's output in its
#: stage 2, ISSUE_CYCLES + 1 + WORD_REGISTERS cycles after the drain's last write, the
#: lanes' own registers taking the first of them
FOLD_STAGES = ISSUE_CYCLES + WORD_REGISTERS
#: the registered stages of ``range``'s tree over the lanes (:func:`_fold_tree`), from
#: its step's stage 2 to the fold into the running minimum and maximum and their
#: write: the last step's write lands in the next instruction's BASES, before any of
#: its reads, so the tree costs no cycle
RANGE_STAGES = ISSUE_CYCLES - 1 - WORD_REGISTERS
#: the registers of the matrix unit's accumulation into ``cmem`` (docs/hardware.md, "The
#: accumulators in banks"): the banks' read data (as a block RAM's output register),
#: and the sum fitted to the accumulator's width, so that no path runs from a bank
#: through the add and the fit to a bank.  A line's read is issued ``ACC_REGISTERS``
#: cycles before its sums arrive and its write is ``ACC_REGISTERS - 1`` after; its next
#: visit (the next k-tile, ``S`` slots later) reads it after that write while S >= 2 *
#: ACC_REGISTERS - 1: :data:`ACC_MIN_SLOTS`
ACC_REGISTERS = 2
#: the fewest slots of a MatMul's tile (``S = max(L, R, ACC_MIN_SLOTS)``)
ACC_MIN_SLOTS = 2 * ACC_REGISTERS - 1
#: cycles from an element-loop step's issue to its results' write: the read (stage 1),
#: the words' register (:data:`WORD_REGISTERS`: the lanes start in stage 2, from
#: registers) and the lanes' ``LANE_DEPTH`` stages
STEP_LATENCY = 1 + WORD_REGISTERS + V.LANE_DEPTH
#: the same for the lanes' short operations (``vector.SHORT_OPS``, ``SHORT_DEPTH``)
SHORT_STEP_LATENCY = 1 + WORD_REGISTERS + V.SHORT_DEPTH


def step_latency(op: str) -> int:
    """Cycles from an element-loop step's issue to its results' write for the lanes'
    operation ``op``: :data:`SHORT_STEP_LATENCY` or :data:`STEP_LATENCY`."""
    return 1 + WORD_REGISTERS + V.element_latency(op)

# controller states (XFER_WAIT: per-core memories only, an xfer's link draining)
IDLE, FETCH, DECODE, PRODUCT, BASES, ELEM_START, ELEM_WAIT, COPY, MM_PRE, MM_RUN, MM_FLUSH, \
    BARRIER, BARRIER_OUT, HALT, DONE, XFER_WAIT = range(16)
STATE_BITS = 4

OPERAND_SLOTS = ("dst", "a", "b", "c", "e")
#: the element loop's read operands, each one read of a line (or lane 0's word) a step
#: (a: a vec's a, a drain's accumulator, a copy's source; b; d: dst, read by the
#: functions that update it and range; e, also range's max): ``CoreConfig.
#: operand_memories`` may narrow the memories each chooses among
ELEMENT_OPERANDS = ("a", "b", "d", "e")
#: which field of each instruction fills each operand slot
SLOT_FIELDS = {
    Load: {"dst": "dst"},
    Store: {"dst": "src"},
    MatMul: {"dst": "dst", "a": "a", "b": "b"},
    Drain: {"dst": "dst", "a": "acc", "b": "bias", "c": "slope"},
    Vector: {"dst": "dst", "a": "a", "b": "b", "c": "c", "e": "e"},
}
#: per-core memories: the buffer an ``xfer`` sends, in the dst slot (read at its
#: addresses in the sender's copy, as a store's source; written at the receiver's)
XFER_FIELDS = {Xfer: {"dst": "buf"}}


def decoded_instructions(cfg: "CoreConfig") -> tuple[type[Instruction], ...]:
    """The instructions the controllers of ``cfg`` decode (``xfer`` with per-core
    memories; any other opcode is taken for a halt)."""
    return isa.INSTRUCTIONS + (isa.TRANSFER_INSTRUCTIONS if cfg.per_core_memories else ())


def operand_fields(cfg: "CoreConfig") -> dict:
    """Which field of each decoded instruction fills each operand slot."""
    return {**SLOT_FIELDS, **(XFER_FIELDS if cfg.per_core_memories else {})}


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
    #: each core its own copy of the data memories (one line port per bank: a one-core
    #: design's), its own descriptor and slot tables, and ``xfer`` executed (the
    #: sender's element loop reading its copy, the words written through the link's
    #: registers into the receivers' copies); off: one set of memories shared by the
    #: cores (a line port per core), ``xfer`` refused
    per_core_memories: bool = False
    #: the element functions the lanes are built with (``hardware.vector_functions:
    #: programs``, ``hw.design.lane_functions``); None: every one
    #: (``vector.lane_operations``: lane 0 keeps the serial and folded ones)
    functions: tuple[str, ...] | None = None
    #: functions among ``functions`` built into lane 0 only and issued one element a
    #: step there, pipelined (``hw.design.lane0_functions``: their instructions are
    #: narrow); the other lanes are built without them
    lane0_functions: tuple[str, ...] = ()
    #: per read operand of the element loop (:data:`ELEMENT_OPERANDS`), the memories
    #: its words are chosen among (``hardware.vector_functions: programs``,
    #: ``hw.design.operand_memories``: those the spec's programs name for it), as
    #: ((operand, (memory, ...)), ...); None: every memory for every operand
    operand_memories: tuple[tuple[str, tuple[str, ...]], ...] | None = None

    def operand_memory_set(self, operand: str) -> tuple[str, ...]:
        """The memories the element loop's read operand ``operand`` (``a``, ``b``,
        ``d``, ``e``) chooses among, in :data:`MEMORIES` order (may be empty: no
        program reads it)."""
        return operand_memory_set(self.operand_memories, operand)

    @property
    def parallel_functions(self) -> tuple[str, ...] | None:
        """The functions the lanes other than lane 0 are built with (None: every one;
        ``vector.lane_operations`` takes the serial ones out)."""
        if self.functions is None:
            return None
        return tuple(f for f in self.functions if f not in self.lane0_functions)

    @property
    def data_memories(self) -> tuple[MemoryShape, ...]:
        return self.memories or tuple(MemoryShape(m, self.word, self.addr_bits)
                                      for m in MEMORIES)

    def memory(self, name: str) -> MemoryShape:
        return self.data_memories[memory_id(name)]

    @property
    def banks(self) -> int:
        """Banks of each banked memory (``BANKED_MEMORIES``): one per vector lane,
        rounded up to a power of two."""
        return 1 << (self.lanes - 1).bit_length()

    @property
    def acc_half(self) -> int:
        """H of ``cmem``'s double line (``memory_kinds.accumulator_half_line``): the
        array's columns or the lanes, if more, rounded up to a power of two."""
        return accumulator_half_line(self.cols, self.lanes)

    def memory_banks(self, name: str) -> int | None:
        """Interleaved banks of data memory ``name``: :attr:`banks` for the element
        loop's (``BANKED_MEMORIES``), for ``gmem`` (the deltas') at least the array's
        rows and columns too (the matrix unit reads R or C adjacent words of it as one
        line), 2 :attr:`acc_half` for ``cmem`` and ``wmem`` (``PAIRED_MEMORIES``: their
        double line), 4P for ``amem`` (``memory_kinds.activation_banks``: the matrix
        unit's 2R-word strided read), None for a memory with a port per word."""
        if name == DELTA_MEMORY:
            return accumulator_half_line(max(self.rows, self.cols), self.lanes)
        if name == ACTIVATION_MEMORY:
            return activation_banks(self.rows, self.cols, self.lanes)
        if name in BANKED_MEMORIES:
            return self.banks
        if name in PAIRED_MEMORIES:
            return 2 * self.acc_half
        return None

    def bank_options(self, name: str) -> dict:
        """The interleaved banks' options of banked data memory ``name``
        (:func:`fixar_gen.hw.data_memories.bank_options`), as :func:`_data_memories`
        builds it."""
        return bank_options(self.memory(name), self.memory_banks(name),
                            halves=name in PAIRED_MEMORIES,
                            strided=self.strided_elements(name),
                            line_words=self.line_words(name))

    def strided_elements(self, name: str) -> int:
        """The elements of data memory ``name``'s strided read (0: none): ``wmem``'s
        weight row or transposed column of C words, ``amem``'s activation line, row
        pair, column or column pair of 2R words."""
        return {WEIGHT_MEMORY: self.cols, ACTIVATION_MEMORY: 2 * self.rows}.get(name, 0)

    def line_words(self, name: str) -> int | None:
        """The words of banked memory ``name``'s read line that its readers take (None:
        every bank's): ``amem``'s, the lanes' and the strided read's (the rest of its
        rotation would have no reader)."""
        return max(self.lanes, 2 * self.rows) if name == ACTIVATION_MEMORY else None

    def locate(self, name: str, offset: int, core: int = 0) -> tuple[str, int]:
        """(MemBlock name, address) of word ``offset`` of data memory ``name`` (in core
        ``core``'s copy, with per-core memories)."""
        shape = self.memory(name)
        banks = self.memory_banks(name)
        block, at = locate_banked(shape, banks, offset) if banks else shape.locate(offset)
        return self.memory_prefix(core) + block, at

    def memory_prefix(self, core: int) -> str:
        """What the MemBlock names of core ``core``'s copy of the data memories start
        with (nothing: the shared memories)."""
        return f"core{core}_" if self.per_core_memories else ""

    @property
    def copies(self) -> int:
        """Copies of the data memories: one per core, or one shared."""
        return self.cores if self.per_core_memories else 1

    @property
    def hostmap(self) -> HostMap:
        return HostMap(self.name, self.cores, self.word, self.addr_bits, self.imem_bits,
                       self.buffer_bits, self.slot_bits,
                       per_core=self.per_core_memories and self.cores > 1)


def operand_memory_set(operand_memories, operand: str) -> tuple[str, ...]:
    """The memories ``operand_memories`` (``CoreConfig.operand_memories``; None: every
    memory) lets the element loop's read operand ``operand`` choose among, in
    :data:`MEMORIES` order."""
    if operand not in ELEMENT_OPERANDS:
        raise ValueError(f"no element loop operand {operand!r}")
    if operand_memories is None:
        return MEMORIES
    named_ = set(dict(operand_memories).get(operand, ()))
    return tuple(m for m in MEMORIES if m in named_)


def scratchpad_ports(cfg: CoreConfig) -> tuple[int, int]:
    """(read ports, write ports) each core has on an unbanked data memory that every
    unit reaches (the host adds one of each): 4 per vector lane + 2 + 2R + 3C reads;
    one write per lane, lane 0's second (range's max, the OU state), the PRNG lane's,
    and 2C writes of the matrix unit.  :func:`memory_ports` counts each memory."""
    return (4 * cfg.lanes + 2 + 2 * cfg.rows + 3 * cfg.cols,
            cfg.lanes + 2 + 2 * cfg.cols)


def memory_ports(cfg: CoreConfig, name: str) -> tuple[int, int]:
    """(read ports, write ports) of each RAM of data memory ``name``, the host's
    included: a banked memory's bank has a line port of each per core (the host's
    muxed into core 0's); an unbanked one a port per word the element loop reads (lane
    0's 4, one per read operand that can name it, ``CoreConfig.operand_memories``; the
    constants' 2: the other lanes take lane 0's words, so an unbanked operand
    is broadcast or in one lane, ``hw.design.smem_problems``) or writes (lane 0's two,
    the PRNG lane's) per
    core, and the matrix unit's where :data:`MATRIX_MEMORIES` lets it reach the memory
    (2R for a, C for b), plus the host's; ``cmem``'s banks a double-line port of each
    per core (the matrix unit's read-modify-write, the element loop's and the host's
    accesses muxed in)."""
    if cfg.memory_banks(name):
        return cfg.cores, cfg.cores
    R, C = cfg.rows, cfg.cols
    # (lane 0's alone: the other lanes take lane 0's word, DataMemories.read_lanes; an
    # operand that cannot name the memory, CoreConfig.operand_memories, has no port)
    operands = sum(name in cfg.operand_memory_set(x) for x in ELEMENT_OPERANDS)
    reads = operands + 2 + 2 * R * (name in MATRIX_MEMORIES["a"]) \
        + C * (name in MATRIX_MEMORIES["b"])
    writes = 1 + 2
    return reads * cfg.cores + 1, writes * cfg.cores + 1


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
    slot = max(lines, rows, ACC_MIN_SLOTS)
    return (1 + (tiles - 1) * slot + lines + array_latency(rows, cols, "broadcast")
            + WORD_REGISTERS)


#: vector functions issued one element a step (they share PRNG lanes), and those charged
#: to the "sync" unit (the inter-core link's add); from the operations' declarations
#: (fixar_gen.ops); the folded ones (``range``: no lane runs) are range_fusion's
SERIAL_FUNCTIONS = ops.names(issue="serial")
LINK_FUNCTIONS = ops.names(unit="link")


def element_op(instr: Instruction) -> str | None:
    """The lanes' operation (``vector.ELEMENT_OPS``) ``instr`` runs: a ``vec``'s function
    or a drain's ``drain_<activation>``; None for the other instructions."""
    if isinstance(instr, Drain):
        return "drain_" + isa.ACTIVATIONS[instr.act]
    if isinstance(instr, Vector):
        return VECTOR_FUNCTIONS[instr.fn]
    return None


def execution_cycles(instr: Instruction, rows: int, cols: int, lanes: int = 1,
                     extra: int = 0, fused: bool = False, one_lane=()) -> tuple[str, int]:
    """(unit, cycles) the generated RTL spends on ``instr`` after its issue cycle
    (the unit names are those of :mod:`fixar_gen.perf`).  The synchronous reads of
    the data memory add a stage to every unit, which overlaps the next instruction's
    fetch (its last writes land in that cycle): no instruction's count changes; the
    register after the words (:data:`WORD_REGISTERS`) costs an ``mm`` a cycle (its
    lines enter the array a cycle later), a ``vec`` or ``drain`` a cycle (its lanes
    start a cycle later: :data:`STEP_LATENCY`), a serial function's element a cycle,
    and a copy none (its last write lands in the next instruction's DECODE), nor
    ``range`` (its tree over the lanes, :data:`RANGE_STAGES`, ends in the next
    instruction's BASES).
    ``extra``: the cycles each step of a drain or pipelined vec spends reading lines of
    ``amem`` beyond its first (:func:`fixar_gen.memory_access.extra_lines`); ``fused``:
    a range that follows its drain (:func:`fixar_gen.range_fusion.fused_ranges`), one
    step; ``one_lane``: the pipelined functions the design builds into lane 0 only
    (``CoreConfig.lane0_functions``), a step an element."""
    if isinstance(instr, MatMul):
        return "array", matmul_cycles(instr, rows, cols)
    if isinstance(instr, Barrier):
        return "sync", 1
    if isinstance(instr, Halt):
        return "issue", 1
    if isinstance(instr, Xfer):
        # (per-core memories) a line of ``lanes`` words a cycle, then the link's latency
        return "sync", xfer_cycles(instr, lanes, XFER_LATENCY)
    if one_lane and element_op(instr) in one_lane:
        lanes = 1
    steps = 1 if fused else instr.rows.count * math.ceil(instr.cols.count / lanes)
    if isinstance(instr, (Load, Store)):
        return "dma", steps
    if isinstance(instr, Drain):
        return "vector", steps * (1 + extra) - 1 + step_latency(element_op(instr))
    if isinstance(instr, Vector):
        fn = VECTOR_FUNCTIONS[instr.fn]
        unit = "sync" if fn in LINK_FUNCTIONS else "vector"
        if fn in FOLDED_FUNCTIONS:
            return unit, steps
        if fn in SERIAL_FUNCTIONS:
            return unit, instr.rows.count * instr.cols.count * STEP_LATENCY
        return unit, steps * (1 + extra) - 1 + step_latency(fn)
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


def _step_delay(value, short_issue, name: str, short_name: str) -> pyrtl.WireVector:
    """``value`` of an element-loop step (its write address) in its results' write cycle:
    :data:`STEP_LATENCY` cycles after the issue, :data:`SHORT_STEP_LATENCY` for a short
    operation's step (``short_issue``: one issued now).  One line of data registers
    (``name``), the short step's value leaving it after SHORT_STEP_LATENCY - 1 into its
    last register (chosen by ``short_name``'s line of valid bits)."""
    early = delay(value, SHORT_STEP_LATENCY - 1, name, reset=False)
    late = early
    for k in range(SHORT_STEP_LATENCY, STEP_LATENCY):
        reg = data_register(early.bitwidth, name.format(k=k))
        reg.next <<= late
        late = reg
    leaving = delay(short_issue, SHORT_STEP_LATENCY - 1, short_name)
    last = data_register(early.bitwidth, name.format(k=STEP_LATENCY))
    last.next <<= pyrtl.select(leaving, early, late)
    return last


def _sum_tree(values: list, bits: int) -> pyrtl.WireVector:
    """The sum of ``values`` modulo 2^bits, added as a balanced tree."""
    values = [_z(v, bits) for v in values] or [pyrtl.Const(0, bits)]
    while len(values) > 1:
        values = [_z(values[i] + values[i + 1], bits) if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]


def _read(mem: pyrtl.MemBlock, addr) -> pyrtl.WireVector:
    """A combinational read of ``mem`` as a plain wire."""
    wire = pyrtl.WireVector(mem.bitwidth)
    wire <<= mem[addr]
    return wire


def _reg(bits: int, name: str) -> pyrtl.Register:
    return pyrtl.Register(bits, name=name)


def _lower(a: pyrtl.WireVector, b: pyrtl.WireVector) -> pyrtl.WireVector:
    """The signed minimum of ``a`` and ``b`` (``a`` on a tie)."""
    return pyrtl.select(pyrtl.signed_lt(b, a), b, a)


def _higher(a: pyrtl.WireVector, b: pyrtl.WireVector) -> pyrtl.WireVector:
    """The signed maximum of ``a`` and ``b`` (``a`` on a tie)."""
    return pyrtl.select(pyrtl.signed_gt(b, a), b, a)


def _write_back_folds(s: Scope, lanes: int, data_width: int, restart: pyrtl.WireVector):
    """The running minimum and maximum of a drain's results: per lane a pair of
    registers, set to the empty range by ``restart`` (the drain's DECODE) and folding
    the lane's result in each cycle it writes one; then across the lanes a tree of
    registered pairwise folds, at most :data:`FOLD_STAGES` stages, so that the range
    after the drain (its step's stage 2, ISSUE_CYCLES + 1 + WORD_REGISTERS cycles after
    the drain's last write) reads the whole drain's.  The values are the data formats'
    (``data_width`` bits and a sign, of the lanes' word); the empty range one bit
    wider.  Returns (per lane ``fold(done, d_out)``, which wires its registers, the
    minimum, the maximum)."""
    bits = data_width + 2
    top, bottom = (1 << (bits - 1)) - 1, 1 << (bits - 1)
    lows = [pyrtl.Register(bits, name=s(f"lane{v}_min")) for v in range(lanes)]
    highs = [pyrtl.Register(bits, name=s(f"lane{v}_max")) for v in range(lanes)]

    def lane_fold(low, high):
        def fold(done, d_out):
            value = resize(d_out, bits)
            low.next <<= pyrtl.select(restart, pyrtl.Const(top, bits),
                                      pyrtl.select(done, _lower(low, value), low))
            high.next <<= pyrtl.select(restart, pyrtl.Const(bottom, bits),
                                       pyrtl.select(done, _higher(high, value), high))
        return fold

    low, high = _fold_tree(s, list(zip(lows, highs)), FOLD_STAGES, exact=False)
    return [lane_fold(lo, hi) for lo, hi in zip(lows, highs)], low, high


def _fold_tree(s: Scope, nodes: list, stages: int, exact: bool = True):
    """The minimum and maximum of ``nodes`` ((low, high) pairs) folded as a tree of
    pairwise folds (an odd node passed up as it is), registered every
    ``ceil(levels / stages)`` levels and after the last: at most ``stages`` registers
    deep, or (``exact``) exactly ``stages``, the missing ones added at its output (a
    tree of one node is ``stages`` registers)."""
    levels = (len(nodes) - 1).bit_length()
    per_stage = -(-levels // stages) if levels else 1
    registered = 0
    for level in range(levels):
        pairs = []
        for j in range(0, len(nodes), 2):
            if j + 1 == len(nodes):
                pairs.append(nodes[j])
                continue
            (l0, h0), (l1, h1) = nodes[j], nodes[j + 1]
            pairs.append((_lower(l0, l1), _higher(h0, h1)))
        if (level + 1) % per_stage == 0 or level == levels - 1:
            pairs = [(delay(low, 1, s(f"tree{level}_{j}_min")),
                      delay(high, 1, s(f"tree{level}_{j}_max")))
                     for j, (low, high) in enumerate(pairs)]
            registered += 1
        nodes = pairs
    (low, high), = nodes
    if exact and registered < stages:
        low = delay(low, stages - registered, s("tree_min_d{k}"), reset=False)
        high = delay(high, stages - registered, s("tree_max_d{k}"), reset=False)
    return low, high


def build_write_back_folds(lanes: int, data_width: int, word: int) -> pyrtl.Block:
    """The drain's write-back fold alone (:func:`_write_back_folds`), as a block whose
    ports are ``restart``, ``done<v>`` and ``d<v>`` (``word`` bits) per lane and the
    ``low`` and ``high`` it folds (tests/hw/test_fused_range.py; the timing
    benchmark's ``foldN`` design)."""
    with fresh_block() as block:
        restart = pyrtl.Input(1, "restart")
        folds, low, high = _write_back_folds(Scope("wb_fold"), lanes, data_width, restart)
        for v, fold in enumerate(folds):
            fold(pyrtl.Input(1, f"done{v}"), pyrtl.Input(word, f"d{v}"))
        for name, value in (("low", low), ("high", high)):
            out = pyrtl.Output(value.bitwidth, name)
            out <<= value
    return block


def _fit_limits(acc_bits: pyrtl.WireVector, overflow: str, word: int, name: str
                ) -> dict[str, pyrtl.WireVector]:
    """The limits of :func:`_fit_width` for a signed ``acc_bits``-bit integer in
    ``word`` bits, registered a cycle behind ``acc_bits`` (a descriptor field that holds
    from one FETCH to the next while the matrix unit writes its first sums cycles after
    its DECODE): ``max`` = 2^(w-1) - 1 and, to wrap, ``top`` = 2^(w-1) and ``mask`` =
    2^w - 1, all modulo 2^word with w - 1 taken modulo 2^8 as the width's field is.
    Each bit is a compare of the 8-bit width with a constant (bit i of ``max`` is
    whether i < w - 1), so the limits are two LUT levels from the width, not a shifter
    and a subtraction; the matrix unit builds them once for all its columns."""
    bits = _z(acc_bits, 8)
    zero = bits == 0            # w - 1 is 255: every bit of max set, top 0

    def thermometer(below):     # bit i: i < below(i)'s bound
        return pyrtl.concat_list([below(i) for i in range(word)])

    def limit(wire, what):
        return named(delay(wire, 1, f"{name}_{what}_q_d{{k}}"), f"{name}_{what}")
    limits = {"max": limit(thermometer(lambda i: zero | (bits >= i + 2)), "max")}
    if overflow != "saturate":
        limits["top"] = limit(thermometer(lambda i: bits == i + 1), "top")
        limits["mask"] = limit(thermometer(lambda i: bits >= i + 1), "mask")
    return limits


def _fit_width(value: pyrtl.WireVector, limits: dict[str, pyrtl.WireVector],
               overflow: str, word: int) -> tuple[pyrtl.WireVector, pyrtl.WireVector]:
    """``value`` (signed, ``word`` bits) fitted to a signed ``acc_bits``-bit integer by
    ``overflow``, with the limits of :func:`_fit_limits`; (result, overflowed): two
    compares and a select."""
    max_int = limits["max"]                                                # 2^(w-1) - 1
    min_int = ~max_int                                      # -2^(w-1) = ~(2^(w-1) - 1)
    over = pyrtl.signed_gt(value, max_int)
    under = pyrtl.signed_lt(value, min_int)
    if overflow == "saturate":
        fitted = pyrtl.select(over, max_int, pyrtl.select(under, min_int, value))
    else:
        mask = limits["mask"]
        low = value & mask
        negative = (value & limits["top"]) != 0             # bit w - 1 of value
        fitted = pyrtl.select(negative, low | ~mask, low)
    return _z(fitted, word), over | under


# ---------------------------------------------------------------------------- generator

@dataclass
class _Memories:
    data: DataMemories
    desc: pyrtl.MemBlock
    slot: pyrtl.MemBlock


def build_core(cfg: CoreConfig, pe_generator: PEGenerator = pe_generator_default,
               lane_generator=V.vector_unit) -> pyrtl.Block:
    """Elaborate the whole design (all cores, memories, host interface) in a fresh
    block; its ports are those of ``cfg.hostmap.ports()``.  ``pe_generator`` replaces
    the PE (the tests use it to plant a bug the verification must catch);
    ``lane_generator`` the vector lane (:func:`fixar_gen.hw.lane_stand_in.stand_in_lane`
    times the controller without synthesizing a lane)."""
    from .build import fresh_block
    with fresh_block() as block:
        _elaborate(cfg, pe_generator, lane_generator=lane_generator)
    return block


def _data_memories(cfg: CoreConfig, prefix: str, line_ports: int, read_ports: int,
                   write_ports: int) -> DataMemories:
    """One set of the data memories: shared by the cores (``line_ports`` = cores) or
    one core's copy (one line port)."""
    return DataMemories(cfg.data_memories, cfg.word, cfg.addr_bits,
                        read_ports=read_ports, write_ports=write_ports,
                        banks={m: cfg.memory_banks(m) for m in MEMORIES
                               if cfg.memory_banks(m)},
                        line_ports=line_ports, halves=PAIRED_MEMORIES,
                        strided={m: cfg.strided_elements(m) for m in MEMORIES
                                 if cfg.strided_elements(m)},
                        line_words={m: cfg.line_words(m) for m in MEMORIES
                                    if cfg.line_words(m)},
                        prefix=prefix)


def _elaborate(cfg: CoreConfig, pe_generator: PEGenerator,
               lane_generator=V.vector_unit) -> None:
    hm = cfg.hostmap
    ports = {name: pyrtl.Input(bits, name) if way == "in" else pyrtl.Output(bits, name)
             for name, (bits, way) in hm.ports().items()}
    reads_per_core, writes_per_core = scratchpad_ports(cfg)
    dbits, sbits = width(hm.desc_fields), width(hm.slot_fields)
    A = cfg.addr_bits
    D = hm.data_addr_bits
    # the host's data address: the memory id above the offset (on a banked memory
    # through line port 0, when no core asks for it: the cores are idle while the host
    # reads or writes); the host's read is synchronous too: host_mem_rdata is the word
    # at the address host_mem_raddr held in the previous cycle
    raddr = ports["host_mem_raddr"]
    if cfg.per_core_memories:
        # each core its copy (one line port), its descriptor and slot tables; the host
        # writes and reads the copy its address names; the other
        # cores' links write through the core's own write ports (its lanes'), which
        # are idle while it receives: a copy has a one-core design's ports
        sets = []
        for c in range(cfg.cores):
            prefix = cfg.memory_prefix(c)
            data = _data_memories(cfg, prefix, 1, reads_per_core + 1, writes_per_core + 1)
            # (one more read: the incoming link's buffer, for this copy's base)
            desc = pyrtl.MemBlock(dbits, cfg.buffer_bits, name=f"{prefix}mem_desc",
                                  asynchronous=True,
                                  max_read_ports=len(OPERAND_SLOTS) + (cfg.cores > 1),
                                  max_write_ports=1)
            slot = pyrtl.MemBlock(sbits, cfg.slot_bits, name=f"{prefix}mem_slot",
                                  asynchronous=True, max_read_ports=1, max_write_ports=1)
            sets.append(_Memories(data, desc, slot))
    else:
        data = _data_memories(cfg, "", cfg.cores, reads_per_core * cfg.cores + 1,
                              writes_per_core * cfg.cores + 1)
        desc = pyrtl.MemBlock(dbits, cfg.buffer_bits, name="mem_desc", asynchronous=True,
                              max_read_ports=len(OPERAND_SLOTS) * cfg.cores,
                              max_write_ports=1)
        slot = pyrtl.MemBlock(sbits, cfg.slot_bits, name="mem_slot", asynchronous=True,
                              max_read_ports=cfg.cores, max_write_ports=1)
        sets = [_Memories(data, desc, slot)] * cfg.cores
    # the host's writes: with per-core memories on more than one core each names its
    # copy (a core field above the address: hm.per_core), every copy its own words,
    # descriptors and slots
    def for_copy(c, port, bits):
        if not hm.per_core:
            return ports[f"host_{port}_we"]
        return ports[f"host_{port}_we"] & (ports[f"host_{port}_addr"][bits:] == c)
    B, S = cfg.buffer_bits, cfg.slot_bits
    for c, m in enumerate(sets[:cfg.copies]):
        m.data.write_lanes(0, ports["host_mem_addr"][A:D], ports["host_mem_addr"][:A],
                           [ports["host_mem_wdata"]], [for_copy(c, "mem", D)], host=True)
        m.desc[ports["host_desc_addr"][:B]] <<= pyrtl.MemBlock.EnabledWrite(
            ports["host_desc_wdata"], for_copy(c, "desc", B))
        m.slot[ports["host_slot_addr"][:S]] <<= pyrtl.MemBlock.EnabledWrite(
            ports["host_slot_wdata"], for_copy(c, "slot", S))
    if cfg.per_core_memories:
        words = [m.data.read_lanes(0, raddr[A:D], raddr[:A], 1, pyrtl.Const(0, 1),
                                   pyrtl.Const(1, 1), f"{cfg.memory_prefix(c)}host_mem_raddr_q",
                                   host=True)[0] for c, m in enumerate(sets)]
        if cfg.cores == 1:
            ports["host_mem_rdata"] <<= words[0]
        else:
            which = pyrtl.Register(hm.core_bits, name="host_mem_rcore_q")
            which.next <<= raddr[D:]
            ports["host_mem_rdata"] <<= pyrtl.mux(
                which, *(words + [words[-1]] * ((1 << hm.core_bits) - cfg.cores)))
    else:
        ports["host_mem_rdata"] <<= data.read_lanes(
            0, raddr[A:], raddr[:A], 1, pyrtl.Const(0, 1), pyrtl.Const(1, 1),
            "host_mem_raddr_q", host=True)[0]

    # barrier network: each core shows whether it waits, and with which mask
    arrived = [pyrtl.WireVector(1, f"core{c}_barrier_arrived") for c in range(cfg.cores)]
    masks = [pyrtl.WireVector(16, f"core{c}_barrier_mask") for c in range(cfg.cores)]
    done, cycles, sats, links = [], [], [], []
    # what the other cores' links write into each core's copy (driven below)
    incoming = [_link_wires(cfg, Scope(f"core{c}_link_in")) if cfg.per_core_memories and
                cfg.cores > 1 else None for c in range(cfg.cores)]
    for c in range(cfg.cores):
        release = _barrier_release(c, cfg.cores, arrived, masks)
        out = _core(cfg, c, Scope(f"core{c}"), ports, sets[c], arrived[c], masks[c], release,
                    pe_generator, lane_generator, incoming[c])
        done.append(out["done"])
        cycles.append(out["cycles"])
        sats.append(out["sat_read"])
        links.append(out.get("link"))

    # the links: each sender's words, through its registers, into every other core's
    # copy (written while that core waits at the barrier: its write ports are free; one
    # sender at a time, hw.design.transfer_problems)
    for r, wires in enumerate(incoming):
        if wires is not None:
            _drive_link_in(cfg, Scope(f"core{r}_link_in"), wires,
                           [(links[c], links[c]["enables"][r])
                            for c in range(cfg.cores) if c != r], sets[r].desc)
    for m in sets[:cfg.copies]:
        m.data.finish()
    all_done = done[0]
    for d in done[1:]:
        all_done = all_done & d
    ports["host_done"] <<= all_done
    ports["host_busy"] <<= ~all_done

    # statistics read port: synchronous like the data port (HOST_READ_LATENCY), each
    # core's counter memories read at the address host_stat_addr held the cycle before
    # (the cores are idle while the host reads; a core's cycles are constant then)
    core_sel = ports["host_stat_core"]
    values = []
    for c in range(cfg.cores):
        values.append(pyrtl.select(ports["host_stat_kind"], sats[c], cycles[c]))
    if cfg.cores == 1:
        ports["host_stat_rdata"] <<= values[0]
        # one core: the port has nothing to select (a wire Verilator's lint does not
        # report: its name says unused)
        named(core_sel, "unused_host_stat_core")
    else:
        padded = values + [values[-1]] * ((1 << hm.core_bits) - cfg.cores)
        ports["host_stat_rdata"] <<= pyrtl.mux(core_sel, *padded)


def _next_state(current: int, choices) -> pyrtl.WireVector:
    """State ``current``'s next state: the target of its first (condition, target) in
    ``choices`` whose condition is 1 (None: always), else ``current``."""
    value = pyrtl.Const(current, STATE_BITS)
    for cond, target in reversed(choices):
        target = pyrtl.Const(target, STATE_BITS)
        value = target if cond is None else pyrtl.select(cond, target, value)
    return value


def _entering(state, transitions: dict, value: int) -> pyrtl.WireVector:
    """1 when ``transitions`` (state -> its choices, :func:`_next_state`) take the state
    to ``value`` (the next state == ``value``, without its start): an OR over the states
    of (state == k) AND the condition of a choice of k that targets ``value`` with none
    of k's earlier choices taken (k == ``value``: none taken)."""
    terms = []
    for current, choices in sorted(transitions.items()):
        taken, earlier = [], pyrtl.Const(0, 1)
        for cond, target in choices:
            if cond is None:
                if target == value:
                    taken.append(~earlier)
                earlier = pyrtl.Const(1, 1)
                break
            if target == value:
                taken.append(cond & ~earlier)
            earlier = earlier | cond
        else:
            if current == value:
                taken.append(~earlier)
        if taken:
            terms.append((state == current) & _any_bits(taken))
    return _any_bits(terms)


def _barrier_release(c: int, cores: int, arrived, masks) -> pyrtl.WireVector:
    """1 when every core of core ``c``'s mask waits at a barrier with the same mask."""
    ok = arrived[c]
    for d in range(cores):
        member = masks[c][d]
        ok = ok & (~member | (arrived[d] & (masks[d] == masks[c])))
    return named(ok, f"core{c}_barrier_release")


def _core(cfg: CoreConfig, index: int, s: Scope, ports, mems: _Memories,
          arrived_out, mask_out, release, pe_generator: PEGenerator,
          lane_generator, link_in: dict | None = None) -> dict:
    W, A = cfg.word, cfg.addr_bits
    # the data memories' line port this core's units use: its own on shared memories,
    # its copy's one with per-core memories
    port = 0 if cfg.per_core_memories else index
    decoded = decoded_instructions(cfg)
    slot_fields_of = operand_fields(cfg)
    element_classes = (Load, Store, Drain, Vector) + \
        ((Xfer,) if cfg.per_core_memories else ())

    # -- instruction memory --------------------------------------------------------
    imem = pyrtl.MemBlock(isa.INSTRUCTION_BITS, cfg.imem_bits, name=s("imem"),
                          asynchronous=True, max_read_ports=1, max_write_ports=1)
    imem_we = ports["host_imem_we"] & (ports["host_imem_core"] == index)
    imem[ports["host_imem_addr"]] <<= pyrtl.MemBlock.EnabledWrite(ports["host_imem_wdata"],
                                                                  imem_we)

    state = _reg(STATE_BITS, s("state"))
    # the states that ask for the data memories' line ports, also as flags registered
    # from whether the next cycle enters them (the same values a cycle's decode earlier,
    # each a sum of products of the state and the transitions' registered conditions,
    # not a compare of the next state's multiplexer): the ports' requests then start at
    # registers
    state_next = pyrtl.WireVector(STATE_BITS, s("state_next"))
    state.next <<= state_next
    labels = ((FETCH, "fetch"), (ELEM_START, "elem_start"), (COPY, "copy"),
              (MM_PRE, "mm_pre"), (MM_RUN, "mm_run"))
    enters = {value: pyrtl.WireVector(1, s(f"enters_{label}")) for value, label in labels}
    in_state = {value: _reg(1, s(f"in_{label}")) for value, label in labels}
    for value, flag in in_state.items():
        flag.next <<= enters[value]
    pc = _reg(cfg.imem_bits, s("pc"))
    # pc + 1, kept beside pc, so that the next pc (which a synthesis tool may take as
    # the instruction memory's read address) chooses between registers
    pc_inc = _reg(cfg.imem_bits, s("pc_inc"))
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
        for cls, mapping in slot_fields_of.items():
            if slot_name in mapping:
                pos, bits = field_position(cls, mapping[slot_name])
                ids.append((cls.OPCODE, fetched[pos:pos + bits]))
        # the slot's buffer id by the fetched opcode: the opcodes are exclusive, so an
        # AND-OR of their fields (NO_BUFFER when none has the slot) rather than a chain
        # of multiplexers, and whether it names a buffer as an OR beside it (the
        # decoded ``has_<slot>`` a few LUT levels from the instruction memory)
        hits = [(opcode_f == opcode, value) for opcode, value in ids]
        none = ~_any_bits([hit for hit, _ in hits])
        buffer_id = one_hot_pick(hits + [(none, pyrtl.Const(isa.NO_BUFFER,
                                                            isa.BUFFER_BITS))],
                                 isa.BUFFER_BITS)
        present_f = _any_bits([hit & (value != isa.NO_BUFFER) for hit, value in hits])
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

    # -- decode: the instruction's fields and everything derived from them alone are
    #    latched in DECODE (the cycle after FETCH), so no unit computes from ``instr``
    #    and its descriptors combinationally; the operand walks are placed in BASES
    #    (the cycle after), where the one multiply per operand happens
    opcode = instr[:isa.OPCODE_BITS]
    decoding = state == DECODE
    placing = state == BASES
    is_op = {cls: latch(opcode == cls.OPCODE, decoding, s(f"is_{cls.__name__.lower()}"))
             for cls in decoded}

    def by_opcode(name, classes):
        """Field ``name``, wherever the executing instruction's class keeps it."""
        value = None
        for cls in classes:
            pos, bits = field_position(cls, name)
            raw = instr[pos:pos + bits]
            value = raw if value is None else pyrtl.select(opcode == cls.OPCODE, raw, value)
        return value

    rows_raw = by_opcode("rows", element_classes)
    cols_raw = by_opcode("cols", element_classes)
    fn = field(Vector, "fn")
    fn_is = {name: (fn == k) & (opcode == Vector.OPCODE)
             for k, name in enumerate(VECTOR_FUNCTIONS)}
    range_f = _any(fn_is, FOLDED_FUNCTIONS)
    # a range right after a drain of the same core, over the drain's destination and
    # region, takes the minimum and maximum the drain's write-back folded
    # (:func:`fixar_gen.range_fusion.fused_ranges`): one step that folds them into the
    # monitor
    is_drain_f = opcode == Drain.OPCODE
    drain_fields = [latch(field(Drain, name), decoding & is_drain_f, s(f"drain_{name}"))
                    for name in ("dst", "rows", "cols")]
    fused_f = range_f & is_op[Drain]
    for name, held in zip(("a", "rows", "cols"), drain_fields):
        fused_f = fused_f & (field(Vector, name) == held)
    fused = latch(fused_f, decoding, s("range_fused"))
    one_step = pyrtl.Const(1, COUNT_BITS)
    rows_count = latch(pyrtl.select(fused_f, one_step, _z(_z(rows_raw[isa.COUNT_BITS:],
                                                             COUNT_BITS) + 1, COUNT_BITS)),
                       decoding, s("rows_count"))
    cols_start_f = cols_raw[:isa.COUNT_BITS]
    cols_count_f = _z(_z(cols_raw[isa.COUNT_BITS:], COUNT_BITS) + 1, COUNT_BITS)
    cols_count = latch(pyrtl.select(fused_f, one_step, cols_count_f), decoding,
                       s("cols_count"))
    src_col_f = pyrtl.select(opcode == Store.OPCODE, instr[slice(*_span(Store, "dst_col"))],
                             by_opcode("src_col", (Load, Drain, Vector)))
    act = field(Drain, "act")
    op = pyrtl.select(is_drain_f, _z(act, V.OP_BITS) + len(VECTOR_FUNCTIONS),
                      _z(fn, V.OP_BITS))
    # the lanes' short operations (vector.SHORT_OPS) write SHORT_STEP_LATENCY after
    # their issue, the others STEP_LATENCY: one instruction's steps have one latency
    short = latch(V.is_short(op), decoding, s("short"))
    op = latch(_z(op, V.OP_BITS), decoding, s("op"))

    def fn_flag(names, name):
        return latch(_any(fn_is, names), decoding, s(name))

    serial = fn_flag(SERIAL_FUNCTIONS, "serial")
    uses_lane = fn_flag(ops.with_operand("b", kind="prng"), "uses_lane")
    writes_e = fn_flag(ops.writing("e"), "writes_e")
    is_range = latch(range_f, decoding, s("is_range"))
    e_unbroadcast_f = _any(fn_is, ops.with_operand("e", layout="unbroadcast"))

    # -- element loop (load, store, vec, drain): the rows left, the columns left in the
    #    row (this step's included), the PRNG lane
    lanes = cfg.lanes
    rows_left = _reg(COUNT_BITS, s("rows_left"))
    cols_left = _reg(COUNT_BITS, s("cols_left"))
    lane_idx = _reg(COUNT_BITS, s("lane"))
    serial_f = _any(fn_is, SERIAL_FUNCTIONS)
    # one element a step, into lane 0: the serial functions, and the pipelined ones the
    # design builds into lane 0 only (cfg.lane0_functions; these do not wait)
    one_lane, one_lane_f = serial, serial_f
    if cfg.lane0_functions:
        one_lane_f = serial_f | _any(fn_is, [f for f in VECTOR_FUNCTIONS
                                             if f in cfg.lane0_functions])
        for i, name in enumerate(isa.ACTIVATIONS):
            if f"drain_{name}" in cfg.lane0_functions:
                one_lane_f = one_lane_f | (is_drain_f & (act == i))
        one_lane = latch(one_lane_f, decoding, s("one_lane"))
    group_max = latch(pyrtl.select(one_lane_f, pyrtl.Const(1, COUNT_BITS),
                                   pyrtl.Const(lanes, COUNT_BITS)), decoding, s("group_max"))
    group_max2 = latch(pyrtl.select(one_lane_f, pyrtl.Const(2, COUNT_BITS + 1),
                                    pyrtl.Const(2 * lanes, COUNT_BITS + 1)), decoding,
                       s("group_max2"))
    # whether this step ends its row (cols_left <= group_max) and is in the last row
    # (rows_left == 1): registers, computed with the counters they describe
    last_col = _reg(1, s("last_col"))
    last_row = _reg(1, s("last_row"))
    group = named(pyrtl.select(last_col, cols_left, group_max), s("group"))
    # a drain or pipelined vec step that reads more than one line of amem (one line
    # read a cycle) spends a cycle on each line beyond the first
    # (memory_access.extra_lines): phase j < extra reads the j-th of its amem operands
    # (in the order a, b, d, e) into a register per lane, and the last phase (extra)
    # reads the others and issues the step, where the walks advance
    phases = _amem_phases(s, state == FETCH, decoding, in_state[ELEM_START], desc_regs,
                          fetched)
    elem_issue = named(in_state[ELEM_START] & phases["last"], s("elem_issue"))
    advance = elem_issue | in_state[COPY]
    row_done = advance & last_col
    last_col.next <<= pyrtl.select(placing | row_done, cols_count <= group_max,
                                   pyrtl.select(advance, cols_left <= group_max2, last_col))
    last_row.next <<= pyrtl.select(placing, rows_count == 1,
                                   pyrtl.select(row_done, rows_left == 2, last_row))
    rows_left.next <<= pyrtl.select(placing, rows_count,
                                    pyrtl.select(advance & last_col,
                                                 _z(rows_left - 1, COUNT_BITS), rows_left))
    cols_left.next <<= pyrtl.select(placing | (advance & last_col), cols_count,
                                    pyrtl.select(advance, _z(cols_left - group, COUNT_BITS),
                                                 cols_left))

    dd = desc_regs["dst"][0]
    db = desc_regs["b"][0]
    dc = desc_regs["c"][0]
    de = desc_regs["e"][0]
    sl = _fields(slot_reg, slot_fields(A))
    one = pyrtl.Const(1, COUNT_BITS)

    def walk(name, desc, col0, fixed_row, fixed_col, base=None):
        return region_walk(s(f"walk_{name}"), addr_bits=A,
                           base=desc["base"] if base is None else base, cols=desc["cols"],
                           row0=rows_raw[:isa.COUNT_BITS], col0=col0,
                           fixed_row=fixed_row, fixed_col=fixed_col, decode=decoding,
                           place=placing, advance=advance, row_end=last_col, group=group)

    def broadcast(slot_name, key):
        return desc_regs[slot_name][0][key] == one

    # dst: never broadcast (range: fixed at its base, where min and max live); a:
    # broadcast (range reads it over dst's columns); b, e: broadcast (e not for the
    # functions that read it element by element); range reads its max at dst's base + 1
    walk_dst = walk("dst", dd, cols_start_f, range_f, range_f)
    walk_a = walk("a", desc_regs["a"][0], pyrtl.select(range_f, cols_start_f, src_col_f),
                  broadcast("a", "rows"), broadcast("a", "cols"))
    walk_b = walk("b", db, src_col_f, broadcast("b", "rows"), broadcast("b", "cols"))
    e_base = latch(pyrtl.select(range_f, _z(_z(dd["base"], A) + 1, A), _z(de["base"], A)),
                   decoding, s("e_base"))
    walk_e = walk("e", de, src_col_f,
                  range_f | (~e_unbroadcast_f & broadcast("e", "rows")),
                  range_f | (~e_unbroadcast_f & broadcast("e", "cols")), base=e_base)
    walk_slot = walk("slot", sl, src_col_f, pyrtl.Const(0, 1), pyrtl.Const(0, 1))

    # the PRNG lane wraps after b's last row (its index latched in DECODE: an equality
    # of two registers, no add, in the issue cycle)
    lane_last = latch(_z(_z(db["rows"], COUNT_BITS) - 1, COUNT_BITS), decoding, s("lane_last"))
    uses_b_rows = named(lane_idx == lane_last, s("lane_wrap"))
    # the PRNG lane's address (b's base + the lane) kept in a register, from the lane's
    # next value (the updates below) and the base: the base is latched in DECODE and
    # no step is issued in the cycle after it (BASES), so at every issue the register
    # holds this base + this lane; b's read address then starts at a register
    # (the next lane as lane_idx's updates below: held at start, 0 in FETCH and at
    # b's last row, + 1 at any other issue; the three sums side by side, the wrap's
    # compare choosing among them last)
    fetching = state == FETCH
    to_first = ~start & (fetching | (elem_issue & uses_b_rows))
    to_next = ~start & ~fetching & elem_issue & ~uses_b_rows
    base_b = _z(db["base"], A)
    lane_at = _reg(A, s("lane_at"))
    lane_at.next <<= pyrtl.select(
        to_first, base_b,
        pyrtl.select(to_next, _z(base_b + _z(_z(lane_idx + 1, COUNT_BITS), A), A),
                     _z(base_b + _z(lane_idx, A), A)))
    copy_issue = in_state[COPY]
    # every read of the data memory is synchronous: its address is registered in the
    # issue cycle and the word arrives in the next (stage 1); ``_q`` names a value
    # delayed to stage 1.  The lanes start, the copies write and range folds a cycle
    # later (stage 2, ``_w``), from the words registered: a line of ``amem`` arrives
    # through its banks' rotation and the memories' choice, which leave no time for a
    # memory's write rotation, a fold or the lanes' operand choice in the same cycle
    copy_write = named(delay(copy_issue, 1 + WORD_REGISTERS, s("copy_q_d{k}")),
                       s("copy_write"))
    rd_c0 = mems.data.read(dc["mem"], dc["base"], s("ra_c0"))
    rd_c1 = mems.data.read(dc["mem"], _z(dc["base"], A) + 1, s("ra_c1"))
    # the memories a copy reads and writes: a load the slot's and dst's, a store the
    # other way
    slot_mem = pyrtl.Const(memory_id(SLOT_MEMORY), MEMORY_ID_BITS)
    copy_src_mem = pyrtl.select(is_op[Load], slot_mem, dd["mem"])
    # (an xfer reads its buffer's words at the sender's addresses; the link moves
    # them to each receiver's: _drive_link_in)
    is_xfer = is_op.get(Xfer)
    to_buffer = is_op[Load] if is_xfer is None else is_op[Load] | is_xfer
    copy_dst_mem = pyrtl.select(to_buffer, dd["mem"], slot_mem)

    def value_or_zero(slot_name, value):
        present = desc_regs[slot_name][2]
        return pyrtl.select(present, value, pyrtl.Const(0, W))

    def fmt_of(slot_name):
        return pyrtl.select(desc_regs[slot_name][2], desc_regs[slot_name][0]["fmt"],
                            pyrtl.Const(0, V.FORMAT_BITS))

    # -- the vector lanes: one step issued per cycle, written back STEP_LATENCY later --
    issuing = elem_issue
    issued = named(delay(issuing, 1, s("issue_q_d{k}")), s("elem_issued"))
    last_step = named(last_col & last_row, s("last_step"))
    units = []
    lane_words = []
    e_unbroadcast = latch(e_unbroadcast_f, decoding, s("e_unbroadcast"))
    # the lanes other than lane 0 read no e where none of their functions does
    # (vector.lane_reads): their e words are neither addressed nor read
    e_lanes = lanes if V.lane_reads(V.lane_operations(False, cfg.parallel_functions)).e \
        else 1
    actives = []
    for v in range(lanes):
        ls = s.sub(f"lane{v}")
        active_issue = pyrtl.select(one_lane, pyrtl.Const(int(v == 0), 1), cols_left > v)
        actives.append(named(delay(active_issue, 1, ls("active_q_d{k}")), ls("active")))
    # lane 0's operand addresses: a step's operand is one line of adjacent words (lane
    # v's at lane 0's + v, or lane 0's for a broadcast operand), which a banked memory
    # reads and writes at lane 0's address; the unbanked one (smem) has lane 0's ports
    # alone (DataMemories.read_lanes), so no lane's own address is ever needed
    ls0 = s.sub("lane0")
    addr_dst = named(walk_dst.address(), ls0("addr_dst"))
    # load: slot (row, src_col + j) -> buffer (row, col); store: the other way
    addr_slot = walk_slot.address()
    copy_src = pyrtl.select(is_op[Load], addr_slot, addr_dst)
    copy_dst = named(delay(pyrtl.select(to_buffer, addr_dst, addr_slot), 1 + WORD_REGISTERS,
                           ls0("copy_dst_q_d{k}"), reset=False), ls0("copy_dst"))
    addrs = {"a": pyrtl.select(copy_issue, copy_src, walk_a.address()),
             "b": pyrtl.select(uses_lane, lane_at, walk_b.address()),
             "d": addr_dst, "e": walk_e.address()}
    # the element's write address travels with it: the read, the words' register, then
    # the lanes' stages (data beside the lanes' done bits: no reset, a shift register in
    # synthesis); a short operation's leaves the line into the last register early
    wa_d = _step_delay(addr_dst, short & issuing, ls0("wa_d_d{k}"), ls0("wa_d_short_d{k}"))

    # one read of each operand a step (the issue cycle; the words arrive in stage 1):
    # a line of a banked memory, a word a lane of the others
    def single(slot_name):
        return desc_regs[slot_name][0]["cols"] == 1

    present = {name: desc_regs[name][2] for name in OPERAND_SLOTS}
    lane_names = [s.sub(f"lane{v}") for v in range(lanes)]
    reads_dst = fn_flag(ops.names(reads_dst=True), "reads_dst")
    rd = {}
    # whether each read asks for a banked memory's line port, registered a cycle ahead
    # from whether the next cycle enters ELEM_START or COPY (the descriptors and decoded
    # flags it reads hold from DECODE to the next FETCH, so their values are the same a
    # cycle earlier); the port's choice also reads these next values (``asks_next``)
    issuing_next = enters[ELEM_START]
    copy_next = enters[COPY]
    # an operand is read in its phase of the step (the last phase unless it is one of
    # the step's earlier amem lines)
    elem_on = in_state[ELEM_START]

    def in_phase(slot_name, now=True):
        ph = phases["phase"] if now else phases["phase_next"]
        return ph == phases[slot_name]

    for slot_name, mem_id, broadcast, want, want_next_condition in (
            ("a", pyrtl.select(copy_issue, copy_src_mem, desc_regs["a"][0]["mem"]),
             ~copy_issue & single("a"),
             (elem_on & in_phase("a") & present["a"]) | copy_issue, None),
            ("b", db["mem"], uses_lane | single("b"), elem_on & in_phase("b") & present["b"],
             in_phase("b", False) & present["b"]),
            ("d", dd["mem"], is_range, elem_on & in_phase("d") & reads_dst,
             in_phase("d", False) & reads_dst),
            ("e", pyrtl.select(is_range, dd["mem"], de["mem"]),
             is_range | (~e_unbroadcast & single("e")), elem_on & in_phase("e") & present["e"],
             in_phase("e", False) & present["e"])):
        # the memories this operand chooses among (cfg.operand_memories: those the
        # spec's programs name for it; the host refuses a program naming another,
        # hw.design.operand_memory_problems); one named by no program reads nothing
        memories = cfg.operand_memory_set(slot_name)
        count = e_lanes if slot_name == "e" else lanes
        if not memories:
            rd[slot_name] = [pyrtl.Const(0, W) for _ in range(count)]
            continue
        # each ask also as terms gated by the next state (ELEM_START, COPY), so that the
        # ports' choice among the requests is made on the conditions alone and the next
        # state, the deepest of it (through the last column and row), joins last
        asks_next, gated_next = {}, {}
        for m in (m for m in memories if m in mems.data.banked):
            k = pyrtl.Const(memory_id(m), MEMORY_ID_BITS)
            if slot_name == "a":
                terms = ((copy_next, _z(copy_src_mem, MEMORY_ID_BITS) == k),
                         (issuing_next, in_phase("a", False) & present["a"] &
                          (_z(desc_regs["a"][0]["mem"], MEMORY_ID_BITS) == k)))
            else:
                terms = ((issuing_next,
                          want_next_condition & (_z(mem_id, MEMORY_ID_BITS) == k)),)
            asks_next[m] = _any_bits([g & c for g, c in terms])
            gated_next[m] = terms
        rd[slot_name] = mems.data.read_lanes(
            port, mem_id, addrs[slot_name], count, broadcast, want, ls0(f"ra_{slot_name}"),
            memories=memories, asks_next=asks_next,
            ask_name=s(f"ask_{slot_name}_{{memory}}"), gated_next=gated_next)
    # every operand's words registered (stage 2, WORD_REGISTERS: a line of ``amem``
    # comes through its banks' rotation and the memories' choice, which leave no
    # levels for what follows), per lane ``<x>_w``: the lanes start from these
    # registers, as the copies write and range folds from them
    words_w = {x: [delay(word, WORD_REGISTERS, lane_names[v](f"{x}_w_d{{k}}"), reset=False)
                   for v, word in enumerate(rd[x])] for x in rd}
    # the lines read in an earlier phase, held per lane (amem's words, registered) until
    # the step's lanes start, in its stage 2
    amem_bits = cfg.memory(ACTIVATION_MEMORY).width
    lane_in = dict(words_w)
    for slot_name in HELD_OPERANDS:
        got = delay(elem_on & in_phase(slot_name) & phases[f"held_{slot_name}"],
                    1 + WORD_REGISTERS, s(f"got_{slot_name}_d{{k}}"))
        words = []
        for v, word in enumerate(words_w[slot_name]):
            hold = _reg(amem_bits, lane_names[v](f"hold_{slot_name}"))
            hold.next <<= pyrtl.select(got, word[:amem_bits], hold)
            words.append(pyrtl.select(phases[f"held_{slot_name}"],
                                      mems.data.extend(hold), word))
        lane_in[slot_name] = words

    # range: the lanes' values (stage 2; no lane runs) folded by a tree of registered
    # pairwise folds over the lanes (RANGE_STAGES), then into the running min and max
    # and written: the instruction's first step starts from the min and max it read
    # (dst's two words), each later one from the previous step's (its write lands
    # after this step's read)
    range_w = named(delay(issued & is_range, WORD_REGISTERS + RANGE_STAGES,
                          s("range_w_d{k}")), s("range_write"))
    range_started = _reg(1, s("range_started"))
    range_started.next <<= pyrtl.select(decoding, pyrtl.Const(0, 1),
                                        range_started | issuing)
    range_first = delay(~range_started, 1 + WORD_REGISTERS + RANGE_STAGES,
                        s("range_first_d{k}"), reset=False)
    # a drain's results folded as they are written, per lane, then across the lanes
    # (a registered tree) by the time a fused range's step folds them into its monitor
    lane_folds, wb_min, wb_max = _write_back_folds(s.sub("wb_fold"), lanes,
                                                   cfg.lane.data_width, decoding & is_drain_f)
    # (range's values are of data formats, within the lane's data width: the host
    # refuses others, hw.lane_limits; folded at the write-back fold's width, that width,
    # a sign and an unsigned format's bit, and written back sign-extended)
    range_bits = wb_min.bitwidth
    folded_min = pyrtl.Register(range_bits, name=s("range_min"))
    folded_max = pyrtl.Register(range_bits, name=s("range_max"))
    range_leaves = []
    for v in range(lanes):
        ls = lane_names[v]
        active = actives[v]
        # (stage 2: the copies', range's and the lanes' words, registered; range and
        # the copies hold no line)
        rd_a_w = words_w["a"][v]
        active_w = delay(active, WORD_REGISTERS, ls("active_w_d{k}"))
        value = resize(rd_a_w, range_bits)
        if v == 0:
            # (lane 0 is active in every step; a fused range's lane 0 folds the
            # drain's write-back tree, the others nothing)
            low0 = pyrtl.select(fused, wb_min, value)
            high0 = pyrtl.select(fused, wb_max, value)
            range_leaves.append((low0, high0))
        else:
            # an inactive lane's leaf is lane 0's, which changes no fold
            range_leaves.append((pyrtl.select(active_w, value, low0),
                                 pyrtl.select(active_w, value, high0)))
        lane_start = named(delay(issued & active & ~is_range, WORD_REGISTERS,
                                 ls("start_d{k}")), ls("start"))
        in_a, in_b, in_d = (lane_in[x][v] for x in ("a", "b", "d"))
        unit = lane_generator(
            ls.sub("vu"), word=W, acc_overflow=cfg.acc_overflow, serial_outputs=v == 0,
            limits=cfg.lane, functions=cfg.functions if v == 0 else cfg.parallel_functions,
            inputs=V.ElementInputs(
                start=lane_start, op=op,
                a=value_or_zero("a", in_a), b=value_or_zero("b", in_b), d=in_d,
                e=value_or_zero("e", lane_in["e"][v]) if v < e_lanes
                else pyrtl.Const(0, W),
                c0=value_or_zero("c", rd_c0), c1=value_or_zero("c", rd_c1),
                fmt_a=fmt_of("a"), fmt_b=fmt_of("b"), fmt_d=fmt_of("dst"),
                fmt_e=fmt_of("e"), fmt_c=fmt_of("c"), fmt_pre=ports["host_pre_fmt"],
                acc_bits=desc_regs["dst"][0]["acc_bits"], lane=in_b[:32]))
        units.append(unit)
        lane_words.append((rd_a_w, active_w))

    for unit, fold in zip(units, lane_folds):
        fold(unit.done, unit.d_out)
    tree_min, tree_max = _fold_tree(s.sub("range_fold"), range_leaves, RANGE_STAGES)
    start_min, start_max = (delay(resize(words_w[x][0], range_bits), RANGE_STAGES,
                                  s(f"range_{x}_d{{k}}"), reset=False) for x in ("d", "e"))
    low = _lower(pyrtl.select(range_first, start_min, folded_min), tree_min)
    high = _higher(pyrtl.select(range_first, start_max, folded_max), tree_max)
    folded_min.next <<= pyrtl.select(range_w, low, folded_min)
    folded_max.next <<= pyrtl.select(range_w, high, folded_max)
    range_min, range_max = resize(low, W), resize(high, W)
    # the serial functions (one element in flight) latch their e and PRNG-lane addresses
    wa_b, wa_e = _reg(A, s("wa_b")), _reg(A, s("wa_e"))
    with pyrtl.conditional_assignment:
        with issuing:
            wa_b.next |= addrs["b"]
            wa_e.next |= addrs["e"]
    # tags travelling with each step: whether it started the lanes (with its results,
    # STEP_LATENCY cycles), and whether it is the instruction's last or a serial step
    # (the controller waits for it).  The controller resumes one cycle before the
    # results are written: the next instruction's fetch, or the next serial step's
    # read-address cycle, is the write cycle, and a read issued then sees the write.
    # (a short operation's SHORT_STEP_LATENCY after its issue, in a line of its own)
    lane_step = issuing & ~is_range
    elem_done = named(delay(lane_step & ~short, STEP_LATENCY, s("tag_done_d{k}"))
                      | delay(lane_step & short, SHORT_STEP_LATENCY,
                              s("tag_done_short_d{k}")), s("elem_done"))
    tag = pyrtl.concat_list([serial | last_step, last_step])
    tag_out = delay(pyrtl.select(lane_step & ~short, tag, pyrtl.Const(0, 2)),
                    STEP_LATENCY - 1, s("tag_d{k}")) | \
        delay(pyrtl.select(lane_step & short, tag, pyrtl.Const(0, 2)),
              SHORT_STEP_LATENCY - 1, s("tag_short_d{k}"))
    resume = named(tag_out[0], s("elem_resume"))
    finished = named(tag_out[1], s("elem_finished"))

    # -- matrix unit --------------------------------------------------------------------
    mm = _matrix_unit(cfg, s.sub("mm"), state, in_state, enters, instr, desc_regs, mems,
                      field, rng, pe_generator, port=port)

    # -- writes -----------------------------------------------------------------------
    # (the descriptors hold until the last write of the lanes: the next fetch is in its
    # cycle; a copy's last write, in stage 2, is in the next instruction's DECODE, and
    # range's, RANGE_STAGES later, in its BASES, before any of its reads, so what they
    # take of the descriptors is registered from stage 1, ``_w``)
    # one line of dst a step (lane v at lane 0's address + v; range: its min), lane 0's
    # second write (range's max, the OU state) and the PRNG lane's
    de_mem = desc_regs["e"][0]["mem"]
    range_at_w = delay(_z(dd["base"], A), WORD_REGISTERS + RANGE_STAGES,
                       s("range_at_w_d{k}"), reset=False)
    range_at1_w = delay(_z(_z(dd["base"], A) + 1, A), WORD_REGISTERS + RANGE_STAGES,
                        s("range_at1_w_d{k}"), reset=False)

    # every memory the lanes' writes can name: the banked ones' line ports and the
    # flip-flop words' write enables (``smem``) start at these registers
    written = [shape.name for shape in mems.data.shapes]

    def names_of(mem, name, cycles=WORD_REGISTERS):
        """{memory: ``mem`` names it}, compared and registered (WORD_REGISTERS
        cycles, as ``_w`` is, or ``cycles``): equal to the compare of ``mem`` now for
        a descriptor's memory, which changes only at the end of FETCH, when the lanes'
        writes use it (never in DECODE: the last is in the next instruction's FETCH),
        and for a ``_w`` delay line's (range's: its write RANGE_STAGES later, the
        compare too).  The line ports' choice among the writes then starts at these
        registers (docs/hardware.md, the 16x1 controller design)."""
        return {m: delay(_z(mem, MEMORY_ID_BITS) == memory_id(m), cycles,
                         s(f"{name}_{m}_d{{k}}")) for m in written}
    dst_names, copy_names = names_of(dd["mem"], "dst_is"), names_of(copy_dst_mem, "copy_is")
    range_names = names_of(dd["mem"], "range_is", WORD_REGISTERS + RANGE_STAGES)
    write_names = {m: pyrtl.select(range_w, range_names[m],
                                   pyrtl.select(copy_write, copy_names[m], dst_names[m]))
                   for m in dst_names}
    # an xfer's words (stage 2) go to the link, not into the sender's own copy
    xfer_write = None if is_xfer is None else \
        named(delay(copy_issue & is_xfer, 1 + WORD_REGISTERS, s("xfer_q_d{k}")),
              s("xfer_write"))
    own_copy = copy_write if xfer_write is None else copy_write & ~xfer_write
    if link_in is not None:
        # another core's xfer: its line, in the cycles its link writes this copy, on
        # the lanes' write port (lane 0's enable is on in every line)
        receiving = link_in["enables"][0]
        write_names = {m: pyrtl.select(receiving, _z(link_in["mem"], MEMORY_ID_BITS)
                                       == memory_id(m), w) for m, w in write_names.items()}
    # lane 0's address: a line's words are at it + v
    d_address = pyrtl.select(range_w, range_at_w, pyrtl.select(copy_write, copy_dst, wa_d))
    if link_in is not None:
        d_address = pyrtl.select(receiving, link_in["address"], d_address)
    d_values, d_enables = [], []
    for v, (unit, (rd_a_w, active_w)) in enumerate(zip(units, lane_words)):
        value = pyrtl.select(copy_write, rd_a_w, unit.d_out)
        enable = (own_copy & active_w) | unit.done
        if v == 0:
            value = pyrtl.select(range_w, range_min, value)
            enable = range_w | enable
        if link_in is not None:
            value = pyrtl.select(receiving, link_in["values"][v], value)
            enable = enable | link_in["enables"][v]
        d_values.append(value)
        d_enables.append(enable)
    # (every memory named by registered compares: the writes compare no memory id)
    mems.data.write_lanes(port, None, d_address, d_values, d_enables,
                          names=write_names)
    e_names = names_of(de_mem, "e_is")
    mems.data.write_lanes(port, None,
                          pyrtl.select(range_w, range_at1_w, wa_e),
                          [pyrtl.select(range_w, range_max, units[0].e_out)],
                          [range_w | (units[0].done & writes_e)],
                          names={m: pyrtl.select(range_w, range_names[m], e_names[m])
                                 for m in e_names})
    lane_word = _z(units[0].lane_out, W)
    mems.data.write_lanes(port, None, wa_b, [lane_word], [elem_done & uses_lane],
                          names=names_of(db["mem"], "b_is"))
    for mem, first, second, values, enables in mm["writes"]:
        mems.data.write_double(port, mem, first, second, values, enables)
    link = None
    if xfer_write is not None:
        # (an xfer's memory, as the copy's words, in stage 2)
        copy_mem_w = delay(copy_dst_mem, WORD_REGISTERS, s("copy_mem_w_d{k}"), reset=False)
        link = _link(cfg, s.sub("link"), xfer_write, copy_mem_w, copy_dst, lane_words,
                     field(Xfer, "to"), index, desc_regs["dst"][1][:cfg.buffer_bits],
                     dd["base"])

    # -- saturation counters per buffer id ---------------------------------------------
    # two counter memories, the destination's counts (the element loop's d output, the
    # matrix unit's overflows) and the element loop's e output's, so that each has one
    # write port; the counts are added a cycle after the writes they count (the lanes'
    # counts here, the matrix unit's overflow bits there), each as a read-modify-write
    # of its memory at a registered address (the counted buffer's id, registered the
    # cycle before), which the host's statistics port shares while the core is idle
    counting = (state != IDLE) & (state != DONE)
    lanes_d, lanes_e = [], []
    for v, unit in enumerate(units):
        ls = s.sub(f"lane{v}")
        lanes_d.append(named(pyrtl.select(unit.done, _z(unit.sat_d, 8), pyrtl.Const(0, 8)),
                             ls("sat_d")))
        lanes_e.append(named(pyrtl.select(unit.done, _z(unit.sat_e, 8), pyrtl.Const(0, 8)),
                             ls("sat_e")))
    lanes_d = delay(_sum_tree(lanes_d, 8), 1, s("sat_lanes_d{k}"))
    lanes_e = delay(_sum_tree(lanes_e, 8), 1, s("sat_lanes_e{k}"))
    elem_counted = delay(elem_done, 1, s("sat_elem_d{k}"))
    count_d = pyrtl.select(elem_counted, lanes_d, _z(mm["overflows"], 8))
    count_d = named(count_d, s("sat_count_d"))
    e_counted = delay(elem_done & writes_e, 1, s("sat_elem_e{k}"))
    count_e = named(pyrtl.select(e_counted, lanes_e, pyrtl.Const(0, 8)), s("sat_count_e"))
    host_stat_addr = ports["host_stat_addr"][:cfg.buffer_bits]
    sat_reads = []
    for kind, buffer_id, count in (("d", desc_regs["dst"][1], count_d),
                                   ("e", desc_regs["e"][1], count_e)):
        sat = pyrtl.MemBlock(STAT_BITS, cfg.buffer_bits, name=s(f"sat_{kind}"),
                             max_read_ports=1, max_write_ports=1)
        at = _reg(cfg.buffer_bits, s(f"sat_{kind}_addr"))
        at.next <<= pyrtl.select(counting, buffer_id[:cfg.buffer_bits], host_stat_addr)
        old = named(_read(sat, at), s(f"sat_{kind}_read"))
        sat[at] <<= pyrtl.MemBlock.EnabledWrite(_z(old + count, STAT_BITS), count != 0)
        sat_reads.append(old)
    # the host's count of a buffer: both memories' (modulo 2^STAT_BITS, as each is)
    sat_read = named(_z(sat_reads[0] + sat_reads[1], STAT_BITS), s("sat_read"))

    # -- the controller ------------------------------------------------------------------
    mask = field(Barrier, "mask")
    arrived_out <<= state == BARRIER
    mask_out <<= mask
    is_elem = is_op[Drain] | is_op[Vector]
    is_copy = is_op[Load] | is_op[Store] if is_xfer is None else \
        is_op[Load] | is_op[Store] | is_xfer
    cycle_count.next <<= pyrtl.select(start, pyrtl.Const(0, STAT_BITS),
                                      pyrtl.select(counting, _z(cycle_count + 1, STAT_BITS),
                                                   cycle_count))
    with pyrtl.conditional_assignment:
        with start:
            pc.next |= 0
            pc_inc.next |= 1
        with in_state[FETCH]:
            pc.next |= pc_inc
            pc_inc.next |= pc_inc + 1
    with pyrtl.conditional_assignment:
        with start:
            pass
        with state == FETCH:
            instr.next |= fetched
            slot_reg.next |= slot_entry
            lane_idx.next |= 0
        with elem_issue:
            with uses_b_rows:
                lane_idx.next |= 0
            with pyrtl.otherwise:
                lane_idx.next |= lane_idx + 1

    # the transitions: per state, its (condition, next state) choices, the first whose
    # condition (a registered flag, or None: always) is 1 taken, else the state holds.
    # The next state is one multiplexer on the state over each state's own choice, so
    # that the state logic is a few LUT levels deep; whether the next cycle enters a
    # state is read from the same table as a sum of products
    placing_choices = [(is_elem, ELEM_START), (is_copy, COPY), (is_op[MatMul], MM_PRE),
                       (is_op[Barrier], BARRIER), (None, HALT)]
    # issue a step; range is done with its last step, the serial functions wait for
    # each element, the others for their last one
    transitions = {
        IDLE: [], FETCH: [(None, DECODE)], DECODE: [(None, PRODUCT)], PRODUCT: [(None, BASES)],
        BASES: placing_choices,
        ELEM_START: [(phases["last"] & is_range & last_step, FETCH),
                     (phases["last"] & ~is_range & (serial | last_step), ELEM_WAIT)],
        ELEM_WAIT: [(resume & finished, FETCH), (resume, ELEM_START)],
        COPY: [(last_step, FETCH)], MM_PRE: [(None, MM_RUN)],
        MM_RUN: [(mm["stream_done"], MM_FLUSH)], MM_FLUSH: [(mm["flushed"], FETCH)],
        BARRIER: [(release, BARRIER_OUT)], BARRIER_OUT: [(None, FETCH)],
        HALT: [(None, DONE)], DONE: []}
    if is_xfer is not None:
        # an xfer's last line read, then XFER_LATENCY cycles while the link writes the
        # receivers' copies (its last word in the last of them)
        drained = named(delay(in_state[COPY] & last_step & is_xfer, XFER_LATENCY,
                              s("xfer_drain_d{k}")), s("xfer_drained"))
        transitions[COPY] = [(last_step & is_xfer, XFER_WAIT), (last_step, FETCH)]
        transitions[XFER_WAIT] = [(drained, FETCH)]
    assert sorted(transitions) == list(range(len(transitions)))
    state_next <<= pyrtl.select(start, pyrtl.Const(FETCH, STATE_BITS),
                                pyrtl.mux(state, *(_next_state(k, transitions[k])
                                                   for k in sorted(transitions)),
                                          default=state))
    for value, wire in enters.items():
        entering = _entering(state, transitions, value)
        wire <<= (start | entering) if value == FETCH else (~start & entering)
    return {"done": named(state == DONE, s("done")), "cycles": cycle_count, "sat_read": sat_read,
            "link": link}


def _link(cfg: CoreConfig, s: Scope, xfer_write, mem_w, address, lanes, to, index: int,
          buffer, base) -> dict:
    """The link out of core ``index`` (per-core memories): an xfer's line of stage 2
    (lane 0's ``address`` in the sender's copy, each lane's word and active bit; the
    memory ``mem_w``), the buffer's id and its base in the sender's copy, through
    ``XFER_LATENCY - 2 - WORD_REGISTERS`` registers (the SLR crossing; the receiver's
    :func:`_drive_link_in` adds the last) towards the write ports of the receivers'
    copies; ``enables[r]``: lane v's write into core r's copy (``to``'s bit r; none
    into its own).  (The buffer and base hold from the xfer's fetch to the next
    instruction's: every line is on the link by then.)"""
    hops = XFER_LATENCY - 2 - WORD_REGISTERS

    def hop(value, name):
        return named(delay(value, hops, s(f"{name}_d{{k}}"), reset=False), s(name))
    mem = hop(mem_w, "mem")
    values = [hop(w, f"lane{v}_word") for v, (w, _) in enumerate(lanes)]
    enables = []
    for r in range(cfg.cores):
        if r == index:
            enables.append(None)
            continue
        enables.append([named(delay(xfer_write & active & to[r], hops,
                                    s(f"to{r}_lane{v}_d{{k}}")), s(f"to{r}_lane{v}"))
                        for v, (_, active) in enumerate(lanes)])
    return {"mem": mem, "address": hop(address, "address"), "values": values,
            "enables": enables,
            "buffer": hop(buffer, "buffer"), "base": hop(_z(base, cfg.addr_bits), "base")}


def base_difference(mine, theirs, addr_bits: int) -> pyrtl.WireVector:
    """What a receiver adds to the sender's address of a word to get its own: its base
    of the buffer less the sender's, modulo 2^``addr_bits``.  (The tests plant a
    receiver that writes at the sender's base by making it zero.)"""
    return _z(mine - theirs, addr_bits)


def _link_wires(cfg: CoreConfig, s: Scope) -> dict:
    """The words the links write into one core's copy: memory id, lane 0's address (in
    this core's copy: lane v's word is at it + v), and per lane a word and an enable
    (wires, driven by :func:`_drive_link_in`)."""
    L = cfg.lanes
    return {"mem": pyrtl.WireVector(MEMORY_ID_BITS, s("mem")),
            "address": pyrtl.WireVector(cfg.addr_bits, s("address")),
            "values": [pyrtl.WireVector(cfg.word, s(f"lane{v}_word")) for v in range(L)],
            "enables": [pyrtl.WireVector(1, s(f"lane{v}_enable")) for v in range(L)]}


def _drive_link_in(cfg: CoreConfig, s: Scope, wires: dict, senders, desc) -> None:
    """Drive a core's incoming link ``wires`` from ``senders`` ((link, its enables into
    this core) each; one writes at a time): an AND-OR of their lines, each address
    moved from the sender's copy into this core's by the difference of the buffer's
    bases (this core's from its own descriptor table ``desc``, the sender's carried by
    the link: a copy holds its rows of a buffer at its own base, and word (r, c) is at
    ``base + r * cols + c`` in every copy), then the link's last register."""
    A = cfg.addr_bits

    def pick(values, bits):
        if len(values) == 1:
            return _z(values[0][0], bits)
        return pyrtl.tree_reduce(lambda a, b: a | b,
                                 [pyrtl.select(en[0], _z(x, bits), pyrtl.Const(0, bits))
                                  for x, en in values])

    def last(value, name):
        return named(delay(value, 1, s(f"{name}_d{{k}}"), reset=False), s(f"{name}_q"))
    buffer = pick([(link["buffer"], en) for link, en in senders], cfg.buffer_bits)
    mine = _fields(_read(desc, buffer), desc_fields(A))["base"]
    theirs = pick([(link["base"], en) for link, en in senders], A)
    moved = named(base_difference(_z(mine, A), theirs, A), s("base_difference"))
    wires["mem"] <<= last(pick([(link["mem"], en) for link, en in senders],
                               MEMORY_ID_BITS), "mem")
    address = pick([(link["address"], en) for link, en in senders], A)
    wires["address"] <<= last(_z(address + moved, A), "address")
    for v in range(len(wires["enables"])):
        wires["values"][v] <<= last(pick([(link["values"][v], en) for link, en in senders],
                                         wires["values"][v].bitwidth), f"lane{v}_word")
        enable = _any_bits([en[v] for _, en in senders])
        wires["enables"][v] <<= named(delay(enable, 1, s(f"lane{v}_enable_d{{k}}")),
                                      s(f"lane{v}_enable_q"))


#: the element loop's operands that may be read in a phase before a step's issue (the
#: earlier of its amem lines, in the order a, b, d, e: never e, the last)
HELD_OPERANDS = ("a", "b", "d")
#: the element loop's operands in the order their amem lines are read
PHASED_OPERANDS = ("a", "b", "d", "e")


def _phase_table(case: int) -> dict[str, int]:
    """The phases of a step whose operands ``PHASED_OPERANDS[i]`` read ``amem`` where
    bit i of ``case`` is 1: ``extra`` (its lines beyond the first), each operand's
    phase (its index among the step's ``amem`` lines; ``extra`` when it reads another
    memory) and ``held_x`` (read before the last phase)."""
    reads = [bool(case >> i & 1) for i in range(len(PHASED_OPERANDS))]
    extra = max(sum(reads) - 1, 0)
    out = {"extra": extra}
    for i, x in enumerate(PHASED_OPERANDS):
        before = sum(reads[:i])
        out[x] = before if reads[i] else extra
        out[f"held_{x}"] = int(reads[i] and before != extra)
    return out


def _amem_phases(s: Scope, fetching, decoding, elem_on, desc_regs, fetched) -> dict:
    """The phases of an element-loop step that reads more than one line of ``amem``
    (docs/hardware.md, "The activations in banks"), decided in DECODE from the
    operands' descriptors and two flags of the instruction latched in FETCH from the
    ``fetched`` word (whether its steps are charged for extra lines and whether it
    reads dst), so that DECODE's logic starts at registers a level or two away:
    ``extra`` (the lines beyond the first: a drain's or a pipelined vec's, else 0),
    each operand's phase (its index among the step's amem
    lines, a, b, d, e in that order; ``extra`` for the operands of other memories),
    ``held_x`` (1: operand x is read before the last phase and held), the ``phase``
    counter (0 .. extra, moving in ELEM_START), ``phase_next`` and ``last``
    (``phase == extra``, a register)."""
    amem = pyrtl.Const(memory_id(ACTIVATION_MEMORY), MEMORY_ID_BITS)
    opcode = fetched[:isa.OPCODE_BITS]
    pos, bits = field_position(Vector, "fn")
    is_vec = opcode == Vector.OPCODE
    fn_is = {name: is_vec & (fetched[pos:pos + bits] == k)
             for k, name in enumerate(VECTOR_FUNCTIONS)}
    charged = latch((opcode == Drain.OPCODE) |
                    (is_vec & ~_any(fn_is, SERIAL_FUNCTIONS) & ~_any(fn_is, FOLDED_FUNCTIONS)),
                    fetching, s("amem_charged"))
    reads_dst = latch(_any(fn_is, ops.names(reads_dst=True)), fetching, s("amem_reads_dst"))
    reads = {"a": desc_regs["a"][2], "b": desc_regs["b"][2], "d": reads_dst,
             "e": desc_regs["e"][2]}
    mems_of = {"a": "a", "b": "b", "d": "dst", "e": "e"}
    in_amem = {x: charged & reads[x] & (_z(desc_regs[mems_of[x]][0]["mem"],
                                            MEMORY_ID_BITS) == amem)
               for x in PHASED_OPERANDS}
    # each value a table of the four in_amem bits (a LUT each, no adder chain)
    index = pyrtl.concat_list([in_amem[x] for x in PHASED_OPERANDS])
    table = [_phase_table(case) for case in range(1 << len(PHASED_OPERANDS))]

    def decoded(key, bits):
        return pyrtl.mux(index, *[pyrtl.Const(row[key], bits) for row in table])
    out = {"extra": latch(decoded("extra", 2), decoding, s("amem_extra"))}
    for x in PHASED_OPERANDS:
        out[x] = latch(decoded(x, 2), decoding, s(f"amem_phase_{x}"))
        if x in HELD_OPERANDS:
            out[f"held_{x}"] = latch(decoded(f"held_{x}", 1), decoding,
                                     s(f"amem_held_{x}"))
    phase = _reg(2, s("amem_phase"))
    last = _reg(1, s("amem_last_phase"))
    going = elem_on & ~last
    out["phase_next"] = named(pyrtl.select(going, _z(phase + 1, 2), pyrtl.Const(0, 2)),
                              s("amem_phase_next"))
    phase.next <<= out["phase_next"]
    last.next <<= pyrtl.select(going, _z(phase + 1, 2) == out["extra"], out["extra"] == 0)
    out["phase"], out["last"] = phase, last
    return out


def _matrix_unit(cfg: CoreConfig, s: Scope, state, in_state, enters, instr, desc_regs, mems,
                 field, rng, pe_generator: PEGenerator, port: int = 0) -> dict:
    """The MatMul sequencer around the PE array (see the module docstring)."""
    R, C, W, A = cfg.rows, cfg.cols, cfg.word, cfg.addr_bits
    pe = cfg.pe
    decoding, placing = state == DECODE, state == BASES

    def dec(value, name):
        return latch(value, decoding, s(name))

    # the instruction's fields, latched in DECODE (``_f``: straight from ``instr``)
    m_start_f, m_count_f = rng(MatMul, "m")
    n_start_f, n_count_f = rng(MatMul, "n")
    k_start_f, k_count_f = rng(MatMul, "k")
    ta_f, tb_f = field(MatMul, "ta")[0], field(MatMul, "tb")[0]
    mode_f = field(MatMul, "mode")[0]
    m_count = dec(_z(m_count_f, COUNT_BITS), "m_count")
    n_count = dec(_z(n_count_f, COUNT_BITS), "n_count")
    k_count = dec(_z(k_count_f, COUNT_BITS), "k_count")
    mode = dec(mode_f, "mode")
    accumulate = dec(field(MatMul, "accumulate")[0], "accumulate")
    lines_f = _z(pyrtl.select(mode_f, _z(m_count_f + 1, COUNT_BITS + 1)[1:],
                              _z(m_count_f, COUNT_BITS)), COUNT_BITS)
    lines = dec(lines_f, "lines")
    fewest = max(R, ACC_MIN_SLOTS)
    slots = dec(pyrtl.select(lines_f > fewest, lines_f, pyrtl.Const(fewest, COUNT_BITS)),
                "slots")

    p = _reg(COUNT_BITS, s("p"))
    k0 = _reg(COUNT_BITS + 1, s("k0"))
    n0 = _reg(COUNT_BITS + 1, s("n0"))
    running = in_state[MM_RUN]
    pre = in_state[MM_PRE]
    # Every decision of the stream is a register, computed a cycle ahead from
    # registers (a compare with a constant or an equality at most): the slot's end
    # (p + 1 == slots), whether slot p has a line (p < lines) and is the last line
    # (p + 1 == lines), the rows (columns) of the tile's k (n) range left after its
    # first, k_rem = k_count - 1 - k0 (n_rem = n_count - 1 - n0; n_after: the next
    # n-tile's), and whether the tile is the last of its k (n) sweep.  They are placed
    # in BASES (p is 0 from FETCH to the first slot) and move with p and the tiles.
    wide = COUNT_BITS + 1
    slot_end = _reg(1, s("slot_end"))
    line_on = _reg(1, s("line_on"))
    line_last = _reg(1, s("line_last"))
    last_k = _reg(1, s("last_k"))
    last_n = _reg(1, s("last_n"))
    k_rem = _reg(wide, s("k_rem"))
    n_rem = _reg(wide, s("n_rem"))
    n_after = _reg(wide, s("n_after"))
    slots_less2 = latch(_z(slots - 2, COUNT_BITS), placing, s("slots_less2"))
    lines_less2 = latch(_z(lines - 2, COUNT_BITS), placing, s("lines_less2"))

    def compared(value, name):
        # a compare of counts decoded in DECODE, registered every cycle: right from
        # PRODUCT (between DECODE and BASES) to the next DECODE, so that BASES's
        # choices (the weight-row request registered a cycle ahead reads them) start
        # at a register rather than at a compare of a 16-bit count
        flag = _reg(1, s(name))
        flag.next <<= value
        return flag
    one_slot = compared(slots == 1, "one_slot")
    one_line = compared(lines == 1, "one_line")
    k_fits = compared(k_count <= R, "k_fits")
    n_fits = compared(n_count <= C, "n_fits")
    k_last = latch(_z(k_count - 1, wide), placing, s("k_last"))      # k_count - 1
    last_tile = last_k & last_n
    next_k0 = pyrtl.select(last_k, pyrtl.Const(0, wide), _z(k0 + R, wide))
    next_n0 = pyrtl.select(last_k, _z(n0 + C, wide), n0)
    stream_done = named(running & slot_end & last_tile, s("stream_done"))
    turn = named(running & slot_end, s("turn"))      # the next slot starts the next tile
    n_turn = turn & last_k                           # ... and the next n-tile

    # (``*_n``: a register's next value, which the weight-row request registered a
    # cycle ahead reads)
    # p's next value, and its compares registered with it, each from registers (no
    # p + 1 before a compare): p == slots - 2 (``p_at_less2``; p + 1 == slots - 2 is
    # p == slots - 3), p < R - 1 and p < R - 2 (``p_low1``, ``p_low2``).  p is 0 from
    # FETCH to the first slot
    zero = pyrtl.Const(0, COUNT_BITS)
    p_n = pyrtl.select(state == FETCH, zero, pyrtl.select(
        running, pyrtl.select(slot_end, zero, _z(p + 1, COUNT_BITS)), p))
    slots_less3 = latch(_z(slots - 3, COUNT_BITS), placing, s("slots_less3"))
    at_zero = slots_less2 == 0
    p_at_less2 = _reg(1, s("p_at_less2"))
    p_at_less2.next <<= pyrtl.select(state == FETCH, at_zero, pyrtl.select(
        running, pyrtl.select(slot_end, at_zero, p == slots_less3),
        pyrtl.select(placing, slots == 2, p == slots_less2)))
    p_low = []
    for k in (1, 2):
        if R > k:
            flag = _reg(1, s(f"p_low{k}"))
            flag.next <<= pyrtl.select(state == FETCH, pyrtl.Const(1, 1), pyrtl.select(
                running, pyrtl.select(slot_end, pyrtl.Const(1, 1),
                                      p < R - k - 1 if R > k + 1 else pyrtl.Const(0, 1)),
                p < R - k))
            p_low.append(flag)
        else:
            p_low.append(pyrtl.Const(0, 1))
    slot_end_n = pyrtl.select(placing, one_slot, pyrtl.select(
        running, pyrtl.select(slot_end, one_slot, p_at_less2), slot_end))
    slot_end.next <<= slot_end_n
    line_on_n = pyrtl.select(placing | turn, pyrtl.Const(1, 1), pyrtl.select(
        running, line_on & ~line_last, line_on))
    line_on.next <<= line_on_n
    line_last_n = pyrtl.select(placing, one_line, pyrtl.select(
        running, pyrtl.select(slot_end, one_line, p == lines_less2), line_last))
    line_last.next <<= line_last_n
    k_rem.next <<= pyrtl.select(placing, _z(k_count - 1, wide), pyrtl.select(
        turn, pyrtl.select(last_k, k_last, _z(k_rem - R, wide)), k_rem))
    last_k_n = pyrtl.select(placing, k_fits, pyrtl.select(
        turn, pyrtl.select(last_k, k_last < R, k_rem < 2 * R), last_k))
    last_k.next <<= last_k_n
    n_rem.next <<= pyrtl.select(placing, _z(n_count - 1, wide),
                                pyrtl.select(n_turn, n_after, n_rem))
    n_after.next <<= pyrtl.select(placing, _z(n_count - 1 - C, wide),
                                  pyrtl.select(n_turn, _z(n_after - C, wide), n_after))
    last_n_n = pyrtl.select(placing, n_fits,
                            pyrtl.select(n_turn, n_rem < 2 * C, last_n))
    last_n.next <<= last_n_n
    p.next <<= p_n
    with pyrtl.conditional_assignment:
        with state == FETCH:
            k0.next |= 0
            n0.next |= 0
        with running:
            with slot_end:
                k0.next |= next_k0
                n0.next |= next_n0

    da, db, dd = desc_regs["a"][0], desc_regs["b"][0], desc_regs["dst"][0]

    # -- addresses, walked (as fixar_gen/hw/region_walk.py's): element (row, col) of an
    #    operand is base + row * cols + col; the one multiply per operand is in DECODE
    #    (its product latched), the add of the base in BASES, and every address then
    #    moves by steps latched in DECODE.  (The descriptors hold from FETCH to the
    #    next FETCH.)
    def cols_times(cols, k: int):
        # (adders, not a DSP48E2 with one register after: multiply.constant_times)
        return constant_times(cols, k, A)

    def placed(offset, index, cols, name):
        """offset + index * cols (``offset``: the base plus the other coordinate, latched
        in DECODE): the multiply in DECODE (``index`` as decoded, ``cols`` the
        descriptor's), its product through two registers (``registered_product``), the
        add in BASES."""
        product = registered_product(_z(_z(index, COUNT_BITS) * _z(cols, COUNT_BITS), A),
                                     s(f"{name}_product"))
        return named(_z(offset + product, A), s(name))

    # opA, a line per slot: the tile's line 0 (T) plus the line's m (m * cols; a^T: m);
    # row r of the line adds r (a^T: r * cols), the FXP16 line's high sample cols (a^T:
    # 1).  T moves by a k-tile (R; a^T: R * cols) and returns to T0 with a new n-tile.
    a_cols = _z(da["cols"], A)
    a_off = dec(_z(_z(da["base"], A) + _z(pyrtl.select(ta_f, m_start_f, k_start_f), A), A),
                "a_off")
    a_idx = pyrtl.select(ta_f, k_start_f, m_start_f)
    a_line_step = dec(pyrtl.select(ta_f, _z(pyrtl.select(mode_f, pyrtl.Const(2, 2),
                                                         pyrtl.Const(1, 2)), A),
                                   pyrtl.select(mode_f, cols_times(a_cols, 2), a_cols)),
                      "a_line_step")
    a_tile_step = dec(pyrtl.select(ta_f, cols_times(a_cols, R), pyrtl.Const(R, A)),
                      "a_tile_step")
    a_hi = dec(pyrtl.select(ta_f, pyrtl.Const(1, A), a_cols), "a_hi_step")
    a_port = [dec(pyrtl.select(ta_f, cols_times(a_cols, r), pyrtl.Const(r, A)), f"a_port{r}")
              for r in range(R)]
    a_port_hi = [_reg(A, s(f"a_port{r}_hi")) for r in range(R)]
    a_t0 = _reg(A, s("a_tile0"))
    a_tile = _reg(A, s("a_tile"))
    a_line = _reg(A, s("a_line"))
    a_first = placed(a_off, a_idx, da["cols"], "a_first")
    a_next_tile = pyrtl.select(last_k, a_t0, _z(a_tile + a_tile_step, A))
    a_t0.next <<= pyrtl.select(placing, a_first, a_t0)
    a_tile.next <<= pyrtl.select(placing, a_first, pyrtl.select(turn, a_next_tile, a_tile))
    a_line_n = pyrtl.select(placing, a_first,
                            pyrtl.select(turn, a_next_tile,
                                         pyrtl.select(running, _z(a_line + a_line_step, A),
                                                      a_line)))
    a_line.next <<= a_line_n
    for r in range(R):
        a_port_hi[r].next <<= pyrtl.select(placing, _z(a_port[r] + a_hi, A), a_port_hi[r])

    # opB, a weight row per load: the tile's row 0 (TB) plus the row j (j * cols; b^T:
    # j); column c adds c (b^T: c * cols).  The next tile's TB is kept ready: TB + a
    # k-step, or (a new n-tile) the n-tile's first TB + an n-step.
    b_cols = _z(db["cols"], A)
    b_off = dec(_z(_z(db["base"], A) + _z(pyrtl.select(tb_f, k_start_f, n_start_f), A), A),
                "b_off")
    b_idx = pyrtl.select(tb_f, n_start_f, k_start_f)
    b_row_step = dec(pyrtl.select(tb_f, pyrtl.Const(1, A), b_cols), "b_row_step")
    b_k_step = dec(pyrtl.select(tb_f, pyrtl.Const(R, A), cols_times(b_cols, R)), "b_k_step")
    b_n_step = dec(pyrtl.select(tb_f, cols_times(b_cols, C), pyrtl.Const(C, A)), "b_n_step")
    b_port = [dec(pyrtl.select(tb_f, cols_times(b_cols, c), pyrtl.Const(c, A)), f"b_port{c}")
              for c in range(C)]
    b_tile = _reg(A, s("b_tile"))            # the current tile's row 0
    b_ntile = _reg(A, s("b_ntile"))          # the current n-tile's first k-tile's row 0
    b_after_k = _reg(A, s("b_after_k"))      # b_tile + a k-step
    b_after_n = _reg(A, s("b_after_n"))      # b_ntile + an n-step
    b_row = _reg(A, s("b_row"))              # row p + 1 of the current tile
    b_first = placed(b_off, b_idx, db["cols"], "b_first")
    b_next = named(pyrtl.select(last_k, b_after_n, b_after_k), s("b_next_tile"))
    b_tile.next <<= pyrtl.select(placing, b_first, pyrtl.select(turn, b_next, b_tile))
    b_ntile.next <<= pyrtl.select(placing, b_first,
                                  pyrtl.select(turn & last_k, b_after_n, b_ntile))
    b_after_k_n = pyrtl.select(pre, _z(b_tile + b_k_step, A),
                               pyrtl.select(turn, _z(b_next + b_k_step, A), b_after_k))
    b_after_k.next <<= b_after_k_n
    b_after_n_n = pyrtl.select(pre, _z(b_ntile + b_n_step, A),
                               pyrtl.select(turn & last_k, _z(b_after_n + b_n_step, A),
                                            b_after_n))
    b_after_n.next <<= b_after_n_n
    b_row_n = pyrtl.select(pre, _z(b_tile + b_row_step, A),
                           pyrtl.select(turn, _z(b_next + b_row_step, A),
                                        pyrtl.select(running, _z(b_row + b_row_step, A),
                                                     b_row)))
    b_row.next <<= b_row_n

    # dst (the accumulators), a line per slot: base + (m_start + m) * cols + n_start +
    # n0, carried with the line's metadata to the accumulator's double line (its second
    # half line, the FXP16 line's high sample, a padded stride later)
    d_cols = _z(dd["cols"], A)
    d_off = dec(_z(_z(dd["base"], A) + _z(n_start_f, A), A), "d_off")
    d_idx = m_start_f
    d_line_step = dec(pyrtl.select(mode_f, cols_times(d_cols, 2), d_cols), "d_line_step")
    d_ntile = _reg(A, s("d_ntile"))
    d_line = _reg(A, s("d_line"))
    d_first = placed(d_off, d_idx, dd["cols"], "d_first")
    d_next_ntile = pyrtl.select(last_k, _z(d_ntile + C, A), d_ntile)
    d_ntile.next <<= pyrtl.select(placing, d_first, pyrtl.select(turn, d_next_ntile, d_ntile))
    d_line.next <<= pyrtl.select(placing, d_first,
                                 pyrtl.select(turn, d_next_ntile,
                                              pyrtl.select(running, _z(d_line + d_line_step, A),
                                                           d_line)))

    # The counters p, k0, n0 are stage 0: they compute the addresses of the line and
    # the weight row of slot p, which the synchronous reads register; the words arrive
    # in stage 1, where the slot's masks (delayed one cycle, ``q``) select them, and
    # are registered (WORD_REGISTERS): they enter the array in stage 2 with the slot's
    # controls.  The whole stream runs two cycles behind the counters.
    def stage1(value, name):
        return named(delay(value, 1, s(f"{name}_q_d{{k}}")), s(name))

    def stage2(value, name):
        return named(delay(value, 1 + WORD_REGISTERS, s(f"{name}_q_d{{k}}")), s(name))

    # -- the activation line of slot p ---------------------------------------------
    # the line's rows m_lo (and m_lo + 1 in FXP16) exist while p < lines, the high
    # one not on the last line of an odd m_count
    line_valid = named(running & line_on, s("line_issue"))
    m_lo = _z(pyrtl.select(mode, pyrtl.concat(p[:COUNT_BITS - 1], pyrtl.Const(0, 1)), p),
              COUNT_BITS)
    m_odd = dec(m_count_f[0], "m_odd")
    lo_ok = line_on
    hi_ok = mode & line_on & ~(line_last & m_odd)
    H = pe.half
    words = []
    # the line's 2R words as one strided read of amem's 4P banks (docs/hardware.md, "The
    # activations in banks"): row m's R words (a^T: column m's) and, in FXP16, row m +
    # 1's (a^T: column m + 1's), in distinct banks at the activation's padded row stride
    # (memory_kinds.activation_stride); without a high row (FXP32, the last line of an
    # odd m) its addresses repeat the low row's, so an FXP32 read needs only its own R
    # words in distinct banks (any stride for the line).  From gmem (a delta, FXP32 and not
    # transposed: R adjacent words) the line at row m's first word.
    # The request is registered a cycle ahead, as the weight row's below, from the next
    # values of the line pointer and the line's flags (a_port and a_port_hi hold from
    # BASES, before MM_PRE, to the next FETCH): its 2R element addresses are registers
    # (``a<r>_lo_address``, ``a<r>_hi_address``) and its ask of each memory too, so
    # that the memory's port chooses and crosses the elements into the banks from
    # registers, not after the line's sums and the flags
    hi_ok_n = mode & line_on_n & ~(line_last_n & m_odd)
    line_valid_n = enters[MM_RUN] & line_on_n
    lo_addresses, hi_addresses = [], []
    for r in range(R):
        lo = _reg(A, s(f"a{r}_lo_address"))
        hi = _reg(A, s(f"a{r}_hi_address"))
        lo_n = _z(a_line_n + a_port[r], A)
        lo.next <<= lo_n
        hi.next <<= pyrtl.select(hi_ok_n, _z(a_line_n + a_port_hi[r], A), lo_n)
        lo_addresses.append(lo)
        hi_addresses.append(hi)
    line_asks_next = {m: line_valid_n & (_z(da["mem"], MEMORY_ID_BITS) == memory_id(m))
                      for m in MATRIX_MEMORIES["a"] if m in mems.data.banked}
    line_words = mems.data.read_strided(
        port, da["mem"], lo_addresses + hi_addresses, line_valid,
        [s(f"ra_a{r}_lo") for r in range(R)] + [s(f"ra_a{r}_hi") for r in range(R)],
        MATRIX_MEMORIES["a"], asks_next=line_asks_next, ask_name=s("ask_a_{memory}"))
    for r in range(R):
        k_ok = k_rem >= r if r else pyrtl.Const(1, 1)     # k0 + r < k_count
        v_lo = line_words[r]
        v_hi = line_words[R + r]
        use_lo = stage1(k_ok & lo_ok, f"use_r{r}_lo")
        use_hi = stage1(k_ok & hi_ok, f"use_r{r}_hi")
        word32 = pyrtl.select(use_lo, v_lo[:2 * H], pyrtl.Const(0, 2 * H))
        word16 = pyrtl.concat(pyrtl.select(use_hi, v_hi[:H], pyrtl.Const(0, H)),
                              pyrtl.select(use_lo, v_lo[:H], pyrtl.Const(0, H)))
        words.append(pyrtl.select(mode, word16, word32))
    act_line = named(delay(pyrtl.concat_list(words), WORD_REGISTERS, s("act_line_d{k}"),
                           reset=False), s("act_line"))

    # -- the weight row loaded this cycle --------------------------------------------
    # slot p loads row p + 1 of this tile; the last slot loads row 0 of the next tile;
    # MM_PRE loads row 0 of the first tile.
    # (row 0 of a tile always exists: MM_PRE's and the next tile's load are in k; row
    # p + 1 is while p < k_rem; the next tile's columns are the next n-tile's after
    # the last k-tile)
    load_this = running & p_low[0]                  # p < R - 1 (1 row: no p + 1)
    load_next = running & slot_end & ~last_tile
    load_en = named(pre | load_this | load_next, s("load_issue"))
    load_row = pyrtl.select(load_this, _z(_z(p, row_address_bits(R)) + 1, row_address_bits(R)),
                            pyrtl.Const(0, row_address_bits(R)))
    k_in = ~load_this | (p < k_rem)
    n_left = pyrtl.select(load_next & last_k, n_after, n_rem)
    # The request is registered a cycle ahead, from the next values of what decides it
    # (the state's entries, the slot counter's, the flags' and the row pointers'), so
    # that the memory's port chooses and crosses its elements into the banks from
    # registers: whether it loads (per memory it can name: the descriptor's memory
    # holds from FETCH to the next FETCH) and its C element addresses.  MM_PRE loads
    # the first tile's row 0 (b_tile, placed in BASES), a slot its row p + 1
    # (b_row), the last slot the next tile's row 0 (b_next).
    if R > 1:
        p_n_low = pyrtl.select(state == FETCH, pyrtl.Const(1, 1), pyrtl.select(
            running, pyrtl.select(slot_end, pyrtl.Const(1, 1), p_low[1]), p_low[0]))
    else:
        p_n_low = pyrtl.Const(0, 1)
    running_n = enters[MM_RUN]
    load_next_n = slot_end_n & ~(last_k_n & last_n_n)
    load_en_n = enters[MM_PRE] | (running_n & (p_n_low | load_next_n))
    row_n = pyrtl.select(placing, b_first, pyrtl.select(
        load_next_n, pyrtl.select(last_k_n, b_after_n_n, b_after_k_n), b_row_n))
    elements = []
    for c in range(C):
        element = _reg(A, s(f"b_elem{c}"))
        element.next <<= _z(_z(row_n, A) + _z(b_port[c], A), A)   # equal widths (lint)
        elements.append(element)
    asks_next = {m: load_en_n & (_z(db["mem"], MEMORY_ID_BITS) == memory_id(m))
                 for m in MATRIX_MEMORIES["b"] if m in mems.data.banked}
    # the row's C words: on wmem one strided line (element c at the row's address +
    # b_port[c]: adjacent words, or a column whose padded row stride is odd, so the
    # elements lie in distinct banks), on gmem one line (a delta's row, adjacent words)
    values = mems.data.read_strided(
        port, db["mem"], elements, load_en, [s(f"ra_b{c}") for c in range(C)],
        MATRIX_MEMORIES["b"], asks_next=asks_next, ask_name=s("ask_b_{memory}"))
    weights = []
    for c in range(C):
        n_in = n_left >= c if c else pyrtl.Const(1, 1)    # n0 (the next tile's) + c < n_count
        weights.append(pyrtl.select(stage1(k_in & n_in, f"use_c{c}"), values[c][:pe.weight],
                                    pyrtl.Const(0, pe.weight)))
    load_data = named(delay(pyrtl.concat_list(weights), WORD_REGISTERS, s("load_data_d{k}"),
                            reset=False), s("load_data"))

    sums = array_generator(s.sub("array"), R, C, pe, act_line=act_line,
                           line_mode=_z(mode, 1), line_valid=stage2(line_valid, "line_valid"),
                           load_en=stage2(load_en, "load_en"),
                           load_row=stage2(load_row, "load_row"), load_data=load_data,
                           pe_generator=pe_generator)

    # -- metadata travelling with each line: the array's latency (R + its PEs' product
    #    registers) and the words' registers from stage 0 to the cycle before its sums,
    #    one more to the sums; the accumulator's read is issued ACC_REGISTERS cycles
    #    before them (``early``)
    latency = array_latency(R, C, "broadcast") + WORD_REGISTERS
    last_line = running & last_tile & line_last
    meta = pyrtl.concat_list([_z(m_lo, COUNT_BITS), _z(n0, COUNT_BITS + 1),
                              last_k, _z(k0 == 0, 1), d_line, last_line])
    before = delay(meta, latency - ACC_REGISTERS, s("meta_d{k}"))
    early = delay(before, 1, s(f"meta_d{latency - ACC_REGISTERS + 1}"))
    flags = 2 * COUNT_BITS + 3          # m_lo, n0, last_k, first_k: then d_line
    ahead = delay(pyrtl.concat(early[flags + A], early[:flags]), ACC_REGISTERS - 1,
                  s("meta_ahead_d{k}"))
    # the last register keeps the k flags (the row and column are compared on its
    # input: the enables below; last_line is the cycle's before the sums)
    ahead_m, ahead_n0 = ahead[:COUNT_BITS], ahead[COUNT_BITS:2 * COUNT_BITS + 1]
    meta = pyrtl.Register(2, name=s(f"meta_d{latency + 1}"))
    meta.next <<= ahead[2 * COUNT_BITS + 1:2 * COUNT_BITS + 3]
    out_last_k, out_first_k = meta[0], meta[1]
    early_line = early[flags:flags + A]
    ahead_last = ahead[flags]
    out_valid = sums.valid
    out_mode = sums.mode

    # read-modify-write of a double line of cmem's banks (docs/hardware.md, "The
    # accumulators in banks"): row m's C sums at the line address, row m + 1's (FXP16)
    # a padded stride later, in the other half of the banks.  ACC_REGISTERS apart: the
    # read is issued two cycles before the sums arrive (the banks register the address)
    # and its words registered (``acc_old``: a block RAM's output register); in the
    # sums' cycle the add and the fit, registered (``acc_new``); the write a cycle
    # later at the addresses read.  A line's next visit (the next k-tile, at least
    # ACC_MIN_SLOTS slots later) issues its read in or after the cycle of that write,
    # so k-tiles accumulate without forwarding
    (acc_mem,) = MATRIX_MEMORIES["dst"]
    H = cfg.acc_half
    stored = mems.data.banked[acc_mem].width
    # (the valid bit's last register is the port's: its choice reads the value before)
    early_before = delay(line_valid, latency - ACC_REGISTERS, s("acc_ahead_d{k}"))
    # (the second half line's address added a cycle earlier and registered: d_cols
    # comes from the descriptors' table)
    early_second = _reg(A, s("acc_ahead_second"))
    early_second.next <<= _z(before[flags:flags + A] + d_cols, A)
    acc_line = mems.data.read_double(port, acc_mem, early_line, early_second,
                                     want_next=early_before,
                                     want_name=s(f"acc_ahead_d{latency - ACC_REGISTERS + 1}"))
    acc_first = delay(early_line, 2 * ACC_REGISTERS - 1, s("acc_wa_d{k}"))
    acc_second = delay(early_second, 2 * ACC_REGISTERS - 1, s("acc_wa_second_d{k}"))
    line_values = [pyrtl.Const(0, stored)] * (2 * H)
    line_enables = [pyrtl.Const(0, 1)] * (2 * H)
    writes, overflow_bits = [], []
    limits = _fit_limits(dd["acc_bits"], cfg.acc_overflow, W, s("acc_fit"))

    def inside(index, count, name):
        # whether a sum's row or column lies inside the product, compared a cycle ahead
        # on the metadata's last register's input and registered (m_count and n_count
        # hold: the last sums are in the next instruction's FETCH, before its DECODE),
        # so that the enables, which decide the accumulators' line port, start at
        # registers
        ok = _reg(1, s(name))
        ok.next <<= index < _z(count, index.bitwidth)
        return ok
    m_ok = {"lo": inside(ahead_m, m_count, "acc_lo_m_ok"),
            "hi": inside(_z(ahead_m + 1, COUNT_BITS), m_count, "acc_hi_m_ok")}
    for c in range(C):
        n_ok = inside(_z(_z(ahead_n0, COUNT_BITS + 1) + c, COUNT_BITS + 1), n_count,
                      f"acc_c{c}_n_ok")
        for lane, j, lane_sum in (("lo", c, sums.sums_lo[c]),
                                  ("hi", H + c, sums.sums_hi[c])):
            ok = out_valid & n_ok & m_ok[lane]
            if lane == "hi":
                ok = ok & out_mode
            old = mems.data.extend(named(delay(acc_line[j], 1, s(f"acc_old{j}_d{{k}}"),
                                                reset=False), s(f"acc_c{c}_{lane}_old")))
            base = named(pyrtl.select(out_first_k & ~accumulate, pyrtl.Const(0, W), old),
                         s(f"acc_c{c}_{lane}_base"))
            total = _z(base + named(resize(lane_sum, W), s(f"acc_c{c}_{lane}_sum")), W)
            fitted, over = _fit_width(total, limits, cfg.acc_overflow, W)
            value = pyrtl.select(out_last_k, fitted, total)[:stored]
            line_values[j] = named(delay(value, ACC_REGISTERS - 1, s(f"acc_new{j}_d{{k}}"),
                                         reset=False), s(f"acc_c{c}_{lane}"))
            line_enables[j] = delay(ok, ACC_REGISTERS - 1, s(f"acc_en{j}_d{{k}}"))
            overflow_bits.append(ok & out_last_k & over)
    writes.append((acc_mem, acc_first, acc_second, line_values, line_enables))
    # counted a cycle after the writes (the controller's saturation counters)
    overflows = _sum_tree([_z(bit, 8) for bit in
                           delay(pyrtl.concat_list(overflow_bits), 1, s("overflow_d{k}"))], 8)
    # the controller fetches the next instruction in the cycle the last sums arrive:
    # their write (ACC_REGISTERS - 1 = a cycle later) is in its DECODE, before any of
    # its reads
    flushed = named((state == MM_FLUSH) & ahead_last, s("flushed"))
    return {"writes": writes, "overflows": named(overflows, s("overflows")),
            "stream_done": stream_done, "flushed": flushed}
