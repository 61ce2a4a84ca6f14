"""Incremental operand addresses: the controller's address generators.

An operand's element ``(row, col)`` lives at ``base + row * cols + col`` of its memory.
Computed from the instruction every cycle that is a multiply and two adds behind the
decode; here it is a walk instead.  The multiply happens once per instruction, in the
controller's ``DECODE`` cycle (``row0 * cols``), its product through two registers
(:func:`registered_product`: a DSP48E2's M and P registers, the second in ``PRODUCT``),
the add of the base in ``BASES`` (an add between registers), and every step after that
adds a registered step: the next row's address (``+ cols``) or the next group of
columns (``+ group``).

Broadcast operands (a buffer with one row, or one column, read by every row or column
of the region, as the golden model does) simply never move in that direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyrtl

from .build import named, zext
from .hostmap import COUNT_BITS


def latch(value, enable, name: str) -> pyrtl.Register:
    """A register that takes ``value`` in the cycles ``enable`` is 1 and holds it
    otherwise: a per-instruction constant decoded once."""
    value = pyrtl.as_wires(value)
    reg = pyrtl.Register(value.bitwidth, name=name)
    reg.next <<= pyrtl.select(enable, value, reg)
    return reg


#: registers after each of the controller's multiplies (a DSP48E2's MREG and PREG,
#: :mod:`fixar_gen.hw.dsp_registers`): the ``DECODE`` cycle's product is ready in
#: ``BASES``, one issue cycle (``PRODUCT``) after the one its first register takes
PRODUCT_REGISTERS = 2


def registered_product(product, name: str) -> pyrtl.Register:
    """``product`` through its :data:`PRODUCT_REGISTERS` plain registers (each bit of
    the first has the second's flip-flop as its one load: a DSP48E2 takes both in, as
    its MREG and PREG).  Its operands are decoded from ``instr`` and the descriptors,
    which hold from FETCH to the next FETCH: the product is in the first register from
    the cycle after ``DECODE`` on and in the second, named ``name`` (the first
    ``name_m``), from ``BASES`` to the next FETCH."""
    first = pyrtl.Register(pyrtl.as_wires(product).bitwidth, name=f"{name}_m")
    first.next <<= product
    second = pyrtl.Register(first.bitwidth, name=name)
    second.next <<= first
    return second


@dataclass(frozen=True)
class RegionWalk:
    """The address of an operand's element for lane 0 of the element loop's current
    step (:meth:`address` adds a lane's offset).  ``row``: the address of column 0 of
    the current row; ``col``: the column of lane 0; ``fixed_col``: 1 when the operand
    broadcasts its one column (every lane reads column 0); ``at``: lane 0's address,
    ``row + col``, kept in a register of its own (updated with them), so that lane 0's
    address, which the banked memories' line ports choose among the requests, starts
    at a register and not after an add."""

    row: pyrtl.Register
    col: pyrtl.Register
    fixed_col: pyrtl.Register
    at: pyrtl.Register
    addr_bits: int

    def address(self, lane: int = 0) -> pyrtl.WireVector:
        if lane == 0:
            return self.at
        col = pyrtl.select(self.fixed_col, self.col, zext(self.col + lane, COUNT_BITS))
        return zext(self.row + zext(col, self.addr_bits), self.addr_bits)


def region_walk(name: str, *, addr_bits: int, base, cols, row0, col0, fixed_row,
                fixed_col, decode, place, advance, row_end, group) -> RegionWalk:
    """The walk of one operand over an element loop's region (wires named ``name_*``).

    In a ``decode`` cycle the product ``row0 * cols`` enters its registers
    (:func:`registered_product`) and the first column ``col0`` is latched (0 where the
    operand broadcasts: ``fixed_row``, ``fixed_col``), as is the row step; in the
    ``place`` cycle (two after ``decode``) the walk moves to the first step: ``base``
    plus that product, and ``col0`` (``base`` must hold from ``decode`` on).  In each
    ``advance`` cycle it moves to the next step: the next row when ``row_end``, else
    ``group`` columns on."""
    A = addr_bits
    zero = pyrtl.Const(0, COUNT_BITS)
    # the multiply alone between registers (its operands as decoded, its product
    # through two registers); the broadcast's zero is chosen after them, beside the add
    # of the base
    first_product = registered_product(zext(zext(row0, COUNT_BITS) * zext(cols, COUNT_BITS),
                                            A), f"{name}_row0_product")
    row_fixed = latch(fixed_row, decode, f"{name}_fixed_row")
    first_col = latch(pyrtl.select(fixed_col, zero, zext(col0, COUNT_BITS)), decode,
                      f"{name}_col0")
    step_bits = min(A, COUNT_BITS)        # a row step beyond the addresses wraps
    step = latch(pyrtl.select(fixed_row, pyrtl.Const(0, step_bits), zext(cols, step_bits)),
                 decode, f"{name}_row_step")
    fixed_col = latch(fixed_col, decode, f"{name}_fixed_col")
    row = pyrtl.Register(A, name=f"{name}_row")
    col = pyrtl.Register(COUNT_BITS, name=f"{name}_col")
    offset = named(pyrtl.select(row_fixed, pyrtl.Const(0, A), first_product),
                   f"{name}_row0_offset")       # declared: not widened by the add
    placed = zext(zext(base, A) + offset, A)
    next_row = zext(row + zext(step, A), A)
    next_col = pyrtl.select(fixed_col, col, zext(col + zext(group, COUNT_BITS), COUNT_BITS))
    row.next <<= pyrtl.select(place, placed,
                              pyrtl.select(advance & row_end, next_row, row))
    col.next <<= pyrtl.select(place | (advance & row_end), first_col,
                              pyrtl.select(advance, next_col, col))
    # row + col, from the same moves: a new row starts at its first column; a step
    # within the row adds the group (its columns stay below the region's width, so
    # col's own add never wraps where this one does not)
    at = pyrtl.Register(A, name=f"{name}_at")
    row_start = named(pyrtl.select(place, placed, next_row),
                      f"{name}_row_start")      # declared: not widened by the add
    at.next <<= pyrtl.select(
        place | (advance & row_end), zext(row_start + zext(first_col, A), A),
        pyrtl.select(advance & ~fixed_col, zext(at + zext(group, A), A), at))
    return RegionWalk(row, col, fixed_col, at, A)
