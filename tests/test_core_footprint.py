"""Per-core footprints (fixar_gen/core_footprint.py): every word an instruction of core
c touches -- by tests/test_placement.py's independent region model, plus the host
slots of its loads and stores and the regions of the transfers it sends and receives
-- is addressed (descriptor base of core c's copy + row x cols + column, modulo the
address bits) inside the words core c's copy gives that buffer; live buffers of a copy
never share words; and one core's copy is today's placement."""

import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from fixar_gen import load_spec
from fixar_gen.compiler import compile_programs
from fixar_gen.core_footprint import (banked_stride, column_trimmed, tight_stride, core_copy, machine_boxes,
                                      machine_copies, span, Span, words_per_core)
from fixar_gen.isa import Load, Store, Xfer
from fixar_gen.memory_kinds import accumulator_half_line
from fixar_gen.hw.design import config_for
from fixar_gen.hw.inventory import memory_inventory
from fixar_gen.percore_fit import (machine_programs, naive_words, per_core_fit, per_core_inventory,
                                  per_core_words)
from fixar_gen.spec import ParallelismSpec
from fixar_gen.placement import KEPT_KINDS, conflicts
from fixar_gen.testing import specs

from .conftest import EXAMPLES, examples
from .test_placement import regions as independent_regions

POLICIES = ("intra_layer", "intra_batch")
ADDR_BITS = 24          # wider than any test's memory: base - skip wraps modulo 2^24


def with_policy(spec, policy):
    return dataclasses.replace(spec, parallelism=ParallelismSpec(training=policy,
                                                                 inference=policy))


def machine(spec):
    hw = spec.hardware
    half = accumulator_half_line(hw.cols, hw.lanes)
    return machine_programs(spec), half


def touched_regions(ins, program):
    """(core, "buffer" | "slot", index, (row0, row1), (col0, col1)) of every region
    ``ins`` touches, by the independent model."""
    if isinstance(ins, Xfer):
        return [(c, "buffer", ins.buf, (ins.rows.start, ins.rows.stop),
                 (ins.cols.start, ins.cols.stop))
                for c in range(program.cores) if c == ins.core or ins.to >> c & 1]
    if not hasattr(ins, "core") or type(ins).__name__ in ("Barrier", "Halt"):
        return []
    reads, writes = independent_regions(ins, program.buffers)
    out = [(ins.core, "buffer", i, rows, cols) for i, rows, cols in reads + writes]
    if isinstance(ins, (Load, Store)):
        col0 = ins.src_col if isinstance(ins, Load) else ins.dst_col
        out.append((ins.core, "slot", ins.slot, (ins.rows.start, ins.rows.stop),
                    (col0, col0 + ins.cols.count)))
    return out


def outside(program, copies):
    """The touched regions with a word whose address in its core's copy (descriptor
    base + row x cols + column, modulo 2^ADDR_BITS) falls outside the words the copy
    gives the buffer or slot (empty when the footprints are sound).  An address grows
    with the row and the column, so a region's first and last words bound the others."""
    bad = []
    for pc, ins in enumerate(program.code):
        for core, what, i, (r0, r1), (c0, c1) in touched_regions(ins, program):
            if r1 <= r0 or c1 <= c0:
                continue
            copy = copies[core]
            if what == "buffer":
                placed, cols = copy.placement.buffers[i], program.buffers[i].cols
                base = copy.descriptor_base(i, ADDR_BITS)
            else:
                placed, cols = copy.placement.slots[i], program.slots[i].cols
                base = copy.slot_base(i, ADDR_BITS)
            cols = copy.row_stride((what, i), cols)
            for r, k in ((r0, c0), (r1 - 1, c1 - 1)):
                address = (base + r * cols + k) % (1 << ADDR_BITS)
                if not placed.offset <= address < placed.end:
                    bad.append((pc, core, placed.name, r, k))
    return bad


@settings(max_examples=examples(20), deadline=None)
@given(spec=specs(max_width=9, max_layers=2, max_batch=7, max_cores=3, max_array=3,
                  max_lanes=3),
       policy=st.sampled_from(POLICIES))
