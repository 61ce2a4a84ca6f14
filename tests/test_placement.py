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
from fixar_gen.memory_kinds import (MEMORIES, PAIRED_MEMORIES, accumulator_half_line, memory_of,
                                     slot_widths, stored_width)
from fixar_gen.placement import ENTRY, KEPT_KINDS, Placed, Placement, conflicts, place, table
from fixar_gen.testing import precisions, specs, uniform_batch

from .conftest import EXAMPLES, examples


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
            owner[placement.address(p):placement.address(p) + p.size] = i

    def view(i, rows, cols):
        p, b = placement.buffers[i], program.buffers[i]
        at = placement.address(p)
        return owner[at:at + p.size].reshape(b.rows, b.cols)[rows[0]:rows[1], cols[0]:cols[1]]

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
        at = placement.address(p)
        m[at:at + p.size].reshape(b.rows, b.cols)[rows[0]:rows[1], cols[0]:cols[1]] = True
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
            share = p.size and q.size and p.memory == q.memory \
                and p.offset < q.offset + q.size and q.offset < p.offset + p.size
            if not share or p.first is None or q.first is None:
                continue
            if p.first == ENTRY or q.first == ENTRY or (p.first <= q.last and q.first <= p.last):
                bad.append((p.name, q.name))
    return bad


# -- properties -----------------------------------------------------------------------

@settings(max_examples=examples(150), deadline=None)
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
    # each buffer in its kind's memory, inside it; the kept kinds are pinned, and the
    # pinned region comes first in each memory
    memories = {m.name: m for m in pl.memories}
    assert [m.name for m in pl.memories] == [m for m in MEMORIES if m in memories]
    assert pl.words == sum(m.words for m in pl.memories)
    assert pl.pinned_words == sum(m.pinned_words for m in pl.memories)
    for m, nxt in zip(pl.memories, pl.memories[1:]):
        assert m.end == nxt.base
    for b, p in zip(program.buffers, pl.buffers):
        m = memories[p.memory]
        assert p.memory == memory_of(b) and p.end <= m.words
        assert stored_width(b) <= m.width
        assert pl.address(p) == m.base + p.offset
        assert p.size == b.rows * b.cols
        if b.kind in KEPT_KINDS:
            assert p.pinned and p.end <= m.pinned_words
        elif not p.pinned:
            assert p.offset >= m.pinned_words
    for name, m in memories.items():
        held = [stored_width(b) for b in program.buffers if memory_of(b) == name]
        if name == "amem" and program.slots:
            held += slot_widths(program)
        assert m.width == max(held)
    # the host slots: in amem's pinned region, words of their own, wide enough for
    # every buffer a load or store copies through them
    assert [p.name for p in pl.slots] == [s.name for s in program.slots]
    for p, s in zip(pl.slots, program.slots):
        assert p.memory == "amem" and p.pinned and p.size == s.rows * s.cols
        assert p.end <= memories["amem"].pinned_words
        assert not any(p.shares_words_with(q) for q in pl.buffers + pl.slots if q is not p)
    for ins in program.code:
        if isinstance(ins, (Load, Store)):
            b = program.buffers[ins.dst if isinstance(ins, Load) else ins.src]
            assert stored_width(b) <= memories["amem"].width
    # sharing never takes more words than giving every buffer its own, but for the
    # alignment of the 2H banks' buffers (cmem, wmem: each at 0 or H mod 2H)
    span = 2 * accumulator_half_line(spec.hardware.cols)
    aligned = sum(1 for p in pl.buffers if p.memory in PAIRED_MEMORIES)
    assert pl.words <= pl.unshared_words + (span - 1) * aligned
    for p in pl.buffers:
        if p.memory in PAIRED_MEMORIES:
            assert p.offset % (span // 2) == 0, p


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
    offsets = {p.name: (p.memory, p.offset, pl.address(p)) for p in pl.buffers
               if p.kind in ("param", "state", "const", "prng")}
    from fixar_gen.estimate import fxp16_precision
    for phase in PHASES:
        for precision in (Precision(), fxp16_precision(spec)):
            other = compile_program(spec, phase, precision, 1 if phase != "train" else 7)
            got = {p.name: (p.memory, p.offset, other.placement.address(p))
                   for p in other.placement.buffers if p.name in offsets}
            assert got == offsets, phase


def test_the_word_check_catches_a_placement_that_shares_live_buffers():
    """The checks can fail: move one temporary onto another that is live with it."""
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    program = compile_program(spec, "train")
    pl = program.placement
    temps = [p for p in pl.buffers if not p.pinned and p.first is not None and p.size > 8]
    a, b = next((p, q) for p in temps for q in temps
                if p is not q and p.memory == q.memory and p.live_overlaps(q)
                and not p.shares_words_with(q))
    broken = Placement(tuple(dataclasses.replace(p, offset=a.offset) if p is b else p
                             for p in pl.buffers), pl.words, pl.pinned_words, True,
                       pl.memories)
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
    pl = program.placement
    text = table(program, word=82)
    lines = text.splitlines()
    assert f"{pl.words:,} words" in lines[0]
    bits = sum(m.words * (82 if m.name == "cmem" else m.width) for m in pl.memories)
    assert f"{bits:,} bits" in lines[0]
    n = len(pl.memories)
    # one line per memory (name, width: cmem at the datapath word), one per buffer
    for line, m in zip(lines[2:2 + n], pl.memories):
        assert line.split()[1:4] == [m.name, str(82 if m.name == "cmem" else m.width),
                                     f"{m.words:,}"]
    rows = [line.split() for line in lines[3 + n:]]
    assert len(rows) == len(program.buffers) + len(program.slots)
    assert sorted((r[1], r[-1]) for r in rows) == \
        sorted((p.memory, p.name) for p in pl.buffers + pl.slots)
    assert "pinned" in text and "unused" in text


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 12),
                          st.sampled_from(("amem", "cmem"))), min_size=0, max_size=25))
