"""The host interface of the generated core, described once.

Everything a host (the Python backends here, the U50 wrapper and its driver later)
needs to talk to a generated core is in :class:`HostMap`: the core's top-level ports,
the memories behind them and the layout of their entries (buffer descriptors, slot
descriptors, statistics).  The generator (:mod:`fixar_gen.hw.core`) builds its ports
from it, the host driver (:mod:`fixar_gen.hw.host`) packs entries with it, and
``fixar generate`` writes it as ``hostmap.json`` and ``fixar_core.h`` (a C header)
from the same object.

Memories (all written through a host port, one entry per clock cycle):

``data``   the data memories (``wmem``, ``mmem``, ... of :mod:`fixar_gen.memory_kinds`):
           every buffer of a program and the host slots (the program's inputs and
           outputs, in ``amem``); the host addresses a word by the memory's id above
           its offset (:meth:`HostMap.data_address`) and writes and reads
           ``word``-bit two's-complement integers (a memory stores the low bits of
           its own width and reads back sign-extended);
``desc``   the buffer-descriptor table, one entry per buffer id of the program
           (``DESC_FIELDS``): the buffer's memory and offset there, its shape and
           fixed-point format;
``slot``   the slot-descriptor table, one entry per host slot (``SLOT_FIELDS``);
``imem``   one instruction memory per core (``isa.INSTRUCTION_BITS``-bit words; the
           host writes each core the instructions whose ``core`` field names it).

Control: ``host_start`` (a one-cycle pulse starts every core at instruction 0),
``host_done`` (1 once every core has halted, until the next start),
``host_pre_fmt`` (the program's pre-activation format, held during a run).
The ``data`` read port is synchronous: ``host_mem_rdata`` is the word at the address
``host_mem_raddr`` held one clock edge earlier (``read_latency`` in ``hostmap.json``).
Statistics (``stat_*`` read port, synchronous too): per core, the cycles of the last
run and the saturation counters per buffer id (32-bit, cumulative, wrapping);
``host_stat_rdata`` is the count of the buffer id ``host_stat_addr`` held one clock
edge earlier (``read_latency`` of ``stats``), of the core and kind its ports name
(held while reading), read while the cores are idle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .. import isa
from ..memory_kinds import MEMORIES
from .data_memories import MEMORY_ID_BITS
from .vector import FORMAT_BITS, FORMAT_FIELDS

#: clock edges from ``host_mem_raddr`` to its word on ``host_mem_rdata``, and from
#: ``host_stat_addr`` to its count on ``host_stat_rdata``
HOST_READ_LATENCY = 1
COUNT_BITS = isa.COUNT_BITS + 1          # a dimension of up to 2^16 elements
ACC_BITS_FIELD = 7
STAT_KINDS = ("cycles", "saturations")
STAT_BITS = 32


def desc_fields(addr_bits: int) -> tuple[tuple[str, int], ...]:
    """Fields of a buffer descriptor, lowest bits first (``base``: the buffer's offset
    in its memory ``mem``, an index of :data:`fixar_gen.memory_kinds.MEMORIES`)."""
    return (("base", addr_bits), ("rows", COUNT_BITS), ("cols", COUNT_BITS),
            ("fmt", FORMAT_BITS), ("acc_bits", ACC_BITS_FIELD), ("mem", MEMORY_ID_BITS))


def slot_fields(addr_bits: int) -> tuple[tuple[str, int], ...]:
    return (("base", addr_bits), ("cols", COUNT_BITS))


def pack(fields, **values) -> int:
    word, pos = 0, 0
    for name, bits in fields:
        value = int(values.get(name, 0))
        if not 0 <= value < 1 << bits:
            raise ValueError(f"{name} = {value} does not fit {bits} bits")
        word |= value << pos
        pos += bits
    return word


def unpack(fields, word: int) -> dict[str, int]:
    out, pos = {}, 0
    for name, bits in fields:
        out[name] = (word >> pos) & ((1 << bits) - 1)
        pos += bits
    return out


def width(fields) -> int:
    return sum(bits for _, bits in fields)


@dataclass(frozen=True)
class HostMap:
    """Sizes of a generated core's host-visible memories and ports."""

    name: str
    cores: int
    word: int                 # datapath word bits (the host port's data words)
    addr_bits: int            # offset bits in a data memory
    imem_bits: int            # instruction memory address bits (per core)
    buffer_bits: int          # descriptor table address bits
    slot_bits: int            # slot table address bits
    #: per-core memories: every host write and read names its copy (the core field
    #: above the memory id of ``host_mem_addr`` and ``host_mem_raddr``, above the index
    #: of ``host_desc_addr`` and ``host_slot_addr``): each copy holds its own rows at
    #: its own addresses, with its own descriptor and slot tables
    per_core: bool = False

    @property
    def desc_fields(self):
        return desc_fields(self.addr_bits)

    @property
    def slot_fields(self):
        return slot_fields(self.addr_bits)

    @property
    def data_addr_bits(self) -> int:
        """Bits of the host's data address: the memory id above the offset."""
        return MEMORY_ID_BITS + self.addr_bits

    def data_address(self, memory: str, offset: int) -> int:
        """The host's data address of word ``offset`` of memory ``memory``."""
        if not 0 <= offset < 1 << self.addr_bits:
            raise ValueError(f"offset {offset} is beyond {self.addr_bits} address bits")
        return (MEMORIES.index(memory) << self.addr_bits) | offset

    @property
    def read_addr_bits(self) -> int:
        """Bits of the host's data read address: with per-core memories the copy's core
        above the memory id and the offset."""
        return self.data_addr_bits + (self.core_bits if self.per_core else 0)

    def read_address(self, address: int, core: int = 0) -> int:
        """The host's read address of data address ``address`` in core ``core``'s copy
        (the shared memories: ``address``)."""
        return self._with_core("data", address, core)

    def write_address(self, address: int, core: int = 0) -> int:
        """The host's write address of data address ``address`` in core ``core``'s copy
        (the shared memories: ``address``): as :meth:`read_address`."""
        return self.read_address(address, core)

    def table_address(self, table: str, index: int, core: int = 0) -> int:
        """The host's write address of entry ``index`` of core ``core``'s ``"desc"`` or
        ``"slot"`` table (the shared tables: ``index``)."""
        return self._with_core(table, index, core) if self.per_core else index

    def copy_of(self, memory: str, address: int) -> tuple[int, int]:
        """(copy, address without the core field) of a host write address of ``memory``
        (``"data"``, ``"desc"``, ``"slot"``; the shared memories: copy 0)."""
        if not self.per_core:
            return 0, address
        bits = self.index_bits(memory)
        return address >> bits, address & ((1 << bits) - 1)

    def index_bits(self, memory: str) -> int:
        """Bits below the core field of a host address of ``memory`` (``"data"``: the
        data address; ``"desc"``, ``"slot"``: the table index; ``"imem"``: the address
        in the core's instruction memory, whose core is a port of its own)."""
        return {"data": self.data_addr_bits, "desc": self.buffer_bits,
                "slot": self.slot_bits, "imem": self.imem_bits}[memory]

    def _with_core(self, memory: str, address: int, core: int) -> int:
        """``address`` of ``memory`` with core ``core``'s field above it (per-core
        memories; the shared memories: ``address``)."""
        if not 0 <= core < self.cores:
            raise ValueError(f"core {core} of {self.cores}")
        return address | core << self.index_bits(memory) if self.per_core else address

    def split_address(self, address: int) -> tuple[str, int]:
        """(memory, offset) of a host data address (without its core field)."""
        address &= (1 << self.data_addr_bits) - 1
        return MEMORIES[address >> self.addr_bits], address & ((1 << self.addr_bits) - 1)

    @property
    def core_bits(self) -> int:
        return max(1, (self.cores - 1).bit_length())

    @property
    def stat_addr_bits(self) -> int:
        return max(self.buffer_bits, 1)

    def ports(self) -> dict[str, tuple[int, str]]:
        """Top-level port name -> (bits, "in"/"out")."""
        d, s = width(self.desc_fields), width(self.slot_fields)
        core = self.core_bits if self.per_core else 0      # the copy a write names
        return {
            "host_start": (1, "in"), "host_done": (1, "out"), "host_busy": (1, "out"),
            "host_pre_fmt": (FORMAT_BITS, "in"),
            "host_mem_we": (1, "in"), "host_mem_addr": (self.read_addr_bits, "in"),
            "host_mem_wdata": (self.word, "in"),
            "host_mem_raddr": (self.read_addr_bits, "in"),
            "host_mem_rdata": (self.word, "out"),
            "host_desc_we": (1, "in"), "host_desc_addr": (self.buffer_bits + core, "in"),
            "host_desc_wdata": (d, "in"),
            "host_slot_we": (1, "in"), "host_slot_addr": (self.slot_bits + core, "in"),
            "host_slot_wdata": (s, "in"),
            "host_imem_we": (1, "in"), "host_imem_core": (self.core_bits, "in"),
            "host_imem_addr": (self.imem_bits, "in"),
            "host_imem_wdata": (isa.INSTRUCTION_BITS, "in"),
            "host_stat_core": (self.core_bits, "in"), "host_stat_kind": (1, "in"),
            "host_stat_addr": (self.stat_addr_bits, "in"),
            "host_stat_rdata": (STAT_BITS, "out"),
        }

    def describe(self) -> dict:
        """The map as JSON-able data (``hostmap.json``)."""
        return {
            "name": self.name, "cores": self.cores, "word_bits": self.word,
            "instruction_bits": isa.INSTRUCTION_BITS,
            "memories": {
                "data": {"depth": 1 << self.data_addr_bits, "bits": self.word,
                         "address": {"offset": [0, self.addr_bits],
                                     "memory": [self.addr_bits, MEMORY_ID_BITS]},
                         **({"read_core": [self.data_addr_bits, self.core_bits],
                             "write_core": [self.data_addr_bits, self.core_bits],
                             "per_core": True} if self.per_core else {}),
                         "memory_ids": {m: i for i, m in enumerate(MEMORIES)},
                         "write": ["host_mem_we", "host_mem_addr", "host_mem_wdata"],
                         "read": ["host_mem_raddr", "host_mem_rdata"],
                         "read_latency": HOST_READ_LATENCY},
                "desc": {"depth": 1 << self.buffer_bits, "bits": width(self.desc_fields),
                         "fields": _layout(self.desc_fields),
                         **({"write_core": [self.buffer_bits, self.core_bits],
                             "per_core": True} if self.per_core else {}),
                         "write": ["host_desc_we", "host_desc_addr", "host_desc_wdata"]},
                "slot": {"depth": 1 << self.slot_bits, "bits": width(self.slot_fields),
                         "fields": _layout(self.slot_fields),
                         **({"write_core": [self.slot_bits, self.core_bits],
                             "per_core": True} if self.per_core else {}),
                         "write": ["host_slot_we", "host_slot_addr", "host_slot_wdata"]},
                "imem": {"depth": 1 << self.imem_bits, "bits": isa.INSTRUCTION_BITS,
                         "per_core": True,
                         "write": ["host_imem_we", "host_imem_core", "host_imem_addr",
                                   "host_imem_wdata"]},
            },
            "format_fields": _layout(FORMAT_FIELDS),
            "stats": {"kinds": list(STAT_KINDS), "bits": STAT_BITS,
                      "read": ["host_stat_core", "host_stat_kind", "host_stat_addr",
                               "host_stat_rdata"],
                      "read_latency": HOST_READ_LATENCY},
            "ports": {name: {"bits": bits, "dir": way}
                      for name, (bits, way) in self.ports().items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.describe(), indent=2) + "\n"

    def c_header(self) -> str:
        """The same map as C preprocessor constants (``<NAME>_...``)."""
        top = self.name.upper()
        data = self.describe()
        lines = [f"/* generated by fixar_gen from the host map of {self.name}; do not edit */",
                 f"#ifndef {top}_HOSTMAP_H", f"#define {top}_HOSTMAP_H", "",
                 f"#define {top}_CORES {self.cores}u",
                 f"#define {top}_WORD_BITS {self.word}u",
                 f"#define {top}_INSTRUCTION_BITS {isa.INSTRUCTION_BITS}u"]
        for mem, info in data["memories"].items():
            lines.append(f"#define {top}_{mem.upper()}_DEPTH {info['depth']}u")
            lines.append(f"#define {top}_{mem.upper()}_BITS {info['bits']}u")
            if "read_latency" in info:
                lines.append(f"#define {top}_{mem.upper()}_READ_LATENCY "
                             f"{info['read_latency']}u")
            for field_name, (lsb, bits) in info.get("fields", {}).items():
                key = f"{top}_{mem.upper()}_{field_name.upper()}"
                lines.append(f"#define {key}_LSB {lsb}u")
                lines.append(f"#define {key}_BITS {bits}u")
            # the address's own fields: the data address's offset and memory id, and with
            # per-core memories the copy's core field above them
            address = {f"ADDR_{k.upper()}": v for k, v in info.get("address", {}).items()}
            address.update({k.upper(): info[k] for k in ("read_core", "write_core")
                            if k in info})
            for key_name, (lsb, bits) in address.items():
                key = f"{top}_{mem.upper()}_{key_name}"
                lines.append(f"#define {key}_LSB {lsb}u")
                lines.append(f"#define {key}_BITS {bits}u")
            lines.append(f"#define {top}_{mem.upper()}_PER_CORE "
                         f"{int(bool(info.get('per_core')))}u")
            for memory, index in info.get("memory_ids", {}).items():
                lines.append(f"#define {top}_MEMORY_{memory.upper()} {index}u")
        for field_name, (lsb, bits) in data["format_fields"].items():
            lines.append(f"#define {top}_FMT_{field_name.upper()}_LSB {lsb}u")
            lines.append(f"#define {top}_FMT_{field_name.upper()}_BITS {bits}u")
        for i, kind in enumerate(STAT_KINDS):
            lines.append(f"#define {top}_STAT_{kind.upper()} {i}u")
        lines.append(f"#define {top}_STAT_READ_LATENCY {data['stats']['read_latency']}u")
        for name, (bits, way) in self.ports().items():
            lines.append(f"#define {top}_PORT_{name.upper()}_BITS {bits}u  /* {way} */")
        lines += ["", f"#endif /* {top}_HOSTMAP_H */", ""]
        return "\n".join(lines)


def _layout(fields) -> dict[str, list[int]]:
    out, pos = {}, 0
    for name, bits in fields:
        out[name] = [pos, bits]
        pos += bits
    return out
