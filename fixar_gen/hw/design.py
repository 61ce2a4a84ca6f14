"""From a spec to the generator's sizes: :func:`config_for` reduces a spec to a
:class:`~fixar_gen.hw.core.CoreConfig` (cores, array, PE widths, the data memories'
widths and depths, the vector lane's format limits) and :func:`hardware_limits` names
what of a program the generated core cannot run."""

from __future__ import annotations

import functools
import math
from dataclasses import replace

from .. import ops
from ..compiler import Precision, compile_program, compile_programs, phases
from ..isa import (NO_BUFFER, TRANSFER_INSTRUCTIONS, Barrier,
                   Drain, Halt, Load, MatMul, Program, Store, Vector, Xfer)
from ..memory_access import access_problems, acc_half_problems, extra_lines
from ..memory_kinds import MEMORIES, SLOT_MEMORY, memory_of
from ..placement import Placement, place
from ..ops.declare import PRNG
from ..spec import MAX_SCRATCHPAD_WORDS, Spec
from . import vector as V
from .lane_limits import WIDEST, LaneLimits
from ..range_fusion import FOLDED_FUNCTIONS
from .core import (ELEMENT_OPERANDS, SERIAL_FUNCTIONS, CoreConfig, element_op,
                   execution_cycles, operand_memory_set, word_bits)
from .data_memories import fitted_shape, tail_in_block_ram
from .pe import PEWidths

PHASES = (("train", None), ("infer", 1), ("explore", 1), ("infer_critic", 1))


def _phases(spec: Spec) -> tuple[tuple[str, int | None], ...]:
    """:data:`PHASES` and the algorithm's other training programs (TD3's critic-only
    update), at the spec's batch."""
    return PHASES + tuple((p, None) for p in phases(spec) if p not in dict(PHASES))


class HardwareLimit(ValueError):
    """A program asks for something this generated core does not support."""


def _bits_for(count: int) -> int:
    return max(1, math.ceil(math.log2(max(count, 2))))


def pe_widths(spec: Spec) -> PEWidths:
    """The PE's widths: stationary operands are weights or gradients, streamed words
    activations or gradients; lanes are the spec's accumulator width."""
    n = spec.numerics
    stationary = max(n.weight.width, n.gradient.width)
    streamed = max(n.activation.width, n.gradient.width)
    return PEWidths(weight=stationary, half=math.ceil(streamed / 2), acc=n.accumulator_width)


def lane_limits(spec: Spec) -> LaneLimits:
    """The formats the spec's programs can hand a vector lane, as :class:`LaneLimits`:
    data are the weight, activation and gradient formats and every FXP16 activation
    format QAT may choose (``fxp16_width`` bits, fracs 0 .. 2 ``fxp16_width``: the
    bounds of ``rl.qat.frac_limits``; included whatever the precision schedule, so that
    one design runs both modes); constants are the instruction set's constant formats
    (:mod:`fixar_gen.ops`) and the data formats (a buffer may serve as c); accumulators
    hold products of two data values (fracs up to twice the data's).  A spec beyond the
    widest lane is refused (:class:`HardwareLimit`, naming the field)."""
    n = spec.numerics
    named = {"numerics.weight": n.weight, "numerics.activation": n.activation,
             "numerics.gradient": n.gradient}
    data = [(fmt.width, fmt.frac) for fmt in named.values()]
    data += [(n.fxp16_width, 0), (n.fxp16_width, 2 * n.fxp16_width), (2, 0)]
    consts = data + [(op.constants.width, op.constants.frac) for op in ops.ELEMENT
                     if op.constants is not None]
    fields = dict(data_width=max(w for w, _ in data), data_frac=max(f for _, f in data),
                  const_width=max(w for w, _ in consts), const_frac=max(f for _, f in consts),
                  const_int=max(0, max(w - f for w, f in consts)))
    fields["acc_frac"] = 2 * fields["data_frac"]
    for name, fmt in named.items():
        if fmt.width > WIDEST.data_width or fmt.frac > WIDEST.data_frac:
            raise HardwareLimit(f"{spec.name}: {name} (width {fmt.width}, frac {fmt.frac}) "
                                f"is beyond the widest vector lane ({WIDEST.data_width}-bit "
                                f"data, fracs up to {WIDEST.data_frac})")
    # (QAT's fracs up to 2 fxp16_width = the activation width: within the lane with it)
    return LaneLimits(**fields)


