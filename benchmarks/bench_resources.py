"""The resource model's figures for the U50 examples, next to the U50's capacity and
FIXAR's published utilisation, and the calibration runs they rest on.

Modeled, not synthesized: :func:`fixar_gen.resources.estimate_resources` (the PE array
fitted to the Yosys runs in fixar_gen/resource_calibration.py, documented constants for
the vector unit and controller, memories mapped to BRAM36/URAM).

    python benchmarks/bench_resources.py [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import ROOT, machine, publish  # noqa: E402

from fixar_gen import load_spec  # noqa: E402
from fixar_gen.boards import U50  # noqa: E402
from fixar_gen.estimate import estimate  # noqa: E402
from fixar_gen.resources import (FIXAR_PUBLISHED, LABELS, RESOURCES,  # noqa: E402
                                 calibration_table, estimate_resources)

HEADING = "## Modeled FPGA resources on the U50"
SPECS = ("examples/fixar_u50.yaml", "examples/custom_dsl.py")


def cells(values: dict) -> str:
    return " | ".join(f"{values[r]:,}" for r in RESOURCES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    head = " | ".join(LABELS[r] for r in RESOURCES)
    lines = [
        HEADING, "",
        "Modeled by `fixar_gen/resources.py` (docs/dse.md): the PE arrays from a fit to "
        "Yosys `synth_xilinx -family xcup` runs (below), the vector unit (C lanes per core) "
        "and the controller as documented constants, the memories in whole BRAM36/URAM "
        "primitives: the design-space model of `fixar sweep`. The rows marked *generated "
        "design* are what `fixar estimate` counts for the design `fixar generate` builds: "
        "its memory inventory as block RAM and its own vector lane, sized from the spec's "
        "formats (`fixar_gen/lane_resources.py`: measured where a calibrated lane matches, "
        "scaled by the datapath width otherwise). Not a Vivado result. The U50 leaves 85% of each resource to the kernel "
        "(the Vitis shell's margin).", "",
        f"- Machine (for the record; the figures do not depend on it): {machine()}",
        "- Command: `python benchmarks/bench_resources.py`",
        f"- Date: {datetime.date.today().isoformat()}", "",
        f"| design | part | {head} |",
        "|---|---|" + "---:|" * len(RESOURCES),
    ]
    for path in SPECS:
        spec = load_spec(ROOT / path)
        report = estimate_resources(spec)
        hw = spec.hardware
        name = f"{path} ({hw.cores} x {hw.rows}x{hw.cols}, batch {spec.algorithm.batch_size})"
        for part, res in report.parts:
            lines.append(f"| {name} | {part} | {cells(res.as_dict())} |")
        total = report.total.as_dict()
        fraction = report.fit.fraction(report.total)
        lines.append(f"| {name} | **total** | {cells(total)} |")
        lines.append(f"| {name} | share of the usable U50 | "
                     + " | ".join(f"{fraction[r]:.0%}" for r in RESOURCES) + " |")
        generated = estimate(spec)["resources"]
        lane = generated["lane"]
        lines.append(f"| {name} | generated design: vector units (one lane "
                     f"{lane['luts']:,} LUT, {lane['basis']}) | "
                     f"{cells(generated['parts']['vector units'])} |")
        lines.append(f"| {name} | generated design: **total** | "
                     f"{cells(generated['total'])} |")
        lines.append(f"| {name} | generated design: share of the usable U50 | "
                     + " | ".join(f"{generated['fit']['utilization'][r]:.0%}"
                                  for r in RESOURCES) + " |")
    lines += [
        f"| U50 (DS965) | capacity | {cells({r: getattr(U50, r) for r in RESOURCES})} |",
        f"| U50 | usable by the kernel (85%) | "
        f"{cells({r: U50.usable(r) for r in RESOURCES})} |",
        f"| FIXAR (DAC 2021), 2 x 16x16 | published | {cells(FIXAR_PUBLISHED.as_dict())} |",
        "", "Calibration of the PE arrays and the vector lane (`python benchmarks/calibrate_resources.py`):",
        "", "```", *calibration_table(), "```", ""]
    publish(HEADING, "\n".join(lines), args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
