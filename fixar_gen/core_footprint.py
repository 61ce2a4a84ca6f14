"""What each core's copy of the memories must hold, with per-core memories (issue 12,
docs/hardware.md "Per-core memories", step 4): per core and buffer the rows the core
touches over the programs one machine runs, and each copy's placement.

With per-core memories each core reads and writes only its own copy, and the transfers
(:mod:`fixar_gen.transfers`) fill it with what the others wrote.  A copy needs only the
words its core touches: on intra_batch its batch rows of the activations and
accumulators, on intra_layer its columns of the products.  The instructions stay as
they are; each core's copy of the descriptor table (host-written data, one table per
core) gives a buffer a core-specific base, so that the rows the core never touches
take no space in its copy.

The address arithmetic.  An operand's word (r, c) is at ``base + r * cols + c`` in its
memory, computed modulo 2^A (A the core's address bits: every adder of the core
truncates to A bits), with ``cols`` the descriptor's column count, which is also the
buffer's shape (the broadcast rules and the loops read it).  A copy that holds rows
r0 .. r1 of a buffer placed at ``offset`` in it gets the descriptor base ``offset - r0 *
cols`` (mod 2^A): every word of those rows is where the core looks for it, with no
change to the instruction or the datapath.  A *column* split cannot be trimmed this
way: the row stride is ``cols``, so a core that holds columns c0 .. c1 of every row
still spans (rows - 1) x cols + (c1 - c0 + 1) words; only a descriptor with a row
stride of its own (``base + r * stride + c`` with ``stride`` = the core's columns,
a new field and a change of the address units) would trim it.  So a copy holds whole
rows here (:data:`WHOLE_ROWS`), and :func:`column_trimmed` gives the words a copy
would need with a per-core stride, modeled: :func:`tight_stride` (no bank padding, a
lower bound) or :func:`banked_stride` (the compiler's padding rules on every buffer of
the banked memories).  In ``cmem`` and ``wmem`` (2H banks, :mod:`fixar_gen.placement`'s *Halves*) a
buffer's base must keep its phase modulo 2H, so the rows skipped are rounded down to a
multiple of 2H words (at most 2H - 1 words more).

What a core touches (per program compiled with its transfers,
:func:`fixar_gen.compiler.compile_programs` with ``per_core_memories``): the regions
its instructions read and write (:func:`fixar_gen.core_traffic.regions`, the golden
model's operand rules; an operand those regions do not follow -- a constant, a
vector function's ``c``, a drain's slope -- whole), the host slot rows its ``load``
reads and its ``store`` writes, the region of every ``xfer`` it sends, and that of
every ``xfer`` it receives.  State and constants (:data:`fixar_gen.placement.KEPT_KINDS`,
kept between programs at the same offsets) take the union over the machine's programs,
by name; temporaries and slots are per program.

The host's rule: a host write (parameters, optimizer state, constants, the PRNG seed,
a slot's inputs) goes to every copy whose footprint holds the word; a host read takes
the word from the copy of the core that wrote it last (it is in that copy's
footprint).  A kept buffer no instruction of any program touches (the host writes it
and may read it back) is held whole by core 0's copy.  Other words no instruction
touches are in no copy's footprint unless they lie within rows a core holds (a weight's
padding column does); a temporary a core never touches takes no words in its copy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .core_traffic import regions
from .isa import Barrier, Halt, Load, Program, Store, Xfer
from .memory_kinds import (ACC_MEMORY, ACTIVATION_MEMORY, MEMORIES,
                           SLOT_MEMORY, WEIGHT_MEMORY, accumulator_half_line,
                           accumulator_stride, activation_banks, activation_stride,
                           memory_of, weight_stride)
from .placement import (KEPT_KINDS, Placement, accesses, barrier_epochs, pair_alignment,
                        place)

#: a copy holds whole rows of a buffer (today's address arithmetic: see the module)
WHOLE_ROWS = True

Box = tuple[int, int, int, int]          # rows r0 .. r1 - 1, columns c0 .. c1 - 1
Key = tuple[str, int]                    # ("buffer", id) or ("slot", index)


def _merge(a: Box | None, b: Box) -> Box:
    if a is None:
        return b
    return (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))


def _box(rows: slice, cols: slice) -> Box | None:
    if rows.stop <= rows.start or cols.stop <= cols.start:
        return None
    return (rows.start, rows.stop, cols.start, cols.stop)


def touched(ins, program: Program) -> list[tuple[int, Key, Box]]:
    """(core, what, rows x columns) of every region ``ins`` touches in some core's copy
    (see the module)."""
    if isinstance(ins, (Barrier, Halt)):
        return []
    out: list[tuple[int, Key, Box]] = []
    core = ins.core
    bufs = program.buffers

    def add(c: int, key: Key, box: Box | None) -> None:
        if box is not None:
            out.append((c, key, box))

    if isinstance(ins, Xfer):
        box = _box(ins.rows.slice, ins.cols.slice)
        for c in range(program.cores):
            if c == core or ins.to >> c & 1:
                add(c, ("buffer", ins.buf), box)
        return out
    reads, writes = regions(ins, program)
    followed = set()
    for buf, rows, cols in reads + writes:
        followed.add(buf)
        add(core, ("buffer", buf), _box(rows, cols))
    r, w = accesses(ins)
    for buf in sorted((r | w) - followed):          # constants, c, slope: whole
        add(core, ("buffer", buf), (0, bufs[buf].rows, 0, bufs[buf].cols))
    if isinstance(ins, Load):
        add(core, ("slot", ins.slot), _box(ins.rows.slice, slice(ins.src_col,
                                                                 ins.src_col + ins.cols.count)))
    elif isinstance(ins, Store):
        add(core, ("slot", ins.slot), _box(ins.rows.slice, slice(ins.dst_col,
                                                                 ins.dst_col + ins.cols.count)))
    return out


def program_boxes(program: Program) -> list[dict[Key, Box]]:
    """Per core: the bounding rows x columns of each buffer and slot it touches in
    ``program``."""
    out: list[dict[Key, Box]] = [{} for _ in range(max(program.cores, 1))]
    for ins in program.code:
        for core, key, box in touched(ins, program):
            out[core][key] = _merge(out[core].get(key), box)
    return out


def machine_boxes(programs: list[Program]) -> list[list[dict[Key, Box]]]:
    """Per program, per core: :func:`program_boxes`, with every kept buffer's
    (:data:`KEPT_KINDS`) box the union over ``programs`` by name."""
    each = [program_boxes(p) for p in programs]
    kept: dict[tuple[int, str], Box] = {}
    for p, boxes in zip(programs, each):
        for core, mine in enumerate(boxes):
            for (what, i), box in mine.items():
                if what == "buffer" and p.buffers[i].kind in KEPT_KINDS:
                    key = (core, p.buffers[i].name)
                    kept[key] = _merge(kept.get(key), box)
    touched_names = {name for _, name in kept}
    for p, boxes in zip(programs, each):
        for core, mine in enumerate(boxes):
            for i, b in enumerate(p.buffers):
                if b.kind not in KEPT_KINDS:
                    continue
                if (core, b.name) in kept:
                    mine[("buffer", i)] = kept[(core, b.name)]
                elif core == 0 and b.name not in touched_names:   # the host's alone
                    mine[("buffer", i)] = (0, b.rows, 0, b.cols)
    return each


@dataclass(frozen=True)
class Span:
    """The words of one buffer (or slot) a copy holds: ``words`` of its row-major words
    from ``skip`` on; the descriptor base in that copy is its offset minus ``skip``."""

    skip: int
    words: int
    #: with a descriptor row stride of its own: the stride, and the buffer's first
    #: column the copy holds (at its column 0)
    stride: int | None = None
    col0: int = 0


def span(box: Box | None, cols: int, align: int = 1, whole_rows: bool = WHOLE_ROWS) -> Span:
    """The words of a buffer of ``cols`` columns a copy needs for ``box`` (None: none):
    whole rows r0 .. r1 - 1 (``whole_rows``), or from (r0, c0) to (r1 - 1, c1 - 1);
    the words skipped rounded down to a multiple of ``align``."""
    if box is None:
        return Span(0, 0)
    r0, r1, c0, c1 = box
    first, end = (r0 * cols, r1 * cols) if whole_rows else (r0 * cols + c0,
                                                           (r1 - 1) * cols + c1)
    skip = first - first % align
    return Span(skip, end - skip)


@dataclass(frozen=True)
class CoreCopy:
    """One core's copy of the memories for one program: its placement (each buffer's
    offset and words in the copy) and the words skipped of each buffer and slot."""

    program: str
    core: int
    placement: Placement
    spans: dict[Key, Span]

    def descriptor_base(self, i: int, addr_bits: int | None = None) -> int:
        """Buffer ``i``'s descriptor base in this copy: its offset minus the words
        skipped (and, with a stride of its own, minus its first column), modulo
        2^``addr_bits`` when given (the descriptor's field)."""
        return self._base(self.placement.buffers[i].offset, ("buffer", i), addr_bits)

    def slot_base(self, k: int, addr_bits: int | None = None) -> int:
        return self._base(self.placement.slots[k].offset, ("slot", k), addr_bits)

    def _base(self, offset: int, key: Key, addr_bits: int | None) -> int:
        s = self.spans[key]
        base = offset - s.skip - s.col0
        return base % (1 << addr_bits) if addr_bits else base

    def row_stride(self, key: Key, cols: int) -> int:
        """The row stride the copy addresses ``key`` with (``cols``: the descriptor's
        columns, today's)."""
        return self.spans[key].stride or cols


def _strided(box: Box | None, memory: str, stride, align: int) -> Span:
    """The words of ``box`` in a copy whose descriptor has a row stride of its own,
    ``stride(memory, columns, rows)`` for the box's columns (its first column at
    column 0), the skip aligned as :func:`span`'s."""
    if box is None:
        return Span(0, 0)
    r0, r1, c0, c1 = box
    row = stride(memory, c1 - c0, r1 - r0)
    return replace(span((r0, r1, 0, c1 - c0), row, align), stride=row, col0=c0)


def copy_ranges(program: Program, core: int) -> list[tuple[int, int] | None]:
    """Per buffer id: the instructions (first, last pc) during which core ``core``'s copy
    must keep the buffer's words, or None (the copy's words of it are never touched):
    from the first to the last instruction that touches them in the copy, in the core's
    own order for its own instructions (a core runs one instruction at a time, so two
    buffers only it touches can take the same words one after the other between two
    barriers), and the whole barrier interval of an ``xfer`` another core writes into
    the copy (it lands at any time of the interval).  The shared placement's ranges
    (:func:`fixar_gen.placement.live_ranges`) cover whole barrier intervals for every
    buffer, since on shared memories the cores' instructions between two barriers may
    touch each other's buffers at any time."""
    epochs, spans = barrier_epochs(program)
    ranges: list[tuple[int, int] | None] = [None] * len(program.buffers)
    for pc, ins in enumerate(program.code):
        for c, (what, i), _ in touched(ins, program):
            if c != core or what != "buffer":
                continue
            lo, hi = (pc, pc) if ins.core == core else tuple(spans[epochs[pc]])
            r = ranges[i]
            ranges[i] = (lo, hi) if r is None else (min(r[0], lo), max(r[1], hi))
    return ranges


def core_copy(program: Program, core: int, boxes: dict[Key, Box],
              acc_half: int | None = None, whole_rows: bool = WHOLE_ROWS,
              stride=None, share: bool = True) -> CoreCopy:
    """Core ``core``'s copy for ``program``: every buffer and slot of the program placed
    as :func:`fixar_gen.placement.place` places them today (by memory, kind and
    lifetime, the *Halves* with ``acc_half``), each taking the words of its
    :func:`span`; with ``stride`` (``stride(memory, columns, rows)``: a row stride per
    buffer and core, a hardware change not made, see :func:`column_trimmed`) those of
    its bounding rows x columns at that stride (the spans' skips then count in it);
    ``share=False``: no two buffers share words (:func:`~fixar_gen.placement.place`'s,
    for a program without the compiler's placement)."""
    spans: dict[Key, Span] = {}
    for i, b in enumerate(program.buffers):
        box, memory = boxes.get(("buffer", i)), memory_of(b)
        align = pair_alignment(memory, acc_half)
        spans[("buffer", i)] = _strided(box, memory, stride, align) if stride else \
            span(box, b.cols, align, whole_rows)
    for k, s in enumerate(program.slots):
        box = boxes.get(("slot", k))
        spans[("slot", k)] = _strided(box, SLOT_MEMORY, lambda m, w, r: w, 1) if stride \
            else span(box, s.cols, 1, whole_rows)
    placement = place(program, share=share, acc_half=acc_half,
                      extent=lambda what, i: spans[(what, i)].words,
                      ranges=copy_ranges(program, core) if share else None)
    return CoreCopy(program.name, core, placement, spans)


def machine_copies(programs: list[Program], acc_half: int | None = None,
                   whole_rows: bool = WHOLE_ROWS, stride=None) -> list[list[CoreCopy]]:
    """Per program of one machine, per core: its :class:`CoreCopy` (``stride``: see
    :func:`core_copy`; a program without the compiler's placement placed with
    ``share=False``)."""
    return [[core_copy(p, c, mine, acc_half, whole_rows, stride,
                       share=p.placement is not None)
             for c, mine in enumerate(boxes)]
            for p, boxes in zip(programs, machine_boxes(programs))]


def words_per_core(copies: list[list[CoreCopy]]) -> list[dict[str, tuple[int, int]]]:
    """Per core, per memory: (words, width) its copy needs over the programs (the
    most any program needs, as :func:`fixar_gen.hw.design.config_for` sizes today's
    shared memories)."""
    cores = max(len(row) for row in copies)
    out: list[dict[str, tuple[int, int]]] = [{} for _ in range(cores)]
    for row in copies:
        for copy in row:
            need = out[copy.core]
            for m in copy.placement.memories:
                words, bits = need.get(m.name, (0, 1))
                need[m.name] = (max(words, m.words), max(bits, m.width))
    return [{m: need[m] for m in MEMORIES if m in need} for need in out]


def tight_stride(memory: str, cols: int, rows: int) -> int:
    """A row stride of exactly the columns a core touches (no bank padding)."""
    return cols


def banked_stride(rows: int, cols: int, lanes: int):
    """The row stride rule of the compiler's padded buffers, applied to every buffer of
    more than one row in those memories: ``wmem`` :func:`weight_stride` (its 2H
    banks), ``cmem`` :func:`accumulator_stride`, ``amem`` :func:`activation_stride`
    (4P banks) -- an upper side: the compiler pads only the buffers the matrix unit
    reads so."""
    half = accumulator_half_line(cols, lanes)
    a_banks = activation_banks(rows, cols, lanes)

    def rule(memory: str, width: int, buffer_rows: int) -> int:
        if buffer_rows <= 1 or width < 1:
            return width
        if memory == WEIGHT_MEMORY:
            return weight_stride(width, 2 * half)
        if memory == ACC_MEMORY:
            return accumulator_stride(width, half)
        if memory == ACTIVATION_MEMORY:
            return activation_stride(width, a_banks, rows)
        return width
    return rule


def column_trimmed(programs: list[Program], acc_half: int | None = None,
                   stride=tight_stride) -> list[dict[str, int]]:
    """Per core, per memory: the words its copy would need with a descriptor row stride
    of its own (each buffer's bounding rows x columns at ``stride``: :func:`tight_stride`
    a lower bound, :func:`banked_stride` with the banks' padding; modeled for a hardware
    change not made)."""
    copies = machine_copies(programs, acc_half, stride=stride)
    return [{m: w for m, (w, _) in need.items()} for need in words_per_core(copies)]
