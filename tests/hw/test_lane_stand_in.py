"""The lane's stand-in (fixar_gen/hw/lane_stand_in.py) keeps the lane's register
boundary: every input bit into a register named as the lane's first stage, ``done``
element_latency(op) cycles after ``start``, and it drops into a whole core."""

from __future__ import annotations

import pyrtl
import pytest

from fixar_gen.hw.build import Scope, fresh_block
from fixar_gen.hw.core import CoreConfig, build_core
from fixar_gen.hw.lane_stand_in import stand_in_lane
from fixar_gen.hw.pe import PEWidths
from fixar_gen.hw.vector import LANE_DEPTH, OP_INDEX, ElementInputs, element_latency

WORD = 82


@pytest.mark.parametrize("op", ["copy", "adam_s"])     # a short operation, a long one
def test_every_input_is_registered_and_done_follows_start_by_the_lanes_depth(op):
    with fresh_block() as block:
        widths = ElementInputs.widths(WORD)
        ins = {name: pyrtl.Input(bits, f"i_{name}") for name, bits in widths.items()}
        outs = stand_in_lane(Scope("vu"), word=WORD, acc_overflow="saturate",
                             inputs=ElementInputs(**ins))
        done = pyrtl.Output(1, "done")
        done <<= outs.done
        d_out = pyrtl.Output(WORD, "d_out")
        d_out <<= outs.d_out
    for name, bits in widths.items():
        reg = block.get_wirevector_by_name(f"vu_in_{name}")
        assert isinstance(reg, pyrtl.Register) and reg.bitwidth == bits, name
    sim = pyrtl.FastSimulation(tracer=None, block=block)
    idle = {f"i_{name}": 0 for name in widths}
    seen, data = [], []
    for cycle in range(LANE_DEPTH + 3):
        sim.step({**idle, "i_start": int(cycle == 1), "i_a": 5 if cycle == 1 else 0,
                  "i_op": OP_INDEX[op] if cycle == 1 else 0})
        seen.append(sim.inspect("done"))
        data.append(sim.inspect("d_out"))
    assert seen.index(1) == 1 + element_latency(op) and sum(seen) == 1
    # the inputs reach an output (so synthesis keeps their registers and the paths
    # into them): a's 5 (with the op's bits) two registers later
    assert data[:4] == [0, 0, 0, 5 ^ OP_INDEX[op]]
    assert outs.e_out is not None and outs.lane_out is not None


def test_a_core_elaborates_with_its_lane_stood_in():
    cfg = CoreConfig("t", 1, 1, 1, PEWidths(32, 16, 80), WORD, 6)
    block = build_core(cfg, lane_generator=stand_in_lane)
    names = {w.name for w in block.wirevector_subset(pyrtl.Register)}
    assert "core0_lane0_vu_in_a" in names and "core0_state" in names
    assert not any(n.startswith("core0_lane0_vu_core") or "_sq_" in n for n in names)
