"""Yosys synthesis of generated Verilog for the U50's family (UltraScale+):
``synth_xilinx -family xcup``, statistics as LUT / FF / DSP48E2 / BRAM / URAM counts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..tools import Tool, run_tool, yosys
from .dsp_registers import dsp_register_flops
from .verilog_writer import write_verilog

#: (``dsp_register_flops`` is the resource calibration's, kept here beside the counts)
__all__ = ["NETLIST", "block_verilog", "cell_counts", "dsp_register_flops", "summarize",
           "synthesize"]


def summarize(cells: dict[str, int]) -> dict[str, int]:
    """Cell counts by type -> the resource classes a U50 budget is given in."""
    luts = sum(n for kind, n in cells.items() if re.fullmatch(r"LUT[1-6]", kind))
    ffs = sum(n for kind, n in cells.items() if re.fullmatch(r"FD[A-Z]*", kind))
    carry = sum(n for kind, n in cells.items() if kind.startswith("CARRY"))
    lutram = sum(n for kind, n in cells.items() if kind.startswith("RAM") and "X1" in kind
                 or kind.startswith("RAM32M") or kind.startswith("RAM64M"))
    bram = sum(n for kind, n in cells.items() if kind.startswith("RAMB36")) \
        + 0.5 * sum(n for kind, n in cells.items() if kind.startswith("RAMB18"))
    return {"LUT": luts, "FF": ffs, "DSP": cells.get("DSP48E2", 0), "BRAM36": bram,
            "URAM": cells.get("URAM288", 0), "CARRY8": carry, "LUTRAM": lutram,
            "cells": dict(sorted(cells.items()))}


NETLIST = "netlist.json"


def cell_counts(verilog: str, top: str, folder: str | Path, timeout: float = 3600,
                tool: Tool | None = None, uram: bool = False, netlist: bool = False,
                family: str = "xcup") -> dict[str, int]:
    """Synthesise ``verilog`` (module ``top``, written to ``folder/top.v``) with
    ``synth_xilinx -family xcup`` (by default; no I/O or clock buffers; with ``uram``, its
    ``-uram``: large memories may become URAM288, which Yosys otherwise never infers);
    Yosys's cell counts by type.  With ``netlist`` Yosys also writes the mapped netlist
    as JSON (``folder/netlist.json``, ``write_json``: what :mod:`fixar_gen.hw.timing`
    walks).  ``family`` is the U50's UltraScale+ (``xcup``) unless a check needs
    another one: Yosys 0.70 packs pipeline registers into DSPs (MREG, PREG...) only for
    ``xc7`` (:mod:`fixar_gen.hw.dsp_registers` reads them in an xcup netlist).  The
    first YoWASP run on a machine also compiles Yosys (about a minute)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{top}.v"
    source.write_text(verilog, encoding="utf-8")
    tmp = folder / "yowasp_tmp"         # YoWASP maps a folder of TMPDIR over /tmp
    tmp.mkdir(exist_ok=True)
    tool = tool or yosys()
    script = (f"read_verilog {source.name}; "
              f"synth_xilinx -family {family} -noiopad -noclkbuf{' -uram' if uram else ''} "
              f"-top {top}; "
              "tee -q -o stat.json stat -json"
              + (f"; write_json {NETLIST}" if netlist else ""))
    run_tool([*tool.command, "-q", "-l", "yosys.log", "-p", script], cwd=folder,
             timeout=timeout, env={**tool.env, "TMPDIR": str(tmp)})
    return json.loads((folder / "stat.json").read_text())["design"]["num_cells_by_type"]


def block_verilog(block, module: str) -> str:
    """A PyRTL block as the Verilog module ``module`` (as pyrtl.output_to_verilog
    writes it, but its delay lines of :func:`~fixar_gen.hw.build.data_register` s
    without a reset:
    :mod:`fixar_gen.hw.verilog_writer`), for synthesis."""
    return write_verilog(block, module)


def synthesize(verilog: str, top: str, folder: str | Path, timeout: float = 3600,
               uram: bool = False) -> dict[str, int]:
    """Synthesise ``verilog`` (module ``top``) in ``folder``; the resource summary."""
    return summarize(cell_counts(verilog, top, folder, timeout, uram=uram))
