"""Drivers of a generated core: PyRTL's FastSimulation and a Verilator model, both
behind :class:`fixar_gen.hw.host.Driver`.

The PyRTL driver reaches the memories directly (the simulator's own dictionaries: a
host write costs no simulated cycles); the Verilator driver goes through the host
ports of :mod:`fixar_gen.hw.hostmap`, as a board would, one word a cycle, leaving out
the zeros written over words that still hold the zero the model started with
(:mod:`fixar_gen.hw.zero_words`: the same memory contents, without the millions of
edges that zeroing a big core's buffers would take)."""

from __future__ import annotations

import pyrtl

from ..memory_kinds import MEMORIES
from .core import CoreConfig
from .host import PROGRESS_CYCLES, STAT_KIND_INDEX, Driver
from .hostmap import HOST_READ_LATENCY, STAT_BITS
from .verilate import SimTimeout
from .zero_words import ZeroWords


class RunTimeout(RuntimeError):
    """The core did not finish within the cycle budget (a hardware bug)."""


def _memories(block: pyrtl.Block) -> dict[str, pyrtl.MemBlock]:
    out = {}
    for net in block.logic:
        if net.op in "m@":
            mem = net.op_param[1]
            out[mem.name] = mem
    return out


class PyrtlDriver(Driver):
    """The design in ``pyrtl.FastSimulation`` (compiled to Python once per design)."""

    def __init__(self, cfg: CoreConfig, block: pyrtl.Block):
        self.cfg = cfg
        self.block = block
        self.sim = pyrtl.FastSimulation(tracer=None, block=block)
        self.mems = _memories(block)
        self.inputs = {w.name: 0 for w in block.wirevector_subset(pyrtl.Input)}

    def _mem(self, name: str) -> dict[int, int]:
        return self.sim.inspect_mem(self.mems[name])

    def write(self, memory: str, base: int, values: list[int], core: int = 0) -> None:
        if memory == "imem":
            store = self._mem(f"core{core}_imem")
            for offset, value in enumerate(values):
                store[base + offset] = int(value)
            return
        # as the host ports do: with per-core memories the address's core field names
        # the copy (HostMap.copy_of)
        copy, base = self.cfg.hostmap.copy_of(memory, base)
        if memory == "data":
            # the memory the address names keeps the low bits
            mem, offset = self.cfg.hostmap.split_address(base)
            shape = self.cfg.memory(mem)
            mask = (1 << shape.width) - 1
            for k, value in enumerate(values):
                block, at = self.cfg.locate(mem, offset + k, copy)
                self._mem(block)[at] = int(value) & mask
            return
        store = self._mem(f"{self.cfg.memory_prefix(copy)}mem_{memory}")
        for offset, value in enumerate(values):
            store[base + offset] = int(value)

    def read(self, base: int, count: int, core: int = 0) -> list[int]:
        # as the host port does: the word sign-extended to the datapath word (of core
        # ``core``'s copy, with per-core memories)
        mem, offset = self.cfg.hostmap.split_address(base)
        shape = self.cfg.memory(mem)
        top, word_mask = 1 << (shape.width - 1), (1 << self.cfg.word) - 1
        copy = core if self.cfg.per_core_memories else 0
        out = []
        for k in range(count):
            block, at = self.cfg.locate(mem, offset + k, copy)
            raw = self._mem(block).get(at, 0)
            out.append((raw - 2 * top if raw & top else raw) & word_mask)
        return out

    def stat(self, core: int, kind: str, addrs: list[int]) -> list[int]:
        if kind == "cycles":
            return [self.sim.inspect(f"core{core}_cycles")] * len(addrs)
        # a buffer's count: its two counter memories' (the destination's, e's)
        mask = (1 << STAT_BITS) - 1
        d, e = self._mem(f"core{core}_sat_d"), self._mem(f"core{core}_sat_e")
        return [(d.get(a, 0) + e.get(a, 0)) & mask for a in addrs]

    def run(self, pre_fmt: int, max_cycles: int) -> None:
        inputs = dict(self.inputs)
        inputs["host_pre_fmt"] = pre_fmt
        inputs["host_start"] = 1
        self.sim.step(inputs)
        inputs["host_start"] = 0
        report = self.on_cycles
        for cycle in range(1, max_cycles + 1):
            self.sim.step(inputs)
            if self.sim.inspect("host_done"):
                return
            if report is not None and cycle % PROGRESS_CYCLES == 0:
                report(cycle)
        raise RunTimeout(f"the core did not finish in {max_cycles} cycles")


