"""Small signed-wire helpers shared by the vector lane (:mod:`fixar_gen.hw.vector`) and
the per-operation datapath plans (:mod:`fixar_gen.hw.lane_plans`), the lane's format
descriptor and its internal operand widths."""

from __future__ import annotations

import pyrtl

#: a format descriptor: these fields, the first in the lowest bits.  rounding and
#: overflow are indices into numerics.ROUNDING_MODES and OVERFLOW_MODES.
FORMAT_FIELDS: tuple[tuple[str, int], ...] = (
    ("width", 7), ("frac", 7), ("signed", 1), ("rounding", 2), ("overflow", 1))
FORMAT_BITS = sum(bits for _, bits in FORMAT_FIELDS)
#: the limits of the lane's data operands (``vector.check_supported`` enforces them)
MAX_DATA_WIDTH = 48
MAX_DATA_FRAC = 48
OPND = MAX_DATA_WIDTH + 2                # a data value (or its negation) as a signed wire
MUL_X = 64                               # the multipliers' wide operand
FRAC = 8                                 # internal frac wires (sums of fracs up to 144)
SCALAR = 64                              # adam's v, eps' and den are int64 in golden


def decl(wire: pyrtl.WireVector) -> pyrtl.WireVector:
    """``wire`` through a full-width slice: PyRTL's Verilog then declares ``wire`` instead
    of inlining it (an inlined ``?:`` inside a wider arithmetic expression is a Verilator
    WIDTHEXPAND warning)."""
    return wire[:wire.bitwidth]


def sx(wire: pyrtl.WireVector, bits: int) -> pyrtl.WireVector:
    wire = pyrtl.as_wires(wire)
    if wire.bitwidth > bits:
        raise ValueError(f"element unit: cannot sign-extend {wire.bitwidth} bits to {bits}")
    return decl(wire).sign_extended(bits)


def zx(wire: pyrtl.WireVector, bits: int) -> pyrtl.WireVector:
    wire = pyrtl.as_wires(wire)
    if wire.bitwidth > bits:
        raise ValueError(f"element unit: cannot zero-extend {wire.bitwidth} bits to {bits}")
    return decl(wire).zero_extended(bits)


def resize(wire: pyrtl.WireVector, bits: int) -> pyrtl.WireVector:
    """A signed wire as ``bits`` bits: its low bits, or sign-extended (for values known
    to fit)."""
    return wire[:bits] if wire.bitwidth >= bits else sx(wire, bits)


def neg(wire: pyrtl.WireVector) -> pyrtl.WireVector:
    """-wire (signed), one bit wider."""
    bits = wire.bitwidth + 1
    return (pyrtl.Const(0, bits) - sx(wire, bits))[:bits]


def smux(sel, true, false, bits: int) -> pyrtl.WireVector:
    return pyrtl.select(sel, sx(true, bits), sx(false, bits))


def is_zero(wire: pyrtl.WireVector) -> pyrtl.WireVector:
    return wire == pyrtl.Const(0, wire.bitwidth)


def fsum(*parts) -> pyrtl.WireVector:
    """A sum of fraction-bit counts (wires or ints) as a FRAC-bit wire."""
    total = pyrtl.Const(0, FRAC)
    for part in parts:
        part = pyrtl.Const(part, FRAC) if isinstance(part, int) else zx(part, FRAC)
        total = (total + part)[:FRAC]
    return total
