"""Per-core memories' transfers (fixar_gen/transfers.py) proven complete on the per-core
memory model (fixar_gen/percore.py): the programs with their transfers give the shared
golden model's bits on one copy of the state per core, every read served by a transfer
or the core's own writes (the model refuses a read of a word its copy does not hold),
and every inserted transfer needed (dropping any one makes some read stale)."""

import dataclasses

import numpy as np
import pytest
from hypothesis import event, given, settings, strategies as st

from fixar_gen import load_spec
from fixar_gen.backends import GoldenCore, random_params, uniform_batch
from fixar_gen.compiler import (Precision, compile_program, compile_programs, is_training,
                                phases)
from fixar_gen.core_traffic import measure
from fixar_gen.estimate import fxp16_precision
from fixar_gen.isa import (VECTOR_FUNCTIONS, Barrier, Buffer, Halt, Load, Program, Range,
                           Slot, Store, Vector, Xfer, assembly, listing)
from fixar_gen.numerics import FixedFormat
from fixar_gen.percore import PerCoreCore, PerCoreMachine, StaleRead
from fixar_gen.percore_cases import with_readback
from fixar_gen.spec import ParallelismSpec
from fixar_gen.testing import precisions, specs
from fixar_gen.transfers import _cover, insert_all, transfers_of

from .conftest import EXAMPLES, examples

Q = FixedFormat(16, 8)
COPY = VECTOR_FUNCTIONS.index("copy")
POLICIES = ("intra_layer", "intra_batch")


def with_policy(spec, policy):
    return dataclasses.replace(spec, parallelism=ParallelismSpec(training=policy,
                                                                 inference=policy))


def run_both(spec, precision, updates=2, seed=0, core=None):
    """``updates`` cycles (an exploring action, an update, a greedy action, a Q value)
    on the shared golden model and on the per-core model: the same bits everywhere."""
    ref = GoldenCore(spec, precision, engine="interpreter")
    per = core or PerCoreCore(spec, precision)
    params = random_params(spec, seed)
    ref.load_params(params)
    per.load_params(params)
    rng = np.random.default_rng(seed)
    for _ in range(updates):
        batch = uniform_batch(spec, ref.formats, rng)
        s = batch.states[:1]
        out = []
        for c in (ref, per):
            explored = c.infer("actor", s, explore=True)
            c.train_step(batch)
            greedy = c.infer("actor", s)
            q = c.infer("critic", s, greedy)
            out.append((explored, greedy, q))
        for a, b in zip(*out):
            np.testing.assert_array_equal(a, b)
    expected, got = ref.read_params(), per.read_params()
    assert expected.keys() == got.keys()
    for name in expected:
        np.testing.assert_array_equal(expected[name], got[name], err_msg=name)
    for name in ("prng", "ou.state"):
        if name in ref.machine.memory:
            np.testing.assert_array_equal(ref._read(name), per._read(name), err_msg=name)
    assert ref.read_ranges() == per.read_ranges()
    assert ref.stats.saturations == per.stats.saturations
    return per


# -- the instruction -----------------------------------------------------------------


def test_xfer_assembles_with_its_buffer_and_receivers():
    p = Program("t", (Buffer("x", 4, 4, Q),), (), (Xfer(core=1, buf=0, rows=Range(0, 2),
                                                        cols=Range(1, 3), to=0b101),),
                3, Q)
    assert assembly(p.code[0], p) == "c1 xfer buf=x rows=0:2 cols=1:4 to=0x5"
    assert "xfer buf=x" in listing(p)


def test_the_option_off_emits_no_transfer_and_on_emits_them():
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    for phase in phases(spec):
        assert not any(isinstance(i, Xfer) for i in compile_program(spec, phase).code)
    train = compile_program(spec, "train", per_core_memories=True)
    assert any(isinstance(i, Xfer) for i in train.code)
    one = dataclasses.replace(spec, hardware=dataclasses.replace(spec.hardware, cores=1))
    assert compile_program(one, "train", per_core_memories=True).code == \
        compile_program(one, "train").code


def test_the_rtl_refuses_a_program_with_transfers():
    from fixar_gen.hw.design import config_for, hardware_limits
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    cfg = config_for(spec)
    plain = compile_program(spec, "infer", batch=1)
    moved = compile_program(spec, "explore", batch=1, per_core_memories=True)
    assert not any("xfer" in p for p in hardware_limits(plain, cfg))
    (problem,) = [p for p in hardware_limits(moved, cfg) if "xfer" in p]
    assert "do not execute them" in problem


