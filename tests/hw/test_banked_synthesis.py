"""Yosys (``synth_xilinx -family xcup``) maps the banked memories of a generated
one-core design -- the gradients and the optimizer state, which only the element loop
and the host reach (``memory_kinds.BANKED_MEMORIES``), the accumulators' and the
weights' banks (the matrix unit's double line and strided row) and the activations'
(its strided line of 2R words) -- to block RAM, and the memory inventory counts them as
it does.  Slow: a whole core through Yosys (53 minutes on two shared cores with three
memories banked, 17 minutes with all but ``smem``, 2026-12-05); ``python -m
tests.hw.test_banked_synthesis DIR`` runs the same synthesis alone and prints what it
found."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from fixar_gen.hw.core import build_core
from fixar_gen.hw.data_memories import fitted_shape
from fixar_gen.hw.design import config_for
from fixar_gen.hw.inventory import BLOCK_RAM, memory_inventory
from fixar_gen.hw.memory_map import memory_mappings
from fixar_gen.hw.synth import cell_counts
from fixar_gen.hw.verilate import emit_verilog
from fixar_gen.memory_kinds import ACC_MEMORY
from fixar_gen.spec import HardwareSpec, Spec

#: the banked memories' words: 1,024 x 32 bits a bank (32 Kbit, one RAMB36E2 each:
#: above the 2 Kbit from which a memory belongs in block RAM; cmem's 82-bit words in
#: two banks of 512 each); smem keeps 32 words (flip-flops, and larger ones only make
#: Yosys slower)
BANKED_WORDS = 1024
OTHER_WORDS = 32


def small_banked_config():
    spec = dataclasses.replace(Spec(), hardware=HardwareSpec(cores=1, array=(1, 1)))
    cfg = config_for(spec, memory_words=OTHER_WORDS, name="banked_core")
    shapes = tuple(fitted_shape(s.name, s.width, BANKED_WORDS * (cfg.memory_banks(s.name)
                                                                 if s.name != ACC_MEMORY
                                                                 else 1))
                   if cfg.memory_banks(s.name) else s
                   for s in cfg.data_memories)
    return dataclasses.replace(cfg, memories=shapes,
                               addr_bits=max(s.addr_bits for s in shapes))


def synthesize_banked_core(folder: Path, tool=None) -> tuple[dict, dict, object]:
    """(cell counts, memory mappings, config) of :func:`small_banked_config` through
    Yosys in ``folder``."""
    cfg = small_banked_config()
    verilog = emit_verilog(build_core(cfg), cfg.name, initialize_registers=False)
    cells = cell_counts(verilog, cfg.name, folder, timeout=4 * 3600, tool=tool)
    log = (Path(folder) / "yosys.log").read_text(errors="replace")
    return cells, memory_mappings(log), cfg


@pytest.mark.slow
@pytest.mark.tools
def test_banked_memories_of_a_core_become_block_ram(tmp_path, yosys_tool):
    cells, mapped, cfg = synthesize_banked_core(tmp_path, yosys_tool)
    inventory = memory_inventory(cfg)
    banked = [m for m in inventory.memories if m.bank_names]
    assert banked and all(m.maps_to == BLOCK_RAM for m in banked)
    for m in banked:
        for name in m.block_names:
            assert "BLOCKRAM" in mapped.get(name, ""), (name, mapped.get(name))
    # the block RAM Yosys infers for them is what the inventory counts
    rams = cells.get("RAMB36E2", 0) + cells.get("RAMB18E2", 0) / 2
    others = sum(m.primitives[0] for m in inventory.memories if not m.bank_names)
    assert rams >= others + sum(m.primitives[0] for m in banked) / 2


if __name__ == "__main__":
    cells, mapped, cfg = synthesize_banked_core(Path(sys.argv[1]))
    print({k: v for k, v in cells.items() if k.startswith(("RAM", "URAM", "FD", "LUT"))})
    for name, how in sorted(mapped.items()):
        print(f"{name}: {how}")
    for m in memory_inventory(cfg).as_dict()["memories"]:
        print(m["name"], m["depth"], m["banks"], m["maps_to"], m["bram36"], m["uram"])