#: the memories that hold data values (parameters, optimizer state, gradients,
#: activations); ``smem`` holds constants, PRNG lanes and monitors; ``cmem`` datapath words
DATA_MEMORIES = ("wmem", "mmem", "vmem", "gmem", "amem")


def allowed_widths(limits: LaneLimits) -> dict[str, int]:
    """Per memory (but ``cmem``, which keeps datapath words): the width that holds every
    value a program within the vector lane's ``limits`` stores there (signed data
    formats up to ``data_width`` bits; in ``smem`` also the constants, unsigned up to
    ``const_width`` bits, and the PRNG lanes; an unsigned value takes one bit more,
    since reads sign-extend: :func:`~fixar_gen.memory_kinds.stored_width`).
    :func:`config_for` sizes the memories at least this wide, so that any program the
    lanes accept fits them (``fixar verify``'s random programs keep to it)."""
    out = {m: limits.data_width for m in DATA_MEMORIES}
    out["smem"] = max(limits.data_width, limits.const_width + 1,    # constants: unsigned
                      PRNG.width + (not PRNG.signed))
    return out


@functools.lru_cache(maxsize=16)
def _compiled(spec: Spec, per_core_memories: bool, precision: Precision = Precision()
              ) -> tuple[Program, ...]:
    """Every phase's program of ``spec`` at its batch in ``precision``
    (``per_core_memories``: compiled together with their transfers); compiled once for
    the sizes (:func:`config_for`), the lanes' functions and lane 0's."""
    if per_core_memories:
        return tuple(compile_programs(spec, list(_phases(spec)), precision,
                                      per_core_memories=True))
    return tuple(compile_program(spec, phase, precision, batch)
                 for phase, batch in _phases(spec))


def program_functions(program: Program) -> frozenset[str]:
    """The element functions ``program``'s instructions run."""
    return frozenset(f for f in map(element_op, program.code) if f is not None)


def _programs_both_precisions(spec: Spec):
    """The spec's programs (every phase, its own memories' layout) in FXP32 and in
    FXP16 (one 16-bit format for every activation): what the design built for its
    programs (``hardware.vector_functions: programs``) must run."""
    from ..estimate import fxp16_precision
    for precision in (Precision(), fxp16_precision(spec)):
        yield from _compiled(spec, spec.hardware.memories_per_core, precision)


@functools.lru_cache(maxsize=64)
def lane_functions(spec: Spec) -> tuple[str, ...] | None:
    """The element functions the spec's design builds its lanes with
    (``CoreConfig.functions``): None (every one) unless ``hardware.vector_functions`` is
    ``programs``, then those its programs use -- every phase, FXP32 and FXP16 (one
    16-bit format for every activation: which functions a program runs does not depend
    on the formats QAT chooses), in ``vector.ELEMENT_OPS`` order -- with the serial and
    folded ones, which lane 0 and the controller keep (``vector.lane_operations``)."""
    if spec.hardware.vector_functions == "all":
        return None
    used = set()
    for program in _programs_both_precisions(spec):
        used |= program_functions(program)
    return V.lane_operations(True, used)


#: the functions whose destination a vector lane reads (the element loop's operand d)
_READS_DST = frozenset(ops.names(reads_dst=True))


