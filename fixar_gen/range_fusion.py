"""Which ``range`` monitors run folded into the drain right before them: a rule about a
program's order, shared by the generated RTL (its controller and its cycle model,
:mod:`fixar_gen.hw.core`) and the target schedule (:mod:`fixar_gen.perf`).

A drain folds its results' minimum and maximum as it writes them (the RTL's write-back
folds); a ``range`` right after it on the same core, over the drain's destination and
exactly its region, folds those into its monitor in one step, the values the whole
region would give.  The instruction set and the golden model do not change: the range
means what it always meant."""

from __future__ import annotations

from . import ops
from .isa import VECTOR_FUNCTIONS, Drain, Program, Vector

#: the vector functions that fold a region into a monitor (``range``)
FOLDED_FUNCTIONS = ops.names(issue="folded")


def fused_ranges(program: Program) -> frozenset[int]:
    """The pcs of the ``range`` instructions that run as one step: each right after a
    ``drain`` of the same core (the core's previous instruction) whose destination and
    region (rows, cols) are the range's operand and region."""
    fused, previous = set(), {}
    for pc, instr in enumerate(program.code):
        before = previous.get(instr.core)
        if (isinstance(instr, Vector) and VECTOR_FUNCTIONS[instr.fn] in FOLDED_FUNCTIONS
                and isinstance(before, Drain) and before.dst == instr.a
                and before.rows == instr.rows and before.cols == instr.cols):
            fused.add(pc)
        previous[instr.core] = instr
    return frozenset(fused)
