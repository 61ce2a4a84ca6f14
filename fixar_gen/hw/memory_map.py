"""What Yosys makes of each memory of a generated design, without the hours of a whole
``synth_xilinx`` of the vector lanes: ``synth_xilinx -family xcup`` run only up to its
memory mapping (``-run :map_ffram``: ``begin`` .. ``map_memory``, i.e. ``memory_libmap``
and the techmap of its choices to RAMB36E2 / RAMB18E2 / URAM288 / RAM64M8 ...), then:

- Yosys's ``memory_libmap`` log lines, one per memory: "mapping memory M via CELL" (a
  block RAM, URAM or LUT RAM library cell) or "using FF mapping for memory M" (what
  ``map_ffram`` would turn into flip-flops and multiplexers);
- the primitives each memory became: ``memory_libmap`` names them ``M.i.j`` and the
  techmap keeps the name (``select -list`` of each primitive type).

The comparison with the memory inventory's prediction (:mod:`fixar_gen.hw.inventory`)
is :func:`compare`; ``fixar generate --synth`` writes both into report.json.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from ..tools import Tool, run_tool, yosys
from .block_ram_choice import bram36_equivalent
from .inventory import BLOCK_RAM, FLIP_FLOPS, LUT_RAM

#: the stages of ``synth_xilinx`` this check runs: up to (not including) ``map_ffram``
MEMORY_STAGES = ":map_ffram"
#: the primitives a memory can become at that point (LUT RAM as Yosys 0.70 names it)
PRIMITIVES = ("RAMB36E2", "RAMB18E2", "URAM288", "RAM64M8", "RAM32M16", "RAM64M", "RAM32M",
              "RAM64X1D", "RAM32X1D", "RAM128X1D", "RAM256X1D", "RAM512X1S", "RAM64X1S",
              "RAM32X1S", "RAM128X1S", "RAM256X1S")
FF = "FF"


def memory_mappings(log: str) -> dict[str, str]:
    """{memory name: what Yosys's memory_libmap mapped it to} from a Yosys log: the
    library cell (``$__XILINX_BLOCKRAM_...``, ``$__XILINX_URAM_...``,
    ``$__XILINX_LUTRAM_...``) or ``FF``."""
    out = {}
    for m in re.finditer(r"mapping memory [^\s]*?\\?([\w$.]+) via (\S+)", log):
        out[m.group(1).split(".")[-1]] = m.group(2)
    for m in re.finditer(r"using FF mapping for memory [^\s]*?\\?([\w$.]+)", log):
        out[m.group(1).split(".")[-1]] = FF
    return out


def mapping_class(how: str) -> str:
    """A memory_libmap choice in the inventory's classes (block RAM, LUT RAM,
    flip-flops)."""
    if how == FF:
        return FLIP_FLOPS
    if "BLOCKRAM" in how or "URAM" in how:
        return BLOCK_RAM
    if "LUTRAM" in how:
        return LUT_RAM
    raise ValueError(f"unknown memory mapping {how!r}")


def memory_of_primitive(name: str) -> str:
    """The memory a primitive belongs to: memory_libmap names them ``M.i.j`` (the
    techmap keeps the name; a Yosys escaped identifier's backslash dropped)."""
    return re.sub(r"(\.\d+)+$", "", name.lstrip("\\"))


def primitive_owners(listing: str) -> Counter:
    """``select -list`` lines ``module/M.i.j`` -> {M: count}."""
    owners: Counter = Counter()
    for line in listing.splitlines():
        line = line.strip()
        if "/" not in line:
            continue
        owners[memory_of_primitive(line.split("/", 1)[1])] += 1
    return owners


def primitives_of_netlist(netlist: str | Path, top: str) -> dict[str, dict[str, int]]:
    """{memory: {primitive type: count}} of a whole ``synth_xilinx`` run's ``write_json``
    netlist (the primitives keep memory_libmap's names ``M.i.j``)."""
    cells = json.loads(Path(netlist).read_text())["modules"][top]["cells"]
    out: dict[str, dict[str, int]] = {}
    for name, cell in cells.items():
        if cell["type"] in PRIMITIVES:
            kinds = out.setdefault(memory_of_primitive(name), {})
            kinds[cell["type"]] = kinds.get(cell["type"], 0) + 1
    return out


def map_memories(verilog: str, top: str, folder: str | Path, uram: bool = True,
                 timeout: float = 3600, tool: Tool | None = None) -> dict:
    """``verilog`` (module ``top``) through ``synth_xilinx -family xcup -noiopad
    -noclkbuf [-uram] -run :map_ffram`` in ``folder``: {"mappings": {memory: libmap
    choice}, "primitives": {memory: {primitive type: count}}, "cells": the design's cell
    counts by type at that stage}.  ``uram`` (the default) lets Yosys infer URAM288,
    which it otherwise never does."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{top}.v").write_text(verilog, encoding="utf-8")
    tmp = folder / "yowasp_tmp"         # YoWASP maps a folder of TMPDIR over /tmp
    tmp.mkdir(exist_ok=True)
    tool = tool or yosys()
    lists = "; ".join(f"tee -q -o cells_{p}.txt select -list t:{p}" for p in PRIMITIVES)
    script = (f"read_verilog {top}.v; "
              f"synth_xilinx -family xcup -noiopad -noclkbuf{' -uram' if uram else ''} "
              f"-top {top} -run {MEMORY_STAGES}; "
              f"tee -q -o stat.json stat -json; {lists}")
    run_tool([*tool.command, "-q", "-l", "yosys.log", "-p", script], cwd=folder,
             timeout=timeout, env={**tool.env, "TMPDIR": str(tmp)})
    log = (folder / "yosys.log").read_text(errors="replace")
    primitives: dict[str, dict[str, int]] = {}
    for p in PRIMITIVES:
        for owner, n in primitive_owners((folder / f"cells_{p}.txt").read_text()).items():
            primitives.setdefault(owner, {})[p] = n
    cells = json.loads((folder / "stat.json").read_text())["design"]["num_cells_by_type"]
    return {"mappings": memory_mappings(log), "primitives": primitives, "cells": cells}


def compare(inventory, mapped: dict) -> dict:
    """Per memory of ``inventory`` (:class:`~fixar_gen.hw.inventory.Inventory`): the
    inventory's class and primitives against Yosys's (``mapped``: :func:`map_memories`).
    A memory's Yosys class is its banks' if they agree, else "mixed"; the memories the
    inventory does not list (the lanes' tanh tables, ROMs) are under ``others``."""
    rows, listed = [], set()
    for m in inventory.memories:
        names = m.netlist_names      # each bank's, each copy's Verilog name
        listed.update(names)
        how = {n: mapped["mappings"].get(n, "absent") for n in names}
        classes = {mapping_class(h) if h != "absent" else "absent" for h in how.values()}
        prims: Counter = Counter()
        for n in names:
            prims.update(mapped["primitives"].get(n, {}))
        yosys_class = classes.pop() if len(classes) == 1 else "mixed"
        b, u = m.primitives
        rows.append({"name": m.name, "bits": m.bits, "inventory": m.maps_to,
                     "inventory_bram36": b, "inventory_uram": u,
                     "inventory_primitives": m.block_ram_primitives, "yosys": yosys_class,
                     "yosys_libmap": sorted(set(how.values())),
                     "yosys_primitives": dict(sorted(prims.items())),
                     "yosys_bram36": bram36_equivalent(prims),
                     "yosys_uram": prims.get("URAM288", 0),
                     "agrees": yosys_class == m.maps_to})
    others = {n: {"libmap": h, "primitives": mapped["primitives"].get(n, {})}
              for n, h in sorted(mapped["mappings"].items()) if n not in listed}
    return {"source": f"yosys synth_xilinx -family xcup -run {MEMORY_STAGES} (memory_libmap)",
            "memories": rows, "others": others,
            "bram36": sum(r["yosys_bram36"] for r in rows),
            "uram": sum(r["yosys_uram"] for r in rows),
            "inventory_bram36": sum(r["inventory_bram36"] for r in rows),
            "inventory_uram": sum(r["inventory_uram"] for r in rows),
            "cells": {k: v for k, v in sorted(mapped["cells"].items())
                      if k in PRIMITIVES}}
