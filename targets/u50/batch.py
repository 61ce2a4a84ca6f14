"""The host half of the U50 kernel protocol: queue the host's memory writes, runs,
reads and statistic reads as one command list plus an HBM image, execute it in one
kernel invocation, and hand the results back.

:class:`CommandDriver` is a :class:`fixar_gen.hw.host.Driver` over any *executor*: a
callable ``execute(commands, image) -> image`` that runs the kernel once on a command
list (uint64 words) and an image (uint64 words) and returns the image after the run.
The XRT driver (:mod:`.driver`) executes on the card; the cocotb tests execute on the
simulated kernel with an AxiRam as HBM; :func:`model_executor` executes on a software
model of the kernel (any other Driver, e.g. PyRTL), which tests this module alone.

Writes are queued (LOAD) and sent with the next command that needs the kernel: a read
(STORE), a statistic (STATS) or a run (RUN, whose completion is only observed when
something is read back).  So one training step costs one or two kernel invocations
(with per-core memories, one more for each host slot the run stored, whose words are
read from the copies that stored them: a read ``("read", base, count, core)`` is a
STORE naming ``core``).

The image holds every transfer packed as the kernel's AXI beats carry it
(:class:`.commands.Layout` at ``axi_data_bits``), each transfer starting on a beat.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...hw.host import Driver
from ...hw.hostmap import HostMap
from .commands import DEFAULT_AXI_DATA_BITS, Command, encode_commands, layout

Executor = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: the packed tuples a CommandDriver keeps (a few programs' tables and instructions)
PACKED_KEPT = 64


class CommandBatch:
    """One kernel invocation being assembled: commands and the image they point into."""

    def __init__(self, hostmap: HostMap, axi_data_bits: int = DEFAULT_AXI_DATA_BITS):
        self.hostmap = hostmap
        self.axi_data_bits = axi_data_bits
        self.commands: list[Command] = []
        self.chunks: list[np.ndarray] = []
        self.size = 0              # image words so far (whole beats)
        self.reads: list[tuple[int, int, object]] = []    # (image word, count, layout)

    def _layout(self, memory: str):
        return layout(self.hostmap, memory, self.axi_data_bits)

    def _reserve(self, words: np.ndarray | int) -> int:
        """Append a chunk (whole units, so whole beats); its first image word."""
        at = self.size
        chunk = np.zeros(words, np.uint64) if isinstance(words, int) else words
        self.chunks.append(chunk)
        self.size += len(chunk)
        return at

    def load(self, memory: str, base: int, values: list[int], core: int = 0,
             packed: np.ndarray | None = None) -> None:
        """Queue a write of ``values`` (``packed``: their words as the layout packs
        them, if the caller has them)."""
        at = self._reserve(self._layout(memory).pack(values) if packed is None else packed)
        self.commands.append(Command("LOAD", memory, core, base, len(values), 8 * at))

    def run(self, pre_fmt: int) -> None:
        # the pre-activation format travels as a LOAD of the config register "memory":
        # the kernel keeps it in a register the core reads (host_pre_fmt)
        self.commands.append(Command("RUN", "data", 0, pre_fmt, 0, 0))

    def store(self, base: int, count: int, core: int = 0) -> int:
        """Queue a read of ``count`` data-memory words (of core ``core``'s copy, on a
        design with per-core memories); returns a handle for result()."""
        lay = self._layout("data")
        at = self._reserve(lay.words(count))
        self.commands.append(Command("STORE", "data", core, base, count, 8 * at))
        self.reads.append((at, count, lay))
        return len(self.reads) - 1

    def stats(self, core: int, kind: str, first: int, count: int) -> int:
        lay = self._layout(kind)
        at = self._reserve(lay.words(count))
        self.commands.append(Command("STATS", kind, core, first, count, 8 * at))
        self.reads.append((at, count, lay))
        return len(self.reads) - 1

    def empty(self) -> bool:
        return not self.commands

    def encode(self) -> tuple[np.ndarray, np.ndarray]:
        beat_words = self.axi_data_bits // 64
        image = np.concatenate(self.chunks) if self.chunks else np.zeros(beat_words, np.uint64)
        return encode_commands(self.commands, self.axi_data_bits // 8), image

    def result(self, image: np.ndarray, handle: int) -> list[int]:
        at, count, lay = self.reads[handle]
        return lay.unpack(image[at:at + lay.words(count)], count)


class CommandDriver(Driver):
    """A Driver that speaks the command protocol through ``execute``."""

    def __init__(self, hostmap: HostMap, execute: Executor,
                 axi_data_bits: int = DEFAULT_AXI_DATA_BITS):
        self.hostmap = hostmap
        self.execute = execute
        self.axi_data_bits = axi_data_bits
        self.batch = self._new_batch()
        self.invocations = 0
        #: id -> (tuple, memory, its packed words): see :meth:`write`
        self._packed: dict[int, tuple] = {}

    def _new_batch(self) -> CommandBatch:
        return CommandBatch(self.hostmap, self.axi_data_bits)

    def _flush(self, batch: CommandBatch) -> np.ndarray:
        commands, image = batch.encode()
        self.invocations += 1
        return self.execute(commands, image)

    def write(self, memory: str, base: int, values: list[int], core: int = 0) -> None:
        if not values:
            return
        packed = None
        if isinstance(values, tuple):
            # an immutable sequence (a loaded program's descriptors, slots and
            # instructions, written again at every switch between programs): packed
            # once (the entry keeps the tuple, so its id stays its own)
            hit = self._packed.get(id(values))
            if hit is not None and hit[0] is values and hit[1] == memory:
                packed = hit[2]
            else:
                packed = layout(self.hostmap, memory, self.axi_data_bits).pack(values)
                if len(self._packed) >= PACKED_KEPT:
                    self._packed.pop(next(iter(self._packed)))
                self._packed[id(values)] = (values, memory, packed)
        self.batch.load(memory, base, values, core, packed)

    def write_data(self, base: int, values: np.ndarray, bits: int) -> None:
        if bits != self.hostmap.word:
            raise ValueError(f"{bits}-bit data words on a {self.hostmap.word}-bit core")
        if len(values):
            self.batch.load("data", base, np.asarray(values, dtype=np.int64).reshape(-1))

    def run(self, pre_fmt: int, max_cycles: int) -> None:
        self.batch.run(pre_fmt)

    def read(self, base: int, count: int, core: int = 0) -> list[int]:
        return self.gather([("read", base, count, core)])[0]

    def stat(self, core: int, kind: str, addrs: list[int]) -> list[int]:
        return self.gather([("stat", core, kind, addrs)])[0]

    def gather(self, requests: list[tuple]) -> list[list[int]]:
        """Every read in the invocation that carries the queued writes and runs."""
        if not requests:
            return []
        for r in requests:
            addrs = r[3] if r[0] == "stat" else None
            if addrs and addrs != list(range(addrs[0], addrs[0] + len(addrs))):
                raise ValueError("statistics are read in one contiguous run of ids")
        batch, self.batch = self.batch, self._new_batch()
        handles = []
        for r in requests:
            if r[0] == "read":               # ("read", base, count[, core])
                handles.append(batch.store(*r[1:]) if r[2] else None)
            else:
                core, kind, addrs = r[1:]
                handles.append(batch.stats(core, kind, addrs[0], len(addrs))
                               if addrs else None)
        if all(h is None for h in handles):
            self.batch = batch                   # nothing to read: keep what is queued
            return [[] for _ in requests]
        image = self._flush(batch)
        return [[] if h is None else batch.result(image, h) for h in handles]

    def close(self) -> None:
        if not self.batch.empty():
            batch, self.batch = self.batch, self._new_batch()
            self._flush(batch)


def model_executor(hostmap: HostMap, driver: Driver, max_cycles: int = 10**9,
                   axi_data_bits: int = DEFAULT_AXI_DATA_BITS) -> Executor:
    """The kernel's command semantics in Python, over another Driver (a software
    model of the kernel: what the RTL wrapper must do, for testing the host side)."""
    from .commands import command_problem, decode_commands

    def execute(commands: np.ndarray, image: np.ndarray) -> np.ndarray:
        image = np.array(image, dtype=np.uint64)
        for n, c in enumerate(decode_commands(commands)):
            problem = command_problem(hostmap, c)
            if problem:
                raise ValueError(f"command {n}: {problem}")
            at = c.offset // 8
            if c.opcode == "LOAD":
                lay = layout(hostmap, c.memory, axi_data_bits)
                driver.write(c.memory, c.address,
                             lay.unpack(image[at:at + lay.words(c.count)], c.count), c.core)
            elif c.opcode == "STORE":
                packed = layout(hostmap, "data", axi_data_bits).pack(
                    driver.read(c.address, c.count, c.core))
                image[at:at + len(packed)] = packed
            elif c.opcode == "STATS":
                values = driver.stat(c.core, c.memory, list(range(c.address,
                                                                  c.address + c.count)))
                packed = layout(hostmap, c.memory, axi_data_bits).pack(values)
                image[at:at + len(packed)] = packed
            elif c.opcode == "RUN":
                driver.run(c.address, max_cycles)
            else:
                raise ValueError(f"command {n}: unknown opcode {c.opcode}")
        return image

    return execute
