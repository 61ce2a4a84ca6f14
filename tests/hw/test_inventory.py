"""The generated design's memory inventory (fixar_gen/hw/inventory.py): it lists what
the generator elaborates (checked against the PyRTL netlist), it is what `fixar
generate`, `fixar estimate` and the resource model report, and the validation of a
u50 spec rejects memories that do not fit, with a located error."""

import itertools
import json
import math
from dataclasses import replace
from pathlib import Path

import pyrtl
import pytest
from hypothesis import given, settings, strategies as st

from fixar_gen.cli import main
from fixar_gen.dsl import load_spec
from fixar_gen.estimate import estimate
from fixar_gen.hw.core import CoreConfig, build_core
from fixar_gen.hw.data_memories import MemoryShape
from fixar_gen.hw.design import config_for
from fixar_gen.hw.inventory import (BLOCK_RAM, FLIP_FLOPS, LUT_RAM, GeneratedMemory, block_ram,
                                    block_ram_options, joint_block_ram, joint_block_ram_plan,
                                    memory_inventory)
from fixar_gen.hw.pe import PEWidths
from fixar_gen.memory_kinds import BANKED_MEMORIES
from fixar_gen.memory_fit import generated_inventory, memory_fit
from fixar_gen.resources import URAM_SHAPE, bram36_count, estimate_resources

from ..conftest import EXAMPLES, examples


def netlist_memories(block):
    """{MemBlock name: (width, depth, reads, writes, {"registered", "computed"})} of an
    elaborated block; a read address is registered when it is wired (slices,
    concatenations) from registers and constants only."""
    source = {d: net for net in block.logic for d in net.dests}

    def registered(wire):
        if isinstance(wire, (pyrtl.Const, pyrtl.Register)):
            return True
        net = source.get(wire)
        if net is None:
            return False                       # a top-level input: the host's port
        if net.op == "r":
            return True
        return net.op in "wsc" and all(registered(a) for a in net.args)

    out = {}
    for net in block.logic:
        if net.op in "m@":
            mem = net.op_param[1]
            if isinstance(mem, pyrtl.RomBlock):
                continue
            w, d, r, wr, kinds = out.get(mem.name, (mem.bitwidth, 1 << mem.addrwidth,
                                                    0, 0, set()))
            if net.op == "m":
                r += 1
                kinds = kinds | {"registered" if registered(net.args[0]) else "computed"}
            else:
                wr += 1
            out[mem.name] = (w, d, r, wr, kinds)
    return out


CONFIGS = [
    CoreConfig("t1", 1, 1, 1, PEWidths(32, 16, 80), 82, 6, imem_bits=5, buffer_bits=5,
               slot_bits=3, lanes=1),
    CoreConfig("t3", 3, 2, 3, PEWidths(32, 16, 80), 82, 7, imem_bits=6, buffer_bits=6,
               slot_bits=2, lanes=3),
    # data memories of their own widths and depths, as config_for makes them
    CoreConfig("t2", 1, 2, 2, PEWidths(32, 16, 80), 82, 7, imem_bits=5, buffer_bits=5,
               slot_bits=3, lanes=2,
               memories=tuple(MemoryShape(m, w, a, t) for m, w, a, t in (
                   ("wmem", 32, 7, None), ("mmem", 32, 5, 2), ("vmem", 20, 5, None),
                   ("smem", 49, 3, 1), ("gmem", 32, 6, None), ("amem", 33, 7, 4),
                   ("cmem", 82, 4, None)))),
]


def per_core(cfg: CoreConfig, cores: int) -> CoreConfig:
    """``cfg`` on ``cores`` cores, each with its own copy of the memories."""
    return replace(cfg, name=f"{cfg.name}_pc{cores}", cores=cores, per_core_memories=True)


@pytest.mark.parametrize("cfg", CONFIGS + [
    # per-core memories: every core's copy listed, core<k>_ names, a one-core
    # design's ports (the default run elaborates the smallest; the rest are slow)
    per_core(CONFIGS[0], 2),
    pytest.param(per_core(CONFIGS[1], 3), marks=pytest.mark.slow),
    pytest.param(per_core(CONFIGS[2], 2), marks=pytest.mark.slow),
    pytest.param(per_core(CONFIGS[0], 1), marks=pytest.mark.slow),
], ids=lambda c: c.name)
def test_inventory_lists_every_ram_the_generator_elaborates(cfg):
    check_inventory_against_netlist(cfg)


