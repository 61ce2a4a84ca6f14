"""The dual-mode PE (fixar_gen.hw.pe) simulated with PyRTL FastSimulation, bit-exact
against Python integers: FXP32 (one 32x32 MAC, the lower half unsigned) and FXP16 (two
16-bit MACs), single MACs and accumulation chains, extreme operands, and wrap-around of
the A-bit lanes at narrow widths (exhaustively)."""

from __future__ import annotations

import itertools
from functools import lru_cache

import pyrtl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixar_gen.hw.build import Scope, fresh_block, to_signed, to_unsigned
from fixar_gen.hw.pe import (FXP16, FXP32, PE_LATENCY, PRODUCT_STAGES, PEWidths, build_pe,
                              mac_reference, pack_word, pe, split_word)
from fixar_gen.numerics import FixedFormat

DEFAULT = PEWidths()                                 # W 32, H 16, A 80
W_EXTREMES = [-2**31, -2**31 + 1, -1, 0, 1, 2**31 - 1]
HALF_EXTREMES = [-2**15, -2**15 + 1, -1, 0, 1, 2**15 - 1]
LOW_HALF_EXTREMES = [0, 1, 0x7FFF, 0x8000, 0xFFFF]  # the lower half of an FXP32 word: unsigned


@lru_cache(maxsize=None)
def pe_block(widths: PEWidths) -> pyrtl.Block:
    """One PE alone, its inputs and outputs as ports (cached per widths)."""
    return build_pe(widths, "pe_r0_c0")


def run_pe(widths: PEWidths, weight: int, steps, garbage: int = 0):
    """Load ``weight``, then one MAC per (word, mode, psum_lo, psum_hi) in ``steps``
    (psum None = feed back the PE's previous output: an accumulation chain).  Each MAC
    presents its word, then its partial sums ``PRODUCT_STAGES`` cycles later (when its
    products leave the DSP registers), then an idle cycle, in which its registered
    outputs are read: ``PE_LATENCY`` cycles after the word.  Returns the (lo, hi)
    outputs, signed.  While not loading, the load data port carries ``garbage`` (it
    must be ignored), and the cycles without a word carry a zero word and psum."""
    sim = pyrtl.FastSimulation(tracer=None, block=pe_block(widths))
    a = widths.acc

    def step(load_en, data, word, mode, lo, hi):
        sim.step({"load_en": load_en, "load_data": data, "act": word, "mode": mode,
                  "psum_lo_in": to_unsigned(lo, a), "psum_hi_in": to_unsigned(hi, a)})

    step(1, to_unsigned(weight, widths.weight), 0, 0, 0, 0)
    outs, prev = [], (0, 0)
    for word, mode, lo, hi in steps:
        if lo is None:
            lo, hi = prev
        step(0, garbage, word, mode, 0, 0)
        for cycle in range(1, PRODUCT_STAGES + 1):    # the products meet the psums above
            step(0, garbage, 0, 0, *((lo, hi) if cycle == PRODUCT_STAGES else (0, 0)))
            if cycle == 1:                             # the word passed right, one cycle on
                assert (sim.inspect("act_out"), sim.inspect("mode_out")) == (word, mode)
        step(0, garbage, 0, 0, 0, 0)                  # outputs of the MAC are visible now
        prev = read(sim, widths)
        outs.append(prev)
    return outs


def read(sim, widths: PEWidths) -> tuple[int, int]:
    return (to_signed(sim.inspect("psum_lo_out"), widths.acc),
            to_signed(sim.inspect("psum_hi_out"), widths.acc))


def fxp32_word(hi: int, lo_unsigned: int) -> int:
    """The signed 32-bit activation whose halves are ``hi`` (signed) and ``lo`` (unsigned)."""
    return hi * 2**16 + lo_unsigned


weights = st.one_of(st.sampled_from(W_EXTREMES), st.integers(-2**31, 2**31 - 1))
halves = st.one_of(st.sampled_from(HALF_EXTREMES), st.integers(-2**15, 2**15 - 1))
low_halves = st.one_of(st.sampled_from(LOW_HALF_EXTREMES), st.integers(0, 0xFFFF))
psums = st.one_of(st.sampled_from([0, -2**70, 2**70, -1]), st.integers(-2**75, 2**75))