def test_the_cover_is_exact():
    rng = np.random.default_rng(3)
    for _ in range(200):
        mask = rng.random((rng.integers(1, 7), rng.integers(1, 9))) < rng.random()
        got = np.zeros(mask.shape, int)
        for rows, cols in _cover(mask):
            got[rows.slice, cols.slice] += 1
        np.testing.assert_array_equal(got, mask.astype(int))


# -- the model on hand-built programs ------------------------------------------------


def _program(code, cores=2):
    return Program("t", (Buffer("x", 4, 3, Q), Buffer("y", 4, 3, Q)), (Slot("s", 4, 3),),
                   tuple(code) + tuple(Halt(core=c) for c in range(cores)), cores, Q)


def _steps(with_xfer: bool):
    both = [Barrier(core=0, mask=3), Barrier(core=1, mask=3)]
    return ([Load(core=0, dst=0, slot=0, rows=Range(0, 4), cols=Range(0, 3))] + both
            + ([Xfer(core=0, buf=0, rows=Range(2, 2), cols=Range(0, 3), to=2)] + both
               if with_xfer else [])
            + [Vector(core=1, fn=COPY, dst=1, a=0, rows=Range(2, 2), cols=Range(0, 3)),
               Store(core=1, src=1, slot=0, rows=Range(2, 2), cols=Range(0, 3))])


def test_a_read_of_another_cores_words_needs_a_transfer():
    """Core 1 copies rows 2-3 of x, which core 0 loaded: without the xfer its copy
    holds zeros (the model refuses the read); with it, the shared model's values."""
    values = np.arange(12).reshape(4, 3) - 6
    m = PerCoreMachine(2)
    with pytest.raises(StaleRead, match="instruction 3 .*core 1.* 6 word"):
        m.run(_program(_steps(False)), {"s": values.copy()})
    m = PerCoreMachine(2)
    host = {"s": values.copy()}
    m.run(_program(_steps(True)), host)
    np.testing.assert_array_equal(host["s"][2:], values[2:])
    np.testing.assert_array_equal(m.read("y")[2:], values[2:])
    np.testing.assert_array_equal(m.copies[0].read("y"), 0)       # core 0's copy untouched


def test_the_pass_inserts_that_transfer():
    """At the barrier after core 0's load, a new barrier after it; exactly rows 2-3."""
    (p,) = insert_all([_program(_steps(False))])
    assert p.code == _program(_steps(True)).code
    PerCoreMachine(2).run(p, {"s": np.ones((4, 3), np.int64)})


def test_a_transfer_of_a_stale_word_is_refused():
    code = _steps(True)
    code[3] = Xfer(core=1, buf=0, rows=Range(2, 2), cols=Range(0, 3), to=1)
    with pytest.raises(StaleRead, match="xfer, core 1"):
        PerCoreMachine(2).run(_program(code), {"s": np.ones((4, 3), np.int64)})


# -- the proof on compiled programs --------------------------------------------------


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("mode", ["fxp32", "fxp16"])
@pytest.mark.parametrize("name", ["pendulum", "fixar_u50", "pendulum_td3"])
def test_examples_on_per_core_memories_equal_the_shared_model(name, mode, policy):
    spec = with_policy(load_spec(EXAMPLES / f"{name}.yaml"), policy)
    precision = fxp16_precision(spec) if mode == "fxp16" else Precision()
    per = run_both(spec, precision, updates=2)
    assert any(transfers_of(p).instructions for p in per._programs.values())


@pytest.mark.slow
@pytest.mark.parametrize("policy", POLICIES)
def test_halfcheetah_on_per_core_memories_equals_the_shared_model(policy):
    run_both(with_policy(load_spec(EXAMPLES / "halfcheetah.yaml"), policy), Precision())


@settings(max_examples=examples(25), deadline=None)
@given(spec=specs(max_width=9, max_layers=2, max_batch=7, max_cores=3, max_array=3),
       policy=st.sampled_from(POLICIES), data=st.data())
def test_random_specs_on_per_core_memories_equal_the_shared_model(spec, policy, data):
    spec = with_policy(spec, policy)
    run_both(spec, data.draw(precisions(spec)), updates=2,
             seed=data.draw(st.integers(0, 2**16)))


# -- every transfer is needed ---------------------------------------------------------


def _without(program, index):
    xfers = [pc for pc, i in enumerate(program.code) if isinstance(i, Xfer)]
    drop = xfers[index]
    return dataclasses.replace(program, code=program.code[:drop] + program.code[drop + 1:])


