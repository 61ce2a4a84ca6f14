"""The generated core against the golden model: random programs (every instruction
kind, odd shapes, 1x1 to 4x4 arrays, 1 to 3 cores) on PyRTL and Verilator, cycle
counts against the RTL's cycle model, whole DDPG steps, and a planted PE bug that the
verification must catch and shrink."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyrtl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixar_gen.backends import open_core, random_params
from fixar_gen.compiler import Precision, delta_keys, is_delta_key, precision_keys
from fixar_gen.numerics import FixedFormat
from fixar_gen.isa import VECTOR_FUNCTIONS
from fixar_gen.hw.core import CoreConfig, build_core, word_bits
from fixar_gen.hw.design import config_for, pe_widths
from fixar_gen.hw.drivers import PyrtlDriver
from fixar_gen.hw.host import HardwareMachine
from fixar_gen.hw.pe import pe as real_pe
from fixar_gen.programs import programs
from fixar_gen.spec import HardwareSpec, Spec
from fixar_gen.testing import train_both, uniform_batch
from fixar_gen.verify import check_program, verify_machine

from tests.conftest import examples

#: (rows, cols, cores): 1x1 and one core, non-square, more cores than fit evenly
SHAPES = ((1, 1, 1), (2, 3, 1), (3, 2, 2), (4, 4, 3))


def small_spec(rows: int, cols: int, cores: int) -> Spec:
    return dataclasses.replace(Spec(), hardware=HardwareSpec(cores=cores, array=(rows, cols)))


def small_config(spec: Spec) -> CoreConfig:
    pe = pe_widths(spec)
    hw = spec.hardware
    return CoreConfig("fixar_core", hw.cores, hw.rows, hw.cols, pe, word_bits(pe),
                      addr_bits=12, imem_bits=6, buffer_bits=5, slot_bits=3,
                      acc_overflow=spec.numerics.overflow, lanes=hw.lanes)


_MACHINES: dict = {}


def pyrtl_machine(shape) -> tuple[Spec, HardwareMachine]:
    if shape not in _MACHINES:
        spec = small_spec(*shape)
        cfg = small_config(spec)
        _MACHINES[shape] = (spec, HardwareMachine(cfg, PyrtlDriver(cfg, build_core(cfg))))
    return _MACHINES[shape]


def assert_case_equal(case, machine) -> None:
    """Run a random program's case on ``machine``: results, saturation counts and cycles
    equal golden's and the cycle model's, else the first difference and the listing."""
    diff = check_program(case, machine)
    assert diff is None, f"{diff}\n{case.listing()}"


def _random_program_on_pyrtl(data):
    spec, machine = pyrtl_machine(data.draw(st.sampled_from(SHAPES)))
    case = data.draw(programs(spec))
    assert_case_equal(case, machine)


@settings(max_examples=examples(30), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_programs_pyrtl_equal_golden(data):
    """30 random programs over SHAPES in the default run (the `thorough` profile: 600;
    ``fixar verify`` draws more of the same)."""
    _random_program_on_pyrtl(data)


@settings(max_examples=examples(15), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_accumulator_programs_pyrtl_equal_golden(data):
    """The accumulators' banks (cmem, 2H banks: 2 on 1x1, 8 on 2x3, 4 on 3x2 with two
    cores, 8 on 4x4 with three): products in FXP32 and FXP16 (rows m and m + 1 a padded
    stride apart, in the two halves), acc_add's two lines in one step (the placement's
    halves) and drains, on every shape."""
    spec, machine = pyrtl_machine(data.draw(st.sampled_from(SHAPES)))
    case = data.draw(programs(spec, kinds=("mm", "drain", "vec"), functions=("acc_add",)))
    assert_case_equal(case, machine)


@settings(max_examples=examples(15), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_weight_programs_pyrtl_equal_golden(data):
    """The weights' banks (wmem, 2H banks as cmem's): products reading b from wmem as
    a strided line -- a weight row of adjacent words, or (tb) a column of an odd
    padded row stride -- and soft_update's target and parameter read as one double
    line (the placement's halves), on every shape; each program has at least one."""
    from hypothesis import assume

    from fixar_gen.isa import MatMul, Vector
    from fixar_gen.memory_access import pair_memory
    from fixar_gen.memory_kinds import memory_of
    spec, machine = pyrtl_machine(data.draw(st.sampled_from(SHAPES)))
    case = data.draw(programs(spec, kinds=("mm", "vec"), functions=("soft_update",)))
    p = case.program
    assume(any(isinstance(i, MatMul) and memory_of(p.buffers[i.b]) == "wmem" or
               isinstance(i, Vector) and pair_memory(i, p) == "wmem" for i in p.code))
    assert_case_equal(case, machine)


@pytest.mark.slow       # the same property, six times the examples (minutes)
@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_many_random_programs_pyrtl_equal_golden(data):
    _random_program_on_pyrtl(data)


#: the PRNG functions behind slow (each draws a core of its own: 30 s); the vector lane's
#: tests (tests/hw/test_vector.py) and the random programs cover them by default
@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow)
                                if f in ("noise", "ou_noise") else f
                                for f in VECTOR_FUNCTIONS])
