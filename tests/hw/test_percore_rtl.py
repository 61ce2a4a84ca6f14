"""The generated core with per-core memories (``CoreConfig.per_core_memories``): each
core its own copy of the data memories, descriptor and slot tables; ``xfer`` executed
by the sender's element loop, its words written through the link's registers into the
receivers' copies at each receiver's own base (each copy holds the rows its core
touches: :mod:`fixar_gen.percore_placement`); the host writing and reading the copy
its address names.
Against the golden model (one shared state, where ``xfer`` moves nothing) bit for bit,
and against the RTL's cycle model (``xfer``: :func:`fixar_gen.transfers.xfer_cycles`
at the lanes' line) cycle for cycle."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyrtl
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from fixar_gen.backends import PerCoreHardwareCore, open_core, random_params
from fixar_gen.cases import Case
from fixar_gen.hw.core import build_core
from fixar_gen.hw.design import config_for, hardware_limits, transfer_problems
from fixar_gen.hw.drivers import PyrtlDriver
from fixar_gen.hw.host import HardwareMachine
from fixar_gen.isa import (VECTOR_FUNCTIONS, Barrier, Buffer, Halt, Program, Range, Slot,
                           Store, Vector, Xfer)
from fixar_gen.numerics import FixedFormat
from fixar_gen.percore_cases import per_core_case
from fixar_gen.percore_placement import attach, copies_of
from fixar_gen.programs import programs
from fixar_gen.testing import uniform_batch
from fixar_gen.transfers import transfers_of
from fixar_gen.verify import check_program

from .test_core import small_config, small_spec, steps_and_inferences_identical, tiny_ddpg
from tests.conftest import examples

_MACHINES: dict = {}


def per_core_machine(shape) -> tuple:
    """(spec, machine) of a small design with per-core memories (its slot table and
    instruction memories deep enough for the readback's stores,
    :func:`fixar_gen.percore_cases.with_readback`)."""
    if shape not in _MACHINES:
        spec = small_spec(*shape)
        cfg = dataclasses.replace(small_config(spec), per_core_memories=True, slot_bits=6,
                                  imem_bits=7)
        _MACHINES[shape] = (spec, HardwareMachine(cfg, PyrtlDriver(cfg, build_core(cfg))))
    return _MACHINES[shape]


def trimmed_bases(program) -> int:
    """How many buffers have different descriptor bases in two copies."""
    copies = copies_of(program)
    return sum(len({copies.base(c, ("buffer", i)) for c in range(copies.cores)
                    if copies.held(c, ("buffer", i))[1]}) > 1
               for i in range(len(program.buffers)))


def _random_programs(shapes, data) -> None:
    spec, machine = per_core_machine(data.draw(st.sampled_from(shapes)))
    case = per_core_case(data.draw(programs(spec, max_instructions=4)), machine.cfg.acc_half)
    # (three cores: two senders may push to one receiver between the same barriers,
    # which the design refuses; counted, so that a run where it always happens shows)
    event(f"refused (two senders, one receiver): {case is None}")
    assume(case is not None)
    moved = case.program
    event(f"transfers: {min(transfers_of(moved).instructions, 3)}")
    event(f"buffers with per-core bases: {min(trimmed_bases(moved), 3)}")
    copies = moved.copies
    event("an xfer between different bases: " + str(any(
        copies.base(x.core, ("buffer", x.buf)) != copies.base(r, ("buffer", x.buf))
        for x in moved.code if isinstance(x, Xfer)
        for r in range(moved.cores) if x.to >> r & 1)))
    diff = check_program(case, machine)
    assert diff is None, f"{diff}\n{case.listing()}"


@settings(max_examples=examples(15), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_programs_with_transfers_pyrtl_equal_golden(data):
    """``fixar verify``'s random programs (every instruction kind and vector function,
    split over two cores of 3 x 2 PEs), each core then storing its share of the rows of
    every buffer (:func:`fixar_gen.percore_cases.with_readback`: a word one core
    wrote is stored by another when it lies in the other's share), with their
    transfers, on per-core
    memories holding each core's rows (:mod:`fixar_gen.percore_placement`; the events
    count the programs whose copies give a buffer different bases, and those with an
    xfer between different bases): golden's buffers (each word read from the copy of
    the core that wrote it last), host slots and saturation counts, and the cycle
    model's cycles.  Without the transfers, with the link's words not written, or
    written at the sender's base, the readbacks see the reader's own stale copy (the
    tests below)."""
    _random_programs([(3, 2, 2)], data)


@pytest.mark.slow       # a 1 x 1 pair and three cores of 2 x 2 (minutes)
@settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_more_random_programs_with_transfers_pyrtl_equal_golden(data):
    _random_programs([(1, 1, 2), (2, 2, 3), (1, 1, 1)], data)


@pytest.mark.slow       # (40 s with its build; the default run has the PyRTL test above)
@pytest.mark.tools
def test_random_programs_with_transfers_verilator_equal_golden(verilator_tool):
    """The same on the design's Verilog in Verilator, through the host ports (the
    host's writes and reads naming their copy, each copy its own rows at its own
    bases)."""
    from fixar_gen.hw.drivers import VerilatorDriver
    from fixar_gen.hw.session import verilog_of
    from fixar_gen.hw.verilate import VerilatorModel
    spec = small_spec(3, 2, 2)
    cfg = dataclasses.replace(small_config(spec), per_core_memories=True, slot_bits=6,
                              imem_bits=7)
    model = VerilatorModel.build(verilog_of(cfg), cfg.name, cfg.hostmap.ports())
    machine = HardwareMachine(cfg, VerilatorDriver(cfg, model.start()))
    try:
        @settings(max_examples=examples(30), deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def check(data):
            case = per_core_case(data.draw(programs(spec, max_instructions=4)),
                                 cfg.acc_half)      # (two cores: never refused)
            diff = check_program(case, machine)
            assert diff is None, f"{diff}\n{case.listing()}"
        check()
        assert check_program(_handoff(True), machine) is None
    finally:
        machine.driver.close()


def _handoff(with_xfer: bool) -> Case:
    """Core 0 computes y = x + x; core 1 stores y (after a barrier), with or without the
    xfer that brings y into core 1's copy."""
    fmt = FixedFormat(16, 4)
    buffers = (Buffer("x", 3, 5, fmt), Buffer("y", 3, 5, fmt))
    mask = 0b11
    code = [Vector(core=0, fn=VECTOR_FUNCTIONS.index("add"), dst=1, a=0, b=0,
                   rows=Range(0, 3), cols=Range(0, 5)),
            Barrier(core=0, mask=mask), Barrier(core=1, mask=mask)]
    if with_xfer:
        code += [Xfer(core=0, buf=1, rows=Range(0, 3), cols=Range(0, 5), to=0b10),
                 Barrier(core=0, mask=mask), Barrier(core=1, mask=mask)]
    code += [Store(core=1, src=1, slot=0, rows=Range(0, 3), cols=Range(0, 5)),
             Halt(core=0), Halt(core=1)]
    program = Program("handoff", buffers, (Slot("out", 3, 5),), tuple(code), 2, fmt)
    rng = np.random.default_rng(3)
    initial = {"x": rng.integers(-1000, 1000, size=(3, 5)),
               "y": np.full((3, 5), 7, dtype=np.int64)}
    return Case(program, initial, {})


