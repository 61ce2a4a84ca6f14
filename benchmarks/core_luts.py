"""Where a design's LUTs go, and which registers' logic grew between two builds: every
LUT (INV, MUXF) of a Yosys xcup netlist given to the registers its output reaches before
the next register (as :mod:`lane_luts`, a cell reaching several groups shared evenly),
the registers grouped by name with their indices folded (``mem_amem_p0_bank17_rdata[3]``
-> ``mem_amem_p#_bank#_rdata``); from netlists kept by ``bench_timing.py --netlists
DIR`` (a design's folder holds its ``netlist.json`` and ``<top>.v``):

    python benchmarks/core_luts.py DIR/controller16x1 [OTHER/controller16x1] [--groups N]

With two folders, the N groups whose LUTs changed most (second minus first).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lane_luts import attribute  # noqa: E402

from fixar_gen.hw.timing import top_module  # noqa: E402


def group_of(name: str | None) -> str:
    """A register's group: its net name without the bit index, digits folded to ``#``."""
    if name is None:
        return "unnamed"
    return re.sub(r"\d+", "#", re.sub(r"\[\d+\]$", "", name))


def luts_by_group(folder: Path) -> dict[str, float]:
    """LUT-like cells per register group of the netlist kept in ``folder`` (its top
    module named as its Verilog file, ``<top>.v``)."""
    source = next(folder.glob("*.v"))
    _, module = top_module(json.loads((folder / "netlist.json").read_text()), source.stem)
    return attribute(module, source.read_text().splitlines(), field=group_of)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--groups", type=int, default=15)
    args = parser.parse_args(argv)
    if len(args.folders) > 2:
        parser.error("one or two folders")
    tables = [luts_by_group(f) for f in args.folders]
    first, second = tables[0], tables[-1]
    if len(tables) == 1:
        print(f"LUT-like cells {sum(first.values()):,.0f}\n")
        print("| registers fed | LUT |\n|---|---:|")
        for g, n in sorted(first.items(), key=lambda kv: -kv[1])[:args.groups]:
            print(f"| `{g}` | {n:,.0f} |")
        return 0
    print(f"LUT-like cells {sum(first.values()):,.0f} -> {sum(second.values()):,.0f}\n")
    print("| registers fed | LUT before | LUT after | change |\n|---|---:|---:|---:|")
    groups = sorted(set(first) | set(second),
                    key=lambda g: -abs(second.get(g, 0) - first.get(g, 0)))
    for g in groups[:args.groups]:
        a, b = first.get(g, 0), second.get(g, 0)
        print(f"| `{g}` | {a:,.0f} | {b:,.0f} | {b - a:+,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