def test_every_vector_function_pyrtl_equal_golden(fn):
    @settings(max_examples=examples(6), deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def check(data):
        spec, machine = pyrtl_machine(data.draw(st.sampled_from(SHAPES[:3])))
        case = data.draw(programs(spec, max_instructions=1, kinds=("vec",), functions=(fn,)))
        assert_case_equal(case, machine)
    check()


@pytest.fixture(scope="module")
def verilator_machines(verilator_tool):
    """shape -> (spec, machine) on Verilator, each design built when first asked for
    (a build of these small cores is about 25 s)."""
    from fixar_gen.hw.drivers import VerilatorDriver
    from fixar_gen.hw.session import verilog_of
    from fixar_gen.hw.verilate import VerilatorModel
    out = {}

    def machine(shape):
        if shape not in out:
            spec = small_spec(*shape)
            cfg = small_config(spec)
            model = VerilatorModel.build(verilog_of(cfg), cfg.name, cfg.hostmap.ports())
            out[shape] = (spec, HardwareMachine(cfg, VerilatorDriver(cfg, model.start())))
        return out[shape]
    yield machine
    for _, m in out.values():
        m.driver.close()


def _random_programs_on_verilator(machine, shapes, examples: int) -> None:
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def check(data):
        spec, m = machine(data.draw(st.sampled_from(shapes)))
        case = data.draw(programs(spec))
        assert_case_equal(case, m)
    check()


@pytest.mark.tools
def test_random_programs_verilator_equal_golden(verilator_machines):
    """Two cores of 3x2 PEs (a non-square array, the barrier, the stat select); the
    1x1 core too in the slow run below."""
    _random_programs_on_verilator(verilator_machines, [SHAPES[2]], examples(60))


@pytest.mark.slow
@pytest.mark.tools
def test_random_programs_verilator_on_a_1x1_core_equal_golden(verilator_machines):
    _random_programs_on_verilator(verilator_machines, [SHAPES[0], SHAPES[2]], examples(120))


# ---------------------------------------------------------------- whole DDPG programs

def tiny_ddpg(rows, cols, cores, batch, training="intra_batch"):
    spec = Spec()
    net = dataclasses.replace(spec.networks,
                              actor=dataclasses.replace(spec.networks.actor, hidden=(5, 3),
                                                        inputs=3, outputs=1),
                              critic=dataclasses.replace(spec.networks.critic, hidden=(4,)))
    alg = dataclasses.replace(spec.algorithm, batch_size=batch, replay_size=1000,
                              warmup_steps=0)
    return dataclasses.replace(spec, networks=net, algorithm=alg,
                               hardware=HardwareSpec(cores=cores, array=(rows, cols)),
                               parallelism=dataclasses.replace(spec.parallelism,
                                                               training=training))


@pytest.mark.parametrize("rows,cols,cores,batch,training", [
    # one core of 1x1 (45 s of PyRTL): slow; the default run trains two cores on PyRTL
    # through `fixar cosim` (tests/hw/test_commands.py) and runs 1x1 cores' random programs
    pytest.param(1, 1, 1, 3, "intra_batch", marks=pytest.mark.slow),
    # two cores: the default run trains two cores of 2 x 2 in
    # tests/hw/test_host_placement.py (three steps, FXP16, programs alternating, cycles
    # against the model) and of 2 x 3 in the command tests' tiny spec; each is over a
    # minute of PyRTL
    pytest.param(2, 3, 2, 5, "intra_batch", marks=pytest.mark.slow),
    pytest.param(3, 2, 3, 4, "intra_batch", marks=pytest.mark.slow),
    # intra_layer: each core its output columns, its parameters' optimizer and soft
    # update by the same columns (odd widths: 5 and 3 columns over 2 and 3 cores)
    pytest.param(2, 3, 2, 5, "intra_layer", marks=pytest.mark.slow),
    pytest.param(3, 2, 3, 4, "intra_layer", marks=pytest.mark.slow)])
def test_training_step_and_inference_identical(rows, cols, cores, batch, training):
    spec = tiny_ddpg(rows, cols, cores, batch, training)
    steps_and_inferences_identical(spec, open_core(spec, "pyrtl"))


def steps_and_inferences_identical(spec, hw, each_program=lambda program: None):
    """Two training steps of ``spec``'s tiny DDPG on ``hw`` and on golden from the same
    random parameters and batches (each step's cycles the cycle model's;
    ``each_program`` sees each step's program), then the actor's inferences (greedy,
    exploring, a batch): golden's bits.  Returns the two cores."""
    arr = spec.hardware
    golden = open_core(spec, "golden")
    params = random_params(spec, seed=arr.array[0] * 10 + arr.array[1])
    golden.load_params(params)
    hw.load_params(params)
    rng = np.random.default_rng(arr.cores)
    batch = spec.algorithm.batch_size
    for _ in range(2):
        train_both(golden, hw, uniform_batch(spec, golden.formats, rng))
        program = hw.program("train", batch)
        each_program(program)
        assert hw.stats.cycles == hw.machine.modeled_cycles(program)
    states = uniform_batch(spec, golden.formats, rng, size=batch).states
    for explore in (False, True):
        np.testing.assert_array_equal(hw.infer("actor", states[:1], explore=explore),
                                      golden.infer("actor", states[:1], explore=explore))
    np.testing.assert_array_equal(hw.infer("actor", states), golden.infer("actor", states))
    return golden, hw


def test_16_bit_deltas_train_identical():
    """``numerics.fxp16_deltas``: the actor's hidden delta (``ap.actor.dz1``) in a 16-bit
    format of its own, the activations in theirs, saturating batches: two training steps
    on the generated RTL are golden's bits (every buffer, the saturation counts and the
    range monitors, the deltas' included), in the modeled cycles."""
    spec = tiny_ddpg(1, 2, 1, 3)
    spec = dataclasses.replace(spec, numerics=dataclasses.replace(
        spec.numerics, precision="fxp16", fxp16_deltas=True))
    assert delta_keys(spec) == ["ap.actor.dz1"]
    precision = Precision("fxp16", tuple(
        (key, FixedFormat(16, 13 if is_delta_key(key) else 10)) for key in precision_keys(spec)))
    golden, hw = open_core(spec, "golden", precision), open_core(spec, "pyrtl", precision)
    program = hw.program("train", 3)
    assert next(b for b in program.buffers if b.name == "ap.actor.dz1").fmt.width == 16
    params = random_params(spec, seed=5)
    golden.load_params(params)
    hw.load_params(params)
    rng = np.random.default_rng(5)
    for _ in range(2):
        train_both(golden, hw, uniform_batch(spec, golden.formats, rng,
                                             reward_range=(-300.0, 300.0)))
        assert hw.stats.cycles == hw.machine.modeled_cycles(program)
    assert sum(golden.stats.saturations.values()) > 0
    ranges = golden.read_ranges()
    assert ranges == hw.read_ranges() and "ap.actor.dz1" in ranges


# ---------------------------------------------------------------- a planted bug

def broken_pe(scope, widths, **kw):
    """The real PE, except that one bit of the low product is flipped in PE (0, 0)."""
    ports = real_pe(scope, widths, **kw)
    if not scope.prefix.endswith("pe_r0_c0"):
        return ports
    flipped = pyrtl.WireVector(ports.psum_lo.bitwidth)
    flipped <<= ports.psum_lo ^ pyrtl.Const(1 << 3, ports.psum_lo.bitwidth)
    return dataclasses.replace(ports, psum_lo=flipped)


@pytest.mark.slow       # tests/hw/test_commands.py's `fixar verify` catches and shrinks the
#                         same planted bug in the default run
def test_planted_pe_bug_is_caught_and_shrunk():
    spec = small_spec(2, 2, 1)
    cfg = small_config(spec)
    machine = HardwareMachine(cfg, PyrtlDriver(cfg, build_core(cfg, pe_generator=broken_pe)))
    result = verify_machine(spec, machine, examples=50, seed=1)
    assert not result.ok
    code = [i for i in result.failure.program.code if i.MNEMONIC not in ("halt", "barrier")]
    assert [i.MNEMONIC for i in code] == ["mm"], result.failure.listing()
    mm = code[0]
    assert mm.m.count * mm.n.count * mm.k.count <= 2, result.failure.listing()


def test_spec_config_sizes_fit_its_programs():
    from fixar_gen.compiler import Precision, compile_program
    from fixar_gen.hw.design import hardware_limits
    spec = tiny_ddpg(2, 2, 2, 7)
    cfg = config_for(spec)
    for phase in ("train", "infer", "explore", "infer_critic"):
        assert hardware_limits(compile_program(spec, phase, Precision()), cfg) == []


@pytest.mark.slow       # several training steps on PyRTL (over a minute)
def test_ou_noise_training_and_exploration_identical():
    """Ornstein-Uhlenbeck exploration on the RTL: its state survives training steps and
    an episode reset exactly as on the golden model."""
    spec = tiny_ddpg(2, 3, 2, 3)
    noise = dataclasses.replace(spec.algorithm.noise, kind="ou", sigma=0.3)
    spec = dataclasses.replace(spec, algorithm=dataclasses.replace(spec.algorithm,
                                                                   noise=noise))
    golden, hw = open_core(spec, "golden"), open_core(spec, "pyrtl")
    params = random_params(spec, seed=7)
    golden.load_params(params)
    hw.load_params(params)
    rng = np.random.default_rng(5)
    states = uniform_batch(spec, golden.formats, rng, size=3).states
    for step in range(3):
        for core in (golden, hw):
            if step == 2:
                core.reset_noise_state()
        np.testing.assert_array_equal(hw.infer("actor", states[:1], explore=True),
                                      golden.infer("actor", states[:1], explore=True))
        train_both(golden, hw, uniform_batch(spec, golden.formats, rng))
    np.testing.assert_array_equal(hw.infer("actor", states[:1], explore=True),
                                  golden.infer("actor", states[:1], explore=True))


# ------------------------------------------------- dependences one cycle apart

def test_results_read_by_the_very_next_instruction_equal_golden():
    """Random programs give each instruction buffers of its own; here every
    instruction reads what the one before it wrote.  The synchronous reads make the
    last write of an instruction land in the next one's fetch cycle and a k-tile's
    accumulation read the word the previous line wrote one cycle earlier: a load, a vec
    reading it at once into a delta (gmem), a vec reading that into a weight (wmem), an
    mm reading the two as opA (gmem's line) and opB (wmem's row; three k-tiles), a
    second mm accumulating into the same rows (opA from amem, opB transposed), a drain
    of the sums, two ranges of one monitor back to back, and a store of the drained
    values."""
    from fixar_gen.cases import Case
    from fixar_gen.isa import (ACTIVATIONS, Buffer, Drain, Halt, Load, MatMul, Program,
                               Range, Slot, Store, Vector)
    from fixar_gen.numerics import FixedFormat
    spec, machine = pyrtl_machine((2, 3, 1))
    fmt = FixedFormat(12, 6)
    acc = FixedFormat(64, 12)
    rng = np.random.default_rng(5)
    buffers = (Buffer("x", 5, 5, fmt), Buffer("y", 5, 5, fmt, "delta"),
               Buffer("s", 5, 5, acc, "acc", spec.numerics.accumulator_width),
               Buffer("h", 5, 5, fmt), Buffer("mon", 1, 2, fmt, "monitor"),
               Buffer("w", 5, 5, fmt, "param"))
    fn = VECTOR_FUNCTIONS.index
    code = (Load(dst=0, slot=0, rows=Range(0, 5), cols=Range(0, 5)),
            Vector(fn=fn("add"), dst=1, a=0, b=0, rows=Range(0, 5), cols=Range(0, 5)),
            Vector(fn=fn("add"), dst=5, a=1, b=0, rows=Range(0, 5), cols=Range(0, 5)),
            MatMul(dst=2, a=1, b=5, m=Range(0, 5), n=Range(0, 5), k=Range(0, 5)),
            MatMul(dst=2, a=0, b=5, tb=1, accumulate=1, m=Range(0, 5), n=Range(0, 5),
                   k=Range(0, 5)),
            Drain(dst=3, acc=2, act=ACTIVATIONS.index("identity"), rows=Range(0, 5),
                  cols=Range(0, 5)),
            Vector(fn=fn("range"), dst=4, a=3, rows=Range(0, 5), cols=Range(0, 5)),
            Vector(fn=fn("range"), dst=4, a=1, rows=Range(0, 5), cols=Range(0, 5)),
            Store(src=3, slot=1, rows=Range(0, 5), cols=Range(0, 5)),
            Halt())
    program = Program("chain", buffers, (Slot("in", 5, 5), Slot("out", 5, 5)), code, 1,
                      spec.numerics.activation_format)
    initial = {b.name: np.zeros((b.rows, b.cols), dtype=np.int64) for b in buffers}
    initial["mon"] = np.array([[fmt.max_int, fmt.min_int]])
    host = {"in": rng.integers(-40, 40, size=(5, 5))}
    diff = check_program(Case(program, initial, host), machine)
    assert diff is None, diff


def test_the_host_read_port_returns_the_word_one_cycle_after_its_address():
    """The data memory's host read port is synchronous (hostmap.HOST_READ_LATENCY):
    host_mem_rdata is the word at the address host_mem_raddr held one cycle earlier,
    including a word the host writes in that cycle."""
    from fixar_gen.hw.hostmap import HOST_READ_LATENCY
    assert HOST_READ_LATENCY == 1
    _, machine = pyrtl_machine((1, 1, 1))
    cfg = machine.cfg
    sim = pyrtl.FastSimulation(tracer=None, block=machine.driver.block)
    inputs = {w.name: 0 for w in machine.driver.block.wirevector_subset(pyrtl.Input)}
    words = [(0x1234_5678_9ABC_DEF0_1 * (a + 3)) % (1 << cfg.word) for a in range(40)]
    for a, w in enumerate(words):
        sim.step({**inputs, "host_mem_we": 1, "host_mem_addr": a, "host_mem_wdata": w})
    seen = []
    for a in list(range(40)) + [7]:
        sim.step({**inputs, "host_mem_raddr": a})
        seen.append(sim.inspect("host_mem_rdata"))
    # in cycle t the port shows the address of cycle t - 1
    assert seen[1:] == words[:40]
    new = (1 << cfg.word) - 5
    sim.step({**inputs, "host_mem_we": 1, "host_mem_addr": 9, "host_mem_wdata": new,
              "host_mem_raddr": 9})
    sim.step(inputs)
    assert sim.inspect("host_mem_rdata") == new


def test_the_statistics_port_returns_a_count_one_cycle_after_its_address():
    """The statistics read port is synchronous too (hostmap.HOST_READ_LATENCY): in cycle
    t host_stat_rdata is the saturation count of the buffer id host_stat_addr held in
    cycle t - 1, the sum (modulo 2^32) of the core's two counter memories (the
    destinations' and the e outputs'). A combinational read, or a count that leaves out
    one memory or does not wrap, fails it."""
    from fixar_gen.hw.drivers import _memories
    from fixar_gen.hw.host import STAT_KIND_INDEX
    from fixar_gen.hw.hostmap import HOST_READ_LATENCY, STAT_BITS
    assert HOST_READ_LATENCY == 1
    _, machine = pyrtl_machine((1, 1, 1))
    block = machine.driver.block
    mems = _memories(block)
    ids = 1 << machine.cfg.buffer_bits
    top = 1 << STAT_BITS
    d = {a: (top - 1 - 977 * a) % top for a in range(ids)}
    e = {a: (5 + 131 * a * a) % top for a in range(ids)}
    sim = pyrtl.FastSimulation(tracer=None, block=block, memory_value_map={
        mems["core0_sat_d"]: d, mems["core0_sat_e"]: e})
    inputs = {w.name: 0 for w in block.wirevector_subset(pyrtl.Input)}
    seen = []
    for a in list(range(ids)) + [3]:
        sim.step({**inputs, "host_stat_addr": a,
                  "host_stat_kind": STAT_KIND_INDEX["saturations"]})
        seen.append(sim.inspect("host_stat_rdata"))
    assert seen[1:] == [(d[a] + e[a]) % top for a in range(ids)]
    assert any(d[a] + e[a] >= top for a in range(ids))          # some wrap
