"""The golden core's update where a real run spends it: from a training checkpoint.

    python benchmarks/bench_checkpoint_update.py RUN_OR_CHECKPOINT_DIR [--updates 20]
                                                 [--seed 0] [--origin TEXT] [--no-write]

The golden-step benchmark (bench_golden_step.py) times updates from random parameters
and batches, where every value is small.  Late in a run the values are not: on
HalfCheetah-v5 the critic's gradients and Adam roots reach 1.0 and more in Q8.24 (25 to
32 bits) after about 100,000 steps, which took adam_s beyond the engine's constant
splits.  This restores a run's checkpoint (``fixar train``'s or ``fixar experiment``'s,
as benchmarks/grad_saturation.py does: the agent with its optimizer state, formats and
precision, and the replay buffer), samples ``--updates`` batches from its replay
buffer, and runs them one after another on two copies of the agent:

- ``engine``: the golden core's engine as it is;
- ``without the squares split``: the same engine with adam_s's squares split
  (``engine_kernels.v_limbs``'s answer beyond split3's limbs) refused, so such a step
  runs as it did before the split existed: its fused Adam group step by step, adam_s by
  the interpreter's code.

The two copies take the same batches in turn (the order alternating each update), CPU
time (``time.thread_time``) of each update; their parameters, optimizer state and
saturation counts are compared bit for bit at the end (the script stops on a
difference).  Reported: the median and fastest update of each, their ratio, the steps
that ran the interpreter's code per update and which.  Writes a section of
BENCHMARKS.md (``--no-write``: prints it only).
"""

from __future__ import annotations

import argparse
import collections
import datetime
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grad_saturation import restore  # noqa: E402
from report import machine, publish  # noqa: E402

from fixar_gen import engine as E  # noqa: E402
from fixar_gen import engine_kernels as K  # noqa: E402
from fixar_gen.isa import VECTOR_FUNCTIONS, Vector  # noqa: E402
from fixar_gen.rl.agent import CoreAgent  # noqa: E402

HEADING = "## The golden update late in a run: adam_s beyond three limbs (issue 15)"
VARIANTS = ("engine", "without the squares split")


class _Refuse:
    """engine_kernels.v_limbs with the squares split refused while ``on``."""

    def __init__(self, v_limbs):
        self.v_limbs, self.on = v_limbs, False

    def __call__(self, *args):
        limbs = self.v_limbs(*args)
        return None if self.on and limbs is not None and limbs[6] == K.SQUARES else limbs


class _Fallbacks:
    """What the engine's machines hand to the interpreter, by function and buffer
    (``method`` replaces EngineMachine._execute while measuring)."""

    def __init__(self):
        self.seen = collections.Counter()
        self.execute = execute = E.EngineMachine._execute
        seen = self.seen

        def method(machine, instr):
            what = VECTOR_FUNCTIONS[instr.fn] if isinstance(instr, Vector) else \
                instr.MNEMONIC
            name = machine.table[instr.dst].name if hasattr(instr, "dst") else ""
            seen[(machine.variant, f"{what} {name}")] += 1
            return execute(machine, instr)
        self.method = method


