"""The vector lane's shift bounds (fixar_gen.hw.lane_bounds and vector._shift_bounds):
the numpy evaluation of PyRTL logic against PyRTL's simulation, the bounded alignment
shifter against a plain shift at and inside its bounds, and the lane at the bounds its
limits allow (every term of every operation at its largest shift, extreme values)
bit-exact with golden."""

from __future__ import annotations

import numpy as np
import pyrtl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fixar_gen.hw.lane_bounds import bounded_shl, drivers, evaluate, grid, stage_widths
from fixar_gen.hw.vector import DRAIN_OPS, OPERAND_ROLES, rounder_shift_bounds
from fixar_gen.numerics import FixedFormat
from fixar_gen.golden import GoldenError
from tests.hw.test_vector import U50_LIMITS, WORD, Unit, check_many, golden_element
from tests.conftest import examples


# ------------------------------------------------------------------------------ evaluate

def test_evaluate_matches_the_simulation():
    """Adds, subtractions, comparisons, selects, concatenations, slices and a register
    (passed through) evaluated on a grid equal PyRTL's simulation point by point."""
    block = pyrtl.Block()
    with pyrtl.set_working_block(block):
        x, y, c = pyrtl.Input(7, "x"), pyrtl.Input(7, "y"), pyrtl.Input(1, "c")
        reg = pyrtl.Register(8, "r")
        reg.next <<= (x + y)[:8]
        diff = (reg - y.zero_extended(8))[:8]
        picked = pyrtl.select(c, diff, pyrtl.concat(x[3:], y[:4]))
        out = pyrtl.Output(10, "out")
        out <<= pyrtl.concat(x > y, picked ^ ~reg, x == y)
    known = grid({x: range(0, 128, 5), y: range(0, 128, 7), c: (0, 1)})
    (got,) = evaluate([out], known, drivers(block))
    sim = pyrtl.Simulation(tracer=None, block=block)
    for i in range(0, len(got), 13):
        point = {"x": int(known[x][i]), "y": int(known[y][i]), "c": int(known[c][i])}
        sim.step(point)                    # the register takes x + y
        sim.step(point)
        assert int(got[i]) == sim.inspect("out"), point


def test_evaluate_refuses_an_unknown_input():
    block = pyrtl.Block()
    with pyrtl.set_working_block(block):
        x, y = pyrtl.Input(4, "x"), pyrtl.Input(4, "y")
        s = (x + y)[:4]
    with pytest.raises(ValueError, match="neither known nor computed"):
        evaluate([s], {x: np.arange(16)}, drivers(block))


# ------------------------------------------------------------------------- the shifter

@st.composite
def shifter_cases(draw):
    """Terms (value bits, largest shift) and one element: a term's value (extremes
    often) and a shift up to its largest (the largest often), whose result fits
    w_int bits."""
    w_int = draw(st.integers(2, 48))
    terms = draw(st.lists(st.tuples(st.integers(1, w_int), st.integers(0, 40)),
                          min_size=1, max_size=4))
    bits, shift = terms[draw(st.integers(0, len(terms) - 1))]
    amount = draw(st.one_of(st.just(shift), st.integers(0, shift)))
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    special = sorted(x for x in {lo, hi, -1, 1, 0} if lo <= x <= hi)
    value = draw(st.one_of(st.sampled_from(special), st.integers(lo, hi)))
    assume(-(1 << (w_int - 1)) <= value << amount < 1 << (w_int - 1))
    return w_int, terms, value, amount


@settings(max_examples=examples(150), deadline=None)
@given(shifter_cases())
def test_bounded_shifter_is_a_shift(case):
    """bounded_shl(value, amount) == value << amount for every value and shift within
    the terms' bounds (fails if a stage's multiplexed bits stop one bit short of what
    an operation's value can reach, or a stage its shifts need is left out)."""
    w_int, terms, value, amount = case
    width = min(max(bits for bits, _ in terms), w_int)
    amount_bits = max(1, max(shift for _, shift in terms).bit_length())
    block = pyrtl.Block()
    with pyrtl.set_working_block(block):
        v = pyrtl.Input(width, "v")
        a = pyrtl.Input(amount_bits, "a")
        out = pyrtl.Output(w_int, "out")
        out <<= bounded_shl(v, a, terms, w_int)
    sim = pyrtl.Simulation(tracer=None, block=block)
    sim.step({"v": value & ((1 << width) - 1), "a": amount})
    assert sim.inspect("out") == (value << amount) & ((1 << w_int) - 1)


