"""What per-core memories would have to move between the cores (issue 12's last step;
docs/hardware.md, "Plan: per-core memories"): modeled figures, printed, not written
into BENCHMARKS.md.

For each spec and policy, the training programs and the batch-1 exploration program of
one steady update (:mod:`fixar_gen.core_traffic`: a word read by a core that another
core wrote last must be transferred), in FXP32: the words crossing per program by
buffer kind, the busiest core's received words, the cycles they take at one line of C
words a cycle per receiving core (a lower bound: no overlap with compute assumed, none
lost to partial lines), and the RTL cycles of one update under the same policy (the
RTL's own cycle model, exact against the simulated RTL) for scale.

    python benchmarks/core_traffic.py [SPEC ...]
"""

from __future__ import annotations

import sys

from fixar_gen import load_spec
from fixar_gen.compiler import Precision, compile_program, is_training, phases
from fixar_gen.core_traffic import measure, transfer_cycles
from fixar_gen.estimate import rtl_figures

POLICIES = ("intra_layer", "intra_batch")


def rows(path: str) -> list[str]:
    spec = load_spec(path)
    hw = spec.hardware
    out = []
    for policy in POLICIES:
        names = [p for p in phases(spec) if is_training(spec, p)] + ["explore"]
        programs = [compile_program(spec, p, policy=policy) for p in names]
        each, _ = measure(programs)
        update = rtl_figures(spec, Precision(), hw.clock_mhz * 1e6,
                             policy)["train_cycles_per_update"]
        for name, traffic in zip(names, each):
            kinds = ", ".join(f"{k} {n:,}" for k, n in traffic.by_kind().most_common())
            busiest = max(traffic.received(c) for c in range(traffic.cores))
            cycles = transfer_cycles(traffic, hw.cols)
            out.append(f"| {path} | {hw.cores} x {hw.rows}x{hw.cols} | {policy} | {name} | "
                       f"{traffic.total():,} | {kinds or '-'} | {busiest:,} | {cycles:,} | "
                       f"{update:,.0f} | {cycles / update:.1%} |")
    return out


def main(paths: list[str]) -> None:
    print("| spec | cores x array | policy | program | words crossing | by kind | busiest "
          "core receives | transfer cycles (C-word lines) | RTL cycles per update | "
          "transfer / update |")
    print("|---|---|---|---|---:|---|---:|---:|---:|---:|")
    for path in paths:
        print("\n".join(rows(path)))


if __name__ == "__main__":
    main(sys.argv[1:] or ["examples/fixar_u50.yaml", "examples/pendulum.yaml"])
