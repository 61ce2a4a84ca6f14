"""Every vector function and drain activation of the instruction set, each declared once
(:class:`~fixar_gen.ops.declare.Operation`, one small module per family).

Derived from these declarations: the instruction set's function and activation lists and
their numbering (``isa.VECTOR_FUNCTIONS``, ``isa.ACTIVATIONS``, pinned by a test), the
semantics table of docs/isa.md, the golden model's and the engine's dispatch, the vector
lane's operation list and operand roles, the core's serial and folded functions, the
cycle models' latencies and units, the placement's read/write sets, the random-program
generator's operands and docs/hardware.md's operation table.  The lane's datapath plan of
each operation is declared beside it in :mod:`fixar_gen.hw.lane_plans`.  How to add an
operation: docs/adding-an-operation.md.
"""

from __future__ import annotations

from . import arith, backprop, drain, explore, link, optim
from .declare import (COEFF, NOISE, PRNG, RATE, SCALE, SLOPE, UNIT, Operand,  # noqa: F401
                      Operation)

FAMILIES = (arith, backprop, optim, explore, link)


def _numbered(operations, what: str) -> tuple[Operation, ...]:
    ordered = tuple(sorted(operations, key=lambda op: op.number))
    numbers = [op.number for op in ordered]
    if numbers != list(range(len(ordered))):
        raise ValueError(f"{what} numbers must be 0..{len(ordered) - 1}, each once: {numbers}")
    names = [op.name for op in ordered]
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: a name is declared twice: {names}")
    return ordered


#: the vector functions, by ``Vector.fn``
VECTOR: tuple[Operation, ...] = _numbered(
    [op for family in FAMILIES for op in family.OPERATIONS], "vector function")
#: the drain activations, by ``Drain.act``
DRAIN: tuple[Operation, ...] = _numbered(drain.OPERATIONS, "drain activation")
#: every element operation of the lane: the vector functions, then the drains
ELEMENT: tuple[Operation, ...] = VECTOR + DRAIN
BY_NAME: dict[str, Operation] = {op.name: op for op in ELEMENT}


def names(operations=VECTOR, **where) -> tuple[str, ...]:
    """Names of the operations whose fields equal ``where`` (e.g. ``issue="serial"``)."""
    return tuple(op.name for op in operations
                 if all(getattr(op, k) == v for k, v in where.items()))


def with_operand(role: str, operations=VECTOR, **where) -> tuple[str, ...]:
    """Names of the operations whose operand ``role`` has these fields (e.g.
    ``with_operand("b", kind="prng")``)."""
    return tuple(op.name for op in operations if role in op.operands
                 and all(getattr(op.operands[role], k) == v for k, v in where.items()))


def writing(role: str, operations=VECTOR) -> tuple[str, ...]:
    """Names of the operations that also write operand ``role`` (b: the PRNG lanes, e:
    the OU state)."""
    return tuple(op.name for op in operations if role in op.writes)
