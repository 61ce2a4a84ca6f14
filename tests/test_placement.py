"""Placement by lifetime (fixar_gen/placement.py): buffers that share scratchpad words
are never live at the same time, and a program that reads a buffer gets what was last
written to it -- checked word by word on a flat memory, independently of the
placement's own bookkeeping."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fixar_gen import load_spec
from fixar_gen.backends import open_core, random_params
from fixar_gen.compiler import PHASES, Precision, compile_program
from fixar_gen.golden import GoldenError, GoldenMachine
from fixar_gen.isa import (NO_BUFFER, VECTOR_FUNCTIONS, Barrier, Drain, Halt, Load, MatMul,
                           Store, Vector)
from fixar_gen.placement import ENTRY, KEPT_KINDS, Placed, Placement, conflicts, place, table
from fixar_gen.testing import precisions, specs, uniform_batch

from .conftest import EXAMPLES


# -- an independent, word-level model of the scratchpad -----------------------------

def _span(r):
    return (r.start, r.stop)


def regions(ins, buffers):
    """(reads, writes): lists of (buffer id, (row0, row1), (col0, col1)) in the buffer's
    own coordinates, as docs/isa.md defines each instruction."""
    reads, writes = [], []

    def operand(i, rows, col0, count):
        b = buffers[i]
        r = _span(rows) if b.rows > 1 else (0, 1)
        c = (col0, col0 + count) if b.cols > 1 else (0, 1)
        return (i, r, c)

    def whole(i):
        return (i, (0, buffers[i].rows), (0, buffers[i].cols))

    if isinstance(ins, Load):
        writes.append((ins.dst, _span(ins.rows), _span(ins.cols)))
    elif isinstance(ins, Store):
        reads.append((ins.src, _span(ins.rows), _span(ins.cols)))
    elif isinstance(ins, MatMul):
        reads.append((ins.a, _span(ins.k), _span(ins.m)) if ins.ta
                     else (ins.a, _span(ins.m), _span(ins.k)))
        reads.append((ins.b, _span(ins.n), _span(ins.k)) if ins.tb
                     else (ins.b, _span(ins.k), _span(ins.n)))
        dst = (ins.dst, _span(ins.m), _span(ins.n))
        writes.append(dst)
        if ins.accumulate:
            reads.append(dst)
    elif isinstance(ins, Drain):
        reads.append((ins.acc, _span(ins.rows), (ins.src_col, ins.src_col + ins.cols.count)))
        if ins.bias != NO_BUFFER:
            reads.append((ins.bias, (0, 1), (ins.src_col, ins.src_col + ins.cols.count)))
        if ins.slope != NO_BUFFER:
            reads.append(whole(ins.slope))
        writes.append((ins.dst, _span(ins.rows), _span(ins.cols)))
    elif isinstance(ins, Vector):
        fn = VECTOR_FUNCTIONS[ins.fn]
        dst = (ins.dst, _span(ins.rows), _span(ins.cols))
        if ins.c != NO_BUFFER:
            reads.append(whole(ins.c))
        if fn == "range":
            reads.append((ins.a, _span(ins.rows), _span(ins.cols)))
            reads.append(whole(ins.dst))
            writes.append(whole(ins.dst))
            return reads, writes
        if fn in ("noise", "ou_noise"):
            reads.append(whole(ins.b))
            writes.append(whole(ins.b))
        if fn == "ou_noise":
            e = (ins.e, _span(ins.rows), (ins.src_col, ins.src_col + ins.cols.count))
            reads.append(e)
            writes.append(e)
        for i in (ins.a, ins.b, ins.e):
            if i != NO_BUFFER and not (fn in ("noise", "ou_noise") and i in (ins.b, ins.e)):
                reads.append(operand(i, ins.rows, ins.src_col, ins.cols.count))
        if fn in ("sgd", "momentum", "adam_m", "adam_s", "adam_w", "soft_update",
                  "acc_add"):
            reads.append(dst)
        writes.append(dst)
    return reads, writes


def check_reads_get_last_write(program, placement):
    """Run the program's data flow on a flat memory of owners: every word a program
    reads must have been written last by the buffer it reads (pinned buffers own their
    words on entry).  Returns the first violation, or None."""
    owner = np.full(max(placement.words, 1), -1, dtype=np.int64)
    for i, p in enumerate(placement.buffers):
        if p.pinned:
            owner[p.offset:p.end] = i

    def view(i, rows, cols):
        p, b = placement.buffers[i], program.buffers[i]
        return owner[p.offset:p.end].reshape(b.rows, b.cols)[rows[0]:rows[1], cols[0]:cols[1]]

    for pc, ins in enumerate(program.code):
        if isinstance(ins, Halt):
            break
        if isinstance(ins, Barrier):
            continue
        reads, writes = regions(ins, program.buffers)
        for i, rows, cols in reads:
            got = view(i, rows, cols)
            if got.size and not (got == i).all():
                other = int(got[got != i][0])
                who = program.buffers[other].name if other >= 0 else "nothing"
                return f"pc {pc} reads {program.buffers[i].name}, last written by {who}"
        for i, rows, cols in writes:
            view(i, rows, cols)[...] = i
    return None


def cross_core_conflicts(program, placement):
    """Words one core writes while another core reads or writes them, between the same
    two barriers (the cores run those instructions at the same time): the first such
    (pc, buffer) or None."""
    if program.cores == 1:
        return None
    words = max(placement.words, 1)
    epoch = [0] * program.cores
    touched = {}          # (epoch, core) -> (written mask, accessed mask)

    def mask(i, rows, cols):
        p, b = placement.buffers[i], program.buffers[i]
        m = np.zeros(words, dtype=bool)
        m[p.offset:p.end].reshape(b.rows, b.cols)[rows[0]:rows[1], cols[0]:cols[1]] = True
        return m

    for pc, ins in enumerate(program.code):
        if isinstance(ins, Barrier):
            epoch[ins.core] += 1
            continue
        if isinstance(ins, Halt):
            continue
        key = (epoch[ins.core], ins.core)
        written, accessed = touched.setdefault(key, (np.zeros(words, bool),
                                                     np.zeros(words, bool)))
        reads, writes = regions(ins, program.buffers)
        for i, rows, cols in writes:
            m = mask(i, rows, cols)
            for (e, c), (w2, a2) in touched.items():
                if e == key[0] and c != ins.core and (m & a2).any():
                    return pc, program.buffers[i].name
            written |= m
            accessed |= m
        for i, rows, cols in reads:
            m = mask(i, rows, cols)
            for (e, c), (w2, a2) in touched.items():
                if e == key[0] and c != ins.core and (m & w2).any():
                    return pc, program.buffers[i].name
            accessed |= m
    return None


def sharing_pairs_overlapping_in_time(placement):
    """Pairs that share a word and are both live at some instruction (recomputed here
    from offsets and ranges, not with the module's helpers)."""
    bad = []
    items = placement.buffers
    for i, p in enumerate(items):
        for q in items[i + 1:]:
            share = p.size and q.size and p.offset < q.offset + q.size \
                and q.offset < p.offset + p.size
            if not share or p.first is None or q.first is None:
                continue
            if p.first == ENTRY or q.first == ENTRY or (p.first <= q.last and q.first <= p.last):
                bad.append((p.name, q.name))
    return bad


# -- properties -----------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_buffers_sharing_words_are_never_live_together_and_reads_see_the_last_write(data):
    spec = data.draw(specs(max_cores=3))
    phase = data.draw(st.sampled_from(PHASES))
    batch = data.draw(st.integers(1, 9)) if phase != "train" else None
    precision = data.draw(precisions(spec))
    program = compile_program(spec, phase, precision, batch)
    pl = program.placement
    assert [p.name for p in pl.buffers] == [b.name for b in program.buffers]
    assert sharing_pairs_overlapping_in_time(pl) == []
    assert conflicts(pl) == []
    assert check_reads_get_last_write(program, pl) is None
    assert cross_core_conflicts(program, pl) is None
    # the kept kinds are pinned, and the pinned region comes first
    for b, p in zip(program.buffers, pl.buffers):
        assert p.size == b.rows * b.cols
        if b.kind in KEPT_KINDS:
            assert p.pinned and p.end <= pl.pinned_words
        elif not p.pinned:
            assert p.offset >= pl.pinned_words
    assert pl.words <= pl.unshared_words


@pytest.mark.parametrize("name", ["pendulum", "fixar_u50"])
def test_example_programs_share_space_and_keep_parameters_in_place(name):
    spec = load_spec(EXAMPLES / f"{name}.yaml")
    train = compile_program(spec, "train")
    pl = train.placement
    assert pl.shared and pl.words < pl.unshared_words
    assert check_reads_get_last_write(train, pl) is None
    # c.ones is written by the host before the update: read before written, so pinned
    assert pl["c.ones"].pinned
    # the parameters sit at the same words in every phase, batch and precision
    offsets = {p.name: p.offset for p in pl.buffers
               if p.kind in ("param", "state", "const", "prng")}
    from fixar_gen.estimate import fxp16_precision
    for phase in PHASES:
        for precision in (Precision(), fxp16_precision(spec)):
            other = compile_program(spec, phase, precision, 1 if phase != "train" else 7)
            got = {p.name: p.offset for p in other.placement.buffers if p.name in offsets}
            assert got == offsets, phase


def test_the_word_check_catches_a_placement_that_shares_live_buffers():
    """The checks can fail: move one temporary onto another that is live with it."""
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    program = compile_program(spec, "train")
    pl = program.placement
    temps = [p for p in pl.buffers if not p.pinned and p.first is not None and p.size > 8]
    a, b = next((p, q) for p in temps for q in temps
                if p is not q and p.live_overlaps(q) and not p.shares_words_with(q))
    broken = Placement(tuple(dataclasses.replace(p, offset=a.offset) if p is b else p
                             for p in pl.buffers), pl.words, pl.pinned_words, True)
    assert sharing_pairs_overlapping_in_time(broken)
    assert conflicts(broken)
    assert check_reads_get_last_write(program, broken) is not None
    # and the golden model refuses to run it (it would read the other buffer's values)
    golden = open_core(spec, "golden")
    golden.load_params(random_params(spec))
    bad = dataclasses.replace(program, placement=broken)
    golden._programs[("train", spec.algorithm.batch_size, golden.precision)] = bad
    with pytest.raises(GoldenError, match="placement"):
        golden.train_step(uniform_batch(spec, golden.formats, np.random.default_rng(0)))


def test_a_program_reading_an_unwritten_temporary_is_refused_by_the_golden_model():
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    program = compile_program(spec, "infer", batch=2)
    out = next(b for b in program.buffers if b.name == "inf.actor.h0")
    i = program.buffers.index(out)
    store = Store(src=i, slot=0, rows=program.code[0].rows, cols=program.code[0].cols)
    code = (store,) + program.code
    from fixar_gen.placement import place as place_again
    bad = dataclasses.replace(program, code=code, placement=None)
    bad = dataclasses.replace(bad, placement=place_again(bad))
    # read before written: the placement pins it (live on entry) ...
    assert bad.placement["inf.actor.h0"].pinned
    # ... and a placement that does not is refused at run time
    size = out.rows * out.cols
    moved = Placement(tuple(dataclasses.replace(p, first=0, last=len(code) - 1,
                                                offset=bad.placement.words)
                            if p.name == "inf.actor.h0" else p
                            for p in bad.placement.buffers),
                      bad.placement.words + size, bad.placement.pinned_words, True)
    machine = GoldenMachine()
    with pytest.raises(GoldenError, match="inf.actor.h0"):
        machine.run(dataclasses.replace(bad, placement=moved), {"states": np.zeros((2, 3))})


def test_programs_without_a_placement_give_every_buffer_its_own_words():
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    program = dataclasses.replace(compile_program(spec, "infer", batch=1), placement=None)
    pl = place(program, share=False)
    assert not pl.shared and pl.words == pl.unshared_words
    assert all(p.pinned for p in pl.buffers)
    assert sharing_pairs_overlapping_in_time(pl) == []


def test_several_cores_share_only_across_barriers():
    """Two cores run the instructions between two barriers at the same time: a
    buffer's range covers its whole barrier interval."""
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    program = compile_program(spec, "train")
    assert program.cores == 2
    barriers = [pc for pc, ins in enumerate(program.code) if isinstance(ins, Barrier)]
    for p in program.placement.buffers:
        if p.pinned or p.first is None:
            continue
        # a range starts right after a barrier (or at 0) and ends with one (or at the end)
        assert p.first == 0 or p.first - 1 in barriers, p
        assert p.last in barriers or p.last == len(program.code) - 1, p


def test_placement_table_lists_every_buffer():
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    program = compile_program(spec, "train")
    text = table(program)
    assert f"{program.placement.words:,} words" in text.splitlines()[0]
    assert sum(1 for line in text.splitlines()[2:]) == len(program.buffers)
    assert "pinned" in text and "unused" in text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 12)), min_size=0, max_size=25))
def test_sharing_lists_the_buffers_with_a_common_word(spans):
    pl = Placement(tuple(Placed(f"b{i}", off, size, "data", 0, 0)
                         for i, (off, size) in enumerate(spans)), 0, 0, True)
    for i, p in enumerate(pl.buffers):
        words = set(range(p.offset, p.end))
        expected = tuple(j for j, q in enumerate(pl.buffers)
                         if j != i and words & set(range(q.offset, q.end)))
        assert pl.sharing[i] == expected


def test_barriers_that_do_not_synchronise_every_core_give_no_sharing():
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    program = compile_program(spec, "train")
    partial = tuple(dataclasses.replace(i, mask=1) if isinstance(i, Barrier) else i
                    for i in program.code)
    pl = place(dataclasses.replace(program, code=partial, placement=None))
    assert not pl.shared and pl.words == pl.unshared_words
    assert all(p.pinned for p in pl.buffers)