@pytest.mark.parametrize("policy", POLICIES)
def test_dropping_any_transfer_makes_a_read_stale(policy):
    """Mutation: each inserted xfer of pendulum's programs removed in turn (the
    within-program ones and the state's at a program's end) -> StaleRead within two
    cycles.  Catches a pass that inserts transfers nothing needs, and a model that
    does not track validity."""
    spec = with_policy(load_spec(EXAMPLES / "pendulum.yaml"), policy)
    base = PerCoreCore(spec)
    base.program("train", spec.algorithm.batch_size)
    programs = dict(base._programs)
    checked = 0
    for key, program in programs.items():
        for index in range(transfers_of(program).instructions):
            core = PerCoreCore(spec)
            core._programs.update(programs)
            core._programs[key] = _without(program, index)
            for p in core._programs.values():
                core._ensure(p)
            with pytest.raises(StaleRead):
                run_both(spec, Precision(), updates=2, core=core)
            checked += 1
    assert checked > 0


# -- what they move ----------------------------------------------------------------------


@settings(max_examples=examples(25), deadline=None)
@given(spec=specs(max_width=9, max_layers=2, max_batch=7, max_cores=3, max_array=3),
       policy=st.sampled_from(POLICIES))
def test_transfers_move_at_most_the_crossing_reads(spec, policy):
    """A word pushed once per write serves every later read of it: the transfers' words
    (per receiver) never exceed core_traffic's crossing reads (a word read twice counts
    twice there), and a program with crossing reads has transfers."""
    spec = with_policy(spec, policy)
    runs = [(p, None) for p in phases(spec) if is_training(spec, p)] + [("explore", 1)]
    plain = compile_programs(spec, runs)
    moved = compile_programs(spec, runs, per_core_memories=True)
    each, total = measure(plain)
    words = sum(transfers_of(p).words for p in moved)
    assert words <= total.total()
    if total.total():
        assert words > 0


# -- what they cost ----------------------------------------------------------------------


def _window(rows0: int, cols0: int, rows1: int, cols1: int) -> Program:
    both = [Barrier(core=0, mask=3), Barrier(core=1, mask=3)]
    return _program(both + [Xfer(core=0, buf=0, rows=Range(0, rows0), cols=Range(0, cols0),
                                 to=2),
                            Xfer(core=1, buf=1, rows=Range(0, rows1), cols=Range(0, cols1),
                                 to=1)] + both)


def test_the_rtl_cycle_rule_charges_a_line_of_lanes_words_a_cycle():
    """Each xfer: rows x ceil(cols / L) lines (L the lanes: the element loop's line) +
    the link latency, on its sender's timeline; the two cores push at once (the window
    lasts as the longer).  Catches a rule that charges words instead of lines, or
    serialises the senders.  tests/hw/test_percore_rtl.py checks it against the RTL."""
    from fixar_gen.hw.core import execution_cycles
    from fixar_gen.hw.host import RTL_TIMING
    from fixar_gen.perf import schedule_with
    from fixar_gen.transfers import XFER_LATENCY, xfer_cycles
    L = 4

    def rule(pc, i):
        return execution_cycles(i, 4, 2, L)

    def total(*shape):
        return schedule_with(_window(*shape), 2, rule, RTL_TIMING).total_cycles

    assert xfer_cycles(Xfer(rows=Range(0, 3), cols=Range(0, 9)), L, XFER_LATENCY) == \
        3 * 3 + XFER_LATENCY
    assert rule(0, Xfer(rows=Range(0, 3), cols=Range(0, 9))) == \
        ("sync", 3 * 3 + XFER_LATENCY)
    assert total(4, 3, 1, 1) - total(1, 3, 1, 1) == 3            # three more lines
    assert total(1, 3, 1, 1) == total(1, 4, 1, 1) < total(1, 5, 1, 1)   # whole lines
    assert total(2, 3, 2, 3) == total(2, 3, 1, 1)                # the senders overlap


def test_the_target_schedule_charges_xfer():
    from fixar_gen.perf import schedule
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    short, long = schedule(_window(1, 1, 1, 1), spec), schedule(_window(9, 8, 1, 1), spec)
    assert long.total_cycles - short.total_cycles == 9 * 2 - 1
    assert long.by_unit["sync"] > short.by_unit["sync"]


def test_per_core_memories_cost_the_rtl_cycle_model_its_transfers():
    """The per-core programs' update takes more cycles than the shared programs', the
    added ones on the "sync" unit (transfers and their barriers)."""
    from fixar_gen.estimate import rtl_figures
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    for policy in POLICIES:
        shared = rtl_figures(spec, Precision(), 1e8, policy)
        per = rtl_figures(spec, Precision(), 1e8, policy, per_core_memories=True)
        assert per["train_cycles_per_update"] > shared["train_cycles_per_update"]
        assert per["train_cycles_by_unit"]["sync"] > shared["train_cycles_by_unit"]["sync"]


