"""The host side of the U50 command protocol, executed on a software model of the
kernel over the PyRTL core: the same results as driving the core directly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixar_gen.hw.core import build_core
from fixar_gen.hw.drivers import PyrtlDriver
from fixar_gen.hw.host import HardwareMachine
from fixar_gen.programs import programs
from fixar_gen.targets.u50.batch import CommandDriver, model_executor
from fixar_gen.hw.hostmap import HostMap
from fixar_gen.targets.u50.commands import (AXI_DATA_BITS, MEMORIES, Command, Layout,
                                            command_problem, encode_commands, layout)
from fixar_gen.targets.u50.wires import ceil_div_model
from fixar_gen.verify import check_program
from tests.hw.test_core import small_config, small_spec
from tests.conftest import examples

SPEC = small_spec(2, 2, 2)
CFG = small_config(SPEC)
INNER = PyrtlDriver(CFG, build_core(CFG))
DRIVER = CommandDriver(CFG.hostmap, model_executor(CFG.hostmap, INNER))
MACHINE = HardwareMachine(CFG, DRIVER)


@settings(max_examples=examples(25), deadline=None, suppress_health_check=list(HealthCheck))
@given(programs(SPEC))
def test_programs_through_the_command_protocol_equal_golden(case):
    diff = check_program(case, MACHINE)
    assert diff is None, f"{diff}\n{case.listing()}"


@pytest.mark.parametrize("beat", AXI_DATA_BITS)
def test_entries_pack_and_unpack_at_every_width(beat):
    for bits in (1, 28, 32, 63, 64, 65, 70, 82, 128, 160, 256, 300):
        lay = Layout(bits, beat)
        assert lay.beats_per_unit == -(-bits // beat)
        assert lay.per_unit == lay.beats_per_unit * beat // bits >= 1
        for count in (1, lay.per_unit - 1, lay.per_unit, lay.per_unit + 1, 7):
            if count < 1:
                continue
            values = [(1 << bits) - 1, 0, 1 << (bits - 1), 12345 % (1 << bits)] * count
            values = values[:count]
            packed = lay.pack(values)
            assert packed.dtype == np.uint64
            assert len(packed) == lay.words(count) == lay.units(count) * lay.unit_bits // 64
            assert lay.unpack(packed, count) == values
            # entry i of a unit sits at bit i * bits of the unit, little-endian; zero above
            unit = int.from_bytes(packed[:lay.unit_bits // 64].astype("<u8").tobytes(),
                                  "little")
            first = values[:lay.per_unit]
            assert unit == sum(v << (i * bits) for i, v in enumerate(first))


def test_the_core_data_word_packs_three_to_a_256_bit_beat():
    lay = layout(CFG.hostmap, "data", 256)
    assert lay.bits == 82 and lay.per_unit == 3 and lay.beats_per_unit == 1
    assert lay.efficiency > 0.96
    assert Layout(82, 64).per_unit == 1 and Layout(82, 64).beats_per_unit == 2
    assert Layout(82, 512).per_unit == 6


@settings(max_examples=examples(300), deadline=None)
@given(st.integers(1, 64), st.one_of(st.integers(0, 2**32 - 1),
                                     st.sampled_from([0, 1, 2**32 - 1, 2**32 - 2, 2**31])))
def test_the_kernel_divides_by_a_constant_exactly(k, x):
    """The kernel's unit count ceil(count / per_unit) (a multiply by a reciprocal)."""
    assert ceil_div_model(x, k, 32) == -(-x // k)


@pytest.mark.parametrize("pipelined", [False, True])
def test_the_kernel_ceil_div_hardware_matches_its_model(pipelined):
    """One multiplier, the reciprocal selected by the command: every choice exact,
    combinational or DIVIDE_CYCLES later."""
    import pyrtl
    from fixar_gen.hw.build import fresh_block
    from fixar_gen.targets.u50.wires import DIVIDE_CYCLES, ceil_div
    ks = (3, 1, 6, 7, 9, 16, 18, 25, 2)
    cases = [0, 1, 2, 3, 5, 6, 7, 2**31, 2**32 - 3, 2**32 - 2, 2**32 - 1]
    with fresh_block() as block:
        x = pyrtl.Input(32, "x")
        which = pyrtl.Input(4, "which")
        out = pyrtl.Output(40, "q")
        out <<= ceil_div(x, [(which == i, k) for i, k in enumerate(ks)], 32,
                         pipelined=pipelined)
    wait = DIVIDE_CYCLES if pipelined else 0
    with pyrtl.set_working_block(block):
        sim = pyrtl.FastSimulation(tracer=None)
        for i, k in list(enumerate(ks)) + [(15, ks[-1])]:   # 15: no condition holds
            for value in cases:
                for _ in range(wait + 1):
                    sim.step({"x": value, "which": i})
                assert sim.inspect("q") == -(-value // k), (k, value)


@settings(max_examples=examples(60), deadline=None)
@given(st.integers(1, 300), st.sampled_from(AXI_DATA_BITS), st.data())
def test_any_entries_round_trip_through_the_packing(bits, beat, data):
    lay = Layout(bits, beat)
    values = data.draw(st.lists(st.integers(0, (1 << bits) - 1), min_size=1, max_size=40))
    packed = lay.pack(values)
    assert len(packed) * 64 == lay.units(len(values)) * lay.unit_bits
    assert lay.unpack(packed, len(values)) == values
    # entries never straddle a unit, and a unit uses at most its bits
    assert lay.per_unit * bits <= lay.unit_bits < (lay.per_unit + 1) * bits + beat


def test_command_list_ends_with_end_and_checks_alignment():
    words = encode_commands([Command("LOAD", "imem", 1, 5, 3, 16)])
    assert [int(w) for w in words[:4]] == [1 | 3 << 8 | 1 << 16, 5, 3, 16]
    assert [int(w) for w in words[4:]] == [0, 0, 0, 0]
    try:
        Command("LOAD", offset=12).words()
    except ValueError as exc:
        assert "multiple of 8" in str(exc)
    else:
        raise AssertionError("an unaligned offset was accepted")
    with pytest.raises(ValueError, match="multiple of 32"):
        encode_commands([Command("LOAD", offset=16)], align=32)


def test_writes_are_batched_into_one_invocation():
    before = DRIVER.invocations
    DRIVER.write("data", 0, [1, 2, 3])
    DRIVER.write("data", 3, [4])
    assert DRIVER.invocations == before
    assert DRIVER.read(0, 4) == [1, 2, 3, 4]
    assert DRIVER.invocations == before + 1
    assert np.array_equal(np.array(DRIVER.read(2, 2)), np.array([3, 4]))


@settings(max_examples=examples(80), deadline=None)
@given(st.integers(1, 200), st.sampled_from(AXI_DATA_BITS), st.data())
def test_signed_int64_arrays_pack_as_their_twos_complement(bits, beat, data):
    """The host's array path (HardwareMachine.write_data) sends what the int path sends
    for the same values: the low ``bits`` bits of each two's complement, sign-extended
    above bit 63 -- negative extremes, zero, -1 and both int64 ends included."""
    lay = Layout(bits, beat)
    edge = [0, -1, 1, -(1 << 63), (1 << 63) - 1, -(1 << 31), (1 << 31) - 1]
    values = data.draw(st.lists(st.one_of(st.integers(-(1 << 63), (1 << 63) - 1),
                                          st.sampled_from(edge)), min_size=1, max_size=40))
    packed = lay.pack(np.array(values, dtype=np.int64))
    np.testing.assert_array_equal(packed, lay.pack(values))
    assert lay.unpack(packed, len(values)) == [v & ((1 << bits) - 1) for v in values]


# ------------------------------------------------------------------ per-core memories

def test_a_read_of_a_copy_is_a_store_naming_its_core():
    """With per-core memories the host reads a word from one core's copy: the STORE
    command carries that core (the kernel puts it above the memory id of
    ``host_mem_raddr``); a read without a core reads core 0's.  A driver that dropped
    the core would send every STORE with core 0."""
    from fixar_gen.targets.u50.commands import decode_commands
    seen = []

    def record(commands, image):
        seen.extend(decode_commands(commands))
        return image

    driver = CommandDriver(CFG.hostmap, record)
    driver.write("data", 5, [1, 2, 3])
    driver.gather([("read", 5, 3, 1), ("read", 5, 3), ("stat", 1, "cycles", [0])])
    assert [(c.opcode, c.core, c.address, c.count) for c in seen] == [
        ("LOAD", 0, 5, 3), ("STORE", 1, 5, 3), ("STORE", 0, 5, 3), ("STATS", 1, 0, 1)]
    seen.clear()
    driver.read(7, 2, 1)
    assert [(c.opcode, c.core) for c in seen] == [("STORE", 1)]


@pytest.mark.slow       # ~45 s; the default run has these on the Verilated kernel (test_kernel)
@settings(max_examples=examples(10), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_programs_with_transfers_through_the_command_protocol_equal_golden(data):
    """Per-core memories (two cores of 3 x 2, each its own copy): random programs with
    their transfers and read-backs (tests/hw/test_percore_rtl.py's) through the command
    protocol on the kernel's software model -- the host's LOADs reach every copy, each
    STORE reads the copy of the word's last writer, as the PyRTL core driven directly."""
    import dataclasses

    from fixar_gen.transfers import insert_all
    from tests.hw.test_percore_rtl import per_core_machine
    from tests.test_transfers import with_readback
    spec, direct = per_core_machine((3, 2, 2))
    cfg = direct.cfg
    machine = HardwareMachine(cfg, CommandDriver(cfg.hostmap,
                                                 model_executor(cfg.hostmap, direct.driver)))
    case = with_readback(data.draw(programs(spec, max_instructions=4)))
    (moved,) = insert_all([case.program])
    diff = check_program(dataclasses.replace(case, program=moved), machine)
    assert diff is None, f"{diff}\n{case.listing()}"


@pytest.mark.parametrize("cores,per_core", [(1, False), (2, True), (3, True)])
def test_a_move_beyond_the_design_is_refused_before_anything_moves(cores, per_core):
    """commands.command_problem, the rule the kernel's RTL checks too (the cocotb
    test of bad commands): a move naming a core, a copy, an address or entries the
    design does not have is refused; the last entry of every memory is not."""
    hm = HostMap("fixar_core", cores, 82, 6, 5, 4, 2, per_core=per_core)
    last = cores - 1
    for memory in MEMORIES:
        end = 1 << hm.index_bits(memory)
        address = end - 1
        if per_core and memory != "imem":
            address |= last << hm.index_bits(memory)
        assert command_problem(hm, Command("LOAD", memory, last, address, 1)) is None
        assert "past the end" in command_problem(
            hm, Command("LOAD", memory, last, address, 2))
        assert "core" in command_problem(hm, Command("LOAD", memory, cores, 0, 1))
        if per_core and memory != "imem":
            wrong = (1 << hm.core_bits) << hm.index_bits(memory)
            assert command_problem(hm, Command("LOAD", memory, 0, wrong, 1))
            if cores < 1 << hm.core_bits:
                assert "copy" in command_problem(
                    hm, Command("LOAD", memory, 0, cores << hm.index_bits(memory), 1))
        else:
            assert "beyond" in command_problem(hm, Command("LOAD", memory, 0, end, 1))
    end = 1 << hm.data_addr_bits
    assert command_problem(hm, Command("STORE", "data", last, end - 4, 4)) is None
    assert "past the end" in command_problem(hm, Command("STORE", "data", last, end - 4, 5))
    assert "core" in command_problem(hm, Command("STORE", "data", cores, 0, 1))
    assert "core" in command_problem(hm, Command("STATS", "cycles", cores, 0, 1))
    assert command_problem(hm, Command("RUN", "data", 0, 123)) is None


def test_the_software_model_of_the_kernel_refuses_a_bad_move():
    commands = encode_commands([Command("STORE", "data", CFG.cores, 0, 1, 0)])
    with pytest.raises(ValueError, match="command 0: core 2 of a 2-core design"):
        model_executor(CFG.hostmap, INNER)(commands, np.zeros(8, dtype=np.uint64))
