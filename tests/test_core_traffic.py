"""Cross-core traffic (fixar_gen/core_traffic.py): the words a core reads that another
core wrote last, checked against a word-by-word count on the independent region model
of tests/test_placement.py, and on hand-built programs whose answer is known."""

import contextlib
import dataclasses
from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from fixar_gen import load_spec
from fixar_gen.compiler import compile_program, is_training, phases
from fixar_gen.core_traffic import measure, transfer_cycles
from fixar_gen.isa import (VECTOR_FUNCTIONS, Buffer, Halt, Load, MatMul, Program, Range,
                           Slot, Vector)
from fixar_gen.numerics import FixedFormat
from fixar_gen.testing import specs

from .conftest import EXAMPLES, examples
from .test_placement import regions as independent_regions

Q = FixedFormat(16, 8)
COPY = VECTOR_FUNCTIONS.index("copy")
SGD = VECTOR_FUNCTIONS.index("sgd")


def program(buffers, code, cores=2):
    return Program(name="t", buffers=tuple(buffers), slots=(Slot("s", 8, 8),),
                   code=tuple(code) + tuple(Halt(core=c) for c in range(cores)),
                   cores=cores, pre_format=Q)


def test_a_read_of_the_other_cores_rows_crosses_and_its_own_does_not():
    x, y = Buffer("x", 6, 3, Q), Buffer("y", 6, 3, Q)
    p = program([x, y], [Load(core=0, dst=0, slot=0, rows=Range(0, 4), cols=Range(0, 3)),
                         Load(core=1, dst=0, slot=0, rows=Range(4, 2), cols=Range(0, 3)),
                         Vector(core=1, fn=COPY, dst=1, a=0, rows=Range(2, 4),
                                cols=Range(0, 3))])
    (t,), _ = measure([p])
    assert t.cross == Counter({("data", 0, 1): 2 * 3})      # rows 2, 3 from core 0
    assert t.received(1) == 6 and t.received(0) == 0
    assert t.by_buffer == Counter({"x": 6})


def test_a_transposed_operand_reads_rows_and_columns_swapped():
    a, b = Buffer("a", 4, 3, Q), Buffer("b", 4, 5, Q)
    acc = Buffer("acc", 3, 5, FixedFormat(40, 16), "acc", 40)
    p = program([a, b, acc],
                [Load(core=0, dst=0, slot=0, rows=Range(0, 4), cols=Range(0, 3)),
                 Load(core=1, dst=1, slot=0, rows=Range(0, 4), cols=Range(0, 5)),
                 # acc[0:3, 0:5] = a[0:2, 0:3]^T @ b[0:2, 0:5]: a's 2 x 3 words cross
                 MatMul(core=1, dst=2, a=0, b=1, ta=1, m=Range(0, 3), n=Range(0, 5),
                        k=Range(0, 2))])
    (t,), _ = measure([p])
    assert t.cross == Counter({("data", 0, 1): 2 * 3})


def test_a_broadcast_row_is_read_once_per_instruction():
    bias, y = Buffer("bias", 1, 4, Q), Buffer("y", 8, 4, Q)
    p = program([bias, y], [Load(core=0, dst=0, slot=0, rows=Range(0, 1), cols=Range(0, 4)),
                            Vector(core=1, fn=COPY, dst=1, a=0, rows=Range(0, 8),
                                   cols=Range(0, 4))])
    (t,), _ = measure([p])
    assert t.total() == 4


def test_state_written_by_one_program_crosses_in_the_next():
    w = Buffer("w", 2, 2, Q, "param")
    g = Buffer("g", 2, 2, Q, "grad")
    y = Buffer("y", 2, 2, Q)
    step = program([w, g, Buffer("c", 1, 1, Q, "const")],
                   [Load(core=1, dst=1, slot=0, rows=Range(0, 2), cols=Range(0, 2)),
                    Vector(core=1, fn=SGD, dst=0, a=1, c=2, rows=Range(0, 2),
                           cols=Range(0, 2))])
    use = program([w, y], [Vector(core=0, fn=COPY, dst=1, a=0, rows=Range(0, 2),
                                  cols=Range(0, 2))])
    (t_use, t_step), total = measure([use, step])
    assert t_use.cross == Counter({("param", 1, 0): 4})     # the previous update's w
    assert t_step.total() == 0 and total.total() == 4
    assert not total.shared


def test_state_nobody_writes_but_two_cores_read_must_be_shared():
    w, y = Buffer("w", 3, 2, Q, "param"), Buffer("y", 3, 2, Q)
    p = program([w, y], [Vector(core=c, fn=COPY, dst=1, a=0, rows=Range(c, 2),
                                cols=Range(0, 2)) for c in range(2)])
    _, total = measure([p])
    assert total.total() == 0
    assert total.shared == Counter({"param": 2})            # row 1 read by both cores


def test_transfer_cycles_are_the_busiest_receivers_lines():
    x, y = Buffer("x", 5, 3, Q), Buffer("y", 5, 3, Q)
    p = program([x, y], [Load(core=0, dst=0, slot=0, rows=Range(0, 5), cols=Range(0, 3)),
                         Vector(core=1, fn=COPY, dst=1, a=0, rows=Range(0, 5),
                                cols=Range(0, 3))])
    (t,), _ = measure([p])
    assert transfer_cycles(t, 4) == 4                     # 15 words in lines of 4
    assert transfer_cycles(t, 1) == 15
    with pytest.raises(ValueError):
        transfer_cycles(t, 0)


