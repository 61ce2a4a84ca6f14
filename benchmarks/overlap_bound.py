"""Issue 14's question before its hardware: how many cycles of a training update would
decoupled unit queues with a scoreboard save on the compiled programs, with today's
per-instruction cycles?  Modeled bounds (fixar_gen/overlap.py), not the RTL.

    python benchmarks/overlap_bound.py [--spec SPEC] [--lanes N ...] [--queue-depth N]
                                       [--no-write]

For each precision (FXP32, FXP16: the estimate's uniform formats) and each training
program, weighted as `fixar estimate` weights them, the cycles of one update:

- the generated RTL (its exact cycle model, :func:`fixar_gen.perf.schedule_with` with
  the RTL's rule), and the overlap scheduler run with the RTL's rule (``decoupled=False``),
  which must equal it (the script stops otherwise);
- decoupled queues (one per unit, in order, ``--queue-depth`` entries), a scoreboard on
  buffer regions, one dispatch a cycle, today's unit cycles;
- the same with pipelined units (a MatMul or vec starts under the previous one's fill
  and drain);
- the array's own busy cycles with pipelined units (no overlap can go below it on one
  core: the update's MACs at today's tiling).

``--lanes``: the same with ``hardware.vector_lanes`` set (default: 9, the most that fit
examples/fixar_u50.yaml on the U50 by the resource model; docs/dse.md).  Writes a
section of BENCHMARKS.md (with ``--no-write``, prints it only).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import ROOT, machine, publish  # noqa: E402

from fixar_gen import load_spec  # noqa: E402

#: the what-if splits of every MatMul, drain and vec by columns (1: the programs as
#: compiled)
SPLITS = (1, 2, 4, 8)
HEADING = "## Overlap of the units: a modeled bound for issue 14 (not the RTL)"


def figures(spec, queue_depth: int) -> list[dict]:
    from fixar_gen import algorithms
    from fixar_gen.estimate import precision_for, rtl_programs
    from fixar_gen.hw.core import ISSUE_CYCLES, CoreConfig
    from fixar_gen.hw.design import pe_widths
    from fixar_gen.hw.host import RTL_TIMING, rtl_execution
    from fixar_gen.overlap import Machine, dependency_bound, overlap_schedule, split_work
    from fixar_gen.perf import schedule_with
    hw = spec.hardware
    cfg = CoreConfig("rtl", hw.cores, hw.rows, hw.cols, pe_widths(spec), 1, 1,
                     lanes=hw.lanes)
    counts = algorithms.of(spec).phase_counts(spec)
    period = sum(counts.values())
    machines = {
        "sequential": Machine(decoupled=False, issue_latency=ISSUE_CYCLES,
                              barrier_latency=RTL_TIMING.barrier_latency),
        "queues": Machine(issue_latency=ISSUE_CYCLES, queue_depth=queue_depth,
                          barrier_latency=RTL_TIMING.barrier_latency),
        "pipelined": Machine(pipelined=True, issue_latency=ISSUE_CYCLES,
                             queue_depth=queue_depth,
                             barrier_latency=RTL_TIMING.barrier_latency),
    }
    rows = []
    for mode in ("fxp32", "fxp16"):
        precision = precision_for(spec, mode)
        program_of = rtl_programs(spec, precision,
                                  per_core_memories=hw.memories_per_core)
        for pieces in SPLITS:
            sums = dict.fromkeys(["rtl", *machines, "array", "vector", "deps"], 0.0)
            for phase, count in counts.items():
                program = program_of(phase)
                if pieces > 1:
                    program = split_work(program, pieces, "cols", hw.cols, hw.lanes)
                execution = rtl_execution(cfg, program)
                exact = schedule_with(program, hw.cores, execution,
                                      RTL_TIMING).total_cycles
                runs = {name: overlap_schedule(program, execution, m, hw.rows, hw.cols)
                        for name, m in machines.items()}
                if runs["sequential"].total_cycles != exact:
                    raise SystemExit(f"{phase} {mode}: the scheduler's sequential rule "
                                     f"gives {runs['sequential'].total_cycles} cycles, "
                                     f"the exact model {exact}")
                weight = count / period
                sums["rtl"] += exact * weight
                for name, run in runs.items():
                    sums[name] += run.total_cycles * weight
                for unit in ("array", "vector"):
                    sums[unit] += runs["pipelined"].unit_busy[unit] / hw.cores * weight
                sums["deps"] += dependency_bound(program, execution,
                                                 RTL_TIMING.barrier_latency) * weight
            rows.append({"mode": mode, "lanes": hw.lanes, "pieces": pieces,
                         "instructions": sum(
                len(program_of(p).code if pieces == 1 else split_work(
                    program_of(p), pieces, "cols", hw.cols, hw.lanes).code)
                for p in counts), **sums})
    return rows


def render(spec_path: str, spec, rows: list[dict], queue_depth: int,
           lanes: list[int]) -> str:
    hw = spec.hardware
    batch = spec.algorithm.batch_size
    clock = hw.clock_mhz * 1e6
    fixar = 53_826.8

    def ips(cycles):
        return clock * batch / cycles

    lines = [HEADING, "",
             f"Measured {datetime.date.today().isoformat()} on {machine()} (a model: "
             f"seconds of CPU). Command: `python benchmarks/overlap_bound.py --spec "
             f"{spec_path} --lanes {' '.join(map(str, lanes))} --queue-depth {queue_depth}`. "
             f"{spec.name}: {hw.cores} cores x {hw.rows}x{hw.cols} PEs, {hw.lanes} lanes a "
             f"core as specified (and the lanes listed), batch {batch}, "
             f"{hw.clock_mhz:g} MHz; the training programs as `fixar estimate` weights "
             "them. **Modeled, and a schedule the RTL does not run** "
             "(fixar_gen/overlap.py): the first column is the generated RTL's exact "
             "cycle model (the scheduler's sequential rule equals it on every program), "
             "the others what decoupled queues would reach with today's per-instruction "
             "cycles and instruction order, without memory-port conflicts between the "
             "units.", "",
             "| lanes a core | precision | generated RTL (exact model) | decoupled queues, "
             "scoreboard | "
             "+ pipelined units | dependencies alone | array busy alone (pipelined) | "
             "IPS, same columns | x FIXAR (53,826.8), same columns |",
             "|---:|---|---:|---:|---:|---:|---:|---|---|"]
    whole = [r for r in rows if r["pieces"] == 1]
    for r in whole:
        cells = [r["rtl"], r["queues"], r["pipelined"], r["deps"], r["array"]]
        lines.append(
            f"| {r['lanes']} | {r['mode']} | " + " | ".join(f"{c:,.0f}" for c in cells)
            + " | "
            + " / ".join(f"{ips(c):,.0f}" for c in cells) + " | "
            + " / ".join(f"{ips(c) / fixar:.2f}" for c in cells) + " |")
    for r in whole:
        factor = 2 if r["mode"] == "fxp16" else 1.5     # issue 14's targets
        need = clock * batch / (factor * fixar)
        lines += ["", f"{r['lanes']} lanes, {r['mode']}: decoupled queues save {1 - r['queues'] / r['rtl']:.1%} "
                  f"of the RTL's cycles, pipelined units {1 - r['pipelined'] / r['rtl']:.1%}; "
                  f"the programs' dependencies alone (no issue cost, any number of "
                  f"units, the buffers as allocated today) take {r['deps']:,.0f} cycles, "
                  f"{1 - r['deps'] / r['rtl']:.1%} below the RTL: no schedule of today's "
                  f"instructions goes lower. Issue 14's {factor:g}x FIXAR needs "
                  f"{need:,.0f} cycles an update; the array's own busy cycles at today's "
                  f"tiling are {r['array']:,.0f}."]
    lines += ["", "What-if: every MatMul cut by its result columns (on multiples of the "
              "array's columns) and every pipelined drain and vec by its columns (on "
              "multiples of the lanes) into up to k instructions (`overlap.split_work`: "
              "finer dependencies for the scoreboard; the programs as compiled are k = 1; "
              "no compiler does this today), the same machines, cycles of one update:", "",
              "| lanes a core | precision | k | instructions (training programs) | "
              "generated RTL rule | decoupled queues | + pipelined units | dependencies "
              "alone | array busy | vector busy |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['lanes']} | {r['mode']} | {r['pieces']} | "
                     f"{r['instructions']:,.0f} | "
                     + " | ".join(f"{r[k]:,.0f}" for k in
                                  ("rtl", "queues", "pipelined", "deps", "array",
                                   "vector")) + " |")
    lines += ["", "Cutting the work finer lowers the dependency chain well below the "
              "array's own busy cycles, but queues that start each unit's instructions in "
              "program order do not follow it: the gain needs an order in which the "
              "units' independent work alternates (the compiler's software pipelining, "
              "or out-of-order issue), which the bound above does not model."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="examples/fixar_u50.yaml")
    parser.add_argument("--lanes", type=int, nargs="*", default=[9])
    parser.add_argument("--queue-depth", type=int, default=8)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    from dataclasses import replace
    spec = load_spec(ROOT / args.spec)
    rows = figures(spec, args.queue_depth)
    for lanes in args.lanes:
        rows += figures(replace(spec, hardware=replace(spec.hardware, vector_lanes=lanes)),
                        args.queue_depth)
    text = render(args.spec, spec, rows, args.queue_depth, args.lanes)
    print(text)
    if not args.no_write:
        publish(HEADING, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
