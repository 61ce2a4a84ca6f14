"""Environments: gymnasium environments by the spec's id, with explicit scaling.

The actor's output is in [-1, 1] (tanh); the environment gets it times its action bound.
Rewards reach the core multiplied by ``algorithm.reward_scale``; returns are reported
unscaled.  Episode ``i`` of a run starts from ``reset(seed=seed + i)``, so a run resumed
at an episode boundary replays exactly what an uninterrupted run would have seen.
"""

from __future__ import annotations

import numpy as np

from ..envs import KNOWN_ENVS
from ..spec import Spec


class EnvError(RuntimeError):
    """The environment cannot be created (unknown id, missing extra)."""


def make_env(spec: Spec):
    import gymnasium as gym

    env_id = spec.env.id
    info = KNOWN_ENVS.get(env_id)
    try:
        env = gym.make(env_id)
    except Exception as exc:   # gymnasium raises several types for missing packages
        extra = info.extra if info else None
        hint = (f"; install the `{extra}` extra: pip install 'fixar_gen[{extra}]'"
                if extra else "")
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EnvError(f"cannot create environment {env_id!r}: {first}{hint}") from None
    space = env.action_space
    if not hasattr(space, "high") or space.shape != (spec.action_dim,) or \
            env.observation_space.shape != (spec.obs_dim,):
        env.close()
        raise EnvError(f"environment {env_id!r} has observation {env.observation_space.shape}"
                       f" and action {space.shape}; the spec's networks expect "
                       f"({spec.obs_dim},) and ({spec.action_dim},)")
    return env


def action_bound(env) -> np.ndarray:
    return np.asarray(env.action_space.high, dtype=np.float64)
