"""benchmarks/core_luts.py: LUTs given to the register groups they feed, and the change
between two builds, on hand-made netlists."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import core_luts  # noqa: E402


def _cell(kind: str, inputs: dict, outputs: dict) -> dict:
    return {"type": kind, "connections": {**inputs, **outputs},
            "port_directions": {**{p: "input" for p in inputs},
                                **{p: "output" for p in outputs}}}


def _netlist(extra_luts: int) -> dict:
    """LUT a feeds word 0 and word 1 of ``mem_p0_word#_bank`` (one group) and the
    register ``ctl``; ``extra_luts`` LUTs more in front of ``ctl``."""
    cells = {
        "a": _cell("LUT1", {"I0": [2]}, {"O": [3]}),
        "f0": _cell("FDRE", {"D": [3], "C": [1]}, {"Q": [10]}),
        "f1": _cell("FDRE", {"D": [3], "C": [1]}, {"Q": [11]}),
        "f2": _cell("FDRE", {"D": [3], "C": [1]}, {"Q": [12]}),
    }
    net = 3
    for k in range(extra_luts):          # a chain 3 -> 20 -> 21 ... into ctl's D
        cells[f"x{k}"] = _cell("LUT1", {"I0": [net]}, {"O": [20 + k]})
        net = 20 + k
    cells["f3"] = _cell("FDRE", {"D": [net], "C": [1]}, {"Q": [13]})
    return {"top": {"ports": {"x": {"direction": "input", "bits": [2]}},
                    "netnames": {"mem_p0_word0_bank": {"bits": [10]},
                                 "mem_p0_word1_bank": {"bits": [11]},
                                 "ctl": {"bits": [12, 13]}},
                    "cells": cells}}


def _folder(path: Path, extra_luts: int) -> Path:
    path.mkdir()
    (path / "netlist.json").write_text(json.dumps({"modules": _netlist(extra_luts)}))
    (path / "top.v").write_text("module top(x);\nendmodule\n")
    return path


def test_groups_fold_indices_and_a_shared_lut_is_split_evenly(tmp_path):
    # catches: a group keeping its digits (word0 and word1 apart), a shared LUT counted
    # whole in each group, the chain's LUTs given to the wrong register
    luts = core_luts.luts_by_group(_folder(tmp_path / "a", 2))
    assert set(luts) == {"mem_p#_word#_bank", "ctl"}
    assert luts["mem_p#_word#_bank"] == pytest.approx(0.5)
    assert luts["ctl"] == pytest.approx(2.5)
    assert core_luts.group_of("core0_mm_act_line[17]") == "core#_mm_act_line"
    assert core_luts.group_of(None) == "unnamed"


def test_two_folders_print_the_change_per_group(tmp_path, capsys):
    # catches: the change taken first minus second, or the groups not ordered by it
    assert core_luts.main([str(_folder(tmp_path / "a", 0)), str(_folder(tmp_path / "b", 3)),
                           "--groups", "1"]) == 0
    out = capsys.readouterr().out
    assert "LUT-like cells 1 -> 4" in out
    assert "| `ctl` | 0 | 4 | +3 |" in out       # 0.5 -> 3.5: half of a, then the chain
    assert "word#" not in out                 # only the group that changed most
