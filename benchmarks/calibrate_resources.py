"""Calibrate the resource model: Yosys ``synth_xilinx -family xcup`` of one PE and of
small PE arrays at FIXAR's widths (W 32, H 16, A 80), and of the generator's vector lane
(``lane_u50``: the lane examples/fixar_u50.yaml generates, its word and its format
limits, as its cores' lane 0; ``lane_u50_parallel``: the same for the cores' other
lanes, without the serial functions; ``lane_u50_programs``,
``lane_u50_programs_parallel``: the same two built with the functions its programs use
only, as examples/fixar_u50.yaml's ``hardware.vector_functions: programs`` builds them
(the other lanes also without the narrow functions lane 0 alone runs,
``CoreConfig.lane0_functions``);
``laneWORD``: the widest lane at a WORD-bit word; recorded, not fitted), written to
fixar_gen/resource_calibration.py, the data module :mod:`fixar_gen.resources` fits its
per-PE, per-row and per-column LUT and FF costs to.  Also prints the fitted model
against every measurement (issue 7 asks for 15%).

    python benchmarks/calibrate_resources.py [--designs pe 2x2 4x4 ... lane_u50] [--jobs 2]
                                             [--merge] [--dry-run] [--reuse DESIGN=DIR]

``--reuse lane_u50=DIR/lane`` (``lane_u50_parallel=DIR/lane_parallel``) counts the cells of a Yosys folder kept by
``bench_timing.py --designs lane --netlists DIR`` (its ``stat.json`` and
``netlist.json``) instead of running Yosys again: the same lane, refused unless the
folder's Verilog is the one elaborated now (module name aside).

Each design takes from seconds (2x2) to minutes (16x16) of YoWASP Yosys on this
machine; the first YoWASP run on a machine compiles Yosys (about a minute).  The table
is checked in, so nothing else needs Yosys.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pyrtl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from report import machine  # noqa: E402

from fixar_gen.hw.array import build_array  # noqa: E402
from fixar_gen.hw.pe import PEWidths, build_pe  # noqa: E402
from fixar_gen.hw.synth import NETLIST, block_verilog, cell_counts, dsp_register_flops  # noqa: E402,E501
from fixar_gen.tools import run_tool, yosys  # noqa: E402

OUT = ROOT / "fixar_gen" / "resource_calibration.py"
WIDTHS = PEWidths(weight=32, half=16, acc=80)
DEFAULT_DESIGNS = ("pe", "2x2", "4x4", "4x8", "8x4", "8x8", "16x16", "lane_u50",
                   "lane_u50_parallel", "lane_u50_programs", "lane_u50_programs_parallel",
                   "lane_u50_1core_programs", "lane_u50_1core_programs_parallel")
#: fixar_u50's lane 0 (every function) and its other lanes (no serial functions); the
#: same built with its programs' functions only (``hardware.vector_functions:
#: programs``, as examples/fixar_u50.yaml generates them); the same on one core (the
#: design-space sweep's one-core points: no acc_add)
U50_LANES = ("lane_u50", "lane_u50_parallel", "lane_u50_programs",
             "lane_u50_programs_parallel", "lane_u50_1core_programs",
             "lane_u50_1core_programs_parallel")


def _u50_lane(design: str) -> tuple:
    """(config, serial_outputs, functions) of one of :data:`U50_LANES`."""
    from dataclasses import replace
    from fixar_gen import load_spec
    from fixar_gen.hw.design import config_for
    spec = load_spec(ROOT / "examples" / "fixar_u50.yaml")
    if "1core" in design:           # one core: its programs run no acc_add
        spec = replace(spec, hardware=replace(spec.hardware, cores=1))
    cfg = config_for(spec)
    serial = not design.endswith("parallel")
    functions = None if "programs" not in design else \
        cfg.functions if serial else cfg.parallel_functions
    return cfg, serial, functions
LUT_CELLS = re.compile(r"LUT[1-6]|INV|SRL16E|SRLC32E|RAM\d+[MXS].*")   # CLB LUTs (Vivado
#                                                 places an INV in a LUT1)
FF_CELLS = re.compile(r"FD[RSCP]E")


def _block(design: str) -> pyrtl.Block:
    if design == "pe":
        return build_pe(WIDTHS)
    from fixar_gen.hw.vector import build_vector_unit
    if design in U50_LANES:                     # the lanes fixar_u50 generates
        cfg, serial, functions = _u50_lane(design)
        return build_vector_unit(cfg.word, cfg.acc_overflow, limits=cfg.lane,
                                 serial_outputs=serial, functions=functions)[0]
    if design.startswith("lane"):               # the widest vector lane, WORD bits
        return build_vector_unit(int(design[4:]))[0]
    rows, cols = (int(n) for n in design.split("x"))
    return build_array(rows, cols, WIDTHS, flow="broadcast").block


def lane_size(design: str) -> dict:
    """A lane design's memory word and aligned-sum datapath (W_INT), which
    fixar_gen.lane_resources selects and scales by; {} for other designs."""
    from fixar_gen.hw.vector import internal_width, lane_operations
    if design in U50_LANES:
        cfg, serial, functions = _u50_lane(design)
        return {"word": cfg.word, "datapath_bits": internal_width(cfg.word, cfg.lane),
                **({} if serial else {"serial": False}),
                **({} if functions is None else
                   {"functions": list(lane_operations(serial, functions))})}
    if design.startswith("lane"):
        word = int(design[4:])
        return {"word": word, "datapath_bits": internal_width(word)}
    return {}


def _module(design: str) -> str:
    return "fixar_" + (design if design == "pe" or design.startswith("lane")
                       else f"array_{design}")


def _refuse(message: str) -> None:
    print(f"calibrate_resources: {message}", file=sys.stderr)
    raise SystemExit(2)


def reused(design: str, folder: Path) -> tuple[dict, dict, float]:
    """(cell counts, netlist module, Yosys seconds) of a kept Yosys folder of ``design``
    (one Verilog file, ``stat.json``, ``netlist.json``); SystemExit (one line) unless
    its Verilog is ``design``'s as elaborated now (exit status 2)."""
    sources = sorted(folder.glob("*.v"))
    if len(sources) != 1 or not (folder / NETLIST).is_file() \
            or not (folder / "stat.json").is_file():
        _refuse(f"--reuse: {folder} has no kept Yosys run (one .v, stat.json, {NETLIST})")
    top = sources[0].stem
    pyrtl.wire._reset_wire_indexers()       # private: tmpN as bench_timing numbers them
    if sources[0].read_text() != block_verilog(_block(design), top):
        _refuse(f"--reuse: {sources[0]} is not {design} as elaborated now")
    cells = json.loads((folder / "stat.json").read_text())["design"]["num_cells_by_type"]
    netlist = json.loads((folder / NETLIST).read_text())["modules"][top]
    took = folder / "yosys_seconds.txt"
    return cells, netlist, float(took.read_text()) if took.exists() else 0.0