def test_stage_widths_reach_each_term_and_no_further():
    """A 34-bit value shifted by up to 76 and an 84-bit one by up to 32 (the first
    rounder's sgd): the stages' multiplexed bits end where the widest term shifted so
    far ends; the 64 stage shifts the 34-bit value only."""
    stages = stage_widths([(34, 76), (84, 32)], 122)
    assert [k for k, _, _ in stages] == [1, 2, 4, 8, 16, 32, 64]
    assert stages[0] == (1, 85, 85)
    assert stages[5] == (32, 116, 116)             # 84 + 32: the product's bound
    assert stages[6] == (64, 34 + 76, 116)         # only the 34-bit value moves
    assert stage_widths([(82, 0), (114, 0)], 122) == []


# ------------------------------------------------------------- the lane at the bounds

def _formats_at(op: str, witness: dict) -> dict:
    """Formats whose fracs are ``witness``'s (0 for the other roles), each as wide as
    the fixar_u50 lane allows for its role."""
    lim = U50_LIMITS
    out = {}
    for role, kind in OPERAND_ROLES[op].items():
        frac = witness.get(role, 0)
        if kind == "acc":
            out[role] = FixedFormat(64, frac)
        elif role == "c":
            out[role] = FixedFormat(max(frac + 1, min(lim.const_width, frac + lim.const_int)),
                                    frac)
        else:
            out[role] = FixedFormat(lim.data_width, frac)
    if op == "adam_s":                                  # golden: one frac, int64 squares
        out["a"] = out["a"].with_(frac=out["d"].frac)
    return out


def _extreme(fmt: FixedFormat, high: bool) -> int:
    return fmt.max_int if high else fmt.min_int


@pytest.fixture(scope="module")
def narrow() -> Unit:
    return Unit(WORD, "saturate", U50_LIMITS)


def test_every_term_at_its_largest_shift(narrow):
    """Every term of every operation of both rounders at the largest shift the fixar_u50
    lane's limits allow (the formats the enumeration found for it) with extreme values
    of either sign: bit-exact with golden.  A bound one short leaves out the shift (the
    32 and 64 stages: 32, 44, 60, 64, 68 and 76 are reached here), which these
    elements then miss."""
    bounds = rounder_shift_bounds(U50_LIMITS)
    cases: dict[str, list] = {}
    reached = set()
    for n in (1, 2):
        for op, (shifts, _, witnesses) in bounds[n].items():
            for shift, witness in zip(shifts, witnesses):
                if shift == 0:
                    continue
                reached.add(shift)
                formats = _formats_at(op, witness)
                for high in (False, True):
                    values = {("c0" if r == "c" else r): _extreme(f, high)
                              for r, f in formats.items() if r != "pre"}
                    if "c" in formats:
                        values["c1"] = _extreme(formats["c"], not high)
                    if op in DRAIN_OPS:
                        values["a"] = -(1 << 62) if not high else (1 << 62) - 1
                    if op == "adam_w":                  # golden: |m| << shift < 2^62
                        values["a"] = -3 if not high else 5
                    cases.setdefault(op, []).append((values, formats, 2, 0xDEADBEEF))
    assert {32, 44, 60, 64, 68, 76} <= reached
    refused = []
    for op, op_cases in cases.items():
        for values, formats, _, lane in op_cases:
            hw = dict(formats, a=formats["a"].with_(width=64)) if op in DRAIN_OPS \
                else formats
            try:
                golden_element(op, values, formats, lane=lane)
            except GoldenError:
                refused.append((op, values, hw))
        check_many(narrow, op, op_cases)
    assert not refused, refused                 # every element compared
