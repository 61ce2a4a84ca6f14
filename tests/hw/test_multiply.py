"""fixar_gen.hw.multiply.signed_product: bit-identical to the exact signed product (and
so to ``pyrtl.signed_mult``) for every width pair, edges included; its Verilog multiply
is ``2 max(len(a), len(b))`` bits wide (PyRTL matches operand widths), not
``2 (len(a) + len(b))``.  The staged form (product_terms, then sum_terms of each
group and of the groups' sums) is the same product, every digit multiply at most
26 x 17 bits (one DSP48E2)."""

from __future__ import annotations

import pyrtl
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen.hw.build import fresh_block, to_signed, to_unsigned
from fixar_gen.hw.multiply import group_terms, product_terms, signed_product, sum_terms


def _edges(bits: int) -> st.SearchStrategy[int]:
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    edges = sorted({v for v in (low, low + 1, -1, 0, 1, high - 1, high) if low <= v <= high})
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


@st.composite
def _cases(draw):
    la, lb = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    xs = draw(st.lists(st.tuples(_edges(la), _edges(lb)), min_size=1, max_size=8))
    return la, lb, xs


@settings(max_examples=60, deadline=None)
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


@settings(max_examples=60, deadline=None)
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
