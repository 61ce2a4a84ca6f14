"""What a vector lane's pipeline registers carry, and what the lane costs a simulator:
the register bits of each stage by field (``vector._stage``'s keys; the rounders'
stages included), the bits with and without a synchronous reset, the PyRTL net count
and the size of the lane's Verilog, for examples/fixar_u50.yaml's lane (or a spec given):

    python benchmarks/lane_registers.py [SPEC] [--fields N]

Prints markdown.  ``--fields N``: the N widest fields per stage (default 6).
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import ROOT  # noqa: E402

import pyrtl  # noqa: E402

from fixar_gen import load_spec  # noqa: E402
from fixar_gen.hw import vector  # noqa: E402
from fixar_gen.hw.build import reset_less_names  # noqa: E402
from fixar_gen.hw.design import config_for  # noqa: E402
from fixar_gen.hw.verilate import emit_verilog  # noqa: E402


def elaborate(spec_path: Path):
    """The lane's block and, per stage, the register bits of each field."""
    cfg = config_for(load_spec(spec_path))
    ledger: list[tuple[str, str, int]] = []
    original = vector._stage

    def recording(scope, stage, values, hidden=()):
        out = original(scope, stage, values, hidden)
        ledger.extend((stage, key, reg.bitwidth) for key, reg in out.items())
        return out

    vector._stage = recording
    try:
        pyrtl.wire._reset_wire_indexers()    # private: tmpN numbering from 0 (stable text)
        block, _ = vector.build_vector_unit(cfg.word, cfg.acc_overflow, limits=cfg.lane)
    finally:
        vector._stage = original
    return cfg, block, ledger


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=str(ROOT / "examples/fixar_u50.yaml"))
    parser.add_argument("--fields", type=int, default=6)
    args = parser.parse_args(argv)
    cfg, block, ledger = elaborate(Path(args.spec))
    stages: dict[str, collections.Counter] = {}
    for stage, key, bits in ledger:
        stages.setdefault(stage, collections.Counter())[key] += bits
    registers = block.wirevector_subset(pyrtl.Register)
    free = reset_less_names(block)
    total = sum(r.bitwidth for r in registers)
    free_bits = sum(r.bitwidth for r in registers if r.name in free)
    verilog = emit_verilog(block, "fixar_lane", initialize_registers=False)
    print(f"lane of {args.spec}: word {cfg.word}, LANE_DEPTH {vector.LANE_DEPTH}, "
          f"{len(stages)} stages")
    print(f"- register bits: {total:,} ({free_bits:,} without reset, "
          f"{total - free_bits:,} with); registers: {len(registers):,}")
    print(f"- PyRTL nets (block.logic): {len(block.logic):,}; Verilog: "
          f"{len(verilog.encode()):,} bytes, {verilog.count(chr(10)):,} lines")
    print()
    print("| stage | bits | widest fields (bits) |")
    print("|---|---:|---|")
    for stage, fields in stages.items():
        widest = ", ".join(f"{k} {b}" for k, b in fields.most_common(args.fields))
        print(f"| {stage} | {sum(fields.values()):,} | {widest} |")
    by_field: collections.Counter = collections.Counter()
    for _, key, bits in ledger:
        by_field[key] += bits
    print()
    print("Bits over all stages, by field (the widest 20): " + ", ".join(
        f"{k} {b:,}" for k, b in by_field.most_common(20)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
