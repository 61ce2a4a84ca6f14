"""The host side of a generated core: buffers and host slots where the program's
placement puts them (:mod:`fixar_gen.placement`: a memory and an offset in it; the
host's data address of a word is the memory's id above the offset,
:meth:`~fixar_gen.hw.hostmap.HostMap.data_address`, and a buffer's descriptor names its
memory and offset), how
a program is loaded (descriptors, slots, per-core instruction streams), run and read
back.  :class:`HardwareMachine` offers the golden machine's operations (allocate,
write, read, run) over any :class:`Driver` -- PyRTL simulation, Verilator, and the
U50 kernel later -- so the Core backends above it are the same for all of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from .. import isa
from ..arch import PERSISTENT_KINDS
from ..runstats import RunStats
from ..isa import Barrier, Buffer, Halt, Program
from ..memory_access import extra_lines
from ..numerics import FixedFormat
from ..perf import Timing, schedule_with
from ..percore_placement import CorePlacements, copies_of
from ..placement import Placed, Placement, place
from ..transfers import last_writers
from . import vector as V
from .copy_layout import Run, runs, source, unheld
from ..range_fusion import fused_ranges
from .core import ISSUE_CYCLES, CoreConfig, execution_cycles
from .design import HardwareLimit, hardware_limits, memory_room
from .data_memories import memory_id
from .hostmap import STAT_KINDS, pack

_EMPTY = Program("host", (), (), (), 1, FixedFormat(2, 0))

#: cycles between two progress reports of a driver's run (``Driver.on_cycles``)
PROGRESS_CYCLES = 1024


class Driver:
    """What a simulator or a board offers the host (one generated design).

    ``on_cycles``, when set, is called with the cycles run so far every
    :data:`PROGRESS_CYCLES` or so cycles of a long :meth:`run` (for a progress line)."""

    on_cycles: Callable[[int], None] | None = None

    def write(self, memory: str, base: int, values: list[int], core: int = 0) -> None:
        raise NotImplementedError

    def read(self, base: int, count: int, core: int = 0) -> list[int]:
        """``count`` data words from host data address ``base`` (of core ``core``'s copy
        of the memories, on a design with per-core memories)."""
        raise NotImplementedError

    def stat(self, core: int, kind: str, addrs: list[int]) -> list[int]:
        raise NotImplementedError

    def run(self, pre_fmt: int, max_cycles: int) -> None:
        raise NotImplementedError

    def write_data(self, base: int, values: np.ndarray, bits: int) -> None:
        """Data words at host data address ``base`` from signed int64 ``values``
        (``bits``-bit two's complement); a driver that packs arrays overrides it."""
        self.write("data", base, to_word(values, bits))

    def gather(self, requests: list[tuple]) -> list[list[int]]:
        """Several reads at once, each ``("read", base, count)`` or ``("stat", core,
        kind, addrs)``, their values in order: a driver that pays per round trip (the
        U50's kernel invocations) answers them in one."""
        return [self.read(*r[1:]) if r[0] == "read" else self.stat(*r[1:])
                for r in requests]

    def close(self) -> None:
        pass


def to_word(values, bits: int) -> list[int]:
    mask = (1 << bits) - 1
    return [int(v) & mask for v in np.asarray(values).reshape(-1).tolist()]


def from_word(words, bits: int) -> list[int]:
    top = 1 << (bits - 1)
    return [w - (1 << bits) if w & top else w for w in words]


#: programs whose load image a machine keeps (the trainer alternates two or three)
PROGRAM_IMAGES = 8


@dataclasses.dataclass(frozen=True)
class _ProgramImage:
    """A checked program as the host loads it: descriptor, slot and instruction words,
    where each host slot is, the run's cycle budget."""

    program: Program
    placement: Placement
    #: per-core memories: per copy (each its own bases)
    descs: tuple[int, ...] | list[tuple[int, ...]]
    slots: tuple[int, ...] | list[tuple[int, ...]]
    slot_at: dict[str, int]
    streams: list[tuple[int, ...]]
    budget: int
    #: the host slots the program stores (read back after a run), in slot order
    stored: tuple = ()
    #: per-core memories: how a run updates :attr:`HardwareMachine.owner`, from the core
    #: whose copy holds each word after the run (:func:`transfers.last_writers`): per
    #: buffer the program writes, (name, those cores with -1 where it writes none,
    #: read-only; the words it writes, or None when it writes every word); per slot it
    #: writes, (name, those cores)
    owner_updates: tuple = ()
    slot_owners: tuple = ()
    #: per buffer name, the last owner array a run merged into and the merge's result
    merged: dict = dataclasses.field(default_factory=dict)


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.int8)
    array.setflags(write=False)
    return array