def synthesize(design: str, reuse: Path | None = None) -> dict:
    """One design through Yosys (or its kept run, ``reuse``); its cell counts and the
    time it took."""
    module = _module(design)
    if reuse is not None:
        cells, netlist, seconds = reused(design, reuse)
        in_dsps = dsp_register_flops(netlist)
    else:
        tool = yosys()
        with tempfile.TemporaryDirectory(prefix="dse_cal_") as work:
            verilog = block_verilog(_block(design), module)
            start = time.perf_counter()
            cells = cell_counts(verilog, module, work, timeout=3_600, tool=tool,
                                netlist=True)
            seconds = time.perf_counter() - start
            netlist = json.loads((Path(work) / NETLIST).read_text())["modules"][module]
            in_dsps = dsp_register_flops(netlist)
    single = design == "pe" or design.startswith("lane")
    rows, cols = (1, 1) if single else (int(n) for n in design.split("x"))
    return {
        "design": design if single else "array",
        "rows": rows, "cols": cols,
        "luts": sum(n for k, n in cells.items() if LUT_CELLS.fullmatch(k)),
        "ffs": sum(n for k, n in cells.items() if FF_CELLS.fullmatch(k)) - in_dsps,
        "dsps": cells.get("DSP48E2", 0),
        "carry": sum(n for k, n in cells.items() if k.startswith("CARRY")),
        "seconds": round(seconds, 1),
        "cells": dict(sorted(cells.items())),
        **lane_size(design),
    }


def yosys_version() -> str:
    tool = yosys()
    with tempfile.TemporaryDirectory(prefix="dse_cal_") as work:
        tmp = Path(work) / "t"
        tmp.mkdir()
        out = run_tool([*tool.command, "-V"], cwd=work, timeout=600,
                       env={**tool.env, "TMPDIR": str(tmp)})
    return out.stdout.strip().split(" (")[0]


