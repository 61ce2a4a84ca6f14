"""Timing estimate of examples/fixar_u50.yaml's units: Yosys ``synth_xilinx -family
xcup`` of one PE, one R x C array, one vector lane (``lane``: a core's lane 0;
``lane_parallel``: its other lanes; each built with the functions the spec's design
gives it, ``CoreConfig.functions`` / ``parallel_functions``; each alone,
its inputs as start points) and a whole small one-core design (benchmarks/specs/timing_core.yaml: the same
widths, 2x1 PEs, one lane, a 64-word scratchpad; ``controller``: the same design with
its lane stood in by its register boundary, :mod:`fixar_gen.hw.lane_stand_in`, 8-word
memories and fixar_u50's 19-bit addresses, to time the controller in minutes;
``--rows R``: its array R x 1, e.g. 16, fixar_u50's height, whose memories have the
real size's banks and rotations; ``--words N``: its memories N words instead of
8, e.g. 64, so that ``amem``'s strided elements name all 64 banks as fixar_u50's do),
``u50core``: one core of examples/fixar_u50.yaml itself (its 16x16 array with the PEs stood
in by their registers, :func:`stand_in_pe`, every data
memory's line port at its real banks, strided elements and word widths, the 16 lanes
stood in, no memory deeper than ``--words``, default 65,536: block RAM, so that Yosys
maps the memories in minutes), for the real figure of the line ports' LUTs
(``benchmarks/core_luts.py DIR/u50core``) and the controller at the real size;
``foldN``: the drains' write-back fold of N lanes alone, fixar_u50's data width
(:func:`fixar_gen.hw.core.build_write_back_folds`; fixar_u50's cores have 16 lanes);
each netlist walked by
:mod:`fixar_gen.hw.timing`; the table goes into BENCHMARKS.md.

    python benchmarks/bench_timing.py [--designs pe array16x16 lane core controller fold16]
                                      [--rows R] [--words N] [--netlists DIR]
                                      [--no-write]

``--netlists DIR`` keeps each design's Yosys folder (``DIR/<design>/``) and reuses a
netlist whose Verilog is byte for byte the one elaborated now, so the analysis can be
rerun without Yosys.  Yosys takes seconds (PE) to about ten minutes (16x16 array, the
core) per design on this machine.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import ROOT, machine, publish  # noqa: E402

from fixar_gen import load_spec  # noqa: E402
from fixar_gen.hw.synth import NETLIST, block_verilog, cell_counts  # noqa: E402
from fixar_gen.hw.timing import UNITS, DelayModel, analyze  # noqa: E402

HEADING = "## Timing estimate per unit (Yosys xcup netlists, examples/fixar_u50.yaml)"
SPEC = "examples/fixar_u50.yaml"
CORE_SPEC = "benchmarks/specs/timing_core.yaml"
CORE_WORDS = 64
CONTROLLER_WORDS = 8
#: the words of each memory of the design ``u50core`` (:func:`u50_core_config`)
U50_CORE_WORDS = 65_536
DEFAULT_DESIGNS = ("pe", "array16x16", "lane", "core")
#: the designs whose paths are also sorted by the unit of their endpoint
CORES = ("core", "controller", "u50core")


def elaborate(design: str, rows: int | None = None, words: int | None = None
              ) -> tuple[str, str]:
    """(top module, Verilog) of one design at fixar_u50's widths.  PyRTL numbers its
    unnamed wires (``tmpN``) process-wide: the counters are reset first so that a
    design's Verilog, and the reuse of its kept netlist, do not depend on what was
    elaborated before it."""
    import pyrtl
    pyrtl.wire._reset_wire_indexers()         # private, but the only way to restart tmpN
    from fixar_gen.hw.design import config_for, pe_widths
    spec = load_spec(ROOT / SPEC)
    widths = pe_widths(spec)
    if design == "pe":
        from fixar_gen.hw.pe import build_pe
        return "fixar_pe", block_verilog(build_pe(widths), "fixar_pe")
    if design.startswith("array"):
        from fixar_gen.hw.array import build_array
        rows, cols = (int(n) for n in design[5:].split("x"))
        top = f"fixar_array_{rows}x{cols}"
        return top, block_verilog(build_array(rows, cols, widths).block, top)
    if design.startswith("fold"):
        from fixar_gen.hw.core import build_write_back_folds
        cfg = config_for(spec)
        top = f"fixar_write_back_fold_{design[4:]}"
        return top, block_verilog(build_write_back_folds(int(design[4:]),
                                                         cfg.lane.data_width, cfg.word), top)
    if design in ("lane", "lane_parallel"):
        from fixar_gen.hw.vector import build_vector_unit
        cfg = config_for(spec)
        top = f"fixar_{design}"
        serial = design == "lane"
        return top, block_verilog(build_vector_unit(
            cfg.word, cfg.acc_overflow, limits=cfg.lane, serial_outputs=serial,
            functions=cfg.functions if serial else cfg.parallel_functions)[0], top)
    from fixar_gen.hw.core import build_core
    from fixar_gen.hw.verilate import emit_verilog
    if design in ("controller", "u50core"):      # the lanes stood in (u50core: the PEs too)
        from fixar_gen.hw.lane_stand_in import stand_in_lane
        if design == "u50core":
            cfg, pes = u50_core_config(words), {"pe_generator": stand_in_pe}
        else:
            cfg, pes = controller_config(rows, words or CONTROLLER_WORDS), {}
        return cfg.name, emit_verilog(build_core(cfg, lane_generator=stand_in_lane, **pes),
                                      cfg.name, initialize_registers=False)
    cfg = config_for(load_spec(ROOT / CORE_SPEC), memory_words=CORE_WORDS)
    return cfg.name, emit_verilog(build_core(cfg), cfg.name, initialize_registers=False)


def controller_config(rows: int | None = None, words: int = CONTROLLER_WORDS):
    """The core of benchmarks/specs/timing_core.yaml with the address width of
    examples/fixar_u50.yaml (its controller's adders and counters as generated) but
    memories of CONTROLLER_WORDS words (a memory uses the low bits of an address):
    the design ``controller`` synthesizes, its lane stood in.  ``rows``: its array
    ``rows`` x 1 instead of the spec's 2 x 1 (the banks of ``amem`` and ``gmem``
    follow the rows: 16 rows give ``amem`` fixar_u50's 64 banks); ``words``: its
    memories' words (a memory shallower than its banks has narrower element addresses:
    docs/hardware.md, the 16x1 controller design)."""
    from dataclasses import replace
    from fixar_gen.hw.design import config_for
    spec = load_spec(ROOT / CORE_SPEC)
    if rows is not None:
        spec = replace(spec, hardware=replace(spec.hardware, array=(rows, 1)))
    small = config_for(spec, memory_words=words)
    return replace(small, addr_bits=config_for(load_spec(ROOT / SPEC)).addr_bits)


def u50_core_config(words: int | None = None):
    """One core of examples/fixar_u50.yaml as its per-core copy is built (16x16 array,
    16 lanes, each data memory with one line port at fixar_u50's banks, strided elements,
    word widths and address width, each memory as deep as the copy's), but no memory
    deeper than ``words`` words (default :data:`U50_CORE_WORDS`: block RAM, so that
    Yosys's memory mapping takes minutes rather than hours; the line ports' logic depends
    on the banks and the word widths, a bank's address width aside): the design
    ``u50core``, its lanes stood in, for the LUTs of the memories' line ports and the
    controller as the core wires them.  (Every memory ``words`` deep would make the
    flip-flop ``smem`` that many words: YoWASP's Yosys runs out of memory on it.)"""
    from dataclasses import replace
    from fixar_gen.hw.data_memories import MemoryShape
    from fixar_gen.hw.design import config_for
    spec = load_spec(ROOT / SPEC)
    real = config_for(spec)
    bits = (words or U50_CORE_WORDS).bit_length() - 1
    shapes = tuple(m if m.addr_bits <= bits else MemoryShape(m.name, m.width, bits)
                   for m in real.data_memories)
    one = replace(spec, hardware=replace(spec.hardware, cores=1))
    return replace(config_for(one, name="fixar_core_u50"), memories=shapes,
                   addr_bits=real.addr_bits)


def stand_in_pe(scope, widths, *, act, mode, psum_lo, psum_hi, load_en, load_data,
                pass_right=False):
    """The design ``u50core``'s PE: the PE's ports and registers (its weight, its
    partial sums out, the activation and mode passed right) with an XOR of its inputs
    in place of the multiplies, so that every input the array takes stays used (the
    activation lines the memories' line ports read for it) while the netlist stays
    small: YoWASP's Yosys runs out of its 4 GiB on fixar_u50's core with the real PEs.
    Computes nothing meaningful (timing and LUT attribution of the rest only)."""
    import pyrtl
    from fixar_gen.hw.pe import PEPorts
    weight = pyrtl.Register(widths.weight, name=scope("weight"))
    weight.next <<= pyrtl.select(load_en, load_data, weight)
    mixed = pyrtl.concat(act, weight, mode)
    outs = []
    for name, psum in (("psum_lo", psum_lo), ("psum_hi", psum_hi)):
        reg = pyrtl.Register(widths.acc, name=scope(name))
        reg.next <<= psum ^ mixed.zero_extended(max(widths.acc, mixed.bitwidth))[:widths.acc]
        outs.append(reg)
    act_out = mode_out = None
    if pass_right:
        act_out = pyrtl.Register(act.bitwidth, name=scope("act_out"))
        mode_out = pyrtl.Register(1, name=scope("mode_out"))
        act_out.next <<= act
        mode_out.next <<= mode
    return PEPorts(weight, outs[0], outs[1], act_out, mode_out)


def netlist_of(design: str, keep: Path | None, rows: int | None = None,
               words: int | None = None) -> tuple[str, str, Path, float | None]:
    """Synthesize ``design`` (or reuse the netlist kept for the same Verilog); its
    top, Verilog, netlist and the seconds Yosys took (recorded next to the netlist)."""
    top, verilog = elaborate(design, rows, words)
    if rows is not None and design == "controller":
        design = f"controller{rows}x1"
    default = U50_CORE_WORDS if design == "u50core" else CONTROLLER_WORDS
    if words and words != default and design.startswith(("controller", "u50core")):
        design = f"{design}_{words}w"
    folder = (keep / design) if keep else Path(tempfile.mkdtemp(prefix=f"timing_{design}_"))
    source = folder / f"{top}.v"
    took = folder / "yosys_seconds.txt"
    if (folder / NETLIST).exists() and source.exists() and source.read_text() == verilog:
        print(f"{design}: reusing {folder / NETLIST}", flush=True)
        return top, verilog, folder / NETLIST, (float(took.read_text()) if took.exists()
                                                else None)
    print(f"{design}: synthesizing {top} with Yosys ...", flush=True)
    start = time.perf_counter()
    cell_counts(verilog, top, folder, timeout=7_200, netlist=True)
    seconds = time.perf_counter() - start
    took.write_text(f"{seconds:.1f}\n")
    return top, verilog, folder / NETLIST, seconds


def row(unit: str, t: dict) -> str:
    w = t["worst_paths"][0] if t["worst_paths"] else None
    if w is None:
        return f"| {unit} | - | - | - | - | - | - | - | - |"
    dsp = (f"{t['dsp48e2_mreg_preg']}/{t['dsp48e2']} set, "
           f"{t['dsp48e2_mreg_preg_or_flops']} as flip-flops" if t["dsp48e2"] else "-")
    return (f"| {unit} | {w['ns']:.2f} | {w['slack_ns']:+.2f} | {w['lut_levels']} | "
            f"{w['carry_chains']} / {w['carry_cells']} | {w['dsp_stages']} | "
            f"{t['max_lut_levels']} | {dsp} | {t['failing_endpoints']:,} | "
            f"`{w['start']}` -> `{w['end']}` |")


def yosys_version() -> str:
    from fixar_gen.tools import run_tool, yosys
    tool = yosys()
    with tempfile.TemporaryDirectory(prefix="timing_v_") as work:
        tmp = Path(work) / "t"
        tmp.mkdir()
        out = run_tool([*tool.command, "-V"], cwd=work, timeout=600,
                       env={**tool.env, "TMPDIR": str(tmp)})
    return out.stdout.strip().split(" (")[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", nargs="+", default=list(DEFAULT_DESIGNS),
                        help="pe, arrayRxC, lane, lane_parallel (a lane other than a "
                             "core's lane 0), core, controller (the "
                             "core with its "
                             "lane stood in: fixar_gen/hw/lane_stand_in.py), u50core "
                             "(one core of examples/fixar_u50.yaml, its lanes stood in, "
                             "memories of at most --words words), foldN (the "
                             "drains' write-back fold of N lanes alone) "
                             "(default: %(default)s)")
    parser.add_argument("--rows", type=int, default=None, metavar="R",
                        help="the controller design's array R x 1 (default: the spec's "
                             "2 x 1; 16: fixar_u50's height, 64 banks of amem)")
    parser.add_argument("--words", type=int, default=None, metavar="N",
                        help=f"the controller and u50core designs' memories' words "
                             f"(default: {CONTROLLER_WORDS} and {U50_CORE_WORDS:,})")
    parser.add_argument("--netlists", type=Path, default=None, metavar="DIR",
                        help="keep (and reuse) the Yosys folders under DIR")
    parser.add_argument("--no-write", action="store_true",
                        help="print the section, do not write BENCHMARKS.md")
    args = parser.parse_args(argv)
    for design in args.designs:
        if not re.fullmatch(r"pe|lane|lane_parallel|core|controller|u50core|array\d+x\d+"
                            r"|fold\d+", design):
            parser.error(f"--designs: {design!r} is not pe, lane, lane_parallel, core, "
                         "controller, u50core, arrayRxC or foldN")
    started = machine()
    version = yosys_version()
    model = DelayModel()
    table = ["| unit | worst ns | slack ns | LUT levels | carry chains / cells | DSP stages "
             "| max LUT levels | DSP48E2 with MREG+PREG | failing endpoint bits "
             "| worst path |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    seconds = []
    for design in args.designs:
        top, verilog, netlist, took = netlist_of(design, args.netlists, args.rows,
                                                 args.words)
        start = time.perf_counter()
        report = analyze(netlist, top, model, verilog=verilog,
                         units=UNITS if design in CORES else None)
        walk = time.perf_counter() - start
        t = report.as_dict()
        label = {"pe": "PE alone", "lane": "vector lane 0 alone (its functions in the spec's design)",
                 "lane_parallel": "vector lane other than lane 0 alone (its functions in the "
                                  "spec's design)",
                 "core": "whole one-core design",
                 "controller": "one-core design, lane stood in"
                 + (f", {args.rows}x1 array" if args.rows else "")
                 + (f", {args.words}-word memories" if args.words else ""),
                 "u50core": "one core of examples/fixar_u50.yaml, lanes stood in, "
                 f"memories of at most {args.words or U50_CORE_WORDS:,} words",
                 }.get(design, f"the drains' write-back fold alone, {design[4:]} lanes"
                       if design.startswith("fold") else f"{design[5:]} array alone")
        table.append(row(f"{label} ({report.cells:,} cells)", t))
        if design in CORES:
            for unit, part in t["units"].items():
                table.append(row(f"... in the core: {unit}", part))
        seconds.append(f"{design} {'?' if took is None else f'{took:.0f}'} s Yosys, "
                       f"{walk:.1f} s walk")
        print(table[-1], flush=True)
    command = ("python benchmarks/bench_timing.py --designs " + " ".join(args.designs)
               + (f" --rows {args.rows}" if args.rows else "")
               + (f" --words {args.words}" if args.words else ""))
    text = "\n".join([
        HEADING, "",
        "Worst register-to-register paths of Yosys `synth_xilinx -family xcup -noiopad "
        "-noclkbuf` netlists, walked by `fixar_gen/hw/timing.py` under the delay model of "
        "docs/hardware.md (an estimate: about 0.42 ns per LUT level with routing, 2.9 ns "
        "per unregistered DSP48E2; not Vivado). The clock is FIXAR's 164 MHz "
        f"({model.clock_ns:.2f} ns). Units alone start paths at their inputs; the core's "
        "rows sort its paths by the unit of their endpoint register. Issue 13's targets: "
        "at most 8 LUT levels, every DSP48E2 with MREG and PREG, no negative slack.", "",
        f"- Machine: {started}",
        f"- Tool: {version}; widths of {SPEC} (the core: {CORE_SPEC}, "
        f"{CORE_WORDS}-word scratchpad)",
        f"- Command: `{command}" + (" --netlists DIR`" if args.netlists else "`")
        + (" (DIR: a folder of kept Yosys netlists, reused where the Verilog is "
           "byte-identical)" if args.netlists else ""),
        f"- Date: {datetime.date.today().isoformat()}; runs (Yosys: the run that made "
        f"each kept netlist, on the shared machine): {'; '.join(seconds)}", "",
        *table, "",
    ])
    publish(HEADING, text, args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
