"""The generated design's own memory inventory: every RAM the core generator
(:mod:`fixar_gen.hw.core`) elaborates for a :class:`~fixar_gen.hw.core.CoreConfig`,
with its width, depth, banks, ports, how its reads are addressed, and what synthesis
makes of it by these rules (docs/hardware.md, "Memory inventory": what Yosys
``synth_xilinx -family xcup`` made of a 4096 x 82 PyRTL MemBlock with each kind of
ports):

- every read synchronous -- a registered address, or a read whose data goes straight
  into a register (``registered data``: the descriptor latches) -- one write port and
  more than 64 words: **block RAM**, the RAMB36E2, RAMB18E2 or URAM288 Yosys's
  ``memory_libmap`` picks by its cost model (:mod:`.block_ram_choice`: a URAM288 holds
  an 8K x 32 memory as two 4K pieces side by side, a RAMB18E2 is half a BRAM36), one
  copy per read port when the reads and the write are more than one primitive's two
  ports (``memory_libmap`` duplicates the memory);
- synchronous reads and at most 64 words (a bank's): **LUT RAM** (``memory_libmap``
  finds RAM32M16 / RAM64M8 cheaper than a RAMB18E2: measured at 32 and 64 words, block
  RAM from 128 on, 32 and 82 bits wide);
- one write port and reads at computed (combinational) addresses: **LUT RAM**
  (RAM64M8, one copy per group of read ports);
- more than one write port: **flip-flops**.

``fixar generate --synth-memories`` (:mod:`fixar_gen.hw.memory_map`) checks these
rules against Yosys memory by memory.

``fixar generate`` writes it into report.json, ``fixar estimate`` prints it, and the
spec validation of a board target checks it (:mod:`fixar_gen.memory_fit`); the one
function that builds it is :func:`memory_inventory`.  ``as_block_ram`` is what each
memory's bits take in block RAM once its ports fit one primitive's, in banks of BRAM36
(best aspect ratio, 32K x 1 ... 512 x 72) and URAM288 (4K x 72) side by side for the
width (:func:`block_ram`) -- a capacity for the fit check, not Yosys's mapping.

The lanes' constant tanh tables (RomBlocks, LUTs) are not RAMs and are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .. import isa
from ..boards import U50
from ..memory_kinds import MEMORY_ROLES, SLOT_MEMORY
from ..resources import URAM_SHAPE, bram36_count, uram_count
from ..memory_kinds import ACC_MEMORY
from .block_ram_choice import bram36_equivalent, yosys_block_ram
from .core import CoreConfig, OPERAND_SLOTS, memory_ports
from .data_memories import LUT_RAM_WORDS, interleaved_bank_shape
from .hostmap import STAT_BITS, width

BRAM36_BITS = 36 * 1024
URAM_BITS = 288 * 1024

BLOCK_RAM, LUT_RAM, FLIP_FLOPS = "block RAM", "LUT RAM", "flip-flops"
#: a memory's scope: one for the whole design, or one (a copy) per core
SHARED, PER_CORE = "shared", "per core"
#: how a memory's reads are addressed: a registered address, a combinational address
#: whose read data goes straight into a register (both synchronous: block RAM ports),
#: a combinational address and data (an asynchronous read)
REGISTERED, REGISTERED_DATA, COMPUTED = "registered", "registered data", "computed"
SYNCHRONOUS = (REGISTERED, REGISTERED_DATA)

#: LUTs of an interleaved memory's line port (its read and write rotations, the bank
#: addresses and the bypass of a word written in the cycle it is read), per bank and bit
#: of the word: Yosys 0.70 ``synth_xilinx -family xcup`` of the banked memories of
#: examples/fixar_u50.yaml's per-core copy, each alone with one line port
#: (``benchmarks/line_ports.py``; docs/hardware.md, "Memory inventory"): ``gmem`` 16 x
#: 32 bits 3,757 LUT (7.34 a bank and bit), ``cmem``'s double line 32 x 82 18,699
#: (7.13).  The rotations' 4-way stages (``banked._rotation_stages``: two at 16 banks,
#: three at 32) do not show in these figures, so the model has none.
BANK_PORT_LUTS_PER_BIT = 7.23
#: the strided read's extra LUTs per element, bit of the word and bank (each element's
#: word a choice among the banks, each bank's address a choice among the elements):
#: ``wmem``'s 32 x 32 banks (a double line) with 16 elements 20,317 LUT, ``amem``'s 64 x
#: 32 with 32 elements 62,642 (fitted to both: 19,773 and 64,287 modeled).  Before the
#: rotations' stages the model was 2.25 LUT per bank, bit and rotation stage (log2 of the
#: banks) plus 1.83 for a strided read, fitted at other sizes: at fixar_u50's it said
#: 50,135 for ``amem``'s port against 62,642 measured.
STRIDED_LUTS_PER_ELEMENT_BIT_BANK = 0.755
#: LUTs of a flip-flop memory (more than one write port: ``smem``) per bit of its words
#: (width x depth), per read port (its word's multiplexer over the depth) and per write
#: port (each word's choice among the writes and its enable): the two solve Yosys 0.70
#: ``synth_xilinx -family xcup`` of a 64 x 49-bit MemBlock with registered-address
#: reads and enabled writes, every port a module port, at fixar_u50's ports before and
#: after the other lanes lost theirs (BENCHMARKS.md, "smem's ports for lane 0 alone"):
#: 67 reads and 19 writes 157,043 LUT, 7 and 4 17,816.  Two measurements, two
#: coefficients: the split between reads and writes is the fit's, not measured apart.
FLIP_FLOP_READ_LUTS = 0.684
FLIP_FLOP_WRITE_LUTS = 0.223


def bank_port_luts(banks: int, width_bits: int, ports: int, strided: int = 0) -> int:
    """Modeled LUTs of ``ports`` line ports (one per core) of ``banks`` interleaved
    banks of ``width_bits``-bit words whose read also serves ``strided`` elements
    (:meth:`~fixar_gen.hw.core.CoreConfig.strided_elements`; 0 for none); 0 for one
    bank: nothing to rotate."""
    if banks < 2:
        return 0
    per_port = (BANK_PORT_LUTS_PER_BIT + STRIDED_LUTS_PER_ELEMENT_BIT_BANK * strided) \
        * banks * width_bits
    return round(ports * per_port)


def block_ram_options(width_bits: int, depth: int) -> list[tuple[int, int]]:
    """The (BRAM36, URAM288) a ``width_bits`` x ``depth`` memory can be built from,
    banks side by side: all BRAM36, all URAM288, or URAM288 for the whole 72-bit slices
    and BRAM36 for the rest."""
    u_width = URAM_SHAPE[0]
    options = [(bram36_count(width_bits, depth), 0), (0, uram_count(width_bits, depth))]
    whole, rest = divmod(width_bits, u_width)
    if whole and rest:
        options.append((bram36_count(rest, depth), uram_count(whole * u_width, depth)))
    return options


def block_ram(width_bits: int, depth: int) -> tuple[int, int]:
    """(BRAM36, URAM288) for a ``width_bits`` x ``depth`` memory: the option of
    :func:`block_ram_options` that takes the smallest share of the U50's."""
    return min(block_ram_options(width_bits, depth),
               key=lambda o: max(o[0] / U50.bram36, o[1] / U50.uram))


