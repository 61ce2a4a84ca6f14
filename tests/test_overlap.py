"""fixar_gen/overlap.py: the overlap bound reads the programs as the exact cycle model
does, never lets an instruction start before what it depends on has finished, and never
does worse than the machine it relaxes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from fixar_gen import load_spec
from fixar_gen.compiler import Precision, compile_programs, machine_runs
from fixar_gen.hw.core import ISSUE_CYCLES, CoreConfig
from fixar_gen.hw.design import pe_widths
from fixar_gen.hw.host import RTL_TIMING, rtl_execution
from fixar_gen.isa import Barrier, Halt, MatMul, Vector
from fixar_gen.overlap import (Machine, _Scoreboard, dependency_bound, list_schedule,
                               operand_regions, overlap_schedule, queue_of,
                               segment_bound, streaming_cycles)
from fixar_gen.perf import schedule_with
from fixar_gen.testing import precisions, specs

from .conftest import examples

SEQUENTIAL = Machine(decoupled=False, issue_latency=ISSUE_CYCLES,
                     barrier_latency=RTL_TIMING.barrier_latency)


def _machine(spec):
    hw = spec.hardware
    return CoreConfig("rtl", hw.cores, hw.rows, hw.cols, pe_widths(spec), 1, 1,
                      lanes=hw.lanes)


def _programs(spec, precision, per_core: bool):
    return compile_programs(spec, machine_runs(spec), precision,
                            per_core_memories=per_core and spec.hardware.cores > 1)


def _masks(program, regs):
    """{buffer: a boolean mask of the words ``regs`` name}."""
    out = {}
    for buf, rows, cols in regs:
        b = program.buffers[buf]
        mask = out.setdefault(buf, np.zeros((b.rows, b.cols), dtype=bool))
        mask[rows, cols] = True
    return out


def _conflict(program, first, second) -> bool:
    """Whether ``second`` (later in program order) reads a word ``first`` writes, or
    writes a word ``first`` reads or writes (word by word, not by regions)."""
    r1, w1 = (_masks(program, x) for x in operand_regions(first, program))
    r2, w2 = (_masks(program, x) for x in operand_regions(second, program))

    def meet(a, b):
        return any(k in b and (a[k] & b[k]).any() for k in a)
    return meet(r2, w1) or meet(w2, w1) or meet(w2, r1)


def _check_order(program, run):
    """No instruction starts before an earlier one of its core that it conflicts with
    has finished, nor before every instruction of a barrier's cores ahead of the
    barrier has."""
    code = program.code
    for j, later in enumerate(code):
        if j not in run.times:
            continue
        for i in range(j):
            if i not in run.times:
                continue
            earlier = code[i]
            same = earlier.core == later.core
            if _separated(code, i, j) or same and _conflict(program, earlier, later):
                assert run.times[j][0] >= run.times[i][1], (i, earlier, j, later)


def _separated(code, i, j) -> bool:
    """A barrier of both instructions' cores lies between i and j."""
    return any(isinstance(code[k], Barrier) and code[k].mask >> code[i].core & 1
               and code[k].mask >> code[j].core & 1 for k in range(i + 1, j))


@settings(max_examples=examples(40), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), spec=specs(max_width=9, max_layers=2, max_batch=7, max_cores=3,
                                  max_array=3, max_lanes=3),
       per_core=st.booleans(), depth=st.integers(1, 6), interval=st.integers(1, 3))
def test_the_bound_keeps_the_exact_model_and_every_dependency(data, spec, per_core,
                                                              depth, interval):
    precision = data.draw(precisions(spec))
    cfg = _machine(spec)
    hw = spec.hardware
    for program in _programs(spec, precision, per_core):
        execution = rtl_execution(cfg, program)
        exact = schedule_with(program, hw.cores, execution, RTL_TIMING).total_cycles
        sequential = overlap_schedule(program, execution, SEQUENTIAL, hw.rows, hw.cols)
        assert sequential.total_cycles == exact
        queues = overlap_schedule(program, execution, Machine(
            queue_depth=depth, dispatch_interval=interval), hw.rows, hw.cols)
        piped = overlap_schedule(program, execution, Machine(
            pipelined=True, queue_depth=depth, dispatch_interval=interval),
            hw.rows, hw.cols)
        bound = dependency_bound(program, execution, RTL_TIMING.barrier_latency)
        assert bound <= piped.total_cycles <= queues.total_cycles <= exact
        reordered = list_schedule(program, execution, True, hw.rows, hw.cols,
                                  RTL_TIMING.barrier_latency)
        assert bound <= reordered.total_cycles
        assert segment_bound(program, execution, hw.rows, hw.cols) <= \
            reordered.total_cycles
        for run in (sequential, queues, piped, reordered):
            _check_order(program, run)
        for run, pipelined in ((queues, False), (piped, True)):
            _check_units(program, run, execution, pipelined, hw.rows, hw.cols)
        _check_busy(program, reordered, execution, hw.rows, hw.cols)


