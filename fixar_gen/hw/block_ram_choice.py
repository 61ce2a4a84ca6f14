"""Which block RAM primitives Yosys makes of one memory: the cost model of Yosys 0.70's
``memory_libmap`` (``handle_geom`` in passes/memory/memory_libmap.cc) over the xcup
library of ``synth_xilinx -family xcup -uram`` (techlibs/xilinx/brams_xc4v.txt and
urams.txt), for a memory whose writes are whole words at one enable.

A primitive of ``2^abits`` bits at data width ``widths[i]`` is ``2^(abits - i)`` words
deep.  ``memory_libmap`` tries each primitive and each of its widths; a word takes its
width rounded up to the primitive's byte (9 bits; the URAM288's 8 or 9); the address
range is cut into ``ceil(depth / words)`` pieces that sit side by side in the
primitive's width (a URAM288 4K x 72 holds an 8K x 32 memory: two 4K pieces of 32
bits), and the instances are ``ceil(pieces x rounded width / width)``.  Its cost is
``cost x instances x read copies`` plus half a unit per bit of the read multiplexer
over the pieces (per read port) and half a unit per piece of the write demultiplexer;
the cheapest choice wins, the first listed on a tie (block RAM before URAM288).  The
emulation scores (a few units for transparency logic) are not modeled: they decide
only between choices that cost the same to within a few units, which are the same
primitives here (tests/hw/test_memory_map.py compares every memory with Yosys's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: half a cost unit per multiplexer / demultiplexer bit (``FACTOR_MUX``, ``FACTOR_DEMUX``)
MUX_COST = DEMUX_COST = 0.5


@dataclass(frozen=True)
class RamOption:
    """One primitive mode of the library: ``per_instance`` primitives each."""

    primitive: str
    abits: int
    widths: tuple[int, ...]
    cost: int
    byte: int
    per_instance: int = 1


#: the xcup library, in its order (block RAM, then URAM288): the simple dual-port
#: RAMB36E2 (FULL) and RAMB18E2 (HALF), two RAMB36E2 cascaded (TDP CASCADE), and the
#: URAM288 with 8- or 9-bit bytes (the true dual-port modes have the same costs and a
#: subset of the widths)
XCUP_RAMS = (
    RamOption("RAMB18E2", 14, (1, 2, 4, 9, 18, 36), 129, 9),
    RamOption("RAMB36E2", 15, (1, 2, 4, 9, 18, 36, 72), 257, 9),
    RamOption("RAMB36E2", 16, (1, 2, 4, 9), 513, 9, per_instance=2),
    RamOption("URAM288", 12, (72,), 1024, 8),
    RamOption("URAM288", 12, (72,), 1024, 9),
)


def option_cost(option: RamOption, width: int, depth: int, reads: int = 1,
                copies: int = 1) -> tuple[float, int]:
    """(cost, instances of one copy) of the cheapest width of ``option`` for a
    ``width`` x ``depth`` memory with ``reads`` read ports, ``copies`` copies."""
    best = None
    for i, unit in enumerate(option.widths):
        byte = min(option.byte, unit)
        rounded = math.ceil(width / byte) * byte
        pieces = math.ceil(depth / (1 << (option.abits - i)))
        instances = math.ceil(pieces * rounded / unit)
        cost = option.cost * instances * copies
        cost += MUX_COST * (pieces - 1) * width * reads
        cost += DEMUX_COST * (pieces if pieces > 1 else 0)
        if best is None or cost < best[0]:
            best = (cost, instances)
    return best


def yosys_block_ram(width: int, depth: int, reads: int = 1, copies: int = 1,
                    rams=XCUP_RAMS) -> dict[str, int]:
    """{primitive: count} Yosys's ``memory_libmap`` builds a ``width`` x ``depth``
    block RAM of (``copies``: the copies it makes for ``reads`` read ports)."""
    best = None
    for option in rams:
        cost, instances = option_cost(option, width, depth, reads, copies)
        if best is None or cost < best[0]:
            best = (cost, option, instances)
    _, option, instances = best
    return {option.primitive: instances * option.per_instance * copies}


def bram36_equivalent(primitives: dict[str, int]) -> float:
    """BRAM36 sites a {primitive: count} takes (a RAMB18E2 is half of one)."""
    return primitives.get("RAMB36E2", 0) + primitives.get("RAMB18E2", 0) / 2
