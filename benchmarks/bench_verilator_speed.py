"""Verilator simulation speed of a generated core: cycles per second of one training
step of a spec (default: pendulum's networks on 1 core of 2x2 PEs, batch 64), and of
PyRTL's simulation of the same step where asked.

    python benchmarks/bench_verilator_speed.py [--spec SPEC] [--cores N --rows R --cols C]
                                               [--no-params] [--cache DIR] [--pyrtl]
                                               [--verilator-flag=FLAG ...]

Prints the build time (a cold build into a fresh cache folder, or a warm one from
``--cache DIR``), the cycles the RTL reports and the simulated cycles per second (wall
time of the program run only: the host's loads of parameters and the batch are outside
it).  ``--no-params`` skips the load of the parameters (the step then trains on the
memories' reset contents: the same program and cycles; on a big core the load alone
takes minutes of simulation).  ``--pyrtl`` runs the same step on PyRTL's simulation too
(slow: hundreds of cycles a second on a 16x16 core).  ``--verilator-flag`` appends an
option to Verilator's (``fixar_gen.hw.verilate.FLAGS``; the model cache keys on them),
to try a build option against the defaults.  The script uses only what every
version of the generator since the first Verilator backend offers (``HardwareCore``,
``random_params``, ``uniform_batch``), so that an older tree can be measured with it in
the same session (``PYTHONPATH=<that tree> python benchmarks/bench_verilator_speed.py``).  An installed
tree maps ``fixar_gen.dsl``, ``fixar_gen.rl`` and ``fixar_gen.targets`` to the top-level
``dsl/``, ``rl/`` and ``targets/`` folders (pyproject's package-dir), so an older tree
unpacked by ``git archive`` needs those three as links inside its ``fixar_gen/``
(``ln -s ../dsl fixar_gen/dsl`` and so on), or they come from the installed tree; the
script stops if its modules come from more than one tree.  The step's time excludes
the first program's setup (buffers placed and zeroed, constants), printed apart.
Beside wall time it prints the Verilator harness process's own CPU time for the setup
and the step (``/proc``), and the simulated cycles per CPU-second: on a machine shared
with other jobs the wall-clock figure moves with their load, the CPU figure much less.
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

ROOT = Path(__file__).resolve().parents[1]

from fixar_gen import load_spec  # noqa: E402
from fixar_gen.backends import HardwareCore, random_params  # noqa: E402
from fixar_gen.testing import uniform_batch  # noqa: E402


def _phase(spec) -> str:
    """The program of the first training step (trees before the TD3 programs: "train")."""
    import fixar_gen
    if not (Path(fixar_gen.__file__).parent / "algorithms").is_dir():
        return "train"           # not imported: the installed tree would supply it
    from fixar_gen import algorithms
    return algorithms.of(spec).train_phase(spec, 0)


def _one_tree() -> Path:
    """The tree (the folder holding pyproject.toml) every loaded ``fixar_gen`` module
    comes from: an older tree on PYTHONPATH must not mix with the installed one."""
    trees = set()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name.split(".")[0] == "fixar_gen" and file:
            trees.add(next((d for d in Path(file).resolve().parents
                            if (d / "pyproject.toml").exists()), None))
    if len(trees) != 1:
        raise SystemExit(f"fixar_gen is loaded from several trees: {sorted(map(str, trees))}")
    return trees.pop()


def _harness_cpu(core) -> float | None:
    """CPU seconds the Verilator harness process of ``core`` has used (None for PyRTL);
    read from ``/proc`` through the harness process of any tree's ``Sim``."""
    sim = getattr(getattr(getattr(core, "machine", None), "driver", None), "sim", None)
    proc = getattr(sim, "_proc", None)
    if proc is None:
        return None
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def training_step(spec, backend: str, params: bool) -> dict:
    """Build (or reuse) ``backend``'s model of ``spec``'s core and run one training
    step: {build, load, setup, cycles, seconds, setup_cpu, cpu}.  The first program's setup (placing
    and zeroing the buffers, the constants: host writes, minutes of simulation on a big
    core) runs before the timed step."""
    t = time.perf_counter()
    core = HardwareCore(spec, backend=backend)
    build = time.perf_counter() - t
    t = time.perf_counter()
    if params:
        core.load_params(random_params(spec, 0))
    load = time.perf_counter() - t
    batch = uniform_batch(spec, core.formats, np.random.default_rng(2))
    t, c0 = time.perf_counter(), _harness_cpu(core)
    core.program(_phase(spec), batch.size)   # places and zeroes the buffers, constants
    setup, c1 = time.perf_counter() - t, _harness_cpu(core)
    t = time.perf_counter()
    core.train_step(batch)
    seconds, c2 = time.perf_counter() - t, _harness_cpu(core)
    driver = getattr(getattr(core, "machine", None), "driver", None)
    if hasattr(driver, "words_skipped"):
        print(f"{backend}: host data words written {driver.words_written:,}, left out (zeros "
              f"over never-written words) {driver.words_skipped:,}", flush=True)
    out = {"build": build, "load": load, "setup": setup, "cycles": core.stats.cycles,
           "seconds": seconds, "setup_cpu": None if c0 is None else c1 - c0,
           "cpu": None if c0 is None else c2 - c1}
    if hasattr(core, "close"):
        core.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="examples/pendulum.yaml",
                        help="the spec whose training step runs (default: %(default)s)")
    parser.add_argument("--cores", type=int, default=None,
                        help="cores (default: pendulum's 1, else the spec's)")
    parser.add_argument("--rows", type=int, default=None,
                        help="array rows (default: pendulum's 2, else the spec's)")
    parser.add_argument("--cols", type=int, default=None,
                        help="array columns (default: pendulum's 2, else the spec's)")
    parser.add_argument("--no-params", action="store_true",
                        help="do not load the parameters before the step")
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR",
                        help="Verilator's model cache (default: a fresh folder: a cold "
                             "build)")
    parser.add_argument("--pyrtl", action="store_true",
                        help="run the same step on PyRTL's simulation too")
    parser.add_argument("--verilator-flag", action="append", default=[], metavar="FLAG",
                        help="an option appended to Verilator's (repeatable; write "
                             "--verilator-flag=-O3 for one starting with -)")
    args = parser.parse_args(argv)
    if args.verilator_flag:
        from fixar_gen.hw import verilate
        verilate.FLAGS = (*verilate.FLAGS, *args.verilator_flag)
    path = Path(args.spec)
    base = load_spec(path if path.is_absolute() else ROOT / path)
    small = args.spec == parser.get_default("spec")
    cores = args.cores or (1 if small else base.hardware.cores)
    rows = args.rows or (2 if small else base.hardware.array[0])
    cols = args.cols or (2 if small else base.hardware.array[1])
    spec = dataclasses.replace(base, hardware=dataclasses.replace(
        base.hardware, cores=cores, array=(rows, cols)))
    print(f"generator: {_one_tree()}; spec {args.spec}, "
          f"{cores} x {rows}x{cols}; extra Verilator options {args.verilator_flag}; load "
          f"average {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as fresh:
        os.environ["FIXAR_CACHE"] = str(args.cache or fresh)
        backends = ("verilator", "pyrtl") if args.pyrtl else ("verilator",)
        runs = {b: training_step(spec, b, not args.no_params) for b in backends}
    for backend, r in runs.items():
        print(f"{backend}: {cores} x {rows}x{cols}: build {r['build']:.1f} s, parameters "
              f"{r['load']:.1f} s, setup {r['setup']:.1f} s, training step {r['cycles']:,} cycles in "
              f"{r['seconds']:.2f} s = {r['cycles'] / r['seconds']:,.0f} cycles/s", flush=True)
        if r["cpu"] is not None:
            print(f"{backend}: harness CPU: setup {r['setup_cpu']:.1f} s, training step "
                  f"{r['cpu']:.1f} s = {r['cycles'] / max(r['cpu'], 1e-9):,.0f} cycles per "
                  "CPU-second", flush=True)
    if args.pyrtl:
        v, p = runs["verilator"], runs["pyrtl"]
        print(f"Verilator / PyRTL: {(v['cycles'] / v['seconds']) / (p['cycles'] / p['seconds']):.1f}x"
              f" (cycles equal: {v['cycles'] == p['cycles']})")
    print(f"generator modules from {_one_tree()}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