def _brute_force(programs):
    """The same count, word by word, on tests/test_placement.py's region model."""
    owners_state: dict = {}
    counted = Counter()
    for rnd in range(2):
        for prog in programs:
            bufs = prog.buffers
            owners = {i: (owners_state.setdefault(b.name, {})
                          if b.kind in ("param", "state", "prng", "monitor") else {})
                      for i, b in enumerate(bufs)}
            for ins in prog.code:
                if isinstance(ins, Halt):
                    break
                if not hasattr(ins, "core") or type(ins).__name__ == "Barrier":
                    continue
                reads, writes = independent_regions(ins, bufs)
                for i, (r0, r1), (c0, c1) in reads:
                    if bufs[i].kind == "const":
                        continue
                    for r in range(r0, r1):
                        for c in range(c0, c1):
                            o = owners[i].get((r, c))
                            if rnd and o is not None and o != ins.core:
                                counted[(bufs[i].kind, o, ins.core)] += 1
                for i, (r0, r1), (c0, c1) in writes:
                    if bufs[i].kind == "const":
                        continue
                    for r in range(r0, r1):
                        for c in range(c0, c1):
                            owners[i][(r, c)] = ins.core
    return counted


@settings(max_examples=examples(12), deadline=None)
@given(spec=specs(max_width=9, max_layers=2, max_batch=7, max_cores=3, max_array=3),
       policy=st.sampled_from(["intra_layer", "intra_batch"]))
def test_compiled_programs_match_a_word_by_word_count(spec, policy):
    """Mutations caught: a transposed operand read unswapped, a broadcast operand read
    over every row, state owners not carried between programs, the first round
    counted."""
    names = [p for p in phases(spec) if is_training(spec, p)] + ["explore"]
    programs = [compile_program(spec, p, policy=policy) for p in names]
    _, total = measure(programs)
    assert total.cross == _brute_force(programs)
    if spec.hardware.cores == 1:
        assert total.total() == 0 and not total.shared


def _without_transposed_weight_reads(program):
    """The program without backprop's data products (``dz @ w^T``, the MatMuls that
    read their b transposed): the one step of intra_layer that still reads every
    column of the weights (docs/hardware.md's plan, step 2)."""
    code = tuple(ins for ins in program.code if not (isinstance(ins, MatMul) and ins.tb))
    return dataclasses.replace(program, code=code)


def _parameter_words_crossing(spec, policy="intra_layer"):
    names = [p for p in phases(spec) if is_training(spec, p)] + ["explore"]
    programs = [_without_transposed_weight_reads(compile_program(spec, p, policy=policy))
                for p in names]
    _, total = measure(programs)
    kinds = total.by_kind()
    return {k: kinds[k] for k in ("param", "grad", "state") if kinds[k]}


@pytest.mark.parametrize("name", ["fixar_u50", "pendulum", "pendulum_td3"])
def test_intra_layer_parameter_work_stays_on_the_core_of_its_columns(name):
    """On intra_layer the optimizer and the soft update split the parameters by the
    products' columns: apart from backprop's transposed weight reads, no parameter,
    gradient or optimizer-state word is read by a core that another core wrote.
    Mutation caught: the parameter work split by rows (the gradients the products
    wrote by columns read by rows: 259,506 words on fixar_u50, its parameters read
    back by columns)."""
    spec = load_spec(EXAMPLES / f"{name}.yaml")
    assert spec.hardware.cores == 2
    assert _parameter_words_crossing(spec) == {}


@settings(max_examples=examples(12), deadline=None)
@given(spec=specs(max_width=9, max_layers=2, max_batch=7, max_cores=3, max_array=3,
                  max_lanes=5))
def test_intra_layer_parameter_work_stays_home_on_random_specs(spec):
    """The same on random specs: layers narrower than the cores (a core without
    columns), odd widths, one core, up to three."""
    assert _parameter_words_crossing(spec) == {}


def _intra_layer_total(spec, partial_sums=None):
    """The words crossing in one steady intra_layer cycle, the compiler's choice of
    backprop's data product (``partial_sums`` None) or one scheme forced."""
    from unittest import mock

    from fixar_gen.compiler import Emitter
    rule = (mock.patch.object(Emitter, "_partial_sums_cross_less",
                              lambda self, B, cols, w: partial_sums)
            if partial_sums is not None else contextlib.nullcontext())
    with rule:
        names = [p for p in phases(spec) if is_training(spec, p)] + ["explore"]
        _, total = measure([compile_program(spec, p, policy="intra_layer")
                            for p in names])
    return total.total()


@settings(max_examples=examples(12), deadline=None)
@given(spec=specs(max_width=9, max_layers=2, max_batch=7, max_cores=3, max_array=3))
def test_intra_layer_data_products_take_the_scheme_that_moves_fewer_words(spec):
    """Backprop's ``dz @ w^T`` on intra_layer is lowered as per-core partial sums or
    as whole weights, product by product, by a word count
    (``Emitter._partial_sums_cross_less``); the products' traffic adds up, so the
    program moves no more words than with either scheme forced.  Mutations caught:
    the rule inverted, a count of either scheme wrong by a term."""
    chosen = _intra_layer_total(spec)
    assert chosen <= _intra_layer_total(spec, partial_sums=True)
    assert chosen <= _intra_layer_total(spec, partial_sums=False)


def test_fixar_u50s_data_products_move_partial_sums_not_weights():
    """fixar_u50 (batch 64, 400-300): the hidden layers' data products as partial sums
    (each core receives 64 x its columns of the other's sums) instead of the other
    core's columns of the weights and deltas."""
    spec = load_spec(EXAMPLES / "fixar_u50.yaml")
    chosen = _intra_layer_total(spec)
    weights = _intra_layer_total(spec, partial_sums=False)
    assert chosen < weights
    assert weights - chosen > 180_000
