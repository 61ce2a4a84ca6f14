"""The hardware host addresses buffers by the program's placement, and keeps pinned
buffers across programs whose placements differ (other batch, other precision): the
simulated RTL stays bit-identical to the golden model through such a sequence, and
takes the cycles of its model (the default run's two-core training test)."""

import dataclasses

import numpy as np
import pytest

from fixar_gen.backends import open_core, random_params
from fixar_gen.compiler import compile_program
from fixar_gen.hw.design import HardwareLimit, config_for
from fixar_gen.hw.session import open_machine
from fixar_gen.estimate import fxp16_precision
from fixar_gen.placement import place
from fixar_gen.testing import assert_same_state, train_both, uniform_batch

from .test_core import tiny_ddpg


@pytest.mark.slow       # a minute of PyRTL; the default run trains two cores on PyRTL in
#                         tests/hw/test_commands.py (`fixar cosim`, two updates)
def test_host_bases_are_the_placement_and_programs_may_alternate():
    spec = tiny_ddpg(2, 2, 2, 3)        # batch 3: split unevenly over two cores
    golden, hw = open_core(spec, "golden"), open_core(spec, "pyrtl")
    params = random_params(spec, seed=3)
    golden.load_params(params)
    hw.load_params(params)
    rng = np.random.default_rng(7)

    def infer_both(size, explore=False):
        states = uniform_batch(spec, golden.formats, rng, size=size).states
        np.testing.assert_array_equal(hw.infer("actor", states, explore=explore),
                                      golden.infer("actor", states, explore=explore))

    # inference in FXP32 first, then another precision and a training batch, then
    # inference again: the programs alternate on one machine (one training step here
    # is about 25 s of PyRTL simulation, so there is one)
    infer_both(1, explore=True)
    infer_both(3)
    precision = fxp16_precision(spec)
    golden.set_precision(precision)
    hw.set_precision(precision)
    train_both(golden, hw, uniform_batch(spec, golden.formats, rng))
    program = hw.program("train", 3)
    assert hw.stats.cycles == hw.machine.modeled_cycles(program)
    hm = hw.machine.cfg.hostmap
    assert hw.machine.base == {p.name: hm.data_address(p.memory, p.offset)
                               for p in program.placement.buffers}
    assert program.placement.shared and program.placement.words < \
        program.placement.unshared_words
    infer_both(1, explore=True)          # the OU state survives the other programs
    infer_both(4)
    assert golden.read_ranges() == hw.read_ranges()
    assert_same_state(golden, hw)
    program = hw.program("infer", 4)
    assert hw.machine.base == {p.name: hm.data_address(p.memory, p.offset)
                               for p in program.placement.buffers}


def test_a_program_whose_buffers_and_slots_do_not_fit_is_refused():
    """The host slots are placed in amem with the buffers: a program whose placed
    buffers and slots there exceed that memory's depth is a HardwareLimit, never a
    silent overlap."""
    spec = tiny_ddpg(1, 1, 1, 3)
    program = compile_program(spec, "train")
    cfg = config_for(spec)
    machine = open_machine(spec, "pyrtl", cfg=cfg)
    room = cfg.memory("amem").depth - program.placement.memory("amem").words
    # the same buffers, with a first slot one word too large for what is left
    first = program.slots[0]
    rows = first.rows + -(-(room + 1) // first.cols)
    big = dataclasses.replace(program, slots=(dataclasses.replace(first, rows=rows),)
                              + program.slots[1:], placement=None)
    big = dataclasses.replace(big, placement=place(big, acc_half=cfg.acc_half))
    assert big.placement.words == program.placement.words + (rows - first.rows) * first.cols
    machine.allocate(program.buffers, program.placement)    # fits with its own slots
    with pytest.raises(HardwareLimit, match="too small"):
        machine.run(big, {})


def test_the_host_puts_slots_where_the_placement_says():
    spec = tiny_ddpg(1, 1, 1, 3)
    hw = open_core(spec, "pyrtl")
    hw.load_params(random_params(spec, seed=1))
    program = hw.program("infer", 2)
    hw.infer("actor", uniform_batch(spec, hw.formats, np.random.default_rng(0), size=2).states)
    pl = program.placement
    hm = hw.machine.cfg.hostmap
    assert hw.machine.slot_at == {p.name: hm.data_address(p.memory, p.offset)
                                  for p in pl.slots}
    amem = pl.memory("amem")
    for p in pl.slots:
        assert p.memory == "amem" and amem.pinned_words >= p.end