@given(weight=weights, hi=halves, lo=low_halves, psum_lo=psums, psum_hi=psums,
       garbage=st.integers(0, 2**32 - 1))
def test_fxp32_one_mac(weight, hi, lo, psum_lo, psum_hi, garbage):
    act = fxp32_word(hi, lo)
    word = pack_word((act,), DEFAULT, FXP32)
    (out,) = run_pe(DEFAULT, weight, [(word, FXP32, psum_lo, psum_hi)], garbage)
    assert out == (psum_lo + weight * act, psum_hi)           # hi lane passes through
    assert out == mac_reference(weight, word, psum_lo, psum_hi, FXP32, DEFAULT)


@given(weight=weights, lo=halves, hi=halves, psum_lo=psums, psum_hi=psums,
       garbage=st.integers(0, 2**32 - 1))
def test_fxp16_two_macs(weight, lo, hi, psum_lo, psum_hi, garbage):
    word = pack_word((lo, hi), DEFAULT, FXP16)
    (out,) = run_pe(DEFAULT, weight, [(word, FXP16, psum_lo, psum_hi)], garbage)
    assert out == (psum_lo + weight * lo, psum_hi + weight * hi)
    assert out == mac_reference(weight, word, psum_lo, psum_hi, FXP16, DEFAULT)


@pytest.mark.parametrize("weight", W_EXTREMES)
def test_extreme_operands(weight):
    """Every extreme weight with every extreme FXP32 word and FXP16 pair, one cycle each."""
    steps, expected = [], []
    for hi, lo in itertools.product(HALF_EXTREMES, LOW_HALF_EXTREMES):
        act = fxp32_word(hi, lo)
        steps.append((pack_word((act,), DEFAULT, FXP32), FXP32, 0, 0))
        expected.append((weight * act, 0))
    for lo, hi in itertools.product(HALF_EXTREMES, repeat=2):
        steps.append((pack_word((lo, hi), DEFAULT, FXP16), FXP16, 0, 0))
        expected.append((weight * lo, weight * hi))
    assert run_pe(DEFAULT, weight, steps, garbage=0xFFFFFFFF) == expected


def chain_steps(data):
    """(steps, expected outputs) of an accumulation chain of mixed-mode MACs."""
    modes = data.draw(st.lists(st.sampled_from([FXP32, FXP16]), min_size=1, max_size=8))
    steps = []
    for mode in modes:
        if mode == FXP32:
            act = fxp32_word(data.draw(halves), data.draw(low_halves))
            steps.append((pack_word((act,), DEFAULT, FXP32), FXP32))
        else:
            steps.append((pack_word((data.draw(halves), data.draw(halves)), DEFAULT, FXP16),
                          FXP16))
    return steps


@given(weight=weights, start=st.tuples(psums, psums), data=st.data())
def test_accumulation_chain(weight, start, data):
    """The PE's output fed back as its psum input: the lanes accumulate exactly, in any
    sequence of modes."""
    steps = chain_steps(data)
    fed = [(w, m, start[0], start[1]) if i == 0 else (w, m, None, None)
           for i, (w, m) in enumerate(steps)]
    outs = run_pe(DEFAULT, weight, fed, garbage=0xDEADBEEF)
    lo, hi = start
    for (word, mode), out in zip(steps, outs):
        acts = split_word(word, DEFAULT, mode)
        if mode == FXP32:
            lo += weight * acts[0]
        else:
            lo, hi = lo + weight * acts[0], hi + weight * acts[1]
        assert out == (lo, hi)


@pytest.mark.parametrize("weight_bits", [4, 3, 2])
def test_narrow_widths_exhaustive_with_wrap(weight_bits):
    """W 4 (3, 2: odd and 1-bit low weight digits), H 2, A 8 (the narrowest A allowed
    for W 4): every weight x word x mode x extreme psum; the lanes wrap modulo 2**A (no
    saturation inside the array)."""
    widths = PEWidths(weight_bits, 2, 8)
    psum_values = [-128, -1, 0, 1, 127]
    for weight in range(-2**(weight_bits - 1), 2**(weight_bits - 1)):
        steps, expected = [], []
        for word, mode, lo, hi in itertools.product(range(16), (FXP32, FXP16),
                                                    psum_values, psum_values):
            steps.append((word, mode, lo, hi))
            if mode == FXP32:
                sums = (lo + weight * to_signed(word, 4), hi)
            else:
                sums = (lo + weight * to_signed(word, 2), hi + weight * to_signed(word >> 2, 2))
            expected.append(tuple(to_signed(s, 8) for s in sums))
            assert expected[-1] == mac_reference(weight, word, lo, hi, mode, widths)
        assert run_pe(widths, weight, steps) == expected


