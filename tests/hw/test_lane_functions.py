"""Lanes built with the spec's programs' functions only (``hardware.vector_functions:
programs``): which functions a design carries, the host's refusal of a program with
another one, random programs drawn within them, and whole DDPG steps on such a core
bit-exact against the golden model in the cycles of the RTL's cycle model.

What these catch: a function the spec's programs use left out of the lanes (golden !=
RTL on the training step, or a program of the spec refused), the FXP16 programs using a
function the FXP32 ones do not (the design derived from one precision only), a program
with an absent function run silently (undefined results), random programs that draw
functions the design lacks, and the resource model counting a narrowed lane as a
full one without saying so."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixar_gen import load_spec
from fixar_gen.backends import open_core, random_params
from fixar_gen.compiler import compile_program
from fixar_gen.estimate import lane_estimate
from fixar_gen.hw import vector as V
from fixar_gen.hw.core import build_core
from fixar_gen.hw.core import element_op, execution_cycles
from fixar_gen.hw.design import (LANE0_SHARE, config_for, hardware_limits, lane0_functions,
                                 lane_functions, program_functions)
from fixar_gen.hw.host import rtl_execution
from fixar_gen.memory_access import extra_lines
from fixar_gen.perf import schedule_with
from fixar_gen.hw.drivers import PyrtlDriver
from fixar_gen.hw.host import HardwareMachine
from fixar_gen.isa import VECTOR_FUNCTIONS, Range, Vector
from fixar_gen.programs import programs
from fixar_gen.testing import precisions, train_both, uniform_batch

from tests.conftest import EXAMPLES, examples

from .test_core import assert_case_equal, small_config, tiny_ddpg

#: examples/fixar_u50.yaml's programs' functions (training and inference, FXP32 and
#: FXP16), written out: DDPG with relu hidden layers, a tanh actor output and Adam
U50_FUNCTIONS = {"copy", "fill", "dact_relu", "dact_tanh", "mse_grad", "bellman", "adam_m",
                 "adam_s", "adam_w", "soft_update", "acc_add", "drain_identity",
                 "drain_relu", "drain_tanh"}
#: what lane 0 and the controller keep whatever the programs
ALWAYS = {"noise", "ou_noise", "range"}


def programs_spec(spec):
    return dataclasses.replace(spec, hardware=dataclasses.replace(
        spec.hardware, vector_functions="programs"))


def test_the_default_is_every_function():
    spec = tiny_ddpg(1, 2, 1, 3)
    assert spec.hardware.vector_functions == "all"
    assert lane_functions(spec) is None and config_for(spec).functions is None


def test_fixar_u50_lanes_carry_its_programs_functions():
    spec = load_spec(EXAMPLES / "fixar_u50.yaml")
    assert spec.hardware.vector_functions == "programs"
    functions = lane_functions(spec)
    assert set(functions) == U50_FUNCTIONS | ALWAYS
    assert functions == tuple(f for f in V.ELEMENT_OPS if f in functions)
    assert config_for(spec).functions == functions
    assert set(V.lane_operations(False, functions)) == U50_FUNCTIONS
    assert set(V.lane_operations(True, functions)) == U50_FUNCTIONS | ALWAYS


@settings(max_examples=examples(6), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_precision_runs_within_the_design(data):
    """Whatever 16-bit formats QAT chooses, the programs run the functions the design
    was derived with (it compiles them with one format for every activation)."""
    spec = programs_spec(tiny_ddpg(1, 2, 2, 3))
    precision = data.draw(precisions(spec))
    cfg = config_for(spec)
    for phase, batch in (("train", None), ("infer", 1), ("explore", 1), ("infer_critic", 1)):
        program = compile_program(spec, phase, precision, batch)
        assert program_functions(program) <= set(cfg.functions), phase
        assert hardware_limits(program, cfg) == [], phase


def test_a_program_with_another_function_is_refused():
    spec = programs_spec(tiny_ddpg(1, 2, 1, 3))
    cfg = config_for(spec)
    train = compile_program(spec, "train")
    assert "add" not in cfg.functions
    add = Vector(fn=VECTOR_FUNCTIONS.index("add"), dst=0, a=0, b=0, rows=Range(0, 1),
                 cols=Range(0, 1))
    assert element_op(add) == "add"
    program = dataclasses.replace(train, code=(add,) + train.code)
    problems = hardware_limits(program, cfg)
    assert any(p.startswith("instruction 0: vec runs add, which this design's vector "
                            "lanes are not built with (hardware.vector_functions: programs")
               for p in problems), problems
    assert not any("vector_functions" in p for p in hardware_limits(
        program, config_for(tiny_ddpg(1, 2, 1, 3))))


@settings(max_examples=examples(20), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_programs_draw_the_designs_functions(data):
    spec = programs_spec(tiny_ddpg(1, 2, 1, 3))
    case = data.draw(programs(spec, kinds=("drain", "vec")))
    assert program_functions(case.program) <= set(lane_functions(spec))


_MACHINE: dict = {}


def narrowed_machine():
    """A 1x3 core of 3 lanes whose lanes carry tiny_ddpg's programs' functions, its
    narrow ones in lane 0 alone (small memories, as test_core's random-program
    machines)."""
    if not _MACHINE:
        spec = programs_spec(tiny_ddpg(1, 3, 1, 3))
        cfg = dataclasses.replace(small_config(spec), functions=lane_functions(spec),
                                  lane0_functions=lane0_functions(spec))
        assert cfg.lane0_functions and "drain_relu" not in cfg.lane0_functions
        _MACHINE["m"] = (spec, HardwareMachine(cfg, PyrtlDriver(cfg, build_core(cfg))))
    return _MACHINE["m"]


@settings(max_examples=examples(15), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_programs_on_narrowed_lanes_pyrtl_equal_golden(data):
    """The element loop's instructions with the design's functions, on a core whose
    lanes carry only those and whose narrow ones run in lane 0 alone, one element a
    step: results, saturation counts and cycles (the cycle model's one-lane rule)."""
    spec, machine = narrowed_machine()
    case = data.draw(programs(spec, kinds=("vec", "drain", "copy")))
    assert_case_equal(case, machine)


@pytest.mark.parametrize("rows,cols,cores", [(1, 3, 1), (1, 4, 2)])
def test_ddpg_step_on_narrowed_lanes_identical(rows, cols, cores):
    """A DDPG training step and the actor's inference on a core built with its
    programs' functions only, the narrow ones in lane 0 alone, bit-exact against
    golden, in the modeled cycles."""
    spec = programs_spec(tiny_ddpg(rows, cols, cores, 3))
    golden, hw = open_core(spec, "golden"), open_core(spec, "pyrtl")
    assert hw.machine.cfg.functions == lane_functions(spec)
    assert hw.machine.cfg.lane0_functions == lane0_functions(spec) != ()
    params = random_params(spec, seed=3)
    golden.load_params(params)
    hw.load_params(params)
    rng = np.random.default_rng(3)
    train_both(golden, hw, uniform_batch(spec, golden.formats, rng))
    assert hw.stats.cycles == hw.machine.modeled_cycles(hw.program("train", 3))
    states = uniform_batch(spec, golden.formats, rng, size=3).states
    assert states.shape[0] == 3
    np.testing.assert_array_equal(hw.infer("actor", states[:1], explore=True),
                                  golden.infer("actor", states[:1], explore=True))
    np.testing.assert_array_equal(hw.infer("actor", states), golden.infer("actor", states))


def test_resource_model_counts_the_measured_narrowed_lanes():
    """fixar_u50's lanes are the measured `lane_u50_programs` points; a design whose
    function set was not measured is counted as every function's lane, and says so."""
    u50 = lane_estimate(load_spec(EXAMPLES / "fixar_u50.yaml"))
    assert u50.measured and "`lane_u50_programs`" in u50.basis
    every = lane_estimate(dataclasses.replace(load_spec(EXAMPLES / "fixar_u50.yaml"),
                                              hardware=dataclasses.replace(
                                                  load_spec(EXAMPLES / "fixar_u50.yaml")
                                                  .hardware, vector_functions="all")))
    assert every.measured and "`lane_u50`" in every.basis
    assert u50.resources.luts < every.resources.luts
    assert u50.parallel.luts < every.parallel.luts
    # tanh's table (one RAMB36E2) in lane 0 alone: drain_tanh and dact_tanh run there
    assert (u50.resources.bram36, u50.parallel.bram36) == (1, 0)
    assert (every.resources.bram36, every.parallel.bram36) == (1, 1)
    sgd = load_spec(EXAMPLES / "fixar_u50.yaml")
    sgd = dataclasses.replace(sgd, algorithm=dataclasses.replace(sgd.algorithm,
                                                                 optimizer="sgd"))
    assert "sgd" in lane_functions(sgd) and "adam_w" not in lane_functions(sgd)
    other = lane_estimate(sgd)
    assert not other.measured and "upper bound" in other.basis
    assert (other.resources.luts, other.parallel.luts) == (every.resources.luts,
                                                          every.parallel.luts)


def test_narrow_functions_go_to_lane_0_within_their_share():
    """fixar_u50: the actor's tanh output (6 columns), the critic's one-column loss and
    target, and fill go to lane 0 alone; no hidden layer's function does; together they
    add at most LANE0_SHARE of every program's cycles on the RTL's model, and the cycle
    rule counts their instructions one element a step."""
    spec = load_spec(EXAMPLES / "fixar_u50.yaml")
    moved = lane0_functions(spec)
    assert set(moved) == {"fill", "dact_tanh", "mse_grad", "bellman", "drain_tanh"}
    cfg = config_for(spec)
    assert cfg.lane0_functions == moved
    assert set(V.lane_operations(False, cfg.parallel_functions)) == U50_FUNCTIONS - set(moved)
    every = dataclasses.replace(cfg, lane0_functions=())
    for phase, batch in (("train", None), ("infer", 1), ("explore", 1)):
        program = compile_program(spec, phase, batch=batch)
        with_moved = schedule_with(program, cfg.cores, rtl_execution(cfg, program)).total_cycles
        without = schedule_with(program, cfg.cores, rtl_execution(every, program)).total_cycles
        assert without <= with_moved <= without * (1 + LANE0_SHARE * cfg.cores), phase
        for ins in program.code:
            if element_op(ins) in moved:
                lines = extra_lines(ins, program)
                assert execution_cycles(ins, cfg.rows, cfg.cols, cfg.lanes, lines,
                                        one_lane=moved) == execution_cycles(
                    ins, cfg.rows, cfg.cols, 1, lines)
    assert lane0_functions(dataclasses.replace(spec, hardware=dataclasses.replace(
        spec.hardware, vector_lanes=1))) == ()
    assert lane0_functions(tiny_ddpg(1, 3, 1, 3)) == ()          # every function


@pytest.mark.tools
def test_core_with_narrowed_lanes_lints_clean(verilator_tool, tmp_path):
    """A two-core design (each core its memories) whose lanes carry its programs'
    functions, the narrow ones in lane 0 alone: the whole core's Verilog passes
    Verilator -Wall (no e words read for lanes that read no e, nothing elaborated
    that only an absent function reads). examples/fixar_u50.yaml's own is linted behind
    `slow` (tests/hw/test_generate.py)."""
    from fixar_gen.hw.lint import lint
    from fixar_gen.hw.verilate import emit_verilog
    spec = programs_spec(tiny_ddpg(1, 4, 2, 3))
    spec = dataclasses.replace(spec, hardware=dataclasses.replace(spec.hardware,
                                                                  per_core_memories=True))
    cfg = config_for(spec)
    assert cfg.lane0_functions and not V.lane_reads(
        V.lane_operations(False, cfg.parallel_functions)).e
    source = tmp_path / f"{cfg.name}.v"
    source.write_text(emit_verilog(build_core(cfg), cfg.name, initialize_registers=False))
    lint(source, cfg.name, timeout=900)