def test_every_word_a_core_touches_is_in_its_copy(spec, policy):
    """Mutations caught: a box shrunk by a row (the next test), a load's slot rows
    left out, the skip not rounded to 2H in the paired memories (the base loses its
    phase in the banks).  An xfer's receivers left out is not caught, and need not be:
    the pass sends a core only words it reads (in this program, or, for state, at the
    start of one of the machine's programs), so they are in its box already."""
    programs, half = machine(with_policy(spec, policy))
    copies = machine_copies(programs, half)
    kept_offsets = {}
    for program, row in zip(programs, copies):
        assert outside(program, row) == []
        for copy in row:
            assert conflicts(copy.placement) == []
            for i, b in enumerate(program.buffers):
                p = copy.placement.buffers[i]
                if b.kind in KEPT_KINDS:    # the same words in every program of the copy
                    assert kept_offsets.setdefault((copy.core, b.name),
                                                   (p.offset, p.size)) == (p.offset, p.size)
                if p.memory in ("cmem", "wmem") and p.size:       # the halves' phase kept
                    base = copy.descriptor_base(i)
                    assert base % (2 * half) == p.offset % (2 * half)


@settings(max_examples=examples(20), deadline=None)
@given(spec=specs(max_width=9, max_layers=2, max_batch=7, max_cores=3, max_array=3,
                  max_lanes=3),
       policy=st.sampled_from(POLICIES), padded=st.booleans())
def test_with_a_row_stride_per_core_every_touched_word_is_in_its_copy(spec, policy, padded):
    """The modeled stride field (``base + r * stride + c``, the copy's own stride and its
    first column folded into the base): the same check.  Mutation caught: the first
    column not subtracted from the base, a stride narrower than the box."""
    programs, half = machine(with_policy(spec, policy))
    hw = spec.hardware
    rule = banked_stride(hw.rows, hw.cols, hw.lanes) if padded else tight_stride
    for program, row in zip(programs, machine_copies(programs, half, stride=rule)):
        assert outside(program, row) == []
        for copy in row:
            assert conflicts(copy.placement) == []


@pytest.mark.parametrize("policy", POLICIES)
def test_a_footprint_shrunk_by_one_row_misses_a_word(policy):
    """Every box of every buffer and slot of pendulum's machine, shrunk by its last row
    (a kept buffer's in every program, since its box is the union over them), leaves a
    word some instruction touches outside the copy."""
    spec = with_policy(load_spec(EXAMPLES / "pendulum.yaml"), policy)
    programs, half = machine(spec)
    boxes = machine_boxes(programs)
    shrunk = 0
    for n, program in enumerate(programs):
        for core in range(program.cores):
            for key, (r0, r1, c0, c1) in boxes[n][core].items():
                if r1 - r0 < 2:
                    continue
                kept = key[0] == "buffer" and program.buffers[key[1]].kind in KEPT_KINDS
                if kept and n:
                    continue                      # shrunk once, in every program
                name = (program.buffers if key[0] == "buffer" else program.slots)[key[1]].name
                missed = []
                for p, mine in zip(programs if kept else [program],
                                   boxes if kept else [boxes[n]]):
                    cut = dict(mine[core])
                    for k2, box in mine[core].items():
                        table = p.buffers if k2[0] == "buffer" else p.slots
                        if k2[0] == key[0] and table[k2[1]].name == name:
                            cut[k2] = (box[0], box[1] - 1, box[2], box[3])
                    copies = [core_copy(p, c, cut if c == core else mine[c], half)
                              for c in range(p.cores)]
                    missed += outside(p, copies)
                assert missed, (program.name, core, name)
                shrunk += 1
    assert shrunk > 10


@settings(max_examples=examples(20), deadline=None)
@given(spec=specs(max_width=9, max_layers=2, max_batch=7, max_cores=1, max_array=3,
                  max_lanes=3))