def operand_reads(program: Program) -> list[tuple[int, str, str, int]]:
    """The element loop's reads of ``program``'s buffers, as the generated core makes
    them (hw/core.py's element loop): (pc, read operand of :data:`ELEMENT_OPERANDS`,
    the instruction's field, buffer id or -1 for the host slot).  Operand ``a``: a
    vec's ``a``, a drain's ``acc``, a copy's source (a load's host slot, a store's
    ``src``, an xfer's ``buf``); ``b``: a vec's ``b``, a drain's ``bias``; ``d``: the
    ``dst`` of a vec whose function reads it (``range`` included); ``e``: a vec's
    ``e``, and ``range``'s ``dst`` (its max, at dst's base + 1) in its place.  Fields
    naming no buffer are not read."""
    out = []
    for pc, ins in enumerate(program.code):
        if isinstance(ins, Load):
            fields = [("a", "slot", -1)]
        elif isinstance(ins, Store):
            fields = [("a", "src", ins.src)]
        elif isinstance(ins, Xfer):
            fields = [("a", "buf", ins.buf)]
        elif isinstance(ins, Drain):
            fields = [("a", "acc", ins.acc), ("b", "bias", ins.bias)]
        elif isinstance(ins, Vector):
            fn = element_op(ins)
            folded = fn in FOLDED_FUNCTIONS
            fields = [("a", "a", ins.a), ("b", "b", ins.b)]
            if fn in _READS_DST:
                fields.append(("d", "dst", ins.dst))
            fields.append(("e", "dst", ins.dst) if folded else ("e", "e", ins.e))
        else:
            continue
        out += [(pc, x, name, i) for x, name, i in fields if i != NO_BUFFER]
    return out


def _read_memory(program: Program, index: int) -> str:
    """The memory of buffer ``index`` (-1: the host slots', ``amem``)."""
    return SLOT_MEMORY if index < 0 else memory_of(program.buffers[index])


def program_operand_memories(program: Program) -> dict[str, set[str]]:
    """{read operand of the element loop: the memories ``program`` reads it from}
    (:func:`operand_reads`; an operand it never reads is absent)."""
    out: dict[str, set[str]] = {}
    for _, x, _, index in operand_reads(program):
        out.setdefault(x, set()).add(_read_memory(program, index))
    return out


@functools.lru_cache(maxsize=64)
def operand_memories(spec: Spec) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
    """The memories each of the element loop's read operands chooses among in the
    spec's design (``CoreConfig.operand_memories``): None (every memory) unless
    ``hardware.vector_functions`` is ``programs``, then per operand of
    :data:`ELEMENT_OPERANDS` those the spec's programs read it from -- every phase,
    FXP32 and FXP16, as :func:`lane_functions` -- in ``MEMORIES`` order (an operand no
    program reads: none)."""
    if spec.hardware.vector_functions == "all":
        return None
    used: dict[str, set[str]] = {x: set() for x in ELEMENT_OPERANDS}
    for program in _programs_both_precisions(spec):
        for x, named in program_operand_memories(program).items():
            used[x] |= named
    return tuple((x, tuple(m for m in MEMORIES if m in used[x])) for x in ELEMENT_OPERANDS)


#: the share of each of the spec's programs' cycles (summed over its cores) that the
#: functions built into lane 0 only may add, issued one element a step
#: (:func:`lane0_functions`)
LANE0_SHARE = 0.005


@functools.lru_cache(maxsize=64)
def lane0_functions(spec: Spec) -> tuple[str, ...]:
    """The functions of :func:`lane_functions` the design builds into lane 0 only,
    issued one element a step there, pipelined (``CoreConfig.lane0_functions``): with
    ``hardware.vector_functions: programs`` and more than one lane, those whose
    instructions in the spec's programs (every phase, FXP32) are narrow enough that one
    lane adds at most :data:`LANE0_SHARE` of each program's cycles (on the RTL's cycle
    model, summed over the cores), taken cheapest first -- a one-column instruction
    (the critic's output) costs nothing, the actor's tanh output over 6 columns a few
    steps a row, a hidden layer's drain ``cols / lanes`` times its steps (never).  In
    ``vector.ELEMENT_OPS`` order."""
    functions = lane_functions(spec)
    hw = spec.hardware
    if functions is None or hw.lanes == 1:
        return ()
    candidates = V.lane_operations(False, functions)
    extra: dict[str, list[int]] = {f: [] for f in candidates}
    totals = []
    for program in _compiled(spec, False):
        total, added = 0, dict.fromkeys(candidates, 0)
        for ins in program.code:
            lines = extra_lines(ins, program)
            cycles = execution_cycles(ins, hw.rows, hw.cols, hw.lanes, lines)[1]
            total += cycles
            fn = element_op(ins)
            if fn in added:
                added[fn] += execution_cycles(ins, hw.rows, hw.cols, hw.lanes, lines,
                                              one_lane=(fn,))[1] - cycles
        totals.append(total)
        for f in candidates:
            extra[f].append(added[f])
    chosen, spent = [], [0] * len(totals)
    for f in sorted(candidates, key=lambda f: (max(e / t for e, t in zip(extra[f], totals)),
                                               candidates.index(f))):
        if all(s + e <= LANE0_SHARE * t for s, e, t in zip(spent, extra[f], totals)):
            chosen.append(f)
            spent = [s + e for s, e in zip(spent, extra[f])]
    return tuple(f for f in V.ELEMENT_OPS if f in chosen)