def joint_block_ram_plan(memories, have_bram: int,
                         have_uram: int) -> tuple[tuple[int, int], ...]:
    """(BRAM36, URAM288) of each of ``memories`` (:class:`GeneratedMemory`, all its
    copies and banks), each built from one of its :func:`block_ram_options`, chosen
    together for the smallest share of ``have_bram`` / ``have_uram`` (the fuller of the
    two kinds): what a synthesis flow that places each memory in BRAM or URAM can
    reach.  Exact (the Pareto front of the totals, memory by memory)."""
    front: dict[tuple[int, int], tuple[tuple[int, int], ...]] = {(0, 0): ()}
    for m in memories:
        n = m.copies * m.banks
        options = [(b * n, u * n) for b, u in block_ram_options(m.width, m.depth)]
        sums: dict[tuple[int, int], tuple[tuple[int, int], ...]] = {}
        for (b, u), plan in front.items():
            for o in options:
                sums.setdefault((b + o[0], u + o[1]), plan + (o,))
        front = {}
        least_uram = None               # the Pareto front: ascending BRAM, falling URAM
        for p in sorted(sums):
            if least_uram is None or p[1] < least_uram:
                front[p], least_uram = sums[p], p[1]
    best = min(front, key=lambda o: (max(o[0] / max(have_bram, 1), o[1] / max(have_uram, 1)),
                                     o))
    return front[best]


