"""Do per-core memories fit? (issue 12; docs/hardware.md, "Per-core memories", step 4):
modeled figures, printed, not written into BENCHMARKS.md.

For each spec, batch and policy (the spec's own, then each policy for training and
inference): the on-chip memory of today's design (the cores share
one set of memories: :func:`fixar_gen.memory_fit.memory_fit` of the generated
inventory, what ``fixar estimate`` prints), of a naive copy of every memory per core,
and of per-core copies trimmed to each core's footprint (:mod:`fixar_gen.core_footprint`:
the rows of each buffer the core touches over the programs one machine runs, with the
transfers; :mod:`fixar_gen.percore_fit`: each copy through the inventory's rules), in
Mbit and in BRAM36 + URAM288 chosen together for the board, and whether that fits the
U50 after the shell's margin; then the trimmed copies' data-memory words against the
lower bound a descriptor row stride of its own would give (column splits trimmed too;
modeled for a hardware change not made: no bank padding of the narrower strides),
those words through the same inventory and fit, and the same with every buffer's
stride padded by the banks' rules (``core_footprint.banked_stride``); last, the
per-core design as built (``config_for(spec, per_core_memories=True)``: every copy as
deep as the deepest copy needs, :mod:`fixar_gen.percore_placement`) through the same
inventory and fit.

    python benchmarks/core_footprint.py [SPEC[@BATCH] ...]
"""

from __future__ import annotations

import dataclasses
import sys

from fixar_gen import load_spec
from fixar_gen.hw.design import config_for
from fixar_gen.memory_fit import memory_fit
from fixar_gen.percore_fit import (machine_programs, naive_words, per_core_fit,
                                   per_core_words)

POLICIES = ("intra_layer", "intra_batch")
#: the design-space sweep's best U50 point (docs/hardware.md): one core of 16x32, 16 lanes
BEST_POINT = "examples/fixar_u50.yaml:1x16x32x16"
DEFAULT = ["examples/fixar_u50.yaml", "examples/fixar_u50.yaml@256", "examples/pendulum.yaml",
           BEST_POINT, BEST_POINT + "@256"]


def _spec(arg: str):
    path, _, batch = arg.partition("@")
    path, _, hw = path.partition(":")
    spec = load_spec(path)
    if hw:
        cores, rows, cols, lanes = map(int, hw.split("x"))
        spec = dataclasses.replace(spec, hardware=dataclasses.replace(
            spec.hardware, cores=cores, array=(rows, cols), vector_lanes=lanes))
    if batch:
        spec = dataclasses.replace(spec, algorithm=dataclasses.replace(
            spec.algorithm, batch_size=int(batch)))
    return spec


def _fit(fit: dict) -> str:
    return (f"{fit['design_bits'] / 1e6:,.1f} ({fit['bram36']:,} + {fit['uram']:,}"
            f"{'' if fit['fits'] else ', does not fit'})")


def rows(arg: str) -> list[str]:
    base = _spec(arg)
    hw = base.hardware
    out = []
    for policy in ("as specified",) + POLICIES if hw.cores > 1 else ("-",):
        spec = base if policy in ("-", "as specified") else dataclasses.replace(
            base, parallelism=dataclasses.replace(base.parallelism, training=policy,
                                                  inference=policy))
        programs = machine_programs(spec)
        words = per_core_words(spec, programs)
        lower = per_core_words(spec, programs, stride="tight")
        banked = per_core_words(spec, programs, stride="banked")
        trimmed = per_core_fit(spec, words)
        per_core = ", ".join(f"{sum(w.values()):,}" for w in words)
        built = {m.name: m.depth for m in config_for(spec, per_core_memories=True)
                 .data_memories}
        bound = ", ".join(f"{sum(w.values()):,}" for w in lower)
        out.append(f"| {arg.split('/')[-1]} | {spec.algorithm.batch_size} | "
                   f"{hw.cores} x {hw.rows}x{hw.cols}, {hw.lanes} lanes | {policy} | "
                   f"{_fit(memory_fit(spec))} | {_fit(per_core_fit(spec, naive_words(spec)))} | "
                   f"{_fit(trimmed)} | {per_core} | {bound} | {_fit(per_core_fit(spec, lower))} | "
                   f"{_fit(per_core_fit(spec, banked))} | "
                   f"{_fit(per_core_fit(spec, [built] * hw.cores))} |")
    return out


def main(args: list[str]) -> None:
    print("| spec | batch | cores x array | policy | shared today: Mbit (BRAM36 + URAM) | "
          "a copy of everything per core | per-core copies, trimmed | data words per "
          "core | with a per-core row stride: data words per core (lower bound) | "
          "with a per-core row stride: Mbit (BRAM36 + URAM) | the same, strides padded for "
          "the banks | per-core copies as built (each the deepest copy's depths) |")
    print("|---|---:|---|---|---|---|---|---|---|---|---|---|")
    for arg in args:
        print("\n".join(rows(arg)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)
