"""Per-core memories' placement, as data: where each core's copy holds each buffer's
words (issue 12, docs/hardware.md "Per-core memories", step 4's row-trimmed copies, built).

With per-core memories each core's copy of the data memories holds only the rows of
each buffer its core touches (:mod:`fixar_gen.core_footprint`: over the programs one
machine runs, the rows its instructions read and write, the ``xfer`` it sends and
receives, its ``load`` and ``store`` slot rows; state and constants the union by name,
so that they keep their words across the programs), each copy placed as
:func:`fixar_gen.placement.place` places the buffers, each taking only those words.
Each core's descriptor table gives a buffer the base ``offset - skip`` (modulo 2^A),
``skip`` the buffer's row-major words before the first row the copy holds: word (r, c)
is then at ``base + r * cols + c`` in the copy, with the instructions unchanged.

:class:`CorePlacements` is one program's: per core its :class:`CoreCopy`.  The compiler
attaches it to each program it compiles with ``per_core_memories``
(``Program.copies``, :func:`attach`); the golden per-core model
(:class:`fixar_gen.percore.PerCoreMachine`: every word a core touches inside its copy),
the host (:class:`fixar_gen.hw.host.HardwareMachine`: each copy's descriptors with its
own bases, data words into the copies that hold them at each copy's address) and the
RTL (an ``xfer``'s words written at the receiver's own base) use the same data.
``fixar compile SPEC --per-core-memories --placement`` prints it (:func:`table`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .core_footprint import CoreCopy, Key, machine_copies
from .isa import Program
from .memory_kinds import MEMORIES
from .placement import Placed

__all__ = ["CorePlacements", "attach", "copies_of", "placements", "table"]


@dataclass(frozen=True)
class CorePlacements:
    """One program's placement on per-core memories: per core its copy."""

    program: str
    copies: tuple[CoreCopy, ...]

    @property
    def cores(self) -> int:
        return len(self.copies)

    def held(self, core: int, key: Key) -> tuple[int, int]:
        """(first row-major word, words) of buffer or slot ``key`` core ``core``'s copy
        holds (words 0: none)."""
        s = self.copies[core].spans[key]
        return s.skip, s.words

    def placed(self, core: int, key: Key) -> Placed:
        """Where core ``core``'s copy places ``key`` (memory, offset, its words)."""
        what, i = key
        p = self.copies[core].placement
        return p.buffers[i] if what == "buffer" else p.slots[i]

    def base(self, core: int, key: Key, addr_bits: int | None = None) -> int:
        """``key``'s descriptor base in core ``core``'s copy (modulo 2^``addr_bits``
        when given: the descriptor's field; may wrap below zero)."""
        what, i = key
        copy = self.copies[core]
        return copy.descriptor_base(i, addr_bits) if what == "buffer" else \
            copy.slot_base(i, addr_bits)

    def holders(self, key: Key, size: int) -> np.ndarray:
        """Per row-major word of ``key`` (``size`` words): the copies that hold it
        (bit c: core c's)."""
        out = np.zeros(size, np.int32)
        for c in range(self.cores):
            first, words = self.held(c, key)
            out[first:first + words] |= 1 << c
        return out

    def depths(self) -> list[dict[str, int]]:
        """Per core, per memory: the words its copy needs for this program."""
        return [{m.name: m.words for m in copy.placement.memories} for copy in self.copies]

    def describe(self, program: Program) -> dict:
        """As JSON-able data: per core, each memory's words and each buffer's and slot's
        memory, offset, first word held, words and descriptor base."""
        out = []
        for c, copy in enumerate(self.copies):
            entries = []
            for what, items in (("buffer", program.buffers), ("slot", program.slots)):
                for i, item in enumerate(items):
                    first, words = self.held(c, (what, i))
                    p = self.placed(c, (what, i))
                    entries.append({"what": what, "name": item.name, "memory": p.memory,
                                    "offset": p.offset, "first_word": first,
                                    "words": words, "base": self.base(c, (what, i))})
            out.append({"core": c, "memories": self.depths()[c], "entries": entries})
        return {"program": self.program, "copies": out}


def placements(programs: list[Program], acc_half: int | None = None
               ) -> list[CorePlacements]:
    """Per program of one machine (compiled with its transfers): its
    :class:`CorePlacements` (:func:`fixar_gen.core_footprint.machine_copies`)."""
    return [CorePlacements(p.name, tuple(row))
            for p, row in zip(programs, machine_copies(programs, acc_half))]


def attach(programs: list[Program], acc_half: int | None = None) -> list[Program]:
    """``programs`` (one machine's, with their transfers), each with its per-core
    placement (``Program.copies``)."""
    return [dataclasses.replace(p, copies=c)
            for p, c in zip(programs, placements(programs, acc_half))]


def copies_of(program: Program, acc_half: int | None = None) -> CorePlacements:
    """``program.copies``, or the placement of ``program`` run alone (a program not
    compiled by :func:`fixar_gen.compiler.compile_programs`: a test's)."""
    if program.copies is not None:
        return program.copies
    return placements([program], acc_half)[0]


def machine_depths(programs: list[Program]) -> dict[str, int]:
    """Per memory: the words the deepest copy needs over ``programs`` (each with
    ``copies``): what a design whose copies are all alike is sized for."""
    need: dict[str, int] = {}
    for p in programs:
        for depths in p.copies.depths():
            for m, words in depths.items():
                need[m] = max(need.get(m, 0), words)
    return {m: need[m] for m in MEMORIES if m in need}


def table(program: Program) -> str:
    """``program``'s per-core placement as text (``fixar compile --per-core-memories
    --placement``)."""
    data = copies_of(program).describe(program)
    lines = [f"; per-core placement of {data['program']}: each copy holds the rows its "
             "core touches; base = offset - first word (mod 2^A)"]
    for copy in data["copies"]:
        mems = ", ".join(f"{m} {w:,}" for m, w in copy["memories"].items())
        lines.append(f"; core {copy['core']}: {mems} words")
        lines.append(f";   {'what':6} {'name':32} {'memory':6} {'offset':>8} "
                     f"{'first':>8} {'words':>8} {'base':>9}")
        for e in copy["entries"]:
            lines.append(f";   {e['what']:6} {e['name']:32} {e['memory']:6} "
                         f"{e['offset']:8} {e['first_word']:8} {e['words']:8} "
                         f"{e['base']:9}")
    return "\n".join(lines)