def test_one_cores_copy_is_todays_placement(spec):
    """On one core a copy holds every buffer the program touches, or keeps, whole
    (descriptor base = offset) and, when every host slot is used, at the offset today's
    placement gives it; only temporaries and slots the program never touches (which
    today's placement counts at their full size) take no words.  Mutation caught: a
    copy that trims one core's buffers (a skip or a span short of the whole)."""
    programs, half = machine(spec)
    boxes = machine_boxes(programs)
    for program, row, mine in zip(programs, machine_copies(programs, half), boxes):
        today = program.placement
        (copy,) = row
        used = {key for key in mine[0]}
        for key, items, table in (("buffer", copy.placement.buffers, today.buffers),
                                  ("slot", copy.placement.slots, today.slots)):
            for i, (p, t) in enumerate(zip(items, table)):
                kept = key == "buffer" and program.buffers[i].kind in KEPT_KINDS
                if (key, i) in used or kept:
                    assert p.size == t.size and copy.spans[(key, i)].skip == 0, p.name
                else:
                    assert p.size == 0, p.name
        if all(("slot", k) in used for k in range(len(program.slots))):
            for i, (p, t) in enumerate(zip(copy.placement.buffers, today.buffers)):
                if p.size:
                    assert p == t, p.name
            assert copy.placement.slots == today.slots
        for m, t in zip(copy.placement.memories, today.memories):
            assert m.name == t.name and m.words <= t.words


def test_a_span_takes_whole_rows_from_an_aligned_skip():
    assert span((2, 4, 1, 3), cols=5) == Span(10, 10)
    assert span((2, 4, 1, 3), cols=5, align=4) == Span(8, 12)
    assert span((2, 4, 1, 3), cols=5, whole_rows=False) == Span(11, 7)
    assert span(None, cols=5).words == 0


@pytest.mark.parametrize("policy", POLICIES)
def test_pendulums_copies_are_smaller_than_the_shared_memories(policy):
    spec = with_policy(load_spec(EXAMPLES / "pendulum.yaml"), policy)
    programs, half = machine(spec)
    per_core = words_per_core(machine_copies(programs, half))
    trimmed = column_trimmed(programs, half)
    shared = {}
    for p in programs:
        for m in p.placement.memories:
            shared[m.name] = max(shared.get(m.name, 0), m.words)
    assert len(per_core) == 2
    for need, lower in zip(per_core, trimmed):
        assert sum(w for w, _ in need.values()) < sum(shared.values())
        for m, (words, _) in need.items():
            assert lower[m] <= words
    # intra_batch: each core its batch rows of the activations
    if policy == "intra_batch":
        assert all(need["amem"][0] < shared["amem"] for need in per_core)


# -- the per-core inventory and fit (fixar_gen/percore_fit.py) --------------------------

def test_one_core_through_the_per_core_inventory_is_todays_inventory():
    """A copy of everything on one core is today's design memory for memory (the same
    inventory rules); the trimmed copy is no bigger.  Mutation caught: per-core
    memories given the shared design's ports or names, a memory depth not refitted."""
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    spec = dataclasses.replace(spec, hardware=dataclasses.replace(spec.hardware, cores=1))
    today = memory_inventory(config_for(spec))
    naive = per_core_inventory(spec, naive_words(spec))
    assert [(f"core0_{m.name}", m.width, m.depth, m.banks, m.reads, m.writes)
            for m in today.memories] == \
        [(m.name, m.width, m.depth, m.banks, m.reads, m.writes) for m in naive.memories]
    assert per_core_fit(spec, per_core_words(spec))["design_bits"] <= today.bits


@pytest.mark.parametrize("policy", POLICIES)
def test_two_cores_copies_have_one_line_port_each_and_fit_no_worse_than_naive(policy):
    spec = with_policy(load_spec(EXAMPLES / "pendulum.yaml"), policy)
    words = per_core_words(spec)
    inventory = per_core_inventory(spec, words)
    banked = [m for m in inventory.memories if m.banks > 1]
    assert banked and all(m.reads == 1 and m.writes == 1 for m in banked)
    assert {m.name.split("_")[0] for m in inventory.memories} == {"core0", "core1"}
    naive = per_core_fit(spec, naive_words(spec))
    trimmed = per_core_fit(spec, words)
    assert trimmed["design_bits"] <= naive["design_bits"]
    shared = config_for(spec)
    for need in words:                     # each core's copy within the shared memories
        for s in shared.data_memories:
            assert need.get(s.name, 0) <= s.depth


# ---------------------------------------------------------------- the built placement

@settings(max_examples=examples(15), deadline=None)
@given(spec=specs(max_width=9, max_layers=2, max_batch=7, max_cores=3, max_array=3,
                  max_lanes=3),
       policy=st.sampled_from(POLICIES))
