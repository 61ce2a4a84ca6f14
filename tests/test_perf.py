"""The cycle model (fixar_gen.perf): hand-counted cycles of every instruction kind, the
multi-core schedule with barriers, the critical-path breakdown and the utilisation."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from functools import lru_cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixar_gen.isa import (ACTIVATIONS, VECTOR_FUNCTIONS, Barrier, Buffer, Drain, Halt, Load,
                           MatMul, Program, Range, Slot, Store, Vector)
from fixar_gen.numerics import FixedFormat
from fixar_gen.perf import UNITS, Schedule, Timing, instruction_cycles, schedule
from fixar_gen.spec import HardwareSpec, MemorySpec, Spec

FMT = FixedFormat(32, 16)
BIG = 4096                                       # buffer sides: every range below fits
BUFFERS = (
    Buffer("x", BIG, BIG, FMT),                  # 0: activations (opA)
    Buffer("w", BIG, BIG, FMT, kind="param"),    # 1: weights (opB, stationary)
    Buffer("acc", BIG, BIG, FMT, kind="acc", acc_bits=80),   # 2
    Buffer("y", BIG, BIG, FMT),                  # 3
    Buffer("c", 1, 4, FMT, kind="const"),        # 4
)
X, W, ACC, Y, CONST = range(5)
SLOTS = (Slot("host", BIG, BIG),)
T = Timing()


@lru_cache(maxsize=None)
def make_spec(cores: int = 1, array: tuple[int, int] = (4, 4), banks: int = 16) -> Spec:
    return Spec(hardware=HardwareSpec(cores=cores, array=array,
                                      memory=MemorySpec(banks=banks)))


def program(*code, cores: int = 1) -> Program:
    return Program("test", BUFFERS, SLOTS, tuple(code), cores, FMT)


def mm(m: int, n: int, k: int, *, core: int = 0, mode: int = 0, n0: int = 0) -> MatMul:
    return MatMul(core=core, dst=ACC, a=X, b=W, mode=mode, m=Range(0, m), n=Range(n0, n),
                  k=Range(0, k))


def vec(fn: str, rows: int, cols: int, core: int = 0) -> Vector:
    return Vector(core=core, fn=VECTOR_FUNCTIONS.index(fn), dst=Y, a=X, b=X, c=CONST,
                  rows=Range(0, rows), cols=Range(0, cols))


def cycles(instr, spec: Spec, cores: int = 1, timing: Timing = T) -> int:
    return instruction_cycles(instr, program(instr, cores=cores), spec, timing)


# ----------------------------------------------------------------------------- MatMul

def test_single_tile_matmul_by_hand():
    # 8x8 array fed by 16 banks: the 64-word tile loads in 4 cycles; 10 rows stream in
    # 10; the skew fills and drains in 8 + 8.  Plus the issue cycle.
    spec = make_spec(array=(8, 8), banks=16)
    assert cycles(mm(10, 8, 8), spec) == 1 + 4 + 10 + 16
    # a smaller range is still one tile, and costs the same
    assert cycles(mm(10, 3, 5), spec) == 1 + 4 + 10 + 16


def test_tile_counts_for_non_multiples_of_the_array():
    spec = make_spec(array=(4, 4), banks=16)     # load = ceil(16 / 16) = 1
    # k = 5 -> 2 tiles, n = 10 -> 3 tiles: 6 tiles; streaming (20) hides the loads
    assert cycles(mm(20, 10, 5), spec) == 1 + 1 + 5 * 20 + 20 + 8
    # one more column or reduction index than a multiple adds a tile row/column
    assert cycles(mm(20, 8, 4), spec) == 1 + 1 + 1 * 20 + 20 + 8      # 2 tiles
    assert cycles(mm(20, 9, 4), spec) == 1 + 1 + 2 * 20 + 20 + 8      # 3 tiles
    assert cycles(mm(20, 8, 5), spec) == 1 + 1 + 3 * 20 + 20 + 8      # 4 tiles


def test_tile_loads_bound_a_short_stream():
    # 4 banks: a 16-word tile takes 4 cycles to load, longer than 2 rows take to stream,
    # so after the first tile every tile costs the load (double buffering)
    spec = make_spec(array=(4, 4), banks=4)
    assert cycles(mm(2, 10, 5), spec) == 1 + 4 + 5 * max(4, 2) + 2 + 8
    assert cycles(mm(1, 4, 4), spec) == 1 + 4 + 1 + 8


def test_fxp16_halves_the_stream_and_rounds_odd_rows_up():
    spec = make_spec(array=(4, 4), banks=16)
    tiles = 6                                    # n = 10, k = 5
    for m in (20, 21, 1, 2):
        rows = math.ceil(m / 2)
        expected = 1 + 1 + (tiles - 1) * max(1, rows) + rows + 8
        assert cycles(mm(m, 10, 5, mode=1), spec) == expected
    assert cycles(mm(21, 10, 5, mode=1), spec) == cycles(mm(22, 10, 5, mode=1), spec)
    assert cycles(mm(20, 10, 5, mode=1), spec) < cycles(mm(20, 10, 5, mode=0), spec)


def test_timing_constants_reach_the_matmul():
    spec = make_spec(array=(4, 4), banks=16)
    timing = Timing(issue=2, array_extra_latency=3, macs_per_pe=(1, 4))
    assert cycles(mm(8, 4, 4, mode=1), spec, timing=timing) == 2 + 1 + 2 + 8 + 3


# ------------------------------------------------------------------ the other units

def test_vector_op_cycles():
    spec = make_spec(array=(4, 4))               # 4 lanes
    assert cycles(vec("add", 3, 10), spec) == 1 + math.ceil(30 / 4) + 4
    assert cycles(vec("dact_tanh", 1, 4), spec) == 1 + 1 + 6
    assert cycles(vec("adam_s", 5, 5), spec) == 1 + 7 + 34
    assert cycles(vec("adam_w", 5, 5), spec) == 1 + 7 + 40
    assert cycles(vec("add", 8, 8), make_spec(array=(4, 16))) == 1 + 4 + 4   # 16 lanes


@given(rows=st.integers(1, 9), cols=st.integers(1, 40), array_cols=st.integers(1, 16),
       lanes=st.one_of(st.none(), st.integers(1, 20)))
def test_the_element_loop_divides_by_the_vector_lanes(rows, cols, array_cols, lanes):
    """hardware.vector_lanes sets the vector unit's elements per cycle (null: the array's
    columns): a model that divides by the columns whatever the lanes fails here."""
    spec = Spec(hardware=HardwareSpec(cores=1, array=(4, array_cols), vector_lanes=lanes))
    per_cycle = array_cols if lanes is None else lanes
    assert spec.hardware.lanes == per_cycle
    assert cycles(vec("add", rows, cols), spec) == 1 + math.ceil(rows * cols / per_cycle) + 4
    drain = Drain(core=0, dst=Y, acc=ACC, act=ACTIVATIONS.index("relu"),
                  rows=Range(0, rows), cols=Range(0, cols))
    assert cycles(drain, spec) == 1 + math.ceil(rows * cols / per_cycle) + T.drain("relu")


def test_every_vector_function_and_activation_has_a_cost():
    spec = make_spec()
    for fn in VECTOR_FUNCTIONS:
        assert cycles(vec(fn, 2, 3), spec) > 1
    for i, act in enumerate(ACTIVATIONS):
        drain = Drain(dst=Y, acc=ACC, act=i, rows=Range(0, 2), cols=Range(0, 5))
        assert cycles(drain, spec) == 1 + math.ceil(10 / 4) + T.drain(act)


def test_drain_latency_by_activation():
    spec = make_spec(array=(4, 4))
    tanh = Drain(dst=Y, acc=ACC, act=ACTIVATIONS.index("tanh"), rows=Range(0, 64),
                 cols=Range(0, 300))
    assert cycles(tanh, spec) == 1 + 64 * 300 // 4 + 6


def test_acc_add_moves_over_the_link():
    spec = make_spec(cores=2, array=(4, 4))
    timing = Timing(link_words_per_cycle=6, link_latency=16)
    assert cycles(vec("acc_add", 1, 400), spec, cores=2, timing=timing) == \
        1 + math.ceil(400 / 6) + 16


def test_dma_load_and_store():
    spec = make_spec()
    load = Load(dst=X, slot=0, rows=Range(0, 64), cols=Range(0, 17))
    store = Store(src=Y, slot=0, rows=Range(0, 1), cols=Range(0, 1))
    assert cycles(load, spec) == 1 + math.ceil(64 * 17 / 16) + 64
    assert cycles(store, spec) == 1 + 1 + 64


def test_halt_and_barrier_alone():
    spec = make_spec()
    assert cycles(Halt(), spec) == T.issue + T.halt
    assert cycles(Barrier(mask=1), spec) == T.issue + T.barrier_latency


# ------------------------------------------------------------------------ schedules

def test_one_core_program_adds_up_and_names_its_units():
    spec = make_spec(array=(4, 4))
    code = (Load(dst=X, slot=0, rows=Range(0, 8), cols=Range(0, 4)),
            mm(8, 4, 4),
            Drain(dst=Y, acc=ACC, act=1, rows=Range(0, 8), cols=Range(0, 4)),
            Halt())
    sched = schedule(program(*code), spec)
    per = [cycles(i, spec) for i in code]
    assert sched.total_cycles == sum(per)
    assert sched.per_core_busy == (sum(per),)
    assert sched.by_unit == {"dma": per[0] - 1, "array": per[1] - 1, "vector": per[2] - 1,
                             "issue": 4 + T.halt, "sync": 0}
    assert sched.array_macs == 8 * 4 * 4


def test_two_cores_with_a_barrier_take_the_slower_one():
    spec = make_spec(cores=2, array=(4, 4))
    slow, fast = mm(100, 16, 16, core=0), vec("add", 4, 4, core=1)
    code = (slow, fast, Barrier(core=0, mask=3), Barrier(core=1, mask=3),
            vec("copy", 4, 4, core=0), vec("copy", 4, 4, core=1),
            Halt(core=0), Halt(core=1))
    sched = schedule(program(*code, cores=2), spec)
    after = cycles(vec("copy", 4, 4), spec) + T.issue + T.halt
    slow_arrives = cycles(slow, spec, cores=2) + T.issue
    assert sched.total_cycles == slow_arrives + T.barrier_latency + after
    # both cores leave the barrier together; core 1 worked less
    assert sched.per_core_busy[0] == sched.total_cycles
    assert sched.per_core_busy[1] == (cycles(fast, spec, cores=2) + T.issue
                                      + T.barrier_latency + after)
    # the critical path runs through core 0's matmul
    assert sched.by_unit["array"] == cycles(slow, spec, cores=2) - T.issue
    assert sched.by_unit["sync"] == T.barrier_latency
    assert sum(sched.by_unit.values()) == sched.total_cycles


def test_critical_path_follows_the_slowest_core_at_each_barrier():
    spec = make_spec(cores=2, array=(4, 4))
    dma = Load(core=1, dst=X, slot=0, rows=Range(0, 512), cols=Range(0, 16))
    code = (dma, mm(4, 4, 4, core=0),
            Barrier(core=0, mask=3), Barrier(core=1, mask=3),
            mm(400, 16, 16, core=0),
            Barrier(core=0, mask=3), Barrier(core=1, mask=3))
    sched = schedule(program(*code, cores=2), spec)
    assert sched.by_unit["dma"] == cycles(dma, spec, cores=2) - 1   # core 1 first
    assert sched.by_unit["array"] == cycles(mm(400, 16, 16), spec) - 1   # core 0 then
    assert sched.by_unit["vector"] == 0
    assert sched.by_unit["sync"] == 2 * T.barrier_latency
    assert sum(sched.by_unit.values()) == sched.total_cycles


def test_cores_without_barriers_run_concurrently():
    spec = make_spec(cores=2, array=(4, 4))
    a, b = mm(50, 8, 8, core=0), mm(70, 8, 8, core=1)
    sched = schedule(program(a, b, cores=2), spec)
    assert sched.total_cycles == cycles(b, spec, cores=2)
    assert sched.per_core_busy == (cycles(a, spec, cores=2), cycles(b, spec, cores=2))


def test_mask_bits_beyond_the_program_are_ignored():
    spec = make_spec(cores=2)
    code = (Barrier(core=0), Barrier(core=1), Halt(core=0), Halt(core=1))   # mask 0xFFFF
    sched = schedule(program(*code, cores=2), spec)
    assert sched.total_cycles == T.issue + T.barrier_latency + T.issue + T.halt


def test_units_are_the_documented_five():
    sched = schedule(program(Halt()), make_spec())
    assert tuple(sched.by_unit) == UNITS
    assert set(UNITS) == {"array", "vector", "dma", "sync", "issue"}


# --------------------------------------------------------------------- utilisation

def big_matmul_utilization(m: int, mode: int) -> tuple[Schedule, Fraction]:
    spec = make_spec(cores=1, array=(16, 16), banks=16)
    tiles = 4 * 4                                # n = k = 64
    sched = schedule(program(mm(m, 64, 64, mode=mode), Halt()), spec)
    rows = math.ceil(m / (1 + mode))
    load = 16
    total = (1 + load + (tiles - 1) * max(load, rows) + rows + 32) + (1 + 1)
    assert sched.total_cycles == total
    return sched, Fraction(m * 64 * 64, total * 256)


def test_utilization_of_a_big_matmul_is_exact_and_approaches_one():
    spec = make_spec(cores=1, array=(16, 16), banks=16)
    previous = 0.0
    for m in (16, 64, 256, 4096, 65536):
        sched, exact = big_matmul_utilization(m, mode=0)
        assert sched.utilization(spec, 1) == pytest.approx(float(exact), rel=1e-12)
        # with m >= the load time: T m / (T m + 51) for T = 16 tiles
        assert exact == Fraction(16 * m, 16 * m + 51)
        assert previous < sched.utilization(spec, 1) < 1
        previous = sched.utilization(spec, 1)
    assert previous > 0.9999


def test_fxp16_doubles_the_utilization_against_fxp32_peak():
    spec = make_spec(cores=1, array=(16, 16), banks=16)
    for m in (64, 4096, 65536):
        sched, exact = big_matmul_utilization(m, mode=1)
        # two rows a cycle: 16 m / 2 streaming cycles + 51 around them
        assert exact == 2 * Fraction(16 * m, 16 * m + 102)      # against the FXP32 peak
        assert sched.utilization(spec, 1) == pytest.approx(float(exact), rel=1e-12)
        assert sched.utilization(spec, 2) == pytest.approx(float(exact) / 2, rel=1e-12)
    assert sched.utilization(spec, 1) > 1.999
    assert sched.utilization(spec, 2) > 0.9999


def test_idle_cores_count_against_utilization():
    one = make_spec(cores=1, array=(16, 16))
    two = make_spec(cores=2, array=(16, 16))
    sched = schedule(program(mm(1024, 64, 64), Halt()), two)
    assert sched.utilization(two, 1) == pytest.approx(sched.utilization(one, 1) / 2)


def test_empty_schedule_has_zero_utilization():
    sched = schedule(program(), make_spec())
    assert sched.total_cycles == 0 and sched.utilization(make_spec(), 1) == 0.0


# ----------------------------------------------------------------------- properties

arrays = st.tuples(st.integers(1, 20), st.integers(1, 20))
counts = st.integers(1, 300)


@given(array=arrays, banks=st.integers(1, 32), mode=st.integers(0, 1), m=counts,
       n=counts, k=counts, dim=st.sampled_from("mnk"), more=st.integers(1, 100))
def test_matmul_cycles_are_monotone_in_every_count(array, banks, mode, m, n, k, dim, more):
    spec = make_spec(array=array, banks=banks)
    sizes = {"m": m, "n": n, "k": k}
    bigger = {**sizes, dim: sizes[dim] + more}
    assert cycles(mm(**sizes, mode=mode), spec) <= cycles(mm(**bigger, mode=mode), spec)


@given(array=arrays, banks=st.integers(1, 32), mode=st.integers(0, 1), m=counts,
       k=counts, data=st.data())
def test_splitting_n_across_two_cores_never_costs_more(array, banks, mode, m, k, data):
    n = data.draw(st.integers(2, 300), label="n")
    cut = data.draw(st.integers(1, n - 1), label="cut")
    spec = make_spec(cores=2, array=array, banks=banks)
    alone = schedule(program(mm(m, n, k, mode=mode), Halt(), cores=2), spec)
    split = schedule(program(mm(m, cut, k, mode=mode, core=0),
                             mm(m, n - cut, k, mode=mode, core=1, n0=cut),
                             Barrier(core=0, mask=3), Barrier(core=1, mask=3),
                             Halt(core=0), Halt(core=1), cores=2), spec)
    assert split.total_cycles <= alone.total_cycles + T.issue + T.barrier_latency
    assert split.array_macs == alone.array_macs


@given(st.lists(st.tuples(st.integers(0, 1), st.sampled_from(("mm", "vec", "load",
                                                              "barrier"))),
                max_size=12))
def test_critical_path_always_sums_to_the_total(ops):
    spec = make_spec(cores=2, array=(4, 4))
    code = []
    for core, op in ops:
        if op == "barrier":
            code += [Barrier(core=0, mask=3), Barrier(core=1, mask=3)]
        elif op == "mm":
            code.append(mm(7, 9, 5, core=core))
        elif op == "vec":
            code.append(vec("adam_w", 3, 5, core=core))
        else:
            code.append(Load(core=core, dst=X, slot=0, rows=Range(0, 9), cols=Range(0, 9)))
    sched = schedule(program(*code, cores=2), spec)
    assert sum(sched.by_unit.values()) == sched.total_cycles
    assert max(sched.per_core_busy, default=0) <= sched.total_cycles
    assert sum(sched.per_core_busy) == sum(cycles(i, spec, cores=2) for i in code)


# --------------------------------------------------------------------------- errors

def test_a_barrier_a_core_never_reaches_is_a_deadlock():
    spec = make_spec(cores=2)
    with pytest.raises(ValueError, match="deadlocks.*core 0 waits for core.*1"):
        schedule(program(Barrier(core=0, mask=3), Halt(core=1), cores=2), spec)


def test_disagreeing_barrier_masks_are_refused():
    spec = make_spec(cores=3)
    code = (Barrier(core=0, mask=3), Barrier(core=1, mask=7), Barrier(core=2, mask=7))
    with pytest.raises(ValueError, match="masks disagree"):
        schedule(program(*code, cores=3), spec)


def test_a_barrier_must_include_its_own_core():
    with pytest.raises(ValueError, match="does not include it"):
        schedule(program(Barrier(core=1, mask=1), cores=2), make_spec(cores=2))


def test_cores_beyond_the_program_or_the_hardware_are_refused():
    with pytest.raises(ValueError, match="runs on core 1"):
        schedule(program(Halt(core=1)), make_spec(cores=2))
    with pytest.raises(ValueError, match="hardware has 1"):
        schedule(program(Halt(), cores=2), make_spec(cores=1))


def test_an_out_of_range_enum_is_refused():
    with pytest.raises(ValueError, match="vec.fn = 63"):
        cycles(Vector(fn=63, dst=Y), make_spec())


@pytest.mark.parametrize("changes, message", [
    ({"dma_words_per_cycle": 0}, "dma_words_per_cycle: 0"),
    ({"issue": -1}, "issue: -1"),
    ({"macs_per_pe": (1,)}, "macs_per_pe"),
    ({"vector_latency": {"add": 4}}, "no latency for copy"),
    ({"drain_latency": {**dict(T.drain_latency), "gelu": 3}}, "unknown name.*gelu"),
    ({"drain_latency": {**dict(T.drain_latency), "tanh": -2}}, r"drain_latency\[tanh\]"),
])
def test_timing_is_validated(changes, message):
    with pytest.raises(ValueError, match=message):
        Timing(**changes)


def test_timing_tables_accept_mappings_and_stay_hashable():
    timing = Timing(vector_latency={**dict(T.vector_latency), "adam_s": 20})
    assert timing.vector("adam_s") == 20 and timing.vector("add") == 4
    assert timing != T and isinstance(hash(timing), int)
    assert cycles(vec("adam_s", 1, 1), make_spec(), timing=timing) == 1 + 1 + 20


def test_every_timing_field_is_documented():
    for f in dataclasses.fields(Timing):
        assert len(f.metadata["doc"]) > 20, f.name


def test_auto_policy_is_the_one_with_fewer_cycles():
    from fixar_gen.compiler import compile_program
    from fixar_gen.perf import choose_policy

    spec = make_spec(cores=2, array=(16, 16))
    for phase in ("infer", "train"):
        cycles_by = {p: schedule(compile_program(spec, phase, policy=p), spec).total_cycles
                     for p in ("intra_layer", "intra_batch")}
        assert cycles_by[choose_policy(spec, phase)] == min(cycles_by.values())
    assert choose_policy(make_spec(cores=1, array=(16, 16)), "infer") == "intra_layer"


def test_a_range_right_after_its_drain_counts_one_element():
    """The target schedule folds a range into the drain before it as the RTL does
    (fixar_gen.range_fusion): one element plus the range's latency; the same range
    after another instruction, or over another region, counts its region."""
    spec = make_spec(array=(4, 4))
    drain = Drain(dst=Y, acc=ACC, rows=Range(0, 8), cols=Range(0, 12))
    rng = Vector(fn=VECTOR_FUNCTIONS.index("range"), dst=CONST, a=Y, rows=Range(0, 8),
                 cols=Range(0, 12))
    other = dataclasses.replace(rng, rows=Range(0, 7))
    fused = program(drain, rng, Halt())
    latency = T.vector("range")
    assert instruction_cycles(rng, fused, spec, T, pc=1) == T.issue + 1 + latency
    assert instruction_cycles(rng, fused, spec, T) == T.issue + 8 * 3 + latency
    region = schedule(program(drain, other, Halt()), spec).total_cycles
    assert schedule(fused, spec).total_cycles == region - (7 * 3 - 1)
    after_copy = program(drain, vec("copy", 1, 1), rng, Halt())
    assert schedule(after_copy, spec).total_cycles == \
        schedule(program(drain, vec("copy", 1, 1), Halt()), spec).total_cycles \
        + T.issue + 8 * 3 + latency
