"""The cycle model: how many clock cycles the FIXAR cores take to execute a Program.

This module owns :class:`Timing` (every micro-architectural latency and rate the model
uses, shared with the hardware generator), :func:`instruction_cycles` (one instruction
on one core) and :func:`schedule` (all cores, barriers included), whose
:class:`Schedule` says how long the program takes, which unit the cycles on the
critical path belong to, and the array utilisation; :func:`choose_policy` resolves the
``auto`` parallelism policy by scheduling both.

It is a *schedule* derived from how the core works, meant to equal the RTL's cycle
counts, not a fitted formula.  The rules:

Issue and order
    Every core has its own controller.  It issues its instructions (those whose
    ``core`` field names it, in program order) one at a time: each instruction costs
    ``Timing.issue`` cycles to issue, then runs to completion on its unit before the
    next is issued.  Instructions of one core never overlap; cores run concurrently
    and meet only at barriers.  A core stops at its ``Halt`` (``Timing.halt`` cycles
    after the issue); a core without one stops after its last instruction.

MatMul (unit "array")
    ``dst[m, n] (+)= sum_k opA[m, k] * opB[k, n]`` on an R x C array.  opB is
    stationary: PE (r, c) holds ``opB[k0 + r, n0 + c]`` of the current tile, so the
    instruction runs ``ceil(k / R) * ceil(n / C)`` tiles.  Per tile:

    - load: the whole R x C tile comes from the banked weight memory, one word per bank
      per cycle: ``ceil(R * C / banks)`` cycles (edge tiles load the full tile, the
      PEs outside the ranges hold zeros);
    - stream: the m rows of opA pass the array, broadcast along the PE rows,
      ``Timing.macs_per_pe[mode]`` rows a cycle (FXP32: 1; FXP16: 2, two 16-bit
      activations share the weight): ``ceil(m / macs_per_pe)`` cycles.

    The stationary tile is double-buffered: tile t + 1 loads while tile t streams.  So
    the first load is exposed, every later tile costs ``max(load, stream)``, and the
    last tile's stream follows; the systolic skew fills and drains once per
    instruction, ``R + C + Timing.array_extra_latency`` cycles::

        load + (tiles - 1) * max(load, stream) + stream + R + C + array_extra_latency

    Every stationary operand (weights, and the gradients of weight-gradient products)
    is assumed to arrive at the weight memory's rate, and transposed operands (``ta``,
    ``tb``) at full rate: FIXAR's weight layout makes ``tb`` free; ``ta`` assumes the
    activation memory can deliver a column of ``a`` per cycle.  Accumulating into the
    accumulator costs nothing extra.

Drain, Vector (unit "vector")
    L vector lanes per core (``hardware.vector_lanes``, by default the array's C
    columns): ``ceil(rows * cols / L)`` cycles plus the function's pipeline
    latency (``Timing.drain_latency`` by activation, ``Timing.vector_latency`` by
    function), paid once per instruction because the unit is pipelined.  A ``range``
    right after its drain (:mod:`fixar_gen.range_fusion`: the drain folded its values'
    minimum and maximum as it wrote them, as the generated RTL does) counts one
    element.

acc_add (unit "sync")
    The cross-core reduction of wide accumulators moves its elements over the
    inter-core link: ``ceil(rows * cols / link_words_per_cycle) + link_latency``; the
    add sits in the link's receive pipeline.  It is counted as synchronisation because
    it exists only because work was split across cores.

Load, Store (unit "dma")
    Host <-> on-chip: ``ceil(rows * cols / dma_words_per_cycle) + dma_latency``.  Each
    core has its own DMA channel (no contention between cores is modelled).

Xfer (unit "sync")
    Per-core memories' transfer (:mod:`fixar_gen.transfers`): the sender reads one line
    of C words (the array's columns) a cycle from its own memory and the link writes it
    into every receiver's copy: ``rows * ceil(cols / C) + link_latency``.  It runs
    between two barriers, on the sender's timeline; two senders run at once.

Barrier (unit "sync")
    Each participating core executes its own ``Barrier`` with the same mask; the n-th
    barrier of one core meets the n-th barrier of the others.  All leave together
    ``Timing.barrier_latency`` cycles after the last one arrives (arrival = after its
    issue).  Mask bits of cores the program does not have are ignored; the executing
    core must be in its own mask.  A barrier that can never complete is an error.

The critical path is traced forward: each core carries the per-unit breakdown of the
longest path to its present time; a barrier hands everyone the path of the slowest
arrival plus the barrier latency.  The finished schedule reports the path of the core
that finishes last, so ``sum(by_unit.values()) == total_cycles``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from .isa import (ACTIVATIONS, MODES, VECTOR_FUNCTIONS, Barrier, Drain, Halt, Instruction,
                  Load, MatMul, Program, Store, Vector, Xfer)
from . import ops
from .range_fusion import fused_ranges
from .spec import Spec
from .transfers import xfer_cycles

UNITS = ("array", "vector", "dma", "sync", "issue")
LINK_FUNCTIONS = ops.names(unit="link")    # vector functions that run on the inter-core link
LANE_FUNCTIONS = tuple(fn for fn in VECTOR_FUNCTIONS if fn not in LINK_FUNCTIONS)

# Vector unit pipeline latencies, each operation's ``target_latency`` (fixar_gen.ops):
# read, compute, requantize/saturate, write = 4 for the simple functions; a chain of two
# multiplies adds two; range adds log2(16) levels of the cross-lane min/max tree; the
# root (adam_s, 34) and the divider (adam_w, 40) are bit-serial iterations unrolled into
# a pipeline, so they cost latency, not throughput.
DEFAULT_VECTOR_LATENCY: tuple[tuple[str, int], ...] = tuple(
    (op.name, op.target_latency) for op in ops.VECTOR if op.name in LANE_FUNCTIONS)

# Drain: accumulator read + bias add + requantize + activation; tanh is a piecewise
# interpolation with two more stages.
DEFAULT_DRAIN_LATENCY: tuple[tuple[str, int], ...] = tuple(
    (op.activation, op.target_latency) for op in ops.DRAIN)


def _doc(text: str, default=None, factory=None):
    if factory is not None:
        return field(default_factory=factory, metadata={"doc": text})
    return field(default=default, metadata={"doc": text})


def _table(value, names: tuple[str, ...], where: str) -> tuple[tuple[str, int], ...]:
    """A complete latency table in ``names`` order, from a mapping or (name, cycles) pairs."""
    try:
        given = dict(value.items() if isinstance(value, Mapping) else value)
    except (TypeError, ValueError):
        raise ValueError(f"Timing.{where}: {value!r} is not a table of (name, cycles) "
                         f"(allowed: a mapping over {', '.join(names)})") from None
    unknown = sorted(set(given) - set(names), key=str)
    if unknown:
        raise ValueError(f"Timing.{where}: unknown name(s) {', '.join(map(str, unknown))} "
                         f"(allowed: {', '.join(names)})")
    missing = [n for n in names if n not in given]
    if missing:
        raise ValueError(f"Timing.{where}: no latency for {', '.join(missing)} "
                         "(every one needs an entry)")
    for name in names:
        cycles = given[name]
        if not isinstance(cycles, int) or isinstance(cycles, bool) or cycles < 0:
            raise ValueError(f"Timing.{where}[{name}]: {cycles!r} is not a cycle count "
                             "(an integer >= 0)")
    return tuple((n, given[n]) for n in names)


@dataclass(frozen=True)
class Timing:
    """Every latency and rate of the cycle model, in clock cycles (see the module doc).

    The hardware generator builds its pipelines from the same numbers, so the model and
    the RTL agree by construction; change a number here, not in either of them.
    """

    issue: int = _doc("cycles to fetch and decode one instruction (paid by every "
                      "instruction, not overlapped with the previous one)", 1)
    halt: int = _doc("cycles after issuing Halt until the core reports done", 1)
    macs_per_pe: tuple[int, ...] = _doc("rows of opA streamed per cycle (MACs per PE per "
                                        "cycle), indexed by MatMul.mode (fxp32, fxp16)",
                                        (1, 2))
    array_extra_latency: int = _doc("register stages of a MatMul outside the PE grid "
                                    "(line-buffer read, accumulator write) added to the "
                                    "R + C systolic fill/drain", 0)
    dma_words_per_cycle: int = _doc("words the host DMA moves per cycle (a 512-bit line "
                                    "of 32-bit words)", 16)
    dma_latency: int = _doc("cycles from a Load/Store's start to its first word (host "
                            "memory round trip)", 64)
    link_words_per_cycle: int = _doc("accumulator words the inter-core link moves per "
                                     "cycle (512 bits / 80-bit accumulators)", 6)
    link_latency: int = _doc("inter-core link pipeline (SLR crossing) plus the add of "
                             "acc_add", 16)
    barrier_latency: int = _doc("cycles from the last core's arrival at a barrier until "
                                "all cores in the mask leave it", 8)
    vector_latency: tuple[tuple[str, int], ...] = _doc(
        "vector unit pipeline latency per function (isa.VECTOR_FUNCTIONS but acc_add, "
        "which runs on the link)", DEFAULT_VECTOR_LATENCY)
    drain_latency: tuple[tuple[str, int], ...] = _doc(
        "drain pipeline latency per activation (isa.ACTIVATIONS)", DEFAULT_DRAIN_LATENCY)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("vector_latency", "drain_latency"):
                names = LANE_FUNCTIONS if f.name == "vector_latency" else ACTIVATIONS
                object.__setattr__(self, f.name, _table(value, names, f.name))
            elif f.name == "macs_per_pe":
                ok = (isinstance(value, tuple) and len(value) == len(MODES)
                      and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                              for v in value))
                if not ok:
                    raise ValueError(f"Timing.macs_per_pe: {value!r} is not one positive "
                                     f"integer per mode ({', '.join(MODES)})")
            else:
                least = 1 if f.name.endswith("per_cycle") else 0
                if not isinstance(value, int) or isinstance(value, bool) or value < least:
                    raise ValueError(f"Timing.{f.name}: {value!r} is not allowed "
                                     f"(an integer >= {least})")

    def vector(self, fn: str) -> int:
        """The vector unit's pipeline latency of function ``fn``."""
        return dict(self.vector_latency)[fn]

    def drain(self, act: str) -> int:
        """The drain pipeline latency with activation ``act``."""
        return dict(self.drain_latency)[act]


