"""`fixar generate`: everything a spec's accelerator is made of, written into a folder.

    DIR/<name>.v          the Verilog of the whole design (all cores, memories, host ports)
    DIR/hostmap.json      the host interface: ports, memories, field layouts
    DIR/<name>_hostmap.h  the same as a C header
    DIR/report.json       sizes, the memory inventory (every RAM: width, depth, banks,
                          ports, mapping, BRAM36/URAM; fixar_gen.hw.inventory) and its
                          fit on the board, timings, Yosys resources with --synth and
                          the worst register-to-register paths per unit (``timing``,
                          :mod:`fixar_gen.hw.timing`)
    DIR/synth/            with --synth: Yosys's log, statistics and netlist.json
    DIR/synth_memories/   with --synth-memories: Yosys's log of the memory mapping alone
    DIR/lint_waivers.vlt  the documented Verilator lint waivers (``verilator --lint-only
                          -Wall lint_waivers.vlt <name>.v`` is clean)

All four come from one elaboration and one :class:`~fixar_gen.hw.hostmap.HostMap`.
With ``synth=True`` Yosys (``synth_xilinx -family xcup``) synthesises the design and
report.json records its LUT/FF/DSP/BRAM counts and the timing estimate of its netlist
(worst paths of the whole design and of each unit: PE, array, vector lane, controller)
and, per memory, what Yosys made of it next to the inventory's prediction
(``memory_mapping``, :func:`fixar_gen.hw.memory_map.compare`); ``synth_memories=True``
records the same from a run of ``synth_xilinx`` up to its memory mapping only (minutes,
not the hours of the vector lanes; :mod:`fixar_gen.hw.memory_map`); with both, the full
run's mapping is the one recorded and the second run is skipped.  For a spec whose target is ``u50`` the
folder also gets the Vitis packaging of the kernel (kernel.xml, package_xo.tcl, u50.cfg,
Makefile, the kernel's register map; :mod:`fixar_gen.targets.u50.package`, docs/u50.md).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .files import atomic_write
from .progress import QUIET, task
from .spec import Spec


def generate(spec: Spec, out: str | Path, synth: bool = False, verilate: bool = False,
             memory_words: int | None = None, synth_memories: bool = False) -> dict:
    from .hw.core import build_core
    from .hw.design import config_for, words_needed
    from .hw.inventory import memory_inventory
    from .hw.lint import waiver_file
    from .memory_fit import memory_fit
    from .hw.verilate import emit_verilog

    from . import tools
    if verilate:            # a missing tool is said before minutes of elaboration
        tools.verilator()
    if synth or synth_memories:
        tools.yosys()
    out = Path(out)
    timings = {}
    t0 = time.perf_counter()
    cfg = config_for(spec, memory_words=memory_words)    # refuses oversized designs
    out.mkdir(parents=True, exist_ok=True)
    with task(f"elaborating {cfg.name} in PyRTL", f"elaborated {cfg.name}", after=QUIET):
        block = build_core(cfg)
    timings["elaborate_s"] = round(time.perf_counter() - t0, 3)
    t1 = time.perf_counter()
    with task(f"writing the Verilog of {cfg.name}", f"wrote the Verilog of {cfg.name}",
              after=QUIET):
        verilog = emit_verilog(block, cfg.name, initialize_registers=False)
    timings["verilog_s"] = round(time.perf_counter() - t1, 3)
    hm = cfg.hostmap
    needed = words_needed(spec, cfg.per_core_memories)
    inventory = memory_inventory(cfg)
    (out / f"{cfg.name}.v").write_text(verilog, encoding="utf-8")
    (out / "hostmap.json").write_text(hm.to_json(), encoding="utf-8")
    (out / f"{cfg.name}_hostmap.h").write_text(hm.c_header(), encoding="utf-8")
    waiver_file(out)
    timings["generate_s"] = round(time.perf_counter() - t0, 3)
    report = {
        "spec": spec.name, "top": cfg.name, "target": spec.target,
        "cores": cfg.cores, "array": [cfg.rows, cfg.cols], "vector_lanes": cfg.lanes,
        "per_core_memories": cfg.per_core_memories,
        "pe": {"weight_bits": cfg.pe.weight, "half_bits": cfg.pe.half,
               "acc_bits": cfg.pe.acc},
        "memory": {"word_bits": cfg.word, "words": 1 << cfg.addr_bits,
                   "words_needed": max(needed.values()),
                   "data_memories": {m.name: {"width_bits": m.width, "words": m.depth,
                                              "words_needed": needed.get(m.name, 0)}
                                     for m in cfg.data_memories},
                   "instructions_per_core": 1 << cfg.imem_bits,
                   "descriptors": 1 << cfg.buffer_bits, "slots": 1 << cfg.slot_bits},
        "memory_inventory": {**inventory.as_dict(), "fit": memory_fit(spec, inventory)},
        "estimated_fit": estimated_fit(spec, inventory),
        "verilog_lines": verilog.count("\n"),
        "logic_nets": len(block.logic),
        "timings": timings,
    }
    if verilate:
        from .hw.session import verilator_model
        t2 = time.perf_counter()
        verilator_model(cfg)
        timings["verilator_build_s"] = round(time.perf_counter() - t2, 3)
    if synth:
        from .hw.synth import NETLIST, cell_counts, summarize
        from .hw.timing import UNITS, analyze
        t3 = time.perf_counter()
        with task(f"synthesising {cfg.name} with Yosys (synth_xilinx -family xcup)",
                  f"synthesised {cfg.name}", after=QUIET):     # silent if Yosys is missing
            cells = cell_counts(verilog, cfg.name, out / "synth", netlist=True)
        report["resources"] = summarize(cells)
        report["resources"]["source"] = "yosys synth_xilinx -family xcup"
        timings["synth_s"] = round(time.perf_counter() - t3, 3)
        from .hw.memory_map import compare, memory_mappings, primitives_of_netlist
        log = (out / "synth" / "yosys.log").read_text(errors="replace")
        report["memory_mapping"] = {
            **compare(inventory, {"mappings": memory_mappings(log), "cells": cells,
                                  "primitives": primitives_of_netlist(
                                      out / "synth" / NETLIST, cfg.name)}),
            "source": "yosys synth_xilinx -family xcup (memory_libmap)"}
        t4 = time.perf_counter()
        timing = analyze(out / "synth" / NETLIST, cfg.name, verilog=verilog, units=UNITS)
        report["timing"] = {**timing.as_dict(), "netlist": f"synth/{NETLIST}",
                            "source": "fixar_gen.hw.timing over the Yosys netlist; an "
                                      "estimate under the delay model of docs/hardware.md"}
        timings["timing_s"] = round(time.perf_counter() - t4, 3)
    if synth_memories and not synth:     # the full run above already recorded the mapping
        from .hw.memory_map import compare, map_memories
        t5 = time.perf_counter()
        with task(f"mapping the memories of {cfg.name} with Yosys (synth_xilinx -family "
                  "xcup up to map_memory)", f"mapped the memories of {cfg.name}",
                  after=QUIET):
            mapped = map_memories(verilog, cfg.name, out / "synth_memories")
        report["memory_mapping"] = compare(inventory, mapped)
        timings["synth_memories_s"] = round(time.perf_counter() - t5, 3)
    if spec.target == "u50":
        from .targets.u50.package import write_package
        t4 = time.perf_counter()
        report["u50"] = write_package(spec, cfg, out, core_verilog=verilog)
        timings["u50_package_s"] = round(time.perf_counter() - t4, 3)
    # (written last and in one step: a reader that finds it finds the whole folder)
    atomic_write(out / "report.json", json.dumps(report, indent=2) + "\n")
    return report


def estimated_fit(spec: Spec, inventory) -> dict | None:
    """The generated design against its board by the calibrated resource model (its
    memory inventory as block RAM, its own vector lanes: what `fixar estimate`
    reports), or None off a board.  Spec validation checks the memories against the
    board (a located error); the logic is only estimated, so a design beyond the
    board's LUTs is generated with a warning."""
    from .boards import BOARDS
    from .estimate import generated_fit, lanes_that_fit
    if spec.target not in BOARDS:
        return None
    fit = generated_fit(spec, inventory).as_dict()["fit"]
    return {"fits": fit["fits"], "problems": fit["problems"],
            "utilization": fit["utilization"], "board": fit["board"],
            "basis": "modeled (resource model calibrated on Yosys netlists)",
            **({} if fit["fits"] else {"fits_with_lanes": lanes_that_fit(spec)})}
