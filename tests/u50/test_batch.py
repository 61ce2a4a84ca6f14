"""The host side of the U50 command protocol, executed on a software model of the
kernel over the PyRTL core: the same results as driving the core directly."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from fixar_gen.hw.core import build_core
from fixar_gen.hw.drivers import PyrtlDriver
from fixar_gen.hw.host import HardwareMachine
from fixar_gen.programs import programs
from fixar_gen.targets.u50.batch import CommandDriver, model_executor
from fixar_gen.targets.u50.commands import (Command, encode_commands, pack_entries,
                                            unpack_entries)
from fixar_gen.verify import check_program
from tests.hw.test_core import small_config, small_spec

SPEC = small_spec(2, 2, 2)
CFG = small_config(SPEC)
INNER = PyrtlDriver(CFG, build_core(CFG))
DRIVER = CommandDriver(CFG.hostmap, model_executor(CFG.hostmap, INNER))
MACHINE = HardwareMachine(CFG, DRIVER)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs(SPEC))
def test_programs_through_the_command_protocol_equal_golden(case):
    diff = check_program(case, MACHINE)
    assert diff is None, f"{diff}\n{case.listing()}"


def test_entries_pack_and_unpack_at_every_width():
    for bits in (1, 32, 63, 64, 65, 82, 128, 160):
        values = [0, (1 << bits) - 1, 1 << (bits - 1), 12345 % (1 << bits)]
        packed = pack_entries(values, bits)
        assert len(packed) == len(values) * -(-bits // 64)
        assert unpack_entries(packed, bits) == values


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


def test_writes_are_batched_into_one_invocation():
    before = DRIVER.invocations
    DRIVER.write("data", 0, [1, 2, 3])
    DRIVER.write("data", 3, [4])
    assert DRIVER.invocations == before
    assert DRIVER.read(0, 4) == [1, 2, 3, 4]
    assert DRIVER.invocations == before + 1
    assert np.array_equal(np.array(DRIVER.read(2, 2)), np.array([3, 4]))
