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


def ceil_div(x: pyrtl.WireVector, choices: list[tuple[pyrtl.WireVector, int]],
              bits: int) -> pyrtl.WireVector:
    """ceil(x / k) for ``x < 2**bits``, exact, where k is the constant of the first
    ``(condition, k)`` whose condition holds (else the last one's): one multiplier by a
    selected reciprocal (:func:`reciprocal`), whatever the number of choices."""
    out_bits = bits + 1
    addend, magic, shift = [], [], []
    for _, k in choices:
        m, sh = reciprocal(k, bits)
        addend.append(k - 1)
        magic.append(m)
        shift.append(sh)
    magic_bits = max(m.bit_length() for m in magic)

    def pick(values, name):
        out = values[-1]
        for (cond, _), v in reversed(list(zip(choices[:-1], values[:-1]))):
            out = pyrtl.select(cond, v, out)
        return named(out, name)
    add = pick([pyrtl.Const(a, bits) for a in addend], "kernel_div_addend")
    mul = pick([pyrtl.Const(m, magic_bits) for m in magic], "kernel_div_magic")
    product = fit(x + add, bits + 1) * mul     # a tmp: its low bits are unused (waived)
    # the shifts are constants: take the slice of the product the chosen one selects
    return pick([fit(product[sh:], out_bits) for sh in shift], "kernel_div_quotient")


def place_lane(unit: pyrtl.WireVector, index, value, width: int, lanes: int):
    """``unit`` with lane ``index`` (lanes of ``width`` bits from bit 0) set to ``value``."""
    parts = [pyrtl.select(index == i, fit(value, width), unit[width * i:width * (i + 1)])
             for i in range(lanes)]
    rest = unit.bitwidth - width * lanes
    if rest:
        parts.append(unit[width * lanes:])
    return pyrtl.concat_list(parts)
