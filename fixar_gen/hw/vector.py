"""The core's element unit: one lane of the vector unit, bit-exact with the golden model.

The core's controller walks the elements of a ``vec`` (:class:`~fixar_gen.isa.Vector`)
or ``drain`` (:class:`~fixar_gen.isa.Drain`) instruction one at a time: for each element
it reads the operands, hands them to this unit with ``start`` = 1 together with the
operands' formats (runtime inputs, from the program's buffer table), and writes back
what the unit returns when ``done`` pulses.  The unit computes exactly what
:mod:`fixar_gen.golden` computes for that element, and reports the overflows it counts.

Operations (``op``, :data:`ELEMENT_OPS`): ``isa.VECTOR_FUNCTIONS`` in order (so
``op == Vector.fn``), then ``drain_<act>`` for ``act`` in ``isa.ACTIVATIONS`` (so
``op == len(VECTOR_FUNCTIONS) + Drain.act``).

Datapath (one shared rounder; every operand a ``word``-bit two's-complement integer)::

    operands ─► MA, MB (64 x 50-bit signed multipliers), SQ (b*b), tanh ROM, PRNG
             ─► up to three terms (value, frac)   [muxed by op and step]
             ─► align at G = max(fracs, f(target)): term << (G - frac)   [W_INT bits]
             ─► exact sum S (or clip's choice)
             ─► round S / 2^(G - f(target)) by the target's rounding mode
             ─► fit to the target's width: saturate or wrap, overflow flag
             ─► clamp (noise) / min-max (range) ─► output registers

``R(terms, fmt)`` -- round the exact sum once, fit, count -- is golden's
:func:`fixar_gen.exact.combine`; every intermediate is exact (the width bound below).
Two-rounding operations use the rounder twice, in successive cycles; Adam's root and
ratio run an iterative square root and divider between the roundings.

What the operands carry (formats ``fmt_x`` describe operand ``x``; ``fmt_c`` describes
both constants c0 = c[0] and c1 = c[1]; unused operands and formats are ignored):

==================  =====================================================================
op                  operands
==================  =====================================================================
copy .. mul, clip   a, b (as ``isa.VECTOR_SEMANTICS``); scale, fill, clip: c0
dact_relu/leaky     a = dL/dy, b = y; dact_leaky: c0 = slope; dact_tanh: a, b = y
mse_grad            a, b, c0 = 2 / batch
bellman             a = reward, b = done, e = Q', c0 = gamma
sgd .. soft_update  d = dst's current value, a, c0 (adam_s: a = gradient, c0 = beta2)
adam_w              d, a = m, b = s, c0 = alpha_t, c1 = eps
range               a, d = current min, e = current max -> d_out = min, e_out = max
noise               a, c0 = sigma, lane -> lane_out
ou_noise            a, e = OU state, c0, c1, lane -> e_out (new state), lane_out
acc_add             d + a (accumulators) fitted to ``acc_bits`` by ``acc_overflow``
drain_<act>         a = accumulator (fmt_a: its frac), b = bias (0 without one; fmt_b its
                    format, any frac when b = 0), c0 = leaky slope (fmt_c), fmt_pre = the
                    program's pre-activation format, fmt_d = dst
==================  =====================================================================

Golden details the unit reproduces as golden's code does them (docs/isa.md words some
differently): adam_w rounds eps to f(s) with nearest_even (not d's rounding), saturates it
to int64 and forms ``den = s + max(eps', 1)`` modulo 2^64; ``num // den`` is numpy's
floor division (0 for den = 0, rounded down for den < 0); adam_s's v saturates at
2^63 - 1 (uncounted) and a negative v (a golden error) gives a root of 0.

Latencies (:func:`element_latency`; cycles from ``start`` to ``done``, data-independent):
1 for every vector function except ``ou_noise`` (2: the OU state, then the action),
``adam_s`` (19: squares, v, 16 root cycles at 2 bits each, result) and ``adam_w`` (33:
eps and the operands, 31 divider cycles at 2 quotient bits each, result); ``drain_identity``
1, the other drains 2 (pre-activation, then output).  ``done`` is a one-cycle pulse and
the outputs are registers that hold until the next result.  ``start`` may be raised in
the cycle ``done`` is high (back to back); a ``start`` while busy restarts the unit.

Supported formats (:func:`check_supported` refuses the rest with a clear message):

- data operands and destinations (a, b, c, d, e and the pre-activation format):
  width 1..48 (signed 2..48), 0 <= frac <= 48 (fracs are >= 0: a hardware limit;
  golden allows negative ones; the descriptor's fields hold width and frac up to 127);
- accumulators (drain's a, acc_add's d and a): 0 <= frac <= 96, values of at most
  ``acc_bits <= word`` bits; ``word >= 49`` (a 48-bit unsigned value);
- ``adam_s``: d and a of at most 31 magnitude bits (signed width <= 32, unsigned <= 31):
  golden squares them in int64 (beyond that golden's d*d wraps);
- ``drain_tanh``: a pre-activation frac <= 38 (golden's tanh table is int64: beyond it
  ``T[i] << (frac - 6)`` wraps or ``2^(24 + frac)`` overflows; the unit itself is exact
  to 48).

Within those limits every intermediate is exact with :func:`internal_width` bits:
``W_INT = max(148, word + 51)`` -- the largest aligned term is a 97-bit product shifted
by 48 bits, or a 49-bit operand shifted by 96 bits (an accumulator-frac / product-frac
alignment), or a ``word``-bit accumulator shifted by 48; plus 2 bits for a sum of three
terms and 1 for the rounding increment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyrtl

from .. import arch, isa
from ..numerics import OVERFLOW_MODES, ROUNDING_MODES, FixedFormat
from .build import Scope, check_width, fresh_block, named, to_signed, to_unsigned
from .multiply import signed_product

# ---------------------------------------------------------------------------- the interface

#: the element operations; the index is the ``op`` input
ELEMENT_OPS: tuple[str, ...] = tuple(isa.VECTOR_FUNCTIONS) + tuple(
    f"drain_{act}" for act in isa.ACTIVATIONS)
OP_BITS = max(1, (len(ELEMENT_OPS) - 1).bit_length())
OP_INDEX = {name: i for i, name in enumerate(ELEMENT_OPS)}
DRAIN_OPS = tuple(f"drain_{act}" for act in isa.ACTIVATIONS)

#: a format descriptor: these fields, the first in the lowest bits.  rounding and
#: overflow are indices into numerics.ROUNDING_MODES and OVERFLOW_MODES.
FORMAT_FIELDS: tuple[tuple[str, int], ...] = (
    ("width", 7), ("frac", 7), ("signed", 1), ("rounding", 2), ("overflow", 1))
FORMAT_BITS = sum(bits for _, bits in FORMAT_FIELDS)
ACC_BITS_BITS = 7                        # the acc_bits input (acc_add's accumulator width)
LANE_BITS = 32                           # one xorshift32 PRNG lane

#: the limits check_supported enforces (the exactness bound of the datapath)
MAX_DATA_WIDTH = 48
MAX_DATA_FRAC = 48
MAX_ACC_FRAC = 2 * MAX_DATA_FRAC
MIN_WORD = MAX_DATA_WIDTH + 1                # a 48-bit unsigned value
ADAM_S_MAGNITUDE_BITS = 31               # |d|, |a| < 2^31 so golden's int64 d*d is exact
#: golden's tanh_fixed works in int64: T[i] << (f(pre) - 6) and 2^(30 + f(pre) - 6) must
#: stay below 2^63, so drain_tanh needs f(pre) <= 38 (the hardware itself goes to 48)
TANH_MAX_PRE_FRAC = 62 - arch.TANH_TABLE_FRAC + arch.TANH_SEGMENT_FRAC

#: iterative units: result bits per cycle
SQRT_BITS_PER_CYCLE = 4
DIV_BITS_PER_CYCLE = 4
ROOT_BITS = 32                           # floor(sqrt(v)) for v < 2^63
QUOTIENT_BITS = 62                       # |m| << shift < 2^62 (golden's adam_w condition)
SQRT_CYCLES = -(-ROOT_BITS // SQRT_BITS_PER_CYCLE)
DIV_CYCLES = -(-QUOTIENT_BITS // DIV_BITS_PER_CYCLE)
DIV_STEPS = DIV_CYCLES * DIV_BITS_PER_CYCLE    # the divider's registers (leading zeros)

_OPND = MAX_DATA_WIDTH + 2               # a data value (or its negation) as a signed wire
_MUL_X = 64                              # the multipliers' wide operand
_FRAC = 8                                # internal frac wires (sums of fracs up to 144)
_SCALAR = 64                             # adam's v, eps' and den are int64 in golden


def element_latency(op: str) -> int:
    """Cycles from ``start`` to ``done`` for ``op`` (the same for every operand)."""
    if op not in OP_INDEX:
        raise ValueError(f"element_latency: {op!r} is not one of {', '.join(ELEMENT_OPS)}")
    if op == "adam_s":
        return 2 + SQRT_CYCLES + 1
    if op == "adam_w":
        return 1 + DIV_CYCLES + 1
    if op == "ou_noise" or (op in DRAIN_OPS and op != "drain_identity"):
        return 2
    return 1


MAX_LATENCY = max(element_latency(op) for op in ELEMENT_OPS)
_STEP_BITS = MAX_LATENCY.bit_length()


def pack_format(fmt: FixedFormat) -> int:
    """A format as a FORMAT_BITS-bit descriptor (fields of FORMAT_FIELDS, first lowest)."""
    if not isinstance(fmt, FixedFormat):
        raise ValueError(f"pack_format: {fmt!r} is not a FixedFormat")
    if fmt.frac < 0:
        raise ValueError(f"pack_format: {fmt} has frac {fmt.frac} < 0; the element unit "
                         "supports fracs >= 0 only")
    values = {"width": fmt.width, "frac": fmt.frac, "signed": int(fmt.signed),
              "rounding": ROUNDING_MODES.index(fmt.rounding),
              "overflow": OVERFLOW_MODES.index(fmt.overflow)}
    word, pos = 0, 0
    for name, bits in FORMAT_FIELDS:
        if not 0 <= values[name] < 1 << bits:
            raise ValueError(f"pack_format: {fmt} has {name} {values[name]}, which does not "
                             f"fit the descriptor's {bits}-bit field")
        word |= values[name] << pos
        pos += bits
    return word


def unpack_format_value(word: int) -> FixedFormat:
    """The FixedFormat a descriptor (an int from :func:`pack_format`) stands for."""
    fields, pos = {}, 0
    for name, bits in FORMAT_FIELDS:
        fields[name] = (int(word) >> pos) & ((1 << bits) - 1)
        pos += bits
    return FixedFormat(fields["width"], fields["frac"], bool(fields["signed"]),
                       ROUNDING_MODES[fields["rounding"]], OVERFLOW_MODES[fields["overflow"]])


@dataclass(frozen=True)
class FormatWires:
    """A format descriptor's fields as wires (``unpack_format``)."""

    width: pyrtl.WireVector
    frac: pyrtl.WireVector
    signed: pyrtl.WireVector
    rounding: pyrtl.WireVector
    overflow: pyrtl.WireVector