def joint_block_ram(memories, have_bram: int, have_uram: int) -> tuple[int, int]:
    """The (BRAM36, URAM288) totals of :func:`joint_block_ram_plan`."""
    plan = joint_block_ram_plan(memories, have_bram, have_uram)
    return sum(b for b, _ in plan), sum(u for _, u in plan)


@dataclass(frozen=True)
class GeneratedMemory:
    """One RAM of the generated design (``copies``: one per core for per-core ones)."""

    name: str                 # the PyRTL MemBlock name (core0_ prefix for per-core ones)
    scope: str                # "shared" or "per core"
    copies: int
    width: int                # bits per word
    depth: int                # words (2^address bits)
    banks: int                # memories side by side that form one word line
    reads: int                # read ports (one copy)
    writes: int               # write ports (one copy)
    read_address: str         # REGISTERED | REGISTERED_DATA | COMPUTED
    holds: str
    #: the MemBlock of each bank (default: one, ``name``)
    bank_names: tuple[str, ...] = ()
    #: modeled LUTs of the banks' line ports (:func:`bank_port_luts`; on the main
    #: entry of a banked memory, none on its tail, which shares them)
    port_luts: int = 0
    #: the core whose copy this is, on a design with per-core memories (each core's
    #: copy listed on its own, its names the netlist's: ``core<k>_...``); None: the
    #: shared memories, or one entry for every core's (``copies``; the netlist's names
    #: ``core<k>_`` + ``name``)
    core: int | None = None

    @property
    def block_names(self) -> tuple[str, ...]:
        return self.bank_names or (self.name,)

    @property
    def netlist_names(self) -> tuple[str, ...]:
        """The MemBlocks of this entry in the elaborated design (all copies, banks)."""
        if self.scope == SHARED or self.core is not None:
            return self.block_names
        return tuple(f"core{c}_{n}" for c in range(self.copies) for n in self.block_names)

    @property
    def bits(self) -> int:
        """Bits of all copies."""
        return self.copies * self.banks * self.width * self.depth

    @property
    def maps_to(self) -> str:
        if self.writes > 1:
            return FLIP_FLOPS
        if self.read_address in SYNCHRONOUS and self.depth > LUT_RAM_WORDS:
            return BLOCK_RAM
        return LUT_RAM

    @property
    def read_copies(self) -> int:
        """Copies Yosys makes of a block RAM for its read ports: one per read port when
        the reads and the write are more than one primitive's two ports, else one."""
        if self.maps_to == BLOCK_RAM and self.reads + self.writes > 2:
            return self.reads
        return 1

    @property
    def as_block_ram(self) -> tuple[int, int]:
        """(BRAM36, URAM288) that hold the bits of all copies, a bank in the cheaper
        primitive each (what the memory takes once synchronous and within one
        primitive's ports)."""
        b, u = block_ram(self.width, self.depth)
        n = self.copies * self.banks
        return b * n, u * n

    @property
    def flip_flop_resources(self) -> tuple[int, int]:
        """(LUTs, FFs) of all copies and banks when it maps to flip-flops (modeled:
        :data:`FLIP_FLOP_READ_LUTS`, :data:`FLIP_FLOP_WRITE_LUTS`; a flip-flop a bit),
        else (0, 0)."""
        if self.maps_to != FLIP_FLOPS:
            return 0, 0
        bits = self.width * self.depth
        per_copy = bits * (FLIP_FLOP_READ_LUTS * self.reads + FLIP_FLOP_WRITE_LUTS * self.writes)
        n = self.copies * self.banks
        return round(per_copy * n), bits * n

    @property
    def block_ram_primitives(self) -> dict[str, int]:
        """{primitive: count} of all copies and banks as generated, what Yosys's
        ``memory_libmap`` builds when it maps to block RAM (:mod:`.block_ram_choice`:
        RAMB36E2, RAMB18E2 or URAM288, a copy per read port where Yosys duplicates
        it), else none (it is LUT RAM or flip-flops)."""
        if self.maps_to != BLOCK_RAM:
            return {}
        one = yosys_block_ram(self.width, self.depth, self.reads, self.read_copies)
        n = self.copies * self.banks
        return {k: v * n for k, v in sorted(one.items())}

    @property
    def primitives(self) -> tuple[float, int]:
        """(BRAM36, URAM288) as generated: :attr:`block_ram_primitives`, a RAMB18E2
        half a BRAM36."""
        p = self.block_ram_primitives
        return bram36_equivalent(p), p.get("URAM288", 0)

    def as_dict(self) -> dict:
        b, u = self.primitives
        ab, au = self.as_block_ram
        return {"name": self.name, "scope": self.scope, "copies": self.copies,
                "width_bits": self.width, "depth": self.depth, "banks": self.banks,
                "read_ports": self.reads, "write_ports": self.writes,
                "read_address": self.read_address, "holds": self.holds,
                "bits": self.bits, "maps_to": self.maps_to,
                "read_copies": self.read_copies, "bram36": b, "uram": u,
                "primitives": self.block_ram_primitives,
                "as_block_ram": {"bram36": ab, "uram": au}, "port_luts": self.port_luts,
                "flip_flop_luts": self.flip_flop_resources[0],
                **({"core": self.core} if self.core is not None else {})}