def _program_sizes(spec: Spec, per_core_memories: bool = False
                   ) -> tuple[dict[str, tuple[int, int]], int, int, int]:
    """(per memory (words, width), instructions per core + 1, buffers, slots) the spec's
    programs need: every phase at the spec's batch, FXP32 (``per_core_memories``: the
    programs with their transfers, compiled together, each memory's words the most
    any core's copy needs: ``Program.copies``)."""
    need: dict[str, tuple[int, int]] = {}
    code = 0
    n_buffers = n_slots = 1
    compiled = _compiled(spec, per_core_memories)
    for program in compiled:
        for m in program.placement.memories:               # slots included (amem)
            words, bits = need.get(m.name, (0, 1))
            need[m.name] = (max(words, m.words), max(bits, m.width))
    if per_core_memories:       # every copy as deep as the deepest core's copy needs
        from ..percore_placement import machine_depths
        need = {m: (words, need[m][1]) for m, words in machine_depths(compiled).items()}
    for program in compiled:
        per_core = max(sum(1 for i in program.code if i.core == c)
                       for c in range(program.cores))
        code = max(code, per_core + 1)
        n_buffers = max(n_buffers, len(program.buffers))
        n_slots = max(n_slots, len(program.slots))
    return need, code, n_buffers, n_slots


def words_needed(spec: Spec, per_core_memories: bool | None = None) -> dict[str, int]:
    """Per memory: the words the spec's programs need there (placed buffers; the host
    slots in ``amem``; ``per_core_memories``, default the spec's
    ``hardware.per_core_memories``: the programs with their transfers, each copy's)."""
    if per_core_memories is None:
        per_core_memories = spec.hardware.memories_per_core
    return {m: words for m, (words, _) in _program_sizes(spec, per_core_memories)[0].items()}


def random_program_words(spec: Spec) -> int:
    """Words one memory may take in a random program for ``spec``'s hardware
    (:func:`fixar_gen.programs.programs`, whose buffers are at most ``2 max(R, C, L)
    + 4`` on a side, L the vector lanes; it drops a program that takes more): the
    simulated designs of :func:`fixar_gen.hw.session.open_machine` have memories at
    least this deep, so
    that ``fixar verify`` runs its random programs on them."""
    hw = spec.hardware
    side = 2 * max(hw.rows, hw.cols, hw.lanes) + 4
    return 16 * side * side


