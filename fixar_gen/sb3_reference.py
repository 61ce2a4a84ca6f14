"""The optional Stable-Baselines3 reference row of `fixar experiment` (SB3's DDPG or TD3,
as the spec's algorithm): which interpreter runs it, the command from the spec, and one
run.

torch and stable-baselines3 are not dependencies of fixar_gen; as for the headline
benchmark (benchmarks/bench_sb3.py), the reference runs in an interpreter that has
them: ``--sb3-python PATH``, else ``$FIXAR_SB3_PYTHON``, else this interpreter when it
has them. Without one, or for a spec SB3 cannot express, the row is skipped and the
reason is said (on stderr and under the tables).  The run itself is
:mod:`fixar_gen.rl.sb3_run`, started as a script in that interpreter; it writes the
``evals.csv`` and ``summary.json`` of a `fixar train` run, so the grid's table reads it
as any other run.  It has no checkpoint: an interrupted reference run starts again.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .rl import sb3_run
from .spec import Spec

SCRIPT = Path(sb3_run.__file__).resolve()     # run as a script, in the other interpreter
VARIANT = "sb3"
NEEDS = "torch, stable-baselines3 and gymnasium"    # and mujoco for MuJoCo tasks
POLL = 2.0          # seconds between two looks at a running reference's evals.csv


def about(algorithm: str) -> str:
    """The reference row's line under the tables."""
    return (f"Stable-Baselines3's {algorithm.upper()} with the spec's hyper-parameters "
            "(fixar_gen/rl/sb3_run.py)")


def interpreter(option: str | None) -> tuple[str | None, str | None]:
    """``(python, None)`` for the interpreter that runs the reference, or ``(None,
    reason)`` when there is none."""
    python = option or os.environ.get("FIXAR_SB3_PYTHON") or None
    if python is None:
        if importlib.util.find_spec("stable_baselines3") is not None \
                and importlib.util.find_spec("torch") is not None:
            return sys.executable, None
        return None, ("no interpreter with " + NEEDS + " (give one with --sb3-python PATH "
                      "or FIXAR_SB3_PYTHON, as for benchmarks/bench_sb3.py)")
    try:
        done = subprocess.run([python, "-c", "import stable_baselines3, torch, gymnasium"],
                              capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{python} does not run ({exc})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["exit " + str(done.returncode)])[-1]
        return None, f"{python} lacks {NEEDS} ({last})"
    return python, None


def arguments(spec: Spec) -> list[str] | str:
    """The script's options for ``spec`` (all but ``--seed`` and ``--out``), or why
    SB3's DDPG or TD3 cannot run it with the same hyper-parameters."""
    nets, algo = spec.networks, spec.algorithm
    name = algo.name.upper()
    if algo.name not in sb3_run.ALGORITHMS:
        return f"the spec's algorithm is {algo.name}; SB3 runs " + " and ".join(
            sb3_run.ALGORITHMS) + " here"
    if algo.optimizer != "adam":
        return f"the spec's optimizer is {algo.optimizer}; SB3's {name} here uses Adam"
    if nets.actor.activation != nets.critic.activation \
            or nets.actor.activation not in ("relu", "tanh"):
        return (f"hidden activations {nets.actor.activation} (actor) and "
                f"{nets.critic.activation} (critic): SB3's MlpPolicy takes one, relu or tanh")
    if nets.actor.output != "tanh" or nets.critic.output != "identity":
        return (f"output activations {nets.actor.output} (actor) and {nets.critic.output} "
                f"(critic): SB3's {name} has tanh and identity")
    noise = algo.noise
    td3 = (["--policy-delay", str(algo.policy_delay), "--target-noise",
            repr(algo.target_noise), "--noise-clip", repr(algo.noise_clip)]
           if algo.name == "td3" else [])
    return ["--algorithm", algo.name, *td3, "--env", spec.env.id,
            "--actor", ",".join(map(str, nets.actor.hidden)),
            "--critic", ",".join(map(str, nets.critic.hidden)),
            "--activation", nets.actor.activation,
            "--actor-lr", repr(algo.actor_lr), "--critic-lr", repr(algo.critic_lr),
            "--adam-beta1", repr(algo.adam_beta1), "--adam-beta2", repr(algo.adam_beta2),
            "--adam-eps", repr(algo.adam_eps),
            "--gamma", repr(algo.gamma), "--tau", repr(algo.tau),
            "--batch", str(algo.batch_size), "--buffer-size", str(algo.replay_size),
            "--warmup-steps", str(algo.warmup_steps),
            "--updates-per-step", str(algo.updates_per_step),
            "--noise", noise.kind, "--sigma", repr(noise.sigma),
            "--theta", repr(noise.theta), "--dt", repr(noise.dt),
            "--reward-scale", repr(algo.reward_scale),
            "--total-steps", str(algo.total_steps), "--eval-every", str(algo.eval_every),
            "--eval-episodes", str(algo.eval_episodes)]


def run(python: str, args: list[str], seed: int, folder: Path,
        on_evaluation: Callable[[], None] | None = None) -> str | None:
    """One reference run into ``folder`` (its output in ``folder``/sb3.log); calls
    ``on_evaluation`` whenever its evals.csv changes.  None when it finished, else why
    not (the log's last line)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    evals, seen = folder / "evals.csv", None
    with open(folder / "sb3.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen([python, str(SCRIPT), *args, "--seed", str(seed),
                                 "--out", str(folder)], stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                finished = proc.poll() is not None
                stamp = evals.stat().st_mtime_ns if evals.exists() else None
                if stamp != seen and on_evaluation is not None:
                    seen = stamp
                    on_evaluation()
                if finished:
                    break
                time.sleep(POLL)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    if proc.returncode == 0 and (folder / "summary.json").is_file():
        return None
    lines = (folder / "sb3.log").read_text(encoding="utf-8", errors="replace").splitlines()
    return (f"the SB3 reference failed (exit {proc.returncode}): "
            f"{lines[-1] if lines else 'no output'} (see {folder / 'sb3.log'})")