def test_sharing_lists_the_buffers_with_a_common_word(spans):
    """Words are shared only within one memory: the same offsets in two memories are
    different words."""
    pl = Placement(tuple(Placed(f"b{i}", off, size, "data", 0, 0, memory)
                         for i, (off, size, memory) in enumerate(spans)), 0, 0, True)
    for i, p in enumerate(pl.buffers):
        words = {(p.memory, w) for w in range(p.offset, p.end)}
        expected = tuple(j for j, q in enumerate(pl.buffers)
                         if j != i and words & {(q.memory, w) for w in range(q.offset, q.end)})
        assert pl.sharing[i] == expected


def test_barriers_that_do_not_synchronise_every_core_give_no_sharing():
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    program = compile_program(spec, "train")
    partial = tuple(dataclasses.replace(i, mask=1) if isinstance(i, Barrier) else i
                    for i in program.code)
    pl = place(dataclasses.replace(program, code=partial, placement=None))
    assert not pl.shared and pl.words == pl.unshared_words
    assert all(p.pinned for p in pl.buffers)


def test_each_kind_lives_in_its_memory_and_adam_reads_four_memories():
    """docs/hardware.md's table: parameters and target parameters in wmem, gradients
    and the layers' deltas in gmem, Adam's m and sqrt(v) in mmem and vmem, accumulators in cmem, the small
    kept kinds in smem, activations and host slots in amem; an Adam step's four
    parameter-shaped operands come from four memories."""
    spec = load_spec(EXAMPLES / "fixar_u50.yaml")
    program = compile_program(spec, "train")
    pl = program.placement
    expected = {"param": "wmem", "grad": "gmem", "delta": "gmem", "acc": "cmem",
                "const": "smem", "prng": "smem", "monitor": "smem", "data": "amem"}
    kinds = set()
    for b, p in zip(program.buffers, pl.buffers):
        kinds.add(b.kind)
        if b.kind == "state":
            assert p.memory == ("vmem" if b.name.endswith(".s") else "mmem"), b.name
        else:
            assert p.memory == expected[b.kind], b.name
    assert kinds == set(expected) | {"state"}
    assert pl["target.actor.l0.w"].memory == "wmem"
    assert pl["actor.l0.w.grad"].memory == "gmem"
    assert (pl["actor.l0.w.m"].memory, pl["actor.l0.w.s"].memory) == ("mmem", "vmem")
    assert [m.name for m in pl.memories] == list(MEMORIES)
    # the widths: the spec's 32-bit weights, gradients and state; the accumulators'
    # fitted width; the slots and data at the widest activation
    widths = {m.name: m.width for m in pl.memories}
    assert widths["wmem"] == spec.numerics.weight_format.width
    assert widths["gmem"] == widths["mmem"] == widths["vmem"] \
        == spec.numerics.gradient_format.width
    assert widths["cmem"] == spec.numerics.accumulator_width
    adam = [ins for ins in program.code if isinstance(ins, Vector)
            and VECTOR_FUNCTIONS[ins.fn] == "adam_w"]
    assert adam
    for ins in adam:
        operands = [i for i in (ins.dst, ins.a, ins.b, ins.e) if i != NO_BUFFER]
        mems = [pl.buffers[i].memory for i in operands]
        assert len(set(mems)) == len(mems), mems


def test_a_unsigned_format_takes_one_more_bit_in_its_memory():
    """Reads sign-extend a memory's words: an unsigned w-bit value needs w + 1 bits."""
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    program = compile_program(spec, "train")
    prng = program.buffers[[b.name for b in program.buffers].index("prng")]
    assert not prng.fmt.signed
    assert stored_width(prng) == prng.fmt.width + 1
    assert program.placement.memory("smem").width >= prng.fmt.width + 1
