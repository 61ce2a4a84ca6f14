"""The U50 kernel's command list: how the host tells the kernel what to move between
HBM and the core's on-chip memories, and when to run the core.

Described once here; the kernel's RTL (:mod:`fixar_gen.targets.u50.kernel`), the host
driver (:mod:`fixar_gen.targets.u50.driver`), the cocotb tests and docs/u50.md all use
this module.

Kernel arguments (AXI4-Lite ``s_axi_control``, ap_ctrl_hs; see :data:`REGISTERS`):
``commands`` (a 64-bit HBM address of the command list) and ``image`` (a 64-bit HBM
address that every command's ``offset`` is relative to).  Both are reached through the
kernel's AXI4 master ``m_axi_gmem0``.

A command is :data:`COMMAND_WORDS` little-endian 64-bit words (``COMMAND_BYTES``)::

    word 0   bits 0-7 opcode, bits 8-15 memory, bits 16-23 core
    word 1   first on-chip address (entry index of the memory)
    word 2   count (entries)
    word 3   byte offset of the first entry in HBM, relative to ``image``
             (a multiple of the AXI beat: ``axi_data_bits / 8`` bytes)

Opcodes: ``END`` (the list ends; the kernel reports done), ``LOAD`` (HBM -> on-chip
memory ``memory``, ``count`` entries from ``address``; with per-core memories a data,
descriptor or slot LOAD's ``address`` names the copy it writes: the core field above the
data address or the table index, ``HostMap.write_address`` / ``table_address``), ``STORE`` (on-chip data memory
-> HBM; with per-core memories from core ``core``'s copy), ``RUN`` (pulse the core's
start with ``address`` on ``host_pre_fmt`` -- the program's pre-activation format, held
during the run -- and wait until the core is done), ``STATS`` (the
core's statistics -> HBM: ``memory`` is the stat kind, ``core`` the core, ``address``
the first id).

Entries travel packed into the AXI master's beats (``axi_data_bits``, default
:data:`DEFAULT_AXI_DATA_BITS`; :class:`Layout`): an entry of ``b`` bits uses a *unit* of
``ceil(b / beat)`` beats, which holds ``floor(unit bits / b)`` entries, entry ``i`` at
bits ``[i*b, (i+1)*b)`` of the unit (beats and bytes little-endian); the unused top bits
of a unit are zero.  A transfer of ``count`` entries is ``ceil(count / per unit)`` whole
units starting on a beat boundary.

A run that meets an error (an AXI read or write response other than OKAY, an RLAST
that is missing or early, a bad command or a misaligned argument) stops: it asks for no
more transfers, writes nothing more (write beats it still owes the interconnect go out
with WSTRB 0), and raises ap_done with ``STATUS`` bit 0 set and the failing transfer in
``STATUS``, ``ERROR_COMMAND`` and ``ERROR_ADDR`` (:data:`REGISTERS`,
:data:`STATUS_FIELDS`, :data:`ERROR_KINDS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...hw.hostmap import STAT_BITS, STAT_KINDS, HostMap, width

OPCODES = ("END", "LOAD", "STORE", "RUN", "STATS")
MEMORIES = ("data", "desc", "slot", "imem")
COMMAND_WORDS = 4
COMMAND_BYTES = 8 * COMMAND_WORDS
WORD_BYTES = 8
#: the AXI4 master's data width unless a kernel is built with another (the HBM port's)
DEFAULT_AXI_DATA_BITS = 256
AXI_DATA_BITS = (64, 128, 256, 512)

#: the ap_ctrl_hs register map: (name, byte offset, meaning)
REGISTERS = (
    ("CTRL", 0x00, "bit 0 ap_start, bit 1 ap_done (clear on read), bit 2 ap_idle, "
                   "bit 3 ap_ready, bit 7 auto_restart"),
    ("GIE", 0x04, "bit 0 global interrupt enable"),
    ("IER", 0x08, "bit 0 ap_done interrupt enable, bit 1 ap_ready interrupt enable"),
    ("ISR", 0x0C, "bit 0 ap_done interrupt, bit 1 ap_ready interrupt (toggle on write)"),
    ("COMMANDS_LO", 0x10, "command list address, bits 31:0"),
    ("COMMANDS_HI", 0x14, "command list address, bits 63:32"),
    ("IMAGE_LO", 0x18, "image base address, bits 31:0"),
    ("IMAGE_HI", 0x1C, "image base address, bits 63:32"),
    ("STATUS", 0x20, "read only: bit 0 the last run stopped on an error, bits 3:1 the "
                     "failing transfer (ERROR_KINDS), bits 5:4 its AXI response (2 SLVERR, "
                     "3 DECERR), bit 6 RLAST missing or early; cleared when a run starts"),
    ("ERROR_COMMAND", 0x24, "read only: index in the list of the command that failed"),
    ("ERROR_ADDR_LO", 0x28, "read only: HBM address of the failing transfer, bits 31:0"),
    ("ERROR_ADDR_HI", 0x2C, "read only: HBM address of the failing transfer, bits 63:32"),
)
REGISTER = {name: offset for name, offset, _ in REGISTERS}
#: the fields of STATUS: (name, lsb, bits)
STATUS_FIELDS = (("error", 0, 1), ("kind", 1, 3), ("response", 4, 2), ("rlast", 6, 1))
#: STATUS.kind: what failed (value = index)
ERROR_KINDS = (
    ("none", "no error"),
    ("fetch", "reading a command of the list"),
    ("load", "the read of a LOAD"),
    ("store", "the write of a STORE"),
    ("stats", "the write of a STATS"),
    ("command", "a command with an unknown opcode, memory or stat kind, an offset that "
                "is not a multiple of the beat, or a count of 2^32 or more"),
    ("argument", "a `commands` or `image` address that is not a multiple of the beat"),
)
#: AXI response codes (RRESP, BRESP)
RESPONSES = ("OKAY", "EXOKAY", "SLVERR", "DECERR")
#: kernel arguments in order (name, register offset) -- kernel.xml and the driver
ARGUMENTS = (("commands", REGISTER["COMMANDS_LO"]), ("image", REGISTER["IMAGE_LO"]))


def entry_bits(hostmap: HostMap, memory: str) -> int:
    """Bits of one entry of an on-chip memory (or of a statistic)."""
    from ...isa import INSTRUCTION_BITS
    if memory == "data":
        return hostmap.word
    if memory == "desc":
        return width(hostmap.desc_fields)
    if memory == "slot":
        return width(hostmap.slot_fields)
    if memory == "imem":
        return INSTRUCTION_BITS
    if memory in STAT_KINDS:
        return STAT_BITS
    raise ValueError(f"unknown memory {memory!r}")


@dataclass(frozen=True)
class Layout:
    """How entries of ``bits`` bits are packed into HBM beats of ``beat_bits``."""

    bits: int
    beat_bits: int = DEFAULT_AXI_DATA_BITS

    def __post_init__(self) -> None:
        if self.bits < 1:
            raise ValueError(f"an entry of {self.bits} bits")
        if self.beat_bits not in AXI_DATA_BITS:
            raise ValueError(f"axi_data_bits = {self.beat_bits}: one of {AXI_DATA_BITS}")

    @property
    def beats_per_unit(self) -> int:
        return -(-self.bits // self.beat_bits)

    @property
    def unit_bits(self) -> int:
        return self.beats_per_unit * self.beat_bits

    @property
    def per_unit(self) -> int:
        """Entries in one unit."""
        return self.unit_bits // self.bits

    @property
    def beat_bytes(self) -> int:
        return self.beat_bits // 8

    def units(self, count: int) -> int:
        return -(-count // self.per_unit)

    def beats(self, count: int) -> int:
        return self.units(count) * self.beats_per_unit

    def words(self, count: int) -> int:
        """64-bit words of a transfer of ``count`` entries."""
        return self.beats(count) * self.beat_bits // 64

    @property
    def efficiency(self) -> float:
        """Entry bits per transferred bit."""
        return self.per_unit * self.bits / self.unit_bits

    def pack(self, values) -> np.ndarray:
        """Entries as the uint64 words of whole units (entry i of a unit at bit
        i * bits of it, little-endian; zero above the last entry).  ``values``: ints
        (their low ``bits`` bits are sent), or an int64 array of signed values (sent
        as ``bits``-bit two's complement, sign-extended above bit 63)."""
        k, b = self.per_unit, self.bits
        units = self.units(len(values))
        bits = np.zeros((units * k, b), dtype=np.uint8)
        if len(values):
            bits[:len(values)] = _entry_bits(values, b)
        unit_bits = np.zeros((units, self.unit_bits), dtype=np.uint8)
        unit_bits[:, :k * b] = bits.reshape(units, k * b)
        return np.packbits(unit_bits, axis=1, bitorder="little").reshape(-1).view(
            "<u8").astype(np.uint64)

    def unpack(self, words: np.ndarray, count: int) -> list[int]:
        """``count`` entries from the uint64 words of whole units."""
        k, b = self.per_unit, self.bits
        units = self.units(count)
        raw = np.ascontiguousarray(words[:units * self.unit_bits // 64], dtype="<u8")
        bits = np.unpackbits(raw.view(np.uint8).reshape(units, self.unit_bits // 8),
                             axis=1, bitorder="little")[:, :k * b].reshape(units * k, b)
        lanes = -(-b // 64)
        padded = np.zeros((count, lanes * 64), dtype=np.uint8)
        padded[:, :b] = bits[:count]
        parts = np.packbits(padded, axis=1, bitorder="little").view("<u8").reshape(
            count, lanes)
        if lanes == 1:
            return parts[:, 0].tolist()
        return [sum(int(p) << (64 * i) for i, p in enumerate(row)) for row in parts.tolist()]


def _entry_bits(values, b: int) -> np.ndarray:
    """(len(values), b) bits, least significant first, of each value's low ``b`` bits
    (an int64 array: its two's complement, sign-extended above bit 63)."""
    if isinstance(values, np.ndarray) and values.dtype == np.int64:
        low = np.ascontiguousarray(values, dtype="<i8").view(np.uint8).reshape(-1, 8)
        bits = np.unpackbits(low, axis=1, bitorder="little")
        if b <= 64:
            return bits[:, :b]
        return np.concatenate([bits, np.repeat(bits[:, 63:], b - 64, axis=1)], axis=1)
    mask = (1 << b) - 1
    nbytes = -(-b // 8)
    raw = b"".join((int(v) & mask).to_bytes(nbytes, "little") for v in values)
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8).reshape(len(values), nbytes),
                         axis=1, bitorder="little")[:, :b]


def layout(hostmap: HostMap, memory: str, beat_bits: int = DEFAULT_AXI_DATA_BITS) -> Layout:
    """The HBM layout of an on-chip memory's (or a statistic's) entries."""
    return Layout(entry_bits(hostmap, memory), beat_bits)


@dataclass(frozen=True)
class Command:
    opcode: str
    memory: str = "data"
    core: int = 0
    address: int = 0
    count: int = 0
    offset: int = 0

    def words(self, align: int = WORD_BYTES) -> list[int]:
        """The command's words; ``offset`` must be a multiple of ``align`` (the beat)."""
        if self.opcode == "STATS":
            memory = STAT_KINDS.index(self.memory)
        else:
            memory = MEMORIES.index(self.memory)
        if self.offset % align:
            raise ValueError(f"command offset {self.offset} is not a multiple of {align}")
        head = OPCODES.index(self.opcode) | memory << 8 | self.core << 16
        return [head, self.address, self.count, self.offset]


@dataclass(frozen=True)
class Reach:
    """What a command may name in one on-chip memory: entries ``[0, 2**index_bits)``,
    below a field naming the copy's core when ``core_field`` (a per-core LOAD)."""
    index_bits: int
    core_field: bool = False


def reach(hostmap: HostMap, opcode: str, memory: str) -> Reach | None:
    """The entries a ``opcode`` command of ``memory`` may name (None: the command moves
    no entries, or names a memory that does not exist)."""
    if opcode == "LOAD" and memory in MEMORIES:
        per_core = hostmap.per_core and memory != "imem"
        return Reach(hostmap.index_bits(memory), per_core)
    if opcode == "STORE" and memory == "data":
        return Reach(hostmap.data_addr_bits)
    if opcode == "STATS" and memory in STAT_KINDS:
        return Reach(hostmap.stat_addr_bits)
    return None


def command_problem(hostmap: HostMap, command: Command) -> str | None:
    """Why the kernel refuses a move (LOAD, STORE, STATS) whose opcode and memory it
    knows, as a bad command (None: it runs it): a core the design does not have, an
    address beyond what the memory's port takes, entries running past the memory's end
    (they would wrap), or a per-core LOAD's copy that does not exist.  The kernel's RTL
    checks the same (:mod:`.kernel`), the software model of the kernel with this."""
    r = reach(hostmap, command.opcode, command.memory)
    if r is None:
        return None
    if command.core >= hostmap.cores:
        return f"core {command.core} of a {hostmap.cores}-core design"
    index = command.address & ((1 << r.index_bits) - 1)
    above = command.address >> r.index_bits
    if r.core_field and above >= hostmap.cores:
        return (f"address {command.address:#x} names copy {above} of {hostmap.cores} "
                f"(the core field above bit {r.index_bits})")
    if not r.core_field and above:
        return f"address {command.address:#x} is beyond {r.index_bits} address bits"
    if index + command.count > 1 << r.index_bits:
        return (f"{command.count} entries from {index:#x} run past the end of "
                f"{command.memory} ({1 << r.index_bits} entries)")
    return None


def encode_commands(commands: list[Command], align: int = WORD_BYTES) -> np.ndarray:
    """The command list as uint64 words (an END is appended if missing); every offset a
    multiple of ``align`` bytes."""
    if not commands or commands[-1].opcode != "END":
        commands = list(commands) + [Command("END")]
    return np.array([w for c in commands for w in c.words(align)], dtype=np.uint64)


def decode_commands(words) -> list[Command]:
    """The commands of a command list (uint64 words), up to its END."""
    words = [int(w) for w in words]
    out = []
    for i in range(0, len(words), COMMAND_WORDS):
        c = decode_command(words[i:i + COMMAND_WORDS])
        if c.opcode == "END":
            break
        out.append(c)
    return out


def decode_command(words) -> Command:
    """The :class:`Command` of 4 words (for messages; unknown codes become ``?N``)."""
    head, address, count, offset = (int(w) for w in words[:COMMAND_WORDS])
    op, field, core = head & 0xFF, (head >> 8) & 0xFF, (head >> 16) & 0xFF
    opcode = OPCODES[op] if op < len(OPCODES) else f"?{op}"
    names = STAT_KINDS if opcode == "STATS" else MEMORIES
    memory = names[field] if field < len(names) else f"?{field}"
    return Command(opcode, memory, core, address, count, offset)