def _enum(instr: Instruction, name: str, values: tuple[str, ...]) -> str:
    index = getattr(instr, name)
    if not 0 <= index < len(values):
        raise ValueError(f"{instr.MNEMONIC}.{name} = {index} names no entry "
                         f"(allowed 0..{len(values) - 1}: {', '.join(values)})")
    return values[index]


def _matmul_cycles(mm: MatMul, spec: Spec, timing: Timing) -> int:
    rows, cols = spec.hardware.array
    tiles = math.ceil(mm.k.count / rows) * math.ceil(mm.n.count / cols)
    load = math.ceil(rows * cols / spec.hardware.memory.banks)
    _enum(mm, "mode", MODES)
    stream = math.ceil(mm.m.count / timing.macs_per_pe[mm.mode])
    return (load + (tiles - 1) * max(load, stream) + stream
            + rows + cols + timing.array_extra_latency)


def _execution(instr: Instruction, spec: Spec, timing: Timing, fused: bool = False
               ) -> tuple[str, int]:
    """(unit, cycles) of the instruction after its issue; a barrier's wait is excluded.
    ``fused``: a ``range`` right after its drain (:mod:`fixar_gen.range_fusion`), which
    folds the drain's minimum and maximum: one element."""
    lanes = spec.hardware.lanes
    if isinstance(instr, MatMul):
        return "array", _matmul_cycles(instr, spec, timing)
    if isinstance(instr, (Load, Store)):
        words = instr.rows.count * instr.cols.count
        return "dma", math.ceil(words / timing.dma_words_per_cycle) + timing.dma_latency
    if isinstance(instr, Drain):
        elements = instr.rows.count * instr.cols.count
        return "vector", math.ceil(elements / lanes) + timing.drain(
            _enum(instr, "act", ACTIVATIONS))
    if isinstance(instr, Vector):
        fn = _enum(instr, "fn", VECTOR_FUNCTIONS)
        elements = 1 if fused else instr.rows.count * instr.cols.count
        if fn in LINK_FUNCTIONS:
            return "sync", (math.ceil(elements / timing.link_words_per_cycle)
                            + timing.link_latency)
        return "vector", math.ceil(elements / lanes) + timing.vector(fn)
    if isinstance(instr, Xfer):
        return "sync", xfer_cycles(instr, spec.hardware.cols, timing.link_latency)
    if isinstance(instr, Barrier):
        return "sync", timing.barrier_latency
    if isinstance(instr, Halt):
        return "issue", timing.halt
    raise TypeError(f"the cycle model has no rule for {type(instr).__name__}")


