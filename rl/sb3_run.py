"""Stable-Baselines3's DDPG or TD3 on a spec's task with the spec's hyper-parameters:
the reference row of `fixar experiment` (fixar_gen/sb3_reference.py builds the command).

It runs in an interpreter of its own that has torch, stable-baselines3 and gymnasium
(with the `mujoco` extra for MuJoCo tasks), as benchmarks/bench_sb3.py does; it imports
nothing of fixar_gen, so it is started as a script::

    .venv-sb3/bin/python fixar_gen/rl/sb3_run.py --algorithm ddpg --env Pendulum-v1 \\
        --actor 64,64 --critic 64,64 --actor-lr 1e-4 --critic-lr 1e-3 ... --out DIR

and writes what a `fixar train` run writes for the grid table: ``DIR/evals.csv`` (the
same columns, rewritten as each evaluation finishes) and, at the end,
``DIR/summary.json``.  The same as the project's trainer: networks, activations,
Adam with its betas and epsilon, one learning rate per network (SB3 has one for both;
its per-update reset of the rates is switched off after setting them), batch, gamma,
tau, replay size, uniform random actions for the warm-up steps and updates only after
them, ``updates_per_step`` updates per step, Gaussian or OU noise added to the action
in [-1, 1], rewards scaled by ``reward_scale`` for learning only, and evaluations of
``eval_episodes`` deterministic episodes on seeds ``seed + 1,000,000 + i`` every
``eval_every`` steps and at the end; for TD3 also the policy delay and the target
policy smoothing (noise and clip, in [-1, 1] as the spec's).  Different, and said so
in docs/training.md: the network initialisation (PyTorch's defaults), the training
episodes' reset seeds (SB3 seeds the environment once) and the float arithmetic
(float32 torch).  :func:`sb3_settings` maps the options to SB3's keywords (without
torch, so the mapping is tested where torch is not installed).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from pathlib import Path

EVALS = ("step", "eval_return", "precision", "saturations", "fxp16_since_step",
         "wall_seconds")
EVAL_SEED_OFFSET = 1_000_000
ALGORITHMS = ("ddpg", "td3")       # SB3's classes of the same names


def _sizes(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algorithm", choices=ALGORITHMS, required=True)
    p.add_argument("--env", required=True)
    p.add_argument("--actor", type=_sizes, required=True, help="hidden sizes: 400,300")
    p.add_argument("--critic", type=_sizes, required=True)
    p.add_argument("--activation", choices=("relu", "tanh"), default="relu")
    p.add_argument("--actor-lr", type=float, required=True)
    p.add_argument("--critic-lr", type=float, required=True)
    p.add_argument("--adam-beta1", type=float, default=0.9)
    p.add_argument("--adam-beta2", type=float, default=0.999)
    p.add_argument("--adam-eps", type=float, default=1e-8)
    p.add_argument("--gamma", type=float, required=True)
    p.add_argument("--tau", type=float, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--buffer-size", type=int, required=True)
    p.add_argument("--warmup-steps", type=int, required=True)
    p.add_argument("--updates-per-step", type=int, default=1)
    p.add_argument("--noise", choices=("gaussian", "ou"), default="gaussian")
    p.add_argument("--sigma", type=float, required=True)
    p.add_argument("--theta", type=float, default=0.15)
    p.add_argument("--dt", type=float, default=0.01)
    td3 = ("--policy-delay", int), ("--target-noise", float), ("--noise-clip", float)
    for name, kind in td3:
        p.add_argument(name, type=kind, default=None, help="td3 (required there)")
    p.add_argument("--reward-scale", type=float, default=1.0)
    p.add_argument("--total-steps", type=int, required=True)
    p.add_argument("--eval-every", type=int, required=True)
    p.add_argument("--eval-episodes", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    missing = [name for name, _ in td3 if getattr(args, name[2:].replace("-", "_")) is None]
    if args.algorithm == "td3" and missing:
        p.error("--algorithm td3 needs " + ", ".join(missing))
    return args


def sb3_settings(args: argparse.Namespace) -> dict:
    """SB3's constructor keywords for ``args``, the one place the options meet SB3's
    names; ``policy_kwargs["activation_fn"]`` is the activation's name and
    ``action_noise`` a ``(kind, sigma, theta, dt)`` tuple, which :func:`main` turns into
    torch's module and SB3's noise.  ``learning_rate`` is the critic's: SB3 has one rate,
    and :func:`main` sets the actor's on its optimizer."""
    settings = {
        "learning_rate": args.critic_lr, "buffer_size": args.buffer_size,
        "learning_starts": args.warmup_steps, "batch_size": args.batch, "tau": args.tau,
        "gamma": args.gamma, "train_freq": 1, "gradient_steps": args.updates_per_step,
        "action_noise": (args.noise, args.sigma, args.theta, args.dt),
        "policy_kwargs": {"net_arch": {"pi": args.actor, "qf": args.critic},
                          "activation_fn": args.activation,
                          "optimizer_kwargs": {"betas": (args.adam_beta1, args.adam_beta2),
                                               "eps": args.adam_eps}}}
    if args.algorithm == "td3":     # SB3's DDPG is its TD3 with these fixed (and one critic)
        settings.update(policy_delay=args.policy_delay,
                        target_policy_noise=args.target_noise,
                        target_noise_clip=args.noise_clip)
    return settings


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _evals_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EVALS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import gymnasium as gym
    import numpy as np
    import stable_baselines3
    import torch
    from stable_baselines3 import DDPG, TD3
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    env = gym.make(args.env)
    if args.reward_scale != 1.0:
        scale = args.reward_scale
        env = gym.wrappers.TransformReward(env, lambda r: r * scale)
    eval_env = gym.make(args.env)
    n = env.action_space.shape[0]
    settings = sb3_settings(args)
    # SB3 adds the noise to the action scaled to [-1, 1], as the project's trainer does
    kind, sigma, theta, dt = settings["action_noise"]
    settings["action_noise"] = (
        NormalActionNoise(np.zeros(n), np.full(n, sigma)) if kind == "gaussian"
        else OrnsteinUhlenbeckActionNoise(np.zeros(n), np.full(n, sigma), theta=theta, dt=dt))
    policy = settings["policy_kwargs"]
    policy["activation_fn"] = {"relu": torch.nn.ReLU,
                               "tanh": torch.nn.Tanh}[policy["activation_fn"]]
    algorithm = {"ddpg": DDPG, "td3": TD3}[args.algorithm]
    model = algorithm("MlpPolicy", env, **settings, device="cpu", seed=args.seed, verbose=0)
    for optimizer, lr in ((model.actor.optimizer, args.actor_lr),
                          (model.critic.optimizer, args.critic_lr)):
        for group in optimizer.param_groups:
            group["lr"] = lr
    model._update_learning_rate = lambda optimizers: None   # keep one rate per network

    rows: list[dict] = []
    started = time.monotonic()

    def evaluate(step: int) -> None:
        returns = []
        for i in range(args.eval_episodes):
            obs, _ = eval_env.reset(seed=args.seed + EVAL_SEED_OFFSET + i)
            total, done = 0.0, False
            while not done:
                action, _ = model.predict(obs, deterministic=True)
                obs, reward, terminated, truncated, _ = eval_env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        rows.append({"step": step, "eval_return": round(float(np.mean(returns)), 4),
                     "precision": "float32", "saturations": 0, "fxp16_since_step": "",
                     "wall_seconds": round(time.monotonic() - started, 2)})
        _write(args.out / "evals.csv", _evals_csv(rows))

    class Evaluations(BaseCallback):
        def _on_step(self) -> bool:
            if args.eval_every and self.num_timesteps % args.eval_every == 0:
                evaluate(self.num_timesteps)
            return True

    model.learn(total_timesteps=args.total_steps, callback=Evaluations())
    if not rows or rows[-1]["step"] != args.total_steps:
        evaluate(args.total_steps)
    summary = {
        "spec": None, "env": args.env, "backend": "sb3", "algorithm": args.algorithm,
        "seed": args.seed,
        "steps": args.total_steps, "final_eval_return": rows[-1]["eval_return"],
        "best_eval_return": max(r["eval_return"] for r in rows), "precision": "float32",
        "switched_to_fxp16_at_step": None, "saturations": 0,
        "stable_baselines3": stable_baselines3.__version__, "torch": torch.__version__,
        "wall_seconds": time.monotonic() - started}
    _write(args.out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
