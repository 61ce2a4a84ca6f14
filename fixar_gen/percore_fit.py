"""Do per-core memories fit the board?  Each core's copy of the data memories sized by
its footprint (:mod:`fixar_gen.core_footprint`: the words the core touches over the
programs one machine runs, placed as today's placement places them), through the
inventory's rules (:func:`fixar_gen.hw.inventory.memory_inventory`: block RAM choice,
banks, each bank's depth from the core's words) and the fit
(:func:`fixar_gen.memory_fit.memory_fit`, the shell's margin).  Step (4) of
docs/hardware.md "Per-core memories": the RTL's option (``CoreConfig.per_core_memories``,
:mod:`fixar_gen.percore_placement`) builds the row-trimmed copies, each as deep as the
deepest copy needs (``benchmarks/core_footprint.py``'s last column); the column trims
(``stride``) are modeled only.

Each core's memories are those of a one-core design of the spec's array and lanes (a
line port per bank for its own core; its own instruction memory, descriptor and slot
tables, saturation counters), with the shared design's word widths and each data
memory as deep as the core's copy needs (a power of two, or half of one and a tail:
:func:`fixar_gen.hw.data_memories.fitted_shape`).
"""

from __future__ import annotations

from dataclasses import replace

from .compiler import Precision, compile_programs, machine_runs
from .core_footprint import (banked_stride, column_trimmed, machine_copies, tight_stride,
                             words_per_core)
from .hw.core import CoreConfig
from .hw.data_memories import fitted_shape
from .hw.design import config_for, with_memories
from .hw.inventory import Inventory, copies_inventory
from .memory_fit import memory_fit
from .spec import Spec

#: what :func:`per_core_inventory` lists
PER_CORE = ("per-core memories: each core a copy of the data memories holding the words "
            "it touches (its rows of each buffer, core_footprint), with a line port per "
            "bank for that core only, and its own instruction memory, descriptor and slot "
            "tables and saturation counters")


def core_config(shared: CoreConfig, core: int, words: dict[str, int]) -> CoreConfig:
    """Core ``core``'s memories: ``shared`` (the shared design's sizes) on one core, each
    data memory ``words[name]`` deep (at least one word) at the shared width."""
    one = replace(shared, name=f"{shared.name}_core{core}", cores=1, per_core_memories=False)
    return with_memories(one, [fitted_shape(s.name, s.width, max(words.get(s.name, 1), 1))
                               for s in shared.data_memories])


def machine_programs(spec: Spec, precision: Precision = Precision()):
    """The programs one machine runs, with their transfers (what the copies serve)."""
    return compile_programs(spec, machine_runs(spec), precision, per_core_memories=True)


def per_core_words(spec: Spec, programs=None, stride: str | None = None
                   ) -> list[dict[str, int]]:
    """Per core, per memory: the words its copy needs; with a descriptor row stride of
    its own (a hardware change not made, :func:`fixar_gen.core_footprint.column_trimmed`)
    ``stride="tight"`` (the lower bound) or ``"banked"`` (the banks' padding)."""
    programs = programs if programs is not None else machine_programs(spec)
    half = config_for(spec, per_core_memories=False).acc_half
    hw = spec.hardware
    if stride == "tight":
        return column_trimmed(programs, half, tight_stride)
    if stride == "banked":
        return column_trimmed(programs, half, banked_stride(hw.rows, hw.cols, hw.lanes))
    if stride is not None:
        raise ValueError(f"stride {stride!r}: 'tight', 'banked' or None")
    return [{m: w for m, (w, _) in need.items()}
            for need in words_per_core(machine_copies(programs, half))]


def naive_words(spec: Spec) -> list[dict[str, int]]:
    """Per core: every memory as deep as the shared design's (a copy of everything)."""
    shared = config_for(spec, per_core_memories=False)
    return [{s.name: s.depth for s in shared.data_memories}] * spec.hardware.cores


def per_core_inventory(spec: Spec, words: list[dict[str, int]]) -> Inventory:
    """The memories of every core's copy (names prefixed ``core<c>_``, scope "per
    core"), each core's from :func:`core_config` through
    :func:`~fixar_gen.hw.inventory.copies_inventory`, the lister of the generated
    per-core design's inventory."""
    shared = config_for(spec, per_core_memories=False)
    return copies_inventory(f"{shared.name} (per-core memories)",
                            [core_config(shared, c, need) for c, need in enumerate(words)],
                            PER_CORE)


def per_core_fit(spec: Spec, words: list[dict[str, int]]) -> dict:
    """:func:`fixar_gen.memory_fit.memory_fit` of :func:`per_core_inventory`."""
    return memory_fit(spec, per_core_inventory(spec, words))
