"""Which memories each unit of the core may reach, checked on a program: the matrix
unit only the memories :data:`~fixar_gen.memory_kinds.MATRIX_MEMORIES` names per
operand, and a step of the element loop at most one line read and one line write of
each banked memory (:data:`~fixar_gen.memory_kinds.BANKED_MEMORIES`, one line port of
each a core), and an FXP16 product's accumulator a row stride that puts rows m and
m + 1 into the two halves of ``cmem``'s banks (:func:`~fixar_gen.memory_kinds.
accumulator_stride`), and a matrix the matrix unit reads transposed from ``wmem`` a row
stride that is odd (:func:`~fixar_gen.memory_kinds.weight_stride`), and a delta in
``gmem`` is read by the matrix unit as plain lines only (``a`` in FXP32 not transposed,
``b`` not transposed), and an activation the matrix unit reads as ``a`` from ``amem`` a
row stride at which the words of its read (the line, FXP16's row pair, ``ta``'s column
or FXP16's column pair: :func:`~fixar_gen.memory_kinds.activation_reads`) lie in
distinct banks of ``amem``'s 4P (:func:`~fixar_gen.memory_kinds.activation_stride`),
and a step reads
two lines of ``cmem`` or ``wmem`` only as a pair (dst and a, :func:`pair_memory`, in
opposite halves of the banks: :func:`acc_half_problems`).  The core is wired for
exactly this (:mod:`fixar_gen.hw.core`); the compiler's programs keep to it (it refuses
one that does not), and so do the random programs of ``fixar verify``.
"""

from __future__ import annotations

from collections import Counter

from . import ops
from .isa import (ACTIVATIONS, MODES, NO_BUFFER, VECTOR_FUNCTIONS, Drain, Load, MatMul,
                  Program, Store, Vector)
from .memory_kinds import (ACTIVATION_MEMORY, BANKED_MEMORIES, DELTA_MEMORY,
                           MATRIX_MEMORIES, PAIRED_MEMORIES, SLOT_MEMORY, WEIGHT_MEMORY,
                           accumulator_stride, activation_banks, activation_read,
                           activation_reads, activation_stride, memory_of, shares_banks,
                           weight_stride)

_READS_DST = set(ops.names(reads_dst=True))
_WRITES_B = set(ops.writing("b"))
_WRITES_E = set(ops.writing("e"))
_FOLDED = set(ops.names(issue="folded"))


def step_accesses(ins, program: Program, memory=memory_of) -> tuple[Counter, Counter]:
    """(reads, writes) one step of an element instruction makes, per memory: a line per
    operand read (the constants operand c: two words, c[0] and c[1]), a line per
    operand written (``range`` writes its monitor's min and max as two).  ``memory``:
    the memory of a buffer (another placement's rule, to count what it would meet)."""
    mem = lambda i: memory(program.buffers[i])     # noqa: E731
    reads, writes = Counter(), Counter()
    if isinstance(ins, Load):
        reads[SLOT_MEMORY] += 1
        writes[mem(ins.dst)] += 1
    elif isinstance(ins, Store):
        reads[mem(ins.src)] += 1
        writes[SLOT_MEMORY] += 1
    elif isinstance(ins, Drain):
        for i in (ins.acc, ins.bias):
            if i != NO_BUFFER:
                reads[mem(i)] += 1
        if ins.slope != NO_BUFFER:
            reads[mem(ins.slope)] += 2
        writes[mem(ins.dst)] += 1
    elif isinstance(ins, Vector):
        fn = VECTOR_FUNCTIONS[ins.fn]
        for i in (ins.a, ins.b, ins.e):
            if i != NO_BUFFER:
                reads[mem(i)] += 1
        if ins.c != NO_BUFFER:
            reads[mem(ins.c)] += 2
        if fn in _READS_DST:
            reads[mem(ins.dst)] += 2 if fn in _FOLDED else 1
        writes[mem(ins.dst)] += 2 if fn in _FOLDED else 1
        if fn in _WRITES_B and ins.b != NO_BUFFER:
            writes[mem(ins.b)] += 1
        if fn in _WRITES_E and ins.e != NO_BUFFER:
            writes[mem(ins.e)] += 1
    return reads, writes


