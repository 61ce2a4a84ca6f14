"""The core's element unit: one lane of the vector unit, bit-exact with the golden model.

The core's controller issues the elements of a ``vec`` (:class:`~fixar_gen.isa.Vector`)
or ``drain`` (:class:`~fixar_gen.isa.Drain`) instruction one step a cycle: for each
element it reads the operands and hands them to this unit with ``start`` = 1 together
with the operands' formats (runtime inputs, from the program's buffer table); the unit
is a pipeline and returns the element :func:`element_latency` cycles later (``done`` =
1): :data:`LANE_DEPTH` for most operations, :data:`SHORT_DEPTH` for the
:data:`SHORT_OPS` (final after the first rounding), computed exactly as
:mod:`fixar_gen.golden` computes it, with the overflows it counts.  A new element may
start every cycle, whatever the operations, as long as no element of the other latency
is in flight (the core runs one instruction at a time: a short one's elements and a
long one's never share the pipeline).

Operations (``op``, :data:`ELEMENT_OPS`): the operations of :mod:`fixar_gen.ops`, the
vector functions in ``Vector.fn`` order (so ``op == Vector.fn``), then ``drain_<act>``
(so ``op == len(VECTOR_FUNCTIONS) + Drain.act``).  What each feeds the shared datapath
below (multipliers, rounders, clamps) is its plan in :mod:`fixar_gen.hw.lane_plans`;
the multiplexers here are built from the plans.  A core's lane 0 runs them all; its
other lanes (``serial_outputs`` False) run :data:`PARALLEL_OPS`: the serial functions
(``noise``, ``ou_noise``: one element a step, lane 0 only) and the folded ``range``
never start there, so those lanes are built without the PRNG's draws and Gaussian,
the noise clamps, ou_noise's state and those functions' operand and term choices
(examples/fixar_u50.yaml's: 15,806 LUT against lane 0's 17,122, 37 DSP48E2 against 38;
docs/hardware.md, "Lanes other than lane 0").

Pipeline (:data:`PIPELINE_STAGES`, one register stage each; every operand a
``word``-bit two's-complement integer; the widths below are the widest lane's, a lane
generated for a spec's formats (:class:`~fixar_gen.hw.lane_limits.LaneLimits`) is
narrower)::

    in      the inputs, registered
    sq      the squares' digit products (adam_s: d^2, a^2; dact_tanh: b^2), one
            DSP48E2 each; the PRNG's draws (each bit one flat XOR of the lane's),
            summed and centred
    sqp     the digit products' second register (a DSP48E2's MREG and PREG); the
            centred sum times sqrt(3) (one DSP48E2), registered
    sqsum   the squares' digit products summed in groups; that product registered
            again (its MREG and PREG)
    pre     the squares; 1 - y^2; 2^f(c) - c0; the PRNG Gaussian (the product rounded)
    mulop   MA, MB's operands (64 x 50-bit signed) selected by the operation
    mul     their digit products (26 x 17 bits, one DSP48E2 each), registered
    mulp    registered again (MREG and PREG)
    macc1, macc2  the digit products summed in three groups, then the groups
    sel1    up to three terms (value, frac) and the target format [muxed by op]
    amt1    G = max(fracs, f(target)) and each term's shift
    align1  the terms aligned at G (each slot's shifter sized by the values and the
            shifts its operations can have: :func:`_shift_bounds`)
    sum1    the aligned terms summed exactly (or clip's choice)
    rnda1   the sum shifted down (floor), half and sticky bits (2 sum >> k: no
            k - 1, no multiplexer for k = 0); the floor's low bits only, as many as
            the rounder's widest target format needs plus 2 (the second rounder's
            targets are data formats: 34 bits of a 123-bit sum in fixar_u50's
            lane), the rest as two zero tests (all 0, all 1); the fit's masks
    rnd1    the rounding increment added (the target's mode; at the result's width);
            whether the rounded value fits and its bit p (the fit's tests, a stage
            ahead of the fit), from the floor and the increment beside the adder
    round1  the rounded value fitted (saturate or wrap, overflow flag): every
            single-rounding function's result; drain's pre-activation, ou_noise's
            state, adam_s's v, adam_w's eps'
    prep    noise clamp, range min/max; the root's radicand, the divider's numerator
            and denominator
    iter1..32  square root of v (1 root bit a stage) and the divider num // den
            (2 quotient bits a stage; iter1 only shifts out the numerator's two
            zero bits), unrolled, steps whose remainders grow a bit a step (each
            subtracts at the width it can reach): the root's non-restoring, the
            divider's restoring, then non-restoring from half the denominator's
            width on; tanh's |z| and
            table-end mask (iter30), its table index (iter31) and its table entry
            (iter32)
    mul2    the rounded root; -ratio (adam_w: its part quo ^ negate) or the
            pre-activation (leaky ReLU) for the third multiplier; the remainder's
            zero-test parts (-ratio's other part, 0 or 1, times alpha: chosen in
            mul2pp, added in mul2acc2); tanh's table entry split
    mul2pp, mul2p, mul2acc1, mul2acc2  the third multiplier (digit products,
            registered twice, then their sums) times alpha or the slope; tanh's slope x remainder, interpolation
            and sign
    sel2 .. fit2, out  the second rounding (adam_s, adam_w, ou_noise, drains with an
            activation) as sel1 .. round1, ou_noise's clamp; the output registers

``R(terms, fmt)`` -- round the exact sum once, fit, count -- is golden's
:func:`fixar_gen.exact.combine`; every intermediate is exact (the width bound below).

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

Latency (:func:`element_latency`): :data:`LANE_DEPTH` = 63 cycles from ``start`` to
``done`` for every operand; the :data:`SHORT_OPS`, whose result is final after the
first rounding (no second rounding, no root or divider), leave the pipeline from its
``prep`` stage straight into the output registers: :data:`SHORT_DEPTH` = 19 cycles.  An
element of the other latency must not be in flight when one starts (their outputs would
meet in the output registers).  ``done`` and the outputs are valid in that one cycle
(the output registers take the next element's values in the next cycle).
The valid bits (:data:`VALID_KEYS`) have a reset; every other register is data
(:func:`~fixar_gen.hw.build.data_register`): those that only feed the next stage's
register are written to Verilog without one, so that synthesis maps the delay lines to
shift registers, and the last of each line (read by logic) stays a flip-flop.

Supported formats (:func:`check_supported` refuses the rest with a clear message); the
limits are the lane's :class:`~fixar_gen.hw.lane_limits.LaneLimits` (decided at
elaboration from the spec, :func:`fixar_gen.hw.design.lane_limits`), at most:

- data operands and destinations (a, b, d, e and the pre-activation format):
  width 1..48 (signed 2..48), 0 <= frac <= 48 (fracs are >= 0: a hardware limit;
  golden allows negative ones; the descriptor's fields hold width and frac up to 127);
  constants (c): the same, and at most ``const_int`` integer bits;
- accumulators (drain's a, acc_add's d and a): 0 <= frac <= 96, values of at most
  ``acc_bits <= word`` bits; ``word >= 49`` (a 48-bit unsigned value);
- ``adam_s``: d and a of at most 31 magnitude bits (signed width <= 32, unsigned <= 31):
  golden squares them in int64 (beyond that golden's d*d wraps);
- ``drain_tanh``: a pre-activation frac <= 38 (golden's tanh table is int64: beyond it
  ``T[i] << (frac - 6)`` wraps or ``2^(24 + frac)`` overflows; the unit itself is exact
  to 48).

Within those limits every intermediate is exact with :func:`internal_width` bits: the
widest aligned term of any operation (:func:`term_bounds`, from the limits) plus 2 bits
for a sum of three terms and 1 for the rounding increment.  The widest lane: 149 bits
for words up to 97 bits (adam_m's product of a 48-bit value and 2^f(c) - c0 aligned by
48), ``word + 51`` beyond (an accumulator aligned by 48).  adam_w's divider is as wide
as its denominator can be (``den_bits``: 64, golden's int64, in the widest lane); its
remainder, and the root's, only as wide as the steps so far can make it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pyrtl

from .. import arch, ops
from ..numerics import OVERFLOW_MODES, ROUNDING_MODES, FixedFormat
from .build import (Scope, any_bit, check_width, data_register, fresh_block, named,
                    to_signed, to_unsigned)
from .lane_wires import (FORMAT_BITS, FORMAT_FIELDS, FRAC, MAX_DATA_FRAC, MAX_DATA_WIDTH,
                         MUL_X, OPND, SCALAR, decl as _decl, fsum as _fsum, is_zero as _is_zero, neg as _neg,
                         resize as _resize, smux as _smux, sx as _sx, zx as _zx)
from .lane_bounds import bounded_shl, drivers, evaluate, grid, reached
from .lane_limits import WIDEST, LaneLimits
from .lane_plans import ADAM_S_MAGNITUDE_BITS, PLANS, TANH_MAX_PRE_FRAC, Stage, wires_read
from .lane_slots import assign_slots
from .multiply import group_terms, product_terms, sum_terms

# ---------------------------------------------------------------------------- the interface

#: the element operations; the index is the ``op`` input
ELEMENT_OPS: tuple[str, ...] = tuple(op.name for op in ops.ELEMENT)
OP_BITS = max(1, (len(ELEMENT_OPS) - 1).bit_length())
OP_INDEX = {name: i for i, name in enumerate(ELEMENT_OPS)}
DRAIN_OPS = tuple(op.name for op in ops.DRAIN)
#: the operations a core's lanes other than lane 0 run: not the serial functions (one
#: element a step, in lane 0) nor the folded ``range`` (the controller's fold, no lane)
PARALLEL_OPS: tuple[str, ...] = tuple(
    name for name in ELEMENT_OPS
    if name not in ops.names(issue="serial") + ops.names(issue="folded"))


def lane_operations(serial_outputs: bool = True, functions=None) -> tuple[str, ...]:
    """The operations a lane is built with: lane 0 (``serial_outputs``) every one, the
    others :data:`PARALLEL_OPS`; with ``functions`` (a design's element functions,
    ``CoreConfig.functions``) only those of them, lane 0 keeping the serial and folded
    ones (its PRNG and the controller's paths are there whatever the programs)."""
    base = ELEMENT_OPS if serial_outputs else PARALLEL_OPS
    if functions is None:
        return base
    unknown = sorted(set(functions) - set(ELEMENT_OPS))
    if unknown:
        raise ValueError(f"lane_operations: {', '.join(unknown)} is not an element "
                         f"operation ({', '.join(ELEMENT_OPS)})")
    return tuple(n for n in base if n in functions or n not in PARALLEL_OPS)


ACC_BITS_BITS = 7                        # the acc_bits input (acc_add's accumulator width)
LANE_BITS = 32                           # one xorshift32 PRNG lane

#: the limits check_supported enforces (the exactness bound of the datapath)
MAX_ACC_FRAC = 2 * MAX_DATA_FRAC
MIN_WORD = MAX_DATA_WIDTH + 1                # a 48-bit unsigned value

#: the square root and the divider, unrolled over ITER_STAGES pipeline stages
ROOT_BITS = 32                           # floor(sqrt(v)) for v < 2^63
QUOTIENT_BITS = 62                       # |m| << shift < 2^62 (golden's adam_w condition)
DIV_BITS_PER_STAGE = 2                   # quotient bits (division steps) per stage
SQRT_STEPS_PER_STAGE = 1                 # root bits per stage
ITER_STAGES = max(-(-QUOTIENT_BITS // DIV_BITS_PER_STAGE),
                  -(-ROOT_BITS // SQRT_STEPS_PER_STAGE))
DIV_STEPS = ITER_STAGES * DIV_BITS_PER_STAGE    # the divider's registers (leading zeros)
#: a product's digit terms are summed in this many groups (one stage), then the groups
#: (the next): two adder levels a stage
PRODUCT_GROUPS = 3

#: the pipeline's stages (the module docstring): each of a few LUT levels between
#: registers, every multiply a set of digit products of one DSP48E2 each, registered
#: a rounder's stages (:func:`_rounder`), ``<name><n>`` for the first (n = 1) and the
#: second (n = 2) rounder (the first's fit stage is ``round1``, the second's ``fit2``)
ROUNDER_STAGES = ("sel", "amt", "align", "sum", "rnda", "rnd", "fit")


def _rounder_stage(stage: str, n: int) -> str:
    return "round1" if (stage, n) == ("fit", 1) else f"{stage}{n}"


PIPELINE_STAGES = (
    ("in", "sq", "sqp", "sqsum", "pre", "mulop", "mul", "mulp", "macc1", "macc2")
    + tuple(_rounder_stage(stage, 1) for stage in ROUNDER_STAGES) + ("prep",)
    + tuple(f"iter{k}" for k in range(1, ITER_STAGES + 1))
    + ("mul2", "mul2pp", "mul2p", "mul2acc1", "mul2acc2")
    + tuple(_rounder_stage(stage, 2) for stage in ROUNDER_STAGES) + ("out",))
#: cycles from an element's ``start`` to its ``done``, every operation but the short ones
LANE_DEPTH = len(PIPELINE_STAGES)
#: the operations whose result is final after the first rounding: pipelined (not serial
#: nor folded) and without a second rounding (so without the root and the divider, which
#: only feed it); they leave from ``prep`` into the output registers
SHORT_OPS: tuple[str, ...] = tuple(
    name for name in ELEMENT_OPS
    if PLANS[name].round2 is None
    and name not in ops.names(issue="serial") + ops.names(issue="folded"))
#: cycles from a short operation's ``start`` to its ``done``: through ``prep``, then the
#: output registers
SHORT_DEPTH = PIPELINE_STAGES.index("prep") + 2

_OPND, _MUL_X, _FRAC, _SCALAR = OPND, MUL_X, FRAC, SCALAR


def is_short(op: pyrtl.WireVector) -> pyrtl.WireVector:
    """1 while the operation index ``op`` names one of the :data:`SHORT_OPS` (the core's
    and the stand-in lane's latency choice; the lane itself compares only its own
    operations)."""
    return any_bit(op == OP_INDEX[name] for name in SHORT_OPS)


def element_latency(op: str) -> int:
    """Cycles from ``start`` to ``done`` for ``op`` (the same for every operand):
    :data:`SHORT_DEPTH` for the :data:`SHORT_OPS`, else :data:`LANE_DEPTH`."""
    if op not in OP_INDEX:
        raise ValueError(f"element_latency: {op!r} is not one of {', '.join(ELEMENT_OPS)}")
    return SHORT_DEPTH if op in SHORT_OPS else LANE_DEPTH


MAX_LATENCY = LANE_DEPTH


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


def with_rounding(wire: pyrtl.WireVector, rounding: str) -> pyrtl.WireVector:
    """A descriptor wire with its rounding field replaced by the mode ``rounding`` (a
    constant)."""
    check_width(wire, FORMAT_BITS, "with_rounding")
    parts, pos = [], 0
    for name, bits in FORMAT_FIELDS:
        parts.append(pyrtl.Const(ROUNDING_MODES.index(rounding), bits) if name == "rounding"
                     else wire[pos:pos + bits])
        pos += bits
    return pyrtl.concat_list(parts)


def _declared_rounding(name: str, plan: tuple, writes_d: bool) -> tuple:
    """A rounder's plan (terms, target) of operation ``name``, its target given the
    operation's own rounding (its declaration's ``rounding``) when this rounding writes
    d; unchanged otherwise."""
    rounding = ops.BY_NAME[name].rounding
    if rounding is None or not writes_d:
        return plan
    terms, target = plan
    return terms, with_rounding(target, rounding)


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
#: accumulators (the unit ignores formats an operation does not use); from the
#: operations' declarations (:mod:`fixar_gen.ops`)
OPERAND_ROLES: dict[str, dict[str, str]] = {op.name: op.lane_roles for op in ops.ELEMENT}


def check_supported(op: str, *, word: int, fmt_a: FixedFormat | None = None,
                    fmt_b: FixedFormat | None = None, fmt_c: FixedFormat | None = None,
                    fmt_d: FixedFormat | None = None, fmt_e: FixedFormat | None = None,
                    fmt_pre: FixedFormat | None = None, acc_bits: int | None = None,
                    limits: LaneLimits = WIDEST) -> None:
    """Refuse (ValueError) an element operation whose formats are outside what a unit of
    ``word`` bits computes exactly.  Pass the formats the operation reads
    (:data:`OPERAND_ROLES`; a drain without bias may omit fmt_b); for accumulators
    (drain's a, acc_add's d and a) pass the buffer's format (its frac matters) and, for
    acc_add, ``acc_bits``; ``limits``: what the lane was generated for (the widest lane
    by default)."""
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
        problem = limits.refuse(role, kind, fmt)
        if problem:
            raise ValueError(f"element unit: {what} is outside the exact datapath: {problem}")
    if OPERAND_ROLES[op]["d"] == "acc":          # d + a fitted to acc_bits (acc_add)
        if acc_bits is None or not 2 <= acc_bits <= word:
            raise ValueError(f"element unit: {op} needs acc_bits in 2..{word} (the word), "
                             f"got {acc_bits}")
    elif acc_bits is not None and not 2 <= acc_bits <= word:
        raise ValueError(f"element unit: accumulators of {acc_bits} bits do not fit the "
                         f"{word}-bit word (need 2..{word})")
    limits = PLANS[op].limits
    if limits is not None:
        problem = limits(given_)
        if problem:
            raise ValueError(f"element unit: {problem}")


def check_word(word: int) -> None:
    if isinstance(word, bool) or not isinstance(word, int) or word < MIN_WORD:
        raise ValueError(f"element unit: word {word!r} must be an integer >= {MIN_WORD} "
                         f"(it carries {MAX_DATA_WIDTH}-bit unsigned data values)")


def internal_width(word: int, limits: LaneLimits = WIDEST) -> int:
    """Bits of the aligned-sum datapath (W_INT) that make every operation exact for the
    formats ``limits`` allows: the largest |term| * 2^(G - frac) over the operations'
    terms (:func:`term_bounds`), plus 2 bits for a sum of three terms and 1 for the
    rounding increment."""
    check_word(word)
    return max(term_bounds(word, limits).values()) + 3


def term_bounds(word: int, limits: LaneLimits = WIDEST) -> dict[str, int]:
    """Per operation, the signed bits of its widest aligned term (value times
    2^(G - frac), G the largest frac of the sum and its target) for formats within
    ``limits``.  Magnitudes: a data value < 2^W, a constant < 2^Wc, 2^f(c) - c0 <=
    2^max(Wc, Fc), PRNG Gaussian < 2^21, adam_w's ratio < 2^62 (golden's condition),
    adam_s's squares <= 2^(2 m) (m = min(31, W))."""
    W, F = limits.data_width, limits.data_frac
    Wc, Fc, FA = limits.const_width, limits.const_frac, limits.acc_frac
    oc = max(Wc, Fc) + 1                         # |2^f(c) - c0| < 2^oc
    nf, g = arch.NOISE_FRAC, 21
    m = min(ADAM_S_MAGNITUDE_BITS, W)
    seg = max(F - arch.TANH_SEGMENT_FRAC, 0)
    # an operand aligned to a product's frac (sgd, momentum, bellman, soft_update) or a
    # product aligned to the target's frac
    operand_and_product = max(W + F + Fc, W + Wc + F) + 1
    return {
        "copy, add, sub, abs, dact_relu": W + F + 1,
        "mul": 2 * W + F + 1,
        "scale, dact_leaky, mse_grad, drain_leaky_relu": W + Wc + F + 1,
        "fill, adam_w's eps": Wc + F + 1,
        "clip": max(W + max(Fc, F), Wc + F) + 1,
        # |a| (1 - y^2) < 2^(W + 2 f(b)), aligned to f(d) only when f(a) + 2 f(b) < f(d)
        "dact_tanh": 2 * F + W + 1,
        "sgd, momentum, bellman, soft_update": operand_and_product,
        "adam_m": max(W + Wc, W + oc) + F + 1,
        "adam_s": 2 * m + 1 + max(Wc, oc) + 1,
        "noise": max(W + max(nf + Fc, F), g + Wc + F) + 1,
        "ou_noise": max(W + max(F, nf) + Fc, W + Wc + nf, g + Wc + F) + 1,
        "acc_add": word,
        # the accumulator aligned to the target's frac, the bias to the accumulator's
        "drain": max(word + F, W + max(FA, F) + 1),
        "adam_s's root": ROOT_BITS + 2,
        # d aligned to 24 + f(c); -ratio * alpha aligned to f(d)
        "adam_w": max(W + arch.RATIO_FRAC + Fc,
                      62 + Wc + max(0, F - arch.RATIO_FRAC)) + 1,
        "ou_noise's output, drain_relu": W + F + 1,
        "drain_tanh": max(seg + arch.TANH_TABLE_FRAC, F) + 2,
    }


# ----------------------------------------------------------------------------- wire helpers

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


def _sar_low(value: pyrtl.WireVector, amount: pyrtl.WireVector, bits: int
             ) -> pyrtl.WireVector:
    """The low ``bits`` bits of ``value >> amount`` (arithmetic), a barrel shifter whose
    stages run from the largest shift down, each only as wide as the bits the smaller
    shifts after it can still read (``bits`` plus their sum, 2^i - 1 after the stage of
    2^i): a rounder's shift whose result is read at the target's width, not the sum's.
    Copies of ``value``'s sign fill the bits shifted in."""
    sign = value[-1]
    for i in reversed(range(amount.bitwidth)):
        k = 1 << i
        m = value.bitwidth
        keep = min(m, bits + k - 1)
        # value >> k at keep bits: value's bits from k up, then the sign (reached only
        # while value is still whole: truncated, it has every bit keep needs)
        take = max(0, min(m - k, keep))
        shifted = (pyrtl.concat(sign.sign_extended(keep - take), value[k:k + take])
                   if take < keep else value[k:k + keep]) if take else \
            sign.sign_extended(keep)
        value = pyrtl.select(amount[i], shifted, value[:keep])
    return _decl(value) if value.bitwidth >= bits else _sx(value, bits)


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


def _abs(wire: pyrtl.WireVector) -> pyrtl.WireVector:
    """|wire| of a signed wire, as an unsigned wire of the same width."""
    return pyrtl.select(wire[-1], _neg(wire)[:wire.bitwidth], wire)


def _case(index: pyrtl.WireVector, table: dict[int, object], bits: int,
          signed: bool = True) -> pyrtl.WireVector:
    """table[index] (0 for missing entries), every entry extended to ``bits``: an
    AND-OR over the table's distinct entries (one wire or constant may serve many
    indices: the operations that read operand ``a`` in a slot share one term, selected
    by one decode of ``index``), not a 2^len(index)-way multiplexer of every entry."""
    ext = _resize if signed else _zx
    groups: dict[object, tuple[object, list[int]]] = {}
    for i, value in sorted(table.items()):
        if isinstance(value, int) and value & ((1 << bits) - 1) == 0:
            continue                     # a zero entry adds nothing to the OR
        key = ("const", value) if isinstance(value, int) else id(value)
        groups.setdefault(key, (value, []))[1].append(i)
    terms = []
    for value, indices in groups.values():
        picked = pyrtl.Const(0, 1)
        for i in indices:
            picked = picked | (index == i)
        wide = _const(value, bits) if isinstance(value, int) else ext(value, bits)
        terms.append(_decl(wide) & picked.sign_extended(bits))
    if not terms:
        return pyrtl.Const(0, bits)
    while len(terms) > 1:
        terms = [terms[k] | terms[k + 1] for k in range(0, len(terms) - 1, 2)] + \
            ([terms[-1]] if len(terms) % 2 else [])
    return _decl(terms[0])


# ---------------------------------------------------------------------------- sub-units

def _xorshift32(x: pyrtl.WireVector) -> pyrtl.WireVector:
    x = x ^ pyrtl.concat(x[:32 - 13], pyrtl.Const(0, 13))
    x = x ^ x[17:].zero_extended(32)
    return x ^ pyrtl.concat(x[:32 - 5], pyrtl.Const(0, 5))


def _xorshift32_value(x: int) -> int:
    """One xorshift32 step of an int (as :func:`_xorshift32` on wires)."""
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    return x ^ ((x << 5) & 0xFFFFFFFF)


def _xor_tree(words: list) -> pyrtl.WireVector:
    """The XOR of wires as a balanced tree (LUT6 levels: log6 of their number)."""
    while len(words) > 1:
        words = [words[k] ^ words[k + 1] for k in range(0, len(words) - 1, 2)] + \
            ([words[-1]] if len(words) % 2 else [])
    return words[0]


def _linear_map(x: pyrtl.WireVector, images: list[int]) -> pyrtl.WireVector:
    """``y`` = M ``x`` over GF(2) for the 32 x 32 matrix whose column i is ``images[i]``
    (the image of bit i), written as the XOR of word-level terms ``(x << d) & mask_d``,
    one per diagonal d: a flat XOR per output bit for synthesis (the masks are
    constants), a few dozen word operations for a simulator instead of one per bit."""
    masks: dict[int, int] = {}
    for i, image in enumerate(images):
        for j in range(32):
            if image >> j & 1:
                masks[j - i] = masks.get(j - i, 0) | 1 << j
    terms = []
    for d, mask in sorted(masks.items()):
        if d > 0:
            shifted = pyrtl.concat(x[:32 - d], pyrtl.Const(0, d))
        elif d < 0:
            shifted = x[-d:].zero_extended(32)
        else:
            shifted = x
        terms.append(shifted & pyrtl.Const(mask, 32))
    return _xor_tree(terms) if terms else pyrtl.Const(0, 32)


def _prng_draws(lane: pyrtl.WireVector) -> tuple[pyrtl.WireVector, list]:
    """The PRNG's PRNG_DRAWS xorshift32 steps of one lane (docs/isa.md): (the lane after
    them, the top 16 bits of each step).  xorshift32 is linear over GF(2): after k steps
    each bit is the XOR of a fixed set of the lane's bits, computed here once
    (:func:`_linear_map`), so every bit is one flat XOR of at most 32 bits (a few LUT
    levels) instead of 3k chained XORs."""
    images = [[] for _ in range(arch.PRNG_DRAWS)]    # images[step][i]: bit i after it
    for i in range(32):
        x = 1 << i
        for step in range(arch.PRNG_DRAWS):
            x = _xorshift32_value(x)
            images[step].append(x)
    words = [_linear_map(lane, images[step]) for step in range(arch.PRNG_DRAWS)]
    return words[-1], [w[16:32] for w in words]


#: the Gaussian's centred sum carried with this offset, so that it is unsigned
_CENTRED_OFFSET = 1 << 19


def _gaussian_centred(tops: list) -> pyrtl.WireVector:
    """The draws' sum minus its mean (PRNG_DRAWS 2^15), plus _CENTRED_OFFSET: a
    non-negative 20-bit value.  The draws' sum s is below 2^18 and the offset
    2^19 - 2^17 sets bits 17 and 18 only, so s + offset is s's low 17 bits under
    3 + s's bit 17 (011 or 100): wires, no adder after the draws' sum."""
    assert arch.PRNG_DRAWS == 4 and (_CENTRED_OFFSET - (arch.PRNG_DRAWS << 15)) == 3 << 17
    total = sum_terms([(top, 0) for top in tops], 18)
    return pyrtl.concat(total[17], ~total[17], ~total[17], total[:17])


def _gaussian_product(centred: pyrtl.WireVector) -> pyrtl.WireVector:
    """The centred sum times sqrt(3) (SQRT3_Q14): an unsigned 20 x 16 multiply (one
    DSP48E2), its whole 36-bit product (< 2^35), for its two registers."""
    return (centred * pyrtl.Const(arch.SQRT3_Q14, 16))[:36]


def _gaussian_scaled(scope: Scope, prod: pyrtl.WireVector) -> pyrtl.WireVector:
    """N with NOISE_FRAC fraction bits (a signed wire): the product of
    :func:`_gaussian_product` rounded to 14 bits fewer, its offset (_CENTRED_OFFSET
    sqrt(3)) taken out with the rounding bias."""
    bias = ((1 << 13) - _CENTRED_OFFSET * arch.SQRT3_Q14) % (1 << 37)
    biased = (_zx(prod, 37) + pyrtl.Const(bias, 37))[:37]
    return named(pyrtl.shift_right_arithmetic(biased, 14)[:22], scope("gaussian"))


def _terms(terms: list, prefix: str) -> tuple[dict, list[int]]:
    """A product's terms (:func:`~fixar_gen.hw.multiply.product_terms`) as a stage's
    values ``<prefix><i>`` and their shifts."""
    return ({f"{prefix}{i}": w for i, (w, _) in enumerate(terms)},
            [shift for _, shift in terms])


def _group_sums(bundle: dict, prefix: str, shifts: list[int], out: str, bits: int,
                groups: int = PRODUCT_GROUPS) -> dict:
    """A registered product's terms summed in ``groups`` groups (``<out><k>``)."""
    terms = [(bundle[f"{prefix}{i}"], shift) for i, shift in enumerate(shifts)]
    return {f"{out}{k}": sum_terms(group, bits)
            for k, group in enumerate(group_terms(terms, groups))}


def _final_sum(bundle: dict, prefix: str, bits: int, *extra) -> pyrtl.WireVector:
    """The groups' sums (``<prefix><k>``) added, and the terms ``extra``: the product,
    ``bits`` bits."""
    parts = [(bundle[k], 0) for k in sorted(bundle) if k.startswith(prefix)
             and k[len(prefix):].isdigit()]
    return sum_terms([*parts, *extra], bits)


def _tanh_table() -> tuple[list[int], int, int, int]:
    """tanh's table as entries y_i | (y_{i+1} - y_i) << y_bits: (entries, index bits,
    y bits, delta bits)."""
    table = [int(v) for v in arch.TANH_TABLE]
    last = len(table) - 1
    deltas = [table[i + 1] - table[i] for i in range(last)]
    assert min(deltas) >= 0
    y_bits = max(table).bit_length()
    return ([table[i] | (deltas[i] << y_bits) for i in range(last)],
            (last - 1).bit_length(), y_bits, max(deltas).bit_length())


def _tanh_rom(scope: Scope) -> pyrtl.RomBlock:
    entries, index_bits, y_bits, d_bits = _tanh_table()
    return pyrtl.RomBlock(y_bits + d_bits, index_bits, entries, name=scope("tanh_rom"),
                          asynchronous=True)


def _tanh_prep(zp: pyrtl.WireVector, fpre: pyrtl.WireVector) -> dict:
    """The first step of tanh's interpolation (docs/isa.md) of one pre-activation value
    zp of frac fpre: |z|, z's sign and what the frac alone decides (a stage ahead of
    :func:`_tanh_index`)."""
    seg_frac, range_bits = arch.TANH_SEGMENT_FRAC, arch.TANH_RANGE_BITS
    u = _zx(_abs(zp), max(zp.bitwidth, 16))                    # unsigned
    fpre = _zx(fpre, _FRAC)
    small = fpre < seg_frac
    seg = pyrtl.select(small, pyrtl.Const(0, _FRAC), (fpre - seg_frac)[:_FRAC])
    return {"tanh_u": u, "tanh_neg": zp[-1], "tanh_small": small,
            # fpre < seg_frac: |z| clamped to the table's end, shifted up to segments
            "tanh_end": _shl(pyrtl.Const(1, 16), (fpre + range_bits)[:_FRAC]),
            "tanh_up": (pyrtl.Const(seg_frac, _FRAC) - fpre)[:_FRAC],
            # fpre >= seg_frac: segment = |z| >> (fpre - seg_frac), remainder below it
            "tanh_seg": seg, "tanh_below": ~_shl(_const(-1, u.bitwidth), seg),
            # |z| >= 2^TANH_RANGE_BITS (its bits from fpre + range_bits up)
            "tanh_high": _shl(_const(-1, u.bitwidth), (fpre + range_bits)[:_FRAC])}


def _tanh_index(p: dict, max_frac: int) -> dict:
    """The second step (``p`` from :func:`_tanh_prep`, frac <= max_frac): the table
    index, the remainder below the segment, the segment's shift, whether |z| is beyond
    the table and z's sign."""
    seg_frac = arch.TANH_SEGMENT_FRAC
    u, small, end = p["tanh_u"], p["tanh_small"], p["tanh_end"]
    clamped = pyrtl.select(u > end, _zx(end, u.bitwidth), u)
    index_small = _shl(clamped[:16], p["tanh_up"])
    index_big = _shr(u, p["tanh_seg"])
    rem_bits = max(1, min(max_frac - seg_frac, u.bitwidth))   # |z| mod 2^seg, seg <= f - 6
    rem = pyrtl.select(small, pyrtl.Const(0, rem_bits), (u & p["tanh_below"])[:rem_bits])
    index = pyrtl.select(small, _zx(index_small, u.bitwidth), index_big)
    index_bits = _tanh_table()[1]
    # index >= last, the table's end, is |z| >= 2^TANH_RANGE_BITS in both cases
    # (clamped << (seg_frac - f) reaches last only for clamped = end, and
    # |z| >> (f - seg_frac) >= last is |z| >= 2^(f + TANH_RANGE_BITS)): a mask test
    # instead of the index's shift and a comparison after it
    beyond = ~_is_zero(u & p["tanh_high"])
    return {"tanh_index": index[:index_bits], "tanh_beyond": beyond,
            "tanh_rem": rem, "tanh_seg": p["tanh_seg"], "tanh_neg": p["tanh_neg"]}


def _tanh_parts(parts: dict, entry: pyrtl.WireVector) -> dict:
    """The second half's first step, from the table ``entry`` (read at parts' index):
    y_i << seg (``tanh_y0s``, the interpolation's width), the slope and the remainder
    (for their product), 1 << (seg + TANH_TABLE_FRAC) (beyond the table), the sign and
    the result's frac."""
    _, _, y_bits, d_bits = _tanh_table()
    rem, seg = parts["tanh_rem"], parts["tanh_seg"]
    num_bits = arch.TANH_TABLE_FRAC + rem.bitwidth + 2
    y0, delta = entry[:y_bits], entry[y_bits:]
    return {"tanh_y0s": _zx(_shl(_zx(y0, num_bits), seg), num_bits),
            "tanh_delta": delta, "tanh_rem": _decl(rem),
            "tanh_one": _shl(pyrtl.Const(1, num_bits), (seg + arch.TANH_TABLE_FRAC)[:_FRAC]),
            "tanh_beyond": parts["tanh_beyond"], "tanh_neg": parts["tanh_neg"],
            "tanh_frac": (seg + arch.TANH_TABLE_FRAC)[:_FRAC]}


def _tanh_value(scope: Scope, parts: dict, num_bits: int) -> pyrtl.WireVector:
    """The second half's last step: y_i << seg plus the slope times the remainder
    (its group sums ``tanh_g<k>``), or 1 beyond the table, signed (num_bits + 2 bits)."""
    groups = [(v, 0) for k, v in sorted(parts.items())
              if k.startswith("tanh_g") and k[6:].isdigit()]
    interp = sum_terms([*groups, (parts["tanh_y0s"], 0)], num_bits)
    num = pyrtl.select(parts["tanh_beyond"], parts["tanh_one"], interp)
    return named(_negate_if(parts["tanh_neg"], _zx(num, num_bits + 2)), scope("tanh_num"))


def _negate_if(negate: pyrtl.WireVector, value: pyrtl.WireVector) -> pyrtl.WireVector:
    """-value if ``negate`` else value, modulo 2^len(value): one adder,
    (value ^ negate...negate) + negate."""
    bits = value.bitwidth
    return (_decl(value ^ negate.sign_extended(bits)) + _zx(negate, bits))[:bits]


def _neg_ratio(quo, a_neg, den_neg, den_zero) -> pyrtl.WireVector:
    """adam_w's -ratio, MUL_X bits: -(num // den) with num's sign (a's) given back, from
    the quotient ``quo`` of |num| / |den|: numpy's floor division rounds down for den <
    0 (quo + 1 when the remainder is not 0), 0 for den = 0, so -ratio = (quo ^ negate) +
    (negate ^ inc), inc = den < 0 and a remainder that is not 0.  This is its first
    part, quo ^ negate (0 for den = 0), the third multiplier's operand; the second, 0 or
    1, is :func:`_ratio_carry`'s, whose alpha is added to the product
    (:func:`_ratio_addend`): the remainder's zero test is not on the operand's path."""
    negate = ~(a_neg ^ den_neg)
    flipped = _decl(_zx(quo, _MUL_X) ^ negate.sign_extended(_MUL_X))
    return pyrtl.select(den_zero, pyrtl.Const(0, _MUL_X), flipped)


def _ratio_carry(parts: dict, a_neg, den_neg, ratio) -> pyrtl.WireVector:
    """-ratio's second part (:func:`_neg_ratio`): negate ^ inc where ``ratio`` (adam_w
    and den != 0), else 0; from the remainder's registered zero-test parts
    (:func:`_remainder_zero_parts`)."""
    negate = ~(a_neg ^ den_neg)
    return ratio & (negate ^ (den_neg & ~_remainder_zero(parts)))


def _ratio_addend(carry: pyrtl.WireVector, alpha: pyrtl.WireVector) -> pyrtl.WireVector:
    """alpha where ``carry`` (:func:`_ratio_carry`), else 0: added to the third
    multiplier's product, (quo ^ negate) alpha + carry alpha = -ratio alpha."""
    return pyrtl.select(carry, alpha, pyrtl.Const(0, alpha.bitwidth))


def _step_down(rem2: pyrtl.WireVector, sub: pyrtl.WireVector, fits=None):
    """One restoring step: ``rem2 - sub`` if ``rem2 >= sub`` (and ``fits``), else
    ``rem2``, and that choice; the comparison is the subtraction's own borrow (one carry
    chain, not a comparator beside it)."""
    bits = max(rem2.bitwidth, sub.bitwidth) + 1
    diff = (_zx(rem2, bits) - _zx(sub, bits))[:bits]
    ge = ~diff[-1] if fits is None else fits & ~diff[-1]
    return pyrtl.select(ge, diff[:rem2.bitwidth], rem2), ge


def _sqrt_steps(rad, rem, root, steps: int, rem_bits: int):
    """``steps`` non-restoring square-root steps (two radicand bits each, one root bit).
    The remainder r is signed: the restoring one R where r >= 0, R - (2 root + 1) where
    r < 0 (-(2 root + 1) <= r <= 2 root); a step is 4 r + the two bits - (4 root + 1)
    where r >= 0 and + (4 root + 3) where r < 0, one add-or-subtract with no multiplexer
    after it, and the root bit is the result's sign inverted.  The root grows a bit a
    step from 1 bit (0 before the first step) and the remainder with it: after k steps
    the root is below 2^k and r fits k + 2 signed bits (at most ``rem_bits``).
    :func:`_root_up` rounds the root from the last remainder."""
    for _ in range(steps):
        n = min(root.bitwidth + 2, rem_bits)
        rem4 = pyrtl.concat(rem, rad[-2:])[:n]               # 4 r + the radicand's bits
        rad = pyrtl.concat(rad[:-2], pyrtl.Const(0, 2))
        neg = rem[-1]
        # 4 root + 3 where r < 0, else ~(4 root + 1) and a carry in of 1 (subtraction)
        addend = _decl(_zx(pyrtl.concat(root, neg, pyrtl.Const(1, 1)), n)
                       ^ (~neg).sign_extended(n))
        total = (pyrtl.concat(rem4, pyrtl.Const(1, 1)) + pyrtl.concat(addend, ~neg))
        rem = total[1:n + 1]
        root = pyrtl.concat(root, ~rem[-1])
    return rad, rem, root


def _root_up(rem: pyrtl.WireVector, root: pyrtl.WireVector) -> pyrtl.WireVector:
    """Whether floor(sqrt(v)) = ``root`` rounds up (the restoring remainder R = v -
    root^2 > root) from :func:`_sqrt_steps`' signed remainder r: R - root - 1 >= 0 is
    r + ~root >= 0 where r >= 0 and, R = r + 2 root + 1 where r < 0, r + root >= 0
    (one adder: root or ~root by r's sign)."""
    bits = max(rem.bitwidth, root.bitwidth + 1) + 1
    neg = rem[-1]
    total = (_sx(rem, bits) + _decl(_zx(root, bits) ^ (~neg).sign_extended(bits)))[:bits]
    return ~total[-1]


def _nr_from(den_bits: int) -> int:
    """The remainder width (bits of 2 rem + the numerator's bit) from which the
    divider's steps are non-restoring: a restoring step of n bits costs a subtraction
    and a multiplexer (about 2 LUT a bit), a non-restoring one an add-or-subtract at
    den_bits + 2 bits (about 1 LUT a bit, no multiplexer), so the narrow first steps
    restore and the rest do not."""
    return (den_bits + 3) // 2


def _nr_step(nr: pyrtl.WireVector, bit: pyrtl.WireVector, den: pyrtl.WireVector):
    """One non-restoring step: ``nr`` (signed, len(den) + 1 bits, -den <= nr < den)
    -> 2 nr + bit - den if nr >= 0, else 2 nr + bit + den (again within -den .. den),
    and the quotient bit (the result >= 0: the restoring step's bit, whose remainder
    is the result, or the result + den where it is negative).  One carry chain: the
    subtraction's +1 enters as an extra low bit."""
    m = den.bitwidth + 1
    bits = m + 1
    nr2 = pyrtl.concat(nr, bit)                           # 2 nr + bit, signed
    sub = ~nr[-1]
    addend = _decl(_zx(den, bits) ^ sub.sign_extended(bits))     # den or ~den
    total = (pyrtl.concat(nr2, pyrtl.Const(1, 1)) + pyrtl.concat(addend, sub))[1:bits + 1]
    new = total[:m]
    return new, ~new[-1]


def _div_steps(num_quo, rem, den, steps: int, fits: dict | None = None,
               den_bits: int | None = None):
    """``steps`` division steps (one quotient bit each) on a register that holds the
    numerator's remaining bits above the quotient's bits: each step shifts a
    numerator bit out at the top and a quotient bit in at the bottom, so after
    ``len(num_quo)`` steps it is the quotient.  Restoring steps while the remainder is
    narrow: it grows a bit a step from 1 bit (0 before the first step); a step whose
    remainder has n bits subtracts den's low n bits, and only where den's bits above
    them are 0 (``fits[n]``, a register of the stage before:
    :func:`_divider_stage`; computed here where it is missing).  From n =
    :func:`_nr_from` on, non-restoring steps (:func:`_nr_step`) on a signed remainder
    of den_bits + 1 bits (the restoring one's value, or that minus den).
    ``den_bits``: the denominator's width where ``den`` is only its low bits (those
    the restoring steps read; their ``fits`` given)."""
    fits = fits or {}
    den_bits = den_bits or den.bitwidth
    nr_from = _nr_from(den_bits)
    for _ in range(steps):
        n = rem.bitwidth + 1
        if rem.bitwidth > den_bits or n >= nr_from:
            check_width(den, den_bits, "vector._div_steps: a non-restoring step's den")
            rem, ge = _nr_step(_zx(rem, den_bits + 1), num_quo[-1], den)
        else:
            rem2 = pyrtl.concat(rem, num_quo[-1])
            if n < den_bits:
                fit = fits[n] if n in fits else _is_zero(den[n:])
                rem, ge = _step_down(rem2, den[:n], fits=fit)
            else:
                rem, ge = _step_down(rem2, den)
            rem = rem[:min(n, den_bits)]
        num_quo = pyrtl.concat(num_quo[:-1], ge)
    return num_quo, rem


def _remainder_zero_parts(rem: pyrtl.WireVector, den: pyrtl.WireVector | None) -> dict:
    """Whether the divider's remainder is 0, as zero-test parts to be registered
    (:func:`_zero_parts`; :func:`_remainder_zero` completes them): a restoring remainder
    is 0; a non-restoring one (len(den) + 1 bits, ``den`` the denominator) is 0 or -den,
    and rem + den == 0 (mod 2^m) is (rem ^ den) == (rem | den) << 1, without a carry
    chain."""
    if den is None or rem.bitwidth <= den.bitwidth:
        return {"rz_rem": _zero_parts(rem)}
    m = rem.bitwidth
    d = _zx(den, m)
    carries = pyrtl.concat((rem | d)[:m - 1], pyrtl.Const(0, 1))
    return {"rz_rem": _zero_parts(rem), "rz_minus_den": _zero_parts(_decl(rem ^ d) ^ carries)}


def _remainder_zero(parts: dict) -> pyrtl.WireVector:
    """The divider's remainder is 0, from :func:`_remainder_zero_parts`."""
    zero = _all_zero(parts["rz_rem"])
    return zero | _all_zero(parts["rz_minus_den"]) if "rz_minus_den" in parts else zero


#: the numerator's leading bits that are always 0 (|m| << shift < 2^QUOTIENT_BITS in a
#: DIV_STEPS-bit word): the first stage's steps, which leave the remainder 0 and whose
#: quotient bits are dropped
DIV_ZERO_STEPS = DIV_STEPS - QUOTIENT_BITS
assert DIV_ZERO_STEPS == DIV_BITS_PER_STAGE


def _divider_stage(first: bool, last: bool, num_quo, rem, den, fits: dict,
                   den_bits: int | None = None):
    """One stage of the divider: ``DIV_BITS_PER_STAGE`` steps (none in the ``first``
    stage: its numerator bits are 0, so it only shifts them out) and, but for the
    ``last``, whether den's bits above each remainder width the next stage's steps
    reach are 0 (n -> wire, to be registered: the zero test, a few LUT levels, off the
    steps' path)."""
    if first:
        num_quo = pyrtl.concat(num_quo[:-DIV_ZERO_STEPS], pyrtl.Const(0, DIV_ZERO_STEPS))
    else:
        num_quo, rem = _div_steps(num_quo, rem, den, DIV_BITS_PER_STAGE, fits, den_bits)
    width = rem.bitwidth
    restoring = min(den.bitwidth, _nr_from(den_bits or den.bitwidth))
    nxt = {} if last else {n: _is_zero(den[n:]) for n in
                           range(width + 1, width + 1 + DIV_BITS_PER_STAGE)
                           if n < restoring}
    return num_quo, rem, nxt


# ------------------------------------------------------------------------------ generator

@dataclass(frozen=True)
class ElementInputs:
    """The unit's inputs (wires), registered every cycle; an element is the inputs of a
    cycle with ``start`` = 1 (the others are ignored).

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
    """The unit's outputs (registers, valid in the cycle ``done`` = 1).

    ``done`` (1): 1 :func:`element_latency` cycles after the element's start; ``d_out`` (word): the
    result written to dst; ``e_out`` (word): ou_noise's new OU state, range's new
    maximum, else the input e; ``lane_out`` (32): the lane after PRNG_DRAWS xorshift32
    steps (written back by noise and ou_noise only); ``sat_d`` (2): overflows counted
    against dst (0..2: drain with an activation counts the pre-activation and the
    output); ``sat_e`` (1): ou_noise's state overflow, counted against e."""

    done: pyrtl.WireVector
    d_out: pyrtl.WireVector
    e_out: pyrtl.WireVector | None
    lane_out: pyrtl.WireVector | None
    sat_d: pyrtl.WireVector
    sat_e: pyrtl.WireVector


#: the stage values that are valid bits, with a reset (the rest is data, read only
#: beside its valid bit: :func:`~.build.data_register`)
VALID_KEYS = ("valid", "done")


def _stage(scope: Scope, stage: str, values: dict, hidden: tuple[str, ...] = ()) -> dict:
    """One pipeline stage: every value through a register named ``<stage>_<key>``
    (keys in ``hidden`` stay unnamed: descriptors and other partly used words, so that
    Verilator -Wall sees only PyRTL temporaries with unused bits).  The valid bits
    (VALID_KEYS) have a reset; the rest are data registers, without one where they
    only feed another register, so that synthesis maps the stages' delay lines to
    shift registers."""
    out = {}
    for key, wire in values.items():
        wire = pyrtl.as_wires(wire)
        hide = key in hidden or key.startswith("fmt_")
        name = None if hide else scope(f"{stage}_{key}")
        if key in VALID_KEYS:
            reg = pyrtl.Register(wire.bitwidth, name=name) if name \
                else pyrtl.Register(wire.bitwidth)
        else:
            reg = data_register(wire.bitwidth, name)
        reg.next <<= wire
        out[key] = reg
    return out


def _drop(bundle: dict, *keys: str) -> dict:
    """The bundle without ``keys`` (what the next stage no longer reads)."""
    return {k: v for k, v in bundle.items() if k not in keys}


def _keep(bundle: dict, *keys: str) -> dict:
    """The entries of ``keys`` the bundle has (a lane without e_out and lane_out does
    not carry what only they read)."""
    return {k: bundle[k] for k in keys if k in bundle}


class _Narrow:
    """``wire``'s low ``bits`` bits (a signed value known to fit them), one wire per
    (wire, bits), so that the operations reading the same operand still share one term
    of the rounders' multiplexers (:func:`_case` groups its entries by wire)."""

    def __init__(self):
        self._made: dict[tuple[int, int], pyrtl.WireVector] = {}

    def __call__(self, wire: pyrtl.WireVector, bits: int) -> pyrtl.WireVector:
        if wire.bitwidth <= bits:
            return wire
        key = (id(wire), bits)
        if key not in self._made:
            self._made[key] = (wire, _decl(wire[:bits]))
        return self._made[key][1]


class _View:
    """Decoded views of one stage's bundle: the op tests and the operands' fracs.
    ``operations``: the ones the lane runs (the others never start in it: don't-cares
    of the op tests)."""

    def __init__(self, bundle: dict, operations: tuple[str, ...] = ELEMENT_OPS):
        self.b = bundle
        self.operations = operations

    def is_op(self, *names: str) -> pyrtl.WireVector:
        """1 for the operations ``names`` (for more than half of the lane's: 0 for its
        others, the smaller comparison; ops beyond them never start)."""
        names = tuple(name for name in names if name in self.operations)
        others = [name for name in self.operations if name not in names]
        if len(others) < len(names):
            return ~self._any(others)
        return self._any(names)

    def _any(self, names) -> pyrtl.WireVector:
        out = pyrtl.Const(0, 1)
        for name in names:
            out = out | (self.b["op"] == OP_INDEX[name])
        return out

    def fmt(self, role: str) -> FormatWires:
        return unpack_format(self.b[f"fmt_{role}"])

    def frac(self, role: str) -> pyrtl.WireVector:
        if f"frac_{role}" in self.b:          # later stages carry the frac alone
            return _zx(self.b[f"frac_{role}"], _FRAC)
        return _zx(self.fmt(role).frac, _FRAC)


def _having(plans: dict = PLANS, **fields) -> list[str]:
    """The operations of ``plans`` whose lane plan has these field values."""
    return [name for name, plan in plans.items()
            if all(getattr(plan, k) == v for k, v in fields.items())]


# ------------------------------------------------------------------------- rounding and fit
#
# R(terms, fmt) in seven register stages (:func:`_rounder`), each a few LUT levels:
#   sel    the terms' values and fracs and the target format, multiplexed by operation
#   amt    G = max(fracs, f(target)), each term's shift G - frac, k = G - f(target)
#   align  the terms shifted to G
#   sum    their exact sum (or clip's choice); k - 1 and the mask of the bits under half
#   rnda   the sum >> k (floor), the half and sticky bits; the target's fit masks
#   rnd    floor + the rounding increment
#   fit    the rounded value fitted (saturate or wrap) and its overflow flag

def _select_terms(scope: Scope, op: pyrtl.WireVector, plans: dict, w_int: int,
                  slots: int) -> dict:
    """Per op (name -> ([(value, frac) or None per slot...], target format)) the values
    ``v<i>`` and fracs ``f<i>`` of ``slots`` slots (0 where an op has no term) and the
    target format, multiplexed by ``op``."""
    out = {}
    for slot in range(slots):
        values, fracs = {}, {}
        for name, (parts, _) in plans.items():
            if slot < len(parts) and parts[slot] is not None:
                values[OP_INDEX[name]], fracs[OP_INDEX[name]] = parts[slot]
        bits = min(w_int, max(pyrtl.as_wires(v).bitwidth for v in values.values()))
        out[f"v{slot}"] = named(_case(op, values, bits), scope(f"slot{slot}_value"))
        out[f"f{slot}"] = named(_case(op, fracs, _FRAC, signed=False),
                                scope(f"slot{slot}_frac"))
    out["fmt_target"] = named(_case(op, {OP_INDEX[n]: f for n, (_, f) in plans.items()},
                                    FORMAT_BITS, signed=False), scope("target_format"))
    return out


def _max_tree(*wires) -> pyrtl.WireVector:
    """The largest of unsigned wires, as a tree of comparisons."""
    wires = list(wires)
    while len(wires) > 1:
        paired = [pyrtl.select(wires[k + 1] > wires[k], wires[k + 1], wires[k])
                  for k in range(0, len(wires) - 1, 2)]
        wires = paired + ([wires[-1]] if len(wires) % 2 else [])
    return wires[0]


def _add_terms(aligned: list, clip: pyrtl.WireVector | None, w_int: int,
               clip_bits: int | None = None) -> pyrtl.WireVector:
    """The aligned terms summed exactly, w_int + 1 bits (with ``clip``: min(max(t0,
    -t1), t1) instead of the sum, from three comparisons side by side: t0 < -t1 is
    t0 + t1 < 0, and then the minimum is t1 if t1 < 0 else -t1; at ``clip_bits``, one
    bit more than clip's aligned terms can have)."""
    bits = w_int + 1
    total = _add(bits, *aligned)
    if clip is None:
        return total
    cb = clip_bits or bits
    t0, t1 = _resize(aligned[0], cb), _resize(aligned[1], cb)
    below_neg_t1 = _add(cb, t0, t1)[-1]               # t0 < -t1
    t1_below_t0 = pyrtl.signed_lt(t1, t0)
    neg_t1 = (pyrtl.Const(0, cb) - t1)[:cb]
    clipped = pyrtl.select(below_neg_t1, pyrtl.select(t1[-1], t1, neg_t1),
                           pyrtl.select(t1_below_t0, t1, t0))
    return pyrtl.select(clip, _sx(clipped, bits), total)


def _fit_masks(fmt: FormatWires, bits: int, word: int) -> dict:
    """What fitting to ``fmt`` needs of the format alone (two stages ahead of the
    value): ``fit_high`` = -1 << p, the bits at and above the magnitude bits p (of a
    ``bits``-bit value; p = width - 1 signed, width unsigned): one shift of -1, no
    adder; :func:`_fit_derived` forms the rest from it a stage later."""
    # p = width - 1 (signed) or width: -1 << (width - 1) is (-1 << width) shifted
    # right by one, arithmetically (no subtraction before the shift)
    high = _shl(_const(-1, bits), fmt.width)
    return {"fit_high": pyrtl.select(fmt.signed, pyrtl.concat(high[-1], high[1:]), high)}


def _fit_derived(fmt: FormatWires, high: pyrtl.WireVector, word: int) -> dict:
    """From high = -1 << p (:func:`_fit_masks`): the low ``width`` bits ~(-1 << width)
    (width = p + 1 signed, p unsigned) and a signed value's sign bit 1 << p =
    high & ~(high << 1); at min(word, len(high)) bits (both are 0 above p + 1, and
    high has p + 2 bits at least)."""
    n = min(word, high.bitwidth)
    high_w = high[:n]
    high_up = pyrtl.concat(high[:n - 1], pyrtl.Const(0, 1))        # -1 << (p + 1)
    return {"fit_keep": ~pyrtl.select(fmt.signed, high_up, high_w),
            "fit_sign": high_w & ~high_up}


#: bits of a zero test's part (:func:`_zero_parts`): 12 bits and their masks are 24
#: inputs, two LUT6 levels at best
ZERO_PART_BITS = 12


def _zero_parts(wire: pyrtl.WireVector) -> pyrtl.WireVector:
    """Whether each ZERO_PART_BITS-bit part of ``wire`` is 0 (bit i: part i), to be
    registered: a wide zero test split at a register, :func:`_all_zero` the rest in the
    next stage (Yosys's ABC maps one 124-bit test, with a mask, to as many as 7 LUT
    levels)."""
    return pyrtl.concat_list([_is_zero(wire[i:i + ZERO_PART_BITS])
                              for i in range(0, wire.bitwidth, ZERO_PART_BITS)])


def _all_zero(parts: pyrtl.WireVector) -> pyrtl.WireVector:
    """The zero test of a wire from its registered :func:`_zero_parts`."""
    return _is_zero(~parts)


def _fit_tests(x: pyrtl.WireVector, up: pyrtl.WireVector, fmt: FormatWires,
               masks: dict, word: int) -> dict:
    """What :func:`_fit` decides on for the rounded value x + up (``up`` 0 or 1),
    computed a stage ahead of it from x (the floor, a register) beside the rounding
    adder, not after its carry chain: the zero tests' parts (:func:`_zero_parts`, to be
    registered; :func:`_fit_decide` completes them) of x >> p == 0 and == -1,
    x >> (p + 1) == -1, x's bits under p all 1 and x's bit p, with ``up`` and x's sign."""
    high = masks["fit_high"]                              # -1 << p
    high_up = pyrtl.concat(high[:-1], pyrtl.Const(0, 1))  # -1 << (p + 1)
    return {"fit_zero_high": _zero_parts(x & high), "fit_ones_high": _zero_parts(~x & high),
            "fit_ones_above": _zero_parts(~x & high_up),
            "fit_low_ones": _zero_parts(~(x | high)),
            "fit_not_p": _zero_parts(x[:word] & masks["fit_sign"]),
            "fit_up": up, "fit_negative": x[-1]}


def _fit_decide(tests: dict, fmt: FormatWires) -> tuple[pyrtl.WireVector, pyrtl.WireVector]:
    """From :func:`_fit_tests`' registered parts: (x + up fits: its bits from p up all
    0 and it is >= 0 or, signed, all 1 and it is < 0; its bit p, a wrapped signed
    value's sign).  Adding ``up`` changes x's bits from p up only where x's bits under p
    are all 1 (the carry reaches bit p): then they are x >> p plus 1, which fits where
    x >> p is -1 (the sum's are 0) or, signed, -2 (they are -1)."""
    negative = tests["fit_negative"]
    bit_p = ~_all_zero(tests["fit_not_p"])
    ones_high = _all_zero(tests["fit_ones_high"])         # x >> p == -1
    fits_x = (_all_zero(tests["fit_zero_high"]) & ~negative) | \
        (fmt.signed & ones_high & negative)
    fits_next = ones_high | (fmt.signed & _all_zero(tests["fit_ones_above"]) & ~bit_p)
    carry = tests["fit_up"] & _all_zero(tests["fit_low_ones"])
    return pyrtl.select(carry, fits_next, fits_x), bit_p ^ carry


def _fit(scope: Scope, x: pyrtl.WireVector, fmt: FormatWires, masks: dict, word: int
         ) -> tuple[pyrtl.WireVector, pyrtl.WireVector]:
    """x (signed; its sign bit read only where it does not fit) fitted to the format's
    width by its overflow mode (with its :func:`_fit_masks`, :func:`_fit_derived` and
    :func:`_fit_tests`, registered): (word-bit value, overflow flag).  Widths up to
    ``word`` (signed) or word - 1 (unsigned).  The largest value is 2^p - 1 = ~high,
    the smallest -2^p = high (signed) or 0."""
    high, keep = masks["fit_high"], _zx(masks["fit_keep"], word)
    fits, bit_p = _fit_decide(masks, fmt)
    high_w = _resize(high, word)                 # its top bit is 1: -1 above p
    negative = x[-1]
    saturated = pyrtl.select(negative, pyrtl.select(fmt.signed, high_w,
                                                    pyrtl.Const(0, word)), ~high_w)
    # x: the sign, then the rounded value's low bits (all of it where it fits)
    rounded = _resize(x[:-1], word)
    low = rounded & keep
    wrapped = pyrtl.select(fmt.signed & bit_p, low | ~keep, low)
    out_of_range = pyrtl.select(fmt.overflow, wrapped, saturated)
    value = pyrtl.select(fits, rounded, out_of_range)
    return named(value, scope("fitted")), named(~fits, scope("overflow"))


def _floor_kept(total: pyrtl.WireVector, below: pyrtl.WireVector, kept: int) -> dict:
    """What the fit needs of the floor's bits from ``kept`` up (floor = total >> k,
    arithmetic; ``below`` = ~(-1 << k), k's largest value its width): whether they
    are all 0 and all 1, as zero-test parts to be registered (:func:`_zero_parts`),
    and the sign (which decides where kept + k is beyond total's bits: both tests
    pass).  They are total's bits from kept + k up; nothing where the floor is kept
    whole."""
    w = total.bitwidth
    if kept >= w:
        return {}
    high = ~below                                         # -1 << k
    mask = pyrtl.concat_list([high[j] if j < high.bitwidth else pyrtl.Const(1, 1)
                              for j in range(w - kept)])
    upper = total[kept:]
    return {"up_zero": _zero_parts(upper & mask), "up_ones": _zero_parts(~upper & mask),
            "negative": total[-1]}


def _floor_value(b: dict, floor: pyrtl.WireVector) -> pyrtl.WireVector:
    """The floor as len(floor) + 2 bits for the fit (:func:`_floor_kept`'s registered
    tests in ``b``): its kept bits under the sign and 0 where its other bits are all
    0, 1 where all 1 (the floor itself: it fits those bits), and else 0 (negative)
    or 1 (positive) under the sign: a value beyond every format the rounder targets
    (they fit len(floor) - 1 bits), of the floor's sign, whose bits under len(floor)
    are the floor's (its low bits: a wrapped value's)."""
    negative = b["negative"]
    top = pyrtl.select(negative, _all_zero(b["up_ones"]), ~_all_zero(b["up_zero"]))
    return pyrtl.concat(negative, top, floor)


#: (limits, rounder) -> {op: (the largest shift of each term, the largest k)}
_SHIFT_BOUNDS: dict = {}
_FRAC_POS = sum(bits for name, bits in FORMAT_FIELDS[:[n for n, _ in FORMAT_FIELDS].index("frac")])
_FRAC_FIELD = dict(FORMAT_FIELDS)["frac"]


def _frac_values(op: str, role: str, limits: LaneLimits) -> range:
    """The fracs operand ``role``'s format can have when ``op`` runs: within the lane's
    limits where check_supported checks it, any the field holds where it does not
    (a role the operation does not read, a drain's absent bias)."""
    kind = OPERAND_ROLES[op].get(role)
    if kind is None or (op in DRAIN_OPS and role == "b"):
        return range(1 << _FRAC_FIELD)
    if kind == "acc":
        return range(limits.acc_frac + 1)
    return range((limits.const_frac if role == "c" else limits.data_frac) + 1)


def _shift_bounds(n: int, plans: dict, inputs: "ElementInputs", conditions: tuple,
                  limits: LaneLimits, block: pyrtl.Block) -> dict:
    """Per operation of the n-th rounder's ``plans``: (the largest shift G - frac of
    each of its terms, the largest k = G - f(target)) over every combination of the
    fracs its formats can have (:func:`_frac_values`; each of ``conditions``, data bits
    that choose a frac, 0 or 1), by running the plans' frac logic on all of them
    (:func:`~fixar_gen.hw.lane_bounds.evaluate`).  Cached per limits and operation (a
    lane without the serial functions computes the others' only)."""
    cached = _SHIFT_BOUNDS.setdefault((limits, n), {})
    if all(name in cached for name in plans):
        return {name: cached[name] for name in plans}
    driver = drivers(block)
    roles: dict = {}                 # a format input -> the roles it carries (one in a
    for r in ("a", "b", "c", "d", "e", "pre"):      # lane alone; a core may share one)
        roles.setdefault(getattr(inputs, f"fmt_{r}"), []).append(r)
    roots = {wire: rs[0] for wire, rs in roles.items()}
    for name, (parts, target) in plans.items():
        if name in cached:
            continue
        fracs = [pyrtl.as_wires(f) for _, f in parts]
        wires = [*fracs, target]
        found = reached(wires, [*roots, inputs.acc_bits, *conditions], driver)
        ranges = {}
        for wire in found:
            if wire in roots:
                top = max(_frac_values(name, r, limits)[-1] for r in roles[wire])
                ranges[wire] = [f << _FRAC_POS for f in range(top + 1)]
            else:
                ranges[wire] = [0] if wire is inputs.acc_bits else [0, 1]
        known = grid(ranges)
        values = evaluate(wires, known, driver)
        size = max([1, *(len(v) for v in known.values())])
        fs = [np.broadcast_to(v, (size,)).astype(np.int64) for v in values[:-1]]
        fd = (np.broadcast_to(values[-1], (size,)).astype(np.int64) >> _FRAC_POS) \
            & ((1 << _FRAC_FIELD) - 1)
        g = np.maximum.reduce([*fs, fd])
        at = [int(np.argmax(g - f)) for f in fs]
        witnesses = [{roots.get(w, "condition" if w is not inputs.acc_bits else "acc_bits"):
                      int(np.broadcast_to(known[w], (size,))[i]) >> (_FRAC_POS if w in roots
                                                                     else 0)
                      for w in known} for i in at]
        cached[name] = ([int((g - f).max()) for f in fs], int((g - fd).max()), witnesses)
    return {name: cached[name] for name in plans}


def rounder_shift_bounds(limits: LaneLimits = WIDEST) -> dict[int, dict]:
    """{rounder (1, 2): {op: (the largest shift of each term, the largest k, per term
    the fracs by role that reach its largest shift)}} of a lane generated for
    ``limits`` (:func:`_shift_bounds`; a lane is elaborated if none was)."""
    rounds = {n: [name for name, plan in PLANS.items()
                  if getattr(plan, f"round{n}") is not None] for n in (1, 2)}
    if any(name not in _SHIFT_BOUNDS.get((limits, n), {})
           for n in (1, 2) for name in rounds[n]):
        build_vector_unit(MIN_WORD, limits=limits)
    return {n: {name: _SHIFT_BOUNDS[(limits, n)][name] for name in rounds[n]}
            for n in (1, 2)}


def _rounder(scope: Scope, n: int, bundle: dict, plans: dict, slots: int, w_int: int,
             w_out: int, bounds: dict, clip_ops: tuple[str, ...] = (), late=None,
             late_reads: tuple[str, ...] = (), fit_width: int | None = None) -> dict:
    """The n-th rounder, R(terms, target) of :func:`_select_terms`' ``plans``, over
    the stages of ROUNDER_STAGES: ``bundle`` (with ``op`` and the stage's wires the plans
    read) carried alongside; returns the fit stage's bundle with ``full`` (the fitted
    value, w_out bits) and ``ovf``.  ``bounds``: per operation, the largest shift of
    each term and the largest k (:func:`_shift_bounds`; the alignment shifters, the
    shift amounts and clip's comparisons are sized by them); ``clip_ops``: the
    operations whose sum is clip's choice (the first rounder); ``late``: bundle ->
    values computed in the ``rnd`` stage and carried to the fit stage's bundle (what
    only the rounded value's users read: the clamp bounds, formed two stages ahead of
    their use instead of riding every stage); ``late_reads``: keys of ``bundle`` only ``late`` reads (not carried
    past the ``rnda`` stage); ``fit_width``: the widest target format the plans can
    have (w_out by default): the floor is kept at that width plus 2 bits
    (:func:`_floor_kept`), the fit and the rounding adder work at it."""
    sub = scope.sub(f"round{n}")
    kept = tuple(bundle)

    def stage(name: str, values: dict, hidden=()) -> dict:
        return _stage(scope, _rounder_stage(name, n), values, hidden=hidden)

    # each operation's terms (value bits, largest shift) in the slots that keep the
    # shifters' stages narrowest (:func:`~fixar_gen.hw.lane_slots.assign_slots`; the
    # sum is the same in any order); per slot, its terms: the shifters' stages
    widths = {name: [(min(w_int, pyrtl.as_wires(value).bitwidth), bounds[name][0][i])
                     for i, (value, _) in enumerate(parts)]
              for name, (parts, _) in plans.items()}
    where = assign_slots({name: [(*widths[name][i], value) for i, (value, _) in
                                 enumerate(parts)] for name, (parts, _) in plans.items()},
                         slots, w_int, fixed=clip_ops)
    placed = {}
    for name, (parts, target) in plans.items():
        row: list = [None] * slots
        for i, part in enumerate(parts):
            row[where[name][i]] = part
        placed[name] = (row, target)
    terms = [[widths[name][i] for name in plans for i, slot in enumerate(where[name])
              if slot == j] for j in range(slots)]
    sh_bits = [max(1, max([sh for _, sh in t] or [0]).bit_length()) for t in terms]
    # clip's terms fit their value bits + largest shift (signed): its comparisons at
    # one bit more
    clip_bits = 1 + max([min(w_int, bits + bounds[name][0][i])
                         for name in clip_ops for i, (value, _) in enumerate(plans[name][0])
                         for bits in [pyrtl.as_wires(value).bitwidth]] or [w_int])
    k_bits = max(1, max(bound[1] for bound in bounds.values()).bit_length())
    b = stage("sel", {**bundle, **_select_terms(sub, bundle["op"], placed, w_int, slots)})
    fmt = unpack_format(b["fmt_target"])
    fd = _zx(fmt.frac, _FRAC)
    g = named(_max_tree(*[b[f"f{i}"] for i in range(slots)], fd), sub("align_frac"))
    b = stage("amt", {**_keep(b, *kept, "fmt_target"),
                      **{f"v{i}": b[f"v{i}"] for i in range(slots)},
                      **{f"sh{i}": (g - b[f"f{i}"])[:sh_bits[i]] for i in range(slots)},
                      "k": (g - fd)[:k_bits]})
    b = stage("align", {**_keep(b, *kept, "fmt_target", "k"),
                        **{f"term{i}": named(bounded_shl(b[f"v{i}"], b[f"sh{i}"], terms[i],
                                                         w_int), sub(f"term{i}"))
                           for i in range(slots)}})
    w = w_int + 1                                        # the sum's bits
    k_max = max(bound[1] for bound in bounds.values())
    below_bits = max(1, min(w + 1, k_max))              # k <= k_max: 0 above
    total = _add_terms([b[f"term{i}"] for i in range(slots)],
                       _View(b).is_op(*clip_ops) if clip_ops else None, w_int,
                       clip_bits)
    # the shift reads 2 s (s and a 0 bit): (2 s) >> k is floor(s / 2^k) above its bit
    # 0, s's bit k - 1 (the half) in it; for k = 0 the half and sticky bits are 0 and
    # floor is s (no k - 1, no k == 0 test, no multiplexer after the shifter)
    b = stage("sum", {**_keep(b, *kept, "fmt_target", "k"), "sum": named(total, sub("sum")),
                      # 2 s's bits under bit k: s's bits under the half (bit 0 is 0)
                      "below": ~_shl(_const(-1, below_bits), b["k"])})
    s2 = pyrtl.concat(b["sum"], pyrtl.Const(0, 1))
    kept_bits = w if fit_width is None else min(w, fit_width + 2)
    t = _sar_low(s2, b["k"], kept_bits + 1)             # (2 s) >> k, its low bits
    x_bits = w + 1 if kept_bits == w else kept_bits + 2
    b = stage("rnda", {**_keep(b, *kept, "fmt_target"),
                       "floor": t[1:], "half": t[0],          # s >> k, arithmetic
                       "sticky": ~_is_zero(s2[:below_bits] & b["below"]),
                       **_floor_kept(b["sum"], b["below"], kept_bits),
                       **_fit_masks(unpack_format(b["fmt_target"]), x_bits, w_out)},
              hidden=("fit_high",))
    masks = ("fit_high",)
    half, floor = b["half"], b["floor"]
    # the floor (sign-extended), or its kept bits under two bits that stand for the
    # rest (:func:`_floor_kept`): the same fit, rounded value and sign
    x = _sx(floor, w + 1) if kept_bits == w else _floor_value(b, floor)
    nearest_even = half & (b["sticky"] | floor[0])
    toward_zero = x[-1] & (half | b["sticky"])           # a negative sum, not exact
    up = pyrtl.mux(unpack_format(b["fmt_target"]).rounding,   # ROUNDING_MODES' order
                   nearest_even, half, pyrtl.Const(0, 1), toward_zero)
    # the fit reads the rounded value's low bits (w_out, or x's without its sign) and
    # its sign only where it does not fit: there the sign is floor's (they differ only
    # for floor = -1, up = 1: 0)
    r_bits = min(w_out, x_bits - 1)
    rounded = named(pyrtl.concat(x[-1], (x[:r_bits] + _zx(up, r_bits))[:r_bits]),
                    sub("rounded"))
    extra = late(b) if late is not None else {}
    kept = tuple(k for k in kept if k not in late_reads)
    derived = _fit_derived(unpack_format(b["fmt_target"]), b["fit_high"], w_out)
    tests = _fit_tests(x, up, unpack_format(b["fmt_target"]),
                       {"fit_high": b["fit_high"], **derived}, w_out)
    masks = (*masks, "fit_keep", *tests)
    b = stage("rnd", {**_keep(b, *kept, "fmt_target"), "fit_high": b["fit_high"][:w_out],
                      "fit_keep": derived["fit_keep"], **tests,
                      "rounded": rounded, **extra},
              hidden=masks)
    full, ovf = _fit(sub, b["rounded"], unpack_format(b["fmt_target"]),
                     {m: b[m] for m in masks}, w_out)
    return stage("fit", {**_keep(b, *kept, *extra), "full": full, "ovf": ovf},
                 hidden=("full",))


def _clamp_bounds(fd: pyrtl.WireVector, value_bits: int, max_frac: int) -> dict:
    """1 and -1 in a format of frac ``fd`` <= max_frac (2^fd needs fd + 2 signed bits:
    max(value_bits, max_frac + 2) bits, ``value_bits`` those of the values clamped),
    computed two stages ahead of :func:`_clamp_one` (the rounders' ``late`` values);
    -2^fd is -1 << fd (no adder)."""
    bits = max(value_bits, max_frac + 2)
    return {"one_d": _shl(pyrtl.Const(1, bits), fd), "neg_one_d": _shl(_const(-1, bits), fd)}


def _clamp_one(value: pyrtl.WireVector, bounds: dict, word: int) -> pyrtl.WireVector:
    """``value`` (a word-bit result that is a data value: it fits the bounds' bits
    signed) clamped to [-1, 1] (the noise clamps; ``bounds`` from
    :func:`_clamp_bounds`): both comparisons side by side (-1 < 1); the clamped value
    fits the word (it is no larger than ``value``)."""
    one_d, neg_one_d = bounds["one_d"], bounds["neg_one_d"]
    bits = one_d.bitwidth
    value = _resize(value, bits)
    out = pyrtl.select(pyrtl.signed_lt(one_d, value), one_d,
                       pyrtl.select(pyrtl.signed_lt(value, neg_one_d), neg_one_d, value))
    return _resize(out, word)


@dataclass(frozen=True)
class LaneReads:
    """What the plans of a lane's operations read (:func:`lane_reads`), so that a lane
    built without some functions carries none of what only they read (a wire nothing
    reads would be a lint warning, and logic)."""

    reads: dict            # {"round1": wires, "round2": wires}: the rounders' reads
    products: frozenset    # the multipliers' operand choices' reads
    unread: frozenset      # carried values no plan reads past the first rounder
    tanh: bool             # the tanh table and its interpolation (the tanh drain)
    e: bool                # e past the pre stage: the first rounder's, a multiplier's
    fmt_e: bool            # e's format
    ma2_narrow: bool       # the third product narrowed to zp * c0 (a second rounding
    #                        without a ratio reads it: the leaky drains)

    def absent_inputs(self, serial_outputs: bool) -> frozenset:
        """The unit's inputs nothing reads: the PRNG lane off lane 0, e and its format
        where no function reads them (a standalone unit ties them to 0)."""
        return frozenset(name for name, absent in (
            ("lane", not serial_outputs), ("e", not self.e), ("fmt_e", not self.fmt_e))
            if absent)


@functools.lru_cache(maxsize=64)
def lane_reads(lane_ops: tuple[str, ...]) -> LaneReads:
    """:class:`LaneReads` of a lane running ``lane_ops``: a lane without the serial
    functions (ou_noise reads e in the first rounder, a, f(a) and f(e) in the second)
    carries none of them there; without the tanh drain, no table; and so on."""
    plans = [PLANS[name] for name in lane_ops]
    reads = {hook: frozenset().union(*(wires_read(plan)[hook] for plan in plans
                                       if getattr(plan, hook) is not None))
             for hook in ("round1", "round2")}
    products = frozenset().union(*(wires_read(plan)["products"] for plan in plans
                                   if plan.products is not None))
    unread = ({"e"} - reads["round1"]) | {key for key, wire in (
        ("a", "a"), ("frac_a", "fa"), ("frac_c", "fc"), ("frac_e", "fe"))
        if wire not in reads["round2"]}
    tanh = "tanh_value" in reads["round2"]
    if not tanh and "fpre" not in reads["round2"]:
        unread.add("frac_pre")               # tanh's table index and round2 read it
    e = "e" not in unread or "E" in products
    fmt_e = e or "frac_e" not in unread or bool({"fe", "fmt_e"} & reads["round1"])
    ma2_narrow = any("ma2" in wires_read(plan)["round2"] and not plan.ratio
                     for plan in plans if plan.round2 is not None)
    return LaneReads(reads, products, frozenset(unread), tanh, e, fmt_e, ma2_narrow)


def vector_unit(scope: Scope, *, word: int, acc_overflow: str,
                inputs: ElementInputs, serial_outputs: bool = True,
                limits: LaneLimits = WIDEST, functions=None) -> ElementOutputs:
    """Elaborate the element unit in the working block, its wires named ``scope(...)``.

    ``word``: bits of the operand and result words (>= 49; accumulators of up to
    ``word`` bits); ``acc_overflow``: the machine's accumulator overflow mode (acc_add).
    The unit is a pipeline of :data:`LANE_DEPTH` stages (the module docstring): it takes
    an element every cycle ``start`` is 1 and returns it :func:`element_latency` cycles
    later (a short operation's from ``prep``; no element of the other latency in
    flight meanwhile).
    Without ``serial_outputs`` the unit has no ``e_out`` and ``lane_out`` (None) and runs
    :data:`PARALLEL_OPS` only: a core's lanes other than lane 0 (the serial functions
    and range never run there), built without the PRNG's draws, the Gaussian, the
    noise clamps and those functions' operand and term choices.
    ``limits``: the formats the unit computes exactly (:class:`LaneLimits`; the
    widest lane by default); the datapath's widths are derived from them.
    ``functions`` (a design's element functions; None: every one): the unit runs only
    those of its operations (:func:`lane_operations`), the others' terms, operands and
    shared resources left out; an operation it lacks computes nothing defined (the
    host refuses a program that has one: ``hw.design.hardware_limits``).
    """
    check_word(word)
    if acc_overflow not in OVERFLOW_MODES:
        raise ValueError(f"vector_unit: acc_overflow {acc_overflow!r} is not one of "
                         f"{', '.join(OVERFLOW_MODES)}")
    for name, bits in ElementInputs.widths(word).items():
        check_width(getattr(inputs, name), bits, f"vector_unit {scope.prefix}: {name}")
    w_int = internal_width(word, limits)
    w_out = max(word, _SCALAR)         # the rounder's result: adam's int64 v and eps'
    W, F = limits.data_width, limits.data_frac
    opnd = W + 2                       # a data value (or its negation), signed
    opnd_c = max(limits.const_width, limits.const_frac) + 2     # a constant, 2^f(c) - c0
    t_bits = max(2 * F + 1, W + 1)     # 1 - y^2 <= 2^(2 f(b)), split at W bits
    den_bits = min(_SCALAR, max(W, limits.const_int + F) + 2)   # adam_w's den, no wrap
    lane_ops = lane_operations(serial_outputs, functions)
    if not lane_ops:
        raise ValueError(f"vector_unit {scope.prefix}: no operation among {functions}")
    plans = {name: plan for name, plan in PLANS.items() if name in lane_ops}

    def view(bundle: dict) -> _View:
        return _View(bundle, lane_ops)

    def having(**fields) -> list[str]:
        return _having(plans, **fields)

    use = lane_reads(lane_ops)
    products_read, unread = use.products, use.unread
    has_tanh, keep_e = use.tanh, use.e
    has_t = bool({"t_lo", "t_hi"} & products_read)
    has_b_zero = "b_zero" in products_read
    fmts = tuple(f"fmt_{r}" for r in ("a", "b", "c", "d", "e", "pre")
                 if r != "e" or use.fmt_e)
    operands = ("a", "b", "d", *(("e",) if keep_e else ()), "c0", "c1")

    def clamp_bounds(bundle: dict) -> dict:
        """The noise clamps' bounds, a rounder's ``late`` values (lanes that clamp)."""
        return _clamp_bounds(view(bundle).frac("d"), opnd, F)

    # -- in: every input registered (the operands arrive from the scratchpad read)
    s0 = _stage(scope, "in", {"valid": inputs.start, "op": inputs.op,
                              **{k: getattr(inputs, k) for k in operands + fmts},
                              "acc_bits": inputs.acc_bits,
                              **({"lane": inputs.lane} if serial_outputs else {})})
    v0 = view(s0)

    # -- sq: the squares' digit products (adam_s: d^2 and a^2; dact_tanh: b^2), one
    #    DSP48E2 each, registered; the PRNG's draws, summed and centred (so that the
    #    Gaussian's multiply has its two registers, sqp and sqsum, before pre)
    A0, B0, D0 = (_resize(s0[k], opnd) for k in ("a", "b", "d"))
    square_d = v0.is_op(*having(square="d"))
    sq_x = _smux(square_d, D0, B0, opnd)
    sq_bits = 2 * opnd
    carried = ("valid", "op", *operands, *fmts, "acc_bits")
    prng = {}                 # the serial functions' PRNG draws, centred (lane 0)
    if serial_outputs:
        prng["lane_next"], tops = _prng_draws(s0["lane"])
    sq1, sq1_at = _terms(product_terms(sq_x, sq_x), "sq1_t")
    sq2, sq2_at = _terms(product_terms(A0, A0), "sq2_t")
    if serial_outputs:
        prng["centred"] = _gaussian_centred(tops)
    s0 = _stage(scope, "sq", {**_keep(s0, *carried), **prng, **sq1, **sq2})
    # the squares' second register (PREG); the Gaussian's product, its first (MREG)
    s0 = _stage(scope, "sqp", {**{k: w for k, w in s0.items() if k != "centred"},
                               **({"gauss_prod": _gaussian_product(s0["centred"])}
                                  if serial_outputs else {})})

    # -- sqsum: the squares' terms summed in groups; the Gaussian's product (PREG)
    s0 = _stage(scope, "sqsum", {
        **_keep(s0, *carried, "lane_next", "gauss_prod"),
        **_group_sums(s0, "sq1_t", sq1_at, "sq1_g", sq_bits, groups=2),
        **_group_sums(s0, "sq2_t", sq2_at, "sq2_g", sq_bits, groups=2)})
    v0 = view(s0)

    # -- pre: the squares, 1 - y^2 of dact_tanh, 2^f(c) - c0, the PRNG's Gaussian
    square_1 = _final_sum(s0, "sq1_g", sq_bits)
    square_2 = _final_sum(s0, "sq2_g", sq_bits)
    C00 = _resize(s0["c0"], opnd_c)
    gauss = ({"gauss": _gaussian_scaled(scope.sub("prng"), s0["gauss_prod"])}
             if serial_outputs else {})
    t_parts = {}
    if has_t:
        fb0 = v0.frac("b")
        one_y = _shl(pyrtl.Const(1, t_bits + 1), _fsum(fb0, fb0))
        t_wide = max(t_bits, 2 * W + 1) + 2        # b^2 < 2^(2 W): its low 2 W + 1 bits
        t_full = _sub(t_wide, _zx(one_y, t_wide), _zx(square_1[:2 * W + 1], t_wide))
        t = pyrtl.select(t_full[-1], pyrtl.Const(0, t_bits), t_full[:t_bits])
        t_parts = {"t_lo": t[:W], "t_hi": t[W:]}
    square_bits = min(_MUL_X, square_1.bitwidth)     # adam_s: d^2, a^2 <= 2^62
    pow_fc = _shl(pyrtl.Const(1, opnd_c), v0.frac("c"))
    lane_kept = ({"lane_next": named(s0["lane_next"], scope("prng_lane_next"))}
                 if serial_outputs else {})
    s1 = _stage(scope, "pre", {
        **_keep(s0, *(k for k in carried if k != "e" or keep_e)), **lane_kept, **gauss,
        **t_parts,
        "square_1": square_1[:square_bits], "square_2": square_2[:square_bits],
        "one_minus_c": _sub(opnd_c, pow_fc, C00),
        # bellman's done flag, a stage ahead
        **({"b_zero": _is_zero(s0["b"])} if has_b_zero else {})},
        hidden=("e",) if "e" in unread else ())   # then the multipliers' operand only

    # -- mulop: the multipliers' operands, selected by the operation's plan (the widest
    #    lane: 64 x 50 bits), registered
    A, B, D = (_resize(s1[k], opnd) for k in ("a", "b", "d"))
    E = _resize(s1["e"], opnd) if keep_e else None
    C0, C1 = (_resize(s1[k], opnd_c) for k in ("c0", "c1"))
    stage = Stage(A=A, B=B, D=D, **({"E": E} if keep_e else {}), C0=C0, C1=C1,
                  b_zero=lambda: s1["b_zero"],
                  **_keep(s1, "gauss"),
                  t_lo=lambda: _zx(s1["t_lo"], W + 1),
                  t_hi=lambda: _zx(s1["t_hi"], t_bits - W + 1),
                  square_1=s1["square_1"], square_2=s1["square_2"],
                  one_minus_c=s1["one_minus_c"])
    x_table, y_table, xb_table, yb_table = {}, {}, {}, {}
    for name, plan in plans.items():
        if plan.products is not None:
            for key, value in plan.products(stage).items():
                {"x": x_table, "y": y_table, "xb": xb_table, "yb": yb_table}[key][
                    OP_INDEX[name]] = value
    op1 = s1["op"]
    #: per operation, the bits of its products (its operands' widths: sign-extended
    #: into the shared multipliers, its product is no wider)
    product_bits = {name: {m: x[OP_INDEX[name]].bitwidth + y[OP_INDEX[name]].bitwidth
                           for m, x, y in (("ma", x_table, y_table), ("mb", xb_table, yb_table))
                           if OP_INDEX[name] in x}
                    for name in plans}
    x_bits = max(w.bitwidth for w in (*x_table.values(), *xb_table.values()))
    y_bits = max(w.bitwidth for w in (*y_table.values(), *yb_table.values()))
    carried = tuple(k for k in (*carried, "lane_next") if k != "e" or "e" not in unread)
    s1 = _stage(scope, "mulop", {
        **_keep(s1, *carried), "x": _case(op1, x_table, x_bits),
        "y": _case(op1, y_table, y_bits), "xb": _case(op1, xb_table, x_bits),
        "yb": _case(op1, yb_table, y_bits)})

    # -- mul: the two multipliers' digit products (one DSP48E2 each), registered;
    #    macc1, macc2: summed in groups, then the groups (products exact, signed)
    m_bits = x_bits + y_bits
    ma_t, ma_at = _terms(product_terms(s1["x"], s1["y"]), "ma_t")
    mb_t, mb_at = _terms(product_terms(s1["xb"], s1["yb"]), "mb_t")
    s1 = _stage(scope, "mul", {**_keep(s1, *carried), **ma_t, **mb_t})
    s1 = _stage(scope, "mulp", s1)        # the products' second register (PREG)
    s1 = _stage(scope, "macc1", {**_keep(s1, *carried),
                                 **_group_sums(s1, "ma_t", ma_at, "ma_g", m_bits),
                                 **_group_sums(s1, "mb_t", mb_at, "mb_g", m_bits)})
    # b, e and the constants are data values the rounder reads at their widths only
    # (partly used words: unnamed)
    s2 = _stage(scope, "macc2", {**_keep(s1, *carried),
                                 "ma": _final_sum(s1, "ma_g", m_bits),
                                 "mb": _final_sum(s1, "mb_g", m_bits)},
                hidden=("b", "c0", "c1", "e"))
    v2 = view(s2)

    # -- round1: every function's first (for most, only) rounding
    # e: None where unread
    a, b, d, e, c0, c1 = (s2.get(k) for k in ("a", "b", "d", "e", "c0", "c1"))
    ma, mb = s2["ma"], s2["mb"]
    fracs1 = {}

    def frac1(role: str) -> pyrtl.WireVector:
        """The frac of ``role``'s format (``drain_b``: the drains' bias frac, b = 0
        without a bias), built once, when a plan reads it."""
        if role not in fracs1:
            fracs1[role] = (pyrtl.select(frac1("b") > frac1("a"), frac1("a"), frac1("b"))
                            if role == "drain_b" else v2.frac(role))
        return fracs1[role]
    fmt_d, fmt_pre = s2["fmt_d"], s2["fmt_pre"]
    fmt_acc = pack_format_wires(s2["acc_bits"], 0, 1, ROUNDING_MODES.index("truncate"),
                                OVERFLOW_MODES.index(acc_overflow))
    narrow = _Narrow()
    b_data = narrow(b, opnd)
    b_positive = ~b_data[-1] & ~_is_zero(b_data)         # dact_relu, dact_leaky

    def round1_stage(name: str) -> Stage:
        """The stage as operation ``name`` sees it: its data operands and constants at
        the widths their formats allow, its products at their operands' widths (the
        terms the first rounder aligns are no wider than their values)."""
        roles = OPERAND_ROLES[name]

        def opnd_of(role, wire):
            if roles.get(role) != "data":
                return wire
            return narrow(wire, opnd_c if role == "c" else opnd)
        a_, b_ = opnd_of("a", a), opnd_of("b", b)
        bits = product_bits.get(name, {})
        # built when the plan reads them (a wire nothing reads would be a lint warning)
        return Stage(a=a_, b=b_, d=lambda: opnd_of("d", d), e=lambda: opnd_of("e", e),
                     c0=lambda: opnd_of("c", c0), c1=lambda: opnd_of("c", c1),
                     ma=lambda: narrow(ma, bits["ma"]) if "ma" in bits else ma,
                     mb=lambda: narrow(mb, bits["mb"]) if "mb" in bits else mb,
                     # |t_hi A| < 2^t_bits
                     mb_hi=lambda: pyrtl.concat(mb[:t_bits + 1], pyrtl.Const(0, W)),
                     **{f"f{r}": (lambda r=r: frac1(r)) for r in ("a", "b", "c", "d", "e")},
                     fmt_d=fmt_d, fmt_e=lambda: s2["fmt_e"], fmt_pre=fmt_pre,
                     fmt_v=lambda: pack_format_wires(_SCALAR, 0, 1, v2.fmt("d").rounding,
                                                     OVERFLOW_MODES.index("saturate")),
                     fmt_eps=lambda: pack_format_wires(_SCALAR, v2.fmt("b").frac, 1,
                                                       ROUNDING_MODES.index("nearest_even"),
                                                       OVERFLOW_MODES.index("saturate")),
                     fmt_acc=fmt_acc,
                     A=lambda: narrow(a, opnd),
                     b_positive=b_positive,
                     drain0=lambda: [(a_, frac1("a")), (b_, frac1("drain_b"))],
                     zero_frac=lambda: pyrtl.Const(0, _FRAC))
    plans1 = {name: _declared_rounding(name, plan.round1(round1_stage(name)),
                                       plan.round2 is None)
              for name, plan in plans.items() if plan.round1 is not None}
    # from here on the operands are data values (range's, adam_w's, ou_noise's) or
    # constants: carried at their widths, not the word's
    s2 = {**_keep(s2, "valid", "op", *(f for f in fmts    # (a and b: the divider's shift)
                                       if f not in ("fmt_c", "fmt_e", "fmt_pre")
                                       or f"frac_{f[4:]}" not in unread),
                  "lane_next"),
          "a": _resize(a, opnd), "d": _resize(d, opnd),
          **({"e": _resize(e, opnd)} if serial_outputs else {}),
          "c0": _resize(c0, opnd_c), "b": _resize(b, den_bits),
          "abs_a": _abs(_resize(a, opnd))}
    s2 = _rounder(scope, 1, s2, plans1, 3, w_int, w_out,
                  _shift_bounds(1, plans1, inputs, (b_positive,), limits,
                                pyrtl.working_block()),
                  clip_ops=tuple(having(clip=True)), fit_width=w_out,
                  late=clamp_bounds if having(clamp="first") else None)
    s3 = s2
    v3 = view(s3)

    # -- prep: the first rounding's value as d (range's min, the noise clamp) and e
    #    (range's max, ou_noise's state); the square root's radicand (adam_s's v) and
    #    the divider's numerator |m| << shift and denominator s + max(eps', 1) (adam_w)
    a, d, e = s3["a"], s3["d"], s3.get("e")
    full1, ovf1 = s3["full"], s3["ovf"]
    value1 = named(full1[:word], scope("round1_value"))
    is_range = v3.is_op(*having(min_max=True))
    low = pyrtl.select(pyrtl.signed_lt(a, d), a, d)            # range's min, a data value
    clamped1 = (pyrtl.select(v3.is_op(*having(clamp="first")),
                             _clamp_one(value1, s3, word), value1)
                if having(clamp="first") else value1)
    d1 = _smux(is_range, low if low.bitwidth <= word else low[:word], clamped1, word)
    e1 = {}
    if serial_outputs:               # a data value: range's max, ou_noise's state
        e1["e1"] = pyrtl.select(is_range, pyrtl.select(pyrtl.signed_lt(e, a), a, e),
                                pyrtl.select(v3.is_op(*having(e_from_first=True)),
                                             _resize(value1, opnd), e))
    full = full1
    v = pyrtl.select(full[w_out - 1], pyrtl.Const(0, 2 * ROOT_BITS), full[:2 * ROOT_BITS])
    eps = full[:_SCALAR]
    eps_one = pyrtl.select(pyrtl.signed_lt(eps, pyrtl.Const(1, _SCALAR)),
                           pyrtl.Const(1, _SCALAR), eps)
    # den: golden's int64 sum (it wraps only when den_bits is 64, the widest lane)
    den = _add(den_bits, s3["b"], _resize(eps_one, den_bits))
    shift = (pyrtl.Const(arch.RATIO_FRAC, _FRAC) + v3.frac("b") - v3.frac("a"))[:_FRAC]
    num = _zx(_shl(_zx(s3["abs_a"], QUOTIENT_BITS), shift), DIV_STEPS)
    # from here on: the fracs of a, c, e and pre (dst's whole format for the second
    # rounding); d1 is also the first rounding's value of the two-rounding functions
    carry = {**_keep(s3, "valid", "op", "a", "d", "c0", "fmt_d", "lane_next"),
             **({"a": a[-1]} if "a" in unread else {}),    # then -ratio's sign only
             "ovf1": ovf1, "d1": d1, **e1,
             "sat_d1": ovf1 & v3.is_op(*having(first_counts="d")),
             **{f"frac_{r}": v3.fmt(r).frac for r in ("a", "c", "e", "pre")
                if f"frac_{r}" not in unread}}
    prep = _stage(scope, "prep", {**carry, "rad": v, "dnum_quo": num, "dden": _abs(den),
                                  "dden_neg": den[-1], "dden_zero": _is_zero(den)},
                  hidden=("rad", "dnum_quo"))
    carry = {key: prep[key] for key in carry}
    state = {"rad": prep["rad"], "srem": pyrtl.Const(0, 1),
             "sroot": pyrtl.Const(0, 1), "dnum_quo": prep["dnum_quo"],
             "drem": pyrtl.Const(0, 1), "dden": prep["dden"],
             "dden_neg": prep["dden_neg"], "dden_zero": prep["dden_zero"]}
    bundle = {**carry, **state}
    tanh_rom = _tanh_rom(scope.sub("tanh")) if has_tanh else None
    root_steps = ROOT_BITS
    for k in range(1, ITER_STAGES + 1):
        steps = min(SQRT_STEPS_PER_STAGE, root_steps)
        root_steps -= steps
        rad, srem, sroot = _sqrt_steps(bundle.get("rad"), bundle["srem"], bundle["sroot"],
                                       steps, ROOT_BITS + 2)
        fits = {int(key[3:]): wire for key, wire in bundle.items() if key.startswith("dhz")}
        dnum_quo, drem, fits = _divider_stage(k == 1, k == ITER_STAGES, bundle["dnum_quo"],
                                              bundle["drem"], bundle["dden"], fits, den_bits)
        values = {**{key: bundle[key] for key in carry}, "rad": rad, "srem": srem,
                  "sroot": sroot, "dnum_quo": dnum_quo, "drem": drem,
                  **{f"dhz{n}": wire for n, wire in fits.items()},
                  **_keep(bundle, "dden", "dden_neg", "dden_zero")}
        if root_steps == 0:              # the root is done: no radicand bits left
            del values["rad"]
        if k == ITER_STAGES:             # what only a further step would read
            if drem.bitwidth <= den_bits:    # (a non-restoring remainder's test reads den)
                del values["dden"]
        elif k == ITER_STAGES - 1:       # the last stage reads den's low bits only
            reads = min(den_bits, drem.bitwidth + DIV_BITS_PER_STAGE)
            if reads < den_bits:
                values["dden"] = values["dden"][:reads]
        # tanh (drains), off mul2's path: |z| and the frac's shifts, the index, then
        # the table read, in the last three iter stages
        if has_tanh and k == ITER_STAGES - 2:
            values.update(_tanh_prep(_resize(bundle["d1"], opnd), bundle["frac_pre"]))
        elif has_tanh and k == ITER_STAGES - 1:
            values.update(_tanh_index(bundle, F))
        elif has_tanh and k == ITER_STAGES:
            values.update(_keep(bundle, "tanh_beyond", "tanh_rem", "tanh_seg", "tanh_neg"))
            values["tanh_entry"] = tanh_rom[bundle["tanh_index"]]
        bundle = _stage(scope, f"iter{k}", values, hidden=("rad", "dnum_quo"))
    s4 = bundle
    v4 = view(s4)

    # -- mul2: the root rounded to nearest (adam_s), -ratio (adam_w) or the
    #    pre-activation (leaky ReLU), registered for the third multiplier; tanh's table
    #    entry split for its interpolation (drains)
    sroot, srem, dquo, drem = s4["sroot"], s4["srem"], s4["dnum_quo"], s4["drem"]
    root_nearest = _add(ROOT_BITS + 2, _zx(sroot, ROOT_BITS + 1),
                        _zx(_root_up(srem, sroot), 2))
    is_ratio = v4.is_op(*having(ratio=True))
    neg_ratio = _neg_ratio(dquo[:QUOTIENT_BITS], s4["a"][-1], s4["dden_neg"],
                           s4["dden_zero"])
    rz = _remainder_zero_parts(drem, s4.get("dden"))
    zp = _resize(s4["d1"], opnd)
    carried = ("valid", "op", "a", "d", "frac_a", "frac_c", "frac_e", "frac_pre", "fmt_d",
               "lane_next", "ovf1", "d1", "e1", "sat_d1")
    s5 = _stage(scope, "mul2", {
        **_keep(s4, *carried, "c0", "dden_neg"), **rz,

        "ratio_on": is_ratio & ~s4["dden_zero"],
        "x2": _smux(is_ratio, neg_ratio, zp, _MUL_X),
        **(_tanh_parts(s4, s4["tanh_entry"]) if has_tanh else {}), "root": root_nearest})

    # -- mul2pp: the third multiplier's digit products and tanh's delta * remainder,
    #    registered; mul2acc1, mul2acc2: summed in groups, then the groups; tanh's
    #    interpolation and sign
    m2_bits = _MUL_X + s5["c0"].bitwidth
    c0_bits = s5["c0"].bitwidth                # leaky ReLU's zp * c0: opnd + c0_bits
    ma2_t, ma2_at = _terms(product_terms(s5["x2"], s5["c0"]), "ma2_t")
    tanh_t, tanh_at, num_bits = {}, None, None
    if has_tanh:
        tanh_t, tanh_at = _terms(product_terms(
            _zx(s5["tanh_delta"], s5["tanh_delta"].bitwidth + 1),
            _zx(s5["tanh_rem"], s5["tanh_rem"].bitwidth + 1)), "tanh_t")
        num_bits = s5["tanh_y0s"].bitwidth
    carried = (*(k for k in carried if k != "a" or "a" not in unread),
               "root", "tanh_y0s", "tanh_one", "tanh_beyond", "tanh_neg",
               "tanh_frac")
    # -ratio's carry times alpha (0 but for adam_w), added to the product in mul2acc2
    carry = _ratio_carry({k: s5[k] for k in rz}, s5["a"][-1], s5["dden_neg"],
                         s5["ratio_on"])
    s5 = _stage(scope, "mul2pp", {**_keep(s5, *carried), **ma2_t, **tanh_t,
                                  "ma2_carry": _ratio_addend(carry, s5["c0"])})
    carried = (*carried, "ma2_carry")
    s5 = _stage(scope, "mul2p", s5)       # the products' second register (PREG)
    s5 = _stage(scope, "mul2acc1", {**_keep(s5, *carried),
                                    **_group_sums(s5, "ma2_t", ma2_at, "ma2_g", m2_bits),
                                    **(_group_sums(s5, "tanh_t", tanh_at, "tanh_g", num_bits,
                                                   groups=2) if has_tanh else {})})
    carried = tuple(k for k in carried if not k.startswith(("tanh_", "ma2_")))
    s5 = _stage(scope, "mul2acc2", {
        **_keep(s5, *carried), "ma2": _final_sum(s5, "ma2_g", m2_bits,
                                                 (_sx(s5["ma2_carry"], m2_bits), 0)),
        **({"tanh_value": _tanh_value(scope.sub("tanh"), s5, num_bits),
            "tanh_frac": s5["tanh_frac"]} if has_tanh else {})})
    v5 = view(s5)

    # -- round2: the second rounding (adam_s, adam_w, ou_noise, the activated drains)
    fracs2 = {f"f{r}": v5.frac(r) for r in ("a", "c", "d", "e", "pre")
              if f"frac_{r}" not in unread}
    zp = _resize(s5["d1"], opnd)
    leaky_neg = zp[-1]
    relu_zp = pyrtl.select(leaky_neg, pyrtl.Const(0, opnd), zp)
    # zp * c0 (no ratio: the leaky drains), narrowed where a plan reads it (a lane
    # without them leaves no unread slice)
    ma2_zp = narrow(s5["ma2"], opnd + c0_bits) if use.ma2_narrow else s5["ma2"]

    def round2_stage(name: str) -> Stage:
        """The stage as ``name`` sees it: d1 (a data value: ou_noise's state) at the
        data operands' width, the third product at its operands' widths."""
        return Stage(**_keep(s5, "a"), d=s5["d"], d1=zp, root=s5["root"], **fracs2,
                     fmt_d=s5["fmt_d"], zp=zp, leaky_neg=leaky_neg,
                     ma2=s5["ma2"] if plans[name].ratio else ma2_zp, relu_zp=relu_zp,
                     **_keep(s5, "tanh_value", "tanh_frac"))
    plans2 = {name: plan.round2(round2_stage(name))
              for name, plan in plans.items() if plan.round2 is not None}
    # every second rounding targets dst, a data format (at most W bits wide): its fit
    # at that width (the first rounder's targets include adam's int64 and acc_add's
    # accumulator)
    fit2 = (W if all(target is s5["fmt_d"] and OPERAND_ROLES[name].get("d") == "data"
                     for name, (_, target) in plans2.items()) else None)
    plans2 = {name: _declared_rounding(name, plan, True) for name, plan in plans2.items()}
    clamps2 = bool(having(clamp="second"))
    s5 = _rounder(scope, 2, {**_keep(s5, "valid", "op", "lane_next", "ovf1", "d1", "e1",
                                     "sat_d1"),
                             **({"frac_d": unpack_format(s5["fmt_d"]).frac}
                                if clamps2 else {})},
                  plans2, 2, w_int, w_out,
                  _shift_bounds(2, plans2, inputs, (leaky_neg,), limits,
                                pyrtl.working_block()),
                  late=clamp_bounds if clamps2 else None,
                  late_reads=("frac_d",) if clamps2 else (), fit_width=fit2)
    v5 = view(s5)
    full2, ovf2 = s5["full"], s5["ovf"]
    value2 = full2[:word]
    two = v5.is_op(*plans2)
    if clamps2:
        value2 = pyrtl.select(v5.is_op(*having(clamp="second")),
                              _clamp_one(value2, s5, word), value2)
    ou = v5.is_op(*having(first_counts="e"))
    d_val = pyrtl.select(two, value2, s5["d1"])
    sat_d = pyrtl.select(two, (_zx(ovf2, 2) + _zx(s5["sat_d1"], 2))[:2],
                         _zx(s5["sat_d1"], 2))
    # a short operation's element (SHORT_OPS: final after the first rounding) from prep
    # into the output registers; its copy further down the pipeline returns nothing
    short = tuple(name for name in SHORT_OPS if name in lane_ops)
    late = s5["valid"]
    if short:
        early = named(prep["valid"] & view(prep).is_op(*short), scope("early"))
        late = late & ~v5.is_op(*short)
        d_val = pyrtl.select(early, prep["d1"], d_val)
        sat_d = pyrtl.select(early, _zx(prep["sat_d1"], 2), sat_d)
    serial = ({"e_out": _resize(s5["e1"], word), "lane_out": s5["lane_next"]}
              if serial_outputs else {})
    out = _stage(scope, "out", {"done": (early | late) if short else late, "d_out": d_val,
                                **serial, "sat_d": sat_d, "sat_e": s5["ovf1"] & ou & late})
    if not serial_outputs:
        out.update(e_out=None, lane_out=None)
    return ElementOutputs(**out)


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
    limits: LaneLimits = WIDEST
    #: lane 0's unit (every operation, e_out and lane_out), else :data:`PARALLEL_OPS`
    serial_outputs: bool = True
    #: a design's element functions (None: every one): :func:`lane_operations`
    functions: tuple[str, ...] | None = None

    @property
    def operations(self) -> tuple[str, ...]:
        return lane_operations(self.serial_outputs, self.functions)

    def port(self, what: str) -> str:
        return f"{self.name}_{what}"


OUTPUT_WIDTHS = {"done": 1, "lane_out": LANE_BITS, "sat_d": 2, "sat_e": 1}


def build_vector_unit(word: int, acc_overflow: str = "saturate", scope: str = "vu",
                      limits: LaneLimits = WIDEST, serial_outputs: bool = True,
                      functions=None) -> tuple[pyrtl.Block, VectorUnitDesign]:
    """The element unit alone in a fresh block, its inputs and outputs as ports named
    ``<scope>_<port>`` (ElementInputs / ElementOutputs field names), generated for the
    formats of ``limits``; without ``serial_outputs`` a core's lane other than lane 0
    (:data:`PARALLEL_OPS`, no ``e_out`` and ``lane_out`` ports); ``functions``: a
    design's element functions (:func:`lane_operations`)."""
    if functions is not None:
        functions = tuple(functions)
    sc = Scope(scope)
    with fresh_block() as block:
        tied = lane_reads(lane_operations(serial_outputs, functions)).absent_inputs(
            serial_outputs)
        ins = ElementInputs(**{name: pyrtl.Input(bits, name=sc(name))
                               if name not in tied else pyrtl.Const(0, bits)
                               for name, bits in ElementInputs.widths(word).items()})
        outs = vector_unit(sc.sub("core"), word=word, acc_overflow=acc_overflow, inputs=ins,
                           limits=limits, serial_outputs=serial_outputs,
                           functions=functions)
        for name in ("done", "d_out", "e_out", "lane_out", "sat_d", "sat_e"):
            reg = getattr(outs, name)
            if reg is None:
                continue
            port = pyrtl.Output(reg.bitwidth, name=sc(name))
            port <<= reg
    design = VectorUnitDesign(block, word, acc_overflow, scope, internal_width(word, limits),
                              {op: element_latency(op) for op in ELEMENT_OPS}, limits,
                              serial_outputs, functions)
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
    job = dict(op=op, a=a, b=b, d=d, e=e, c0=c0, c1=c1, formats=formats,
               acc_bits=acc_bits, lane=lane)
    return run_elements(sim, design, [job], garbage=garbage, max_cycles=max_cycles)[0]


def run_elements(sim, design: VectorUnitDesign, jobs: list[dict], *, garbage: int = 0,
                 max_cycles: int = 4 * MAX_LATENCY) -> list[ElementResult]:
    """Stream elements through a simulation of ``design``, one started every cycle
    (each job: ``op`` and run_element's keyword arguments), then idle cycles carrying
    ``garbage`` until every one is done; the results in order, each with the cycles
    from its start to its done."""
    word = design.word
    default = FixedFormat(2, 0)
    absent = lane_reads(design.operations).absent_inputs(design.serial_outputs)
    widths = {name: bits for name, bits in ElementInputs.widths(word).items()
              if name not in absent}
    idle = {name: (garbage * 0x9E3779B97F4A7C15 + i) & ((1 << bits) - 1)
            for i, (name, bits) in enumerate(widths.items())}
    idle["start"] = 0
    idle["op"] = idle["op"] % len(ELEMENT_OPS)
    inputs = []
    for job in jobs:
        if job["op"] not in design.operations:
            raise ValueError(f"run_elements: {job['op']} does not run on this unit (a "
                             f"lane other than lane 0 runs {', '.join(design.operations)})")
        formats = job.get("formats") or {}
        values = {"start": 1, "op": OP_INDEX[job["op"]], "acc_bits": job.get("acc_bits", 2),
                  **({"lane": job.get("lane", 1) & 0xFFFFFFFF} if "lane" in widths else {})}
        for name in ("a", "b", "d", "e", "c0", "c1"):
            if name in widths:
                values[name] = to_unsigned(job.get(name, 0), word)
        for role in ("a", "b", "c", "d", "e", "pre"):
            if f"fmt_{role}" in widths:
                values[f"fmt_{role}"] = pack_format(formats.get(role, default))
        inputs.append(values)
    results: list[ElementResult] = []
    cycle = -1
    while len(results) < len(jobs):
        cycle += 1
        if cycle - len(results) > max_cycles:
            raise RuntimeError(f"run_elements: {jobs[len(results)]['op']} not done after "
                               f"{max_cycles} cycles")
        step = inputs[cycle] if cycle < len(inputs) else idle
        sim.step({design.port(k): v for k, v in step.items()})
        if sim.inspect(design.port("done")):
            serial = design.serial_outputs
            results.append(ElementResult(
                to_signed(sim.inspect(design.port("d_out")), word),
                to_signed(sim.inspect(design.port("e_out")), word) if serial else 0,
                sim.inspect(design.port("lane_out")) if serial else 0,
                sim.inspect(design.port("sat_d")),
                sim.inspect(design.port("sat_e")), cycle - len(results)))
    return results


__all__ = ["ELEMENT_OPS", "OP_BITS", "OP_INDEX", "FORMAT_FIELDS", "FORMAT_BITS",
           "ACC_BITS_BITS", "LANE_BITS", "OPERAND_ROLES", "PARALLEL_OPS", "LaneLimits", "WIDEST", "ElementInputs", "ElementOutputs",
           "ElementResult", "FormatWires", "LaneReads", "lane_reads", "VectorUnitDesign",
           "build_vector_unit",
           "check_supported", "element_latency", "internal_width", "is_short",
           "lane_operations",
           "pack_format",
           "pack_format_wires", "run_element", "run_elements", "unpack_format", "unpack_format_value",
           "vector_unit", "TANH_MAX_PRE_FRAC"]