def unpack_format(wire: pyrtl.WireVector) -> FormatWires:
    """The fields of a FORMAT_BITS-bit descriptor wire."""
    check_width(wire, FORMAT_BITS, "unpack_format")
    fields, pos = {}, 0
    for name, bits in FORMAT_FIELDS:
        fields[name] = wire[pos:pos + bits]
        pos += bits
    return FormatWires(**fields)


def pack_format_wires(width, frac, signed, rounding, overflow) -> pyrtl.WireVector:
    """A descriptor wire from field wires or ints (each fitted to its field)."""
    values = {"width": width, "frac": frac, "signed": signed, "rounding": rounding,
              "overflow": overflow}
    parts = []
    for name, bits in FORMAT_FIELDS:
        value = values[name]
        if isinstance(value, int):
            value = pyrtl.Const(value, bits)
        check_width(value, bits, f"pack_format_wires: {name}")
        parts.append(value)
    return pyrtl.concat_list(parts)


#: which formats each operation reads: "data" roles must be data formats, "acc" ones
#: accumulators (the unit ignores formats an operation does not use)
OPERAND_ROLES: dict[str, dict[str, str]] = {
    "copy": {"a": "data", "d": "data"},
    "add": {"a": "data", "b": "data", "d": "data"},
    "sub": {"a": "data", "b": "data", "d": "data"},
    "mul": {"a": "data", "b": "data", "d": "data"},
    "scale": {"a": "data", "c": "data", "d": "data"},
    "fill": {"c": "data", "d": "data"},
    "clip": {"a": "data", "c": "data", "d": "data"},
    "dact_relu": {"a": "data", "b": "data", "d": "data"},
    "dact_leaky": {"a": "data", "b": "data", "c": "data", "d": "data"},
    "dact_tanh": {"a": "data", "b": "data", "d": "data"},
    "mse_grad": {"a": "data", "b": "data", "c": "data", "d": "data"},
    "bellman": {"a": "data", "b": "data", "e": "data", "c": "data", "d": "data"},
    "sgd": {"a": "data", "c": "data", "d": "data"},
    "momentum": {"a": "data", "c": "data", "d": "data"},
    "adam_m": {"a": "data", "c": "data", "d": "data"},
    "adam_s": {"a": "data", "c": "data", "d": "data"},
    "adam_w": {"a": "data", "b": "data", "c": "data", "d": "data"},
    "soft_update": {"a": "data", "c": "data", "d": "data"},
    "range": {"a": "data", "d": "data"},
    "noise": {"a": "data", "c": "data", "d": "data"},
    "ou_noise": {"a": "data", "e": "data", "c": "data", "d": "data"},
    "acc_add": {"a": "acc", "d": "acc"},
    "drain_identity": {"a": "acc", "b": "data", "d": "data"},
    "drain_relu": {"a": "acc", "b": "data", "pre": "data", "d": "data"},
    "drain_tanh": {"a": "acc", "b": "data", "pre": "data", "d": "data"},
    "drain_leaky_relu": {"a": "acc", "b": "data", "c": "data", "pre": "data", "d": "data"},
}


