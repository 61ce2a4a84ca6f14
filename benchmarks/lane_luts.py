"""Where a vector lane's LUTs go: every LUT (and INV, carry cell, MUXF) of a Yosys xcup
netlist attributed to the pipeline registers its output reaches before the next
register (the register's stage and field, ``vu_core_<stage>_<field>``: the logic that
computes that register's next value), and every SRL and flip-flop to the register it
implements; from a netlist kept by ``bench_timing.py --designs lane --netlists DIR``:

    python benchmarks/lane_luts.py DIR/lane [--fields N]

A cell whose output reaches registers of several fields is shared evenly between them
(fractions, rounded in the table).  Registers the lane's Verilog leaves unnamed (the
descriptors and a few partly used words, ``vector._stage``'s hidden keys, ``tmpN``) are
named by elaborating the lane again as bench_timing.py does (the same ``tmpN``; the
script checks that the Verilog is the kept one) and recording each hidden register's
stage and field; what is still unnamed falls under ``unnamed``.  Prints
markdown: the lane's parts (groups of stages, ``PARTS``), then the N largest fields.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

from fixar_gen.hw.netlist_names import net_names, verilog_aliases
from fixar_gen.hw.timing import top_module
from fixar_gen.hw.vector import ITER_STAGES, PIPELINE_STAGES

TOP = "fixar_lane"
PREFIX = "vu_core_"

#: the lane's parts, each a run of pipeline stages (vector.PIPELINE_STAGES)
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("inputs registered", ("in",)),
    ("squarers, PRNG draws and Gaussian, 1 - y^2, 2^f(c) - c0",
     ("sq", "sqp", "sqsum", "pre")),
    ("multipliers' operand multiplexers (by op)", ("mulop",)),
    ("multipliers ma, mb: digit products and their sums", ("mul", "mulp", "macc1", "macc2")),
    ("first rounder: terms and target by op", ("sel1",)),
    ("first rounder: shift amounts", ("amt1",)),
    ("first rounder: alignment shifters", ("align1",)),
    ("first rounder: three-term sum / clip", ("sum1",)),
    ("first rounder: rounding shift, sticky, fit masks", ("rnda1",)),
    ("first rounder: rounding increment", ("rnd1",)),
    ("first rounder: fit (saturate / wrap)", ("round1",)),
    ("prep: range, clamps, radicand, numerator, denominator", ("prep",)),
    ("square root and divider (iter stages) and tanh's index",
     tuple(f"iter{k}" for k in range(1, ITER_STAGES + 1))),
    ("third multiplier and tanh interpolation",
     ("mul2", "mul2pp", "mul2p", "mul2acc1", "mul2acc2")),
    ("second rounder (sel2 .. fit2)", ("sel2", "amt2", "align2", "sum2", "rnda2", "rnd2",
                                       "fit2")),
    ("output registers", ("out",)),
)

LOGIC = re.compile(r"LUT[1-6]|INV|MUXF[789]")
CARRY = re.compile(r"CARRY[48]")
FLOP = re.compile(r"FD[CPRS]E?")
SRL = re.compile(r"SRL16E|SRLC32E")
ENDPOINT = re.compile(r"FD[CPRS]E?|SRL16E|SRLC32E|DSP48E2|RAMB\w+|URAM\w+")


HIDDEN: dict[str, str] = {}
"""``tmpN`` of a hidden stage register -> its ``stage_field`` (:func:`hidden_names`)"""


def hidden_names(verilog: str) -> dict[str, str]:
    """Elaborate the lane as bench_timing.py does, recording the name of every
    register ``vector._stage`` leaves unnamed; refuse if the Verilog differs from
    ``verilog`` (the kept netlist's source)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_timing
    from fixar_gen.hw import vector
    found: dict[str, str] = {}
    original = vector._stage

    def recording(scope, stage, values, hidden=()):
        out = original(scope, stage, values, hidden)
        for key, reg in out.items():
            if key in hidden or key.startswith("fmt_"):
                found[reg.name] = f"{stage}_{key}"
        return out

    vector._stage = recording
    try:
        _, again = bench_timing.elaborate("lane")
    finally:
        vector._stage = original
    if again != verilog:
        raise SystemExit("lane_luts: the kept fixar_lane.v is not the lane as elaborated "
                         "now (run bench_timing.py --designs lane --netlists DIR again)")
    return found


DECL = re.compile(r"\s*(?:reg|wire|input|output)\s*(?:\[(\d+):0\])?\s*(\w+);")
CONCAT = re.compile(r"\s*assign (tmp\d+) = \{(.*)\};")
PART = re.compile(r"\(?(\w+)(?:\[(\d+)(?::(\d+))?\])?\)?|(\d+)'d\d+")


def concat_bits(verilog: list[str]) -> dict[str, list[str | None]]:
    """Per PyRTL temporary assigned a concatenation (``assign tmp7 = {name, (tmp3[63])};``)
    the name of each of its bits, low first (``name[i]``, or None for a constant): Yosys
    keeps the temporary's name where it drops the register's own."""
    widths = {m[2]: int(m[1] or 0) + 1 for m in map(DECL.match, verilog) if m}
    out: dict[str, list[str | None]] = {}
    for line in verilog:
        m = CONCAT.match(line)
        if not m:
            continue
        bits: list[str | None] = []
        for part in reversed([p.strip() for p in m[2].split(",")]):
            q = PART.fullmatch(part)
            if not q:                 # an expression: the bits below it are still named
                break
            if q[4]:
                bits += [None] * int(q[4])
                continue
            hi = int(q[2]) if q[2] is not None else widths.get(q[1], 1) - 1
            lo = int(q[3]) if q[3] is not None else (hi if q[2] is not None else 0)
            bits += [f"{q[1]}[{i}]" for i in range(lo, hi + 1)]
        if bits:
            out[m[1]] = bits
    return out


CONCATS: dict[str, list[str | None]] = {}


def field_of(name: str | None) -> str:
    """``stage_field`` of a register bit's net name, or "unnamed"."""
    if not name:
        return "unnamed"
    for _ in range(4):                    # a temporary's bit -> the wire it concatenates
        m = re.fullmatch(r"(tmp\d+)(?:\[(\d+)\])?", name)
        if not m or m[1] not in CONCATS or int(m[2] or 0) >= len(CONCATS[m[1]]):
            break
        name = CONCATS[m[1]][int(m[2] or 0)] or name
    name = re.sub(r"\[\d+\]$", "", name)
    if name in HIDDEN:
        return HIDDEN[name]
    if not name.startswith(PREFIX):
        return "unnamed"
    return name[len(PREFIX):]


def stage_of(field: str) -> str:
    for stage in sorted(PIPELINE_STAGES, key=len, reverse=True):
        if field.startswith(stage + "_"):
            return stage
    return "unnamed"


def attribute(module: dict, verilog: list[str], field=None) -> tuple[dict, dict, dict]:
    """(LUT-like cells, carry cells, register cells {"FF", "SRL"}) per field: ``field``
    (default :func:`field_of`) names a register's group from its output's net name."""
    field = field_of if field is None else field
    names = net_names(module, verilog_aliases(verilog))
    cells = module["cells"]
    driver: dict[int, str] = {}
    loads: dict[int, list[tuple[str, str]]] = collections.defaultdict(list)
    for cname, cell in cells.items():
        for pin, bits in cell["connections"].items():
            direction = cell["port_directions"].get(pin)
            for b in bits:
                if not isinstance(b, int):
                    continue
                if direction == "output":
                    driver[b] = cname
                elif direction == "input":
                    loads[b].append((cname, pin))

    def register_field(cell: dict) -> str:
        for pin in ("Q", "Q31", "P", "DOUTADOUT", "DOUTBDOUT"):
            for b in cell["connections"].get(pin, []):
                if isinstance(b, int):
                    return field(names.get(b))
        return "unnamed"

    # the fields each combinational cell reaches, in reverse topological order
    reach: dict[str, frozenset] = {}
    comb = {c for c, cell in cells.items()
            if LOGIC.fullmatch(cell["type"]) or CARRY.fullmatch(cell["type"])}

    def reached(cname: str) -> frozenset:
        stack = [(cname, False)]
        while stack:
            name, expanded = stack.pop()
            if name in reach:
                continue
            outs = [b for pin, bits in cells[name]["connections"].items()
                    if cells[name]["port_directions"].get(pin) == "output"
                    for b in bits if isinstance(b, int)]
            nexts = [load for b in outs for load, _ in loads.get(b, [])]
            pending = [n for n in nexts if n in comb and n not in reach]
            if pending and not expanded:
                stack.append((name, True))
                stack.extend((n, False) for n in pending)
                continue
            found: set[str] = set()
            for n in nexts:
                if n in comb:
                    found |= reach.get(n, frozenset())
                elif ENDPOINT.fullmatch(cells[n]["type"]):
                    found.add(register_field(cells[n]))
            if any(b in port_bits for b in outs):
                found.add("outputs")
            reach[name] = frozenset(found) or frozenset({"unloaded"})
        return reach[cname]

    port_bits = {b for p in module.get("ports", {}).values() if p["direction"] == "output"
                 for b in p["bits"] if isinstance(b, int)}
    luts: dict[str, float] = collections.Counter()
    carries: dict[str, float] = collections.Counter()
    regs: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for cname, cell in cells.items():
        kind = cell["type"]
        if cname in comb:
            fields = reached(cname)
            target = luts if LOGIC.fullmatch(kind) else carries
            for f in fields:
                target[f] += 1 / len(fields)
        elif FLOP.fullmatch(kind):
            regs[register_field(cell)]["FF"] += 1
        elif SRL.fullmatch(kind):
            regs[register_field(cell)]["SRL"] += 1
    return luts, carries, regs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="DIR/lane of bench_timing.py --netlists DIR")
    parser.add_argument("--fields", type=int, default=25)
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not (folder / "netlist.json").is_file() or not (folder / f"{TOP}.v").is_file():
        print(f"lane_luts: {folder} has no netlist.json and {TOP}.v (keep them with "
              "bench_timing.py --designs lane --netlists DIR)", file=sys.stderr)
        return 2
    _, module = top_module(json.loads((folder / "netlist.json").read_text()), TOP)
    verilog = (folder / f"{TOP}.v").read_text()
    HIDDEN.update(hidden_names(verilog))
    CONCATS.update(concat_bits(verilog.splitlines()))
    luts, carries, regs = attribute(module, verilog.splitlines())
    srl = {f: c["SRL"] for f, c in regs.items()}
    ff = {f: c["FF"] for f, c in regs.items()}
    total = sum(luts.values()) + sum(srl.values())
    print(f"LUT-like cells (LUT1-6, INV, MUXF) {sum(luts.values()):,.0f}, SRL "
          f"{sum(srl.values()):,}, carry cells {sum(carries.values()):,.0f}, flip-flops "
          f"{sum(ff.values()):,}\n")
    print("| part | stages | LUT | SRL | LUT + SRL | share | CARRY4 | FF |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    stage_part = {s: part for part, stages in PARTS for s in stages}
    sums: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for table, key in ((luts, "lut"), (srl, "srl"), (carries, "carry"), (ff, "ff")):
        for f, n in table.items():
            sums[stage_part.get(stage_of(f), f if f in ("outputs", "unloaded")
                                else "unnamed registers")][key] += n
    order = [p for p, _ in PARTS] + ["unnamed registers", "outputs", "unloaded"]
    stages = dict(PARTS)
    for part in order:
        s = sums.get(part)
        if not s:
            continue
        runs = stages.get(part, ())
        label = (f"{runs[0]} .. {runs[-1]}" if len(runs) > 2 else ", ".join(runs)) or "-"
        print(f"| {part} | {label} | {s['lut']:,.0f} | {s['srl']:,.0f} | "
              f"{s['lut'] + s['srl']:,.0f} | {100 * (s['lut'] + s['srl']) / total:.1f}% | "
              f"{s['carry']:,.0f} | {s['ff']:,.0f} |")
    print(f"\nThe {args.fields} fields with the most LUTs over all their stages (the "
          "divider's remainder ``drem`` over ``iter1`` .. ``iter32``, the rounders' by "
          "their number):\n")
    print("| field | LUT | CARRY4 | SRL | FF |")
    print("|---|---:|---:|---:|---:|")
    over: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for table, key in ((luts, "lut"), (carries, "carry"), (srl, "srl"), (ff, "ff")):
        for f, n in table.items():
            stage = stage_of(f)
            name = f[len(stage) + 1:] if stage != "unnamed" else f
            if stage[-1:] in "12" and not stage.startswith(("iter", "macc", "mul2acc")):
                name = f"{name} ({stage[-1]})"
            over[name][key] += n
    for name, c in sorted(over.items(), key=lambda kv: -kv[1]["lut"])[:args.fields]:
        print(f"| `{name}` | {c['lut']:,.0f} | {c['carry']:,.0f} | {c['srl']:,.0f} | "
              f"{c['ff']:,.0f} |")
    print(f"\nThe {args.fields} registers with the most LUTs (the logic into that register):\n")
    print("| register (stage_field) | LUT | CARRY4 | SRL | FF |")
    print("|---|---:|---:|---:|---:|")
    for f, n in sorted(luts.items(), key=lambda kv: -kv[1])[:args.fields]:
        print(f"| `{f}` | {n:,.0f} | {carries.get(f, 0):,.0f} | {srl.get(f, 0):,} | "
              f"{ff.get(f, 0):,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