def config_for(spec: Spec, memory_words: int | None = None, name: str | None = None,
               min_words: int = 0, tails: bool = True,
               per_core_memories: bool | None = None) -> CoreConfig:
    """The generator's sizes for ``spec``: one data memory per memory of the placement
    (:mod:`fixar_gen.placement`), deep enough for the placed buffers (and, in
    ``amem``, the host slots) of every phase's program (FXP32, the spec's batch),
    rounded up to a power of two or to half of one plus a smaller one (two RAMs:
    :func:`~fixar_gen.hw.data_memories.fitted_shape`), and as wide as the widest value
    stored there and at
    least :func:`allowed_widths` (``cmem``: the datapath word).  ``memory_words``
    overrides every memory's depth (a trial size for synthesis; smaller than
    :func:`words_needed`, the design cannot run the spec's programs); ``min_words``
    deepens every memory to at least that many words (the simulated designs that also
    run random programs: :func:`random_program_words`); without ``tails`` every memory
    is one RAM of a power of two (fewer memory ports to simulate);
    ``per_core_memories``: each core its copy of the memories
    (``CoreConfig.per_core_memories``), sized for the programs with their transfers
    (every copy as deep as the deepest core's copy needs, each holding its core's rows:
    :mod:`fixar_gen.percore_placement`); None (the default): the spec's
    ``hardware.per_core_memories`` (on more than one core:
    :attr:`~fixar_gen.spec.HardwareSpec.memories_per_core`)."""
    if per_core_memories is None:
        per_core_memories = spec.hardware.memories_per_core
    need, code, n_buffers, n_slots = _program_sizes(spec, per_core_memories)
    pe = pe_widths(spec)
    word = word_bits(pe)
    lane = lane_limits(spec)
    allowed = allowed_widths(lane)
    shapes = []
    for mem in MEMORIES:
        words, bits = need.get(mem, (1, 1))
        words = memory_words or max(words, min_words)
        if words > MAX_SCRATCHPAD_WORDS:
            raise HardwareLimit(f"{spec.name}: the programs need {words:,} words in data "
                                f"memory {mem} (placed buffers and host slots); at most "
                                f"{MAX_SCRATCHPAD_WORDS:,} words are generated (smaller "
                                "networks or batch)")
        width = word if mem == "cmem" else min(word, max(bits, allowed.get(mem, 1)))
        shapes.append(fitted_shape(mem, width, words, tails))
    hw = spec.hardware
    cfg = CoreConfig(
        name=name or "fixar_core", cores=hw.cores, rows=hw.rows, cols=hw.cols, pe=pe,
        word=word, addr_bits=max(s.addr_bits for s in shapes), imem_bits=_bits_for(2 * code),
        buffer_bits=_bits_for(n_buffers + 1), slot_bits=_bits_for(n_slots + 1),
        acc_overflow=spec.numerics.overflow, lanes=hw.lanes, lane=lane,
        memories=tuple(shapes), per_core_memories=per_core_memories,
        functions=lane_functions(spec), lane0_functions=lane0_functions(spec),
        operand_memories=operand_memories(spec))
    return with_memories(cfg, shapes)


def with_memories(cfg: CoreConfig, shapes) -> CoreConfig:
    """``cfg`` with the data memories ``shapes`` (one per memory, in order) and the
    address bits of the deepest, each bank's tail of more than 2 Kbit deepened into block
    RAM, not LUT RAM (:func:`~fixar_gen.hw.data_memories.tail_in_block_ram`,
    docs/hardware.md)."""
    cfg = replace(cfg, memories=tuple(shapes), addr_bits=max(s.addr_bits for s in shapes))
    return replace(cfg, memories=tuple(tail_in_block_ram(s, cfg.memory_banks(s.name))
                                       for s in shapes))


def transfer_problems(program: Program) -> list[str]:
    """Why the ``xfer`` of ``program`` cannot run on per-core memories: between two
    barriers (each core's k-th), a core that receives words runs nothing but ``xfer``
    and ``halt`` (its copy's write port is the link's then), and takes them from one
    sender (the receiver's port takes one line a cycle)."""
    problems = []
    intervals: dict[int, dict[int, list]] = {}        # interval -> core -> instructions
    seen = [0] * max(program.cores, 1)
    for ins in program.code:
        if isinstance(ins, Barrier):
            seen[ins.core] += 1
            continue
        intervals.setdefault(seen[ins.core], {}).setdefault(ins.core, []).append(ins)
    for k, by_core in sorted(intervals.items()):
        senders: dict[int, set] = {}
        for c, code in by_core.items():
            for ins in code:
                if isinstance(ins, Xfer):
                    for r in range(program.cores):
                        if r != c and ins.to >> r & 1:
                            senders.setdefault(r, set()).add(c)
        for r, who in sorted(senders.items()):
            if len(who) > 1:
                problems.append(f"cores {sorted(who)} send words to core {r} between the "
                                f"same barriers (one sender a receiver)")
            busy = [i for i in by_core.get(r, []) if not isinstance(i, (Xfer, Halt))]
            if busy:
                problems.append(f"core {r} runs {busy[0].MNEMONIC} between the barriers "
                                "where it receives an xfer (its memories' write ports "
                                "are the link's then)")
    return problems


