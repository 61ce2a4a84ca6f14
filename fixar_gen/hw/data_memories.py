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

The memories of the element loop's lines (:data:`fixar_gen.memory_kinds.
BANKED_MEMORIES`: gradients and deltas, optimizer state; the matrix unit reads a
delta's line of ``gmem`` too) are interleaved banks with a line read and a line write
port per core (:class:`~fixar_gen.hw.banked.InterleavedBanks`: one
primitive's ports on a one-core design, so block RAM); the accumulators (``cmem``)
are banks with halves: a double line a cycle (:meth:`DataMemories.read_double`,
:meth:`DataMemories.write_double`, and two element-loop requests of one cycle served
as its two half lines); so are the weights (``wmem``: soft_update's target and
parameter as the two half lines), whose port also serves the matrix unit's weight row
as one strided line (:meth:`DataMemories.read_strided`); so are the activations
(``amem``: 4P banks, the matrix unit's activation line, row pair or column as one
strided line of 2R words); ``smem`` still has a read and a write port per word its
units read or write (a few words).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyrtl

from ..memory_kinds import MEMORIES
from .banked import InterleavedBanks, interleaved_bank_shape
from .build import Scope, one_hot_pick
from .build import any_bit as _any, zext as _z

#: bits of a memory id in a buffer descriptor and in the host's data address
MEMORY_ID_BITS = max(1, (len(MEMORIES) - 1).bit_length())


def memory_id(name: str) -> int:
    """The id of memory ``name`` (its index in :data:`MEMORIES`)."""
    return MEMORIES.index(name)


def bank_options(shape: "MemoryShape", banks: int, *, halves: bool, strided: int,
                 line_words: int | None) -> dict:
    """The :class:`~fixar_gen.hw.banked.InterleavedBanks` options of a banked memory
    (all but its scope and ports): what :class:`DataMemories` builds it with, and what
    benchmarks/line_ports.py synthesizes alone."""
    return {"banks": banks, "width": shape.width, "addr_bits": shape.addr_bits,
            "tail_bits": shape.tail_bits, "halves": halves, "strided": strided,
            "line_words": line_words}


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


def bank_blocks(shape: MemoryShape, banks: int) -> tuple[tuple[str, int], ...]:
    """(MemBlock name, words) of every RAM of ``shape`` built of ``banks`` interleaved
    banks (:class:`~fixar_gen.hw.banked.InterleavedBanks`), bank by bank."""
    bits = interleaved_bank_shape(banks, shape.addr_bits, shape.tail_bits)
    return tuple((f"{shape.block_name}_bank{b}" + ("_tail" if k else ""), 1 << n)
                 for b in range(banks) for k, n in enumerate(bits))


def locate_banked(shape: MemoryShape, banks: int, offset: int) -> tuple[str, int]:
    """(MemBlock name, address in it) of word ``offset`` of ``shape`` built of
    ``banks`` interleaved banks: bank ``offset mod banks``, address ``offset div
    banks`` (in its tail RAM beyond the main one)."""
    if not 0 <= offset < shape.depth:
        raise ValueError(f"word {offset} is beyond memory {shape.name}")
    lb = banks.bit_length() - 1
    bank, at = offset % banks, offset >> lb
    bits = interleaved_bank_shape(banks, shape.addr_bits, shape.tail_bits)
    if len(bits) > 1 and at >= 1 << bits[0]:
        return f"{shape.block_name}_bank{bank}_tail", at - (1 << bits[0])
    return f"{shape.block_name}_bank{bank}", at


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


#: the most words of a RAM Yosys 0.70 puts in LUT RAM rather than block RAM when its
#: reads are synchronous (``synth_xilinx -family xcup``: RAM32M16 / RAM64M8 cost less
#: than a RAMB18E2 at 32 and 64 words, block RAM from 128 on, 32 and 82 bits wide)
LUT_RAM_WORDS = 64
#: the most bits of a RAM that may stay in LUT RAM (a small register file); a bank's
#: tail above it is deepened into block RAM (:func:`tail_in_block_ram`)
LUT_RAM_BITS = 2 * 1024


def tail_in_block_ram(shape: MemoryShape, banks: int | None) -> MemoryShape:
    """``shape`` built of ``banks`` interleaved banks (None: one RAM) with a tail whose
    share a bank, at ``LUT_RAM_WORDS`` words or fewer and more than ``LUT_RAM_BITS``
    bits, would be LUT RAM: the tail deepened to twice ``LUT_RAM_WORDS`` words a bank
    (block RAM), or dropped (the main RAMs doubled) when that is not smaller than the
    main RAMs; any other shape as it is."""
    if shape.tail_bits is None:
        return shape
    lb = max(1, banks or 1).bit_length() - 1
    if len(interleaved_bank_shape(1 << lb, shape.addr_bits, shape.tail_bits)) < 2:
        return shape                     # the banks have no tail RAM (main RAMs doubled)
    words = 1 << (shape.tail_bits - lb)
    if words > LUT_RAM_WORDS or words * shape.width <= LUT_RAM_BITS:
        return shape
    deeper = lb + (2 * LUT_RAM_WORDS).bit_length() - 1
    return MemoryShape(shape.name, shape.width, shape.addr_bits,
                       deeper if deeper < shape.addr_bits - 1 else None)


@dataclass(frozen=True)
class _LineRead:
    """A request for a line port: ``want`` it in this cycle, the line at ``address`` of
    memory ``mem_id`` (one of ``memories``); ``host``: the host's, served when no core's
    is; ``second``: a double line's second start (None: H past ``address``); ``flag``:
    the wire that tells the request it was served as the second half line (None: it
    reads no memory with halves); ``asks``: {memory: 1 exactly when the request wants
    the port and names that memory}, when the caller has it registered (else ``want``
    and ``mem_id`` decide); ``asks_next``: {memory: what the request asks of that
    memory in the next cycle}, when the caller knows it a cycle ahead: the port's choice
    is then registered a cycle ahead (:meth:`DataMemories._grants`), or where it is not,
    the asks are (registers ``ask_name.format(memory=...)``, made where read);
    ``gated_next``: {memory: ((gate, condition), ...)}, the same next asks as a sum of
    terms ``gate & condition`` whose gates are the requester's next states (the
    contract of :meth:`DataMemories._grants`)."""

    port: int
    mem_id: pyrtl.WireVector
    address: pyrtl.WireVector
    want: pyrtl.WireVector
    host: bool
    second: pyrtl.WireVector | None
    flag: pyrtl.WireVector | None
    memories: tuple[str, ...]
    asks: dict | None = None
    asks_next: dict | None = None
    ask_name: str | None = None
    gated_next: dict | None = None
    _registered: dict = field(default_factory=dict, compare=False)

    def asking(self, memory: str) -> pyrtl.WireVector:
        """1 when the request wants the port and names ``memory``."""
        if self.asks is not None:
            return self.asks[memory]
        if self.asks_next is not None:
            if memory not in self._registered:
                reg = pyrtl.Register(1, name=self.ask_name.format(memory=memory))
                reg.next <<= self.asks_next[memory]
                self._registered[memory] = reg
            return self._registered[memory]
        return self.want & (self.mem_id == memory_id(memory))

    def asking_next(self, memory: str) -> pyrtl.WireVector | None:
        """What :meth:`asking` is in the next cycle, None when the caller did not say."""
        return None if self.asks_next is None else self.asks_next[memory]


def _by_gates(decide, asks: list, terms: list) -> dict:
    """``decide(asks)`` (a dict of 1-bit wires and lists of them, each 0 when nothing
    asks) computed gate by gate: ``terms[i]`` states request i's ask as a sum of terms
    ``gate & condition`` (None: its ask is ``asks[i]``, outside every gate).  The
    contract: the gates are never 1 together, and a request without terms never asks
    while a gate is 1 (a unit's requests gated by its next state, the others' by their
    own unit's).  Then, by the expansion of ``decide`` over the gates, it is ``decide``
    of each gate's conditions ANDed with the gate, ORed with ``decide`` of the ungated
    asks: the choice among the conditions does not wait for the gates (which come
    through the next state), and a gate joins with one AND."""
    if all(t is None for t in terms):
        return decide(asks)
    zero = pyrtl.Const(0, 1)
    gates = []
    for t in terms:
        for gate, _ in t or ():
            if not any(gate is g for g in gates):
                gates.append(gate)
    parts = [(None, decide([a if t is None else zero for a, t in zip(asks, terms)]))]
    for gate in gates:
        conds = [_any([c for g, c in t if g is gate]) if t is not None else zero
                 for t in terms]
        parts.append((gate, decide(conds)))

    def join(values):
        if any(v is None for _, v in values):      # (a value ``decide`` leaves out)
            return None
        return _any([v if g is None else g & v for g, v in values])
    return {key: ([join([(g, d[key][i]) for g, d in parts])
                   for i in range(len(value))] if isinstance(value, list)
                  else join([(g, d[key]) for g, d in parts]))
            for key, value in parts[0][1].items()}


class DataMemories:
    """The data memories of a design (shared by its cores, as the scratchpad was).

    A memory named in ``banks`` (name -> banks, a power of two) is built of
    interleaved banks (:class:`~fixar_gen.hw.banked.InterleavedBanks`) with
    ``line_ports`` line ports (one per core): the units reach it only through
    :meth:`read_lanes` and :meth:`write_lanes`, which ask for a line of adjacent words,
    and :meth:`finish` gives each port to the request that names the memory in that
    cycle (the programs ask for at most one read and one write line per memory, core
    and cycle: :mod:`fixar_gen.memory_access`; the host's requests come last and have
    the port when no core asks); ``line_words`` (name -> words) the words of a read line
    the units take of a memory whose line is wider than its readers (``amem``).  The other memories keep a read and a write port per
    word the units read or write."""

    def __init__(self, shapes: tuple[MemoryShape, ...], word: int, addr_bits: int,
                 read_ports: int, write_ports: int, banks: dict[str, int] | None = None,
                 line_ports: int = 1, halves: tuple[str, ...] = (),
                 strided: dict[str, int] | None = None,
                 line_words: dict[str, int] | None = None, prefix: str = ""):
        if [s.name for s in shapes] != list(MEMORIES):
            raise ValueError(f"one shape per memory of {MEMORIES}, in that order")
        for s in shapes:
            if not 1 <= s.width <= word or not 1 <= s.addr_bits <= addr_bits:
                raise ValueError(f"memory {s.name}: {s.width} bits x 2^{s.addr_bits} words "
                                 f"is beyond the {word}-bit word or {addr_bits} "
                                 "address bits")
        banks = dict(banks or {})
        unknown = set(banks) - set(MEMORIES)
        if unknown:
            raise ValueError(f"banks for unknown memories {sorted(unknown)}")
        self.shapes = shapes
        #: what the names of its MemBlocks and port registers start with (a core's copy)
        self.prefix = prefix
        self.word = word
        self.addr_bits = addr_bits
        # per memory, its RAMs: (MemBlock, address bits); none for a banked memory
        self.blocks = [[] if s.name in banks else
                       [(pyrtl.MemBlock(s.width, (words - 1).bit_length(),
                                        name=prefix + name,
                                        asynchronous=False, max_read_ports=read_ports,
                                        max_write_ports=write_ports),
                         (words - 1).bit_length()) for name, words in s.blocks]
                       for s in shapes]
        strided = dict(strided or {})
        for what, names in (("halves", halves), ("strided reads", strided)):
            if set(names) - set(banks):
                raise ValueError(f"{what} for {sorted(set(names) - set(banks))}: not banked")
        self.banked = {s.name: InterleavedBanks(
            Scope(prefix + s.block_name), ports=line_ports, given_lines=True,
            given_banks=True, **bank_options(s, banks[s.name], halves=s.name in halves,
                                             strided=strided.get(s.name, 0),
                                             line_words=(line_words or {}).get(s.name)))
            for s in shapes if s.name in banks}
        self.line_ports = line_ports
        # requests on the banked memories' line ports, the host's last: reads
        # (:class:`_LineRead`), writes (port, mem id, address, words, enables, host,
        # memories, second start or None, names or None: :meth:`write_lanes`); strided
        # reads (port, their line read, element addresses) are also in _line_reads (as
        # a read at the first element) and in _strided_reads
        self._line_reads: list[_LineRead] = []
        self._strided_reads: list[tuple] = []
        self._line_writes: list[tuple] = []
        self._finished = False

    @property
    def unbanked(self) -> tuple[str, ...]:
        return tuple(m for m in MEMORIES if m not in self.banked)

    def _names(self, memories) -> tuple[str, ...]:
        return self.unbanked if memories is None else tuple(memories)

    def read(self, mem_id, address, name: str, memories=None) -> pyrtl.WireVector:
        """A synchronous read of one word: ``address`` of memory ``mem_id`` registered
        (``name``, ``name``_mem) at the end of this cycle; the word, sign-extended to
        the datapath word, in the next.  Only ``memories`` (default: every memory that
        is not banked) get a port; a banked memory is read through :meth:`read_lanes`."""
        addr = self._address_register(address, name, self._names(memories))
        which = self._memory_register(mem_id, name, self._names(memories))
        return self.read_registered(which, addr, memories)

    def _address_register(self, address, name: str, memories) -> pyrtl.Register:
        """``address`` registered (``name``): a synchronous read's address, as wide as
        the widest of the unbanked ``memories`` it reads (no bit left unused)."""
        bits = max([s.addr_bits for s in self.shapes
                    if s.name in memories and s.name not in self.banked] or [1])
        addr = pyrtl.Register(bits, name=name)
        addr.next <<= _z(address, bits)
        return addr

    @staticmethod
    def _memory_register(mem_id, name: str, memories) -> pyrtl.Register | None:
        """``mem_id`` registered beside a read's address (``name``_mem), None when the
        read reaches one memory."""
        if len(memories) <= 1:
            return None
        which = pyrtl.Register(MEMORY_ID_BITS, name=f"{name}_mem")
        which.next <<= _z(mem_id, MEMORY_ID_BITS)
        return which

    def _word_reads(self, addr, memories) -> dict[str, pyrtl.WireVector]:
        """{memory: its word at the registered ``addr``, sign-extended} for the unbanked
        ``memories``."""
        out = {}
        for shape, blocks in zip(self.shapes, self.blocks):
            if shape.name not in memories or shape.name in self.banked:
                continue
            raw = pyrtl.WireVector(shape.width)
            parts = [block[addr[:bits]] for block, bits in blocks]
            top = addr[shape.addr_bits - 1]
            raw <<= parts[0] if len(parts) == 1 else pyrtl.select(top, parts[1], parts[0])
            out[shape.name] = self._extend(raw)
        return out

    def extend(self, raw: pyrtl.WireVector) -> pyrtl.WireVector:
        """A stored word sign-extended to the datapath word (a line port's word)."""
        return self._extend(raw)

    def _extend(self, raw: pyrtl.WireVector) -> pyrtl.WireVector:
        return raw[:self.word] if raw.bitwidth >= self.word else raw.sign_extended(self.word)

    def _select(self, which, words: dict[str, pyrtl.WireVector],
                last: tuple = ()) -> pyrtl.WireVector:
        """The word of the memory whose id is ``which`` (any of ``words`` for an id it
        does not name: the programs never ask for one; ``which`` may be None when
        ``words`` has one memory).  ``last`` (optional, ((memories, a 1-bit register:
        ``which`` names one of them), ...), :meth:`_last_registers`): the words of each
        group of memories are chosen after the others', by the group's flag, the first
        group last; the others' before them by ``which``."""
        if not words:
            raise ValueError("a read port on no memory")
        if last:
            (group, flag), rest = last[0], last[1:]
            inside = {k: w for k, w in words.items() if k in group}
            outside = {k: w for k, w in words.items() if k not in group}
            if inside and outside and len(words) > 2:
                out = pyrtl.WireVector(self.word)
                out <<= pyrtl.select(flag, self._select(which, inside),
                                     self._select(which, outside, rest))
                return out
            return self._select(which, words, rest)
        if len(words) == 2:     # one 2-way select on whether ``which`` names the second
            (_, first), (second_name, second) = words.items()
            out = pyrtl.WireVector(self.word)
            out <<= pyrtl.select(
                _z(which, MEMORY_ID_BITS) == memory_id(second_name), second, first)
            return out
        default = next(iter(words.values()))
        padded = [words.get(m, default) for m in MEMORIES]
        padded += [default] * ((1 << MEMORY_ID_BITS) - len(padded))
        out = pyrtl.WireVector(self.word)
        out <<= padded[0] if len(words) == 1 else pyrtl.mux(which, *padded)
        return out

    def _last_registers(self, mem_id, name: str, memories) -> tuple:
        """The groups of ``memories`` whose words a read chooses last (:meth:`_select`),
        each with ``mem_id`` naming one of them registered (``name``_is_<memories>),
        when the read can name three memories or more: first the banked memory with
        the most banks (whose words come through the widest multiplexer: ``amem``'s
        4P), then the unbanked ones beside banked ones (``smem``: a word of a port of
        its own, a multiplexer over its words).  Each such word then passes the
        memories' choice by one 2-way select after its own multiplexer, the other
        memories' words chosen before it (on the 16x1 controller design the lanes'
        words from ``amem`` were 9 LUT levels through one 8-way multiplexer after the
        64-way one, and those from ``smem`` 9 through the other memories' choice;
        docs/hardware.md).  Empty otherwise."""
        banked = [m for m in memories if m in self.banked]
        unbanked = tuple(m for m in memories if m not in self.banked)
        if not banked or len(memories) <= 2:
            return ()
        groups = [(max(banked, key=lambda b: self.banked[b].banks),)]
        if unbanked and len(memories) - 1 - len(unbanked) >= 2:
            groups.append(unbanked)
        out = []
        for group in groups:
            flag = pyrtl.Register(1, name=f"{name}_is_{'_'.join(group)}")
            mem = _z(mem_id, MEMORY_ID_BITS)
            flag.next <<= _any([mem == memory_id(m) for m in group])
            out.append((group, flag))
        return tuple(out)

    def read_registered(self, which: pyrtl.Register | None, addr: pyrtl.Register,
                        memories=None) -> pyrtl.WireVector:
        """The word at a registered address ``addr`` of the registered memory id
        ``which`` (a read-modify-write that writes back to ``addr``), over the unbanked
        ``memories`` (``which``: None when they are one)."""
        return self._select(which, self._word_reads(addr, self._names(memories)))

    def write(self, mem_id, address, value, enable, memories=None,
              is_memory: dict | None = None) -> None:
        """Write the low bits of ``value`` at ``address`` of memory ``mem_id`` when
        ``enable`` (a port on each of the unbanked ``memories``).  ``is_memory``
        (optional, {memory: a 1-bit wire}): ``mem_id == memory`` for some of them, from
        a caller that has it from registers, so that a word's write enable does not
        wait for a compare of ``mem_id``."""
        names = self._names(memories)
        mem_id = None if mem_id is None else _z(mem_id, MEMORY_ID_BITS)
        value = pyrtl.as_wires(value)
        address = _z(address, self.addr_bits)
        for k, (shape, blocks) in enumerate(zip(self.shapes, self.blocks)):
            if shape.name not in names or shape.name in self.banked:
                continue
            named_ = is_memory.get(shape.name) if is_memory else None
            if named_ is None and mem_id is None:
                raise ValueError(f"a write naming no memory id, and {shape.name} unnamed")
            here = enable & (mem_id == k if named_ is None else named_)
            top = address[shape.addr_bits - 1]
            for j, (block, bits) in enumerate(blocks):
                ok = here if len(blocks) == 1 else here & (top if j else ~top)
                block[address[:bits]] <<= pyrtl.MemBlock.EnabledWrite(
                    _z(value, shape.width), ok)

    # -- line ports (banked memories) and per-word ports behind one call -----------------

    def read_lanes(self, port: int, mem_id, address, lanes: int, broadcast, want,
                   name: str, memories=MEMORIES, host: bool = False,
                   asks_next: dict | None = None, ask_name: str | None = None,
                   gated_next: dict | None = None) -> list[pyrtl.WireVector]:
        """One operand of a step: lane v (of ``lanes``) reads word ``address + v`` (or
        ``address`` for every lane when ``broadcast``) of memory ``mem_id``,
        synchronously (the words, sign-extended, in the next cycle).  An unbanked memory
        (``smem``) reads lane 0's word through a port of its own (address register
        ``name``) and gives every lane that word: it is theirs when the operand is
        broadcast, the only way a program may name one across lanes
        (``hw.design.smem_problems`` refuses the others);
        a banked one reads the line at ``address`` through line port ``port`` in
        the cycles ``want`` is 1 (``host``: the host's request, served when no core's
        is).  ``asks_next`` (optional, {banked memory: a 1-bit wire}): what ``want &
        (mem_id == memory)`` is in the next cycle, for each banked memory, from a caller
        that knows it a cycle ahead, so that the port's choice starts at registers
        (``ask_name``: the name of such a register, with ``{memory}``); ``gated_next``
        (optional, with ``asks_next``: {banked memory: ((gate, condition), ...)}): the
        same as a sum of terms ``gate & condition``, its gates the caller's next states
        (:meth:`_grants`: the port's choice is then made on the conditions, the gates
        joining last)."""
        which = self._memory_register(mem_id, name, memories)
        last = self._last_registers(mem_id, name, memories)
        banked = [m for m in memories if m in self.banked]
        unbanked = [m for m in memories if m not in self.banked]
        second = None
        if banked:
            if lanes > 1:
                wide = pyrtl.Register(1, name=f"{name}_bcast")
                wide.next <<= _z(broadcast, 1)
            # on a memory with halves, a request served beside another one (acc_add's
            # two operands) gets the second half line: its words are the line's last H
            flag = None
            if any(self.banked[m].halves for m in banked):
                flag = pyrtl.WireVector(1, name=f"{name}_second_next")
                second = pyrtl.Register(1, name=f"{name}_second")
                second.next <<= flag
            self._line_reads.append(_LineRead(port, _z(mem_id, MEMORY_ID_BITS),
                                              _z(address, self.addr_bits), _z(want, 1),
                                              host, None, flag, tuple(banked), None,
                                              asks_next, ask_name, gated_next))
        lane0 = self._word_reads(self._address_register(address, name, unbanked),
                                 unbanked) if unbanked else {}
        out = []
        for v in range(lanes):
            words = dict(lane0)
            for m in banked:
                line = self.banked[m].read_words[port]
                word = line[0] if v == 0 else pyrtl.select(wide, line[0], line[v])
                if self.banked[m].halves:
                    h = self.banked[m].banks // 2
                    later = line[h] if v == 0 else pyrtl.select(wide, line[h], line[h + v])
                    word = pyrtl.select(second, later, word)
                words[m] = self._extend(word)
            out.append(self._select(which, {m: words[m] for m in memories}, last))
        return out

    def write_lanes(self, port: int, mem_id, address, values, enables,
                    memories=MEMORIES, host: bool = False,
                    names: dict | None = None) -> None:
        """Write ``values[v]`` at ``address + v`` of memory ``mem_id`` where
        ``enables[v]``: one line through line port ``port`` on a banked memory; on an
        unbanked one (``smem``) lane 0's word alone, through a port of its own (a
        program writes one across lanes nowhere: ``hw.design.smem_problems``).
        ``names`` (optional,
        {memory: a 1-bit wire}): ``mem_id == memory`` for each banked memory the
        request can name (and for any unbanked ones), from a caller that has it from
        registers (a compare registered a cycle ahead), so that the line port's choice
        among the writes, and a word's write enable, do not wait for a compare of
        ``mem_id`` (None when ``names`` names every one of ``memories``: none is
        compared)."""
        if names is not None and not {m for m in memories if m in self.banked} \
                <= set(names) <= set(memories):
            raise ValueError(f"the names of a write on {list(memories)}: one per banked "
                             "memory, and only of its memories")
        if mem_id is None and (names is None or set(names) != set(memories)):
            raise ValueError(f"a write on {list(memories)} without a memory id names "
                             "each of them")
        mem_id = None if mem_id is None else _z(mem_id, MEMORY_ID_BITS)
        unbanked = [m for m in memories if m not in self.banked]
        if unbanked:
            self.write(mem_id, address, values[0], enables[0], unbanked, names)
        if any(m in self.banked for m in memories):
            self._line_writes.append((port, mem_id, _z(address, self.addr_bits),
                                      [pyrtl.as_wires(v) for v in values],
                                      [_z(e, 1) for e in enables], host, tuple(memories),
                                      None, names))

    def read_double(self, port: int, mem, first, second, want=None, want_next=None,
                    want_name: str | None = None) -> list[pyrtl.WireVector]:
        """A synchronous read of a double line of memory ``mem`` (one with halves): the
        half line at ``first`` and the one at ``second`` (H past it mod 2H) through line
        port ``port`` in the cycles ``want`` is 1; the 2H words, as stored, in the next
        cycle (word j < H at first + j, word H + j at second + j).  Or, in place of
        ``want``, ``want_next``: what ``want`` is in the next cycle (registered where it
        is read, ``want_name``)."""
        banks = self.banked[mem]
        if not banks.halves:
            raise ValueError(f"memory {mem} has no halves")
        if (want is None) == (want_next is None):
            raise ValueError("read_double: want or want_next, one of them")
        self._line_reads.append(_LineRead(
            port, pyrtl.Const(memory_id(mem), MEMORY_ID_BITS), _z(first, self.addr_bits),
            pyrtl.Const(0, 1) if want is None else _z(want, 1), False,
            _z(second, self.addr_bits), None, (mem,), None,
            None if want_next is None else {mem: _z(want_next, 1)}, want_name))
        return banks.read_words[port]

    def write_double(self, port: int, mem, first, second, values, enables) -> None:
        """Write a double line of memory ``mem``: ``values[j]`` at ``first`` + j (j < H)
        and ``second`` + j - H (j >= H) where ``enables[j]``."""
        if not self.banked[mem].halves:
            raise ValueError(f"memory {mem} has no halves")
        self._line_writes.append((port, pyrtl.Const(memory_id(mem), MEMORY_ID_BITS),
                                  _z(first, self.addr_bits),
                                  [pyrtl.as_wires(v) for v in values],
                                  [_z(e, 1) for e in enables], False, (mem,),
                                  _z(second, self.addr_bits), None))

    def read_strided(self, port: int, mem_id, addresses, want, names, memories,
                     asks_next: dict | None = None, ask_name: str | None = None
                     ) -> list[pyrtl.WireVector]:
        """The matrix unit's weight row: word k at ``addresses[k]`` of memory ``mem_id``,
        synchronously (sign-extended, in the next cycle).  An unbanked memory reads each
        word through a port of its own (address registers ``names``); a banked one with
        strided reads (``wmem``, ``amem``) reads them as one strided line through line
        port ``port`` in the cycles ``want`` is 1 -- the caller keeps the elements in
        distinct banks, or repeats an element's address (adjacent words, a column whose
        padded row stride is odd, an activation's words at its padded stride); a banked
        one without (``gmem``: a delta's row or line) reads the line at
        ``addresses[0]`` -- the caller keeps the words adjacent -- and serves its first
        ``banks`` words only (the later ones come from the memories with strided reads:
        the caller reads no more of it).  ``asks_next`` (optional, {banked memory: a
        1-bit wire}): what ``want & (mem_id == memory)`` is in the next cycle, for each
        of ``memories``, from a caller that knows the request a cycle ahead (its
        ``addresses`` then are registers), so that the port's choice and the elements'
        crossing into the banks start at registers (``ask_name``: as in
        :meth:`read_lanes`); every one of ``memories`` is banked then."""
        names = list(names)
        which = self._memory_register(mem_id, names[0], memories)
        banked = [m for m in memories if m in self.banked]
        unbanked = [m for m in memories if m not in self.banked]
        if asks_next is not None and (unbanked or set(asks_next) != set(banked)):
            raise ValueError(f"registered asks of a strided read on {list(memories)}: one "
                             "per memory, every memory banked")
        for m in banked:
            if self.banked[m].strided and len(addresses) > self.banked[m].strided:
                raise ValueError(f"memory {m} has no strided reads of {len(addresses)} words")
        if banked and not any(self.banked[m].strided for m in banked) and \
                len(addresses) > min(self.banked[m].banks for m in banked):
            raise ValueError(f"a line of {len(addresses)} words on {banked}")
        if banked:
            mem_id = _z(mem_id, MEMORY_ID_BITS)
            addresses = [_z(a, self.addr_bits) for a in addresses]
            read = _LineRead(port, mem_id, addresses[0], _z(want, 1), False, None, None,
                             tuple(banked), None, asks_next, ask_name)
            self._line_reads.append(read)
            self._strided_reads.append((port, read, addresses))
        out = []
        for k, address in enumerate(addresses):
            words = {}
            if unbanked:
                words.update(self._word_reads(self._address_register(address, names[k],
                                                                     unbanked),
                                              unbanked))
            for m in banked:
                line = self.banked[m].read_words[port]
                if k < len(line):
                    words[m] = self._extend(line[k])
            if not any(m in words for m in memories):
                raise ValueError(f"word {k} of a strided read on {memories}")
            out.append(self._select(which, {m: words[m] for m in memories if m in words}))
        return out

    def finish(self) -> None:
        """Drive the banked memories' line ports from the requests (call once, after
        every unit has made its requests)."""
        if self._finished:
            raise ValueError("DataMemories.finish called twice")
        self._finished = True
        flags: dict[int, list] = {}        # "served as the second half line", per request
        for m, banks in self.banked.items():
            k, half = memory_id(m), self._half_line(banks)
            for p in range(self.line_ports):
                reads = sorted((r for r in self._line_reads if r.port == p and m in r.memories),
                               key=lambda r: r.host)
                address = self._drive_reads(m, banks, p, reads, flags, half)
                if banks.strided:
                    # the strided requests (at most one a port and cycle: the matrix
                    # unit's); the elements matter only when one is served, so the
                    # first request's are the default (not the port's chosen start,
                    # whose choice would precede the elements' crossing into the banks)
                    strided = [r for r in self._strided_reads
                               if r[0] == p and m in r[1].memories]
                    count = len(banks.read_elements[p])
                    # (a request of fewer elements repeats its first, its start)
                    padded = [list(elems) + [elems[0]] * (count - len(elems))
                              for _, _, elems in strided]
                    takes = [read.asking(m) for _, read, _ in strided]
                    flag = _any(takes)
                    elements = padded[0] if padded else [address] * count
                    for take, elems in zip(takes[1:], padded[1:]):
                        elements = [pyrtl.select(take, e, d) for e, d in zip(elems, elements)]
                    banks.read_strided[p] <<= flag
                    for j in range(count):
                        banks.read_elements[p][j] <<= elements[j][:banks.addr_bits]
                writes = [w for w in self._line_writes if w[0] == p and m in w[6]]
                (address, second, words, enables, lines,
                 lines2) = self._write_choice(m, k, banks, writes, half)
                banks.write_address[p] <<= address[:banks.write_address[p].bitwidth]
                if banks.lb:
                    banks.write_lines[p] <<= lines
                if banks.halves:
                    banks.write_address2[p] <<= second[:banks.write_address2[p].bitwidth]
                    banks.write_lines2[p] <<= lines2
                for j in range(banks.banks):
                    banks.write_words[p][j] <<= words[j]
                    banks.write_enables[p][j] <<= enables[j]
        for flag, value in flags.values():
            flag <<= value

    def _write_choice(self, m: str, k: int, banks: InterleavedBanks, writes: list,
                      half: pyrtl.WireVector) -> tuple:
        """The write line port's address, second start (memories with halves), words
        and enables from the write requests ``writes`` that can name memory ``m`` (id
        ``k``): a core's request is taken when it names ``m`` and enables a word (the
        programs make at most one a port and cycle), the host's when no core's is.  The
        choice is an AND-OR of the requests (:func:`~fixar_gen.hw.build.one_hot_pick`),
        not a chain of multiplexers, so that a word passes one level whichever request it comes from
        (the matrix unit's accumulators, read, added and fitted in one cycle, have no
        level to spare).  The words and enables it chooses are in bank order, each
        request's rotated by its own start (:meth:`~fixar_gen.hw.banked.InterleavedBanks.
        bank_order`), so that the choice, which waits for the requests' memory ids and
        enables (the host's for no core's), is the last step before the banks rather
        than followed by a rotation by the chosen address."""
        A = self.addr_bits
        takes = []
        for _, mem_id, _, values, ens, host, _, _, names in writes:
            if len(values) > banks.banks:
                raise ValueError(f"a line of {len(values)} words on memory {m} of "
                                 f"{banks.banks} banks")
            takes.append((mem_id == k if names is None else names[m]) & _any(ens))
        busy = _any([t for t, w in zip(takes, writes) if not w[5]])
        hosts = [w for w in writes if w[5]]
        takes = [t & ~busy if w[5] else t for t, w in zip(takes, writes)]

        def choose(values, bits):
            """The chosen request's ``values`` (one per request) as an address: the
            core requests' AND-OR, the host's where none is busy (an address counts
            only where an enable is on, so the host's needs no take of its own: its
            select waits for the core requests' OR alone, not for the host's take
            after it)."""
            if len(hosts) != 1:
                return one_hot_pick(list(zip(takes, values)), bits)
            cores = one_hot_pick([(t, v) for t, v, w in zip(takes, values, writes)
                                  if not w[5]], bits)
            host = next(v for v, w in zip(values, writes) if w[5])
            return pyrtl.select(busy, cores, _z(host, bits))
        address = choose([w[2] for w in writes], A)
        # each request's line and line + 1 (:meth:`~fixar_gen.hw.banked.InterleavedBanks.
        # line_pair`) computed before the choice, as the reads' are: the banks' write
        # addresses only choose
        pair_bits = 2 * banks.bank_bits

        def pair(start):
            return banks.line_pair(start[:banks.addr_bits])
        lines = choose([pair(w[2]) for w in writes], pair_bits) if banks.lb else None
        second = lines2 = None
        if banks.halves:
            seconds = [w[7] if w[7] is not None else _z(w[2] + half, A) for w in writes]
            second = choose(seconds, A)
            # (H past a start: its pair without the add before it, as the reads')
            lines2 = choose([pair(w[7]) if w[7] is not None else
                             banks.line_pair_past_half(_z(w[2], banks.addr_bits))
                             for w in writes], pair_bits)
        # each request's words in bank order, rotated by its own start: the choice
        # comes last
        ordered = [banks.bank_order(w[2], [_z(v, banks.width) for v in w[3]], w[4])
                   for w in writes]
        words = [one_hot_pick([(t, o[0][b]) for t, o in zip(takes, ordered)], banks.width)
                 for b in range(banks.banks)]
        enables = [_any([t & o[1][b] for t, o in zip(takes, ordered)])
                   for b in range(banks.banks)]
        return address, second, words, enables, lines, lines2

    @staticmethod
    def _grants(m: str, p: int, cores: list, halves: bool, prefix: str = "",
                startless: list | None = None) -> dict:
        """Who line port ``p`` of memory ``m`` serves, from the core requests that can
        name it (in order): ``first`` (per request: it asks and no earlier one does),
        ``busy`` (one asks; else the host is served), and on a memory with ``halves``
        ``seconds`` (it asks beside an earlier one), and the selects of the second half
        line's start: ``second_first`` (per request: served first, its own second start
        or, when no request is served as the second half line, H past its start) and
        ``second_once`` (per request: the first served as the second half line, unless
        the first's second start is its own).  Each is a function of the requests' asks
        alone (OR trees rather than chains); when every request says what it asks next
        (:meth:`_LineRead.asking_next`), they are computed from that a cycle ahead and
        registered (``<prefix>mem_<m>_p<p>_grant_*``), so that the banks' addresses only
        choose.  (Every registered signal is 0 when nothing asks: their reset is that of
        the asks.)  ``startless`` (optional, per request): a request whose starts no
        choice reads (a strided one), whose ``first`` and second-start selects are
        not built (None, or 0 where registered); it still takes the port from the
        requests after it."""
        skip = list(startless) if startless else [False] * len(cores)

        def decide(here):
            # (a startless request's selects are None: no logic is built for them)
            before = [_any(here[:i]) for i in range(len(here))]
            first = [None if k else h & ~b for h, b, k in zip(here, before, skip)]
            if not halves:
                return {"first": first, "busy": _any(here)}
            seconds = [h & b for h, b in zip(here, before)]
            once = [None if k else s & ~_any(seconds[:i])
                    for i, (s, k) in enumerate(zip(seconds, skip))]
            own_first = _any([f for f, r in zip(first, cores)
                              if r.second is not None and f is not None])
            # served first with no second half line served: it asks alone (stated so,
            # one OR of the others, not first & no second)
            return {"first": first, "busy": _any(here), "seconds": seconds,
                    "second_first": [None if k else f if r.second is not None
                                     else h & ~_any(here[:i] + here[i + 1:])
                                     for i, (f, h, r, k)
                                     in enumerate(zip(first, here, cores, skip))],
                    "second_once": [None if o is None else o & ~own_first for o in once]}
        ahead = [r.asking_next(m) for r in cores]
        if not cores or any(a is None for a in ahead):
            return decide([r.asking(m) for r in cores])
        decided = _by_gates(decide, ahead, [None if r.gated_next is None
                                            else r.gated_next[m] for r in cores])

        def register(wire, name):
            reg = pyrtl.Register(1, name=f"{prefix}mem_{m}_p{p}_grant_{name}")
            reg.next <<= wire
            return reg

        def needed(key, i, wire):
            # (a request is told it was served second only through its flag; the
            # starts of a ``startless`` request are chosen by nothing)
            return wire is not None and (key != "seconds" or cores[i].flag is not None)
        return {key: ([register(w, f"{key}{i}") if needed(key, i, w) else pyrtl.Const(0, 1)
                       for i, w in enumerate(value)]
                      if isinstance(value, list) else register(value, key))
                for key, value in decided.items()}

    def _half_line(self, banks: InterleavedBanks) -> pyrtl.WireVector:
        """H words on (half the banks), modulo the addresses (a memory no deeper than a
        line wraps)."""
        return pyrtl.Const((banks.banks // 2) % (1 << self.addr_bits), self.addr_bits)

    def _drive_reads(self, m: str, banks: InterleavedBanks, p: int, reads: list,
                     flags: dict, half: pyrtl.WireVector) -> pyrtl.WireVector:
        """Drive line port ``p`` of memory ``m``'s read starts from ``reads`` (the
        requests that can name it, the host's last; ``half``: :meth:`_half_line`) and
        return its first start (whole
        on a memory with strided reads, else its word within the line).  The
        first request wanting the port is served (the host's when none does); on a
        memory with halves a request wanting it beside an earlier one is served as the
        second half line (acc_add's second operand: the first such; a double line's own
        second start comes first).  Each request's starts and their line pairs
        (:meth:`~fixar_gen.hw.banked.InterleavedBanks.line_pair`) are computed before
        the selection, whose selects are one-hot (an AND-OR): the banks' addresses
        then only choose, in the cycle the request is decided."""
        A = self.addr_bits
        cores = [r for r in reads if not r.host]
        hosts = [r for r in reads if r.host]
        default = hosts[0].address if hosts else pyrtl.Const(0, A)
        # on a memory with strided reads, a strided request's start is never a bank's
        # address: while it is served every bank takes its element's (the port's
        # ``read_strided``), so its start joins none of the starts' choices (fewer terms
        # in each AND-OR: the second half line's start was a level deeper with them)
        skip = ({id(r) for q, r, _ in self._strided_reads if q == p}
                if banks.strided else set())
        grant = self._grants(m, p, cores, banks.halves, self.prefix,
                             [id(r) in skip for r in cores])
        first, idle = grant["first"], ~grant["busy"]
        lines = banks.line_pair
        # (the whole start only for the strided reads' elements; the banks take its word
        # within the line and the line pairs)
        bits = A if banks.strided else banks.read_address[p].bitwidth
        starts = [(g, r) for g, r in zip(first, cores) if id(r) not in skip]
        address = one_hot_pick([(g, r.address) for g, r in starts] + [(idle, default)], bits)
        banks.read_address[p] <<= address[:banks.read_address[p].bitwidth]
        if banks.lb:                             # (one bank reads its address alone)
            banks.read_lines[p] <<= one_hot_pick([(g, lines(r.address)) for g, r in starts]
                                          + [(idle, lines(default))], 2 * banks.bank_bits)
        if banks.halves:
            seconds = grant["seconds"]
            # per request, the second start it gives (a request is served first or as
            # the second half line, not both: one choice each, computed before the pick)
            choices = []
            for f, o, r in zip(grant["second_first"], grant["second_once"], cores):
                if id(r) in skip:
                    continue
                if r.second is not None:
                    own, own_lines = r.second, lines(r.second)
                else:       # H past its start (the pair without the add before it)
                    own = _z(r.address + half, A)
                    own_lines = banks.line_pair_past_half(_z(r.address, A))
                choices.append((f | o, pyrtl.select(f, own, r.address),
                                pyrtl.select(f, own_lines, lines(r.address))))
            # (no choice for the host or an idle port: the host reads one word, in
            # the start's own bank, never in the second half line, so the second start
            # is then unread and left 0: no add or pair on the host's address, the
            # path from host_mem_raddr that was the core's deepest)
            second = one_hot_pick([(g, a) for g, a, _ in choices],
                                  banks.read_address2[p].bitwidth)
            banks.read_address2[p] <<= second
            banks.read_lines2[p] <<= one_hot_pick([(g, ls) for g, _, ls in choices],
                                           2 * banks.bank_bits)
            for r, later in zip(cores + hosts, seconds + [pyrtl.Const(0, 1)] * len(hosts)):
                if r.flag is not None:
                    # (a request names one memory a cycle: its memory's flag)
                    drivers = flags.setdefault(id(r.flag), [r.flag, pyrtl.Const(0, 1)])
                    drivers[1] = drivers[1] | later
        return address