@given(widths=st.sampled_from([PEWidths(8, 4, 16), PEWidths(18, 9, 40), PEWidths(32, 8, 48),
                               PEWidths(16, 16, 64), PEWidths(17, 8, 40), PEWidths(3, 2, 8),
                               PEWidths(2, 2, 8)]), data=st.data())
def test_other_widths(widths, data):
    """Other widths, odd weight widths too (the weight's two signed digits are then
    unequal: K = ceil(W / 2) and W - K + 1 bits; W = 2 leaves a 1-bit low digit)."""
    w = data.draw(st.integers(-2**(widths.weight - 1), 2**(widths.weight - 1) - 1))
    word = data.draw(st.integers(0, 2**widths.word - 1))
    mode = data.draw(st.sampled_from([FXP32, FXP16]))
    lo, hi = (data.draw(st.integers(-2**(widths.acc - 1), 2**(widths.acc - 1) - 1))
              for _ in range(2))
    (out,) = run_pe(widths, w, [(word, mode, lo, hi)])
    assert out == mac_reference(w, word, lo, hi, mode, widths)


def test_weight_is_stationary_until_reloaded():
    sim = pyrtl.FastSimulation(tracer=None, block=pe_block(DEFAULT))
    base = {"act": 1, "mode": FXP32, "psum_lo_in": 0, "psum_hi_in": 0}
    sim.step({**base, "load_en": 1, "load_data": 7})
    for garbage in (0, 0xFFFFFFFF, 123):
        sim.step({**base, "load_en": 0, "load_data": garbage})
        assert to_signed(sim.inspect("pe_r0_c0_weight"), 32) == 7
    sim.step({**base, "load_en": 1, "load_data": to_unsigned(-5, 32)})   # uses 7, loads -5
    for _ in range(PE_LATENCY):                        # that word's sum, PE_LATENCY later
        sim.step({**base, "load_en": 0, "load_data": 0})
    assert read(sim, DEFAULT) == (7, 0)
    sim.step({**base, "load_en": 0, "load_data": 0})
    assert read(sim, DEFAULT) == (-5, 0)


def test_golden_packing_round_trip():
    for mode, values in ((FXP32, (-2**31,)), (FXP32, (2**31 - 1,)), (FXP16, (-2**15, 2**15 - 1)),
                         (FXP16, (-1, 0))):
        assert split_word(pack_word(values, DEFAULT, mode), DEFAULT, mode) == values
    with pytest.raises(ValueError, match="signed 16-bit"):
        pack_word((2**15, 0), DEFAULT, FXP16)
    with pytest.raises(ValueError, match="signed 32-bit"):
        mac_reference(2**31, 0, 0, 0, FXP32, DEFAULT)


def test_widths_validation():
    assert PEWidths.from_formats(FixedFormat(32, 24), FixedFormat(32, 16), 80) == DEFAULT
    with pytest.raises(ValueError, match=r"PEWidths.acc: 63 .* at least 64"):
        PEWidths(32, 16, 63)
    with pytest.raises(ValueError, match="PEWidths.half"):
        PEWidths(32, 1, 80)
    with pytest.raises(ValueError, match="odd"):
        PEWidths.from_formats(FixedFormat(32, 24), FixedFormat(15, 8), 80)


def test_wrong_port_width_is_refused():
    with fresh_block():
        with pytest.raises(ValueError, match="act: wire 'a' is 31 bits, expected 32"):
            pe(Scope("pe"), DEFAULT, act=pyrtl.Input(31, "a"), mode=pyrtl.Input(1, "m"),
               psum_lo=pyrtl.Const(0, 80), psum_hi=pyrtl.Const(0, 80),
               load_en=pyrtl.Input(1, "e"), load_data=pyrtl.Input(32, "d"))
