"""The vector lane's square root and divider alone: the ``iter`` stages of
examples/fixar_u50.yaml's lane (``vector.ITER_STAGES`` stages, 1 root bit and 2 quotient
bits a stage, the divider's denominator ``den_bits`` wide) with only their own state
registered, through Yosys ``synth_xilinx -family xcup`` (a part of the lane small
enough to synthesize in minutes on a loaded machine):

    python benchmarks/lane_divider.py [--steps now|before] [--keep DIR]

``--steps before`` builds the steps as they were on a9a5505 (a comparator beside each
subtraction, every remainder at full width from the first step), ``now`` the lane's
:func:`~fixar_gen.hw.vector._sqrt_steps` and :func:`~fixar_gen.hw.vector._divider_stage`.
Prints LUT (LUT1-6 + INV + SRL), FF, CARRY4, the seconds Yosys took and the
register-to-register timing estimate of :mod:`fixar_gen.hw.timing`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyrtl

ROOT = Path(__file__).resolve().parent.parent

from fixar_gen import load_spec  # noqa: E402
from fixar_gen.hw import vector  # noqa: E402
from fixar_gen.hw.design import config_for  # noqa: E402
from fixar_gen.hw.synth import NETLIST, block_verilog, cell_counts  # noqa: E402
from fixar_gen.hw.timing import analyze  # noqa: E402


def _sqrt_before(rad, rem, root, steps):
    for _ in range(steps):
        rem2 = pyrtl.concat(rem, rad[-2:])
        rad = pyrtl.concat(rad[:-2], pyrtl.Const(0, 2))
        trial = pyrtl.concat(root, pyrtl.Const(1, 2))
        ge = rem2 >= trial
        rem = pyrtl.select(ge, (rem2 - trial)[:rem2.bitwidth], rem2)[:rem.bitwidth]
        root = pyrtl.concat(root, ge)[:root.bitwidth]
    return rad, rem, root


def _div_before(num_quo, rem, den, steps):
    for _ in range(steps):
        rem2 = pyrtl.concat(rem, num_quo[-1])
        ge = rem2 >= den
        rem = pyrtl.select(ge, (rem2 - den)[:rem2.bitwidth], rem2)[:rem.bitwidth]
        num_quo = pyrtl.concat(num_quo[:-1], ge)
    return num_quo, rem


def build(den_bits: int, before: bool) -> pyrtl.Block:
    """The iter stages alone: inputs the radicand, the numerator word and the
    denominator, outputs the root, its remainder, the quotient and the remainder."""
    block = pyrtl.Block()
    with pyrtl.set_working_block(block):
        rad = pyrtl.Input(2 * vector.ROOT_BITS, "rad")
        num = pyrtl.Input(vector.DIV_STEPS, "num")
        den_in = pyrtl.Input(den_bits, "den")
        state = {"rad": rad, "num": num, "den": den_in}
        if before:
            state.update(srem=pyrtl.Const(0, vector.ROOT_BITS + 2),
                         sroot=pyrtl.Const(0, vector.ROOT_BITS), drem=pyrtl.Const(0, den_bits))
        else:
            state.update(srem=pyrtl.Const(0, 1), sroot=pyrtl.Const(0, 1),
                         drem=pyrtl.Const(0, 1))
        root_steps = vector.ROOT_BITS
        for stage in range(vector.ITER_STAGES):
            steps = min(vector.SQRT_STEPS_PER_STAGE, root_steps)
            root_steps -= steps
            if before:
                r, sr, so = _sqrt_before(state["rad"], state["srem"], state["sroot"], steps)
                nq, dr = _div_before(state["num"], state["drem"], state["den"],
                                     vector.DIV_BITS_PER_STAGE)
            else:
                r, sr, so = vector._sqrt_steps(state["rad"], state["srem"], state["sroot"],
                                               steps, vector.ROOT_BITS + 2)
                fits = {int(k[3:]): w for k, w in state.items() if k.startswith("dhz")}
                nq, dr, fits = vector._divider_stage(
                    stage == 0, stage == vector.ITER_STAGES - 1, state["num"], state["drem"],
                    state["den"], fits)
            nxt = {}
            if not before:
                for n, wire in fits.items():
                    reg = pyrtl.Register(1)
                    reg.next <<= wire
                    nxt[f"dhz{n}"] = reg
            for key, wire in (("rad", r), ("srem", sr), ("sroot", so), ("num", nq),
                              ("drem", dr), ("den", state["den"])):
                reg = pyrtl.Register(wire.bitwidth)
                reg.next <<= wire
                nxt[key] = reg
            state = nxt
        for key in ("srem", "sroot", "num", "drem"):
            out = pyrtl.Output(state[key].bitwidth, f"out_{key}")
            out <<= state[key]
    return block


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", choices=("now", "before"), default="now")
    parser.add_argument("--keep", type=Path, help="keep Yosys's folder here")
    args = parser.parse_args(argv)
    cfg = config_for(load_spec(ROOT / "examples/fixar_u50.yaml"))
    limits = cfg.lane
    den_bits = min(vector.SCALAR, max(limits.data_width, limits.const_int + limits.data_frac)
                   + 2)
    verilog = block_verilog(build(den_bits, args.steps == "before"), "lane_divider")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="lane_divider_"))
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    cells = cell_counts(verilog, "lane_divider", folder, timeout=7_200, netlist=True)
    seconds = time.perf_counter() - start
    timing = analyze(folder / NETLIST, "lane_divider", verilog=verilog)
    by_type = cells
    luts = sum(n for t, n in by_type.items()
               if t.startswith(("LUT", "SRL")) or t == "INV")
    ffs = sum(n for t, n in by_type.items() if t.startswith("FD"))
    print(f"steps {args.steps}: den {den_bits} bits, {vector.ITER_STAGES} stages: "
          f"{luts:,} LUT, {ffs:,} FF, {by_type.get('CARRY4', 0):,} CARRY4; Yosys "
          f"{seconds:.0f} s")
    worst = timing.worst
    print(f"timing estimate (docs/hardware.md's delay model): worst {worst.ns:.2f} ns "
          f"({worst.lut_levels} LUT levels, {worst.carry_chains} carry chains of "
          f"{worst.carry_cells} cells), {timing.deepest.lut_levels} LUT levels at most, "
          f"{timing.failing_endpoints} endpoint bits over the clock")
    return 0


if __name__ == "__main__":
    sys.exit(main())
