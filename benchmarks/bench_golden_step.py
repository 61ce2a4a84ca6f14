"""Wall time of one DDPG update: the golden model against float32 numpy.

(a) the golden core, ``core.train_step`` in FXP32 (bit-exact integer arithmetic), on its
compiled execution engine (:mod:`fixar_gen.engine`) with numba kernels and with numpy
kernels only, and on the instruction-by-instruction interpreter, and (b)
:class:`fixar_gen.rl.float_ddpg.FloatDDPG` in float32, the same update in plain numpy, on
the same shapes and batches, for examples/pendulum.yaml and the 400-300 networks of
examples/halfcheetah.yaml (HalfCheetah-v5's sizes come from the spec's environment
table: MuJoCo is not needed), at several batch sizes.  The four are timed in turn within
each repetition, so load from other processes affects all alike; each time is the fastest
of ``--reps`` updates after one warm-up update (which compiles the program), since load
from other processes only adds time.  Then where the engine's time goes on both specs
(batch 64), and its memory: resident set size over ``--rss-updates`` pendulum updates.

The breakdown times each step with ``time.perf_counter`` whatever ``--clock`` says:
a thread's CPU clock is a system call on some virtual machines (about 1.6 us a call on
the one BENCHMARKS.md was measured on), as long as a small network's step, while
perf_counter costs about 0.05 us; each step's fastest time over the repetitions is
kept, so time lost to other processes mostly drops out.

``--clock cpu`` (the default) times each update by the CPU time of the timing thread
(``time.thread_time``): BLAS is single-threaded and the numba kernels run in the
calling thread, so that is the whole update's work, and time spent waiting for a core
that other processes hold is left out (on this shared 2-core machine the load average
often exceeds the cores).  ``--clock wall`` times wall-clock (``time.perf_counter``).

Writes (or replaces) its section of BENCHMARKS.md at the repository root:

    python benchmarks/bench_golden_step.py [--reps 15] [--batches 64 256]
        [--rss-updates 10000] [--clock cpu|wall] [--no-write]
    python benchmarks/bench_golden_step.py --loop SPEC BATCH UPDATES   # for perf record

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
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from fixar_gen import load_spec  # noqa: E402
from fixar_gen import engine_numba  # noqa: E402
from fixar_gen.backends import Batch, GoldenCore, open_core, random_params  # noqa: E402
from fixar_gen.rl.float_ddpg import FloatDDPG, from_core_params  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import machine, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Golden model vs float32 numpy (one DDPG update)"
SPECS = ("examples/pendulum.yaml", "examples/halfcheetah.yaml")
TARGET_RATIO = 2.0
CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]


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


#: what is timed: (label, open_core keyword arguments); float32 is timed besides
ENGINES = (("engine", {"engine": "compiled"}),
           ("engine, numpy kernels", {"engine": "compiled", "kernels": "numpy"}),
           ("interpreter", {"engine": "interpreter"}))


def measure(spec, reps: int, seed: int = 0) -> dict[str, float]:
    """Fastest seconds per update of each engine and of float32 (load from other
    processes only ever adds time, and on a shared machine it comes and goes)."""
    cores = {}
    for label, kw in ENGINES:
        core = GoldenCore(spec, **kw)
        core.load_params(random_params(spec, seed))
        cores[label] = core
    first = next(iter(cores.values()))
    agent = FloatDDPG(spec, np.float32, from_core_params(first.read_params(), spec, np.float32))
    wide = FloatDDPG(spec, np.float64, from_core_params(first.read_params(), spec, np.float64))
    raw, floats = random_batch(np.random.default_rng(seed), spec, first.formats)
    floats64 = {k: v.astype(np.float64) for k, v in floats.items()}
    runs = {label: core.train_step for label, core in cores.items()}
    runs["float32"] = lambda _raw: agent.train_step(**floats)
    runs["float64"] = lambda _raw: wide.train_step(**floats64)
    times: dict[str, list[float]] = {label: [] for label in runs}
    for run in runs.values():
        run(raw)                          # warm-up: compiles and allocates the program
    for _ in range(reps):
        for label, run in runs.items():
            start = clock()
            run(raw)
            times[label].append(clock() - start)
    return {label: min(t) for label, t in times.items()}


def breakdown(spec, reps: int, kernels: str, seed: int = 0
              ) -> tuple[dict[str, tuple[float, int]], float, float]:
    """Where the engine's time goes: per kind of step, the sum over the program's steps
    of each step's fastest time in ``reps`` updates (seconds) and how many steps of that
    kind the plan has, the sum over all steps, and the fastest whole update (the
    difference is dispatch and the host side of train_step)."""
    core = GoldenCore(spec, kernels=kernels)
    core.load_params(random_params(spec, seed))
    raw, _ = random_batch(np.random.default_rng(seed), spec, core.formats)
    core.train_step(raw)
    core.machine.step_times = {}
    core.machine.step_clock = time.perf_counter      # cheap (see the module docstring)
    whole = []
    for _ in range(reps):
        start = clock()
        core.train_step(raw)
        whole.append(clock() - start)
    kinds: dict[str, tuple[float, int]] = {}
    for (_, kind), times in core.machine.step_times.items():
        total, count = kinds.get(kind, (0.0, 0))
        kinds[kind] = (total + min(times), count + 1)
    return kinds, sum(t for t, _ in kinds.values()), min(whole)


def loop(path: str, batch: str, updates: str) -> int:
    """``--loop``: many updates of the engine on one batch, nothing else."""
    try:
        spec, count = with_batch(load_spec(path), int(batch)), int(updates)
    except (OSError, ValueError) as err:
        print(f"--loop {path} {batch} {updates}: {err}")
        return 2
    core = open_core(spec, "golden")
    core.load_params(random_params(spec, 0))
    raw, _ = random_batch(np.random.default_rng(0), spec, core.formats)
    core.train_step(raw)                  # compiles the program
    start = clock()
    for _ in range(count):
        core.train_step(raw)
    print(f"{path} batch {batch}: {(clock() - start) / max(count, 1) * 1e3:.2f} ms "
          "an update")
    return 0


def rss_kib() -> int:
    """Resident set size now (Linux /proc), in KiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def memory(updates: int, seed: int = 0) -> dict[str, int]:
    """RSS of the engine over many pendulum updates (four batches in turn)."""
    spec = load_spec(ROOT / SPECS[0])
    core = open_core(spec, "golden")
    core.load_params(random_params(spec, seed))
    rng = np.random.default_rng(seed)
    batches = [random_batch(rng, spec, core.formats)[0] for _ in range(4)]
    marks = {}
    for i in range(updates):
        core.train_step(batches[i % 4])
        if i + 1 in (100, updates // 2, updates):
            marks[i + 1] = rss_kib()
    return marks


CLOCK_NAMES = {"cpu": "CPU time", "wall": "wall time"}
CLOCK_TEXT = {
    "cpu": "CPU time (`time.thread_time` of the timing thread, which runs all of the "
           "update's work: BLAS single-threaded, numba kernels in the calling thread; "
           "time waiting for a core held by other processes is left out)",
    "wall": "Wall time"}


def section(rows: list[tuple], reps: int, command: str, about: str,
            rss: dict[int, int], peak_kib: int, profile=None, clock_name: str = "cpu") -> str:
    labels = [label for label, _ in ENGINES]
    lines = [
        HEADING, "",
        f"{CLOCK_TEXT[clock_name]} of one whole DDPG update (target networks and Bellman target, critic "
        "forward/backward/Adam, actor through the updated critic, soft target updates): "
        "(a) the golden model, `core.train_step` in FXP32 (exact integer arithmetic, "
        "the reference every backend must match bit for bit) on its compiled engine "
        "(`open_core(spec, \"golden\")`, numba kernels), on the engine with numpy "
        "kernels only (what runs where numba is missing) and on the interpreter "
        "(`engine=\"interpreter\"`), and (b) the same update in float32 numpy, "
        "`FloatDDPG(spec, np.float32)`, on the same shapes and batch, and (c) the same in "
        "float64 numpy, `FloatDDPG(spec, np.float64)`: what the engine's exact products, "
        "float64 BLAS below 2**53, cost at least with plain numpy around them (float64 "
        "GEMM does half the flops a second of float32). "
        f"Fastest of {reps} updates each (other processes share this machine; their "
        "load only adds time), the five timed in turn within each repetition, after one "
        "warm-up update (program compilation is not timed).", "",
        f"- Machine: {about}",
        f"- Command: `{command}`",
        f"- Date: {datetime.date.today().isoformat()}", "",
        "| spec | actor / critic | batch | " + " | ".join(f"{l} (ms)" for l in labels)
        + " | float32 (ms) | float64 (ms) | engine / float32 | numpy kernels / float32 "
        "| interpreter / float32 | float64 / float32 | engine / float64 |",
        "|---|---|---:|" + "---:|" * (len(labels) + 7),
    ]
    for name, nets, batch, t in rows:
        f = t["float32"]
        lines.append(f"| {name} | {nets} | {batch} | "
                     + " | ".join(f"{t[l] * 1e3:.2f}" for l in labels)
                     + f" | {f * 1e3:.2f} | {t['float64'] * 1e3:.2f} | "
                     f"**{t['engine'] / f:.1f}x** | "
                     f"{t['engine, numpy kernels'] / f:.1f}x | {t['interpreter'] / f:.1f}x | "
                     f"{t['float64'] / f:.2f}x | {t['engine'] / t['float64']:.2f}x |")
    lines.append("")
    for name, nets, batch, t in rows:
        target = 3.0 if "pendulum" in name else TARGET_RATIO
        ratio = t["engine"] / t["float32"]
        lines.append(f"- {name} batch {batch}: engine within {target:g}x of float32 -- "
                     f"{'met' if ratio <= target else 'not met'} ({ratio:.1f}x).")
    for (path, kernels), (kinds, steps, whole) in (profile or {}).items():
        top = sorted(kinds.items(), key=lambda kv: -kv[1][0])
        lines += ["", f"Where the engine's time goes with {kernels} kernels ({path}, "
                  "batch 64; per kind of step (count), the sum of each step's fastest "
                  "wall time over the repetitions, in ms): "
                  f"{', '.join(f'{k} ({n}) {v * 1e3:.2f}' for k, (v, n) in top)}"
                  f"; all steps {steps * 1e3:.2f} ms, fastest whole update "
                  f"{whole * 1e3:.2f} ms ({CLOCK_NAMES[clock_name]})."]
    if profile:
        lines += ["", "The difference between all steps and the whole update is the "
                  "dispatch between steps, the timing of each step itself, the host side "
                  "of `train_step` and caches; float32 is not broken down this way, so "
                  "the sums are not ratios to quote."]
    if rss:
        marks = ", ".join(f"{rss[k] / 1024:.1f} MiB after {k:,}" for k in sorted(rss))
        lines += ["", f"Memory (engine, {SPECS[0]}, batch 64, after the timings in the "
                  f"same process): resident set {marks} updates; peak RSS of the whole "
                  f"benchmark process {peak_kib / 1024:.1f} MiB."]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="timed updates per case")
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--rss-updates", type=int, default=10_000,
                        help="pendulum updates of the memory check (0: skip it)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: the timing thread's CPU time (default); wall: wall-clock")
    parser.add_argument("--no-write", action="store_true", help="print, do not write "
                        "BENCHMARKS.md")
    parser.add_argument("--loop", nargs=3, metavar=("SPEC", "BATCH", "UPDATES"),
                        help="only run UPDATES engine updates of SPEC at BATCH, for a "
                        "profiler outside (perf record), and print the CPU time of one")
    args = parser.parse_args(argv)
    if args.loop:
        return loop(*args.loop)
    global clock
    clock = CLOCKS[args.clock]
    about = machine()
    rows = []
    for path in SPECS:
        base = load_spec(ROOT / path)
        nets = "-".join(map(str, base.networks.actor.layer_sizes)) + " / " + \
            "-".join(map(str, base.networks.critic.layer_sizes))
        for batch in args.batches:
            spec = with_batch(base, batch)
            t = measure(spec, args.reps)
            rows.append((path, nets, batch, t))
            print(f"{path} batch {batch}: " + ", ".join(
                f"{label} {v * 1e3:.2f} ms" for label, v in t.items())
                + f"; engine / float32 {t['engine'] / t['float32']:.2f}x", flush=True)
    kernel_sets = ["numba", "numpy"] if engine_numba.AVAILABLE else ["numpy"]
    profile = {}
    for path in SPECS:
        spec = with_batch(load_spec(ROOT / path), 64)
        for kernels in kernel_sets:
            profile[path, kernels] = breakdown(spec, args.reps, kernels)
            print(f"engine breakdown, {path}, {kernels} kernels (ms):",
                  {k: round(v * 1e3, 3) for k, (v, _) in profile[path, kernels][0].items()},
                  flush=True)
    rss = memory(args.rss_updates) if args.rss_updates else {}
    if rss:
        print("RSS (KiB) by updates:", rss, flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    command = " ".join(["python benchmarks/bench_golden_step.py",
                        *(sys.argv[1:] if argv is None else argv)])
    text = section(rows, args.reps, command, about, rss, peak, profile, args.clock)
    if args.no_write:
        print(text)
    else:
        write_section(HEADING, text)
        print(f"wrote {ROOT / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
