"""The core's data memories: one PyRTL ``MemBlock(asynchronous=False)`` per memory of
the placement (:data:`fixar_gen.memory_kinds.MEMORIES`: ``wmem``, ``mmem``, ...), each
at its own word width and depth, behind one interface the units use with the memory
id a buffer descriptor names.

A read registers its address and memory id (a synchronous read: the word arrives in
the next cycle) and returns that memory's word sign-extended to the datapath word; a
write stores the low bits of the datapath word in the memory its id names.  A value
loses no bits when its memory's width is at least its buffer's stored width
(:func:`fixar_gen.memory_kinds.stored_width`; :func:`fixar_gen.hw.design.
hardware_limits` refuses a program where it is not).

Each memory has the read and write ports the units need each cycle (step 2 of the plan
in docs/hardware.md keeps the port count of the one scratchpad it replaces, per
memory); banking them to one primitive's ports is the plan's later steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyrtl

from ..memory_kinds import MEMORIES

#: bits of a memory id in a buffer descriptor and in the host's data address
MEMORY_ID_BITS = max(1, (len(MEMORIES) - 1).bit_length())


def memory_id(name: str) -> int:
    """The id of memory ``name`` (its index in :data:`MEMORIES`)."""
    return MEMORIES.index(name)


@dataclass(frozen=True)
class MemoryShape:
    """One data memory as generated: ``width``-bit words, ``2^addr_bits`` of them, or
    with ``tail_bits`` (< ``addr_bits`` - 1) ``2^(addr_bits - 1) + 2^tail_bits``: a
    RAM of the lower half and a small one (``mem_<name>_tail``) above it, so that a
    memory just over a power of two does not double."""

    name: str
    width: int
    addr_bits: int
    tail_bits: int | None = None

    def __post_init__(self):
        if self.tail_bits is not None and not 1 <= self.tail_bits < self.addr_bits - 1:
            raise ValueError(f"memory {self.name}: tail of 2^{self.tail_bits} words "
                             f"beside 2^{self.addr_bits - 1}")

    @property
    def depth(self) -> int:
        return sum(d for _, d in self.blocks)

    @property
    def block_name(self) -> str:
        return f"mem_{self.name}"

    @property
    def blocks(self) -> tuple[tuple[str, int], ...]:
        """(MemBlock name, words) of the RAMs it is built from, lowest addresses first."""
        if self.tail_bits is None:
            return ((self.block_name, 1 << self.addr_bits),)
        return ((self.block_name, 1 << (self.addr_bits - 1)),
                (f"{self.block_name}_tail", 1 << self.tail_bits))

    def locate(self, offset: int) -> tuple[str, int]:
        """(MemBlock name, address in it) of word ``offset``."""
        for name, words in self.blocks:
            if offset < words:
                return name, offset
            offset -= words
        raise ValueError(f"word {offset} is beyond memory {self.name}")


def fitted_shape(name: str, width: int, words: int, tails: bool = True) -> MemoryShape:
    """The smallest :class:`MemoryShape` of ``words`` words or more: a power of two, or
    (``tails``) half the next one plus a smaller power of two."""
    bits = max(1, (max(words, 2) - 1).bit_length())
    half = 1 << (bits - 1)
    if tails and bits >= 2 and words > half:
        tail = max(1, (words - half - 1).bit_length())
        if tail < bits - 1:
            return MemoryShape(name, width, bits, tail)
    return MemoryShape(name, width, bits)


def _z(value, bits: int) -> pyrtl.WireVector:
    value = pyrtl.as_wires(value)
    return value[:bits] if value.bitwidth >= bits else value.zero_extended(bits)


class DataMemories:
    """The data memories of a design (shared by its cores, as the scratchpad was)."""

    def __init__(self, shapes: tuple[MemoryShape, ...], word: int, addr_bits: int,
                 read_ports: int, write_ports: int):
        if [s.name for s in shapes] != list(MEMORIES):
            raise ValueError(f"one shape per memory of {MEMORIES}, in that order")
        for s in shapes:
            if not 1 <= s.width <= word or not 1 <= s.addr_bits <= addr_bits:
                raise ValueError(f"memory {s.name}: {s.width} bits x 2^{s.addr_bits} words "
                                 f"is beyond the {word}-bit word or {addr_bits} "
                                 "address bits")
        self.shapes = shapes
        self.word = word
        self.addr_bits = addr_bits
        # per memory, its RAMs: (MemBlock, address bits)
        self.blocks = [[(pyrtl.MemBlock(s.width, (words - 1).bit_length(), name=name,
                                        asynchronous=False, max_read_ports=read_ports,
                                        max_write_ports=write_ports),
                         (words - 1).bit_length()) for name, words in s.blocks]
                       for s in shapes]

    def read(self, mem_id, address, name: str) -> pyrtl.WireVector:
        """A synchronous read: ``address`` of memory ``mem_id`` registered (``name``,
        ``name``_mem) at the end of this cycle; the word, sign-extended to the
        datapath word, in the next."""
        addr = pyrtl.Register(self.addr_bits, name=name)
        addr.next <<= _z(address, self.addr_bits)
        which = pyrtl.Register(MEMORY_ID_BITS, name=f"{name}_mem")
        which.next <<= _z(mem_id, MEMORY_ID_BITS)
        return self.read_registered(which, addr)

    def read_registered(self, which: pyrtl.Register, addr: pyrtl.Register
                        ) -> pyrtl.WireVector:
        """The word at a registered address ``addr`` of the registered memory id
        ``which`` (a read-modify-write that writes back to ``addr``)."""
        words = []
        for shape, blocks in zip(self.shapes, self.blocks):
            raw = pyrtl.WireVector(shape.width)
            parts = [block[addr[:bits]] for block, bits in blocks]
            top = addr[shape.addr_bits - 1]
            raw <<= parts[0] if len(parts) == 1 else pyrtl.select(top, parts[1], parts[0])
            words.append(raw[:self.word] if shape.width >= self.word
                         else raw.sign_extended(self.word))
        padded = words + [words[-1]] * ((1 << MEMORY_ID_BITS) - len(words))
        out = pyrtl.WireVector(self.word)
        out <<= pyrtl.mux(which, *padded)
        return out

    def write(self, mem_id, address, value, enable) -> None:
        """Write the low bits of ``value`` at ``address`` of memory ``mem_id`` when
        ``enable``."""
        mem_id = _z(mem_id, MEMORY_ID_BITS)
        value = pyrtl.as_wires(value)
        address = _z(address, self.addr_bits)
        for k, (shape, blocks) in enumerate(zip(self.shapes, self.blocks)):
            here = enable & (mem_id == k)
            top = address[shape.addr_bits - 1]
            for j, (block, bits) in enumerate(blocks):
                ok = here if len(blocks) == 1 else here & (top if j else ~top)
                block[address[:bits]] <<= pyrtl.MemBlock.EnabledWrite(
                    _z(value, shape.width), ok)
