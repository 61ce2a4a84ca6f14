"""The timing estimate of a vector lane per pipeline stage: the slowest and the deepest
path into each stage's registers (a path belongs to the stage of its endpoint register,
``vu_core_<stage>_...``; registers PyRTL leaves unnamed fall under "unnamed"), and the
endpoint bits over 8 LUT levels or over the clock, from a netlist kept by
``bench_timing.py --designs lane --netlists DIR``:

    python benchmarks/lane_stages.py DIR/lane

Prints a markdown table (docs/hardware.md's delay model, an estimate: not Vivado).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fixar_gen.hw.timing import DelayModel, analyze_module, top_module
from fixar_gen.hw.vector import PIPELINE_STAGES

TOP = "fixar_lane"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not (Path(argv[0]) / "netlist.json").is_file():
        print("usage: python benchmarks/lane_stages.py DIR/lane (a folder with netlist.json "
              "and fixar_lane.v from bench_timing.py --netlists DIR)", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    _, module = top_module(json.loads((folder / "netlist.json").read_text()), TOP)
    units = tuple((stage, rf"vu_core_{stage}_") for stage in PIPELINE_STAGES) + \
        (("unnamed", r""),)
    report = analyze_module(module, TOP, DelayModel(), 10,
                            (folder / f"{TOP}.v").read_text(), units)
    print(f"whole lane: {report.summary()}; {report.deep_endpoints} endpoint bits over "
          f"8 LUT levels, {report.failing_endpoints} over the clock\n")
    print("| stage | worst ns | its LUT levels | deepest LUT levels | bits over 8 levels "
          "| bits over the clock | worst path |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, unit in sorted(report.units.items(), key=lambda u: -(u[1].worst.ns
                                                                    if u[1].worst else 0)):
        w = unit.worst
        if w is None:
            continue
        print(f"| {name} | {w.ns:.2f} | {w.lut_levels} | {unit.deepest.lut_levels} | "
              f"{unit.deep_endpoints} | {unit.failing_endpoints} | `{w.start}` -> `{w.end}` |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