class HardwareMachine:
    """Buffers by name in the data memories of a generated core (the hardware twin of
    :class:`fixar_gen.golden.GoldenMachine`), where the program's placement
    (:mod:`fixar_gen.placement`) puts them."""

    def __init__(self, cfg: CoreConfig, driver: Driver):
        self.cfg = cfg
        self.hostmap = cfg.hostmap
        self.driver = driver
        self.kinds: dict[str, isa.Buffer] = {}
        self.base: dict[str, int] = {}       # host data address of each buffer
        self.placed: dict[str, Placed] = {}
        self.placement: Placement | None = None
        self._loaded: Program | None = None
        #: per core, the saturation counters as last read, by buffer id (-1: unread)
        self._sat_seen: list[np.ndarray] = [np.full(0, -1, np.int64)
                                            for _ in range(cfg.cores)]
        self._budget = 0          # cycles a run of the loaded program may take
        self._images: dict[tuple[int, int], _ProgramImage] = {}
        #: per-core memories: each program's buffers' runs in the copies, computed once
        #: (by id of its ``CorePlacements``, which the entry keeps alive): a trainer
        #: switches between its update and its action programs every step
        self._copy_runs: dict[int, tuple] = {}
        self.last_cycles: list[int] = []
        #: per-core memories: per buffer name, the core whose copy holds each word's
        #: value (-1: the host's, in every copy that holds it); one copy: empty
        self.owner: dict[str, np.ndarray] = {}
        #: per-core memories: where each copy holds each buffer and slot
        #: (:mod:`fixar_gen.percore_placement`), the runs of words the host reaches
        #: there by ("buffer" | "slot", name), and the words no copy holds (kept by
        #: the host: (mask, values))
        self.per_core = cfg.per_core_memories
        self.copies: CorePlacements | None = None
        self.runs: dict[tuple[str, str], tuple[Run, ...]] = {}
        self.host_words: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}

    def _sat_update(self, core: int, values: np.ndarray) -> None:
        """Record core ``core``'s counters of buffer ids 0 .. len(values) - 1 as read."""
        seen = self._sat_seen[core]
        if len(seen) < len(values):
            seen = self._sat_seen[core] = np.concatenate(
                [seen, np.full(len(values) - len(seen), -1, np.int64)])
        seen[:len(values)] = values

    def close(self) -> None:
        """Stop the simulator (the Verilator harness process; nothing for PyRTL)."""
        self.driver.close()

    def __enter__(self) -> "HardwareMachine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- memory ------------------------------------------------------------------------

    def forget(self) -> None:
        """Drop every buffer placement (the next program starts from an empty
        scratchpad; used between unrelated test programs)."""
        self.kinds, self.base, self.placed, self.placement = {}, {}, {}, None
        self._loaded = None
        self._copy_runs = {}
        self.owner = {}
        self.copies, self.runs, self.host_words = None, {}, {}

    def address(self, p: Placed) -> int:
        """The host data address of placed buffer or slot ``p``'s first word."""
        return self.hostmap.data_address(p.memory, p.offset)

    def allocate(self, buffers, placement: Placement | None = None,
                 copies: CorePlacements | None = None) -> None:
        """Put ``buffers`` where ``placement`` says (default: each in words of its own;
        per-core memories: each copy where ``copies`` says, by default core 0's copy
        holding the kept buffers whole).
        Pinned buffers the host already holds keep their contents (moved if their
        offset changed); new or reshaped pinned buffers start at zero; temporaries
        are whatever the scratchpad holds until the program writes them."""
        buffers = tuple(buffers)
        host = Program("host", buffers, (), (), 1, buffers[0].fmt) if buffers else _EMPTY
        if placement is None:
            placement = place(host, share=False, acc_half=self.cfg.acc_half)
        if self.per_core:
            if copies is None:
                copies = copies_of(host, self.cfg.acc_half)
            self._allocate_copies(buffers, placement, copies)
            return
        if placement is self.placement:
            return
        self._check_room(placement)
        moves, zeros = [], []
        for b, p in zip(buffers, placement.buffers):
            same = self._same_as_held(b)
            if not p.pinned:
                continue
            if not same:
                zeros.append(p)
            elif self.base[b.name] != self.address(p):
                moves.append((p, self._words(b.name, self.base[b.name], p.size)))
        for p, values in moves:
            self.driver.write("data", self.address(p), values)
        for p in zeros:
            self.driver.write("data", self.address(p), [0] * p.size)
        if self.cfg.copies > 1:       # what the host wrote is in every copy
            for p in moves + [(p, None) for p in zeros]:
                self.owner.pop(p[0].name, None)
        self.kinds = {b.name: b for b in buffers}
        self.base = {p.name: self.address(p) for p in placement.buffers}
        self.placed = {p.name: p for p in placement.buffers}
        self.placement = placement
        self._loaded = None

    def _same_as_held(self, b: Buffer) -> bool:
        """Whether the host holds buffer ``b`` already with the same shape, format and
        kind (its words can stay or move); a state buffer that changed is refused."""
        old = self.kinds.get(b.name)
        same = old is not None and (old.rows, old.cols, old.fmt, old.kind, old.acc_bits) \
            == (b.rows, b.cols, b.fmt, b.kind, b.acc_bits)
        if old is not None and not same and b.kind in PERSISTENT_KINDS:
            raise HardwareLimit(f"buffer {b.name} changed from {old} to {b}")
        return same

    def _allocate_copies(self, buffers, placement: Placement,
                         copies: CorePlacements) -> None:
        """:meth:`allocate` on per-core memories: each copy's words of each buffer
        where ``copies`` puts them; a pinned buffer whose words moved (in any copy) is
        read where it was and written where it is now."""
        if placement is self.placement and copies is self.copies:
            return
        buffer_names = tuple(b.name for b in buffers)
        cached = self._copy_runs.get(id(copies))
        if cached is not None and cached[0] is copies and cached[1] == buffer_names:
            new_runs = cached[2]
        else:
            for copy in copies.copies:
                self._check_room(copy.placement)
            new_runs = {("buffer", name): runs(self.hostmap, copies, ("buffer", i))
                        for i, name in enumerate(buffer_names)}
            self._copy_runs[id(copies)] = (copies, buffer_names, new_runs)
        moves, zeros = [], []
        for b, p in zip(buffers, placement.buffers):
            same = self._same_as_held(b)
            if not p.pinned:
                continue
            if not same:
                zeros.append(b)
            elif self.runs.get(("buffer", b.name)) != new_runs[("buffer", b.name)]:
                moves.append((b, self.read(b.name)))
        self.runs = {**new_runs, **{k: v for k, v in self.runs.items() if k[0] == "slot"}}
        names = {b.name for b in buffers}
        self.host_words = {k: v for k, v in self.host_words.items()
                           if k[0] == "slot" or k[1] in names}
        self.kinds = {b.name: b for b in buffers}
        # (no shared address: every word is at its copies' runs, and the placement of a
        # memory shared by the cores may run past the copies' address width)
        self.base = {}
        self.placed = {p.name: p for p in placement.buffers}
        self.placement, self.copies = placement, copies
        for b, values in moves:
            self.write(b.name, values)
        for b in zeros:
            self.write(b.name, np.zeros((b.rows, b.cols), dtype=np.int64))
        self._loaded = None

    def _write_copies(self, key: tuple[str, str], flat: np.ndarray) -> None:
        """Per-core memories: ``flat`` (a buffer's or slot's row-major words, signed)
        into every copy that holds them, at its address; the words no copy holds kept
        by the host."""
        hm, word = self.hostmap, self.cfg.word
        for r in self.runs[key]:
            address = hm.write_address(r.address, r.copy)
            part = flat[r.first:r.first + r.words]
            if part.dtype == object:
                self.driver.write("data", address, to_word(part, word))
            else:
                self.driver.write_data(address, part, word)
        mask = unheld(self.runs[key], flat.size)
        if mask.any():
            self.host_words[key] = (mask, flat.copy())
        else:
            self.host_words.pop(key, None)

    def _read_copies(self, key: tuple[str, str], size: int) -> list[int]:
        """Per-core memories: the ``size`` words of ``key``, each from the copy of its
        last writer (:attr:`owner`), else from a copy that holds it, else as the host
        wrote it (:mod:`fixar_gen.hw.copy_layout`)."""
        found = self.runs.get(key, ())
        src = source(found, self.owner.get(key[1]), size)
        words = np.zeros(size, dtype=object)
        asked = [k for k in range(len(found)) if (src == k).any()]
        for k, got in zip(asked, self.driver.gather(
                [("read", found[k].address, found[k].words, found[k].copy)
                 for k in asked])):
            r = found[k]
            at = np.flatnonzero(src == k)
            words[at] = np.array(got, dtype=object)[at - r.first]
        if (src < 0).any():
            mask, values = self.host_words.get(key, (np.zeros(size, bool),
                                                    np.zeros(size, np.int64)))
            at = np.flatnonzero(src < 0)
            words[at] = np.array(to_word(values[at], self.cfg.word), dtype=object)
        return words.tolist()

    def _check_room(self, placement: Placement) -> None:
        problems = memory_room(placement, self.cfg)
        if problems:
            raise HardwareLimit("; ".join(problems) + " (generate the design with larger "
                                "memories)")

    def _words(self, name: str, base: int, count: int) -> list[int]:
        """The ``count`` words of buffer or slot ``name`` at data address ``base``, each
        from the copy that holds its value (:attr:`owner`; one copy: the memories)."""
        owner = self.owner.get(name)
        if owner is None or self.cfg.copies == 1:
            return self.driver.read(base, count)
        owner = owner.reshape(-1)
        cores = sorted(set(np.unique(owner).tolist()) - {-1}) or [0]
        if -1 in owner and 0 not in cores:
            cores = [0] + cores
        words = np.zeros(count, dtype=object)
        for c, got in zip(cores, self.driver.gather([("read", base, count, c)
                                                      for c in cores])):
            mine = owner == c if c else (owner == 0) | (owner == -1)
            words[mine] = np.array(got, dtype=object)[mine]
        return words.tolist()

    def write(self, name: str, values) -> None:
        self.owner.pop(name, None)      # the host writes every copy (that holds it)
        b = self.kinds[name]
        arr = np.asarray(values)
        if arr.dtype.kind == "i" and arr.dtype.itemsize <= 8:      # the common case
            arr = arr.astype(np.int64, copy=False).reshape(b.rows, b.cols)
            if arr.size and (arr.min() < b.fmt.min_int or arr.max() > b.fmt.max_int):
                raise ValueError(f"{name}: values outside {b.fmt}")
            if self.per_core:
                self._write_copies(("buffer", name), arr.reshape(-1))
                return
            self.driver.write_data(self.base[name], arr.reshape(-1), self.cfg.word)
            return
        arr = np.asarray(values, dtype=object).reshape(b.rows, b.cols)
        if arr.size and (min(arr.reshape(-1)) < b.fmt.min_int
                         or max(arr.reshape(-1)) > b.fmt.max_int):
            raise ValueError(f"{name}: values outside {b.fmt}")
        if self.per_core:
            self._write_copies(("buffer", name), arr.reshape(-1))
            return
        self.driver.write("data", self.base[name], to_word(arr, self.cfg.word))

    def read(self, name: str) -> np.ndarray:
        b = self.kinds[name]
        words = self._read_copies(("buffer", name), b.rows * b.cols) if self.per_core \
            else self._words(name, self.base[name], b.rows * b.cols)
        words = from_word(words, self.cfg.word)
        dtype = object if b.wide and b.acc_bits > 63 else np.int64
        return np.array(words, dtype=dtype).reshape(b.rows, b.cols)

    # -- programs ----------------------------------------------------------------------

    def _load_program(self, program: Program) -> None:
        if self._loaded is program:
            return
        image = self._program_image(program)
        if self.per_core:           # each copy its own descriptors and slots
            hm = self.hostmap
            for c, descs in enumerate(image.descs):
                self.driver.write("desc", hm.table_address("desc", 0, c), descs)
            for c, slots in enumerate(image.slots):
                self.driver.write("slot", hm.table_address("slot", 0, c), slots)
        else:
            self.driver.write("desc", 0, image.descs)
            self.driver.write("slot", 0, image.slots)
        self.slot_at = image.slot_at
        for c, stream in enumerate(image.streams):
            self.driver.write("imem", 0, stream, core=c)
        self._loaded = program
        self._budget = image.budget
        self._image = image

    def _program_image(self, program: Program) -> "_ProgramImage":
        """What loading ``program`` writes (checked against the core once): kept per
        program and placement, so that alternating programs (an action, an update)
        costs the host only the writes."""
        key = (id(program), id(self.placement), id(self.copies))
        hit = self._images.get(key)
        if hit is not None and hit.program is program and hit.placement is self.placement \
                and key[2] == id(self.copies):
            return hit
        problems = hardware_limits(program, self.cfg)
        if problems:
            raise HardwareLimit(f"program {program.name!r} does not fit this core: "
                                + "; ".join(problems))
        hm = self.hostmap
        def descs_at(base, memory):
            return tuple(pack(hm.desc_fields, base=base(i, b), mem=memory_id(memory(i, b)),
                         rows=b.rows, cols=b.cols,
                         fmt=V.pack_format(b.fmt) if not b.wide else
                         V.pack_format(b.fmt.__class__(64, b.fmt.frac)),
                         acc_bits=b.acc_bits)
                    for i, b in enumerate(program.buffers))
        slot_at = {p.name: self.address(p) for p in self.placement.slots}
        if self.per_core:           # each copy's bases (percore_placement)
            A, copies = self.cfg.addr_bits, self.copies
            descs = [descs_at(lambda i, b: copies.base(c, ("buffer", i), A),
                              lambda i, b: copies.placed(c, ("buffer", i)).memory)
                     for c in range(copies.cores)]
            slots = [tuple(pack(hm.slot_fields, base=copies.base(c, ("slot", k), A), cols=s.cols)
                           for k, s in enumerate(program.slots)) for c in range(copies.cores)]
        else:
            descs = descs_at(lambda i, b: self.placed[b.name].offset,
                             lambda i, b: self.placed[b.name].memory)
            offsets = {p.name: p.offset for p in self.placement.slots}
            slots = tuple(pack(hm.slot_fields, base=offsets[s.name], cols=s.cols)
                          for s in program.slots)
        mask = (1 << program.cores) - 1
        streams = []
        for c in range(self.cfg.cores):
            stream = []
            for ins in program.code:
                if ins.core != c:
                    continue
                if isinstance(ins, Barrier):
                    ins = dataclasses.replace(ins, mask=ins.mask & mask)
                stream.append(ins)
                if isinstance(ins, Halt):
                    break
            if not stream or not isinstance(stream[-1], Halt):
                stream.append(Halt(core=c))
            # (tuples: a driver may keep what it made of them, e.g. the U50 command
            # driver its packed words, for the next load of the same program)
            streams.append(tuple(isa.encode(i) for i in stream))
        # what a run changes of the owners, computed once (a trainer runs its programs
        # in alternation every step): an array a buffer's writers fill whole replaces
        # its owner; otherwise the written words are merged into it
        owner_updates, slot_owners = (), ()
        if self.cfg.copies > 1:
            by_buffer, by_slot = last_writers(program)
            owner_updates = tuple(
                (program.buffers[i].name, _read_only(w), None if (w >= 0).all() else w >= 0)
                for i, w in by_buffer.items())
            slot_owners = tuple((program.slots[i].name, _read_only(w))
                                for i, w in by_slot.items())
        stored = tuple(program.slots[k] for k in
                       sorted({i.slot for i in program.code if isinstance(i, isa.Store)}))
        image = _ProgramImage(program, self.placement, descs, slots, slot_at, streams,
                              4 * self.modeled_cycles(program) + 1000, stored,
                              owner_updates, slot_owners)
        if len(self._images) >= PROGRAM_IMAGES:
            self._images.pop(next(iter(self._images)))
        self._images[key] = image
        return image

    def run(self, program: Program, host: dict[str, np.ndarray]) -> RunStats:
        placement = program.placement or place(program, share=False,
                                                acc_half=self.cfg.acc_half)
        copies = copies_of(program, self.cfg.acc_half) if self.per_core else None
        if placement.slots != (self.placement.slots if self.placement else ()):
            self._loaded = None                # slot descriptors to rewrite
        self.allocate(program.buffers, placement, copies)
        if self.per_core:
            self.runs.update({("slot", s.name): runs(self.hostmap, copies, ("slot", k))
                              for k, s in enumerate(program.slots)})
        self._load_program(program)
        for s in program.slots:
            value = host.get(s.name)
            full = np.zeros((s.rows, s.cols), dtype=np.int64)
            if value is not None:
                value = np.asarray(value, dtype=np.int64)
                full[:value.shape[0], :value.shape[1] if value.ndim > 1 else 1] = \
                    value.reshape(value.shape[0], -1)
            if self.per_core:
                self._write_copies(("slot", s.name), full.reshape(-1))
            else:
                self.driver.write_data(self.slot_at[s.name], full.reshape(-1),
                                       self.cfg.word)
        ids = list(range(len(program.buffers)))
        cores = range(self.cfg.cores)
        # each core's saturation counters as last read, by buffer id (-1: never read)
        seen = self._sat_seen
        unseen = [c for c in cores if len(seen[c]) < len(ids) or (seen[c][:len(ids)] < 0).any()]
        for c, values in zip(unseen, self.driver.gather(
                [("stat", c, "saturations", ids) for c in unseen])):
            self._sat_update(c, np.array(values, dtype=np.int64))
        self.driver.run(V.pack_format(program.pre_format), self._budget)
        owner, merged = self.owner, self._image.merged
        for name, writer, written in self._image.owner_updates:      # per-core memories
            old = owner.get(name) if written is not None else None
            if old is None:
                owner[name] = writer
                continue
            # (programs that alternate merge into the same arrays every time: the
            # merge of an array this program merged into before is kept, and merging
            # into its own result changes nothing)
            hit = merged.get(name)
            if hit is not None and hit[1] is old:
                continue
            if hit is None or hit[0] is not old:
                new = np.where(written, writer, old)
                new.setflags(write=False)
                hit = merged[name] = (old, new)
            owner[name] = hit[1]
        for name, writer in self._image.slot_owners:
            owner[name] = writer
        # everything the host reads after the run, in one request: the saturation
        # counters and the cycles of every core, the slots the program stored
        stored = self._image.stored
        # (each slot from the copies that stored it)
        per_copy = self.per_core or self.cfg.copies > 1
        answers = self.driver.gather(
            [("stat", c, "saturations", ids) for c in cores]
            + [("stat", c, "cycles", [0]) for c in cores]
            + [("read", self.slot_at[s.name], s.rows * s.cols) for s in stored
               if not per_copy])
        if per_copy:
            answers += [self._read_copies(("slot", s.name), s.rows * s.cols)
                        if self.per_core else
                        self._words(s.name, self.slot_at[s.name], s.rows * s.cols)
                        for s in stored]
        stats = RunStats()
        for c in cores:
            after = np.array(answers[c], dtype=np.int64)
            new = (after - seen[c][:len(ids)]) % (1 << 32)
            for i in np.flatnonzero(new).tolist():
                stats.by_buffer[program.buffers[i].name] += int(new[i])
            self._sat_update(c, after)
        n = self.cfg.cores
        self.last_cycles = [answers[n + c][0] for c in cores]
        stats.instructions = len(program.code)
        for s, words in zip(stored, answers[2 * n:]):
            host[s.name] = np.array(from_word(words, self.cfg.word),
                                    dtype=np.int64).reshape(s.rows, s.cols)
        return stats

    @property
    def cycles(self) -> int:
        return max(self.last_cycles) if self.last_cycles else 0

    def modeled_cycles(self, program: Program) -> int:
        """What :mod:`fixar_gen.perf` predicts for this program on this RTL."""
        return schedule_with(program, self.cfg.cores, rtl_execution(self.cfg, program),
                             RTL_TIMING).total_cycles


def rtl_execution(cfg: CoreConfig, program: Program):
    """The RTL's cycle rule for the instructions of ``program`` (whose placement decides
    how many ``amem`` lines a step reads: :func:`fixar_gen.memory_access.extra_lines`;
    whose order, which ranges follow their drain:
    :func:`fixar_gen.range_fusion.fused_ranges`),
    as ``execution(pc, instr)`` for :func:`fixar_gen.perf.schedule_with`."""
    fused = fused_ranges(program)

    def execution(pc, instr):
        return execution_cycles(instr, cfg.rows, cfg.cols, cfg.lanes,
                                extra_lines(instr, program), pc in fused,
                                cfg.lane0_functions)
    return execution


#: the generated RTL's issue, halt and barrier cycles (core.py's controller)
RTL_TIMING = Timing(issue=ISSUE_CYCLES, halt=1, barrier_latency=2)
STAT_KIND_INDEX = {k: i for i, k in enumerate(STAT_KINDS)}