def _check_cores(program: Program, spec: Spec) -> None:
    if program.cores > spec.hardware.cores:
        raise ValueError(f"program {program.name!r} uses {program.cores} cores but the "
                         f"hardware has {spec.hardware.cores}")


def _check_core(instr: Instruction, pc: int | None, program: Program) -> None:
    if not 0 <= instr.core < program.cores:
        where = f"instruction {pc}" if pc is not None else "instruction"
        raise ValueError(f"{where} ({instr.MNEMONIC}) runs on core {instr.core} but "
                         f"program {program.name!r} has cores 0..{program.cores - 1}")


def instruction_cycles(instr: Instruction, program: Program, spec: Spec,
                       timing: Timing = Timing(), pc: int | None = None) -> int:
    """Cycles ``instr`` occupies its core: the issue plus its unit's time.

    For a Barrier this is the issue plus the barrier latency; the wait for the other
    cores is known only to :func:`schedule`.  Without its ``pc`` in ``program`` a
    ``range`` counts its whole region (with it, one element when it follows its drain).
    """
    _check_cores(program, spec)
    _check_core(instr, None, program)
    fused = pc is not None and pc in fused_ranges(program)
    return timing.issue + _execution(instr, spec, timing, fused)[1]


@dataclass(frozen=True)
class Schedule:
    """The outcome of running a program on the cycle model."""

    total_cycles: int                 # until the last core is done
    per_core_busy: tuple[int, ...]    # cycles each core spent executing (not waiting)
    by_unit: dict[str, int]           # the critical path's cycles per unit (UNITS)
    array_macs: int                   # useful MACs: sum of m * n * k over MatMuls

    def utilization(self, spec: Spec, mode_macs_per_pe: int) -> float:
        """Useful MACs over the MACs every PE of every core could have done in
        ``total_cycles`` at ``mode_macs_per_pe`` MACs per PE per cycle (1: FXP32,
        2: FXP16).  Cores the program leaves idle count against it."""
        if self.total_cycles == 0:
            return 0.0
        return self.array_macs / (self.total_cycles * spec.hardware.pe_count
                                  * mode_macs_per_pe)

    def seconds(self, spec: Spec) -> float:
        """Wall time at the spec's clock."""
        return self.total_cycles / (spec.hardware.clock_mhz * 1e6)


