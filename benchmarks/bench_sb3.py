"""Stable-Baselines3's DDPG on the CPU, measured as bench_headline.py measures the
project's CPU rows, for its SB3 row: the same networks (actor and critic 400-300, ReLU,
tanh on the actor's output; the critic takes state and action at its input), batch,
learning rate, gamma, tau, replay size and Gaussian exploration noise as
examples/fixar_u50.yaml, on HalfCheetah-v5.

- one update: the median time of single ``model.train(gradient_steps=1)`` calls (replay
  sampling, critic and actor step, soft target update) after a warm-up, as the "one
  update" rows;
- end to end: ``learn`` with train_freq=1, gradient_steps=1 for ``--updates`` steps after
  ``learning_starts`` and ``--warmup-updates`` untimed ones: updates/s over the time spent
  in ``train`` (update time only, as ``Trainer`` counts it) and env steps/s over the
  whole timed ``learn`` call.

It needs torch, stable-baselines3 and gymnasium[mujoco], which are not dependencies of
fixar_gen; give it an interpreter of its own, and bench_headline.py runs it there
(``--sb3-python`` or FIXAR_SB3_PYTHON):

    python3 -m venv .venv-sb3
    .venv-sb3/bin/pip install torch==2.13.0 stable-baselines3 "gymnasium[mujoco]" mujoco
    .venv-sb3/bin/python benchmarks/bench_sb3.py [--updates 2000] [--threads 2]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--hidden", default="400,300", help="hidden sizes, actor and critic")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-4, help="actor and critic (Adam)")
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--tau", type=float, default=0.005)
    parser.add_argument("--buffer-size", type=int, default=1_000_000)
    parser.add_argument("--noise-sigma", type=float, default=0.1,
                        help="Gaussian exploration noise, fraction of the action bound")
    parser.add_argument("--learning-starts", type=int, default=200,
                        help="random-action steps before the first update")
    parser.add_argument("--warmup-updates", type=int, default=100, help="untimed updates")
    parser.add_argument("--updates", type=int, default=2000, help="timed env steps (and "
                        "updates) of the end-to-end measurement")
    parser.add_argument("--reps", type=int, default=200, help="timed single updates")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="torch intra-op threads (default: the machine's cores)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import gymnasium as gym
    import numpy as np
    import stable_baselines3
    import torch
    from stable_baselines3 import DDPG
    from stable_baselines3.common.noise import NormalActionNoise

    torch.set_num_threads(args.threads)
    hidden = [int(n) for n in args.hidden.split(",")]
    env = gym.make(args.env)
    bound = float(env.action_space.high[0])
    n_act = env.action_space.shape[0]
    model = DDPG("MlpPolicy", env, learning_rate=args.lr, buffer_size=args.buffer_size,
                 learning_starts=args.learning_starts, batch_size=args.batch, tau=args.tau,
                 gamma=args.gamma, train_freq=1, gradient_steps=1,
                 action_noise=NormalActionNoise(np.zeros(n_act),
                                                np.full(n_act, args.noise_sigma * bound)),
                 policy_kwargs={"net_arch": {"pi": hidden, "qf": hidden},
                                "activation_fn": torch.nn.ReLU},
                 device="cpu", seed=args.seed, verbose=0)

    clock = {"seconds": 0.0, "updates": 0}
    train = model.train

    def timed_train(gradient_steps: int, batch_size: int = 100) -> None:
        start = time.perf_counter()
        train(gradient_steps=gradient_steps, batch_size=batch_size)
        clock["seconds"] += time.perf_counter() - start
        clock["updates"] += gradient_steps

    model.train = timed_train
    model.learn(total_timesteps=args.learning_starts + args.warmup_updates)
    clock.update(seconds=0.0, updates=0)
    start = time.perf_counter()
    model.learn(total_timesteps=args.updates, reset_num_timesteps=False)
    wall = time.perf_counter() - start
    model.train = train

    times = []
    for _ in range(args.reps):
        start = time.perf_counter()
        train(gradient_steps=1, batch_size=args.batch)
        times.append(time.perf_counter() - start)
    one = statistics.median(times)

    ups = clock["updates"] / clock["seconds"]
    print(json.dumps({
        "version": stable_baselines3.__version__, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "env": args.env, "batch": args.batch,
        "hidden": hidden, "one_update_seconds": one, "one_update_updates_per_s": 1 / one,
        "one_update_ips": args.batch / one, "reps": args.reps,
        "updates": clock["updates"], "updates_per_s": ups, "ips": args.batch * ups,
        "steps": args.updates, "steps_per_s": args.updates / wall, "wall_seconds": wall,
        "learning_starts": args.learning_starts, "warmup_updates": args.warmup_updates}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
