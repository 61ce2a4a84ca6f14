"""What per-core memories move between the cores (issue 12; docs/hardware.md,
"Per-core memories"): modeled figures, printed, not written into BENCHMARKS.md.

For each spec and policy, the training programs and the batch-1 exploration program of
one steady update, in FXP32:

- the reads that cross (:mod:`fixar_gen.core_traffic`: a word read by a core that
  another core wrote last; a word read twice counts twice) per program by buffer kind,
  the busiest core's received words and the cycles they take at one line of C words a
  cycle per receiving core (a lower bound: no overlap with compute, no partial lines);
- the transfers the compiler inserts for per-core memories (:mod:`fixar_gen.transfers`,
  the programs of the set compiled together with the inference programs): ``xfer``
  instructions, words written into receivers (each word once per write; the regions
  cover exactly the words needed), and the RTL cycle model's cycles of the program with them
  against without (the transfers, their barriers and the lost overlap; the RTL's own
  cycle model, exact against the simulated RTL for the programs without transfers,
  each ``xfer`` at one line of C words a cycle: ``transfers.xfer_cycles``);
- the RTL cycles of one update under the same policy, shared memories and per-core.

    python benchmarks/core_traffic.py [SPEC ...]
"""

from __future__ import annotations

import dataclasses
import sys

from fixar_gen import load_spec
from fixar_gen.compiler import (Precision, compile_programs, is_training, machine_runs,
                                phases)
from fixar_gen.core_traffic import measure, transfer_cycles
from fixar_gen.estimate import rtl_figures
from fixar_gen.hw.core import CoreConfig
from fixar_gen.hw.design import pe_widths
from fixar_gen.hw.host import RTL_TIMING, rtl_execution
from fixar_gen.perf import schedule_with
from fixar_gen.transfers import transfers_of

POLICIES = ("intra_layer", "intra_batch")


def _cycles(spec, program) -> int:
    hw = spec.hardware
    cfg = CoreConfig("rtl", hw.cores, hw.rows, hw.cols, pe_widths(spec), 1, 1,
                     lanes=hw.lanes)
    # (the RTL's rule charges xfer too: a line of the lanes' words a cycle)
    return schedule_with(program, hw.cores, rtl_execution(cfg, program),
                         RTL_TIMING).total_cycles


def rows(path: str) -> list[str]:
    spec = load_spec(path)
    hw = spec.hardware
    out = []
    for policy in POLICIES:
        spec_p = dataclasses.replace(spec, parallelism=dataclasses.replace(
            spec.parallelism, training=policy, inference=policy))
        names = [p for p in phases(spec) if is_training(spec, p)] + ["explore"]
        runs = [(p, 1 if p == "explore" else None) for p in names]   # as machine_runs
        programs = compile_programs(spec_p, runs)
        # with transfers: compiled with every program the machine runs (machine_runs)
        together = machine_runs(spec_p)
        compiled = dict(zip(together, compile_programs(spec_p, together,
                                                       per_core_memories=True)))
        moved = [compiled[r] for r in runs]
        each, _ = measure(programs)
        figures = {flag: rtl_figures(spec_p, Precision(), hw.clock_mhz * 1e6, policy,
                                     per_core_memories=flag)["train_cycles_per_update"]
                   for flag in (False, True)}
        for name, traffic, plain, with_xfer in zip(names, each, programs, moved):
            kinds = ", ".join(f"{k} {n:,}" for k, n in traffic.by_kind().most_common())
            busiest = max(traffic.received(c) for c in range(traffic.cores))
            cycles = transfer_cycles(traffic, hw.cols)
            t = transfers_of(with_xfer)
            delta = _cycles(spec, with_xfer) - _cycles(spec, plain)
            update = figures[False]
            out.append(f"| {path} | {hw.cores} x {hw.rows}x{hw.cols} | {policy} | {name} | "
                       f"{traffic.total():,} | {kinds or '-'} | {busiest:,} | {cycles:,} | "
                       f"{t.instructions:,} | {t.words:,} | {delta:,} | "
                       f"{update:,.0f} | {figures[True]:,.0f} | "
                       f"{figures[True] / update - 1:+.1%} |")
    return out


def main(paths: list[str]) -> None:
    print("| spec | cores x array | policy | program | words crossing | by kind | busiest "
          "core receives | transfer cycles (C-word lines) | xfer | words transferred | "
          "RTL cycles added | RTL cycles per update | per-core | change |")
    print("|---|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path in paths:
        print("\n".join(rows(path)))


if __name__ == "__main__":
    main(sys.argv[1:] or ["examples/fixar_u50.yaml", "examples/pendulum.yaml"])