def test_the_xfer_brings_the_words_into_the_receivers_copy():
    """With the xfer core 1 stores the sums core 0 wrote (golden's, cycle for cycle; y at
    word 15 of core 0's copy, after x, and at word 0 of core 1's, which holds no x);
    without it (the mutation) core 1 stores its own copy's y, which the host wrote
    before the run: the copies are separate, and the link is what joins them.  Also
    catches a link whose words land a cycle late for the drain the controller waits
    (the store right after the barrier reads them)."""
    _, machine = per_core_machine((3, 2, 2))
    assert check_program(_handoff(True), machine) is None
    diff = check_program(_handoff(False), machine)
    assert diff is not None and "slot out" in str(diff) and diff.hardware == 7


@pytest.mark.slow       # (builds a design of its own: about 40 s; the default run's
#                         hand-off above already moves y between different bases)
def test_the_receiver_writes_at_its_own_base():
    """The hand-off's y is at word 15 of core 0's copy (after x) and at word 0 of core
    1's (which holds no x), so the copies' descriptor bases of y differ.  A link whose
    receiver writes the words at the sender's addresses (the mutation: no base
    difference added) leaves core 1's y as the host wrote it, and core 1 stores that."""
    from fixar_gen.hw import core as core_module
    _, machine = per_core_machine((3, 2, 2))
    handoff = _handoff(True)
    program = attach([handoff.program], machine.cfg.acc_half)[0]
    bases = [program.copies.base(c, ("buffer", 1)) for c in range(2)]
    assert bases[0] != bases[1]
    assert check_program(handoff, machine) is None
    # (the mutant on a 1 x 1 pair: a smaller design to build)
    cfg = dataclasses.replace(small_config(small_spec(1, 1, 2)), per_core_memories=True,
                              slot_bits=6, imem_bits=7)
    original = core_module.base_difference
    core_module.base_difference = lambda mine, theirs, bits: pyrtl.Const(0, bits)
    try:
        mutant = HardwareMachine(cfg, PyrtlDriver(cfg, build_core(cfg)))
    finally:
        core_module.base_difference = original
    diff = check_program(handoff, mutant)
    assert diff is not None and "slot out" in str(diff) and diff.hardware == 7


