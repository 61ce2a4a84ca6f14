"""Per-core memories through the user surface: the spec field
``hardware.per_core_memories`` (YAML, the DSL's ``PerCoreMemories``), ``config_for``
reading it, the memory inventory of a per-core design (each core's copy with a one-core
design's ports), ``fixar generate`` / ``fixar estimate`` and the fit validation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from fixar_gen.cli import main
from fixar_gen.dsl import Cores, Default, PerCoreMemories, load_spec
from fixar_gen.estimate import estimate
from fixar_gen.hw.design import config_for, words_needed
from fixar_gen.hw.inventory import (BLOCK_RAM, FLIP_FLOPS, LUT_RAM, PER_CORE, SHARED,
                                    memory_inventory, one_core)
from fixar_gen.memory_fit import generated_inventory, memory_fit
from fixar_gen.params import SpecError
from fixar_gen.resources import estimate_resources
from fixar_gen.spec import HardwareSpec, Spec

from ..conftest import EXAMPLES, examples
from .test_inventory import check_inventory_against_netlist

#: the data memories' banked RAMs (``mem_<kind>_bank``, ``..._bank_tail``)
BANKED = "_bank"


def tiny_spec(rows: int, cols: int, cores: int, batch: int, per_core: bool | None,
              lanes: int | None = None, hidden: tuple[int, ...] = (5, 3)) -> Spec:
    """A DDPG spec small enough to elaborate in seconds (tests/hw/test_core.py's
    tiny_ddpg, with the lanes and the memories' organisation given)."""
    spec = Spec()
    net = dataclasses.replace(
        spec.networks,
        actor=dataclasses.replace(spec.networks.actor, hidden=hidden, inputs=3, outputs=1),
        critic=dataclasses.replace(spec.networks.critic, hidden=(4,)))
    alg = dataclasses.replace(spec.algorithm, batch_size=batch, replay_size=1000,
                              warmup_steps=0)
    return dataclasses.replace(spec, networks=net, algorithm=alg, hardware=HardwareSpec(
        cores=cores, array=(rows, cols), vector_lanes=lanes, per_core_memories=per_core))


def tiny_specs(per_core=st.sampled_from([None, False, True])):
    return st.builds(tiny_spec, rows=st.integers(1, 3), cols=st.integers(1, 3),
                     cores=st.integers(1, 3), batch=st.integers(1, 9), per_core=per_core,
                     lanes=st.sampled_from([None, 1, 2, 3]),
                     hidden=st.sampled_from([(5, 3), (1,), (7, 2)]))


# ----------------------------------------------------------------- the spec field

def test_the_field_defaults_to_shared_memories():
    assert HardwareSpec().per_core_memories is None
    assert not Spec().hardware.memories_per_core
    assert not config_for(tiny_spec(2, 2, 2, 3, None)).per_core_memories
    assert not config_for(tiny_spec(2, 2, 2, 3, False)).per_core_memories
    assert config_for(tiny_spec(2, 2, 2, 3, True)).per_core_memories
    # an explicit argument still decides (the simulated designs, percore_fit)
    assert not config_for(tiny_spec(2, 2, 2, 3, True), per_core_memories=False) \
        .per_core_memories


def test_the_dsl_fragment_is_the_yaml_field(tmp_path):
    path = tmp_path / "pc.yaml"
    path.write_text(f"base: {EXAMPLES / 'pendulum.yaml'}\n"
                    "hardware: {per_core_memories: true}\n")
    yaml_spec = load_spec(path)
    dsl_spec = load_spec(EXAMPLES / "pendulum.yaml")
    assert not dsl_spec.hardware.per_core_memories
    from fixar_gen.dsl import Set
    assert yaml_spec.hardware.per_core_memories is True
    assert (Default() + Cores(2) + PerCoreMemories()).spec().hardware.per_core_memories
    assert (Default() + PerCoreMemories(False)).spec().hardware.per_core_memories is False
    assert (Default() + Set("hardware.per_core_memories", True)).spec() \
        == (Default() + PerCoreMemories()).spec()


def test_the_field_takes_true_false_or_null():
    for good in (True, False, None):
        assert HardwareSpec(per_core_memories=good).per_core_memories is good
    for bad in (1, "yes", 0.0):
        with pytest.raises(SpecError, match=r"^per_core_memories: expected true or false"):
            HardwareSpec(per_core_memories=bad)


def test_one_core_with_the_field_on_is_the_shared_design():
    """On one core the field changes nothing (a core's memories are its own already):
    the same sizes, the same inventory, no xfer decoded."""
    on, off = tiny_spec(2, 3, 1, 4, True), tiny_spec(2, 3, 1, 4, None)
    assert on.hardware.per_core_memories and not on.hardware.memories_per_core
    assert config_for(on) == config_for(off)
    assert memory_inventory(config_for(on)) == memory_inventory(config_for(off))


# ----------------------------------------------------------------- the inventory

@settings(max_examples=examples(40), deadline=None)
@given(spec=tiny_specs())
def test_a_per_core_inventory_is_a_one_core_design_per_core(spec):
    """Off (or null, or one core): the shared design's inventory.  On: each core's copy
    listed on its own, named ``core<k>_`` as the elaborated design names it, with a
    one-core design's ports, so no bank of a data memory is in flip-flops.  Catches
    a per-core inventory listed with the shared design's ports (a line port per core:
    flip-flops), one copy instead of one a core, or names the netlist does not have."""
    cfg = config_for(spec)
    cores = spec.hardware.cores
    on = bool(spec.hardware.per_core_memories) and cores > 1
    assert cfg.per_core_memories == on
    inv = memory_inventory(cfg)
    if not on:
        assert inv == memory_inventory(config_for(spec, per_core_memories=False))
        return
    one = memory_inventory(one_core(cfg)).memories
    assert len(inv.memories) == cores * len(one)
    for k in range(cores):
        mine = [m for m in inv.memories if m.core == k]
        assert [m.name for m in mine] == [f"core{k}_{m.name}" for m in one]
        for m, o in zip(mine, one):
            assert (m.scope, m.copies) == (PER_CORE, 1)
            # the descriptor table: one read more, the incoming link's buffer
            o = dataclasses.replace(o, reads=o.reads + (1 if o.name == "mem_desc" else 0))
            assert (m.width, m.depth, m.banks, m.reads, m.writes, m.maps_to,
                    m.primitives, m.port_luts) == (o.width, o.depth, o.banks, o.reads,
                                                   o.writes, o.maps_to, o.primitives,
                                                   o.port_luts)
            assert m.netlist_names == tuple(f"core{k}_{n}" for n in o.block_names)
            if BANKED in m.name:
                assert (m.reads, m.writes) == (1, 1)
                assert m.maps_to == (BLOCK_RAM if m.depth > 64 else LUT_RAM), m.name
    assert inv.bits == cores * sum(m.bits for m in one)
    # the shared design of the same spec: a line port per core on every bank
    shared = memory_inventory(config_for(spec, per_core_memories=False))
    assert all(m.maps_to == FLIP_FLOPS for m in shared.memories if BANKED in m.name)
    assert all(m.scope == SHARED or m.name in ("imem", "sat_d", "sat_e")
               for m in shared.memories)


@pytest.mark.slow
@pytest.mark.parametrize("per_core", [True, None])
@settings(max_examples=examples(5), deadline=None)
@given(data=st.data())
def test_the_inventory_of_random_specs_matches_their_netlist(per_core, data):
    """Random small specs, the field on or off, 1-3 cores: the inventory against the
    elaborated design's MemBlocks (names, widths, depths, ports; seconds each)."""
    spec = data.draw(tiny_specs(st.just(per_core)))
    check_inventory_against_netlist(config_for(spec))


def test_the_u50_banks_are_block_ram_on_per_core_memories():
    """examples/fixar_u50.yaml (2 cores): per core, as specified, each bank has one
    line read and one line write port and is block RAM (BRAM36 or URAM288 in the
    inventory); shared, every bank of a data memory is in flip-flops (two line ports)."""
    on = load_spec(EXAMPLES / "fixar_u50.yaml")
    assert on.hardware.memories_per_core
    spec = dataclasses.replace(on, hardware=dataclasses.replace(on.hardware,
                                                                per_core_memories=False))
    shared = memory_inventory(config_for(spec))
    per_core = memory_inventory(config_for(on))
    banks = [m for m in per_core.memories if BANKED in m.name]

    def kinds(memories, prefix=""):     # each banked memory, a tail RAM or not
        return {m.name.removeprefix(prefix).split(BANKED)[0] for m in memories
                if BANKED in m.name and m.name.startswith(prefix)}
    assert kinds(shared.memories) == kinds(per_core.memories, "core0_") == \
        kinds(per_core.memories, "core1_") != set()
    assert all(m.maps_to == FLIP_FLOPS for m in shared.memories if BANKED in m.name)
    assert all((m.reads, m.writes, m.maps_to) == (1, 1, BLOCK_RAM) for m in banks)
    assert all(sum(m.primitives) > 0 for m in banks)
    assert {m.core for m in per_core.memories} == {0, 1}
    # each copy holds its core's rows (the weights whole: intra_batch's forward pass
    # reads them all), every copy as deep as the deepest core's needs
    pc, sh = config_for(on).data_memories, config_for(spec).data_memories
    assert all(a.depth <= b.depth for a, b in zip(pc, sh))
    assert sum(a.depth * a.width for a in pc) < sum(b.depth * b.width for b in sh)
    fit = memory_fit(on, per_core)
    got = (round(fit["design_bits"] / 1e6, 1), fit["bram36"], fit["uram"], fit["fits"])
    assert got == (63.5, 782, 372, True)          # docs/hardware.md, "Memory inventory"
    # percore_fit's model of the row-trimmed copies lists through the same function
    from fixar_gen.percore_fit import per_core_fit, per_core_words
    # (each copy at its own depths there: core 1's smem 32 words, not the built 64)
    model = per_core_fit(spec, per_core_words(spec))
    assert (model["bram36"], model["uram"], model["fits"]) == got[1:]
    assert 0 <= fit["design_bits"] - model["design_bits"] <= 32 * 49


# ----------------------------------------------------------------- validation

def test_a_u50_spec_whose_copies_do_not_fit_is_refused_on_the_field(tmp_path, capsys):
    """fixar_u50 fits on per-core memories (its row-trimmed copies: 63.5 Mbit); trained
    intra_layer at batch 256 it does not (each copy holds every row of the
    column-split buffers: 135.2 Mbit), while its shared memories fit."""
    fits = tmp_path / "fits.yaml"
    fits.write_text(f"name: pc\nbase: {EXAMPLES / 'fixar_u50.yaml'}\n"
                    "hardware:\n  per_core_memories: true\n")
    assert main(["validate", "-q", str(fits)]) == 0
    path = tmp_path / "pc.yaml"
    path.write_text(fits.read_text() + "algorithm: {batch_size: 256}\n"
                    "parallelism: {training: intra_layer}\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{path}:4:22: hardware.per_core_memories: the generated "
                          "memories (")
    assert "a copy for each of the 2 cores" in err and "the shared memories fit" in err
    assert "\n" not in err and "Traceback" not in err
    # one core: the shared design, which fits; the sim target: no board to fit
    one = tmp_path / "one.yaml"
    one.write_text(path.read_text().replace("per_core_memories: true\n",
                                            "per_core_memories: true\n  cores: 1\n"))
    assert main(["validate", "-q", str(one)]) == 0
    sim = tmp_path / "sim.yaml"
    sim.write_text(path.read_text() + "target: sim\n")
    assert main(["validate", "-q", str(sim)]) == 0


# ----------------------------------------------------------------- generate, estimate

def _write_tiny(tmp_path: Path, per_core: bool) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(
        "name: tiny\nnetworks:\n  actor: {hidden: [5, 3], inputs: 3, outputs: 1}\n"
        "  critic: {hidden: [4]}\nalgorithm: {batch_size: 3, replay_size: 1000, "
        "warmup_steps: 0}\n"
        f"hardware: {{cores: 2, array: [1, 1], per_core_memories: {str(per_core).lower()}}}\n")
    return path


@pytest.mark.slow          # (about 7 s of CPU: two cores' controllers and lanes elaborated)
def test_generate_writes_the_per_core_design_and_its_inventory(tmp_path, capsys):
    path = _write_tiny(tmp_path, True)
    spec = load_spec(path)
    out = tmp_path / "build"
    assert main(["generate", str(path), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "a copy for each core" in printed and "core1_mem_wmem_bank" in printed
    report = json.loads((out / "report.json").read_text())
    cfg = config_for(spec)
    assert report["per_core_memories"] is True and cfg.per_core_memories
    inventory = memory_inventory(cfg).as_dict()
    assert report["memory_inventory"]["memories"] == inventory["memories"]
    assert report["memory_inventory"]["organisation"].startswith("per-core memories")
    assert {m["core"] for m in inventory["memories"]} == {0, 1}
    assert report["memory"]["data_memories"]["wmem"]["words_needed"] == \
        words_needed(spec, True)["wmem"]
    verilog = (out / "fixar_core.v").read_text()
    for m in memory_inventory(cfg).memories:
        for name in m.netlist_names:
            assert name in verilog, name
    # the host's read address names the copy (the core above the memory id)
    hostmap = json.loads((out / "hostmap.json").read_text())
    assert "per_core" in json.dumps(hostmap)


def test_estimate_models_the_per_core_inventory(tmp_path, capsys):
    path = _write_tiny(tmp_path, True)
    spec = load_spec(path)
    inventory = generated_inventory(spec)
    assert inventory == memory_inventory(config_for(spec))
    assert all(m.scope == PER_CORE for m in inventory.memories)
    report = estimate(spec)
    assert report["per_core_memories"] is True
    assert report["generated_memories"]["memories"] == inventory.as_dict()["memories"]
    fit = memory_fit(spec, inventory)
    assert report["generated_memories"]["fit"] == fit
    res = estimate_resources(spec, inventory=inventory)
    parts = dict(res.parts)
    assert (parts["memories"].bram36, parts["memories"].uram) == (fit["bram36"], fit["uram"])
    # a core's copy is placed on its core by the resource model
    assert {m.core for m in res.memories} == {0, 1}
    # the line ports: one per bank and copy, as many as the shared design's (a port a
    # core on each bank)
    shared = memory_inventory(config_for(spec, per_core_memories=False))
    assert inventory.port_luts == pytest.approx(shared.port_luts, abs=2)   # (rounded a copy)
    assert main(["estimate", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "per-core memories: a copy for each of the 2 cores" in printed
    assert "core0_mem_wmem_bank" in printed and "core1_imem" in printed
    # the RTL's cycles are those of the programs with their transfers
    from fixar_gen.compiler import Precision
    from fixar_gen.estimate import rtl_figures
    clock = spec.hardware.clock_mhz * 1e6
    assert report["fxp32"]["rtl"] == rtl_figures(spec, Precision(), clock,
                                                 per_core_memories=True)
    assert report["fxp32"]["rtl"] != rtl_figures(spec, Precision(), clock)
