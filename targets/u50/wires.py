"""Small PyRTL helpers of the U50 kernel: widths, registers, lanes, and an exact
division by a constant chosen at run time (the transfer's units)."""

from __future__ import annotations

import pyrtl

from ...hw.build import named


def fit(value, bits: int) -> pyrtl.WireVector:
    value = pyrtl.as_wires(value)
    return value[:bits] if value.bitwidth >= bits else value.zero_extended(bits)


def register(bits: int, name: str) -> pyrtl.Register:
    return pyrtl.Register(bits, name=name)


def smaller(a, b) -> pyrtl.WireVector:
    return pyrtl.select(a < b, a, b)


def align_down(addr, low: int) -> pyrtl.WireVector:
    bits = addr.bitwidth
    return pyrtl.concat(addr[low:], pyrtl.Const(0, low)) if low else addr[:bits]


def drive(wire: pyrtl.WireVector, value) -> None:
    wire <<= value


def counter_bits(n: int) -> int:
    """Bits of a counter of 0..n-1 (at least 1)."""
    return max(1, (n - 1).bit_length())


def reciprocal(k: int, bits: int) -> tuple[int, int]:
    """(magic, shift) with ceil(x / k) = ((x + k - 1) * magic) >> shift for every
    ``x < 2**bits``: magic = ceil(2**shift / k) with shift = bits + 1 + ceil(log2 k), so
    the error of the product stays below 1/k."""
    shift = bits + 1 + (k - 1).bit_length()
    return -(-(1 << shift) // k), shift


def ceil_div_model(x: int, k: int, bits: int) -> int:
    """What :func:`ceil_div` computes, in Python (tests)."""
    magic, shift = reciprocal(k, bits)
    return ((x + k - 1) * magic) >> shift


def delayed(value: pyrtl.WireVector, name: str) -> pyrtl.Register:
    """``value`` one cycle later (a free-running register)."""
    reg = register(value.bitwidth, name)
    reg.next <<= value
    return reg


#: cycles from ``x`` (and the conditions) to the quotient of ``ceil_div(..., pipelined=True)``
DIVIDE_CYCLES = 2


def ceil_div(x: pyrtl.WireVector, choices: list[tuple[pyrtl.WireVector, int]],
             bits: int, name: str = "div", pipelined: bool = False) -> pyrtl.WireVector:
    """ceil(x / k) for ``x < 2**bits``, exact, where k is the constant of the first
    ``(condition, k)`` whose condition holds (else the last one's): one multiplier by a
    selected reciprocal (:func:`reciprocal`), whatever the number of choices.
    ``pipelined``: the multiplier's operands and its product are registers (so it maps
    onto a pipelined DSP cascade), and the quotient is valid :data:`DIVIDE_CYCLES`
    cycles after ``x`` and the conditions settle (they must hold still meanwhile)."""
    out_bits = bits + 1
    addend, magic, shift = [], [], []
    for _, k in choices:
        m, sh = reciprocal(k, bits)
        addend.append(k - 1)
        magic.append(m)
        shift.append(sh)
    magic_bits = max(m.bit_length() for m in magic)
    low = min(shift)

    def pick(values, suffix):
        out = values[-1]
        for (cond, _), v in reversed(list(zip(choices[:-1], values[:-1]))):
            out = pyrtl.select(cond, v, out)
        return named(out, f"{name}_{suffix}")

    def stage(value, suffix):
        return delayed(value, f"{name}_{suffix}") if pipelined else value
    add = pick([pyrtl.Const(a, bits) for a in addend], "addend")
    mul = pick([pyrtl.Const(m, magic_bits) for m in magic], "magic")
    x1 = stage(fit(x + add, bits + 1), "x_q")
    mul = stage(mul, "magic_q")
    product = x1 * mul                     # a tmp: its low bits are unused (waived)
    high = stage(product[low:], "product_q")
    # the shifts are constants: take the slice of the product the chosen one selects
    return pick([fit(high[sh - low:], out_bits) for sh in shift], "quotient")


def place_lane(unit: pyrtl.WireVector, index, value, width: int, lanes: int):
    """``unit`` with lane ``index`` (lanes of ``width`` bits from bit 0) set to ``value``."""
    parts = [pyrtl.select(index == i, fit(value, width), unit[width * i:width * (i + 1)])
             for i in range(lanes)]
    rest = unit.bitwidth - width * lanes
    if rest:
        parts.append(unit[width * lanes:])
    return pyrtl.concat_list(parts)