def _participants(barrier: Barrier, core: int, program: Program) -> frozenset[int]:
    group = frozenset(c for c in range(program.cores) if barrier.mask >> c & 1)
    if core not in group:
        raise ValueError(f"core {core} executes a barrier with mask {barrier.mask:#x} "
                         "that does not include it")
    return group


def schedule(program: Program, spec: Spec, timing: Timing = Timing()) -> Schedule:
    """Run ``program`` on the cycle model: per-core timelines that meet at barriers."""
    _check_cores(program, spec)
    fused = fused_ranges(program)
    return schedule_with(program, spec.hardware.cores,
                         lambda pc, instr: _execution(instr, spec, timing, pc in fused),
                         timing)


def walk_cores(program: Program, visit, meet) -> None:
    """Each core's instructions in program order, the cores taking turns: ``visit(core,
    pc, instr)`` for each one (it returns True when the core is done: a ``Halt``); a
    ``Barrier`` is visited, then stops its core until every core of its mask has
    reached a barrier with the same mask, when ``meet(cores)`` is called (the cores in
    order) and they go on.  Raises on masks that disagree or a barrier never met."""
    streams: list[list[tuple[int, Instruction]]] = [[] for _ in range(program.cores)]
    for pc, instr in enumerate(program.code):
        _check_core(instr, pc, program)
        streams[instr.core].append((pc, instr))
    n = program.cores
    pos = [0] * n
    done = [False] * n
    waiting: dict[int, frozenset[int]] = {}     # core -> the cores its barrier waits for
    while True:
        progressed = False
        for c in range(n):
            while not done[c] and c not in waiting:
                if pos[c] == len(streams[c]):
                    done[c] = True
                    break
                pc, instr = streams[c][pos[c]]
                pos[c] += 1
                progressed = True
                halted = visit(c, pc, instr)
                if isinstance(instr, Barrier):
                    waiting[c] = _participants(instr, c, program)
                    break
                if halted:
                    done[c] = True

        for c in sorted(waiting):
            group = waiting.get(c)
            if group is None or not all(d in waiting for d in group):
                continue
            disagree = sorted(d for d in group if waiting[d] != group)
            if disagree:
                raise ValueError(f"barrier masks disagree: core {c} waits for cores "
                                 f"{sorted(group)}, core {disagree[0]} for "
                                 f"{sorted(waiting[disagree[0]])}")
            meet(sorted(group))
            for d in group:
                del waiting[d]
            progressed = True

        if all(done):
            return
        if not progressed:
            stuck = {c: sorted(d for d in waiting[c] if d not in waiting)
                     for c in sorted(waiting)}
            detail = "; ".join(f"core {c} waits for core(s) {', '.join(map(str, m))}"
                               for c, m in stuck.items())
            raise ValueError(f"program {program.name!r} deadlocks at a barrier: {detail}, "
                             "which never reach a matching barrier")


