"""The generated RTL: generation and Verilator build times, simulation speed of PyRTL
FastSimulation and Verilator on the example cores, and RTL cycles against the models.

    python benchmarks/bench_hardware.py [--no-write] [--examples PATH ...]

For each example core: `fixar generate` (elaboration + Verilog) time, the Verilator
model's build time (a cold build: the cache is pointed at a fresh folder), then the
same DDPG programs (a training step and a batch-1 inference) on PyRTL and on Verilator
-- simulated cycles per second of each, the ratio, measured in the same run -- and the
cycles the RTL reports next to the RTL's cycle model and the FIXAR target model.
PyRTL runs only where it finishes in reasonable time (the big example's training step
is skipped on it and says so).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import ROOT, machine, publish  # noqa: E402

from fixar_gen import load_spec  # noqa: E402
from fixar_gen.backends import HardwareCore, random_params  # noqa: E402
from fixar_gen.generate import generate  # noqa: E402
from fixar_gen.hw.design import config_for  # noqa: E402
from fixar_gen.hw.session import open_machine, verilator_model  # noqa: E402
from fixar_gen.perf import schedule  # noqa: E402
from fixar_gen.testing import uniform_batch  # noqa: E402

HEADING = "## Generated RTL: build times, simulation speed, cycles"
EXAMPLES = ("examples/pendulum.yaml", "examples/halfcheetah.yaml", "examples/fixar_u50.yaml")
#: design points of the sweep small enough to simulate a training step of (pendulum's
#: networks): (cores, rows, cols)
SWEEP_POINTS = ((1, 2, 2), (3, 3, 5), (4, 8, 8))
PYRTL_TRAIN_LIMIT_PES = 64       # PyRTL runs the training step only on cores this small


def _run(core: HardwareCore, spec, what: str, rng) -> tuple[int, float]:
    """(cycles, wall seconds) of one program on ``core``."""
    if what == "train":
        batch = uniform_batch(spec, core.formats, rng)
        t = time.perf_counter()
        core.train_step(batch)
    else:
        states = uniform_batch(spec, core.formats, rng, size=1).states
        t = time.perf_counter()
        core.infer("actor", states)
    return core.stats.cycles, time.perf_counter() - t


def measure(path: str) -> dict:
    spec = load_spec(ROOT / path)
    row: dict = {"path": path, "spec": spec}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        generate(spec, Path(tmp) / "gen")
        row["generate_s"] = time.perf_counter() - t
        os.environ["FIXAR_CACHE"] = str(Path(tmp) / "cache")       # a cold build
        cfg = config_for(spec)
        model = verilator_model(cfg)
        row["verilator_build_s"] = model.build_seconds
        params = random_params(spec, 0)
        sims = {"verilator": HardwareCore(spec, backend="verilator",
                                          machine=open_machine(spec, "verilator", cfg))}
        small = spec.hardware.pe_count <= PYRTL_TRAIN_LIMIT_PES
        if path != "examples/halfcheetah.yaml":       # the same design as fixar_u50's
            sims["pyrtl"] = HardwareCore(spec, backend="pyrtl",
                                         machine=open_machine(spec, "pyrtl", cfg))
        for name, core in sims.items():
            core.load_params(params)
            for what in ("infer", "train"):
                if name == "pyrtl" and what == "train" and not small:
                    continue
                import numpy as np
                cycles, seconds = _run(core, spec, what, np.random.default_rng(1))
                row[(name, what)] = (cycles, seconds)
                program = core.program("train" if what == "train" else "infer",
                                       spec.algorithm.batch_size if what == "train" else 1)
                row[("model", what)] = (core.machine.modeled_cycles(program),
                                        schedule(program, spec).total_cycles)
            core.close()
        del os.environ["FIXAR_CACHE"]
    return row


def validate(points=SWEEP_POINTS) -> list[str]:
    """Training-step cycles on Verilator vs the RTL model and the target model, for
    sweep points of pendulum's networks."""
    import dataclasses

    import numpy as np

    base = load_spec(ROOT / "examples/pendulum.yaml")
    out = ["| cores x array | RTL cycles (Verilator) | RTL model | difference | FIXAR model "
           "| RTL / FIXAR model |", "|---|---:|---:|---:|---:|---:|"]
    for cores, rows, cols in points:
        spec = dataclasses.replace(base, hardware=dataclasses.replace(
            base.hardware, cores=cores, array=(rows, cols)))
        core = HardwareCore(spec, backend="verilator")
        core.load_params(random_params(spec, 0))
        cycles, _ = _run(core, spec, "train", np.random.default_rng(2))
        program = core.program("train", spec.algorithm.batch_size)
        model = core.machine.modeled_cycles(program)
        target = schedule(program, spec).total_cycles
        core.close()
        out.append(f"| {cores} x {rows}x{cols} | {cycles:,} | {model:,} | "
                   f"{(cycles - model) / model:+.2%} | {target:,} | {cycles / target:.2f}x |")
    return out