class VerilatorDriver(Driver):
    """The design's Verilog compiled by Verilator, driven through its host ports."""

    def __init__(self, cfg: CoreConfig, sim):
        self.cfg = cfg
        self.sim = sim
        #: data memory words known to hold zero (the model starts with all of them),
        #: per copy with per-core memories
        self.zeros = ZeroWords({(c, m): cfg.memory(m).depth for m in MEMORIES
                                for c in range(cfg.copies)})
        #: data words the host port has written and left out (zeros over zeros)
        self.words_written = self.words_skipped = 0

    def write(self, memory: str, base: int, values: list[int], core: int = 0) -> None:
        if not values:
            return
        prefix = {"data": "host_mem", "desc": "host_desc", "slot": "host_slot",
                  "imem": "host_imem"}[memory]
        if memory == "imem":
            self.sim.poke("host_imem_core", core)
        values = [int(v) for v in values]
        runs = [(0, len(values))]
        if memory == "data":
            hm = self.cfg.hostmap
            copy, address = hm.copy_of("data", base)
            mem, offset = hm.split_address(address)
            runs = self.zeros.to_write((copy, mem), offset, values)
            sent = sum(stop - start for start, stop in runs)
            self.words_written += sent
            self.words_skipped += len(values) - sent
        for start, stop in runs:
            self.sim.write_burst(f"{prefix}_addr", f"{prefix}_wdata", f"{prefix}_we",
                                 base + start, values[start:stop])

    def read(self, base: int, count: int, core: int = 0) -> list[int]:
        if count == 0:
            return []
        hm = self.cfg.hostmap
        return self.sim.read_burst("host_mem_raddr", "host_mem_rdata",
                                   hm.read_address(base, core), count,
                                   latency=HOST_READ_LATENCY)

    def stat(self, core: int, kind: str, addrs: list[int]) -> list[int]:
        self.sim.poke("host_stat_core", core)
        self.sim.poke("host_stat_kind", STAT_KIND_INDEX[kind])
        if not addrs:
            return []
        if addrs != list(range(addrs[0], addrs[0] + len(addrs))):
            raise ValueError("statistics are read in one contiguous run of ids")
        out = self.sim.read_burst("host_stat_addr", "host_stat_rdata", addrs[0], len(addrs),
                                  latency=HOST_READ_LATENCY)
        return [v & ((1 << STAT_BITS) - 1) for v in out]

    def run(self, pre_fmt: int, max_cycles: int) -> None:
        self.zeros.forget()            # the core's programs write its memories
        self.sim.poke("host_pre_fmt", pre_fmt)
        self.sim.poke("host_start", 1)
        self.sim.step(1)
        self.sim.poke("host_start", 0)
        if self.on_cycles is None:
            self.sim.run_until("host_done", 1, max_cycles)
            return
        done = 0                 # in slices, reporting between them
        while True:
            piece = min(8 * PROGRESS_CYCLES, max_cycles - done)
            try:
                self.sim.run_until("host_done", 1, piece)
                return
            except SimTimeout:
                done += piece
                if done >= max_cycles:
                    raise SimTimeout(f"host_done did not become 1 in {max_cycles} "
                                     "cycles") from None
                self.on_cycles(done)

    def close(self) -> None:
        self.sim.close()
