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


# ------------------------------------------------------------ a product in pipeline stages

#: the digits of :func:`product_terms`: an unsigned 26 x 17-bit multiply is one DSP48E2
#: (a signed 27 x 18 multiplier) with nothing around it
A_DIGIT, B_DIGIT = 26, 17

#: one term of a product: an unsigned wire whose value counts ``<< shift``
Term = tuple[pyrtl.WireVector, int]


def product_terms(a: pyrtl.WireVector, b: pyrtl.WireVector, a_digit: int = A_DIGIT,
                  b_digit: int = B_DIGIT) -> list[Term]:
    """``a * b`` (two's complement) as terms whose sum modulo 2^(len(a) + len(b)) is the
    signed product (:func:`sum_terms`): the unsigned products of the digits of a's and
    b's bits (at most ``a_digit`` x ``b_digit`` bits each: one DSP48E2 apiece, to be
    registered by the caller) and the two sign corrections of :func:`signed_product`,
    negated (``-sa ub 2^la`` and ``-sb ua 2^lb``: a small subtraction each)."""
    a, b = pyrtl.as_wires(a), pyrtl.as_wires(b)
    la, lb = a.bitwidth, b.bitwidth
    terms: list[Term] = []
    for i in range(0, la, a_digit):
        for j in range(0, lb, b_digit):
            x, y = a[i:min(la, i + a_digit)], b[j:min(lb, j + b_digit)]
            terms.append(((x * y)[:x.bitwidth + y.bitwidth], i + j))
    zero_b, zero_a = pyrtl.Const(0, lb), pyrtl.Const(0, la)
    terms.append(((zero_b - _declared(pyrtl.select(a[-1], b, zero_b)))[:lb], la))  # -sa ub 2^la
    terms.append(((zero_a - _declared(pyrtl.select(b[-1], a, zero_a)))[:la], lb))  # -sb ua 2^lb
    return terms


def _declared(wire: pyrtl.WireVector) -> pyrtl.WireVector:
    """``wire`` through a full-width slice, so that PyRTL's Verilog declares it rather
    than inlining a ``?:`` into the wider subtraction (Verilator's WIDTHEXPAND)."""
    return wire[:wire.bitwidth]


def sum_terms(terms: list[Term], bits: int) -> pyrtl.WireVector:
    """The sum of ``terms`` modulo 2^bits, added as a balanced tree (ceil(log2(len))
    adder levels)."""
    values = []
    for wire, shift in terms:
        if shift >= bits:
            continue
        wire = pyrtl.as_wires(wire)
        wire = wire[:bits - shift] if wire.bitwidth > bits - shift else wire
        shifted = pyrtl.concat(wire, pyrtl.Const(0, shift)) if shift else wire
        values.append(shifted.zero_extended(bits) if shifted.bitwidth < bits else shifted)
    if not values:
        return pyrtl.Const(0, bits)
    while len(values) > 1:
        paired = [(values[k] + values[k + 1])[:bits] for k in range(0, len(values) - 1, 2)]
        values = paired + ([values[-1]] if len(values) % 2 else [])
    return values[0]


def group_terms(terms: list[Term], groups: int) -> list[list[Term]]:
    """``terms`` split into ``groups`` runs of nearly equal length (each summed in one
    pipeline stage, then the groups' sums in the next)."""
    size = -(-len(terms) // groups)
    return [terms[k:k + size] for k in range(0, len(terms), size)]


def signed_digits(k: int) -> list[tuple[int, int]]:
    """``k`` >= 0 in non-adjacent form: (position, +1 or -1) pairs, lowest first, with
    ``k = sum(sign 2^position)`` and no two nonzero digits adjacent (at most
    ``(bits + 1) / 2`` of them: 15 = 16 - 1, 13 = 16 - 4 + 1)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"constant {k!r} is not an integer >= 0")
    digits, position = [], 0
    while k:
        if k & 1:
            sign = 2 - (k & 3)                   # 1 when k = 1 mod 4, -1 when 3 mod 4
            digits.append((position, sign))
            k -= sign
        k >>= 1
        position += 1
    return digits


def constant_times(value: pyrtl.WireVector, k: int, bits: int) -> pyrtl.WireVector:
    """``value * k`` modulo ``2^bits`` (``value`` unsigned, ``k`` a constant >= 0) as
    shifted copies of ``value`` added and subtracted by :func:`signed_digits`: a
    constant times a descriptor field (the matrix unit's ``r * cols``) in adders rather
    than a DSP48E2, which Yosys xcup would give it with one register after (a
    ``bits``-bit product of a 17-bit field and 3 .. 15)."""
    digits = signed_digits(k)
    plus = sum_terms([(value, p) for p, sign in digits if sign > 0], bits)
    minus = [(value, p) for p, sign in digits if sign < 0]
    return (plus - sum_terms(minus, bits))[:bits] if minus else plus
