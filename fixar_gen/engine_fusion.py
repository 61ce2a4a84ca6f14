"""Fusion passes of the golden model's execution engine (:mod:`fixar_gen.engine`): which
consecutive steps of a compiled plan may run as one kernel without changing a bit.

A pass only finds groups; the engine builds each group's kernel and falls back to the
group's own steps, one by one, whenever the fused kernel's bounds do not hold.  Each
pass is a pure function of the instructions, testable alone.

- :func:`adam_groups`: ``adam_m``, ``adam_s``, ``adam_w`` of one parameter (the same
  whole-buffer region, m and s read by adam_w being what adam_m and adam_s wrote, one
  gradient for both moments, no buffer shared otherwise).  Every result of the three is
  element-wise, so computing the three per element gives what the three instructions
  give in program order.
"""

from __future__ import annotations

from typing import NamedTuple

from . import isa
from .isa import NO_BUFFER, Vector


class Fused(NamedTuple):
    """Steps run as one kernel: ``kind`` names the fusion, ``parts`` the (pc, kernel,
    instruction) steps it replaces, in program order."""

    kind: str
    parts: tuple


def _fn(instr) -> str | None:
    return isa.VECTOR_FUNCTIONS[instr.fn] if isinstance(instr, Vector) else None


def _whole(instr: Vector, table) -> bool:
    """The instruction covers its destination buffer, and every operand it names has
    the destination's shape (no broadcast row or column)."""
    d = table[instr.dst]
    if (instr.rows.start, instr.rows.count, instr.cols.start, instr.cols.count,
            instr.src_col) != (0, d.rows, 0, d.cols, 0):
        return False
    return all(table[b].rows == d.rows and table[b].cols == d.cols
               for b in (instr.a, instr.b) if b != NO_BUFFER)


def is_adam_group(m_ins, s_ins, w_ins, table) -> bool:
    """adam_m, adam_s, adam_w of one parameter that may run as one element-wise pass."""
    if (_fn(m_ins), _fn(s_ins), _fn(w_ins)) != ("adam_m", "adam_s", "adam_w"):
        return False
    if not all(_whole(i, table) for i in (m_ins, s_ins, w_ins)):
        return False
    grad, m, s, w = m_ins.a, m_ins.dst, s_ins.dst, w_ins.dst
    if s_ins.a != grad or (w_ins.a, w_ins.b) != (m, s):
        return False
    return len({grad, m, s, w}) == 4 and NO_BUFFER not in (grad, m, s, w)


def adam_groups(steps: list, table) -> list:
    """The plan's steps with each fusable adam_m, adam_s, adam_w triple (all three with
    a kernel) replaced by one ``(pc, None, Fused("adam", parts))`` step."""
    out: list = []
    i = 0
    while i < len(steps):
        window = steps[i:i + 3]
        if len(window) == 3 and all(k is not None for _, k, _ in window) and \
                is_adam_group(*(ins for _, _, ins in window), table):
            out.append((window[0][0], None, Fused("adam", tuple(window))))
            i += 3
            continue
        out.append(steps[i])
        i += 1
    return out


__all__ = ["Fused", "adam_groups", "is_adam_group"]
