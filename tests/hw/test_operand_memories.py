"""The element loop's read operands (a, b, d, e) of a design built with
``hardware.vector_functions: programs`` choose among the memories the spec's programs
read them from (``hw.design.operand_memories``, ``CoreConfig.operand_memories``),
not among all seven: every lane's operand word passes a narrower multiplexer.  The
host refuses a program that reads an operand from another memory
(``hw.design.operand_memory_problems``).

What these catch: an instruction's read mapped to the wrong operand (or left out), so
that the design is built without a memory the spec's programs read (golden != RTL on
the DDPG step); a program of the spec refused; a program naming another memory run
silently (the core would read another memory's word); the narrowing not reaching the
elaborated core (smem's read ports)."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixar_gen import load_spec
from fixar_gen.backends import open_core
from fixar_gen.compiler import compile_program, compile_programs, phases
from fixar_gen.hw.core import ELEMENT_OPERANDS, build_core, memory_ports
from fixar_gen.hw.design import (PHASES, config_for, hardware_limits, operand_memories,
                                 operand_memory_problems, program_operand_memories)
from fixar_gen.isa import (VECTOR_FUNCTIONS, Buffer, Drain, Halt, Load, Program, Range,
                           Slot, Store, Vector)
from fixar_gen.memory_kinds import MEMORIES, SECOND_STATE_SUFFIX
from fixar_gen.numerics import FixedFormat
from fixar_gen.testing import precisions, specs

from tests.conftest import EXAMPLES, examples

from .test_core import small_config, steps_and_inferences_identical, tiny_ddpg
from .test_lane_functions import programs_spec

#: examples/fixar_u50.yaml's operands' memories (every phase, FXP32 and FXP16),
#: written out: a is a vec's a (parameters, first moments, gradients, activations), a
#: drain's accumulator (cmem) and a load's host slot (amem); b a drain's bias (wmem),
#: Adam's second moment (vmem), the PRNG lanes (smem) and activations; d the updated
#: parameters and moments, range's monitors (smem) and acc_add's accumulators (cmem,
#: two cores); e bellman's done flags (amem) and range's max (smem)
U50_OPERAND_MEMORIES = (("a", ("wmem", "mmem", "gmem", "amem", "cmem")),
                        ("b", ("wmem", "vmem", "smem", "amem")),
                        ("d", ("wmem", "mmem", "vmem", "smem", "cmem")),
                        ("e", ("smem", "amem")))

FMT = FixedFormat(32, 16)


def fn(name):
    return VECTOR_FUNCTIONS.index(name)


def test_the_default_chooses_among_every_memory():
    spec = tiny_ddpg(1, 2, 1, 3)
    assert spec.hardware.vector_functions == "all"
    cfg = config_for(spec)
    assert operand_memories(spec) is None and cfg.operand_memories is None
    assert all(cfg.operand_memory_set(x) == MEMORIES for x in ELEMENT_OPERANDS)
    assert memory_ports(cfg, "smem")[0] == (4 + 2) * cfg.cores + 1


def test_fixar_u50s_operands_choose_among_its_programs_memories():
    spec = load_spec(EXAMPLES / "fixar_u50.yaml")
    assert spec.hardware.vector_functions == "programs"
    assert operand_memories(spec) == U50_OPERAND_MEMORIES
    cfg = config_for(spec)
    assert cfg.operand_memories == U50_OPERAND_MEMORIES
    for x, memories in U50_OPERAND_MEMORIES:
        assert cfg.operand_memory_set(x) == memories
    # 4 x 7 inputs of each lane's operand multiplexers before, 16 now
    assert sum(len(m) for _, m in U50_OPERAND_MEMORIES) == 16
    # smem: read by b, d and e (not a), besides the constants' two reads
    assert memory_ports(cfg, "smem")[0] == (3 + 2) * cfg.cores + 1


def test_each_instruction_reads_its_operands_memories():
    """The mapping of one program's instructions to the element loop's reads, as the
    RTL makes them: a load reads its host slot (amem) as a, a store its source, a drain
    its accumulator as a and bias as b; a vec its a, b and e, its dst as d when its
    function reads it, and range its dst as d and e (min and max) whatever its e."""
    buffers = (Buffer("x", 1, 2, FMT, "data"),            # 0 amem
               Buffer("w", 1, 2, FMT, "param"),           # 1 wmem
               Buffer("m", 1, 2, FMT, "state"),           # 2 mmem
               Buffer("v.s", 1, 2, FMT, "state"),         # 3 vmem (second moment)
               Buffer("g", 1, 2, FMT, "grad"),            # 4 gmem
               Buffer("acc", 1, 2, FMT, "acc", 40),       # 5 cmem
               Buffer("mon", 1, 2, FMT, "monitor"))       # 6 smem
    assert buffers[3].name.endswith(SECOND_STATE_SUFFIX)
    one, two = Range(0, 1), Range(0, 2)

    def program(*code):
        return Program("p", buffers, (Slot("s", 1, 2),), tuple(code) + (Halt(),), 1, FMT)

    assert program_operand_memories(program(Load(dst=1, slot=0, rows=one, cols=two))) \
        == {"a": {"amem"}}
    assert program_operand_memories(program(Store(src=4, slot=0, rows=one, cols=two))) \
        == {"a": {"gmem"}}
    assert program_operand_memories(program(
        Drain(dst=0, acc=5, bias=1, rows=one, cols=two))) == {"a": {"cmem"}, "b": {"wmem"}}
    assert program_operand_memories(program(Drain(dst=0, acc=5, rows=one, cols=two))) \
        == {"a": {"cmem"}}
    # add does not read its dst; sgd does (w -= lr g)
    assert program_operand_memories(program(
        Vector(fn=fn("add"), dst=0, a=2, b=3, e=4, rows=one, cols=two))) \
        == {"a": {"mmem"}, "b": {"vmem"}, "e": {"gmem"}}
    assert program_operand_memories(program(
        Vector(fn=fn("sgd"), dst=1, a=4, c=6, rows=one, cols=two))) \
        == {"a": {"gmem"}, "d": {"wmem"}}
    assert program_operand_memories(program(
        Vector(fn=fn("range"), dst=6, a=0, e=4, rows=one, cols=two))) \
        == {"a": {"amem"}, "d": {"smem"}, "e": {"smem"}}


def _programs(spec, precision):
    """Every phase's program of ``spec`` at its batch in ``precision`` (with their
    transfers on per-core memories), as the design is derived from them."""
    runs = list(PHASES) + [(p, None) for p in phases(spec) if p not in dict(PHASES)]
    if spec.hardware.memories_per_core:
        return compile_programs(spec, runs, precision, per_core_memories=True)
    return [compile_program(spec, phase, precision, batch) for phase, batch in runs]


@settings(max_examples=examples(20), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_specs_programs_read_within_their_designs_operand_memories(data):
    """Whatever the networks, optimizer, batch, array, lanes, cores and 16-bit
    formats, every program of a spec with ``vector_functions: programs`` reads each
    operand from a memory its design's operand chooses among."""
    spec = data.draw(specs(max_lanes=5, max_cores=3))
    spec = programs_spec(dataclasses.replace(spec, hardware=dataclasses.replace(
        spec.hardware, per_core_memories=data.draw(st.booleans()))))
    cfg = config_for(spec)
    assert cfg.operand_memories == operand_memories(spec) is not None
    precision = data.draw(precisions(spec))
    for program in _programs(spec, precision):
        assert operand_memory_problems(program, cfg.operand_memories) == [], program.name
        for x, named in program_operand_memories(program).items():
            assert named <= set(cfg.operand_memory_set(x)), (program.name, x)


