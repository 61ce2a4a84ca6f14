"""Verilator simulation speed of one small generated core: cycles per second of a
DDPG training step (pendulum's networks on 1 core of 2x2 PEs, batch 64).

    python benchmarks/bench_verilator_speed.py [--cores N --rows R --cols C]

Prints the build time (a cold build into a fresh cache folder), the cycles the RTL
reports and the simulated cycles per second (wall time of the program run only).  Used
to compare two versions of the generator on the same machine, in the same session.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import ROOT  # noqa: E402

from fixar_gen import load_spec  # noqa: E402
from fixar_gen.backends import HardwareCore, random_params  # noqa: E402
from fixar_gen.testing import uniform_batch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=1)
    parser.add_argument("--rows", type=int, default=2)
    parser.add_argument("--cols", type=int, default=2)
    args = parser.parse_args()
    base = load_spec(ROOT / "examples/pendulum.yaml")
    spec = dataclasses.replace(base, hardware=dataclasses.replace(
        base.hardware, cores=args.cores, array=(args.rows, args.cols)))
    with tempfile.TemporaryDirectory() as cache:
        os.environ["FIXAR_CACHE"] = cache
        t = time.perf_counter()
        core = HardwareCore(spec, backend="verilator")
        build = time.perf_counter() - t
        core.load_params(random_params(spec, 0))
        batch = uniform_batch(spec, core.formats, np.random.default_rng(2))
        t = time.perf_counter()
        core.train_step(batch)
        seconds = time.perf_counter() - t
    cycles = core.stats.cycles
    print(f"{args.cores} x {args.rows}x{args.cols}: build {build:.1f} s, training step "
          f"{cycles:,} cycles in {seconds:.2f} s = {cycles / seconds:,.0f} cycles/s")


if __name__ == "__main__":
    main()