def test_the_host_reads_and_writes_the_copy_its_address_names():
    """host_mem_addr's and host_mem_raddr's core field (above the memory id) choose the
    copy, the read one cycle later as the shared design's port (HOST_READ_LATENCY), and
    host_desc_addr's and host_slot_addr's (above the index) the copy's descriptor and
    slot tables: each copy holds its own rows at its own addresses.  A port that writes
    or reads core 0's copy whatever the field fails it."""
    spec, machine = per_core_machine((3, 2, 2))
    cfg, block = machine.cfg, machine.driver.block
    hm = cfg.hostmap
    assert hm.per_core and hm.read_addr_bits == hm.data_addr_bits + hm.core_bits
    ports = hm.ports()
    assert ports["host_mem_addr"][0] == hm.data_addr_bits + hm.core_bits
    assert ports["host_desc_addr"][0] == cfg.buffer_bits + hm.core_bits
    sim = pyrtl.FastSimulation(tracer=None, block=block)
    inputs = {w.name: 0 for w in block.wirevector_subset(pyrtl.Input)}
    base = hm.data_address("gmem", 0)
    for core in (0, 1):
        for a in range(8):
            sim.step({**inputs, "host_mem_we": 1,
                      "host_mem_addr": hm.write_address(base + a, core),
                      "host_mem_wdata": 100 * (core + 1) + a})
        sim.step({**inputs, "host_desc_we": 1, "host_desc_wdata": 40 + core,
                  "host_desc_addr": hm.table_address("desc", 3, core)})
        sim.step({**inputs, "host_slot_we": 1, "host_slot_wdata": 50 + core,
                  "host_slot_addr": hm.table_address("slot", 2, core)})
    seen = {}
    for core in (0, 1):
        for a in range(8):
            sim.step({**inputs, "host_mem_raddr": hm.read_address(base + a, core)})
            if a:
                seen[(core, a - 1)] = sim.inspect("host_mem_rdata")
    assert [seen[(0, a)] for a in range(7)] == [100 + a for a in range(7)]
    assert [seen[(1, a)] for a in range(7)] == [200 + a for a in range(7)]
    mems = {m.name: m for m in block.logic_subset("@") for m in [m.op_param[1]]}
    for core in (0, 1):
        assert sim.inspect_mem(mems[f"core{core}_mem_desc"])[3] == 40 + core
        assert sim.inspect_mem(mems[f"core{core}_mem_slot"])[2] == 50 + core