def table(rows: list[dict]) -> list[str]:
    out = ["| example | cores x array | generate | Verilator build | program | RTL cycles "
           "| RTL model | FIXAR model | PyRTL cycles/s | Verilator cycles/s | ratio |",
           "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        spec = r["spec"]
        shape = f"{spec.hardware.cores} x {spec.hardware.rows}x{spec.hardware.cols}"
        for what in ("infer", "train"):
            v_cycles, v_s = r[("verilator", what)]
            rtl_model, fixar_model = r[("model", what)]
            if ("pyrtl", what) in r:
                p_cycles, p_s = r[("pyrtl", what)]
                assert p_cycles == v_cycles
                p_rate = f"{p_cycles / p_s:,.0f}"
                ratio = f"{(v_cycles / v_s) / (p_cycles / p_s):,.0f}x"
            else:
                p_rate, ratio = "(not run: too slow)", "-"
            label = "actor inference, batch 1" if what == "infer" else \
                f"training step, batch {spec.algorithm.batch_size}"
            out.append(f"| {r['path']} | {shape} | {r['generate_s']:.1f} s | "
                       f"{r['verilator_build_s']:.1f} s | {label} | {v_cycles:,} | "
                       f"{rtl_model:,} | {fixar_model:,} | {p_rate} | "
                       f"{v_cycles / v_s:,.0f} | {ratio} |")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--examples", nargs="+", choices=EXAMPLES, metavar="PATH",
                        help="measure only these examples and print their rows (the "
                        "section of BENCHMARKS.md is rewritten only by a full run)")
    args = parser.parse_args(argv)
    if args.examples:
        print(f"- Machine: {machine()}")
        print("\n".join(table([measure(path) for path in args.examples])))
        return 0
    rows = [measure(path) for path in EXAMPLES]
    text = "\n".join([
        HEADING, "",
        "Measured in one run. 'RTL cycles' are what the simulated core reports (PyRTL and "
        "Verilator agree to the cycle); 'RTL model' is the generated RTL's own cycle model "
        "(`fixar_gen/hw/core.py: execution_cycles` through `perf.schedule_with`), 'FIXAR "
        "model' the target schedule of `fixar estimate` (`perf.Timing`: C-lane pipelined "
        "vector unit, 512-bit DMA). Simulation speed is wall-clock time of the program "
        "run only (the host's loads of buffers and instructions are outside it). The "
        "Verilator build is cold (empty cache); later builds of the same design are "
        "cache hits.", "",
        f"- Machine: {machine()}",
        "- Command: `python benchmarks/bench_hardware.py`",
        f"- Date: {datetime.date.today().isoformat()}", "",
        *table(rows), "",
        "Against the targets: `fixar generate examples/fixar_u50.yaml` (elaboration, "
        "Verilog of the core and of the U50 kernel, packaging) stays under 60 s and its "
        "Verilator model compiles (the 'generate' and 'Verilator build' columns). "
        "Verilator is **not** 50x faster than PyRTL's FastSimulation on these cores "
        "(the 'ratio' column; the batch-1 inferences are short enough that the host's "
        "per-run work dominates both). The generated design is wide: every cycle "
        "Verilator evaluates C vector lanes per core with 122- to 149-bit align/round "
        "datapaths (sized from the spec's formats) "
        "and 64 x 50-bit multipliers (Verilator's slow wide arithmetic, VL_*_W), whether "
        "or not they are busy, and a scratchpad of 82-bit words. Pipelining and narrowing "
        "the lanes (the performance gap in docs/hardware.md) is also what would speed up "
        "the simulation.", "",
        "### Cycle model validation (training step, pendulum's networks, batch 64)", "",
        "The same training program on sweep points small enough to simulate: the RTL's "
        "cycles against its model (exact: 0.00% is the goal and the result) and against "
        "the target schedule `fixar estimate` reports.", "",
        *validate(), ""])
    publish(HEADING, text, args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
