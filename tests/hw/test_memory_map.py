"""A one-core design at its real memory sizes through Yosys's memory mapping
(``fixar generate SPEC --synth-memories``: ``synth_xilinx -family xcup -uram`` up to
``map_memory``, :mod:`fixar_gen.hw.memory_map`): every memory above 2 Kbit becomes block
RAM (RAMB36E2 / RAMB18E2 / URAM288), none falls back to flip-flops or LUT RAM but the
named exceptions, and the inventory predicts what Yosys makes of each.

The slow test catches a memory falling back to flip-flops: the same spec with
``cores: 2`` (every bank gets a second core's line read and write port, beyond one
primitive's two) fails it on all twelve banked memories, Yosys's "using FF mapping"
(``python -m tests.hw.test_memory_map SPEC DIR`` runs the same check on any spec and
prints what fails: 3 min 13 s on 2026-12-05); the fast tests below feed the same
check a mapping with one bank in flip-flops and one in LUT RAM and see both refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from fixar_gen.cli import main
from fixar_gen.hw.inventory import BLOCK_RAM, FLIP_FLOPS, LUT_RAM
from fixar_gen.hw.memory_map import memory_mappings, primitive_owners, primitives_of_netlist

#: a memory of more bits than this belongs in block RAM
BLOCK_RAM_ABOVE_BITS = 2 * 1024

#: the memories above 2 Kbit that stay out of block RAM, and why (docs/hardware.md,
#: "The core at its real memory sizes, through Yosys"): the saturation counters per
#: buffer id (32 bits x 2^buffer_bits, 8 Kbit on this spec) have two write ports (the
#: element loop's destination and its e output count in the same cycle) and the host's
#: statistics port reads them combinationally: flip-flops; the accumulators' tail banks
#: (32 words x 82 bits, 2,624 bits a bank, 2 banks) are LUT RAM, which Yosys finds
#: cheaper than a RAMB18E2 for 64 words or fewer (the inventory's rule too)
EXCEPTIONS = {"sat": FLIP_FLOPS, "mem_cmem_bank_tail": LUT_RAM}

#: a one-core design of the pendulum example's networks and batch on a 1x1 array (one
#: vector lane: the least logic in front of the memories), at its real memory sizes
ONE_CORE_SPEC = """\
name: pendulum_one_core
base: default
networks:
  actor:  {hidden: [64, 64], activation: relu, output: tanh}
  critic: {hidden: [64, 64], activation: relu}
algorithm: {name: ddpg, batch_size: 64}
hardware: {cores: 1, array: [1, 1]}
"""


def block_ram_violations(mapping: dict, exceptions: dict[str, str]) -> list[str]:
    """The memories of report.json's ``memory_mapping`` above 2 Kbit that Yosys did not
    put in block RAM (but the ``exceptions``, which must map as stated), and every one
    whose Yosys mapping differs from the inventory's."""
    bad = []
    for m in mapping["memories"]:
        if m["name"] in exceptions:
            if m["yosys"] != exceptions[m["name"]]:
                bad.append(f"{m['name']}: {m['yosys']}, expected {exceptions[m['name']]}")
        elif m["bits"] > BLOCK_RAM_ABOVE_BITS and m["yosys"] != BLOCK_RAM:
            bad.append(f"{m['name']} ({m['bits']:,} bits): {m['yosys']} {m['yosys_libmap']}")
        if not m["agrees"]:
            bad.append(f"{m['name']}: yosys {m['yosys']}, the inventory {m['inventory']}")
    return bad


def mapping_row(name, bits, yosys, inventory=BLOCK_RAM):
    return {"name": name, "bits": bits, "yosys": yosys, "inventory": inventory,
            "yosys_libmap": [], "agrees": yosys == inventory}


def test_the_check_refuses_a_bank_in_flip_flops_or_lut_ram():
    good = {"memories": [mapping_row("mem_amem_bank", 1 << 19, BLOCK_RAM),
                         mapping_row("mem_smem", 1_568, FLIP_FLOPS, FLIP_FLOPS),
                         mapping_row("sat", 8_192, FLIP_FLOPS, FLIP_FLOPS)]}
    assert block_ram_violations(good, EXCEPTIONS) == []
    for fallback in (FLIP_FLOPS, LUT_RAM):
        bad = {"memories": [mapping_row("mem_amem_bank", 1 << 19, fallback)]}
        assert any("mem_amem_bank (524,288 bits)" in b
                   for b in block_ram_violations(bad, EXCEPTIONS)), fallback
    # an exception that changes, and an inventory that predicts wrong, are said too
    moved = {"memories": [mapping_row("sat", 8_192, BLOCK_RAM, FLIP_FLOPS)]}
    assert len(block_ram_violations(moved, EXCEPTIONS)) == 2


def test_the_log_and_the_cell_lists_are_read():
    log = ("mapping memory fixar_core.mem_amem_bank0 via $__XILINX_BLOCKRAM_SDP_\n"
           "mapping memory fixar_core.core0_imem via $__XILINX_URAM_\n"
           "using FF mapping for memory fixar_core.core0_sat\n")
    assert memory_mappings(log) == {"mem_amem_bank0": "$__XILINX_BLOCKRAM_SDP_",
                                    "core0_imem": "$__XILINX_URAM_", "core0_sat": "FF"}
    listing = ("fixar_core/mem_amem_bank0.0.0\nfixar_core/mem_amem_bank0.1.0\n"
               "fixar_core/core0_imem.0.0\n")
    assert primitive_owners(listing) == {"mem_amem_bank0": 2, "core0_imem": 1}


def test_a_whole_netlist_gives_each_memory_its_primitives(tmp_path):
    """`fixar generate --synth` reads the same from its write_json netlist."""
    netlist = tmp_path / "netlist.json"
    netlist.write_text(json.dumps({"modules": {"top": {"cells": {
        "mem_desc.0.0": {"type": "RAMB18E2"}, "mem_desc.1.0": {"type": "RAMB18E2"},
        "core0_imem.0.0": {"type": "RAMB36E2"}, "$abc$1": {"type": "LUT6"}}}}}))
    assert primitives_of_netlist(netlist, "top") == {"mem_desc": {"RAMB18E2": 2},
                                                     "core0_imem": {"RAMB36E2": 1}}


def map_spec(spec: Path, out: Path) -> dict:
    assert main(["generate", str(spec), "-o", str(out), "--synth-memories"]) == 0
    return json.loads((out / "report.json").read_text())["memory_mapping"]


@pytest.mark.slow
@pytest.mark.tools
def test_every_memory_of_a_one_core_design_above_2_kbit_is_block_ram(tmp_path, yosys_tool):
    spec = tmp_path / "one_core.yaml"
    spec.write_text(ONE_CORE_SPEC)
    mapping = map_spec(spec, tmp_path / "g")
    assert block_ram_violations(mapping, EXCEPTIONS) == []
    # Yosys's block RAM is the inventory's, memory by memory
    for m in mapping["memories"]:
        if m["yosys"] == BLOCK_RAM:
            assert m["yosys_primitives"], m["name"]
    assert mapping["bram36"] + mapping["uram"] > 0


if __name__ == "__main__":
    mapping = map_spec(Path(sys.argv[1]), Path(sys.argv[2]))
    print("\n".join(block_ram_violations(mapping, EXCEPTIONS)) or "every memory as stated")