@dataclass(frozen=True)
class Inventory:
    """Every RAM of one generated design."""

    design: str
    memories: tuple[GeneratedMemory, ...]
    organisation: str

    @property
    def bits(self) -> int:
        return sum(m.bits for m in self.memories)

    @property
    def primitives(self) -> tuple[int, int]:
        return (sum(m.primitives[0] for m in self.memories),
                sum(m.primitives[1] for m in self.memories))

    @property
    def as_block_ram(self) -> tuple[int, int]:
        return (sum(m.as_block_ram[0] for m in self.memories),
                sum(m.as_block_ram[1] for m in self.memories))

    @property
    def port_luts(self) -> int:
        """Modeled LUTs of every banked memory's line ports."""
        return sum(m.port_luts for m in self.memories)

    @property
    def flip_flop_resources(self) -> tuple[int, int]:
        """Modeled (LUTs, FFs) of the memories that map to flip-flops."""
        return (sum(m.flip_flop_resources[0] for m in self.memories),
                sum(m.flip_flop_resources[1] for m in self.memories))

    def bits_by_mapping(self) -> dict[str, int]:
        out = {BLOCK_RAM: 0, LUT_RAM: 0, FLIP_FLOPS: 0}
        for m in self.memories:
            out[m.maps_to] += m.bits
        return out

    def as_dict(self) -> dict:
        b, u = self.primitives
        ab, au = self.as_block_ram
        return {"design": self.design, "organisation": self.organisation,
                "memories": [m.as_dict() for m in self.memories],
                "total_bits": self.bits, "bits_by_mapping": self.bits_by_mapping(),
                "bram36": b, "uram": u, "as_block_ram": {"bram36": ab, "uram": au},
                "port_luts": self.port_luts,
                "flip_flop_luts": self.flip_flop_resources[0]}