def measure(path: Path, updates: int, seed: int) -> dict:
    r = restore(path)
    rng = np.random.default_rng(seed)
    batches = [r.replay.sample(r.spec.algorithm.batch_size, rng) for _ in range(updates)]
    # the restored agent and a second copy of it (the seed only drives exploration,
    # which updates do not use; the states compared at the end would show otherwise)
    agents = {VARIANTS[0]: r.agent, VARIANTS[1]: CoreAgent(r.spec, "golden", 0)}
    agents[VARIANTS[1]].load_state_dict(r.agent_arrays, r.agent_meta)
    for variant, agent in agents.items():
        agent.core.machine.variant = variant
    refuse = _Refuse(K.v_limbs)
    fallbacks = _Fallbacks()
    K.v_limbs, E.EngineMachine._execute = refuse, fallbacks.method
    times = {v: [] for v in VARIANTS}
    try:
        for i, batch in enumerate(batches):
            for variant in (VARIANTS if i % 2 == 0 else VARIANTS[::-1]):
                refuse.on = variant != "engine"
                start = time.thread_time()
                agents[variant].update(batch)
                times[variant].append(time.thread_time() - start)
    finally:
        K.v_limbs, E.EngineMachine._execute = refuse.v_limbs, fallbacks.execute
        refuse.on = False
    states = [agents[v].core.export_state() for v in VARIANTS]
    for name, value in states[0][0].items():
        np.testing.assert_array_equal(value, states[1][0][name], err_msg=name)
    counts = [dict(+agents[v].core.stats.saturations) for v in VARIANTS]
    if counts[0] != counts[1]:
        raise SystemExit(f"saturation counts differ: {counts}")
    return {"spec": r.spec.name, "env": r.spec.env.id, "step": r.step,
            "precision": agents["engine"].core.precision.mode,
            "saturations": sum(counts[0].values()),
            "updates": updates, "times": times,
            "fallbacks": {v: sum(n for (w, _), n in fallbacks.seen.items() if w == v)
                          for v in VARIANTS},
            "which": fallbacks.seen, "arrays": len(states[0][0])}


def render(fig: dict, command: str, origin: str = "") -> str:
    ms = {v: np.array(fig["times"][v]) * 1e3 for v in VARIANTS}
    new, old = (np.median(ms[v]) for v in VARIANTS)
    fast_new, fast_old = (ms[v].min() for v in VARIANTS)
    n = fig["updates"]
    which = collections.Counter()
    for (variant, what), count in fig["which"].items():
        if variant != "engine":
            which[what] += count
    listed = ", ".join(f"{what} {count / n:.2f}" for what, count in which.most_common(8))
    lines = [
        HEADING, "",
        f"- Machine: {machine()}",
        f"- Command: `{command}`",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Checkpoint: {fig['spec']} ({fig['env']}) at step {fig['step']:,}, in "
        f"{fig['precision'].upper()}, "
        f"{fig['updates']} consecutive updates on batches from its replay buffer, both "
        "variants in turn (the order alternating); CPU time of each update; measured, "
        "not modeled", "",
        "| variant | median update (ms) | fastest (ms) | interpreter steps per update |",
        "|---|---:|---:|---:|",
    ]
    for v in VARIANTS:
        lines.append(f"| {v} | {np.median(ms[v]):.2f} | {ms[v].min():.2f} | "
                     f"{fig['fallbacks'][v] / n:.2f} |")
    lines += [
        "",
        f"- The squares split makes this update **{old / new:.2f}x** as fast (median; "
        f"fastest {fast_old / fast_new:.2f}x). Without it, per update: "
        f"{listed or 'none'} (the adam_s steps whose roots or gradients are beyond "
        "three limbs; their fused groups ran step by step).",
        f"- Bit for bit: after the {n} updates both copies hold the same "
        f"{fig['arrays']} arrays (parameters, targets, optimizer state) and the same "
        f"saturation counts ({fig['saturations']:,} in all, the run's included).",
        "- The golden-step table at the top of this file draws random parameters and "
        "batches, where every value is small; this one is what a run spends after "
        "100,000 steps.",
    ]
    if origin:
        lines.append(f"- The checkpoint: {origin}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--origin", default="",
                        help="where the checkpoint comes from, for the report")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.updates < 1:
        parser.error(f"--updates: {args.updates} is not a positive number")
    try:
        fig = measure(args.checkpoint, args.updates, args.seed)
    except (OSError, ValueError, KeyError) as err:
        print(f"{args.checkpoint}: {err}", file=sys.stderr)
        return 2
    command = (f"OPENBLAS_NUM_THREADS=1 python benchmarks/bench_checkpoint_update.py "
               f"CHECKPOINT --updates {args.updates} --seed {args.seed}")
    publish(HEADING, render(fig, command, args.origin), args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
