"""The element loop's address walk (fixar_gen/hw/region_walk.py) against the address
it replaces, ``base + row * cols + col``, over random regions, broadcasts and lanes."""

from __future__ import annotations

import pyrtl
from hypothesis import given, settings, strategies as st

from fixar_gen.hw.build import fresh_block
from fixar_gen.hw.hostmap import COUNT_BITS
from fixar_gen.hw.region_walk import region_walk
from tests.conftest import examples

A = 12          # address bits: the walk wraps modulo 2^A, as the memories' addresses do
LANES = 3


def walk_addresses(base, cols, row0, col0, fixed_row, fixed_col, rows, width, group_max):
    """Simulate a walk over ``rows`` x ``width`` elements in steps of ``group_max``
    lanes; the addresses each lane sees at each step."""
    with fresh_block() as block:
        ins = {name: pyrtl.Input(bits, name) for name, bits in (
            ("base", A), ("cols", COUNT_BITS), ("row0", COUNT_BITS), ("col0", COUNT_BITS),
            ("fixed_row", 1), ("fixed_col", 1), ("decode", 1), ("place", 1),
            ("advance", 1), ("row_end", 1), ("group", COUNT_BITS))}
        w = region_walk("w", addr_bits=A, **ins)
        outs = []
        for v in range(LANES):
            out = pyrtl.Output(A, f"lane{v}")
            out <<= w.address(v)
            outs.append(out)
    sim = pyrtl.FastSimulation(tracer=None, block=block)
    fixed = {"base": base, "cols": cols, "row0": row0, "col0": col0,
             "fixed_row": fixed_row, "fixed_col": fixed_col}
    idle = {"decode": 0, "place": 0, "advance": 0, "row_end": 0, "group": 0}
    sim.step({**fixed, **idle, "decode": 1})
    sim.step({**fixed, **idle})                 # PRODUCT: the product's second register
    sim.step({**fixed, **idle, "place": 1})
    seen = []
    for _ in range(rows):
        left = width
        while left:
            group = min(left, group_max)
            step = {**fixed, "decode": 0, "place": 0, "advance": 1,
                    "row_end": int(group == left), "group": group}
            sim.step(step)
            seen.append([sim.inspect(f"lane{v}") for v in range(group)])
            left -= group
    return seen


def expected(base, cols, row0, col0, fixed_row, fixed_col, rows, width, group_max):
    out = []
    for i in range(rows):
        j = 0
        while j < width:
            group = min(width - j, group_max)
            row = 0 if fixed_row else row0 + i
            out.append([(base + row * cols + (0 if fixed_col else col0 + j + v)) % (1 << A)
                        for v in range(group)])
            j += group
    return out


@settings(max_examples=examples(40), deadline=None)
@given(base=st.integers(0, (1 << A) - 1), cols=st.integers(1, 300),
       row0=st.integers(0, 200), col0=st.integers(0, 200), fixed_row=st.booleans(),
       fixed_col=st.booleans(), rows=st.integers(1, 4), width=st.integers(1, 7),
       group_max=st.integers(1, LANES))
def test_the_walk_gives_base_plus_row_times_cols_plus_col(base, cols, row0, col0,
                                                          fixed_row, fixed_col, rows,
                                                          width, group_max):
    # in each issue cycle (``advance``) the lanes read the step's addresses; the
    # advance moves the walk to the next step at the clock edge
    args = (base, cols, row0, col0, int(fixed_row), int(fixed_col), rows, width, group_max)
    assert walk_addresses(*args) == expected(*args)