def test_the_design_refuses_transfers_it_cannot_run():
    """A shared design refuses xfer; a per-core one runs the compiler's, and refuses
    two senders into one receiver between the same barriers (one write port) and a
    receiver that computes while it receives."""
    from fixar_gen import load_spec
    from fixar_gen.compiler import compile_program

    from ..conftest import EXAMPLES
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    moved = compile_program(spec, "explore", batch=1, per_core_memories=True)
    assert transfers_of(moved).instructions
    shared = config_for(spec)
    per = dataclasses.replace(shared, per_core_memories=True)
    assert any("do not execute them" in p for p in hardware_limits(moved, shared))
    assert not any("xfer" in p or "send" in p for p in hardware_limits(moved, per))
    assert transfer_problems(moved) == []
    fmt = FixedFormat(16, 4)
    one = Range(0, 1)
    every = [Barrier(core=c, mask=0b111) for c in range(3)]
    two = Program("two", (Buffer("x", 1, 1, fmt),), (), tuple(
        every + [Xfer(core=0, buf=0, rows=one, cols=one, to=0b100),
                 Xfer(core=1, buf=0, rows=one, cols=one, to=0b100)] + every), 3, fmt)
    assert any("send words to core 2" in p for p in transfer_problems(two))
    busy = Program("busy", (Buffer("x", 1, 1, fmt),), (), tuple(
        every + [Xfer(core=0, buf=0, rows=one, cols=one, to=0b010),
                 Vector(core=1, fn=VECTOR_FUNCTIONS.index("add"), dst=0, a=0, b=0,
                        rows=one, cols=one)] + every), 3, fmt)
    assert any("core 1 runs vec" in p for p in transfer_problems(busy))


# ---------------------------------------------------------------- whole DDPG programs

@pytest.mark.parametrize("rows,cols,cores,batch,training", [
    # (about 2 minutes each: slow; the default run has the random programs above)
    pytest.param(2, 3, 2, 5, "intra_layer", marks=pytest.mark.slow),
    pytest.param(2, 3, 2, 5, "intra_batch", marks=pytest.mark.slow),
    pytest.param(3, 2, 3, 4, "intra_layer", marks=pytest.mark.slow)])
def test_training_steps_on_per_core_memories_identical(rows, cols, cores, batch, training):
    """Two training steps and the actor's inferences (greedy, exploring, a batch) of a
    small DDPG on per-core memories (the programs with their transfers, compiled
    together: the state each update writes pushed to the cores that read it next):
    golden's bits, and the cycle model's cycles for each update."""
    spec = tiny_ddpg(rows, cols, cores, batch, training)
    hw = PerCoreHardwareCore(spec)
    assert hw.machine.cfg.per_core_memories

    def has_transfers(program):
        assert transfers_of(program).instructions

    golden, hw = steps_and_inferences_identical(spec, hw, has_transfers)
    for name in hw.param_names():
        np.testing.assert_array_equal(hw._read(name), golden._read(name), err_msg=name)


# ---------------------------------------------------------------- block RAM

def data_memory_mapping(spec_text: str, folder) -> dict[str, tuple[int, str]]:
    """{MemBlock: (bits, Yosys's class)} of every memory of ``spec_text``'s design with
    per-core memories at its real sizes (:func:`config_for`), through Yosys's memory
    mapping (:func:`fixar_gen.hw.memory_map.map_memories`)."""
    from fixar_gen import load_spec
    from fixar_gen.hw.memory_map import map_memories, mapping_class
    from fixar_gen.hw.session import elaborated
    from fixar_gen.hw.verilate import emit_verilog
    path = folder / "spec.yaml"
    path.write_text(spec_text)
    cfg = config_for(load_spec(path), per_core_memories=True)
    block = elaborated(cfg)
    # (as `fixar generate` writes it: registers without initial values, which would
    # keep Yosys from taking a read's address register into a block RAM)
    mapped = map_memories(emit_verilog(block, cfg.name, initialize_registers=False),
                          cfg.name, folder / "yosys")
    out = {}
    for net in block.logic_subset("m@"):
        mem = net.op_param[1]
        if isinstance(mem, pyrtl.RomBlock):
            continue
        how = mapped["mappings"].get(mem.name, "absent")
        out[mem.name] = (mem.bitwidth << mem.addrwidth,
                         how if how == "absent" else mapping_class(how))
    return out


