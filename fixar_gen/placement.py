"""Buffer placement by memory and lifetime: in which on-chip memory each buffer of a
program lives, and at which words of it.

A :class:`Placement` is data -- one :class:`Placed` per buffer of the program's table
(memory, offset and size in that memory's words, kind, live range) and one
:class:`Memory` per memory (word width, words, pinned words, and its base in the one
scratchpad the core has today) -- computed once by :func:`place` when the compiler
emits a program, printed by ``fixar compile --placement``, and used by everything that
addresses memory: the host (:mod:`fixar_gen.hw.host` writes each buffer's address,
:meth:`Placement.address`, into the core's descriptor table), and the golden model and
the engine (they refuse a program that reads a buffer whose words another buffer has
overwritten since).

Memories (:mod:`fixar_gen.memory_kinds`: :data:`MEMORIES`, :func:`memory_of`;
docs/hardware.md, "Plan: per-kind banked synchronous memories")
    ``wmem`` parameters and target parameters (``param``); ``mmem`` the optimizer's
    first state (Adam's m, momentum) and ``vmem`` Adam's second (the ``state`` buffers
    named ``*.s``, sqrt(v)), so that Adam's steps read w, g, m and v from four
    memories; ``gmem`` the parameters' gradients (``grad``); ``amem`` activations,
    deltas and the other ``data`` buffers (the host's inputs, ``c.ones``) and the host
    slots (after its pinned buffers; live through the program); ``cmem``
    the matrix unit's accumulators (``acc``); ``smem`` the small ones: constants, PRNG
    lanes, range monitors and the OU state (``const``, ``prng``, ``monitor``).  A
    memory's word is the widest value stored in it (:func:`stored_width`: an unsigned
    format takes a bit more, since reads sign-extend); ``cmem``'s is the widest
    accumulator (the core keeps its partial sums in datapath words, see
    :attr:`Memory.word_wide`).  Buffers of different memories never share words.

    The core has one data memory per memory (:mod:`fixar_gen.hw.data_memories`, at
    the width and depth :func:`fixar_gen.hw.design.config_for` gives it): a buffer's
    descriptor names its memory and its offset there.  :attr:`Memory.base` and
    :meth:`Placement.address` lay the memories end to end in :data:`MEMORIES` order,
    a single address space for the tools that count words (the memories that hold
    only pinned buffers of fixed size come first, so the parameters' addresses are
    the same in every program of a spec); the hardware does not use it.

Rules (within each memory)
    *Pinned* buffers live through the whole program and between programs, at the
    start of their memory: every buffer of a kept kind (:data:`KEPT_KINDS`:
    parameters, optimizer state, constants, PRNG lanes, monitors) and every other
    buffer the program reads before it writes it (live on entry, e.g. the ``c.ones``
    column the host writes before an update).  They are laid out by kind, then in
    table order, so the programs of one spec put its parameters at the same offsets.

    *Temporary* buffers (activations, gradients, accumulators) live from the first to
    the last instruction that touches them, and two of them share words only when
    their live ranges do not overlap.  On one core the range is in instructions (a
    core finishes an instruction before it fetches the next); with several cores,
    instructions between the same two barriers may run at the same time, so a range
    covers whole barrier intervals.  Programs whose barriers do not synchronise every
    core get no sharing.  A temporary the program never touches shares the words of
    the others (its contents are undefined, as are every temporary's between
    programs).

    *Halves* (``acc_half`` H given: the 2H banks of ``cmem`` and ``wmem``,
    docs/hardware.md "The accumulators in banks", "The weights in banks"): every buffer
    of those memories starts at a multiple of 2H, and one that is a pair's other line
    (:func:`acc_add_phases`: acc_add's second operand, soft_update's target) at H past
    one, so that a pair's two lines of a step fall into the two halves of the banks.

The placement assumes what the core does today: one instruction at a time per core,
every operand read before the destination is written.  A core that overlapped
instructions would need its hazard checks on address ranges, not buffer ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from . import ops
from .isa import (NO_BUFFER, VECTOR_FUNCTIONS, Barrier, Buffer, Drain, Instruction, Load,
                  MatMul, Program, Store, Vector, Xfer)
from .memory_access import pair_memory
from .memory_kinds import (ACC_MEMORY, MEMORIES, MEMORY_ROLES, PAIRED_MEMORIES, SLOT_MEMORY,
                           TARGET_PREFIX, WEIGHT_MEMORY, Memory, memory_of, slot_widths,
                           stored_width)

#: kinds whose contents outlive a program (the host writes or reads them)
KEPT_KINDS = ("param", "state", "const", "prng", "monitor")
#: vector functions that read their destination (update in place)
READS_DST = ops.names(reads_dst=True)
#: vector functions that also write operand b (the PRNG lanes) or e (the OU state)
WRITES_B = ops.writing("b")
WRITES_E = ops.writing("e")

ENTRY = -1          # ``Placed.first`` of a buffer live on entry


def accesses(ins: Instruction) -> tuple[set[int], set[int]]:
    """(buffer ids read, buffer ids written) by one instruction."""
    reads: set[int] = set()
    writes: set[int] = set()
    if isinstance(ins, Load):
        writes.add(ins.dst)
    elif isinstance(ins, Store):
        reads.add(ins.src)
    elif isinstance(ins, MatMul):
        reads |= {ins.a, ins.b}
        writes.add(ins.dst)
        if ins.accumulate:
            reads.add(ins.dst)
    elif isinstance(ins, Drain):
        reads |= {ins.acc, ins.bias, ins.slope}
        writes.add(ins.dst)
    elif isinstance(ins, Xfer):          # the sender's words (each copy has its own)
        reads.add(ins.buf)
    elif isinstance(ins, Vector):
        fn = VECTOR_FUNCTIONS[ins.fn]
        reads |= {ins.a, ins.b, ins.c, ins.e}
        writes.add(ins.dst)
        if fn in READS_DST:
            reads.add(ins.dst)
        if fn in WRITES_B:
            writes.add(ins.b)
        if fn in WRITES_E:
            writes.add(ins.e)
    reads.discard(NO_BUFFER)
    writes.discard(NO_BUFFER)
    return reads, writes


@dataclass(frozen=True)
class Placed:
    """One buffer's words: ``offset .. offset + size - 1`` of ``memory``, live from
    instruction ``first`` to ``last`` (pc, inclusive; ``first == ENTRY``: live on entry
    and after the program; ``first is None``: never touched)."""

    name: str
    offset: int
    size: int
    kind: str
    first: int | None
    last: int | None
    memory: str = "amem"

    @property
    def pinned(self) -> bool:
        return self.first == ENTRY

    @property
    def end(self) -> int:
        return self.offset + self.size

    def shares_words_with(self, other: "Placed") -> bool:
        return self.memory == other.memory and self.size > 0 and other.size > 0 \
            and self.offset < other.end and other.offset < self.end

    def live_overlaps(self, other: "Placed") -> bool:
        if self.first is None or other.first is None:
            return False
        if self.pinned or other.pinned:
            return True
        return self.first <= other.last and other.first <= self.last

    @property
    def live(self) -> str:
        if self.first is None:
            return "unused"
        if self.pinned:
            return "pinned"
        return f"{self.first}..{self.last}"


@dataclass(frozen=True)
class Placement:
    """Every buffer of one program, in the order of its buffer table, and the memories
    they live in (in :data:`MEMORIES` order, only those the program uses)."""

    buffers: tuple[Placed, ...]
    words: int            # words the program's buffers and host slots need (all memories)
    pinned_words: int     # of which pinned (the start of each memory)
    shared: bool          # False: every buffer has words of its own
    memories: tuple[Memory, ...] = ()
    slots: tuple[Placed, ...] = ()     # the host slots (in ``amem``, pinned)

    def __getitem__(self, name: str) -> Placed:
        for p in self.buffers:
            if p.name == name:
                return p
        raise KeyError(name)

    def memory(self, name: str) -> Memory:
        for m in self.memories:
            if m.name == name:
                return m
        raise KeyError(name)

    @cached_property
    def _bases(self) -> dict[str, int]:
        return {m.name: m.base for m in self.memories}

    def address(self, p: Placed) -> int:
        """``p``'s first word with the memories laid end to end: its memory's base plus
        its offset (a placement without memories: the offset)."""
        return self._bases.get(p.memory, 0) + p.offset

    @property
    def unshared_words(self) -> int:
        """What the same buffers and slots take with no sharing."""
        return sum(p.size for p in self.buffers) + sum(p.size for p in self.slots)

    @cached_property
    def sharing(self) -> tuple[tuple[int, ...], ...]:
        """Per buffer (table order): the indices of the buffers that share a word with
        it (computed once per placement)."""
        order = sorted((p.memory, p.offset, i) for i, p in enumerate(self.buffers) if p.size)
        out: list[list[int]] = [[] for _ in self.buffers]
        open_: list[int] = []
        for _, _, i in order:
            p = self.buffers[i]
            open_ = [j for j in open_ if self.buffers[j].memory == p.memory
                     and self.buffers[j].end > p.offset]
            for j in open_:
                out[i].append(j)
                out[j].append(i)
            open_.append(i)
        return tuple(tuple(sorted(x)) for x in out)


def _kind_rank(b: Buffer) -> int:
    return KEPT_KINDS.index(b.kind) if b.kind in KEPT_KINDS else len(KEPT_KINDS)


def barrier_epochs(program: Program) -> tuple[list[int], dict[int, list[int]]]:
    """Per instruction its barrier interval (how many barriers its core passed before
    it), and per interval its first and last pc over every core."""
    epoch_of_core = [0] * max(program.cores, 1)
    epochs: list[int] = []
    for ins in program.code:
        epochs.append(epoch_of_core[ins.core] if ins.core < program.cores else 0)
        if isinstance(ins, Barrier) and ins.core < program.cores:
            epoch_of_core[ins.core] += 1
    spans: dict[int, list[int]] = {}
    for pc, e in enumerate(epochs):
        s = spans.setdefault(e, [pc, pc])
        s[0], s[1] = min(s[0], pc), max(s[1], pc)
    return epochs, spans


def live_ranges(program: Program) -> tuple[list[tuple[int, int] | None], set[int], bool]:
    """Per buffer id: (first pc, last pc) of the instructions that may touch it while it
    is live (whole barrier intervals on several cores) or None; the ids read before
    they are written (live on entry); and whether ranges may be shared at all."""
    code = program.code
    n = len(program.buffers)
    full = (1 << program.cores) - 1
    epochs, spans = barrier_epochs(program)
    regular = not any(isinstance(ins, Barrier) and ins.mask & full != full for ins in code)
    if program.cores > 1:
        ordered = [spans[e] for e in sorted(spans)]
        if any(a[1] >= b[0] for a, b in zip(ordered, ordered[1:])):
            regular = False
        window = [tuple(spans[e]) for e in epochs]
    else:
        window = [(pc, pc) for pc in range(len(code))]
    ranges: list[tuple[int, int] | None] = [None] * n
    first_write_epoch = [None] * n
    first_write_pc: list[dict[int, int]] = [dict() for _ in range(n)]
    live_in: set[int] = set()
    for pc, ins in enumerate(code):
        reads, writes = accesses(ins)
        for i in reads:
            fw = first_write_epoch[i]
            covered = (fw is not None and fw < epochs[pc]) or \
                first_write_pc[i].get(ins.core, len(code)) < pc
            if not covered:
                live_in.add(i)
        for i in writes:
            if first_write_epoch[i] is None:
                first_write_epoch[i] = epochs[pc]
            first_write_pc[i].setdefault(ins.core, pc)
        for i in reads | writes:
            lo, hi = window[pc]
            r = ranges[i]
            ranges[i] = (lo, hi) if r is None else (min(r[0], lo), max(r[1], hi))
    return ranges, live_in, regular



def acc_add_phases(program: Program) -> dict[int, int]:
    """{buffer id: 1} for the buffers that go to the second half of the banks of
    ``cmem`` or ``wmem`` (``PAIRED_MEMORIES``), so that a pair's two lines of a step
    (:func:`fixar_gen.memory_access.pair_memory`) are one double line: in ``cmem`` the
    second operand (``a``) of a pair (acc_add's other core's partial sums); in ``wmem``
    the destination of a pair (soft_update's target) and every target parameter
    (``TARGET_PREFIX``), so that the parameters keep their words in every program of a
    spec."""
    out = {i: 1 for i, b in enumerate(program.buffers)
           if memory_of(b) == WEIGHT_MEMORY and b.name.startswith(TARGET_PREFIX)}
    for ins in program.code:
        mem = pair_memory(ins, program)
        if mem == ACC_MEMORY:
            out[ins.a] = 1
        elif mem == WEIGHT_MEMORY:
            out[ins.dst] = 1
    return out


def pair_alignment(memory: str, acc_half: int | None) -> int:
    """The words a buffer's offset in ``memory`` is aligned to: 2H (a whole line of the
    banks, ``acc_half`` = H) in the memories served a double line a step
    (``PAIRED_MEMORIES``), else 1."""
    return 2 * acc_half if acc_half and memory in PAIRED_MEMORIES else 1


def _aligned(offset: int, phase: int, step: int) -> int:
    """The least word >= ``offset`` that is ``phase`` mod ``step``."""
    return offset + (phase - offset) % step


def place(program: Program, share: bool = True, acc_half: int | None = None,
          memory=memory_of, extent=None, ranges=None) -> Placement:
    """The placement of ``program``'s buffers, each in its memory (:func:`memory_of`;
    ``memory``: another rule, to measure a placement the core does not have)
    (``share=False``: every buffer pinned, in table order; what programs that are not
    the compiler's get).  ``acc_half``: H of the core's ``cmem`` (the module's
    *Halves*); without it buffers are packed with no alignment.  ``extent``: words
    each buffer and host slot takes, ``extent("buffer" | "slot", index)`` (default: its
    rows x columns); :mod:`fixar_gen.core_footprint` places one core's copy of the
    memories with the words that core touches.  ``ranges``: per buffer id the live range
    of its temporary words (first, last pc) or None, instead of :func:`live_ranges`'
    (a core's copy: :func:`fixar_gen.core_footprint.copy_ranges`); which buffers are
    pinned is :func:`live_ranges`' in either case."""
    buffers = program.buffers

    def size_of(i: int) -> int:
        return extent("buffer", i) if extent else buffers[i].rows * buffers[i].cols

    def slot_size(k: int) -> int:
        s = program.slots[k]
        return extent("slot", k) if extent else s.rows * s.cols
    halves = acc_add_phases(program) if acc_half else {}

    def align(i: int, mem: str, offset: int) -> int:
        step = pair_alignment(mem, acc_half)
        return offset if step == 1 else _aligned(offset, acc_half * halves.get(i, 0), step)

    if share:
        shared_ranges, live_in, regular = live_ranges(program)
        ranges = shared_ranges if ranges is None else ranges
    else:
        ranges, live_in, regular = [None] * len(buffers), set(), False
    pinned = {i for i, b in enumerate(buffers)
              if b.kind in KEPT_KINDS or i in live_in or not regular}
    placed: dict[int, Placed] = {}
    tops: dict[str, int] = {}          # per memory: words placed so far
    order = sorted(pinned, key=lambda i: (_kind_rank(buffers[i]), i)) if share \
        else sorted(pinned)
    for i in order:
        b = buffers[i]
        mem = memory(b)
        top = align(i, mem, tops.get(mem, 0))
        placed[i] = Placed(b.name, top, size_of(i), b.kind, ENTRY, ENTRY, mem)
        tops[mem] = top + size_of(i)
    # the host slots: live through the program, after amem's pinned buffers
    slots = []
    for k, s in enumerate(program.slots):
        top = tops.get(SLOT_MEMORY, 0)
        slots.append(Placed(s.name, top, slot_size(k), "slot", ENTRY, ENTRY, SLOT_MEMORY))
        tops[SLOT_MEMORY] = top + slot_size(k)
    pinned_tops = dict(tops)
    temps = [i for i in range(len(buffers)) if i not in pinned]
    # largest first (then earliest): the classic greedy for sizes with lifetimes
    temps.sort(key=lambda i: (-size_of(i), ranges[i][0] if ranges[i] else -1, i))
    done: dict[str, list[Placed]] = {}
    for i in temps:
        b, r = buffers[i], ranges[i]
        mem = memory(b)
        base = pinned_tops.get(mem, 0)
        size = size_of(i)
        first, last = (r if r is not None else (None, None))
        me = Placed(b.name, base, size, b.kind, first, last, mem)
        busy = sorted((p.offset, p.end) for p in done.get(mem, ())
                      if p.live_overlaps(me) and p.size)
        offset = align(i, mem, base)
        for lo, hi in busy:
            if offset + size <= lo:
                break
            offset = align(i, mem, max(offset, hi))
        me = Placed(b.name, offset, size, b.kind, first, last, mem)
        done.setdefault(mem, []).append(me)
        placed[i] = me
        tops[mem] = max(tops.get(mem, 0), me.end)
    widths: dict[str, int] = {}
    for b in buffers:
        widths[memory(b)] = max(widths.get(memory(b), 1), stored_width(b))
    if program.slots:
        widths[SLOT_MEMORY] = max(widths.get(SLOT_MEMORY, 1), *slot_widths(program))
    memories, base = [], 0
    for mem in MEMORIES:
        if mem not in widths:
            continue
        words = tops.get(mem, 0)
        memories.append(Memory(mem, widths[mem], words, pinned_tops.get(mem, 0), base,
                               word_wide=mem == "cmem"))
        base += words
    return Placement(tuple(placed[i] for i in range(len(buffers))), base,
                     sum(pinned_tops.values()), regular, tuple(memories), tuple(slots))


def conflicts(placement: Placement) -> list[tuple[str, str]]:
    """Pairs of buffers that share words while both are live (empty when the placement
    is sound)."""
    out = []
    items = placement.buffers
    for i, p in enumerate(items):
        for q in items[i + 1:]:
            if p.shares_words_with(q) and p.live_overlaps(q):
                out.append((p.name, q.name))
    return out


def table(program: Program, placement: Placement | None = None,
          word: int | None = None) -> str:
    """The placement as readable lines (``fixar compile --placement``): the totals, one
    line per memory, one per buffer.  ``word``: the core's datapath word (the width of
    ``cmem``'s entries); without it, ``cmem`` counts at its widest accumulator."""
    placement = placement or program.placement or place(program)
    bits = sum(m.bits(word) for m in placement.memories)
    lines = [f"; placement of {program.name}: {placement.words:,} words "
             f"({placement.pinned_words:,} pinned, "
             f"{placement.words - placement.pinned_words:,} shared by temporaries; "
             f"{placement.unshared_words:,} without sharing), "
             f"{bits:,} bits ({bits / 1e6:,.1f} Mbit) in {len(placement.memories)} memories",
             f";   {'memory':<6} {'width':>5} {'words':>10} {'pinned':>10} "
             f"{'Mbit':>8}  {'base':>10}  holds"]
    for m in placement.memories:
        width = word if m.word_wide and word else m.width
        lines.append(f";   {m.name:<6} {width:>5} {m.words:>10,} {m.pinned_words:>10,} "
                     f"{m.bits(word) / 1e6:>8,.2f}  {m.base:>10,}  {MEMORY_ROLES[m.name]}")
    lines.append(f";   {'memory':<6} {'offset':>9} {'words':>8}  {'live':<12} {'kind':<8} buffer")
    rank = {name: i for i, name in enumerate(MEMORIES)}
    for p in sorted(placement.buffers + placement.slots,
                    key=lambda p: (rank.get(p.memory, len(rank)), p.offset, p.name)):
        lines.append(f";   {p.memory:<6} {p.offset:>9,} {p.size:>8,}  {p.live:<12} "
                     f"{p.kind:<8} {p.name}")
    return "\n".join(lines)


class Occupancy:
    """Whose words hold what during a run: executors that keep buffers by name (the
    golden model) follow the placement with it, so a program that reads a buffer
    after another buffer has overwritten its words is refused, as the hardware would
    read the other buffer's values.  At entry only pinned buffers hold their values
    (``stale``: names whose words are known to be overwritten)."""

    def __init__(self, program: Program, stale: set[str] = frozenset()):
        placed = program.placement.buffers
        self.names = [p.name for p in placed]
        self.sharing = program.placement.sharing
        self.intact = [p.pinned and p.name not in stale for p in placed]
        self.overwriter: dict[int, str] = {}

    def step(self, pc: int, ins: Instruction) -> str | None:
        """Account for one instruction; the reason it reads words it does not own, or
        None."""
        reads, writes = accesses(ins)
        for i in sorted(reads):
            if not self.intact[i]:
                by = self.overwriter.get(i)
                why = f"{by} has overwritten its words" if by else \
                    "it is not written before in this program and not pinned"
                return f"instruction {pc} reads {self.names[i]}, but {why} (placement)"
        for i in writes:
            self.intact[i] = True
            self.overwriter.pop(i, None)
            for j in self.sharing[i]:
                self.intact[j] = False
                self.overwriter[j] = self.names[i]
        return None

    def stale(self) -> set[str]:
        return {n for n, ok in zip(self.names, self.intact) if not ok}