def check_supported(op: str, *, word: int, fmt_a: FixedFormat | None = None,
                    fmt_b: FixedFormat | None = None, fmt_c: FixedFormat | None = None,
                    fmt_d: FixedFormat | None = None, fmt_e: FixedFormat | None = None,
                    fmt_pre: FixedFormat | None = None, acc_bits: int | None = None) -> None:
    """Refuse (ValueError) an element operation whose formats are outside what a unit of
    ``word`` bits computes exactly.  Pass the formats the operation reads
    (:data:`OPERAND_ROLES`; a drain without bias may omit fmt_b); for accumulators
    (drain's a, acc_add's d and a) pass the buffer's format (its frac matters) and, for
    acc_add, ``acc_bits``."""
    if op not in OP_INDEX:
        raise ValueError(f"element unit: {op!r} is not one of {', '.join(ELEMENT_OPS)}")
    check_word(word)
    given_ = {"a": fmt_a, "b": fmt_b, "c": fmt_c, "d": fmt_d, "e": fmt_e, "pre": fmt_pre}
    for role, kind in OPERAND_ROLES[op].items():
        fmt = given_[role]
        if fmt is None:
            if op in DRAIN_OPS and role == "b":
                continue
            raise ValueError(f"element unit: {op} reads operand {role}; pass fmt_{role}")
        if not isinstance(fmt, FixedFormat):
            raise ValueError(f"element unit: fmt_{role} {fmt!r} is not a FixedFormat")
        what = f"{op}: operand {role} ({fmt})"
        if fmt.frac < 0:
            raise ValueError(f"element unit: {what} has a negative frac; the unit supports "
                             "fracs >= 0 only")
        if kind == "data":
            if fmt.width > MAX_DATA_WIDTH or fmt.frac > MAX_DATA_FRAC:
                raise ValueError(f"element unit: {what} is outside the exact datapath: data "
                                 f"formats need width <= {MAX_DATA_WIDTH} and frac <= "
                                 f"{MAX_DATA_FRAC}")
        elif fmt.frac > MAX_ACC_FRAC:
            raise ValueError(f"element unit: {what}: accumulator fracs must be <= "
                             f"{MAX_ACC_FRAC}")
    if op == "acc_add":
        if acc_bits is None or not 2 <= acc_bits <= word:
            raise ValueError(f"element unit: acc_add needs acc_bits in 2..{word} (the word), "
                             f"got {acc_bits}")
    elif acc_bits is not None and not 2 <= acc_bits <= word:
        raise ValueError(f"element unit: accumulators of {acc_bits} bits do not fit the "
                         f"{word}-bit word (need 2..{word})")
    if op == "drain_tanh" and fmt_pre.frac > TANH_MAX_PRE_FRAC:
        raise ValueError(f"element unit: drain_tanh with a pre-activation frac of "
                         f"{fmt_pre.frac}: the golden model's int64 tanh table needs "
                         f"frac <= {TANH_MAX_PRE_FRAC}")
    if op == "adam_s":
        for role, fmt in (("d", fmt_d), ("a", fmt_a)):
            if fmt.width - fmt.signed > ADAM_S_MAGNITUDE_BITS:
                raise ValueError(f"element unit: adam_s squares {role} ({fmt}) in int64 in "
                                 f"the golden model; its magnitude must stay below "
                                 f"2^{ADAM_S_MAGNITUDE_BITS} (signed width <= "
                                 f"{ADAM_S_MAGNITUDE_BITS + 1}, unsigned <= "
                                 f"{ADAM_S_MAGNITUDE_BITS})")


def check_word(word: int) -> None:
    if isinstance(word, bool) or not isinstance(word, int) or word < MIN_WORD:
        raise ValueError(f"element unit: word {word!r} must be an integer >= {MIN_WORD} "
                         f"(it carries {MAX_DATA_WIDTH}-bit unsigned data values)")


def internal_width(word: int) -> int:
    """Bits of the aligned-sum datapath (W_INT) that make every supported operation
    exact: the largest |term| * 2^(G - frac) over the operations, plus 2 bits for a sum
    of three terms and 1 for the rounding increment.  Operand values have at most
    B = MAX_DATA_WIDTH + 1 signed bits; a product of two at most 2 * MAX_DATA_WIDTH + 1."""
    check_word(word)
    b = MAX_DATA_WIDTH + 1                       # 49: any data value, signed
    p = 2 * MAX_DATA_WIDTH + 1                   # 97: |x * y| < 2^96
    f, fa = MAX_DATA_FRAC, MAX_ACC_FRAC
    bounds = {
        # a product at frac f(x) + f(y) aligned to a 48-frac destination
        "product to the destination": p + f,
        # d (frac fd) aligned to a product's frac (sgd, bellman, soft_update, ...)
        "operand to a product": b + 2 * f,
        # dact_tanh: |a| (1 - y^2) < 2^(48 + 2 fb), aligned to fd when fa + 2 fb < fd
        "dact_tanh": b + max(2 * f, f),
        # adam_w: |ratio| < 2^62 times alpha; d aligned to 24 + f(c)
        "adam_w": max(62 + MAX_DATA_WIDTH + 1 + max(0, f - arch.RATIO_FRAC),
                      b + arch.RATIO_FRAC + f),
        # adam_s: d^2 < 2^62 times (2^fc - c)
        "adam_s": 2 * ADAM_S_MAGNITUDE_BITS + MAX_DATA_WIDTH + 3,
        # drain: the accumulator aligned to fd, the bias to the accumulator's frac
        "drain": max(word + f, b + fa),
        "acc_add": word + 1,
    }
    return max(bounds.values()) + 3


# ----------------------------------------------------------------------------- wire helpers

def _decl(wire: pyrtl.WireVector) -> pyrtl.WireVector:
    """``wire`` through a full-width slice: PyRTL's Verilog then declares ``wire`` instead
    of inlining it (an inlined ``?:`` inside a wider arithmetic expression is a Verilator
    WIDTHEXPAND warning)."""
    return wire[:wire.bitwidth]


def _sx(wire: pyrtl.WireVector, bits: int) -> pyrtl.WireVector:
    wire = pyrtl.as_wires(wire)
    if wire.bitwidth > bits:
        raise ValueError(f"element unit: cannot sign-extend {wire.bitwidth} bits to {bits}")
    return _decl(wire).sign_extended(bits)


def _zx(wire: pyrtl.WireVector, bits: int) -> pyrtl.WireVector:
    wire = pyrtl.as_wires(wire)
    if wire.bitwidth > bits:
        raise ValueError(f"element unit: cannot zero-extend {wire.bitwidth} bits to {bits}")
    return _decl(wire).zero_extended(bits)


def _resize(wire: pyrtl.WireVector, bits: int) -> pyrtl.WireVector:
    """A signed wire as ``bits`` bits: its low bits, or sign-extended (for values known
    to fit)."""
    return wire[:bits] if wire.bitwidth >= bits else _sx(wire, bits)


def _shift(value: pyrtl.WireVector, amount: pyrtl.WireVector, left: bool,
           arithmetic: bool = False) -> pyrtl.WireVector:
    """A barrel shifter (log2 stages, same width out; zeros or, for an arithmetic right
    shift, copies of the sign bit shifted in)."""
    n = value.bitwidth
    fill = value[-1] if arithmetic else pyrtl.Const(0, 1)
    for i in range(amount.bitwidth):
        k = 1 << i
        if k >= n:
            shifted = fill.sign_extended(n)
        elif left:
            shifted = pyrtl.concat(value[:n - k], fill.sign_extended(k))
        else:
            shifted = pyrtl.concat(fill.sign_extended(k), value[k:])
        value = pyrtl.select(amount[i], shifted, value)
    return _decl(value)


def _shl(value, amount):
    return _shift(value, amount, left=True)


def _shr(value, amount):
    return _shift(value, amount, left=False)


def _sar(value, amount):
    return _shift(value, amount, left=False, arithmetic=True)


def _const(value: int, bits: int) -> pyrtl.Const:
    return pyrtl.Const(value & ((1 << bits) - 1), bits)


def _add(bits: int, *wires) -> pyrtl.WireVector:
    """Sum of signed wires modulo 2^bits (exact when the sum fits ``bits`` signed bits)."""
    total = _sx(wires[0], bits)
    for w in wires[1:]:
        total = (total + _sx(w, bits))[:bits]
    return total


def _sub(bits: int, a, b) -> pyrtl.WireVector:
    return (_sx(a, bits) - _sx(b, bits))[:bits]