MEMORY_PER_KIND = ("one data memory per memory of the placement (parameters, optimizer "
                   "state, gradients, activations and host slots, accumulators, small "
                   "ones), each at its own width and depth and shared by all cores, with "
                   "synchronous reads (registered addresses); the gradients (and the "
                   "layers' deltas, whose lines the matrix unit reads too) and the "
                   "optimizer state are "
                   "interleaved banks with a line read and a line write port per core, "
                   "the accumulators and the parameters 2H interleaved banks with a "
                   "double-line read and write port per core (the parameters' read also "
                   "a strided line: the transposed weights), the activations and host "
                   "slots 4P interleaved banks with a line read (also a strided line of "
                   "2R words: the matrix unit's activation rows and columns) and a line "
                   "write port per core, block RAM on a one-core design; the small ones "
                   "still have a read and write port per operand of the units that "
                   "reach them")


PER_CORE_MEMORIES = ("per-core memories: each core its own copy of the data memories "
                     "(the same memories as a one-core design's, each bank with one line "
                     "read and one line write port: block RAM), its own descriptor and slot "
                     "tables, instruction memory and saturation counters; the cores "
                     "exchange words by xfer, written through the receiver's own ports")


def memory_inventory(cfg: CoreConfig) -> Inventory:
    """The RAMs :func:`fixar_gen.hw.core.build_core` elaborates for ``cfg``
    (tests/hw/test_inventory.py checks this against the elaborated netlist); with
    ``cfg.per_core_memories`` every core's copy on its own (:func:`copies_inventory`)."""
    if cfg.per_core_memories:
        return copies_inventory(cfg.name, [one_core(cfg)] * cfg.cores, PER_CORE_MEMORIES)
    return _shared_inventory(cfg)


def one_core(cfg: CoreConfig) -> CoreConfig:
    """The one-core design whose memories are each core's copy on ``cfg`` with
    per-core memories: the same sizes, one core's ports."""
    return replace(cfg, cores=1, per_core_memories=False)


def copies_inventory(name: str, configs, organisation: str) -> Inventory:
    """The memories of a design whose core ``k`` has the memories of the one-core
    design ``configs[k]`` (each listed on its own, scope "per core", named as the
    elaborated design names them: ``core<k>_`` and the one-core design's name); what
    :func:`memory_inventory` lists for per-core memories, and
    :func:`fixar_gen.percore_fit.per_core_inventory` for copies of their own sizes.
    With two or more cores each copy's descriptor table has one read more than the
    one-core design's: the incoming link's buffer, whose base in this copy moves the
    link's addresses (``core._drive_link_in``)."""
    mems = []
    linked = len(configs) > 1
    for k, one in enumerate(configs):
        if one.cores != 1 or one.per_core_memories:
            raise ValueError(f"core {k}'s copy: {one.name} is not a one-core design "
                             "with its memories shared (one_core)")
        for m in _shared_inventory(one).memories:
            link_read = 1 if linked and m.name == "mem_desc" else 0
            mems.append(replace(m, name=f"core{k}_{m.name}", scope=PER_CORE, copies=1, core=k,
                                reads=m.reads + link_read,
                                bank_names=tuple(f"core{k}_{b}" for b in m.bank_names)))
    return Inventory(name, tuple(mems), organisation)