def access_problems(program: Program, acc_half: int | None = None,
                    rows: int | None = None) -> list[str]:
    """Why the core's units cannot reach the memories ``program`` names (empty when they
    can).  ``acc_half``: H of the core's ``cmem`` (:func:`~fixar_gen.memory_kinds.
    accumulator_half_line`), to check the row strides of FXP16 products' accumulators
    and of the weights read transposed; ``rows`` (with ``acc_half``): the array's rows R,
    to check the row strides of the activations read as ``a`` from ``amem``'s 4P banks
    (P: the larger of H and R rounded up to a power of two)."""
    problems = []
    for pc, ins in enumerate(program.code):
        if isinstance(ins, MatMul):
            a = program.buffers[ins.a]
            if acc_half and rows and memory_of(a) == ACTIVATION_MEMORY:
                banks = activation_banks(rows, acc_half)
                how = activation_read(MODES[ins.mode] == "fxp16", bool(ins.ta))
                if shares_banks(activation_reads(a.cols, rows)[how], banks):
                    problems.append(f"instruction {pc}: mm reads a {a.name} ({how}) from "
                                    f"{ACTIVATION_MEMORY} with a row stride of {a.cols} "
                                    f"words; its words share {ACTIVATION_MEMORY}'s {banks} "
                                    f"banks (pad it to "
                                    f"{activation_stride(a.cols, banks, rows)} columns)")
            dst = program.buffers[ins.dst]
            if acc_half and MODES[ins.mode] == "fxp16" \
                    and accumulator_stride(dst.cols, acc_half) != dst.cols:
                problems.append(f"instruction {pc}: fxp16 mm's dst {dst.name} has a row stride "
                                f"of {dst.cols} words; rows m and m + 1 share cmem's banks "
                                f"unless it is {acc_half} mod {2 * acc_half} (pad it to "
                                f"{accumulator_stride(dst.cols, acc_half)} columns)")
            b = program.buffers[ins.b]
            if acc_half and ins.tb and memory_of(b) == WEIGHT_MEMORY \
                    and weight_stride(b.cols, 2 * acc_half) != b.cols:
                problems.append(f"instruction {pc}: mm reads b {b.name} transposed from "
                                f"{WEIGHT_MEMORY} with a row stride of {b.cols} words; its "
                                f"column is one strided line of {WEIGHT_MEMORY}'s "
                                f"{2 * acc_half} banks only when the stride is odd (pad "
                                f"it to {weight_stride(b.cols, 2 * acc_half)} columns)")
            if memory_of(a) == DELTA_MEMORY and (ins.ta or MODES[ins.mode] == "fxp16"):
                how = "transposed" if ins.ta else "in fxp16"
                problems.append(f"instruction {pc}: mm reads a {a.name} {how} from "
                                f"{DELTA_MEMORY}; the matrix unit reads {DELTA_MEMORY}'s "
                                "banks as plain lines only (fxp32, not transposed)")
            if memory_of(a) == DELTA_MEMORY == memory_of(b):
                problems.append(f"instruction {pc}: mm reads a {a.name} and b {b.name} both "
                                f"from {DELTA_MEMORY}; its banks serve the matrix unit one "
                                "line a cycle (place one of them in another memory)")
            if memory_of(b) == DELTA_MEMORY and ins.tb:
                problems.append(f"instruction {pc}: mm reads b {b.name} transposed from "
                                f"{DELTA_MEMORY}; the matrix unit reads {DELTA_MEMORY}'s "
                                "banks as plain lines only (rows of b)")
            for role, i in (("a", ins.a), ("b", ins.b), ("dst", ins.dst)):
                m = memory_of(program.buffers[i])
                if m not in MATRIX_MEMORIES[role]:
                    problems.append(f"instruction {pc}: mm's {role} {program.buffers[i].name} "
                                    f"lives in {m}; the matrix unit reaches "
                                    f"{' or '.join(MATRIX_MEMORIES[role])} there")
            continue
        if not isinstance(ins, (Load, Store, Drain, Vector)):
            continue
        reads, writes = step_accesses(ins, program)
        what = (f"drain {ACTIVATIONS[ins.act]}" if isinstance(ins, Drain) else
                f"vec {VECTOR_FUNCTIONS[ins.fn]}" if isinstance(ins, Vector) else
                type(ins).__name__.lower())
        # amem: one line read a cycle, so a vec or drain step reading more of its lines
        # takes a cycle more for each (charged: extra_lines); its constants (two words)
        # and the steps of the other units read at most one line; one line written
        m = ACTIVATION_MEMORY
        if reads[m] > 1 and not charged(ins) or writes[m] > 1 or \
                _constants_in(ins, program, m):
            problems.append(f"instruction {pc}: {what} reads {reads[m]} and writes "
                            f"{writes[m]} operand lines of {m} a step; its banks serve "
                            "one read and one write line a cycle (only a vec or drain "
                            "step reads more, a cycle each; its constants are not read "
                            f"from {m})")
        for m in BANKED_MEMORIES:
            for count, verb in ((reads[m], "reads"), (writes[m], "writes")):
                if count > 1:
                    problems.append(f"instruction {pc}: {what} {verb} {count} operand lines "
                                    f"of {m} a step; its banks serve one read and one write "
                                    "line a cycle (place the operands in other memories)")
        # cmem and wmem: a double line read (a pair: dst and a, in opposite halves --
        # acc_add's partial sums, soft_update's target and parameter: checked on the
        # placement by acc_half_problems) and one line written a step
        for m in PAIRED_MEMORIES:
            if writes[m] > 1 or reads[m] > 2 or \
                    (reads[m] == 2 and pair_memory(ins, program) != m):
                problems.append(f"instruction {pc}: {what} reads {reads[m]} and writes "
                                f"{writes[m]} operand lines of {m} a step; its banks serve "
                                "one line written and one read (two half lines: an update's "
                                "dst and a) a cycle")
    return problems


