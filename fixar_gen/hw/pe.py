"""The dual-mode processing element (PE) of FIXAR's adaptive array: its widths, its
generator and its golden model.

Datapath (one PE, ``W`` weight bits, ``H`` half bits, activation word ``2H`` bits,
``A`` partial-sum bits, ``K = ceil(W / 2)``)::

    load_en, load_data ──► weight (W-bit register, stationary)
                                │  two signed digits: w = w_top * 2**K + w_low
                                │  (w_low = weight[0:K] read as signed, w_top =
                                │   weight[K:W] + weight[K-1]: W-K+1 bits)
    act word [2H] ─┬─ lo = act[0:H] ──► w_low x lo', w_top x lo'  (lo' = H+1 bits: lo
                   │                    zero-extended in FXP32, sign-extended in FXP16)
                   └─ hi = act[H:2H] ─► w_low x hi,  w_top x hi   (signed)
                        each product ──► MREG ──► PREG       (PRODUCT_STAGES = 2)
    prod_lo = (w_top x lo' << K) + w_low x lo',  prod_hi likewise
    FXP32: lane lo += (prod_hi << H) + prod_lo      (= weight x the signed 2H-bit word)
           lane hi += 0                             (passes the sum from above)
    FXP16: lane lo += prod_lo, lane hi += prod_hi   (two independent MACs)
    psum_lo_in, psum_hi_in (A bits each, from the PE above) ──► + ──► registers ──► down

The two multipliers are FIXAR's two 32x16 multipliers.  The low one takes ``H + 1``
bits so that the lower half can be read as *unsigned* in FXP32 (its bit ``H - 1`` is
a magnitude bit there, not a sign).  Each is written as two multiplies by the
weight's two signed digits (16 x 17 and 17 x 17 bits for W = 32), so that each is
exactly one DSP48E2 (27 x 18) followed by its two registers: four DSP48E2 a PE, as
before, but every product registered where the DSP48E2 has its MREG and PREG.  The
digits are signed so that every multiply is signed x signed (an unsigned low digit
times a signed half is a mixed multiply Yosys splits over two DSPs with LUT sums);
the price is the top digit's carry-in, ``weight[K-1]``, a (W-K+1)-bit increment
between the weight register and the DSPs.  Each multiply is ``pyrtl.signed_mult``
(operands sign-extended to the product's width, which Yosys reads as a signed multiply
for the DSP48E2's own signed multiplier), and each sum keeps every product bit (a
product Yosys sees truncated is no longer a signed multiply).  The native-width
:func:`~fixar_gen.hw.multiply.signed_product` the vector lane uses (64 bits in
Verilator's C++ instead of 98) was measured here too and rejected for the PE: its
sign corrections are LUT subtractors, and a held-out 2x4 array grew from 1,533 to
2,745 LUTs and from 344 to 544 CARRY4 (Yosys xcup, same 32 DSP48E2) for a 10-20%
faster Verilator run.

What synthesis makes of the product registers (Yosys 0.70, docs/hardware.md): with
``synth_xilinx -family xc7`` all four DSP48E1 get MREG and PREG; with ``-family
xcup`` Yosys packs no register into a DSP48E2 at all (its ``xilinx_dsp`` pass runs
the register packing for xc7 only), so the registers stay flip-flops right at each
DSP48E2's output, where Vivado absorbs them (:mod:`fixar_gen.hw.dsp_registers` reads
them there: every DSP48E2 of a PE and of an array has both).

Timing: a word multiplies in the cycle it reaches the PE; its products leave the
PREG ``PRODUCT_STAGES`` cycles later and meet the partial sums from above then, and
the sums leave the PE one cycle after that: ``PE_LATENCY`` = 3 cycles from the word
to its sums (1 before the products were registered).  The weight is read in the cycle
of the multiply, so weight loading keeps its timing.

Partial sums travel as two ``A``-bit lanes: ``lo`` carries the product of the low
activation half (FXP16) or the whole 32x32 product (FXP32), ``hi`` the product of the
high half (FXP16) and nothing in FXP32.  Both lanes are registered, so a column of PEs is
a systolic pipeline, one row per cycle.  ``A >= W + 2H`` holds the largest single
product; additions wrap modulo ``2**A`` like any adder.  **No saturation happens
inside the array**: the spec's validation (``Spec._check_accumulator``) makes the
accumulator width hold the longest sum of any matmul, so nothing can wrap, and the
result is rounded and saturated once, when it is drained.

``mode`` is 0 for FXP32 and 1 for FXP16 (``isa.MODES`` order).  It comes with each
activation word (the array skews it along with the word), so the PE uses the mode of
the word it is multiplying.

With ``pass_right`` the PE also registers its activation word and mode for the PE to
its right (``act_out``, ``mode_out``): the systolic activation flow.  FIXAR broadcasts
the word along the row instead, and then those registers are not built.

The golden model is :func:`mac_reference`: the partial sums a PE passes down for one
word, on Python ints (``PE_LATENCY`` cycles after the word, from the partial sums
presented ``PRODUCT_STAGES`` cycles after it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyrtl

from ..isa import MODES
from ..numerics import FixedFormat
from .build import (Scope, check_signed, check_width, delay, fresh_block, named, resize,
                    to_signed)

FXP32, FXP16 = MODES.index("fxp32"), MODES.index("fxp16")

#: registers after each multiply: the DSP48E2's MREG and PREG
PRODUCT_STAGES = 2
#: cycles from an activation word at a PE's input to its partial sums at the outputs;
#: the partial sums from above are added PRODUCT_STAGES cycles after the word
PE_LATENCY = PRODUCT_STAGES + 1


def weight_split(weight_bits: int) -> int:
    """K, the bits of the weight's low signed digit (the high digit has W - K + 1)."""
    return (weight_bits + 1) // 2