def check_inventory_against_netlist(cfg: CoreConfig) -> None:
    """Every MemBlock of the elaborated ``cfg`` is one the inventory lists (each bank,
    each copy), with the inventory's width, depth, ports and read addressing, and the
    inventory lists nothing more."""
    got = netlist_memories(build_core(cfg))
    inventory = memory_inventory(cfg)
    expected = {}
    for m in inventory.memories:
        # a banked memory: one MemBlock a bank, each m.width x m.depth
        assert len(m.block_names) == (m.banks if m.bank_names else 1), m.name
        assert len(m.netlist_names) == m.copies * len(m.block_names), m.name
        for name in m.netlist_names:
            assert name not in expected, name
            expected[name] = m
    assert set(got) == set(expected)
    for name, (w, d, reads, writes, kinds) in got.items():
        m = expected[name]
        assert (m.width, m.depth, m.reads, m.writes) == (w, d, reads, writes), name
        # a read at a top-level input (a host port) counts as computed
        # (a read whose data is registered has a computed address)
        if m.read_address == "registered":
            assert kinds == {"registered"}, name
        else:
            assert "computed" in kinds, name


def test_mapping_rules():
    # fixar_u50's cores sharing one set of memories (its spec gives each core its own:
    # tests/hw/test_percore_inventory.py)
    inv = memory_inventory(config_for(load_spec(EXAMPLES / "fixar_u50.yaml"),
                                      per_core_memories=False))
    by_name = {m.name: m for m in inv.memories}
    # one data memory per memory of the placement, each at its own width and depth
    # (a power of two, or half of one plus a tail RAM: smem 72 words, amem 98,304,
    # gmem 196,608 (the gradients and the layers' deltas), cmem 98,304: its accumulators'
    # padded row strides (the weight gradients one chunk of columns at a time), in
    # 2 x 16 banks: a double line a cycle, 2,048 + 1,024 words a bank;
    # wmem 524,288: the weights' row strides
    # padded to odd, in 2 x 16 banks like cmem's, 16,384 words a bank);
    # the gradients and the optimizer state in 16 interleaved banks (one per lane);
    # the activations in 4 x 16 banks, 1,024 + 512 words a bank;
    # smem with a port per operand of the units reaching it: flip-flops
    shapes = {name: (m.width, m.depth, m.banks) for name, m in by_name.items()
              if name.startswith("mem_") and name not in ("mem_desc", "mem_slot")}
    assert shapes == {"mem_wmem_bank": (32, 1 << 14, 32),
                      "mem_mmem_bank": (32, 1 << 14, 16),
                      "mem_vmem_bank": (32, 1 << 14, 16), "mem_smem": (49, 64, 1),
                      "mem_smem_tail": (49, 8, 1), "mem_gmem_bank": (32, 1 << 13, 16),
                      "mem_gmem_bank_tail": (32, 1 << 12, 16),
                      "mem_amem_bank": (32, 1 << 10, 64),
                      "mem_amem_bank_tail": (32, 1 << 9, 64),
                      "mem_cmem_bank": (82, 1 << 11, 32), "mem_cmem_bank_tail": (82, 1 << 10, 32)}
    ports = {name: (m.reads, m.writes) for name, m in by_name.items() if name in shapes}
    # smem per core: lane 0's 3 (b, d, e: fixar_u50's programs read no smem as a,
    # CoreConfig.operand_memories) + the constants' 2 element-loop reads, lane 0's 2 +
    # the PRNG lane's writes (the other lanes take lane 0's words); the host's one of
    # each; a bank: one line read and one line write port per core (the host's muxed in)
    assert ports == {"mem_wmem_bank": (2, 2),
                     "mem_smem": (2 * 5 + 1, 2 * 3 + 1),
                     "mem_smem_tail": (2 * 5 + 1, 2 * 3 + 1), "mem_amem_bank": (2, 2),
                     "mem_amem_bank_tail": (2, 2), "mem_cmem_bank": (2, 2),
                     "mem_cmem_bank_tail": (2, 2), "mem_mmem_bank": (2, 2),
                     "mem_vmem_bank": (2, 2), "mem_gmem_bank": (2, 2),
                     "mem_gmem_bank_tail": (2, 2)}
    # two cores share each memory: two line ports a bank are more than one primitive's
    assert all(by_name[name].maps_to == FLIP_FLOPS for name in shapes)
    assert by_name["imem"].maps_to == BLOCK_RAM               # pc-addressed, 1R + 1W
    # 2 x 1,024 x 160 (the training step's 508 instructions): 9 RAMB18E2 each (18 bits
    # wide at 1K deep), as Yosys builds it
    assert by_name["imem"].block_ram_primitives == {"RAMB18E2": 18}
    assert by_name["imem"].primitives == (9, 0)
    # the descriptors: each read latched into a register (synchronous), one write: block
    # RAM, a copy per read port (5 operand slots x 2 cores), 3 RAMB18E2 each (81 bits)
    assert by_name["mem_desc"].maps_to == BLOCK_RAM
    assert by_name["mem_desc"].block_ram_primitives == {"RAMB18E2": 30}
    assert by_name["mem_slot"].maps_to == LUT_RAM             # computed reads, one write
    # the saturation counters: two memories a core, one write port and a read at a
    # registered address each: a RAMB18E2 each
    for kind in "de":
        assert (by_name[f"sat_{kind}"].maps_to, by_name[f"sat_{kind}"].reads,
                by_name[f"sat_{kind}"].writes) == (BLOCK_RAM, 1, 1)
        assert by_name[f"sat_{kind}"].block_ram_primitives == {"RAMB18E2": 2}
    assert inv.primitives == (26, 0)
    assert inv.bits == sum(m.copies * m.banks * m.width * m.depth for m in inv.memories)