def _shared_inventory(cfg: CoreConfig) -> Inventory:
    """The RAMs of ``cfg`` without per-core memories."""
    hm = cfg.hostmap
    n = cfg.cores
    data = []
    for shape in cfg.data_memories:
        reads, writes = memory_ports(cfg, shape.name)
        holds = MEMORY_ROLES[shape.name] + " (placed by lifetime)" \
            + (" and the host slots" if shape.name == SLOT_MEMORY else "")
        B = cfg.memory_banks(shape.name)
        if B:
            bits = interleaved_bank_shape(B, shape.addr_bits, shape.tail_bits)
            for k, b in enumerate(bits):
                tail = "_tail" if k else ""
                data.append(GeneratedMemory(
                    f"{shape.block_name}_bank{tail}", SHARED, 1, shape.width, 1 << b, B,
                    reads, writes, REGISTERED,
                    holds + f" in {B} interleaved banks (word a: bank a mod {B}"
                    + ("; a double line of two half lines a cycle)" if shape.name == ACC_MEMORY
                       else ")")
                    + (" (the banks' words beyond their main RAMs)" if k else ""),
                    tuple(f"{shape.block_name}_bank{j}{tail}" for j in range(B)),
                    0 if k else bank_port_luts(B, shape.width, reads,
                                               cfg.strided_elements(shape.name))))
            continue
        for k, (block, words) in enumerate(shape.blocks):
            data.append(GeneratedMemory(
                block, SHARED, 1, shape.width, words, 1, reads, writes, REGISTERED,
                holds + (f" (words from {shape.blocks[0][1]:,} on)" if k else "")))
    data = tuple(data)
    mems = data + (
        GeneratedMemory("mem_desc", SHARED, 1, width(hm.desc_fields), 1 << cfg.buffer_bits,
                        1, len(OPERAND_SLOTS) * n, 1, REGISTERED_DATA,
                        "buffer descriptors (offset, shape, format; each read latched "
                        "into a descriptor register)"),
        GeneratedMemory("mem_slot", SHARED, 1, width(hm.slot_fields), 1 << cfg.slot_bits,
                        1, n, 1, COMPUTED, "host slot descriptors"),
        GeneratedMemory("imem", PER_CORE, n, isa.INSTRUCTION_BITS, 1 << cfg.imem_bits, 1,
                        1, 1, REGISTERED, "the core's instructions"),
    ) + tuple(
        GeneratedMemory(f"sat_{kind}", PER_CORE, n, STAT_BITS, 1 << cfg.buffer_bits, 1, 1,
                        1, REGISTERED, f"saturation counters per buffer id ({what}; a "
                        "read-modify-write a cycle, the host's statistics read at the "
                        "same registered address while the core is idle)")
        for kind, what in (("d", "the destinations' counts"), ("e", "the e outputs'")))
    return Inventory(cfg.name, mems, MEMORY_PER_KIND)


def format_inventory(inv: dict) -> list[str]:
    """Readable lines of an inventory's :meth:`Inventory.as_dict` (``fixar estimate``)."""
    lines = []
    for m in inv["memories"]:
        where = (f"{m['bram36']:,g} BRAM36 + {m['uram']:,} URAM" if m["maps_to"] == BLOCK_RAM
                 else m["maps_to"])
        copies = f"{m['copies']} x " if m["copies"] > 1 else ""
        copies += f"{m['banks']} banks x " if m["banks"] > 1 else ""
        ports = (f"; its line ports {m['port_luts']:,} LUT (modeled)"
                 if m.get("port_luts") else "")
        lines.append(f"    {m['name']:<9} {copies}{m['depth']:,} x {m['width_bits']} bits "
                     f"({m['bits'] / 1e6:,.2f} Mbit; {m['read_ports']} read / "
                     f"{m['write_ports']} write ports, {m['read_address']} read address): "
                     f"{where}{ports}")
    ab = inv["as_block_ram"]
    lines.append(f"    total {inv['total_bits'] / 1e6:,.1f} Mbit; each memory alone in its "
                 f"cheaper primitive (once within one primitive's ports): "
                 f"{ab['bram36']:,} BRAM36 + {ab['uram']:,} URAM")
    return lines
