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
             (a multiple of 8)

Opcodes: ``END`` (the list ends; the kernel reports done), ``LOAD`` (HBM -> on-chip
memory ``memory``, ``count`` entries from ``address``), ``STORE`` (on-chip data memory
-> HBM), ``RUN`` (pulse the core's start with ``address`` on ``host_pre_fmt`` -- the
program's pre-activation format, held during the run -- and wait until the core is
done), ``STATS`` (the
core's statistics -> HBM: ``memory`` is the stat kind, ``core`` the core, ``address``
the first id).  An on-chip entry of ``b`` bits takes ``ceil(b / 64)`` 64-bit words in
HBM, least significant word first (:func:`entry_words`).
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
)
REGISTER = {name: offset for name, offset, _ in REGISTERS}
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


def entry_words(bits: int) -> int:
    """64-bit HBM words per on-chip entry of ``bits`` bits."""
    return -(-bits // 64)


@dataclass(frozen=True)
class Command:
    opcode: str
    memory: str = "data"
    core: int = 0
    address: int = 0
    count: int = 0
    offset: int = 0

    def words(self) -> list[int]:
        if self.opcode == "STATS":
            memory = STAT_KINDS.index(self.memory)
        else:
            memory = MEMORIES.index(self.memory)
        if self.offset % WORD_BYTES:
            raise ValueError(f"command offset {self.offset} is not a multiple of 8")
        head = OPCODES.index(self.opcode) | memory << 8 | self.core << 16
        return [head, self.address, self.count, self.offset]


def encode_commands(commands: list[Command]) -> np.ndarray:
    """The command list as uint64 words (an END is appended if missing)."""
    if not commands or commands[-1].opcode != "END":
        commands = list(commands) + [Command("END")]
    return np.array([w for c in commands for w in c.words()], dtype=np.uint64)


def pack_entries(values: list[int], bits: int) -> np.ndarray:
    """On-chip entries as HBM words (uint64, ``entry_words(bits)`` per entry)."""
    n = entry_words(bits)
    mask = (1 << bits) - 1
    out = np.zeros(len(values) * n, dtype=np.uint64)
    for i, value in enumerate(values):
        value = int(value) & mask
        for k in range(n):
            out[i * n + k] = (value >> (64 * k)) & 0xFFFF_FFFF_FFFF_FFFF
    return out


def unpack_entries(words: np.ndarray, bits: int) -> list[int]:
    n = entry_words(bits)
    words = [int(w) for w in np.asarray(words, dtype=np.uint64)]
    mask = (1 << bits) - 1
    return [sum(words[i * n + k] << (64 * k) for k in range(n)) & mask
            for i in range(len(words) // n)]