@pytest.mark.slow
@pytest.mark.tools
def test_every_memory_of_a_two_core_per_core_design_above_2_kbit_is_block_ram(tmp_path,
                                                                              yosys_tool):
    """tests/hw/test_memory_map.py's one-core pendulum-sized design with two cores, each
    its copy of the memories holding its rows: every memory above 2 Kbit is block RAM
    (with shared memories all twelve banked memories of the two-core design fall back
    to flip-flops), the descriptor tables too, with the read port the incoming link's
    base takes.  ``smem`` keeps a read and a write port per word its units use (7
    reads, 4 writes on a 1 x 1 core: flip-flops); its copies, 48 words (32 + a tail of
    16, each under 2 Kbit), are what the deeper core's rows need (64 words a copy
    before the copies were trimmed, 3,136 bits in flip-flops; 3 min 41 s of Yosys under
    load, 2026-12-06)."""
    from fixar_gen.hw.inventory import BLOCK_RAM
    from .test_memory_map import BLOCK_RAM_ABOVE_BITS, ONE_CORE_SPEC
    mapping = data_memory_mapping(ONE_CORE_SPEC.replace("cores: 1", "cores: 2"), tmp_path)
    assert any(name.startswith("core1_mem_") for name in mapping)
    bad = {name: m[1] for name, m in mapping.items()
           if m[0] > BLOCK_RAM_ABOVE_BITS and m[1] != BLOCK_RAM}
    assert bad == {}
    assert all(mapping[f"core{k}_mem_desc"][1] == BLOCK_RAM for k in range(2))
    banked = [name for name in mapping if "_bank" in name]
    assert len(banked) == 2 * 22 and all(mapping[n][1] == BLOCK_RAM for n in banked)


@pytest.mark.slow       # pendulum's design on PyRTL (about 4 minutes)
def test_pendulums_actions_on_per_core_memories_identical():
    """examples/pendulum.yaml (two cores of 4 x 4) on per-core memories: its greedy and
    exploring actions at batch 1 (the programs with their transfers, 4 xfer each,
    compiled with the training programs) equal golden's, each run's cycles the cycle
    model's (951 and 1,025 on 2026-12-06).  Its training step (about 138,000 cycles)
    is not run on PyRTL here."""
    from fixar_gen import load_spec

    from ..conftest import EXAMPLES
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    golden, hw = open_core(spec, "golden"), PerCoreHardwareCore(spec)
    params = random_params(spec, seed=1)
    golden.load_params(params)
    hw.load_params(params)
    states = uniform_batch(spec, golden.formats, np.random.default_rng(0), size=2).states
    for explore in (False, True):
        program = hw.program("explore" if explore else "infer", 1)
        assert transfers_of(program).instructions
        for k in range(2):
            np.testing.assert_array_equal(
                hw.infer("actor", states[k:k + 1], explore=explore),
                golden.infer("actor", states[k:k + 1], explore=explore))
            assert hw.stats.cycles == hw.machine.modeled_cycles(program)



def test_open_core_simulates_per_core_memories_when_the_spec_asks(monkeypatch):
    """`hardware.per_core_memories` on a multi-core spec reaches the simulated backends
    (`fixar cosim`, `fixar train --backend pyrtl`): open_core gives the per-core core on
    a per-core design; on one core, or without the field, the shared one.  (The design
    is not elaborated here: `open_machine` stands in.)"""
    from fixar_gen.backends import HardwareCore
    from fixar_gen.dsl import Cores, Default, PerCoreMemories
    from fixar_gen.hw import session
    opened = []

    def open_machine(spec, backend, cfg=None):
        opened.append(cfg if cfg is not None else session.simulation_config(spec))
        return object()

    monkeypatch.setattr(session, "open_machine", open_machine)
    for spec, per_core in (((Default() + Cores(2) + PerCoreMemories()).spec(), True),
                           ((Default() + Cores(1) + PerCoreMemories()).spec(), False),
                           ((Default() + Cores(2)).spec(), False)):
        core = open_core(spec, "verilator")
        assert isinstance(core, PerCoreHardwareCore) == per_core
        assert isinstance(core, HardwareCore)
        assert opened.pop().per_core_memories == per_core
