"""fixar_gen.hw.multiply.signed_product: bit-identical to the exact signed product (and
so to ``pyrtl.signed_mult``) for every width pair, edges included; its Verilog multiply
is ``2 max(len(a), len(b))`` bits wide (PyRTL matches operand widths), not
``2 (len(a) + len(b))``.  The staged form (product_terms, then sum_terms of each
group and of the groups' sums) is the same product, every digit multiply at most
26 x 17 bits (one DSP48E2)."""

from __future__ import annotations

import pyrtl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen.hw.build import fresh_block, to_signed, to_unsigned
from fixar_gen.hw.multiply import (constant_times, group_terms, product_terms, signed_digits,
                                   signed_product, sum_terms)
from tests.conftest import examples


def _edges(bits: int) -> st.SearchStrategy[int]:
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    edges = sorted({v for v in (low, low + 1, -1, 0, 1, high - 1, high) if low <= v <= high})
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


@st.composite
def _cases(draw):
    la, lb = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    xs = draw(st.lists(st.tuples(_edges(la), _edges(lb)), min_size=1, max_size=8))
    return la, lb, xs


@settings(max_examples=examples(60), deadline=None)
@given(_cases())
def test_signed_product_is_exact(case):
    la, lb, pairs = case
    with fresh_block() as block:
        a, b = pyrtl.Input(la, "a"), pyrtl.Input(lb, "b")
        out = pyrtl.Output(la + lb, "p")
        ref = pyrtl.Output(la + lb, "ref")
        out <<= signed_product(a, b)
        ref <<= pyrtl.signed_mult(a, b)
    sim = pyrtl.FastSimulation(tracer=None, block=block)
    for x, y in pairs:
        sim.step({"a": to_unsigned(x, la), "b": to_unsigned(y, lb)})
        assert to_signed(sim.inspect("p"), la + lb) == x * y
        assert sim.inspect("p") == sim.inspect("ref")


def test_verilog_multiply_is_native_width():
    with fresh_block() as block:
        a, b = pyrtl.Input(32, "a"), pyrtl.Input(17, "b")
        out = pyrtl.Output(49, "p")
        out <<= signed_product(a, b)
    widths = [n.dests[0].bitwidth for n in block.logic if n.op == "*"]
    assert widths == [64]                     # signed_mult: 98, a wide Verilator multiply


@settings(max_examples=examples(60), deadline=None)
@given(_cases(), st.integers(1, 4))
def test_staged_product_is_exact(case, groups):
    la, lb, pairs = case
    n = la + lb
    with fresh_block() as block:
        a, b = pyrtl.Input(la, "a"), pyrtl.Input(lb, "b")
        out = pyrtl.Output(n, "p")
        terms = product_terms(a, b)
        sums = [(sum_terms(g, n), 0) for g in group_terms(terms, groups)]
        out <<= sum_terms(sums, n)
    sim = pyrtl.FastSimulation(tracer=None, block=block)
    for x, y in pairs:
        sim.step({"a": to_unsigned(x, la), "b": to_unsigned(y, lb)})
        assert to_signed(sim.inspect("p"), n) == x * y


def test_staged_digits_fit_one_dsp():
    with fresh_block() as block:
        a, b = pyrtl.Input(64, "a"), pyrtl.Input(50, "b")
        out = pyrtl.Output(114, "p")
        out <<= sum_terms(product_terms(a, b), 114)
    products = [n for n in block.logic if n.op == "*"]
    assert len(products) == 9                 # 3 x 3 digits
    # PyRTL extends the narrower digit to the wider one's width: 26 x 26 at most, a
    # native 52-bit multiply in Verilator's C++
    assert max(n.dests[0].bitwidth for n in products) == 52


@given(st.integers(0, 1 << 40))
def test_signed_digits_are_the_non_adjacent_form(k):
    """The digits add up to k, no two adjacent, no more than (bits + 1) / 2 + 1."""
    digits = signed_digits(k)
    assert sum(sign << p for p, sign in digits) == k
    positions = [p for p, _ in digits]
    assert all(b - a >= 2 for a, b in zip(positions, positions[1:]))
    assert len(digits) <= (k.bit_length() + 1) // 2 + 1


@settings(max_examples=examples(60), deadline=None)
@given(st.integers(1, 24), st.integers(1, 24),
       st.one_of(st.integers(0, 16), st.integers(0, 1 << 20)), st.data())
def test_a_constant_times_a_wire_is_the_product_modulo_its_bits(width, bits, k, data):
    """constant_times (the matrix unit's ``r * cols`` offsets) is ``value * k mod
    2^bits`` for every width, output width (narrower: wrapping) and constant, 0, 1,
    powers of two and 2^n - 1 included; a digit's sign or shift wrong fails it.  No
    multiply is left in the block (no DSP48E2 for synthesis to map)."""
    top = (1 << width) - 1
    values = data.draw(st.lists(st.one_of(st.sampled_from([0, 1, top, top - 1]),
                                          st.integers(0, top)), min_size=1, max_size=6))
    with fresh_block() as block:
        v = pyrtl.Input(width, "v")
        out = pyrtl.Output(bits, "out")
        out <<= constant_times(v, k, bits)
    assert not [n for n in block.logic if n.op == "*"]
    sim = pyrtl.FastSimulation(tracer=None, block=block)
    for x in values:
        sim.step({"v": x})
        assert sim.inspect("out") == (x * k) % (1 << bits), (x, k, bits)


def test_signed_digits_refuse_a_negative_constant():
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            signed_digits(bad)


def _offsets_verilog(times) -> str:
    """The matrix unit's row offsets ``r * cols`` (r = 2 .. 15) at fixar_u50's widths (a
    17-bit descriptor ``cols``, 19-bit addresses), each latched once as in ``DECODE``,
    computed by ``times(cols, r, bits)``."""
    from fixar_gen.hw.region_walk import latch
    from fixar_gen.hw.synth import block_verilog
    with fresh_block() as block:
        cols = pyrtl.Register(17, "desc_cols")
        cols.next <<= pyrtl.Input(17, "cols_in")
        decoding = pyrtl.Register(1, "decoding")
        decoding.next <<= pyrtl.Input(1, "decoding_in")
        for r in range(2, 16):
            out = pyrtl.Output(19, f"out{r}")
            out <<= latch(times(cols.zero_extended(19), r, 19), decoding, f"port{r}")
    return block_verilog(block, "offsets")


@pytest.mark.slow       # two small Yosys runs (about a minute each)
@pytest.mark.tools
@pytest.mark.parametrize("times,dsps", [
    (constant_times, 0),
    (lambda v, k, bits: (v * k)[:bits], 11)])    # the multiply it replaces: r not 2^n
def test_constant_offsets_take_no_dsp48e2(times, dsps, tmp_path, yosys_tool):
    """Yosys xcup maps ``cols * r`` (r not a power of two) to a DSP48E2 with one
    flip-flop stage after it (the second row: 11 of them); constant_times leaves it in
    adders, no DSP48E2 (the first)."""
    from fixar_gen.hw.synth import cell_counts
    cells = cell_counts(_offsets_verilog(times), "offsets", tmp_path, tool=yosys_tool)
    assert cells.get("DSP48E2", 0) == dsps, cells
