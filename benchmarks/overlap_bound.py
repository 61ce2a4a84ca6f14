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
- any order (a list schedule of the dependency graph on one unit of each kind a core,
  pipelined: what a compiler's reordering or out-of-order issue could give);
- the barrier-segment bound (the busiest unit of each stretch between barriers,
  summed: no schedule that keeps today's barriers goes below it), the dependency
  chain alone, and the array's and the vector lanes' own busy cycles.

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
    from fixar_gen.isa import MODES, MatMul
    from fixar_gen.overlap import (Machine, dependency_bound, list_schedule,
                                   overlap_schedule, segment_bound, split_work)
    from fixar_gen.perf import schedule_with
    hw = spec.hardware
    cfg = CoreConfig("rtl", hw.cores, hw.rows, hw.cols, pe_widths(spec), 1, 1,
                     lanes=hw.lanes)
    counts = algorithms.of(spec).phase_counts(spec)
    period = sum(counts.values())
    latency = RTL_TIMING.barrier_latency
    machines = {
        "sequential": Machine(decoupled=False, issue_latency=ISSUE_CYCLES,
                              barrier_latency=latency),
        "queues": Machine(issue_latency=ISSUE_CYCLES, queue_depth=queue_depth,
                          barrier_latency=latency),
        "pipelined": Machine(pipelined=True, issue_latency=ISSUE_CYCLES,
                             queue_depth=queue_depth, barrier_latency=latency),
    }
    rows = []
    for mode in ("fxp32", "fxp16"):
        program_of = rtl_programs(spec, precision_for(spec, mode),
                                  per_core_memories=hw.memories_per_core)
        for pieces in SPLITS:
            sums = dict.fromkeys([*COLUMNS, "wide"], 0.0)
            sums["instructions"] = 0
            for phase, count in counts.items():
                program = program_of(phase)
                if pieces > 1:
                    program = split_work(program, pieces, hw.cols, hw.lanes)
                execution = rtl_execution(cfg, program)
                exact = schedule_with(program, hw.cores, execution, RTL_TIMING).total_cycles
                runs = {name: overlap_schedule(program, execution, m, hw.rows, hw.cols)
                        for name, m in machines.items()}
                if runs["sequential"].total_cycles != exact:
                    raise SystemExit(f"{phase} {mode}: the scheduler's sequential rule "
                                     f"gives {runs['sequential'].total_cycles} cycles, "
                                     f"the exact model {exact}")
                reordered = list_schedule(program, execution, True, hw.rows, hw.cols,
                                          latency)
                w = count / period
                products = [(x.m.count * x.n.count * x.k.count, MODES[x.mode])
                            for x in program.code if isinstance(x, MatMul)]
                macs = sum(n for n, _ in products)
                got = {"rtl": exact, "queues": runs["queues"].total_cycles,
                       "pipelined": runs["pipelined"].total_cycles,
                       "reordered": reordered.total_cycles,
                       "segments": segment_bound(program, execution, hw.rows, hw.cols),
                       "deps": dependency_bound(program, execution, latency),
                       "array": reordered.unit_busy["array"] / hw.cores,
                       "peak": sum(n / (hw.pe_count * (2 if mode == "fxp16" else 1))
                                   for n, mode in products),
                       "wide": sum(n for n, mode in products if mode == "fxp32")
                       / max(1, macs),
                       "vector": reordered.unit_busy["vector"] / hw.cores}
                for key, value in got.items():
                    sums[key] += value * w
                sums["instructions"] += len(program.code)
            rows.append({"mode": mode, "lanes": hw.lanes, "pieces": pieces, **sums})
    return rows


#: the figures of each row, in the tables' order, with their column titles
COLUMNS = {"rtl": "generated RTL (exact model)", "queues": "decoupled queues, scoreboard",
           "pipelined": "+ pipelined units", "reordered": "any order (list schedule)",
           "segments": "barrier segments' bound", "deps": "dependencies alone",
           "array": "array busy", "peak": "array at peak (each MatMul in its mode)",
           "vector": "vector busy"}


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
             f"{spec_path} --lanes {' '.join(map(str, lanes))} --queue-depth "
             f"{queue_depth}`. {spec.name}: {hw.cores} cores x {hw.rows}x{hw.cols} PEs, "
             f"{hw.lanes} lanes a core as specified and {', '.join(map(str, lanes))} "
             f"(the most that fit the U50 by the resource model: docs/dse.md), batch "
             f"{batch}, {hw.clock_mhz:g} MHz; the training programs as `fixar estimate` "
             "weights them; cycles of one update. **Modeled, and schedules the RTL does "
             "not run** (fixar_gen/overlap.py): the first column is the generated RTL's "
             "exact cycle model (the scheduler's sequential rule equals it on every "
             "program), the others what decoupled units would reach with today's "
             "per-instruction cycles, without memory-port conflicts between the units.",
             "", "| lanes a core | precision | " + " | ".join(COLUMNS.values())
             + " | x FIXAR (53,826.8): RTL / any order / segments / array |",
             "|---:|---|" + "---:|" * len(COLUMNS) + "---|"]
    whole = [r for r in rows if r["pieces"] == 1]
    for r in whole:
        lines.append(f"| {r['lanes']} | {r['mode']} | "
                     + " | ".join(f"{r[k]:,.0f}" for k in COLUMNS) + " | "
                     + " / ".join(f"{ips(r[k]) / fixar:.2f}"
                                  for k in ("rtl", "reordered", "segments", "array"))
                     + " |")
    for r in whole:
        factor = 2 if r["mode"] == "fxp16" else 1.5     # issue 14's targets
        lines += ["", f"{r['lanes']} lanes, {r['mode']}: decoupled in-order queues save "
                  f"{1 - r['pipelined'] / r['rtl']:.1%} of the RTL's cycles (pipelined "
                  f"units), any order {1 - r['reordered'] / r['rtl']:.1%}; with today's "
                  f"barriers no schedule goes below {r['segments']:,.0f} "
                  f"({1 - r['segments'] / r['rtl']:.1%} below the RTL). Issue 14's "
                  f"{factor:g}x FIXAR needs {clock * batch / (factor * fixar):,.0f} cycles; "
                  f"the array's MatMuls alone take {r['peak']:,.0f} at its peak, each in "
                  f"its mode ({r['wide']:.0%} of the MACs in FXP32 mode)."]
    lines += ["", "What-if: every MatMul cut by its result columns (on multiples of the "
              "array's columns) and every pipelined drain and vec by its columns (on "
              "multiples of the lanes) into up to k instructions (`overlap.split_work`: "
              "finer dependencies; the programs as compiled are k = 1; no compiler does "
              "this today), the same rules:", "",
              "| lanes a core | precision | k | instructions | " + " | ".join(
                  COLUMNS.values()) + " |",
              "|---:|---|---:|---:|" + "---:|" * len(COLUMNS)]
    for r in rows:
        lines.append(f"| {r['lanes']} | {r['mode']} | {r['pieces']} | "
                     f"{r['instructions']:,.0f} | "
                     + " | ".join(f"{r[k]:,.0f}" for k in COLUMNS) + " |")
    lines += ["", "Finer work lowers the dependency chain far below the array's own busy "
              "cycles, but not the barrier segments' bound: the programs synchronise the "
              "cores by barriers around their transfers and link reductions, and each "
              "stretch between two barriers is mostly one unit's work, so what one "
              "unit does in a stretch waits for the others' stretches. Overlap beyond a "
              "few percent needs fewer barriers (transfers and reductions ordered by "
              "the scoreboard) as well as an order that alternates the units' work."]
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
