"""A cocotb test of a tiny counter (``cache_probe``), run by
tests/u50/test_kernel_build.py to show that a cached simulation runs (not collected by
pytest itself)."""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge


@cocotb.test()
async def counter_counts(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 5)
    await RisingEdge(dut.clk)
    assert int(dut.count.value) in (5, 6), int(dut.count.value)
