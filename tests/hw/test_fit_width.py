"""The matrix unit's fit of a k-tiled sum to the accumulator's width
(``core._fit_width``), its limits (``core._fit_limits``: a compare of the width with
a constant per bit) registered a cycle behind the width, against the integer rule: saturate to, or wrap into, a signed ``acc_bits``-bit integer."""

from __future__ import annotations

import pyrtl
from hypothesis import given, settings, strategies as st

from fixar_gen.hw.build import fresh_block
from fixar_gen.hw.core import _fit_limits, _fit_width
from tests.conftest import examples

W = 24          # the datapath word of this test


def fit_circuit(overflow: str):
    with fresh_block() as block:
        value, acc_bits = pyrtl.Input(W, "value"), pyrtl.Input(8, "acc_bits")
        limits = _fit_limits(acc_bits, overflow, W, "fit")
        fitted, over = _fit_width(value, limits, overflow, W)
        for wire, name in ((fitted, "fitted"), (over, "over")):
            out = pyrtl.Output(wire.bitwidth, name)
            out <<= wire
    return pyrtl.FastSimulation(tracer=None, block=block)


SIMS = {mode: fit_circuit(mode) for mode in ("saturate", "wrap")}


def expected(v: int, bits: int, overflow: str) -> tuple[int, int]:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    out = not lo <= v <= hi
    if overflow == "saturate":
        v = min(max(v, lo), hi)
    else:
        v = ((v - lo) % (1 << bits)) + lo
    return v % (1 << W), int(out)


@settings(max_examples=examples(80), deadline=None)
@given(overflow=st.sampled_from(sorted(SIMS)), bits=st.integers(1, W),
       values=st.lists(st.integers(-(1 << (W - 1)), (1 << (W - 1)) - 1), min_size=1,
                       max_size=6),
       edges=st.booleans())
def test_the_fit_saturates_or_wraps_to_the_accumulator_width(overflow, bits, values,
                                                            edges):
    if edges:           # the limits and one beyond each
        top = 1 << (bits - 1)
        values = [v for v in (top - 1, top, -top, -top - 1, 0, -1)
                  if -(1 << (W - 1)) <= v < (1 << (W - 1))] + values
    sim = SIMS[overflow]
    sim.step({"value": 0, "acc_bits": bits})        # the width a cycle ahead
    for v in values:
        sim.step({"value": v % (1 << W), "acc_bits": bits})
        got = (sim.inspect("fitted"), sim.inspect("over"))
        assert got == expected(v, bits, overflow), (v, bits, overflow)
