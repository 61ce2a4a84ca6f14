"""The unbanked memory (``smem``: constants, PRNG states, monitors) has read and write
ports for lane 0 alone: the other lanes take lane 0's word (``DataMemories.read_lanes``,
``write_lanes``), so a program may name ``smem`` across lanes only as an operand
broadcast to every lane, and the host refuses the others (``hw.design.smem_problems``).
Before, every operand of every lane had its own ``smem`` port: fixar_u50's 67 reads and
19 writes were 157,043 LUT in Yosys (BENCHMARKS.md)."""

from __future__ import annotations

import dataclasses

import pyrtl
from hypothesis import HealthCheck, given, settings

from fixar_gen import load_spec
from fixar_gen.compiler import compile_program, phases
from fixar_gen.hw.core import build_core, memory_ports
from fixar_gen.hw.design import config_for, hardware_limits, smem_problems
from fixar_gen.isa import VECTOR_FUNCTIONS, Buffer, Range, Vector
from fixar_gen.numerics import FixedFormat

from fixar_gen.testing import specs

from tests.conftest import EXAMPLES, examples

from .test_core import small_config, tiny_ddpg


def _with(program, *instructions, buffers=()):
    return dataclasses.replace(program, buffers=program.buffers + tuple(buffers),
                               code=tuple(instructions) + program.code)


def test_an_smem_operand_across_lanes_is_refused_and_a_broadcast_one_is_not():
    spec = tiny_ddpg(1, 3, 1, 3)
    cfg = small_config(spec)
    assert cfg.lanes == 3
    train = compile_program(spec, "train")
    n = len(train.buffers)
    fmt = FixedFormat(32, 16)
    wide = Buffer("k.wide", 1, 2, fmt, "const")          # in smem, two columns
    one = Buffer("k.one", 1, 1, fmt, "const")            # in smem, one column
    data = Buffer("x", 1, 2, fmt, "data")
    copy = VECTOR_FUNCTIONS.index("copy")
    across = Vector(fn=copy, dst=n + 2, a=n, rows=Range(0, 1), cols=Range(0, 2))
    broadcast = Vector(fn=copy, dst=n + 2, a=n + 1, rows=Range(0, 1), cols=Range(0, 2))
    into = Vector(fn=copy, dst=n, a=n + 2, rows=Range(0, 1), cols=Range(0, 2))
    alone = Vector(fn=copy, dst=n, a=n + 2, rows=Range(0, 1), cols=Range(0, 1))
    buffers = (wide, one, data)
    problems = smem_problems(_with(train, across, buffers=buffers))
    assert problems == ["instruction 0: vec's a (k.wide) is in smem across 2 columns: this "
                        "design has smem ports for lane 0 alone (an smem operand must be "
                        "one column, read by every lane the same)"]
    assert any(p.startswith("instruction 0: vec's a (k.wide) is in smem")
               for p in hardware_limits(_with(train, across, buffers=buffers), cfg))
    assert smem_problems(_with(train, broadcast, buffers=buffers)) == []
    assert smem_problems(_with(train, alone, buffers=buffers)) == []
    assert smem_problems(_with(train, into, buffers=buffers))[0].startswith(
        "instruction 0: vec's dst (k.wide) is in smem across 2 columns")
    # one lane: every step is one element
    one_lane = small_config(tiny_ddpg(1, 1, 1, 3))
    assert not any("smem" in p for p in hardware_limits(
        _with(train, across, buffers=buffers), one_lane))


def test_the_examples_programs_keep_to_lane_0s_smem_ports():
    for name in ("fixar_u50.yaml", "pendulum.yaml", "halfcheetah.yaml"):
        spec = load_spec(EXAMPLES / name)
        cfg = config_for(spec)
        for phase in phases(spec):
            assert smem_problems(compile_program(spec, phase), cfg.lane0_functions) == [], \
                (name, phase)


@settings(max_examples=examples(30), deadline=None, suppress_health_check=list(HealthCheck))
@given(spec=specs(max_lanes=5, max_cores=3))
def test_compiled_programs_of_random_specs_keep_to_lane_0s_smem_ports(spec):
    """Whatever the networks, batch, array, lanes and cores, the compiler names smem
    across lanes only as a broadcast operand (its monitors, constants, PRNG lanes)."""
    cfg = config_for(spec)
    for phase in phases(spec):
        assert smem_problems(compile_program(spec, phase), cfg.lane0_functions) == [], phase


def test_the_core_reads_and_writes_smem_in_lane_0_alone():
    """The elaborated core's smem has the ports ``memory_ports`` counts (lane 0's four
    reads, the constants' two, the host's; lane 0's two writes, the PRNG lane's, the
    host's), not four reads and a write for every lane."""
    cfg = small_config(tiny_ddpg(1, 4, 1, 3))
    block = build_core(cfg)
    reads = writes = 0
    for net in block.logic:
        if net.op in "m@" and net.op_param[1].name.endswith("mem_smem"):
            reads += net.op == "m"
            writes += net.op == "@"
    assert (reads, writes) == memory_ports(cfg, "smem")
    assert memory_ports(cfg, "smem") == (4 + 2 + 1, 1 + 2 + 1)