def _neg(wire: pyrtl.WireVector) -> pyrtl.WireVector:
    """-wire (signed), one bit wider."""
    bits = wire.bitwidth + 1
    return (pyrtl.Const(0, bits) - _sx(wire, bits))[:bits]


def _abs(wire: pyrtl.WireVector) -> pyrtl.WireVector:
    """|wire| of a signed wire, as an unsigned wire of the same width."""
    return pyrtl.select(wire[-1], _neg(wire)[:wire.bitwidth], wire)


def _smux(sel, true, false, bits: int) -> pyrtl.WireVector:
    return pyrtl.select(sel, _sx(true, bits), _sx(false, bits))


def _case(index: pyrtl.WireVector, table: dict[int, object], bits: int,
          signed: bool = True) -> pyrtl.WireVector:
    """table[index] (0 for missing entries), every entry extended to ``bits``."""
    ext = _sx if signed else _zx
    values = []
    for i in range(1 << index.bitwidth):
        value = table.get(i, 0)
        values.append(_const(value, bits) if isinstance(value, int) else ext(value, bits))
    return pyrtl.mux(index, *values)


def _max_u(*wires) -> pyrtl.WireVector:
    best = wires[0]
    for w in wires[1:]:
        best = pyrtl.select(w > best, w, best)
    return best


def _is_zero(wire: pyrtl.WireVector) -> pyrtl.WireVector:
    return wire == pyrtl.Const(0, wire.bitwidth)


def _is_ones(wire: pyrtl.WireVector) -> pyrtl.WireVector:
    return wire == pyrtl.Const((1 << wire.bitwidth) - 1, wire.bitwidth)


# ------------------------------------------------------------------------- rounding and fit

def _round_shift(scope: Scope, s: pyrtl.WireVector, k: pyrtl.WireVector,
                 rounding: pyrtl.WireVector) -> pyrtl.WireVector:
    """s / 2^k (s signed, k >= 0) rounded by ``rounding`` (ROUNDING_MODES index), exactly:
    floor, then + 1 by the half bit and the sticky bits below it.  One bit wider than s."""
    w = s.bitwidth
    km1 = (k - 1)[:k.bitwidth]                       # used only when k >= 1
    t = _sar(s, km1)
    half = t[0]
    floor = pyrtl.concat(t[-1], t[1:])               # s >> k, arithmetic
    below = ~_shl(_const(-1, w), km1)      # the k - 1 bits under half
    sticky = ~_is_zero(s & below)
    odd = floor[0]
    nearest_even = half & (sticky | odd)
    up = pyrtl.mux(rounding, nearest_even, half, pyrtl.Const(0, 1), pyrtl.Const(0, 1))
    rounded = _add(w + 1, floor, pyrtl.concat(pyrtl.Const(0, 1), up))
    return named(_smux(_is_zero(k), s, rounded, w + 1), scope("rounded"))


def _fit(scope: Scope, x: pyrtl.WireVector, fmt: FormatWires, word: int
         ) -> tuple[pyrtl.WireVector, pyrtl.WireVector]:
    """x (signed) fitted to the format's width by its overflow mode: (word-bit value,
    overflow flag).  Widths up to ``word`` (signed) or word - 1 (unsigned)."""
    width = _zx(fmt.width, _FRAC)
    p = pyrtl.select(fmt.signed, (width - 1)[:_FRAC], width)        # magnitude bits
    hi = _sar(x, p)
    fits = _is_zero(hi) | (fmt.signed & _is_ones(hi))
    pow_p = _shl(pyrtl.Const(1, word + 1), p)
    max_v = (pow_p - 1)[:word]
    min_v = pyrtl.select(fmt.signed, _neg(pow_p)[:word], pyrtl.Const(0, word))
    saturated = pyrtl.select(x[-1], min_v, max_v)
    keep = ~_shl(_const(-1, word), width)       # the low width bits
    low = x[:word] & keep
    sign = _shr(x[:word], (width - 1)[:_FRAC])[0]
    wrapped = pyrtl.select(fmt.signed & sign, low | ~keep, low)
    out_of_range = pyrtl.select(fmt.overflow, wrapped, saturated)
    value = pyrtl.select(fits, x[:word], out_of_range)
    return named(value, scope("fitted")), named(~fits, scope("overflow"))


def _combine(scope: Scope, terms, fmt_word: pyrtl.WireVector, clip: pyrtl.WireVector,
             w_int: int, word: int) -> tuple[pyrtl.WireVector, pyrtl.WireVector]:
    """R(sum of terms) in the format ``fmt_word``: the exact sum of (value, frac) terms
    rounded once and fitted.  With ``clip`` the result is min(max(t0, -t1), t1) instead
    of the sum.  Values are signed wires of at most w_int bits."""
    fmt = unpack_format(fmt_word)
    fd = _zx(fmt.frac, _FRAC)
    g = named(_max_u(*[f for _, f in terms], fd), scope("align_frac"))
    aligned = []
    for i, (value, frac) in enumerate(terms):
        shift = (g - frac)[:_FRAC]
        aligned.append(named(_shl(_sx(value, w_int), shift),
                             scope(f"term{i}")))
    total = _add(w_int, *aligned)
    # clip: low = max(t0, -t1), then min(low, t1)
    t0, t1 = aligned[0], aligned[1]
    neg_t1 = _neg(t1)
    low = _smux(pyrtl.signed_lt(t0, neg_t1), neg_t1, t0, w_int + 1)
    clipped = _smux(pyrtl.signed_lt(t1, low), t1, low, w_int + 1)
    s = named(_smux(clip, clipped, total, w_int + 1), scope("sum"))
    k = (g - fd)[:_FRAC]
    x = _round_shift(scope, s, k, fmt.rounding)
    return _fit(scope, x, fmt, word)


# ---------------------------------------------------------------------------- sub-units

def _xorshift32(x: pyrtl.WireVector) -> pyrtl.WireVector:
    x = x ^ pyrtl.concat(x[:32 - 13], pyrtl.Const(0, 13))
    x = x ^ x[17:].zero_extended(32)
    return x ^ pyrtl.concat(x[:32 - 5], pyrtl.Const(0, 5))


def _gaussian(scope: Scope, lane: pyrtl.WireVector):
    """The PRNG's Gaussian (docs/isa.md) for one element: (the lane after PRNG_DRAWS steps, N with
    NOISE_FRAC fraction bits as a signed wire)."""
    total = pyrtl.Const(0, 18)
    for _ in range(arch.PRNG_DRAWS):
        lane = _xorshift32(lane)
        total = (total + lane[16:])[:18]
    centred = _sub(20, _zx(total, 20), pyrtl.Const(arch.PRNG_DRAWS << 15, 20))
    prod = signed_product(centred, pyrtl.Const(arch.SQRT3_Q14, 16))     # 36 bits
    biased = _add(37, prod, pyrtl.Const(1 << 13, 16))
    g = pyrtl.shift_right_arithmetic(biased, 14)[:22]
    return named(lane, scope("lane_next")), named(g, scope("gaussian"))


