"""Random programs for a design with per-core memories: a drawn case made into one that
such a design runs and that checks what per-core memories add.

A random program (:func:`fixar_gen.programs.programs`) is written for one shared state.
On per-core memories each core computes in its own copy, so the case is completed as
the compiler completes a training step: every core then stores its share of the rows of
every buffer into a host slot (:func:`with_readback`: a word one core wrote is
stored by another whenever it lies in the other's share, so a missing or misplaced
transfer shows), the transfers (``xfer``) the cores need are inserted
(:func:`fixar_gen.transfers.insert_all`) and each copy is placed with only the rows its
core touches (:func:`fixar_gen.percore_placement.attach`).  ``fixar verify`` of a spec
with ``hardware.per_core_memories`` and the per-core RTL tests draw their programs
through :func:`per_core_case`.
"""

from __future__ import annotations

import dataclasses

from .cases import Case
from .compiler import split
from .hw.design import transfer_problems
from .isa import Halt, Range, Slot, Store
from .memory_kinds import memory_of
from .percore_placement import attach
from .transfers import insert_all


def with_readback(case: Case, whole: bool = False) -> Case:
    """The case's program followed by each core storing its share of the rows of every
    (non-accumulator) buffer (``split``: core c the c-th part) into one slot a buffer;
    ``whole``: every core storing every buffer whole into a slot of its own (every
    word any core wrote is then read by every core, so each write needs its
    transfers)."""
    program = case.program
    cores = program.cores
    body = [i for i in program.code if not isinstance(i, Halt)]
    slots = list(program.slots)
    for buf, b in enumerate(program.buffers):
        if b.wide:
            continue
        if whole:
            shares = [(c, Range(0, b.rows), f".c{c}") for c in range(cores)]
        else:
            shares = [(c, rows, "") for c, rows in enumerate(split(b.rows, cores))
                      if rows is not None]
        # a buffer in smem a column at a time: the design has smem ports for lane 0
        # alone (hw.design.smem_problems)
        columns = [Range(j, 1) for j in range(b.cols)] if memory_of(b) == "smem" \
            else [Range(0, b.cols)]
        for c, rows, suffix in shares:
            if whole or c == shares[0][0]:
                slots.append(Slot(f"readback.{b.name}{suffix}", b.rows, b.cols))
            body += [Store(core=c, src=buf, slot=len(slots) - 1, rows=rows, cols=cols,
                           dst_col=cols.start) for cols in columns]
    code = body + [Halt(core=c) for c in range(cores)]
    return dataclasses.replace(case, program=dataclasses.replace(
        program, slots=tuple(slots), code=tuple(code), placement=None))


def per_core_case(case: Case, acc_half: int) -> Case | None:
    """``case`` with its split readback, its transfers and its per-core placement (the
    design's accumulator half line ``acc_half``), or None when the design refuses the
    transfers it would need (:func:`fixar_gen.hw.design.transfer_problems`: on three or
    more cores, two senders to one receiver between the same barriers)."""
    case = with_readback(case)
    (moved,) = attach(insert_all([case.program]), acc_half)
    if transfer_problems(moved):
        return None
    return dataclasses.replace(case, program=moved)
