"""Signed multiplies at their native width.

``pyrtl.signed_mult(a, b)`` sign-extends both operands to ``len(a) + len(b)`` bits and
multiplies those, so the Verilog multiply is ``2 (len(a) + len(b))`` bits wide: a 64 x 50
product becomes a 228-bit multiply (Verilator's slow ``VL_MUL_W`` on 8 words), a PE's
32 x 17 a 98-bit one.  :func:`signed_product` multiplies the operands as they are (an
unsigned product; PyRTL zero-extends the narrower operand to the wider one's width, so
the multiply is ``2 max(len(a), len(b))`` bits: 64 for the PE, native C++ arithmetic in
Verilator; 128 for the vector lane's 64 x 50, four words instead of eight) and corrects
the sign terms with two subtractions on the upper bits::

    a = ua - sa 2^la,  b = ub - sb 2^lb
    a b = ua ub - sa ub 2^la - sb ua 2^lb   (mod 2^(la + lb))

so the result is bit-identical to ``signed_mult``.
"""

from __future__ import annotations

import pyrtl


def signed_product(a: pyrtl.WireVector, b: pyrtl.WireVector) -> pyrtl.WireVector:
    """``a * b`` of two two's-complement wires as a ``len(a) + len(b)``-bit
    two's-complement wire (the exact product), multiplied at that width."""
    a, b = pyrtl.as_wires(a), pyrtl.as_wires(b)
    la, lb = a.bitwidth, b.bitwidth
    n = la + lb
    product = a * b                                                 # unsigned, n bits
    zero_b, zero_a = pyrtl.Const(0, lb), pyrtl.Const(0, la)
    correction_a = pyrtl.concat(pyrtl.select(a[-1], b, zero_b), zero_a)     # sa ub 2^la
    correction_b = pyrtl.concat(pyrtl.select(b[-1], a, zero_a), zero_b)     # sb ua 2^lb
    return ((product - correction_a)[:n] - correction_b)[:n]