def test_a_program_reading_another_memory_is_refused():
    spec = programs_spec(tiny_ddpg(1, 2, 1, 3))
    cfg = config_for(spec)
    assert "vmem" not in cfg.operand_memory_set("a")
    train = compile_program(spec, "train")
    n = len(train.buffers)
    extra = (Buffer("v.s", 1, 2, FMT, "state"), Buffer("x", 1, 2, FMT, "data"))
    copy = Vector(fn=fn("copy"), dst=n + 1, a=n, rows=Range(0, 1), cols=Range(0, 2))
    program = dataclasses.replace(train, buffers=train.buffers + extra,
                                  code=(copy,) + train.code)
    expected = ("instruction 0: vec's a (v.s) is in vmem: this design's lanes read "
                "operand a from " + ", ".join(cfg.operand_memory_set("a"))
                + " only (hardware.vector_functions: programs)")
    assert operand_memory_problems(program, cfg.operand_memories) == [expected]
    assert expected in hardware_limits(program, cfg)
    assert hardware_limits(train, cfg) == []
    # every memory: nothing refused
    assert not any("operand" in p for p in hardware_limits(
        program, config_for(tiny_ddpg(1, 2, 1, 3))))


def test_ddpg_steps_on_narrowed_operands_identical():
    """Two DDPG training steps and the actor's inferences on a core whose operands
    choose among its programs' memories only: golden's bits (and the state read back:
    parameters, moments, PRNG lanes, range monitors), in the modeled cycles; the elaborated core's smem has a read port for
    the operands that can name it alone."""
    spec = programs_spec(tiny_ddpg(1, 3, 1, 3))
    hw = open_core(spec, "pyrtl")
    cfg = hw.machine.cfg
    assert cfg.operand_memories == operand_memories(spec)
    assert sum(len(cfg.operand_memory_set(x)) for x in ELEMENT_OPERANDS) \
        < len(ELEMENT_OPERANDS) * len(MEMORIES)

    def within(program):
        assert operand_memory_problems(program, cfg.operand_memories) == []
    golden, hw = steps_and_inferences_identical(spec, hw, within)
    # the parameters, optimizer state, PRNG lanes and range monitors (range reads its
    # monitor's min as d and max as e)
    (got, _), (want, _) = hw.export_state(), golden.export_state()
    assert got.keys() == want.keys() and any(k.startswith("rng.") for k in want)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert hw.read_ranges() == golden.read_ranges() != {}
    reads = sum(1 for net in hw.machine.driver.block.logic
                if net.op == "m" and net.op_param[1].name.endswith("mem_smem"))
    assert "smem" not in cfg.operand_memory_set("a")
    assert reads == memory_ports(cfg, "smem")[0] \
        < memory_ports(dataclasses.replace(cfg, operand_memories=None), "smem")[0]


def test_a_core_whose_operands_read_one_memory_or_none_elaborates():
    """An operand no program reads elaborates to zero words (no port, no choice), one
    read from a single memory to that memory's word (no memory id register): smem then
    has the constants' reads and the host's alone."""
    spec = tiny_ddpg(1, 2, 1, 3)
    cfg = dataclasses.replace(small_config(spec), operand_memories=(
        ("a", ("amem",)), ("b", ()), ("d", ("wmem",)), ("e", ())))
    assert [cfg.operand_memory_set(x) for x in ELEMENT_OPERANDS] == [
        ("amem",), (), ("wmem",), ()]
    block = build_core(cfg)
    reads = sum(1 for net in block.logic
                if net.op == "m" and net.op_param[1].name.endswith("mem_smem"))
    assert reads == memory_ports(cfg, "smem")[0] == 2 + 1
    names = {w.name for w in block.wirevector_set}
    assert not any(n.endswith("ra_a_mem") or n.endswith("ra_b_mem") for n in names)