def hardware_limits(program: Program, cfg: CoreConfig) -> list[str]:
    """Why ``program`` cannot run on a core of ``cfg`` (empty when it can)."""
    problems = []
    if program.cores > cfg.cores:
        problems.append(f"program uses {program.cores} cores, the design has {cfg.cores}")
    transfers = [i for i in program.code if type(i) in TRANSFER_INSTRUCTIONS]
    if transfers and not cfg.per_core_memories:
        # the controller would take an unknown opcode for a halt
        problems.append(f"program has {len(transfers)} {transfers[0].MNEMONIC} "
                        "instruction(s) (per-core memories' transfers): the generated "
                        "RTL's cores share their memories and do not execute them")
    elif transfers:
        problems += transfer_problems(program)
    if len(program.buffers) >= 1 << cfg.buffer_bits:
        problems.append(f"{len(program.buffers)} buffers, the descriptor table holds "
                        f"{(1 << cfg.buffer_bits) - 1}")
    if len(program.slots) > 1 << cfg.slot_bits:
        problems.append(f"{len(program.slots)} host slots, the slot table holds "
                        f"{1 << cfg.slot_bits}")
    placement = program.placement or place(program, share=False, acc_half=cfg.acc_half)
    problems += access_problems(program, cfg.acc_half, cfg.rows)
    if cfg.per_core_memories:       # each core's copy (percore_placement)
        from ..percore_placement import copies_of
        for c, copy in enumerate(copies_of(program, cfg.acc_half).copies):
            problems += [f"core {c}'s copy: {p}" for p in
                         memory_room(copy.placement, cfg)
                         + acc_half_problems(program, copy.placement, cfg.acc_half)]
    else:
        problems += memory_room(placement, cfg)
        problems += acc_half_problems(program, placement, cfg.acc_half)
    for c in range(program.cores):
        count = sum(1 for i in program.code if i.core == c) + 1
        if count > 1 << cfg.imem_bits:
            problems.append(f"core {c} runs {count} instructions, its instruction memory "
                            f"holds {1 << cfg.imem_bits}")
    problems += program_limits(program, cfg.pe, cfg.word, cfg.lane)
    problems += function_problems(program, cfg.functions)
    problems += operand_memory_problems(program, cfg.operand_memories)
    if cfg.lanes > 1:
        problems += smem_problems(program, cfg.lane0_functions)
    return problems


def smem_problems(program: Program, lane0_functions=()) -> list[str]:
    """Why a design of more than one lane cannot run ``program``'s element loop on
    its unbanked memory (``smem``: constants, PRNG states, monitors), which has read and
    write ports for lane 0 alone (the other lanes take lane 0's word:
    ``DataMemories.read_lanes``): an instruction that issues several elements a step
    with an ``smem`` operand that is not broadcast to every lane (one column, read the
    same by every lane), or that writes ``smem`` across lanes.  The constants (``c``, a
    drain's slope) have reads of their own; serial, folded and lane-0 functions issue
    one element a step."""
    one_at_a_time = set(SERIAL_FUNCTIONS) | set(FOLDED_FUNCTIONS) | set(lane0_functions)
    unbroadcast_e = set(ops.with_operand("e", layout="unbroadcast"))
    problems = []
    for pc, ins in enumerate(program.code):
        if not isinstance(ins, (Load, Store, Drain, Vector)) or ins.cols.count <= 1:
            continue
        fn = element_op(ins)
        if fn in one_at_a_time:
            continue
        for slot in ("dst", "src", "acc", "bias", "a", "b", "e"):
            index = getattr(ins, slot, NO_BUFFER)
            if index == NO_BUFFER or memory_of(program.buffers[index]) != "smem":
                continue
            buf = program.buffers[index]
            broadcast = (slot not in ("dst", "src") and buf.cols == 1
                         and not isinstance(ins, (Load, Store))
                         and not (slot == "e" and fn in unbroadcast_e))
            if not broadcast:
                problems.append(f"instruction {pc}: {ins.MNEMONIC}'s {slot} "
                                f"({buf.name}) is in smem across {ins.cols.count} "
                                "columns: this design has smem ports for lane 0 alone "
                                "(an smem operand must be one column, read by every "
                                "lane the same)")
    return problems


def function_problems(program: Program, functions: tuple[str, ...] | None) -> list[str]:
    """Why lanes built with ``functions`` (``CoreConfig.functions``; None: every one)
    cannot run ``program``: the instructions whose function they lack."""
    if functions is None:
        return []
    have = V.lane_operations(True, functions)
    problems = []
    for pc, ins in enumerate(program.code):
        fn = element_op(ins)
        if fn is not None and fn not in have:
            problems.append(f"instruction {pc}: {ins.MNEMONIC} runs {fn}, which this "
                            f"design's vector lanes are not built with "
                            f"(hardware.vector_functions: programs; they run "
                            f"{', '.join(have)})")
    return problems


