"""The dual-mode processing element (PE) of FIXAR's adaptive array: its widths, its
generator and its golden model.

Datapath (one PE, ``W`` weight bits, ``H`` half bits, activation word ``2H`` bits,
``A`` partial-sum bits)::

    load_en, load_data ──► weight (W-bit register, stationary)
                                │
    act word [2H] ─┬─ lo = act[0:H] ──► mul_lo: weight x lo' (lo' = H+1 bits: lo
                   │                    zero-extended in FXP32, sign-extended in FXP16)
                   └─ hi = act[H:2H] ─► mul_hi: weight x hi (signed)
    FXP32: lane lo += (prod_hi << H) + prod_lo      (= weight x the signed 2H-bit word)
           lane hi += 0                             (passes the sum from above)
    FXP16: lane lo += prod_lo, lane hi += prod_hi   (two independent MACs)
    psum_lo_in, psum_hi_in (A bits each, from the PE above) ──► + ──► registers ──► down

The two multipliers are FIXAR's two 32x16 multipliers.  The low one takes ``H + 1``
bits so that the lower half can be read as *unsigned* in FXP32 (its bit ``H - 1`` is
a magnitude bit there, not a sign): a 32x17 signed product still fits two DSP48E2
slices (27x18), so this costs nothing over 32x16.  Both are ``pyrtl.signed_mult``
(operands sign-extended to the product's width, which Yosys reads as a signed multiply
for the DSP48E2's own signed multiplier).  The native-width
:func:`~fixar_gen.hw.multiply.signed_product` the vector lane uses (64 bits in
Verilator's C++ instead of 98) was measured here too and rejected for the PE: its
sign corrections are LUT subtractors, and a held-out 2x4 array grew from 1,533 to
2,745 LUTs and from 344 to 544 CARRY4 (Yosys xcup, same 32 DSP48E2) for a 10-20%
faster Verilator run.  The products are not registered: a
product register would add one cycle to the array's latency (and to every harness that
drives a PE), which this version does not do yet.

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

The golden model is :func:`mac_reference`: one cycle of the PE on Python ints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyrtl

from ..isa import MODES
from ..numerics import FixedFormat
from .build import Scope, check_signed, check_width, fresh_block, named, to_signed

FXP32, FXP16 = MODES.index("fxp32"), MODES.index("fxp16")


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
    ``load_en`` is 1.  Outputs are registers: the partial sums one cycle after their
    inputs (and the activation word and mode when ``pass_right``).
    """
    w, h, a = widths.weight, widths.half, widths.acc
    for wire, bits, what in ((act, 2 * h, "act"), (mode, 1, "mode"), (psum_lo, a, "psum_lo"),
                             (psum_hi, a, "psum_hi"), (load_en, 1, "load_en"),
                             (load_data, w, "load_data")):
        check_width(wire, bits, f"pe {scope.prefix}: {what}")

    weight = pyrtl.Register(w, name=scope("weight"))
    weight.next <<= pyrtl.select(load_en, load_data, weight)

    fxp16 = named(mode, scope("fxp16"))
    act_lo = named(act[:h], scope("act_lo"))
    act_hi = named(act[h:], scope("act_hi"))
    # the low half is a magnitude in FXP32, a signed activation in FXP16
    lo_operand = named(pyrtl.concat(fxp16 & act_lo[h - 1], act_lo), scope("mul_lo_operand"))
    prod_lo = named(pyrtl.signed_mult(weight, lo_operand), scope("prod_lo"))    # W+H+1
    prod_hi = named(pyrtl.signed_mult(weight, act_hi), scope("prod_hi"))        # W+H

    full = w + 2 * h                                       # the exact W x 2H product
    prod_wide = named((pyrtl.concat(prod_hi, pyrtl.Const(0, h))
                       + prod_lo.sign_extended(full)).truncate(full), scope("prod_fxp32"))

    add_lo = named(pyrtl.select(fxp16, prod_lo.sign_extended(a), prod_wide.sign_extended(a)),
                   scope("addend_lo"))
    add_hi = named(pyrtl.select(fxp16, prod_hi.sign_extended(a), pyrtl.Const(0, a)),
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
    """One PE cycle on Python ints: the (lo, hi) partial sums it passes down, as signed
    A-bit values (wrapping modulo 2**A, as the adders do)."""
    weight = check_signed(weight, widths.weight, "weight")
    acts = split_word(word, widths, mode)
    if mode == FXP32:
        lo, hi = psum_lo + weight * acts[0], psum_hi
    else:
        lo, hi = psum_lo + weight * acts[0], psum_hi + weight * acts[1]
    return to_signed(lo, widths.acc), to_signed(hi, widths.acc)
