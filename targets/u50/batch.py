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
something is read back).  So one training step costs one or two kernel invocations.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...hw.host import Driver
from ...hw.hostmap import HostMap
from .commands import (Command, encode_commands, entry_bits, entry_words, pack_entries,
                       unpack_entries)

Executor = Callable[[np.ndarray, np.ndarray], np.ndarray]


class CommandBatch:
    """One kernel invocation being assembled: commands and the image they point into."""

    def __init__(self, hostmap: HostMap):
        self.hostmap = hostmap
        self.commands: list[Command] = []
        self.chunks: list[np.ndarray] = []
        self.size = 0              # image words so far
        self.reads: list[tuple[int, int, int]] = []    # (image word, count, bits)

    def _reserve(self, words: np.ndarray | int) -> int:
        at = self.size
        chunk = np.zeros(words, np.uint64) if isinstance(words, int) else words
        self.chunks.append(chunk)
        self.size += len(chunk)
        return at

    def load(self, memory: str, base: int, values: list[int], core: int = 0) -> None:
        bits = entry_bits(self.hostmap, memory)
        at = self._reserve(pack_entries(values, bits))
        self.commands.append(Command("LOAD", memory, core, base, len(values), 8 * at))

    def run(self, pre_fmt: int) -> None:
        # the pre-activation format travels as a LOAD of the config register "memory":
        # the kernel keeps it in a register the core reads (host_pre_fmt)
        self.commands.append(Command("RUN", "data", 0, pre_fmt, 0, 0))

    def store(self, base: int, count: int) -> int:
        """Queue a read of ``count`` data-memory words; returns a handle for result()."""
        bits = entry_bits(self.hostmap, "data")
        at = self._reserve(count * entry_words(bits))
        self.commands.append(Command("STORE", "data", 0, base, count, 8 * at))
        self.reads.append((at, count, bits))
        return len(self.reads) - 1

    def stats(self, core: int, kind: str, first: int, count: int) -> int:
        bits = entry_bits(self.hostmap, kind)
        at = self._reserve(count * entry_words(bits))
        self.commands.append(Command("STATS", kind, core, first, count, 8 * at))
        self.reads.append((at, count, bits))
        return len(self.reads) - 1

    def empty(self) -> bool:
        return not self.commands

    def encode(self) -> tuple[np.ndarray, np.ndarray]:
        image = np.concatenate(self.chunks) if self.chunks else np.zeros(1, np.uint64)
        return encode_commands(self.commands), image

    def result(self, image: np.ndarray, handle: int) -> list[int]:
        at, count, bits = self.reads[handle]
        n = entry_words(bits)
        return unpack_entries(image[at:at + count * n], bits)


class CommandDriver(Driver):
    """A Driver that speaks the command protocol through ``execute``."""

    def __init__(self, hostmap: HostMap, execute: Executor):
        self.hostmap = hostmap
        self.execute = execute
        self.batch = CommandBatch(hostmap)
        self.invocations = 0

    def _flush(self, batch: CommandBatch) -> np.ndarray:
        commands, image = batch.encode()
        self.invocations += 1
        return self.execute(commands, image)

    def write(self, memory: str, base: int, values: list[int], core: int = 0) -> None:
        if values:
            self.batch.load(memory, base, values, core)

    def run(self, pre_fmt: int, max_cycles: int) -> None:
        self.batch.run(pre_fmt)

    def read(self, base: int, count: int) -> list[int]:
        if count == 0:
            return []
        batch, self.batch = self.batch, CommandBatch(self.hostmap)
        handle = batch.store(base, count)
        return batch.result(self._flush(batch), handle)

    def stat(self, core: int, kind: str, addrs: list[int]) -> list[int]:
        if not addrs:
            return []
        if addrs != list(range(addrs[0], addrs[0] + len(addrs))):
            raise ValueError("statistics are read in one contiguous run of ids")
        batch, self.batch = self.batch, CommandBatch(self.hostmap)
        handle = batch.stats(core, kind, addrs[0], len(addrs))
        return batch.result(self._flush(batch), handle)

    def close(self) -> None:
        if not self.batch.empty():
            batch, self.batch = self.batch, CommandBatch(self.hostmap)
            self._flush(batch)


def model_executor(hostmap: HostMap, driver: Driver, max_cycles: int = 10**9) -> Executor:
    """The kernel's command semantics in Python, over another Driver (a software
    model of the kernel: what the RTL wrapper must do, for testing the host side)."""
    from .commands import COMMAND_WORDS, MEMORIES, OPCODES
    from ...hw.hostmap import STAT_KINDS

    def execute(commands: np.ndarray, image: np.ndarray) -> np.ndarray:
        image = np.array(image, dtype=np.uint64)
        words = [int(w) for w in commands]
        for i in range(0, len(words), COMMAND_WORDS):
            head, address, count, offset = words[i:i + COMMAND_WORDS]
            opcode = OPCODES[head & 0xFF]
            field, core = (head >> 8) & 0xFF, (head >> 16) & 0xFF
            at = offset // 8
            if opcode == "END":
                break
            if opcode == "LOAD":
                memory = MEMORIES[field]
                bits = entry_bits(hostmap, memory)
                n = entry_words(bits)
                driver.write(memory, address, unpack_entries(image[at:at + count * n], bits),
                             core)
            elif opcode == "STORE":
                bits = entry_bits(hostmap, "data")
                packed = pack_entries(driver.read(address, count), bits)
                image[at:at + len(packed)] = packed
            elif opcode == "STATS":
                kind = STAT_KINDS[field]
                bits = entry_bits(hostmap, kind)
                values = driver.stat(core, kind, list(range(address, address + count)))
                packed = pack_entries(values, bits)
                image[at:at + len(packed)] = packed
            elif opcode == "RUN":
                driver.run(address, max_cycles)
        return image

    return execute
