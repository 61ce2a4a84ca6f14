"""The transfers of per-core memories: a compiler pass that inserts ``xfer``.

With per-core memories (issue 12) each core holds its own copy of the address space
and reads and writes only that copy; whatever one core wrote and another reads must be
*pushed* by the writer with an ``xfer`` (:class:`fixar_gen.isa.Xfer`).  This pass
finds those words with :mod:`fixar_gen.core_traffic`'s regions (the golden model's
operand rules) and inserts the transfers:

- *Inside a program*: a word that core r reads and core w wrote last (w != r, and r's
  copy does not hold that value yet) is pushed by w at the barrier that ends the
  interval of w's write: ``barrier; xfer ...; barrier`` (a new barrier after the
  transfers, so that every receiver is idle and its memory's write port free while
  they run).  A word is pushed once per write, to every core that reads it before it
  is written again.
- *Across programs*: state that outlives a program (``core_traffic.PERSISTENT_KINDS``:
  parameters, optimizer state, the PRNG, monitors) is pushed by the program that
  writes it, at its end (``barrier; xfer ...`` before the halts), to every core that
  reads the word at the start of any program of the set (before that program writes
  it).  Then at every program boundary each such reader holds the current value,
  whatever the order the host runs the programs of the set in, and how often: the
  writer knows its words at its end, while the next program's sender would depend on
  which program ran before.  The host writes state into every copy
  (:mod:`fixar_gen.percore`).
- Temporaries start each program held by no core: a read of a temporary word no core
  of the program wrote is not served (the compiler does not emit one;
  :class:`fixar_gen.percore.PerCoreMachine` refuses it).

On three or more cores the senders of one barrier point take turns, a barrier group
between them, so that no receiver takes two senders' lines at once.

Regions are whole rows x column ranges: per sender, buffer and set of receivers, the
words in runs along each row, rows with the same runs merged into one instruction.
The cover is exact: no word moves that no receiver needs.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from .core_traffic import PERSISTENT_KINDS, regions
from .isa import Barrier, Halt, Instruction, Program, Range, Store, Xfer
from .placement import place

#: the interval index of the transfers at a program's end (after its last barrier)
END = -1
#: cycles from an ``xfer``'s last line read to its last word written in the receiver:
#: the sender's synchronous read and its word register, two registers on the link
#: across the SLR boundary (:func:`fixar_gen.hw.core._link`), the receiver's write
XFER_LATENCY = 4


@dataclass
class Transfers:
    """What the pass inserted into one program (or a sum of programs)."""

    instructions: int = 0
    words: int = 0              # words written into receivers (a word to two: two)
    barriers: int = 0           # barrier groups added
    by_kind: dict = field(default_factory=lambda: defaultdict(int))

    def add(self, other: "Transfers") -> None:
        self.instructions += other.instructions
        self.words += other.words
        self.barriers += other.barriers
        for k, n in other.by_kind.items():
            self.by_kind[k] += n


def transfers_of(program: Program) -> Transfers:
    """The transfers a program has (words counted per receiver)."""
    out = Transfers()
    for ins in program.code:
        if isinstance(ins, Xfer):
            receivers = bin(ins.to & ~(1 << ins.core)).count("1")
            words = ins.rows.count * ins.cols.count * receivers
            out.instructions += 1
            out.words += words
            out.by_kind[program.buffers[ins.buf].kind] += words
    return out


def entry_readers(programs: list[Program]) -> dict[str, np.ndarray]:
    """Per persistent buffer name, per word, the cores (bit c) that read the word in
    some program of ``programs`` before that program writes it."""
    out: dict[str, np.ndarray] = {}
    for program in programs:
        written: dict[int, np.ndarray] = {}
        for i, b in enumerate(program.buffers):
            if b.kind in PERSISTENT_KINDS:
                if b.name not in out or out[b.name].shape != (b.rows, b.cols):
                    out[b.name] = np.zeros((b.rows, b.cols), np.int32)
                written[i] = np.zeros((b.rows, b.cols), bool)
        for ins in program.code:
            if isinstance(ins, (Barrier, Halt, Xfer)):
                continue
            reads, writes = regions(ins, program)
            for buf, rows, cols in reads:
                if buf in written:
                    name = program.buffers[buf].name
                    fresh = ~written[buf][rows, cols]
                    out[name][rows, cols] |= np.where(fresh, 1 << ins.core, 0).astype(np.int32)
            for buf, rows, cols in writes:
                if buf in written:
                    written[buf][rows, cols] = True
    return out


def _barrier_points(program: Program) -> tuple[list[int], list[int]]:
    """(interval of each instruction, pc after each barrier group): interval k ends at
    barrier group k.  Barriers must come in groups of one per core with every core in
    the mask (as :meth:`fixar_gen.compiler.Emitter.barrier` emits them)."""
    full = (1 << program.cores) - 1
    interval, after = [], []
    k, pending = 0, set()
    for pc, ins in enumerate(program.code):
        interval.append(k)
        if isinstance(ins, Barrier):
            if ins.mask & full != full or ins.core in pending:
                raise ValueError(f"{program.name}: instruction {pc}: transfers need "
                                 "barriers of every core, one group at a time")
            pending.add(ins.core)
            if len(pending) == program.cores:
                pending = set()
                after.append(pc + 1)
                k += 1
        elif pending:
            raise ValueError(f"{program.name}: instruction {pc} splits a barrier group")
    return interval, after


def _cover(mask: np.ndarray) -> list[tuple[Range, Range]]:
    """Rectangles (rows, cols) covering the True words of ``mask`` exactly: runs along
    each row, consecutive rows with the same runs merged."""
    out = []
    open_: dict[tuple[int, int], int] = {}       # run -> first row
    for r in range(mask.shape[0] + 1):
        runs = set()
        if r < mask.shape[0]:
            row = np.concatenate(([False], mask[r], [False])).astype(np.int8)
            edges = np.flatnonzero(np.diff(row))
            runs = {(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])}
        for run in list(open_):
            if run not in runs:
                first = open_.pop(run)
                out.append((Range(first, r - first), Range(run[0], run[1] - run[0])))
        for run in runs:
            open_.setdefault(run, r)
    return sorted(out, key=lambda rc: (rc[0].start, rc[1].start))


def _plan(program: Program, readers: dict[str, np.ndarray]
          ) -> dict[int, dict[tuple[int, int], np.ndarray]]:
    """Per barrier point (interval index, or END), per (sender, buffer), the receivers
    (bit mask) of each word the sender pushes there."""
    interval, _ = _barrier_points(program)
    cores = program.cores
    valid, owner, since = [], [], []
    for b in program.buffers:
        shape = (b.rows, b.cols)
        start = readers.get(b.name) if b.kind in PERSISTENT_KINDS else None
        valid.append(start.copy() if start is not None and start.shape == shape
                     else np.zeros(shape, np.int32))
        owner.append(np.full(shape, -1, np.int8))
        since.append(np.zeros(shape, np.int32))
    pushes: dict[int, dict[tuple[int, int], np.ndarray]] = defaultdict(dict)

    def push(point: int, sender: int, buf: int, words: np.ndarray, receivers) -> None:
        key = (sender, buf)
        table = pushes[point]
        if key not in table:
            table[key] = np.zeros(valid[buf].shape, np.int32)
        table[key] |= np.where(words, receivers, 0).astype(np.int32)

    for pc, ins in enumerate(program.code):
        if isinstance(ins, Halt):
            break
        if isinstance(ins, (Barrier, Xfer)):
            continue
        reads, writes = regions(ins, program)
        bit = 1 << ins.core
        for buf, rows, cols in reads:
            held = valid[buf][rows, cols]
            who = owner[buf][rows, cols]
            need = ((held & bit) == 0) & (who >= 0)
            if not need.any():
                continue
            when = since[buf][rows, cols]
            if (when[need] >= interval[pc]).any():
                raise ValueError(f"{program.name}: instruction {pc} (core {ins.core}) reads "
                                 f"words of {program.buffers[buf].name} another core writes "
                                 "in the same barrier interval")
            for w in np.unique(who[need]).tolist():
                for k in np.unique(when[need & (who == w)]).tolist():
                    words = np.zeros(valid[buf].shape, bool)
                    words[rows, cols] = need & (who == w) & (when == k)
                    push(k, w, buf, words, bit)
            held |= np.where(need, bit, 0).astype(np.int32)
        for buf, rows, cols in writes:
            valid[buf][rows, cols] = bit
            owner[buf][rows, cols] = ins.core
            since[buf][rows, cols] = interval[pc]
    for buf, b in enumerate(program.buffers):           # state for the next programs
        want = readers.get(b.name)
        if b.kind not in PERSISTENT_KINDS or want is None or want.shape != valid[buf].shape:
            continue
        missing = want & ~valid[buf] & ((1 << cores) - 1)
        for w in range(cores):
            words = (owner[buf] == w) & (missing != 0)
            if words.any():
                push(END, w, buf, words, missing)
    return pushes


def _xfers(pushes: dict[tuple[int, int], np.ndarray]) -> list[Instruction]:
    out = []
    for (sender, buf), receivers in sorted(pushes.items()):
        for to in sorted(set(np.unique(receivers).tolist()) - {0}):
            for rows, cols in _cover(receivers == to):
                out.append(Xfer(core=sender, buf=buf, rows=rows, cols=cols, to=to))
    return out


def _one_sender_at_a_time(xfers: list[Instruction], cores: int) -> list[Instruction]:
    """``xfers`` of one barrier point as they run: on two cores together (each core's
    memories take the other's lines), on three or more one sender at a time, a barrier
    group between senders (two senders could push to one receiver, whose write port
    takes one line a cycle: ``hw.design.transfer_problems``)."""
    if cores < 3:
        return xfers
    out: list[Instruction] = []
    for k, sender in enumerate(sorted({x.core for x in xfers})):
        out += (_barrier(cores) if k else []) + [x for x in xfers if x.core == sender]
    return out


def _barrier(cores: int) -> list[Instruction]:
    mask = (1 << cores) - 1
    return [Barrier(core=c, mask=mask) for c in range(cores)]


def insert(program: Program, readers: dict[str, np.ndarray],
           acc_half: int | None = None) -> Program:
    """``program`` with its transfers (see the module); ``readers``: the entry readers of
    the state (:func:`entry_readers` of the programs run together).  A one-core
    program is returned as it is.  The placement is made again for the new code."""
    if program.cores < 2:
        return program
    pushes = _plan(program, readers)
    if not pushes:
        return program
    _, after = _barrier_points(program)
    inserts = {after[k]: _one_sender_at_a_time(_xfers(p), program.cores)
               + _barrier(program.cores) for k, p in pushes.items() if k != END}
    code = list(program.code)
    end = next((pc for pc, i in enumerate(code) if isinstance(i, Halt)), len(code))
    new: list[Instruction] = []
    for pc, ins in enumerate(code):
        if pc == end and END in pushes:
            if not (new and isinstance(new[-1], Barrier)):
                new += _barrier(program.cores)
            new += _one_sender_at_a_time(_xfers(pushes[END]), program.cores)
        new += inserts.get(pc, [])
        new.append(ins)
    if end == len(code) and END in pushes:
        new += _barrier(program.cores) + _one_sender_at_a_time(_xfers(pushes[END]),
                                                               program.cores)
    out = dataclasses.replace(program, code=tuple(new), placement=None)
    if program.placement is not None:
        out = dataclasses.replace(out, placement=place(out, acc_half=acc_half))
    return out


def insert_all(programs: list[Program], acc_half: int | None = None) -> list[Program]:
    """The programs that run together on one machine, each with its transfers."""
    readers = entry_readers(programs)
    return [insert(p, readers, acc_half) for p in programs]


def xfer_cycles(ins: Xfer, line_words: int, latency: int) -> int:
    """Cycles of one ``xfer``: one line of ``line_words`` words of a row a cycle (the
    sender's read port, the link, each receiver's write port), then the link's
    ``latency``."""
    return ins.rows.count * math.ceil(ins.cols.count / line_words) + latency


def last_writers(program: Program) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Per-core memories, the host's reads: (per buffer index, per slot index) the core
    whose copy holds each word's value after a run of ``program`` -- the core that
    wrote it last (an instruction's region, :func:`fixar_gen.core_traffic.regions`; a
    ``store``'s slot words), -1 where the program writes nothing (the word is as the
    host and the earlier runs left it).  ``xfer`` adds copies, never removes the
    writer's."""
    buffers: dict[int, np.ndarray] = {}
    slots: dict[int, np.ndarray] = {}
    for ins in program.code:
        if isinstance(ins, Halt):
            continue
        if isinstance(ins, Store):
            slot = program.slots[ins.slot]
            if ins.slot not in slots:
                slots[ins.slot] = np.full((slot.rows, slot.cols), -1, np.int8)
            slots[ins.slot][ins.rows.slice,
                            ins.dst_col:ins.dst_col + ins.cols.count] = ins.core
            continue
        if isinstance(ins, (Barrier, Xfer)):
            continue
        for buf, rows, cols in regions(ins, program)[1]:
            if buf not in buffers:
                b = program.buffers[buf]
                buffers[buf] = np.full((b.rows, b.cols), -1, np.int8)
            buffers[buf][rows, cols] = ins.core
    return buffers, slots
