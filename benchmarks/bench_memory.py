"""The generated design's on-chip memory before and after placement by memory and
lifetime, and the placement's memories at their own widths.

For examples/fixar_u50.yaml at batch 64 and 256: the scratchpad words the programs
need, the generated scratchpad (2^k words of the core's word), the whole generated
memory inventory (fixar_gen/hw/inventory.py) in Mbit and as block RAM, against FIXAR's
published memory (774 BRAM36 + 128 URAM) and the U50's BRAM + URAM (with the shell's
85% margin).  "Before" is the sizing of commit 6a35e0b: every buffer of every phase in
words of its own, plus a quarter; "after" is the placement (fixar_gen/placement.py),
its memories laid end to end in the one scratchpad as the core has it today.

    python benchmarks/bench_memory.py [--no-write]

A record of issue 12's step 1: it measures the one-scratchpad core, which step 2 (one
RAM per memory, commit 0c903fc) replaced, so on a later tree its first table would
describe a scratchpad that no longer exists; it refuses to run there (check out
0c903fc~1 to reproduce the section).  Today's memories: ``fixar estimate`` (the memory
inventory) and ``python benchmarks/bench_resources.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import dataclasses
import datetime
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import ROOT, publish  # noqa: E402

from fixar_gen import load_spec  # noqa: E402
from fixar_gen.boards import U50  # noqa: E402
from fixar_gen.compiler import Precision, compile_program  # noqa: E402
from fixar_gen.hw.design import PHASES, config_for  # noqa: E402
from fixar_gen.hw.inventory import (BRAM36_BITS, URAM_BITS, block_ram,  # noqa: E402
                                    memory_inventory)
from fixar_gen.memory_fit import usable_bits  # noqa: E402
from fixar_gen.memory_kinds import MEMORIES  # noqa: E402

HEADING = "## Generated on-chip memory: placement by memory and lifetime"
FIXAR_BITS = 774 * BRAM36_BITS + 128 * URAM_BITS
U50_BITS = U50.bram36 * BRAM36_BITS + U50.uram * URAM_BITS


def unshared_words(spec) -> int:
    """The scratchpad words of commit 6a35e0b: the largest size of every buffer name
    over the phases, plus the host slots, plus a quarter."""
    sizes: dict[str, int] = {}
    slots = 0
    for phase, batch in PHASES:
        program = compile_program(spec, phase, Precision(), batch)
        for b in program.buffers:
            sizes[b.name] = max(sizes.get(b.name, 0), b.rows * b.cols)
        slots = max(slots, sum(s.rows * s.cols for s in program.slots))
    return 5 * (sum(sizes.values()) + slots) // 4


def placed_words(spec) -> int:
    """The words of the one scratchpad: every memory of the placement end to end (the
    host slots included), the largest phase."""
    return max(compile_program(spec, phase, Precision(), batch).placement.words
               for phase, batch in PHASES)


def per_memory(spec) -> list[tuple[str, int, int]]:
    """(memory, width, words) of the placement's memories, the largest over the phases
    (``cmem`` at the core's datapath word)."""
    word = config_for(spec).word
    sizes: dict[str, list[int]] = {}
    for phase, batch in PHASES:
        for m in compile_program(spec, phase, Precision(), batch).placement.memories:
            width = word if m.word_wide else m.width
            w, n = sizes.get(m.name, [0, 0])
            sizes[m.name] = [max(w, width), max(n, m.words)]
    return [(name, *sizes[name]) for name in MEMORIES if name in sizes]


def memory_rows(spec) -> list[str]:
    """One row per memory at its own width and a power-of-two depth, and the total."""
    rows, bits, words_bits, brams, urams = [], 0, 0, 0, 0
    for name, width, words in per_memory(spec):
        depth = 1 << max(1, math.ceil(math.log2(max(words, 2))))
        bram, uram = block_ram(width, depth)
        rows.append(f"| {spec.algorithm.batch_size} | `{name}` | {width} | {words:,} | "
                    f"{depth:,} | {width * depth / 1e6:,.2f} | {bram:,} + {uram:,} |")
        bits += width * depth
        words_bits += width * words
        brams, urams = brams + bram, urams + uram
    fits = brams <= U50.usable("bram36") and urams <= U50.usable("uram")
    rows.append(f"| {spec.algorithm.batch_size} | all ({words_bits / 1e6:,.1f} Mbit as "
                f"placed) | | | | {bits / 1e6:,.1f} | {brams:,} + {urams:,} "
                f"({'fits' if fits else 'does not fit'} the U50's usable) |")
    return rows


def row(spec, label: str, words: int) -> str:
    cfg = config_for(spec)
    cfg = dataclasses.replace(cfg, addr_bits=max(1, math.ceil(math.log2(words))))
    inv = memory_inventory(cfg)
    data = inv.memories[0]
    bram, uram = inv.as_block_ram
    fits = bram <= U50.usable("bram36") and uram <= U50.usable("uram")
    return (f"| {spec.algorithm.batch_size} | {label} | {words:,} | {data.depth:,} x "
            f"{data.width} | {data.bits / 1e6:,.1f} | {inv.bits / 1e6:,.1f} | "
            f"{words * data.width / 1e6:,.1f} | {bram:,} + {uram:,} | "
            f"{'yes' if fits else 'no'} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("fixar_gen.hw.data_memories") is not None:     # step 2
        print("bench_memory.py records the one-scratchpad core of issue 12's step 1; "
              "this tree has one RAM per memory (step 2): check out 0c903fc~1 to "
              "reproduce its section, or see `fixar estimate` and "
              "benchmarks/bench_resources.py for today's memories", file=sys.stderr)
        return 2
    base = load_spec(ROOT / "examples/fixar_u50.yaml")
    rows, mem_rows = [], []
    for batch in (64, 256):
        spec = dataclasses.replace(base, algorithm=dataclasses.replace(
            base.algorithm, batch_size=batch))
        rows.append(row(spec, "before (every buffer its own words, +25%)",
                        unshared_words(spec)))
        rows.append(row(spec, "placement by memory and lifetime, memories end to end",
                        placed_words(spec)))
        mem_rows += memory_rows(spec)
    text = "\n".join([
        HEADING, "",
        "Counted from the generated design's memory inventory (`fixar_gen/hw/inventory.py`, "
        "the RAMs `fixar generate` elaborates; checked against the PyRTL netlist by "
        "tests/hw/test_inventory.py), not synthesised. 'Needed' is what the placed buffers "
        "and host slots of the largest phase take; the generated scratchpad rounds it up "
        "to a power of two. 'As block RAM' counts each RAM in BRAM36 and URAM288 banks "
        "for its width (what it takes once its reads are synchronous): today's scratchpad, "
        "with computed read addresses and a port per operand, maps to flip-flops "
        "(docs/hardware.md).", "",
        "- Command: `python benchmarks/bench_memory.py`",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- FIXAR (DAC 2021): 774 BRAM36 + 128 URAM = {FIXAR_BITS / 1e6:,.1f} Mbit; U50: "
        f"{U50.bram36:,} BRAM36 + {U50.uram} URAM = {U50_BITS / 1e6:,.1f} Mbit, of which "
        f"the shell leaves {usable_bits(U50) / 1e6:,.1f} Mbit ({U50.usable('bram36'):,} "
        f"BRAM36 + {U50.usable('uram')} URAM).", "",
        "| batch | sizing | scratchpad words needed | generated scratchpad | its Mbit | "
        "all generated RAM, Mbit | needed words x word, Mbit | as block RAM: BRAM36 + URAM "
        "| fits the U50's usable BRAM36 and URAM |",
        "|---:|---|---:|---|---:|---:|---:|---:|---|",
        *rows, "",
        "The placement puts each buffer in a memory of its kind (docs/hardware.md, "
        "\"Placement by memory and lifetime\") and shares words by lifetime within each "
        "memory only; until the core has one RAM per memory (issue 12, step 2) the "
        "memories lie end to end in the one 82-bit scratchpad, which therefore needs more "
        "words than when every temporary could share with every other (1,449,585 at "
        "batch 64 and 2,004,043 at batch 256 before this step): at batch 256 it no longer "
        "fits in 2^21 words.", "",
        "The same placement's memories at their own widths (the widest value each holds; "
        "`cmem`, the accumulators, at the 82-bit datapath word), each rounded up to a "
        "power of two and counted as block RAM the same way -- what one RAM per memory "
        "(step 2) will generate, before banking:", "",
        "| batch | memory | width | words needed | depth | Mbit | as block RAM: BRAM36 + "
        "URAM |",
        "|---:|---|---:|---:|---:|---:|---:|",
        *mem_rows, ""])
    publish(HEADING, text, args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
