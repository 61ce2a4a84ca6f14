"""The block RAM primitives Yosys's ``memory_libmap`` builds a memory of
(fixar_gen/hw/block_ram_choice.py), against what Yosys 0.70 ``synth_xilinx -family
xcup`` made of each memory measured (docs/hardware.md: "The core at its real memory
sizes, through Yosys" and the banked memories' table); tests/hw/test_memory_map.py
compares every memory of a whole one-core design with Yosys's (slow)."""

import math

import pytest
from hypothesis import given, settings, strategies as st

from fixar_gen.hw.block_ram_choice import XCUP_RAMS, bram36_equivalent, yosys_block_ram
from tests.conftest import examples

NO_URAM = tuple(r for r in XCUP_RAMS if r.primitive != "URAM288")
CAPACITY = {"RAMB18E2": 18 * 1024, "RAMB36E2": 36 * 1024, "URAM288": 288 * 1024}


@pytest.mark.parametrize("width, depth, reads, copies, rams, measured", [
    (32, 8_192, 1, 1, XCUP_RAMS, {"URAM288": 1}),      # wmem's bank: two 4K pieces
    (32, 16_384, 1, 1, XCUP_RAMS, {"URAM288": 2}),     # gmem's bank
    (32, 4_096, 1, 1, XCUP_RAMS, {"URAM288": 1}),      # amem's bank
    (32, 1_024, 1, 1, XCUP_RAMS, {"RAMB36E2": 1}),     # a tail of 1K words
    (32, 512, 1, 1, XCUP_RAMS, {"RAMB18E2": 1}),       # amem's tail
    (82, 2_048, 1, 1, XCUP_RAMS, {"RAMB36E2": 5}),     # cmem's bank: 2K x 18 five wide
    (77, 256, 5, 5, XCUP_RAMS, {"RAMB18E2": 15}),      # mem_desc: a copy per read
    (160, 512, 1, 1, XCUP_RAMS, {"RAMB18E2": 5}),      # imem
    (55, 512, 1, 1, XCUP_RAMS, {"RAMB36E2": 1}),       # the lane's tanh table (a ROM)
    (32, 4_096, 1, 1, NO_URAM, {"RAMB36E2": 4}),       # 16 banks: 64 RAMB36E2
    (72, 4_096, 1, 1, XCUP_RAMS, {"URAM288": 1}),      # 4 banks: 4 URAM288
    (82, 4_096, 1, 1, NO_URAM, {"RAMB36E2": 10}),      # the first 4096 x 82 MemBlock
])
def test_the_choice_is_what_yosys_made(width, depth, reads, copies, rams, measured):
    """A wrong byte rounding (32 bits in a URAM288 row once, not twice), a missing
    address piece side by side, or RAMB18E2 left out each misses a row here."""
    assert yosys_block_ram(width, depth, reads, copies, rams) == measured


@settings(max_examples=examples(300), deadline=None)
@given(width=st.integers(1, 200), depth_bits=st.integers(0, 17),
       copies=st.integers(1, 5), uram=st.booleans())
def test_the_chosen_primitives_hold_the_memory(width, depth_bits, copies, uram):
    """Whatever the shape (1 bit, 1 word, widths that are no multiple of a byte), the
    primitives chosen hold every copy's bits, and a copy is never more than the
    cheapest single kind would take alone by a whole primitive."""
    depth = 1 << depth_bits
    rams = XCUP_RAMS if uram else NO_URAM
    got = yosys_block_ram(width, depth, copies, copies, rams)
    assert len(got) == 1 and all(n > 0 and n % copies == 0 for n in got.values())
    held = sum(CAPACITY[k] * n for k, n in got.items())
    assert held >= copies * width * depth
    # a RAMB18E2 is half a BRAM36
    assert bram36_equivalent(got) == got.get("RAMB36E2", 0) + got.get("RAMB18E2", 0) / 2
    # never more BRAM36 sites than the whole-BRAM36 count of the best aspect ratio
    # (32K x 1 ... 512 x 72) would take, when Yosys chose BRAM
    if "URAM288" not in got:
        plain = min(math.ceil(width / w) * math.ceil(depth / d) for w, d in (
            (1, 32_768), (2, 16_384), (4, 8_192), (9, 4_096), (18, 2_048), (36, 1_024),
            (72, 512)))
        assert bram36_equivalent(got) <= copies * plain