def test_a_one_core_design_has_its_banked_memories_in_block_ram():
    spec = load_spec(EXAMPLES / "fixar_u50.yaml")
    spec = spec.__class__(**{**spec.__dict__, "hardware": spec.hardware.__class__(
        **{**spec.hardware.__dict__, "cores": 1})})
    cfg = config_for(spec)
    inv = memory_inventory(cfg)
    banked = [m for m in inv.memories if m.bank_names]
    assert {m.name for m in banked} == {"mem_mmem_bank", "mem_vmem_bank", "mem_gmem_bank",
                                        "mem_gmem_bank_tail", "mem_cmem_bank",
                                        "mem_wmem_bank", "mem_amem_bank",
                                        "mem_amem_bank_tail"}
    for m in banked:
        # the accumulators and the weights: 2 x 16 banks (a double line: rows m and
        # m + 1 of FXP16, soft_update's target and parameter); the activations 4 x 16
        # (the matrix unit's 2R-word strided read)
        banks = 32 if m.name.startswith(("mem_cmem", "mem_wmem")) else \
            64 if m.name.startswith("mem_amem") else 16
        assert (m.banks, m.reads, m.writes, m.maps_to) == (banks, 1, 1, BLOCK_RAM), m.name
        assert m.primitives != (0, 0) and m.as_block_ram != (0, 0)
    # smem keeps its per-operand ports
    assert all(m.maps_to == FLIP_FLOPS for m in inv.memories
               if m.name == "mem_smem")


@settings(max_examples=examples(200), deadline=None)
@given(width=st.integers(1, 300), depth_bits=st.integers(0, 23))
def test_block_ram_banks_hold_the_memory(width, depth_bits):
    depth = 1 << depth_bits
    bram, uram = block_ram(width, depth)
    assert bram * 36 * 1024 + uram * 288 * 1024 >= width * depth
    # never worse than one kind alone
    from fixar_gen.resources import uram_count
    all_b, all_u = bram36_count(width, depth), uram_count(width, depth)
    assert max(bram / 1344, uram / 640) <= min(all_b / 1344, all_u / 640)
    if uram:
        # URAM banks are whole 72-bit slices, BRAM36 the rest of the width
        slices = uram // math.ceil(depth / URAM_SHAPE[1])
        assert slices * 72 <= width + 71


def _ram(width, depth, copies, banks):
    return GeneratedMemory(name="m", scope="shared", copies=copies, width=width, depth=depth,
                           banks=banks, reads=1, writes=1, read_address="registered",
                           holds="")


@settings(max_examples=examples(100), deadline=None)
@given(rams=st.lists(st.tuples(st.integers(1, 200), st.integers(0, 17), st.integers(1, 3),
                               st.integers(1, 4)), min_size=1, max_size=6),
       have=st.tuples(st.integers(0, 2000), st.integers(0, 1000)))
def test_joint_block_ram_plan_is_the_best_of_every_choice(rams, have):
    """The joint placement against trying every memory's every option: the same
    smallest share of the fuller kind (and, among equals, the smallest totals)."""
    memories = [_ram(w, 1 << d, c, b) for w, d, c, b in rams]
    plan = joint_block_ram_plan(memories, *have)
    assert len(plan) == len(memories)
    for m, choice in zip(memories, plan):
        n = m.copies * m.banks
        assert choice in [(b * n, u * n) for b, u in block_ram_options(m.width, m.depth)]

    def key(totals):
        return (max(totals[0] / max(have[0], 1), totals[1] / max(have[1], 1)), totals)

    best = min(key((sum(b for b, _ in combo), sum(u for _, u in combo)))
               for combo in itertools.product(*[
                   [(b * m.copies * m.banks, u * m.copies * m.banks)
                    for b, u in block_ram_options(m.width, m.depth)] for m in memories]))
    assert key(joint_block_ram(memories, *have)) == best


