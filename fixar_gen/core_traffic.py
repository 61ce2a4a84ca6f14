"""What each core of a compiled program reads that another core wrote.

The cores of a generated design share their memories today (each bank has a line port
per core).  Per-core memories -- each core its own banks, in its own SLR (issue 12) --
need every such read served by an explicit transfer between the cores, and every word
of state that several cores read either duplicated or split among them.  This module
measures both on the compiled programs, word by word, so that the transfers, the
policies and the placement can be judged on figures before the hardware changes.

A word's *owner* is the core that wrote it last.  The programs of a spec run in a cycle
(training, then inference, as a trainer runs them), so the owners of the state that
outlives a program (parameters, optimizer state, the PRNG, the noise state, keyed by
buffer name) are carried from one program to the next; the cycle runs twice and only
the second round is counted, so that state written by the previous update counts as
it would in a steady run.  Temporaries (activations, deltas, accumulators, gradients)
start each program unowned.  Constants (``const``) are small and read by every core:
they are left out (each core would hold its own copy).

The regions follow the golden model's operand rules (an operand with one row or one
column is broadcast; ``src_col`` is the first column of a, b, e, the accumulator and the
bias; a transposed matrix operand reads rows and columns swapped).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .isa import (NO_BUFFER, Buffer, Drain, Load, MatMul, Program, Store, Vector,
                  VECTOR_FUNCTIONS)
from .ops import names as _op_names, writing as _op_writing

#: Buffer kinds whose words outlive one program (owners carried, keyed by name).
PERSISTENT_KINDS = frozenset({"param", "state", "prng", "monitor"})
#: Kinds left out: constants, which every core keeps a copy of.
IGNORED_KINDS = frozenset({"const"})

_READS_DST = frozenset(_op_names(reads_dst=True))
_WRITES_B = frozenset(_op_writing("b"))
_WRITES_E = frozenset(_op_writing("e"))
_WHOLE_DST = frozenset({"range"})

UNOWNED = -1

Region = tuple[int, slice, slice]          # buffer id, rows, columns


def _span(start: int, count: int) -> slice:
    return slice(start, start + count)


def _operand(buf: Buffer, rows: slice, col0: int, count: int) -> tuple[slice, slice]:
    """A vector operand's region over rows x (col0 .. col0 + count), broadcast rules."""
    return (rows if buf.rows > 1 else slice(0, 1),
            _span(col0, count) if buf.cols > 1 else slice(0, 1))


def regions(ins, program: Program) -> tuple[list[Region], list[Region]]:
    """(regions read, regions written) of one instruction; constants and the host's
    slots are not regions of the core's memories."""
    reads: list[Region] = []
    writes: list[Region] = []
    bufs = program.buffers
    if isinstance(ins, Load):
        writes.append((ins.dst, ins.rows.slice, ins.cols.slice))
    elif isinstance(ins, Store):
        reads.append((ins.src, ins.rows.slice, ins.cols.slice))
    elif isinstance(ins, MatMul):
        a = (ins.k.slice, ins.m.slice) if ins.ta else (ins.m.slice, ins.k.slice)
        b = (ins.n.slice, ins.k.slice) if ins.tb else (ins.k.slice, ins.n.slice)
        reads += [(ins.a, *a), (ins.b, *b)]
        if ins.accumulate:
            reads.append((ins.dst, ins.m.slice, ins.n.slice))
        writes.append((ins.dst, ins.m.slice, ins.n.slice))
    elif isinstance(ins, Drain):
        src = _span(ins.src_col, ins.cols.count)
        reads.append((ins.acc, ins.rows.slice, src))
        if ins.bias != NO_BUFFER:
            reads.append((ins.bias, slice(0, 1), src))
        writes.append((ins.dst, ins.rows.slice, ins.cols.slice))
    elif isinstance(ins, Vector):
        fn = VECTOR_FUNCTIONS[ins.fn]
        count = ins.cols.count
        dst = (ins.dst, ins.rows.slice, ins.cols.slice)
        if fn in _WHOLE_DST:     # a range monitor: rows x cols of a (no src_col) into d
            reads += [(ins.a, ins.rows.slice, ins.cols.slice), _whole(ins.dst, bufs)]
            return _kept(reads, bufs), _kept([_whole(ins.dst, bufs)], bufs)
        for name in ("a", "b", "e"):
            buf = getattr(ins, name)
            if buf == NO_BUFFER:
                continue
            if name == "b" and fn in _WRITES_B:      # the PRNG lanes: read and advanced
                reads.append(_whole(buf, bufs))
                writes.append(_whole(buf, bufs))
                continue
            region = (buf, *_operand(bufs[buf], ins.rows.slice, ins.src_col, count))
            reads.append(region)
            if name == "e" and fn in _WRITES_E:
                writes.append(region)
        if fn in _READS_DST:
            reads.append(dst)
        writes.append(dst)
    return _kept(reads, bufs), _kept(writes, bufs)