def schedule_with(program: Program, cores: int, execution, timing: Timing = Timing()
                  ) -> Schedule:
    """:func:`schedule` with another per-instruction rule: ``execution(pc, instr)`` gives
    (unit, cycles after the issue) of the instruction at ``program.code[pc]``.  The
    generated RTL's own rule
    (:func:`fixar_gen.hw.core.execution_cycles`) runs through here with the same issue
    and barrier rules."""
    if program.cores > cores:
        raise ValueError(f"program {program.name!r} uses {program.cores} cores but the "
                         f"hardware has {cores}")
    n = program.cores
    time = [0] * n
    busy = [0] * n
    path = [dict.fromkeys(UNITS, 0) for _ in range(n)]
    macs = 0

    def visit(c: int, pc: int, instr: Instruction) -> bool:
        nonlocal macs
        unit, cycles = execution(pc, instr)
        busy[c] += timing.issue + cycles
        time[c] += timing.issue
        path[c]["issue"] += timing.issue
        if isinstance(instr, Barrier):
            return False
        time[c] += cycles
        path[c][unit] += cycles
        if isinstance(instr, MatMul):
            macs += instr.m.count * instr.n.count * instr.k.count
        return isinstance(instr, Halt)

    def meet(group: list[int]) -> None:
        slowest = max(group, key=lambda d: time[d])
        leave = time[slowest] + timing.barrier_latency
        released = dict(path[slowest])
        released["sync"] += timing.barrier_latency
        for d in group:
            time[d] = leave
            path[d] = dict(released)

    walk_cores(program, visit, meet)
    last = max(range(n), key=lambda c: time[c])
    return Schedule(total_cycles=time[last], per_core_busy=tuple(busy),
                    by_unit=dict(path[last]), array_macs=macs)


RESOLVED_POLICIES = ("intra_layer", "intra_batch")    # what ``auto`` chooses between


def choose_policy(spec: Spec, phase: str, precision=None, batch: int | None = None,
                  timing: Timing = Timing()) -> str:
    """The parallelism policy (``parallelism: auto``) that runs ``phase`` in the fewest
    cycles: both are compiled and scheduled; a tie goes to ``intra_layer``."""
    from .compiler import Precision, compile_program    # the compiler calls us back

    precision = Precision() if precision is None else precision

    def cycles_of(policy: str) -> int:
        code = compile_program(spec, phase, precision, batch, policy=policy)
        return schedule(code, spec, timing).total_cycles

    return min(RESOLVED_POLICIES, key=cycles_of)
