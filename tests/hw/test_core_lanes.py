"""Vector lanes apart from the array's columns (``hardware.vector_lanes``): random
programs and whole DDPG steps on cores with fewer lanes than columns (the element loop
takes a row in several steps, the last one partial) and with more (one step covers a
row and more; ``cmem``'s half line and the banked memories follow the lanes), bit-exact
against the golden model, in the cycles of the RTL's cycle model.

What these catch: an element loop that steps by the columns instead of the lanes, a
partial last step whose masked lanes write, a bank or half-line count taken from the
columns while the lanes are more (golden != RTL), and a cycle model that divides by
the columns (RTL cycles != model)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixar_gen.backends import open_core, random_params
from fixar_gen.compiler import compile_program
from fixar_gen.hw.core import build_core, execution_cycles
from fixar_gen.hw.design import config_for, hardware_limits
from fixar_gen.hw.drivers import PyrtlDriver
from fixar_gen.hw.host import HardwareMachine
from fixar_gen.isa import VECTOR_FUNCTIONS, Range, Vector
from fixar_gen.programs import programs
from fixar_gen.spec import HardwareSpec, Spec
from fixar_gen.testing import precisions, specs, train_both, uniform_batch

from .test_core import assert_case_equal, small_config, tiny_ddpg
from tests.conftest import examples

#: (rows, cols, cores, lanes): fewer lanes than columns (2 of 3: a partial last step;
#: one lane of 4, on two cores), more lanes than columns (not powers of two: 3 lanes in
#: 4 banks on 1x1, 5 in 8 on 2x2, cmem's half line 4 and 8)
LANE_SHAPES = ((2, 3, 1, 2), (2, 4, 2, 1), (1, 1, 1, 3), (2, 2, 1, 5))


def lanes_spec(rows: int, cols: int, cores: int, lanes: int) -> Spec:
    return dataclasses.replace(Spec(), hardware=HardwareSpec(
        cores=cores, array=(rows, cols), vector_lanes=lanes))


_MACHINES: dict = {}


def lanes_machine(shape) -> tuple[Spec, HardwareMachine]:
    if shape not in _MACHINES:
        spec = lanes_spec(*shape)
        cfg = small_config(spec)
        assert cfg.lanes == shape[3]
        _MACHINES[shape] = (spec, HardwareMachine(cfg, PyrtlDriver(cfg, build_core(cfg))))
    return _MACHINES[shape]


def test_the_spec_lanes_reach_the_generator():
    """null: one lane per column (every existing design unchanged); a number: that many
    lanes, the banked memories' banks and cmem's half line follow them."""
    default = tiny_ddpg(2, 3, 1, 2)
    assert default.hardware.vector_lanes is None and default.hardware.lanes == 3
    cfg = config_for(default)
    assert (cfg.lanes, cfg.banks, cfg.acc_half) == (3, 4, 4)
    fewer = dataclasses.replace(default, hardware=dataclasses.replace(
        default.hardware, vector_lanes=2))
    cfg = config_for(fewer)
    assert (cfg.lanes, cfg.banks, cfg.acc_half) == (2, 2, 4)
    more = dataclasses.replace(default, hardware=dataclasses.replace(
        default.hardware, vector_lanes=5))
    cfg = config_for(more)
    assert (cfg.lanes, cfg.banks, cfg.acc_half) == (5, 8, 8)
    for phase in ("train", "infer", "explore", "infer_critic"):
        assert hardware_limits(compile_program(more, phase), cfg) == []


@settings(max_examples=examples(25), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_compiled_programs_fit_the_core_of_their_lanes(data):
    """Random small specs with vector lanes (1 to 6 on arrays up to 4x4, several cores),
    FXP32 or FXP16: every phase's program is placed for the cmem half line of the
    generated core (columns or lanes, if more), so the core runs it. A compiler that
    pads accumulators for the columns alone fails when the lanes are more."""
    spec = data.draw(specs(max_cores=3, max_lanes=6))
    precision = data.draw(precisions(spec))
    cfg = config_for(spec)
    assert cfg.lanes == spec.hardware.lanes
    for phase, batch in (("train", None), ("infer", 1), ("explore", 1)):
        program = compile_program(spec, phase, precision, batch)
        assert hardware_limits(program, cfg) == [], (phase, spec.hardware)


@pytest.mark.parametrize("cols,lanes,steps", [(8, 8, 1), (8, 3, 3), (8, 1, 8), (3, 5, 1)])
def test_the_rtl_cycle_model_steps_by_the_lanes(cols, lanes, steps):
    add = Vector(fn=VECTOR_FUNCTIONS.index("add"), dst=0, a=1, b=2, rows=Range(0, 2),
                 cols=Range(0, cols))
    unit, cycles = execution_cycles(add, 2, 4, lanes)
    assert unit == "vector"
    assert cycles - execution_cycles(add, 2, 4, 10**6)[1] == 2 * (steps - 1)


@settings(max_examples=examples(30), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_programs_with_lanes_apart_from_columns_pyrtl_equal_golden(data):
    """Every instruction kind on cores whose lanes are not their columns: results,
    saturation counts and cycles (check_program compares the RTL's cycles with its
    model's)."""
    spec, machine = lanes_machine(data.draw(st.sampled_from(LANE_SHAPES)))
    case = data.draw(programs(spec))
    assert_case_equal(case, machine)


@settings(max_examples=examples(10), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_element_loop_programs_with_lanes_apart_from_columns_pyrtl_equal_golden(data):
    """The element loop alone (vec, drain, load, store), whose steps the lanes set."""
    spec, machine = lanes_machine(data.draw(st.sampled_from(LANE_SHAPES)))
    case = data.draw(programs(spec, kinds=("vec", "drain", "copy")))
    assert_case_equal(case, machine)


@pytest.mark.slow           # a PyRTL core per drawn shape (minutes)
@settings(max_examples=examples(8), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_shapes_with_lanes_apart_from_columns_pyrtl_equal_golden(data):
    """Random small cores (1 to 3 rows and columns, 1 or 2 cores) with lanes other than
    their columns (1 to 6), a few random programs each."""
    rows, cols = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    lanes = data.draw(st.integers(1, 6).filter(lambda n: n != cols))
    spec, machine = lanes_machine((rows, cols, data.draw(st.integers(1, 2)), lanes))
    for _ in range(3):
        case = data.draw(programs(spec))
        assert_case_equal(case, machine)


def _ddpg_steps(rows, cols, cores, batch, lanes):
    base = tiny_ddpg(rows, cols, cores, batch)
    spec = dataclasses.replace(base, hardware=dataclasses.replace(
        base.hardware, vector_lanes=lanes))
    golden, hw = open_core(spec, "golden"), open_core(spec, "pyrtl")
    assert hw.machine.cfg.lanes == lanes
    params = random_params(spec, seed=lanes)
    golden.load_params(params)
    hw.load_params(params)
    rng = np.random.default_rng(lanes)
    train_both(golden, hw, uniform_batch(spec, golden.formats, rng))
    assert hw.stats.cycles == hw.machine.modeled_cycles(hw.program("train", batch))
    states = uniform_batch(spec, golden.formats, rng, size=batch).states
    np.testing.assert_array_equal(hw.infer("actor", states[:1], explore=True),
                                  golden.infer("actor", states[:1], explore=True))
    np.testing.assert_array_equal(hw.infer("actor", states), golden.infer("actor", states))


@pytest.mark.slow       # 20 s; the default run's lanes tests: the random programs above
def test_training_step_with_fewer_lanes_than_columns_identical():
    """A 1x3 core of 2 lanes: every element-loop instruction of a DDPG step takes rows
    in a full and a partial step."""
    _ddpg_steps(1, 3, 1, 3, lanes=2)


@pytest.mark.slow           # over a minute of PyRTL
@pytest.mark.parametrize("rows,cols,cores,batch,lanes", [(1, 1, 1, 3, 3), (2, 2, 2, 3, 1)])
def test_training_step_with_lanes_apart_from_columns_identical(rows, cols, cores, batch,
                                                               lanes):
    _ddpg_steps(rows, cols, cores, batch, lanes)


@pytest.mark.slow           # a Verilator build (minutes on two cores)
@pytest.mark.tools
def test_random_programs_with_fewer_lanes_than_columns_verilator_equal_golden(
        verilator_tool):
    from fixar_gen.hw.drivers import VerilatorDriver
    from fixar_gen.hw.session import verilog_of
    from fixar_gen.hw.verilate import VerilatorModel
    spec = lanes_spec(2, 3, 1, 2)
    cfg = small_config(spec)
    model = VerilatorModel.build(verilog_of(cfg), cfg.name, cfg.hostmap.ports())
    machine = HardwareMachine(cfg, VerilatorDriver(cfg, model.start()))
    try:
        @settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def check(data):
            case = data.draw(programs(spec))
            assert_case_equal(case, machine)
        check()
    finally:
        machine.driver.close()