_PIPELINED = set(ops.names(issue="pipelined"))


def charged(ins) -> bool:
    """Whether a step of ``ins`` may read more than one line of ``amem`` (a cycle a
    line: :func:`extra_lines`): a ``drain`` or a pipelined ``vec`` (not the serial
    functions, nor ``range``, nor a copy)."""
    return isinstance(ins, Drain) or \
        isinstance(ins, Vector) and VECTOR_FUNCTIONS[ins.fn] in _PIPELINED


def _constants_in(ins, program: Program, memory: str, memory_rule=memory_of) -> bool:
    """Whether ``ins`` reads its constants operand (a vec's c, a drain's slope: two
    words read word by word) from ``memory``."""
    c = ins.slope if isinstance(ins, Drain) else ins.c if isinstance(ins, Vector) \
        else NO_BUFFER
    return c != NO_BUFFER and memory_rule(program.buffers[c]) == memory


def extra_lines(ins, program: Program, memory=memory_of) -> int:
    """The cycles a step of ``ins`` takes beyond one: a line of ``amem`` it reads
    beyond the first (``amem``'s banks serve one read line a cycle; the element loop
    reads the others in the cycles before the step's issue).  Zero for what is not
    :func:`charged`."""
    if not charged(ins):
        return 0
    reads, _ = step_accesses(ins, program, memory)
    # (the constants' two words are not amem lines: a program reading them there is
    # refused)
    lines = reads[ACTIVATION_MEMORY] - 2 * _constants_in(ins, program, ACTIVATION_MEMORY,
                                                         memory)
    return max(0, lines - 1)


_READS_DST_IDS = {VECTOR_FUNCTIONS.index(f) for f in _READS_DST}
_FOLDED_IDS = {VECTOR_FUNCTIONS.index(f) for f in _FOLDED}


def pair_memory(ins, program: Program) -> str | None:
    """The memory of 2H banks (``PAIRED_MEMORIES``) from which ``ins`` reads a pair --
    an update that reads its dst and its a there (acc_add's partial sums, soft_update's
    target and parameter), as the two half lines of one double line -- or None."""
    if not isinstance(ins, Vector) or ins.a == NO_BUFFER \
            or ins.fn not in _READS_DST_IDS or ins.fn in _FOLDED_IDS:
        return None
    m = memory_of(program.buffers[ins.dst])
    if m in PAIRED_MEMORIES and memory_of(program.buffers[ins.a]) == m:
        return m
    return None


def acc_half_problems(program: Program, placement, acc_half: int) -> list[str]:
    """Why ``placement`` (:class:`~fixar_gen.placement.Placement`) does not let the
    double line of ``cmem`` or ``wmem`` serve each pair of ``program`` (acc_add,
    soft_update: :func:`pair_memory`) in one cycle: every step's lines of dst and a
    must start H = ``acc_half`` apart mod 2H (the placement's halves, strides equal mod
    2H)."""
    problems = []
    span = 2 * acc_half
    for pc, ins in enumerate(program.code):
        mem = pair_memory(ins, program)
        if mem is None:
            continue
        d, a = program.buffers[ins.dst], program.buffers[ins.a]
        pd, pa = placement.buffers[ins.dst], placement.buffers[ins.a]
        first = (pa.offset + ins.rows.start * a.cols + ins.src_col) \
            - (pd.offset + ins.rows.start * d.cols + ins.cols.start)
        drift = 0 if ins.rows.count <= 1 else (a.cols - d.cols) % span
        if first % span != acc_half or drift:
            problems.append(f"instruction {pc}: {VECTOR_FUNCTIONS[ins.fn]}'s dst {d.name} "
                            f"and a {a.name} are read in one step from {mem}'s {span} banks, "
                            "so their lines must "
                            f"start {acc_half} apart mod {span}; they start {first % span} "
                            f"apart" + (f", and their strides {d.cols} and {a.cols} differ "
                                        f"by {a.cols - d.cols}" if drift else ""))
    return problems