def test_the_compilers_per_core_placement_is_the_footprints(spec, policy):
    """``compile_programs(..., per_core_memories=True)`` attaches each program's
    per-core placement (``Program.copies``): the footprints' copies
    (:func:`machine_copies`), every touched region inside its copy
    (:func:`fixar_gen.percore.check_copies`), each word's holders the copies whose
    spans hold it, and the design sized for the deepest copy."""
    from fixar_gen.percore import check_copies
    from fixar_gen.percore_placement import machine_depths
    programs, half = machine(with_policy(spec, policy))
    for program, row in zip(programs, machine_copies(programs, half)):
        copies = program.copies
        assert copies is not None and copies.cores == len(row)
        assert outside(program, list(copies.copies)) == []
        check_copies(program)
        for c, copy in enumerate(row):
            assert copies.copies[c].spans == copy.spans
            assert copies.copies[c].placement == copy.placement
        for i, b in enumerate(program.buffers):
            holders = copies.holders(("buffer", i), b.rows * b.cols)
            for c in range(copies.cores):
                first, words = copies.held(c, ("buffer", i))
                mine = (holders >> c) & 1
                assert mine[first:first + words].all() and mine.sum() == words
    need = machine_depths(programs)
    per_core = words_per_core(machine_copies(programs, half))
    assert need == {m: max(core.get(m, (0, 0))[0] for core in per_core)
                    for m in need}


@pytest.mark.parametrize("policy", POLICIES)
def test_a_copy_shrunk_by_one_row_is_refused_before_the_run(policy):
    """The mutation: pendulum's programs with one temporary's or slot's span in one copy
    shrunk by a row (the copy's placement and bases as before) -- the per-core golden model's
    check (:func:`fixar_gen.percore.check_copies`) names the instruction that touches
    the missing row."""
    from fixar_gen.core_footprint import Span, program_boxes
    from fixar_gen.percore import OutsideCopy, check_copies
    from fixar_gen.percore_placement import CorePlacements
    spec = with_policy(load_spec(EXAMPLES / "pendulum.yaml"), policy)
    programs, _ = machine(spec)
    caught = 0
    for program in programs:
        check_copies(program)
        copies = program.copies
        boxes = program_boxes(program)      # (a kept buffer's span: the machine's union)
        for c, copy in enumerate(copies.copies):
            for (what, i), s in copy.spans.items():
                table = program.buffers if what == "buffer" else program.slots
                cols = table[i].cols
                if s.words < 2 * cols or caught > 40 or (what, i) not in boxes[c] or \
                        (what == "buffer" and table[i].kind in KEPT_KINDS):
                    continue
                cut = dataclasses.replace(copy, spans={**copy.spans, (what, i):
                                                       Span(s.skip, s.words - cols)})
                mutated = CorePlacements(copies.program, copies.copies[:c] + (cut,)
                                         + copies.copies[c + 1:])
                with pytest.raises(OutsideCopy):
                    check_copies(dataclasses.replace(program, copies=mutated))
                caught += 1
    assert caught > 10


def test_the_per_core_design_is_sized_for_the_deepest_copy():
    """``config_for(spec, per_core_memories=True)``: every memory as deep as the
    deepest core's copy needs (rounded as the shared design's), on pendulum's
    intra_batch no deeper than the shared design's and shallower in ``amem``."""
    from fixar_gen.hw.data_memories import fitted_shape, tail_in_block_ram
    from fixar_gen.percore_placement import machine_depths
    from fixar_gen.compiler import compile_programs
    from fixar_gen.hw.design import _phases
    spec = with_policy(load_spec(EXAMPLES / "pendulum.yaml"), "intra_batch")
    per, shared = config_for(spec, per_core_memories=True), config_for(spec)
    need = machine_depths(compile_programs(spec, list(_phases(spec)),
                                           per_core_memories=True))
    for m in per.data_memories:
        assert m.depth >= need.get(m.name, 1)
        assert m.depth == tail_in_block_ram(fitted_shape(m.name, m.width, need.get(m.name, 1)),
                                            per.memory_banks(m.name)).depth
        assert m.depth <= shared.memory(m.name).depth
    assert per.memory("amem").depth < shared.memory("amem").depth


