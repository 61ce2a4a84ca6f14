"""What banking ``amem`` with one line port per core meets on a spec's training step
(docs/hardware.md, "The activations in banks"; issue 12 step 4): modeled figures,
printed, not written into BENCHMARKS.md.  The plan before it was built; since then the
compiler pads the activations (so the placement "as placed" shows no more padding) and
the RTL charges the extra lines as modeled here (its cycle model,
``memory_access.extra_lines``, gives the "as placed" charged figure; the uncharged
base is the cycle rule without them).

- the row strides of 4P interleaved banks (``memory_kinds.activation_stride``) for
  every ``amem`` buffer the matrix unit reads as ``a``, and ``amem``'s words with them
  (the training program placed as the compiler places it, batch 64 and 256);
- ``gmem``'s and ``amem``'s words with the deltas (``dh``, ``dz``) in ``amem`` (before
  step 4's first part) and in ``gmem`` (as placed now), and the memory shapes they take
  (``hw.data_memories.fitted_shape``);
- the products that read both operands from ``amem`` and the element-loop steps that
  read more than one ``amem`` line, under both placements, and the RTL cycles per
  update (the RTL's own cycle rule,
  ``hw.core.execution_cycles``, through ``perf.schedule_with``) if each extra line of a
  step took one more cycle a step and each weight row of a product reading both
  operands from ``amem`` a cycle of its own (a slot of lines + R cycles).

    python benchmarks/amem_plan.py [SPEC]
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections import Counter

from fixar_gen import load_spec
from fixar_gen.compiler import compile_program
from fixar_gen.estimate import precision_for
from fixar_gen.hw.core import array_latency, execution_cycles
from fixar_gen.hw.data_memories import fitted_shape
from fixar_gen.hw.host import RTL_TIMING
from fixar_gen.isa import MODES, VECTOR_FUNCTIONS, Drain, Load, MatMul, Store, Vector
from fixar_gen.memory_access import step_accesses
from fixar_gen.memory_kinds import (accumulator_half_line, activation_banks,
                                    activation_stride, memory_of)
from fixar_gen.perf import schedule_with
from fixar_gen.placement import place


def deltas_in_amem(b) -> str:
    """The placement before step 4's first part: a layer's deltas (dh, dz) in amem."""
    return "amem" if b.kind == "delta" else memory_of(b)


#: the placements compared: before step 4's first part, and as the compiler places now
RULES = (("deltas in amem (before)", deltas_in_amem), ("as placed (deltas in gmem)", memory_of))


def padded_words(spec, mode: str, batch: int, memory=memory_of) -> tuple[int, int, dict]:
    hw = spec.hardware
    banks = activation_banks(hw.rows, hw.cols, hw.lanes)
    p = compile_program(spec, "train", precision_for(spec, mode), batch=batch)
    bufs, padded = list(p.buffers), {}
    for i in sorted({ins.a for ins in p.code if isinstance(ins, MatMul)}):
        b = bufs[i]
        if memory(b) == "amem":
            stride = activation_stride(b.cols, banks, hw.rows)
            if stride != b.cols:
                padded[b.name] = (b.cols, stride)
            bufs[i] = dataclasses.replace(b, cols=stride)
    half = accumulator_half_line(hw.cols, hw.lanes)
    before = place(p, acc_half=half, memory=memory).memory("amem").words
    after = place(dataclasses.replace(p, buffers=tuple(bufs)), acc_half=half,
                  memory=memory).memory("amem").words
    return before, after, padded


def shape(name: str, words: int) -> str:
    s = fitted_shape(name, 32, words)
    return f"2^{s.addr_bits}" if s.tail_bits is None else \
        f"2^{s.addr_bits - 1} + 2^{s.tail_bits}"


def delta_words(spec, batch: int) -> dict[str, tuple[int, int]]:
    hw = spec.hardware
    p = compile_program(spec, "train", precision_for(spec, "fxp16"), batch=batch)
    half = accumulator_half_line(hw.cols, hw.lanes)
    now = place(p, acc_half=half)
    then = place(p, acc_half=half, memory=deltas_in_amem)
    return {m: (then.memory(m).words, now.memory(m).words) for m in ("gmem", "amem")}


def charged_cycles(spec, mode: str, memory) -> tuple[int, int, Counter, Counter, Counter]:
    hw = spec.hardware
    R, C, lanes = hw.rows, hw.cols, hw.lanes
    p = compile_program(spec, "train", precision_for(spec, mode))
    both, multi, gmem = Counter(), Counter(), Counter()

    def rtl(pc, ins):
        return execution_cycles(ins, R, C, lanes)

    def charged(pc, ins):
        unit, cycles = rtl(pc, ins)
        if isinstance(ins, MatMul):
            for role, i, t in (("a", ins.a, ins.ta), ("b", ins.b, ins.tb)):
                if memory(p.buffers[i]) == "gmem":
                    gmem[(role, MODES[ins.mode], f"t{role}={t}")] += 1
            if memory(p.buffers[ins.a]) == "amem" == memory(p.buffers[ins.b]):
                both[(MODES[ins.mode], f"ta={ins.ta}", f"tb={ins.tb}")] += 1
                lines = math.ceil(ins.m.count / (2 if MODES[ins.mode] == "fxp16" else 1))
                tiles = math.ceil(ins.k.count / R) * math.ceil(ins.n.count / C)
                cycles = (1 + (tiles - 1) * (lines + R) + lines + R
                          + array_latency(R, C, "broadcast"))
        elif isinstance(ins, (Vector, Drain, Load, Store)):
            reads, writes = step_accesses(ins, p, memory)
            if reads["gmem"] > 1 or writes["gmem"] > 1:
                gmem[("element loop", "more than one gmem line")] += 1
            if reads["amem"] > 1:
                name = VECTOR_FUNCTIONS[ins.fn] if isinstance(ins, Vector) else \
                    type(ins).__name__.lower()
                multi[(name, reads["amem"])] += 1
                cycles += ins.rows.count * math.ceil(ins.cols.count / lanes) * (reads["amem"] - 1)
        return unit, cycles

    base = schedule_with(p, hw.cores, rtl, RTL_TIMING).total_cycles
    return base, schedule_with(p, hw.cores, charged, RTL_TIMING).total_cycles, both, multi, gmem


def main(path: str = "examples/fixar_u50.yaml") -> None:
    spec = load_spec(path)
    hw = spec.hardware
    print(f"{spec.name}: amem in {activation_banks(hw.rows, hw.cols, hw.lanes)} banks")
    for label, memory in RULES:
        for batch in (64, 256):
            before, after, padded = padded_words(spec, "fxp16", batch, memory)
            print(f"  {label}, batch {batch}: the strides take amem from {before:,} to "
                  f"{after:,} words (+{after - before:,}; {shape('amem', after)})")
        print("    strides: " + ", ".join(f"{n} {c} -> {s}"
                                         for n, (c, s) in sorted(padded.items())))
    for batch in (64, 256):
        print(f"  batch {batch}, deltas in amem -> in gmem: " + ", ".join(
            f"{m} {a:,} ({shape(m, a)}) -> {b:,} ({shape(m, b)}) words"
            for m, (a, b) in delta_words(spec, batch).items()))
    for label, memory in RULES:
        for mode in ("fxp32", "fxp16"):
            base, charged, both, multi, gmem = charged_cycles(spec, mode, memory)
            print(f"  {label}, {mode}: {base:,} -> {charged:,} RTL cycles per update "
                  f"(+{charged - base:,}, modeled)")
            print(f"    products reading a and b from amem: {dict(both)}")
            print(f"    steps reading more than one amem line: {dict(multi)}")
            print(f"    gmem read by the matrix unit, or two gmem lines a step: {dict(gmem)}")


if __name__ == "__main__":
    main(*sys.argv[1:])