@pytest.mark.parametrize("engine", ["interpreter", "compiled"])
def test_the_shared_golden_models_run_the_transfers_as_nothing(engine):
    """On one shared state an xfer moves nothing: both golden engines run the programs
    with transfers (their placement made again) to the bits of the programs without."""
    spec = with_policy(load_spec(EXAMPLES / "pendulum.yaml"), "intra_layer")
    programs = PerCoreCore(spec)
    programs.program("train", spec.algorithm.batch_size)
    core = GoldenCore(spec, engine=engine)
    core._programs.update(programs._programs)
    for p in core._programs.values():
        core._ensure(p)
    assert any(transfers_of(p).instructions for p in core._programs.values())
    run_both(spec, Precision(), core=core)


def test_fixar_compile_prints_the_transfers_only_when_asked(capsys):
    from fixar_gen.cli import main
    spec = str(EXAMPLES / "pendulum.yaml")
    assert main(["compile", spec, "--phase", "explore"]) == 0
    assert " xfer " not in capsys.readouterr().out
    assert main(["compile", spec, "--phase", "explore", "--per-core-memories"]) == 0
    out = capsys.readouterr().out
    assert "c0 xfer buf=inf.actor.h0 rows=0:1 cols=0:32 to=0x2" in out
    assert "cycles modeled" in out


def test_fixar_compile_prints_the_per_core_placement(capsys):
    """``--per-core-memories --placement``: after the shared table, each core's copy --
    its words per memory, and per buffer and slot its offset, first word held, words
    and descriptor base -- from the program's ``copies``; on intra_batch core 1's copy
    of the batch-1 exploration holds none of the states' slot rows."""
    from fixar_gen.cli import main
    spec = str(EXAMPLES / "pendulum.yaml")
    assert main(["compile", spec, "--phase", "explore", "--per-core-memories",
                 "--placement"]) == 0
    out = capsys.readouterr().out
    assert "; per-core placement of pendulum.explore" in out
    core1 = out[out.index("; core 1:"):]
    assert any(line.split()[1:3] == ["slot", "states"] and line.split()[-2] == "0"
               for line in core1.splitlines())
    assert main(["compile", spec, "--phase", "explore", "--placement"]) == 0
    assert "per-core placement" not in capsys.readouterr().out


def test_the_per_core_model_refuses_a_program_with_another_programs_copies():
    """The per-core golden model runs a program only inside its copies
    (``Program.copies``, :func:`fixar_gen.percore.check_copies`): pendulum's training
    program with the exploration's copies (which hold a batch-1 program's rows) is
    refused before it runs."""
    from fixar_gen.percore import OutsideCopy
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    train, explore = compile_programs(spec, [("train", None), ("explore", 1)],
                                      per_core_memories=True)
    per = PerCoreMachine(spec.hardware.cores)
    with pytest.raises(OutsideCopy, match="copy"):
        per.run(dataclasses.replace(train, copies=explore.copies), {})


@settings(max_examples=examples(100), deadline=None)
@given(data=st.data(), spec=specs(max_cores=3, max_array=3),
       cores=st.sampled_from((1, 2, 2, 3, 3)))
def test_random_programs_on_per_core_memories_equal_the_shared_model(data, spec, cores):
    """``fixar verify``'s random programs (every instruction kind and vector function,
    split over 1-3 cores, operands at their formats' extremes), each core then reading
    back every buffer (:func:`fixar_gen.percore_cases.with_readback`, whole), with
    their transfers, on the per-core model: the shared golden model's host slots, buffers (as the host reads them) and
    saturation counts.  Without the transfers inside a program, it fails."""
    from fixar_gen.cases import golden_run
    from fixar_gen.programs import programs
    spec = dataclasses.replace(spec, hardware=dataclasses.replace(spec.hardware, cores=cores))
    case = with_readback(data.draw(programs(spec, max_instructions=4)), whole=True)
    machine, host, stats = golden_run(case)
    (moved,) = insert_all([case.program])
    event(f"transfers: {min(transfers_of(moved).instructions, 2)}")
    per = PerCoreMachine(spec.hardware.cores)
    per.allocate(moved.buffers)
    for name, values in case.initial.items():
        for copy in per.copies:
            copy.memory[name] = np.asarray(values, dtype=np.int64).copy()
    per_host = {k: v.copy() for k, v in case.host.items()}
    per_stats = per.run(moved, per_host)
    assert per_host.keys() == host.keys()
    for name in host:
        np.testing.assert_array_equal(per_host[name], host[name], err_msg=name)
    for b in case.program.buffers:
        if isinstance(machine.memory[b.name], np.ndarray):
            np.testing.assert_array_equal(per.read(b.name), machine.memory[b.name],
                                          err_msg=b.name)
    assert per_stats.by_buffer == stats.by_buffer
