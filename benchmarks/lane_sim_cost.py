"""What the vector lane costs the simulators, on the tree it runs from: test_core's
small design (``small_config(small_spec(2, 3, 2))``: nets, register bits, Verilog
bytes), PyRTL FastSimulation of test_core's 2-core training step (``tiny_ddpg(2, 3, 2,
5)``, two training steps with golden alongside) and Verilator on
examples/fixar_u50.yaml's lane alone (random elements through ``Sim.drive``):

    python benchmarks/lane_sim_cost.py [--cycles N]

To compare two versions run it on each tree (``PYTHONPATH`` on the tree), back to back.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyrtl  # noqa: E402

import fixar_gen  # noqa: E402
from fixar_gen import load_spec  # noqa: E402
from fixar_gen.backends import open_core, random_params  # noqa: E402
from fixar_gen.hw.core import build_core  # noqa: E402
from fixar_gen.hw.design import config_for  # noqa: E402
from fixar_gen.hw.vector import ELEMENT_OPS, ElementInputs, build_vector_unit  # noqa: E402
from fixar_gen.hw.verilate import VerilatorModel, emit_verilog  # noqa: E402
from fixar_gen.testing import train_both, uniform_batch  # noqa: E402
from tests.hw.test_core import small_config, small_spec, tiny_ddpg  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200_000,
                        help="Verilator cycles of the lane (default: %(default)s)")
    args = parser.parse_args(argv)
    print(f"tree: {Path(fixar_gen.__file__).parent.parent}")
    cfg = small_config(small_spec(2, 3, 2))
    block = build_core(cfg)
    regs = block.wirevector_subset(pyrtl.Register)
    verilog = emit_verilog(block, cfg.name)
    print(f"small core (2x3 PEs, 2 cores, 3 lanes a core): {len(block.logic):,} nets, "
          f"{sum(r.bitwidth for r in regs):,} register bits, Verilog "
          f"{len(verilog.encode()):,} bytes")

    spec = tiny_ddpg(2, 3, 2, 5)
    golden, hw = open_core(spec, "golden"), open_core(spec, "pyrtl")
    params = random_params(spec, seed=23)
    golden.load_params(params)
    hw.load_params(params)
    rng = np.random.default_rng(2)
    cycles, start = 0, time.perf_counter()
    for _ in range(2):
        train_both(golden, hw, uniform_batch(spec, golden.formats, rng))
        cycles += hw.stats.cycles
    took = time.perf_counter() - start
    print(f"PyRTL, two training steps of tiny_ddpg(2, 3, 2, 5): {took:.1f} s, "
          f"{cycles:,} cycles")

    lane_cfg = config_for(load_spec(ROOT / "examples" / "fixar_u50.yaml"))
    lane, design = build_vector_unit(lane_cfg.word, lane_cfg.acc_overflow,
                                     limits=lane_cfg.lane)
    pick = random.Random(1)
    n = args.cycles
    inputs = {design.port(k): [pick.getrandbits(bits) for _ in range(n)]
              for k, bits in ElementInputs.widths(lane_cfg.word).items()}
    inputs[design.port("op")] = [pick.randrange(len(ELEMENT_OPS)) for _ in range(n)]
    with tempfile.TemporaryDirectory() as cache:
        model = VerilatorModel.from_block(lane, "fixar_lane", cache_dir=cache)
        with model.start() as sim:
            start = time.perf_counter()
            sim.drive(inputs, [design.port("d_out")])
            took = time.perf_counter() - start
    print(f"Verilator, fixar_u50's lane alone: {n:,} cycles in {took:.2f} s = "
          f"{n / took:,.0f} cycles/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
