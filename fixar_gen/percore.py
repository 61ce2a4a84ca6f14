"""The golden model on per-core memories: one copy of the state per core.

:class:`PerCoreMachine` runs programs as a machine whose cores share nothing but the
links would: an instruction of core c reads and writes copy c only (each copy a
:class:`fixar_gen.golden.GoldenMachine` state, executed by its rules), and an ``xfer``
copies its region from the sender's copy into the receivers'.  Every word carries the
set of cores whose copy holds its current value (the last write anywhere): a write by
core c leaves it in c's copy only, a transfer adds the receivers (the sender must hold
it), a host write puts it in every copy.  A read of a word that the reading core's copy
does not hold up to date raises :class:`StaleRead`: the program lacks a transfer.  So a
run either proves, word by word, that the program's transfers serve every read, or
names the first read they do not.

The rules of the host side: a host write (parameters, constants, the PRNG seed) goes
to every copy; a host read takes each word from the copy of the core that wrote it
last (a word no core wrote since the host did: from core 0's copy, all copies equal).
``load`` and ``store`` are a core's own DMA: into and out of that core's copy.

A program compiled with its per-core placement (``Program.copies``,
:mod:`fixar_gen.percore_placement`: each copy holding only the rows its core touches)
is checked against it before it runs (:func:`check_copies`): every region a core
touches lies within the words its copy holds, which the host, the RTL's descriptors
and the links address.  The values are kept whole per copy here (by buffer name); a
host write reaches every copy, of which a copy that does not hold a word never reads it.

The regions an instruction reads and writes are :func:`fixar_gen.core_traffic.regions`
(the golden model's operand rules); constants are host-written and read everywhere.
The placement's check (:class:`fixar_gen.placement.Occupancy`) is the shared golden
model's: it depends on the program only, and the tests run both models.
"""

from __future__ import annotations

import numpy as np

from . import exact as X
from .backends import GoldenCore, TransferPrograms
from .compiler import Precision
from .core_footprint import touched
from .core_traffic import regions
from .golden import GoldenError, GoldenMachine
from .isa import Barrier, Halt, Program, Xfer
from .runstats import RunStats
from .spec import Spec


class StaleRead(GoldenError):
    """A core read a word its copy does not hold up to date (a missing transfer)."""


class OutsideCopy(GoldenError):
    """A core touched a word its copy does not hold (``Program.copies``: the rows the
    per-core placement gives the buffer or slot in that core's copy)."""


def check_copies(program: Program) -> None:
    """Every region an instruction of ``program`` touches in a core's copy (its reads and
    writes, an ``xfer``'s in the sender's and the receivers' copies, a ``load``'s or
    ``store``'s slot rows: :func:`fixar_gen.core_footprint.touched`) lies within the
    words ``program.copies`` gives that copy (:mod:`fixar_gen.percore_placement`), so
    that every address the core computes from its own descriptor base lands in them;
    else :class:`OutsideCopy`."""
    copies = program.copies
    if copies is None:
        return
    for pc, ins in enumerate(program.code):
        for core, key, (r0, r1, c0, c1) in touched(ins, program):
            what, i = key
            cols = (program.buffers if what == "buffer" else program.slots)[i].cols
            first, words = copies.held(core, key) if core < copies.cores else (0, 0)
            if r0 * cols + c0 < first or (r1 - 1) * cols + c1 > first + words:
                name = (program.buffers if what == "buffer" else program.slots)[i].name
                raise OutsideCopy(
                    f"{program.name}: instruction {pc} ({ins.MNEMONIC}, core {ins.core}) "
                    f"touches rows {r0}:{r1} of {what} {name} in core {core}'s copy, "
                    f"which holds its words {first}:{first + words}")