def write_module(rows: list[dict], version: str, command: str) -> str:
    lines = [
        '"""Yosys calibration of the resource model (:mod:`fixar_gen.resources`).',
        "",
        "Generated by benchmarks/calibrate_resources.py; do not edit by hand, rerun it.",
        "Each entry is one design synthesized with ``synth_xilinx -family xcup -noiopad",
        "-noclkbuf`` (UltraScale+, the U50's family): ``pe`` is one PE with every register",
        "it can have (the activation passed right), ``array`` an R x C array in the",
        "broadcast flow (FIXAR's) with its line-buffer skew registers, ``lane_u50`` the",
        "vector lane examples/fixar_u50.yaml generates (its word and format limits; not",
        "fitted: counted as measured by the estimate of a generated design) as a core's",
        "lane 0, ``lane_u50_parallel`` the same lane as the core's other lanes (no serial",
        "functions: ``serial`` False), ``lane_u50_programs`` and",
        "``lane_u50_programs_parallel`` the same built with its programs' functions only",
        "(``functions``: the lane's operations, ``hardware.vector_functions: programs``),",
        "``laneWORD`` the widest lane.  A lane records its",
        "memory ``word`` and its aligned-sum",
        "datapath ``datapath_bits`` (W_INT, ``hw.vector.internal_width``), which",
        ":mod:`fixar_gen.lane_resources` selects and scales by (``lane80``, synthesized",
        "before the lane was sized from the spec, has neither and is not a calibration",
        "point of today's RTL).  ``luts`` counts LUT1-6, INV (a LUT1 in Vivado) and",
        "SRL/LUTRAM cells, ``ffs`` the FD*E flip-flops except a DSP48E2's own pipeline",
        "registers (``synth.dsp_register_flops``: Yosys leaves them in the fabric, Vivado",
        "does not); CARRY and MUXF cells are not LUTs (Vivado reports them apart).",
        '"""',
        "",
        f"TOOL = {version!r}",
        f"COMMAND = {command!r}",
        f"DATE = {datetime.date.today().isoformat()!r}",
        f"MACHINE = {machine()!r}",
        "FAMILY = 'xcup'",
        f"WIDTHS = {{'weight': {WIDTHS.weight}, 'half': {WIDTHS.half}, 'acc': {WIDTHS.acc}}}",
        "",
        "MEASURED = (",
    ]
    for r in rows:
        keep = {k: r[k] for k in ("design", "rows", "cols", "luts", "ffs", "dsps", "carry",
                                  "seconds", "word", "datapath_bits", "serial", "functions")
                if k in r}
        if "functions" in keep:
            keep["functions"] = tuple(keep["functions"])
        lines.append(f"    {keep!r},")
    lines += [")", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", nargs="+", default=list(DEFAULT_DESIGNS),
                        help="pe and/or RxC arrays (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--merge", action="store_true",
                        help="keep the table's other designs, replace or add these")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the table, do not write the data module")
    parser.add_argument("--reuse", action="append", default=[], metavar="DESIGN=DIR",
                        help="count a kept Yosys folder of DESIGN (bench_timing.py "
                             "--netlists) instead of synthesizing it")
    args = parser.parse_args(argv)
    reuse = {}
    for item in args.reuse:
        design, _, folder = item.partition("=")
        if design not in args.designs or not folder:
            parser.error(f"--reuse: {item!r} is not DESIGN=DIR for one of --designs")
        reuse[design] = Path(folder)
    for design in args.designs:
        if not (re.fullmatch(r"pe|lane\d+|\d+x\d+", design) or design in U50_LANES):
            parser.error(f"--designs: {design!r} is not pe, laneWORD, "
                         f"{', '.join(U50_LANES)} or RxC")
    version = yosys_version()       # also compiles YoWASP once, before the pool starts
    rows = {d: synthesize(d, reuse[d]) for d in args.designs if d in reuse}
    fresh = [d for d in args.designs if d not in reuse]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows.update(zip(fresh, pool.map(synthesize, fresh)))
    rows = [rows[d] for d in args.designs]
    for r in rows:
        print(f"{r['design']:5} {r['rows']:>2}x{r['cols']:<2} {r['luts']:>7,} LUT "
              f"{r['ffs']:>7,} FF {r['dsps']:>4} DSP ({r['seconds']:.0f} s) {r['cells']}")
    command = "python benchmarks/calibrate_resources.py --designs " + " ".join(args.designs)
    if reuse:
        command += "".join(f" --reuse {d}=<the folder of bench_timing.py --netlists DIR: "
                           f"DIR/{'lane_parallel' if d.endswith('_parallel') else 'lane'}>"
                           for d in reuse)
    if args.merge:
        from fixar_gen.resource_calibration import COMMAND, MEASURED
        new = {(r["design"], r["rows"], r["cols"]) for r in rows}
        rows = [m for m in MEASURED if (m["design"], m["rows"], m["cols"]) not in new] + rows
        step = f"{command} --merge"
        # a re-measured design replaces its row: its command replaces the old one too
        steps = [c for c in COMMAND.split("; then ") if c != step]
        command = "; then ".join(steps + [step])
    text = write_module(rows, version, command)
    if args.dry_run:
        print(text)
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    # the fit the model makes from the new table, against every measurement
    import importlib

    import fixar_gen.resource_calibration
    import fixar_gen.resources as resources
    importlib.reload(fixar_gen.resource_calibration)
    importlib.reload(resources)
    for line in resources.calibration_table():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
