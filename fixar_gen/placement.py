"""Buffer placement by lifetime: where each buffer of a program lives in the scratchpad.

A :class:`Placement` is data -- one :class:`Placed` per buffer of the program's table
(offset and size in scratchpad words, kind, live range) -- computed once by
:func:`place` when the compiler emits a program, printed by ``fixar compile
--placement``, and used by everything that addresses memory: the host
(:mod:`fixar_gen.hw.host` writes each buffer's offset into the core's descriptor
table), and the golden model (:mod:`fixar_gen.golden` refuses a program that reads a
buffer whose words another buffer has overwritten since).

Rules
    *Pinned* buffers live through the whole program and between programs, at the
    start of the scratchpad: every buffer of a kept kind (:data:`KEPT_KINDS`:
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

The placement assumes what the core does today: one instruction at a time per core,
every operand read before the destination is written.  A core that overlapped
instructions would need its hazard checks on address ranges, not buffer ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from . import ops
from .isa import (NO_BUFFER, VECTOR_FUNCTIONS, Barrier, Buffer, Drain, Instruction, Load,
                  MatMul, Program, Store, Vector)

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
    """One buffer's words: ``offset .. offset + size - 1``, live from instruction
    ``first`` to ``last`` (pc, inclusive; ``first == ENTRY``: live on entry and after
    the program; ``first is None``: never touched)."""

    name: str
    offset: int
    size: int
    kind: str
    first: int | None
    last: int | None

    @property
    def pinned(self) -> bool:
        return self.first == ENTRY

    @property
    def end(self) -> int:
        return self.offset + self.size

    def shares_words_with(self, other: "Placed") -> bool:
        return self.size > 0 and other.size > 0 and self.offset < other.end \
            and other.offset < self.end

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
    """Every buffer of one program, in the order of its buffer table."""

    buffers: tuple[Placed, ...]
    words: int            # scratchpad words the program's buffers need
    pinned_words: int     # of which pinned (the start of the scratchpad)
    shared: bool          # False: every buffer has words of its own

    def __getitem__(self, name: str) -> Placed:
        for p in self.buffers:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def unshared_words(self) -> int:
        """What the same buffers take with no sharing."""
        return sum(p.size for p in self.buffers)

    @cached_property
    def sharing(self) -> tuple[tuple[int, ...], ...]:
        """Per buffer (table order): the indices of the buffers that share a word with
        it (computed once per placement)."""
        order = sorted((p.offset, i) for i, p in enumerate(self.buffers) if p.size)
        out: list[list[int]] = [[] for _ in self.buffers]
        open_: list[int] = []
        for _, i in order:
            p = self.buffers[i]
            open_ = [j for j in open_ if self.buffers[j].end > p.offset]
            for j in open_:
                out[i].append(j)
                out[j].append(i)
            open_.append(i)
        return tuple(tuple(sorted(x)) for x in out)


def _kind_rank(b: Buffer) -> int:
    return KEPT_KINDS.index(b.kind) if b.kind in KEPT_KINDS else len(KEPT_KINDS)


def live_ranges(program: Program) -> tuple[list[tuple[int, int] | None], set[int], bool]:
    """Per buffer id: (first pc, last pc) of the instructions that may touch it while it
    is live (whole barrier intervals on several cores) or None; the ids read before
    they are written (live on entry); and whether ranges may be shared at all."""
    code = program.code
    n = len(program.buffers)
    full = (1 << program.cores) - 1
    epoch_of_core = [0] * max(program.cores, 1)
    epochs: list[int] = []
    regular = True
    for ins in code:
        epochs.append(epoch_of_core[ins.core] if ins.core < program.cores else 0)
        if isinstance(ins, Barrier):
            if ins.mask & full != full:
                regular = False
            if ins.core < program.cores:
                epoch_of_core[ins.core] += 1
    if program.cores > 1:
        spans: dict[int, list[int]] = {}
        for pc, e in enumerate(epochs):
            s = spans.setdefault(e, [pc, pc])
            s[0], s[1] = min(s[0], pc), max(s[1], pc)
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


def place(program: Program, share: bool = True) -> Placement:
    """The placement of ``program``'s buffers (``share=False``: every buffer pinned,
    in table order; what programs that are not the compiler's get)."""
    buffers = program.buffers
    if not share:
        out, top = [], 0
        for b in buffers:
            out.append(Placed(b.name, top, b.rows * b.cols, b.kind, ENTRY, ENTRY))
            top += b.rows * b.cols
        return Placement(tuple(out), top, top, False)
    ranges, live_in, regular = live_ranges(program)
    pinned = [i for i, b in enumerate(buffers)
              if b.kind in KEPT_KINDS or i in live_in or not regular]
    placed: dict[int, Placed] = {}
    top = 0
    for i in sorted(pinned, key=lambda i: (_kind_rank(buffers[i]), i)):
        b = buffers[i]
        placed[i] = Placed(b.name, top, b.rows * b.cols, b.kind, ENTRY, ENTRY)
        top += b.rows * b.cols
    base = top
    pinned_set = set(pinned)
    temps = [i for i in range(len(buffers)) if i not in pinned_set]
    # largest first (then earliest): the classic greedy for sizes with lifetimes
    temps.sort(key=lambda i: (-(buffers[i].rows * buffers[i].cols),
                              ranges[i][0] if ranges[i] else -1, i))
    done: list[Placed] = []
    for i in temps:
        b, r = buffers[i], ranges[i]
        size = b.rows * b.cols
        first, last = (r if r is not None else (None, None))
        me = Placed(b.name, base, size, b.kind, first, last)
        busy = sorted((p.offset, p.end) for p in done if p.live_overlaps(me) and p.size)
        offset = base
        for lo, hi in busy:
            if offset + size <= lo:
                break
            offset = max(offset, hi)
        me = Placed(b.name, offset, size, b.kind, first, last)
        done.append(me)
        placed[i] = me
        top = max(top, me.end)
    return Placement(tuple(placed[i] for i in range(len(buffers))), top, base, regular)


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


def table(program: Program, placement: Placement | None = None) -> str:
    """The placement as readable lines (``fixar compile --placement``)."""
    placement = placement or program.placement or place(program)
    lines = [f"; placement of {program.name}: {placement.words:,} words "
             f"({placement.pinned_words:,} pinned, "
             f"{placement.words - placement.pinned_words:,} shared by temporaries; "
             f"{placement.unshared_words:,} without sharing)",
             f";   {'offset':>9} {'words':>8}  {'live':<12} {'kind':<8} buffer"]
    for p in sorted(placement.buffers, key=lambda p: (p.offset, p.name)):
        lines.append(f";   {p.offset:>9,} {p.size:>8,}  {p.live:<12} {p.kind:<8} {p.name}")
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