@dataclass(frozen=True)
class PEWidths:
    """The PE's bit widths: ``weight`` (W), ``half`` (H: half the activation word) and
    ``acc`` (A: each partial-sum lane)."""

    weight: int = 32
    half: int = 16
    acc: int = 80

    def __post_init__(self) -> None:
        for name in ("weight", "half", "acc"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ValueError(f"PEWidths.{name}: {value!r} is not an integer >= 2")
        if self.acc < self.weight + 2 * self.half:
            raise ValueError(f"PEWidths.acc: {self.acc} bits cannot hold one FXP32 product "
                             f"of a {self.weight}-bit weight and a {self.word}-bit "
                             f"activation (need at least {self.weight + 2 * self.half})")

    @property
    def word(self) -> int:
        """Bits of the activation word (two halves)."""
        return 2 * self.half

    @classmethod
    def from_formats(cls, weight: FixedFormat, activation: FixedFormat,
                     accumulator_width: int) -> "PEWidths":
        """Widths from the stationary operand's format, the FXP32 activation format
        (its word is split in two halves) and the spec's ``numerics.accumulator_width``."""
        if activation.width % 2:
            raise ValueError(f"PEWidths.from_formats: activation width {activation.width} "
                             "is odd; the PE splits the word into two equal halves")
        return cls(weight.width, activation.width // 2, accumulator_width)


@dataclass(frozen=True)
class PEPorts:
    """The PE's registered outputs (and its weight register, for loading checks)."""

    weight: pyrtl.Register
    psum_lo: pyrtl.Register
    psum_hi: pyrtl.Register
    act_out: pyrtl.Register | None = None
    mode_out: pyrtl.Register | None = None


PEGenerator = Callable[..., PEPorts]


def pe(scope: Scope, widths: PEWidths, *, act: pyrtl.WireVector, mode: pyrtl.WireVector,
       psum_lo: pyrtl.WireVector, psum_hi: pyrtl.WireVector, load_en: pyrtl.WireVector,
       load_data: pyrtl.WireVector, pass_right: bool = False) -> PEPorts:
    """Elaborate one PE in the working block, its wires named ``scope(...)``.

    Inputs: ``act`` (2H), ``mode`` (1: 0 FXP32, 1 FXP16), ``psum_lo``/``psum_hi`` (A
    each, from the PE above; constants at the top row), ``load_en`` (1) and
    ``load_data`` (W): the weight register takes ``load_data`` at the clock edge when
    ``load_en`` is 1.  Outputs are registers: the partial sums ``PE_LATENCY`` cycles
    after their word, one cycle after the partial sums from above they add, which the
    PE takes ``PRODUCT_STAGES`` cycles after the word (and the activation word and
    mode one cycle later, when ``pass_right``).
    """
    w, h, a = widths.weight, widths.half, widths.acc
    for wire, bits, what in ((act, 2 * h, "act"), (mode, 1, "mode"), (psum_lo, a, "psum_lo"),
                             (psum_hi, a, "psum_hi"), (load_en, 1, "load_en"),
                             (load_data, w, "load_data")):
        check_width(wire, bits, f"pe {scope.prefix}: {what}")

    weight = pyrtl.Register(w, name=scope("weight"))
    weight.next <<= pyrtl.select(load_en, load_data, weight)

    # the weight in two signed digits, w = w_top * 2**K + w_low, each multiply below a
    # DSP48E2's signed 27 x 18 (a signed low digit keeps every product signed x signed,
    # which Yosys maps without LUT corrections)
    k = weight_split(w)
    w_low = named(weight[:k], scope("w_low"))                          # signed K bits
    w_top = named((weight[k:].sign_extended(w - k + 1) + weight[k - 1]).truncate(w - k + 1),
                  scope("w_top"))                                      # signed W-K+1 bits

    fxp16 = named(mode, scope("fxp16"))
    act_lo = named(act[:h], scope("act_lo"))
    act_hi = named(act[h:], scope("act_hi"))
    # the low half is a magnitude in FXP32, a signed activation in FXP16
    lo_operand = named(pyrtl.concat(fxp16 & act_lo[h - 1], act_lo), scope("mul_lo_operand"))

    def product(digit: pyrtl.WireVector, operand: pyrtl.WireVector, what: str):
        """One DSP48E2: the signed product and its PRODUCT_STAGES registers (MREG, PREG)."""
        return delay(pyrtl.signed_mult(digit, operand), PRODUCT_STAGES,
                     scope(f"{what}_s{{k}}"))

    lo_low = product(w_low, lo_operand, "prod_lo_low")       # weight digits x low half
    lo_top = product(w_top, lo_operand, "prod_lo_top")
    hi_low = product(w_low, act_hi, "prod_hi_low")           # weight digits x high half
    hi_top = product(w_top, act_hi, "prod_hi_top")
    fxp16_late = named(delay(fxp16, PRODUCT_STAGES, scope("fxp16_s{k}")),   # the mode
                       scope("fxp16_late"))                                  # beside them

    # prod_lo = w x lo' and prod_hi = w x hi, each the sum of its two digit products,
    # and the FXP32 product; every sum at its full width, so that each multiply keeps
    # its whole product (a product Yosys sees truncated is no longer a signed multiply
    # and no longer one DSP48E2)
    prod_lo = named(_signed_sum(_shifted(lo_top, k), lo_low), scope("prod_lo"))
    prod_hi = named(_signed_sum(_shifted(hi_top, k), hi_low), scope("prod_hi"))
    prod_wide = named(_signed_sum(_shifted(prod_hi, h), prod_lo), scope("prod_fxp32"))

    add_lo = named(pyrtl.select(fxp16_late, resize(prod_lo, a), resize(prod_wide, a)),
                   scope("addend_lo"))
    add_hi = named(pyrtl.select(fxp16_late, resize(prod_hi, a), pyrtl.Const(0, a)),
                   scope("addend_hi"))

    out_lo = pyrtl.Register(a, name=scope("psum_lo"))
    out_hi = pyrtl.Register(a, name=scope("psum_hi"))
    out_lo.next <<= (psum_lo + add_lo).truncate(a)         # wraps mod 2**A, never saturates
    out_hi.next <<= (psum_hi + add_hi).truncate(a)

    act_out = mode_out = None
    if pass_right:
        act_out = pyrtl.Register(2 * h, name=scope("act_out"))
        mode_out = pyrtl.Register(1, name=scope("mode_out"))
        act_out.next <<= act
        mode_out.next <<= mode
    return PEPorts(weight, out_lo, out_hi, act_out, mode_out)


def _shifted(value: pyrtl.WireVector, by: int) -> pyrtl.WireVector:
    """``value`` times 2**by (a signed value stays signed)."""
    return pyrtl.concat(value, pyrtl.Const(0, by)) if by else value


def _signed_sum(x: pyrtl.WireVector, y: pyrtl.WireVector) -> pyrtl.WireVector:
    """x + y, both signed, at a width that holds every sum (one more bit)."""
    bits = max(x.bitwidth, y.bitwidth) + 1
    return (x.sign_extended(bits) + y.sign_extended(bits)).truncate(bits)


def build_pe(widths: PEWidths, scope: str = "pe") -> pyrtl.Block:
    """One PE alone in a fresh block, its inputs and registered outputs (activation
    passed right, so every register a PE can have is there) as ports: for simulating
    and synthesizing a PE by itself."""
    with fresh_block() as block:
        ports = pe(Scope(scope), widths,
                   act=pyrtl.Input(widths.word, "act"), mode=pyrtl.Input(1, "mode"),
                   psum_lo=pyrtl.Input(widths.acc, "psum_lo_in"),
                   psum_hi=pyrtl.Input(widths.acc, "psum_hi_in"),
                   load_en=pyrtl.Input(1, "load_en"),
                   load_data=pyrtl.Input(widths.weight, "load_data"), pass_right=True)
        for name, reg in (("psum_lo_out", ports.psum_lo), ("psum_hi_out", ports.psum_hi),
                          ("act_out", ports.act_out), ("mode_out", ports.mode_out)):
            out = pyrtl.Output(reg.bitwidth, name)
            out <<= reg
    return block


# ------------------------------------------------------------------------- golden model

def split_word(word: int, widths: PEWidths, mode: int) -> tuple[int, ...]:
    """The signed activation(s) an activation word (unsigned wire value) carries: one
    2H-bit value in FXP32, (low half, high half) in FXP16."""
    if mode == FXP32:
        return (to_signed(word, widths.word),)
    return (to_signed(word, widths.half), to_signed(word >> widths.half, widths.half))


def pack_word(values, widths: PEWidths, mode: int) -> int:
    """An activation word (unsigned wire value) from one signed 2H-bit value (FXP32) or
    a (low half, high half) pair of signed H-bit values (FXP16)."""
    if mode == FXP32:
        (value,) = values
        return check_signed(value, widths.word, "FXP32 activation") & ((1 << widths.word) - 1)
    lo, hi = values
    mask = (1 << widths.half) - 1
    return ((check_signed(hi, widths.half, "FXP16 activation (high half)") & mask) << widths.half
            | (check_signed(lo, widths.half, "FXP16 activation (low half)") & mask))


def mac_reference(weight: int, word: int, psum_lo: int, psum_hi: int, mode: int,
                  widths: PEWidths) -> tuple[int, int]:
    """One MAC of the PE on Python ints: the (lo, hi) partial sums it passes down for
    the word ``word`` and the partial sums from above that meet its products
    (``PRODUCT_STAGES`` cycles after the word), as signed A-bit values (wrapping modulo
    2**A, as the adders do); they leave the PE ``PE_LATENCY`` cycles after the word."""
    weight = check_signed(weight, widths.weight, "weight")
    acts = split_word(word, widths, mode)
    if mode == FXP32:
        lo, hi = psum_lo + weight * acts[0], psum_hi
    else:
        lo, hi = psum_lo + weight * acts[0], psum_hi + weight * acts[1]
    return to_signed(lo, widths.acc), to_signed(hi, widths.acc)
