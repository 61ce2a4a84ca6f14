"""benchmarks/lane_luts.py: LUTs given to the registers they feed, on a hand-made netlist."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import lane_luts  # noqa: E402


def _cell(kind: str, inputs: dict, outputs: dict) -> dict:
    return {"type": kind, "connections": {**inputs, **outputs},
            "port_directions": {**{p: "input" for p in inputs},
                                **{p: "output" for p in outputs}}}


def test_a_lut_feeding_two_fields_is_shared_and_a_chain_goes_to_its_register():
    # net 2 -> LUT a -> net 3 -> LUT b -> net 4 -> FF sum1_sum; net 3 also -> FF sel1_v0
    module = {
        "ports": {"x": {"direction": "input", "bits": [2]}},
        "netnames": {"vu_core_sel1_v0": {"bits": [5]}, "vu_core_sum1_sum": {"bits": [6]},
                     "vu_core_sum1_tmp": {"bits": [7]}},
        "cells": {
            "a": _cell("LUT1", {"I0": [2]}, {"O": [3]}),
            "b": _cell("LUT2", {"I0": [3], "I1": [2]}, {"O": [4]}),
            "c": _cell("LUT1", {"I0": [2]}, {"O": [7]}),              # loads nothing
            "f1": _cell("FDRE", {"D": [3], "C": [1]}, {"Q": [5]}),
            "f2": _cell("FDRE", {"D": [4], "C": [1]}, {"Q": [6]}),
            "s": _cell("SRL16E", {"D": [6], "CLK": [1]}, {"Q": [8]}),
        },
    }
    luts, carries, regs = lane_luts.attribute(module, [])
    assert luts["sum1_sum"] == pytest.approx(1.5)       # b, and half of a
    assert luts["sel1_v0"] == pytest.approx(0.5)
    assert luts["unloaded"] == 1
    assert regs["sel1_v0"]["FF"] == 1 and regs["sum1_sum"]["FF"] == 1
    assert regs["unnamed"]["SRL"] == 1
    assert lane_luts.stage_of("sum1_sum") == "sum1"
    assert lane_luts.stage_of("iter12_drem") == "iter12"


def test_a_temporary_that_concatenates_a_register_names_it():
    verilog = ["    reg[3:0] vu_core_iter1_drem;",
               "    assign tmp9 = {vu_core_iter1_drem, (tmp3[63])};"]
    lane_luts.CONCATS.update(lane_luts.concat_bits(verilog))
    assert lane_luts.field_of("tmp9[0]") == "unnamed"          # tmp3's bit: not a register
    assert lane_luts.field_of("tmp9[2]") == "iter1_drem"


def test_a_concatenation_names_its_bits_below_an_expression():
    """The rounders' floor under two bits, one an expression: the floor's bits keep its
    name (they were all 'unnamed' when one part did not parse), the rest are unknown."""
    verilog = ["    reg[3:0] vu_core_rnda2_floor;",
               "    reg vu_core_rnda2_negative;",
               "    assign tmp11 = {vu_core_rnda2_negative, (vu_core_rnda2_negative ? "
               "(4'd0 == ~(x)) : y), vu_core_rnda2_floor};"]
    lane_luts.CONCATS.update(lane_luts.concat_bits(verilog))
    assert [lane_luts.field_of(f"tmp11[{i}]") for i in range(4)] == ["rnda2_floor"] * 4
    assert lane_luts.field_of("tmp11[4]") == lane_luts.field_of("tmp11[5]") == "unnamed"


def test_a_folder_without_a_netlist_is_one_line_and_exit_2(tmp_path, capsys):
    assert lane_luts.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no netlist.json" in err