def _tanh_term(scope: Scope, zp: pyrtl.WireVector, fpre: pyrtl.WireVector):
    """The tanh table interpolation (docs/isa.md) of one pre-activation value zp (frac fpre <= 48): (signed
    numerator, its frac wire)."""
    seg_frac, range_bits = arch.TANH_SEGMENT_FRAC, arch.TANH_RANGE_BITS
    table = [int(v) for v in arch.TANH_TABLE]
    last = len(table) - 1
    index_bits = (last - 1).bit_length()
    y_bits = max(table).bit_length()
    deltas = [table[i + 1] - table[i] for i in range(last)]
    assert min(deltas) >= 0
    d_bits = max(deltas).bit_length()
    rom = pyrtl.RomBlock(y_bits + d_bits, index_bits,
                         [table[i] | (deltas[i] << y_bits) for i in range(last)],
                         name=scope("tanh_rom"), asynchronous=True)
    u = _abs(zp)                                               # _OPND bits, unsigned
    fpre = _zx(fpre, _FRAC)
    small = fpre < seg_frac
    # fpre < seg_frac: clamp |z| to the table's end, then shift up to segment units
    end = _shl(pyrtl.Const(1, 16), (fpre + range_bits)[:_FRAC])
    clamped = pyrtl.select(u > end, _zx(end, u.bitwidth), u)
    up = (pyrtl.Const(seg_frac, _FRAC) - fpre)[:_FRAC]
    index_small = _shl(clamped[:16], up)
    # fpre >= seg_frac: segment = |z| >> (fpre - seg_frac), remainder below it
    seg = pyrtl.select(small, pyrtl.Const(0, _FRAC), (fpre - seg_frac)[:_FRAC])
    index_big = _shr(u, seg)
    rem_bits = MAX_DATA_FRAC - seg_frac
    below = ~_shl(_const(-1, u.bitwidth), seg)
    rem = pyrtl.select(small, pyrtl.Const(0, rem_bits), (u & below)[:rem_bits])
    index = pyrtl.select(small, _zx(index_small, u.bitwidth), index_big)
    beyond = index >= last
    entry = rom[index[:index_bits]]
    y0, delta = entry[:y_bits], entry[y_bits:]
    num_bits = arch.TANH_TABLE_FRAC + rem_bits + 2
    interp = _zx(_shl(_zx(y0, num_bits), seg), num_bits) + \
        _zx((delta * _decl(rem))[:d_bits + rem_bits], num_bits)
    one = _shl(pyrtl.Const(1, num_bits),
                                   (seg + arch.TANH_TABLE_FRAC)[:_FRAC])
    num = pyrtl.select(beyond, one, interp[:num_bits])
    signed_num = pyrtl.concat(pyrtl.Const(0, 1), num)
    value = _smux(zp[-1], _neg(signed_num), signed_num, num_bits + 2)
    frac = (seg + arch.TANH_TABLE_FRAC)[:_FRAC]
    return named(value, scope("tanh_num")), frac


def _sqrt_steps(rad, rem, root, steps: int):
    """``steps`` digit-by-digit square-root steps (two radicand bits each)."""
    rem_bits, root_bits = rem.bitwidth, root.bitwidth
    for _ in range(steps):
        rem2 = pyrtl.concat(rem, rad[-2:])
        rad = pyrtl.concat(rad[:-2], pyrtl.Const(0, 2))
        trial = pyrtl.concat(root, pyrtl.Const(1, 2))
        ge = rem2 >= trial
        rem = pyrtl.select(ge, (rem2 - trial)[:rem2.bitwidth], rem2)[:rem_bits]
        root = pyrtl.concat(root, ge)[:root_bits]
    return rad, rem, root


def _div_steps(num, rem, quo, den, steps: int):
    """``steps`` restoring-division steps (one quotient bit each)."""
    rem_bits, quo_bits = rem.bitwidth, quo.bitwidth
    for _ in range(steps):
        rem2 = pyrtl.concat(rem, num[-1])
        num = pyrtl.concat(num[:-1], pyrtl.Const(0, 1))
        ge = rem2 >= den
        rem = pyrtl.select(ge, (rem2 - den)[:rem2.bitwidth], rem2)[:rem_bits]
        quo = pyrtl.concat(quo, ge)[:quo_bits]
    return num, rem, quo


# ------------------------------------------------------------------------------ generator

@dataclass(frozen=True)
class ElementInputs:
    """The unit's inputs (wires).  All are read in the cycle ``start`` = 1 only.

    ``op``: OP_BITS (index into ELEMENT_OPS); ``a, b, d, e, c0, c1``: ``word`` bits, two's
    complement; ``fmt_*``: FORMAT_BITS descriptors (:func:`pack_format`); ``acc_bits``:
    ACC_BITS_BITS (acc_add's accumulator width); ``lane``: LANE_BITS (the element's PRNG
    lane, for noise and ou_noise)."""

    start: pyrtl.WireVector
    op: pyrtl.WireVector
    a: pyrtl.WireVector
    b: pyrtl.WireVector
    d: pyrtl.WireVector
    e: pyrtl.WireVector
    c0: pyrtl.WireVector
    c1: pyrtl.WireVector
    fmt_a: pyrtl.WireVector
    fmt_b: pyrtl.WireVector
    fmt_d: pyrtl.WireVector
    fmt_e: pyrtl.WireVector
    fmt_c: pyrtl.WireVector
    fmt_pre: pyrtl.WireVector
    acc_bits: pyrtl.WireVector
    lane: pyrtl.WireVector

    @staticmethod
    def widths(word: int) -> dict[str, int]:
        out = {"start": 1, "op": OP_BITS}
        out.update({name: word for name in ("a", "b", "d", "e", "c0", "c1")})
        out.update({f"fmt_{r}": FORMAT_BITS for r in ("a", "b", "d", "e", "c", "pre")})
        out.update({"acc_bits": ACC_BITS_BITS, "lane": LANE_BITS})
        return out


@dataclass(frozen=True)
class ElementOutputs:
    """The unit's outputs (registers, valid from the cycle ``done`` = 1 until the next
    result).

    ``done`` (1): pulses element_latency(op) cycles after start; ``d_out`` (word): the
    result written to dst; ``e_out`` (word): ou_noise's new OU state, range's new
    maximum, else the input e; ``lane_out`` (32): the lane after PRNG_DRAWS xorshift32
    steps (written back by noise and ou_noise only); ``sat_d`` (2): overflows counted
    against dst (0..2: drain with an activation counts the pre-activation and the
    output); ``sat_e`` (1): ou_noise's state overflow, counted against e."""

    done: pyrtl.WireVector
    d_out: pyrtl.WireVector
    e_out: pyrtl.WireVector
    lane_out: pyrtl.WireVector
    sat_d: pyrtl.WireVector
    sat_e: pyrtl.WireVector