def operand_memory_problems(program: Program, memories) -> list[str]:
    """Why an element loop whose read operands choose among ``memories``
    (``CoreConfig.operand_memories``, :func:`operand_memories`; None: every memory)
    cannot run ``program``: the instructions that read an operand from another memory
    (the core would read another memory's word)."""
    if memories is None:
        return []
    problems = []
    for pc, x, name, index in operand_reads(program):
        mem = _read_memory(program, index)
        have = operand_memory_set(memories, x)
        if mem not in have:
            ins = program.code[pc]
            what = (program.slots[ins.slot].name if ins.slot < len(program.slots)
                    else f"slot {ins.slot}") if index < 0 else program.buffers[index].name
            problems.append(f"instruction {pc}: {ins.MNEMONIC}'s {name} ({what}) is in "
                            f"{mem}: this design's lanes read operand {x} from "
                            f"{', '.join(have) or 'no memory'} only "
                            "(hardware.vector_functions: programs)")
    return problems


def memory_room(placement: Placement, cfg: CoreConfig) -> list[str]:
    """Why the data memories of ``cfg`` cannot hold ``placement`` (empty when they
    can): a memory with more words than its depth, or narrower than a value stored in
    it (it would lose the value's top bits)."""
    problems = []
    for m in placement.memories:
        shape = cfg.memory(m.name)
        if m.words > shape.depth:
            problems.append(f"memory {m.name} ({shape.depth:,} words) is too small: the "
                            f"program's buffers and host slots there need {m.words:,}")
        width = cfg.word if m.word_wide else m.width
        if width > shape.width:
            problems.append(f"memory {m.name} stores {shape.width}-bit words: a value of "
                            f"the program there needs {width} bits")
    return problems


def program_limits(program: Program, pe: PEWidths, word: int,
                   lane: LaneLimits = WIDEST) -> list[str]:
    """Why the datapaths (PE array, vector lane generated for ``lane``) of a core with
    these widths cannot compute ``program`` exactly (empty when they can)."""
    problems = []
    for b in program.buffers:
        if b.wide and not 2 <= b.acc_bits < word:
            problems.append(f"accumulator {b.name} of {b.acc_bits} bits does not fit the "
                            f"{word}-bit memory word")
    fmts = [b.fmt for b in program.buffers]
    for pc, ins in enumerate(program.code):
        if isinstance(ins, MatMul):
            a, b = program.buffers[ins.a], program.buffers[ins.b]
            limit_a = pe.half if ins.mode == 1 else 2 * pe.half
            if not a.fmt.signed or a.fmt.width > limit_a:
                problems.append(f"instruction {pc}: mm streams {a.name} ({a.fmt}), the PE "
                                f"takes signed words of at most {limit_a} bits in this mode")
            if not b.fmt.signed or b.fmt.width > pe.weight:
                problems.append(f"instruction {pc}: mm holds {b.name} ({b.fmt}) stationary, "
                                f"the PE takes signed values of at most {pe.weight} bits")
            continue
        op = element_op(ins)
        if isinstance(ins, Drain):
            roles = {"a": ins.acc, "b": ins.bias, "c": ins.slope, "d": ins.dst}
        elif isinstance(ins, Vector):
            roles = {"a": ins.a, "b": ins.b, "c": ins.c, "d": ins.dst, "e": ins.e}
        else:
            continue
        given = {f"fmt_{role}": fmts[i] for role, i in roles.items()
                 if i != NO_BUFFER and role in V.OPERAND_ROLES[op]}
        if "pre" in V.OPERAND_ROLES[op]:
            given["fmt_pre"] = program.pre_format
        acc_bits = (program.buffers[ins.dst].acc_bits
                    if V.OPERAND_ROLES[op]["d"] == "acc" else None)
        try:
            V.check_supported(op, word=word, acc_bits=acc_bits, limits=lane, **given)
        except ValueError as exc:
            problems.append(f"instruction {pc}: {exc}")
    return problems
