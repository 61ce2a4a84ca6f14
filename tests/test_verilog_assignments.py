"""benchmarks/verilog_assignments.py: assignments given to the units whose registers
they feed, on a hand-made netlist (catches: a cone not followed past one assignment,
a shared assignment counted twice, widths over 64 bits miscounted)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from verilog_assignments import attribute  # noqa: E402

NETLIST = """
module m(clk, x);
    input clk;
    input[7:0] x;
    reg[99:0] core0_lane3_vu_iter7_a = 100'd0;
    reg[7:0] core0_mm_array_pe_r0_c1_psum_lo = 8'd0;
    reg[7:0] mem_wmem[15:0];  // MemBlock
    wire[99:0] tmp0;
    wire[99:0] tmp1;
    wire[7:0] tmp2;
    wire[7:0] tmp3;
    wire tmp4;
    assign tmp3 = x + 8'd1;
    assign tmp0 = {92'd0, tmp3};
    assign tmp1 = tmp0 << 3;
    assign tmp2 = tmp3 ^ x;
    assign tmp4 = x[0];
    always @(posedge clk) begin
        core0_lane3_vu_iter7_a <= tmp1;
        core0_mm_array_pe_r0_c1_psum_lo <= tmp2;
    end
    always @(posedge clk) begin
        if (tmp4) begin
            mem_wmem[x[3:0]] <= x;
        end
    end
endmodule
"""


def test_cones_and_widths():
    n, n_wide, unowned, total, wide = attribute(NETLIST)
    assert (n, n_wide, unowned) == (5, 2, 0)
    # tmp3 feeds the lane (through tmp0, tmp1) and the PE (through tmp2): half each
    assert total["vector lanes"] == pytest.approx(2.5)
    assert total["array PEs"] == pytest.approx(1.5)
    assert total["memories"] == pytest.approx(1.0)          # the write enable tmp4
    assert wide["vector lanes"] == pytest.approx(2.0)
    assert sum(total.values()) == pytest.approx(n)
    _, _, _, by_lane, _ = attribute(NETLIST, lanes=True)
    assert by_lane["lane vu_iter"] == pytest.approx(2.5)