def vector_unit(scope: Scope, *, word: int, acc_overflow: str,
                inputs: ElementInputs) -> ElementOutputs:
    """Elaborate the element unit in the working block, its wires named ``scope(...)``.

    ``word``: bits of the operand and result words (>= 49; accumulators of up to
    ``word`` bits); ``acc_overflow``: the machine's accumulator overflow mode (acc_add).
    """
    check_word(word)
    if acc_overflow not in OVERFLOW_MODES:
        raise ValueError(f"vector_unit: acc_overflow {acc_overflow!r} is not one of "
                         f"{', '.join(OVERFLOW_MODES)}")
    for name, bits in ElementInputs.widths(word).items():
        check_width(getattr(inputs, name), bits, f"vector_unit {scope.prefix}: {name}")
    w_int = internal_width(word)
    op_ix = OP_INDEX
    start = inputs.start

    # -- sequencing: latch everything at start; step 0 reads the live inputs
    def latched(name: str) -> pyrtl.WireVector:
        wire = getattr(inputs, name)
        reg = pyrtl.Register(wire.bitwidth, name=scope(f"{name}_q"))
        reg.next <<= pyrtl.select(start, wire, reg)
        current = pyrtl.select(start, wire, reg)
        # descriptors are only partly used by the datapath: not named (Verilator -Wall)
        return current if name.startswith("fmt_") else named(current, scope(f"{name}_cur"))

    op = latched("op")
    a, b, d, e, c0, c1 = (latched(n) for n in ("a", "b", "d", "e", "c0", "c1"))
    fmt_word = {r: latched(f"fmt_{r}") for r in ("a", "b", "d", "e", "c", "pre")}
    acc_bits = latched("acc_bits")
    lane = latched("lane")
    fmt = {r: unpack_format(w) for r, w in fmt_word.items()}

    step_q = pyrtl.Register(_STEP_BITS, name=scope("step_q"))
    busy = pyrtl.Register(1, name=scope("busy"))
    step = named(pyrtl.select(start, pyrtl.Const(0, _STEP_BITS), step_q), scope("step"))
    active = start | busy
    last = _case(op, {i: element_latency(n) - 1 for i, n in enumerate(ELEMENT_OPS)},
                 _STEP_BITS, signed=False)
    final = named(active & (step == last), scope("final"))
    step_q.next <<= (step + 1)[:_STEP_BITS]
    busy.next <<= active & ~final

    def is_op(name: str) -> pyrtl.WireVector:
        return op == op_ix[name]

    def at(k: int) -> pyrtl.WireVector:
        return step == k

    # -- operand views: data values as _OPND-bit signed wires, fracs as _FRAC bits
    A, B, D, E, C0, C1 = (_resize(w, _OPND) for w in (a, b, d, e, c0, c1))
    fa, fb, fc, fd, fe, fpre = (_zx(fmt[r].frac, _FRAC)
                                for r in ("a", "b", "c", "d", "e", "pre"))

    def fsum(*parts) -> pyrtl.WireVector:
        total = pyrtl.Const(0, _FRAC)
        for part in parts:
            part = pyrtl.Const(part, _FRAC) if isinstance(part, int) else _zx(part, _FRAC)
            total = (total + part)[:_FRAC]
        return total

    b_positive = ~b[-1] & ~_is_zero(b)

    # -- phase registers: step-0 rounder result (drain's pre-activation, ou_noise's
    #    state), adam_s's squares, the root and divider state
    p0_val = pyrtl.Register(word, name=scope("p0_value"))
    p0_ovf = pyrtl.Register(1, name=scope("p0_overflow"))
    sq_d = pyrtl.Register(_MUL_X, name=scope("square_d"))
    sq_a = pyrtl.Register(_MUL_X, name=scope("square_a"))
    rad = pyrtl.Register(2 * ROOT_BITS, name=scope("sqrt_radicand"))
    srem = pyrtl.Register(ROOT_BITS + 2, name=scope("sqrt_rem"))
    sroot = pyrtl.Register(ROOT_BITS, name=scope("sqrt_root"))
    dnum = pyrtl.Register(DIV_STEPS, name=scope("div_num"))
    drem = pyrtl.Register(_SCALAR, name=scope("div_rem"))
    dquo = pyrtl.Register(DIV_STEPS, name=scope("div_quo"))
    dden = pyrtl.Register(_SCALAR, name=scope("div_den"))
    dden_neg = pyrtl.Register(1, name=scope("div_den_neg"))
    dden_zero = pyrtl.Register(1, name=scope("div_den_zero"))

    # -- PRNG, tanh, derived operands
    lane_next, gauss = _gaussian(scope.sub("prng"), lane)
    zp = _resize(p0_val, _OPND)
    tanh_value, tanh_frac = _tanh_term(scope.sub("tanh"), zp, fpre)
    pow_fc = _shl(pyrtl.Const(1, _OPND), fc)
    one_minus_c = _sub(_OPND, pow_fc, C0)                           # 2^f(c) - c0
    # dact_tanh: t = max(2^(2 f(b)) - b^2, 0) <= 2^96, split at bit 48 for MA and MB
    t_bits = 2 * MAX_DATA_FRAC + 1
    b_sq = signed_product(B, B)[:t_bits + 1]
    one_y = _shl(pyrtl.Const(1, t_bits + 1), fsum(fb, fb))
    t_full = _sub(t_bits + 2, _zx(one_y, t_bits + 2), _zx(b_sq, t_bits + 2))
    t = pyrtl.select(t_full[-1], pyrtl.Const(0, t_bits), t_full[:t_bits])
    t_lo, t_hi = t[:MAX_DATA_WIDTH], t[MAX_DATA_WIDTH:]
    # adam_s: the root, rounded to nearest (no ties)
    root_nearest = _add(ROOT_BITS + 2, _zx(sroot, ROOT_BITS + 1),
                        _zx(srem > _zx(sroot, srem.bitwidth), 2))
    # adam_w: r = sign(m) * (num // den) as numpy computes it, den = wrap64(s + eps')
    quo_up = (dquo[:QUOTIENT_BITS] + ~_is_zero(drem))[:QUOTIENT_BITS + 1]   # ceil(num/|den|)
    floor_div = pyrtl.select(dden_neg, _neg(_zx(quo_up, _MUL_X - 1)),
                             _zx(dquo[:QUOTIENT_BITS], _MUL_X))     # num // den
    floor_div = pyrtl.select(dden_zero, pyrtl.Const(0, _MUL_X), floor_div)
    neg_ratio = pyrtl.select(A[-1], floor_div, _neg(floor_div)[:_MUL_X])   # -ratio

    # -- the two multipliers: x (64-bit) * y (50-bit), signed
    sel_adam_s_p0 = at(0)
    x_table = {
        op_ix["mul"]: A, op_ix["scale"]: A, op_ix["dact_leaky"]: A,
        op_ix["dact_tanh"]: _zx(t_lo, MAX_DATA_WIDTH + 1), op_ix["mse_grad"]: C0,
        op_ix["bellman"]: pyrtl.select(_is_zero(b), E, pyrtl.Const(0, _OPND)),
        op_ix["sgd"]: _neg(A), op_ix["momentum"]: D, op_ix["adam_m"]: D,
        op_ix["adam_s"]: _smux(sel_adam_s_p0, D, sq_d, _MUL_X),
        op_ix["adam_w"]: neg_ratio, op_ix["soft_update"]: A, op_ix["noise"]: gauss,
        op_ix["ou_noise"]: _neg(E), op_ix["drain_leaky_relu"]: zp,
    }
    y_table = {
        op_ix["mul"]: B, op_ix["scale"]: C0, op_ix["dact_leaky"]: C0, op_ix["dact_tanh"]: A,
        op_ix["mse_grad"]: A, op_ix["bellman"]: C0, op_ix["sgd"]: C0, op_ix["momentum"]: C0,
        op_ix["adam_m"]: C0, op_ix["adam_s"]: _smux(sel_adam_s_p0, D, C0, _OPND),
        op_ix["adam_w"]: C0, op_ix["soft_update"]: C0, op_ix["noise"]: C0,
        op_ix["ou_noise"]: C1, op_ix["drain_leaky_relu"]: C0,
    }
    xb_table = {
        op_ix["dact_tanh"]: _zx(t_hi, MAX_DATA_WIDTH + 2), op_ix["mse_grad"]: C0,
        op_ix["adam_m"]: A, op_ix["adam_s"]: _smux(sel_adam_s_p0, A, sq_a, _MUL_X),
        op_ix["soft_update"]: _neg(D), op_ix["ou_noise"]: gauss,
    }
    yb_table = {
        op_ix["dact_tanh"]: A, op_ix["mse_grad"]: _neg(B)[:_OPND], op_ix["adam_m"]: one_minus_c,
        op_ix["adam_s"]: _smux(sel_adam_s_p0, A, one_minus_c, _OPND),
        op_ix["soft_update"]: C0, op_ix["ou_noise"]: C0,
    }
    ma = named(signed_product(_case(op, x_table, _MUL_X), _case(op, y_table, _OPND)),
               scope("mul_a"))
    mb = named(signed_product(_case(op, xb_table, _MUL_X), _case(op, yb_table, _OPND)),
               scope("mul_b"))
    mb_hi = pyrtl.concat(mb[:2 * MAX_DATA_WIDTH + 2], pyrtl.Const(0, MAX_DATA_WIDTH))

    # -- the terms and the target format of the rounder, per op and step
    fmt_v = pack_format_wires(_SCALAR, 0, 1, fmt["d"].rounding, OVERFLOW_MODES.index("saturate"))
    fmt_eps = pack_format_wires(_SCALAR, fmt["b"].frac, 1, ROUNDING_MODES.index("nearest_even"),
                                OVERFLOW_MODES.index("saturate"))
    fmt_acc = pack_format_wires(acc_bits, 0, 1, ROUNDING_MODES.index("truncate"),
                                OVERFLOW_MODES.index(acc_overflow))
    fb_drain = pyrtl.select(fb > fa, fa, fb)                  # no bias: b = 0, any frac
    leaky_neg = zp[-1]
    relu_zp = pyrtl.select(leaky_neg, pyrtl.Const(0, _OPND), zp)
    drain0 = [(a, fa), (b, fb_drain)]
    nothing = (pyrtl.Const(0, 1), pyrtl.Const(0, _FRAC))

    def by_step(k: int, first, then):
        return [(_smux(at(k), v0, v1, w_int), pyrtl.select(at(k), f0, f1))
                for (v0, f0), (v1, f1) in zip(first, then)]

    plans: dict[str, tuple[list, object]] = {
        "copy": ([(a, fa)], fmt_word["d"]),
        "add": ([(a, fa), (b, fb)], fmt_word["d"]),
        "sub": ([(a, fa), (_neg(b), fb)], fmt_word["d"]),
        "mul": ([(ma, fsum(fa, fb))], fmt_word["d"]),
        "scale": ([(ma, fsum(fa, fc))], fmt_word["d"]),
        "fill": ([(c0, fc)], fmt_word["d"]),
        "clip": ([(a, fa), (c0, fc)], fmt_word["d"]),
        "dact_relu": ([(pyrtl.select(b_positive, A, pyrtl.Const(0, _OPND)), fa)],
                      fmt_word["d"]),
        "dact_leaky": ([(_smux(b_positive, A, ma, ma.bitwidth),
                         pyrtl.select(b_positive, fa, fsum(fa, fc)))], fmt_word["d"]),
        "dact_tanh": ([(ma, fsum(fa, fb, fb)), (mb_hi, fsum(fa, fb, fb))], fmt_word["d"]),
        "mse_grad": ([(ma, fsum(fa, fc)), (mb, fsum(fb, fc))], fmt_word["d"]),
        "bellman": ([(a, fa), (ma, fsum(fe, fc))], fmt_word["d"]),
        "sgd": ([(d, fd), (ma, fsum(fa, fc))], fmt_word["d"]),
        "momentum": ([(ma, fsum(fd, fc)), (a, fa)], fmt_word["d"]),
        "adam_m": ([(ma, fsum(fd, fc)), (mb, fsum(fa, fc))], fmt_word["d"]),
        "adam_s": (by_step(1, [(ma, fc), (mb, fc)], [(root_nearest, fd), nothing]),
                   pyrtl.select(at(1), fmt_v, fmt_word["d"])),
        "adam_w": (by_step(0, [(c1, fc), nothing],
                           [(d, fd), (ma, fsum(arch.RATIO_FRAC, fc))]),
                   pyrtl.select(at(0), fmt_eps, fmt_word["d"])),
        "soft_update": ([(d, fd), (ma, fsum(fa, fc)), (mb, fsum(fd, fc))], fmt_word["d"]),
        "noise": ([(a, fa), (ma, fsum(arch.NOISE_FRAC, fc))], fmt_word["d"]),
        "ou_noise": (by_step(0, [(e, fe), (ma, fsum(fe, fc)),
                                 (mb, fsum(arch.NOISE_FRAC, fc))],
                             [(a, fa), (p0_val, fe), nothing]),
                     pyrtl.select(at(0), fmt_word["e"], fmt_word["d"])),
        "acc_add": ([(d, pyrtl.Const(0, _FRAC)), (a, pyrtl.Const(0, _FRAC))], fmt_acc),
        "drain_identity": (drain0, fmt_word["d"]),
        "drain_relu": (by_step(0, drain0, [(relu_zp, fpre), nothing]),
                       pyrtl.select(at(0), fmt_word["pre"], fmt_word["d"])),
        "drain_tanh": (by_step(0, drain0, [(tanh_value, tanh_frac), nothing]),
                       pyrtl.select(at(0), fmt_word["pre"], fmt_word["d"])),
        "drain_leaky_relu": (by_step(0, drain0, [(_smux(leaky_neg, ma, zp, ma.bitwidth),
                                                  pyrtl.select(leaky_neg, fsum(fpre, fc),
                                                               fpre)), nothing]),
                             pyrtl.select(at(0), fmt_word["pre"], fmt_word["d"])),
    }
    terms = []
    for slot in range(3):
        values, fracs = {}, {}
        for name, (slots, _) in plans.items():
            if slot < len(slots):
                values[op_ix[name]], fracs[op_ix[name]] = slots[slot]
        terms.append((named(_case(op, values, w_int), scope(f"slot{slot}_value")),
                      named(_case(op, fracs, _FRAC, signed=False), scope(f"slot{slot}_frac"))))
    target = named(_case(op, {op_ix[n]: f for n, (_, f) in plans.items()}, FORMAT_BITS,
                         signed=False), scope("target_format"))
    # the rounder's result has at least 64 bits (adam's int64 v and eps'); d_out has word
    w_out = max(word, _SCALAR)
    full, overflow = _combine(scope.sub("round"), terms, target, is_op("clip"), w_int, w_out)
    value = named(full[:word], scope("value"))

    # -- step-0 results and the iterative units
    p0_val.next <<= pyrtl.select(start, value, p0_val)
    p0_ovf.next <<= pyrtl.select(start, overflow, p0_ovf)
    sq_d.next <<= pyrtl.select(start, ma[:_MUL_X], sq_d)
    sq_a.next <<= pyrtl.select(start, mb[:_MUL_X], sq_a)

    # square root: load v at adam_s step 1 (a negative v is an error in golden: 0 here)
    v = pyrtl.select(full[w_out - 1], pyrtl.Const(0, 2 * ROOT_BITS), full[:2 * ROOT_BITS])
    load_root = busy & is_op("adam_s") & at(1)
    run_root = busy & is_op("adam_s") & (step >= 2)
    n_rad, n_rem, n_root = _sqrt_steps(rad, srem, sroot, SQRT_BITS_PER_CYCLE)
    rad.next <<= pyrtl.select(load_root, v, pyrtl.select(run_root, n_rad, rad))
    srem.next <<= pyrtl.select(load_root, pyrtl.Const(0, srem.bitwidth),
                               pyrtl.select(run_root, n_rem, srem))
    sroot.next <<= pyrtl.select(load_root, pyrtl.Const(0, ROOT_BITS),
                                pyrtl.select(run_root, n_root, sroot))

    # divider: load at adam_w step 0 (the start cycle) from eps' (the rounder's value)
    eps = full[:_SCALAR]
    eps_one = pyrtl.select(pyrtl.signed_lt(eps, pyrtl.Const(1, _SCALAR)),
                           pyrtl.Const(1, _SCALAR), eps)
    den = _add(_SCALAR, _resize(b, _SCALAR), eps_one)                       # int64 wrap, as golden
    shift = (pyrtl.Const(arch.RATIO_FRAC, _FRAC) + fb - fa)[:_FRAC]
    num = _zx(_shl(_zx(_abs(A), QUOTIENT_BITS), shift), DIV_STEPS)
    load_div = start & is_op("adam_w")
    run_div = busy & is_op("adam_w")
    n_num, n_drem, n_quo = _div_steps(dnum, drem, dquo, dden, DIV_BITS_PER_CYCLE)
    dnum.next <<= pyrtl.select(load_div, num, pyrtl.select(run_div, n_num, dnum))
    drem.next <<= pyrtl.select(load_div, pyrtl.Const(0, _SCALAR),
                               pyrtl.select(run_div, n_drem, drem))
    dquo.next <<= pyrtl.select(load_div, pyrtl.Const(0, DIV_STEPS),
                               pyrtl.select(run_div, n_quo, dquo))
    dden.next <<= pyrtl.select(load_div, _abs(den), dden)
    dden_neg.next <<= pyrtl.select(load_div, den[-1], dden_neg)
    dden_zero.next <<= pyrtl.select(load_div, _is_zero(den), dden_zero)

    # -- results
    one_d = _shl(pyrtl.Const(1, word), fd)
    neg_one_d = _neg(one_d)[:word]
    clamp_hi = pyrtl.select(pyrtl.signed_lt(one_d, value), one_d, value)
    clamped = pyrtl.select(pyrtl.signed_lt(clamp_hi, neg_one_d), neg_one_d, clamp_hi)
    noisy = is_op("noise") | is_op("ou_noise")
    is_range = is_op("range")
    d_min = pyrtl.select(pyrtl.signed_lt(a, d), a, d)
    e_max = pyrtl.select(pyrtl.signed_lt(e, a), a, e)
    d_val = pyrtl.select(is_range, d_min, pyrtl.select(noisy, clamped, value))
    e_val = pyrtl.select(is_range, e_max, pyrtl.select(is_op("ou_noise"), p0_val, e))
    two_roundings = is_op("drain_relu") | is_op("drain_tanh") | is_op("drain_leaky_relu")
    sat_d_val = pyrtl.select(is_range, pyrtl.Const(0, 2),
                             (_zx(overflow, 2) + _zx(p0_ovf & two_roundings, 2))[:2])
    sat_e_val = p0_ovf & is_op("ou_noise")

    outs = {}
    for name, val in (("d_out", d_val), ("e_out", e_val), ("lane_out", lane_next),
                      ("sat_d", sat_d_val), ("sat_e", sat_e_val)):
        reg = pyrtl.Register(val.bitwidth, name=scope(name))
        reg.next <<= pyrtl.select(final, val, reg)
        outs[name] = reg
    done = pyrtl.Register(1, name=scope("done"))
    done.next <<= final
    return ElementOutputs(done=done, **outs)


