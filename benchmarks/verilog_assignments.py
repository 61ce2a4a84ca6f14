"""Where a Verilated core's cycle goes, read from its Verilog: every continuous
assignment attributed to the units whose registers or memories it feeds (its backward
cone from each unit's registers; an assignment in several cones split evenly), with
how many are wider than 64 bits (Verilator's ``VL_*_W`` word loops).  Verilator
evaluates every assignment every cycle, so the counts are a model of the per-cycle
cost, not a profile.

    python benchmarks/verilog_assignments.py FILE.v [--lanes]

FILE.v: a core's Verilog as the generator writes it (``<model cache>/<key>/<top>.v``).
``--lanes`` splits the vector lanes by the name of what they feed (``vu_iter``,
``vu_sel``, ...).
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict, deque
from pathlib import Path

IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")


def unit(name: str, lanes: bool) -> str | None:
    """The unit a register or memory belongs to, from its name (None: unnamed)."""
    if "_mm_array_pe_" in name:
        return "array PEs"
    if "_mm_array_" in name:
        return "array (other)"
    lane = re.search(r"_lane\d+_([a-z]+(?:_[a-z]+)?)", name)
    if lane:
        return "lane " + re.sub(r"\d+", "", lane.group(1)) if lanes else "vector lanes"
    if name.startswith("mem_") or "_imem" in name or "_sat_" in name:
        return "memories"
    if name.startswith("tmp"):
        return None
    return "controller and the rest"


def attribute(text: str, lanes: bool = False):
    width = {m.group(2): int(m.group(1)) + 1 if m.group(1) else 1 for m in re.finditer(
        r"^\s*(?:wire|reg)\s*(?:\[(\d+):0\])?\s*([A-Za-z_0-9]+)", text, re.M)}
    deps = {m.group(1): set(IDENT.findall(m.group(2))) for m in re.finditer(
        r"^\s*assign\s+([A-Za-z_0-9]+)\s*=\s*(.*?);\s*$", text, re.M)}
    sinks: dict[str, set[str]] = defaultdict(set)     # register / memory -> what it reads
    for m in re.finditer(r"^\s*([A-Za-z_0-9]+)(\[[^\]]*\])?\s*<=\s*(.*?);\s*$", text, re.M):
        sinks[m.group(1)] |= set(IDENT.findall((m.group(2) or "") + m.group(3)))
    for m in re.finditer(r"if\s*\((.*?)\)\s*begin\s*\n\s*([A-Za-z_0-9]+)\[", text):
        sinks[m.group(2)] |= set(IDENT.findall(m.group(1)))     # memory write enables
    owners: dict[str, set[str]] = defaultdict(set)
    for sink, reads in sinks.items():
        u = unit(sink, lanes)
        if u is None:
            continue
        queue = deque(r for r in reads if r in deps)
        seen = set(queue)
        while queue:
            x = queue.popleft()
            owners[x].add(u)
            for d in deps[x]:
                if d in deps and d not in seen:
                    seen.add(d)
                    queue.append(d)
    total: dict[str, float] = defaultdict(float)
    wide: dict[str, float] = defaultdict(float)
    for a in deps:
        for u in owners.get(a, ()):
            total[u] += 1 / len(owners[a])
            wide[u] += (width.get(a, 1) > 64) / len(owners[a])
    n_wide = sum(width.get(a, 1) > 64 for a in deps)
    unowned = sum(1 for a in deps if not owners.get(a))
    return len(deps), n_wide, unowned, total, wide


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("verilog", type=Path)
    parser.add_argument("--lanes", action="store_true",
                        help="split the vector lanes by what their logic feeds")
    args = parser.parse_args(argv)
    n, n_wide, unowned, total, wide = attribute(args.verilog.read_text(), args.lanes)
    print(f"{n:,} continuous assignments, {n_wide:,} wider than 64 bits; {unowned:,} feed "
          "only unnamed registers or outputs")
    print(f"{'unit':28s} {'assignments':>11s} {'share':>6s} {'>64 bits':>9s}")
    for u in sorted(total, key=lambda u: -total[u]):
        print(f"{u:28s} {total[u]:11,.0f} {100 * total[u] / n:5.1f}% {wide[u]:9,.0f}")


if __name__ == "__main__":
    main()
