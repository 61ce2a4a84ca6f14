"""The banked memories' line ports of one core, measured: each banked data memory of a
spec's core (its banks, word width, depth, double line, strided read and read-line words
as ``core._data_memories`` configures them; one line port, a per-core copy's) built
alone as an :class:`~fixar_gen.hw.banked.InterleavedBanks` with its ports as inputs and
outputs, through Yosys ``synth_xilinx -family xcup`` (the calibration's harness: every
bank's write word an input), next to the inventory's modeled LUTs
(``inventory.bank_port_luts``):

    python benchmarks/line_ports.py [SPEC] [--memories amem,cmem] [--work DIR]

Prints one markdown row per memory: banks x width x words a bank, Yosys LUT and FF, the
modeled LUT and Yosys's time.  SPEC defaults to examples/fixar_u50.yaml with per-core
memories (one line port a bank).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyrtl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import ROOT  # noqa: E402

from fixar_gen import load_spec  # noqa: E402
from fixar_gen.hw.banked import InterleavedBanks, interleaved_bank_shape  # noqa: E402
from fixar_gen.hw.build import Scope, fresh_block  # noqa: E402
from fixar_gen.hw.design import config_for  # noqa: E402
from fixar_gen.hw.inventory import bank_port_luts  # noqa: E402
from fixar_gen.hw.synth import block_verilog, cell_counts, summarize  # noqa: E402
from fixar_gen.memory_kinds import MEMORIES  # noqa: E402


def port_options(cfg, name: str) -> dict:
    """The :class:`InterleavedBanks` options of memory ``name`` on ``cfg``'s core."""
    return cfg.bank_options(name)


def port_design(options: dict) -> pyrtl.Block:
    """The banks alone, one line port, every input and output a port of the module."""
    with fresh_block() as block:
        mem = InterleavedBanks(Scope("m"), ports=1, **options)
        a = options["addr_bits"]
        wires = [("raddr", mem.read_address[0]), ("waddr", mem.write_address[0])]
        if mem.halves:
            wires += [("raddr2", mem.read_address2[0]), ("waddr2", mem.write_address2[0])]
        for name, wire in wires:
            wire <<= pyrtl.Input(a, f"in_{name}")
        for j in range(mem.banks):
            mem.write_words[0][j] <<= pyrtl.Input(mem.width, f"in_w{j}")
            mem.write_enables[0][j] <<= pyrtl.Input(1, f"in_we{j}")
        for j, word in enumerate(mem.read_words[0]):
            out = pyrtl.Output(mem.width, f"out{j}")
            out <<= word
        if mem.strided:
            mem.read_strided[0] <<= pyrtl.Input(1, "in_strided")
            for k in range(mem.strided):
                mem.read_elements[0][k] <<= pyrtl.Input(a, f"in_e{k}")
    return block


def measure(name: str, options: dict, folder: Path) -> dict:
    start = time.time()
    cells = cell_counts(block_verilog(port_design(options), "line_port"), "line_port",
                        folder / name)
    got = summarize(cells)
    return {"LUT": got["LUT"], "FF": got["FF"], "seconds": time.time() - start,
            "modeled": bank_port_luts(options["banks"], options["width"], 1,
                                      options["strided"])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec", nargs="?", default=str(ROOT / "examples" / "fixar_u50.yaml"))
    ap.add_argument("--memories", default=None,
                    help="comma-separated banked memories (default: all)")
    ap.add_argument("--work", default=None, help="keep Yosys's files here")
    args = ap.parse_args(argv)
    cfg = config_for(load_spec(args.spec), per_core_memories=True)
    names = [m for m in MEMORIES if cfg.memory_banks(m)]
    if args.memories:
        names = [m for m in args.memories.split(",") if m in names]
    folder = Path(args.work or tempfile.mkdtemp(prefix="line_ports_"))
    print("| memory | banks x bits x words a bank | strided / line words | Yosys LUT | "
          "FF | modeled LUT | Yosys time |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name in names:
        o = port_options(cfg, name)
        words = "+".join(f"{1 << b:,}" for b in interleaved_bank_shape(
            o["banks"], o["addr_bits"], o["tail_bits"]))
        got = measure(name, o, folder)
        extra = (f"{o['strided']} / {o['line_words'] or o['banks']}"
                 + (", double line" if o["halves"] else ""))
        print(f"| {name} | {o['banks']} x {o['width']} x {words} | {extra} | "
              f"{got['LUT']:,} | {got['FF']:,} | {got['modeled']:,} | "
              f"{got['seconds']:.0f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