def interleavings(program, copy):
    """Pairs of temporaries that share words of ``copy`` although their touches in it
    may interleave, by the independent region model: a touch by the copy's core at pc p
    comes before one at pc q > p between the same two barriers (the core runs one
    instruction at a time); another core's ``xfer`` into the copy lands at any time
    between its two barriers; touches between different barriers are ordered by them.
    Empty when the copy's lifetimes (:func:`core_footprint.copy_ranges`) are sound."""
    epoch = [0] * program.cores
    events = {}                      # buffer id -> [(epoch, pc or None)]
    for pc, ins in enumerate(program.code):
        if type(ins).__name__ == "Barrier":
            epoch[ins.core] += 1
            continue
        for core, what, i, (r0, r1), (c0, c1) in touched_regions(ins, program):
            if core == copy.core and what == "buffer" and r1 > r0 and c1 > c0:
                own = ins.core == copy.core
                events.setdefault(i, []).append((epoch[ins.core], pc if own else None))

    def before(a, b):
        return a[0] < b[0] or (a[0] == b[0] and a[1] is not None and b[1] is not None
                               and a[1] < b[1])
    temps = [i for i, p in enumerate(copy.placement.buffers)
             if not p.pinned and p.size and i in events]
    bad = []
    for x, i in enumerate(temps):
        for j in temps[x + 1:]:
            p, q = copy.placement.buffers[i], copy.placement.buffers[j]
            if not p.shares_words_with(q):
                continue
            if not (all(before(a, b) for a in events[i] for b in events[j]) or
                    all(before(b, a) for a in events[i] for b in events[j])):
                bad.append((p.name, q.name))
    return bad


@settings(max_examples=examples(20), deadline=None)
@given(spec=specs(max_width=9, max_layers=2, max_batch=7, max_cores=3, max_array=3),
       policy=st.sampled_from(POLICIES))
def test_temporaries_share_a_copys_words_only_one_after_the_other(spec, policy):
    """A copy's temporaries take the same words only when every touch of one comes
    before every touch of the other in that copy (its core's own order between two
    barriers, whole intervals for the words other cores' transfers write into it).
    Mutation caught: a received transfer counted at its pc (the intervals ignored)."""
    programs, half = machine(with_policy(spec, policy))
    for program in programs:
        for copy in program.copies.copies:
            assert interleavings(program, copy) == []


@pytest.mark.parametrize("policy", POLICIES)
def test_fixar_u50s_copies_share_words_one_after_the_other(policy):
    """fixar_u50's training step (intra_batch: the target critic's and the critic's
    forward accumulators between the same barriers, one after the other in each core's
    copy): the same check on the copies as placed."""
    spec = with_policy(load_spec(EXAMPLES / "fixar_u50.yaml"), policy)
    program = compile_programs(spec, [("train", None)], per_core_memories=True)[0]
    for copy in program.copies.copies:
        assert interleavings(program, copy) == []


def test_a_transfer_into_a_copy_keeps_its_words_for_the_whole_interval():
    """Core 0 loads x; between the same barriers core 1 loads y and sends it to core
    0's copy: in core 0's copy y's words are live from the interval's first instruction
    (the transfer may land while core 0 still uses x), so x and y do not share words
    there; x alone is live at its pc.  Mutation caught: the received transfer counted
    at its pc."""
    from fixar_gen.core_footprint import copy_ranges
    from fixar_gen.isa import Barrier, Buffer, Halt, Program, Range, Slot
    from .test_transfers import Q
    both = [Barrier(core=0, mask=3), Barrier(core=1, mask=3)]
    code = ([Load(core=0, dst=0, slot=0, rows=Range(0, 4), cols=Range(0, 3)),
             Load(core=1, dst=1, slot=0, rows=Range(0, 4), cols=Range(0, 3)),
             Xfer(core=1, buf=1, rows=Range(0, 4), cols=Range(0, 3), to=1)] + both
            + [Store(core=0, src=1, slot=0, rows=Range(0, 4), cols=Range(0, 3))]
            + [Halt(core=0), Halt(core=1)])
    program = Program("t", (Buffer("x", 4, 3, Q), Buffer("y", 4, 3, Q)),
                      (Slot("s", 4, 3),), tuple(code), 2, Q)
    ranges = copy_ranges(program, 0)
    assert ranges[0] == (0, 0)
    assert ranges[1] == (0, 5)
    assert copy_ranges(program, 1)[1] == (1, 2)      # core 1's own load and send