def _check_units(program, run, execution, pipelined, rows, cols):
    """Each queue of a core starts its instructions in program order, each after the
    previous one has left the unit (its cycles, or its streaming part when pipelined)."""
    last = {}
    for pc, instr in enumerate(program.code):
        if pc not in run.times:
            continue
        unit, cycles = execution(pc, instr)
        queue = (instr.core, queue_of(unit))
        held = streaming_cycles(instr, unit, cycles, rows, cols) if pipelined else cycles
        assert run.times[pc][1] - run.times[pc][0] == cycles
        if queue in last:
            assert run.times[pc][0] >= last[queue], (pc, instr)
        last[queue] = run.times[pc][0] + held


def _check_busy(program, run, execution, rows, cols):
    """No unit of a core holds two instructions at once (in any order)."""
    spans = {}
    for pc, (start, end) in run.times.items():
        instr = program.code[pc]
        unit, cycles = execution(pc, instr)
        assert end - start == cycles
        held = streaming_cycles(instr, unit, cycles, rows, cols)
        spans.setdefault((instr.core, queue_of(unit)), []).append(
            (start, start + held))
    for intervals in spans.values():
        intervals.sort()
        for (_, a_end), (b_start, _) in zip(intervals, intervals[1:]):
            assert b_start >= a_end


def test_the_scoreboard_orders_a_write_after_every_read_and_write_it_overlaps():
    board = _Scoreboard()
    board.record([(0, slice(0, 2), slice(0, 4))], [(1, slice(0, 1), slice(0, 4))], 10)
    board.record([(2, slice(0, 1), slice(0, 1))], [], 30)
    assert board.ready([(0, slice(1, 3), slice(3, 9))], []) == 0      # read after read
    assert board.ready([], [(0, slice(1, 3), slice(3, 9))]) == 10     # write after read
    assert board.ready([], [(0, slice(2, 3), slice(0, 4))]) == 0      # rows apart
    assert board.ready([(1, slice(0, 1), slice(2, 3))], []) == 10     # read after write
    assert board.ready([], [(1, slice(0, 1), slice(4, 5))]) == 0      # columns apart
    assert board.ready([], [(2, slice(0, 1), slice(0, 1)),
                            (1, slice(0, 1), slice(0, 1))]) == 30     # the latest of both


def test_independent_units_overlap_and_dependent_ones_wait():
    """On pendulum's training program: some vec starts while a MatMul runs, and none
    that reads a MatMul's result starts before the MatMul finishes."""
    spec = load_spec("examples/pendulum.yaml")
    spec = replace(spec, hardware=replace(spec.hardware, cores=1))
    program = _programs(spec, Precision(), False)[0]
    execution = rtl_execution(_machine(spec), program)
    run = overlap_schedule(program, execution, Machine(), spec.hardware.rows,
                           spec.hardware.cols)
    code = program.code
    mm = [i for i, x in enumerate(code) if isinstance(x, MatMul)]
    vec = [i for i, x in enumerate(code) if isinstance(x, Vector)]
    overlapping = [(i, j) for i in mm for j in vec
                   if run.times[i][0] < run.times[j][0] < run.times[i][1]]
    assert overlapping, "no vec ran beside a MatMul"
    for i, j in overlapping:
        assert not _conflict(program, code[i], code[j])
    assert run.total_cycles < schedule_with(program, 1, execution,
                                            RTL_TIMING).total_cycles
    assert all(i in run.times for i, x in enumerate(code)
               if not isinstance(x, (Barrier, Halt)))