def _whole(buf: int, bufs) -> Region:
    return (buf, slice(0, bufs[buf].rows), slice(0, bufs[buf].cols))


def _kept(regions_: list[Region], bufs) -> list[Region]:
    return [r for r in regions_ if bufs[r[0]].kind not in IGNORED_KINDS]


@dataclass
class Traffic:
    """Words a core read that another core wrote last, for one program (or a sum).

    ``cross[(kind, writer, reader)]``: words of buffers of ``kind`` read by core
    ``reader`` whose last writer was core ``writer`` (a word read twice counts twice:
    without a copy the second read crosses too).  ``by_buffer``: the same per buffer
    name.  ``shared``: words of state never written by any program of the cycle but
    read by more than one core (each of those cores needs its own copy), by kind."""

    cores: int
    cross: Counter = field(default_factory=Counter)
    by_buffer: Counter = field(default_factory=Counter)
    shared: Counter = field(default_factory=Counter)

    def received(self, reader: int) -> int:
        """Words core ``reader`` reads from the others."""
        return sum(n for (_, _, r), n in self.cross.items() if r == reader)

    def total(self) -> int:
        return sum(self.cross.values())

    def by_kind(self) -> Counter:
        out: Counter = Counter()
        for (kind, _, _), n in self.cross.items():
            out[kind] += n
        return out


class _Owners:
    """The owner of every word: per program for temporaries, by name for state."""

    def __init__(self) -> None:
        self.state: dict[str, np.ndarray] = {}
        self.readers: dict[str, np.ndarray] = {}      # bit c: core c read it, unwritten

    def arrays(self, program: Program) -> list[np.ndarray]:
        out = []
        for b in program.buffers:
            shape = (b.rows, b.cols)
            if b.kind in PERSISTENT_KINDS:
                if b.name not in self.state or self.state[b.name].shape != shape:
                    self.state[b.name] = np.full(shape, UNOWNED, np.int8)
                    self.readers[b.name] = np.zeros(shape, np.int32)
                out.append(self.state[b.name])
            else:
                out.append(np.full(shape, UNOWNED, np.int8))
        return out


def _run(program: Program, owners: _Owners, traffic: Traffic | None) -> None:
    arrays = owners.arrays(program)
    bufs = program.buffers
    for ins in program.code:
        reads, writes = regions(ins, program)
        core = ins.core
        for buf, rows, cols in reads:
            region = arrays[buf][rows, cols]
            if traffic is not None:
                writers, counts = np.unique(region[(region != UNOWNED) & (region != core)],
                                            return_counts=True)
                for writer, n in zip(writers.tolist(), counts.tolist()):
                    traffic.cross[(bufs[buf].kind, writer, core)] += n
                    traffic.by_buffer[bufs[buf].name] += n
            if bufs[buf].kind in PERSISTENT_KINDS:
                seen = owners.readers[bufs[buf].name][rows, cols]
                seen |= np.where(region == UNOWNED, 1 << core, 0).astype(seen.dtype)
        for buf, rows, cols in writes:
            arrays[buf][rows, cols] = core


def measure(programs: list[Program]) -> tuple[list[Traffic], Traffic]:
    """The traffic of each program of one steady cycle of ``programs`` (run in this
    order, twice; the second round counted) and their sum."""
    if not programs:
        raise ValueError("no programs")
    cores = programs[0].cores
    owners = _Owners()
    for program in programs:
        _run(program, owners, None)
    each = []
    for program in programs:
        traffic = Traffic(cores)
        _run(program, owners, traffic)
        each.append(traffic)
    total = Traffic(cores)
    for t in each:
        total.cross.update(t.cross)
        total.by_buffer.update(t.by_buffer)
    kinds = {b.name: b.kind for p in programs for b in p.buffers}
    for name, seen in owners.readers.items():
        unwritten = owners.state[name] == UNOWNED
        readers = sum((seen >> c) & 1 for c in range(cores))
        n = int(np.count_nonzero(unwritten & (readers > 1)))
        if n:
            total.shared[kinds[name]] += n
    return each, total


def transfer_cycles(traffic: Traffic, line_words: int) -> int:
    """Cycles to move ``traffic`` when every core receives one line of ``line_words``
    words a cycle (the cores receiving in parallel): the busiest receiver's words in
    whole lines.  A lower bound: words that are not whole lines cost more."""
    if line_words < 1:
        raise ValueError("line_words must be at least 1")
    return max(-(-traffic.received(c) // line_words) for c in range(traffic.cores))
