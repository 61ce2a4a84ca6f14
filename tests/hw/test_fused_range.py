"""The range monitor after a drain, folded from the drain's write-back
(docs/hardware.md, the element loop): which ranges the core runs as one step
(:func:`fixar_gen.range_fusion.fused_ranges`, the cycle model's rule), the lanes' fold tree
on its own (its answer in time for the range's step at every lane count, 1 to 64), and
programs on the PyRTL core whose ranges do and do not follow their drain, against the
golden model and the cycle model.

What these catch: a tree that is a cycle late (its minimum read before the last lanes'
results reach it), lanes or tree nodes left out (a padded tree's neutral elements, a
partial last step), a fold that is not reset between drains, a range fused when
another instruction, region or buffer lies between (golden != RTL), and a cycle model
whose rule differs from the controller's (RTL cycles != model)."""

from __future__ import annotations

import numpy as np
import pyrtl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixar_gen.cases import Case
from fixar_gen.hw.build import to_signed
from fixar_gen.hw.core import FOLD_STAGES, build_write_back_folds
from fixar_gen.range_fusion import fused_ranges
from fixar_gen.isa import (ACTIVATIONS, Barrier, Buffer, Drain, Halt, Program, Range,
                           VECTOR_FUNCTIONS, Vector)
from fixar_gen.numerics import FixedFormat
from fixar_gen.verify import check_program

from .test_core import pyrtl_machine
from tests.conftest import examples

RANGE = VECTOR_FUNCTIONS.index("range")
IDENTITY = ACTIVATIONS.index("identity")


def _drain(core=0, dst=1, rows=Range(0, 3), cols=Range(0, 4)):
    return Drain(core=core, dst=dst, acc=0, act=IDENTITY, rows=rows, cols=cols)


def _range(core=0, a=1, rows=Range(0, 3), cols=Range(0, 4), dst=2):
    return Vector(core=core, fn=RANGE, dst=dst, a=a, rows=rows, cols=cols)


FMT = FixedFormat(12, 4)


def _program(code, cores=1, acc_bits=40) -> Program:
    """``code`` over an accumulator, the values drained from it, a monitor and a second
    data buffer."""
    buffers = (Buffer("acc", 3, 5, FixedFormat(64, 8), "acc", acc_bits),
               Buffer("y", 3, 4, FMT), Buffer("mon", 1, 2, FMT, "monitor"),
               Buffer("x", 3, 4, FMT))
    return Program("fused", buffers, (), tuple(code), cores, FMT)


def test_a_range_is_fused_only_right_after_its_drain_on_the_same_core():
    mid = Vector(fn=VECTOR_FUNCTIONS.index("copy"), dst=3, a=1, rows=Range(0, 3),
                 cols=Range(0, 4))
    cases = {
        "after its drain": ([_drain(), _range()], {1}),
        "another core's instruction between": (
            [_drain(core=0), _drain(core=1, dst=3), _range(core=0)], {2}),
        "on another core": ([_drain(core=0), _range(core=1)], set()),
        "an instruction between": ([_drain(), mid, _range()], set()),
        "a barrier between": ([_drain(), Barrier(mask=1), _range()], set()),
        "fewer rows": ([_drain(), _range(rows=Range(0, 2))], set()),
        "other columns": ([_drain(), _range(cols=Range(1, 3))], set()),
        "another buffer": ([_drain(), _range(a=3)], set()),
        "a second range": ([_drain(), _range(), _range()], {1}),
        "after a range": ([_range(), _range()], set()),
    }
    for what, (code, fused) in cases.items():
        cores = 1 + max(ins.core for ins in code)
        assert fused_ranges(_program(code, cores)) == frozenset(fused), what


