"""Wall time of one DDPG update: the golden model against float32 numpy.

(a) the golden core, ``core.train_step`` in FXP32 (bit-exact integer arithmetic), and
(b) :class:`fixar_gen.rl.float_ddpg.FloatDDPG` in float32, the same update in plain
numpy, on the same shapes and batches, for examples/pendulum.yaml and the 400-300
networks of examples/halfcheetah.yaml (HalfCheetah-v5's sizes come from the spec's
environment table: MuJoCo is not needed), at several batch sizes.  The two are timed
alternately, so load from other processes affects both alike; each time is the median
of ``--reps`` updates after one warm-up update (which compiles the program).

Writes (or replaces) its section of BENCHMARKS.md at the repository root:

    python benchmarks/bench_golden_step.py [--reps 15] [--batches 64 256] [--no-write]

BLAS runs single-threaded unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS
say otherwise: both sides then get one core, and the times do not depend on what else
the machine is running (threaded BLAS on a busy machine varies by 5x and more).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")      # before numpy is imported

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import datetime  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from fixar_gen import load_spec  # noqa: E402
from fixar_gen.backends import Batch, open_core, random_params  # noqa: E402
from fixar_gen.rl.float_ddpg import FloatDDPG, from_core_params  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import machine, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Golden model vs float32 numpy (one DDPG update)"
SPECS = ("examples/pendulum.yaml", "examples/halfcheetah.yaml")
TARGET_RATIO = 2.0


def with_batch(spec, batch: int):
    return dataclasses.replace(
        spec, algorithm=dataclasses.replace(spec.algorithm, batch_size=batch))


def random_batch(rng, spec, formats) -> tuple[Batch, dict[str, np.ndarray]]:
    """Raw integers for the core and the same values as float32 for FloatDDPG."""
    size, obs, act = spec.algorithm.batch_size, spec.obs_dim, spec.action_dim
    raw = Batch(states=formats["states"].quantize(rng.normal(size=(size, obs))),
                actions=formats["actions"].quantize(rng.uniform(-1, 1, (size, act))),
                rewards=formats["rewards"].quantize(rng.normal(size=(size, 1))),
                next_states=formats["states"].quantize(rng.normal(size=(size, obs))),
                dones=(rng.uniform(size=(size, 1)) < 0.01).astype(np.int64))
    return raw, {k: v.astype(np.float32) for k, v in raw.to_float(formats).items()}


def measure(spec, reps: int, seed: int = 0) -> tuple[float, float]:
    """Median seconds per update: (golden, float32)."""
    core = open_core(spec, "golden")
    core.load_params(random_params(spec, seed))
    agent = FloatDDPG(spec, np.float32, from_core_params(core.read_params(), spec, np.float32))
    raw, floats = random_batch(np.random.default_rng(seed), spec, core.formats)
    core.train_step(raw)                 # warm-up: compiles and allocates the program
    agent.train_step(**floats)
    golden, float32 = [], []
    for _ in range(reps):
        start = time.perf_counter()
        core.train_step(raw)
        golden.append(time.perf_counter() - start)
        start = time.perf_counter()
        agent.train_step(**floats)
        float32.append(time.perf_counter() - start)
    return statistics.median(golden), statistics.median(float32)


def section(rows: list[tuple], reps: int, command: str, about: str) -> str:
    lines = [
        HEADING, "",
        "Wall time of one whole DDPG update (target networks and Bellman target, critic "
        "forward/backward/Adam, actor through the updated critic, soft target updates): "
        "(a) the golden model, `core.train_step` in FXP32 (exact integer arithmetic, "
        "the reference every backend must match bit for bit), and (b) the same update in "
        "float32 numpy, `FloatDDPG(spec, np.float32)`, on the same shapes and batch. "
        f"Median of {reps} updates each, timed alternately, after one warm-up update "
        "(program compilation is not timed).", "",
        f"- Machine: {about}",
        f"- Command: `{command}`",
        f"- Date: {datetime.date.today().isoformat()}", "",
        "| spec | actor / critic | cores | batch | golden (ms) | float32 (ms) "
        "| golden / float32 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, nets, cores, batch, golden, float32 in rows:
        lines.append(f"| {name} | {nets} | {cores} | {batch} | {golden * 1e3:.1f} | "
                     f"{float32 * 1e3:.2f} | {golden / float32:.1f}x |")
    worst = max(g / f for *_, g, f in rows)
    verdict = "met" if worst <= TARGET_RATIO else "not met"
    lines += ["", f"Target: golden within {TARGET_RATIO:g}x of float32 -- {verdict} "
              f"(worst ratio {worst:.1f}x).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="timed updates per case")
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--no-write", action="store_true", help="print, do not write "
                        "BENCHMARKS.md")
    args = parser.parse_args(argv)
    about = machine()
    rows = []
    for path in SPECS:
        base = load_spec(ROOT / path)
        nets = "-".join(map(str, base.networks.actor.layer_sizes)) + " / " + \
            "-".join(map(str, base.networks.critic.layer_sizes))
        for batch in args.batches:
            spec = with_batch(base, batch)
            golden, float32 = measure(spec, args.reps)
            rows.append((path, nets, spec.hardware.cores, batch, golden, float32))
            print(f"{path} batch {batch}: golden {golden * 1e3:.1f} ms, float32 "
                  f"{float32 * 1e3:.2f} ms, ratio {golden / float32:.1f}x", flush=True)
    command = " ".join(["python benchmarks/bench_golden_step.py",
                        *(sys.argv[1:] if argv is None else argv)])
    text = section(rows, args.reps, command, about)
    if args.no_write:
        print(text)
    else:
        write_section(HEADING, text)
        print(f"wrote {ROOT / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