class PerCoreMachine:
    """``cores`` copies of the golden model's state, kept by buffer name, with the
    validity of every word; the interface of :class:`GoldenMachine` (allocate, write,
    read, run)."""

    def __init__(self, cores: int, acc_overflow: str = "saturate"):
        if cores < 1:
            raise ValueError("cores must be at least 1")
        self.cores = cores
        self.all = (1 << cores) - 1
        self.copies = [GoldenMachine(acc_overflow) for _ in range(cores)]
        self.valid: dict[str, np.ndarray] = {}    # bit c: copy c holds the current value
        self.owner: dict[str, np.ndarray] = {}    # the core that wrote it last, -1: host

    # -- host access ----------------------------------------------------------------

    def allocate(self, buffers) -> None:
        before = {b.name: self.copies[0].kinds.get(b.name) for b in buffers}
        for m in self.copies:
            m.allocate(buffers)
        for b in buffers:
            if before[b.name] is not self.copies[0].kinds[b.name] or b.name not in self.valid:
                self._host_wrote(b.name, (b.rows, b.cols))

    def _host_wrote(self, name: str, shape) -> None:
        self.valid[name] = np.full(shape, self.all, np.int32)
        self.owner[name] = np.full(shape, -1, np.int8)

    def write(self, name: str, values: np.ndarray) -> None:
        for m in self.copies:
            m.write(name, values)
        self._host_wrote(name, self.valid[name].shape)

    def read(self, name: str) -> np.ndarray:
        owner = self.owner[name]
        out = np.array(self.copies[0].read(name), dtype=np.int64, copy=True)
        for c in range(1, self.cores):
            mine = owner == c
            if mine.any():
                out[mine] = np.asarray(self.copies[c].read(name), dtype=np.int64)[mine]
        return out

    @property
    def memory(self) -> dict[str, np.ndarray]:
        """Every buffer as the host reads it (:meth:`read`)."""
        return {name: self.read(name) for name in self.copies[0].memory
                if isinstance(self.copies[0].memory[name], np.ndarray)}

    # -- execution ---------------------------------------------------------------------

    def run(self, program: Program, host: dict[str, np.ndarray]) -> RunStats:
        """Execute ``program`` instruction by instruction, each on its core's copy."""
        if program.cores > self.cores:
            raise GoldenError(f"program {program.name!r} uses {program.cores} cores, the "
                              f"machine has {self.cores}")
        check_copies(program)
        self.allocate(program.buffers)
        stats = RunStats()
        for m in self.copies:
            m.table = program.buffers
            m.state = [m.memory[b.name] for b in program.buffers]
            m._program, m._host, m._stats = program, host, stats
        names = [b.name for b in program.buffers]
        try:
            for pc, ins in enumerate(program.code):
                stats.instructions += 1
                if isinstance(ins, Halt):
                    break
                if isinstance(ins, Barrier):
                    continue
                if isinstance(ins, Xfer):
                    self._transfer(pc, ins, names)
                    continue
                reads, writes = regions(ins, program)
                bit = 1 << ins.core
                for buf, rows, cols in reads:
                    held = self.valid[names[buf]][rows, cols]
                    stale = (held & bit) == 0
                    if stale.any():
                        raise StaleRead(
                            f"{program.name}: instruction {pc} ({ins.MNEMONIC}, core "
                            f"{ins.core}) reads {int(stale.sum())} word(s) of {names[buf]} "
                            "its memory does not hold up to date (no transfer brought "
                            "them)")
                machine = self.copies[ins.core]
                machine._pc = pc
                machine._execute(ins)
                for buf, rows, cols in writes:
                    self.valid[names[buf]][rows, cols] = bit
                    self.owner[names[buf]][rows, cols] = ins.core
        finally:
            for m in self.copies:
                for b, value in zip(program.buffers, m.state):
                    m.memory[b.name] = value
        return stats

    def _transfer(self, pc: int, ins: Xfer, names: list[str]) -> None:
        name = names[ins.buf]
        region = (ins.rows.slice, ins.cols.slice)
        held = self.valid[name][region]
        if ((held >> ins.core) & 1 == 0).any():
            raise StaleRead(f"instruction {pc} (xfer, core {ins.core}) sends words of "
                            f"{name} its memory does not hold up to date")
        src = self.copies[ins.core]
        value = X.region(src.state[ins.buf], region)
        for c in range(self.cores):
            if c != ins.core and ins.to >> c & 1:
                dst = self.copies[c]
                dst.state[ins.buf] = X.assign(dst.state[ins.buf], region,
                                              value.copy() if isinstance(value, np.ndarray)
                                              else value)
        held |= ins.to & self.all


class PerCoreCore(TransferPrograms, GoldenCore):
    """The golden backend on :class:`PerCoreMachine`, running programs compiled with
    their transfers (``compile_programs(..., per_core_memories=True)``; the programs
    that run together compiled together: :class:`fixar_gen.backends.TransferPrograms`)."""

    backend = "golden-per-core"

    def __init__(self, spec: Spec, precision: Precision = Precision()):
        super().__init__(spec, precision, engine="interpreter")
        self.machine = PerCoreMachine(spec.hardware.cores, spec.numerics.overflow)