@settings(max_examples=examples(40), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(lanes=st.sampled_from((1, 2, 3, 5, 16, 32, 33, 64)), data=st.data())
def test_the_lanes_fold_has_the_drains_range_in_time_for_the_ranges_step(lanes, data):
    """Cycle 0 restarts the fold (the drain's DECODE), then write-back cycles with any
    lanes writing; the tree's output, read FOLD_STAGES + 1 cycles after the last write
    (the fused range's stage 2), is the minimum and maximum of every value written;
    a second drain's fold starts from nothing."""
    bits = 14
    word = 20
    values = st.integers(-(1 << (bits - 3)), (1 << (bits - 3)) - 1)
    with pyrtl.set_working_block(build_write_back_folds(lanes, bits - 2, word)):
        sim = pyrtl.Simulation()
        idle = {"restart": 0, **{f"done{v}": 0 for v in range(lanes)},
                **{f"d{v}": 0 for v in range(lanes)}}
        for _ in range(2):                      # two drains, the second from nothing
            sim.step({**idle, "restart": 1})
            written = []
            for _ in range(data.draw(st.integers(1, 4))):
                cycle = dict(idle)
                mask = data.draw(st.lists(st.booleans(), min_size=lanes, max_size=lanes))
                mask[data.draw(st.integers(0, lanes - 1))] = True
                for v in range(lanes):
                    value = data.draw(values)
                    cycle[f"d{v}"] = value % (1 << word)
                    if mask[v]:
                        cycle[f"done{v}"] = 1
                        written.append(value)
                sim.step(cycle)
            for _ in range(FOLD_STAGES):
                sim.step(idle)
            sim.step(idle)                      # the range's stage 2
            got = (to_signed(sim.inspect("low"), bits), to_signed(sim.inspect("high"), bits))
            assert got == (min(written), max(written)), (lanes, written)


def _case(code, spec, seed) -> Case:
    """``code`` and a halt with random contents (the values drained reaching the
    format's extremes)."""
    rng = np.random.default_rng(seed)
    program = _program(list(code) + [Halt()], acc_bits=spec.numerics.accumulator_width)
    initial = {"acc": rng.integers(-(1 << 14), 1 << 14, size=(3, 5)),
               "y": rng.integers(FMT.min_int, FMT.max_int + 1, size=(3, 4)),
               "mon": np.array([[0, 0]]),
               "x": rng.integers(FMT.min_int, FMT.max_int + 1, size=(3, 4))}
    return Case(program, initial, {})


@pytest.mark.parametrize("shape", [(2, 3, 1), (1, 1, 1)])
def test_ranges_after_their_drains_equal_golden_in_the_models_cycles(shape):
    """On a core of 3 lanes (a row of 4 in a full and a partial step) and of one: the
    fused range after a drain, the same monitor again over another region (read from
    memory), a second drain whose fold must not keep the first's, a fused range with
    the monitor already wider than the drain's values, and a range after a copy."""
    spec, machine = pyrtl_machine(shape)
    copy = Vector(fn=VECTOR_FUNCTIONS.index("copy"), dst=3, a=1, rows=Range(0, 3),
                  cols=Range(0, 4))
    code = [_drain(), _range(), _range(rows=Range(1, 2), cols=Range(1, 2)),
            _drain(rows=Range(1, 2), cols=Range(0, 3)),
            _range(rows=Range(1, 2), cols=Range(0, 3)),
            copy, _range(a=3)]
    program = _program(code)
    assert fused_ranges(program) == {1, 4}
    for seed in range(3):
        diff = check_program(_case(code, spec, seed), machine)
        assert diff is None, diff


COPY = VECTOR_FUNCTIONS.index("copy")


@settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_ranges_tree_lands_before_the_next_instructions_reads(data):
    """``range``'s fold over the lanes is a registered tree (``core.RANGE_STAGES``):
    its last write lands in the next instruction's BASES.  On cores of one, three and
    five lanes (partial steps, an odd tree): ranges of one monitor back to back over
    regions of several steps, each read at once by the next (its first step starts
    from the monitor's words) or by a copy of one of its words, and the cycle model's
    count unchanged.  The values of a format of the lane's whole data width, signed or
    unsigned, at its extremes (the tree folds at that width, a sign and an unsigned
    format's bit).  A write a cycle later than the next read, a step that folds from
    the monitor instead of the previous step's fold, or a tree a bit narrower, differs
    from golden."""
    shape = data.draw(st.sampled_from([(1, 1, 1), (2, 3, 1), (1, 5, 1)]))
    spec, machine = pyrtl_machine(shape)
    width = machine.cfg.lane.data_width
    fmt = data.draw(st.sampled_from([FMT, FixedFormat(width, 4),
                                     FixedFormat(width, 4, signed=False)]))
    buffers = (Buffer("x", 4, 11, fmt), Buffer("mon", 1, 2, fmt, "monitor"),
               Buffer("y", 2, 2, fmt), Buffer("z", 4, 11, fmt))

    def region():
        r0 = data.draw(st.integers(0, 3))
        c0 = data.draw(st.integers(0, 10))
        return (Range(r0, data.draw(st.integers(1, 4 - r0))),
                Range(c0, data.draw(st.integers(1, 11 - c0))))
    code = []
    for _ in range(data.draw(st.integers(2, 4))):
        rows, cols = region()
        code.append(Vector(fn=RANGE, dst=1, a=data.draw(st.sampled_from([0, 3])),
                           rows=rows, cols=cols))
        if data.draw(st.booleans()):
            col = data.draw(st.integers(0, 1))
            code.append(Vector(fn=COPY, dst=2, a=1, rows=Range(0, 1), cols=Range(col, 1),
                               src_col=col))
    program = Program("ranges", buffers, (), tuple(code) + (Halt(),), 1, fmt)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))

    def words(shape):
        x = rng.integers(fmt.min_int, fmt.max_int + 1, size=shape)
        return np.where(rng.random(shape) < 0.2, rng.choice([fmt.min_int, fmt.max_int], shape),
                        x)
    lo, hi = sorted(words((2,)).tolist())
    initial = {"x": words((4, 11)), "z": words((4, 11)), "y": np.zeros((2, 2), np.int64),
               "mon": np.array([[hi, lo]] if data.draw(st.booleans()) else [[lo, hi]])}
    diff = check_program(Case(program, initial, {}), machine)
    assert diff is None, f"{diff}\n{Case(program, initial, {}).listing()}"