# --------------------------------------------------------------------------- build and run

@dataclass(frozen=True)
class VectorUnitDesign:
    """An element unit elaborated alone in its own block, with named top-level ports
    (``port(name)``: ``<name>_<input or output>``, e.g. ``vu_start``, ``vu_d_out``)."""

    block: pyrtl.Block = field(repr=False)
    word: int
    acc_overflow: str
    name: str
    internal_width: int
    latency: dict = field(default_factory=dict)

    def port(self, what: str) -> str:
        return f"{self.name}_{what}"


OUTPUT_WIDTHS = {"done": 1, "lane_out": LANE_BITS, "sat_d": 2, "sat_e": 1}


def build_vector_unit(word: int, acc_overflow: str = "saturate", scope: str = "vu"
                      ) -> tuple[pyrtl.Block, VectorUnitDesign]:
    """The element unit alone in a fresh block, its inputs and outputs as ports named
    ``<scope>_<port>`` (ElementInputs / ElementOutputs field names)."""
    sc = Scope(scope)
    with fresh_block() as block:
        ins = ElementInputs(**{name: pyrtl.Input(bits, name=sc(name))
                               for name, bits in ElementInputs.widths(word).items()})
        outs = vector_unit(sc.sub("core"), word=word, acc_overflow=acc_overflow, inputs=ins)
        for name in ("done", "d_out", "e_out", "lane_out", "sat_d", "sat_e"):
            reg = getattr(outs, name)
            port = pyrtl.Output(reg.bitwidth, name=sc(name))
            port <<= reg
    design = VectorUnitDesign(block, word, acc_overflow, scope, internal_width(word),
                              {op: element_latency(op) for op in ELEMENT_OPS})
    return block, design