@pytest.mark.parametrize("batch, fits", [(64, True), (256, True), (512, True), (1024, False)])
def test_fixar_u50_generated_memories_against_the_u50(batch, fits, tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(f"name: b{batch}\nbase: {EXAMPLES / 'fixar_u50.yaml'}\n"
                    f"algorithm:\n  batch_size: {batch}\n")
    code = main(["validate", "-q", str(path)])
    assert code == (0 if fits else 2)


def test_a_u50_spec_whose_memories_do_not_fit_is_a_located_error(tmp_path, capsys):
    path = tmp_path / "big.yaml"
    path.write_text(f"name: big\nbase: {EXAMPLES / 'fixar_u50.yaml'}\n"
                    "algorithm:\n  batch_size: 1024\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{path}:4:15: algorithm.batch_size: the generated memories")
    assert "the largest RAM, core0_mem_cmem_bank, 32 banks x 8,192 x 82-bit words" in err \
        and "a copy for each of the 2 cores" in err and "URAM" in err and "\n" not in err
    # the same spec on the sim target is valid (no board to fit)
    sim = tmp_path / "sim.yaml"
    sim.write_text(path.read_text().replace("name: big", "name: big\ntarget: sim"))
    assert main(["validate", "-q", str(sim)]) == 0


def test_estimate_and_the_resource_model_read_the_inventory():
    spec = load_spec(EXAMPLES / "fixar_u50.yaml")
    inventory = generated_inventory(spec)
    report = estimate(spec)
    assert report["generated_memories"]["memories"] == inventory.as_dict()["memories"]
    assert report["generated_memories"]["fit"] == memory_fit(spec, inventory)
    res = estimate_resources(spec, inventory=inventory)
    assert res.memory_source == "generated"
    parts = dict(res.parts)
    assert report["resources"]["memory_source"] == "generated"
    fit = report["generated_memories"]["fit"]
    # the resource model places the memories as the fit check does: one answer
    assert (parts["memories"].bram36, parts["memories"].uram) == (fit["bram36"], fit["uram"])
    # the fit places the memories in BRAM36 and URAM together: never more of the
    # fuller kind than each memory's own cheapest choice
    assert fit["fits"] and (fit["bram36"], fit["uram"]) == joint_block_ram(
        inventory.memories, fit["usable_bram36"], fit["usable_uram"])
    share = max(fit["bram36"] / fit["usable_bram36"], fit["uram"] / fit["usable_uram"])
    alone = max(inventory.as_block_ram[0] / fit["usable_bram36"],
                inventory.as_block_ram[1] / fit["usable_uram"])
    assert share <= alone


def test_generate_writes_the_inventory_into_report_json(tmp_path, capsys):
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    assert main(["generate", str(EXAMPLES / "pendulum.yaml"), "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "memories: " in out and "mem_smem flip-flops" in out and "imem block RAM" in out
    report = json.loads((Path(tmp_path) / "report.json").read_text())
    inventory = memory_inventory(config_for(spec)).as_dict()
    got = report["memory_inventory"]
    assert got["memories"] == inventory["memories"]
    assert got["organisation"].startswith("one data memory per memory")
    data = report["memory"]["data_memories"]
    for name, m in data.items():
        rams = [r for r in got["memories"] if r["name"] in (
            f"mem_{name}", f"mem_{name}_tail", f"mem_{name}_bank", f"mem_{name}_bank_tail")]
        assert {r["width_bits"] for r in rams} == {m["width_bits"]}
        total = sum(r["depth"] * r["banks"] for r in rams)
        # banks round a tail smaller than two words a bank up into the main RAMs
        assert total >= m["words"] >= m["words_needed"]
        assert total == m["words"] or name in BANKED_MEMORIES


@pytest.mark.parametrize("banks, width, strided, measured", [
    # each banked memory of examples/fixar_u50.yaml's per-core copy alone, one line
    # port, Yosys 0.70 xcup (benchmarks/line_ports.py)
    (16, 32, 0, 3_757),             # gmem (mmem, vmem: the same banks)
    (32, 82, 0, 18_699),            # cmem's double line
    (32, 32, 16, 20_317),           # wmem: double line, 16-element strided read
    (64, 32, 32, 62_642),           # amem: 32-element strided read
])
def test_line_port_luts_follow_the_measured_banks(banks, width, strided, measured):
    """The modeled LUTs of one line port are within 10% of what Yosys made of the
    banks alone (the figures the constants were fitted to: a wrong stage count, a
    strided term on the wrong scale or a per-bank instead of per-bit scale misses
    them)."""
    from fixar_gen.hw.inventory import bank_port_luts
    modeled = bank_port_luts(banks, width, 1, strided)
    assert abs(modeled - measured) <= 0.1 * measured, (modeled, measured)
    assert bank_port_luts(banks, width, 2, strided) == pytest.approx(2 * modeled, abs=1)
    assert bank_port_luts(1, width, 2, strided) == 0


def test_the_inventory_counts_each_banked_memorys_line_ports_once_per_core():
    from fixar_gen.hw.inventory import bank_port_luts
    spec = load_spec(EXAMPLES / "fixar_u50.yaml")
    cfg = config_for(spec, per_core_memories=False)     # shared
    inv = memory_inventory(cfg)
    banked = [m for m in inv.memories if m.banks > 1]
    assert banked and all(m.reads == spec.hardware.cores for m in banked)
    # wmem's weight rows (C elements) and amem's activation lines (2R) are strided reads
    assert (cfg.strided_elements("wmem"), cfg.strided_elements("amem")) == (16, 32)
    for m in banked:
        name = m.name[len("mem_"):].split("_")[0]
        expected = 0 if m.name.endswith("_tail") else \
            bank_port_luts(m.banks, m.width, m.reads, cfg.strided_elements(name))
        assert m.port_luts == expected, m.name
    assert inv.port_luts == sum(m.port_luts for m in banked) > 100_000


@pytest.mark.parametrize("depth,read_address,reads,writes,maps_to,copies", [
    (65, "registered", 1, 1, BLOCK_RAM, 1),
    (64, "registered", 1, 1, LUT_RAM, 1),            # shallow: Yosys's LUT RAM is cheaper
    (256, "registered data", 5, 1, BLOCK_RAM, 5),    # mem_desc: a copy per read port
    (256, "registered data", 1, 1, BLOCK_RAM, 1),
    (256, "computed", 1, 1, LUT_RAM, 1),
    (256, "registered", 1, 2, FLIP_FLOPS, 1),
])
def test_mapping_rule_cases(depth, read_address, reads, writes, maps_to, copies):
    """The rules as Yosys 0.70 ``synth_xilinx -family xcup`` showed them
    (tests/hw/test_memory_map.py checks them on a whole core): the 64-word boundary
    catches a LUT_RAM_WORDS moved either way; the copies a duplication left out."""
    from fixar_gen.hw.inventory import GeneratedMemory
    m = GeneratedMemory("m", "shared", 1, 32, depth, 1, reads, writes, read_address, "")
    assert (m.maps_to, m.read_copies) == (maps_to, copies)
    # 32 bits x 65 or 256 words: a RAMB18E2 (512 x 36) a copy, half a BRAM36
    assert m.block_ram_primitives == ({"RAMB18E2": copies} if maps_to == BLOCK_RAM
                                      else {})
    assert m.primitives == ((copies / 2, 0) if maps_to == BLOCK_RAM else (0, 0))


@pytest.mark.parametrize("reads, writes, measured", [(67, 19, 157_043), (7, 4, 17_816)])
def test_flip_flop_luts_follow_the_measured_smem(reads, writes, measured):
    """The flip-flop memory's model against its two measurements (Yosys 0.70, a 64 x
    49-bit MemBlock alone, fixar_u50's smem before and after the other lanes lost their
    ports: BENCHMARKS.md), within 0.1%; a memory with one write port costs none (it is
    block or LUT RAM)."""
    from fixar_gen.hw.inventory import GeneratedMemory, REGISTERED
    smem = GeneratedMemory("mem_smem", "shared", 1, 49, 64, 1, reads, writes, REGISTERED, "")
    assert smem.maps_to == "flip-flops"
    luts, ffs = smem.flip_flop_resources
    assert luts == pytest.approx(measured, rel=0.001) and ffs == 64 * 49
    ram = GeneratedMemory("mem_x", "shared", 1, 49, 64, 1, reads, 1, REGISTERED, "")
    assert ram.flip_flop_resources == (0, 0)
