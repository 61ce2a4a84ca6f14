"""Which registers Yosys packs into a DSP, on the smallest multiplies: one signed
multiply and two registers after it (its MREG and PREG), written as plain Verilog at
several widths (and with its operands registered too) and as PyRTL writes the PE's
products, through ``synth_xilinx -family xc7`` (DSP48E1) and ``-family xcup``
(DSP48E2, the U50's); per case the DSP cells with their register parameters, the
flip-flops left in the fabric and, on xcup, ``dsp_registers``' reading (MREG / PREG set
or as the flip-flop stages right after the DSP):

    python benchmarks/dsp_packing.py

Prints markdown (about 10 Yosys runs of a few seconds each).  docs/hardware.md, "What
Yosys makes of the multiplies", has the table and the Yosys source lines behind it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from fixar_gen.hw.dsp_registers import dsp_registers
from fixar_gen.hw.synth import NETLIST, cell_counts
from fixar_gen.hw.timing import param, top_module

TOP = "mul_t"


def plain_verilog(a_bits: int, b_bits: int, operand_registers: bool = False) -> str:
    """``p`` = two registers after the signed product ``a * b``: no reset, no enable,
    each register right on its value (with ``operand_registers`` the operands
    registered first)."""
    p_bits = a_bits + b_bits
    a, b = ("ar", "br") if operand_registers else ("a", "b")
    operands = (f"  reg signed [{a_bits - 1}:0] ar;\n  reg signed [{b_bits - 1}:0] br;\n"
                if operand_registers else "")
    latch = "    ar <= a;\n    br <= b;\n" if operand_registers else ""
    return (f"module {TOP} (input clk, input signed [{a_bits - 1}:0] a,\n"
            f"              input signed [{b_bits - 1}:0] b,\n"
            f"              output reg signed [{p_bits - 1}:0] p);\n"
            f"{operands}  reg signed [{p_bits - 1}:0] m;\n"
            f"  always @(posedge clk) begin\n{latch}    m <= {a} * {b};\n    p <= m;\n"
            f"  end\nendmodule\n")


def pyrtl_verilog(a_bits: int = 17, b_bits: int = 17) -> str:
    """The same multiply as the PE writes it: ``pyrtl.signed_mult`` and
    ``pe.PRODUCT_STAGES`` registers (``build.delay``: PyRTL's synchronous reset)."""
    import pyrtl

    from fixar_gen.hw.build import delay, fresh_block
    from fixar_gen.hw.pe import PRODUCT_STAGES
    from fixar_gen.hw.synth import block_verilog
    with fresh_block() as block:
        a, b = pyrtl.Input(a_bits, "a"), pyrtl.Input(b_bits, "b")
        p = pyrtl.Output(a_bits + b_bits, "p")
        p <<= delay(pyrtl.signed_mult(a, b), PRODUCT_STAGES, "prod_s{k}")
    return block_verilog(block, TOP)


#: (case, Verilog) of the table
CASES = (
    ("17 x 17 (the PE's largest digit product), plain Verilog", lambda: plain_verilog(17, 17)),
    ("17 x 17 as PyRTL writes it (signed_mult, synchronous reset)", lambda: pyrtl_verilog()),
    ("17 x 17, its operands registered too", lambda: plain_verilog(17, 17, True)),
    ("27 x 18 (a whole DSP48E2 multiplier)", lambda: plain_verilog(27, 18)),
    ("24 x 17", lambda: plain_verilog(24, 17)),
)


def synthesize(verilog: str, folder: Path, family: str, tool=None, top: str = TOP
               ) -> tuple[dict, dict]:
    """(Yosys's cell counts by type, the netlist's module) of ``verilog``'s ``top``."""
    cells = cell_counts(verilog, top, folder, timeout=900, tool=tool, netlist=True,
                        family=family)
    return cells, top_module(json.loads((folder / NETLIST).read_text()), top)[1]


def describe(cells: dict, module: dict) -> str:
    """The DSPs with their register parameters, the flip-flops left in the fabric and,
    for DSP48E2, dsp_registers' reading."""
    dsps = [c for c in module["cells"].values() if c["type"].startswith("DSP48")]
    text = "; ".join(f"{c['type']} " + " ".join(f"{k}={param(c, k)}" for k in
                                                ("AREG", "BREG", "MREG", "PREG"))
                     for c in dsps)
    flops = sum(n for kind, n in cells.items() if kind.startswith("FD"))
    text += f"; {flops} flip-flops"
    regs = dsp_registers(module)
    if regs:
        text += "; as flip-flops right after: " + ", ".join(
            f"MREG {'yes' if r.fabric_mreg else 'no'}, PREG {'yes' if r.fabric_preg else 'no'}"
            for r in regs)
    return text


def main() -> int:
    print("| case | -family xc7 | -family xcup |\n|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="dsp_packing_") as work:
        for k, (case, verilog) in enumerate(CASES):
            source = verilog()
            row = [describe(*synthesize(source, Path(work) / f"{k}_{family}", family))
                   for family in ("xc7", "xcup")]
            print(f"| {case} | {row[0]} | {row[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
