"""A one-core design at its real memory sizes through Yosys's memory mapping
(``fixar generate SPEC --synth-memories``: ``synth_xilinx -family xcup -uram`` up to
``map_memory``, :mod:`fixar_gen.hw.memory_map`): every memory above 2 Kbit becomes block
RAM (RAMB36E2 / RAMB18E2 / URAM288), none falls back to flip-flops or LUT RAM, and the
inventory predicts what Yosys makes of each: its class and, memory by memory, its
primitives (:mod:`fixar_gen.hw.block_ram_choice`).

The slow test catches a memory falling back to flip-flops: the same spec with
``cores: 2`` (every bank gets a second core's line read and write port, beyond one
primitive's two) fails it on all twelve banked memories, Yosys's "using FF mapping",
and on ``mem_smem`` (64 x 49 bits with two cores' ports) (``python -m
tests.hw.test_memory_map SPEC DIR`` runs the same check on any spec and prints what
fails: 6 min 25 s of Yosys on 2026-12-05 at load 9, after the counters' change; the
counters stay block RAM there, a pair a core); the fast tests below feed the same
check a mapping with one bank in flip-flops and one in LUT RAM, and one whose
primitives differ from the inventory's, and see each refused.  The same spec on two
cores with ``per_core_memories: true`` (slow too) is block RAM copy by copy, as the
per-core inventory says."""

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

#: the memories above 2 Kbit that may stay out of block RAM (none: the saturation
#: counters are two memories of one write port each, read at registered addresses,
#: and a bank's tail above 2 Kbit is deepened into block RAM, docs/hardware.md)
EXCEPTIONS: dict[str, str] = {}

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
        elif m["yosys"] == BLOCK_RAM and m["yosys_primitives"] != m["inventory_primitives"]:
            bad.append(f"{m['name']}: yosys {m['yosys_primitives']}, the inventory "
                       f"{m['inventory_primitives']}")
    return bad


def mapping_row(name, bits, yosys, inventory=BLOCK_RAM, primitives=None, said=None):
    primitives = primitives or ({"URAM288": 4} if yosys == BLOCK_RAM else {})
    return {"name": name, "bits": bits, "yosys": yosys, "inventory": inventory,
            "yosys_libmap": [], "agrees": yosys == inventory,
            "yosys_primitives": primitives,
            "inventory_primitives": primitives if said is None else said}


def test_the_check_refuses_a_bank_in_flip_flops_or_lut_ram():
    good = {"memories": [mapping_row("mem_amem_bank", 1 << 19, BLOCK_RAM),
                         mapping_row("mem_smem", 1_568, FLIP_FLOPS, FLIP_FLOPS),
                         mapping_row("core0_sat_d", 8_192, BLOCK_RAM,
                                     primitives={"RAMB18E2": 1})]}
    assert block_ram_violations(good, EXCEPTIONS) == []
    for fallback in (FLIP_FLOPS, LUT_RAM):
        bad = {"memories": [mapping_row("mem_amem_bank", 1 << 19, fallback)]}
        assert any("mem_amem_bank (524,288 bits)" in b
                   for b in block_ram_violations(bad, EXCEPTIONS)), fallback
    # a stated exception that changes, and an inventory that predicts wrong, are said
    moved = {"memories": [mapping_row("sat", 8_192, BLOCK_RAM, FLIP_FLOPS)]}
    assert len(block_ram_violations(moved, {"sat": FLIP_FLOPS})) == 2
    # block RAM of other primitives than the inventory's (a RAMB18E2 pair counted as
    # one RAMB36E2, a URAM288 holding two 4K pieces counted as two)
    for said in ({"RAMB36E2": 1}, {"URAM288": 8}):
        wrong = {"memories": [mapping_row("mem_cmem_bank_tail", 10_496, BLOCK_RAM,
                                          primitives={"RAMB18E2": 2}, said=said)]}
        assert block_ram_violations(wrong, EXCEPTIONS) == [
            f"mem_cmem_bank_tail: yosys {{'RAMB18E2': 2}}, the inventory {said}"]


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
    # Yosys's block RAM is the inventory's, memory by memory (checked above), so the
    # totals are too
    for m in mapping["memories"]:
        if m["yosys"] == BLOCK_RAM:
            assert m["yosys_primitives"], m["name"]
    assert (mapping["bram36"], mapping["uram"]) == (mapping["inventory_bram36"],
                                                    mapping["inventory_uram"])
    assert mapping["bram36"] + mapping["uram"] > 0


#: the same networks on two cores of 1x1, each with its own copy of the memories (the
#: spec field ``hardware.per_core_memories``)
PER_CORE_SPEC = ONE_CORE_SPEC.replace("name: pendulum_one_core", "name: pendulum_per_core") \
    .replace("hardware: {cores: 1, array: [1, 1]}",
             "hardware: {cores: 2, array: [1, 1], per_core_memories: true}")

#: two cores' programs need 64 words of ``smem`` (64 x 49 bits, above 2 Kbit), which
#: keeps a read and a write port per word its units use: flip-flops in each copy, as in
#: the shared design (docs/hardware.md, "Per-core memories", step (5))
PER_CORE_EXCEPTIONS = {f"core{k}_mem_smem": FLIP_FLOPS for k in range(2)}


@pytest.mark.slow
@pytest.mark.tools
def test_fixar_generate_of_a_per_core_spec_maps_as_its_inventory_says(tmp_path, yosys_tool):
    """``fixar generate --synth-memories`` of a two-core spec with
    ``per_core_memories: true``: every copy's memory above 2 Kbit (but ``smem``) is
    block RAM, and Yosys's mapping is the inventory's memory by memory (the per-core
    inventory's names and ports; a line port per core on the banks would give
    flip-flops)."""
    spec = tmp_path / "per_core.yaml"
    spec.write_text(PER_CORE_SPEC)
    mapping = map_spec(spec, tmp_path / "g")
    names = {m["name"] for m in mapping["memories"]}
    assert {n.split("_", 1)[0] for n in names} == {"core0", "core1"}
    assert block_ram_violations(mapping, PER_CORE_EXCEPTIONS) == []
    assert (mapping["bram36"], mapping["uram"]) == (mapping["inventory_bram36"],
                                                    mapping["inventory_uram"])
    assert sum(m["yosys"] == BLOCK_RAM for m in mapping["memories"]) > 20


if __name__ == "__main__":
    mapping = map_spec(Path(sys.argv[1]), Path(sys.argv[2]))
    print("\n".join(block_ram_violations(mapping, EXCEPTIONS)) or "every memory as stated")