@dataclass(frozen=True)
class ElementResult:
    """What one element computation returned (signed ints) and its measured latency."""

    d: int
    e: int
    lane: int
    sat_d: int
    sat_e: int
    cycles: int


def run_element(sim, design: VectorUnitDesign, op: str, *, a: int = 0, b: int = 0,
                d: int = 0, e: int = 0, c0: int = 0, c1: int = 0,
                formats: dict[str, FixedFormat] | None = None, acc_bits: int = 2,
                lane: int = 1, garbage: int = 0, max_cycles: int = 4 * MAX_LATENCY
                ) -> ElementResult:
    """Drive one element through a simulation of ``design`` (start with the operands,
    then idle cycles whose inputs carry ``garbage`` until done) and read the results.
    ``formats`` maps a, b, c, d, e, pre to FixedFormats (missing ones: Q2.0)."""
    word = design.word
    formats = formats or {}
    default = FixedFormat(2, 0)
    values = {"start": 1, "op": OP_INDEX[op], "acc_bits": acc_bits,
              "lane": lane & 0xFFFFFFFF}
    for name, value in (("a", a), ("b", b), ("d", d), ("e", e), ("c0", c0), ("c1", c1)):
        values[name] = to_unsigned(value, word)
    for role in ("a", "b", "c", "d", "e", "pre"):
        values[f"fmt_{role}"] = pack_format(formats.get(role, default))
    widths = ElementInputs.widths(word)
    idle = {name: (garbage * 0x9E3779B97F4A7C15 + i) & ((1 << bits) - 1)
            for i, (name, bits) in enumerate(widths.items())}
    idle["start"] = 0
    idle["op"] = idle["op"] % len(ELEMENT_OPS)
    sim.step({design.port(k): v for k, v in values.items()})
    for cycle in range(1, max_cycles + 1):
        sim.step({design.port(k): v for k, v in idle.items()})
        if sim.inspect(design.port("done")):
            return ElementResult(to_signed(sim.inspect(design.port("d_out")), word),
                                 to_signed(sim.inspect(design.port("e_out")), word),
                                 sim.inspect(design.port("lane_out")),
                                 sim.inspect(design.port("sat_d")),
                                 sim.inspect(design.port("sat_e")), cycle)
    raise RuntimeError(f"run_element: {op} not done after {max_cycles} cycles")


__all__ = ["ELEMENT_OPS", "OP_BITS", "OP_INDEX", "FORMAT_FIELDS", "FORMAT_BITS",
           "ACC_BITS_BITS", "LANE_BITS", "OPERAND_ROLES", "ElementInputs", "ElementOutputs",
           "ElementResult", "FormatWires", "VectorUnitDesign", "build_vector_unit",
           "check_supported", "element_latency", "internal_width", "pack_format",
           "pack_format_wires", "run_element", "unpack_format", "unpack_format_value",
           "vector_unit"]
