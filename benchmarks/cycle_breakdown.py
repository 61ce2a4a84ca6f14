"""Where one update's cycles go on the generated RTL (issue 14, "report where the
remaining cycles go"): modeled figures of the RTL's own cycle model (exact against the
simulated RTL), printed as a Markdown table, not written into BENCHMARKS.md.

For each training program of the spec (its precision: fxp16 as QAT switches to, or
fxp32) and each core, per instruction kind (`mm` split by its PE mode, `vec` by its
function): how many, the cycles the RTL charges them after their issue
(`fixar_gen.hw.core.execution_cycles`, the pc-dependent rule of
`fixar_gen.hw.host.rtl_execution`), the element steps among them (rows x ceil(cols /
lanes) for the element loop and `xfer`), and the rest: each element-loop instruction's
pipeline tail (1 + LANE_DEPTH cycles after its last step, 1 + SHORT_DEPTH for the
lanes' short operations) and line reads; then the
issue cycles, and what is left of the update's cycles (the slowest core's): the waits
at barriers, the halt and, on a core that halts early, its idle cycles after it.

    python benchmarks/cycle_breakdown.py [SPEC] [--mode fxp16|fxp32] [--core N]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict

from fixar_gen import algorithms, load_spec
from fixar_gen.estimate import precision_for, rtl_programs
from fixar_gen.hw.core import CoreConfig
from fixar_gen.hw.design import pe_widths
from fixar_gen.hw.host import RTL_TIMING, rtl_execution
from fixar_gen.isa import MODES, VECTOR_FUNCTIONS, Barrier, Halt, MatMul, Vector
from fixar_gen.perf import schedule_with


def kind(instr) -> str:
    if isinstance(instr, MatMul):
        return f"mm ({MODES[instr.mode]})"
    if isinstance(instr, Vector):
        return VECTOR_FUNCTIONS[instr.fn]
    return type(instr).__name__.lower()


def steps(instr, lanes: int) -> int:
    """The element steps of an element-loop instruction or a transfer (0 otherwise)."""
    if isinstance(instr, MatMul) or not (hasattr(instr, "rows") and hasattr(instr, "cols")):
        return 0
    return instr.rows.count * math.ceil(instr.cols.count / lanes)


def breakdown(spec, mode: str, core: int) -> tuple[list[str], dict]:
    hw = spec.hardware
    cfg = CoreConfig("rtl", hw.cores, hw.rows, hw.cols, pe_widths(spec), 1, 1,
                     lanes=hw.lanes)
    program_of = rtl_programs(spec, precision_for(spec, mode), None,
                              hw.per_core_memories)
    lines, totals = [], {}
    for phase in algorithms.of(spec).phase_counts(spec):
        program = program_of(phase)
        execution = rtl_execution(cfg, program)
        schedule = schedule_with(program, hw.cores, execution, RTL_TIMING)
        kinds: dict = defaultdict(lambda: [0, 0, 0])
        issued = 0
        for pc, instr in enumerate(program.code):
            if instr.core != core:
                continue
            issued += 1
            if isinstance(instr, (Barrier, Halt)):
                continue
            _, cycles = execution(pc, instr)
            row = kinds[kind(instr)]
            row[0] += 1
            row[1] += cycles
            row[2] += 0 if kind(instr) == "range" else steps(instr, hw.lanes)
        work = sum(r[1] for r in kinds.values())
        issue = issued * RTL_TIMING.issue
        total = schedule.total_cycles
        lines += [f"### {spec.name}, {phase}, {mode}, core {core}: {total:,} cycles "
                  f"({issued} instructions)", "",
                  "| kind | count | cycles | share | element steps | the rest |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name, (n, cycles, st) in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
            shown = (f"{st:,} | {cycles - st:,}" if st else "- | -")
            lines.append(f"| {name} | {n} | {cycles:,} | {cycles / total:.1%} | {shown} |")
        lines.append(f"| issue ({RTL_TIMING.issue} a instruction) | {issued} | {issue:,} | "
                     f"{issue / total:.1%} | - | - |")
        waits = total - work - issue
        lines.append(f"| the rest: barrier waits, the halt, idle after this core's halt "
                     f"| - | {waits:,} | "
                     f"{waits / total:.1%} | - | - |")
        lines.append("")
        totals[phase] = {"total": total, "work": work, "issue": issue, "waits": waits,
                         "kinds": {k: tuple(v) for k, v in kinds.items()}}
    return lines, totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", nargs="?", default="examples/fixar_u50.yaml")
    parser.add_argument("--mode", choices=MODES, default="fxp16")
    parser.add_argument("--core", type=int, default=0)
    args = parser.parse_args(argv)
    lines, _ = breakdown(load_spec(args.spec), args.mode, args.core)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
